/*
 * ddb_handlers.h: the harness the DynamoDB unit tests share: a store, streams and the
 * DynamoDB service in a temporary directory (setup()/teardown() for cmocka), fake requests
 * run through a handler and its continuation as the front door would (R29), with no socket,
 * the readers the tests check the store with (counters, index and expiry entries, the
 * invariant of an index), and race(), a request whose table is replaced while it waits for
 * the writer. Included by one test file each; everything here is static.
 */
#ifndef SL_TESTS_DDB_HANDLERS_H
#define SL_TESTS_DDB_HANDLERS_H

#include <errno.h>
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

/* ---- answers and the store, read back ---- */

/* The body (owned) of a request that must succeed. */
static inline json_t *answer_of(struct fixture *f, int (*handler)(struct http_req *),
                                const char *json)
{
    struct answer a;
    call(f, handler, json, &a);
    if (a.err != AWSERR_NONE) {
        fail_msg("%s: %s", json, a.msg);
    }
    return a.body;
}

/* GetItem with body json: the item (owned), or NULL when there is none. */
static inline json_t *get_item(struct fixture *f, const char *json)
{
    json_t *body = answer_of(f, ddb_get_item, json);
    json_t *item = json_incref(json_object_get(body, "Item"));
    json_decref(body);
    return item;
}

/* DescribeTable's Table (owned). */
static inline json_t *describe(struct fixture *f, const char *table)
{
    char body[128];
    json_t *out, *t;
    snprintf(body, sizeof body, "{\"TableName\":\"%s\"}", table);
    out = answer_of(f, ddb_describe_table, body);
    t = json_incref(json_object_get(out, "Table"));
    json_decref(out);
    return t;
}

/* A number of DescribeTable's Table: "ItemCount", "TableSizeBytes". */
static inline uint64_t described(struct fixture *f, const char *table, const char *field)
{
    json_t *t = describe(f, table);
    uint64_t n = (uint64_t)json_integer_value(json_object_get(t, field));
    json_decref(t);
    return n;
}

/* The items the counters of id hold (a table's or an index's id). */
static inline uint64_t count_of(struct fixture *f, uint32_t id)
{
    MDB_txn *txn;
    uint64_t items = 0, bytes = 0;
    assert_int_equal(store_read_begin(f->st, &txn), 0);
    assert_int_equal(ddb__counts_get(f->d, txn, id, &items, &bytes), 0);
    store_read_end(f->st, txn);
    return items;
}

/* The schema of table, read in a transaction that has ended by the time it returns: its ids
 * and numbers are the table's, its strings are not to be read; the stream's ARN is copied to
 * arn (n bytes) unless arn is NULL. */
static inline struct ddb_schema read_schema(struct fixture *f, const char *table, char *arn,
                                            size_t n)
{
    MDB_txn *txn;
    struct ddb_schema s;
    assert_int_equal(store_read_begin(f->st, &txn), 0);
    assert_int_equal(ddb__schema_get(f->d, txn, table, &s), 0);
    if (arn) {
        snprintf(arn, n, "%.*s", (int)s.stream_arn.len, s.stream_arn.p);
    }
    store_read_end(f->st, txn);
    return s;
}

static inline uint32_t table_id_of(struct fixture *f, const char *table)
{
    return read_schema(f, table, NULL, 0).id;
}

/* The items the counters of table hold. */
static inline uint64_t items_of(struct fixture *f, const char *table)
{
    return count_of(f, table_id_of(f, table));
}

/* A cursor over the keys of one database under an id's 4-byte prefix (a table's items, an
 * index's or an expiry index's entries):
 *     for (bool on = walk_first(&w, txn, dbi, id); on; on = walk_next(&w)) { w.k, w.v }
 *     walk_end(&w);  */
struct walk {
    MDB_cursor *c;
    unsigned char prefix[4];
    MDB_val k, v;
};

static inline bool walk_on(struct walk *w, int g)
{
    return g == 0 && w->k.mv_size >= 4 && memcmp(w->k.mv_data, w->prefix, 4) == 0;
}

static inline bool walk_first(struct walk *w, MDB_txn *txn, MDB_dbi dbi, uint32_t id)
{
    ddb__key_prefix(id, w->prefix);
    assert_int_equal(mdb_cursor_open(txn, dbi, &w->c), 0);
    w->k.mv_size = 4;
    w->k.mv_data = w->prefix;
    return walk_on(w, mdb_cursor_get(w->c, &w->k, &w->v, MDB_SET_RANGE));
}

static inline bool walk_next(struct walk *w)
{
    return walk_on(w, mdb_cursor_get(w->c, &w->k, &w->v, MDB_NEXT));
}

static inline void walk_end(struct walk *w)
{
    mdb_cursor_close(w->c);
}

/* The keys of dbi under id's 4-byte prefix. */
static inline size_t entries_under(struct fixture *f, MDB_dbi dbi, uint32_t id)
{
    MDB_txn *txn;
    struct walk w;
    size_t n = 0;

    assert_int_equal(store_read_begin(f->st, &txn), 0);
    for (bool on = walk_first(&w, txn, dbi, id); on; on = walk_next(&w)) {
        n++;
    }
    walk_end(&w);
    store_read_end(f->st, txn);
    return n;
}

/* Holds (paused) or lets go on the background ops (reclaiming, backfills, expiry indexes),
 * which queue no more while d->stopping is set. */
static inline void pause_background(struct fixture *f, bool paused)
{
    pthread_mutex_lock(&f->d->mu);
    f->d->stopping = paused;
    pthread_mutex_unlock(&f->d->mu);
}

/*
 * The invariant of an index: each item of table with the index's key attributes has its
 * entry, the projection of the item under its key, and the index holds nothing else; the
 * counters agree with the entries. An item without the key attributes is not in the index;
 * with other_types, neither is one whose key attribute has another type than the index's
 * (stored before the index was added). Returns the number of entries.
 */
static inline uint64_t check_index(struct fixture *f, const char *table, size_t which,
                                   bool other_types)
{
    struct ddb_schema s;
    struct ddb_keyspace ks;
    const struct ddb_index *ix;
    MDB_txn *txn;
    struct walk w;
    unsigned char full[DDB_FULLKEY_MAX];
    uint64_t entries = 0, bytes = 0, items_in = 0, n_items, n_bytes;
    struct buf proj;

    assert_int_equal(store_read_begin(f->st, &txn), 0);
    assert_int_equal(ddb__schema_get(f->d, txn, table, &s), 0);
    ix = &s.index[which];
    ddb__keyspace_of(&s, ix, &ks);
    buf_init(&proj, DDB_ITEM_ENC_MAX);
    /* Items -> entries. */
    for (bool on = walk_first(&w, txn, f->d->items, s.id); on; on = walk_next(&w)) {
        struct ddb_key_err kerr;
        struct ddb_key ek;
        size_t len;
        MDB_val ekv, eval;
        if (ddb__keyspace_key(&ks, w.v.mv_data, w.v.mv_size, full, &len, &kerr) < 0) {
            assert_true(kerr.why == DDB_KEY_MISSING ||
                        (other_types && kerr.why == DDB_KEY_TYPE));
            continue;
        }
        items_in++;
        ddb__key_store(full, len, &ek);
        ekv.mv_size = ek.len;
        ekv.mv_data = ek.b;
        assert_int_equal(mdb_get(txn, f->d->index, &ekv, &eval), 0);
        buf_reset(&proj);
        assert_int_equal(ddb__index_project(&s, ix, w.v.mv_data, w.v.mv_size, &proj), 0);
        assert_int_equal(eval.mv_size, proj.len);
        assert_memory_equal(eval.mv_data, proj.p, proj.len);
    }
    walk_end(&w);
    /* Entries: as many as items in the index, sized as the counters say. */
    for (bool on = walk_first(&w, txn, f->d->index, ix->id); on; on = walk_next(&w)) {
        struct ddb_item_view iv;
        assert_int_equal(ddb_item_open(w.v.mv_data, w.v.mv_size, &iv), 0);
        entries++;
        bytes += iv.size + DDB_INDEX_ENTRY_OVERHEAD;
    }
    walk_end(&w);
    assert_int_equal(ddb__counts_get(f->d, txn, ix->id, &n_items, &n_bytes), 0);
    store_read_end(f->st, txn);
    buf_release(&proj);
    assert_int_equal(entries, items_in);
    assert_int_equal(n_items, entries);
    assert_int_equal(n_bytes, bytes);
    return entries;
}

/* ---- a request racing with its table being replaced ---- */

/* An op that holds the writer until it is opened, then (when it names a table) deletes the
 * table and creates it again under a new id (its indexes too), in the same group as the ops
 * queued behind it. */
struct gate {
    struct store_op base;
    struct fixture *f;
    const char *table;  /* NULL: the gate only holds the writer */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered;       /* the writer is in the gate */
    bool open;
};

static inline int gate_apply(struct store_op *op, MDB_txn *txn)
{
    struct gate *g = (struct gate *)op;
    struct ddb *d = g->f->d;
    struct ddb_schema s;
    json_t *entry;
    uint32_t id;
    int rc;

    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    if (!g->table) {
        return 0;
    }
    entry = ddb__catalog_get(d, txn, g->table);
    if (!entry) {
        return -ENOENT;     /* no cmocka asserts on the writer thread */
    }
    rc = ddb__schema_get(d, txn, g->table, &s);
    if (rc == 0) {
        rc = ddb__catalog_del(d, txn, g->table, &s);
    }
    if (rc == 0) {
        rc = ddb__table_id_new(d, txn, &id);
    }
    if (rc == 0) {
        rc = ddb__index_ids_assign(d, txn, entry, true);
    }
    if (rc == 0) {
        rc = ddb__catalog_put(d, txn, g->table, entry, id);
    }
    json_decref(entry);
    return rc;
}

/* Queues gate g (replacing table when it opens; NULL: holding only) and returns once the
 * writer is in it. */
static inline void gate_enter(struct fixture *f, struct gate *g, const char *table)
{
    memset(g, 0, sizeof *g);
    g->base.apply = gate_apply;
    g->f = f;
    g->table = table;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    assert_int_equal(store_submit(f->st, &g->base), 0);
    pthread_mutex_lock(&g->mu);
    while (!g->entered) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
}

static inline void gate_open(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_signal(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Once the gate's group has committed (a request queued behind it has been answered). */
static inline void gate_release(struct gate *g)
{
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

/* A request for race(): handler and body in, its answer out (a.body owned). */
struct race_req {
    int (*handler)(struct http_req *);
    const char *body;
    struct fixture *f;      /* set by race() */
    struct answer a;
};

static inline void *race_main(void *arg)
{
    struct race_req *p = arg;
    call(p->f, p->handler, p->body, &p->a);
    return NULL;
}

/* Runs p's request on a thread of its own while a gate holds the writer; once the request
 * has read table's id and queued behind the gate, the gate replaces table. Returns how many
 * ops failed meanwhile (the request's first run, which finds its table replaced). */
static inline uint64_t race(struct fixture *f, const char *table, struct race_req *p)
{
    struct gate g;
    struct store_stats before, after;
    pthread_t t;

    gate_enter(f, &g, table);
    store_get_stats(f->st, &before);
    /* The request reads the old table's id and queues behind the gate. */
    p->f = f;
    assert_int_equal(pthread_create(&t, NULL, race_main, p), 0);
    wait_queued_past(f->st, before.queue_depth);
    gate_open(&g);
    pthread_join(t, NULL);
    store_get_stats(f->st, &after);
    gate_release(&g);
    return after.ops_failed - before.ops_failed;
}

#endif
