/*
 * query.h: ad hoc SQL over the records archived in S3, the only header of src/query/ other
 * folders include (R1).
 *
 * What it is: `SELECT customer, count(*), sum(amount) FROM archive('invoice-archive', '2026/')
 * GROUP BY customer` run by SQLite over the JSON records of every object under a bucket and
 * prefix (JSON lines or values back to back, plain or gzipped), through a virtual table that
 * streams them; POST /_sluice/query, which runs such queries on a small pool of worker threads;
 * and the helpers `sluice query` prints answers with. The answer is one JSON document
 * (docs/formats.md, "Queries"):
 *   {"columns":[...],"rows":[[...],...],"truncated":false,
 *    "stats":{"objects":n,"records":n,"skipped":n,"elapsedMs":n}}
 *
 * What it is not: a SQL engine (SQLite is), a writer (a query can read only the archive: the
 * connection is in memory, refuses ATTACH, PRAGMA, extensions and every statement that is not
 * a read), or an index (every query reads the objects under its prefix).
 *
 * Threads: qry_run() on any thread but the writer and the HTTP threads (it reads objects and
 * may run for the whole time limit); the service's handler on HTTP threads, its queries on its
 * own workers.
 */
#ifndef SL_QUERY_H
#define SL_QUERY_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/http.h"
#include "core/mem.h"
#include "s3/s3.h"

/* Module error codes (R12), below S3's range. */
#define QRY_ESQL (-31201)       /* SQLite refused the statement (its message says why), or it
                                   is not one read-only statement */
#define QRY_ENOBUCKET (-31202)  /* an archive() bucket does not exist */
#define QRY_ETIMEOUT (-31203)   /* the time limit was reached */
#define QRY_ETOOLONG (-31204)   /* the SQL text is longer than the limit */
#define QRY_ELIMIT (-31205)     /* the query needed more memory, or a longer string, than
                                   SQLite may use for it */
#define QRY_ECANCELLED (-31206) /* the server is stopping */
#define QRY_EIO (-31207)        /* an object could not be read */

/* Defaults of struct qry_limits. */
#define QRY_SQL_MAX (64 * 1024)
#define QRY_TIMEOUT_MS (60 * 1000)
#define QRY_ROWS_MAX 10000
#define QRY_ANSWER_MAX (8u * 1024 * 1024)

struct qry_limits {
    size_t sql_max;         /* bytes of SQL text (QRY_ETOOLONG past it) */
    uint64_t timeout_ms;    /* the whole query: inference, scan, sort, rendering */
    size_t rows_max;        /* rows in an answer; more make it "truncated" */
    size_t answer_max;      /* bytes of the answer; a row that would pass it is left out and
                               the answer is "truncated" */
};

/* Fills l with the defaults above. */
void qry_limits_default(struct qry_limits *l);

/*
 * Runs one SQL statement. sql[0..len) is borrowed for the call; lim may be NULL (defaults);
 * cancel (may be NULL) stops the query with QRY_ECANCELLED when it becomes true, from any
 * thread. On success returns 0 and the answer's JSON text in *answer (owned by the caller,
 * free()) and *answer_len. On failure returns a QRY_E* code and a sentence in err (SQLite's
 * message for QRY_ESQL, e.g. `near "SELEC": syntax error`); *answer is left NULL.
 */
int qry_run(struct s3 *s3, const char *sql, size_t len, const struct qry_limits *lim,
            const atomic_bool *cancel, char **answer, size_t *answer_len, char *err,
            size_t errlen);

/* A static sentence for a QRY_E* code. */
const char *qry_strerror(int rc);

/* ---- the HTTP service ---- */

struct qry;

struct qry_options {
    struct qry_limits limits;   /* for every query */
    unsigned workers;           /* threads running queries; 0 picks 2 */
    unsigned queue_max;         /* queries waiting for a worker; 0 picks 16 */
};

/*
 * Creates the service (POST /_sluice/query) and starts its workers. s3 is borrowed until
 * qry_free(); opt may be NULL (defaults). *svc is owned by the struct qry. Register it before
 * S3, which claims every path. Returns 0 or -errno. Thread: main, at start-up.
 */
int qry_new(struct s3 *s3, const struct qry_options *opt, struct qry **out,
            struct http_service **svc);
/* Stops the service: running queries are cancelled, waiting ones answered
 * ServiceUnavailable, the workers joined; new requests get ServiceUnavailable. Call it before
 * the front door stops, so that no suspended request outlives its worker. Idempotent.
 * Thread: main. */
void qry_stop(struct qry *q);
/* Stops (if not done) and frees q. qry_free(NULL) does nothing. Thread: main. */
void qry_free(struct qry *q);

/* ---- helpers for printing answers ---- */

/* Writes the shortest text that reads back as d into out (cap bytes; 32 is enough), with ".0"
 * when it would read as an integer. Returns its length, 0 when d is not finite. */
size_t qry_real_format(double d, char *out, size_t cap);
/* Appends v as compact JSON, reals as qry_real_format() prints them. Returns 0 or -E2BIG. */
int qry_json_write(struct buf *b, const json_t *v);

#endif
