/*
 * batch.c: BatchGetItem and BatchWriteItem.
 *
 * What it is: the two requests validated in DynamoDB's order and words; BatchGetItem read in
 * one read transaction, its answer cut at 16 MB of items with the rest in UnprocessedKeys;
 * BatchWriteItem's puts and deletes handed to the transaction core (txn.c) as one writer op,
 * so the whole batch commits at once (UnprocessedItems is therefore always empty).
 *
 * What it is not: the write of an item (write.c), the projection language (expr_*.c).
 *
 * RequestItems is a map of table names; DynamoDB answers in table order of the request, and
 * refuses a key named twice for one table ("Provided list of item keys contains duplicates").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

static const char content_type[] = "application/x-amz-json-1.0";
static const char *const rcc_set[] = { "INDEXES", "TOTAL", "NONE", NULL };
static const char *const ricm_set[] = { "SIZE", "NONE", NULL };

#define BATCH_GET_MAX 100
#define BATCH_WRITE_MAX 25
#define BATCH_GET_BYTES (16u * 1024 * 1024)   /* items in one BatchGetItem answer */

static bool present(const json_t *v)
{
    return v && !json_is_null(v);
}

/* Encodes an Item or Key map into a malloc'd buffer freed with r; a value error is kept in
 * *verr for after the member constraints. */
static int encode_or_reply(struct http_req *r, const json_t *map, const char **out, size_t *len,
                           size_t *size, struct ddb_err *verr)
{
    struct buf b;
    verr->kind = DDB_ERR_NONE;
    *out = NULL;
    *len = 0;
    *size = 0;
    if (!present(map)) {
        return 0;
    }
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_item_encode(map, &r->arena, &b, size, verr) < 0) {
        buf_release(&b);
        return verr->kind == DDB_ERR_SERIALIZATION ? ddb__attr_fail_or_reply(r, verr) : 0;
    }
    *out = buf_detach(&b, len);
    arena_on_clear(&r->arena, ddb__free_cb, (void *)*out);
    return 0;
}

/* Table names are the map's keys: each is checked as a TableName, and DynamoDB's message
 * names the map and echoes it. */
static void check_table_names(struct ddb_verr *ve, const json_t *map)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)map, k, v)
    {
        struct ddb_verr one = { 0 };
        json_t *name = json_string(k);
        ddb__check_table_name(&one, name, "x");
        json_decref(name);
        if (one.n) {
            char *echo = json_dumps(map, JSON_COMPACT);
            ddb__verr_add(ve,
                          "Value '%.1500s' at 'requestItems' failed to satisfy constraint: Map "
                          "keys must satisfy constraint: [Member must have length less than or "
                          "equal to 255, Member must have length greater than or equal to 3, "
                          "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]",
                          echo ? echo : "");
            free(echo);
            return;
        }
    }
}

/* The item_expr.c stages on one table's KeysAndAttributes (they read r->json's members). */
static int with_json(struct http_req *r, const json_t *obj, int stage, struct ddb_req_expr *ex)
{
    json_t *saved = r->json;
    int rc = 0;

    ex->cond = NULL;
    ex->update = NULL;
    ex->proj = NULL;
    r->json = (json_t *)obj;
    if (ddb__expr_members(r, DDB_REQ_PROJECTION)) {
        rc = stage == 0   ? ddb__expr_types_or_reply(r, DDB_REQ_PROJECTION)
             : stage == 1 ? ddb__expr_params_or_reply(r, DDB_REQ_PROJECTION)
                          : ddb__expr_parse_or_reply(r, DDB_REQ_PROJECTION, ex);
    }
    r->json = saved;
    return rc;
}

static int reply_buf_or_reply(struct http_req *r, struct buf *b, int rc)
{
    char *text;
    size_t len;
    if (rc < 0) {
        buf_release(b);
        log_error("dynamodb", "writing a batch answer: %s", store_strerror(rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    text = buf_detach(b, &len);
    arena_on_clear(&r->arena, ddb__free_cb, text);
    return http_reply(r, 200, content_type, text, len);
}

static int cc_entry(struct buf *b, bool first, const char *table, double units, bool indexes)
{
    int rc = buf_puts(b, first ? "{\"TableName\":" : ",{\"TableName\":");
    if (rc == 0) {
        rc = ddb_json_string(b, table, strlen(table));
    }
    if (rc == 0) {
        rc = buf_printf(b, ",\"CapacityUnits\":%.1f", units);
    }
    if (rc == 0 && indexes) {
        rc = buf_printf(b, ",\"Table\":{\"CapacityUnits\":%.1f}", units);
    }
    return rc ? rc : buf_puts(b, "}");
}

/* ---- BatchGetItem ---- */

struct bg_table {
    const char *name;
    const json_t *kaa;          /* its KeysAndAttributes (borrowed from the request) */
    struct ddb_req_expr ex;
    struct sl_str *names;       /* AttributesToGet, or NULL */
    size_t n_names;
    bool consistent;
    const char **keys;          /* encoded Keys */
    size_t *key_lens;
    size_t n;
};

static bool consistent_of(const json_t *cr)
{
    return json_is_true(cr) ||
           (json_is_string(cr) && (strcasecmp(json_string_value(cr), "true") == 0 ||
                                   strcmp(json_string_value(cr), "1") == 0 ||
                                   strcasecmp(json_string_value(cr), "yes") == 0));
}

/* The JSON types of one KeysAndAttributes. */
static int kaa_types_or_reply(struct http_req *r, const json_t *kaa)
{
    static const struct {
        const char *name;
        enum ddb_jtype type;
    } types[] = {
        { "Keys", DDB_J_LIST },
        { "AttributesToGet", DDB_J_LIST },
        { "ConsistentRead", DDB_J_BOOLEAN },
        { "ProjectionExpression", DDB_J_STRING },
        { "ExpressionAttributeNames", DDB_J_MAP },
    };
    size_t i;
    const json_t *e;
    struct ddb_req_expr ex;

    if (ddb__type_or_reply(r, kaa, DDB_J_STRUCT) < 0) {
        return -1;
    }
    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (ddb__type_or_reply(r, json_object_get(kaa, types[i].name), types[i].type) < 0) {
            return -1;
        }
    }
    json_array_foreach(json_object_get(kaa, "Keys"), i, e)
    {
        if (ddb__type_or_reply(r, e, DDB_J_MAP) < 0) {
            return -1;
        }
    }
    json_array_foreach(json_object_get(kaa, "AttributesToGet"), i, e)
    {
        if (ddb__type_or_reply(r, e, DDB_J_STRING) < 0) {
            return -1;
        }
    }
    return with_json(r, kaa, 0, &ex);
}

/* Appends one table's remaining keys (from index from) as its UnprocessedKeys entry, with the
 * table's projection members as they were sent. */
static int unprocessed_append(struct buf *b, const struct bg_table *t, size_t from, bool first)
{
    static const char *const echo[] = { "AttributesToGet", "ConsistentRead",
                                        "ExpressionAttributeNames", "ProjectionExpression",
                                        NULL };
    const json_t *keys = json_object_get(t->kaa, "Keys");
    int rc = buf_puts(b, first ? "" : ",");

    if (rc == 0) {
        rc = ddb_json_string(b, t->name, strlen(t->name));
    }
    if (rc == 0) {
        rc = buf_puts(b, ":{\"Keys\":[");
    }
    for (size_t i = from; rc == 0 && i < t->n; i++) {
        char *text = json_dumps(json_array_get(keys, i), JSON_COMPACT);
        rc = buf_printf(b, "%s%s", i > from ? "," : "", text ? text : "{}");
        free(text);
    }
    if (rc == 0) {
        rc = buf_puts(b, "]");
    }
    for (size_t m = 0; rc == 0 && echo[m]; m++) {
        const json_t *v = json_object_get(t->kaa, echo[m]);
        if (present(v)) {
            char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            rc = buf_printf(b, ",\"%s\":%s", echo[m], text ? text : "null");
            free(text);
        }
    }
    return rc ? rc : buf_puts(b, "}");
}

/* BatchGetItem: one read transaction; the answer holds at most 16 MB of items. */
int ddb_batch_get_item(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    const json_t *in = r->json;
    const json_t *ri = json_object_get(in, "RequestItems");
    const char *rcc = json_string_value(json_object_get(in, "ReturnConsumedCapacity"));
    struct ddb_verr ve = { 0 };
    struct bg_table *tables;
    size_t nt = 0, total = 0, k;
    const char *name;
    const json_t *kaa;
    double *units;
    MDB_txn *txn = NULL;
    struct buf b, pb;
    uint64_t bytes = 0;
    size_t stop_t = (size_t)-1, stop_k = 0;
    int rc;

    if (ddb__type_or_reply(r, ri, DDB_J_MAP) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ReturnConsumedCapacity"), DDB_J_STRING) < 0) {
        return -1;
    }
    json_object_foreach((json_t *)ri, name, kaa)
    {
        if (kaa_types_or_reply(r, kaa) < 0) {
            return -1;
        }
    }
    ddb__check_enum(&ve, json_object_get(in, "ReturnConsumedCapacity"), "returnConsumedCapacity",
                    rcc_set);
    if (!present(ri)) {
        ddb__verr_add(&ve, "Value null at 'requestItems' failed to satisfy constraint: Member "
                           "must not be null");
    }
    else if (json_object_size(ri) == 0) {
        ddb__verr_add(&ve, "Value at 'RequestItems' failed to satisfy constraint: Member must "
                           "have length greater than or equal to 1");
    }
    else {
        check_table_names(&ve, ri);
    }
    json_object_foreach((json_t *)ri, name, kaa)
    {
        const json_t *keys = json_object_get(kaa, "Keys");
        const json_t *atg = json_object_get(kaa, "AttributesToGet");
        if (!present(kaa)) {
            ddb__verr_add(&ve, "Value null at 'requestItems.%s.member' failed to satisfy "
                               "constraint: Member must not be null",
                          name);
            continue;
        }
        if (!present(keys)) {
            ddb__verr_add(&ve, "Value null at 'requestItems.%s.member.keys' failed to satisfy "
                               "constraint: Member must not be null",
                          name);
        }
        else if (json_array_size(keys) == 0) {
            ddb__verr_add(&ve, "Value at 'RequestItems.%s.member.Keys' failed to satisfy "
                               "constraint: Member must have length greater than or equal to 1",
                          name);
        }
        else if (json_array_size(keys) > BATCH_GET_MAX) {
            ddb__verr_add(&ve, "Value at 'RequestItems.%s.member.Keys' failed to satisfy "
                               "constraint: Member must have length less than or equal to 100",
                          name);
        }
        if (present(atg) && json_array_size(atg) == 0) {
            ddb__verr_add(&ve, "Value '[]' at 'requestItems.%s.member.attributesToGet' failed to "
                               "satisfy constraint: Member must have length greater than or "
                               "equal to 1",
                          name);
        }
        total += json_array_size(keys);
    }
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    if (total > BATCH_GET_MAX) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Too many items requested for the BatchGetItem call");
    }
    /* DynamoDB refuses the mix of the two projection members across the request, not only
     * within one table's KeysAndAttributes (a ProjectionExpression on one table and
     * AttributesToGet on another is refused too), in its words for one request. */
    {
        bool pe = false, atg = false;
        json_object_foreach((json_t *)ri, name, kaa)
        {
            pe = pe || present(json_object_get(kaa, "ProjectionExpression"));
            atg = atg || present(json_object_get(kaa, "AttributesToGet"));
        }
        if (pe && atg) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "Can not use both expression and non-expression parameters in "
                                 "the same request: Non-expression parameters: "
                                 "{AttributesToGet} Expression parameters: "
                                 "{ProjectionExpression}");
        }
    }

    tables = arena_zalloc(&r->arena, json_object_size(ri) * sizeof *tables);
    json_object_foreach((json_t *)ri, name, kaa)
    {
        struct bg_table *t = &tables[nt++];
        const json_t *keys = json_object_get(kaa, "Keys");
        const json_t *atg = json_object_get(kaa, "AttributesToGet");
        const json_t *e;
        size_t i;

        t->name = name;
        t->kaa = kaa;
        t->consistent = consistent_of(json_object_get(kaa, "ConsistentRead"));
        t->n = json_array_size(keys);
        t->keys = arena_alloc(&r->arena, t->n * sizeof *t->keys);
        t->key_lens = arena_alloc(&r->arena, t->n * sizeof *t->key_lens);
        if (with_json(r, kaa, 1, &t->ex) < 0) {
            return -1;
        }
        json_array_foreach(keys, i, e)
        {
            struct ddb_err verr;
            size_t size;
            if (encode_or_reply(r, e, &t->keys[i], &t->key_lens[i], &size, &verr) < 0) {
                return -1;
            }
            if (verr.kind != DDB_ERR_NONE) {
                return ddb__attr_fail_or_reply(r, &verr);
            }
        }
        if (present(atg)) {
            t->n_names = json_array_size(atg);
            t->names = arena_alloc(&r->arena, t->n_names * sizeof *t->names);
            json_array_foreach(atg, i, e)
            {
                t->names[i].p = json_string_value(e);
                t->names[i].len = json_string_length(e);
                for (size_t j = 0; j < i; j++) {
                    if (sl_str_eq(t->names[i], t->names[j])) {
                        return http_req_fail(r, AWSERR_VALIDATION,
                                             "One or more parameter values were invalid: "
                                             "Duplicate value in attribute name: %s",
                                             t->names[i].p);
                    }
                }
            }
        }
        if (with_json(r, kaa, 2, &t->ex) < 0) {
            return -1;
        }
    }

    rc = store_read_begin(d->st, &txn);
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    /* Every table and key first: a missing table or a bad key fails the whole batch. */
    struct ddb_key *lkeys = arena_alloc(&r->arena, (total ? total : 1) * sizeof *lkeys);
    size_t at = 0;
    for (size_t ti = 0; ti < nt; ti++) {
        struct ddb_schema s;
        rc = ddb__schema_get(d, txn, tables[ti].name, &s);
        if (rc) {
            store_read_end(d->st, txn);
            return rc == -ENOENT
                       ? http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found")
                       : http_req_fail(r, AWSERR_INTERNAL, NULL);
        }
    }
    for (size_t ti = 0; ti < nt; ti++) {
        struct bg_table *t = &tables[ti];
        struct ddb_schema s;
        ddb__schema_get(d, txn, t->name, &s);
        for (k = 0; k < t->n; k++) {
            struct ddb_key_err kerr;
            if (!t->keys[k]) {
                /* A null entry of Keys: no key attribute at all. */
                store_read_end(d->st, txn);
                return http_req_fail(r, AWSERR_VALIDATION,
                                     "The provided key element does not match the schema");
            }
            if (ddb__key_of(&s, t->keys[k], t->key_lens[k], true, &lkeys[at + k], &kerr) < 0) {
                store_read_end(d->st, txn);
                return ddb__key_fail_or_reply(r, &kerr);
            }
            for (size_t j = 0; j < k; j++) {
                if (lkeys[at + j].len == lkeys[at + k].len &&
                    memcmp(lkeys[at + j].b, lkeys[at + k].b, lkeys[at + k].len) == 0) {
                    store_read_end(d->st, txn);
                    return http_req_fail(r, AWSERR_VALIDATION,
                                         "Provided list of item keys contains duplicates");
                }
            }
        }
        at += t->n;
    }

    units = arena_zalloc(&r->arena, nt * sizeof *units);
    buf_init(&b, 4 * BATCH_GET_BYTES + 1024 * 1024);
    buf_init(&pb, DDB_ITEM_ENC_MAX);
    rc = buf_puts(&b, "{\"Responses\":{");
    at = 0;
    for (size_t ti = 0; rc == 0 && ti < nt; ti++) {
        struct bg_table *t = &tables[ti];
        bool first = true;
        rc = buf_puts(&b, ti ? "," : "");
        if (rc == 0) {
            rc = ddb_json_string(&b, t->name, strlen(t->name));
        }
        if (rc == 0) {
            rc = buf_puts(&b, ":[");
        }
        for (k = 0; rc == 0 && stop_t == (size_t)-1 && k < t->n; k++) {
            MDB_val mk = { lkeys[at + k].len, lkeys[at + k].b }, mv;
            struct ddb_item_view view;
            uint32_t sz;
            int grc = mdb_get(txn, d->items, &mk, &mv);
            double per = t->consistent ? 1.0 : 0.5;

            if (grc == MDB_NOTFOUND) {
                units[ti] += per;
                continue;
            }
            if (grc) {
                rc = grc;
                break;
            }
            sz = ddb_item_open(mv.mv_data, mv.mv_size, &view) == 0 ? view.size : 0;
            if (bytes + sz > BATCH_GET_BYTES) {
                /* The answer is full: this key and all after it are unprocessed. */
                stop_t = ti;
                stop_k = k;
                break;
            }
            bytes += sz;
            units[ti] += (double)(sz == 0 ? 1 : (sz + 4095) / 4096) * per;
            rc = buf_puts(&b, first ? "" : ",");
            first = false;
            if (rc == 0 && t->ex.proj) {
                buf_reset(&pb);
                rc = ddb_proj_apply(t->ex.proj, mv.mv_data, mv.mv_size, &pb);
                if (rc == 0) {
                    rc = ddb_item_write_json(pb.p, pb.len, NULL, 0, &b);
                }
            }
            else if (rc == 0) {
                rc = ddb_item_write_json(mv.mv_data, mv.mv_size, t->names, t->n_names, &b);
            }
        }
        at += t->n;
        if (rc == 0) {
            rc = buf_puts(&b, "]");
        }
    }
    store_read_end(d->st, txn);
    buf_release(&pb);
    if (rc == 0) {
        rc = buf_puts(&b, "},\"UnprocessedKeys\":{");
    }
    for (size_t ti = stop_t; rc == 0 && stop_t != (size_t)-1 && ti < nt; ti++) {
        rc = unprocessed_append(&b, &tables[ti], ti == stop_t ? stop_k : 0, ti == stop_t);
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    if (rc == 0 && rcc && strcmp(rcc, "NONE") != 0) {
        rc = buf_puts(&b, ",\"ConsumedCapacity\":[");
        for (size_t ti = 0; rc == 0 && ti < nt; ti++) {
            rc = cc_entry(&b, ti == 0, tables[ti].name, units[ti], strcmp(rcc, "INDEXES") == 0);
        }
        if (rc == 0) {
            rc = buf_puts(&b, "]");
        }
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    return reply_buf_or_reply(r, &b, rc);
}

/* ---- BatchWriteItem ---- */

struct bw {
    struct ddb_tx tx;           /* first: r->op_ctx points at it */
    const char *rcc;
    bool ricm;
    const char **tables;        /* the request's tables, in order */
    size_t nt;
};

static int bw_cont(struct http_req *r)
{
    struct bw *w = r->op_ctx;
    struct ddb_tx *tx = &w->tx;
    struct buf b;
    MDB_txn *txn = NULL;
    int rc = ddb__tx_outcome_or_reply(r, tx);

    if (rc != 0) {
        return rc < 0 ? -1 : 0;
    }
    buf_init(&b, 16 * 1024 * 1024);
    rc = buf_puts(&b, "{\"UnprocessedItems\":{}");
    if (rc == 0 && w->rcc && strcmp(w->rcc, "NONE") != 0) {
        rc = buf_puts(&b, ",\"ConsumedCapacity\":[");
        for (size_t t = 0; rc == 0 && t < w->nt; t++) {
            double units = 0;
            for (size_t i = 0; i < tx->n; i++) {
                const struct ddb_tx_action *a = &tx->a[i];
                if (strcmp(a->table, w->tables[t]) == 0) {
                    uint32_t m = a->kind == DDB_TX_DELETE ? a->wr.old_size
                                 : a->wr.new_size > a->wr.old_size ? a->wr.new_size
                                                                   : a->wr.old_size;
                    units += m == 0 ? 1.0 : (double)((m + 1023) / 1024);
                }
            }
            rc = cc_entry(&b, t == 0, w->tables[t], units, strcmp(w->rcc, "INDEXES") == 0);
        }
        if (rc == 0) {
            rc = buf_puts(&b, "]");
        }
    }
    if (rc == 0 && w->ricm) {
        bool any = false;
        for (size_t i = 0; i < tx->n; i++) {
            any = any || tx->a[i].has_lsi;
        }
        if (any && (rc = store_read_begin(tx->d->st, &txn)) == 0) {
            static const char name[] = "\"ItemCollectionMetrics\":";
            size_t nt = 0;
            rc = buf_puts(&b, ",\"ItemCollectionMetrics\":{");
            for (size_t t = 0; rc == 0 && t < w->nt; t++) {
                struct ddb_schema s;
                bool first = true;
                if (ddb__schema_get(tx->d, txn, w->tables[t], &s) != 0 || !s.has_lsi) {
                    continue;
                }
                for (size_t i = 0; rc == 0 && i < tx->n; i++) {
                    const struct ddb_tx_action *a = &tx->a[i];
                    size_t at;
                    if (strcmp(a->table, w->tables[t]) != 0) {
                        continue;
                    }
                    if (first) {
                        rc = buf_puts(&b, nt++ ? "," : "");
                        if (rc == 0) {
                            rc = ddb_json_string(&b, a->table, strlen(a->table));
                        }
                        if (rc == 0) {
                            rc = buf_puts(&b, ":[");
                        }
                        first = false;
                    }
                    else {
                        rc = buf_puts(&b, ",");
                    }
                    at = b.len;
                    if (rc == 0) {
                        rc = ddb__collection_metrics_append(&b, &s, a->item, a->item_len,
                                                            a->wr.collection_size);
                    }
                    if (rc == 0) {
                        /* The member's text without its name is the list's entry. */
                        memmove(b.p + at, b.p + at + sizeof name - 1,
                                b.len - at - (sizeof name - 1));
                        b.len -= sizeof name - 1;
                        b.p[b.len] = '\0';
                    }
                }
                if (rc == 0 && !first) {
                    rc = buf_puts(&b, "]");
                }
            }
            if (rc == 0) {
                rc = buf_puts(&b, "}");
            }
            store_read_end(tx->d->st, txn);
        }
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    return reply_buf_or_reply(r, &b, rc);
}

/* BatchWriteItem: every put and delete in one writer op. Returns 0 when queued (bw_cont()
 * then answers) or -1 with the error set. */
int ddb_batch_write_item(struct http_req *r)
{
    const json_t *in = r->json;
    const json_t *ri = json_object_get(in, "RequestItems");
    struct ddb_verr ve = { 0 };
    const char *name;
    const json_t *list;
    size_t total = 0, i, nt = 0;
    struct bw *w;
    struct ddb_tx *tx;

    if (ddb__type_or_reply(r, ri, DDB_J_MAP) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ReturnConsumedCapacity"), DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ReturnItemCollectionMetrics"),
                           DDB_J_STRING) < 0) {
        return -1;
    }
    json_object_foreach((json_t *)ri, name, list)
    {
        const json_t *wr;
        if (ddb__type_or_reply(r, list, DDB_J_LIST) < 0) {
            return -1;
        }
        if (json_array_size(list) > BATCH_WRITE_MAX) {
            /* The limit bounds the work below, so it comes first. */
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "1 validation error detected: Value at 'RequestItems.%s.member' "
                                 "failed to satisfy constraint: Member must have length less "
                                 "than or equal to 25",
                                 name);
        }
        json_array_foreach(list, i, wr)
        {
            const json_t *put = json_object_get(wr, "PutRequest");
            const json_t *del = json_object_get(wr, "DeleteRequest");
            if (ddb__type_or_reply(r, wr, DDB_J_STRUCT) < 0 ||
                ddb__type_or_reply(r, put, DDB_J_STRUCT) < 0 ||
                ddb__type_or_reply(r, del, DDB_J_STRUCT) < 0 ||
                ddb__type_or_reply(r, json_object_get(put, "Item"), DDB_J_MAP) < 0 ||
                ddb__type_or_reply(r, json_object_get(del, "Key"), DDB_J_MAP) < 0) {
                return -1;
            }
        }
        total += json_array_size(list);
    }
    ddb__check_enum(&ve, json_object_get(in, "ReturnConsumedCapacity"), "returnConsumedCapacity",
                    rcc_set);
    ddb__check_enum(&ve, json_object_get(in, "ReturnItemCollectionMetrics"),
                    "returnItemCollectionMetrics", ricm_set);
    if (!present(ri)) {
        ddb__verr_add(&ve, "Value null at 'requestItems' failed to satisfy constraint: Member "
                           "must not be null");
    }
    else if (json_object_size(ri) == 0) {
        ddb__verr_add(&ve, "Value at 'RequestItems' failed to satisfy constraint: Member must "
                           "have length greater than or equal to 1");
    }
    else {
        check_table_names(&ve, ri);
    }
    json_object_foreach((json_t *)ri, name, list)
    {
        const json_t *wr;
        if (json_array_size(list) == 0) {
            ddb__verr_add(&ve,
                          "Value '{%s=[]}' at 'requestItems' failed to satisfy constraint: Map "
                          "value must satisfy constraint: [Member must have length less than or "
                          "equal to 25, Member must have length greater than or equal to 1]",
                          name);
        }
        json_array_foreach(list, i, wr)
        {
            const json_t *put = json_object_get(wr, "PutRequest");
            const json_t *del = json_object_get(wr, "DeleteRequest");
            if (present(put) && !present(json_object_get(put, "Item"))) {
                ddb__verr_add(&ve, "Value null at 'requestItems.%s.member.%zu.member.putRequest."
                                   "item' failed to satisfy constraint: Member must not be null",
                              name, i + 1);
            }
            if (present(del) && !present(json_object_get(del, "Key"))) {
                ddb__verr_add(&ve, "Value null at 'requestItems.%s.member.%zu.member."
                                   "deleteRequest.key' failed to satisfy constraint: Member must "
                                   "not be null",
                              name, i + 1);
            }
        }
    }
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    if (total > BATCH_WRITE_MAX) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Too many items requested for the BatchWriteItem call");
    }

    w = arena_new(&r->arena, struct bw);
    tx = &w->tx;
    tx->flags = DDB_TX_BATCH;
    tx->a = arena_zalloc(&r->arena, (total ? total : 1) * sizeof *tx->a);
    w->tables = arena_alloc(&r->arena, json_object_size(ri) * sizeof *w->tables);
    json_object_foreach((json_t *)ri, name, list)
    {
        const json_t *wr;
        w->tables[nt++] = name;
        json_array_foreach(list, i, wr)
        {
            const json_t *put = json_object_get(wr, "PutRequest");
            const json_t *del = json_object_get(wr, "DeleteRequest");
            struct ddb_tx_action *a = &tx->a[tx->n++];
            struct ddb_err verr;
            size_t size;

            if (present(put) == present(del)) {
                return http_req_fail(r, AWSERR_VALIDATION,
                                     "Supplied AttributeValue has more than one datatypes set, "
                                     "must contain exactly one of the supported datatypes");
            }
            a->kind = present(put) ? DDB_TX_PUT : DDB_TX_DELETE;
            a->table = name;
            if (encode_or_reply(r, present(put) ? json_object_get(put, "Item")
                                                : json_object_get(del, "Key"),
                                &a->item, &a->item_len, &size, &verr) < 0) {
                return -1;
            }
            if (verr.kind != DDB_ERR_NONE) {
                return ddb__attr_fail_or_reply(r, &verr);
            }
            a->item_size = (uint32_t)size;
        }
    }
    w->nt = nt;
    w->rcc = json_string_value(json_object_get(in, "ReturnConsumedCapacity"));
    w->ricm = json_is_string(json_object_get(in, "ReturnItemCollectionMetrics")) &&
              strcmp(json_string_value(json_object_get(in, "ReturnItemCollectionMetrics")),
                     "SIZE") == 0;
    if (ddb__tx_prepare_or_reply(r, tx) < 0) {
        return -1;
    }
    return ddb__tx_submit_or_reply(r, tx, bw_cont);
}
