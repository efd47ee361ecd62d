/*
 * service.c: the S3 service: its operation table (R5), request routing (path-style and
 * virtual-hosted style), its databases and body directory, the start-up sweep of unreferenced
 * body files, and the helpers every handler shares.
 *
 * What it is not: any operation's logic (bucket.c, object.c, list.c).
 *
 * Routing. S3 is registered last and claims every request no other service claimed. The
 * bucket comes from the Host header when it reads <bucket>.localhost or
 * <bucket>.s3.localhost (any port): the virtual-hosted style of an endpoint on localhost.
 * Otherwise (an IP address, plain localhost, any other name) the request is path-style,
 * /<bucket>/<key>. The key is everything after the bucket's slash, percent-decoded once, kept
 * as bytes: "a//b/../c" is a key, never a path. A query parameter naming an S3 subresource
 * sluice does not serve (?acl, ?tagging, ?uploads, ...) is answered NotImplemented rather than
 * mistaken for the plain operation.
 *
 * Invariants: a request reaches a handler with r->op_ctx pointing at its struct s3__target.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/log.h"
#include "core/sigv4.h"
#include "s3/s3_int.h"

/* The operation table (R5): name, handler, flags. Every operation enters through dispatch(),
 * which checks the caller may do it (policy.c) before the handler runs. */
#define S3_OPS(X) \
    X("AbortMultipartUpload", s3_abort_multipart_upload, HTTP_OP_WRITE)                        \
    X("CompleteMultipartUpload", s3_complete_multipart_upload, HTTP_OP_WRITE)                  \
    X("CopyObject", s3_copy_object, HTTP_OP_WRITE)                                             \
    X("CreateBucket", s3_create_bucket, HTTP_OP_WRITE)                                         \
    X("CreateMultipartUpload", s3_create_multipart_upload, HTTP_OP_WRITE)                      \
    X("DeleteBucket", s3_delete_bucket, HTTP_OP_WRITE)                                         \
    X("DeleteBucketCors", s3_delete_bucket_cors, HTTP_OP_WRITE)                                \
    X("DeleteBucketEncryption", s3_delete_bucket_encryption, HTTP_OP_WRITE)                    \
    X("DeleteBucketLifecycle", s3_delete_bucket_lifecycle, HTTP_OP_WRITE)                      \
    X("DeleteBucketPolicy", s3_delete_bucket_policy, HTTP_OP_WRITE)                            \
    X("DeleteObject", s3_delete_object, HTTP_OP_WRITE)                                         \
    X("DeleteObjectTagging", s3_delete_object_tagging, HTTP_OP_WRITE)                          \
    X("DeleteObjects", s3_delete_objects, HTTP_OP_WRITE)                                       \
    X("GetBucketCors", s3_get_bucket_cors, 0)                                                  \
    X("GetBucketEncryption", s3_get_bucket_encryption, 0)                                      \
    X("GetBucketLifecycleConfiguration", s3_get_bucket_lifecycle, 0)                           \
    X("GetBucketLocation", s3_get_bucket_location, 0)                                          \
    X("GetBucketNotificationConfiguration", s3_get_bucket_notification, 0)                     \
    X("GetBucketPolicy", s3_get_bucket_policy, 0)                                              \
    X("GetBucketVersioning", s3_get_bucket_versioning, 0)                                      \
    X("GetObject", s3_get_object, 0)                                                           \
    X("GetObjectAttributes", s3_get_object_attributes, 0)                                      \
    X("GetObjectLegalHold", s3_get_object_legal_hold, 0)                                       \
    X("GetObjectLockConfiguration", s3_get_object_lock_configuration, 0)                       \
    X("GetObjectRetention", s3_get_object_retention, 0)                                        \
    X("GetObjectTagging", s3_get_object_tagging, 0)                                            \
    X("HeadBucket", s3_head_bucket, 0)                                                         \
    X("HeadObject", s3_head_object, 0)                                                         \
    X("ListBuckets", s3_list_buckets, 0)                                                       \
    X("ListMultipartUploads", s3_list_multipart_uploads, 0)                                    \
    X("ListObjectVersions", s3_list_object_versions, 0)                                        \
    X("ListObjects", s3_list_objects, 0)                                                       \
    X("ListObjectsV2", s3_list_objects_v2, 0)                                                  \
    X("ListParts", s3_list_parts, 0)                                                           \
    X("OptionsObject", s3_options_object, HTTP_OP_NOAUTH)                                      \
    X("PostObject", s3_post_object, HTTP_OP_WRITE | HTTP_OP_STREAM | HTTP_OP_NOAUTH)           \
    X("PutBucketCors", s3_put_bucket_cors, HTTP_OP_WRITE)                                      \
    X("PutBucketEncryption", s3_put_bucket_encryption, HTTP_OP_WRITE)                          \
    X("PutBucketLifecycleConfiguration", s3_put_bucket_lifecycle, HTTP_OP_WRITE)               \
    X("PutBucketNotificationConfiguration", s3_put_bucket_notification, HTTP_OP_WRITE)         \
    X("PutBucketPolicy", s3_put_bucket_policy, HTTP_OP_WRITE)                                  \
    X("PutBucketVersioning", s3_put_bucket_versioning, HTTP_OP_WRITE)                          \
    X("PutObject", s3_put_object, HTTP_OP_WRITE | HTTP_OP_STREAM)                              \
    X("PutObjectLegalHold", s3_put_object_legal_hold, HTTP_OP_WRITE)                           \
    X("PutObjectLockConfiguration", s3_put_object_lock_configuration, HTTP_OP_WRITE)           \
    X("PutObjectRetention", s3_put_object_retention, HTTP_OP_WRITE)                            \
    X("PutObjectTagging", s3_put_object_tagging, HTTP_OP_WRITE)                                \
    X("UploadPart", s3_upload_part, HTTP_OP_WRITE | HTTP_OP_STREAM)                            \
    X("UploadPartCopy", s3_upload_part_copy, HTTP_OP_WRITE)

static int dispatch(struct http_req *r);

#define S3_AS_OP(name, handler, flags) { name, dispatch, flags },
#define S3_AS_HANDLER(name, handler, flags) handler,
static const struct http_op s3_ops[] = { S3_OPS(S3_AS_OP) };
static int (*const s3_handlers[])(struct http_req *r) = { S3_OPS(S3_AS_HANDLER) };

static int dispatch(struct http_req *r)
{
    struct s3__target *t = s3__target_of(r);

    /* Unsigned operations (a preflight, a browser POST whose policy is checked later) have
     * no caller yet. */
    if (!(r->op->flags & HTTP_OP_NOAUTH) &&
        s3__authorize_or_reply(r, t->bucket, t->key, r->op->name) < 0) {
        return -1;
    }
    return s3_handlers[r->op_index](r);
}

/* Subresources of S3's API that select operations sluice does not serve. */
static const char *const unserved[] = {
    "accelerate", "acl", "analytics",
    "intelligent-tiering", "inventory", "logging", "metrics",
    "ownershipControls", "policyStatus", "publicAccessBlock",
    "replication", "requestPayment", "restore", "select", "torrent", "website",
};

static const struct http_op *op_named(const char *name)
{
    for (size_t i = 0; i < sizeof s3_ops / sizeof s3_ops[0]; i++) {
        if (strcmp(s3_ops[i].name, name) == 0) {
            return &s3_ops[i];
        }
    }
    return NULL;
}

static bool claims(const struct http_req *r)
{
    (void)r;
    return true;
}

/* The bucket named by a virtual-hosted style Host header, or NULL (arena). */
static const char *vhost_bucket(struct http_req *r)
{
    const char *host = http_req_header(r, "host");
    size_t n;
    const char *colon;

    if (!host || host[0] == '[') {
        return NULL;
    }
    colon = strchr(host, ':');
    n = colon ? (size_t)(colon - host) : strlen(host);
    if (n <= 10 || strncasecmp(host + n - 10, ".localhost", 10) != 0) {
        return NULL;
    }
    n -= 10;
    if (n > 3 && strncasecmp(host + n - 3, ".s3", 3) == 0) {
        n -= 3;
    }
    if (n == 2 && strncasecmp(host, "s3", 2) == 0) {
        return NULL;
    }
    return arena_strndup(&r->arena, host, n);
}

static bool has_query(const struct http_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_query; i++) {
        if (sl_str_eq_c(r->query[i].name, name)) {
            return true;
        }
    }
    return false;
}

static const struct http_op *route_fail(struct http_req *r, const char *what)
{
    http_req_fail(r, AWSERR_S3_NOT_IMPLEMENTED_OP, "%s is not implemented by sluice", what);
    return NULL;
}

static const struct http_op *route(struct http_req *r)
{
    struct s3__target *t = arena_new(&r->arena, struct s3__target);
    const char *vb = vhost_bucket(r);
    const char *p = r->path;
    size_t plen = r->path_len;
    bool get = sl_str_eq_c(r->method, "GET");
    bool head = sl_str_eq_c(r->method, "HEAD");
    bool put = sl_str_eq_c(r->method, "PUT");
    bool del = sl_str_eq_c(r->method, "DELETE");
    bool post = sl_str_eq_c(r->method, "POST");

    r->op_ctx = t;
    if (plen > 0 && p[0] == '/') {
        p++;
        plen--;
    }
    if (vb) {
        t->bucket = vb;
        t->vhost = true;
        t->key = (struct sl_str){ p, plen };
    }
    else {
        const char *slash = memchr(p, '/', plen);
        size_t bl = slash ? (size_t)(slash - p) : plen;
        t->bucket = arena_strndup(&r->arena, p, bl);
        t->key = slash ? (struct sl_str){ slash + 1, plen - bl - 1 } : SL_STR_NULL;
    }
    if (post && t->key.len == 0 && t->bucket[0] && has_query(r, "delete")) {
        return op_named("DeleteObjects");
    }
    if (sl_str_eq_c(r->method, "OPTIONS") && t->bucket[0]) {
        return op_named("OptionsObject");
    }
    if (t->bucket[0]) {
        s3__cors_headers(r, t->bucket);
    }
    for (size_t i = 0; i < sizeof unserved / sizeof unserved[0]; i++) {
        if (has_query(r, unserved[i])) {
            return route_fail(r, arena_printf(&r->arena, "The ?%s subresource", unserved[i]));
        }
    }
    if (!t->bucket[0]) {
        if (get) {
            return op_named("ListBuckets");
        }
        goto not_allowed;
    }
    if (t->key.len == 0 && has_query(r, "tagging")) {
        return route_fail(r, "The bucket ?tagging subresource");
    }
    if (t->key.len == 0) {
        /* A bucket's subresources first: PUT ?cors is no CreateBucket. */
        if (has_query(r, "versioning") && (get || put)) {
            return op_named(get ? "GetBucketVersioning" : "PutBucketVersioning");
        }
        if (has_query(r, "object-lock") && (get || put)) {
            return op_named(get ? "GetObjectLockConfiguration" : "PutObjectLockConfiguration");
        }
        if (has_query(r, "lifecycle") && (get || put || del)) {
            return op_named(get   ? "GetBucketLifecycleConfiguration"
                            : put ? "PutBucketLifecycleConfiguration"
                                  : "DeleteBucketLifecycle");
        }
        if (has_query(r, "policy") && (get || put || del)) {
            return op_named(get   ? "GetBucketPolicy"
                            : put ? "PutBucketPolicy"
                                  : "DeleteBucketPolicy");
        }
        if (has_query(r, "notification") && (get || put)) {
            return op_named(get ? "GetBucketNotificationConfiguration"
                                : "PutBucketNotificationConfiguration");
        }
        if (has_query(r, "encryption") && (get || put || del)) {
            return op_named(get   ? "GetBucketEncryption"
                            : put ? "PutBucketEncryption"
                                  : "DeleteBucketEncryption");
        }
        if (has_query(r, "versioning") || has_query(r, "object-lock") ||
            has_query(r, "lifecycle") || has_query(r, "encryption") ||
            has_query(r, "notification") || has_query(r, "policy")) {
            goto not_allowed;
        }
        if (has_query(r, "cors")) {
            if (get || put || del) {
                return op_named(get ? "GetBucketCors" : put ? "PutBucketCors"
                                                           : "DeleteBucketCors");
            }
            goto not_allowed;
        }
        if (put) {
            return op_named("CreateBucket");
        }
        if (head) {
            return op_named("HeadBucket");
        }
        if (del) {
            return op_named("DeleteBucket");
        }
        if (get && has_query(r, "location")) {
            return op_named("GetBucketLocation");
        }
        if (get && has_query(r, "uploads")) {
            return op_named("ListMultipartUploads");
        }
        if (get && has_query(r, "versions")) {
            return op_named("ListObjectVersions");
        }
        if (post && r->n_query == 0) {
            return op_named("PostObject");
        }
        if (get) {
            const char *lt = http_req_query(r, "list-type");
            return op_named(lt && strcmp(lt, "2") == 0 ? "ListObjectsV2" : "ListObjects");
        }
        goto not_allowed;
    }
    if (has_query(r, "uploadId")) {
        if (put) {
            return op_named(http_req_header(r, "x-amz-copy-source") ? "UploadPartCopy"
                                                                     : "UploadPart");
        }
        if (post) {
            return op_named("CompleteMultipartUpload");
        }
        if (get) {
            return op_named("ListParts");
        }
        if (del) {
            return op_named("AbortMultipartUpload");
        }
        goto not_allowed;
    }
    if (post && has_query(r, "uploads")) {
        return op_named("CreateMultipartUpload");
    }
    if (has_query(r, "tagging")) {
        if (get) {
            return op_named("GetObjectTagging");
        }
        if (put) {
            return op_named("PutObjectTagging");
        }
        if (del) {
            return op_named("DeleteObjectTagging");
        }
        goto not_allowed;
    }
    if (get && has_query(r, "attributes")) {
        return op_named("GetObjectAttributes");
    }
    if (has_query(r, "retention") && (get || put)) {
        return op_named(get ? "GetObjectRetention" : "PutObjectRetention");
    }
    if (has_query(r, "legal-hold") && (get || put)) {
        return op_named(get ? "GetObjectLegalHold" : "PutObjectLegalHold");
    }
    if (put) {
        return op_named(http_req_header(r, "x-amz-copy-source") ? "CopyObject" : "PutObject");
    }
    if (get) {
        return op_named("GetObject");
    }
    if (head) {
        return op_named("HeadObject");
    }
    if (del) {
        return op_named("DeleteObject");
    }
not_allowed:
    http_req_fail(r, AWSERR_S3_METHOD_NOT_ALLOWED, NULL);
    http_req_fail_field(r, "Method", arena_strndup(&r->arena, r->method.p, r->method.len));
    http_req_fail_field(r, "ResourceType", t->key.len ? "OBJECT" : "BUCKET");
    return NULL;
}

/* ---- helpers for handlers ---- */

int s3__submit_or_reply(struct http_req *r, struct store_op *op, int (*cont)(struct http_req *))
{
    http_req_pending(r, cont);
    if (store_submit(s3__of(r)->st, op) < 0) {
        /* Shutting down: nothing was queued, so nothing will resume the request. */
        r->state = HTTP_REQ_READY;
        return http_req_fail(r, AWSERR_S3_SERVICE_UNAVAILABLE, NULL);
    }
    return 0;
}

struct job {
    struct s3 *s3;
    struct http_req *r;
    void (*work)(struct http_req *r);
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    struct s3 *s3 = j->s3;

    j->work(j->r);
    /* Resumed before the count drops, so that s3_shutdown() returns only once every
     * offloaded request has been handed back to the front door. */
    http_req_resume(j->r);
    free(j);
    pthread_mutex_lock(&s3->jobs_lock);
    s3->jobs--;
    pthread_cond_broadcast(&s3->jobs_cond);
    pthread_mutex_unlock(&s3->jobs_lock);
    return NULL;
}

int s3__offload_or_reply(struct http_req *r, void (*work)(struct http_req *r),
                         int (*cont)(struct http_req *r))
{
    struct s3 *s3 = s3__of(r);
    struct job *j;
    pthread_attr_t attr;
    pthread_t tid;
    int rc;

    pthread_mutex_lock(&s3->jobs_lock);
    if (s3->stopping || s3->jobs >= S3__JOBS_MAX) {
        bool stopping = s3->stopping;
        pthread_mutex_unlock(&s3->jobs_lock);
        return http_req_fail(r, stopping ? AWSERR_S3_SERVICE_UNAVAILABLE : AWSERR_S3_SLOW_DOWN,
                             NULL);
    }
    s3->jobs++;
    pthread_mutex_unlock(&s3->jobs_lock);
    j = xmalloc(sizeof *j);
    j->s3 = s3;
    j->r = r;
    j->work = work;
    http_req_pending(r, cont);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&tid, &attr, job_main, j);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        free(j);
        r->state = HTTP_REQ_READY;
        pthread_mutex_lock(&s3->jobs_lock);
        s3->jobs--;
        pthread_cond_broadcast(&s3->jobs_cond);
        pthread_mutex_unlock(&s3->jobs_lock);
        return http_req_fail(r, AWSERR_S3_SLOW_DOWN, NULL);
    }
    return 0;
}

void s3_shutdown(struct s3 *s3)
{
    if (!s3) {
        return;
    }
    s3__lifecycle_stop(s3);
    pthread_mutex_lock(&s3->jobs_lock);
    s3->stopping = true;
    while (s3->jobs > 0) {
        pthread_cond_wait(&s3->jobs_cond, &s3->jobs_lock);
    }
    pthread_mutex_unlock(&s3->jobs_lock);
    /* Every queued put is made durable and handed to the writer (or failed) before this
     * returns; puts that arrive later sync on their HTTP thread. */
    s3__sync_stop(s3);
}

int s3__no_such_bucket_or_reply(struct http_req *r, const char *bucket)
{
    http_req_fail(r, AWSERR_S3_NO_SUCH_BUCKET, NULL);
    http_req_fail_field(r, "BucketName", bucket);
    return -1;
}

int s3__internal_or_reply(struct http_req *r, const char *what, int rc)
{
    log_error("s3", "%s: %s: %s", r->request_id, what, s3_strerror(rc));
    return http_req_fail(r, AWSERR_S3_INTERNAL, NULL);
}

static void free_cb(void *p)
{
    free(p);
}

int s3__reply_xml(struct http_req *r, unsigned status, struct buf *b)
{
    size_t len;
    char *text = buf_detach(b, &len);
    if (text) {
        arena_on_clear(&r->arena, free_cb, text);
    }
    return http_reply(r, status, "application/xml", text ? text : "", text ? len : 0);
}

const char *s3_strerror(int rc)
{
    switch (rc) {
    case S3_ENOBUCKET:
        return "no such bucket";
    case S3_ENOKEY:
        return "no such key";
    case S3_EKEY:
        return "key empty or longer than 1024 bytes";
    case S3_ESTOP:
        return "stopped";
    case S3__EPRECOND:
        return "precondition failed";
    case S3__ENOUPLOAD:
        return "no such upload";
    case S3__ECHANGED:
        return "a part changed";
    default:
        return store_strerror(rc);
    }
}

/* ---- start-up ---- */

static int id_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 16);
}

static bool parse_id(const char *name, unsigned char id[16])
{
    for (size_t i = 0; i < 32; i++) {
        char c = name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    if (name[32] != '\0') {
        return false;
    }
    for (size_t i = 0; i < 16; i++) {
        unsigned hi = (unsigned)(name[2 * i] <= '9' ? name[2 * i] - '0' : name[2 * i] - 'a' + 10);
        unsigned lo = (unsigned)(name[2 * i + 1] <= '9' ? name[2 * i + 1] - '0'
                                                         : name[2 * i + 1] - 'a' + 10);
        id[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

/* The file a clean shutdown leaves in objects/: its presence at start says no put was cut
 * off, so the sweep, which reads every object record, is not needed. */
#define CLEAN_MARK ".clean"

int s3__objdir_unmark_sync(struct s3 *s3)
{
    int rc = 0;

    if (!atomic_load(&s3->unmark_pending)) {
        return 0;
    }
    pthread_mutex_lock(&s3->unmark_lock);
    if (atomic_load(&s3->unmark_pending)) {
        if (fsync(s3->objdir_fd) == 0) {
            atomic_store(&s3->unmark_pending, false);
        }
        else {
            rc = -errno;
            log_error("s3", "cannot sync %s: %s", s3->objdir, strerror(errno));
        }
    }
    pthread_mutex_unlock(&s3->unmark_lock);
    return rc;
}

/* Removes every file of objects/ that no committed record references: temporary files of
 * puts a crash interrupted, bodies renamed but never committed, bodies whose removal after
 * an overwrite or delete did not happen. Runs before the front door starts, so no put is in
 * flight, and only after a start that found no CLEAN_MARK (a crash, a kill, a first start):
 * its cost grows with the number of objects. */
static int sweep(struct s3 *s3)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    unsigned char *ids = NULL;
    size_t n = 0, cap = 0, removed = 0;
    DIR *d;
    struct dirent *e;
    int rc, dfd;

    rc = store_read_begin(s3->st, &txn);
    for (int db = 0; db < 3 && rc == 0; db++) {
        rc = mdb_cursor_open(txn, db == 0 ? s3->objects : db == 1 ? s3->parts : s3->versions,
                             &cur);
        for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            /* The body id sits at a fixed offset of every object, version and part record
             * (formats.md); a delete marker has none. */
            if (v.mv_size < 52 || (((const unsigned char *)v.mv_data)[1] & (4 | 16))) {
                continue; /* a delete marker, or an inline body (no file) */
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                ids = xrealloc(ids, cap * 16);
            }
            memcpy(ids + n * 16, (const unsigned char *)v.mv_data + 34, 16);
            n++;
        }
        if (cur) {
            mdb_cursor_close(cur);
            cur = NULL;
        }
        if (rc == MDB_NOTFOUND) {
            rc = 0;
        }
    }
    if (txn) {
        store_read_end(s3->st, txn);
    }
    if (rc != 0) {
        free(ids);
        return rc;
    }
    if (n) {
        qsort(ids, n, 16, id_cmp);
    }
    dfd = dup(s3->objdir_fd);
    d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        rc = -errno;
        if (dfd >= 0) {
            close(dfd);
        }
        free(ids);
        return rc;
    }
    while ((e = readdir(d)) != NULL) {
        unsigned char id[16];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (parse_id(e->d_name, id) && n && bsearch(id, ids, n, 16, id_cmp)) {
            continue;
        }
        if (unlinkat(s3->objdir_fd, e->d_name, 0) == 0) {
            removed++;
        }
        else {
            log_warn("s3", "sweep: cannot remove objects/%s: %s", e->d_name, strerror(errno));
        }
    }
    closedir(d);
    free(ids);
    if (removed) {
        log_info("s3", "removed %zu unreferenced file%s from %s", removed,
                 removed == 1 ? "" : "s", s3->objdir);
        fsync(s3->objdir_fd);
    }
    return 0;
}

void s3_metrics(void *ctx, struct buf *b)
{
    struct s3 *s3 = ctx;
    MDB_txn *txn;
    MDB_stat ms;

    if (store_read_begin(s3->st, &txn) != 0) {
        return;
    }
    if (mdb_stat(txn, s3->bodies, &ms) == 0) {
        buf_printf(b, "# HELP sluice_s3_inline_bodies Object bodies kept in the store, not "
                      "as files.\n# TYPE sluice_s3_inline_bodies gauge\n"
                      "sluice_s3_inline_bodies %llu\n", (unsigned long long)ms.ms_entries);
    }
    store_read_end(s3->st, txn);
}

int s3_new(struct store *st, const char *data_dir, const char *region, const char *account,
           struct s3 **out, struct http_service **svc)
{
    struct s3 *s3 = xcalloc(1, sizeof *s3);
    struct store_dbi_req dbis[] = {
        { .name = "s3.buckets", .dbi = &s3->buckets },
        { .name = "s3.objects", .dbi = &s3->objects },
        { .name = "s3.uploads", .dbi = &s3->uploads },
        { .name = "s3.parts", .dbi = &s3->parts },
        { .name = "s3.config", .dbi = &s3->config },
        { .name = "s3.versions", .dbi = &s3->versions },
        { .name = "s3.events", .dbi = &s3->events },
        { .name = "s3.bodies", .dbi = &s3->bodies },
    };
    char seed[64];
    int rc;

    s3->st = st;
    s3->objdir_fd = -1;
    pthread_mutex_init(&s3->unmark_lock, NULL);
    pthread_mutex_init(&s3->sse_key_lock, NULL);
    pthread_mutex_init(&s3->jobs_lock, NULL);
    pthread_cond_init(&s3->jobs_cond, NULL);
    pthread_cond_init(&s3->lc_cond, NULL);
    s3__sync_init(s3);
    snprintf(s3->region, sizeof s3->region, "%s", region);
    snprintf(s3->account, sizeof s3->account, "%s", account);
    snprintf(seed, sizeof seed, "sluice-owner:%s", s3->account);
    sigv4_sha256_hex(seed, strlen(seed), s3->owner_id);
    s3->objdir = xmalloc(strlen(data_dir) + sizeof "/objects");
    memcpy(s3->objdir, data_dir, strlen(data_dir));
    memcpy(s3->objdir + strlen(data_dir), "/objects", sizeof "/objects");
    s3->md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    s3->aes_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    if (!s3->md5 || !s3->aes_gcm) {
        log_error("s3", "OpenSSL has no MD5 or AES-256-GCM");
        rc = -ENOSYS;
        goto fail;
    }
    rc = s3__sse_init(s3, data_dir);
    if (rc != 0) {
        log_error("s3", "cannot load or create the encryption key of %s: %s", data_dir,
                  strerror(-rc));
        goto fail;
    }
    rc = store_dbi_open_many(st, dbis, sizeof dbis / sizeof dbis[0]);
    if (rc == 0) {
        rc = s3__events_init(s3);
    }
    if (rc != 0) {
        goto fail;
    }
    if (mkdir(s3->objdir, 0700) != 0 && errno != EEXIST) {
        rc = -errno;
        log_error("s3", "cannot create %s: %s", s3->objdir, strerror(errno));
        goto fail;
    }
    s3->objdir_fd = open(s3->objdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s3->objdir_fd < 0) {
        rc = -errno;
        log_error("s3", "cannot open %s: %s", s3->objdir, strerror(errno));
        goto fail;
    }
    if (unlinkat(s3->objdir_fd, CLEAN_MARK, 0) == 0) {
        /* Durably gone before objects/ first changes (s3__objdir_unmark_sync()), not here:
         * an fsync of the directory here made every start wait for the disk (0.5 ms idle,
         * tens of ms with other writers) before the server could listen. */
        atomic_store(&s3->unmark_pending, true);
        rc = 0;
    }
    else {
        rc = sweep(s3);
    }
    if (rc != 0) {
        log_error("s3", "sweep of %s failed: %s", s3->objdir, s3_strerror(rc));
        goto fail;
    }
    s3->svc.name = "s3";
    s3->svc.proto = HTTP_PROTO_REST_XML;
    s3->svc.signing_name = "s3";
    s3->svc.ops = s3_ops;
    s3->svc.n_ops = sizeof s3_ops / sizeof s3_ops[0];
    s3->svc.claims = claims;
    s3->svc.route = route;
    s3->svc.max_body = S3__MAX_BODY;
    s3->svc.ctx = s3;
    s3->opened = true;
    *out = s3;
    *svc = &s3->svc;
    return 0;
fail:
    s3_free(s3);
    return rc;
}

void s3_free(struct s3 *s3)
{
    if (!s3) {
        return;
    }
    s3_shutdown(s3);
    if (s3->opened && s3->objdir_fd >= 0) {
        /* Every user of the C API and the front door have stopped: nothing is half put. */
        int fd = openat(s3->objdir_fd, CLEAN_MARK, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                         0600);
        if (fd >= 0) {
            close(fd);
            fsync(s3->objdir_fd);
        }
    }
    pthread_mutex_destroy(&s3->jobs_lock);
    pthread_mutex_destroy(&s3->unmark_lock);
    pthread_mutex_destroy(&s3->sse_key_lock);
    pthread_cond_destroy(&s3->jobs_cond);
    pthread_cond_destroy(&s3->lc_cond);
    s3__sync_release(s3);
    if (s3->objdir_fd >= 0) {
        close(s3->objdir_fd);
    }
    EVP_MD_free(s3->md5);
    EVP_CIPHER_free(s3->aes_gcm);
    OPENSSL_cleanse(s3->sse_key, sizeof s3->sse_key);
    free(s3->data_dir);
    free(s3->objdir);
    free(s3);
}
