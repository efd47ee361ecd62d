/*
 * deliver.c: the flusher: turns each delivery stream's durable buffer into S3 objects.
 *
 * What it is: one thread that looks at every stream's buffer, and when the buffer holds
 * SizeInMBs or its oldest record is IntervalInSeconds old (whichever first; interval 0 means
 * at once), builds one object of the oldest records (raw bytes concatenated, as Firehose
 * writes them; gzip for GZIP) and delivers it:
 *
 *   stage the body (file written, fsynced, renamed; invisible)
 *     -> one writer op: record the object in S3 + delete exactly the delivered records
 *     -> finish the stage (drop the replaced or the unused body)
 *
 * so that after a crash either both the object and the deletion happened or neither did:
 * exactly-once delivery into the local S3. Object keys are Firehose's:
 * <prefix><YYYY/MM/DD/HH/><stream>-<version>-<YYYY-MM-DD-HH-MM-SS>-<uuid>[.gz], the time
 * being the oldest delivered record's arrival, in UTC.
 *
 * What it is not: the API (api.c). A delivery that fails (no such bucket) is retried with
 * backoff; the records stay buffered meanwhile.
 *
 * Invariants: only this thread deletes buffered records (besides DeleteDeliveryStream); a
 * scan copies records out of its read transaction before any writer op is waited for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "core/log.h"
#include "core/mem.h"
#include "firehose/fh_int.h"

#define FH_SCAN_MIN_MS 100      /* at most ten scans a second, however busy the puts */
#define FH_IDLE_MS 1000
#define FH_RETRY_MS 5000
#define FH_MAX_JOBS 64
#define FH_MAX_STREAMS_BACKOFF 256

struct job {
    uint32_t id;
    char name[FH_NAME_MAX + 1];
    char bucket[256];
    char *prefix;               /* heap */
    bool gzip;
    uint64_t first_seq;
    uint64_t last_seq;
    uint64_t oldest_ms;
    size_t count;
    struct buf body;
};

struct backoff {
    uint32_t id;
    uint64_t until_ms;
};

static struct backoff g_backoff[FH_MAX_STREAMS_BACKOFF];

static uint64_t backoff_until(uint32_t id)
{
    for (size_t i = 0; i < FH_MAX_STREAMS_BACKOFF; i++) {
        if (g_backoff[i].id == id) {
            return g_backoff[i].until_ms;
        }
    }
    return 0;
}

static void backoff_set(uint32_t id, uint64_t until)
{
    size_t free_slot = FH_MAX_STREAMS_BACKOFF;
    for (size_t i = 0; i < FH_MAX_STREAMS_BACKOFF; i++) {
        if (g_backoff[i].id == id) {
            g_backoff[i].until_ms = until;
            return;
        }
        if (free_slot == FH_MAX_STREAMS_BACKOFF && (g_backoff[i].id == 0 ||
                                                     g_backoff[i].until_ms < fh__now_ms())) {
            free_slot = i;
        }
    }
    if (free_slot < FH_MAX_STREAMS_BACKOFF) {
        g_backoff[free_slot].id = id;
        g_backoff[free_slot].until_ms = until;
    }
}

void fh__wake(struct fh *f)
{
    pthread_mutex_lock(&f->mu);
    f->puts++;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void job_release(struct job *j)
{
    free(j->prefix);
    buf_release(&j->body);
}

/*
 * Looks at one stream's buffer. Fills j when a delivery is due; otherwise lowers *next_ms
 * to when one will be. Returns true when j was filled.
 */
static bool scan_stream(MDB_cursor *c, const json_t *e, uint64_t now, uint64_t *next_ms,
                        struct job *j)
{
    const json_t *dest = json_object_get(json_array_get(json_object_get(e, "Destinations"), 0),
                                         "ExtendedS3DestinationDescription");
    const json_t *hints = json_object_get(dest, "BufferingHints");
    uint64_t size_limit = (uint64_t)json_integer_value(json_object_get(hints, "SizeInMBs")) *
                          1024u * 1024u;
    uint64_t interval_ms =
        (uint64_t)json_integer_value(json_object_get(hints, "IntervalInSeconds")) * 1000u;
    uint32_t id = (uint32_t)json_integer_value(json_object_get(e, "Id"));
    unsigned char kb[12];
    MDB_val k = { 12, kb }, v;
    uint64_t total = 0, oldest = 0;
    bool due = false;
    int g;

    if (backoff_until(id) > now) {
        if (backoff_until(id) < *next_ms) {
            *next_ms = backoff_until(id);
        }
        return false;
    }
    fh__put_be32(kb, id);
    memset(kb + 4, 0, 8);
    for (g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 12 || fh__get_be32(k.mv_data) != id || v.mv_size < 8) {
            break;
        }
        if (oldest == 0) {
            oldest = fh__get_be64(v.mv_data);
            if (now >= oldest + interval_ms) {
                due = true;
            }
        }
        total += v.mv_size - 8;
        if (total >= size_limit) {
            due = true;
            break;
        }
    }
    if (oldest == 0) {
        return false;
    }
    if (!due) {
        if (oldest + interval_ms < *next_ms) {
            *next_ms = oldest + interval_ms;
        }
        return false;
    }
    /* Due: copy the oldest records, up to the size limit (at least one). */
    memset(j, 0, sizeof *j);
    j->id = id;
    snprintf(j->name, sizeof j->name, "%s",
             json_string_value(json_object_get(e, "DeliveryStreamName")));
    snprintf(j->bucket, sizeof j->bucket, "%s",
             json_string_value(json_object_get(dest, "BucketARN")) + 13);
    j->prefix = xstrdup(json_is_string(json_object_get(dest, "Prefix"))
                            ? json_string_value(json_object_get(dest, "Prefix"))
                            : "");
    j->gzip = strcmp(json_string_value(json_object_get(dest, "CompressionFormat")), "GZIP") == 0;
    j->oldest_ms = oldest;
    buf_init(&j->body, (size_t)size_limit + FH_RECORD_MAX);
    k.mv_size = 12;
    k.mv_data = kb;
    for (g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        size_t n;
        if (k.mv_size != 12 || fh__get_be32(k.mv_data) != id || v.mv_size < 8) {
            break;
        }
        n = v.mv_size - 8;
        if (j->count > 0 && j->body.len + n > size_limit) {
            break;
        }
        if (buf_append(&j->body, (const char *)v.mv_data + 8, n) < 0) {
            break;
        }
        if (j->count == 0) {
            j->first_seq = fh__get_be64((unsigned char *)k.mv_data + 4);
        }
        j->last_seq = fh__get_be64((unsigned char *)k.mv_data + 4);
        j->count++;
    }
    return j->count > 0;
}

/* gzip (RFC 1952) of in, into a heap buffer. Returns 0 or -ENOMEM. */
static int gzip_buf(const char *in, size_t n, char **out, size_t *outlen)
{
    z_stream zs;
    uLong bound;
    int rc;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        return -ENOMEM;
    }
    bound = deflateBound(&zs, (uLong)n) + 32;
    *out = xmalloc(bound);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (Bytef *)*out;
    zs.avail_out = (uInt)bound;
    rc = deflate(&zs, Z_FINISH);
    *outlen = zs.total_out;
    deflateEnd(&zs);
    if (rc != Z_STREAM_END) {
        free(*out);
        *out = NULL;
        return -ENOMEM;
    }
    return 0;
}

struct deliver_op {
    struct store_op base;
    struct fh *f;
    struct job *j;
    struct s3_staged *sg;
};

static int deliver_apply(struct store_op *op, MDB_txn *txn)
{
    struct deliver_op *d = (struct deliver_op *)op;
    MDB_cursor *c;
    unsigned char kb[12];
    MDB_val k = { 12, kb }, v;
    int rc = s3_staged_apply(d->sg, txn);
    if (rc) {
        return rc;
    }
    rc = mdb_cursor_open(txn, d->f->buffer, &c);
    if (rc) {
        return rc;
    }
    fh__put_be32(kb, d->j->id);
    fh__put_be64(kb + 4, d->j->first_seq);
    for (int g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 12 || fh__get_be32(k.mv_data) != d->j->id ||
            fh__get_be64((unsigned char *)k.mv_data + 4) > d->j->last_seq) {
            break;
        }
        rc = mdb_cursor_del(c, 0);
        if (rc) {
            break;
        }
    }
    mdb_cursor_close(c);
    return rc;
}

static void deliver(struct fh *f, struct job *j)
{
    struct deliver_op op;
    struct s3_staged *sg = NULL;
    struct s3_put_options opt = { NULL, NULL };
    char key[2048], uuid[37], hour[32], stamp[32];
    char *gz = NULL;
    const char *body = j->body.p ? j->body.p : "";
    size_t len = j->body.len;
    time_t t = (time_t)(j->oldest_ms / 1000);
    struct tm tm;
    int rc;

    gmtime_r(&t, &tm);
    strftime(hour, sizeof hour, "%Y/%m/%d/%H/", &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d-%H-%M-%S", &tm);
    sl_uuid4(uuid);
    snprintf(key, sizeof key, "%s%s%s-1-%s-%s%s", j->prefix, hour, j->name, stamp, uuid,
             j->gzip ? ".gz" : "");
    if (j->gzip) {
        if (gzip_buf(body, len, &gz, &len) < 0) {
            log_error("firehose", "firehose[%s]: gzip failed", j->name);
            return;
        }
        body = gz;
    }
    rc = s3_stage_from_buf(f->s3, j->bucket, sl_str_c(key), body, len, &opt, &sg);
    free(gz);
    if (rc) {
        log_warn("firehose", "firehose[%s]: cannot stage s3://%s/%s: %s; retrying in %d s",
                 j->name, j->bucket, key, s3_strerror(rc), FH_RETRY_MS / 1000);
        backoff_set(j->id, fh__now_ms() + FH_RETRY_MS);
        return;
    }
    memset(&op, 0, sizeof op);
    op.base.apply = deliver_apply;
    op.f = f;
    op.j = j;
    op.sg = sg;
    rc = store_submit_wait(f->st, &op.base);
    s3_staged_finish(sg, rc == 0);
    if (rc) {
        log_warn("firehose", "firehose[%s]: delivery to s3://%s failed: %s; retrying in %d s",
                 j->name, j->bucket, s3_strerror(rc), FH_RETRY_MS / 1000);
        backoff_set(j->id, fh__now_ms() + FH_RETRY_MS);
        return;
    }
    log_debug("firehose", "firehose[%s]: delivered %zu records (%zu bytes) to s3://%s/%s",
              j->name, j->count, len, j->bucket, key);
}

/* One pass over every stream: deliver what is due. Returns when the next one will be. */
static uint64_t flush_pass(struct fh *f)
{
    struct job *jobs = xcalloc(FH_MAX_JOBS, sizeof *jobs);
    size_t n = 0;
    uint64_t now = fh__now_ms();
    uint64_t next = now + FH_IDLE_MS;
    MDB_txn *txn = NULL;
    MDB_cursor *sc = NULL, *bc = NULL;
    MDB_val k, v;

    if (store_read_begin(f->st, &txn) == 0) {
        if (mdb_cursor_open(txn, f->streams, &sc) == 0 &&
            mdb_cursor_open(txn, f->buffer, &bc) == 0) {
            for (int g = mdb_cursor_get(sc, &k, &v, MDB_FIRST); g == 0 && n < FH_MAX_JOBS;
                 g = mdb_cursor_get(sc, &k, &v, MDB_NEXT)) {
                json_error_t jerr;
                json_t *e = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
                if (!e) {
                    continue;
                }
                if (scan_stream(bc, e, now, &next, &jobs[n])) {
                    n++;
                }
                json_decref(e);
            }
        }
        if (bc) {
            mdb_cursor_close(bc);
        }
        if (sc) {
            mdb_cursor_close(sc);
        }
        store_read_end(f->st, txn);
    }
    for (size_t i = 0; i < n; i++) {
        deliver(f, &jobs[i]);
        job_release(&jobs[i]);
        /* A stream may have more due right away (a full buffer): look again soon. */
        next = now;
    }
    free(jobs);
    return next;
}

void *fh__flusher_main(void *arg)
{
    struct fh *f = arg;
    for (;;) {
        uint64_t next = flush_pass(f);
        uint64_t now = fh__now_ms();
        uint64_t earliest = now + FH_SCAN_MIN_MS;
        struct timespec dl;
        uint64_t seen;
        bool stop;

        if (next < earliest) {
            next = earliest;
        }
        dl.tv_sec = (time_t)(next / 1000);
        dl.tv_nsec = (long)(next % 1000) * 1000000L;
        pthread_mutex_lock(&f->mu);
        seen = f->puts;
        while (!f->stopping) {
            /* Puts wake us, but a scan runs at most every FH_SCAN_MIN_MS. */
            if (f->puts != seen && fh__now_ms() >= earliest) {
                break;
            }
            if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT) {
                break;
            }
            if (f->puts != seen && fh__now_ms() < earliest) {
                struct timespec e2 = { (time_t)(earliest / 1000),
                                       (long)(earliest % 1000) * 1000000L };
                if (e2.tv_sec < dl.tv_sec ||
                    (e2.tv_sec == dl.tv_sec && e2.tv_nsec < dl.tv_nsec)) {
                    dl = e2;
                }
            }
        }
        stop = f->stopping;
        pthread_mutex_unlock(&f->mu);
        if (stop) {
            return NULL;
        }
    }
}
