/*
 * runtime_api.c: the Lambda Runtime API (version 2018-06-01) the environments call:
 *
 *   GET  /2018-06-01/runtime/invocation/next             the next event (a long poll)
 *   POST /2018-06-01/runtime/invocation/{id}/response    the function's result
 *   POST /2018-06-01/runtime/invocation/{id}/error       the function's error
 *   POST /2018-06-01/runtime/init/error                  the runtime could not start
 *
 * What it is: the HTTP side of those calls, with the headers, status codes and error bodies
 * ({"errorMessage", "errorType"}) of the Runtime API reference and its OpenAPI document. No
 * signature is asked (HTTP_OP_NOAUTH): each environment has its own loopback address, and the
 * environment a request is for is the one listening on the port the connection came in on
 * (env.c). invocation/next suspends the request (http_req_pending) until an invocation is
 * handed to it, so a waiting environment holds no thread. On the service endpoint, or on the
 * address of an environment that is gone, these calls are refused.
 *
 * What it is not: environments and invocations themselves (env.c).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambda/lam_int.h"

#define NEXT_MAGIC 0x6c6e7874u

/* What a suspended invocation/next answers, filled by lam__next_deliver. */
struct next_ctx {
    uint32_t magic;
    bool delivered;
    const char *payload;
    size_t len;
    char request_id[37];
    char deadline[24];
    char arn[300];
    const char *client_context;  /* JSON, or NULL */
    char trace[128];
};

static int rt_reply(struct http_req *r, unsigned status, const char *type, const char *msg)
{
    json_t *o = json_pack("{s:s, s:s}", "errorMessage", msg, "errorType", type);
    char *text = json_dumps(o, JSON_COMPACT);
    char *copy = arena_strdup(&r->arena, text);
    free(text);
    json_decref(o);
    return http_reply(r, status, "application/json", copy, strlen(copy));
}

static int rt_accepted(struct http_req *r)
{
    static const char ok[] = "{\"status\":\"OK\"}";
    return http_reply(r, 202, "application/json", ok, sizeof ok - 1);
}

/* The answer to a refusal of env.c. */
static int rt_refused(struct http_req *r, int rc)
{
    switch (rc) {
    case LAM__RT_REQUEST_ID:
        return rt_reply(r, 400, "InvalidRequestID", "Invalid request ID");
    case LAM__RT_TOO_LARGE: {
        char msg[96];
        snprintf(msg, sizeof msg, "Exceeded maximum allowed payload size (%u bytes).",
                 LAM_RESPONSE_MAX);
        return rt_reply(r, 413, "RequestEntityTooLarge", msg);
    }
    case LAM__RT_STATE:
        return rt_reply(r, 403, "InvalidStateTransition",
                        "State transition is not allowed for the runtime in its current "
                        "state.");
    default:
        return rt_reply(r, 403, "InvalidRuntimeApiAddress",
                        "No Lambda execution environment is served at this address: the "
                        "Runtime API is at each environment's AWS_LAMBDA_RUNTIME_API.");
    }
}

/* ---- invocation/next ---- */

int lam_runtime_next(struct http_req *r)
{
    struct lam *l = lam__of(r);
    struct next_ctx *c = arena_new(&r->arena, struct next_ctx);
    int rc;

    c->magic = NEXT_MAGIC;
    r->op_ctx = c;
    rc = lam__env_next(l, r, http_req_local_port(r));
    if (rc) {
        return rt_refused(r, rc);
    }
    return 0;
}

void lam__next_deliver(struct http_req *r, const struct lam__inv *inv, uint64_t deadline_ms)
{
    struct next_ctx *c = r->op_ctx;
    const struct lam_invoke *req = inv->req;
    char a[37], b[37];

    assert(c->magic == NEXT_MAGIC);
    c->delivered = true;
    if (req->len) {
        char *p = arena_alloc(&r->arena, req->len);
        memcpy(p, req->payload, req->len);
        c->payload = p;
        c->len = req->len;
    }
    else {
        c->payload = "{}";
        c->len = 2;
    }
    snprintf(c->request_id, sizeof c->request_id, "%s", req->request_id);
    snprintf(c->deadline, sizeof c->deadline, "%llu", (unsigned long long)deadline_ms);
    snprintf(c->arn, sizeof c->arn, "%s", inv->conf.arn);
    if (req->client_context) {
        /* X-Amz-Client-Context is base64 of JSON; the runtime is given the JSON. */
        size_t n = strlen(req->client_context);
        unsigned char *dec = arena_alloc(&r->arena, n + 3);
        long dl = sl_base64_decode(sl_str_c(req->client_context), dec, n + 3);
        if (dl > 0) {
            c->client_context = arena_strndup(&r->arena, (const char *)dec, (size_t)dl);
        }
    }
    /* An X-Ray trace header of the documented shape (sluice traces nothing). */
    sl_uuid4(a);
    sl_uuid4(b);
    snprintf(c->trace, sizeof c->trace,
             "Root=1-%08llx-%.8s%.4s%.4s%.4s%.4s;Parent=%.8s%.8s;Sampled=0",
             (unsigned long long)(deadline_ms / 1000), a, a + 9, a + 14, a + 19, a + 24, b,
             b + 24);
    http_req_resume(r);
}

void lam__next_cancel(struct http_req *r)
{
    struct next_ctx *c = r->op_ctx;
    assert(c->magic == NEXT_MAGIC);
    c->delivered = false;
    http_req_resume(r);
}

int lam__next_cont(struct http_req *r)
{
    struct next_ctx *c = r->op_ctx;
    if (!c->delivered) {
        return rt_reply(r, 410, "Runtime.Shutdown", "The execution environment is shutting down.");
    }
    http_reply_header(r, "Lambda-Runtime-Aws-Request-Id", c->request_id);
    http_reply_header(r, "Lambda-Runtime-Deadline-Ms", c->deadline);
    http_reply_header(r, "Lambda-Runtime-Invoked-Function-Arn", c->arn);
    http_reply_header(r, "Lambda-Runtime-Trace-Id", c->trace);
    if (c->client_context) {
        http_reply_header(r, "Lambda-Runtime-Client-Context", c->client_context);
    }
    return http_reply(r, 200, "application/json", c->payload, c->len);
}

/* ---- response, error, init/error ---- */

int lam_runtime_response(struct http_req *r)
{
    const struct lam__target *t = r->op_ctx;
    int rc = lam__env_finish(lam__of(r), http_req_local_port(r), t->request_id, false,
                             r->body.p ? r->body.p : "", r->body.len);
    return rc ? rt_refused(r, rc) : rt_accepted(r);
}

/* The error payload: the body as the runtime sent it, or, without one, an error built from
 * Lambda-Runtime-Function-Error-Type (the OpenAPI document's default). */
static void error_payload(struct http_req *r, const char **p, size_t *n)
{
    const char *type = http_req_header(r, "lambda-runtime-function-error-type");
    json_t *o;
    char *text;
    if (r->body.len) {
        *p = r->body.p;
        *n = r->body.len;
        return;
    }
    o = json_pack("{s:s, s:s}", "errorMessage", "", "errorType", type ? type : "Unhandled");
    text = json_dumps(o, JSON_COMPACT);
    *p = arena_strdup(&r->arena, text);
    *n = strlen(*p);
    free(text);
    json_decref(o);
}

int lam_runtime_error(struct http_req *r)
{
    const struct lam__target *t = r->op_ctx;
    const char *p;
    size_t n;
    int rc;
    error_payload(r, &p, &n);
    rc = lam__env_finish(lam__of(r), http_req_local_port(r), t->request_id, true, p, n);
    return rc ? rt_refused(r, rc) : rt_accepted(r);
}

int lam_runtime_init_error(struct http_req *r)
{
    const char *p;
    size_t n;
    int rc;
    error_payload(r, &p, &n);
    rc = lam__env_init_error(lam__of(r), http_req_local_port(r), p, n);
    return rc ? rt_refused(r, rc) : rt_accepted(r);
}
