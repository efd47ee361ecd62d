/*
 * streams.h: the change log and the DynamoDB Streams API, the only header of src/streams/
 * that other folders include.
 *
 * What it is: durable streams of change records. A writer (DynamoDB) creates a stream and
 * appends records inside its own write transaction, so a change and its record commit
 * together or not at all; sequence numbers are assigned in commit order and never reused.
 * Readers use the DynamoDB Streams API (ListStreams, DescribeStream, GetShardIterator,
 * GetRecords) or, inside the process, strm_read() and strm_wait() (event source mappings).
 *
 * What it is not: it does not know what a table or an item is; records are opaque JSON
 * objects of the DynamoDB Streams record shape, built by the caller.
 *
 * Threads: strm_create / strm_disable / strm_append run on the writer thread inside the
 * caller's (nested) transaction; strm_notify from the writer thread after a commit; the API
 * handlers on HTTP threads; strm_read / strm_wait on any thread but the writer.
 */
#ifndef SL_STREAMS_H
#define SL_STREAMS_H

#include <jansson.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/http.h"
#include "core/store.h"

struct strm;

/* Records are kept this long, then trimmed (DynamoDB Streams: 24 hours). */
#define STRM_RETENTION_SECONDS (24 * 60 * 60)

/*
 * Opens the streams databases and starts the retention sweeper. *svc is the DynamoDB Streams
 * HTTP service (owned by the struct strm). Returns 0 or a negative store code.
 */
int strm_new(struct store *st, const char *region, const char *account, struct strm **out,
             struct http_service **svc);
/* Stops the sweeper and wakes every strm_wait(); then frees. strm_free(NULL) is a no-op. */
void strm_free(struct strm *s);

/*
 * Creates a stream in txn (writer thread). table_arn is the table's ARN, label the stream
 * label (an ISO 8601 time, unique per table), view_type one of KEYS_ONLY, NEW_IMAGE,
 * OLD_IMAGE, NEW_AND_OLD_IMAGES, key_schema the table's KeySchema (borrowed). The stream ARN
 * is "<table_arn>/stream/<label>". Returns 0, -EEXIST when a stream with that ARN is still
 * kept (a table re-created within the same millisecond: pick the next label), or a negative
 * code.
 */
int strm_create(struct strm *s, MDB_txn *txn, const char *table_name, const char *table_arn,
                const char *label, const char *view_type, const json_t *key_schema);

/* Marks a stream DISABLED in txn: no more appends; its records stay readable until trimmed,
 * and GetRecords ends the shard (no NextShardIterator) once they are read. */
int strm_disable(struct strm *s, MDB_txn *txn, const char *stream_arn);

/*
 * Appends one record to stream_arn in txn (writer thread). event_name is INSERT, MODIFY or
 * REMOVE; dynamodb is the record's "dynamodb" object without SequenceNumber, which this
 * function adds (borrowed). user_identity may be NULL (TTL deletions pass the service
 * principal). Returns 0, -ENOENT (no such stream) or a store error.
 */
int strm_append(struct strm *s, MDB_txn *txn, const char *stream_arn, const char *event_name,
                const json_t *dynamodb, const json_t *user_identity);

/* Wakes readers blocked in strm_wait(). The writer's op completion calls it after a commit
 * that appended records. Any thread. */
void strm_notify(struct strm *s);

/*
 * Reads up to limit records of stream_arn with sequence numbers greater than after_seq (0:
 * from the oldest kept record). Appends them (new references) to out (a JSON array) and sets
 * *last_seq to the last one's sequence number (unchanged when none). *closed is set when the
 * stream is disabled and nothing more will come. Returns 0, -ENOENT, or a store error.
 * Any thread but the writer.
 */
int strm_read(struct strm *s, const char *stream_arn, uint64_t after_seq, unsigned limit,
              json_t *out, uint64_t *last_seq, bool *closed);

/*
 * Blocks until a commit appends a record past after_seq to stream_arn, or timeout_ms passes,
 * or strm_free() is called. Returns 0 when there may be records, -ETIMEDOUT, or -ECANCELED.
 * Not on HTTP threads or the writer.
 */
int strm_wait(struct strm *s, const char *stream_arn, uint64_t after_seq, unsigned timeout_ms);

/* The sequence number of the newest record of stream_arn (0 when empty); for LATEST. */
int strm_latest_seq(struct strm *s, const char *stream_arn, uint64_t *seq);

#endif
