/*
 * notify.c: S3 event notifications to Lambda: Put/GetBucketNotificationConfiguration
 * (LambdaFunctionConfigurations, i.e. CloudFunctionConfiguration elements, with events and
 * prefix/suffix filters), the events written with the changes that cause them, and the
 * notifier thread that hands them to the function through the callback main.c registers.
 *
 * What it is not: Lambda. S3 is on floor 2 and Lambda on floor 3, so S3 only calls the
 * s3_notify_fn given to s3_set_notifier() (main.c wires it to lam_invoke_event(), which
 * queues an asynchronous invocation durably, with Lambda's retries).
 *
 * At-least-once: an event is written in the writer op that commits the change (s3.events,
 * keyed by a sequence the writer assigns, which is also the event's "sequencer"), so a change
 * that committed has its event even across a crash. The notifier thread reads events in
 * order, hands each to the callback, and deletes those the callback queued (or refused for
 * good, a function that does not exist: logged and dropped, as S3 drops what it cannot
 * deliver); one that failed for now (Lambda shutting down) stays for the next round.
 *
 * Event JSON: AWS's S3 event message structure, version 2.1 (one record per event; the key
 * URL-encoded as S3 encodes it, spaces as '+').
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "s3/s3_int.h"

#define BATCH 100
#define CONFIGS_MAX 100

/* ---- configuration ---- */

struct ncfg {
    char *id;
    char *arn;
    unsigned events;            /* bits of enum s3__event */
    struct sl_str prefix, suffix;
};

struct nparse {
    struct arena *a;
    struct ncfg cfgs[CONFIGS_MAX];
    size_t n;
    struct ncfg cur;
    struct sl_str rule_name;
    bool other;                 /* a Topic or Queue configuration: not served */
    bool bad_event;
};

static const struct {
    const char *name;
    unsigned bits;
} event_names[] = {
    { "s3:ObjectCreated:*", S3__EV_PUT | S3__EV_POST | S3__EV_COPY | S3__EV_COMPLETE },
    { "s3:ObjectCreated:Put", S3__EV_PUT },
    { "s3:ObjectCreated:Post", S3__EV_POST },
    { "s3:ObjectCreated:Copy", S3__EV_COPY },
    { "s3:ObjectCreated:CompleteMultipartUpload", S3__EV_COMPLETE },
    { "s3:ObjectRemoved:*", S3__EV_DELETE | S3__EV_MARKER },
    { "s3:ObjectRemoved:Delete", S3__EV_DELETE },
    { "s3:ObjectRemoved:DeleteMarkerCreated", S3__EV_MARKER },
};

const char *s3__event_name(unsigned ev)
{
    switch (ev) {
    case S3__EV_PUT:
        return "ObjectCreated:Put";
    case S3__EV_POST:
        return "ObjectCreated:Post";
    case S3__EV_COPY:
        return "ObjectCreated:Copy";
    case S3__EV_COMPLETE:
        return "ObjectCreated:CompleteMultipartUpload";
    case S3__EV_DELETE:
        return "ObjectRemoved:Delete";
    default:
        return "ObjectRemoved:DeleteMarkerCreated";
    }
}

static int ncfg_cb(void *ctx, const char *path, struct sl_str text)
{
    struct nparse *np = ctx;
    const char *p;

    if (strncmp(path, "NotificationConfiguration/TopicConfiguration", 44) == 0 ||
        strncmp(path, "NotificationConfiguration/QueueConfiguration", 44) == 0) {
        np->other = true;
        return 0;
    }
    if (strncmp(path, "NotificationConfiguration/CloudFunctionConfiguration", 52) != 0) {
        return 0;
    }
    p = path + 52;
    if (strcmp(p, "/Id") == 0) {
        np->cur.id = arena_strndup(np->a, text.p, text.len);
    }
    else if (strcmp(p, "/CloudFunction") == 0) {
        np->cur.arn = arena_strndup(np->a, text.p, text.len);
    }
    else if (strcmp(p, "/Event") == 0) {
        unsigned bits = 0;
        for (size_t i = 0; i < sizeof event_names / sizeof event_names[0]; i++) {
            if (sl_str_eq_c(text, event_names[i].name)) {
                bits = event_names[i].bits;
            }
        }
        np->bad_event = np->bad_event || !bits;
        np->cur.events |= bits;
    }
    else if (strcmp(p, "/Filter/S3Key/FilterRule/Name") == 0) {
        np->rule_name = text.len == 6 && strncasecmp(text.p, "prefix", 6) == 0
                            ? SL_STR_LIT("prefix")
                        : text.len == 6 && strncasecmp(text.p, "suffix", 6) == 0
                            ? SL_STR_LIT("suffix")
                            : SL_STR_NULL;
        if (!np->rule_name.p) {
            return -1;
        }
    }
    else if (strcmp(p, "/Filter/S3Key/FilterRule/Value") == 0) {
        struct sl_str v = { arena_strndup(np->a, text.p, text.len), text.len };
        if (sl_str_eq_c(np->rule_name, "prefix")) {
            np->cur.prefix = v;
        }
        else {
            np->cur.suffix = v;
        }
    }
    else if (p[0] == '\0') {
        if (!np->cur.arn || (!np->cur.events && !np->bad_event) || np->n == CONFIGS_MAX) {
            return -1;
        }
        if (!np->cur.id) {
            np->cur.id = arena_printf(np->a, "notification-%zu", np->n + 1);
        }
        np->cfgs[np->n++] = np->cur;
        memset(&np->cur, 0, sizeof np->cur);
    }
    return 0;
}

static int nparse(const char *p, size_t n, struct arena *a, struct nparse *np)
{
    memset(np, 0, sizeof *np);
    np->a = a;
    return s3__xml_parse(p, n, "NotificationConfiguration", ncfg_cb, np);
}

int s3__notification_check_or_reply(struct http_req *r, bool *empty)
{
    struct nparse np;

    if (nparse(r->body.p, r->body.len, &r->arena, &np) != 0) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    if (np.bad_event) {
        return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "The event is not supported for "
                                                            "notifications");
    }
    if (np.other) {
        return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                             "Unable to validate the following destination configurations: "
                             "sluice delivers S3 notifications to Lambda functions only");
    }
    *empty = np.n == 0;
    return 0;
}

int s3_put_bucket_notification(struct http_req *r)
{
    bool empty;

    if (s3__notification_check_or_reply(r, &empty) < 0) {
        return -1;
    }
    /* An empty configuration turns notifications off. */
    return s3__cfg_put_or_reply(r, S3__CFG_NOTIFICATION,
                                !empty ? (struct sl_str){ arena_strndup(&r->arena, r->body.p,
                                                                      r->body.len),
                                                        r->body.len }
                                     : SL_STR_NULL,
                                200);
}

int s3_get_bucket_notification(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    struct sl_str v;
    MDB_txn *txn;
    int rc = store_read_begin(s3->st, &txn);
    const char *empty = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<NotificationConfiguration xmlns=\"" S3__XMLNS "\"/>";

    if (rc != 0) {
        return s3__internal_or_reply(r, "GetBucketNotificationConfiguration", rc);
    }
    if (s3__bucket_check_or_reply(r, txn, t->bucket) < 0) {
        store_read_end(s3->st, txn);
        return -1;
    }
    rc = s3__cfg_get(s3, txn, t->bucket, S3__CFG_NOTIFICATION, &v);
    if (rc == 0) {
        v.p = arena_strndup(&r->arena, v.p, v.len);
    }
    store_read_end(s3->st, txn);
    if (rc == MDB_NOTFOUND) {
        return http_reply(r, 200, "application/xml", empty, strlen(empty));
    }
    if (rc != 0) {
        return s3__internal_or_reply(r, "GetBucketNotificationConfiguration", rc);
    }
    return http_reply(r, 200, "application/xml", v.p, v.len);
}

/* ---- events, written by writer ops ---- */

static bool cfg_matches(const struct ncfg *c, unsigned ev, struct sl_str key)
{
    return (c->events & ev) && key.len >= c->prefix.len + c->suffix.len &&
           (!c->prefix.len || memcmp(key.p, c->prefix.p, c->prefix.len) == 0) &&
           (!c->suffix.len || memcmp(key.p + key.len - c->suffix.len, c->suffix.p,
                                     c->suffix.len) == 0);
}

/* S3's key in events: form URL-encoding (space as '+'). */
static char *event_key(struct arena *a, struct sl_str key)
{
    char *out = arena_alloc(a, 3 * key.len + 1), *q = out;
    for (size_t i = 0; i < key.len; i++) {
        unsigned char c = (unsigned char)key.p[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || c == '/' || c == '*') {
            *q++ = (char)c;
        }
        else if (c == ' ') {
            *q++ = '+';
        }
        else {
            snprintf(q, 4, "%%%02X", c);
            q += 3;
        }
    }
    *q = '\0';
    return out;
}

int s3__events_record(struct s3 *s3, MDB_txn *txn, const char *bucket, unsigned ev,
                      const struct s3__obj *o, const char *who)
{
    struct sl_str cfg;
    struct nparse np;
    struct arena a;
    int rc;

    store_assert_writer(s3->st);
    if (s3__cfg_get(s3, txn, bucket, S3__CFG_NOTIFICATION, &cfg) != 0) {
        return 0;
    }
    arena_init(&a);
    rc = nparse(cfg.p, cfg.len, &a, &np);
    for (size_t i = 0; rc == 0 && i < np.n; i++) {
        const struct ncfg *c = &np.cfgs[i];
        unsigned char k[8];
        char seq[17], iso[25], etag[S3__ETAG_MAX], vid[33];
        json_t *rec, *obj, *root;
        char *text;
        size_t alen = strlen(c->arn);
        MDB_val kv = { 8, k }, vv;
        if (!cfg_matches(c, ev, o->key)) {
            continue;
        }
        s3->ev_seq++;
        for (int b = 0; b < 8; b++) {
            k[b] = (unsigned char)(s3->ev_seq >> (56 - 8 * b));
        }
        snprintf(seq, sizeof seq, "%016llX", (unsigned long long)s3->ev_seq);
        s3__time_iso(s3__now_ms(), iso);
        obj = json_pack("{s:s, s:s}", "key", event_key(&a, o->key), "sequencer", seq);
        if (ev & (S3__EV_PUT | S3__EV_POST | S3__EV_COPY | S3__EV_COMPLETE)) {
            s3__obj_etag(o, etag);
            etag[strlen(etag) - 1] = '\0';
            json_object_set_new(obj, "size", json_integer((json_int_t)o->size));
            json_object_set_new(obj, "eTag", json_string(etag + 1));
        }
        if (o->has_vsk) {
            s3__vid_str(o, vid);
            json_object_set_new(obj, "versionId", json_string(vid));
        }
        rec = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:s, s:{s:s, "
            "s:{s:s}, s:s}, s:o}}",
            "eventVersion", "2.1", "eventSource", "aws:s3", "awsRegion", s3->region,
            "eventTime", iso, "eventName", s3__event_name(ev), "userIdentity", "principalId",
            who && who[0] ? arena_printf(&a, "AWS:%s", who) : "anonymous",
            "requestParameters", "sourceIPAddress", "127.0.0.1", "responseElements",
            "x-amz-request-id", seq, "x-amz-id-2", seq, "s3", "s3SchemaVersion", "1.0",
            "configurationId", c->id, "bucket", "name", bucket, "ownerIdentity", "principalId",
            s3->owner_id, "arn", arena_printf(&a, "arn:aws:s3:::%s", bucket), "object", obj);
        root = json_pack("{s:[o]}", "Records", rec);
        text = root ? json_dumps(root, JSON_COMPACT) : NULL;
        json_decref(root);
        if (!text) {
            rc = -ENOMEM;
            break;
        }
        /* value: u16 ARN length, ARN, the event JSON */
        {
            size_t tl = strlen(text);
            unsigned char *val = xmalloc(2 + alen + tl);
            val[0] = (unsigned char)alen;
            val[1] = (unsigned char)(alen >> 8);
            memcpy(val + 2, c->arn, alen);
            memcpy(val + 2 + alen, text, tl);
            vv = (MDB_val){ 2 + alen + tl, val };
            rc = mdb_put(txn, s3->events, &kv, &vv, 0);
            free(val);
        }
        free(text);
        s3->ev_pending = true;
    }
    arena_clear(&a);
    return rc;
}

/* ---- the notifier ---- */

void s3_set_notifier(struct s3 *s3, s3_notify_fn fn, void *ctx)
{
    s3->notify = fn;
    s3->notify_ctx = ctx;
}

void s3__events_kick(struct s3 *s3)
{
    /* Without the lock (the writer calls this): a wake-up lost to a thread not yet waiting
     * is made up by its 250 ms timeout. */
    pthread_cond_broadcast(&s3->lc_cond);
}

struct drop_op {
    struct store_op base;
    struct s3 *s3;
    unsigned char (*keys)[8];
    size_t n;
};

static int drop_apply(struct store_op *op, MDB_txn *txn)
{
    struct drop_op *d = (struct drop_op *)op;
    for (size_t i = 0; i < d->n; i++) {
        MDB_val k = { 8, d->keys[i] };
        int rc = mdb_del(txn, d->s3->events, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
    }
    return 0;
}

/* One round: hands up to BATCH events to the callback. Returns how many were handled. */
size_t s3__events_deliver(struct s3 *s3)
{
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    struct {
        unsigned char key[8];
        char *arn;
        char *json;
        size_t len;
    } ev[BATCH];
    unsigned char keys[BATCH][8];
    size_t n = 0, done = 0;
    int rc;

    if (!s3->notify || store_read_begin(s3->st, &txn) != 0) {
        return 0;
    }
    rc = mdb_cursor_open(txn, s3->events, &cur);
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && n < BATCH;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *p = v.mv_data;
        size_t al;
        if (k.mv_size != 8 || v.mv_size < 2) {
            continue;
        }
        al = (size_t)p[0] | (size_t)p[1] << 8;
        if (v.mv_size < 2 + al) {
            continue;
        }
        memcpy(ev[n].key, k.mv_data, 8);
        ev[n].arn = xstrndup((const char *)p + 2, al);
        ev[n].len = v.mv_size - 2 - al;
        ev[n].json = xstrndup((const char *)p + 2 + al, ev[n].len);
        n++;
    }
    if (cur) {
        mdb_cursor_close(cur);
    }
    store_read_end(s3->st, txn);
    for (size_t i = 0; i < n; i++) {
        int nrc = s3->notify(s3->notify_ctx, ev[i].arn, ev[i].json, ev[i].len);
        if (nrc == 0 || nrc == S3_ENOTIFY_DROP) {
            if (nrc != 0) {
                log_warn("s3", "notification for %s dropped: the function cannot take it",
                         ev[i].arn);
            }
            memcpy(keys[done++], ev[i].key, 8);
        }
        free(ev[i].arn);
        free(ev[i].json);
    }
    if (done) {
        struct drop_op d;
        memset(&d, 0, sizeof d);
        d.base.apply = drop_apply;
        d.s3 = s3;
        d.keys = keys;
        d.n = done;
        store_submit_wait(s3->st, &d.base);
    }
    return done;
}

int s3__events_init(struct s3 *s3)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = store_read_begin(s3->st, &txn);

    if (rc != 0) {
        return rc;
    }
    /* The sequence goes on from the last event kept. */
    rc = mdb_cursor_open(txn, s3->events, &cur);
    if (rc == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) {
            const unsigned char *p = k.mv_data;
            for (int b = 0; b < 8; b++) {
                s3->ev_seq = (s3->ev_seq << 8) | p[b];
            }
            s3->ev_pending = true;
        }
        mdb_cursor_close(cur);
    }
    store_read_end(s3->st, txn);
    /* Sequencers stay increasing across restarts even when no event was kept. */
    if (s3->ev_seq < s3__now_ms() << 16) {
        s3->ev_seq = s3__now_ms() << 16;
    }
    return rc;
}
