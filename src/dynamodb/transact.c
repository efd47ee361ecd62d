/*
 * transact.c: TransactWriteItems and TransactGetItems.
 *
 * What it is: the two requests parsed and validated in DynamoDB's order (JSON types, then the
 * member constraints, then each action's members, values and expressions), TransactWriteItems
 * handed to the transaction core (txn.c) and answered from what it did, TransactGetItems read
 * in one read transaction, a consistent snapshot of every item it names.
 *
 * What it is not: the all-or-nothing write itself, the idempotency tokens and the
 * cancellation reasons (txn.c).
 *
 * The members of each action are those of PutItem, UpdateItem, DeleteItem and GetItem, so
 * the expression stages of item_expr.c check them: they read the request's members from
 * r->json, which points at the action's object for the duration of those calls (with_json()).
 */
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

static const char content_type[] = "application/x-amz-json-1.0";
static const char *const rcc_set[] = { "INDEXES", "TOTAL", "NONE", NULL };
static const char *const ricm_set[] = { "SIZE", "NONE", NULL };
static const char *const rvoccf_set[] = { "ALL_OLD", "NONE", NULL };

#define TOKEN_MAX 36

/* The four actions of a TransactWriteItem, with their members' names as DynamoDB's messages
 * spell them. */
static const struct {
    const char *member;         /* "ConditionCheck" */
    const char *path;           /* "conditionCheck" */
    enum ddb_tx_kind kind;
    const char *map;            /* "Key" or "Item" */
    const char *map_path;
    unsigned flags;             /* the expression kinds it has */
} actions[] = {
    { "ConditionCheck", "conditionCheck", DDB_TX_CHECK, "Key", "key", DDB_REQ_CONDITION },
    { "Delete", "delete", DDB_TX_DELETE, "Key", "key", DDB_REQ_CONDITION },
    { "Put", "put", DDB_TX_PUT, "Item", "item", DDB_REQ_CONDITION },
    { "Update", "update", DDB_TX_UPDATE, "Key", "key", DDB_REQ_CONDITION | DDB_REQ_UPDATE },
};

#define N_ACTIONS (sizeof actions / sizeof actions[0])

/* The item_expr.c stages on an action's object (see the file comment). */
static int with_json(struct http_req *r, const json_t *obj, unsigned flags, int stage,
                     struct ddb_req_expr *ex)
{
    json_t *saved = r->json;
    int rc;

    r->json = (json_t *)obj;
    if (!ddb__expr_members(r, flags)) {
        rc = 0;
        if (ex) {
            ex->cond = NULL;
            ex->update = NULL;
            ex->proj = NULL;
        }
    }
    else if (stage == 0) {
        rc = ddb__expr_types_or_reply(r, flags);
    }
    else if (stage == 1) {
        rc = ddb__expr_params_or_reply(r, flags);
    }
    else {
        rc = ddb__expr_parse_or_reply(r, flags, ex);
    }
    r->json = saved;
    return rc;
}

/* ---- consumed capacity ---- */

struct table_cc {
    const char *name;
    double read, write;
};

/* Adds units to the entry of table (tables in order of first appearance; at most n). */
static void cc_add(struct table_cc *cc, size_t *n, const char *table, double read, double write)
{
    size_t i;
    for (i = 0; i < *n && strcmp(cc[i].name, table) != 0; i++) {
    }
    if (i == *n) {
        cc[i].name = table;
        cc[i].read = cc[i].write = 0;
        (*n)++;
    }
    cc[i].read += read;
    cc[i].write += write;
}

/* "ConsumedCapacity":[...] for a transaction: every unit counts twice, as DynamoDB bills a
 * transactional read or write. indexes: the Table member too (no index is read). */
static int cc_append(struct buf *b, const struct table_cc *cc, size_t n, bool indexes)
{
    int rc = buf_puts(b, "\"ConsumedCapacity\":[");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double total = cc[i].read + cc[i].write;
        rc = buf_printf(b, "%s{\"TableName\":", i ? "," : "");
        if (rc == 0) {
            rc = ddb_json_string(b, cc[i].name, strlen(cc[i].name));
        }
        if (rc == 0) {
            rc = buf_printf(b, ",\"CapacityUnits\":%.1f", total);
        }
        if (rc == 0 && cc[i].read > 0) {
            rc = buf_printf(b, ",\"ReadCapacityUnits\":%.1f", cc[i].read);
        }
        if (rc == 0 && cc[i].write > 0) {
            rc = buf_printf(b, ",\"WriteCapacityUnits\":%.1f", cc[i].write);
        }
        if (rc == 0 && indexes) {
            rc = buf_printf(b, ",\"Table\":{\"CapacityUnits\":%.1f}", total);
        }
        if (rc == 0) {
            rc = buf_puts(b, "}");
        }
    }
    return rc ? rc : buf_puts(b, "]");
}

static double read_units(uint32_t size)
{
    return size == 0 ? 1.0 : (double)((size + 4095) / 4096);
}

static double write_units(uint32_t a, uint32_t b)
{
    uint32_t m = a > b ? a : b;
    return m == 0 ? 1.0 : (double)((m + 1023) / 1024);
}

static int reply_buf_or_reply(struct http_req *r, struct buf *b, int rc)
{
    char *text;
    size_t len;
    if (rc < 0) {
        buf_release(b);
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    text = buf_detach(b, &len);
    arena_on_clear(&r->arena, ddb__free_cb, text);
    return http_reply(r, 200, content_type, text, len);
}

/* ---- TransactWriteItems ---- */

struct twi {
    struct ddb_tx tx;           /* first: r->op_ctx points at it */
    const char *rcc;
    bool ricm;
};

/* "ItemCollectionMetrics":{"<table>":[{...}, ...]}: one entry per changed item of a table
 * with local secondary indexes, in request order. */
static int metrics_append(struct buf *b, const struct ddb_tx *tx, const struct table_cc *cc,
                          size_t ncc)
{
    static const char name[] = "\"ItemCollectionMetrics\":";
    MDB_txn *txn = NULL;
    int rc = store_read_begin(tx->d->st, &txn);

    if (rc == 0) {
        rc = buf_puts(b, b->len > 1 ? ",\"ItemCollectionMetrics\":{"
                                    : "\"ItemCollectionMetrics\":{");
    }
    for (size_t k = 0, nt = 0; rc == 0 && k < ncc; k++) {
        struct ddb_schema s;
        bool first = true;
        if (ddb__schema_get(tx->d, txn, cc[k].name, &s) != 0 || !s.has_lsi) {
            continue;
        }
        for (size_t i = 0; rc == 0 && i < tx->n; i++) {
            const struct ddb_tx_action *a = &tx->a[i];
            size_t at;
            if (a->kind == DDB_TX_CHECK || strcmp(a->table, cc[k].name) != 0) {
                continue;
            }
            if (first) {
                rc = buf_puts(b, nt++ ? "," : "");
                if (rc == 0) {
                    rc = ddb_json_string(b, a->table, strlen(a->table));
                }
                if (rc == 0) {
                    rc = buf_puts(b, ":[");
                }
                first = false;
            }
            else {
                rc = buf_puts(b, ",");
            }
            /* The member's text without its name is the list's entry. */
            at = b->len;
            if (rc == 0) {
                rc = ddb__collection_metrics_append(b, &s, a->item, a->item_len,
                                                    a->wr.collection_size);
            }
            if (rc == 0) {
                memmove(b->p + at, b->p + at + sizeof name - 1, b->len - at - (sizeof name - 1));
                b->len -= sizeof name - 1;
                b->p[b->len] = '\0';
            }
        }
        if (rc == 0 && !first) {
            rc = buf_puts(b, "]");
        }
    }
    if (rc == 0) {
        rc = buf_puts(b, "}");
    }
    if (txn) {
        store_read_end(tx->d->st, txn);
    }
    return rc;
}

static int twi_cont(struct http_req *r)
{
    struct twi *t = r->op_ctx;
    struct ddb_tx *tx = &t->tx;
    struct table_cc cc[DDB_TX_MAX];
    size_t ncc = 0;
    struct buf b;
    bool any_metrics = false;
    int rc = ddb__tx_outcome_or_reply(r, tx);

    if (rc != 0) {
        return rc < 0 ? -1 : 0;
    }
    for (size_t i = 0; i < tx->n; i++) {
        const struct ddb_tx_action *a = &tx->a[i];
        if (tx->replayed) {
            /* A replay reads what the first request wrote. */
            cc_add(cc, &ncc, a->table, 2.0, 0);
        }
        else if (a->kind == DDB_TX_CHECK) {
            cc_add(cc, &ncc, a->table, 2.0 * read_units(a->old_size), 0);
        }
        else {
            cc_add(cc, &ncc, a->table, 0,
                   2.0 * write_units(a->kind == DDB_TX_DELETE ? 0 : a->wr.new_size,
                                     a->wr.old_size));
        }
        any_metrics = any_metrics || (a->has_lsi && a->kind != DDB_TX_CHECK);
    }
    buf_init(&b, 16 * 1024 * 1024);
    rc = buf_puts(&b, "{");
    if (rc == 0 && t->rcc && strcmp(t->rcc, "NONE") != 0) {
        rc = cc_append(&b, cc, ncc, strcmp(t->rcc, "INDEXES") == 0);
    }
    if (rc == 0 && t->ricm && any_metrics && !tx->replayed) {
        rc = metrics_append(&b, tx, cc, ncc);
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    return reply_buf_or_reply(r, &b, rc);
}

/* The JSON types of one action's members (SerializationException). */
static int action_types_or_reply(struct http_req *r, const json_t *act, size_t k)
{
    static const struct {
        const char *name;
        enum ddb_jtype type;
    } types[] = {
        { "TableName", DDB_J_STRING },
        { "Key", DDB_J_MAP },
        { "Item", DDB_J_MAP },
        { "ConditionExpression", DDB_J_STRING },
        { "UpdateExpression", DDB_J_STRING },
        { "ExpressionAttributeNames", DDB_J_MAP },
        { "ExpressionAttributeValues", DDB_J_MAP },
        { "ReturnValuesOnConditionCheckFailure", DDB_J_STRING },
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (ddb__type_or_reply(r, json_object_get(act, types[i].name), types[i].type) < 0) {
            return -1;
        }
    }
    return with_json(r, act, actions[k].flags, 0, NULL);
}

/* The constraints of one action's members, named from "transactItems.<i>.member.<path>". */
static void action_constraints(struct ddb_verr *ve, const json_t *act, size_t k, size_t i)
{
    char at[96];
    snprintf(at, sizeof at, "transactItems.%zu.member.%s", i + 1, actions[k].path);
    if (!ddb__present(json_object_get(act, actions[k].map))) {
        ddb__verr_add(ve, "Value null at '%s.%s' failed to satisfy constraint: Member must not be "
                          "null",
                      at, actions[k].map_path);
    }
    {
        char tn[160];
        snprintf(tn, sizeof tn, "%s.tableName", at);
        ddb__check_table_name(ve, json_object_get(act, "TableName"), tn);
    }
    if (actions[k].kind == DDB_TX_CHECK && !ddb__present(json_object_get(act, "ConditionExpression"))) {
        ddb__verr_add(ve, "Value null at '%s.conditionExpression' failed to satisfy constraint: "
                          "Member must not be null",
                      at);
    }
    if (actions[k].kind == DDB_TX_UPDATE && !ddb__present(json_object_get(act, "UpdateExpression"))) {
        ddb__verr_add(ve, "Value null at '%s.updateExpression' failed to satisfy constraint: "
                          "Member must not be null",
                      at);
    }
    {
        char rv[160];
        snprintf(rv, sizeof rv, "%s.returnValuesOnConditionCheckFailure", at);
        ddb__check_enum(ve, json_object_get(act, "ReturnValuesOnConditionCheckFailure"), rv,
                        rvoccf_set);
    }
}

/* Which action a TransactWriteItem holds: its index in actions[], or -1 with the error. */
static int action_of_or_reply(struct http_req *r, const json_t *ti, size_t *k)
{
    size_t found = 0;
    for (size_t j = 0; j < N_ACTIONS; j++) {
        if (ddb__present(json_object_get(ti, actions[j].member))) {
            *k = j;
            found++;
        }
    }
    if (found == 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "The action or operation requested is invalid. "
                                                   "Verify that the action is typed correctly.");
    }
    if (found > 1) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "TransactItems can only contain one of Check, Put, Update or Delete");
    }
    return 0;
}

/* The hash a ClientRequestToken is bound to: the request without the token itself and
 * without ReturnConsumedCapacity (which only shapes the answer). */
static void request_hash(const json_t *in, unsigned char out[32])
{
    json_t *o = json_object();
    char *text;
    json_object_set(o, "TransactItems", json_object_get(in, "TransactItems"));
    if (json_object_get(in, "ReturnItemCollectionMetrics")) {
        json_object_set(o, "ReturnItemCollectionMetrics",
                        json_object_get(in, "ReturnItemCollectionMetrics"));
    }
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    SHA256((const unsigned char *)(text ? text : ""), text ? strlen(text) : 0, out);
    free(text);
    json_decref(o);
}

/* TransactWriteItems. Returns 0 when queued (twi_cont() then answers) or -1 with the error
 * set. */
int ddb_transact_write_items(struct http_req *r)
{
    const json_t *in = r->json;
    const json_t *items = json_object_get(in, "TransactItems");
    const json_t *token = json_object_get(in, "ClientRequestToken");
    struct ddb_verr ve = { 0 };
    struct twi *t;
    struct ddb_tx *tx;
    size_t n, i, *kinds;
    uint64_t total = 0;
    const json_t *ti;

    if (ddb__type_or_reply(r, items, DDB_J_LIST) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ReturnConsumedCapacity"), DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ReturnItemCollectionMetrics"),
                           DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, token, DDB_J_STRING) < 0) {
        return -1;
    }
    n = json_array_size(items);
    if (n > DDB_TX_MAX) {
        /* The limit bounds the work below, so it comes first. */
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: Value at 'TransactItems' failed to "
                             "satisfy constraint: Member must have length less than or equal to "
                             "100");
    }
    kinds = arena_alloc(&r->arena, (n ? n : 1) * sizeof *kinds);
    json_array_foreach(items, i, ti)
    {
        const json_t *act;
        if (ddb__type_or_reply(r, ti, DDB_J_STRUCT) < 0) {
            return -1;
        }
        for (size_t j = 0; j < N_ACTIONS; j++) {
            if (ddb__type_or_reply(r, json_object_get(ti, actions[j].member), DDB_J_STRUCT) < 0) {
                return -1;
            }
        }
        if (action_of_or_reply(r, ti, &kinds[i]) < 0) {
            return -1;
        }
        act = json_object_get(ti, actions[kinds[i]].member);
        if (action_types_or_reply(r, act, kinds[i]) < 0) {
            return -1;
        }
    }

    ddb__check_enum(&ve, json_object_get(in, "ReturnConsumedCapacity"), "returnConsumedCapacity",
                    rcc_set);
    ddb__check_enum(&ve, json_object_get(in, "ReturnItemCollectionMetrics"),
                    "returnItemCollectionMetrics", ricm_set);
    if (!ddb__present(items)) {
        ddb__verr_add(&ve, "Value null at 'transactItems' failed to satisfy constraint: Member "
                           "must not be null");
    }
    else if (n == 0) {
        ddb__verr_add(&ve, "Value '[]' at 'transactItems' failed to satisfy constraint: Member "
                           "must have length greater than or equal to 1");
    }
    if (ddb__present(token) &&
        (json_string_length(token) < 1 || json_string_length(token) > TOKEN_MAX)) {
        ddb__verr_add(&ve,
                      "Value '%s' at 'clientRequestToken' failed to satisfy constraint: Member "
                      "must have length %s",
                      json_string_value(token),
                      json_string_length(token) < 1 ? "greater than or equal to 1"
                                                    : "less than or equal to 36");
    }
    json_array_foreach(items, i, ti)
    {
        action_constraints(&ve, json_object_get(ti, actions[kinds[i]].member), kinds[i], i);
    }
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }

    t = arena_new(&r->arena, struct twi);
    tx = &t->tx;
    tx->a = arena_zalloc(&r->arena, n * sizeof *tx->a);
    tx->n = n;
    json_array_foreach(items, i, ti)
    {
        const json_t *act = json_object_get(ti, actions[kinds[i]].member);
        struct ddb_tx_action *a = &tx->a[i];
        struct ddb_req_expr *ex = arena_alloc(&r->arena, sizeof *ex);
        const char *rvoccf = json_string_value(
            json_object_get(act, "ReturnValuesOnConditionCheckFailure"));
        struct ddb_err verr;
        size_t size;

        if (with_json(r, act, actions[kinds[i]].flags, 1, NULL) < 0 ||
            ddb__map_encode_or_reply(r, json_object_get(act, actions[kinds[i]].map), &a->item,
                            &a->item_len, &size, &verr) < 0) {
            return -1;
        }
        if (verr.kind != DDB_ERR_NONE) {
            return ddb__attr_fail_or_reply(r, &verr);
        }
        if (with_json(r, act, actions[kinds[i]].flags, 2, ex) < 0) {
            return -1;
        }
        a->kind = actions[kinds[i]].kind;
        a->table = json_string_value(json_object_get(act, "TableName"));
        a->item_size = (uint32_t)size;
        a->cond = ex->cond;
        a->update = ex->update;
        a->rvoccf = rvoccf && strcmp(rvoccf, "ALL_OLD") == 0;
        total += size;
    }
    if (total > DDB_TX_SIZE_MAX) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Transaction request cannot be larger than 4 MB");
    }
    t->rcc = json_string_value(json_object_get(in, "ReturnConsumedCapacity"));
    t->ricm = json_is_string(json_object_get(in, "ReturnItemCollectionMetrics")) &&
              strcmp(json_string_value(json_object_get(in, "ReturnItemCollectionMetrics")),
                     "SIZE") == 0;
    if (ddb__present(token)) {
        tx->token = json_string_value(token);
        request_hash(in, tx->req_hash);
    }
    if (ddb__tx_prepare_or_reply(r, tx) < 0) {
        return -1;
    }
    return ddb__tx_submit_or_reply(r, tx, twi_cont);
}

/* ---- TransactGetItems ---- */

struct tgi_get {
    const char *table;
    const char *key;
    size_t key_len;
    struct ddb_req_expr ex;
};

/* TransactGetItems: every item read in one read transaction. */
int ddb_transact_get_items(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    const json_t *in = r->json;
    const json_t *items = json_object_get(in, "TransactItems");
    const char *rcc = json_string_value(json_object_get(in, "ReturnConsumedCapacity"));
    struct ddb_verr ve = { 0 };
    struct ddb_tx tx;
    struct tgi_get *g;
    struct table_cc cc[DDB_TX_MAX];
    size_t ncc = 0, n, i;
    const json_t *ti;
    MDB_txn *txn = NULL;
    struct buf b, pb;
    uint64_t bytes = 0;
    int rc;

    if (ddb__type_or_reply(r, items, DDB_J_LIST) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ReturnConsumedCapacity"), DDB_J_STRING) < 0) {
        return -1;
    }
    n = json_array_size(items);
    if (n > DDB_TX_MAX) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: Value at 'TransactItems' failed to "
                             "satisfy constraint: Member must have length less than or equal to "
                             "100");
    }
    json_array_foreach(items, i, ti)
    {
        const json_t *get = json_object_get(ti, "Get");
        if (ddb__type_or_reply(r, ti, DDB_J_STRUCT) < 0 ||
            ddb__type_or_reply(r, get, DDB_J_STRUCT) < 0 ||
            ddb__type_or_reply(r, json_object_get(get, "TableName"), DDB_J_STRING) < 0 ||
            ddb__type_or_reply(r, json_object_get(get, "Key"), DDB_J_MAP) < 0 ||
            ddb__type_or_reply(r, json_object_get(get, "ProjectionExpression"), DDB_J_STRING) <
                0 ||
            ddb__type_or_reply(r, json_object_get(get, "ExpressionAttributeNames"), DDB_J_MAP) <
                0 ||
            (ddb__present(get) && with_json(r, get, DDB_REQ_PROJECTION, 0, NULL) < 0)) {
            return -1;
        }
    }
    ddb__check_enum(&ve, json_object_get(in, "ReturnConsumedCapacity"), "returnConsumedCapacity",
                    rcc_set);
    if (!ddb__present(items)) {
        ddb__verr_add(&ve, "Value null at 'transactItems' failed to satisfy constraint: Member "
                           "must not be null");
    }
    else if (n == 0) {
        ddb__verr_add(&ve, "Value '[]' at 'transactItems' failed to satisfy constraint: Member "
                           "must have length greater than or equal to 1");
    }
    json_array_foreach(items, i, ti)
    {
        const json_t *get = json_object_get(ti, "Get");
        char at[96];
        if (!ddb__present(get)) {
            ddb__verr_add(&ve, "Value null at 'transactItems.%zu.member.get' failed to satisfy "
                               "constraint: Member must not be null",
                          i + 1);
            continue;
        }
        if (!ddb__present(json_object_get(get, "Key"))) {
            ddb__verr_add(&ve, "Value null at 'transactItems.%zu.member.get.key' failed to "
                               "satisfy constraint: Member must not be null",
                          i + 1);
        }
        snprintf(at, sizeof at, "transactItems.%zu.member.get.tableName", i + 1);
        ddb__check_table_name(&ve, json_object_get(get, "TableName"), at);
    }
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }

    g = arena_zalloc(&r->arena, (n ? n : 1) * sizeof *g);
    memset(&tx, 0, sizeof tx);
    tx.a = arena_zalloc(&r->arena, (n ? n : 1) * sizeof *tx.a);
    tx.n = n;
    json_array_foreach(items, i, ti)
    {
        const json_t *get = json_object_get(ti, "Get");
        struct ddb_err verr;
        size_t size;
        if (with_json(r, get, DDB_REQ_PROJECTION, 1, NULL) < 0 ||
            ddb__map_encode_or_reply(r, json_object_get(get, "Key"), &g[i].key, &g[i].key_len, &size,
                            &verr) < 0) {
            return -1;
        }
        if (verr.kind != DDB_ERR_NONE) {
            return ddb__attr_fail_or_reply(r, &verr);
        }
        if (with_json(r, get, DDB_REQ_PROJECTION, 2, &g[i].ex) < 0) {
            return -1;
        }
        g[i].table = json_string_value(json_object_get(get, "TableName"));
        tx.a[i].kind = DDB_TX_CHECK;
        tx.a[i].table = g[i].table;
        tx.a[i].item = g[i].key;
        tx.a[i].item_len = g[i].key_len;
    }
    /* The tables, the keys, their rules and duplicates, as a transaction's. */
    if (ddb__tx_prepare_or_reply(r, &tx) < 0) {
        return -1;
    }

    rc = store_read_begin(d->st, &txn);
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    buf_init(&b, 64 * 1024 * 1024);
    buf_init(&pb, DDB_ITEM_ENC_MAX);
    rc = buf_puts(&b, "{\"Responses\":[");
    for (i = 0; rc == 0 && i < n; i++) {
        struct ddb_schema s;
        struct ddb_key key;
        struct ddb_key_err kerr;
        MDB_val k, v;
        int grc = ddb__schema_get(d, txn, g[i].table, &s);

        if (grc == -ENOENT) {
            rc = 1;     /* deleted since prepare */
            break;
        }
        if (grc || ddb__key_of(&s, g[i].key, g[i].key_len, true, &key, &kerr) < 0) {
            rc = -EIO;
            break;
        }
        k.mv_size = key.len;
        k.mv_data = key.b;
        grc = mdb_get(txn, d->items, &k, &v);
        rc = buf_puts(&b, i ? ",{" : "{");
        if (rc == 0 && grc == 0) {
            struct ddb_item_view view;
            uint32_t sz = ddb_item_open(v.mv_data, v.mv_size, &view) == 0 ? view.size : 0;
            bytes += sz;
            if (bytes > DDB_TX_SIZE_MAX) {
                /* "The aggregate size of the items in the transaction cannot exceed 4 MB":
                 * DynamoDB rejects the whole request. */
                rc = 2;
                break;
            }
            cc_add(cc, &ncc, g[i].table, 2.0 * read_units(sz), 0);
            rc = buf_puts(&b, "\"Item\":");
            if (rc == 0 && g[i].ex.proj) {
                buf_reset(&pb);
                rc = ddb_proj_apply(g[i].ex.proj, v.mv_data, v.mv_size, &pb);
                if (rc == 0) {
                    rc = ddb_item_write_json(pb.p, pb.len, NULL, 0, &b);
                }
            }
            else if (rc == 0) {
                rc = ddb_item_write_json(v.mv_data, v.mv_size, NULL, 0, &b);
            }
        }
        else if (rc == 0 && grc == MDB_NOTFOUND) {
            cc_add(cc, &ncc, g[i].table, 2.0, 0);
        }
        else if (rc == 0) {
            rc = grc;
        }
        if (rc == 0) {
            rc = buf_puts(&b, "}");
        }
    }
    store_read_end(d->st, txn);
    buf_release(&pb);
    if (rc == 1) {
        buf_release(&b);
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found");
    }
    if (rc == 2) {
        buf_release(&b);
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Transaction request cannot be larger than 4 MB");
    }
    if (rc == 0) {
        rc = buf_puts(&b, "]");
    }
    if (rc == 0 && rcc && strcmp(rcc, "NONE") != 0) {
        rc = buf_puts(&b, ",");
        if (rc == 0) {
            rc = cc_append(&b, cc, ncc, strcmp(rcc, "INDEXES") == 0);
        }
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    if (rc < 0) {
        log_error("dynamodb", "TransactGetItems: %s", store_strerror(rc));
    }
    return reply_buf_or_reply(r, &b, rc);
}
