/*
 * partiql.h: DynamoDB's PartiQL inside src/dynamodb/ (R2): the parser of the statements
 * ExecuteStatement, BatchExecuteStatement and ExecuteTransaction carry, and the translation
 * of a parsed statement, once its table's schema is known, into what the rest of the folder
 * already runs: key conditions, conditions, updates and projections of expr.h. Folder-private;
 * never included from outside.
 *
 * What it is: the subset of PartiQL the developer guide's "PartiQL - a SQL-compatible query
 * language for Amazon DynamoDB" describes: SELECT (a projection, FROM "table" or
 * "table"."index", WHERE, ORDER BY on the key), INSERT INTO ... VALUE {...}, UPDATE ... SET /
 * REMOVE ... WHERE and DELETE FROM ... WHERE, with PartiQL's literals (strings, numbers,
 * booleans, null, lists, maps and sets) and '?' parameters. Nothing here touches the store or
 * HTTP: conditions are struct ddb_node trees that ddb_cond_eval() evaluates, updates are
 * struct ddb_update that ddb_update_apply() applies. No second evaluator exists.
 *
 * Invariants: the parse lives in the arena it was given (values encoded once, JSON trees
 * released with the arena). Every limit is checked before the work it bounds: the statement's
 * length (DDB_PQL_MAX_LEN), the parser's recursion depth, path depth and IN operands.
 */
#ifndef SL_DYNAMODB_PARTIQL_H
#define SL_DYNAMODB_PARTIQL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/mem.h"
#include "core/str.h"
#include "dynamodb/ddb_int.h"

/* ExecuteStatement's Statement: 1 to 8192 characters (API reference). */
#define DDB_PQL_MAX_LEN 8192
/* The parser's recursion bound (parentheses, NOT, nested literals). */
#define DDB_PQL_MAX_NEST 64

enum ddb_pql_kind {
    DDB_PQL_SELECT = 1,
    DDB_PQL_INSERT,
    DDB_PQL_UPDATE,
    DDB_PQL_DELETE,
    DDB_PQL_EXISTS,             /* EXISTS(SELECT ...): a transaction's condition check */
};

/* RETURNING (UPDATE, DELETE): the values of the change's answer, which the write takes. */
enum ddb_pql_ret {
    DDB_PQL_RET_NONE = DDB_RET_NONE,
    DDB_PQL_RET_ALL_OLD = DDB_RET_ALL_OLD,
    DDB_PQL_RET_MODIFIED_OLD = DDB_RET_UPDATED_OLD,
    DDB_PQL_RET_ALL_NEW = DDB_RET_ALL_NEW,
    DDB_PQL_RET_MODIFIED_NEW = DDB_RET_UPDATED_NEW,
};

struct ddb_pql_order {
    struct sl_str attr;
    bool desc;
};

/* One parsed statement (from the arena given to ddb_pql_parse()). */
struct ddb_pql {
    enum ddb_pql_kind kind;
    char *table;                /* NUL-terminated */
    char *index;                /* SELECT FROM "table"."index"; NULL: the table */
    struct ddb_proj *proj;      /* SELECT: the paths; NULL: * */
    struct ddb_node *where;     /* NULL: no WHERE */
    struct ddb_update *update;  /* UPDATE */
    const char *item;           /* INSERT: the encoded item */
    size_t item_len;
    size_t item_size;           /* DynamoDB's size of it */
    struct ddb_pql_order order[2];
    size_t n_order;
    enum ddb_pql_ret returning;
};

/*
 * Parses statement s[0..n) with its Parameters (a JSON array of AttributeValues, or NULL),
 * each '?' taking the next one. Returns 0, or -1 with DynamoDB's ValidationException message
 * in err ("Statement wasn't well formed, can't be processed: ...", "Number of parameters in
 * request and statement don't match.", an attribute value's error, ...). s and params are
 * borrowed for the arena's life. Any thread.
 */
int ddb_pql_parse(struct arena *a, const char *s, size_t n, const json_t *params,
                  struct ddb_pql *out, struct ddb_err *err);

/* A WHERE split against a key: the equality or range terms on the key attributes, and the
 * rest of the conjuncts as one condition. */
struct ddb_pql_split {
    struct ddb_keycond kc;     /* the key terms: the hash term first */
    bool has_hash;              /* a hash key equality was found */
    bool has_range_eq;          /* a range key equality was found */
    struct ddb_val hash_v, range_v;
    struct ddb_node *rest;      /* NULL: nothing else */
};

/*
 * Splits where (may be NULL) against the key attributes hash and range (range.len 0: none):
 * the first top-level conjunct "hash = value" becomes the hash term; for SELECT (range_terms)
 * the first indexable conjunct on range (=, <, <=, >, >=, BETWEEN, begins_with) the range
 * term, otherwise only a range equality. The other conjuncts become rest (an n-ary AND, from
 * a). Any thread.
 */
void ddb_pql_split(struct arena *a, struct ddb_node *where, struct sl_str hash,
                   struct sl_str range, bool range_terms, struct ddb_pql_split *out);

/* The JSON AttributeValue of a scalar key value (S, N or B), for building Key maps; NULL for
 * other types. New reference. */
json_t *ddb_pql_key_json(const struct ddb_val *v);

/* ---- execution through Query and Scan (query.c) ---- */

/* A SELECT as one page of a Query (a key condition on the keyspace's hash key) or a Scan. */
struct ddb_read {
    const char *table;
    struct sl_str index;            /* .p NULL: the table */
    bool scan;
    struct ddb_keycond kc;          /* !scan */
    struct ddb_node *filter;        /* NULL: none */
    struct ddb_proj *proj;          /* NULL: every attribute (an index: its projection) */
    uint32_t limit;                 /* 0: none */
    bool consistent, backward;
    const char *esk;                /* the page starts after this key (encoded); NULL: none */
    size_t esk_len;
    int rcc;                        /* ReturnConsumedCapacity: 0 NONE, 1 TOTAL, 2 INDEXES */
    /* Appends the NextToken of a full page whose LastEvaluatedKey is the JSON text
     * lek[0..len) to out. Returns 0 or -E2BIG. */
    int (*token)(const struct ddb_read *rd, const char *lek, size_t len, struct buf *out);
    const void *ctx;                /* the token's */
};

/*
 * Answers ExecuteStatement's {"Items":[...]} for one page of rd, with NextToken and
 * LastEvaluatedKey when the page is full: Query's and Scan's checks against the table and
 * its index, walk, Limit and 1 MB page. rd is borrowed for the call. Returns 0 with the
 * answer set, or -1 with the error set. HTTP thread.
 */
int ddb__read_or_reply(struct http_req *r, const struct ddb_read *rd);

#endif
