/*
 * txn.c: the transaction core: a list of item actions (Put, Update, Delete, ConditionCheck)
 * over any tables, validated on the HTTP thread and applied all or nothing in one writer op.
 *
 * What it is: ddb__tx_prepare_or_reply(), ddb__tx_submit_or_reply() and
 * ddb__tx_outcome_or_reply() (ddb_int.h), on which TransactWriteItems, BatchWriteItem and
 * PartiQL's ExecuteTransaction are built; and ClientRequestToken idempotency (ddb.tokens,
 * docs/formats.md, "DynamoDB idempotency tokens").
 *
 * What it is not: the parsing of any request (transact.c, batch.c), the change of one item
 * (write.c's ddb__change_apply(), which every action here goes through).
 *
 * A transaction's life:
 *   prepare (HTTP thread): schemas, keys, key rules, duplicates
 *   apply (writer): the token (a replay answers without writing; another request with the
 *     same token is refused); pass 1 reads every item and evaluates every condition and
 *     update, writing nothing (DDB_CHANGE_DRY); if any action fails, the op fails
 *     (TX_CANCELED) with each action's reason; pass 2 writes every change (the item pass 1
 *     decided, without its condition, through ddb__change_apply() again), and a change
 *     refused there (an index key, a full item collection) fails the op too, so the nested
 *     transaction rolls back what pass 2 had written; then the token is recorded
 *   done (writer): wake stream readers; resume the request
 *   outcome (HTTP thread, in the caller's continuation): the error, or 0
 *
 * Invariants: no two actions have the same table and key (prepare refuses them), so pass 1's
 * reads are exactly what pass 2 overwrites; the op reads each table's schema again and fails
 * with -ESTALE when the table was replaced since prepare, which then runs again.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

/* What apply() returns besides 0 and the store's and write's codes. */
#define TX_CANCELED (-ECANCELED)        /* some action's reason is not NONE */
#define TX_MISMATCH (-EEXIST)           /* the token was used by another request */

void ddb__tx_open(struct ddb *d)
{
    pthread_mutex_init(&d->tx_mu, NULL);
}

void ddb__tx_close(struct ddb *d)
{
    pthread_mutex_destroy(&d->tx_mu);
}

/* ---- prepare ---- */

static bool same_item(const struct ddb_tx_action *a, const struct ddb_tx_action *b)
{
    return a->table_id == b->table_id && a->key.len == b->key.len &&
           memcmp(a->key.b, b->key.b, a->key.len) == 0;
}

/* A key error DynamoDB answers before the transaction (a request-level ValidationException)
 * rather than as a cancellation reason: empty and oversized key values. */
static bool key_err_upfront(enum ddb_key_fail why)
{
    return why == DDB_KEY_EMPTY_S || why == DDB_KEY_EMPTY_B || why == DDB_KEY_HASH_SIZE ||
           why == DDB_KEY_RANGE_SIZE;
}

static int cancel_or_reply(struct http_req *r, const struct ddb_tx *tx);

int ddb__tx_prepare_or_reply(struct http_req *r, struct ddb_tx *tx)
{
    struct ddb *d = ddb__of(r);
    bool batch = (tx->flags & DDB_TX_BATCH) != 0;
    bool any_reason = false;
    MDB_txn *txn = NULL;
    int rc = store_read_begin(d->st, &txn);

    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    for (size_t i = 0; i < tx->n; i++) {
        tx->a[i].reason = DDB_TXR_NONE;
        tx->a[i].key.len = 0;
    }
    /* Every table first: a missing one is ResourceNotFound whatever else is wrong. */
    for (size_t i = 0; rc == 0 && i < tx->n; i++) {
        struct ddb_tx_action *a = &tx->a[i];
        struct ddb_schema s;
        rc = ddb__schema_get(d, txn, a->table, &s);
        if (rc == -ENOENT) {
            rc = http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found");
        }
        else if (rc) {
            log_error("dynamodb", "reading the schema of %s: %s", a->table, store_strerror(rc));
            rc = http_req_fail(r, AWSERR_INTERNAL, NULL);
        }
    }
    for (size_t i = 0; rc == 0 && i < tx->n; i++) {
        struct ddb_tx_action *a = &tx->a[i];
        struct ddb_schema s;
        struct ddb_key_err kerr;
        struct ddb_write wr;

        rc = ddb__schema_get(d, txn, a->table, &s);
        if (rc) {
            rc = http_req_fail(r, AWSERR_INTERNAL, NULL);
            break;
        }
        a->table_id = s.id;
        a->has_lsi = s.has_lsi;
        if (ddb__key_of(&s, a->item, a->item_len, a->kind != DDB_TX_PUT, &a->key, &kerr) < 0) {
            a->key.len = 0;
            if (kerr.why == DDB_KEY_DAMAGED) {
                rc = http_req_fail(r, AWSERR_INTERNAL, NULL);
            }
            else if (key_err_upfront(kerr.why)) {
                rc = ddb__key_fail_or_reply(r, &kerr);
            }
            else if (batch) {
                /* BatchWriteItem words every mismatch of an item's key alike. */
                rc = http_req_fail(r, AWSERR_VALIDATION,
                                   "The provided key element does not match the schema");
            }
            else {
                a->reason = DDB_TXR_VALIDATION;
                ddb__key_err_msg(&kerr, a->msg, sizeof a->msg);
                any_reason = true;
            }
            continue;
        }
        if (a->kind == DDB_TX_UPDATE) {
            rc = ddb__update_key_or_reply(r, &s, a->update);
        }
        if (rc == 0 && a->kind == DDB_TX_PUT && s.n_index) {
            int krc = ddb__index_keys_check(&s, a->item, a->item_len, &wr);
            if (krc == DDB_WRITE_INDEX_KEY && !batch && !key_err_upfront(wr.kerr.why)) {
                a->reason = DDB_TXR_VALIDATION;
                ddb__write_err_msg(krc, &wr, a->msg, sizeof a->msg);
                any_reason = true;
            }
            else if (krc == DDB_WRITE_INDEX_KEY) {
                rc = ddb__write_fail_or_reply(r, krc, &wr);
            }
            else if (krc) {
                rc = http_req_fail(r, AWSERR_INTERNAL, NULL);
            }
        }
    }
    store_read_end(d->st, txn);
    if (rc) {
        return -1;
    }
    for (size_t i = 1; i < tx->n; i++) {
        for (size_t j = 0; tx->a[i].key.len && j < i; j++) {
            if (tx->a[j].key.len && same_item(&tx->a[i], &tx->a[j])) {
                return http_req_fail(r, AWSERR_VALIDATION, "%s",
                                     batch ? "Provided list of item keys contains duplicates"
                                           : "Transaction request cannot include multiple "
                                             "operations on one item");
            }
        }
    }
    return any_reason ? cancel_or_reply(r, tx) : 0;
}

/* ---- apply ---- */

static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | b[i];
    }
    return v;
}

/*
 * The token's record: 0 (new, or expired and removed), 1 a replay of the same request, or
 * TX_MISMATCH. Writer thread.
 */
static int token_check(struct ddb_tx *tx, MDB_txn *txn, uint64_t now)
{
    MDB_val k = { strlen(tx->token), (void *)tx->token }, v;
    int rc = mdb_get(txn, tx->d->tokens, &k, &v);

    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc) {
        return rc;
    }
    if (v.mv_size != 8 + 32 || get_u64(v.mv_data) + DDB_TX_TOKEN_TTL <= now) {
        rc = mdb_del(txn, tx->d->tokens, &k, NULL);
        return rc;
    }
    return memcmp((const unsigned char *)v.mv_data + 8, tx->req_hash, 32) == 0 ? 1 : TX_MISMATCH;
}

/* Records the token, and removes a few expired ones after it (tokens are random, so these
 * small walks reach every part of the database over time). Writer thread. */
static int token_record(struct ddb_tx *tx, MDB_txn *txn, uint64_t now)
{
    unsigned char b[8 + 32];
    MDB_val k = { strlen(tx->token), (void *)tx->token }, v = { sizeof b, b };
    MDB_cursor *c = NULL;
    int rc;

    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(now >> (8 * i));
    }
    memcpy(b + 8, tx->req_hash, 32);
    rc = mdb_put(txn, tx->d->tokens, &k, &v, 0);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, tx->d->tokens, &c);
    }
    if (rc == 0) {
        MDB_val ck = k, cv;
        int crc = mdb_cursor_get(c, &ck, &cv, MDB_SET_KEY);
        for (int i = 0; crc == 0 && i < 8; i++) {
            crc = mdb_cursor_get(c, &ck, &cv, MDB_NEXT);
            if (crc == 0 &&
                (cv.mv_size != sizeof b || get_u64(cv.mv_data) + DDB_TX_TOKEN_TTL <= now)) {
                crc = mdb_cursor_del(c, 0);
            }
        }
        if (crc != 0 && crc != MDB_NOTFOUND) {
            rc = crc;
        }
        mdb_cursor_close(c);
    }
    return rc;
}

static void action_reset(struct ddb_tx_action *a)
{
    free(a->old);
    free(a->new_);
    a->old = a->new_ = NULL;
    a->old_len = a->new_len = 0;
    a->old_size = 0;
    a->reason = DDB_TXR_NONE;
    a->msg[0] = '\0';
    memset(&a->wr, 0, offsetof(struct ddb_write, index_name));
    a->wr.index_name[0] = '\0';
}

/* An action as the change ddb__change_apply() makes. */
static void change_of(struct ddb_tx_action *a, struct ddb_change *c)
{
    memset(c, 0, sizeof *c);
    c->kind = (enum ddb_change_kind)a->kind;
    c->flags = (a->insert ? DDB_CHANGE_ABSENT : 0) | (a->rvoccf ? DDB_CHANGE_RVOCCF : 0);
    c->table = a->table;
    c->table_id = a->table_id;
    c->key = &a->key;
    c->item = a->item;
    c->item_len = a->item_len;
    c->cond = a->cond;
    c->update = a->update;
}

/* Pass 1 for one action: its condition, and an update's new item, written nothing. Returns
 * 0 (a->reason says whether it passes) or an error. */
static int action_check(struct ddb_tx *tx, MDB_txn *txn, struct ddb_tx_action *a)
{
    struct ddb_change c;
    struct ddb_schema s;
    int rc;

    change_of(a, &c);
    c.flags |= DDB_CHANGE_DRY;
    rc = ddb__change_apply(tx->d, txn, &c, &s);
    a->old_size = c.wr.old_size;
    a->old = c.ret_item;
    a->old_len = c.ret_len;
    a->new_ = c.new_;
    a->new_len = c.new_len;
    switch (rc) {
    case DDB_CHANGE_EXISTS:
        a->reason = DDB_TXR_DUPLICATE;
        return 0;
    case DDB_CHANGE_CONDITION_FAILED:
        a->reason = DDB_TXR_CONDITION;
        return 0;
    case DDB_CHANGE_UPDATE_FAILED:
        if (c.uerr.kind == DDB_ERR_NONE) {
            return -EIO;
        }
        a->reason = DDB_TXR_VALIDATION;
        snprintf(a->msg, sizeof a->msg, "%.500s", c.uerr.msg);
        return 0;
    default:
        return rc;
    }
}

/* Pass 2 for one action: its write, the item pass 1 decided. Returns 0 (a->reason set when
 * the write was refused) or an error. */
static int action_write(struct ddb_tx *tx, MDB_txn *txn, struct ddb_tx_action *a)
{
    struct ddb_change c;
    struct ddb_schema s;
    int rc;

    if (a->kind == DDB_TX_CHECK) {
        return 0;
    }
    change_of(a, &c);
    c.flags = 0;
    c.cond = NULL;
    if (a->kind == DDB_TX_UPDATE) {
        c.kind = DDB_CHANGE_PUT;
        c.item = a->new_;
        c.item_len = a->new_len;
    }
    rc = ddb__change_apply(tx->d, txn, &c, &s);
    a->wr = c.wr;
    if (rc == DDB_WRITE_INDEX_KEY || rc == DDB_WRITE_COLLECTION_FULL) {
        a->reason = rc == DDB_WRITE_COLLECTION_FULL  ? DDB_TXR_COLLECTION
                    : key_err_upfront(a->wr.kerr.why) ? DDB_TXR_REQUEST
                                                      : DDB_TXR_VALIDATION;
        ddb__write_err_msg(rc, &a->wr, a->msg, sizeof a->msg);
        return 0;
    }
    if (rc == 0 && a->wr.appended) {
        tx->appended = true;
    }
    return rc;
}

static int tx_apply(struct store_op *op, MDB_txn *txn)
{
    struct ddb_tx *tx = (struct ddb_tx *)op;
    uint64_t now = (uint64_t)time(NULL);
    bool failed = false;
    int rc;

    store_assert_writer(tx->d->st);
    tx->replayed = false;
    tx->appended = false;
    for (size_t i = 0; i < tx->n; i++) {
        action_reset(&tx->a[i]);
    }
    if (tx->token) {
        rc = token_check(tx, txn, now);
        if (rc == 1) {
            tx->replayed = true;
            return 0;
        }
        if (rc) {
            return rc;
        }
    }
    for (size_t i = 0; i < tx->n; i++) {
        rc = action_check(tx, txn, &tx->a[i]);
        if (rc) {
            return rc;
        }
        failed = failed || tx->a[i].reason != DDB_TXR_NONE;
    }
    if (failed) {
        return TX_CANCELED;
    }
    for (size_t i = 0; i < tx->n; i++) {
        rc = action_write(tx, txn, &tx->a[i]);
        if (rc) {
            return rc;
        }
        if (tx->a[i].reason != DDB_TXR_NONE) {
            /* The nested transaction rolls back the writes made so far. */
            return TX_CANCELED;
        }
    }
    return tx->token ? token_record(tx, txn, now) : 0;
}

/* ---- requests in flight ---- */

/*
 * "The transaction with the given request token is already in progress"
 * (TransactionInProgressException): a request whose ClientRequestToken belongs to one that is
 * queued for the writer or running there is refused at once, rather than answered as a
 * replay of a transaction that has not committed yet. A token is in flight from its
 * submission until the writer's done() of its op, after the commit.
 */
static bool inflight_begin(struct ddb_tx *tx)
{
    struct ddb *d = tx->d;
    bool busy = false;

    if (!tx->token || tx->inflight) {
        return true;
    }
    pthread_mutex_lock(&d->tx_mu);
    for (struct ddb_tx *o = d->tx_inflight; o && !busy; o = o->inflight_next) {
        busy = strcmp(o->token, tx->token) == 0;
    }
    if (!busy) {
        tx->inflight_next = d->tx_inflight;
        d->tx_inflight = tx;
        tx->inflight = true;
    }
    pthread_mutex_unlock(&d->tx_mu);
    return !busy;
}

static void inflight_end(struct ddb_tx *tx)
{
    struct ddb *d = tx->d;

    if (!tx->inflight) {
        return;
    }
    pthread_mutex_lock(&d->tx_mu);
    for (struct ddb_tx **p = &d->tx_inflight; *p; p = &(*p)->inflight_next) {
        if (*p == tx) {
            *p = tx->inflight_next;
            break;
        }
    }
    tx->inflight = false;
    tx->inflight_next = NULL;
    pthread_mutex_unlock(&d->tx_mu);
}

static void tx_done(struct store_op *op, int rc)
{
    struct ddb_tx *tx = (struct ddb_tx *)op;
    if (rc == 0 && tx->appended) {
        strm_notify(tx->d->streams);
    }
    inflight_end(tx);
    http_req_resume(tx->r);
}

static void tx_release_cb(void *p)
{
    struct ddb_tx *tx = p;
    for (size_t i = 0; i < tx->n; i++) {
        free(tx->a[i].old);
        free(tx->a[i].new_);
        tx->a[i].old = tx->a[i].new_ = NULL;
    }
}

int ddb__tx_submit_or_reply(struct http_req *r, struct ddb_tx *tx,
                            int (*cont)(struct http_req *r))
{
    if (!tx->d) {
        /* The first submission: the buffers apply() leaves are freed with the request. */
        arena_on_clear(&r->arena, tx_release_cb, tx);
    }
    tx->base.apply = tx_apply;
    tx->base.done = tx_done;
    tx->d = ddb__of(r);
    tx->r = r;
    tx->cont = cont;
    if (!inflight_begin(tx)) {
        return http_req_fail(r, AWSERR_TRANSACTION_IN_PROGRESS, NULL);
    }
    if (ddb__submit_or_reply(r, &tx->base, cont) < 0) {
        inflight_end(tx);
        return -1;
    }
    return 0;
}

/* ---- outcome ---- */

static const char *reason_code(enum ddb_tx_reason why)
{
    switch (why) {
    case DDB_TXR_CONDITION:
        return "ConditionalCheckFailed";
    case DDB_TXR_VALIDATION:
        return "ValidationError";
    case DDB_TXR_COLLECTION:
        return "ItemCollectionSizeLimitExceeded";
    case DDB_TXR_DUPLICATE:
        return "DuplicateItem";
    default:
        return "None";
    }
}

/* TransactionCanceledException: the codes in the message, and CancellationReasons in request
 * order, each with its Message and (ConditionalCheckFailed with ALL_OLD) the Item. */
static int cancel_or_reply(struct http_req *r, const struct ddb_tx *tx)
{
    struct buf reasons, codes;
    int rc = 0;

    for (size_t i = 0; i < tx->n; i++) {
        if (tx->a[i].reason == DDB_TXR_REQUEST) {
            return http_req_fail(r, AWSERR_VALIDATION, "%s", tx->a[i].msg);
        }
    }

    buf_init(&reasons, 64 * 1024 * 1024);
    buf_init(&codes, 64 * 1024);
    rc = buf_puts(&reasons, "[");
    for (size_t i = 0; rc == 0 && i < tx->n; i++) {
        const struct ddb_tx_action *a = &tx->a[i];
        rc = buf_printf(&codes, "%s%s", i ? ", " : "", reason_code(a->reason));
        if (rc == 0) {
            rc = buf_printf(&reasons, "%s{\"Code\":\"%s\"", i ? "," : "", reason_code(a->reason));
        }
        if (rc == 0 && a->reason != DDB_TXR_NONE) {
            const char *msg = a->reason == DDB_TXR_CONDITION ? "The conditional request failed"
                              : a->reason == DDB_TXR_COLLECTION ? "Collection size exceeded."
                              : a->reason == DDB_TXR_DUPLICATE
                                  ? "Duplicate primary key exists in table"
                                  : a->msg;
            rc = buf_puts(&reasons, ",\"Message\":");
            if (rc == 0) {
                rc = ddb_json_string(&reasons, msg, strlen(msg));
            }
        }
        if (rc == 0 && a->reason == DDB_TXR_CONDITION && a->old) {
            rc = buf_puts(&reasons, ",\"Item\":");
            if (rc == 0) {
                rc = ddb_item_write_json(a->old, a->old_len, NULL, 0, &reasons);
            }
        }
        if (rc == 0) {
            rc = buf_puts(&reasons, "}");
        }
    }
    if (rc == 0) {
        rc = buf_puts(&reasons, "]");
    }
    if (rc == 0) {
        http_req_fail_json(r, "CancellationReasons", reasons.p, reasons.len);
        http_req_fail(r, AWSERR_TRANSACTION_CANCELED,
                      "Transaction cancelled, please refer cancellation reasons for specific "
                      "reasons [%s]",
                      codes.p);
    }
    else {
        http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    buf_release(&reasons);
    buf_release(&codes);
    return -1;
}

/* BatchWriteItem: the first refused write as the request's own error. */
static int batch_fail_or_reply(struct http_req *r, const struct ddb_tx *tx)
{
    for (size_t i = 0; i < tx->n; i++) {
        const struct ddb_tx_action *a = &tx->a[i];
        if (a->reason == DDB_TXR_COLLECTION) {
            return http_req_fail(r, AWSERR_ITEM_COLLECTION_SIZE, NULL);
        }
        if (a->reason != DDB_TXR_NONE) {
            return http_req_fail(r, AWSERR_VALIDATION, "%s", a->msg);
        }
    }
    return http_req_fail(r, AWSERR_INTERNAL, NULL);
}

int ddb__tx_outcome_or_reply(struct http_req *r, struct ddb_tx *tx)
{
    switch (tx->base.rc) {
    case 0:
        return 0;
    case -ENOENT:
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found");
    case -ESTALE:
        /* A table was deleted and created again since the keys were built: start over. */
        if (ddb__tx_prepare_or_reply(r, tx) < 0 ||
            ddb__tx_submit_or_reply(r, tx, tx->cont) < 0) {
            return -1;
        }
        return 1;
    case TX_CANCELED:
        return (tx->flags & DDB_TX_BATCH) ? batch_fail_or_reply(r, tx) : cancel_or_reply(r, tx);
    case TX_MISMATCH:
        return http_req_fail(r, AWSERR_IDEMPOTENT_MISMATCH,
                             "The request uses the same client token as a previous, but "
                             "non-identical request. Do not reuse a client token with different "
                             "requests, unless the requests are identical.");
    default:
        log_error("dynamodb", "a transaction of %zu actions: %s", tx->n,
                  store_strerror(tx->base.rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
}
