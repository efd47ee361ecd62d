/*
 * api.c: the DynamoDB Streams API (JSON 1.0, X-Amz-Target DynamoDBStreams_20120810.*):
 * ListStreams, DescribeStream, GetShardIterator, GetRecords.
 *
 * What it is: request validation and response shapes as the DynamoDB Streams API reference
 * gives them, over the change log of log.c. Every operation is a read.
 *
 * Shard iterators are opaque to clients: base64 of "v1|<stream arn>|<last sequence number
 * read>|<created, ms>". Like DynamoDB's they expire 15 minutes after they were handed out
 * (ExpiredIteratorException); a GetRecords answer carries a fresh one.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "streams/strm_int.h"

#define ITER_MAX 2048

static struct strm *strm_of(struct http_req *r)
{
    return r->svc->ctx;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *str_member_or_reply(struct http_req *r, const char *name, const char *member,
                                       bool required)
{
    const json_t *v = json_object_get(r->json, name);
    if (!v || json_is_null(v)) {
        if (required) {
            http_req_fail(r, AWSERR_VALIDATION,
                          "1 validation error detected: Value null at '%s' failed to satisfy "
                          "constraint: Member must not be null",
                          member);
        }
        return NULL;
    }
    if (!json_is_string(v)) {
        http_req_fail(r, AWSERR_SERIALIZATION, "Unexpected token received from parser");
        return NULL;
    }
    return json_string_value(v);
}

/* A member sluice reads no further must still have its model's JSON type: DynamoDB Streams
 * deserializes the whole request before the operation runs. */
static int type_or_reply(struct http_req *r, const char *name, json_type type)
{
    const json_t *v = json_object_get(r->json, name);
    if (v && !json_is_null(v) && json_typeof(v) != type) {
        return http_req_fail(r, AWSERR_SERIALIZATION, "Unexpected token received from parser");
    }
    return 0;
}

/* StreamArn: the model's length bounds (37 to 1024), checked before the lookup. */
static const char *arn_member_or_reply(struct http_req *r, bool required)
{
    const char *arn = str_member_or_reply(r, "StreamArn", "streamArn", required);
    size_t len = arn ? strlen(arn) : 0;
    if (arn && (len < 37 || len > 1024)) {
        http_req_fail(r, AWSERR_VALIDATION,
                      "1 validation error detected: Value '%s' at 'streamArn' failed to satisfy "
                      "constraint: Member must have length %s",
                      len > 1024 ? "..." : arn,
                      len < 37 ? "greater than or equal to 37" : "less than or equal to 1024");
        return NULL;
    }
    return arn;
}

static char *make_iterator(struct http_req *r, const char *arn, uint64_t after)
{
    char raw[1200];
    int n = snprintf(raw, sizeof raw, "v1|%s|%llu|%llu", arn, (unsigned long long)after,
                     (unsigned long long)now_ms());
    char *out = arena_alloc(&r->arena, (size_t)(4 * ((n + 2) / 3) + 1));
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)raw, n);
    return out;
}

/* Decodes an iterator into arn (cap bytes), the last sequence read and its creation time. */
static int parse_iterator(const char *it, char *arn, size_t cap, uint64_t *after,
                          uint64_t *created)
{
    unsigned char raw[ITER_MAX];
    size_t n = strlen(it);
    int len;
    char *p1, *p2, *p3;
    if (n == 0 || n > ITER_MAX || n % 4 != 0) {
        return -EINVAL;
    }
    len = EVP_DecodeBlock(raw, (const unsigned char *)it, (int)n);
    if (len < 0) {
        return -EINVAL;
    }
    while (len > 0 && raw[len - 1] == '\0') {
        len--;
    }
    raw[len] = '\0';
    if (strncmp((char *)raw, "v1|", 3) != 0) {
        return -EINVAL;
    }
    p1 = (char *)raw + 3;
    p3 = strrchr(p1, '|');
    if (!p3) {
        return -EINVAL;
    }
    *p3 = '\0';
    p2 = strrchr(p1, '|');
    if (!p2) {
        return -EINVAL;
    }
    *p2 = '\0';
    if ((size_t)(p2 - p1) >= cap || strm__parse_seq(p2 + 1, after) < 0 ||
        strm__parse_seq(p3 + 1, created) < 0) {
        return -EINVAL;
    }
    memcpy(arn, p1, (size_t)(p2 - p1) + 1);
    return 0;
}

static json_t *describe(const struct strm__stream *ss, uint64_t latest)
{
    json_t *d = json_object();
    json_t *shard = json_object();
    json_t *range = json_object();
    char sid[64], seq[32];
    const char *keys[] = { "StreamArn", "StreamLabel", "StreamStatus", "StreamViewType",
                           "CreationRequestDateTime", "TableName", "KeySchema" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_object_set(d, keys[i], json_object_get(ss->json, keys[i]));
    }
    strm__shard_id(ss, sid);
    json_object_set_new(shard, "ShardId", json_string(sid));
    strm__fmt_seq(ss->start_seq, seq);
    json_object_set_new(range, "StartingSequenceNumber", json_string(seq));
    if (!ss->enabled) {
        strm__fmt_seq(ss->end_seq > 0 ? ss->end_seq : latest, seq);
        json_object_set_new(range, "EndingSequenceNumber", json_string(seq));
    }
    json_object_set_new(shard, "SequenceNumberRange", range);
    json_object_set_new(d, "Shards", json_pack("[o]", shard));
    return d;
}

static int not_found(struct http_req *r, const char *arn)
{
    return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                         "Requested resource not found: Stream: %s not found", arn);
}

int strm_list_streams(struct http_req *r)
{
    struct strm *s = strm_of(r);
    const char *table = str_member_or_reply(r, "TableName", "tableName", false);
    const char *start = str_member_or_reply(r, "ExclusiveStartStreamArn",
                                            "exclusiveStartStreamArn", false);
    const json_t *jl = json_object_get(r->json, "Limit");
    json_int_t limit = STRM_LIST_MAX;
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    json_t *streams, *out;
    int rc, n = 0;

    if (r->err != AWSERR_NONE) {
        return -1;
    }
    if (type_or_reply(r, "Limit", JSON_INTEGER) < 0) {
        return -1;
    }
    if (jl && !json_is_null(jl)) {
        limit = json_integer_value(jl);
        if (!json_is_integer(jl) || limit < 1 || limit > STRM_LIST_MAX) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "1 validation error detected: Value '%lld' at 'limit' failed "
                                 "to satisfy constraint: Member must have value %s",
                                 (long long)limit,
                                 limit < 1 ? "greater than or equal to 1"
                                           : "less than or equal to 100");
        }
    }
    rc = store_read_begin(s->st, &txn);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, s->streams, &c);
    }
    if (rc) {
        if (txn) {
            store_read_end(s->st, txn);
        }
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    streams = json_array();
    out = json_object();
    if (start) {
        k.mv_data = (void *)start;
        k.mv_size = strlen(start);
        rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == strlen(start) && memcmp(k.mv_data, start, k.mv_size) == 0) {
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
    }
    else {
        rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    }
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        json_error_t jerr;
        json_t *e = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
        const char *tn;
        if (!e) {
            continue;
        }
        tn = json_string_value(json_object_get(e, "TableName"));
        if (!table || (tn && strcmp(tn, table) == 0)) {
            if (n == limit) {
                json_object_set_new(out, "LastEvaluatedStreamArn",
                                    json_string(json_string_value(json_object_get(
                                        json_array_get(streams, (size_t)n - 1), "StreamArn"))));
                json_decref(e);
                break;
            }
            json_array_append_new(streams,
                                  json_pack("{s:O, s:O, s:O}", "StreamArn",
                                            json_object_get(e, "StreamArn"), "TableName",
                                            json_object_get(e, "TableName"), "StreamLabel",
                                            json_object_get(e, "StreamLabel")));
            n++;
        }
        json_decref(e);
    }
    mdb_cursor_close(c);
    store_read_end(s->st, txn);
    json_object_set_new(out, "Streams", streams);
    return http_reply_json(r, out);
}

int strm_describe_stream(struct http_req *r)
{
    struct strm *s = strm_of(r);
    const char *arn = arn_member_or_reply(r, true);
    struct strm__stream ss;
    MDB_txn *txn = NULL;
    uint64_t latest = 0;
    json_t *d;
    int rc;

    if (!arn || type_or_reply(r, "Limit", JSON_INTEGER) < 0 ||
        type_or_reply(r, "ExclusiveStartShardId", JSON_STRING) < 0) {
        return -1;
    }
    rc = store_read_begin(s->st, &txn);
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    rc = strm__get(s, txn, arn, &ss);
    store_read_end(s->st, txn);
    if (rc == -ENOENT) {
        return not_found(r, arn);
    }
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    if (!ss.enabled) {
        strm_latest_seq(s, arn, &latest);
    }
    d = describe(&ss, latest);
    strm__stream_release(&ss);
    return http_reply_json(r, json_pack("{s:o}", "StreamDescription", d));
}

int strm_get_shard_iterator(struct http_req *r)
{
    struct strm *s = strm_of(r);
    const char *arn = arn_member_or_reply(r, true);
    const char *shard = arn ? str_member_or_reply(r, "ShardId", "shardId", true) : NULL;
    const char *type = shard ? str_member_or_reply(r, "ShardIteratorType", "shardIteratorType",
                                                   true)
                             : NULL;
    const char *seqs = type ? str_member_or_reply(r, "SequenceNumber", "sequenceNumber", false)
                            : NULL;
    struct strm__stream ss;
    MDB_txn *txn = NULL;
    char sid[64];
    uint64_t after = 0, seq = 0;
    int rc;

    if (r->err != AWSERR_NONE) {
        return -1;
    }
    if (strcmp(type, "TRIM_HORIZON") != 0 && strcmp(type, "LATEST") != 0 &&
        strcmp(type, "AT_SEQUENCE_NUMBER") != 0 && strcmp(type, "AFTER_SEQUENCE_NUMBER") != 0) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: Value '%s' at 'shardIteratorType' "
                             "failed to satisfy constraint: Member must satisfy enum value set: "
                             "[AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]",
                             type);
    }
    bool by_seq = type[0] == 'A';
    if (by_seq && !seqs) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Must specify a sequence number for iterator type %s", type);
    }
    if (!by_seq && seqs) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "Sequence number must not be specified for iterator type %s", type);
    }
    if (by_seq && strm__parse_seq(seqs, &seq) < 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "Invalid SequenceNumber: %s", seqs);
    }
    rc = store_read_begin(s->st, &txn);
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    rc = strm__get(s, txn, arn, &ss);
    store_read_end(s->st, txn);
    if (rc == -ENOENT) {
        return not_found(r, arn);
    }
    if (rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    strm__shard_id(&ss, sid);
    if (strcmp(sid, shard) != 0) {
        strm__stream_release(&ss);
        return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                             "Requested resource not found: Shard does not exist");
    }
    if (type[0] == 'T') {
        after = ss.trim_seq;
    }
    else if (type[0] == 'L') {
        strm_latest_seq(s, arn, &after);
    }
    else {
        if (seq <= ss.trim_seq && seq >= ss.start_seq - 1 && ss.trim_seq >= ss.start_seq) {
            strm__stream_release(&ss);
            return http_req_fail(r, AWSERR_TRIMMED_DATA,
                                 "Attempted to access data that has been trimmed");
        }
        if (seq < ss.start_seq || (!ss.enabled && seq > ss.end_seq)) {
            strm__stream_release(&ss);
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "Invalid SequenceNumber %s for shard %s", seqs, sid);
        }
        after = type[1] == 'T' ? seq - 1 : seq;
    }
    strm__stream_release(&ss);
    return http_reply_json(r, json_pack("{s:s}", "ShardIterator", make_iterator(r, arn, after)));
}

/* A record keeps its userIdentity as Lambda's DynamoDB events show it ("type",
 * "principalId"); the Streams API's Identity shape names the same members "Type" and
 * "PrincipalId" (GetRecords of a time-to-live deletion). */
static void wire_identities(json_t *records)
{
    size_t i;
    json_t *rec;
    json_array_foreach(records, i, rec)
    {
        json_t *id = json_object_get(rec, "userIdentity");
        if (json_is_string(json_object_get(id, "principalId")) &&
            json_is_string(json_object_get(id, "type"))) {
            json_object_set_new(rec, "userIdentity",
                                json_pack("{s:O, s:O}", "PrincipalId",
                                          json_object_get(id, "principalId"), "Type",
                                          json_object_get(id, "type")));
        }
    }
}

int strm_get_records(struct http_req *r)
{
    struct strm *s = strm_of(r);
    const char *it = str_member_or_reply(r, "ShardIterator", "shardIterator", true);
    const json_t *jl = json_object_get(r->json, "Limit");
    json_int_t limit = STRM_GETRECORDS_MAX;
    char arn[1200];
    uint64_t after, created, last;
    bool closed = false;
    json_t *records, *out;
    int rc;

    if (!it) {
        return -1;
    }
    if (type_or_reply(r, "Limit", JSON_INTEGER) < 0) {
        return -1;
    }
    if (jl && !json_is_null(jl)) {
        limit = json_integer_value(jl);
        if (!json_is_integer(jl) || limit < 1 || limit > STRM_GETRECORDS_MAX) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "1 validation error detected: Value '%lld' at 'limit' failed "
                                 "to satisfy constraint: Member must have value %s",
                                 (long long)limit,
                                 limit < 1 ? "greater than or equal to 1"
                                           : "less than or equal to 1000");
        }
    }
    if (parse_iterator(it, arn, sizeof arn, &after, &created) < 0) {
        return http_req_fail(r, AWSERR_VALIDATION, "Invalid ShardIterator");
    }
    if (now_ms() > created + STRM_ITERATOR_TTL_MS) {
        return http_req_fail(r, AWSERR_EXPIRED_ITERATOR,
                             "Iterator expired. The iterator was created at time %llu while "
                             "right now it is %llu.",
                             (unsigned long long)created, (unsigned long long)now_ms());
    }
    records = json_array();
    last = after;
    rc = strm_read(s, arn, after, (unsigned)limit, records, &last, &closed);
    if (rc == -ENOENT) {
        json_decref(records);
        return not_found(r, arn);
    }
    if (rc) {
        json_decref(records);
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    wire_identities(records);
    out = json_object();
    json_object_set_new(out, "Records", records);
    if (!closed) {
        json_object_set_new(out, "NextShardIterator", json_string(make_iterator(r, arn, last)));
    }
    return http_reply_json(r, out);
}
