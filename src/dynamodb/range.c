/*
 * range.c: the ordered walk over a range of a keyspace (a table's items or an index's
 * entries) that Query and Scan read pages with: a cursor range scan over the key encoding,
 * so that a read costs what it returns, not what the table holds.
 *
 * What it is: ddb__walk(), which visits the entries whose full keys lie in [lo, hi) in key
 * order, forward or backward, optionally only those of one parallel-scan segment, until its
 * visitor says the page is full; and the pure helpers it is built from (key comparison, the
 * prefix successor, the length of an encoded key value, the segment of a hash key value),
 * unit-tested on their own.
 *
 * Long keys (docs/formats.md, "DynamoDB item keys"): a key longer than DDB_KEY_SHORT_MAX is
 * stored as its first DDB_KEY_SHORT_MAX bytes and a SHA-256, so LMDB's order among long keys
 * sharing those bytes (a *group*, always contiguous: no other key can sort between two of
 * them) is the hashes' order, not the keys'. The walk restores it: at a group it rebuilds
 * each member's full key from the stored value (every item and every index entry holds its
 * key attributes), keeps those in range, and visits them in full-key order. It keeps only the
 * members the page can still take (a heap bounded by the visitor's room in entries and
 * bytes), so a group costs time in its size but memory in the page's.
 *
 * Segments: an entry belongs to segment floor(h * TotalSegments / 2^32) of the 32-bit hash h
 * of its hash key value's encoding (ddb__segment_of()), the same for every page, so the
 * segments of a parallel scan split a table into disjoint parts that together hold every
 * item once.
 *
 * What it is not: the request (query.c), the key conditions (keycond.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/ddb_int.h"

/* ---- pure helpers ---- */

int ddb__key_cmp(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) {
        return c;
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

size_t ddb__key_succ(unsigned char *p, size_t n)
{
    while (n > 0) {
        if (p[n - 1] != 0xFF) {
            p[n - 1]++;
            return n;
        }
        n--;
    }
    return 0;
}

size_t ddb__key_part_len(const unsigned char *p, size_t n, int type)
{
    if (type == DDB_N) {
        unsigned term;
        if (n < 1) {
            return 0;
        }
        if (p[0] == 0x02) {
            return 1;
        }
        term = p[0] == 0x03 ? 0x0 : 0xB;
        for (size_t i = 2; i < n; i++) {
            if ((p[i] >> 4) == term || (p[i] & 0xF) == term) {
                return i + 1;
            }
        }
        return 0;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] == 0x00) {
            if (p[i + 1] == 0x01) {
                return i + 2;
            }
            i++;    /* an escaped zero, 0x00 0xFF */
        }
    }
    return 0;
}

uint32_t ddb__segment_of(const unsigned char *p, size_t n, uint32_t total)
{
    /* FNV-1a, then a final mix so that the high bits depend on every byte. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)(((h >> 32) * (uint64_t)total) >> 32);
}

/* ---- the walk ---- */

/* The segment of an entry from its full key (or its stored key when that holds the whole
 * hash key value). Returns -1 when the bytes do not hold it. */
static long segment_from(const struct ddb_walk *w, const unsigned char *k, size_t n)
{
    size_t len = n > 4 ? ddb__key_part_len(k + 4, n - 4, w->ks->part[0].type) : 0;
    return len ? (long)ddb__segment_of(k + 4, len, w->total) : -1;
}

static bool in_segment(const struct ddb_walk *w, const unsigned char *full, size_t n)
{
    return w->total <= 1 || segment_from(w, full, n) == (long)w->segment;
}

/* One member of a long-key group being kept for the page. */
struct member {
    const void *val;
    size_t len;
    uint32_t size;
    unsigned char *full;        /* malloc */
    size_t flen;
};

/* Is a before b in the walk's direction? */
static bool before(const struct ddb_walk *w, const struct member *a, const struct member *b)
{
    int c = ddb__key_cmp(a->full, a->flen, b->full, b->flen);
    return w->backward ? c > 0 : c < 0;
}

/* A heap whose root is the member visited last (the first to drop). */
struct heap {
    struct member *m;
    size_t n, cap;
    uint64_t bytes;
};

static void heap_swap(struct heap *h, size_t i, size_t j)
{
    struct member t = h->m[i];
    h->m[i] = h->m[j];
    h->m[j] = t;
}

static void heap_up(const struct ddb_walk *w, struct heap *h, size_t i)
{
    while (i > 0 && before(w, &h->m[(i - 1) / 2], &h->m[i])) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(const struct ddb_walk *w, struct heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && before(w, &h->m[m], &h->m[l])) {
            m = l;
        }
        if (r < h->n && before(w, &h->m[m], &h->m[r])) {
            m = r;
        }
        if (m == i) {
            return;
        }
        heap_swap(h, i, m);
        i = m;
    }
}

static void heap_pop(const struct ddb_walk *w, struct heap *h)
{
    free(h->m[0].full);
    h->bytes -= h->m[0].size;
    h->m[0] = h->m[--h->n];
    heap_down(w, h, 0);
}

/* Keeps m if the page may still reach it: at most count members, and no more than needed to
 * pass bytes (the last member kept may cross it). */
static void heap_offer(const struct ddb_walk *w, struct heap *h, struct member *m,
                       size_t count, uint64_t bytes)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? 2 * h->cap : 16;
        h->m = xrealloc(h->m, h->cap * sizeof *h->m);
    }
    h->m[h->n++] = *m;
    h->bytes += m->size;
    heap_up(w, h, h->n - 1);
    while (h->n > count || (h->n > 1 && h->bytes - h->m[0].size >= bytes)) {
        heap_pop(w, h);
    }
}

static int member_order(const void *a, const void *b, void *w)
{
    const struct member *x = a, *y = b;
    return before(w, x, y) ? -1 : before(w, y, x) ? 1 : 0;
}

/* C11's qsort() takes no context for the direction; a page's members are few. */
static void members_sort(const struct ddb_walk *w, struct member *m, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct member t = m[i];
        size_t j = i;
        while (j > 0 && member_order(&t, &m[j - 1], (void *)w) < 0) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = t;
    }
}

/*
 * A long-key group starting at the cursor's current entry (k, v): reads all of it (leaving
 * the cursor on the first entry after it, *g its result), keeps the members in range and in
 * the segment, and visits them in order. Returns 0 to go on, 1 when the visitor stopped, <0
 * on error.
 */
static int walk_group(struct ddb_walk *w, MDB_cursor *c, MDB_val *k, MDB_val *v, int *g)
{
    unsigned char prefix[DDB_KEY_SHORT_MAX];
    unsigned char *full = xmalloc(DDB_FULLKEY_MAX);
    struct heap h = { 0 };
    size_t count;
    uint64_t bytes;
    int rc = 0;

    w->room(w->ctx, &count, &bytes);
    memcpy(prefix, k->mv_data, DDB_KEY_SHORT_MAX);
    for (*g = 0; *g == 0; *g = mdb_cursor_get(c, k, v, w->backward ? MDB_PREV : MDB_NEXT)) {
        struct member m;
        struct ddb_key_err kerr;
        struct ddb_item_view iv;
        if (!ddb__key_is_long(k->mv_size) || memcmp(k->mv_data, prefix, sizeof prefix) != 0) {
            break;
        }
        if (ddb__keyspace_key(w->ks, v->mv_data, v->mv_size, full, &m.flen, &kerr) < 0 ||
            ddb_item_open(v->mv_data, v->mv_size, &iv) < 0) {
            rc = -EIO;
            break;
        }
        if (ddb__key_cmp(full, m.flen, w->lo, w->lo_len) < 0 ||
            ddb__key_cmp(full, m.flen, w->hi, w->hi_len) >= 0 || !in_segment(w, full, m.flen)) {
            continue;
        }
        m.val = v->mv_data;
        m.len = v->mv_size;
        m.size = iv.size;
        m.full = xmalloc(m.flen);
        memcpy(m.full, full, m.flen);
        heap_offer(w, &h, &m, count, bytes);
    }
    if (*g != 0 && *g != MDB_NOTFOUND && rc == 0) {
        rc = *g;
    }
    members_sort(w, h.m, h.n);
    for (size_t i = 0; rc == 0 && i < h.n; i++) {
        rc = w->visit(w->ctx, h.m[i].val, h.m[i].len);
    }
    for (size_t i = 0; i < h.n; i++) {
        free(h.m[i].full);
    }
    free(h.m);
    free(full);
    return rc;
}

/* Places the cursor on the first entry of the walk. Returns 0 or MDB_NOTFOUND. */
static int seek(const struct ddb_walk *w, MDB_cursor *c, MDB_val *k, MDB_val *v)
{
    unsigned char b[DDB_KEY_SHORT_MAX];
    int g;

    if (!w->backward) {
        k->mv_size = w->lo_len < DDB_KEY_SHORT_MAX ? w->lo_len : DDB_KEY_SHORT_MAX;
        k->mv_data = (void *)w->lo;
        return mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    }
    /* Backward: the last entry before the first stored key that is certainly >= hi. */
    if (w->hi_len <= DDB_KEY_SHORT_MAX) {
        k->mv_size = w->hi_len;
        k->mv_data = (void *)w->hi;
    }
    else {
        memcpy(b, w->hi, sizeof b);
        k->mv_size = ddb__key_succ(b, sizeof b);
        k->mv_data = b;
    }
    g = k->mv_size ? mdb_cursor_get(c, k, v, MDB_SET_RANGE) : MDB_NOTFOUND;
    if (g == 0) {
        return mdb_cursor_get(c, k, v, MDB_PREV);
    }
    return g == MDB_NOTFOUND ? mdb_cursor_get(c, k, v, MDB_LAST) : g;
}

int ddb__walk(struct ddb_walk *w)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    int rc = mdb_cursor_open(w->txn, w->dbi, &c), g;

    if (rc) {
        return rc;
    }
    g = seek(w, c, &k, &v);
    while (g == 0) {
        const unsigned char *kb = k.mv_data;
        if (ddb__key_is_long(k.mv_size)) {
            /* The whole group is past the range when its prefix is. */
            if (!w->backward ? ddb__key_cmp(kb, DDB_KEY_SHORT_MAX, w->hi, w->hi_len) >= 0 &&
                                   (w->hi_len <= DDB_KEY_SHORT_MAX ||
                                    memcmp(kb, w->hi, DDB_KEY_SHORT_MAX) != 0)
                             : memcmp(kb, w->lo,
                                      w->lo_len < DDB_KEY_SHORT_MAX ? w->lo_len
                                                                    : DDB_KEY_SHORT_MAX) < 0) {
                break;
            }
            rc = walk_group(w, c, &k, &v, &g);
            if (rc) {
                break;
            }
            continue;
        }
        if (!w->backward ? ddb__key_cmp(kb, k.mv_size, w->hi, w->hi_len) >= 0
                         : ddb__key_cmp(kb, k.mv_size, w->lo, w->lo_len) < 0) {
            break;
        }
        if (ddb__key_cmp(kb, k.mv_size, w->lo, w->lo_len) >= 0 &&
            ddb__key_cmp(kb, k.mv_size, w->hi, w->hi_len) < 0 && in_segment(w, kb, k.mv_size)) {
            rc = w->visit(w->ctx, v.mv_data, v.mv_size);
            if (rc) {
                break;
            }
        }
        g = mdb_cursor_get(c, &k, &v, w->backward ? MDB_PREV : MDB_NEXT);
    }
    if (rc == 0 && g != 0 && g != MDB_NOTFOUND) {
        rc = g;
    }
    mdb_cursor_close(c);
    return rc < 0 ? rc : 0;
}
