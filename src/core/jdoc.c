/*
 * jdoc.c: the JSON reader of jdoc.h, a recursive descent over the bytes with one arena
 * allocation per value and per string. What jansson refuses, this refuses: the grammar of
 * RFC 8259, strings of valid UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF) with no control character and no \u0000, \u escapes of surrogates only in
 * pairs, integers that fit 64 bits and reals that fit a double.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jdoc.h"
#include "core/str.h"

struct rd {
    const unsigned char *p, *end;
    struct arena *a;
    size_t depth, max_depth;
};

static struct jd *node(struct rd *r, enum jd_type t)
{
    struct jd *v = arena_zalloc(r->a, sizeof *v);
    v->type = t;
    return v;
}

static void skip_ws(struct rd *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
        r->p++;
    }
}

static long hex4(const unsigned char *p, const unsigned char *end)
{
    long v = 0;
    if (end - p < 4) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        int d = sl_hex_digit((char)p[i]);
        if (d < 0) {
            return -1;
        }
        v = v << 4 | d;
    }
    return v;
}

static size_t put_utf8(unsigned char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* An escape after its backslash at *pp: decoded into o, *pp moved past it. Returns the bytes
 * written, or 0 when it is not an escape jansson takes. */
static size_t unescape(const unsigned char **pp, const unsigned char *end, unsigned char *o)
{
    const unsigned char *p = *pp;
    long cp, lo;
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *at;

    if (p >= end) {
        return 0;
    }
    if (*p != 'u') {
        at = *p ? strchr(from, *p) : NULL;
        if (!at) {
            return 0;
        }
        *o = (unsigned char)to[at - from];
        *pp = p + 1;
        return 1;
    }
    cp = hex4(p + 1, end);
    p += 5;
    if (cp <= 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
        return 0;       /* \u0000, a lone low surrogate, or not hex */
    }
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (end - p < 2 || p[0] != '\\' || p[1] != 'u') {
            return 0;
        }
        lo = hex4(p + 2, end);
        if (lo < 0xdc00 || lo > 0xdfff) {
            return 0;
        }
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }
    *pp = p;
    return put_utf8(o, (unsigned long)cp);
}

/* A string after its opening quote. Sets *out and *len; returns 0 or -1. */
static int string(struct rd *r, const char **out, size_t *len)
{
    const unsigned char *s = r->p, *p = s;
    unsigned char *o, *o0;

    while (p < r->end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
        p++;
    }
    if (p < r->end && *p == '"') {
        *out = arena_strndup(r->a, (const char *)s, (size_t)(p - s));
        *len = (size_t)(p - s);
        r->p = p + 1;
        return 0;
    }
    /* Escapes or bytes past ASCII: decoded bytes are never more than the text's. */
    for (p = s; p < r->end && *p != '"'; p++) {
        if (*p == '\\') {
            p++;
            if (p == r->end) {
                return -1;
            }
        }
    }
    if (p == r->end) {
        return -1;
    }
    o0 = o = arena_alloc(r->a, (size_t)(p - s) + 1);
    p = s;
    while (*p != '"') {
        size_t n;
        int u;
        if (*p < 0x20) {
            return -1;
        }
        if (*p == '\\') {
            p++;
            if ((n = unescape(&p, r->end, o)) == 0) {
                return -1;
            }
            o += n;
            continue;
        }
        if ((u = sl_utf8_seq(p, (size_t)(r->end - p))) <= 0) {
            return -1;
        }
        n = (size_t)u;
        memcpy(o, p, n);
        o += n;
        p += n;
    }
    *o = '\0';
    *out = (const char *)o0;
    *len = (size_t)(o - o0);
    r->p = p + 1;
    return 0;
}

static bool digit(const unsigned char *p, const unsigned char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* A number at r->p (RFC 8259's grammar), kept as its text. */
static struct jd *number(struct rd *r)
{
    const unsigned char *s = r->p, *p = s;
    bool real = false;
    struct jd *v;
    char *text;

    if (p < r->end && *p == '-') {
        p++;
    }
    if (!digit(p, r->end)) {
        return NULL;
    }
    if (*p == '0') {
        p++;
        if (digit(p, r->end)) {
            return NULL;
        }
    }
    while (digit(p, r->end)) {
        p++;
    }
    if (p < r->end && *p == '.') {
        real = true;
        if (!digit(++p, r->end)) {
            return NULL;
        }
        while (digit(p, r->end)) {
            p++;
        }
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < r->end && (*p == '+' || *p == '-')) {
            p++;
        }
        if (!digit(p, r->end)) {
            return NULL;
        }
        while (digit(p, r->end)) {
            p++;
        }
    }
    text = arena_strndup(r->a, (const char *)s, (size_t)(p - s));
    errno = 0;
    if (real) {
        double d = strtod(text, NULL);
        if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) {
            return NULL;
        }
    }
    else {
        (void)strtoll(text, NULL, 10);
        if (errno == ERANGE) {
            return NULL;
        }
    }
    v = node(r, JD_NUMBER);
    v->s = text;
    v->len = (size_t)(p - s);
    r->p = p;
    return v;
}

static struct jd *literal(struct rd *r, const char *word, size_t n, enum jd_type t)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) {
        return NULL;
    }
    r->p += n;
    return node(r, t);
}

static struct jd *value(struct rd *r);

/* The elements of an array or the members of an object, after its opening bracket. */
static struct jd *container(struct rd *r, enum jd_type t)
{
    unsigned char close = t == JD_ARRAY ? ']' : '}';
    struct jd *v = node(r, t), **tail = &v->child;

    if (++r->depth > r->max_depth) {
        return NULL;
    }
    skip_ws(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
        r->depth--;
        return v;
    }
    for (;;) {
        const char *key = NULL;
        size_t klen = 0;
        struct jd *x;

        if (t == JD_OBJECT) {
            if (r->p == r->end || *r->p != '"') {
                return NULL;
            }
            r->p++;
            if (string(r, &key, &klen) < 0) {
                return NULL;
            }
            skip_ws(r);
            if (r->p == r->end || *r->p != ':') {
                return NULL;
            }
            r->p++;
            skip_ws(r);
        }
        if (!(x = value(r))) {
            return NULL;
        }
        x->key = key;
        x->klen = klen;
        *tail = x;
        tail = &x->next;
        v->len++;
        skip_ws(r);
        if (r->p == r->end) {
            return NULL;
        }
        if (*r->p == close) {
            r->p++;
            r->depth--;
            return v;
        }
        if (*r->p != ',') {
            return NULL;
        }
        r->p++;
        skip_ws(r);
    }
}

/* One value at r->p (whitespace before it skipped). */
static struct jd *value(struct rd *r)
{
    struct jd *v;

    if (r->p == r->end) {
        return NULL;
    }
    switch (*r->p) {
    case '{':
        r->p++;
        return container(r, JD_OBJECT);
    case '[':
        r->p++;
        return container(r, JD_ARRAY);
    case '"':
        r->p++;
        v = node(r, JD_STRING);
        return string(r, &v->s, &v->len) < 0 ? NULL : v;
    case 't':
        return literal(r, "true", 4, JD_TRUE);
    case 'f':
        return literal(r, "false", 5, JD_FALSE);
    case 'n':
        return literal(r, "null", 4, JD_NULL);
    default:
        return number(r);
    }
}

struct jd *jd_parse(const char *p, size_t n, size_t max_depth, struct arena *a)
{
    struct rd r = { (const unsigned char *)p, (const unsigned char *)p + n, a, 0, max_depth };
    struct jd *v;

    skip_ws(&r);
    v = value(&r);
    skip_ws(&r);
    return v && r.p == r.end ? v : NULL;
}

struct jd *jd_of_json(const json_t *j, struct arena *a)
{
    struct jd *v = arena_zalloc(a, sizeof *v), **tail = &v->child;
    const char *k;
    size_t klen, i;
    json_t *x;

    switch (json_typeof(j)) {
    case JSON_OBJECT:
        v->type = JD_OBJECT;
        json_object_keylen_foreach((json_t *)j, k, klen, x)
        {
            struct jd *m = jd_of_json(x, a);
            m->key = k;
            m->klen = klen;
            *tail = m;
            tail = &m->next;
            v->len++;
        }
        break;
    case JSON_ARRAY:
        v->type = JD_ARRAY;
        json_array_foreach(j, i, x)
        {
            *tail = jd_of_json(x, a);
            tail = &(*tail)->next;
            v->len++;
        }
        break;
    case JSON_STRING:
        v->type = JD_STRING;
        v->s = json_string_value(j);
        v->len = json_string_length(j);
        break;
    case JSON_INTEGER:
        v->type = JD_NUMBER;
        v->s = arena_printf(a, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        v->len = strlen(v->s);
        break;
    case JSON_REAL:
        v->type = JD_NUMBER;
        v->s = arena_printf(a, "%.17g", json_real_value(j));
        v->len = strlen(v->s);
        break;
    case JSON_TRUE:
        v->type = JD_TRUE;
        break;
    case JSON_FALSE:
        v->type = JD_FALSE;
        break;
    default:
        v->type = JD_NULL;
        break;
    }
    return v;
}

const struct jd *jd_get(const struct jd *obj, const char *name)
{
    const struct jd *m;
    size_t n = strlen(name);

    if (!jd_is(obj, JD_OBJECT)) {
        return NULL;
    }
    jd_foreach(obj, m)
    {
        if (m->klen == n && memcmp(m->key, name, n) == 0) {
            return m;
        }
    }
    return NULL;
}

static int name_cmp(const struct jd *x, const struct jd *y)
{
    size_t m = x->klen < y->klen ? x->klen : y->klen;
    int c = m ? memcmp(x->key, y->key, m) : 0;
    if (c) {
        return c;
    }
    return x->klen < y->klen ? -1 : x->klen > y->klen;
}

static int name_ptr_cmp(const void *a, const void *b)
{
    return name_cmp(*(const struct jd *const *)a, *(const struct jd *const *)b);
}

bool jd_names_unique(const struct jd *obj, struct arena *a)
{
    const struct jd *x, *y, **v;
    size_t i = 0;

    if (obj->len <= 8) {
        jd_foreach(obj, x)
        {
            for (y = x->next; y; y = y->next) {
                if (name_cmp(x, y) == 0) {
                    return false;
                }
            }
        }
        return true;
    }
    v = arena_alloc(a, obj->len * sizeof *v);
    jd_foreach(obj, x)
    {
        v[i++] = x;
    }
    qsort(v, i, sizeof *v, name_ptr_cmp);
    for (i = 1; i < obj->len; i++) {
        if (name_cmp(v[i - 1], v[i]) == 0) {
            return false;
        }
    }
    return true;
}
