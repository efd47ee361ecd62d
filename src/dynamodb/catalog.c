/*
 * catalog.c: the storage of DynamoDB tables: catalog entries, the binary schema record the
 * item operations read, table ids, item counters, and the reclaiming of deleted tables'
 * items. Formats: docs/formats.md, "DynamoDB catalog" and "DynamoDB table schema".
 *
 * What it is not: request handling (table.c, update.c, item.c).
 *
 * Invariants:
 *  - a table's schema record is always derived from its catalog entry, in the same
 *    transaction (ddb__catalog_put() writes both), so the two never disagree;
 *  - every table has an id never used before (ddb.meta "table_id" only grows); its items live
 *    under that id in ddb.items, so a name can be reused at once after DeleteTable while the
 *    old items are removed in the background;
 *  - a table's counters change in the transaction of the item write that changes them, so
 *    ItemCount and TableSizeBytes are exact at every commit;
 *  - at most one reclaim op is queued or running; ddb__catalog_close() waits for it.
 *
 * Reclaiming, as states of struct ddb (under d->mu):
 *
 *   IDLE --ddb__reclaim_kick()--> BUSY (op queued) --done, more left--> BUSY (requeued)
 *        <-------------------------------------- done, nothing left, or stopping --/
 *   A kick while BUSY sets reclaim_again, so the running op is requeued once more.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

#define SCHEMA_VERSION 3
/* Version 1 records (tables made before indexes) have no index count, version 2 records
 * (before the expiry index) no time-to-live part; both are still read. */
#define SCHEMA_VERSION_1 1
#define SCHEMA_VERSION_2 2
/* The largest record: the table's part, then every index with the longest names and the
 * most projected attributes. */
#define SCHEMA_MAX                                                                          \
    (1 + 4 + 2 * (2 + 255) + 1 + 2 + 1024 + 1 +                                           \
     DDB_MAX_INDEXES * (1 + 1 + 4 + 1 + 255 + 2 * (2 + 255) + 1 + 1) +                   \
     DDB_MAX_NONKEY * (1 + 255) + 4 + 1 + 255)

static void put_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

static uint64_t get_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

/* ---- the schema record ---- */

static int type_tag(const char *t)
{
    if (!t) {
        return 0;
    }
    return strcmp(t, "S") == 0 ? DDB_S : strcmp(t, "N") == 0 ? DDB_N : strcmp(t, "B") == 0 ? DDB_B : 0;
}

static const char *type_letter(int t)
{
    return t == DDB_S ? "S" : t == DDB_N ? "N" : "B";
}

static enum ddb_view view_of(const char *s)
{
    if (!s) {
        return DDB_VIEW_NONE;
    }
    if (strcmp(s, "KEYS_ONLY") == 0) {
        return DDB_VIEW_KEYS_ONLY;
    }
    if (strcmp(s, "NEW_IMAGE") == 0) {
        return DDB_VIEW_NEW_IMAGE;
    }
    if (strcmp(s, "OLD_IMAGE") == 0) {
        return DDB_VIEW_OLD_IMAGE;
    }
    if (strcmp(s, "NEW_AND_OLD_IMAGES") == 0) {
        return DDB_VIEW_NEW_AND_OLD_IMAGES;
    }
    return DDB_VIEW_NONE;
}

/* The declared type of key attribute name. */
static int key_type(const json_t *entry, const char *name)
{
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(entry, "AttributeDefinitions"), i, d)
    {
        const char *n = json_string_value(json_object_get(d, "AttributeName"));
        if (n && strcmp(n, name) == 0) {
            return type_tag(json_string_value(json_object_get(d, "AttributeType")));
        }
    }
    return 0;
}

/* Appends a key schema's elements (u8 type letter, u8 name length, name; a 0 byte for a
 * missing range key) at out + *o. Returns false when the schema is not usable. */
static bool put_key_schema(const json_t *entry, const json_t *ks, unsigned char *out, size_t *o)
{
    size_t i;
    const json_t *k;

    for (i = 0; i < 2 && (k = json_array_get(ks, i)) != NULL; i++) {
        const char *name = json_string_value(json_object_get(k, "AttributeName"));
        size_t n = name ? strlen(name) : 0;
        int t = name ? key_type(entry, name) : 0;
        if (!t || n == 0 || n > 255) {
            return false;
        }
        out[(*o)++] = (unsigned char)type_letter(t)[0];
        out[(*o)++] = (unsigned char)n;
        memcpy(out + *o, name, n);
        *o += n;
    }
    if (i == 0) {
        return false;
    }
    if (i == 1) {
        out[(*o)++] = 0;
    }
    return true;
}

/* Appends one index: kind, status, id, name, key schema, projection. */
static bool put_index(const json_t *entry, const json_t *ix, bool local, unsigned char *out,
                      size_t *o, size_t *nonkey_total)
{
    const char *name = json_string_value(json_object_get(ix, "IndexName"));
    const json_t *proj = json_object_get(ix, "Projection");
    const char *pt = json_string_value(json_object_get(proj, "ProjectionType"));
    const json_t *nk = json_object_get(proj, "NonKeyAttributes");
    const char *status = json_string_value(json_object_get(ix, "IndexStatus"));
    json_int_t id = json_integer_value(json_object_get(ix, "SluiceIndexId"));
    size_t n = name ? strlen(name) : 0, i;
    const json_t *a;

    *nonkey_total += json_array_size(nk);
    if (n == 0 || n > 255 || id <= 0 || id > UINT32_MAX || !pt ||
        *nonkey_total > DDB_MAX_NONKEY) {
        return false;
    }
    out[(*o)++] = local ? 'L' : 'G';
    out[(*o)++] = status && strcmp(status, "CREATING") == 0;
    put_le32(out + *o, (uint32_t)id);
    *o += 4;
    out[(*o)++] = (unsigned char)n;
    memcpy(out + *o, name, n);
    *o += n;
    if (!put_key_schema(entry, json_object_get(ix, "KeySchema"), out, o)) {
        return false;
    }
    out[(*o)++] = strcmp(pt, "ALL") == 0       ? DDB_PROJ_ALL
                  : strcmp(pt, "INCLUDE") == 0 ? DDB_PROJ_INCLUDE
                                               : DDB_PROJ_KEYS_ONLY;
    out[(*o)++] = (unsigned char)json_array_size(nk);
    json_array_foreach(nk, i, a)
    {
        size_t an = json_string_length(a);
        if (!json_is_string(a) || an == 0 || an > 255) {
            return false;
        }
        out[(*o)++] = (unsigned char)an;
        memcpy(out + *o, json_string_value(a), an);
        *o += an;
    }
    return true;
}

/* docs/formats.md, "DynamoDB table schema". Returns the length, or 0 when the entry does
 * not describe a table (damaged). out has SCHEMA_MAX bytes. */
static size_t schema_encode(const json_t *entry, uint32_t id, unsigned char *out)
{
    const json_t *ss = json_object_get(entry, "StreamSpecification");
    const json_t *gsi = json_object_get(entry, "GlobalSecondaryIndexes");
    const json_t *lsi = json_object_get(entry, "LocalSecondaryIndexes");
    size_t o = 0, i, nonkey_total = 0;
    const json_t *ix;
    enum ddb_view view = DDB_VIEW_NONE;
    const char *arn = NULL, *ttl_attr;
    const json_t *ttl;
    json_int_t ttl_id;

    out[o++] = SCHEMA_VERSION;
    put_le32(out + o, id);
    o += 4;
    if (!put_key_schema(entry, json_object_get(entry, "KeySchema"), out, &o)) {
        return 0;
    }
    if (json_is_true(json_object_get(ss, "StreamEnabled"))) {
        view = view_of(json_string_value(json_object_get(ss, "StreamViewType")));
        arn = json_string_value(json_object_get(entry, "LatestStreamArn"));
        if (!arn || strlen(arn) > 1024) {
            view = DDB_VIEW_NONE;
        }
    }
    out[o++] = (unsigned char)view;
    if (view != DDB_VIEW_NONE) {
        size_t n = strlen(arn);
        out[o++] = (unsigned char)n;
        out[o++] = (unsigned char)(n >> 8);
        memcpy(out + o, arn, n);
        o += n;
    }
    if (json_array_size(gsi) > DDB_MAX_GSI || json_array_size(lsi) > DDB_MAX_LSI) {
        return 0;
    }
    out[o++] = (unsigned char)(json_array_size(gsi) + json_array_size(lsi));
    json_array_foreach(gsi, i, ix)
    {
        if (!put_index(entry, ix, false, out, &o, &nonkey_total)) {
            return 0;
        }
    }
    json_array_foreach(lsi, i, ix)
    {
        if (!put_index(entry, ix, true, out, &o, &nonkey_total)) {
            return 0;
        }
    }
    /* Time to live: the expiry index while it is enabled (ttl.c). */
    ttl = json_object_get(entry, "SluiceTimeToLive");
    ttl_id = json_integer_value(json_object_get(ttl, "IndexId"));
    ttl_attr = json_string_value(json_object_get(ttl, "AttributeName"));
    if (!json_is_true(json_object_get(ttl, "Enabled")) || ttl_id <= 0 || ttl_id > UINT32_MAX ||
        !ttl_attr || strlen(ttl_attr) == 0 || strlen(ttl_attr) > 255) {
        ttl_id = 0;
        ttl_attr = "";
    }
    put_le32(out + o, (uint32_t)ttl_id);
    o += 4;
    out[o++] = (unsigned char)strlen(ttl_attr);
    memcpy(out + o, ttl_attr, strlen(ttl_attr));
    o += strlen(ttl_attr);
    return o;
}

static int letter_type(unsigned char c)
{
    return c == 'S' ? DDB_S : c == 'N' ? DDB_N : c == 'B' ? DDB_B : 0;
}

/* Reads a key schema's elements at *pp (see put_key_schema()). */
static bool get_key_schema(const unsigned char **pp, const unsigned char *end,
                           struct sl_str *hash, int *hash_type, struct sl_str *range,
                           int *range_type)
{
    const unsigned char *p = *pp;

    if (end - p < 2) {
        return false;
    }
    *hash_type = letter_type(p[0]);
    hash->len = p[1];
    hash->p = (const char *)p + 2;
    p += 2 + hash->len;
    if (!*hash_type || p >= end) {
        return false;
    }
    range->len = 0;
    range->p = NULL;
    *range_type = 0;
    if (*p) {
        *range_type = letter_type(p[0]);
        if (end - p < 2 || !*range_type) {
            return false;
        }
        range->len = p[1];
        range->p = (const char *)p + 2;
        p += 2 + range->len;
    }
    else {
        p++;
    }
    *pp = p;
    return p <= end;
}

static bool get_index(const unsigned char **pp, const unsigned char *end, struct ddb_index *x)
{
    const unsigned char *p = *pp;

    if (end - p < 7 || (p[0] != 'G' && p[0] != 'L')) {
        return false;
    }
    x->local = p[0] == 'L';
    x->backfilling = p[1] != 0;
    x->id = get_le32(p + 2);
    x->name.len = p[6];
    x->name.p = (const char *)p + 7;
    p += 7 + x->name.len;
    if (p >= end ||
        !get_key_schema(&p, end, &x->hash, &x->hash_type, &x->range, &x->range_type) ||
        end - p < 2 || p[0] > DDB_PROJ_ALL) {
        return false;
    }
    x->proj = (enum ddb_proj_type)p[0];
    x->n_nonkey = p[1];
    p += 2;
    x->nonkey = p;
    for (unsigned i = 0; i < x->n_nonkey; i++) {
        if (p >= end) {
            return false;
        }
        p += 1 + p[0];
    }
    x->nonkey_len = (size_t)(p - x->nonkey);
    *pp = p;
    return p <= end;
}

int ddb__schema_get(struct ddb *d, MDB_txn *txn, const char *name, struct ddb_schema *out)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    const unsigned char *p, *end;
    int rc = mdb_get(txn, d->schema, &k, &v);

    /* Not a memset of the whole struct: the index array is large and most tables have none. */
    out->id = 0;
    out->view = DDB_VIEW_NONE;
    out->stream_arn = SL_STR_NULL;
    out->n_index = 0;
    out->has_lsi = false;
    out->ttl_id = 0;
    out->ttl_attr = SL_STR_NULL;
    if (rc == MDB_NOTFOUND) {
        return -ENOENT;
    }
    if (rc) {
        return rc;
    }
    p = v.mv_data;
    end = p + v.mv_size;
    if (v.mv_size < 1 + 4 + 2 + 1 + 1 ||
        (p[0] != SCHEMA_VERSION && p[0] != SCHEMA_VERSION_2 && p[0] != SCHEMA_VERSION_1)) {
        return -EIO;
    }
    out->id = get_le32(p + 1);
    p += 5;
    if (!get_key_schema(&p, end, &out->hash, &out->hash_type, &out->range, &out->range_type) ||
        p >= end) {
        return -EIO;
    }
    out->view = (enum ddb_view)*p++;
    if (out->view != DDB_VIEW_NONE) {
        if (out->view > DDB_VIEW_NEW_AND_OLD_IMAGES || end - p < 2) {
            return -EIO;
        }
        out->stream_arn.len = (size_t)p[0] | (size_t)p[1] << 8;
        out->stream_arn.p = (const char *)p + 2;
        p += 2 + out->stream_arn.len;
    }
    if (((const unsigned char *)v.mv_data)[0] == SCHEMA_VERSION_1) {
        return p <= end ? 0 : -EIO;
    }
    if (p >= end || *p > DDB_MAX_INDEXES) {
        return -EIO;
    }
    out->n_index = *p++;
    for (size_t i = 0; i < out->n_index; i++) {
        if (!get_index(&p, end, &out->index[i])) {
            return -EIO;
        }
        out->has_lsi = out->has_lsi || out->index[i].local;
    }
    if (((const unsigned char *)v.mv_data)[0] == SCHEMA_VERSION_2) {
        return p <= end ? 0 : -EIO;
    }
    if (end - p < 5 || end - p < 5 + p[4]) {
        return -EIO;
    }
    out->ttl_id = get_le32(p);
    out->ttl_attr.len = p[4];
    out->ttl_attr.p = (const char *)p + 5;
    p += 5 + out->ttl_attr.len;
    if (out->ttl_id == 0 || out->ttl_attr.len == 0) {
        out->ttl_id = 0;
        out->ttl_attr = SL_STR_NULL;
    }
    return p <= end ? 0 : -EIO;
}

const struct ddb_index *ddb__index_find(const struct ddb_schema *s, struct sl_str name)
{
    for (size_t i = 0; i < s->n_index; i++) {
        if (sl_str_eq(s->index[i].name, name)) {
            return &s->index[i];
        }
    }
    return NULL;
}

/* ---- catalog entries ---- */

json_t *ddb__catalog_get(struct ddb *d, MDB_txn *txn, const char *name)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    json_error_t jerr;
    if (mdb_get(txn, d->tables, &k, &v) != 0) {
        return NULL;
    }
    return json_loadb(v.mv_data, v.mv_size, 0, &jerr);
}

/* Writes the schema record of a catalog entry. */
static int schema_put(struct ddb *d, MDB_txn *txn, const char *name, const json_t *entry,
                      uint32_t id)
{
    unsigned char *rec = xmalloc(SCHEMA_MAX);
    size_t n = schema_encode(entry, id, rec);
    MDB_val k = { strlen(name), (void *)name }, v = { n, rec };
    int rc = n == 0 ? -EINVAL : mdb_put(txn, d->schema, &k, &v, 0);
    free(rec);
    return rc;
}

int ddb__catalog_put(struct ddb *d, MDB_txn *txn, const char *name, const json_t *entry,
                     uint32_t id)
{
    char *text;
    MDB_val k = { strlen(name), (void *)name }, v;
    int rc;

    store_assert_writer(d->st);
    text = json_dumps(entry, JSON_COMPACT);
    v.mv_size = strlen(text);
    v.mv_data = text;
    rc = mdb_put(txn, d->tables, &k, &v, 0);
    free(text);
    return rc ? rc : schema_put(d, txn, name, entry, id);
}

static void id_key(uint32_t id, unsigned char out[4], MDB_val *k)
{
    ddb__key_prefix(id, out);
    k->mv_size = 4;
    k->mv_data = out;
}

/* Queues id's items or entries for reclaiming and removes its counters. */
static int reclaim_queue(struct ddb *d, MDB_txn *txn, uint32_t id)
{
    MDB_val ik, empty = { 0, NULL };
    unsigned char ib[4];
    int rc;

    id_key(id, ib, &ik);
    rc = mdb_del(txn, d->counts, &ik, NULL);
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    if (rc == 0) {
        rc = mdb_put(txn, d->reclaim, &ik, &empty, 0);
    }
    return rc;
}

int ddb__catalog_del(struct ddb *d, MDB_txn *txn, const char *name, const struct ddb_schema *s)
{
    MDB_val k = { strlen(name), (void *)name };
    int rc;

    store_assert_writer(d->st);
    rc = mdb_del(txn, d->tables, &k, NULL);
    if (rc == 0) {
        rc = mdb_del(txn, d->schema, &k, NULL);
    }
    if (rc == 0) {
        rc = reclaim_queue(d, txn, s->id);
    }
    for (size_t i = 0; rc == 0 && i < s->n_index; i++) {
        rc = reclaim_queue(d, txn, s->index[i].id);
    }
    if (rc == 0 && s->ttl_id) {
        rc = reclaim_queue(d, txn, s->ttl_id);
    }
    return rc;
}

int ddb__index_drop(struct ddb *d, MDB_txn *txn, uint32_t index_id)
{
    store_assert_writer(d->st);
    return reclaim_queue(d, txn, index_id);
}

int ddb__table_id_new(struct ddb *d, MDB_txn *txn, uint32_t *id)
{
    static const char name[] = "table_id";
    MDB_val k = { sizeof name - 1, (void *)name }, v, ik, cv;
    unsigned char b[4], ib[4], zero[16] = { 0 };
    uint32_t last = 0;
    int rc;

    store_assert_writer(d->st);
    rc = mdb_get(txn, d->meta, &k, &v);

    if (rc == 0 && v.mv_size == 4) {
        last = get_le32(v.mv_data);
    }
    else if (rc != MDB_NOTFOUND && rc != 0) {
        return rc;
    }
    if (last == UINT32_MAX) {
        return -EOVERFLOW;
    }
    *id = last + 1;
    put_le32(b, *id);
    v.mv_size = 4;
    v.mv_data = b;
    rc = mdb_put(txn, d->meta, &k, &v, 0);
    if (rc == 0) {
        id_key(*id, ib, &ik);
        cv.mv_size = sizeof zero;
        cv.mv_data = zero;
        rc = mdb_put(txn, d->counts, &ik, &cv, 0);
    }
    return rc;
}

/* ---- counters ---- */

int ddb__counts_get(struct ddb *d, MDB_txn *txn, uint32_t id, uint64_t *items, uint64_t *bytes)
{
    unsigned char ib[4];
    MDB_val k, v;
    int rc;

    id_key(id, ib, &k);
    *items = *bytes = 0;
    rc = mdb_get(txn, d->counts, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc == 0 && v.mv_size == 16) {
        *items = get_le64(v.mv_data);
        *bytes = get_le64((const unsigned char *)v.mv_data + 8);
    }
    return rc;
}

int ddb__counts_add(struct ddb *d, MDB_txn *txn, uint32_t id, int64_t items, int64_t bytes)
{
    unsigned char ib[4], b[16];
    uint64_t ni, nb;
    MDB_val k, v = { sizeof b, b };
    int rc;

    store_assert_writer(d->st);
    rc = ddb__counts_get(d, txn, id, &ni, &nb);

    if (rc) {
        return rc;
    }
    /* Unsigned wrap-around is the intended arithmetic for negative deltas. */
    ni += (uint64_t)items;
    nb += (uint64_t)bytes;
    put_le64(b, ni);
    put_le64(b + 8, nb);
    id_key(id, ib, &k);
    return mdb_put(txn, d->counts, &k, &v, 0);
}

/* Each index of a description: its figures, and no "SluiceIndexId". */
static void describe_indexes(struct ddb *d, MDB_txn *txn, json_t *list)
{
    size_t i;
    json_t *ix;
    json_array_foreach(list, i, ix)
    {
        json_int_t id = json_integer_value(json_object_get(ix, "SluiceIndexId"));
        uint64_t items = 0, bytes = 0;
        if (txn && id > 0 && id <= UINT32_MAX) {
            ddb__counts_get(d, txn, (uint32_t)id, &items, &bytes);
        }
        json_object_del(ix, "SluiceIndexId");
        json_object_set_new(ix, "IndexSizeBytes", json_integer((json_int_t)bytes));
        json_object_set_new(ix, "ItemCount", json_integer((json_int_t)items));
    }
}

/* "WarmThroughput": what an on-demand table or index is ready for at once (12,000 read and
 * 4,000 write units a second, DynamoDB's starting values), or its provisioned throughput when
 * that is higher ("Understanding DynamoDB warm throughput"). */
static void warm_throughput(json_t *o, bool ppr)
{
    const json_t *pt = json_object_get(o, "ProvisionedThroughput");
    json_int_t r = ppr ? 0 : json_integer_value(json_object_get(pt, "ReadCapacityUnits"));
    json_int_t w = ppr ? 0 : json_integer_value(json_object_get(pt, "WriteCapacityUnits"));
    json_object_set_new(o, "WarmThroughput",
                        json_pack("{s:I, s:I, s:s}", "ReadUnitsPerSecond", r > 12000 ? r : 12000,
                                  "WriteUnitsPerSecond", w > 4000 ? w : 4000, "Status",
                                  "ACTIVE"));
}

json_t *ddb__describe(struct ddb *d, MDB_txn *txn, const json_t *entry, uint64_t items,
                      uint64_t bytes)
{
    json_t *out = json_deep_copy(entry);
    const char *mode = json_string_value(
        json_object_get(json_object_get(entry, "BillingModeSummary"), "BillingMode"));
    bool ppr = mode && strcmp(mode, "PAY_PER_REQUEST") == 0;
    bool creating = false;
    size_t i;
    json_t *ix;

    /* sluice's own members: the time to live (ttl.c), the tags (tags.c), indexes being
     * deleted (backfill.c). */
    json_object_del(out, "SluiceTimeToLive");
    json_object_del(out, "SluiceTags");
    json_object_del(out, "SluiceDeletingIndexes");
    json_object_set_new(out, "ItemCount", json_integer((json_int_t)items));
    json_object_set_new(out, "TableSizeBytes", json_integer((json_int_t)bytes));
    describe_indexes(d, txn, json_object_get(out, "GlobalSecondaryIndexes"));
    describe_indexes(d, txn, json_object_get(out, "LocalSecondaryIndexes"));
    if (json_object_get(entry, "SluiceDeletingIndexes")) {
        ddb__gsi_deleting_describe(d, txn, entry, out);
    }
    json_array_foreach(json_object_get(out, "GlobalSecondaryIndexes"), i, ix)
    {
        const char *st = json_string_value(json_object_get(ix, "IndexStatus"));
        creating = creating ||
                   (st && (strcmp(st, "CREATING") == 0 || strcmp(st, "DELETING") == 0));
        warm_throughput(ix, ppr);
    }
    if (creating) {
        /* DynamoDB shows the table UPDATING while one of its indexes is being created or
         * deleted. */
        json_object_set_new(out, "TableStatus", json_string("UPDATING"));
    }
    warm_throughput(out, ppr);
    return out;
}

/* ---- reclaiming deleted tables' items ---- */

static void reclaim_done(struct store_op *op, int rc);

/* Removes up to *budget keys starting with prefix from dbi. Returns 0 (*done: none left) or
 * an LMDB code. */
static int reclaim_range(MDB_txn *txn, MDB_dbi dbi, const unsigned char prefix[4],
                         size_t *budget, bool *done)
{
    MDB_cursor *c = NULL;
    MDB_val k = { 4, (void *)prefix }, v;
    int rc = mdb_cursor_open(txn, dbi, &c), g;

    *done = false;
    if (rc) {
        return rc;
    }
    for (g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 4 || memcmp(k.mv_data, prefix, 4) != 0) {
            g = MDB_NOTFOUND;
            break;
        }
        if (*budget == 0) {
            break;
        }
        rc = mdb_cursor_del(c, 0);
        if (rc) {
            break;
        }
        (*budget)--;
    }
    if (rc == 0 && g != 0 && g != MDB_NOTFOUND) {
        rc = g;
    }
    *done = rc == 0 && g == MDB_NOTFOUND;
    mdb_cursor_close(c);
    return rc;
}

/* Removes up to DDB_RECLAIM_BATCH items (or index entries, item collection sizes, expiry
 * entries) of the
 * first table or index waiting in ddb.reclaim; forgets it once none is left. Sets
 * d->reclaim_more when more work waits. */
static int reclaim_apply(struct store_op *op, MDB_txn *txn)
{
    struct ddb *d = (struct ddb *)((char *)op - offsetof(struct ddb, reclaim_op));
    const MDB_dbi dbis[4] = { d->items, d->index, d->collections, d->expiry };
    MDB_cursor *rc_cur = NULL;
    MDB_val rk, rv;
    unsigned char prefix[4];
    size_t budget = DDB_RECLAIM_BATCH;
    bool done = true;
    int rc, g;

    d->reclaim_more = false;
    rc = mdb_cursor_open(txn, d->reclaim, &rc_cur);
    if (rc) {
        return rc;
    }
    g = mdb_cursor_get(rc_cur, &rk, &rv, MDB_FIRST);
    if (g == MDB_NOTFOUND || rk.mv_size != 4) {
        mdb_cursor_close(rc_cur);
        return g == MDB_NOTFOUND ? 0 : -EIO;
    }
    memcpy(prefix, rk.mv_data, 4);
    for (size_t i = 0; rc == 0 && done && i < 4; i++) {
        rc = reclaim_range(txn, dbis[i], prefix, &budget, &done);
    }
    if (rc == 0 && done) {
        /* This one is done; another may be waiting. */
        rc = mdb_cursor_del(rc_cur, 0);
        if (rc == 0) {
            d->reclaim_more = mdb_cursor_get(rc_cur, &rk, &rv, MDB_FIRST) == 0;
        }
    }
    else if (rc == 0) {
        d->reclaim_more = true;
    }
    mdb_cursor_close(rc_cur);
    return rc;
}

static void reclaim_submit_locked(struct ddb *d)
{
    memset(&d->reclaim_op, 0, sizeof d->reclaim_op);
    d->reclaim_op.apply = reclaim_apply;
    d->reclaim_op.done = reclaim_done;
    d->reclaim_busy = store_submit(d->st, &d->reclaim_op) == 0;
}

/* Writer thread, after the op's group committed. */
static void reclaim_done(struct store_op *op, int rc)
{
    struct ddb *d = (struct ddb *)((char *)op - offsetof(struct ddb, reclaim_op));
    pthread_mutex_lock(&d->mu);
    if (rc != 0) {
        log_warn("dynamodb", "reclaiming a deleted table's items: %s", store_strerror(rc));
    }
    if (rc == 0 && !d->stopping && (d->reclaim_more || d->reclaim_again)) {
        d->reclaim_again = false;
        reclaim_submit_locked(d);
    }
    else {
        d->reclaim_busy = false;
    }
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void ddb__reclaim_kick(struct ddb *d)
{
    pthread_mutex_lock(&d->mu);
    if (d->stopping) {
        /* Nothing is lost: ddb.reclaim keeps the work for the next start. */
    }
    else if (d->reclaim_busy) {
        d->reclaim_again = true;
    }
    else {
        reclaim_submit_locked(d);
    }
    pthread_mutex_unlock(&d->mu);
}

/* ---- start-up ---- */

struct migrate_op {
    struct store_op base;
    struct ddb *d;
    size_t done;
};

/* Tables whose time to live was enabled before expiry indexes existed get one, built by a
 * backfill (ttl.c, the file's head). */
static int ttl_migrate(struct ddb *d, MDB_txn *txn, size_t *done)
{
    MDB_cursor *c = NULL;
    MDB_val k, v;
    json_t *names = json_array(), *name;
    size_t i;
    int rc = mdb_cursor_open(txn, d->tables, &c), g;

    for (g = rc ? rc : mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        json_error_t jerr;
        json_t *entry, *ttl;
        entry = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
        ttl = json_object_get(entry, "SluiceTimeToLive");
        if (json_is_true(json_object_get(ttl, "Enabled")) &&
            !json_object_get(ttl, "IndexId")) {
            json_array_append_new(names, json_stringn(k.mv_data, k.mv_size));
        }
        json_decref(entry);
    }
    if (c) {
        mdb_cursor_close(c);
    }
    json_array_foreach(names, i, name)
    {
        const char *table = json_string_value(name);
        json_t *entry = rc == 0 ? ddb__catalog_get(d, txn, table) : NULL;
        struct ddb_schema s;
        uint32_t id;
        if (!entry) {
            continue;
        }
        rc = ddb__schema_get(d, txn, table, &s);
        if (rc == 0) {
            rc = ddb__table_id_new(d, txn, &id);
        }
        if (rc == 0) {
            json_object_set_new(json_object_get(entry, "SluiceTimeToLive"), "IndexId",
                                json_integer(id));
            rc = ddb__catalog_put(d, txn, table, entry, s.id);
        }
        if (rc == 0) {
            rc = ddb__backfill_queue(d, txn, table, id);
        }
        json_decref(entry);
        (*done)++;
    }
    json_decref(names);
    return rc;
}

/* Catalog entries written before tables had schema records get one, with a new id. */
static int migrate_apply(struct store_op *op, MDB_txn *txn)
{
    struct migrate_op *m = (struct migrate_op *)op;
    struct ddb *d = m->d;
    MDB_cursor *c = NULL;
    MDB_val k, v, sv;
    int rc, g;

    m->done = 0;
    rc = mdb_cursor_open(txn, d->tables, &c);
    for (g = rc ? rc : mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0 && rc == 0;
         g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        char *name;
        json_t *entry;
        json_error_t jerr;
        uint32_t id;
        if (mdb_get(txn, d->schema, &k, &sv) == 0) {
            continue;
        }
        name = xstrndup(k.mv_data, k.mv_size);
        entry = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
        rc = entry ? ddb__table_id_new(d, txn, &id) : -EIO;
        if (rc == 0) {
            rc = schema_put(d, txn, name, entry, id);
        }
        json_decref(entry);
        free(name);
        m->done++;
    }
    if (c) {
        mdb_cursor_close(c);
    }
    return rc == 0 ? ttl_migrate(d, txn, &m->done) : rc;
}

int ddb__catalog_open(struct ddb *d)
{
    /* Every named database of DynamoDB, ddb.tokens (txn.c) included: one trip to the writer. */
    struct store_dbi_req dbis[] = {
        { .name = "ddb.tables", .dbi = &d->tables },
        { .name = "ddb.schema", .dbi = &d->schema },
        { .name = "ddb.items", .dbi = &d->items },
        { .name = "ddb.index", .dbi = &d->index },
        { .name = "ddb.collections", .dbi = &d->collections },
        { .name = "ddb.counts", .dbi = &d->counts },
        { .name = "ddb.meta", .dbi = &d->meta },
        { .name = "ddb.reclaim", .dbi = &d->reclaim },
        { .name = "ddb.expiry", .flags = MDB_DUPSORT, .dbi = &d->expiry },
        { .name = "ddb.tokens", .dbi = &d->tokens },
    };
    struct migrate_op m;
    int rc;

    rc = store_dbi_open_many(d->st, dbis, sizeof dbis / sizeof dbis[0]);
    if (rc) {
        return rc;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    memset(&m, 0, sizeof m);
    m.base.apply = migrate_apply;
    m.d = d;
    rc = store_submit_wait(d->st, &m.base);
    if (rc) {
        log_error("dynamodb", "cannot give older tables their schema records: %s",
                  store_strerror(rc));
        pthread_mutex_destroy(&d->mu);
        pthread_cond_destroy(&d->cv);
        return rc;
    }
    if (m.done) {
        log_info("dynamodb", "gave %zu tables of an older catalog their schema records or "
                 "expiry indexes", m.done);
    }
    /* Deletions and backfills a previous run did not finish. */
    ddb__reclaim_kick(d);
    ddb__backfill_kick(d);
    return 0;
}

void ddb__catalog_close(struct ddb *d)
{
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    while (d->reclaim_busy || d->backfill_busy) {
        pthread_cond_wait(&d->cv, &d->mu);
    }
    pthread_mutex_unlock(&d->mu);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
}
