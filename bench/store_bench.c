/*
 * store_bench.c: a load generator for the store's writer (not a test). T threads each submit
 * N ops with store_submit_wait(); each op puts one 100-byte value under a unique key. Prints
 * ops/s, groups, ops per group and the time spent in commits.
 *
 *   build/store_bench [-t threads] [-n ops-per-thread] [-s full|none] [-d dir]
 *
 * What it is not: a model of sluice's traffic; it measures the cost of an op and of a group
 * commit, which is what the performance budget in shared/design/ARCHITECTURE.md is about.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/store.h"

struct bench_op {
    struct store_op base;
    MDB_dbi dbi;
    char key[24];
};

struct bench_arg {
    struct store *st;
    MDB_dbi dbi;
    int id;
    long n;
    long failed;
};

static int bench_apply(struct store_op *op, MDB_txn *txn)
{
    struct bench_op *b = (struct bench_op *)op;
    static const char val[100];
    MDB_val k = { strlen(b->key), b->key };
    MDB_val v = { sizeof val, (void *)val };

    return mdb_put(txn, b->dbi, &k, &v, 0);
}

static void *bench_main(void *arg)
{
    struct bench_arg *a = arg;
    struct bench_op op;

    for (long i = 0; i < a->n; i++) {
        memset(&op, 0, sizeof op);
        op.base.apply = bench_apply;
        op.dbi = a->dbi;
        snprintf(op.key, sizeof op.key, "%03d-%09ld", a->id, i);
        if (store_submit_wait(a->st, &op.base) != 0) {
            a->failed++;
        }
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct store_options opt = { .sync = STORE_SYNC_FULL };
    char tmpl[] = "/tmp/sluice-bench-XXXXXX";
    struct store *st = NULL;
    struct store_stats s;
    struct bench_arg *args;
    pthread_t *th;
    char err[256];
    int threads = 16;
    long n = 2000;
    long failed = 0;
    double t0;
    double t1;
    MDB_dbi dbi;
    int c;

    while ((c = getopt(argc, argv, "t:n:s:d:")) != -1) {
        switch (c) {
        case 't':
            threads = (int)strtol(optarg, NULL, 10);
            break;
        case 'n':
            n = strtol(optarg, NULL, 10);
            break;
        case 's':
            opt.sync = strcmp(optarg, "none") == 0 ? STORE_SYNC_NONE : STORE_SYNC_FULL;
            break;
        case 'd':
            opt.dir = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [-t threads] [-n ops] [-s full|none] [-d dir]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > 1024 || n < 1) {
        fprintf(stderr, "store_bench: bad -t or -n\n");
        return 2;
    }
    if (!opt.dir) {
        if (!mkdtemp(tmpl)) {
            fprintf(stderr, "store_bench: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
        opt.dir = tmpl;
    }
    log_threshold = LOG_WARN;
    if (store_open(&opt, &st, err, sizeof err) < 0) {
        fprintf(stderr, "store_bench: %s\n", err);
        return 1;
    }
    if (store_dbi_open(st, "bench", 0, &dbi) < 0) {
        fprintf(stderr, "store_bench: cannot open the database\n");
        store_close(st);
        return 1;
    }
    args = calloc((size_t)threads, sizeof *args);
    th = calloc((size_t)threads, sizeof *th);
    if (!args || !th) {
        return 1;
    }
    t0 = now_s();
    for (int i = 0; i < threads; i++) {
        args[i] = (struct bench_arg){ .st = st, .dbi = dbi, .id = i, .n = n };
        pthread_create(&th[i], NULL, bench_main, &args[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        failed += args[i].failed;
    }
    t1 = now_s();
    store_get_stats(st, &s);
    printf("%d threads x %ld ops, sync %s: %.0f ops/s, %llu groups (%.1f ops/group), "
           "commit %.3f of %.3f s, %ld failed, map used %.1f MiB\n",
           threads, n, opt.sync == STORE_SYNC_NONE ? "none" : "full",
           (double)threads * (double)n / (t1 - t0), (unsigned long long)s.groups,
           (double)s.ops / (double)s.groups, (double)s.commit_ns_total / 1e9, t1 - t0, failed,
           (double)s.map_used_bytes / (1 << 20));
    store_close(st);
    free(args);
    free(th);
    return failed ? 1 : 0;
}
