/*
 * object.c: S3 objects: PutObject and UploadPart (streamed to a file), the put machinery every
 * write of a body shares (struct s3__put: also copies and multipart completions), GetObject
 * and HeadObject (sent from the file; ranges, partNumber, conditional headers), DeleteObject,
 * DeleteObjects, and the C API that puts (in one step, or staged and recorded inside another
 * service's writer op) and opens objects for other services (s3.h).
 *
 * What it is not: listings (list.c), buckets (bucket.c), copies (copy.c), multipart
 * bookkeeping (multipart.c).
 *
 * A put, from first byte to acknowledgement (the states of struct s3__put):
 *
 *   RECEIVING  bytes appended to objects/<id>.tmp and to the MD5 as they arrive (on_body, or
 *              a copy's or completion's job thread; a large body's digests on a thread of
 *              their own, digest.c)
 *     --all bytes, digest checked (s3__put_finish)--> SEALED
 *   SEALED     --rename to objects/<id>, fsync, fsync(objects/) (s3__put_sync: on a sync
 *              thread for an HTTP put, sync.c)--> DURABLE
 *   DURABLE    --record queued (store_submit)--> COMMITTING
 *   COMMITTING --group committed (s3__put_done: committed = true)--> acknowledged by the cont
 *
 * The writer op checks, in the same transaction that writes the record, what a conditional
 * write asked (If-None-Match: *, If-Match) against the record it replaces, so two racing
 * conditional puts cannot both win. Whatever ends the request in RECEIVING, SEALED or DURABLE (an
 * error, a hang-up, a failed apply) runs s3__put_cleanup(), which removes the file; only a
 * committed put keeps its file. After a commit that replaced an object or part,
 * s3__put_cleanup() removes the replaced body. A crash between rename and commit leaves an
 * unreferenced objects/<id>, which s3_new()'s sweep removes.
 *
 * An inline body (a put announced at most S3__INLINE_MAX bytes, not encrypted: docs/formats.md,
 * "S3 inline bodies") skips the file: RECEIVING appends to p->inl, SEALED goes straight to
 * COMMITTING (s3__put_sync only encodes the record), and the op writes the bytes into
 * s3.bodies next to the record. Every removal of a committed body goes through
 * s3__body_drop() in the op that drops its record: an inline body is deleted there, a file's
 * id collected for s3__ids_unlink() after the commit.
 *
 * Invariants: a body file, once renamed to its final name, is never written again; a GET
 * opens the file its snapshot's record names, and if a newer commit removed it meanwhile (the
 * open fails with ENOENT) it reads again in a fresh snapshot.
 */
#define _GNU_SOURCE /* sync_file_range */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include "core/log.h"
#include "s3/s3_int.h"

#define PUT_MAGIC 0x53337075u
#define OPEN_RETRIES 8
#define COPY_BUF (256 * 1024)

/* ---- body files ---- */

void s3__body_unlink(struct s3 *s3, const unsigned char id[16])
{
    char name[33];
    s3__body_name(id, name);
    if (s3__objdir_unmark_sync(s3) != 0) {
        return;     /* logged; the body stays, and the next start's sweep removes it */
    }
    if (unlinkat(s3->objdir_fd, name, 0) != 0 && errno != ENOENT) {
        log_warn("s3", "cannot remove objects/%s: %s", name, strerror(errno));
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -errno;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int s3__body_drop(struct s3 *s3, MDB_txn *txn, const struct s3__obj *o, struct s3__ids *l)
{
    MDB_val k = { 16, (void *)o->body };
    int rc;

    if (o->delete_marker) {
        return 0;
    }
    if (!o->inline_body) {
        s3__ids_add(l, o->body);
        return 0;
    }
    rc = mdb_del(txn, s3->bodies, &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int s3__body_get(struct s3 *s3, MDB_txn *txn, const struct s3__obj *o, struct sl_str *out)
{
    MDB_val k = { 16, (void *)o->body }, v;
    int rc = mdb_get(txn, s3->bodies, &k, &v);

    if (rc == MDB_NOTFOUND) {
        return -EIO;
    }
    if (rc == 0 && v.mv_size != o->size) {
        return -EIO;
    }
    if (rc == 0) {
        *out = (struct sl_str){ v.mv_data, v.mv_size };
    }
    return rc;
}

/* An inline body as an fd for readers that take one (copies, the C API): a memfd holding
 * the bytes, positioned at 0. Returns the fd or -errno. */
static int body_memfd(struct sl_str b)
{
    int fd = memfd_create("sluice-body", MFD_CLOEXEC);
    int rc;

    if (fd < 0) {
        return -errno;
    }
    rc = write_all(fd, b.p, b.len);
    if (rc == 0 && lseek(fd, 0, SEEK_SET) != 0) {
        rc = -errno;
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

/* Opens the temporary file of p's body. Returns 0 or -errno. */
static int tmp_open(struct s3__put *p)
{
    p->fd = openat(p->s3->objdir_fd, p->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (p->fd < 0) {
        return -errno;
    }
    p->tmp_exists = true;
    p->written_back = 0;
    return 0;
}

/* More bytes than an inline put announced (an aws-chunked body longer than its decoded
 * length, a C API fd that grew): what it holds moves to a file, and the put goes on as a
 * file's. Returns 0 or -errno. */
static int inline_spill(struct s3__put *p)
{
    int rc = tmp_open(p);

    if (rc == 0) {
        rc = write_all(p->fd, p->inl, (size_t)p->obj.size);
    }
    free(p->inl);
    p->inl = NULL;
    p->obj.inline_body = false;
    return rc;
}

int s3__put_begin(struct s3__put *p, struct s3 *s3, const char *bucket, struct sl_str key)
{
    p->magic = PUT_MAGIC;
    p->s3 = s3;
    p->bucket = bucket;
    p->key = key;
    p->fd = -1;
    s3__body_id_new(p->obj.body);
    s3__body_name(p->obj.body, p->tmp);
    memcpy(p->tmp + 32, ".tmp", 5);
    if (!p->md5_set) {
        p->md = EVP_MD_CTX_new();
        if (!p->md || EVP_DigestInit_ex(p->md, s3->md5, NULL) != 1) {
            return -ENOMEM;
        }
    }
    if (p->ck_algo && s3__ck_init(&p->ckc, p->ck_algo) != 0) {
        return -ENOMEM;
    }
    if (p->sse.type) {
        int rc = s3__sse_writer_init(&p->ssew, s3, &p->sse, p->obj.body);

        if (rc != 0) {
            return rc;
        }
    }
    if (s3__objdir_unmark_sync(s3) != 0) {
        return -EIO;
    }
    if (p->want_inline && !p->sse.type && p->inl_cap <= S3__INLINE_MAX) {
        p->inl = xmalloc(p->inl_cap ? p->inl_cap : 1);
        p->obj.inline_body = true;
        return 0;
    }
    return tmp_open(p);
}

#define PUT_WRITEBACK_EVERY (8u << 20)   /* bytes between two writeback starts of a body */

/* A put gathers its body in S3__PUT_WBUF bytes before each write(). libmicrohttpd hands a
 * body over in pieces of a few KiB, and each write() that ends inside a page the file does not
 * have yet makes the kernel zero the rest of it first: perf put a fifth of a 1 GiB PUT's CPU
 * in that zeroing.
 *
 * The bytes of a body written to its file are digested as they are written: a full buffer on
 * the digest thread (digest.c), started for the first one, while the put fills its second
 * buffer; anything else here, once the thread's jobs before it are done. */

static int put_digest(struct s3__put *p, const char *data, size_t n)
{
    if (p->md && EVP_DigestUpdate(p->md, data, n) != 1) {
        return -EIO;
    }
    if (p->ck_algo) {
        s3__ck_update(&p->ckc, data, n);
    }
    return 0;
}

/* Digests n written bytes at data here, after the digest thread's jobs. */
static int put_digest_after(struct s3__put *p, const char *data, size_t n)
{
    int rc = p->dg ? s3__digester_wait(p->dg) : 0;
    return rc == 0 ? put_digest(p, data, n) : rc;
}

int s3__put_flush(struct s3__put *p)
{
    size_t n = p->wlen;
    int rc = n ? write_all(p->fd, p->wbuf, n) : 0;
    char *full = p->wbuf;

    p->wlen = 0;
    if (rc != 0 || n == 0) {
        return rc;
    }
    if (n == S3__PUT_WBUF && !p->dg && !p->dg_tried && (p->md || p->ck_algo)) {
        p->dg_tried = true;
        p->dg = s3__digester_start(p->md, p->ck_algo ? &p->ckc : NULL);
    }
    if (n < S3__PUT_WBUF || !p->dg) {
        return put_digest_after(p, p->wbuf, n);
    }
    /* The thread digests this buffer; the put fills the other, which post has waited for. */
    rc = s3__digester_post(p->dg, full, n);
    p->wbuf = p->wspare ? p->wspare : xmalloc(S3__PUT_WBUF);
    p->wspare = full;
    return rc;
}

/* Ends the digest thread (its jobs done first). */
static int put_digester_stop(struct s3__put *p)
{
    int rc = p->dg ? s3__digester_stop(p->dg) : 0;
    p->dg = NULL;
    return rc;
}

static void put_bufs_free(struct s3__put *p)
{
    free(p->wbuf);
    free(p->wspare);
    p->wbuf = NULL;
    p->wspare = NULL;
    p->wlen = 0;
}

static int put_write(struct s3__put *p, const char *data, size_t n)
{
    int rc = 0;

    if (p->wlen == 0 && n >= S3__PUT_WBUF) {
        rc = write_all(p->fd, data, n);
        return rc == 0 ? put_digest_after(p, data, n) : rc;
    }
    if (!p->wbuf) {
        p->wbuf = xmalloc(S3__PUT_WBUF);
    }
    while (rc == 0 && n > 0) {
        size_t k = n < S3__PUT_WBUF - p->wlen ? n : S3__PUT_WBUF - p->wlen;
        memcpy(p->wbuf + p->wlen, data, k);
        p->wlen += k;
        data += k;
        n -= k;
        if (p->wlen == S3__PUT_WBUF) {
            rc = s3__put_flush(p);
        }
    }
    return rc;
}

int s3__put_feed(struct s3__put *p, const char *data, size_t n)
{
    int rc = 0;

    if (p->inl && p->obj.size + n > p->inl_cap) {
        rc = inline_spill(p);
    }
    if (rc == 0 && p->inl) {
        if (n) {
            memcpy(p->inl + p->obj.size, data, n);
        }
        rc = put_digest(p, data, n);
    }
    else if (rc == 0 && p->sse.type) {
        rc = s3__sse_write(&p->ssew, p->fd, data, n);
        rc = rc == 0 ? put_digest(p, data, n) : rc;
    }
    else if (rc == 0) {
        rc = put_write(p, data, n);     /* digests as it writes */
    }
    if (rc == 0) {
        p->obj.size += n;
    }
    if (rc == 0 && p->fd >= 0 && p->obj.size - p->written_back >= PUT_WRITEBACK_EVERY) {
        /* Start the disk writing what has arrived so far, without waiting for it: the fsync
         * at the end then has little left to do (a 1 GiB PUT spent seconds in it after the
         * last byte). Advice only: a failure here leaves the fsync to do it all. */
        (void)sync_file_range(p->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        p->written_back = p->obj.size;
    }
    return rc;
}

int s3__put_copy_from(struct s3__put *p, int fd, uint64_t off, uint64_t n)
{
    size_t cap = n < COPY_BUF ? (size_t)n : COPY_BUF;
    char *chunk = xmalloc(cap ? cap : 1);
    int rc = 0;

    while (rc == 0 && n > 0) {
        ssize_t got = pread(fd, chunk, n < cap ? (size_t)n : cap, (off_t)off);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            rc = got < 0 ? -errno : -EIO; /* a body shorter than its record says */
            break;
        }
        off += (uint64_t)got;
        n -= (uint64_t)got;
        rc = s3__put_feed(p, chunk, (size_t)got);
    }
    free(chunk);
    return rc;
}

int s3__put_finish(struct s3__put *p)
{
    unsigned int mdlen = 0;
    int rc = p->fd >= 0 ? s3__put_flush(p) : 0;
    int dg = put_digester_stop(p);

    put_bufs_free(p);
    if (rc != 0 || dg != 0) {
        return rc != 0 ? rc : dg;
    }
    if (p->md) {
        if (EVP_DigestFinal_ex(p->md, p->obj.md5, &mdlen) != 1 || mdlen != 16) {
            return -EIO;
        }
    }
    if (p->has_md5 && memcmp(p->content_md5, p->obj.md5, 16) != 0) {
        return -EBADMSG;
    }
    if (p->ck_algo) {
        s3__ck_final(&p->ckc, &p->obj.ck);
        if (p->ck_expect && (p->ck_want.algo != p->obj.ck.algo ||
                             memcmp(p->ck_want.value, p->obj.ck.value, p->obj.ck.len) != 0)) {
            return -EILSEQ;
        }
    }
    if (p->sse.type) {
        rc = s3__sse_finish(&p->ssew, p->fd);
        if (rc != 0) {
            return rc;
        }
        p->obj.sse_type = p->sse.type;
        if (p->sse.type == S3__SSE_C) {
            memcpy(p->obj.sse_check, p->sse.ckey_check, 32);
            memcpy(p->obj.sse_md5, p->sse.ckey_md5, 16);
        }
    }
    return 0;
}

/* The record of a sealed put, and its LMDB key. */
static void put_encode(struct s3__put *p)
{
    p->obj.mtime_ms = s3__now_ms();
    p->obj.key = p->key;
    if (p->part_number) {
        p->lkey_len = s3__partkey(p->upload, p->part_number, p->lkey);
        p->obj.key_in_record = true;
        p->obj.key = SL_STR_NULL;
    }
    else {
        p->lkey_len = s3__objkey(p->bucket, p->key, p->lkey);
    }
    p->rec = s3__obj_encode(&p->obj, &p->rec_len);
}

int s3__put_sync(struct s3__put *p)
{
    char name[33];
    int rc = 0;

    if (p->inl) {
        /* Inline: the bytes commit with the record, in the writer's group commit. */
        put_encode(p);
        return 0;
    }

    /* Renamed before its fsync, so that the fsync's journal commit carries the new name too
     * and the directory's sync below mostly finds nothing left to write. No record names the
     * file until after both: a crash in between leaves an unreferenced file, which the start
     * after it sweeps (a crash leaves no clean mark). */
    s3__body_name(p->obj.body, name);
    if (renameat(p->s3->objdir_fd, p->tmp, p->s3->objdir_fd, name) != 0) {
        return -errno;
    }
    p->tmp_exists = false;
    p->final_exists = true;
    if (fsync(p->fd) != 0) {
        rc = -errno;
    }
    if (close(p->fd) != 0 && rc == 0) {
        rc = -errno;
    }
    p->fd = -1;
    if (rc != 0) {
        return rc;
    }
    /* The rename is durable only once the directory is: without this a crash could lose the
     * name of a file whose record then commits. One fsync covers every put renamed before
     * it started. */
    rc = s3__dir_sync(p->s3);
    if (rc != 0) {
        return rc;
    }
    put_encode(p);
    return 0;
}

int s3__put_seal(struct s3__put *p)
{
    int rc = s3__put_finish(p);
    return rc ? rc : s3__put_sync(p);
}

/* The conditions of p against the record it replaces (old NULL: none). */
static int check_wcond(const struct s3__put *p, const struct s3__obj *old)
{
    char etag[S3__ETAG_MAX];

    if (p->cond.if_none_match && old) {
        s3__obj_etag(old, etag);
        if (s3__etag_matches(p->cond.if_none_match, etag)) {
            return S3__EPRECOND;
        }
    }
    if (p->cond.if_match) {
        if (!old) {
            return S3_ENOKEY;
        }
        s3__obj_etag(old, etag);
        if (!s3__etag_matches(p->cond.if_match, etag)) {
            return S3__EPRECOND;
        }
    }
    return 0;
}

int s3__put_apply(struct store_op *op, MDB_txn *txn)
{
    struct s3__put *p = (struct s3__put *)op;
    MDB_dbi dbi = p->part_number ? p->s3->parts : p->s3->objects;
    MDB_val k = { p->lkey_len, p->lkey }, v;
    struct s3__obj old;
    bool have = false;
    int rc;

    assert(p->magic == PUT_MAGIC);
    p->had_old = false;
    if (p->part_number) {
        if (!s3__upload_exists(p->s3, txn, p->bucket, p->key, p->upload)) {
            return S3__ENOUPLOAD;
        }
    }
    else if (!s3__bucket_exists(p->s3, txn, p->bucket, NULL)) {
        return S3_ENOBUCKET;
    }
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0) {
        if (s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, strlen(p->bucket),
                           &old) == 0 &&
            (p->part_number || sl_str_eq(old.key, p->key))) {
            have = true;
            p->had_old = !old.inline_body;
            memcpy(p->old_body, old.body, 16);
        }
    }
    else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    if (p->inl) {
        MDB_val bk = { 16, p->obj.body }, bv = { (size_t)p->obj.size, p->inl };
        rc = mdb_put(txn, p->s3->bodies, &bk, &bv, 0);
        if (rc != 0) {
            return rc;
        }
    }
    if (!p->part_number) {
        unsigned vstate = s3__versioning(p->s3, txn, p->bucket);
        rc = check_wcond(p, have && !old.delete_marker ? &old : NULL);
        if (rc == 0) {
            rc = s3__lock_apply_defaults(p->s3, txn, p->bucket, &p->obj);
        }
        if (rc == 0 && p->pre_apply) {
            rc = p->pre_apply(p, txn);
        }
        if (rc != 0 || vstate == S3__VER_NONE) {
            if (rc != 0) {
                return rc;
            }
        }
        else {
            /* A versioned bucket keeps the replaced version (or drops a replaced "null"). */
            p->had_old = false;
            p->versioned = true;
            p->vbodies.n = 0;
            rc = s3__version_make_current(p->s3, txn, p->bucket, p->key, &p->obj, vstate,
                                          &p->vbodies);
            return rc ? rc : s3__events_record(p->s3, txn, p->bucket,
                                               p->event ? p->event : S3__EV_PUT, &p->obj,
                                               p->who);
        }
    }
    else if (p->pre_apply) {
        rc = p->pre_apply(p, txn);
        if (rc != 0) {
            return rc;
        }
    }
    if (have && old.inline_body && memcmp(old.body, p->obj.body, 16) != 0) {
        /* The replaced inline body goes in this commit (a versioned bucket's replaced
         * bodies went through s3__version_make_current() above). */
        rc = s3__body_drop(p->s3, txn, &old, NULL);
        if (rc != 0) {
            return rc;
        }
    }
    k = (MDB_val){ p->lkey_len, p->lkey };
    v = (MDB_val){ p->rec_len, p->rec };
    rc = mdb_put(txn, dbi, &k, &v, 0);
    if (rc == 0 && !p->part_number) {
        rc = s3__events_record(p->s3, txn, p->bucket, p->event ? p->event : S3__EV_PUT,
                               &p->obj, p->who);
    }
    return rc;
}

void s3__put_cleanup(void *arg)
{
    struct s3__put *p = arg;
    char name[33];

    (void)put_digester_stop(p);
    put_bufs_free(p);
    if (p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    if (p->tmp_exists) {
        unlinkat(p->s3->objdir_fd, p->tmp, 0);
        p->tmp_exists = false;
    }
    if (p->final_exists && !p->committed) {
        s3__body_name(p->obj.body, name);
        unlinkat(p->s3->objdir_fd, name, 0);
    }
    if (p->committed && p->had_old && memcmp(p->old_body, p->obj.body, 16) != 0) {
        s3__body_unlink(p->s3, p->old_body);
    }
    if (p->committed) {
        s3__ids_unlink(p->s3, &p->vbodies);
    }
    free(p->vbodies.ids);
    memset(&p->vbodies, 0, sizeof p->vbodies);
    if (p->on_cleanup) {
        p->on_cleanup(p);
        p->on_cleanup = NULL;
    }
    p->final_exists = false;
    p->had_old = false;
    EVP_MD_CTX_free(p->md);
    p->md = NULL;
    s3__ck_release(&p->ckc);
    if (p->sse.type) {
        s3__sse_writer_release(&p->ssew);
        OPENSSL_cleanse(p->sse.ckey, sizeof p->sse.ckey);
    }
    free(p->rec);
    p->rec = NULL;
    free(p->inl);
    p->inl = NULL;
}

void s3__put_done(struct store_op *op, int rc)
{
    struct s3__put *p = (struct s3__put *)op;
    p->committed = rc == 0;
    if (rc == 0) {
        s3__events_kick(p->s3);
    }
    http_req_resume(p->r);
}

int s3__put_fail_or_reply(struct http_req *r, struct s3__put *p, const char *what)
{
    switch (p->base.rc) {
    case -ESHUTDOWN:
        return http_req_fail(r, AWSERR_S3_SERVICE_UNAVAILABLE, NULL);
    case S3_ENOBUCKET:
        return s3__no_such_bucket_or_reply(r, p->bucket);
    case S3__ENOUPLOAD:
        http_req_fail(r, AWSERR_S3_NO_SUCH_UPLOAD, NULL);
        http_req_fail_field(r, "UploadId", s3__upload_id_str(&r->arena, p->upload));
        return -1;
    case S3_ENOKEY:
        http_req_fail(r, AWSERR_S3_NO_SUCH_KEY, NULL);
        http_req_fail_field(r, "Key", arena_strndup(&r->arena, p->key.p, p->key.len));
        return -1;
    case S3__EPRECOND:
        http_req_fail(r, AWSERR_S3_PRECONDITION_FAILED, NULL);
        http_req_fail_field(r, "Condition", p->cond.if_match ? "If-Match" : "If-None-Match");
        return -1;
    default:
        return s3__version_fail_or_reply(r, p->bucket, p->key, NULL, p->base.rc, what);
    }
}

/* ---- PutObject ---- */

static const char *const kept_headers[] = { "content-type",     "content-encoding",
                                            "content-disposition", "cache-control",
                                            "expires",          "content-language" };

static int put_cont(struct http_req *r)
{
    struct s3__put *p = r->op_ctx;
    char etag[S3__ETAG_MAX];

    if (p->base.rc != 0) {
        return s3__put_fail_or_reply(r, p, p->part_number ? "UploadPart" : "PutObject");
    }
    s3__obj_etag(&p->obj, etag);
    http_reply_header(r, "ETag", etag);
    s3__checksum_reply_headers(r, &p->obj.ck, 0, !p->part_number);
    if (p->versioned) {
        s3__version_reply_headers(r, &p->obj, true);
    }
    s3__sse_reply_headers(r, p->obj.sse_type, p->obj.sse_md5);
    return http_reply(r, 200, NULL, NULL, 0);
}

static int put_on_body(struct http_req *r, const char *data, size_t n)
{
    struct s3__put *p = r->op_ctx;
    int rc;

    if (p->obj.size + n > S3__PUT_MAX) {
        return http_req_fail(r, AWSERR_S3_ENTITY_TOO_LARGE, NULL);
    }
    rc = s3__put_feed(p, data, n);
    if (rc < 0) {
        return s3__internal_or_reply(r, "PutObject write", rc);
    }
    return 0;
}

/* The checksum value an aws-chunked trailer carried, into p->ck_want. Returns 0 or -1. */
static int trailer_checksum_or_reply(struct http_req *r, struct s3__put *p)
{
    struct sl_str v;
    unsigned char d[sizeof p->ck_want.value + 3];
    long n;

    if (!p->ck_trailer || !r->chunked) {
        return 0;
    }
    v = sigv4_chunked_trailer(r->chunked, p->ck_trailer);
    if (!v.p) {
        return 0; /* announced, not sent: the checksum is computed and kept all the same */
    }
    n = s3__base64_decode(v, d, sizeof d);
    if (n < 0 || (size_t)n != s3__ck_len(p->ck_algo)) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST, "Value for %s trailing header is "
                                                           "invalid.", p->ck_trailer);
    }
    p->ck_want.algo = (uint8_t)p->ck_algo;
    p->ck_want.len = (uint8_t)n;
    memcpy(p->ck_want.value, d, (size_t)n);
    p->ck_expect = true;
    return 0;
}

static int put_on_body_end(struct http_req *r)
{
    struct s3__put *p = r->op_ctx;
    const char *decoded = http_req_header(r, "x-amz-decoded-content-length");
    int rc;

    /* The decoded length an aws-chunked upload announced is the length it must have. */
    if (r->chunked && decoded &&
        strtoull(decoded, NULL, 10) != sigv4_chunked_decoded_len(r->chunked)) {
        return http_req_fail(r, AWSERR_S3_INCOMPLETE_BODY, NULL);
    }
    if (trailer_checksum_or_reply(r, p) < 0) {
        return -1;
    }
    rc = s3__put_finish(p);
    if (rc == -EBADMSG) {
        return http_req_fail(r, AWSERR_S3_BAD_DIGEST, NULL);
    }
    if (rc == -EILSEQ) {
        return http_req_fail(r, AWSERR_S3_BAD_DIGEST,
                             "The %s you specified did not match the calculated checksum.",
                             s3__ck_name(p->ck_algo));
    }
    if (rc < 0) {
        return s3__internal_or_reply(r, "PutObject seal", rc);
    }
    return s3__put_sync_or_reply(r, p, p->part_number ? "UploadPart" : "PutObject", put_cont);
}

int s3__fields_from_request_or_reply(struct http_req *r, struct s3__obj *o)
{
    size_t meta = 0;
    const char *ct = http_req_header(r, "content-type");

    o->n_fields = 0;
    o->fields[o->n_fields++] = (struct s3__field){
        SL_STR_LIT("content-type"), sl_str_c(ct && ct[0] ? ct : "binary/octet-stream")
    };
    for (size_t i = 1; i < sizeof kept_headers / sizeof kept_headers[0]; i++) {
        const char *v = http_req_header(r, kept_headers[i]);
        struct sl_str sv = sl_str_c(v);
        if (!v) {
            continue;
        }
        if (i == 1) {
            /* aws-chunked is the transfer framing of a streaming upload, not the object's
             * encoding: S3 drops it and keeps what follows it. */
            if (sl_str_starts(sv, "aws-chunked")) {
                sv.p += 11;
                sv.len -= 11;
                while (sv.len && (sv.p[0] == ',' || sv.p[0] == ' ')) {
                    sv.p++;
                    sv.len--;
                }
                if (!sv.len) {
                    continue;
                }
            }
        }
        if (sv.len > S3__HDR_VALUE_MAX) {
            return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Header %s is too long",
                                 kept_headers[i]);
        }
        o->fields[o->n_fields++] = (struct s3__field){ sl_str_c(kept_headers[i]), sv };
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        struct sl_str name = r->headers[i].name;
        char *lower;
        if (name.len <= 11 || !sl_str_case_eq((struct sl_str){ name.p, 11 }, "x-amz-meta-")) {
            continue;
        }
        /* S3 counts the UTF-8 bytes of each user-defined name and value against 2 KB. */
        meta += name.len - 11 + r->headers[i].value.len;
        if (meta > S3__META_MAX || o->n_fields == S3__FIELDS_MAX) {
            return http_req_fail(r, AWSERR_S3_METADATA_TOO_LARGE, NULL);
        }
        lower = arena_strndup(&r->arena, name.p, name.len);
        for (size_t j = 0; j < name.len; j++) {
            if (lower[j] >= 'A' && lower[j] <= 'Z') {
                lower[j] = (char)(lower[j] - 'A' + 'a');
            }
        }
        o->fields[o->n_fields++] =
            (struct s3__field){ { lower, name.len }, r->headers[i].value };
    }
    return 0;
}

/* The checks PutObject and UploadPart share before a byte is written: key length, a body
 * length, its limit, Content-MD5. Returns 0 or -1 with the error set. */
static int put_headers_or_reply(struct http_req *r, struct s3__put *p)
{
    struct s3__target *t = s3__target_of(r);
    const char *md5 = http_req_header(r, "content-md5");
    const char *decoded = http_req_header(r, "x-amz-decoded-content-length");

    if (t->key.len > S3_KEY_MAX) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    if (!r->has_content_length && !http_req_header(r, "transfer-encoding")) {
        return http_req_fail(r, AWSERR_S3_MISSING_CONTENT_LENGTH, NULL);
    }
    if ((r->has_content_length && r->content_length > S3__PUT_MAX + 64 * 1024 * 1024) ||
        (decoded && strtoull(decoded, NULL, 10) > S3__PUT_MAX)) {
        return http_req_fail(r, AWSERR_S3_ENTITY_TOO_LARGE, NULL);
    }
    if (md5) {
        unsigned char d[17];
        if (s3__base64_decode(sl_str_c(md5), d, sizeof d) != 16) {
            return http_req_fail(r, AWSERR_S3_INVALID_DIGEST, NULL);
        }
        memcpy(p->content_md5, d, 16);
        p->has_md5 = true;
    }
    return s3__checksum_headers_or_reply(r, p);
}

int s3__checksum_headers_or_reply(struct http_req *r, struct s3__put *p)
{
    const char *trailer = http_req_header(r, "x-amz-trailer");
    const char *sdk = http_req_header(r, "x-amz-sdk-checksum-algorithm");
    unsigned count = 0;

    for (size_t i = 0; i < r->n_headers; i++) {
        unsigned algo = s3__ck_algo_of_header(r->headers[i].name);
        unsigned char d[sizeof p->ck_want.value + 3];
        long n;
        if (!algo) {
            continue;
        }
        if (++count > 1) {
            return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                                 "Expecting a single x-amz-checksum- header. Multiple checksum "
                                 "Types are not allowed.");
        }
        n = s3__base64_decode(r->headers[i].value, d, sizeof d);
        if (n < 0 || (size_t)n != s3__ck_len(algo)) {
            return http_req_fail(r, AWSERR_S3_INVALID_REQUEST, "Value for %s header is invalid.",
                                 s3__ck_header(algo));
        }
        p->ck_algo = algo;
        p->ck_want.algo = (uint8_t)algo;
        p->ck_want.len = (uint8_t)n;
        memcpy(p->ck_want.value, d, (size_t)n);
        p->ck_expect = true;
    }
    if (trailer) {
        unsigned algo = s3__ck_algo_of_header(sl_str_c(trailer));
        if (algo && count) {
            return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                                 "Expecting a single x-amz-checksum- header. Multiple checksum "
                                 "Types are not allowed.");
        }
        if (algo) {
            p->ck_algo = algo;
            p->ck_trailer = s3__ck_header(algo);
        }
    }
    if (sdk && !p->ck_algo) {
        p->ck_algo = s3__ck_algo_parse(sdk);
        if (!p->ck_algo) {
            return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                                 "Checksum algorithm provided is unsupported. Please try again "
                                 "with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, "
                                 "SHA256]");
        }
    }
    return 0;
}

void s3__checksum_reply_headers(struct http_req *r, const struct s3__checksum *ck,
                                uint32_t parts, bool with_type)
{
    if (!ck->algo) {
        return;
    }
    http_reply_header(r, s3__ck_header(ck->algo), s3__ck_b64(&r->arena, ck, parts));
    if (with_type) {
        http_reply_header(r, "x-amz-checksum-type",
                          ck->type == S3__CK_COMPOSITE ? "COMPOSITE" : "FULL_OBJECT");
    }
}

/* Starts a streamed body into p (PutObject, UploadPart). Returns 0 or -1. */
static int put_stream_or_reply(struct http_req *r, struct s3__put *p, const char *bucket,
                               struct sl_str key)
{
    p->who = r->auth.access_key;
    int rc = s3__put_begin(p, s3__of(r), bucket, key);
    arena_on_clear(&r->arena, s3__put_cleanup, p);
    if (rc < 0) {
        return s3__internal_or_reply(r, "PutObject open", rc);
    }
    r->op_ctx = p;
    r->on_body = put_on_body;
    r->on_body_end = put_on_body_end;
    return 0;
}

/* Does r announce a body small enough to be kept inline (Content-Length, or the decoded
 * length of an aws-chunked body)? An encrypted body never is (s3__put_begin). */
static void put_inline_choose(struct http_req *r, struct s3__put *p)
{
    const char *decoded = http_req_header(r, "x-amz-decoded-content-length");
    uint64_t n;

    if (r->chunked) {
        char *end;
        if (!decoded || !decoded[0]) {
            return;
        }
        errno = 0;
        n = strtoull(decoded, &end, 10);
        if (errno || *end) {
            return;
        }
    }
    else if (r->has_content_length && !http_req_header(r, "transfer-encoding")) {
        n = r->content_length;
    }
    else {
        return;
    }
    if (n <= S3__INLINE_MAX) {
        p->want_inline = true;
        p->inl_cap = (size_t)n;
    }
}

int s3_put_object(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    struct s3__put *p = arena_new(&r->arena, struct s3__put);
    MDB_txn *txn;
    int rc;

    p->r = r;
    /* Refuse early what can be refused on the headers, before a byte is written. */
    if (put_headers_or_reply(r, p) < 0) {
        return -1;
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, "PutObject", rc);
    }
    rc = s3__bucket_check_or_reply(r, txn, t->bucket);
    if (rc == 0) {
        rc = s3__sse_headers_or_reply(r, &p->sse, false);
    }
    if (rc == 0 && !p->sse.type && s3__sse_bucket_default(s3, txn, t->bucket)) {
        p->sse.type = S3__SSE_S3;
    }
    store_read_end(s3->st, txn);
    if (rc < 0) {
        return -1;
    }
    p->cond.if_match = http_req_header(r, "if-match");
    p->cond.if_none_match = http_req_header(r, "if-none-match");
    if (p->cond.if_none_match && strcmp(p->cond.if_none_match, "*") != 0) {
        return http_req_fail(r, AWSERR_S3_NOT_IMPLEMENTED, NULL);
    }
    if (s3__fields_from_request_or_reply(r, &p->obj) < 0 ||
        s3__tags_from_header_or_reply(r, &p->obj.tags) < 0 ||
        s3__lock_headers_or_reply(r, &p->obj) < 0) {
        return -1;
    }
    put_inline_choose(r, p);
    return put_stream_or_reply(r, p, t->bucket, t->key);
}

int s3_upload_part(struct http_req *r)
{
    struct s3__target *t = s3__target_of(r);
    struct s3__put *p = arena_new(&r->arena, struct s3__put);
    struct s3__upload_info up;
    unsigned algo;

    memset(&up, 0, sizeof up);
    p->r = r;
    if (put_headers_or_reply(r, p) < 0 ||
        s3__part_target_or_reply(r, p->upload, &p->part_number, &up) < 0 ||
        s3__part_sse_or_reply(r, &up, &p->sse) < 0) {
        return -1;
    }
    algo = up.algo;
    /* A part of an upload created with a checksum algorithm gets that checksum, sent or not
     * (CompleteMultipartUpload needs every part's). */
    if (algo && p->ck_algo && p->ck_algo != algo) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                             "Checksum Type mismatch occurred, expected checksum Type: %s, "
                             "actual checksum Type: %s", s3__ck_name(algo),
                             s3__ck_name(p->ck_algo));
    }
    if (algo) {
        p->ck_algo = algo;
    }
    return put_stream_or_reply(r, p, t->bucket, t->key);
}

/* ---- the C API's puts ---- */

static void fill_info(const struct s3__put *p, struct s3_object_info *info)
{
    info->size = p->obj.size;
    info->mtime_ms = p->obj.mtime_ms;
    s3__obj_etag(&p->obj, info->etag);
    snprintf(info->content_type, sizeof info->content_type, "%.*s",
             (int)p->obj.fields[0].value.len, p->obj.fields[0].value.p);
}

static int put_prepare(struct s3__put *p, struct s3 *s3, const char *bucket, struct sl_str key,
                       const struct s3_put_options *opt)
{
    if (key.len == 0 || key.len > S3_KEY_MAX) {
        return S3_EKEY;
    }
    if (!s3__bucket_name_valid(bucket, strlen(bucket))) {
        return S3_ENOBUCKET;
    }
    if ((opt && opt->content_type && strlen(opt->content_type) >= sizeof p->ctype) ||
        (opt && opt->content_encoding && strlen(opt->content_encoding) >= sizeof p->cenc)) {
        return -ENAMETOOLONG;
    }
    snprintf(p->bucket_buf, sizeof p->bucket_buf, "%s", bucket);
    snprintf(p->ctype, sizeof p->ctype, "%s",
             opt && opt->content_type ? opt->content_type : "binary/octet-stream");
    p->obj.fields[p->obj.n_fields++] =
        (struct s3__field){ SL_STR_LIT("content-type"), sl_str_c(p->ctype) };
    if (opt && opt->content_encoding) {
        snprintf(p->cenc, sizeof p->cenc, "%s", opt->content_encoding);
        p->obj.fields[p->obj.n_fields++] =
            (struct s3__field){ SL_STR_LIT("content-encoding"), sl_str_c(p->cenc) };
    }
    return s3__put_begin(p, s3, p->bucket_buf, key);
}

/* Stages from a buffer (fd < 0) or from fd. */
static int stage(struct s3 *s3, const char *bucket, struct sl_str key, int fd, const void *data,
                 size_t n, const struct s3_put_options *opt, struct s3_staged **out)
{
    struct s3__put *p = xcalloc(1, sizeof *p);
    struct stat st;
    int rc;

    /* A small body is kept inline, as PutObject's (a file that grows meanwhile spills). */
    if (fd < 0 && n <= S3__INLINE_MAX) {
        p->want_inline = true;
        p->inl_cap = n;
    }
    else if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
             (uint64_t)st.st_size <= S3__INLINE_MAX) {
        p->want_inline = true;
        p->inl_cap = (size_t)st.st_size;
    }
    rc = put_prepare(p, s3, bucket, key, opt);

    if (rc == 0 && fd < 0) {
        rc = s3__put_feed(p, data, n);
    }
    if (rc == 0 && fd >= 0) {
        char *chunk = xmalloc(256 * 1024);
        uint64_t off = 0;
        while (rc == 0) {
            ssize_t got = pread(fd, chunk, 256 * 1024, (off_t)off);
            if (got < 0 && errno == EINTR) {
                continue;
            }
            if (got <= 0) {
                rc = got < 0 ? -errno : 0;
                break;
            }
            off += (uint64_t)got;
            rc = s3__put_feed(p, chunk, (size_t)got);
        }
        free(chunk);
    }
    if (rc == 0) {
        rc = s3__put_seal(p);
    }
    if (rc != 0) {
        if (p->s3) {
            s3__put_cleanup(p);
        }
        free(p);
        return rc;
    }
    p->base.apply = s3__put_apply;
    *out = (struct s3_staged *)p;
    return 0;
}

int s3_stage_from_buf(struct s3 *s3, const char *bucket, struct sl_str key, const void *data,
                      size_t n, const struct s3_put_options *opt, struct s3_staged **out)
{
    return stage(s3, bucket, key, -1, data, n, opt, out);
}

int s3_stage_from_fd(struct s3 *s3, const char *bucket, struct sl_str key, int fd,
                     const struct s3_put_options *opt, struct s3_staged **out)
{
    if (fd < 0) {
        return -EBADF;
    }
    return stage(s3, bucket, key, fd, NULL, 0, opt, out);
}

int s3_staged_apply(struct s3_staged *sg, MDB_txn *txn)
{
    struct s3__put *p = (struct s3__put *)sg;
    store_assert_writer(p->s3->st);
    return s3__put_apply(&p->base, txn);
}

void s3_staged_info(const struct s3_staged *sg, struct s3_object_info *info)
{
    fill_info((const struct s3__put *)sg, info);
}

void s3_staged_finish(struct s3_staged *sg, bool committed)
{
    struct s3__put *p = (struct s3__put *)sg;
    if (!p) {
        return;
    }
    p->committed = committed;
    if (committed) {
        s3__events_kick(p->s3);
    }
    s3__put_cleanup(p);
    free(p);
}

static int put_sync(struct s3 *s3, struct s3_staged *sg, int rc, struct s3_object_info *info)
{
    if (rc != 0) {
        return rc;
    }
    rc = store_submit_wait(s3->st, &((struct s3__put *)sg)->base);
    if (rc == 0 && info) {
        s3_staged_info(sg, info);
    }
    s3_staged_finish(sg, rc == 0);
    return rc;
}

int s3_put_object_from_buf(struct s3 *s3, const char *bucket, struct sl_str key, const void *data,
                           size_t n, const struct s3_put_options *opt,
                           struct s3_object_info *info)
{
    struct s3_staged *sg = NULL;
    int rc = s3_stage_from_buf(s3, bucket, key, data, n, opt, &sg);
    return put_sync(s3, sg, rc, info);
}

int s3_put_object_from_fd(struct s3 *s3, const char *bucket, struct sl_str key, int fd,
                          const struct s3_put_options *opt, struct s3_object_info *info)
{
    struct s3_staged *sg = NULL;
    int rc = s3_stage_from_fd(s3, bucket, key, fd, opt, &sg);
    return put_sync(s3, sg, rc, info);
}

/* ---- Range ---- */

static bool parse_u64(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9') {
        return false;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - 9) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *s = p;
    *out = v;
    return true;
}

enum s3__range_result s3__range_parse(const char *h, uint64_t size, uint64_t *off,
                                      uint64_t *len)
{
    const char *p = h;
    uint64_t a, b;

    /* RFC 9110 14.1.2: a Range S3 cannot parse, or one with several ranges, is ignored and
     * the whole object is sent, which is what S3 does. */
    if (!h || strncmp(p, "bytes=", 6) != 0) {
        return S3__RANGE_NONE;
    }
    p += 6;
    if (strchr(p, ',')) {
        return S3__RANGE_NONE;
    }
    if (*p == '-') {
        p++;
        if (!parse_u64(&p, &b) || *p) {
            return S3__RANGE_NONE;
        }
        if (b == 0 || size == 0) {
            return S3__RANGE_UNSATISFIABLE;
        }
        if (b > size) {
            b = size;
        }
        *off = size - b;
        *len = b;
        return S3__RANGE_PARTIAL;
    }
    if (!parse_u64(&p, &a) || *p != '-') {
        return S3__RANGE_NONE;
    }
    p++;
    if (*p == '\0') {
        b = UINT64_MAX;
    }
    else if (!parse_u64(&p, &b) || *p || b < a) {
        return S3__RANGE_NONE;
    }
    if (a >= size) {
        return S3__RANGE_UNSATISFIABLE;
    }
    if (b >= size) {
        b = size - 1;
    }
    *off = a;
    *len = b - a + 1;
    return S3__RANGE_PARTIAL;
}

/* ---- GetObject, HeadObject ---- */

int s3__object_lookup(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                         struct s3__obj *o)
{
    unsigned char lk[S3__LMDB_KEY_MAX];
    MDB_val k, v;
    int rc;

    k.mv_size = s3__objkey(bucket, key, lk);
    k.mv_data = lk;
    rc = mdb_get(txn, s3->objects, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return s3__bucket_exists(s3, txn, bucket, NULL) ? S3_ENOKEY : S3_ENOBUCKET;
    }
    if (rc != 0) {
        return rc;
    }
    rc = s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, strlen(bucket), o);
    if (rc != 0) {
        return rc;
    }
    /* A long key's LMDB key is only a hash of its tail: the record holds the truth. */
    if (!sl_str_eq(o->key, key)) {
        return S3_ENOKEY;
    }
    return 0;
}

int s3__object_open(struct s3 *s3, const char *bucket, struct sl_str key, const char *vid,
                    MDB_txn **txn, struct s3__obj *o, int *fd, struct sl_str *inl)
{
    int rc = 0;

    *fd = -1;
    if (inl) {
        *inl = SL_STR_NULL;
    }
    for (int attempt = 0; attempt < OPEN_RETRIES; attempt++) {
        char name[33];
        rc = store_read_begin(s3->st, txn);
        if (rc != 0) {
            return rc;
        }
        rc = s3__object_lookup_version(s3, *txn, bucket, key, vid, o);
        if (rc == 0 && o->delete_marker) {
            return S3__EMARKER; /* *txn stays open: o is the marker */
        }
        if (rc == 0 && o->inline_body) {
            /* The snapshot that holds the record holds its body: no race to retry. */
            struct sl_str b;
            rc = s3__body_get(s3, *txn, o, &b);
            if (rc == 0 && inl) {
                *inl = b;
                return 0;
            }
            if (rc == 0) {
                rc = body_memfd(b);
                if (rc >= 0) {
                    *fd = rc;
                    return 0;
                }
            }
            store_read_end(s3->st, *txn);
            *txn = NULL;
            return rc;
        }
        if (rc == 0) {
            s3__body_name(o->body, name);
            *fd = openat(s3->objdir_fd, name, O_RDONLY | O_CLOEXEC);
            if (*fd >= 0) {
                return 0;
            }
            rc = -errno;
        }
        store_read_end(s3->st, *txn);
        *txn = NULL;
        if (rc != -ENOENT) {
            return rc;
        }
    }
    return rc;
}

/* Response headers S3 lets a GET override with a query parameter (presigned downloads). */
static const char *const overrides[][2] = {
    { "response-content-type", "Content-Type" },
    { "response-content-language", "Content-Language" },
    { "response-expires", "Expires" },
    { "response-cache-control", "Cache-Control" },
    { "response-content-disposition", "Content-Disposition" },
    { "response-content-encoding", "Content-Encoding" },
};

/*
 * The conditional headers of a GET or HEAD against the object's ETag and Last-Modified, with
 * RFC 9110's precedence as S3 applies it: If-Match, else If-Unmodified-Since, can fail with
 * 412; If-None-Match, else If-Modified-Since, can answer 304. Returns 0 (go on), 1 (answer
 * 304) or -1 with PreconditionFailed set.
 */
static int get_conditions(struct http_req *r, const char *etag, uint64_t mtime_ms)
{
    const char *im = http_req_header(r, "if-match");
    const char *inm = http_req_header(r, "if-none-match");
    const char *ims = http_req_header(r, "if-modified-since");
    const char *ius = http_req_header(r, "if-unmodified-since");
    int64_t mtime = (int64_t)(mtime_ms / 1000), t;

    if (im && !s3__etag_matches(im, etag)) {
        http_req_fail(r, AWSERR_S3_PRECONDITION_FAILED, NULL);
        http_req_fail_field(r, "Condition", "If-Match");
        return -1;
    }
    if (!im && ius && s3__http_date_parse(ius, &t) == 0 && mtime > t) {
        http_req_fail(r, AWSERR_S3_PRECONDITION_FAILED, NULL);
        http_req_fail_field(r, "Condition", "If-Unmodified-Since");
        return -1;
    }
    if (inm && s3__etag_matches(inm, etag)) {
        return 1;
    }
    if (!inm && ims && s3__http_date_parse(ims, &t) == 0 && mtime <= t) {
        return 1;
    }
    return 0;
}

/* The byte range of ?partNumber=N: a part of a multipart object, or the whole of any other
 * object as its part 1. Returns 0 or -1 with InvalidArgument / InvalidPartNumber set. */
static int part_range_or_reply(struct http_req *r, const struct s3__obj *o, const char *s,
                               uint64_t *off, uint64_t *len)
{
    char *end;
    long n;
    uint32_t count = o->multipart ? o->n_parts : 1;

    errno = 0;
    n = strtol(s, &end, 10);
    if (errno || end == s || *end || n < 1 || n > S3__PARTS_MAX) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                      "Part number must be an integer between 1 and 10000, inclusive");
        http_req_fail_field(r, "ArgumentName", "partNumber");
        http_req_fail_field(r, "ArgumentValue", s);
        return -1;
    }
    if ((uint32_t)n > count) {
        return http_req_fail(r, AWSERR_S3_INVALID_PART_NUMBER, NULL);
    }
    *off = 0;
    *len = o->size;
    if (o->multipart) {
        for (uint32_t i = 0; i + 1 < (uint32_t)n; i++) {
            *off += s3__obj_part_size(o, i);
        }
        *len = s3__obj_part_size(o, (uint32_t)n - 1);
    }
    return 0;
}

/* x-amz-checksum-mode: ENABLED: the whole object's checksum, or a part's when partNumber
 * names one of a multipart object that kept its parts' checksums. */
static void get_checksum_headers(struct http_req *r, const struct s3__obj *o, const char *part_s,
                                 enum s3__range_result range)
{
    const char *mode = http_req_header(r, "x-amz-checksum-mode");

    if (!mode || strcasecmp(mode, "ENABLED") != 0 || !o->ck.algo) {
        return;
    }
    if (part_s && o->multipart) {
        long n = strtol(part_s, NULL, 10);
        struct s3__checksum pc = { o->ck.algo, S3__CK_FULL_OBJECT, o->part_ck_len, { 0 } };
        if (o->part_cks && o->ck.type == S3__CK_COMPOSITE && n >= 1 &&
            (uint32_t)n <= o->n_parts) {
            memcpy(pc.value, o->part_cks + (size_t)(n - 1) * o->part_ck_len, o->part_ck_len);
            s3__checksum_reply_headers(r, &pc, 0, false);
        }
        return;
    }
    if (range == S3__RANGE_NONE || (part_s && !o->multipart)) {
        s3__checksum_reply_headers(r, &o->ck, o->n_parts, true);
    }
}

static int get_or_head(struct http_req *r, const char *opname)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    MDB_txn *txn = NULL;
    struct s3__obj o;
    uint64_t off = 0, len;
    enum s3__range_result range;
    char etag[S3__ETAG_MAX], lm[30];
    const char *part_s = http_req_query(r, "partNumber");
    const char *vid = http_req_query(r, "versionId");
    struct s3__sse given;
    struct sl_str inl;
    char *inl_copy = NULL;
    int fd = -1;
    int rc;

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    if (t->key.len > S3_KEY_MAX) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    rc = s3__object_open(s3, t->bucket, t->key, vid, &txn, &o, &fd, &inl);
    if (rc == S3__EMARKER) {
        /* A delete marker: 404 as the current version, 405 when named by its id. */
        char mv[33];
        s3__vid_str(&o, mv);
        store_read_end(s3->st, txn);
        http_reply_header(r, "x-amz-delete-marker", "true");
        http_reply_header(r, "x-amz-version-id", mv);
        if (vid) {
            http_req_fail(r, AWSERR_S3_METHOD_NOT_ALLOWED, NULL);
            http_req_fail_field(r, "Method", arena_strndup(&r->arena, r->method.p,
                                                           r->method.len));
            http_req_fail_field(r, "ResourceType", "DeleteMarker");
            return -1;
        }
        rc = S3_ENOKEY;
    }
    if (rc != 0) {
        return s3__version_fail_or_reply(r, t->bucket, t->key, vid, rc, opname);
    }
    if (s3__sse_headers_or_reply(r, &given, false) < 0 ||
        s3__sse_open_check_or_reply(r, &o, &given) < 0) {
        store_read_end(s3->st, txn);
        close(fd);
        return -1;
    }
    s3__sse_reply_headers(r, o.sse_type, o.sse_md5);
    /* Headers are copied into the arena while the snapshot still holds the record. */
    s3__obj_etag(&o, etag);
    s3__time_http(o.mtime_ms, lm);
    rc = get_conditions(r, etag, o.mtime_ms);
    if (rc != 0) {
        store_read_end(s3->st, txn);
        close(fd);
        if (rc > 0) {
            /* 304 Not Modified: no body, the validators only (RFC 9110 15.4.5). */
            http_reply_header(r, "ETag", etag);
            http_reply_header(r, "Last-Modified", lm);
            return http_reply(r, 304, NULL, NULL, 0);
        }
        return -1;
    }
    len = o.size;
    if (part_s) {
        rc = part_range_or_reply(r, &o, part_s, &off, &len);
        if (rc < 0) {
            store_read_end(s3->st, txn);
            close(fd);
            return -1;
        }
        range = len > 0 ? S3__RANGE_PARTIAL : S3__RANGE_NONE;
    }
    else {
        range = s3__range_parse(http_req_header(r, "range"), o.size, &off, &len);
    }
    if (range == S3__RANGE_UNSATISFIABLE) {
        char sz[24];
        snprintf(sz, sizeof sz, "%llu", (unsigned long long)o.size);
        store_read_end(s3->st, txn);
        close(fd);
        http_req_fail(r, AWSERR_S3_INVALID_RANGE, NULL);
        http_req_fail_field(r, "ActualObjectSize", sz);
        http_req_fail_field(r, "RangeRequested", http_req_header(r, "range"));
        return -1;
    }
    if (o.multipart && part_s) {
        http_reply_header(r, "x-amz-mp-parts-count",
                          arena_printf(&r->arena, "%u", (unsigned)o.n_parts));
    }
    get_checksum_headers(r, &o, part_s, range);
    s3__version_reply_headers(r, &o, false);
    if (o.tags.len) {
        http_reply_header(r, "x-amz-tagging-count",
                          arena_printf(&r->arena, "%zu", s3__tags_count(o.tags)));
    }
    http_reply_header(r, "ETag", etag);
    http_reply_header(r, "Last-Modified", lm);
    http_reply_header(r, "Accept-Ranges", "bytes");
    for (size_t i = 0; i < o.n_fields; i++) {
        const struct s3__field *f = &o.fields[i];
        char *name, *value;
        if (sl_str_eq_c(f->name, "content-type")) {
            r->content_type = arena_strndup(&r->arena, f->value.p, f->value.len);
            continue;
        }
        name = arena_strndup(&r->arena, f->name.p, f->name.len);
        value = arena_strndup(&r->arena, f->value.p, f->value.len);
        http_reply_header(r, name, value);
    }
    if (o.inline_body) {
        /* An inline body leaves the snapshot as a copy of the bytes sent (at most
         * S3__INLINE_MAX): cheaper than a file to open for so few bytes. */
        inl_copy = arena_alloc(&r->arena, len ? (size_t)len : 1);
        if (len) {
            memcpy(inl_copy, inl.p + off, (size_t)len);
        }
    }
    store_read_end(s3->st, txn);
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        const char *v = http_req_query(r, overrides[i][0]);
        if (!v) {
            continue;
        }
        if (i == 0) {
            r->content_type = v;
        }
        else {
            http_reply_header(r, overrides[i][1], v);
        }
    }
    if (range == S3__RANGE_PARTIAL) {
        http_reply_header(r, "Content-Range",
                          arena_printf(&r->arena, "bytes %llu-%llu/%llu",
                                       (unsigned long long)off,
                                       (unsigned long long)(off + len - 1),
                                       (unsigned long long)o.size));
    }
    if (o.sse_type) {
        /* Encrypted: decrypted as it is sent, only the chunks the range needs. */
        struct s3__sse_reader *rd = s3__sse_reader_new(s3, fd, &o, &given);
        s3__sse_reader_base(rd, off);
        return http_reply_reader(r, range == S3__RANGE_PARTIAL ? 206 : 200, len,
                                 s3__sse_response_read, s3__sse_reader_free, rd);
    }
    if (o.inline_body) {
        return http_reply(r, range == S3__RANGE_PARTIAL ? 206 : 200, r->content_type, inl_copy,
                          (size_t)len);
    }
    /* The body goes out from the file (E3); MHD closes fd when the response is done. */
    r->status = range == S3__RANGE_PARTIAL ? 206 : 200;
    r->resp_fd = fd;
    r->resp_fd_off = off;
    r->resp_fd_len = len;
    return 0;
}

int s3_get_object(struct http_req *r)
{
    return get_or_head(r, "GetObject");
}

int s3_head_object(struct http_req *r)
{
    return get_or_head(r, "HeadObject");
}

void s3__obj_own(struct arena *a, struct s3__obj *o)
{
    o->key = (struct sl_str){ arena_strndup(a, o->key.p, o->key.len), o->key.len };
    for (size_t i = 0; i < o->n_fields; i++) {
        struct s3__field *f = &o->fields[i];
        f->name = (struct sl_str){ arena_strndup(a, f->name.p, f->name.len), f->name.len };
        f->value = (struct sl_str){ arena_strndup(a, f->value.p, f->value.len), f->value.len };
    }
    if (o->tags.len) {
        o->tags = (struct sl_str){ arena_strndup(a, o->tags.p, o->tags.len), o->tags.len };
    }
    if (o->n_parts) {
        unsigned char *ps = arena_alloc(a, (size_t)o->n_parts * 8);
        memcpy(ps, o->part_sizes, (size_t)o->n_parts * 8);
        o->part_sizes = ps;
    }
    if (o->part_cks) {
        unsigned char *pc = arena_alloc(a, (size_t)o->n_parts * o->part_ck_len);
        memcpy(pc, o->part_cks, (size_t)o->n_parts * o->part_ck_len);
        o->part_cks = pc;
    }
    if (o->part_bodies) {
        unsigned char *pb = arena_alloc(a, (size_t)o->n_parts * 16);
        memcpy(pb, o->part_bodies, (size_t)o->n_parts * 16);
        o->part_bodies = pb;
    }
}

/* ---- the C API's reads ---- */

static int write_sink(void *ctx, const char *p, size_t n)
{
    return write_all(*(int *)ctx, p, n);
}

/* The plain bytes of an encrypted body (SSE-S3; SSE-C needs the client's key) in an
 * unlinked file of objects/, which replaces *fd. Returns 0, -EACCES or -errno. */
static int plain_copy(struct s3 *s3, const struct s3__obj *o, int *fd)
{
    struct s3__sse none;
    struct s3__sse_reader *rd;
    char name[40];
    int out, rc;

    if (o->sse_type != S3__SSE_S3) {
        close(*fd);
        *fd = -1;
        return -EACCES;
    }
    s3__body_name(o->body, name);
    memcpy(name + 32, ".plain", 7);
    rc = s3__objdir_unmark_sync(s3);
    out = rc == 0 ? openat(s3->objdir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                  : -1;
    if (out < 0) {
        rc = rc ? rc : -errno;
        close(*fd);
        *fd = -1;
        return rc;
    }
    unlinkat(s3->objdir_fd, name, 0);
    memset(&none, 0, sizeof none);
    rd = s3__sse_reader_new(s3, *fd, o, &none);
    rc = s3__sse_copy(rd, 0, o->size, write_sink, &out);
    s3__sse_reader_free(rd);
    *fd = rc == 0 ? out : -1;
    if (rc != 0) {
        close(out);
    }
    return rc;
}

int s3_object_open(struct s3 *s3, const char *bucket, struct sl_str key, int *fd,
                   struct s3_object_info *info)
{
    MDB_txn *txn = NULL;
    struct s3__obj o;
    int rc;

    if (key.len == 0 || key.len > S3_KEY_MAX) {
        return S3_EKEY;
    }
    if (!s3__bucket_name_valid(bucket, strlen(bucket))) {
        return S3_ENOBUCKET;
    }
    rc = s3__object_open(s3, bucket, key, NULL, &txn, &o, fd, NULL);
    if (rc == S3__EMARKER) {
        store_read_end(s3->st, txn);
        return S3_ENOKEY;
    }
    if (rc != 0) {
        return rc;
    }
    if (o.sse_type) {
        rc = plain_copy(s3, &o, fd);
        if (rc != 0) {
            store_read_end(s3->st, txn);
            return rc;
        }
    }
    if (info) {
        struct sl_str ct = s3__obj_field(&o, "content-type");
        info->size = o.size;
        info->mtime_ms = o.mtime_ms;
        s3__obj_etag(&o, info->etag);
        snprintf(info->content_type, sizeof info->content_type, "%.*s", (int)ct.len,
                 ct.p ? ct.p : "");
    }
    store_read_end(s3->st, txn);
    return 0;
}
