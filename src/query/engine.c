/*
 * engine.c: runs one SQL statement over the archive and renders the answer (qry_run()).
 *
 * Steps: check the SQL's length (before anything else is done); find its literal archive()
 * calls and infer their columns (scan.c, archive.c); open a fresh in-memory SQLite connection
 * that cannot touch files; prepare exactly one read-only statement; step it, writing each row
 * straight into the answer's JSON text; add the stats.
 *
 * Safety. The connection is ":memory:" with temp_store=MEMORY (so sorts and temporary
 * b-trees never spill to files), SQLITE_LIMIT_ATTACHED 0, extensions off, defensive mode on,
 * and an authorizer that allows only reading: SELECT, reads of columns, functions (but
 * load_extension), recursive CTEs, and the schema step SQLite takes when it declares an
 * eponymous virtual table (archive, json_each). ATTACH, PRAGMA, CREATE, INSERT, transactions
 * and the rest are refused at prepare time with "not authorized" and the action named; a
 * statement that would still write (VACUUM INTO) fails sqlite3_stmt_readonly(). SQLite's
 * allocations are capped process-wide at QRY__HEAP_MAX (a query past it gets QRY_ELIMIT, the
 * server goes on) and a string or blob at QRY__LENGTH_MAX.
 *
 * Limits. The time limit covers everything from the call on: the progress handler checks it
 * every QRY__PROGRESS_OPS virtual machine steps and the scan checks it at every record, so a
 * runaway recursive CTE or a scan through a huge object both stop within milliseconds of it.
 * The row and byte limits do not fail the query: the answer ends with the rows that fit and
 * "truncated": true, and SQLite stops where it is (no further records are read).
 *
 * Answer: docs/formats.md, "Queries". Column names are SQLite's (sqlite3_column_name: an
 * expression's text unless AS names it). INTEGER values are JSON integers, REAL numbers
 * (null if not finite), TEXT strings, BLOB base64 strings, NULL null.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "query/qry_int.h"

#define QRY__HEAP_MAX (512ll * 1024 * 1024)    /* SQLite's heap, all queries together */
#define QRY__LENGTH_MAX (16 * 1024 * 1024)     /* a string or blob inside a query */
#define QRY__PROGRESS_OPS 1000
#define QRY__TRAILER_MAX 256                   /* the answer's end: truncated and stats */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
    sqlite3_initialize();
    sqlite3_hard_heap_limit64(QRY__HEAP_MAX);
}

void qry_limits_default(struct qry_limits *l)
{
    l->sql_max = QRY_SQL_MAX;
    l->timeout_ms = QRY_TIMEOUT_MS;
    l->rows_max = QRY_ROWS_MAX;
    l->answer_max = QRY_ANSWER_MAX;
}

const char *qry_strerror(int rc)
{
    switch (rc) {
    case 0:
        return "success";
    case QRY_ESQL:
        return "the SQL statement was refused";
    case QRY_ENOBUCKET:
        return "the bucket does not exist";
    case QRY_ETIMEOUT:
        return "the query ran past its time limit";
    case QRY_ETOOLONG:
        return "the SQL text is too long";
    case QRY_ELIMIT:
        return "the query needed more memory than it may use";
    case QRY_ECANCELLED:
        return "the query was cancelled";
    case QRY_EIO:
        return "an object could not be read";
    }
    return "unknown error";
}

/* ---- the connection ---- */

static const char *action_name(int action)
{
    switch (action) {
    case SQLITE_ATTACH:
        return "ATTACH";
    case SQLITE_DETACH:
        return "DETACH";
    case SQLITE_PRAGMA:
        return "PRAGMA";
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
        return "writing";
    case SQLITE_TRANSACTION:
    case SQLITE_SAVEPOINT:
        return "a transaction";
    case SQLITE_FUNCTION:
        return "load_extension()";
    case SQLITE_ANALYZE:
        return "ANALYZE";
    case SQLITE_REINDEX:
        return "REINDEX";
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_VIEW:
    case SQLITE_DROP_TEMP_VIEW:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_DROP_VTABLE:
        return "DROP";
    case SQLITE_ALTER_TABLE:
        return "ALTER";
    }
    return "CREATE";
}

/* Lets a query read and nothing else (see the file head). */
static int authorize(void *ctx, int action, const char *a, const char *b, const char *db,
                     const char *trigger)
{
    struct qry__run *run = ctx;

    (void)db;
    (void)trigger;
    switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:
        return SQLITE_OK;
    case SQLITE_FUNCTION:
        /* a is NULL, b the function's name. */
        if (!b || sqlite3_stricmp(b, "load_extension") != 0) {
            return SQLITE_OK;
        }
        break;
    case SQLITE_UPDATE:
        /* SQLite's own step when it declares an eponymous virtual table (archive, json_each,
         * json_tree): the schema table's columns are "updated". A statement of the user's
         * cannot write that table (defensive mode), nor pass sqlite3_stmt_readonly(). */
        if (a && sqlite3_stricmp(a, "sqlite_master") == 0) {
            return SQLITE_OK;
        }
        break;
    default:
        break;
    }
    run->denied = action;
    return SQLITE_DENY;
}

static int progress(void *ctx)
{
    return qry__run_stopped(ctx) ? 1 : 0;
}

/* Opens the hardened connection. Returns 0 or QRY_ELIMIT (SQLite could not allocate). */
static int open_db(struct qry__run *run, const struct qry_limits *lim, sqlite3 **out,
                   char *err, size_t errlen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
        sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
        sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
        sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
        sqlite3_limit(db, SQLITE_LIMIT_LENGTH, QRY__LENGTH_MAX);
        sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH,
                      lim->sql_max < QRY__LENGTH_MAX ? (int)lim->sql_max + 1 : QRY__LENGTH_MAX);
        sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
        rc = sqlite3_exec(db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = qry__archive_register(db, run);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_set_authorizer(db, authorize, run);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "Cannot open the query's database: %s",
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return QRY_ELIMIT;
    }
    sqlite3_progress_handler(db, QRY__PROGRESS_OPS, progress, run);
    *out = db;
    return 0;
}

/* After a failed prepare: when SQLite did not know a column ("no such column: x" or "t.x"),
 * makes x a column of the archive table and returns true, so that the caller prepares again
 * on a fresh connection (the table's columns are declared when a connection first names it). */
static bool add_missing_column(struct qry__run *run, sqlite3 *db)
{
    static const char lead[] = "no such column: ";
    const char *msg = sqlite3_errmsg(db);
    const char *name, *dot;

    if (sqlite3_errcode(db) != SQLITE_ERROR || strncmp(msg, lead, sizeof lead - 1) != 0) {
        return false;
    }
    name = msg + sizeof lead - 1;
    dot = strrchr(name, '.');
    if (dot) {
        name = dot + 1;
    }
    return qry__add_named_column(run, name, strlen(name));
}

/* The QRY_E* code and sentence of a failed prepare or step (src: its SQLite code). */
static int fail(struct qry__run *run, sqlite3 *db, int src, const struct qry_limits *lim,
                char *err, size_t errlen)
{
    if (run->stop_rc == QRY_ETIMEOUT) {
        snprintf(err, errlen, "The query ran longer than its time limit of %llu ms.",
                 (unsigned long long)lim->timeout_ms);
        return QRY_ETIMEOUT;
    }
    if (run->stop_rc) {
        snprintf(err, errlen, "The query was cancelled: the server is stopping.");
        return run->stop_rc;
    }
    if (run->scan_rc) {
        snprintf(err, errlen, "%s", run->scan_msg);
        return run->scan_rc;
    }
    if (src == SQLITE_NOMEM) {
        snprintf(err, errlen, "The query needs more memory than queries may use (%lld MiB).",
                 QRY__HEAP_MAX >> 20);
        return QRY_ELIMIT;
    }
    if (src == SQLITE_TOOBIG) {
        snprintf(err, errlen, "%s (at most %d bytes)", sqlite3_errmsg(db), QRY__LENGTH_MAX);
        return QRY_ELIMIT;
    }
    if (run->denied) {
        snprintf(err, errlen, "%s: %s is not allowed; a query can only read the archive",
                 sqlite3_errmsg(db), action_name(run->denied));
        return QRY_ESQL;
    }
    snprintf(err, errlen, "%s", sqlite3_errmsg(db));
    return QRY_ESQL;
}

/* ---- the answer ---- */

static int write_blob(struct buf *b, const void *p, int n, size_t max)
{
    size_t enc = 4 * (((size_t)n + 2) / 3);
    unsigned char *tmp;
    int rc;

    if (enc > max) {
        return -E2BIG;      /* cannot fit: checked before the allocation */
    }
    tmp = xmalloc(enc + 1);
    EVP_EncodeBlock(tmp, p, n);
    rc = buf_append(b, "\"", 1);
    if (rc == 0) {
        rc = buf_append(b, tmp, enc);
    }
    if (rc == 0) {
        rc = buf_append(b, "\"", 1);
    }
    free(tmp);
    return rc;
}

static int write_row(struct buf *b, sqlite3_stmt *st, int ncol, bool first)
{
    int rc = buf_puts(b, first ? "[" : ",[");

    for (int i = 0; rc == 0 && i < ncol; i++) {
        if (i > 0) {
            rc = buf_append(b, ",", 1);
        }
        if (rc < 0) {
            break;
        }
        switch (sqlite3_column_type(st, i)) {
        case SQLITE_INTEGER:
            rc = buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, i));
            break;
        case SQLITE_FLOAT:
            rc = qry__json_real(b, sqlite3_column_double(st, i));
            break;
        case SQLITE_TEXT: {
            const char *t = (const char *)sqlite3_column_text(st, i);
            rc = qry__json_string(b, t ? t : "", (size_t)sqlite3_column_bytes(st, i));
            break;
        }
        case SQLITE_BLOB:
            rc = write_blob(b, sqlite3_column_blob(st, i), sqlite3_column_bytes(st, i), b->max);
            break;
        default:
            rc = buf_append(b, "null", 4);
        }
    }
    return rc == 0 ? buf_append(b, "]", 1) : rc;
}

/* Steps st, writing rows into out. Returns 0, or an SQLite code; sets *truncated. */
static int write_rows(sqlite3_stmt *st, const struct qry_limits *lim, struct buf *out,
                      bool *truncated)
{
    int ncol = sqlite3_column_count(st);
    size_t n = 0;

    for (;;) {
        int rc = sqlite3_step(st);
        size_t mark = out->len;

        if (rc == SQLITE_DONE) {
            return 0;
        }
        if (rc != SQLITE_ROW) {
            return rc;
        }
        if (n == lim->rows_max) {
            *truncated = true;
            return 0;
        }
        if (write_row(out, st, ncol, n == 0) < 0 || out->len + QRY__TRAILER_MAX > out->max) {
            out->len = mark;
            out->p[mark] = '\0';
            *truncated = true;
            return 0;
        }
        n++;
    }
}

int qry_run(struct s3 *s3, const char *sql, size_t len, const struct qry_limits *lim_in,
            const atomic_bool *cancel, char **answer, size_t *answer_len, char *err,
            size_t errlen)
{
    struct qry_limits lim;
    struct qry__run run;
    struct qry__calls calls;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    struct buf out;
    uint64_t t0 = http_now_ns();
    bool truncated = false;
    int rc = 0, src;

    *answer = NULL;
    *answer_len = 0;
    err[0] = '\0';
    if (lim_in) {
        lim = *lim_in;
    }
    else {
        qry_limits_default(&lim);
    }
    memset(&run, 0, sizeof run);
    memset(&calls, 0, sizeof calls);
    buf_init(&out, lim.answer_max);
    if (len > lim.sql_max) {
        snprintf(err, errlen, "The SQL text is %zu bytes; the limit is %zu bytes.", len,
                 lim.sql_max);
        return QRY_ETOOLONG;
    }
    if (memchr(sql, '\0', len)) {
        snprintf(err, errlen, "The SQL text holds a NUL byte.");
        return QRY_ESQL;
    }
    pthread_once(&g_once, global_init);
    run.s3 = s3;
    run.cancel = cancel;
    run.deadline_ns = t0 + lim.timeout_ms * 1000000ull;

    qry__scan_calls(sql, len, &calls);
    for (size_t i = 0; rc == 0 && i < calls.n; i++) {
        rc = qry__infer(&run, calls.v[i].bucket, calls.v[i].prefix);
    }
    if (rc < 0) {
        rc = fail(&run, NULL, SQLITE_OK, &lim, err, errlen);
        goto out;
    }
    for (int tries = 0;; tries++) {
        rc = open_db(&run, &lim, &db, err, errlen);
        if (rc < 0) {
            goto out;
        }
        src = sqlite3_prepare_v2(db, sql, (int)len, &st, &tail);
        if (src == SQLITE_OK || calls.n == 0 || tries == QRY__NAMED_COLUMNS_MAX ||
            !add_missing_column(&run, db)) {
            break;
        }
        /* A name the sample did not see: declare it and prepare again (archive.c). */
        sqlite3_close(db);
        db = NULL;
    }
    if (src != SQLITE_OK) {
        rc = fail(&run, db, src, &lim, err, errlen);
        goto out;
    }
    if (!st) {
        snprintf(err, errlen, "The SQL text holds no statement.");
        rc = QRY_ESQL;
        goto out;
    }
    if (tail && !qry__sql_blank(tail, len - (size_t)(tail - sql))) {
        snprintf(err, errlen, "The SQL text holds more than one statement; send one at a time.");
        rc = QRY_ESQL;
        goto out;
    }
    if (!sqlite3_stmt_readonly(st)) {
        snprintf(err, errlen, "Only a statement that reads (SELECT, WITH, VALUES) is allowed.");
        rc = QRY_ESQL;
        goto out;
    }

    buf_puts(&out, "{\"columns\":[");
    for (int i = 0; i < sqlite3_column_count(st); i++) {
        const char *name = sqlite3_column_name(st, i);
        if (i > 0) {
            buf_append(&out, ",", 1);
        }
        if (!name || qry__json_string(&out, name, strlen(name)) < 0) {
            break;
        }
    }
    if (buf_puts(&out, "],\"rows\":[") < 0 || out.len + QRY__TRAILER_MAX > out.max) {
        snprintf(err, errlen, "The answer's column names alone exceed %zu bytes.",
                 lim.answer_max);
        rc = QRY_ELIMIT;
        goto out;
    }
    src = write_rows(st, &lim, &out, &truncated);
    if (src != 0) {
        rc = fail(&run, db, src, &lim, err, errlen);
        goto out;
    }
    /* The trailer always fits: every row left QRY__TRAILER_MAX bytes for it. */
    buf_printf(&out,
               "],\"truncated\":%s,\"stats\":{\"objects\":%llu,\"records\":%llu,"
               "\"skipped\":%llu,\"elapsedMs\":%llu}}",
               truncated ? "true" : "false", (unsigned long long)run.objects,
               (unsigned long long)run.records, (unsigned long long)run.skipped,
               (unsigned long long)((http_now_ns() - t0) / 1000000ull));
    *answer = buf_detach(&out, answer_len);
out:
    sqlite3_finalize(st);
    sqlite3_close(db);
    buf_release(&out);
    qry__calls_release(&calls);
    qry__run_release(&run);
    return rc;
}
