/*
 * test_dynamodb_txn.c: the transaction core (src/dynamodb/txn.c) in process, with fake
 * requests and no socket (R29): actions built directly as PartiQL's ExecuteTransaction
 * builds them, a transaction refused in its second pass leaving no trace (items, index
 * entries, counters, stream records), an expired ClientRequestToken treated as new, the
 * order of TransactWriteItems' cancellation reasons, a transaction whose table is replaced
 * while it waits for the writer, and a second request with the ClientRequestToken of one
 * still in flight (TransactionInProgressException).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ddb_handlers.h"

static json_t *get(struct fixture *f, const char *json)
{
    struct answer a;
    json_t *item;
    call(f, ddb_get_item, json, &a);
    assert_int_equal(a.err, AWSERR_NONE);
    item = json_incref(json_object_get(a.body, "Item"));
    json_decref(a.body);
    return item;
}

static uint64_t count_of(struct fixture *f, uint32_t id)
{
    MDB_txn *txn;
    uint64_t items = 0, bytes = 0;
    assert_int_equal(store_read_begin(f->st, &txn), 0);
    assert_int_equal(ddb__counts_get(f->d, txn, id, &items, &bytes), 0);
    store_read_end(f->st, txn);
    return items;
}

static struct ddb_schema schema_of(struct fixture *f, const char *table, char *arn, size_t n)
{
    struct ddb_schema s;
    MDB_txn *txn;
    assert_int_equal(store_read_begin(f->st, &txn), 0);
    assert_int_equal(ddb__schema_get(f->d, txn, table, &s), 0);
    snprintf(arn, n, "%.*s", (int)s.stream_arn.len, s.stream_arn.p);
    store_read_end(f->st, txn);
    return s;
}

static const char table_g[] =
    "{\"TableName\":\"txg\",\"BillingMode\":\"PAY_PER_REQUEST\","
    "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"}],"
    "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"g\",\"AttributeType\":\"S\"}],"
    "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"byg\",\"KeySchema\":"
    "[{\"AttributeName\":\"g\",\"KeyType\":\"HASH\"}],\"Projection\":{\"ProjectionType\":"
    "\"ALL\"}}],"
    "\"StreamSpecification\":{\"StreamEnabled\":true,\"StreamViewType\":\"NEW_IMAGE\"}}";

/* ---- the core called directly ---- */

struct direct {
    struct ddb_tx tx;           /* first: r->op_ctx points at it */
    struct ddb_tx_action a[3];
};

static int direct_cont(struct http_req *r)
{
    struct direct *dt = r->op_ctx;
    int rc = ddb__tx_outcome_or_reply(r, &dt->tx);
    if (rc != 0) {
        return rc < 0 ? -1 : 0;
    }
    return http_reply(r, 200, "application/x-amz-json-1.0", "{}", 2);
}

static const char *encode(struct http_req *r, const char *json, size_t *len, uint32_t *size)
{
    return encode_json(&r->arena, json, len, size);
}

/* A handler that builds its actions without any request parsing, as PartiQL will: a put, a
 * delete of the item "gone", and a condition check that "gone" exists. */
static int direct_handler(struct http_req *r)
{
    struct direct *dt = arena_new(&r->arena, struct direct);
    dt->tx.a = dt->a;
    dt->tx.n = 2;
    dt->a[0].kind = DDB_TX_PUT;
    dt->a[0].table = "txg";
    dt->a[0].item = encode(r, "{\"h\":{\"S\":\"new\"},\"g\":{\"S\":\"G\"}}", &dt->a[0].item_len,
                           &dt->a[0].item_size);
    dt->a[1].kind = DDB_TX_DELETE;
    dt->a[1].table = "txg";
    dt->a[1].item = encode(r, "{\"h\":{\"S\":\"gone\"}}", &dt->a[1].item_len,
                           &dt->a[1].item_size);
    if (ddb__tx_prepare_or_reply(r, &dt->tx) < 0) {
        return -1;
    }
    return ddb__tx_submit_or_reply(r, &dt->tx, direct_cont);
}

static void test_core_with_built_actions(void **state)
{
    struct fixture *f = *state;
    char arn[1100];
    struct ddb_schema s;
    uint64_t seq0 = 0, seq1 = 0;
    json_t *item;

    ok(f, ddb_create_table, table_g);
    ok(f, ddb_put_item, "{\"TableName\":\"txg\",\"Item\":{\"h\":{\"S\":\"gone\"},"
                        "\"g\":{\"S\":\"G\"}}}");
    s = schema_of(f, "txg", arn, sizeof arn);
    assert_int_equal(strm_latest_seq(f->s, arn, &seq0), 0);
    ok(f, direct_handler, "{}");
    item = get(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"new\"}}}");
    assert_non_null(item);
    json_decref(item);
    assert_null(get(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"gone\"}}}"));
    assert_int_equal(count_of(f, s.id), 1);
    assert_int_equal(count_of(f, s.index[0].id), 1);
    /* Two changes, two records, in the one commit. */
    assert_int_equal(strm_latest_seq(f->s, arn, &seq1), 0);
    assert_true(seq1 > seq0);
}

/* A put written in pass 2, then an update refused there (its new item gives the index key
 * another type): the nested transaction rolls the put back with everything it touched. */
static void test_refused_in_second_pass_leaves_no_trace(void **state)
{
    struct fixture *f = *state;
    char arn[1100];
    struct ddb_schema s;
    struct answer a;
    uint64_t seq0 = 0, seq1 = 0;

    ok(f, ddb_create_table, table_g);
    s = schema_of(f, "txg", arn, sizeof arn);
    assert_int_equal(strm_latest_seq(f->s, arn, &seq0), 0);
    call(f, ddb_transact_write_items,
         "{\"TransactItems\":["
         "{\"Put\":{\"TableName\":\"txg\",\"Item\":{\"h\":{\"S\":\"a\"},\"g\":{\"S\":\"G\"}}}},"
         "{\"Update\":{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"b\"}},"
         "\"UpdateExpression\":\"SET g = :n\","
         "\"ExpressionAttributeValues\":{\":n\":{\"N\":\"1\"}}}}]}",
         &a);
    assert_int_equal(a.err, AWSERR_TRANSACTION_CANCELED);
    assert_string_equal(a.msg, "Transaction cancelled, please refer cancellation reasons for "
                               "specific reasons [None, ValidationError]");
    assert_null(get(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"a\"}}}"));
    assert_int_equal(count_of(f, s.id), 0);
    assert_int_equal(count_of(f, s.index[0].id), 0);
    assert_int_equal(strm_latest_seq(f->s, arn, &seq1), 0);
    assert_int_equal(seq1, seq0);
}

/* ---- tokens ---- */

struct old_token {
    struct store_op base;
    struct fixture *f;
    const char *token;
    time_t at;
};

/* Writes a token record used at o->at for a request of another hash. */
static int old_token_apply(struct store_op *op, MDB_txn *txn)
{
    struct old_token *o = (struct old_token *)op;
    unsigned char b[40];
    MDB_val k = { strlen(o->token), (void *)o->token }, v = { sizeof b, b };
    memset(b, 0xAB, sizeof b);
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)((uint64_t)o->at >> (8 * i));
    }
    return mdb_put(txn, o->f->d->tokens, &k, &v, 0);
}

static void test_expired_token_is_new(void **state)
{
    struct fixture *f = *state;
    struct old_token o = { { 0 }, f, "tok-old", 0 };
    static const char req[] =
        "{\"ClientRequestToken\":\"%s\",\"TransactItems\":[{\"Update\":{\"TableName\":\"txg\","
        "\"Key\":{\"h\":{\"S\":\"c\"}},\"UpdateExpression\":\"ADD n :one\","
        "\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"}}}}]}";
    char body[512];
    json_t *item;

    ok(f, ddb_create_table, table_g);
    /* Used by another request just within the window: refused. */
    o.base.apply = old_token_apply;
    o.at = time(NULL) - DDB_TX_TOKEN_TTL + 60;
    assert_int_equal(store_submit_wait(f->st, &o.base), 0);
    snprintf(body, sizeof body, req, "tok-old");
    fails(f, ddb_transact_write_items, body, AWSERR_IDEMPOTENT_MISMATCH,
          "The request uses the same client token as a previous, but non-identical request. Do "
          "not reuse a client token with different requests, unless the requests are "
          "identical.");
    /* Past the window: a new request, applied, and then remembered for this one. */
    memset(&o.base, 0, sizeof o.base);
    o.base.apply = old_token_apply;
    o.at = time(NULL) - DDB_TX_TOKEN_TTL - 1;
    assert_int_equal(store_submit_wait(f->st, &o.base), 0);
    ok(f, ddb_transact_write_items, body);
    ok(f, ddb_transact_write_items, body);
    item = get(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"c\"}}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(item, "n"), "N")),
                        "1");
    json_decref(item);
}

/* ---- reasons ---- */

static void test_reasons_in_order(void **state)
{
    struct fixture *f = *state;
    struct answer a;

    ok(f, ddb_create_table, table_g);
    ok(f, ddb_put_item, "{\"TableName\":\"txg\",\"Item\":{\"h\":{\"S\":\"x\"},"
                        "\"q\":{\"S\":\"quote\\\"d\"}}}");
    call(f, ddb_transact_write_items,
         "{\"TransactItems\":["
         "{\"ConditionCheck\":{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"x\"}},"
         "\"ConditionExpression\":\"attribute_not_exists(h)\","
         "\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"}},"
         "{\"Put\":{\"TableName\":\"txg\",\"Item\":{\"h\":{\"N\":\"1\"}}}}]}",
         &a);
    /* The key mismatch is found before the writer: its reason alone, the check's None. */
    assert_int_equal(a.err, AWSERR_TRANSACTION_CANCELED);
    assert_string_equal(a.msg, "Transaction cancelled, please refer cancellation reasons for "
                               "specific reasons [None, ValidationError]");
    call(f, ddb_transact_write_items,
         "{\"TransactItems\":["
         "{\"ConditionCheck\":{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"x\"}},"
         "\"ConditionExpression\":\"attribute_not_exists(h)\","
         "\"ReturnValuesOnConditionCheckFailure\":\"ALL_OLD\"}}]}",
         &a);
    assert_int_equal(a.err, AWSERR_TRANSACTION_CANCELED);
    assert_string_equal(a.msg, "Transaction cancelled, please refer cancellation reasons for "
                               "specific reasons [ConditionalCheckFailed]");
}

/* ---- a transaction racing with its table being replaced ---- */

struct gate {
    struct store_op base;
    struct fixture *f;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered;       /* the writer is in the gate */
    bool open;
};

/* Holds the writer until the gate opens, then deletes and re-creates table "txg" (a new id)
 * in the same group as the transaction queued behind it. */
static int gate_apply(struct store_op *op, MDB_txn *txn)
{
    struct gate *g = (struct gate *)op;
    struct ddb *d = g->f->d;
    struct ddb_schema s;
    json_t *entry;
    uint32_t id;
    int rc;

    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    entry = ddb__catalog_get(d, txn, "txg");
    if (!entry) {
        return -ENOENT;     /* no cmocka asserts on the writer thread */
    }
    rc = ddb__schema_get(d, txn, "txg", &s);
    if (rc == 0) {
        rc = ddb__catalog_del(d, txn, "txg", &s);
    }
    if (rc == 0) {
        rc = ddb__table_id_new(d, txn, &id);
    }
    if (rc == 0) {
        rc = ddb__index_ids_assign(d, txn, entry, true);
    }
    if (rc == 0) {
        rc = ddb__catalog_put(d, txn, "txg", entry, id);
    }
    json_decref(entry);
    return rc;
}

struct tx_thread {
    struct fixture *f;
    struct answer a;
};

static void *tx_main(void *arg)
{
    struct tx_thread *p = arg;
    call(p->f, ddb_transact_write_items,
         "{\"TransactItems\":[{\"Put\":{\"TableName\":\"txg\",\"Item\":{\"h\":{\"S\":\"r\"},"
         "\"g\":{\"S\":\"G\"}},\"ConditionExpression\":\"attribute_not_exists(h)\"}}]}",
         &p->a);
    return NULL;
}

static void test_racing_table_replacement(void **state)
{
    struct fixture *f = *state;
    struct gate g;
    struct tx_thread p = { f, { 0 } };
    struct store_stats before, after;
    struct ddb_schema s;
    char arn[1100];
    pthread_t t;
    json_t *item;

    ok(f, ddb_create_table, table_g);
    memset(&g, 0, sizeof g);
    g.base.apply = gate_apply;
    g.f = f;
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    assert_int_equal(store_submit(f->st, &g.base), 0);
    pthread_mutex_lock(&g.mu);
    while (!g.entered) {
        pthread_cond_wait(&g.cv, &g.mu);
    }
    pthread_mutex_unlock(&g.mu);
    store_get_stats(f->st, &before);
    /* The transaction reads the old table's id and queues behind the gate. */
    assert_int_equal(pthread_create(&t, NULL, tx_main, &p), 0);
    wait_queued_past(f->st, before.queue_depth);
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_signal(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(t, NULL);
    /* Its first run failed with the table replaced; it started over and landed in the new
     * table, index entry and counters included. */
    store_get_stats(f->st, &after);
    assert_true(after.ops_failed > before.ops_failed);
    assert_int_equal(p.a.err, AWSERR_NONE);
    json_decref(p.a.body);
    item = get(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"r\"}}}");
    assert_non_null(item);
    json_decref(item);
    s = schema_of(f, "txg", arn, sizeof arn);
    assert_int_equal(count_of(f, s.id), 1);
    assert_int_equal(count_of(f, s.index[0].id), 1);
    pthread_mutex_destroy(&g.mu);
    pthread_cond_destroy(&g.cv);
}

/* ---- a token in flight ---- */

/* An op that holds the writer until opened. */
struct hold {
    struct store_op base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
};

static int hold_apply(struct store_op *op, MDB_txn *txn)
{
    struct hold *h = (struct hold *)op;
    (void)txn;
    pthread_mutex_lock(&h->mu);
    h->entered = true;
    pthread_cond_broadcast(&h->cv);
    while (!h->open) {
        pthread_cond_wait(&h->cv, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return 0;
}

static const char add_with_token[] =
    "{\"ClientRequestToken\":\"tok-1\",\"TransactItems\":[{\"Update\":{\"TableName\":"
    "\"txg\",\"Key\":{\"h\":{\"S\":\"c\"}},\"UpdateExpression\":\"ADD n :one\","
    "\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"}}}}]}";

static void *add_main(void *arg)
{
    struct tx_thread *p = arg;
    call(p->f, ddb_transact_write_items, add_with_token, &p->a);
    return NULL;
}

static bool token_in_flight(struct fixture *f)
{
    bool any;
    pthread_mutex_lock(&f->d->tx_mu);
    any = f->d->tx_inflight != NULL;
    pthread_mutex_unlock(&f->d->tx_mu);
    return any;
}

/* A second request with the token of one still queued for the writer is refused with
 * TransactionInProgressException, not answered as a replay; once the first has committed,
 * the same request is a replay (applied once). */
static void test_token_in_flight(void **state)
{
    struct fixture *f = *state;
    struct hold h;
    struct tx_thread p = { f, { 0 } };
    struct answer a;
    pthread_t t;
    json_t *item;

    ok(f, ddb_create_table, table_g);
    memset(&h, 0, sizeof h);
    h.base.apply = hold_apply;
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    assert_int_equal(store_submit(f->st, &h.base), 0);
    pthread_mutex_lock(&h.mu);
    while (!h.entered) {
        pthread_cond_wait(&h.cv, &h.mu);
    }
    pthread_mutex_unlock(&h.mu);
    assert_int_equal(pthread_create(&t, NULL, add_main, &p), 0);
    while (!token_in_flight(f)) {
        nap();
    }
    call(f, ddb_transact_write_items, add_with_token, &a);
    assert_int_equal(a.err, AWSERR_TRANSACTION_IN_PROGRESS);
    assert_string_equal(a.msg, "Transaction from previous request is still in progress");
    pthread_mutex_lock(&h.mu);
    h.open = true;
    pthread_cond_signal(&h.cv);
    pthread_mutex_unlock(&h.mu);
    pthread_join(t, NULL);
    assert_int_equal(p.a.err, AWSERR_NONE);
    json_decref(p.a.body);
    assert_false(token_in_flight(f));
    /* Committed: the same request is now a replay. */
    ok(f, ddb_transact_write_items, add_with_token);
    item = get(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"c\"}}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(item, "n"), "N")), "1");
    json_decref(item);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_core_with_built_actions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_in_second_pass_leaves_no_trace, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_expired_token_is_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reasons_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_racing_table_replacement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_in_flight, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
