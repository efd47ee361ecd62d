/*
 * archive.c: the `archive` virtual table, SQLite's view of the records under a bucket and
 * prefix, and the inference of its columns.
 *
 * Use: a table-valued function, FROM archive('bucket', 'prefix') (the prefix may be left out:
 * the whole bucket). It is an eponymous-only module: it exists in every query's connection
 * under that one name, and CREATE VIRTUAL TABLE cannot make more of it.
 *
 * Columns. SQLite asks for a virtual table's columns when it first meets the name, before any
 * argument is known, and this table's columns come from the data. So the engine reads the
 * literal archive('b', 'p') calls of the SQL first (scan.c) and qry__infer() samples each one's
 * records; the table then declares, in first-seen order:
 *   - one column per top-level key of the sample: the union, over every literal call of the
 *     query, of the keys of the first QRY__INFER_RECORDS JSON objects of each of the first
 *     QRY__INFER_OBJECTS objects (in key order) under the call's prefix, reading at most
 *     QRY__INFER_BYTES decoded bytes of each object; keys are told apart as SQLite tells
 *     names apart (ASCII case folded: of "Amount" and "amount" the first seen is the column),
 *     at most QRY__COLUMNS_MAX of them, and keys that are empty, longer than QRY__NAME_MAX,
 *     hold \u0000 or are named like the columns below are left out;
 *   - _record: the whole record, its JSON text as stored, so json_extract(_record, '$.a.b')
 *     reaches anything, also keys the sample did not see;
 *   - _object: the key of the S3 object the record came from;
 *   - _bucket, _prefix: HIDDEN, the function's arguments.
 *   - every name the SQL uses as a column that the sample did not see: when SQLite answers
 *     "no such column: x" (or "t.x"), the engine adds x and prepares again on a fresh
 *     connection (engine.c), so a key that only later records carry (an archive's schema
 *     grows over the years, and the sample reads its oldest objects) or an archive still
 *     empty is queried by name and is NULL where records lack it. The price: a misspelt name
 *     is a column of NULLs, not an error.
 * Because one name gets one schema per connection, every archive() call of a query has the
 * columns of all of them (a key one archive lacks is NULL there). A call whose arguments are
 * not literals gets the columns of the literal ones, and always _record and _object.
 *
 * Values: a JSON string is TEXT, an integer INTEGER (REAL past 64 bits), any other number
 * REAL, true and false 1 and 0, null and a missing key NULL, an object or an array its JSON
 * text as stored (json_extract and json_each read it). A key that appears twice: the first.
 * Records that are not JSON objects are skipped and counted (records.c).
 *
 * The scan streams: a cursor lists the keys a page of QRY__PAGE_KEYS at a time (s3_list holds
 * a read transaction only while it copies a page), opens one object at a time, and holds the
 * current record only until xNext. A record is scanned once, on xNext, which notes where its
 * members lie in the buffer; xColumn converts just the member asked for, in place. Each xNext
 * checks the query's time limit, so a scan through a large object of skipped bytes stops in
 * time too.
 *
 *   cursor: FILTERED --xNext: records of the open object--> ROW ... --object ends--> next key
 *           --page ends--> next page (start after the last key) --no more keys--> EOF
 *
 * What it is not: an index. Every scan reads every object under its prefix (narrow the prefix
 * to read less); xBestIndex only insists that the bucket be given.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/http.h"
#include "query/qry_int.h"

#define QRY__PAGE_KEYS 128

enum {
    COL_RECORD = 0,     /* offsets after the inferred columns */
    COL_OBJECT,
    COL_BUCKET,
    COL_PREFIX,
};

static const char *const reserved[] = { "_record", "_object", "_bucket", "_prefix" };

bool qry__run_stopped(struct qry__run *run)
{
    if (run->stop_rc) {
        return true;
    }
    if (run->cancel && atomic_load(run->cancel)) {
        run->stop_rc = QRY_ECANCELLED;
    }
    else if (http_now_ns() >= run->deadline_ns) {
        run->stop_rc = QRY_ETIMEOUT;
    }
    return run->stop_rc != 0;
}

void qry__run_release(struct qry__run *run)
{
    for (size_t i = 0; i < run->n_cols; i++) {
        free(run->cols[i]);
    }
    free(run->cols);
    free(run->col_lens);
    run->cols = NULL;
    run->col_lens = NULL;
    run->n_cols = 0;
}

/* Records a scan's failure for the engine (the first one wins) and returns rc. */
static int scan_fail(struct qry__run *run, int rc, const char *fmt, const char *a,
                     const char *b)
{
    if (!run->scan_rc) {
        run->scan_rc = rc;
        snprintf(run->scan_msg, sizeof run->scan_msg, fmt, a, b);
    }
    return rc;
}

/* ---- listing a page of keys ---- */

struct page {
    char *keys[QRY__PAGE_KEYS];     /* owned */
    size_t n;
    size_t max;
};

static void page_clear(struct page *pg)
{
    for (size_t i = 0; i < pg->n; i++) {
        free(pg->keys[i]);
    }
    pg->n = 0;
}

static int page_add(void *ctx, struct sl_str key, const struct s3_object_info *info)
{
    struct page *pg = ctx;
    (void)info;
    pg->keys[pg->n++] = xstrndup(key.p, key.len);
    return pg->n == pg->max ? S3_ESTOP : 0;
}

/* Lists up to max keys of bucket under prefix after `after` into pg (cleared first).
 * Returns 0, or QRY_ENOBUCKET / QRY_EIO with the run's message set. */
static int list_page(struct qry__run *run, const char *bucket, const char *prefix,
                     const char *after, size_t max, struct page *pg)
{
    int rc;

    page_clear(pg);
    pg->max = max < QRY__PAGE_KEYS ? max : QRY__PAGE_KEYS;
    rc = s3_list(run->s3, bucket, sl_str_c(prefix), sl_str_c(after), page_add, pg);
    if (rc == S3_ENOBUCKET) {
        return scan_fail(run, QRY_ENOBUCKET, "The specified bucket does not exist: %s%s",
                         bucket, "");
    }
    if (rc < 0) {
        return scan_fail(run, QRY_EIO, "Cannot list bucket %s: %s", bucket, s3_strerror(rc));
    }
    return 0;
}

/* ---- one object as a stream of records ---- */

struct objstream {
    int fd;
    struct qry__input in;
    struct qry__records rs;
    bool open;
};

static void obj_close(struct objstream *o)
{
    if (!o->open) {
        return;
    }
    qry__records_release(&o->rs);
    qry__input_release(&o->in);
    close(o->fd);
    o->fd = -1;
    o->open = false;
}

/* Opens bucket/key. Returns 0, S3_ENOKEY (deleted since it was listed: skip it), or QRY_EIO
 * with the run's message set. */
static int obj_open(struct qry__run *run, const char *bucket, const char *key,
                    struct objstream *o)
{
    int rc = s3_object_open(run->s3, bucket, sl_str_c(key), &o->fd, NULL);
    if (rc == S3_ENOKEY || rc == S3_ENOBUCKET) {
        return S3_ENOKEY;
    }
    if (rc < 0) {
        return scan_fail(run, QRY_EIO, "Cannot open object %s: %s", key, s3_strerror(rc));
    }
    qry__input_init(&o->in, qry__fd_read, &o->fd, 0);
    qry__records_init(&o->rs, &o->in, 0, 0);
    o->open = true;
    return 0;
}

/* The next record of an open object into *what. Returns 0 or QRY_EIO (message set). */
static int obj_next(struct qry__run *run, const char *key, struct objstream *o,
                    enum qry__rec *what)
{
    int rc = qry__records_next(&o->rs, what);
    if (rc < 0) {
        return scan_fail(run, QRY_EIO, "Cannot read object %s: %s", key, strerror(-rc));
    }
    return 0;
}

/* ---- column inference ---- */

static bool is_reserved(const char *name)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        if (sqlite3_stricmp(name, reserved[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* Makes k (owned, n bytes) a column unless it cannot be one or already is; frees it then.
 * Returns true when it was added. */
static bool add_column(struct qry__run *run, char *k, size_t n)
{
    size_t i;

    if (run->n_cols >= QRY__COLUMNS_MAX || n == 0 || n > QRY__NAME_MAX || memchr(k, '\0', n) ||
        is_reserved(k)) {
        free(k);
        return false;
    }
    for (i = 0; i < run->n_cols; i++) {
        if (sqlite3_stricmp(run->cols[i], k) == 0) {
            free(k);
            return false;
        }
    }
    run->cols = xrealloc(run->cols, (run->n_cols + 1) * sizeof *run->cols);
    run->col_lens = xrealloc(run->col_lens, (run->n_cols + 1) * sizeof *run->col_lens);
    run->cols[run->n_cols] = k;
    run->col_lens[run->n_cols] = n;
    run->n_cols++;
    return true;
}

/* Adds the keys of the current record of rs that are not columns yet. */
static void add_columns(struct qry__run *run, const struct qry__records *rs)
{
    for (size_t f = 0; f < rs->n_fields && run->n_cols < QRY__COLUMNS_MAX; f++) {
        const struct qry__field *fd = &rs->fields[f];
        char *k;
        size_t n;

        if (fd->key_escaped) {
            k = qry__json_unescape(rs->text + fd->key, fd->key_len, &n);
        }
        else {
            n = fd->key_len;
            k = xstrndup(rs->text + fd->key, n);
        }
        add_column(run, k, n);
    }
}

bool qry__add_named_column(struct qry__run *run, const char *name, size_t len)
{
    return add_column(run, xstrndup(name, len), len);
}

int qry__infer(struct qry__run *run, const char *bucket, const char *prefix)
{
    struct page pg = { .n = 0 };
    struct objstream o = { .fd = -1 };
    int rc;

    rc = list_page(run, bucket, prefix, "", QRY__INFER_OBJECTS, &pg);
    for (size_t i = 0; rc == 0 && i < pg.n; i++) {
        size_t n = 0;
        enum qry__rec what = QRY__REC_OBJECT;

        rc = obj_open(run, bucket, pg.keys[i], &o);
        if (rc == S3_ENOKEY) {
            rc = 0;
            continue;
        }
        while (rc == 0 && n < QRY__INFER_RECORDS && o.rs.consumed < QRY__INFER_BYTES) {
            if (qry__run_stopped(run)) {
                rc = run->stop_rc;
                break;
            }
            rc = obj_next(run, pg.keys[i], &o, &what);
            if (rc < 0 || what == QRY__REC_END) {
                break;
            }
            if (what == QRY__REC_OBJECT) {
                add_columns(run, &o.rs);
                n++;
            }
        }
        obj_close(&o);
    }
    page_clear(&pg);
    return rc;
}

/* ---- the virtual table ---- */

struct arch_vtab {
    sqlite3_vtab base;
    struct qry__run *run;
};

struct arch_cursor {
    sqlite3_vtab_cursor base;
    struct qry__run *run;
    char *bucket;               /* sqlite3_malloc'd copies of the arguments */
    char *prefix;
    struct page pg;
    size_t next_key;            /* index in pg of the next object to open */
    bool listed_all;
    char *after;                /* the last key listed (owned), where the next page starts */
    char *key;                  /* the open object's key (owned) */
    struct objstream obj;
    sqlite3_int64 rowid;
    bool eof;
};

static int arch_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **err)
{
    struct qry__run *run = aux;
    sqlite3_str *s = sqlite3_str_new(db);
    struct arch_vtab *vt;
    char *sql;
    int rc;

    (void)argc;
    (void)argv;
    sqlite3_str_appendall(s, "CREATE TABLE x(");
    for (size_t i = 0; i < run->n_cols; i++) {
        sqlite3_str_appendf(s, "\"%w\",", run->cols[i]);
    }
    sqlite3_str_appendall(s, "_record,_object,_bucket HIDDEN,_prefix HIDDEN)");
    sql = sqlite3_str_finish(s);
    if (!sql) {
        return SQLITE_NOMEM;
    }
    rc = sqlite3_declare_vtab(db, sql);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
        return rc;
    }
    vt = sqlite3_malloc(sizeof *vt);
    if (!vt) {
        return SQLITE_NOMEM;
    }
    memset(vt, 0, sizeof *vt);
    vt->run = run;
    *out = &vt->base;
    return SQLITE_OK;
}

static int arch_disconnect(sqlite3_vtab *vtab)
{
    sqlite3_free(vtab);
    return SQLITE_OK;
}

/* The bucket is required, the prefix optional: both are equality constraints on the hidden
 * columns (what the table-valued function's arguments become). A plan in which the bucket's
 * value is not known yet (it comes from a table joined later) is refused with
 * SQLITE_CONSTRAINT so that SQLite picks another order; a query that gives no bucket at all
 * gets a sentence saying so instead of "no query solution". */
static int arch_best_index(sqlite3_vtab *vtab, sqlite3_index_info *ix)
{
    struct arch_vtab *vt = (struct arch_vtab *)vtab;
    int col_bucket = (int)vt->run->n_cols + COL_BUCKET;
    int col_prefix = (int)vt->run->n_cols + COL_PREFIX;
    int ib = -1, ip = -1;
    bool bucket_seen = false, prefix_unusable = false;

    /* Only equality makes an argument; any other test of a hidden column (_prefix LIKE 'x%')
     * is left to SQLite, which checks it against the argument's value. */
    for (int i = 0; i < ix->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &ix->aConstraint[i];
        if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) {
            continue;
        }
        if (c->iColumn == col_bucket) {
            bucket_seen = true;
            if (c->usable) {
                ib = i;
            }
        }
        else if (c->iColumn == col_prefix) {
            if (c->usable) {
                ip = i;
            }
            else {
                prefix_unusable = true;
            }
        }
    }
    if (!bucket_seen) {
        sqlite3_free(vtab->zErrMsg);
        vtab->zErrMsg = sqlite3_mprintf("archive() needs a bucket: FROM archive('bucket') or "
                                        "FROM archive('bucket', 'prefix')");
        return SQLITE_ERROR;
    }
    if (ib < 0 || (ip < 0 && prefix_unusable)) {
        return SQLITE_CONSTRAINT;
    }
    ix->aConstraintUsage[ib].argvIndex = 1;
    ix->aConstraintUsage[ib].omit = 1;
    ix->idxNum = 0;
    if (ip >= 0) {
        ix->aConstraintUsage[ip].argvIndex = 2;
        ix->aConstraintUsage[ip].omit = 1;
        ix->idxNum = 1;
    }
    /* A prefix reads fewer objects; nothing else is known about the sizes. */
    ix->estimatedCost = ip >= 0 ? 1e6 : 1e7;
    ix->estimatedRows = ip >= 0 ? 100000 : 1000000;
    return SQLITE_OK;
}

static int arch_open(sqlite3_vtab *vtab, sqlite3_vtab_cursor **out)
{
    struct arch_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) {
        return SQLITE_NOMEM;
    }
    memset(c, 0, sizeof *c);
    c->run = ((struct arch_vtab *)vtab)->run;
    c->obj.fd = -1;
    c->eof = true;
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_reset(struct arch_cursor *c)
{
    obj_close(&c->obj);
    page_clear(&c->pg);
    free(c->after);
    free(c->key);
    sqlite3_free(c->bucket);
    sqlite3_free(c->prefix);
    c->after = c->key = NULL;
    c->bucket = c->prefix = NULL;
    c->next_key = 0;
    c->listed_all = false;
    c->rowid = 0;
    c->eof = true;
}

static int arch_close(sqlite3_vtab_cursor *cur)
{
    cursor_reset((struct arch_cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int cursor_error(struct arch_cursor *c, const char *msg)
{
    sqlite3_vtab *vt = c->base.pVtab;
    sqlite3_free(vt->zErrMsg);
    vt->zErrMsg = sqlite3_mprintf("%s", msg);
    return SQLITE_ERROR;
}

/* Moves to the next record that is a JSON object, across objects and pages. */
static int cursor_advance(struct arch_cursor *c)
{
    struct qry__run *run = c->run;

    for (;;) {
        enum qry__rec what;
        int rc;

        if (qry__run_stopped(run)) {
            return SQLITE_INTERRUPT;
        }
        if (c->obj.open) {
            if (obj_next(run, c->key, &c->obj, &what) < 0) {
                return cursor_error(c, run->scan_msg);
            }
            if (what == QRY__REC_OBJECT) {
                run->records++;
                c->rowid++;
                return SQLITE_OK;
            }
            if (what == QRY__REC_SKIPPED) {
                run->skipped++;
                continue;
            }
            obj_close(&c->obj);
            continue;
        }
        if (c->next_key < c->pg.n) {
            free(c->key);
            c->key = xstrdup(c->pg.keys[c->next_key++]);
            rc = obj_open(run, c->bucket, c->key, &c->obj);
            if (rc == S3_ENOKEY) {
                continue;
            }
            if (rc < 0) {
                return cursor_error(c, run->scan_msg);
            }
            run->objects++;
            continue;
        }
        if (c->pg.n > 0) {
            free(c->after);
            c->after = xstrdup(c->pg.keys[c->pg.n - 1]);
        }
        if (c->listed_all) {
            c->eof = true;
            return SQLITE_OK;
        }
        if (list_page(run, c->bucket, c->prefix, c->after ? c->after : "", QRY__PAGE_KEYS,
                      &c->pg) < 0) {
            return cursor_error(c, run->scan_msg);
        }
        c->next_key = 0;
        c->listed_all = c->pg.n < QRY__PAGE_KEYS;
        if (c->pg.n == 0) {
            c->eof = true;
            return SQLITE_OK;
        }
    }
}

static const char *type_name(int t)
{
    switch (t) {
    case SQLITE_INTEGER:
        return "an integer";
    case SQLITE_FLOAT:
        return "a real";
    case SQLITE_BLOB:
        return "a blob";
    case SQLITE_NULL:
        return "NULL";
    }
    return "text";
}

static int arch_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                       sqlite3_value **argv)
{
    struct arch_cursor *c = (struct arch_cursor *)cur;
    char msg[128];

    (void)idx_str;
    cursor_reset(c);
    for (int i = 0; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) != SQLITE_TEXT) {
            snprintf(msg, sizeof msg, "archive(): the %s must be a string, not %s",
                     i == 0 ? "bucket" : "prefix", type_name(sqlite3_value_type(argv[i])));
            return cursor_error(c, msg);
        }
    }
    c->bucket = sqlite3_mprintf("%s", sqlite3_value_text(argv[0]));
    c->prefix = sqlite3_mprintf("%s", idx_num == 1 && argc > 1
                                          ? (const char *)sqlite3_value_text(argv[1])
                                          : "");
    if (!c->bucket || !c->prefix) {
        return SQLITE_NOMEM;
    }
    c->eof = false;
    return cursor_advance(c);
}

static int arch_next(sqlite3_vtab_cursor *cur)
{
    return cursor_advance((struct arch_cursor *)cur);
}

static int arch_eof(sqlite3_vtab_cursor *cur)
{
    return ((struct arch_cursor *)cur)->eof;
}

/* The SQL value of a JSON number's text: INTEGER for an integer that fits in 64 bits,
 * REAL for the rest (an integer past 64 bits loses digits; a real past a double's range is
 * an infinity). */
static void result_number(sqlite3_context *ctx, const char *p, size_t n, bool is_int)
{
    char small[64];
    char *s = n < sizeof small ? small : xmalloc(n + 1);

    memcpy(s, p, n);
    s[n] = '\0';
    if (is_int) {
        long long v;
        errno = 0;
        v = strtoll(s, NULL, 10);
        if (errno != ERANGE) {
            sqlite3_result_int64(ctx, v);
            goto out;
        }
    }
    sqlite3_result_double(ctx, strtod(s, NULL));
out:
    if (s != small) {
        free(s);
    }
}

/* The SQL value of a record's member (see the file head). */
static void result_field(sqlite3_context *ctx, const char *rec, const struct qry__field *f)
{
    const char *v = rec + f->val;

    switch (f->type) {
    case QRY__J_STRING:
        if (f->flag) {
            size_t n;
            char *d = qry__json_unescape(v + 1, f->val_len - 2, &n);
            sqlite3_result_text(ctx, d, (int)n, free);
        }
        else {
            sqlite3_result_text(ctx, v + 1, (int)f->val_len - 2, SQLITE_TRANSIENT);
        }
        return;
    case QRY__J_NUMBER:
        result_number(ctx, v, f->val_len, f->flag);
        return;
    case QRY__J_TRUE:
        sqlite3_result_int(ctx, 1);
        return;
    case QRY__J_FALSE:
        sqlite3_result_int(ctx, 0);
        return;
    case QRY__J_NULL:
        sqlite3_result_null(ctx);
        return;
    case QRY__J_OBJECT:
    case QRY__J_ARRAY:
        /* Its JSON text as stored: json_extract() and json_each() read it. */
        sqlite3_result_text(ctx, v, (int)f->val_len, SQLITE_TRANSIENT);
        return;
    }
    sqlite3_result_null(ctx);
}

static int arch_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
    struct arch_cursor *c = (struct arch_cursor *)cur;
    size_t n = c->run->n_cols;

    if (i >= 0 && (size_t)i < n) {
        const struct qry__field *f =
            c->obj.rs.text ? qry__record_get(&c->obj.rs, c->run->cols[i], c->run->col_lens[i])
                           : NULL;
        if (f) {
            result_field(ctx, c->obj.rs.text, f);
        }
        else {
            sqlite3_result_null(ctx);
        }
        return SQLITE_OK;
    }
    switch ((size_t)i - n) {
    case COL_RECORD:
        sqlite3_result_text(ctx, c->obj.rs.text, (int)c->obj.rs.text_len, SQLITE_TRANSIENT);
        break;
    case COL_OBJECT:
        sqlite3_result_text(ctx, c->key, -1, SQLITE_TRANSIENT);
        break;
    case COL_BUCKET:
        sqlite3_result_text(ctx, c->bucket, -1, SQLITE_TRANSIENT);
        break;
    case COL_PREFIX:
        sqlite3_result_text(ctx, c->prefix, -1, SQLITE_TRANSIENT);
        break;
    default:
        sqlite3_result_null(ctx);
    }
    return SQLITE_OK;
}

static int arch_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    *rowid = ((struct arch_cursor *)cur)->rowid;
    return SQLITE_OK;
}

static const sqlite3_module archive_module = {
    .iVersion = 0,
    .xCreate = NULL,            /* eponymous only: no CREATE VIRTUAL TABLE ... USING archive */
    .xConnect = arch_connect,
    .xBestIndex = arch_best_index,
    .xDisconnect = arch_disconnect,
    .xDestroy = arch_disconnect,
    .xOpen = arch_open,
    .xClose = arch_close,
    .xFilter = arch_filter,
    .xNext = arch_next,
    .xEof = arch_eof,
    .xColumn = arch_column,
    .xRowid = arch_rowid,
};

int qry__archive_register(sqlite3 *db, struct qry__run *run)
{
    return sqlite3_create_module_v2(db, "archive", &archive_module, run, NULL);
}
