/*
 * service.c: the Lambda service: its operation table (R5), request routing, its databases and
 * directories, the runtimes it serves, start-up and shutdown.
 *
 * What it is not: any operation's logic (function.c, invoke.c, esm.c, runtime_api.c).
 *
 * Routing. Lambda's REST paths start with an API version: /2015-03-31/functions/...,
 * /2015-03-31/event-source-mappings/..., and the Runtime API's /2018-06-01/runtime/... A
 * request is Lambda's when its path is a Runtime API path, or when it is signed for the
 * service "lambda" (the credential scope of its Authorization header), or, unsigned, when its
 * path starts with /2015-03-31/ (so an unsigned call gets Lambda's error, not S3's). The Runtime
 * API needs no signature (HTTP_OP_NOAUTH): it is served on each environment's own loopback
 * address, and a request for it on the service endpoint is refused by the handler
 * (runtime_api.c). The function name in a path is percent-decoded once, so an ARN's colons may
 * come as %3A.
 *
 * Limits are checked on the announced Content-Length before the body is read: a ZipFile
 * request over 69905067 bytes (base64 of 50 MB) and an Invoke payload over its invocation
 * type's limit get RequestEntityTooLargeException with Lambda's words.
 */
#define _DEFAULT_SOURCE /* realpath */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "lambda/lam_int.h"

static const struct http_op lam_ops[] = {
    { "CreateEventSourceMapping", lam_create_event_source_mapping, HTTP_OP_WRITE },
    { "CreateFunction", lam_create_function, HTTP_OP_WRITE },
    { "DeleteEventSourceMapping", lam_delete_event_source_mapping, HTTP_OP_WRITE },
    { "DeleteFunction", lam_delete_function, HTTP_OP_WRITE },
    { "DownloadFunctionCode", lam_download_code, HTTP_OP_NOAUTH },
    { "GetEventSourceMapping", lam_get_event_source_mapping, 0 },
    { "GetFunction", lam_get_function, 0 },
    { "GetFunctionConfiguration", lam_get_function_configuration, 0 },
    { "Invoke", lam_invoke_http, HTTP_OP_WRITE },
    { "ListEventSourceMappings", lam_list_event_source_mappings, 0 },
    { "ListFunctions", lam_list_functions, 0 },
    { "RuntimeInitError", lam_runtime_init_error, HTTP_OP_NOAUTH },
    { "RuntimeInvocationError", lam_runtime_error, HTTP_OP_NOAUTH },
    { "RuntimeInvocationNext", lam_runtime_next, HTTP_OP_NOAUTH },
    { "RuntimeInvocationResponse", lam_runtime_response, HTTP_OP_NOAUTH },
    { "UpdateFunctionCode", lam_update_function_code, HTTP_OP_WRITE },
};

static const struct http_op *op_named(const char *name)
{
    for (size_t i = 0; i < sizeof lam_ops / sizeof lam_ops[0]; i++) {
        if (strcmp(lam_ops[i].name, name) == 0) {
            return &lam_ops[i];
        }
    }
    return NULL;
}

/* ---- runtimes ---- */

static const struct lam__runtime *const runtimes[] = {
    &lam__runtime_node,
    &lam__runtime_provided,
    &lam__runtime_python,
};

const struct lam__runtime *lam__runtime_find(const char *name)
{
    for (size_t i = 0; i < sizeof runtimes / sizeof runtimes[0]; i++) {
        for (const char *const *n = runtimes[i]->names; *n; n++) {
            if (strcmp(*n, name) == 0) {
                return runtimes[i];
            }
        }
    }
    return NULL;
}

/* The Runtime values of the Lambda API reference, served or not. */
static const char *const aws_runtimes[] = {
    "nodejs",       "nodejs4.3",     "nodejs6.10",    "nodejs8.10",     "nodejs10.x",
    "nodejs12.x",   "nodejs14.x",    "nodejs16.x",    "java8",          "java8.al2",
    "java11",       "python2.7",     "python3.6",     "python3.7",      "python3.8",
    "python3.9",    "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1",  "dotnetcore3.1",
    "dotnet6",      "dotnet8",       "nodejs4.3-edge", "go1.x",         "ruby2.5",
    "ruby2.7",      "provided",      "provided.al2",  "nodejs18.x",     "python3.10",
    "java17",       "ruby3.2",       "ruby3.3",       "ruby3.4",        "python3.11",
    "nodejs20.x",   "provided.al2023", "python3.12",  "java21",         "python3.13",
    "nodejs22.x",   "nodejs24.x",    "python3.14",    "java25",         "dotnet10",
};

bool lam__runtime_known(const char *name)
{
    for (size_t i = 0; i < sizeof aws_runtimes / sizeof aws_runtimes[0]; i++) {
        if (strcmp(aws_runtimes[i], name) == 0) {
            return true;
        }
    }
    return false;
}

const char *lam__runtimes_served(void)
{
    return "nodejs20.x, provided.al2, provided.al2023, python3.11, python3.12";
}

/* ---- routing ---- */

/* The service named in the credential scope of an Authorization header, into out. */
static bool scope_service(const char *auth, char *out, size_t cap)
{
    const char *c = auth ? strstr(auth, "Credential=") : NULL;
    const char *e;
    if (!c) {
        return false;
    }
    c += strlen("Credential=");
    for (int slashes = 0; slashes < 3; slashes++) {
        c = strchr(c, '/');
        if (!c) {
            return false;
        }
        c++;
    }
    e = strchr(c, '/');
    if (!e || (size_t)(e - c) >= cap) {
        return false;
    }
    memcpy(out, c, (size_t)(e - c));
    out[e - c] = '\0';
    return true;
}

static bool claims(const struct http_req *r)
{
    struct sl_str p = r->raw_path;
    char svc[32];
    if (sl_str_starts(p, "/2018-06-01/runtime/")) {
        return true;
    }
    if (scope_service(http_req_header(r, "authorization"), svc, sizeof svc)) {
        return strcmp(svc, "lambda") == 0;
    }
    return sl_str_starts(p, "/2015-03-31/") || sl_str_eq_c(p, "/2015-03-31");
}

/* Splits the decoded path into at most max segments (arena copies). Returns the count, or
 * max + 1 when there are more. A trailing slash adds no segment. The decoded path may hold a
 * NUL (%00): the walk goes by its length, and a NUL becomes '?', which no Lambda name or
 * qualifier pattern admits, so "f%00x" fails the name checks instead of naming "f". */
static size_t split_path(struct http_req *r, const char **seg, size_t max)
{
    const char *p = r->path, *end = r->path + r->path_len;
    size_t n = 0;
    while (p < end && *p == '/') {
        p++;
    }
    while (p < end) {
        const char *s = memchr(p, '/', (size_t)(end - p));
        size_t len = s ? (size_t)(s - p) : (size_t)(end - p);
        if (n == max) {
            return max + 1;
        }
        char *c = arena_strndup(&r->arena, p, len);
        for (size_t i = 0; i < len; i++) {
            c[i] = c[i] ? c[i] : '?';
        }
        seg[n++] = c;
        if (!s) {
            break;
        }
        p = s + 1;
    }
    return n;
}

static const struct http_op *route_unknown(struct http_req *r)
{
    http_req_fail(r, AWSERR_UNKNOWN_OPERATION, "%s",
                  "sluice does not serve this Lambda operation (see docs/compatibility.md)");
    return NULL;
}

static const struct http_op *too_large(struct http_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static const struct http_op *too_large(struct http_req *r, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    http_req_fail(r, AWSERR_LAMBDA_TOO_LARGE, "%s", msg);
    return NULL;
}

/* The ops that carry a ZipFile: refused before the body when announced too large. */
static const struct http_op *code_op(struct http_req *r, const char *name)
{
    if (r->has_content_length && r->content_length > LAM_CODE_BODY_MAX) {
        return too_large(r, "Request must be smaller than %u bytes for the %s operation",
                         LAM_CODE_BODY_MAX, name);
    }
    return op_named(name);
}

/* Invoke: the payload limit of the invocation type, on the announced length (Lambda's
 * words). The type itself is checked by the handler. */
static const struct http_op *route_invoke(struct http_req *r)
{
    const char *type = http_req_header(r, "x-amz-invocation-type");
    bool event = type && strcmp(type, "Event") == 0;
    uint64_t max = event ? LAM_ASYNC_PAYLOAD_MAX : LAM_SYNC_PAYLOAD_MAX;
    if (r->has_content_length && r->content_length > max) {
        return too_large(r, "%llu byte payload is too large for the %s invocation type (limit "
                            "%llu bytes)",
                         (unsigned long long)r->content_length,
                         event ? "Event" : "RequestResponse", (unsigned long long)max);
    }
    return op_named("Invoke");
}

/* /2018-06-01/runtime/...: the Runtime API. */
static const struct http_op *route_runtime(struct http_req *r, const char **seg, size_t n)
{
    struct lam__target *t = r->op_ctx;
    bool get = sl_str_eq_c(r->method, "GET");
    bool post = sl_str_eq_c(r->method, "POST");
    if (n == 4 && get && strcmp(seg[2], "invocation") == 0 && strcmp(seg[3], "next") == 0) {
        return op_named("RuntimeInvocationNext");
    }
    if (n == 5 && post && strcmp(seg[2], "invocation") == 0) {
        t->request_id = seg[3];
        if (strcmp(seg[4], "response") == 0) {
            return op_named("RuntimeInvocationResponse");
        }
        if (strcmp(seg[4], "error") == 0) {
            return op_named("RuntimeInvocationError");
        }
    }
    if (n == 4 && post && strcmp(seg[2], "init") == 0 && strcmp(seg[3], "error") == 0) {
        return op_named("RuntimeInitError");
    }
    return route_unknown(r);
}

static const struct http_op *route_esm(struct http_req *r, const char **seg, size_t n)
{
    bool get = sl_str_eq_c(r->method, "GET");
    struct lam__target *t = r->op_ctx;
    if (n == 2 && sl_str_eq_c(r->method, "POST")) {
        return op_named("CreateEventSourceMapping");
    }
    if (n == 2 && get) {
        return op_named("ListEventSourceMappings");
    }
    if (n == 3) {
        t->name = seg[2];
        if (get) {
            return op_named("GetEventSourceMapping");
        }
        if (sl_str_eq_c(r->method, "DELETE")) {
            return op_named("DeleteEventSourceMapping");
        }
    }
    return route_unknown(r);
}

static const struct http_op *route_functions(struct http_req *r, const char **seg, size_t n)
{
    bool get = sl_str_eq_c(r->method, "GET");
    bool post = sl_str_eq_c(r->method, "POST");
    bool put = sl_str_eq_c(r->method, "PUT");
    bool del = sl_str_eq_c(r->method, "DELETE");
    struct lam__target *t = r->op_ctx;

    if (n == 2) {
        if (post) {
            return code_op(r, "CreateFunction");
        }
        if (get) {
            return op_named("ListFunctions");
        }
        return route_unknown(r);
    }
    t->name = seg[2];
    if (n == 3) {
        if (get) {
            return op_named("GetFunction");
        }
        if (del) {
            return op_named("DeleteFunction");
        }
        return route_unknown(r);
    }
    if (n == 4 && get && strcmp(seg[3], "configuration") == 0) {
        return op_named("GetFunctionConfiguration");
    }
    if (n == 4 && put && strcmp(seg[3], "code") == 0) {
        return code_op(r, "UpdateFunctionCode");
    }
    if (n == 4 && post && strcmp(seg[3], "invocations") == 0) {
        return route_invoke(r);
    }
    if (n == 5 && get && strcmp(seg[3], "code") == 0) {
        size_t len = strlen(seg[4]);
        if (len == 36 && strcmp(seg[4] + 32, ".zip") == 0) {
            t->code_id = arena_strndup(&r->arena, seg[4], 32);
            return op_named("DownloadFunctionCode");
        }
    }
    return route_unknown(r);
}

static const struct http_op *route(struct http_req *r)
{
    const char *seg[8];
    size_t n = split_path(r, seg, 6);
    struct lam__target *t = arena_new(&r->arena, struct lam__target);

    r->op_ctx = t;
    if (n >= 3 && strcmp(seg[0], "2018-06-01") == 0 && strcmp(seg[1], "runtime") == 0) {
        return route_runtime(r, seg, n);
    }
    if (n < 2 || n > 5 || strcmp(seg[0], "2015-03-31") != 0) {
        return route_unknown(r);
    }
    if (strcmp(seg[1], "functions") == 0) {
        return route_functions(r, seg, n);
    }
    if (strcmp(seg[1], "event-source-mappings") == 0) {
        return route_esm(r, seg, n);
    }
    return route_unknown(r);
}

/* ---- errors ---- */

/* Which member carries the message: each Lambda exception declares "Message" or "message"
 * (the API reference's shapes; RequestEntityTooLargeException is sent with "Message"). */
static const char *error_message_member(enum awserr e)
{
    switch (e) {
    case AWSERR_LAMBDA_NOT_FOUND:
    case AWSERR_LAMBDA_SERVICE:
    case AWSERR_LAMBDA_IN_USE:
    case AWSERR_LAMBDA_TOO_LARGE:
        return "Message";
    default:
        return "message";
    }
}

const char *lam_strerror(int rc)
{
    switch (rc) {
    case LAM_ENOFUNC:
        return "no such function";
    case LAM_ETHROTTLED:
        return "too many invocations waiting for the function";
    case LAM_ESHUTDOWN:
        return "the Lambda service is stopping";
    case LAM_ETOOLARGE:
        return "payload too large";
    case LAM_EPAYLOAD:
        return "payload is not JSON";
    case LAM__EZIP:
        return "not a zip file that can be unpacked";
    case LAM__EUNZIPPED:
        return "unzipped code too large";
    default:
        return store_strerror(rc);
    }
}

/* ---- start-up ---- */

/* The directory of the running binary, into out. */
static bool exe_dir(char *out, size_t cap)
{
    ssize_t n = readlink("/proc/self/exe", out, cap - 1);
    char *slash;
    if (n <= 0) {
        return false;
    }
    out[n] = '\0';
    slash = strrchr(out, '/');
    if (!slash) {
        return false;
    }
    *slash = '\0';
    return true;
}

/* runtimes/ next to the binary: build/sluice and build/asan/sluice in a checkout, or
 * <prefix>/share/sluice/runtimes for an installed <prefix>/bin/sluice. */
static char *find_runtimes(const char *given)
{
    static const char *const rel[] = { "runtimes", "../runtimes", "../../runtimes",
                                       "../share/sluice/runtimes" };
    char dir[PATH_MAX], path[PATH_MAX + 64], real[PATH_MAX];
    if (given && given[0]) {
        return xstrdup(given);
    }
    if (!exe_dir(dir, sizeof dir)) {
        return xstrdup("");
    }
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        snprintf(path, sizeof path, "%s/%s/python/bootstrap.py", dir, rel[i]);
        if (access(path, R_OK) == 0) {
            snprintf(path, sizeof path, "%s/%s", dir, rel[i]);
            return xstrdup(realpath(path, real) ? real : path);
        }
    }
    return xstrdup("");
}

/* An executable named name on PATH, or NULL. */
static char *on_path(const char *name)
{
    const char *path = getenv("PATH");
    char buf[PATH_MAX];
    while (path && *path) {
        const char *c = strchr(path, ':');
        size_t n = c ? (size_t)(c - path) : strlen(path);
        if (n > 0 && n + strlen(name) + 2 < sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, name);
            if (access(buf, X_OK) == 0) {
                return xstrdup(buf);
            }
        }
        if (!c) {
            break;
        }
        path = c + 1;
    }
    return NULL;
}

static char *find_program(const char *given, const char *preferred, const char *const *names)
{
    char *p;
    if (given && given[0]) {
        return xstrdup(given);
    }
    if (preferred && access(preferred, X_OK) == 0) {
        return xstrdup(preferred);
    }
    for (; *names; names++) {
        p = on_path(*names);
        if (p) {
            return p;
        }
    }
    return xstrdup("");
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        return -errno;
    }
    return 0;
}

int lam_new(struct store *st, struct http_server *srv, struct strm *streams,
            const struct lam_options *opt, struct lam **out, struct http_service **svc)
{
    static const char *const pythons[] = { "python3", NULL };
    static const char *const nodes[] = { "node", "nodejs", NULL };
    struct lam *l = xcalloc(1, sizeof *l);
    int rc;

    l->st = st;
    l->srv = srv;
    l->streams = streams;
    l->code_fd = -1;
    l->wake[0] = l->wake[1] = -1;
    snprintf(l->region, sizeof l->region, "%s", opt->region);
    snprintf(l->account, sizeof l->account, "%s", opt->account);
    snprintf(l->access_key, sizeof l->access_key, "%s", opt->access_key ? opt->access_key : "");
    snprintf(l->secret_key, sizeof l->secret_key, "%s", opt->secret_key ? opt->secret_key : "");
    l->max_envs = opt->max_envs ? opt->max_envs : LAM_MAX_ENVS_DEFAULT;
    pthread_mutex_init(&l->mu, NULL);
    pthread_mutex_init(&l->extract_mu, NULL);
    pthread_mutex_init(&l->async_mu, NULL);
    pthread_cond_init(&l->async_cv, NULL);
    pthread_mutex_init(&l->esm_mu, NULL);
    {
        size_t n = strlen(opt->data_dir) + 32;
        l->dir = xmalloc(n);
        l->code_dir = xmalloc(n);
        l->run_dir = xmalloc(n);
        snprintf(l->dir, n, "%s/lambda", opt->data_dir);
        snprintf(l->code_dir, n, "%s/lambda/code", opt->data_dir);
        snprintf(l->run_dir, n, "%s/lambda/run", opt->data_dir);
    }
    l->runtimes_dir = find_runtimes(opt->runtimes_dir);
    l->python = find_program(opt->python, "/usr/bin/python3", pythons);
    l->node = find_program(opt->node, NULL, nodes);
    rc = make_dir(l->dir);
    if (!rc) {
        rc = make_dir(l->code_dir);
    }
    if (!rc) {
        rc = make_dir(l->run_dir);
    }
    if (!rc) {
        l->code_fd = open(l->code_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->code_fd < 0) {
            rc = -errno;
        }
    }
    if (!rc) {
        struct store_dbi_req dbis[] = {
            { .name = "lam.functions", .dbi = &l->functions },
            { .name = "lam.esm", .dbi = &l->esm },
            { .name = "lam.esm_pos", .dbi = &l->esm_pos },
            { .name = "lam.async", .dbi = &l->async },
            { .name = "lam.meta", .dbi = &l->meta },
        };

        rc = store_dbi_open_many(st, dbis, sizeof dbis / sizeof dbis[0]);
    }
    if (!rc) {
        rc = lam__code_sweep(l);
    }
    if (!rc) {
        rc = lam__env_start(l);
    }
    l->svc.name = "lambda";
    l->svc.proto = HTTP_PROTO_REST_JSON;
    l->svc.signing_name = "lambda";
    l->svc.ops = lam_ops;
    l->svc.n_ops = sizeof lam_ops / sizeof lam_ops[0];
    l->svc.claims = claims;
    l->svc.route = route;
    l->svc.max_body = LAM_MAX_BODY;
    l->svc.error_message_member = error_message_member;
    l->svc.ctx = l;
    if (rc) {
        lam_free(l);
        return rc;
    }
    if (!l->runtimes_dir[0]) {
        log_warn("lambda", "runtimes/ (the python and node bootstraps) not found next to the "
                           "binary; set --lambda-runtimes to run python and nodejs functions");
    }
    log_debug("lambda", "runtimes %s, python %s, node %s", l->runtimes_dir,
              l->python[0] ? l->python : "(none)", l->node[0] ? l->node : "(none)");
    *out = l;
    *svc = &l->svc;
    return 0;
}

int lam_start(struct lam *l)
{
    int rc;

    assert(http_server_port(l->srv) != 0);
    rc = lam__async_start(l);
    if (!rc) {
        rc = lam__esm_start(l);
    }
    return rc;
}

void lam_shutdown(struct lam *l)
{
    if (!l || l->shut) {
        return;
    }
    l->shut = true;
    /* Environments first: every invocation still running or waiting ends (LAM_ESHUTDOWN), so
     * the worker and the pollers waiting for them can stop. */
    lam__env_stop(l);
    lam__async_stop(l);
    lam__esm_stop(l);
}

void lam_free(struct lam *l)
{
    if (!l) {
        return;
    }
    lam_shutdown(l);
    if (l->code_fd >= 0) {
        close(l->code_fd);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_mutex_destroy(&l->extract_mu);
    pthread_mutex_destroy(&l->async_mu);
    pthread_cond_destroy(&l->async_cv);
    pthread_mutex_destroy(&l->esm_mu);
    free(l->dir);
    free(l->code_dir);
    free(l->run_dir);
    free(l->runtimes_dir);
    free(l->python);
    free(l->node);
    free(l);
}
