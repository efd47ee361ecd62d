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
#include <stdlib.h>
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
            assert_true(rs.text_len >= 2 && rs.text[0] == '{');
            assert_true(rs.text[rs.text_len - 1] == '}');
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

/* The member key of the current record, which must be there, with its value's text. */
static const struct qry__field *member(const struct qry__records *rs, const char *key,
                                       enum qry__jtype type, const char *text)
{
    const struct qry__field *f = qry__record_get(rs, key, strlen(key));
    if (!f) {
        fail_msg("no member '%s' in %.*s", key, (int)rs->text_len, rs->text);
    }
    assert_int_equal(f->type, type);
    if (text && (f->val_len != strlen(text) || memcmp(rs->text + f->val, text, f->val_len))) {
        fail_msg("member '%s' is '%.*s', want '%s'", key, (int)f->val_len, rs->text + f->val,
                 text);
    }
    return f;
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
    /* A key with \u0000 is kept (jansson refuses it): it can be no column, that is all. */
    expect("{\"\\u0000\":1}\n{\"b\":1}", "{\"\\u0000\":1}|{\"b\":1}");
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
        assert_false(member(&rs, "a", QRY__J_STRING,
                            "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"")->flag);
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        {
            const struct qry__field *f = member(&rs, "b", QRY__J_STRING, "\"x\\u0000y\"");
            size_t n;
            char *d = qry__json_unescape(rs.text + f->val + 1, f->val_len - 2, &n);
            assert_true(f->flag);
            assert_int_equal(n, 3);
            assert_memory_equal(d, "x\0y", 3);
            free(d);
        }
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

    /* An integer past 64 bits keeps its record (archive.c makes it a REAL). */
    static const char bigint[] = "{\"n\":123456789012345678901234,\"m\":5}";
    m = (struct memsrc){ (const unsigned char *)bigint, strlen(bigint), 0, 3, -1 };
    qry__input_init(&in, mem_read, &m, 0);
    qry__records_init(&rs, &in, 4, 0);
    assert_int_equal(qry__records_next(&rs, &what), 0);
    assert_int_equal(what, QRY__REC_OBJECT);
    assert_true(member(&rs, "n", QRY__J_NUMBER, "123456789012345678901234")->flag);
    assert_true(member(&rs, "m", QRY__J_NUMBER, "5")->flag);
    assert_int_equal(rs.text_len, strlen(bigint));
    assert_int_equal(qry__records_next(&rs, &what), 0);
    assert_int_equal(what, QRY__REC_END);
    qry__records_release(&rs);
    qry__input_release(&in);
    /* Several such numbers, a real past a double's range, and the records after. */
    {
        const char *first = "{\"a\":-99999999999999999999,\"b\":[1e400,7],\"c\":1}";
        const char *t = "{\"a\":-99999999999999999999,\"b\":[1e400,7],\"c\":1}"
                        "{\"d\":18446744073709551616}\n{\"e\":1}";
        m = (struct memsrc){ (const unsigned char *)t, strlen(t), 0, 5, -1 };
        qry__input_init(&in, mem_read, &m, 0);
        qry__records_init(&rs, &in, 8, 0);
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        member(&rs, "a", QRY__J_NUMBER, "-99999999999999999999");
        member(&rs, "b", QRY__J_ARRAY, "[1e400,7]");
        member(&rs, "c", QRY__J_NUMBER, "1");
        assert_int_equal(rs.text_len, strlen(first));
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        member(&rs, "d", QRY__J_NUMBER, "18446744073709551616");
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        member(&rs, "e", QRY__J_NUMBER, "1");
        qry__records_release(&rs);
        qry__input_release(&in);
    }

    /* A long real past a double's range (jansson refuses it; an earlier rewrite of such
     * numbers read past its buffer, found by the fuzzer). */
    {
        static const char longreal[] = "{\"x\":-1.5e4000000000000,\"y\":1}";
        m = (struct memsrc){ (const unsigned char *)longreal, strlen(longreal), 0, 64, -1 };
        qry__input_init(&in, mem_read, &m, 0);
        qry__records_init(&rs, &in, 0, 0);
        assert_int_equal(qry__records_next(&rs, &what), 0);
        assert_int_equal(what, QRY__REC_OBJECT);
        assert_false(member(&rs, "x", QRY__J_NUMBER, "-1.5e4000000000000")->flag);
        member(&rs, "y", QRY__J_NUMBER, "1");
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

/* ---- the scanner's verdicts (RFC 8259) ---- */

static void test_scanner_verdicts(void **state)
{
    static const struct {
        const char *json;
        enum qry__scan at_end;      /* with more bytes possibly to come */
        enum qry__scan at_eof;      /* with nothing after */
        size_t len;                 /* of an OK value */
    } cases[] = {
        { "{}", QRY__SCAN_OK, QRY__SCAN_OK, 2 },
        { "[]", QRY__SCAN_OK, QRY__SCAN_OK, 2 },
        { "{ \"a\" : [ 1 , { \"b\" : null } ] , \"c\":\"\\u00e9\\ud83d\\ude00\\/\\\"\"}x",
          QRY__SCAN_OK, QRY__SCAN_OK, 62 },
        { "[-0,0.5,1e5,1E+5,-1.5e-7,true,false,null,\"\"]", QRY__SCAN_OK, QRY__SCAN_OK, 44 },
        { "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"", QRY__SCAN_OK, QRY__SCAN_OK,
          15 },
        { "{}}", QRY__SCAN_OK, QRY__SCAN_OK, 2 },
        /* A top-level number may go on; inside a container it is delimited. */
        { "123", QRY__SCAN_MORE, QRY__SCAN_OK, 3 },
        { "123 ", QRY__SCAN_OK, QRY__SCAN_OK, 3 },
        /* Cut short. */
        { "{\"a\":", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        { "{\"a\":1", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        { "[1,2", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        { "\"abc", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        { "[tr", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        { "[\"\\u00", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        { "[\"\\ud83d", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        { "[\"\xe2\x82", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        { "[1e", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        { "[-", QRY__SCAN_MORE, QRY__SCAN_BAD, 0 },
        /* Not JSON, however many bytes follow. */
        { "{\"a\":1,}", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[1,]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "{\"a\"}", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "{a:1}", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "{\"a\" 1}", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[1 2]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[01]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[1.]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[.5]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[+1]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[1e+]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[\"\\x\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[\"\\u12g4\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[\"\\ud800\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[\"\\udc00\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[\"\\ud800\\u0041\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[\"a\tb\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[\"\xc0\x80\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },          /* overlong */
        { "[\"\xed\xa0\x80\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },      /* a surrogate */
        { "[\"\xf4\x90\x80\x80\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },  /* past U+10FFFF */
        { "[\"\x80\"]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[truex]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "[nul]", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "x", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
        { "}", QRY__SCAN_BAD, QRY__SCAN_BAD, 0 },
    };
    char deep[2 * 2049 + 1];
    size_t len;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *j = cases[i].json;
        for (int eof = 0; eof < 2; eof++) {
            enum qry__scan want = eof ? cases[i].at_eof : cases[i].at_end;
            enum qry__scan got = qry__json_scan(j, strlen(j), eof, &len);
            if (got != want || (got == QRY__SCAN_OK && len != cases[i].len)) {
                fail_msg("%s (eof %d): %d len %zu, want %d len %zu", j, eof, got, len, want,
                         cases[i].len);
            }
        }
    }
    /* Nesting up to 2048 levels, as jansson allows. */
    memset(deep, '[', 2048);
    memset(deep + 2048, ']', 2048);
    assert_int_equal(qry__json_scan(deep, 4096, true, &len), QRY__SCAN_OK);
    assert_int_equal(len, 4096);
    memset(deep, '[', 2049);
    memset(deep + 2049, ']', 2049);
    assert_int_equal(qry__json_scan(deep, 4098, true, &len), QRY__SCAN_BAD);
}

static void test_members_noted(void **state)
{
    static const char rec[] = "{ \"a\" : 1 , \"n\\u00e9\":{\"x\":[1,{}]},\"s\":\"q\\\"\","
                              "\"t\":true,\"a\":2,\"z\":[ ] }";
    struct memsrc m = { (const unsigned char *)rec, sizeof rec - 1, 0, 3, -1 };
    struct qry__input in;
    struct qry__records rs;
    enum qry__rec what;
    (void)state;

    qry__input_init(&in, mem_read, &m, 0);
    qry__records_init(&rs, &in, 2, 0);
    assert_int_equal(qry__records_next(&rs, &what), 0);
    assert_int_equal(what, QRY__REC_OBJECT);
    assert_int_equal(rs.n_fields, 6);
    assert_true(member(&rs, "a", QRY__J_NUMBER, "1")->flag);    /* the first of two */
    assert_true(member(&rs, "n\xc3\xa9", QRY__J_OBJECT, "{\"x\":[1,{}]}")->key_escaped);
    assert_true(member(&rs, "s", QRY__J_STRING, "\"q\\\"\"")->flag);
    member(&rs, "t", QRY__J_TRUE, "true");
    member(&rs, "z", QRY__J_ARRAY, "[ ]");
    assert_null(qry__record_get(&rs, "x", 1));      /* nested keys are not members */
    assert_null(qry__record_get(&rs, "A", 1));
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
        cmocka_unit_test(test_scanner_verdicts),
        cmocka_unit_test(test_members_noted),
        cmocka_unit_test(test_gzip_single_member),
        cmocka_unit_test(test_gzip_multi_member),
        cmocka_unit_test(test_gzip_damaged),
        cmocka_unit_test(test_gzip_by_magic_not_name),
        cmocka_unit_test(test_input_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
