/*
 * s3.h: the S3 service, the only header of src/s3/ other folders include (R1).
 *
 * What it is: S3's REST-XML API on the store (buckets, objects, listings), and a C API with
 * which later services put and read objects without HTTP: Firehose delivering into local S3,
 * the query engine reading them. Object bodies are files under <data-dir>/objects/, or for
 * small unencrypted ones entries of the store committed with their record; metadata lives in
 * LMDB (docs/formats.md, "S3 buckets and objects", "S3 inline bodies").
 *
 * What it is not: the HTTP front door (core/http.c), SigV4 (core/sigv4.c), ACLs or IAM
 * (docs/compatibility.md lists what is served). The C API below is not subject to bucket
 * owners or policies: it is sluice's own services that call it. Puts through this C API are not encrypted by
 * a bucket's default encryption; s3_object_open() reads SSE-S3 bodies decrypted (into an
 * unlinked file) and refuses SSE-C ones (-EACCES).
 *
 * Invariants:
 *  - a body file is complete and fsynced, and renamed to its final name, before any
 *    committed metadata references it; so every committed object is readable after a crash;
 *  - a body file is never rewritten: every stored body gets a fresh random id, so an
 *    overwrite or a delete never changes bytes that a concurrent GET is sending;
 *  - a body file that no committed metadata references is garbage: it is removed after the
 *    commit that dropped its last reference, and s3_new() sweeps any left by a crash;
 *  - an inline body is written and removed in the same commit as the record that names it.
 *
 * Threads: s3_new() and s3_free() on the main thread; HTTP handlers on HTTP threads; metadata
 * writes on the writer thread; the C API on background threads as each function says.
 */
#ifndef SL_S3_H
#define SL_S3_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/http.h"
#include "core/store.h"
#include "core/str.h"

/* Module error codes (R12), below the store's range. */
#define S3_ENOBUCKET (-31101)   /* the bucket does not exist */
#define S3_ENOKEY (-31102)      /* the key does not exist */
#define S3_EKEY (-31103)        /* the key is empty or longer than S3_KEY_MAX bytes */
#define S3_ESTOP (-31104)       /* an s3_list() callback asked to stop (not an error) */

#define S3_KEY_MAX 1024           /* S3's limit on a key, in bytes of UTF-8 */
#define S3_BUCKET_NAME_MAX 63

struct s3;

/* Appends S3's Prometheus lines to b (sluice_s3_inline_bodies: the bodies kept in the store
 * instead of as files). For http_server_add_metrics() with ctx the struct s3. Thread: any. */
void s3_metrics(void *ctx, struct buf *b);

/*
 * Opens the service's databases in st, creates <data_dir>/objects/ if missing, sweeps from it
 * every file that no committed object references (temporary files and bodies of a crash), and
 * returns its HTTP service in *svc (owned by the struct s3, valid until s3_free()). data_dir,
 * region and account are copied. Register the service last: its claims() takes every request
 * that no other service claimed. Returns 0, -errno, or a store code. Thread: main, at start-up,
 * before the front door starts.
 */
int s3_new(struct store *st, const char *data_dir, const char *region, const char *account,
           struct s3 **out, struct http_service **svc);
/*
 * Starts S3's background thread: it hands new event notifications to the notifier as they
 * commit, and is the lifecycle sweeper: every interval_s seconds it applies the buckets' lifecycle
 * rules, counting a rule's days as day_s seconds (86400 for S3's days; less to try rules
 * out). 0 picks the defaults (60, 86400). Returns 0 or -errno. Thread: main, after s3_new().
 */
int s3_lifecycle_start(struct s3 *s3, unsigned interval_s, unsigned day_s);
/* An object event for a function (S3 event notifications): function is the ARN the bucket's
 * configuration names, json (len bytes, borrowed for the call) AWS's S3 event message. Returns
 * 0 when the event is queued durably, S3_ENOTIFY_DROP when it never can be (no such
 * function: the event is dropped), anything else to have it offered again later. Called on
 * S3's background thread. */
#define S3_ENOTIFY_DROP (-31105)
typedef int (*s3_notify_fn)(void *ctx, const char *function, const char *json, size_t len);
/* Registers the callback that delivers events (main.c wires it to Lambda: S3 cannot include
 * Lambda's header, a floor above). Events wait in the store until it is set and the
 * background thread runs (s3_lifecycle_start()). Thread: main, before the front door starts. */
void s3_set_notifier(struct s3 *s3, s3_notify_fn fn, void *ctx);
/* Stops the lifecycle sweeper, stops taking offloaded work (copies, multipart completions)
 * and waits until every running one has handed its request back to the front door. Call before the front door stops.
 * s3_shutdown(NULL) does nothing. Thread: main. */
void s3_shutdown(struct s3 *s3);
/* Frees s3 (after the front door and every user of the C API stopped). s3_free(NULL) does
 * nothing. Thread: main. */
void s3_free(struct s3 *s3);

/* What a stored object is: filled by the C API below. */
struct s3_object_info {
    uint64_t size;
    uint64_t mtime_ms;          /* Last-Modified, milliseconds since the epoch */
    char etag[48];              /* quoted hex MD5, "\"d41d8cd98f00b204e9800998ecf8427e\"", or
                                   for a multipart upload "\"<hex>-<parts>\"" */
    char content_type[256];     /* truncated if longer (the HTTP API keeps the whole value) */
};

/* Options of a put; every member may be NULL (content_type NULL means
 * binary/octet-stream). Borrowed for the call. */
struct s3_put_options {
    const char *content_type;
    const char *content_encoding;
};

/*
 * Stores an object in one durable operation: the n bytes at p (s3_put_object_from_buf) or the
 * bytes of fd from offset 0 to its end (s3_put_object_from_fd, fd borrowed and left open) are
 * written to a new body file, fsynced and renamed, then the metadata is committed through the
 * writer, replacing any object of that key (whose body is removed after the commit). A body
 * of at most 64 KiB (a buffer, or a regular file of that size) is instead kept in memory and
 * committed with the metadata, in the store (docs/formats.md, "S3 inline bodies"). When it
 * returns 0 the object survives a crash. bucket, key and opt are borrowed for the call; info
 * (may be NULL) receives what was stored. Returns 0, S3_ENOBUCKET, S3_EKEY, -errno, or a
 * store code. Thread: a background thread (it waits for the writer: never the writer or an
 * HTTP thread).
 */
int s3_put_object_from_buf(struct s3 *s3, const char *bucket, struct sl_str key, const void *p,
                           size_t n, const struct s3_put_options *opt,
                           struct s3_object_info *info);
int s3_put_object_from_fd(struct s3 *s3, const char *bucket, struct sl_str key, int fd,
                          const struct s3_put_options *opt, struct s3_object_info *info);

/*
 * A put in two steps, for a service that must record an object in the same transaction as
 * its own changes (Firehose: the object and the deletion of the buffer it was made from,
 * so that a delivery is exactly-once across crashes):
 *
 *   s3_stage_from_fd / _from_buf  body written, fsynced and renamed (a small one: held in
 *                                 memory, written by apply); nothing visible yet
 *   s3_staged_apply               inside the caller's store_op apply() on the writer thread:
 *                                 records the object in txn (may run again if the writer
 *                                 re-runs the group)
 *   s3_staged_finish              after done(): committed == true removes the body the put
 *                                 replaced; false removes the staged body. Frees sg.
 *
 * Stage: bucket, key, opt and data are borrowed for the call; *out is owned by the caller
 * until s3_staged_finish(). Returns 0, S3_ENOBUCKET (a name S3 refuses; whether the bucket
 * exists is checked by apply), S3_EKEY, -ENAMETOOLONG (an option over 255 bytes) or -errno.
 * Thread: any but the writer; it does file I/O and fsyncs.
 * Apply: returns 0, S3_ENOBUCKET (the bucket does not exist in txn) or an LMDB code, which
 * the caller's apply() returns as its own so the group logic rolls it back. Thread: writer.
 * Finish: Thread: any but the writer (it may unlink a large file). s3_staged_finish(NULL, _)
 * does nothing.
 */
struct s3_staged;
int s3_stage_from_buf(struct s3 *s3, const char *bucket, struct sl_str key, const void *p,
                      size_t n, const struct s3_put_options *opt, struct s3_staged **out);
int s3_stage_from_fd(struct s3 *s3, const char *bucket, struct sl_str key, int fd,
                     const struct s3_put_options *opt, struct s3_staged **out);
int s3_staged_apply(struct s3_staged *sg, MDB_txn *txn);
/* What the staged put will store (size, ETag, content type; mtime is the staging time). */
void s3_staged_info(const struct s3_staged *sg, struct s3_object_info *info);
void s3_staged_finish(struct s3_staged *sg, bool committed);

/*
 * Opens an object's body for reading: *fd (owned by the caller, who closes it) reads the whole
 * body from offset 0, and stays valid and unchanged even if the object is overwritten or
 * deleted meanwhile (an inline body is a memfd holding a copy of its bytes). info (may be
 * NULL) receives the object's metadata.
 * Returns 0, S3_ENOBUCKET, S3_ENOKEY (also for a delete marker), S3_EKEY, -EACCES (an SSE-C
 * body), -errno or a store code. Thread: any but the writer.
 */
int s3_object_open(struct s3 *s3, const char *bucket, struct sl_str key, int *fd,
                   struct s3_object_info *info);

/*
 * Calls fn for each object of bucket whose key starts with prefix and sorts after start_after
 * (both may be empty slices), in key order (bytes, as ListObjectsV2). key and info are
 * borrowed for the call of fn only. fn runs inside a read transaction, so it must be quick
 * and must not wait for the writer; it returns 0 to go on, or a negative code to stop, which
 * s3_list() returns (S3_ESTOP for a plain stop, which s3_list() turns into 0).
 * Returns 0, S3_ENOBUCKET, fn's code, or a store code. Thread: any but the writer.
 */
int s3_list(struct s3 *s3, const char *bucket, struct sl_str prefix, struct sl_str start_after,
            int (*fn)(void *ctx, struct sl_str key, const struct s3_object_info *info),
            void *ctx);

/*
 * Creates a bucket (as CreateBucket, without the HTTP). Returns 0, -EEXIST when it exists,
 * -EINVAL for a name S3 refuses, or a store code. Thread: a background thread.
 */
int s3_bucket_create(struct s3 *s3, const char *bucket);

/* Returns a static sentence for an S3_E* code, or store_strerror()'s for others. */
const char *s3_strerror(int rc);

#endif
