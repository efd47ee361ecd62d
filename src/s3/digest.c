/*
 * digest.c: a put's digests (the MD5 of its ETag, its flexible checksum) on a thread of their
 * own, so that a large body is hashed on one core while it is received on another. MD5 runs at
 * about 700 MB/s on one core: on the HTTP thread it was a third of a 1 GiB PUT's CPU, and the
 * thread's time bounded the upload.
 *
 * The put hands over one buffer at a time (object.c: each full write buffer, after it is
 * written) and fills a second meanwhile; s3__digester_post() first waits for the job before,
 * so the bytes are digested in the order they were written. At most DIGESTERS_MAX threads run
 * at once, server-wide; a put that finds none free digests on its own thread as before.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/mem.h"
#include "s3/s3_int.h"

#define DIGESTERS_MAX 4

static atomic_int running;

struct s3__digester {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* a job posted, a job done, or quit */
    const char *job;        /* the bytes being digested; NULL when idle */
    size_t len;
    bool quit;
    int rc;                 /* the first failure of a job: -EIO */
    EVP_MD_CTX *md;
    struct s3__ck_ctx *ck;
};

static void *digester_main(void *arg)
{
    struct s3__digester *d = arg;
    bool ok;

    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->job && !d->quit) {
            pthread_cond_wait(&d->cv, &d->mu);
        }
        if (!d->job) {
            break;
        }
        pthread_mutex_unlock(&d->mu);
        ok = !d->md || EVP_DigestUpdate(d->md, d->job, d->len) == 1;
        if (d->ck) {
            s3__ck_update(d->ck, d->job, d->len);
        }
        pthread_mutex_lock(&d->mu);
        if (!ok && d->rc == 0) {
            d->rc = -EIO;
        }
        d->job = NULL;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

struct s3__digester *s3__digester_start(EVP_MD_CTX *md, struct s3__ck_ctx *ck)
{
    struct s3__digester *d;

    if (atomic_fetch_add(&running, 1) >= DIGESTERS_MAX) {
        atomic_fetch_sub(&running, 1);
        return NULL;
    }
    d = xcalloc(1, sizeof *d);
    d->md = md;
    d->ck = ck;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->th, NULL, digester_main, d) != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        atomic_fetch_sub(&running, 1);
        return NULL;
    }
    return d;
}

int s3__digester_wait(struct s3__digester *d)
{
    int rc;

    pthread_mutex_lock(&d->mu);
    while (d->job) {
        pthread_cond_wait(&d->cv, &d->mu);
    }
    rc = d->rc;
    pthread_mutex_unlock(&d->mu);
    return rc;
}

int s3__digester_post(struct s3__digester *d, const char *p, size_t n)
{
    int rc;

    pthread_mutex_lock(&d->mu);
    while (d->job) {
        pthread_cond_wait(&d->cv, &d->mu);
    }
    rc = d->rc;
    if (rc == 0 && n > 0) {
        d->job = p;
        d->len = n;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
    return rc;
}

int s3__digester_stop(struct s3__digester *d)
{
    int rc = s3__digester_wait(d);

    pthread_mutex_lock(&d->mu);
    d->quit = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->th, NULL);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    atomic_fetch_sub(&running, 1);
    return rc;
}
