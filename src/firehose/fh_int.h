/*
 * fh_int.h: declarations shared inside src/firehose/ (R2); never included from outside.
 */
#ifndef SL_FIREHOSE_INT_H
#define SL_FIREHOSE_INT_H

#include <jansson.h>
#include <pthread.h>

#include "firehose/firehose.h"

/* Limits from the Firehose developer guide, "Amazon Data Firehose Quota". */
#define FH_NAME_MAX 64
#define FH_RECORD_MAX (1000 * 1024)          /* one record's data, before base64 */
#define FH_BATCH_RECORDS 500
#define FH_BATCH_BYTES (4 * 1024 * 1024)
#define FH_MAX_BODY (6 * 1024 * 1024)        /* base64 of 4 MiB plus the JSON around it */
#define FH_LIST_MAX 10000

struct fh {
    struct store *st;
    struct s3 *s3;
    MDB_dbi streams;    /* name -> stream entry (JSON, docs/formats.md "Firehose") */
    MDB_dbi buffer;     /* be32 stream id + be64 seq -> be64 arrival ms + record bytes */
    MDB_dbi meta;       /* "seq", "id" counters */
    char region[33];
    char account[13];
    struct http_service svc;

    pthread_t flusher;
    bool flusher_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;      /* under mu */
    uint64_t puts;      /* under mu: bumped by each committed put, to wake the flusher */
};

static inline struct fh *fh__of(struct http_req *r)
{
    return r->svc->ctx;
}

/* Handlers (api.c). */
int fh_create_delivery_stream(struct http_req *r);
int fh_describe_delivery_stream(struct http_req *r);
int fh_list_delivery_streams(struct http_req *r);
int fh_delete_delivery_stream(struct http_req *r);
int fh_put_record(struct http_req *r);
int fh_put_record_batch(struct http_req *r);

/* The flusher (deliver.c). */
void *fh__flusher_main(void *arg);
void fh__wake(struct fh *f);

/* Byte order helpers for keys. */
void fh__put_be32(unsigned char *p, uint32_t v);
void fh__put_be64(unsigned char *p, uint64_t v);
uint32_t fh__get_be32(const unsigned char *p);
uint64_t fh__get_be64(const unsigned char *p);
uint64_t fh__now_ms(void);

#endif
