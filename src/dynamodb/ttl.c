/*
 * ttl.c: time to live: UpdateTimeToLive, DescribeTimeToLive, and the sweeper that deletes
 * expired items.
 *
 * What it is: a table's time-to-live setting lives in its catalog entry ("SluiceTimeToLive":
 * {"AttributeName", "Enabled", "Disabling", "IndexId"}, never shown by DescribeTable). While
 * it is enabled the table has an expiry index (docs/formats.md, "DynamoDB expiry index"): an
 * entry per item whose attribute gives it an expiry time (ddb__ttl_expiry()), kept by
 * ddb__item_write() in the nested transaction of each write, and for the items stored before
 * it was enabled added by a backfill (backfill.c's cursor and ops). The sweeper, a thread of
 * its own, wakes every d->ttl_interval seconds (`sluice serve --ddb-ttl-interval`), reads for
 * each table with time to live enabled the index's entries from five years ago up to now, in
 * read transactions, and deletes their items in small writer ops (TTL_BATCH items each)
 * through ddb__item_write() with DDB_WRITE_BY_TTL: the index entries, the expiry entry,
 * counters and item collections follow, and a table with a stream gets a REMOVE record whose
 * userIdentity is the service ("Time to Live (TTL) and DynamoDB Streams"). So a sweep costs
 * what has expired, not the size of the table; an item the backfill has not reached yet is
 * swept once it has.
 *
 * Expiry, as the developer guide's "Time to Live" describes it: the attribute must be a
 * Number, an epoch time in seconds; an item expires once that time is past, unless it is more
 * than five years in the past (such values are ignored). A non-Number attribute, or none,
 * never expires the item. Until the sweeper deletes an item, reads still return it, as on
 * DynamoDB.
 *
 * States, as DescribeTimeToLive reports them (DynamoDB's names):
 *
 *   DISABLED --enable (ttl_apply)--> ENABLED --disable (ttl_apply)--> DISABLING
 *   DISABLING --the next sweep (settle_apply)--> DISABLED
 *
 * Enabling takes effect at once (the next sweep deletes what has expired, as far as the
 * backfill has come) and makes a new expiry index. Disabling stops the deletions at once and
 * drops the index (its entries reclaimed in the background, catalog.c), but the table stays
 * DISABLING until the sweeper has passed, as DynamoDB's does while its partitions take the
 * change; enabling it again meanwhile is refused with DynamoDB's "Time to live has been
 * modified multiple times within a fixed interval".
 *
 * What it is not: TTL on items of tables without it enabled; the hour-long cooldown DynamoDB
 * puts after every UpdateTimeToLive: here the only wait is the DISABLING one, at most one
 * sweep interval, so that tests may turn time to live on and off.
 *
 * Invariants: the sweeper writes only through writer ops; each op looks the item up again and
 * checks its expiry again inside the op, so an item written after the sweep read its entry is
 * never deleted by a stale decision; an enabled table's schema record carries its expiry
 * index id and attribute, so every write sees them; ddb__ttl_stop() joins the thread before
 * the catalog closes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

/* Items deleted per writer op. */
#define TTL_BATCH 100

/* ---- expiry ---- */

/* Does p[0..n) hold needle (NUL-terminated)? */
static bool holds(const void *p, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    const char *b = p;
    for (size_t i = 0; i + m <= n; i++) {
        if (b[i] == needle[0] && memcmp(b + i, needle, m) == 0) {
            return true;
        }
    }
    return false;
}

/* The largest expiry time kept: far beyond any date this century, small enough that the
 * arithmetic on it never overflows. */
#define TTL_AT_MAX (1ull << 62)

bool ddb__ttl_expiry(const void *item, size_t n, struct sl_str attr, uint64_t *at)
{
    struct ddb_attr a;
    const char *p, *end;
    uint64_t v = 0;
    bool frac = false;

    if (ddb_item_find(item, n, attr.p, attr.len, &a) != 1 || a.type != DDB_N ||
        a.val_len == 0) {
        return false;
    }
    /* The canonical text of a Number (docs/formats.md, "DynamoDB items"): an optional '-',
     * digits, an optional '.' and more digits, never an exponent. */
    p = (const char *)a.val;
    end = p + a.val_len;
    if (*p == '-') {
        return false;   /* before 1970: never within five years of now */
    }
    for (; p < end && *p != '.'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > TTL_AT_MAX) {
            return false;
        }
    }
    for (p += p < end; p < end; p++) {
        frac = frac || *p != '0';
    }
    *at = v + frac;
    return true;
}

/* ---- UpdateTimeToLive ---- */

enum ttl_fail {
    TF_NONE = 0,
    TF_ALREADY_ENABLED,
    TF_ALREADY_DISABLED,
    TF_OTHER_ATTRIBUTE,
    TF_TOO_SOON,            /* enabling while DISABLING */
};

struct ttl_op {
    struct store_op base;
    struct ddb *d;
    struct http_req *r;
    const char *name;
    const char *attr;
    bool enable;
    enum ttl_fail fail;         /* set by apply */
    char current[256];          /* the attribute in use (TF_OTHER_ATTRIBUTE) */
    bool backfill;              /* set by apply: an expiry index to build */
    bool reclaim;               /* set by apply: an expiry index to remove */
};

static int ttl_apply(struct store_op *op, MDB_txn *txn)
{
    struct ttl_op *t = (struct ttl_op *)op;
    struct ddb_schema s;
    json_t *entry, *cur;
    const char *cur_attr;
    bool on, disabling;
    int rc;

    t->fail = TF_NONE;
    entry = ddb__catalog_get(t->d, txn, t->name);
    if (!entry) {
        return -ENOENT;
    }
    rc = ddb__schema_get(t->d, txn, t->name, &s);
    cur = json_object_get(entry, "SluiceTimeToLive");
    on = json_is_true(json_object_get(cur, "Enabled"));
    disabling = json_is_true(json_object_get(cur, "Disabling"));
    cur_attr = json_string_value(json_object_get(cur, "AttributeName"));
    if (rc == 0 && disabling && t->enable) {
        t->fail = TF_TOO_SOON;
        rc = -EINVAL;
    }
    else if (rc == 0 && on && strcmp(cur_attr, t->attr) != 0) {
        t->fail = TF_OTHER_ATTRIBUTE;
        snprintf(t->current, sizeof t->current, "%s", cur_attr);
        rc = -EINVAL;
    }
    else if (rc == 0 && on == t->enable) {
        t->fail = t->enable ? TF_ALREADY_ENABLED : TF_ALREADY_DISABLED;
        rc = -EINVAL;
    }
    t->backfill = t->reclaim = false;
    if (rc == 0 && t->enable) {
        /* A new expiry index, built from the table's items by a backfill while the writes
         * keep it (the file's head). */
        uint32_t id;
        rc = ddb__table_id_new(t->d, txn, &id);
        if (rc == 0) {
            json_object_set_new(entry, "SluiceTimeToLive",
                                json_pack("{s:s, s:b, s:b, s:I}", "AttributeName", t->attr,
                                          "Enabled", 1, "Disabling", 0, "IndexId",
                                          (json_int_t)id));
            rc = ddb__backfill_queue(t->d, txn, t->name, id);
            t->backfill = rc == 0;
        }
    }
    else if (rc == 0) {
        /* The expiry index leaves the schema now and its entries are reclaimed. */
        json_int_t id = json_integer_value(json_object_get(cur, "IndexId"));
        if (id > 0 && id <= UINT32_MAX) {
            rc = ddb__index_drop(t->d, txn, (uint32_t)id);
            t->reclaim = rc == 0;
        }
        json_object_set_new(entry, "SluiceTimeToLive",
                            json_pack("{s:s, s:b, s:b}", "AttributeName", t->attr, "Enabled",
                                      0, "Disabling", 1));
    }
    if (rc == 0) {
        rc = ddb__catalog_put(t->d, txn, t->name, entry, s.id);
    }
    json_decref(entry);
    return rc;
}

/* Writer thread, after the commit. */
static void ttl_done(struct store_op *op, int rc)
{
    struct ttl_op *t = (struct ttl_op *)op;
    if (rc == 0 && t->backfill) {
        ddb__backfill_kick(t->d);
    }
    if (rc == 0 && t->reclaim) {
        ddb__reclaim_kick(t->d);
    }
    http_req_resume(t->r);
}

static int ttl_cont(struct http_req *r)
{
    struct ttl_op *t = r->op_ctx;

    switch (t->fail) {
    case TF_NONE:
        break;
    case TF_ALREADY_ENABLED:
        return http_req_fail(r, AWSERR_VALIDATION, "TimeToLive is already enabled");
    case TF_ALREADY_DISABLED:
        return http_req_fail(r, AWSERR_VALIDATION, "TimeToLive is already disabled");
    case TF_TOO_SOON:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Time to live has been modified multiple times within a fixed "
                             "interval");
    case TF_OTHER_ATTRIBUTE:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "TimeToLive is active on a different AttributeName: current "
                             "AttributeName is %s",
                             t->current);
    }
    switch (t->base.rc) {
    case 0:
        break;
    case -ENOENT:
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                             "Requested resource not found: Table: %s not found", t->name);
    default:
        log_error("dynamodb", "UpdateTimeToLive %s: %s", t->name, store_strerror(t->base.rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    return http_reply_json(r, json_pack("{s:{s:b, s:s}}", "TimeToLiveSpecification", "Enabled",
                                        t->enable, "AttributeName", t->attr));
}

int ddb_update_time_to_live(struct http_req *r)
{
    const json_t *in = r->json;
    const json_t *spec = json_object_get(in, "TimeToLiveSpecification");
    const json_t *en = json_object_get(spec, "Enabled");
    const json_t *attr = json_object_get(spec, "AttributeName");
    struct ddb_verr ve = { 0 };
    struct ttl_op *t;

    if (ddb__type_or_reply(r, json_object_get(in, "TableName"), DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, spec, DDB_J_STRUCT) < 0 ||
        ddb__type_or_reply(r, en, DDB_J_BOOLEAN) < 0 ||
        ddb__type_or_reply(r, attr, DDB_J_STRING) < 0) {
        return -1;
    }
    ddb__check_table_name(&ve, json_object_get(in, "TableName"), "tableName");
    if (!ddb__present(spec)) {
        ddb__verr_add(&ve, "Value null at 'timeToLiveSpecification' failed to satisfy "
                           "constraint: Member must not be null");
    }
    else {
        if (!ddb__present(attr)) {
            ddb__verr_add(&ve, "Value null at 'timeToLiveSpecification.attributeName' failed "
                               "to satisfy constraint: Member must not be null");
        }
        else if (json_string_length(attr) < 1 || json_string_length(attr) > 255) {
            ddb__verr_add(&ve,
                          "Value '%.255s' at 'timeToLiveSpecification.attributeName' failed to "
                          "satisfy constraint: Member must have length %s",
                          json_string_value(attr),
                          json_string_length(attr) < 1 ? "greater than or equal to 1"
                                                       : "less than or equal to 255");
        }
        if (!ddb__present(en)) {
            ddb__verr_add(&ve, "Value null at 'timeToLiveSpecification.enabled' failed to "
                               "satisfy constraint: Member must not be null");
        }
    }
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    t = arena_new(&r->arena, struct ttl_op);
    t->base.apply = ttl_apply;
    t->base.done = ttl_done;
    t->d = ddb__of(r);
    t->r = r;
    t->name = json_string_value(json_object_get(in, "TableName"));
    t->attr = json_string_value(attr);
    /* The deserialiser's booleans: true, or the strings "true", "1" and "yes". */
    t->enable = json_is_true(en) ||
                (json_is_string(en) && (strcasecmp(json_string_value(en), "true") == 0 ||
                                        strcmp(json_string_value(en), "1") == 0 ||
                                        strcasecmp(json_string_value(en), "yes") == 0));
    return ddb__submit_or_reply(r, &t->base, ttl_cont);
}

/* ---- DescribeTimeToLive ---- */

int ddb_describe_time_to_live(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    const char *name;
    MDB_txn *txn = NULL;
    json_t *entry, *cur, *desc;

    if (ddb__type_or_reply(r, json_object_get(r->json, "TableName"), DDB_J_STRING) < 0 ||
        ddb__table_name_or_reply(r, json_object_get(r->json, "TableName"), "tableName", &name) <
            0) {
        return -1;
    }
    if (store_read_begin(d->st, &txn) != 0) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    entry = ddb__catalog_get(d, txn, name);
    store_read_end(d->st, txn);
    if (!entry) {
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                             "Requested resource not found: Table: %s not found", name);
    }
    cur = json_object_get(entry, "SluiceTimeToLive");
    /* Enabling is done at once, so ENABLING is never shown; DISABLING lasts until the
     * sweeper has passed (the file's head). */
    if (json_is_true(json_object_get(cur, "Enabled")) ||
        json_is_true(json_object_get(cur, "Disabling"))) {
        desc = json_pack("{s:s, s:O}", "TimeToLiveStatus",
                         json_is_true(json_object_get(cur, "Enabled")) ? "ENABLED"
                                                                       : "DISABLING",
                         "AttributeName", json_object_get(cur, "AttributeName"));
    }
    else {
        desc = json_pack("{s:s}", "TimeToLiveStatus", "DISABLED");
    }
    json_decref(entry);
    return http_reply_json(r, json_pack("{s:o}", "TimeToLiveDescription", desc));
}

/* ---- the sweeper ---- */

struct sweep_op {
    struct store_op base;
    struct ddb *d;
    const char *table;
    uint32_t table_id;
    uint32_t ttl_id;            /* the expiry index the entries were read from */
    long long now;
    size_t n;
    struct ddb_key *keys;       /* the entries' item keys */
    uint64_t *ats;              /* and their expiry times */
    size_t deleted;             /* set by apply: items deleted */
    size_t stale;               /* entries removed that did not match their item */
    bool appended;
};

/* Deletes the items of the entries the sweeper read, each checked again here: an item
 * rewritten since (a new expiry time, or none) is kept, its entry having moved with it. */
static int sweep_apply(struct store_op *op, MDB_txn *txn)
{
    struct sweep_op *w = (struct sweep_op *)op;
    struct ddb_schema s;
    int rc = ddb__schema_get(w->d, txn, w->table, &s);

    w->deleted = w->stale = 0;
    w->appended = false;
    if (rc == -ENOENT || (rc == 0 && (s.id != w->table_id || s.ttl_id != w->ttl_id))) {
        return 0;       /* the table went away, or time to live was turned off, meanwhile */
    }
    for (size_t i = 0; rc == 0 && i < w->n; i++) {
        MDB_val k = { w->keys[i].len, w->keys[i].b }, v;
        unsigned char eb[DDB_EXPIRY_KEY_LEN];
        MDB_val ek = { sizeof eb, eb }, ev = { w->keys[i].len, w->keys[i].b };
        struct ddb_write wr;
        uint64_t at = 0;
        bool has = false;
        int g = mdb_get(txn, w->d->items, &k, &v);

        if (g && g != MDB_NOTFOUND) {
            rc = g;
            break;
        }
        if (g == 0) {
            has = ddb__ttl_expiry(v.mv_data, v.mv_size, s.ttl_attr, &at);
        }
        if (g == 0 && has && ddb__ttl_due(at, w->now)) {
            rc = ddb__item_write(w->d, txn, &s, &w->keys[i], v.mv_data, v.mv_size, NULL, 0,
                                 DDB_WRITE_BY_TTL, &wr);
            w->deleted += rc == 0;
            w->appended = w->appended || wr.appended;
        }
        if (rc == 0 && (g == MDB_NOTFOUND || !has || at != w->ats[i])) {
            /* An entry that no longer matches its item: never left by a write, but one is
             * not followed twice. */
            ddb__expiry_key(w->ttl_id, w->ats[i], eb);
            g = mdb_del(txn, w->d->expiry, &ek, &ev);
            w->stale += g == 0;
            rc = g == MDB_NOTFOUND ? 0 : g;
        }
    }
    return rc;
}

static void sweep_done(struct store_op *op, int rc)
{
    struct sweep_op *w = (struct sweep_op *)op;
    if (rc == 0 && w->appended) {
        strm_notify(w->d->streams);
    }
}

static bool stopping(struct ddb *d)
{
    bool s;
    pthread_mutex_lock(&d->ttl_mu);
    s = d->ttl_stop;
    pthread_mutex_unlock(&d->ttl_mu);
    return s;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/*
 * Deletes the expired items of one table: reads the entries of its expiry index from five
 * years ago up to now (so the work is what has expired, whatever the table's size), TTL_BATCH
 * at a time, and deletes their items in a writer op each. Each op removes the entries it
 * handled, so the next read starts at the range's start again. Adds to *st what it did.
 */
static void sweep_table(struct ddb *d, const char *table, long long now,
                        struct ddb_ttl_stats *st)
{
    struct ddb_key *keys = xcalloc(TTL_BATCH, sizeof *keys);
    uint64_t *ats = xcalloc(TTL_BATCH, sizeof *ats);
    uint64_t from = now > DDB_TTL_MAX_AGE ? (uint64_t)(now - DDB_TTL_MAX_AGE) : 0;
    size_t total = 0;
    bool more = true;

    while (more && !stopping(d)) {
        MDB_txn *txn = NULL;
        MDB_cursor *c = NULL;
        MDB_val k, v;
        unsigned char lo[DDB_EXPIRY_KEY_LEN];
        struct ddb_schema s;
        struct sweep_op op;
        size_t n = 0;
        int g, rc;

        if (store_read_begin(d->st, &txn) != 0) {
            break;
        }
        rc = ddb__schema_get(d, txn, table, &s);
        if (rc == 0 && s.ttl_id == 0) {
            rc = -ENOENT;
        }
        if (rc == 0) {
            rc = mdb_cursor_open(txn, d->expiry, &c);
        }
        if (rc) {
            store_read_end(d->st, txn);
            break;
        }
        ddb__expiry_key(s.ttl_id, from, lo);
        k.mv_size = sizeof lo;
        k.mv_data = lo;
        for (g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); g == 0 && n < TTL_BATCH;
             g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            uint64_t at;
            if (k.mv_size != DDB_EXPIRY_KEY_LEN || memcmp(k.mv_data, lo, 4) != 0) {
                break;
            }
            at = get_be64((const unsigned char *)k.mv_data + 4);
            if ((long long)at > now) {
                break;
            }
            if (v.mv_size == 0 || v.mv_size > DDB_KEY_LMDB_MAX) {
                continue;
            }
            keys[n].len = v.mv_size;
            memcpy(keys[n].b, v.mv_data, v.mv_size);
            ats[n] = at;
            n++;
        }
        st->entries += n;
        mdb_cursor_close(c);
        store_read_end(d->st, txn);
        if (n == 0) {
            break;
        }
        memset(&op, 0, sizeof op);
        op.base.apply = sweep_apply;
        op.base.done = sweep_done;
        op.d = d;
        op.table = table;
        op.table_id = s.id;
        op.ttl_id = s.ttl_id;
        op.now = now;
        op.n = n;
        op.keys = keys;
        op.ats = ats;
        rc = store_submit_wait(d->st, &op.base);
        if (rc) {
            log_warn("dynamodb", "ttl[%s]: deleting expired items: %s", table,
                     store_strerror(rc));
            break;
        }
        total += op.deleted;
        st->deleted += op.deleted;
        /* A full batch may have more behind it; a batch that removed nothing (the table
         * changed under the sweep) ends it. */
        more = n == TTL_BATCH && op.deleted + op.stale > 0;
    }
    if (total) {
        log_debug("dynamodb", "ttl[%s]: %zu expired items deleted", table, total);
    }
    free(keys);
    free(ats);
}

/* DISABLING -> DISABLED, once the sweeper has passed: the table's entry loses its setting,
 * if it is still the one the sweep saw. */
struct settle_op {
    struct store_op base;
    struct ddb *d;
    const char *table;
};

static int settle_apply(struct store_op *op, MDB_txn *txn)
{
    struct settle_op *o = (struct settle_op *)op;
    json_t *entry = ddb__catalog_get(o->d, txn, o->table);
    struct ddb_schema s;
    int rc = 0;

    if (entry && json_is_true(json_object_get(json_object_get(entry, "SluiceTimeToLive"),
                                              "Disabling"))) {
        json_object_del(entry, "SluiceTimeToLive");
        rc = ddb__schema_get(o->d, txn, o->table, &s);
        if (rc == 0) {
            rc = ddb__catalog_put(o->d, txn, o->table, entry, s.id);
        }
    }
    json_decref(entry);
    return rc == -ENOENT ? 0 : rc;
}

static void settle(struct ddb *d, const char *table)
{
    struct settle_op op;
    int rc;

    memset(&op, 0, sizeof op);
    op.base.apply = settle_apply;
    op.d = d;
    op.table = table;
    rc = store_submit_wait(d->st, &op.base);
    if (rc && rc != STORE_CLOSED) {
        log_warn("dynamodb", "ttl[%s]: settling DISABLING: %s", table, store_strerror(rc));
    }
}

void ddb__ttl_sweep(struct ddb *d, long long now, struct ddb_ttl_stats *st)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    json_t *tables = json_array();
    size_t i;
    json_t *t;
    int g;

    if (store_read_begin(d->st, &txn) != 0) {
        json_decref(tables);
        return;
    }
    if (mdb_cursor_open(txn, d->tables, &c) == 0) {
        for (g = mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0;
             g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            json_error_t jerr;
            json_t *entry, *ttl;
            /* Most tables have no time to live: skip them without parsing. */
            if (!holds(v.mv_data, v.mv_size, "\"SluiceTimeToLive\"")) {
                continue;
            }
            entry = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
            ttl = json_object_get(entry, "SluiceTimeToLive");
            if (json_is_true(json_object_get(ttl, "Enabled"))) {
                json_array_append_new(tables, json_pack("[s%, O]", (const char *)k.mv_data,
                                                      k.mv_size,
                                                      json_object_get(ttl, "AttributeName")));
            }
            else if (json_is_true(json_object_get(ttl, "Disabling"))) {
                json_array_append_new(tables, json_pack("[s%]", (const char *)k.mv_data,
                                                      k.mv_size));
            }
            json_decref(entry);
        }
        mdb_cursor_close(c);
    }
    store_read_end(d->st, txn);
    json_array_foreach(tables, i, t)
    {
        if (stopping(d)) {
            break;
        }
        if (json_array_size(t) == 2) {
            sweep_table(d, json_string_value(json_array_get(t, 0)), now, st);
        }
        else {
            settle(d, json_string_value(json_array_get(t, 0)));
        }
    }
    json_decref(tables);
}

static void *ttl_main(void *arg)
{
    struct ddb *d = arg;
    struct ddb_ttl_stats st;

    pthread_mutex_lock(&d->ttl_mu);
    while (!d->ttl_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)d->ttl_interval;
        while (!d->ttl_stop &&
               pthread_cond_timedwait(&d->ttl_cv, &d->ttl_mu, &until) != ETIMEDOUT) {
        }
        if (d->ttl_stop) {
            break;
        }
        pthread_mutex_unlock(&d->ttl_mu);
        memset(&st, 0, sizeof st);
        ddb__ttl_sweep(d, (long long)time(NULL), &st);
        pthread_mutex_lock(&d->ttl_mu);
    }
    pthread_mutex_unlock(&d->ttl_mu);
    return NULL;
}

int ddb_ttl_start(struct ddb *d, unsigned interval)
{
    int rc;
    if (d->ttl_running || interval == 0) {
        return -EINVAL;
    }
    d->ttl_interval = interval;
    d->ttl_stop = false;
    pthread_mutex_init(&d->ttl_mu, NULL);
    pthread_cond_init(&d->ttl_cv, NULL);
    rc = pthread_create(&d->ttl_thread, NULL, ttl_main, d);
    if (rc) {
        pthread_mutex_destroy(&d->ttl_mu);
        pthread_cond_destroy(&d->ttl_cv);
        return -rc;
    }
    d->ttl_running = true;
    return 0;
}

void ddb__ttl_stop(struct ddb *d)
{
    if (!d->ttl_running) {
        return;
    }
    pthread_mutex_lock(&d->ttl_mu);
    d->ttl_stop = true;
    pthread_cond_broadcast(&d->ttl_cv);
    pthread_mutex_unlock(&d->ttl_mu);
    pthread_join(d->ttl_thread, NULL);
    pthread_mutex_destroy(&d->ttl_mu);
    pthread_cond_destroy(&d->ttl_cv);
    d->ttl_running = false;
}
