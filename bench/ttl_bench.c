/*
 * ttl_bench.c: what one time-to-live sweep costs on a large table with few expired items
 * (`make bench`, then build/bench/ttl_bench [items [expired [dir]]], by default 1,000,000
 * items of which 100 have expired). The table is filled in writer ops of 10,000 items through
 * ddb__item_write(), time to live is enabled and its expiry index backfilled (timed too),
 * then two figures are printed:
 *
 *  - the walk a sweep without an expiry index makes: every item of the table read in read
 *    transactions of 10,000 and its attribute checked, as the sweeper did before the index
 *    (the deletions, the same in both, left out);
 *  - one sweep as the sweeper runs it now, ddb__ttl_sweep(): the expired entries of the
 *    expiry index read and their items deleted in writer ops.
 *
 * It is a measurement, not a test: it prints milliseconds, entries read and items deleted.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/store.h"
#include "dynamodb/ddb_int.h"
#include "streams/streams.h"

static struct http_service *svc;

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
static int run(const char *op, const char *body)
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
    rc = op_named(op)->handler(&r);
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

/* Items [from, to) of the table, item i expired when i % every == 0. */
struct fill_op {
    struct store_op base;
    struct ddb *d;
    long from, to, every;
    long long now;
};

static int fill_apply(struct store_op *op, MDB_txn *txn)
{
    struct fill_op *f = (struct fill_op *)op;
    struct ddb_schema s;
    struct buf b;
    struct arena a;
    int rc = ddb__schema_get(f->d, txn, "ttlbench", &s);

    buf_init(&b, DDB_ITEM_ENC_MAX);
    for (long i = f->from; rc == 0 && i < f->to; i++) {
        char json[256];
        json_error_t jerr;
        json_t *item;
        struct ddb_err err;
        struct ddb_key key;
        struct ddb_key_err kerr;
        struct ddb_write w;
        size_t size;
        snprintf(json, sizeof json,
                 "{\"pk\":{\"S\":\"item#%07ld\"},\"exp\":{\"N\":\"%lld\"},"
                 "\"payload\":{\"S\":\"%0100ld\"}}",
                 i, i % f->every == 0 ? f->now - 60 : f->now + 3600 + i % 86400, i);
        item = json_loads(json, 0, &jerr);
        buf_reset(&b);
        arena_init(&a);
        rc = ddb_item_encode(item, &a, &b, &size, &err);
        arena_clear(&a);
        json_decref(item);
        if (rc == 0) {
            rc = ddb__key_of(&s, b.p, b.len, false, &key, &kerr);
        }
        if (rc == 0) {
            rc = ddb__item_write(f->d, txn, &s, &key, NULL, 0, b.p, b.len, 0, &w);
        }
    }
    buf_release(&b);
    return rc;
}

/* The walk of every item, as the sweep made it without an expiry index. */
static size_t walk_all(struct ddb *d, long long now, size_t *walked)
{
    unsigned char resume[DDB_KEY_LMDB_MAX], prefix[4];
    size_t resume_len = 0, found = 0;
    struct sl_str attr = { "exp", 3 };
    bool more = true;

    *walked = 0;
    while (more) {
        MDB_txn *txn;
        MDB_cursor *c;
        MDB_val k, v;
        struct ddb_schema s;
        size_t n = 0;
        int g;

        store_read_begin(d->st, &txn);
        ddb__schema_get(d, txn, "ttlbench", &s);
        mdb_cursor_open(txn, d->items, &c);
        ddb__key_prefix(s.id, prefix);
        if (resume_len == 0) {
            memcpy(resume, prefix, 4);
            resume_len = 4;
        }
        k.mv_size = resume_len;
        k.mv_data = resume;
        more = false;
        for (g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); g == 0;
             g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            uint64_t at;
            if (k.mv_size < 4 || memcmp(k.mv_data, prefix, 4) != 0) {
                break;
            }
            if (n == 10000) {
                resume_len = k.mv_size;
                memcpy(resume, k.mv_data, resume_len);
                more = true;
                break;
            }
            n++;
            if (ddb__ttl_expiry(v.mv_data, v.mv_size, attr, &at) && ddb__ttl_due(at, now)) {
                found++;
            }
        }
        *walked += n;
        mdb_cursor_close(c);
        store_read_end(d->st, txn);
    }
    return found;
}

int main(int argc, char **argv)
{
    long items = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    long expired = argc > 2 ? strtol(argv[2], NULL, 10) : 100;
    const char *dir = argc > 3 ? argv[3] : "/tmp/sluice-ttl-bench";
    struct store_options so = { 0 };
    struct store *st;
    struct strm *s;
    struct ddb *d;
    struct http_service *ssvc;
    struct ddb_ttl_stats stats = { 0, 0 };
    long long now = (long long)time(NULL);
    char err[256], cmd[300];
    size_t walked, found;
    double t0, t1;
    uint32_t ttl_id = 0;

    if (items < 1 || expired < 1 || expired > items) {
        fprintf(stderr, "usage: ttl_bench [items [expired [dir]]]\n");
        return 2;
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) {
        return 1;
    }
    so.dir = dir;
    so.sync = STORE_SYNC_NONE;
    if (store_open(&so, &st, err, sizeof err) < 0 ||
        strm_new(st, "us-east-1", "000000000000", &s, &ssvc) < 0 ||
        ddb_new(st, s, "us-east-1", "000000000000", &d, &svc) < 0) {
        fprintf(stderr, "cannot open %s: %s\n", dir, err);
        return 1;
    }
    run("CreateTable", "{\"TableName\":\"ttlbench\",\"BillingMode\":\"PAY_PER_REQUEST\","
                       "\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],"
                       "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\","
                       "\"AttributeType\":\"S\"}]}");
    t0 = now_s();
    for (long i = 0; i < items; i += 10000) {
        struct fill_op f;
        memset(&f, 0, sizeof f);
        f.base.apply = fill_apply;
        f.d = d;
        f.from = i;
        f.to = i + 10000 < items ? i + 10000 : items;
        f.every = items / expired;
        f.now = now;
        if (store_submit_wait(st, &f.base) != 0) {
            fprintf(stderr, "fill failed\n");
            return 1;
        }
    }
    printf("filled %ld items (%ld expired) in %.1f s\n", items, expired, now_s() - t0);

    t0 = now_s();
    if (run("UpdateTimeToLive", "{\"TableName\":\"ttlbench\",\"TimeToLiveSpecification\":"
                                "{\"AttributeName\":\"exp\",\"Enabled\":true}}") != 0) {
        fprintf(stderr, "UpdateTimeToLive failed\n");
        return 1;
    }
    for (bool done = false; !done;) {
        MDB_txn *txn;
        struct ddb_schema sc;
        unsigned char bk[12];
        MDB_val k = { sizeof bk, bk }, v;
        store_read_begin(st, &txn);
        ddb__schema_get(d, txn, "ttlbench", &sc);
        ttl_id = sc.ttl_id;
        memcpy(bk, "backfill", 8);
        ddb__key_prefix(ttl_id, bk + 8);
        done = mdb_get(txn, d->meta, &k, &v) == MDB_NOTFOUND;
        store_read_end(st, txn);
        if (!done) {
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    printf("expiry index built by the backfill in %.1f s\n", now_s() - t0);

    t0 = now_s();
    found = walk_all(d, now, &walked);
    t1 = now_s();
    printf("without the expiry index: walk of %zu items, %zu expired found: %.1f ms\n", walked,
           found, (t1 - t0) * 1e3);
    t0 = now_s();
    ddb__ttl_sweep(d, now, &stats);
    t1 = now_s();
    printf("with the expiry index: sweep read %zu entries, deleted %zu items: %.1f ms\n",
           stats.entries, stats.deleted, (t1 - t0) * 1e3);
    {
        MDB_txn *txn;
        struct ddb_schema sc;
        uint64_t n_items = 0, n_bytes = 0;
        store_read_begin(st, &txn);
        ddb__schema_get(d, txn, "ttlbench", &sc);
        ddb__counts_get(d, txn, sc.id, &n_items, &n_bytes);
        store_read_end(st, txn);
        printf("items left: %llu\n", (unsigned long long)n_items);
    }
    (void)ttl_id;
    ddb_free(d);
    strm_free(s);
    store_close(st);
    return system(cmd) != 0;
}
