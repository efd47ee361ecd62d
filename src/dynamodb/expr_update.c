/*
 * expr_update.c: applying an update (UpdateExpression, or the legacy AttributeUpdates) to an
 * encoded item, writing the new item's encoding without going through JSON.
 *
 * How: every right-hand side is evaluated against the old item first (so "SET a = b REMOVE
 * b" copies b's old value, and "SET x = :v, y = x" fails when x did not exist), then the
 * actions' paths are laid out as a tree (they cannot overlap or conflict: the parser refused
 * that) and the item is written anew in one walk that merges the old item's sorted members
 * with the tree's sorted children. List indexes name the old list's elements: REMOVE a[1]
 * with SET a[3] changes what was at 3; SET past the end appends, in index order.
 *
 * DynamoDB's runtime errors, in its words: a path whose parent is missing or of the wrong
 * kind ("The document path provided in the update expression is invalid for update"), a
 * right-hand side naming a missing attribute ("The provided expression refers to an attribute
 * that does not exist in the item"), operands of the wrong type for +, -, list_append, ADD
 * and DELETE ("An operand in the update expression has an incorrect data type"; AttributeUpdates
 * says "Type mismatch for attribute to update"), arithmetic out of range, nesting past 32
 * levels, and a result over 400 KB ("Item size to update has exceeded the maximum allowed
 * size"). One quirk kept: REMOVE of a nested path of an item that does not exist is ignored,
 * as DynamoDB ignores it.
 *
 * What it is not: parsing (expr_parse.c), the key and condition checks (item.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "dynamodb/expr.h"

struct unode {
    struct ddb_path_elem key;
    const struct ddb_action *act;   /* a leaf: the action at this path */
    struct ddb_val val;             /* SET: the new value; ADD, DELETE: the operand */
    struct unode **kids;            /* sorted */
    size_t nkids, cap;
};

struct upd {
    struct arena *a;
    const void *base;               /* what right-hand sides read: the old item or the key */
    size_t base_n;
    struct ddb_err *err;
};

static const char bad_path[] =
    "The document path provided in the update expression is invalid for update";
static const char bad_type[] = "An operand in the update expression has an incorrect data type";
static const char legacy_type[] = "Type mismatch for attribute to update";

static int fail(struct upd *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct upd *u, const char *fmt, ...)
{
    va_list ap;
    u->err->kind = DDB_ERR_VALIDATION;
    va_start(ap, fmt);
    vsnprintf(u->err->msg, sizeof u->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int big(struct upd *u)
{
    return fail(u, "Item size to update has exceeded the maximum allowed size");
}

/* Copies a finished buffer into the arena as a value of type type. */
static struct ddb_val keep(struct upd *u, int type, const struct buf *b)
{
    unsigned char *p = arena_alloc(u->a, b->len ? b->len : 1);
    if (b->len) {
        memcpy(p, b->p, b->len);
    }
    return (struct ddb_val){ type, p, b->len };
}

/* A container value built from count encoded members. */
static struct ddb_val container(struct upd *u, int type, uint64_t count, const struct buf *body)
{
    struct buf b;
    struct ddb_val v;
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_put_varint(&b, count) < 0 || buf_append(&b, body->p, body->len) < 0) {
        buf_release(&b);
        return (struct ddb_val){ 0, NULL, 0 };
    }
    v = keep(u, type, &b);
    buf_release(&b);
    return v;
}

static int num_of(const struct ddb_val *v, struct ddb_num *n)
{
    return ddb_num_parse((const char *)v->p, v->len, n) == 0 ? 0 : -EINVAL;
}

static int num_value(struct upd *u, const struct ddb_num *n, struct ddb_val *out)
{
    char text[DDB_NUM_TEXT_MAX];
    size_t len = ddb_num_format(n, text);
    char *p = arena_strndup(u->a, text, len);
    *out = (struct ddb_val){ DDB_N, (const unsigned char *)p, len };
    return 0;
}

static int add_numbers(struct upd *u, const struct ddb_val *a, const struct ddb_val *b,
                       bool minus, struct ddb_val *out)
{
    struct ddb_num x, y, r;
    int rc;
    if (num_of(a, &x) < 0 || num_of(b, &y) < 0) {
        return fail(u, "%s", bad_type);
    }
    rc = ddb_num_add(&x, &y, minus, &r);
    if (rc < 0) {
        return fail(u, "%s", ddb_num_strerror(rc));
    }
    return num_value(u, &r, out);
}

/* The entries of a container body (after its count). */
static int entries(const struct ddb_val *v, const unsigned char **p, size_t *len,
                   uint64_t *count)
{
    struct ddb_iter it;
    if (ddb_iter_init(&it, v) < 0) {
        return -EINVAL;
    }
    *p = it.p;
    *len = (size_t)(it.end - it.p);
    *count = it.left;
    return 0;
}

static int list_concat(struct upd *u, const struct ddb_val *a, const struct ddb_val *b,
                       struct ddb_val *out)
{
    const unsigned char *pa, *pb;
    size_t la, lb;
    uint64_t ca, cb;
    struct buf body;
    if (entries(a, &pa, &la, &ca) < 0 || entries(b, &pb, &lb, &cb) < 0) {
        return fail(u, "%s", bad_type);
    }
    buf_init(&body, DDB_ITEM_ENC_MAX);
    if (buf_append(&body, pa, la) < 0 || buf_append(&body, pb, lb) < 0) {
        buf_release(&body);
        return big(u);
    }
    *out = container(u, DDB_L, ca + cb, &body);
    buf_release(&body);
    return out->type ? 0 : big(u);
}

/* Order of two members of a set of type st. */
static int member_cmp(int st, const struct ddb_val *a, const struct ddb_val *b)
{
    int c = 0;
    (void)st;
    ddb_val_cmp(a, b, &c);
    return c;
}

static int put_member(struct buf *b, const struct ddb_val *m)
{
    return ddb_put_varint(b, m->len) < 0 || buf_append(b, m->p, m->len) < 0 ? -E2BIG : 0;
}

/* Union (add) or difference (!add) of two sets of the same type, both sorted. *out.type is
 * 0 when the difference is empty. */
static int set_merge(struct upd *u, const struct ddb_val *a, const struct ddb_val *b, bool add,
                     struct ddb_val *out)
{
    struct ddb_iter ia, ib;
    struct sl_str k;
    struct ddb_val ma, mb;
    struct buf body;
    uint64_t count = 0;
    int ra, rb, rc = 0;

    if (ddb_iter_init(&ia, a) < 0 || ddb_iter_init(&ib, b) < 0) {
        return fail(u, "%s", bad_type);
    }
    buf_init(&body, DDB_ITEM_ENC_MAX);
    ra = ddb_iter_next(&ia, &k, &ma);
    rb = ddb_iter_next(&ib, &k, &mb);
    while (rc == 0 && (ra == 1 || (add && rb == 1))) {
        int c = ra != 1 ? 1 : rb != 1 ? -1 : member_cmp(a->type, &ma, &mb);
        if (c < 0) {
            rc = put_member(&body, &ma);
            count++;
            ra = ddb_iter_next(&ia, &k, &ma);
        }
        else if (c > 0) {
            if (add) {
                rc = put_member(&body, &mb);
                count++;
            }
            rb = ddb_iter_next(&ib, &k, &mb);
        }
        else {
            if (add) {
                rc = put_member(&body, &ma);
                count++;
            }
            ra = ddb_iter_next(&ia, &k, &ma);
            rb = ddb_iter_next(&ib, &k, &mb);
        }
    }
    if (rc == 0 && (ra < 0 || rb < 0)) {
        rc = -EINVAL;
    }
    if (rc < 0) {
        buf_release(&body);
        return rc == -E2BIG ? big(u) : fail(u, "%s", bad_type);
    }
    *out = count ? container(u, a->type, count, &body) : (struct ddb_val){ 0, NULL, 0 };
    buf_release(&body);
    return 0;
}

static bool is_set(int t)
{
    return t == DDB_SS || t == DDB_NS || t == DDB_BS;
}

/* A SET right-hand side, read from the old item. */
static int rhs(struct upd *u, const struct ddb_node *x, struct ddb_val *out)
{
    struct ddb_val a, b;
    int rc;

    switch (x->kind) {
    case DDB_N_VALUE:
        *out = x->val;
        return 0;
    case DDB_N_PATH:
        rc = ddb_path_get(u->base, u->base_n, &x->path, out);
        if (rc < 0) {
            return fail(u, "%s", bad_type);
        }
        if (rc == 0) {
            return fail(u, "The provided expression refers to an attribute that does not exist "
                           "in the item");
        }
        return 0;
    case DDB_N_FUNC:
        if (x->op == DDB_F_IF_NOT_EXISTS) {
            rc = ddb_path_get(u->base, u->base_n, &x->args[0]->path, out);
            if (rc < 0) {
                return fail(u, "%s", bad_type);
            }
            return rc == 1 ? 0 : rhs(u, x->args[1], out);
        }
        if (rhs(u, x->args[0], &a) < 0 || rhs(u, x->args[1], &b) < 0) {
            return -1;
        }
        if (a.type != DDB_L || b.type != DDB_L) {
            return fail(u, "%s", bad_type);
        }
        return list_concat(u, &a, &b, out);
    case DDB_N_PLUS:
    case DDB_N_MINUS:
        if (rhs(u, x->args[0], &a) < 0 || rhs(u, x->args[1], &b) < 0) {
            return -1;
        }
        if (a.type != DDB_N || b.type != DDB_N) {
            return fail(u, "%s", bad_type);
        }
        return add_numbers(u, &a, &b, x->kind == DDB_N_MINUS, out);
    default:
        return fail(u, "%s", bad_type);
    }
}

static struct unode *unode_kid(struct arena *a, struct unode *t, const struct ddb_path_elem *k)
{
    size_t lo = 0, hi = t->nkids;
    struct unode *x;
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
        struct unode **v = arena_alloc(a, cap * sizeof *v);
        if (t->nkids) {
            memcpy(v, t->kids, t->nkids * sizeof *v);
        }
        t->kids = v;
        t->cap = cap;
    }
    memmove(t->kids + lo + 1, t->kids + lo, (t->nkids - lo) * sizeof *t->kids);
    x = arena_new(a, struct unode);
    x->key = *k;
    t->kids[lo] = x;
    t->nkids++;
    return x;
}

static const char nest_msg[] = "Nesting Levels have exceeded supported limits: Attributes in "
                               "the item have nested levels beyond supported limit";

/*
 * The new value of one member: old is its old value (type 0: none), t the tree node for it.
 * Writes the member's value to out and returns 1, returns 0 when the member is gone, or -1
 * with the error set. level is the member's nesting level (top-level attributes: 1).
 */
static int member(struct upd *u, const struct unode *t, const struct ddb_val *old,
                  struct buf *out, int level);

/* Writes the members of the new container (t applied to old, a list or a map) to body and
 * their number to *countp. Returns 0 or -1 with the error set. */
static int rebuild_body(struct upd *u, const struct unode *t, const struct ddb_val *old,
                        struct buf *body_out, uint64_t *countp, int level)
{
    struct ddb_iter it;
    struct sl_str name;
    struct ddb_val m;
    struct buf body;
    uint64_t count = 0;
    size_t k = 0;
    int rc = 0, r;
    bool is_list = t->nkids > 0 && t->kids[0]->key.is_index;

    if (!old->type || old->type != (is_list ? DDB_L : DDB_M)) {
        return fail(u, "%s", bad_path);
    }
    if (ddb_iter_init(&it, old) < 0) {
        return fail(u, "%s", bad_type);
    }
    buf_init(&body, DDB_ITEM_ENC_MAX);
    for (uint32_t i = 0; rc == 0 && (r = ddb_iter_next(&it, &name, &m)) == 1; i++) {
        struct ddb_path_elem key = { 0 };
        const struct unode *kid = NULL;
        size_t mark;
        if (is_list) {
            key.is_index = true;
            key.index = i;
        }
        else {
            key.name = name;
            /* New members that sort before this one. */
            while (k < t->nkids && ddb_path_elem_cmp(&t->kids[k]->key, &key) < 0) {
                size_t mk = body.len;
                struct ddb_val none = { 0, NULL, 0 };
                const struct unode *nk = t->kids[k++];
                if (ddb_put_varint(&body, nk->key.name.len) < 0 ||
                    buf_append(&body, nk->key.name.p, nk->key.name.len) < 0) {
                    rc = big(u);
                    break;
                }
                r = member(u, nk, &none, &body, level + 1);
                if (r < 0) {
                    rc = -1;
                    break;
                }
                if (r == 0) {
                    body.len = mk;
                }
                else {
                    count++;
                }
            }
            if (rc < 0) {
                break;
            }
        }
        /* Marked after the new members above: dropping this one must not drop them. */
        mark = body.len;
        if (k < t->nkids && ddb_path_elem_cmp(&t->kids[k]->key, &key) == 0) {
            kid = t->kids[k++];
        }
        if (!is_list && ddb_put_varint(&body, name.len) < 0) {
            rc = big(u);
            break;
        }
        if (!is_list && buf_append(&body, name.p, name.len) < 0) {
            rc = big(u);
            break;
        }
        if (!kid) {
            if (ddb_val_put(&body, &m) < 0) {
                rc = big(u);
            }
            count++;
            continue;
        }
        r = member(u, kid, &m, &body, level + 1);
        if (r < 0) {
            rc = -1;
        }
        else if (r == 0) {
            body.len = mark;
        }
        else {
            count++;
        }
    }
    /* Members past the old ones: new map members, list elements past the end. */
    for (; rc == 0 && k < t->nkids; k++) {
        const struct unode *nk = t->kids[k];
        struct ddb_val none = { 0, NULL, 0 };
        size_t mark = body.len;
        if (!is_list && (ddb_put_varint(&body, nk->key.name.len) < 0 ||
                         buf_append(&body, nk->key.name.p, nk->key.name.len) < 0)) {
            rc = big(u);
            break;
        }
        if (is_list && !nk->act) {
            rc = fail(u, "%s", bad_path);
            break;
        }
        r = member(u, nk, &none, &body, level + 1);
        if (r < 0) {
            rc = -1;
        }
        else if (r == 0) {
            body.len = mark;
        }
        else {
            count++;
        }
    }
    if (rc == 0 && buf_append(body_out, body.p, body.len) < 0) {
        rc = big(u);
    }
    buf_release(&body);
    *countp = count;
    return rc < 0 ? -1 : 0;
}

static int rebuild(struct upd *u, const struct unode *t, const struct ddb_val *old,
                   struct buf *out, int level)
{
    struct buf body;
    uint64_t count = 0;
    int rc;
    buf_init(&body, DDB_ITEM_ENC_MAX);
    rc = rebuild_body(u, t, old, &body, &count, level);
    if (rc == 0 && ddb_val_put_container(out, old->type, count, body.p, body.len) < 0) {
        rc = big(u);
    }
    buf_release(&body);
    return rc < 0 ? -1 : 1;
}

static int member(struct upd *u, const struct unode *t, const struct ddb_val *old,
                  struct buf *out, int level)
{
    const struct ddb_action *a = t->act;
    struct ddb_val nv;
    bool legacy;

    if (!a) {
        return rebuild(u, t, old, out, level);
    }
    legacy = (a->flags & DDB_ACT_LEGACY) != 0;
    switch (a->kind) {
    case DDB_ACT_REMOVE:
        return 0;
    case DDB_ACT_SET:
        nv = t->val;
        break;
    case DDB_ACT_ADD:
        if (!old->type) {
            nv = t->val;
        }
        else if (old->type != t->val.type) {
            return fail(u, "%s", legacy ? legacy_type : bad_type);
        }
        else if (old->type == DDB_N) {
            if (add_numbers(u, old, &t->val, false, &nv) < 0) {
                return -1;
            }
        }
        else if (is_set(old->type)) {
            if (set_merge(u, old, &t->val, true, &nv) < 0) {
                return -1;
            }
        }
        else if (old->type == DDB_L && legacy) {
            if (list_concat(u, old, &t->val, &nv) < 0) {
                return -1;
            }
        }
        else {
            return fail(u, "%s", legacy ? legacy_type : bad_type);
        }
        break;
    case DDB_ACT_DELETE:
        if (!old->type) {
            return 0;
        }
        if (old->type != t->val.type || !is_set(old->type)) {
            return fail(u, "%s", legacy ? legacy_type : bad_type);
        }
        if (set_merge(u, old, &t->val, false, &nv) < 0) {
            return -1;
        }
        if (!nv.type) {
            return 0;   /* the last members went: the attribute goes */
        }
        break;
    default:
        return fail(u, "%s", bad_type);
    }
    if (level - 1 + ddb_val_height(&nv) > DDB_DEPTH_MAX) {
        return fail(u, "%s", nest_msg);
    }
    return ddb_val_put(out, &nv) < 0 ? big(u) : 1;
}

int ddb_update_apply(const struct ddb_update *up, const void *old, size_t old_n, const void *key,
                     size_t key_n, struct arena *a, struct buf *out, struct ddb_err *err)
{
    struct upd u = { a, old ? old : key, old ? old_n : key_n, err };
    struct unode root = { 0 };
    struct ddb_item_view v;
    struct buf attrs;
    static const unsigned char header[5] = { 1, 0, 0, 0, 0 };
    uint64_t count = 0;
    size_t start = out->len, size;
    int rc = 0;

    err->kind = DDB_ERR_NONE;
    /* Right-hand sides first, all against the old item. */
    for (size_t i = 0; i < up->n; i++) {
        const struct ddb_action *ac = &up->a[i];
        struct unode *t = &root;
        struct ddb_val val = { 0, NULL, 0 };
        if (ac->kind == DDB_ACT_REMOVE && !old) {
            continue;   /* nothing to remove from an item that does not exist */
        }
        if (ac->kind == DDB_ACT_SET) {
            if (rhs(&u, ac->value, &val) < 0) {
                return -1;
            }
        }
        else if (ac->value) {
            val = ac->value->val;
        }
        for (size_t j = 0; j < ac->path.n; j++) {
            t = unode_kid(a, t, &ac->path.e[j]);
        }
        t->act = ac;
        t->val = val;
    }
    /* The item's attributes are laid out as a map's members: rebuild them as one. */
    if (ddb_item_open(u.base, u.base_n, &v) < 0) {
        return fail(&u, "%s", bad_type);
    }
    {
        const unsigned char *b = u.base;
        struct ddb_val whole = { DDB_M, b + 5, u.base_n - 5 };
        buf_init(&attrs, DDB_ITEM_ENC_MAX);
        rc = rebuild_body(&u, &root, &whole, &attrs, &count, 0);
    }
    if (rc == 0 && (buf_append(out, header, sizeof header) < 0 ||
                    ddb_put_varint(out, count) < 0 ||
                    buf_append(out, attrs.p, attrs.len) < 0)) {
        rc = big(&u);
    }
    buf_release(&attrs);
    if (rc < 0) {
        return -1;
    }
    size = ddb_item_size(out->p + start, out->len - start);
    if (size > DDB_ITEM_MAX) {
        return big(&u);
    }
    {
        unsigned char *h = (unsigned char *)out->p + start;
        h[1] = (unsigned char)size;
        h[2] = (unsigned char)(size >> 8);
        h[3] = (unsigned char)(size >> 16);
        h[4] = (unsigned char)(size >> 24);
    }
    return 0;
}
