/*
 * sync.c: making object bodies durable off the HTTP threads. A small pool of sync threads
 * takes sealed puts (digest checked, all bytes written), renames each body file to its final
 * name, fsyncs it, fsyncs objects/ once for every rename done before that fsync (the
 * directory's group sync), and queues the put's record for the writer, whose group commit
 * then acknowledges it. The request waits suspended meanwhile, so the two HTTP threads keep
 * serving, and many puts share each directory fsync and each journal commit.
 *
 * What it is not: the put itself (object.c), the writer's group commit (core/store.c).
 *
 * A put through the pool (struct s3__put, p->sync_next its queue link):
 *
 *   SEALED  --s3__put_sync_or_reply (HTTP thread): r waits, p queued-->  QUEUED
 *   QUEUED  --a sync thread pops it: s3__put_sync (rename, fsync, directory sync)--> DURABLE
 *   DURABLE --store_submit--> COMMITTING --writer's done: s3__put_done resumes r
 *           \-(sync or submit failed: p->base.rc set, r resumed)--> the cont replies the error
 *
 * The directory's group sync: every caller of s3__dir_sync() has finished its rename; it
 * takes the number of the next round (the next fsync of objects/ to start), and returns once
 * that round has finished. A round that starts after a rename covers it. A failed round fails
 * every caller whose round is at or before the last failed one (a later failure may fail a
 * put whose own round succeeded: the put is then refused, never acknowledged without a
 * durable name).
 *
 * An inline body (object.c) never enters the pool: it has no file, and s3__put_sync_or_reply()
 * hands it to the writer directly.
 *
 * Invariants: a put is acknowledged only after its body file and its name are durable
 * (rename, then fsync of the file, then an fsync of objects/ started after the rename), and
 * its record committed; s3__sync_stop() returns only once the queue is empty and every sync
 * thread has ended, each put handed to the writer or its request resumed, so s3_free() marks a
 * clean shutdown with no put half done by the pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "s3/s3_int.h"

/* Sync threads start on demand (a put queued and none idle), up to S3__SYNC_THREADS. */
#define SYNC_STACK (128 * 1024)

int s3__dir_sync(struct s3 *s3)
{
    uint64_t mine;
    int rc = 0;

    pthread_mutex_lock(&s3->ds_lock);
    mine = s3->ds_started + 1;
    while (s3->ds_done < mine) {
        if (!s3->ds_busy) {
            uint64_t round = ++s3->ds_started;
            s3->ds_busy = true;
            pthread_mutex_unlock(&s3->ds_lock);
            rc = fsync(s3->objdir_fd) == 0 ? 0 : -errno;
            pthread_mutex_lock(&s3->ds_lock);
            s3->ds_busy = false;
            s3->ds_done = round;
            if (rc != 0) {
                s3->ds_failed = round;
                log_error("s3", "fsync of %s failed: %s", s3->objdir, strerror(-rc));
            }
            pthread_cond_broadcast(&s3->ds_cond);
        }
        else {
            pthread_cond_wait(&s3->ds_cond, &s3->ds_lock);
        }
    }
    if (s3->ds_failed >= mine) {
        rc = -EIO;
    }
    pthread_mutex_unlock(&s3->ds_lock);
    return rc;
}

/* Makes p durable and hands its record to the writer; on failure resumes its request with
 * the error in p->base.rc. Thread: a sync thread. */
static void sync_one(struct s3 *s3, struct s3__put *p)
{
    int rc = s3__put_sync(p);

    if (rc == 0 && store_submit(s3->st, &p->base) == 0) {
        return; /* s3__put_done resumes the request after the commit */
    }
    p->base.rc = rc ? rc : -ESHUTDOWN;
    http_req_resume(p->r);
}

static void *sync_main(void *arg)
{
    struct s3 *s3 = arg;

    pthread_mutex_lock(&s3->sq_lock);
    for (;;) {
        struct s3__put *p;
        while (!s3->sq_head && !s3->sq_stopping) {
            s3->sq_idle++;
            pthread_cond_wait(&s3->sq_cond, &s3->sq_lock);
            s3->sq_idle--;
        }
        p = s3->sq_head;
        if (!p) {
            break; /* stopping, and nothing left */
        }
        s3->sq_head = p->sync_next;
        if (!s3->sq_head) {
            s3->sq_tail = NULL;
        }
        p->sync_next = NULL;
        pthread_mutex_unlock(&s3->sq_lock);
        sync_one(s3, p);
        pthread_mutex_lock(&s3->sq_lock);
    }
    pthread_mutex_unlock(&s3->sq_lock);
    return NULL;
}

/* Starts one more sync thread if none is idle and the pool is not full. Called with sq_lock
 * held. Returns false when the pool has no thread at all and none could start. */
static bool sync_grow(struct s3 *s3)
{
    pthread_attr_t attr;
    int rc;

    if (s3->sq_idle > 0 || s3->sq_threads >= S3__SYNC_THREADS) {
        return true;
    }
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, SYNC_STACK);
    rc = pthread_create(&s3->sq_tids[s3->sq_threads], &attr, sync_main, s3);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        log_warn("s3", "cannot start a sync thread: %s", strerror(rc));
        return s3->sq_threads > 0;
    }
    s3->sq_threads++;
    return true;
}

int s3__put_sync_or_reply(struct http_req *r, struct s3__put *p, const char *what,
                          int (*cont)(struct http_req *r))
{
    struct s3 *s3 = p->s3;
    int rc;

    p->r = r;
    p->base.apply = s3__put_apply;
    p->base.done = s3__put_done;
    if (p->inl) {
        /* An inline body has no file to make durable: its bytes commit with the record, so
         * it goes to the writer at once, and the group commit is its only fsync. */
        rc = s3__put_sync(p);
        if (rc < 0) {
            return s3__internal_or_reply(r, what, rc);
        }
        return s3__submit_or_reply(r, &p->base, cont);
    }
    pthread_mutex_lock(&s3->sq_lock);
    if (!s3->sq_stopping && sync_grow(s3)) {
        /* Waiting before the put is visible to a sync thread, which may resume r at once. */
        http_req_pending(r, cont);
        p->sync_next = NULL;
        if (s3->sq_tail) {
            s3->sq_tail->sync_next = p;
        }
        else {
            s3->sq_head = p;
        }
        s3->sq_tail = p;
        pthread_cond_signal(&s3->sq_cond);
        pthread_mutex_unlock(&s3->sq_lock);
        return 0;
    }
    pthread_mutex_unlock(&s3->sq_lock);
    /* Stopping (the front door still takes requests until it stops) or no thread: the
     * sync is done here, as durable, only slower. */
    rc = s3__put_sync(p);
    if (rc < 0) {
        return s3__internal_or_reply(r, what, rc);
    }
    return s3__submit_or_reply(r, &p->base, cont);
}

void s3__sync_init(struct s3 *s3)
{
    pthread_mutex_init(&s3->sq_lock, NULL);
    pthread_cond_init(&s3->sq_cond, NULL);
    pthread_mutex_init(&s3->ds_lock, NULL);
    pthread_cond_init(&s3->ds_cond, NULL);
}

void s3__sync_stop(struct s3 *s3)
{
    unsigned n;

    pthread_mutex_lock(&s3->sq_lock);
    s3->sq_stopping = true;
    pthread_cond_broadcast(&s3->sq_cond);
    n = s3->sq_threads;
    pthread_mutex_unlock(&s3->sq_lock);
    /* No thread starts once sq_stopping is set, so sq_tids[0..n) is all there is. */
    for (unsigned i = 0; i < n; i++) {
        pthread_join(s3->sq_tids[i], NULL);
    }
    pthread_mutex_lock(&s3->sq_lock);
    s3->sq_threads = 0;
    pthread_mutex_unlock(&s3->sq_lock);
}

void s3__sync_release(struct s3 *s3)
{
    pthread_mutex_destroy(&s3->sq_lock);
    pthread_cond_destroy(&s3->sq_cond);
    pthread_mutex_destroy(&s3->ds_lock);
    pthread_cond_destroy(&s3->ds_cond);
}
