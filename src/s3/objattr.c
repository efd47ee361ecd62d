/*
 * objattr.c: what S3 tells and changes about an object besides its bytes: object tags
 * (x-amz-tagging on writes, PutObjectTagging, GetObjectTagging, DeleteObjectTagging) and
 * GetObjectAttributes (ETag, checksum, parts, storage class, size).
 *
 * What it is not: the object's body or headers (object.c).
 *
 * A tag set is encoded as u16 count, then per tag u16 key length, key, u16 value length,
 * value (little-endian; docs/formats.md, "S3 buckets and objects"). Tags follow S3's rules:
 * at most 10 per object, keys 1..128 and values 0..256 bytes, no key twice. Changing tags
 * rewrites the object's record in one writer op and leaves its body as it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_int.h"

#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256

struct tagset {
    size_t n;
    struct sl_str k[S3__TAGS_MAX + 1];
    struct sl_str v[S3__TAGS_MAX + 1];
    bool too_many;
};

/* Checks the set against S3's rules and encodes it into the arena. Returns 0 or -1. */
static int tags_encode_or_reply(struct http_req *r, const struct tagset *ts, struct sl_str *out)
{
    size_t len = 2;
    unsigned char *b, *p;

    if (ts->too_many || ts->n > S3__TAGS_MAX) {
        return http_req_fail(r, AWSERR_S3_INVALID_TAG, "Object tags cannot be greater than 10");
    }
    for (size_t i = 0; i < ts->n; i++) {
        if (ts->k[i].len == 0) {
            return http_req_fail(r, AWSERR_S3_INVALID_TAG,
                                 "The TagKey you have provided is invalid");
        }
        if (ts->k[i].len > TAG_KEY_MAX) {
            return http_req_fail(r, AWSERR_S3_INVALID_TAG,
                                 "The TagKey you have provided is too long, max 128");
        }
        if (ts->v[i].len > TAG_VALUE_MAX) {
            return http_req_fail(r, AWSERR_S3_INVALID_TAG,
                                 "The TagValue you have provided is too long, max 256");
        }
        for (size_t j = 0; j < i; j++) {
            if (sl_str_eq(ts->k[i], ts->k[j])) {
                return http_req_fail(r, AWSERR_S3_INVALID_TAG,
                                     "Cannot provide multiple Tags with the same key");
            }
        }
        len += 4 + ts->k[i].len + ts->v[i].len;
    }
    if (ts->n == 0) {
        *out = SL_STR_NULL;
        return 0;
    }
    b = arena_alloc(&r->arena, len);
    p = b;
    *p++ = (unsigned char)ts->n;
    *p++ = 0;
    for (size_t i = 0; i < ts->n; i++) {
        const struct sl_str *f[2] = { &ts->k[i], &ts->v[i] };
        for (int j = 0; j < 2; j++) {
            p[0] = (unsigned char)f[j]->len;
            p[1] = (unsigned char)(f[j]->len >> 8);
            if (f[j]->len) {
                memcpy(p + 2, f[j]->p, f[j]->len);
            }
            p += 2 + f[j]->len;
        }
    }
    *out = (struct sl_str){ (const char *)b, len };
    return 0;
}

/* Walks an encoded set: the i-th tag (i < count) into *k, *v. */
static void tag_at(struct sl_str tags, size_t i, struct sl_str *k, struct sl_str *v)
{
    const unsigned char *p = (const unsigned char *)tags.p + 2;
    for (size_t t = 0;; t++) {
        size_t kl = (size_t)p[0] | (size_t)p[1] << 8, vl;
        const unsigned char *q = p + 2 + kl;
        vl = (size_t)q[0] | (size_t)q[1] << 8;
        if (t == i) {
            *k = (struct sl_str){ (const char *)p + 2, kl };
            *v = (struct sl_str){ (const char *)q + 2, vl };
            return;
        }
        p = q + 2 + vl;
    }
}

size_t s3__tags_count(struct sl_str tags)
{
    if (tags.len < 2) {
        return 0;
    }
    return (size_t)(unsigned char)tags.p[0] | (size_t)(unsigned char)tags.p[1] << 8;
}

/* Decodes a form-encoded component ('+' is a space, %XX a byte) into the arena. */
static struct sl_str form_decode(struct arena *a, const char *s, size_t n, bool *bad)
{
    char *out = arena_alloc(a, n + 1), *tmp = arena_alloc(a, n + 1);
    long l;

    for (size_t i = 0; i < n; i++) {
        tmp[i] = s[i] == '+' ? ' ' : s[i];
    }
    l = sl_uri_decode((struct sl_str){ tmp, n }, out);
    if (l < 0) {
        *bad = true;
        l = 0;
    }
    return (struct sl_str){ out, (size_t)l };
}

int s3__tags_from_header_or_reply(struct http_req *r, struct sl_str *out)
{
    const char *h = http_req_header(r, "x-amz-tagging");
    struct tagset ts;
    bool bad = false;

    *out = SL_STR_NULL;
    if (!h || !h[0]) {
        return 0;
    }
    memset(&ts, 0, sizeof ts);
    for (const char *p = h; *p;) {
        const char *amp = strchr(p, '&');
        const char *end = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (end > p) {
            if (ts.n == S3__TAGS_MAX) {
                ts.too_many = true;
                break;
            }
            ts.k[ts.n] = form_decode(&r->arena, p, (size_t)((eq ? eq : end) - p), &bad);
            ts.v[ts.n] = eq ? form_decode(&r->arena, eq + 1, (size_t)(end - eq - 1), &bad)
                            : SL_STR_NULL;
            ts.n++;
        }
        p = amp ? amp + 1 : end;
    }
    if (bad) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "The header 'x-amz-tagging' shall be "
                                                     "encoded as UTF-8 then URLEncoded URL "
                                                     "query parameters without tag name "
                                                     "duplicates.");
        http_req_fail_field(r, "ArgumentName", "x-amz-tagging");
        return -1;
    }
    return tags_encode_or_reply(r, &ts, out);
}

/* ---- Put/Get/DeleteObjectTagging ---- */

struct tag_parse {
    struct http_req *r;
    struct tagset ts;
    struct sl_str k, v;
    bool has_k;
};

static int tag_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    struct tag_parse *t = ctx;
    struct arena *a = &t->r->arena;

    if (strcmp(path, "Tagging/TagSet/Tag/Key") == 0) {
        t->k = (struct sl_str){ arena_strndup(a, text.p, text.len), text.len };
        t->has_k = true;
    }
    else if (strcmp(path, "Tagging/TagSet/Tag/Value") == 0) {
        t->v = (struct sl_str){ arena_strndup(a, text.p, text.len), text.len };
    }
    else if (strcmp(path, "Tagging/TagSet/Tag") == 0) {
        if (!t->has_k) {
            return -1;
        }
        if (t->ts.n == S3__TAGS_MAX) {
            t->ts.too_many = true;
        }
        else {
            t->ts.k[t->ts.n] = t->k;
            t->ts.v[t->ts.n] = t->v;
            t->ts.n++;
        }
        t->has_k = false;
        t->v = SL_STR_NULL;
    }
    return 0;
}

struct retag_op {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    struct sl_str key;
    struct sl_str tags;
    const char *vid;            /* ?versionId, or NULL for the current version */
    unsigned status;            /* the answer on success: 200 or 204 */
};

static int retag_fn(struct s3__obj *o, void *ctx)
{
    o->tags = ((struct retag_op *)ctx)->tags;
    return 0;
}

static int retag_apply(struct store_op *op, MDB_txn *txn)
{
    struct retag_op *t = (struct retag_op *)op;
    return s3__version_rewrite(t->s3, txn, t->bucket, t->key, t->vid, retag_fn, t);
}

static void retag_done(struct store_op *op, int rc)
{
    (void)rc;
    http_req_resume(((struct retag_op *)op)->r);
}

static int retag_cont(struct http_req *r)
{
    struct retag_op *t = r->op_ctx;
    if (t->base.rc != 0) {
        return s3__version_fail_or_reply(r, t->bucket, t->key, t->vid, t->base.rc,
                                         "object tagging");
    }
    if (t->vid) {
        http_reply_header(r, "x-amz-version-id", t->vid);
    }
    return http_reply(r, t->status, NULL, NULL, 0);
}

static int retag(struct http_req *r, struct sl_str tags, unsigned status)
{
    struct s3__target *t = s3__target_of(r);
    struct retag_op *op;

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    if (t->key.len > S3_KEY_MAX) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    op = arena_new(&r->arena, struct retag_op);
    op->base.apply = retag_apply;
    op->base.done = retag_done;
    op->s3 = s3__of(r);
    op->r = r;
    op->bucket = t->bucket;
    op->key = t->key;
    op->tags = tags;
    op->vid = http_req_query(r, "versionId");
    op->status = status;
    r->op_ctx = op;
    return s3__submit_or_reply(r, &op->base, retag_cont);
}

int s3__tags_xml_or_reply(struct http_req *r, struct sl_str *out)
{
    struct tag_parse tp;

    memset(&tp, 0, sizeof tp);
    tp.r = r;
    if (s3__xml_parse_or_reply(r, "Tagging", tag_xml_cb, &tp) < 0) {
        return -1;
    }
    return tags_encode_or_reply(r, &tp.ts, out);
}

int s3_put_object_tagging(struct http_req *r)
{
    struct sl_str tags;

    if (s3__tags_xml_or_reply(r, &tags) < 0) {
        return -1;
    }
    return retag(r, tags, 200);
}

int s3_delete_object_tagging(struct http_req *r)
{
    return retag(r, SL_STR_NULL, 204);
}

/* Reads the object of the request in a snapshot, copied into the arena. Returns 0 or -1. */
static int object_read_or_reply(struct http_req *r, struct s3__obj *o, const char *what)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    const char *vid = http_req_query(r, "versionId");
    MDB_txn *txn;
    int rc;

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    if (t->key.len > S3_KEY_MAX) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, what, rc);
    }
    rc = s3__object_lookup_version(s3, txn, t->bucket, t->key, vid, o);
    if (rc == 0) {
        s3__obj_own(&r->arena, o);
        if (o->delete_marker) {
            rc = vid ? S3__EMARKER : S3_ENOKEY;
        }
    }
    store_read_end(s3->st, txn);
    return rc ? s3__version_fail_or_reply(r, t->bucket, t->key, vid, rc, what) : 0;
}

int s3_get_object_tagging(struct http_req *r)
{
    struct s3__obj *o = arena_new(&r->arena, struct s3__obj);
    size_t n;
    struct buf b;

    if (object_read_or_reply(r, o, "GetObjectTagging") < 0) {
        return -1;
    }
    n = s3__tags_count(o->tags);
    buf_init(&b, 64 * 1024);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<Tagging xmlns=\"" S3__XMLNS "\"><TagSet>");
    for (size_t i = 0; i < n; i++) {
        struct sl_str k, v;
        tag_at(o->tags, i, &k, &v);
        buf_puts(&b, "<Tag>");
        s3__xml_elem(&b, "Key", k);
        s3__xml_elem(&b, "Value", v);
        buf_puts(&b, "</Tag>");
    }
    buf_puts(&b, "</TagSet></Tagging>");
    return s3__reply_xml(r, 200, &b);
}

/* ---- GetObjectAttributes ---- */

static bool attr_wanted(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        if (strncmp(p, name, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ')) {
            return true;
        }
        p = strchr(p, ',');
    }
    return false;
}

static const char *const attr_names[] = { "ETag", "Checksum", "ObjectParts", "StorageClass",
                                          "ObjectSize" };

int s3_get_object_attributes(struct http_req *r)
{
    const char *list = http_req_header(r, "x-amz-object-attributes");
    const char *mp = http_req_header(r, "x-amz-max-parts");
    const char *pm = http_req_header(r, "x-amz-part-number-marker");
    struct s3__obj *o = arena_new(&r->arena, struct s3__obj);
    long max = mp ? strtol(mp, NULL, 10) : 1000, marker = pm ? strtol(pm, NULL, 10) : 0;
    char etag[S3__ETAG_MAX], lm[30];
    bool any = false;
    struct buf b;

    for (size_t i = 0; list && i < sizeof attr_names / sizeof attr_names[0]; i++) {
        any = any || attr_wanted(list, attr_names[i]);
    }
    if (!any) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Invalid attribute name specified.");
        http_req_fail_field(r, "ArgumentName", "x-amz-object-attributes");
        return -1;
    }
    if (max < 0 || max > 1000) {
        max = 1000;
    }
    if (marker < 0) {
        marker = 0;
    }
    if (object_read_or_reply(r, o, "GetObjectAttributes") < 0) {
        return -1;
    }
    s3__obj_etag(o, etag);
    s3__time_http(o->mtime_ms, lm);
    http_reply_header(r, "Last-Modified", lm);
    buf_init(&b, 4u * 1024 * 1024);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<GetObjectAttributesResponse xmlns=\"" S3__XMLNS "\">");
    if (attr_wanted(list, "ETag")) {
        /* Without the quotes, as S3 gives it here. */
        s3__xml_elem(&b, "ETag", (struct sl_str){ etag + 1, strlen(etag) - 2 });
    }
    if (attr_wanted(list, "Checksum") && o->ck.algo) {
        buf_printf(&b, "<Checksum><Checksum%s>%s</Checksum%s><ChecksumType>%s</ChecksumType>"
                       "</Checksum>", s3__ck_name(o->ck.algo),
                   s3__ck_b64(&r->arena, &o->ck, 0), s3__ck_name(o->ck.algo),
                   o->ck.type == S3__CK_COMPOSITE ? "COMPOSITE" : "FULL_OBJECT");
    }
    if (attr_wanted(list, "ObjectParts") && o->multipart) {
        long last = 0, count = 0;
        bool truncated = false;
        struct buf parts;
        buf_init(&parts, 2u * 1024 * 1024);
        for (uint32_t i = (uint32_t)marker; i < o->n_parts; i++) {
            if (count == max) {
                truncated = true;
                break;
            }
            buf_printf(&parts, "<Part><PartNumber>%u</PartNumber><Size>%llu</Size>", i + 1,
                       (unsigned long long)s3__obj_part_size(o, i));
            if (o->part_cks && o->ck.type == S3__CK_COMPOSITE) {
                struct s3__checksum pc = { o->ck.algo, 0, o->part_ck_len, { 0 } };
                memcpy(pc.value, o->part_cks + (size_t)i * o->part_ck_len, o->part_ck_len);
                buf_printf(&parts, "<Checksum%s>%s</Checksum%s>", s3__ck_name(pc.algo),
                           s3__ck_b64(&r->arena, &pc, 0), s3__ck_name(pc.algo));
            }
            buf_puts(&parts, "</Part>");
            last = (long)i + 1;
            count++;
        }
        buf_printf(&b, "<ObjectParts><PartsCount>%u</PartsCount><PartNumberMarker>"
                       "%ld</PartNumberMarker><NextPartNumberMarker>%ld</NextPartNumberMarker>"
                       "<MaxParts>%ld</MaxParts><IsTruncated>%s</IsTruncated>",
                   (unsigned)o->n_parts, marker, last, max, truncated ? "true" : "false");
        buf_append(&b, parts.p ? parts.p : "", parts.len);
        buf_release(&parts);
        buf_puts(&b, "</ObjectParts>");
    }
    if (attr_wanted(list, "StorageClass")) {
        buf_puts(&b, "<StorageClass>STANDARD</StorageClass>");
    }
    if (attr_wanted(list, "ObjectSize")) {
        buf_printf(&b, "<ObjectSize>%llu</ObjectSize>", (unsigned long long)o->size);
    }
    if (buf_puts(&b, "</GetObjectAttributesResponse>") < 0) {
        buf_release(&b);
        return s3__internal_or_reply(r, "GetObjectAttributes", -E2BIG);
    }
    return s3__reply_xml(r, 200, &b);
}
