/*
 * multipart.c: S3 multipart uploads: CreateMultipartUpload, UploadPart (the body streams
 * through object.c's put), CompleteMultipartUpload, AbortMultipartUpload, ListParts,
 * ListMultipartUploads, and the helpers that drop an upload with its parts.
 *
 * What it is not: UploadPartCopy (copy.c), the streaming of a part's bytes (object.c).
 *
 * An upload's life:
 *
 *   CreateMultipartUpload --record in s3.uploads--> OPEN
 *   OPEN --UploadPart n (body file, part record in s3.parts; a part n again replaces it)--> OPEN
 *   OPEN --CompleteMultipartUpload: parts checked, concatenated on a job thread into a new
 *          body file (copy_file_range: the kernel copies, nothing passes through memory),
 *          fsynced, renamed; one writer op checks the parts did not change, writes the
 *          object and drops the upload and every part--> gone (object visible)
 *   OPEN --AbortMultipartUpload (or DeleteBucket)--> gone
 *
 * Part bodies are removed after the commit that dropped their records; a crash in between
 * leaves them unreferenced and the start-up sweep removes them.
 *
 * Upload ids are 16 bytes: the initiation time (big-endian milliseconds) and 8 random bytes,
 * shown as 32 hex digits. The upload's LMDB key is the object key's (s3__objkey) followed by
 * the id, so ListMultipartUploads is a range scan in key order, and uploads of one key come
 * in initiation order, as S3 lists them (docs/formats.md, "S3 multipart uploads").
 */
#define _GNU_SOURCE /* copy_file_range */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "s3/s3_int.h"

#define UPLOAD_KEY_MAX (S3__LMDB_KEY_MAX + 16)
#define LIST_XML_MAX (8u * 1024 * 1024)

/* ---- keys, ids, lists ---- */

size_t s3__partkey(const unsigned char upload[16], unsigned n, unsigned char out[18])
{
    memcpy(out, upload, 16);
    out[16] = (unsigned char)(n >> 8);
    out[17] = (unsigned char)n;
    return 18;
}

static size_t upload_lkey(const char *bucket, struct sl_str key, const unsigned char id[16],
                          unsigned char *out)
{
    size_t n = s3__objkey(bucket, key, out);
    memcpy(out + n, id, 16);
    return n + 16;
}

char *s3__upload_id_str(struct arena *a, const unsigned char upload[16])
{
    char *s = arena_alloc(a, 33);
    sl_hex(upload, 16, s);
    return s;
}

static bool upload_id_parse(const char *s, unsigned char out[16])
{
    if (!s || strlen(s) != 32) {
        return false;
    }
    for (size_t i = 0; i < 16; i++) {
        int hi = sl_hex_digit(s[2 * i]), lo = sl_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

void s3__ids_add(struct s3__ids *l, const unsigned char id[16])
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ids = xrealloc(l->ids, l->cap * 16);
    }
    memcpy(l->ids + 16 * l->n++, id, 16);
}

void s3__ids_unlink(struct s3 *s3, struct s3__ids *l)
{
    for (size_t i = 0; i < l->n; i++) {
        s3__body_unlink(s3, l->ids + 16 * i);
    }
    free(l->ids);
    memset(l, 0, sizeof *l);
}

/* Reads the upload record of (bucket, key, id) in txn into *o (borrowing from the map).
 * Returns 0, S3__ENOUPLOAD or an LMDB code. */
static int upload_get(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                      const unsigned char id[16], struct s3__obj *o)
{
    unsigned char lk[UPLOAD_KEY_MAX];
    MDB_val k = { upload_lkey(bucket, key, id, lk), lk }, v;
    int rc = mdb_get(txn, s3->uploads, &k, &v);

    if (rc == MDB_NOTFOUND) {
        return S3__ENOUPLOAD;
    }
    if (rc != 0) {
        return rc;
    }
    if (s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, strlen(bucket), o) != 0 ||
        !sl_str_eq(o->key, key)) {
        return S3__ENOUPLOAD;
    }
    return 0;
}

bool s3__upload_exists(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                       const unsigned char upload[16])
{
    struct s3__obj o;
    return upload_get(s3, txn, bucket, key, upload, &o) == 0;
}

/* Deletes every part record of upload, collecting their bodies. */
static int parts_drop(struct s3 *s3, MDB_txn *txn, const unsigned char upload[16],
                      struct s3__ids *bodies)
{
    unsigned char pk[18];
    MDB_val k = { s3__partkey(upload, 0, pk), pk }, v;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s3->parts, &c);

    if (rc != 0) {
        return rc;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 18 || memcmp(k.mv_data, upload, 16) != 0) {
            break;
        }
        if (v.mv_size >= 52) {
            s3__ids_add(bodies, (const unsigned char *)v.mv_data + 34);
        }
        rc = mdb_cursor_del(c, 0);
        if (rc != 0) {
            break;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int s3__upload_drop(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                    const unsigned char upload[16], struct s3__ids *bodies)
{
    unsigned char lk[UPLOAD_KEY_MAX];
    MDB_val k = { upload_lkey(bucket, key, upload, lk), lk };
    int rc;

    if (!s3__upload_exists(s3, txn, bucket, key, upload)) {
        return S3__ENOUPLOAD;
    }
    rc = parts_drop(s3, txn, upload, bodies);
    if (rc == 0) {
        rc = mdb_del(txn, s3->uploads, &k, NULL);
    }
    return rc;
}

int s3__uploads_drop_bucket(struct s3 *s3, MDB_txn *txn, const char *bucket,
                            struct s3__ids *bodies)
{
    size_t bl = strlen(bucket);
    unsigned char pfx[S3_BUCKET_NAME_MAX + 1];
    MDB_val k = { bl + 1, pfx }, v;
    MDB_cursor *c;
    int rc;

    memcpy(pfx, bucket, bl);
    pfx[bl] = 0;
    rc = mdb_cursor_open(txn, s3->uploads, &c);
    if (rc != 0) {
        return rc;
    }
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        unsigned char id[16];
        if (k.mv_size < bl + 1 + 16 || memcmp(k.mv_data, pfx, bl + 1) != 0) {
            break;
        }
        memcpy(id, (const unsigned char *)k.mv_data + k.mv_size - 16, 16);
        rc = parts_drop(s3, txn, id, bodies);
        if (rc == 0) {
            rc = mdb_cursor_del(c, 0);
        }
        if (rc != 0) {
            break;
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Checks bucket and key of the request and parses ?uploadId. Returns 0 or -1 with
 * NoSuchBucket / KeyTooLongError / NoSuchUpload set. */
static int upload_target_or_reply(struct http_req *r, unsigned char id[16])
{
    struct s3__target *t = s3__target_of(r);
    const char *u = http_req_query(r, "uploadId");

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    if (t->key.len > S3_KEY_MAX) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    if (!upload_id_parse(u, id)) {
        http_req_fail(r, AWSERR_S3_NO_SUCH_UPLOAD, NULL);
        http_req_fail_field(r, "UploadId", u ? u : "");
        return -1;
    }
    return 0;
}

/* Looks the upload up in a fresh snapshot, for a refusal before any work is done: NoSuchBucket
 * when the bucket is gone, else NoSuchUpload. Returns 0 or -1. */
static int upload_check_or_reply(struct http_req *r, const char *bucket, struct sl_str key,
                                 const unsigned char id[16], struct s3__upload_info *info)
{
    struct s3 *s3 = s3__of(r);
    struct s3__obj o;
    MDB_txn *txn;
    int rc = store_read_begin(s3->st, &txn);

    if (rc != 0) {
        return s3__internal_or_reply(r, "multipart upload", rc);
    }
    if (upload_get(s3, txn, bucket, key, id, &o) == 0) {
        if (info) {
            info->algo = o.ck.algo;
            info->sse_type = o.sse_type;
            memcpy(info->sse_check, o.sse_check, 32);
            memcpy(info->sse_md5, o.sse_md5, 16);
        }
        store_read_end(s3->st, txn);
        return 0;
    }
    rc = s3__bucket_check_or_reply(r, txn, bucket);
    store_read_end(s3->st, txn);
    if (rc == 0) {
        http_req_fail(r, AWSERR_S3_NO_SUCH_UPLOAD, NULL);
        http_req_fail_field(r, "UploadId", s3__upload_id_str(&r->arena, id));
    }
    return -1;
}

int s3__part_sse_or_reply(struct http_req *r, const struct s3__upload_info *info,
                          struct s3__sse *out)
{
    if (s3__sse_headers_or_reply(r, out, false) < 0) {
        return -1;
    }
    if (info->sse_type == S3__SSE_C &&
        (out->type != S3__SSE_C || memcmp(out->ckey_check, info->sse_check, 32) != 0)) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                             "The provided encryption parameters did not match the ones used "
                             "originally.");
    }
    out->type = info->sse_type;
    return 0;
}

int s3__part_target_or_reply(struct http_req *r, unsigned char upload[16], unsigned *part,
                             struct s3__upload_info *info)
{
    const char *pn = http_req_query(r, "partNumber");
    char *end;
    long n;

    if (upload_target_or_reply(r, upload) < 0) {
        return -1;
    }
    errno = 0;
    n = pn ? strtol(pn, &end, 10) : 0;
    if (!pn || errno || end == pn || *end || n < 1 || n > S3__PARTS_MAX) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                      "Part number must be an integer between 1 and 10000, inclusive");
        http_req_fail_field(r, "ArgumentName", "partNumber");
        http_req_fail_field(r, "ArgumentValue", pn ? pn : "");
        return -1;
    }
    *part = (unsigned)n;
    return upload_check_or_reply(r, s3__target_of(r)->bucket, s3__target_of(r)->key, upload,
                                 info);
}

static void emit_owner(struct buf *b, const struct s3 *s3, const char *elem)
{
    buf_printf(b, "<%s><ID>%s</ID><DisplayName>%s</DisplayName></%s>", elem, s3->owner_id,
               s3->account, elem);
}

/* ---- CreateMultipartUpload ---- */

struct create_op {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    struct sl_str key;
    struct s3__checksum ck;     /* the upload's checksum algorithm and type (no value) */
    uint8_t sse_type;
    unsigned char sse_md5[16];
    unsigned char id[16];
    unsigned char lkey[UPLOAD_KEY_MAX];
    size_t lkey_len;
    unsigned char *rec;
    size_t rec_len;
};

static int create_apply(struct store_op *op, MDB_txn *txn)
{
    struct create_op *c = (struct create_op *)op;
    MDB_val k = { c->lkey_len, c->lkey }, v = { c->rec_len, c->rec };

    if (!s3__bucket_exists(c->s3, txn, c->bucket, NULL)) {
        return S3_ENOBUCKET;
    }
    return mdb_put(txn, c->s3->uploads, &k, &v, MDB_NOOVERWRITE);
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
    struct buf b;

    if (c->base.rc == S3_ENOBUCKET) {
        return s3__no_such_bucket_or_reply(r, c->bucket);
    }
    if (c->base.rc != 0) {
        return s3__internal_or_reply(r, "CreateMultipartUpload", c->base.rc);
    }
    buf_init(&b, 64 * 1024);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<InitiateMultipartUploadResult xmlns=\"" S3__XMLNS "\">");
    s3__xml_elem(&b, "Bucket", sl_str_c(c->bucket));
    s3__xml_elem(&b, "Key", c->key);
    s3__xml_elem(&b, "UploadId", sl_str_c(s3__upload_id_str(&r->arena, c->id)));
    buf_puts(&b, "</InitiateMultipartUploadResult>");
    s3__sse_reply_headers(r, c->sse_type, c->sse_md5);
    if (c->ck.algo) {
        http_reply_header(r, "x-amz-checksum-algorithm", s3__ck_name(c->ck.algo));
        http_reply_header(r, "x-amz-checksum-type",
                          c->ck.type == S3__CK_COMPOSITE ? "COMPOSITE" : "FULL_OBJECT");
    }
    return s3__reply_xml(r, 200, &b);
}

/* x-amz-checksum-algorithm and x-amz-checksum-type of CreateMultipartUpload. The type
 * defaults to COMPOSITE, FULL_OBJECT for CRC64NVME (the only type it has); SHA checksums
 * cannot be FULL_OBJECT (they do not combine). Returns 0 or -1 with InvalidRequest set. */
static int upload_checksum_or_reply(struct http_req *r, struct s3__checksum *ck)
{
    const char *a = http_req_header(r, "x-amz-checksum-algorithm");
    const char *t = http_req_header(r, "x-amz-checksum-type");

    memset(ck, 0, sizeof *ck);
    if (!a) {
        if (t) {
            return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                                 "The x-amz-checksum-type header can only be used with the "
                                 "x-amz-checksum-algorithm header.");
        }
        return 0;
    }
    ck->algo = (uint8_t)s3__ck_algo_parse(a);
    if (!ck->algo) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                             "Checksum algorithm provided is unsupported. Please try again with "
                             "any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]");
    }
    ck->type = ck->algo == S3__CK_CRC64NVME ? S3__CK_FULL_OBJECT : S3__CK_COMPOSITE;
    if (t && strcmp(t, "FULL_OBJECT") == 0) {
        ck->type = S3__CK_FULL_OBJECT;
    }
    else if (t && strcmp(t, "COMPOSITE") == 0) {
        ck->type = S3__CK_COMPOSITE;
    }
    else if (t) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST, "Value for x-amz-checksum-type "
                                                           "header is invalid.");
    }
    if ((ck->type == S3__CK_FULL_OBJECT && !s3__ck_is_crc(ck->algo)) ||
        (ck->type == S3__CK_COMPOSITE && ck->algo == S3__CK_CRC64NVME)) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                             "The %s checksum type cannot be used with the %s checksum "
                             "algorithm.", t ? t : "COMPOSITE", a);
    }
    return 0;
}

int s3_create_multipart_upload(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    struct create_op *c = arena_new(&r->arena, struct create_op);
    struct s3__obj *o = arena_new(&r->arena, struct s3__obj);
    uint64_t now = s3__now_ms();
    unsigned char rnd[16];
    MDB_txn *txn;
    int rc;

    if (t->key.len > S3_KEY_MAX) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, "CreateMultipartUpload", rc);
    }
    rc = s3__bucket_check_or_reply(r, txn, t->bucket);
    if (rc == 0) {
        struct s3__sse sse;
        rc = s3__sse_headers_or_reply(r, &sse, false);
        if (rc == 0 && !sse.type && s3__sse_bucket_default(s3, txn, t->bucket)) {
            sse.type = S3__SSE_S3;
        }
        o->sse_type = sse.type;
        memcpy(o->sse_check, sse.ckey_check, 32);
        memcpy(o->sse_md5, sse.ckey_md5, 16);
    }
    store_read_end(s3->st, txn);
    if (rc < 0 || s3__fields_from_request_or_reply(r, o) < 0 ||
        upload_checksum_or_reply(r, &c->ck) < 0 ||
        s3__tags_from_header_or_reply(r, &o->tags) < 0 ||
        s3__lock_headers_or_reply(r, o) < 0) {
        return -1;
    }
    o->ck = c->ck;
    c->sse_type = o->sse_type;
    memcpy(c->sse_md5, o->sse_md5, 16);
    for (int i = 0; i < 8; i++) {
        c->id[i] = (unsigned char)(now >> (56 - 8 * i));
    }
    s3__body_id_new(rnd);
    memcpy(c->id + 8, rnd, 8);
    o->key = t->key;
    o->key_in_record = true;
    o->mtime_ms = now;
    memcpy(o->body, c->id, 16);
    c->rec = s3__obj_encode(o, &c->rec_len);
    arena_on_clear(&r->arena, free, c->rec);
    c->lkey_len = upload_lkey(t->bucket, t->key, c->id, c->lkey);
    c->base.apply = create_apply;
    c->base.done = resume_done;
    c->s3 = s3;
    c->r = r;
    c->bucket = t->bucket;
    c->key = t->key;
    r->op_ctx = c;
    return s3__submit_or_reply(r, &c->base, create_cont);
}

/* ---- CompleteMultipartUpload ---- */

struct complete_state {
    struct s3__put put;         /* first (E1): the op is the put's */
    unsigned char id[16];
    struct s3__listed_part *parts;  /* arena (s3__complete_xml_or_reply) */
    size_t n;
    struct s3__checksum upload_ck;  /* the upload's algorithm and type */
    int work_rc;                /* the concatenation's result */
    struct s3__ids bodies;      /* every part body of the upload, set by pre_apply */
};

struct complete_parse {
    struct http_req *r;
    struct s3__listed_part *parts;  /* arena, S3__PARTS_MAX entries */
    size_t n;
    unsigned cur_number;        /* the <Part> being parsed */
    struct sl_str cur_etag;
    struct sl_str cur_ck;
    unsigned cur_ck_algo;
    bool cur_has_number;
};

static int complete_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    struct complete_parse *c = ctx;
    struct arena *a = &c->r->arena;

    if (strcmp(path, "CompleteMultipartUpload/Part/PartNumber") == 0) {
        char buf[16];
        char *end;
        long n;
        if (text.len == 0 || text.len >= sizeof buf) {
            return -1;
        }
        memcpy(buf, text.p, text.len);
        buf[text.len] = '\0';
        n = strtol(buf, &end, 10);
        if (*end || n < 1 || n > S3__PARTS_MAX) {
            return -1;
        }
        c->cur_number = (unsigned)n;
        c->cur_has_number = true;
    }
    else if (strcmp(path, "CompleteMultipartUpload/Part/ETag") == 0) {
        c->cur_etag = (struct sl_str){ arena_strndup(a, text.p, text.len), text.len };
    }
    else if (strncmp(path, "CompleteMultipartUpload/Part/Checksum", 37) == 0) {
        c->cur_ck_algo = s3__ck_algo_parse(path + 37);
        c->cur_ck = (struct sl_str){ arena_strndup(a, text.p, text.len), text.len };
    }
    else if (strcmp(path, "CompleteMultipartUpload/Part") == 0) {
        struct s3__listed_part *lp;
        if (!c->cur_has_number || c->n == S3__PARTS_MAX) {
            return -1;
        }
        lp = &c->parts[c->n++];
        memset(lp, 0, sizeof *lp);
        lp->number = c->cur_number;
        lp->etag = c->cur_etag;
        lp->ck = c->cur_ck;
        lp->ck_algo = c->cur_ck_algo;
        c->cur_has_number = false;
        c->cur_etag = SL_STR_NULL;
        c->cur_ck = SL_STR_NULL;
        c->cur_ck_algo = 0;
    }
    return 0;
}

int s3__complete_xml_or_reply(struct http_req *r, struct s3__listed_part **parts, size_t *n)
{
    struct complete_parse c;

    memset(&c, 0, sizeof c);
    c.r = r;
    c.parts = arena_alloc(&r->arena, S3__PARTS_MAX * sizeof *c.parts);
    if (s3__xml_parse_or_reply(r, "CompleteMultipartUpload", complete_xml_cb, &c) < 0) {
        return -1;
    }
    if (c.n == 0) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    *parts = c.parts;
    *n = c.n;
    return 0;
}

/* Does a listed ETag (quoted or not) name the MD5 md5? */
static bool etag_is(struct sl_str listed, const unsigned char md5[16])
{
    char hex[33];
    sl_hex(md5, 16, hex);
    if (listed.len >= 2 && listed.p[0] == '"' && listed.p[listed.len - 1] == '"') {
        listed.p++;
        listed.len -= 2;
    }
    return listed.len == 32 && strncasecmp(listed.p, hex, 32) == 0;
}

/* A listed part's checksum, when the upload has an algorithm: the part has one of it, and a
 * listed value (of any algorithm) is the stored one. */
static bool part_checksum_ok(const struct complete_state *c, const struct s3__listed_part *lp,
                             const struct s3__obj *po)
{
    unsigned char d[sizeof po->ck.value + 3];
    long n;

    if (c->upload_ck.algo && po->ck.algo != c->upload_ck.algo) {
        return false;
    }
    if (!lp->ck.len) {
        return true;
    }
    n = s3__base64_decode(lp->ck, d, sizeof d);
    return lp->ck_algo == po->ck.algo && n == (long)po->ck.len &&
           memcmp(d, po->ck.value, po->ck.len) == 0;
}

/* The checksum of the whole upload from its parts' (COMPOSITE: the checksum of their
 * concatenated values; FULL_OBJECT: the CRCs combined), and the parts' values for the
 * record. Returns 0 or -ENOMEM. */
static int complete_checksum(struct http_req *r, struct complete_state *c)
{
    struct s3__obj *o = &c->put.obj;
    size_t len = s3__ck_len(c->upload_ck.algo);
    unsigned char *cks = arena_alloc(&r->arena, c->n * len + 1);
    int rc = 0;

    for (size_t i = 0; i < c->n; i++) {
        memcpy(cks + i * len, c->parts[i].stored.value, len);
    }
    if (c->upload_ck.type == S3__CK_COMPOSITE) {
        rc = s3__ck_of(c->upload_ck.algo, cks, c->n * len, &o->ck);
    }
    else {
        o->ck = c->parts[0].stored;
        for (size_t i = 1; rc == 0 && i < c->n; i++) {
            rc = s3__ck_combine(&o->ck, &c->parts[i].stored, c->parts[i].size);
        }
    }
    o->ck.type = c->upload_ck.type;
    o->part_cks = cks;
    o->part_ck_len = (uint8_t)len;
    return rc;
}

/* Checks the listed parts against the stored ones in txn and fills sizes, MD5s and bodies.
 * Returns 0 or -1 with InvalidPartOrder / InvalidPart / EntityTooSmall set. */
static int complete_check_or_reply(struct http_req *r, struct complete_state *c, MDB_txn *txn)
{
    struct s3 *s3 = s3__of(r);

    for (size_t i = 1; i < c->n; i++) {
        if (c->parts[i].number <= c->parts[i - 1].number) {
            return http_req_fail(r, AWSERR_S3_INVALID_PART_ORDER, NULL);
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        struct s3__listed_part *lp = &c->parts[i];
        unsigned char pk[18];
        MDB_val k = { s3__partkey(c->id, lp->number, pk), pk }, v;
        struct s3__obj po;
        int rc = mdb_get(txn, s3->parts, &k, &v);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return s3__internal_or_reply(r, "CompleteMultipartUpload", rc);
        }
        if (rc != 0 || s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, 0, &po) != 0 ||
            !etag_is(lp->etag, po.md5) || !part_checksum_ok(c, lp, &po)) {
            http_req_fail(r, AWSERR_S3_INVALID_PART, NULL);
            http_req_fail_field(r, "UploadId", s3__upload_id_str(&r->arena, c->id));
            http_req_fail_field(r, "PartNumber", arena_printf(&r->arena, "%u", lp->number));
            /* A Part without an ETag element has a null slice: echo it empty. */
            http_req_fail_field(r, "ETag", lp->etag.p ? arena_strndup(&r->arena, lp->etag.p,
                                                                      lp->etag.len)
                                                      : "");
            return -1;
        }
        lp->size = po.size;
        memcpy(lp->md5, po.md5, 16);
        memcpy(lp->body, po.body, 16);
        lp->stored = po.ck;
    }
    for (size_t i = 0; i + 1 < c->n; i++) {
        if (c->parts[i].size < S3__PART_MIN) {
            http_req_fail(r, AWSERR_S3_ENTITY_TOO_SMALL, NULL);
            http_req_fail_field(r, "ProposedSize",
                                arena_printf(&r->arena, "%llu",
                                             (unsigned long long)c->parts[i].size));
            http_req_fail_field(r, "MinSizeAllowed", "5242880");
            http_req_fail_field(r, "PartNumber", arena_printf(&r->arena, "%u",
                                                              c->parts[i].number));
            return -1;
        }
    }
    return 0;
}

/* Appends n bytes of fd to p's file, in the kernel when it can (copy_file_range), through a
 * bounded buffer otherwise (another file system, an old kernel). */
static int append_file(struct s3__put *p, int fd, uint64_t n)
{
    loff_t off = 0;
    int rc = s3__put_flush(p);   /* a part fed through the buffer, before this one */

    if (rc != 0) {
        return rc;
    }
    while (n > 0) {
        size_t want = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t got = copy_file_range(fd, &off, p->fd, NULL, want, 0);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
                        errno == EOPNOTSUPP)) {
            return s3__put_copy_from(p, fd, (uint64_t)off, n);
        }
        if (got <= 0) {
            return got < 0 ? -errno : -EIO;
        }
        n -= (uint64_t)got;
        p->obj.size += (uint64_t)got;
    }
    return 0;
}

/* On the job thread: the parts, in the listed order, into one new body file. */
static void complete_work(struct http_req *r)
{
    struct complete_state *c = r->op_ctx;
    struct s3__put *p = &c->put;
    int rc = s3__put_begin(p, s3__of(r), p->bucket, p->key);

    uint64_t plain = 0;

    for (size_t i = 0; rc == 0 && i < c->n; i++) {
        char name[33];
        int fd;
        s3__body_name(c->parts[i].body, name);
        fd = openat(p->s3->objdir_fd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            /* Replaced by a new upload of that part meanwhile: the commit would refuse. */
            rc = errno == ENOENT ? S3__ECHANGED : -errno;
            break;
        }
        rc = append_file(p, fd, c->parts[i].size + (p->obj.sse_type ? s3__sse_overhead(
                                                                   c->parts[i].size) : 0));
        close(fd);
    }
    if (rc == 0 && p->obj.sse_type) {
        /* The file holds the parts' tags too: the object's size is the plain bytes. */
        for (size_t i = 0; i < c->n; i++) {
            plain += c->parts[i].size;
        }
        p->obj.size = plain;
    }
    if (rc == 0) {
        rc = s3__put_seal(p);
    }
    c->work_rc = rc;
}

/* In the writer op, before the object is written: the upload is still there, its listed
 * parts unchanged; then the upload and all its parts go. */
static int complete_pre_apply(struct s3__put *p, MDB_txn *txn)
{
    struct complete_state *c = (struct complete_state *)p;

    c->bodies.n = 0;
    if (!s3__upload_exists(p->s3, txn, p->bucket, p->key, c->id)) {
        return S3__ENOUPLOAD;
    }
    for (size_t i = 0; i < c->n; i++) {
        unsigned char pk[18];
        MDB_val k = { s3__partkey(c->id, c->parts[i].number, pk), pk }, v;
        int rc = mdb_get(txn, p->s3->parts, &k, &v);
        if (rc == MDB_NOTFOUND || (rc == 0 && (v.mv_size < 52 ||
                                               memcmp((const unsigned char *)v.mv_data + 34,
                                                      c->parts[i].body, 16) != 0))) {
            return S3__ECHANGED;
        }
        if (rc != 0) {
            return rc;
        }
    }
    return s3__upload_drop(p->s3, txn, p->bucket, p->key, c->id, &c->bodies);
}

static void complete_cleanup(struct s3__put *p)
{
    struct complete_state *c = (struct complete_state *)p;
    if (p->committed) {
        s3__ids_unlink(p->s3, &c->bodies);
    }
    free(c->bodies.ids);
    memset(&c->bodies, 0, sizeof c->bodies);
}

static int complete_fail_or_reply(struct http_req *r, struct complete_state *c, int rc)
{
    if (rc == S3__ECHANGED) {
        http_req_fail(r, AWSERR_S3_INVALID_PART, NULL);
        http_req_fail_field(r, "UploadId", s3__upload_id_str(&r->arena, c->id));
        return -1;
    }
    c->put.base.rc = rc;
    return s3__put_fail_or_reply(r, &c->put, "CompleteMultipartUpload");
}

static int complete_committed(struct http_req *r)
{
    struct complete_state *c = r->op_ctx;
    struct s3__put *p = &c->put;
    const char *host = http_req_header(r, "host");
    char etag[S3__ETAG_MAX];
    char *enc;
    struct buf b;

    if (p->base.rc != 0) {
        return complete_fail_or_reply(r, c, p->base.rc);
    }
    s3__obj_etag(&p->obj, etag);
    enc = arena_alloc(&r->arena, 3 * p->key.len + 1);
    sl_uri_encode(p->key, true, enc);
    if (p->versioned) {
        s3__version_reply_headers(r, &p->obj, true);
    }
    buf_init(&b, 64 * 1024);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<CompleteMultipartUploadResult xmlns=\"" S3__XMLNS "\">");
    s3__xml_elem(&b, "Location", sl_str_c(arena_printf(&r->arena, "http://%s/%s/%s",
                                                       host ? host : "localhost", p->bucket,
                                                       enc)));
    s3__xml_elem(&b, "Bucket", sl_str_c(p->bucket));
    s3__xml_elem(&b, "Key", p->key);
    s3__xml_elem(&b, "ETag", sl_str_c(etag));
    if (p->obj.ck.algo) {
        buf_printf(&b, "<Checksum%s>%s</Checksum%s><ChecksumType>%s</ChecksumType>",
                   s3__ck_name(p->obj.ck.algo), s3__ck_b64(&r->arena, &p->obj.ck, p->obj.n_parts),
                   s3__ck_name(p->obj.ck.algo),
                   p->obj.ck.type == S3__CK_COMPOSITE ? "COMPOSITE" : "FULL_OBJECT");
    }
    buf_puts(&b, "</CompleteMultipartUploadResult>");
    return s3__reply_xml(r, 200, &b);
}

static int complete_written(struct http_req *r)
{
    struct complete_state *c = r->op_ctx;
    struct s3__put *p = &c->put;

    if (c->work_rc != 0) {
        if (c->work_rc == S3__ECHANGED) {
            return complete_fail_or_reply(r, c, c->work_rc);
        }
        return s3__internal_or_reply(r, "CompleteMultipartUpload", c->work_rc);
    }
    p->base.apply = s3__put_apply;
    p->base.done = s3__put_done;
    p->pre_apply = complete_pre_apply;
    return s3__submit_or_reply(r, &p->base, complete_committed);
}

int s3_complete_multipart_upload(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    struct complete_state *c = arena_new(&r->arena, struct complete_state);
    struct s3__put *p = &c->put;
    struct s3__obj up;
    MDB_txn *txn;
    EVP_MD_CTX *md;
    unsigned int mdlen = 0;
    unsigned char *sizes;
    int rc;

    p->r = r;
    if (upload_target_or_reply(r, c->id) < 0) {
        return -1;
    }
    if (s3__complete_xml_or_reply(r, &c->parts, &c->n) < 0) {
        return -1;
    }
    p->cond.if_match = http_req_header(r, "if-match");
    p->cond.if_none_match = http_req_header(r, "if-none-match");
    if (p->cond.if_none_match && strcmp(p->cond.if_none_match, "*") != 0) {
        return http_req_fail(r, AWSERR_S3_NOT_IMPLEMENTED, NULL);
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, "CompleteMultipartUpload", rc);
    }
    rc = upload_get(s3, txn, t->bucket, t->key, c->id, &up);
    if (rc != 0) {
        store_read_end(s3->st, txn);
        if (rc == S3__ENOUPLOAD) {
            return upload_check_or_reply(r, t->bucket, t->key, c->id, NULL);
        }
        return s3__internal_or_reply(r, "CompleteMultipartUpload", rc);
    }
    /* The object gets the headers and tags given to CreateMultipartUpload. */
    s3__obj_own(&r->arena, &up);
    p->obj.n_fields = up.n_fields;
    memcpy(p->obj.fields, up.fields, up.n_fields * sizeof up.fields[0]);
    p->obj.tags = up.tags;
    p->obj.lock_mode = up.lock_mode;
    p->obj.retain_until_ms = up.retain_until_ms;
    p->obj.legal_hold = up.legal_hold;
    /* Encrypted parts are joined as they are: the record names each part's body (sse.c). */
    p->obj.sse_type = up.sse_type;
    memcpy(p->obj.sse_check, up.sse_check, 32);
    memcpy(p->obj.sse_md5, up.sse_md5, 16);
    c->upload_ck = up.ck;
    rc = complete_check_or_reply(r, c, txn);
    store_read_end(s3->st, txn);
    if (rc < 0) {
        return -1;
    }
    if (c->upload_ck.algo) {
        rc = complete_checksum(r, c);
        if (rc < 0) {
            return s3__internal_or_reply(r, "CompleteMultipartUpload", rc);
        }
        /* A FULL_OBJECT checksum the client computed over the whole object must agree. */
        if (s3__checksum_headers_or_reply(r, p) < 0) {
            return -1;
        }
        if (p->ck_expect && (p->ck_want.algo != p->obj.ck.algo ||
                             memcmp(p->ck_want.value, p->obj.ck.value, p->obj.ck.len) != 0)) {
            return http_req_fail(r, AWSERR_S3_BAD_DIGEST,
                                 "The %s you specified did not match the calculated checksum.",
                                 s3__ck_name(p->obj.ck.algo));
        }
        p->ck_algo = 0;
        p->ck_expect = false;
    }
    /* The ETag S3 gives a multipart object: the MD5 of the parts' binary MD5s, "-N". */
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, s3->md5, NULL) != 1) {
        EVP_MD_CTX_free(md);
        return s3__internal_or_reply(r, "CompleteMultipartUpload", -ENOMEM);
    }
    sizes = arena_alloc(&r->arena, c->n * 8);
    for (size_t i = 0; i < c->n; i++) {
        EVP_DigestUpdate(md, c->parts[i].md5, 16);
        for (int j = 0; j < 8; j++) {
            sizes[8 * i + (size_t)j] = (unsigned char)(c->parts[i].size >> (8 * j));
        }
    }
    EVP_DigestFinal_ex(md, p->obj.md5, &mdlen);
    EVP_MD_CTX_free(md);
    p->md5_set = true;
    p->obj.multipart = true;
    p->obj.n_parts = (uint32_t)c->n;
    p->obj.part_sizes = sizes;
    if (p->obj.sse_type) {
        unsigned char *bodies = arena_alloc(&r->arena, c->n * 16);
        for (size_t i = 0; i < c->n; i++) {
            memcpy(bodies + 16 * i, c->parts[i].body, 16);
        }
        p->obj.part_bodies = bodies;
    }
    p->bucket = t->bucket;
    p->key = t->key;
    p->s3 = s3;
    p->fd = -1;
    p->event = S3__EV_COMPLETE;
    p->who = r->auth.access_key;
    p->on_cleanup = complete_cleanup;
    arena_on_clear(&r->arena, s3__put_cleanup, p);
    r->op_ctx = c;
    return s3__offload_or_reply(r, complete_work, complete_written);
}

/* ---- AbortMultipartUpload ---- */

struct abort_op {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    struct sl_str key;
    unsigned char id[16];
    struct s3__ids bodies;
    bool committed;
};

static int abort_apply(struct store_op *op, MDB_txn *txn)
{
    struct abort_op *a = (struct abort_op *)op;
    a->bodies.n = 0;
    return s3__upload_drop(a->s3, txn, a->bucket, a->key, a->id, &a->bodies);
}

static void abort_done(struct store_op *op, int rc)
{
    struct abort_op *a = (struct abort_op *)op;
    a->committed = rc == 0;
    http_req_resume(a->r);
}

static void abort_cleanup(void *arg)
{
    struct abort_op *a = arg;
    if (a->committed) {
        s3__ids_unlink(a->s3, &a->bodies);
    }
    free(a->bodies.ids);
    a->bodies.ids = NULL;
}

static int abort_cont(struct http_req *r)
{
    struct abort_op *a = r->op_ctx;
    if (a->base.rc == S3__ENOUPLOAD) {
        return upload_check_or_reply(r, a->bucket, a->key, a->id, NULL);
    }
    if (a->base.rc != 0) {
        return s3__internal_or_reply(r, "AbortMultipartUpload", a->base.rc);
    }
    return http_reply(r, 204, NULL, NULL, 0);
}

int s3_abort_multipart_upload(struct http_req *r)
{
    struct s3__target *t = s3__target_of(r);
    struct abort_op *a = arena_new(&r->arena, struct abort_op);

    if (upload_target_or_reply(r, a->id) < 0) {
        return -1;
    }
    a->base.apply = abort_apply;
    a->base.done = abort_done;
    a->s3 = s3__of(r);
    a->r = r;
    a->bucket = t->bucket;
    a->key = t->key;
    arena_on_clear(&r->arena, abort_cleanup, a);
    r->op_ctx = a;
    return s3__submit_or_reply(r, &a->base, abort_cont);
}

/* ---- ListParts ---- */

/* Parses a non-negative integer query parameter (default def, at most max). Returns 0 or -1
 * with InvalidArgument set. */
static int uint_param_or_reply(struct http_req *r, const char *name, long def, long max,
                               long *out)
{
    const char *s = http_req_query(r, name);
    char *end;
    long v;

    *out = def;
    if (!s) {
        return 0;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 2147483647L) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                      "Provided %s not an integer or within integer range", name);
        http_req_fail_field(r, "ArgumentName", name);
        http_req_fail_field(r, "ArgumentValue", s);
        return -1;
    }
    *out = v > max ? max : v;
    return 0;
}

int s3_list_parts(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    unsigned char id[16], pk[18];
    long max, marker;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    struct buf b;
    unsigned last = 0;
    long count = 0;
    bool truncated = false;
    int rc;

    if (upload_target_or_reply(r, id) < 0 ||
        uint_param_or_reply(r, "max-parts", 1000, 1000, &max) < 0 ||
        uint_param_or_reply(r, "part-number-marker", 0, S3__PARTS_MAX, &marker) < 0) {
        return -1;
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, "ListParts", rc);
    }
    if (!s3__upload_exists(s3, txn, t->bucket, t->key, id)) {
        store_read_end(s3->st, txn);
        return upload_check_or_reply(r, t->bucket, t->key, id, NULL);
    }
    rc = mdb_cursor_open(txn, s3->parts, &cur);
    if (rc != 0) {
        store_read_end(s3->st, txn);
        return s3__internal_or_reply(r, "ListParts", rc);
    }
    buf_init(&b, LIST_XML_MAX);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<ListPartsResult xmlns=\"" S3__XMLNS "\">");
    s3__xml_elem(&b, "Bucket", sl_str_c(t->bucket));
    s3__xml_elem(&b, "Key", t->key);
    s3__xml_elem(&b, "UploadId", sl_str_c(s3__upload_id_str(&r->arena, id)));
    emit_owner(&b, s3, "Initiator");
    emit_owner(&b, s3, "Owner");
    buf_printf(&b, "<StorageClass>STANDARD</StorageClass><PartNumberMarker>%ld"
                   "</PartNumberMarker>", marker);
    {
        struct buf parts;
        buf_init(&parts, LIST_XML_MAX);
        k = (MDB_val){ s3__partkey(id, (unsigned)marker + 1, pk), pk };
        for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct s3__obj po;
            char iso[25], etag[S3__ETAG_MAX];
            unsigned n;
            if (k.mv_size != 18 || memcmp(k.mv_data, id, 16) != 0) {
                break;
            }
            if (count == max) {
                truncated = true;
                break;
            }
            if (s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, 0, &po) != 0) {
                continue;
            }
            n = (unsigned)((const unsigned char *)k.mv_data)[16] << 8 |
                ((const unsigned char *)k.mv_data)[17];
            s3__time_iso(po.mtime_ms, iso);
            s3__obj_etag(&po, etag);
            buf_printf(&parts, "<Part><PartNumber>%u</PartNumber><LastModified>%s"
                               "</LastModified>", n, iso);
            s3__xml_elem(&parts, "ETag", sl_str_c(etag));
            buf_printf(&parts, "<Size>%llu</Size>", (unsigned long long)po.size);
            if (po.ck.algo) {
                buf_printf(&parts, "<Checksum%s>%s</Checksum%s>", s3__ck_name(po.ck.algo),
                           s3__ck_b64(&r->arena, &po.ck, 0), s3__ck_name(po.ck.algo));
            }
            buf_puts(&parts, "</Part>");
            last = n;
            count++;
        }
        mdb_cursor_close(cur);
        store_read_end(s3->st, txn);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            buf_release(&parts);
            buf_release(&b);
            return s3__internal_or_reply(r, "ListParts", rc);
        }
        if (truncated || count) {
            buf_printf(&b, "<NextPartNumberMarker>%u</NextPartNumberMarker>", last);
        }
        buf_printf(&b, "<MaxParts>%ld</MaxParts><IsTruncated>%s</IsTruncated>", max,
                   truncated ? "true" : "false");
        buf_append(&b, parts.p ? parts.p : "", parts.len);
        buf_release(&parts);
    }
    if (buf_puts(&b, "</ListPartsResult>") < 0) {
        buf_release(&b);
        return s3__internal_or_reply(r, "ListParts", -E2BIG);
    }
    return s3__reply_xml(r, 200, &b);
}

/* ---- ListMultipartUploads ---- */

struct ulist {
    struct http_req *r;
    struct sl_str prefix, delim, key_marker;
    bool url;
    bool has_id_marker;
    unsigned char id_marker[16];
    long max;
    long count;
    bool truncated;
    bool last_is_prefix;
    struct sl_str last_key;
    unsigned char last_id[16];
    struct buf *ups, *cps;
};

/* Walks the bucket's uploads from the cursor's position into u. */
static int ulist_scan(struct s3 *s3, MDB_cursor *cur, const char *bucket, struct ulist *u)
{
    size_t bl = strlen(bucket);
    struct arena *a = &u->r->arena;
    unsigned char lk[S3__LMDB_KEY_MAX];
    struct sl_str from = s3__key_cmp(u->prefix, u->key_marker) > 0 ? u->prefix : u->key_marker;
    MDB_val k = { s3__objkey(bucket, from, lk), lk }, v;
    int rc;

    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct s3__obj o;
        const unsigned char *id;
        const char *d;
        int c;
        if (k.mv_size < bl + 1 + 16 || memcmp(k.mv_data, bucket, bl) != 0 ||
            ((const unsigned char *)k.mv_data)[bl] != 0) {
            break;
        }
        if (s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, bl, &o) != 0) {
            continue;
        }
        id = (const unsigned char *)k.mv_data + k.mv_size - 16;
        if (o.key.len < u->prefix.len ||
            (u->prefix.len && memcmp(o.key.p, u->prefix.p, u->prefix.len) != 0)) {
            if (s3__key_cmp(o.key, u->prefix) > 0 && u->prefix.len) {
                break;
            }
            continue;
        }
        c = s3__key_cmp(o.key, u->key_marker);
        if (u->key_marker.len &&
            (c < 0 || (c == 0 && (!u->has_id_marker || memcmp(id, u->id_marker, 16) <= 0)))) {
            continue;
        }
        d = s3__delimited(o.key, u->prefix, u->delim);
        if (d) {
            struct sl_str cp = { o.key.p, (size_t)(d - o.key.p) };
            if (u->last_is_prefix && sl_str_eq(cp, u->last_key)) {
                continue; /* the rest of a prefix already rolled up */
            }
            if (u->count == u->max) {
                u->truncated = true;
                break;
            }
            u->count++;
            u->last_is_prefix = true;
            u->last_key = (struct sl_str){ arena_strndup(a, cp.p, cp.len), cp.len };
            buf_puts(u->cps, "<CommonPrefixes>");
            s3__xml_key(u->cps, "Prefix", cp, u->url, a);
            buf_puts(u->cps, "</CommonPrefixes>");
            continue;
        }
        if (u->count == u->max) {
            u->truncated = true;
            break;
        }
        u->count++;
        u->last_is_prefix = false;
        u->last_key = (struct sl_str){ arena_strndup(a, o.key.p, o.key.len), o.key.len };
        memcpy(u->last_id, id, 16);
        {
            char iso[25];
            s3__time_iso(o.mtime_ms, iso);
            buf_puts(u->ups, "<Upload>");
            s3__xml_key(u->ups, "Key", o.key, u->url, a);
            s3__xml_elem(u->ups, "UploadId", sl_str_c(s3__upload_id_str(a, id)));
            emit_owner(u->ups, s3, "Initiator");
            emit_owner(u->ups, s3, "Owner");
            buf_printf(u->ups, "<StorageClass>STANDARD</StorageClass><Initiated>%s"
                               "</Initiated></Upload>", iso);
        }
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int s3_list_multipart_uploads(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    const char *prefix = http_req_query(r, "prefix");
    const char *delim = http_req_query(r, "delimiter");
    const char *km = http_req_query(r, "key-marker");
    const char *um = http_req_query(r, "upload-id-marker");
    const char *enc = http_req_query(r, "encoding-type");
    struct ulist u;
    struct buf b, ups, cps;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    int rc;

    memset(&u, 0, sizeof u);
    u.r = r;
    if (uint_param_or_reply(r, "max-uploads", 1000, 1000, &u.max) < 0) {
        return -1;
    }
    if (enc && strcmp(enc, "url") != 0) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Invalid Encoding Method specified in "
                                                     "Request");
        http_req_fail_field(r, "ArgumentName", "encoding-type");
        return -1;
    }
    if ((prefix && strlen(prefix) > S3_KEY_MAX) || (km && strlen(km) > S3_KEY_MAX) ||
        (delim && strlen(delim) > S3_KEY_MAX)) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    u.prefix = sl_str_c(prefix ? prefix : "");
    u.delim = sl_str_c(delim ? delim : "");
    u.key_marker = sl_str_c(km ? km : "");
    u.url = enc != NULL;
    u.has_id_marker = km && km[0] && um && upload_id_parse(um, u.id_marker);
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, "ListMultipartUploads", rc);
    }
    if (s3__bucket_check_or_reply(r, txn, t->bucket) < 0) {
        store_read_end(s3->st, txn);
        return -1;
    }
    rc = mdb_cursor_open(txn, s3->uploads, &cur);
    buf_init(&ups, LIST_XML_MAX);
    buf_init(&cps, LIST_XML_MAX);
    u.ups = &ups;
    u.cps = &cps;
    if (rc == 0) {
        rc = ulist_scan(s3, cur, t->bucket, &u);
        mdb_cursor_close(cur);
    }
    store_read_end(s3->st, txn);
    if (rc != 0) {
        buf_release(&ups);
        buf_release(&cps);
        return s3__internal_or_reply(r, "ListMultipartUploads", rc);
    }
    buf_init(&b, 2 * LIST_XML_MAX + 64 * 1024);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<ListMultipartUploadsResult xmlns=\"" S3__XMLNS "\">");
    s3__xml_elem(&b, "Bucket", sl_str_c(t->bucket));
    s3__xml_key(&b, "KeyMarker", u.key_marker, u.url, &r->arena);
    s3__xml_elem(&b, "UploadIdMarker", sl_str_c(um && u.has_id_marker ? um : ""));
    if (u.truncated) {
        s3__xml_key(&b, "NextKeyMarker", u.last_key, u.url, &r->arena);
        s3__xml_elem(&b, "NextUploadIdMarker",
                     sl_str_c(u.last_is_prefix ? "" : s3__upload_id_str(&r->arena, u.last_id)));
    }
    if (prefix) {
        s3__xml_key(&b, "Prefix", u.prefix, u.url, &r->arena);
    }
    if (delim) {
        s3__xml_key(&b, "Delimiter", u.delim, u.url, &r->arena);
    }
    if (u.url) {
        buf_puts(&b, "<EncodingType>url</EncodingType>");
    }
    buf_printf(&b, "<MaxUploads>%ld</MaxUploads><IsTruncated>%s</IsTruncated>", u.max,
               u.truncated ? "true" : "false");
    buf_append(&b, ups.p ? ups.p : "", ups.len);
    buf_append(&b, cps.p ? cps.p : "", cps.len);
    buf_release(&ups);
    buf_release(&cps);
    if (buf_puts(&b, "</ListMultipartUploadsResult>") < 0) {
        buf_release(&b);
        return s3__internal_or_reply(r, "ListMultipartUploads", -E2BIG);
    }
    return s3__reply_xml(r, 200, &b);
}
