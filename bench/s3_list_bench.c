/*
 * s3_list_bench.c: fills a bucket with many keys fast, for the listing benchmark (not a
 * test). Makes a fresh data directory with bucket "bench" holding N keys "dNN/kNNNNNNNN"
 * (100 prefixes, key i under prefix i % 100), then times s3_list() pages of 1000 keys from
 * the start, from the middle (start-after) and inside one prefix, and prints the medians.
 *
 *   build/bench/s3_list_bench -n keys -d dir
 *
 * The keys are written as object records in groups of 20,000 per writer commit, all sharing
 * the body of one real object put first (so a GET of any key answers its bytes): a million
 * keys take seconds instead of a million body files. bench/s3_list.py then serves the
 * directory and times ListObjectsV2 over HTTP. The directory is what `sluice serve` opens;
 * deleting one of these keys would remove the shared body, so the bucket is for reading.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/log.h"
#include "core/store.h"
#include "s3/s3_int.h"

#define GROUP 20000
#define PREFIXES 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t key_of(size_t i, char out[32])
{
    return (size_t)snprintf(out, 32, "d%02zu/k%08zu", i % PREFIXES, i);
}

struct fill_op {
    struct store_op base;
    struct s3 *s3;
    size_t from, to;
    const void *rec;
    size_t rec_len;
};

static int fill_apply(struct store_op *op, MDB_txn *txn)
{
    struct fill_op *f = (struct fill_op *)op;
    unsigned char lk[S3__LMDB_KEY_MAX];
    char key[32];
    for (size_t i = f->from; i < f->to; i++) {
        size_t kl = key_of(i, key);
        MDB_val k = { s3__objkey("bench", (struct sl_str){ key, kl }, lk), lk };
        MDB_val v = { f->rec_len, (void *)f->rec };
        int rc = mdb_put(txn, f->s3->objects, &k, &v, 0);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static void fill_done(struct store_op *op, int rc)
{
    (void)op;
    (void)rc;
}

struct page {
    size_t n, max;
};

static int count_fn(void *ctx, struct sl_str key, const struct s3_object_info *info)
{
    struct page *p = ctx;
    (void)key;
    (void)info;
    return ++p->n == p->max ? S3_ESTOP : 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of 25 timed s3_list() pages of 1000 keys, in milliseconds. */
static double time_pages(struct s3 *s3, struct sl_str prefix, struct sl_str after)
{
    double t[25];
    for (int i = 0; i < 25; i++) {
        struct page p = { 0, 1000 };
        double t0 = now_s();
        if (s3_list(s3, "bench", prefix, after, count_fn, &p) != 0 || p.n == 0) {
            fprintf(stderr, "s3_list failed\n");
            exit(1);
        }
        t[i] = (now_s() - t0) * 1e3;
    }
    qsort(t, 25, sizeof t[0], cmp_double);
    return t[12];
}

int main(int argc, char **argv)
{
    size_t n = 100000;
    const char *dir = NULL;
    struct store_options opt = { 0 };
    struct store *st;
    struct s3 *s3;
    struct http_service *svc;
    char err[256], mid[32];
    unsigned char lk[S3__LMDB_KEY_MAX];
    MDB_txn *txn;
    MDB_val k, v;
    void *rec;
    size_t rec_len;
    double t0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-n") == 0) {
            n = strtoull(argv[i + 1], NULL, 10);
        }
        else if (strcmp(argv[i], "-d") == 0) {
            dir = argv[i + 1];
        }
    }
    if (!dir || n == 0) {
        fprintf(stderr, "usage: s3_list_bench -n keys -d new-data-dir\n");
        return 2;
    }
    log_threshold = LOG_WARN;
    mkdir(dir, 0755);
    opt.dir = dir;
    opt.sync = STORE_SYNC_FULL;   /* so that start-up does not pay for the flush */
    if (store_open(&opt, &st, err, sizeof err) != 0 ||
        s3_new(st, dir, "us-east-1", "000000000000", &s3, &svc) != 0) {
        fprintf(stderr, "open %s: %s\n", dir, err);
        return 1;
    }
    if (s3_bucket_create(s3, "bench") != 0 ||
        s3_put_object_from_buf(s3, "bench", SL_STR_LIT("seed"), "x", 1, NULL, NULL) != 0) {
        fprintf(stderr, "seed object failed\n");
        return 1;
    }
    store_read_begin(st, &txn);
    k = (MDB_val){ s3__objkey("bench", SL_STR_LIT("seed"), lk), lk };
    if (mdb_get(txn, s3->objects, &k, &v) != 0) {
        fprintf(stderr, "seed record missing\n");
        return 1;
    }
    rec = malloc(v.mv_size);
    memcpy(rec, v.mv_data, v.mv_size);
    rec_len = v.mv_size;
    store_read_end(st, txn);

    t0 = now_s();
    for (size_t from = 0; from < n; from += GROUP) {
        struct fill_op f = { .s3 = s3, .from = from, .to = from + GROUP < n ? from + GROUP : n,
                             .rec = rec, .rec_len = rec_len };
        f.base.apply = fill_apply;
        f.base.done = fill_done;
        if (store_submit_wait(st, &f.base) != 0) {
            fprintf(stderr, "fill failed\n");
            return 1;
        }
    }
    printf("keys %zu loaded in %.2f s\n", n, now_s() - t0);
    mid[key_of(n / 2, mid)] = '\0';
    printf("s3_list page of 1000: first %.3f ms, from the middle %.3f ms, in prefix d50/ %.3f ms\n",
           time_pages(s3, SL_STR_NULL, SL_STR_NULL),
           time_pages(s3, SL_STR_NULL, sl_str_c(mid)),
           time_pages(s3, SL_STR_LIT("d50/"), SL_STR_NULL));
    free(rec);
    s3_shutdown(s3);
    s3_free(s3);
    store_close(st);
    return 0;
}
