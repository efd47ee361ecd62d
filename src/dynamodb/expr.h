/*
 * expr.h: DynamoDB's expression language inside src/dynamodb/ (R2): one lexer and one
 * recursive-descent parser for every expression kind (ConditionExpression, UpdateExpression,
 * ProjectionExpression, and the KeyConditionExpression and FilterExpression of Query and
 * Scan), the evaluator of conditions and projections, the applier of updates, and the value
 * cursor they share. Folder-private; never included from outside.
 *
 * What it is: pure functions over the request's expression strings and the binary item
 * encoding (docs/formats.md, "DynamoDB items"). Nothing here touches the store or HTTP, and
 * nothing goes through JSON: values from ExpressionAttributeValues are encoded once (attr.c),
 * conditions read attributes straight from the stored bytes, and updates and projections
 * write new encodings. Every function may run on any thread.
 *
 * The life of a request's expressions (how issue 5's Query, Scan, batches and transactions
 * use the same API):
 *
 *   ddb_expr_ctx_init()            one per request: its arena, ExpressionAttributeNames and
 *                                  the encoded ExpressionAttributeValues
 *   ddb_expr_parse_update()        UpdateExpression   -> struct ddb_update
 *   ddb_expr_parse_cond()          Condition/Filter/KeyCondition -> struct ddb_node tree
 *   ddb_expr_parse_proj()          ProjectionExpression -> struct ddb_proj
 *   ddb_expr_ctx_check_unused()    names and values no expression used (DynamoDB's error)
 *   ... then, per item (reads in a read txn, writes in the writer's apply):
 *   ddb_cond_eval(cond, item)      1 true, 0 false
 *   ddb_proj_apply(proj, item)     the projected item's encoding
 *   ddb_update_apply(upd, old)     the new item's encoding, or DynamoDB's runtime error
 *
 * Errors: each parse function returns -1 with DynamoDB's whole message in ctx->err ("Invalid
 * UpdateExpression: Syntax error; token: \"foo\", near: \"SET foo\""), to be sent as a
 * ValidationException. Parsing checks every limit before doing the work it bounds: 4 KB per
 * expression, 300 operators, 100 IN operands, 32 path levels, and the parser's own recursion
 * depth, so no request can make it recurse or allocate without bound.
 *
 * Invariants: the AST lives in the request's arena and points into it or into the request's
 * expression strings and encoded values (borrowed for the request's life). Paths are resolved
 * (placeholders substituted) at parse time. A parsed update has no two overlapping or
 * conflicting paths, which the applier relies on.
 */
#ifndef SL_DYNAMODB_EXPR_H
#define SL_DYNAMODB_EXPR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mem.h"
#include "core/str.h"
#include "dynamodb/attr.h"

/* "Service, account, and table quotas", Expression parameters. */
#define DDB_EXPR_MAX_LEN 4096
#define DDB_EXPR_MAX_OPERATORS 300
#define DDB_EXPR_MAX_IN 100
#define DDB_EXPR_MAX_PATH 32
/* The parser's recursion bound: deeper nesting must hold more than 300 operators or
 * redundant parentheses, both errors DynamoDB reports anyway. */
#define DDB_EXPR_MAX_NEST 400

/* ---- values ---- */

/* One attribute value as encoded: the type tag and its body as struct ddb_attr gives it
 * (S/N/B: the bytes; BOOL: one byte; NULL: empty; containers: count then entries). type 0
 * means absent. Borrowed from the bytes it was read from. */
struct ddb_val {
    int type;
    const unsigned char *p;
    size_t len;
};

/* A value read from an attribute. */
static inline struct ddb_val ddb_val_of(const struct ddb_attr *a)
{
    return (struct ddb_val){ a->type, a->val, a->val_len };
}

/* Walks an encoded container body (L, M or a set). */
struct ddb_iter {
    int type;                   /* the container's type */
    const unsigned char *p, *end;
    uint64_t left;
};

/* Returns 0, or -EINVAL for a damaged body. */
int ddb_iter_init(struct ddb_iter *it, const struct ddb_val *container);
/* The next member: for maps *name is set; set members come back as S, N or B values.
 * Returns 1, 0 at the end, -EINVAL when damaged. */
int ddb_iter_next(struct ddb_iter *it, struct sl_str *name, struct ddb_val *v);

/* Appends v (tag and body) to out. Returns 0 or -E2BIG. */
int ddb_val_put(struct buf *out, const struct ddb_val *v);
/* Appends a container (L, M or a set) of count members whose encoded members are
 * body[0..len). Returns 0 or -E2BIG. */
int ddb_val_put_container(struct buf *out, int type, uint64_t count, const void *body,
                          size_t len);
/* Appends a varint. Returns 0 or -E2BIG. */
int ddb_put_varint(struct buf *out, uint64_t v);

/* Equality as DynamoDB's = compares: same type and same value (encodings are canonical, so
 * the bytes decide; sets compare as sets). */
bool ddb_val_eq(const struct ddb_val *a, const struct ddb_val *b);
/* Order of two values of the same scalar type S, N or B (bytewise, numeric). Returns 0 with
 * *cmp set, or -EINVAL (other types or damaged numbers). */
int ddb_val_cmp(const struct ddb_val *a, const struct ddb_val *b, int *cmp);
/* Nesting height: scalars and empty containers 1, a container 1 + its highest member. */
int ddb_val_height(const struct ddb_val *v);
/* DynamoDB's size of an item given as its top-level attributes (names and values). */
size_t ddb_item_size(const void *item, size_t n);

/* ---- paths ---- */

struct ddb_path_elem {
    bool is_index;
    uint32_t index;             /* is_index */
    struct sl_str name;         /* !is_index: the resolved name */
};

struct ddb_path {
    struct ddb_path_elem *e;
    size_t n;                   /* 1..DDB_EXPR_MAX_PATH */
};

/* Order of path elements as the encoding keeps members: names bytewise, then indexes by
 * value. Returns <0, 0, >0. */
int ddb_path_elem_cmp(const struct ddb_path_elem *a, const struct ddb_path_elem *b);

/* Looks a document path up in an encoded item. Returns 1 with *out set, 0 when absent (also
 * when a step meets a value of the wrong kind), -EINVAL when damaged. */
int ddb_path_get(const void *item, size_t n, const struct ddb_path *p, struct ddb_val *out);
/* "[a, [1], b]", DynamoDB's way of naming a path in messages; from a. */
const char *ddb_path_text(struct arena *a, const struct ddb_path *p);

/* ---- the AST ---- */

enum ddb_node_kind {
    DDB_N_PATH = 1,     /* path */
    DDB_N_VALUE,        /* val (an ExpressionAttributeValue, or a legacy constant) */
    DDB_N_FUNC,         /* op = enum ddb_func, args */
    DDB_N_PLUS,         /* args[0] + args[1] */
    DDB_N_MINUS,
    DDB_N_CMP,          /* op = enum ddb_cmp, args[0] op args[1] */
    DDB_N_BETWEEN,      /* args[0] BETWEEN args[1] AND args[2] */
    DDB_N_IN,           /* args[0] IN (args[1..]) */
    DDB_N_AND,          /* all of args (two from the parser, any number from Expected) */
    DDB_N_OR,           /* any of args */
    DDB_N_NOT,
};

enum ddb_func {
    DDB_F_UNKNOWN = 0,
    DDB_F_ATTRIBUTE_EXISTS,
    DDB_F_ATTRIBUTE_NOT_EXISTS,
    DDB_F_ATTRIBUTE_TYPE,
    DDB_F_BEGINS_WITH,
    DDB_F_CONTAINS,
    DDB_F_SIZE,
    DDB_F_IF_NOT_EXISTS,
    DDB_F_LIST_APPEND,
    DDB_F_NOT_CONTAINS,     /* the legacy NOT_CONTAINS comparison (no expression syntax) */
};

enum ddb_cmp {
    DDB_CMP_EQ = 1,
    DDB_CMP_NE,
    DDB_CMP_LT,
    DDB_CMP_LE,
    DDB_CMP_GT,
    DDB_CMP_GE,
};

struct ddb_node {
    enum ddb_node_kind kind;
    int op;
    struct sl_str text;         /* the token: ":v" (VALUE), the function's name (FUNC) */
    uint32_t at;                /* the token's offset in the expression (for ordering) */
    struct ddb_path path;
    struct ddb_val val;
    struct ddb_node **args;
    size_t nargs;
};

enum ddb_action_kind {
    DDB_ACT_SET = 1,
    DDB_ACT_REMOVE,
    DDB_ACT_ADD,
    DDB_ACT_DELETE,
};

enum ddb_action_flags {
    /* AttributeUpdates' ADD and DELETE: lists can be added to, and the wrong type is "Type
     * mismatch for attribute to update". */
    DDB_ACT_LEGACY = 1 << 0,
};

struct ddb_action {
    enum ddb_action_kind kind;
    unsigned flags;             /* enum ddb_action_flags */
    struct ddb_path path;
    struct ddb_node *value;     /* SET: the right-hand side; ADD, DELETE: the operand */
};

struct ddb_update {
    struct ddb_action *a;
    size_t n;
};

struct ddb_proj {
    struct ddb_path *paths;
    size_t n;
};

/* ---- parsing ---- */

enum ddb_expr_kind {
    DDB_EXPR_CONDITION = 0,
    DDB_EXPR_UPDATE,
    DDB_EXPR_PROJECTION,
    DDB_EXPR_KEY_CONDITION,
    DDB_EXPR_FILTER,
};

/* "ConditionExpression", ... (static text). */
const char *ddb_expr_kind_name(enum ddb_expr_kind k);

struct ddb_expr_name {
    struct sl_str key;          /* "#n" */
    struct sl_str value;
    bool used;
};

struct ddb_expr_value {
    struct sl_str key;          /* ":v" */
    struct ddb_val v;           /* encoded (arena) */
    bool used;
};

/* The substitutions of one request, shared by its expressions. */
struct ddb_expr_ctx {
    struct arena *a;
    struct ddb_expr_name *names;
    size_t n_names;
    struct ddb_expr_value *values;
    size_t n_values;
    struct ddb_expr_name **names_by_key;     /* sorted by key, for the lookups */
    struct ddb_expr_value **values_by_key;
    char err[1536];             /* DynamoDB's message after a failure */
};

/*
 * Reads ExpressionAttributeNames and ExpressionAttributeValues (either may be NULL) as
 * DynamoDB validates them: not empty, keys "#..." and ":..." of [A-Za-z0-9_]+, values
 * encoded with DynamoDB's attribute value errors ("ExpressionAttributeValues contains
 * invalid value: ... for key :v"). The JSON types must have been checked already (the
 * request's SerializationExceptions come first: ddb_expr_values_types()). Returns 0, or -1
 * with err filled (kind VALIDATION). names, values and a borrowed for the request.
 */
int ddb_expr_ctx_init(struct ddb_expr_ctx *c, struct arena *a, const json_t *names,
                      const json_t *values, struct ddb_err *err);
/* The SerializationException of an ExpressionAttributeValues member, if any (a holds the
 * trees the check reads). Returns 0, or -1 with err filled. */
int ddb_expr_values_types(const json_t *values, struct arena *a, struct ddb_err *err);

/* Parse functions: s[0..n) borrowed for the request. Return 0, or -1 with c->err set. */
int ddb_expr_parse_cond(struct ddb_expr_ctx *c, enum ddb_expr_kind kind, const char *s,
                        size_t n, struct ddb_node **out);
int ddb_expr_parse_update(struct ddb_expr_ctx *c, const char *s, size_t n,
                          struct ddb_update **out);
int ddb_expr_parse_proj(struct ddb_expr_ctx *c, const char *s, size_t n,
                        struct ddb_proj **out);
/* After the request's expressions are parsed: "Value provided in ExpressionAttributeNames
 * unused in expressions: keys: {#a, #b}" (names first, then values). Returns 0 or -1. */
int ddb_expr_ctx_check_unused(struct ddb_expr_ctx *c);

/* Path overlap and conflict between the paths of a projection or an update, with DynamoDB's
 * message ("Two document paths overlap with each other; ..."). Returns 0, or -1 with msg
 * filled. */
int ddb_paths_check(struct arena *a, const struct ddb_path *const *paths, size_t n, char *msg,
                    size_t msg_len);

/* ---- evaluating ---- */

/* Evaluates a condition against an encoded item (item NULL: no item). Returns 1 true,
 * 0 false, -EINVAL when the item is damaged. */
int ddb_cond_eval(const struct ddb_node *cond, const void *item, size_t n);

/*
 * Writes the encoding of the item keeping only the projected paths (nested map members and
 * list elements, lists compacted, as GetItem returns them) to out. Returns 0, -EINVAL
 * (damaged) or -E2BIG. item borrowed for the call.
 */
int ddb_proj_apply(const struct ddb_proj *p, const void *item, size_t n, struct buf *out);
/* The same for the paths an update touched (ReturnValues UPDATED_OLD / UPDATED_NEW). */
int ddb_update_project(const struct ddb_update *u, struct arena *a, const void *item, size_t n,
                       struct buf *out);

/*
 * Applies an update to the old item (NULL: none; the new item then starts from key, the
 * encoded Key map) and writes the new item's encoding to out (a buf with a maximum). The
 * right-hand sides are all read from the old item before anything is written, list indexes
 * refer to the old lists, and SET past a list's end appends in index order, as DynamoDB does.
 * Returns 0, or -1 with err filled with DynamoDB's runtime error ("The document path provided
 * in the update expression is invalid for update", "An operand in the update expression has
 * an incorrect data type", number overflow, "Item size to update has exceeded the maximum
 * allowed size", ...). a is scratch for the call.
 */
int ddb_update_apply(const struct ddb_update *u, const void *old, size_t old_n, const void *key,
                     size_t key_n, struct arena *a, struct buf *out, struct ddb_err *err);

/* ---- the lexer (expr_lex.c) ---- */

enum ddb_tok {
    DDB_T_EOF = 0,
    DDB_T_ID,           /* [A-Za-z][A-Za-z0-9_]* that is not a keyword */
    DDB_T_NAME,         /* #[A-Za-z0-9_]+ */
    DDB_T_VALUE,        /* :[A-Za-z0-9_]+ */
    DDB_T_INDEX,        /* 0 | [1-9][0-9]* */
    DDB_T_EQ, DDB_T_NE, DDB_T_LT, DDB_T_LE, DDB_T_GT, DDB_T_GE,
    DDB_T_PLUS, DDB_T_MINUS,
    DDB_T_LPAREN, DDB_T_RPAREN, DDB_T_LBRACK, DDB_T_RBRACK, DDB_T_COMMA, DDB_T_DOT,
    DDB_T_IN, DDB_T_BETWEEN, DDB_T_NOT, DDB_T_AND, DDB_T_OR,
    DDB_T_SET, DDB_T_ADD, DDB_T_DELETE, DDB_T_REMOVE,
    DDB_T_OTHER,        /* anything else: a quoted string, a stray character */
};

struct ddb_token {
    enum ddb_tok t;
    uint32_t off, len;          /* in the expression */
};

/* Splits s into tokens (arena array, ending with DDB_T_EOF). Never fails: what is not a
 * token becomes DDB_T_OTHER, for the parser's syntax error. Returns the token count, EOF
 * included. */
size_t ddb_lex(struct arena *a, const char *s, size_t n, struct ddb_token **out);
/* DynamoDB's syntax error for the token at i: 'Syntax error; token: "x", near: "a x b"'. */
void ddb_lex_syntax_error(const char *s, size_t n, const struct ddb_token *toks, size_t i,
                          char *out, size_t out_len);
/* Is name one of DynamoDB's reserved words (any case)? */
bool ddb_reserved(const char *name, size_t len);

#endif
