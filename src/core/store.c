/*
 * store.c: the durable store: one LMDB environment, the directory lock, the writer thread and
 * the per-thread read transactions. The contracts are in store.h; the files it keeps in the
 * data directory are described in docs/formats.md, "The store".
 *
 * What it is not: it has no idea what the keys and values mean, and it never retries an op on
 * its own account except after growing the map (apply() is written to allow that, store.h).
 *
 * DESIGN
 *
 * The writer. store_submit() appends an op to a mutex-protected singly linked queue (the link
 * lives in the op, so queueing allocates nothing) and signals the writer when the queue was
 * empty. The writer takes every queued op (at most STORE__GROUP_MAX: a burst larger than that
 * is split so that one commit never grows without bound), begins one outer write transaction,
 * runs each op's apply() in a nested transaction of it, commits or aborts that nested
 * transaction by apply()'s result, and then commits the outer transaction once: with
 * --sync full that is one fsync for the whole group, which is what makes a durable write cost
 * a fraction of an fsync under load. Only after that commit returned does it call each op's
 * done(), in queue order. A failed outer commit (ENOSPC, EIO) is given to every op of the
 * group whose apply() had succeeded, since none of their changes reached the disk.
 *
 * Growing the map. mdb_env_set_mapsize() unmaps and remaps the file, so no transaction of this
 * process may be open while it runs: not the writer's (it aborts the group first) and not any
 * reader's (their pointers point into the old mapping). Readers therefore hold map_lock shared
 * from their thread's outermost store_read_begin() to the matching store_read_end() (a nested
 * read does not take it again), and the writer takes it exclusive, with a timeout, to grow.
 * The lock prefers the writer: with glibc's default, which prefers readers, a few threads
 * reading in a loop kept the writer out for good (the unit test saw it). The timeout turns a
 * thread that waits for the writer while holding a read (a deadlock otherwise) into
 * MDB_MAP_FULL for that group. After growing, the writer runs the same group again.
 *
 * Read transactions. Each thread caches one reset read-only transaction per open store, in a
 * _Thread_local slot keyed by the store's generation (a number never reused, so a slot that
 * names a closed store is recognised without touching freed memory). store_read_begin()
 * renews it (MDB_NOTLS lets a transaction be renewed and finally aborted on any thread). Every
 * cached transaction is also on the store's reader list, so store_close() can abort them all;
 * when a thread exits, a pthread key destructor hands its readers back to their stores (if
 * still open) to be adopted by the next new thread, so thread churn does not use up LMDB's
 * reader table.
 *
 * States of the writer (store->closing under store->mu, writer_running):
 *
 *     store_open() --> RUNNING --store_shutdown()--> DRAINING --queue empty--> STOPPED (joined)
 *
 * Locks, in the order they may be taken: store__reg_mu (process registry) -> st->rmu (reader
 * list); st->mu (queue), st->dmu (dbi table), map_lock and a waiter's mutex are never held
 * together with another of these except map_lock (held by readers around everything).
 *
 * Invariants: only the writer thread begins write transactions (R22, asserted); an op is on the
 * queue or in the writer's current group, never both; done() runs once per accepted op.
 */
#define _GNU_SOURCE     /* pthread_rwlockattr_setkind_np(): a writer-preferring map_lock */
#include "core/store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

#define STORE__GROUP_MAX 1024                           /* ops per group commit, at most */
#define STORE__MAP_DEFAULT ((size_t)64 << 30)           /* 64 GiB, sparse */
#define STORE__MAP_MAX_DEFAULT ((size_t)1 << 40)        /* 1 TiB */
#define STORE__MAX_DBS_DEFAULT 128
#define STORE__MAX_READERS_DEFAULT 1024
#define STORE__GROW_WAIT_MS 2000                        /* how long growing waits for readers */
#define STORE__TL_SLOTS 4                               /* stores a thread reads at once */

/* A cached read transaction. txn is reset when the owning thread is not reading. */
struct store__reader {
    struct store__reader *next;     /* st->readers, under st->rmu */
    MDB_txn *txn;
    bool owned;                     /* held by a thread's slot; under st->rmu */
    bool busy;                      /* renewed; touched only by the owning thread */
};

/* A thread's cached reader for one store, named by the store's generation. */
struct store__tl_slot {
    uint64_t gen;
    struct store__reader *r;
    unsigned depth;                 /* reads open on this thread; map_lock held while > 0 */
};

struct store__dbi {
    char *name;
    unsigned flags;
    MDB_dbi dbi;
};

struct store__waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool fired;
};

/* One store_dbi_open_many(): the names the table did not answer, reqs[pending[0..n)]. */
struct store__dbi_op {
    struct store_op base;           /* first member: the writer hands back &base */
    struct store_dbi_req *reqs;     /* the caller's, borrowed for the op */
    size_t *pending;                /* indexes into reqs of the names to open */
    MDB_dbi *dbis;                  /* their handles, set by apply() */
    size_t n;
};

struct store {
    char *dir;
    char *mdb_path;
    int lock_fd;
    dev_t dir_dev;
    ino_t dir_ino;
    uint64_t gen;                   /* never reused in this process */
    pid_t pid;                      /* the process that opened it (a fork() child is not it) */
    struct store *reg_next;         /* store__reg, under store__reg_mu */
    bool registered;
    MDB_env *env;
    size_t map_max;
    bool deferred_sync;             /* opened MDB_NOSYNC until store_ready() (defer_first_sync) */

    /* The queue and the writer. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_op *head;
    struct store_op *tail;
    size_t qlen;
    bool closing;
    bool writer_started;
    pthread_t writer;
    atomic_bool writer_running;

    /* Held shared by readers, exclusive by the writer while it remaps (see DESIGN). */
    pthread_rwlock_t map_lock;

    pthread_mutex_t rmu;
    struct store__reader *readers;

    pthread_mutex_t dmu;
    struct store__dbi *dbis;
    unsigned ndbis;
    unsigned max_dbs;

    /* Written by the writer only; read by store_get_stats() on any thread. */
    _Atomic uint64_t st_groups;
    _Atomic uint64_t st_ops;
    _Atomic uint64_t st_failed;
    _Atomic uint64_t st_hist[8];
    _Atomic uint64_t st_commit_ns;
    _Atomic uint64_t st_grows;
    _Atomic uint64_t st_queue;

    /* Rate limit of the writer's error lines (writer thread only). */
    int last_logged_rc;
    time_t last_logged_at;
};

static pthread_mutex_t store__reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct store *store__reg;
static uint64_t store__next_gen = 1;
static pthread_once_t store__key_once = PTHREAD_ONCE_INIT;
static pthread_key_t store__key;
static bool store__key_ok;

static _Thread_local struct store__tl_slot store__tl[STORE__TL_SLOTS];
static _Thread_local bool store__tl_keyed;

/* LMDB returns positive errno values; the house returns negative ones (R12). */
static int store__rc(int rc)
{
    return rc > 0 ? -rc : rc;
}

static void store__seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void store__seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const char *store_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case STORE_LOCKED:
        return "data directory is in use by another sluice";
    case STORE_CLOSED:
        return "the store is shutting down";
    case STORE_ABORTED:
        return "the operation was rolled back";
    default:
        break;
    }
    if (rc >= MDB_KEYEXIST && rc <= MDB_LAST_ERRCODE) {
        return mdb_strerror(rc);
    }
    return strerror(rc < 0 ? -rc : rc);
}

const char *store_dir(const struct store *st)
{
    return st->dir;
}

bool store_on_writer(const struct store *st)
{
    /* writer is read without st->mu: it is written before store_open() returns, and every
     * thread that can see st learned of it after that. */
    return atomic_load(&st->writer_running) && pthread_equal(pthread_self(), st->writer);
}

static uint64_t store__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- The process registry: open stores by generation and by directory. ---- */

/* Caller holds store__reg_mu. */
static struct store *store__reg_find_gen(uint64_t gen)
{
    for (struct store *s = store__reg; s; s = s->reg_next) {
        if (s->gen == gen) {
            return s;
        }
    }
    return NULL;
}

/* Caller holds store__reg_mu. */
static void store__reg_remove(struct store *st)
{
    for (struct store **pp = &store__reg; *pp; pp = &(*pp)->reg_next) {
        if (*pp == st) {
            *pp = st->reg_next;
            break;
        }
    }
    st->registered = false;
}

/*
 * Runs when a thread that read from a store exits: its readers go back to their stores, to be
 * adopted by the next thread that reads, instead of holding LMDB reader slots until close.
 */
static void store__tl_exit(void *arg)
{
    struct store__tl_slot *slots = arg;

    pthread_mutex_lock(&store__reg_mu);
    for (int i = 0; i < STORE__TL_SLOTS; i++) {
        struct store *st = slots[i].gen ? store__reg_find_gen(slots[i].gen) : NULL;
        if (st) {
            /* A thread that exits inside a read broke the pairing rule (store.h). */
            assert(!slots[i].r->busy);
            pthread_mutex_lock(&st->rmu);
            slots[i].r->owned = false;
            pthread_mutex_unlock(&st->rmu);
        }
        slots[i].gen = 0;
        slots[i].r = NULL;
        slots[i].depth = 0;
    }
    pthread_mutex_unlock(&store__reg_mu);
}

static void store__key_init(void)
{
    store__key_ok = pthread_key_create(&store__key, store__tl_exit) == 0;
}

/* ---- Opening and closing. ---- */

/* Creates dir and any missing parents; dir itself gets 0700 (it holds every item). */
static int store__mkdir_p(const char *dir)
{
    char *p = xstrdup(dir);
    struct stat sb;
    int rc = 0;

    for (char *s = p + 1; *s; s++) {
        if (*s != '/') {
            continue;
        }
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            rc = -errno;
            goto out;
        }
        *s = '/';
    }
    if (mkdir(p, 0700) < 0 && errno != EEXIST) {
        rc = -errno;
        goto out;
    }
    if (stat(p, &sb) < 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISDIR(sb.st_mode)) {
        rc = -ENOTDIR;
    }
out:
    free(p);
    return rc;
}

/*
 * Takes the fcntl lock on <dir>/sluice.lock and writes our pid into it. fcntl locks belong to
 * the process, which is why store__register() must already have refused a second open of the
 * same directory in this process: our open and close of the file would release its lock.
 */
static int store__lock(struct store *st, char *err, size_t errlen)
{
    char path[4096];
    char pid[32];
    struct flock fl;
    int n;

    n = snprintf(path, sizeof path, "%s/sluice.lock", st->dir);
    if (n < 0 || (size_t)n >= sizeof path) {
        store__seterr(err, errlen, "cannot open data directory %s: %s", st->dir,
                      strerror(ENAMETOOLONG));
        return -ENAMETOOLONG;
    }
    st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0) {
        int e = errno;
        store__seterr(err, errlen, "cannot open data directory %s: %s", st->dir, strerror(e));
        return -e;
    }
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(st->lock_fd, F_SETLK, &fl) < 0) {
        int e = errno;
        long holder = 0;

        if (e != EACCES && e != EAGAIN) {
            store__seterr(err, errlen, "cannot lock data directory %s: %s", st->dir,
                          strerror(e));
            return -e;
        }
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(st->lock_fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
            holder = (long)fl.l_pid;
        }
        if (holder <= 0) {
            /* The kernel could not say (the holder let go meanwhile); the file can. */
            ssize_t k = pread(st->lock_fd, pid, sizeof pid - 1, 0);
            pid[k > 0 ? k : 0] = '\0';
            holder = strtol(pid, NULL, 10);
        }
        store__seterr(err, errlen, "data directory %s is in use by another sluice (pid %ld)",
                      st->dir, holder);
        return STORE_LOCKED;
    }
    n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    /* Written over the old pid and then cut to its length: a truncation to 0 first costs a
     * journal commit on ext4 (auto_da_alloc), milliseconds of every start-up. */
    if (pwrite(st->lock_fd, pid, (size_t)n, 0) != n || ftruncate(st->lock_fd, n) < 0) {
        /* The pid only improves a later error message; the lock is what matters. */
        log_warn("store", "cannot write pid to %s: %s", path, strerror(errno));
    }
    return 0;
}

/* Adds st to the process registry, refusing a directory this process already has open. */
static int store__register(struct store *st, char *err, size_t errlen)
{
    struct stat sb;
    int rc = 0;

    if (stat(st->dir, &sb) < 0) {
        int e = errno;
        store__seterr(err, errlen, "cannot open data directory %s: %s", st->dir, strerror(e));
        return -e;
    }
    st->dir_dev = sb.st_dev;
    st->dir_ino = sb.st_ino;
    pthread_mutex_lock(&store__reg_mu);
    st->pid = getpid();
    for (struct store *s = store__reg; s; s = s->reg_next) {
        /* A child of fork() inherits the registry but neither the fcntl lock nor a usable
         * LMDB environment, so only its own opens count. */
        if (s->pid == st->pid && s->dir_dev == st->dir_dev && s->dir_ino == st->dir_ino) {
            store__seterr(err, errlen,
                          "data directory %s is in use by another sluice (pid %ld, this process)",
                          st->dir, (long)getpid());
            rc = STORE_LOCKED;
            goto out;
        }
    }
    st->gen = store__next_gen++;
    st->reg_next = store__reg;
    store__reg = st;
    st->registered = true;
out:
    pthread_mutex_unlock(&store__reg_mu);
    return rc;
}

/* Frees st in whatever state store_open() left it; the writer is not running. */
static void store__free(struct store *st)
{
    struct store__reader *r;
    struct store__reader *next;

    pthread_mutex_lock(&store__reg_mu);
    if (st->registered) {
        store__reg_remove(st);
    }
    pthread_mutex_unlock(&store__reg_mu);

    /* Slots of other threads still name st->gen; no one will look it up again. */
    for (r = st->readers; r; r = next) {
        next = r->next;
        assert(!r->busy);
        mdb_txn_abort(r->txn);
        free(r);
    }
    if (st->env) {
        mdb_env_close(st->env);
    }
    if (st->lock_fd >= 0) {
        close(st->lock_fd);     /* releases the fcntl lock */
    }
    for (unsigned i = 0; i < st->ndbis; i++) {
        free(st->dbis[i].name);
    }
    free(st->dbis);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    pthread_rwlock_destroy(&st->map_lock);
    pthread_mutex_destroy(&st->rmu);
    pthread_mutex_destroy(&st->dmu);
    free(st->mdb_path);
    free(st->dir);
    free(st);
}

static void store__map_lock_init(pthread_rwlock_t *l)
{
    pthread_rwlockattr_t attr;

    pthread_rwlockattr_init(&attr);
#ifdef __GLIBC__
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(l, &attr);
    pthread_rwlockattr_destroy(&attr);
}

static void *store__writer_main(void *arg);

int store_open(const struct store_options *opt, struct store **out, char *err, size_t errlen)
{
    struct store *st = NULL;
    size_t map_size = opt->map_size ? opt->map_size : STORE__MAP_DEFAULT;
    unsigned max_readers = opt->max_readers ? opt->max_readers : STORE__MAX_READERS_DEFAULT;
    unsigned flags = MDB_NOSUBDIR | MDB_NOTLS;
    size_t n;
    int rc;

    store__seterr(err, errlen, "%s", "");
    if (!opt->dir || !opt->dir[0]) {
        store__seterr(err, errlen, "no data directory given");
        return -EINVAL;
    }
    st = xcalloc(1, sizeof *st);
    st->lock_fd = -1;
    st->dir = xstrdup(opt->dir);
    n = strlen(st->dir);
    while (n > 1 && st->dir[n - 1] == '/') {
        st->dir[--n] = '\0';
    }
    st->map_max = opt->map_max ? opt->map_max : STORE__MAP_MAX_DEFAULT;
    if (st->map_max < map_size) {
        st->map_max = map_size;
    }
    st->max_dbs = opt->max_dbs ? opt->max_dbs : STORE__MAX_DBS_DEFAULT;
    st->dbis = xcalloc(st->max_dbs, sizeof *st->dbis);
    st->mdb_path = xmalloc(n + sizeof "/sluice.mdb");
    snprintf(st->mdb_path, n + sizeof "/sluice.mdb", "%s/sluice.mdb", st->dir);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    store__map_lock_init(&st->map_lock);
    pthread_mutex_init(&st->rmu, NULL);
    pthread_mutex_init(&st->dmu, NULL);

    rc = store__mkdir_p(st->dir);
    if (rc < 0) {
        store__seterr(err, errlen, "cannot create data directory %s: %s", st->dir,
                      strerror(-rc));
        goto out;
    }
    rc = store__register(st, err, errlen);
    if (rc < 0) {
        goto out;
    }
    rc = store__lock(st, err, errlen);
    if (rc < 0) {
        goto out;
    }

    if (opt->sync == STORE_SYNC_NONE) {
        flags |= MDB_NOSYNC | MDB_NOMETASYNC;
    }
    else if (opt->defer_first_sync) {
        struct stat sb;
        if (stat(st->mdb_path, &sb) < 0 && errno == ENOENT) {
            /* A new store: nothing in it can have been acknowledged before store_ready(). */
            flags |= MDB_NOSYNC;
            st->deferred_sync = true;
        }
    }
    rc = store__rc(mdb_env_create(&st->env));
    if (!rc) {
        rc = store__rc(mdb_env_set_mapsize(st->env, map_size));
    }
    if (!rc) {
        rc = store__rc(mdb_env_set_maxdbs(st->env, st->max_dbs));
    }
    if (!rc) {
        rc = store__rc(mdb_env_set_maxreaders(st->env, max_readers));
    }
    if (!rc) {
        rc = store__rc(mdb_env_open(st->env, st->mdb_path, flags, 0600));
    }
    if (rc < 0) {
        store__seterr(err, errlen, "cannot open %s: %s", st->mdb_path, store_strerror(rc));
        goto out;
    }

    rc = -pthread_create(&st->writer, NULL, store__writer_main, st);
    if (rc < 0) {
        store__seterr(err, errlen, "cannot start the store writer: %s", strerror(-rc));
        goto out;
    }
    st->writer_started = true;
    atomic_store(&st->writer_running, true);
    log_info("store", "opened %s (sync %s)", st->mdb_path,
             opt->sync == STORE_SYNC_NONE ? "none" : "full");
    *out = st;
    st = NULL;
out:
    if (st) {
        store__free(st);
    }
    return rc;
}

void store_shutdown(struct store *st)
{
    bool join;

    assert(!store_on_writer(st));
    pthread_mutex_lock(&st->mu);
    join = !st->closing && st->writer_started;
    st->closing = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    if (join) {
        pthread_join(st->writer, NULL);
        atomic_store(&st->writer_running, false);
    }
}

/* The op of store_ready(): on the writer, between two groups' commits. */
static int store__ready_apply(struct store_op *op, MDB_txn *txn)
{
    MDB_env *env = mdb_txn_env(txn);
    int rc = store__rc(mdb_env_sync(env, 1));

    (void)op;
    if (rc == 0) {
        rc = store__rc(mdb_env_set_flags(env, MDB_NOSYNC, 0));
    }
    return rc;
}

int store_ready(struct store *st)
{
    struct store_op op = { 0 };
    int rc;

    if (!st->deferred_sync) {
        return 0;
    }
    op.apply = store__ready_apply;
    rc = store_submit_wait(st, &op);
    if (rc == 0) {
        st->deferred_sync = false;
    }
    return rc;
}

void store_close(struct store *st)
{
    if (!st) {
        return;
    }
    store_shutdown(st);
    if (st->deferred_sync && st->env) {
        /* store_ready() never ran: what start-up committed reaches the disk now. */
        mdb_env_sync(st->env, 1);
    }
    log_info("store", "closed %s", st->mdb_path);
    store__free(st);
}

/* ---- The writer. ---- */

static unsigned store__hist_bucket(size_t n)
{
    unsigned b = 0;

    while (n > 1 && b < 7) {
        n >>= 1;
        b++;
    }
    return b;
}

/* Logs a group failure, at most once a second for a repeating code (R36, R37). */
static void store__log_failure(struct store *st, const char *what, size_t n, int rc)
{
    time_t now = time(NULL);

    if (rc == st->last_logged_rc && now == st->last_logged_at) {
        return;
    }
    st->last_logged_rc = rc;
    st->last_logged_at = now;
    log_error("store", "%s of a group of %zu ops failed: %s", what, n, store_strerror(rc));
}

/*
 * Doubles the map, up to map_max. Runs on the writer with no write transaction open, and waits
 * (bounded) for the readers to leave. Returns 0 when the map grew, or MDB_MAP_FULL.
 */
static int store__grow(struct store *st)
{
    MDB_envinfo info;
    struct timespec until;
    size_t next;
    int rc;

    store_assert_writer(st);
    mdb_env_info(st->env, &info);
    if (info.me_mapsize >= st->map_max) {
        return MDB_MAP_FULL;
    }
    next = info.me_mapsize > st->map_max / 2 ? st->map_max : info.me_mapsize * 2;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += STORE__GROW_WAIT_MS / 1000;
    until.tv_nsec += (long)(STORE__GROW_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    rc = pthread_rwlock_timedwrlock(&st->map_lock, &until);
    if (rc != 0) {
        log_warn("store", "cannot grow the map of %s: %s", st->mdb_path,
                 rc == ETIMEDOUT ? "read transactions stayed open too long" : strerror(rc));
        return MDB_MAP_FULL;
    }
    rc = mdb_env_set_mapsize(st->env, next);
    pthread_rwlock_unlock(&st->map_lock);
    if (rc != 0) {
        /* LMDB has unmapped the file and could not map it again: every later access would
         * fault, so stop here rather than answer with a store that is not there (R17). */
        log_error("store", "cannot grow the map of %s to %zu bytes: %s", st->mdb_path, next,
                  store_strerror(store__rc(rc)));
        abort();
    }
    atomic_fetch_add(&st->st_grows, 1);
    log_info("store", "map of %s grown from %zu to %zu MiB", st->mdb_path,
             (size_t)(info.me_mapsize >> 20), next >> 20);
    return 0;
}

/*
 * LMDB answers a short write with EIO; on a full file system that is ENOSPC, which is what the
 * operator needs to read (and what a disk that fills mid-write does with a plain write).
 */
static int store__commit_rc(struct store *st, int rc)
{
    struct statvfs vfs;
    if (rc == -EIO && statvfs(st->mdb_path, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < 64 * 1024) {
        return -ENOSPC;
    }
    return rc;
}

/*
 * Runs the ops of one group (a list linked by next, n long) in nested transactions of one
 * outer transaction and commits it; sets each op's rc. Returns MDB_MAP_FULL when the caller
 * should grow the map and run the group again, else 0 (results are in the ops).
 */
static int store__try_group(struct store *st, struct store_op *batch, size_t n, bool can_grow)
{
    MDB_txn *txn = NULL;
    uint64_t t0;
    int rc;

    store_assert_writer(st);
    rc = store__rc(mdb_txn_begin(st->env, NULL, 0, &txn));
    if (rc < 0) {
        store__log_failure(st, "beginning the transaction", n, rc);
        for (struct store_op *op = batch; op; op = op->next) {
            op->rc = rc;
        }
        return 0;
    }
    for (struct store_op *op = batch; op; op = op->next) {
        MDB_txn *nested = NULL;

        op->rc = store__rc(mdb_txn_begin(st->env, txn, 0, &nested));
        if (op->rc == 0) {
            op->rc = store__rc(op->apply(op, nested));
            if (op->rc == 0) {
                op->rc = store__rc(mdb_txn_commit(nested));
            }
            else {
                mdb_txn_abort(nested);
            }
        }
        if (op->rc == MDB_MAP_FULL && can_grow) {
            mdb_txn_abort(txn);
            return MDB_MAP_FULL;
        }
    }
    t0 = store__now_ns();
    rc = store__commit_rc(st, store__rc(mdb_txn_commit(txn)));
    atomic_fetch_add(&st->st_commit_ns, store__now_ns() - t0);
    if (rc == MDB_MAP_FULL && can_grow) {
        return MDB_MAP_FULL;
    }
    if (rc < 0) {
        store__log_failure(st, "commit", n, rc);
        for (struct store_op *op = batch; op; op = op->next) {
            if (op->rc == 0) {
                op->rc = rc;
            }
        }
    }
    return 0;
}

static void store__run_group(struct store *st, struct store_op *batch, size_t n)
{
    struct store_op *next;
    uint64_t failed = 0;
    MDB_envinfo info;
    bool can_grow;

    for (;;) {
        mdb_env_info(st->env, &info);
        can_grow = info.me_mapsize < st->map_max;
        if (store__try_group(st, batch, n, can_grow) != MDB_MAP_FULL) {
            break;
        }
        if (store__grow(st) < 0) {
            /* Run it once more without growing, so each op gets its own result. */
            store__try_group(st, batch, n, false);
            break;
        }
    }

    atomic_fetch_add(&st->st_groups, 1);
    atomic_fetch_add(&st->st_ops, n);
    atomic_fetch_add(&st->st_hist[store__hist_bucket(n)], 1);
    for (struct store_op *op = batch; op; op = op->next) {
        failed += op->rc < 0;
    }
    atomic_fetch_add(&st->st_failed, failed);

    /* done() may free its op, so each link is read first; a waiter is woken after done(). */
    for (struct store_op *op = batch; op; op = next) {
        struct store__waiter *w = op->waiter;

        next = op->next;
        op->next = NULL;
        if (op->done) {
            op->done(op, op->rc);
        }
        if (w) {
            pthread_mutex_lock(&w->mu);
            w->fired = true;
            pthread_cond_signal(&w->cv);
            pthread_mutex_unlock(&w->mu);
        }
    }
}

static void *store__writer_main(void *arg)
{
    struct store *st = arg;
    struct store_op *batch;
    struct store_op *last;
    size_t n;

    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->head && !st->closing) {
            pthread_cond_wait(&st->cv, &st->mu);
        }
        if (!st->head) {
            break;      /* closing, and everything queued has been committed */
        }
        batch = st->head;
        if (st->qlen <= STORE__GROUP_MAX) {
            n = st->qlen;
            last = st->tail;
        }
        else {
            n = 1;
            for (last = batch; n < STORE__GROUP_MAX; last = last->next) {
                n++;
            }
        }
        st->head = last->next;
        if (!st->head) {
            st->tail = NULL;
        }
        last->next = NULL;
        st->qlen -= n;
        atomic_store(&st->st_queue, st->qlen);
        pthread_mutex_unlock(&st->mu);
        store__run_group(st, batch, n);
        pthread_mutex_lock(&st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* ---- Submitting. ---- */

static int store__enqueue(struct store *st, struct store_op *op, struct store__waiter *w)
{
    assert(op && op->apply);
    op->next = NULL;
    op->rc = 0;
    op->waiter = w;
    pthread_mutex_lock(&st->mu);
    if (st->closing) {
        pthread_mutex_unlock(&st->mu);
        return STORE_CLOSED;
    }
    if (st->tail) {
        st->tail->next = op;
    }
    else {
        st->head = op;
    }
    st->tail = op;
    st->qlen++;
    atomic_store(&st->st_queue, st->qlen);
    /* The writer only sleeps on an empty queue. */
    if (st->qlen == 1) {
        pthread_cond_signal(&st->cv);
    }
    pthread_mutex_unlock(&st->mu);
    return 0;
}

int store_submit(struct store *st, struct store_op *op)
{
    return store__enqueue(st, op, NULL);
}

int store_submit_wait(struct store *st, struct store_op *op)
{
    struct store__waiter w;
    int rc;

    assert(!store_on_writer(st));
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.fired = false;
    rc = store__enqueue(st, op, &w);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.fired) {
            pthread_cond_wait(&w.cv, &w.mu);
        }
        pthread_mutex_unlock(&w.mu);
        rc = op->rc;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

/* Looks name (with flags, MDB_CREATE included) up in st's table; returns true and sets *dbi
 * when it was opened before. */
static bool store__dbi_find(struct store *st, const char *name, unsigned flags, MDB_dbi *dbi)
{
    bool found = false;

    pthread_mutex_lock(&st->dmu);
    for (unsigned i = 0; i < st->ndbis && !found; i++) {
        if (strcmp(st->dbis[i].name, name) == 0 && st->dbis[i].flags == flags) {
            *dbi = st->dbis[i].dbi;
            found = true;
        }
    }
    pthread_mutex_unlock(&st->dmu);
    return found;
}

/* Adds an opened name to st's table, unless another thread added it meanwhile. */
static void store__dbi_remember(struct store *st, const char *name, unsigned flags, MDB_dbi dbi)
{
    pthread_mutex_lock(&st->dmu);
    for (unsigned i = 0; i < st->ndbis; i++) {
        if (strcmp(st->dbis[i].name, name) == 0 && st->dbis[i].flags == flags) {
            pthread_mutex_unlock(&st->dmu);
            return;
        }
    }
    if (st->ndbis < st->max_dbs) {
        st->dbis[st->ndbis].name = xstrdup(name);
        st->dbis[st->ndbis].flags = flags;
        st->dbis[st->ndbis].dbi = dbi;
        st->ndbis++;
    }
    pthread_mutex_unlock(&st->dmu);
}

/*
 * The op of store_dbi_open_many(): opens every name the table did not answer, each in a
 * transaction nested in the op's own, so that a name that fails (MDB_DBS_FULL,
 * MDB_INCOMPATIBLE) leaves no trace while the others are kept and committed with the group.
 * Sets each name's result afresh on every run (the writer runs it again after growing the map).
 */
static int store__dbi_apply(struct store_op *op, MDB_txn *txn)
{
    struct store__dbi_op *d = (struct store__dbi_op *)op;
    MDB_env *env = mdb_txn_env(txn);

    for (size_t k = 0; k < d->n; k++) {
        struct store_dbi_req *q = &d->reqs[d->pending[k]];
        MDB_txn *child = NULL;
        int rc;

        rc = store__rc(mdb_txn_begin(env, txn, 0, &child));
        if (rc == 0) {
            unsigned has = 0;

            rc = store__rc(mdb_dbi_open(child, q->name, q->flags | MDB_CREATE, &d->dbis[k]));
            /* LMDB answers a name already open in the environment with its handle whatever
             * the flags asked for: a DUPSORT request must not get a plain database. */
            if (rc == 0 && mdb_dbi_flags(child, d->dbis[k], &has) == 0 &&
                has != (q->flags & ~(unsigned)MDB_CREATE)) {
                rc = MDB_INCOMPATIBLE;
            }
            if (rc == 0) {
                rc = store__rc(mdb_txn_commit(child));
            }
            else {
                mdb_txn_abort(child);
            }
        }
        if (rc == MDB_MAP_FULL) {
            return rc;
        }
        q->rc = rc;
    }
    return 0;
}

int store_dbi_open_many(struct store *st, struct store_dbi_req *reqs, size_t n)
{
    struct store__dbi_op op;
    int rc = 0;

    memset(&op, 0, sizeof op);
    op.reqs = reqs;
    op.pending = xcalloc(n ? n : 1, sizeof *op.pending);
    op.dbis = xcalloc(n ? n : 1, sizeof *op.dbis);
    for (size_t i = 0; i < n; i++) {
        struct store_dbi_req *q = &reqs[i];

        assert(q->name);
        q->rc = 0;
        if (!store__dbi_find(st, q->name, q->flags | MDB_CREATE, q->dbi)) {
            op.pending[op.n++] = i;
        }
    }
    if (op.n) {
        op.base.apply = store__dbi_apply;
        rc = store_submit_wait(st, &op.base);
        for (size_t k = 0; k < op.n; k++) {
            struct store_dbi_req *q = &reqs[op.pending[k]];

            if (rc < 0) {
                q->rc = rc;     /* not accepted, or the group's commit failed */
            }
            else if (q->rc == 0) {
                *q->dbi = op.dbis[k];
                store__dbi_remember(st, q->name, q->flags | MDB_CREATE, op.dbis[k]);
            }
        }
    }
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = reqs[i].rc;
    }
    free(op.pending);
    free(op.dbis);
    return rc;
}

int store_dbi_open(struct store *st, const char *name, unsigned flags, MDB_dbi *dbi)
{
    struct store_dbi_req q = { .name = name, .flags = flags, .dbi = dbi };

    return store_dbi_open_many(st, &q, 1);
}

/* ---- Reading. ---- */

static struct store__tl_slot *store__tl_find(const struct store *st)
{
    for (int i = 0; i < STORE__TL_SLOTS; i++) {
        if (store__tl[i].gen == st->gen) {
            return &store__tl[i];
        }
    }
    return NULL;
}

/*
 * Gives the calling thread a cached reader for st: a free slot (empty, or naming a closed
 * store) gets a reader another thread left behind, or a new one. Returns NULL when the thread
 * already reads four open stores or LMDB has no reader slot left; the caller then begins an
 * uncached transaction, which reports the error if there is one.
 */
static struct store__tl_slot *store__tl_adopt(struct store *st)
{
    struct store__reader *r = NULL;
    int slot = -1;

    pthread_mutex_lock(&store__reg_mu);
    for (int i = 0; i < STORE__TL_SLOTS && slot < 0; i++) {
        if (!store__tl[i].gen || !store__reg_find_gen(store__tl[i].gen)) {
            slot = i;
        }
    }
    if (slot < 0) {
        goto out;
    }
    pthread_once(&store__key_once, store__key_init);
    if (!store__tl_keyed) {
        if (!store__key_ok || pthread_setspecific(store__key, store__tl) != 0) {
            goto out;   /* without the exit hook a cached reader would leak its slot */
        }
        store__tl_keyed = true;
    }
    pthread_mutex_lock(&st->rmu);
    for (r = st->readers; r && r->owned; r = r->next) {
    }
    if (!r) {
        MDB_txn *txn = NULL;

        if (mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn) == 0) {
            mdb_txn_reset(txn);
            r = xcalloc(1, sizeof *r);
            r->txn = txn;
            r->next = st->readers;
            st->readers = r;
        }
    }
    if (r) {
        r->owned = true;
        r->busy = false;
        store__tl[slot].gen = st->gen;
        store__tl[slot].r = r;
        store__tl[slot].depth = 0;
    }
    pthread_mutex_unlock(&st->rmu);
out:
    pthread_mutex_unlock(&store__reg_mu);
    return r ? &store__tl[slot] : NULL;
}

int store_read_begin(struct store *st, MDB_txn **txn)
{
    struct store__tl_slot *slot;
    bool nested;
    int rc;

    assert(!store_on_writer(st));
    *txn = NULL;
    slot = store__tl_find(st);
    /* Taking a writer-preferring lock again while holding it would wait for a waiting writer
     * that waits for us, so only the thread's outermost read takes it. */
    nested = slot && slot->depth > 0;
    if (!nested) {
        rc = pthread_rwlock_rdlock(&st->map_lock);
        if (rc != 0) {
            return -rc;
        }
    }
    if (!slot) {
        slot = store__tl_adopt(st);
    }
    if (slot && !slot->r->busy) {
        rc = store__rc(mdb_txn_renew(slot->r->txn));
        if (rc == 0) {
            slot->r->busy = true;
            *txn = slot->r->txn;
        }
    }
    else {
        /* A nested read on this thread, or no cached reader: an uncached transaction. */
        rc = store__rc(mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn));
    }
    if (rc == 0) {
        if (slot) {
            slot->depth++;
        }
        return 0;
    }
    *txn = NULL;
    if (!nested) {
        pthread_rwlock_unlock(&st->map_lock);
    }
    return rc;
}

void store_read_end(struct store *st, MDB_txn *txn)
{
    struct store__tl_slot *slot = store__tl_find(st);

    if (slot && slot->r->busy && slot->r->txn == txn) {
        mdb_txn_reset(txn);
        slot->r->busy = false;
    }
    else {
        mdb_txn_abort(txn);
    }
    if (slot) {
        assert(slot->depth > 0);
        if (--slot->depth > 0) {
            return;
        }
    }
    pthread_rwlock_unlock(&st->map_lock);
}

/* ---- Figures. ---- */

void store_get_stats(struct store *st, struct store_stats *out)
{
    struct store__tl_slot *slot;
    MDB_envinfo info;
    MDB_stat ms;
    struct stat sb;
    bool held;

    memset(out, 0, sizeof *out);
    out->sync_deferred = st->deferred_sync;
    out->groups = atomic_load(&st->st_groups);
    out->ops = atomic_load(&st->st_ops);
    out->ops_failed = atomic_load(&st->st_failed);
    for (int i = 0; i < 8; i++) {
        out->batch_hist[i] = atomic_load(&st->st_hist[i]);
    }
    out->commit_ns_total = atomic_load(&st->st_commit_ns);
    out->map_grows = atomic_load(&st->st_grows);
    out->queue_depth = atomic_load(&st->st_queue);
    pthread_mutex_lock(&st->rmu);
    for (struct store__reader *r = st->readers; r; r = r->next) {
        out->readers_cached++;
    }
    pthread_mutex_unlock(&st->rmu);
    /* Both calls read the meta pages inside the map, which must not move meanwhile; a thread
     * inside a read holds map_lock already (and must not take it again, see DESIGN). */
    slot = store__tl_find(st);
    held = slot && slot->depth > 0;
    if (held || store_on_writer(st) || pthread_rwlock_rdlock(&st->map_lock) == 0) {
        mdb_env_info(st->env, &info);
        mdb_env_stat(st->env, &ms);
        if (!held && !store_on_writer(st)) {
            pthread_rwlock_unlock(&st->map_lock);
        }
        out->map_used_bytes = ((uint64_t)info.me_last_pgno + 1) * ms.ms_psize;
        out->map_size_bytes = info.me_mapsize;
    }
    if (stat(st->mdb_path, &sb) == 0) {
        out->file_bytes = (uint64_t)sb.st_size;
    }
}
