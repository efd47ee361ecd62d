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
    s = read_schema(f, "txg", arn, sizeof arn);
    assert_int_equal(strm_latest_seq(f->s, arn, &seq0), 0);
    ok(f, direct_handler, "{}");
    item = get_item(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"new\"}}}");
    assert_non_null(item);
    json_decref(item);
    assert_null(get_item(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"gone\"}}}"));
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
    s = read_schema(f, "txg", arn, sizeof arn);
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
    assert_null(get_item(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"a\"}}}"));
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
    item = get_item(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"c\"}}}");
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

static void test_racing_table_replacement(void **state)
{
    struct fixture *f = *state;
    struct race_req p = {
        .handler = ddb_transact_write_items,
        .body = "{\"TransactItems\":[{\"Put\":{\"TableName\":\"txg\","
                "\"Item\":{\"h\":{\"S\":\"r\"},\"g\":{\"S\":\"G\"}},"
                "\"ConditionExpression\":\"attribute_not_exists(h)\"}}]}",
    };
    struct ddb_schema s;
    char arn[1100];
    json_t *item;

    ok(f, ddb_create_table, table_g);
    /* The transaction reads the old table's id and queues behind the gate. Its first run
     * failed with the table replaced; it started over and landed in the new table, index
     * entry and counters included. */
    assert_true(race(f, "txg", &p) > 0);
    assert_int_equal(p.a.err, AWSERR_NONE);
    json_decref(p.a.body);
    item = get_item(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"r\"}}}");
    assert_non_null(item);
    json_decref(item);
    s = read_schema(f, "txg", arn, sizeof arn);
    assert_int_equal(count_of(f, s.id), 1);
    assert_int_equal(count_of(f, s.index[0].id), 1);
}

/* ---- a token in flight ---- */

static const char add_with_token[] =
    "{\"ClientRequestToken\":\"tok-1\",\"TransactItems\":[{\"Update\":{\"TableName\":"
    "\"txg\",\"Key\":{\"h\":{\"S\":\"c\"}},\"UpdateExpression\":\"ADD n :one\","
    "\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"}}}}]}";

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
    struct gate h;
    struct race_req p = { .handler = ddb_transact_write_items, .body = add_with_token, .f = f };
    struct answer a;
    pthread_t t;
    json_t *item;

    ok(f, ddb_create_table, table_g);
    gate_enter(f, &h, NULL);
    assert_int_equal(pthread_create(&t, NULL, race_main, &p), 0);
    while (!token_in_flight(f)) {
        nap();
    }
    call(f, ddb_transact_write_items, add_with_token, &a);
    assert_int_equal(a.err, AWSERR_TRANSACTION_IN_PROGRESS);
    assert_string_equal(a.msg, "Transaction from previous request is still in progress");
    gate_open(&h);
    pthread_join(t, NULL);
    assert_int_equal(p.a.err, AWSERR_NONE);
    json_decref(p.a.body);
    assert_false(token_in_flight(f));
    /* Committed: the same request is now a replay. */
    ok(f, ddb_transact_write_items, add_with_token);
    item = get_item(f, "{\"TableName\":\"txg\",\"Key\":{\"h\":{\"S\":\"c\"}}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(item, "n"), "N")), "1");
    json_decref(item);
    gate_release(&h);
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
