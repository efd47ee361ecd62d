/*
 * version.c: S3 versioning and Object Lock: the bucket's versioning state
 * (Put/GetBucketVersioning), versions in the writer ops that replace or delete objects,
 * reads of a version, ListObjectVersions, and Object Lock (Put/GetObjectLockConfiguration,
 * Put/GetObjectRetention, Put/GetObjectLegalHold, the refusals that keep a locked version).
 *
 * What it is not: the puts and deletes themselves (object.c, delete.c), which call in here.
 *
 * Layout (docs/formats.md, "S3 versions"): s3.objects keeps every key's current version
 * (which may be a delete marker); s3.versions keeps the others under the object's LMDB key
 * followed by a 16-byte version sort key, newest first. Invariant: a key with any version has
 * its newest one in s3.objects; deleting the current version promotes the newest other one.
 * A bucket that never had versioning writes no version keys and keeps one "null" version per
 * key, as before versioning existed. Version sort keys come from a clock only the writer
 * reads (milliseconds << 20 plus a count, inverted, then 8 random bytes), so within a key
 * they order versions as their writes committed.
 *
 * Object Lock protects versions, not keys: a DELETE without a version id adds a delete
 * marker (allowed), a DELETE of a version under retention (COMPLIANCE, or GOVERNANCE without
 * x-amz-bypass-governance-retention) or legal hold is AccessDenied, and no retention is ever
 * shortened in COMPLIANCE mode.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_int.h"

/* ---- names and keys ---- */

size_t s3__verkey(const char *bucket, struct sl_str key, const unsigned char vsk[16],
                  unsigned char *out)
{
    size_t n = s3__objkey(bucket, key, out);
    memcpy(out + n, vsk, 16);
    return n + 16;
}

void s3__vid_str(const struct s3__obj *o, char out[33])
{
    if (o->null_version || !o->has_vsk) {
        memcpy(out, "null", 5);
        return;
    }
    sl_hex(o->vsk, 16, out);
}

int s3__vid_parse(const char *s, bool *is_null, unsigned char vsk[16])
{
    *is_null = false;
    if (s && strcmp(s, "null") == 0) {
        *is_null = true;
        return 0;
    }
    if (!s || strlen(s) != 32) {
        return -1;
    }
    for (size_t i = 0; i < 16; i++) {
        int hi = sl_hex_digit(s[2 * i]), lo = sl_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }
        vsk[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static bool vid_is(const struct s3__obj *o, bool is_null, const unsigned char vsk[16])
{
    if (is_null) {
        return o->null_version || !o->has_vsk;
    }
    return o->has_vsk && !o->null_version && memcmp(o->vsk, vsk, 16) == 0;
}

void s3__vsk_next(struct s3 *s3, unsigned char vsk[16])
{
    uint64_t t = s3__now_ms() << 20, v;
    unsigned char rnd[16];

    store_assert_writer(s3->st);
    s3->vclock = t > s3->vclock ? t : s3->vclock + 1;
    v = ~s3->vclock;
    for (int i = 0; i < 8; i++) {
        vsk[i] = (unsigned char)(v >> (56 - 8 * i));
    }
    s3__body_id_new(rnd);
    memcpy(vsk + 8, rnd, 8);
}

/* The sort key of a record written before its bucket had versioning: its time. */
static void vsk_legacy(const struct s3__obj *o, unsigned char vsk[16])
{
    uint64_t v = ~(o->mtime_ms << 20);
    for (int i = 0; i < 8; i++) {
        vsk[i] = (unsigned char)(v >> (56 - 8 * i));
    }
    memset(vsk + 8, 0, 8);
}

/* ---- bucket state ---- */

unsigned s3__versioning(struct s3 *s3, MDB_txn *txn, const char *bucket)
{
    struct sl_str v;
    if (s3__cfg_get(s3, txn, bucket, S3__CFG_VERSIONING, &v) != 0 || v.len != 1) {
        return S3__VER_NONE;
    }
    return (unsigned char)v.p[0];
}

int s3__lock_config(struct s3 *s3, MDB_txn *txn, const char *bucket, struct s3__lock_cfg *out)
{
    struct sl_str v;
    memset(out, 0, sizeof *out);
    if (s3__cfg_get(s3, txn, bucket, S3__CFG_LOCK, &v) != 0 || v.len != 6) {
        return 0;
    }
    out->enabled = v.p[0] != 0;
    out->mode = (uint8_t)v.p[1];
    out->days = (uint32_t)(unsigned char)v.p[2] | (uint32_t)(unsigned char)v.p[3] << 8 |
                (uint32_t)(unsigned char)v.p[4] << 16 | (uint32_t)(unsigned char)v.p[5] << 24;
    return 0;
}

int s3__lock_check(const struct s3__obj *o, bool bypass, uint64_t now_ms)
{
    if (o->delete_marker) {
        return 0;
    }
    if (o->legal_hold) {
        return S3__ELOCKED;
    }
    if (o->lock_mode && o->retain_until_ms > now_ms &&
        !(o->lock_mode == S3__LOCK_GOVERNANCE && bypass)) {
        return S3__ELOCKED;
    }
    return 0;
}

/* ---- versions of a key ---- */

/* A copy of an LMDB value, decoded: the writes that follow may move the map's pages. */
struct vcopy {
    unsigned char *rec;
    size_t len;
    struct s3__obj o;
};

static int vcopy_take(struct vcopy *c, const MDB_val *k, const MDB_val *v, size_t blen)
{
    c->rec = xmalloc(v->mv_size ? v->mv_size : 1);
    memcpy(c->rec, v->mv_data, v->mv_size);
    c->len = v->mv_size;
    return s3__obj_decode(c->rec, c->len, k->mv_data, k->mv_size, blen, &c->o);
}

static void vcopy_free(struct vcopy *c)
{
    free(c->rec);
    c->rec = NULL;
}

/* Finds the first noncurrent version of (bucket, key) for which want(o) holds, newest first.
 * Returns 0 with *vk (its LMDB key, S3__VERKEY_MAX bytes) and a copy in *c, MDB_NOTFOUND, or
 * an LMDB code. */
static int version_find(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                        bool (*want)(const struct s3__obj *o, const void *arg), const void *arg,
                        unsigned char *vk, size_t *vk_len, struct vcopy *c)
{
    unsigned char lk[S3__LMDB_KEY_MAX];
    size_t ln = s3__objkey(bucket, key, lk), bl = strlen(bucket);
    MDB_val k = { ln, lk }, v;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s3->versions, &cur);

    if (rc != 0) {
        return rc;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        struct s3__obj o;
        if (k.mv_size < ln || memcmp(k.mv_data, lk, ln) != 0) {
            rc = MDB_NOTFOUND;
            break;
        }
        /* Entries of longer keys that share these bytes sort in between: skip them. */
        if (k.mv_size != ln + 16 ||
            s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, k.mv_size - 16, bl, &o) != 0 ||
            !sl_str_eq(o.key, key) || (want && !want(&o, arg))) {
            continue;
        }
        memcpy(vk, k.mv_data, k.mv_size);
        *vk_len = k.mv_size;
        rc = vcopy_take(c, &k, &v, bl) == 0 ? 0 : -EINVAL;
        break;
    }
    mdb_cursor_close(cur);
    return rc;
}

static bool want_null(const struct s3__obj *o, const void *arg)
{
    (void)arg;
    return o->null_version || !o->has_vsk;
}

struct vid_want {
    bool is_null;
    const unsigned char *vsk;
};

static bool want_vid(const struct s3__obj *o, const void *arg)
{
    const struct vid_want *w = arg;
    return vid_is(o, w->is_null, w->vsk);
}

/* Reads the current record of (bucket, key) into a copy. Returns 0, MDB_NOTFOUND or an LMDB
 * code. */
static int current_get(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                       unsigned char *lk, size_t *ln, struct vcopy *c)
{
    MDB_val k, v;
    int rc;

    *ln = s3__objkey(bucket, key, lk);
    k = (MDB_val){ *ln, lk };
    rc = mdb_get(txn, s3->objects, &k, &v);
    if (rc != 0) {
        return rc;
    }
    if (vcopy_take(c, &k, &v, strlen(bucket)) != 0 || !sl_str_eq(c->o.key, key)) {
        vcopy_free(c);
        return MDB_NOTFOUND;
    }
    return 0;
}

/* Puts a record (the copy c, given a version key if it has none) among the noncurrent. */
static int version_store(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                         struct vcopy *c)
{
    unsigned char vk[S3__VERKEY_MAX];
    MDB_val k, v;
    unsigned char *rec = NULL;
    size_t len = c->len;
    int rc;

    if (!c->o.has_vsk) {
        c->o.has_vsk = true;
        c->o.null_version = true;
        vsk_legacy(&c->o, c->o.vsk);
        c->o.key = key;
        rec = s3__obj_encode(&c->o, &len);
    }
    k = (MDB_val){ s3__verkey(bucket, key, c->o.vsk, vk), vk };
    v = (MDB_val){ len, rec ? rec : c->rec };
    rc = mdb_put(txn, s3->versions, &k, &v, 0);
    free(rec);
    return rc;
}

int s3__version_make_current(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                             struct s3__obj *o, unsigned vstate, struct s3__ids *unlink)
{
    unsigned char lk[S3__LMDB_KEY_MAX], vk[S3__VERKEY_MAX];
    size_t ln, vkl;
    struct vcopy cur = { 0 }, nul = { 0 };
    unsigned char *rec;
    size_t len;
    MDB_val k, v;
    int rc = current_get(s3, txn, bucket, key, lk, &ln, &cur);

    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    if (rc == 0) {
        if (vstate == S3__VER_SUSPENDED && (cur.o.null_version || !cur.o.has_vsk)) {
            /* Suspended: the null version is replaced. */
            rc = s3__body_drop(s3, txn, &cur.o, unlink);
        }
        else {
            rc = version_store(s3, txn, bucket, key, &cur);
        }
        vcopy_free(&cur);
        if (rc != 0) {
            return rc;
        }
    }
    if (vstate == S3__VER_SUSPENDED) {
        /* A key has one null version: an older one among the noncurrent goes. */
        rc = version_find(s3, txn, bucket, key, want_null, NULL, vk, &vkl, &nul);
        if (rc == 0) {
            rc = s3__body_drop(s3, txn, &nul.o, unlink);
            vcopy_free(&nul);
            k = (MDB_val){ vkl, vk };
            rc = rc ? rc : mdb_del(txn, s3->versions, &k, NULL);
        }
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return rc;
        }
    }
    s3__vsk_next(s3, o->vsk);
    o->has_vsk = true;
    o->null_version = vstate == S3__VER_SUSPENDED;
    o->key = key;
    rec = s3__obj_encode(o, &len);
    k = (MDB_val){ ln, lk };
    v = (MDB_val){ len, rec };
    rc = mdb_put(txn, s3->objects, &k, &v, 0);
    free(rec);
    return rc;
}

int s3__version_delete(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                       const char *vid, bool bypass, struct s3__ids *unlink,
                       struct s3__obj *gone)
{
    unsigned char lk[S3__LMDB_KEY_MAX], vk[S3__VERKEY_MAX], vsk[16];
    size_t ln, vkl;
    struct vcopy cur = { 0 }, c = { 0 };
    struct vid_want w = { false, vsk };
    bool is_null;
    MDB_val k, v;
    int rc;

    if (s3__vid_parse(vid, &is_null, vsk) != 0) {
        return S3__ENOVERSION;
    }
    w.is_null = is_null;
    rc = current_get(s3, txn, bucket, key, lk, &ln, &cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    if (rc == 0 && vid_is(&cur.o, is_null, vsk)) {
        rc = s3__lock_check(&cur.o, bypass, s3__now_ms());
        if (rc == 0) {
            *gone = cur.o;
            gone->key = SL_STR_NULL;
            rc = s3__body_drop(s3, txn, &cur.o, unlink);
            k = (MDB_val){ ln, lk };
            rc = rc ? rc : mdb_del(txn, s3->objects, &k, NULL);
        }
        vcopy_free(&cur);
        if (rc != 0) {
            return rc;
        }
        /* The newest other version becomes the current one. */
        rc = version_find(s3, txn, bucket, key, NULL, NULL, vk, &vkl, &c);
        if (rc == MDB_NOTFOUND) {
            return 0;
        }
        if (rc == 0) {
            k = (MDB_val){ vkl, vk };
            rc = mdb_del(txn, s3->versions, &k, NULL);
        }
        if (rc == 0) {
            k = (MDB_val){ ln, lk };
            v = (MDB_val){ c.len, c.rec };
            rc = mdb_put(txn, s3->objects, &k, &v, 0);
        }
        vcopy_free(&c);
        return rc;
    }
    if (rc == 0) {
        vcopy_free(&cur);
    }
    rc = version_find(s3, txn, bucket, key, want_vid, &w, vk, &vkl, &c);
    if (rc == MDB_NOTFOUND) {
        return S3__ENOVERSION;
    }
    if (rc != 0) {
        return rc;
    }
    rc = s3__lock_check(&c.o, bypass, s3__now_ms());
    if (rc == 0) {
        *gone = c.o;
        gone->key = SL_STR_NULL;
        rc = s3__body_drop(s3, txn, &c.o, unlink);
        k = (MDB_val){ vkl, vk };
        rc = rc ? rc : mdb_del(txn, s3->versions, &k, NULL);
    }
    vcopy_free(&c);
    return rc;
}

int s3__version_rewrite(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str key,
                        const char *vid, int (*fn)(struct s3__obj *o, void *ctx), void *ctx)
{
    unsigned char lk[S3__LMDB_KEY_MAX], vk[S3__VERKEY_MAX], vsk[16];
    size_t ln, vkl;
    struct vcopy c = { 0 };
    struct vid_want w = { false, vsk };
    MDB_dbi dbi = s3->objects;
    unsigned char *rec;
    size_t len;
    MDB_val k, v;
    int rc;

    if (vid && s3__vid_parse(vid, &w.is_null, vsk) != 0) {
        return S3__ENOVERSION;
    }
    if (!s3__bucket_exists(s3, txn, bucket, NULL)) {
        return S3_ENOBUCKET;
    }
    rc = current_get(s3, txn, bucket, key, lk, &ln, &c);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    if (rc == MDB_NOTFOUND && !vid) {
        return S3_ENOKEY;
    }
    if (rc == 0 && vid && !vid_is(&c.o, w.is_null, vsk)) {
        vcopy_free(&c);
        rc = version_find(s3, txn, bucket, key, want_vid, &w, vk, &vkl, &c);
        if (rc == MDB_NOTFOUND) {
            return S3__ENOVERSION;
        }
        if (rc != 0) {
            return rc;
        }
        dbi = s3->versions;
        memcpy(lk, vk, vkl);
        ln = vkl;
    }
    else if (rc == MDB_NOTFOUND) {
        return S3__ENOVERSION;
    }
    if (c.o.delete_marker) {
        vcopy_free(&c);
        return S3__EMARKER;
    }
    rc = fn(&c.o, ctx);
    if (rc == 0) {
        c.o.key = key;
        rec = s3__obj_encode(&c.o, &len);
        k = (MDB_val){ ln, lk };
        v = (MDB_val){ len, rec };
        rc = mdb_put(txn, dbi, &k, &v, 0);
        free(rec);
    }
    vcopy_free(&c);
    return rc;
}

int s3__object_lookup_version(struct s3 *s3, MDB_txn *txn, const char *bucket,
                              struct sl_str key, const char *vid, struct s3__obj *o)
{
    unsigned char lk[S3__LMDB_KEY_MAX], vsk[16];
    bool is_null;
    MDB_val k, v;
    MDB_cursor *cur;
    size_t ln, bl = strlen(bucket);
    int rc = s3__object_lookup(s3, txn, bucket, key, o);

    if (!vid) {
        return rc;
    }
    if (s3__vid_parse(vid, &is_null, vsk) != 0) {
        return S3__EBADVERSION;
    }
    if (rc == 0 && vid_is(o, is_null, vsk)) {
        return 0;
    }
    if (rc != 0 && rc != S3_ENOKEY) {
        return rc;
    }
    /* Among the noncurrent: by its key when the id names one, by a scan for "null". */
    ln = s3__objkey(bucket, key, lk);
    if (!is_null) {
        memcpy(lk + ln, vsk, 16);
        k = (MDB_val){ ln + 16, lk };
        rc = mdb_get(txn, s3->versions, &k, &v);
        if (rc == 0 && s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, ln, bl, o) == 0 &&
            sl_str_eq(o->key, key)) {
            return 0;
        }
        return rc == 0 || rc == MDB_NOTFOUND ? S3__ENOVERSION : rc;
    }
    rc = mdb_cursor_open(txn, s3->versions, &cur);
    if (rc != 0) {
        return rc;
    }
    k = (MDB_val){ ln, lk };
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < ln || memcmp(k.mv_data, lk, ln) != 0) {
            rc = MDB_NOTFOUND;
            break;
        }
        if (k.mv_size == ln + 16 &&
            s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, ln, bl, o) == 0 &&
            sl_str_eq(o->key, key) && want_null(o, NULL)) {
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? S3__ENOVERSION : rc;
}

/* ---- Put/GetBucketVersioning ---- */

static int versioning_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    unsigned *state = ctx;
    if (strcmp(path, "VersioningConfiguration/Status") == 0) {
        if (sl_str_eq_c(text, "Enabled")) {
            *state = S3__VER_ENABLED;
        }
        else if (sl_str_eq_c(text, "Suspended")) {
            *state = S3__VER_SUSPENDED;
        }
        else {
            return -1;
        }
    }
    return 0;
}

/* Versioning cannot be suspended while Object Lock is on (S3's InvalidBucketState). */
static int versioning_check(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str v)
{
    struct s3__lock_cfg lc;
    s3__lock_config(s3, txn, bucket, &lc);
    if (lc.enabled && v.len == 1 && v.p[0] != S3__VER_ENABLED) {
        return S3__ESTATE;
    }
    return 0;
}

int s3_put_bucket_versioning(struct http_req *r)
{
    unsigned state = 0;
    char *v;

    if (s3__xml_parse_or_reply(r, "VersioningConfiguration", versioning_xml_cb, &state) < 0) {
        return -1;
    }
    if (!state) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    v = arena_alloc(&r->arena, 1);
    v[0] = (char)state;
    return s3__cfg_put_checked_or_reply(r, S3__CFG_VERSIONING, (struct sl_str){ v, 1 }, 200,
                                        versioning_check,
                                        "An Object Lock configuration is present on this "
                                        "bucket, so the versioning state cannot be changed.");
}

/* Reads a configuration of the request's bucket into the arena: 0, 1 when it has none, or
 * -1 with NoSuchBucket / InternalError set. */
static int cfg_read_or_reply(struct http_req *r, unsigned kind, struct sl_str *out)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    MDB_txn *txn;
    int rc = store_read_begin(s3->st, &txn);

    if (rc != 0) {
        return s3__internal_or_reply(r, "bucket configuration", rc);
    }
    if (s3__bucket_check_or_reply(r, txn, t->bucket) < 0) {
        store_read_end(s3->st, txn);
        return -1;
    }
    rc = s3__cfg_get(s3, txn, t->bucket, kind, out);
    if (rc == 0) {
        out->p = arena_strndup(&r->arena, out->p, out->len);
    }
    store_read_end(s3->st, txn);
    if (rc == MDB_NOTFOUND) {
        return 1;
    }
    return rc == 0 ? 0 : s3__internal_or_reply(r, "configuration", rc);
}

int s3_get_bucket_versioning(struct http_req *r)
{
    struct sl_str v;
    int rc = cfg_read_or_reply(r, S3__CFG_VERSIONING, &v);
    const char *body;

    if (rc < 0) {
        return -1;
    }
    body = arena_printf(&r->arena,
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                        "<VersioningConfiguration xmlns=\"" S3__XMLNS "\">%s"
                        "</VersioningConfiguration>",
                        rc != 0 || v.len != 1 ? ""
                        : v.p[0] == S3__VER_ENABLED ? "<Status>Enabled</Status>"
                                                    : "<Status>Suspended</Status>");
    return http_reply(r, 200, "application/xml", body, strlen(body));
}

/* ---- Object Lock configuration ---- */

struct lock_parse {
    bool enabled;
    uint8_t mode;
    long days, years;
    bool bad;
};

static uint8_t mode_parse(struct sl_str t)
{
    return sl_str_eq_c(t, "GOVERNANCE")   ? S3__LOCK_GOVERNANCE
           : sl_str_eq_c(t, "COMPLIANCE") ? S3__LOCK_COMPLIANCE
                                          : 0;
}

static int lock_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    struct lock_parse *l = ctx;
    if (strcmp(path, "ObjectLockConfiguration/ObjectLockEnabled") == 0) {
        if (!sl_str_eq_c(text, "Enabled")) {
            return -1;
        }
        l->enabled = true;
    }
    else if (strcmp(path, "ObjectLockConfiguration/Rule/DefaultRetention/Mode") == 0) {
        l->mode = mode_parse(text);
        l->bad = l->bad || !l->mode;
    }
    else if (strcmp(path, "ObjectLockConfiguration/Rule/DefaultRetention/Days") == 0) {
        l->days = s3__xml_long(text);
        l->bad = l->bad || l->days < 1 || l->days > 36500;
    }
    else if (strcmp(path, "ObjectLockConfiguration/Rule/DefaultRetention/Years") == 0) {
        l->years = s3__xml_long(text);
        l->bad = l->bad || l->years < 1 || l->years > 100;
    }
    return 0;
}

/* Object Lock needs versioning Enabled. */
static int lock_check(struct s3 *s3, MDB_txn *txn, const char *bucket, struct sl_str v)
{
    (void)v;
    return s3__versioning(s3, txn, bucket) == S3__VER_ENABLED ? 0 : S3__ESTATE;
}

int s3_put_object_lock_configuration(struct http_req *r)
{
    struct lock_parse l;
    unsigned char *v;
    uint32_t days;

    memset(&l, 0, sizeof l);
    if (s3__xml_parse_or_reply(r, "ObjectLockConfiguration", lock_xml_cb, &l) < 0) {
        return -1;
    }
    if (!l.enabled || l.bad || (l.days && l.years) || (l.mode && !l.days && !l.years) ||
        (!l.mode && (l.days || l.years))) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    days = (uint32_t)(l.years ? l.years * 365 : l.days);
    v = arena_alloc(&r->arena, 6);
    v[0] = 1;
    v[1] = l.mode;
    for (int i = 0; i < 4; i++) {
        v[2 + i] = (unsigned char)(days >> (8 * i));
    }
    return s3__cfg_put_checked_or_reply(r, S3__CFG_LOCK, (struct sl_str){ (char *)v, 6 }, 200,
                                        lock_check,
                                        "Versioning must be 'Enabled' on the bucket to apply a "
                                        "Object Lock configuration");
}

int s3_get_object_lock_configuration(struct http_req *r)
{
    struct sl_str v;
    struct buf b;
    int rc = cfg_read_or_reply(r, S3__CFG_LOCK, &v);

    if (rc < 0) {
        return -1;
    }
    if (rc != 0 || v.len != 6 || !v.p[0]) {
        http_req_fail(r, AWSERR_S3_NO_LOCK_CONFIG, NULL);
        http_req_fail_field(r, "BucketName", s3__target_of(r)->bucket);
        return -1;
    }
    buf_init(&b, 4096);
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ObjectLockConfiguration xmlns=\""
                 S3__XMLNS "\"><ObjectLockEnabled>Enabled</ObjectLockEnabled>");
    if (v.p[1]) {
        uint32_t days = (uint32_t)(unsigned char)v.p[2] | (uint32_t)(unsigned char)v.p[3] << 8 |
                        (uint32_t)(unsigned char)v.p[4] << 16 |
                        (uint32_t)(unsigned char)v.p[5] << 24;
        buf_printf(&b, "<Rule><DefaultRetention><Mode>%s</Mode><Days>%u</Days>"
                       "</DefaultRetention></Rule>",
                   v.p[1] == S3__LOCK_GOVERNANCE ? "GOVERNANCE" : "COMPLIANCE", days);
    }
    buf_puts(&b, "</ObjectLockConfiguration>");
    return s3__reply_xml(r, 200, &b);
}

/* ---- retention and legal hold of a version ---- */

int s3__iso_parse_ms(const char *s, uint64_t *out)
{
    int y, mo, d, h, mi, sec;
    static const char *const names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    char stamp[40];
    int64_t t;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6 || mo < 1 ||
        mo > 12) {
        return -1;
    }
    snprintf(stamp, sizeof stamp, "Mon, %02d %s %04d %02d:%02d:%02d GMT", d, names[mo - 1], y, h,
             mi, sec);
    if (s3__http_date_parse(stamp, &t) != 0 || t < 0) {
        return -1;
    }
    *out = (uint64_t)t * 1000;
    return 0;
}

int s3__lock_headers_or_reply(struct http_req *r, struct s3__obj *o)
{
    const char *mode = http_req_header(r, "x-amz-object-lock-mode");
    const char *until = http_req_header(r, "x-amz-object-lock-retain-until-date");
    const char *hold = http_req_header(r, "x-amz-object-lock-legal-hold");

    if ((mode != NULL) != (until != NULL)) {
        return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                             "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode "
                             "must both be supplied");
    }
    if (mode) {
        o->lock_mode = mode_parse(sl_str_c(mode));
        if (!o->lock_mode) {
            return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Unknown wormMode directive.");
        }
        if (s3__iso_parse_ms(until, &o->retain_until_ms) != 0) {
            return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                                 "The retain until date must be provided in ISO 8601 format");
        }
        if (o->retain_until_ms <= s3__now_ms()) {
            return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                                 "The retain until date must be in the future!");
        }
    }
    if (hold) {
        if (strcmp(hold, "ON") != 0 && strcmp(hold, "OFF") != 0) {
            return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Legal Hold must be either "
                                                                "of 'ON' or 'OFF'");
        }
        o->legal_hold = strcmp(hold, "ON") == 0;
    }
    return 0;
}

int s3__lock_apply_defaults(struct s3 *s3, MDB_txn *txn, const char *bucket, struct s3__obj *o)
{
    struct s3__lock_cfg lc;
    s3__lock_config(s3, txn, bucket, &lc);
    if (!lc.enabled) {
        return o->lock_mode || o->legal_hold ? S3__ENOLOCK : 0;
    }
    if (!o->lock_mode && lc.mode) {
        o->lock_mode = lc.mode;
        o->retain_until_ms = s3__now_ms() + (uint64_t)lc.days * 86400000ull;
    }
    return 0;
}

struct lockset {
    struct store_op base;
    struct s3 *s3;
    struct http_req *r;
    const char *bucket;
    struct sl_str key;
    const char *vid;
    bool retention;             /* else legal hold */
    uint8_t mode;
    uint64_t until;
    bool hold;
    bool bypass;
};

static int lockset_fn(struct s3__obj *o, void *ctx)
{
    struct lockset *l = ctx;
    uint64_t now = s3__now_ms();

    if (!l->retention) {
        o->legal_hold = l->hold;
        return 0;
    }
    if (o->lock_mode == S3__LOCK_COMPLIANCE && o->retain_until_ms > now &&
        (l->mode != S3__LOCK_COMPLIANCE || l->until < o->retain_until_ms)) {
        return S3__ELOCKED; /* COMPLIANCE is never shortened nor weakened */
    }
    if (o->lock_mode == S3__LOCK_GOVERNANCE && o->retain_until_ms > now && !l->bypass &&
        (l->mode != S3__LOCK_GOVERNANCE || l->until < o->retain_until_ms)) {
        return S3__ELOCKED;
    }
    o->lock_mode = l->mode;
    o->retain_until_ms = l->until;
    return 0;
}

static int lockset_apply(struct store_op *op, MDB_txn *txn)
{
    struct lockset *l = (struct lockset *)op;
    struct s3__lock_cfg lc;

    s3__lock_config(l->s3, txn, l->bucket, &lc);
    if (!lc.enabled && s3__bucket_exists(l->s3, txn, l->bucket, NULL)) {
        return S3__ENOLOCK;
    }
    return s3__version_rewrite(l->s3, txn, l->bucket, l->key, l->vid, lockset_fn, l);
}

static void lockset_done(struct store_op *op, int rc)
{
    (void)rc;
    http_req_resume(((struct lockset *)op)->r);
}

int s3__version_fail_or_reply(struct http_req *r, const char *bucket, struct sl_str key,
                              const char *vid, int rc, const char *what)
{
    switch (rc) {
    case S3_ENOBUCKET:
        return s3__no_such_bucket_or_reply(r, bucket);
    case S3_ENOKEY:
        http_req_fail(r, AWSERR_S3_NO_SUCH_KEY, NULL);
        http_req_fail_field(r, "Key", arena_strndup(&r->arena, key.p, key.len));
        return -1;
    case S3__ENOVERSION:
    case S3__EBADVERSION:
        if (rc == S3__EBADVERSION || !vid) {
            http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Invalid version id specified");
            http_req_fail_field(r, "ArgumentName", "versionId");
            http_req_fail_field(r, "ArgumentValue", vid ? vid : "");
            return -1;
        }
        http_req_fail(r, AWSERR_S3_NO_SUCH_VERSION, NULL);
        http_req_fail_field(r, "Key", arena_strndup(&r->arena, key.p, key.len));
        http_req_fail_field(r, "VersionId", vid);
        return -1;
    case S3__EMARKER:
        http_reply_header(r, "x-amz-delete-marker", "true");
        return http_req_fail(r, AWSERR_S3_METHOD_NOT_ALLOWED, NULL);
    case S3__ELOCKED:
        return http_req_fail(r, AWSERR_S3_ACCESS_DENIED,
                             "Access Denied because object protected by object lock.");
    case S3__ENOLOCK:
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                             "Bucket is missing Object Lock Configuration");
    default:
        return s3__internal_or_reply(r, what, rc);
    }
}

static int lockset_cont(struct http_req *r)
{
    struct lockset *l = r->op_ctx;
    if (l->base.rc != 0) {
        return s3__version_fail_or_reply(r, l->bucket, l->key, l->vid, l->base.rc,
                                         l->retention ? "PutObjectRetention"
                                                      : "PutObjectLegalHold");
    }
    return http_reply(r, 200, NULL, NULL, 0);
}

static int retention_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    struct lockset *l = ctx;
    if (strcmp(path, "Retention/Mode") == 0) {
        l->mode = mode_parse(text);
        return l->mode ? 0 : -1;
    }
    if (strcmp(path, "Retention/RetainUntilDate") == 0) {
        char *s = arena_strndup(&l->r->arena, text.p, text.len);
        return s3__iso_parse_ms(s, &l->until);
    }
    return 0;
}

static int hold_xml_cb(void *ctx, const char *path, struct sl_str text)
{
    struct lockset *l = ctx;
    if (strcmp(path, "LegalHold/Status") == 0) {
        if (!sl_str_eq_c(text, "ON") && !sl_str_eq_c(text, "OFF")) {
            return -1;
        }
        l->hold = sl_str_eq_c(text, "ON");
    }
    return 0;
}

static int lockset_start(struct http_req *r, bool retention)
{
    struct s3__target *t = s3__target_of(r);
    struct lockset *l = arena_new(&r->arena, struct lockset);
    const char *bypass = http_req_header(r, "x-amz-bypass-governance-retention");

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    l->s3 = s3__of(r);
    l->r = r;
    l->bucket = t->bucket;
    l->key = t->key;
    l->vid = http_req_query(r, "versionId");
    l->retention = retention;
    l->bypass = bypass && strcasecmp(bypass, "true") == 0;
    if (s3__xml_parse_or_reply(r, retention ? "Retention" : "LegalHold",
                               retention ? retention_xml_cb : hold_xml_cb, l) < 0) {
        return -1;
    }
    if (retention && (!l->mode || !l->until)) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    l->base.apply = lockset_apply;
    l->base.done = lockset_done;
    r->op_ctx = l;
    return s3__submit_or_reply(r, &l->base, lockset_cont);
}

int s3_put_object_retention(struct http_req *r)
{
    return lockset_start(r, true);
}

int s3_put_object_legal_hold(struct http_req *r)
{
    return lockset_start(r, false);
}

/* Reads the version the request names (copied into the arena). Returns 0 or -1. */
static int version_read_or_reply(struct http_req *r, struct s3__obj *o, const char *what)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    const char *vid = http_req_query(r, "versionId");
    MDB_txn *txn;
    int rc;

    if (!s3__bucket_name_valid(t->bucket, strlen(t->bucket))) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, what, rc);
    }
    rc = s3__object_lookup_version(s3, txn, t->bucket, t->key, vid, o);
    if (rc == 0) {
        s3__obj_own(&r->arena, o);
    }
    store_read_end(s3->st, txn);
    if (rc == 0 && o->delete_marker) {
        rc = vid ? S3__EMARKER : S3_ENOKEY;
    }
    return rc ? s3__version_fail_or_reply(r, t->bucket, t->key, vid, rc, what) : 0;
}

int s3_get_object_retention(struct http_req *r)
{
    struct s3__obj *o = arena_new(&r->arena, struct s3__obj);
    char iso[25];
    struct buf b;

    if (version_read_or_reply(r, o, "GetObjectRetention") < 0) {
        return -1;
    }
    if (!o->lock_mode) {
        return http_req_fail(r, AWSERR_S3_NO_OBJECT_LOCK, NULL);
    }
    s3__time_iso(o->retain_until_ms, iso);
    buf_init(&b, 4096);
    buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Retention xmlns=\"" S3__XMLNS
                   "\"><Mode>%s</Mode><RetainUntilDate>%s</RetainUntilDate></Retention>",
               o->lock_mode == S3__LOCK_GOVERNANCE ? "GOVERNANCE" : "COMPLIANCE", iso);
    return s3__reply_xml(r, 200, &b);
}

int s3_get_object_legal_hold(struct http_req *r)
{
    struct s3__obj *o = arena_new(&r->arena, struct s3__obj);
    struct s3 *s3 = s3__of(r);
    struct s3__lock_cfg lc = { 0 };
    MDB_txn *txn;
    struct buf b;

    if (version_read_or_reply(r, o, "GetObjectLegalHold") < 0) {
        return -1;
    }
    if (store_read_begin(s3->st, &txn) == 0) {
        s3__lock_config(s3, txn, s3__target_of(r)->bucket, &lc);
        store_read_end(s3->st, txn);
    }
    if (!lc.enabled) {
        return http_req_fail(r, AWSERR_S3_INVALID_REQUEST,
                             "Bucket is missing Object Lock Configuration");
    }
    buf_init(&b, 4096);
    buf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LegalHold xmlns=\"" S3__XMLNS
                   "\"><Status>%s</Status></LegalHold>", o->legal_hold ? "ON" : "OFF");
    return s3__reply_xml(r, 200, &b);
}

void s3__version_reply_headers(struct http_req *r, const struct s3__obj *o, bool versioned)
{
    char vid[33], iso[25];

    if (versioned || o->has_vsk) {
        s3__vid_str(o, vid);
        http_reply_header(r, "x-amz-version-id", vid);
    }
    if (o->lock_mode) {
        s3__time_iso(o->retain_until_ms, iso);
        http_reply_header(r, "x-amz-object-lock-mode",
                          o->lock_mode == S3__LOCK_GOVERNANCE ? "GOVERNANCE" : "COMPLIANCE");
        http_reply_header(r, "x-amz-object-lock-retain-until-date", iso);
    }
    if (o->legal_hold) {
        http_reply_header(r, "x-amz-object-lock-legal-hold", "ON");
    }
}

/* ---- ListObjectVersions ---- */

struct vpage {
    struct http_req *r;
    struct s3 *s3;
    const char *bucket;
    struct sl_str prefix, delim, key_marker;
    const char *vid_marker;
    bool url;
    size_t max, count;
    bool truncated;
    struct sl_str last_key;
    char last_vid[33];
    bool last_is_prefix;
    struct buf *out, *cps;
};

static int emit_version(struct vpage *pg, const struct s3__obj *o, bool latest)
{
    struct buf *b = pg->out;
    char iso[25], vid[33], etag[S3__ETAG_MAX];

    s3__time_iso(o->mtime_ms, iso);
    s3__vid_str(o, vid);
    buf_puts(b, o->delete_marker ? "<DeleteMarker>" : "<Version>");
    s3__xml_key(b, "Key", o->key, pg->url, &pg->r->arena);
    buf_printf(b, "<VersionId>%s</VersionId><IsLatest>%s</IsLatest><LastModified>%s"
                  "</LastModified>", vid, latest ? "true" : "false", iso);
    if (!o->delete_marker) {
        s3__obj_etag(o, etag);
        s3__xml_elem(b, "ETag", sl_str_c(etag));
        buf_printf(b, "<Size>%llu</Size>", (unsigned long long)o->size);
    }
    buf_printf(b, "<Owner><ID>%s</ID><DisplayName>%s</DisplayName></Owner>", pg->s3->owner_id,
               pg->s3->account);
    if (!o->delete_marker) {
        buf_puts(b, "<StorageClass>STANDARD</StorageClass>");
    }
    pg->last_key = o->key;
    s3__vid_str(o, pg->last_vid);
    pg->last_is_prefix = false;
    pg->count++;
    return buf_puts(b, o->delete_marker ? "</DeleteMarker>" : "</Version>");
}

/* Emits the versions of one key (current first), skipping those up to the markers. Returns
 * 0, 1 when the page is full, or an error. */
static int key_versions(struct vpage *pg, MDB_txn *txn, MDB_cursor *vc, const struct s3__obj *cur)
{
    struct arena *a = &pg->r->arena;
    unsigned char lk[S3__LMDB_KEY_MAX];
    size_t ln = s3__objkey(pg->bucket, cur->key, lk), bl = strlen(pg->bucket);
    bool skipping = pg->key_marker.len && sl_str_eq(cur->key, pg->key_marker);
    struct s3__obj o;
    MDB_val k, v;
    char vid[33];
    int rc;

    (void)txn;
    /* At the key marker without a version marker: the whole key was listed. */
    if (skipping && !pg->vid_marker) {
        return 0;
    }
    s3__vid_str(cur, vid);
    if (skipping) {
        skipping = strcmp(vid, pg->vid_marker) != 0;
    }
    else {
        if (pg->count == pg->max) {
            pg->truncated = true;
            return 1;
        }
        emit_version(pg, cur, true);
        pg->last_key = (struct sl_str){ arena_strndup(a, cur->key.p, cur->key.len),
                                        cur->key.len };
    }
    k = (MDB_val){ ln, lk };
    for (rc = mdb_cursor_get(vc, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(vc, &k, &v, MDB_NEXT)) {
        if (k.mv_size < ln || memcmp(k.mv_data, lk, ln) != 0) {
            break;
        }
        if (k.mv_size != ln + 16 ||
            s3__obj_decode(v.mv_data, v.mv_size, k.mv_data, ln, bl, &o) != 0 ||
            !sl_str_eq(o.key, cur->key)) {
            continue;
        }
        if (skipping) {
            s3__vid_str(&o, vid);
            skipping = strcmp(vid, pg->vid_marker) != 0;
            continue;
        }
        if (pg->count == pg->max) {
            pg->truncated = true;
            return 1;
        }
        emit_version(pg, &o, false);
        pg->last_key = (struct sl_str){ arena_strndup(a, o.key.p, o.key.len), o.key.len };
    }
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

static int versions_scan(struct vpage *pg, MDB_txn *txn)
{
    struct s3__iter it;
    MDB_cursor *vc = NULL;
    struct s3__obj o;
    struct sl_str from = s3__key_cmp(pg->prefix, pg->key_marker) > 0 ? pg->prefix
                                                                      : pg->key_marker;
    int rc = s3__iter_init(&it, pg->s3, txn, pg->bucket);

    if (rc == 0) {
        rc = mdb_cursor_open(txn, pg->s3->versions, &vc);
    }
    if (rc == 0) {
        rc = s3__iter_seek(&it, from, false);
    }
    while (rc == 0) {
        const char *d;
        rc = s3__iter_next(&it, &o);
        if (rc != 0) {
            break;
        }
        if (o.key.len < pg->prefix.len ||
            (pg->prefix.len && memcmp(o.key.p, pg->prefix.p, pg->prefix.len) != 0)) {
            break;
        }
        d = s3__delimited(o.key, pg->prefix, pg->delim);
        if (d) {
            struct sl_str cp = { o.key.p, (size_t)(d - o.key.p) };
            unsigned char *succ = arena_alloc(&pg->r->arena, cp.len + 1);
            long n;
            if (s3__key_cmp(cp, pg->key_marker) > 0 || !pg->key_marker.len) {
                if (pg->count == pg->max) {
                    pg->truncated = true;
                    break;
                }
                buf_puts(pg->cps, "<CommonPrefixes>");
                s3__xml_key(pg->cps, "Prefix", cp, pg->url, &pg->r->arena);
                buf_puts(pg->cps, "</CommonPrefixes>");
                pg->count++;
                pg->last_key = (struct sl_str){ arena_strndup(&pg->r->arena, cp.p, cp.len),
                                                cp.len };
                pg->last_is_prefix = true;
            }
            n = s3__prefix_successor(cp, succ);
            if (n < 0) {
                rc = MDB_NOTFOUND;
                break;
            }
            rc = s3__iter_seek(&it, (struct sl_str){ (const char *)succ, (size_t)n }, false);
            continue;
        }
        rc = key_versions(pg, txn, vc, &o);
        if (rc == 1) {
            rc = 0;
            break;
        }
    }
    if (vc) {
        mdb_cursor_close(vc);
    }
    s3__iter_release(&it);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int s3_list_object_versions(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    const char *prefix = http_req_query(r, "prefix");
    const char *delim = http_req_query(r, "delimiter");
    const char *km = http_req_query(r, "key-marker");
    const char *vm = http_req_query(r, "version-id-marker");
    const char *enc = http_req_query(r, "encoding-type");
    const char *max_s = http_req_query(r, "max-keys");
    struct vpage pg;
    struct buf out, body, cps;
    MDB_txn *txn;
    int rc;

    memset(&pg, 0, sizeof pg);
    pg.max = S3__MAX_KEYS;
    if (max_s) {
        char *end;
        long v = strtol(max_s, &end, 10);
        if (end == max_s || *end || v < 0) {
            http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Provided max-keys not an integer or "
                                                         "within integer range");
            http_req_fail_field(r, "ArgumentName", "max-keys");
            return -1;
        }
        pg.max = v > S3__MAX_KEYS ? S3__MAX_KEYS : (size_t)v;
    }
    if (enc && strcmp(enc, "url") != 0) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Invalid Encoding Method specified in "
                                                     "Request");
        http_req_fail_field(r, "ArgumentName", "encoding-type");
        return -1;
    }
    if ((prefix && strlen(prefix) > S3_KEY_MAX) || (km && strlen(km) > S3_KEY_MAX) ||
        (delim && strlen(delim) > S3_KEY_MAX)) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    if (vm && vm[0] && !km) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                      "A version-id marker cannot be specified without a key marker.");
        http_req_fail_field(r, "ArgumentName", "version-id-marker");
        return -1;
    }
    pg.r = r;
    pg.s3 = s3;
    pg.bucket = t->bucket;
    pg.prefix = sl_str_c(prefix ? prefix : "");
    pg.delim = sl_str_c(delim ? delim : "");
    pg.key_marker = sl_str_c(km ? km : "");
    pg.vid_marker = vm && vm[0] ? vm : NULL;
    pg.url = enc != NULL;
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, "ListObjectVersions", rc);
    }
    if (s3__bucket_check_or_reply(r, txn, t->bucket) < 0) {
        store_read_end(s3->st, txn);
        return -1;
    }
    buf_init(&body, S3__LIST_XML_MAX);
    buf_init(&cps, S3__LIST_XML_MAX);
    pg.out = &body;
    pg.cps = &cps;
    rc = versions_scan(&pg, txn);
    store_read_end(s3->st, txn);
    if (rc != 0) {
        buf_release(&body);
        buf_release(&cps);
        return s3__internal_or_reply(r, "ListObjectVersions", rc);
    }
    buf_init(&out, 2 * S3__LIST_XML_MAX + 64 * 1024);
    buf_puts(&out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<ListVersionsResult xmlns=\"" S3__XMLNS "\">");
    s3__xml_elem(&out, "Name", sl_str_c(t->bucket));
    s3__xml_key(&out, "Prefix", pg.prefix, pg.url, &r->arena);
    s3__xml_key(&out, "KeyMarker", pg.key_marker, pg.url, &r->arena);
    s3__xml_elem(&out, "VersionIdMarker", sl_str_c(pg.vid_marker ? pg.vid_marker : ""));
    if (pg.truncated) {
        s3__xml_key(&out, "NextKeyMarker", pg.last_key, pg.url, &r->arena);
        if (!pg.last_is_prefix) {
            s3__xml_elem(&out, "NextVersionIdMarker", sl_str_c(pg.last_vid));
        }
    }
    buf_printf(&out, "<MaxKeys>%s</MaxKeys>", max_s ? max_s : "1000");
    if (delim) {
        s3__xml_key(&out, "Delimiter", pg.delim, pg.url, &r->arena);
    }
    buf_printf(&out, "<IsTruncated>%s</IsTruncated>", pg.truncated ? "true" : "false");
    if (pg.url) {
        buf_puts(&out, "<EncodingType>url</EncodingType>");
    }
    buf_append(&out, body.p ? body.p : "", body.len);
    buf_append(&out, cps.p ? cps.p : "", cps.len);
    buf_release(&body);
    buf_release(&cps);
    if (buf_puts(&out, "</ListVersionsResult>") < 0) {
        buf_release(&out);
        return s3__internal_or_reply(r, "ListObjectVersions", -E2BIG);
    }
    return s3__reply_xml(r, 200, &out);
}
