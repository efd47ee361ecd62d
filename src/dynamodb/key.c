/*
 * key.c: the keys of DynamoDB items: which attributes of an item (or of a Key map) form the
 * table's primary key, the errors DynamoDB answers when they do not, and the LMDB key of an
 * item in ddb.items (docs/formats.md, "DynamoDB item keys").
 *
 * The same layout serves secondary indexes: an index entry's key is the index id, the index's
 * hash and range key values, then the table's key values not already among them
 * (ddb__keyspace_of()), so one range-scan engine (query.c) reads tables and indexes alike.
 *
 * What it is not: the value encodings themselves (attr.c).
 *
 * Invariants: an item's LMDB key starts with its table id, then the hash key value's
 * encoding, then the range key value's, so a table's items are one contiguous range and the
 * items of one hash key are a contiguous, range-ordered sub-range (what Query scans). A key
 * longer than DDB_KEY_SHORT_MAX is shortened to that prefix plus its SHA-256: order is then
 * kept except among long keys sharing the prefix, which a range scan sorts by their full key
 * (every item holds its key attributes, so the full key is always at hand).
 */
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "dynamodb/ddb_int.h"

void ddb__key_prefix(uint32_t id, unsigned char out[4])
{
    out[0] = (unsigned char)(id >> 24);
    out[1] = (unsigned char)(id >> 16);
    out[2] = (unsigned char)(id >> 8);
    out[3] = (unsigned char)id;
}

static int key_fail(struct ddb_key_err *err, enum ddb_key_fail why, struct sl_str attr)
{
    size_t n = attr.len < sizeof err->attr - 1 ? attr.len : sizeof err->attr - 1;
    err->why = why;
    memcpy(err->attr, attr.p, n);
    err->attr[n] = '\0';
    return -1;
}

/* Appends one key attribute's encoding (at enc + *o). checked: the value's size limit
 * applies (hash: DDB_PK_MAX, otherwise DDB_SK_MAX). */
static int key_part(const void *item, size_t n, struct sl_str name, int type, bool hash,
                    bool checked, bool key_map, unsigned char *enc, size_t cap, size_t *o,
                    struct ddb_key_err *err)
{
    struct ddb_attr a;
    struct ddb_num num;
    int rc = ddb_item_find(item, n, name.p, name.len, &a);

    if (rc < 0) {
        return key_fail(err, DDB_KEY_DAMAGED, name);
    }
    if (rc == 0) {
        return key_fail(err, key_map ? DDB_KEY_SCHEMA : DDB_KEY_MISSING, name);
    }
    if (a.type != type) {
        err->expected = type;
        err->actual = a.type;
        return key_fail(err, key_map ? DDB_KEY_SCHEMA : DDB_KEY_TYPE, name);
    }
    if (type == DDB_N) {
        if (ddb_num_parse((const char *)a.val, a.val_len, &num) != 0 ||
            *o + DDB_NUM_KEY_MAX > cap) {
            return key_fail(err, DDB_KEY_DAMAGED, name);
        }
        *o += ddb_num_key(&num, enc + *o);
        return 0;
    }
    if (a.val_len == 0) {
        return key_fail(err, type == DDB_S ? DDB_KEY_EMPTY_S : DDB_KEY_EMPTY_B, name);
    }
    if (checked && a.val_len > (hash ? DDB_PK_MAX : DDB_SK_MAX)) {
        return key_fail(err, hash ? DDB_KEY_HASH_SIZE : DDB_KEY_RANGE_SIZE, name);
    }
    if (*o + 2 * a.val_len + 2 > cap) {
        /* Only a damaged stored item has longer key values: the buffers are sized for the
         * limits. */
        return key_fail(err, DDB_KEY_DAMAGED, name);
    }
    *o += ddb_key_bytes(a.val, a.val_len, enc + *o);
    return 0;
}

void ddb__key_store(const unsigned char *full, size_t len, struct ddb_key *out)
{
    if (len <= DDB_KEY_SHORT_MAX) {
        memcpy(out->b, full, len);
        out->len = len;
        return;
    }
    memcpy(out->b, full, DDB_KEY_SHORT_MAX);
    SHA256(full, len, out->b + DDB_KEY_SHORT_MAX);
    out->len = DDB_KEY_LMDB_MAX;
}

int ddb__key_of(const struct ddb_schema *s, const void *item, size_t n, bool key_map,
                struct ddb_key *out, struct ddb_key_err *err)
{
    unsigned char enc[DDB_KEY_ENC_MAX];
    size_t o = 4;

    memset(err, 0, sizeof *err);
    if (key_map) {
        struct ddb_item_view v;
        if (ddb_item_open(item, n, &v) < 0) {
            return key_fail(err, DDB_KEY_DAMAGED, s->hash);
        }
        if (v.count != (s->range.len ? 2u : 1u)) {
            return key_fail(err, DDB_KEY_SCHEMA, s->hash);
        }
    }
    ddb__key_prefix(s->id, enc);
    if (key_part(item, n, s->hash, s->hash_type, true, true, key_map, enc, sizeof enc, &o,
                 err) < 0) {
        return -1;
    }
    if (s->range.len && key_part(item, n, s->range, s->range_type, false, true, key_map, enc,
                                 sizeof enc, &o, err) < 0) {
        return -1;
    }
    ddb__key_store(enc, o, out);
    return 0;
}

void ddb__keyspace_of(const struct ddb_schema *s, const struct ddb_index *ix,
                      struct ddb_keyspace *out)
{
    const struct ddb_keypart table[2] = { { s->hash, s->hash_type }, { s->range, s->range_type } };
    size_t nt = s->range.len ? 2 : 1;

    out->index = ix;
    out->n = 0;
    if (!ix) {
        out->id = s->id;
        memcpy(out->part, table, sizeof table);
        out->n = out->own = nt;
        return;
    }
    out->id = ix->id;
    out->part[out->n++] = (struct ddb_keypart){ ix->hash, ix->hash_type };
    if (ix->range.len) {
        out->part[out->n++] = (struct ddb_keypart){ ix->range, ix->range_type };
    }
    out->own = out->n;
    for (size_t i = 0; i < nt; i++) {
        bool dup = false;
        for (size_t j = 0; j < out->own; j++) {
            dup = dup || sl_str_eq(out->part[j].name, table[i].name);
        }
        if (!dup) {
            out->part[out->n++] = table[i];
        }
    }
}

int ddb__keyspace_key(const struct ddb_keyspace *ks, const void *item, size_t n,
                      unsigned char *full, size_t *len, struct ddb_key_err *err)
{
    size_t o = 4;

    memset(err, 0, sizeof *err);
    ddb__key_prefix(ks->id, full);
    for (size_t i = 0; i < ks->n; i++) {
        if (key_part(item, n, ks->part[i].name, ks->part[i].type, i == 0, i < ks->own, false,
                     full, DDB_FULLKEY_MAX, &o, err) < 0) {
            return -1;
        }
    }
    *len = o;
    return 0;
}

void ddb__key_err_msg(const struct ddb_key_err *err, char *out, size_t n)
{
    static const char invalid[] = "One or more parameter values were invalid: ";
    static const char not_valid[] = "One or more parameter values are not valid. The "
                                    "AttributeValue for a key attribute cannot contain an empty";
    switch (err->why) {
    case DDB_KEY_MISSING:
        snprintf(out, n, "%sMissing the key %s in the item", invalid, err->attr);
        break;
    case DDB_KEY_TYPE:
        snprintf(out, n, "%sType mismatch for key %s expected: %s actual: %s", invalid,
                 err->attr, ddb_type_name(err->expected), ddb_type_name(err->actual));
        break;
    case DDB_KEY_SCHEMA:
        snprintf(out, n, "The provided key element does not match the schema");
        break;
    case DDB_KEY_EMPTY_S:
        snprintf(out, n, "%s string value. Key: %s", not_valid, err->attr);
        break;
    case DDB_KEY_EMPTY_B:
        snprintf(out, n, "%s binary value. Key: %s", not_valid, err->attr);
        break;
    case DDB_KEY_HASH_SIZE:
        /* Sic: DynamoDB's message has no space before the limit. */
        snprintf(out, n, "%sSize of hashkey has exceeded the maximum size limit of%d bytes",
                 invalid, DDB_PK_MAX);
        break;
    case DDB_KEY_RANGE_SIZE:
        snprintf(out, n, "%sAggregated size of all range keys has exceeded the size limit of "
                         "%d bytes",
                 invalid, DDB_SK_MAX);
        break;
    default:
        out[0] = '\0';
        break;
    }
}

int ddb__key_fail_or_reply(struct http_req *r, const struct ddb_key_err *err)
{
    char msg[512];
    if (err->why == DDB_KEY_OK || err->why == DDB_KEY_DAMAGED) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    ddb__key_err_msg(err, msg, sizeof msg);
    return http_req_fail(r, AWSERR_VALIDATION, "%s", msg);
}
