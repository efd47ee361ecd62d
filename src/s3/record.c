/*
 * record.c: the S3 encodings kept in LMDB and handed to clients: object keys, object and
 * bucket records, continuation tokens (docs/formats.md, "S3 buckets and objects").
 *
 * What it is not: no I/O and no transactions; every function here is pure (except the random
 * body id), so the unit tests (tests/unit/test_s3_record.c) cover it without a store.
 *
 * Invariants: integers are little-endian; a record starts with its version byte, and a reader
 * refuses a version it does not know rather than guess; the LMDB key of (bucket, key) sorts
 * like the full key, except among long keys that share their first S3__KEY_INLINE bytes
 * (list.c sorts those).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/sigv4.h"
#include "s3/s3_int.h"

#define OBJ_VERSION 1
#define OBJ_LONG_KEY 1u
#define BUCKET_VERSION 1

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint16_t get_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }
    return v;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

size_t s3__objkey(const char *bucket, struct sl_str key, unsigned char *out)
{
    size_t blen = strlen(bucket);
    size_t n;

    memcpy(out, bucket, blen);
    out[blen] = 0;
    n = blen + 1;
    if (key.len <= S3__KEY_INLINE) {
        memcpy(out + n, key.p, key.len);
        return n + key.len;
    }
    /* A long key: its inline part, then the first bytes of its SHA-256 (hex would waste
     * room; the hash is raw bytes). Distinct long keys with the same inline part collide
     * only if their SHA-256 prefixes do (2^-128). */
    memcpy(out + n, key.p, S3__KEY_INLINE);
    n += S3__KEY_INLINE;
    {
        char hex[65];
        sigv4_sha256_hex(key.p, key.len, hex);
        for (size_t i = 0; i < S3__KEY_HASH; i++) {
            out[n + i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
        }
    }
    return n + S3__KEY_HASH;
}

unsigned char *s3__obj_encode(const struct s3__obj *o, size_t *len)
{
    bool lng = o->key.len > S3__KEY_INLINE;
    size_t n = 1 + 1 + 8 + 8 + 16 + 16 + 2;
    unsigned char *rec, *p;

    for (size_t i = 0; i < o->n_fields; i++) {
        n += 4 + o->fields[i].name.len + o->fields[i].value.len;
    }
    if (lng) {
        n += 2 + o->key.len;
    }
    rec = xmalloc(n);
    p = rec;
    *p++ = OBJ_VERSION;
    *p++ = lng ? OBJ_LONG_KEY : 0;
    put_u64(p, o->size);
    p += 8;
    put_u64(p, o->mtime_ms);
    p += 8;
    memcpy(p, o->md5, 16);
    p += 16;
    memcpy(p, o->body, 16);
    p += 16;
    put_u16(p, (uint16_t)o->n_fields);
    p += 2;
    for (size_t i = 0; i < o->n_fields; i++) {
        const struct s3__field *f = &o->fields[i];
        put_u16(p, (uint16_t)f->name.len);
        memcpy(p + 2, f->name.p, f->name.len);
        p += 2 + f->name.len;
        put_u16(p, (uint16_t)f->value.len);
        if (f->value.len) {
            memcpy(p + 2, f->value.p, f->value.len);
        }
        p += 2 + f->value.len;
    }
    if (lng) {
        put_u16(p, (uint16_t)o->key.len);
        memcpy(p + 2, o->key.p, o->key.len);
        p += 2 + o->key.len;
    }
    *len = (size_t)(p - rec);
    return rec;
}

int s3__obj_decode(const void *rec, size_t len, const void *lkey, size_t lkey_len, size_t blen,
                   struct s3__obj *o)
{
    const unsigned char *p = rec, *end = p + len;
    unsigned flags;
    size_t nf;

    if (len < 52 || p[0] != OBJ_VERSION) {
        return -EINVAL;
    }
    flags = p[1];
    o->size = get_u64(p + 2);
    o->mtime_ms = get_u64(p + 10);
    memcpy(o->md5, p + 18, 16);
    memcpy(o->body, p + 34, 16);
    nf = get_u16(p + 50);
    p += 52;
    if (nf > S3__FIELDS_MAX) {
        return -EINVAL;
    }
    o->n_fields = nf;
    for (size_t i = 0; i < nf; i++) {
        size_t l;
        if (end - p < 2) {
            return -EINVAL;
        }
        l = get_u16(p);
        if ((size_t)(end - p) < 2 + l + 2) {
            return -EINVAL;
        }
        o->fields[i].name = (struct sl_str){ (const char *)p + 2, l };
        p += 2 + l;
        l = get_u16(p);
        if ((size_t)(end - p) < 2 + l) {
            return -EINVAL;
        }
        o->fields[i].value = (struct sl_str){ (const char *)p + 2, l };
        p += 2 + l;
    }
    if (flags & OBJ_LONG_KEY) {
        size_t l;
        if (end - p < 2) {
            return -EINVAL;
        }
        l = get_u16(p);
        if ((size_t)(end - p) < 2 + l) {
            return -EINVAL;
        }
        o->key = (struct sl_str){ (const char *)p + 2, l };
    }
    else {
        if (lkey_len < blen + 1) {
            return -EINVAL;
        }
        o->key = (struct sl_str){ (const char *)lkey + blen + 1, lkey_len - blen - 1 };
    }
    return 0;
}

struct sl_str s3__obj_field(const struct s3__obj *o, const char *name)
{
    for (size_t i = 0; i < o->n_fields; i++) {
        if (sl_str_eq_c(o->fields[i].name, name)) {
            return o->fields[i].value;
        }
    }
    return SL_STR_NULL;
}

void s3__obj_etag(const struct s3__obj *o, char out[35])
{
    out[0] = '"';
    sl_hex(o->md5, 16, out + 1);
    out[33] = '"';
    out[34] = '\0';
}

void s3__body_name(const unsigned char id[16], char out[33])
{
    sl_hex(id, 16, out);
}

void s3__body_id_new(unsigned char id[16])
{
    char u[37];
    size_t j = 0;

    /* 122 random bits (a v4 UUID) are plenty for names that never repeat. */
    sl_uuid4(u);
    for (size_t i = 0; u[i] && j < 16; i += 2) {
        if (u[i] == '-') {
            i--;
            continue;
        }
        id[j++] = (unsigned char)(hexval(u[i]) << 4 | hexval(u[i + 1]));
    }
}

size_t s3__bucket_encode(uint64_t created_ms, const char *region, unsigned char *out,
                         size_t cap)
{
    size_t rl = strlen(region);
    if (rl > 255 || cap < 10 + rl) {
        return 0;
    }
    out[0] = BUCKET_VERSION;
    put_u64(out + 1, created_ms);
    out[9] = (unsigned char)rl;
    memcpy(out + 10, region, rl);
    return 10 + rl;
}

int s3__bucket_decode(const void *rec, size_t len, uint64_t *created_ms)
{
    const unsigned char *p = rec;
    if (len < 10 || p[0] != BUCKET_VERSION || len != 10u + p[9]) {
        return -EINVAL;
    }
    *created_ms = get_u64(p + 1);
    return 0;
}

/* ---- continuation tokens: base64url (no padding) of kind byte + bytes ---- */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *s3__token_encode(struct arena *a, enum s3__token_kind kind, struct sl_str s)
{
    size_t n = s.len + 1;
    char *out = arena_alloc(a, (n + 2) / 3 * 4 + 1);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = i == 0 ? (unsigned char)kind : (unsigned char)s.p[i - 1];
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = b64url[(acc >> bits) & 63];
        }
    }
    if (bits > 0) {
        out[o++] = b64url[(acc << (6 - bits)) & 63];
    }
    out[o] = '\0';
    return out;
}

int s3__token_decode(struct arena *a, const char *tok, enum s3__token_kind *kind,
                     struct sl_str *out)
{
    size_t n = strlen(tok);
    unsigned char *buf;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (n == 0 || n > S3__TOKEN_MAX) {
        return -EINVAL;
    }
    buf = arena_alloc(a, n);
    for (size_t i = 0; i < n; i++) {
        const char *pos = strchr(b64url, tok[i]);
        if (!pos || tok[i] == '\0') {
            return -EINVAL;
        }
        acc = (acc << 6) | (uint32_t)(pos - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[o++] = (unsigned char)(acc >> bits);
        }
    }
    /* Leftover bits must be the zero padding of the last character. */
    if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0 || o < 1) {
        return -EINVAL;
    }
    if (buf[0] != S3__AFTER_KEY && buf[0] != S3__AFTER_PREFIX) {
        return -EINVAL;
    }
    if (o - 1 > S3_KEY_MAX) {
        return -EINVAL;
    }
    *kind = (enum s3__token_kind)buf[0];
    *out = (struct sl_str){ (const char *)buf + 1, o - 1 };
    return 0;
}
