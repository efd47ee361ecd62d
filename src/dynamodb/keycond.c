/*
 * keycond.c: a Query's key condition, from its parsed KeyConditionExpression (or from the
 * legacy KeyConditions, which query.c reads into the same terms), checked against the key
 * schema of the table or index queried, and turned into the range of full keys it selects.
 *
 * What it is: pure functions. The expression's grammar is the condition grammar
 * (expr_parse.c: DynamoDB parses both with one parser); what a key condition may hold is
 * checked here, in DynamoDB's order and words: no OR, NOT, IN or <>, no functions but
 * begins_with, the key attribute first in BETWEEN and begins_with, one attribute per
 * condition and one condition per attribute, top-level attributes only, one or two
 * conditions. Then, with the key schema: the hash key's equality, the range key's
 * comparison, the values' types.
 *
 * Ranges (docs/formats.md, "DynamoDB item keys"): with P the keyspace id and the hash key
 * value's encoding, and E(v) the encoding of a range key value, a partition is the keys
 * starting with P, [P, succ(P)); = v is [P E(v), succ(P E(v))) (an index has more parts
 * after it), < v is [P, P E(v)), <= v [P, succ(P E(v))), > v [succ(P E(v)), succ(P)), >= v
 * [P E(v), succ(P)), BETWEEN a AND b [P E(a), succ(P E(b))), and begins_with(s) the keys
 * starting with P and s's escaped bytes without their terminator, which are exactly the
 * encodings of the values that begin with s (escaping is decoded left to right, and a
 * prefix of s's escaped bytes never ends in half an escape).
 *
 * What it is not: the walk over the range (range.c), the request (query.c).
 */
#include <stdio.h>
#include <string.h>

#include "dynamodb/ddb_int.h"

static int kc_fail(char *err, size_t n, const char *msg)
{
    snprintf(err, n, "%s", msg);
    return -1;
}

/* One primary condition (a comparison, BETWEEN or a function) as a term. */
static int term_of(const struct ddb_node *x, struct ddb_keycond *kc, char *err, size_t n)
{
    static const enum ddb_kc_op cmp_ops[] = { 0, DDB_KC_EQ, 0, DDB_KC_LT, DDB_KC_LE,
                                              DDB_KC_GT, DDB_KC_GE };
    static const enum ddb_kc_op flipped[] = { 0, DDB_KC_EQ, 0, DDB_KC_GT, DDB_KC_GE,
                                              DDB_KC_LT, DDB_KC_LE };
    const struct ddb_node *attr = NULL;
    struct ddb_kc_term t;
    size_t at = 0;

    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < x->nargs; i++) {
        const struct ddb_node *a = x->args[i];
        if (a->kind == DDB_N_PATH) {
            if (attr) {
                return kc_fail(err, n, "Invalid condition in KeyConditionExpression: Multiple "
                                       "attribute names used in one condition");
            }
            if (a->path.n > 1 || a->path.e[0].is_index) {
                return kc_fail(err, n, "KeyConditionExpressions cannot have conditions on nested "
                                       "attributes");
            }
            attr = a;
            at = i;
        }
        else if (a->kind != DDB_N_VALUE) {
            /* size(...) as an operand. */
            return kc_fail(err, n, "KeyConditionExpressions cannot contain nested operations");
        }
        else if (t.nv < 2) {
            t.v[t.nv++] = a->val;
        }
    }
    if (!attr) {
        return kc_fail(err, n, "Invalid condition in KeyConditionExpression: No key attribute "
                               "specified");
    }
    t.attr = attr->path.e[0].name;
    for (size_t i = 0; i < kc->n; i++) {
        if (sl_str_eq(kc->t[i].attr, t.attr)) {
            return kc_fail(err, n, "KeyConditionExpressions must only contain one condition "
                                   "per key");
        }
    }
    if (x->kind == DDB_N_CMP) {
        t.op = at == 0 ? cmp_ops[x->op] : flipped[x->op];
    }
    else if (x->kind == DDB_N_BETWEEN) {
        t.op = DDB_KC_BETWEEN;
    }
    else {
        t.op = DDB_KC_BEGINS_WITH;
    }
    if (kc->n == 2) {
        return kc_fail(err, n, "Conditions can be of length 1 or 2 only");
    }
    kc->t[kc->n++] = t;
    return 0;
}

static int walk(const struct ddb_node *x, struct ddb_keycond *kc, char *err, size_t n)
{
    switch (x->kind) {
    case DDB_N_OR:
        return kc_fail(err, n, "Invalid operator used in KeyConditionExpression: OR");
    case DDB_N_NOT:
        return kc_fail(err, n, "Invalid operator used in KeyConditionExpression: NOT");
    case DDB_N_IN:
        return kc_fail(err, n, "Invalid operator used in KeyConditionExpression: IN");
    case DDB_N_AND:
        for (size_t i = 0; i < x->nargs; i++) {
            if (walk(x->args[i], kc, err, n) < 0) {
                return -1;
            }
        }
        return 0;
    case DDB_N_CMP:
        if (x->op == DDB_CMP_NE) {
            return kc_fail(err, n, "Invalid operator used in KeyConditionExpression: <>");
        }
        return term_of(x, kc, err, n);
    case DDB_N_BETWEEN:
        if (x->args[0]->kind != DDB_N_PATH) {
            return kc_fail(err, n, "Invalid condition in KeyConditionExpression: BETWEEN "
                                   "operator must have the key attribute as its first operand");
        }
        return term_of(x, kc, err, n);
    case DDB_N_FUNC:
        if (x->op == DDB_F_BEGINS_WITH) {
            if (x->args[0]->kind != DDB_N_PATH) {
                return kc_fail(err, n, "Invalid condition in KeyConditionExpression: "
                                       "begins_with operator must have the key attribute as its "
                                       "first operand");
            }
            return term_of(x, kc, err, n);
        }
        if (x->op == DDB_F_SIZE) {
            return kc_fail(err, n, "KeyConditionExpressions cannot contain nested operations");
        }
        snprintf(err, n, "Invalid operator used in KeyConditionExpression: %.*s",
                 (int)x->text.len, x->text.p);
        return -1;
    default:
        return kc_fail(err, n, "Invalid condition in KeyConditionExpression: No key attribute "
                               "specified");
    }
}

int ddb__keycond_from_expr(const struct ddb_node *x, struct ddb_keycond *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    return walk(x, out, err, errlen);
}

const struct ddb_kc_term *ddb__keycond_term(const struct ddb_keycond *kc, struct sl_str attr)
{
    for (size_t i = 0; i < kc->n; i++) {
        if (sl_str_eq(kc->t[i].attr, attr)) {
            return &kc->t[i];
        }
    }
    return NULL;
}

/* Appends the key encoding of v (S, N or B) at out + *o. terminated: with the terminator
 * (a whole value) or without (begins_with's prefix). Returns -1 for a damaged number. */
static int put_value(const struct ddb_val *v, bool terminated, unsigned char *out, size_t *o)
{
    if (v->type == DDB_N) {
        struct ddb_num num;
        if (ddb_num_parse((const char *)v->p, v->len, &num) != 0) {
            return -1;
        }
        *o += ddb_num_key(&num, out + *o);
        return 0;
    }
    *o += ddb_key_bytes(v->p, v->len, out + *o);
    if (!terminated) {
        *o -= 2;
    }
    return 0;
}

int ddb__keycond_range(const struct ddb_keycond *kc, const struct ddb_keyspace *ks,
                       struct ddb_range *out, char *err, size_t errlen)
{
    const struct ddb_keypart *hash = &ks->part[0];
    const struct ddb_keypart *range = ks->own > 1 ? &ks->part[1] : NULL;
    const struct ddb_kc_term *ht, *rt = NULL;
    static const char not_indexable[] = "Attempted conditional constraint is not an indexable "
                                        "operation";
    static const char type_mismatch[] = "One or more parameter values were invalid: Condition "
                                        "parameter type does not match schema type";
    size_t p;

    if (!range && kc->n > 1) {
        return kc_fail(err, errlen, "Query key condition not supported");
    }
    ht = ddb__keycond_term(kc, hash->name);
    if (!ht) {
        snprintf(err, errlen, "Query condition missed key schema element: %.*s",
                 (int)hash->name.len, hash->name.p);
        return -1;
    }
    if (ht->op == DDB_KC_OTHER) {
        return kc_fail(err, errlen, not_indexable);
    }
    if (ht->nv < 1 || ht->v[0].type != hash->type) {
        return kc_fail(err, errlen, type_mismatch);
    }
    if (ht->op != DDB_KC_EQ) {
        return kc_fail(err, errlen, "Query key condition not supported");
    }
    if (range) {
        rt = ddb__keycond_term(kc, range->name);
        if (!rt && kc->n > 1) {
            snprintf(err, errlen, "Query condition missed key schema element: %.*s",
                     (int)range->name.len, range->name.p);
            return -1;
        }
        if (rt && rt->op == DDB_KC_OTHER) {
            return kc_fail(err, errlen, not_indexable);
        }
        for (size_t i = 0; rt && i < rt->nv; i++) {
            if (rt->v[i].type != range->type) {
                return kc_fail(err, errlen, type_mismatch);
            }
        }
        if (rt && rt->op == DDB_KC_BEGINS_WITH && range->type == DDB_N) {
            return kc_fail(err, errlen, "Invalid KeyConditionExpression: Incorrect operand type "
                                        "for operator or function; operator or function: "
                                        "begins_with, operand type: N");
        }
    }
    if ((hash->type != DDB_N && ht->v[0].len > DDB_PK_MAX) ||
        (rt && range->type != DDB_N &&
         (rt->v[0].len > DDB_SK_MAX || (rt->nv > 1 && rt->v[1].len > DDB_SK_MAX)))) {
        /* A value longer than any key holds: such a condition can match nothing, but its
         * encoding would not fit the bounds. DynamoDB answers with the key size errors. */
        return kc_fail(err, errlen, ht->v[0].len > DDB_PK_MAX
                                        ? "One or more parameter values were invalid: Size of "
                                          "hashkey has exceeded the maximum size limit of2048 "
                                          "bytes"
                                        : "One or more parameter values were invalid: "
                                          "Aggregated size of all range keys has exceeded the "
                                          "size limit of 1024 bytes");
    }
    ddb__key_prefix(ks->id, out->lo);
    p = 4;
    if (put_value(&ht->v[0], true, out->lo, &p) < 0) {
        return kc_fail(err, errlen, type_mismatch);
    }
    memcpy(out->hi, out->lo, p);
    out->lo_len = out->hi_len = p;
    if (!rt) {
        out->hi_len = ddb__key_succ(out->hi, p);
        return 0;
    }
    switch (rt->op) {
    case DDB_KC_EQ:
    case DDB_KC_BEGINS_WITH:
        put_value(&rt->v[0], rt->op == DDB_KC_EQ, out->lo, &out->lo_len);
        memcpy(out->hi, out->lo, out->lo_len);
        out->hi_len = ddb__key_succ(out->hi, out->lo_len);
        break;
    case DDB_KC_LT:
        put_value(&rt->v[0], true, out->hi, &out->hi_len);
        break;
    case DDB_KC_LE:
        put_value(&rt->v[0], true, out->hi, &out->hi_len);
        out->hi_len = ddb__key_succ(out->hi, out->hi_len);
        break;
    case DDB_KC_GT:
        put_value(&rt->v[0], true, out->lo, &out->lo_len);
        out->lo_len = ddb__key_succ(out->lo, out->lo_len);
        out->hi_len = ddb__key_succ(out->hi, p);
        break;
    case DDB_KC_GE:
        put_value(&rt->v[0], true, out->lo, &out->lo_len);
        out->hi_len = ddb__key_succ(out->hi, p);
        break;
    case DDB_KC_BETWEEN:
        put_value(&rt->v[0], true, out->lo, &out->lo_len);
        put_value(&rt->v[1], true, out->hi, &out->hi_len);
        out->hi_len = ddb__key_succ(out->hi, out->hi_len);
        break;
    default:
        return kc_fail(err, errlen, not_indexable);
    }
    return 0;
}

bool ddb__keycond_match(const struct ddb_kc_term *t, const struct ddb_val *v)
{
    int c = 0, c2 = 0;

    if (t->op == DDB_KC_BEGINS_WITH) {
        return v->type == t->v[0].type && v->len >= t->v[0].len &&
               memcmp(v->p, t->v[0].p, t->v[0].len) == 0;
    }
    if (ddb_val_cmp(v, &t->v[0], &c) < 0) {
        return false;
    }
    switch (t->op) {
    case DDB_KC_EQ:
        return c == 0;
    case DDB_KC_LT:
        return c < 0;
    case DDB_KC_LE:
        return c <= 0;
    case DDB_KC_GT:
        return c > 0;
    case DDB_KC_GE:
        return c >= 0;
    case DDB_KC_BETWEEN:
        return c >= 0 && ddb_val_cmp(v, &t->v[1], &c2) == 0 && c2 <= 0;
    default:
        return false;
    }
}
