/*
 * ddb_int.h: declarations shared inside src/dynamodb/ (R2); never included from outside.
 *
 * The service's named databases (docs/formats.md, "DynamoDB catalog", "DynamoDB table
 * schema", "DynamoDB item keys"):
 *   ddb.tables   table name -> the TableDescription (JSON text), for the control plane;
 *   ddb.schema   table name -> the binary schema record the data plane reads per request;
 *   ddb.items    table id + key encoding -> the item encoding;
 *   ddb.index    index id + index key + table key encoding -> the projected item
 *                (docs/formats.md, "DynamoDB index entries");
 *   ddb.collections  table id + hash key encoding -> the size of the item collection (tables
 *                with local secondary indexes only);
 *   ddb.counts   table or index id -> item count and size, kept exact by every write;
 *   ddb.meta     "table_id" -> the last table or index id handed out;
 *   ddb.reclaim  table or index id -> nothing: a deleted table or index whose items or entries
 *                are still being removed;
 *   ddb.tokens   a TransactWriteItems ClientRequestToken -> when it was used and the hash of
 *                its request (docs/formats.md, "DynamoDB idempotency tokens");
 *   ddb.expiry   expiry index id + expiry time -> the item keys expiring then (duplicates):
 *                the items the time-to-live sweeper may delete, in expiry order
 *                (docs/formats.md, "DynamoDB expiry index").
 */
#ifndef SL_DYNAMODB_INT_H
#define SL_DYNAMODB_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "core/mem.h"
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

/* Secondary indexes ("Service, account, and table quotas", Secondary indexes). */
#define DDB_MAX_GSI 20
#define DDB_MAX_LSI 5
#define DDB_MAX_INDEXES (DDB_MAX_GSI + DDB_MAX_LSI)
#define DDB_MAX_NONKEY 100              /* projected non-key attributes, all indexes together */
#define DDB_INDEX_ENTRY_OVERHEAD 100    /* bytes DynamoDB adds to the size of an index entry */
#define DDB_COLLECTION_MAX (10ull * 1024 * 1024 * 1024)   /* an LSI table's item collection */
/* The longest key of a table or an index before shortening: the id, then up to four key
 * values (index hash and range, table hash and range), every byte escaped. */
#define DDB_FULLKEY_MAX (4 + 2 * (2 * DDB_PK_MAX + 2) + 2 * (2 * DDB_SK_MAX + 2))
/* Items of a table copied into a new global secondary index per writer op. */
#define DDB_BACKFILL_BATCH 1000

struct ddb {
    struct store *st;
    struct strm *streams;       /* the change log tables with streams append to */
    MDB_dbi tables;
    MDB_dbi schema;
    MDB_dbi items;
    MDB_dbi index;
    MDB_dbi collections;
    MDB_dbi counts;
    MDB_dbi meta;
    MDB_dbi reclaim;
    MDB_dbi tokens;             /* ddb.tokens: ClientRequestToken -> time and request hash */
    MDB_dbi expiry;             /* ddb.expiry: (expiry index id, time) -> item keys */
    /* TransactWriteItems with a ClientRequestToken queued or running in the writer, linked
     * through ddb_tx.inflight_next, under tx_mu (txn.c). */
    pthread_mutex_t tx_mu;
    struct ddb_tx *tx_inflight;
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

    /* Backfilling new global secondary indexes: at most one op in flight (backfill.c), under
     * d->mu like reclaiming. */
    struct store_op backfill_op;
    bool backfill_more;         /* set by the op: more items or indexes wait */
    bool backfill_busy;
    bool backfill_again;

    /* The time-to-live sweeper (ttl.c): its thread, started by ddb_ttl_start(), sleeps
     * ttl_interval seconds between sweeps on ttl_cv, and stops when ttl_stop is set. */
    pthread_t ttl_thread;
    bool ttl_running;
    bool ttl_stop;
    unsigned ttl_interval;
    pthread_mutex_t ttl_mu;
    pthread_cond_t ttl_cv;

    /* The writer's scratch for ddb__item_write() (writer thread only). */
    struct buf w_old;           /* a copy of the old item, safe from the writes that follow */
    struct buf w_entry;         /* an index entry being built */
    /* The largest item collection a table with local secondary indexes may hold
     * (DDB_COLLECTION_MAX; a field so that tests can reach it without 10 GB of items). */
    uint64_t collection_max;
};

/* A request member that is there and not JSON null (DynamoDB treats a null member as absent). */
static inline bool ddb__present(const json_t *v)
{
    return v && !json_is_null(v);
}

/* A malloc'd copy of the n bytes at p, its length in *len. */
static inline char *ddb__dup(const void *p, size_t n, size_t *len)
{
    *len = n;
    return xmemdup(p, n);
}

/* item.c: encodes an Item or Key map (absent or null: *out NULL) into a malloc'd buffer freed
 * with r. A SerializationException is answered at once (-1); a value error is kept in *verr
 * for later, as DynamoDB reports the member constraints first. Returns 0 or -1. */
struct ddb_err;
int ddb__map_encode_or_reply(struct http_req *r, const json_t *map, const char **out,
                             size_t *len, size_t *size, struct ddb_err *verr);

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
int ddb_query(struct http_req *r);
int ddb_scan(struct http_req *r);
/* PartiQL (partiql_exec.c). */
int ddb_execute_statement(struct http_req *r);
int ddb_batch_execute_statement(struct http_req *r);
int ddb_execute_transaction(struct http_req *r);
int ddb_batch_get_item(struct http_req *r);
int ddb_batch_write_item(struct http_req *r);
int ddb_transact_write_items(struct http_req *r);
int ddb_transact_get_items(struct http_req *r);
/* ttl.c, tags.c, account.c */
int ddb_update_time_to_live(struct http_req *r);
int ddb_describe_time_to_live(struct http_req *r);
int ddb_tag_resource(struct http_req *r);
int ddb_untag_resource(struct http_req *r);
int ddb_list_tags_of_resource(struct http_req *r);
int ddb_describe_limits(struct http_req *r);
int ddb_describe_endpoints(struct http_req *r);

/*
 * Queues op for the writer with r waiting for it: cont(r) runs once op's done() resumed r.
 * Returns 0, or -1 with ServiceUnavailable set when the store is shutting down (service.c).
 */
int ddb__submit_or_reply(struct http_req *r, struct store_op *op, int (*cont)(struct http_req *r));
/* Arena cleanups: free() and json_decref() of their argument. */
void ddb__free_cb(void *p);
void ddb__decref_cb(void *p);

/* Stops the time-to-live sweeper and joins its thread; nothing when it never started
 * (ttl.c). Main thread, in ddb_free(). */
void ddb__ttl_stop(struct ddb *d);
/* What a sweep did: expiry entries read, items deleted. */
struct ddb_ttl_stats {
    size_t entries;
    size_t deleted;
};
/* One sweep, as of time now (epoch seconds): the expired items of every table with time to
 * live enabled are deleted; then the tables DISABLING since the last sweep become DISABLED.
 * Adds to *st. The sweeper's thread (or a test's or a benchmark's, with no sweeper
 * running); it waits for its writer ops. */
void ddb__ttl_sweep(struct ddb *d, long long now, struct ddb_ttl_stats *st);

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
/* True when ddb__check_table_name() finds nothing wrong with the name s. */
bool ddb__table_name_ok(const char *s);
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

/* ---- tags (tags.c) ---- */

/* The JSON types, constraints and rules of a Tags list (TagResource, CreateTable): keys and
 * values, "aws:", duplicates, 50 at most. Returns 0 or -1 with the error set. */
int ddb__tags_check_or_reply(struct http_req *r, const json_t *tags);
/* A checked Tags list as a catalog entry keeps it ("SluiceTags"). New reference. */
json_t *ddb__tags_new(const json_t *tags);

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
/* A QueryFilter or ScanFilter (map) as one condition, joined by ConditionalOperator, with
 * DynamoDB's checks of each entry (values, their number and types, BETWEEN's order). *out is
 * NULL for an empty map. Returns 0 or -1 with the error set. */
int ddb__legacy_filter_or_reply(struct http_req *r, const json_t *map, struct ddb_node **out);
struct ddb_keycond;
/* Query's KeyConditions (map) as key condition terms, with the same checks and "Conditions
 * can be of length 1 or 2 only". Returns 0 or -1 with the error set. */
int ddb__legacy_keycond_or_reply(struct http_req *r, const json_t *map,
                                 struct ddb_keycond *out);
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

/* An index's Projection. */
enum ddb_proj_type {
    DDB_PROJ_KEYS_ONLY = 0,
    DDB_PROJ_INCLUDE,
    DDB_PROJ_ALL,
};

/* A secondary index as the data plane needs it (part of struct ddb_schema). */
struct ddb_index {
    uint32_t id;                /* the prefix of its entries in ddb.index */
    bool local;                 /* a local secondary index */
    bool backfilling;           /* IndexStatus CREATING: the backfill is under way */
    struct sl_str name;
    struct sl_str hash, range;  /* key attribute names; range.len == 0: no range key */
    int hash_type, range_type;
    enum ddb_proj_type proj;
    const unsigned char *nonkey;    /* INCLUDE: n_nonkey names, each a u8 length and bytes */
    size_t nonkey_len;
    unsigned n_nonkey;
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
    size_t n_index;             /* global and local secondary indexes, in catalog order */
    bool has_lsi;               /* item collections are counted and limited */
    /* Time to live enabled: the id of the table's expiry index (its entries' prefix in
     * ddb.expiry) and the attribute; ttl_id 0: time to live is not enabled. */
    uint32_t ttl_id;
    struct sl_str ttl_attr;
    struct ddb_index index[DDB_MAX_INDEXES];
};

/* The index of s named name, or NULL. */
const struct ddb_index *ddb__index_find(const struct ddb_schema *s, struct sl_str name);

/* Reads a table's schema in txn. Returns 0, -ENOENT (no such table), -EIO (damaged) or an
 * LMDB code. Any thread; the slices live as long as txn. */
int ddb__schema_get(struct ddb *d, MDB_txn *txn, const char *name, struct ddb_schema *out);

/* Reads a catalog entry into a new JSON object (the caller's), or NULL when absent. */
json_t *ddb__catalog_get(struct ddb *d, MDB_txn *txn, const char *name);
/*
 * Writes a catalog entry and the schema record derived from it (its KeySchema,
 * AttributeDefinitions, StreamSpecification, LatestStreamArn and its indexes with their
 * "SluiceIndexId"), for table id. Writer thread. Returns 0, -EINVAL (an entry that does not
 * describe a table) or an LMDB code.
 */
int ddb__catalog_put(struct ddb *d, MDB_txn *txn, const char *name, const json_t *entry,
                     uint32_t id);
/* Removes a table's catalog entry, schema and counters (its indexes' too), and queues its
 * items and index entries for reclaiming (ddb__reclaim_kick() after the commit). s is the
 * table's schema, read in txn. Writer thread. */
int ddb__catalog_del(struct ddb *d, MDB_txn *txn, const char *name, const struct ddb_schema *s);
/* Queues the entries of one dropped index for reclaiming and removes its counters. Writer
 * thread. */
int ddb__index_drop(struct ddb *d, MDB_txn *txn, uint32_t index_id);
/* Hands out the next table or index id and creates its counters. Writer thread. */
int ddb__table_id_new(struct ddb *d, MDB_txn *txn, uint32_t *id);

/* Item count and size of a table. Any thread. Returns 0 or an LMDB code. */
int ddb__counts_get(struct ddb *d, MDB_txn *txn, uint32_t id, uint64_t *items, uint64_t *bytes);
/* Adds to them. Writer thread. */
int ddb__counts_add(struct ddb *d, MDB_txn *txn, uint32_t id, int64_t items, int64_t bytes);

/* A TableDescription as DescribeTable shows it: the entry with ItemCount and TableSizeBytes,
 * and each index with its ItemCount and IndexSizeBytes read in txn (txn NULL: zero) and
 * without sluice's own members. New reference. Any thread. */
json_t *ddb__describe(struct ddb *d, MDB_txn *txn, const json_t *entry, uint64_t items,
                      uint64_t bytes);

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

/* ---- index definitions (index.c) ---- */

/* The JSON types inside a GlobalSecondaryIndexes (gsi) or LocalSecondaryIndexes list
 * (SerializationException). Returns 0 or -1 with the error set. */
int ddb__index_list_types_or_reply(struct http_req *r, const json_t *list, bool gsi);
/* Adds the constraint violations of one index definition ix, whose members are named from
 * at ("globalSecondaryIndexes.1.member"). */
void ddb__index_constraints(struct ddb_verr *ve, const json_t *ix, const char *at, bool gsi);
/* CreateTable's rules on its index definitions (in: the request), after the table's own key
 * rules: defined key attributes, LSIs on the table's hash key, projections, throughput
 * against the billing mode mode, unique names, the limits, and every AttributeDefinition
 * used by some key. Returns 0 or -1 with a ValidationException set. */
int ddb__index_rules_or_reply(struct http_req *r, const json_t *in, const char *mode);
/* The catalog's description of index definition ix (new reference): IndexName, KeySchema,
 * Projection, and for a GSI IndexStatus status ("ACTIVE", "CREATING": Backfilling) and its
 * ProvisionedThroughput (zero under PAY_PER_REQUEST); IndexArn. */
json_t *ddb__index_describe(const json_t *ix, bool gsi, const char *table_arn,
                            const char *mode, const char *status);
/* Gives the indexes of entry without one (all: every index) a new id, "SluiceIndexId".
 * Writer thread. Returns 0 or an LMDB code. */
int ddb__index_ids_assign(struct ddb *d, MDB_txn *txn, json_t *entry, bool all);
/* The rules of one index definition ix alone (key attributes defined in in's
 * AttributeDefinitions, key types in order, projection; with mode, the throughput against
 * it), as CreateTable checks each of its indexes. Returns 0 or -1 with the error set. */
int ddb__index_rule_or_reply(struct http_req *r, const json_t *in, const json_t *ix, bool gsi,
                             const char *mode);

/* ---- UpdateTable's GlobalSecondaryIndexUpdates and the backfill (backfill.c) ---- */

/* The JSON types inside GlobalSecondaryIndexUpdates and AttributeDefinitions of an
 * UpdateTable request in (SerializationException). Returns 0 or -1 with the error set. */
int ddb__gsi_updates_types_or_reply(struct http_req *r, const json_t *in);
/* Adds their member constraints to ve ("globalSecondaryIndexUpdates.1.member.create..."). */
void ddb__gsi_updates_constraints(struct ddb_verr *ve, const json_t *in);
/* The rules on the request alone: one action per update, one update per index, one index
 * created or deleted per request, the definitions of a created index. Returns 0 or -1. */
int ddb__gsi_updates_rules_or_reply(struct http_req *r, const json_t *in);

/* What ddb__gsi_updates_apply() did or why it refused (set afresh by each call). */
struct ddb_gsi_result {
    int fail;                   /* 0, or why (backfill.c) */
    char index[256];            /* the index concerned */
    long long cur_r, cur_w, req_r, req_w;   /* an unchanged throughput */
    bool created;               /* an index to backfill: ddb__backfill_kick() after commit */
    bool deleted;               /* entries to reclaim: ddb__reclaim_kick() after commit */
    char updated[256];          /* an index whose throughput changed ("" none) */
};

/*
 * Applies in's GlobalSecondaryIndexUpdates to the catalog entry of table (and, for the
 * billing mode change from prev_mode to the entry's mode, the indexes' throughput): a
 * created index gets an id, IndexStatus CREATING and a backfill cursor in ddb.meta; a deleted
 * one leaves the schema at once, its entries queued for reclaiming, and is shown DELETING
 * until they are gone. Writer thread. Returns 0, -EINVAL with res->fail set, or an LMDB code.
 */
int ddb__gsi_updates_apply(struct ddb *d, MDB_txn *txn, const char *table, json_t *entry,
                           const json_t *in, const char *prev_mode, double now,
                           struct ddb_gsi_result *res);
/* Fails r with the error of a refused update (res->fail set). Returns -1. */
int ddb__gsi_fail_or_reply(struct http_req *r, const char *table,
                           const struct ddb_gsi_result *res);
/* Appends to list (a description's GlobalSecondaryIndexes, created when absent) the indexes
 * of entry being deleted whose entries txn still holds, with IndexStatus DELETING. */
void ddb__gsi_deleting_describe(struct ddb *d, MDB_txn *txn, const json_t *entry, json_t *desc);
/* Starts the backfill of new indexes in bounded writer ops, if any waits and none runs. Any
 * thread. */
void ddb__backfill_kick(struct ddb *d);
/* Queues the backfill of index id (a secondary index, or a table's expiry index) of table:
 * its cursor in ddb.meta, at the table's first item. Writer thread; ddb__backfill_kick()
 * after the commit. Returns 0 or an LMDB code. */
int ddb__backfill_queue(struct ddb *d, MDB_txn *txn, const char *table, uint32_t id);

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
/* The message of that ValidationException, written to out (a transaction's cancellation
 * reason carries it). */
void ddb__key_err_msg(const struct ddb_key_err *err, char *out, size_t n);
/* The bytes a table's items start with (its id, big-endian). */
void ddb__key_prefix(uint32_t id, unsigned char out[4]);

/*
 * A keyspace: the items of a table, or the entries of one of its indexes, in key order. Its
 * LMDB keys are the id, then the encodings of parts[0..n): for a table its hash and range
 * key; for an index its own hash and range key, then those of the table's key attributes
 * that are not already among them (so that every entry has a key of its own, and entries
 * with equal index keys are in table key order). own is 1 or 2: the parts that are the
 * keyspace's own key (what a Query's key condition is on).
 */
struct ddb_keypart {
    struct sl_str name;
    int type;
};

struct ddb_keyspace {
    uint32_t id;
    const struct ddb_index *index;  /* NULL: the table's items */
    size_t n, own;
    struct ddb_keypart part[4];
};

/* The keyspace of table s (ix NULL) or of its index ix. Slices borrowed from s. */
void ddb__keyspace_of(const struct ddb_schema *s, const struct ddb_index *ix,
                      struct ddb_keyspace *out);

/*
 * The full (not shortened) key of an item in keyspace ks, written to full (DDB_FULLKEY_MAX
 * bytes). Returns 0 with *len set, or -1 with *err saying why: DDB_KEY_MISSING (for an index:
 * the item is not in it), DDB_KEY_TYPE, DDB_KEY_EMPTY_S/B, DDB_KEY_HASH_SIZE or
 * DDB_KEY_RANGE_SIZE (only the keyspace's own parts are checked for these two: a table's key
 * attributes were checked when the item was written). item borrowed for the call.
 */
int ddb__keyspace_key(const struct ddb_keyspace *ks, const void *item, size_t n,
                      unsigned char *full, size_t *len, struct ddb_key_err *err);
/* The LMDB key of a full key: itself, or when longer than DDB_KEY_SHORT_MAX its first
 * DDB_KEY_SHORT_MAX bytes and its SHA-256. */
void ddb__key_store(const unsigned char *full, size_t len, struct ddb_key *out);
/* Is an LMDB key of ddb.items or ddb.index a shortened (long) one? */
static inline bool ddb__key_is_long(size_t len)
{
    return len == DDB_KEY_LMDB_MAX;
}

/* ---- the write of one item (write.c) ---- */

enum ddb_write_flags {
    /* A deletion by the time-to-live sweeper: its stream record carries the service's
     * userIdentity, as DynamoDB's TTL deletions do. */
    DDB_WRITE_BY_TTL = 1 << 0,
};

/* ---- the expiry index of tables with time to live (ttl.c, write.c) ---- */

/* "Items with an expiration time older than five years are not deleted" (the developer
 * guide's "Time to Live"). */
#define DDB_TTL_MAX_AGE (5LL * 365 * 86400)
/* The key of an expiry index entry: the index id and the expiry time, both big-endian. */
#define DDB_EXPIRY_KEY_LEN 12

/* The expiry time of an item of a table whose time-to-live attribute is attr: true with *at
 * when the attribute is a Number of epoch seconds from 0 to 2^62 (a fraction rounds up:
 * an item expires once now >= *at), false otherwise (no attribute, another type, a negative
 * value, which can never be within five years of now): such an item never expires. */
bool ddb__ttl_expiry(const void *item, size_t n, struct sl_str attr, uint64_t *at);
/* Is an item expiring at `at` to be deleted at now: past, and not more than five years
 * past? */
static inline bool ddb__ttl_due(uint64_t at, long long now)
{
    return (long long)at <= now && (long long)at >= now - DDB_TTL_MAX_AGE;
}
/* The ddb.expiry key of index id at time at (DDB_EXPIRY_KEY_LEN bytes). */
void ddb__expiry_key(uint32_t id, uint64_t at, unsigned char out[DDB_EXPIRY_KEY_LEN]);
/* Adds the expiry entry of one stored item (a backfill), nothing when it never expires;
 * an entry already there stays. Writer thread. Returns 0 or an LMDB code. */
int ddb__expiry_add(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                    const struct ddb_key *key, const void *item, size_t n);

/* Codes of ddb__item_write() and ddb__index_keys_check(), below the store's (R12). */
#define DDB_WRITE_INDEX_KEY (-31101)        /* an index key value the index cannot hold */
#define DDB_WRITE_COLLECTION_FULL (-31102)  /* the item collection would pass its limit */

/* What ddb__item_write() did, set afresh by each call. */
struct ddb_write {
    uint32_t old_size, new_size;    /* DynamoDB's sizes of the old and new item (0: none) */
    bool changed;                   /* false: nothing to do (the same item, or no item) */
    bool appended;                  /* a stream record was appended: strm_notify() after the
                                       commit */
    /* DDB_WRITE_INDEX_KEY: which index refused which attribute, and why */
    char index_name[256];
    struct ddb_key_err kerr;
    /* tables with local secondary indexes: the size of the item's collection after the
     * write (ReturnItemCollectionMetrics) */
    uint64_t collection_size;
};

/*
 * The single place where an item is written: every write path (PutItem, UpdateItem,
 * DeleteItem, and the batches, transactions and TTL deletions built on them) calls it, so
 * that each change does, in txn (the writer's nested transaction of the change), all of:
 * the item itself in ddb.items (new_ NULL: deleted), its entries in every secondary index
 * (removed, moved or added; an item without an index's key attributes is not in it), the
 * item collection's size (tables with local secondary indexes, refused past
 * d->collection_max), the item's entry in the expiry index (tables with time to live), the
 * table's and the indexes' counters, and the stream record. Nothing
 * is written, and no record appended, when new_ equals old or both are NULL.
 *
 * s is the table's schema read in txn; key the item's LMDB key under s; old the item stored
 * now (NULL: none) and new_ the item to store, both encoded and borrowed for the call (old may
 * point into the map: it is copied before anything is written). flags: enum ddb_write_flags.
 * Fills *w. Returns 0, DDB_WRITE_INDEX_KEY (an index key attribute of new_ has the wrong
 * type, is empty, or is too long: nothing was written), DDB_WRITE_COLLECTION_FULL, or an LMDB
 * or stream error; on any error the caller's apply() fails, so its nested transaction rolls
 * back. Writer thread.
 */
int ddb__item_write(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                    const struct ddb_key *key, const void *old, size_t old_len,
                    const void *new_, size_t new_len, unsigned flags, struct ddb_write *w);

/* The index key checks of ddb__item_write() alone, for an item about to be written (a
 * handler checks PutItem's Item before queueing it, as DynamoDB validates it before the
 * condition). Returns 0 or DDB_WRITE_INDEX_KEY with w->index_name and w->kerr. Any thread. */
int ddb__index_keys_check(const struct ddb_schema *s, const void *item, size_t n,
                          struct ddb_write *w);

/* Fails r with DynamoDB's error for a write that returned DDB_WRITE_INDEX_KEY or
 * DDB_WRITE_COLLECTION_FULL (a ValidationException naming the index, or
 * ItemCollectionSizeLimitExceededException). Returns -1. */
int ddb__write_fail_or_reply(struct http_req *r, int rc, const struct ddb_write *w);
/* The message of that error, written to out (a transaction's cancellation reason). */
void ddb__write_err_msg(int rc, const struct ddb_write *w, char *out, size_t n);

/* ---- the change of one item (write.c): decided and made in the writer's transaction ---- */

enum ddb_change_kind {
    DDB_CHANGE_PUT = 0,         /* item replaces what is there */
    DDB_CHANGE_UPDATE,          /* update applied to what is there (none: to the Key) */
    DDB_CHANGE_DELETE,
    DDB_CHANGE_CHECK,           /* the condition alone: nothing is written */
};

enum ddb_change_flags {
    DDB_CHANGE_ABSENT = 1 << 0,     /* an item there refuses the change (DDB_CHANGE_EXISTS),
                                       before the condition: PartiQL's INSERT */
    DDB_CHANGE_REKEY = 1 << 1,      /* a table replaced since the key was built is taken as it
                                       is when the key fits it too (the key is built again):
                                       PartiQL, whose statements name their item by value */
    DDB_CHANGE_RVOCCF = 1 << 2,     /* ReturnValuesOnConditionCheckFailure ALL_OLD: a false
                                       condition leaves the item there in ret */
    DDB_CHANGE_DRY = 1 << 3,        /* decide only, write nothing; an update leaves the new
                                       item in new_ (a transaction's first pass) */
};

/* The item a change answers with (ReturnValues, PartiQL's RETURNING), in the order of both. */
enum ddb_change_ret {
    DDB_RET_NONE = 0,
    DDB_RET_ALL_OLD,
    DDB_RET_UPDATED_OLD,        /* the paths the update names, as they were */
    DDB_RET_ALL_NEW,
    DDB_RET_UPDATED_NEW,
};

/* What ddb__change_apply() returns besides 0 and ddb__item_write()'s codes. */
#define DDB_CHANGE_CONDITION_FAILED (-31103)  /* the condition is false */
#define DDB_CHANGE_EXISTS (-31104)            /* DDB_CHANGE_ABSENT and the item is there */
#define DDB_CHANGE_UPDATE_FAILED (-31105)     /* the update cannot be applied: uerr says why */

struct ddb_change {
    /* Set by the caller; borrowed, they must outlive the op. */
    enum ddb_change_kind kind;
    unsigned flags;                 /* enum ddb_change_flags */
    const char *table;
    uint32_t table_id;              /* the table key was built for (REKEY: updated) */
    struct ddb_key *key;            /* the item's LMDB key (REKEY: built again) */
    const char *item;               /* PUT: the encoded item; the others: the encoded Key */
    size_t item_len;
    const struct ddb_node *cond;    /* NULL: none */
    const struct ddb_update *update;    /* UPDATE (NULL: an update with no action) */
    enum ddb_change_ret ret;
    /* Set by ddb__change_apply(), afresh on each call. */
    struct ddb_write wr;            /* wr.old_size as soon as the item is read */
    struct ddb_err uerr;            /* DDB_CHANGE_UPDATE_FAILED: DynamoDB's message */
    char *ret_item;                 /* the item to answer with, or NULL (malloc) */
    size_t ret_len;
    char *new_;                     /* DRY UPDATE: the updated item (malloc) */
    size_t new_len;
};

/*
 * The write step every single-item change goes through (PutItem, UpdateItem, DeleteItem, a
 * transaction's actions, PartiQL's writes): in txn, the table's schema again (into *s), the
 * stored item, PartiQL's absence rule, the condition, the update applied to the old item (its
 * runtime errors and the 400 KB limit are ddb_update_apply()'s), the item to answer with, and
 * the write through ddb__item_write(). ret_item and new_ of an earlier call are freed first,
 * so c starts zeroed; after the last call they are the caller's to free.
 * Returns 0, -ENOENT (the table is gone), -ESTALE (replaced since the key was built),
 * DDB_CHANGE_CONDITION_FAILED, DDB_CHANGE_EXISTS, DDB_CHANGE_UPDATE_FAILED, ddb__item_write()'s
 * codes, -EIO (a damaged item) or an LMDB code; nothing is written on any error, so the
 * caller's apply() fails and its nested transaction rolls back. Writer thread.
 */
int ddb__change_apply(struct ddb *d, MDB_txn *txn, struct ddb_change *c, struct ddb_schema *s);

/* Fails r with DynamoDB's error for what ddb__change_apply() returned (not 0 nor -ESTALE,
 * which each caller handles its own way): ResourceNotFoundException,
 * ConditionalCheckFailedException (with the Item that ret_item holds),
 * DuplicateItemException, the update's or the write's ValidationException,
 * ItemCollectionSizeLimitExceededException, or an internal error logged with what. Returns
 * -1. */
int ddb__change_fail_or_reply(struct http_req *r, int rc, const struct ddb_change *c,
                              const char *what);

/* Appends "ItemCollectionMetrics":{"ItemCollectionKey":{<hash key of item>},
 * "SizeEstimateRangeGB":[lo,hi]} for a collection of size bytes. Returns 0 or -E2BIG. */
int ddb__collection_metrics_append(struct buf *b, const struct ddb_schema *s,
                                   const void *item, size_t n, uint64_t size);
/* The current size of the item collection of item's hash key (tables with local secondary
 * indexes). Any thread. Returns 0 or an LMDB code. */
int ddb__collection_size(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                         const void *item, size_t n, uint64_t *size);

/*
 * Adds one stored item's entry to index ix (a backfill): nothing when the item lacks the
 * index key or holds a value of the wrong type for it (DynamoDB's backfill leaves such items
 * out), the counters updated when an entry is new. Writer thread. Returns 0 or an LMDB code.
 */
int ddb__index_add(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                   const struct ddb_index *ix, const void *item, size_t n);

/*
 * Writes to out the encoded item made of the attributes of item (encoded) that index ix
 * projects: all of them (ALL), or the table's and the index's key attributes and (INCLUDE)
 * its NonKeyAttributes. Returns 0, -EINVAL (damaged) or -E2BIG. Any thread.
 */
int ddb__index_project(const struct ddb_schema *s, const struct ddb_index *ix,
                       const void *item, size_t n, struct buf *out);
/* Does index ix hold attribute name (a key attribute of the table or the index, or a
 * projected one)? */
bool ddb__index_projects(const struct ddb_schema *s, const struct ddb_index *ix,
                         struct sl_str name);

/* ---- range walks (range.c) ---- */

/* memcmp order, a prefix before its extensions: the order of full keys. */
int ddb__key_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen);
/* Turns p[0..n) into the smallest byte string greater than every string it is a prefix of
 * (the last byte below 0xFF incremented, the rest dropped). Returns the new length, 0 when
 * there is none (all 0xFF). */
size_t ddb__key_succ(unsigned char *p, size_t n);
/* The length of the key value encoding of type at p (at most n bytes), or 0 when it does not
 * end within them. */
size_t ddb__key_part_len(const unsigned char *p, size_t n, int type);
/* The parallel-scan segment (0..total-1) of a hash key value whose key encoding is p[0..n). */
uint32_t ddb__segment_of(const unsigned char *p, size_t n, uint32_t total);

/*
 * One walk over the entries of keyspace ks (in dbi: ddb.items or ddb.index) whose full keys
 * are in [lo, hi), in key order (backward: descending), only those of segment when total > 1.
 * visit() gets each entry's stored value (valid for the txn) and returns 0 to go on, 1 to
 * stop (the page is full) or a negative error; room() says how many more entries, and how
 * many more bytes of items, the page can take (it bounds what a long-key group keeps).
 */
struct ddb_walk {
    MDB_txn *txn;
    MDB_dbi dbi;
    const struct ddb_keyspace *ks;
    const unsigned char *lo, *hi;
    size_t lo_len, hi_len;
    bool backward;
    uint32_t segment, total;
    int (*visit)(void *ctx, const void *val, size_t len);
    void (*room)(void *ctx, size_t *count, uint64_t *bytes);
    void *ctx;
};

/* Returns 0 (the range ended or the visitor stopped) or a negative error (an LMDB code,
 * -EIO for a damaged entry, or the visitor's). Any thread, in a read or write txn. */
int ddb__walk(struct ddb_walk *w);

/* ---- key conditions (keycond.c) ---- */

enum ddb_kc_op {
    DDB_KC_EQ = 1,
    DDB_KC_LT,
    DDB_KC_LE,
    DDB_KC_GT,
    DDB_KC_GE,
    DDB_KC_BETWEEN,
    DDB_KC_BEGINS_WITH,
    DDB_KC_OTHER,           /* KeyConditions' NE, IN, NULL, ...: not an indexable operation */
};

/* One condition on one key attribute, the attribute on the left. */
struct ddb_kc_term {
    struct sl_str attr;
    enum ddb_kc_op op;
    struct ddb_val v[2];    /* BETWEEN: both; OTHER: none needed */
    size_t nv;
};

/* A Query's key condition: one or two terms, from KeyConditionExpression or KeyConditions. */
struct ddb_keycond {
    size_t n;
    struct ddb_kc_term t[2];
    bool legacy;            /* from KeyConditions: its own words for some errors */
};

/*
 * Reads a parsed KeyConditionExpression into *out, with DynamoDB's errors for what a key
 * condition cannot hold ("Invalid operator used in KeyConditionExpression: OR",
 * "KeyConditionExpressions must only contain one condition per key", "Conditions can be of
 * length 1 or 2 only", ...), written to err. Returns 0 or -1.
 */
int ddb__keycond_from_expr(const struct ddb_node *x, struct ddb_keycond *out, char *err,
                           size_t errlen);

/* The range of full keys a key condition selects in keyspace ks: [lo, hi). */
struct ddb_range {
    unsigned char lo[DDB_FULLKEY_MAX + 1];
    unsigned char hi[DDB_FULLKEY_MAX + 1];
    size_t lo_len, hi_len;
};

/*
 * Checks kc against keyspace ks as DynamoDB does once the table is known ("Query condition
 * missed key schema element: x", "Query key condition not supported", "Attempted conditional
 * constraint is not an indexable operation", "Condition parameter type does not match schema
 * type") and computes its range. Returns 0, or -1 with the message in err.
 */
int ddb__keycond_range(const struct ddb_keycond *kc, const struct ddb_keyspace *ks,
                       struct ddb_range *out, char *err, size_t errlen);
/* The term of kc on attribute attr, or NULL. */
const struct ddb_kc_term *ddb__keycond_term(const struct ddb_keycond *kc, struct sl_str attr);
/* Does value v (of the attribute's type) satisfy term t? */
bool ddb__keycond_match(const struct ddb_kc_term *t, const struct ddb_val *v);

/* ---- stream records (stream_record.c) ---- */

/*
 * Appends the record of one item change to the table's enabled stream, in txn (the writer's
 * nested transaction of the change): INSERT when only new is given, REMOVE when only old is,
 * MODIFY when both are, with Keys and the images s->view asks for. old and new are encoded
 * items (borrowed for the call). by_ttl: a time-to-live deletion, whose record names the
 * service as its userIdentity. Writer thread. Returns 0, or the error of strm_append().
 */
int ddb__stream_record(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                       const void *old, size_t old_len, const void *new_, size_t new_len,
                       bool by_ttl);

/* ---- transactions: a list of item actions, all or nothing, in one writer op (txn.c) ---- */

/*
 * The transaction core that TransactWriteItems and BatchWriteItem (transact.c, batch.c) and
 * PartiQL's ExecuteTransaction build on. A caller parses its own request into actions, then:
 *
 *   ddb__tx_prepare_or_reply()  HTTP thread: each table's schema, each action's key, the key
 *                               and index key rules, no two actions on one item
 *   ddb__tx_submit_or_reply()   queues the op; the writer checks the token, evaluates every
 *                               condition and update on the items as they are, and only when
 *                               all pass writes every change (items, index entries, counters,
 *                               stream records) in one nested transaction, so that a
 *                               transaction's stream records commit together
 *   ddb__tx_outcome_or_reply()  in the caller's continuation: 0 applied (or replayed), 1 run
 *                               again (the table was replaced meanwhile), -1 the error set
 *
 * Serializable: the writer runs one op at a time, so no other write interleaves between a
 * transaction's reads and its writes.
 */
#define DDB_TX_MAX 100                      /* actions of a TransactWriteItems */
#define DDB_TX_SIZE_MAX (4u * 1024 * 1024)  /* their aggregate size */
#define DDB_TX_TOKEN_TTL 600                /* seconds a ClientRequestToken is remembered */

enum ddb_tx_kind {
    DDB_TX_PUT = DDB_CHANGE_PUT,       /* the same values: an action is a change */
    DDB_TX_UPDATE = DDB_CHANGE_UPDATE,
    DDB_TX_DELETE = DDB_CHANGE_DELETE,
    DDB_TX_CHECK = DDB_CHANGE_CHECK,
};

/* A CancellationReasons entry's Code. */
enum ddb_tx_reason {
    DDB_TXR_NONE = 0,
    DDB_TXR_CONDITION,          /* ConditionalCheckFailed */
    DDB_TXR_VALIDATION,         /* ValidationError, with msg */
    DDB_TXR_COLLECTION,         /* ItemCollectionSizeLimitExceeded */
    DDB_TXR_DUPLICATE,          /* DuplicateItem: a PartiQL INSERT of an existing item */
    DDB_TXR_REQUEST,            /* not a reason: the request's own ValidationException (msg),
                                   as DynamoDB answers an empty index key value an update
                                   writes */
};

struct ddb_tx_action {
    /* Set by the caller (borrowed: they must outlive the request, e.g. in r's arena). */
    enum ddb_tx_kind kind;
    const char *table;
    const char *item;           /* PUT: the encoded Item; the others: the encoded Key */
    size_t item_len;
    uint32_t item_size;         /* DynamoDB's size of item */
    const struct ddb_node *cond;        /* NULL: no condition */
    const struct ddb_update *update;    /* UPDATE (NULL: an update with no action) */
    bool rvoccf;                /* ReturnValuesOnConditionCheckFailure ALL_OLD */
    bool insert;                /* PUT: PartiQL's INSERT, which an existing item cancels with
                                   DuplicateItem */
    /* Set by ddb__tx_prepare_or_reply(). */
    uint32_t table_id;
    bool has_lsi;
    struct ddb_key key;
    /* Set by the writer, afresh on each run (the buffers are freed with the request). */
    enum ddb_tx_reason reason;
    char msg[512];              /* DDB_TXR_VALIDATION: DynamoDB's message */
    char *old;                  /* ConditionalCheckFailed with rvoccf: the item (malloc) */
    size_t old_len;
    char *new_;                 /* UPDATE: the updated item (malloc) */
    size_t new_len;
    uint32_t old_size;          /* DynamoDB's size of the item there (0: none) */
    struct ddb_write wr;        /* what the write did */
};

enum ddb_tx_flags {
    /* BatchWriteItem: its duplicate message; a refused action is the request's own error
     * rather than a cancellation reason. */
    DDB_TX_BATCH = 1 << 0,
};

struct ddb_tx {
    struct store_op base;
    struct ddb *d;
    struct http_req *r;
    unsigned flags;             /* enum ddb_tx_flags */
    struct ddb_tx_action *a;    /* n actions, in request order */
    size_t n;
    const char *token;          /* ClientRequestToken, or NULL */
    unsigned char req_hash[32]; /* with a token: the hash of the rest of the request */
    struct ddb_tx *inflight_next;   /* d->tx_inflight's list (with a token) */
    bool inflight;
    /* Set by the writer, afresh on each run. */
    bool replayed;              /* the token's request was applied before: nothing written */
    bool appended;              /* some stream record was appended */
    int (*cont)(struct http_req *r);
};

/* Reads each action's table and builds its key, with DynamoDB's errors: ResourceNotFound
 * for a missing table; a ValidationException for an empty or oversized key value, a key
 * update, or two actions on one item ("Transaction request cannot include multiple operations
 * on one item"; with DDB_TX_BATCH "Provided list of item keys contains duplicates"); and a
 * TransactionCanceledException whose reasons carry a key that does not match the schema.
 * HTTP thread. Returns 0 or -1 with the error set. */
int ddb__tx_prepare_or_reply(struct http_req *r, struct ddb_tx *tx);
/* Queues tx (prepared; zeroed when allocated, from r's arena, and first in the caller's own
 * op struct, which r->op_ctx then points at) for the writer; cont(r) then runs on an HTTP
 * thread and calls ddb__tx_outcome_or_reply(). Returns 0, or -1 with the error set
 * (TransactionInProgressException when another request with tx's ClientRequestToken is
 * queued or running). */
int ddb__tx_submit_or_reply(struct http_req *r, struct ddb_tx *tx,
                            int (*cont)(struct http_req *r));
/* What the writer did: 0 applied (tx->replayed: by an earlier request with the token), 1
 * submitted again after the table was replaced (cont runs again; return 0 from it), or -1
 * with the error set (TransactionCanceledException with CancellationReasons in request
 * order, IdempotentParameterMismatchException, ResourceNotFoundException, ...). */
int ddb__tx_outcome_or_reply(struct http_req *r, struct ddb_tx *tx);
/* Sets up the token lock (ddb.tokens is opened by ddb__catalog_open()). Main thread, at
 * start-up. */
void ddb__tx_open(struct ddb *d);
/* Releases what ddb__tx_open() made. Main thread, at shutdown. */
void ddb__tx_close(struct ddb *d);

#endif
