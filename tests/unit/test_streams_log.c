/*
 * test_streams_log.c: the change log (src/streams/log.c): records commit with their op or not
 * at all, sequence numbers increase in commit order, reads page, waits wake on commits, and a
 * disabled stream closes its shard.
 */
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
#include "streams/streams.h"

#define ARN "arn:aws:dynamodb:us-east-1:000000000000:table/T/stream/2026-01-01T00:00:00.000"

struct fixture {
    char dir[64];
    struct store *st;
    struct strm *s;
};

struct op {
    struct store_op base;
    struct strm *s;
    int kind;      /* 0 create, 1 append, 2 append then fail, 3 disable */
    int n;
};

static int apply(struct store_op *o, MDB_txn *txn)
{
    struct op *op = (struct op *)o;
    if (op->kind == 0) {
        json_t *ks = json_pack("[{s:s, s:s}]", "AttributeName", "pk", "KeyType", "HASH");
        int rc = strm_create(op->s, txn, "T", "arn:aws:dynamodb:us-east-1:000000000000:table/T",
                             "2026-01-01T00:00:00.000", "KEYS_ONLY", ks);
        json_decref(ks);
        return rc;
    }
    if (op->kind == 3) {
        return strm_disable(op->s, txn, ARN);
    }
    for (int i = 0; i < op->n; i++) {
        json_t *d = json_pack("{s:{s:{s:s}}}", "Keys", "pk", "S", "k");
        int rc = strm_append(op->s, txn, ARN, "INSERT", d, NULL);
        json_decref(d);
        if (rc) {
            return rc;
        }
    }
    return op->kind == 2 ? -EINVAL : 0;
}

static int run(struct fixture *f, int kind, int n)
{
    struct op op;
    memset(&op, 0, sizeof op);
    op.base.apply = apply;
    op.s = f->s;
    op.kind = kind;
    op.n = n;
    return store_submit_wait(f->st, &op.base);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct store_options so = { 0 };
    struct http_service *svc;
    char err[256];
    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-strm-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    so.dir = f->dir;
    so.sync = STORE_SYNC_NONE;
    assert_int_equal(store_open(&so, &f->st, err, sizeof err), 0);
    assert_int_equal(strm_new(f->st, "us-east-1", "000000000000", &f->s, &svc), 0);
    assert_int_equal(run(f, 0, 0), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    strm_free(f->s);
    store_close(f->st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void test_append_read_order(void **state)
{
    struct fixture *f = *state;
    json_t *out = json_array();
    uint64_t last = 0, prev = 0;
    bool closed;
    size_t i;
    json_t *rec;

    assert_int_equal(run(f, 1, 3), 0);
    assert_int_equal(run(f, 2, 5), -EINVAL); /* rolled back: no trace */
    assert_int_equal(run(f, 1, 2), 0);
    assert_int_equal(strm_read(f->s, ARN, 0, 100, out, &last, &closed), 0);
    assert_int_equal(json_array_size(out), 5);
    assert_false(closed);
    json_array_foreach(out, i, rec)
    {
        const char *seq = json_string_value(
            json_object_get(json_object_get(rec, "dynamodb"), "SequenceNumber"));
        uint64_t v = strtoull(seq, NULL, 10);
        assert_int_equal(strlen(seq), 21);
        assert_true(v > prev);
        prev = v;
        assert_string_equal(json_string_value(json_object_get(rec, "eventName")), "INSERT");
        assert_string_equal(json_string_value(json_object_get(
                                json_object_get(rec, "dynamodb"), "StreamViewType")),
                            "KEYS_ONLY");
    }
    assert_int_equal(last, prev);
    /* Paging: two at a time from the start. */
    json_array_clear(out);
    last = 0;
    assert_int_equal(strm_read(f->s, ARN, 0, 2, out, &last, &closed), 0);
    assert_int_equal(json_array_size(out), 2);
    assert_int_equal(strm_read(f->s, ARN, last, 2, out, &last, &closed), 0);
    assert_int_equal(strm_read(f->s, ARN, last, 2, out, &last, &closed), 0);
    assert_int_equal(json_array_size(out), 5);
    {
        uint64_t latest;
        assert_int_equal(strm_latest_seq(f->s, ARN, &latest), 0);
        assert_int_equal(latest, prev);
    }
    assert_int_equal(strm_read(f->s, ARN "x", 0, 2, out, &last, &closed), -ENOENT);
    json_decref(out);
}

struct waiter {
    struct fixture *f;
    uint64_t after;
    int rc;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    w->rc = strm_wait(w->f->s, ARN, w->after, 5000);
    return NULL;
}

static void test_wait_wakes_on_commit(void **state)
{
    struct fixture *f = *state;
    struct waiter w = { f, 0, 1 };
    pthread_t t;
    assert_int_equal(strm_latest_seq(f->s, ARN, &w.after), 0);
    assert_int_equal(strm_wait(f->s, ARN, w.after, 50), -ETIMEDOUT);
    assert_int_equal(pthread_create(&t, NULL, wait_main, &w), 0);
    nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
    assert_int_equal(run(f, 1, 1), 0);
    strm_notify(f->s);
    pthread_join(t, NULL);
    assert_int_equal(w.rc, 0);
}

static void test_disable_closes_shard(void **state)
{
    struct fixture *f = *state;
    json_t *out = json_array();
    uint64_t last = 0;
    bool closed;
    assert_int_equal(run(f, 1, 2), 0);
    assert_int_equal(run(f, 3, 0), 0);
    assert_int_equal(run(f, 1, 1), -ENOENT); /* no appends to a disabled stream */
    assert_int_equal(strm_read(f->s, ARN, 0, 1, out, &last, &closed), 0);
    assert_false(closed);
    assert_int_equal(strm_read(f->s, ARN, last, 100, out, &last, &closed), 0);
    assert_true(closed);
    assert_int_equal(json_array_size(out), 2);
    json_decref(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_read_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_wakes_on_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disable_closes_shard, setup, teardown),
    };
    return cmocka_run_group_tests_name("streams_log", tests, NULL, NULL);
}
