/*
 * partiql_exec.c: the DynamoDB operations that run PartiQL statements: ExecuteStatement,
 * BatchExecuteStatement and ExecuteTransaction.
 *
 * What it is: request validation in DynamoDB's order (JSON types, member constraints, then
 * each statement parsed by partiql.c), then each statement prepared against its table's
 * schema and run on the paths the item operations use: a SELECT is one page of a Query (when
 * its WHERE has an equality on the hash key, as DynamoDB decides) or of a Scan, through
 * query.c; a write is the change of one item (struct ddb_change) that the item operations
 * make too: the writer reads the stored item, evaluates the rest of the WHERE as the
 * condition, applies the update and writes through ddb__item_write() (ddb__change_apply()),
 * so indexes, counters and the stream change with it.
 *
 * PartiQL's own rules on top, made the change's own by change_of(): INSERT fails with
 * DuplicateItemException when the item exists; UPDATE fails with
 * ConditionalCheckFailedException when no item matches its WHERE (the item is never created);
 * DELETE of a missing item succeeds and deletes nothing, but fails the same way when the item
 * exists and the rest of its WHERE is false ("PartiQL delete statements for DynamoDB",
 * "PartiQL update statements for DynamoDB").
 *
 * A write's life (struct pql_op): handler (HTTP thread): validate, parse, prepare (schema,
 * key, the change) -> apply (writer): per statement, the change; a batch runs each statement
 * in a transaction of its own nested in the op's -> done (writer): notify stream readers,
 * resume -> cont (HTTP thread): answer.
 * ExecuteTransaction's writes are the transaction core's actions instead (txn.c): all or
 * nothing in one op, with ClientRequestToken idempotency.
 *
 * NextToken: the page's LastEvaluatedKey as JSON after a hash of the statement it belongs
 * to, in base64; a token given with another statement is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "core/log.h"
#include "dynamodb/partiql.h"

static const char content_type[] = "application/x-amz-json-1.0";
static const char incomplete_key[] = "Where clause does not contain a mandatory equality on all "
                                     "key attributes";

static const char exists_key[] = "EXISTS() must contain a single item read with additional "
                                 "condition";
static const char exists_only_tx[] = "EXISTS can only be used in ExecuteTransaction write "
                                     "requests.";

#define BATCH_MAX 25
#define TX_MAX 100
#define TOKEN_MAX 32768

/* One statement of a request, parsed, prepared and run (from r's arena). */
struct stmt {
    struct ddb_pql q;
    const char *text;                   /* the statement (r's body) */
    size_t text_len;
    bool rvoccf;                        /* ReturnValuesOnConditionCheckFailure ALL_OLD */
    bool consistent;
    int rcc;                            /* ReturnConsumedCapacity: 0 NONE, 1 TOTAL, 2 INDEXES */
    /* prepared: an error (captured from r) or what to run */
    enum awserr err;
    const char *err_msg;
    const char *key_item;               /* INSERT: the item; else the encoded Key map */
    size_t key_item_len;
    struct ddb_key key;
    struct ddb_node *cond;              /* the WHERE beyond the key */
    struct ddb_read rd;                 /* SELECT */
    bool point;                         /* SELECT of one item by its whole key */
    /* The table's id when prepared (ch.table_id) and, for a write, the change to run; what
     * it did, set afresh by each apply (a read sets ch.wr's sizes). ch.ret_item is freed
     * with r. */
    struct ddb_change ch;
    int rc;
};

/* ---- helpers ---- */

/* Moves the error set on r into st, leaving r without one (a batch answers it per
 * statement). */
static void take_error(struct http_req *r, struct stmt *st)
{
    st->err = r->err;
    st->err_msg = r->err_msg ? r->err_msg : "";
    r->err = AWSERR_NONE;
    r->err_msg = NULL;
    r->err_json = NULL;
}

static int schema_or_reply(struct http_req *r, MDB_txn *txn, const char *table,
                           struct ddb_schema *s)
{
    int rc = ddb__schema_get(ddb__of(r), txn, table, s);
    if (rc == -ENOENT) {
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found");
    }
    if (rc) {
        log_error("dynamodb", "reading the schema of %s: %s", table, store_strerror(rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    return 0;
}

/* FNV-1a of the statement: what a NextToken is bound to. */
static uint64_t stmt_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    }
    return h;
}

static int token_write(const struct ddb_read *rd, const char *lek, size_t len, struct buf *out)
{
    const struct stmt *st = rd->ctx;
    char head[17];
    char *raw, *b64;
    size_t n;
    int rc;

    snprintf(head, sizeof head, "%016llx",
             (unsigned long long)stmt_hash(st->text, st->text_len));
    raw = xmalloc(16 + len);
    memcpy(raw, head, 16);
    memcpy(raw + 16, lek, len);
    b64 = xmalloc(4 * ((16 + len + 2) / 3) + 1);
    n = sl_base64_encode(raw, 16 + len, b64);
    rc = buf_append(out, b64, n);
    free(raw);
    free(b64);
    return rc;
}

/* The NextToken given back: the key to start after, encoded. */
static int token_read_or_reply(struct http_req *r, struct stmt *st, const json_t *tok)
{
    const char *t = json_string_value(tok);
    size_t n = json_string_length(tok);
    unsigned char *raw = arena_alloc(&r->arena, 3 * (n / 4) + 3);
    long len = sl_base64_decode((struct sl_str){ t, n }, raw, 3 * (n / 4) + 3);
    char head[17];
    json_t *lek = NULL;
    struct buf b;
    struct ddb_err err;
    size_t size, blen;
    int rc = -1;

    if (len < 16) {
        return http_req_fail(r, AWSERR_VALIDATION, "Invalid NextToken");
    }
    snprintf(head, sizeof head, "%016llx",
             (unsigned long long)stmt_hash(st->text, st->text_len));
    if (memcmp(head, raw, 16) != 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "NextToken does not match request");
    }
    lek = json_loadb((const char *)raw + 16, (size_t)len - 16, 0, NULL);
    if (!json_is_object(lek)) {
        json_decref(lek);
        return http_req_fail(r, AWSERR_VALIDATION, "Invalid NextToken");
    }
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_item_encode(lek, &r->arena, &b, &size, &err) < 0) {
        rc = http_req_fail(r, AWSERR_VALIDATION, "Invalid NextToken");
    }
    else {
        st->rd.esk = buf_detach(&b, &blen);
        st->rd.esk_len = blen;
        arena_on_clear(&r->arena, ddb__free_cb, (void *)st->rd.esk);
        rc = 0;
    }
    buf_release(&b);
    json_decref(lek);
    return rc;
}

/* ---- preparing a statement against its table ---- */

/* A copy in r's arena of a name borrowed from a read transaction, for after it ends. */
static struct sl_str dup(struct http_req *r, struct sl_str s)
{
    return (struct sl_str){ arena_strndup(&r->arena, s.p ? s.p : "", s.len), s.len };
}

/* The encoded Key map of the split's key values. */
static int key_map_or_reply(struct http_req *r, const struct ddb_schema *s,
                            const struct ddb_pql_split *sp, const char **out, size_t *len)
{
    json_t *m = json_object(), *h = ddb_pql_key_json(&sp->hash_v);
    json_t *k = s->range.len ? ddb_pql_key_json(&sp->range_v) : NULL;
    struct buf b;
    struct ddb_err err;
    size_t size;
    int rc = 0;

    if (!h || (s->range.len && !k)) {
        struct ddb_key_err kerr = { .why = DDB_KEY_TYPE };
        bool hash_bad = !h;
        snprintf(kerr.attr, sizeof kerr.attr, "%.*s",
                 (int)(hash_bad ? s->hash.len : s->range.len),
                 hash_bad ? s->hash.p : s->range.p);
        kerr.expected = hash_bad ? s->hash_type : s->range_type;
        kerr.actual = hash_bad ? sp->hash_v.type : sp->range_v.type;
        json_decref(h);
        json_decref(k);
        json_decref(m);
        return ddb__key_fail_or_reply(r, &kerr);
    }
    json_object_set_new(m, arena_strndup(&r->arena, s->hash.p, s->hash.len), h);
    if (k) {
        json_object_set_new(m, arena_strndup(&r->arena, s->range.p, s->range.len), k);
    }
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_item_encode(m, &r->arena, &b, &size, &err) < 0) {
        rc = ddb__attr_fail_or_reply(r, &err);
    }
    else {
        *out = buf_detach(&b, len);
        arena_on_clear(&r->arena, ddb__free_cb, (void *)*out);
    }
    buf_release(&b);
    json_decref(m);
    return rc;
}

/* A SELECT: Query or Scan, the ORDER BY rules, and whether it reads one item by its key. */
static int prepare_select_or_reply(struct http_req *r, const struct ddb_schema *s,
                                   struct stmt *st)
{
    const struct ddb_pql *q = &st->q;
    const struct ddb_index *ix = NULL;
    struct sl_str hash = dup(r, s->hash), range = dup(r, s->range);
    struct ddb_pql_split sp;

    if (q->index) {
        ix = ddb__index_find(s, sl_str_c(q->index));
        if (!ix) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "The table does not have the specified index: %s", q->index);
        }
        hash = dup(r, ix->hash);
        range = dup(r, ix->range);
    }
    ddb_pql_split(&r->arena, q->where, hash, range, true, &sp);
    if (q->n_order) {
        if (!q->where) {
            return http_req_fail(r, AWSERR_VALIDATION, "Must have WHERE clause in the statement "
                                                       "when using ORDER BY clause.");
        }
        if (!sp.has_hash) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "Must have at least one non-optional hash key condition in "
                                 "WHERE clause when using ORDER BY clause.");
        }
    }
    for (size_t i = 0; i < q->n_order; i++) {
        const struct ddb_pql_order *o = &q->order[i];
        if (!sl_str_eq(o->attr, hash) && !(range.len && sl_str_eq(o->attr, range))) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "Variable reference %.*s in ORDER BY clause must be part of "
                                 "the primary key",
                                 (int)o->attr.len, o->attr.p);
        }
        if (range.len && sl_str_eq(o->attr, range)) {
            st->rd.backward = o->desc;
        }
    }
    st->rd.table = q->table;
    st->rd.index = q->index ? sl_str_c(q->index) : (struct sl_str){ NULL, 0 };
    st->rd.proj = q->proj;
    st->rd.token = token_write;
    st->rd.ctx = st;
    st->rd.consistent = st->consistent;
    if (sp.has_hash) {
        st->rd.scan = false;
        st->rd.kc = sp.kc;
        st->rd.filter = sp.rest;
        st->point = !ix && (!range.len || sp.has_range_eq);
        if (st->point) {
            struct ddb_key_err kerr;
            st->cond = sp.rest;
            if (key_map_or_reply(r, s, &sp, &st->key_item, &st->key_item_len) < 0) {
                return -1;
            }
            if (ddb__key_of(s, st->key_item, st->key_item_len, true, &st->key, &kerr) < 0) {
                return ddb__key_fail_or_reply(r, &kerr);
            }
        }
    }
    else {
        st->rd.scan = true;
        st->rd.filter = q->where;
    }
    return 0;
}

/* f(attr) for the conditions the PartiQL rules add: attribute_exists or _not_exists. */
static struct ddb_node *exists_node(struct arena *a, struct sl_str attr, bool exists)
{
    struct ddb_node *p = arena_new(a, struct ddb_node);
    struct ddb_node *f = arena_new(a, struct ddb_node);
    p->kind = DDB_N_PATH;
    p->path.n = 1;
    p->path.e = arena_new(a, struct ddb_path_elem);
    p->path.e[0].name = attr;
    f->kind = DDB_N_FUNC;
    f->op = exists ? DDB_F_ATTRIBUTE_EXISTS : DDB_F_ATTRIBUTE_NOT_EXISTS;
    f->text = exists ? (struct sl_str){ "attribute_exists", 16 }
                     : (struct sl_str){ "attribute_not_exists", 20 };
    f->nargs = 1;
    f->args = arena_alloc(a, sizeof *f->args);
    f->args[0] = p;
    return f;
}

static struct ddb_node *join(struct arena *a, enum ddb_node_kind k, struct ddb_node *x,
                             struct ddb_node *y)
{
    struct ddb_node *n;
    if (!y) {
        return x;
    }
    n = arena_new(a, struct ddb_node);
    n->kind = k;
    n->nargs = 2;
    n->args = arena_alloc(a, 2 * sizeof *n->args);
    n->args[0] = x;
    n->args[1] = y;
    return n;
}

/* A write statement's change, with PartiQL's rules as its own: INSERT needs the item absent,
 * UPDATE and EXISTS need it present and the rest of the WHERE true (conditions), DELETE of a
 * missing item does nothing. hash is the table's hash key (r's arena). */
static void change_of(struct http_req *r, struct stmt *st, struct sl_str hash)
{
    struct arena *ar = &r->arena;
    struct ddb_change *c = &st->ch;

    c->table = st->q.table;
    c->key = &st->key;
    c->item = st->key_item;
    c->item_len = st->key_item_len;
    c->update = st->q.update;
    c->ret = (enum ddb_change_ret)st->q.returning;
    c->flags = DDB_CHANGE_REKEY | (st->rvoccf ? DDB_CHANGE_RVOCCF : 0);
    switch (st->q.kind) {
    case DDB_PQL_INSERT:
        c->kind = DDB_CHANGE_PUT;
        c->flags |= DDB_CHANGE_ABSENT;
        break;
    case DDB_PQL_UPDATE:
        c->kind = DDB_CHANGE_UPDATE;
        c->cond = join(ar, DDB_N_AND, exists_node(ar, hash, true), st->cond);
        break;
    case DDB_PQL_DELETE:
        c->kind = DDB_CHANGE_DELETE;
        c->cond = st->cond ? join(ar, DDB_N_OR, exists_node(ar, hash, false), st->cond) : NULL;
        break;
    default:
        c->kind = DDB_CHANGE_CHECK;
        c->cond = join(ar, DDB_N_AND, exists_node(ar, hash, true), st->cond);
        break;
    }
}

/* Reads the statement's table in txn and makes it ready to run: its key, its condition.
 * Returns 0 or -1 with the error set on r. */
static int prepare_or_reply(struct http_req *r, MDB_txn *txn, struct stmt *st)
{
    struct ddb_schema s;
    struct ddb_key_err kerr;
    struct ddb_pql_split sp;
    const struct ddb_pql *q = &st->q;
    struct sl_str hash;

    if (schema_or_reply(r, txn, q->table, &s) < 0) {
        return -1;
    }
    st->ch.table_id = s.id;
    hash = dup(r, s.hash);
    if (q->kind == DDB_PQL_SELECT) {
        return prepare_select_or_reply(r, &s, st);
    }
    if (q->kind == DDB_PQL_INSERT) {
        struct ddb_write wr;
        int rc;
        st->key_item = q->item;
        st->key_item_len = q->item_len;
        if (ddb__key_of(&s, q->item, q->item_len, false, &st->key, &kerr) < 0) {
            return ddb__key_fail_or_reply(r, &kerr);
        }
        rc = s.n_index ? ddb__index_keys_check(&s, q->item, q->item_len, &wr) : 0;
        if (rc) {
            return rc == DDB_WRITE_INDEX_KEY ? ddb__write_fail_or_reply(r, rc, &wr)
                                             : http_req_fail(r, AWSERR_INTERNAL, NULL);
        }
        change_of(r, st, hash);
        return 0;
    }
    ddb_pql_split(&r->arena, q->where, hash, dup(r, s.range), false, &sp);
    if (!sp.has_hash || (s.range.len && !sp.has_range_eq)) {
        return http_req_fail(r, AWSERR_VALIDATION, "%s",
                             q->kind == DDB_PQL_EXISTS ? exists_key : incomplete_key);
    }
    st->cond = sp.rest;
    if (key_map_or_reply(r, &s, &sp, &st->key_item, &st->key_item_len) < 0) {
        return -1;
    }
    if (ddb__key_of(&s, st->key_item, st->key_item_len, true, &st->key, &kerr) < 0) {
        return ddb__key_fail_or_reply(r, &kerr);
    }
    if (q->kind == DDB_PQL_UPDATE && ddb__update_key_or_reply(r, &s, q->update) < 0) {
        return -1;
    }
    change_of(r, st, hash);
    return 0;
}

/* ---- the writer ---- */

enum op_mode {
    MODE_ONE = 0,
    MODE_BATCH,
};

struct pql_op {
    struct store_op base;
    struct ddb *d;
    struct http_req *r;
    int (*handler)(struct http_req *r);
    enum op_mode mode;
    struct stmt **st;
    size_t n;
    int rcc;                            /* ReturnConsumedCapacity: 0 NONE, 1 TOTAL, 2 INDEXES */
};

/* Runs one write statement in txn: ddb__change_apply()'s codes, -ESTALE only when the table
 * was replaced by one its key no longer fits. Writer thread. */
static int apply_one(struct ddb *d, MDB_txn *txn, struct stmt *st)
{
    struct ddb_schema s;
    return ddb__change_apply(d, txn, &st->ch, &s);
}

static int op_apply(struct store_op *base, MDB_txn *txn)
{
    struct pql_op *op = (struct pql_op *)base;
    int rc;

    store_assert_writer(op->d->st);
    for (size_t i = 0; i < op->n; i++) {
        struct stmt *st = op->st[i];
        MDB_txn *child = NULL;
        if (st->err != AWSERR_NONE) {
            continue;
        }
        if (op->mode != MODE_BATCH) {
            rc = apply_one(op->d, txn, st);
            st->rc = rc;
            if (rc) {
                return rc;
            }
            continue;
        }
        /* A batch: each statement stands or falls alone. */
        rc = mdb_txn_begin(mdb_txn_env(txn), txn, 0, &child);
        if (rc) {
            return rc;
        }
        rc = apply_one(op->d, child, st);
        if (rc == 0) {
            rc = mdb_txn_commit(child);
        }
        else {
            mdb_txn_abort(child);
        }
        if (rc == MDB_MAP_FULL) {
            return rc;
        }
        st->rc = rc;
    }
    return 0;
}

static void op_done(struct store_op *base, int rc)
{
    struct pql_op *op = (struct pql_op *)base;
    bool appended = false;
    for (size_t i = 0; rc == 0 && i < op->n; i++) {
        appended = appended || (op->st[i]->rc == 0 && op->st[i]->ch.wr.appended);
    }
    if (appended) {
        strm_notify(op->d->streams);
    }
    http_req_resume(op->r);
}

/* Sets on r the error of a statement's run (st->rc), as ExecuteStatement answers it. */
static int run_error_or_reply(struct http_req *r, struct stmt *st, int rc)
{
    if (rc == -ESTALE) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "The provided key element does not match the schema");
    }
    return ddb__change_fail_or_reply(r, rc, &st->ch, "PartiQL write");
}

static int reply_text_or_reply(struct http_req *r, struct buf *b, int rc)
{
    char *text;
    size_t len;
    if (rc < 0) {
        buf_release(b);
        log_error("dynamodb", "writing a PartiQL answer: %s", store_strerror(rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    text = buf_detach(b, &len);
    arena_on_clear(&r->arena, ddb__free_cb, text);
    return http_reply(r, 200, content_type, text, len);
}

static void free_rets(struct http_req *r, struct pql_op *op)
{
    for (size_t i = 0; i < op->n; i++) {
        if (op->st[i]->ch.ret_item) {
            arena_on_clear(&r->arena, ddb__free_cb, op->st[i]->ch.ret_item);
        }
    }
}

static int one_cont(struct http_req *r)
{
    struct pql_op *op = r->op_ctx;
    struct stmt *st = op->st[0];
    struct buf b;
    int rc;

    free_rets(r, op);
    if (op->base.rc == -ESTALE) {
        for (size_t i = 0; i < op->n; i++) {
            op->st[i]->ch.ret_item = NULL;
        }
        return op->handler(r);
    }
    if (op->base.rc) {
        return run_error_or_reply(r, st, op->base.rc);
    }
    buf_init(&b, 4 * DDB_ITEM_ENC_MAX);
    rc = buf_puts(&b, "{\"Items\":[");
    if (rc == 0 && st->ch.ret_item) {
        rc = ddb_item_write_json(st->ch.ret_item, st->ch.ret_len, NULL, 0, &b);
    }
    if (rc == 0) {
        rc = buf_puts(&b, "]");
    }
    if (rc == 0 && st->rcc) {
        /* One write unit per KB of the larger of the old and new item, at least one. */
        const struct ddb_write *wr = &st->ch.wr;
        uint32_t m = wr->old_size > wr->new_size ? wr->old_size : wr->new_size;
        double units = m == 0 ? 1.0 : (double)((m + 1023) / 1024);
        rc = buf_puts(&b, ",\"ConsumedCapacity\":{\"TableName\":");
        if (rc == 0) {
            rc = ddb_json_string(&b, st->q.table, strlen(st->q.table));
        }
        if (rc == 0) {
            rc = buf_printf(&b, ",\"CapacityUnits\":%.1f", units);
        }
        if (rc == 0 && st->rcc == 2) {
            rc = buf_printf(&b, ",\"Table\":{\"CapacityUnits\":%.1f}", units);
        }
        if (rc == 0) {
            rc = buf_puts(&b, "}");
        }
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    return reply_text_or_reply(r, &b, rc);
}

static int submit_or_reply(struct http_req *r, struct pql_op *op, int (*cont)(struct http_req *r))
{
    op->base.apply = op_apply;
    op->base.done = op_done;
    op->d = ddb__of(r);
    op->r = r;
    return ddb__submit_or_reply(r, &op->base, cont);
}

/* ---- request members ---- */

/* The JSON types of one statement's members (a request or a batch entry). */
static int stmt_types_or_reply(struct http_req *r, const json_t *in, bool batch)
{
    const json_t *params = json_object_get(in, "Parameters");
    size_t i;
    const json_t *e;
    struct ddb_err err;

    if (batch && ddb__type_or_reply(r, in, DDB_J_STRUCT) < 0) {
        return -1;
    }
    if (ddb__type_or_reply(r, json_object_get(in, "Statement"), DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, params, DDB_J_LIST) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ConsistentRead"), DDB_J_BOOLEAN) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ReturnValuesOnConditionCheckFailure"),
                           DDB_J_STRING) < 0) {
        return -1;
    }
    json_array_foreach(params, i, e)
    {
        if (ddb_value_types(e, &r->arena, &err) < 0) {
            return ddb__attr_fail_or_reply(r, &err);
        }
    }
    return 0;
}

/* One statement's member constraints, named from at ("statement",
 * "statements.1.member.statement"). */
static void stmt_constraints(struct ddb_verr *ve, const json_t *in, const char *at)
{
    static const char *const rvoccf[] = { "ALL_OLD", "NONE", NULL };
    const json_t *s = json_object_get(in, "Statement");
    const json_t *params = json_object_get(in, "Parameters");
    char path[128];

    snprintf(path, sizeof path, "%sstatement", at);
    if (!ddb__present(s)) {
        ddb__verr_add(ve, "Value null at '%s' failed to satisfy constraint: Member must not be "
                          "null",
                      path);
    }
    else if (json_string_length(s) < 1) {
        ddb__verr_add(ve, "Value '' at '%s' failed to satisfy constraint: Member must have "
                          "length greater than or equal to 1",
                      path);
    }
    else if (json_string_length(s) > DDB_PQL_MAX_LEN) {
        ddb__verr_add(ve, "Value '%.64s...' at '%s' failed to satisfy constraint: Member must "
                          "have length less than or equal to %d",
                      json_string_value(s), path, DDB_PQL_MAX_LEN);
    }
    snprintf(path, sizeof path, "%sparameters", at);
    if (ddb__present(params) && json_array_size(params) == 0) {
        ddb__verr_add(ve, "Value '[]' at '%s' failed to satisfy constraint: Member must have "
                          "length greater than or equal to 1",
                      path);
    }
    snprintf(path, sizeof path, "%sreturnValuesOnConditionCheckFailure", at);
    ddb__check_enum(ve, json_object_get(in, "ReturnValuesOnConditionCheckFailure"), path,
                    rvoccf);
}

/* The statement list of BatchExecuteStatement and ExecuteTransaction (member name, at most
 * max): each statement's member types (a SerializationException at once, -1), then the
 * list's length and each statement's constraints, collected into ve. Returns 0 or -1. */
static int statements_check_or_reply(struct http_req *r, struct ddb_verr *ve, const json_t *list,
                                     const char *member, size_t max)
{
    size_t i, n = json_array_size(list);
    json_t *e;

    json_array_foreach(list, i, e)
    {
        if (stmt_types_or_reply(r, e, true) < 0) {
            return -1;
        }
    }
    if (!ddb__present(list)) {
        ddb__verr_add(ve, "Value null at '%s' failed to satisfy constraint: Member must not be "
                          "null",
                      member);
    }
    else if (n < 1) {
        ddb__verr_add(ve, "Value '[]' at '%s' failed to satisfy constraint: Member must have "
                          "length greater than or equal to 1",
                      member);
    }
    else if (n > max) {
        ddb__verr_add(ve, "Value '[...]' at '%s' failed to satisfy constraint: Member must have "
                          "length less than or equal to %zu",
                      member, max);
    }
    json_array_foreach(list, i, e)
    {
        char at[64];
        if (ve->n || i >= max) {
            break;
        }
        snprintf(at, sizeof at, "%s.%zu.member.", member, i + 1);
        stmt_constraints(ve, e, at);
    }
    return 0;
}

static int rcc_of(const json_t *v)
{
    const char *s = json_string_value(v);
    return s && strcmp(s, "TOTAL") == 0 ? 1 : s && strcmp(s, "INDEXES") == 0 ? 2 : 0;
}

/* Parses the statement of in into a new struct stmt. A parse error is set on r. */
static int parse_or_reply(struct http_req *r, const json_t *in, struct stmt **out)
{
    struct stmt *st = arena_new(&r->arena, struct stmt);
    const json_t *s = json_object_get(in, "Statement");
    const json_t *params = json_object_get(in, "Parameters");
    const char *rvoccf =
        json_string_value(json_object_get(in, "ReturnValuesOnConditionCheckFailure"));
    struct ddb_err err;

    *out = st;
    st->text = json_string_value(s);
    st->text_len = json_string_length(s);
    st->rvoccf = rvoccf && strcmp(rvoccf, "ALL_OLD") == 0;
    st->consistent = json_is_true(json_object_get(in, "ConsistentRead"));
    if (ddb_pql_parse(&r->arena, st->text, st->text_len, ddb__present(params) ? params : NULL, &st->q,
                      &err) < 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "%s", err.msg);
    }
    return 0;
}

/* ---- ExecuteStatement ---- */

int ddb_execute_statement(struct http_req *r)
{
    static const char *const rccs[] = { "INDEXES", "TOTAL", "NONE", NULL };
    struct ddb *d = ddb__of(r);
    const json_t *in = r->json;
    const json_t *tok = json_object_get(in, "NextToken");
    const json_t *limit = json_object_get(in, "Limit");
    struct ddb_verr ve = { 0 };
    struct stmt *st;
    struct pql_op *op;
    MDB_txn *txn = NULL;
    int rc;

    if (stmt_types_or_reply(r, in, false) < 0 ||
        ddb__type_or_reply(r, tok, DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, limit, DDB_J_INTEGER) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ReturnConsumedCapacity"), DDB_J_STRING) <
            0) {
        return -1;
    }
    stmt_constraints(&ve, in, "");
    ddb__check_enum(&ve, json_object_get(in, "ReturnConsumedCapacity"),
                    "returnConsumedCapacity", rccs);
    if (ddb__present(tok) && (json_string_length(tok) < 1 || json_string_length(tok) > TOKEN_MAX)) {
        ddb__verr_add(&ve, "Value at 'nextToken' failed to satisfy constraint: Member must have "
                           "length %s",
                      json_string_length(tok) < 1 ? "greater than or equal to 1"
                                                  : "less than or equal to 32768");
    }
    if (ddb__present(limit) && json_integer_value(limit) < 1) {
        ddb__verr_add(&ve, "Value '%lld' at 'limit' failed to satisfy constraint: Member must "
                           "have value greater than or equal to 1",
                      (long long)json_integer_value(limit));
    }
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    if (parse_or_reply(r, in, &st) < 0) {
        return -1;
    }
    st->rcc = rcc_of(json_object_get(in, "ReturnConsumedCapacity"));
    if (st->q.kind == DDB_PQL_EXISTS) {
        return http_req_fail(r, AWSERR_VALIDATION, "%s", exists_only_tx);
    }
    if (ddb__present(tok) && st->q.kind != DDB_PQL_SELECT) {
        return http_req_fail(r, AWSERR_VALIDATION, "Invalid NextToken");
    }
    rc = store_read_begin(d->st, &txn);
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    rc = prepare_or_reply(r, txn, st);
    store_read_end(d->st, txn);
    if (rc < 0) {
        return -1;
    }
    if (st->q.kind == DDB_PQL_SELECT) {
        if (ddb__present(tok) && token_read_or_reply(r, st, tok) < 0) {
            return -1;
        }
        if (ddb__present(limit)) {
            json_int_t l = json_integer_value(limit);
            st->rd.limit = l > UINT32_MAX ? UINT32_MAX : (uint32_t)l;
        }
        st->rd.rcc = st->rcc;
        return ddb__read_or_reply(r, &st->rd);
    }
    op = arena_new(&r->arena, struct pql_op);
    op->handler = ddb_execute_statement;
    op->mode = MODE_ONE;
    op->st = arena_alloc(&r->arena, sizeof *op->st);
    op->st[0] = st;
    op->n = 1;
    return submit_or_reply(r, op, one_cont);
}

/* ---- BatchExecuteStatement ---- */

/* ,"ConsumedCapacity":[...]: one entry per table, in the order the statements name them,
 * for the statements that succeeded (reads and EXISTS: one unit per 4 KB of the item, half
 * when eventually consistent; writes: one per KB of the larger of the old and new item),
 * times factor (2 in transactions, as DynamoDB charges them). */
static int capacity_append(struct buf *b, struct stmt **sts, size_t n, int rcc, bool reads,
                           double factor)
{
    bool first = true;
    int rc = 0;

    if (!rcc) {
        return 0;
    }
    rc = buf_puts(b, ",\"ConsumedCapacity\":[");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double units = 0;
        bool seen = false;
        if (sts[i]->err != AWSERR_NONE || sts[i]->rc != 0) {
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            seen = seen || (sts[j]->err == AWSERR_NONE && sts[j]->rc == 0 &&
                            strcmp(sts[j]->q.table, sts[i]->q.table) == 0);
        }
        if (seen) {
            continue;
        }
        for (size_t j = i; j < n; j++) {
            const struct stmt *st = sts[j];
            uint32_t m;
            if (st->err != AWSERR_NONE || st->rc != 0 || strcmp(st->q.table, sts[i]->q.table)) {
                continue;
            }
            m = st->ch.wr.old_size > st->ch.wr.new_size ? st->ch.wr.old_size
                                                        : st->ch.wr.new_size;
            if (reads || st->q.kind == DDB_PQL_EXISTS) {
                units += factor * (double)(m == 0 ? 1 : (m + 4095) / 4096) *
                         (st->consistent ? 1.0 : 0.5);
            }
            else {
                units += factor * (m == 0 ? 1.0 : (double)((m + 1023) / 1024));
            }
        }
        rc = buf_puts(b, first ? "{\"TableName\":" : ",{\"TableName\":");
        first = false;
        if (rc == 0) {
            rc = ddb_json_string(b, sts[i]->q.table, strlen(sts[i]->q.table));
        }
        if (rc == 0) {
            rc = buf_printf(b, ",\"CapacityUnits\":%.1f", units);
        }
        if (rc == 0 && rcc == 2) {
            rc = buf_printf(b, ",\"Table\":{\"CapacityUnits\":%.1f}", units);
        }
        if (rc == 0) {
            rc = buf_puts(b, "}");
        }
    }
    return rc ? rc : buf_puts(b, "]");
}

static const char *batch_code(enum awserr e)
{
    switch (e) {
    case AWSERR_RESOURCE_NOT_FOUND:
        return "ResourceNotFound";
    case AWSERR_CONDITIONAL_CHECK_FAILED:
        return "ConditionalCheckFailed";
    case AWSERR_DUPLICATE_ITEM:
        return "DuplicateItem";
    case AWSERR_ITEM_COLLECTION_SIZE:
        return "ItemCollectionSizeLimitExceeded";
    case AWSERR_INTERNAL:
        return "InternalServerError";
    default:
        return "ValidationError";
    }
}

/* {"Error":{"Code":...,"Message":...[,"Item":...]}} */
static int error_append(struct buf *b, const struct stmt *st)
{
    int rc = buf_printf(b, "{\"Error\":{\"Code\":\"%s\",\"Message\":", batch_code(st->err));
    if (rc == 0) {
        rc = ddb_json_string(b, st->err_msg, strlen(st->err_msg));
    }
    if (rc == 0 && st->err == AWSERR_CONDITIONAL_CHECK_FAILED && st->ch.ret_item) {
        rc = buf_puts(b, ",\"Item\":");
        if (rc == 0) {
            rc = ddb_item_write_json(st->ch.ret_item, st->ch.ret_len, NULL, 0, b);
        }
    }
    return rc ? rc : buf_puts(b, "}}");
}

static int table_append(struct buf *b, const struct stmt *st)
{
    int rc = buf_puts(b, "{\"TableName\":");
    return rc ? rc : ddb_json_string(b, st->q.table, strlen(st->q.table));
}

/* A batch read: one item by its key, filtered by the rest of the WHERE and projected.
 * Appends its response. */
static int point_get_append(struct http_req *r, MDB_txn *txn, struct stmt *st, struct buf *b)
{
    struct ddb *d = ddb__of(r);
    MDB_val k = { st->key.len, st->key.b }, v;
    struct buf pb;
    int rc = mdb_get(txn, d->items, &k, &v);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    if (rc == 0) {
        struct ddb_item_view iv;
        st->ch.wr.old_size = ddb_item_open(v.mv_data, v.mv_size, &iv) == 0 ? iv.size : 0;
    }
    rc = rc == 0 && st->cond ? ddb_cond_eval(st->cond, v.mv_data, v.mv_size) : rc == 0;
    if (rc < 0) {
        return -EIO;
    }
    if (table_append(b, st) < 0) {
        return -E2BIG;
    }
    if (rc == 1) {
        if (buf_puts(b, ",\"Item\":") < 0) {
            return -E2BIG;
        }
        if (st->q.proj) {
            buf_init(&pb, DDB_ITEM_ENC_MAX);
            rc = ddb_proj_apply(st->q.proj, v.mv_data, v.mv_size, &pb);
            if (rc == 0) {
                rc = ddb_item_write_json(pb.p, pb.len, NULL, 0, b);
            }
            buf_release(&pb);
        }
        else {
            rc = ddb_item_write_json(v.mv_data, v.mv_size, NULL, 0, b);
        }
        if (rc < 0) {
            return rc;
        }
    }
    return buf_puts(b, "}");
}

/* Do two prepared statements name the same item? */
static bool same_item(const struct stmt *a, const struct stmt *b)
{
    return a->ch.table_id == b->ch.table_id && a->key.len == b->key.len &&
           memcmp(a->key.b, b->key.b, a->key.len) == 0;
}

static int batch_reads_or_reply(struct http_req *r, struct stmt **sts, size_t n, int rcc)
{
    struct ddb *d = ddb__of(r);
    MDB_txn *txn = NULL;
    struct buf b;
    int rc = store_read_begin(d->st, &txn);

    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        struct stmt *st = sts[i];
        if (st->err != AWSERR_NONE) {
            continue;
        }
        if (prepare_or_reply(r, txn, st) < 0) {
            take_error(r, st);
        }
        else if (!st->point) {
            st->err = AWSERR_VALIDATION;
            st->err_msg = st->q.index ? "This operation is not supported on an index"
                                      : incomplete_key;
        }
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i && sts[i]->err == AWSERR_NONE; j++) {
            if (sts[j]->err == AWSERR_NONE && same_item(sts[i], sts[j])) {
                store_read_end(d->st, txn);
                return http_req_fail(r, AWSERR_VALIDATION, "Provided list of item keys contains "
                                                           "duplicates");
            }
        }
    }
    buf_init(&b, 64u * 1024 * 1024);
    rc = buf_puts(&b, "{\"Responses\":[");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct stmt *st = sts[i];
        if (i > 0) {
            rc = buf_puts(&b, ",");
        }
        if (rc == 0) {
            rc = st->err != AWSERR_NONE ? error_append(&b, st) : point_get_append(r, txn, st, &b);
        }
    }
    if (rc == 0) {
        rc = buf_puts(&b, "]");
    }
    if (rc == 0) {
        rc = capacity_append(&b, sts, n, rcc, true, 1.0);
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    store_read_end(d->st, txn);
    return reply_text_or_reply(r, &b, rc);
}

static int batch_cont(struct http_req *r)
{
    struct pql_op *op = r->op_ctx;
    struct buf b;
    int rc;

    free_rets(r, op);
    if (op->base.rc) {
        log_error("dynamodb", "BatchExecuteStatement: %s", store_strerror(op->base.rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    buf_init(&b, 64u * 1024 * 1024);
    rc = buf_puts(&b, "{\"Responses\":[");
    for (size_t i = 0; rc == 0 && i < op->n; i++) {
        struct stmt *st = op->st[i];
        if (i > 0) {
            rc = buf_puts(&b, ",");
        }
        if (rc == 0 && st->err == AWSERR_NONE && st->rc != 0) {
            run_error_or_reply(r, st, st->rc);
            take_error(r, st);
        }
        if (rc == 0) {
            rc = st->err != AWSERR_NONE ? error_append(&b, st) : table_append(&b, st);
            if (rc == 0 && st->err == AWSERR_NONE) {
                rc = buf_puts(&b, "}");
            }
        }
    }
    if (rc == 0) {
        rc = buf_puts(&b, "]");
    }
    if (rc == 0) {
        rc = capacity_append(&b, op->st, op->n, op->rcc, false, 1.0);
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    return reply_text_or_reply(r, &b, rc);
}

int ddb_batch_execute_statement(struct http_req *r)
{
    static const char *const rccs[] = { "INDEXES", "TOTAL", "NONE", NULL };
    struct ddb *d = ddb__of(r);
    const json_t *list = json_object_get(r->json, "Statements");
    struct ddb_verr ve = { 0 };
    struct stmt **sts;
    size_t n, i, reads = 0, writes = 0;
    const json_t *e;
    struct pql_op *op;
    MDB_txn *txn = NULL;
    int rc;

    if (ddb__type_or_reply(r, list, DDB_J_LIST) < 0 ||
        ddb__type_or_reply(r, json_object_get(r->json, "ReturnConsumedCapacity"),
                           DDB_J_STRING) < 0) {
        return -1;
    }
    if (statements_check_or_reply(r, &ve, list, "statements", BATCH_MAX) < 0) {
        return -1;
    }
    n = json_array_size(list);
    ddb__check_enum(&ve, json_object_get(r->json, "ReturnConsumedCapacity"),
                    "returnConsumedCapacity", rccs);
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    sts = arena_alloc(&r->arena, n * sizeof *sts);
    json_array_foreach(list, i, e)
    {
        if (parse_or_reply(r, e, &sts[i]) < 0) {
            take_error(r, sts[i]);
            continue;
        }
        if (sts[i]->q.kind == DDB_PQL_EXISTS) {
            sts[i]->err = AWSERR_VALIDATION;
            sts[i]->err_msg = exists_only_tx;
        }
        else if (sts[i]->q.kind == DDB_PQL_SELECT) {
            reads++;
        }
        else {
            writes++;
        }
    }
    if (reads && writes) {
        return http_req_fail(r, AWSERR_VALIDATION, "Read and write requests together in the same "
                                                   "batch is not supported.");
    }
    if (reads || !writes) {
        return batch_reads_or_reply(r, sts, n,
                                    rcc_of(json_object_get(r->json, "ReturnConsumedCapacity")));
    }
    rc = store_read_begin(d->st, &txn);
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    for (i = 0; i < n; i++) {
        if (sts[i]->err == AWSERR_NONE && prepare_or_reply(r, txn, sts[i]) < 0) {
            take_error(r, sts[i]);
        }
    }
    store_read_end(d->st, txn);
    for (i = 0; i < n; i++) {
        for (size_t j = 0; j < i && sts[i]->err == AWSERR_NONE; j++) {
            if (sts[j]->err == AWSERR_NONE && same_item(sts[i], sts[j])) {
                return http_req_fail(r, AWSERR_VALIDATION, "Provided list of item keys contains "
                                                           "duplicates");
            }
        }
    }
    op = arena_new(&r->arena, struct pql_op);
    op->handler = ddb_batch_execute_statement;
    op->mode = MODE_BATCH;
    op->rcc = rcc_of(json_object_get(r->json, "ReturnConsumedCapacity"));
    op->st = sts;
    op->n = n;
    return submit_or_reply(r, op, batch_cont);
}

/* ---- ExecuteTransaction ---- */

/* A write transaction: the statements as the transaction core's actions. */
struct ptx {
    struct ddb_tx tx;
    struct stmt **st;
    int rcc;                            /* ReturnConsumedCapacity: 0 NONE, 1 TOTAL, 2 INDEXES */
};

/* One write statement's change as a transaction action. */
static void to_action(const struct stmt *st, struct ddb_tx_action *a)
{
    memset(a, 0, sizeof *a);
    a->kind = (enum ddb_tx_kind)st->ch.kind;
    a->table = st->ch.table;
    a->item = st->ch.item;
    a->item_len = st->ch.item_len;
    a->item_size = st->q.kind == DDB_PQL_INSERT ? (uint32_t)st->q.item_size : 0;
    a->cond = st->ch.cond;
    a->update = st->ch.update;
    a->rvoccf = (st->ch.flags & DDB_CHANGE_RVOCCF) != 0;
    a->insert = (st->ch.flags & DDB_CHANGE_ABSENT) != 0;
}

static int ptx_cont(struct http_req *r)
{
    struct ptx *p = r->op_ctx;
    struct buf b;
    int rc;

    rc = ddb__tx_outcome_or_reply(r, &p->tx);
    if (rc != 0) {
        return rc < 0 ? -1 : 0;
    }
    for (size_t i = 0; i < p->tx.n; i++) {
        const struct ddb_tx_action *a = &p->tx.a[i];
        struct stmt *st = p->st[i];
        /* A replay reads what the first request wrote: one transactional read each. */
        st->ch.wr.old_size = p->tx.replayed ? 0 : a->kind == DDB_TX_CHECK ? a->old_size
                                                                      : a->wr.old_size;
        st->ch.wr.new_size = p->tx.replayed || a->kind == DDB_TX_DELETE ? 0 : a->wr.new_size;
        st->consistent = true;
    }
    buf_init(&b, 64 * 1024);
    rc = buf_puts(&b, "{\"Responses\":[");
    for (size_t i = 0; rc == 0 && i < p->tx.n; i++) {
        rc = buf_puts(&b, i ? ",{}" : "{}");
    }
    if (rc == 0) {
        rc = buf_puts(&b, "]");
    }
    if (rc == 0) {
        rc = capacity_append(&b, p->st, p->tx.n, p->rcc, p->tx.replayed, 2.0);
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    return reply_text_or_reply(r, &b, rc);
}

/* The hash a ClientRequestToken is bound to: the statements and their parameters. */
static void ptx_hash(const json_t *in, unsigned char out[32])
{
    json_t *o = json_object();
    char *text;
    json_object_set(o, "TransactStatements", json_object_get(in, "TransactStatements"));
    text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    SHA256((const unsigned char *)(text ? text : ""), text ? strlen(text) : 0, out);
    free(text);
    json_decref(o);
}

/* A read transaction: every SELECT names one item by its whole key; all are read in one
 * snapshot, and any failure fails the request. */
static int tx_reads_or_reply(struct http_req *r, struct stmt **sts, size_t n, int rcc)
{
    struct ddb *d = ddb__of(r);
    MDB_txn *txn = NULL;
    struct buf b;
    int rc = store_read_begin(d->st, &txn);

    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        if (prepare_or_reply(r, txn, sts[i]) < 0) {
            store_read_end(d->st, txn);
            return -1;
        }
        if (sts[i]->q.index || !sts[i]->point) {
            store_read_end(d->st, txn);
            return http_req_fail(r, AWSERR_VALIDATION, "%s",
                                 sts[i]->q.index ? "Reads on indices are not supported within "
                                                   "transactions."
                                                 : "Select statements within ExecuteTransaction "
                                                   "must specify the primary key in the where "
                                                   "clause.");
        }
    }
    buf_init(&b, 64u * 1024 * 1024);
    rc = buf_puts(&b, "{\"Responses\":[");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct stmt *st = sts[i];
        MDB_val k = { st->key.len, st->key.b }, v;
        int found = mdb_get(txn, d->items, &k, &v);
        bool got = found == 0;
        if (found != 0 && found != MDB_NOTFOUND) {
            rc = found;
            break;
        }
        found = got && st->cond ? ddb_cond_eval(st->cond, v.mv_data, v.mv_size) : got;
        if (found < 0) {
            rc = -EIO;
            break;
        }
        if (got) {
            struct ddb_item_view iv;
            st->ch.wr.old_size = ddb_item_open(v.mv_data, v.mv_size, &iv) == 0 ? iv.size : 0;
        }
        st->consistent = true;
        rc = buf_puts(&b, i ? ",{" : "{");
        if (rc == 0 && found == 1) {
            rc = buf_puts(&b, "\"Item\":");
            if (rc == 0 && st->q.proj) {
                struct buf pb;
                buf_init(&pb, DDB_ITEM_ENC_MAX);
                rc = ddb_proj_apply(st->q.proj, v.mv_data, v.mv_size, &pb);
                if (rc == 0) {
                    rc = ddb_item_write_json(pb.p, pb.len, NULL, 0, &b);
                }
                buf_release(&pb);
            }
            else if (rc == 0) {
                rc = ddb_item_write_json(v.mv_data, v.mv_size, NULL, 0, &b);
            }
        }
        if (rc == 0) {
            rc = buf_puts(&b, "}");
        }
    }
    if (rc == 0) {
        rc = buf_puts(&b, "]");
    }
    if (rc == 0) {
        rc = capacity_append(&b, sts, n, rcc, true, 2.0);
    }
    if (rc == 0) {
        rc = buf_puts(&b, "}");
    }
    store_read_end(d->st, txn);
    return reply_text_or_reply(r, &b, rc);
}

int ddb_execute_transaction(struct http_req *r)
{
    static const char *const rccs[] = { "INDEXES", "TOTAL", "NONE", NULL };
    struct ddb *d = ddb__of(r);
    const json_t *in = r->json;
    const json_t *list = json_object_get(in, "TransactStatements");
    const json_t *token = json_object_get(in, "ClientRequestToken");
    struct ddb_verr ve = { 0 };
    struct stmt **sts;
    size_t n, i, reads = 0;
    const json_t *e;
    struct ptx *p;
    MDB_txn *txn = NULL;
    int rc;

    if (ddb__type_or_reply(r, list, DDB_J_LIST) < 0 ||
        ddb__type_or_reply(r, token, DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, json_object_get(in, "ReturnConsumedCapacity"), DDB_J_STRING) <
            0) {
        return -1;
    }
    if (statements_check_or_reply(r, &ve, list, "transactStatements", TX_MAX) < 0) {
        return -1;
    }
    n = json_array_size(list);
    if (ddb__present(token) && (json_string_length(token) < 1 || json_string_length(token) > 36)) {
        ddb__verr_add(&ve, "Value '%.64s' at 'clientRequestToken' failed to satisfy constraint: "
                           "Member must have length %s",
                      json_string_value(token),
                      json_string_length(token) < 1 ? "greater than or equal to 1"
                                                    : "less than or equal to 36");
    }
    ddb__check_enum(&ve, json_object_get(in, "ReturnConsumedCapacity"),
                    "returnConsumedCapacity", rccs);
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    sts = arena_alloc(&r->arena, n * sizeof *sts);
    json_array_foreach(list, i, e)
    {
        if (parse_or_reply(r, e, &sts[i]) < 0) {
            return -1;
        }
        if (sts[i]->q.returning) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "Validation failed in TransactStatements[%zu]: RETURNING clause "
                                 "is not supported in ExecuteTransaction.",
                                 i);
        }
        reads += sts[i]->q.kind == DDB_PQL_SELECT;
    }
    if (reads && reads < n) {
        return http_req_fail(r, AWSERR_VALIDATION, "ExecuteTransaction API does not support both "
                                                   "read and write operations in the same "
                                                   "request.");
    }
    if (reads) {
        return tx_reads_or_reply(r, sts, n,
                                 rcc_of(json_object_get(in, "ReturnConsumedCapacity")));
    }
    rc = store_read_begin(d->st, &txn);
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    for (i = 0; i < n; i++) {
        if (prepare_or_reply(r, txn, sts[i]) < 0) {
            store_read_end(d->st, txn);
            return -1;
        }
    }
    store_read_end(d->st, txn);
    {
        size_t total = 0;
        for (i = 0; i < n; i++) {
            total += sts[i]->q.kind == DDB_PQL_INSERT ? sts[i]->q.item_size : 0;
        }
        if (total > DDB_TX_SIZE_MAX) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "Transaction request cannot be larger than 4 MB");
        }
    }
    p = arena_new(&r->arena, struct ptx);
    p->st = sts;
    p->rcc = rcc_of(json_object_get(in, "ReturnConsumedCapacity"));
    p->tx.n = n;
    p->tx.a = arena_zalloc(&r->arena, n * sizeof *p->tx.a);
    for (i = 0; i < n; i++) {
        to_action(sts[i], &p->tx.a[i]);
    }
    if (ddb__present(token)) {
        p->tx.token = json_string_value(token);
        ptx_hash(in, p->tx.req_hash);
    }
    if (ddb__tx_prepare_or_reply(r, &p->tx) < 0) {
        return -1;
    }
    /* The core's op is the first member: cont finds p through r->op_ctx. */
    return ddb__tx_submit_or_reply(r, &p->tx, ptx_cont);
}
