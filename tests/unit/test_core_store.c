/*
 * test_core_store.c: unit tests of the store (src/core/store.c): ops and reads, named databases
 * opened many at a time (one commit, a result per name, the table), group commit
 * under concurrency, failure isolation inside a group, shutdown draining, the directory lock,
 * unusable directories, a full map (growth and the no-growth error) and readers running while
 * the writer writes and grows the map, reader slots across thread churn, and a read held
 * while waiting for the writer (growth times out instead of deadlocking).
 *
 * What it is not: a crash test. Durability across kill -9 is proven end to end (R34).
 *
 * Each test works in a fresh mkdtemp() directory that it removes, and closes every store it
 * opens, so the sanitizers see nothing leaked (R32). cmocka's assertions are not thread-safe,
 * so worker threads count their failures and the main thread asserts the counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/store.h"

/* ---- Helpers. ---- */

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-store-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        return -1;
    }
    return 0;
}

static void rm_rf(const char *path)
{
    struct stat sb;
    DIR *d;
    struct dirent *e;
    char sub[1024];

    if (lstat(path, &sb) < 0) {
        return;
    }
    if (S_ISDIR(sb.st_mode)) {
        chmod(path, 0700);
        d = opendir(path);
        if (d) {
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                    continue;
                }
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_rf(sub);
            }
            closedir(d);
        }
        rmdir(path);
    }
    else {
        unlink(path);
    }
}

static int teardown_dir(void **state)
{
    (void)state;
    rm_rf(tmpdir);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static struct store *open_store(const char *dir, size_t map_size, size_t map_max,
                                enum store_sync sync)
{
    struct store_options opt = { .dir = dir, .sync = sync, .map_size = map_size,
                                 .map_max = map_max };
    struct store *st = NULL;
    char err[256];
    int rc = store_open(&opt, &st, err, sizeof err);

    if (rc < 0) {
        fprintf(stderr, "store_open: %s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_non_null(st);
    return st;
}

/* A test op: optionally waits, puts key = val, optionally fails after the put. */
struct put_op {
    struct store_op base;
    MDB_dbi dbi;
    const char *key;
    const void *val;
    size_t vlen;
    int fail_rc;                /* returned after the put when non-zero */
    long sleep_ms;
    atomic_bool *started;       /* set when apply() begins */
    atomic_bool *go;            /* apply() waits for it when non-NULL */
    long result_in;
    long result;                /* set by apply() */
    /* Completion for asynchronous submits. */
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
    int *pending;
    int done_rc;
    int done_calls;
};

static int put_apply(struct store_op *op, MDB_txn *txn)
{
    struct put_op *p = (struct put_op *)op;
    MDB_val k;
    MDB_val v;
    int rc;

    if (p->started) {
        atomic_store(p->started, true);
    }
    if (p->go) {
        while (!atomic_load(p->go)) {
            sleep_ms(1);
        }
    }
    if (p->sleep_ms) {
        sleep_ms(p->sleep_ms);
    }
    if (p->key) {
        k.mv_data = (void *)p->key;
        k.mv_size = strlen(p->key);
        v.mv_data = (void *)p->val;
        v.mv_size = p->vlen;
        rc = mdb_put(txn, p->dbi, &k, &v, 0);
        if (rc != 0) {
            return rc;
        }
    }
    p->result = p->result_in;
    return p->fail_rc;
}

static void put_done(struct store_op *op, int rc)
{
    struct put_op *p = (struct put_op *)op;

    p->done_rc = rc;
    p->done_calls++;
    if (p->mu) {
        pthread_mutex_lock(p->mu);
        (*p->pending)--;
        pthread_cond_broadcast(p->cv);
        pthread_mutex_unlock(p->mu);
    }
}

static void put_init(struct put_op *p, MDB_dbi dbi, const char *key, const char *val)
{
    memset(p, 0, sizeof *p);
    p->base.apply = put_apply;
    p->base.done = put_done;
    p->dbi = dbi;
    p->key = key;
    p->val = val;
    p->vlen = val ? strlen(val) : 0;
}

/* Returns 0 and copies the value (NUL-terminated) when key exists, else the LMDB code. */
static int get_str(struct store *st, MDB_dbi dbi, const char *key, char *out, size_t outlen)
{
    MDB_txn *txn;
    MDB_val k = { strlen(key), (void *)key };
    MDB_val v;
    int rc = store_read_begin(st, &txn);

    if (rc) {
        return rc;
    }
    rc = mdb_get(txn, dbi, &k, &v);
    if (rc == 0 && out) {
        size_t n = v.mv_size < outlen - 1 ? v.mv_size : outlen - 1;
        memcpy(out, v.mv_data, n);
        out[n] = '\0';
    }
    store_read_end(st, txn);
    return rc;
}

static void wait_pending(pthread_mutex_t *mu, pthread_cond_t *cv, int *pending)
{
    pthread_mutex_lock(mu);
    while (*pending > 0) {
        pthread_cond_wait(cv, mu);
    }
    pthread_mutex_unlock(mu);
}

/* ---- 1. Put and get; the data survives a reopen. ---- */

static void test_put_get_reopen(void **state)
{
    struct store *st;
    struct put_op op;
    MDB_dbi dbi;
    MDB_dbi dbi2;
    char buf[64];

    (void)state;
    st = open_store(tmpdir, 0, 0, STORE_SYNC_FULL);
    assert_string_equal(store_dir(st), tmpdir);
    assert_int_equal(store_dbi_open(st, "items", 0, &dbi), 0);
    /* A second open of the same name is answered from the table with the same handle. */
    assert_int_equal(store_dbi_open(st, "items", 0, &dbi2), 0);
    assert_int_equal(dbi, dbi2);
    put_init(&op, dbi, "hello", "world");
    assert_int_equal(store_submit_wait(st, &op.base), 0);
    assert_int_equal(op.done_calls, 1);
    assert_int_equal(op.done_rc, 0);
    assert_int_equal(get_str(st, dbi, "hello", buf, sizeof buf), 0);
    assert_string_equal(buf, "world");
    assert_int_equal(get_str(st, dbi, "absent", NULL, 0), MDB_NOTFOUND);
    store_close(st);

    st = open_store(tmpdir, 0, 0, STORE_SYNC_FULL);
    assert_int_equal(store_dbi_open(st, "items", 0, &dbi), 0);
    assert_int_equal(get_str(st, dbi, "hello", buf, sizeof buf), 0);
    assert_string_equal(buf, "world");
    store_close(st);
}

/* ---- 1b. A new store's start-up commits are synced once, by store_ready(). ---- */

static void test_deferred_first_sync(void **state)
{
    struct store_options opt = { .dir = tmpdir, .sync = STORE_SYNC_FULL,
                                 .defer_first_sync = true };
    struct store_stats stats;
    struct store *st = NULL;
    struct put_op op;
    MDB_dbi dbi;
    char err[256], buf[64];

    (void)state;
    assert_int_equal(store_open(&opt, &st, err, sizeof err), 0);
    store_get_stats(st, &stats);
    assert_true(stats.sync_deferred);
    assert_int_equal(store_dbi_open(st, "items", 0, &dbi), 0);
    put_init(&op, dbi, "early", "1");
    assert_int_equal(store_submit_wait(st, &op.base), 0);
    assert_int_equal(store_ready(st), 0);
    store_get_stats(st, &stats);
    assert_false(stats.sync_deferred);
    assert_int_equal(store_ready(st), 0);   /* again: nothing to do */
    put_init(&op, dbi, "late", "2");
    assert_int_equal(store_submit_wait(st, &op.base), 0);
    store_close(st);

    /* An existing store is synced from the first commit on: nothing is deferred. */
    assert_int_equal(store_open(&opt, &st, err, sizeof err), 0);
    store_get_stats(st, &stats);
    assert_false(stats.sync_deferred);
    assert_int_equal(store_dbi_open(st, "items", 0, &dbi), 0);
    assert_int_equal(get_str(st, dbi, "early", buf, sizeof buf), 0);
    assert_string_equal(buf, "1");
    assert_int_equal(get_str(st, dbi, "late", buf, sizeof buf), 0);
    assert_int_equal(store_ready(st), 0);
    store_close(st);

    /* Without the option a new store syncs every commit. */
    rm_rf(tmpdir);
    opt.defer_first_sync = false;
    assert_int_equal(store_open(&opt, &st, err, sizeof err), 0);
    store_get_stats(st, &stats);
    assert_false(stats.sync_deferred);
    store_close(st);
}

/* ---- 1c. Many named databases in one trip to the writer, each with its own result. ---- */

/* Puts key = val through dbi as one op; returns the op's result. */
static int put_one(struct store *st, MDB_dbi dbi, const char *key, const char *val)
{
    struct put_op op;

    put_init(&op, dbi, key, val);
    return store_submit_wait(st, &op.base);
}

static void test_dbi_open_many(void **state)
{
    struct store_options opt = { .dir = tmpdir, .sync = STORE_SYNC_FULL, .max_dbs = 4 };
    struct store_stats before, after;
    struct store *st = NULL;
    MDB_dbi a, b, c, a2, d, e, x, y;
    MDB_dbi seen[3];
    char err[256], buf[64];

    (void)state;
    assert_int_equal(store_open(&opt, &st, err, sizeof err), 0);
    assert_int_equal(store_dbi_open_many(st, NULL, 0), 0);

    /* Three new names (one twice) cost one group commit and get distinct handles. */
    struct store_dbi_req first[] = {
        { .name = "a", .dbi = &a },
        { .name = "b", .dbi = &b },
        { .name = "c", .flags = MDB_DUPSORT, .dbi = &c },
        { .name = "a", .dbi = &a2 },
    };
    store_get_stats(st, &before);
    assert_int_equal(store_dbi_open_many(st, first, 4), 0);
    store_get_stats(st, &after);
    assert_int_equal(after.groups - before.groups, 1);
    assert_int_equal(after.ops - before.ops, 1);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(first[i].rc, 0);
    }
    assert_int_not_equal(a, b);
    assert_int_not_equal(a, c);
    assert_int_not_equal(b, c);
    assert_int_equal(a, a2);

    /* Every handle works in a later transaction; c is a DUPSORT database. */
    assert_int_equal(put_one(st, a, "k", "in a"), 0);
    assert_int_equal(put_one(st, b, "k", "in b"), 0);
    assert_int_equal(put_one(st, c, "k", "1"), 0);
    assert_int_equal(put_one(st, c, "k", "2"), 0);
    assert_int_equal(get_str(st, a, "k", buf, sizeof buf), 0);
    assert_string_equal(buf, "in a");
    assert_int_equal(get_str(st, b, "k", buf, sizeof buf), 0);
    assert_string_equal(buf, "in b");
    {
        MDB_txn *txn;
        MDB_cursor *cur;
        MDB_val k = { 1, (void *)"k" }, v;
        size_t dups = 0;

        assert_int_equal(store_read_begin(st, &txn), 0);
        assert_int_equal(mdb_cursor_open(txn, c, &cur), 0);
        assert_int_equal(mdb_cursor_get(cur, &k, &v, MDB_SET), 0);
        assert_int_equal(mdb_cursor_count(cur, &dups), 0);
        mdb_cursor_close(cur);
        store_read_end(st, txn);
        assert_int_equal(dups, 2);
    }

    /* A second open of the same names is answered from the table: no trip, same handles. */
    struct store_dbi_req again[] = {
        { .name = "c", .flags = MDB_DUPSORT, .dbi = &seen[0] },
        { .name = "b", .dbi = &seen[1] },
        { .name = "a", .dbi = &seen[2] },
    };
    store_get_stats(st, &before);
    assert_int_equal(store_dbi_open_many(st, again, 3), 0);
    store_get_stats(st, &after);
    assert_int_equal(after.groups, before.groups);
    assert_int_equal(seen[0], c);
    assert_int_equal(seen[1], b);
    assert_int_equal(seen[2], a);
    /* store_dbi_open() shares the table. */
    assert_int_equal(store_dbi_open(st, "b", 0, &x), 0);
    assert_int_equal(x, b);

    /* Errors are per name: d is the fourth and last database the store has room for, e finds
     * the table full, and a with other flags is a different request that LMDB refuses; the
     * call reports the first failure in array order and still opens d. */
    struct store_dbi_req mixed[] = {
        { .name = "a", .dbi = &x },
        { .name = "d", .dbi = &d },
        { .name = "e", .dbi = &e },
        { .name = "a", .flags = MDB_DUPSORT, .dbi = &y },
    };
    x = y = e = (MDB_dbi)-1;
    store_get_stats(st, &before);
    assert_int_equal(store_dbi_open_many(st, mixed, 4), MDB_DBS_FULL);
    store_get_stats(st, &after);
    assert_int_equal(after.groups - before.groups, 1);
    assert_int_equal(mixed[0].rc, 0);
    assert_int_equal(x, a);
    assert_int_equal(mixed[1].rc, 0);
    assert_int_equal(mixed[2].rc, MDB_DBS_FULL);
    assert_int_equal(e, (MDB_dbi)-1);       /* untouched on failure */
    assert_int_equal(mixed[3].rc, MDB_INCOMPATIBLE);
    assert_int_equal(y, (MDB_dbi)-1);
    assert_int_equal(put_one(st, d, "k", "in d"), 0);

    /* Once shut down, a name the table knows is still answered; a new one is not. */
    store_shutdown(st);
    struct store_dbi_req closed[] = {
        { .name = "d", .dbi = &x },
        { .name = "f", .dbi = &y },
    };
    assert_int_equal(store_dbi_open_many(st, closed, 2), STORE_CLOSED);
    assert_int_equal(closed[0].rc, 0);
    assert_int_equal(x, d);
    assert_int_equal(closed[1].rc, STORE_CLOSED);
    store_close(st);

    /* What the batches created was committed: d (opened beside a failure) is there. */
    assert_int_equal(store_open(&opt, &st, err, sizeof err), 0);
    struct store_dbi_req reopen[] = {
        { .name = "a", .dbi = &a },
        { .name = "d", .dbi = &d },
    };
    assert_int_equal(store_dbi_open_many(st, reopen, 2), 0);
    assert_int_equal(get_str(st, a, "k", buf, sizeof buf), 0);
    assert_string_equal(buf, "in a");
    assert_int_equal(get_str(st, d, "k", buf, sizeof buf), 0);
    assert_string_equal(buf, "in d");
    store_close(st);
}

/* ---- 2. Concurrency and group commit. ---- */

#define CC_THREADS 16
#define CC_OPS 500

struct cc_arg {
    struct store *st;
    MDB_dbi dbi;
    int id;
    int bad;
    bool async;
};

static void *cc_main(void *arg)
{
    struct cc_arg *a = arg;
    char key[32];
    char keys[CC_OPS / 10][32];
    struct put_op ops[CC_OPS / 10];
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    int pending;

    for (int i = 0; i < CC_OPS;) {
        if (a->async) {
            /* Ten at a time without waiting in between: these batch with everyone's. */
            pending = CC_OPS / 10 < CC_OPS - i ? CC_OPS / 10 : CC_OPS - i;
            int n = pending;
            for (int j = 0; j < n; j++) {
                snprintf(keys[j], sizeof keys[j], "t%02d-%04d", a->id, i + j);
                put_init(&ops[j], a->dbi, keys[j], keys[j]);
                ops[j].result_in = a->id * 100000L + i + j;
                ops[j].mu = &mu;
                ops[j].cv = &cv;
                ops[j].pending = &pending;
                if (store_submit(a->st, &ops[j].base) != 0) {
                    a->bad++;
                    pthread_mutex_lock(&mu);
                    pending--;
                    pthread_mutex_unlock(&mu);
                }
            }
            wait_pending(&mu, &cv, &pending);
            for (int j = 0; j < n; j++) {
                if (ops[j].done_rc != 0 || ops[j].done_calls != 1 ||
                    ops[j].result != a->id * 100000L + i + j) {
                    a->bad++;
                }
            }
            i += n;
        }
        else {
            struct put_op op;

            snprintf(key, sizeof key, "t%02d-%04d", a->id, i);
            put_init(&op, a->dbi, key, key);
            op.result_in = a->id * 100000L + i;
            if (store_submit_wait(a->st, &op.base) != 0 || op.result != op.result_in ||
                op.done_calls != 1) {
                a->bad++;
            }
            i++;
        }
    }
    pthread_mutex_destroy(&mu);
    pthread_cond_destroy(&cv);
    return NULL;
}

static void test_concurrency_group_commit(void **state)
{
    struct store *st;
    struct cc_arg args[CC_THREADS];
    pthread_t th[CC_THREADS];
    struct store_stats s0;
    struct store_stats s;
    MDB_dbi dbi;
    MDB_txn *txn;
    MDB_stat ms;
    uint64_t t0;
    uint64_t t1;
    uint64_t big = 0;
    struct timespec ts;
    char key[32];
    char buf[32];

    (void)state;
    st = open_store(tmpdir, 0, 0, STORE_SYNC_FULL);
    assert_int_equal(store_dbi_open(st, "cc", 0, &dbi), 0);
    store_get_stats(st, &s0);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    for (int i = 0; i < CC_THREADS; i++) {
        args[i] = (struct cc_arg){ .st = st, .dbi = dbi, .id = i, .async = i % 2 == 1 };
        assert_int_equal(pthread_create(&th[i], NULL, cc_main, &args[i]), 0);
    }
    for (int i = 0; i < CC_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t1 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    store_get_stats(st, &s);

    for (int t = 0; t < CC_THREADS; t++) {
        for (int i = 0; i < CC_OPS; i++) {
            snprintf(key, sizeof key, "t%02d-%04d", t, i);
            assert_int_equal(get_str(st, dbi, key, buf, sizeof buf), 0);
            assert_string_equal(buf, key);
        }
    }
    assert_int_equal(store_read_begin(st, &txn), 0);
    assert_int_equal(mdb_stat(txn, dbi, &ms), 0);
    store_read_end(st, txn);
    assert_int_equal(ms.ms_entries, CC_THREADS * CC_OPS);

    assert_int_equal(s.ops - s0.ops, CC_THREADS * CC_OPS);
    assert_int_equal(s.ops_failed, 0);
    assert_true(s.ops - s0.ops > s.groups - s0.groups);
    for (int i = 1; i < 8; i++) {
        big += s.batch_hist[i] - s0.batch_hist[i];
    }
    assert_true(big > 0);
    assert_true(s.map_used_bytes > 0);
    assert_true(s.file_bytes > 0);
    assert_int_equal(s.queue_depth, 0);
    fprintf(stderr,
            "store: %d ops from %d threads (sync full) in %.3f s: %.0f ops/s, %llu groups "
            "(%.1f ops/group), commit time %.3f s\n",
            CC_THREADS * CC_OPS, CC_THREADS, (double)(t1 - t0) / 1e9,
            CC_THREADS * CC_OPS / ((double)(t1 - t0) / 1e9),
            (unsigned long long)(s.groups - s0.groups),
            (double)(s.ops - s0.ops) / (double)(s.groups - s0.groups),
            (double)(s.commit_ns_total - s0.commit_ns_total) / 1e9);
    store_close(st);
}

/* ---- 3. A failing op in a group leaves no trace; the rest of the group commits. ---- */

static void test_failure_isolation(void **state)
{
    struct store *st;
    struct put_op slow;
    struct put_op a;
    struct put_op b;
    struct put_op c;
    struct store_stats s0;
    struct store_stats s;
    atomic_bool started = false;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    int pending = 4;
    MDB_dbi dbi;
    char buf[32];

    (void)state;
    st = open_store(tmpdir, 0, 0, STORE_SYNC_FULL);
    assert_int_equal(store_dbi_open(st, "iso", 0, &dbi), 0);
    store_get_stats(st, &s0);

    /* The slow op holds the writer, so a, b and c queue up and form the next group. */
    put_init(&slow, dbi, "slow", "s");
    slow.sleep_ms = 200;
    slow.started = &started;
    put_init(&a, dbi, "a", "1");
    put_init(&b, dbi, "b", "2");
    b.fail_rc = STORE_ABORTED;
    put_init(&c, dbi, "c", "3");
    struct put_op *all[] = { &slow, &a, &b, &c };
    for (int i = 0; i < 4; i++) {
        all[i]->mu = &mu;
        all[i]->cv = &cv;
        all[i]->pending = &pending;
    }
    assert_int_equal(store_submit(st, &slow.base), 0);
    while (!atomic_load(&started)) {
        sleep_ms(1);
    }
    assert_int_equal(store_submit(st, &a.base), 0);
    assert_int_equal(store_submit(st, &b.base), 0);
    assert_int_equal(store_submit(st, &c.base), 0);
    wait_pending(&mu, &cv, &pending);

    assert_int_equal(slow.done_rc, 0);
    assert_int_equal(a.done_rc, 0);
    assert_int_equal(b.done_rc, STORE_ABORTED);
    assert_int_equal(b.base.rc, STORE_ABORTED);
    assert_int_equal(c.done_rc, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(all[i]->done_calls, 1);
    }
    store_get_stats(st, &s);
    assert_int_equal(s.groups - s0.groups, 2);
    assert_int_equal(s.ops - s0.ops, 4);
    assert_int_equal(s.ops_failed - s0.ops_failed, 1);
    assert_int_equal(s.batch_hist[0] - s0.batch_hist[0], 1);    /* the slow op alone */
    assert_int_equal(s.batch_hist[1] - s0.batch_hist[1], 1);    /* a, b, c together */

    assert_int_equal(get_str(st, dbi, "a", buf, sizeof buf), 0);
    assert_string_equal(buf, "1");
    assert_int_equal(get_str(st, dbi, "b", buf, sizeof buf), MDB_NOTFOUND);
    assert_int_equal(get_str(st, dbi, "c", buf, sizeof buf), 0);
    assert_string_equal(buf, "3");
    store_close(st);
}

/* ---- 4. Shutdown drains the queue; a submit afterwards fails and never calls done. ---- */

#define DRAIN_OPS 10

struct resubmit_op {
    struct put_op p;
    struct store *st;
    struct put_op late;
    int late_rc;
};

static void resubmit_done(struct store_op *op, int rc)
{
    struct resubmit_op *r = (struct resubmit_op *)op;

    /* By now store_shutdown() has begun (the slow op waited for it): no new ops. */
    put_init(&r->late, r->p.dbi, "late", "x");
    r->late_rc = store_submit(r->st, &r->late.base);
    put_done(op, rc);
}

static void test_shutdown_drains(void **state)
{
    struct store *st;
    struct put_op slow;
    struct put_op ops[DRAIN_OPS];
    struct resubmit_op last;
    struct put_op after;
    char keys[DRAIN_OPS][16];
    atomic_bool go = false;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    int pending = DRAIN_OPS + 2;
    MDB_dbi dbi;
    char buf[32];

    (void)state;
    st = open_store(tmpdir, 0, 0, STORE_SYNC_FULL);
    assert_int_equal(store_dbi_open(st, "drain", 0, &dbi), 0);

    put_init(&slow, dbi, "slow", "s");
    slow.go = &go;
    slow.sleep_ms = 100;
    slow.mu = &mu;
    slow.cv = &cv;
    slow.pending = &pending;
    assert_int_equal(store_submit(st, &slow.base), 0);
    for (int i = 0; i < DRAIN_OPS; i++) {
        snprintf(keys[i], sizeof keys[i], "d%02d", i);
        put_init(&ops[i], dbi, keys[i], keys[i]);
        ops[i].mu = &mu;
        ops[i].cv = &cv;
        ops[i].pending = &pending;
        assert_int_equal(store_submit(st, &ops[i].base), 0);
    }
    put_init(&last.p, dbi, "last", "l");
    last.p.base.done = resubmit_done;
    last.p.mu = &mu;
    last.p.cv = &cv;
    last.p.pending = &pending;
    last.st = st;
    last.late_rc = 0;
    assert_int_equal(store_submit(st, &last.p.base), 0);

    atomic_store(&go, true);
    store_shutdown(st);
    /* Every queued op ran and its done() ran once, with its real result. */
    assert_int_equal(pending, 0);
    assert_int_equal(slow.done_calls, 1);
    assert_int_equal(slow.done_rc, 0);
    for (int i = 0; i < DRAIN_OPS; i++) {
        assert_int_equal(ops[i].done_calls, 1);
        assert_int_equal(ops[i].done_rc, 0);
    }
    assert_int_equal(last.p.done_calls, 1);
    assert_int_equal(last.late_rc, STORE_CLOSED);
    assert_int_equal(last.late.done_calls, 0);

    put_init(&after, dbi, "after", "x");
    assert_int_equal(store_submit(st, &after.base), STORE_CLOSED);
    assert_int_equal(store_submit_wait(st, &after.base), STORE_CLOSED);
    assert_int_equal(after.done_calls, 0);
    assert_int_equal(store_dbi_open(st, "another", 0, &dbi), STORE_CLOSED);
    store_shutdown(st);     /* again: nothing happens */

    /* Reads still work between shutdown and close, and see every drained op. */
    assert_int_equal(store_dbi_open(st, "drain", 0, &dbi), 0);     /* from the table */
    for (int i = 0; i < DRAIN_OPS; i++) {
        assert_int_equal(get_str(st, dbi, keys[i], buf, sizeof buf), 0);
        assert_string_equal(buf, keys[i]);
    }
    assert_int_equal(get_str(st, dbi, "late", buf, sizeof buf), MDB_NOTFOUND);
    store_close(st);
    store_close(NULL);
}

/* ---- 5. A second store on the same directory fails and names the holder. ---- */

static void test_lock(void **state)
{
    struct store_options opt = { .dir = tmpdir };
    struct store *st;
    struct store *st2 = NULL;
    char err[256];
    char want[64];
    char got[256];
    int fds[2];
    pid_t child;
    int status;
    ssize_t n;

    (void)state;
    st = open_store(tmpdir, 0, 0, STORE_SYNC_FULL);

    /* In this process: refused before the lock file is touched (fcntl locks are per process,
     * so closing our own descriptor on it would have dropped the first store's lock). */
    assert_int_equal(store_open(&opt, &st2, err, sizeof err), STORE_LOCKED);
    assert_null(st2);
    assert_non_null(strstr(err, "is in use by another sluice"));

    /* From another process. */
    assert_int_equal(pipe(fds), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        struct store *cst = NULL;
        int rc;

        close(fds[0]);
        rc = store_open(&opt, &cst, err, sizeof err);
        if (write(fds[1], err, strlen(err)) < 0) {
            _exit(3);
        }
        _exit(rc == STORE_LOCKED && cst == NULL ? 0 : 1);
    }
    close(fds[1]);
    n = read(fds[0], got, sizeof got - 1);
    close(fds[0]);
    got[n > 0 ? n : 0] = '\0';
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
    assert_non_null(strstr(got, "is in use by another sluice"));
    assert_non_null(strstr(got, want));
    assert_non_null(strstr(got, tmpdir));

    /* Closing releases the lock. */
    store_close(st);
    st = open_store(tmpdir, 0, 0, STORE_SYNC_FULL);
    store_close(st);
}

/* ---- 6. An unusable directory gives an operator-facing error, not a crash. ---- */

static void test_bad_dir(void **state)
{
    struct store_options opt = { 0 };
    struct store *st = NULL;
    char path[512];
    char err[512];
    FILE *f;
    int rc;

    (void)state;
    /* Under a regular file: ENOTDIR even for root. */
    snprintf(path, sizeof path, "%s/file", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/file/sub", tmpdir);
    opt.dir = path;
    rc = store_open(&opt, &st, err, sizeof err);
    assert_int_equal(rc, -ENOTDIR);
    assert_null(st);
    assert_non_null(strstr(err, "cannot create data directory"));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, strerror(ENOTDIR)));

    /* The path itself is a regular file. */
    snprintf(path, sizeof path, "%s/file", tmpdir);
    rc = store_open(&opt, &st, err, sizeof err);
    assert_int_equal(rc, -ENOTDIR);
    assert_null(st);

    opt.dir = "";
    assert_int_equal(store_open(&opt, &st, err, sizeof err), -EINVAL);

    if (geteuid() != 0) {
        /* Permission bits stop everyone but root. */
        snprintf(path, sizeof path, "%s/ro", tmpdir);
        assert_int_equal(mkdir(path, 0500), 0);
        snprintf(path, sizeof path, "%s/ro/data", tmpdir);
        opt.dir = path;
        rc = store_open(&opt, &st, err, sizeof err);
        assert_int_equal(rc, -EACCES);
        assert_non_null(strstr(err, "cannot create data directory"));
        assert_non_null(strstr(err, strerror(EACCES)));

        snprintf(path, sizeof path, "%s/ro", tmpdir);
        rc = store_open(&opt, &st, err, sizeof err);
        assert_int_equal(rc, -EACCES);
        assert_non_null(strstr(err, "cannot open data directory"));
        assert_null(st);
    }
}

/* ---- 7. A full map grows; with growth off, the op fails cleanly and the store goes on. ---- */

#define BIG_VAL (64 * 1024)

static int noop_apply(struct store_op *op, MDB_txn *txn)
{
    (void)op;
    (void)txn;
    return 0;
}

static void test_map_full(void **state)
{
    struct store *st;
    struct store_stats s;
    struct put_op op;
    struct store_op noop = { .apply = noop_apply };
    char *val = calloc(1, BIG_VAL);
    char path[512];
    char keys[64][16];
    MDB_dbi dbi;
    int rc = 0;
    int i;

    (void)state;
    assert_non_null(val);
    memset(val, 'v', BIG_VAL);

    /* Growth: 4 MiB of values into a 1 MiB map. */
    snprintf(path, sizeof path, "%s/grow", tmpdir);
    st = open_store(path, 1 << 20, 0, STORE_SYNC_NONE);
    assert_int_equal(store_dbi_open(st, "big", 0, &dbi), 0);
    for (i = 0; i < 64; i++) {
        snprintf(keys[i], sizeof keys[i], "k%02d", i);
        put_init(&op, dbi, keys[i], NULL);
        op.val = val;
        op.vlen = BIG_VAL;
        assert_int_equal(store_submit_wait(st, &op.base), 0);
    }
    store_get_stats(st, &s);
    assert_true(s.map_grows > 0);
    assert_true(s.map_size_bytes >= 4u << 20);
    assert_int_equal(s.ops_failed, 0);
    for (i = 0; i < 64; i++) {
        assert_int_equal(get_str(st, dbi, keys[i], NULL, 0), 0);
    }
    store_close(st);

    /* No growth: the op that does not fit gets MDB_MAP_FULL. */
    snprintf(path, sizeof path, "%s/full", tmpdir);
    st = open_store(path, 1 << 20, 1 << 20, STORE_SYNC_NONE);
    assert_int_equal(store_dbi_open(st, "big", 0, &dbi), 0);
    for (i = 0; i < 64; i++) {
        put_init(&op, dbi, keys[i], NULL);
        op.val = val;
        op.vlen = BIG_VAL;
        rc = store_submit_wait(st, &op.base);
        if (rc != 0) {
            break;
        }
    }
    assert_int_equal(rc, MDB_MAP_FULL);
    assert_int_equal(op.done_rc, MDB_MAP_FULL);
    assert_true(i > 0);
    store_get_stats(st, &s);
    assert_int_equal(s.map_grows, 0);
    assert_int_equal(s.ops_failed, 1);
    /* Still usable: earlier writes read back, the failed one left nothing, ops still run. */
    for (int j = 0; j < i; j++) {
        assert_int_equal(get_str(st, dbi, keys[j], NULL, 0), 0);
    }
    assert_int_equal(get_str(st, dbi, keys[i], NULL, 0), MDB_NOTFOUND);
    assert_int_equal(store_submit_wait(st, &noop), 0);
    store_close(st);
    free(val);
}

/* ---- 8. Readers on several threads see committed snapshots while the writer works. ---- */

#define RW_WRITERS 2
#define RW_READERS 4
#define RW_OPS 300
#define RW_VAL 4096

struct rw_shared {
    struct store *st;
    MDB_dbi items;
    MDB_dbi meta;
    atomic_int writers_left;
    atomic_int bad;
    atomic_long reads;
};

struct rw_op {
    struct store_op base;
    struct rw_shared *sh;
    char key[16];
};

/* Puts an item and bumps the item count in the same op: a snapshot sees both or neither. */
static int rw_apply(struct store_op *op, MDB_txn *txn)
{
    struct rw_op *w = (struct rw_op *)op;
    static char val[RW_VAL];
    MDB_val k = { strlen(w->key), w->key };
    MDB_val v = { sizeof val, val };
    MDB_val ck = { 5, "count" };
    MDB_val cv;
    long count = 0;
    int rc;

    store_assert_writer(w->sh->st);
    rc = mdb_put(txn, w->sh->items, &k, &v, 0);
    if (rc) {
        return rc;
    }
    rc = mdb_get(txn, w->sh->meta, &ck, &cv);
    if (rc == 0) {
        memcpy(&count, cv.mv_data, sizeof count);
    }
    else if (rc != MDB_NOTFOUND) {
        return rc;
    }
    count++;
    cv.mv_data = &count;
    cv.mv_size = sizeof count;
    return mdb_put(txn, w->sh->meta, &ck, &cv, 0);
}

static void *rw_writer(void *arg)
{
    struct rw_shared *sh = arg;
    static atomic_int seq;
    struct rw_op op;

    for (int i = 0; i < RW_OPS; i++) {
        memset(&op, 0, sizeof op);
        op.base.apply = rw_apply;
        op.sh = sh;
        snprintf(op.key, sizeof op.key, "k%06d", atomic_fetch_add(&seq, 1));
        if (store_submit_wait(sh->st, &op.base) != 0) {
            atomic_fetch_add(&sh->bad, 1);
        }
    }
    atomic_fetch_sub(&sh->writers_left, 1);
    return NULL;
}

static void *rw_reader(void *arg)
{
    struct rw_shared *sh = arg;
    MDB_dbi other;

    /* Opening a name from several threads at once gives every one the same handle. */
    if (store_dbi_open(sh->st, "other", 0, &other) != 0) {
        atomic_fetch_add(&sh->bad, 1);
    }
    while (atomic_load(&sh->writers_left) > 0) {
        MDB_txn *txn;
        MDB_val ck = { 5, "count" };
        MDB_val cv;
        MDB_stat ms;
        long count = 0;
        int rc;

        if (store_read_begin(sh->st, &txn) != 0) {
            atomic_fetch_add(&sh->bad, 1);
            break;
        }
        rc = mdb_get(txn, sh->meta, &ck, &cv);
        if (rc == 0) {
            memcpy(&count, cv.mv_data, sizeof count);
        }
        if ((rc != 0 && rc != MDB_NOTFOUND) || mdb_stat(txn, sh->items, &ms) != 0 ||
            ms.ms_entries != (size_t)count) {
            atomic_fetch_add(&sh->bad, 1);
        }
        store_read_end(sh->st, txn);
        atomic_fetch_add(&sh->reads, 1);
    }
    return NULL;
}

static void test_concurrent_readers(void **state)
{
    struct rw_shared sh = { 0 };
    pthread_t w[RW_WRITERS];
    pthread_t r[RW_READERS];
    struct store_stats s;
    MDB_dbi other;
    MDB_dbi other2;

    (void)state;
    /* A small map, so that the writer grows it while readers come and go. */
    sh.st = open_store(tmpdir, 1 << 20, 0, STORE_SYNC_NONE);
    assert_int_equal(store_dbi_open(sh.st, "items", 0, &sh.items), 0);
    assert_int_equal(store_dbi_open(sh.st, "meta", 0, &sh.meta), 0);
    atomic_store(&sh.writers_left, RW_WRITERS);
    for (int i = 0; i < RW_READERS; i++) {
        assert_int_equal(pthread_create(&r[i], NULL, rw_reader, &sh), 0);
    }
    for (int i = 0; i < RW_WRITERS; i++) {
        assert_int_equal(pthread_create(&w[i], NULL, rw_writer, &sh), 0);
    }
    for (int i = 0; i < RW_WRITERS; i++) {
        pthread_join(w[i], NULL);
    }
    for (int i = 0; i < RW_READERS; i++) {
        pthread_join(r[i], NULL);
    }
    assert_int_equal(atomic_load(&sh.bad), 0);
    assert_true(atomic_load(&sh.reads) > 0);
    store_get_stats(sh.st, &s);
    assert_true(s.map_grows > 0);
    assert_true(s.readers_cached <= RW_READERS);
    assert_int_equal(store_dbi_open(sh.st, "other", 0, &other), 0);
    assert_int_equal(store_dbi_open(sh.st, "other", 0, &other2), 0);
    assert_int_equal(other, other2);
    store_close(sh.st);
}

/* ---- 9. Threads that exit hand their cached reader back; LMDB's reader table lasts. ---- */

static void *churn_main(void *arg)
{
    struct store *st = arg;
    MDB_txn *txn;
    MDB_txn *inner;

    if (store_read_begin(st, &txn) != 0) {
        return (void *)1;
    }
    /* A nested read on the same thread gets its own, uncached transaction. */
    if (store_read_begin(st, &inner) != 0 || inner == txn) {
        store_read_end(st, txn);
        return (void *)1;
    }
    store_read_end(st, inner);
    store_read_end(st, txn);
    return NULL;
}

static void test_reader_churn(void **state)
{
    struct store_options opt = { .dir = tmpdir, .max_readers = 8 };
    struct store *st = NULL;
    struct store_stats s;
    char err[256];

    (void)state;
    assert_int_equal(store_open(&opt, &st, err, sizeof err), 0);
    for (int i = 0; i < 64; i++) {
        pthread_t th;
        void *ret = (void *)2;

        assert_int_equal(pthread_create(&th, NULL, churn_main, st), 0);
        pthread_join(th, &ret);
        assert_null(ret);
    }
    store_get_stats(st, &s);
    assert_int_equal(s.readers_cached, 1);
    store_close(st);
}

/* ---- 10. A read held across a wait for the writer delays growth; it does not deadlock. ---- */

static void test_grow_blocked_by_reader(void **state)
{
    struct store *st;
    struct store_stats s;
    struct put_op op;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    int pending = 1;
    size_t vlen = 2u << 20;
    char *val = calloc(1, vlen);
    MDB_txn *txn;
    MDB_dbi dbi;

    (void)state;
    assert_non_null(val);
    st = open_store(tmpdir, 1 << 20, 0, STORE_SYNC_NONE);
    assert_int_equal(store_dbi_open(st, "big", 0, &dbi), 0);

    /* This thread reads while it waits for an op that needs a larger map: the writer gives
     * up on growing after its timeout and the op fails with MDB_MAP_FULL. */
    assert_int_equal(store_read_begin(st, &txn), 0);
    put_init(&op, dbi, "big", NULL);
    op.val = val;
    op.vlen = vlen;
    op.mu = &mu;
    op.cv = &cv;
    op.pending = &pending;
    assert_int_equal(store_submit(st, &op.base), 0);
    wait_pending(&mu, &cv, &pending);
    store_read_end(st, txn);
    assert_int_equal(op.done_rc, MDB_MAP_FULL);
    store_get_stats(st, &s);
    assert_int_equal(s.map_grows, 0);

    /* Without the read, the same op grows the map and commits. */
    put_init(&op, dbi, "big", NULL);
    op.val = val;
    op.vlen = vlen;
    assert_int_equal(store_submit_wait(st, &op.base), 0);
    store_get_stats(st, &s);
    assert_true(s.map_grows > 0);
    assert_int_equal(get_str(st, dbi, "big", NULL, 0), 0);
    store_close(st);
    free(val);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_reopen, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_deferred_first_sync, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dbi_open_many, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_concurrency_group_commit, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_failure_isolation, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_shutdown_drains, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_lock, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_bad_dir, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_map_full, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_concurrent_readers, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_reader_churn, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_grow_blocked_by_reader, setup_dir, teardown_dir),
    };

    log_threshold = LOG_WARN;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
