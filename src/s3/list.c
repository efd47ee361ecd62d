/*
 * list.c: listing a bucket's objects: ListObjectsV2, ListObjects (v1), and s3_list() for
 * other services, all on one iterator.
 *
 * What it is: a range scan of an LMDB cursor that starts at the first key a page can return
 * (the prefix, the start-after key, or the continuation point) and stops as soon as the page
 * is full and one more entry proved it truncated, so a page costs what it returns, not the
 * size of the bucket. Keys rolled up into a CommonPrefix are skipped by seeking past the
 * prefix, not by walking them.
 *
 * What it is not: versions, multipart upload listings.
 *
 * Invariants: objects come out in the byte order of their full keys, as S3 lists them. LMDB
 * order is that order except among long keys that share their inline part (s3__objkey()):
 * such a group is loaded whole (at most S3__GROUP_MAX entries) and sorted in memory.
 * Continuation tokens (record.c) name the last key or CommonPrefix returned, so a page
 * resumes exactly after it even if keys were added or removed meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "s3/s3_int.h"

/* ---- the iterator ---- */

/* A long-key entry waiting in a group: its LMDB key and record, and its full key. */
struct s3__group_ent {
    MDB_val k;
    MDB_val v;
    struct sl_str key;
};

int s3__iter_init(struct s3__iter *it, struct s3 *s3, MDB_txn *txn, const char *bucket)
{
    memset(it, 0, sizeof *it);
    it->s3 = s3;
    it->bucket = bucket;
    it->blen = strlen(bucket);
    return mdb_cursor_open(txn, s3->objects, &it->cur);
}

void s3__iter_release(struct s3__iter *it)
{
    if (it->cur) {
        mdb_cursor_close(it->cur);
        it->cur = NULL;
    }
    free(it->group);
    it->group = NULL;
}

int s3__key_cmp(struct sl_str a, struct sl_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c) {
        return c;
    }
    return a.len < b.len ? -1 : (a.len > b.len ? 1 : 0);
}

static bool has_prefix(struct sl_str s, struct sl_str p)
{
    return s.len >= p.len && (p.len == 0 || memcmp(s.p, p.p, p.len) == 0);
}

static int ent_cmp(const void *a, const void *b)
{
    return s3__key_cmp(((const struct s3__group_ent *)a)->key,
                   ((const struct s3__group_ent *)b)->key);
}

/* Is the cursor entry k inside the bucket? */
static bool in_bucket(const struct s3__iter *it, const MDB_val *k)
{
    return k->mv_size > it->blen && memcmp(k->mv_data, it->bucket, it->blen) == 0 &&
           ((const unsigned char *)k->mv_data)[it->blen] == 0;
}

/* Loads the group of long keys starting at the cursor entry (k, v) and sorts it by full key;
 * leaves the cursor on the entry after the group (it->rc MDB_NOTFOUND at the end). */
static int load_group(struct s3__iter *it, MDB_val k, MDB_val v)
{
    unsigned char inl[S3_BUCKET_NAME_MAX + 1 + S3__KEY_INLINE];
    size_t il = it->blen + 1 + S3__KEY_INLINE;
    size_t cap = 16;
    int rc = 0;

    memcpy(inl, k.mv_data, il);
    free(it->group);
    it->group = xmalloc(cap * sizeof *it->group);
    it->gn = 0;
    it->gi = 0;
    while (rc == 0 && s3__objkey_is_long(k.mv_size, it->blen) &&
           memcmp(k.mv_data, inl, il) == 0) {
        struct s3__obj o;
        if (it->gn == cap) {
            if (cap >= S3__GROUP_MAX) {
                return -E2BIG;
            }
            cap *= 2;
            it->group = xrealloc(it->group, cap * sizeof *it->group);
        }
        if (s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, it->blen, &o) == 0) {
            it->group[it->gn++] = (struct s3__group_ent){ k, v, o.key };
        }
        rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    it->rc = rc;
    qsort(it->group, it->gn, sizeof *it->group, ent_cmp);
    return 0;
}

/* The next object in full-key order: LMDB order, with long-key groups sorted. */
static int raw_next(struct s3__iter *it, struct s3__obj *o)
{
    MDB_val k, v;
    int rc;

    for (;;) {
        if (it->gi < it->gn) {
            struct s3__group_ent *e = &it->group[it->gi++];
            if (s3__obj_decode(e->v.mv_data, e->v.mv_size, e->k.mv_data, e->k.mv_size,
                               it->blen, o) == 0) {
                return 0;
            }
            continue;
        }
        if (it->rc != 0) {
            return it->rc;
        }
        rc = mdb_cursor_get(it->cur, &k, &v, it->started ? MDB_GET_CURRENT : MDB_FIRST);
        it->started = true;
        if (rc != 0) {
            it->rc = rc;
            return rc;
        }
        if (!in_bucket(it, &k)) {
            it->rc = MDB_NOTFOUND;
            return MDB_NOTFOUND;
        }
        if (s3__objkey_is_long(k.mv_size, it->blen)) {
            rc = load_group(it, k, v);
            if (rc != 0) {
                it->rc = rc;
                return rc;
            }
            continue;
        }
        rc = s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, it->blen, o);
        it->rc = mdb_cursor_get(it->cur, &k, &v, MDB_NEXT);
        if (it->rc != 0 && it->rc != MDB_NOTFOUND) {
            return it->rc;
        }
        if (rc == 0) {
            return 0;
        }
        log_warn("s3", "bucket %s: a corrupt object record was skipped", it->bucket);
    }
}

int s3__iter_seek(struct s3__iter *it, struct sl_str from, bool strict)
{
    unsigned char lk[S3__LMDB_KEY_MAX];
    size_t n = from.len < S3__KEY_INLINE ? from.len : S3__KEY_INLINE;
    MDB_val k, v;
    int rc;

    /* Seek to the inline part of from: every key >= from sorts at or after it in LMDB order,
     * and what lies between (at most from's own long-key group) is skipped below. */
    memcpy(lk, it->bucket, it->blen);
    lk[it->blen] = 0;
    if (n) {
        memcpy(lk + it->blen + 1, from.p, n);
    }
    k.mv_size = it->blen + 1 + n;
    k.mv_data = lk;
    it->gi = it->gn = 0;
    it->has_pending = false;
    it->started = true;
    it->rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
    for (;;) {
        int c;
        rc = raw_next(it, &it->pending);
        if (rc != 0) {
            return rc == MDB_NOTFOUND ? 0 : rc;
        }
        c = s3__key_cmp(it->pending.key, from);
        if (c > 0 || (c == 0 && !strict)) {
            it->has_pending = true;
            return 0;
        }
    }
}

int s3__iter_next(struct s3__iter *it, struct s3__obj *o)
{
    if (it->has_pending) {
        *o = it->pending;
        it->has_pending = false;
        return 0;
    }
    return raw_next(it, o);
}

const char *s3__delimited(struct sl_str key, struct sl_str prefix, struct sl_str delim)
{
    const char *rest = key.p + prefix.len;
    size_t rl = key.len - prefix.len;

    for (size_t i = 0; delim.len && i + delim.len <= rl; i++) {
        if (memcmp(rest + i, delim.p, delim.len) == 0) {
            return rest + i + delim.len;
        }
    }
    return NULL;
}

long s3__prefix_successor(struct sl_str p, unsigned char *out)
{
    size_t n = p.len;
    memcpy(out, p.p, n);
    while (n > 0 && out[n - 1] == 0xff) {
        n--;
    }
    if (n == 0) {
        return -1;
    }
    out[n - 1]++;
    return (long)n;
}

/* ---- a page ---- */

struct page {
    struct sl_str prefix;
    struct sl_str delim;
    size_t max;
    /* what came out */
    struct buf *xml;
    bool url;
    bool owner;
    struct s3 *s3;
    size_t count;
    bool truncated;
    enum s3__token_kind last_kind;
    struct sl_str last;             /* last key or prefix returned (arena copy) */
};

int s3__xml_key(struct buf *b, const char *name, struct sl_str s, bool url, struct arena *a)
{
    if (url) {
        char *enc = arena_alloc(a, 3 * s.len + 1);
        size_t n = sl_uri_encode(s, true, enc);
        return s3__xml_elem(b, name, (struct sl_str){ enc, n });
    }
    return s3__xml_elem(b, name, s);
}

static int emit_object(struct http_req *r, struct page *pg, const struct s3__obj *o)
{
    struct buf *b = pg->xml;
    char iso[25], etag[S3__ETAG_MAX];
    int rc;

    s3__time_iso(o->mtime_ms, iso);
    s3__obj_etag(o, etag);
    rc = buf_puts(b, "<Contents>");
    if (rc == 0) {
        rc = s3__xml_key(b, "Key", o->key, pg->url, &r->arena);
    }
    if (rc == 0) {
        rc = buf_printf(b,
                        "<LastModified>%s</LastModified><ETag>&quot;%.*s&quot;</ETag>"
                        "<Size>%llu</Size>",
                        iso, (int)strlen(etag) - 2, etag + 1, (unsigned long long)o->size);
    }
    if (rc == 0 && pg->owner) {
        rc = buf_printf(b, "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner>",
                        pg->s3->owner_id, pg->s3->account);
    }
    if (rc == 0) {
        rc = buf_puts(b, "<StorageClass>STANDARD</StorageClass></Contents>");
    }
    return rc;
}

/*
 * Fills a page starting after (kind, from) (from.len 0 and kind S3__AFTER_KEY: the start).
 * Contents go to pg->xml; CommonPrefixes to cps (written after, as S3 orders them).
 */
static int fill_page(struct http_req *r, struct s3__iter *it, struct page *pg, struct buf *cps,
                     enum s3__token_kind kind, struct sl_str from)
{
    struct s3__obj o;
    struct sl_str lo = from;
    bool strict = from.len > 0;
    unsigned char *succ = NULL;
    int rc;

    /* Begin at the later of the prefix and the resume point. */
    if (kind == S3__AFTER_PREFIX) {
        long n;
        succ = arena_alloc(&r->arena, from.len + 1);
        n = s3__prefix_successor(from, succ);
        if (n < 0) {
            return 0;
        }
        lo = (struct sl_str){ (const char *)succ, (size_t)n };
        strict = false;
    }
    if (s3__key_cmp(pg->prefix, lo) > 0) {
        lo = pg->prefix;
        strict = false;
    }
    rc = s3__iter_seek(it, lo, strict);
    while (rc == 0) {
        const char *d;
        rc = s3__iter_next(it, &o);
        if (rc != 0) {
            break;
        }
        if (!has_prefix(o.key, pg->prefix)) {
            /* Keys are in order and we started at the prefix: past it, nothing more. */
            break;
        }
        if (o.delete_marker) {
            continue; /* a key whose current version is a delete marker is not listed */
        }
        d = s3__delimited(o.key, pg->prefix, pg->delim);
        if (pg->count == pg->max) {
            pg->truncated = true;
            break;
        }
        if (d) {
            struct sl_str cp = { o.key.p, (size_t)(d - o.key.p) };
            long n;
            pg->last_kind = S3__AFTER_PREFIX;
            pg->last = (struct sl_str){ arena_strndup(&r->arena, cp.p, cp.len), cp.len };
            pg->count++;
            rc = buf_puts(cps, "<CommonPrefixes>");
            if (rc == 0) {
                rc = s3__xml_key(cps, "Prefix", cp, pg->url, &r->arena);
            }
            if (rc == 0) {
                rc = buf_puts(cps, "</CommonPrefixes>");
            }
            if (rc != 0) {
                break;
            }
            /* Jump over every key under this CommonPrefix. */
            succ = arena_alloc(&r->arena, cp.len + 1);
            n = s3__prefix_successor(pg->last, succ);
            if (n < 0) {
                rc = MDB_NOTFOUND;
                break;
            }
            rc = s3__iter_seek(it, (struct sl_str){ (const char *)succ, (size_t)n }, false);
            continue;
        }
        pg->last_kind = S3__AFTER_KEY;
        pg->last = (struct sl_str){ arena_strndup(&r->arena, o.key.p, o.key.len), o.key.len };
        pg->count++;
        rc = emit_object(r, pg, &o);
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Parses max-keys. Returns 0 or -1 with InvalidArgument set. */
static int max_keys_or_reply(struct http_req *r, size_t *out)
{
    const char *s = http_req_query(r, "max-keys");
    char *end;
    long long v;

    *out = S3__MAX_KEYS;
    if (!s) {
        return 0;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v > 2147483647LL) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                      "Provided max-keys not an integer or within integer range");
        http_req_fail_field(r, "ArgumentName", "max-keys");
        http_req_fail_field(r, "ArgumentValue", s);
        return -1;
    }
    if (v < 0) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                      "Argument maxKeys must be an integer between 0 and 2147483647");
        http_req_fail_field(r, "ArgumentName", "maxKeys");
        http_req_fail_field(r, "ArgumentValue", s);
        return -1;
    }
    /* S3 returns at most 1000 keys a page whatever max-keys asks, and says MaxKeys as
     * asked; sluice does the same. */
    *out = v > S3__MAX_KEYS ? S3__MAX_KEYS : (size_t)v;
    return 0;
}

static int list_common(struct http_req *r, bool v2)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    const char *prefix = http_req_query(r, "prefix");
    const char *delim = http_req_query(r, "delimiter");
    const char *enc = http_req_query(r, "encoding-type");
    const char *token = v2 ? http_req_query(r, "continuation-token") : NULL;
    const char *start = http_req_query(r, v2 ? "start-after" : "marker");
    const char *fetch_owner = http_req_query(r, "fetch-owner");
    const char *max_s = http_req_query(r, "max-keys");
    enum s3__token_kind kind = S3__AFTER_KEY;
    struct sl_str from = SL_STR_NULL;
    struct s3__iter it;
    struct page pg;
    struct buf b, cps;
    MDB_txn *txn = NULL;
    size_t max;
    int rc;

    if (enc && strcmp(enc, "url") != 0) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Invalid Encoding Method specified in "
                                                     "Request");
        http_req_fail_field(r, "ArgumentName", "encoding-type");
        http_req_fail_field(r, "ArgumentValue", enc);
        return -1;
    }
    if (max_keys_or_reply(r, &max) < 0) {
        return -1;
    }
    if ((prefix && strlen(prefix) > S3_KEY_MAX) || (delim && strlen(delim) > S3_KEY_MAX) ||
        (start && strlen(start) > S3_KEY_MAX)) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    if (token) {
        if (s3__token_decode(&r->arena, token, &kind, &from) < 0) {
            http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                          "The continuation token provided is incorrect");
            http_req_fail_field(r, "ArgumentName", "continuation-token");
            return -1;
        }
    }
    else if (start && start[0]) {
        from = sl_str_c(start);
    }
    memset(&pg, 0, sizeof pg);
    pg.prefix = sl_str_c(prefix ? prefix : "");
    pg.delim = sl_str_c(delim ? delim : "");
    pg.max = max;
    pg.url = enc != NULL;
    pg.owner = v2 ? (fetch_owner && strcmp(fetch_owner, "true") == 0) : true;

    pg.s3 = s3;
    pg.xml = &b;

    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, "ListObjects", rc);
    }
    if (s3__bucket_check_or_reply(r, txn, t->bucket) < 0) {
        store_read_end(s3->st, txn);
        return -1;
    }
    rc = s3__iter_init(&it, s3, txn, t->bucket);
    if (rc != 0) {
        store_read_end(s3->st, txn);
        return s3__internal_or_reply(r, "ListObjects", rc);
    }
    buf_init(&b, S3__LIST_XML_MAX);
    buf_init(&cps, S3__LIST_XML_MAX);
    rc = fill_page(r, &it, &pg, &cps, kind, from);
    s3__iter_release(&it);
    store_read_end(s3->st, txn);
    if (rc != 0) {
        buf_release(&b);
        buf_release(&cps);
        return s3__internal_or_reply(r, "ListObjects", rc);
    }

    {
        struct buf out;
        buf_init(&out, 2 * S3__LIST_XML_MAX + 64 * 1024);
        buf_puts(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<ListBucketResult xmlns=\"" S3__XMLNS "\">");
        s3__xml_elem(&out, "Name", sl_str_c(t->bucket));
        s3__xml_key(&out, "Prefix", pg.prefix, pg.url, &r->arena);
        if (v2) {
            if (token) {
                s3__xml_elem(&out, "ContinuationToken", sl_str_c(token));
            }
            if (start) {
                s3__xml_key(&out, "StartAfter", sl_str_c(start), pg.url, &r->arena);
            }
            buf_printf(&out, "<KeyCount>%zu</KeyCount>", pg.count);
        }
        else {
            s3__xml_key(&out, "Marker", sl_str_c(start ? start : ""), pg.url, &r->arena);
        }
        buf_printf(&out, "<MaxKeys>%s</MaxKeys>", max_s ? max_s : "1000");
        if (delim) {
            s3__xml_key(&out, "Delimiter", pg.delim, pg.url, &r->arena);
        }
        buf_printf(&out, "<IsTruncated>%s</IsTruncated>", pg.truncated ? "true" : "false");
        if (pg.truncated && v2) {
            s3__xml_elem(&out, "NextContinuationToken",
                         sl_str_c(s3__token_encode(&r->arena, pg.last_kind, pg.last)));
        }
        if (pg.truncated && !v2 && delim) {
            /* ListObjects v1 gives NextMarker only with a delimiter; without one the client
             * resumes from the last Key. */
            s3__xml_key(&out, "NextMarker", pg.last, pg.url, &r->arena);
        }
        if (pg.url) {
            buf_puts(&out, "<EncodingType>url</EncodingType>");
        }
        buf_append(&out, b.p ? b.p : "", b.len);
        buf_append(&out, cps.p ? cps.p : "", cps.len);
        rc = buf_puts(&out, "</ListBucketResult>");
        buf_release(&b);
        buf_release(&cps);
        if (rc < 0) {
            buf_release(&out);
            return s3__internal_or_reply(r, "ListObjects", rc);
        }
        return s3__reply_xml(r, 200, &out);
    }
}

int s3_list_objects_v2(struct http_req *r)
{
    return list_common(r, true);
}

int s3_list_objects(struct http_req *r)
{
    return list_common(r, false);
}

/* ---- s3_list() ---- */

int s3_list(struct s3 *s3, const char *bucket, struct sl_str prefix, struct sl_str start_after,
            int (*fn)(void *ctx, struct sl_str key, const struct s3_object_info *info),
            void *ctx)
{
    struct s3__iter it;
    MDB_txn *txn = NULL;
    struct s3__obj o;
    struct sl_str lo = start_after;
    bool strict = start_after.len > 0;
    int rc;

    if (!s3__bucket_name_valid(bucket, strlen(bucket))) {
        return S3_ENOBUCKET;
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return rc;
    }
    if (!s3__bucket_exists(s3, txn, bucket, NULL)) {
        store_read_end(s3->st, txn);
        return S3_ENOBUCKET;
    }
    rc = s3__iter_init(&it, s3, txn, bucket);
    if (s3__key_cmp(prefix, lo) > 0) {
        lo = prefix;
        strict = false;
    }
    if (rc == 0) {
        rc = s3__iter_seek(&it, lo, strict);
    }
    while (rc == 0) {
        struct s3_object_info info;
        struct sl_str ct;
        rc = s3__iter_next(&it, &o);
        if (rc != 0) {
            break;
        }
        if (!has_prefix(o.key, prefix)) {
            rc = MDB_NOTFOUND;
            break;
        }
        if (o.delete_marker) {
            continue;
        }
        info.size = o.size;
        info.mtime_ms = o.mtime_ms;
        s3__obj_etag(&o, info.etag);
        ct = s3__obj_field(&o, "content-type");
        snprintf(info.content_type, sizeof info.content_type, "%.*s", (int)ct.len,
                 ct.p ? ct.p : "");
        rc = fn(ctx, o.key, &info);
    }
    s3__iter_release(&it);
    store_read_end(s3->st, txn);
    if (rc == MDB_NOTFOUND || rc == S3_ESTOP) {
        return 0;
    }
    return rc;
}
