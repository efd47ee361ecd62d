/*
 * write.c: the change of one item, the single place where ddb.items changes for a request:
 * the item, its secondary index entries, its item collection's size, the counters and the
 * stream record, all in the writer's nested transaction of the change.
 *
 * What it is: ddb__change_apply() (ddb_int.h), the write step of PutItem, UpdateItem,
 * DeleteItem, the transaction core's actions (and so BatchWriteItem and TransactWriteItems)
 * and PartiQL's writes: the stored item read again in the writer's transaction, the
 * condition, the update, the item to answer with; ddb__item_write(), the write itself, which
 * that step and the time-to-live deletions call; and the index entry helpers the backfill of
 * a new index shares with it. Formats: docs/formats.md, "DynamoDB index entries", "DynamoDB
 * item collections" and "DynamoDB expiry index".
 *
 * What it is not: the requests and their answers (item.c, txn.c, partiql_exec.c, which
 * parse the condition and the update and say what to return), the reads of indexes
 * (query.c), the index definitions (index.c).
 *
 * Invariants:
 *  - an item is in an index exactly when it has all of the index's key attributes, each of
 *    the index's declared type (a write that would give one another type, an empty value or
 *    one over the key size limits is refused before anything is written);
 *  - an index entry's key is ddb__keyspace_key() of the item under the index's keyspace, its
 *    value the item's projection (ddb__index_project()), so the entry can be rebuilt from
 *    the item at any time (what the backfill does);
 *  - an index's counters hold its entries' count and the sum of their sizes, each the
 *    projected item's size plus DDB_INDEX_ENTRY_OVERHEAD, as DynamoDB sizes index items;
 *  - a table with local secondary indexes keeps, per hash key value, the size of its item
 *    collection (the items' sizes plus their local index entries'), exact at every commit;
 *  - a table with time to live enabled (s->ttl_id) has in its expiry index exactly one entry
 *    per item whose attribute gives it an expiry time (ddb__ttl_expiry()), at that time;
 *  - nothing is read from the old item after the first write: it is copied first, because a
 *    value LMDB returned is only valid until the next change in the transaction.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

/* ---- projections ---- */

static bool nonkey_has(const struct ddb_index *ix, struct sl_str name)
{
    const unsigned char *p = ix->nonkey;
    for (unsigned i = 0; i < ix->n_nonkey; i++) {
        if (p[0] == name.len && memcmp(p + 1, name.p, name.len) == 0) {
            return true;
        }
        p += 1 + p[0];
    }
    return false;
}

bool ddb__index_projects(const struct ddb_schema *s, const struct ddb_index *ix,
                         struct sl_str name)
{
    if (ix->proj == DDB_PROJ_ALL || sl_str_eq(name, s->hash) || sl_str_eq(name, ix->hash) ||
        (s->range.len && sl_str_eq(name, s->range)) ||
        (ix->range.len && sl_str_eq(name, ix->range))) {
        return true;
    }
    return ix->proj == DDB_PROJ_INCLUDE && nonkey_has(ix, name);
}

/* DynamoDB's size of item's projection into ix (without the entry overhead). Returns 0 for
 * a damaged item. */
static uint32_t projected_size(const struct ddb_schema *s, const struct ddb_index *ix,
                               const void *item, size_t n)
{
    struct ddb_item_view v;
    struct ddb_attr a;
    uint64_t size = 0;

    if (ddb_item_open(item, n, &v) < 0) {
        return 0;
    }
    if (ix->proj == DDB_PROJ_ALL) {
        return v.size;
    }
    while (ddb_item_next(&v, &a) == 1) {
        if (ddb__index_projects(s, ix, (struct sl_str){ a.name, a.name_len })) {
            size += a.name_len + ddb_attr_size(&a);
        }
    }
    return (uint32_t)size;
}

int ddb__index_project(const struct ddb_schema *s, const struct ddb_index *ix,
                       const void *item, size_t n, struct buf *out)
{
    struct ddb_item_view v;
    struct ddb_attr a;
    uint64_t count = 0, size = 0;
    unsigned char header[5];
    const unsigned char *at;
    int rc;

    if (ix->proj == DDB_PROJ_ALL) {
        return buf_append(out, item, n) < 0 ? -E2BIG : 0;
    }
    /* Two passes: the header (size, count) comes before the attributes. */
    if (ddb_item_open(item, n, &v) < 0) {
        return -EINVAL;
    }
    while ((rc = ddb_item_next(&v, &a)) == 1) {
        if (ddb__index_projects(s, ix, (struct sl_str){ a.name, a.name_len })) {
            count++;
            size += a.name_len + ddb_attr_size(&a);
        }
    }
    if (rc < 0) {
        return -EINVAL;
    }
    header[0] = 1;
    header[1] = (unsigned char)size;
    header[2] = (unsigned char)(size >> 8);
    header[3] = (unsigned char)(size >> 16);
    header[4] = (unsigned char)(size >> 24);
    if (buf_append(out, header, sizeof header) < 0 || ddb_put_varint(out, count) < 0) {
        return -E2BIG;
    }
    ddb_item_open(item, n, &v);
    for (at = v.p; ddb_item_next(&v, &a) == 1; at = v.p) {
        /* An attribute's bytes, name and value, are copied as they are: the encoding is
         * canonical, so a subset in the same order is an item's encoding too. */
        if (ddb__index_projects(s, ix, (struct sl_str){ a.name, a.name_len }) &&
            buf_append(out, at, (size_t)(v.p - at)) < 0) {
            return -E2BIG;
        }
    }
    return 0;
}

/* ---- index keys ---- */

/* An item's place in one index. */
struct entry {
    bool present;
    uint32_t size;              /* the projection's size plus DDB_INDEX_ENTRY_OVERHEAD */
    struct ddb_key key;
};

/*
 * The entry of item in ix. Returns 0 (e->present false when the item is not in the index),
 * or DDB_WRITE_INDEX_KEY with *kerr when strict and a key value cannot be held, or -EIO for a
 * damaged item. Not strict (an item already stored): a value the index cannot hold leaves the
 * item out of it, as DynamoDB's backfill does.
 */
static int entry_of(const struct ddb_schema *s, const struct ddb_index *ix, const void *item,
                    size_t n, bool strict, unsigned char *full, struct entry *e,
                    struct ddb_key_err *kerr)
{
    struct ddb_keyspace ks;
    size_t len;

    e->present = false;
    if (!item) {
        return 0;
    }
    ddb__keyspace_of(s, ix, &ks);
    if (ddb__keyspace_key(&ks, item, n, full, &len, kerr) < 0) {
        if (kerr->why == DDB_KEY_MISSING) {
            return 0;
        }
        if (kerr->why == DDB_KEY_DAMAGED) {
            return -EIO;
        }
        return strict ? DDB_WRITE_INDEX_KEY : 0;
    }
    ddb__key_store(full, len, &e->key);
    e->size = projected_size(s, ix, item, n) + DDB_INDEX_ENTRY_OVERHEAD;
    e->present = true;
    return 0;
}

int ddb__index_keys_check(const struct ddb_schema *s, const void *item, size_t n,
                          struct ddb_write *w)
{
    unsigned char full[DDB_FULLKEY_MAX];
    struct entry e;

    for (size_t i = 0; i < s->n_index; i++) {
        int rc = entry_of(s, &s->index[i], item, n, true, full, &e, &w->kerr);
        if (rc == DDB_WRITE_INDEX_KEY) {
            snprintf(w->index_name, sizeof w->index_name, "%.*s", (int)s->index[i].name.len,
                     s->index[i].name.p);
        }
        if (rc) {
            return rc;
        }
    }
    return 0;
}

/* Removes an entry; its counters change only when it was there (a backfill may not have
 * reached it yet). */
static int entry_del(struct ddb *d, MDB_txn *txn, const struct ddb_index *ix,
                     const struct entry *e)
{
    MDB_val k = { e->key.len, (void *)e->key.b };
    int rc = mdb_del(txn, d->index, &k, NULL);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    return rc ? rc : ddb__counts_add(d, txn, ix->id, -1, -(int64_t)e->size);
}

/* Writes an entry whose value is val[0..len); the counters follow what was there. */
static int entry_put(struct ddb *d, MDB_txn *txn, const struct ddb_index *ix,
                     const struct entry *e, const void *val, size_t len)
{
    MDB_val k = { e->key.len, (void *)e->key.b }, v = { len, (void *)val };
    struct ddb_item_view was;
    int64_t items = 1, bytes = e->size;
    int rc = mdb_put(txn, d->index, &k, &v, MDB_NOOVERWRITE);

    if (rc == MDB_KEYEXIST) {
        /* v now holds the entry there: replace it and count the difference. */
        if (ddb_item_open(v.mv_data, v.mv_size, &was) < 0) {
            return -EIO;
        }
        items = 0;
        bytes -= (int64_t)was.size + DDB_INDEX_ENTRY_OVERHEAD;
        v.mv_size = len;
        v.mv_data = (void *)val;
        rc = mdb_put(txn, d->index, &k, &v, 0);
    }
    return rc ? rc : ddb__counts_add(d, txn, ix->id, items, bytes);
}

int ddb__index_add(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                   const struct ddb_index *ix, const void *item, size_t n)
{
    unsigned char full[DDB_FULLKEY_MAX];
    struct ddb_key_err kerr;
    struct entry e;
    int rc;

    store_assert_writer(d->st);
    rc = entry_of(s, ix, item, n, false, full, &e, &kerr);
    if (rc || !e.present) {
        return rc;
    }
    if (ix->proj == DDB_PROJ_ALL) {
        return entry_put(d, txn, ix, &e, item, n);
    }
    buf_reset(&d->w_entry);
    rc = ddb__index_project(s, ix, item, n, &d->w_entry);
    return rc ? rc : entry_put(d, txn, ix, &e, d->w_entry.p, d->w_entry.len);
}

/* ---- item collections ---- */

/* The key of an item's collection in ddb.collections: the table id and the hash key
 * value's encoding (shortened like item keys). */
static int collection_key(const struct ddb_schema *s, const void *item, size_t n,
                          struct ddb_key *out)
{
    struct ddb_keyspace ks;
    struct ddb_key_err kerr;
    unsigned char full[DDB_FULLKEY_MAX];
    size_t len;

    ddb__keyspace_of(s, NULL, &ks);
    ks.n = ks.own = 1;
    if (ddb__keyspace_key(&ks, item, n, full, &len, &kerr) < 0) {
        return -EIO;
    }
    ddb__key_store(full, len, out);
    return 0;
}

static uint64_t get_u64(const void *p)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | b[i];
    }
    return v;
}

int ddb__collection_size(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                         const void *item, size_t n, uint64_t *size)
{
    struct ddb_key ck;
    MDB_val k, v;
    int rc;

    *size = 0;
    if (collection_key(s, item, n, &ck) < 0) {
        return -EIO;
    }
    k.mv_size = ck.len;
    k.mv_data = ck.b;
    rc = mdb_get(txn, d->collections, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc == 0 && v.mv_size == 8) {
        *size = get_u64(v.mv_data);
    }
    return rc;
}

/* Adds delta to the collection of item (the item or the old one: the same hash key). */
static int collection_add(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                          const void *item, size_t n, uint64_t now, int64_t delta)
{
    struct ddb_key ck;
    unsigned char b[8];
    uint64_t size = now + (uint64_t)delta;   /* unsigned wrap-around for negative deltas */
    MDB_val k, v = { sizeof b, b };

    if (collection_key(s, item, n, &ck) < 0) {
        return -EIO;
    }
    k.mv_size = ck.len;
    k.mv_data = ck.b;
    if (size == 0) {
        int rc = mdb_del(txn, d->collections, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    for (int i = 0; i < 8; i++) {
        b[i] = (unsigned char)(size >> (8 * i));
    }
    return mdb_put(txn, d->collections, &k, &v, 0);
}

int ddb__collection_metrics_append(struct buf *b, const struct ddb_schema *s,
                                   const void *item, size_t n, uint64_t size)
{
    /* "SizeEstimateRangeGB": DynamoDB answers a range of whole gigabytes around the size. */
    double lo = (double)(size >> 30), hi = lo + 1;
    int rc = buf_puts(b, "\"ItemCollectionMetrics\":{\"ItemCollectionKey\":");
    if (rc == 0) {
        rc = ddb_item_write_json(item, n, &s->hash, 1, b);
    }
    if (rc == 0) {
        rc = buf_printf(b, ",\"SizeEstimateRangeGB\":[%.1f,%.1f]}", lo, hi);
    }
    return rc < 0 ? -E2BIG : 0;
}

/* ---- the expiry index (docs/formats.md, "DynamoDB expiry index") ---- */

void ddb__expiry_key(uint32_t id, uint64_t at, unsigned char out[DDB_EXPIRY_KEY_LEN])
{
    ddb__key_prefix(id, out);
    for (int i = 0; i < 8; i++) {
        out[4 + i] = (unsigned char)(at >> (8 * (7 - i)));
    }
}

/* Adds (add) or removes the entry of item key at time at in index id. */
static int expiry_put(struct ddb *d, MDB_txn *txn, uint32_t id, uint64_t at,
                      const struct ddb_key *key, bool add)
{
    unsigned char kb[DDB_EXPIRY_KEY_LEN];
    MDB_val k = { sizeof kb, kb }, v = { key->len, (void *)key->b };
    int rc;

    ddb__expiry_key(id, at, kb);
    if (add) {
        rc = mdb_put(txn, d->expiry, &k, &v, MDB_NODUPDATA);
        return rc == MDB_KEYEXIST ? 0 : rc;
    }
    rc = mdb_del(txn, d->expiry, &k, &v);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int ddb__expiry_add(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                    const struct ddb_key *key, const void *item, size_t n)
{
    uint64_t at;

    store_assert_writer(d->st);
    if (!s->ttl_id || !ddb__ttl_expiry(item, n, s->ttl_attr, &at)) {
        return 0;
    }
    return expiry_put(d, txn, s->ttl_id, at, key, true);
}

/* ---- the write ---- */

static uint32_t size_of(const void *item, size_t n)
{
    struct ddb_item_view v;
    return item && ddb_item_open(item, n, &v) == 0 ? v.size : 0;
}

int ddb__item_write(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                    const struct ddb_key *key, const void *old, size_t old_len,
                    const void *new_, size_t new_len, unsigned flags, struct ddb_write *w)
{
    unsigned char full[DDB_FULLKEY_MAX];
    struct entry olds[DDB_MAX_INDEXES], news[DDB_MAX_INDEXES];
    MDB_val k = { key->len, (void *)key->b };
    int64_t coll_delta = 0;
    uint64_t coll = 0, old_at = 0, new_at = 0;
    bool old_exp = false, new_exp = false;
    int rc = 0;

    store_assert_writer(d->st);
    w->old_size = size_of(old, old_len);
    w->new_size = size_of(new_, new_len);
    w->changed = false;
    w->appended = false;
    w->collection_size = 0;
    w->index_name[0] = '\0';
    if ((!old && !new_) || (old && new_ && old_len == new_len &&
                            memcmp(old, new_, new_len) == 0)) {
        /* DeleteItem of a missing item, or the same item again: nothing changes, so nothing
         * is written or recorded. */
        if (s->has_lsi && (old || new_)) {
            rc = ddb__collection_size(d, txn, s, old, old_len, &w->collection_size);
        }
        return rc;
    }
    if (old && (s->n_index || s->view != DDB_VIEW_NONE)) {
        buf_reset(&d->w_old);
        if (buf_append(&d->w_old, old, old_len) < 0) {
            return -E2BIG;
        }
        old = d->w_old.p;
    }

    /* Everything that can refuse the write, before anything is written. */
    for (size_t i = 0; i < s->n_index; i++) {
        const struct ddb_index *ix = &s->index[i];
        rc = entry_of(s, ix, new_, new_len, true, full, &news[i], &w->kerr);
        if (rc == 0) {
            rc = entry_of(s, ix, old, old_len, false, full, &olds[i], &w->kerr);
        }
        if (rc == DDB_WRITE_INDEX_KEY) {
            snprintf(w->index_name, sizeof w->index_name, "%.*s", (int)ix->name.len,
                     ix->name.p);
        }
        if (rc) {
            return rc;
        }
        if (ix->local) {
            coll_delta += (news[i].present ? (int64_t)news[i].size : 0) -
                          (olds[i].present ? (int64_t)olds[i].size : 0);
        }
    }
    if (s->has_lsi) {
        const void *any = new_ ? new_ : old;
        size_t any_len = new_ ? new_len : old_len;
        coll_delta += (int64_t)w->new_size - (int64_t)w->old_size;
        rc = ddb__collection_size(d, txn, s, any, any_len, &coll);
        if (rc) {
            return rc;
        }
        if (coll_delta > 0 && coll + (uint64_t)coll_delta > d->collection_max) {
            w->collection_size = coll;
            return DDB_WRITE_COLLECTION_FULL;
        }
        w->collection_size = coll + (uint64_t)coll_delta;
    }
    if (s->ttl_id) {
        /* The expiry entries, read before anything is written (old may point into the
         * map). */
        old_exp = old && ddb__ttl_expiry(old, old_len, s->ttl_attr, &old_at);
        new_exp = new_ && ddb__ttl_expiry(new_, new_len, s->ttl_attr, &new_at);
    }

    w->changed = true;
    if (s->view != DDB_VIEW_NONE) {
        rc = ddb__stream_record(d, txn, s, old, old_len, new_, new_len,
                                (flags & DDB_WRITE_BY_TTL) != 0);
        w->appended = rc == 0;
    }
    for (size_t i = 0; rc == 0 && i < s->n_index; i++) {
        const struct ddb_index *ix = &s->index[i];
        bool same = olds[i].present && news[i].present &&
                    olds[i].key.len == news[i].key.len &&
                    memcmp(olds[i].key.b, news[i].key.b, news[i].key.len) == 0;
        if (olds[i].present && !same) {
            rc = entry_del(d, txn, ix, &olds[i]);
        }
        if (rc == 0 && news[i].present) {
            if (ix->proj == DDB_PROJ_ALL) {
                rc = entry_put(d, txn, ix, &news[i], new_, new_len);
            }
            else {
                buf_reset(&d->w_entry);
                rc = ddb__index_project(s, ix, new_, new_len, &d->w_entry);
                if (rc == 0) {
                    rc = entry_put(d, txn, ix, &news[i], d->w_entry.p, d->w_entry.len);
                }
            }
        }
    }
    if (rc == 0 && s->has_lsi && coll_delta != 0) {
        rc = collection_add(d, txn, s, new_ ? new_ : old, new_ ? new_len : old_len, coll,
                            coll_delta);
    }
    if (rc == 0 && (old_exp != new_exp || old_at != new_at)) {
        /* The item's entry in the expiry index moves with its time-to-live attribute. */
        if (old_exp) {
            rc = expiry_put(d, txn, s->ttl_id, old_at, key, false);
        }
        if (rc == 0 && new_exp) {
            rc = expiry_put(d, txn, s->ttl_id, new_at, key, true);
        }
    }
    if (rc == 0 && new_) {
        MDB_val nv = { new_len, (void *)new_ };
        rc = mdb_put(txn, d->items, &k, &nv, 0);
    }
    else if (rc == 0) {
        rc = mdb_del(txn, d->items, &k, NULL);
    }
    if (rc == 0) {
        rc = ddb__counts_add(d, txn, s->id, new_ ? (old ? 0 : 1) : -1,
                             (int64_t)w->new_size - (int64_t)w->old_size);
    }
    return rc;
}

void ddb__write_err_msg(int rc, const struct ddb_write *w, char *out, size_t n)
{
    static const char not_valid[] = "One or more parameter values are not valid. A value "
                                    "specified for a secondary index key is not supported. The "
                                    "AttributeValue for a key attribute cannot contain an empty";
    if (rc == DDB_WRITE_COLLECTION_FULL) {
        snprintf(out, n, "The total size of an item collection has exceeded the maximum limit "
                         "of 10 gigabytes.");
        return;
    }
    switch (w->kerr.why) {
    case DDB_KEY_TYPE:
        snprintf(out, n,
                 "One or more parameter values were invalid: Type mismatch for Index Key %s "
                 "Expected: %s Actual: %s IndexName: %s",
                 w->kerr.attr, ddb_type_name(w->kerr.expected), ddb_type_name(w->kerr.actual),
                 w->index_name);
        break;
    case DDB_KEY_EMPTY_S:
    case DDB_KEY_EMPTY_B:
        snprintf(out, n, "%s %s value. IndexName: %s, IndexKey: %s", not_valid,
                 w->kerr.why == DDB_KEY_EMPTY_S ? "string" : "binary", w->index_name,
                 w->kerr.attr);
        break;
    default:
        ddb__key_err_msg(&w->kerr, out, n);
        break;
    }
}

int ddb__write_fail_or_reply(struct http_req *r, int rc, const struct ddb_write *w)
{
    char msg[1024];
    if (rc == DDB_WRITE_COLLECTION_FULL) {
        return http_req_fail(r, AWSERR_ITEM_COLLECTION_SIZE, NULL);
    }
    if (w->kerr.why == DDB_KEY_OK || w->kerr.why == DDB_KEY_DAMAGED) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    ddb__write_err_msg(rc, w, msg, sizeof msg);
    return http_req_fail(r, AWSERR_VALIDATION, "%s", msg);
}

/* ---- the change of one item ---- */

/* The item a change answers with, taken from item (the old or the new one, NULL: none):
 * the paths update u names (nothing when none of them is there), or all of it. */
static void ret_keep(struct ddb_change *c, struct arena *a, const void *item, size_t n,
                     bool project)
{
    struct buf b;
    struct ddb_item_view v;
    if (!item) {
        return;
    }
    if (!project) {
        c->ret_item = ddb__dup(item, n, &c->ret_len);
        return;
    }
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_update_project(c->update, a, item, n, &b) == 0 && ddb_item_open(b.p, b.len, &v) == 0 &&
        v.count > 0) {
        c->ret_item = ddb__dup(b.p, b.len, &c->ret_len);
    }
    buf_release(&b);
}

/* Reads the change's table (again: the request read it on another thread) and its item.
 * *old is NULL when there is none; it points into the map, valid until the first write. */
static int change_read(struct ddb *d, MDB_txn *txn, struct ddb_change *c, struct ddb_schema *s,
                       MDB_val *v, const void **old)
{
    struct ddb_key_err kerr;
    struct ddb_item_view view;
    MDB_val k;
    int rc = ddb__schema_get(d, txn, c->table, s);

    if (rc) {
        return rc;
    }
    if (s->id != c->table_id) {
        if (!(c->flags & DDB_CHANGE_REKEY) ||
            ddb__key_of(s, c->item, c->item_len, c->kind != DDB_CHANGE_PUT, c->key, &kerr) < 0) {
            return -ESTALE;
        }
        c->table_id = s->id;
    }
    k.mv_size = c->key->len;
    k.mv_data = c->key->b;
    rc = mdb_get(txn, d->items, &k, v);
    if (rc == MDB_NOTFOUND) {
        v->mv_size = 0;
        return 0;
    }
    if (rc) {
        return rc;
    }
    if (ddb_item_open(v->mv_data, v->mv_size, &view) < 0) {
        return -EIO;
    }
    *old = v->mv_data;
    c->wr.old_size = view.size;
    return 0;
}

int ddb__change_apply(struct ddb *d, MDB_txn *txn, struct ddb_change *c, struct ddb_schema *s)
{
    static const struct ddb_update no_update = { NULL, 0 };
    MDB_val v = { 0, NULL };
    const void *old = NULL, *new_ = NULL;
    size_t new_len = 0;
    struct ddb_item_view view;
    struct arena a;
    struct buf nb;
    int rc;

    store_assert_writer(d->st);
    memset(&c->wr, 0, offsetof(struct ddb_write, index_name));
    c->wr.index_name[0] = '\0';
    c->uerr.kind = DDB_ERR_NONE;
    free(c->ret_item);
    free(c->new_);
    c->ret_item = c->new_ = NULL;
    c->ret_len = c->new_len = 0;

    rc = change_read(d, txn, c, s, &v, &old);
    if (rc) {
        return rc;
    }
    if ((c->flags & DDB_CHANGE_ABSENT) && old) {
        return DDB_CHANGE_EXISTS;
    }
    if (c->cond) {
        rc = ddb_cond_eval(c->cond, old, v.mv_size);
        if (rc < 0) {
            return -EIO;
        }
        if (rc == 0) {
            if ((c->flags & DDB_CHANGE_RVOCCF) && old) {
                c->ret_item = ddb__dup(old, v.mv_size, &c->ret_len);
            }
            return DDB_CHANGE_CONDITION_FAILED;
        }
        rc = 0;
    }
    if (c->kind == DDB_CHANGE_CHECK) {
        return 0;
    }
    arena_init(&a);
    buf_init(&nb, DDB_ITEM_ENC_MAX);
    if (c->kind == DDB_CHANGE_PUT) {
        new_ = c->item;
        new_len = c->item_len;
    }
    else if (c->kind == DDB_CHANGE_UPDATE) {
        if (ddb_update_apply(c->update ? c->update : &no_update, old, v.mv_size, c->item,
                             c->item_len, &a, &nb, &c->uerr) < 0) {
            rc = DDB_CHANGE_UPDATE_FAILED;
            goto out;
        }
        if (ddb_item_open(nb.p, nb.len, &view) < 0) {
            rc = -EIO;
            goto out;
        }
        new_ = nb.p;
        new_len = nb.len;
    }
    if (c->flags & DDB_CHANGE_DRY) {
        if (c->kind == DDB_CHANGE_UPDATE) {
            c->new_ = ddb__dup(nb.p, nb.len, &c->new_len);
        }
        goto out;
    }
    /* The answer's item before the write, which old does not outlive. */
    if (c->ret == DDB_RET_ALL_OLD || c->ret == DDB_RET_UPDATED_OLD) {
        ret_keep(c, &a, old, v.mv_size, c->ret == DDB_RET_UPDATED_OLD);
    }
    else if (c->ret != DDB_RET_NONE) {
        ret_keep(c, &a, new_, new_len, c->ret == DDB_RET_UPDATED_NEW);
    }
    rc = ddb__item_write(d, txn, s, c->key, old, v.mv_size, new_, new_len, 0, &c->wr);
out:
    buf_release(&nb);
    arena_clear(&a);
    return rc;
}

int ddb__change_fail_or_reply(struct http_req *r, int rc, const struct ddb_change *c,
                              const char *what)
{
    switch (rc) {
    case -ENOENT:
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found");
    case DDB_WRITE_INDEX_KEY:
    case DDB_WRITE_COLLECTION_FULL:
        return ddb__write_fail_or_reply(r, rc, &c->wr);
    case DDB_CHANGE_EXISTS:
        return http_req_fail(r, AWSERR_DUPLICATE_ITEM, NULL);
    case DDB_CHANGE_CONDITION_FAILED:
        if (c->ret_item) {
            struct buf b;
            buf_init(&b, 4 * DDB_ITEM_ENC_MAX);
            if (ddb_item_write_json(c->ret_item, c->ret_len, NULL, 0, &b) == 0) {
                http_req_fail_json(r, "Item", b.p, b.len);
            }
            buf_release(&b);
        }
        return http_req_fail(r, AWSERR_CONDITIONAL_CHECK_FAILED, NULL);
    case DDB_CHANGE_UPDATE_FAILED:
        if (c->uerr.kind != DDB_ERR_NONE) {
            return ddb__attr_fail_or_reply(r, &c->uerr);
        }
        /* fall through */
    default:
        log_error("dynamodb", "%s on %s: %s", what, c->table, store_strerror(rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
}
