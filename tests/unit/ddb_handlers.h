/*
 * ddb_handlers.h: the harness the DynamoDB unit tests share: a store, streams and the
 * DynamoDB service in a temporary directory (setup()/teardown() for cmocka), and fake
 * requests run through a handler and its continuation as the front door would (R29), with
 * no socket. Included by one test file each; everything here is static.
 */
#ifndef SL_TESTS_DDB_HANDLERS_H
#define SL_TESTS_DDB_HANDLERS_H

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/store.h"
#include "dynamodb/ddb_int.h"
#include "streams/streams.h"

struct fixture {
    char dir[64];
    struct store *st;
    struct strm *s;
    struct ddb *d;
    struct http_service *svc;
};

static inline int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    struct store_options so = { 0 };
    struct http_service *ssvc;
    char err[256];

    snprintf(f->dir, sizeof f->dir, "/tmp/sluice-ddb-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    so.dir = f->dir;
    so.sync = STORE_SYNC_NONE;
    assert_int_equal(store_open(&so, &f->st, err, sizeof err), 0);
    assert_int_equal(strm_new(f->st, "us-east-1", "000000000000", &f->s, &ssvc), 0);
    assert_int_equal(ddb_new(f->st, f->s, "us-east-1", "000000000000", &f->d, &f->svc), 0);
    *state = f;
    return 0;
}

static inline int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];
    ddb_free(f->d);
    strm_free(f->s);
    store_close(f->st);
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static inline void nap(void)
{
    struct timespec ts = { 0, 200 * 1000 };
    nanosleep(&ts, NULL);
}

/* Waits until the writer's queue holds more ops than `depth` (what it held before a request
 * was started on another thread), then 100 ms more: a background op (a kicked reclaim or
 * backfill) may be what grew the queue, and the request needs only moments to queue too. */
static inline void wait_queued_past(struct store *st, uint64_t depth)
{
    for (;;) {
        struct store_stats s;
        store_get_stats(st, &s);
        if (s.queue_depth > depth) {
            break;
        }
        nap();
    }
    for (int i = 0; i < 500; i++) {
        nap();
    }
}

/* ---- fake requests ---- */

struct answer {
    enum awserr err;
    char msg[1100];
    json_t *body;       /* owned */
};

/* Runs handler on a request with body json (as the front door would, continuation included)
 * and returns what it answered. */
static inline void call(struct fixture *f, int (*handler)(struct http_req *), const char *json,
                 struct answer *out)
{
    struct http_req r;
    json_error_t jerr;
    int rc;

    memset(&r, 0, sizeof r);
    memset(out, 0, sizeof *out);
    r.magic = HTTP_REQ_MAGIC;
    arena_init(&r.arena);
    pthread_mutex_init(&r.lock, NULL);
    r.svc = f->svc;
    r.resp_fd = -1;
    r.json = json_loads(json, 0, &jerr);
    assert_non_null(r.json);
    r.state = HTTP_REQ_READY;
    rc = handler(&r);
    while (rc == 0 && r.state == HTTP_REQ_WAITING) {
        bool resumed = false;
        while (!resumed) {
            pthread_mutex_lock(&r.lock);
            resumed = r.resume_requested;
            pthread_mutex_unlock(&r.lock);
            if (!resumed) {
                nap();
            }
        }
        r.state = HTTP_REQ_READY_AGAIN;
        rc = r.cont(&r);
    }
    out->err = r.err;
    if (r.err_msg) {
        snprintf(out->msg, sizeof out->msg, "%s", r.err_msg);
    }
    if (r.err == AWSERR_NONE) {
        out->body = json_loadb(r.resp_body, r.resp_len, 0, &jerr);
        assert_non_null(out->body);
    }
    json_decref(r.json);
    arena_clear(&r.arena);
    pthread_mutex_destroy(&r.lock);
}

/* An item or Key map (JSON text) encoded into a's memory; *size (may be NULL) is DynamoDB's
 * size of it. */
static inline const char *encode_json(struct arena *a, const char *json, size_t *len,
                                      uint32_t *size)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    struct buf b;
    struct ddb_err err;
    size_t sz;
    const char *out;

    assert_non_null(j);
    buf_init(&b, DDB_ITEM_ENC_MAX);
    assert_int_equal(ddb_item_encode(j, a, &b, &sz, &err), 0);
    json_decref(j);
    out = arena_strndup(a, b.p, b.len);
    *len = b.len;
    if (size) {
        *size = (uint32_t)sz;
    }
    buf_release(&b);
    return out;
}

static inline void ok(struct fixture *f, int (*handler)(struct http_req *), const char *json)
{
    struct answer a;
    call(f, handler, json, &a);
    if (a.err != AWSERR_NONE) {
        fail_msg("%s: %s", json, a.msg);
    }
    json_decref(a.body);
}

static inline void fails(struct fixture *f, int (*handler)(struct http_req *), const char *json,
                  enum awserr e, const char *msg)
{
    struct answer a;
    call(f, handler, json, &a);
    if (a.err != e || strcmp(a.msg, msg) != 0) {
        fail_msg("%s: got %d '%s', want %d '%s'", json, a.err, a.msg, e, msg);
    }
}

#endif
