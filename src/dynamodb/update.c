/*
 * update.c: UpdateTable: a table's stream (enable, disable, enable again with a new view
 * type), its billing mode and provisioned throughput, and its deletion protection; and the
 * start of a stream, shared with CreateTable.
 *
 * What it is: DynamoDB's rules for these changes, in its words: the request-only rules
 * (required members, the combinations DynamoDB refuses) on the HTTP thread, and the rules
 * that depend on the table's state ("Table already has an enabled stream", "Table has no
 * stream to disable", an unchanged throughput) inside the writer op, where the state cannot
 * change under them. The changed entry and its schema record are written together, so the
 * next item write appends to the new stream, or to none.
 *
 * TableClass (STANDARD, STANDARD_INFREQUENT_ACCESS) is stored and shown in TableClassSummary;
 * GlobalSecondaryIndexUpdates are checked and applied by backfill.c, inside the same op.
 *
 * What it is not: SSE, replicas, warm and on-demand throughput: refused with a
 * ValidationException that says so.
 *
 * Streams: each enabling makes a new stream with a new label (and so a new ARN); a disabled
 * stream stays readable for 24 hours (src/streams/), as on DynamoDB. After a disable the
 * table shows no StreamSpecification while LatestStreamArn and LatestStreamLabel remain.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

static const char invalid[] = "One or more parameter values were invalid: ";

/* "2026-01-01T00:00:00.000": the label DynamoDB gives a stream, the time it was created. */
static void iso_label(char *out, size_t n, const struct timespec *ts)
{
    struct tm tm;
    char base[32];
    gmtime_r(&ts->tv_sec, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03d", base, (int)(ts->tv_nsec / 1000000L) % 1000);
}

int ddb__stream_start(struct ddb *d, MDB_txn *txn, const char *table, const char *table_arn,
                      json_t *entry, const char *view, const json_t *key_schema,
                      const struct timespec *at)
{
    struct timespec t = *at;
    char label[64];
    int rc = -EEXIST;

    /* Labels are milliseconds: a stream made in the same millisecond as an earlier one of
     * this table name takes the next free millisecond. */
    for (int i = 0; i < 1000 && rc == -EEXIST; i++) {
        iso_label(label, sizeof label, &t);
        rc = strm_create(d->streams, txn, table, table_arn, label, view, key_schema);
        t.tv_nsec += 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
    }
    if (rc) {
        return rc;
    }
    json_object_set_new(entry, "StreamSpecification",
                        json_pack("{s:b, s:s}", "StreamEnabled", 1, "StreamViewType", view));
    json_object_set_new(entry, "LatestStreamLabel", json_string(label));
    json_object_set_new(entry, "LatestStreamArn",
                        json_sprintf("%s/stream/%s", table_arn, label));
    return 0;
}

/* Why the writer refused an update (after the request itself passed). */
enum update_fail {
    UF_NONE = 0,
    UF_STREAM_ENABLED,      /* "Table already has an enabled stream" */
    UF_NO_STREAM,           /* "Table has no stream to disable" */
    UF_PT_ON_PPR,           /* throughput on an on-demand table */
    UF_PT_REQUIRED,         /* to PROVISIONED without a throughput */
    UF_PT_SAME,             /* the throughput asked for is the current one */
};

struct update_op {
    struct store_op base;
    struct ddb *d;
    struct http_req *r;
    const char *name;
    const json_t *in;           /* the request (borrowed from r) */
    struct timespec now;
    /* Set by apply, afresh on each run. */
    json_t *entry;              /* the updated entry (owned, released with the request) */
    json_t *desc;               /* its description (owned, released with the request) */
    enum update_fail fail;
    json_int_t cur_rcu, cur_wcu, req_rcu, req_wcu;
    uint64_t items, bytes;
    struct ddb_gsi_result gsi;  /* the index updates' outcome */
};

static const char *billing_mode(const json_t *entry)
{
    const char *m = json_string_value(
        json_object_get(json_object_get(entry, "BillingModeSummary"), "BillingMode"));
    return m ? m : "PROVISIONED";
}

static double epoch(const struct timespec *ts)
{
    return (double)ts->tv_sec + (double)(ts->tv_nsec / 1000000) / 1e3;
}

/* Billing mode and throughput, on the entry. Returns 0 or -EINVAL with u->fail set. */
static int apply_billing(struct update_op *u, json_t *entry)
{
    const json_t *pt = json_object_get(u->in, "ProvisionedThroughput");
    const char *want = json_string_value(json_object_get(u->in, "BillingMode"));
    char cur[32];           /* a copy: the summary it comes from may be replaced below */
    json_t *cpt = json_object_get(entry, "ProvisionedThroughput");
    const char *to;
    bool has_pt = pt && !json_is_null(pt);

    snprintf(cur, sizeof cur, "%s", billing_mode(entry));
    to = want ? want : cur;
    u->cur_rcu = json_integer_value(json_object_get(cpt, "ReadCapacityUnits"));
    u->cur_wcu = json_integer_value(json_object_get(cpt, "WriteCapacityUnits"));
    if (has_pt && strcmp(to, "PAY_PER_REQUEST") == 0) {
        u->fail = UF_PT_ON_PPR;
        return -EINVAL;
    }
    if (!has_pt && want && strcmp(want, "PROVISIONED") == 0 &&
        strcmp(cur, "PAY_PER_REQUEST") == 0) {
        u->fail = UF_PT_REQUIRED;
        return -EINVAL;
    }
    if (has_pt) {
        u->req_rcu = json_integer_value(json_object_get(pt, "ReadCapacityUnits"));
        u->req_wcu = json_integer_value(json_object_get(pt, "WriteCapacityUnits"));
        if (strcmp(cur, "PROVISIONED") == 0 && u->req_rcu == u->cur_rcu &&
            u->req_wcu == u->cur_wcu) {
            u->fail = UF_PT_SAME;
            return -EINVAL;
        }
    }
    if (want && strcmp(want, "PAY_PER_REQUEST") == 0 && strcmp(cur, "PAY_PER_REQUEST") != 0) {
        json_object_set_new(entry, "BillingModeSummary",
                            json_pack("{s:s, s:f}", "BillingMode", "PAY_PER_REQUEST",
                                      "LastUpdateToPayPerRequestDateTime", epoch(&u->now)));
        json_object_set_new(entry, "ProvisionedThroughput",
                            json_pack("{s:i, s:i, s:i}", "NumberOfDecreasesToday", 0,
                                      "ReadCapacityUnits", 0, "WriteCapacityUnits", 0));
    }
    if (has_pt) {
        json_int_t decreases = json_integer_value(json_object_get(cpt, "NumberOfDecreasesToday"));
        json_t *npt;
        if (strcmp(cur, "PAY_PER_REQUEST") == 0) {
            json_t *bms = json_object_get(entry, "BillingModeSummary");
            json_object_set_new(bms, "BillingMode", json_string("PROVISIONED"));
            decreases = 0;
        }
        npt = json_pack("{s:I, s:I}", "ReadCapacityUnits", u->req_rcu, "WriteCapacityUnits",
                        u->req_wcu);
        if (strcmp(cur, "PROVISIONED") == 0) {
            bool up = u->req_rcu > u->cur_rcu || u->req_wcu > u->cur_wcu;
            bool down = u->req_rcu < u->cur_rcu || u->req_wcu < u->cur_wcu;
            json_t *last;
            if ((last = json_object_get(cpt, "LastIncreaseDateTime")) != NULL) {
                json_object_set(npt, "LastIncreaseDateTime", last);
            }
            if ((last = json_object_get(cpt, "LastDecreaseDateTime")) != NULL) {
                json_object_set(npt, "LastDecreaseDateTime", last);
            }
            if (up) {
                json_object_set_new(npt, "LastIncreaseDateTime", json_real(epoch(&u->now)));
            }
            if (down) {
                json_object_set_new(npt, "LastDecreaseDateTime", json_real(epoch(&u->now)));
                decreases++;
            }
        }
        json_object_set_new(npt, "NumberOfDecreasesToday", json_integer(decreases));
        json_object_set_new(entry, "ProvisionedThroughput", npt);
    }
    return 0;
}

/* The stream, on the entry and in the change log. */
static int apply_stream(struct update_op *u, MDB_txn *txn, json_t *entry)
{
    const json_t *ss = json_object_get(u->in, "StreamSpecification");
    bool enabled = json_is_true(json_object_get(json_object_get(entry, "StreamSpecification"),
                                                "StreamEnabled"));
    const char *arn = json_string_value(json_object_get(entry, "LatestStreamArn"));
    int rc;

    if (!ss || json_is_null(ss)) {
        return 0;
    }
    if (json_is_true(json_object_get(ss, "StreamEnabled"))) {
        if (enabled) {
            u->fail = UF_STREAM_ENABLED;
            return -EINVAL;
        }
        return ddb__stream_start(u->d, txn, u->name,
                                 json_string_value(json_object_get(entry, "TableArn")), entry,
                                 json_string_value(json_object_get(ss, "StreamViewType")),
                                 json_object_get(entry, "KeySchema"), &u->now);
    }
    if (!enabled || !arn) {
        u->fail = UF_NO_STREAM;
        return -EINVAL;
    }
    rc = strm_disable(u->d->streams, txn, arn);
    if (rc == 0 || rc == -ENOENT) {
        json_object_del(entry, "StreamSpecification");
        rc = 0;
    }
    return rc;
}

static int update_apply(struct store_op *op, MDB_txn *txn)
{
    struct update_op *u = (struct update_op *)op;
    const json_t *dp = json_object_get(u->in, "DeletionProtectionEnabled");
    const char *tc = json_string_value(json_object_get(u->in, "TableClass"));
    struct ddb_schema sc;
    char prev_mode[32];
    int rc;

    json_decref(u->entry);      /* from an earlier run of this op, if any */
    json_decref(u->desc);
    u->desc = NULL;
    u->fail = UF_NONE;
    memset(&u->gsi, 0, sizeof u->gsi);
    u->entry = ddb__catalog_get(u->d, txn, u->name);
    if (!u->entry) {
        return -ENOENT;
    }
    rc = ddb__schema_get(u->d, txn, u->name, &sc);
    if (rc == 0) {
        rc = ddb__counts_get(u->d, txn, sc.id, &u->items, &u->bytes);
    }
    snprintf(prev_mode, sizeof prev_mode, "%s", billing_mode(u->entry));
    if (rc == 0) {
        rc = apply_billing(u, u->entry);
    }
    if (rc == 0) {
        rc = apply_stream(u, txn, u->entry);
    }
    if (rc == 0 && (json_object_get(u->in, "GlobalSecondaryIndexUpdates") ||
                    strcmp(prev_mode, billing_mode(u->entry)) != 0)) {
        /* The index updates, and the indexes' side of a billing mode change. */
        rc = ddb__gsi_updates_apply(u->d, txn, u->name, u->entry, u->in, prev_mode,
                                    epoch(&u->now), &u->gsi);
    }
    if (rc == 0 && tc) {
        json_object_set_new(u->entry, "TableClassSummary",
                            json_pack("{s:s, s:f}", "TableClass", tc, "LastUpdateDateTime",
                                      epoch(&u->now)));
    }
    if (rc == 0 && dp && !json_is_null(dp)) {
        json_object_set_new(u->entry, "DeletionProtectionEnabled",
                            json_boolean(json_is_true(dp)));
    }
    if (rc == 0) {
        rc = ddb__catalog_put(u->d, txn, u->name, u->entry, sc.id);
    }
    if (rc == 0) {
        u->desc = ddb__describe(u->d, txn, u->entry, u->items, u->bytes);
    }
    return rc;
}

static void update_done(struct store_op *op, int rc)
{
    struct update_op *u = (struct update_op *)op;
    if (rc == 0 && u->gsi.created) {
        ddb__backfill_kick(u->d);
    }
    if (rc == 0 && u->gsi.deleted) {
        ddb__reclaim_kick(u->d);
    }
    http_req_resume(u->r);
}

static int update_cont(struct http_req *r)
{
    struct update_op *u = r->op_ctx;
    json_t *desc;

    if (u->entry) {
        arena_on_clear(&r->arena, ddb__decref_cb, u->entry);
    }
    if (u->desc) {
        arena_on_clear(&r->arena, ddb__decref_cb, u->desc);
    }
    if (u->gsi.fail) {
        return ddb__gsi_fail_or_reply(r, u->name, &u->gsi);
    }
    switch (u->fail) {
    case UF_NONE:
        break;
    case UF_STREAM_ENABLED:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Table already has an enabled stream: TableName: %s", u->name);
    case UF_NO_STREAM:
        return http_req_fail(r, AWSERR_VALIDATION, "Table has no stream to disable: TableName: %s",
                             u->name);
    case UF_PT_ON_PPR:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sNeither ReadCapacityUnits nor WriteCapacityUnits can be "
                             "specified when BillingMode is PAY_PER_REQUEST",
                             invalid);
    case UF_PT_REQUIRED:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sProvisionedThroughput must be specified when BillingMode is "
                             "PROVISIONED",
                             invalid);
    case UF_PT_SAME:
        return http_req_fail(
            r, AWSERR_VALIDATION,
            "The provisioned throughput for the table will not change. The requested value "
            "equals the current value. Current ReadCapacityUnits provisioned for the table: "
            "%lld. Requested ReadCapacityUnits: %lld. Current WriteCapacityUnits provisioned "
            "for the table: %lld. Requested WriteCapacityUnits: %lld. Refer to the Amazon "
            "DynamoDB Developer Guide for current limits and how to request higher limits.",
            (long long)u->cur_rcu, (long long)u->req_rcu, (long long)u->cur_wcu,
            (long long)u->req_wcu);
    }
    switch (u->base.rc) {
    case 0:
        break;
    case -ENOENT:
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                             "Requested resource not found: Table: %s not found", u->name);
    default:
        log_error("dynamodb", "UpdateTable %s: %s", u->name, store_strerror(u->base.rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    desc = json_incref(u->desc);
    /* DynamoDB answers while the change is under way; here it is done at once (but for a new
     * index's backfill and a deleted one's reclaiming). */
    json_object_set_new(desc, "TableStatus", json_string("UPDATING"));
    if (u->gsi.updated[0]) {
        size_t i;
        json_t *ix;
        json_array_foreach(json_object_get(desc, "GlobalSecondaryIndexes"), i, ix)
        {
            const char *n = json_string_value(json_object_get(ix, "IndexName"));
            if (n && strcmp(n, u->gsi.updated) == 0) {
                json_object_set_new(ix, "IndexStatus", json_string("UPDATING"));
            }
        }
    }
    return http_reply_json(r, json_pack("{s:o}", "TableDescription", desc));
}

static bool present(const json_t *in, const char *member)
{
    const json_t *v = json_object_get(in, member);
    return v && !json_is_null(v);
}

/* The constraints of the members, collected as DynamoDB lists them. */
static void check_members(const json_t *in, struct ddb_verr *ve)
{
    static const char *const modes[] = { "PROVISIONED", "PAY_PER_REQUEST", NULL };
    static const char *const views[] = { "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES",
                                         "KEYS_ONLY", NULL };
    const json_t *pt = json_object_get(in, "ProvisionedThroughput");
    const json_t *ss = json_object_get(in, "StreamSpecification");
    static const char *const pt_members[][2] = {
        { "ReadCapacityUnits", "provisionedThroughput.readCapacityUnits" },
        { "WriteCapacityUnits", "provisionedThroughput.writeCapacityUnits" },
    };

    ddb__check_table_name(ve, json_object_get(in, "TableName"), "tableName");
    ddb__check_enum(ve, json_object_get(in, "BillingMode"), "billingMode", modes);
    for (size_t i = 0; pt && !json_is_null(pt) && i < 2; i++) {
        const json_t *v = json_object_get(pt, pt_members[i][0]);
        if (!v || json_is_null(v)) {
            ddb__verr_add(ve, "Value null at '%s' failed to satisfy constraint: Member must not "
                              "be null",
                          pt_members[i][1]);
        }
        else if (json_integer_value(v) < 1) {
            ddb__verr_add(ve,
                          "Value '%lld' at '%s' failed to satisfy constraint: Member must have "
                          "value greater than or equal to 1",
                          (long long)json_integer_value(v), pt_members[i][1]);
        }
    }
    if (ss && !json_is_null(ss)) {
        const json_t *en = json_object_get(ss, "StreamEnabled");
        if (!en || json_is_null(en)) {
            ddb__verr_add(ve, "Value null at 'streamSpecification.streamEnabled' failed to "
                              "satisfy constraint: Member must not be null");
        }
        ddb__check_enum(ve, json_object_get(ss, "StreamViewType"),
                        "streamSpecification.streamViewType", views);
    }
}

/* The rules on the request alone, in the order DynamoDB applies them. */
static int request_rules_or_reply(struct http_req *r, const json_t *in)
{
    static const char *const unsupported[] = { "SSESpecification", "ReplicaUpdates",
                                               "WarmThroughput", "OnDemandThroughput",
                                               "MultiRegionConsistency",
                                               "GlobalTableWitnessUpdates", NULL };
    const json_t *ss = json_object_get(in, "StreamSpecification");
    const char *bm = json_string_value(json_object_get(in, "BillingMode"));
    bool has_ss = present(in, "StreamSpecification"), has_pt = present(in, "ProvisionedThroughput");
    bool has_dp = present(in, "DeletionProtectionEnabled"), has_bm = present(in, "BillingMode");
    bool has_gsi = present(in, "GlobalSecondaryIndexUpdates"), has_tc = present(in, "TableClass");
    bool online = false;
    size_t gi;
    const json_t *gu;

    for (size_t i = 0; unsupported[i]; i++) {
        if (present(in, unsupported[i])) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%s is not supported by sluice yet",
                                 unsupported[i]);
        }
    }
    if (!has_ss && !has_pt && !has_dp && !has_bm && !has_gsi && !has_tc) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "At least one of ProvisionedThroughput, BillingMode, "
                             "UpdateStreamEnabled, GlobalSecondaryIndexUpdates, "
                             "SSESpecification, ReplicaUpdates, MultiAccountReplicaReady, "
                             "ReplicaTransitRoleArn, MultiRegionConsistency, "
                             "DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or "
                             "TableClass is required");
    }
    if (has_tc) {
        const char *tc = json_string_value(json_object_get(in, "TableClass"));
        if (strcmp(tc, "STANDARD") != 0 && strcmp(tc, "STANDARD_INFREQUENT_ACCESS") != 0) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "Invalid table-class parameter provided. Please try again with "
                                 "a valid table-class value: [STANDARD, "
                                 "STANDARD_INFREQUENT_ACCESS].");
        }
    }
    if (has_dp && (has_ss || has_pt || has_bm || has_gsi || has_tc)) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sDeletionProtection modification must be the only operation in "
                             "the request",
                             invalid);
    }
    if (has_tc && (has_ss || has_pt || has_bm || has_gsi)) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sTableClass modification must be the only operation in the "
                             "request",
                             invalid);
    }
    json_array_foreach(json_object_get(in, "GlobalSecondaryIndexUpdates"), gi, gu)
    {
        online = online || present(gu, "Create") || present(gu, "Delete");
    }
    if (online && has_pt) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sYou cannot create or delete index while updating table IOPS",
                             invalid);
    }
    if (online && has_ss) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sYou cannot create or delete index while changing stream status",
                             invalid);
    }
    if (has_ss && (has_pt || (bm && strcmp(bm, "PROVISIONED") == 0))) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sYou cannot modify stream status while updating table IOPS",
                             invalid);
    }
    if (has_ss) {
        bool en = json_is_true(json_object_get(ss, "StreamEnabled"));
        bool has_view = present(ss, "StreamViewType");
        if (en && !has_view) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%sIf stream is being enabled then UpdateViewType is required",
                                 invalid);
        }
        if (!en && has_view) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%sIf stream is being disabled, then UpdateViewType must not "
                                 "be specified",
                                 invalid);
        }
    }
    return 0;
}

/* UpdateTable. Returns 0 when queued (update_cont() then answers) or -1 with an error set. */
int ddb_update_table(struct http_req *r)
{
    static const struct {
        const char *name;
        enum ddb_jtype type;
    } types[] = {
        { "TableName", DDB_J_STRING },
        { "AttributeDefinitions", DDB_J_LIST },
        { "BillingMode", DDB_J_STRING },
        { "ProvisionedThroughput", DDB_J_STRUCT },
        { "StreamSpecification", DDB_J_STRUCT },
        { "DeletionProtectionEnabled", DDB_J_BOOLEAN },
        { "GlobalSecondaryIndexUpdates", DDB_J_LIST },
        { "SSESpecification", DDB_J_STRUCT },
        { "ReplicaUpdates", DDB_J_LIST },
        { "TableClass", DDB_J_STRING },
    };
    struct ddb *d = ddb__of(r);
    const json_t *in = r->json;
    const json_t *pt = json_object_get(in, "ProvisionedThroughput");
    const json_t *ss = json_object_get(in, "StreamSpecification");
    struct ddb_verr ve = { 0 };
    struct update_op *u;

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (ddb__type_or_reply(r, json_object_get(in, types[i].name), types[i].type) < 0) {
            return -1;
        }
    }
    if ((pt && !json_is_null(pt) &&
         (ddb__type_or_reply(r, json_object_get(pt, "ReadCapacityUnits"), DDB_J_LONG) < 0 ||
          ddb__type_or_reply(r, json_object_get(pt, "WriteCapacityUnits"), DDB_J_LONG) < 0)) ||
        (ss && !json_is_null(ss) &&
         (ddb__type_or_reply(r, json_object_get(ss, "StreamEnabled"), DDB_J_BOOLEAN) < 0 ||
          ddb__type_or_reply(r, json_object_get(ss, "StreamViewType"), DDB_J_STRING) < 0))) {
        return -1;
    }
    if (ddb__gsi_updates_types_or_reply(r, in) < 0) {
        return -1;
    }
    check_members(in, &ve);
    ddb__gsi_updates_constraints(&ve, in);
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    if (request_rules_or_reply(r, in) < 0 ||
        (present(in, "GlobalSecondaryIndexUpdates") &&
         ddb__gsi_updates_rules_or_reply(r, in) < 0)) {
        return -1;
    }
    u = arena_new(&r->arena, struct update_op);
    u->base.apply = update_apply;
    u->base.done = update_done;
    u->d = d;
    u->r = r;
    u->name = json_string_value(json_object_get(in, "TableName"));
    u->in = in;
    clock_gettime(CLOCK_REALTIME, &u->now);
    return ddb__submit_or_reply(r, &u->base, update_cont);
}
