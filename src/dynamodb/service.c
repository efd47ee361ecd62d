/*
 * service.c: the DynamoDB service: its operation table (R5), its databases, its registration
 * with the front door.
 *
 * Operations not in the table are answered with UnknownOperationException, as DynamoDB
 * answers a target it does not know; docs/compatibility.md lists what is served.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/ddb_int.h"

static const struct http_op ddb_ops[] = {
    { "CreateTable", ddb_create_table, HTTP_OP_WRITE },
    { "DeleteTable", ddb_delete_table, HTTP_OP_WRITE },
    { "DescribeTable", ddb_describe_table, 0 },
    { "ListTables", ddb_list_tables, 0 },
};

int ddb_new(struct store *st, struct strm *streams, const char *region, const char *account,
            struct ddb **out, struct http_service **svc)
{
    struct ddb *d = xcalloc(1, sizeof *d);
    int rc;

    d->st = st;
    d->streams = streams;
    snprintf(d->region, sizeof d->region, "%s", region);
    snprintf(d->account, sizeof d->account, "%s", account);
    rc = store_dbi_open(st, "ddb.tables", 0, &d->tables);
    if (rc != 0) {
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
    free(d);
}
