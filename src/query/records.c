/*
 * records.c: cuts an object's decoded bytes into JSON values (see qry_int.h).
 *
 * What Firehose writes: each record's bytes exactly as the producer put them, concatenated.
 * Producers usually end a record with "\n" (JSON lines), but nothing makes them, so
 * {"a":1}{"a":2} is two records, and so is {"a":1} \n\t {"a":2}. The parser therefore does
 * not split on newlines: it asks jansson for one value where the next one starts
 * (JSON_DISABLE_EOF_CHECK: jansson stops after the value and reports its length in the error
 * struct's position), then skips the whitespace after it.
 *
 * Values cut by the buffer's end. A value may straddle two reads. jansson reports an error at
 * (or within a UTF-8 sequence of) the end of the bytes it was given when the value is
 * incomplete, and a number that ends exactly there may have more digits to come; both are
 * parsed again once more bytes are in, from the value's first byte (the buffer keeps it).
 * Only at the end of the input is such an error final.
 *
 * Bytes that are not JSON (a log line, a truncated last record, invalid UTF-8) are skipped up
 * to the next newline and reported as one skipped record; the newline is how such a stream
 * can resynchronise, and a JSON-lines file loses only the bad line.
 *
 * Numbers jansson cannot hold. jansson refuses a whole value when one integer in it does not
 * fit in 64 bits, or one real is beyond a double's range; JSON allows both. Such a record is
 * kept: it is parsed again from a copy in which the integer's digits get ".0" (so that it is
 * read as a real, losing only digits past 17) and the real becomes null, one number at a
 * time, at most QRY__WIDEN_MAX per record. The record's text (_record) stays as stored.
 *
 * Invariants: pos <= len <= cap <= max; bytes before pos are never looked at again; rec, text
 * and text_len describe the last object returned and are valid until the next call.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "query/qry_int.h"

/* How close to the end of the bytes at hand an error may be and still be the end of the bytes
 * rather than a real error: a UTF-8 sequence is at most 4 bytes. */
#define QRY__TAIL_SLACK 4
#define QRY__WIDEN_MAX 64

void qry__records_init(struct qry__records *rs, struct qry__input *in, size_t initial,
                       size_t max)
{
    memset(rs, 0, sizeof *rs);
    rs->in = in;
    rs->max = max ? max : QRY__RECORD_MAX;
    rs->cap = initial ? initial : QRY__BUF_INITIAL;
    if (rs->cap > rs->max) {
        rs->cap = rs->max;
    }
    rs->buf = xmalloc(rs->cap);
}

void qry__records_release(struct qry__records *rs)
{
    json_decref(rs->rec);
    free(rs->buf);
    memset(rs, 0, sizeof *rs);
}

/* Reads more bytes after the unconsumed ones, growing the buffer when it is full and below
 * max. Returns 0, -ENOBUFS when the unconsumed bytes already fill max, or the input's -errno.
 * A corrupt input ends the stream (eof) and leaves one skipped record to report. */
static int fill(struct qry__records *rs)
{
    size_t got = 0;
    int rc;

    if (rs->pos > 0) {
        memmove(rs->buf, rs->buf + rs->pos, rs->len - rs->pos);
        rs->len -= rs->pos;
        rs->pos = 0;
    }
    if (rs->len == rs->cap) {
        size_t ncap;
        if (rs->cap >= rs->max) {
            return -ENOBUFS;
        }
        ncap = rs->cap * 2 > rs->max ? rs->max : rs->cap * 2;
        rs->buf = xrealloc(rs->buf, ncap);
        rs->cap = ncap;
    }
    rc = qry__input_read(rs->in, rs->buf + rs->len, rs->cap - rs->len, &got);
    if (rc == -EBADMSG) {
        rs->eof = true;
        rs->corrupt_pending = true;
        return 0;
    }
    if (rc < 0) {
        return rc;
    }
    if (got == 0) {
        rs->eof = true;
    }
    rs->len += got;
    return 0;
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void consume(struct qry__records *rs, size_t n)
{
    rs->pos += n;
    rs->consumed += n;
}

/* Skips the bytes up to and including the next newline. Returns 0 when it was found (or the
 * input ended), or the input's -errno. */
static int skip_line(struct qry__records *rs)
{
    for (;;) {
        char *nl = memchr(rs->buf + rs->pos, '\n', rs->len - rs->pos);
        int rc;
        if (nl) {
            consume(rs, (size_t)(nl - (rs->buf + rs->pos)) + 1);
            return 0;
        }
        consume(rs, rs->len - rs->pos);
        if (rs->eof) {
            return 0;
        }
        rc = fill(rs);
        if (rc < 0) {
            return rc;
        }
    }
}

/* Parses p[0..avail) again after jansson refused a number in it (see the file head): each
 * refused number is rewritten in a copy, and the error position or the value's length is
 * mapped back to the original bytes in *used. Returns the value, or NULL with err set. */
static json_t *load_widened(const char *p, size_t avail, size_t flags, json_error_t *err,
                            size_t *used)
{
    char *copy = xmalloc(avail + 1);
    size_t clen = avail;
    long delta = 0;     /* bytes the copy has more than the original before the position */
    json_t *v = NULL;

    memcpy(copy, p, avail);
    for (int k = 0; k <= QRY__WIDEN_MAX; k++) {
        size_t end, start;
        bool real = false;
        const char *repl;
        size_t rlen;

        v = json_loadb(copy, clen, flags, err);
        if (v || json_error_code(err) != json_error_numeric_overflow || k == QRY__WIDEN_MAX ||
            err->position <= 0 || (size_t)err->position > clen) {
            break;
        }
        /* The error position is just after the number. */
        end = (size_t)err->position;
        start = end;
        while (start > 0 && copy[start - 1] != '\0' &&
               strchr("0123456789+-.eE", copy[start - 1])) {
            real = real || strchr(".eE", copy[start - 1]) != NULL;
            start--;
        }
        repl = real ? "null" : ".0";
        rlen = strlen(repl);
        copy = xrealloc(copy, clen + rlen + 1);     /* room for either edit */
        if (real) {
            memmove(copy + start + rlen, copy + end, clen - end);
            memcpy(copy + start, repl, rlen);
            delta += (long)rlen - (long)(end - start);
            clen = clen - (end - start) + rlen;
        }
        else {
            memmove(copy + end + rlen, copy + end, clen - end);
            memcpy(copy + end, repl, rlen);
            delta += (long)rlen;
            clen += rlen;
        }
    }
    free(copy);
    {
        long pos = (long)(err->position > 0 ? err->position : 0) - delta;
        *used = pos > 0 ? (size_t)pos : 0;
        err->position = (int)*used;
    }
    return v;
}

int qry__records_next(struct qry__records *rs, enum qry__rec *what)
{
    size_t flags = JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL;
    int rc;

    json_decref(rs->rec);
    rs->rec = NULL;
    rs->text = NULL;
    rs->text_len = 0;
    for (;;) {
        json_error_t err;
        json_t *v;
        size_t avail, used;

        while (rs->pos < rs->len && is_ws(rs->buf[rs->pos])) {
            consume(rs, 1);
        }
        if (rs->pos == rs->len) {
            if (rs->eof) {
                *what = rs->corrupt_pending ? QRY__REC_SKIPPED : QRY__REC_END;
                rs->corrupt_pending = false;
                return 0;
            }
            rc = fill(rs);
            if (rc < 0) {
                return rc;
            }
            continue;
        }
        avail = rs->len - rs->pos;
        v = json_loadb(rs->buf + rs->pos, avail, flags, &err);
        used = err.position > 0 ? (size_t)err.position : 0;
        if (!v && json_error_code(&err) == json_error_numeric_overflow &&
            (rs->eof || used + QRY__TAIL_SLACK < avail)) {
            v = load_widened(rs->buf + rs->pos, avail, flags, &err, &used);
        }
        if (v && used >= avail && json_is_number(v) && !rs->eof) {
            /* 12 at the end of the buffer may be the start of 1234. */
            json_decref(v);
            v = NULL;
            err.position = (int)avail;
        }
        if (!v) {
            size_t at = err.position > 0 ? (size_t)err.position : 0;
            if (!rs->eof && at + QRY__TAIL_SLACK >= avail) {
                rc = fill(rs);
                if (rc == 0) {
                    continue;       /* parse again with more bytes */
                }
                if (rc != -ENOBUFS) {
                    return rc;
                }
                /* The value does not fit in max: skip it like bytes that are no JSON. */
            }
            rc = skip_line(rs);
            if (rc < 0) {
                return rc;
            }
            *what = QRY__REC_SKIPPED;
            return 0;
        }
        if (used > avail) {
            used = avail;
        }
        if (!json_is_object(v)) {
            json_decref(v);
            consume(rs, used);
            *what = QRY__REC_SKIPPED;
            return 0;
        }
        rs->rec = v;
        rs->text = rs->buf + rs->pos;
        rs->text_len = used;
        consume(rs, used);
        *what = QRY__REC_OBJECT;
        return 0;
    }
}
