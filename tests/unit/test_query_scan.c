/*
 * test_query_scan.c: the SQL scanner that finds archive('bucket', 'prefix') calls before
 * SQLite sees the statement (src/query/scan.c): literals with quotes, comments and quoted
 * identifiers that must not fool it, several and repeated calls, non-literal arguments, and
 * the blank-tail check that keeps a query to one statement.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "query/qry_int.h"

/* Scans sql and checks the calls found against want ("bucket|prefix" each), in order. */
static void check(const char *sql, size_t want_total, size_t want_nonliteral,
                  const char *const *want, size_t n_want)
{
    struct qry__calls c;
    qry__scan_calls(sql, strlen(sql), &c);
    if (c.n != n_want || c.total != want_total || c.nonliteral != want_nonliteral) {
        fail_msg("%s: %zu calls (%zu in all, %zu non-literal), want %zu (%zu, %zu)", sql, c.n,
                 c.total, c.nonliteral, n_want, want_total, want_nonliteral);
    }
    for (size_t i = 0; i < n_want; i++) {
        char got[2048];
        snprintf(got, sizeof got, "%s|%s", c.v[i].bucket, c.v[i].prefix);
        if (strcmp(got, want[i]) != 0) {
            fail_msg("%s: call %zu is '%s', want '%s'", sql, i, got, want[i]);
        }
    }
    qry__calls_release(&c);
}

#define CHECK(sql, total, nonlit, ...)                                                         \
    do {                                                                                       \
        static const char *const w_[] = { __VA_ARGS__ };                                       \
        check(sql, total, nonlit, w_, sizeof w_ / sizeof w_[0]);                               \
    } while (0)
#define CHECK_NONE(sql, total, nonlit) check(sql, total, nonlit, NULL, 0)

static void test_the_issue_example(void **state)
{
    (void)state;
    CHECK("SELECT customer, count(*), sum(amount) FROM archive('invoice-archive', '2026/') "
          "GROUP BY customer",
          1, 0, "invoice-archive|2026/");
    CHECK("select * from ARCHIVE ( 'b' )", 1, 0, "b|");
    CHECK("select * from archive('b','')", 1, 0, "b|");
}

static void test_literals_with_quotes(void **state)
{
    (void)state;
    CHECK("SELECT * FROM archive('it''s', 'a''b''')", 1, 0, "it's|a'b'");
    CHECK("SELECT * FROM archive('b', '2026/01/') WHERE x = 'archive(''x'')'", 1, 0,
          "b|2026/01/");
    /* The call inside a string literal is text, not a call. */
    CHECK_NONE("SELECT 'archive(''nope'')' AS t", 0, 0);
    CHECK_NONE("SELECT 'it''s archive(', archive2('x'), xarchive('y')", 0, 0);
}

static void test_comments_and_quoted_identifiers(void **state)
{
    (void)state;
    CHECK_NONE("SELECT 1 -- FROM archive('a')\n", 0, 0);
    CHECK_NONE("SELECT 1 /* archive('a') */", 0, 0);
    CHECK_NONE("SELECT 1 /* unterminated archive('a')", 0, 0);
    CHECK_NONE("SELECT \"archive('a')\" FROM t", 0, 0);
    CHECK_NONE("SELECT `archive('a')`, [archive('b')]", 0, 0);
    /* Comments between the name, the parenthesis and the arguments are blanks. */
    CHECK("SELECT * FROM archive /* c */ ( -- c\n 'a' /* c */ , 'p' ) x", 1, 0, "a|p");
    /* The name may itself be quoted, as SQLite matches names. */
    CHECK("SELECT * FROM \"archive\"('a') JOIN [Archive]('b') JOIN `ARCHIVE`('c')", 3, 0, "a|",
          "b|", "c|");
    CHECK("SELECT * FROM main.archive('a')", 1, 0, "a|");
}

static void test_several_calls(void **state)
{
    (void)state;
    CHECK("SELECT * FROM archive('a', 'x/') a JOIN archive('b') b ON a.id = b.id "
          "WHERE a.k IN (SELECT k FROM archive('a', 'x/'))",
          3, 0, "a|x/", "b|");
    CHECK("WITH t AS (SELECT * FROM archive('a','1')) SELECT * FROM t, archive('a','2')", 2, 0,
          "a|1", "a|2");
}

static void test_nonliteral_calls(void **state)
{
    (void)state;
    CHECK_NONE("SELECT * FROM archive(?)", 1, 1);
    CHECK_NONE("SELECT * FROM archive('a' || 'b')", 1, 1);
    CHECK_NONE("SELECT * FROM archive('a', 'p', 'extra')", 1, 1);
    CHECK_NONE("SELECT * FROM archive()", 1, 1);
    CHECK_NONE("SELECT * FROM archive", 0, 0);
    CHECK_NONE("SELECT * FROM archive(x)", 1, 1);
    CHECK_NONE("SELECT * FROM archive('unterminated", 1, 1);
    CHECK("SELECT * FROM archive(upper('a')) JOIN archive('b')", 2, 1, "b|");
    /* An archive() nested in a non-literal call's arguments is still found. */
    CHECK("SELECT * FROM archive((SELECT 1 FROM archive('n')))", 2, 1, "n|");
}

static void test_at_most_calls_max(void **state)
{
    char sql[4096];
    size_t n = 0;
    struct qry__calls c;

    (void)state;
    n += (size_t)snprintf(sql + n, sizeof sql - n, "SELECT 1");
    for (int i = 0; i < QRY__CALLS_MAX + 3; i++) {
        n += (size_t)snprintf(sql + n, sizeof sql - n, " JOIN archive('b', '%d')", i);
    }
    qry__scan_calls(sql, n, &c);
    assert_int_equal(c.n, QRY__CALLS_MAX);
    assert_int_equal(c.dropped, 3);
    assert_int_equal(c.total, QRY__CALLS_MAX + 3);
    qry__calls_release(&c);
    /* Bytes after len are never read: the call is cut at the length given. */
    qry__scan_calls("SELECT * FROM archive('abc')", 25, &c);
    assert_int_equal(c.n, 0);
    qry__calls_release(&c);
}

static bool blank(const char *s)
{
    return qry__sql_blank(s, strlen(s));
}

static void test_blank_tail(void **state)
{
    (void)state;
    assert_true(blank(""));
    assert_true(blank("  \n\t"));
    assert_true(blank(" ; -- done\n /* x */ ;"));
    assert_true(blank("/* unterminated"));
    assert_false(blank(" SELECT 2"));
    assert_false(blank("; x"));
    assert_false(blank("-- c\nx"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_issue_example),
        cmocka_unit_test(test_literals_with_quotes),
        cmocka_unit_test(test_comments_and_quoted_identifiers),
        cmocka_unit_test(test_several_calls),
        cmocka_unit_test(test_nonliteral_calls),
        cmocka_unit_test(test_at_most_calls_max),
        cmocka_unit_test(test_blank_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
