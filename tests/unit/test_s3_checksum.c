/*
 * test_s3_checksum.c: S3's additional checksums (src/s3/checksum.c): the check values of
 * each algorithm ("123456789"), streaming in pieces, the wire form, and the combination of
 * part CRCs into the CRC of the whole (FULL_OBJECT multipart checksums).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_int.h"

static uint64_t be(const struct s3__checksum *c)
{
    uint64_t v = 0;
    for (size_t i = 0; i < c->len; i++) {
        v = (v << 8) | c->value[i];
    }
    return v;
}

static void test_check_values(void **state)
{
    struct s3__checksum c;
    char hex[65];
    (void)state;

    assert_int_equal(s3__ck_of(S3__CK_CRC32, "123456789", 9, &c), 0);
    assert_int_equal(c.len, 4);
    assert_int_equal(be(&c), 0xCBF43926u);
    assert_int_equal(s3__ck_of(S3__CK_CRC32C, "123456789", 9, &c), 0);
    assert_int_equal(be(&c), 0xE3069283u);
    assert_int_equal(s3__ck_of(S3__CK_CRC64NVME, "123456789", 9, &c), 0);
    assert_int_equal(c.len, 8);
    assert_true(be(&c) == 0xAE8B14860A799888ull);
    assert_int_equal(s3__ck_of(S3__CK_SHA256, "", 0, &c), 0);
    sl_hex(c.value, c.len, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(s3__ck_of(S3__CK_SHA1, "abc", 3, &c), 0);
    assert_int_equal(c.len, 20);
    sl_hex(c.value, c.len, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

/* Every algorithm gives the same value fed in any split. */
static void test_streaming_splits(void **state)
{
    unsigned char buf[1000];
    (void)state;
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (unsigned char)(i * 7 + 3);
    }
    for (unsigned a = S3__CK_CRC32; a <= S3__CK_SHA256; a++) {
        struct s3__checksum whole, parts;
        struct s3__ck_ctx c;
        assert_int_equal(s3__ck_of(a, buf, sizeof buf, &whole), 0);
        assert_int_equal(s3__ck_init(&c, a), 0);
        for (size_t off = 0, step = 1; off < sizeof buf; off += step, step = step * 3 + 1) {
            size_t n = off + step > sizeof buf ? sizeof buf - off : step;
            s3__ck_update(&c, buf + off, n);
        }
        s3__ck_final(&c, &parts);
        s3__ck_release(&c);
        assert_int_equal(whole.len, s3__ck_len(a));
        assert_memory_equal(whole.value, parts.value, whole.len);
    }
}

static void test_combine(void **state)
{
    unsigned char buf[5000];
    (void)state;
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = (unsigned char)(i * 31 + (i >> 3));
    }
    for (unsigned a = S3__CK_CRC32; a <= S3__CK_CRC64NVME; a++) {
        static const size_t cuts[][2] = { { 0, 5000 }, { 1, 4999 }, { 4096, 904 }, { 2500, 0 } };
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            struct s3__checksum whole, acc, b;
            size_t an = cuts[k][0], bn = cuts[k][1];
            assert_int_equal(s3__ck_of(a, buf, an + bn, &whole), 0);
            assert_int_equal(s3__ck_of(a, buf, an, &acc), 0);
            assert_int_equal(s3__ck_of(a, buf + an, bn, &b), 0);
            assert_int_equal(s3__ck_combine(&acc, &b, bn), 0);
            assert_memory_equal(whole.value, acc.value, whole.len);
        }
    }
    {
        struct s3__checksum x, y;
        assert_int_equal(s3__ck_of(S3__CK_SHA1, "a", 1, &x), 0);
        y = x;
        assert_int_equal(s3__ck_combine(&x, &y, 1), -EINVAL);
    }
}

static void test_names_and_wire(void **state)
{
    struct arena a;
    struct s3__checksum c;
    (void)state;
    arena_init(&a);
    assert_int_equal(s3__ck_algo_parse("crc32c"), S3__CK_CRC32C);
    assert_int_equal(s3__ck_algo_parse("CRC64NVME"), S3__CK_CRC64NVME);
    assert_int_equal(s3__ck_algo_parse("md5"), S3__CK_NONE);
    assert_int_equal(s3__ck_algo_parse(NULL), S3__CK_NONE);
    assert_int_equal(s3__ck_algo_of_header(SL_STR_LIT("X-Amz-Checksum-SHA256")), S3__CK_SHA256);
    assert_int_equal(s3__ck_algo_of_header(SL_STR_LIT("x-amz-checksum-mode")), S3__CK_NONE);
    assert_string_equal(s3__ck_header(S3__CK_CRC32), "x-amz-checksum-crc32");
    assert_string_equal(s3__ck_name(S3__CK_SHA1), "SHA1");
    assert_false(s3__ck_is_crc(S3__CK_SHA256));
    assert_int_equal(s3__ck_of(S3__CK_CRC32, "hello world", 11, &c), 0);
    assert_string_equal(s3__ck_b64(&a, &c, 3), "DUoRhQ==");
    c.type = S3__CK_COMPOSITE;
    assert_string_equal(s3__ck_b64(&a, &c, 3), "DUoRhQ==-3");
    arena_clear(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_streaming_splits),
        cmocka_unit_test(test_combine),
        cmocka_unit_test(test_names_and_wire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
