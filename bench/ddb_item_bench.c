/*
 * ddb_item_bench.c: the cost sluice adds to a GetItem and a PutItem, measured in process
 * (`make bench`, then build/bench/ddb_item_bench [dir [get]]): the request body parsed as the front
 * door parses it, then the handler, with fake requests and no socket, so HTTP and SigV4 are
 * left out. GetItem runs on one thread; PutItem on several threads at once, so the writer's
 * group commit shows, first with --sync none and then with --sync full. "get" skips the
 * measurement of puts (for a profile of GetItem alone).
 *
 * It is a measurement, not a test: it prints microseconds per request and requests a second.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/store.h"
#include "dynamodb/dynamodb.h"
#include "streams/streams.h"

#define THREADS 8

static struct http_service *svc;
static int (*put_handler)(struct http_req *r);
static int (*get_handler)(struct http_req *r);

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const struct http_op *op_named(const char *name)
{
    for (size_t i = 0; i < svc->n_ops; i++) {
        if (strcmp(svc->ops[i].name, name) == 0) {
            return &svc->ops[i];
        }
    }
    fprintf(stderr, "no operation %s\n", name);
    exit(1);
}

/* One request through handler and continuation; returns its AWS error (0: none). */
static int run(int (*handler)(struct http_req *), const char *body)
{
    struct http_req r;
    json_error_t jerr;
    int rc, e;

    memset(&r, 0, sizeof r);
    r.magic = HTTP_REQ_MAGIC;
    arena_init(&r.arena);
    pthread_mutex_init(&r.lock, NULL);
    r.svc = svc;
    r.resp_fd = -1;
    r.state = HTTP_REQ_READY;
    r.json = json_loadb(body, strlen(body), JSON_DECODE_ANY, &jerr);
    rc = handler(&r);
    while (rc == 0 && r.state == HTTP_REQ_WAITING) {
        bool resumed = false;
        while (!resumed) {
            pthread_mutex_lock(&r.lock);
            resumed = r.resume_requested;
            pthread_mutex_unlock(&r.lock);
            if (!resumed) {
                sched_yield();
            }
        }
        r.state = HTTP_REQ_READY_AGAIN;
        rc = r.cont(&r);
    }
    e = r.err;
    json_decref(r.json);
    arena_clear(&r.arena);
    pthread_mutex_destroy(&r.lock);
    return e;
}

static const char item_fmt[] =
    "{\"TableName\":\"bench\",\"Item\":{\"pk\":{\"S\":\"customer#%06d\"},"
    "\"sk\":{\"N\":\"%d\"},\"total\":{\"N\":\"129.95\"},\"currency\":{\"S\":\"EUR\"},"
    "\"paid\":{\"BOOL\":true},\"lines\":{\"L\":[{\"M\":{\"sku\":{\"S\":\"A-100\"},"
    "\"qty\":{\"N\":\"2\"}}},{\"M\":{\"sku\":{\"S\":\"B-7\"},\"qty\":{\"N\":\"1\"}}}]},"
    "\"tags\":{\"SS\":[\"invoice\",\"2026\"]}}}";

struct worker {
    int id, n, errors;
};

static void *put_main(void *arg)
{
    struct worker *w = arg;
    char body[1024];
    for (int i = 0; i < w->n; i++) {
        snprintf(body, sizeof body, item_fmt, w->id * w->n + i, i);
        w->errors += run(put_handler, body) != 0;
    }
    return NULL;
}

static void bench_puts(const char *label, int per_thread)
{
    pthread_t t[THREADS];
    struct worker w[THREADS];
    int errors = 0;
    double t0 = now_s(), dt;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){ i, per_thread, 0 };
        pthread_create(&t[i], NULL, put_main, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        errors += w[i].errors;
    }
    dt = now_s() - t0;
    printf("PutItem, %d threads, %s: %.0f requests/s (%d errors)\n", THREADS, label,
           THREADS * per_thread / dt, errors);
}

static bool gets_only;

static int session(const char *dir, enum store_sync sync, int puts)
{
    struct store_options so = { 0 };
    struct store *st;
    struct strm *s;
    struct ddb *d;
    struct http_service *ssvc;
    char err[256], body[1024];
    int errors = 0, gets = 200000;
    double t0, dt;

    so.dir = dir;
    so.sync = sync;
    if (store_open(&so, &st, err, sizeof err) < 0 ||
        strm_new(st, "us-east-1", "000000000000", &s, &ssvc) < 0 ||
        ddb_new(st, s, "us-east-1", "000000000000", &d, &svc) < 0) {
        fprintf(stderr, "cannot open %s: %s\n", dir, err);
        return 1;
    }
    put_handler = op_named("PutItem")->handler;
    get_handler = op_named("GetItem")->handler;
    run(op_named("CreateTable")->handler,
        "{\"TableName\":\"bench\",\"BillingMode\":\"PAY_PER_REQUEST\","
        "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"},"
        "{\"AttributeName\":\"sk\",\"KeyType\":\"RANGE\"}],"
        "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"},"
        "{\"AttributeName\":\"sk\",\"AttributeType\":\"N\"}]}");
    if (gets_only) {
        for (int i = 0; i < THREADS * puts; i++) {
            snprintf(body, sizeof body, item_fmt, i, i % puts);
            errors += run(put_handler, body) != 0;
        }
    }
    else {
        bench_puts(sync == STORE_SYNC_FULL ? "sync full" : "sync none", puts);
    }
    if (sync == STORE_SYNC_NONE) {
        t0 = now_s();
        for (int i = 0; i < gets; i++) {
            int k = i % (THREADS * puts);
            snprintf(body, sizeof body,
                     "{\"TableName\":\"bench\",\"Key\":{\"pk\":{\"S\":\"customer#%06d\"},"
                     "\"sk\":{\"N\":\"%d\"}}}",
                     k, k % puts);
            errors += run(get_handler, body) != 0;
        }
        dt = now_s() - t0;
        printf("GetItem, 1 thread: %.2f us a request, %.0f requests/s (%d errors)\n",
               dt / gets * 1e6, gets / dt, errors);
    }
    ddb_free(d);
    strm_free(s);
    store_close(st);
    return 0;
}

int main(int argc, char **argv)
{
    char dir[256], cmd[300];
    snprintf(dir, sizeof dir, "%s", argc > 1 ? argv[1] : "/tmp/sluice-ddb-bench");
    gets_only = argc > 2 && strcmp(argv[2], "get") == 0;
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0 || session(dir, STORE_SYNC_NONE, gets_only ? 500 : 20000) != 0) {
        return 1;
    }
    if (!gets_only && (system(cmd) != 0 || session(dir, STORE_SYNC_FULL, 1000) != 0)) {
        return 1;
    }
    return system(cmd) != 0;
}
