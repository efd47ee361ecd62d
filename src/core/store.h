/*
 * store.h: the durable store, one LMDB environment and the writer thread.
 *
 * What it is: every mutation of durable state is a struct store_op queued to one writer
 * thread. The writer drains the queue, runs each op's apply() in its own nested transaction
 * inside one outer write transaction (a group), commits the group once (one fsync with
 * --sync full), and only then calls each op's done() with the op's result. An op whose apply()
 * fails has its nested transaction aborted: it leaves no trace while the rest of its group
 * commits (R15). Readers use read-only transactions (MVCC snapshots) on any thread.
 *
 * What it is not: it knows nothing of tables, buckets or functions. Services own their named
 * databases (opened with store_dbi_open_many() at start-up) and their key and value formats
 * (docs/formats.md).
 *
 * Invariants:
 *  - only the writer thread ever holds a write transaction (R22);
 *  - done() runs exactly once for every op that store_submit() accepted (R16), after the
 *    group's commit has reached the disk (with --sync full), or with the error that prevented
 *    it; store_submit() that returns an error never calls done();
 *  - the data directory is locked (an fcntl lock on <data-dir>/sluice.lock) for as long as the
 *    store is open, so a second sluice on it fails cleanly instead of corrupting it;
 *  - every read transaction ends (store_read_end()) before store_close() is called.
 *
 * Lifecycle: store_open() -> OPEN (ops accepted) -> store_shutdown() -> SHUT (queue drained
 * and committed, writer stopped, store_submit() returns STORE_CLOSED, reads still work) ->
 * store_close() -> freed. store_close() on an OPEN store shuts it down first.
 *
 * Files and commit semantics: docs/formats.md, "The store".
 */
#ifndef SL_CORE_STORE_H
#define SL_CORE_STORE_H

#include <assert.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Module error codes, below LMDB's range (-30800 .. -30780) and the errno range (R12). */
#define STORE_LOCKED (-31001)   /* the data directory is in use by another sluice process */
#define STORE_CLOSED (-31002)   /* the store is shutting down; the op was not accepted */
#define STORE_ABORTED (-31003)  /* an apply() asked for its nested txn to be rolled back */

enum store_sync {
    STORE_SYNC_FULL = 0,  /* fsync every group commit: an acknowledged write survives a crash */
    STORE_SYNC_NONE = 1,  /* no fsync: for throwaway data (MDB_NOSYNC) */
};

struct store;

struct store_options {
    const char *dir;           /* data directory; created (0700) if missing */
    enum store_sync sync;
    size_t map_size;           /* initial LMDB map size in bytes; 0 picks the default (64 GiB).
                                  The file is sparse: only written pages take disk space. */
    size_t map_max;            /* the writer doubles the map when it fills, up to this size;
                                  0 picks the default (1 TiB); less than map_size means no
                                  growth (ops then fail with MDB_MAP_FULL) */
    unsigned max_dbs;          /* named databases; 0 picks the default (128) */
    unsigned max_readers;      /* concurrent read transactions (one is cached per reading
                                  thread); 0 picks the default (1024) */
    bool defer_first_sync;     /* with STORE_SYNC_FULL on a data directory without a store
                                  yet: the commits of start-up (named databases being created)
                                  are not synced one by one but once, by store_ready(), which
                                  must then be called before anything is acknowledged */
};

struct store_op;

struct store__waiter;

/*
 * apply: runs on the writer thread inside txn, a nested transaction of the group. Returns 0 to
 *   keep its changes, or a negative code to have them rolled back (its own client error codes
 *   included). It must not block and must not touch other ops. It may run more than once: when
 *   the map fills, the writer aborts the whole group, grows the map and runs the group again,
 *   so apply() must have no effect outside txn except on its own op's fields, which it sets
 *   afresh on each run. An apply() that gets MDB_MAP_FULL from LMDB returns it unchanged so
 *   that the writer can tell.
 * done: runs on the writer thread after the group committed (rc == apply's result), or failed
 *   to commit (rc < 0, e.g. -ENOSPC, MDB_MAP_FULL: every op of the group whose apply()
 *   succeeded gets it). It must be quick: typically it records rc and wakes the request
 *   (http_req_resume()). It may free op. NULL means nothing to call.
 */
struct store_op {
    struct store_op *next;  /* queue link, owned by the store while queued (E5) */
    int (*apply)(struct store_op *op, MDB_txn *txn);
    void (*done)(struct store_op *op, int rc);
    int rc;                 /* set by the store before done() */
    struct store__waiter *waiter;   /* private to the store (store_submit_wait()) */
};

/*
 * Opens (creating if needed) <dir>/sluice.mdb, takes the directory lock and starts the writer.
 * opt is borrowed for the call; opt->dir is copied. On error returns a negative code
 * (-errno, an LMDB code, or STORE_LOCKED) and a sentence for the operator in err, e.g.
 * "data directory ./data is in use by another sluice (pid 1234)" or
 * "cannot open data directory ./data: Permission denied". *out is set only on success; the
 * store is owned by the caller and freed by store_close(). err may be NULL when errlen is 0.
 * Thread: main, at start-up.
 */
int store_open(const struct store_options *opt, struct store **out, char *err, size_t errlen);

/*
 * Stops accepting ops (store_submit() returns STORE_CLOSED from now on), lets the writer drain
 * and commit what was queued (each done() runs with its real result), and joins the writer.
 * Read transactions keep working until store_close(). Calling it again does nothing.
 * Thread: any but the writer (main, at shutdown, before background workers are stopped).
 */
void store_shutdown(struct store *st);

/*
 * Shuts down (if not done yet), aborts the cached read transactions, closes LMDB, releases the
 * lock and frees st. Every read transaction must have ended, and no thread may use st after.
 * store_close(NULL) does nothing. Thread: main, after the HTTP front door and the background
 * workers stopped.
 */
void store_close(struct store *st);

/*
 * Opens (creating) a named database. name (borrowed for the call, not NULL) is the database's
 * name; flags are mdb_dbi_open flags (MDB_CREATE is added). Runs through the writer and waits
 * for it; a name opened before with the same flags is answered from a table without a trip to
 * the writer. The handle is valid for every transaction begun after the call returned, until
 * store_close(). Returns 0, STORE_CLOSED, or an LMDB code (MDB_DBS_FULL, MDB_INCOMPATIBLE).
 * Thread: any but the writer or an HTTP thread, at start-up.
 */
int store_dbi_open(struct store *st, const char *name, unsigned flags, MDB_dbi *dbi);

/* One named database of store_dbi_open_many(). */
struct store_dbi_req {
    const char *name;       /* in: the database's name, borrowed for the call, not NULL */
    unsigned flags;         /* in: mdb_dbi_open flags (MDB_CREATE is added) */
    MDB_dbi *dbi;           /* in: where the handle goes (set only when rc is 0), not NULL */
    int rc;                 /* out: 0, STORE_CLOSED, or an LMDB code for this name */
};

/*
 * Opens (creating) n named databases with one trip to the writer: every name not answered
 * from the table (see store_dbi_open()) is opened in one op, hence in one group commit, each
 * in its own nested transaction, so a name that fails (MDB_DBS_FULL, MDB_INCOMPATIBLE) does
 * not keep the others from being opened. reqs is borrowed for the call; each request gets its
 * own rc and, when that is 0, its handle, valid for every transaction begun after the call
 * returned, until store_close(). Returns 0 when every name opened, else the first failing
 * request's rc (in array order). n may be 0. A name may appear twice (it gets one handle).
 * Thread: any but the writer or an HTTP thread, at start-up.
 */
int store_dbi_open_many(struct store *st, struct store_dbi_req *reqs, size_t n);

/*
 * Ends start-up: a store opened with defer_first_sync on a new data directory syncs what it
 * committed so far (one fsync instead of one per named database) and syncs every commit from
 * then on. Does nothing otherwise. Returns 0 or a negative code (the sync failed: the server
 * must not start). Thread: main, after the last store_dbi_open() of start-up, before
 * listening.
 */
int store_ready(struct store *st);

/*
 * Queues op for the writer. Returns 0 (done() will run exactly once) or STORE_CLOSED (done()
 * never runs). op is borrowed until done() returns. Thread: any, the writer included (an op
 * queued from the writer runs in a later group).
 */
int store_submit(struct store *st, struct store_op *op);

/*
 * Queues op and blocks until its done() has run; returns op->rc, or STORE_CLOSED if the op
 * was not accepted. For background workers, start-up and tests; never call it on the writer
 * thread (asserted: it would wait for itself) or an HTTP thread. op->done may be NULL.
 */
int store_submit_wait(struct store *st, struct store_op *op);

/*
 * A read-only transaction for the calling thread: the thread's cached, reset transaction is
 * renewed (mdb_txn_renew) rather than a new one begun. *txn is owned by the store and valid
 * until store_read_end(st, *txn), which must be called on the same thread; data read through
 * it is valid until then. A thread may nest a second read (it gets an uncached transaction).
 * While a read is open the map cannot grow, so do not hold one while waiting for the writer.
 * Returns 0 or an LMDB code (MDB_READERS_FULL). Thread: any but the writer (asserted).
 */
int store_read_begin(struct store *st, MDB_txn **txn);
void store_read_end(struct store *st, MDB_txn *txn);

/*
 * True on the writer thread. store_assert_writer() is for apply() helpers that must only run
 * on the writer (R22); it compiles to nothing with NDEBUG. Thread: any.
 */
bool store_on_writer(const struct store *st);
#define store_assert_writer(st) assert(store_on_writer(st))

/* Figures for /metrics and the health check. Thread: any. */
struct store_stats {
    uint64_t groups;            /* group commits so far */
    uint64_t ops;               /* ops applied so far */
    uint64_t ops_failed;        /* ops whose apply() failed or whose group failed to commit */
    uint64_t batch_hist[8];     /* groups by size: 1, 2-3, 4-7, 8-15, 16-31, 32-63, 64-127, 128+ */
    uint64_t commit_ns_total;   /* time spent in mdb_txn_commit (incl. fsync) */
    uint64_t map_used_bytes;    /* (last page used + 1) * page size */
    uint64_t map_size_bytes;    /* current map size (it grows when it fills) */
    uint64_t map_grows;         /* times the writer grew the map */
    uint64_t file_bytes;        /* size of sluice.mdb */
    uint64_t queue_depth;       /* ops waiting now */
    uint64_t readers_cached;    /* cached read transactions (at most one per reading thread) */
    bool sync_deferred;         /* a new store's start-up commits, not yet synced (store_ready) */
};
void store_get_stats(struct store *st, struct store_stats *out);

/* The directory the store was opened on (borrowed, valid until store_close()). */
const char *store_dir(const struct store *st);

/* Returns a static string for a store, LMDB or errno code. */
const char *store_strerror(int rc);

#endif
