/*
 * esm.c: event source mappings from DynamoDB streams: CreateEventSourceMapping,
 * GetEventSourceMapping, ListEventSourceMappings, DeleteEventSourceMapping, and the pollers
 * (poller.c) that run them.
 *
 * What it is: durable mapping records (lam.esm, the EventSourceMappingConfiguration Lambda
 * returns) and checkpoints (lam.esm_pos), written through the writer in one transaction at
 * create. A mapping is Enabled as soon as it is created (the answer says "Creating", as
 * Lambda's); its poller starts after the commit and at every start-up, from the checkpoint.
 * DeleteEventSourceMapping removes both records, answers "Deleting" and stops the poller
 * without waiting for the invocation it may be in (it is joined later).
 *
 * What it is not: the reading and invoking (poller.c). The retry settings of the API
 * (MaximumRetryAttempts, BisectBatchOnFunctionError, MaximumRecordAgeInSeconds, destinations,
 * filters, tumbling windows, partial batch responses) are refused unless they ask for
 * Lambda's defaults: a failed batch is retried until it succeeds.
 *
 * Invariants: at most one mapping per (function, stream), checked inside the writer op; one
 * poller per enabled mapping, under l->esm_mu.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "lambda/lam_int.h"

#define ESM_LIST_DEFAULT 100
#define ESM_BATCH_DEFAULT 100
#define ESM_BATCH_MAX 10000
#define ESM_WINDOW_MAX 300

static int invoke_wait(void *ctx, struct lam_invoke *inv)
{
    return lam_invoke_wait(ctx, inv);
}

static struct lam__poller_env poller_env(struct lam *l)
{
    struct lam__poller_env env;
    env.st = l->st;
    env.streams = l->streams;
    env.esm = l->esm;
    env.esm_pos = l->esm_pos;
    env.invoker.invoke = invoke_wait;
    env.invoker.ctx = l;
    return env;
}

/* Joins stopped pollers that have exited. Under esm_mu. */
static void reap_stopped(struct lam *l, bool all)
{
    struct lam__poller **pp = &l->stopped;
    while (*pp) {
        struct lam__poller *p = *pp;
        if (all || lam__poller_exited(p)) {
            *pp = *lam__poller_next(p);
            lam__poller_stop(p);
        }
        else {
            pp = lam__poller_next(p);
        }
    }
}

/* Whether the mapping uuid has a running poller. Under esm_mu. */
static bool has_poller(struct lam *l, const char *uuid)
{
    for (struct lam__poller *p = l->pollers; p; p = *lam__poller_next(p)) {
        if (strcmp(lam__poller_uuid(p), uuid) == 0) {
            return true;
        }
    }
    return false;
}

/* Starts the poller of a mapping, unless the pollers do not run yet (lam_start() will start
 * every mapping's from the store) or this mapping has one already (created between
 * lam_start()'s flag and its read of the store). */
static void poller_add(struct lam *l, const json_t *cfgj, uint64_t checkpoint)
{
    struct lam__poller_env env = poller_env(l);
    struct lam__poller_cfg cfg;
    struct lam__poller *p;
    bool skip;

    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.uuid, sizeof cfg.uuid, "%s", json_string_value(json_object_get(cfgj, "UUID")));
    pthread_mutex_lock(&l->esm_mu);
    skip = !l->esm_started || has_poller(l, cfg.uuid);
    pthread_mutex_unlock(&l->esm_mu);
    if (skip) {
        return;
    }
    snprintf(cfg.stream_arn, sizeof cfg.stream_arn, "%s",
             json_string_value(json_object_get(cfgj, "EventSourceArn")));
    snprintf(cfg.function, sizeof cfg.function, "%s",
             json_string_value(json_object_get(cfgj, "FunctionArn")));
    cfg.batch_size = (unsigned)json_integer_value(json_object_get(cfgj, "BatchSize"));
    cfg.window_s =
        (unsigned)json_integer_value(json_object_get(cfgj, "MaximumBatchingWindowInSeconds"));
    cfg.checkpoint = checkpoint;
    p = lam__poller_start(&env, &cfg);
    if (!p) {
        log_error("lambda", "event source mapping %s: cannot start its poller", cfg.uuid);
        return;
    }
    pthread_mutex_lock(&l->esm_mu);
    reap_stopped(l, false);
    if (has_poller(l, cfg.uuid)) {
        /* The other of the two that may start it (a create and lam_start()) was first. */
        pthread_mutex_unlock(&l->esm_mu);
        lam__poller_stop(p);
        return;
    }
    *lam__poller_next(p) = l->pollers;
    l->pollers = p;
    pthread_mutex_unlock(&l->esm_mu);
}

/* Stops the poller of uuid (without waiting for it). */
static void poller_remove(struct lam *l, const char *uuid)
{
    pthread_mutex_lock(&l->esm_mu);
    for (struct lam__poller **pp = &l->pollers; *pp; pp = lam__poller_next(*pp)) {
        struct lam__poller *p = *pp;
        if (strcmp(lam__poller_uuid(p), uuid) == 0) {
            *pp = *lam__poller_next(p);
            lam__poller_signal(p);
            *lam__poller_next(p) = l->stopped;
            l->stopped = p;
            break;
        }
    }
    reap_stopped(l, false);
    pthread_mutex_unlock(&l->esm_mu);
}

/* The record as Get/List answer it: with the poller's LastProcessingResult. New reference. */
static json_t *describe(struct lam *l, const json_t *cfg)
{
    json_t *out = json_deep_copy(cfg);
    const char *uuid = json_string_value(json_object_get(cfg, "UUID"));
    pthread_mutex_lock(&l->esm_mu);
    for (struct lam__poller *p = l->pollers; p; p = *lam__poller_next(p)) {
        if (uuid && strcmp(lam__poller_uuid(p), uuid) == 0) {
            json_object_set_new(out, "LastProcessingResult",
                                json_string(lam__poller_result(p)));
            break;
        }
    }
    pthread_mutex_unlock(&l->esm_mu);
    return out;
}

static json_t *esm_read(struct lam *l, MDB_txn *txn, const char *uuid)
{
    MDB_val k = { strlen(uuid), (void *)uuid }, v;
    json_error_t jerr;
    if (mdb_get(txn, l->esm, &k, &v) != 0) {
        return NULL;
    }
    return json_loadb(v.mv_data, v.mv_size, 0, &jerr);
}

static int not_found(struct http_req *r)
{
    return http_req_fail(r, AWSERR_LAMBDA_NOT_FOUND, "The resource you requested does not exist.");
}

/* ---- CreateEventSourceMapping ---- */

struct esm_op {
    struct store_op base;
    struct lam *l;
    struct http_req *r;
    json_t *cfg;            /* owned by r */
    const char *uuid;
    uint64_t checkpoint;
    char conflict[37];      /* set by apply: the UUID of the mapping that exists */
};

static int create_apply(struct store_op *op, MDB_txn *txn)
{
    struct esm_op *o = (struct esm_op *)op;
    const char *fn = json_string_value(json_object_get(o->cfg, "FunctionArn"));
    const char *src = json_string_value(json_object_get(o->cfg, "EventSourceArn"));
    MDB_cursor *c;
    MDB_val k, v;
    unsigned char b[8];
    char *text;
    int rc = mdb_cursor_open(txn, o->l->esm, &c);

    if (rc) {
        return rc;
    }
    for (int g = mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        json_error_t jerr;
        json_t *e = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
        bool same = e && strcmp(json_string_value(json_object_get(e, "FunctionArn")), fn) == 0 &&
                    strcmp(json_string_value(json_object_get(e, "EventSourceArn")), src) == 0;
        if (same) {
            snprintf(o->conflict, sizeof o->conflict, "%s",
                     json_string_value(json_object_get(e, "UUID")));
        }
        json_decref(e);
        if (same) {
            mdb_cursor_close(c);
            return -EEXIST;
        }
    }
    mdb_cursor_close(c);
    text = json_dumps(o->cfg, JSON_COMPACT);
    k.mv_size = strlen(o->uuid);
    k.mv_data = (void *)o->uuid;
    v.mv_size = strlen(text);
    v.mv_data = text;
    rc = mdb_put(txn, o->l->esm, &k, &v, 0);
    free(text);
    if (rc) {
        return rc;
    }
    lam__put_be64(b, o->checkpoint);
    v.mv_size = 8;
    v.mv_data = b;
    return mdb_put(txn, o->l->esm_pos, &k, &v, 0);
}

static void resume_done(struct store_op *op, int rc)
{
    (void)rc;
    http_req_resume(((struct esm_op *)op)->r);
}

static int create_cont(struct http_req *r)
{
    struct esm_op *o = r->op_ctx;
    json_t *out;
    if (o->base.rc == -EEXIST) {
        return http_req_fail(r, AWSERR_LAMBDA_CONFLICT,
                             "The event source arn (\" %s \") and function (\" %s \") provided "
                             "mapping already exists. Please update or delete the existing "
                             "mapping with UUID %s",
                             json_string_value(json_object_get(o->cfg, "EventSourceArn")),
                             strrchr(json_string_value(json_object_get(o->cfg, "FunctionArn")),
                                     ':') + 1,
                             o->conflict);
    }
    if (o->base.rc) {
        return lam__internal(r, "CreateEventSourceMapping", o->base.rc);
    }
    if (strcmp(json_string_value(json_object_get(o->cfg, "State")), "Enabled") == 0) {
        poller_add(o->l, o->cfg, o->checkpoint);
    }
    log_info("lambda", "event source mapping %s: %s -> %s", o->uuid,
             json_string_value(json_object_get(o->cfg, "EventSourceArn")),
             json_string_value(json_object_get(o->cfg, "FunctionArn")));
    out = json_deep_copy(o->cfg);
    json_object_set_new(out, "State", json_string("Creating"));
    http_reply_json(r, out);
    r->status = 202;
    return 0;
}

static void json_free_cb(void *p)
{
    json_decref(p);
}

/* A DynamoDB stream ARN of this region and account:
 * arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>. */
static bool ddb_stream_arn(const struct lam *l, const char *s)
{
    char prefix[96];
    const char *t, *st;
    snprintf(prefix, sizeof prefix, "arn:aws:dynamodb:%s:%s:table/", l->region, l->account);
    if (strncmp(s, prefix, strlen(prefix)) != 0) {
        return false;
    }
    t = s + strlen(prefix);
    st = strstr(t, "/stream/");
    return st && st > t && st[8];
}

/* Settings sluice does not honour yet: refused unless they are Lambda's defaults. */
static int unsupported_or_reply(struct http_req *r, const json_t *in)
{
    static const struct {
        const char *key;
        json_int_t def;
    } ints[] = {
        { "MaximumRetryAttempts", -1 },
        { "MaximumRecordAgeInSeconds", -1 },
        { "TumblingWindowInSeconds", 0 },
        { "ParallelizationFactor", 1 },
    };
    static const char *const objs[] = { "FilterCriteria", "DestinationConfig", "Topics",
                                        "Queues", "SourceAccessConfigurations",
                                        "SelfManagedEventSource", "ScalingConfig" };
    const json_t *v;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        v = json_object_get(in, ints[i].key);
        if (v && !json_is_null(v) &&
            (!json_is_integer(v) || json_integer_value(v) != ints[i].def)) {
            return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                                 "%s is not supported by sluice yet: a failed batch is retried "
                                 "until it succeeds.",
                                 ints[i].key);
        }
    }
    v = json_object_get(in, "BisectBatchOnFunctionError");
    if (v && json_is_true(v)) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "BisectBatchOnFunctionError is not supported by sluice yet.");
    }
    v = json_object_get(in, "FunctionResponseTypes");
    if (v && json_is_array(v) && json_array_size(v) > 0) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "FunctionResponseTypes is not supported by sluice yet.");
    }
    for (size_t i = 0; i < sizeof objs / sizeof objs[0]; i++) {
        v = json_object_get(in, objs[i]);
        if (v && !json_is_null(v) && !(json_is_object(v) && json_object_size(v) == 0) &&
            !(strcmp(objs[i], "DestinationConfig") == 0 && json_is_object(v) &&
              json_object_size(json_object_get(v, "OnFailure")) == 0 && json_object_size(v) == 1)) {
            return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                                 "%s is not supported by sluice yet.", objs[i]);
        }
    }
    return 0;
}

int lam_create_event_source_mapping(struct http_req *r)
{
    struct lam *l = lam__of(r);
    json_t *in, *cfg;
    const json_t *fnv, *srcv, *posv, *env;
    const char *pos;
    struct lam__fnref ref;
    struct lam__fnconf fc;
    long batch = ESM_BATCH_DEFAULT, window = 0;
    bool enabled = true;
    uint64_t checkpoint = 0;
    char uuid[37], arn[256], esm_arn[160];
    struct esm_op *op;
    int rc;

    if (lam__json_body_or_reply(r, &in) < 0) {
        return -1;
    }
    fnv = json_object_get(in, "FunctionName");
    srcv = json_object_get(in, "EventSourceArn");
    posv = json_object_get(in, "StartingPosition");
    env = json_object_get(in, "Enabled");
    if (lam__expect_type_or_reply(r, fnv, JSON_STRING, "FunctionName") < 0 ||
        lam__expect_type_or_reply(r, srcv, JSON_STRING, "EventSourceArn") < 0 ||
        lam__expect_type_or_reply(r, posv, JSON_STRING, "StartingPosition") < 0 ||
        lam__expect_type_or_reply(r, env, JSON_TRUE, "Enabled") < 0 ||
        lam__int_member_or_reply(r, in, "BatchSize", "batchSize", 1, ESM_BATCH_MAX, &batch) <
            0 ||
        lam__int_member_or_reply(r, in, "MaximumBatchingWindowInSeconds",
                                 "maximumBatchingWindowInSeconds", 0, ESM_WINDOW_MAX,
                                 &window) < 0) {
        return -1;
    }
    if (!fnv || json_is_null(fnv)) {
        return lam__validation(r, "Value null at 'functionName' failed to satisfy constraint: "
                                  "Member must not be null");
    }
    if (env && json_is_false(env)) {
        enabled = false;
    }
    pos = posv && json_is_string(posv) ? json_string_value(posv) : NULL;
    if (pos && strcmp(pos, "TRIM_HORIZON") != 0 && strcmp(pos, "LATEST") != 0 &&
        strcmp(pos, "AT_TIMESTAMP") != 0) {
        return lam__validation(r,
                               "Value '%.50s' at 'startingPosition' failed to satisfy "
                               "constraint: Member must satisfy enum value set: [TRIM_HORIZON, "
                               "LATEST, AT_TIMESTAMP]",
                               pos);
    }
    if (lam__fnref_or_reply(r, json_string_value(fnv), false, &ref) < 0) {
        return -1;
    }
    if (!srcv || json_is_null(srcv)) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Unrecognized event source, must be kinesis, dynamodb stream or "
                             "sqs.");
    }
    if (!ddb_stream_arn(l, json_string_value(srcv))) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Unsupported event source %.300s: sluice maps DynamoDB streams of "
                             "this region and account only.",
                             json_string_value(srcv));
    }
    if (!pos) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "StartingPosition is required for DynamoDB stream event sources.");
    }
    if (strcmp(pos, "AT_TIMESTAMP") == 0) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Unsupported starting position for DynamoDB streams: AT_TIMESTAMP.");
    }
    if (unsupported_or_reply(r, in) < 0) {
        return -1;
    }
    if (ref.elsewhere || !lam__qualifier_latest(ref.qualifier)) {
        return lam__not_found(r, &ref);
    }
    rc = lam__fnconf_load(l, ref.name, &fc);
    if (rc == -ENOENT) {
        return lam__not_found(r, &ref);
    }
    if (rc) {
        return lam__internal(r, "CreateEventSourceMapping", rc);
    }
    lam__fnconf_release(&fc);
    rc = strm_latest_seq(l->streams, json_string_value(srcv), &checkpoint);
    if (rc == -ENOENT) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER, "Stream not found: %.300s",
                             json_string_value(srcv));
    }
    if (rc) {
        return lam__internal(r, "CreateEventSourceMapping", rc);
    }
    if (strcmp(pos, "TRIM_HORIZON") == 0) {
        checkpoint = 0;
    }
    sl_uuid4(uuid);
    lam__function_arn(l, ref.name, arn, sizeof arn);
    snprintf(esm_arn, sizeof esm_arn, "arn:aws:lambda:%s:%s:event-source-mapping:%s", l->region,
             l->account, uuid);
    cfg = json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:s, s:f, s:s, s:s, s:s, s:{s:{}}, "
                    "s:i, s:b, s:i, s:i, s:[], s:s}",
                    "UUID", uuid, "StartingPosition", pos, "BatchSize", (int)batch,
                    "MaximumBatchingWindowInSeconds", (int)window, "ParallelizationFactor", 1,
                    "EventSourceArn", json_string_value(srcv), "FunctionArn", arn,
                    "LastModified", (double)lam__now_ms() / 1000.0, "LastProcessingResult",
                    "No records processed", "State", enabled ? "Enabled" : "Disabled",
                    "StateTransitionReason", "User action", "DestinationConfig", "OnFailure",
                    "MaximumRecordAgeInSeconds", -1, "BisectBatchOnFunctionError", 0,
                    "MaximumRetryAttempts", -1, "TumblingWindowInSeconds", 0,
                    "FunctionResponseTypes", "EventSourceMappingArn", esm_arn);
    arena_on_clear(&r->arena, json_free_cb, cfg);
    op = arena_new(&r->arena, struct esm_op);
    op->base.apply = create_apply;
    op->base.done = resume_done;
    op->l = l;
    op->r = r;
    op->cfg = cfg;
    op->uuid = json_string_value(json_object_get(cfg, "UUID"));
    op->checkpoint = checkpoint;
    r->op_ctx = op;
    return lam__submit_or_reply(r, &op->base, create_cont);
}

/* ---- Get, List ---- */

int lam_get_event_source_mapping(struct http_req *r)
{
    struct lam *l = lam__of(r);
    const struct lam__target *t = r->op_ctx;
    MDB_txn *txn;
    json_t *cfg;
    int rc = store_read_begin(l->st, &txn);
    if (rc) {
        return lam__internal(r, "GetEventSourceMapping", rc);
    }
    cfg = esm_read(l, txn, t->name);
    store_read_end(l->st, txn);
    if (!cfg) {
        return not_found(r);
    }
    arena_on_clear(&r->arena, json_free_cb, cfg);
    return http_reply_json(r, describe(l, cfg));
}

int lam_list_event_source_mappings(struct http_req *r)
{
    struct lam *l = lam__of(r);
    const char *src = http_req_query(r, "EventSourceArn");
    const char *fn = http_req_query(r, "FunctionName");
    const char *marker = http_req_query(r, "Marker");
    long max = ESM_LIST_DEFAULT;
    char fn_arn[256] = "";
    struct lam__list it;
    json_t *list, *out;
    long n = 0;

    if (lam__max_items_or_reply(r, &max) < 0) {
        return -1;
    }
    if (fn) {
        struct lam__fnref ref;
        if (lam__fnref_or_reply(r, fn, false, &ref) < 0) {
            return -1;
        }
        lam__function_arn(l, ref.name, fn_arn, sizeof fn_arn);
    }
    if (lam__list_begin_or_reply(r, l->esm, marker, marker ? strlen(marker) : 0, &it) < 0) {
        return -1;
    }
    list = json_array();
    out = json_object();
    for (; it.g == 0; it.g = mdb_cursor_get(it.c, &it.k, &it.v, MDB_NEXT)) {
        json_error_t jerr;
        json_t *cfg = json_loadb(it.v.mv_data, it.v.mv_size, 0, &jerr);
        const char *cs = json_string_value(json_object_get(cfg, "EventSourceArn"));
        const char *cf = json_string_value(json_object_get(cfg, "FunctionArn"));
        if (!cfg || !cs || !cf || (src && strcmp(src, cs) != 0) ||
            (fn_arn[0] && strcmp(fn_arn, cf) != 0)) {
            json_decref(cfg);
            continue;
        }
        if (n == max) {
            json_object_set_new(out, "NextMarker",
                                json_string(json_string_value(json_object_get(
                                    json_array_get(list, (size_t)n - 1), "UUID"))));
            json_decref(cfg);
            break;
        }
        json_array_append_new(list, describe(l, cfg));
        json_decref(cfg);
        n++;
    }
    lam__list_end(r, &it);
    json_object_set_new(out, "EventSourceMappings", list);
    return http_reply_json(r, out);
}

/* ---- DeleteEventSourceMapping ---- */

static int delete_apply(struct store_op *op, MDB_txn *txn)
{
    struct esm_op *o = (struct esm_op *)op;
    MDB_val k = { strlen(o->uuid), (void *)o->uuid };
    int rc;
    json_decref(o->cfg);
    o->cfg = esm_read(o->l, txn, o->uuid);
    if (!o->cfg) {
        return -ENOENT;
    }
    rc = mdb_del(txn, o->l->esm, &k, NULL);
    if (rc == 0) {
        rc = mdb_del(txn, o->l->esm_pos, &k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    return rc;
}

static int delete_cont(struct http_req *r)
{
    struct esm_op *o = r->op_ctx;
    json_t *out;
    if (o->base.rc == -ENOENT) {
        return not_found(r);
    }
    if (o->base.rc) {
        return lam__internal(r, "DeleteEventSourceMapping", o->base.rc);
    }
    out = describe(o->l, o->cfg);
    poller_remove(o->l, o->uuid);
    json_object_set_new(out, "State", json_string("Deleting"));
    log_info("lambda", "event source mapping %s deleted", o->uuid);
    http_reply_json(r, out);
    r->status = 202;
    return 0;
}

static void esm_op_free(void *p)
{
    json_decref(((struct esm_op *)p)->cfg);
}

int lam_delete_event_source_mapping(struct http_req *r)
{
    const struct lam__target *t = r->op_ctx;
    struct esm_op *op = arena_new(&r->arena, struct esm_op);
    op->base.apply = delete_apply;
    op->base.done = resume_done;
    op->l = lam__of(r);
    op->r = r;
    op->uuid = arena_strdup(&r->arena, t->name);
    arena_on_clear(&r->arena, esm_op_free, op);
    r->op_ctx = op;
    return lam__submit_or_reply(r, &op->base, delete_cont);
}

/* ---- start and stop ---- */

int lam__esm_start(struct lam *l)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    json_t *cfgs = json_array();
    json_t *pos = json_array();
    size_t i;
    json_t *cfg;

    /* From here on a created mapping starts its own poller; the read below sees every one
     * created before (has_poller() sorts out one created in between). */
    pthread_mutex_lock(&l->esm_mu);
    l->esm_started = true;
    pthread_mutex_unlock(&l->esm_mu);
    int rc = store_read_begin(l->st, &txn);

    if (rc) {
        json_decref(cfgs);
        json_decref(pos);
        return rc;
    }
    rc = mdb_cursor_open(txn, l->esm, &c);
    for (int g = rc ? MDB_NOTFOUND : mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        json_error_t jerr;
        json_t *e = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
        MDB_val pv;
        uint64_t seq = 0;
        if (!e) {
            continue;
        }
        if (mdb_get(txn, l->esm_pos, &k, &pv) == 0 && pv.mv_size == 8) {
            seq = lam__get_be64(pv.mv_data);
        }
        json_array_append_new(cfgs, e);
        json_array_append_new(pos, json_integer((json_int_t)seq));
    }
    if (c) {
        mdb_cursor_close(c);
    }
    store_read_end(l->st, txn);
    json_array_foreach(cfgs, i, cfg) {
        if (strcmp(json_string_value(json_object_get(cfg, "State")), "Enabled") == 0) {
            poller_add(l, cfg, (uint64_t)json_integer_value(json_array_get(pos, i)));
        }
    }
    json_decref(cfgs);
    json_decref(pos);
    return 0;
}

void lam__esm_stop(struct lam *l)
{
    pthread_mutex_lock(&l->esm_mu);
    for (struct lam__poller *p = l->pollers; p; p = *lam__poller_next(p)) {
        lam__poller_signal(p);
    }
    while (l->pollers) {
        struct lam__poller *p = l->pollers;
        l->pollers = *lam__poller_next(p);
        lam__poller_stop(p);
    }
    reap_stopped(l, true);
    pthread_mutex_unlock(&l->esm_mu);
}
