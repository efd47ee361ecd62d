/*
 * test_query_records.c: the record stream of an archived object (src/query/records.c over
 * src/query/input.c): JSON lines, values back to back, whitespace between them, a truncated
 * last record, values that are no objects and bytes that are no JSON (skipped and counted), a
 * value split across reads and buffer growth at every byte, values over the size limit, and
 * gzip: detected by its magic, inflated as a stream, single and multi-member (a record may
 * straddle members), truncated, corrupt, followed by garbage.
 *
 * Every case runs with the source handing out 1, 2, 3, 7 and 4096 bytes a read and with
 * record buffers that start at 1, 5 and 64 KiB bytes, so that no boundary goes untested.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "query/qry_int.h"

/* ---- a source in memory that hands out at most step bytes a read ---- */

struct memsrc {
    const unsigned char *p;
    size_t len;
    size_t pos;
    size_t step;
    int fail_at;        /* >= 0: the read at that offset fails with -EIO */
};

static int mem_read(void *ctx, void *dst, size_t cap, size_t *got)
{
    struct memsrc *m = ctx;
    size_t n = m->len - m->pos;
    if (m->fail_at >= 0 && m->pos >= (size_t)m->fail_at) {
        return -EIO;
    }
    if (n > cap) {
        n = cap;
    }
    if (n > m->step) {
        n = m->step;
    }
    memcpy(dst, m->p + m->pos, n);
    m->pos += n;
    *got = n;
    return 0;
}

/* Runs the records of data[0..len) and describes them: each object's bytes, "!" for a skipped
 * record, joined by "|". Returns the records' error, 0 when none. */
static int describe(const void *data, size_t len, size_t step, size_t chunk, size_t initial,
                    size_t max, struct buf *out)
{
    struct memsrc m = { data, len, 0, step, -1 };
    struct qry__input in;
    struct qry__records rs;
    enum qry__rec what;
    int rc;

    buf_reset(out);
    qry__input_init(&in, mem_read, &m, chunk);
    qry__records_init(&rs, &in, initial, max);
    while ((rc = qry__records_next(&rs, &what)) == 0 && what != QRY__REC_END) {
        if (out->len) {
            buf_append(out, "|", 1);
        }
        if (what == QRY__REC_OBJECT) {
            assert_non_null(rs.rec);
            assert_true(json_is_object(rs.rec));
            buf_append(out, rs.text, rs.text_len);
        }
        else {
            buf_append(out, "!", 1);
        }
    }
    qry__records_release(&rs);
    qry__input_release(&in);
    return rc;
}

static const size_t steps[] = { 1, 2, 3, 7, 4096 };
static const size_t initials[] = { 1, 5, 64 * 1024 };

/* data -> want, for every step and initial buffer size, with max as given (0: default). */
static void expect_n(const void *data, size_t len, const char *want, size_t max)
{
    struct buf out;
    buf_init(&out, 1 << 20);
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        for (size_t i = 0; i < sizeof initials / sizeof initials[0]; i++) {
            int rc = describe(data, len, steps[s], 0, initials[i], max, &out);
            if (rc != 0 || strcmp(out.p ? out.p : "", want) != 0) {
                fail_msg("step %zu initial %zu: got '%s' (rc %d), want '%s'", steps[s],
                         initials[i], out.p ? out.p : "", rc, want);
            }
        }
    }
    buf_release(&out);
}

static void expect(const char *data, const char *want)
{
    expect_n(data, strlen(data), want, 0);
}

/* ---- plain streams ---- */

static void test_json_lines(void **state)
{
    (void)state;
    expect("{\"a\":1}\n{\"b\":\"x\"}\n", "{\"a\":1}|{\"b\":\"x\"}");
    expect("{\"a\":1}\n{\"b\":\"x\"}", "{\"a\":1}|{\"b\":\"x\"}");
    expect("{\"a\":1}\r\n{\"b\":2}\r\n", "{\"a\":1}|{\"b\":2}");
    expect("", "");
    expect(" \n\t\r\n", "");
}

static void test_back_to_back(void **state)
{
    (void)state;
    expect("{\"a\":1}{\"a\":2}{\"a\":3}", "{\"a\":1}|{\"a\":2}|{\"a\":3}");
    expect("{\"a\":{\"b\":[1,{}]}}{}{\"c\":\"}{\"}",
           "{\"a\":{\"b\":[1,{}]}}|{}|{\"c\":\"}{\"}");
}

static void test_whitespace_between(void **state)
{
    (void)state;
    expect(" \n\t{\"a\":1} \r\n  {\"a\":2}\n\n\t {\"a\" : 3 }  ",
           "{\"a\":1}|{\"a\":2}|{\"a\" : 3 }");
}

static void test_truncated_last_record(void **state)
{
    (void)state;
    expect("{\"a\":1}\n{\"a\":", "{\"a\":1}|!");
    expect("{\"a\":1}\n{\"a\":\"unterminated", "{\"a\":1}|!");
    expect("{\"a\":1}{", "{\"a\":1}|!");
    expect("{\"a\":1}\n{\"a\":1.5e", "{\"a\":1}|!");
}

static void test_non_objects_skipped(void **state)
{
    (void)state;
    /* A number split anywhere is still one value: 1234567 is one skipped record. */
    expect("[1,2]\n\"s\"\n42\n{\"a\":1}\ntrue null 1234567 {\"b\":2}",
           "!|!|!|{\"a\":1}|!|!|!|{\"b\":2}");
    expect("{\"a\":1} 42", "{\"a\":1}|!");
    expect("this is not json\n{\"a\":1}\n", "!|{\"a\":1}");
    expect("{\"a\":1,,}\n{\"b\":2}", "!|{\"b\":2}");
    expect("{\"a\":\"\xff\"}\n{\"b\":1}", "!|{\"b\":1}");
    expect("not json and no newline", "!");
    expect("{\"\\u0000\":1}\n{\"b\":1}", "!|{\"b\":1}");
}

static void test_values_split_across_reads(void **state)
{
    struct buf out;
    const char *utf = "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}\n{\"b\":\"x\\u0000y\"}";
    (void)state;
    /* Multi-byte UTF-8 cut at every byte (step 1, initial buffer 1 byte) is kept whole. */
    expect(utf, "{\"a\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}|{\"b\":\"x\\u0000y\"}");
    {
        struct memsrc m = { (const unsigned char *)utf, strlen(utf), 0, 1, -1 };
        struct qry__input in;
        struct qry__records rs;
        enum qry__rec what;
        qry__input_init(&in, mem_read, &m, 2);
        qry__records_init(&rs, &in, 1, 0);
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        assert_string_equal(json_string_value(json_object_get(rs.rec, "a")),
                            "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        assert_int_equal(json_string_length(json_object_get(rs.rec, "b")), 3);
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_END);
        assert_int_equal(rs.consumed, strlen(utf));
        qry__records_release(&rs);
        qry__input_release(&in);
    }
    /* A large record grows the buffer from 1 byte and comes out whole. */
    buf_init(&out, 1 << 20);
    {
        char big[70000];
        size_t n = 0;
        n += (size_t)snprintf(big, sizeof big, "{\"k\":\"");
        memset(big + n, 'x', 65000);
        n += 65000;
        n += (size_t)snprintf(big + n, sizeof big - n, "\"}\n{\"z\":0}");
        assert_int_equal(describe(big, n, 4096, 0, 1, 0, &out), 0);
        assert_int_equal(out.len, n - strlen("\n{\"z\":0}") + strlen("|{\"z\":0}"));
    }
    buf_release(&out);
}

static void test_large_integers_and_limits(void **state)
{
    struct memsrc m;
    struct qry__input in;
    struct qry__records rs;
    enum qry__rec what;
    char big[200];
    (void)state;

    /* An integer past 64 bits keeps its record, as a real. */
    static const char bigint[] = "{\"n\":123456789012345678901234,\"m\":5}";
    m = (struct memsrc){ (const unsigned char *)bigint, strlen(bigint), 0, 3, -1 };
    qry__input_init(&in, mem_read, &m, 0);
    qry__records_init(&rs, &in, 4, 0);
    assert_int_equal(qry__records_next(&rs, &what), 0);
    assert_int_equal(what, QRY__REC_OBJECT);
    assert_true(json_is_real(json_object_get(rs.rec, "n")));
    assert_true(json_real_value(json_object_get(rs.rec, "n")) > 1.2e23);
    assert_true(json_is_integer(json_object_get(rs.rec, "m")));
    assert_int_equal(rs.text_len, strlen(bigint));
    assert_int_equal(qry__records_next(&rs, &what), 0);
    assert_int_equal(what, QRY__REC_END);
    qry__records_release(&rs);
    qry__input_release(&in);
    /* Several such numbers, a real past a double's range (null), and the records after. */
    {
        const char *first = "{\"a\":-99999999999999999999,\"b\":[1e400,7],\"c\":1}";
        const char *t = "{\"a\":-99999999999999999999,\"b\":[1e400,7],\"c\":1}"
                        "{\"d\":18446744073709551616}\n{\"e\":1}";
        m = (struct memsrc){ (const unsigned char *)t, strlen(t), 0, 5, -1 };
        qry__input_init(&in, mem_read, &m, 0);
        qry__records_init(&rs, &in, 8, 0);
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        assert_true(json_real_value(json_object_get(rs.rec, "a")) < -9.9e19);
        assert_true(json_is_null(json_array_get(json_object_get(rs.rec, "b"), 0)));
        assert_true(json_is_integer(json_array_get(json_object_get(rs.rec, "b"), 1)));
        assert_true(json_is_integer(json_object_get(rs.rec, "c")));
        assert_int_equal(rs.text_len, strlen(first));
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        assert_true(json_is_real(json_object_get(rs.rec, "d")));
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        assert_int_equal(json_integer_value(json_object_get(rs.rec, "e")), 1);
        qry__records_release(&rs);
        qry__input_release(&in);
    }

    /* A long real past a double's range becomes null (its rewrite shrinks the copy: the
     * fuzzer found a read past the shrunk buffer here). */
    {
        static const char longreal[] = "{\"x\":-1.5e4000000000000,\"y\":1}";
        m = (struct memsrc){ (const unsigned char *)longreal, strlen(longreal), 0, 64, -1 };
        qry__input_init(&in, mem_read, &m, 0);
        qry__records_init(&rs, &in, 0, 0);
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        assert_true(json_is_null(json_object_get(rs.rec, "x")));
        assert_int_equal(json_integer_value(json_object_get(rs.rec, "y")), 1);
        assert_int_equal(rs.text_len, strlen(longreal));
        qry__records_release(&rs);
        qry__input_release(&in);
    }

    /* A value larger than max is skipped up to the next newline; the next line is read. */
    snprintf(big, sizeof big, "{\"a\":\"%0100d\"}\n{\"b\":1}\n", 7);
    expect_n(big, strlen(big), "!|{\"b\":1}", 64);
    /* ... and without a newline, everything after it goes with it (one skipped record). */
    snprintf(big, sizeof big, "{\"a\":\"%0100d\"}{\"b\":1}", 7);
    expect_n(big, strlen(big), "!", 64);
    /* A record that fits exactly is kept. */
    snprintf(big, sizeof big, "{\"a\":\"%056d\"}", 7);
    assert_int_equal(strlen(big), 64);
    expect_n(big, strlen(big), big, 64);

    /* A failing read is an error, not the end of the records. */
    m = (struct memsrc){ (const unsigned char *)"{\"a\":1}\n{\"a\":2}\n", 16, 0, 4, 8 };
    qry__input_init(&in, mem_read, &m, 0);
    qry__records_init(&rs, &in, 4, 0);
    assert_int_equal(qry__records_next(&rs, &what), 0);
    assert_int_equal(what, QRY__REC_OBJECT);
    assert_int_equal(qry__records_next(&rs, &what), -EIO);
    qry__records_release(&rs);
    qry__input_release(&in);
}

/* ---- gzip ---- */

/* Appends the gzip member of data[0..len) to out. */
static void gz_append(struct buf *out, const void *data, size_t len)
{
    z_stream z;
    unsigned char tmp[4096];
    int zrc;

    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    do {
        z.next_out = tmp;
        z.avail_out = sizeof tmp;
        zrc = deflate(&z, Z_FINISH);
        buf_append(out, tmp, sizeof tmp - z.avail_out);
    } while (zrc == Z_OK);
    assert_int_equal(zrc, Z_STREAM_END);
    deflateEnd(&z);
}

static void gz_str(struct buf *out, const char *s)
{
    gz_append(out, s, strlen(s));
}

static void test_gzip_single_member(void **state)
{
    struct buf gz;
    (void)state;
    buf_init(&gz, 1 << 20);
    gz_str(&gz, "{\"a\":1}\n{\"a\":2}{\"a\":3}\n");
    assert_int_equal((unsigned char)gz.p[0], 0x1f);
    expect_n(gz.p, gz.len, "{\"a\":1}|{\"a\":2}|{\"a\":3}", 0);
    buf_release(&gz);
}

static void test_gzip_multi_member(void **state)
{
    struct buf gz;
    (void)state;
    buf_init(&gz, 1 << 20);
    gz_str(&gz, "{\"a\":1}\n{\"a\":");     /* a record straddles the members */
    gz_str(&gz, "2}\n");
    gz_str(&gz, "");                        /* an empty member */
    gz_str(&gz, "{\"a\":3}");
    expect_n(gz.p, gz.len, "{\"a\":1}|{\"a\":2}|{\"a\":3}", 0);
    buf_release(&gz);
}

static void test_gzip_damaged(void **state)
{
    struct buf gz;
    (void)state;
    buf_init(&gz, 1 << 20);

    /* Truncated: what was inflated counts, the cut-off tail is one skipped record. */
    gz_str(&gz, "{\"a\":1}\n{\"a\":2}\n");
    gz.len -= 6;
    expect_n(gz.p, gz.len, "{\"a\":1}|{\"a\":2}|!", 0);

    /* A wrong CRC32: the data came out, the member is reported as bad. */
    buf_reset(&gz);
    gz_str(&gz, "{\"a\":1}\n");
    gz.p[gz.len - 8] ^= 0x55;
    expect_n(gz.p, gz.len, "{\"a\":1}|!", 0);

    /* Bytes after a member that are no member. */
    buf_reset(&gz);
    gz_str(&gz, "{\"a\":1}\n");
    buf_append(&gz, "xyz", 3);
    expect_n(gz.p, gz.len, "{\"a\":1}|!", 0);

    /* Garbage after the magic. */
    expect_n("\x1f\x8bnot deflate at all", 20, "!", 0);
    buf_release(&gz);
}

static void test_gzip_by_magic_not_name(void **state)
{
    (void)state;
    /* 1f alone, or 1f not followed by 8b, is plain bytes (here: not JSON). */
    expect_n("\x1f", 1, "!", 0);
    expect_n("\x1f{\"a\":1}\n{\"b\":2}", 16, "!|{\"b\":2}", 0);
}

/* The input layer alone: a large JSON-lines body and its gzip come out byte for byte the
 * same, whatever the compressed-buffer and read sizes. */
static void test_input_round_trip(void **state)
{
    struct buf plain, gz, out;
    static const size_t chunks[] = { 2, 3, 1000, 0 };
    (void)state;

    buf_init(&plain, 4 << 20);
    buf_init(&gz, 4 << 20);
    buf_init(&out, 4 << 20);
    for (int i = 0; i < 20000; i++) {
        buf_printf(&plain, "{\"id\":%d,\"customer\":\"c%d\",\"amount\":%d.25}\n", i, i % 7, i);
    }
    gz_append(&gz, plain.p, plain.len / 2);
    gz_append(&gz, plain.p + plain.len / 2, plain.len - plain.len / 2);
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        for (int g = 0; g < 2; g++) {
            struct memsrc m = { (const unsigned char *)(g ? gz.p : plain.p),
                                g ? gz.len : plain.len, 0, 7919, -1 };
            struct qry__input in;
            char tmp[5000];
            size_t got;
            buf_reset(&out);
            qry__input_init(&in, mem_read, &m, chunks[c]);
            for (;;) {
                assert_int_equal(qry__input_read(&in, tmp, sizeof tmp, &got), 0);
                if (got == 0) {
                    break;
                }
                buf_append(&out, tmp, got);
            }
            assert_int_equal(in.gzip, g == 1);
            qry__input_release(&in);
            assert_int_equal(out.len, plain.len);
            assert_memory_equal(out.p, plain.p, plain.len);
        }
    }
    buf_release(&plain);
    buf_release(&gz);
    buf_release(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_back_to_back),
        cmocka_unit_test(test_whitespace_between),
        cmocka_unit_test(test_truncated_last_record),
        cmocka_unit_test(test_non_objects_skipped),
        cmocka_unit_test(test_values_split_across_reads),
        cmocka_unit_test(test_large_integers_and_limits),
        cmocka_unit_test(test_gzip_single_member),
        cmocka_unit_test(test_gzip_multi_member),
        cmocka_unit_test(test_gzip_damaged),
        cmocka_unit_test(test_gzip_by_magic_not_name),
        cmocka_unit_test(test_input_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
