/*
 * test_dynamodb_query.c: the reads of many items and the index entries behind them
 * (src/dynamodb/keycond.c, range.c, write.c, query.c): key conditions turned into key ranges
 * checked against the predicate for every value, the key helpers, segment hashing, long keys
 * put back in order by Query, pagination keys of indexes, the item collection limit, and the
 * invariant that every index holds exactly the entries its table's items call for, with exact
 * counters, after a long run of random writes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "ddb_handlers.h"

/* ---- key helpers ---- */

static void test_key_helpers(void **state)
{
    unsigned char b[8];
    unsigned char s_enc[16];
    struct ddb_num num;
    size_t n;
    (void)state;

    assert_true(ddb__key_cmp((const unsigned char *)"ab", 2, (const unsigned char *)"abc", 3) < 0);
    assert_true(ddb__key_cmp((const unsigned char *)"abc", 3, (const unsigned char *)"ab", 2) > 0);
    assert_true(ddb__key_cmp((const unsigned char *)"ab", 2, (const unsigned char *)"ab", 2) == 0);
    assert_true(ddb__key_cmp((const unsigned char *)"b", 1, (const unsigned char *)"ab", 2) > 0);

    memcpy(b, "a\xff\xff", 3);
    assert_int_equal(ddb__key_succ(b, 3), 1);
    assert_int_equal(b[0], 'b');
    memcpy(b, "\xff\xff", 2);
    assert_int_equal(ddb__key_succ(b, 2), 0);
    memcpy(b, "ab", 2);
    assert_int_equal(ddb__key_succ(b, 2), 2);
    assert_memory_equal(b, "ac", 2);

    /* A string with a zero byte: escaped, then the terminator; more bytes after it. */
    n = ddb_key_bytes((const unsigned char *)"a\0b", 3, s_enc);
    assert_int_equal(n, 6);
    memcpy(s_enc + n, "zz", 2);
    assert_int_equal(ddb__key_part_len(s_enc, n + 2, DDB_S), n);
    assert_int_equal(ddb__key_part_len(s_enc, n - 1, DDB_S), 0);
    for (size_t i = 0; i < 5; i++) {
        static const char *const nums[] = { "0", "1", "-1", "12345.678", "-0.000001" };
        assert_int_equal(ddb_num_parse(nums[i], strlen(nums[i]), &num), 0);
        n = ddb_num_key(&num, s_enc);
        s_enc[n] = 0x77;
        assert_int_equal(ddb__key_part_len(s_enc, n + 1, DDB_N), n);
        assert_int_equal(ddb__key_part_len(s_enc, n - 1, DDB_N), n == 1 ? 0 : 0);
    }
}

static void test_segments(void **state)
{
    static const uint32_t totals[] = { 1, 2, 3, 7, 1000, 1000000 };
    unsigned counts[4] = { 0 };
    char key[32];
    (void)state;

    for (size_t t = 0; t < sizeof totals / sizeof totals[0]; t++) {
        for (int i = 0; i < 2000; i++) {
            int n = snprintf(key, sizeof key, "user#%d", i);
            uint32_t s = ddb__segment_of((const unsigned char *)key, (size_t)n, totals[t]);
            assert_true(s < totals[t]);
            /* The same value, the same segment: segments are stable from page to page. */
            assert_int_equal(s, ddb__segment_of((const unsigned char *)key, (size_t)n,
                                                totals[t]));
        }
    }
    for (int i = 0; i < 20000; i++) {
        int n = snprintf(key, sizeof key, "%d", i);
        counts[ddb__segment_of((const unsigned char *)key, (size_t)n, 4)]++;
    }
    for (int s = 0; s < 4; s++) {
        assert_true(counts[s] > 4500 && counts[s] < 5500);
    }
}

/* ---- key conditions ---- */

/* A table (h S, r type) as a schema, for keyspaces without a store. */
static void schema_of(struct ddb_schema *s, int range_type)
{
    memset(s, 0, sizeof *s);
    s->id = 7;
    s->hash = SL_STR_LIT("h");
    s->hash_type = DDB_S;
    s->range = SL_STR_LIT("r");
    s->range_type = range_type;
}

/* An encoded item from JSON text (into the arena). */
static void encode(struct arena *a, const char *json, const void **p, size_t *n)
{
    json_error_t jerr;
    json_t *j = json_loads(json, JSON_ALLOW_NUL, &jerr);
    struct buf b;
    struct ddb_err err;
    size_t size;
    assert_non_null(j);
    buf_init(&b, DDB_ITEM_ENC_MAX);
    assert_int_equal(ddb_item_encode(j, a, &b, &size, &err), 0);
    *p = arena_alloc(a, b.len);
    memcpy((void *)*p, b.p, b.len);
    *n = b.len;
    buf_release(&b);
    json_decref(j);
}

/* Parses a key condition with its values (JSON text), as Query does. Returns 0 or -1 with
 * the message in err. */
static int keycond(struct arena *a, const char *expr, const char *values, struct ddb_keycond *kc,
                   char *err, size_t errlen)
{
    struct ddb_expr_ctx *c = arena_new(a, struct ddb_expr_ctx);
    json_error_t jerr;
    json_t *v = values ? json_loads(values, 0, &jerr) : NULL;
    struct ddb_err e;
    struct ddb_node *x;
    int rc = ddb_expr_ctx_init(c, a, NULL, v, &e);

    assert_int_equal(rc, 0);
    rc = ddb_expr_parse_cond(c, DDB_EXPR_KEY_CONDITION, expr, strlen(expr), &x);
    if (rc == 0) {
        rc = ddb__keycond_from_expr(x, kc, err, errlen);
    }
    else {
        snprintf(err, errlen, "%s", c->err);
    }
    /* The values live in the arena; the JSON tree may go. */
    json_decref(v);
    return rc;
}

/* For every range key value, the key range and the predicate agree. */
static void check_ranges(int type, const char *const *conds, size_t n_conds,
                         const char *const *vals, size_t n_vals)
{
    struct ddb_schema s;
    struct ddb_keyspace ks;
    struct arena a;
    char err[512];

    schema_of(&s, type);
    ddb__keyspace_of(&s, NULL, &ks);
    arena_init(&a);
    for (size_t c = 0; c < n_conds; c++) {
        struct ddb_keycond kc;
        struct ddb_range *rg = arena_alloc(&a, sizeof *rg);
        const struct ddb_kc_term *t;
        char values[512];
        snprintf(values, sizeof values, "{\":h\":{\"S\":\"x\"},\":a\":{\"%s\":\"%s\"},"
                                        "\":b\":{\"%s\":\"%s\"}}",
                 type == DDB_N ? "N" : "S", type == DDB_N ? "2" : "ab",
                 type == DDB_N ? "N" : "S", type == DDB_N ? "10" : "b");
        if (keycond(&a, conds[c], values, &kc, err, sizeof err) < 0) {
            fail_msg("%s: %s", conds[c], err);
        }
        if (ddb__keycond_range(&kc, &ks, rg, err, sizeof err) < 0) {
            fail_msg("%s: %s", conds[c], err);
        }
        t = ddb__keycond_term(&kc, s.range);
        for (size_t i = 0; i < n_vals; i++) {
            for (int other = 0; other < 2; other++) {
                char item[256];
                unsigned char full[DDB_FULLKEY_MAX];
                struct ddb_key_err kerr;
                const void *p;
                size_t np, len;
                struct ddb_attr at;
                struct ddb_val v;
                bool in, want;
                snprintf(item, sizeof item, "{\"h\":{\"S\":\"%s\"},\"r\":{\"%s\":\"%s\"}}",
                         other ? "xy" : "x", type == DDB_N ? "N" : "S", vals[i]);
                encode(&a, item, &p, &np);
                assert_int_equal(ddb__keyspace_key(&ks, p, np, full, &len, &kerr), 0);
                in = ddb__key_cmp(full, len, rg->lo, rg->lo_len) >= 0 &&
                     ddb__key_cmp(full, len, rg->hi, rg->hi_len) < 0;
                assert_int_equal(ddb_item_find(p, np, "r", 1, &at), 1);
                v = ddb_val_of(&at);
                want = !other && (!t || ddb__keycond_match(t, &v));
                if (in != want) {
                    fail_msg("%s with r = %s (hash %s): in range %d, matches %d", conds[c],
                             vals[i], other ? "xy" : "x", in, want);
                }
            }
        }
    }
    arena_clear(&a);
}

static void test_key_condition_ranges(void **state)
{
    static const char *const conds[] = {
        "h = :h", "h = :h AND r = :a", "h = :h AND r < :a", "h = :h AND r <= :a",
        "h = :h AND r > :a", "h = :h AND r >= :a", "h = :h AND r BETWEEN :a AND :b",
        ":a < r AND :h = h", ":a >= r AND h = :h", "(h = :h) AND (r = :b)",
    };
    static const char *const nums[] = { "-1000", "-10.5", "-2", "-0.001", "0", "0.001", "1",
                                        "1.999", "2", "2.0001", "5", "10", "10.5", "1E+20",
                                        "123456789012345678901234567890123456" };
    static const char *const strs[] = { "a", "aa", "ab", "ab\\u0000", "ab\\u0000z", "abc",
                                        "ab\\u00ff", "abz", "b", "b\\u0000", "ba", "c",
                                        "\\u00e9" };
    static const char *const str_conds[] = { "h = :h AND begins_with(r, :a)",
                                             "h = :h AND r BETWEEN :a AND :b",
                                             "h = :h AND r > :a", "h = :h AND r <= :b" };
    (void)state;
    check_ranges(DDB_N, conds, sizeof conds / sizeof conds[0], nums, sizeof nums / sizeof nums[0]);
    check_ranges(DDB_S, conds, sizeof conds / sizeof conds[0], strs, sizeof strs / sizeof strs[0]);
    check_ranges(DDB_S, str_conds, sizeof str_conds / sizeof str_conds[0], strs,
                 sizeof strs / sizeof strs[0]);
}

static void test_key_condition_errors(void **state)
{
    static const struct {
        const char *expr;
        const char *msg;
    } cases[] = {
        { "h = :h OR r = :a", "Invalid operator used in KeyConditionExpression: OR" },
        { "NOT h = :h", "Invalid operator used in KeyConditionExpression: NOT" },
        { "h IN (:h, :a)", "Invalid operator used in KeyConditionExpression: IN" },
        { "h <> :h", "Invalid operator used in KeyConditionExpression: <>" },
        { "contains(h, :h)", "Invalid operator used in KeyConditionExpression: contains" },
        { "h = :h AND size(r) > :a", "KeyConditionExpressions cannot contain nested operations" },
        { ":a BETWEEN r AND :b", "Invalid condition in KeyConditionExpression: BETWEEN operator "
                                 "must have the key attribute as its first operand" },
        { "h = r", "Invalid condition in KeyConditionExpression: Multiple attribute names used "
                   "in one condition" },
        { "h.x = :h", "KeyConditionExpressions cannot have conditions on nested attributes" },
        { ":h = :a", "Invalid condition in KeyConditionExpression: No key attribute specified" },
        { "h = :h AND r > :a AND r < :b",
          "KeyConditionExpressions must only contain one condition per key" },
        { "h = :h AND r > :a AND x < :b", "Conditions can be of length 1 or 2 only" },
        /* and, with the key schema (h S, r N): */
        { "r = :a", "Query condition missed key schema element: h" },
        { "h = :h AND x = :a", "Query condition missed key schema element: r" },
        { "h > :h", "Query key condition not supported" },
        { "h = :a", "One or more parameter values were invalid: Condition parameter type does "
                    "not match schema type" },
        { "h = :h AND r = :h", "One or more parameter values were invalid: Condition parameter "
                               "type does not match schema type" },
    };
    struct ddb_schema s;
    struct ddb_keyspace ks;
    struct arena a;
    char err[512];
    (void)state;

    schema_of(&s, DDB_N);
    ddb__keyspace_of(&s, NULL, &ks);
    arena_init(&a);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ddb_keycond kc;
        struct ddb_range *rg = arena_alloc(&a, sizeof *rg);
        int rc = keycond(&a, cases[i].expr,
                         "{\":h\":{\"S\":\"x\"},\":a\":{\"N\":\"1\"},\":b\":{\"N\":\"2\"}}", &kc,
                         err, sizeof err);
        if (rc == 0) {
            rc = ddb__keycond_range(&kc, &ks, rg, err, sizeof err);
        }
        if (rc == 0 || strcmp(err, cases[i].msg) != 0) {
            fail_msg("%s: got '%s', want '%s'", cases[i].expr, rc ? err : "no error",
                     cases[i].msg);
        }
    }
    arena_clear(&a);
}

/* ---- through the handlers ---- */

/* Walks every page of a Query (body without ExclusiveStartKey, ending in "}"), returning the
 * range key strings of the items in order, into out (capacity cap). Returns the count. */
static size_t walk_ranges(struct fixture *f, const char *body, char out[][8], size_t cap)
{
    char req[16384];
    char *start = NULL;
    size_t n = 0;

    for (;;) {
        json_t *page, *lek;
        size_t i;
        json_t *it;
        if (start) {
            snprintf(req, sizeof req, "%.*s,\"ExclusiveStartKey\":%s}",
                     (int)(strlen(body) - 1), body, start);
            free(start);
        }
        else {
            snprintf(req, sizeof req, "%s", body);
        }
        page = answer_of(f, ddb_query, req);
        json_array_foreach(json_object_get(page, "Items"), i, it)
        {
            const char *r = json_string_value(json_object_get(json_object_get(it, "r"), "S"));
            assert_true(n < cap);
            snprintf(out[n++], 8, "%s", r);
        }
        lek = json_object_get(page, "LastEvaluatedKey");
        start = lek ? json_dumps(lek, JSON_COMPACT) : NULL;
        json_decref(page);
        if (!start) {
            return n;
        }
    }
}

/* Keys longer than LMDB's limit are stored as a prefix and a hash: Query must still answer
 * them in key order, every page of it, both ways. */
static void test_long_keys_come_back_in_order(void **state)
{
    struct fixture *f = *state;
    static char got[80][8];
    char hash[501], other[501], body[2048];
    size_t n;

    memset(hash, 'h', 500);
    hash[500] = '\0';
    memcpy(other, hash, sizeof other);
    other[490] = 'i';   /* shares the stored prefix, another partition */
    ok(f, ddb_create_table,
       "{\"TableName\":\"longk\",\"BillingMode\":\"PAY_PER_REQUEST\","
       "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
       "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"},"
       "{\"AttributeName\":\"r\",\"AttributeType\":\"S\"}]}");
    for (int i = 0; i < 60; i++) {
        /* A scrambled order, so the order the puts come in is not the keys'. */
        snprintf(body, sizeof body, "{\"TableName\":\"longk\",\"Item\":{\"h\":{\"S\":\"%s\"},"
                                    "\"r\":{\"S\":\"r%03d\"}}}",
                 i % 4 == 3 ? other : hash, (i * 37) % 60);
        ok(f, ddb_put_item, body);
    }

    for (int li = 0; li < 3; li++) {
        static const int limits[] = { 1, 7, 100 };
        int limit = limits[li];
        for (int back = 0; back < 2; back++) {
            size_t want = 0;
            snprintf(body, sizeof body,
                     "{\"TableName\":\"longk\",\"KeyConditionExpression\":\"h = :h\","
                     "\"ExpressionAttributeValues\":{\":h\":{\"S\":\"%s\"}},\"Limit\":%d,"
                     "\"ScanIndexForward\":%s}",
                     hash, limit, back ? "false" : "true");
            n = walk_ranges(f, body, got, 80);
            /* The partition's items: those put with hash (i % 4 != 3). */
            for (int i = 0; i < 60; i++) {
                want += i % 4 != 3;
            }
            assert_int_equal(n, want);
            for (size_t i = 1; i < n; i++) {
                int c = strcmp(got[i - 1], got[i]);
                if (back ? c <= 0 : c >= 0) {
                    fail_msg("limit %d %s: %s then %s", limit, back ? "backward" : "forward",
                             got[i - 1], got[i]);
                }
            }
        }
    }
    /* A range condition inside the group. */
    snprintf(body, sizeof body,
             "{\"TableName\":\"longk\",\"KeyConditionExpression\":\"h = :h AND r BETWEEN :a "
             "AND :b\",\"ExpressionAttributeValues\":{\":h\":{\"S\":\"%s\"},"
             "\":a\":{\"S\":\"r010\"},\":b\":{\"S\":\"r019\"}},\"Limit\":3}",
             hash);
    n = walk_ranges(f, body, got, 80);
    for (size_t i = 0; i < n; i++) {
        assert_true(strcmp(got[i], "r010") >= 0 && strcmp(got[i], "r019") <= 0);
        assert_true(i == 0 || strcmp(got[i - 1], got[i]) < 0);
    }
    assert_true(n >= 5);
}

/* Entries of an index with equal index keys page by the table key: the pagination key
 * carries both, and a walk sees each item once. */
static void test_index_pagination_keys(void **state)
{
    struct fixture *f = *state;
    char body[512];
    json_t *page;
    int seen[50] = { 0 };
    char *start = NULL;

    ok(f, ddb_create_table,
       "{\"TableName\":\"ipage\",\"BillingMode\":\"PAY_PER_REQUEST\","
       "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
       "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"},"
       "{\"AttributeName\":\"r\",\"AttributeType\":\"N\"},"
       "{\"AttributeName\":\"g\",\"AttributeType\":\"S\"}],"
       "\"GlobalSecondaryIndexes\":[{\"IndexName\":\"byg\",\"KeySchema\":["
       "{\"AttributeName\":\"g\",\"KeyType\":\"HASH\"}],"
       "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}}]}");
    for (int i = 0; i < 50; i++) {
        snprintf(body, sizeof body, "{\"TableName\":\"ipage\",\"Item\":{\"h\":{\"S\":\"k%d\"},"
                                    "\"r\":{\"N\":\"%d\"},\"g\":{\"S\":\"same\"}}}",
                 i % 5, i);
        ok(f, ddb_put_item, body);
    }
    for (;;) {
        json_t *lek;
        size_t i;
        json_t *it;
        snprintf(body, sizeof body,
                 "{\"TableName\":\"ipage\",\"IndexName\":\"byg\",\"Limit\":6,"
                 "\"KeyConditionExpression\":\"g = :g\","
                 "\"ExpressionAttributeValues\":{\":g\":{\"S\":\"same\"}}%s%s}",
                 start ? ",\"ExclusiveStartKey\":" : "", start ? start : "");
        free(start);
        page = answer_of(f, ddb_query, body);
        json_array_foreach(json_object_get(page, "Items"), i, it)
        {
            seen[strtol(json_string_value(json_object_get(json_object_get(it, "r"), "N")), NULL,
                        10)]++;
        }
        lek = json_object_get(page, "LastEvaluatedKey");
        if (lek) {
            assert_int_equal(json_object_size(lek), 3);
            assert_non_null(json_object_get(lek, "g"));
            assert_non_null(json_object_get(lek, "h"));
            assert_non_null(json_object_get(lek, "r"));
        }
        start = lek ? json_dumps(lek, JSON_COMPACT) : NULL;
        json_decref(page);
        if (!start) {
            break;
        }
    }
    for (int i = 0; i < 50; i++) {
        assert_int_equal(seen[i], 1);
    }
}

static void test_item_collection_limit(void **state)
{
    struct fixture *f = *state;
    char body[512];
    struct answer a;
    int stored = 0;

    f->d->collection_max = 1500;
    ok(f, ddb_create_table,
       "{\"TableName\":\"coll\",\"BillingMode\":\"PAY_PER_REQUEST\","
       "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
       "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"},"
       "{\"AttributeName\":\"r\",\"AttributeType\":\"N\"},"
       "{\"AttributeName\":\"l\",\"AttributeType\":\"S\"}],"
       "\"LocalSecondaryIndexes\":[{\"IndexName\":\"byl\",\"KeySchema\":["
       "{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"l\",\"KeyType\":\"RANGE\"}],"
       "\"Projection\":{\"ProjectionType\":\"ALL\"}}]}");
    for (int i = 0; i < 20; i++) {
        snprintf(body, sizeof body, "{\"TableName\":\"coll\",\"Item\":{\"h\":{\"S\":\"a\"},"
                                    "\"r\":{\"N\":\"%d\"},\"l\":{\"S\":\"%080d\"}}}",
                 i, i);
        call(f, ddb_put_item, body, &a);
        json_decref(a.body);
        if (a.err == AWSERR_ITEM_COLLECTION_SIZE) {
            break;
        }
        assert_int_equal(a.err, AWSERR_NONE);
        stored++;
    }
    /* Each item is ~90 bytes, its entry ~190: the collection fills after a few. */
    assert_true(stored >= 3 && stored < 20);
    assert_string_equal(a.msg, "The total size of an item collection has exceeded the "
                               "maximum limit of 10 gigabytes.");
    /* Nothing of the refused write is there; another hash key has its own collection. */
    snprintf(body, sizeof body, "{\"TableName\":\"coll\",\"Key\":{\"h\":{\"S\":\"a\"},"
                                "\"r\":{\"N\":\"%d\"}}}",
             stored);
    call(f, ddb_get_item, body, &a);
    assert_null(json_object_get(a.body, "Item"));
    json_decref(a.body);
    ok(f, ddb_put_item, "{\"TableName\":\"coll\",\"Item\":{\"h\":{\"S\":\"b\"},"
                        "\"r\":{\"N\":\"1\"},\"l\":{\"S\":\"x\"}}}");
    /* A deletion makes room again. */
    ok(f, ddb_delete_item, "{\"TableName\":\"coll\",\"Key\":{\"h\":{\"S\":\"a\"},"
                           "\"r\":{\"N\":\"0\"}}}");
    snprintf(body, sizeof body, "{\"TableName\":\"coll\",\"Item\":{\"h\":{\"S\":\"a\"},"
                                "\"r\":{\"N\":\"%d\"},\"l\":{\"S\":\"%080d\"}}}",
             stored, stored);
    ok(f, ddb_put_item, body);
    f->d->collection_max = DDB_COLLECTION_MAX;
}

/* ---- the invariant of the write path ---- */

static void test_indexes_follow_random_writes(void **state)
{
    struct fixture *f = *state;
    unsigned seed = 12345;
    char body[1024];

    ok(f, ddb_create_table,
       "{\"TableName\":\"rnd\",\"BillingMode\":\"PAY_PER_REQUEST\","
       "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
       "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"},"
       "{\"AttributeName\":\"r\",\"AttributeType\":\"N\"},"
       "{\"AttributeName\":\"g\",\"AttributeType\":\"S\"},"
       "{\"AttributeName\":\"n\",\"AttributeType\":\"N\"},"
       "{\"AttributeName\":\"l\",\"AttributeType\":\"N\"}],"
       "\"GlobalSecondaryIndexes\":["
       "{\"IndexName\":\"keys\",\"KeySchema\":[{\"AttributeName\":\"g\",\"KeyType\":\"HASH\"}],"
       "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}},"
       "{\"IndexName\":\"incl\",\"KeySchema\":[{\"AttributeName\":\"n\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
       "\"Projection\":{\"ProjectionType\":\"INCLUDE\",\"NonKeyAttributes\":[\"x\"]}},"
       "{\"IndexName\":\"swap\",\"KeySchema\":[{\"AttributeName\":\"r\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"h\",\"KeyType\":\"RANGE\"}],"
       "\"Projection\":{\"ProjectionType\":\"ALL\"}}],"
       "\"LocalSecondaryIndexes\":[{\"IndexName\":\"loc\",\"KeySchema\":["
       "{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"l\",\"KeyType\":\"RANGE\"}],"
       "\"Projection\":{\"ProjectionType\":\"ALL\"}}]}");
    for (int i = 0; i < 600; i++) {
        int h = (int)(rand_r(&seed) % 4), r = (int)(rand_r(&seed) % 12);
        int op = (int)(rand_r(&seed) % 6), g = (int)(rand_r(&seed) % 3);
        int n = (int)(rand_r(&seed) % 5), x = (int)(rand_r(&seed) % 100);
        switch (op) {
        case 0:
        case 1: {
            /* A put with some of the index attributes: g for one in three, l for odd x. */
            char gattr[32] = "";
            if (g) {
                snprintf(gattr, sizeof gattr, ",\"g\":{\"S\":\"g%d\"}", g);
            }
            snprintf(body, sizeof body,
                     "{\"TableName\":\"rnd\",\"Item\":{\"h\":{\"S\":\"h%d\"},"
                     "\"r\":{\"N\":\"%d\"}%s,\"n\":{\"N\":\"%d\"},\"x\":{\"N\":\"%d\"}%s}}",
                     h, r, gattr, n, x, x % 2 ? ",\"l\":{\"N\":\"7\"}" : "");
            ok(f, ddb_put_item, body);
            break;
        }
        case 2:
            snprintf(body, sizeof body,
                     "{\"TableName\":\"rnd\",\"Key\":{\"h\":{\"S\":\"h%d\"},\"r\":{\"N\":\"%d\"}},"
                     "\"UpdateExpression\":\"SET g = :g, x = :x, l = :l\","
                     "\"ExpressionAttributeValues\":{\":g\":{\"S\":\"g%d\"},\":x\":{\"N\":\"%d\"},"
                     "\":l\":{\"N\":\"%d\"}}}",
                     h, r, g, x, n);
            ok(f, ddb_update_item, body);
            break;
        case 3:
            snprintf(body, sizeof body,
                     "{\"TableName\":\"rnd\",\"Key\":{\"h\":{\"S\":\"h%d\"},\"r\":{\"N\":\"%d\"}},"
                     "\"UpdateExpression\":\"REMOVE %s\"}",
                     h, r, n % 2 ? "g" : "n, l");
            ok(f, ddb_update_item, body);
            break;
        case 4:
            snprintf(body, sizeof body,
                     "{\"TableName\":\"rnd\",\"Key\":{\"h\":{\"S\":\"h%d\"},\"r\":{\"N\":\"%d\"}},"
                     "\"UpdateExpression\":\"SET y = :y\","
                     "\"ExpressionAttributeValues\":{\":y\":{\"N\":\"%d\"}}}",
                     h, r, x);
            ok(f, ddb_update_item, body);
            break;
        default:
            snprintf(body, sizeof body,
                     "{\"TableName\":\"rnd\",\"Key\":{\"h\":{\"S\":\"h%d\"},\"r\":{\"N\":\"%d\"}}}",
                     h, r);
            ok(f, ddb_delete_item, body);
            break;
        }
    }
    for (size_t i = 0; i < 4; i++) {
        check_index(f, "rnd", i, false);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_helpers),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_key_condition_ranges),
        cmocka_unit_test(test_key_condition_errors),
        cmocka_unit_test_setup_teardown(test_long_keys_come_back_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_pagination_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_item_collection_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indexes_follow_random_writes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
