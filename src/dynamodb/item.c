/*
 * item.c: the DynamoDB item operations PutItem, GetItem, DeleteItem and UpdateItem.
 *
 * What it is: request validation in DynamoDB's order and words (types, then member
 * constraints, then which members go together, then attribute values, then the expressions,
 * then the table and its key), GetItem in a read transaction with the answer written straight
 * from the stored bytes (or from its projection), and the writes as writer ops that re-read
 * the table's schema in the write transaction, evaluate the condition on the stored item,
 * change the item, its table's counters and its stream in one nested transaction, and resume
 * the request.
 *
 * PutItem and GetItem in the form SDKs send them (no expressions, no legacy members) are
 * read from the body with the arena reader (core/jdoc.h, plain_members()); every other
 * request, and any doubt, goes through jansson and the checks below.
 *
 * What it is not: the expression language (expr_*.c) and the expression members' own checks
 * (item_expr.c).
 *
 * A write's life (struct write_op):
 *   handler (HTTP thread): validate, encode, parse the expressions, read the schema, build
 *     the key, submit
 *   apply (writer): the change (ddb__change_apply(): schema again, -ESTALE when the table
 *     was replaced by one of the same name since the handler read it; old item, condition,
 *     the update, the item to answer with, the write), then ItemCollectionMetrics
 *   done (writer): wake stream readers when a record was appended; resume the request
 *   cont (HTTP thread): answer; on -ESTALE run the handler again against the new table
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

static const char content_type[] = "application/x-amz-json-1.0";

/* ReturnConsumedCapacity. */
enum rcc {
    RCC_NONE = 0,
    RCC_TOTAL,
    RCC_INDEXES,
};

static const char *const rcc_set[] = { "INDEXES", "TOTAL", "NONE", NULL };
static const char *const rv_set[] = { "ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE",
                                      "UPDATED_NEW", NULL };
static const char *const ricm_set[] = { "SIZE", "NONE", NULL };
static const char *const cop_set[] = { "OR", "AND", NULL };
static const char *const rvoccf_set[] = { "ALL_OLD", "NONE", NULL };

static enum rcc rcc_of(const char *s)
{
    if (s && strcmp(s, "TOTAL") == 0) {
        return RCC_TOTAL;
    }
    return s && strcmp(s, "INDEXES") == 0 ? RCC_INDEXES : RCC_NONE;
}

/* The request's members checked for JSON type, in one table. */
struct member {
    const char *name;
    enum ddb_jtype type;
};

static int types_or_reply(struct http_req *r, const struct member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ddb__type_or_reply(r, json_object_get(r->json, m[i].name), m[i].type) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Encodes the item or key map tree into a buffer owned by r's arena. Returns 0, or -1 with
 * verr filled (*out then NULL). */
static int encode_tree(struct http_req *r, const struct jd *map, const char **out, size_t *len,
                       size_t *size, struct ddb_err *verr)
{
    struct buf b;
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_item_encode_jd(map, &r->arena, &b, size, verr) < 0) {
        buf_release(&b);
        return -1;
    }
    *out = buf_detach(&b, len);
    arena_on_clear(&r->arena, ddb__free_cb, (void *)*out);
    return 0;
}

/* Reads the schema of the request's table in txn, or fails r (ResourceNotFoundException). */
static int schema_or_reply(struct http_req *r, MDB_txn *txn, const char *table,
                           struct ddb_schema *s)
{
    int rc = ddb__schema_get(ddb__of(r), txn, table, s);
    if (rc == -ENOENT) {
        /* The data plane's wording: no table name, unlike DescribeTable's. */
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found");
    }
    if (rc) {
        log_error("dynamodb", "reading the schema of %s: %s", table, store_strerror(rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    return 0;
}

/* ---- answers ---- */

static int cc_append(struct buf *b, enum rcc rcc, const char *table, double units)
{
    if (rcc == RCC_INDEXES) {
        return buf_printf(b,
                          "\"ConsumedCapacity\":{\"TableName\":\"%s\",\"CapacityUnits\":%.1f,"
                          "\"Table\":{\"CapacityUnits\":%.1f}}",
                          table, units, units);
    }
    return buf_printf(b, "\"ConsumedCapacity\":{\"TableName\":\"%s\",\"CapacityUnits\":%.1f}",
                      table, units);
}

/*
 * Answers {"<member>":<item>,"ConsumedCapacity":...,<extra>} with any part left out: item
 * NULL leaves the item out, RCC_NONE the capacity, extra NULL the last (members as JSON text,
 * "ItemCollectionMetrics":{...}). The item bytes are borrowed for the call (they may be in a
 * read transaction's map). Returns 0 or -1 with an error set.
 */
static int reply_or_reply(struct http_req *r, const char *member, const void *item, size_t n,
                          const struct sl_str *only, size_t n_only, enum rcc rcc,
                          const char *table, double units, const char *extra)
{
    struct buf b;
    char *text;
    size_t len;
    int rc = 0;

    buf_init(&b, 4 * DDB_ITEM_ENC_MAX);
    /* One allocation for most answers: the JSON of an item is rarely twice its encoding. */
    if (buf_reserve(&b, 2 * n + 256)) {
        buf_reset(&b);
    }
    rc = buf_append(&b, "{", 1);
    if (rc == 0 && item) {
        rc = buf_append(&b, "\"", 1);
        if (rc == 0) {
            rc = buf_puts(&b, member);
        }
        if (rc == 0) {
            rc = buf_append(&b, "\":", 2);
        }
        if (rc == 0) {
            rc = ddb_item_write_json(item, n, only, n_only, &b);
        }
    }
    if (rc == 0 && rcc != RCC_NONE) {
        rc = item ? buf_append(&b, ",", 1) : 0;
        if (rc == 0) {
            rc = cc_append(&b, rcc, table, units);
        }
    }
    if (rc == 0 && extra) {
        rc = b.len > 1 ? buf_append(&b, ",", 1) : 0;
        if (rc == 0) {
            rc = buf_puts(&b, extra);
        }
    }
    if (rc == 0) {
        rc = buf_append(&b, "}", 1);
    }
    if (rc < 0) {
        buf_release(&b);
        log_error("dynamodb", "writing an item's JSON: %s", store_strerror(rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    text = buf_detach(&b, &len);
    arena_on_clear(&r->arena, ddb__free_cb, text);
    return http_reply(r, 200, content_type, text, len);
}

/* Write capacity units: one per KB of the larger of the old and new item, at least one. */
static double write_units(uint32_t a, uint32_t b)
{
    uint32_t m = a > b ? a : b;
    return m == 0 ? 1.0 : (double)((m + 1023) / 1024);
}

/* ---- writes ---- */

/* ReturnValues. */
static enum ddb_change_ret rv_of(const char *s)
{
    static const char *const names[] = { "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW",
                                         "UPDATED_NEW" };
    for (int i = 0; s && i < 5; i++) {
        if (strcmp(s, names[i]) == 0) {
            return (enum ddb_change_ret)i;
        }
    }
    return DDB_RET_NONE;
}

struct write_op {
    struct store_op base;
    struct ddb *d;
    struct http_req *r;
    int (*handler)(struct http_req *r);     /* run again on -ESTALE */
    /* The change (its kind, table, key, item, condition, update and answer), and what it
     * did, set by apply afresh on each run. ch.item is PutItem's item or the Key. */
    struct ddb_change ch;
    struct ddb_key key;
    struct ddb_req_expr ex;                 /* the condition and the update, from r's arena */
    enum rcc rcc;
    bool ricm;                              /* ReturnItemCollectionMetrics SIZE */
    char *metrics;                          /* ricm: "ItemCollectionMetrics":{...} (malloc,
                                               freed with r), set by apply */
};

int ddb__map_encode_or_reply(struct http_req *r, const json_t *map, const char **out,
                             size_t *len, size_t *size, struct ddb_err *verr)
{
    verr->kind = DDB_ERR_NONE;
    *out = NULL;
    *len = 0;
    *size = 0;
    if (ddb__present(map) &&
        encode_tree(r, jd_of_json(map, &r->arena), out, len, size, verr) < 0 &&
        verr->kind == DDB_ERR_SERIALIZATION) {
        return ddb__attr_fail_or_reply(r, verr);
    }
    return 0;
}

/* ReturnItemCollectionMetrics SIZE on a table with local secondary indexes: the answer's
 * member, while the schema is at hand. */
static int keep_metrics(struct write_op *w, const struct ddb_schema *s)
{
    struct buf b;
    size_t len;
    if (!w->ricm || !s->has_lsi) {
        return 0;
    }
    buf_init(&b, 64 * 1024);
    if (ddb__collection_metrics_append(&b, s, w->ch.item, w->ch.item_len,
                                       w->ch.wr.collection_size) < 0) {
        buf_release(&b);
        return -E2BIG;
    }
    w->metrics = buf_detach(&b, &len);
    return 0;
}

static int write_apply(struct store_op *op, MDB_txn *txn)
{
    struct write_op *w = (struct write_op *)op;
    struct ddb_schema s;
    int rc;

    free(w->metrics);
    w->metrics = NULL;
    rc = ddb__change_apply(w->d, txn, &w->ch, &s);
    return rc ? rc : keep_metrics(w, &s);
}

static void write_done(struct store_op *op, int rc)
{
    struct write_op *w = (struct write_op *)op;
    if (rc == 0 && w->ch.wr.appended) {
        strm_notify(w->d->streams);
    }
    http_req_resume(w->r);
}

static const char *op_name(const struct write_op *w)
{
    return w->ch.kind == DDB_CHANGE_PUT      ? "PutItem"
           : w->ch.kind == DDB_CHANGE_DELETE ? "DeleteItem"
                                             : "UpdateItem";
}

static int write_cont(struct http_req *r)
{
    struct write_op *w = r->op_ctx;

    if (w->ch.ret_item) {
        arena_on_clear(&r->arena, ddb__free_cb, w->ch.ret_item);
    }
    if (w->metrics) {
        arena_on_clear(&r->arena, ddb__free_cb, w->metrics);
    }
    if (w->base.rc == -ESTALE) {
        /* The table was deleted and created again since the key was built: start over. */
        w->ch.ret_item = NULL;
        w->metrics = NULL;
        return w->handler(r);
    }
    if (w->base.rc) {
        return ddb__change_fail_or_reply(r, w->base.rc, &w->ch, op_name(w));
    }
    return reply_or_reply(r, "Attributes", w->ch.ret_item, w->ch.ret_len, NULL, 0, w->rcc,
                          w->ch.table,
                          write_units(w->ch.kind == DDB_CHANGE_DELETE ? 0 : w->ch.wr.new_size,
                                      w->ch.wr.old_size),
                          w->metrics);
}

static int submit_or_reply(struct http_req *r, struct write_op *w)
{
    w->base.apply = write_apply;
    w->base.done = write_done;
    w->d = ddb__of(r);
    w->r = r;
    return ddb__submit_or_reply(r, &w->base, write_cont);
}

/*
 * The members PutItem, DeleteItem and UpdateItem share, checked in DynamoDB's order: JSON
 * types, member constraints, which members go together, the item's values, then the
 * expressions. map_member is "Item" or "Key". Fills w's change (but its key, item and
 * table id), rcc, ricm and ex, and the encoded map. Returns 0 or -1 with the error set.
 */
static int write_request_or_reply(struct http_req *r, const char *map_member,
                                  const char *map_path, struct write_op *w, const char **enc,
                                  size_t *enc_len)
{
    const struct member types[] = {
        { "TableName", DDB_J_STRING },
        { map_member, DDB_J_MAP },
        { "AttributeUpdates", DDB_J_MAP },
        { "Expected", DDB_J_MAP },
        { "ConditionalOperator", DDB_J_STRING },
        { "ReturnValues", DDB_J_STRING },
        { "ReturnConsumedCapacity", DDB_J_STRING },
        { "ReturnItemCollectionMetrics", DDB_J_STRING },
        { "UpdateExpression", DDB_J_STRING },
        { "ConditionExpression", DDB_J_STRING },
        { "ExpressionAttributeNames", DDB_J_MAP },
        { "ExpressionAttributeValues", DDB_J_MAP },
        { "ReturnValuesOnConditionCheckFailure", DDB_J_STRING },
    };
    const json_t *in = r->json;
    const json_t *map = json_object_get(in, map_member);
    const char *rv = json_string_value(json_object_get(in, "ReturnValues"));
    const char *rvoccf = json_string_value(json_object_get(in, "ReturnValuesOnConditionCheckFailure"));
    bool update = w->ch.kind == DDB_CHANGE_UPDATE;
    unsigned flags = DDB_REQ_CONDITION | (update ? DDB_REQ_UPDATE : 0);
    struct ddb_verr ve = { 0 };
    struct ddb_err verr;
    size_t size;

    /* AttributeUpdates and UpdateExpression are UpdateItem's alone: PutItem and DeleteItem
     * ignore them, as DynamoDB ignores members an operation does not have. */
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        bool update_only = strcmp(types[i].name, "AttributeUpdates") == 0 ||
                           strcmp(types[i].name, "UpdateExpression") == 0;
        if ((!update_only || update) &&
            ddb__type_or_reply(r, json_object_get(r->json, types[i].name), types[i].type) < 0) {
            return -1;
        }
    }
    bool exprs = ddb__expr_members(r, flags);

    if (ddb__map_encode_or_reply(r, map, enc, enc_len, &size, &verr) < 0 ||
        (exprs && ddb__expr_types_or_reply(r, flags) < 0)) {
        return -1;
    }
    ddb__check_enum(&ve, json_object_get(in, "ReturnConsumedCapacity"), "returnConsumedCapacity",
                    rcc_set);
    ddb__check_table_name(&ve, json_object_get(in, "TableName"), "tableName");
    if (!map || json_is_null(map)) {
        ddb__verr_add(&ve, "Value null at '%s' failed to satisfy constraint: Member must not be "
                           "null",
                      map_path);
    }
    ddb__check_enum(&ve, json_object_get(in, "ReturnValues"), "returnValues", rv_set);
    ddb__check_enum(&ve, json_object_get(in, "ReturnItemCollectionMetrics"),
                    "returnItemCollectionMetrics", ricm_set);
    ddb__check_enum(&ve, json_object_get(in, "ConditionalOperator"), "conditionalOperator",
                    cop_set);
    ddb__check_enum(&ve, json_object_get(in, "ReturnValuesOnConditionCheckFailure"),
                    "returnValuesOnConditionCheckFailure", rvoccf_set);
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    if (!update && rv && strcmp(rv, "NONE") != 0 && strcmp(rv, "ALL_OLD") != 0) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: ReturnValues can only be ALL_OLD or "
                             "NONE");
    }
    if (exprs && ddb__expr_params_or_reply(r, flags) < 0) {
        return -1;
    }
    if (verr.kind != DDB_ERR_NONE) {
        return ddb__attr_fail_or_reply(r, &verr);
    }
    if (exprs && ddb__expr_parse_or_reply(r, flags, &w->ex) < 0) {
        return -1;
    }
    w->ch.table = json_string_value(json_object_get(in, "TableName"));
    w->ch.key = &w->key;
    w->ch.cond = w->ex.cond;
    w->ch.update = w->ex.update;
    w->ch.ret = rv_of(rv);
    w->ch.flags = rvoccf && strcmp(rvoccf, "ALL_OLD") == 0 ? DDB_CHANGE_RVOCCF : 0;
    w->rcc = rcc_of(json_string_value(json_object_get(in, "ReturnConsumedCapacity")));
    w->ricm = json_is_string(json_object_get(in, "ReturnItemCollectionMetrics")) &&
              strcmp(json_string_value(json_object_get(in, "ReturnItemCollectionMetrics")),
                     "SIZE") == 0;
    return 0;
}

/* Reads the table's schema and builds the key of the encoded item or Key map into w. */
static int key_or_reply(struct http_req *r, struct write_op *w, const char *enc, size_t enc_len,
                        bool key_map)
{
    struct ddb *d = ddb__of(r);
    struct ddb_schema s;
    struct ddb_key_err kerr;
    MDB_txn *txn = NULL;
    int rc = store_read_begin(d->st, &txn);

    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    rc = schema_or_reply(r, txn, w->ch.table, &s);
    if (rc == 0) {
        w->ch.table_id = s.id;
        rc = ddb__key_of(&s, enc, enc_len, key_map, &w->key, &kerr);
        if (rc < 0) {
            ddb__key_fail_or_reply(r, &kerr);
        }
    }
    if (rc == 0 && w->ch.kind == DDB_CHANGE_UPDATE) {
        rc = ddb__update_key_or_reply(r, &s, w->ex.update);
    }
    if (rc == 0 && w->ch.kind == DDB_CHANGE_PUT && s.n_index) {
        /* An index key of the wrong type is a validation error, before the condition. */
        struct ddb_write wr;
        rc = ddb__index_keys_check(&s, enc, enc_len, &wr);
        if (rc) {
            rc = rc == DDB_WRITE_INDEX_KEY ? ddb__write_fail_or_reply(r, rc, &wr)
                                           : http_req_fail(r, AWSERR_INTERNAL, NULL);
        }
    }
    store_read_end(d->st, txn);
    return rc;
}

/* True when v is absent, or a string of set. */
static bool plain_enum(const struct jd *v, const char *const *set)
{
    if (!v) {
        return true;
    }
    for (size_t i = 0; v->type == JD_STRING && set[i]; i++) {
        if (strcmp(v->s, set[i]) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * The common forms of PutItem and GetItem, as SDKs send them, are read without jansson (a
 * jansson tree of a 300-byte item is some sixty allocations and most of the request's CPU).
 * A plain request has only the members named (n of them, names[0] "TableName"), each once,
 * and a string TableName DynamoDB takes; slot[i] receives member names[i], or NULL. Returns
 * false for any other request, right or wrong, which the caller then reads with jansson
 * through the general path, so that each error is found, and worded, in one place.
 */
static bool plain_members(struct http_req *r, const char *const *names, const struct jd **slot,
                          size_t n)
{
    /* Each level of an attribute value is two of JSON (the value, its L or M); deeper is
     * refused by the encoder after jansson has read it. */
    const struct jd *in = jd_parse(r->body.p, r->body.len, 2 * DDB_DEPTH_MAX + 4, &r->arena);
    const struct jd *m;
    size_t i;

    if (!jd_is(in, JD_OBJECT) || in->len > n || !jd_names_unique(in, &r->arena)) {
        return false;
    }
    memset(slot, 0, n * sizeof *slot);
    jd_foreach(in, m)
    {
        for (i = 0; i < n && strcmp(m->key, names[i]) != 0; i++) {
        }
        if (i == n) {
            return false;
        }
        slot[i] = m;
    }
    return jd_is(slot[0], JD_STRING) && ddb__table_name_ok(slot[0]->s);
}

/* PutItem with at most ReturnValues (NONE or ALL_OLD), ReturnConsumedCapacity and
 * ReturnItemCollectionMetrics besides, all valid, and an item that encodes: fills w as
 * write_request_or_reply() does, and the encoded item. */
static bool put_plain(struct http_req *r, struct write_op *w, const char **enc, size_t *len)
{
    static const char *const names[] = { "TableName", "Item", "ReturnValues",
                                         "ReturnConsumedCapacity",
                                         "ReturnItemCollectionMetrics" };
    static const char *const rv_put[] = { "NONE", "ALL_OLD", NULL };
    const struct jd *m[5];
    struct ddb_err verr;
    size_t size;

    if (!plain_members(r, names, m, 5) || !jd_is(m[1], JD_OBJECT) || !plain_enum(m[2], rv_put) ||
        !plain_enum(m[3], rcc_set) || !plain_enum(m[4], ricm_set) ||
        encode_tree(r, m[1], enc, len, &size, &verr) < 0) {
        return false;
    }
    w->ch.table = m[0]->s;
    w->ch.key = &w->key;
    w->ch.ret = rv_of(m[2] ? m[2]->s : NULL);
    w->rcc = rcc_of(m[3] ? m[3]->s : NULL);
    w->ricm = m[4] && strcmp(m[4]->s, "SIZE") == 0;
    return true;
}

/* PutItem, DeleteItem or UpdateItem (kind), handler run again on -ESTALE. Returns 0 when
 * queued (write_cont() then answers) or -1 with the error set. */
static int write_or_reply(struct http_req *r, enum ddb_change_kind kind,
                          int (*handler)(struct http_req *r))
{
    struct write_op *w = arena_new(&r->arena, struct write_op);
    bool put = kind == DDB_CHANGE_PUT;
    const char *enc;
    size_t len;

    w->handler = handler;
    w->ch.kind = kind;
    if (!(put && !r->json && put_plain(r, w, &enc, &len)) &&
        (http_req_json_or_reply(r) < 0 ||
         write_request_or_reply(r, put ? "Item" : "Key", put ? "item" : "key", w, &enc, &len) <
             0)) {
        return -1;
    }
    if (key_or_reply(r, w, enc, len, !put) < 0) {
        return -1;
    }
    /* DeleteItem writes no item: its key attributes are for ItemCollectionMetrics. */
    w->ch.item = enc;
    w->ch.item_len = len;
    return submit_or_reply(r, w);
}

int ddb_put_item(struct http_req *r)
{
    return write_or_reply(r, DDB_CHANGE_PUT, ddb_put_item);
}

int ddb_delete_item(struct http_req *r)
{
    return write_or_reply(r, DDB_CHANGE_DELETE, ddb_delete_item);
}

/* The update is applied in the writer's transaction to the item as it is there (the item is
 * created from its Key when missing, even with no update at all, as DynamoDB does). */
int ddb_update_item(struct http_req *r)
{
    return write_or_reply(r, DDB_CHANGE_UPDATE, ddb_update_item);
}

/* ---- GetItem ---- */

/* AttributesToGet: at least one name, no name twice. Fills names (from r's arena). */
static int attributes_to_get_or_reply(struct http_req *r, const json_t *atg,
                                      struct ddb_verr *ve, struct sl_str **names, size_t *n)
{
    size_t i;
    const json_t *e;

    *names = NULL;
    *n = 0;
    if (!atg || json_is_null(atg)) {
        return 0;
    }
    json_array_foreach(atg, i, e)
    {
        if (ddb__type_or_reply(r, e, DDB_J_STRING) < 0) {
            return -1;
        }
    }
    if (json_array_size(atg) == 0) {
        ddb__verr_add(ve, "Value '[]' at 'attributesToGet' failed to satisfy constraint: Member "
                          "must have length greater than or equal to 1");
        return 0;
    }
    *names = arena_alloc(&r->arena, json_array_size(atg) * sizeof **names);
    json_array_foreach(atg, i, e)
    {
        (*names)[i].p = json_string_value(e);
        (*names)[i].len = json_string_length(e);
    }
    *n = json_array_size(atg);
    return 0;
}

/* GetItem with a ProjectionExpression: the projected item, written from its encoding. An
 * item none of whose paths exist is answered as {"Item": {}}, as DynamoDB answers it. */
static int projected_reply_or_reply(struct http_req *r, const struct ddb_req_expr *ex,
                                    const void *item, size_t n, enum rcc rcc, const char *table,
                                    double units)
{
    struct buf b;
    int rc;
    buf_init(&b, DDB_ITEM_ENC_MAX);
    rc = ddb_proj_apply(ex->proj, item, n, &b);
    if (rc < 0) {
        buf_release(&b);
        log_error("dynamodb", "projecting an item of %s: %s", table, store_strerror(rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    rc = reply_or_reply(r, "Item", b.p, b.len, NULL, 0, rcc, table, units, NULL);
    buf_release(&b);
    return rc;
}

/* GetItem: a read transaction, the answer written from the stored bytes. */
/* A GetItem request, read. */
struct get_req {
    const char *table;
    const char *enc;        /* the encoded Key */
    size_t len;
    struct sl_str *names;   /* AttributesToGet */
    size_t n_names;
    struct ddb_req_expr ex; /* the projection */
    bool consistent;
    enum rcc rcc;
};

/* GetItem through jansson: every member, checked in DynamoDB's order. */
static int get_request_or_reply(struct http_req *r, struct get_req *g)
{
    static const struct member types[] = {
        { "TableName", DDB_J_STRING },
        { "Key", DDB_J_MAP },
        { "AttributesToGet", DDB_J_LIST },
        { "ConsistentRead", DDB_J_BOOLEAN },
        { "ReturnConsumedCapacity", DDB_J_STRING },
        { "ProjectionExpression", DDB_J_STRING },
        { "ExpressionAttributeNames", DDB_J_MAP },
    };
    const json_t *in = r->json;
    const json_t *key = json_object_get(in, "Key");
    const json_t *cr = json_object_get(in, "ConsistentRead");
    struct ddb_verr ve = { 0 };
    struct ddb_err verr;
    size_t size = 0;
    bool exprs = ddb__expr_members(r, DDB_REQ_PROJECTION);

    if (types_or_reply(r, types, sizeof types / sizeof types[0]) < 0 ||
        ddb__map_encode_or_reply(r, key, &g->enc, &g->len, &size, &verr) < 0 ||
        attributes_to_get_or_reply(r, json_object_get(in, "AttributesToGet"), &ve, &g->names,
                                   &g->n_names) < 0 ||
        (exprs && ddb__expr_types_or_reply(r, DDB_REQ_PROJECTION) < 0)) {
        return -1;
    }
    ddb__check_enum(&ve, json_object_get(in, "ReturnConsumedCapacity"), "returnConsumedCapacity",
                    rcc_set);
    if (!key || json_is_null(key)) {
        ddb__verr_add(&ve, "Value null at 'key' failed to satisfy constraint: Member must not be "
                           "null");
    }
    ddb__check_table_name(&ve, json_object_get(in, "TableName"), "tableName");
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    if (exprs && ddb__expr_params_or_reply(r, DDB_REQ_PROJECTION) < 0) {
        return -1;
    }
    if (verr.kind != DDB_ERR_NONE) {
        return ddb__attr_fail_or_reply(r, &verr);
    }
    for (size_t i = 0; i < g->n_names; i++) {
        for (size_t j = 0; j < i; j++) {
            if (sl_str_eq(g->names[i], g->names[j])) {
                return http_req_fail(r, AWSERR_VALIDATION,
                                     "One or more parameter values were invalid: Duplicate "
                                     "value in attribute name: %s",
                                     g->names[i].p);
            }
        }
    }
    g->ex.proj = NULL;
    if (exprs && ddb__expr_parse_or_reply(r, DDB_REQ_PROJECTION, &g->ex) < 0) {
        return -1;
    }
    g->table = json_string_value(json_object_get(in, "TableName"));
    g->consistent = json_is_true(cr) ||
                    (json_is_string(cr) && (strcasecmp(json_string_value(cr), "true") == 0 ||
                                            strcmp(json_string_value(cr), "1") == 0 ||
                                            strcasecmp(json_string_value(cr), "yes") == 0));
    g->rcc = rcc_of(json_string_value(json_object_get(in, "ReturnConsumedCapacity")));
    return 0;
}

/* GetItem with at most ConsistentRead (a JSON boolean) and a valid ReturnConsumedCapacity
 * besides, and a Key that encodes (see plain_members()). */
static bool get_plain(struct http_req *r, struct get_req *g)
{
    static const char *const names[] = { "TableName", "Key", "ConsistentRead",
                                         "ReturnConsumedCapacity" };
    const struct jd *m[4];
    struct ddb_err verr;
    size_t size;

    if (!plain_members(r, names, m, 4) || !jd_is(m[1], JD_OBJECT) ||
        (m[2] && m[2]->type != JD_TRUE && m[2]->type != JD_FALSE) ||
        !plain_enum(m[3], rcc_set) || encode_tree(r, m[1], &g->enc, &g->len, &size, &verr) < 0) {
        return false;
    }
    g->table = m[0]->s;
    g->consistent = jd_is(m[2], JD_TRUE);
    g->rcc = rcc_of(m[3] ? m[3]->s : NULL);
    return true;
}

int ddb_get_item(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    struct get_req g = { 0 };
    const char *table;
    struct ddb_schema s;
    struct ddb_key k;
    struct ddb_key_err kerr;
    MDB_txn *txn = NULL;
    MDB_val mk, mv;
    double units;
    int rc;

    if (!(!r->json && get_plain(r, &g)) &&
        (http_req_json_or_reply(r) < 0 || get_request_or_reply(r, &g) < 0)) {
        return -1;
    }
    table = g.table;
    rc = store_read_begin(d->st, &txn);
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    if (schema_or_reply(r, txn, table, &s) < 0) {
        store_read_end(d->st, txn);
        return -1;
    }
    if (ddb__key_of(&s, g.enc, g.len, true, &k, &kerr) < 0) {
        store_read_end(d->st, txn);
        return ddb__key_fail_or_reply(r, &kerr);
    }
    mk.mv_size = k.len;
    mk.mv_data = k.b;
    rc = mdb_get(txn, d->items, &mk, &mv);
    if (rc == MDB_NOTFOUND) {
        store_read_end(d->st, txn);
        units = g.consistent ? 1.0 : 0.5;
        return reply_or_reply(r, "Item", NULL, 0, NULL, 0, g.rcc, table, units, NULL);
    }
    if (rc == 0) {
        struct ddb_item_view v;
        uint32_t sz = ddb_item_open(mv.mv_data, mv.mv_size, &v) == 0 ? v.size : 0;
        /* One read unit per 4 KB, half of one for an eventually consistent read. */
        units = (double)(sz == 0 ? 1 : (sz + 4095) / 4096) * (g.consistent ? 1.0 : 0.5);
        if (g.ex.proj) {
            rc = projected_reply_or_reply(r, &g.ex, mv.mv_data, mv.mv_size, g.rcc, table, units);
        }
        else {
            rc = reply_or_reply(r, "Item", mv.mv_data, mv.mv_size, g.names, g.n_names, g.rcc,
                                table, units, NULL);
        }
        store_read_end(d->st, txn);
        return rc;
    }
    store_read_end(d->st, txn);
    log_error("dynamodb", "GetItem on %s: %s", table, store_strerror(rc));
    return http_req_fail(r, AWSERR_INTERNAL, NULL);
}
