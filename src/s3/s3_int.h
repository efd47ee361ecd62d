/*
 * s3_int.h: declarations shared inside src/s3/ (R2); never included from outside.
 *
 * The encodings named here (bucket records, object keys and records, continuation tokens) are
 * described in docs/formats.md, "S3 buckets and objects".
 */
#ifndef SL_S3_INT_H
#define SL_S3_INT_H

#include <openssl/evp.h>
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

struct s3 {
    struct store *st;
    MDB_dbi buckets;            /* bucket name -> bucket record */
    MDB_dbi objects;            /* object key (s3__objkey) -> object record */
    char *objdir;               /* <data-dir>/objects (owned) */
    int objdir_fd;              /* open on objdir, for fsync after renames */
    char region[33];
    char account[13];
    char owner_id[65];          /* the canonical user id in Owner elements (from account) */
    EVP_MD *md5;                /* fetched once (OpenSSL 3 fetches per call otherwise) */
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

/* Queues op for the writer with r waiting on cont (service.c). Returns 0, or -1 with
 * ServiceUnavailable set when the store is shutting down (cont then never runs). */
int s3__submit_or_reply(struct http_req *r, struct store_op *op, int (*cont)(struct http_req *));
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
/* Checks the request's bucket: name valid and bucket present. Returns 0, or -1 with
 * InvalidBucketName / NoSuchBucket set (and the BucketName field). */
int s3__bucket_check_or_reply(struct http_req *r, MDB_txn *txn, const char *bucket);

/* ---- record.c: encodings (docs/formats.md "S3 buckets and objects") ---- */

/* A header kept with an object: lower-case name, value as sent. Borrowed. */
struct s3__field {
    struct sl_str name;
    struct sl_str value;
};

#define S3__FIELDS_MAX 64

/* A decoded object record. Slices borrow from the record bytes (the LMDB map: valid while the
 * read transaction is open) or from the caller's memory when built for encoding. */
struct s3__obj {
    uint64_t size;
    uint64_t mtime_ms;
    unsigned char md5[16];
    unsigned char body[16];         /* the body file's id: objects/<32 hex> */
    struct sl_str key;              /* the full key (from the LMDB key or the record) */
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
/* The quoted hex ETag of o into out (35 bytes). */
void s3__obj_etag(const struct s3__obj *o, char out[35]);
/* The body file's name (32 hex + NUL) of a body id. */
void s3__body_name(const unsigned char id[16], char out[33]);
/* A new random body id. */
void s3__body_id_new(unsigned char id[16]);

/* Bucket records. */
size_t s3__bucket_encode(uint64_t created_ms, const char *region, unsigned char *out,
                         size_t cap);
int s3__bucket_decode(const void *rec, size_t len, uint64_t *created_ms);

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

/* ---- object.c ---- */

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

/*
 * Parses an XML request body with expat and calls fn for each element's text with the
 * element's path ("CreateBucketConfiguration/LocationConstraint"). Returns 0, or -1 with
 * MalformedXML set on r. root: the expected root element name.
 */
int s3__xml_parse_or_reply(struct http_req *r, const char *root,
                           int (*fn)(void *ctx, const char *path, struct sl_str text),
                           void *ctx);

#endif
