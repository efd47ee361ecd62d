/*
 * dynamodb.h: the DynamoDB service, the only header of src/dynamodb/ other folders include.
 *
 * What it is: the DynamoDB JSON 1.0 API (X-Amz-Target DynamoDB_20120810.*) on the store:
 * the table catalog, items and their expressions; indexes and transactions as they land.
 * What it is not: the stream read API (src/streams/), the HTTP server (src/core/http.c).
 *
 * Threads: ddb_new() and ddb_free() on the main thread; handlers on HTTP threads; catalog
 * writes on the writer thread.
 */
#ifndef SL_DYNAMODB_H
#define SL_DYNAMODB_H

#include "core/http.h"
#include "core/store.h"
#include "streams/streams.h"

struct ddb;

/*
 * Opens the service's databases in st and returns its HTTP service in *svc (owned by the
 * struct ddb, valid until ddb_free()). region and account are copied. Returns 0 or a
 * negative store code.
 */
int ddb_new(struct store *st, struct strm *streams, const char *region, const char *account,
            struct ddb **out, struct http_service **svc);
/* Stops the time-to-live sweeper (if started), waits for the background ops in flight and
 * frees d. ddb_free(NULL) does nothing. Main thread, before store_close(). */
void ddb_free(struct ddb *d);

/*
 * Starts the time-to-live sweeper: a thread that every interval seconds (1 or more) deletes
 * the expired items of the tables with time to live enabled (src/dynamodb/ttl.c). Returns 0,
 * -EINVAL (interval 0, or started already) or -errno of pthread_create(). Main thread, once.
 */
int ddb_ttl_start(struct ddb *d, unsigned interval);

#endif
