/*
 * http.h: the front door. HTTP/1.1 on libmicrohttpd, routing to services, SigV4
 * authentication, request bodies (buffered for JSON services, streamed for S3), responses and
 * AWS errors in each service's protocol, suspended requests, /metrics and /_sluice/health.
 *
 * What it is not: it knows no AWS operation. A service registers a struct http_service (its
 * protocol, how its requests are recognised, its operation table) and gets called with a
 * struct http_req whose body is authenticated.
 *
 * A request's life (the states of struct http_req, and who moves it):
 *
 *   HEADERS --route+limits (access_cb, first call)--> BODY --all bytes (access_cb)--> READY
 *   READY --sigv4 ok, op->handler (access_cb)--> DONE            (response or error set)
 *                                              \-> WAITING      (http_req_pending() called)
 *   WAITING --http_req_resume() from any thread--> READY_AGAIN --cont(r) (access_cb)--> DONE
 *   DONE --response queued--> (MHD sends it) --completed_cb--> freed with its arena
 *
 * Invariants: a handler or continuation runs on an MHD thread, never two at once for one
 * request; a request is freed only after MHD reports it complete, and never while an op that
 * points at it is queued (the op's completion resumes it first).
 */
#ifndef SL_CORE_HTTP_H
#define SL_CORE_HTTP_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/awserr.h"
#include "core/mem.h"
#include "core/sigv4.h"
#include "core/str.h"

struct http_server;
struct http_req;

/* The wire protocol of a service: how requests are routed and errors rendered. */
enum http_proto {
    HTTP_PROTO_JSON10 = 0,  /* X-Amz-Target, application/x-amz-json-1.0 (DynamoDB, Streams) */
    HTTP_PROTO_JSON11,      /* X-Amz-Target, application/x-amz-json-1.1 (Firehose) */
    HTTP_PROTO_REST_JSON,   /* paths, JSON bodies, x-amzn-ErrorType (Lambda) */
    HTTP_PROTO_REST_XML,    /* paths, XML bodies and errors (S3) */
};

enum http_op_flags {
    HTTP_OP_WRITE = 1 << 0,   /* mutates durable state (for metrics and docs) */
    HTTP_OP_NOAUTH = 1 << 1,  /* no SigV4 (Lambda Runtime API on loopback) */
    HTTP_OP_STREAM = 1 << 2,  /* the body is not buffered: handler runs on the headers and
                                 sets r->on_body / r->on_body_end (S3 PutObject) */
    HTTP_OP_OWN_JSON = 1 << 3, /* a JSON protocol's handler reads the body itself: r->json is
                                  NULL on entry until http_req_json_or_reply() (PutItem,
                                  GetItem) */
};

/*
 * One operation. handler runs on an MHD thread once the request is authenticated (with the
 * whole body buffered, or at the headers for HTTP_OP_STREAM). It returns 0 with a response
 * set (http_reply*), 0 after http_req_pending(), or -1 with an error set (http_req_fail()).
 */
struct http_op {
    const char *name;                       /* the AWS operation name, "ListTables" */
    int (*handler)(struct http_req *r);
    unsigned flags;                         /* enum http_op_flags */
};

struct http_op_stats;

struct http_service {
    const char *name;           /* "dynamodb": the metrics label and the health key */
    enum http_proto proto;
    const char *signing_name;   /* SigV4 service name in the credential scope, for logs */
    /* JSON protocols: the X-Amz-Target prefix including the dot, "DynamoDB_20120810." */
    const char *target_prefix;
    /* JSON protocols: the __type namespace of AWSERR_NS_SERVICE errors, with '#'.
     * REST_JSON: NULL for AWS's errors (x-amzn-ErrorType, "Type" and the message); not NULL
     * (may be "") adds "__type" with this namespace to the body, for clients that read it. */
    const char *error_ns;
    const struct http_op *ops;  /* the operation table (R5) */
    size_t n_ops;
    /* REST protocols: does this service take the request (path prefix, ...)? Called with
     * method, raw path and headers set. NULL for JSON protocols. */
    bool (*claims)(const struct http_req *r);
    /* REST protocols: picks the op from method, path and query; NULL with an error set on r
     * when none fits. NULL for JSON protocols. */
    const struct http_op *(*route)(struct http_req *r);
    size_t max_body;            /* larger buffered bodies are refused before being read */
    void *ctx;                  /* the service instance, r->svc->ctx in handlers */
    /* "running", "degraded: ...": for /_sluice/health. NULL means "running". */
    const char *(*health)(void *ctx);
    /* REST-JSON: the member of the error body that carries the message for e, "message" or
     * "Message" (each Lambda exception declares its own); NULL means "message". */
    const char *(*error_message_member)(enum awserr e);
    /* filled by http_server_register() */
    struct http_op_stats *stats;
};

/* A response header (arena-owned list). */
struct http_hdr {
    struct http_hdr *next;
    const char *name;
    const char *value;
};

enum http_req_state {
    HTTP_REQ_HEADERS = 0,
    HTTP_REQ_BODY,
    HTTP_REQ_READY,
    HTTP_REQ_WAITING,
    HTTP_REQ_READY_AGAIN,
    HTTP_REQ_DONE,
};

struct http_req {
    uint32_t magic;                 /* HTTP_REQ_MAGIC while live (E7) */
    struct http_server *srv;
    void *conn;                     /* struct MHD_Connection * */
    struct arena arena;             /* everything below that is a pointer lives here (R19) */
    enum http_req_state state;
    char request_id[24];
    uint64_t t_start_ns;

    /* The request as received. Slices point into the arena or MHD's connection memory,
     * valid for the request's life. */
    struct sl_str method;
    struct sl_str raw_path;         /* as sent, still percent-encoded */
    char *path;                     /* decoded, NUL-terminated */
    size_t path_len;
    struct sigv4_kv *query;         /* raw, as sent */
    size_t n_query;
    struct sigv4_kv *headers;
    size_t n_headers;
    uint64_t content_length;
    bool has_content_length;

    const struct http_service *svc;
    const struct http_op *op;
    size_t op_index;

    /* Body: buffered (JSON services), or streamed to on_body (HTTP_OP_STREAM). */
    struct buf body;
    json_t *json;                   /* JSON protocols: the parsed body (owned, freed at end) */
    int (*on_body)(struct http_req *r, const char *p, size_t n);     /* 0, or -1 with error */
    int (*on_body_end)(struct http_req *r);  /* like a handler: reply, pending or -1 */
    struct sigv4_sha256 *body_sha;  /* checks x-amz-content-sha256 while streaming */
    struct sigv4_chunked *chunked;  /* aws-chunked decoding while streaming */
    uint64_t body_received;

    struct sigv4_auth auth;         /* what SigV4 proved; auth.access_key is the caller */

    /* Response. */
    unsigned status;
    const char *content_type;
    const char *resp_body;
    size_t resp_len;
    int resp_fd;                    /* >= 0: body sent from this fd (owned, closed at end) */
    uint64_t resp_fd_off;
    uint64_t resp_fd_len;
    /* Or a body produced by a reader (http_reply_reader()); resp_read_ctx is owned. */
    long (*resp_read)(void *ctx, uint64_t off, char *buf, size_t max);
    void (*resp_read_free)(void *ctx);
    void *resp_read_ctx;
    uint64_t resp_read_len;
    struct http_hdr *resp_headers;
    bool queued;                    /* the response was handed to MHD */

    /* Error (R13): set once by http_req_fail(). */
    enum awserr err;
    const char *err_msg;
    struct http_hdr *err_fields;    /* extra XML elements (BucketName, Key, ...) */
    struct http_hdr *err_json;      /* JSON protocols: extra members, values as JSON text */

    /* Suspension. */
    pthread_mutex_t lock;
    bool suspended;
    bool resume_requested;
    int (*cont)(struct http_req *r);
    void *op_ctx;                   /* for the handler and its continuation */
};

#define HTTP_REQ_MAGIC 0x51c3e7a1u

struct http_server_options {
    const char *bind;       /* numeric address, "127.0.0.1" or "::1" */
    unsigned port;          /* 0 picks a free port (see http_server_port()) */
    unsigned threads;       /* MHD worker threads; 0 picks 2 */
    const char *region;
    const char *account_id;
    sigv4_secret_fn secret_lookup;  /* the credentials (auth.h) */
    void *secret_ctx;
};

/* Creates a server (not yet listening). Returns 0 or a negative errno. Thread: main. */
int http_server_new(const struct http_server_options *opt, struct http_server **out);
/* Registers svc (borrowed for the server's life). Before start only. */
int http_server_register(struct http_server *srv, struct http_service *svc);
/* A text source for /metrics: fn appends Prometheus lines to b. Before start only. */
int http_server_add_metrics(struct http_server *srv, void (*fn)(void *ctx, struct buf *b),
                            void *ctx);
/* Starts listening. Returns 0, or a negative errno and a sentence in err. Thread: main. */
int http_server_start(struct http_server *srv, char *err, size_t errlen);
/* The port actually bound (after start). */
unsigned http_server_port(const struct http_server *srv);
/* The address the server listens on, as given to --bind (borrowed, server's life). */
const char *http_server_bind(const struct http_server *srv);
/*
 * Hands a connection accepted on some other listening socket to the server, which serves it
 * like one of its own (a Lambda environment's Runtime API address). fd is owned by the server
 * from the call on, also on failure. Returns 0 or a negative errno. Any thread, after start.
 */
int http_server_add_connection(struct http_server *srv, int fd, const struct sockaddr *addr,
                               socklen_t addrlen);
/* Stops accepting, gives in-flight requests up to grace_ms to finish, stops the threads. */
void http_server_stop(struct http_server *srv, unsigned grace_ms);
void http_server_free(struct http_server *srv);

/* ---- for handlers (MHD threads unless said otherwise) ---- */

/* A request header's value (first occurrence, case-insensitive), or NULL. Borrowed. */
const char *http_req_header(const struct http_req *r, const char *name);
/* A query parameter, decoded, or NULL; a key without '=' gives "". A decoded NUL byte comes
 * back as '?' (a C string cannot hold it). From the arena. */
const char *http_req_query(struct http_req *r, const char *name);

/* Parses a JSON protocol's body with jansson into r->json (done before the handler runs
 * unless the operation has HTTP_OP_OWN_JSON; again it does nothing). Returns 0, or -1 with
 * the error a body that is not a JSON object gets. */
int http_req_json_or_reply(struct http_req *r);

/* Sets the error (R13) and returns -1. fmt NULL uses the table's message (which may itself be
 * a format for the arguments). The first error set wins. */
int http_req_fail(struct http_req *r, enum awserr e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Adds an element to an XML error (<BucketName>b</BucketName>), or a string member to a
 * REST-JSON error body ("Reason": "..."). */
void http_req_fail_field(struct http_req *r, const char *name, const char *value);

/* Adds a member to a JSON protocol's error body whose value is the JSON text json[0..len)
 * (copied): DynamoDB's ConditionalCheckFailedException carries the old "Item". Text that is
 * not JSON is left out. */
void http_req_fail_json(struct http_req *r, const char *name, const char *json, size_t len);

/* Sets a response; body is borrowed until the request ends (use the arena). Returns 0. */
int http_reply(struct http_req *r, unsigned status, const char *content_type, const char *body,
               size_t len);
/*
 * Sets a response whose len body bytes come from read(ctx, off, buf, max), which returns the
 * bytes it wrote (at least 1 while off < len) or -1 to cut the response short (the client sees
 * a truncated body). ctx is owned from the call on: free_ctx(ctx) runs once the response is
 * done or dropped, on any thread. Returns 0.
 */
int http_reply_reader(struct http_req *r, unsigned status, uint64_t len,
                      long (*read)(void *ctx, uint64_t off, char *buf, size_t max),
                      void (*free_ctx)(void *ctx), void *ctx);
/* Serialises out (reference stolen) as the JSON response of the service's protocol. */
int http_reply_json(struct http_req *r, json_t *out);
/* Adds a response header (copied into the arena). An x-amzn-RequestId set here replaces the
 * front door's own request id (Lambda answers with the invocation's id). */
void http_reply_header(struct http_req *r, const char *name, const char *value);

/* The local port of the connection r arrived on (the listening port it was accepted on), or
 * 0 if it cannot be told. */
unsigned http_req_local_port(const struct http_req *r);

/*
 * Marks the request as waiting: the handler returns 0 right after, and when some thread calls
 * http_req_resume(r), cont(r) runs on an MHD thread and must reply, fail, or wait again.
 * Returns 0.
 */
int http_req_pending(struct http_req *r, int (*cont)(struct http_req *r));
/* Wakes a waiting request. Any thread; exactly once per http_req_pending(). */
void http_req_resume(struct http_req *r);

/* sigv4_verify_policy() with the server's credentials; on success r->auth says who signed.
 * For operations that authenticate themselves (HTTP_OP_NOAUTH: S3's browser POST uploads).
 * Returns 0 or a SIGV4_E* code. */
int http_req_verify_policy(struct http_req *r, const char *policy, size_t len,
                           const char *credential, const char *amz_date,
                           const char *signature);

/* The server's region and account id (borrowed, server's life). */
const char *http_server_region(const struct http_server *srv);
const char *http_server_account(const struct http_server *srv);

/* Monotonic clock in nanoseconds. */
uint64_t http_now_ns(void);

#endif
