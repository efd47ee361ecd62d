/*
 * test_dynamodb_item.c: the DynamoDB item handlers (src/dynamodb/item.c, key.c, catalog.c,
 * stream_record.c) in process, with fake requests and no socket (R29): keys of every type and
 * the long-key form, a write racing with its table being replaced, counters, stream records
 * only for changes (UpdateItem's too), the reclaiming of a deleted table's items in
 * bounded ops, and the write step's flags (src/dynamodb/write.c, ddb__change_apply()).
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

static const char table_sn[] =
    "{\"TableName\":\"tsn\",\"BillingMode\":\"PAY_PER_REQUEST\","
    "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
    "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"r\",\"AttributeType\":\"N\"}],"
    "\"StreamSpecification\":{\"StreamEnabled\":true,\"StreamViewType\":\"NEW_AND_OLD_IMAGES\"}}";

static uint64_t stream_seq(struct fixture *f, const char *table)
{
    char arn[1100];
    uint64_t seq = 0;
    read_schema(f, table, arn, sizeof arn);
    assert_int_equal(strm_latest_seq(f->s, arn, &seq), 0);
    return seq;
}

static void test_put_get_delete_and_stream(void **state)
{
    struct fixture *f = *state;
    json_t *item;
    uint64_t s0, s1;

    ok(f, ddb_create_table, table_sn);
    s0 = stream_seq(f, "tsn");
    ok(f, ddb_put_item, "{\"TableName\":\"tsn\",\"Item\":{\"h\":{\"S\":\"a\"},"
                        "\"r\":{\"N\":\"1.0\"},\"v\":{\"N\":\"1\"}}}");
    item = get_item(f, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"a\"},\"r\":{\"N\":\"1\"}}}");
    assert_non_null(item);
    assert_string_equal(json_string_value(json_object_get(json_object_get(item, "r"), "N")),
                        "1");
    json_decref(item);
    assert_int_equal(described(f, "tsn", "ItemCount"), 1);
    s1 = stream_seq(f, "tsn");
    assert_true(s1 > s0);
    /* The same item again, and a delete of a missing one: no record, no count change. */
    ok(f, ddb_put_item, "{\"TableName\":\"tsn\",\"Item\":{\"v\":{\"N\":\"1.00\"},"
                        "\"r\":{\"N\":\"1\"},\"h\":{\"S\":\"a\"}}}");
    ok(f, ddb_delete_item, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"b\"},"
                           "\"r\":{\"N\":\"1\"}}}");
    assert_int_equal(stream_seq(f, "tsn"), s1);
    assert_int_equal(described(f, "tsn", "ItemCount"), 1);
    ok(f, ddb_delete_item, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"a\"},"
                           "\"r\":{\"N\":\"1\"}}}");
    assert_true(stream_seq(f, "tsn") > s1);
    assert_int_equal(described(f, "tsn", "ItemCount"), 0);
    assert_null(
        get_item(f, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"a\"},\"r\":{\"N\":\"1\"}}}"));
}

/* UpdateItem keeps the counters and the stream as PutItem does: a record for each change,
 * none for an update that changes nothing or whose condition fails. */
static void test_update_item_counts_and_stream(void **state)
{
    struct fixture *f = *state;
    uint64_t s0, s1, s2;
    json_t *item;

    ok(f, ddb_create_table, table_sn);
    s0 = stream_seq(f, "tsn");
    ok(f, ddb_update_item, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"a\"},"
                           "\"r\":{\"N\":\"1\"}},\"UpdateExpression\":\"SET v = :v, w = :w\","
                           "\"ExpressionAttributeValues\":{\":v\":{\"S\":\"xy\"},"
                           "\":w\":{\"N\":\"12\"}}}");
    s1 = stream_seq(f, "tsn");
    assert_true(s1 > s0);
    assert_int_equal(described(f, "tsn", "ItemCount"), 1);
    /* h (1 + 1) + r (1 + 2) + v (1 + 2) + w (1 + 2) */
    assert_int_equal(described(f, "tsn", "TableSizeBytes"), 11);
    /* The same values again: no change, no record. */
    ok(f, ddb_update_item, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"a\"},"
                           "\"r\":{\"N\":\"1\"}},\"UpdateExpression\":\"SET v = :v\","
                           "\"ExpressionAttributeValues\":{\":v\":{\"S\":\"xy\"}}}");
    assert_int_equal(stream_seq(f, "tsn"), s1);
    /* A false condition changes nothing. */
    fails(f, ddb_update_item,
          "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"a\"},\"r\":{\"N\":\"1\"}},"
          "\"UpdateExpression\":\"REMOVE v\",\"ConditionExpression\":\"w > :n\","
          "\"ExpressionAttributeValues\":{\":n\":{\"N\":\"12\"}}}",
          AWSERR_CONDITIONAL_CHECK_FAILED, "The conditional request failed");
    assert_int_equal(stream_seq(f, "tsn"), s1);
    ok(f, ddb_update_item, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"a\"},"
                           "\"r\":{\"N\":\"1\"}},\"UpdateExpression\":\"REMOVE v\","
                           "\"ConditionExpression\":\"w >= :n\","
                           "\"ExpressionAttributeValues\":{\":n\":{\"N\":\"12\"}}}");
    s2 = stream_seq(f, "tsn");
    assert_true(s2 > s1);
    assert_int_equal(described(f, "tsn", "TableSizeBytes"), 8);
    assert_int_equal(described(f, "tsn", "ItemCount"), 1);
    item = get_item(f, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"a\"},\"r\":{\"N\":\"1\"}}}");
    assert_null(json_object_get(item, "v"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(item, "w"), "N")),
                        "12");
    json_decref(item);
}

static void test_key_errors(void **state)
{
    struct fixture *f = *state;
    const enum awserr V = AWSERR_VALIDATION;
    ok(f, ddb_create_table, table_sn);
    fails(f, ddb_put_item, "{\"TableName\":\"tsn\",\"Item\":{\"h\":{\"S\":\"a\"}}}", V,
          "One or more parameter values were invalid: Missing the key r in the item");
    fails(f, ddb_put_item, "{\"TableName\":\"tsn\",\"Item\":{\"h\":{\"S\":\"a\"},\"r\":{\"S\":\"1\"}}}",
          V, "One or more parameter values were invalid: Type mismatch for key r expected: N "
             "actual: S");
    fails(f, ddb_get_item, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"a\"}}}", V,
          "The provided key element does not match the schema");
    fails(f, ddb_get_item, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"B\":\"YQ==\"},"
                           "\"r\":{\"N\":\"1\"}}}",
          V, "The provided key element does not match the schema");
    fails(f, ddb_get_item, "{\"TableName\":\"nope\",\"Key\":{}}", AWSERR_RESOURCE_NOT_FOUND,
          "Requested resource not found");
}

/* Builds the key of a one-attribute item under s. */
static int key_of(const struct ddb_schema *s, const char *item_json, struct ddb_key *k,
                  struct ddb_key_err *e)
{
    struct arena a;
    struct buf b;
    struct ddb_err err;
    size_t size;
    json_error_t jerr;
    json_t *j = json_loads(item_json, 0, &jerr);
    int rc;
    arena_init(&a);
    buf_init(&b, DDB_ITEM_ENC_MAX);
    assert_int_equal(ddb_item_encode(j, &a, &b, &size, &err), 0);
    rc = ddb__key_of(s, b.p, b.len, false, k, e);
    buf_release(&b);
    arena_clear(&a);
    json_decref(j);
    return rc;
}

static void test_long_keys(void **state)
{
    struct ddb_schema s;
    struct ddb_key k1, k2, k3;
    struct ddb_key_err e;
    char *item = malloc(8192);
    (void)state;

    memset(&s, 0, sizeof s);
    s.id = 0x01020304;
    s.hash = SL_STR_LIT("h");
    s.hash_type = DDB_S;
    /* Short keys: the id prefix, then the escaped bytes and terminator. */
    assert_int_equal(key_of(&s, "{\"h\":{\"S\":\"ab\"}}", &k1, &e), 0);
    assert_int_equal(k1.len, 4 + 2 + 2);
    assert_memory_equal(k1.b, "\x01\x02\x03\x04" "ab\x00\x01", 8);
    /* A 2048-byte key: the first 479 bytes, then the SHA-256 of all of it. */
    snprintf(item, 8192, "{\"h\":{\"S\":\"%02048d\"}}", 1);
    assert_int_equal(key_of(&s, item, &k2, &e), 0);
    snprintf(item, 8192, "{\"h\":{\"S\":\"%02048d\"}}", 2);
    assert_int_equal(key_of(&s, item, &k3, &e), 0);
    assert_int_equal(k2.len, DDB_KEY_LMDB_MAX);
    assert_int_equal(k3.len, DDB_KEY_LMDB_MAX);
    assert_memory_equal(k2.b, k3.b, DDB_KEY_SHORT_MAX);
    assert_memory_not_equal(k2.b + DDB_KEY_SHORT_MAX, k3.b + DDB_KEY_SHORT_MAX, 32);
    snprintf(item, 8192, "{\"h\":{\"S\":\"%02049d\"}}", 1);
    assert_int_equal(key_of(&s, item, &k2, &e), -1);
    assert_int_equal(e.why, DDB_KEY_HASH_SIZE);
    assert_int_equal(key_of(&s, "{\"h\":{\"S\":\"\"}}", &k2, &e), -1);
    assert_int_equal(e.why, DDB_KEY_EMPTY_S);
    assert_string_equal(e.attr, "h");
    free(item);
}

/* ---- a write racing with the replacement of its table ---- */

static void test_write_racing_table_replacement(void **state)
{
    struct fixture *f = *state;
    struct race_req p = {
        .handler = ddb_put_item,
        .body = "{\"TableName\":\"race\",\"Item\":{\"k\":{\"S\":\"x\"}}}",
    };
    json_t *item;

    ok(f, ddb_create_table, "{\"TableName\":\"race\",\"BillingMode\":\"PAY_PER_REQUEST\","
                            "\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}],"
                            "\"AttributeDefinitions\":[{\"AttributeName\":\"k\","
                            "\"AttributeType\":\"S\"}]}");
    /* The PutItem reads the old table's id and queues behind the gate. The write found its
     * table replaced (its first run failed), started over and landed in the new one. */
    assert_true(race(f, "race", &p) > 0);
    assert_int_equal(p.a.err, AWSERR_NONE);
    json_decref(p.a.body);
    item = get_item(f, "{\"TableName\":\"race\",\"Key\":{\"k\":{\"S\":\"x\"}}}");
    assert_non_null(item);
    json_decref(item);
    assert_int_equal(described(f, "race", "ItemCount"), 1);
}

/* ---- reclaiming ---- */

static size_t entries(struct fixture *f, MDB_dbi dbi)
{
    MDB_txn *txn;
    MDB_stat ms;
    assert_int_equal(store_read_begin(f->st, &txn), 0);
    assert_int_equal(mdb_stat(txn, dbi, &ms), 0);
    store_read_end(f->st, txn);
    return ms.ms_entries;
}

struct fill {
    struct store_op base;
    struct fixture *f;
    int n;
};

/* Writes n items straight into table "big" (faster than n requests). */
static int fill_apply(struct store_op *op, MDB_txn *txn)
{
    struct fill *fl = (struct fill *)op;
    struct ddb_schema s;
    int rc = ddb__schema_get(fl->f->d, txn, "big", &s);
    for (int i = 0; rc == 0 && i < fl->n; i++) {
        unsigned char k[16], v[8] = { 1, 0, 0, 0, 0, 0 };
        MDB_val mk = { 12, k }, mv = { 6, v };
        ddb__key_prefix(s.id, k);
        memcpy(k + 4, &i, sizeof i);
        memset(k + 8, 0xEE, 4);
        rc = mdb_put(txn, fl->f->d->items, &mk, &mv, 0);
    }
    return rc;
}

static void test_delete_table_reclaims_in_bounded_ops(void **state)
{
    struct fixture *f = *state;
    struct fill fl;
    struct store_stats before, after;
    int n = 3 * DDB_RECLAIM_BATCH + 17;

    ok(f, ddb_create_table, "{\"TableName\":\"big\",\"BillingMode\":\"PAY_PER_REQUEST\","
                            "\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}],"
                            "\"AttributeDefinitions\":[{\"AttributeName\":\"k\","
                            "\"AttributeType\":\"S\"}]}");
    ok(f, ddb_create_table, table_sn);
    ok(f, ddb_put_item, "{\"TableName\":\"tsn\",\"Item\":{\"h\":{\"S\":\"keep\"},"
                        "\"r\":{\"N\":\"1\"}}}");
    memset(&fl, 0, sizeof fl);
    fl.base.apply = fill_apply;
    fl.f = f;
    fl.n = n;
    assert_int_equal(store_submit_wait(f->st, &fl.base), 0);
    assert_int_equal(entries(f, f->d->items), (size_t)n + 1);
    store_get_stats(f->st, &before);
    ok(f, ddb_delete_table, "{\"TableName\":\"big\"}");
    for (int i = 0; i < 25000 && entries(f, f->d->items) != 1; i++) {
        nap();
    }
    assert_int_equal(entries(f, f->d->items), 1);
    assert_int_equal(entries(f, f->d->reclaim), 0);
    store_get_stats(f->st, &after);
    /* At least one op per batch: no single op held the writer for the whole table. */
    assert_true(after.ops - before.ops >= 4);
    /* The other table's item is untouched. */
    json_decref(get_item(f, "{\"TableName\":\"tsn\",\"Key\":{\"h\":{\"S\":\"keep\"},"
                       "\"r\":{\"N\":\"1\"}}}"));
    assert_int_equal(described(f, "tsn", "ItemCount"), 1);
}

/* ---- catalogs from before schema records ---- */

struct raw_put {
    struct store_op base;
    MDB_dbi dbi;
    const char *key, *val;
};

static int raw_put_apply(struct store_op *op, MDB_txn *txn)
{
    struct raw_put *p = (struct raw_put *)op;
    MDB_val k = { strlen(p->key), (void *)p->key }, v = { strlen(p->val), (void *)p->val };
    return mdb_put(txn, p->dbi, &k, &v, 0);
}

static void test_older_catalog_gets_schema_records(void **state)
{
    struct fixture *f = *state;
    struct raw_put p;
    json_t *item;

    /* A catalog entry as written before tables had schema records and ids. */
    memset(&p, 0, sizeof p);
    p.base.apply = raw_put_apply;
    p.dbi = f->d->tables;
    p.key = "old";
    p.val = "{\"TableName\":\"old\",\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":"
            "\"HASH\"}],\"AttributeDefinitions\":[{\"AttributeName\":\"k\",\"AttributeType\":"
            "\"N\"}],\"TableStatus\":\"ACTIVE\",\"TableArn\":\"arn:aws:dynamodb:us-east-1:"
            "000000000000:table/old\"}";
    assert_int_equal(store_submit_wait(f->st, &p.base), 0);
    fails(f, ddb_put_item, "{\"TableName\":\"old\",\"Item\":{\"k\":{\"N\":\"1\"}}}",
          AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found");
    /* The next start gives it one. */
    ddb_free(f->d);
    assert_int_equal(ddb_new(f->st, f->s, "us-east-1", "000000000000", &f->d, &f->svc), 0);
    ok(f, ddb_put_item, "{\"TableName\":\"old\",\"Item\":{\"k\":{\"N\":\"1\"}}}");
    item = get_item(f, "{\"TableName\":\"old\",\"Key\":{\"k\":{\"N\":\"1.0\"}}}");
    assert_non_null(item);
    json_decref(item);
    assert_int_equal(described(f, "old", "ItemCount"), 1);
}

/* ---- the write step called directly ---- */

struct change_op {
    struct store_op base;
    struct ddb *d;
    struct ddb_change c;
};

static int change_apply(struct store_op *op, MDB_txn *txn)
{
    struct change_op *o = (struct change_op *)op;
    struct ddb_schema s;
    return ddb__change_apply(o->d, txn, &o->c, &s);
}

/* Runs o's change as kind with flags and cond in the writer and gives its outcome; the
 * change's items stay the caller's. */
static int change_run(struct fixture *f, struct change_op *o, enum ddb_change_kind kind,
                      unsigned flags, const struct ddb_node *cond)
{
    o->c.kind = kind;
    o->c.flags = flags;
    o->c.cond = cond;
    memset(&o->base, 0, sizeof o->base);
    o->base.apply = change_apply;
    o->d = f->d;
    return store_submit_wait(f->st, &o->base);
}

/* The value of n (a number) in an encoded item. */
static int n_of(const char *item, size_t len)
{
    struct buf b;
    json_error_t jerr;
    json_t *j;
    int n;
    buf_init(&b, 4 * DDB_ITEM_ENC_MAX);
    assert_int_equal(ddb_item_write_json(item, len, NULL, 0, &b), 0);
    j = json_loadb(b.p, b.len, 0, &jerr);
    assert_non_null(j);
    n = (int)strtol(json_string_value(json_object_get(json_object_get(j, "n"), "N")), NULL, 10);
    json_decref(j);
    buf_release(&b);
    return n;
}

static int stored_n(struct fixture *f)
{
    json_t *item = get_item(f, "{\"TableName\":\"chg\",\"Key\":{\"k\":{\"S\":\"a\"}}}");
    int n;
    assert_non_null(item);
    n = (int)strtol(json_string_value(json_object_get(json_object_get(item, "n"), "N")), NULL,
                    10);
    json_decref(item);
    return n;
}

static void test_change_flags(void **state)
{
    struct fixture *f = *state;
    struct change_op o;
    struct ddb_schema s;
    struct ddb_key key;
    struct ddb_key_err kerr;
    struct ddb_expr_ctx ec;
    struct ddb_err err;
    struct ddb_node *exists, *missing;
    struct ddb_update *inc;
    struct arena a;
    json_t *values = json_loads("{\":one\":{\"N\":\"1\"}}", 0, NULL);
    const char *item, *keymap;
    size_t item_len, key_len;
    MDB_txn *txn;

    ok(f, ddb_create_table, "{\"TableName\":\"chg\",\"BillingMode\":\"PAY_PER_REQUEST\","
                            "\"KeySchema\":[{\"AttributeName\":\"k\",\"KeyType\":\"HASH\"}],"
                            "\"AttributeDefinitions\":[{\"AttributeName\":\"k\","
                            "\"AttributeType\":\"S\"}]}");
    ok(f, ddb_put_item,
       "{\"TableName\":\"chg\",\"Item\":{\"k\":{\"S\":\"a\"},\"n\":{\"N\":\"1\"}}}");
    arena_init(&a);
    item = encode_json(&a, "{\"k\":{\"S\":\"a\"},\"n\":{\"N\":\"7\"}}", &item_len, NULL);
    keymap = encode_json(&a, "{\"k\":{\"S\":\"a\"}}", &key_len, NULL);
    assert_int_equal(store_read_begin(f->st, &txn), 0);
    assert_int_equal(ddb__schema_get(f->d, txn, "chg", &s), 0);
    assert_int_equal(ddb__key_of(&s, keymap, key_len, true, &key, &kerr), 0);
    store_read_end(f->st, txn);
    assert_int_equal(ddb_expr_ctx_init(&ec, &a, NULL, values, &err), 0);
    assert_int_equal(ddb_expr_parse_cond(&ec, DDB_EXPR_CONDITION, "attribute_exists(k)", 19,
                                         &exists), 0);
    assert_int_equal(ddb_expr_parse_cond(&ec, DDB_EXPR_CONDITION, "attribute_not_exists(k)",
                                         23, &missing), 0);
    assert_int_equal(ddb_expr_parse_update(&ec, "SET n = n + :one", 16, &inc), 0);

    memset(&o, 0, sizeof o);
    o.c.table = "chg";
    o.c.table_id = s.id;
    o.c.key = &key;

    /* PartiQL's INSERT: an item there refuses the put before its condition is looked at. */
    o.c.item = item;
    o.c.item_len = item_len;
    assert_int_equal(change_run(f, &o, DDB_CHANGE_PUT, DDB_CHANGE_ABSENT, exists),
                     DDB_CHANGE_EXISTS);
    assert_int_equal(stored_n(f), 1);

    /* A false condition, with the item there kept for the answer. */
    o.c.item = keymap;
    o.c.item_len = key_len;
    assert_int_equal(change_run(f, &o, DDB_CHANGE_DELETE, DDB_CHANGE_RVOCCF, missing),
                     DDB_CHANGE_CONDITION_FAILED);
    assert_non_null(o.c.ret_item);
    assert_int_equal(n_of(o.c.ret_item, o.c.ret_len), 1);
    assert_int_equal(described(f, "chg", "ItemCount"), 1);

    /* Decided, not written: a transaction's first pass keeps the updated item. */
    o.c.update = inc;
    assert_int_equal(change_run(f, &o, DDB_CHANGE_UPDATE, DDB_CHANGE_DRY, exists), 0);
    assert_null(o.c.ret_item);
    assert_non_null(o.c.new_);
    assert_int_equal(n_of(o.c.new_, o.c.new_len), 2);
    assert_int_equal(stored_n(f), 1);
    assert_int_equal(change_run(f, &o, DDB_CHANGE_DELETE, DDB_CHANGE_DRY, exists), 0);
    assert_null(o.c.new_);
    assert_int_equal(described(f, "chg", "ItemCount"), 1);

    /* Written, with the updated paths as they are now for the answer. */
    o.c.ret = DDB_RET_UPDATED_NEW;
    assert_int_equal(change_run(f, &o, DDB_CHANGE_UPDATE, 0, exists), 0);
    assert_non_null(o.c.ret_item);
    assert_int_equal(n_of(o.c.ret_item, o.c.ret_len), 2);
    assert_int_equal(stored_n(f), 2);
    assert_int_equal(o.c.wr.old_size, o.c.wr.new_size);

    /* A table replaced since the key was built. */
    o.c.table_id = s.id + 1000;
    assert_int_equal(change_run(f, &o, DDB_CHANGE_UPDATE, 0, exists), -ESTALE);
    assert_int_equal(stored_n(f), 2);

    free(o.c.ret_item);
    free(o.c.new_);
    arena_clear(&a);
    json_decref(values);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete_and_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_item_counts_and_stream, setup, teardown),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test_setup_teardown(test_write_racing_table_replacement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_table_reclaims_in_bounded_ops, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_older_catalog_gets_schema_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_flags, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
