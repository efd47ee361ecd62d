/*
 * copy.c: server-side copies: CopyObject (metadata directive COPY or REPLACE, a copy onto
 * itself to change metadata) and UploadPartCopy (a byte range of an object as a part), with
 * the x-amz-copy-source-if-* conditions.
 *
 * What it is not: the put machinery (object.c) or multipart bookkeeping (multipart.c).
 *
 * A copy: the handler opens the source body in a snapshot (the file stays readable even if
 * the source is overwritten meanwhile: bodies are never rewritten) and copies what the new
 * record needs into the arena; a job thread copies the bytes into a new body file (MD5
 * computed on the way, so the copy's ETag is its bytes' MD5, as S3 gives a copied multipart
 * object) and seals it; then the record commits through the writer like a PutObject's. A
 * copy of at most S3__INLINE_MAX bytes into an unencrypted destination is done on the HTTP
 * thread into an inline body (docs/formats.md, "S3 inline bodies").
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3/s3_int.h"

#define COPY_MAX (5ull * 1024 * 1024 * 1024)   /* S3's limit on a CopyObject source */

struct copy_state {
    struct s3__put put;         /* first (E1) */
    struct s3__copy_src src;
    uint64_t off, len;          /* the source range copied */
    int work_rc;
};

static void close_fd(void *p)
{
    int *fd = p;
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Checks one x-amz-copy-source-if-* family against the source. Returns 0 or -1. */
static int copy_conditions_or_reply(struct http_req *r, const struct s3__copy_src *src)
{
    const char *im = http_req_header(r, "x-amz-copy-source-if-match");
    const char *inm = http_req_header(r, "x-amz-copy-source-if-none-match");
    const char *ims = http_req_header(r, "x-amz-copy-source-if-modified-since");
    const char *ius = http_req_header(r, "x-amz-copy-source-if-unmodified-since");
    int64_t mtime = (int64_t)(src->obj.mtime_ms / 1000), t;
    const char *failed = NULL;

    /* S3's rules: If-Match true wins over If-Unmodified-Since false, and If-None-Match
     * false over If-Modified-Since true; every failure is 412. */
    if (im) {
        if (!s3__etag_matches(im, src->etag)) {
            failed = "x-amz-copy-source-If-Match";
        }
    }
    else if (ius && s3__http_date_parse(ius, &t) == 0 && mtime > t) {
        failed = "x-amz-copy-source-If-Unmodified-Since";
    }
    if (!failed && inm) {
        if (s3__etag_matches(inm, src->etag)) {
            failed = "x-amz-copy-source-If-None-Match";
        }
    }
    else if (!failed && ims && s3__http_date_parse(ims, &t) == 0 && mtime <= t) {
        failed = "x-amz-copy-source-If-Modified-Since";
    }
    if (failed) {
        http_req_fail(r, AWSERR_S3_PRECONDITION_FAILED, NULL);
        http_req_fail_field(r, "Condition", failed);
        return -1;
    }
    return 0;
}

int s3__copy_src_open_or_reply(struct http_req *r, struct s3__copy_src *src)
{
    struct s3 *s3 = s3__of(r);
    const char *h = http_req_header(r, "x-amz-copy-source");
    size_t hl = strlen(h);
    char *dec = arena_alloc(&r->arena, hl + 1);
    long dl;
    char *slash, *q;
    MDB_txn *txn = NULL;
    int rc;

    src->fd = -1;
    /* "bucket/key" or "/bucket/key", URL-encoded, perhaps "?versionId=..." (the only
     * version of an object in an unversioned bucket is "null"). */
    q = strstr(h, "?versionId=");
    dl = sl_uri_decode((struct sl_str){ h, q ? (size_t)(q - h) : hl }, dec);
    if (dl < 0) {
        dl = 0;
    }
    dec[dl] = '\0';
    src->vid = q ? q + 11 : NULL;
    if (dec[0] == '/') {
        dec++;
        dl--;
    }
    slash = strchr(dec, '/');
    if (!slash || slash == dec || !slash[1]) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                      "Copy Source must mention the source bucket and key: "
                      "sourcebucket/sourcekey");
        http_req_fail_field(r, "ArgumentName", "x-amz-copy-source");
        http_req_fail_field(r, "ArgumentValue", h);
        return -1;
    }
    *slash = '\0';
    src->bucket = dec;
    src->key = (struct sl_str){ slash + 1, (size_t)(dec + dl - slash - 1) };
    if (!s3__bucket_name_valid(src->bucket, strlen(src->bucket))) {
        return s3__no_such_bucket_or_reply(r, src->bucket);
    }
    if (src->key.len > S3_KEY_MAX) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    rc = s3__object_open(s3, src->bucket, src->key, src->vid, &txn, &src->obj, &src->fd,
                         NULL);
    if (rc == S3__EMARKER) {
        store_read_end(s3->st, txn);
        if (src->vid) {
            return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                                 "The source of a copy request may not specifically refer to "
                                 "a delete marker by version id.");
        }
        rc = S3_ENOKEY;
    }
    if (rc != 0) {
        return s3__version_fail_or_reply(r, src->bucket, src->key, src->vid, rc,
                                         "copy source");
    }
    s3__obj_own(&r->arena, &src->obj);
    store_read_end(s3->st, txn);
    arena_on_clear(&r->arena, close_fd, &src->fd);
    s3__obj_etag(&src->obj, src->etag);
    if (s3__authorize_or_reply(r, src->bucket, src->key, "GetObject") < 0 ||
        s3__sse_headers_or_reply(r, &src->sse, true) < 0 ||
        s3__sse_open_check_or_reply(r, &src->obj, &src->sse) < 0) {
        return -1;
    }
    return copy_conditions_or_reply(r, src);
}

static int feed_sink(void *ctx, const char *data, size_t n)
{
    return s3__put_feed(ctx, data, n);
}

/* On the job thread: the source range into a new body file (decrypted first when the
 * source is encrypted; encrypted again as the destination asks). */
static void copy_work(struct http_req *r)
{
    struct copy_state *c = r->op_ctx;
    struct s3__put *p = &c->put;
    int rc = s3__put_begin(p, s3__of(r), p->bucket, p->key);

    if (rc == 0 && c->src.obj.sse_type) {
        int fd = dup(c->src.fd);
        struct s3__sse_reader *rd;
        if (fd < 0) {
            rc = -errno;
        }
        else {
            rd = s3__sse_reader_new(s3__of(r), fd, &c->src.obj, &c->src.sse);
            rc = s3__sse_copy(rd, c->off, c->len, feed_sink, p);
            s3__sse_reader_free(rd);
        }
    }
    else if (rc == 0) {
        rc = s3__put_copy_from(p, c->src.fd, c->off, c->len);
    }
    if (rc == 0) {
        rc = s3__put_seal(p);
    }
    c->work_rc = rc;
}

static int copy_committed(struct http_req *r)
{
    struct copy_state *c = r->op_ctx;
    struct s3__put *p = &c->put;
    char etag[S3__ETAG_MAX], iso[25];
    const char *root = p->part_number ? "CopyPartResult" : "CopyObjectResult";
    struct buf b;

    if (p->base.rc != 0) {
        return s3__put_fail_or_reply(r, p, p->part_number ? "UploadPartCopy" : "CopyObject");
    }
    s3__obj_etag(&p->obj, etag);
    s3__time_iso(p->obj.mtime_ms, iso);
    if (c->src.obj.has_vsk) {
        char vid[33];
        s3__vid_str(&c->src.obj, vid);
        http_reply_header(r, "x-amz-copy-source-version-id", vid);
    }
    if (p->versioned) {
        s3__version_reply_headers(r, &p->obj, true);
    }
    s3__sse_reply_headers(r, p->obj.sse_type, p->obj.sse_md5);
    buf_init(&b, 4096);
    buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<%s xmlns=\"" S3__XMLNS "\">",
               root);
    buf_printf(&b, "<LastModified>%s</LastModified>", iso);
    s3__xml_elem(&b, "ETag", sl_str_c(etag));
    buf_printf(&b, "</%s>", root);
    return s3__reply_xml(r, 200, &b);
}

static int copy_written(struct http_req *r)
{
    struct copy_state *c = r->op_ctx;
    struct s3__put *p = &c->put;

    if (c->work_rc != 0) {
        return s3__internal_or_reply(r, p->part_number ? "UploadPartCopy" : "CopyObject",
                                     c->work_rc);
    }
    p->base.apply = s3__put_apply;
    p->base.done = s3__put_done;
    return s3__submit_or_reply(r, &p->base, copy_committed);
}

/* Common start of both copies: destination checks, the source. */
static struct copy_state *copy_begin_or_reply(struct http_req *r)
{
    struct s3__target *t = s3__target_of(r);
    struct copy_state *c = arena_new(&r->arena, struct copy_state);

    c->put.r = r;
    c->put.event = S3__EV_COPY;
    c->put.who = r->auth.access_key;
    c->put.s3 = s3__of(r);
    c->put.fd = -1;
    c->put.bucket = t->bucket;
    c->put.key = t->key;
    if (t->key.len > S3_KEY_MAX) {
        http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
        return NULL;
    }
    if (s3__copy_src_open_or_reply(r, &c->src) < 0) {
        return NULL;
    }
    arena_on_clear(&r->arena, s3__put_cleanup, &c->put);
    return c;
}

/* x-amz-tagging-directive: COPY (the source's tags, the default) or REPLACE (x-amz-tagging).
 * Returns 0 or -1 with InvalidArgument / the tag errors set. */
static int tagging_or_reply(struct http_req *r, struct copy_state *c)
{
    const char *dir = http_req_header(r, "x-amz-tagging-directive");

    if (!dir || strcmp(dir, "COPY") == 0) {
        c->put.obj.tags = c->src.obj.tags;
        return 0;
    }
    if (strcmp(dir, "REPLACE") != 0) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Unknown tagging directive.");
        http_req_fail_field(r, "ArgumentName", "x-amz-tagging-directive");
        http_req_fail_field(r, "ArgumentValue", dir);
        return -1;
    }
    return s3__tags_from_header_or_reply(r, &c->put.obj.tags);
}

int s3_copy_object(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    const char *dir = http_req_header(r, "x-amz-metadata-directive");
    bool replace = dir && strcmp(dir, "REPLACE") == 0, dflt;
    struct copy_state *c;
    MDB_txn *txn;
    int rc;

    if (dir && !replace && strcmp(dir, "COPY") != 0) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Unknown metadata directive.");
        http_req_fail_field(r, "ArgumentName", "x-amz-metadata-directive");
        http_req_fail_field(r, "ArgumentValue", dir);
        return -1;
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, "CopyObject", rc);
    }
    rc = s3__bucket_check_or_reply(r, txn, t->bucket);
    dflt = rc == 0 && s3__sse_bucket_default(s3, txn, t->bucket);
    store_read_end(s3->st, txn);
    if (rc < 0) {
        return -1;
    }
    c = copy_begin_or_reply(r);
    if (!c || s3__sse_headers_or_reply(r, &c->put.sse, false) < 0) {
        return -1;
    }
    if (!c->put.sse.type && dflt) {
        c->put.sse.type = S3__SSE_S3;
    }
    /* Onto itself without a change (copying an older version to the top is one). */
    if (!replace && !c->src.vid && strcmp(c->src.bucket, t->bucket) == 0 &&
        sl_str_eq(c->src.key, t->key)) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                             "This copy request is illegal because it is trying to copy an "
                             "object to itself without changing the object's metadata, storage "
                             "class, website redirect location or encryption attributes.");
    }
    if (c->src.obj.size > COPY_MAX) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                             "The specified copy source is larger than the maximum allowable "
                             "size for a copy source: 5368709120");
    }
    if (replace) {
        if (s3__fields_from_request_or_reply(r, &c->put.obj) < 0) {
            return -1;
        }
    }
    else {
        c->put.obj.n_fields = c->src.obj.n_fields;
        memcpy(c->put.obj.fields, c->src.obj.fields,
               c->src.obj.n_fields * sizeof c->src.obj.fields[0]);
    }
    if (tagging_or_reply(r, c) < 0 || s3__lock_headers_or_reply(r, &c->put.obj) < 0) {
        return -1;
    }
    /* The copy keeps the source's checksum algorithm unless the request names another. */
    c->put.ck_algo = c->src.obj.ck.algo;
    if (http_req_header(r, "x-amz-checksum-algorithm")) {
        c->put.ck_algo = s3__ck_algo_parse(http_req_header(r, "x-amz-checksum-algorithm"));
        if (!c->put.ck_algo) {
            return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                                 "Checksum algorithm provided is unsupported. Please try again "
                                 "with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, "
                                 "SHA256]");
        }
    }
    c->off = 0;
    c->len = c->src.obj.size;
    r->op_ctx = c;
    if (c->len <= S3__INLINE_MAX && !c->put.sse.type) {
        /* A small copy is kept inline; reading at most S3__INLINE_MAX bytes of the source
         * is no work to hand to a thread of its own. */
        c->put.want_inline = true;
        c->put.inl_cap = (size_t)c->len;
        copy_work(r);
        return copy_written(r);
    }
    return s3__offload_or_reply(r, copy_work, copy_written);
}

int s3_upload_part_copy(struct http_req *r)
{
    const char *range = http_req_header(r, "x-amz-copy-source-range");
    struct copy_state *c;
    struct s3__upload_info up;
    unsigned char id[16];
    unsigned part;

    memset(&up, 0, sizeof up);
    if (s3__part_target_or_reply(r, id, &part, &up) < 0) {
        return -1;
    }
    c = copy_begin_or_reply(r);
    if (!c || s3__part_sse_or_reply(r, &up, &c->put.sse) < 0) {
        return -1;
    }
    memcpy(c->put.upload, id, 16);
    c->put.part_number = part;
    c->put.ck_algo = up.algo;
    c->off = 0;
    c->len = c->src.obj.size;
    if (range) {
        /* "bytes=first-last", both given, inside the source (S3's words for the rest). */
        unsigned long long a, b;
        char tail;
        if (sscanf(range, "bytes=%llu-%llu%c", &a, &b, &tail) != 2 || b < a ||
            b >= c->src.obj.size) {
            http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                          "Range specified is not valid for source object of size: %llu",
                          (unsigned long long)c->src.obj.size);
            http_req_fail_field(r, "ArgumentName", "x-amz-copy-source-range");
            http_req_fail_field(r, "ArgumentValue", range);
            return -1;
        }
        c->off = a;
        c->len = b - a + 1;
    }
    if (c->len > S3__PUT_MAX) {
        return http_req_fail(r, AWSERR_S3_ENTITY_TOO_LARGE, NULL);
    }
    r->op_ctx = c;
    return s3__offload_or_reply(r, copy_work, copy_written);
}
