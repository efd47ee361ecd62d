/*
 * expr_eval.c: evaluating conditions against an encoded item, and projecting an item onto
 * document paths (ProjectionExpression, ReturnValues UPDATED_OLD / UPDATED_NEW).
 *
 * What it is: DynamoDB's comparison semantics, read straight from the stored bytes. A
 * missing attribute is never equal to anything (not even another missing one) and is always
 * "<>" anything; values of different types are unequal and unordered; < <= > >= BETWEEN order
 * S, N and B only (strings and binaries bytewise, numbers by value); size() is the bytes of
 * a string or binary and the members of a set, list or map, and has no value for the other
 * types, so comparisons with it are false.
 *
 * A projection keeps, of each path, the value it names: map members under their names, list
 * elements in their order with the gaps closed up (DynamoDB returns "a[1], a[3]" as a
 * two-element list). A path that names nothing adds nothing, not even its parents.
 *
 * What it is not: updates (expr_update.c), parsing (expr_parse.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/expr.h"

/* ---- conditions ---- */

/* An operand's value, with room for the number size() makes. */
struct opv {
    struct ddb_val v;
    char num[24];
};

static int eval_operand(const struct ddb_node *x, const void *item, size_t n, struct opv *o);

static int size_of(const struct ddb_val *v, struct opv *o)
{
    uint64_t count = 0;
    int len;
    switch (v->type) {
    case DDB_S:
    case DDB_B:
        count = v->len;
        break;
    case DDB_SS:
    case DDB_NS:
    case DDB_BS:
    case DDB_L:
    case DDB_M:
        if (!ddb_rd_varint(v->p, v->p + v->len, &count)) {
            return -EINVAL;
        }
        break;
    default:
        o->v.type = 0;
        return 0;
    }
    len = snprintf(o->num, sizeof o->num, "%llu", (unsigned long long)count);
    o->v.type = DDB_N;
    o->v.p = (const unsigned char *)o->num;
    o->v.len = (size_t)len;
    return 0;
}

static int eval_operand(const struct ddb_node *x, const void *item, size_t n, struct opv *o)
{
    o->v.type = 0;
    switch (x->kind) {
    case DDB_N_PATH:
        return ddb_path_get(item, n, &x->path, &o->v) < 0 ? -EINVAL : 0;
    case DDB_N_VALUE:
        o->v = x->val;
        return 0;
    case DDB_N_FUNC:
        if (x->op == DDB_F_SIZE && x->nargs == 1) {
            struct opv a;
            if (eval_operand(x->args[0], item, n, &a) < 0) {
                return -EINVAL;
            }
            return a.v.type ? size_of(&a.v, o) : 0;
        }
        return 0;
    default:
        return 0;
    }
}

static bool contains_bytes(const unsigned char *h, size_t hn, const unsigned char *nd,
                           size_t nn)
{
    if (nn == 0) {
        return true;
    }
    for (size_t i = 0; i + nn <= hn; i++) {
        if (h[i] == nd[0] && memcmp(h + i, nd, nn) == 0) {
            return true;
        }
    }
    return false;
}

/* contains(a, b). Returns 1, 0, or -EINVAL. */
static int eval_contains(const struct ddb_val *a, const struct ddb_val *b)
{
    struct ddb_iter it;
    struct sl_str k;
    struct ddb_val m;
    int rc;

    if (!a->type || !b->type) {
        return 0;
    }
    if ((a->type == DDB_S && b->type == DDB_S) || (a->type == DDB_B && b->type == DDB_B)) {
        return contains_bytes(a->p, a->len, b->p, b->len);
    }
    if ((a->type == DDB_SS && b->type == DDB_S) || (a->type == DDB_NS && b->type == DDB_N) ||
        (a->type == DDB_BS && b->type == DDB_B) || a->type == DDB_L) {
        if (ddb_iter_init(&it, a) < 0) {
            return -EINVAL;
        }
        while ((rc = ddb_iter_next(&it, &k, &m)) == 1) {
            if (ddb_val_eq(&m, b)) {
                return 1;
            }
        }
        return rc < 0 ? -EINVAL : 0;
    }
    return 0;
}

static bool ordered(int t)
{
    return t == DDB_S || t == DDB_N || t == DDB_B;
}

/* a op b for the ordering comparators. */
static int eval_order(int op, const struct ddb_val *a, const struct ddb_val *b)
{
    int c;
    if (!a->type || a->type != b->type || !ordered(a->type)) {
        return 0;
    }
    if (ddb_val_cmp(a, b, &c) < 0) {
        return -EINVAL;
    }
    switch (op) {
    case DDB_CMP_LT:
        return c < 0;
    case DDB_CMP_LE:
        return c <= 0;
    case DDB_CMP_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

static int eval_func(const struct ddb_node *f, const void *item, size_t n)
{
    struct opv a, b;
    int rc;

    if (f->nargs == 0 || eval_operand(f->args[0], item, n, &a) < 0) {
        return -EINVAL;
    }
    if (f->nargs > 1 && eval_operand(f->args[1], item, n, &b) < 0) {
        return -EINVAL;
    }
    switch (f->op) {
    case DDB_F_ATTRIBUTE_EXISTS:
        return a.v.type != 0;
    case DDB_F_ATTRIBUTE_NOT_EXISTS:
        return a.v.type == 0;
    case DDB_F_ATTRIBUTE_TYPE:
        return a.v.type && b.v.type == DDB_S &&
               sl_str_eq_c((struct sl_str){ (const char *)b.v.p, b.v.len },
                           ddb_type_name(a.v.type));
    case DDB_F_BEGINS_WITH:
        return a.v.type && a.v.type == b.v.type && (a.v.type == DDB_S || a.v.type == DDB_B) &&
               b.v.len <= a.v.len && (b.v.len == 0 || memcmp(a.v.p, b.v.p, b.v.len) == 0);
    case DDB_F_CONTAINS:
        return eval_contains(&a.v, &b.v);
    case DDB_F_NOT_CONTAINS:
        rc = eval_contains(&a.v, &b.v);
        return rc < 0 ? rc : !rc;
    default:
        return 0;
    }
}

int ddb_cond_eval(const struct ddb_node *x, const void *item, size_t n)
{
    struct opv a, b, c;
    int r;

    switch (x->kind) {
    case DDB_N_AND:
    case DDB_N_OR:
        /* The parser makes two operands; the legacy Expected one per attribute, however
         * many, so they are walked in a loop, never recursed through. */
        for (size_t i = 0; i < x->nargs; i++) {
            r = ddb_cond_eval(x->args[i], item, n);
            if (r < 0 || r == (x->kind == DDB_N_OR)) {
                return r;
            }
        }
        return x->kind == DDB_N_AND;
    case DDB_N_NOT:
        r = ddb_cond_eval(x->args[0], item, n);
        return r < 0 ? r : !r;
    case DDB_N_FUNC:
        return eval_func(x, item, n);
    case DDB_N_CMP:
        if (eval_operand(x->args[0], item, n, &a) < 0 ||
            eval_operand(x->args[1], item, n, &b) < 0) {
            return -EINVAL;
        }
        if (x->op == DDB_CMP_EQ) {
            return ddb_val_eq(&a.v, &b.v);
        }
        if (x->op == DDB_CMP_NE) {
            return !ddb_val_eq(&a.v, &b.v);
        }
        return eval_order(x->op, &a.v, &b.v);
    case DDB_N_BETWEEN:
        if (eval_operand(x->args[0], item, n, &a) < 0 ||
            eval_operand(x->args[1], item, n, &b) < 0 ||
            eval_operand(x->args[2], item, n, &c) < 0) {
            return -EINVAL;
        }
        r = eval_order(DDB_CMP_GE, &a.v, &b.v);
        return r != 1 ? r : eval_order(DDB_CMP_LE, &a.v, &c.v);
    case DDB_N_IN:
        if (eval_operand(x->args[0], item, n, &a) < 0) {
            return -EINVAL;
        }
        for (size_t i = 1; a.v.type && i < x->nargs; i++) {
            if (eval_operand(x->args[i], item, n, &b) < 0) {
                return -EINVAL;
            }
            if (ddb_val_eq(&a.v, &b.v)) {
                return 1;
            }
        }
        return 0;
    default:
        return 0;
    }
}

/* ---- projections ---- */

/* The paths of a projection as a tree: children sorted (names bytewise, indexes by value). */
struct ptree {
    struct ddb_path_elem key;
    bool leaf;                  /* the whole value here is kept */
    struct ptree **kids;
    size_t nkids, cap;
};

static struct ptree *ptree_kid(struct arena *a, struct ptree *t, const struct ddb_path_elem *k)
{
    size_t lo = 0, hi = t->nkids;
    struct ptree *x;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = ddb_path_elem_cmp(&t->kids[mid]->key, k);
        if (c == 0) {
            return t->kids[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    if (t->nkids == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        struct ptree **v = arena_alloc(a, cap * sizeof *v);
        if (t->nkids) {
            memcpy(v, t->kids, t->nkids * sizeof *v);
        }
        t->kids = v;
        t->cap = cap;
    }
    memmove(t->kids + lo + 1, t->kids + lo, (t->nkids - lo) * sizeof *t->kids);
    x = arena_new(a, struct ptree);
    x->key = *k;
    t->kids[lo] = x;
    t->nkids++;
    return x;
}

static void ptree_add(struct arena *a, struct ptree *root, const struct ddb_path *p)
{
    struct ptree *t = root;
    for (size_t i = 0; i < p->n && !t->leaf; i++) {
        t = ptree_kid(a, t, &p->e[i]);
    }
    t->leaf = true;
}

static const struct ptree *ptree_find(const struct ptree *t, const struct ddb_path_elem *k)
{
    size_t lo = 0, hi = t->nkids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = ddb_path_elem_cmp(&t->kids[mid]->key, k);
        if (c == 0) {
            return t->kids[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return NULL;
}

/* Writes the part of v that t keeps to out. Returns 1 written, 0 nothing kept, <0 error. */
static int project_value(const struct ptree *t, const struct ddb_val *v, struct buf *out,
                         int depth)
{
    struct ddb_iter it;
    struct sl_str name;
    struct ddb_val m;
    struct buf body;
    uint64_t count = 0;
    int rc;

    if (t->leaf) {
        return ddb_val_put(out, v) < 0 ? -E2BIG : 1;
    }
    if (depth > DDB_EXPR_MAX_PATH || t->nkids == 0) {
        return 0;
    }
    if (!((v->type == DDB_M && !t->kids[0]->key.is_index) ||
          (v->type == DDB_L && t->kids[0]->key.is_index))) {
        return 0;
    }
    if (ddb_iter_init(&it, v) < 0) {
        return -EINVAL;
    }
    buf_init(&body, DDB_ITEM_ENC_MAX);
    for (uint32_t i = 0; (rc = ddb_iter_next(&it, &name, &m)) == 1; i++) {
        struct ddb_path_elem k = { 0 };
        const struct ptree *kid;
        size_t mark = body.len;
        if (v->type == DDB_M) {
            k.name = name;
        }
        else {
            k.is_index = true;
            k.index = i;
        }
        kid = ptree_find(t, &k);
        if (!kid) {
            continue;
        }
        if (v->type == DDB_M && (ddb_put_varint(&body, name.len) < 0 ||
                                 buf_append(&body, name.p, name.len) < 0)) {
            rc = -E2BIG;
            break;
        }
        rc = project_value(kid, &m, &body, depth + 1);
        if (rc < 0) {
            break;
        }
        if (rc == 0) {
            body.len = mark;
            continue;
        }
        count++;
    }
    if (rc == 0 && count > 0) {
        rc = ddb_val_put_container(out, v->type, count, body.p, body.len) < 0 ? -E2BIG : 1;
    }
    buf_release(&body);
    return rc;
}

/* Writes the item keeping what root keeps (an empty item when nothing is kept). */
static int project_item(const struct ptree *root, const void *item, size_t n, struct buf *out)
{
    struct ddb_item_view v;
    struct ddb_attr a;
    struct buf attrs;
    uint64_t count = 0;
    size_t start = out->len, size;
    static const unsigned char header[5] = { 1, 0, 0, 0, 0 };
    int rc;

    if (ddb_item_open(item, n, &v) < 0) {
        return -EINVAL;
    }
    buf_init(&attrs, DDB_ITEM_ENC_MAX);
    while ((rc = ddb_item_next(&v, &a)) == 1) {
        struct ddb_path_elem k = { 0 };
        const struct ptree *kid;
        struct ddb_val val = ddb_val_of(&a);
        size_t mark = attrs.len;
        k.name = (struct sl_str){ a.name, a.name_len };
        kid = ptree_find(root, &k);
        if (!kid) {
            continue;
        }
        if (ddb_put_varint(&attrs, a.name_len) < 0 ||
            buf_append(&attrs, a.name, a.name_len) < 0) {
            rc = -E2BIG;
            break;
        }
        rc = project_value(kid, &val, &attrs, 1);
        if (rc < 0) {
            break;
        }
        if (rc == 0) {
            attrs.len = mark;
            continue;
        }
        count++;
    }
    if (rc == 0 && (buf_append(out, header, sizeof header) < 0 ||
                    ddb_put_varint(out, count) < 0 ||
                    buf_append(out, attrs.p, attrs.len) < 0)) {
        rc = -E2BIG;
    }
    buf_release(&attrs);
    if (rc < 0) {
        return rc;
    }
    size = ddb_item_size(out->p + start, out->len - start);
    {
        unsigned char *h = (unsigned char *)out->p + start;
        h[1] = (unsigned char)size;
        h[2] = (unsigned char)(size >> 8);
        h[3] = (unsigned char)(size >> 16);
        h[4] = (unsigned char)(size >> 24);
    }
    return 0;
}

int ddb_proj_apply(const struct ddb_proj *p, const void *item, size_t n, struct buf *out)
{
    struct arena a;
    struct ptree root = { 0 };
    int rc;
    arena_init(&a);
    for (size_t i = 0; i < p->n; i++) {
        ptree_add(&a, &root, &p->paths[i]);
    }
    rc = project_item(&root, item, n, out);
    arena_clear(&a);
    return rc;
}

int ddb_update_project(const struct ddb_update *u, struct arena *a, const void *item, size_t n,
                       struct buf *out)
{
    struct ptree root = { 0 };
    for (size_t i = 0; i < u->n; i++) {
        ptree_add(a, &root, &u->a[i].path);
    }
    return project_item(&root, item, n, out);
}
