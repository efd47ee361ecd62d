/*
 * lambda.h: AWS Lambda, the only header of src/lambda/ other folders include (R1).
 *
 * What it is: the Lambda REST-JSON API (/2015-03-31/...) on the store: functions whose code is
 * a zip kept durably under <data-dir>/lambda/, run as child processes ("environments") that
 * speak the Lambda Runtime API (/2018-06-01/runtime/...) on loopback; Invoke (RequestResponse,
 * Event through a durable queue, DryRun); event source mappings that feed DynamoDB stream
 * records to functions with a durable checkpoint. And a C API with which other services invoke
 * functions without HTTP (Firehose data transformation, S3 event notifications).
 *
 * What it is not: versions and aliases (every function is $LATEST), layers, container images,
 * IAM (the Role is kept, never assumed), CloudWatch Logs (function output goes to sluice's log
 * and to LogType Tail). docs/compatibility.md says what is served.
 *
 * Threads: lam_new(), lam_shutdown() and lam_free() on the main thread; HTTP handlers on HTTP
 * threads; a supervisor thread of its own (environments, timeouts, Runtime API addresses), an
 * async-invoke worker, one poller per event source mapping; writes through the store's writer.
 * The C API as each function says.
 */
#ifndef SL_LAMBDA_H
#define SL_LAMBDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/http.h"
#include "core/store.h"
#include "streams/streams.h"

struct lam;

/* Settings of lam_new(). Strings are borrowed for the call (copied). */
struct lam_options {
    const char *data_dir;       /* code lives in <data_dir>/lambda/ */
    const char *region;
    const char *account;
    const char *access_key;     /* the credentials handed to functions (the root key) */
    const char *secret_key;
    const char *runtimes_dir;   /* NULL or "": runtimes/ found next to the binary */
    const char *python;         /* NULL or "": /usr/bin/python3, else python3 on PATH */
    const char *node;           /* NULL or "": node on PATH */
    unsigned max_envs;          /* environments one function may run at once; 0: 10 */
};

/*
 * Opens the service's databases, sweeps code files no function references, starts the
 * supervisor, and returns the HTTP service in *svc (owned by the struct lam; register it
 * before S3). srv is the front door the Runtime API connections are handed to and whose port
 * functions call back on (borrowed; must outlive the struct lam); streams is the change log
 * mappings read (borrowed, likewise). Returns 0, -errno or a store code. Thread: main, before
 * the front door starts.
 */
int lam_new(struct store *st, struct http_server *srv, struct strm *streams,
            const struct lam_options *opt, struct lam **out, struct http_service **svc);

/*
 * Starts what invokes functions on its own: the async worker (queued Event invocations) and
 * one poller per event source mapping. Call it once the front door listens: an environment
 * gets the front door's port as AWS_ENDPOINT_URL when it starts, and before that there is no
 * port to give (a mapping resuming at start-up once handed its environments port 0, and every
 * batch then failed for good). Returns 0 or -errno. Thread: main.
 */
int lam_start(struct lam *l);

/*
 * Stops everything that runs: no new invocations are taken, every environment's process group
 * is killed, invocations still waiting fail (LAM_ESHUTDOWN), suspended Runtime API and Invoke
 * requests are resumed so the front door can stop, and the worker and pollers are joined.
 * Call it before http_server_stop(). Calling it again does nothing. Thread: main.
 */
void lam_shutdown(struct lam *l);

/* Shuts down (if not done yet) and frees. lam_free(NULL) does nothing. Thread: main, after the
 * front door stopped and before the store and the streams are closed. */
void lam_free(struct lam *l);

/* ---- invoking a function from another service ---- */

/* Module error codes (R12), below the S3 range. */
#define LAM_ENOFUNC (-31201)     /* no such function (or a qualifier other than $LATEST) */
#define LAM_ETHROTTLED (-31202)  /* the function's environments and queue are full */
#define LAM_ESHUTDOWN (-31203)   /* the service is stopping */
#define LAM_ETOOLARGE (-31204)   /* the payload is over the limit of its invocation type */
#define LAM_EPAYLOAD (-31205)    /* the payload is not JSON */

/* Payload limits of the Lambda quotas page. */
#define LAM_SYNC_PAYLOAD_MAX (6u * 1024 * 1024)     /* RequestResponse request and response */
#define LAM_ASYNC_PAYLOAD_MAX (256u * 1024)         /* Event */

/* What became of an invocation. */
enum lam_outcome {
    LAM_OK = 0,              /* the function returned: payload is its response */
    LAM_FUNCTION_ERROR,      /* the function failed (error, init error, timeout, crash):
                                payload is the error JSON, function_error "Unhandled" */
    LAM_FAILED,              /* not run: rc says why (LAM_ENOFUNC, LAM_ESHUTDOWN, ...) */
};

/*
 * One synchronous (RequestResponse) invocation. The caller fills the inputs, lam_invoke()
 * runs it, done(inv) is called exactly once when it ended (R16), on an internal thread (the
 * supervisor, an HTTP thread or the caller's own): it must be quick (signal, resume a
 * request). After done the outputs belong to the caller, who frees them with
 * lam_invoke_release().
 */
struct lam_invoke {
    /* inputs, borrowed until done() */
    const char *function;       /* name, partial ARN or ARN, optionally ":$LATEST" */
    const char *payload;        /* JSON text, len bytes (0: the event is {}) */
    size_t len;
    const char *client_context; /* base64 JSON (X-Amz-Client-Context) or NULL */
    bool want_log;              /* fill log_tail (LogType Tail) */
    void (*done)(struct lam_invoke *inv);
    void *ctx;                  /* the caller's */
    char request_id[37];        /* in: "" (a fresh id is made) or the id to run under;
                                   out: the invocation's id (START RequestId: ...) */

    /* outputs, valid in and after done() */
    enum lam_outcome outcome;
    int rc;                     /* LAM_FAILED: the LAM_E* code */
    char *result;               /* response or error JSON, result_len bytes (heap, owned) */
    size_t result_len;
    char *log_tail;             /* base64 of the last 4 KB of the log, or NULL (heap) */
    const char *function_error; /* "Unhandled" for LAM_FUNCTION_ERROR, else NULL (static) */

    void *priv;                 /* lam's, while running */
};

/*
 * Starts inv. Returns 0 (done() will run exactly once) or a negative LAM_E* code without
 * calling done: LAM_ETOOLARGE (a payload over LAM_SYNC_PAYLOAD_MAX), LAM_ETHROTTLED (the
 * function's queue is full), LAM_ESHUTDOWN (the service is stopping). A missing
 * function is reported through done() with LAM_FAILED / LAM_ENOFUNC. Thread: any but the
 * writer; it does one read transaction.
 */
int lam_invoke(struct lam *l, struct lam_invoke *inv);

/* Runs inv and waits for it (inv->done must be NULL; it is used internally). Returns 0 when
 * it ran (see inv->outcome) or lam_invoke()'s code. Thread: a background thread. */
int lam_invoke_wait(struct lam *l, struct lam_invoke *inv);

/* Frees inv's outputs. */
void lam_invoke_release(struct lam_invoke *inv);

/*
 * Queues an asynchronous (Event) invocation durably, as Invoke with InvocationType Event:
 * when it returns 0 the event is committed and will run (retried twice on failure, as
 * Lambda). payload is borrowed for the call. Returns 0, LAM_ENOFUNC, LAM_ETOOLARGE,
 * LAM_EPAYLOAD, LAM_ESHUTDOWN or a store code. Thread: a background thread (it waits for the
 * writer).
 */
int lam_invoke_event(struct lam *l, const char *function, const char *payload, size_t len);

/* A static sentence for a LAM_E* code, or store_strerror()'s. */
const char *lam_strerror(int rc);

#endif
