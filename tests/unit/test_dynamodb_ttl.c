/*
 * test_dynamodb_ttl.c: the expiry index of tables with time to live (src/dynamodb/ttl.c,
 * write.c, backfill.c): its entries follow puts, updates, deletions and changes of the
 * attribute, the backfill gives the items stored before time to live was enabled theirs,
 * disabling removes them all; and a sweep reads only the entries of expired items, deletes
 * exactly those items, and leaves the ones past the five-year rule.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "ddb_handlers.h"

static struct sl_str str_of(const char *s)
{
    return (struct sl_str){ s, strlen(s) };
}

static uint32_t ttl_id_of(struct fixture *f, const char *table)
{
    return read_schema(f, table, NULL, 0).ttl_id;
}

/* Every item of table with an expiry time has its entry at that time, and the index holds
 * nothing else. Returns the number of entries. */
static size_t check_expiry(struct fixture *f, const char *table)
{
    MDB_txn *txn;
    struct walk w;
    struct ddb_schema s;
    size_t with = 0, n;

    assert_int_equal(store_read_begin(f->st, &txn), 0);
    assert_int_equal(ddb__schema_get(f->d, txn, table, &s), 0);
    assert_true(s.ttl_id != 0);
    for (bool on = walk_first(&w, txn, f->d->items, s.id); on; on = walk_next(&w)) {
        unsigned char eb[DDB_EXPIRY_KEY_LEN];
        MDB_val ek = { sizeof eb, eb }, ev = w.k;
        MDB_cursor *e;
        uint64_t at;
        if (!ddb__ttl_expiry(w.v.mv_data, w.v.mv_size, s.ttl_attr, &at)) {
            continue;
        }
        with++;
        ddb__expiry_key(s.ttl_id, at, eb);
        assert_int_equal(mdb_cursor_open(txn, f->d->expiry, &e), 0);
        assert_int_equal(mdb_cursor_get(e, &ek, &ev, MDB_GET_BOTH), 0);
        mdb_cursor_close(e);
    }
    walk_end(&w);
    n = s.ttl_id;
    store_read_end(f->st, txn);
    assert_int_equal(entries_under(f, f->d->expiry, (uint32_t)n), with);
    return with;
}

/* Waits for the backfill of table's expiry index to end (its cursor gone). */
static void backfilled(struct fixture *f, const char *table)
{
    unsigned char bk[8 + 4];
    uint32_t id = ttl_id_of(f, table);
    bool done = false;

    memcpy(bk, "backfill", 8);
    ddb__key_prefix(id, bk + 8);
    for (int tries = 0; tries < 10000 && !done; tries++) {
        MDB_txn *txn;
        MDB_val k = { sizeof bk, bk }, v;
        assert_int_equal(store_read_begin(f->st, &txn), 0);
        done = mdb_get(txn, f->d->meta, &k, &v) == MDB_NOTFOUND;
        store_read_end(f->st, txn);
        if (!done) {
            nap();
        }
    }
    assert_true(done);
}

static void put(struct fixture *f, const char *table, int i, const char *exp)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"Item\":{\"h\":{\"S\":\"h%d\"}%s%s}}", table, i,
             exp ? "," : "", exp ? exp : "");
    ok(f, ddb_put_item, body);
}

static void create(struct fixture *f, const char *table)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"BillingMode\":\"PAY_PER_REQUEST\","
             "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"}],"
             "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"}]}",
             table);
    ok(f, ddb_create_table, body);
}

static void ttl(struct fixture *f, const char *table, bool on)
{
    char body[256];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"TimeToLiveSpecification\":{\"AttributeName\":\"exp\","
             "\"Enabled\":%s}}",
             table, on ? "true" : "false");
    ok(f, ddb_update_time_to_live, body);
}

static void test_expiry_of_numbers(void **state)
{
    static const struct {
        const char *n;
        bool has;
        uint64_t at;
    } cases[] = {
        { "1700000000", true, 1700000000 }, { "0", true, 0 },
        { "1700000000.25", true, 1700000001 }, { "0.5", true, 1 },
        { "-1700000000", false, 0 }, { "-0.5", false, 0 },
        { "99999999999999999999999999999999999999", false, 0 },
    };
    char json[256];
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ddb_err err;
        json_error_t jerr;
        json_t *item;
        struct buf b;
        struct arena a;
        size_t size;
        uint64_t at = 0;
        snprintf(json, sizeof json, "{\"exp\":{\"N\":\"%s\"}}", cases[i].n);
        item = json_loads(json, 0, &jerr);
        buf_init(&b, DDB_ITEM_ENC_MAX);
        arena_init(&a);
        assert_int_equal(ddb_item_encode(item, &a, &b, &size, &err), 0);
        arena_clear(&a);
        assert_int_equal(ddb__ttl_expiry(b.p, b.len, str_of("exp"), &at), cases[i].has);
        if (cases[i].has) {
            assert_int_equal(at, cases[i].at);
        }
        assert_false(ddb__ttl_expiry(b.p, b.len, str_of("other"), &at));
        buf_release(&b);
        json_decref(item);
    }
}

static void test_entries_follow_writes(void **state)
{
    struct fixture *f = *state;
    char body[512], exp[64];
    uint32_t id;

    create(f, "ttt");
    /* Stored before time to live: more than one backfill op's worth, of every kind. */
    for (int i = 0; i < DDB_BACKFILL_BATCH + 500; i++) {
        if (i % 5 == 0) {
            put(f, "ttt", i, NULL);
        }
        else if (i % 5 == 1) {
            put(f, "ttt", i, "\"exp\":{\"S\":\"1700000000\"}");
        }
        else {
            snprintf(exp, sizeof exp, "\"exp\":{\"N\":\"%d\"}", 1700000000 + i);
            put(f, "ttt", i, exp);
        }
    }
    /* The backfill waits while writes go on. */
    pause_background(f, true);
    ttl(f, "ttt", true);
    id = ttl_id_of(f, "ttt");
    assert_true(id != 0);
    assert_int_equal(entries_under(f, f->d->expiry, id), 0);
    put(f, "ttt", 100000, "\"exp\":{\"N\":\"1800000000\"}");
    assert_int_equal(entries_under(f, f->d->expiry, id), 1);
    /* Moved, removed, given another type, deleted, given one. */
    ok(f, ddb_update_item,
       "{\"TableName\":\"ttt\",\"Key\":{\"h\":{\"S\":\"h2\"}},\"UpdateExpression\":\"SET exp = "
       ":e\",\"ExpressionAttributeValues\":{\":e\":{\"N\":\"1900000000\"}}}");
    ok(f, ddb_update_item,
       "{\"TableName\":\"ttt\",\"Key\":{\"h\":{\"S\":\"h3\"}},\"UpdateExpression\":\"REMOVE "
       "exp\"}");
    ok(f, ddb_update_item,
       "{\"TableName\":\"ttt\",\"Key\":{\"h\":{\"S\":\"h4\"}},\"UpdateExpression\":\"SET exp = "
       ":e\",\"ExpressionAttributeValues\":{\":e\":{\"S\":\"soon\"}}}");
    ok(f, ddb_delete_item, "{\"TableName\":\"ttt\",\"Key\":{\"h\":{\"S\":\"h7\"}}}");
    ok(f, ddb_update_item,
       "{\"TableName\":\"ttt\",\"Key\":{\"h\":{\"S\":\"h5\"}},\"UpdateExpression\":\"SET exp = "
       ":e\",\"ExpressionAttributeValues\":{\":e\":{\"N\":\"1750000000.5\"}}}");
    /* h2 (moved) and h5 (given one): entries; h3, h4, h7 never had one yet. */
    assert_int_equal(entries_under(f, f->d->expiry, id), 3);

    pause_background(f, false);
    ddb__backfill_kick(f->d);
    backfilled(f, "ttt");
    /* 3 of 5 of the 1,500 items have a Number; h3, h4 and h7 lost theirs; h5 got one; and
     * h100000. */
    assert_int_equal(check_expiry(f, "ttt"), 900 - 3 + 1 + 1);

    /* After the backfill the writes keep it so. */
    for (int i = 0; i < 300; i += 3) {
        snprintf(body, sizeof body,
                 i % 2 ? "{\"TableName\":\"ttt\",\"Key\":{\"h\":{\"S\":\"h%d\"}}}"
                       : "{\"TableName\":\"ttt\",\"Key\":{\"h\":{\"S\":\"h%d\"}},"
                         "\"UpdateExpression\":\"SET exp = :e\","
                         "\"ExpressionAttributeValues\":{\":e\":{\"N\":\"2000000000\"}}}",
                 i);
        ok(f, i % 2 ? ddb_delete_item : ddb_update_item, body);
    }
    put(f, "ttt", 12, NULL);
    put(f, "ttt", 13, "\"exp\":{\"N\":\"1700000013\"}");
    check_expiry(f, "ttt");

    /* Disabled: the schema loses the index, its entries are reclaimed, writes add none. */
    ttl(f, "ttt", false);
    assert_int_equal(ttl_id_of(f, "ttt"), 0);
    put(f, "ttt", 200000, "\"exp\":{\"N\":\"1800000000\"}");
    for (int tries = 0; tries < 10000 && entries_under(f, f->d->expiry, id) > 0; tries++) {
        nap();
    }
    assert_int_equal(entries_under(f, f->d->expiry, id), 0);
}

static size_t item_count(struct fixture *f, const char *table)
{
    struct answer a;
    char body[128];
    size_t n;
    snprintf(body, sizeof body, "{\"TableName\":\"%s\",\"Select\":\"COUNT\"}", table);
    call(f, ddb_scan, body, &a);
    assert_int_equal(a.err, AWSERR_NONE);
    n = (size_t)json_integer_value(json_object_get(a.body, "Count"));
    json_decref(a.body);
    return n;
}

static void test_sweep_reads_only_expired(void **state)
{
    struct fixture *f = *state;
    struct ddb_ttl_stats st = { 0, 0 };
    long long now = 1800000000;
    char exp[64];
    int n = 0;

    create(f, "swp");
    create(f, "other");
    /* Many items not yet expired, a few expired, some past the five-year rule, some whose
     * attribute is not a Number; a table without time to live alongside. */
    for (int i = 0; i < 5000; i++) {
        snprintf(exp, sizeof exp, "\"exp\":{\"N\":\"%lld\"}", now + 1 + i);
        put(f, "swp", n++, exp);
    }
    for (int i = 0; i < 30; i++) {
        snprintf(exp, sizeof exp, "\"exp\":{\"N\":\"%lld\"}", now - i * 1000);
        put(f, "swp", n++, exp);
        put(f, "other", i, exp);
    }
    for (int i = 0; i < 5; i++) {
        snprintf(exp, sizeof exp, "\"exp\":{\"N\":\"%lld\"}", now - DDB_TTL_MAX_AGE - 1 - i);
        put(f, "swp", n++, exp);
        snprintf(exp, sizeof exp, "\"exp\":{\"S\":\"%lld\"}", now - 10);
        put(f, "swp", n++, exp);
    }
    ttl(f, "swp", true);
    backfilled(f, "swp");
    assert_int_equal(check_expiry(f, "swp"), 5000 + 30 + 5);

    ddb__ttl_sweep(f->d, now, &st);
    /* Only the 30 expired entries were read, and exactly their items deleted. */
    assert_int_equal(st.entries, 30);
    assert_int_equal(st.deleted, 30);
    assert_int_equal(item_count(f, "swp"), 5000 + 5 + 5);
    assert_int_equal(item_count(f, "other"), 30);
    assert_int_equal(check_expiry(f, "swp"), 5000 + 5);
    /* Nothing more to do at the same time; 100 seconds later, 100 more. */
    memset(&st, 0, sizeof st);
    ddb__ttl_sweep(f->d, now, &st);
    assert_int_equal(st.entries, 0);
    ddb__ttl_sweep(f->d, now + 100, &st);
    assert_int_equal(st.entries, 100);
    assert_int_equal(st.deleted, 100);
    assert_int_equal(item_count(f, "swp"), 4900 + 5 + 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expiry_of_numbers),
        cmocka_unit_test_setup_teardown(test_entries_follow_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_reads_only_expired, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
