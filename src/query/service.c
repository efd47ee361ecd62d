/*
 * service.c: POST /_sluice/query, SQL over the archive through the front door.
 *
 * What it is: a REST-JSON service that claims the one path /_sluice/query. The request is
 * authenticated with SigV4 like every other (any service name in the credential scope; the
 * `sluice query` command signs for "sluice"). The body is {"sql": "..."}; the answer is
 * qry_run()'s (docs/formats.md, "Queries"); errors are JSON with `__type` and `message`.
 *
 * Threads. A query may run for its whole time limit, and the front door has only a few HTTP
 * threads, so the handler only checks the request, queues a job and suspends the request
 * (http_req_pending). QRY__WORKERS threads (options.workers) take jobs in order, run them and
 * resume the request (http_req_resume), whose continuation sends the answer from an HTTP
 * thread. At most queue_max jobs wait; one more is refused with TooManyRequestsException (429)
 * before any work is done.
 *
 *   handler: check --queue--> WAITING (queued) --worker takes it--> running --resume-->
 *   continuation: answer or error (DONE)
 *
 * Invariants: a job lives in its request's arena and is touched by its worker only between
 * taking it and resuming the request (after which the request may be freed); every queued
 * job is resumed exactly once, also when the service stops (its query is then cancelled or
 * answered ServiceUnavailable), so no suspended request outlives the workers.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "query/qry_int.h"

#define QRY__WORKERS_MAX 16
#define QRY__MAX_BODY (1024 * 1024)     /* {"sql": ...}: room for 64 KiB of SQL, escaped */
#define QRY__JOB_MAGIC 0x9e7a3b15u

struct qry__job {
    uint32_t magic;             /* QRY__JOB_MAGIC (E7): r->op_ctx crosses a void * */
    struct qry__job *next;      /* queue link (E5) */
    struct http_req *r;
    char *sql;                  /* arena */
    size_t len;
    int rc;                     /* qry_run()'s */
    char *answer;               /* malloc'd by qry_run(), freed with the arena */
    size_t answer_len;
    char err[512];
};

struct qry {
    struct s3 *s3;
    struct qry_limits lim;
    unsigned queue_max;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct qry__job *head;      /* under mu: waiting jobs, oldest first */
    struct qry__job *tail;
    unsigned queued;            /* under mu */
    bool stopping;              /* under mu */
    bool stopped;               /* main thread only */
    atomic_bool cancel;         /* set when stopping: running queries end */
    pthread_t workers[QRY__WORKERS_MAX];
    unsigned n_workers;
    struct http_service svc;
};

static int qry_query(struct http_req *r);

static const struct http_op qry_ops[] = {
    { "Query", qry_query, 0 },
};

static void *worker_main(void *arg)
{
    struct qry *q = arg;

    for (;;) {
        struct qry__job *job;

        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->stopping) {
            pthread_cond_wait(&q->cv, &q->mu);
        }
        job = q->head;
        if (!job) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        q->head = job->next;
        if (!q->head) {
            q->tail = NULL;
        }
        q->queued--;
        pthread_mutex_unlock(&q->mu);

        /* While stopping, cancel is set: what is left of the queue drains at once. */
        job->rc = qry_run(q->s3, job->sql, job->len, &q->lim, &q->cancel, &job->answer,
                          &job->answer_len, job->err, sizeof job->err);
        http_req_resume(job->r);    /* job may be freed from here on */
    }
}

static void job_clear(void *p)
{
    struct qry__job *job = p;
    free(job->answer);
    job->answer = NULL;
}

/* Sets the error of a failed query (R13) and returns -1. */
static int query_fail_or_reply(struct http_req *r, int rc, const char *msg)
{
    switch (rc) {
    case QRY_ESQL:
        return http_req_fail(r, AWSERR_QUERY_INVALID, "%s", msg);
    case QRY_ENOBUCKET:
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND, "%s", msg);
    case QRY_ETIMEOUT:
        return http_req_fail(r, AWSERR_QUERY_TIMEOUT, "%s", msg);
    case QRY_ETOOLONG:
        return http_req_fail(r, AWSERR_VALIDATION, "%s", msg);
    case QRY_ELIMIT:
        return http_req_fail(r, AWSERR_LIMIT_EXCEEDED, "%s", msg);
    case QRY_ECANCELLED:
        return http_req_fail(r, AWSERR_SERVICE_UNAVAILABLE, NULL);
    }
    log_error("query", "%s: %s", r->request_id, msg);
    return http_req_fail(r, AWSERR_INTERNAL, "%s", msg);
}

/* The continuation: runs on an HTTP thread once the worker resumed the request. */
static int query_done(struct http_req *r)
{
    struct qry__job *job = r->op_ctx;

    assert(job && job->magic == QRY__JOB_MAGIC);
    if (job->rc != 0) {
        return query_fail_or_reply(r, job->rc, job->err);
    }
    return http_reply(r, 200, "application/json", job->answer, job->answer_len);
}

static void json_free_cb(void *p)
{
    json_decref(p);
}

/* POST /_sluice/query. Returns 0 with the request waiting for a worker, or -1 with the error
 * set (a body that is no {"sql": "..."}, SQL over the limit, a full queue, a stopping
 * service). */
static int qry_query(struct http_req *r)
{
    struct qry *q = r->svc->ctx;
    struct qry__job *job;
    json_error_t jerr;
    json_t *in;
    const json_t *sql;

    in = json_loadb(r->body.p ? r->body.p : "", r->body.len, 0, &jerr);
    if (!in) {
        return http_req_fail(r, AWSERR_SERIALIZATION, "%s", jerr.text);
    }
    arena_on_clear(&r->arena, json_free_cb, in);
    sql = json_object_get(in, "sql");
    if (!sql) {
        return http_req_fail(r, AWSERR_VALIDATION, "1 validation error detected: Value null "
                             "at 'sql' failed to satisfy constraint: Member must not be null");
    }
    if (!json_is_string(sql)) {
        return http_req_fail(r, AWSERR_SERIALIZATION,
                             "Unexpected value type for 'sql': expected a string");
    }
    if (json_string_length(sql) == 0 || json_string_length(sql) > q->lim.sql_max) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: Value at 'sql' failed to satisfy "
                             "constraint: Member must have length %s %zu",
                             json_string_length(sql) ? "less than or equal to"
                                                     : "greater than or equal to",
                             json_string_length(sql) ? q->lim.sql_max : (size_t)1);
    }
    job = arena_new(&r->arena, struct qry__job);
    job->magic = QRY__JOB_MAGIC;
    job->r = r;
    job->len = json_string_length(sql);
    job->sql = arena_strndup(&r->arena, json_string_value(sql), job->len);
    arena_on_clear(&r->arena, job_clear, job);
    r->op_ctx = job;

    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        return http_req_fail(r, AWSERR_SERVICE_UNAVAILABLE, NULL);
    }
    if (q->queued >= q->queue_max) {
        pthread_mutex_unlock(&q->mu);
        return http_req_fail(r, AWSERR_QUERY_BUSY,
                             "%u queries are already waiting to run; retry later.", q->queued);
    }
    /* Pending before queued: a worker may resume the request as soon as the lock drops. */
    http_req_pending(r, query_done);
    if (q->tail) {
        q->tail->next = job;
    }
    else {
        q->head = job;
    }
    q->tail = job;
    q->queued++;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

static bool claims(const struct http_req *r)
{
    return sl_str_eq_c(r->raw_path, "/_sluice/query");
}

static const struct http_op *route(struct http_req *r)
{
    if (!sl_str_eq_c(r->method, "POST")) {
        http_req_fail(r, AWSERR_UNKNOWN_OPERATION, "%.*s /_sluice/query: use POST with a JSON "
                      "body {\"sql\": \"...\"}", (int)r->method.len, r->method.p);
        return NULL;
    }
    return &qry_ops[0];
}

int qry_new(struct s3 *s3, const struct qry_options *opt, struct qry **out,
            struct http_service **svc)
{
    struct qry *q = xcalloc(1, sizeof *q);
    unsigned workers = opt && opt->workers ? opt->workers : 2;

    if (workers > QRY__WORKERS_MAX) {
        workers = QRY__WORKERS_MAX;
    }
    q->s3 = s3;
    if (opt) {
        q->lim = opt->limits;
    }
    else {
        qry_limits_default(&q->lim);
    }
    q->queue_max = opt && opt->queue_max ? opt->queue_max : 16;
    atomic_init(&q->cancel, false);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->svc.name = "query";
    q->svc.proto = HTTP_PROTO_REST_JSON;
    q->svc.signing_name = "sluice";
    q->svc.error_ns = "";       /* errors carry a plain __type, "InvalidQueryException" */
    q->svc.ops = qry_ops;
    q->svc.n_ops = sizeof qry_ops / sizeof qry_ops[0];
    q->svc.claims = claims;
    q->svc.route = route;
    q->svc.max_body = QRY__MAX_BODY;
    q->svc.ctx = q;
    for (unsigned i = 0; i < workers; i++) {
        int rc = pthread_create(&q->workers[i], NULL, worker_main, q);
        if (rc != 0) {
            qry_free(q);
            return -rc;
        }
        q->n_workers++;
    }
    *out = q;
    *svc = &q->svc;
    return 0;
}

void qry_stop(struct qry *q)
{
    if (!q || q->stopped) {
        return;
    }
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    atomic_store(&q->cancel, true);
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < q->n_workers; i++) {
        pthread_join(q->workers[i], NULL);
    }
    q->stopped = true;
}

void qry_free(struct qry *q)
{
    if (!q) {
        return;
    }
    qry_stop(q);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    free(q);
}
