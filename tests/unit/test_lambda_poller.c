/*
 * test_lambda_poller.c: the event source mapping poller (src/lambda/poller.c) on a real store
 * and change log, with a fake invoker: the DynamoDB event it builds, batches in order, a
 * failed batch retried (the same records) until it succeeds, the batching window, and the
 * durable checkpoint a restarted poller resumes from without replaying or skipping.
 */
#define _DEFAULT_SOURCE /* usleep, strdup */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/store.h"
#include "lambda/lam_int.h"
#include "streams/streams.h"

#define ARN "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2026-01-01T00:00:00.000"
#define UUID "11111111-2222-4333-8444-555555555555"

/* What the fake function saw. */
struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int calls;
    int fail_first;             /* fail this many calls */
    int n_batches;
    size_t sizes[64];
    uint64_t first[64];         /* first SequenceNumber of each call */
    uint64_t last[64];
    bool arn_ok;
};

struct fixture {
    char dir[64];
    struct store *st;
    struct strm *s;
    MDB_dbi esm;
    MDB_dbi esm_pos;
    struct fake fake;
};

static int fake_invoke(void *ctx, struct lam_invoke *inv)
{
    struct fake *f = ctx;
    json_error_t jerr;
    json_t *ev = json_loadb(inv->payload, inv->len, 0, &jerr);
    json_t *recs = json_object_get(ev, "Records");
    size_t n = json_array_size(recs);
    bool fail;

    pthread_mutex_lock(&f->mu);
    fail = f->calls < f->fail_first;
    if (f->calls < 64) {
        f->sizes[f->calls] = n;
        f->first[f->calls] = strtoull(json_string_value(json_object_get(
                                          json_object_get(json_array_get(recs, 0), "dynamodb"),
                                          "SequenceNumber")),
                                      NULL, 10);
        f->last[f->calls] = strtoull(json_string_value(json_object_get(
                                         json_object_get(json_array_get(recs, n - 1), "dynamodb"),
                                         "SequenceNumber")),
                                     NULL, 10);
    }
    f->arn_ok = n > 0;
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_object_get(json_array_get(recs, i),
                                                          "eventSourceARN"));
        f->arn_ok = f->arn_ok && a && strcmp(a, ARN) == 0;
    }
    f->calls++;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    json_decref(ev);
    inv->outcome = fail ? LAM_FUNCTION_ERROR : LAM_OK;
    inv->result = strdup(fail ? "{\"errorMessage\":\"no\",\"errorType\":\"Error\"}" : "null");
    inv->result_len = strlen(inv->result);
    return 0;
}

/* Waits until the fake has seen calls invocations (or 10 s). */
static int wait_calls(struct fake *f, int calls)
{
    struct timespec dl;
    int got;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 10;
    pthread_mutex_lock(&f->mu);
    while (f->calls < calls) {
        if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT) {
            break;
        }
    }
    got = f->calls;
    pthread_mutex_unlock(&f->mu);
    return got;
}

struct op {
    struct store_op base;
    struct fixture *f;
    int kind;   /* 0 create stream + mapping record, 1 append n */
    int n;
};

static int apply(struct store_op *o, MDB_txn *txn)
{
    struct op *op = (struct op *)o;
    if (op->kind == 0) {
        json_t *ks = json_pack("[{s:s, s:s}]", "AttributeName", "pk", "KeyType", "HASH");
        MDB_val k = { strlen(UUID), UUID }, v = { 2, "{}" };
        int rc = strm_create(op->f->s, txn, "T", "arn:aws:dynamodb:us-east-1:000000000000:table/T",
                             "2026-01-01T00:00:00.000", "KEYS_ONLY", ks);
        json_decref(ks);
        return rc ? rc : mdb_put(txn, op->f->esm, &k, &v, 0);
    }
    for (int i = 0; i < op->n; i++) {
        json_t *d = json_pack("{s:{s:{s:s}}}", "Keys", "pk", "S", "k");
        int rc = strm_append(op->f->s, txn, ARN, "INSERT", d, NULL);
        json_decref(d);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static void run(struct fixture *f, int kind, int n)
{
    struct op op;
    memset(&op, 0, sizeof op);
    op.base.apply = apply;
    op.f = f;
    op.kind = kind;
    op.n = n;
    assert_int_equal(store_submit_wait(f->st, &op.base), 0);
    strm_notify(f->s);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct store_options so = { 0 };
    struct http_service *svc;
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-poller-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    so.dir = f->dir;
    so.sync = STORE_SYNC_NONE;
    assert_int_equal(store_open(&so, &f->st, err, sizeof err), 0);
    assert_int_equal(strm_new(f->st, "us-east-1", "000000000000", &f->s, &svc), 0);
    assert_int_equal(store_dbi_open(f->st, "lam.esm", 0, &f->esm), 0);
    assert_int_equal(store_dbi_open(f->st, "lam.esm_pos", 0, &f->esm_pos), 0);
    pthread_mutex_init(&f->fake.mu, NULL);
    pthread_cond_init(&f->fake.cv, NULL);
    run(f, 0, 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    strm_free(f->s);
    store_close(f->st);
    pthread_mutex_destroy(&f->fake.mu);
    pthread_cond_destroy(&f->fake.cv);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct lam__poller *start(struct fixture *f, unsigned batch, unsigned window,
                                 uint64_t checkpoint)
{
    struct lam__poller_env env;
    struct lam__poller_cfg cfg;
    memset(&env, 0, sizeof env);
    memset(&cfg, 0, sizeof cfg);
    env.st = f->st;
    env.streams = f->s;
    env.esm = f->esm;
    env.esm_pos = f->esm_pos;
    env.invoker.invoke = fake_invoke;
    env.invoker.ctx = &f->fake;
    snprintf(cfg.uuid, sizeof cfg.uuid, "%s", UUID);
    snprintf(cfg.stream_arn, sizeof cfg.stream_arn, "%s", ARN);
    snprintf(cfg.function, sizeof cfg.function, "arn:aws:lambda:us-east-1:000000000000:function:f");
    cfg.batch_size = batch;
    cfg.window_s = window;
    cfg.checkpoint = checkpoint;
    return lam__poller_start(&env, &cfg);
}

static uint64_t stored_checkpoint(struct fixture *f)
{
    MDB_txn *txn;
    MDB_val k = { strlen(UUID), UUID }, v;
    uint64_t seq = 0;
    assert_int_equal(store_read_begin(f->st, &txn), 0);
    if (mdb_get(txn, f->esm_pos, &k, &v) == 0 && v.mv_size == 8) {
        seq = lam__get_be64(v.mv_data);
    }
    store_read_end(f->st, txn);
    return seq;
}

/* Waits until the poller's committed checkpoint is want (or 10 s). */
static void wait_checkpoint(struct lam__poller *p, uint64_t want)
{
    for (int i = 0; i < 1000 && lam__poller_checkpoint(p) != want; i++) {
        usleep(10000);
    }
    assert_int_equal(lam__poller_checkpoint(p), want);
}

static void test_event_shape(void **state)
{
    json_t *recs = json_pack("[{s:s, s:s, s:{s:s}}]", "eventID", "e1", "eventName", "INSERT",
                             "dynamodb", "SequenceNumber", "000000000000000000001");
    json_t *ev = lam__ddb_event(recs, ARN);
    json_t *r0 = json_array_get(json_object_get(ev, "Records"), 0);
    (void)state;
    assert_int_equal(json_object_size(ev), 1);
    assert_string_equal(json_string_value(json_object_get(r0, "eventSourceARN")), ARN);
    assert_string_equal(json_string_value(json_object_get(r0, "eventName")), "INSERT");
    assert_non_null(json_object_get(r0, "dynamodb"));
    /* The records read from the stream are not changed. */
    assert_null(json_object_get(json_array_get(recs, 0), "eventSourceARN"));
    json_decref(ev);
    json_decref(recs);
}

static void test_batches_in_order(void **state)
{
    struct fixture *f = *state;
    struct lam__poller *p;
    uint64_t latest = 0;
    run(f, 1, 250);
    assert_int_equal(strm_latest_seq(f->s, ARN, &latest), 0);
    p = start(f, 100, 0, 0);
    assert_int_equal(wait_calls(&f->fake, 3), 3);
    wait_checkpoint(p, latest);
    assert_int_equal(f->fake.sizes[0], 100);
    assert_int_equal(f->fake.sizes[1], 100);
    assert_int_equal(f->fake.sizes[2], 50);
    assert_true(f->fake.first[1] > f->fake.last[0]);
    assert_true(f->fake.first[2] > f->fake.last[1]);
    assert_int_equal(f->fake.last[2], latest);
    assert_true(f->fake.arn_ok);
    assert_string_equal(lam__poller_result(p), "OK");
    lam__poller_stop(p);
    assert_int_equal(stored_checkpoint(f), latest);
    assert_int_equal(f->fake.calls, 3);
}

static void test_failed_batch_is_retried(void **state)
{
    struct fixture *f = *state;
    struct lam__poller *p;
    uint64_t latest = 0;
    f->fake.fail_first = 2;
    run(f, 1, 5);
    p = start(f, 100, 0, 0);
    assert_int_equal(wait_calls(&f->fake, 3), 3);
    assert_int_equal(strm_latest_seq(f->s, ARN, &latest), 0);
    wait_checkpoint(p, latest);
    /* Three calls with the very same batch: two failures, then the success. */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->fake.sizes[i], 5);
        assert_int_equal(f->fake.first[i], f->fake.first[0]);
        assert_int_equal(f->fake.last[i], latest);
    }
    /* Records that come later go in a batch of their own, after the retried one. */
    run(f, 1, 2);
    assert_int_equal(wait_calls(&f->fake, 4), 4);
    assert_int_equal(f->fake.sizes[3], 2);
    assert_true(f->fake.first[3] > latest);
    lam__poller_stop(p);
}

static void test_restart_resumes_from_checkpoint(void **state)
{
    struct fixture *f = *state;
    struct lam__poller *p;
    uint64_t first_end = 0, latest = 0;
    run(f, 1, 3);
    p = start(f, 100, 0, 0);
    assert_int_equal(wait_calls(&f->fake, 1), 1);
    assert_int_equal(strm_latest_seq(f->s, ARN, &first_end), 0);
    wait_checkpoint(p, first_end);
    lam__poller_stop(p);
    /* Records appended while no poller runs; a new one starts from what was committed. */
    run(f, 1, 4);
    assert_int_equal(strm_latest_seq(f->s, ARN, &latest), 0);
    p = start(f, 100, 0, stored_checkpoint(f));
    assert_int_equal(wait_calls(&f->fake, 2), 2);
    wait_checkpoint(p, latest);
    lam__poller_stop(p);
    assert_int_equal(f->fake.calls, 2);
    assert_int_equal(f->fake.sizes[1], 4);
    assert_true(f->fake.first[1] > first_end);
    assert_int_equal(stored_checkpoint(f), latest);
}

static void test_batching_window(void **state)
{
    struct fixture *f = *state;
    struct lam__poller *p = start(f, 1000, 2, 0);
    run(f, 1, 3);
    usleep(300000);
    run(f, 1, 2);
    assert_int_equal(wait_calls(&f->fake, 1), 1);
    /* One invocation of the five, made when the window closed. */
    usleep(200000);
    assert_int_equal(f->fake.calls, 1);
    assert_int_equal(f->fake.sizes[0], 5);
    lam__poller_stop(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_shape),
        cmocka_unit_test_setup_teardown(test_batches_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_resumes_from_checkpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batching_window, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
