/*
 * loadgen.c: the load generator of `make bench` (not a test). It keeps C keep-alive HTTP/1.1
 * connections to one server, each with one request in flight (a closed loop at a fixed
 * concurrency), sends correctly signed AWS requests (SigV4 by src/core/sigv4.h), checks every
 * response's status, and prints one JSON line: requests, errors, throughput and p50 / p99 /
 * p99.9 latency from a log-linear histogram (about 3% resolution).
 *
 *   build/bench/loadgen -p PORT -w WORKLOAD [-c conns] [-t threads] [-d seconds]
 *       [--warmup seconds] [--keys N] [--size bytes] [--table T] [--bucket B]
 *       [--access-key K --secret S] [--region R] [-n requests] [--file path]
 *
 * Workloads (a DynamoDB table with pk S HASH and sk N RANGE; an S3 bucket):
 *   ddb-get      GetItem of item#<i>, sk 0, i in 0..keys-1
 *   ddb-put      PutItem of 300-byte items item#<i> (overwrites within 0..keys-1)
 *   ddb-update   UpdateItem ADD n :one on ctr#<i>
 *   ddb-query    Query of part#<p> (10 items each, p in 0..keys/10-1)
 *   ddb-scan     Scan, one page of 100 items
 *   ddb-load     PutItem of every item exactly once (-n items, signed as they go): item#<i>
 *                for i < n, or with --parts, part#<i/10> sk i%10 (the Query partitions);
 *                --offset starts at item i = offset; --batch B (2..25) sends them in
 *                BatchWriteItem requests of B items instead of PutItem
 *   fh-batch     Firehose PutRecordBatch of 500 records of 1 KB to the stream --table
 *   s3-put       PutObject of --size bytes to obj-<i>
 *   s3-get       GetObject of obj-<i>
 *   s3-big-put   one PutObject of --size bytes (big), one connection, MB/s
 *   s3-big-get   one GetObject of it, MB/s
 *   fsync        a bare pwrite(300 bytes) + fdatasync loop on --file: the durable-write
 *                ceiling (no server)
 *
 * -n N with a pooled workload sends exactly N requests, untimed (s3-put -n 1000 -t 1 writes
 * obj-0..obj-999 once, before a GetObject run).
 *
 * The requests of a measured workload are built and signed before the clock starts (a pool
 * of up to 20000 distinct requests, sent in turn; X-Amz-Date stays within SigV4's 15-minute
 * window for runs of that length), so the generator spends its CPU on the sockets and not on
 * HMACs, whichever server it drives. Peers that do not check signatures get the same bytes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "core/sigv4.h"
#include "core/str.h"

#define POOL_MAX 20000
#define MAX_CONNS 1024
#define RBUF 65536

/* ---- options ---- */

static struct {
    const char *host;
    unsigned port;
    const char *workload;
    int conns, threads;
    double seconds, warmup;
    long keys;
    long n;            /* ddb-load: items to write */
    long offset;       /* ddb-load: the first item */
    int batch;         /* ddb-load: items a request (BatchWriteItem when > 1) */
    bool parts;
    size_t size;
    const char *table, *bucket, *access_key, *secret, *region, *file;
} o = { "127.0.0.1", 0, NULL, 1, 1, 5.0, 1.0, 10000, 0, 0, 1, false, 4096, "bench", "bench",
        "AKIDBENCH", "bench-secret", "us-east-1", NULL };

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* ---- latency histogram: 64 exact buckets, then 32 per power of two (ns) ---- */

#define HBUCKETS (64 + 40 * 32)

struct hist {
    uint64_t b[HBUCKETS];
    uint64_t count;
};

static int hidx(uint64_t v)
{
    int e, i;
    if (v < 64) {
        return (int)v;
    }
    e = 63 - __builtin_clzll(v);
    i = 64 + (e - 6) * 32 + (int)((v >> (e - 5)) & 31);
    return i < HBUCKETS ? i : HBUCKETS - 1;
}

static double hval(int i)
{
    int e;
    uint64_t lo, w;
    if (i < 64) {
        return i;
    }
    e = (i - 64) / 32 + 6;
    lo = (1ull << e) + (uint64_t)((i - 64) % 32) * (1ull << (e - 5));
    w = 1ull << (e - 5);
    return (double)lo + (double)w / 2;
}

static double hquant(const struct hist *h, double q)
{
    uint64_t want = (uint64_t)(q * (double)h->count), seen = 0;
    for (int i = 0; i < HBUCKETS; i++) {
        seen += h->b[i];
        if (seen > want) {
            return hval(i);
        }
    }
    return 0;
}

/* ---- requests ---- */

struct req {
    char *head;        /* request line and headers, CRLF CRLF included */
    size_t head_len;
    const char *body;  /* shared or owned by the pool */
    size_t body_len;
};

static struct req *pool;
static size_t pool_n;
static unsigned expect_status = 200;
static char *big_body;   /* s3-big-put, s3-put: a pattern of o.size bytes */
static char big_sha[65];

static void amz_date_now(char out[17])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static char *xstrdup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) {
        die("malloc");
    }
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* A signed JSON-protocol request of body: target "DynamoDB_20120810.GetItem", content type
 * application/x-amz-json-1.0 or 1.1, service the SigV4 signing name. */
static void build_json(struct req *r, const char *target, const char *ctype,
                       const char *service, const char *body, size_t blen)
{
    char date[17], host[64], tgt[96], hash[65], auth[512], head[2048];
    struct sigv4_kv h[4];
    struct sigv4_request rq;
    int n;

    amz_date_now(date);
    snprintf(host, sizeof host, "%s:%u", o.host, o.port);
    snprintf(tgt, sizeof tgt, "%s", target);
    sigv4_sha256_hex(body, blen, hash);
    h[0] = (struct sigv4_kv){ SL_STR_LIT("content-type"), sl_str_c(ctype) };
    h[1] = (struct sigv4_kv){ SL_STR_LIT("host"), sl_str_c(host) };
    h[2] = (struct sigv4_kv){ SL_STR_LIT("x-amz-date"), sl_str_c(date) };
    h[3] = (struct sigv4_kv){ SL_STR_LIT("x-amz-target"), sl_str_c(tgt) };
    memset(&rq, 0, sizeof rq);
    rq.method = SL_STR_LIT("POST");
    rq.raw_path = SL_STR_LIT("/");
    rq.headers = h;
    rq.n_headers = 4;
    rq.payload_hash = hash;
    if (sigv4_sign(&rq, o.access_key, o.secret, o.region, service,
                   "content-type;host;x-amz-date;x-amz-target", auth, sizeof auth) < 0) {
        fprintf(stderr, "loadgen: cannot sign\n");
        exit(2);
    }
    n = snprintf(head, sizeof head,
                 "POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
                 "X-Amz-Target: %s\r\nX-Amz-Date: %s\r\nAuthorization: %s\r\n"
                 "User-Agent: sluice-loadgen\r\nContent-Length: %zu\r\n\r\n",
                 host, ctype, tgt, date, auth, blen);
    r->head = xstrdup_n(head, (size_t)n);
    r->head_len = (size_t)n;
    r->body = xstrdup_n(body, blen);
    r->body_len = blen;
}

static void build_ddb(struct req *r, const char *op, const char *body, size_t blen)
{
    char target[96];
    snprintf(target, sizeof target, "DynamoDB_20120810.%s", op);
    build_json(r, target, "application/x-amz-json-1.0", "dynamodb", body, blen);
}

/* PutRecordBatch of 500 records of 1 KB (1023 bytes and a newline) to --table, the delivery
 * stream's name here. */
static void build_fh_batch(struct req *r, long i)
{
    size_t cap = 600 * 1500, n = 0;
    char *body = malloc(cap), rec[1024], b64[1400];

    if (!body) {
        die("malloc");
    }
    n += (size_t)snprintf(body + n, cap - n, "{\"DeliveryStreamName\":\"%s\",\"Records\":[",
                          o.table);
    for (int k = 0; k < 500; k++) {
        int m = snprintf(rec, sizeof rec, "{\"batch\":%ld,\"record\":%d,\"pad\":\"", i, k);
        memset(rec + m, 'r', sizeof rec - (size_t)m - 3);
        memcpy(rec + sizeof rec - 3, "\"}\n", 3);
        sl_base64_encode(rec, sizeof rec, b64);
        n += (size_t)snprintf(body + n, cap - n, "%s{\"Data\":\"%s\"}", k ? "," : "", b64);
    }
    n += (size_t)snprintf(body + n, cap - n, "]}");
    build_json(r, "Firehose_20150804.PutRecordBatch", "application/x-amz-json-1.1", "firehose",
               body, n);
    free(body);
}

/* A signed S3 request (path style) for key, with body (PUT) or none (GET). */
static void build_s3(struct req *r, const char *method, const char *key, const char *body,
                     size_t blen, const char *body_sha)
{
    char date[17], host[64], path[512], hash[65], auth[512], head[2048];
    struct sigv4_kv h[3];
    struct sigv4_request rq;
    int n;

    amz_date_now(date);
    snprintf(host, sizeof host, "%s:%u", o.host, o.port);
    snprintf(path, sizeof path, "/%s/%s", o.bucket, key);
    if (body_sha) {
        snprintf(hash, sizeof hash, "%s", body_sha);
    }
    else {
        sigv4_sha256_hex(body ? body : "", blen, hash);
    }
    h[0] = (struct sigv4_kv){ SL_STR_LIT("host"), sl_str_c(host) };
    h[1] = (struct sigv4_kv){ SL_STR_LIT("x-amz-content-sha256"), sl_str_c(hash) };
    h[2] = (struct sigv4_kv){ SL_STR_LIT("x-amz-date"), sl_str_c(date) };
    memset(&rq, 0, sizeof rq);
    rq.method = sl_str_c(method);
    rq.raw_path = sl_str_c(path);
    rq.headers = h;
    rq.n_headers = 3;
    rq.s3 = true;
    if (sigv4_sign(&rq, o.access_key, o.secret, o.region, "s3",
                   "host;x-amz-content-sha256;x-amz-date", auth, sizeof auth) < 0) {
        fprintf(stderr, "loadgen: cannot sign\n");
        exit(2);
    }
    if (body) {
        n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Content-SHA256: %s\r\n"
                     "X-Amz-Date: %s\r\nAuthorization: %s\r\nUser-Agent: sluice-loadgen\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, host, hash, date, auth, blen);
    }
    else {
        n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nX-Amz-Content-SHA256: %s\r\n"
                     "X-Amz-Date: %s\r\nAuthorization: %s\r\nUser-Agent: sluice-loadgen\r\n\r\n",
                     method, path, host, hash, date, auth);
    }
    r->head = xstrdup_n(head, (size_t)n);
    r->head_len = (size_t)n;
    r->body = body;
    r->body_len = body ? blen : 0;
}

/* 300 bytes of item (DynamoDB's size: names plus values). */
static int item_json(char *out, size_t cap, const char *pk, long sk, long v)
{
    static const char pad[] =
        "The quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. "
        "Sphinx of black quartz, judge my vow. How vexingly quick daft zebras jump! Waltz, bad "
        "nymph, for quick jigs vex. Jackdaws love my big sphinx of quartz. The five boxing "
        "wizards jump quickly over the lazy brown dogs at dawn and dusk..............";
    char vs[24];
    int used = (int)(2 + strlen(pk) + 2 + 21 + 5 + 6 + 3 + 4);  /* pk, sk, total, paid */
    used += 1 + snprintf(vs, sizeof vs, "%ld", v);              /* v */
    int padn = 300 - used - 4;                                  /* "data" */
    if (padn < 1 || (size_t)padn >= sizeof pad) {
        padn = 10;
    }
    return snprintf(out, cap,
                    "{\"TableName\":\"%s\",\"Item\":{\"pk\":{\"S\":\"%s\"},\"sk\":{\"N\":\"%ld\"},"
                    "\"total\":{\"N\":\"129.95\"},\"paid\":{\"BOOL\":true},\"v\":{\"N\":\"%s\"},"
                    "\"data\":{\"S\":\"%.*s\"}}}",
                    o.table, pk, sk, vs, padn, pad);
}

/* Request i of the workload (for the pool, or on the fly for ddb-load). */
static void build_one(struct req *r, long i)
{
    char body[2048], pk[64], key[64];
    int n;
    const char *w = o.workload;

    if (strcmp(w, "ddb-get") == 0) {
        n = snprintf(body, sizeof body,
                     "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"item#%ld\"},\"sk\":{\"N\":\"0\"}}}",
                     o.table, i % o.keys);
        build_ddb(r, "GetItem", body, (size_t)n);
    }
    else if (strcmp(w, "ddb-put") == 0 || strcmp(w, "ddb-load") == 0) {
        long sk = 0, v = 0;
        if (o.parts) {
            snprintf(pk, sizeof pk, "part#%ld", i / 10);
            sk = i % 10;
        }
        else {
            snprintf(pk, sizeof pk, "item#%ld", strcmp(w, "ddb-put") == 0 ? i % o.keys : i);
        }
        /* a put changes its item (v differs from the last put of the key): an identical
         * item again writes nothing */
        v = strcmp(w, "ddb-put") == 0 ? 1 + i / o.keys : 0;
        n = item_json(body, sizeof body, pk, sk, v);
        build_ddb(r, "PutItem", body, (size_t)n);
    }
    else if (strcmp(w, "ddb-update") == 0) {
        n = snprintf(body, sizeof body,
                     "{\"TableName\":\"%s\",\"Key\":{\"pk\":{\"S\":\"ctr#%ld\"},\"sk\":{\"N\":\"0\"}},"
                     "\"UpdateExpression\":\"ADD n :one\","
                     "\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"}}}",
                     o.table, i % o.keys);
        build_ddb(r, "UpdateItem", body, (size_t)n);
    }
    else if (strcmp(w, "ddb-query") == 0) {
        long parts = o.keys / 10 > 0 ? o.keys / 10 : 1;
        n = snprintf(body, sizeof body,
                     "{\"TableName\":\"%s\",\"KeyConditionExpression\":\"pk = :p\","
                     "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"part#%ld\"}}}",
                     o.table, i % parts);
        build_ddb(r, "Query", body, (size_t)n);
    }
    else if (strcmp(w, "ddb-scan") == 0) {
        n = snprintf(body, sizeof body, "{\"TableName\":\"%s\",\"Limit\":100}", o.table);
        build_ddb(r, "Scan", body, (size_t)n);
    }
    else if (strcmp(w, "fh-batch") == 0) {
        build_fh_batch(r, i);
    }
    else if (strcmp(w, "s3-put") == 0) {
        snprintf(key, sizeof key, "obj-%ld", i % o.keys);
        build_s3(r, "PUT", key, big_body, o.size, big_sha);
    }
    else if (strcmp(w, "s3-get") == 0) {
        snprintf(key, sizeof key, "obj-%ld", i % o.keys);
        build_s3(r, "GET", key, NULL, 0, NULL);
    }
    else if (strcmp(w, "s3-big-put") == 0) {
        build_s3(r, "PUT", "big-object", big_body, o.size, big_sha);
    }
    else if (strcmp(w, "s3-big-get") == 0) {
        build_s3(r, "GET", "big-object", NULL, 0, NULL);
    }
    else {
        fprintf(stderr, "loadgen: unknown workload %s\n", w);
        exit(2);
    }
}

/* BatchWriteItem of the ddb-load items from..to-1, up to 25. */
static void build_batch(struct req *r, long from, long to)
{
    char body[32768], item[2048], pk[64];
    size_t n = 0;

    n += (size_t)snprintf(body + n, sizeof body - n, "{\"RequestItems\":{\"%s\":[", o.table);
    for (long i = from; i < to; i++) {
        long sk = 0;
        int m;
        const char *it;
        if (o.parts) {
            snprintf(pk, sizeof pk, "part#%ld", i / 10);
            sk = i % 10;
        }
        else {
            snprintf(pk, sizeof pk, "item#%ld", i);
        }
        m = item_json(item, sizeof item, pk, sk, 0);
        /* item_json wraps the item as {"TableName":..,"Item":{...}}: take the Item member */
        it = strstr(item, "\"Item\":");
        if (!it || m <= 0) {
            fprintf(stderr, "loadgen: cannot build a batch\n");
            exit(2);
        }
        it += 7;
        n += (size_t)snprintf(body + n, sizeof body - n, "%s{\"PutRequest\":{\"Item\":%.*s}}",
                              i > from ? "," : "", (int)(item + m - 1 - it), it);
    }
    n += (size_t)snprintf(body + n, sizeof body - n, "]}}");
    build_ddb(r, "BatchWriteItem", body, n);
}

static void free_req(struct req *r)
{
    free(r->head);
    if (r->body != big_body) {
        free((char *)r->body);
    }
}

/* ---- connections ---- */

enum cstate { C_SEND, C_HEAD, C_BODY, C_CHUNK_SIZE, C_CHUNK_DATA, C_CHUNK_CRLF, C_TRAILER };

struct conn {
    int fd;
    enum cstate st;
    struct req *req;
    struct req own;          /* ddb-load: built on the fly */
    size_t sent;
    char head[8192];
    size_t hlen;
    uint64_t body_left;
    bool chunked, close_after;
    unsigned status;
    char errbody[256];
    size_t errlen;
    uint64_t t0;
};

struct worker {
    pthread_t th;
    int first, count;        /* connections first..first+count-1 */
    long next_req;           /* next pool index (per thread, offset) */
    struct hist h;
    uint64_t done, errors, reconnects, bytes_in;
    unsigned bad_status;
    char bad_body[256];
};

static volatile int phase;   /* 0 warm-up, 1 measuring, 2 stopping */
static long load_next;       /* ddb-load: next item (atomic) */
static struct conn conns[MAX_CONNS];

static int connect_one(void)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (fd < 0) {
        die("socket");
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)o.port);
    if (inet_pton(AF_INET, o.host, &a.sin_addr) != 1) {
        fprintf(stderr, "loadgen: %s is not an IPv4 address\n", o.host);
        exit(2);
    }
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        die("connect");
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Picks the next request of c; false when there is none (ddb-load finished). */
static bool next_request(struct worker *w, struct conn *c)
{
    if (strcmp(o.workload, "ddb-load") == 0) {
        long i = __atomic_fetch_add(&load_next, o.batch, __ATOMIC_RELAXED);
        if (i >= o.n) {
            return false;
        }
        if (c->own.head) {
            free_req(&c->own);
        }
        if (o.batch > 1) {
            build_batch(&c->own, o.offset + i, o.offset + (i + o.batch < o.n ? i + o.batch : o.n));
        }
        else {
            build_one(&c->own, o.offset + i);
        }
        c->req = &c->own;
    }
    else {
        if (o.n > 0 && __atomic_fetch_add(&load_next, 1, __ATOMIC_RELAXED) >= o.n) {
            return false;
        }
        c->req = &pool[(size_t)w->next_req % pool_n];
        w->next_req += 1;
    }
    c->st = C_SEND;
    c->sent = 0;
    c->hlen = 0;
    c->errlen = 0;
    c->t0 = now_ns();
    return true;
}

/* Sends what it can; 0 when sent, 1 when the socket is full, -1 on error. */
static int do_send(struct conn *c)
{
    while (c->sent < c->req->head_len + c->req->body_len) {
        struct iovec iov[2];
        int k = 0;
        ssize_t n;
        if (c->sent < c->req->head_len) {
            iov[k++] = (struct iovec){ c->req->head + c->sent, c->req->head_len - c->sent };
            if (c->req->body_len) {
                iov[k++] = (struct iovec){ (void *)c->req->body, c->req->body_len };
            }
        }
        else {
            size_t off = c->sent - c->req->head_len;
            iov[k++] = (struct iovec){ (void *)(c->req->body + off), c->req->body_len - off };
        }
        n = writev(c->fd, iov, k);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 1;
            }
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        c->sent += (size_t)n;
    }
    c->st = C_HEAD;
    return 0;
}

static void keep_err(struct conn *c, const char *p, size_t n)
{
    if (c->status != expect_status && c->errlen < sizeof c->errbody - 1) {
        size_t k = n < sizeof c->errbody - 1 - c->errlen ? n : sizeof c->errbody - 1 - c->errlen;
        memcpy(c->errbody + c->errlen, p, k);
        c->errlen += k;
        c->errbody[c->errlen] = '\0';
    }
}

/* Parses the head in c->head[0..hlen); returns the offset of the body or 0 if incomplete. */
static size_t parse_head(struct conn *c)
{
    char *end = memmem(c->head, c->hlen, "\r\n\r\n", 4), *p;
    if (!end) {
        return 0;
    }
    *end = '\0';
    c->status = 0;
    if (c->hlen > 12 && strncmp(c->head, "HTTP/1.", 7) == 0) {
        c->status = (unsigned)strtoul(c->head + 9, NULL, 10);
    }
    c->body_left = 0;
    c->chunked = false;
    c->close_after = strncmp(c->head, "HTTP/1.0", 8) == 0;
    for (p = strstr(c->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        const char *l = p + 2;
        if (strncasecmp(l, "content-length:", 15) == 0) {
            c->body_left = strtoull(l + 15, NULL, 10);
        }
        else if (strncasecmp(l, "transfer-encoding:", 18) == 0 && strstr(l, "chunked")) {
            c->chunked = true;
        }
        else if (strncasecmp(l, "connection:", 11) == 0) {
            const char *v = l + 11;
            while (*v == ' ') {
                v++;
            }
            c->close_after = strncasecmp(v, "close", 5) == 0;
        }
    }
    return (size_t)(end - c->head) + 4;
}

/* Feeds received bytes; returns 1 when the response is complete, 0 for more, -1 on error.
 * *used is set to the bytes consumed. */
static int feed(struct conn *c, const char *p, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        if (c->st == C_HEAD) {
            size_t k = n - i, at;
            if (k > sizeof c->head - 1 - c->hlen) {
                k = sizeof c->head - 1 - c->hlen;
            }
            if (k == 0) {
                return -1;
            }
            memcpy(c->head + c->hlen, p + i, k);
            c->hlen += k;
            at = parse_head(c);
            if (!at) {
                i += k;
                continue;
            }
            /* bytes past the head go back to the body states */
            i += k - (c->hlen - at);
            if (c->status == 100) {
                c->hlen = 0;
                continue;
            }
            c->st = c->chunked ? C_CHUNK_SIZE : C_BODY;
            c->hlen = 0;
            if (c->st == C_BODY && c->body_left == 0) {
                *used = i;
                return 1;
            }
        }
        else if (c->st == C_BODY || c->st == C_CHUNK_DATA) {
            size_t k = n - i;
            if (k > c->body_left) {
                k = (size_t)c->body_left;
            }
            keep_err(c, p + i, k);
            c->body_left -= k;
            i += k;
            if (c->body_left == 0) {
                if (c->st == C_BODY) {
                    *used = i;
                    return 1;
                }
                c->st = C_CHUNK_CRLF;
                c->hlen = 0;
            }
        }
        else {
            /* chunk size line, the CRLF after a chunk, or the trailer: lines */
            char ch = p[i++];
            if (c->hlen < sizeof c->head - 1) {
                c->head[c->hlen++] = ch;
            }
            if (ch != '\n') {
                continue;
            }
            c->head[c->hlen] = '\0';
            if (c->st == C_CHUNK_CRLF) {
                c->st = C_CHUNK_SIZE;
            }
            else if (c->st == C_CHUNK_SIZE) {
                uint64_t sz = strtoull(c->head, NULL, 16);
                if (sz == 0) {
                    c->st = C_TRAILER;
                }
                else {
                    c->body_left = sz;
                    c->st = C_CHUNK_DATA;
                }
            }
            else if (c->hlen <= 2) {   /* the empty line that ends the trailer */
                *used = i;
                return 1;
            }
            c->hlen = 0;
        }
    }
    *used = i;
    return 0;
}

static void record(struct worker *w, struct conn *c)
{
    uint64_t dt = now_ns() - c->t0;
    bool bad = c->status != expect_status;
    if (phase == 1 || o.n > 0 || strncmp(o.workload, "s3-big", 6) == 0) {
        w->h.b[hidx(dt)]++;
        w->h.count++;
        w->done++;
        w->errors += bad;
    }
    if (bad && !w->bad_status) {
        w->bad_status = c->status ? c->status : 1;
        snprintf(w->bad_body, sizeof w->bad_body, "%s", c->errbody);
    }
}

static void reconnect(struct worker *w, struct conn *c, int ep)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = connect_one();
    fcntl(c->fd, F_SETFL, O_NONBLOCK);
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    w->reconnects++;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int ep = epoll_create1(0), active = 0;
    struct epoll_event evs[256];
    char *buf = malloc(RBUF);

    if (ep < 0 || !buf) {
        die("epoll");
    }
    for (int i = w->first; i < w->first + w->count; i++) {
        struct conn *c = &conns[i];
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
        c->fd = connect_one();
        fcntl(c->fd, F_SETFL, O_NONBLOCK);
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        if (next_request(w, c)) {
            active++;
            if (do_send(c) < 0) {
                die("send");
            }
        }
        else {
            /* Other threads took the last requests first (-n, ddb-load): this connection
             * stays idle, as one that has finished. */
            c->st = C_HEAD;
            c->req = NULL;
        }
    }
    while (active > 0) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < n; e++) {
            struct conn *c = evs[e].data.ptr;
            int r;
            if (c->st == C_SEND) {
                r = do_send(c);
                if (r < 0) {
                    die("send");
                }
                if (r > 0) {
                    continue;
                }
            }
            for (;;) {
                ssize_t got = recv(c->fd, buf, RBUF, 0);
                size_t off = 0, used;
                if (got < 0 && errno == EINTR) {
                    continue;
                }
                if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                    break;
                }
                if (got <= 0) {
                    /* the peer closed between requests, or mid-response */
                    fprintf(stderr, "loadgen: connection closed by the server\n");
                    exit(3);
                }
                w->bytes_in += (uint64_t)got;
                while (off < (size_t)got) {
                    r = feed(c, buf + off, (size_t)got - off, &used);
                    off += used;
                    if (r < 0) {
                        fprintf(stderr, "loadgen: malformed response\n");
                        exit(3);
                    }
                    if (r == 0) {
                        break;
                    }
                    record(w, c);
                    if (c->close_after) {
                        reconnect(w, c, ep);
                    }
                    if (phase == 2 || !next_request(w, c)) {
                        c->st = C_HEAD;
                        c->req = NULL;
                        active--;
                        off = (size_t)got;
                        break;
                    }
                    if (do_send(c) < 0) {
                        die("send");
                    }
                    off = (size_t)got;  /* one request in flight: nothing more is ours */
                }
                if (!c->req || (size_t)got < RBUF) {
                    break;
                }
            }
            if (!c->req) {
                continue;
            }
        }
        if (n < 0 && errno != EINTR) {
            die("epoll_wait");
        }
    }
    for (int i = w->first; i < w->first + w->count; i++) {
        close(conns[i].fd);
    }
    free(buf);
    close(ep);
    return NULL;
}

/* ---- the durable-write ceiling ---- */

static int run_fsync(void)
{
    char blk[300];
    struct hist *h = calloc(1, sizeof *h);
    uint64_t t_end, t0 = now_ns(), n = 0, tw;
    int fd;

    if (!o.file || !h) {
        fprintf(stderr, "loadgen: fsync needs --file\n");
        return 2;
    }
    fd = open(o.file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        die(o.file);
    }
    memset(blk, 'x', sizeof blk);
    /* a preallocated file: the loop overwrites, so fdatasync writes data, not sizes */
    for (int i = 0; i < 1024; i++) {
        if (pwrite(fd, blk, sizeof blk, (off_t)i * 4096) < 0) {
            die("pwrite");
        }
    }
    if (fsync(fd) < 0) {
        die("fsync");
    }
    tw = t0 + (uint64_t)(o.warmup * 1e9);
    t_end = tw + (uint64_t)(o.seconds * 1e9);
    for (uint64_t t = now_ns(); t < t_end; ) {
        uint64_t s = t;
        if (pwrite(fd, blk, sizeof blk, (off_t)((n % 1024) * 4096)) < 0 || fdatasync(fd) < 0) {
            die("fdatasync");
        }
        t = now_ns();
        if (s >= tw) {
            h->b[hidx(t - s)]++;
            h->count++;
        }
        n++;
    }
    close(fd);
    unlink(o.file);
    printf("{\"workload\":\"fsync\",\"conns\":1,\"requests\":%" PRIu64 ",\"errors\":0,"
           "\"seconds\":%.3f,\"rps\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f}\n",
           h->count, o.seconds, (double)h->count / o.seconds, hquant(h, 0.5) / 1e3,
           hquant(h, 0.99) / 1e3, hquant(h, 0.999) / 1e3);
    free(h);
    return 0;
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen -p PORT -w WORKLOAD [-c conns] [-t threads] [-d seconds]\n"
            "  [--warmup s] [--keys N] [--size bytes] [--table T] [--bucket B] [-n items]\n"
            "  [--offset i] [--batch B] [--parts] [--access-key K] [--secret S] [--region R] [--host IPv4] [--file F]\n"
            "workloads: ddb-get ddb-put ddb-update ddb-query ddb-scan ddb-load fh-batch s3-put\n"
            "           s3-get s3-big-put s3-big-get fsync (see bench/README.md)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct worker *ws;
    uint64_t t_start, t_meas = 0, t_stop = 0, done = 0, errors = 0, reconnects = 0, bytes_in = 0;
    struct hist *h;
    double secs;
    bool timed;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--parts") == 0) {
            o.parts = true;
            continue;
        }
        if (!v) {
            usage();
        }
        i++;
        if (strcmp(a, "-p") == 0 || strcmp(a, "--port") == 0) {
            o.port = (unsigned)strtoul(v, NULL, 10);
        }
        else if (strcmp(a, "--host") == 0) {
            o.host = v;
        }
        else if (strcmp(a, "-w") == 0) {
            o.workload = v;
        }
        else if (strcmp(a, "-c") == 0) {
            o.conns = (int)strtol(v, NULL, 10);
        }
        else if (strcmp(a, "-t") == 0) {
            o.threads = (int)strtol(v, NULL, 10);
        }
        else if (strcmp(a, "-d") == 0) {
            o.seconds = strtod(v, NULL);
        }
        else if (strcmp(a, "--warmup") == 0) {
            o.warmup = strtod(v, NULL);
        }
        else if (strcmp(a, "--keys") == 0) {
            o.keys = strtol(v, NULL, 10);
        }
        else if (strcmp(a, "-n") == 0) {
            o.n = strtol(v, NULL, 10);
        }
        else if (strcmp(a, "--batch") == 0) {
            o.batch = (int)strtol(v, NULL, 10);
            if (o.batch < 1 || o.batch > 25) {
                usage();
            }
        }
        else if (strcmp(a, "--offset") == 0) {
            o.offset = strtol(v, NULL, 10);
        }
        else if (strcmp(a, "--size") == 0) {
            o.size = (size_t)strtoull(v, NULL, 10);
        }
        else if (strcmp(a, "--table") == 0) {
            o.table = v;
        }
        else if (strcmp(a, "--bucket") == 0) {
            o.bucket = v;
        }
        else if (strcmp(a, "--access-key") == 0) {
            o.access_key = v;
        }
        else if (strcmp(a, "--secret") == 0) {
            o.secret = v;
        }
        else if (strcmp(a, "--region") == 0) {
            o.region = v;
        }
        else if (strcmp(a, "--file") == 0) {
            o.file = v;
        }
        else {
            usage();
        }
    }
    if (!o.workload) {
        usage();
    }
    sigv4_global_init();
    if (strcmp(o.workload, "fsync") == 0) {
        return run_fsync();
    }
    if (!o.port || o.conns < 1 || o.conns > MAX_CONNS || o.threads < 1 || o.keys < 1) {
        usage();
    }
    if (o.threads > o.conns) {
        o.threads = o.conns;
    }
    if (strncmp(o.workload, "s3-big", 6) == 0) {
        o.conns = o.threads = 1;
    }
    if (strcmp(o.workload, "s3-put") == 0 || strcmp(o.workload, "s3-big-put") == 0) {
        big_body = malloc(o.size ? o.size : 1);
        if (!big_body) {
            die("malloc");
        }
        for (size_t i = 0; i < o.size; i++) {
            big_body[i] = (char)('a' + (i * 7 + i / 4096) % 26);
        }
        sigv4_sha256_hex(big_body, o.size, big_sha);
    }
    /* -n: exactly n requests (a load), untimed */
    timed = strcmp(o.workload, "ddb-load") != 0 && strncmp(o.workload, "s3-big", 6) != 0 &&
            o.n == 0;
    if (strcmp(o.workload, "ddb-load") == 0) {
        if (o.n < 1) {
            usage();
        }
    }
    else {
        pool_n = strncmp(o.workload, "s3-big", 6) == 0 ? 1
                 : (size_t)(o.keys < POOL_MAX ? o.keys : POOL_MAX);
        if (strcmp(o.workload, "ddb-scan") == 0) {
            pool_n = 1;
        }
        if (strcmp(o.workload, "ddb-put") == 0) {
            pool_n = POOL_MAX;   /* each key twice or more, with different items */
        }
        pool = calloc(pool_n, sizeof *pool);
        /* spread the pool over the whole key space, in a scattered order */
        for (size_t i = 0; i < pool_n; i++) {
            long k = (long)(((uint64_t)i * 2654435761u) % (uint64_t)o.keys);
            if (pool_n == (size_t)o.keys || strcmp(o.workload, "ddb-put") == 0) {
                k = (long)i;
            }
            build_one(&pool[i], k);
        }
        /* the untimed one-shot workloads send their single request once */
    }
    ws = calloc((size_t)o.threads, sizeof *ws);
    h = calloc(1, sizeof *h);
    if (!ws || !h) {
        die("calloc");
    }
    phase = timed ? 0 : 1;
    t_start = now_ns();
    for (int t = 0, first = 0; t < o.threads; t++) {
        int cnt = o.conns / o.threads + (t < o.conns % o.threads);
        ws[t].first = first;
        ws[t].count = cnt;
        ws[t].next_req = (long)((pool_n / (size_t)o.threads) * (size_t)t);
        first += cnt;
        if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0) {
            die("pthread_create");
        }
    }
    if (timed) {
        struct timespec ts = { (time_t)o.warmup, (long)((o.warmup - (long)o.warmup) * 1e9) };
        nanosleep(&ts, NULL);
        t_meas = now_ns();
        phase = 1;
        ts = (struct timespec){ (time_t)o.seconds, (long)((o.seconds - (long)o.seconds) * 1e9) };
        nanosleep(&ts, NULL);
        t_stop = now_ns();
        phase = 2;
    }
    else if (strncmp(o.workload, "s3-big", 6) == 0) {
        phase = 2;   /* one request: the first answer ends the run */
        t_meas = t_start;
    }
    else {
        t_meas = t_start;
    }
    for (int t = 0; t < o.threads; t++) {
        pthread_join(ws[t].th, NULL);
        done += ws[t].done;
        errors += ws[t].errors;
        reconnects += ws[t].reconnects;
        bytes_in += ws[t].bytes_in;
        for (int i = 0; i < HBUCKETS; i++) {
            h->b[i] += ws[t].h.b[i];
        }
        h->count += ws[t].h.count;
        if (ws[t].bad_status) {
            fprintf(stderr, "loadgen: status %u (expected %u): %s\n", ws[t].bad_status,
                    expect_status, ws[t].bad_body);
        }
    }
    if (!timed) {
        t_stop = now_ns();
    }
    secs = (double)(t_stop - t_meas) / 1e9;
    {
        double mb = 0;
        if (strcmp(o.workload, "s3-put") == 0 || strcmp(o.workload, "s3-big-put") == 0 ||
            strcmp(o.workload, "s3-get") == 0 || strcmp(o.workload, "s3-big-get") == 0) {
            mb = (double)done * (double)o.size / 1e6 / secs;
        }
        printf("{\"workload\":\"%s\",\"conns\":%d,\"threads\":%d,\"requests\":%" PRIu64
               ",\"errors\":%" PRIu64 ",\"reconnects\":%" PRIu64 ",\"seconds\":%.3f,"
               "\"rps\":%.1f,\"mb_per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
               "\"p999_us\":%.1f}\n",
               o.workload, o.conns, o.threads, done, errors, reconnects, secs,
               (double)done / secs, mb, hquant(h, 0.5) / 1e3, hquant(h, 0.99) / 1e3,
               hquant(h, 0.999) / 1e3);
    }
    return errors ? 1 : 0;
}
