/*
 * query_bench.c: the speed of SQL over the archive (not a test). Fills a fresh data
 * directory with O objects of R invoice records each (JSON lines, every other object gzip),
 * through the S3 C API, then times a few queries with qry_run() on one thread and prints
 * records per second and decoded megabytes per second.
 *
 *   build/bench/query_bench [-o objects] [-r records-per-object] [-d dir]
 *
 * What it is not: a measure of the HTTP round trip (POST /_sluice/query adds one request and
 * the answer's bytes), nor of a cold page cache: the objects were just written.
 */
#define _XOPEN_SOURCE 700   /* nftw() */
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/store.h"
#include "query/query.h"
#include "s3/s3.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The gzip of in[0..n) (owned by the caller, free()) and its length in *len; NULL when zlib
 * fails. */
static unsigned char *gzip_buf(const char *in, size_t n, size_t *len)
{
    z_stream z;
    unsigned char *out;
    uLong cap;
    int rc;

    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return NULL;
    }
    cap = deflateBound(&z, (uLong)n);
    out = xmalloc(cap);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    rc = deflate(&z, Z_FINISH);
    *len = (size_t)z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    static const char *const sqls[] = {
        "SELECT count(*) FROM archive('bench')",
        "SELECT count(*), sum(amount) FROM archive('bench') WHERE paid",
        "SELECT customer, count(*), sum(amount) FROM archive('bench', '2026/') "
        "GROUP BY customer ORDER BY 3 DESC LIMIT 3",
        "SELECT count(*) FROM archive('bench') WHERE json_extract(_record, '$.items[0].sku') "
        "= 's3'",
    };
    long objects = 20, records = 50000;
    char dir[256] = "";
    char err[512];
    struct store_options so;
    struct store *st = NULL;
    struct s3 *s3 = NULL;
    struct http_service *svc;
    struct buf body;
    double decoded = 0;
    bool made_dir = false;
    int opt;

    while ((opt = getopt(argc, argv, "o:r:d:")) != -1) {
        switch (opt) {
        case 'o':
            objects = strtol(optarg, NULL, 10);
            break;
        case 'r':
            records = strtol(optarg, NULL, 10);
            break;
        case 'd':
            snprintf(dir, sizeof dir, "%s", optarg);
            break;
        default:
            fprintf(stderr, "usage: query_bench [-o objects] [-r records] [-d dir]\n");
            return 2;
        }
    }
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/sluice-query-bench-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
        made_dir = true;
    }
    log_threshold = LOG_WARN;
    memset(&so, 0, sizeof so);
    so.dir = dir;
    so.sync = STORE_SYNC_NONE;
    if (store_open(&so, &st, err, sizeof err) < 0 ||
        s3_new(st, dir, "us-east-1", "000000000000", &s3, &svc) < 0) {
        fprintf(stderr, "cannot open %s: %s\n", dir, err);
        return 1;
    }
    s3_bucket_create(s3, "bench");
    buf_init(&body, (size_t)1 << 30);
    srand(1);
    for (long o = 0; o < objects; o++) {
        char key[64];
        bool zip = o % 2 == 1;
        unsigned char *gz = NULL;
        size_t gz_len = 0;
        int rc;
        buf_reset(&body);
        for (long i = 0; i < records; i++) {
            buf_printf(&body,
                       "{\"invoice\":\"I-%ld-%ld\",\"customer\":\"c%d\",\"amount\":%d.%02d,"
                       "\"items\":[{\"sku\":\"s%ld\",\"qty\":%ld}],\"paid\":%s}\n",
                       o, i, rand() % 100, rand() % 100, rand() % 100, i % 13, i % 5,
                       i % 3 == 0 ? "true" : "false");
        }
        decoded += (double)body.len;
        snprintf(key, sizeof key, "2026/%02ld/obj-%ld%s", o % 12 + 1, o, zip ? ".gz" : "");
        if (zip && !(gz = gzip_buf(body.p, body.len, &gz_len))) {
            fprintf(stderr, "gzip failed\n");
            return 1;
        }
        rc = s3_put_object_from_buf(s3, "bench", sl_str_c(key), zip ? (void *)gz : body.p,
                                    zip ? gz_len : body.len, NULL, NULL);
        free(gz);
        if (rc < 0) {
            fprintf(stderr, "put failed: %s\n", s3_strerror(rc));
            return 1;
        }
    }
    printf("%ld objects, %ld records, %.1f MB of JSON (half of the objects gzip)\n", objects,
           objects * records, decoded / 1e6);
    for (size_t q = 0; q < sizeof sqls / sizeof sqls[0]; q++) {
        char *answer = NULL;
        size_t n = 0;
        double t0 = now_s(), dt;
        int rc = qry_run(s3, sqls[q], strlen(sqls[q]), NULL, NULL, &answer, &n, err, sizeof err);
        dt = now_s() - t0;
        if (rc != 0) {
            printf("%s\n  failed: %s\n", sqls[q], err);
            continue;
        }
        printf("%s\n  %.3f s, %.2f M records/s, %.0f MB/s: %.120s\n", sqls[q], dt,
               (double)(objects * records) / dt / 1e6, decoded / dt / 1e6, answer);
        free(answer);
    }
    buf_release(&body);
    s3_free(s3);
    store_close(st);
    if (made_dir) {
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    return 0;
}
