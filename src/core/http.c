/*
 * http.c: the front door on libmicrohttpd (see http.h for the request states).
 *
 * What it is: MHD's access handler drives each request through its states: collect the
 * request line and headers, route to a service and operation, enforce body limits before
 * reading, buffer or stream the body, verify SigV4, run the handler, suspend while it waits
 * (MHD_suspend_connection, so a waiting request holds no thread), and queue the response or
 * the AWS error in the service's protocol. It also answers GET /_sluice/health and
 * GET /metrics.
 *
 * What it is not: no operation logic, no knowledge of any particular service beyond the
 * struct http_service each registers.
 *
 * Invariants:
 *  - MHD is told not to unescape anything (unescape_raw), so r->raw_path and the query
 *    parameters are exactly as sent: SigV4 canonicalises from the raw bytes;
 *  - the first error set on a request wins and is the one rendered;
 *  - a request waiting for an op is suspended under r->lock, and http_req_resume() takes the
 *    same lock, so a resume can never be lost between "handler returned" and "suspended";
 *  - completed_cb takes r->lock once before freeing, so a resumer that still holds it is
 *    done with r before r dies;
 *  - once http_server_stop() has begun, no request suspends within its grace period: one
 *    that would waits for its resume on its own thread, so that MHD_stop_daemon() (which
 *    aborts the process on a suspended connection) finds none.
 */
#include "core/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define HTTP_MAX_SERVICES 16
#define HTTP_MAX_SOURCES 16
#define HTTP_MAX_HEADERS 256
#define HTTP_MAX_QUERY 256
/* libmicrohttpd's memory per connection: the request line and headers, the header index and
 * the response headers live in it, and the body is read through what is left. A request
 * whose line and headers do not fit is answered 431. AWS allows 8 KB of request headers
 * (S3 PutObject, with 2 KB of user metadata) and 1,024-byte keys, which fit with room to
 * spare (tests/e2e/test_s3.py test_request_headers_at_aws_limits). The library zeroes the
 * whole pool after every request on a keep-alive connection, so its size is paid per
 * request: 32 KiB of memset was the largest user-space cost of a GetItem. */
#define HTTP_CONN_MEMORY (16 * 1024)
#define HTTP_BODY_PRESIZE (64 * 1024)
#define HTTP_DRAIN_MAX (8u * 1024 * 1024)   /* body bytes read and dropped after a refusal */

/* Latency histogram bucket bounds in seconds (Prometheus "le" labels). */
static const double lat_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                     0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                     5,      10 };
#define N_LAT (sizeof lat_bounds / sizeof lat_bounds[0])

struct http_op_stats {
    _Atomic uint64_t by_class[5];  /* 1xx .. 5xx */
    _Atomic uint64_t lat[N_LAT + 1];
    _Atomic uint64_t lat_sum_ns;
};

struct metrics_source {
    void (*fn)(void *ctx, struct buf *b);
    void *ctx;
};

struct http_server {
    struct http_server_options opt;
    char bind[64];
    char region[33];
    char account[33];
    struct MHD_Daemon *daemon;
    unsigned port;
    struct http_service *svcs[HTTP_MAX_SERVICES];
    size_t n_svcs;
    struct metrics_source sources[HTTP_MAX_SOURCES];
    size_t n_sources;
    /* per service, op indexes sorted by name for bsearch on X-Amz-Target */
    size_t *sorted[HTTP_MAX_SERVICES];
    _Atomic uint64_t in_flight;
    _Atomic uint64_t waiting;
    /* Set by http_server_stop(): until stop_deadline_ns a request that would suspend waits
     * for its resume on its thread instead, since MHD cannot stop with a connection
     * suspended and a keep-alive client may send new requests until the daemon stops. */
    _Atomic bool stopping;
    _Atomic uint64_t stop_deadline_ns;
    _Atomic uint64_t req_counter;
    _Atomic uint64_t internal_requests;
    _Atomic uint64_t unrouted;
    char id_prefix[9];
    time_t started;
};

/* ---- small helpers ---- */

uint64_t http_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *http_server_region(const struct http_server *srv)
{
    return srv->region;
}

const char *http_server_account(const struct http_server *srv)
{
    return srv->account;
}

unsigned http_server_port(const struct http_server *srv)
{
    return srv->port;
}

const char *http_server_bind(const struct http_server *srv)
{
    return srv->bind;
}

unsigned http_req_local_port(const struct http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &len) != 0) {
        return 0;
    }
    if (ss.ss_family == AF_INET) {
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    for (size_t i = 0; i < r->n_headers; i++) {
        if (sl_str_case_eq(r->headers[i].name, name)) {
            return r->headers[i].value.p;
        }
    }
    return NULL;
}

const char *http_req_query(struct http_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_query; i++) {
        struct sl_str k = r->query[i].name;
        char *kd = arena_alloc(&r->arena, k.len + 1);
        long kl = sl_uri_decode(k, kd);
        if (kl < 0 || (size_t)kl != n || memcmp(kd, name, n) != 0) {
            continue;
        }
        if (!r->query[i].value.p) {
            return "";
        }
        {
            struct sl_str v = r->query[i].value;
            char *vd = arena_alloc(&r->arena, v.len + 1);
            long vl = sl_uri_decode(v, vd);
            if (vl < 0) {
                return NULL;
            }
            /* A decoded NUL (%00) would cut the C string short ("$LATEST%00x" read as
             * "$LATEST"): it becomes '?', which the parameters' patterns refuse. */
            for (long j = 0; j < vl; j++) {
                if (vd[j] == '\0') {
                    vd[j] = '?';
                }
            }
            vd[vl] = '\0';
            return vd;
        }
    }
    return NULL;
}

int http_req_fail(struct http_req *r, enum awserr e, const char *fmt, ...)
{
    const struct awserr_info *info;
    va_list ap;
    char msg[1024];

    if (r->err != AWSERR_NONE) {
        return -1;
    }
    r->err = e;
    info = awserr_info(e);
    if (!fmt) {
        fmt = info->msg;
    }
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        r->err_msg = arena_strdup(&r->arena, msg);
    }
    else {
        r->err_msg = NULL;
    }
    return -1;
}

void http_req_fail_field(struct http_req *r, const char *name, const char *value)
{
    struct http_hdr *h = arena_new(&r->arena, struct http_hdr);
    h->name = arena_strdup(&r->arena, name);
    h->value = arena_strdup(&r->arena, value);
    h->next = r->err_fields;
    r->err_fields = h;
}

void http_req_fail_json(struct http_req *r, const char *name, const char *json, size_t len)
{
    struct http_hdr *h = arena_new(&r->arena, struct http_hdr);
    h->name = arena_strdup(&r->arena, name);
    h->value = arena_strndup(&r->arena, json, len);
    h->next = r->err_json;
    r->err_json = h;
}

int http_reply(struct http_req *r, unsigned status, const char *content_type, const char *body,
               size_t len)
{
    r->status = status;
    r->content_type = content_type;
    r->resp_body = body;
    r->resp_len = len;
    return 0;
}

static void reader_drop(struct http_req *r)
{
    if (r->resp_read_ctx && r->resp_read_free) {
        r->resp_read_free(r->resp_read_ctx);
    }
    r->resp_read = NULL;
    r->resp_read_ctx = NULL;
}

int http_reply_reader(struct http_req *r, unsigned status, uint64_t len,
                      long (*read)(void *ctx, uint64_t off, char *buf, size_t max),
                      void (*free_ctx)(void *ctx), void *ctx)
{
    reader_drop(r);
    r->status = status;
    r->resp_read = read;
    r->resp_read_free = free_ctx;
    r->resp_read_ctx = ctx;
    r->resp_read_len = len;
    return 0;
}

struct reader_cb {
    long (*read)(void *ctx, uint64_t off, char *buf, size_t max);
    void (*free_ctx)(void *ctx);
    void *ctx;
};

static ssize_t reader_adapter(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct reader_cb *c = cls;
    long n = c->read(c->ctx, pos, buf, max);
    return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void reader_free(void *cls)
{
    struct reader_cb *c = cls;
    if (c->free_ctx) {
        c->free_ctx(c->ctx);
    }
    free(c);
}

void http_reply_header(struct http_req *r, const char *name, const char *value)
{
    struct http_hdr *h = arena_new(&r->arena, struct http_hdr);
    h->name = arena_strdup(&r->arena, name);
    h->value = arena_strdup(&r->arena, value);
    h->next = r->resp_headers;
    r->resp_headers = h;
}

static void free_cb(void *p)
{
    free(p);
}

static const char *json_content_type(const struct http_service *svc)
{
    if (svc && svc->proto == HTTP_PROTO_JSON11) {
        return "application/x-amz-json-1.1";
    }
    if (svc && svc->proto == HTTP_PROTO_REST_JSON) {
        return "application/json";
    }
    return "application/x-amz-json-1.0";
}

int http_reply_json(struct http_req *r, json_t *out)
{
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (!text) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    arena_on_clear(&r->arena, free_cb, text);
    return http_reply(r, 200, json_content_type(r->svc), text, strlen(text));
}

int http_req_pending(struct http_req *r, int (*cont)(struct http_req *r))
{
    pthread_mutex_lock(&r->lock);
    r->cont = cont;
    r->resume_requested = false;
    r->state = HTTP_REQ_WAITING;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

void http_req_resume(struct http_req *r)
{
    pthread_mutex_lock(&r->lock);
    r->resume_requested = true;
    if (r->suspended) {
        r->suspended = false;
        r->state = HTTP_REQ_READY_AGAIN;
        atomic_fetch_sub(&r->srv->waiting, 1);
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- error rendering ---- */

static void xml_escape(struct buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            buf_puts(b, "&lt;");
            break;
        case '>':
            buf_puts(b, "&gt;");
            break;
        case '&':
            buf_puts(b, "&amp;");
            break;
        case '"':
            buf_puts(b, "&quot;");
            break;
        case '\'':
            buf_puts(b, "&apos;");
            break;
        default:
            buf_append(b, s, 1);
        }
    }
}

static const char *err_namespace(const struct http_service *svc, enum awserr_ns ns)
{
    if (!svc || !svc->error_ns || !svc->error_ns[0]) {
        return "";
    }
    switch (ns) {
    case AWSERR_NS_CORAL:
        return "com.amazon.coral.service#";
    case AWSERR_NS_VALIDATE:
        return "com.amazon.coral.validate#";
    case AWSERR_NS_SERVICE:
        break;
    }
    return svc->error_ns;
}

static bool is_auth_error(enum awserr e)
{
    return e == AWSERR_MISSING_AUTH || e == AWSERR_UNRECOGNIZED_CLIENT ||
           e == AWSERR_INVALID_SIGNATURE || e == AWSERR_INCOMPLETE_SIGNATURE;
}

/* Turns r->err into the response of r's protocol (S3 XML when no service was found and the
 * request did not look like a JSON protocol). */
static void render_error(struct http_req *r)
{
    const struct awserr_info *info = awserr_info(r->err);
    enum http_proto proto = r->svc ? r->svc->proto
                            : (http_req_header(r, "x-amz-target") ? HTTP_PROTO_JSON10
                                                                   : HTTP_PROTO_REST_XML);
    struct buf b;
    char *text;
    size_t len;

    buf_init(&b, 64 * 1024);
    r->status = info->status;
    if (r->resp_fd >= 0) {
        close(r->resp_fd);
    }
    r->resp_fd = -1;
    reader_drop(r);
    if (proto == HTTP_PROTO_REST_XML) {
        buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        xml_escape(&b, info->code);
        buf_puts(&b, "</Code><Message>");
        xml_escape(&b, r->err_msg ? r->err_msg : "");
        buf_puts(&b, "</Message>");
        for (struct http_hdr *f = r->err_fields; f; f = f->next) {
            buf_printf(&b, "<%s>", f->name);
            xml_escape(&b, f->value);
            buf_printf(&b, "</%s>", f->name);
        }
        buf_printf(&b, "<RequestId>%s</RequestId><HostId>%s</HostId></Error>", r->request_id,
                   r->request_id);
        r->content_type = "application/xml";
    }
    else if (proto == HTTP_PROTO_REST_JSON) {
        /* Lambda's shape: {"Type": "User" | "Service", "message" or "Message": ...} plus any
         * members the exception declares (TooManyRequestsException's "Reason"), the code in
         * x-amzn-ErrorType; the member's case follows the exception's model. A service that
         * sets error_ns (sluice's own query API) also gets "__type", first. */
        const char *member = r->svc && r->svc->error_message_member
                                 ? r->svc->error_message_member(r->err)
                                 : "message";
        json_t *o = json_object();
        char *s;
        if (r->svc && r->svc->error_ns) {
            json_object_set_new(o, "__type", json_string(arena_printf(
                                                 &r->arena, "%s%s",
                                                 err_namespace(r->svc, info->ns), info->code)));
        }
        json_object_set_new(o, "Type", json_string(info->status >= 500 ? "Service" : "User"));
        json_object_set_new(o, member, json_string(r->err_msg ? r->err_msg : ""));
        for (struct http_hdr *f = r->err_fields; f; f = f->next) {
            json_object_set_new(o, f->name, json_string(f->value));
        }
        s = json_dumps(o, JSON_COMPACT);
        buf_puts(&b, s);
        free(s);
        json_decref(o);
        if (is_auth_error(r->err)) {
            r->status = 403;
        }
        http_reply_header(r, "x-amzn-ErrorType", info->code);
        r->content_type = "application/json";
    }
    else {
        json_t *o = json_object();
        char *type = arena_printf(&r->arena, "%s%s", err_namespace(r->svc, info->ns), info->code);
        char *s;
        json_object_set_new(o, "__type", json_string(type));
        if (r->err_msg) {
            json_object_set_new(o, "message", json_string(r->err_msg));
        }
        for (struct http_hdr *f = r->err_json; f; f = f->next) {
            json_t *v = json_loads(f->value, JSON_DECODE_ANY, NULL);
            if (v) {
                json_object_set_new(o, f->name, v);
            }
        }
        s = json_dumps(o, JSON_COMPACT);
        buf_puts(&b, s);
        free(s);
        json_decref(o);
        r->content_type = json_content_type(r->svc);
    }
    text = buf_detach(&b, &len);
    arena_on_clear(&r->arena, free_cb, text);
    r->resp_body = text;
    r->resp_len = len;
}

/* ---- stats ---- */

static struct http_op_stats *op_stats(struct http_req *r)
{
    if (!r->svc || !r->svc->stats) {
        return NULL;
    }
    return &r->svc->stats[r->op ? r->op_index : r->svc->n_ops];
}

static void record_stats(struct http_req *r)
{
    struct http_op_stats *st = op_stats(r);
    uint64_t ns = http_now_ns() - r->t_start_ns;
    double s = (double)ns / 1e9;
    size_t i;
    unsigned cls;

    if (!st) {
        return;
    }
    cls = r->status / 100;
    if (cls < 1 || cls > 5) {
        cls = 5;
    }
    atomic_fetch_add_explicit(&st->by_class[cls - 1], 1, memory_order_relaxed);
    for (i = 0; i < N_LAT && s > lat_bounds[i]; i++) {
    }
    atomic_fetch_add_explicit(&st->lat[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&st->lat_sum_ns, ns, memory_order_relaxed);
}

static void render_metrics(struct http_server *srv, struct buf *b)
{
    buf_puts(b, "# HELP sluice_requests_total Requests answered, by service, operation and "
                "status class.\n# TYPE sluice_requests_total counter\n");
    for (size_t s = 0; s < srv->n_svcs; s++) {
        struct http_service *svc = srv->svcs[s];
        for (size_t o = 0; o <= svc->n_ops; o++) {
            const char *name = o < svc->n_ops ? svc->ops[o].name : "unknown";
            for (int c = 0; c < 5; c++) {
                uint64_t n = atomic_load(&svc->stats[o].by_class[c]);
                if (n) {
                    buf_printf(b,
                               "sluice_requests_total{service=\"%s\",operation=\"%s\","
                               "status=\"%dxx\"} %llu\n",
                               svc->name, name, c + 1, (unsigned long long)n);
                }
            }
        }
    }
    buf_puts(b, "# HELP sluice_request_duration_seconds Time from the request's first byte to "
                "its response being queued.\n"
                "# TYPE sluice_request_duration_seconds histogram\n");
    for (size_t s = 0; s < srv->n_svcs; s++) {
        struct http_service *svc = srv->svcs[s];
        for (size_t o = 0; o <= svc->n_ops; o++) {
            const char *name = o < svc->n_ops ? svc->ops[o].name : "unknown";
            struct http_op_stats *st = &svc->stats[o];
            uint64_t cum = 0;
            uint64_t total = 0;
            for (size_t i = 0; i <= N_LAT; i++) {
                total += atomic_load(&st->lat[i]);
            }
            if (!total) {
                continue;
            }
            for (size_t i = 0; i <= N_LAT; i++) {
                cum += atomic_load(&st->lat[i]);
                if (i < N_LAT) {
                    buf_printf(b,
                               "sluice_request_duration_seconds_bucket{service=\"%s\","
                               "operation=\"%s\",le=\"%g\"} %llu\n",
                               svc->name, name, lat_bounds[i], (unsigned long long)cum);
                }
                else {
                    buf_printf(b,
                               "sluice_request_duration_seconds_bucket{service=\"%s\","
                               "operation=\"%s\",le=\"+Inf\"} %llu\n",
                               svc->name, name, (unsigned long long)cum);
                }
            }
            buf_printf(b,
                       "sluice_request_duration_seconds_sum{service=\"%s\",operation=\"%s\"} "
                       "%.6f\n",
                       svc->name, name, (double)atomic_load(&st->lat_sum_ns) / 1e9);
            buf_printf(b,
                       "sluice_request_duration_seconds_count{service=\"%s\",operation=\"%s\"} "
                       "%llu\n",
                       svc->name, name, (unsigned long long)total);
        }
    }
    buf_printf(b,
               "# HELP sluice_http_in_flight Requests being handled now.\n"
               "# TYPE sluice_http_in_flight gauge\nsluice_http_in_flight %llu\n"
               "# HELP sluice_http_waiting Requests suspended while they wait.\n"
               "# TYPE sluice_http_waiting gauge\nsluice_http_waiting %llu\n",
               (unsigned long long)atomic_load(&srv->in_flight),
               (unsigned long long)atomic_load(&srv->waiting));
    for (size_t i = 0; i < srv->n_sources; i++) {
        srv->sources[i].fn(srv->sources[i].ctx, b);
    }
}

/* ---- internal endpoints ---- */

static bool is_internal(struct http_req *r)
{
    bool get = sl_str_eq_c(r->method, "GET") || sl_str_eq_c(r->method, "HEAD");
    if (!get) {
        return false;
    }
    if (sl_str_eq_c(r->raw_path, "/_sluice/health")) {
        return true;
    }
    /* GET /metrics could also be a path-style ListObjects of a bucket named "metrics"; an S3
     * request is always signed (header or query), Prometheus scrapes are not. */
    if (sl_str_eq_c(r->raw_path, "/metrics") && !http_req_header(r, "authorization")) {
        for (size_t i = 0; i < r->n_query; i++) {
            if (sl_str_case_eq(r->query[i].name, "X-Amz-Signature")) {
                return false;
            }
        }
        return true;
    }
    return false;
}

static void answer_internal(struct http_req *r)
{
    struct http_server *srv = r->srv;
    struct buf b;
    char *text;
    size_t len;

    atomic_fetch_add(&srv->internal_requests, 1);
    buf_init(&b, 16 * 1024 * 1024);
    if (sl_str_eq_c(r->raw_path, "/metrics")) {
        render_metrics(srv, &b);
        r->content_type = "text/plain; version=0.0.4";
    }
    else {
        json_t *o = json_object();
        json_t *svcs = json_object();
        char *s;
        json_object_set_new(o, "status", json_string("ok"));
        json_object_set_new(o, "version", json_string(SLUICE_VERSION));
        json_object_set_new(o, "uptime_seconds",
                            json_integer((json_int_t)(time(NULL) - srv->started)));
        json_object_set_new(o, "region", json_string(srv->region));
        for (size_t i = 0; i < srv->n_svcs; i++) {
            struct http_service *svc = srv->svcs[i];
            const char *h = svc->health ? svc->health(svc->ctx) : "running";
            json_object_set_new(svcs, svc->name, json_string(h));
            if (strcmp(h, "running") != 0) {
                json_object_set_new(o, "status", json_string("degraded"));
            }
        }
        json_object_set_new(o, "services", svcs);
        s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        buf_puts(&b, s);
        buf_puts(&b, "\n");
        free(s);
        json_decref(o);
        r->content_type = "application/json";
    }
    text = buf_detach(&b, &len);
    arena_on_clear(&r->arena, free_cb, text);
    http_reply(r, 200, r->content_type, text, len);
}

/* ---- request collection and routing ---- */

struct collect {
    struct http_req *r;
    struct sigv4_kv *kv;
    size_t n;
    size_t cap;
};

static enum MHD_Result collect_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    struct collect *c = cls;
    (void)kind;
    if (c->n == c->cap) {
        return MHD_NO;
    }
    c->kv[c->n].name = (struct sl_str){ key, key_size };
    c->kv[c->n].value = (struct sl_str){ value, value ? value_size : 0 };
    c->n++;
    return MHD_YES;
}

/* Collects up to cap values of kind into an array of their exact count (from the arena): a
 * request has a dozen headers, and arrays of cap entries were two 8 KiB allocations. */
static void collect(struct http_req *r, enum MHD_ValueKind kind, size_t cap, struct sigv4_kv **kv,
                    size_t *n)
{
    int count = MHD_get_connection_values_n(r->conn, kind, NULL, NULL);
    size_t want = count > 0 ? ((size_t)count < cap ? (size_t)count : cap) : 0;
    struct collect c = { r, want ? arena_alloc(&r->arena, want * sizeof(struct sigv4_kv)) : NULL,
                         0, want };
    MHD_get_connection_values_n(r->conn, kind, collect_cb, &c);
    *kv = c.kv;
    *n = c.n;
}

static int op_name_cmp(const void *key, const void *elt, const struct http_service *svc)
{
    const struct sl_str *k = key;
    const char *name = svc->ops[*(const size_t *)elt].name;
    size_t n = strlen(name);
    int c = memcmp(k->p, name, k->len < n ? k->len : n);
    if (c) {
        return c;
    }
    return k->len < n ? -1 : (k->len > n ? 1 : 0);
}

static int find_op(struct http_server *srv, size_t s, struct sl_str name)
{
    const struct http_service *svc = srv->svcs[s];
    size_t lo = 0, hi = svc->n_ops;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = op_name_cmp(&name, &srv->sorted[s][mid], svc);
        if (c == 0) {
            return (int)srv->sorted[s][mid];
        }
        if (c < 0) {
            hi = mid;
        }
        else {
            lo = mid + 1;
        }
    }
    return -1;
}

/* Picks r->svc and r->op. Returns 0, or -1 with an error set. */
static int route(struct http_req *r)
{
    struct http_server *srv = r->srv;
    const char *target = http_req_header(r, "x-amz-target");

    if (target) {
        struct sl_str t = sl_str_c(target);
        for (size_t s = 0; s < srv->n_svcs; s++) {
            struct http_service *svc = srv->svcs[s];
            if (svc->target_prefix && sl_str_starts(t, svc->target_prefix)) {
                size_t pl = strlen(svc->target_prefix);
                int i = find_op(srv, s, (struct sl_str){ t.p + pl, t.len - pl });
                r->svc = svc;
                if (i < 0) {
                    return http_req_fail(r, AWSERR_UNKNOWN_OPERATION, NULL);
                }
                r->op = &svc->ops[i];
                r->op_index = (size_t)i;
                return 0;
            }
        }
        atomic_fetch_add(&srv->unrouted, 1);
        return http_req_fail(r, AWSERR_UNKNOWN_OPERATION, NULL);
    }
    for (size_t s = 0; s < srv->n_svcs; s++) {
        struct http_service *svc = srv->svcs[s];
        if (svc->claims && svc->claims(r)) {
            r->svc = svc;
            r->op = svc->route(r);
            if (!r->op) {
                if (r->err == AWSERR_NONE) {
                    http_req_fail(r, AWSERR_UNKNOWN_OPERATION, NULL);
                }
                return -1;
            }
            r->op_index = (size_t)(r->op - svc->ops);
            return 0;
        }
    }
    atomic_fetch_add(&srv->unrouted, 1);
    return http_req_fail(r, AWSERR_S3_NOT_IMPLEMENTED,
                         "This endpoint does not serve the requested service yet.");
}

/* ---- authentication ---- */

static int auth_fail(struct http_req *r, int rc)
{
    bool xml = r->svc && r->svc->proto == HTTP_PROTO_REST_XML;
    const char *msg = r->auth.msg[0] ? r->auth.msg : NULL;

    log_debug("http", "%s: sigv4 refused (%s) key=%s", r->request_id, sigv4_strerror(rc),
              r->auth.access_key[0] ? r->auth.access_key : "-");
    if (!xml) {
        switch (rc) {
        case SIGV4_EMISSING:
            return http_req_fail(r, AWSERR_MISSING_AUTH, NULL);
        case SIGV4_EUNKNOWNKEY:
            return http_req_fail(r, AWSERR_UNRECOGNIZED_CLIENT, NULL);
        case SIGV4_EMISMATCH:
        case SIGV4_ECONTENTSHA:
        case SIGV4_ECHUNKSIG:
            return http_req_fail(r, AWSERR_INVALID_SIGNATURE, NULL);
        case SIGV4_ESKEW:
        case SIGV4_EEXPIRED:
            return http_req_fail(r, AWSERR_INVALID_SIGNATURE, "%s",
                                 msg ? msg : "Signature expired");
        default:
            return msg ? http_req_fail(r, AWSERR_INCOMPLETE_SIGNATURE, "%s", msg)
                       : http_req_fail(r, AWSERR_INCOMPLETE_SIGNATURE, NULL);
        }
    }
    switch (rc) {
    case SIGV4_EMISSING:
        return http_req_fail(r, AWSERR_S3_ACCESS_DENIED, NULL);
    case SIGV4_EUNKNOWNKEY:
        http_req_fail(r, AWSERR_S3_INVALID_ACCESS_KEY, NULL);
        http_req_fail_field(r, "AWSAccessKeyId", r->auth.access_key);
        return -1;
    case SIGV4_EMISMATCH:
    case SIGV4_ECHUNKSIG:
        http_req_fail(r, AWSERR_S3_SIGNATURE_MISMATCH, NULL);
        http_req_fail_field(r, "AWSAccessKeyId", r->auth.access_key);
        return -1;
    case SIGV4_ESKEW:
        return http_req_fail(r, AWSERR_S3_TIME_SKEWED, NULL);
    case SIGV4_EEXPIRED:
        return http_req_fail(r, AWSERR_S3_EXPIRED, NULL);
    case SIGV4_ECONTENTSHA:
        return http_req_fail(r, AWSERR_S3_CONTENT_SHA_MISMATCH, NULL);
    case SIGV4_ECHUNK:
        return http_req_fail(r, AWSERR_S3_INCOMPLETE_BODY, NULL);
    default:
        if (r->auth.presigned) {
            return http_req_fail(r, AWSERR_S3_AUTH_QUERY_MALFORMED, "%s",
                                 msg ? msg : "Query-string authentication is malformed.");
        }
        return http_req_fail(r, AWSERR_S3_AUTH_MALFORMED, "%s",
                             msg ? msg : "the request could not be parsed.");
    }
}

/* Verifies SigV4. payload_hash: hex hash of a buffered body, or NULL to use the declared one.
 * Returns 0, or -1 with the service's error set. */
static int authenticate(struct http_req *r, const char *payload_hash)
{
    struct sigv4_request rq;
    int rc;

    if (r->op && (r->op->flags & HTTP_OP_NOAUTH)) {
        return 0;
    }
    memset(&rq, 0, sizeof rq);
    rq.method = r->method;
    rq.raw_path = r->raw_path;
    rq.query = r->query;
    rq.n_query = r->n_query;
    rq.headers = r->headers;
    rq.n_headers = r->n_headers;
    rq.s3 = r->svc && r->svc->proto == HTTP_PROTO_REST_XML;
    rq.payload_hash = payload_hash;
    rq.now = time(NULL);
    rc = sigv4_verify(&rq, r->srv->opt.secret_lookup, r->srv->opt.secret_ctx, &r->auth);
    if (rc != 0) {
        return auth_fail(r, rc);
    }
    return 0;
}

int http_req_verify_policy(struct http_req *r, const char *policy, size_t len,
                           const char *credential, const char *amz_date,
                           const char *signature)
{
    return sigv4_verify_policy(policy, len, credential, amz_date, signature, time(NULL),
                               r->srv->opt.secret_lookup, r->srv->opt.secret_ctx, &r->auth);
}

/* ---- bodies ---- */

static int body_sink(void *ctx, const char *p, size_t n)
{
    struct http_req *r = ctx;
    return r->on_body(r, p, n) < 0 ? -1 : 0;
}

/* A chunk of a streamed body. Returns 0 or -1 with an error set. */
static int stream_feed(struct http_req *r, const char *p, size_t n)
{
    r->body_received += n;
    if (r->chunked) {
        int rc = sigv4_chunked_feed(r->chunked, p, n, body_sink, r);
        if (rc < 0 && r->err == AWSERR_NONE) {
            return auth_fail(r, rc);
        }
        return rc ? -1 : 0;
    }
    if (r->body_sha) {
        sigv4_sha256_update(r->body_sha, p, n);
    }
    return r->on_body(r, p, n);
}

static int stream_end(struct http_req *r)
{
    if (r->chunked) {
        int rc = sigv4_chunked_finish(r->chunked);
        if (rc < 0) {
            return auth_fail(r, rc);
        }
    }
    else if (r->body_sha) {
        char hex[65];
        sigv4_sha256_final_hex(r->body_sha, hex);
        if (strcmp(hex, r->auth.content_sha256) != 0) {
            return auth_fail(r, SIGV4_ECONTENTSHA);
        }
    }
    if (r->has_content_length && r->body_received != r->content_length) {
        return http_req_fail(r, AWSERR_S3_INCOMPLETE_BODY, NULL);
    }
    return r->on_body_end(r);
}

static void free_sha(void *p)
{
    sigv4_sha256_free(p);
}

static void free_chunked(void *p)
{
    sigv4_chunked_free(p);
}

/* Headers are in and the op streams its body: authenticate on the declared payload hash and
 * let the handler set on_body / on_body_end. */
static int start_stream(struct http_req *r)
{
    if (authenticate(r, NULL) < 0) {
        return -1;
    }
    /* An unsigned op (a browser POST, which signs a policy inside its body) gets its body
     * as sent. */
    switch (r->op->flags & HTTP_OP_NOAUTH ? SIGV4_PAYLOAD_UNSIGNED : r->auth.payload) {
    case SIGV4_PAYLOAD_HASH:
        r->body_sha = sigv4_sha256_new();
        arena_on_clear(&r->arena, free_sha, r->body_sha);
        break;
    case SIGV4_PAYLOAD_UNSIGNED:
        break;
    case SIGV4_PAYLOAD_STREAMING:
    case SIGV4_PAYLOAD_STREAMING_TRAILER:
    case SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER:
        r->chunked = sigv4_chunked_new(&r->auth);
        arena_on_clear(&r->arena, free_chunked, r->chunked);
        break;
    }
    if (r->op->handler(r) < 0) {
        return -1;
    }
    if (!r->on_body || !r->on_body_end) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    return 0;
}

static void json_free_cb(void *p)
{
    json_decref(p);
}

int http_req_json_or_reply(struct http_req *r)
{
    json_error_t jerr;

    if (r->json) {
        return 0;
    }
    if (r->body.len == 0) {
        r->json = json_object();
    }
    else {
        r->json = json_loadb(r->body.p, r->body.len, JSON_DECODE_ANY, &jerr);
    }
    if (!r->json) {
        return http_req_fail(r, AWSERR_SERIALIZATION, "%s", jerr.text);
    }
    arena_on_clear(&r->arena, json_free_cb, r->json);
    if (!json_is_object(r->json)) {
        return http_req_fail(r, AWSERR_SERIALIZATION,
                             "Start of structure or map found where not expected.");
    }
    return 0;
}

/* The whole buffered body is in: authenticate, parse (unless the handler does), run the
 * handler. */
static int run_buffered(struct http_req *r)
{
    char hex[65];
    const char *declared = http_req_header(r, "x-amz-content-sha256");

    sigv4_sha256_hex(r->body.p ? r->body.p : "", r->body.len, hex);
    if (declared && strlen(declared) == 64) {
        if (strcasecmp(declared, hex) != 0) {
            return auth_fail(r, SIGV4_ECONTENTSHA);
        }
    }
    if (authenticate(r, declared ? NULL : hex) < 0) {
        return -1;
    }
    if ((r->svc->proto == HTTP_PROTO_JSON10 || r->svc->proto == HTTP_PROTO_JSON11) &&
        !(r->op->flags & HTTP_OP_OWN_JSON) && http_req_json_or_reply(r) < 0) {
        return -1;
    }
    return r->op->handler(r);
}

/* ---- responses ---- */

static enum MHD_Result queue_response(struct http_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    bool xml;

    if (r->err != AWSERR_NONE) {
        render_error(r);
    }
    if (r->status == 0) {
        r->status = 200;
    }
    if (r->resp_fd >= 0) {
        resp = MHD_create_response_from_fd_at_offset64(r->resp_fd_len, r->resp_fd,
                                                      r->resp_fd_off);
        if (resp) {
            r->resp_fd = -1; /* MHD closes it */
        }
    }
    else if (r->resp_read) {
        struct reader_cb *c = xmalloc(sizeof *c);
        c->read = r->resp_read;
        c->free_ctx = r->resp_read_free;
        c->ctx = r->resp_read_ctx;
        resp = MHD_create_response_from_callback(r->resp_read_len, 64 * 1024, reader_adapter, c,
                                                 reader_free);
        if (resp) {
            r->resp_read = NULL; /* MHD frees it with the response */
            r->resp_read_ctx = NULL;
        }
        else {
            free(c);
        }
    }
    else {
        resp = MHD_create_response_from_buffer(r->resp_len, (void *)(r->resp_body ? r->resp_body
                                                                                  : ""),
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (!resp) {
        return MHD_NO;
    }
    if (r->content_type) {
        MHD_add_response_header(resp, "Content-Type", r->content_type);
    }
    xml = !r->svc ? !http_req_header(r, "x-amz-target") : r->svc->proto == HTTP_PROTO_REST_XML;
    if (xml) {
        MHD_add_response_header(resp, "x-amz-request-id", r->request_id);
        MHD_add_response_header(resp, "x-amz-id-2", r->request_id);
    }
    else {
        bool own = false;
        for (struct http_hdr *h = r->resp_headers; h; h = h->next) {
            own = own || strcasecmp(h->name, "x-amzn-RequestId") == 0;
        }
        if (!own) {
            MHD_add_response_header(resp, "x-amzn-RequestId", r->request_id);
        }
    }
    for (struct http_hdr *h = r->resp_headers; h; h = h->next) {
        MHD_add_response_header(resp, h->name, h->value);
    }
    ret = MHD_queue_response(r->conn, r->status, resp);
    MHD_destroy_response(resp);
    r->state = HTTP_REQ_DONE;
    r->queued = true;
    record_stats(r);
    if (log_threshold >= LOG_DEBUG) {
        log_debug("http", "%s %.*s %.*s %s.%s %u %.3fms key=%s", r->request_id,
                  (int)r->method.len, r->method.p, (int)r->raw_path.len, r->raw_path.p,
                  r->svc ? r->svc->name : "-", r->op ? r->op->name : "-", r->status,
                  (double)(http_now_ns() - r->t_start_ns) / 1e6,
                  r->auth.access_key[0] ? r->auth.access_key : "-");
    }
    return ret;
}

/* ---- the access handler ---- */

static struct http_req *req_new(struct http_server *srv, struct MHD_Connection *conn,
                                const char *url, const char *method)
{
    struct http_req *r = xcalloc(1, sizeof *r);
    uint64_t n = atomic_fetch_add(&srv->req_counter, 1);
    const char *cl;
    long dl;

    r->magic = HTTP_REQ_MAGIC;
    r->srv = srv;
    r->conn = conn;
    r->t_start_ns = http_now_ns();
    r->resp_fd = -1;
    arena_init(&r->arena);
    pthread_mutex_init(&r->lock, NULL);
    /* "<8 hex of the server>" then the counter's low 48 bits in 12 upper-case hex digits. */
    memcpy(r->request_id, srv->id_prefix, 8);
    for (int i = 0; i < 12; i++) {
        r->request_id[8 + i] = "0123456789ABCDEF"[(n >> (44 - 4 * i)) & 0xf];
    }
    r->request_id[20] = '\0';
    r->method = (struct sl_str){ method, strlen(method) };
    r->raw_path = (struct sl_str){ url, strlen(url) };
    r->path = arena_alloc(&r->arena, r->raw_path.len + 1);
    dl = sl_uri_decode(r->raw_path, r->path);
    if (dl < 0) {
        memcpy(r->path, url, r->raw_path.len);
        dl = (long)r->raw_path.len;
    }
    r->path[dl] = '\0';
    r->path_len = (size_t)dl;
    collect(r, MHD_HEADER_KIND, HTTP_MAX_HEADERS, &r->headers, &r->n_headers);
    collect(r, MHD_GET_ARGUMENT_KIND, HTTP_MAX_QUERY, &r->query, &r->n_query);
    cl = http_req_header(r, "content-length");
    if (cl) {
        char *end;
        unsigned long long v;
        errno = 0;
        v = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && *end == '\0') {
            r->content_length = v;
            r->has_content_length = true;
        }
    }
    atomic_fetch_add(&srv->in_flight, 1);
    return r;
}

static void req_free(struct http_req *r)
{
    atomic_fetch_sub(&r->srv->in_flight, 1);
    if (r->resp_fd >= 0) {
        close(r->resp_fd);
    }
    reader_drop(r);
    arena_clear(&r->arena);
    buf_release(&r->body);
    pthread_mutex_destroy(&r->lock);
    r->magic = 0;
    free(r);
}

static int fail_too_large(struct http_req *r)
{
    return http_req_fail(r, AWSERR_REQUEST_TOO_LARGE,
                         "Request must be smaller than %zu bytes for the %s operation",
                         r->svc->max_body, r->op->name);
}

/* First call: headers are in. Returns 0 to read the body, -1 when an error is set. */
static int on_headers(struct http_req *r)
{
    if (route(r) < 0) {
        return -1;
    }
    if (r->op->flags & HTTP_OP_STREAM) {
        r->state = HTTP_REQ_BODY;
        return start_stream(r);
    }
    if (r->has_content_length && r->content_length > r->svc->max_body) {
        return fail_too_large(r);
    }
    buf_init(&r->body, r->svc->max_body);
    if (r->has_content_length && r->content_length > 0) {
        /* One allocation of the announced size (checked against max_body above) instead of
         * doubling up to it; past HTTP_BODY_PRESIZE the body grows as it arrives, so that an
         * announced length alone cannot make the server hold memory. */
        buf_presize(&r->body, r->content_length < HTTP_BODY_PRESIZE ? (size_t)r->content_length
                                                                    : HTTP_BODY_PRESIZE);
    }
    r->state = HTTP_REQ_BODY;
    return 0;
}

/* Runs fn (a handler, continuation or body end) and settles what it left: a response or an
 * error (DONE), or a wait (suspend unless already resumed). Returns true when a response
 * should be queued now. */
static bool settle(struct http_req *r, int rc)
{
    for (;;) {
        if (rc < 0 || r->err != AWSERR_NONE) {
            if (r->err == AWSERR_NONE) {
                http_req_fail(r, AWSERR_INTERNAL, NULL);
            }
            return true;
        }
        if (r->state != HTTP_REQ_WAITING) {
            return true;
        }
        pthread_mutex_lock(&r->lock);
        while (!r->resume_requested && atomic_load(&r->srv->stopping) &&
               http_now_ns() < atomic_load(&r->srv->stop_deadline_ns)) {
            struct timespec ts = { 0, 1000 * 1000 };
            pthread_mutex_unlock(&r->lock);
            nanosleep(&ts, NULL);
            pthread_mutex_lock(&r->lock);
        }
        if (!r->resume_requested) {
            r->suspended = true;
            atomic_fetch_add(&r->srv->waiting, 1);
            MHD_suspend_connection(r->conn);
            pthread_mutex_unlock(&r->lock);
            return false;
        }
        r->state = HTTP_REQ_READY_AGAIN;
        pthread_mutex_unlock(&r->lock);
        rc = r->cont(r);
    }
}

/* Does the request carry a body (announced length or chunked transfer encoding)? */
static bool has_body(const struct http_req *r)
{
    return (r->has_content_length && r->content_length > 0) ||
           http_req_header(r, "transfer-encoding") != NULL;
}

/* A response decided on the first call (headers only) is queued on the next call, once MHD
 * has the whole request: MHD closes a keep-alive connection whose response was queued
 * "early". The exception is a request whose body we refuse: answering at once, and closing,
 * is what saves reading (and, with Expect: 100-continue, the client sending) that body. But a
 * client that sends a body of up to HTTP_DRAIN_MAX without waiting for 100-continue (botocore
 * outside S3) would see its connection reset before it reads the answer: that body is read
 * and dropped, and the answer follows it. */
static enum MHD_Result answer_first(struct http_req *r)
{
    const char *expect = http_req_header(r, "expect");
    r->state = HTTP_REQ_DONE;
    if (has_body(r) && !(r->err != AWSERR_NONE && !expect && r->has_content_length &&
                         r->content_length <= HTTP_DRAIN_MAX)) {
        return queue_response(r);
    }
    return MHD_YES;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct http_server *srv = cls;
    struct http_req *r = *con_cls;
    int rc;

    (void)version;
    if (!r) {
        r = req_new(srv, conn, url, method);
        *con_cls = r;
        if (is_internal(r)) {
            answer_internal(r);
            return answer_first(r);
        }
        if (on_headers(r) < 0) {
            return answer_first(r);
        }
        if (r->state == HTTP_REQ_WAITING && !settle(r, 0)) {
            return MHD_YES;
        }
        return MHD_YES;
    }
    if (r->magic != HTTP_REQ_MAGIC) {
        return MHD_NO;
    }
    switch (r->state) {
    case HTTP_REQ_BODY:
        if (*upload_data_size) {
            size_t n = *upload_data_size;
            *upload_data_size = 0;
            if (r->on_body) {
                rc = stream_feed(r, upload_data, n);
            }
            else if ((r->body_received += n, buf_append(&r->body, upload_data, n) < 0)) {
                rc = fail_too_large(r);
            }
            else {
                rc = 0;
            }
            if (rc < 0) {
                settle(r, rc);
                /* Refused mid-body. Closing a socket with unread bytes makes the kernel send
                 * a reset that can destroy the answer before the client reads it, so a
                 * small remainder is read and dropped first and the answer follows the
                 * body; a large one is answered at once and the connection closed. */
                if (r->has_content_length &&
                    r->content_length - r->body_received <= HTTP_DRAIN_MAX) {
                    r->state = HTTP_REQ_DONE;
                    return MHD_YES;
                }
                return queue_response(r);
            }
            return MHD_YES;
        }
        r->state = HTTP_REQ_READY;
        rc = r->on_body_end ? stream_end(r) : run_buffered(r);
        return settle(r, rc) ? queue_response(r) : MHD_YES;
    case HTTP_REQ_READY_AGAIN:
        *upload_data_size = 0;
        rc = r->cont(r);
        return settle(r, rc) ? queue_response(r) : MHD_YES;
    case HTTP_REQ_DONE:
        if (*upload_data_size) {
            /* Body bytes of a request already answered: drop them. */
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (!r->queued) {
            return queue_response(r);
        }
        return MHD_YES;
    default:
        *upload_data_size = 0;
        return MHD_YES;
    }
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (!r) {
        return;
    }
    *con_cls = NULL;
    /* A resumer may still hold the lock it resumed us under; wait for it to let go. */
    pthread_mutex_lock(&r->lock);
    pthread_mutex_unlock(&r->lock);
    req_free(r);
}

/* Keeps every byte of the request line as sent: SigV4 needs the raw encoding. */
static size_t unescape_raw(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_debug("http", "microhttpd: %s", msg);
}

/* ---- server lifecycle ---- */

int http_server_new(const struct http_server_options *opt, struct http_server **out)
{
    struct http_server *srv = xcalloc(1, sizeof *srv);
    unsigned char rnd[4];
    FILE *f;

    srv->opt = *opt;
    snprintf(srv->bind, sizeof srv->bind, "%s", opt->bind ? opt->bind : "127.0.0.1");
    snprintf(srv->region, sizeof srv->region, "%s", opt->region ? opt->region : "us-east-1");
    snprintf(srv->account, sizeof srv->account, "%s",
             opt->account_id ? opt->account_id : "000000000000");
    memset(rnd, 0, sizeof rnd);
    f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(rnd, 1, sizeof rnd, f) != sizeof rnd) {
            memset(rnd, 0, sizeof rnd);
        }
        fclose(f);
    }
    snprintf(srv->id_prefix, sizeof srv->id_prefix, "%02X%02X%02X%02X", rnd[0], rnd[1], rnd[2],
             rnd[3]);
    srv->started = time(NULL);
    *out = srv;
    return 0;
}

static struct http_server *sort_srv; /* qsort has no context argument; start-up only */
static size_t sort_svc;

static int sort_cmp(const void *a, const void *b)
{
    const struct http_service *svc = sort_srv->svcs[sort_svc];
    return strcmp(svc->ops[*(const size_t *)a].name, svc->ops[*(const size_t *)b].name);
}

int http_server_register(struct http_server *srv, struct http_service *svc)
{
    size_t s = srv->n_svcs;
    if (s == HTTP_MAX_SERVICES) {
        return -ENOSPC;
    }
    svc->stats = xcalloc(svc->n_ops + 1, sizeof *svc->stats);
    srv->sorted[s] = xcalloc(svc->n_ops + 1, sizeof(size_t));
    for (size_t i = 0; i < svc->n_ops; i++) {
        srv->sorted[s][i] = i;
    }
    srv->svcs[s] = svc;
    srv->n_svcs++;
    sort_srv = srv;
    sort_svc = s;
    qsort(srv->sorted[s], svc->n_ops, sizeof(size_t), sort_cmp);
    return 0;
}

int http_server_add_metrics(struct http_server *srv, void (*fn)(void *ctx, struct buf *b),
                            void *ctx)
{
    if (srv->n_sources == HTTP_MAX_SOURCES) {
        return -ENOSPC;
    }
    srv->sources[srv->n_sources].fn = fn;
    srv->sources[srv->n_sources].ctx = ctx;
    srv->n_sources++;
    return 0;
}

int http_server_start(struct http_server *srv, char *err, size_t errlen)
{
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    const union MHD_DaemonInfo *info;

    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, srv->bind, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)srv->opt.port);
        sa = (struct sockaddr *)&a4;
    }
    else if (inet_pton(AF_INET6, srv->bind, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)srv->opt.port);
        sa = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    }
    else {
        snprintf(err, errlen, "--bind %s is not a numeric IPv4 or IPv6 address", srv->bind);
        return -EINVAL;
    }
    srv->daemon = MHD_start_daemon(
        flags, (uint16_t)srv->opt.port, NULL, NULL, access_cb, srv, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(srv->opt.threads ? srv->opt.threads : 2),
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, srv, MHD_OPTION_UNESCAPE_CALLBACK,
        unescape_raw, NULL, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_END);
    if (!srv->daemon) {
        int e = errno ? errno : EADDRINUSE;
        snprintf(err, errlen, "cannot listen on %s:%u: %s", srv->bind, srv->opt.port,
                 strerror(e));
        return -e;
    }
    info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : srv->opt.port;
    return 0;
}

int http_server_add_connection(struct http_server *srv, int fd, const struct sockaddr *addr,
                               socklen_t addrlen)
{
    /* MHD closes fd itself when it refuses it. */
    if (!srv->daemon) {
        close(fd);
        return -ESHUTDOWN;
    }
    if (MHD_add_connection(srv->daemon, fd, addr, addrlen) != MHD_YES) {
        return errno ? -errno : -EIO;
    }
    return 0;
}

void http_server_stop(struct http_server *srv, unsigned grace_ms)
{
    uint64_t deadline;

    if (!srv || !srv->daemon) {
        return;
    }
    MHD_quiesce_daemon(srv->daemon);
    deadline = http_now_ns() + (uint64_t)grace_ms * 1000000ull;
    atomic_store(&srv->stop_deadline_ns, deadline);
    atomic_store(&srv->stopping, true);
    while (atomic_load(&srv->waiting) > 0 && http_now_ns() < deadline) {
        struct timespec ts = { 0, 5 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
}

void http_server_free(struct http_server *srv)
{
    if (!srv) {
        return;
    }
    http_server_stop(srv, 0);
    for (size_t s = 0; s < srv->n_svcs; s++) {
        free(srv->svcs[s]->stats);
        srv->svcs[s]->stats = NULL;
        free(srv->sorted[s]);
    }
    free(srv);
}
