/*
 * backfill.c: UpdateTable's GlobalSecondaryIndexUpdates (Create, Update, Delete) and the
 * backfill of a global secondary index created on a table that already holds items.
 *
 * What it is: DynamoDB's rules for index updates, in its words (the request's own rules on the
 * HTTP thread, the ones that depend on the table inside the writer op), the catalog changes
 * they make, and the background backfill: bounded writer ops, each copying up to
 * DDB_BACKFILL_BATCH items of the table into the new index with ddb__index_add(), the entry
 * helpers ddb__item_write() uses, so a backfilled entry is the entry a write would make.
 *
 * The same cursor and ops build a table's expiry index when time to live is enabled (ttl.c):
 * a cursor whose id is the table's expiry index adds each item's expiry entry
 * (ddb__expiry_add()) instead, and its last op only removes the cursor.
 *
 * What it is not: the index definitions' checks shared with CreateTable (index.c), the
 * entries themselves (write.c), the reclaiming of a deleted index's entries (catalog.c).
 *
 * Invariants:
 *  - while an index is CREATING it is in the table's schema with backfilling set: every write
 *    maintains its entries (ddb__item_write() treats it as any index) and Query and Scan refuse
 *    it ("Cannot read from backfilling global secondary index");
 *  - the backfill's cursor lives in ddb.meta ("backfill" + the index id, big-endian: the table
 *    name and the LMDB key of the next item to copy), written in the same transaction as the
 *    entries it copied, so a restart resumes where the last commit left off and copies no
 *    item twice into the counters (ddb__index_add() replaces an entry a write already made);
 *  - the op that copies the last item also turns the index ACTIVE and drops its cursor;
 *  - a deleted index leaves the schema in the op that deletes it; its description stays in the
 *    catalog entry ("SluiceDeletingIndexes") and DescribeTable shows it DELETING for as long as
 *    ddb.reclaim holds its id;
 *  - at most one backfill op is queued or running (d->backfill_busy, under d->mu), as for
 *    reclaiming; ddb__catalog_close() waits for it.
 *
 * The index's states, and what moves it:
 *
 *   (none) --Create (ddb__gsi_updates_apply)--> CREATING, Backfilling --last batch
 *   (backfill_apply)--> ACTIVE --Delete--> DELETING --reclaim done (catalog.c)--> (none)
 *   CREATING --Delete--> DELETING (the cursor is dropped with it)
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

static const char invalid[] = "One or more parameter values were invalid: ";
static const char one_online[] = "Subscriber limit exceeded: Only 1 online index can be created "
                                 "or deleted simultaneously per table";

#define BF_PREFIX "backfill"
#define BF_PREFIX_LEN (sizeof BF_PREFIX - 1)

/* Why the writer refused an index update. */
enum gsi_fail {
    GF_NONE = 0,
    GF_EXISTS,              /* "Attempting to create an index which already exists" */
    GF_ONE_ONLINE,          /* another index is being created or deleted */
    GF_GSI_LIMIT,           /* 20 global secondary indexes */
    GF_NONKEY_LIMIT,        /* 100 projected attributes */
    GF_PT_REQUIRED,         /* PROVISIONED table, index without throughput */
    GF_PT_ON_PPR,           /* PAY_PER_REQUEST table, index with throughput */
    GF_PPR_UPDATE,          /* Update of an index of a PAY_PER_REQUEST table */
    GF_NOT_FOUND,           /* no such index */
    GF_NOT_GSI_DELETE,      /* a local secondary index named in Delete */
    GF_NOT_GSI_UPDATE,      /* a local secondary index named in Update */
    GF_PT_SAME,             /* the index's throughput would not change */
    GF_TYPE_CHANGE,         /* an AttributeDefinition that changes a defined type */
};

static bool present(const json_t *v)
{
    return v && !json_is_null(v);
}

static const char *str_of(const json_t *o, const char *member)
{
    return json_string_value(json_object_get(o, member));
}

/* ---- the request: types, constraints, rules ---- */

int ddb__gsi_updates_types_or_reply(struct http_req *r, const json_t *in)
{
    const json_t *list = json_object_get(in, "GlobalSecondaryIndexUpdates");
    const json_t *ad = json_object_get(in, "AttributeDefinitions");
    size_t i;
    const json_t *u, *e;

    json_array_foreach(ad, i, e)
    {
        if (ddb__type_or_reply(r, e, DDB_J_STRUCT) < 0 ||
            ddb__type_or_reply(r, json_object_get(e, "AttributeName"), DDB_J_STRING) < 0 ||
            ddb__type_or_reply(r, json_object_get(e, "AttributeType"), DDB_J_STRING) < 0) {
            return -1;
        }
    }
    json_array_foreach(list, i, u)
    {
        const json_t *c, *up, *del, *pt;
        if (ddb__type_or_reply(r, u, DDB_J_STRUCT) < 0) {
            return -1;
        }
        c = json_object_get(u, "Create");
        up = json_object_get(u, "Update");
        del = json_object_get(u, "Delete");
        if (present(c)) {
            json_t *one = json_pack("[O]", c);
            int rc = ddb__index_list_types_or_reply(r, one, true);
            json_decref(one);
            if (rc < 0) {
                return -1;
            }
        }
        pt = json_object_get(up, "ProvisionedThroughput");
        if (ddb__type_or_reply(r, up, DDB_J_STRUCT) < 0 ||
            ddb__type_or_reply(r, json_object_get(up, "IndexName"), DDB_J_STRING) < 0 ||
            ddb__type_or_reply(r, pt, DDB_J_STRUCT) < 0 ||
            ddb__type_or_reply(r, json_object_get(pt, "ReadCapacityUnits"), DDB_J_LONG) < 0 ||
            ddb__type_or_reply(r, json_object_get(pt, "WriteCapacityUnits"), DDB_J_LONG) < 0 ||
            ddb__type_or_reply(r, del, DDB_J_STRUCT) < 0 ||
            ddb__type_or_reply(r, json_object_get(del, "IndexName"), DDB_J_STRING) < 0) {
            return -1;
        }
    }
    return 0;
}

static void pt_constraints(struct ddb_verr *ve, const json_t *pt, const char *at)
{
    static const char *const members[][2] = { { "ReadCapacityUnits", "readCapacityUnits" },
                                              { "WriteCapacityUnits", "writeCapacityUnits" } };
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = json_object_get(pt, members[i][0]);
        if (!present(v)) {
            ddb__verr_add(ve,
                          "Value null at '%s.%s' failed to satisfy constraint: Member must not "
                          "be null",
                          at, members[i][1]);
        }
        else if (json_integer_value(v) < 1) {
            ddb__verr_add(ve,
                          "Value '%lld' at '%s.%s' failed to satisfy constraint: Member must "
                          "have value greater than or equal to 1",
                          (long long)json_integer_value(v), at, members[i][1]);
        }
    }
}

void ddb__gsi_updates_constraints(struct ddb_verr *ve, const json_t *in)
{
    static const char *const types[] = { "B", "N", "S", NULL };
    const json_t *list = json_object_get(in, "GlobalSecondaryIndexUpdates");
    const json_t *ad = json_object_get(in, "AttributeDefinitions");
    char at[160];
    size_t i;
    const json_t *u, *e;

    json_array_foreach(ad, i, e)
    {
        const json_t *n = json_object_get(e, "AttributeName");
        const json_t *t = json_object_get(e, "AttributeType");
        if (!present(n)) {
            ddb__verr_add(ve,
                          "Value null at 'attributeDefinitions.%zu.member.attributeName' failed "
                          "to satisfy constraint: Member must not be null",
                          i + 1);
        }
        snprintf(at, sizeof at, "attributeDefinitions.%zu.member.attributeType", i + 1);
        if (!present(t)) {
            ddb__verr_add(ve, "Value null at '%s' failed to satisfy constraint: Member must not "
                              "be null",
                          at);
        }
        ddb__check_enum(ve, t, at, types);
    }
    json_array_foreach(list, i, u)
    {
        const json_t *c = json_object_get(u, "Create");
        const json_t *up = json_object_get(u, "Update");
        const json_t *del = json_object_get(u, "Delete");
        if (present(c)) {
            snprintf(at, sizeof at, "globalSecondaryIndexUpdates.%zu.member.create", i + 1);
            ddb__index_constraints(ve, c, at, true);
        }
        if (present(up)) {
            snprintf(at, sizeof at, "globalSecondaryIndexUpdates.%zu.member.update.indexName",
                     i + 1);
            ddb__check_table_name(ve, json_object_get(up, "IndexName"), at);
            if (present(json_object_get(up, "ProvisionedThroughput"))) {
                snprintf(at, sizeof at,
                         "globalSecondaryIndexUpdates.%zu.member.update.provisionedThroughput",
                         i + 1);
                pt_constraints(ve, json_object_get(up, "ProvisionedThroughput"), at);
            }
        }
        if (present(del)) {
            snprintf(at, sizeof at, "globalSecondaryIndexUpdates.%zu.member.delete.indexName",
                     i + 1);
            ddb__check_table_name(ve, json_object_get(del, "IndexName"), at);
        }
    }
}

/* The index an update names. */
static const char *action_index(const json_t *u)
{
    const char *kinds[] = { "Create", "Update", "Delete" };
    for (size_t k = 0; k < 3; k++) {
        const json_t *a = json_object_get(u, kinds[k]);
        if (present(a)) {
            return str_of(a, "IndexName");
        }
    }
    return NULL;
}

int ddb__gsi_updates_rules_or_reply(struct http_req *r, const json_t *in)
{
    const json_t *list = json_object_get(in, "GlobalSecondaryIndexUpdates");
    size_t i, online = 0;
    const json_t *u;
    json_t *seen;

    if (json_array_size(list) == 0) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sList of GlobalSecondaryIndexUpdates is empty", invalid);
    }
    json_array_foreach(list, i, u)
    {
        int n = present(json_object_get(u, "Create")) + present(json_object_get(u, "Update")) +
                present(json_object_get(u, "Delete"));
        if (n == 0) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%sOne of GlobalSecondaryIndexUpdate.Update, "
                                 "GlobalSecondaryIndexUpdate.Create, "
                                 "GlobalSecondaryIndexUpdate.Delete must not be null",
                                 invalid);
        }
        if (n > 1) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%sOnly one global secondary index action is allowed per "
                                 "GlobalSecondaryIndexUpdate object",
                                 invalid);
        }
    }
    seen = json_object();
    json_array_foreach(list, i, u)
    {
        /* A set of the names so far: a long list costs one pass, not one per pair. */
        const char *name = action_index(u);
        if (name && json_object_get(seen, name)) {
            json_decref(seen);
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%sOnly one global secondary index update per index is "
                                 "allowed simultaneously. Index: %s",
                                 invalid, name);
        }
        if (name) {
            json_object_set_new(seen, name, json_true());
        }
        online += present(json_object_get(u, "Create")) + present(json_object_get(u, "Delete"));
    }
    json_decref(seen);
    if (online > 1) {
        return http_req_fail(r, AWSERR_LIMIT_EXCEEDED, "%s", one_online);
    }
    json_array_foreach(list, i, u)
    {
        const json_t *c = json_object_get(u, "Create");
        if (!present(c)) {
            continue;
        }
        if (!present(json_object_get(in, "AttributeDefinitions"))) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%sAttributeDefinitions is not specified for index: %s",
                                 invalid, str_of(c, "IndexName"));
        }
        if (ddb__index_rule_or_reply(r, in, c, true, NULL) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- the writer's part ---- */

static json_int_t index_id(const json_t *ix)
{
    return json_integer_value(json_object_get(ix, "SluiceIndexId"));
}

static json_t *find_named(const json_t *list, const char *name, size_t *at)
{
    size_t i;
    json_t *ix;
    json_array_foreach(list, i, ix)
    {
        const char *n = str_of(ix, "IndexName");
        if (n && name && strcmp(n, name) == 0) {
            if (at) {
                *at = i;
            }
            return ix;
        }
    }
    return NULL;
}

static void bf_key(uint32_t id, unsigned char out[BF_PREFIX_LEN + 4])
{
    memcpy(out, BF_PREFIX, BF_PREFIX_LEN);
    ddb__key_prefix(id, out + BF_PREFIX_LEN);
}

/* Is an index being deleted still reclaiming its entries? */
static bool reclaiming(struct ddb *d, MDB_txn *txn, const json_t *ix)
{
    unsigned char k4[4];
    MDB_val k = { 4, k4 }, v;
    json_int_t id = index_id(ix);
    if (!txn || id <= 0 || id > UINT32_MAX) {
        return false;
    }
    ddb__key_prefix((uint32_t)id, k4);
    return mdb_get(txn, d->reclaim, &k, &v) == 0;
}

/* Drops the descriptions of deleted indexes whose entries are all gone. */
static void prune_deleting(struct ddb *d, MDB_txn *txn, json_t *entry)
{
    json_t *list = json_object_get(entry, "SluiceDeletingIndexes");
    for (size_t i = json_array_size(list); i-- > 0;) {
        if (!reclaiming(d, txn, json_array_get(list, i))) {
            json_array_remove(list, i);
        }
    }
    if (list && json_array_size(list) == 0) {
        json_object_del(entry, "SluiceDeletingIndexes");
    }
}

void ddb__gsi_deleting_describe(struct ddb *d, MDB_txn *txn, const json_t *entry, json_t *desc)
{
    const json_t *list = json_object_get(entry, "SluiceDeletingIndexes");
    json_t *out = json_object_get(desc, "GlobalSecondaryIndexes");
    size_t i;
    const json_t *ix;

    json_array_foreach(list, i, ix)
    {
        json_t *c;
        if (!reclaiming(d, txn, ix)) {
            continue;
        }
        if (!out) {
            out = json_array();
            json_object_set_new(desc, "GlobalSecondaryIndexes", out);
        }
        c = json_deep_copy(ix);
        json_object_del(c, "SluiceIndexId");
        json_object_del(c, "Backfilling");
        json_object_set_new(c, "IndexStatus", json_string("DELETING"));
        json_object_set_new(c, "IndexSizeBytes", json_integer(0));
        json_object_set_new(c, "ItemCount", json_integer(0));
        json_array_append_new(out, c);
    }
}

/* Is any index of the table being created or deleted? */
static bool online_busy(struct ddb *d, MDB_txn *txn, const json_t *entry)
{
    size_t i;
    const json_t *ix;
    json_array_foreach(json_object_get(entry, "GlobalSecondaryIndexes"), i, ix)
    {
        const char *st = str_of(ix, "IndexStatus");
        if (st && strcmp(st, "CREATING") == 0) {
            return true;
        }
    }
    json_array_foreach(json_object_get(entry, "SluiceDeletingIndexes"), i, ix)
    {
        if (reclaiming(d, txn, ix)) {
            return true;
        }
    }
    return false;
}

static size_t nonkey_total(const json_t *entry)
{
    static const char *const lists[] = { "GlobalSecondaryIndexes", "LocalSecondaryIndexes" };
    size_t n = 0;
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        const json_t *ix;
        json_array_foreach(json_object_get(entry, lists[l]), i, ix)
        {
            n += json_array_size(
                json_object_get(json_object_get(ix, "Projection"), "NonKeyAttributes"));
        }
    }
    return n;
}

static const json_t *def_of(const json_t *ad, const char *name)
{
    size_t i;
    const json_t *e;
    json_array_foreach(ad, i, e)
    {
        const char *n = str_of(e, "AttributeName");
        if (n && strcmp(n, name) == 0) {
            return e;
        }
    }
    return NULL;
}

/* Adds the definitions of ks's attributes (from the request's ad) that entry lacks. */
static int merge_defs(json_t *entry, const json_t *ad, const json_t *ks,
                      struct ddb_gsi_result *res)
{
    json_t *cur = json_object_get(entry, "AttributeDefinitions");
    size_t i;
    const json_t *k;
    json_array_foreach(ks, i, k)
    {
        const char *n = str_of(k, "AttributeName");
        const json_t *want = def_of(ad, n), *have = def_of(cur, n);
        if (have && strcmp(str_of(have, "AttributeType"), str_of(want, "AttributeType")) != 0) {
            res->fail = GF_TYPE_CHANGE;
            snprintf(res->index, sizeof res->index, "%s", n);
            return -EINVAL;
        }
        if (!have) {
            json_array_append_new(cur, json_deep_copy(want));
        }
    }
    return 0;
}

/* Is attribute name a key attribute of the table or of one of its indexes? */
static bool key_used(const json_t *entry, const char *name)
{
    static const char *const lists[] = { "GlobalSecondaryIndexes", "LocalSecondaryIndexes" };
    size_t i;
    const json_t *k, *ix;
    json_array_foreach(json_object_get(entry, "KeySchema"), i, k)
    {
        if (strcmp(str_of(k, "AttributeName"), name) == 0) {
            return true;
        }
    }
    for (size_t l = 0; l < 2; l++) {
        size_t j;
        json_array_foreach(json_object_get(entry, lists[l]), j, ix)
        {
            json_array_foreach(json_object_get(ix, "KeySchema"), i, k)
            {
                if (strcmp(str_of(k, "AttributeName"), name) == 0) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* After a deletion: DynamoDB keeps only the definitions some key still uses. */
static void prune_defs(json_t *entry)
{
    json_t *cur = json_object_get(entry, "AttributeDefinitions");
    for (size_t i = json_array_size(cur); i-- > 0;) {
        if (!key_used(entry, str_of(json_array_get(cur, i), "AttributeName"))) {
            json_array_remove(cur, i);
        }
    }
}

static int create_index(struct ddb *d, MDB_txn *txn, const char *table, json_t *entry,
                        const json_t *in, const json_t *c, const char *mode,
                        struct ddb_gsi_result *res)
{
    const char *name = str_of(c, "IndexName");
    json_t *gsis = json_object_get(entry, "GlobalSecondaryIndexes");
    bool ppr = strcmp(mode, "PAY_PER_REQUEST") == 0;
    bool has_pt = present(json_object_get(c, "ProvisionedThroughput"));
    json_t *desc;
    uint32_t id;
    int rc;

    snprintf(res->index, sizeof res->index, "%s", name);
    if (find_named(gsis, name, NULL) ||
        find_named(json_object_get(entry, "LocalSecondaryIndexes"), name, NULL)) {
        res->fail = GF_EXISTS;
        return -EINVAL;
    }
    if (online_busy(d, txn, entry)) {
        res->fail = GF_ONE_ONLINE;
        return -EINVAL;
    }
    if (json_array_size(gsis) >= DDB_MAX_GSI) {
        res->fail = GF_GSI_LIMIT;
        return -EINVAL;
    }
    if (nonkey_total(entry) +
            json_array_size(json_object_get(json_object_get(c, "Projection"),
                                            "NonKeyAttributes")) >
        DDB_MAX_NONKEY) {
        res->fail = GF_NONKEY_LIMIT;
        return -EINVAL;
    }
    if (!ppr && !has_pt) {
        res->fail = GF_PT_REQUIRED;
        return -EINVAL;
    }
    if (ppr && has_pt) {
        res->fail = GF_PT_ON_PPR;
        return -EINVAL;
    }
    rc = merge_defs(entry, json_object_get(in, "AttributeDefinitions"),
                    json_object_get(c, "KeySchema"), res);
    if (rc) {
        return rc;
    }
    rc = ddb__table_id_new(d, txn, &id);
    if (rc) {
        return rc;
    }
    desc = ddb__index_describe(c, true, str_of(entry, "TableArn"), mode, "CREATING");
    json_object_set_new(desc, "SluiceIndexId", json_integer(id));
    if (!gsis) {
        gsis = json_array();
        json_object_set_new(entry, "GlobalSecondaryIndexes", gsis);
    }
    json_array_append_new(gsis, desc);
    rc = ddb__backfill_queue(d, txn, table, id);
    res->created = rc == 0;
    return rc;
}

int ddb__backfill_queue(struct ddb *d, MDB_txn *txn, const char *table, uint32_t id)
{
    unsigned char bk[BF_PREFIX_LEN + 4], *bv;
    size_t tl = strlen(table);
    MDB_val k = { sizeof bk, bk }, v;
    int rc;

    store_assert_writer(d->st);
    /* The cursor: the table's name, and no key yet (the first item of the table). */
    bf_key(id, bk);
    bv = xmalloc(1 + tl);
    bv[0] = (unsigned char)tl;
    memcpy(bv + 1, table, tl);
    v.mv_size = 1 + tl;
    v.mv_data = bv;
    rc = mdb_put(txn, d->meta, &k, &v, 0);
    free(bv);
    return rc;
}

static int delete_index(struct ddb *d, MDB_txn *txn, json_t *entry, const json_t *del,
                        struct ddb_gsi_result *res)
{
    const char *name = str_of(del, "IndexName");
    json_t *gsis = json_object_get(entry, "GlobalSecondaryIndexes");
    json_t *ix, *gone, *list;
    const char *st;
    unsigned char bk[BF_PREFIX_LEN + 4];
    MDB_val k = { sizeof bk, bk };
    size_t at = 0;
    json_int_t id;
    int rc;

    snprintf(res->index, sizeof res->index, "%s", name);
    ix = find_named(gsis, name, &at);
    if (!ix) {
        res->fail = find_named(json_object_get(entry, "LocalSecondaryIndexes"), name, NULL)
                        ? GF_NOT_GSI_DELETE
                        : GF_NOT_FOUND;
        return -EINVAL;
    }
    st = str_of(ix, "IndexStatus");
    /* The index being created may itself be deleted; any other in flight counts. */
    if (!(st && strcmp(st, "CREATING") == 0) && online_busy(d, txn, entry)) {
        res->fail = GF_ONE_ONLINE;
        return -EINVAL;
    }
    id = index_id(ix);
    if (id <= 0 || id > UINT32_MAX) {
        return -EIO;
    }
    bf_key((uint32_t)id, bk);
    rc = mdb_del(txn, d->meta, &k, NULL);
    rc = rc == MDB_NOTFOUND ? 0 : rc;
    if (rc == 0) {
        rc = ddb__index_drop(d, txn, (uint32_t)id);
    }
    if (rc) {
        return rc;
    }
    gone = json_incref(ix);
    json_array_remove(gsis, at);
    if (json_array_size(gsis) == 0) {
        json_object_del(entry, "GlobalSecondaryIndexes");
    }
    list = json_object_get(entry, "SluiceDeletingIndexes");
    if (!list) {
        list = json_array();
        json_object_set_new(entry, "SluiceDeletingIndexes", list);
    }
    json_array_append_new(list, gone);
    prune_defs(entry);
    res->deleted = true;
    return 0;
}

/* A new throughput on a GSI's description, with DynamoDB's increase and decrease records. */
static void set_throughput(json_t *ix, json_int_t rcu, json_int_t wcu, bool was_ppr, double now)
{
    json_t *cpt = json_object_get(ix, "ProvisionedThroughput");
    json_int_t cr = json_integer_value(json_object_get(cpt, "ReadCapacityUnits"));
    json_int_t cw = json_integer_value(json_object_get(cpt, "WriteCapacityUnits"));
    json_int_t decreases = json_integer_value(json_object_get(cpt, "NumberOfDecreasesToday"));
    json_t *npt = json_pack("{s:I, s:I}", "ReadCapacityUnits", rcu, "WriteCapacityUnits", wcu);
    json_t *last;

    if (!was_ppr) {
        if ((last = json_object_get(cpt, "LastIncreaseDateTime")) != NULL) {
            json_object_set(npt, "LastIncreaseDateTime", last);
        }
        if ((last = json_object_get(cpt, "LastDecreaseDateTime")) != NULL) {
            json_object_set(npt, "LastDecreaseDateTime", last);
        }
        if (rcu > cr || wcu > cw) {
            json_object_set_new(npt, "LastIncreaseDateTime", json_real(now));
        }
        if (rcu < cr || wcu < cw) {
            json_object_set_new(npt, "LastDecreaseDateTime", json_real(now));
            decreases++;
        }
    }
    else {
        decreases = 0;
    }
    json_object_set_new(npt, "NumberOfDecreasesToday", json_integer(decreases));
    json_object_set_new(ix, "ProvisionedThroughput", npt);
}

static int update_index(json_t *entry, const json_t *up, const char *mode, bool was_ppr,
                        double now, struct ddb_gsi_result *res)
{
    const char *name = str_of(up, "IndexName");
    const json_t *pt = json_object_get(up, "ProvisionedThroughput");
    json_t *ix = find_named(json_object_get(entry, "GlobalSecondaryIndexes"), name, NULL);
    json_t *cpt;

    snprintf(res->index, sizeof res->index, "%s", name);
    if (!ix) {
        res->fail = find_named(json_object_get(entry, "LocalSecondaryIndexes"), name, NULL)
                        ? GF_NOT_GSI_UPDATE
                        : GF_NOT_FOUND;
        return -EINVAL;
    }
    if (strcmp(mode, "PAY_PER_REQUEST") == 0) {
        res->fail = GF_PPR_UPDATE;
        return -EINVAL;
    }
    if (!present(pt)) {
        res->fail = GF_PT_REQUIRED;
        return -EINVAL;
    }
    cpt = json_object_get(ix, "ProvisionedThroughput");
    res->cur_r = json_integer_value(json_object_get(cpt, "ReadCapacityUnits"));
    res->cur_w = json_integer_value(json_object_get(cpt, "WriteCapacityUnits"));
    res->req_r = json_integer_value(json_object_get(pt, "ReadCapacityUnits"));
    res->req_w = json_integer_value(json_object_get(pt, "WriteCapacityUnits"));
    if (!was_ppr && res->cur_r == res->req_r && res->cur_w == res->req_w) {
        res->fail = GF_PT_SAME;
        return -EINVAL;
    }
    set_throughput(ix, res->req_r, res->req_w, was_ppr, now);
    snprintf(res->updated, sizeof res->updated, "%s", name);
    return 0;
}

/* A billing mode change carries the indexes along: to PAY_PER_REQUEST their throughput is
 * zero; to PROVISIONED each needs an Update with its throughput in the same request. */
static int mode_change(json_t *entry, const json_t *list, const char *mode, bool was_ppr,
                       struct ddb_gsi_result *res)
{
    size_t i, j;
    json_t *ix;
    bool ppr = strcmp(mode, "PAY_PER_REQUEST") == 0;

    if (ppr == was_ppr) {
        return 0;
    }
    json_array_foreach(json_object_get(entry, "GlobalSecondaryIndexes"), i, ix)
    {
        const char *name = str_of(ix, "IndexName");
        const json_t *u;
        bool given = false;
        if (ppr) {
            json_object_set_new(ix, "ProvisionedThroughput",
                                json_pack("{s:i, s:i, s:i}", "NumberOfDecreasesToday", 0,
                                          "ReadCapacityUnits", 0, "WriteCapacityUnits", 0));
            continue;
        }
        json_array_foreach(list, j, u)
        {
            const json_t *up = json_object_get(u, "Update");
            given = given || (present(up) && strcmp(str_of(up, "IndexName"), name) == 0 &&
                              present(json_object_get(up, "ProvisionedThroughput")));
        }
        if (!given) {
            res->fail = GF_PT_REQUIRED;
            snprintf(res->index, sizeof res->index, "%s", name);
            return -EINVAL;
        }
    }
    return 0;
}

int ddb__gsi_updates_apply(struct ddb *d, MDB_txn *txn, const char *table, json_t *entry,
                           const json_t *in, const char *prev_mode, double now,
                           struct ddb_gsi_result *res)
{
    const json_t *list = json_object_get(in, "GlobalSecondaryIndexUpdates");
    const char *mode = str_of(json_object_get(entry, "BillingModeSummary"), "BillingMode");
    bool was_ppr = strcmp(prev_mode, "PAY_PER_REQUEST") == 0;
    size_t i;
    const json_t *u;
    int rc;

    store_assert_writer(d->st);
    memset(res, 0, sizeof *res);
    mode = mode ? mode : "PROVISIONED";
    prune_deleting(d, txn, entry);
    rc = mode_change(entry, list, mode, was_ppr, res);
    json_array_foreach(list, i, u)
    {
        const json_t *c = json_object_get(u, "Create");
        const json_t *up = json_object_get(u, "Update");
        const json_t *del = json_object_get(u, "Delete");
        if (rc) {
            break;
        }
        if (present(c)) {
            rc = create_index(d, txn, table, entry, in, c, mode, res);
        }
        else if (present(up)) {
            rc = update_index(entry, up, mode, was_ppr, now, res);
        }
        else if (present(del)) {
            rc = delete_index(d, txn, entry, del, res);
        }
    }
    return rc;
}

int ddb__gsi_fail_or_reply(struct http_req *r, const char *table,
                           const struct ddb_gsi_result *res)
{
    const char *ix = res->index;
    switch ((enum gsi_fail)res->fail) {
    case GF_NONE:
        break;
    case GF_EXISTS:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Attempting to create an index which already exists");
    case GF_ONE_ONLINE:
        return http_req_fail(r, AWSERR_LIMIT_EXCEEDED, "%s", one_online);
    case GF_GSI_LIMIT:
        return http_req_fail(r, AWSERR_LIMIT_EXCEEDED,
                             "Subscriber limit exceeded: Number of global secondary indexes "
                             "exceeds per-table limit of %d",
                             DDB_MAX_GSI);
    case GF_NONKEY_LIMIT:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sNumber of projected attributes in all indexes exceeds limit of "
                             "%d",
                             invalid, DDB_MAX_NONKEY);
    case GF_PT_REQUIRED:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sProvisionedThroughput must be specified for index: %s", invalid,
                             ix);
    case GF_PT_ON_PPR:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sNeither ReadCapacityUnits nor WriteCapacityUnits can be "
                             "specified for index: %s when BillingMode is PAY_PER_REQUEST",
                             invalid, ix);
    case GF_PPR_UPDATE:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sThe only Updates for index: %s when TableThroughputMode is "
                             "PAY_PER_REQUEST can be to OnDemandThroughput, WarmThroughput",
                             invalid, ix);
    case GF_NOT_FOUND:
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                             "Requested resource not found: Index %s for table %s", ix, table);
    case GF_NOT_GSI_DELETE:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Cannot delete an index that is not a GlobalSecondaryIndex: %s", ix);
    case GF_NOT_GSI_UPDATE:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Cannot update an index that is not a GlobalSecondaryIndex: %s", ix);
    case GF_PT_SAME:
        return http_req_fail(
            r, AWSERR_VALIDATION,
            "The provisioned throughput for the index %s will not change. The requested value "
            "equals the current value. Current ReadCapacityUnits provisioned for the index: "
            "%lld. Requested ReadCapacityUnits: %lld. Current WriteCapacityUnits provisioned "
            "for the index: %lld. Requested WriteCapacityUnits: %lld. Refer to the Amazon "
            "DynamoDB Developer Guide for current limits and how to request higher limits.",
            ix, res->cur_r, res->req_r, res->cur_w, res->req_w);
    case GF_TYPE_CHANGE:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sCannot change the type of an existing key attribute: %s",
                             invalid, ix);
    }
    return http_req_fail(r, AWSERR_INTERNAL, NULL);
}

/* ---- the backfill ---- */

static void backfill_done(struct store_op *op, int rc);

/* Turns index id of table ACTIVE in its catalog entry. */
static int index_activate(struct ddb *d, MDB_txn *txn, const char *table, uint32_t table_id,
                          uint32_t id)
{
    json_t *entry = ddb__catalog_get(d, txn, table);
    size_t i;
    json_t *ix;
    int rc = 0;

    if (!entry) {
        return 0;
    }
    json_array_foreach(json_object_get(entry, "GlobalSecondaryIndexes"), i, ix)
    {
        if (index_id(ix) == (json_int_t)id) {
            /* "After all items have been processed, the backfilling operation is complete
             * and Backfilling is false" (GlobalSecondaryIndexDescription); indexes made by
             * CreateTable never show the member. */
            json_object_set_new(ix, "IndexStatus", json_string("ACTIVE"));
            json_object_set_new(ix, "Backfilling", json_false());
            rc = ddb__catalog_put(d, txn, table, entry, table_id);
            break;
        }
    }
    json_decref(entry);
    return rc;
}

/* Copies up to DDB_BACKFILL_BATCH items of the first index waiting into it. Sets
 * d->backfill_more when more work waits. */
static int backfill_apply(struct store_op *op, MDB_txn *txn)
{
    struct ddb *d = (struct ddb *)((char *)op - offsetof(struct ddb, backfill_op));
    MDB_cursor *mc = NULL, *ic = NULL;
    MDB_val mk = { BF_PREFIX_LEN, (void *)BF_PREFIX }, mv, ik, iv;
    unsigned char bkey[BF_PREFIX_LEN + 4], resume[DDB_KEY_LMDB_MAX], prefix[4];
    unsigned char val[1 + 255 + DDB_KEY_LMDB_MAX];
    char table[256];
    struct ddb_schema s;
    const struct ddb_index *ix = NULL;
    size_t resume_len, n = 0, tl;
    uint32_t id;
    int rc, g;
    bool finished = false, expiry = false;

    d->backfill_more = false;
    rc = mdb_cursor_open(txn, d->meta, &mc);
    if (rc) {
        return rc;
    }
    g = mdb_cursor_get(mc, &mk, &mv, MDB_SET_RANGE);
    if (g != 0 || mk.mv_size != sizeof bkey || memcmp(mk.mv_data, BF_PREFIX, BF_PREFIX_LEN)) {
        mdb_cursor_close(mc);
        return g == 0 || g == MDB_NOTFOUND ? 0 : g;
    }
    memcpy(bkey, mk.mv_data, sizeof bkey);
    id = (uint32_t)bkey[BF_PREFIX_LEN] << 24 | (uint32_t)bkey[BF_PREFIX_LEN + 1] << 16 |
         (uint32_t)bkey[BF_PREFIX_LEN + 2] << 8 | bkey[BF_PREFIX_LEN + 3];
    tl = mv.mv_size ? ((const unsigned char *)mv.mv_data)[0] : 0;
    mdb_cursor_close(mc);
    if (mv.mv_size < 1 + tl || mv.mv_size > sizeof val) {
        return -EIO;
    }
    memcpy(table, (const char *)mv.mv_data + 1, tl);
    table[tl] = '\0';
    resume_len = mv.mv_size - 1 - tl;
    memcpy(resume, (const unsigned char *)mv.mv_data + 1 + tl, resume_len);

    rc = ddb__schema_get(d, txn, table, &s);
    if (rc == 0) {
        for (size_t i = 0; i < s.n_index; i++) {
            if (s.index[i].id == id && s.index[i].backfilling) {
                ix = &s.index[i];
            }
        }
        /* A table's expiry index (ttl.c): the same walk, each item's expiry entry. */
        expiry = !ix && s.ttl_id == id;
    }
    else if (rc != -ENOENT) {
        return rc;
    }
    mk.mv_size = sizeof bkey;
    mk.mv_data = bkey;
    if (!ix && !expiry) {
        /* The table or the index went away (or the index is already ACTIVE, or time to live
         * was disabled). */
        finished = true;
        goto next;
    }
    ddb__key_prefix(s.id, prefix);
    if (resume_len == 0) {
        memcpy(resume, prefix, 4);
        resume_len = 4;
    }
    rc = mdb_cursor_open(txn, d->items, &ic);
    if (rc) {
        return rc;
    }
    ik.mv_size = resume_len;
    ik.mv_data = resume;
    for (g = mdb_cursor_get(ic, &ik, &iv, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(ic, &ik, &iv, MDB_NEXT)) {
        if (ik.mv_size < 4 || memcmp(ik.mv_data, prefix, 4) != 0) {
            g = MDB_NOTFOUND;
            break;
        }
        if (n == DDB_BACKFILL_BATCH) {
            /* The next one to copy, for the next op. */
            resume_len = ik.mv_size;
            memcpy(resume, ik.mv_data, resume_len);
            break;
        }
        /* A copy: the entry's write may move pages the cursor's value points into. */
        buf_reset(&d->w_old);
        if (buf_append(&d->w_old, iv.mv_data, iv.mv_size) < 0) {
            rc = -E2BIG;
            break;
        }
        if (expiry) {
            struct ddb_key key;
            key.len = ik.mv_size;
            memcpy(key.b, ik.mv_data, ik.mv_size);
            rc = ddb__expiry_add(d, txn, &s, &key, d->w_old.p, d->w_old.len);
        }
        else {
            rc = ddb__index_add(d, txn, &s, ix, d->w_old.p, d->w_old.len);
        }
        if (rc) {
            break;
        }
        n++;
    }
    mdb_cursor_close(ic);
    if (rc == 0 && g != 0 && g != MDB_NOTFOUND) {
        rc = g;
    }
    if (rc) {
        return rc;
    }
    finished = g == MDB_NOTFOUND;
    if (finished && !expiry) {
        rc = index_activate(d, txn, table, s.id, id);
    }
    else if (finished) {
        log_debug("dynamodb", "ttl[%s]: expiry index built", table);
    }
    else {
        val[0] = (unsigned char)tl;
        memcpy(val + 1, table, tl);
        memcpy(val + 1 + tl, resume, resume_len);
        mv.mv_size = 1 + tl + resume_len;
        mv.mv_data = val;
        rc = mdb_put(txn, d->meta, &mk, &mv, 0);
        d->backfill_more = true;
        return rc;
    }
next:
    if (rc == 0 && finished) {
        rc = mdb_del(txn, d->meta, &mk, NULL);
    }
    if (rc == 0) {
        /* Another index may be waiting. */
        rc = mdb_cursor_open(txn, d->meta, &mc);
        if (rc == 0) {
            mk.mv_size = BF_PREFIX_LEN;
            mk.mv_data = (void *)BF_PREFIX;
            g = mdb_cursor_get(mc, &mk, &mv, MDB_SET_RANGE);
            d->backfill_more = g == 0 && mk.mv_size == sizeof bkey &&
                               memcmp(mk.mv_data, BF_PREFIX, BF_PREFIX_LEN) == 0;
            mdb_cursor_close(mc);
        }
    }
    return rc;
}

static void backfill_submit_locked(struct ddb *d)
{
    memset(&d->backfill_op, 0, sizeof d->backfill_op);
    d->backfill_op.apply = backfill_apply;
    d->backfill_op.done = backfill_done;
    d->backfill_busy = store_submit(d->st, &d->backfill_op) == 0;
}

/* Writer thread, after the op's group committed. */
static void backfill_done(struct store_op *op, int rc)
{
    struct ddb *d = (struct ddb *)((char *)op - offsetof(struct ddb, backfill_op));
    pthread_mutex_lock(&d->mu);
    if (rc != 0) {
        log_warn("dynamodb", "backfilling a global secondary index: %s", store_strerror(rc));
    }
    if (rc == 0 && !d->stopping && (d->backfill_more || d->backfill_again)) {
        d->backfill_again = false;
        backfill_submit_locked(d);
    }
    else {
        d->backfill_busy = false;
    }
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void ddb__backfill_kick(struct ddb *d)
{
    pthread_mutex_lock(&d->mu);
    if (d->stopping) {
        /* Nothing is lost: the cursors in ddb.meta resume at the next start. */
    }
    else if (d->backfill_busy) {
        d->backfill_again = true;
    }
    else {
        backfill_submit_locked(d);
    }
    pthread_mutex_unlock(&d->mu);
}
