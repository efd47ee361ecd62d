/*
 * expr_value.c: the cursor over the binary item encoding that conditions, projections and
 * updates share: walking containers, looking document paths up, comparing values and writing
 * them back (docs/formats.md, "DynamoDB items").
 *
 * What it is not: decoding to JSON (attr.c). Nothing here allocates: values are borrowed
 * slices of the bytes they were read from.
 *
 * Invariant relied on: encodings are canonical (sorted map members, sorted unique set
 * members, normalised numbers), so two values are equal exactly when their types and bytes
 * are, and a map member is found by a sorted walk that stops at the first larger name.
 */
#include <errno.h>
#include <string.h>

#include "dynamodb/expr.h"

int ddb_iter_init(struct ddb_iter *it, const struct ddb_val *c)
{
    const unsigned char *p;
    it->type = c->type;
    it->end = c->p + c->len;
    p = ddb_rd_varint(c->p, it->end, &it->left);
    if (!p) {
        return -EINVAL;
    }
    it->p = p;
    return 0;
}

int ddb_iter_next(struct ddb_iter *it, struct sl_str *name, struct ddb_val *v)
{
    const unsigned char *p = it->p;
    if (it->left == 0) {
        return p == it->end ? 0 : -EINVAL;
    }
    if (it->type == DDB_M) {
        p = ddb_rd_name(p, it->end, &name->p, &name->len);
    }
    if (p && (it->type == DDB_L || it->type == DDB_M)) {
        p = ddb_rd_value(p, it->end, &v->type, &v->p, &v->len);
    }
    else if (p) {
        const char *m;
        size_t ml;
        p = ddb_rd_name(p, it->end, &m, &ml);
        v->type = it->type == DDB_SS ? DDB_S : it->type == DDB_NS ? DDB_N : DDB_B;
        v->p = (const unsigned char *)m;
        v->len = ml;
    }
    if (!p) {
        return -EINVAL;
    }
    it->p = p;
    it->left--;
    return 1;
}

int ddb_put_varint(struct buf *out, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    do {
        b[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v) {
            b[n] |= 0x80;
        }
        n++;
    } while (v);
    return buf_append(out, b, n);
}

static int put_u32(struct buf *out, size_t v)
{
    unsigned char b[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24) };
    return buf_append(out, b, 4);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

int ddb_val_put(struct buf *out, const struct ddb_val *v)
{
    unsigned char tag = (unsigned char)v->type;
    if (buf_append(out, &tag, 1) < 0) {
        return -E2BIG;
    }
    switch (v->type) {
    case DDB_S:
    case DDB_N:
    case DDB_B:
        if (ddb_put_varint(out, v->len) < 0) {
            return -E2BIG;
        }
        break;
    case DDB_BOOL:
    case DDB_NULL:
        break;
    default:
        if (put_u32(out, v->len) < 0) {
            return -E2BIG;
        }
        break;
    }
    return buf_append(out, v->p, v->len) < 0 ? -E2BIG : 0;
}

int ddb_val_put_container(struct buf *out, int type, uint64_t count, const void *body,
                          size_t len)
{
    unsigned char tag = (unsigned char)type;
    if (buf_append(out, &tag, 1) < 0 || put_u32(out, varint_len(count) + len) < 0 ||
        ddb_put_varint(out, count) < 0 || buf_append(out, body, len) < 0) {
        return -E2BIG;
    }
    return 0;
}

bool ddb_val_eq(const struct ddb_val *a, const struct ddb_val *b)
{
    return a->type && a->type == b->type && a->len == b->len &&
           (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

int ddb_val_cmp(const struct ddb_val *a, const struct ddb_val *b, int *cmp)
{
    if (a->type != b->type) {
        return -EINVAL;
    }
    if (a->type == DDB_N) {
        struct ddb_num x, y;
        if (ddb_num_parse((const char *)a->p, a->len, &x) != 0 ||
            ddb_num_parse((const char *)b->p, b->len, &y) != 0) {
            return -EINVAL;
        }
        *cmp = ddb_num_cmp(&x, &y);
        return 0;
    }
    if (a->type == DDB_S || a->type == DDB_B) {
        size_t m = a->len < b->len ? a->len : b->len;
        int c = m ? memcmp(a->p, b->p, m) : 0;
        if (c == 0) {
            c = a->len < b->len ? -1 : a->len > b->len;
        }
        *cmp = c < 0 ? -1 : c > 0;
        return 0;
    }
    return -EINVAL;
}

int ddb_val_height(const struct ddb_val *v)
{
    struct ddb_iter it;
    struct sl_str name;
    struct ddb_val m;
    int h = 0, rc;

    if (v->type != DDB_L && v->type != DDB_M) {
        return 1;
    }
    if (ddb_iter_init(&it, v) < 0) {
        return 1;
    }
    while ((rc = ddb_iter_next(&it, &name, &m)) == 1) {
        int mh = ddb_val_height(&m);
        if (mh > h) {
            h = mh;
        }
    }
    return 1 + h;
}

size_t ddb_item_size(const void *item, size_t n)
{
    struct ddb_item_view v;
    struct ddb_attr a;
    size_t total = 0;
    if (ddb_item_open(item, n, &v) < 0) {
        return 0;
    }
    while (ddb_item_next(&v, &a) == 1) {
        total += a.name_len + ddb_attr_size(&a);
    }
    return total;
}

int ddb_path_elem_cmp(const struct ddb_path_elem *a, const struct ddb_path_elem *b)
{
    size_t m;
    int c;
    if (a->is_index != b->is_index) {
        return a->is_index ? 1 : -1;
    }
    if (a->is_index) {
        return a->index < b->index ? -1 : a->index > b->index;
    }
    m = a->name.len < b->name.len ? a->name.len : b->name.len;
    c = m ? memcmp(a->name.p, b->name.p, m) : 0;
    if (c) {
        return c < 0 ? -1 : 1;
    }
    return a->name.len < b->name.len ? -1 : a->name.len > b->name.len;
}

/* The member of a map body named name. Returns 1, 0 absent, -EINVAL damaged. */
static int map_find(const struct ddb_val *m, struct sl_str name, struct ddb_val *out)
{
    struct ddb_iter it;
    struct sl_str k;
    int rc;
    if (ddb_iter_init(&it, m) < 0) {
        return -EINVAL;
    }
    while ((rc = ddb_iter_next(&it, &k, out)) == 1) {
        size_t mn = k.len < name.len ? k.len : name.len;
        int c = mn ? memcmp(k.p, name.p, mn) : 0;
        if (c == 0 && k.len == name.len) {
            return 1;
        }
        if (c > 0 || (c == 0 && k.len > name.len)) {
            return 0;   /* sorted: passed where it would be */
        }
    }
    return rc;
}

static int list_get(const struct ddb_val *l, uint32_t index, struct ddb_val *out)
{
    struct ddb_iter it;
    struct sl_str k;
    int rc;
    if (ddb_iter_init(&it, l) < 0) {
        return -EINVAL;
    }
    if (index >= it.left) {
        return 0;
    }
    for (uint32_t i = 0; (rc = ddb_iter_next(&it, &k, out)) == 1; i++) {
        if (i == index) {
            return 1;
        }
    }
    return rc;
}

int ddb_path_get(const void *item, size_t n, const struct ddb_path *p, struct ddb_val *out)
{
    struct ddb_attr a;
    int rc;

    out->type = 0;
    if (!item || p->n == 0 || p->e[0].is_index) {
        return 0;
    }
    rc = ddb_item_find(item, n, p->e[0].name.p, p->e[0].name.len, &a);
    if (rc != 1) {
        return rc;
    }
    *out = ddb_val_of(&a);
    for (size_t i = 1; i < p->n; i++) {
        struct ddb_val cur = *out;
        if (p->e[i].is_index) {
            rc = cur.type == DDB_L ? list_get(&cur, p->e[i].index, out) : 0;
        }
        else {
            rc = cur.type == DDB_M ? map_find(&cur, p->e[i].name, out) : 0;
        }
        if (rc != 1) {
            out->type = 0;
            return rc;
        }
    }
    return 1;
}
