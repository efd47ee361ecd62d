/*
 * ddb_int.h: declarations shared inside src/dynamodb/ (R2); never included from outside.
 *
 * The service's named databases (docs/formats.md, "DynamoDB catalog", "DynamoDB table
 * schema", "DynamoDB item keys"):
 *   ddb.tables   table name -> the TableDescription (JSON text), for the control plane;
 *   ddb.schema   table name -> the binary schema record the data plane reads per request;
 *   ddb.items    table id + key encoding -> the item encoding;
 *   ddb.counts   table id -> item count and size, kept exact by every write;
 *   ddb.meta     "table_id" -> the last table id handed out;
 *   ddb.reclaim  table id -> nothing: a deleted table whose items are still being removed.
 */
#ifndef SL_DYNAMODB_INT_H
#define SL_DYNAMODB_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "dynamodb/attr.h"
#include "dynamodb/dynamodb.h"
#include "dynamodb/expr.h"

/* Limits from the DynamoDB developer guide, "Service, account, and table quotas". */
#define DDB_TABLE_NAME_MIN 3
#define DDB_TABLE_NAME_MAX 255
#define DDB_MAX_TABLES 2500
#define DDB_LIST_TABLES_MAX 100
#define DDB_MAX_BODY (16u * 1024 * 1024)

/* LMDB keys of ddb.items (docs/formats.md, "DynamoDB item keys"): an encoded key longer than
 * DDB_KEY_SHORT_MAX is stored as its first DDB_KEY_SHORT_MAX bytes and the SHA-256 of all of
 * it, DDB_KEY_LMDB_MAX bytes in all (LMDB's default key limit). */
#define DDB_KEY_LMDB_MAX 511
#define DDB_KEY_SHORT_MAX (DDB_KEY_LMDB_MAX - 32)
/* The longest encoded key before shortening: table id, hash and range with every byte
 * escaped, and their terminators. */
#define DDB_KEY_ENC_MAX (4 + 2 * DDB_PK_MAX + 2 + 2 * DDB_SK_MAX + 2)

/* Items of a deleted table removed per writer op: small enough that a million-item table
 * never holds the writer for more than a few milliseconds at a time. */
#define DDB_RECLAIM_BATCH 2000

struct ddb {
    struct store *st;
    struct strm *streams;       /* the change log tables with streams append to */
    MDB_dbi tables;
    MDB_dbi schema;
    MDB_dbi items;
    MDB_dbi counts;
    MDB_dbi meta;
    MDB_dbi reclaim;
    char region[33];
    char account[13];
    struct http_service svc;

    /* Reclaiming deleted tables' items: at most one op in flight (catalog.c). */
    struct store_op reclaim_op;
    bool reclaim_more;          /* set by the op: more items wait */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool reclaim_busy;          /* an op is queued or running */
    bool reclaim_again;         /* a table was deleted while it ran */
    bool stopping;              /* ddb_free() started: queue nothing more */
};

/* The service instance behind a request. */
static inline struct ddb *ddb__of(struct http_req *r)
{
    return r->svc->ctx;
}

/* ---- operation handlers (R5); see table.c, update.c and item.c ---- */

int ddb_list_tables(struct http_req *r);
int ddb_create_table(struct http_req *r);
int ddb_describe_table(struct http_req *r);
int ddb_delete_table(struct http_req *r);
int ddb_update_table(struct http_req *r);
int ddb_put_item(struct http_req *r);
int ddb_get_item(struct http_req *r);
int ddb_delete_item(struct http_req *r);
int ddb_update_item(struct http_req *r);

/*
 * Queues op for the writer with r waiting for it: cont(r) runs once op's done() resumed r.
 * Returns 0, or -1 with ServiceUnavailable set when the store is shutting down (service.c).
 */
int ddb__submit_or_reply(struct http_req *r, struct store_op *op, int (*cont)(struct http_req *r));
/* Arena cleanups: free() and json_decref() of their argument. */
void ddb__free_cb(void *p);
void ddb__decref_cb(void *p);

/* ---- request validation, as DynamoDB words it (validate.c) ---- */

/* The "N validation error(s) detected: ..." list of constraint violations. */
struct ddb_verr {
    int n;
    char msg[2048];
    size_t len;
};

void ddb__verr_add(struct ddb_verr *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Fails r with the collected list. Returns -1. */
int ddb__verr_reply(struct http_req *r, struct ddb_verr *v);

/* Adds the constraint violations of a TableName member (null, length, pattern). */
void ddb__check_table_name(struct ddb_verr *v, const json_t *val, const char *member);
/* Validates a TableName member alone. Returns 0 with *out borrowed from r's body, or -1 with
 * ValidationException set. */
int ddb__table_name_or_reply(struct http_req *r, const json_t *v, const char *member,
                             const char **out);
/* Adds "Member must satisfy enum value set: [...]" when a string member is not one of set
 * (a NULL-terminated list, shown in that order). */
void ddb__check_enum(struct ddb_verr *v, const json_t *val, const char *member,
                     const char *const *set);

/* The JSON types the API's members are declared with. */
enum ddb_jtype {
    DDB_J_STRING,
    DDB_J_BOOLEAN,
    DDB_J_INTEGER,
    DDB_J_LONG,
    DDB_J_MAP,
    DDB_J_LIST,
    DDB_J_STRUCT,
};

/* DynamoDB's deserialiser answers a member of the wrong JSON type with SerializationException
 * before any validation. Returns 0 (also for absent and null members) or -1 with the error
 * set on r. */
int ddb__type_or_reply(struct http_req *r, const json_t *v, enum ddb_jtype t);

/* Fails r with an attribute-value error from attr.c. Returns -1. */
int ddb__attr_fail_or_reply(struct http_req *r, const struct ddb_err *err);

/* ---- the expression members of item requests (item_expr.c) ---- */

struct ddb_schema;

enum ddb_req_flags {
    DDB_REQ_CONDITION = 1 << 0,     /* ConditionExpression, Expected, ConditionalOperator */
    DDB_REQ_UPDATE = 1 << 1,        /* UpdateExpression, AttributeUpdates */
    DDB_REQ_PROJECTION = 1 << 2,    /* ProjectionExpression (AttributesToGet: GetItem's own) */
};

/* A request's parsed expressions (legacy members translated); from r's arena. */
struct ddb_req_expr {
    struct ddb_expr_ctx ctx;
    struct ddb_node *cond;
    struct ddb_update *update;
    struct ddb_proj *proj;
};

/* Does the request carry any member of the kinds in flags? Without one, the three stages
 * below have nothing to check, and the hot paths skip them. */
bool ddb__expr_members(const struct http_req *r, unsigned flags);
/* The JSON types of ExpressionAttributeNames' values, ExpressionAttributeValues and the
 * legacy members' insides (SerializationException). Returns 0 or -1 with the error set. */
int ddb__expr_types_or_reply(struct http_req *r, unsigned flags);
/* Which members go together (after the member constraints, before the item's values):
 * expression and non-expression members, ExpressionAttributeNames/Values without an
 * expression, empty expressions, ConditionalOperator without Expected. Returns 0 or -1. */
int ddb__expr_params_or_reply(struct http_req *r, unsigned flags);
/* The legacy members' checks, the substitutions, the parse of each expression and the
 * unused names and values, in DynamoDB's order. Fills *out. Returns 0 or -1. */
int ddb__expr_parse_or_reply(struct http_req *r, unsigned flags, struct ddb_req_expr *out);
/* An update's key rules, once the table is known: "Cannot update attribute pk. This
 * attribute is part of the key", and no document path below a key attribute. */
int ddb__update_key_or_reply(struct http_req *r, const struct ddb_schema *s,
                             const struct ddb_update *u);

/* ---- the catalog and the schema record (catalog.c) ---- */

/* enum of StreamViewType; 0 is "no stream". */
enum ddb_view {
    DDB_VIEW_NONE = 0,
    DDB_VIEW_KEYS_ONLY,
    DDB_VIEW_NEW_IMAGE,
    DDB_VIEW_OLD_IMAGE,
    DDB_VIEW_NEW_AND_OLD_IMAGES,
};

/*
 * A table's schema as the data plane needs it, decoded from ddb.schema (docs/formats.md,
 * "DynamoDB table schema"). The slices are borrowed from the transaction it was read in.
 */
struct ddb_schema {
    uint32_t id;
    struct sl_str hash;         /* key attribute names */
    struct sl_str range;        /* .len == 0: no range key */
    int hash_type;              /* DDB_S, DDB_N or DDB_B */
    int range_type;
    enum ddb_view view;         /* the enabled stream's view type, or NONE */
    struct sl_str stream_arn;   /* the enabled stream, when view != NONE */
};

/* Reads a table's schema in txn. Returns 0, -ENOENT (no such table), -EIO (damaged) or an
 * LMDB code. Any thread; the slices live as long as txn. */
int ddb__schema_get(struct ddb *d, MDB_txn *txn, const char *name, struct ddb_schema *out);

/* Reads a catalog entry into a new JSON object (the caller's), or NULL when absent. */
json_t *ddb__catalog_get(struct ddb *d, MDB_txn *txn, const char *name);
/*
 * Writes a catalog entry and the schema record derived from it (its KeySchema,
 * AttributeDefinitions, StreamSpecification and LatestStreamArn), for table id. Writer thread.
 * Returns 0 or an LMDB code.
 */
int ddb__catalog_put(struct ddb *d, MDB_txn *txn, const char *name, const json_t *entry,
                     uint32_t id);
/* Removes a table's catalog entry, schema and counters, and queues its items for reclaiming
 * (ddb__reclaim_kick() after the commit). Writer thread. */
int ddb__catalog_del(struct ddb *d, MDB_txn *txn, const char *name, uint32_t id);
/* Hands out the next table id and creates its counters. Writer thread. */
int ddb__table_id_new(struct ddb *d, MDB_txn *txn, uint32_t *id);

/* Item count and size of a table. Any thread. Returns 0 or an LMDB code. */
int ddb__counts_get(struct ddb *d, MDB_txn *txn, uint32_t id, uint64_t *items, uint64_t *bytes);
/* Adds to them. Writer thread. */
int ddb__counts_add(struct ddb *d, MDB_txn *txn, uint32_t id, int64_t items, int64_t bytes);

/* A TableDescription as DescribeTable shows it: the entry with ItemCount and TableSizeBytes.
 * New reference. */
json_t *ddb__describe(const json_t *entry, uint64_t items, uint64_t bytes);

/* Starts removing deleted tables' items in bounded writer ops, if any are waiting and none
 * is running. Any thread. */
void ddb__reclaim_kick(struct ddb *d);
/* Opens the databases, gives tables of older catalogs their schema record, and starts
 * reclaiming. Main thread, at start-up. */
int ddb__catalog_open(struct ddb *d);
/* Waits for the reclaim op in flight and queues no more. Main thread, at shutdown. */
void ddb__catalog_close(struct ddb *d);

/*
 * Starts a new stream for a table in txn (writer thread) and records it in entry
 * (StreamSpecification, LatestStreamLabel, LatestStreamArn). The label is the time at, or
 * the next free millisecond after it. Returns 0 or the error of strm_create() (update.c).
 */
int ddb__stream_start(struct ddb *d, MDB_txn *txn, const char *table, const char *table_arn,
                      json_t *entry, const char *view, const json_t *key_schema,
                      const struct timespec *at);

/* ---- item keys (key.c) ---- */

struct ddb_key {
    unsigned char b[DDB_KEY_LMDB_MAX];
    size_t len;
};

/* Why an item's or a Key's attributes do not make a key of the table. */
enum ddb_key_fail {
    DDB_KEY_OK = 0,
    DDB_KEY_MISSING,        /* PutItem: "Missing the key X in the item" */
    DDB_KEY_TYPE,           /* PutItem: "Type mismatch for key X expected: S actual: N" */
    DDB_KEY_SCHEMA,         /* Key maps: "The provided key element does not match the schema" */
    DDB_KEY_EMPTY_S,        /* an empty string key value */
    DDB_KEY_EMPTY_B,        /* an empty binary key value */
    DDB_KEY_HASH_SIZE,      /* over 2048 bytes */
    DDB_KEY_RANGE_SIZE,     /* over 1024 bytes */
    DDB_KEY_DAMAGED,        /* the encoded item could not be read */
};

struct ddb_key_err {
    enum ddb_key_fail why;
    char attr[256];         /* the key attribute concerned (a copy: it outlives the txn) */
    int expected, actual;   /* DDB_KEY_TYPE */
};

/*
 * Builds the LMDB key of an encoded item (PutItem's Item) or of an encoded Key map
 * (key_map: it must hold exactly the key attributes) under table s. Returns 0, or -1 with
 * *err saying why. item borrowed for the call.
 */
int ddb__key_of(const struct ddb_schema *s, const void *item, size_t n, bool key_map,
                struct ddb_key *out, struct ddb_key_err *err);
/* Fails r with the ValidationException DynamoDB answers for err. Returns -1. */
int ddb__key_fail_or_reply(struct http_req *r, const struct ddb_key_err *err);
/* The bytes a table's items start with (its id, big-endian). */
void ddb__key_prefix(uint32_t id, unsigned char out[4]);

/* ---- stream records (stream_record.c) ---- */

/*
 * Appends the record of one item change to the table's enabled stream, in txn (the writer's
 * nested transaction of the change): INSERT when only new is given, REMOVE when only old is,
 * MODIFY when both are, with Keys and the images s->view asks for. old and new are encoded
 * items (borrowed for the call). Writer thread. Returns 0, or the error of strm_append().
 */
int ddb__stream_record(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                       const void *old, size_t old_len, const void *new_, size_t new_len);

#endif
