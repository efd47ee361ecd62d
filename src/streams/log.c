/*
 * log.c: the change log itself: streams, sequence numbers, appends, reads, waits, retention.
 *
 * What it is: the storage side of streams.h. A stream is an entry in strm.streams; its
 * records live in strm.records under (stream id, sequence number), big-endian so that LMDB's
 * order is commit order and a read is one cursor range. Sequence numbers come from one
 * counter in strm.meta, incremented inside the appending transaction: a rolled-back append
 * rolls the counter back too, so committed numbers are strictly increasing with no
 * duplicates (gaps are possible only across streams, never observable within one).
 *
 * What it is not: the HTTP API (api.c).
 *
 * Invariants: only the writer thread writes (strm_create/disable/append run inside writer
 * ops; the sweeper submits ops); a reader never sees a record whose change did not commit,
 * because both are in the same transaction. A stream has a single shard for its whole life:
 * DynamoDB rolls shards over every few hours, which clients must handle anyway, and one
 * shard keeps per-item order trivially (docs/compatibility.md).
 */
#define _DEFAULT_SOURCE /* timegm */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "streams/strm_int.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

void strm__fmt_seq(uint64_t seq, char out[32])
{
    snprintf(out, 32, "%021llu", (unsigned long long)seq);
}

int strm__parse_seq(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    size_t n = strlen(s);
    if (n == 0 || n > 40 || strspn(s, "0123456789") != n) {
        return -EINVAL;
    }
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno) {
        return -EINVAL;
    }
    *out = v;
    return 0;
}

void strm__shard_id(const struct strm__stream *ss, char out[64])
{
    const char *label = json_string_value(json_object_get(ss->json, "StreamLabel"));
    unsigned long long t = 0;
    struct tm tm;
    /* "shardId-<creation ms, 20 digits>-<8 hex>", the shape DynamoDB's shard ids have. */
    memset(&tm, 0, sizeof tm);
    if (label && sscanf(label, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        t = (unsigned long long)timegm(&tm) * 1000ull;
    }
    snprintf(out, 64, "shardId-%020llu-%08x", t, ss->id);
}

int strm__get(struct strm *s, MDB_txn *txn, const char *arn, struct strm__stream *out)
{
    MDB_val k = { strlen(arn), (void *)arn }, v;
    json_error_t jerr;
    int rc;
    memset(out, 0, sizeof *out);
    /* No stream has an empty ARN or one past LMDB's key size; mdb_get would refuse both
     * with MDB_BAD_VALSIZE. */
    if (k.mv_size == 0 || k.mv_size > (size_t)mdb_env_get_maxkeysize(mdb_txn_env(txn))) {
        return -ENOENT;
    }
    rc = mdb_get(txn, s->streams, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return -ENOENT;
    }
    if (rc != 0) {
        return rc;
    }
    out->json = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
    if (!out->json) {
        return -EIO;
    }
    out->id = (uint32_t)json_integer_value(json_object_get(out->json, "Id"));
    out->start_seq = (uint64_t)json_integer_value(json_object_get(out->json, "StartSeq"));
    out->trim_seq = (uint64_t)json_integer_value(json_object_get(out->json, "TrimSeq"));
    out->end_seq = (uint64_t)json_integer_value(json_object_get(out->json, "EndSeq"));
    out->enabled = strcmp(json_string_value(json_object_get(out->json, "StreamStatus")),
                          "ENABLED") == 0;
    return 0;
}

void strm__stream_release(struct strm__stream *ss)
{
    json_decref(ss->json);
    ss->json = NULL;
}

static int put_stream(struct strm *s, MDB_txn *txn, const char *arn, json_t *entry)
{
    char *text = json_dumps(entry, JSON_COMPACT);
    MDB_val k = { strlen(arn), (void *)arn }, v = { strlen(text), text };
    int rc = mdb_put(txn, s->streams, &k, &v, 0);
    free(text);
    return rc;
}

/* Reads a be64 counter of strm.meta (0 when absent). */
static int meta_get(struct strm *s, MDB_txn *txn, const char *name, uint64_t *out)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    int rc = mdb_get(txn, s->meta, &k, &v);
    *out = 0;
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc == 0 && v.mv_size == 8) {
        *out = get_be64(v.mv_data);
    }
    return rc;
}

static int meta_put(struct strm *s, MDB_txn *txn, const char *name, uint64_t val)
{
    unsigned char b[8];
    MDB_val k = { strlen(name), (void *)name }, v = { 8, b };
    put_be64(b, val);
    return mdb_put(txn, s->meta, &k, &v, 0);
}

int strm_create(struct strm *s, MDB_txn *txn, const char *table_name, const char *table_arn,
                const char *label, const char *view_type, const json_t *key_schema)
{
    char arn[1024];
    uint64_t id, seq;
    json_t *e;
    int rc;

    snprintf(arn, sizeof arn, "%s/stream/%s", table_arn, label);
    {
        /* A label is unique per table: never overwrite a stream still kept. */
        MDB_val k = { strlen(arn), arn }, v;
        rc = mdb_get(txn, s->streams, &k, &v);
        if (rc == 0) {
            return -EEXIST;
        }
        if (rc != MDB_NOTFOUND) {
            return rc;
        }
    }
    rc = meta_get(s, txn, "id", &id);
    if (!rc) {
        rc = meta_get(s, txn, "seq", &seq);
    }
    if (!rc) {
        rc = meta_put(s, txn, "id", id + 1);
    }
    if (rc) {
        return rc;
    }
    e = json_object();
    json_object_set_new(e, "StreamArn", json_string(arn));
    json_object_set_new(e, "StreamLabel", json_string(label));
    json_object_set_new(e, "StreamStatus", json_string("ENABLED"));
    json_object_set_new(e, "StreamViewType", json_string(view_type));
    json_object_set_new(e, "CreationRequestDateTime", json_real((double)now_ms() / 1000.0));
    json_object_set_new(e, "TableName", json_string(table_name));
    json_object_set(e, "KeySchema", (json_t *)key_schema);
    json_object_set_new(e, "Id", json_integer((json_int_t)(id + 1)));
    json_object_set_new(e, "StartSeq", json_integer((json_int_t)(seq + 1)));
    json_object_set_new(e, "TrimSeq", json_integer((json_int_t)seq));
    rc = put_stream(s, txn, arn, e);
    json_decref(e);
    return rc;
}

int strm_disable(struct strm *s, MDB_txn *txn, const char *stream_arn)
{
    struct strm__stream ss;
    uint64_t last = 0;
    int rc = strm__get(s, txn, stream_arn, &ss);
    if (rc) {
        return rc;
    }
    if (ss.enabled) {
        MDB_cursor *c;
        unsigned char kb[12];
        MDB_val k = { 12, kb }, v;
        /* The shard's ending sequence number: its last record, or the one before its start. */
        last = ss.start_seq - 1;
        put_be32(kb, ss.id + 1);
        memset(kb + 4, 0, 8);
        rc = mdb_cursor_open(txn, s->records, &c);
        if (rc == 0) {
            int g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
            g = g == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : mdb_cursor_get(c, &k, &v, MDB_LAST);
            if (g == 0 && k.mv_size == 12 && get_be32(k.mv_data) == ss.id) {
                last = get_be64((unsigned char *)k.mv_data + 4);
            }
            mdb_cursor_close(c);
        }
        json_object_set_new(ss.json, "StreamStatus", json_string("DISABLED"));
        json_object_set_new(ss.json, "EndSeq", json_integer((json_int_t)last));
        json_object_set_new(ss.json, "DisabledAt", json_integer((json_int_t)(now_ms() / 1000)));
        rc = put_stream(s, txn, stream_arn, ss.json);
    }
    strm__stream_release(&ss);
    return rc;
}

int strm_append(struct strm *s, MDB_txn *txn, const char *stream_arn, const char *event_name,
                const json_t *dynamodb, const json_t *user_identity)
{
    struct strm__stream ss;
    uint64_t seq, ms = now_ms();
    char seqs[32], uuid[37];
    json_t *rec, *ddb;
    char *text;
    unsigned char kb[12];
    MDB_val k = { 12, kb }, v;
    size_t n;
    int rc;

    rc = strm__get(s, txn, stream_arn, &ss);
    if (rc) {
        return rc;
    }
    if (!ss.enabled) {
        strm__stream_release(&ss);
        return -ENOENT;
    }
    rc = meta_get(s, txn, "seq", &seq);
    if (!rc) {
        seq++;
        rc = meta_put(s, txn, "seq", seq);
    }
    if (rc) {
        strm__stream_release(&ss);
        return rc;
    }
    strm__fmt_seq(seq, seqs);
    sl_uuid4(uuid);
    ddb = json_deep_copy(dynamodb);
    json_object_set_new(ddb, "SequenceNumber", json_string(seqs));
    json_object_set(ddb, "StreamViewType", json_object_get(ss.json, "StreamViewType"));
    rec = json_object();
    json_object_set_new(rec, "eventID", json_string(uuid));
    json_object_set_new(rec, "eventName", json_string(event_name));
    json_object_set_new(rec, "eventVersion", json_string("1.1"));
    json_object_set_new(rec, "eventSource", json_string("aws:dynamodb"));
    json_object_set_new(rec, "awsRegion", json_string(s->region));
    json_object_set_new(rec, "dynamodb", ddb);
    if (user_identity) {
        json_object_set(rec, "userIdentity", (json_t *)user_identity);
    }
    text = json_dumps(rec, JSON_COMPACT);
    json_decref(rec);
    strm__stream_release(&ss);
    n = strlen(text);
    put_be32(kb, ss.id);
    put_be64(kb + 4, seq);
    v.mv_size = 8 + n;
    rc = mdb_put(txn, s->records, &k, &v, MDB_RESERVE);
    if (rc == 0) {
        put_be64(v.mv_data, ms);
        memcpy((unsigned char *)v.mv_data + 8, text, n);
    }
    free(text);
    return rc;
}

void strm_notify(struct strm *s)
{
    pthread_mutex_lock(&s->mu);
    s->generation++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

int strm_read(struct strm *s, const char *stream_arn, uint64_t after_seq, unsigned limit,
              json_t *out, uint64_t *last_seq, bool *closed)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    struct strm__stream ss;
    unsigned char kb[12];
    MDB_val k = { 12, kb }, v;
    unsigned n = 0;
    size_t bytes = 0;
    int rc;

    *closed = false;
    rc = store_read_begin(s->st, &txn);
    if (rc) {
        return rc;
    }
    rc = strm__get(s, txn, stream_arn, &ss);
    if (rc) {
        store_read_end(s->st, txn);
        return rc;
    }
    put_be32(kb, ss.id);
    put_be64(kb + 4, after_seq + 1);
    rc = mdb_cursor_open(txn, s->records, &c);
    if (rc == 0) {
        int g;
        for (g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); g == 0 && n < limit;
             g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
            json_error_t jerr;
            json_t *rec;
            if (k.mv_size != 12 || get_be32(k.mv_data) != ss.id || v.mv_size < 8) {
                break;
            }
            if (n > 0 && bytes + v.mv_size > STRM_GETRECORDS_BYTES) {
                break;
            }
            rec = json_loadb((const char *)v.mv_data + 8, v.mv_size - 8, 0, &jerr);
            if (!rec) {
                rc = -EIO;
                break;
            }
            json_array_append_new(out, rec);
            *last_seq = get_be64((unsigned char *)k.mv_data + 4);
            bytes += v.mv_size;
            n++;
        }
        if (!ss.enabled && (n < limit) &&
            (n == 0 ? after_seq >= ss.end_seq : *last_seq >= ss.end_seq)) {
            *closed = true;
        }
        mdb_cursor_close(c);
    }
    strm__stream_release(&ss);
    store_read_end(s->st, txn);
    return rc;
}

int strm_latest_seq(struct strm *s, const char *stream_arn, uint64_t *seq)
{
    MDB_txn *txn = NULL;
    MDB_cursor *c = NULL;
    struct strm__stream ss;
    unsigned char kb[12];
    MDB_val k = { 12, kb }, v;
    int rc = store_read_begin(s->st, &txn);
    if (rc) {
        return rc;
    }
    rc = strm__get(s, txn, stream_arn, &ss);
    if (rc == 0) {
        *seq = ss.start_seq - 1;
        put_be32(kb, ss.id + 1);
        memset(kb + 4, 0, 8);
        rc = mdb_cursor_open(txn, s->records, &c);
        if (rc == 0) {
            int g = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
            g = g == 0 ? mdb_cursor_get(c, &k, &v, MDB_PREV) : mdb_cursor_get(c, &k, &v, MDB_LAST);
            if (g == 0 && k.mv_size == 12 && get_be32(k.mv_data) == ss.id) {
                *seq = get_be64((unsigned char *)k.mv_data + 4);
            }
            mdb_cursor_close(c);
        }
        strm__stream_release(&ss);
    }
    store_read_end(s->st, txn);
    return rc;
}

int strm_wait(struct strm *s, const char *stream_arn, uint64_t after_seq, unsigned timeout_ms)
{
    struct timespec deadline;
    uint64_t gen, latest = 0;
    int rc;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    for (;;) {
        pthread_mutex_lock(&s->mu);
        gen = s->generation;
        if (s->stopping) {
            pthread_mutex_unlock(&s->mu);
            return -ECANCELED;
        }
        pthread_mutex_unlock(&s->mu);
        rc = strm_latest_seq(s, stream_arn, &latest);
        if (rc) {
            return rc;
        }
        if (latest > after_seq) {
            return 0;
        }
        pthread_mutex_lock(&s->mu);
        while (s->generation == gen && !s->stopping) {
            if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT) {
                pthread_mutex_unlock(&s->mu);
                return -ETIMEDOUT;
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
}

/* ---- retention ---- */

struct trim_op {
    struct store_op base;
    struct strm *s;
    uint64_t cutoff_ms;
    size_t deleted;
};

/* Deletes records older than the cutoff (at most a bounded number per op, so one sweep
 * never holds the writer for long) and advances each stream's TrimSeq; forgets disabled
 * streams whose records are all gone and whose retention has passed. */
static int trim_apply(struct store_op *op, MDB_txn *txn)
{
    struct trim_op *t = (struct trim_op *)op;
    struct strm *s = t->s;
    MDB_cursor *sc = NULL, *rc_cur = NULL;
    MDB_val k, v;
    int rc, g;

    rc = mdb_cursor_open(txn, s->streams, &sc);
    if (rc) {
        return rc;
    }
    rc = mdb_cursor_open(txn, s->records, &rc_cur);
    if (rc) {
        mdb_cursor_close(sc);
        return rc;
    }
    for (g = mdb_cursor_get(sc, &k, &v, MDB_FIRST); g == 0 && t->deleted < 10000;
         g = mdb_cursor_get(sc, &k, &v, MDB_NEXT)) {
        char *arn = xstrndup(k.mv_data, k.mv_size);
        struct strm__stream ss;
        unsigned char kb[12];
        MDB_val rk = { 12, kb }, rv;
        uint64_t trimmed = 0;
        bool any_left = false;
        int r;

        if (strm__get(s, txn, arn, &ss) != 0) {
            free(arn);
            continue;
        }
        put_be32(kb, ss.id);
        memset(kb + 4, 0, 8);
        for (r = mdb_cursor_get(rc_cur, &rk, &rv, MDB_SET_RANGE); r == 0;
             r = mdb_cursor_get(rc_cur, &rk, &rv, MDB_NEXT)) {
            if (rk.mv_size != 12 || get_be32(rk.mv_data) != ss.id) {
                break;
            }
            if (rv.mv_size < 8 || get_be64(rv.mv_data) >= t->cutoff_ms ||
                t->deleted >= 10000) {
                any_left = true;
                break;
            }
            trimmed = get_be64((unsigned char *)rk.mv_data + 4);
            if (mdb_cursor_del(rc_cur, 0) != 0) {
                break;
            }
            t->deleted++;
        }
        if (trimmed) {
            json_object_set_new(ss.json, "TrimSeq", json_integer((json_int_t)trimmed));
            put_stream(s, txn, arn, ss.json);
        }
        if (!ss.enabled && !any_left &&
            (uint64_t)json_integer_value(json_object_get(ss.json, "DisabledAt")) * 1000u <
                t->cutoff_ms) {
            MDB_val dk = { strlen(arn), arn };
            mdb_del(txn, s->streams, &dk, NULL);
        }
        strm__stream_release(&ss);
        free(arn);
    }
    mdb_cursor_close(rc_cur);
    mdb_cursor_close(sc);
    return 0;
}

static void *sweeper_main(void *arg)
{
    struct strm *s = arg;
    for (;;) {
        struct trim_op t;
        struct timespec deadline;
        bool stop;

        memset(&t, 0, sizeof t);
        t.base.apply = trim_apply;
        t.s = s;
        t.cutoff_ms = now_ms() - (uint64_t)STRM_RETENTION_SECONDS * 1000u;
        if (store_submit_wait(s->st, &t.base) != 0 && t.base.rc != 0) {
            log_warn("streams", "retention sweep: %s", store_strerror(t.base.rc));
        }
        if (t.deleted) {
            log_debug("streams", "retention sweep trimmed %zu records", t.deleted);
        }
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += t.deleted >= 10000 ? 1 : 60;
        pthread_mutex_lock(&s->sweep_mu);
        while (!s->sweep_stop) {
            if (pthread_cond_timedwait(&s->sweep_cv, &s->sweep_mu, &deadline) == ETIMEDOUT) {
                break;
            }
        }
        stop = s->sweep_stop;
        pthread_mutex_unlock(&s->sweep_mu);
        if (stop) {
            return NULL;
        }
    }
}

static const struct http_op strm_ops[] = {
    { "DescribeStream", strm_describe_stream, 0 },
    { "GetRecords", strm_get_records, 0 },
    { "GetShardIterator", strm_get_shard_iterator, 0 },
    { "ListStreams", strm_list_streams, 0 },
};

int strm_new(struct store *st, const char *region, const char *account, struct strm **out,
             struct http_service **svc)
{
    struct strm *s = xcalloc(1, sizeof *s);
    int rc;
    struct store_dbi_req dbis[] = {
        { .name = "strm.streams", .dbi = &s->streams },
        { .name = "strm.records", .dbi = &s->records },
        { .name = "strm.meta", .dbi = &s->meta },
    };

    s->st = st;
    snprintf(s->region, sizeof s->region, "%s", region);
    snprintf(s->account, sizeof s->account, "%s", account);
    rc = store_dbi_open_many(st, dbis, sizeof dbis / sizeof dbis[0]);
    if (rc) {
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->sweep_mu, NULL);
    pthread_cond_init(&s->sweep_cv, NULL);
    s->svc.name = "dynamodbstreams";
    s->svc.proto = HTTP_PROTO_JSON10;
    s->svc.signing_name = "dynamodb";
    s->svc.target_prefix = "DynamoDBStreams_20120810.";
    s->svc.error_ns = "com.amazonaws.dynamodb.v20120810#";
    s->svc.ops = strm_ops;
    s->svc.n_ops = sizeof strm_ops / sizeof strm_ops[0];
    s->svc.max_body = 1024 * 1024;
    s->svc.ctx = s;
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s) == 0) {
        s->sweeper_started = true;
    }
    *out = s;
    *svc = &s->svc;
    return 0;
}

void strm_free(struct strm *s)
{
    if (!s) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&s->sweep_mu);
    s->sweep_stop = true;
    pthread_cond_broadcast(&s->sweep_cv);
    pthread_mutex_unlock(&s->sweep_mu);
    if (s->sweeper_started) {
        pthread_join(s->sweeper, NULL);
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->sweep_mu);
    pthread_cond_destroy(&s->sweep_cv);
    free(s);
}
