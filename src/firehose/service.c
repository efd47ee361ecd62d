/*
 * service.c: the Firehose service: its operation table (R5), databases, flusher thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "firehose/fh_int.h"

static const struct http_op fh_ops[] = {
    { "CreateDeliveryStream", fh_create_delivery_stream, HTTP_OP_WRITE },
    { "DeleteDeliveryStream", fh_delete_delivery_stream, HTTP_OP_WRITE },
    { "DescribeDeliveryStream", fh_describe_delivery_stream, 0 },
    { "ListDeliveryStreams", fh_list_delivery_streams, 0 },
    { "PutRecord", fh_put_record, HTTP_OP_WRITE },
    { "PutRecordBatch", fh_put_record_batch, HTTP_OP_WRITE },
};

int fh_new(struct store *st, struct s3 *s3, const char *region, const char *account,
           struct fh **out, struct http_service **svc)
{
    struct fh *f = xcalloc(1, sizeof *f);
    struct store_dbi_req dbis[] = {
        { .name = "fh.streams", .dbi = &f->streams },
        { .name = "fh.buffer", .dbi = &f->buffer },
        { .name = "fh.meta", .dbi = &f->meta },
    };
    int rc;

    f->st = st;
    f->s3 = s3;
    snprintf(f->region, sizeof f->region, "%s", region);
    snprintf(f->account, sizeof f->account, "%s", account);
    rc = store_dbi_open_many(st, dbis, sizeof dbis / sizeof dbis[0]);
    if (rc) {
        free(f);
        return rc;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->svc.name = "firehose";
    f->svc.proto = HTTP_PROTO_JSON11;
    f->svc.signing_name = "firehose";
    f->svc.target_prefix = "Firehose_20150804.";
    f->svc.error_ns = NULL; /* Firehose's __type carries no namespace */
    f->svc.ops = fh_ops;
    f->svc.n_ops = sizeof fh_ops / sizeof fh_ops[0];
    f->svc.max_body = FH_MAX_BODY;
    f->svc.ctx = f;
    if (pthread_create(&f->flusher, NULL, fh__flusher_main, f) == 0) {
        f->flusher_started = true;
    }
    *out = f;
    *svc = &f->svc;
    return 0;
}

void fh_free(struct fh *f)
{
    if (!f) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->flusher_started) {
        pthread_join(f->flusher, NULL);
    }
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
