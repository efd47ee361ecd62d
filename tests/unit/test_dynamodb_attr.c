/*
 * test_dynamodb_attr.c: DynamoDB attribute values (src/dynamodb/attr.c): number parsing,
 * canonical text and order, the order-preserving key encoding (memcmp order is DynamoDB
 * order for S, N and B), item sizes as the developer guide counts them, item encode/decode
 * round trips for every type, and every validation error with DynamoDB's type and words.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/attr.h"

/* ---- numbers ---- */

static void check_num(const char *in, const char *want)
{
    struct ddb_num n;
    char out[DDB_NUM_TEXT_MAX];
    int rc = ddb_num_parse(in, strlen(in), &n);
    if (rc != 0) {
        fail_msg("%s: parse failed %d", in, rc);
    }
    ddb_num_format(&n, out);
    if (strcmp(out, want) != 0) {
        fail_msg("%s: got %s, want %s", in, out, want);
    }
}

static void test_num_canonical(void **state)
{
    static const char *const cases[][2] = {
        /* From the developer guide ("Number"): leading and trailing zeros are trimmed. */
        { "1.50", "1.5" },
        { "-0", "0" },
        { "0", "0" },
        { "0.000", "0" },
        { "-0.0e10", "0" },
        { "0e999999999", "0" },
        { "1e3", "1000" },
        { "1E3", "1000" },
        { "1e+3", "1000" },
        { "100e-2", "1" },
        { "123.456e1", "1234.56" },
        { "0.001", "0.001" },
        { "1e-3", "0.001" },
        { "-1.0e-2", "-0.01" },
        { "+5", "5" },
        { ".5", "0.5" },
        { "5.", "5" },
        { "00012.3400", "12.34" },
        { "10", "10" },
        { "1000000", "1000000" },
        { "101", "101" },
        { "-12.5", "-12.5" },
        { "12345678901234567890123456789012345678", "12345678901234567890123456789012345678" },
        { "1234567890123456789012345678901234567800000", "1234567890123456789012345678901234567800000" },
    };
    (void)state;
    char want[DDB_NUM_TEXT_MAX];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_num(cases[i][0], cases[i][1]);
    }
    /* The ends of the range, written out in full as DynamoDB returns them. */
    snprintf(want, sizeof want, "0.%0130d", 1);
    check_num("1E-130", want);
    snprintf(want, sizeof want, "-0.%0130d", 1);
    check_num("-1E-130", want);
    snprintf(want, sizeof want, "-0.%0129d%s", 0, "12345678901234567890123456789012345678");
    check_num("-1.2345678901234567890123456789012345678E-130", want);
    snprintf(want, sizeof want, "%s%088d", "99999999999999999999999999999999999999", 0);
    check_num("9.9999999999999999999999999999999999999E+125", want);
    assert_int_equal(strlen(want), 126);
}

static void test_num_errors(void **state)
{
    static const struct {
        const char *in;
        int rc;
    } cases[] = {
        { "", -DDB_NUM_EMPTY },
        { "abc", -DDB_NUM_SYNTAX },
        { "b", -DDB_NUM_SYNTAX },
        { "1e", -DDB_NUM_SYNTAX },
        { "1e+", -DDB_NUM_SYNTAX },
        { "1.2.3", -DDB_NUM_SYNTAX },
        { " 1", -DDB_NUM_SYNTAX },
        { "1 ", -DDB_NUM_SYNTAX },
        { "--1", -DDB_NUM_SYNTAX },
        { "-", -DDB_NUM_SYNTAX },
        { ".", -DDB_NUM_SYNTAX },
        { "NaN", -DDB_NUM_SYNTAX },
        { "Infinity", -DDB_NUM_SYNTAX },
        { "0x10", -DDB_NUM_SYNTAX },
        { "1e5.5", -DDB_NUM_SYNTAX },
        { "1e126", -DDB_NUM_OVERFLOW },
        { "-1e126", -DDB_NUM_OVERFLOW },
        { "1e999999999999999999", -DDB_NUM_OVERFLOW },
        { "1e-131", -DDB_NUM_UNDERFLOW },
        { "-1e-131", -DDB_NUM_UNDERFLOW },
        { "0.1e-130", -DDB_NUM_UNDERFLOW },
        { "123456789012345678901234567890123456789", -DDB_NUM_PRECISION },
        { "-1.23456789012345678901234567890123456789", -DDB_NUM_PRECISION },
        /* Overflow is reported before precision, as DynamoDB does. */
        { "123456789012345678901234567890123456789e200", -DDB_NUM_OVERFLOW },
    };
    struct ddb_num n;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = ddb_num_parse(cases[i].in, strlen(cases[i].in), &n);
        if (rc != cases[i].rc) {
            fail_msg("%s: got %d, want %d", cases[i].in, rc, cases[i].rc);
        }
    }
    assert_string_equal(ddb_num_strerror(-DDB_NUM_OVERFLOW),
                        "Number overflow. Attempting to store a number with magnitude larger "
                        "than supported range");
    assert_string_equal(ddb_num_strerror(-DDB_NUM_UNDERFLOW),
                        "Number underflow. Attempting to store a number with magnitude smaller "
                        "than supported range");
    assert_string_equal(ddb_num_strerror(-DDB_NUM_PRECISION),
                        "Attempting to store more than 38 significant digits in a Number");
}

static int sgn(int x)
{
    return (x > 0) - (x < 0);
}

static int key_cmp(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    size_t m = al < bl ? al : bl;
    int c = memcmp(a, b, m);
    if (c) {
        return sgn(c);
    }
    return al < bl ? -1 : al > bl;
}

/* Neither encoding may be a proper prefix of the other: keys are concatenated. */
static void assert_prefix_free(const unsigned char *a, size_t al, const unsigned char *b,
                               size_t bl)
{
    if (al != bl) {
        size_t m = al < bl ? al : bl;
        assert_true(memcmp(a, b, m) != 0);
    }
}

static void test_num_order_and_keys(void **state)
{
    /* Ascending, as DynamoDB orders numbers (Query on a number sort key). */
    static const char *const sorted[] = {
        "-9.9999999999999999999999999999999999999E+125", "-1e125", "-100", "-99.9", "-10.5",
        "-10.01", "-10", "-1.01", "-1.0000000001", "-1", "-0.99", "-0.5", "-0.1", "-0.01",
        "-1e-129", "-1E-130", "0", "1E-130", "1e-129", "0.01", "0.1", "0.5", "0.99", "1",
        "1.0000000001", "1.01", "10", "10.01", "10.5", "99.9", "100", "101", "1e125",
        "9.9999999999999999999999999999999999999E+125",
    };
    size_t n = sizeof sorted / sizeof sorted[0];
    struct ddb_num nums[64];
    unsigned char keys[64][DDB_NUM_KEY_MAX];
    size_t lens[64];
    (void)state;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ddb_num_parse(sorted[i], strlen(sorted[i]), &nums[i]), 0);
        lens[i] = ddb_num_key(&nums[i], keys[i]);
        assert_true(lens[i] <= DDB_NUM_KEY_MAX);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int want = i < j ? -1 : i > j;
            if (ddb_num_cmp(&nums[i], &nums[j]) != want) {
                fail_msg("cmp %s %s", sorted[i], sorted[j]);
            }
            if (key_cmp(keys[i], lens[i], keys[j], lens[j]) != want) {
                fail_msg("key order %s %s", sorted[i], sorted[j]);
            }
            if (i != j) {
                assert_prefix_free(keys[i], lens[i], keys[j], lens[j]);
            }
        }
    }
    /* 38 digits take the longest key. */
    assert_int_equal(ddb_num_parse("-1.2345678901234567890123456789012345678", 40, &nums[0]), 0);
    assert_int_equal(ddb_num_key(&nums[0], keys[0]), DDB_NUM_KEY_MAX);
}

static void test_string_key_order(void **state)
{
    /* Ascending bytewise, as DynamoDB orders S and B sort keys. */
    static const struct {
        const char *p;
        size_t n;
    } sorted[] = {
        { "", 0 },         { "\0", 1 },      { "\0\0", 2 },  { "\0\x01", 2 }, { "\x01", 1 },
        { "a", 1 },        { "a\0", 2 },     { "a\0b", 3 },  { "a\x01", 2 },  { "aa", 2 },
        { "ab", 2 },       { "b", 1 },       { "\x7f", 1 },  { "\xc3\xa9", 2 }, { "\xff", 1 },
        { "\xff\xff", 2 },
    };
    size_t n = sizeof sorted / sizeof sorted[0];
    unsigned char keys[32][16];
    size_t lens[32];
    (void)state;
    for (size_t i = 0; i < n; i++) {
        lens[i] = ddb_key_bytes((const unsigned char *)sorted[i].p, sorted[i].n, keys[i]);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            int want = i < j ? -1 : i > j;
            if (key_cmp(keys[i], lens[i], keys[j], lens[j]) != want) {
                fail_msg("key order %zu %zu", i, j);
            }
            if (i != j) {
                assert_prefix_free(keys[i], lens[i], keys[j], lens[j]);
            }
        }
    }
    /* A composite key (hash then range) groups by hash: "a"+"z" sorts before "ab"+"". */
    {
        unsigned char k1[16], k2[16];
        size_t l1 = ddb_key_bytes((const unsigned char *)"a", 1, k1);
        size_t l2 = ddb_key_bytes((const unsigned char *)"ab", 2, k2);
        l1 += ddb_key_bytes((const unsigned char *)"z", 1, k1 + l1);
        l2 += ddb_key_bytes((const unsigned char *)"", 0, k2 + l2);
        assert_int_equal(key_cmp(k1, l1, k2, l2), -1);
    }
}

/* ---- base64 ---- */

static void test_base64(void **state)
{
    static const struct {
        const char *in;
        const char *why;    /* NULL: valid */
    } cases[] = {
        { "", NULL },
        { "Yg==", NULL },
        { "YWI=", NULL },
        { "YWJj", NULL },
        { "+/+/", NULL },
        { "23456", "Base64 encoded length is expected a multiple of 4 bytes but found: 5" },
        { "=+/=", "Invalid Base64 character: '='" },
        { "ab-d", "Invalid Base64 character: '-'" },
        { "ab_d", "Invalid Base64 character: '_'" },
        { "a b=", "Invalid Base64 character: ' '" },
        { "+/+=", "Invalid last non-pad Base64 character dectected" },
        { "Yh==", "Invalid last non-pad Base64 character dectected" },
        { "A===", "Invalid last non-pad Base64 character dectected" },
        { "====", "Invalid last non-pad Base64 character dectected" },
    };
    char why[128];
    unsigned char out[8];
    char enc[16];
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = ddb_b64_check(cases[i].in, strlen(cases[i].in), why, sizeof why);
        if (!cases[i].why) {
            assert_int_equal(rc, 0);
            continue;
        }
        assert_int_equal(rc, -1);
        assert_string_equal(why, cases[i].why);
    }
    assert_int_equal(ddb_b64_decode("YWI=", 4, out), 2);
    assert_memory_equal(out, "ab", 2);
    ddb_b64_encode((const unsigned char *)"abcd", 4, enc);
    assert_memory_equal(enc, "YWJjZA==", 8);
    assert_int_equal(ddb_b64_encoded_len(4), 8);
}

/* ---- items ---- */

struct enc_result {
    struct arena a;
    struct buf b;
    struct ddb_err err;
    size_t size;
    int rc;
};

static void encode_text(struct enc_result *r, const char *json)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    if (!j) {
        fail_msg("bad test JSON %s: %s", json, jerr.text);
    }
    arena_init(&r->a);
    buf_init(&r->b, DDB_ITEM_ENC_MAX);
    r->rc = ddb_item_encode(j, &r->a, &r->b, &r->size, &r->err);
    json_decref(j);
}

static void enc_release(struct enc_result *r)
{
    buf_release(&r->b);
    arena_clear(&r->a);
}

/* Encodes in, decodes both ways, and compares with want (canonical JSON). */
static void round_trip(const char *in, const char *want)
{
    struct enc_result r;
    struct buf out;
    json_t *got, *exp, *tree;
    json_error_t jerr;

    encode_text(&r, in);
    if (r.rc != 0) {
        fail_msg("%s: %s", in, r.err.msg);
    }
    buf_init(&out, 1 << 20);
    assert_int_equal(ddb_item_write_json(r.b.p, r.b.len, NULL, 0, &out), 0);
    got = json_loadb(out.p, out.len, 0, &jerr);
    if (!got) {
        fail_msg("%s: writer produced bad JSON %s", in, out.p);
    }
    exp = json_loads(want, 0, &jerr);
    assert_non_null(exp);
    if (!json_equal(got, exp)) {
        fail_msg("%s: got %s", in, out.p);
    }
    tree = ddb_item_to_json(r.b.p, r.b.len, NULL, 0);
    assert_non_null(tree);
    assert_true(json_equal(tree, exp));
    json_decref(tree);
    json_decref(got);
    json_decref(exp);
    buf_release(&out);
    enc_release(&r);
}

static void test_round_trips(void **state)
{
    (void)state;
    round_trip("{}", "{}");
    round_trip("{\"s\":{\"S\":\"hello\"}}", "{\"s\":{\"S\":\"hello\"}}");
    round_trip("{\"s\":{\"S\":\"\"}}", "{\"s\":{\"S\":\"\"}}");
    round_trip("{\"s\":{\"S\":\"tab\\there \\\"quoted\\\" back\\\\ \\u0001 \\u00e9\\u20ac\"}}",
               "{\"s\":{\"S\":\"tab\\there \\\"quoted\\\" back\\\\ \\u0001 \\u00e9\\u20ac\"}}");
    round_trip("{\"n\":{\"N\":\"1.50\"},\"z\":{\"N\":\"-0\"},\"k\":{\"N\":\"1e3\"}}",
               "{\"n\":{\"N\":\"1.5\"},\"z\":{\"N\":\"0\"},\"k\":{\"N\":\"1000\"}}");
    round_trip("{\"b\":{\"B\":\"AAEC/w==\"},\"e\":{\"B\":\"\"}}",
               "{\"b\":{\"B\":\"AAEC/w==\"},\"e\":{\"B\":\"\"}}");
    round_trip("{\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false},\"n\":{\"NULL\":true}}",
               "{\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false},\"n\":{\"NULL\":true}}");
    round_trip("{\"l\":{\"L\":[{\"S\":\"a\"},{\"N\":\"2.0\"},{\"L\":[]},{\"M\":{}}]}}",
               "{\"l\":{\"L\":[{\"S\":\"a\"},{\"N\":\"2\"},{\"L\":[]},{\"M\":{}}]}}");
    round_trip("{\"m\":{\"M\":{\"z\":{\"S\":\"1\"},\"a\":{\"M\":{\"x\":{\"NULL\":true}}}}}}",
               "{\"m\":{\"M\":{\"z\":{\"S\":\"1\"},\"a\":{\"M\":{\"x\":{\"NULL\":true}}}}}}");
    round_trip("{\"ss\":{\"SS\":[\"b\",\"a\",\"\"]},\"ns\":{\"NS\":[\"10\",\"-1\",\"2.50\"]},"
               "\"bs\":{\"BS\":[\"Yg==\",\"YQ==\"]}}",
               "{\"ss\":{\"SS\":[\"\",\"a\",\"b\"]},\"ns\":{\"NS\":[\"-1\",\"2.5\",\"10\"]},"
               "\"bs\":{\"BS\":[\"YQ==\",\"Yg==\"]}}");
    /* The deserialiser takes these strings for booleans. */
    round_trip("{\"t\":{\"BOOL\":\"yes\"},\"f\":{\"BOOL\":\"False\"}}",
               "{\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false}}");
    /* Unknown members and null members are ignored. */
    round_trip("{\"a\":{\"S\":\"x\",\"Q\":5,\"N\":null}}", "{\"a\":{\"S\":\"x\"}}");
}

static void test_canonical_bytes(void **state)
{
    struct enc_result a, b;
    (void)state;
    encode_text(&a, "{\"x\":{\"SS\":[\"b\",\"a\"]},\"a\":{\"N\":\"1.0\"},"
                    "\"m\":{\"M\":{\"q\":{\"S\":\"1\"},\"p\":{\"S\":\"2\"}}}}");
    encode_text(&b, "{\"m\":{\"M\":{\"p\":{\"S\":\"2\"},\"q\":{\"S\":\"1\"}}},"
                    "\"a\":{\"N\":\"1\"},\"x\":{\"SS\":[\"a\",\"b\"]}}");
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(a.b.len, b.b.len);
    assert_memory_equal(a.b.p, b.b.p, a.b.len);
    enc_release(&a);
    enc_release(&b);
}

static size_t size_of(const char *json)
{
    struct enc_result r;
    size_t s;
    encode_text(&r, json);
    if (r.rc != 0) {
        fail_msg("%s: %s", json, r.err.msg);
    }
    s = r.size;
    {
        struct ddb_item_view v;
        assert_int_equal(ddb_item_open(r.b.p, r.b.len, &v), 0);
        assert_int_equal(v.size, s);
    }
    enc_release(&r);
    return s;
}

static void test_item_size(void **state)
{
    (void)state;
    /* "Item sizes and formats": name bytes + value bytes; numbers 1 + 1 per 2 digits; null
     * and boolean 1; list and map 3 + 1 per element; binaries their raw length. */
    assert_int_equal(size_of("{\"id\":{\"S\":\"abc\"},\"n\":{\"N\":\"12345\"},"
                             "\"flag\":{\"BOOL\":true},\"l\":{\"L\":[{\"S\":\"xy\"}]}}"),
                     22);
    assert_int_equal(size_of("{\"\\u00e9\":{\"S\":\"\\u20ac\"}}"), 2 + 3);
    assert_int_equal(size_of("{\"b\":{\"B\":\"AAEC\"}}"), 1 + 3);
    assert_int_equal(size_of("{\"n\":{\"NULL\":true}}"), 2);
    assert_int_equal(size_of("{\"m\":{\"M\":{}}}"), 1 + 3);
    assert_int_equal(size_of("{\"m\":{\"M\":{\"ab\":{\"S\":\"c\"}}}}"), 1 + 3 + 1 + 2 + 1);
    assert_int_equal(size_of("{\"n\":{\"N\":\"0\"}}"), 2);
    assert_int_equal(size_of("{\"n\":{\"N\":\"1\"}}"), 1 + 2);
    assert_int_equal(size_of("{\"n\":{\"N\":\"123\"}}"), 1 + 3);
    assert_int_equal(size_of("{\"n\":{\"N\":\"1234\"}}"), 1 + 3);
    /* Figures DynamoDB's 400 KB gate measures to the byte: digits straddling the decimal
     * point cost a byte more, negatives one more, zero one. */
    static const struct {
        const char *n;
        size_t bytes;
    } nums[] = {
        { "0", 1 },       { "1", 2 },     { "12", 2 },      { "123", 3 },     { "100", 2 },
        { "1010", 3 },    { "0042", 2 },  { "0.0000001", 2 }, { "1E125", 2 }, { "1E-100", 2 },
        { "1.5", 3 },     { "15", 2 },    { "1.200", 3 },   { "1.234", 4 },   { "3.14159", 5 },
        { "123456", 4 },  { "100.5", 4 }, { "0.15", 2 },    { "-42", 3 },     { "-0", 1 },
        { "12345678901234567890123456789012345678", 20 },
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        struct ddb_num x;
        assert_int_equal(ddb_num_parse(nums[i].n, strlen(nums[i].n), &x), 0);
        if (ddb_num_size(&x) != nums[i].bytes) {
            fail_msg("%s: %zu bytes, want %zu", nums[i].n, ddb_num_size(&x), nums[i].bytes);
        }
    }
    assert_int_equal(size_of("{\"s\":{\"SS\":[\"ab\",\"c\"]},\"t\":{\"NS\":[\"1\",\"22\"]}}"),
                     1 + 3 + 1 + 2 + 2);
}

struct err_case {
    const char *item;
    enum ddb_err_kind kind;
    const char *msg;
};

static const char inv[] = "One or more parameter values were invalid: ";

static void check_err(const char *item, enum ddb_err_kind kind, const char *msg)
{
    struct enc_result r;
    encode_text(&r, item);
    if (r.rc != -1) {
        fail_msg("%s: accepted", item);
    }
    if (r.err.kind != kind || strcmp(r.err.msg, msg) != 0) {
        fail_msg("%s: got %d '%s', want %d '%s'", item, r.err.kind, r.err.msg, kind, msg);
    }
    enc_release(&r);
}

static void test_validation_errors(void **state)
{
    char m[512];
    const enum ddb_err_kind V = DDB_ERR_VALIDATION;
    const char *empty = "Supplied AttributeValue is empty, must contain exactly one of the "
                        "supported datatypes";
    (void)state;
    check_err("{\"a\":{}}", V, empty);
    check_err("{\"a\":{\"a\":\"\"}}", V, empty);
    check_err("{\"a\":null}", V, empty);
    check_err("{\"a\":{\"M\":{\"b\":{}}}}", V, empty);
    check_err("{\"a\":{\"L\":[{}]}}", V, empty);
    check_err("{\"a\":{\"L\":[{\"a\":{}}]}}", V, empty);
    check_err("{\"a\":{\"S\":\"a\",\"N\":\"1\"}}", V,
              "Supplied AttributeValue has more than one datatypes set, must contain exactly "
              "one of the supported datatypes");
    /* Contents are checked before the count of types. */
    check_err("{\"a\":{\"S\":\"a\",\"N\":\"b\"}}", V,
              "The parameter cannot be converted to a numeric value: b");
    check_err("{\"a\":{\"S\":\"\",\"N\":\"\"}}", V,
              "The parameter cannot be converted to a numeric value");
    check_err("{\"a\":{\"N\":\"\"}}", V, "The parameter cannot be converted to a numeric value");
    check_err("{\"a\":{\"N\":\"b\"}}", V,
              "The parameter cannot be converted to a numeric value: b");
    check_err("{\"a\":{\"NS\":[\"1\",\"\"]}}", V,
              "The parameter cannot be converted to a numeric value");
    check_err("{\"a\":{\"NS\":[\"1\",\"b\",\"a\"]}}", V,
              "The parameter cannot be converted to a numeric value: b");
    check_err("{\"a\":{\"N\":\"123456789012345678901234567890123456789\"}}", V,
              "Attempting to store more than 38 significant digits in a Number");
    check_err("{\"a\":{\"N\":\"-1.23456789012345678901234567890123456789\"}}", V,
              "Attempting to store more than 38 significant digits in a Number");
    check_err("{\"a\":{\"N\":\"1e126\"}}", V,
              "Number overflow. Attempting to store a number with magnitude larger than "
              "supported range");
    check_err("{\"a\":{\"N\":\"-1e126\"}}", V,
              "Number overflow. Attempting to store a number with magnitude larger than "
              "supported range");
    check_err("{\"a\":{\"N\":\"1e-131\"}}", V,
              "Number underflow. Attempting to store a number with magnitude smaller than "
              "supported range");
    check_err("{\"a\":{\"N\":\"-1e-131\"}}", V,
              "Number underflow. Attempting to store a number with magnitude smaller than "
              "supported range");
    snprintf(m, sizeof m, "%sNull attribute value types must have the value of true", inv);
    check_err("{\"a\":{\"NULL\":false}}", V, m);
    snprintf(m, sizeof m, "%sAn string set  may not be empty", inv);
    check_err("{\"a\":{\"SS\":[]}}", V, m);
    snprintf(m, sizeof m, "%sAn number set  may not be empty", inv);
    check_err("{\"a\":{\"NS\":[]}}", V, m);
    snprintf(m, sizeof m, "%sBinary sets should not be empty", inv);
    check_err("{\"a\":{\"BS\":[]}}", V, m);
    snprintf(m, sizeof m, "%sInput collection [a, a] contains duplicates.", inv);
    check_err("{\"a\":{\"SS\":[\"a\",\"a\"]}}", V, m);
    snprintf(m, sizeof m, "%sInput collection [b, a, b] contains duplicates.", inv);
    check_err("{\"a\":{\"SS\":[\"b\",\"a\",\"b\"]}}", V, m);
    check_err("{\"a\":{\"NS\":[\"1\",\"1\"]}}", V, "Input collection contains duplicates");
    /* Numbers are compared by value: 1 and 1.0 are the same member. */
    check_err("{\"a\":{\"NS\":[\"1\",\"1.0\"]}}", V, "Input collection contains duplicates");
    snprintf(m, sizeof m, "%sInput collection [Yg==, Yg==]of type BS contains duplicates.",
             inv);
    check_err("{\"a\":{\"BS\":[\"Yg==\",\"Yg==\"]}}", V, m);
    snprintf(m, sizeof m, "%sBinary sets may not contain null or empty values", inv);
    check_err("{\"a\":{\"BS\":[null]}}", V, m);
    /* Nested values are checked too. */
    snprintf(m, sizeof m, "%sInput collection [x, x] contains duplicates.", inv);
    check_err("{\"a\":{\"M\":{\"b\":{\"L\":[{\"SS\":[\"x\",\"x\"]}]}}}}", V, m);
}

static void test_serialization_errors(void **state)
{
    const enum ddb_err_kind S = DDB_ERR_SERIALIZATION;
    const char *num = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";
    char m[256];
    (void)state;
    check_err("{\"a\":{\"S\":true}}", S, "class java.lang.Boolean can not be converted to an String");
    snprintf(m, sizeof m, "%s can not be converted to an String", num);
    check_err("{\"a\":{\"S\":23}}", S, m);
    check_err("{\"a\":{\"N\":34.56}}", S, m);
    check_err("{\"a\":{\"S\":[]}}", S, "Start of list found where not expected");
    check_err("{\"a\":{\"S\":{}}}", S, "Start of structure or map found where not expected.");
    check_err("{\"a\":{\"B\":true}}", S, "class java.lang.Boolean can not be converted to a Blob");
    check_err("{\"a\":{\"B\":\"23456\"}}", S,
              "'23456' can not be converted to a Blob: Base64 encoded length is expected a "
              "multiple of 4 bytes but found: 5");
    check_err("{\"a\":{\"B\":\"=+/=\"}}", S,
              "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='");
    check_err("{\"a\":{\"B\":\"+/+=\"}}", S,
              "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character "
              "dectected");
    check_err("{\"a\":{\"BS\":[\"Yg==\",\"+/+=\"]}}", S,
              "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character "
              "dectected");
    check_err("{\"a\":{\"BOOL\":\"23\"}}", S, "'23' can not be converted to an Boolean");
    check_err("{\"a\":{\"NULL\":\"hello\"}}", S, "'HELLO' can not be converted to an Boolean");
    snprintf(m, sizeof m, "%s can not be converted to an Boolean", num);
    check_err("{\"a\":{\"BOOL\":23}}", S, m);
    check_err("{\"a\":{\"SS\":\"23\"}}", S, "Expected list or null");
    check_err("{\"a\":{\"SS\":{}}}", S, "Start of structure or map found where not expected.");
    check_err("{\"a\":{\"L\":23}}", S, "Expected list or null");
    check_err("{\"a\":{\"L\":[23]}}", S, "Expected null");
    check_err("{\"a\":{\"L\":[[]]}}", S, "Start of list found where not expected");
    check_err("{\"a\":{\"M\":23}}", S, "Expected map or null");
    check_err("{\"a\":{\"M\":[]}}", S, "Start of list found where not expected");
    check_err("{\"a\":23}", S, "Expected null");
    check_err("{\"a\":[]}", S, "Start of list found where not expected");
    /* A type error anywhere wins over a validation error anywhere. */
    snprintf(m, sizeof m, "%s can not be converted to an String", num);
    check_err("{\"a\":{\"SS\":[]},\"b\":{\"S\":5}}", S, m);
}

static char *nested(int wraps)
{
    size_t cap = (size_t)wraps * 16 + 64, o = 0;
    char *s = malloc(cap);
    o += (size_t)snprintf(s + o, cap - o, "{\"d\":");
    for (int i = 0; i < wraps; i++) {
        o += (size_t)snprintf(s + o, cap - o, "{\"M\":{\"n\":");
    }
    o += (size_t)snprintf(s + o, cap - o, "{\"S\":\"leaf\"}");
    for (int i = 0; i < wraps; i++) {
        o += (size_t)snprintf(s + o, cap - o, "}}");
    }
    snprintf(s + o, cap - o, "}");
    return s;
}

/* {"<name>":{"S":"xxx..."}} with n x's, into out (n + 64 bytes). */
static void big_item(char *out, const char *name, size_t n)
{
    int k = snprintf(out, 64, "{\"%s\":{\"S\":\"", name);
    memset(out + k, 'x', n);
    memcpy(out + (size_t)k + n, "\"}}", 4);
}

static void test_depth_and_size_limits(void **state)
{
    struct enc_result r;
    char *s;
    size_t big = DDB_ITEM_MAX - 2, cap = big + 64;
    char *item = malloc(cap);
    (void)state;

    /* 31 wraps put the leaf at level 32, the deepest DynamoDB takes; 32 wraps are refused. */
    s = nested(31);
    encode_text(&r, s);
    assert_int_equal(r.rc, 0);
    enc_release(&r);
    free(s);
    s = nested(32);
    check_err(s, DDB_ERR_VALIDATION,
              "Nesting Levels have exceeded supported limits: Attributes in the item have nested "
              "levels beyond supported limit");
    free(s);

    /* 400 KB exactly is accepted, one byte more is not. */
    big_item(item, "k", big);
    encode_text(&r, item);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.size, DDB_ITEM_MAX - 1);
    enc_release(&r);
    big_item(item, "kk", big);
    encode_text(&r, item);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.size, DDB_ITEM_MAX);
    enc_release(&r);
    big_item(item, "kkk", big);
    check_err(item, DDB_ERR_VALIDATION, "Item size has exceeded the maximum allowed size");
    free(item);
}

static void test_find_and_project(void **state)
{
    struct enc_result r;
    struct ddb_attr a;
    struct buf out;
    struct sl_str only[2] = { SL_STR_LIT("b"), SL_STR_LIT("zz") };
    json_t *j;
    (void)state;

    encode_text(&r, "{\"c\":{\"N\":\"3\"},\"a\":{\"S\":\"x\"},\"b\":{\"L\":[{\"N\":\"1\"}]}}");
    assert_int_equal(r.rc, 0);
    assert_int_equal(ddb_item_find(r.b.p, r.b.len, "a", 1, &a), 1);
    assert_int_equal(a.type, DDB_S);
    assert_int_equal(a.val_len, 1);
    assert_memory_equal(a.val, "x", 1);
    assert_int_equal(ddb_attr_size(&a), 1);
    assert_int_equal(ddb_item_find(r.b.p, r.b.len, "c", 1, &a), 1);
    assert_int_equal(a.type, DDB_N);
    assert_int_equal(ddb_item_find(r.b.p, r.b.len, "q", 1, &a), 0);
    assert_int_equal(ddb_item_find(r.b.p, r.b.len, "b", 1, &a), 1);
    assert_int_equal(ddb_attr_size(&a), 3 + 1 + 2);

    buf_init(&out, 4096);
    assert_int_equal(ddb_item_write_json(r.b.p, r.b.len, only, 2, &out), 0);
    assert_string_equal(out.p, "{\"b\":{\"L\":[{\"N\":\"1\"}]}}");
    buf_release(&out);
    j = ddb_item_to_json(r.b.p, r.b.len, only, 1);
    assert_int_equal(json_object_size(j), 1);
    json_decref(j);

    /* Damaged bytes are refused, never read past. */
    for (size_t cut = 0; cut < r.b.len; cut++) {
        buf_init(&out, 4096);
        assert_true(ddb_item_write_json(r.b.p, cut, NULL, 0, &out) < 0);
        buf_release(&out);
        assert_null(ddb_item_to_json(r.b.p, cut, NULL, 0));
    }
    enc_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_num_canonical),
        cmocka_unit_test(test_num_errors),
        cmocka_unit_test(test_num_order_and_keys),
        cmocka_unit_test(test_string_key_order),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_round_trips),
        cmocka_unit_test(test_canonical_bytes),
        cmocka_unit_test(test_item_size),
        cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_serialization_errors),
        cmocka_unit_test(test_depth_and_size_limits),
        cmocka_unit_test(test_find_and_project),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
