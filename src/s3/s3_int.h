/*
 * s3_int.h: declarations shared inside src/s3/ (R2); never included from outside.
 *
 * The encodings named here (bucket records, object keys and records, uploads and parts,
 * continuation tokens) are described in docs/formats.md, "S3 buckets and objects", "S3
 * multipart uploads" and "S3 listings".
 */
#ifndef SL_S3_INT_H
#define SL_S3_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"
#include "s3/s3.h"

/* Limits, from the S3 user guide where S3 has one. */
#define S3__META_MAX 2048                 /* x-amz-meta-* names + values ("2 KB") */
#define S3__HDR_VALUE_MAX 8192            /* a kept standard header's value */
#define S3__MAX_BODY (2u * 1024 * 1024)   /* buffered XML request bodies */
#define S3__PUT_MAX (5ull * 1024 * 1024 * 1024)  /* one PutObject: 5 GiB */
#define S3__MAX_KEYS 1000                 /* ListObjects(V2) page */
#define S3__MAX_BUCKETS 10000             /* AWS's quota per account */
#define S3__LIST_XML_MAX (16u * 1024 * 1024)
#define S3__TOKEN_MAX 2048                /* continuation token as sent (base64) */
/* Keys longer than this are kept in LMDB as their first S3__KEY_INLINE bytes and a 16-byte
 * hash (LMDB keys are at most 511 bytes); the full key is in the record. */
#define S3__KEY_INLINE 400
#define S3__KEY_HASH 16
#define S3__LMDB_KEY_MAX (S3_BUCKET_NAME_MAX + 1 + S3__KEY_INLINE + S3__KEY_HASH)
#define S3__GROUP_MAX 100000              /* long keys sharing their inline part, per scan */
#define S3__XMLNS "http://s3.amazonaws.com/doc/2006-03-01/"
#define S3__PARTS_MAX 10000               /* part numbers 1..10000 */
#define S3__PART_MIN (5u * 1024 * 1024)   /* every part but the last: 5 MiB */
#define S3__UPLOADS_MAX 100000            /* uploads in progress per bucket (a listing sorts
                                             them in memory) */
#define S3__JOBS_MAX 64                   /* copies and completions running at once */
#define S3__SYNC_THREADS 32               /* sync threads (sync.c): fsyncs of bodies in flight */
/* A put whose body is announced at most this long (and not encrypted) keeps its bytes in
 * s3.bodies, committed with its record, instead of in a file of objects/ (docs/formats.md,
 * "S3 inline bodies"). 64 KiB: a file costs an inode, two fsyncs and a directory lock, which
 * dwarf writing the bytes below it; above it the bytes dominate either way, while each
 * buffered put and each group of the writer holds its bodies in memory, and LMDB's search for
 * a run of free overflow pages grows with the value's pages (17 at 64 KiB). */
#define S3__INLINE_MAX (64u * 1024)
/* Body bytes a put to a file gathers before one write() (object.c, s3__put_feed). */
#define S3__PUT_WBUF (256u << 10)

struct s3 {
    struct store *st;
    MDB_dbi buckets;            /* bucket name -> bucket record */
    MDB_dbi objects;            /* object key (s3__objkey) -> object record */
    MDB_dbi uploads;            /* bucket 0 upload id -> upload record (multipart.c) */
    MDB_dbi parts;              /* upload id, part number (s3__partkey) -> part record */
    MDB_dbi config;             /* bucket 0 kind (enum s3__cfg) -> a bucket configuration */
    MDB_dbi versions;           /* object key + version sort key -> noncurrent version */
    MDB_dbi events;             /* event sequence (u64 BE) -> a notification to deliver */
    MDB_dbi bodies;             /* body id (16 bytes) -> an inline body's bytes */
    uint64_t ev_seq;            /* the last event sequence; writer thread only */
    bool ev_pending;
    s3_notify_fn notify;        /* the notifier (main.c: Lambda), or NULL */
    void *notify_ctx;
    uint64_t vclock;            /* the last version clock value; writer thread only */
    char *objdir;               /* <data-dir>/objects (owned) */
    int objdir_fd;              /* open on objdir, for fsync after renames */
    /* The clean-shutdown mark was removed at start-up and that removal may not be on the
     * disk yet: s3__objdir_unmark_sync() syncs it before objects/ first changes. */
    atomic_bool unmark_pending;
    pthread_mutex_t unmark_lock;
    bool opened;                /* s3_new() succeeded: s3_free() marks a clean shutdown */
    char region[33];
    char account[13];
    char owner_id[65];          /* the canonical user id in Owner elements (from account) */
    EVP_MD *md5;                /* fetched once (OpenSSL 3 fetches per call otherwise) */
    EVP_CIPHER *aes_gcm;        /* AES-256-GCM, fetched once */
    unsigned char sse_key[32];  /* <data-dir>/s3-sse.key, once sse_key_ready */
    atomic_bool sse_key_ready;  /* loaded at start-up, or made by the first use */
    pthread_mutex_t sse_key_lock;
    char *data_dir;             /* owned: where s3-sse.key is */
    /* Offloaded work (copies, completions) running on threads of their own. */
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_cond;
    unsigned jobs;
    bool stopping;
    /* The lifecycle sweeper (lifecycle.c), waiting on lc_cond under jobs_lock. */
    pthread_t lc_thread;
    pthread_cond_t lc_cond;
    bool lc_running;
    unsigned lc_interval;       /* seconds between sweeps */
    unsigned lc_day;            /* seconds a rule's day lasts */
    /* The sync pool (sync.c): sealed puts waiting for a sync thread, under sq_lock. */
    pthread_mutex_t sq_lock;
    pthread_cond_t sq_cond;     /* a put queued, or stopping */
    struct s3__put *sq_head, *sq_tail;
    unsigned sq_threads, sq_idle;
    bool sq_stopping;
    pthread_t sq_tids[S3__SYNC_THREADS];
    /* The group sync of objects/ (sync.c), rounds numbered from 1, under ds_lock. */
    pthread_mutex_t ds_lock;
    pthread_cond_t ds_cond;     /* a round finished */
    uint64_t ds_started, ds_done, ds_failed;
    bool ds_busy;
    struct http_service svc;
};

/* What route() found in the request, for the handler (r->op_ctx until the handler replaces
 * it with its own state, which then keeps a pointer to it). Arena-owned. */
struct s3__target {
    const char *bucket;         /* NUL-terminated, may be "" (ListBuckets) */
    struct sl_str key;          /* decoded bytes, not NUL-terminated; len 0: no key */
    bool vhost;                 /* the bucket came from the Host header */
};

static inline struct s3 *s3__of(struct http_req *r)
{
    return r->svc->ctx;
}

/* Operation handlers (R5). */
int s3_list_buckets(struct http_req *r);
int s3_create_bucket(struct http_req *r);
int s3_head_bucket(struct http_req *r);
int s3_delete_bucket(struct http_req *r);
int s3_get_bucket_location(struct http_req *r);
int s3_put_object(struct http_req *r);
int s3_get_object(struct http_req *r);
int s3_head_object(struct http_req *r);
int s3_delete_object(struct http_req *r);
int s3_delete_objects(struct http_req *r);
int s3_list_objects(struct http_req *r);
int s3_list_objects_v2(struct http_req *r);
int s3_list_object_versions(struct http_req *r);
int s3_put_bucket_lifecycle(struct http_req *r);
int s3_get_bucket_lifecycle(struct http_req *r);
int s3_delete_bucket_lifecycle(struct http_req *r);
int s3_put_bucket_policy(struct http_req *r);
int s3_get_bucket_policy(struct http_req *r);
int s3_delete_bucket_policy(struct http_req *r);
int s3_put_bucket_notification(struct http_req *r);
int s3_get_bucket_notification(struct http_req *r);
int s3_put_bucket_encryption(struct http_req *r);
int s3_get_bucket_encryption(struct http_req *r);
int s3_delete_bucket_encryption(struct http_req *r);
int s3_put_bucket_versioning(struct http_req *r);
int s3_get_bucket_versioning(struct http_req *r);
int s3_put_object_lock_configuration(struct http_req *r);
int s3_get_object_lock_configuration(struct http_req *r);
int s3_put_object_retention(struct http_req *r);
int s3_get_object_retention(struct http_req *r);
int s3_put_object_legal_hold(struct http_req *r);
int s3_get_object_legal_hold(struct http_req *r);
int s3_copy_object(struct http_req *r);
int s3_create_multipart_upload(struct http_req *r);
int s3_upload_part(struct http_req *r);
int s3_upload_part_copy(struct http_req *r);
int s3_complete_multipart_upload(struct http_req *r);
int s3_abort_multipart_upload(struct http_req *r);
int s3_list_parts(struct http_req *r);
int s3_list_multipart_uploads(struct http_req *r);
int s3_get_object_attributes(struct http_req *r);
int s3_put_bucket_cors(struct http_req *r);
int s3_get_bucket_cors(struct http_req *r);
int s3_delete_bucket_cors(struct http_req *r);
int s3_options_object(struct http_req *r);
int s3_post_object(struct http_req *r);
int s3_get_object_tagging(struct http_req *r);
int s3_put_object_tagging(struct http_req *r);
int s3_delete_object_tagging(struct http_req *r);

/* Queues op for the writer with r waiting on cont (service.c). Returns 0, or -1 with
 * ServiceUnavailable set when the store is shutting down (cont then never runs). */
int s3__submit_or_reply(struct http_req *r, struct store_op *op, int (*cont)(struct http_req *));
/*
 * Runs work(r) on a thread of its own while r waits, for file work that would hold an HTTP
 * thread for seconds (copies, the completion of a multipart upload); then r resumes on an
 * HTTP thread with cont. Returns 0, or -1 with SlowDown / ServiceUnavailable set (cont then
 * never runs). Thread: an HTTP thread.
 */
int s3__offload_or_reply(struct http_req *r, void (*work)(struct http_req *r),
                         int (*cont)(struct http_req *r));
/* Sets NoSuchBucket with its BucketName. Returns -1. */
int s3__no_such_bucket_or_reply(struct http_req *r, const char *bucket);
/* Sets InternalError for a store or system failure rc, logged once here (R37). Returns -1. */
int s3__internal_or_reply(struct http_req *r, const char *what, int rc);
/* Replies with status and b's bytes as application/xml; b is emptied (its bytes now belong
 * to r's arena). Returns 0. */
int s3__reply_xml(struct http_req *r, unsigned status, struct buf *b);
/* The request's target as found by route(). */
static inline struct s3__target *s3__target_of(struct http_req *r)
{
    return r->op_ctx;
}

/* ---- bucket.c ---- */

/* Does name follow S3's bucket naming rules (general purpose buckets)? */
bool s3__bucket_name_valid(const char *name, size_t len);
/* Is bucket in the store (in txn)? Fills *created_ms when not NULL. */
bool s3__bucket_exists(struct s3 *s3, MDB_txn *txn, const char *bucket, uint64_t *created_ms);
/* Does bucket exist in txn? *owner gets its owner's access key id (borrowed from the map;
 * empty when it has none). */
bool s3__bucket_owner(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str *owner);
/* Checks the request's bucket: name valid and bucket present. Returns 0, or -1 with
 * InvalidBucketName / NoSuchBucket set (and the BucketName field). */
int s3__bucket_check_or_reply(struct http_req *r, MDB_txn *txn, const char *bucket);

/* Bucket configurations, one per kind, in s3.config (docs/formats.md, "S3 bucket
 * configurations"). */
enum s3__cfg {
    S3__CFG_CORS = 1,           /* the CORSConfiguration XML as accepted */
    S3__CFG_VERSIONING = 2,     /* one byte: enum s3__vstate */
    S3__CFG_LOCK = 3,           /* u8 enabled, u8 default mode, u32 default days */
    S3__CFG_LIFECYCLE = 4,      /* the LifecycleConfiguration XML as accepted */
    S3__CFG_ENCRYPTION = 5,     /* one byte: 1, the bucket encrypts with SSE-S3 by default */
    S3__CFG_NOTIFICATION = 6,   /* the NotificationConfiguration XML as accepted */
    S3__CFG_POLICY = 7,         /* the bucket policy JSON as accepted */
};
/* The configuration kind of bucket in txn: *out borrows from the map. Returns 0,
 * MDB_NOTFOUND or an LMDB code. */
int s3__cfg_get(struct s3 *s3, MDB_txn *txn, const char *bucket, unsigned kind,
                struct sl_str *out);
/* Sets (value not empty) or removes (empty) a configuration of the request's bucket through
 * the writer, then answers status with no body. value is borrowed until the request ends.
 * Returns 0 (queued) or -1 with an error set. */
int s3__cfg_put_or_reply(struct http_req *r, unsigned kind, struct sl_str value,
                         unsigned status);
/* As s3__cfg_put_or_reply(), with check(s3, txn, bucket, value) run in the writer op first;
 * S3__ESTATE from it answers InvalidBucketState with state_msg. */
int s3__cfg_put_checked_or_reply(struct http_req *r, unsigned kind, struct sl_str value,
                                 unsigned status,
                                 int (*check)(struct s3 *s3, MDB_txn *txn, const char *bucket,
                                              struct sl_str value),
                                 const char *state_msg);
/* Answers the request's bucket's configuration kind as stored (content_type), or the error
 * missing (with BucketName) when it has none. Returns 0 or -1. */
int s3__cfg_reply_or_reply(struct http_req *r, unsigned kind, enum awserr missing,
                           const char *content_type, const char *what);
/* In a writer op: removes every configuration of bucket. */
int s3__cfg_drop_bucket(struct s3 *s3, MDB_txn *txn, const char *bucket);

/* ---- cors.c ---- */

/* Adds the CORS response headers for a request with an Origin header to a bucket with a
 * matching rule (nothing otherwise). Thread: an HTTP thread (one read transaction). */
void s3__cors_headers(struct http_req *r, const char *bucket);

/* The checks of a bucket configuration's request body (r->body), the whole of what its Put
 * refuses before storing it: 0, or -1 with S3's error set. Pure: no store, no bucket. */
int s3__cors_check_or_reply(struct http_req *r);
int s3__lifecycle_check_or_reply(struct http_req *r);
int s3__policy_check_or_reply(struct http_req *r);
/* *empty: the configuration names no function (it turns notifications off). */
int s3__notification_check_or_reply(struct http_req *r, bool *empty);

/* ---- post.c ---- */

/* The multipart/form-data framing of a browser POST alone, for the fuzz target: body split
 * at the offsets cuts (as the network would deliver it), fields read, the file part's bytes
 * counted into *file_size, no policy checked and nothing stored. 0, or -1 with S3's error. */
int s3__post_parse_dry(struct http_req *r, struct sl_str boundary, const char *body, size_t n,
                       const size_t *cuts, size_t n_cuts, uint64_t *file_size);

/* ---- record.c: encodings (docs/formats.md "S3 buckets and objects") ---- */

/* A header kept with an object: lower-case name, value as sent. Borrowed. */
struct s3__field {
    struct sl_str name;
    struct sl_str value;
};

#define S3__FIELDS_MAX 64
#define S3__ETAG_MAX 48             /* "\"<32 hex>-10000\"" and its NUL */

/* A checksum kept with an object or part (x-amz-checksum-*). algo 0: none. */
enum s3__ck_algo {
    S3__CK_NONE = 0,
    S3__CK_CRC32 = 1,
    S3__CK_CRC32C = 2,
    S3__CK_CRC64NVME = 3,
    S3__CK_SHA1 = 4,
    S3__CK_SHA256 = 5,
};
enum s3__ck_type {
    S3__CK_FULL_OBJECT = 0,
    S3__CK_COMPOSITE = 1,       /* a checksum of the parts' checksums, "-N" */
};
struct s3__checksum {
    uint8_t algo;               /* enum s3__ck_algo */
    uint8_t type;               /* enum s3__ck_type */
    uint8_t len;                /* bytes of value */
    unsigned char value[32];
};

/* A decoded object record. Slices borrow from the record bytes (the LMDB map: valid while the
 * read transaction is open) or from the caller's memory when built for encoding. */
struct s3__obj {
    uint64_t size;
    uint64_t mtime_ms;
    unsigned char md5[16];
    unsigned char body[16];         /* the body's id: objects/<32 hex>, or its s3.bodies key */
    bool inline_body;               /* the body is in s3.bodies, not a file */
    struct sl_str key;              /* the full key (from the LMDB key or the record) */
    bool key_in_record;             /* encode the key in the record even when short (uploads
                                       and parts, whose LMDB keys are not the object key) */
    bool multipart;                 /* md5 is the MD5 of the parts' MD5s: ETag "<hex>-<n>" */
    uint32_t n_parts;               /* multipart: the number of parts */
    const unsigned char *part_sizes;    /* multipart: n_parts little-endian u64 (borrowed) */
    struct sl_str tags;             /* the encoded tag set (objattr.c), or empty */
    struct s3__checksum ck;
    const unsigned char *part_cks;  /* multipart with a checksum: n_parts values of
                                       part_ck_len bytes (borrowed), else NULL */
    uint8_t part_ck_len;
    /* Versions (version.c): a record written in a bucket with versioning has a version sort
     * key; its version id is "null" when null_version, else the key's 32 hex digits. */
    bool delete_marker;
    bool null_version;
    bool has_vsk;
    unsigned char vsk[16];
    /* Object Lock: mode (enum s3__lock_mode), retain-until date, legal hold. */
    uint8_t lock_mode;
    bool legal_hold;
    uint64_t retain_until_ms;
    /* Encryption at rest (sse.c): enum s3__sse_type; for SSE-C the customer key's check
     * value and MD5. */
    uint8_t sse_type;
    unsigned char sse_check[32];
    unsigned char sse_md5[16];
    const unsigned char *part_bodies;   /* an encrypted multipart object: each part's body
                                           id, n_parts x 16 bytes (borrowed), else NULL */
    size_t n_fields;
    struct s3__field fields[S3__FIELDS_MAX];
};

/* Builds the LMDB key of (bucket, key) into out (S3__LMDB_KEY_MAX bytes). Returns its length. */
size_t s3__objkey(const char *bucket, struct sl_str key, unsigned char *out);
/* Is an LMDB key of a bucket of length blen a long-key entry (inline part + hash)? */
static inline bool s3__objkey_is_long(size_t lmdb_len, size_t blen)
{
    return lmdb_len == blen + 1 + S3__KEY_INLINE + S3__KEY_HASH;
}
/* Encodes o (with its full key) into a malloc'd record (*len bytes; caller frees). */
unsigned char *s3__obj_encode(const struct s3__obj *o, size_t *len);
/* Decodes a record; lkey is the LMDB key (for the full key of short keys) and blen the
 * bucket's length. Returns 0 or -EINVAL (a corrupt record). */
int s3__obj_decode(const void *rec, size_t len, const void *lkey, size_t lkey_len, size_t blen,
                   struct s3__obj *o);
/* The value of a field (name lower case), or a NULL slice. */
struct sl_str s3__obj_field(const struct s3__obj *o, const char *name);
/* The quoted ETag of o into out: hex MD5, or for a multipart object "<hex>-<parts>". */
void s3__obj_etag(const struct s3__obj *o, char out[S3__ETAG_MAX]);
/* The size of part i (0-based, < o->n_parts) of a multipart object. */
uint64_t s3__obj_part_size(const struct s3__obj *o, uint32_t i);
/* The body file's name (32 hex + NUL) of a body id. */
void s3__body_name(const unsigned char id[16], char out[33]);
/* A new random body id. */
void s3__body_id_new(unsigned char id[16]);

/* Bucket records. */
size_t s3__bucket_encode(uint64_t created_ms, const char *region, const char *owner,
                         unsigned char *out, size_t cap);
/* owner (may be NULL) borrows from rec; empty for a bucket without an owner. */
int s3__bucket_decode(const void *rec, size_t len, uint64_t *created_ms, struct sl_str *owner);

/* Continuation tokens: an opaque base64url string that says where the next page starts. */
enum s3__token_kind {
    S3__AFTER_KEY = 'K',        /* resume after this key */
    S3__AFTER_PREFIX = 'P',     /* resume after every key that starts with this prefix */
};
/* Encodes into the arena; returns a NUL-terminated string. */
char *s3__token_encode(struct arena *a, enum s3__token_kind kind, struct sl_str s);
/* Decodes tok into out (arena). Returns 0 or -EINVAL. */
int s3__token_decode(struct arena *a, const char *tok, enum s3__token_kind *kind,
                     struct sl_str *out);

/* ---- checksum.c ---- */

/* A checksum being computed. algo 0 computes nothing. */
struct s3__ck_ctx {
    uint8_t algo;
    uint64_t crc;
    EVP_MD_CTX *md;
};
int s3__ck_init(struct s3__ck_ctx *c, unsigned algo);
void s3__ck_update(struct s3__ck_ctx *c, const void *p, size_t n);
/* The value, FULL_OBJECT. Call once; then only s3__ck_release(). */
void s3__ck_final(struct s3__ck_ctx *c, struct s3__checksum *out);
void s3__ck_release(struct s3__ck_ctx *c);
/* One-shot. Returns 0 or -ENOMEM. */
int s3__ck_of(unsigned algo, const void *p, size_t n, struct s3__checksum *out);
/* acc := the CRC of (what acc covers) followed by part (part_len bytes). CRCs only:
 * returns 0 or -EINVAL. */
int s3__ck_combine(struct s3__checksum *acc, const struct s3__checksum *part, uint64_t part_len);
/* "CRC32", "x-amz-checksum-crc32", 4 bytes, ... ("" / 0 for S3__CK_NONE). */
const char *s3__ck_name(unsigned algo);
const char *s3__ck_header(unsigned algo);
size_t s3__ck_len(unsigned algo);
bool s3__ck_is_crc(unsigned algo);
/* The algorithm of a name ("crc32", any case) or of a header name; S3__CK_NONE if none. */
unsigned s3__ck_algo_parse(const char *name);
unsigned s3__ck_algo_of_header(struct sl_str name);
/* base64 of the value, "-<parts>" after it for a COMPOSITE checksum of parts > 0 (arena). */
char *s3__ck_b64(struct arena *a, const struct s3__checksum *ck, uint32_t parts);

/* ---- digest.c ---- */

/* A thread that updates md and ck (either may be NULL) with the buffers posted to it, in
 * order. start returns NULL when no thread is free (the caller digests itself). post waits
 * for the job before, then hands over the n bytes at p, which must stay as they are until the
 * next post, wait or stop. Each returns 0, or -EIO once a digest failed. */
struct s3__digester;
struct s3__digester *s3__digester_start(EVP_MD_CTX *md, struct s3__ck_ctx *ck);
int s3__digester_post(struct s3__digester *d, const char *p, size_t n);
int s3__digester_wait(struct s3__digester *d);
/* Waits for the job, ends the thread and frees d. */
int s3__digester_stop(struct s3__digester *d);

/* ---- sse.c ---- */

enum s3__sse_type { S3__SSE_NONE = 0, S3__SSE_S3 = 1, S3__SSE_C = 2 };
#define S3__SSE_CHUNK (64 * 1024)
#define S3__SSE_TAG 16

/* What a request asked for: SSE-S3, or SSE-C with the customer's key. */
struct s3__sse {
    uint8_t type;
    unsigned char ckey[32];
    unsigned char ckey_md5[16];
    unsigned char ckey_check[32];   /* HMAC of the key under the data directory's key */
};
/* Encrypts a body as it is written (chunks of S3__SSE_CHUNK). */
struct s3__sse_writer {
    struct s3 *s3;
    EVP_CIPHER_CTX *ctx;
    unsigned char key[32];
    unsigned char id[16];
    unsigned char *plain, *sealed;
    size_t len;
    uint64_t index;
};
struct s3__sse_reader;

/* Loads <data_dir>/s3-sse.key when it exists (a missing one is made by the first use,
 * s3__sse_key_ready()). Returns 0 or -errno. Main thread, at start-up. */
int s3__sse_init(struct s3 *s3, const char *data_dir);
/* Makes sure the data directory's key exists: on the first use after a start without one,
 * makes it, 32 random bytes written, fsynced, renamed and the directory fsynced, before
 * anything is encrypted or checked with it. Returns 0 or -errno (logged). Any thread. */
int s3__sse_key_ready(struct s3 *s3);
/* x-amz-server-side-encryption and the SSE-C headers of r (the copy source's with
 * copy_source). Returns 0 (out->type 0 when none), or -1 with InvalidArgument set. */
int s3__sse_headers_or_reply(struct http_req *r, struct s3__sse *out, bool copy_source);
/* May given read o? Returns 0 or -1 (InvalidRequest, AccessDenied for a wrong key). */
int s3__sse_open_check_or_reply(struct http_req *r, const struct s3__obj *o,
                                const struct s3__sse *given);
/* The encryption response headers of a body of type (md5: the SSE-C key's). */
void s3__sse_reply_headers(struct http_req *r, uint8_t type, const unsigned char md5[16]);
/* Does the bucket encrypt by default (PutBucketEncryption)? */
bool s3__sse_bucket_default(struct s3 *s3, MDB_txn *txn, const char *bucket);
int s3__sse_writer_init(struct s3__sse_writer *w, struct s3 *s3, const struct s3__sse *sse,
                        const unsigned char id[16]);
int s3__sse_write(struct s3__sse_writer *w, int fd, const char *p, size_t n);
int s3__sse_finish(struct s3__sse_writer *w, int fd);
void s3__sse_writer_release(struct s3__sse_writer *w);
/* A reader of the plain bytes of o's body file fd (owned by the reader from the call on). */
struct s3__sse_reader *s3__sse_reader_new(struct s3 *s3, int fd, const struct s3__obj *o,
                                          const struct s3__sse *sse);
void s3__sse_reader_free(void *rd);
/* Up to max plain bytes from off; returns the count, 0 at the end, -1 when the body fails
 * authentication (tampered, cut, or the wrong key). */
long s3__sse_read(struct s3__sse_reader *rd, uint64_t off, char *buf, size_t max);
/* For http_reply_reader(): off counts from base. */
void s3__sse_reader_base(struct s3__sse_reader *rd, uint64_t base);
long s3__sse_response_read(void *rd, uint64_t off, char *buf, size_t max);
/* The bytes of tags an encrypted body of n plain bytes adds to its file. */
uint64_t s3__sse_overhead(uint64_t n);
/* Feeds n plain bytes from off to sink. Returns 0, -EBADMSG or the sink's code. */
int s3__sse_copy(struct s3__sse_reader *rd, uint64_t off, uint64_t n,
                 int (*sink)(void *ctx, const char *p, size_t len), void *ctx);

/* ---- object.c: a body being written ---- */

/* Codes of writer ops inside src/s3/ (below the public S3_E* range). */
#define S3__EPRECOND (-31150)       /* a condition (If-Match, If-None-Match) failed */
#define S3__ENOUPLOAD (-31151)      /* the multipart upload does not exist */
#define S3__ECHANGED (-31152)       /* a part changed between the check and the commit */
#define S3__ENOVERSION (-31153)     /* no such version of the key */
#define S3__EBADVERSION (-31154)    /* a version id that is none of sluice's */
#define S3__EMARKER (-31155)        /* the version is a delete marker */
#define S3__ELOCKED (-31156)        /* Object Lock protects the version */
#define S3__ENOLOCK (-31157)        /* lock settings for a bucket without Object Lock */
#define S3__ESTATE (-31158)         /* the bucket's state forbids the configuration */
#define S3__EDENIED (-31159)        /* the owner or the bucket policy refuses */

/* Body ids collected by a writer op, for removal after its commit (xmalloc'd). */
struct s3__ids {
    unsigned char *ids;
    size_t n, cap;
};

/* Conditions of a write (If-None-Match: *, If-Match), checked in the writer op against the
 * object it replaces. Borrowed strings (the request's headers). */
struct s3__wcond {
    const char *if_match;
    const char *if_none_match;
};

/*
 * A body being written and the record that will name it: PutObject, UploadPart, copies and
 * the completion of a multipart upload all go through it (object.c's head comment draws its
 * states). The struct is the writer op (base first). For a part, upload names the upload and
 * part_number is set; the record then goes to s3.parts instead of s3.objects.
 */
struct s3__put {
    struct store_op base;
    uint32_t magic;
    struct s3 *s3;
    struct http_req *r;             /* NULL for the C API */
    const char *bucket;
    struct sl_str key;
    int fd;                         /* the temporary file while RECEIVING */
    char *wbuf;                     /* body bytes not yet written to fd (s3__put_feed) */
    size_t wlen;
    char *wspare;                   /* the other write buffer: the digest thread's job */
    struct s3__digester *dg;        /* the digest thread, once a buffer filled (digest.c) */
    bool dg_tried;                  /* a start was tried: once a put */
    uint64_t written_back;          /* body bytes whose writeback was started (s3__put_feed) */
    char tmp[40];                   /* <id>.tmp, relative to objects/ */
    bool tmp_exists;
    bool final_exists;
    bool committed;                 /* set by the op's done() after the commit */
    EVP_MD_CTX *md;
    bool has_md5;                   /* Content-MD5 was sent */
    unsigned char content_md5[16];
    bool md5_set;                   /* obj.md5 is already known (completion): no digest */
    unsigned ck_algo;               /* the checksum to compute into obj.ck (0: none) */
    struct s3__ck_ctx ckc;
    bool ck_expect;                 /* ck_want is the client's value, checked at seal */
    struct s3__checksum ck_want;
    const char *ck_trailer;         /* the aws-chunked trailer that carries the value */
    struct s3__obj obj;
    struct s3__wcond cond;
    /* A part: the upload's id and the part's number (1..10000); 0 for an object. */
    unsigned char upload[16];
    unsigned part_number;
    /* Runs in apply before the record is written (completion drops the upload); returns 0
     * or a code that rolls the op back. And runs at cleanup. Both may be NULL. */
    int (*pre_apply)(struct s3__put *p, MDB_txn *txn);
    void (*on_cleanup)(struct s3__put *p);
    /* C API: copies of what the caller lent, so that a staged put outlives the call. */
    char bucket_buf[S3_BUCKET_NAME_MAX + 1];
    char ctype[256];
    char cenc[256];
    unsigned char lkey[S3__LMDB_KEY_MAX];
    size_t lkey_len;
    unsigned char *rec;             /* xmalloc'd record, freed by cleanup */
    size_t rec_len;
    bool had_old;                   /* set by apply on each run */
    unsigned char old_body[16];
    bool versioned;                 /* the bucket keeps versions (set by apply) */
    struct s3__ids vbodies;         /* bodies no version keeps after the commit (apply) */
    struct s3__sse sse;             /* encrypt the body (set before begin) */
    struct s3__sse_writer ssew;
    unsigned event;                 /* the notification event of the put (0: Put) */
    const char *who;                /* the caller's access key, for events */
    struct s3__put *sync_next;      /* the sync pool's queue link (sync.c) */
    /* An inline body: set want_inline and inl_cap (the announced length, at most
     * S3__INLINE_MAX) before s3__put_begin(); the bytes then gather in inl (xmalloc'd) and
     * obj.inline_body is set. More bytes than announced move them to a file (spill). */
    bool want_inline;
    size_t inl_cap;
    char *inl;
};

/* Writes what s3__put_feed() gathered for p's file: before anything else writes to p->fd.
 * Returns 0 or -errno. */
int s3__put_flush(struct s3__put *p);

/* Opens objects/<id>.tmp for a new body of (bucket, key) (both borrowed until seal), or
 * for an inline body (p->want_inline, not encrypted) a buffer of p->inl_cap bytes.
 * Returns 0 or -errno / -ENOMEM. */
int s3__put_begin(struct s3__put *p, struct s3 *s3, const char *bucket, struct sl_str key);
/* Appends n bytes. Returns 0 or -errno. */
int s3__put_feed(struct s3__put *p, const char *data, size_t n);
/* Finishes the digest, checks Content-MD5 (-EBADMSG) and the checksum (-EILSEQ), and closes
 * the encryption. Cheap: for the HTTP thread, so that a bad digest is answered at once.
 * Returns 0 or -errno. */
int s3__put_finish(struct s3__put *p);
/* After s3__put_finish(): renames the body file to its final name, fsyncs it and objects/
 * (s3__dir_sync) and encodes the record (an inline body: only the record). Blocks on the disk: a sync, job or C API thread,
 * never an HTTP thread but while stopping. Returns 0 or -errno. */
int s3__put_sync(struct s3__put *p);
/* s3__put_finish() then s3__put_sync(), for threads that may block. Returns 0 or -errno. */
int s3__put_seal(struct s3__put *p);
/*
 * After s3__put_finish() on an HTTP thread: r waits while a sync thread makes p's body
 * durable and queues its record (s3__put_apply / s3__put_done, set here); cont then runs
 * once the commit is done or the put failed, with the code in p->base.rc (-ESHUTDOWN: the
 * store stopped). Returns 0, or -1 with an error set (cont then never runs). what names the
 * operation in logs. Thread: an HTTP thread (sync.c).
 */
int s3__put_sync_or_reply(struct http_req *r, struct s3__put *p, const char *what,
                          int (*cont)(struct http_req *r));
/* Returns once an fsync of objects/ that started after the call has finished: the caller's
 * renames done before the call are durable. Any thread. Returns 0 or -EIO (sync.c). */
int s3__dir_sync(struct s3 *s3);
/* The sync pool's life: init in s3_new(); stop (drains the queue, joins the threads) in
 * s3_shutdown(); release in s3_free(). Thread: main (sync.c). */
void s3__sync_init(struct s3 *s3);
/* Makes the start-up's removal of objects/.clean durable (one fsync of objects/, once) before
 * objects/ first changes: a crash after any change must sweep at the next start. Called
 * before a body file is created or removed. Returns 0 or -errno. Any thread. */
int s3__objdir_unmark_sync(struct s3 *s3);
void s3__sync_stop(struct s3 *s3);
void s3__sync_release(struct s3 *s3);
/* The writer op's apply (store_op): conditions, bucket or upload, the record. */
int s3__put_apply(struct store_op *op, MDB_txn *txn);
/* Ends a put whatever state it reached; for arena_on_clear(). */
void s3__put_cleanup(void *arg);
/* done() of an HTTP put: records the result and resumes p->r. */
void s3__put_done(struct store_op *op, int rc);
/* Collects the headers S3 keeps with an object (content headers, x-amz-meta-*) into o.
 * Returns 0 or -1 with MetadataTooLarge / InvalidArgument set. */
int s3__fields_from_request_or_reply(struct http_req *r, struct s3__obj *o);
/* Reads the x-amz-checksum-* headers, x-amz-trailer and x-amz-sdk-checksum-algorithm of r
 * into p (ck_algo, ck_want). Returns 0 or -1 with InvalidRequest set. */
int s3__checksum_headers_or_reply(struct http_req *r, struct s3__put *p);
/* Adds the checksum response headers of ck (x-amz-checksum-<algo>, and x-amz-checksum-type
 * when type is set). */
void s3__checksum_reply_headers(struct http_req *r, const struct s3__checksum *ck,
                                uint32_t parts, bool with_type);
/* Copies n bytes of fd from off into p (bounded buffer, pread). Returns 0 or -errno. */
int s3__put_copy_from(struct s3__put *p, int fd, uint64_t off, uint64_t n);
/* Sets the error for a failed put op (rc its code; what: the operation). Returns -1. */
int s3__put_fail_or_reply(struct http_req *r, struct s3__put *p, const char *what);

/* Does the If-Match / If-None-Match list h match etag (quoted)? "*" matches any. */
bool s3__etag_matches(const char *h, const char *etag);
/* Parses an HTTP date (RFC 1123, RFC 850, asctime) into seconds since the epoch.
 * Returns 0 or -1. */
int s3__http_date_parse(const char *s, int64_t *out);

/* ---- object.c ---- */

/* Opens the body of version vid (NULL: the current one) of (bucket, key), reading again if a
 * concurrent overwrite removed the file the first snapshot named. On success *fd is open
 * (owned by the caller) and *o decoded in *txn, still open (the caller ends it). An inline
 * body is handed out as a memfd holding its bytes, unless inl is not NULL: then *inl gets
 * the bytes (borrowed from the map, valid while *txn is open) and *fd is -1. A delete
 * marker answers S3__EMARKER, *txn open and *o the marker, no fd. Returns 0, S3__EMARKER,
 * S3_ENOBUCKET, S3_ENOKEY, S3__ENOVERSION, S3__EBADVERSION, -errno or a store code. */
int s3__object_open(struct s3 *s3, const char *bucket, struct sl_str key, const char *vid,
                    MDB_txn **txn, struct s3__obj *o, int *fd, struct sl_str *inl);
/* Finds (bucket, key) in txn. Returns 0 with *o decoded (borrowing from the map), or
 * S3_ENOKEY / S3_ENOBUCKET, or a store code. */
int s3__object_lookup(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                      struct s3__obj *o);
/* Copies what o borrows from the map (key, fields, tags, part sizes) into the arena. */
void s3__obj_own(struct arena *a, struct s3__obj *o);

enum s3__range_result {
    S3__RANGE_NONE = 0,         /* no Range, or one S3 ignores: send the whole object */
    S3__RANGE_PARTIAL,          /* send [*off, *off + *len) with 206 */
    S3__RANGE_UNSATISFIABLE,    /* 416 InvalidRange */
};
/* Parses a Range header value against an object of size bytes. */
enum s3__range_result s3__range_parse(const char *h, uint64_t size, uint64_t *off,
                                      uint64_t *len);
/* Removes a body file (no error if already gone). Thread: any. */
void s3__body_unlink(struct s3 *s3, const unsigned char id[16]);
/* In a writer op: the body of o is named by no record any more (a delete, an overwrite, a
 * version dropped). An inline body is deleted from s3.bodies in txn, so that it goes in the
 * same commit as the record; a file's id is added to l, for s3__ids_unlink() after the
 * commit. A delete marker has no body. Returns 0 or an LMDB code. */
int s3__body_drop(struct s3 *s3, MDB_txn *txn, const struct s3__obj *o, struct s3__ids *l);
/* The inline body of o in txn: *out borrows from the map. Returns 0, -EIO when the record
 * names a body that is not there, or an LMDB code. */
int s3__body_get(struct s3 *s3, MDB_txn *txn, const struct s3__obj *o, struct sl_str *out);

/* ---- multipart.c ---- */

/* The LMDB key of part n of upload into out (18 bytes): the id, then n big-endian, so that an
 * upload's parts sort by number. Returns 18. */
size_t s3__partkey(const unsigned char upload[16], unsigned n, unsigned char out[18]);
/* Is upload a multipart upload of (bucket, key) in txn? */
bool s3__upload_exists(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                       const unsigned char upload[16]);
/* The upload id as clients see it (32 hex), in the arena. */
char *s3__upload_id_str(struct arena *a, const unsigned char upload[16]);
/* What a part must follow of its upload. */
struct s3__upload_info {
    unsigned algo;              /* checksum algorithm, 0: none */
    uint8_t sse_type;
    unsigned char sse_check[32];
    unsigned char sse_md5[16];
};
/* Reads ?uploadId and ?partNumber of an UploadPart(Copy) and checks the upload exists;
 * *info gets what its parts follow. Returns 0, or -1 with NoSuchUpload / InvalidArgument
 * set. */
int s3__part_target_or_reply(struct http_req *r, unsigned char upload[16], unsigned *part,
                             struct s3__upload_info *info);
/* The encryption of a part of an upload of info, from the part request's headers into *out.
 * Returns 0 or -1 (SSE-C: the upload's key must be sent again). */
int s3__part_sse_or_reply(struct http_req *r, const struct s3__upload_info *info,
                          struct s3__sse *out);

/* A part as CompleteMultipartUpload lists it, and what the store says of it. */
struct s3__listed_part {
    unsigned number;
    struct sl_str etag;         /* as listed (arena) */
    struct sl_str ck;           /* the listed Checksum<ALGO>, base64 (arena), or empty */
    unsigned ck_algo;
    uint64_t size;              /* the rest: filled from the part's record */
    unsigned char md5[16];
    unsigned char body[16];
    struct s3__checksum stored;
};
/* Parses r's CompleteMultipartUpload body into *parts (arena) and *n. Returns 0, or -1 with
 * MalformedXML set (no part, a part without a number or out of 1..10000, over 10000). */
int s3__complete_xml_or_reply(struct http_req *r, struct s3__listed_part **parts, size_t *n);

void s3__ids_add(struct s3__ids *l, const unsigned char id[16]);
/* Unlinks every collected body and frees the list. Thread: any but the writer. */
void s3__ids_unlink(struct s3 *s3, struct s3__ids *l);
/* In a writer op: deletes upload of (bucket, key) and all its parts, adding the parts' body
 * ids to bodies. Returns 0, S3__ENOUPLOAD, or an LMDB code. */
int s3__upload_drop(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                    const unsigned char upload[16], struct s3__ids *bodies);
/* In a writer op: drops every upload of bucket (DeleteBucket). */
int s3__uploads_drop_bucket(struct s3 *s3, MDB_txn *txn, const char *bucket,
                            struct s3__ids *bodies);

/* ---- objattr.c: tags and GetObjectAttributes ---- */

#define S3__TAGS_MAX 10
/* The tag set of an x-amz-tagging header (URL-encoded "k=v&k2=v2"), encoded into *out
 * (arena; empty without the header). Returns 0 or -1 with InvalidTag / InvalidArgument. */
int s3__tags_from_header_or_reply(struct http_req *r, struct sl_str *out);
/* The tag set of a Tagging body (PutObjectTagging), encoded into *out (arena). Returns 0 or
 * -1 with MalformedXML / InvalidTag set. */
int s3__tags_xml_or_reply(struct http_req *r, struct sl_str *out);
/* The number of tags of an encoded tag set. */
size_t s3__tags_count(struct sl_str tags);

/* ---- version.c ---- */

enum s3__vstate { S3__VER_NONE = 0, S3__VER_ENABLED = 1, S3__VER_SUSPENDED = 2 };
enum s3__lock_mode { S3__LOCK_NONE = 0, S3__LOCK_GOVERNANCE = 1, S3__LOCK_COMPLIANCE = 2 };
struct s3__lock_cfg {
    bool enabled;
    uint8_t mode;               /* default retention mode, 0: none */
    uint32_t days;
};
#define S3__VERKEY_MAX (S3__LMDB_KEY_MAX + 16)

/* The LMDB key of a noncurrent version in s3.versions. Returns its length. */
size_t s3__verkey(const char *bucket, struct sl_str key, const unsigned char vsk[16],
                  unsigned char *out);
/* The version id of o: "null" or 32 hex digits. */
void s3__vid_str(const struct s3__obj *o, char out[33]);
/* Parses a version id. Returns 0 or -1. */
int s3__vid_parse(const char *s, bool *is_null, unsigned char vsk[16]);
/* A new version sort key, later than any before it. Thread: the writer. */
void s3__vsk_next(struct s3 *s3, unsigned char vsk[16]);
/* The bucket's versioning state in txn (enum s3__vstate). */
unsigned s3__versioning(struct s3 *s3, MDB_txn *txn, const char *bucket);
/* The bucket's Object Lock settings in txn (all zero when off). Returns 0. */
int s3__lock_config(struct s3 *s3, MDB_txn *txn, const char *bucket, struct s3__lock_cfg *out);
/* Does Object Lock let o be deleted now? Returns 0 or S3__ELOCKED. */
int s3__lock_check(const struct s3__obj *o, bool bypass, uint64_t now_ms);
/* In a writer op: o (key, fields, body; its version set here) becomes the current version
 * of (bucket, key) in a bucket whose versioning is vstate (ENABLED or SUSPENDED): the old
 * current version becomes noncurrent, or is replaced when both are "null"; bodies that no
 * version keeps any more are added to unlink. Returns 0 or an LMDB code. */
int s3__version_make_current(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                             struct s3__obj *o, unsigned vstate, struct s3__ids *unlink);
/* In a writer op: deletes version vid of (bucket, key) for good (the newest other version
 * becomes current if it was). *gone gets the deleted version's flags and id (its slices are
 * not valid). Returns 0, S3__ENOVERSION, S3__ELOCKED, or an LMDB code. */
int s3__version_delete(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                       const char *vid, bool bypass, struct s3__ids *unlink,
                       struct s3__obj *gone);
/* In a writer op: rewrites the record of version vid (NULL: the current one) after fn
 * changed it (tags, retention, legal hold); the body stays. Returns 0, S3_ENOBUCKET,
 * S3_ENOKEY, S3__ENOVERSION, S3__EMARKER, fn's code or an LMDB code. */
int s3__version_rewrite(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                        const char *vid, int (*fn)(struct s3__obj *o, void *ctx), void *ctx);
/* s3__object_lookup() of version vid (NULL: the current one, which may be a delete marker).
 * Returns 0, S3_ENOBUCKET, S3_ENOKEY, S3__ENOVERSION, S3__EBADVERSION or a store code. */
int s3__object_lookup_version(struct s3 *s3, MDB_txn *txn, const char *bucket,
                              struct sl_str key, const char *vid, struct s3__obj *o);
/* x-amz-object-lock-mode / -retain-until-date / -legal-hold of a write into o. Returns 0 or
 * -1 with InvalidArgument set. */
int s3__lock_headers_or_reply(struct http_req *r, struct s3__obj *o);
/* In a writer op: the bucket's default retention for o when it names none; S3__ENOLOCK when
 * o has lock settings and the bucket has no Object Lock. */
int s3__lock_apply_defaults(struct s3 *s3, MDB_txn *txn, const char *bucket, struct s3__obj *o);
/* "2030-01-01T00:00:00Z" (fraction and zone ignored) in milliseconds. Returns 0 or -1. */
int s3__iso_parse_ms(const char *s, uint64_t *out);
/* Sets the error of a version operation's code. Returns -1. */
int s3__version_fail_or_reply(struct http_req *r, const char *bucket, struct sl_str key,
                              const char *vid, int rc, const char *what);
/* x-amz-version-id (when versioned or the record has a version) and the Object Lock headers
 * of o. */
void s3__version_reply_headers(struct http_req *r, const struct s3__obj *o, bool versioned);

/* ---- policy.c ---- */

/* May key_id do op (an operation name) on bucket (object_key empty for bucket operations)?
 * Returns 0, S3__EDENIED or an LMDB code. */
int s3__policy_decide(struct s3 *s3, MDB_txn *txn, const char *bucket, const char *key_id,
                      const char *op, struct sl_str object_key);
/* The same for the request's caller; returns 0 or -1 with AccessDenied set. */
int s3__authorize_or_reply(struct http_req *r, const char *bucket, struct sl_str key,
                           const char *op);

/* ---- notify.c ---- */

/* Object events (bits, for configurations' filters). */
enum s3__event {
    S3__EV_PUT = 1 << 0,
    S3__EV_POST = 1 << 1,
    S3__EV_COPY = 1 << 2,
    S3__EV_COMPLETE = 1 << 3,
    S3__EV_DELETE = 1 << 4,
    S3__EV_MARKER = 1 << 5,
};
/* "ObjectCreated:Put", ... of one event bit. */
const char *s3__event_name(unsigned ev);
/* In a writer op: records event ev of object o (its key, size, ETag, version) in bucket for
 * every notification configuration it matches, in the same transaction as the change. who:
 * the caller's access key ("" or NULL: anonymous). Returns 0 or an LMDB code. */
int s3__events_record(struct s3 *s3, MDB_txn *txn, const char *bucket, unsigned ev,
                      const struct s3__obj *o, const char *who);
/* Wakes the background thread after a commit that may have recorded events. Any thread. */
void s3__events_kick(struct s3 *s3);
/* Hands up to a batch of recorded events to the notifier; returns how many it took.
 * Thread: the background thread. */
size_t s3__events_deliver(struct s3 *s3);
/* The event sequence from the store. Thread: main, at start-up. */
int s3__events_init(struct s3 *s3);

/* ---- lifecycle.c ---- */

/* Stops the sweeper and waits for it (nothing when it never started). Thread: main. */
void s3__lifecycle_stop(struct s3 *s3);

/* ---- delete.c ---- */

#define S3__DELETE_MAX 1000         /* S3's limit of keys per DeleteObjects request */
/* A parsed Delete body: keys as sent (arena), Quiet. */
struct s3__delete_list {
    struct sl_str *keys;
    const char **vids;          /* VersionId of each key, or NULL */
    size_t n;
    bool quiet;
};
/* What deleting one key did. */
struct s3__del_result {
    int rc;                     /* 0, or S3__ELOCKED: this key's error */
    bool marker;                /* a delete marker was added, or deleted */
    char vid[33];               /* the version deleted or the marker added; "" if none */
};
/* In a writer op: deletes (bucket, key), or its version vid, as the bucket's versioning
 * state vstate says; the bodies no record keeps any more go to unlink; an ObjectRemoved event
 * is recorded for who (NULL: none, for the lifecycle sweeper). Returns 0 with *res, or a code
 * that fails the whole op. */
int s3__delete_one(struct s3 *s3, MDB_txn *txn, const char *bucket, unsigned vstate,
                   struct sl_str key, const char *vid, bool bypass, struct s3__ids *unlink,
                   struct s3__del_result *res, const char *who);
/* Parses r's Delete body. Returns 0, or -1 with MalformedXML set (no key, more than 1000). */
int s3__delete_xml_or_reply(struct http_req *r, struct s3__delete_list *l);

/* ---- copy.c ---- */

/* A parsed x-amz-copy-source and the source it names, opened. */
struct s3__copy_src {
    const char *bucket;
    struct sl_str key;
    const char *vid;                /* ?versionId= of the source, or NULL */
    int fd;                         /* the source body (owned, closed at request end) */
    struct s3__obj obj;             /* the source record; slices copied into the arena */
    struct s3__sse sse;             /* the copy source's SSE-C key, when it has one */
    char etag[S3__ETAG_MAX];
};
/* Opens the copy source of r, checking x-amz-copy-source-if-* conditions. Returns 0, or -1
 * with the error set (NoSuchBucket, NoSuchKey, PreconditionFailed, InvalidArgument). */
int s3__copy_src_open_or_reply(struct http_req *r, struct s3__copy_src *src);

/* ---- list.c ---- */

/* An iterator over one bucket's objects in full-key byte order (s3__objkey() order differs
 * only among long keys sharing their inline part: those are sorted in memory). */
struct s3__group_ent;
struct s3__iter {
    struct s3 *s3;
    MDB_cursor *cur;
    const char *bucket;
    size_t blen;
    struct s3__group_ent *group;    /* sorted long keys (xmalloc'd), gi..gn not yet returned */
    size_t gi, gn;
    struct s3__obj pending;         /* the object seek() stopped at, returned next */
    bool has_pending;
    int rc;                         /* MDB_NOTFOUND at the end, or an error */
    bool started;
};
int s3__iter_init(struct s3__iter *it, struct s3 *s3, MDB_txn *txn, const char *bucket);
/* Positions the iterator at the first object whose key is >= from (or > when strict). */
int s3__iter_seek(struct s3__iter *it, struct sl_str from, bool strict);
/* Returns 0 with the next object in *o, or MDB_NOTFOUND at the end, or an error. */
int s3__iter_next(struct s3__iter *it, struct s3__obj *o);
void s3__iter_release(struct s3__iter *it);
/* Byte order of full keys (memcmp, then the shorter first). */
int s3__key_cmp(struct sl_str a, struct sl_str b);
/* Where key (which starts with prefix) ends its CommonPrefix: just past the first delim after
 * the prefix, or NULL when there is none (or delim is empty). */
const char *s3__delimited(struct sl_str key, struct sl_str prefix, struct sl_str delim);
/* Appends <name>s</name>, URL-encoded first when url (encoding-type=url). */
int s3__xml_key(struct buf *b, const char *name, struct sl_str s, bool url, struct arena *a);
/* The smallest string greater than every string that starts with p, into out (p.len bytes);
 * returns its length, or -1 when there is none (p is all 0xff bytes). */
long s3__prefix_successor(struct sl_str p, unsigned char *out);

/* ---- xml.c ---- */

/* Appends s escaped for XML text (& < > " ' and control characters as references). */
int s3__xml_escape(struct buf *b, struct sl_str s);
/* Appends <name>escaped s</name>. */
int s3__xml_elem(struct buf *b, const char *name, struct sl_str s);
/* ISO 8601 with milliseconds, "2009-10-12T17:50:30.000Z" (25 bytes). */
void s3__time_iso(uint64_t ms, char out[25]);
/* RFC 1123, "Mon, 12 Oct 2009 17:50:30 GMT" (30 bytes). */
void s3__time_http(uint64_t ms, char out[30]);
/* Milliseconds since the epoch, now. */
uint64_t s3__now_ms(void);
/* Base64 decode (standard alphabet, padded) of s into out (cap bytes). Returns the length
 * or -1. */
long s3__base64_decode(struct sl_str s, unsigned char *out, size_t cap);

/* An element's text as a decimal integer, or -1 when it is none (or negative). */
long s3__xml_long(struct sl_str t);
/* The same on any bytes (a stored configuration): returns 0, -1 for XML that fails (or a
 * callback that refused), -ENOMEM. */
int s3__xml_parse(const char *p, size_t n, const char *root,
                  int (*fn)(void *ctx, const char *path, struct sl_str text), void *ctx);
/*
 * Parses an XML request body with expat and calls fn for each element's text with the
 * element's path ("CreateBucketConfiguration/LocationConstraint"). Returns 0, or -1 with
 * MalformedXML set on r. root: the expected root element name.
 */
int s3__xml_parse_or_reply(struct http_req *r, const char *root,
                           int (*fn)(void *ctx, const char *path, struct sl_str text),
                           void *ctx);

#endif
