/*
 * table.c: the DynamoDB table catalog: CreateTable, DescribeTable, ListTables, DeleteTable.
 *
 * What it is: validation of the control-plane requests as DynamoDB validates them (the
 * "N validation error(s) detected: ..." messages come from the same constraint checks AWS's
 * front end runs), catalog entries written through the writer, and reads in read
 * transactions. A catalog entry is the TableDescription DynamoDB returns, kept as JSON text
 * (docs/formats.md, "DynamoDB catalog"): it is read rarely compared with items.
 *
 * What it is not: items (item.c, later), streams, indexes.
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

/* ---- validation, as DynamoDB words it ---- */

struct verr {
    int n;
    char msg[2048];
    size_t len;
};

static void verr_add(struct verr *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void verr_add(struct verr *v, const char *fmt, ...)
{
    va_list ap;
    int k;
    if (v->len >= sizeof v->msg - 1) {
        return;
    }
    if (v->n++ > 0) {
        k = snprintf(v->msg + v->len, sizeof v->msg - v->len, "; ");
        v->len += (size_t)k < sizeof v->msg - v->len ? (size_t)k : sizeof v->msg - v->len - 1;
    }
    va_start(ap, fmt);
    k = vsnprintf(v->msg + v->len, sizeof v->msg - v->len, fmt, ap);
    va_end(ap);
    if (k > 0) {
        v->len += (size_t)k < sizeof v->msg - v->len ? (size_t)k : sizeof v->msg - v->len - 1;
    }
}

static int verr_reply(struct http_req *r, struct verr *v)
{
    return http_req_fail(r, AWSERR_VALIDATION, "%d validation error%s detected: %s", v->n,
                         v->n == 1 ? "" : "s", v->msg);
}

static bool name_chars_ok(const char *s)
{
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* Checks a table name member; adds violations to v. */
static void check_table_name(struct verr *v, const json_t *val, const char *member)
{
    const char *s;
    size_t n;
    if (!val || json_is_null(val)) {
        verr_add(v, "Value null at '%s' failed to satisfy constraint: Member must not be null",
                 member);
        return;
    }
    s = json_string_value(val);
    n = strlen(s);
    if (n < DDB_TABLE_NAME_MIN) {
        verr_add(v,
                 "Value '%s' at '%s' failed to satisfy constraint: Member must have length "
                 "greater than or equal to %d",
                 s, member, DDB_TABLE_NAME_MIN);
    }
    if (n > DDB_TABLE_NAME_MAX) {
        verr_add(v,
                 "Value '%.64s...' at '%s' failed to satisfy constraint: Member must have "
                 "length less than or equal to %d",
                 s, member, DDB_TABLE_NAME_MAX);
    }
    if (!name_chars_ok(s)) {
        verr_add(v,
                 "Value '%.300s' at '%s' failed to satisfy constraint: Member must satisfy "
                 "regular expression pattern: [a-zA-Z0-9_.-]+",
                 s, member);
    }
}

/* Members must have the JSON type the API declares; DynamoDB's deserializer answers a wrong
 * type with SerializationException before any validation. */
static int expect_type_or_reply(struct http_req *r, const json_t *v, json_type t)
{
    static const char *const names[] = { "START_OBJECT", "START_ARRAY", "VALUE_STRING",
                                         "VALUE_NUMBER_INT", "VALUE_NUMBER_FLOAT", "VALUE_TRUE",
                                         "VALUE_FALSE", "VALUE_NULL" };
    if (!v || json_is_null(v) || json_typeof(v) == t) {
        return 0;
    }
    if (t == JSON_TRUE && json_is_boolean(v)) {
        return 0;
    }
    if (t == JSON_INTEGER && json_is_real(v)) {
        return 0;
    }
    return http_req_fail(r, AWSERR_SERIALIZATION, "Unexpected token received from parser: %s",
                         names[json_typeof(v)]);
}

int ddb__table_name_or_reply(struct http_req *r, const json_t *v, const char *member,
                             const char **out)
{
    struct verr ve = { 0 };
    if (expect_type_or_reply(r, v, JSON_STRING) < 0) {
        return -1;
    }
    check_table_name(&ve, v, member);
    if (ve.n) {
        return verr_reply(r, &ve);
    }
    *out = json_string_value(v);
    return 0;
}

/* ---- catalog access ---- */

/* Reads the catalog entry of name into a new JSON object (caller decref), or NULL. */
static json_t *catalog_get(struct ddb *d, MDB_txn *txn, const char *name)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    json_error_t jerr;
    if (mdb_get(txn, d->tables, &k, &v) != 0) {
        return NULL;
    }
    return json_loadb(v.mv_data, v.mv_size, 0, &jerr);
}

static json_t *describe(struct ddb *d, json_t *entry)
{
    json_t *out = json_deep_copy(entry);
    json_object_set_new(out, "ItemCount", json_integer(0));
    json_object_set_new(out, "TableSizeBytes", json_integer(0));
    (void)d;
    return out;
}

/* ---- ListTables ---- */

int ddb_list_tables(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    const json_t *start = json_object_get(r->json, "ExclusiveStartTableName");
    const json_t *jlimit = json_object_get(r->json, "Limit");
    json_int_t limit = DDB_LIST_TABLES_MAX;
    struct verr ve = { 0 };
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    json_t *names, *out;
    int rc, n = 0;

    if (expect_type_or_reply(r, start, JSON_STRING) < 0 ||
        expect_type_or_reply(r, jlimit, JSON_INTEGER) < 0) {
        return -1;
    }
    if (start && !json_is_null(start)) {
        check_table_name(&ve, start, "exclusiveStartTableName");
    }
    if (jlimit && !json_is_null(jlimit)) {
        limit = json_is_integer(jlimit) ? json_integer_value(jlimit)
                                        : (json_int_t)json_real_value(jlimit);
        if (limit < 1) {
            verr_add(&ve,
                     "Value '%lld' at 'limit' failed to satisfy constraint: Member must have "
                     "value greater than or equal to 1",
                     (long long)limit);
        }
        else if (limit > DDB_LIST_TABLES_MAX) {
            verr_add(&ve,
                     "Value '%lld' at 'limit' failed to satisfy constraint: Member must have "
                     "value less than or equal to %d",
                     (long long)limit, DDB_LIST_TABLES_MAX);
        }
    }
    if (ve.n) {
        return verr_reply(r, &ve);
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
    char *entry;      /* catalog JSON text (malloc, freed with the request) */
    size_t entry_len;
    const char *table_arn;
    const char *stream_label;   /* NULL: no stream */
    const char *stream_view;
    const json_t *key_schema;   /* borrowed from the request body */
};

static int create_apply(struct store_op *op, MDB_txn *txn)
{
    struct create_op *c = (struct create_op *)op;
    MDB_val k = { strlen(c->name), (void *)c->name };
    MDB_val v = { c->entry_len, c->entry };
    MDB_stat ms;
    int rc;

    rc = mdb_stat(txn, c->d->tables, &ms);
    if (rc != 0) {
        return rc;
    }
    if (ms.ms_entries >= DDB_MAX_TABLES) {
        return -EDQUOT;
    }
    rc = mdb_put(txn, c->d->tables, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        return -EEXIST;
    }
    if (rc == 0 && c->stream_label) {
        /* The stream is born in the same transaction as its table. */
        rc = strm_create(c->d->streams, txn, c->name, c->table_arn, c->stream_label,
                         c->stream_view, c->key_schema);
    }
    return rc;
}

static void op_done_resume(struct store_op *op, int rc)
{
    struct create_op *c = (struct create_op *)op;
    (void)rc;
    http_req_resume(c->r);
}

static void free_cb(void *p)
{
    free(p);
}

static int create_cont(struct http_req *r)
{
    struct create_op *c = r->op_ctx;
    json_t *entry, *desc, *out;
    json_error_t jerr;

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
    entry = json_loadb(c->entry, c->entry_len, 0, &jerr);
    if (!entry) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    desc = describe(c->d, entry);
    json_decref(entry);
    /* DynamoDB answers CreateTable while the table is CREATING; sluice's tables are ready at
     * once, so DescribeTable reports ACTIVE from the next call on. */
    json_object_set_new(desc, "TableStatus", json_string("CREATING"));
    out = json_pack("{s:o}", "TableDescription", desc);
    return http_reply_json(r, out);
}

static bool valid_key_type(const char *t)
{
    return t && (strcmp(t, "S") == 0 || strcmp(t, "N") == 0 || strcmp(t, "B") == 0);
}

/* Validates KeySchema and AttributeDefinitions as DynamoDB does; adds to ve or fails r with a
 * semantic ValidationException. Returns 0 or -1 (r's error set). */
static int check_keys(struct http_req *r, struct verr *ve, const json_t *ks, const json_t *ad)
{
    size_t i;
    const json_t *e;
    char keys[600] = "", defs[600] = "";
    size_t kl = 0, dl = 0;

    if (!ks || json_is_null(ks)) {
        verr_add(ve, "Value null at 'keySchema' failed to satisfy constraint: Member must not "
                     "be null");
    }
    else if (json_array_size(ks) < 1 || json_array_size(ks) > 2) {
        verr_add(ve,
                 "Value '%s' at 'keySchema' failed to satisfy constraint: Member must have "
                 "length %s",
                 "[...]", json_array_size(ks) < 1 ? "greater than or equal to 1"
                                                 : "less than or equal to 2");
    }
    if (!ad || json_is_null(ad)) {
        verr_add(ve, "Value null at 'attributeDefinitions' failed to satisfy constraint: "
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
                verr_add(ve,
                         "Value null at 'attributeDefinitions.%zu.member.attributeName' failed "
                         "to satisfy constraint: Member must not be null",
                         i + 1);
            }
            if (!valid_key_type(t)) {
                if (t) {
                    verr_add(ve,
                             "Value '%s' at 'attributeDefinitions.%zu.member.attributeType' "
                             "failed to satisfy constraint: Member must satisfy enum value "
                             "set: [B, N, S]",
                             t, i + 1);
                }
                else {
                    verr_add(ve,
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
                verr_add(ve,
                         "Value null at 'keySchema.%zu.member.attributeName' failed to satisfy "
                         "constraint: Member must not be null",
                         i + 1);
            }
            else if (strlen(n) < 1 || strlen(n) > 255) {
                verr_add(ve,
                         "Value '%.255s' at 'keySchema.%zu.member.attributeName' failed to "
                         "satisfy constraint: Member must have length less than or equal to "
                         "255",
                         n, i + 1);
            }
            if (!t || (strcmp(t, "HASH") != 0 && strcmp(t, "RANGE") != 0)) {
                if (t) {
                    verr_add(ve,
                             "Value '%s' at 'keySchema.%zu.member.keyType' failed to satisfy "
                             "constraint: Member must satisfy enum value set: [HASH, RANGE]",
                             t, i + 1);
                }
                else {
                    verr_add(ve,
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
    if (json_array_size(ad) != json_array_size(ks)) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "One or more parameter values were invalid: Number of attributes "
                             "in KeySchema does not exactly match number of attributes defined "
                             "in AttributeDefinitions");
    }
    return 0;
}

static int check_billing(struct http_req *r, struct verr *ve, const json_t *bm, const json_t *pt,
                         const char **mode)
{
    const char *m = json_string_value(bm);
    if (m && strcmp(m, "PROVISIONED") != 0 && strcmp(m, "PAY_PER_REQUEST") != 0) {
        verr_add(ve,
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
            verr_add(ve, "Value null at 'provisionedThroughput.readCapacityUnits' failed to "
                         "satisfy constraint: Member must not be null");
        }
        else if (json_integer_value(rcu) < 1) {
            verr_add(ve,
                     "Value '%lld' at 'provisionedThroughput.readCapacityUnits' failed to "
                     "satisfy constraint: Member must have value greater than or equal to 1",
                     (long long)json_integer_value(rcu));
        }
        if (!wcu || json_is_null(wcu)) {
            verr_add(ve, "Value null at 'provisionedThroughput.writeCapacityUnits' failed to "
                         "satisfy constraint: Member must not be null");
        }
        else if (json_integer_value(wcu) < 1) {
            verr_add(ve,
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

static int check_stream(struct http_req *r, struct verr *ve, const json_t *ss)
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
        verr_add(ve, "Value null at 'streamSpecification.streamEnabled' failed to satisfy "
                     "constraint: Member must not be null");
        return 0;
    }
    if (vt && strcmp(vt, "NEW_IMAGE") != 0 && strcmp(vt, "OLD_IMAGE") != 0 &&
        strcmp(vt, "NEW_AND_OLD_IMAGES") != 0 && strcmp(vt, "KEYS_ONLY") != 0) {
        verr_add(ve,
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

static void iso_label(char *out, size_t n, const struct timespec *ts)
{
    struct tm tm;
    char base[32];
    gmtime_r(&ts->tv_sec, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03d", base, (int)(ts->tv_nsec / 1000000L) % 1000);
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
    struct verr ve = { 0 };
    const char *mode = "PROVISIONED";
    struct create_op *c;
    json_t *entry;
    struct timespec now;
    char uuid[37];
    char *arn;

    if (expect_type_or_reply(r, jname, JSON_STRING) < 0 ||
        expect_type_or_reply(r, ks, JSON_ARRAY) < 0 ||
        expect_type_or_reply(r, ad, JSON_ARRAY) < 0 ||
        expect_type_or_reply(r, bm, JSON_STRING) < 0 ||
        expect_type_or_reply(r, pt, JSON_OBJECT) < 0 ||
        expect_type_or_reply(r, ss, JSON_OBJECT) < 0) {
        return -1;
    }
    check_table_name(&ve, jname, "tableName");
    if (check_keys(r, &ve, ks, ad) < 0 || check_billing(r, &ve, bm, pt, &mode) < 0 ||
        check_stream(r, &ve, ss) < 0) {
        return -1;
    }
    if (ve.n) {
        return verr_reply(r, &ve);
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
    c = arena_new(&r->arena, struct create_op);
    if (ss && json_is_true(json_object_get(ss, "StreamEnabled"))) {
        char label[64];
        iso_label(label, sizeof label, &now);
        json_object_set(entry, "StreamSpecification", (json_t *)ss);
        json_object_set_new(entry, "LatestStreamLabel", json_string(label));
        json_object_set_new(entry, "LatestStreamArn",
                            json_string(arena_printf(&r->arena, "%s/stream/%s", arn, label)));
        c->stream_label = arena_strdup(&r->arena, label);
        c->stream_view = json_string_value(json_object_get(ss, "StreamViewType"));
    }
    c->table_arn = arn;
    c->key_schema = ks;

    c->base.apply = create_apply;
    c->base.done = op_done_resume;
    c->d = d;
    c->r = r;
    c->name = json_string_value(jname);
    c->entry = json_dumps(entry, JSON_COMPACT);
    c->entry_len = strlen(c->entry);
    json_decref(entry);
    arena_on_clear(&r->arena, free_cb, c->entry);
    r->op_ctx = c;
    http_req_pending(r, create_cont);
    if (store_submit(d->st, &c->base) < 0) {
        /* Shutting down: nothing was queued, so nothing will resume us. */
        r->state = HTTP_REQ_READY;
        return http_req_fail(r, AWSERR_SERVICE_UNAVAILABLE, NULL);
    }
    return 0;
}

/* ---- DescribeTable ---- */

int ddb_describe_table(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    const char *name;
    MDB_txn *txn = NULL;
    json_t *entry;
    int rc;

    if (ddb__table_name_or_reply(r, json_object_get(r->json, "TableName"), "tableName", &name) <
        0) {
        return -1;
    }
    rc = store_read_begin(d->st, &txn);
    if (rc != 0) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    entry = catalog_get(d, txn, name);
    store_read_end(d->st, txn);
    if (!entry) {
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                             "Requested resource not found: Table: %s not found", name);
    }
    {
        json_t *desc = describe(d, entry);
        json_decref(entry);
        return http_reply_json(r, json_pack("{s:o}", "Table", desc));
    }
}

/* ---- DeleteTable ---- */

struct delete_op {
    struct store_op base;
    struct ddb *d;
    struct http_req *r;
    const char *name;
    json_t *entry;    /* the deleted entry, read inside the op (owned, decref by cont) */
};

static int delete_apply(struct store_op *op, MDB_txn *txn)
{
    struct delete_op *c = (struct delete_op *)op;
    MDB_val k = { strlen(c->name), (void *)c->name };
    int rc;

    c->entry = catalog_get(c->d, txn, c->name);
    if (!c->entry) {
        return -ENOENT;
    }
    if (json_is_true(json_object_get(c->entry, "DeletionProtectionEnabled"))) {
        return -EPERM;
    }
    rc = mdb_del(txn, c->d->tables, &k, NULL);
    if (rc == 0 && json_is_string(json_object_get(c->entry, "LatestStreamArn"))) {
        /* The stream outlives its table for the retention period, as on DynamoDB. */
        int src = strm_disable(c->d->streams, txn,
                               json_string_value(json_object_get(c->entry, "LatestStreamArn")));
        if (src != 0 && src != -ENOENT) {
            rc = src;
        }
    }
    return rc;
}

static void delete_done(struct store_op *op, int rc)
{
    struct delete_op *c = (struct delete_op *)op;
    (void)rc;
    http_req_resume(c->r);
}

static void decref_cb(void *p)
{
    json_decref(p);
}

static int delete_cont(struct http_req *r)
{
    struct delete_op *c = r->op_ctx;
    json_t *desc;

    if (c->entry) {
        arena_on_clear(&r->arena, decref_cb, c->entry);
    }
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
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    desc = describe(c->d, c->entry);
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
    r->op_ctx = c;
    http_req_pending(r, delete_cont);
    if (store_submit(d->st, &c->base) < 0) {
        r->state = HTTP_REQ_READY;
        return http_req_fail(r, AWSERR_SERVICE_UNAVAILABLE, NULL);
    }
    return 0;
}
