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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sigv4.h"
#include "s3/s3_int.h"

#define OBJ_VERSION 2
#define OBJ_LONG_KEY 1u             /* the full key follows the fields */
#define OBJ_MULTIPART 2u            /* md5 is the MD5 of the parts' MD5s */
#define OBJ_DELETE_MARKER 4u        /* a delete marker: no body */
#define OBJ_NULL_VERSION 8u         /* the version id is "null" */
#define OBJ_INLINE 16u              /* the body is in s3.bodies under the body id */
#define BUCKET_VERSION 1
#define BUCKET_VERSION_OWNER 2     /* version 1 and the owner's access key id */

/* Extension tags of a version 2 record (docs/formats.md, "S3 buckets and objects"). */
enum { EXT_PARTS = 1, EXT_CHECKSUM = 2, EXT_TAGS = 3, EXT_PART_CKS = 4, EXT_VERSION = 5,
       EXT_LOCK = 6, EXT_SSE = 7, EXT_PART_BODIES = 8 };

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

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
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
        if (key.len) {
            memcpy(out + n, key.p, key.len);
        }
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

/* Appends one extension (tag, u32 length, bytes) at p; returns the end. */
static unsigned char *put_ext(unsigned char *p, unsigned tag, const void *a, size_t alen,
                              const void *b, size_t blen)
{
    *p++ = (unsigned char)tag;
    put_u32(p, (uint32_t)(alen + blen));
    p += 4;
    if (alen) {
        memcpy(p, a, alen);
        p += alen;
    }
    if (blen) {
        memcpy(p, b, blen);
        p += blen;
    }
    return p;
}

unsigned char *s3__obj_encode(const struct s3__obj *o, size_t *len)
{
    bool lng = o->key.len > S3__KEY_INLINE || o->key_in_record;
    size_t n = 1 + 1 + 8 + 8 + 16 + 16 + 2;
    unsigned char *rec, *p;
    unsigned char cnt[4], ck[3];

    for (size_t i = 0; i < o->n_fields; i++) {
        n += 4 + o->fields[i].name.len + o->fields[i].value.len;
    }
    if (lng) {
        n += 2 + o->key.len;
    }
    if (o->multipart) {
        n += 5 + 4 + (size_t)o->n_parts * 8;
    }
    if (o->ck.algo) {
        n += 5 + 3 + o->ck.len;
    }
    if (o->tags.len) {
        n += 5 + o->tags.len;
    }
    if (o->part_cks) {
        n += 5 + 1 + (size_t)o->n_parts * o->part_ck_len;
    }
    if (o->has_vsk) {
        n += 5 + 16;
    }
    if (o->lock_mode || o->legal_hold) {
        n += 5 + 10;
    }
    if (o->sse_type) {
        n += 5 + 49;
    }
    if (o->part_bodies) {
        n += 5 + (size_t)o->n_parts * 16;
    }
    rec = xmalloc(n);
    p = rec;
    *p++ = OBJ_VERSION;
    *p++ = (unsigned char)((lng ? OBJ_LONG_KEY : 0) | (o->multipart ? OBJ_MULTIPART : 0) |
                           (o->delete_marker ? OBJ_DELETE_MARKER : 0) |
                           (o->null_version ? OBJ_NULL_VERSION : 0) |
                           (o->inline_body ? OBJ_INLINE : 0));
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
        if (o->key.len) {
            memcpy(p + 2, o->key.p, o->key.len);
        }
        p += 2 + o->key.len;
    }
    if (o->multipart) {
        put_u32(cnt, o->n_parts);
        p = put_ext(p, EXT_PARTS, cnt, 4, o->part_sizes, (size_t)o->n_parts * 8);
    }
    if (o->ck.algo) {
        ck[0] = (unsigned char)o->ck.algo;
        ck[1] = (unsigned char)o->ck.type;
        ck[2] = (unsigned char)o->ck.len;
        p = put_ext(p, EXT_CHECKSUM, ck, 3, o->ck.value, o->ck.len);
    }
    if (o->tags.len) {
        p = put_ext(p, EXT_TAGS, o->tags.p, o->tags.len, NULL, 0);
    }
    if (o->part_cks) {
        p = put_ext(p, EXT_PART_CKS, &o->part_ck_len, 1, o->part_cks,
                    (size_t)o->n_parts * o->part_ck_len);
    }
    if (o->has_vsk) {
        p = put_ext(p, EXT_VERSION, o->vsk, 16, NULL, 0);
    }
    if (o->lock_mode || o->legal_hold) {
        unsigned char l[10];
        l[0] = o->lock_mode;
        l[1] = o->legal_hold ? 1 : 0;
        put_u64(l + 2, o->retain_until_ms);
        p = put_ext(p, EXT_LOCK, l, 10, NULL, 0);
    }
    if (o->sse_type) {
        unsigned char e[49];
        e[0] = o->sse_type;
        memcpy(e + 1, o->sse_check, 32);
        memcpy(e + 33, o->sse_md5, 16);
        p = put_ext(p, EXT_SSE, e, 49, NULL, 0);
    }
    if (o->part_bodies) {
        p = put_ext(p, EXT_PART_BODIES, o->part_bodies, (size_t)o->n_parts * 16, NULL, 0);
    }
    *len = (size_t)(p - rec);
    return rec;
}

/* Is b a well-formed tag set (u16 count, then count key/value pairs of u16 length + bytes)? */
static bool tags_valid(const unsigned char *b, size_t l)
{
    const unsigned char *p = b + 2, *end = b + l;
    size_t n;

    if (l < 2) {
        return false;
    }
    n = get_u16(b);
    for (size_t i = 0; i < 2 * n; i++) {
        size_t fl;
        if (end - p < 2) {
            return false;
        }
        fl = get_u16(p);
        if ((size_t)(end - p - 2) < fl) {
            return false;
        }
        p += 2 + fl;
    }
    return p == end;
}

/* Reads the extensions of a version 2 record from p to end. */
static int decode_ext(const unsigned char *p, const unsigned char *end, struct s3__obj *o)
{
    size_t ck_bytes = 0, bodies_bytes = 0;

    while (p < end) {
        unsigned tag;
        size_t l;
        if (end - p < 5) {
            return -EINVAL;
        }
        tag = p[0];
        l = get_u32(p + 1);
        p += 5;
        if ((size_t)(end - p) < l) {
            return -EINVAL;
        }
        switch (tag) {
        case EXT_PARTS:
            if (l < 4 || (l - 4) % 8 != 0 || (l - 4) / 8 != get_u32(p)) {
                return -EINVAL;
            }
            o->n_parts = get_u32(p);
            o->part_sizes = p + 4;
            break;
        case EXT_CHECKSUM:
            if (l < 3 || p[2] != l - 3 || l - 3 > sizeof o->ck.value) {
                return -EINVAL;
            }
            o->ck.algo = p[0];
            o->ck.type = p[1];
            o->ck.len = p[2];
            memcpy(o->ck.value, p + 3, o->ck.len);
            break;
        case EXT_TAGS:
            if (!tags_valid(p, l)) {
                return -EINVAL;
            }
            o->tags = (struct sl_str){ (const char *)p, l };
            break;
        case EXT_VERSION:
            if (l != 16) {
                return -EINVAL;
            }
            o->has_vsk = true;
            memcpy(o->vsk, p, 16);
            break;
        case EXT_LOCK:
            if (l != 10 || p[0] > 2) {
                return -EINVAL;
            }
            o->lock_mode = p[0];
            o->legal_hold = p[1] != 0;
            o->retain_until_ms = get_u64(p + 2);
            break;
        case EXT_PART_BODIES:
            if (l % 16 != 0) {
                return -EINVAL;
            }
            o->part_bodies = p;
            bodies_bytes = l;
            break;
        case EXT_SSE:
            if (l != 49 || p[0] < 1 || p[0] > 2) {
                return -EINVAL;
            }
            o->sse_type = p[0];
            memcpy(o->sse_check, p + 1, 32);
            memcpy(o->sse_md5, p + 33, 16);
            break;
        case EXT_PART_CKS:
            if (l < 1 || p[0] == 0 || p[0] > sizeof o->ck.value) {
                return -EINVAL;
            }
            o->part_ck_len = p[0];
            o->part_cks = p + 1;
            ck_bytes = l - 1;
            break;
        default:
            break; /* an extension this reader does not use */
        }
        p += l;
    }
    if (o->part_cks && ck_bytes != (size_t)o->n_parts * o->part_ck_len) {
        return -EINVAL;
    }
    if (o->part_bodies && bodies_bytes != (size_t)o->n_parts * 16) {
        return -EINVAL;
    }
    return 0;
}

uint64_t s3__obj_part_size(const struct s3__obj *o, uint32_t i)
{
    return get_u64(o->part_sizes + 8 * (size_t)i);
}

int s3__obj_decode(const void *rec, size_t len, const void *lkey, size_t lkey_len, size_t blen,
                   struct s3__obj *o)
{
    const unsigned char *p = rec, *end = p + len;
    unsigned flags;
    size_t nf;

    if (len < 52 || (p[0] != 1 && p[0] != OBJ_VERSION)) {
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
    o->key_in_record = false;
    o->multipart = (flags & OBJ_MULTIPART) != 0;
    o->n_parts = 0;
    o->part_sizes = NULL;
    o->tags = SL_STR_NULL;
    o->part_cks = NULL;
    o->part_ck_len = 0;
    o->delete_marker = (flags & OBJ_DELETE_MARKER) != 0;
    o->null_version = (flags & OBJ_NULL_VERSION) != 0;
    o->inline_body = (flags & OBJ_INLINE) != 0;
    o->has_vsk = false;
    o->lock_mode = 0;
    o->legal_hold = false;
    o->retain_until_ms = 0;
    o->sse_type = 0;
    o->part_bodies = NULL;
    memset(&o->ck, 0, sizeof o->ck);
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
        o->key_in_record = l <= S3__KEY_INLINE;
        p += 2 + l;
    }
    else {
        if (lkey_len < blen + 1) {
            return -EINVAL;
        }
        o->key = (struct sl_str){ (const char *)lkey + blen + 1, lkey_len - blen - 1 };
    }
    if (((const unsigned char *)rec)[0] == 1) {
        return 0; /* version 1 has no extensions */
    }
    if (decode_ext(p, end, o) != 0) {
        return -EINVAL;
    }
    return o->multipart && o->n_parts == 0 ? -EINVAL : 0;
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

void s3__obj_etag(const struct s3__obj *o, char out[S3__ETAG_MAX])
{
    out[0] = '"';
    sl_hex(o->md5, 16, out + 1);
    if (o->multipart) {
        snprintf(out + 33, S3__ETAG_MAX - 33, "-%u\"", (unsigned)o->n_parts);
        return;
    }
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

size_t s3__bucket_encode(uint64_t created_ms, const char *region, const char *owner,
                         unsigned char *out, size_t cap)
{
    size_t rl = strlen(region), ol = owner ? strlen(owner) : 0;
    if (rl > 255 || ol > 255 || cap < 11 + rl + ol) {
        return 0;
    }
    out[0] = ol ? BUCKET_VERSION_OWNER : BUCKET_VERSION;
    put_u64(out + 1, created_ms);
    out[9] = (unsigned char)rl;
    memcpy(out + 10, region, rl);
    if (!ol) {
        return 10 + rl;
    }
    out[10 + rl] = (unsigned char)ol;
    memcpy(out + 11 + rl, owner, ol);
    return 11 + rl + ol;
}

int s3__bucket_decode(const void *rec, size_t len, uint64_t *created_ms, struct sl_str *owner)
{
    const unsigned char *p = rec;
    if (len < 10 || (p[0] != BUCKET_VERSION && p[0] != BUCKET_VERSION_OWNER) ||
        len < 10u + p[9]) {
        return -EINVAL;
    }
    if (p[0] == BUCKET_VERSION && len != 10u + p[9]) {
        return -EINVAL;
    }
    if (p[0] == BUCKET_VERSION_OWNER &&
        (len < 11u + p[9] || len != 11u + p[9] + p[10 + p[9]])) {
        return -EINVAL;
    }
    *created_ms = get_u64(p + 1);
    if (owner) {
        *owner = p[0] == BUCKET_VERSION_OWNER
                     ? (struct sl_str){ (const char *)p + 11 + p[9], p[10 + p[9]] }
                     : SL_STR_NULL;
    }
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
