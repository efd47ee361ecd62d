/*
 * api.c: the Firehose API (JSON 1.1, X-Amz-Target Firehose_20150804.*): delivery streams
 * and the puts into their durable buffers.
 *
 * What it is: CreateDeliveryStream, DescribeDeliveryStream, ListDeliveryStreams,
 * DeleteDeliveryStream, PutRecord, PutRecordBatch, validated and shaped as the Firehose API
 * reference gives them. A put is one writer op: every record of a batch is in the buffer
 * when the client hears back, or none is.
 *
 * What it is not: delivery (deliver.c).
 *
 * Invariants: a stream's entry and its buffered records share the stream's numeric id;
 * deleting a stream deletes its records in the same transaction.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "firehose/fh_int.h"

void fh__put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

void fh__put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint32_t fh__get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

uint64_t fh__get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

uint64_t fh__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int meta_next(struct fh *f, MDB_txn *txn, const char *name, uint64_t *out)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    unsigned char b[8];
    uint64_t cur = 0;
    int rc = mdb_get(txn, f->meta, &k, &v);
    if (rc == 0 && v.mv_size == 8) {
        cur = fh__get_be64(v.mv_data);
    }
    else if (rc != MDB_NOTFOUND && rc != 0) {
        return rc;
    }
    fh__put_be64(b, cur + 1);
    v.mv_size = 8;
    v.mv_data = b;
    rc = mdb_put(txn, f->meta, &k, &v, 0);
    *out = cur + 1;
    return rc;
}

/* ---- validation helpers ---- */

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > FH_NAME_MAX) {
        return false;
    }
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.')) {
            return false;
        }
    }
    return true;
}

/* A member of a given JSON type, or null/absent: anything else is the SerializationException
 * Firehose's deserializer sends before the operation runs. */
static int type_or_reply(struct http_req *r, const char *name, json_type type)
{
    const json_t *v = json_object_get(r->json, name);
    if (v && !json_is_null(v) && json_typeof(v) != type) {
        return http_req_fail(r, AWSERR_SERIALIZATION, "Unexpected token received from parser");
    }
    return 0;
}

static const char *name_or_reply(struct http_req *r, const char *member)
{
    const json_t *v = json_object_get(r->json, "DeliveryStreamName");
    const char *s;
    if (!v || json_is_null(v)) {
        http_req_fail(r, AWSERR_VALIDATION,
                      "1 validation error detected: Value null at '%s' failed to satisfy "
                      "constraint: Member must not be null",
                      member);
        return NULL;
    }
    if (!json_is_string(v)) {
        http_req_fail(r, AWSERR_SERIALIZATION, "Unexpected token received from parser");
        return NULL;
    }
    s = json_string_value(v);
    if (!name_ok(s)) {
        http_req_fail(r, AWSERR_VALIDATION,
                      "1 validation error detected: Value '%.100s' at '%s' failed to satisfy "
                      "constraint: Member must satisfy regular expression pattern: "
                      "[a-zA-Z0-9_.-]+ and have length between 1 and 64",
                      s, member);
        return NULL;
    }
    return s;
}

static int not_found(struct http_req *r, const char *name)
{
    struct fh *f = fh__of(r);
    return http_req_fail(r, AWSERR_RESOURCE_NOT_FOUND,
                         "Firehose %s under account %s not found.", name, f->account);
}

/* Reads a stream entry (new reference) or NULL. */
static json_t *stream_get(struct fh *f, MDB_txn *txn, const char *name)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    json_error_t jerr;
    if (mdb_get(txn, f->streams, &k, &v) != 0) {
        return NULL;
    }
    return json_loadb(v.mv_data, v.mv_size, 0, &jerr);
}

/* ---- CreateDeliveryStream ---- */

struct create_op {
    struct store_op base;
    struct fh *f;
    struct http_req *r;
    const char *name;
    json_t *entry;      /* owned by the request (decref at clear) */
};

static int create_apply(struct store_op *op, MDB_txn *txn)
{
    struct create_op *c = (struct create_op *)op;
    MDB_val k = { strlen(c->name), (void *)c->name }, v;
    uint64_t id;
    char *text;
    int rc;

    if (mdb_get(txn, c->f->streams, &k, &v) == 0) {
        return -EEXIST;
    }
    rc = meta_next(c->f, txn, "id", &id);
    if (rc) {
        return rc;
    }
    json_object_set_new(c->entry, "Id", json_integer((json_int_t)id));
    text = json_dumps(c->entry, JSON_COMPACT);
    v.mv_size = strlen(text);
    v.mv_data = text;
    rc = mdb_put(txn, c->f->streams, &k, &v, 0);
    free(text);
    return rc;
}

static void resume_done(struct store_op *op, int rc)
{
    struct create_op *c = (struct create_op *)op;
    (void)rc;
    http_req_resume(c->r);
}

static int create_cont(struct http_req *r)
{
    struct create_op *c = r->op_ctx;
    struct fh *f = fh__of(r);
    if (c->base.rc == -EEXIST) {
        return http_req_fail(r, AWSERR_RESOURCE_IN_USE,
                             "Firehose %s under accountId %s already exists.", c->name,
                             f->account);
    }
    if (c->base.rc) {
        log_error("firehose", "CreateDeliveryStream %s: %s", c->name,
                  store_strerror(c->base.rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    return http_reply_json(r, json_pack("{s:O}", "DeliveryStreamARN",
                                        json_object_get(c->entry, "DeliveryStreamARN")));
}

static void decref_cb(void *p)
{
    json_decref(p);
}

/* Validates the S3 destination and builds its description. Returns NULL with r failed. */
static json_t *s3_destination_or_reply(struct http_req *r, const json_t *cfg)
{
    const char *role = json_string_value(json_object_get(cfg, "RoleARN"));
    const char *bucket = json_string_value(json_object_get(cfg, "BucketARN"));
    const json_t *hints = json_object_get(cfg, "BufferingHints");
    const json_t *jsize = json_object_get(hints, "SizeInMBs");
    const json_t *jint = json_object_get(hints, "IntervalInSeconds");
    const char *comp = json_string_value(json_object_get(cfg, "CompressionFormat"));
    json_int_t size = jsize ? json_integer_value(jsize) : 5;
    json_int_t interval = jint ? json_integer_value(jint) : 300;
    json_t *d;

    if (!role || !bucket) {
        http_req_fail(r, AWSERR_VALIDATION,
                      "1 validation error detected: Value null at '%s' failed to satisfy "
                      "constraint: Member must not be null",
                      !role ? "extendedS3DestinationConfiguration.roleARN"
                            : "extendedS3DestinationConfiguration.bucketARN");
        return NULL;
    }
    if (strncmp(bucket, "arn:aws:s3:::", 13) != 0 || !bucket[13] || strchr(bucket + 13, '/')) {
        http_req_fail(r, AWSERR_VALIDATION,
                      "1 validation error detected: Value '%.200s' at "
                      "'extendedS3DestinationConfiguration.bucketARN' failed to satisfy "
                      "constraint: Member must satisfy regular expression pattern: "
                      "arn:.*:s3:::[\\w\\.\\-]{1,255}",
                      bucket);
        return NULL;
    }
    if ((jsize && !json_is_integer(jsize)) || size < 1 || size > 128) {
        http_req_fail(r, AWSERR_VALIDATION,
                      "1 validation error detected: Value '%lld' at "
                      "'extendedS3DestinationConfiguration.bufferingHints.sizeInMBs' failed to "
                      "satisfy constraint: Member must have value %s",
                      (long long)size,
                      size < 1 ? "greater than or equal to 1" : "less than or equal to 128");
        return NULL;
    }
    if ((jint && !json_is_integer(jint)) || interval < 0 || interval > 900) {
        http_req_fail(r, AWSERR_VALIDATION,
                      "1 validation error detected: Value '%lld' at "
                      "'extendedS3DestinationConfiguration.bufferingHints.intervalInSeconds' "
                      "failed to satisfy constraint: Member must have value %s",
                      (long long)interval,
                      interval < 0 ? "greater than or equal to 0" : "less than or equal to 900");
        return NULL;
    }
    if (!comp) {
        comp = "UNCOMPRESSED";
    }
    if (strcmp(comp, "UNCOMPRESSED") != 0 && strcmp(comp, "GZIP") != 0) {
        if (strcmp(comp, "ZIP") == 0 || strcmp(comp, "Snappy") == 0 ||
            strcmp(comp, "HADOOP_SNAPPY") == 0) {
            http_req_fail(r, AWSERR_INVALID_ARGUMENT,
                          "CompressionFormat %s is not supported by this endpoint yet; use "
                          "UNCOMPRESSED or GZIP.",
                          comp);
        }
        else {
            http_req_fail(r, AWSERR_VALIDATION,
                          "1 validation error detected: Value '%s' at "
                          "'extendedS3DestinationConfiguration.compressionFormat' failed to "
                          "satisfy constraint: Member must satisfy enum value set: "
                          "[UNCOMPRESSED, GZIP, ZIP, Snappy, HADOOP_SNAPPY]",
                          comp);
        }
        return NULL;
    }
    {
        const char *prefix = json_string_value(json_object_get(cfg, "Prefix"));
        if (prefix && strstr(prefix, "!{")) {
            http_req_fail(r, AWSERR_INVALID_ARGUMENT,
                          "Prefix expressions (!{...}) are not supported by this endpoint yet.");
            return NULL;
        }
        if (prefix && strlen(prefix) > 1024) {
            http_req_fail(r, AWSERR_VALIDATION,
                          "1 validation error detected: Value at "
                          "'extendedS3DestinationConfiguration.prefix' failed to satisfy "
                          "constraint: Member must have length less than or equal to 1024");
            return NULL;
        }
    }
    d = json_pack("{s:s, s:s, s:{s:I, s:I}, s:s, s:{s:s}, s:{s:b}, s:s}", "RoleARN", role,
                  "BucketARN", bucket, "BufferingHints", "SizeInMBs", (json_int_t)size,
                  "IntervalInSeconds", (json_int_t)interval, "CompressionFormat", comp,
                  "EncryptionConfiguration", "NoEncryptionConfig", "NoEncryption",
                  "CloudWatchLoggingOptions", "Enabled", 0, "S3BackupMode", "Disabled");
    if (json_is_string(json_object_get(cfg, "Prefix"))) {
        json_object_set(d, "Prefix", json_object_get(cfg, "Prefix"));
    }
    if (json_is_string(json_object_get(cfg, "ErrorOutputPrefix"))) {
        json_object_set(d, "ErrorOutputPrefix", json_object_get(cfg, "ErrorOutputPrefix"));
    }
    return d;
}

int fh_create_delivery_stream(struct http_req *r)
{
    struct fh *f = fh__of(r);
    const char *name = name_or_reply(r, "deliveryStreamName");
    const char *type;
    const json_t *ext, *plain;
    json_t *dest, *entry, *dd;
    struct create_op *c;
    char arn[256];

    if (!name) {
        return -1;
    }
    type = json_string_value(json_object_get(r->json, "DeliveryStreamType"));
    if (type && strcmp(type, "DirectPut") != 0) {
        if (strcmp(type, "KinesisStreamAsSource") == 0 || strcmp(type, "MSKAsSource") == 0 ||
            strcmp(type, "DatabaseAsSource") == 0) {
            return http_req_fail(r, AWSERR_INVALID_ARGUMENT,
                                 "DeliveryStreamType %s is not supported by this endpoint; use "
                                 "DirectPut.",
                                 type);
        }
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: Value '%s' at 'deliveryStreamType' "
                             "failed to satisfy constraint: Member must satisfy enum value set: "
                             "[DirectPut, KinesisStreamAsSource, MSKAsSource, "
                             "DatabaseAsSource]",
                             type);
    }
    ext = json_object_get(r->json, "ExtendedS3DestinationConfiguration");
    plain = json_object_get(r->json, "S3DestinationConfiguration");
    if (!json_is_object(ext) && !json_is_object(plain)) {
        return http_req_fail(r, AWSERR_INVALID_ARGUMENT,
                             "Exactly one destination configuration must be supplied; this "
                             "endpoint delivers to S3 (ExtendedS3DestinationConfiguration or "
                             "S3DestinationConfiguration).");
    }
    if (json_is_object(ext) && json_is_object(plain)) {
        return http_req_fail(r, AWSERR_INVALID_ARGUMENT,
                             "Only one destination configuration can be supplied.");
    }
    dest = s3_destination_or_reply(r, json_is_object(ext) ? ext : plain);
    if (!dest) {
        return -1;
    }
    snprintf(arn, sizeof arn, "arn:aws:firehose:%s:%s:deliverystream/%s", f->region, f->account,
             name);
    dd = json_object();
    json_object_set_new(dd, "DestinationId", json_string("destinationId-000000000001"));
    json_object_set(dd, "S3DestinationDescription", dest);
    json_object_set_new(dd, "ExtendedS3DestinationDescription", dest);
    entry = json_object();
    json_object_set_new(entry, "DeliveryStreamName", json_string(name));
    json_object_set_new(entry, "DeliveryStreamARN", json_string(arn));
    json_object_set_new(entry, "DeliveryStreamStatus", json_string("ACTIVE"));
    json_object_set_new(entry, "DeliveryStreamEncryptionConfiguration",
                        json_pack("{s:s}", "Status", "DISABLED"));
    json_object_set_new(entry, "DeliveryStreamType", json_string("DirectPut"));
    json_object_set_new(entry, "VersionId", json_string("1"));
    json_object_set_new(entry, "CreateTimestamp", json_real((double)fh__now_ms() / 1000.0));
    json_object_set_new(entry, "Destinations", json_pack("[o]", dd));
    json_object_set_new(entry, "HasMoreDestinations", json_false());

    c = arena_new(&r->arena, struct create_op);
    c->base.apply = create_apply;
    c->base.done = resume_done;
    c->f = f;
    c->r = r;
    c->name = name;
    c->entry = entry;
    arena_on_clear(&r->arena, decref_cb, entry);
    r->op_ctx = c;
    http_req_pending(r, create_cont);
    if (store_submit(f->st, &c->base) < 0) {
        r->state = HTTP_REQ_READY;
        return http_req_fail(r, AWSERR_SERVICE_UNAVAILABLE, NULL);
    }
    return 0;
}

/* ---- DescribeDeliveryStream, ListDeliveryStreams ---- */

int fh_describe_delivery_stream(struct http_req *r)
{
    struct fh *f = fh__of(r);
    const char *name = name_or_reply(r, "deliveryStreamName");
    MDB_txn *txn = NULL;
    json_t *e;

    if (!name) {
        return -1;
    }
    if (store_read_begin(f->st, &txn) != 0) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    e = stream_get(f, txn, name);
    store_read_end(f->st, txn);
    if (!e) {
        return not_found(r, name);
    }
    json_object_del(e, "Id");
    return http_reply_json(r, json_pack("{s:o}", "DeliveryStreamDescription", e));
}

int fh_list_delivery_streams(struct http_req *r)
{
    struct fh *f = fh__of(r);
    const json_t *jl = json_object_get(r->json, "Limit");
    const char *start = json_string_value(json_object_get(r->json,
                                                          "ExclusiveStartDeliveryStreamName"));
    const char *type = json_string_value(json_object_get(r->json, "DeliveryStreamType"));
    json_int_t limit = 10;
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    MDB_val k, v;
    json_t *names;
    bool more = false;
    int rc, n = 0;

    if (type_or_reply(r, "Limit", JSON_INTEGER) < 0 ||
        type_or_reply(r, "ExclusiveStartDeliveryStreamName", JSON_STRING) < 0 ||
        type_or_reply(r, "DeliveryStreamType", JSON_STRING) < 0) {
        return -1;
    }
    if (jl && !json_is_null(jl)) {
        limit = json_integer_value(jl);
        if (limit < 1 || limit > FH_LIST_MAX) {
            return http_req_fail(r, AWSERR_VALIDATION,
                                 "1 validation error detected: Value '%lld' at 'limit' failed "
                                 "to satisfy constraint: Member must have value %s",
                                 (long long)limit,
                                 limit < 1 ? "greater than or equal to 1"
                                           : "less than or equal to 10000");
        }
    }
    if (store_read_begin(f->st, &txn) != 0) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    rc = mdb_cursor_open(txn, f->streams, &c);
    if (rc) {
        store_read_end(f->st, txn);
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    names = json_array();
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
        /* Every stream here is DirectPut; a filter on another type matches none. */
        if (type && strcmp(type, "DirectPut") != 0) {
            break;
        }
        if (n == limit) {
            more = true;
            break;
        }
        json_array_append_new(names, json_stringn(k.mv_data, k.mv_size));
        n++;
    }
    mdb_cursor_close(c);
    store_read_end(f->st, txn);
    return http_reply_json(r, json_pack("{s:o, s:b}", "DeliveryStreamNames", names,
                                        "HasMoreDeliveryStreams", more));
}

/* ---- DeleteDeliveryStream ---- */

struct delete_op {
    struct store_op base;
    struct fh *f;
    struct http_req *r;
    const char *name;
};

static int delete_apply(struct store_op *op, MDB_txn *txn)
{
    struct delete_op *d = (struct delete_op *)op;
    json_t *e = stream_get(d->f, txn, d->name);
    MDB_val k = { strlen(d->name), (void *)d->name }, rk, rv;
    MDB_cursor *c;
    unsigned char kb[12];
    uint32_t id;
    int rc;

    if (!e) {
        return -ENOENT;
    }
    id = (uint32_t)json_integer_value(json_object_get(e, "Id"));
    json_decref(e);
    rc = mdb_del(txn, d->f->streams, &k, NULL);
    if (rc) {
        return rc;
    }
    /* Its buffered records go with it, as on Firehose. */
    rc = mdb_cursor_open(txn, d->f->buffer, &c);
    if (rc) {
        return rc;
    }
    fh__put_be32(kb, id);
    memset(kb + 4, 0, 8);
    rk.mv_size = 12;
    rk.mv_data = kb;
    for (int g = mdb_cursor_get(c, &rk, &rv, MDB_SET_RANGE); g == 0;
         g = mdb_cursor_get(c, &rk, &rv, MDB_NEXT)) {
        if (rk.mv_size != 12 || fh__get_be32(rk.mv_data) != id) {
            break;
        }
        rc = mdb_cursor_del(c, 0);
        if (rc) {
            break;
        }
    }
    mdb_cursor_close(c);
    return rc;
}

static void delete_done(struct store_op *op, int rc)
{
    (void)rc;
    http_req_resume(((struct delete_op *)op)->r);
}

static int delete_cont(struct http_req *r)
{
    struct delete_op *d = r->op_ctx;
    if (d->base.rc == -ENOENT) {
        return not_found(r, d->name);
    }
    if (d->base.rc) {
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    return http_reply_json(r, json_object());
}

int fh_delete_delivery_stream(struct http_req *r)
{
    struct fh *f = fh__of(r);
    const char *name = name_or_reply(r, "deliveryStreamName");
    struct delete_op *d;
    if (!name) {
        return -1;
    }
    d = arena_new(&r->arena, struct delete_op);
    d->base.apply = delete_apply;
    d->base.done = delete_done;
    d->f = f;
    d->r = r;
    d->name = name;
    r->op_ctx = d;
    http_req_pending(r, delete_cont);
    if (store_submit(f->st, &d->base) < 0) {
        r->state = HTTP_REQ_READY;
        return http_req_fail(r, AWSERR_SERVICE_UNAVAILABLE, NULL);
    }
    return 0;
}

/* ---- PutRecord, PutRecordBatch ---- */

struct put_rec {
    const unsigned char *data;
    size_t len;
    uint64_t seq;       /* set by the op */
};

struct put_op {
    struct store_op base;
    struct fh *f;
    struct http_req *r;
    const char *name;
    struct put_rec *recs;
    size_t n;
    bool batch;
};

static int put_apply(struct store_op *op, MDB_txn *txn)
{
    struct put_op *p = (struct put_op *)op;
    json_t *e = stream_get(p->f, txn, p->name);
    uint64_t now = fh__now_ms();
    uint32_t id;
    int rc = 0;

    if (!e) {
        return -ENOENT;
    }
    id = (uint32_t)json_integer_value(json_object_get(e, "Id"));
    json_decref(e);
    for (size_t i = 0; i < p->n && rc == 0; i++) {
        unsigned char kb[12];
        MDB_val k = { 12, kb }, v;
        rc = meta_next(p->f, txn, "seq", &p->recs[i].seq);
        if (rc) {
            break;
        }
        fh__put_be32(kb, id);
        fh__put_be64(kb + 4, p->recs[i].seq);
        v.mv_size = 8 + p->recs[i].len;
        rc = mdb_put(txn, p->f->buffer, &k, &v, MDB_RESERVE);
        if (rc == 0) {
            fh__put_be64(v.mv_data, now);
            if (p->recs[i].len) {
                memcpy((unsigned char *)v.mv_data + 8, p->recs[i].data, p->recs[i].len);
            }
        }
    }
    return rc;
}

static void put_done(struct store_op *op, int rc)
{
    struct put_op *p = (struct put_op *)op;
    if (rc == 0) {
        fh__wake(p->f);
    }
    http_req_resume(p->r);
}

static const char *record_id(struct http_req *r, uint64_t seq)
{
    /* Opaque to clients; unique per record (Firehose's are long opaque strings too). */
    char uuid[37];
    sl_uuid4(uuid);
    return arena_printf(&r->arena, "%016llx%.8s%.4s%.4s%.4s%.12s", (unsigned long long)seq,
                        uuid, uuid + 9, uuid + 14, uuid + 19, uuid + 24);
}

static int put_cont(struct http_req *r)
{
    struct put_op *p = r->op_ctx;
    json_t *out, *resp;
    if (p->base.rc == -ENOENT) {
        return not_found(r, p->name);
    }
    if (p->base.rc) {
        log_error("firehose", "%s %s: %s", p->batch ? "PutRecordBatch" : "PutRecord", p->name,
                  store_strerror(p->base.rc));
        return http_req_fail(r, AWSERR_INTERNAL, NULL);
    }
    if (!p->batch) {
        return http_reply_json(r, json_pack("{s:s, s:b}", "RecordId",
                                            record_id(r, p->recs[0].seq), "Encrypted", 0));
    }
    resp = json_array();
    for (size_t i = 0; i < p->n; i++) {
        json_array_append_new(resp, json_pack("{s:s}", "RecordId", record_id(r, p->recs[i].seq)));
    }
    out = json_pack("{s:i, s:b, s:o}", "FailedPutCount", 0, "Encrypted", 0, "RequestResponses",
                    resp);
    return http_reply_json(r, out);
}

/* Decodes one record's base64 Data into the arena. Returns 0 or -1 with r failed. */
static int decode_record_or_reply(struct http_req *r, const json_t *rec, const char *member,
                                  struct put_rec *out)
{
    const json_t *d = json_object_get(rec, "Data");
    const char *b64;
    size_t n, pad = 0;
    int len;
    unsigned char *buf;

    if (!json_is_object(rec) || !d || json_is_null(d)) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: Value null at '%s.data' failed to "
                             "satisfy constraint: Member must not be null",
                             member);
    }
    if (!json_is_string(d)) {
        return http_req_fail(r, AWSERR_SERIALIZATION, "Unexpected token received from parser");
    }
    b64 = json_string_value(d);
    n = json_string_length(d);
    if (n % 4 != 0) {
        return http_req_fail(r, AWSERR_SERIALIZATION,
                             "Base64 encoded data of a record is not valid.");
    }
    if (n >= 1 && b64[n - 1] == '=') {
        pad++;
    }
    if (n >= 2 && b64[n - 2] == '=') {
        pad++;
    }
    if (n / 4 * 3 - pad > FH_RECORD_MAX) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: Value at '%s.data' failed to "
                             "satisfy constraint: Member must have length less than or equal "
                             "to %d",
                             member, FH_RECORD_MAX);
    }
    buf = arena_alloc(&r->arena, n / 4 * 3 + 1);
    len = n ? EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n) : 0;
    if (len < 0) {
        return http_req_fail(r, AWSERR_SERIALIZATION,
                             "Base64 encoded data of a record is not valid.");
    }
    out->data = buf;
    out->len = (size_t)len - pad;
    return 0;
}

static int submit_put(struct http_req *r, struct put_op *p)
{
    struct fh *f = fh__of(r);
    p->base.apply = put_apply;
    p->base.done = put_done;
    p->f = f;
    p->r = r;
    r->op_ctx = p;
    http_req_pending(r, put_cont);
    if (store_submit(f->st, &p->base) < 0) {
        r->state = HTTP_REQ_READY;
        return http_req_fail(r, AWSERR_SERVICE_UNAVAILABLE, NULL);
    }
    return 0;
}

int fh_put_record(struct http_req *r)
{
    const char *name = name_or_reply(r, "deliveryStreamName");
    struct put_op *p;
    if (!name) {
        return -1;
    }
    p = arena_new(&r->arena, struct put_op);
    p->name = name;
    p->n = 1;
    p->recs = arena_zalloc(&r->arena, sizeof *p->recs);
    if (decode_record_or_reply(r, json_object_get(r->json, "Record"), "record", p->recs) < 0) {
        return -1;
    }
    return submit_put(r, p);
}

int fh_put_record_batch(struct http_req *r)
{
    const char *name = name_or_reply(r, "deliveryStreamName");
    const json_t *recs = json_object_get(r->json, "Records");
    struct put_op *p;
    size_t total = 0, i;
    const json_t *rec;

    if (!name) {
        return -1;
    }
    if (!recs || json_is_null(recs)) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: Value null at 'records' failed to "
                             "satisfy constraint: Member must not be null");
    }
    if (!json_is_array(recs)) {
        return http_req_fail(r, AWSERR_SERIALIZATION, "Unexpected token received from parser");
    }
    if (json_array_size(recs) < 1 || json_array_size(recs) > FH_BATCH_RECORDS) {
        return http_req_fail(r, AWSERR_VALIDATION,
                             "1 validation error detected: Value '[...]' at 'records' failed "
                             "to satisfy constraint: Member must have length %s",
                             json_array_size(recs) < 1 ? "greater than or equal to 1"
                                                       : "less than or equal to 500");
    }
    p = arena_new(&r->arena, struct put_op);
    p->name = name;
    p->batch = true;
    p->n = json_array_size(recs);
    p->recs = arena_zalloc(&r->arena, p->n * sizeof *p->recs);
    json_array_foreach(recs, i, rec)
    {
        char member[64];
        snprintf(member, sizeof member, "records.%zu.member", i + 1);
        if (decode_record_or_reply(r, rec, member, &p->recs[i]) < 0) {
            return -1;
        }
        total += p->recs[i].len;
    }
    if (total > FH_BATCH_BYTES) {
        return http_req_fail(r, AWSERR_INVALID_ARGUMENT,
                             "Records size exceeds 4 MB limit");
    }
    return submit_put(r, p);
}
