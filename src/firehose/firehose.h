/*
 * firehose.h: Kinesis Data Firehose, the only header of src/firehose/ other folders include.
 *
 * What it is: delivery streams (DirectPut into the local S3) with a durable buffer: a record
 * acknowledged by PutRecord / PutRecordBatch has been committed to the store; a flusher
 * delivers a stream's buffer as one object when its size or its interval is reached,
 * whichever first, and commits the object together with the removal of the records it holds,
 * so a delivery is exactly-once across crashes.
 *
 * What it is not: other destinations (HTTP endpoints, remote S3), data transformation, format
 * conversion (docs/compatibility.md).
 *
 * Threads: fh_new / fh_free on the main thread; handlers on HTTP threads; the flusher thread
 * of its own; writes through the store's writer.
 */
#ifndef SL_FIREHOSE_H
#define SL_FIREHOSE_H

#include "core/http.h"
#include "core/store.h"
#include "s3/s3.h"

struct fh;

/*
 * Opens the Firehose databases, starts the flusher and returns the HTTP service in *svc
 * (owned by the struct fh). s3 is the local S3 deliveries go to (borrowed; must outlive the
 * struct fh). Returns 0 or a negative store code.
 */
int fh_new(struct store *st, struct s3 *s3, const char *region, const char *account,
           struct fh **out, struct http_service **svc);
/* Stops the flusher (a delivery in progress completes first), then frees. NULL: no-op. */
void fh_free(struct fh *f);

#endif
