/*
 * test_query_engine.c: SQL over archived records, end to end in process (src/query/engine.c
 * and src/query/archive.c on a real store and S3 in a temporary directory): column inference
 * (first-seen order, case-folded duplicates, exactly which objects are sampled), the mapping of
 * JSON values to SQL values and of SQL values to the answer, _record and _object, the issue's
 * GROUP BY example, scans across listing pages and gzip objects, stats, every refusal (bad SQL,
 * a missing bucket, ATTACH, PRAGMA, writes, several statements, a missing bucket argument),
 * and the limits: SQL length, time (a runaway recursive CTE), rows and bytes (truncated
 * answers), memory, cancellation.
 */
#define _XOPEN_SOURCE 700   /* nftw() */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "core/store.h"
#include "query/query.h"
#include "s3/s3.h"

static char g_dir[256];
static struct store *g_st;
static struct s3 *g_s3;

static void put(const char *key, const void *body, size_t len)
{
    assert_int_equal(s3_put_object_from_buf(g_s3, "arch", sl_str_c(key), body, len, NULL, NULL),
                     0);
}

static void put_str(const char *key, const char *body)
{
    put(key, body, strlen(body));
}

static void put_gz(const char *key, const char *body)
{
    unsigned char out[4096];
    uLongf n = sizeof out;
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
                     Z_OK);
    z.next_in = (unsigned char *)body;
    z.avail_in = (uInt)strlen(body);
    z.next_out = out;
    z.avail_out = sizeof out;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    n = sizeof out - z.avail_out;
    deflateEnd(&z);
    put(key, out, n);
}

static int setup(void **state)
{
    struct store_options so;
    struct http_service *svc;
    char err[256];

    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/sluice-query-XXXXXX");
    if (!mkdtemp(g_dir)) {
        return -1;
    }
    memset(&so, 0, sizeof so);
    so.dir = g_dir;
    so.sync = STORE_SYNC_NONE;
    so.map_size = 64 << 20;
    if (store_open(&so, &g_st, err, sizeof err) < 0 ||
        s3_new(g_st, g_dir, "us-east-1", "000000000000", &g_s3, &svc) < 0 ||
        s3_bucket_create(g_s3, "arch") < 0 || s3_bucket_create(g_s3, "empty") < 0) {
        return -1;
    }
    /* The invoice archive: JSON lines, gzip with records back to back, a bad line. */
    put_str("2026/01/01/00/inv-1-a",
            "{\"customer\":\"acme\",\"amount\":10.5,\"n\":1}\n"
            "{\"customer\":\"bolt\",\"amount\":3,\"extra\":true}\n");
    put_gz("2026/02/01/00/inv-1-b.gz",
           "{\"customer\":\"acme\",\"amount\":20}{\"customer\":\"cog\",\"amount\":1.25,"
           "\"Amount\":9}");
    put_str("2026/02/01/01/inv-1-c", "not json at all\n[1,2]\n{\"customer\":\"bolt\","
                                     "\"amount\":4.5}\n");
    put_str("2025/12/31/23/inv-1-z", "{\"old\":1,\"customer\":\"acme\",\"amount\":100}\n");
    /* Every JSON type, and keys that only some records have. */
    put_str("types/1", "{\"s\":\"x\\u00e9\",\"i\":42,\"r\":1.5,\"t\":true,\"f\":false,\"z\":null,"
                       "\"o\":{\"a\":[1,2.5,\"q\"],\"b\":{}},\"a\":[1,\"x\"],"
                       "\"big\":123456789012345678901234,\"neg\":-9223372036854775808}\n"
                       "{\"only2\":\"y\",\"_record\":\"shadow\",\"\":\"empty\"}\n");
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    s3_free(g_s3);
    store_close(g_st);
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Runs sql (NUL-terminated) with lim (NULL: defaults); returns the parsed answer. */
static json_t *run_lim(const char *sql, const struct qry_limits *lim)
{
    char *answer = NULL, err[512];
    size_t n = 0;
    json_error_t jerr;
    json_t *a;
    int rc = qry_run(g_s3, sql, strlen(sql), lim, NULL, &answer, &n, err, sizeof err);
    if (rc != 0) {
        fail_msg("%s: %s (%s)", sql, err, qry_strerror(rc));
    }
    assert_int_equal(strlen(answer), n);
    a = json_loadb(answer, n, 0, &jerr);
    if (!a) {
        fail_msg("answer is not JSON: %s: %s", jerr.text, answer);
    }
    free(answer);
    return a;
}

static json_t *run(const char *sql)
{
    return run_lim(sql, NULL);
}

/* Runs sql expecting failure rc; returns the message in err. */
static void run_fail(const char *sql, const struct qry_limits *lim, int want, char *err,
                     size_t errlen)
{
    char *answer = NULL;
    size_t n = 0;
    int rc = qry_run(g_s3, sql, strlen(sql), lim, NULL, &answer, &n, err, errlen);
    if (rc != want) {
        fail_msg("%s: got %d (%s), want %d", sql, rc, rc ? err : answer, want);
    }
    assert_null(answer);
}

/* Compares a JSON value with the JSON text want. */
static void assert_json(const json_t *got, const char *want)
{
    json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
    assert_non_null(w);
    if (!json_equal((json_t *)got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("got %s, want %s", g, want);
    }
    json_decref(w);
}

static void test_columns_inferred_in_first_seen_order(void **state)
{
    json_t *a;
    (void)state;
    a = run("SELECT * FROM archive('arch', '2026/') LIMIT 0");
    /* Amount folds onto amount (SQLite names ignore case); old is under 2025/ only. */
    assert_json(json_object_get(a, "columns"),
                "[\"customer\",\"amount\",\"n\",\"extra\",\"_record\",\"_object\"]");
    json_decref(a);
    /* Without a prefix: the whole bucket, keys in the key order of the objects. */
    a = run("SELECT * FROM archive('arch') WHERE 0");
    assert_json(json_object_get(a, "columns"),
                "[\"old\",\"customer\",\"amount\",\"n\",\"extra\",\"s\",\"i\",\"r\",\"t\",\"f\","
                "\"z\",\"o\",\"a\",\"big\",\"neg\",\"only2\",\"_record\",\"_object\"]");
    json_decref(a);
}

static void test_json_values_become_sql_values(void **state)
{
    json_t *a;
    (void)state;
    a = run("SELECT typeof(s), s, typeof(i), i, typeof(r), r, t, typeof(t), f, typeof(z),"
            " typeof(o), o, a, typeof(big), big > 1.2e23, neg, typeof(only2)"
            " FROM archive('arch', 'types/') WHERE i = 42");
    assert_json(json_object_get(a, "rows"),
                "[[\"text\",\"x\u00e9\",\"integer\",42,\"real\",1.5,1,\"integer\",0,\"null\","
                "\"text\",\"{\\\"a\\\":[1,2.5,\\\"q\\\"],\\\"b\\\":{}}\",\"[1,\\\"x\\\"]\","
                "\"real\",1,-9223372036854775808,\"null\"]]");
    json_decref(a);
    /* The record's own text, and json_extract on it; a key named like a reserved column
     * (and an empty key) are reachable only through _record. */
    a = run("SELECT _record, _object, json_extract(_record, '$._record'),"
            " json_extract(_record, '$.\"\"'), json_extract(o, '$.a[1]')"
            " FROM archive('arch', 'types/') ORDER BY rowid");
    assert_json(json_object_get(a, "rows"),
                "[[\"{\\\"s\\\":\\\"x\\\\u00e9\\\",\\\"i\\\":42,\\\"r\\\":1.5,\\\"t\\\":true,"
                "\\\"f\\\":false,\\\"z\\\":null,\\\"o\\\":{\\\"a\\\":[1,2.5,\\\"q\\\"],"
                "\\\"b\\\":{}},\\\"a\\\":[1,\\\"x\\\"],\\\"big\\\":123456789012345678901234,"
                "\\\"neg\\\":-9223372036854775808}\",\"types/1\",null,null,2.5],"
                "[\"{\\\"only2\\\":\\\"y\\\",\\\"_record\\\":\\\"shadow\\\",\\\"\\\":"
                "\\\"empty\\\"}\",\"types/1\",\"shadow\",\"empty\",null]]");
    json_decref(a);
    /* SQL values in the answer: reals in their shortest form, blobs as base64, NULL. */
    a = run("SELECT 0.1, 30.0, 1e300, 9e999, -0.0, x'00ff10', NULL, 'a\"b\\c\n', 7");
    assert_json(json_object_get(a, "rows"),
                "[[0.1,30.0,1e300,null,-0.0,\"AP8Q\",null,\"a\\\"b\\\\c\\n\",7]]");
    json_decref(a);
}

static void test_the_issue_example(void **state)
{
    json_t *a, *stats;
    (void)state;
    a = run("SELECT customer, count(*), sum(amount) FROM archive('arch', '2026/') "
            "GROUP BY customer");
    assert_json(json_object_get(a, "columns"), "[\"customer\",\"count(*)\",\"sum(amount)\"]");
    assert_json(json_object_get(a, "rows"),
                "[[\"acme\",2,30.5],[\"bolt\",2,7.5],[\"cog\",1,1.25]]");
    assert_json(json_object_get(a, "truncated"), "false");
    stats = json_object_get(a, "stats");
    assert_int_equal(json_integer_value(json_object_get(stats, "objects")), 3);
    assert_int_equal(json_integer_value(json_object_get(stats, "records")), 5);
    assert_int_equal(json_integer_value(json_object_get(stats, "skipped")), 2);
    assert_true(json_is_integer(json_object_get(stats, "elapsedMs")));
    json_decref(a);
    /* The same through WHERE, ORDER BY, _object and a join of two archives. */
    a = run("SELECT _object, customer FROM archive('arch', '2026/02/') WHERE amount > 2 "
            "ORDER BY amount DESC");
    assert_json(json_object_get(a, "rows"), "[[\"2026/02/01/00/inv-1-b.gz\",\"acme\"],"
                                            "[\"2026/02/01/01/inv-1-c\",\"bolt\"]]");
    json_decref(a);
    a = run("SELECT o.customer, o.amount, n.amount FROM archive('arch', '2025/') o "
            "JOIN archive('arch', '2026/01/') n ON n.customer = o.customer");
    assert_json(json_object_get(a, "rows"), "[[\"acme\",100,10.5]]");
    json_decref(a);
    /* Arrays through json_each, a correlated eponymous table. */
    a = run("SELECT j.value FROM archive('arch', 'types/') t, json_each(t.a) j ORDER BY 1");
    assert_json(json_object_get(a, "rows"), "[[1],[\"x\"]]");
    json_decref(a);
    /* The arguments are also hidden columns, and only equality makes an argument. */
    a = run("SELECT count(*) FROM archive WHERE _bucket = 'arch' AND _prefix = '2026/01/'");
    assert_json(json_object_get(a, "rows"), "[[2]]");
    json_decref(a);
    a = run("SELECT count(*), min(_bucket), min(_prefix) FROM archive('arch', '2026/') "
            "WHERE _prefix LIKE '2026%'");
    assert_json(json_object_get(a, "rows"), "[[5,\"arch\",\"2026/\"]]");
    json_decref(a);
    /* A bucket named by an expression is read too (with the literal calls' columns). */
    a = run("SELECT count(*) FROM archive('ar' || 'ch', '2026/')");
    assert_json(json_object_get(a, "rows"), "[[5]]");
    json_decref(a);
    a = run("SELECT count(*), count(_record) FROM archive('empty')");
    assert_json(json_object_get(a, "rows"), "[[0,0]]");
    json_decref(a);
}

static void test_sampling_and_paging(void **state)
{
    char key[64], body[64];
    json_t *a;
    (void)state;
    /* 300 objects: more than one listing page; object i has the key k<i>. Only the first
     * 16 objects are sampled for columns. */
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "many/%03d", i);
        snprintf(body, sizeof body, "{\"k%d\":%d,\"v\":1}\n{\"v\":2}", i, i);
        put_str(key, body);
    }
    a = run("SELECT * FROM archive('arch', 'many/') WHERE 0");
    {
        json_t *cols = json_object_get(a, "columns");
        assert_int_equal(json_array_size(cols), 16 + 1 + 2);
        assert_string_equal(json_string_value(json_array_get(cols, 0)), "k0");
        assert_string_equal(json_string_value(json_array_get(cols, 1)), "v");
        assert_string_equal(json_string_value(json_array_get(cols, 16)), "k15");
    }
    json_decref(a);
    a = run("SELECT count(*), sum(v), sum(k15), sum(json_extract(_record, '$.k299')),"
            " count(DISTINCT _object) FROM archive('arch', 'many/')");
    assert_json(json_object_get(a, "rows"), "[[600,900,15,299,300]]");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "stats"),
                                                        "objects")), 300);
    json_decref(a);
    /* A key only later objects hold is a column once the query names it, qualified or not;
     * so is a name no record holds (NULL), and a name in an archive with no objects yet. */
    a = run("SELECT sum(k299), sum(a.k298), count(k77), count(nowhere) "
            "FROM archive('arch', 'many/') AS a");
    assert_json(json_object_get(a, "rows"), "[[299,298,1,0]]");
    json_decref(a);
    a = run("SELECT count(DISTINCT invoice_id) FROM archive('arch', 'nothing-yet/')");
    assert_json(json_object_get(a, "rows"), "[[0]]");
    json_decref(a);
}

static void test_refusals(void **state)
{
    char err[512];
    char big[QRY_SQL_MAX + 16];
    (void)state;

    run_fail("SELEC 1", NULL, QRY_ESQL, err, sizeof err);
    assert_string_equal(err, "near \"SELEC\": syntax error");
    run_fail("SELECT t.nope FROM archive('arch', '2026/') AS a", NULL, QRY_ESQL, err,
             sizeof err);
    assert_string_equal(err, "no such column: t.nope");
    run_fail("SELECT nope FROM (SELECT 1 AS one)", NULL, QRY_ESQL, err, sizeof err);
    assert_string_equal(err, "no such column: nope");
    run_fail("SELECT * FROM archive('no-such-bucket')", NULL, QRY_ENOBUCKET, err, sizeof err);
    assert_string_equal(err, "The specified bucket does not exist: no-such-bucket");
    run_fail("SELECT * FROM archive('no-such-' || 'bucket')", NULL, QRY_ENOBUCKET, err,
             sizeof err);
    run_fail("SELECT * FROM archive", NULL, QRY_ESQL, err, sizeof err);
    assert_non_null(strstr(err, "archive() needs a bucket"));
    run_fail("SELECT * FROM archive(1)", NULL, QRY_ESQL, err, sizeof err);
    assert_string_equal(err, "archive(): the bucket must be a string, not an integer");

    /* Nothing but reading. */
    run_fail("ATTACH DATABASE '/tmp/x.db' AS x", NULL, QRY_ESQL, err, sizeof err);
    assert_string_equal(err, "not authorized: ATTACH is not allowed; a query can only read "
                             "the archive");
    assert_int_equal(access("/tmp/x.db", F_OK), -1);
    run_fail("SELECT * FROM pragma_table_info('x') JOIN (SELECT 1)", NULL, QRY_ESQL, err,
             sizeof err);
    run_fail("PRAGMA temp_store_directory = '/tmp'", NULL, QRY_ESQL, err, sizeof err);
    assert_non_null(strstr(err, "PRAGMA is not allowed"));
    run_fail("VACUUM INTO '/tmp/sluice-vacuum.db'", NULL, QRY_ESQL, err, sizeof err);
    assert_int_equal(access("/tmp/sluice-vacuum.db", F_OK), -1);
    run_fail("CREATE TABLE t(a)", NULL, QRY_ESQL, err, sizeof err);
    run_fail("CREATE TEMP TABLE t AS SELECT 1", NULL, QRY_ESQL, err, sizeof err);
    run_fail("CREATE VIRTUAL TABLE t USING archive('arch')", NULL, QRY_ESQL, err, sizeof err);
    run_fail("INSERT INTO archive VALUES (1)", NULL, QRY_ESQL, err, sizeof err);
    run_fail("SELECT load_extension('/tmp/x.so')", NULL, QRY_ESQL, err, sizeof err);
    run_fail("BEGIN", NULL, QRY_ESQL, err, sizeof err);
    run_fail("SELECT 1; SELECT 2", NULL, QRY_ESQL, err, sizeof err);
    assert_non_null(strstr(err, "more than one statement"));
    run_fail("-- nothing", NULL, QRY_ESQL, err, sizeof err);
    run_fail("SELECT 1; DROP TABLE x", NULL, QRY_ESQL, err, sizeof err);
    /* One statement with blank tails is fine. */
    json_decref(run("SELECT 1; -- done\n;"));

    /* The SQL's length is checked before anything else. */
    memset(big, ' ', sizeof big);
    memcpy(big, "SELECT 1", 8);
    big[QRY_SQL_MAX] = '\0';
    json_decref(run(big));
    big[QRY_SQL_MAX] = ' ';
    big[QRY_SQL_MAX + 1] = '\0';
    run_fail(big, NULL, QRY_ETOOLONG, err, sizeof err);
    assert_string_equal(err, "The SQL text is 65537 bytes; the limit is 65536 bytes.");
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void test_limits(void **state)
{
    struct qry_limits lim;
    char err[512];
    json_t *a;
    uint64_t t0;
    atomic_bool cancel;
    char *answer = NULL;
    size_t n;
    (void)state;

    /* Time: a recursive CTE that never ends is stopped at the limit. */
    qry_limits_default(&lim);
    lim.timeout_ms = 200;
    t0 = now_ms();
    run_fail("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
             "SELECT count(*) FROM c", &lim, QRY_ETIMEOUT, err, sizeof err);
    assert_true(now_ms() - t0 < 2000);
    assert_string_equal(err, "The query ran longer than its time limit of 200 ms.");

    /* Rows: the answer ends with the rows that fit and says it was truncated. */
    qry_limits_default(&lim);
    lim.rows_max = 3;
    a = run_lim("SELECT amount FROM archive('arch', '2026/') ORDER BY amount", &lim);
    assert_json(json_object_get(a, "rows"), "[[1.25],[3],[4.5]]");
    assert_json(json_object_get(a, "truncated"), "true");
    json_decref(a);
    a = run_lim("SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3", &lim);
    assert_json(json_object_get(a, "truncated"), "false");
    json_decref(a);
    /* An endless CTE is no problem with a row limit: stepping stops. */
    a = run("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c");
    assert_int_equal(json_array_size(json_object_get(a, "rows")), QRY_ROWS_MAX);
    assert_json(json_object_get(a, "truncated"), "true");
    json_decref(a);

    /* Bytes: no answer is longer than answer_max. */
    qry_limits_default(&lim);
    lim.answer_max = 1000;
    assert_int_equal(qry_run(g_s3, "SELECT _record FROM archive('arch')", 35, &lim, NULL,
                             &answer, &n, err, sizeof err), 0);
    assert_true(n <= 1000);
    a = json_loads(answer, 0, NULL);
    assert_json(json_object_get(a, "truncated"), "true");
    assert_true(json_array_size(json_object_get(a, "rows")) >= 1);
    json_decref(a);
    free(answer);

    /* Cancellation (the server stopping). */
    atomic_init(&cancel, true);
    assert_int_equal(qry_run(g_s3, "SELECT count(*) FROM archive('arch')", 36, NULL, &cancel,
                             &answer, &n, err, sizeof err), QRY_ECANCELLED);

    /* Memory: a sort larger than SQLite's heap limit fails the query, not the process. */
    sqlite3_hard_heap_limit64(32 << 20);
    run_fail("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) "
             "SELECT x, randomblob(500) FROM c ORDER BY 2", NULL, QRY_ELIMIT, err, sizeof err);
    sqlite3_hard_heap_limit64(512ll << 20);
    /* A string past the length limit. */
    run_fail("SELECT length(zeroblob(20000000))", NULL, QRY_ELIMIT, err, sizeof err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns_inferred_in_first_seen_order),
        cmocka_unit_test(test_json_values_become_sql_values),
        cmocka_unit_test(test_the_issue_example),
        cmocka_unit_test(test_sampling_and_paging),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
