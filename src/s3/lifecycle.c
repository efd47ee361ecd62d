/*
 * lifecycle.c: S3 lifecycle rules: Put/Get/DeleteBucketLifecycleConfiguration, and the
 * sweeper, a background thread that applies the rules: Expiration (Days or Date) of current
 * versions, ExpiredObjectDeleteMarker, NoncurrentVersionExpiration, and
 * AbortIncompleteMultipartUpload.
 *
 * What it is not: storage classes (Transition rules are accepted and do nothing: sluice has
 * one class) or replication.
 *
 * A sweep (every --s3-lifecycle-interval seconds): for each bucket with a configuration, a
 * read transaction walks its objects, versions and uploads and notes what a rule says is due
 * (at most SWEEP_MAX actions a sweep, the rest in the next); then writer ops, 100 actions
 * each, do them, each action checking first that the version it names is still the one
 * noted (a write in between wins), and Object Lock still applies (a locked version is not
 * expired: the rule waits for its date). A current version that expires in a bucket with
 * versioning gets a delete marker, as on S3. Days are --s3-lifecycle-day seconds long (a day
 * by default); S3 rounds an expiry up to the next midnight UTC, sluice does not.
 *
 * The configuration is kept as the XML PutBucketLifecycleConfiguration accepted, checked
 * then (an action per rule, positive days, Enabled or Disabled, at most 1000 rules).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "s3/s3_int.h"

#define RULES_MAX 1000
#define SWEEP_MAX 10000
#define OP_ACTIONS 100

/* ---- rules ---- */

struct lc_rule {
    bool enabled;
    struct sl_str prefix;
    struct sl_str tag_k[S3__TAGS_MAX], tag_v[S3__TAGS_MAX];
    size_t n_tags;
    uint64_t size_gt, size_lt;      /* 0: none */
    long exp_days;                  /* 0: none */
    int64_t exp_date;               /* seconds; 0: none */
    bool expired_marker;
    long noncurrent_days;
    long abort_days;
    bool has_action;
};

struct lc_config {
    struct lc_rule *rules;          /* arena */
    size_t n;
    struct lc_rule cur;
    const char *bad;
    struct arena *a;
    struct sl_str tag_k;
};

static int lc_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    struct lc_config *c = ctx;
    struct lc_rule *r = &c->cur;
    const char *p;

    if (strncmp(path, "LifecycleConfiguration/Rule", 27) != 0) {
        return 0;
    }
    p = path + 27;
    if (strcmp(p, "/Status") == 0) {
        if (!sl_str_eq_c(text, "Enabled") && !sl_str_eq_c(text, "Disabled")) {
            return -1;
        }
        r->enabled = sl_str_eq_c(text, "Enabled");
    }
    else if (strcmp(p, "/Prefix") == 0 || strcmp(p, "/Filter/Prefix") == 0 ||
             strcmp(p, "/Filter/And/Prefix") == 0) {
        r->prefix = (struct sl_str){ arena_strndup(c->a, text.p, text.len), text.len };
    }
    else if (strcmp(p, "/Filter/Tag/Key") == 0 || strcmp(p, "/Filter/And/Tag/Key") == 0) {
        c->tag_k = (struct sl_str){ arena_strndup(c->a, text.p, text.len), text.len };
    }
    else if (strcmp(p, "/Filter/Tag/Value") == 0 || strcmp(p, "/Filter/And/Tag/Value") == 0) {
        if (r->n_tags == S3__TAGS_MAX) {
            return -1;
        }
        r->tag_k[r->n_tags] = c->tag_k;
        r->tag_v[r->n_tags++] = (struct sl_str){ arena_strndup(c->a, text.p, text.len),
                                                 text.len };
    }
    else if (strcmp(p, "/Filter/ObjectSizeGreaterThan") == 0 ||
             strcmp(p, "/Filter/And/ObjectSizeGreaterThan") == 0) {
        r->size_gt = (uint64_t)s3__xml_long(text);
    }
    else if (strcmp(p, "/Filter/ObjectSizeLessThan") == 0 ||
             strcmp(p, "/Filter/And/ObjectSizeLessThan") == 0) {
        r->size_lt = (uint64_t)s3__xml_long(text);
    }
    else if (strcmp(p, "/Expiration/Days") == 0) {
        r->exp_days = s3__xml_long(text);
        r->has_action = true;
        if (r->exp_days < 1) {
            c->bad = "'Days' for Expiration action must be a positive integer";
            return -1;
        }
    }
    else if (strcmp(p, "/Expiration/Date") == 0) {
        uint64_t ms;
        char *s = arena_strndup(c->a, text.p, text.len);
        if (s3__iso_parse_ms(s, &ms) != 0) {
            c->bad = "Invalid date";
            return -1;
        }
        r->exp_date = (int64_t)(ms / 1000);
        r->has_action = true;
    }
    else if (strcmp(p, "/Expiration/ExpiredObjectDeleteMarker") == 0) {
        r->expired_marker = sl_str_eq_c(text, "true");
        r->has_action = true;
    }
    else if (strcmp(p, "/NoncurrentVersionExpiration/NoncurrentDays") == 0) {
        r->noncurrent_days = s3__xml_long(text);
        r->has_action = true;
        if (r->noncurrent_days < 1) {
            c->bad = "'NoncurrentDays' for NoncurrentVersionExpiration action must be a "
                     "positive integer";
            return -1;
        }
    }
    else if (strcmp(p, "/AbortIncompleteMultipartUpload/DaysAfterInitiation") == 0) {
        r->abort_days = s3__xml_long(text);
        r->has_action = true;
        if (r->abort_days < 1) {
            c->bad = "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be "
                     "a positive integer";
            return -1;
        }
    }
    else if (strncmp(p, "/Transition", 11) == 0 ||
             strncmp(p, "/NoncurrentVersionTransition", 28) == 0) {
        r->has_action = true; /* one storage class here: nothing to move */
    }
    else if (p[0] == '\0') {
        if (!r->has_action) {
            c->bad = "At least one action needs to be specified in a rule";
            return -1;
        }
        if (c->n == RULES_MAX) {
            c->bad = "The number of lifecycle rules should not exceed allowed limit of 1000 "
                     "rules";
            return -1;
        }
        c->rules[c->n++] = *r;
        memset(r, 0, sizeof *r);
    }
    return 0;
}

/* Parses a configuration into c (arena a). Returns 0 or -1 (c->bad may say why). */
static int lc_parse(const char *p, size_t n, struct arena *a, struct lc_config *c)
{
    memset(c, 0, sizeof *c);
    c->a = a;
    c->rules = arena_alloc(a, RULES_MAX * sizeof *c->rules);
    return s3__xml_parse(p, n, "LifecycleConfiguration", lc_xml_cb, c) == 0 ? 0 : -1;
}

static bool has_tag(struct sl_str tags, struct sl_str k, struct sl_str v)
{
    const unsigned char *p = (const unsigned char *)tags.p + 2;
    size_t n = s3__tags_count(tags);
    for (size_t i = 0; i < n; i++) {
        size_t kl = (size_t)p[0] | (size_t)p[1] << 8, vl;
        const unsigned char *q = p + 2 + kl;
        vl = (size_t)q[0] | (size_t)q[1] << 8;
        if (sl_str_eq((struct sl_str){ (const char *)p + 2, kl }, k) &&
            sl_str_eq((struct sl_str){ (const char *)q + 2, vl }, v)) {
            return true;
        }
        p = q + 2 + vl;
    }
    return false;
}

static bool rule_matches(const struct lc_rule *r, const struct s3__obj *o)
{
    if (!r->enabled || o->key.len < r->prefix.len ||
        (r->prefix.len && memcmp(o->key.p, r->prefix.p, r->prefix.len) != 0)) {
        return false;
    }
    for (size_t i = 0; i < r->n_tags; i++) {
        if (!has_tag(o->tags, r->tag_k[i], r->tag_v[i])) {
            return false;
        }
    }
    return (!r->size_gt || o->size > r->size_gt) && (!r->size_lt || o->size < r->size_lt);
}

/* ---- Put/Get/DeleteBucketLifecycleConfiguration ---- */

int s3__lifecycle_check_or_reply(struct http_req *r)
{
    struct lc_config c;

    if (lc_parse(r->body.p, r->body.len, &r->arena, &c) < 0) {
        return c.bad ? http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "%s", c.bad)
                     : http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    if (c.n == 0) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    return 0;
}

int s3_put_bucket_lifecycle(struct http_req *r)
{
    if (s3__lifecycle_check_or_reply(r) < 0) {
        return -1;
    }
    return s3__cfg_put_or_reply(r, S3__CFG_LIFECYCLE,
                                (struct sl_str){ arena_strndup(&r->arena, r->body.p,
                                                               r->body.len),
                                                 r->body.len },
                                200);
}

int s3_delete_bucket_lifecycle(struct http_req *r)
{
    return s3__cfg_put_or_reply(r, S3__CFG_LIFECYCLE, SL_STR_NULL, 204);
}

int s3_get_bucket_lifecycle(struct http_req *r)
{
    return s3__cfg_reply_or_reply(r, S3__CFG_LIFECYCLE, AWSERR_S3_NO_LIFECYCLE, "application/xml", "GetBucketLifecycleConfiguration");
}

/* ---- the sweeper ---- */

enum lc_kind { LC_EXPIRE, LC_MARKER, LC_NONCURRENT, LC_ABORT };

struct lc_action {
    enum lc_kind kind;
    char *bucket;               /* heap, shared by the bucket's actions (owned by the sweep) */
    struct sl_str key;          /* heap */
    char vid[33];               /* the version the rule saw (LC_EXPIRE: its body check) */
    unsigned char body[16];     /* LC_EXPIRE: the body of the version seen */
    unsigned char upload[16];   /* LC_ABORT */
};

struct lc_sweep {
    struct lc_action *a;
    size_t n, cap;
    char **buckets;
    size_t n_buckets;
};

static void add_action(struct lc_sweep *sw, enum lc_kind kind, char *bucket,
                       const struct s3__obj *o, const unsigned char *upload)
{
    struct lc_action *x;
    if (sw->n == sw->cap) {
        sw->cap = sw->cap ? sw->cap * 2 : 64;
        sw->a = xrealloc(sw->a, sw->cap * sizeof *sw->a);
    }
    x = &sw->a[sw->n++];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->bucket = bucket;
    x->key = (struct sl_str){ xstrndup(o->key.p, o->key.len), o->key.len };
    s3__vid_str(o, x->vid);
    memcpy(x->body, o->body, 16);
    if (upload) {
        memcpy(x->upload, upload, 16);
    }
}

/* Notes what the rules say is due in one bucket. */
static int scan_bucket(struct s3 *s3, MDB_txn *txn, char *bucket, const struct lc_config *c,
                       struct lc_sweep *sw)
{
    int64_t now = (int64_t)(s3__now_ms() / 1000), day = (int64_t)s3->lc_day;
    size_t bl = strlen(bucket);
    struct s3__iter it;
    struct s3__obj o;
    MDB_cursor *vc = NULL, *uc = NULL;
    int rc = s3__iter_init(&it, s3, txn, bucket);

    if (rc == 0) {
        rc = mdb_cursor_open(txn, s3->versions, &vc);
    }
    if (rc == 0) {
        rc = s3__iter_seek(&it, SL_STR_NULL, false);
    }
    while (rc == 0 && sw->n < SWEEP_MAX) {
        const struct lc_rule *rule = NULL;
        unsigned char lk[S3__LMDB_KEY_MAX];
        size_t ln;
        MDB_val k, v;
        uint64_t newer_ms;
        bool has_noncurrent = false;
        rc = s3__iter_next(&it, &o);
        if (rc != 0) {
            break;
        }
        for (size_t i = 0; i < c->n && !rule; i++) {
            rule = rule_matches(&c->rules[i], &o) ? &c->rules[i] : NULL;
        }
        if (!rule) {
            continue;
        }
        /* Noncurrent versions: a version became noncurrent when the next newer was made. */
        newer_ms = o.mtime_ms;
        ln = s3__objkey(bucket, o.key, lk);
        k = (MDB_val){ ln, lk };
        for (int g = mdb_cursor_get(vc, &k, &v, MDB_SET_RANGE); g == 0;
             g = mdb_cursor_get(vc, &k, &v, MDB_NEXT)) {
            struct s3__obj nv;
            if (k.mv_size < ln || memcmp(k.mv_data, lk, ln) != 0) {
                break;
            }
            if (k.mv_size != ln + 16 ||
                s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, ln, bl, &nv) != 0 ||
                !sl_str_eq(nv.key, o.key)) {
                continue;
            }
            has_noncurrent = true;
            if (rule->noncurrent_days &&
                now >= (int64_t)(newer_ms / 1000) + rule->noncurrent_days * day &&
                s3__lock_check(&nv, false, s3__now_ms()) == 0) {
                add_action(sw, LC_NONCURRENT, bucket, &nv, NULL);
            }
            newer_ms = nv.mtime_ms;
        }
        if (o.delete_marker) {
            if (rule->expired_marker && !has_noncurrent) {
                add_action(sw, LC_MARKER, bucket, &o, NULL);
            }
            continue;
        }
        if ((rule->exp_days && now >= (int64_t)(o.mtime_ms / 1000) + rule->exp_days * day) ||
            (rule->exp_date && now >= rule->exp_date)) {
            add_action(sw, LC_EXPIRE, bucket, &o, NULL);
        }
    }
    if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    /* Uploads in progress. */
    if (rc == 0) {
        rc = mdb_cursor_open(txn, s3->uploads, &uc);
    }
    if (rc == 0) {
        unsigned char pfx[S3_BUCKET_NAME_MAX + 1];
        MDB_val k = { bl + 1, pfx }, v;
        memcpy(pfx, bucket, bl);
        pfx[bl] = 0;
        for (int g = mdb_cursor_get(uc, &k, &v, MDB_SET_RANGE); g == 0 && sw->n < SWEEP_MAX;
             g = mdb_cursor_get(uc, &k, &v, MDB_NEXT)) {
            struct s3__obj u;
            if (k.mv_size < bl + 17 || memcmp(k.mv_data, pfx, bl + 1) != 0) {
                break;
            }
            if (s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size, bl, &u) != 0) {
                continue;
            }
            for (size_t i = 0; i < c->n; i++) {
                const struct lc_rule *r = &c->rules[i];
                if (r->enabled && r->abort_days && u.key.len >= r->prefix.len &&
                    (!r->prefix.len || memcmp(u.key.p, r->prefix.p, r->prefix.len) == 0) &&
                    now >= (int64_t)(u.mtime_ms / 1000) + r->abort_days * day) {
                    add_action(sw, LC_ABORT, bucket, &u,
                               (const unsigned char *)k.mv_data + k.mv_size - 16);
                    break;
                }
            }
        }
    }
    if (uc) {
        mdb_cursor_close(uc);
    }
    if (vc) {
        mdb_cursor_close(vc);
    }
    s3__iter_release(&it);
    return rc;
}

struct lc_op {
    struct store_op base;
    struct s3 *s3;
    struct lc_action *a;
    size_t n;
    struct s3__ids unlink;
    size_t done;                /* actions that did something, set by apply */
};

static int lc_apply(struct store_op *op, MDB_txn *txn)
{
    struct lc_op *l = (struct lc_op *)op;

    l->unlink.n = 0;
    l->done = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct lc_action *x = &l->a[i];
        struct s3__del_result res;
        struct s3__obj cur;
        int rc;
        if (!s3__bucket_exists(l->s3, txn, x->bucket, NULL)) {
            continue;
        }
        switch (x->kind) {
        case LC_EXPIRE: {
            char vid[33];
            /* Only if the current version is still the one the rule saw. */
            rc = s3__object_lookup(l->s3, txn, x->bucket, x->key, &cur);
            if (rc == S3_ENOKEY || rc == S3_ENOBUCKET) {
                continue;
            }
            if (rc != 0) {
                return rc;
            }
            s3__vid_str(&cur, vid);
            if (cur.delete_marker || memcmp(cur.body, x->body, 16) != 0 ||
                strcmp(vid, x->vid) != 0) {
                continue;
            }
            rc = s3__delete_one(l->s3, txn, x->bucket, s3__versioning(l->s3, txn, x->bucket),
                                x->key, NULL, false, &l->unlink, &res, NULL);
            break;
        }
        case LC_MARKER:
        case LC_NONCURRENT:
            rc = s3__delete_one(l->s3, txn, x->bucket, S3__VER_ENABLED, x->key, x->vid, false,
                                &l->unlink, &res, NULL);
            break;
        case LC_ABORT:
            rc = s3__upload_drop(l->s3, txn, x->bucket, x->key, x->upload, &l->unlink);
            if (rc == S3__ENOUPLOAD) {
                continue;
            }
            break;
        default:
            continue;
        }
        if (rc != 0) {
            return rc;
        }
        l->done++;
    }
    return 0;
}

static void sweep_once(struct s3 *s3)
{
    struct lc_sweep sw;
    struct arena a;
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t expired = 0;
    int rc;

    memset(&sw, 0, sizeof sw);
    arena_init(&a);
    rc = store_read_begin(s3->st, &txn);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, s3->config, &cur);
    }
    for (rc = rc ? rc : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && sw.n < SWEEP_MAX;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const unsigned char *kp = k.mv_data;
        struct lc_config c;
        char *bucket;
        if (k.mv_size < 3 || kp[k.mv_size - 1] != S3__CFG_LIFECYCLE || kp[k.mv_size - 2] != 0) {
            continue;
        }
        if (lc_parse(v.mv_data, v.mv_size, &a, &c) < 0) {
            continue;
        }
        bucket = xstrndup((const char *)kp, k.mv_size - 2);
        sw.buckets = xrealloc(sw.buckets, (sw.n_buckets + 1) * sizeof *sw.buckets);
        sw.buckets[sw.n_buckets++] = bucket;
        if (scan_bucket(s3, txn, bucket, &c, &sw) != 0) {
            log_warn("s3", "lifecycle: bucket %s could not be scanned", bucket);
        }
    }
    if (cur) {
        mdb_cursor_close(cur);
    }
    if (txn) {
        store_read_end(s3->st, txn);
    }
    arena_clear(&a);
    for (size_t i = 0; i < sw.n; i += OP_ACTIONS) {
        struct lc_op op;
        memset(&op, 0, sizeof op);
        op.base.apply = lc_apply;
        op.s3 = s3;
        op.a = sw.a + i;
        op.n = sw.n - i < OP_ACTIONS ? sw.n - i : OP_ACTIONS;
        rc = store_submit_wait(s3->st, &op.base);
        if (rc == 0) {
            s3__ids_unlink(s3, &op.unlink);
            expired += op.done;
        }
        else {
            log_warn("s3", "lifecycle: %s", s3_strerror(rc));
        }
        free(op.unlink.ids);
        if (rc == STORE_CLOSED) {
            break;
        }
    }
    if (expired) {
        log_info("s3", "lifecycle: %zu version%s, marker%s or upload%s expired", expired,
                 expired == 1 ? "" : "s", expired == 1 ? "" : "s", expired == 1 ? "" : "s");
    }
    for (size_t i = 0; i < sw.n; i++) {
        free((char *)sw.a[i].key.p);
    }
    for (size_t i = 0; i < sw.n_buckets; i++) {
        free(sw.buckets[i]);
    }
    free(sw.buckets);
    free(sw.a);
}

/* The background thread: notifications as they commit (woken by s3__events_kick(), and
 * every 250 ms for those a failure left), lifecycle sweeps every lc_interval seconds. */
static void *sweeper_main(void *arg)
{
    struct s3 *s3 = arg;
    uint64_t next_sweep = s3__now_ms() + (uint64_t)s3->lc_interval * 1000;

    pthread_mutex_lock(&s3->jobs_lock);
    while (!s3->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 250 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s3->lc_cond, &s3->jobs_lock, &ts);
        if (s3->stopping) {
            break;
        }
        pthread_mutex_unlock(&s3->jobs_lock);
        while (s3__events_deliver(s3) > 0 && !s3->stopping) {
        }
        if (s3__now_ms() >= next_sweep) {
            sweep_once(s3);
            next_sweep = s3__now_ms() + (uint64_t)s3->lc_interval * 1000;
        }
        pthread_mutex_lock(&s3->jobs_lock);
    }
    pthread_mutex_unlock(&s3->jobs_lock);
    return NULL;
}

int s3_lifecycle_start(struct s3 *s3, unsigned interval_s, unsigned day_s)
{
    int rc;
    s3->lc_interval = interval_s ? interval_s : 60;
    s3->lc_day = day_s ? day_s : 86400;
    rc = pthread_create(&s3->lc_thread, NULL, sweeper_main, s3);
    if (rc != 0) {
        return -rc;
    }
    s3->lc_running = true;
    return 0;
}

void s3__lifecycle_stop(struct s3 *s3)
{
    if (!s3->lc_running) {
        return;
    }
    pthread_mutex_lock(&s3->jobs_lock);
    s3->stopping = true;
    pthread_cond_broadcast(&s3->lc_cond);
    pthread_mutex_unlock(&s3->jobs_lock);
    pthread_join(s3->lc_thread, NULL);
    s3->lc_running = false;
}
