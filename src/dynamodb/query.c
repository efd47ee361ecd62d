/*
 * query.c: the DynamoDB operations that read many items, Query and Scan, on a table or on
 * one of its secondary indexes.
 *
 * What it is: request validation in DynamoDB's order and words (JSON types, member
 * constraints, which members go together, the legacy members' checks, the expressions,
 * then, with the table: the index, the ExclusiveStartKey, the key condition against the
 * key schema, the filter against the keys, Select against the projection), then one page
 * read in one read transaction: a walk over the range the key condition selects (range.c),
 * each entry evaluated against the filter after it counts toward the page's limits, and the
 * answer written straight from the stored bytes.
 *
 * Pages: a page ends after Limit entries or once the sizes of the entries read reach 1 MB,
 * both counted before the filter, as DynamoDB counts them; LastEvaluatedKey is then the key
 * of the last entry read (the table's key attributes and, for an index, the index's), even
 * when the filter dropped it and even when nothing follows it. Count is what passed the
 * filter, ScannedCount what was read. Consumed capacity: the sizes read rounded up to 4 KB,
 * one unit each, half of one when eventually consistent; for a local index read with items
 * fetched from the table, the index's and the table's parts apart.
 *
 * Indexes: an index's entries hold its projection (write.c). ALL_PROJECTED_ATTRIBUTES
 * answers them as they are; a local index fetches the table's item for ALL_ATTRIBUTES and
 * for attributes it does not project, as DynamoDB does; a global index refuses those.
 *
 * What it is not: the key condition's rules (keycond.c), the walk (range.c), the
 * expression language (expr_*.c).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"
#include "dynamodb/partiql.h"

static const char content_type[] = "application/x-amz-json-1.0";
static const char invalid[] = "One or more parameter values were invalid: ";
static const char bad_start[] = "The provided starting key is invalid: The provided key element "
                                "does not match the schema";

/* The data a page may read before it ends ("Query and Scan": 1 MB). */
#define PAGE_BYTES (1024 * 1024)
/* The answer's buffer: a page's items as JSON, with room for escapes and base64. */
#define ANSWER_MAX (64u * 1024 * 1024)
#define SEGMENTS_MAX 1000000

enum select {
    SEL_DEFAULT = 0,
    SEL_ALL,
    SEL_PROJECTED,
    SEL_SPECIFIC,
    SEL_COUNT,
};

enum rcc {
    RCC_NONE = 0,
    RCC_TOTAL,
    RCC_INDEXES,
};

/* One Query or Scan request, as validated (from r's arena and body). */
struct req {
    bool scan;
    const char *table;
    struct sl_str index;            /* .p NULL: the table */
    enum select sel;
    uint32_t limit;                 /* 0: none */
    bool consistent;
    bool backward;
    long segment, total;            /* -1: not given */
    struct ddb_keycond kc;
    struct ddb_node *filter;
    bool legacy_filter;             /* QueryFilter / ScanFilter rather than FilterExpression */
    struct ddb_proj *proj;          /* ProjectionExpression */
    struct sl_str *atg;             /* AttributesToGet */
    size_t n_atg;
    const char *esk;                /* ExclusiveStartKey, encoded (NULL: none) */
    size_t esk_len;
    enum rcc rcc;
    const struct ddb_read *pql;     /* a PartiQL SELECT: its answer's shape, no key checks */
    struct ddb_expr_ctx ctx;
};

static const json_t *member(const struct http_req *r, const char *name)
{
    return json_object_get(r->json, name);
}

/* ---- validation without the table ---- */

/* A KeyConditions, QueryFilter or ScanFilter map: its JSON types. */
static int conditions_types_or_reply(struct http_req *r, const json_t *map)
{
    const char *k;
    json_t *c;
    struct ddb_err err;

    if (ddb__type_or_reply(r, map, DDB_J_MAP) < 0) {
        return -1;
    }
    json_object_foreach((json_t *)map, k, c)
    {
        const json_t *avl = json_object_get(c, "AttributeValueList");
        size_t i;
        const json_t *e;
        if (ddb__type_or_reply(r, c, DDB_J_STRUCT) < 0 ||
            ddb__type_or_reply(r, json_object_get(c, "ComparisonOperator"), DDB_J_STRING) < 0 ||
            ddb__type_or_reply(r, avl, DDB_J_LIST) < 0) {
            return -1;
        }
        json_array_foreach(avl, i, e)
        {
            if (ddb_value_types(e, &r->arena, &err) < 0) {
                return ddb__attr_fail_or_reply(r, &err);
            }
        }
    }
    return 0;
}

static int types_or_reply(struct http_req *r, bool scan)
{
    static const struct {
        const char *name;
        enum ddb_jtype type;
    } types[] = {
        { "TableName", DDB_J_STRING },
        { "IndexName", DDB_J_STRING },
        { "Select", DDB_J_STRING },
        { "AttributesToGet", DDB_J_LIST },
        { "Limit", DDB_J_INTEGER },
        { "ConsistentRead", DDB_J_BOOLEAN },
        { "ConditionalOperator", DDB_J_STRING },
        { "ScanIndexForward", DDB_J_BOOLEAN },
        { "ExclusiveStartKey", DDB_J_MAP },
        { "ReturnConsumedCapacity", DDB_J_STRING },
        { "ProjectionExpression", DDB_J_STRING },
        { "FilterExpression", DDB_J_STRING },
        { "KeyConditionExpression", DDB_J_STRING },
        { "ExpressionAttributeNames", DDB_J_MAP },
        { "ExpressionAttributeValues", DDB_J_MAP },
        { "Segment", DDB_J_INTEGER },
        { "TotalSegments", DDB_J_INTEGER },
    };
    const json_t *esk = member(r, "ExclusiveStartKey");
    const json_t *ean = member(r, "ExpressionAttributeNames");
    const json_t *atg = member(r, "AttributesToGet");
    const char *k;
    json_t *v;
    size_t i;
    struct ddb_err err;

    for (i = 0; i < sizeof types / sizeof types[0]; i++) {
        bool query_only = strcmp(types[i].name, "ScanIndexForward") == 0 ||
                          strcmp(types[i].name, "KeyConditionExpression") == 0;
        bool scan_only = strcmp(types[i].name, "Segment") == 0 ||
                         strcmp(types[i].name, "TotalSegments") == 0;
        if ((scan && query_only) || (!scan && scan_only)) {
            continue;
        }
        if (ddb__type_or_reply(r, member(r, types[i].name), types[i].type) < 0) {
            return -1;
        }
    }
    if (conditions_types_or_reply(r, member(r, scan ? "ScanFilter" : "QueryFilter")) < 0 ||
        (!scan && conditions_types_or_reply(r, member(r, "KeyConditions")) < 0)) {
        return -1;
    }
    json_array_foreach(atg, i, v)
    {
        if (ddb__type_or_reply(r, v, DDB_J_STRING) < 0) {
            return -1;
        }
    }
    if (json_is_object(esk)) {
        json_object_foreach((json_t *)esk, k, v)
        {
            if (ddb_value_types(v, &r->arena, &err) < 0) {
                return ddb__attr_fail_or_reply(r, &err);
            }
        }
    }
    if (json_is_object(ean)) {
        json_object_foreach((json_t *)ean, k, v)
        {
            if (ddb__type_or_reply(r, v, DDB_J_STRING) < 0) {
                return -1;
            }
        }
    }
    if (ddb_expr_values_types(member(r, "ExpressionAttributeValues"), &r->arena, &err) < 0) {
        return ddb__attr_fail_or_reply(r, &err);
    }
    return 0;
}

/* The ComparisonOperators of a conditions map against their constraints. */
static void conditions_constraints(struct ddb_verr *ve, const json_t *map, const char *at)
{
    static const char *const ops[] = { "IN", "NULL", "BETWEEN", "LT", "NOT_CONTAINS", "EQ", "GT",
                                       "NOT_NULL", "NE", "LE", "BEGINS_WITH", "GE", "CONTAINS",
                                       NULL };
    const char *k;
    json_t *c;
    json_object_foreach((json_t *)map, k, c)
    {
        char path[400];
        snprintf(path, sizeof path, "%s.%.300s.member.comparisonOperator", at, k);
        if (!ddb__present(json_object_get(c, "ComparisonOperator"))) {
            ddb__verr_add(ve, "Value null at '%s' failed to satisfy constraint: Member must not "
                              "be null",
                          path);
        }
        ddb__check_enum(ve, json_object_get(c, "ComparisonOperator"), path, ops);
    }
}

/* A number member against its bounds ([lo, hi]; hi < 0: none). */
static void check_range(struct ddb_verr *ve, const json_t *v, const char *at, json_int_t lo,
                        json_int_t hi)
{
    json_int_t n;
    if (!ddb__present(v)) {
        return;
    }
    n = json_is_integer(v) ? json_integer_value(v) : (json_int_t)json_real_value(v);
    if (n < lo) {
        ddb__verr_add(ve, "Value '%lld' at '%s' failed to satisfy constraint: Member must have "
                          "value greater than or equal to %lld",
                      (long long)n, at, (long long)lo);
    }
    else if (hi >= 0 && n > hi) {
        ddb__verr_add(ve, "Value '%lld' at '%s' failed to satisfy constraint: Member must have "
                          "value less than or equal to %lld",
                      (long long)n, at, (long long)hi);
    }
}

static int constraints_or_reply(struct http_req *r, bool scan)
{
    static const char *const selects[] = { "SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES",
                                           "ALL_PROJECTED_ATTRIBUTES", NULL };
    static const char *const rccs[] = { "INDEXES", "TOTAL", "NONE", NULL };
    static const char *const cops[] = { "OR", "AND", NULL };
    const json_t *atg = member(r, "AttributesToGet");
    struct ddb_verr ve = { 0 };

    ddb__check_enum(&ve, member(r, "Select"), "select", selects);
    if (ddb__present(member(r, "IndexName"))) {
        ddb__check_table_name(&ve, member(r, "IndexName"), "indexName");
    }
    ddb__check_enum(&ve, member(r, "ReturnConsumedCapacity"), "returnConsumedCapacity", rccs);
    conditions_constraints(&ve, member(r, scan ? "ScanFilter" : "QueryFilter"),
                           scan ? "scanFilter" : "queryFilter");
    ddb__check_table_name(&ve, member(r, "TableName"), "tableName");
    ddb__check_enum(&ve, member(r, "ConditionalOperator"), "conditionalOperator", cops);
    if (ddb__present(atg) && json_array_size(atg) == 0) {
        ddb__verr_add(&ve, "Value '[]' at 'attributesToGet' failed to satisfy constraint: "
                           "Member must have length greater than or equal to 1");
    }
    check_range(&ve, member(r, "Limit"), "limit", 1, -1);
    if (scan) {
        check_range(&ve, member(r, "Segment"), "segment", 0, SEGMENTS_MAX - 1);
        check_range(&ve, member(r, "TotalSegments"), "totalSegments", 1, SEGMENTS_MAX);
    }
    else {
        conditions_constraints(&ve, member(r, "KeyConditions"), "keyConditions");
    }
    return ve.n ? ddb__verr_reply(r, &ve) : 0;
}

/* Which members go together: expressions and the legacy members never mix (KeyConditions
 * may come with the other expressions when there is no KeyConditionExpression), and
 * ExpressionAttributeNames/Values only with expressions. */
static int params_or_reply(struct http_req *r, bool scan)
{
    static const char *const exprs[] = { "ProjectionExpression", "FilterExpression",
                                         "KeyConditionExpression" };
    static const char *const legacy[] = { "AttributesToGet", "QueryFilter", "ConditionalOperator",
                                          "KeyConditions" };
    char e[128] = "", l[128] = "";
    size_t eo = 0, lo = 0;
    bool kce = !scan && ddb__present(member(r, "KeyConditionExpression"));

    for (size_t i = 0; i < (scan ? 2u : 3u); i++) {
        if (ddb__present(member(r, exprs[i]))) {
            eo += (size_t)snprintf(e + eo, sizeof e - eo, "%s%s", eo ? ", " : "", exprs[i]);
        }
    }
    for (size_t i = 0; i < 4; i++) {
        const char *name = i == 1 && scan ? "ScanFilter" : legacy[i];
        if ((i == 3 && (scan || !kce)) || !ddb__present(member(r, name))) {
            continue;
        }
        lo += (size_t)snprintf(l + lo, sizeof l - lo, "%s%s", lo ? ", " : "", name);
    }
    if (eo && lo) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Can not use both expression and non-expression parameters in the "
                             "same request: Non-expression parameters: {%s} Expression "
                             "parameters: {%s}",
                             l, e);
    }
    if (ddb__present(member(r, "ExpressionAttributeNames")) && !eo) {
        return http_req_fail(r, AWSERR_VALIDATION, "ExpressionAttributeNames can only be specified "
                                                   "when using expressions");
    }
    if (ddb__present(member(r, "ExpressionAttributeValues")) &&
        !ddb__present(member(r, "FilterExpression")) && !kce) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "ExpressionAttributeValues can only be specified when using "
                             "expressions: %s",
                             scan ? "FilterExpression is null"
                                  : "FilterExpression and KeyConditionExpression are null");
    }
    return 0;
}

static int attributes_to_get_or_reply(struct http_req *r, struct req *q)
{
    const json_t *atg = member(r, "AttributesToGet");
    size_t i;
    const json_t *e;

    if (!ddb__present(atg)) {
        return 0;
    }
    q->n_atg = json_array_size(atg);
    q->atg = arena_alloc(&r->arena, (q->n_atg ? q->n_atg : 1) * sizeof *q->atg);
    json_array_foreach(atg, i, e)
    {
        q->atg[i] = (struct sl_str){ json_string_value(e), json_string_length(e) };
        for (size_t j = 0; j < i; j++) {
            if (sl_str_eq(q->atg[i], q->atg[j])) {
                return http_req_fail(r, AWSERR_VALIDATION,
                                     "%sDuplicate value in attribute name: %s", invalid,
                                     q->atg[i].p);
            }
        }
    }
    return 0;
}

/* ExclusiveStartKey's values, encoded as an item. */
static int start_key_or_reply(struct http_req *r, struct req *q)
{
    const json_t *esk = member(r, "ExclusiveStartKey");
    struct buf b;
    struct ddb_err err;
    size_t size;
    size_t len;

    if (!ddb__present(esk)) {
        return 0;
    }
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_item_encode(esk, &r->arena, &b, &size, &err) < 0) {
        buf_release(&b);
        return http_req_fail(r, AWSERR_VALIDATION, "The provided starting key is invalid: %s",
                             err.msg);
    }
    q->esk = buf_detach(&b, &len);
    q->esk_len = len;
    arena_on_clear(&r->arena, ddb__free_cb, (void *)q->esk);
    return 0;
}

/* The expressions: substitutions, then KeyConditionExpression, FilterExpression,
 * ProjectionExpression, then the unused substitutions. */
static int expressions_or_reply(struct http_req *r, struct req *q)
{
    static const char *const names[] = { "KeyConditionExpression", "FilterExpression",
                                         "ProjectionExpression" };
    const json_t *e[3];
    struct ddb_node *kce = NULL;
    struct ddb_err err;
    bool any = false;

    for (size_t i = 0; i < 3; i++) {
        e[i] = i == 0 && q->scan ? NULL : member(r, names[i]);
        any = any || ddb__present(e[i]);
    }
    if (!any) {
        return 0;
    }
    if (ddb_expr_ctx_init(&q->ctx, &r->arena, ddb__present(member(r, "ExpressionAttributeNames"))
                                                  ? member(r, "ExpressionAttributeNames")
                                                  : NULL,
                          ddb__present(member(r, "ExpressionAttributeValues"))
                              ? member(r, "ExpressionAttributeValues")
                              : NULL,
                          &err) < 0) {
        return ddb__attr_fail_or_reply(r, &err);
    }
    for (size_t i = 0; i < 3; i++) {
        if (ddb__present(e[i]) && json_string_length(e[i]) == 0) {
            return http_req_fail(r, AWSERR_VALIDATION, "Invalid %s: The expression can not be "
                                                       "empty;",
                                 names[i]);
        }
    }
    if ((ddb__present(e[0]) &&
         ddb_expr_parse_cond(&q->ctx, DDB_EXPR_KEY_CONDITION, json_string_value(e[0]),
                             json_string_length(e[0]), &kce) < 0) ||
        (ddb__present(e[1]) && ddb_expr_parse_cond(&q->ctx, DDB_EXPR_FILTER, json_string_value(e[1]),
                                              json_string_length(e[1]), &q->filter) < 0) ||
        (ddb__present(e[2]) && ddb_expr_parse_proj(&q->ctx, json_string_value(e[2]),
                                              json_string_length(e[2]), &q->proj) < 0) ||
        ddb_expr_ctx_check_unused(&q->ctx) < 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "%s", q->ctx.err);
    }
    if (kce && ddb__keycond_from_expr(kce, &q->kc, q->ctx.err, sizeof q->ctx.err) < 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "%s", q->ctx.err);
    }
    return 0;
}

static enum select select_of(const char *s)
{
    if (!s) {
        return SEL_DEFAULT;
    }
    return strcmp(s, "ALL_ATTRIBUTES") == 0             ? SEL_ALL
           : strcmp(s, "ALL_PROJECTED_ATTRIBUTES") == 0 ? SEL_PROJECTED
           : strcmp(s, "COUNT") == 0                    ? SEL_COUNT
                                                        : SEL_SPECIFIC;
}

/* Select against the request's projection (AttributesToGet or ProjectionExpression). */
static int select_or_reply(struct http_req *r, struct req *q)
{
    const char *what = q->proj ? "ProjectionExpression" : "AttributesToGet";
    bool projection = q->proj || q->atg;

    q->sel = select_of(json_string_value(member(r, "Select")));
    switch (q->sel) {
    case SEL_DEFAULT:
        q->sel = projection ? SEL_SPECIFIC : q->index.p ? SEL_PROJECTED : SEL_ALL;
        return 0;
    case SEL_SPECIFIC:
        if (!projection) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%sMust specify the AttributesToGet or ProjectionExpression when "
                                 "choosing to get SPECIFIC_ATTRIBUTES",
                                 q->scan ? "" : "1 validation error detected: ");
        }
        return 0;
    case SEL_PROJECTED:
        if (!q->index.p) {
            return http_req_fail(r, AWSERR_VALIDATION, "ALL_PROJECTED_ATTRIBUTES can be used "
                                                       "only when Querying using an IndexName");
        }
        break;
    default:
        break;
    }
    if (projection) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Cannot specify the %s when choosing to get %s", what,
                             q->sel == SEL_ALL       ? "ALL_ATTRIBUTES"
                             : q->sel == SEL_PROJECTED ? "ALL_PROJECTED_ATTRIBUTES"
                                                       : "only the Count");
    }
    return 0;
}

static bool truthy(const json_t *v)
{
    const char *s = json_string_value(v);
    return json_is_true(v) ||
           (s && (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0 || strcasecmp(s, "yes") == 0));
}

static json_int_t int_of(const json_t *v)
{
    return json_is_integer(v) ? json_integer_value(v) : (json_int_t)json_real_value(v);
}

/* Everything that needs no table, in DynamoDB's order. Fills *q. */
static int request_or_reply(struct http_req *r, bool scan, struct req *q)
{
    const json_t *filter = member(r, scan ? "ScanFilter" : "QueryFilter");
    const char *rcc = json_string_value(member(r, "ReturnConsumedCapacity"));

    memset(q, 0, offsetof(struct req, ctx));
    q->scan = scan;
    if (types_or_reply(r, scan) < 0 || constraints_or_reply(r, scan) < 0 ||
        params_or_reply(r, scan) < 0) {
        return -1;
    }
    if (ddb__present(filter)) {
        q->legacy_filter = true;
        if (ddb__legacy_filter_or_reply(r, filter, &q->filter) < 0) {
            return -1;
        }
    }
    else if (ddb__present(member(r, "ConditionalOperator"))) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "ConditionalOperator cannot be used without Filter or Expected");
    }
    if (attributes_to_get_or_reply(r, q) < 0 || start_key_or_reply(r, q) < 0) {
        return -1;
    }
    if (!scan && !ddb__present(member(r, "KeyConditions")) &&
        !ddb__present(member(r, "KeyConditionExpression"))) {
        return http_req_fail(r, AWSERR_VALIDATION, "Either the KeyConditions or "
                                                   "KeyConditionExpression parameter must be "
                                                   "specified in the request.");
    }
    if (expressions_or_reply(r, q) < 0) {
        return -1;
    }
    if (!scan && !ddb__present(member(r, "KeyConditionExpression")) &&
        ddb__legacy_keycond_or_reply(r, member(r, "KeyConditions"), &q->kc) < 0) {
        return -1;
    }
    q->segment = ddb__present(member(r, "Segment")) ? (long)int_of(member(r, "Segment")) : -1;
    q->total = ddb__present(member(r, "TotalSegments")) ? (long)int_of(member(r, "TotalSegments"))
                                                    : -1;
    if (scan && q->segment >= 0 && q->total < 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "The TotalSegments parameter is required but "
                                                   "was not present in the request when Segment "
                                                   "parameter is present");
    }
    if (scan && q->total >= 0 && q->segment < 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "The Segment parameter is required but was "
                                                   "not present in the request when parameter "
                                                   "TotalSegments is present");
    }
    if (scan && q->total >= 0 && q->segment >= q->total) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "The Segment parameter is zero-based and must be less than "
                             "parameter TotalSegments: Segment: %ld is not less than "
                             "TotalSegments: %ld",
                             q->segment, q->total);
    }
    q->table = json_string_value(member(r, "TableName"));
    if (ddb__present(member(r, "IndexName"))) {
        q->index = (struct sl_str){ json_string_value(member(r, "IndexName")),
                                    json_string_length(member(r, "IndexName")) };
    }
    if (select_or_reply(r, q) < 0) {
        return -1;
    }
    q->limit = ddb__present(member(r, "Limit")) ? (uint32_t)(int_of(member(r, "Limit")) > UINT32_MAX
                                                            ? UINT32_MAX
                                                            : int_of(member(r, "Limit")))
                                           : 0;
    q->consistent = truthy(member(r, "ConsistentRead"));
    q->backward = !scan && ddb__present(member(r, "ScanIndexForward")) &&
                  !truthy(member(r, "ScanIndexForward"));
    q->rcc = rcc && strcmp(rcc, "TOTAL") == 0     ? RCC_TOTAL
             : rcc && strcmp(rcc, "INDEXES") == 0 ? RCC_INDEXES
                                                  : RCC_NONE;
    return 0;
}

/* ---- validation with the table ---- */

/* The first path of a condition whose top attribute is name, or NULL. */
static const struct ddb_path *first_nested(const struct ddb_node *x, struct sl_str name)
{
    if (!x) {
        return NULL;
    }
    if (x->kind == DDB_N_PATH) {
        return !x->path.e[0].is_index && sl_str_eq(x->path.e[0].name, name) ? &x->path : NULL;
    }
    for (size_t i = 0; i < x->nargs; i++) {
        const struct ddb_path *p = first_nested(x->args[i], name);
        if (p) {
            return p;
        }
    }
    return NULL;
}

/* Does the request name attribute name at the top of a filter or projection path (nested:
 * only below it)? */
static bool names_attr(const struct req *q, struct sl_str name, bool nested)
{
    const struct ddb_path *p = first_nested(q->filter, name);
    if (p && (!nested || p->n > 1)) {
        return true;
    }
    for (size_t i = 0; q->proj && i < q->proj->n; i++) {
        const struct ddb_path *pp = &q->proj->paths[i];
        if (sl_str_eq(pp->e[0].name, name) && (!nested || pp->n > 1)) {
            return true;
        }
    }
    for (size_t i = 0; !nested && i < q->n_atg; i++) {
        if (sl_str_eq(q->atg[i], name)) {
            return true;
        }
    }
    return false;
}

/* Does the request need attributes index ix does not hold? */
static bool needs_unprojected(const struct req *q, const struct ddb_schema *s,
                              const struct ddb_index *ix, struct sl_str *which)
{
    for (size_t i = 0; q->proj && i < q->proj->n; i++) {
        if (!ddb__index_projects(s, ix, q->proj->paths[i].e[0].name)) {
            *which = q->proj->paths[i].e[0].name;
            return true;
        }
    }
    for (size_t i = 0; i < q->n_atg; i++) {
        if (!ddb__index_projects(s, ix, q->atg[i])) {
            *which = q->atg[i];
            return true;
        }
    }
    return false;
}

static bool filter_needs_unprojected(const struct ddb_node *x, const struct ddb_schema *s,
                                     const struct ddb_index *ix)
{
    if (!x) {
        return false;
    }
    if (x->kind == DDB_N_PATH) {
        return !x->path.e[0].is_index && !ddb__index_projects(s, ix, x->path.e[0].name);
    }
    for (size_t i = 0; i < x->nargs; i++) {
        if (filter_needs_unprojected(x->args[i], s, ix)) {
            return true;
        }
    }
    return false;
}

/* The checks of the paths against the keys: no filter on the key queried, and no path below
 * a key attribute of the table or of an index. */
static int key_paths_or_reply(struct http_req *r, const struct req *q,
                              const struct ddb_schema *s, const struct ddb_keyspace *ks)
{
    struct sl_str tk[2] = { s->hash, s->range };
    /* A PartiQL WHERE may name the keys beyond its key condition ("sk > 1 AND sk < 9"): the
     * rest of it is a filter like any other. */
    for (size_t i = 0; !q->scan && !q->pql && i < ks->own; i++) {
        struct sl_str k = ks->part[i].name;
        if (first_nested(q->filter, k)) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%s can only contain non-primary key attributes: Primary key "
                                 "attribute: %.*s",
                                 q->legacy_filter ? "QueryFilter" : "Filter Expression",
                                 (int)k.len, k.p);
        }
    }
    for (size_t i = 0; i < (s->range.len ? 2u : 1u); i++) {
        if (names_attr(q, tk[i], true)) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "Key attributes must be scalars; list random access '[]' and "
                                 "map lookup '.' are not allowed: Key: %.*s",
                                 (int)tk[i].len, tk[i].p);
        }
    }
    for (size_t i = 0; i < s->n_index; i++) {
        struct sl_str ik[2] = { s->index[i].hash, s->index[i].range };
        for (size_t j = 0; j < (ik[1].len ? 2u : 1u); j++) {
            if (names_attr(q, ik[j], true)) {
                return http_req_fail(r, AWSERR_VALIDATION,
                                     "Key attributes must be scalars; list random access '[]' "
                                     "and map lookup '.' are not allowed: IndexKey: %.*s",
                                     (int)ik[j].len, ik[j].p);
            }
        }
    }
    return 0;
}

/* ---- the page ---- */

struct page {
    struct ddb *d;
    const struct req *q;
    const struct ddb_schema *s;
    const struct ddb_keyspace *ks;
    MDB_txn *txn;
    bool fetch;                     /* a local index: read the table's item */
    uint64_t scanned, count;
    uint64_t bytes;                 /* sizes of the entries read */
    uint64_t table_bytes;           /* sizes of the items fetched from the table */
    const void *last;               /* the last entry read (LastEvaluatedKey) */
    size_t last_len;
    bool full;
    struct buf out;
    struct buf tmp;                 /* a projected item */
    int err;
};

static void page_room(void *ctx, size_t *count, uint64_t *bytes)
{
    struct page *pg = ctx;
    *count = pg->q->limit ? pg->q->limit - pg->scanned : SIZE_MAX;
    *bytes = pg->bytes < PAGE_BYTES ? PAGE_BYTES - pg->bytes : 1;
}

/* The table's item of an index entry. Returns 1 found, 0 not (a write raced the read: not
 * possible in one snapshot, but the entry is then skipped), <0 on error. */
static int fetch_item(struct page *pg, const void *val, size_t len, MDB_val *item)
{
    struct ddb_key k;
    struct ddb_key_err kerr;
    MDB_val mk;
    int rc;

    if (ddb__key_of(pg->s, val, len, false, &k, &kerr) < 0) {
        return -EIO;
    }
    mk.mv_size = k.len;
    mk.mv_data = k.b;
    rc = mdb_get(pg->txn, pg->d->items, &mk, item);
    return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : rc;
}

static int page_visit(void *ctx, const void *val, size_t len)
{
    struct page *pg = ctx;
    const struct req *q = pg->q;
    struct ddb_item_view v;
    const void *item = val;
    size_t n = len;
    int rc = 0;

    if (ddb_item_open(val, len, &v) < 0) {
        return -EIO;
    }
    pg->scanned++;
    pg->bytes += v.size;
    pg->last = val;
    pg->last_len = len;
    if (pg->fetch) {
        MDB_val mv;
        struct ddb_item_view tv;
        rc = fetch_item(pg, val, len, &mv);
        if (rc < 0) {
            return rc;
        }
        if (rc == 1 && ddb_item_open(mv.mv_data, mv.mv_size, &tv) == 0) {
            item = mv.mv_data;
            n = mv.mv_size;
            pg->table_bytes += tv.size;
        }
        rc = 0;
    }
    if (q->filter) {
        rc = ddb_cond_eval(q->filter, item, n);
        if (rc < 0) {
            return -EIO;
        }
    }
    if (!q->filter || rc == 1) {
        pg->count++;
        if (q->sel != SEL_COUNT) {
            rc = pg->count > 1 ? buf_append(&pg->out, ",", 1) : 0;
            if (rc == 0 && q->proj) {
                buf_reset(&pg->tmp);
                rc = ddb_proj_apply(q->proj, item, n, &pg->tmp);
                if (rc == 0) {
                    rc = ddb_item_write_json(pg->tmp.p, pg->tmp.len, NULL, 0, &pg->out);
                }
            }
            else if (rc == 0) {
                rc = ddb_item_write_json(item, n, q->atg, q->n_atg, &pg->out);
            }
            if (rc < 0) {
                return rc;
            }
        }
    }
    if ((q->limit && pg->scanned >= q->limit) || pg->bytes >= PAGE_BYTES) {
        pg->full = true;
        return 1;
    }
    return 0;
}

/* Read units for bytes read: one per 4 KB (at least one), half as many when eventually
 * consistent. */
static double read_units(uint64_t bytes, bool consistent)
{
    uint64_t u = bytes == 0 ? 1 : (bytes + 4095) / 4096;
    return (double)u * (consistent ? 1.0 : 0.5);
}

static int capacity_append(struct buf *b, const struct page *pg)
{
    const struct req *q = pg->q;
    const struct ddb_index *ix = pg->ks->index;
    double main = read_units(pg->bytes, q->consistent);
    double table = pg->fetch ? read_units(pg->table_bytes, q->consistent) : 0;
    int rc;

    if (!ix) {
        rc = buf_printf(b, ",\"ConsumedCapacity\":{\"TableName\":\"%s\",\"CapacityUnits\":%.1f",
                        q->table, main);
        if (rc == 0 && q->rcc == RCC_INDEXES) {
            rc = buf_printf(b, ",\"Table\":{\"CapacityUnits\":%.1f}", main);
        }
        return rc ? rc : buf_puts(b, "}");
    }
    rc = buf_printf(b, ",\"ConsumedCapacity\":{\"TableName\":\"%s\",\"CapacityUnits\":%.1f",
                    q->table, main + table);
    if (rc == 0 && q->rcc == RCC_INDEXES) {
        rc = buf_printf(b, ",\"Table\":{\"CapacityUnits\":%.1f},\"%s\":{\"%.*s\":{"
                           "\"CapacityUnits\":%.1f}}",
                        table, ix->local ? "LocalSecondaryIndexes" : "GlobalSecondaryIndexes",
                        (int)ix->name.len, ix->name.p, main);
    }
    return rc ? rc : buf_puts(b, "}");
}

/* The answer's members after the items. */
/* ExecuteStatement's members after the items: NextToken and LastEvaluatedKey when the page
 * is full, then ConsumedCapacity. */
static int pql_tail_append(struct page *pg)
{
    struct sl_str keys[4];
    struct buf *b = &pg->out;
    struct buf lek;
    int rc = buf_puts(b, "]");

    if (rc == 0 && pg->full && pg->last) {
        for (size_t i = 0; i < pg->ks->n; i++) {
            keys[i] = pg->ks->part[i].name;
        }
        buf_init(&lek, DDB_ITEM_ENC_MAX);
        rc = ddb_item_write_json(pg->last, pg->last_len, keys, pg->ks->n, &lek);
        if (rc == 0) {
            rc = buf_puts(b, ",\"NextToken\":\"");
        }
        if (rc == 0) {
            rc = pg->q->pql->token(pg->q->pql, lek.p, lek.len, b);
        }
        if (rc == 0) {
            rc = buf_puts(b, "\",\"LastEvaluatedKey\":");
        }
        if (rc == 0) {
            rc = buf_append(b, lek.p, lek.len);
        }
        buf_release(&lek);
    }
    if (rc == 0 && pg->q->rcc != RCC_NONE) {
        rc = capacity_append(b, pg);
    }
    return rc ? rc : buf_puts(b, "}");
}

static int tail_append(struct page *pg)
{
    struct sl_str keys[4];
    struct buf *b = &pg->out;
    int rc = buf_printf(b, "%s\"Count\":%llu,\"ScannedCount\":%llu",
                        pg->q->sel == SEL_COUNT ? "" : "],", (unsigned long long)pg->count,
                        (unsigned long long)pg->scanned);

    if (rc == 0 && pg->full && pg->last) {
        for (size_t i = 0; i < pg->ks->n; i++) {
            keys[i] = pg->ks->part[i].name;
        }
        rc = buf_puts(b, ",\"LastEvaluatedKey\":");
        if (rc == 0) {
            rc = ddb_item_write_json(pg->last, pg->last_len, keys, pg->ks->n, b);
        }
    }
    if (rc == 0 && pg->q->rcc != RCC_NONE) {
        rc = capacity_append(b, pg);
    }
    return rc ? rc : buf_puts(b, "}");
}

/* The ExclusiveStartKey as a full key of ks: exactly the key attributes, of their types. */
static int start_full_key_or_reply(struct http_req *r, const struct req *q,
                                   const struct ddb_keyspace *ks, unsigned char *full,
                                   size_t *len)
{
    struct ddb_item_view v;
    struct ddb_key_err kerr;

    if (ddb_item_open(q->esk, q->esk_len, &v) < 0 || v.count != ks->n ||
        ddb__keyspace_key(ks, q->esk, q->esk_len, full, len, &kerr) < 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "%s", bad_start);
    }
    return 0;
}

/* A Query's ExclusiveStartKey within its key condition, as DynamoDB checks it. */
static int start_bounds_or_reply(struct http_req *r, const struct req *q,
                                 const struct ddb_keyspace *ks, const struct ddb_range *rg,
                                 const unsigned char *full, size_t len)
{
    const struct ddb_kc_term *rt = ks->own > 1 ? ddb__keycond_term(&q->kc, ks->part[1].name)
                                               : NULL;
    size_t p = 4 + ddb__key_part_len(rg->lo + 4, rg->lo_len - 4, ks->part[0].type);
    bool same_hash = len >= p && memcmp(full, rg->lo, p) == 0;

    if (!rt) {
        if (!same_hash) {
            return http_req_fail(r, AWSERR_VALIDATION, "The provided starting key is outside "
                                                       "query boundaries based on provided "
                                                       "conditions");
        }
        return 0;
    }
    {
        struct ddb_attr a;
        struct ddb_val v;
        if (ddb_item_find(q->esk, q->esk_len, ks->part[1].name.p, ks->part[1].name.len, &a) !=
            1) {
            return http_req_fail(r, AWSERR_VALIDATION, "%s", bad_start);
        }
        v = ddb_val_of(&a);
        if (!ddb__keycond_match(rt, &v)) {
            return http_req_fail(r, AWSERR_VALIDATION, "The provided starting key does not "
                                                       "match the range key predicate");
        }
    }
    if (!same_hash) {
        return http_req_fail(r, AWSERR_VALIDATION, "The query can return at most one row and "
                                                   "cannot be restarted");
    }
    return 0;
}

/* The index read, checked against the request. Sets *ix (NULL: the table) and pg->fetch. */
static int index_or_reply(struct http_req *r, const struct req *q, const struct ddb_schema *s,
                          const struct ddb_index **ix, bool *fetch)
{
    *ix = NULL;
    *fetch = false;
    if (!q->index.p) {
        return 0;
    }
    *ix = ddb__index_find(s, q->index);
    if (!*ix) {
        return http_req_fail(r, AWSERR_VALIDATION, "The table does not have the specified index: "
                                                   "%s",
                             q->index.p);
    }
    if (!(*ix)->local && q->consistent) {
        return http_req_fail(r, AWSERR_VALIDATION, "Consistent reads are not supported on global "
                                                   "secondary indexes");
    }
    if ((*ix)->backfilling) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Cannot read from backfilling global secondary index: %s",
                             q->index.p);
    }
    return 0;
}

/* Select and the projection against the index's projection. */
static int projection_or_reply(struct http_req *r, const struct req *q,
                               const struct ddb_schema *s, const struct ddb_index *ix,
                               bool *fetch)
{
    struct sl_str which;

    if (!ix || ix->proj == DDB_PROJ_ALL) {
        return 0;
    }
    if (q->sel == SEL_ALL && !ix->local) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sSelect type ALL_ATTRIBUTES is not supported for global secondary "
                             "index %.*s because its projection type is not ALL",
                             invalid, (int)ix->name.len, ix->name.p);
    }
    if (needs_unprojected(q, s, ix, &which)) {
        if (!ix->local) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%sGlobal secondary index %.*s does not project [%.*s]", invalid,
                                 (int)ix->name.len, ix->name.p, (int)which.len, which.p);
        }
        *fetch = true;
    }
    if (ix->local && (q->sel == SEL_ALL || filter_needs_unprojected(q->filter, s, ix))) {
        *fetch = true;
    }
    return 0;
}

/* One page: the table phase of the checks, then the walk and the answer. */
static int page_or_reply(struct http_req *r, const struct req *q)
{
    struct ddb *d = ddb__of(r);
    struct ddb_schema *s = arena_alloc(&r->arena, sizeof *s);
    struct ddb_range *rg = arena_alloc(&r->arena, sizeof *rg);
    unsigned char *full = arena_alloc(&r->arena, DDB_FULLKEY_MAX + 1);
    const struct ddb_index *ix;
    struct ddb_keyspace ks;
    struct ddb_walk w;
    struct page pg;
    MDB_txn *txn = NULL;
    size_t flen = 0;
    char *text, err[512];
    size_t len;
    int rc;

    memset(&pg, 0, sizeof pg);
    rc = store_read_begin(d->st, &txn);
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    rc = ddb__schema_get(d, txn, q->table, s);
    if (rc == -ENOENT) {
        rc = http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found");
        goto out;
    }
    if (rc) {
        log_error("dynamodb", "reading the schema of %s: %s", q->table, store_strerror(rc));
        rc = http_req_fail(r, AWSERR_INTERNAL, NULL);
        goto out;
    }
    rc = index_or_reply(r, q, s, &ix, &pg.fetch);
    if (rc) {
        goto out;
    }
    ddb__keyspace_of(s, ix, &ks);
    if (q->esk && (rc = start_full_key_or_reply(r, q, &ks, full, &flen)) < 0) {
        goto out;
    }
    if (!q->scan) {
        if (ddb__keycond_range(&q->kc, &ks, rg, err, sizeof err) < 0) {
            rc = http_req_fail(r, AWSERR_VALIDATION, "%s", err);
            goto out;
        }
        if (q->esk && (rc = start_bounds_or_reply(r, q, &ks, rg, full, flen)) < 0) {
            goto out;
        }
    }
    else {
        ddb__key_prefix(ks.id, rg->lo);
        memcpy(rg->hi, rg->lo, 4);
        rg->lo_len = 4;
        rg->hi_len = ddb__key_succ(rg->hi, 4);
        if (q->esk && q->total > 1 &&
            ddb__segment_of(full + 4, ddb__key_part_len(full + 4, flen - 4, ks.part[0].type),
                            (uint32_t)q->total) != (uint32_t)q->segment) {
            rc = http_req_fail(r, AWSERR_VALIDATION,
                               "The provided starting key is invalid: Invalid ExclusiveStartKey. "
                               "Please use ExclusiveStartKey with correct Segment. TotalSegments: "
                               "%ld Segment: %ld",
                               q->total, q->segment);
            goto out;
        }
    }
    if ((rc = key_paths_or_reply(r, q, s, &ks)) < 0 ||
        (rc = projection_or_reply(r, q, s, ix, &pg.fetch)) < 0) {
        goto out;
    }
    if (q->esk) {
        /* Resume after the start key: the smallest key above it is itself and a 0 byte. */
        if (!q->backward) {
            full[flen] = 0;
            if (ddb__key_cmp(full, flen + 1, rg->lo, rg->lo_len) > 0) {
                memcpy(rg->lo, full, flen + 1);
                rg->lo_len = flen + 1;
            }
        }
        else if (ddb__key_cmp(full, flen, rg->hi, rg->hi_len) < 0) {
            memcpy(rg->hi, full, flen);
            rg->hi_len = flen;
        }
    }

    pg.d = d;
    pg.q = q;
    pg.s = s;
    pg.ks = &ks;
    pg.txn = txn;
    buf_init(&pg.out, ANSWER_MAX);
    buf_init(&pg.tmp, DDB_ITEM_ENC_MAX);
    memset(&w, 0, sizeof w);
    w.txn = txn;
    w.dbi = ix ? d->index : d->items;
    w.ks = &ks;
    w.lo = rg->lo;
    w.lo_len = rg->lo_len;
    w.hi = rg->hi;
    w.hi_len = rg->hi_len;
    w.backward = q->backward;
    w.segment = q->segment > 0 ? (uint32_t)q->segment : 0;
    w.total = q->total > 1 ? (uint32_t)q->total : 0;
    w.visit = page_visit;
    w.room = page_room;
    w.ctx = &pg;
    rc = q->sel == SEL_COUNT ? buf_puts(&pg.out, "{") : buf_puts(&pg.out, "{\"Items\":[");
    if (rc == 0) {
        rc = ddb__walk(&w);
    }
    if (rc == 0) {
        rc = q->pql ? pql_tail_append(&pg) : tail_append(&pg);
    }
    buf_release(&pg.tmp);
    if (rc < 0) {
        buf_release(&pg.out);
        log_error("dynamodb", "%s on %s: %s", q->scan ? "Scan" : "Query", q->table,
                  store_strerror(rc));
        rc = http_req_fail(r, AWSERR_INTERNAL, NULL);
        goto out;
    }
    text = buf_detach(&pg.out, &len);
    arena_on_clear(&r->arena, ddb__free_cb, text);
    rc = http_reply(r, 200, content_type, text, len);
out:
    store_read_end(d->st, txn);
    return rc;
}

static int read_or_reply(struct http_req *r, bool scan)
{
    struct req *q = arena_alloc(&r->arena, sizeof *q);
    if (request_or_reply(r, scan, q) < 0) {
        return -1;
    }
    return page_or_reply(r, q);
}

/* Query: a read transaction; the answer written from the stored bytes. */
int ddb_query(struct http_req *r)
{
    return read_or_reply(r, false);
}

/* Scan: the same over a whole table or index, or one segment of it. */
int ddb_scan(struct http_req *r)
{
    return read_or_reply(r, true);
}

int ddb__read_or_reply(struct http_req *r, const struct ddb_read *rd)
{
    struct req *q = arena_alloc(&r->arena, sizeof *q);

    memset(q, 0, offsetof(struct req, ctx));
    q->scan = rd->scan;
    q->table = rd->table;
    q->index = rd->index;
    q->sel = rd->proj ? SEL_SPECIFIC : rd->index.p ? SEL_PROJECTED : SEL_ALL;
    q->limit = rd->limit;
    q->consistent = rd->consistent;
    q->backward = rd->backward;
    q->segment = q->total = -1;
    q->kc = rd->kc;
    q->filter = rd->filter;
    q->proj = rd->proj;
    q->esk = rd->esk;
    q->esk_len = rd->esk_len;
    q->rcc = rd->rcc == 2 ? RCC_INDEXES : rd->rcc == 1 ? RCC_TOTAL : RCC_NONE;
    q->pql = rd;
    return page_or_reply(r, q);
}
