/*
 * lam_int.h: declarations shared inside src/lambda/ (R2); never included from outside.
 *
 * The parts of the service and the file that owns each:
 *   service.c        operation table, routing, lam_new / lam_shutdown / lam_free
 *   names.c          function names and ARNs, timestamps, validation shared by the handlers
 *   function.c       CreateFunction, GetFunction(Configuration), ListFunctions, DeleteFunction,
 *                    UpdateFunctionCode: the durable function records
 *   code.c           zips: inspection, durable code files, the unzipped per-code directories
 *   runtime_*.c      how an environment of each runtime is started (R6)
 *   env.c            environments and the supervisor thread: spawn, dispatch, timeouts, reaping
 *   runtime_api.c    the Runtime API the environments call
 *   logs.c           an invocation's log (START / END / REPORT) and its 4 KB tail
 *   invoke.c         Invoke over HTTP and the C API of lambda.h
 *   async.c          the durable Event queue and its worker
 *   esm.c            event source mapping records and their API
 *   poller.c         the stream pollers of the mappings, and the DynamoDB event they build
 */
#ifndef SL_LAMBDA_INT_H
#define SL_LAMBDA_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/mem.h"
#include "lambda/lambda.h"

/* Limits from the Lambda quotas page and the API reference. */
#define LAM_NAME_MAX 64                     /* a function name */
#define LAM_FNREF_MAX 170                   /* a name, partial ARN or ARN with qualifier */
#define LAM_QUALIFIER_MAX 128
#define LAM_ZIP_MAX (50u * 1024 * 1024)     /* ZipFile, decoded */
#define LAM_CODE_BODY_MAX 69905067u         /* a request carrying ZipFile: base64 of 50 MB */
#define LAM_UNZIPPED_MAX 262144000u         /* the unzipped code */
#define LAM_ZIP_ENTRIES_MAX 100000
#define LAM_ENV_VARS_MAX 4096               /* Environment.Variables, measured as JSON */
#define LAM_TIMEOUT_MAX 900
#define LAM_TIMEOUT_DEFAULT 3
#define LAM_MEMORY_DEFAULT 128
#define LAM_LIST_DEFAULT 50
#define LAM_LIST_MAX 10000
#define LAM_DESCRIPTION_MAX 256
#define LAM_HANDLER_MAX 128
#define LAM_CLIENT_CONTEXT_MAX 3583         /* X-Amz-Client-Context, base64 */
#define LAM_RESPONSE_MAX (6u * 1024 * 1024 + 100)   /* what an environment may answer */
#define LAM_LOG_TAIL 4096                   /* LogType Tail */
#define LAM_MAX_BODY (LAM_CODE_BODY_MAX + 65536u)
#define LAM_MAX_ENVS_DEFAULT 10
#define LAM_QUEUE_MAX 1000                  /* invocations waiting for one function's envs */
#define LAM_IDLE_MS (5u * 60 * 1000)        /* a warm environment unused this long is reaped */
#define LAM_INIT_TIMEOUT_MS 10000           /* from spawn to the first invocation/next */

/* Pure helpers' codes (names.c, code.c). */
#define LAM__EPATTERN (-31250)   /* does not match the member's pattern */
#define LAM__ELONG (-31251)      /* a name longer than LAM_NAME_MAX */
#define LAM__EZIP (-31252)       /* not a zip, or an entry that cannot be unpacked */
#define LAM__EUNZIPPED (-31253)  /* the unzipped code is over LAM_UNZIPPED_MAX */

struct lam__env;
struct lam__fnrt;
struct lam__inv;
struct lam__poller;

/* ---- runtimes (R6): one const struct per runtime family, runtime_*.c ---- */

struct lam__runtime {
    const char *family;                 /* "python", "node", "provided" */
    const char *const *names;           /* the Runtime values it serves, NULL-terminated */
    /* Fills argv (at most 4 entries, NULL-terminated; strings borrowed from l, task_root and
     * buf, a scratch buffer of buflen bytes) to start an environment whose code is in
     * task_root. Returns 0, or -1 with an init error (errorType, errorMessage) in *type, msg. */
    int (*argv)(const struct lam *l, const char *task_root, const char *argv[5], char *buf,
                size_t buflen, const char **type, char *msg, size_t msglen);
};

extern const struct lam__runtime lam__runtime_python;
extern const struct lam__runtime lam__runtime_node;
extern const struct lam__runtime lam__runtime_provided;

/* The runtime serving name, or NULL. */
const struct lam__runtime *lam__runtime_find(const char *name);
/* Is name one of AWS's Runtime values (served here or not)? */
bool lam__runtime_known(const char *name);
/* "nodejs20.x, provided.al2023, python3.11, python3.12": the runtimes served. Static. */
const char *lam__runtimes_served(void);

/* ---- the service ---- */

struct lam {
    struct store *st;
    struct http_server *srv;
    struct strm *streams;
    char region[33];
    char account[13];
    char access_key[129];
    char secret_key[129];
    char *dir;              /* <data>/lambda */
    char *code_dir;         /* <data>/lambda/code: <id>.zip, durable */
    char *run_dir;          /* <data>/lambda/run: <id>/, the unzipped code, recreated */
    int code_fd;            /* code_dir, for fsync after rename */
    char *runtimes_dir;     /* "" when none was found */
    char *python;
    char *node;
    unsigned max_envs;
    MDB_dbi functions;      /* name -> function record (JSON, docs/formats.md "Lambda") */
    MDB_dbi esm;            /* UUID -> mapping record (JSON) */
    MDB_dbi esm_pos;        /* UUID -> be64 checkpoint sequence number */
    MDB_dbi async;          /* be64 seq -> queued Event invocation */
    MDB_dbi meta;           /* "async-seq" -> be64 */
    struct http_service svc;

    /* Environments and invocations (env.c), all under mu. */
    pthread_mutex_t mu;
    struct lam__fnrt *fns;          /* per-function runtime state, a list */
    struct lam__env *envs;          /* every live environment, a list */
    uint64_t env_ids;
    bool stopping;
    bool shut;                      /* lam_shutdown() ran */
    int wake[2];                    /* a pipe that wakes the supervisor */
    pthread_t supervisor;
    bool supervisor_started;
    pthread_mutex_t extract_mu;     /* one unzip into run/ at a time */

    /* The async worker (async.c). */
    pthread_t async_thread;
    bool async_started;
    pthread_mutex_t async_mu;
    pthread_cond_t async_cv;
    uint64_t async_kicks;           /* under async_mu: bumped by each enqueue / completion */
    struct lam__async_done *async_done;  /* under async_mu: finished invocations */
    bool async_stop;                /* under async_mu */

    /* Pollers (poller.c), under esm_mu: running ones, and stopped ones not joined yet. */
    pthread_mutex_t esm_mu;
    struct lam__poller *pollers;
    struct lam__poller *stopped;
    bool esm_started;               /* under esm_mu: lam_start() ran; mappings get pollers */
};

static inline struct lam *lam__of(struct http_req *r)
{
    return r->svc->ctx;
}

/* What a route found in the path (service.c): r->op_ctx when a handler starts. */
struct lam__target {
    const char *name;       /* {FunctionName} or {UUID}, decoded; NULL when the path has none */
    const char *request_id; /* Runtime API {AwsRequestId} */
    const char *code_id;    /* the code download path's id */
};

/* ---- names.c ---- */

/* A function reference, parsed. */
struct lam__fnref {
    char name[LAM_NAME_MAX + 1];
    char qualifier[LAM_QUALIFIER_MAX + 1];   /* "" when none */
    bool elsewhere;                          /* an ARN of another region or account */
};

/* Parses a FunctionName member (name, partial ARN, ARN, each with an optional qualifier).
 * dots: whether '.' is allowed in the name (the Get/Invoke pattern allows it). Returns 0,
 * LAM__EPATTERN or LAM__ELONG. */
int lam__parse_fnref(const char *s, const char *region, const char *account, bool dots,
                     struct lam__fnref *out);
/* The unqualified ARN of a function (cap >= 128 + name). */
void lam__function_arn(const struct lam *l, const char *name, char *out, size_t cap);
/* Parses the function reference of a request (path or body member "functionName") and sets
 * the error AWS sends for a bad one. Returns 0 or -1 with the error set. */
int lam__fnref_or_reply(struct http_req *r, const char *s, bool dots, struct lam__fnref *out);
/* ResourceNotFoundException "Function not found: <arn>[:qualifier]". Returns -1. */
int lam__not_found(struct http_req *r, const struct lam__fnref *f);
/* Is the qualifier one that names $LATEST ("" or "$LATEST")? */
bool lam__qualifier_latest(const char *q);

/* Lambda's LastModified: "2024-01-10T12:00:00.000+0000" (out >= 32). */
void lam__fmt_time(uint64_t ms, char out[32]);
uint64_t lam__now_ms(void);
void lam__put_be64(unsigned char *p, uint64_t v);
uint64_t lam__get_be64(const unsigned char *p);

/* Parses a JSON request body (REST-JSON: the front door does not). Sets *out (owned by r's
 * arena) to an object. Returns 0 or -1 with InvalidRequestContentException set. */
int lam__json_body_or_reply(struct http_req *r, json_t **out);
/* Checks that member is of type t when present: -1 with the error set when not. */
int lam__expect_type_or_reply(struct http_req *r, const json_t *v, json_type t,
                              const char *member);
/* An integer member key (named member in messages) within [lo, hi] into *out, which keeps its
 * default when the member is absent. Returns 0 or -1 with the error set. */
int lam__int_member_or_reply(struct http_req *r, const json_t *in, const char *key,
                             const char *member, long lo, long hi, long *out);
/* The "1 validation error detected: ..." ValidationException. Returns -1. */
int lam__validation(struct http_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A logged internal failure answered ServiceException. Returns -1. */
int lam__internal(struct http_req *r, const char *what, int rc);

/* The MaxItems query parameter (1..LAM_LIST_MAX) into *max, which keeps its default when
 * absent. Returns 0 or -1 with ValidationException set. */
int lam__max_items_or_reply(struct http_req *r, long *max);
/* A listing: a read transaction and a cursor on the first key after `after` (len bytes; 0:
 * the first key). it->g is the cursor's last result (0 while on a record, in it->k / it->v);
 * step with mdb_cursor_get(it->c, &it->k, &it->v, MDB_NEXT). Returns 0 or -1 with the error
 * set; after 0, lam__list_end() must be called. Thread: HTTP. */
struct lam__list {
    MDB_txn *txn;
    MDB_cursor *c;
    MDB_val k;
    MDB_val v;
    int g;
};
int lam__list_begin_or_reply(struct http_req *r, MDB_dbi dbi, const void *after, size_t len,
                             struct lam__list *it);
void lam__list_end(struct http_req *r, struct lam__list *it);

/* Checks Environment.Variables (an object or NULL): key pattern, reserved keys, 4 KB. Returns
 * 0 or -1 with the error set. */
int lam__check_env_vars_or_reply(struct http_req *r, const json_t *vars);

/* Submits op and suspends r until done; done must call http_req_resume(r). Returns 0, or -1
 * with ServiceException set when the store is stopping. */
int lam__submit_or_reply(struct http_req *r, struct store_op *op, int (*cont)(struct http_req *));

/* ---- function records (function.c) ---- */

/* A function record read in a read transaction: rec is a new reference (decref it);
 * cfg borrows rec's "Configuration". Returns 0, -ENOENT or a store code. */
int lam__function_get(struct lam *l, MDB_txn *txn, const char *name, json_t **rec);

/* Everything an environment needs of its function, copied out of the record. */
struct lam__fnconf {
    char name[LAM_NAME_MAX + 1];
    char arn[256];
    char runtime[32];
    char handler[LAM_HANDLER_MAX + 1];
    char code_id[33];
    char revision[37];
    unsigned timeout_s;
    unsigned memory_mb;
    json_t *vars;           /* Environment.Variables (owned, may be NULL) */
};
/* Reads name's configuration. Returns 0, -ENOENT or a store code. Any thread but the writer. */
int lam__fnconf_load(struct lam *l, const char *name, struct lam__fnconf *out);
void lam__fnconf_release(struct lam__fnconf *c);

int lam_create_function(struct http_req *r);
int lam_get_function(struct http_req *r);
int lam_get_function_configuration(struct http_req *r);
int lam_list_functions(struct http_req *r);
int lam_delete_function(struct http_req *r);
int lam_update_function_code(struct http_req *r);
int lam_download_code(struct http_req *r);

/* ---- code.c ---- */

struct lam__zip_info {
    uint64_t entries;
    uint64_t unzipped;          /* sum of the entries' sizes */
    bool has_bootstrap;         /* a file "bootstrap" at the top */
    bool bootstrap_exec;        /* ... with an executable mode */
};

/* Inspects a zip held in memory: it opens, every entry has a safe relative name, the sizes
 * sum to at most LAM_UNZIPPED_MAX. Returns 0, LAM__EZIP or LAM__EUNZIPPED. Pure. */
int lam__zip_inspect(const void *p, size_t n, struct lam__zip_info *info);
/* Unpacks the zip file at zip_path into a new directory dest (which must not exist), with the
 * entries' modes (executable bits kept). Returns 0, LAM__EZIP, LAM__EUNZIPPED or -errno. */
int lam__zip_extract(const char *zip_path, const char *dest);
/* Removes a directory tree (no error when it is missing). */
void lam__rmtree(const char *path);

/* Writes the n bytes at p as <code_dir>/<id>.zip durably (temporary file, fsync, rename,
 * fsync of the directory) under a fresh random id (out, 33 bytes). Returns 0 or -errno. */
int lam__code_store(struct lam *l, const void *p, size_t n, char id[33]);
/* Makes sure <run_dir>/<id> holds the unzipped code (unpacking the zip when it is missing)
 * and writes its path to out. Returns 0, or a negative code. Thread: any but the writer. */
int lam__code_dir(struct lam *l, const char *id, char *out, size_t cap);
/* Removes a code version's zip and its directory. */
void lam__code_remove(struct lam *l, const char *id);
/* Removes code files and directories no function references (start-up). */
int lam__code_sweep(struct lam *l);
/* base64 SHA-256 of n bytes (CodeSha256), out >= 45 bytes. */
void lam__sha256_b64(const void *p, size_t n, char out[45]);

/* ---- environments (env.c) ---- */

/* An invocation while lam runs it (heap, owned by env.c from dispatch to completion). */
struct lam__inv {
    struct lam__inv *next;          /* a function's queue */
    struct lam_invoke *req;         /* the caller's (borrowed until done) */
    struct lam__fnconf conf;        /* the function as it was when invoked */
    uint64_t t_queued_ns;
};

/* Starts inv's invocation (the function exists: conf loaded). Returns 0 (req->done runs
 * exactly once) or LAM_ETHROTTLED / LAM_ESHUTDOWN (nothing runs; inv is still the caller's). */
int lam__dispatch(struct lam *l, struct lam__inv *inv);
/* Forgets the warm environments of a function (after a delete or a code update): idle ones
 * are killed now, busy ones when their invocation ends. Thread: any. */
void lam__retire(struct lam *l, const char *name);
/* Removes a code version once no environment runs it. */
void lam__code_release(struct lam *l, const char *code_id);

int lam__env_start(struct lam *l);
void lam__env_stop(struct lam *l);

/* What the Runtime API handlers are told (env.c -> runtime_api.c). */
#define LAM__RT_GONE (-31260)        /* no live environment at this address */
#define LAM__RT_STATE (-31261)       /* not allowed in the environment's state */
#define LAM__RT_REQUEST_ID (-31262)  /* not the invocation the environment holds */
#define LAM__RT_TOO_LARGE (-31263)   /* the response was over LAM_RESPONSE_MAX */

/* invocation/next arrived on port: r is suspended (0) until an invocation is handed to it, or
 * refused (LAM__RT_*). Thread: HTTP. */
int lam__env_next(struct lam *l, struct http_req *r, unsigned port);
/* The response (error false) or error of request_id arrived on port. Returns 0 or
 * LAM__RT_*. Thread: HTTP. */
int lam__env_finish(struct lam *l, unsigned port, const char *request_id, bool error,
                    const char *p, size_t n);
/* init/error arrived on port. Returns 0 or LAM__RT_*. */
int lam__env_init_error(struct lam *l, unsigned port, const char *p, size_t n);

/* ---- the Runtime API (runtime_api.c) ---- */

/* Hands inv to the suspended invocation/next r and resumes it (under l->mu: copies what it
 * answers into r's arena). */
void lam__next_deliver(struct http_req *r, const struct lam__inv *inv, uint64_t deadline_ms);
/* Resumes the suspended invocation/next r without an invocation (its environment is going). */
void lam__next_cancel(struct http_req *r);
int lam__next_cont(struct http_req *r);
int lam_runtime_next(struct http_req *r);
int lam_runtime_response(struct http_req *r);
int lam_runtime_error(struct http_req *r);
int lam_runtime_init_error(struct http_req *r);

/* ---- logs.c ---- */

/* An invocation's log, bounded: the START line, what the function wrote, END and REPORT. Only
 * the last LAM_LOG_TAIL bytes are ever needed, so older bytes are dropped. */
struct lam__log {
    char *p;                /* heap, cap bytes */
    size_t len;
    size_t cap;
};
void lam__log_init(struct lam__log *g);
void lam__log_release(struct lam__log *g);
void lam__log_append(struct lam__log *g, const char *p, size_t n);
void lam__log_printf(struct lam__log *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* base64 of the last LAM_LOG_TAIL bytes (heap, caller frees). */
char *lam__log_tail(const struct lam__log *g);
/* The REPORT line's text (without "REPORT "), as Lambda writes it. */
void lam__log_report(struct lam__log *g, const char *request_id, double duration_ms,
                     unsigned memory_mb, unsigned used_mb, double init_ms, const char *status);

/* ---- invoke.c ---- */

int lam_invoke_http(struct http_req *r);
/* Fills req's outputs with an error payload {"errorType", "errorMessage"} (heap). */
void lam__result_error(struct lam_invoke *req, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- async.c ---- */

struct lam__async_done;
/* The retry policy of asynchronous invocations: after a failed attempt number attempt (1, 2,
 * ...), the delay before the next in milliseconds, or -1 when the event is given up. */
long lam__async_retry_delay_ms(unsigned attempt);
int lam__async_enqueue_or_reply(struct http_req *r, const char *name, const char *payload,
                                size_t len);
int lam__async_start(struct lam *l);
void lam__async_stop(struct lam *l);

/* ---- event source mappings (esm.c, poller.c) ---- */

int lam_create_event_source_mapping(struct http_req *r);
int lam_get_event_source_mapping(struct http_req *r);
int lam_list_event_source_mappings(struct http_req *r);
int lam_delete_event_source_mapping(struct http_req *r);

/* How a poller invokes its function: lam_invoke_wait in production, a fake in tests (R31). */
struct lam__invoker {
    /* Runs inv synchronously (its done is NULL); returns 0 when it ran (see inv->outcome)
     * or a negative code. */
    int (*invoke)(void *ctx, struct lam_invoke *inv);
    void *ctx;
};

/* What a poller needs: its store and databases, the stream, the invoker. */
struct lam__poller_env {
    struct store *st;
    struct strm *streams;
    MDB_dbi esm;
    MDB_dbi esm_pos;
    struct lam__invoker invoker;
};

struct lam__poller_cfg {
    char uuid[37];
    char stream_arn[512];
    char function[256];     /* what is invoked (the FunctionArn) */
    unsigned batch_size;
    unsigned window_s;      /* MaximumBatchingWindowInSeconds */
    uint64_t checkpoint;    /* the last acknowledged sequence number */
};

/* Starts a poller thread (cfg copied). Returns NULL when the thread cannot start. */
struct lam__poller *lam__poller_start(const struct lam__poller_env *env,
                                      const struct lam__poller_cfg *cfg);
/* Asks it to stop, joins it and frees it. NULL does nothing. May wait for the invocation in
 * progress to end. */
void lam__poller_stop(struct lam__poller *p);
/* Asks it to stop without waiting; lam__poller_exited() tells when lam__poller_stop() will
 * not wait. */
void lam__poller_signal(struct lam__poller *p);
bool lam__poller_exited(struct lam__poller *p);
/* Its mapping's UUID (borrowed), and its link in the service's list. */
const char *lam__poller_uuid(const struct lam__poller *p);
struct lam__poller **lam__poller_next(struct lam__poller *p);
/* Its LastProcessingResult now (static string). */
const char *lam__poller_result(struct lam__poller *p);
/* The checkpoint it has committed. */
uint64_t lam__poller_checkpoint(struct lam__poller *p);
/* The DynamoDB event of records (a JSON array of stream records, borrowed): a new object
 * {"Records": [... each with eventSourceARN]}. */
json_t *lam__ddb_event(const json_t *records, const char *stream_arn);

int lam__esm_start(struct lam *l);
void lam__esm_stop(struct lam *l);

#endif
