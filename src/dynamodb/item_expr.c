/*
 * item_expr.c: the expression members of the item operations, as DynamoDB validates them,
 * and the legacy members older clients still send, translated into the same trees.
 *
 * What it is: three stages the handlers (item.c) call in DynamoDB's order. First the JSON
 * types of the nested members (SerializationException). Then, after the member constraints,
 * the rules on which members go together: expression and non-expression members never mix,
 * ExpressionAttributeNames/Values only with expressions, no empty expression, and
 * ConditionalOperator only with Expected. Last, after the item's own values: the legacy
 * members' checks, the substitutions, the parse of each expression (UpdateExpression, then
 * ConditionExpression, then ProjectionExpression) and the unused names and values.
 *
 * Legacy members become expression trees, so one evaluator serves both: Expected is a
 * condition (Exists false: attribute_not_exists; Value: =; each ComparisonOperator its
 * operator or function), joined by ConditionalOperator (AND unless OR); AttributeUpdates is
 * an update (PUT: SET, DELETE without a value: REMOVE, ADD and DELETE with a value: the
 * actions, flagged legacy for AttributeUpdates' own rules: ADD appends to lists, and its type
 * errors read "Type mismatch for attribute to update").
 *
 * What it is not: the language (expr_*.c), the operations (item.c).
 */
#include <stdio.h>
#include <string.h>

#include "dynamodb/ddb_int.h"

/* The members of each kind, in the order DynamoDB names them in messages. */
static const struct {
    unsigned flag;
    const char *expr;
    const char *legacy;
} kinds[] = {
    { DDB_REQ_UPDATE, "UpdateExpression", "AttributeUpdates" },
    { DDB_REQ_CONDITION, "ConditionExpression", "Expected" },
    { DDB_REQ_PROJECTION, "ProjectionExpression", "AttributesToGet" },
};

#define N_KINDS (sizeof kinds / sizeof kinds[0])

static const json_t *member(struct http_req *r, const char *name)
{
    return json_object_get(r->json, name);
}

bool ddb__expr_members(const struct http_req *r, unsigned flags)
{
    static const struct {
        const char *name;
        unsigned flags;
    } names[] = {
        { "ConditionExpression", DDB_REQ_CONDITION },
        { "Expected", DDB_REQ_CONDITION },
        { "ConditionalOperator", DDB_REQ_CONDITION },
        { "UpdateExpression", DDB_REQ_UPDATE },
        { "AttributeUpdates", DDB_REQ_UPDATE },
        { "ProjectionExpression", DDB_REQ_PROJECTION },
        { "ExpressionAttributeNames", DDB_REQ_CONDITION | DDB_REQ_UPDATE | DDB_REQ_PROJECTION },
        { "ExpressionAttributeValues", DDB_REQ_CONDITION | DDB_REQ_UPDATE },
    };
    const char *k;
    json_t *v;

    /* One walk over the request's few members, cheaper than a lookup of each name. */
    json_object_foreach(r->json, k, v)
    {
        if (json_is_null(v) || (k[0] != 'C' && k[0] != 'E' && k[0] != 'U' && k[0] != 'A' &&
                                k[0] != 'P')) {
            continue;
        }
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            if ((names[i].flags & flags) && strcmp(k, names[i].name) == 0) {
                return true;
            }
        }
    }
    return false;
}

int ddb__expr_types_or_reply(struct http_req *r, unsigned flags)
{
    const json_t *ean = member(r, "ExpressionAttributeNames");
    const json_t *eav = (flags & (DDB_REQ_CONDITION | DDB_REQ_UPDATE))
                            ? member(r, "ExpressionAttributeValues")
                            : NULL;
    const char *k;
    json_t *v;
    struct ddb_err err;

    if (json_is_object(ean)) {
        json_object_foreach((json_t *)ean, k, v)
        {
            if (ddb__type_or_reply(r, v, DDB_J_STRING) < 0) {
                return -1;
            }
        }
    }
    if (ddb_expr_values_types(eav, &r->arena, &err) < 0) {
        return ddb__attr_fail_or_reply(r, &err);
    }
    if ((flags & DDB_REQ_CONDITION) && json_is_object(member(r, "Expected"))) {
        json_object_foreach((json_t *)member(r, "Expected"), k, v)
        {
            const json_t *avl = json_object_get(v, "AttributeValueList");
            size_t i;
            const json_t *e;
            if (ddb__type_or_reply(r, v, DDB_J_STRUCT) < 0 ||
                ddb__type_or_reply(r, json_object_get(v, "Exists"), DDB_J_BOOLEAN) < 0 ||
                ddb__type_or_reply(r, json_object_get(v, "ComparisonOperator"), DDB_J_STRING) <
                    0 ||
                ddb__type_or_reply(r, avl, DDB_J_LIST) < 0 ||
                (ddb__present(json_object_get(v, "Value")) &&
                 ddb_value_types(json_object_get(v, "Value"), &r->arena, &err) < 0)) {
                return r->err != AWSERR_NONE ? -1 : ddb__attr_fail_or_reply(r, &err);
            }
            json_array_foreach(avl, i, e)
            {
                if (ddb_value_types(e, &r->arena, &err) < 0) {
                    return ddb__attr_fail_or_reply(r, &err);
                }
            }
        }
    }
    if ((flags & DDB_REQ_UPDATE) && json_is_object(member(r, "AttributeUpdates"))) {
        json_object_foreach((json_t *)member(r, "AttributeUpdates"), k, v)
        {
            if (ddb__type_or_reply(r, v, DDB_J_STRUCT) < 0 ||
                ddb__type_or_reply(r, json_object_get(v, "Action"), DDB_J_STRING) < 0) {
                return -1;
            }
            if (ddb__present(json_object_get(v, "Value")) &&
                ddb_value_types(json_object_get(v, "Value"), &r->arena, &err) < 0) {
                return ddb__attr_fail_or_reply(r, &err);
            }
        }
    }
    return 0;
}

int ddb__expr_params_or_reply(struct http_req *r, unsigned flags)
{
    char exprs[128] = "", legacy[128] = "";
    size_t eo = 0, lo = 0;
    bool any_expr = false, value_expr = false;
    const json_t *ean = member(r, "ExpressionAttributeNames");
    const json_t *eav = (flags & (DDB_REQ_CONDITION | DDB_REQ_UPDATE))
                            ? member(r, "ExpressionAttributeValues")
                            : NULL;
    const json_t *cop = (flags & DDB_REQ_CONDITION) ? member(r, "ConditionalOperator") : NULL;

    for (size_t i = 0; i < N_KINDS; i++) {
        if (!(flags & kinds[i].flag)) {
            continue;
        }
        if (ddb__present(member(r, kinds[i].expr))) {
            eo += (size_t)snprintf(exprs + eo, sizeof exprs - eo, "%s%s", eo ? ", " : "",
                                   kinds[i].expr);
            any_expr = true;
            value_expr = value_expr || kinds[i].flag != DDB_REQ_PROJECTION;
        }
        if (ddb__present(member(r, kinds[i].legacy))) {
            lo += (size_t)snprintf(legacy + lo, sizeof legacy - lo, "%s%s", lo ? ", " : "",
                                   kinds[i].legacy);
        }
    }
    if (any_expr && lo) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Can not use both expression and non-expression parameters in the "
                             "same request: Non-expression parameters: {%s} Expression "
                             "parameters: {%s}",
                             legacy, exprs);
    }
    if ((ddb__present(eav) && !value_expr) || (ddb__present(ean) && !any_expr)) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: %s can only be specified when using "
                             "expressions",
                             ddb__present(eav) && !value_expr ? "ExpressionAttributeValues"
                                                         : "ExpressionAttributeNames");
    }
    for (size_t i = 0; i < N_KINDS; i++) {
        const json_t *e = (flags & kinds[i].flag) ? member(r, kinds[i].expr) : NULL;
        if (ddb__present(e) && json_string_length(e) == 0) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "1 validation error detected: Invalid %s: The expression can "
                                 "not be empty;",
                                 kinds[i].expr);
        }
    }
    if (ddb__present(cop) && !ddb__present(member(r, "Expected"))) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "ConditionalOperator cannot be used without Filter or Expected");
    }
    return 0;
}

/* ---- legacy members ---- */

static const char invalid[] = "One or more parameter values were invalid: ";

/* Encodes one legacy AttributeValue into the arena. Returns 0 or -1 with the error set. */
static int legacy_value_or_reply(struct http_req *r, const json_t *av, struct ddb_val *out)
{
    struct buf b;
    struct ddb_err err;
    size_t size;
    unsigned char *p;
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_value_encode(av, &r->arena, &b, &size, &err) < 0) {
        buf_release(&b);
        return ddb__attr_fail_or_reply(r, &err);
    }
    p = arena_alloc(&r->arena, b.len);
    memcpy(p, b.p, b.len);
    if (!ddb_rd_value(p, p + b.len, &out->type, &out->p, &out->len)) {
        buf_release(&b);
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    buf_release(&b);
    return 0;
}

static struct ddb_node *node(struct http_req *r, enum ddb_node_kind kind, size_t nargs)
{
    struct ddb_node *x = arena_new(&r->arena, struct ddb_node);
    x->kind = kind;
    x->nargs = nargs;
    x->args = nargs ? arena_alloc(&r->arena, nargs * sizeof *x->args) : NULL;
    return x;
}

static struct ddb_node *path_node(struct http_req *r, const char *name, size_t len)
{
    struct ddb_node *x = node(r, DDB_N_PATH, 0);
    x->path.n = 1;
    x->path.e = arena_new(&r->arena, struct ddb_path_elem);
    x->path.e[0].name = (struct sl_str){ name, len };
    return x;
}

static struct ddb_node *func_node(struct http_req *r, enum ddb_func f, struct ddb_node *a,
                                  struct ddb_node *b)
{
    struct ddb_node *x = node(r, DDB_N_FUNC, b ? 2 : 1);
    x->op = f;
    x->args[0] = a;
    if (b) {
        x->args[1] = b;
    }
    return x;
}

static const char *const cmp_ops[] = { "EQ", "NE", "LE", "LT", "GE", "GT", "NULL", "NOT_NULL",
                                       "CONTAINS", "NOT_CONTAINS", "BEGINS_WITH", "IN",
                                       "BETWEEN", NULL };

/* How many values each ComparisonOperator takes: exactly n, or (IN) at least one. */
static bool arity_ok(const char *op, size_t n)
{
    if (strcmp(op, "NULL") == 0 || strcmp(op, "NOT_NULL") == 0) {
        return n == 0;
    }
    if (strcmp(op, "IN") == 0) {
        return n > 0;
    }
    if (strcmp(op, "BETWEEN") == 0) {
        return n == 2;
    }
    return n == 1;
}

/* Encodes the n values of a legacy condition (avl, or value alone) into vals (from r's
 * arena). Returns 0 or -1 with the error set. */
static int values_or_reply(struct http_req *r, const json_t *avl, const json_t *value,
                           size_t n, struct ddb_val **vals)
{
    *vals = arena_alloc(&r->arena, (n ? n : 1) * sizeof **vals);
    for (size_t i = 0; i < n; i++) {
        if (legacy_value_or_reply(r, ddb__present(avl) ? json_array_get(avl, i) : value,
                                  &(*vals)[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The condition of a ComparisonOperator on path with its n values: the values' type rules
 * (one type, BETWEEN's order), then the node. Returns NULL with the error set. */
static struct ddb_node *op_node_or_reply(struct http_req *r, struct ddb_node *path,
                                         const char *op, const struct ddb_val *vals, size_t n)
{
    struct ddb_node *x;

    if (strcmp(op, "NULL") == 0) {
        return func_node(r, DDB_F_ATTRIBUTE_NOT_EXISTS, path, NULL);
    }
    if (strcmp(op, "NOT_NULL") == 0) {
        return func_node(r, DDB_F_ATTRIBUTE_EXISTS, path, NULL);
    }
    x = node(r, strcmp(op, "IN") == 0 ? DDB_N_IN : strcmp(op, "BETWEEN") == 0 ? DDB_N_BETWEEN
                                                                              : DDB_N_CMP,
             1 + n);
    x->args[0] = path;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && vals[i].type != vals[0].type) {
            http_req_fail(r, AWSERR_VALIDATION, "%sAttributeValues inside AttributeValueList "
                                                "must be of same type",
                          invalid);
            return NULL;
        }
        x->args[1 + i] = node(r, DDB_N_VALUE, 0);
        x->args[1 + i]->val = vals[i];
    }
    if (strcmp(op, "BETWEEN") == 0 && n == 2) {
        int order;
        if (ddb_val_cmp(&vals[0], &vals[1], &order) == 0 && order > 0) {
            http_req_fail(r, AWSERR_VALIDATION, "The BETWEEN condition was provided a range "
                                                "where the lower bound is greater than the "
                                                "upper bound");
            return NULL;
        }
    }
    if (x->kind == DDB_N_CMP) {
        static const struct {
            const char *n;
            int op;
        } ops[] = { { "EQ", DDB_CMP_EQ }, { "NE", DDB_CMP_NE }, { "LE", DDB_CMP_LE },
                    { "LT", DDB_CMP_LT }, { "GE", DDB_CMP_GE }, { "GT", DDB_CMP_GT } };
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            if (strcmp(op, ops[i].n) == 0) {
                x->op = ops[i].op;
                return x;
            }
        }
        /* CONTAINS, NOT_CONTAINS, BEGINS_WITH: functions of the path and the value. */
        return func_node(r, strcmp(op, "CONTAINS") == 0       ? DDB_F_CONTAINS
                            : strcmp(op, "NOT_CONTAINS") == 0 ? DDB_F_NOT_CONTAINS
                                                              : DDB_F_BEGINS_WITH,
                         path, x->args[1]);
    }
    return x;
}

/* One Expected entry as a condition. */
static struct ddb_node *expected_one_or_reply(struct http_req *r, const char *attr,
                                              size_t attr_len, const json_t *c)
{
    const json_t *value = json_object_get(c, "Value");
    const json_t *exists = json_object_get(c, "Exists");
    const json_t *avl = json_object_get(c, "AttributeValueList");
    const char *op = json_string_value(json_object_get(c, "ComparisonOperator"));
    struct ddb_node *path = path_node(r, attr, attr_len), *x;
    struct ddb_val *vals;

    if (ddb__present(avl) && ddb__present(value)) {
        http_req_fail(r, AWSERR_VALIDATION, "%sValue and AttributeValueList cannot be used "
                                            "together for Attribute: %s",
                      invalid, attr);
        return NULL;
    }
    if (op) {
        bool known = false;
        size_t n = ddb__present(avl) ? json_array_size(avl) : ddb__present(value) ? 1 : 0;
        for (size_t i = 0; cmp_ops[i]; i++) {
            known = known || strcmp(op, cmp_ops[i]) == 0;
        }
        if (!known) {
            http_req_fail(r, AWSERR_VALIDATION,
                          "1 validation error detected: Value '%.100s' at "
                          "'expected.%s.member.comparisonOperator' failed to satisfy "
                          "constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, "
                          "LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, "
                          "CONTAINS]",
                          op, attr);
            return NULL;
        }
        if (ddb__present(exists)) {
            http_req_fail(r, AWSERR_VALIDATION, "%sExists and ComparisonOperator cannot be used "
                                                "together for Attribute: %s",
                          invalid, attr);
            return NULL;
        }
        if (n == 0 && strcmp(op, "NULL") != 0 && strcmp(op, "NOT_NULL") != 0) {
            http_req_fail(r, AWSERR_VALIDATION, "%sValue or AttributeValueList must be used "
                                                "with ComparisonOperator: %s for Attribute: %s",
                          invalid, op, attr);
            return NULL;
        }
        if (!arity_ok(op, n)) {
            http_req_fail(r, AWSERR_VALIDATION, "%sInvalid number of argument(s) for the %s "
                                                "ComparisonOperator",
                          invalid, op);
            return NULL;
        }
        if (values_or_reply(r, avl, value, n, &vals) < 0) {
            return NULL;
        }
        return op_node_or_reply(r, path, op, vals, n);
    }
    if (ddb__present(avl)) {
        http_req_fail(r, AWSERR_VALIDATION, "%sAttributeValueList can only be used with a "
                                            "ComparisonOperator for Attribute: %s",
                      invalid, attr);
        return NULL;
    }
    if (!ddb__present(exists) || json_is_true(exists) ||
        (json_is_string(exists) && json_string_value(exists)[0] != 'f' &&
         json_string_value(exists)[0] != 'F' && json_string_value(exists)[0] != '0' &&
         json_string_value(exists)[0] != 'n' && json_string_value(exists)[0] != 'N')) {
        if (!ddb__present(value)) {
            http_req_fail(r, AWSERR_VALIDATION, "%sValue must be provided when Exists is %s for "
                                                "Attribute: %s",
                          invalid, ddb__present(exists) ? "true" : "null", attr);
            return NULL;
        }
        x = node(r, DDB_N_CMP, 2);
        x->op = DDB_CMP_EQ;
        x->args[0] = path;
        x->args[1] = node(r, DDB_N_VALUE, 0);
        return legacy_value_or_reply(r, value, &x->args[1]->val) < 0 ? NULL : x;
    }
    if (ddb__present(value)) {
        http_req_fail(r, AWSERR_VALIDATION, "%sValue cannot be used when Exists is false for "
                                            "Attribute: %s",
                      invalid, attr);
        return NULL;
    }
    return func_node(r, DDB_F_ATTRIBUTE_NOT_EXISTS, path, NULL);
}

static int expected_or_reply(struct http_req *r, const json_t *exp, struct ddb_node **out)
{
    const char *cop = json_string_value(member(r, "ConditionalOperator"));
    bool or = cop && strcmp(cop, "OR") == 0;
    const char *k;
    size_t klen;
    json_t *v;
    struct ddb_node *all = NULL;

    size_t i = 0;

    /* One n-ary node for all the entries: evaluation loops over it, however many. */
    all = node(r, or ? DDB_N_OR : DDB_N_AND, json_object_size(exp));
    json_object_keylen_foreach((json_t *)exp, k, klen, v)
    {
        struct ddb_node *one = expected_one_or_reply(r, k, klen, v);
        if (!one) {
            return -1;
        }
        all->args[i++] = one;
    }
    all->nargs = i;
    *out = i ? all : NULL;
    return 0;
}

/* The types a ComparisonOperator of a QueryFilter, ScanFilter or KeyConditions takes (EQ and
 * NE any: DynamoDB has compared BOOL, NULL, L and M values since it has had them). */
static bool op_type_ok(const char *op, int t)
{
    bool scalar = t == DDB_S || t == DDB_N || t == DDB_B;
    if (strcmp(op, "EQ") == 0 || strcmp(op, "NE") == 0) {
        return true;
    }
    if (strcmp(op, "BEGINS_WITH") == 0) {
        return t == DDB_S || t == DDB_B;
    }
    return scalar;
}

/*
 * One entry of a QueryFilter, ScanFilter or KeyConditions map (a ComparisonOperator and its
 * AttributeValueList), as DynamoDB validates it: the values, their number, one type, a type
 * the operator takes, BETWEEN's order. Fills *vals and *n. Returns 0 or -1 with the error.
 */
static int condition_values_or_reply(struct http_req *r, const char *op, const json_t *c,
                                     struct ddb_val **vals, size_t *n)
{
    const json_t *avl = json_object_get(c, "AttributeValueList");
    *n = json_array_size(avl);
    if (values_or_reply(r, avl, NULL, *n, vals) < 0) {
        return -1;
    }
    if (!arity_ok(op, *n)) {
        return http_req_fail(r, AWSERR_VALIDATION, "%sInvalid number of argument(s) for the %s "
                                                   "ComparisonOperator",
                             invalid, op);
    }
    for (size_t i = 1; i < *n; i++) {
        if ((*vals)[i].type != (*vals)[0].type) {
            return http_req_fail(r, AWSERR_VALIDATION, "%sAttributeValues inside "
                                                       "AttributeValueList must be of same type",
                                 invalid);
        }
    }
    for (size_t i = 0; i < *n; i++) {
        if (!op_type_ok(op, (*vals)[i].type)) {
            return http_req_fail(r, AWSERR_VALIDATION, "%sComparisonOperator %s is not valid for "
                                                       "%s AttributeValue type",
                                 invalid, op, ddb_type_name((*vals)[i].type));
        }
    }
    return 0;
}

int ddb__legacy_filter_or_reply(struct http_req *r, const json_t *map, struct ddb_node **out)
{
    const char *cop = json_string_value(member(r, "ConditionalOperator"));
    struct ddb_node *all = node(r, cop && strcmp(cop, "OR") == 0 ? DDB_N_OR : DDB_N_AND,
                                json_object_size(map));
    const char *k;
    size_t klen, i = 0;
    json_t *c;

    json_object_keylen_foreach((json_t *)map, k, klen, c)
    {
        const char *op = json_string_value(json_object_get(c, "ComparisonOperator"));
        struct ddb_val *vals;
        size_t n;
        if (!op || condition_values_or_reply(r, op, c, &vals, &n) < 0) {
            return op ? -1 : http_req_fail(r, AWSERR_INTERNAL, NULL);
        }
        all->args[i] = op_node_or_reply(r, path_node(r, k, klen), op, vals, n);
        if (!all->args[i]) {
            return -1;
        }
        i++;
    }
    all->nargs = i;
    *out = i ? all : NULL;
    return 0;
}

int ddb__legacy_keycond_or_reply(struct http_req *r, const json_t *map, struct ddb_keycond *out)
{
    static const struct {
        const char *n;
        enum ddb_kc_op op;
    } ops[] = { { "EQ", DDB_KC_EQ },         { "LT", DDB_KC_LT },
                { "LE", DDB_KC_LE },         { "GT", DDB_KC_GT },
                { "GE", DDB_KC_GE },         { "BETWEEN", DDB_KC_BETWEEN },
                { "BEGINS_WITH", DDB_KC_BEGINS_WITH } };
    const char *k;
    size_t klen;
    json_t *c;

    memset(out, 0, sizeof *out);
    out->legacy = true;
    json_object_keylen_foreach((json_t *)map, k, klen, c)
    {
        const char *op = json_string_value(json_object_get(c, "ComparisonOperator"));
        struct ddb_kc_term *t = &out->t[out->n < 2 ? out->n : 1];
        struct ddb_val *vals;
        size_t n;
        if (!op || condition_values_or_reply(r, op, c, &vals, &n) < 0) {
            return op ? -1 : http_req_fail(r, AWSERR_INTERNAL, NULL);
        }
        if (n == 2 && strcmp(op, "BETWEEN") == 0) {
            int order;
            if (ddb_val_cmp(&vals[0], &vals[1], &order) == 0 && order > 0) {
                return http_req_fail(r, AWSERR_VALIDATION,
                                     "The BETWEEN condition was provided a range where the "
                                     "lower bound is greater than the upper bound");
            }
        }
        if (out->n < 2) {
            t->attr = (struct sl_str){ k, klen };
            t->op = DDB_KC_OTHER;
            for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
                if (strcmp(op, ops[i].n) == 0) {
                    t->op = ops[i].op;
                }
            }
            t->nv = n < 2 ? n : 2;
            for (size_t i = 0; i < t->nv; i++) {
                t->v[i] = vals[i];
            }
        }
        out->n++;
    }
    if (out->n != 1 && out->n != 2) {
        return http_req_fail(r, AWSERR_VALIDATION, "Conditions can be of length 1 or 2 only");
    }
    return 0;
}

static int attribute_updates_or_reply(struct http_req *r, const json_t *au,
                                      struct ddb_update **out)
{
    struct ddb_update *u = arena_new(&r->arena, struct ddb_update);
    const char *k;
    size_t klen;
    json_t *v;

    u->a = arena_alloc(&r->arena, (json_object_size(au) + 1) * sizeof *u->a);
    json_object_keylen_foreach((json_t *)au, k, klen, v)
    {
        const char *act = json_string_value(json_object_get(v, "Action"));
        const json_t *value = json_object_get(v, "Value");
        struct ddb_action *a = &u->a[u->n];
        struct ddb_val val = { 0, NULL, 0 };

        if (act && strcmp(act, "PUT") != 0 && strcmp(act, "ADD") != 0 &&
            strcmp(act, "DELETE") != 0) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "1 validation error detected: Value '%.100s' at "
                                 "'attributeUpdates.%s.member.action' failed to satisfy "
                                 "constraint: Member must satisfy enum value set: [ADD, PUT, "
                                 "DELETE]",
                                 act, k);
        }
        if (!act) {
            act = "PUT";
        }
        if (ddb__present(value) && legacy_value_or_reply(r, value, &val) < 0) {
            return -1;
        }
        if (!ddb__present(value) && strcmp(act, "DELETE") != 0) {
            return http_req_fail(r, AWSERR_VALIDATION, "%sOnly DELETE action is allowed when no "
                                                       "attribute value is specified",
                                 invalid);
        }
        if (ddb__present(value) && strcmp(act, "DELETE") == 0 && val.type != DDB_SS &&
            val.type != DDB_NS && val.type != DDB_BS) {
            return http_req_fail(r, AWSERR_VALIDATION, "%sDELETE action with value is not "
                                                       "supported for the type %s",
                                 invalid, ddb_type_name(val.type));
        }
        if (strcmp(act, "ADD") == 0 && val.type != DDB_L && val.type != DDB_SS &&
            val.type != DDB_NS && val.type != DDB_BS && val.type != DDB_N) {
            return http_req_fail(r, AWSERR_VALIDATION, "%sADD action is not supported for the "
                                                       "type %s",
                                 invalid, ddb_type_name(val.type));
        }
        memset(a, 0, sizeof *a);
        a->path = path_node(r, k, klen)->path;
        a->flags = DDB_ACT_LEGACY;
        a->kind = strcmp(act, "PUT") == 0  ? DDB_ACT_SET
                  : strcmp(act, "ADD") == 0 ? DDB_ACT_ADD
                  : ddb__present(value)          ? DDB_ACT_DELETE
                                            : DDB_ACT_REMOVE;
        if (a->kind != DDB_ACT_REMOVE) {
            a->value = node(r, DDB_N_VALUE, 0);
            a->value->val = val;
        }
        u->n++;
    }
    *out = u;
    return 0;
}

/* ---- parsing ---- */

int ddb__expr_parse_or_reply(struct http_req *r, unsigned flags, struct ddb_req_expr *out)
{
    const json_t *ean = member(r, "ExpressionAttributeNames");
    const json_t *eav = (flags & (DDB_REQ_CONDITION | DDB_REQ_UPDATE))
                            ? member(r, "ExpressionAttributeValues")
                            : NULL;
    const json_t *ue = (flags & DDB_REQ_UPDATE) ? member(r, "UpdateExpression") : NULL;
    const json_t *ce = (flags & DDB_REQ_CONDITION) ? member(r, "ConditionExpression") : NULL;
    const json_t *pe = (flags & DDB_REQ_PROJECTION) ? member(r, "ProjectionExpression") : NULL;
    const json_t *au = (flags & DDB_REQ_UPDATE) ? member(r, "AttributeUpdates") : NULL;
    const json_t *ex = (flags & DDB_REQ_CONDITION) ? member(r, "Expected") : NULL;
    struct ddb_err err;

    /* Not a memset of the whole struct: its message buffer is large, and most requests have
     * no expression at all. ddb_expr_ctx_init() clears the context when one is used. */
    out->cond = NULL;
    out->update = NULL;
    out->proj = NULL;
    if (ddb__present(au) && attribute_updates_or_reply(r, au, &out->update) < 0) {
        return -1;
    }
    if (ddb__present(ex) && expected_or_reply(r, ex, &out->cond) < 0) {
        return -1;
    }
    if (!ddb__present(ue) && !ddb__present(ce) && !ddb__present(pe)) {
        return 0;
    }
    if (ddb_expr_ctx_init(&out->ctx, &r->arena, ddb__present(ean) ? ean : NULL,
                          ddb__present(eav) ? eav : NULL, &err) < 0) {
        return ddb__attr_fail_or_reply(r, &err);
    }
    if ((ddb__present(ue) && ddb_expr_parse_update(&out->ctx, json_string_value(ue),
                                              json_string_length(ue), &out->update) < 0) ||
        (ddb__present(ce) && ddb_expr_parse_cond(&out->ctx, DDB_EXPR_CONDITION,
                                            json_string_value(ce), json_string_length(ce),
                                            &out->cond) < 0) ||
        (ddb__present(pe) && ddb_expr_parse_proj(&out->ctx, json_string_value(pe),
                                            json_string_length(pe), &out->proj) < 0) ||
        ddb_expr_ctx_check_unused(&out->ctx) < 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "%s", out->ctx.err);
    }
    return 0;
}

/* Does a path go below key attribute name? */
static bool nested_in(const struct ddb_path *p, struct sl_str name)
{
    return p->n > 1 && !p->e[0].is_index && sl_str_eq(p->e[0].name, name);
}

static bool node_nests(const struct ddb_node *x, struct sl_str name)
{
    if (!x) {
        return false;
    }
    if (x->kind == DDB_N_PATH) {
        return nested_in(&x->path, name);
    }
    for (size_t i = 0; i < x->nargs; i++) {
        if (node_nests(x->args[i], name)) {
            return true;
        }
    }
    return false;
}

int ddb__update_key_or_reply(struct http_req *r, const struct ddb_schema *s,
                             const struct ddb_update *u)
{
    struct sl_str keys[2] = { s->hash, s->range };
    size_t nk = s->range.len ? 2 : 1;
    if (!u) {
        return 0;
    }
    for (size_t k = 0; k < nk; k++) {
        for (size_t i = 0; i < u->n; i++) {
            const struct ddb_path *p = &u->a[i].path;
            if (!p->e[0].is_index && sl_str_eq(p->e[0].name, keys[k])) {
                return http_req_fail(r, AWSERR_VALIDATION, "%sCannot update attribute %.*s. "
                                                           "This attribute is part of the key",
                                     invalid, (int)keys[k].len, keys[k].p);
            }
        }
    }
    for (size_t k = 0; k < nk; k++) {
        for (size_t i = 0; i < u->n; i++) {
            if (node_nests(u->a[i].value, keys[k])) {
                return http_req_fail(r, AWSERR_VALIDATION,
                                     "Key attributes must be scalars; list random access '[]' "
                                     "and map lookup '.' are not allowed: Key: %.*s",
                                     (int)keys[k].len, keys[k].p);
            }
        }
    }
    return 0;
}
