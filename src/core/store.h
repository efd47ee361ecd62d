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
 * databases (opened with store_dbi_open() at start-up) and their key and value formats
 * (docs/formats.md).
 *
 * Invariants:
 *  - only the writer thread ever holds a write transaction (R22);
 *  - done() runs exactly once for every op that store_submit() accepted (R16), after the
 *    group's commit has reached the disk (with --sync full), or with the error that prevented
 *    it; store_submit() that returns an error never calls done();
 *  - the data directory is locked (an fcntl lock on <data-dir>/sluice.lock) for as long as the
 *    store is open, so a second sluice on it fails cleanly instead of corrupting it.
 */
#ifndef SL_CORE_STORE_H
#define SL_CORE_STORE_H

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
    size_t map_size;           /* LMDB map size in bytes; 0 picks the default (64 GiB) */
    unsigned max_dbs;          /* named databases; 0 picks the default (128) */
};

struct store_op;

/*
 * apply: runs on the writer thread inside txn, a nested transaction of the group. Returns 0 to
 *   keep its changes, or a negative code to have them rolled back (its own client error codes
 *   included). It must not block and must not touch other ops.
 * done: runs on the writer thread after the group committed (rc == apply's result), or failed
 *   to commit (rc < 0, e.g. -ENOSPC, MDB_MAP_FULL: every op of the group gets it). It must be
 *   quick: typically it records rc and wakes the request (http_req_resume()).
 */
struct store_op {
    struct store_op *next;  /* queue link, owned by the store while queued (E5) */
    int (*apply)(struct store_op *op, MDB_txn *txn);
    void (*done)(struct store_op *op, int rc);
    int rc;                 /* set by the store before done() */
};

/*
 * Opens (creating if needed) <dir>/sluice.mdb, takes the directory lock and starts the writer.
 * On error returns a negative code and a sentence for the operator in err (e.g.
 * "data directory ./data is locked by another sluice (pid 1234)",
 * "cannot create ./data: Permission denied"). *out is set only on success.
 * Thread: main, at start-up.
 */
int store_open(const struct store_options *opt, struct store **out, char *err, size_t errlen);

/*
 * Stops accepting ops, drains and commits the queue, stops the writer, closes LMDB, releases
 * the lock. store_close(NULL) does nothing. Thread: main, after the HTTP front door stopped.
 */
void store_close(struct store *st);

/*
 * Opens (creating) a named database. flags are mdb_dbi_open flags (MDB_CREATE is added).
 * Runs through the writer and waits for it. Thread: any, at start-up, before readers use dbi.
 */
int store_dbi_open(struct store *st, const char *name, unsigned flags, MDB_dbi *dbi);

/*
 * Queues op for the writer. Returns 0 (done() will run exactly once) or STORE_CLOSED.
 * op is borrowed until done() returns. Thread: any.
 */
int store_submit(struct store *st, struct store_op *op);

/*
 * Queues op and blocks until its done() has run; returns op->rc. For background workers,
 * start-up and tests; never call it on the writer thread or an HTTP thread.
 * op->done may be NULL.
 */
int store_submit_wait(struct store *st, struct store_op *op);

/*
 * A read-only transaction for the calling thread: a reset transaction of the thread is
 * renewed (mdb_txn_renew) rather than a new one begun. Pair every store_read_begin() with
 * store_read_end() on the same thread. Returns 0 or a negative code.
 */
int store_read_begin(struct store *st, MDB_txn **txn);
void store_read_end(struct store *st, MDB_txn *txn);

/* Figures for /metrics and the health check. Thread: any. */
struct store_stats {
    uint64_t groups;            /* group commits so far */
    uint64_t ops;               /* ops applied so far */
    uint64_t ops_failed;        /* ops whose apply() failed or whose group failed to commit */
    uint64_t batch_hist[8];     /* groups by size: 1, 2-3, 4-7, 8-15, 16-31, 32-63, 64-127, 128+ */
    uint64_t commit_ns_total;   /* time spent in mdb_txn_commit (incl. fsync) */
    uint64_t map_used_bytes;    /* last page used * page size */
    uint64_t file_bytes;        /* size of sluice.mdb */
    uint64_t queue_depth;       /* ops waiting now */
};
void store_get_stats(struct store *st, struct store_stats *out);

/* The directory the store was opened on (borrowed, valid until store_close()). */
const char *store_dir(const struct store *st);

/* Returns a static string for a store, LMDB or errno code. */
const char *store_strerror(int rc);

#endif
