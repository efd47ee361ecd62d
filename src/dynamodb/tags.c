/*
 * tags.c: the tags of DynamoDB tables: TagResource, UntagResource, ListTagsOfResource, and
 * the Tags member of CreateTable.
 *
 * What it is: a table's tags live in its catalog entry ("SluiceTags": [{"Key", "Value"}], in
 * the order they were first set; never shown by DescribeTable), changed by writer ops.
 * Resources are named by table ARN (arn:aws:dynamodb:<region>:<account>:table/<name>), as
 * DynamoDB names them; the limits are DynamoDB's ("Tagging resources in DynamoDB"): 50 tags
 * a resource, keys of 1 to 128 characters and values of up to 256 of letters, digits, spaces
 * and + - = . _ : / @, no key starting with "aws:". The errors are DynamoDB's, in its words
 * (its "Atleast" included).
 *
 * What it is not: tags of streams, indexes or backups; cost allocation. ListTagsOfResource
 * answers every tag in one page (50 at most, as DynamoDB does), so it never sends NextToken
 * and a NextToken given (a String of no constraint in the API; another JSON type is refused)
 * is ignored: DynamoDB's service team says the operation does not paginate, tags being
 * limited to 50.
 *
 * Invariants: a key appears once in a table's tags; tagging a key again replaces its value;
 * the count never passes DDB_MAX_TAGS (checked inside the writer op, against the tags the
 * table has at that moment).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "dynamodb/ddb_int.h"

#define DDB_MAX_TAGS 50
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256

static bool present(const json_t *v)
{
    return v && !json_is_null(v);
}

/* The characters of the tag pattern: letters, digits and spaces (ASCII or not: bytes of
 * UTF-8 sequences pass), and + - = . _ : / @. */
static bool tag_chars_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (!(*p >= 0x80 || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || strchr(" +-=._:/@", *p))) {
            return false;
        }
    }
    return true;
}

/* Characters, not bytes: DynamoDB's lengths count Unicode code points. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        n += (*p & 0xC0) != 0x80;
    }
    return n;
}

/* ---- resources ---- */

/*
 * Reads a ResourceArn member: a table ARN of this region and account. Returns 0 with the
 * table's name in name (NUL-terminated), or -1 with the error set.
 */
static int table_of_arn_or_reply(struct http_req *r, const json_t *v, char *name, size_t n)
{
    struct ddb *d = ddb__of(r);
    struct ddb_verr ve = { 0 };
    const char *arn, *rest;
    char prefix[128];
    size_t pl;

    if (!present(v)) {
        ddb__verr_add(&ve, "Value null at 'resourceArn' failed to satisfy constraint: Member "
                           "must not be null");
        return ddb__verr_reply(r, &ve);
    }
    arn = json_string_value(v);
    if (json_string_length(v) < 1 || json_string_length(v) > 1283) {
        ddb__verr_add(&ve,
                      "Value '%.1283s' at 'resourceArn' failed to satisfy constraint: Member "
                      "must have length %s",
                      arn, json_string_length(v) < 1 ? "greater than or equal to 1"
                                                     : "less than or equal to 1283");
        return ddb__verr_reply(r, &ve);
    }
    if (strncmp(arn, "arn:", 4) != 0) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "One or more parameter values were invalid: ARNs must start with "
                             "'arn:': %s",
                             arn);
    }
    if (strncmp(arn, "arn:aws:dynamodb:", 17) != 0) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "One or more parameter values were invalid: Provided Arn is not a "
                             "DynamoDB resource arn: %s",
                             arn);
    }
    pl = (size_t)snprintf(prefix, sizeof prefix, "arn:aws:dynamodb:%s:%s:", d->region,
                          d->account);
    if (strncmp(arn, prefix, pl) != 0) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Invalid TableArn: Invalid ResourceArn provided as input %s", arn);
    }
    rest = arn + pl;
    if (strncmp(rest, "table/", 6) != 0 || strchr(rest + 6, '/') || !rest[6] ||
        strlen(rest + 6) >= n) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "One or more parameter values were invalid: Invalid resource arn "
                             "provided, only table or stream is accepted. Provided resource "
                             "arn: %s",
                             arn);
    }
    snprintf(name, n, "%s", rest + 6);
    return 0;
}

static int not_found_or_reply(struct http_req *r, const char *arn)
{
    /* DynamoDB's words, its spelling included. */
    return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                         "Requested resource not found: ResourcArn: %s not found", arn);
}

/* ---- checks ---- */

/* The constraints and rules of a Tags list (member: "tags"), for TagResource and
 * CreateTable. Returns 0 or -1 with the error set. */
int ddb__tags_check_or_reply(struct http_req *r, const json_t *tags)
{
    struct ddb_verr ve = { 0 };
    json_t *seen;
    size_t i;
    const json_t *t;
    int rc = 0;

    if (ddb__type_or_reply(r, tags, DDB_J_LIST) < 0) {
        return -1;
    }
    json_array_foreach(tags, i, t)
    {
        if (ddb__type_or_reply(r, t, DDB_J_STRUCT) < 0 ||
            ddb__type_or_reply(r, json_object_get(t, "Key"), DDB_J_STRING) < 0 ||
            ddb__type_or_reply(r, json_object_get(t, "Value"), DDB_J_STRING) < 0) {
            return -1;
        }
    }
    json_array_foreach(tags, i, t)
    {
        const json_t *k = json_object_get(t, "Key"), *v = json_object_get(t, "Value");
        if (!present(k)) {
            ddb__verr_add(&ve, "Value null at 'tags.%zu.member.key' failed to satisfy "
                               "constraint: Member must not be null",
                          i + 1);
        }
        else if (utf8_len(json_string_value(k)) < 1 ||
                 utf8_len(json_string_value(k)) > TAG_KEY_MAX) {
            ddb__verr_add(&ve,
                          "Value '%.300s' at 'tags.%zu.member.key' failed to satisfy "
                          "constraint: Member must have length %s",
                          json_string_value(k), i + 1,
                          utf8_len(json_string_value(k)) < 1 ? "greater than or equal to 1"
                                                             : "less than or equal to 128");
        }
        if (!present(v)) {
            ddb__verr_add(&ve, "Value null at 'tags.%zu.member.value' failed to satisfy "
                               "constraint: Member must not be null",
                          i + 1);
        }
        else if (utf8_len(json_string_value(v)) > TAG_VALUE_MAX) {
            ddb__verr_add(&ve,
                          "Value '%.300s' at 'tags.%zu.member.value' failed to satisfy "
                          "constraint: Member must have length less than or equal to 256",
                          json_string_value(v), i + 1);
        }
    }
    if (ve.n) {
        return ddb__verr_reply(r, &ve);
    }
    seen = json_object();
    json_array_foreach(tags, i, t)
    {
        const char *k = json_string_value(json_object_get(t, "Key"));
        const char *v = json_string_value(json_object_get(t, "Value"));
        if (!tag_chars_ok(k)) {
            rc = http_req_fail(r, AWSERR_VALIDATION, "The Tag Key provided is invalid, Key: %s",
                               k);
        }
        else if (!tag_chars_ok(v)) {
            rc = http_req_fail(r, AWSERR_VALIDATION,
                               "The Tag Value provided is invalid, Value: %s", v);
        }
        else if (strncmp(k, "aws:", 4) == 0) {
            rc = http_req_fail(r, AWSERR_VALIDATION,
                               "Tag Key cannot be prefixed with aws:, Key: %s", k);
        }
        else if (json_object_get(seen, k)) {
            /* A set of the keys so far: a long list costs one pass, not one per pair. */
            rc = http_req_fail(r, AWSERR_VALIDATION,
                               "Duplicate Tag Keys provided as input: Duplicate Tag Key found %s",
                               k);
        }
        if (rc < 0) {
            json_decref(seen);
            return rc;
        }
        json_object_set_new(seen, k, json_true());
    }
    json_decref(seen);
    if (json_array_size(tags) > DDB_MAX_TAGS) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Number of Tags exceed the current limit for the provided "
                             "ResourceArn");
    }
    return 0;
}

json_t *ddb__tags_new(const json_t *tags)
{
    json_t *out = json_array();
    size_t i;
    const json_t *t;
    json_array_foreach(tags, i, t)
    {
        json_array_append_new(out, json_pack("{s:O, s:O}", "Key", json_object_get(t, "Key"),
                                             "Value", json_object_get(t, "Value")));
    }
    return out;
}

/* ---- TagResource and UntagResource ---- */

struct tag_op {
    struct store_op base;
    struct ddb *d;
    struct http_req *r;
    char table[256];
    const json_t *tags;         /* TagResource: the tags to set (borrowed from r) */
    const json_t *keys;         /* UntagResource: the keys to remove */
    bool too_many;              /* set by apply */
};

static json_t *tag_find(json_t *list, const char *key, size_t *at)
{
    size_t i;
    json_t *t;
    json_array_foreach(list, i, t)
    {
        if (strcmp(json_string_value(json_object_get(t, "Key")), key) == 0) {
            *at = i;
            return t;
        }
    }
    return NULL;
}

static int tag_apply(struct store_op *op, MDB_txn *txn)
{
    struct tag_op *t = (struct tag_op *)op;
    struct ddb_schema s;
    json_t *entry = ddb__catalog_get(t->d, txn, t->table), *list;
    size_t i, at;
    const json_t *e;
    int rc;

    t->too_many = false;
    if (!entry) {
        return -ENOENT;
    }
    rc = ddb__schema_get(t->d, txn, t->table, &s);
    list = json_object_get(entry, "SluiceTags");
    if (!list) {
        list = json_array();
        json_object_set_new(entry, "SluiceTags", list);
    }
    json_array_foreach(t->tags, i, e)
    {
        const char *k = json_string_value(json_object_get(e, "Key"));
        json_t *have = tag_find(list, k, &at);
        if (have) {
            json_object_set(have, "Value", json_object_get(e, "Value"));
        }
        else {
            json_array_append_new(list, json_pack("{s:O, s:O}", "Key", json_object_get(e, "Key"),
                                                  "Value", json_object_get(e, "Value")));
        }
    }
    json_array_foreach(t->keys, i, e)
    {
        if (tag_find(list, json_string_value(e), &at)) {
            json_array_remove(list, at);
        }
    }
    if (json_array_size(list) > DDB_MAX_TAGS) {
        t->too_many = true;
        rc = -EINVAL;
    }
    if (json_array_size(list) == 0) {
        json_object_del(entry, "SluiceTags");
    }
    if (rc == 0) {
        rc = ddb__catalog_put(t->d, txn, t->table, entry, s.id);
    }
    json_decref(entry);
    return rc;
}

static void tag_done(struct store_op *op, int rc)
{
    struct tag_op *t = (struct tag_op *)op;
    (void)rc;
    http_req_resume(t->r);
}

static int tag_cont(struct http_req *r)
{
    struct tag_op *t = r->op_ctx;

    if (t->too_many) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Number of Tags exceed the current limit for the provided "
                             "ResourceArn");
    }
    switch (t->base.rc) {
    case 0:
        return http_reply_json(r, json_object());
    case -ENOENT:
        return not_found_or_reply(r, json_string_value(json_object_get(r->json, "ResourceArn")));
    default:
        log_error("dynamodb", "tags of %s: %s", t->table, store_strerror(t->base.rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
}

static struct tag_op *tag_op_new(struct http_req *r)
{
    struct tag_op *t = arena_new(&r->arena, struct tag_op);
    t->base.apply = tag_apply;
    t->base.done = tag_done;
    t->d = ddb__of(r);
    t->r = r;
    return t;
}

int ddb_tag_resource(struct http_req *r)
{
    const json_t *arn = json_object_get(r->json, "ResourceArn");
    const json_t *tags = json_object_get(r->json, "Tags");
    struct ddb_verr ve = { 0 };
    struct tag_op *t;

    if (ddb__type_or_reply(r, arn, DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, tags, DDB_J_LIST) < 0) {
        return -1;
    }
    if (!present(tags)) {
        if (!present(arn)) {
            ddb__verr_add(&ve, "Value null at 'resourceArn' failed to satisfy constraint: "
                               "Member must not be null");
        }
        ddb__verr_add(&ve, "Value null at 'tags' failed to satisfy constraint: Member must not "
                           "be null");
        return ddb__verr_reply(r, &ve);
    }
    t = tag_op_new(r);
    if (table_of_arn_or_reply(r, arn, t->table, sizeof t->table) < 0) {
        return -1;
    }
    if (json_array_size(tags) == 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "Atleast one Tag needs to be provided as "
                                                   "Input.");
    }
    if (ddb__tags_check_or_reply(r, tags) < 0) {
        return -1;
    }
    t->tags = tags;
    return ddb__submit_or_reply(r, &t->base, tag_cont);
}

int ddb_untag_resource(struct http_req *r)
{
    const json_t *arn = json_object_get(r->json, "ResourceArn");
    const json_t *keys = json_object_get(r->json, "TagKeys");
    struct ddb_verr ve = { 0 };
    struct tag_op *t;
    size_t i;
    const json_t *k;

    if (ddb__type_or_reply(r, arn, DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, keys, DDB_J_LIST) < 0) {
        return -1;
    }
    json_array_foreach(keys, i, k)
    {
        if (ddb__type_or_reply(r, k, DDB_J_STRING) < 0) {
            return -1;
        }
    }
    if (!present(keys)) {
        if (!present(arn)) {
            ddb__verr_add(&ve, "Value null at 'resourceArn' failed to satisfy constraint: "
                               "Member must not be null");
        }
        ddb__verr_add(&ve, "Value null at 'tagKeys' failed to satisfy constraint: Member must "
                           "not be null");
        return ddb__verr_reply(r, &ve);
    }
    t = tag_op_new(r);
    if (table_of_arn_or_reply(r, arn, t->table, sizeof t->table) < 0) {
        return -1;
    }
    if (json_array_size(keys) == 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "Atleast one Tag Key needs to be provided as "
                                                   "Input.");
    }
    json_array_foreach(keys, i, k)
    {
        const char *s = json_string_value(k);
        if (!s || utf8_len(s) < 1 || utf8_len(s) > TAG_KEY_MAX || !tag_chars_ok(s)) {
            return http_req_fail(r, AWSERR_VALIDATION, "The Tag Key provided is invalid, Key: %s",
                                 s ? s : "null");
        }
    }
    t->keys = keys;
    return ddb__submit_or_reply(r, &t->base, tag_cont);
}

/* ---- ListTagsOfResource ---- */

int ddb_list_tags_of_resource(struct http_req *r)
{
    struct ddb *d = ddb__of(r);
    const json_t *arn = json_object_get(r->json, "ResourceArn");
    char table[256];
    MDB_txn *txn = NULL;
    json_t *entry, *tags;

    if (ddb__type_or_reply(r, arn, DDB_J_STRING) < 0 ||
        ddb__type_or_reply(r, json_object_get(r->json, "NextToken"), DDB_J_STRING) < 0 ||
        table_of_arn_or_reply(r, arn, table, sizeof table) < 0) {
        return -1;
    }
    if (store_read_begin(d->st, &txn) != 0) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    entry = ddb__catalog_get(d, txn, table);
    store_read_end(d->st, txn);
    if (!entry) {
        return not_found_or_reply(r, json_string_value(arn));
    }
    tags = json_object_get(entry, "SluiceTags");
    tags = tags ? json_incref(tags) : json_array();
    json_decref(entry);
    return http_reply_json(r, json_pack("{s:o}", "Tags", tags));
}
