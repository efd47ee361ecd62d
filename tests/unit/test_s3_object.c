/*
 * test_s3_object.c: Range headers as S3 reads them (src/s3/object.c), and bucket names
 * (src/s3/bucket.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "s3/s3_int.h"

static void test_range(void **state)
{
    static const struct {
        const char *h;
        uint64_t size;
        enum s3__range_result want;
        uint64_t off, len;
    } cases[] = {
        { NULL, 10, S3__RANGE_NONE, 0, 0 },
        { "bytes=0-4", 10, S3__RANGE_PARTIAL, 0, 5 },
        { "bytes=5-", 10, S3__RANGE_PARTIAL, 5, 5 },
        { "bytes=-3", 10, S3__RANGE_PARTIAL, 7, 3 },
        { "bytes=-30", 10, S3__RANGE_PARTIAL, 0, 10 },
        { "bytes=9-9", 10, S3__RANGE_PARTIAL, 9, 1 },
        { "bytes=5-100", 10, S3__RANGE_PARTIAL, 5, 5 },
        { "bytes=10-", 10, S3__RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=10-20", 10, S3__RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=-0", 10, S3__RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=0-", 0, S3__RANGE_UNSATISFIABLE, 0, 0 },
        { "bytes=-5", 0, S3__RANGE_UNSATISFIABLE, 0, 0 },
        /* Syntax S3 ignores: the whole object is sent. */
        { "bytes=5-2", 10, S3__RANGE_NONE, 0, 0 },
        { "bytes=0-1,3-4", 10, S3__RANGE_NONE, 0, 0 },
        { "items=0-1", 10, S3__RANGE_NONE, 0, 0 },
        { "bytes=a-b", 10, S3__RANGE_NONE, 0, 0 },
        { "bytes=-", 10, S3__RANGE_NONE, 0, 0 },
        { "bytes=1-2x", 10, S3__RANGE_NONE, 0, 0 },
        { "bytes=99999999999999999999999-", 10, S3__RANGE_NONE, 0, 0 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t off = 0, len = 0;
        enum s3__range_result got = s3__range_parse(cases[i].h, cases[i].size, &off, &len);
        assert_int_equal(got, cases[i].want);
        if (got == S3__RANGE_PARTIAL) {
            assert_int_equal(off, cases[i].off);
            assert_int_equal(len, cases[i].len);
        }
    }
}

static void test_bucket_names(void **state)
{
    static const char *const good[] = {
        "abc", "my-bucket", "my.bucket.name", "a1b2c3", "123", "docexamplebucket1",
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabc",
    };
    static const char *const bad[] = {
        "ab", "ABC", "my_bucket", "-abc", "abc-", ".abc", "abc.", "a..b", "a.-b", "a-.b",
        "192.168.5.4", "xn--abc", "sthree-abc", "abc-s3alias", "abc--ol-s3", "my bucket",
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd", "", "a/b",
    };
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_true(s3__bucket_name_valid(good[i], strlen(good[i])));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (s3__bucket_name_valid(bad[i], strlen(bad[i]))) {
            fail_msg("accepted bad bucket name '%s'", bad[i]);
        }
    }
    assert_false(s3__bucket_name_valid("ab\0c", 4));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_bucket_names),
    };
    return cmocka_run_group_tests_name("s3_object", tests, NULL, NULL);
}
