/*
 * invoke.c: Invoke over HTTP (POST /2015-03-31/functions/{name}/invocations) and the C API of
 * lambda.h with which other services invoke functions.
 *
 * What it is: the invocation types of the API reference:
 *   RequestResponse  the request is suspended until the function answers; 200 with the
 *                    payload, X-Amz-Executed-Version, and on failure X-Amz-Function-Error:
 *                    Unhandled with the error JSON as payload; LogType Tail adds
 *                    X-Amz-Log-Result (base64 of the last 4 KB of the log)
 *   Event            queued durably (async.c), 202 once committed
 *   DryRun           204 when the function exists
 * Payloads must be JSON (InvalidRequestContentException otherwise), at most 6 MB for
 * RequestResponse and 256 KB for Event (RequestEntityTooLargeException, checked on the
 * announced length before the body is read, service.c, and again on the body).
 *
 * What it is not: environments (env.c), the queue of Event invocations (async.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "lambda/lam_int.h"

/* ---- the C API ---- */

int lam_invoke(struct lam *l, struct lam_invoke *req)
{
    struct lam__fnref ref;
    struct lam__inv *inv;
    int rc;

    req->outcome = LAM_OK;
    req->rc = 0;
    req->result = NULL;
    req->result_len = 0;
    req->log_tail = NULL;
    req->function_error = NULL;
    if (req->len > LAM_SYNC_PAYLOAD_MAX) {
        return LAM_ETOOLARGE;
    }
    if (!req->request_id[0]) {
        sl_uuid4(req->request_id);
    }
    if (lam__parse_fnref(req->function, l->region, l->account, true, &ref) != 0 ||
        ref.elsewhere || !lam__qualifier_latest(ref.qualifier)) {
        req->outcome = LAM_FAILED;
        req->rc = LAM_ENOFUNC;
        req->done(req);
        return 0;
    }
    inv = xcalloc(1, sizeof *inv);
    inv->req = req;
    rc = lam__fnconf_load(l, ref.name, &inv->conf);
    if (rc) {
        free(inv);
        req->outcome = LAM_FAILED;
        req->rc = rc == -ENOENT ? LAM_ENOFUNC : rc;
        req->done(req);
        return 0;
    }
    rc = lam__dispatch(l, inv);
    if (rc) {
        lam__fnconf_release(&inv->conf);
        free(inv);
        return rc;
    }
    return 0;
}

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
};

static void wait_done(struct lam_invoke *req)
{
    struct waiter *w = req->ctx;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int lam_invoke_wait(struct lam *l, struct lam_invoke *req)
{
    struct waiter w;
    void *ctx = req->ctx;
    int rc;

    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.done = false;
    req->ctx = &w;
    req->done = wait_done;
    rc = lam_invoke(l, req);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done) {
            pthread_cond_wait(&w.cv, &w.mu);
        }
        pthread_mutex_unlock(&w.mu);
    }
    req->ctx = ctx;
    req->done = NULL;
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

void lam_invoke_release(struct lam_invoke *req)
{
    free(req->result);
    free(req->log_tail);
    req->result = NULL;
    req->log_tail = NULL;
    req->result_len = 0;
}

/* ---- Invoke over HTTP ---- */

struct http_inv {
    struct lam_invoke req;      /* first: r->op_ctx */
    struct lam__fnref ref;
};

static void http_done(struct lam_invoke *req)
{
    http_req_resume(req->ctx);
}

static void release_cb(void *p)
{
    lam_invoke_release(p);
}

static int failed_or_reply(struct http_req *r, struct http_inv *w, int rc)
{
    switch (rc) {
    case LAM_ENOFUNC:
        return lam__not_found(r, &w->ref);
    case LAM_ETHROTTLED:
        http_req_fail(r, AWSERR_LAMBDA_TOO_MANY_REQUESTS, NULL);
        http_req_fail_field(r, "Reason", "ConcurrentInvocationLimitExceeded");
        return -1;
    case LAM_ESHUTDOWN:
        return http_req_fail(r, AWSERR_LAMBDA_SERVICE, "The service is shutting down; retry.");
    default:
        return lam__internal(r, "Invoke", rc);
    }
}

static int invoke_cont(struct http_req *r)
{
    struct http_inv *w = r->op_ctx;
    struct lam_invoke *req = &w->req;

    arena_on_clear(&r->arena, release_cb, req);
    if (req->outcome == LAM_FAILED) {
        return failed_or_reply(r, w, req->rc);
    }
    http_reply_header(r, "x-amzn-RequestId", req->request_id);
    http_reply_header(r, "X-Amz-Executed-Version", "$LATEST");
    if (req->function_error) {
        http_reply_header(r, "X-Amz-Function-Error", req->function_error);
    }
    if (req->log_tail) {
        http_reply_header(r, "X-Amz-Log-Result", req->log_tail);
    }
    return http_reply(r, 200, "application/json", req->result ? req->result : "",
                      req->result_len);
}

static int dry_run_or_reply(struct http_req *r, struct http_inv *w)
{
    struct lam__fnconf c;
    int rc = lam__fnconf_load(lam__of(r), w->ref.name, &c);
    if (rc == -ENOENT) {
        return lam__not_found(r, &w->ref);
    }
    if (rc) {
        return lam__internal(r, "Invoke", rc);
    }
    lam__fnconf_release(&c);
    return http_reply(r, 204, NULL, "", 0);
}

int lam_invoke_http(struct http_req *r)
{
    struct lam *l = lam__of(r);
    const struct lam__target *t = r->op_ctx;
    const char *type = http_req_header(r, "x-amz-invocation-type");
    const char *log_type = http_req_header(r, "x-amz-log-type");
    const char *cc = http_req_header(r, "x-amz-client-context");
    const char *q = http_req_query(r, "Qualifier");
    struct http_inv *w = arena_new(&r->arena, struct http_inv);
    bool event, dry;
    size_t max;
    int rc;

    if (!type) {
        type = "RequestResponse";
    }
    event = strcmp(type, "Event") == 0;
    dry = strcmp(type, "DryRun") == 0;
    if (!event && !dry && strcmp(type, "RequestResponse") != 0) {
        return lam__validation(r,
                               "Value '%.50s' at 'invocationType' failed to satisfy "
                               "constraint: Member must satisfy enum value set: [Event, "
                               "RequestResponse, DryRun]",
                               type);
    }
    if (log_type && strcmp(log_type, "None") != 0 && strcmp(log_type, "Tail") != 0) {
        return lam__validation(r,
                               "Value '%.50s' at 'logType' failed to satisfy constraint: "
                               "Member must satisfy enum value set: [None, Tail]",
                               log_type);
    }
    if (cc) {
        unsigned char tmp[LAM_CLIENT_CONTEXT_MAX];
        json_error_t jerr;
        json_t *j;
        long n = strlen(cc) <= LAM_CLIENT_CONTEXT_MAX
                     ? sl_base64_decode(sl_str_c(cc), tmp, sizeof tmp)
                     : -1;
        j = n >= 0 ? json_loadb((const char *)tmp, (size_t)n, 0, &jerr) : NULL;
        if (!json_is_object(j)) {
            json_decref(j);
            return http_req_fail(r, AWSERR_LAMBDA_INVALID_CONTENT,
                                 "Client context must be a valid Base64-encoded JSON object of "
                                 "at most %d bytes.",
                                 LAM_CLIENT_CONTEXT_MAX);
        }
        json_decref(j);
    }
    if (lam__fnref_or_reply(r, t->name, true, &w->ref) < 0) {
        return -1;
    }
    if (q && !w->ref.qualifier[0]) {
        snprintf(w->ref.qualifier, sizeof w->ref.qualifier, "%s", q);
    }
    if (w->ref.elsewhere || !lam__qualifier_latest(w->ref.qualifier)) {
        return lam__not_found(r, &w->ref);
    }
    max = event ? LAM_ASYNC_PAYLOAD_MAX : LAM_SYNC_PAYLOAD_MAX;
    if (r->body.len > max) {
        return http_req_fail(r, AWSERR_LAMBDA_TOO_LARGE,
                             "%zu byte payload is too large for the %s invocation type (limit "
                             "%zu bytes)",
                             r->body.len, event ? "Event" : "RequestResponse", max);
    }
    if (r->body.len) {
        json_error_t jerr;
        json_t *j = json_loadb(r->body.p, r->body.len, JSON_DECODE_ANY, &jerr);
        if (!j) {
            return http_req_fail(r, AWSERR_LAMBDA_INVALID_CONTENT,
                                 "Could not parse request body into json: Could not parse "
                                 "payload into json: %s",
                                 jerr.text);
        }
        json_decref(j);
    }
    if (dry) {
        return dry_run_or_reply(r, w);
    }
    if (event) {
        return lam__async_enqueue_or_reply(r, w->ref.name, r->body.p, r->body.len);
    }
    w->req.function = w->ref.name;
    w->req.payload = r->body.p;
    w->req.len = r->body.len;
    w->req.client_context = cc;
    w->req.want_log = log_type && strcmp(log_type, "Tail") == 0;
    w->req.done = http_done;
    w->req.ctx = r;
    r->op_ctx = w;
    http_req_pending(r, invoke_cont);
    rc = lam_invoke(l, &w->req);
    if (rc < 0) {
        r->state = HTTP_REQ_READY;
        return failed_or_reply(r, w, rc);
    }
    return 0;
}
