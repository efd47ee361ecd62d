/*
 * index.c: the definitions of secondary indexes: CreateTable's GlobalSecondaryIndexes and
 * LocalSecondaryIndexes (and UpdateTable's GlobalSecondaryIndexUpdates Create), validated as
 * DynamoDB validates them, and their descriptions in the catalog entry.
 *
 * What it is: three stages the handlers call in DynamoDB's order: the JSON types of the
 * nested members (SerializationException), their declared constraints (collected into the
 * request's "N validation errors detected"), then the rules between them (key attributes
 * defined, an LSI on the table's hash key, projections, throughput against the billing
 * mode, names unique, the limits of 20 GSIs, 5 LSIs and 100 projected attributes). Then the
 * descriptions DescribeTable shows (IndexName, KeySchema, Projection, IndexStatus,
 * ProvisionedThroughput, IndexArn), with the id the writer op gives each index
 * ("SluiceIndexId", docs/formats.md "DynamoDB catalog").
 *
 * What it is not: the entries (write.c), their reads (query.c), the backfill (backfill.c).
 */
#include <stdio.h>
#include <string.h>

#include "dynamodb/ddb_int.h"

static const char invalid[] = "One or more parameter values were invalid: ";

/* ---- JSON types ---- */

/* The JSON types inside one index definition. */
static int index_types_or_reply(struct http_req *r, const json_t *ix, bool gsi)
{
    const json_t *ks = json_object_get(ix, "KeySchema");
    const json_t *proj = json_object_get(ix, "Projection");
    const json_t *nk = json_object_get(proj, "NonKeyAttributes");
    const json_t *pt = json_object_get(ix, "ProvisionedThroughput");
    size_t i;
    const json_t *e;

    if (ddb__type_or_reply(r, ix, DDB_J_STRUCT) < 0 ||
        ddb__type_or_reply(r, json_object_get(ix, "IndexName"), DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, ks, DDB_J_LIST) < 0 ||
        ddb__type_or_reply(r, proj, DDB_J_STRUCT) < 0 ||
        ddb__type_or_reply(r, json_object_get(proj, "ProjectionType"), DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, nk, DDB_J_LIST) < 0 ||
        (gsi && ddb__type_or_reply(r, pt, DDB_J_STRUCT) < 0)) {
        return -1;
    }
    json_array_foreach(ks, i, e)
    {
        if (ddb__type_or_reply(r, e, DDB_J_STRUCT) < 0 ||
            ddb__type_or_reply(r, json_object_get(e, "AttributeName"), DDB_J_STRING) < 0 ||
            ddb__type_or_reply(r, json_object_get(e, "KeyType"), DDB_J_STRING) < 0) {
            return -1;
        }
    }
    json_array_foreach(nk, i, e)
    {
        if (ddb__type_or_reply(r, e, DDB_J_STRING) < 0) {
            return -1;
        }
    }
    if (gsi && ddb__present(pt) &&
        (ddb__type_or_reply(r, json_object_get(pt, "ReadCapacityUnits"), DDB_J_LONG) < 0 ||
         ddb__type_or_reply(r, json_object_get(pt, "WriteCapacityUnits"), DDB_J_LONG) < 0)) {
        return -1;
    }
    return 0;
}

int ddb__index_list_types_or_reply(struct http_req *r, const json_t *list, bool gsi)
{
    size_t i;
    const json_t *ix;
    if (ddb__type_or_reply(r, list, DDB_J_LIST) < 0) {
        return -1;
    }
    json_array_foreach(list, i, ix)
    {
        if (index_types_or_reply(r, ix, gsi) < 0) {
            return -1;
        }
    }
    return 0;
}

/* ---- constraints ---- */

void ddb__index_constraints(struct ddb_verr *ve, const json_t *ix, const char *at, bool gsi)
{
    static const char *const key_types[] = { "HASH", "RANGE", NULL };
    static const char *const proj_types[] = { "ALL", "INCLUDE", "KEYS_ONLY", NULL };
    const json_t *ks = json_object_get(ix, "KeySchema");
    const json_t *proj = json_object_get(ix, "Projection");
    const json_t *nk = json_object_get(proj, "NonKeyAttributes");
    const json_t *pt = json_object_get(ix, "ProvisionedThroughput");
    char path[160];
    size_t i;
    const json_t *e;

    snprintf(path, sizeof path, "%s.indexName", at);
    ddb__check_table_name(ve, json_object_get(ix, "IndexName"), path);
    if (!ddb__present(ks)) {
        ddb__verr_add(ve, "Value null at '%s.keySchema' failed to satisfy constraint: Member "
                          "must not be null",
                      at);
    }
    else if (json_array_size(ks) < 1 || json_array_size(ks) > 2) {
        ddb__verr_add(ve,
                      "Value '[...]' at '%s.keySchema' failed to satisfy constraint: Member must "
                      "have length %s",
                      at, json_array_size(ks) < 1 ? "greater than or equal to 1"
                                                  : "less than or equal to 2");
    }
    json_array_foreach(ks, i, e)
    {
        const json_t *n = json_object_get(e, "AttributeName");
        if (!ddb__present(n)) {
            ddb__verr_add(ve,
                          "Value null at '%s.keySchema.%zu.member.attributeName' failed to "
                          "satisfy constraint: Member must not be null",
                          at, i + 1);
        }
        else if (json_string_length(n) < 1 || json_string_length(n) > 255) {
            ddb__verr_add(ve,
                          "Value '%.255s' at '%s.keySchema.%zu.member.attributeName' failed to "
                          "satisfy constraint: Member must have length %s",
                          json_string_value(n), at, i + 1,
                          json_string_length(n) < 1 ? "greater than or equal to 1"
                                                    : "less than or equal to 255");
        }
        snprintf(path, sizeof path, "%s.keySchema.%zu.member.keyType", at, i + 1);
        if (!ddb__present(json_object_get(e, "KeyType"))) {
            ddb__verr_add(ve, "Value null at '%s' failed to satisfy constraint: Member must not "
                              "be null",
                          path);
        }
        ddb__check_enum(ve, json_object_get(e, "KeyType"), path, key_types);
    }
    if (!ddb__present(proj)) {
        ddb__verr_add(ve, "Value null at '%s.projection' failed to satisfy constraint: Member "
                          "must not be null",
                      at);
    }
    snprintf(path, sizeof path, "%s.projection.projectionType", at);
    ddb__check_enum(ve, json_object_get(proj, "ProjectionType"), path, proj_types);
    if (ddb__present(nk) && json_array_size(nk) == 0) {
        ddb__verr_add(ve,
                      "Value '[]' at '%s.projection.nonKeyAttributes' failed to satisfy "
                      "constraint: Member must have length greater than or equal to 1",
                      at);
    }
    json_array_foreach(nk, i, e)
    {
        if (json_string_length(e) < 1 || json_string_length(e) > 255) {
            ddb__verr_add(ve,
                          "Value '%.255s' at '%s.projection.nonKeyAttributes.%zu.member' failed "
                          "to satisfy constraint: Member must have length %s",
                          json_string_value(e), at, i + 1,
                          json_string_length(e) < 1 ? "greater than or equal to 1"
                                                    : "less than or equal to 255");
        }
    }
    if (gsi && ddb__present(pt)) {
        static const char *const members[][2] = { { "ReadCapacityUnits", "readCapacityUnits" },
                                                  { "WriteCapacityUnits",
                                                    "writeCapacityUnits" } };
        for (i = 0; i < 2; i++) {
            const json_t *v = json_object_get(pt, members[i][0]);
            if (!ddb__present(v)) {
                ddb__verr_add(ve,
                              "Value null at '%s.provisionedThroughput.%s' failed to satisfy "
                              "constraint: Member must not be null",
                              at, members[i][1]);
            }
            else if (json_integer_value(v) < 1) {
                ddb__verr_add(ve,
                              "Value '%lld' at '%s.provisionedThroughput.%s' failed to satisfy "
                              "constraint: Member must have value greater than or equal to 1",
                              (long long)json_integer_value(v), at, members[i][1]);
            }
        }
    }
}

/* ---- rules ---- */

/* "a, b, c": the AttributeName of each element of list. */
static void names_list(const json_t *list, char *out, size_t n)
{
    size_t o = 0, i;
    const json_t *e;
    out[0] = '\0';
    json_array_foreach(list, i, e)
    {
        const char *s = json_string_value(json_object_get(e, "AttributeName"));
        int k = snprintf(out + o, n - o, "%s%s", i ? ", " : "", s ? s : "null");
        o += (size_t)k < n - o ? (size_t)k : n - o - 1;
    }
}

static bool defined(const json_t *ad, const char *name)
{
    size_t i;
    const json_t *e;
    json_array_foreach(ad, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "AttributeName"));
        if (n && name && strcmp(n, name) == 0) {
            return true;
        }
    }
    return false;
}

static const char *key_name(const json_t *ks, size_t i)
{
    return json_string_value(json_object_get(json_array_get(ks, i), "AttributeName"));
}

/* The rules of one index definition. names holds the index names seen so far. */
static int index_rules_or_reply(struct http_req *r, const json_t *in, const json_t *ix,
                                bool gsi, const char *mode, const json_t *names)
{
    const json_t *ad = json_object_get(in, "AttributeDefinitions");
    const json_t *tks = json_object_get(in, "KeySchema");
    const json_t *ks = json_object_get(ix, "KeySchema");
    const json_t *proj = json_object_get(ix, "Projection");
    const char *pt = json_string_value(json_object_get(proj, "ProjectionType"));
    const char *name = json_string_value(json_object_get(ix, "IndexName"));
    char keys[600], defs[600];
    size_t i;
    const json_t *e;

    json_array_foreach(ks, i, e)
    {
        if (!defined(ad, key_name(ks, i))) {
            names_list(ks, keys, sizeof keys);
            names_list(ad, defs, sizeof defs);
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "%sSome index key attributes are not defined in "
                                 "AttributeDefinitions. Keys: [%s], AttributeDefinitions: [%s]",
                                 invalid, keys, defs);
        }
    }
    if (json_array_size(ks) == 2 && strcmp(key_name(ks, 0), key_name(ks, 1)) == 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "Both the Hash Key and the Range Key element "
                                                   "in the KeySchema have the same name");
    }
    json_array_foreach(ks, i, e)
    {
        const char *t = json_string_value(json_object_get(e, "KeyType"));
        if ((i == 0 && strcmp(t, "HASH") != 0) || (i == 1 && strcmp(t, "RANGE") != 0)) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 i == 0 ? "Invalid KeySchema: The first KeySchemaElement is not "
                                          "a HASH key type"
                                        : "Invalid KeySchema: The second KeySchemaElement is "
                                          "not a RANGE key type");
        }
    }
    if (!gsi && json_array_size(ks) != 2) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sIndex KeySchema does not have a range key for index: %s",
                             invalid, name);
    }
    if (!gsi && strcmp(key_name(ks, 0), key_name(tks, 0)) != 0) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sIndex KeySchema does not have the same leading hash key as "
                             "table KeySchema for index: %s. index hash key: %s, table hash "
                             "key: %s",
                             invalid, name, key_name(ks, 0), key_name(tks, 0));
    }
    if (!pt) {
        return http_req_fail(r, AWSERR_VALIDATION, "%sUnknown ProjectionType: null", invalid);
    }
    if (ddb__present(json_object_get(proj, "NonKeyAttributes")) && strcmp(pt, "INCLUDE") != 0) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sProjectionType is %s, but NonKeyAttributes is specified",
                             invalid, pt);
    }
    if (gsi && mode && strcmp(mode, "PAY_PER_REQUEST") == 0 &&
        ddb__present(json_object_get(ix, "ProvisionedThroughput"))) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sProvisionedThroughput should not be specified for index: %s "
                             "when BillingMode is PAY_PER_REQUEST",
                             invalid, name);
    }
    if (gsi && mode && strcmp(mode, "PROVISIONED") == 0 &&
        !ddb__present(json_object_get(ix, "ProvisionedThroughput"))) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "%sProvisionedThroughput is not specified for index: %s", invalid,
                             name);
    }
    json_array_foreach(names, i, e)
    {
        if (strcmp(json_string_value(e), name) == 0) {
            return http_req_fail(r, AWSERR_VALIDATION, "%sDuplicate index name: %s", invalid,
                                 name);
        }
    }
    return 0;
}

int ddb__index_rule_or_reply(struct http_req *r, const json_t *in, const json_t *ix, bool gsi,
                             const char *mode)
{
    json_t *names = json_array();
    int rc = index_rules_or_reply(r, in, ix, gsi, mode, names);
    json_decref(names);
    return rc;
}

/* Adds the names of the key attributes of ks not yet in used. */
static void add_used(json_t *used, const json_t *ks)
{
    size_t i, j;
    const json_t *e, *u;
    json_array_foreach(ks, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "AttributeName"));
        bool seen = false;
        json_array_foreach(used, j, u)
        {
            seen = seen || strcmp(json_string_value(u), n) == 0;
        }
        if (!seen) {
            json_array_append_new(used, json_string(n));
        }
    }
}

static size_t nonkey_count(const json_t *list)
{
    size_t i, n = 0;
    const json_t *ix;
    json_array_foreach(list, i, ix)
    {
        n += json_array_size(json_object_get(json_object_get(ix, "Projection"),
                                             "NonKeyAttributes"));
    }
    return n;
}

int ddb__index_rules_or_reply(struct http_req *r, const json_t *in, const char *mode)
{
    const json_t *lsi = json_object_get(in, "LocalSecondaryIndexes");
    const json_t *gsi = json_object_get(in, "GlobalSecondaryIndexes");
    const json_t *ad = json_object_get(in, "AttributeDefinitions");
    json_t *names = json_array(), *used = json_array();
    size_t i;
    const json_t *ix, *e;
    int rc = 0;

    if (ddb__present(lsi)) {
        if (json_array_size(lsi) == 0) {
            rc = http_req_fail(r, AWSERR_VALIDATION, "%sList of LocalSecondaryIndexes is empty",
                               invalid);
            goto out;
        }
        if (json_array_size(json_object_get(in, "KeySchema")) != 2) {
            rc = http_req_fail(r, AWSERR_VALIDATION,
                               "%sTable KeySchema does not have a range key, which is required "
                               "when specifying a LocalSecondaryIndex",
                               invalid);
            goto out;
        }
        json_array_foreach(lsi, i, ix)
        {
            rc = index_rules_or_reply(r, in, ix, false, mode, names);
            if (rc < 0) {
                goto out;
            }
            json_array_append(names, json_object_get(ix, "IndexName"));
        }
        if (json_array_size(lsi) > DDB_MAX_LSI) {
            rc = http_req_fail(r, AWSERR_VALIDATION,
                               "%sLocalSecondaryIndex count exceeds the per-table limit of %d",
                               invalid, DDB_MAX_LSI);
            goto out;
        }
    }
    if (ddb__present(gsi)) {
        if (json_array_size(gsi) == 0) {
            rc = http_req_fail(r, AWSERR_VALIDATION, "%sList of GlobalSecondaryIndexes is empty",
                               invalid);
            goto out;
        }
        json_array_foreach(gsi, i, ix)
        {
            rc = index_rules_or_reply(r, in, ix, true, mode, names);
            if (rc < 0) {
                goto out;
            }
            json_array_append(names, json_object_get(ix, "IndexName"));
        }
        if (json_array_size(gsi) > DDB_MAX_GSI) {
            rc = http_req_fail(r, AWSERR_VALIDATION,
                               "%sGlobalSecondaryIndex count exceeds the per-table limit of %d",
                               invalid, DDB_MAX_GSI);
            goto out;
        }
    }
    if (nonkey_count(lsi) + nonkey_count(gsi) > DDB_MAX_NONKEY) {
        rc = http_req_fail(r, AWSERR_VALIDATION,
                           "%sNumber of projected attributes in all indexes exceeds limit of %d",
                           invalid, DDB_MAX_NONKEY);
        goto out;
    }
    /* Every definition must be a key of the table or of an index. */
    add_used(used, json_object_get(in, "KeySchema"));
    json_array_foreach(lsi, i, ix)
    {
        add_used(used, json_object_get(ix, "KeySchema"));
    }
    json_array_foreach(gsi, i, ix)
    {
        add_used(used, json_object_get(ix, "KeySchema"));
    }
    json_array_foreach(ad, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "AttributeName"));
        size_t j;
        const json_t *u;
        bool found = false;
        json_array_foreach(used, j, u)
        {
            found = found || strcmp(json_string_value(u), n) == 0;
        }
        if (!found) {
            char defs[600], keys[600];
            size_t o = 0;
            names_list(ad, defs, sizeof defs);
            keys[0] = '\0';
            json_array_foreach(used, j, u)
            {
                int k = snprintf(keys + o, sizeof keys - o, "%s%s", j ? ", " : "",
                                 json_string_value(u));
                o += (size_t)k < sizeof keys - o ? (size_t)k : sizeof keys - o - 1;
            }
            rc = http_req_fail(r, AWSERR_VALIDATION,
                               "%sSome AttributeDefinitions are not used. AttributeDefinitions: "
                               "[%s], keys used: [%s]",
                               invalid, defs, keys);
            goto out;
        }
    }
out:
    json_decref(names);
    json_decref(used);
    return rc;
}

/* ---- descriptions ---- */

json_t *ddb__index_describe(const json_t *ix, bool gsi, const char *table_arn,
                            const char *mode, const char *status)
{
    const json_t *proj = json_object_get(ix, "Projection");
    const json_t *pt = json_object_get(ix, "ProvisionedThroughput");
    const char *name = json_string_value(json_object_get(ix, "IndexName"));
    json_t *out = json_object(), *p = json_object();

    json_object_set_new(out, "IndexName", json_string(name));
    json_object_set(out, "KeySchema", json_object_get(ix, "KeySchema"));
    json_object_set(p, "ProjectionType", json_object_get(proj, "ProjectionType"));
    if (ddb__present(json_object_get(proj, "NonKeyAttributes"))) {
        json_object_set(p, "NonKeyAttributes", json_object_get(proj, "NonKeyAttributes"));
    }
    json_object_set_new(out, "Projection", p);
    if (gsi) {
        bool ppr = mode && strcmp(mode, "PAY_PER_REQUEST") == 0;
        json_object_set_new(out, "IndexStatus", json_string(status));
        if (strcmp(status, "CREATING") == 0) {
            json_object_set_new(out, "Backfilling", json_true());
        }
        json_object_set_new(
            out, "ProvisionedThroughput",
            json_pack("{s:i, s:I, s:I}", "NumberOfDecreasesToday", 0, "ReadCapacityUnits",
                      ppr ? (json_int_t)0
                          : json_integer_value(json_object_get(pt, "ReadCapacityUnits")),
                      "WriteCapacityUnits",
                      ppr ? (json_int_t)0
                          : json_integer_value(json_object_get(pt, "WriteCapacityUnits"))));
    }
    json_object_set_new(out, "IndexArn", json_sprintf("%s/index/%s", table_arn, name));
    return out;
}

int ddb__index_ids_assign(struct ddb *d, MDB_txn *txn, json_t *entry, bool all)
{
    static const char *const lists[] = { "GlobalSecondaryIndexes", "LocalSecondaryIndexes" };
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *ix;
        json_array_foreach(json_object_get(entry, lists[l]), i, ix)
        {
            uint32_t id;
            int rc;
            if (!all && json_object_get(ix, "SluiceIndexId")) {
                continue;
            }
            rc = ddb__table_id_new(d, txn, &id);
            if (rc) {
                return rc;
            }
            json_object_set_new(ix, "SluiceIndexId", json_integer(id));
        }
    }
    return 0;
}
