/*
 * test_s3_record.c: the S3 encodings (src/s3/record.c): object keys, object and bucket
 * records, continuation tokens.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "s3/s3_int.h"

static int cmp_lmdb(const unsigned char *a, size_t al, const unsigned char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al < bl ? -1 : al > bl);
}

static void test_objkey_short_and_long(void **state)
{
    unsigned char k[S3__LMDB_KEY_MAX];
    char big[S3_KEY_MAX];
    size_t n;
    (void)state;

    n = s3__objkey("bkt", SL_STR_LIT("a/b"), k);
    assert_int_equal(n, 7);
    assert_memory_equal(k, "bkt\0a/b", 7);
    memset(big, 'x', sizeof big);
    n = s3__objkey("bkt", (struct sl_str){ big, S3__KEY_INLINE }, k);
    assert_int_equal(n, 4 + S3__KEY_INLINE);
    assert_false(s3__objkey_is_long(n, 3));
    n = s3__objkey("bkt", (struct sl_str){ big, S3__KEY_INLINE + 1 }, k);
    assert_int_equal(n, 4 + S3__KEY_INLINE + S3__KEY_HASH);
    assert_true(s3__objkey_is_long(n, 3));
    n = s3__objkey("a-bucket-name-of-sixty-three-characters-exactly-xxxxxxxxxxxxxxx",
                   (struct sl_str){ big, S3_KEY_MAX }, k);
    assert_true(n <= 511);
}

/* LMDB order agrees with full-key order except inside a long-key group. */
static void test_objkey_order(void **state)
{
    static char keys[6][S3_KEY_MAX];
    size_t lens[6] = { 1, S3__KEY_INLINE, S3__KEY_INLINE + 5, S3__KEY_INLINE + 1, 900, 3 };
    unsigned char a[S3__LMDB_KEY_MAX], b[S3__LMDB_KEY_MAX];
    (void)state;

    for (int i = 0; i < 6; i++) {
        memset(keys[i], 'm', lens[i]);
    }
    keys[5][1] = 'z';
    for (int i = 0; i < 6; i++) {
        for (int j = 0; j < 6; j++) {
            struct sl_str ki = { keys[i], lens[i] }, kj = { keys[j], lens[j] };
            size_t an = s3__objkey("bkt", ki, a), bn = s3__objkey("bkt", kj, b);
            int full = cmp_lmdb((const unsigned char *)ki.p, ki.len,
                                (const unsigned char *)kj.p, kj.len);
            bool group = ki.len > S3__KEY_INLINE && kj.len > S3__KEY_INLINE;
            if (!group && full != 0) {
                assert_int_equal(full < 0, cmp_lmdb(a, an, b, bn) < 0);
            }
        }
    }
}

static void test_obj_roundtrip(void **state)
{
    struct s3__obj o, d;
    unsigned char lk[S3__LMDB_KEY_MAX];
    unsigned char *rec;
    char big[700];
    size_t len, ln;
    (void)state;

    memset(&o, 0, sizeof o);
    o.size = 123456789012ull;
    o.mtime_ms = 1700000000123ull;
    memset(o.md5, 0xab, 16);
    s3__body_id_new(o.body);
    o.key = SL_STR_LIT("dir/file.txt");
    o.fields[o.n_fields++] = (struct s3__field){ SL_STR_LIT("content-type"),
                                                 SL_STR_LIT("text/plain") };
    o.fields[o.n_fields++] = (struct s3__field){ SL_STR_LIT("x-amz-meta-a"), SL_STR_LIT("") };
    rec = s3__obj_encode(&o, &len);
    ln = s3__objkey("bkt", o.key, lk);
    assert_int_equal(s3__obj_decode(rec, len, lk, ln, 3, &d), 0);
    assert_int_equal(d.size, o.size);
    assert_int_equal(d.mtime_ms, o.mtime_ms);
    assert_memory_equal(d.md5, o.md5, 16);
    assert_memory_equal(d.body, o.body, 16);
    assert_true(sl_str_eq(d.key, o.key));
    assert_int_equal(d.n_fields, 2);
    assert_true(sl_str_eq_c(s3__obj_field(&d, "content-type"), "text/plain"));
    assert_non_null(s3__obj_field(&d, "x-amz-meta-a").p);
    assert_null(s3__obj_field(&d, "expires").p);
    /* Truncated records are refused, never read past their end. */
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_not_equal(s3__obj_decode(rec, cut, lk, ln, 3, &d), 0);
    }
    free(rec);

    memset(big, 'k', sizeof big);
    o.key = (struct sl_str){ big, sizeof big };
    rec = s3__obj_encode(&o, &len);
    ln = s3__objkey("bkt", o.key, lk);
    assert_int_equal(s3__obj_decode(rec, len, lk, ln, 3, &d), 0);
    assert_true(sl_str_eq(d.key, o.key));
    free(rec);
}

/* Version 2 extensions: parts, checksum, tags; a key kept in the record though short; and a
 * version 1 record (no extensions) still read. */
static void test_obj_extensions_and_v1(void **state)
{
    struct s3__obj o, d;
    unsigned char *rec, sizes[24];
    unsigned char lk[S3__LMDB_KEY_MAX];
    char etag[S3__ETAG_MAX];
    size_t len, ln;
    (void)state;

    memset(&o, 0, sizeof o);
    memset(sizes, 0, sizeof sizes);
    sizes[0] = 1;
    sizes[8] = 2;
    sizes[17] = 1; /* 256 */
    o.size = 259;
    o.key = SL_STR_LIT("k");
    o.key_in_record = true;
    o.multipart = true;
    o.n_parts = 3;
    o.part_sizes = sizes;
    o.ck.algo = S3__CK_CRC32;
    o.ck.type = S3__CK_COMPOSITE;
    o.ck.len = 4;
    memcpy(o.ck.value, "\x01\x02\x03\x04", 4);
    o.tags = (struct sl_str){ "\x01\x00\x01\x00k\x01\x00v", 8 }; /* one tag, k=v */
    o.fields[o.n_fields++] = (struct s3__field){ SL_STR_LIT("content-type"), SL_STR_LIT("a/b") };
    rec = s3__obj_encode(&o, &len);
    /* The LMDB key does not hold the object key: the record does. */
    ln = s3__partkey((const unsigned char *)"0123456789abcdef", 7, lk);
    assert_int_equal(s3__obj_decode(rec, len, lk, ln, 0, &d), 0);
    assert_true(sl_str_eq_c(d.key, "k"));
    assert_true(d.multipart);
    assert_int_equal(d.n_parts, 3);
    assert_int_equal(s3__obj_part_size(&d, 0), 1);
    assert_int_equal(s3__obj_part_size(&d, 1), 2);
    assert_int_equal(s3__obj_part_size(&d, 2), 256);
    assert_int_equal(d.ck.algo, S3__CK_CRC32);
    assert_int_equal(d.ck.type, S3__CK_COMPOSITE);
    assert_memory_equal(d.ck.value, "\x01\x02\x03\x04", 4);
    assert_int_equal(d.tags.len, 8);
    assert_memory_equal(d.tags.p, "\x01\x00\x01\x00k\x01\x00v", 8);
    memset(d.md5, 0, 16);
    s3__obj_etag(&d, etag);
    assert_string_equal(etag, "\"00000000000000000000000000000000-3\"");
    /* A parts extension whose count disagrees with its length is corrupt. */
    rec[len - 13 - 12 - 33 + 5] ^= 1; /* the count (tags 13, checksum 12, parts 33 bytes) */
    assert_int_not_equal(s3__obj_decode(rec, len, lk, ln, 0, &d), 0);
    free(rec);

    memset(&o, 0, sizeof o);
    o.key = SL_STR_LIT("old");
    o.size = 5;
    o.fields[o.n_fields++] = (struct s3__field){ SL_STR_LIT("content-type"), SL_STR_LIT("x/y") };
    rec = s3__obj_encode(&o, &len);
    rec[0] = 1;
    ln = s3__objkey("bkt", o.key, lk);
    assert_int_equal(s3__obj_decode(rec, len, lk, ln, 3, &d), 0);
    assert_true(sl_str_eq_c(d.key, "old"));
    assert_false(d.multipart);
    assert_int_equal(d.size, 5);
    rec[0] = 3;
    assert_int_not_equal(s3__obj_decode(rec, len, lk, ln, 3, &d), 0);
    free(rec);
}

/* Versions and Object Lock: a delete marker, a null version, a version key, retention. */
static void test_obj_versions_and_lock(void **state)
{
    struct s3__obj o, d;
    unsigned char *rec, lk[S3__LMDB_KEY_MAX], vsk[16];
    char vid[33];
    size_t len, ln;
    bool is_null;
    (void)state;

    memset(&o, 0, sizeof o);
    o.key = SL_STR_LIT("inv");
    o.delete_marker = true;
    o.has_vsk = true;
    memset(o.vsk, 0xa5, 16);
    rec = s3__obj_encode(&o, &len);
    ln = s3__objkey("bkt", o.key, lk);
    assert_int_equal(s3__obj_decode(rec, len, lk, ln, 3, &d), 0);
    assert_true(d.delete_marker);
    assert_false(d.null_version);
    assert_true(d.has_vsk);
    s3__vid_str(&d, vid);
    assert_string_equal(vid, "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5");
    assert_int_equal(s3__vid_parse(vid, &is_null, vsk), 0);
    assert_false(is_null);
    assert_memory_equal(vsk, o.vsk, 16);
    free(rec);

    o.delete_marker = false;
    o.null_version = true;
    o.lock_mode = S3__LOCK_COMPLIANCE;
    o.retain_until_ms = 1900000000000ull;
    o.legal_hold = true;
    rec = s3__obj_encode(&o, &len);
    assert_int_equal(s3__obj_decode(rec, len, lk, ln, 3, &d), 0);
    assert_true(d.null_version);
    s3__vid_str(&d, vid);
    assert_string_equal(vid, "null");
    assert_int_equal(d.lock_mode, S3__LOCK_COMPLIANCE);
    assert_true(d.retain_until_ms == 1900000000000ull);
    assert_true(d.legal_hold);
    /* A locked version is kept; a delete marker never is. */
    assert_int_equal(s3__lock_check(&d, true, 1800000000000ull), S3__ELOCKED);
    d.legal_hold = false;
    assert_int_equal(s3__lock_check(&d, true, 1800000000000ull), S3__ELOCKED);
    assert_int_equal(s3__lock_check(&d, false, 1950000000000ull), 0);
    d.lock_mode = S3__LOCK_GOVERNANCE;
    assert_int_equal(s3__lock_check(&d, false, 1800000000000ull), S3__ELOCKED);
    assert_int_equal(s3__lock_check(&d, true, 1800000000000ull), 0);
    free(rec);

    assert_int_equal(s3__vid_parse("null", &is_null, vsk), 0);
    assert_true(is_null);
    assert_int_not_equal(s3__vid_parse("xyz", &is_null, vsk), 0);
    assert_int_not_equal(s3__vid_parse("a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5ag", &is_null, vsk), 0);
    assert_int_not_equal(s3__vid_parse(NULL, &is_null, vsk), 0);
}

/* The inline flag (bit 4) survives a round trip, and leaves the other flags alone. */
static void test_obj_inline_flag(void **state)
{
    struct s3__obj o, d;
    unsigned char *rec, lk[S3__LMDB_KEY_MAX];
    size_t len, ln;
    (void)state;

    memset(&o, 0, sizeof o);
    o.key = SL_STR_LIT("small");
    o.size = 4096;
    memset(o.body, 0x3c, 16);
    o.inline_body = true;
    o.null_version = true;
    rec = s3__obj_encode(&o, &len);
    assert_int_equal(rec[1], 16 | 8);
    ln = s3__objkey("bkt", o.key, lk);
    assert_int_equal(s3__obj_decode(rec, len, lk, ln, 3, &d), 0);
    assert_true(d.inline_body);
    assert_true(d.null_version);
    assert_false(d.delete_marker);
    assert_memory_equal(d.body, o.body, 16);
    free(rec);
    o.inline_body = false;
    rec = s3__obj_encode(&o, &len);
    assert_int_equal(rec[1], 8);
    assert_int_equal(s3__obj_decode(rec, len, lk, ln, 3, &d), 0);
    assert_false(d.inline_body);
    free(rec);
}

static void test_etag_and_body_name(void **state)
{
    struct s3__obj o;
    char etag[S3__ETAG_MAX], name[33];
    unsigned char a[16], b[16];
    (void)state;
    memset(&o, 0, sizeof o);
    memcpy(o.md5, "\xd4\x1d\x8c\xd9\x8f\x00\xb2\x04\xe9\x80\x09\x98\xec\xf8\x42\x7e", 16);
    s3__obj_etag(&o, etag);
    assert_string_equal(etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
    s3__body_id_new(a);
    s3__body_id_new(b);
    assert_memory_not_equal(a, b, 16);
    s3__body_name(a, name);
    assert_int_equal(strlen(name), 32);
}

static void test_bucket_record(void **state)
{
    unsigned char rec[64];
    uint64_t ms = 0;
    size_t n;
    (void)state;
    n = s3__bucket_encode(1700000000123ull, "eu-west-1", NULL, rec, sizeof rec);
    assert_int_equal(n, 19);
    assert_int_equal(s3__bucket_decode(rec, n, &ms, NULL), 0);
    assert_int_equal(ms, 1700000000123ull);
    assert_int_not_equal(s3__bucket_decode(rec, n - 1, &ms, NULL), 0);
    assert_int_equal(s3__bucket_encode(1, "eu-west-1", NULL, rec, 5), 0);
    /* With its owner's key id (version 2). */
    {
        struct sl_str owner;
        n = s3__bucket_encode(5, "us-east-1", "AKIAOWNER", rec, sizeof rec);
        assert_int_equal(n, 10 + 9 + 1 + 9);
        assert_int_equal(s3__bucket_decode(rec, n, &ms, &owner), 0);
        assert_true(sl_str_eq_c(owner, "AKIAOWNER"));
        assert_int_not_equal(s3__bucket_decode(rec, n - 1, &ms, &owner), 0);
        n = s3__bucket_encode(5, "us-east-1", NULL, rec, sizeof rec);
        assert_int_equal(s3__bucket_decode(rec, n, &ms, &owner), 0);
        assert_int_equal(owner.len, 0);
    }
}

static void test_tokens(void **state)
{
    static const char *const keys[] = { "", "a", "ab", "abc", "dir/sub/", "\xff\x00\x01" };
    struct arena a;
    (void)state;
    arena_init(&a);
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        struct sl_str in = { keys[i], i == 5 ? 3 : strlen(keys[i]) }, out;
        enum s3__token_kind kind;
        char *tok = s3__token_encode(&a, S3__AFTER_PREFIX, in);
        assert_int_equal(s3__token_decode(&a, tok, &kind, &out), 0);
        assert_int_equal(kind, S3__AFTER_PREFIX);
        assert_true(sl_str_eq(in, out));
        tok = s3__token_encode(&a, S3__AFTER_KEY, in);
        assert_int_equal(s3__token_decode(&a, tok, &kind, &out), 0);
        assert_int_equal(kind, S3__AFTER_KEY);
        assert_true(strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789-_") == strlen(tok));
    }
    {
        enum s3__token_kind kind;
        struct sl_str out;
        char *tok;
        assert_int_not_equal(s3__token_decode(&a, "", &kind, &out), 0);
        assert_int_not_equal(s3__token_decode(&a, "!!!!", &kind, &out), 0);
        assert_int_not_equal(s3__token_decode(&a, "a+b/", &kind, &out), 0);
        /* A kind byte other than K or P. */
        tok = s3__token_encode(&a, (enum s3__token_kind)'Z', SL_STR_LIT("abc"));
        assert_int_not_equal(s3__token_decode(&a, tok, &kind, &out), 0);
    }
    arena_clear(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objkey_short_and_long),
        cmocka_unit_test(test_objkey_order),
        cmocka_unit_test(test_obj_roundtrip),
        cmocka_unit_test(test_obj_extensions_and_v1),
        cmocka_unit_test(test_obj_versions_and_lock),
        cmocka_unit_test(test_obj_inline_flag),
        cmocka_unit_test(test_etag_and_body_name),
        cmocka_unit_test(test_bucket_record),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests_name("s3_record", tests, NULL, NULL);
}
