/*
 * strm_int.h: declarations shared inside src/streams/ (R2); never included from outside.
 */
#ifndef SL_STREAMS_INT_H
#define SL_STREAMS_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "streams/streams.h"

#define STRM_GETRECORDS_MAX 1000
#define STRM_GETRECORDS_BYTES (1024 * 1024)
#define STRM_LIST_MAX 100
#define STRM_ITERATOR_TTL_MS (15 * 60 * 1000)

struct strm {
    struct store *st;
    MDB_dbi streams;    /* stream ARN -> stream entry (JSON, docs/formats.md) */
    MDB_dbi records;    /* be32 stream id + be64 seq -> be64 ms + record JSON */
    MDB_dbi meta;       /* "seq" -> be64 last sequence number; "id" -> be32 last stream id */
    char region[33];
    char account[13];
    struct http_service svc;

    /* strm_wait / strm_notify */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t generation;
    bool stopping;

    /* the retention sweeper */
    pthread_t sweeper;
    bool sweeper_started;
    pthread_mutex_t sweep_mu;
    pthread_cond_t sweep_cv;
    bool sweep_stop;        /* under sweep_mu */
};

/* A stream entry, decoded (strings borrowed from the JSON object it came from). */
struct strm__stream {
    json_t *json;          /* owned: json_decref when done */
    uint32_t id;
    uint64_t start_seq;    /* first sequence number the stream could hold */
    uint64_t trim_seq;     /* records <= this were trimmed */
    uint64_t end_seq;      /* last sequence number when disabled, else 0 */
    bool enabled;
};

/* Reads and decodes a stream entry. Returns 0, -ENOENT or a store error. */
int strm__get(struct strm *s, MDB_txn *txn, const char *arn, struct strm__stream *out);
void strm__stream_release(struct strm__stream *ss);
/* Formats a sequence number as DynamoDB Streams shows it (21 digits). */
void strm__fmt_seq(uint64_t seq, char out[32]);
/* Parses one; returns 0 or -EINVAL. */
int strm__parse_seq(const char *s, uint64_t *out);
/* The shard id of a stream. */
void strm__shard_id(const struct strm__stream *ss, char out[64]);

/* API handlers (api.c). */
int strm_list_streams(struct http_req *r);
int strm_describe_stream(struct http_req *r);
int strm_get_shard_iterator(struct http_req *r);
int strm_get_records(struct http_req *r);

#endif
