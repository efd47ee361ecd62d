/*
 * async.c: asynchronous (Event) invocations: a durable queue and the worker that runs it.
 *
 * What it is: Invoke with InvocationType Event (and lam_invoke_event) commits the event to
 * lam.async through the writer and answers 202 only then, so an accepted event survives a
 * crash. One worker thread runs queued events in order of arrival, at most ASYNC_INFLIGHT at a
 * time, through the same machinery as RequestResponse. As Lambda does for asynchronous
 * invocation ("Error handling and automatic retries"), an event whose invocation fails is
 * retried twice, one minute after the first failure and two minutes after the second, and then
 * given up (logged); an event whose function no longer exists is dropped. An event is removed
 * from the queue only after its invocation ended, so one that was running at a crash runs
 * again after the restart (at least once, as on Lambda).
 *
 * What it is not: the invocations themselves (env.c). Format: docs/formats.md "Lambda".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "lambda/lam_int.h"

#define ASYNC_INFLIGHT 16
#define ASYNC_SCAN_MAX 1024
#define ASYNC_IDLE_MS 1000
#define REC_VERSION 1
#define REC_HEAD (1 + 1 + 8 + 8 + 36 + 1)   /* version attempts enqueued not_before id len */

long lam__async_retry_delay_ms(unsigned attempt)
{
    switch (attempt) {
    case 1:
        return 60 * 1000;
    case 2:
        return 2 * 60 * 1000;
    default:
        return -1;
    }
}

/* A queued event, decoded (pointers into the record it came from). */
struct rec {
    unsigned attempts;
    uint64_t enqueued_ms;
    uint64_t not_before_ms;
    char request_id[37];
    char name[LAM_NAME_MAX + 1];
    const char *payload;
    size_t len;
};

static int rec_decode(const unsigned char *p, size_t n, struct rec *out)
{
    size_t nl;
    if (n < REC_HEAD || p[0] != REC_VERSION) {
        return -EINVAL;
    }
    out->attempts = p[1];
    out->enqueued_ms = lam__get_be64(p + 2);
    out->not_before_ms = lam__get_be64(p + 10);
    memcpy(out->request_id, p + 18, 36);
    out->request_id[36] = '\0';
    nl = p[54];
    if (nl > LAM_NAME_MAX || n < REC_HEAD + nl) {
        return -EINVAL;
    }
    memcpy(out->name, p + REC_HEAD, nl);
    out->name[nl] = '\0';
    out->payload = (const char *)p + REC_HEAD + nl;
    out->len = n - REC_HEAD - nl;
    return 0;
}

/* Encodes a record (heap, *n bytes). */
static unsigned char *rec_encode(const struct rec *r, size_t *n)
{
    size_t nl = strlen(r->name);
    unsigned char *p = xmalloc(REC_HEAD + nl + r->len);
    p[0] = REC_VERSION;
    p[1] = (unsigned char)r->attempts;
    lam__put_be64(p + 2, r->enqueued_ms);
    lam__put_be64(p + 10, r->not_before_ms);
    memcpy(p + 18, r->request_id, 36);
    p[54] = (unsigned char)nl;
    memcpy(p + REC_HEAD, r->name, nl);
    if (r->len) {
        memcpy(p + REC_HEAD + nl, r->payload, r->len);
    }
    *n = REC_HEAD + nl + r->len;
    return p;
}

/* ---- writer ops ---- */

struct async_op {
    struct store_op base;
    struct lam *l;
    struct http_req *r;         /* NULL for the C API and the worker */
    int kind;                   /* 0 enqueue, 1 delete, 2 replace */
    uint64_t seq;               /* delete / replace: the entry; enqueue: set by apply */
    unsigned char *val;         /* enqueue / replace: the record (heap, owned) */
    size_t len;
};

static int async_apply(struct store_op *op, MDB_txn *txn)
{
    struct async_op *a = (struct async_op *)op;
    unsigned char kb[8];
    MDB_val k = { 8, kb }, v;
    int rc;

    if (a->kind == 0) {
        static const char name[] = "async-seq";
        MDB_val mk = { sizeof name - 1, (void *)name }, mv;
        unsigned char b[8];
        uint64_t cur = 0;
        rc = mdb_get(txn, a->l->meta, &mk, &mv);
        if (rc == 0 && mv.mv_size == 8) {
            cur = lam__get_be64(mv.mv_data);
        }
        else if (rc != MDB_NOTFOUND && rc != 0) {
            return rc;
        }
        a->seq = cur + 1;
        lam__put_be64(b, a->seq);
        mv.mv_size = 8;
        mv.mv_data = b;
        rc = mdb_put(txn, a->l->meta, &mk, &mv, 0);
        if (rc) {
            return rc;
        }
    }
    lam__put_be64(kb, a->seq);
    if (a->kind == 1) {
        rc = mdb_del(txn, a->l->async, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (a->kind == 2 && mdb_get(txn, a->l->async, &k, &v) != 0) {
        return 0; /* gone meanwhile */
    }
    v.mv_size = a->len;
    v.mv_data = a->val;
    return mdb_put(txn, a->l->async, &k, &v, 0);
}

static void kick(struct lam *l)
{
    pthread_mutex_lock(&l->async_mu);
    l->async_kicks++;
    pthread_cond_signal(&l->async_cv);
    pthread_mutex_unlock(&l->async_mu);
}

static int submit_wait(struct lam *l, int kind, uint64_t seq, unsigned char *val, size_t len)
{
    struct async_op op;
    int rc;
    memset(&op, 0, sizeof op);
    op.base.apply = async_apply;
    op.l = l;
    op.kind = kind;
    op.seq = seq;
    op.val = val;
    op.len = len;
    rc = store_submit_wait(l->st, &op.base);
    free(val);
    return rc;
}

static unsigned char *new_event(const char *name, const char *payload, size_t len, size_t *n,
                                char request_id[37])
{
    struct rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.name, sizeof r.name, "%s", name);
    sl_uuid4(r.request_id);
    memcpy(request_id, r.request_id, 37);
    r.enqueued_ms = lam__now_ms();
    r.payload = payload;
    r.len = len;
    return rec_encode(&r, n);
}

/* ---- enqueue: HTTP and C API ---- */

static void enqueue_done(struct store_op *op, int rc)
{
    struct async_op *a = (struct async_op *)op;
    (void)rc;
    http_req_resume(a->r);
}

static void free_cb(void *p)
{
    free(p);
}

static int enqueue_cont(struct http_req *r)
{
    struct async_op *a = r->op_ctx;
    if (a->base.rc) {
        return lam__internal(r, "queueing an Event invocation", a->base.rc);
    }
    kick(a->l);
    /* The request id is the invocation's: the same in its START line and on retries. */
    {
        char id[37];
        memcpy(id, a->val + 18, 36);
        id[36] = '\0';
        http_reply_header(r, "x-amzn-RequestId", id);
    }
    return http_reply(r, 202, NULL, "", 0);
}

int lam__async_enqueue_or_reply(struct http_req *r, const char *name, const char *payload,
                                size_t len)
{
    struct lam *l = lam__of(r);
    struct lam__fnconf c;
    struct async_op *a;
    char id[37];
    int rc = lam__fnconf_load(l, name, &c);

    if (rc == -ENOENT) {
        struct lam__fnref ref;
        memset(&ref, 0, sizeof ref);
        snprintf(ref.name, sizeof ref.name, "%s", name);
        return lam__not_found(r, &ref);
    }
    if (rc) {
        return lam__internal(r, "Invoke", rc);
    }
    lam__fnconf_release(&c);
    a = arena_new(&r->arena, struct async_op);
    a->base.apply = async_apply;
    a->base.done = enqueue_done;
    a->l = l;
    a->r = r;
    a->kind = 0;
    a->val = new_event(name, payload, len, &a->len, id);
    arena_on_clear(&r->arena, free_cb, a->val);
    r->op_ctx = a;
    return lam__submit_or_reply(r, &a->base, enqueue_cont);
}

int lam_invoke_event(struct lam *l, const char *function, const char *payload, size_t len)
{
    struct lam__fnref ref;
    struct lam__fnconf c;
    size_t n;
    char id[37];
    int rc;

    if (len > LAM_ASYNC_PAYLOAD_MAX) {
        return LAM_ETOOLARGE;
    }
    if (len) {
        json_error_t jerr;
        json_t *j = json_loadb(payload, len, JSON_DECODE_ANY, &jerr);
        if (!j) {
            return LAM_EPAYLOAD;
        }
        json_decref(j);
    }
    if (lam__parse_fnref(function, l->region, l->account, true, &ref) != 0 || ref.elsewhere ||
        !lam__qualifier_latest(ref.qualifier)) {
        return LAM_ENOFUNC;
    }
    rc = lam__fnconf_load(l, ref.name, &c);
    if (rc) {
        return rc == -ENOENT ? LAM_ENOFUNC : rc;
    }
    lam__fnconf_release(&c);
    {
        unsigned char *val = new_event(ref.name, payload, len, &n, id);
        rc = submit_wait(l, 0, 0, val, n);
    }
    if (rc == STORE_CLOSED) {
        return LAM_ESHUTDOWN;
    }
    if (rc == 0) {
        kick(l);
    }
    return rc;
}

/* ---- the worker ---- */

/* One event being run (the worker's; its req's done pushes it on l->async_done). */
struct lam__async_done {
    struct lam__async_done *next;
    struct lam_invoke req;
    struct lam *l;
    uint64_t seq;
    unsigned char *raw;         /* a copy of the record (heap) */
    size_t raw_len;
    struct rec rec;             /* decoded from raw */
};

static void job_done(struct lam_invoke *req)
{
    struct lam__async_done *j = req->ctx;
    struct lam *l = j->l;
    pthread_mutex_lock(&l->async_mu);
    j->next = l->async_done;
    l->async_done = j;
    l->async_kicks++;
    pthread_cond_signal(&l->async_cv);
    pthread_mutex_unlock(&l->async_mu);
}

static void job_free(struct lam__async_done *j)
{
    lam_invoke_release(&j->req);
    free(j->raw);
    free(j);
}

/* What becomes of an event whose invocation ended. */
static void settle(struct lam *l, struct lam__async_done *j)
{
    struct lam_invoke *req = &j->req;
    struct rec next;
    long delay;
    size_t n;

    if (req->outcome == LAM_OK) {
        submit_wait(l, 1, j->seq, NULL, 0);
        return;
    }
    if (req->outcome == LAM_FAILED) {
        if (req->rc == LAM_ENOFUNC) {
            log_warn("lambda", "lambda[%s]: dropping event %s: the function does not exist",
                     j->rec.name, j->rec.request_id);
            submit_wait(l, 1, j->seq, NULL, 0);
        }
        return; /* stopping: it stays queued and runs after the restart */
    }
    next = j->rec;
    next.attempts++;
    delay = lam__async_retry_delay_ms(next.attempts);
    if (delay < 0) {
        log_warn("lambda", "lambda[%s]: event %s failed %u times; giving it up: %.*s",
                 j->rec.name, j->rec.request_id, next.attempts,
                 (int)(req->result_len > 300 ? 300 : req->result_len),
                 req->result ? req->result : "");
        submit_wait(l, 1, j->seq, NULL, 0);
        return;
    }
    log_info("lambda", "lambda[%s]: event %s failed (attempt %u); retrying in %ld s",
             j->rec.name, j->rec.request_id, next.attempts, delay / 1000);
    next.not_before_ms = lam__now_ms() + (uint64_t)delay;
    {
        unsigned char *val = rec_encode(&next, &n);
        submit_wait(l, 2, j->seq, val, n);
    }
}

static bool running(struct lam__async_done **run, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++) {
        if (run[i]->seq == seq) {
            return true;
        }
    }
    return false;
}

/* Starts what is due, up to ASYNC_INFLIGHT running. Returns when the next event is due. */
static uint64_t start_due(struct lam *l, struct lam__async_done **run, size_t *n_run)
{
    uint64_t now = lam__now_ms(), next = now + ASYNC_IDLE_MS;
    struct lam__async_done *fresh[ASYNC_INFLIGHT];
    size_t n_fresh = 0;
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    unsigned scanned = 0;
    uint64_t bad = 0;

    if (store_read_begin(l->st, &txn) != 0) {
        return next;
    }
    if (mdb_cursor_open(txn, l->async, &c) == 0) {
        for (int g = mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0 && scanned < ASYNC_SCAN_MAX;
             g = mdb_cursor_get(c, &k, &v, MDB_NEXT), scanned++) {
            struct rec rec;
            uint64_t seq;
            struct lam__async_done *j;
            if (k.mv_size != 8) {
                continue;
            }
            seq = lam__get_be64(k.mv_data);
            if (running(run, *n_run, seq)) {
                continue;
            }
            if (rec_decode(v.mv_data, v.mv_size, &rec) != 0) {
                bad = seq;
                continue;
            }
            if (rec.not_before_ms > now) {
                if (rec.not_before_ms < next) {
                    next = rec.not_before_ms;
                }
                continue;
            }
            if (*n_run + n_fresh == ASYNC_INFLIGHT) {
                break;
            }
            j = xcalloc(1, sizeof *j);
            j->l = l;
            j->seq = seq;
            j->raw = xmalloc(v.mv_size);
            memcpy(j->raw, v.mv_data, v.mv_size);
            j->raw_len = v.mv_size;
            rec_decode(j->raw, j->raw_len, &j->rec);
            fresh[n_fresh++] = j;
        }
        mdb_cursor_close(c);
    }
    store_read_end(l->st, txn);
    if (bad) {
        log_warn("lambda", "dropping an unreadable queued event (%llu)", (unsigned long long)bad);
        submit_wait(l, 1, bad, NULL, 0);
    }
    for (size_t i = 0; i < n_fresh; i++) {
        struct lam__async_done *j = fresh[i];
        int rc;
        j->req.function = j->rec.name;
        j->req.payload = j->rec.payload;
        j->req.len = j->rec.len;
        j->req.done = job_done;
        j->req.ctx = j;
        /* Every attempt of an event has the id Invoke answered with. */
        memcpy(j->req.request_id, j->rec.request_id, sizeof j->req.request_id);
        run[(*n_run)++] = j;
        rc = lam_invoke(l, &j->req);
        if (rc < 0) {
            /* Throttled or stopping: it stays queued; look again soon. */
            (*n_run)--;
            job_free(j);
            next = now + ASYNC_IDLE_MS;
        }
    }
    return next;
}

static void *async_main(void *arg)
{
    struct lam *l = arg;
    struct lam__async_done *run[ASYNC_INFLIGHT];
    size_t n_run = 0;

    for (;;) {
        struct lam__async_done *list;
        uint64_t next = lam__now_ms() + ASYNC_IDLE_MS, seen;
        struct timespec dl;
        bool stop;

        pthread_mutex_lock(&l->async_mu);
        list = l->async_done;
        l->async_done = NULL;
        stop = l->async_stop;
        seen = l->async_kicks;
        pthread_mutex_unlock(&l->async_mu);
        while (list) {
            struct lam__async_done *j = list;
            list = j->next;
            settle(l, j);
            for (size_t i = 0; i < n_run; i++) {
                if (run[i] == j) {
                    run[i] = run[--n_run];
                    break;
                }
            }
            job_free(j);
        }
        if (stop) {
            if (n_run == 0) {
                return NULL;
            }
        }
        else {
            next = start_due(l, run, &n_run);
        }
        dl.tv_sec = (time_t)(next / 1000);
        dl.tv_nsec = (long)(next % 1000) * 1000000L;
        pthread_mutex_lock(&l->async_mu);
        while (l->async_kicks == seen && !l->async_done && (!l->async_stop || stop)) {
            if (pthread_cond_timedwait(&l->async_cv, &l->async_mu, &dl) == ETIMEDOUT) {
                break;
            }
        }
        pthread_mutex_unlock(&l->async_mu);
    }
}

int lam__async_start(struct lam *l)
{
    if (pthread_create(&l->async_thread, NULL, async_main, l) != 0) {
        return -EAGAIN;
    }
    l->async_started = true;
    return 0;
}

void lam__async_stop(struct lam *l)
{
    if (!l->async_started) {
        return;
    }
    pthread_mutex_lock(&l->async_mu);
    l->async_stop = true;
    pthread_cond_signal(&l->async_cv);
    pthread_mutex_unlock(&l->async_mu);
    pthread_join(l->async_thread, NULL);
    l->async_started = false;
}
