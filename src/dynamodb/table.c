/*
 * table.c: the DynamoDB table catalog: CreateTable, DescribeTable, ListTables, DeleteTable.
 *
 * What it is: validation of the control-plane requests as DynamoDB validates them (the
 * "N validation error(s) detected: ..." messages come from the same constraint checks AWS's
 * front end runs), catalog entries written through the writer, and reads in read
 * transactions. A catalog entry is the TableDescription DynamoDB returns, kept as JSON text
 * (docs/formats.md, "DynamoDB catalog"): it is read rarely compared with items.
 *
 * What it is not: UpdateTable (update.c), items (item.c), the storage of entries
 * (catalog.c), indexes.
 *
 * Invariants: a table name is unique in the catalog; the count of tables never exceeds
 * DDB_MAX_TABLES (checked inside the writer op, so concurrent creates cannot overshoot).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

/* ---- ListTables ---- */

int ddb_list_tables(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    const json_t *start = json_object_get(r->json, "ExclusiveStartTableName");
    const json_t *jlimit = json_object_get(r->json, "Limit");
    json_int_t limit = DDB_LIST_TABLES_MAX;
    struct ddb_verr ve = { 0 };
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    json_t *names, *out;
    int rc, n = 0;

    if (ddb__type_or_reply(r, start, DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, jlimit, DDB_J_INTEGER) < 0) {
        return -1;
    }
    if (start && !json_is_null(start)) {
        ddb__check_table_name(&ve, start, "exclusiveStartTableName");
    }
    if (jlimit && !json_is_null(jlimit)) {
        limit = json_is_integer(jlimit) ? json_integer_value(jlimit)
                                        : (json_int_t)json_real_value(jlimit);
        if (limit < 1) {
            ddb__verr_add(&ve,
                     "Value '%lld' at 'limit' failed to satisfy constraint: Member must have "
                     "value greater than or equal to 1",
                     (long long)limit);
        }
        else if (limit > DDB_LIST_TABLES_MAX) {
            ddb__verr_add(&ve,
                     "Value '%lld' at 'limit' failed to satisfy constraint: Member must have "
                     "value less than or equal to %d",
                     (long long)limit, DDB_LIST_TABLES_MAX);
        }
    }
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    rc = store_read_begin(d->st, &txn);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, d->tables, &cur);
    }
    if (rc != 0) {
        log_error("dynamodb", "ListTables: %s", store_strerror(rc));
        if (txn) {
            store_read_end(d->st, txn);
        }
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    names = json_array();
    out = json_object();
    if (start && json_is_string(start)) {
        const char *s = json_string_value(start);
        k.mv_data = (void *)s;
        k.mv_size = strlen(s);
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == strlen(s) && memcmp(k.mv_data, s, k.mv_size) == 0) {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    }
    else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (n == limit) {
            json_object_set_new(out, "LastEvaluatedTableName",
                                json_string(json_string_value(json_array_get(names, n - 1))));
            break;
        }
        json_array_append_new(names, json_stringn(k.mv_data, k.mv_size));
        n++;
    }
    mdb_cursor_close(cur);
    store_read_end(d->st, txn);
    json_object_set_new(out, "TableNames", names);
    return http_reply_json(r, out);
}

/* ---- CreateTable ---- */

struct create_op {
    struct store_op base;
    struct ddb *d;
    struct http_req *r;
    const char *name;
    json_t *entry;              /* the new catalog entry (owned, released with the request);
                                   apply adds the stream's fields */
    const char *table_arn;
    const char *stream_view;    /* NULL: no stream */
    const json_t *key_schema;   /* borrowed from the request body */
    struct timespec now;        /* the creation time, the stream label's base */
};

static int create_apply(struct store_op *op, MDB_txn *txn)
{
    struct create_op *c = (struct create_op *)op;
    MDB_val k = { strlen(c->name), (void *)c->name }, v;
    MDB_stat ms;
    uint32_t id;
    int rc;

    rc = mdb_stat(txn, c->d->tables, &ms);
    if (rc != 0) {
        return rc;
    }
    if (ms.ms_entries >= DDB_MAX_TABLES) {
        return -EDQUOT;
    }
    rc = mdb_get(txn, c->d->tables, &k, &v);
    if (rc == 0) {
        return -EEXIST;
    }
    if (rc != MDB_NOTFOUND) {
        return rc;
    }
    rc = ddb__table_id_new(c->d, txn, &id);
    if (rc == 0) {
        rc = ddb__index_ids_assign(c->d, txn, c->entry, true);
    }
    if (rc == 0 && c->stream_view) {
        /* The stream is born in the same transaction as its table. */
        rc = ddb__stream_start(c->d, txn, c->name, c->table_arn, c->entry, c->stream_view,
                               c->key_schema, &c->now);
    }
    if (rc == 0) {
        rc = ddb__catalog_put(c->d, txn, c->name, c->entry, id);
    }
    return rc;
}

static void op_done_resume(struct store_op *op, int rc)
{
    struct create_op *c = (struct create_op *)op;
    (void)rc;
    http_req_resume(c->r);
}

static int create_cont(struct http_req *r)
{
    struct create_op *c = r->op_ctx;
    json_t *desc;

    switch (c->base.rc) {
    case 0:
        break;
    case -EEXIST:
        return http_req_fail(r, AWSERR_RESOURCE_IN_USE, "Table already exists: %s", c->name);
    case -EDQUOT:
        return http_req_fail(r, AWSERR_LIMIT_EXCEEDED,
                             "Subscriber limit exceeded: Only %d tables can be created in this "
                             "account and region",
                             DDB_MAX_TABLES);
    default:
        log_error("dynamodb", "CreateTable %s: %s", c->name, store_strerror(c->base.rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    desc = ddb__describe(c->d, NULL, c->entry, 0, 0);
    /* DynamoDB answers CreateTable while the table is CREATING; sluice's tables are ready at
     * once, so DescribeTable reports ACTIVE from the next call on. */
    json_object_set_new(desc, "TableStatus", json_string("CREATING"));
    return http_reply_json(r, json_pack("{s:o}", "TableDescription", desc));
}

static bool valid_key_type(const char *t)
{
    return t && (strcmp(t, "S") == 0 || strcmp(t, "N") == 0 || strcmp(t, "B") == 0);
}

/* Validates KeySchema and AttributeDefinitions as DynamoDB does; adds to ve or fails r with a
 * semantic ValidationException. indexes: the request defines secondary indexes, whose rules
 * (index.c) check the definitions they use. Returns 0 or -1 (r's error set). */
static int check_keys(struct http_req *r, struct ddb_verr *ve, const json_t *ks, const json_t *ad,
                      bool indexes)
{
    size_t i;
    const json_t *e;
    char keys[600] = "", defs[600] = "";
    size_t kl = 0, dl = 0;

    if (!ks || json_is_null(ks)) {
        ddb__verr_add(ve, "Value null at 'keySchema' failed to satisfy constraint: Member must not "
                     "be null");
    }
    else if (json_array_size(ks) < 1 || json_array_size(ks) > 2) {
        ddb__verr_add(ve,
                 "Value '%s' at 'keySchema' failed to satisfy constraint: Member must have "
                 "length %s",
                 "[...]", json_array_size(ks) < 1 ? "greater than or equal to 1"
                                                 : "less than or equal to 2");
    }
    if (!ad || json_is_null(ad)) {
        ddb__verr_add(ve, "Value null at 'attributeDefinitions' failed to satisfy constraint: "
                     "Member must not be null");
    }
    if (ad && json_is_array(ad)) {
        json_array_foreach(ad, i, e)
        {
            const char *t = json_string_value(json_object_get(e, "AttributeType"));
            const char *n = json_string_value(json_object_get(e, "AttributeName"));
            if (!json_is_object(e)) {
                return http_req_fail(r, AWSERR_SERIALIZATION,
                                     "Unexpected token received from parser");
            }
            if (!n) {
                ddb__verr_add(ve,
                         "Value null at 'attributeDefinitions.%zu.member.attributeName' failed "
                         "to satisfy constraint: Member must not be null",
                         i + 1);
            }
            if (!valid_key_type(t)) {
                if (t) {
                    ddb__verr_add(ve,
                             "Value '%s' at 'attributeDefinitions.%zu.member.attributeType' "
                             "failed to satisfy constraint: Member must satisfy enum value "
                             "set: [B, N, S]",
                             t, i + 1);
                }
                else {
                    ddb__verr_add(ve,
                             "Value null at 'attributeDefinitions.%zu.member.attributeType' "
                             "failed to satisfy constraint: Member must not be null",
                             i + 1);
                }
            }
        }
    }
    if (ks && json_is_array(ks)) {
        json_array_foreach(ks, i, e)
        {
            const char *t = json_string_value(json_object_get(e, "KeyType"));
            const char *n = json_string_value(json_object_get(e, "AttributeName"));
            if (!json_is_object(e)) {
                return http_req_fail(r, AWSERR_SERIALIZATION,
                                     "Unexpected token received from parser");
            }
            if (!n) {
                ddb__verr_add(ve,
                         "Value null at 'keySchema.%zu.member.attributeName' failed to satisfy "
                         "constraint: Member must not be null",
                         i + 1);
            }
            else if (strlen(n) < 1 || strlen(n) > 255) {
                ddb__verr_add(ve,
                         "Value '%.255s' at 'keySchema.%zu.member.attributeName' failed to "
                         "satisfy constraint: Member must have length less than or equal to "
                         "255",
                         n, i + 1);
            }
            if (!t || (strcmp(t, "HASH") != 0 && strcmp(t, "RANGE") != 0)) {
                if (t) {
                    ddb__verr_add(ve,
                             "Value '%s' at 'keySchema.%zu.member.keyType' failed to satisfy "
                             "constraint: Member must satisfy enum value set: [HASH, RANGE]",
                             t, i + 1);
                }
                else {
                    ddb__verr_add(ve,
                             "Value null at 'keySchema.%zu.member.keyType' failed to satisfy "
                             "constraint: Member must not be null",
                             i + 1);
                }
            }
        }
    }
    if (ve->n) {
        return 0;
    }
    /* Semantic checks, after the constraint checks pass. */
    json_array_foreach(ks, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "AttributeName"));
        const char *t = json_string_value(json_object_get(e, "KeyType"));
        if ((i == 0 && strcmp(t, "HASH") != 0) || (i == 1 && strcmp(t, "RANGE") != 0)) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 i == 0 ? "Invalid KeySchema: The first KeySchemaElement is not "
                                          "a HASH key type"
                                        : "Invalid KeySchema: The second KeySchemaElement is "
                                          "not a RANGE key type");
        }
        if (i == 1 && strcmp(n, json_string_value(json_object_get(json_array_get(ks, 0),
                                                                   "AttributeName"))) == 0) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "Both the Hash Key and the Range Key element in the KeySchema "
                                 "have the same name");
        }
        kl += (size_t)snprintf(keys + kl, sizeof keys - kl, "%s%s", i ? ", " : "", n);
        if (kl >= sizeof keys) {
            kl = sizeof keys - 1;
        }
    }
    json_array_foreach(ad, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "AttributeName"));
        for (size_t j = 0; j < i; j++) {
            const char *m = json_string_value(json_object_get(json_array_get(ad, j),
                                                              "AttributeName"));
            if (strcmp(n, m) == 0) {
                return http_req_fail(r, AWSERR_VALIDATION,
                                     "Invalid Request: Cannot have two attributes with the same "
                                     "name");
            }
        }
        dl += (size_t)snprintf(defs + dl, sizeof defs - dl, "%s%s", i ? ", " : "", n);
        if (dl >= sizeof defs) {
            dl = sizeof defs - 1;
        }
    }
    json_array_foreach(ks, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "AttributeName"));
        bool found = false;
        size_t j;
        const json_t *f;
        json_array_foreach(ad, j, f)
        {
            if (strcmp(n, json_string_value(json_object_get(f, "AttributeName"))) == 0) {
                found = true;
            }
        }
        if (!found) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "One or more parameter values were invalid: Some index key "
                                 "attributes are not defined in AttributeDefinitions. Keys: "
                                 "[%s], AttributeDefinitions: [%s]",
                                 keys, defs);
        }
    }
    if (!indexes && json_array_size(ad) != json_array_size(ks)) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "One or more parameter values were invalid: Number of attributes "
                             "in KeySchema does not exactly match number of attributes defined "
                             "in AttributeDefinitions");
    }
    return 0;
}

static int check_billing(struct http_req *r, struct ddb_verr *ve, const json_t *bm, const json_t *pt,
                         const char **mode)
{
    const char *m = json_string_value(bm);
    if (m && strcmp(m, "PROVISIONED") != 0 && strcmp(m, "PAY_PER_REQUEST") != 0) {
        ddb__verr_add(ve,
                 "Value '%s' at 'billingMode' failed to satisfy constraint: Member must satisfy "
                 "enum value set: [PROVISIONED, PAY_PER_REQUEST]",
                 m);
        return 0;
    }
    *mode = m ? m : "PROVISIONED";
    if (pt && !json_is_null(pt)) {
        const json_t *rcu = json_object_get(pt, "ReadCapacityUnits");
        const json_t *wcu = json_object_get(pt, "WriteCapacityUnits");
        if (!json_is_object(pt)) {
            return http_req_fail(r, AWSERR_SERIALIZATION, "Unexpected token received from parser");
        }
        if (!rcu || json_is_null(rcu)) {
            ddb__verr_add(ve, "Value null at 'provisionedThroughput.readCapacityUnits' failed to "
                         "satisfy constraint: Member must not be null");
        }
        else if (json_integer_value(rcu) < 1) {
            ddb__verr_add(ve,
                     "Value '%lld' at 'provisionedThroughput.readCapacityUnits' failed to "
                     "satisfy constraint: Member must have value greater than or equal to 1",
                     (long long)json_integer_value(rcu));
        }
        if (!wcu || json_is_null(wcu)) {
            ddb__verr_add(ve, "Value null at 'provisionedThroughput.writeCapacityUnits' failed to "
                         "satisfy constraint: Member must not be null");
        }
        else if (json_integer_value(wcu) < 1) {
            ddb__verr_add(ve,
                     "Value '%lld' at 'provisionedThroughput.writeCapacityUnits' failed to "
                     "satisfy constraint: Member must have value greater than or equal to 1",
                     (long long)json_integer_value(wcu));
        }
    }
    if (ve->n) {
        return 0;
    }
    if (strcmp(*mode, "PROVISIONED") == 0 && (!pt || json_is_null(pt))) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "One or more parameter values were invalid: ReadCapacityUnits and "
                             "WriteCapacityUnits must both be specified when BillingMode is "
                             "PROVISIONED");
    }
    if (strcmp(*mode, "PAY_PER_REQUEST") == 0 && pt && !json_is_null(pt)) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "One or more parameter values were invalid: Neither "
                             "ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                             "BillingMode is PAY_PER_REQUEST");
    }
    return 0;
}

static int check_stream(struct http_req *r, struct ddb_verr *ve, const json_t *ss)
{
    const json_t *en;
    const char *vt;
    if (!ss || json_is_null(ss)) {
        return 0;
    }
    if (!json_is_object(ss)) {
        return http_req_fail(r, AWSERR_SERIALIZATION, "Unexpected token received from parser");
    }
    en = json_object_get(ss, "StreamEnabled");
    vt = json_string_value(json_object_get(ss, "StreamViewType"));
    if (!en || json_is_null(en)) {
        ddb__verr_add(ve, "Value null at 'streamSpecification.streamEnabled' failed to satisfy "
                     "constraint: Member must not be null");
        return 0;
    }
    if (vt && strcmp(vt, "NEW_IMAGE") != 0 && strcmp(vt, "OLD_IMAGE") != 0 &&
        strcmp(vt, "NEW_AND_OLD_IMAGES") != 0 && strcmp(vt, "KEYS_ONLY") != 0) {
        ddb__verr_add(ve,
                 "Value '%s' at 'streamSpecification.streamViewType' failed to satisfy "
                 "constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, "
                 "NEW_AND_OLD_IMAGES, KEYS_ONLY]",
                 vt);
        return 0;
    }
    if (json_is_true(en) && !vt) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "One or more parameter values were invalid: You must specify a "
                             "StreamViewType when enabling a stream");
    }
    if (!json_is_true(en) && vt) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "One or more parameter values were invalid: You cannot specify a "
                             "StreamViewType when disabling a stream");
    }
    return 0;
}

int ddb_create_table(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    const json_t *in = r->json;
    const json_t *jname = json_object_get(in, "TableName");
    const json_t *ks = json_object_get(in, "KeySchema");
    const json_t *ad = json_object_get(in, "AttributeDefinitions");
    const json_t *bm = json_object_get(in, "BillingMode");
    const json_t *pt = json_object_get(in, "ProvisionedThroughput");
    const json_t *ss = json_object_get(in, "StreamSpecification");
    const json_t *gsi = json_object_get(in, "GlobalSecondaryIndexes");
    const json_t *lsi = json_object_get(in, "LocalSecondaryIndexes");
    const json_t *tc = json_object_get(in, "TableClass");
    const json_t *tags = json_object_get(in, "Tags");
    bool indexes = (gsi && !json_is_null(gsi)) || (lsi && !json_is_null(lsi));
    struct ddb_verr ve = { 0 };
    const char *mode = "PROVISIONED";
    struct create_op *c;
    json_t *entry;
    struct timespec now;
    char uuid[37];
    char *arn;
    size_t i;
    const json_t *ix;

    if (ddb__type_or_reply(r, jname, DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, ks, DDB_J_LIST) < 0 ||
        ddb__type_or_reply(r, ad, DDB_J_LIST) < 0 ||
        ddb__type_or_reply(r, bm, DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, pt, DDB_J_STRUCT) < 0 ||
        ddb__type_or_reply(r, ss, DDB_J_STRUCT) < 0 ||
        ddb__type_or_reply(r, tc, DDB_J_STRING) < 0 ||
        ddb__index_list_types_or_reply(r, gsi, true) < 0 ||
        ddb__index_list_types_or_reply(r, lsi, false) < 0) {
        return -1;
    }
    ddb__check_table_name(&ve, jname, "tableName");
    json_array_foreach(gsi, i, ix)
    {
        char at[64];
        snprintf(at, sizeof at, "globalSecondaryIndexes.%zu.member", i + 1);
        ddb__index_constraints(&ve, ix, at, true);
    }
    json_array_foreach(lsi, i, ix)
    {
        char at[64];
        snprintf(at, sizeof at, "localSecondaryIndexes.%zu.member", i + 1);
        ddb__index_constraints(&ve, ix, at, false);
    }
    if (check_keys(r, &ve, ks, ad, indexes) < 0 || check_billing(r, &ve, bm, pt, &mode) < 0 ||
        check_stream(r, &ve, ss) < 0) {
        return -1;
    }
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    if (indexes && ddb__index_rules_or_reply(r, in, mode) < 0) {
        return -1;
    }
    if (tc && !json_is_null(tc) && strcmp(json_string_value(tc), "STANDARD") != 0 &&
        strcmp(json_string_value(tc), "STANDARD_INFREQUENT_ACCESS") != 0) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Invalid table-class parameter provided. Please try again with a "
                             "valid table-class value: [STANDARD, STANDARD_INFREQUENT_ACCESS].");
    }
    if (tags && !json_is_null(tags) && ddb__tags_check_or_reply(r, tags) < 0) {
        return -1;
    }

    clock_gettime(CLOCK_REALTIME, &now);
    sl_uuid4(uuid);
    arn = arena_printf(&r->arena, "arn:aws:dynamodb:%s:%s:table/%s", d->region, d->account,
                       json_string_value(jname));
    entry = json_object();
    json_object_set(entry, "TableName", (json_t *)jname);
    json_object_set(entry, "KeySchema", (json_t *)ks);
    json_object_set(entry, "AttributeDefinitions", (json_t *)ad);
    json_object_set_new(entry, "TableStatus", json_string("ACTIVE"));
    json_object_set_new(entry, "CreationDateTime",
                        json_real((double)now.tv_sec + (double)(now.tv_nsec / 1000000) / 1e3));
    json_object_set_new(entry, "TableArn", json_string(arn));
    json_object_set_new(entry, "TableId", json_string(uuid));
    if (strcmp(mode, "PAY_PER_REQUEST") == 0) {
        json_object_set_new(entry, "BillingModeSummary",
                            json_pack("{s:s, s:f}", "BillingMode", "PAY_PER_REQUEST",
                                      "LastUpdateToPayPerRequestDateTime",
                                      (double)now.tv_sec));
        json_object_set_new(entry, "ProvisionedThroughput",
                            json_pack("{s:i, s:i, s:i}", "NumberOfDecreasesToday", 0,
                                      "ReadCapacityUnits", 0, "WriteCapacityUnits", 0));
    }
    else {
        json_object_set_new(
            entry, "ProvisionedThroughput",
            json_pack("{s:i, s:I, s:I}", "NumberOfDecreasesToday", 0, "ReadCapacityUnits",
                      (json_int_t)json_integer_value(json_object_get(pt, "ReadCapacityUnits")),
                      "WriteCapacityUnits",
                      (json_int_t)json_integer_value(json_object_get(pt, "WriteCapacityUnits"))));
    }
    json_object_set_new(entry, "DeletionProtectionEnabled",
                        json_boolean(json_is_true(json_object_get(in,
                                                                  "DeletionProtectionEnabled"))));
    if (tc && !json_is_null(tc)) {
        json_object_set_new(entry, "TableClassSummary",
                            json_pack("{s:O}", "TableClass", tc));
    }
    if (json_array_size(tags)) {
        json_object_set_new(entry, "SluiceTags", ddb__tags_new(tags));
    }
    if (json_array_size(gsi)) {
        json_t *list = json_array();
        json_array_foreach(gsi, i, ix)
        {
            json_array_append_new(list, ddb__index_describe(ix, true, arn, mode, "ACTIVE"));
        }
        json_object_set_new(entry, "GlobalSecondaryIndexes", list);
    }
    if (json_array_size(lsi)) {
        json_t *list = json_array();
        json_array_foreach(lsi, i, ix)
        {
            json_array_append_new(list, ddb__index_describe(ix, false, arn, mode, "ACTIVE"));
        }
        json_object_set_new(entry, "LocalSecondaryIndexes", list);
    }
    c = arena_new(&r->arena, struct create_op);
    if (ss && json_is_true(json_object_get(ss, "StreamEnabled"))) {
        c->stream_view = json_string_value(json_object_get(ss, "StreamViewType"));
    }
    c->table_arn = arn;
    c->key_schema = ks;
    c->now = now;
    c->base.apply = create_apply;
    c->base.done = op_done_resume;
    c->d = d;
    c->r = r;
    c->name = json_string_value(jname);
    c->entry = entry;
    arena_on_clear(&r->arena, ddb__decref_cb, entry);
    return ddb__submit_or_reply(r, &c->base, create_cont);
}

/* ---- DescribeTable ---- */

int ddb_describe_table(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    struct ddb_schema sc;
    const char *name;
    MDB_txn *txn = NULL;
    uint64_t items = 0, bytes = 0;
    json_t *entry, *desc;
    int rc;

    if (ddb__table_name_or_reply(r, json_object_get(r->json, "TableName"), "tableName", &name) <
        0) {
        return -1;
    }
    rc = store_read_begin(d->st, &txn);
    if (rc != 0) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    entry = ddb__catalog_get(d, txn, name);
    if (entry && ddb__schema_get(d, txn, name, &sc) == 0) {
        rc = ddb__counts_get(d, txn, sc.id, &items, &bytes);
    }
    desc = entry ? ddb__describe(d, txn, entry, items, bytes) : NULL;
    store_read_end(d->st, txn);
    if (!entry) {
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                             "Requested resource not found: Table: %s not found", name);
    }
    json_decref(entry);
    if (rc != 0) {
        json_decref(desc);
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    return http_reply_json(r, json_pack("{s:o}", "Table", desc));
}

/* ---- DeleteTable ---- */

struct delete_op {
    struct store_op base;
    struct ddb *d;
    struct http_req *r;
    const char *name;
    json_t *entry;    /* the deleted entry, read inside the op (owned, decref by cont) */
    json_t *desc;     /* its description, made inside the op (owned, decref by cont) */
};

static int delete_apply(struct store_op *op, MDB_txn *txn)
{
    struct delete_op *c = (struct delete_op *)op;
    struct ddb_schema sc;
    const char *arn;
    int rc;

    uint64_t items = 0, bytes = 0;

    json_decref(c->entry);      /* from an earlier run of this op, if any */
    json_decref(c->desc);
    c->desc = NULL;
    c->entry = ddb__catalog_get(c->d, txn, c->name);
    if (!c->entry) {
        return -ENOENT;
    }
    if (json_is_true(json_object_get(c->entry, "DeletionProtectionEnabled"))) {
        return -EPERM;
    }
    rc = ddb__schema_get(c->d, txn, c->name, &sc);
    if (rc == 0) {
        rc = ddb__counts_get(c->d, txn, sc.id, &items, &bytes);
    }
    if (rc == 0) {
        c->desc = ddb__describe(c->d, txn, c->entry, items, bytes);
        /* The items and index entries go in later ops (ddb__reclaim_kick() after the
         * commit). */
        rc = ddb__catalog_del(c->d, txn, c->name, &sc);
    }
    arn = json_string_value(json_object_get(c->entry, "LatestStreamArn"));
    if (rc == 0 && arn) {
        /* The stream outlives its table for the retention period, as on DynamoDB. */
        int src = strm_disable(c->d->streams, txn, arn);
        if (src != 0 && src != -ENOENT) {
            rc = src;
        }
    }
    return rc;
}

static void delete_done(struct store_op *op, int rc)
{
    struct delete_op *c = (struct delete_op *)op;
    if (rc == 0) {
        ddb__reclaim_kick(c->d);
    }
    http_req_resume(c->r);
}

static int delete_cont(struct http_req *r)
{
    struct delete_op *c = r->op_ctx;
    json_t *desc;

    if (c->entry) {
        arena_on_clear(&r->arena, ddb__decref_cb, c->entry);
    }
    desc = c->desc;
    c->desc = NULL;
    switch (c->base.rc) {
    case 0:
        break;
    case -ENOENT:
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                             "Requested resource not found: Table: %s not found", c->name);
    case -EPERM:
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Resource cannot be deleted as it is currently protected against "
                             "deletion. Disable deletion protection first.");
    default:
        log_error("dynamodb", "DeleteTable %s: %s", c->name, store_strerror(c->base.rc));
        json_decref(desc);
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    json_object_set_new(desc, "TableStatus", json_string("DELETING"));
    return http_reply_json(r, json_pack("{s:o}", "TableDescription", desc));
}

int ddb_delete_table(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    struct delete_op *c;
    const char *name;

    if (ddb__table_name_or_reply(r, json_object_get(r->json, "TableName"), "tableName", &name) <
        0) {
        return -1;
    }
    c = arena_new(&r->arena, struct delete_op);
    c->base.apply = delete_apply;
    c->base.done = delete_done;
    c->d = d;
    c->r = r;
    c->name = name;
    return ddb__submit_or_reply(r, &c->base, delete_cont);
}
