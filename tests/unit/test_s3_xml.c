/*
 * test_s3_xml.c: XML escaping, timestamps and base64 (src/s3/xml.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "s3/s3_int.h"

static void test_escape(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        { "plain", 5, "plain" },
        { "a<b>&c", 6, "a&lt;b&gt;&amp;c" },
        { "\"q\" 'a'", 7, "&quot;q&quot; &apos;a&apos;" },
        { "tab\there", 8, "tab&#x9;here" },
        { "\x01\x7f", 2, "&#x1;&#x7F;" },
        { "caf\xc3\xa9", 5, "caf\xc3\xa9" },
        { "", 0, "" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct buf b;
        buf_init(&b, 1024);
        assert_int_equal(s3__xml_escape(&b, (struct sl_str){ cases[i].in, cases[i].len }), 0);
        assert_string_equal(b.p ? b.p : "", cases[i].out);
        buf_release(&b);
    }
}

static void test_escape_bounded(void **state)
{
    struct buf b;
    (void)state;
    buf_init(&b, 8);
    assert_int_not_equal(s3__xml_escape(&b, SL_STR_LIT("<<<<<<<<")), 0);
    buf_release(&b);
    buf_init(&b, 64);
    assert_int_equal(s3__xml_elem(&b, "Key", SL_STR_LIT("a&b")), 0);
    assert_string_equal(b.p, "<Key>a&amp;b</Key>");
    buf_release(&b);
}

static void test_times(void **state)
{
    char iso[25], http[30];
    (void)state;
    s3__time_iso(1255369830123ull, iso);
    assert_string_equal(iso, "2009-10-12T17:50:30.123Z");
    s3__time_iso(0, iso);
    assert_string_equal(iso, "1970-01-01T00:00:00.000Z");
    s3__time_http(1255369830123ull, http);
    assert_string_equal(http, "Mon, 12 Oct 2009 17:50:30 GMT");
}

static void test_base64(void **state)
{
    unsigned char out[32];
    (void)state;
    assert_int_equal(s3__base64_decode(SL_STR_LIT("1B2M2Y8AsgTpgAmY7PhCfg=="), out, 16), 16);
    assert_memory_equal(out, "\xd4\x1d\x8c\xd9\x8f\x00\xb2\x04\xe9\x80\x09\x98\xec\xf8\x42\x7e",
                        16);
    assert_int_equal(s3__base64_decode(SL_STR_LIT("YWI="), out, sizeof out), 2);
    assert_int_equal(s3__base64_decode(SL_STR_LIT("YWJj"), out, sizeof out), 3);
    assert_int_equal(s3__base64_decode(SL_STR_LIT("YWJ"), out, sizeof out), -1);
    assert_int_equal(s3__base64_decode(SL_STR_LIT("Y=Jj"), out, sizeof out), -1);
    assert_int_equal(s3__base64_decode(SL_STR_LIT("YW*j"), out, sizeof out), -1);
    assert_int_equal(s3__base64_decode(SL_STR_LIT("1B2M2Y8AsgTpgAmY7PhCfg=="), out, 8), -1);
}

static void test_etag_lists(void **state)
{
    const char *e = "\"abc\"";
    (void)state;
    assert_true(s3__etag_matches("\"abc\"", e));
    assert_true(s3__etag_matches("abc", e));
    assert_true(s3__etag_matches("*", e));
    assert_true(s3__etag_matches("\"x\", \"abc\"", e));
    assert_true(s3__etag_matches("W/\"abc\"", e));
    assert_true(s3__etag_matches(" \"x\" ,abc ", e));
    assert_false(s3__etag_matches("\"abcd\"", e));
    assert_false(s3__etag_matches("", e));
    assert_false(s3__etag_matches(",,", e));
    assert_false(s3__etag_matches("\"ab", e));
}

static void test_http_dates(void **state)
{
    int64_t t = 0;
    (void)state;
    assert_int_equal(s3__http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(s3__http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(s3__http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(s3__http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(s3__http_date_parse("Tue, 29 Feb 2028 23:59:59 GMT", &t), 0);
    assert_int_equal(t, 1835481599);
    assert_int_equal(s3__http_date_parse("yesterday", &t), -1);
    assert_int_equal(s3__http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", &t), -1);
    assert_int_equal(s3__http_date_parse("Sun, 36 Nov 1994 08:49:37 GMT", &t), -1);
    assert_int_equal(s3__http_date_parse("", &t), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_escape_bounded),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_etag_lists),
        cmocka_unit_test(test_http_dates),
    };
    return cmocka_run_group_tests_name("s3_xml", tests, NULL, NULL);
}
