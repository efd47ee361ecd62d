/*
 * bucket.c: S3 buckets: CreateBucket, HeadBucket, ListBuckets, DeleteBucket,
 * GetBucketLocation, the bucket naming rules, and s3_bucket_create() for other services.
 *
 * What it is not: objects (object.c), listings of objects (list.c).
 *
 * Invariants: only names that pass s3__bucket_name_valid() are ever stored, so a stored bucket
 * name never holds a 0 byte and object keys (bucket 0x00 key) cannot collide across buckets;
 * a bucket is deleted only inside the writer op that saw it empty, so a PutObject that commits
 * after it finds the bucket gone (its apply checks) instead of leaving an orphan.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "s3/s3_int.h"

/* ---- naming rules (S3 user guide, "General purpose bucket naming rules") ---- */

static bool looks_like_ipv4(const char *s, size_t n)
{
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            dots++;
        }
        else if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return dots == 3;
}

static bool starts(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && memcmp(s, p, pl) == 0;
}

static bool ends(const char *s, size_t n, const char *p)
{
    size_t pl = strlen(p);
    return n >= pl && memcmp(s + n - pl, p, pl) == 0;
}

bool s3__bucket_name_valid(const char *s, size_t n)
{
    if (n < 3 || n > S3_BUCKET_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && c != '.' && c != '-') {
            return false;
        }
        if ((i == 0 || i == n - 1) && !alnum) {
            return false;
        }
        /* Adjacent periods, and a period next to a hyphen (which the virtual-hosted style's
         * DNS names cannot hold), are refused as S3 refuses them. */
        if (i > 0 && c == '.' && (s[i - 1] == '.' || s[i - 1] == '-')) {
            return false;
        }
        if (i > 0 && c == '-' && s[i - 1] == '.') {
            return false;
        }
    }
    if (looks_like_ipv4(s, n)) {
        return false;
    }
    if (starts(s, n, "xn--") || starts(s, n, "sthree-") || starts(s, n, "amzn-s3-demo-") ||
        ends(s, n, "-s3alias") || ends(s, n, "--ol-s3") || ends(s, n, ".mrap") ||
        ends(s, n, "--x-s3")) {
        return false;
    }
    return true;
}

bool s3__bucket_exists(struct s3 *s3, MDB_txn *txn, const char *bucket, uint64_t *created_ms)
{
    MDB_val k = { strlen(bucket), (void *)bucket }, v;
    uint64_t ms;
    if (mdb_get(txn, s3->buckets, &k, &v) != 0) {
        return false;
    }
    if (created_ms) {
        *created_ms = s3__bucket_decode(v.mv_data, v.mv_size, &ms, NULL) == 0 ? ms : 0;
    }
    return true;
}

bool s3__bucket_owner(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str *owner)
{
    MDB_val k = { strlen(bucket), (void *)bucket }, v;
    uint64_t ms;
    if (mdb_get(txn, s3->buckets, &k, &v) != 0) {
        return false;
    }
    if (s3__bucket_decode(v.mv_data, v.mv_size, &ms, owner) != 0) {
        *owner = SL_STR_NULL;
    }
    return true;
}

int s3__bucket_check_or_reply(struct http_req *r, MDB_txn *txn, const char *bucket)
{
    struct s3 *s3 = s3__of(r);
    if (!s3__bucket_name_valid(bucket, strlen(bucket))) {
        http_req_fail(r, AWSERR_S3_INVALID_BUCKET_NAME, NULL);
        http_req_fail_field(r, "BucketName", bucket);
        return -1;
    }
    if (!s3__bucket_exists(s3, txn, bucket, NULL)) {
        return s3__no_such_bucket_or_reply(r, bucket);
    }
    return 0;
}

/* ---- configurations ---- */

static size_t cfg_key(const char *bucket, unsigned kind, unsigned char *out)
{
    size_t bl = strlen(bucket);
    memcpy(out, bucket, bl);
    out[bl] = 0;
    out[bl + 1] = (unsigned char)kind;
    return bl + 2;
}

int s3__cfg_get(struct s3 *s3, MDB_txn *txn, const char *bucket, unsigned kind,
                struct sl_str *out)
{
    unsigned char k[S3_BUCKET_NAME_MAX + 2];
    MDB_val key = { cfg_key(bucket, kind, k), k }, v;
    int rc = mdb_get(txn, s3->config, &key, &v);
    if (rc == 0) {
        *out = (struct sl_str){ v.mv_data, v.mv_size };
    }
    return rc;
}

struct cfg_op {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    unsigned kind;
    struct sl_str value;
    unsigned status;
    int (*check)(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str value);
    const char *state_msg;
};

static int cfg_apply(struct store_op *op, MDB_txn *txn)
{
    struct cfg_op *c = (struct cfg_op *)op;
    unsigned char k[S3_BUCKET_NAME_MAX + 2];
    MDB_val key = { cfg_key(c->bucket, c->kind, k), k };
    MDB_val v = { c->value.len, (void *)c->value.p };
    int rc;

    if (!s3__bucket_exists(c->s3, txn, c->bucket, NULL)) {
        return S3_ENOBUCKET;
    }
    if (c->check) {
        rc = c->check(c->s3, txn, c->bucket, c->value);
        if (rc != 0) {
            return rc;
        }
    }
    if (c->value.len) {
        return mdb_put(txn, c->s3->config, &key, &v, 0);
    }
    rc = mdb_del(txn, c->s3->config, &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static void cfg_done(struct store_op *op, int rc)
{
    (void)rc;
    http_req_resume(((struct cfg_op *)op)->r);
}

static int cfg_cont(struct http_req *r)
{
    struct cfg_op *c = r->op_ctx;
    if (c->base.rc == S3_ENOBUCKET) {
        return s3__no_such_bucket_or_reply(r, c->bucket);
    }
    if (c->base.rc == S3__ESTATE) {
        http_req_fail(r, AWSERR_S3_INVALID_BUCKET_STATE, "%s", c->state_msg);
        http_req_fail_field(r, "BucketName", c->bucket);
        return -1;
    }
    if (c->base.rc != 0) {
        return s3__internal_or_reply(r, "bucket configuration", c->base.rc);
    }
    return http_reply(r, c->status, NULL, NULL, 0);
}

int s3__cfg_put_or_reply(struct http_req *r, unsigned kind, struct sl_str value,
                         unsigned status)
{
    return s3__cfg_put_checked_or_reply(r, kind, value, status, NULL, NULL);
}

int s3__cfg_put_checked_or_reply(struct http_req *r, unsigned kind, struct sl_str value,
                                 unsigned status,
                                 int (*check)(struct s3 *s3, MDB_txn *txn, const char *bucket,
                                              struct sl_str value),
                                 const char *state_msg)
{
    struct s3__target *t = s3__target_of(r);
    struct cfg_op *c;

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    c = arena_new(&r->arena, struct cfg_op);
    c->base.apply = cfg_apply;
    c->base.done = cfg_done;
    c->s3 = s3__of(r);
    c->r = r;
    c->bucket = t->bucket;
    c->kind = kind;
    c->value = value;
    c->status = status;
    c->check = check;
    c->state_msg = state_msg;
    r->op_ctx = c;
    return s3__submit_or_reply(r, &c->base, cfg_cont);
}

int s3__cfg_reply_or_reply(struct http_req *r, unsigned kind, enum awserr missing,
                           const char *content_type, const char *what)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    struct sl_str v;
    MDB_txn *txn;
    int rc = store_read_begin(s3->st, &txn);

    if (rc != 0) {
        return s3__internal_or_reply(r, what, rc);
    }
    if (s3__bucket_check_or_reply(r, txn, t->bucket) < 0) {
        store_read_end(s3->st, txn);
        return -1;
    }
    rc = s3__cfg_get(s3, txn, t->bucket, kind, &v);
    if (rc == 0) {
        v.p = arena_strndup(&r->arena, v.p, v.len);
    }
    store_read_end(s3->st, txn);
    if (rc == MDB_NOTFOUND) {
        http_req_fail(r, missing, NULL);
        http_req_fail_field(r, "BucketName", t->bucket);
        return -1;
    }
    if (rc != 0) {
        return s3__internal_or_reply(r, what, rc);
    }
    return http_reply(r, 200, content_type, v.p, v.len);
}

int s3__cfg_drop_bucket(struct s3 *s3, MDB_txn *txn, const char *bucket)
{
    size_t bl = strlen(bucket);
    unsigned char pfx[S3_BUCKET_NAME_MAX + 1];
    MDB_val k = { bl + 1, pfx }, v;
    MDB_cursor *c;
    int rc;

    memcpy(pfx, bucket, bl);
    pfx[bl] = 0;
    rc = mdb_cursor_open(txn, s3->config, &c);
    if (rc != 0) {
        return rc;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != bl + 2 || memcmp(k.mv_data, pfx, bl + 1) != 0) {
            break;
        }
        rc = mdb_cursor_del(c, 0);
        if (rc != 0) {
            break;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- CreateBucket ---- */

struct create_op {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;         /* NULL for s3_bucket_create() */
    const char *bucket;
    bool lock;                  /* x-amz-bucket-object-lock-enabled: versioning and lock on */
    const char *owner;          /* the creator's access key id; NULL for s3_bucket_create() */
    unsigned char rec[600];
    size_t rec_len;
};

static int create_apply(struct store_op *op, MDB_txn *txn)
{
    struct create_op *c = (struct create_op *)op;
    MDB_val k = { strlen(c->bucket), (void *)c->bucket };
    MDB_val v = { c->rec_len, c->rec };
    MDB_stat ms;
    int rc;

    rc = mdb_stat(txn, c->s3->buckets, &ms);
    if (rc != 0) {
        return rc;
    }
    if (ms.ms_entries >= S3__MAX_BUCKETS) {
        return -EDQUOT;
    }
    rc = mdb_put(txn, c->s3->buckets, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        /* Another key's bucket: the name is taken. (k, v) now hold the existing record. */
        struct sl_str owner;
        uint64_t when;
        if (c->owner && c->owner[0] &&
            s3__bucket_decode(v.mv_data, v.mv_size, &when, &owner) == 0 && owner.len &&
            !sl_str_eq_c(owner, c->owner)) {
            return -EACCES;
        }
        return -EEXIST;
    }
    if (rc == 0 && c->lock) {
        static const unsigned char ver[1] = { S3__VER_ENABLED };
        static const unsigned char lock[6] = { 1, 0, 0, 0, 0, 0 };
        unsigned char ck[S3_BUCKET_NAME_MAX + 2];
        size_t n = cfg_key(c->bucket, S3__CFG_VERSIONING, ck);
        MDB_val kk = { n, ck }, vv = { 1, (void *)ver };
        rc = mdb_put(txn, c->s3->config, &kk, &vv, 0);
        if (rc == 0) {
            n = cfg_key(c->bucket, S3__CFG_LOCK, ck);
            kk = (MDB_val){ n, ck };
            vv = (MDB_val){ 6, (void *)lock };
            rc = mdb_put(txn, c->s3->config, &kk, &vv, 0);
        }
    }
    return rc;
}

static void resume_done(struct store_op *op, int rc)
{
    struct create_op *c = (struct create_op *)op;
    (void)rc;
    http_req_resume(c->r);
}

static int create_cont(struct http_req *r)
{
    struct create_op *c = r->op_ctx;
    switch (c->base.rc) {
    case 0:
        http_reply_header(r, "Location", arena_printf(&r->arena, "/%s", c->bucket));
        return http_reply(r, 200, NULL, NULL, 0);
    case -EEXIST:
        http_req_fail(r, AWSERR_S3_BUCKET_OWNED, NULL);
        http_req_fail_field(r, "BucketName", c->bucket);
        return -1;
    case -EDQUOT:
        return http_req_fail(r, AWSERR_S3_TOO_MANY_BUCKETS, NULL);
    case -EACCES:
        http_req_fail(r, AWSERR_S3_BUCKET_EXISTS, NULL);
        http_req_fail_field(r, "BucketName", c->bucket);
        return -1;
    default:
        return s3__internal_or_reply(r, "CreateBucket", c->base.rc);
    }
}

static int create_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    /* LocationConstraint is accepted and not checked: a local server has one region, and
     * clients pass the region they were configured with. */
    (void)ctx;
    (void)path;
    (void)text;
    return 0;
}

int s3_create_bucket(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    struct create_op *c;

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        http_req_fail(r, AWSERR_S3_INVALID_BUCKET_NAME, NULL);
        http_req_fail_field(r, "BucketName", t->bucket);
        return -1;
    }
    if (r->body.len > 0 &&
        s3__xml_parse_or_reply(r, "CreateBucketConfiguration", create_xml_cb, NULL) < 0) {
        return -1;
    }
    c = arena_new(&r->arena, struct create_op);
    c->base.apply = create_apply;
    c->base.done = resume_done;
    c->s3 = s3;
    c->r = r;
    c->bucket = t->bucket;
    c->lock = http_req_header(r, "x-amz-bucket-object-lock-enabled") &&
              strcasecmp(http_req_header(r, "x-amz-bucket-object-lock-enabled"), "true") == 0;
    c->owner = r->auth.access_key;
    c->rec_len = s3__bucket_encode(s3__now_ms(), s3->region, c->owner, c->rec, sizeof c->rec);
    r->op_ctx = c;
    return s3__submit_or_reply(r, &c->base, create_cont);
}

int s3_bucket_create(struct s3 *s3, const char *bucket)
{
    struct create_op c;

    if (!s3__bucket_name_valid(bucket, strlen(bucket))) {
        return -EINVAL;
    }
    memset(&c, 0, sizeof c);
    c.base.apply = create_apply;
    c.s3 = s3;
    c.bucket = bucket;
    c.rec_len = s3__bucket_encode(s3__now_ms(), s3->region, NULL, c.rec, sizeof c.rec);
    return store_submit_wait(s3->st, &c.base);
}

/* ---- HeadBucket, GetBucketLocation ---- */

int s3_head_bucket(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    MDB_txn *txn;
    int rc = store_read_begin(s3->st, &txn);

    if (rc != 0) {
        return s3__internal_or_reply(r, "HeadBucket", rc);
    }
    rc = s3__bucket_check_or_reply(r, txn, t->bucket);
    store_read_end(s3->st, txn);
    if (rc < 0) {
        return -1;
    }
    http_reply_header(r, "x-amz-bucket-region", s3->region);
    return http_reply(r, 200, NULL, NULL, 0);
}

int s3_get_bucket_location(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    MDB_txn *txn;
    const char *body;
    int rc = store_read_begin(s3->st, &txn);

    if (rc != 0) {
        return s3__internal_or_reply(r, "GetBucketLocation", rc);
    }
    rc = s3__bucket_check_or_reply(r, txn, t->bucket);
    store_read_end(s3->st, txn);
    if (rc < 0) {
        return -1;
    }
    /* us-east-1 is reported as an empty LocationConstraint, as S3 does. */
    body = arena_printf(&r->arena,
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<LocationConstraint xmlns=\"" S3__XMLNS "\">%s</LocationConstraint>",
                        strcmp(s3->region, "us-east-1") == 0 ? "" : s3->region);
    return http_reply(r, 200, "application/xml", body, strlen(body));
}

/* ---- ListBuckets ---- */

int s3_list_buckets(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    const char *max_s = http_req_query(r, "max-buckets");
    const char *token = http_req_query(r, "continuation-token");
    const char *prefix = http_req_query(r, "prefix");
    const char *region = http_req_query(r, "bucket-region");
    struct sl_str pfx = sl_str_c(prefix ? prefix : ""), after = SL_STR_NULL;
    enum s3__token_kind tk;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    struct buf b;
    long max = S3__MAX_BUCKETS, count = 0;
    bool truncated = false;
    struct sl_str last = SL_STR_NULL;
    int rc;

    if (max_s) {
        char *end;
        errno = 0;
        max = strtol(max_s, &end, 10);
        if (errno || end == max_s || *end || max < 1 || max > S3__MAX_BUCKETS) {
            http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                          "Argument max-buckets must be an integer between 1 and 10000");
            http_req_fail_field(r, "ArgumentName", "max-buckets");
            http_req_fail_field(r, "ArgumentValue", max_s);
            return -1;
        }
    }
    if (token && (s3__token_decode(&r->arena, token, &tk, &after) < 0 || tk != S3__AFTER_KEY)) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "The continuation token provided is "
                                                     "incorrect");
        http_req_fail_field(r, "ArgumentName", "continuation-token");
        return -1;
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, s3->buckets, &cur);
        if (rc != 0) {
            store_read_end(s3->st, txn);
        }
    }
    if (rc != 0) {
        return s3__internal_or_reply(r, "ListBuckets", rc);
    }
    /* At most S3__MAX_BUCKETS names of 63 bytes: 4 MiB is ample. */
    buf_init(&b, 4u * 1024 * 1024);
    buf_printf(&b,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<ListAllMyBucketsResult xmlns=\"" S3__XMLNS "\"><Owner><ID>%s</ID>"
               "<DisplayName>%s</DisplayName></Owner><Buckets>",
               s3->owner_id, s3->account);
    /* Start at the later of the prefix and the token's bucket; every bucket is in the
     * server's region, so a bucket-region filter keeps all or none. */
    {
        struct sl_str from = s3__key_cmp(after, pfx) > 0 ? after : pfx;
        k = (MDB_val){ from.len, (void *)from.p };
        rc = from.len ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)
                      : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    for (; rc == 0 && !(region && strcmp(region, s3->region) != 0);
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct sl_str name = { k.mv_data, k.mv_size }, owner = SL_STR_NULL;
        uint64_t ms = 0;
        char iso[25];
        if (after.len && sl_str_eq(name, after)) {
            continue;
        }
        if (name.len < pfx.len || (pfx.len && memcmp(name.p, pfx.p, pfx.len) != 0)) {
            break;
        }
        s3__bucket_decode(v.mv_data, v.mv_size, &ms, &owner);
        /* Each key lists its own buckets (and those nobody owns). */
        if (owner.len && !sl_str_eq_c(owner, r->auth.access_key)) {
            continue;
        }
        if (count == max) {
            truncated = true;
            break;
        }
        s3__time_iso(ms, iso);
        buf_puts(&b, "<Bucket>");
        s3__xml_elem(&b, "Name", name);
        buf_printf(&b, "<CreationDate>%s</CreationDate><BucketRegion>%s</BucketRegion>"
                       "</Bucket>", iso, s3->region);
        last = (struct sl_str){ arena_strndup(&r->arena, name.p, name.len), name.len };
        count++;
    }
    mdb_cursor_close(cur);
    store_read_end(s3->st, txn);
    buf_puts(&b, "</Buckets>");
    if (truncated) {
        s3__xml_elem(&b, "ContinuationToken",
                     sl_str_c(s3__token_encode(&r->arena, S3__AFTER_KEY, last)));
    }
    if (prefix) {
        s3__xml_elem(&b, "Prefix", pfx);
    }
    if (buf_puts(&b, "</ListAllMyBucketsResult>") < 0) {
        buf_release(&b);
        return s3__internal_or_reply(r, "ListBuckets", -E2BIG);
    }
    return s3__reply_xml(r, 200, &b);
}

/* ---- DeleteBucket ---- */

struct delete_op {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    struct s3__ids bodies;      /* parts of the uploads in progress, dropped with it */
    bool committed;
};

static int delete_apply(struct store_op *op, MDB_txn *txn)
{
    struct delete_op *c = (struct delete_op *)op;
    size_t bl = strlen(c->bucket);
    MDB_val k = { bl, (void *)c->bucket }, v;
    MDB_cursor *cur;
    unsigned char pfx[S3_BUCKET_NAME_MAX + 1];
    int rc;

    rc = mdb_get(txn, c->s3->buckets, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return -ENOENT;
    }
    if (rc != 0) {
        return rc;
    }
    memcpy(pfx, c->bucket, bl);
    pfx[bl] = 0;
    rc = mdb_cursor_open(txn, c->s3->objects, &cur);
    if (rc != 0) {
        return rc;
    }
    {
        MDB_val ok = { bl + 1, pfx }, ov;
        rc = mdb_cursor_get(cur, &ok, &ov, MDB_SET_RANGE);
        if (rc == 0 && ok.mv_size >= bl + 1 && memcmp(ok.mv_data, pfx, bl + 1) == 0) {
            rc = -ENOTEMPTY;
        }
        else if (rc == MDB_NOTFOUND || rc == 0) {
            rc = 0;
        }
    }
    mdb_cursor_close(cur);
    if (rc != 0) {
        return rc;
    }
    /* Uploads in progress do not keep a bucket alive: they go with it. */
    c->bodies.n = 0;
    rc = s3__uploads_drop_bucket(c->s3, txn, c->bucket, &c->bodies);
    if (rc == 0) {
        rc = s3__cfg_drop_bucket(c->s3, txn, c->bucket);
    }
    if (rc != 0) {
        return rc;
    }
    k = (MDB_val){ bl, (void *)c->bucket };
    return mdb_del(txn, c->s3->buckets, &k, NULL);
}

static void delete_done(struct store_op *op, int rc)
{
    struct delete_op *c = (struct delete_op *)op;
    c->committed = rc == 0;
    http_req_resume(c->r);
}

static void delete_cleanup(void *arg)
{
    struct delete_op *c = arg;
    if (c->committed) {
        s3__ids_unlink(c->s3, &c->bodies);
    }
    free(c->bodies.ids);
    c->bodies.ids = NULL;
}

static int delete_cont(struct http_req *r)
{
    struct delete_op *c = r->op_ctx;
    switch (c->base.rc) {
    case 0:
        return http_reply(r, 204, NULL, NULL, 0);
    case -ENOENT:
        return s3__no_such_bucket_or_reply(r, c->bucket);
    case -ENOTEMPTY:
        http_req_fail(r, AWSERR_S3_BUCKET_NOT_EMPTY, NULL);
        http_req_fail_field(r, "BucketName", c->bucket);
        return -1;
    default:
        return s3__internal_or_reply(r, "DeleteBucket", c->base.rc);
    }
}

int s3_delete_bucket(struct http_req *r)
{
    struct s3__target *t = s3__target_of(r);
    struct delete_op *c;

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    c = arena_new(&r->arena, struct delete_op);
    c->base.apply = delete_apply;
    c->base.done = delete_done;
    c->s3 = s3__of(r);
    c->r = r;
    c->bucket = t->bucket;
    arena_on_clear(&r->arena, delete_cleanup, c);
    r->op_ctx = c;
    return s3__submit_or_reply(r, &c->base, delete_cont);
}
