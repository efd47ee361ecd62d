/*
 * sse.c: server-side encryption of object bodies at rest: SSE-S3 (x-amz-server-side-
 * encryption: AES256, or the bucket's default encryption) under a key kept in the data
 * directory, and SSE-C under the key the client sends with each request; Put/Get/
 * DeleteBucketEncryption.
 *
 * What it is not: KMS (aws:kms is refused), or encryption of metadata (records stay plain).
 *
 * Format (docs/formats.md, "S3 encrypted bodies"): the body file is a run of chunks, each
 * the AES-256-GCM ciphertext of 64 KiB of the object (the last one shorter, possibly empty)
 * followed by its 16-byte tag, so that byte n of the object is in chunk n / 64 KiB at file
 * offset chunk * (64 KiB + 16): a ranged GET decrypts only the chunks it sends. A completed
 * multipart upload is its parts' files joined as they are (no re-encryption, no copy through
 * memory): a run of such segments, each under its part's body id, which the record lists. Each body has
 * its own key: HMAC-SHA256 of the body id under the data directory's key (SSE-S3) or under
 * the customer's key (SSE-C); the nonce of chunk i is the body id's first 8 bytes and i, and
 * the additional data binds the chunk to its body, its index and whether it is the last, so
 * chunks cannot be swapped, moved between bodies or cut off unnoticed. For SSE-C the record
 * keeps an HMAC of the customer key under the data directory's key (to tell a wrong key)
 * and the key's MD5 (to answer with it), never the key.
 *
 * Threads: readers and writers are used by one thread at a time (an HTTP thread, a job
 * thread, or MHD's sending thread for a response reader).
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/sigv4_int.h"
#include "s3/s3_int.h"

#define KEY_FILE "s3-sse.key"

/* ---- the data directory's key ---- */

/*
 * Start-up only reads the key. A data directory without one gets it on its first encrypted
 * put or SSE-C request, not at start-up: making it there cost every new data directory an
 * fsync of a new file before the server could listen (0.5 ms idle, tens of ms with other
 * writers), for the many that never encrypt anything.
 */
int s3__sse_init(struct s3 *s3, const char *data_dir)
{
    char path[4096];
    int fd;
    ssize_t n;

    s3->data_dir = xstrdup(data_dir);
    snprintf(path, sizeof path, "%s/" KEY_FILE, data_dir);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    n = read(fd, s3->sse_key, sizeof s3->sse_key);
    close(fd);
    if (n != (ssize_t)sizeof s3->sse_key) {
        log_error("s3", "%s: not a 32-byte key", path);
        return -EINVAL;
    }
    atomic_store(&s3->sse_key_ready, true);
    return 0;
}

/* Writes a new key to <data_dir>/s3-sse.key durably: whole, fsynced, renamed, and the
 * directory fsynced so that the name survives a crash too. */
static int key_make(struct s3 *s3)
{
    char path[4096], tmp[4112];
    int fd, rc = 0;

    if (RAND_bytes(s3->sse_key, sizeof s3->sse_key) != 1) {
        return -EIO;
    }
    snprintf(path, sizeof path, "%s/" KEY_FILE, s3->data_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return -errno;
    }
    if (write(fd, s3->sse_key, sizeof s3->sse_key) != (ssize_t)sizeof s3->sse_key ||
        fsync(fd) != 0) {
        rc = -EIO;
    }
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
    }
    if (rc == 0) {
        fd = open(s3->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rc = fd < 0 ? -errno : fsync(fd) == 0 ? 0 : -errno;
        if (fd >= 0) {
            close(fd);
        }
    }
    return rc;
}

int s3__sse_key_ready(struct s3 *s3)
{
    int rc = 0;

    if (atomic_load(&s3->sse_key_ready)) {
        return 0;
    }
    pthread_mutex_lock(&s3->sse_key_lock);
    if (!atomic_load(&s3->sse_key_ready)) {
        rc = key_make(s3);
        if (rc == 0) {
            atomic_store(&s3->sse_key_ready, true);
        }
        else {
            OPENSSL_cleanse(s3->sse_key, sizeof s3->sse_key);
            log_error("s3", "cannot make the encryption key of %s: %s", s3->data_dir,
                      strerror(-rc));
        }
    }
    pthread_mutex_unlock(&s3->sse_key_lock);
    return rc;
}

static void hmac(const unsigned char key[32], const char *label, const void *p, size_t n,
                 unsigned char out[32])
{
    unsigned char msg[64];
    size_t l = strlen(label);
    memcpy(msg, label, l);
    memcpy(msg + l, p, n);
    /* Keys and labels are short: one buffer, one MAC. */
    sigv4__hmac(key, 32, msg, l + n, out);
    OPENSSL_cleanse(msg, sizeof msg);
}

/* The key of one body. */
static void body_key(const struct s3 *s3, const struct s3__sse *sse, const unsigned char id[16],
                     unsigned char out[32])
{
    if (sse->type == S3__SSE_C) {
        hmac(sse->ckey, "sluice-sse-c", id, 16, out);
    }
    else {
        hmac(s3->sse_key, "sluice-sse-s3", id, 16, out);
    }
}

/* ---- request headers ---- */

int s3__sse_headers_or_reply(struct http_req *r, struct s3__sse *out, bool copy_source)
{
    const char *pfx = copy_source ? "x-amz-copy-source-server-side-encryption-customer-"
                                  : "x-amz-server-side-encryption-customer-";
    char h_algo[80], h_key[80], h_md5[80];
    const char *algo, *key, *md5, *sse = copy_source ? NULL
                                                     : http_req_header(r,
                                                                       "x-amz-server-side-"
                                                                       "encryption");
    unsigned char k[35], m[19], check[16];
    unsigned int ml = 0;

    memset(out, 0, sizeof *out);
    snprintf(h_algo, sizeof h_algo, "%salgorithm", pfx);
    snprintf(h_key, sizeof h_key, "%skey", pfx);
    snprintf(h_md5, sizeof h_md5, "%skey-MD5", pfx);
    algo = http_req_header(r, h_algo);
    key = http_req_header(r, h_key);
    md5 = http_req_header(r, h_md5);
    if (sse) {
        if (strcmp(sse, "AES256") != 0) {
            return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                                 "Server Side Encryption with %s is not served by sluice; use "
                                 "AES256", sse);
        }
        if (algo || key) {
            return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                                 "Server side encryption specified with both SSE-C and SSE-S3 "
                                 "headers");
        }
        out->type = S3__SSE_S3;
        return 0;
    }
    if (!algo && !key && !md5) {
        return 0;
    }
    if (!algo || strcmp(algo, "AES256") != 0) {
        return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                             "The server side encryption algorithm %s is invalid.",
                             algo ? algo : "(missing)");
    }
    if (!key || s3__base64_decode(sl_str_c(key), k, sizeof k) != 32) {
        return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                             "The secret key was invalid for the specified algorithm.");
    }
    EVP_Digest(k, 32, check, &ml, s3__of(r)->md5, NULL);
    if (!md5 || s3__base64_decode(sl_str_c(md5), m, sizeof m) != 16 ||
        memcmp(m, check, 16) != 0) {
        OPENSSL_cleanse(k, sizeof k);
        return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                             "The calculated MD5 hash of the key did not match the hash that "
                             "was provided.");
    }
    if (s3__sse_key_ready(s3__of(r)) != 0) {
        OPENSSL_cleanse(k, sizeof k);
        return http_req_fail(r, AWSERR_S3_INTERNAL, NULL);
    }
    out->type = S3__SSE_C;
    memcpy(out->ckey, k, 32);
    memcpy(out->ckey_md5, check, 16);
    hmac(s3__of(r)->sse_key, "sluice-sse-c-check", k, 32, out->ckey_check);
    OPENSSL_cleanse(k, sizeof k);
    return 0;
}

int s3__sse_open_check_or_reply(struct http_req *r, const struct s3__obj *o,
                                const struct s3__sse *given)
{
    if (o->sse_type != S3__SSE_C) {
        if (given->type == S3__SSE_C) {
            return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                                 "The encryption parameters are not applicable to this "
                                 "object.");
        }
        return 0;
    }
    if (given->type != S3__SSE_C) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                             "The object was stored using a form of Server Side Encryption. "
                             "The correct parameters must be provided to retrieve the object.");
    }
    if (CRYPTO_memcmp(given->ckey_check, o->sse_check, 32) != 0) {
        return http_req_fail(r, AWSERR_S3_ACCESS_DENIED, NULL);
    }
    return 0;
}

void s3__sse_reply_headers(struct http_req *r, uint8_t type, const unsigned char md5[16])
{
    char b64[25];
    if (type == S3__SSE_S3) {
        http_reply_header(r, "x-amz-server-side-encryption", "AES256");
    }
    else if (type == S3__SSE_C) {
        sl_base64_encode(md5, 16, b64);
        http_reply_header(r, "x-amz-server-side-encryption-customer-algorithm", "AES256");
        http_reply_header(r, "x-amz-server-side-encryption-customer-key-MD5", b64);
    }
}

/* ---- chunks ---- */

static void chunk_iv_aad(const unsigned char id[16], uint64_t i, bool last, unsigned char iv[12],
                         unsigned char aad[25])
{
    memcpy(iv, id, 8);
    for (int b = 0; b < 4; b++) {
        iv[8 + b] = (unsigned char)(i >> (24 - 8 * b));
    }
    memcpy(aad, id, 16);
    for (int b = 0; b < 8; b++) {
        aad[16 + b] = (unsigned char)(i >> (56 - 8 * b));
    }
    aad[24] = last ? 1 : 0;
}

/* Seals one chunk: n bytes of in into out (n + 16 bytes). Returns 0 or -EIO. */
static int seal_chunk(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *c, const unsigned char key[32],
                      const unsigned char id[16], uint64_t i, bool last, const unsigned char *in,
                      size_t n, unsigned char *out)
{
    unsigned char iv[12], aad[25];
    int l = 0;

    chunk_iv_aad(id, i, last, iv, aad);
    if (EVP_EncryptInit_ex(ctx, c, NULL, key, iv) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &l, aad, sizeof aad) != 1 ||
        (n && EVP_EncryptUpdate(ctx, out, &l, in, (int)n) != 1) ||
        EVP_EncryptFinal_ex(ctx, out + n, &l) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, S3__SSE_TAG, out + n) != 1) {
        return -EIO;
    }
    return 0;
}

/* Opens one chunk (n ciphertext bytes then the tag) into out. Returns 0, -EBADMSG (tampered
 * or the wrong key) or -EIO. */
static int open_chunk(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *c, const unsigned char key[32],
                      const unsigned char id[16], uint64_t i, bool last, const unsigned char *in,
                      size_t n, unsigned char *out)
{
    unsigned char iv[12], aad[25], tag[S3__SSE_TAG];
    int l = 0;

    chunk_iv_aad(id, i, last, iv, aad);
    memcpy(tag, in + n, S3__SSE_TAG);
    if (EVP_DecryptInit_ex(ctx, c, NULL, key, iv) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &l, aad, sizeof aad) != 1 ||
        (n && EVP_DecryptUpdate(ctx, out, &l, in, (int)n) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, S3__SSE_TAG, tag) != 1) {
        return -EIO;
    }
    return EVP_DecryptFinal_ex(ctx, out + n, &l) == 1 ? 0 : -EBADMSG;
}

/* ---- writing ---- */

int s3__sse_writer_init(struct s3__sse_writer *w, struct s3 *s3, const struct s3__sse *sse,
                        const unsigned char id[16])
{
    int rc;

    memset(w, 0, sizeof *w);
    if (sse->type == S3__SSE_S3 && (rc = s3__sse_key_ready(s3)) != 0) {
        return rc;
    }
    w->s3 = s3;
    memcpy(w->id, id, 16);
    body_key(s3, sse, id, w->key);
    w->ctx = EVP_CIPHER_CTX_new();
    w->plain = xmalloc(S3__SSE_CHUNK);
    w->sealed = xmalloc(S3__SSE_CHUNK + S3__SSE_TAG);
    return w->ctx ? 0 : -ENOMEM;
}

static int write_full(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return w < 0 ? -errno : -EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int flush_chunk(struct s3__sse_writer *w, int fd, bool last)
{
    int rc = seal_chunk(w->ctx, w->s3->aes_gcm, w->key, w->id, w->index, last, w->plain,
                        w->len, w->sealed);
    if (rc == 0) {
        rc = write_full(fd, w->sealed, w->len + S3__SSE_TAG);
    }
    w->index++;
    w->len = 0;
    return rc;
}

int s3__sse_write(struct s3__sse_writer *w, int fd, const char *p, size_t n)
{
    while (n) {
        size_t take;
        /* A full chunk is sealed only when more follows: the last one is marked last. */
        if (w->len == S3__SSE_CHUNK) {
            int rc = flush_chunk(w, fd, false);
            if (rc != 0) {
                return rc;
            }
        }
        take = S3__SSE_CHUNK - w->len < n ? S3__SSE_CHUNK - w->len : n;
        memcpy(w->plain + w->len, p, take);
        w->len += take;
        p += take;
        n -= take;
    }
    return 0;
}

int s3__sse_finish(struct s3__sse_writer *w, int fd)
{
    return flush_chunk(w, fd, true);
}

void s3__sse_writer_release(struct s3__sse_writer *w)
{
    EVP_CIPHER_CTX_free(w->ctx);
    w->ctx = NULL;
    if (w->plain) {
        OPENSSL_cleanse(w->plain, S3__SSE_CHUNK);
    }
    free(w->plain);
    free(w->sealed);
    w->plain = NULL;
    w->sealed = NULL;
    OPENSSL_cleanse(w->key, sizeof w->key);
}

/* ---- reading ---- */

struct s3__sse_reader {
    struct s3 *s3;
    int fd;                     /* owned */
    struct s3__sse sse;         /* the key the client gave (SSE-C) */
    uint8_t type;
    uint64_t size;
    /* Segments: one for a body written whole; one per part for a completed multipart upload
     * (the parts' files joined as they were, each encrypted under its own body id). */
    uint32_t n_seg;
    const unsigned char *seg_ids;   /* n_seg x 16 bytes (owned copy) */
    uint64_t *seg_plain;        /* n_seg + 1 cumulative plain offsets */
    uint64_t *seg_file;         /* n_seg cumulative file offsets */
    unsigned char key[32];      /* of the segment cached_seg */
    uint32_t key_seg;
    EVP_CIPHER_CTX *ctx;
    unsigned char *sealed;
    unsigned char *plain;
    uint32_t cached_seg;
    uint64_t cached;            /* the chunk in plain, or UINT64_MAX */
    size_t plain_len;
    uint64_t base;              /* a response reader's first byte (off 0 of read()) */
};

static uint64_t chunks_of(uint64_t n)
{
    return n == 0 ? 1 : (n + S3__SSE_CHUNK - 1) / S3__SSE_CHUNK;
}

uint64_t s3__sse_overhead(uint64_t n)
{
    return chunks_of(n) * S3__SSE_TAG;
}

struct s3__sse_reader *s3__sse_reader_new(struct s3 *s3, int fd, const struct s3__obj *o,
                                          const struct s3__sse *sse)
{
    struct s3__sse_reader *rd = xcalloc(1, sizeof *rd);
    unsigned char *ids;

    rd->s3 = s3;
    rd->fd = fd;
    rd->sse = *sse;
    rd->type = o->sse_type;
    rd->size = o->size;
    rd->n_seg = o->part_bodies ? o->n_parts : 1;
    ids = xmalloc((size_t)rd->n_seg * 16);
    memcpy(ids, o->part_bodies ? o->part_bodies : o->body, (size_t)rd->n_seg * 16);
    rd->seg_ids = ids;
    rd->seg_plain = xcalloc(rd->n_seg + 1, sizeof *rd->seg_plain);
    rd->seg_file = xcalloc(rd->n_seg + 1, sizeof *rd->seg_file);
    for (uint32_t k = 0; k < rd->n_seg; k++) {
        uint64_t n = o->part_bodies ? s3__obj_part_size(o, k) : o->size;
        rd->seg_plain[k + 1] = rd->seg_plain[k] + n;
        rd->seg_file[k + 1] = rd->seg_file[k] + n + chunks_of(n) * S3__SSE_TAG;
    }
    rd->key_seg = UINT32_MAX;
    rd->ctx = EVP_CIPHER_CTX_new();
    rd->sealed = xmalloc(S3__SSE_CHUNK + S3__SSE_TAG);
    rd->plain = xmalloc(S3__SSE_CHUNK + S3__SSE_TAG);
    rd->cached = UINT64_MAX;
    return rd;
}

void s3__sse_reader_free(void *arg)
{
    struct s3__sse_reader *rd = arg;
    if (!rd) {
        return;
    }
    if (rd->fd >= 0) {
        close(rd->fd);
    }
    EVP_CIPHER_CTX_free(rd->ctx);
    OPENSSL_cleanse(rd->plain, S3__SSE_CHUNK);
    OPENSSL_cleanse(rd->key, sizeof rd->key);
    OPENSSL_cleanse(&rd->sse, sizeof rd->sse);
    free((void *)rd->seg_ids);
    free(rd->seg_plain);
    free(rd->seg_file);
    free(rd->sealed);
    free(rd->plain);
    free(rd);
}

static int load_chunk(struct s3__sse_reader *rd, uint32_t seg, uint64_t i)
{
    uint64_t seg_len = rd->seg_plain[seg + 1] - rd->seg_plain[seg];
    bool last = i == chunks_of(seg_len) - 1;
    size_t n = last ? (size_t)(seg_len - i * S3__SSE_CHUNK) : S3__SSE_CHUNK;
    off_t at = (off_t)(rd->seg_file[seg] + i * (S3__SSE_CHUNK + S3__SSE_TAG));
    const unsigned char *id = rd->seg_ids + 16 * (size_t)seg;
    size_t got = 0;

    while (got < n + S3__SSE_TAG) {
        ssize_t k = pread(rd->fd, rd->sealed + got, n + S3__SSE_TAG - got, at + (off_t)got);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return k < 0 ? -errno : -EBADMSG; /* cut short */
        }
        got += (size_t)k;
    }
    if (rd->key_seg != seg) {
        struct s3__sse k = rd->sse;
        k.type = rd->type;
        body_key(rd->s3, &k, id, rd->key);
        rd->key_seg = seg;
    }
    rd->cached = UINT64_MAX;
    if (open_chunk(rd->ctx, rd->s3->aes_gcm, rd->key, id, i, last, rd->sealed, n,
                   rd->plain) != 0) {
        log_error("s3", "an encrypted body failed authentication at chunk %llu",
                  (unsigned long long)i);
        return -EBADMSG;
    }
    rd->cached_seg = seg;
    rd->cached = i;
    rd->plain_len = n;
    return 0;
}

long s3__sse_read(struct s3__sse_reader *rd, uint64_t off, char *buf, size_t max)
{
    uint32_t seg = 0;
    uint64_t i, in_seg;
    size_t in, n;

    if (off >= rd->size) {
        return 0;
    }
    while (seg + 1 < rd->n_seg && off >= rd->seg_plain[seg + 1]) {
        seg++;
    }
    in_seg = off - rd->seg_plain[seg];
    i = in_seg / S3__SSE_CHUNK;
    if ((rd->cached != i || rd->cached_seg != seg) && load_chunk(rd, seg, i) != 0) {
        return -1;
    }
    in = (size_t)(in_seg - i * S3__SSE_CHUNK);
    n = rd->plain_len - in < max ? rd->plain_len - in : max;
    memcpy(buf, rd->plain + in, n);
    return (long)n;
}

void s3__sse_reader_base(struct s3__sse_reader *rd, uint64_t base)
{
    rd->base = base;
}

long s3__sse_response_read(void *ctx, uint64_t off, char *buf, size_t max)
{
    struct s3__sse_reader *rd = ctx;
    return s3__sse_read(rd, rd->base + off, buf, max);
}

int s3__sse_copy(struct s3__sse_reader *rd, uint64_t off, uint64_t n,
                 int (*sink)(void *ctx, const char *p, size_t len), void *ctx)
{
    char *buf = xmalloc(S3__SSE_CHUNK);
    int rc = 0;

    while (rc == 0 && n) {
        long got = s3__sse_read(rd, off, buf, n < S3__SSE_CHUNK ? (size_t)n : S3__SSE_CHUNK);
        if (got <= 0) {
            rc = -EBADMSG;
            break;
        }
        rc = sink(ctx, buf, (size_t)got);
        off += (uint64_t)got;
        n -= (uint64_t)got;
    }
    OPENSSL_cleanse(buf, S3__SSE_CHUNK);
    free(buf);
    return rc;
}

/* ---- Put/Get/DeleteBucketEncryption ---- */

static int enc_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    bool *ok = ctx;
    if (strcmp(path, "ServerSideEncryptionConfiguration/Rule/ApplyServerSideEncryptionByDefault/"
                     "SSEAlgorithm") == 0) {
        if (!sl_str_eq_c(text, "AES256")) {
            return -1;
        }
        *ok = true;
    }
    return 0;
}

int s3_put_bucket_encryption(struct http_req *r)
{
    bool ok = false;
    static const char one[1] = { S3__SSE_S3 };

    if (s3__xml_parse(r->body.p, r->body.len, "ServerSideEncryptionConfiguration", enc_xml_cb,
                      &ok) != 0 || !ok) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    return s3__cfg_put_or_reply(r, S3__CFG_ENCRYPTION, (struct sl_str){ one, 1 }, 200);
}

int s3_delete_bucket_encryption(struct http_req *r)
{
    return s3__cfg_put_or_reply(r, S3__CFG_ENCRYPTION, SL_STR_NULL, 204);
}

int s3_get_bucket_encryption(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    struct sl_str v;
    MDB_txn *txn;
    const char *body;
    int rc = store_read_begin(s3->st, &txn);

    if (rc != 0) {
        return s3__internal_or_reply(r, "GetBucketEncryption", rc);
    }
    if (s3__bucket_check_or_reply(r, txn, t->bucket) < 0) {
        store_read_end(s3->st, txn);
        return -1;
    }
    rc = s3__cfg_get(s3, txn, t->bucket, S3__CFG_ENCRYPTION, &v);
    store_read_end(s3->st, txn);
    if (rc == MDB_NOTFOUND) {
        http_req_fail(r, AWSERR_S3_NO_ENCRYPTION, NULL);
        http_req_fail_field(r, "BucketName", t->bucket);
        return -1;
    }
    if (rc != 0) {
        return s3__internal_or_reply(r, "GetBucketEncryption", rc);
    }
    body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServerSideEncryptionConfiguration xmlns=\""
           S3__XMLNS "\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256"
           "</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false"
           "</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";
    return http_reply(r, 200, "application/xml", body, strlen(body));
}

bool s3__sse_bucket_default(struct s3 *s3, MDB_txn *txn, const char *bucket)
{
    struct sl_str v;
    return s3__cfg_get(s3, txn, bucket, S3__CFG_ENCRYPTION, &v) == 0;
}
