/*
 * ddb_int.h: declarations shared inside src/dynamodb/ (R2); never included from outside.
 */
#ifndef SL_DYNAMODB_INT_H
#define SL_DYNAMODB_INT_H

#include <jansson.h>

#include "dynamodb/dynamodb.h"

/* Limits from the DynamoDB developer guide, "Service, account, and table quotas". */
#define DDB_TABLE_NAME_MIN 3
#define DDB_TABLE_NAME_MAX 255
#define DDB_MAX_TABLES 2500
#define DDB_LIST_TABLES_MAX 100
#define DDB_MAX_BODY (16u * 1024 * 1024)

struct ddb {
    struct store *st;
    struct strm *streams;       /* the change log tables with streams append to */
    MDB_dbi tables;             /* table name -> catalog entry (docs/formats.md) */
    char region[33];
    char account[13];
    struct http_service svc;
};

/* The service instance behind a request. */
static inline struct ddb *ddb__of(struct http_req *r)
{
    return r->svc->ctx;
}

/* Operation handlers (R5), one per AWS operation; see table.c. */
int ddb_list_tables(struct http_req *r);
int ddb_create_table(struct http_req *r);
int ddb_describe_table(struct http_req *r);
int ddb_delete_table(struct http_req *r);

/* Validates a TableName member. Returns 0 or -1 with ValidationException set. */
int ddb__table_name_or_reply(struct http_req *r, const json_t *v, const char *member,
                             const char **out);

#endif
