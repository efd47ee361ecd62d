/*
 * json.c: JSON text as the query answer writes it.
 *
 * Why not json_dumps(): jansson prints a real with 17 significant digits, so 9.99 comes out
 * as 9.9900000000000002. The answer should read as the data was written, so reals are printed
 * with the fewest digits that read back as the same double, and strings are checked for
 * UTF-8 byte by byte (SQLite's TEXT may hold any bytes; the answer must stay valid JSON).
 * qry_json_write() is for `sluice query --json`, which prints rows it parsed with jansson.
 *
 * What it is not: a parser (records.c scans records; jansson parses requests and answers).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/str.h"
#include "query/qry_int.h"

size_t qry_real_format(double d, char *out, size_t cap)
{
    int n = 0;

    if (cap == 0) {
        return 0;
    }
    out[0] = '\0';
    if (!isfinite(d)) {
        return 0;
    }
    for (int prec = 15; prec <= 17; prec++) {
        n = snprintf(out, cap, "%.*g", prec, d);
        if (n < 0 || (size_t)n >= cap) {
            out[0] = '\0';
            return 0;
        }
        if (strtod(out, NULL) == d) {
            break;
        }
    }
    if (strpbrk(out, ".eEn") == NULL && (size_t)n + 2 < cap) {
        memcpy(out + n, ".0", 3);   /* 30.0 stays a real for the reader */
        n += 2;
    }
    return (size_t)n;
}

int qry__json_real(struct buf *b, double d)
{
    char tmp[40];
    size_t n = qry_real_format(d, tmp, sizeof tmp);
    if (n == 0) {
        return buf_append(b, "null", 4);
    }
    return buf_append(b, tmp, n);
}

int qry__json_string(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0;
    int rc = buf_append(b, "\"", 1);

    while (rc == 0 && i < n) {
        unsigned char c = p[i];
        int u = sl_utf8_seq(p + i, n - i);
        size_t l = u > 0 ? (size_t)u : 0;
        char esc[8];
        size_t elen = 0;

        if (l > 1 || (l == 1 && c >= 0x20 && c != '"' && c != '\\')) {
            i += l;
            run += l;
            continue;
        }
        /* Flush the plain run before an escape. */
        rc = buf_append(b, s + i - run, run);
        run = 0;
        if (l == 0) {
            rc = rc ? rc : buf_append(b, "\\ufffd", 6);
            i++;
            continue;
        }
        esc[0] = '\\';
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            elen = 2;
            break;
        case '\n':
            esc[1] = 'n';
            elen = 2;
            break;
        case '\r':
            esc[1] = 'r';
            elen = 2;
            break;
        case '\t':
            esc[1] = 't';
            elen = 2;
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        rc = rc ? rc : buf_append(b, esc, elen);
        i++;
    }
    if (rc == 0) {
        rc = buf_append(b, s + i - run, run);
    }
    return rc ? rc : buf_append(b, "\"", 1);
}

int qry_json_write(struct buf *b, const json_t *v)
{
    int rc = 0;

    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *e;
        bool first = true;
        rc = buf_append(b, "{", 1);
        json_object_foreach((json_t *)v, k, e) {
            if (rc == 0 && !first) {
                rc = buf_append(b, ",", 1);
            }
            first = false;
            if (rc == 0) {
                rc = qry__json_string(b, k, strlen(k));
            }
            if (rc == 0) {
                rc = buf_append(b, ":", 1);
            }
            if (rc == 0) {
                rc = qry_json_write(b, e);
            }
        }
        return rc ? rc : buf_append(b, "}", 1);
    }
    case JSON_ARRAY: {
        size_t i;
        json_t *e;
        rc = buf_append(b, "[", 1);
        json_array_foreach(v, i, e) {
            if (rc == 0 && i > 0) {
                rc = buf_append(b, ",", 1);
            }
            if (rc == 0) {
                rc = qry_json_write(b, e);
            }
        }
        return rc ? rc : buf_append(b, "]", 1);
    }
    case JSON_STRING:
        return qry__json_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return buf_printf(b, "%lld", (long long)json_integer_value(v));
    case JSON_REAL:
        return qry__json_real(b, json_real_value(v));
    case JSON_TRUE:
        return buf_append(b, "true", 4);
    case JSON_FALSE:
        return buf_append(b, "false", 5);
    case JSON_NULL:
        return buf_append(b, "null", 4);
    }
    return -EINVAL;
}
