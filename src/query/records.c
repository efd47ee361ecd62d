/*
 * records.c: cuts an object's decoded bytes into JSON values, and indexes each record's
 * top-level members in place (see qry_int.h).
 *
 * What Firehose writes: each record's bytes exactly as the producer put them, concatenated.
 * Producers usually end a record with "\n" (JSON lines), but nothing makes them, so
 * {"a":1}{"a":2} is two records, and so is {"a":1} \n\t {"a":2}. The parser therefore does not
 * split on newlines: it scans one JSON value where the next one starts and knows where it
 * ends, then skips the whitespace after it.
 *
 * Why not jansson here. Building a jansson tree per record (an allocation per member, a hash
 * table per object) was four fifths of a query's time. The scanner below validates a value
 * as RFC 8259 says (grammar, escapes, surrogate pairs, UTF-8, nesting up to 2048 levels, the
 * limit jansson has) without building anything, and for a record (a top-level object) notes
 * where each member's key and value lie in the buffer: archive.c converts only the values a
 * query asks for, and hands nested objects and arrays to SQLite as their JSON text, exactly as
 * stored. The fuzz target tests/fuzz/fuzz_query_records.c holds the scanner's verdicts to
 * jansson's. Where they differ, on purpose: an integer too large for 64 bits is kept (it
 * becomes a REAL in SQL) and a real beyond a double's range too (an infinite REAL), where
 * jansson refuses the whole record; a key holding \u0000 is kept in _record but can be no
 * column.
 *
 * Values cut by the buffer's end. The scanner says MORE when the bytes at hand end inside a
 * value (or just after a top-level number, which more digits could extend), and the value is
 * scanned again, from its first byte, once more bytes are in; only at the end of the input is
 * such a value truncated.
 *
 * Bytes that are not JSON (a log line, a truncated last record, invalid UTF-8) are skipped up
 * to the next newline and reported as one skipped record; the newline is how such a stream
 * can resynchronise, and a JSON-lines file loses only the bad line.
 *
 * Invariants: pos <= len <= cap <= max; bytes before pos are never looked at again; text,
 * text_len and fields describe the last object returned and are valid until the next call.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "core/str.h"
#include "query/qry_int.h"

#define QRY__DEPTH_MAX 2048     /* nesting of values, as jansson's JSON_PARSER_MAX_DEPTH */

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
    free(rs->fields);
    free(rs->buf);
    memset(rs, 0, sizeof *rs);
}

/* ---- the scanner ---- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The code unit of \uXXXX at p[0..6) (p[0] is the backslash), or -1. */
static long u_escape(const char *p)
{
    long v = 0;
    if (p[0] != '\\' || p[1] != 'u') {
        return -1;
    }
    for (int k = 2; k < 6; k++) {
        int d = sl_hex_digit(p[k]);
        if (d < 0) {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

/* What running out of bytes means: the value may go on (MORE), or it is cut (BAD). */
static enum qry__scan out_of_bytes(bool eof)
{
    return eof ? QRY__SCAN_BAD : QRY__SCAN_MORE;
}

/* Fewer than the 6 bytes of \uXXXX at p[0..n): MORE if they can start one, else BAD. */
static enum qry__scan short_u_escape(const char *p, size_t n, bool eof)
{
    for (size_t k = 0; k < n; k++) {
        if ((k == 0 && p[k] != '\\') || (k == 1 && p[k] != 'u') ||
            (k >= 2 && sl_hex_digit(p[k]) < 0)) {
            return QRY__SCAN_BAD;
        }
    }
    return out_of_bytes(eof);
}

/* A string at p[0] == '"'. On OK, *len covers both quotes and *escaped tells whether a
 * backslash is inside. */
static enum qry__scan scan_string(const char *p, size_t n, bool eof, size_t *len, bool *escaped)
{
    size_t i = 1;

    *escaped = false;
    for (;;) {
        unsigned char c;
        while (i < n) {
            c = (unsigned char)p[i];
            if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') {
                break;
            }
            i++;
        }
        *len = i;
        if (i == n) {
            return out_of_bytes(eof);
        }
        c = (unsigned char)p[i];
        if (c == '"') {
            *len = i + 1;
            return QRY__SCAN_OK;
        }
        if (c < 0x20) {
            return QRY__SCAN_BAD;
        }
        if (c >= 0x80) {
            int l = sl_utf8_seq((const unsigned char *)p + i, n - i);
            if (l < 0) {
                return out_of_bytes(eof);
            }
            if (l == 0) {
                return QRY__SCAN_BAD;
            }
            i += (size_t)l;
            continue;
        }
        /* A backslash. */
        *escaped = true;
        if (i + 1 >= n) {
            return out_of_bytes(eof);
        }
        if (strchr("\"\\/bfnrt", p[i + 1]) && p[i + 1] != '\0') {
            i += 2;
            continue;
        }
        if (p[i + 1] != 'u') {
            return QRY__SCAN_BAD;
        }
        if (n - i < 6) {
            return short_u_escape(p + i, n - i, eof);
        }
        {
            long u = u_escape(p + i);
            if (u < 0 || (u >= 0xdc00 && u <= 0xdfff)) {
                return QRY__SCAN_BAD;   /* not hex, or a low surrogate alone */
            }
            i += 6;
            if (u >= 0xd800 && u <= 0xdbff) {
                long lo;
                if (n - i < 6) {
                    return short_u_escape(p + i, n - i, eof);
                }
                lo = u_escape(p + i);
                if (lo < 0xdc00 || lo > 0xdfff) {
                    return QRY__SCAN_BAD;   /* a high surrogate without its low half */
                }
                i += 6;
            }
        }
    }
}

/* A number at p[0] ('-' or a digit): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
 * A number that reaches the end of the bytes is MORE unless eof: digits may follow. */
static enum qry__scan scan_number(const char *p, size_t n, bool eof, size_t *len, bool *is_int)
{
    size_t i = 0;

    *is_int = true;
#define NEED_DIGIT()                                                                           \
    do {                                                                                       \
        if (i == n) {                                                                          \
            *len = i;                                                                          \
            return out_of_bytes(eof);                                                          \
        }                                                                                      \
        if (p[i] < '0' || p[i] > '9') {                                                        \
            *len = i;                                                                          \
            return QRY__SCAN_BAD;                                                              \
        }                                                                                      \
    } while (0)
#define DIGITS()                                                                               \
    do {                                                                                       \
        while (i < n && p[i] >= '0' && p[i] <= '9') {                                          \
            i++;                                                                               \
        }                                                                                      \
    } while (0)

    if (p[i] == '-') {
        i++;
    }
    NEED_DIGIT();
    if (p[i] == '0') {
        i++;
    }
    else {
        DIGITS();
    }
    if (i < n && p[i] == '.') {
        i++;
        *is_int = false;
        NEED_DIGIT();
        DIGITS();
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        *is_int = false;
        if (i < n && (p[i] == '+' || p[i] == '-')) {
            i++;
        }
        NEED_DIGIT();
        DIGITS();
    }
#undef NEED_DIGIT
#undef DIGITS
    *len = i;
    if (i == n && !eof) {
        return QRY__SCAN_MORE;
    }
    return QRY__SCAN_OK;
}

static enum qry__scan scan_literal(const char *p, size_t n, bool eof, size_t *len,
                                   const char *word)
{
    size_t w = strlen(word);
    size_t m = n < w ? n : w;
    if (memcmp(p, word, m) != 0) {
        *len = 0;
        return QRY__SCAN_BAD;
    }
    *len = m;
    return m < w ? out_of_bytes(eof) : QRY__SCAN_OK;
}

/* One scalar or the opening of a container at p[0]. Sets *type; for a scalar *len is its
 * length and *flag its escaped / is_int flag. Containers return OK with *len 1. */
static enum qry__scan scan_token(const char *p, size_t n, bool eof, size_t *len,
                                 enum qry__jtype *type, bool *flag)
{
    *flag = false;
    switch (p[0]) {
    case '{':
        *type = QRY__J_OBJECT;
        *len = 1;
        return QRY__SCAN_OK;
    case '[':
        *type = QRY__J_ARRAY;
        *len = 1;
        return QRY__SCAN_OK;
    case '"':
        *type = QRY__J_STRING;
        return scan_string(p, n, eof, len, flag);
    case 't':
        *type = QRY__J_TRUE;
        return scan_literal(p, n, eof, len, "true");
    case 'f':
        *type = QRY__J_FALSE;
        return scan_literal(p, n, eof, len, "false");
    case 'n':
        *type = QRY__J_NULL;
        return scan_literal(p, n, eof, len, "null");
    default:
        if (p[0] == '-' || (p[0] >= '0' && p[0] <= '9')) {
            *type = QRY__J_NUMBER;
            return scan_number(p, n, eof, len, flag);
        }
    }
    *len = 0;
    return QRY__SCAN_BAD;
}

/*
 * The scanner proper: one value at p[0], with its nested values. When fields is not NULL and
 * the value is an object, each top-level member is noted in fields (up to QRY__FIELDS_MAX; the
 * rest are validated but not noted).
 */
static enum qry__scan scan(const char *p, size_t n, bool eof, size_t *len,
                           struct qry__records *fields)
{
    enum { ST_VALUE, ST_VALUE_OR_END, ST_KEY, ST_KEY_OR_END, ST_COLON, ST_AFTER } st = ST_VALUE;
    unsigned char stack[QRY__DEPTH_MAX];
    size_t depth = 0, i = 0;
    size_t key = 0, key_len = 0;
    bool key_escaped = false;

    if (fields) {
        fields->n_fields = 0;
    }
    for (;;) {
        enum qry__scan r;
        enum qry__jtype type;
        size_t l;
        bool flag;

        if (depth > 0) {
            while (i < n && is_ws(p[i])) {
                i++;
            }
        }
        if (i == n) {
            *len = i;
            return out_of_bytes(eof);
        }
        switch (st) {
        case ST_KEY_OR_END:
        case ST_KEY:
            if (st == ST_KEY_OR_END && p[i] == '}') {
                i++;
                depth--;
                break;
            }
            if (p[i] != '"') {
                *len = i;
                return QRY__SCAN_BAD;
            }
            r = scan_string(p + i, n - i, eof, &l, &key_escaped);
            if (r != QRY__SCAN_OK) {
                *len = i + l;
                return r;
            }
            key = i + 1;
            key_len = l - 2;
            i += l;
            st = ST_COLON;
            continue;
        case ST_COLON:
            if (p[i] != ':') {
                *len = i;
                return QRY__SCAN_BAD;
            }
            i++;
            st = ST_VALUE;
            continue;
        case ST_AFTER:
            if (p[i] == ',') {
                i++;
                st = stack[depth - 1] == '{' ? ST_KEY : ST_VALUE;
                continue;
            }
            if (p[i] != (stack[depth - 1] == '{' ? '}' : ']')) {
                *len = i;
                return QRY__SCAN_BAD;
            }
            i++;
            depth--;
            break;
        case ST_VALUE_OR_END:
            if (p[i] == ']') {
                i++;
                depth--;
                break;
            }
            /* fall through */
        case ST_VALUE: {
            size_t start = i;
            if (depth >= QRY__DEPTH_MAX) {
                *len = i;
                return QRY__SCAN_BAD;   /* a value deeper than jansson would go */
            }
            r = scan_token(p + i, n - i, eof, &l, &type, &flag);
            if (r != QRY__SCAN_OK) {
                *len = i + l;
                return r;
            }
            i += l;
            if (fields && depth == 1 && stack[0] == '{') {
                /* A member of the record: noted now, its end fixed when the value ends. */
                if (fields->n_fields < QRY__FIELDS_MAX) {
                    struct qry__field *f;
                    if (fields->n_fields == fields->cap_fields) {
                        fields->cap_fields = fields->cap_fields ? 2 * fields->cap_fields : 16;
                        fields->fields = xrealloc(fields->fields,
                                                  fields->cap_fields * sizeof *fields->fields);
                    }
                    f = &fields->fields[fields->n_fields++];
                    f->key = (uint32_t)key;
                    f->key_len = (uint32_t)key_len;
                    f->key_escaped = key_escaped;
                    f->val = (uint32_t)start;
                    f->val_len = (uint32_t)l;
                    f->type = type;
                    f->flag = flag;
                }
                else {
                    fields->fields_dropped = true;
                }
            }
            if (type == QRY__J_OBJECT || type == QRY__J_ARRAY) {
                stack[depth++] = type == QRY__J_OBJECT ? '{' : '[';
                st = type == QRY__J_OBJECT ? ST_KEY_OR_END : ST_VALUE_OR_END;
                continue;
            }
            break;
        }
        }
        /* A value ended at i (a scalar, or a container just closed). */
        if (fields && depth == 1 && stack[0] == '{' && fields->n_fields > 0 &&
            !fields->fields_dropped) {
            struct qry__field *f = &fields->fields[fields->n_fields - 1];
            if (f->type == QRY__J_OBJECT || f->type == QRY__J_ARRAY) {
                f->val_len = (uint32_t)(i - f->val);
            }
        }
        if (depth == 0) {
            *len = i;
            return QRY__SCAN_OK;
        }
        st = ST_AFTER;
    }
}

enum qry__scan qry__json_scan(const char *p, size_t n, bool eof, size_t *len)
{
    if (n == 0) {
        *len = 0;
        return out_of_bytes(eof);
    }
    return scan(p, n, eof, len, NULL);
}

/* ---- reading the stream ---- */

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

int qry__records_next(struct qry__records *rs, enum qry__rec *what)
{
    int rc;

    rs->text = NULL;
    rs->text_len = 0;
    rs->n_fields = 0;
    for (;;) {
        enum qry__scan r;
        size_t used = 0;
        bool object;

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
        object = rs->buf[rs->pos] == '{';
        rs->fields_dropped = false;
        r = scan(rs->buf + rs->pos, rs->len - rs->pos, rs->eof, &used, object ? rs : NULL);
        if (r == QRY__SCAN_MORE) {
            rc = fill(rs);
            if (rc == 0) {
                continue;       /* scan again with more bytes */
            }
            if (rc != -ENOBUFS) {
                return rc;
            }
            /* The value does not fit in max: skip it like bytes that are no JSON. */
            r = QRY__SCAN_BAD;
        }
        if (r == QRY__SCAN_BAD) {
            rs->n_fields = 0;
            rc = skip_line(rs);
            if (rc < 0) {
                return rc;
            }
            *what = QRY__REC_SKIPPED;
            return 0;
        }
        if (!object) {
            consume(rs, used);
            *what = QRY__REC_SKIPPED;
            return 0;
        }
        rs->text = rs->buf + rs->pos;
        rs->text_len = used;
        consume(rs, used);
        *what = QRY__REC_OBJECT;
        return 0;
    }
}

/* ---- reading values ---- */

char *qry__json_unescape(const char *p, size_t n, size_t *out_len)
{
    char *out = xmalloc(n + 1);    /* an escape is never shorter than what it stands for */
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        long u;
        if (p[i] != '\\' || i + 1 >= n) {
            out[o++] = p[i];
            continue;
        }
        i++;
        {
            static const char from[] = "bfnrt", to[] = "\b\f\n\r\t";
            const char *e = p[i] ? strchr(from, p[i]) : NULL;
            if (e) {
                out[o++] = to[e - from];
                continue;
            }
            if (p[i] != 'u') {
                out[o++] = p[i];    /* \" \\ \/ */
                continue;
            }
        }
        /* \uXXXX, maybe a surrogate pair (the scanner checked them). */
        u = i + 5 <= n ? u_escape(p + i - 1) : -1;
        if (u < 0) {
            out[o++] = p[i];
            continue;
        }
        i += 4;
        if (u >= 0xd800 && u <= 0xdbff && i + 6 < n + 1) {
            long lo = u_escape(p + i + 1);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
        }
        if (u < 0x80) {
            out[o++] = (char)u;
        }
        else if (u < 0x800) {
            out[o++] = (char)(0xc0 | (u >> 6));
            out[o++] = (char)(0x80 | (u & 0x3f));
        }
        else if (u < 0x10000) {
            out[o++] = (char)(0xe0 | (u >> 12));
            out[o++] = (char)(0x80 | ((u >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (u & 0x3f));
        }
        else {
            out[o++] = (char)(0xf0 | (u >> 18));
            out[o++] = (char)(0x80 | ((u >> 12) & 0x3f));
            out[o++] = (char)(0x80 | ((u >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (u & 0x3f));
        }
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

const struct qry__field *qry__record_get(const struct qry__records *rs, const char *name,
                                         size_t name_len)
{
    for (size_t i = 0; i < rs->n_fields; i++) {
        const struct qry__field *f = &rs->fields[i];
        if (!f->key_escaped) {
            if (f->key_len == name_len && memcmp(rs->text + f->key, name, name_len) == 0) {
                return f;
            }
        }
        else if (f->key_len >= name_len) {
            size_t n;
            char *k = qry__json_unescape(rs->text + f->key, f->key_len, &n);
            bool eq = n == name_len && memcmp(k, name, n) == 0;
            free(k);
            if (eq) {
                return f;
            }
        }
    }
    return NULL;
}
