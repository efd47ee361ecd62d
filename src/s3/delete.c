/*
 * delete.c: DeleteObject and DeleteObjects (quiet mode, per-key results, one writer op for
 * the whole request), and the parser of the Delete request body.
 *
 * What it is not: the put machinery (object.c).
 *
 * A deleted object's body file is removed after the commit that dropped its record (never
 * before: a GET that opened it meanwhile keeps reading it); a crash in between leaves it
 * unreferenced for the start-up sweep.
 */
#include <errno.h>
#include <string.h>

#include "s3/s3_int.h"

/* ---- DeleteObject ---- */

struct delete_state {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    struct sl_str key;
    unsigned char lkey[S3__LMDB_KEY_MAX];
    size_t lkey_len;
    bool had_old;                   /* set by delete_apply on each run */
    bool committed;
    unsigned char old_body[16];
};

static int delete_apply(struct store_op *op, MDB_txn *txn)
{
    struct delete_state *d = (struct delete_state *)op;
    MDB_val k = { d->lkey_len, d->lkey }, v;
    struct s3__obj old;
    int rc;

    d->had_old = false;
    if (!s3__bucket_exists(d->s3, txn, d->bucket, NULL)) {
        return S3_ENOBUCKET;
    }
    rc = mdb_get(txn, d->s3->objects, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0; /* S3's DeleteObject succeeds on a missing key. */
    }
    if (rc != 0) {
        return rc;
    }
    if (s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, strlen(d->bucket), &old) ==
            0 &&
        !sl_str_eq(old.key, d->key)) {
        return 0; /* a long key's hash matched another key: ours is not there */
    }
    d->had_old = true;
    memcpy(d->old_body, old.body, 16);
    k = (MDB_val){ d->lkey_len, d->lkey };
    return mdb_del(txn, d->s3->objects, &k, NULL);
}

static void delete_done(struct store_op *op, int rc)
{
    struct delete_state *d = (struct delete_state *)op;
    d->committed = rc == 0;
    http_req_resume(d->r);
}

static void delete_cleanup(void *arg)
{
    struct delete_state *d = arg;
    if (d->committed && d->had_old) {
        s3__body_unlink(d->s3, d->old_body);
    }
}

static int delete_cont(struct http_req *r)
{
    struct delete_state *d = r->op_ctx;
    switch (d->base.rc) {
    case 0:
        return http_reply(r, 204, NULL, NULL, 0);
    case S3_ENOBUCKET:
        return s3__no_such_bucket_or_reply(r, d->bucket);
    default:
        return s3__internal_or_reply(r, "DeleteObject", d->base.rc);
    }
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
    d->base.apply = delete_apply;
    d->base.done = delete_done;
    d->s3 = s3__of(r);
    d->r = r;
    d->bucket = t->bucket;
    d->key = t->key;
    d->lkey_len = s3__objkey(t->bucket, t->key, d->lkey);
    arena_on_clear(&r->arena, delete_cleanup, d);
    r->op_ctx = d;
    return s3__submit_or_reply(r, &d->base, delete_cont);
}

/* ---- DeleteObjects ---- */

struct multi_key {
    struct sl_str key;          /* arena copy */
    unsigned char lkey[S3__LMDB_KEY_MAX];
    size_t lkey_len;
    bool had_old;               /* set by multi_apply on each run */
    unsigned char old_body[16];
};

struct multi_state {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    struct multi_key *keys;     /* arena, n entries */
    size_t n;
    bool quiet;
    bool committed;
};

struct delete_parse {
    struct http_req *r;
    struct s3__delete_list *l;
};

static int delete_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    struct delete_parse *d = ctx;
    if (strcmp(path, "Delete/Quiet") == 0) {
        d->l->quiet = sl_str_eq_c(text, "true");
    }
    else if (strcmp(path, "Delete/Object/Key") == 0) {
        if (d->l->n == S3__DELETE_MAX) {
            return -1; /* S3 answers more than 1000 keys with MalformedXML too */
        }
        d->l->keys[d->l->n++] =
            (struct sl_str){ arena_strndup(&d->r->arena, text.p, text.len), text.len };
    }
    return 0;
}

int s3__delete_xml_or_reply(struct http_req *r, struct s3__delete_list *l)
{
    struct delete_parse d = { r, l };

    l->keys = arena_alloc(&r->arena, S3__DELETE_MAX * sizeof *l->keys);
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

static int multi_apply(struct store_op *op, MDB_txn *txn)
{
    struct multi_state *m = (struct multi_state *)op;
    size_t bl = strlen(m->bucket);

    if (!s3__bucket_exists(m->s3, txn, m->bucket, NULL)) {
        return S3_ENOBUCKET;
    }
    for (size_t i = 0; i < m->n; i++) {
        struct multi_key *k = &m->keys[i];
        MDB_val key = { k->lkey_len, k->lkey }, v;
        struct s3__obj old;
        int rc;
        k->had_old = false;
        if (!k->lkey_len) {
            continue;
        }
        rc = mdb_get(txn, m->s3->objects, &key, &v);
        if (rc == MDB_NOTFOUND) {
            continue;
        }
        if (rc != 0) {
            return rc;
        }
        if (s3__obj_decode(v.mv_data, v.mv_size, key.mv_data, key.mv_size, bl, &old) != 0 ||
            !sl_str_eq(old.key, k->key)) {
            continue;
        }
        k->had_old = true;
        memcpy(k->old_body, old.body, 16);
        key = (MDB_val){ k->lkey_len, k->lkey };
        rc = mdb_del(txn, m->s3->objects, &key, NULL);
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
    http_req_resume(m->r);
}

static void multi_cleanup(void *arg)
{
    struct multi_state *m = arg;
    for (size_t i = 0; m->committed && i < m->n; i++) {
        /* The same key twice in one request deletes (and names) one body once. */
        if (m->keys[i].had_old) {
            bool dup = false;
            for (size_t j = 0; j < i && !dup; j++) {
                dup = m->keys[j].had_old &&
                      memcmp(m->keys[j].old_body, m->keys[i].old_body, 16) == 0;
            }
            if (!dup) {
                s3__body_unlink(m->s3, m->keys[i].old_body);
            }
        }
    }
}

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
    for (size_t i = 0; i < m->n; i++) {
        const struct multi_key *k = &m->keys[i];
        if (!k->lkey_len) {
            buf_puts(&b, "<Error>");
            s3__xml_elem(&b, "Key", k->key);
            buf_puts(&b, k->key.len ? "<Code>KeyTooLongError</Code><Message>Your key is too "
                                      "long</Message></Error>"
                                    : "<Code>InvalidArgument</Code><Message>Invalid key"
                                      "</Message></Error>");
            continue;
        }
        if (!m->quiet) {
            buf_puts(&b, "<Deleted>");
            s3__xml_elem(&b, "Key", k->key);
            buf_puts(&b, "</Deleted>");
        }
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
    struct s3__delete_list list;
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
    if (s3__delete_xml_or_reply(r, &list) < 0) {
        return -1;
    }
    m->keys = arena_alloc(&r->arena, list.n * sizeof *m->keys);
    m->n = list.n;
    for (size_t i = 0; i < list.n; i++) {
        struct multi_key *k = &m->keys[i];
        k->key = list.keys[i];
        if (k->key.len >= 1 && k->key.len <= S3_KEY_MAX) {
            k->lkey_len = s3__objkey(m->bucket, k->key, k->lkey);
        }
    }
    m->quiet = list.quiet;
    m->base.apply = multi_apply;
    m->base.done = multi_done;
    arena_on_clear(&r->arena, multi_cleanup, m);
    r->op_ctx = m;
    return s3__submit_or_reply(r, &m->base, multi_cont);
}
