/*
 * poller.c: the poller of an event source mapping: reads a DynamoDB stream after its
 * checkpoint, invokes the function with batches of records, and commits the checkpoint.
 *
 * What it is: one thread per enabled mapping. Its loop, with the states of a batch:
 *
 *   EMPTY --strm_read() after the checkpoint finds records--> GATHERING
 *   GATHERING --BatchSize records, or MaximumBatchingWindowInSeconds passed--> READY
 *   READY --invoke (RequestResponse) succeeded; checkpoint committed through the writer--> EMPTY
 *   READY --invoke failed--> READY again after a backoff (0.5 s doubling to 10 s)
 *
 * A failed batch is retried, the same records in the same event, until it succeeds (Lambda's
 * default MaximumRetryAttempts -1 for streams, bounded only by the records' retention), so the
 * records of the shard reach the function in order, each batch after the one before it
 * succeeded. The checkpoint (lam.esm_pos) is the sequence number of the last record of the
 * last batch that succeeded; it is committed only if the mapping still exists, and read back
 * at start-up, so a restart neither skips nor replays an acknowledged batch (a batch whose
 * invocation succeeded but whose checkpoint a crash cut off runs again: at least once, as on
 * Lambda). Waiting for records uses strm_wait(), woken by the commits that append them.
 *
 * The event is the one Lambda sends for DynamoDB streams: {"Records": [...]}, each record as
 * GetRecords returns it plus "eventSourceARN", the stream's ARN.
 *
 * What it is not: the mapping records and their API (esm.c). The invocation goes through a
 * struct lam__invoker (lam_invoke_wait in production, a fake in the unit tests, R31).
 *
 * Threads: the poller's own; lam__poller_stop() from any other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "lambda/lam_int.h"

#define WAIT_MS 250
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 10000

struct lam__poller {
    struct lam__poller *next;       /* the service's list (esm.c) */
    struct lam__poller_env env;
    struct lam__poller_cfg cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                      /* under mu */
    bool exited;                    /* under mu */
    const char *result;             /* under mu: LastProcessingResult */
    uint64_t checkpoint;            /* under mu */
};

json_t *lam__ddb_event(const json_t *records, const char *stream_arn)
{
    json_t *out = json_array();
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec) {
        json_t *c = json_copy(rec);
        json_object_set_new(c, "eventSourceARN", json_string(stream_arn));
        json_array_append_new(out, c);
    }
    return json_pack("{s:o}", "Records", out);
}

static bool stopping(struct lam__poller *p)
{
    bool s;
    pthread_mutex_lock(&p->mu);
    s = p->stop;
    pthread_mutex_unlock(&p->mu);
    return s;
}

/* Sleeps ms unless asked to stop. Returns true when stopping. */
static bool nap(struct lam__poller *p, unsigned ms)
{
    struct timespec dl;
    bool s;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        if (pthread_cond_timedwait(&p->cv, &p->mu, &dl) == ETIMEDOUT) {
            break;
        }
    }
    s = p->stop;
    pthread_mutex_unlock(&p->mu);
    return s;
}

static void set_result(struct lam__poller *p, const char *r)
{
    pthread_mutex_lock(&p->mu);
    p->result = r;
    pthread_mutex_unlock(&p->mu);
}

struct pos_op {
    struct store_op base;
    struct lam__poller *p;
    uint64_t seq;
};

static int pos_apply(struct store_op *op, MDB_txn *txn)
{
    struct pos_op *o = (struct pos_op *)op;
    const char *uuid = o->p->cfg.uuid;
    MDB_val k = { strlen(uuid), (void *)uuid }, v;
    unsigned char b[8];
    if (mdb_get(txn, o->p->env.esm, &k, &v) != 0) {
        return -ENOENT; /* deleted meanwhile: nothing to remember */
    }
    lam__put_be64(b, o->seq);
    v.mv_size = 8;
    v.mv_data = b;
    return mdb_put(txn, o->p->env.esm_pos, &k, &v, 0);
}

/* Adds to batch the records after *last (up to the batch size), waiting at most
 * the batching window for more. Returns 0, or a negative code when the stream is gone. */
static int gather(struct lam__poller *p, json_t *batch, uint64_t *last)
{
    uint64_t deadline = lam__now_ms() + (uint64_t)p->cfg.window_s * 1000u;
    for (;;) {
        bool closed = false;
        size_t have = json_array_size(batch);
        int rc;
        if (have >= p->cfg.batch_size) {
            return 0;
        }
        rc = strm_read(p->env.streams, p->cfg.stream_arn, *last,
                       (unsigned)(p->cfg.batch_size - have), batch, last, &closed);
        if (rc) {
            return rc;
        }
        have = json_array_size(batch);
        if (have >= p->cfg.batch_size || (have > 0 && lam__now_ms() >= deadline)) {
            return 0;
        }
        if (closed || stopping(p)) {
            return 0;
        }
        if (have > 0) {
            uint64_t left = deadline - lam__now_ms();
            rc = strm_wait(p->env.streams, p->cfg.stream_arn, *last,
                           (unsigned)(left < WAIT_MS ? left : WAIT_MS));
        }
        else {
            rc = strm_wait(p->env.streams, p->cfg.stream_arn, *last, WAIT_MS);
            if (rc == -ETIMEDOUT) {
                return 0;
            }
        }
        if (rc && rc != -ETIMEDOUT) {
            return rc == -ECANCELED ? 0 : rc;
        }
    }
}

static void *poller_main(void *arg)
{
    struct lam__poller *p = arg;
    json_t *batch = NULL;
    uint64_t batch_last = 0;
    unsigned backoff = BACKOFF_MIN_MS;
    unsigned failures = 0;

    while (!stopping(p)) {
        struct lam_invoke inv;
        struct pos_op op;
        char *text;
        int rc;
        bool ok;

        if (!batch) {
            pthread_mutex_lock(&p->mu);
            batch_last = p->checkpoint;
            pthread_mutex_unlock(&p->mu);
            batch = json_array();
            rc = gather(p, batch, &batch_last);
            if (rc == -ENOENT) {
                set_result(p, "PROBLEM: Stream not found");
            }
            if (rc || json_array_size(batch) == 0) {
                json_decref(batch);
                batch = NULL;
                if (rc && nap(p, 1000)) {
                    break;
                }
                continue;
            }
        }
        {
            json_t *ev = lam__ddb_event(batch, p->cfg.stream_arn);
            text = json_dumps(ev, JSON_COMPACT);
            json_decref(ev);
        }
        memset(&inv, 0, sizeof inv);
        inv.function = p->cfg.function;
        inv.payload = text;
        inv.len = strlen(text);
        rc = p->env.invoker.invoke(p->env.invoker.ctx, &inv);
        free(text);
        ok = rc == 0 && inv.outcome == LAM_OK;
        if (!ok && ((rc == 0 && inv.outcome == LAM_FAILED && inv.rc == LAM_ESHUTDOWN) ||
                    rc == LAM_ESHUTDOWN)) {
            lam_invoke_release(&inv);
            break;
        }
        if (ok) {
            memset(&op, 0, sizeof op);
            op.base.apply = pos_apply;
            op.p = p;
            op.seq = batch_last;
            rc = store_submit_wait(p->env.st, &op.base);
            lam_invoke_release(&inv);
            if (rc) {
                /* The mapping is gone or the store is stopping: nothing more to do. */
                break;
            }
            pthread_mutex_lock(&p->mu);
            p->checkpoint = batch_last;
            p->result = "OK";
            pthread_mutex_unlock(&p->mu);
            json_decref(batch);
            batch = NULL;
            backoff = BACKOFF_MIN_MS;
            failures = 0;
            continue;
        }
        failures++;
        if (failures == 1 || (failures & (failures - 1)) == 0) {
            log_warn("lambda", "event source mapping %s: %s failed on a batch of %zu records "
                     "(%u times): %.*s; retrying", p->cfg.uuid, p->cfg.function,
                     json_array_size(batch), failures,
                     (int)(inv.result_len > 200 ? 200 : inv.result_len),
                     inv.result ? inv.result : lam_strerror(rc ? rc : inv.rc));
        }
        set_result(p, "PROBLEM: Function call failed");
        lam_invoke_release(&inv);
        if (nap(p, backoff)) {
            break;
        }
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    json_decref(batch);
    pthread_mutex_lock(&p->mu);
    p->exited = true;
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct lam__poller *lam__poller_start(const struct lam__poller_env *env,
                                      const struct lam__poller_cfg *cfg)
{
    struct lam__poller *p = xcalloc(1, sizeof *p);
    p->env = *env;
    p->cfg = *cfg;
    p->checkpoint = cfg->checkpoint;
    p->result = "No records processed";
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, poller_main, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    return p;
}

void lam__poller_signal(struct lam__poller *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

bool lam__poller_exited(struct lam__poller *p)
{
    bool e;
    pthread_mutex_lock(&p->mu);
    e = p->exited;
    pthread_mutex_unlock(&p->mu);
    return e;
}

void lam__poller_stop(struct lam__poller *p)
{
    if (!p) {
        return;
    }
    lam__poller_signal(p);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

const char *lam__poller_result(struct lam__poller *p)
{
    const char *r;
    pthread_mutex_lock(&p->mu);
    r = p->result;
    pthread_mutex_unlock(&p->mu);
    return r;
}

uint64_t lam__poller_checkpoint(struct lam__poller *p)
{
    uint64_t c;
    pthread_mutex_lock(&p->mu);
    c = p->checkpoint;
    pthread_mutex_unlock(&p->mu);
    return c;
}

const char *lam__poller_uuid(const struct lam__poller *p)
{
    return p->cfg.uuid;
}

struct lam__poller **lam__poller_next(struct lam__poller *p)
{
    return &p->next;
}
