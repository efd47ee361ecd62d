/*
 * delete.c: DeleteObject and DeleteObjects (quiet mode, per-key results, one writer op for
 * the whole request), and the parser of the Delete request body.
 *
 * What it is not: the put machinery (object.c).
 *
 * Without a version id, a delete in a bucket with versioning adds a delete marker (Object Lock
 * allows that: it protects versions); with one, that version goes for good unless Object
 * Lock keeps it (AccessDenied; a per-key Error in DeleteObjects, whose other keys go on). A
 * deleted body file is removed after the commit that dropped its last record (never before:
 * a GET that opened it meanwhile keeps reading it); a crash in between leaves it
 * unreferenced for the start-up sweep.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_int.h"

/* ---- one key ---- */

int s3__delete_one(struct s3 *s3, MDB_txn *txn, const char *bucket, unsigned vstate,
                   struct sl_str key, const char *vid, bool bypass, struct s3__ids *unlink,
                   struct s3__del_result *res, const char *who)
{
    unsigned char lk[S3__LMDB_KEY_MAX];
    MDB_val k, v;
    struct s3__obj o;
    int rc;

    memset(res, 0, sizeof *res);
    if (vid) {
        rc = s3__version_delete(s3, txn, bucket, key, vid, bypass, unlink, &o);
        if (rc == S3__ENOVERSION) {
            return 0; /* S3 answers a version that is not there with success */
        }
        if (rc == S3__ELOCKED) {
            res->rc = rc;
            return 0;
        }
        if (rc == 0) {
            res->marker = o.delete_marker;
            snprintf(res->vid, sizeof res->vid, "%s", vid);
            o.key = key;
            o.size = 0;
            if (who) {
                rc = s3__events_record(s3, txn, bucket, S3__EV_DELETE, &o, who);
            }
        }
        return rc;
    }
    if (vstate != S3__VER_NONE) {
        memset(&o, 0, sizeof o);
        o.delete_marker = true;
        o.mtime_ms = s3__now_ms();
        rc = s3__version_make_current(s3, txn, bucket, key, &o, vstate, unlink);
        if (rc == 0) {
            res->marker = true;
            s3__vid_str(&o, res->vid);
            if (who) {
                rc = s3__events_record(s3, txn, bucket, S3__EV_MARKER, &o, who);
            }
        }
        return rc;
    }
    k = (MDB_val){ s3__objkey(bucket, key, lk), lk };
    rc = mdb_get(txn, s3->objects, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0; /* S3's DeleteObject succeeds on a missing key. */
    }
    if (rc != 0) {
        return rc;
    }
    if (s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, strlen(bucket), &o) != 0 ||
        !sl_str_eq(o.key, key)) {
        return 0; /* a long key's hash matched another key: ours is not there */
    }
    rc = s3__body_drop(s3, txn, &o, unlink);
    if (rc != 0) {
        return rc;
    }
    if (who) {
        struct s3__obj gone = o;
        gone.key = key;
        rc = s3__events_record(s3, txn, bucket, S3__EV_DELETE, &gone, who);
        if (rc != 0) {
            return rc;
        }
    }
    k = (MDB_val){ s3__objkey(bucket, key, lk), lk };
    return mdb_del(txn, s3->objects, &k, NULL);
}

static bool bypass_of(struct http_req *r)
{
    const char *b = http_req_header(r, "x-amz-bypass-governance-retention");
    return b && strcasecmp(b, "true") == 0;
}

/* ---- DeleteObject ---- */

struct delete_state {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    struct sl_str key;
    const char *vid;
    bool bypass;
    struct s3__del_result res;      /* set by delete_apply on each run */
    struct s3__ids unlink;
    bool committed;
};

static int delete_apply(struct store_op *op, MDB_txn *txn)
{
    struct delete_state *d = (struct delete_state *)op;

    d->unlink.n = 0;
    if (!s3__bucket_exists(d->s3, txn, d->bucket, NULL)) {
        return S3_ENOBUCKET;
    }
    return s3__delete_one(d->s3, txn, d->bucket, s3__versioning(d->s3, txn, d->bucket), d->key,
                          d->vid, d->bypass, &d->unlink, &d->res, d->r->auth.access_key);
}

static void delete_done(struct store_op *op, int rc)
{
    struct delete_state *d = (struct delete_state *)op;
    d->committed = rc == 0;
    if (rc == 0) {
        s3__events_kick(d->s3);
    }
    http_req_resume(d->r);
}

static void delete_cleanup(void *arg)
{
    struct delete_state *d = arg;
    if (d->committed) {
        s3__ids_unlink(d->s3, &d->unlink);
    }
    free(d->unlink.ids);
    d->unlink.ids = NULL;
}

static int delete_cont(struct http_req *r)
{
    struct delete_state *d = r->op_ctx;

    if (d->base.rc != 0) {
        return s3__version_fail_or_reply(r, d->bucket, d->key, d->vid, d->base.rc,
                                         "DeleteObject");
    }
    if (d->res.rc != 0) {
        return s3__version_fail_or_reply(r, d->bucket, d->key, d->vid, d->res.rc,
                                         "DeleteObject");
    }
    if (d->res.vid[0]) {
        http_reply_header(r, "x-amz-version-id", d->res.vid);
    }
    if (d->res.marker) {
        http_reply_header(r, "x-amz-delete-marker", "true");
    }
    return http_reply(r, 204, NULL, NULL, 0);
}

/* A version id sent with a delete must be one sluice gives. Returns 0 or -1. */
static int vid_check_or_reply(struct http_req *r, const char *vid)
{
    bool is_null;
    unsigned char vsk[16];
    if (vid && s3__vid_parse(vid, &is_null, vsk) != 0) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Invalid version id specified");
        http_req_fail_field(r, "ArgumentName", "versionId");
        http_req_fail_field(r, "ArgumentValue", vid);
        return -1;
    }
    return 0;
}

int s3_delete_object(struct http_req *r)
{
    struct s3__target *t = s3__target_of(r);
    struct delete_state *d;

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    if (t->key.len > S3_KEY_MAX) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    d = arena_new(&r->arena, struct delete_state);
    d->vid = http_req_query(r, "versionId");
    if (vid_check_or_reply(r, d->vid) < 0) {
        return -1;
    }
    d->base.apply = delete_apply;
    d->base.done = delete_done;
    d->s3 = s3__of(r);
    d->r = r;
    d->bucket = t->bucket;
    d->key = t->key;
    d->bypass = bypass_of(r);
    arena_on_clear(&r->arena, delete_cleanup, d);
    r->op_ctx = d;
    return s3__submit_or_reply(r, &d->base, delete_cont);
}

/* ---- DeleteObjects ---- */

struct multi_state {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    struct s3__delete_list list;
    struct s3__del_result *res;     /* list.n entries, set by multi_apply */
    bool bypass;
    struct s3__ids unlink;
    bool committed;
};

struct delete_parse {
    struct http_req *r;
    struct s3__delete_list *l;
    struct sl_str key;
    const char *vid;
    bool has_key;
};

static int delete_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    struct delete_parse *d = ctx;
    if (strcmp(path, "Delete/Quiet") == 0) {
        d->l->quiet = sl_str_eq_c(text, "true");
    }
    else if (strcmp(path, "Delete/Object/Key") == 0) {
        d->key = (struct sl_str){ arena_strndup(&d->r->arena, text.p, text.len), text.len };
        d->has_key = true;
    }
    else if (strcmp(path, "Delete/Object/VersionId") == 0) {
        d->vid = arena_strndup(&d->r->arena, text.p, text.len);
    }
    else if (strcmp(path, "Delete/Object") == 0) {
        if (!d->has_key || d->l->n == S3__DELETE_MAX) {
            return -1; /* S3 answers more than 1000 keys with MalformedXML too */
        }
        d->l->keys[d->l->n] = d->key;
        d->l->vids[d->l->n] = d->vid;
        d->l->n++;
        d->has_key = false;
        d->vid = NULL;
    }
    return 0;
}

int s3__delete_xml_or_reply(struct http_req *r, struct s3__delete_list *l)
{
    struct delete_parse d = { r, l, SL_STR_NULL, NULL, false };

    l->keys = arena_alloc(&r->arena, S3__DELETE_MAX * sizeof *l->keys);
    l->vids = arena_alloc(&r->arena, S3__DELETE_MAX * sizeof *l->vids);
    l->n = 0;
    l->quiet = false;
    if (s3__xml_parse_or_reply(r, "Delete", delete_xml_cb, &d) < 0) {
        return -1;
    }
    if (l->n == 0) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    return 0;
}

/* A key the request names that cannot be deleted before looking (too long, empty, a bad
 * version id): its Error code, or NULL. */
static const char *key_error(const struct s3__delete_list *l, size_t i)
{
    bool is_null;
    unsigned char vsk[16];
    if (l->keys[i].len == 0) {
        return "InvalidArgument";
    }
    if (l->keys[i].len > S3_KEY_MAX) {
        return "KeyTooLongError";
    }
    if (l->vids[i] && s3__vid_parse(l->vids[i], &is_null, vsk) != 0) {
        return "NoSuchVersion";
    }
    return NULL;
}

static int multi_apply(struct store_op *op, MDB_txn *txn)
{
    struct multi_state *m = (struct multi_state *)op;
    unsigned vstate;

    m->unlink.n = 0;
    if (!s3__bucket_exists(m->s3, txn, m->bucket, NULL)) {
        return S3_ENOBUCKET;
    }
    vstate = s3__versioning(m->s3, txn, m->bucket);
    for (size_t i = 0; i < m->list.n; i++) {
        int rc;
        memset(&m->res[i], 0, sizeof m->res[i]);
        if (key_error(&m->list, i)) {
            continue;
        }
        rc = s3__delete_one(m->s3, txn, m->bucket, vstate, m->list.keys[i], m->list.vids[i],
                            m->bypass, &m->unlink, &m->res[i], m->r->auth.access_key);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static void multi_done(struct store_op *op, int rc)
{
    struct multi_state *m = (struct multi_state *)op;
    m->committed = rc == 0;
    if (rc == 0) {
        s3__events_kick(m->s3);
    }
    http_req_resume(m->r);
}

static void multi_cleanup(void *arg)
{
    struct multi_state *m = arg;
    if (m->committed) {
        /* The same key twice in one request names one body once: removing it again finds
         * it gone, which is no error. */
        s3__ids_unlink(m->s3, &m->unlink);
    }
    free(m->unlink.ids);
    m->unlink.ids = NULL;
}

static const char *const key_messages[][2] = {
    { "InvalidArgument", "Invalid key" },
    { "KeyTooLongError", "Your key is too long" },
    { "NoSuchVersion", "The specified version does not exist." },
};

static int multi_cont(struct http_req *r)
{
    struct multi_state *m = r->op_ctx;
    struct buf b;

    if (m->base.rc == S3_ENOBUCKET) {
        return s3__no_such_bucket_or_reply(r, m->bucket);
    }
    if (m->base.rc != 0) {
        return s3__internal_or_reply(r, "DeleteObjects", m->base.rc);
    }
    buf_init(&b, 16u * 1024 * 1024);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<DeleteResult xmlns=\"" S3__XMLNS "\">");
    for (size_t i = 0; i < m->list.n; i++) {
        const struct s3__del_result *res = &m->res[i];
        const char *code = key_error(&m->list, i), *msg = NULL;
        const char *vid = m->list.vids[i];
        if (code) {
            for (size_t j = 0; j < sizeof key_messages / sizeof key_messages[0]; j++) {
                msg = strcmp(key_messages[j][0], code) == 0 ? key_messages[j][1] : msg;
            }
        }
        else if (res->rc == S3__ELOCKED) {
            code = "AccessDenied";
            msg = "Access Denied because object protected by object lock.";
        }
        if (code) {
            buf_puts(&b, "<Error>");
            s3__xml_elem(&b, "Key", m->list.keys[i]);
            if (vid) {
                s3__xml_elem(&b, "VersionId", sl_str_c(vid));
            }
            buf_printf(&b, "<Code>%s</Code><Message>%s</Message></Error>", code, msg);
            continue;
        }
        if (m->list.quiet) {
            continue;
        }
        buf_puts(&b, "<Deleted>");
        s3__xml_elem(&b, "Key", m->list.keys[i]);
        if (vid) {
            s3__xml_elem(&b, "VersionId", sl_str_c(vid));
        }
        if (res->marker) {
            buf_puts(&b, "<DeleteMarker>true</DeleteMarker>");
            if (!vid) {
                buf_printf(&b, "<DeleteMarkerVersionId>%s</DeleteMarkerVersionId>", res->vid);
            }
        }
        buf_puts(&b, "</Deleted>");
    }
    if (buf_puts(&b, "</DeleteResult>") < 0) {
        buf_release(&b);
        return s3__internal_or_reply(r, "DeleteObjects", -E2BIG);
    }
    return s3__reply_xml(r, 200, &b);
}

int s3_delete_objects(struct http_req *r)
{
    struct s3__target *t = s3__target_of(r);
    const char *md5 = http_req_header(r, "content-md5");
    struct multi_state *m;

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    if (md5) {
        unsigned char want[17], got[16];
        unsigned int n = 0;
        if (s3__base64_decode(sl_str_c(md5), want, sizeof want) != 16) {
            return http_req_fail(r, AWSERR_S3_INVALID_DIGEST, NULL);
        }
        if (EVP_Digest(r->body.p ? r->body.p : "", r->body.len, got, &n, s3__of(r)->md5,
                       NULL) != 1 ||
            memcmp(want, got, 16) != 0) {
            return http_req_fail(r, AWSERR_S3_BAD_DIGEST, NULL);
        }
    }
    m = arena_new(&r->arena, struct multi_state);
    m->s3 = s3__of(r);
    m->r = r;
    m->bucket = t->bucket;
    if (s3__delete_xml_or_reply(r, &m->list) < 0) {
        return -1;
    }
    m->res = arena_zalloc(&r->arena, m->list.n * sizeof *m->res);
    m->bypass = bypass_of(r);
    m->base.apply = multi_apply;
    m->base.done = multi_done;
    arena_on_clear(&r->arena, multi_cleanup, m);
    r->op_ctx = m;
    return s3__submit_or_reply(r, &m->base, multi_cont);
}
