/*
 * service.c: the DynamoDB service: its operation table (R5), its registration with the front
 * door, and the small helpers every handler shares.
 *
 * Operations not in the table are answered with UnknownOperationException, as DynamoDB
 * answers a target it does not know; docs/compatibility.md lists what is served.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/ddb_int.h"

static const struct http_op ddb_ops[] = {
    { "BatchExecuteStatement", ddb_batch_execute_statement, HTTP_OP_WRITE },
    { "BatchGetItem", ddb_batch_get_item, 0 },
    { "BatchWriteItem", ddb_batch_write_item, HTTP_OP_WRITE },
    { "CreateTable", ddb_create_table, HTTP_OP_WRITE },
    { "DeleteItem", ddb_delete_item, HTTP_OP_WRITE },
    { "DeleteTable", ddb_delete_table, HTTP_OP_WRITE },
    { "DescribeEndpoints", ddb_describe_endpoints, 0 },
    { "DescribeLimits", ddb_describe_limits, 0 },
    { "DescribeTable", ddb_describe_table, 0 },
    { "DescribeTimeToLive", ddb_describe_time_to_live, 0 },
    { "ExecuteStatement", ddb_execute_statement, HTTP_OP_WRITE },
    { "ExecuteTransaction", ddb_execute_transaction, HTTP_OP_WRITE },
    { "GetItem", ddb_get_item, HTTP_OP_OWN_JSON },
    { "ListTables", ddb_list_tables, 0 },
    { "ListTagsOfResource", ddb_list_tags_of_resource, 0 },
    { "PutItem", ddb_put_item, HTTP_OP_WRITE | HTTP_OP_OWN_JSON },
    { "Query", ddb_query, 0 },
    { "Scan", ddb_scan, 0 },
    { "TagResource", ddb_tag_resource, HTTP_OP_WRITE },
    { "TransactGetItems", ddb_transact_get_items, 0 },
    { "TransactWriteItems", ddb_transact_write_items, HTTP_OP_WRITE },
    { "UntagResource", ddb_untag_resource, HTTP_OP_WRITE },
    { "UpdateItem", ddb_update_item, HTTP_OP_WRITE },
    { "UpdateTable", ddb_update_table, HTTP_OP_WRITE },
    { "UpdateTimeToLive", ddb_update_time_to_live, HTTP_OP_WRITE },
};

int ddb__submit_or_reply(struct http_req *r, struct store_op *op, int (*cont)(struct http_req *r))
{
    r->op_ctx = op;
    http_req_pending(r, cont);
    if (store_submit(ddb__of(r)->st, op) < 0) {
        /* Shutting down: nothing was queued, so nothing will resume us. */
        r->state = HTTP_REQ_READY;
        return http_req_fail(r, AWSERR_SERVICE_UNAVAILABLE, NULL);
    }
    return 0;
}

void ddb__free_cb(void *p)
{
    free(p);
}

void ddb__decref_cb(void *p)
{
    json_decref(p);
}

int ddb_new(struct store *st, struct strm *streams, const char *region, const char *account,
            struct ddb **out, struct http_service **svc)
{
    struct ddb *d = xcalloc(1, sizeof *d);
    int rc;

    d->st = st;
    d->streams = streams;
    d->collection_max = DDB_COLLECTION_MAX;
    buf_init(&d->w_old, DDB_ITEM_ENC_MAX);
    buf_init(&d->w_entry, DDB_ITEM_ENC_MAX);
    snprintf(d->region, sizeof d->region, "%s", region);
    snprintf(d->account, sizeof d->account, "%s", account);
    ddb__tx_open(d);
    rc = ddb__catalog_open(d);
    if (rc != 0) {
        ddb__tx_close(d);
        buf_release(&d->w_old);
        buf_release(&d->w_entry);
        free(d);
        return rc;
    }
    d->svc.name = "dynamodb";
    d->svc.proto = HTTP_PROTO_JSON10;
    d->svc.signing_name = "dynamodb";
    d->svc.target_prefix = "DynamoDB_20120810.";
    d->svc.error_ns = "com.amazonaws.dynamodb.v20120810#";
    d->svc.ops = ddb_ops;
    d->svc.n_ops = sizeof ddb_ops / sizeof ddb_ops[0];
    d->svc.max_body = DDB_MAX_BODY;
    d->svc.ctx = d;
    *out = d;
    *svc = &d->svc;
    return 0;
}

void ddb_free(struct ddb *d)
{
    if (!d) {
        return;
    }
    ddb__ttl_stop(d);
    ddb__catalog_close(d);
    ddb__tx_close(d);
    buf_release(&d->w_old);
    buf_release(&d->w_entry);
    free(d);
}
