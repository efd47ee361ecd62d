/*
 * test_core_str.c: slices, hex and the SigV4 URI encoding (src/core/str.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/str.h"

static void test_uri_encode(void **state)
{
    static const struct {
        const char *in;
        int keep_slash;
        const char *out;
    } cases[] = {
        { "abcXYZ019-_.~", 0, "abcXYZ019-_.~" },
        { "a b", 0, "a%20b" },
        { "a/b", 0, "a%2Fb" },
        { "a/b", 1, "a/b" },
        { "=+&", 0, "%3D%2B%26" },
        { "\xc3\xa9", 0, "%C3%A9" },
        { "%", 0, "%25" },
        { "", 0, "" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        size_t n = sl_uri_encode(sl_str_c(cases[i].in), cases[i].keep_slash, out);
        assert_string_equal(out, cases[i].out);
        assert_int_equal(n, strlen(cases[i].out));
    }
}

static void test_uri_decode(void **state)
{
    char out[64];
    long n;
    (void)state;
    n = sl_uri_decode(sl_str_c("a%20b%2fc+d"), out);
    assert_int_equal(n, 7);
    assert_memory_equal(out, "a b/c+d", 7);
    assert_int_equal(sl_uri_decode(sl_str_c("bad%2"), out), -1);
    assert_int_equal(sl_uri_decode(sl_str_c("bad%zz"), out), -1);
    assert_int_equal(sl_uri_decode(sl_str_c("%"), out), -1);
    n = sl_uri_decode(sl_str_c("%C3%A9"), out);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "\xc3\xa9", 2);
}

static void test_slices_and_hex(void **state)
{
    char hex[9];
    unsigned char b[] = { 0x00, 0xab, 0x10, 0xff };
    (void)state;
    assert_true(sl_str_case_eq(sl_str_c("Content-Type"), "content-type"));
    assert_false(sl_str_case_eq(sl_str_c("Content-Typ"), "content-type"));
    assert_true(sl_str_starts(sl_str_c("DynamoDB_20120810.ListTables"), "DynamoDB_20120810."));
    assert_false(sl_str_eq_c(SL_STR_LIT("ab"), "abc"));
    sl_hex(b, 4, hex);
    assert_string_equal(hex, "00ab10ff");
}

static void test_uuid4(void **state)
{
    char a[37], b[37];
    (void)state;
    sl_uuid4(a);
    sl_uuid4(b);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[14], '4');
    assert_true(strchr("89ab", a[19]) != NULL);
    assert_string_not_equal(a, b);
}

/* RFC 4648 section 10's vectors, both ways. */
static void test_base64(void **state)
{
    static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                       "Zm9vYmFy" };
    char out[32];
    unsigned char dec[32];
    (void)state;
    for (size_t i = 0; i < 7; i++) {
        long n;
        assert_int_equal(sl_base64_encode(plain[i], strlen(plain[i]), out), strlen(enc[i]));
        assert_string_equal(out, enc[i]);
        n = sl_base64_decode(sl_str_c(enc[i]), dec, sizeof dec);
        assert_int_equal(n, (long)strlen(plain[i]));
        assert_memory_equal(dec, plain[i], (size_t)n);
    }
    assert_int_equal(sl_base64_decode(sl_str_c("Zm9v!"), dec, sizeof dec), -1);
    assert_int_equal(sl_base64_decode(sl_str_c("Z"), dec, sizeof dec), -1);
    assert_int_equal(sl_base64_decode(sl_str_c("Zm9vYmFy"), dec, 3), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_uri_decode),
        cmocka_unit_test(test_slices_and_hex),
        cmocka_unit_test(test_uuid4),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests_name("core_str", tests, NULL, NULL);
}
