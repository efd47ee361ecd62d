/*
 * test_dynamodb_partiql.c: the PartiQL parser (src/dynamodb/partiql.c), table-driven (R28):
 * each statement kind parsed into the expression machinery's trees, those trees evaluated
 * and applied against encoded items (so the translation is proven by what it does), the split
 * of a WHERE against a key, parameters, literals of every type, and the errors in DynamoDB's
 * words, with the limits checked before the work they bound.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/partiql.h"

/* ---- helpers ---- */

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *j = s ? json_loads(s, 0, &e) : NULL;
    if (s && !j) {
        fail_msg("bad test JSON %s: %s", s, e.text);
    }
    return j;
}

/* Parses s with params (JSON text or NULL) into *out. Returns the parse's result; the
 * message is in err. */
static int parse(struct arena *a, const char *s, const char *params, struct ddb_pql *out,
                 struct ddb_err *err)
{
    json_t *p = load(params);
    int rc = ddb_pql_parse(a, s, strlen(s), p, out, err);
    /* The parse keeps what it needs from the parameters in the arena. */
    json_decref(p);
    return rc;
}

/* An encoded item from AttributeValue JSON (arena). */
static const char *item(struct arena *a, const char *json, size_t *n)
{
    json_t *j = load(json);
    struct buf b;
    struct ddb_err err;
    size_t size;
    char *out;
    buf_init(&b, DDB_ITEM_ENC_MAX);
    assert_int_equal(ddb_item_encode(j, a, &b, &size, &err), 0);
    out = arena_alloc(a, b.len);
    memcpy(out, b.p, b.len);
    *n = b.len;
    buf_release(&b);
    json_decref(j);
    return out;
}

/* ---- statements ---- */

static void test_select_shapes(void **state)
{
    struct arena a;
    struct ddb_pql q;
    struct ddb_err err;
    (void)state;
    arena_init(&a);

    assert_int_equal(parse(&a, "SELECT * FROM \"Music\"", NULL, &q, &err), 0);
    assert_int_equal(q.kind, DDB_PQL_SELECT);
    assert_string_equal(q.table, "Music");
    assert_null(q.index);
    assert_null(q.proj);
    assert_null(q.where);

    assert_int_equal(parse(&a, "select a, b.c[2], \"d e\" from \"T\".\"idx\" where a = 1 "
                               "order by sk desc;",
                           NULL, &q, &err),
                     0);
    assert_string_equal(q.table, "T");
    assert_string_equal(q.index, "idx");
    assert_non_null(q.proj);
    assert_int_equal(q.proj->n, 3);
    assert_int_equal(q.proj->paths[1].n, 3);
    assert_true(q.proj->paths[1].e[2].is_index);
    assert_int_equal(q.proj->paths[1].e[2].index, 2);
    assert_memory_equal(q.proj->paths[2].e[0].name.p, "d e", 3);
    assert_int_equal(q.n_order, 1);
    assert_true(q.order[0].desc);
    assert_non_null(q.where);
    assert_int_equal(q.where->kind, DDB_N_CMP);

    /* A transaction's condition check. */
    assert_int_equal(parse(&a, "EXISTS(SELECT * FROM \"T\" WHERE pk = 'a' AND n > 1)", NULL, &q,
                           &err),
                     0);
    assert_int_equal(q.kind, DDB_PQL_EXISTS);
    assert_string_equal(q.table, "T");
    assert_int_equal(q.where->kind, DDB_N_AND);

    /* Comments and a trailing semicolon. */
    assert_int_equal(parse(&a, "SELECT * FROM t -- all of it\n;", NULL, &q, &err), 0);
    arena_clear(&a);
}

static void test_insert_literals(void **state)
{
    struct arena a;
    struct ddb_pql q;
    struct ddb_err err;
    json_t *got, *want;
    (void)state;
    arena_init(&a);

    assert_int_equal(parse(&a,
                           "INSERT INTO t VALUE {'pk': 'it''s', 'n': -12.50, 'e': 1e3, "
                           "'t': TRUE, 'f': false, 'z': NULL, 'l': [1, [], {}], "
                           "'m': {'in': 'x'}, 'ss': <<'b', 'a'>>, 'ns': <<2, 1>>, 'p': ?, "
                           "'bs': <<?>>}",
                           "[{\"S\":\"param\"}, {\"B\":\"AAE=\"}]", &q, &err),
                     0);
    assert_int_equal(q.kind, DDB_PQL_INSERT);
    got = ddb_item_to_json(q.item, q.item_len, NULL, 0);
    want = load("{\"pk\":{\"S\":\"it's\"},\"n\":{\"N\":\"-12.5\"},\"e\":{\"N\":\"1000\"},"
                "\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false},\"z\":{\"NULL\":true},"
                "\"l\":{\"L\":[{\"N\":\"1\"},{\"L\":[]},{\"M\":{}}]},"
                "\"m\":{\"M\":{\"in\":{\"S\":\"x\"}}},\"ss\":{\"SS\":[\"a\",\"b\"]},"
                "\"ns\":{\"NS\":[\"1\",\"2\"]},\"p\":{\"S\":\"param\"},"
                "\"bs\":{\"BS\":[\"AAE=\"]}}");
    assert_true(json_equal(got, want));
    assert_true(q.item_size > 0);
    json_decref(got);
    json_decref(want);
    arena_clear(&a);
}

/* Evaluates the WHERE of "SELECT * FROM t WHERE <cond>" against an item. */
static int where_on(const char *cond, const char *params, const char *it)
{
    struct arena a;
    struct ddb_pql q;
    struct ddb_err err;
    char stmt[512];
    size_t n;
    const char *enc;
    int rc;

    arena_init(&a);
    snprintf(stmt, sizeof stmt, "SELECT * FROM t WHERE %s", cond);
    if (parse(&a, stmt, params, &q, &err) < 0) {
        fail_msg("%s: %s", stmt, err.msg);
    }
    enc = item(&a, it, &n);
    rc = ddb_cond_eval(q.where, enc, n);
    arena_clear(&a);
    return rc;
}

static void test_where_evaluates(void **state)
{
    static const char *it = "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"},"
                            "\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"x\"}]},"
                            "\"m\":{\"M\":{\"k\":{\"BOOL\":true}}},\"ss\":{\"SS\":[\"a\",\"b\"]},"
                            "\"z\":{\"NULL\":true}}";
    static const struct {
        const char *cond;
        const char *params;
        int want;
    } cases[] = {
        { "pk = 'a'", NULL, 1 },
        { "pk = 'b'", NULL, 0 },
        { "'a' = pk", NULL, 1 },
        { "n > 4 AND n < 6", NULL, 1 },
        { "n >= 6 OR n <= 4", NULL, 0 },
        { "n <> 5", NULL, 0 },
        { "n != 4", NULL, 1 },
        { "NOT n = 5", NULL, 0 },
        { "n BETWEEN 1 AND 5", NULL, 1 },
        { "n IN [1, 2, 5]", NULL, 1 },
        { "n IN (1, 2)", NULL, 0 },
        { "l[1] = 'x'", NULL, 1 },
        { "l[0] = 1", NULL, 1 },
        { "m.k = true", NULL, 1 },
        { "\"m\".\"k\" = TRUE", NULL, 1 },
        { "m['k'] = true", NULL, 1 },
        { "nope IS MISSING", NULL, 1 },
        { "n IS NOT MISSING", NULL, 1 },
        { "z IS NULL", NULL, 1 },
        { "n IS NOT NULL", NULL, 1 },
        { "n IS NUMERIC", NULL, 1 },
        { "s IS STRING AND m IS STRUCT AND l IS LIST AND m.k IS BOOLEAN", NULL, 1 },
        { "begins_with(s, 'he')", NULL, 1 },
        { "contains(ss, 'b')", NULL, 1 },
        { "contains(s, 'zz')", NULL, 0 },
        { "attribute_exists(m.k) AND attribute_not_exists(m.j)", NULL, 1 },
        { "attribute_type(n, 'N')", NULL, 1 },
        { "size(s) = 5", NULL, 1 },
        { "size(l) < 2", NULL, 0 },
        { "ss = <<'b', 'a'>>", NULL, 1 },
        { "l = [1, 'x']", NULL, 1 },
        { "m = {'k': true}", NULL, 1 },
        { "pk = ? AND n = ?", "[{\"S\":\"a\"}, {\"N\":\"5.0\"}]", 1 },
        { "(pk = 'a' OR pk = 'b') AND (n = 1 OR n = 5)", NULL, 1 },
        { "n = -5", NULL, 0 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = where_on(cases[i].cond, cases[i].params, it);
        if (rc != cases[i].want) {
            fail_msg("WHERE %s: got %d, want %d", cases[i].cond, rc, cases[i].want);
        }
    }
}

/* Applies the update of "UPDATE t <actions> WHERE pk = 'a'" to an item; compares the JSON. */
static void update_gives(const char *actions, const char *params, const char *before,
                         const char *after)
{
    struct arena a, scratch;
    struct ddb_pql q;
    struct ddb_err err;
    char stmt[512];
    size_t n;
    const char *enc;
    struct buf b;
    json_t *got, *want;

    arena_init(&a);
    arena_init(&scratch);
    snprintf(stmt, sizeof stmt, "UPDATE t %s WHERE pk = 'a'", actions);
    if (parse(&a, stmt, params, &q, &err) < 0) {
        fail_msg("%s: %s", stmt, err.msg);
    }
    assert_int_equal(q.kind, DDB_PQL_UPDATE);
    enc = item(&a, before, &n);
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_update_apply(q.update, enc, n, NULL, 0, &scratch, &b, &err) < 0) {
        fail_msg("%s: %s", stmt, err.msg);
    }
    got = ddb_item_to_json(b.p, b.len, NULL, 0);
    want = load(after);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fprintf(stderr, "%s gave %s\n", stmt, g);
        free(g);
        fail_msg("%s", stmt);
    }
    json_decref(got);
    json_decref(want);
    buf_release(&b);
    arena_clear(&scratch);
    arena_clear(&a);
}

static void test_updates_apply(void **state)
{
    (void)state;
    update_gives("SET x = 1", NULL, "{\"pk\":{\"S\":\"a\"}}",
                 "{\"pk\":{\"S\":\"a\"},\"x\":{\"N\":\"1\"}}");
    update_gives("SET n = n + 2, m = n - 1", NULL, "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"5\"}}",
                 "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"7\"},\"m\":{\"N\":\"4\"}}");
    update_gives("SET a = 1 SET b = 'two' REMOVE c", NULL,
                 "{\"pk\":{\"S\":\"a\"},\"c\":{\"N\":\"3\"}}",
                 "{\"pk\":{\"S\":\"a\"},\"a\":{\"N\":\"1\"},\"b\":{\"S\":\"two\"}}");
    update_gives("REMOVE c, d", NULL,
                 "{\"pk\":{\"S\":\"a\"},\"c\":{\"N\":\"3\"},\"d\":{\"N\":\"3\"}}",
                 "{\"pk\":{\"S\":\"a\"}}");
    update_gives("SET l = list_append(l, [2, 3])", NULL,
                 "{\"pk\":{\"S\":\"a\"},\"l\":{\"L\":[{\"N\":\"1\"}]}}",
                 "{\"pk\":{\"S\":\"a\"},"
                 "\"l\":{\"L\":[{\"N\":\"1\"},{\"N\":\"2\"},{\"N\":\"3\"}]}}");
    update_gives("SET l = list_append([0], l)", NULL,
                 "{\"pk\":{\"S\":\"a\"},\"l\":{\"L\":[{\"N\":\"1\"}]}}",
                 "{\"pk\":{\"S\":\"a\"},\"l\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"}]}}");
    update_gives("SET c = if_not_exists(c, 10)", NULL, "{\"pk\":{\"S\":\"a\"}}",
                 "{\"pk\":{\"S\":\"a\"},\"c\":{\"N\":\"10\"}}");
    update_gives("SET s = set_add(s, <<'b', 'c'>>)", NULL,
                 "{\"pk\":{\"S\":\"a\"},\"s\":{\"SS\":[\"a\",\"b\"]}}",
                 "{\"pk\":{\"S\":\"a\"},\"s\":{\"SS\":[\"a\",\"b\",\"c\"]}}");
    update_gives("SET s = set_delete(s, <<1>>)", NULL,
                 "{\"pk\":{\"S\":\"a\"},\"s\":{\"NS\":[\"1\",\"2\"]}}",
                 "{\"pk\":{\"S\":\"a\"},\"s\":{\"NS\":[\"2\"]}}");
    update_gives("SET m.k[1] = ?", "[{\"S\":\"new\"}]",
                 "{\"pk\":{\"S\":\"a\"},"
                 "\"m\":{\"M\":{\"k\":{\"L\":[{\"N\":\"0\"},{\"N\":\"1\"}]}}}}",
                 "{\"pk\":{\"S\":\"a\"},\"m\":{\"M\":{\"k\":{\"L\":[{\"N\":\"0\"},"
                 "{\"S\":\"new\"}]}}}}");
}

static void test_split(void **state)
{
    struct arena a;
    struct ddb_pql q;
    struct ddb_err err;
    struct ddb_pql_split sp;
    struct sl_str pk = { "pk", 2 }, sk = { "sk", 2 }, none = { "", 0 };
    (void)state;
    arena_init(&a);

    /* The hash term wherever it is, the first indexable range term, the rest as a filter. */
    assert_int_equal(parse(&a, "SELECT * FROM t WHERE sk > 1 AND x = 2 AND pk = 'a' AND "
                               "sk < 9",
                           NULL, &q, &err),
                     0);
    ddb_pql_split(&a, q.where, pk, sk, true, &sp);
    assert_true(sp.has_hash);
    assert_false(sp.has_range_eq);
    assert_int_equal(sp.kc.n, 2);
    assert_int_equal(sp.kc.t[0].op, DDB_KC_EQ);
    assert_int_equal(sp.kc.t[1].op, DDB_KC_GT);
    assert_non_null(sp.rest);
    assert_int_equal(sp.rest->kind, DDB_N_AND);
    assert_int_equal(sp.rest->nargs, 2);

    /* For a write only equalities count. */
    ddb_pql_split(&a, q.where, pk, sk, false, &sp);
    assert_true(sp.has_hash);
    assert_false(sp.has_range_eq);
    assert_int_equal(sp.kc.n, 1);

    assert_int_equal(parse(&a, "DELETE FROM t WHERE pk = 'a' AND 3 = sk", NULL, &q, &err), 0);
    ddb_pql_split(&a, q.where, pk, sk, false, &sp);
    assert_true(sp.has_hash && sp.has_range_eq);
    assert_null(sp.rest);
    assert_int_equal(sp.range_v.type, DDB_N);

    /* OR hides the key: a Scan. */
    assert_int_equal(parse(&a, "SELECT * FROM t WHERE pk = 'a' OR pk = 'b'", NULL, &q, &err), 0);
    ddb_pql_split(&a, q.where, pk, none, true, &sp);
    assert_false(sp.has_hash);
    assert_ptr_equal(sp.rest, q.where);

    /* Range terms of each kind. */
    assert_int_equal(parse(&a, "SELECT * FROM t WHERE pk = 'a' AND sk BETWEEN 1 AND 2", NULL,
                           &q, &err),
                     0);
    ddb_pql_split(&a, q.where, pk, sk, true, &sp);
    assert_int_equal(sp.kc.t[1].op, DDB_KC_BETWEEN);
    assert_int_equal(sp.kc.t[1].nv, 2);
    assert_int_equal(parse(&a, "SELECT * FROM t WHERE begins_with(sk, 'x') AND pk = 'a'", NULL,
                           &q, &err),
                     0);
    ddb_pql_split(&a, q.where, pk, sk, true, &sp);
    assert_int_equal(sp.kc.t[1].op, DDB_KC_BEGINS_WITH);
    assert_null(sp.rest);
    arena_clear(&a);
}

static void test_key_json(void **state)
{
    struct ddb_val s = { DDB_S, (const unsigned char *)"ab", 2 };
    struct ddb_val n = { DDB_N, (const unsigned char *)"12", 2 };
    struct ddb_val b = { DDB_B, (const unsigned char *)"\x00\x01", 2 };
    struct ddb_val l = { DDB_L, (const unsigned char *)"", 0 };
    json_t *j;
    (void)state;
    j = ddb_pql_key_json(&s);
    assert_string_equal(json_string_value(json_object_get(j, "S")), "ab");
    json_decref(j);
    j = ddb_pql_key_json(&n);
    assert_string_equal(json_string_value(json_object_get(j, "N")), "12");
    json_decref(j);
    j = ddb_pql_key_json(&b);
    assert_string_equal(json_string_value(json_object_get(j, "B")), "AAE=");
    json_decref(j);
    assert_null(ddb_pql_key_json(&l));
}

/* ---- errors ---- */

#define BAD "Statement wasn't well formed, can't be processed: "

static void test_errors(void **state)
{
    static const struct {
        const char *stmt;
        const char *params;
        const char *msg;
    } cases[] = {
        { "", NULL, BAD "Expected data manipulation" },
        { "EXPLAIN SELECT * FROM t", NULL, BAD "Expected data manipulation" },
        { "SELECT * FROM", NULL, BAD "Unexpected end of statement" },
        { "SELECT * t", NULL, BAD "Unexpected token" },
        { "SELECT * FROM t WHERE", NULL, BAD "Unexpected end of statement" },
        { "SELECT * FROM t WHERE a = 'x", NULL, BAD "Unexpected token" },
        { "SELECT * FROM t WHERE a = 1 b", NULL, BAD "Unexpected token" },
        { "SELECT * FROM t WHERE a = 1 SELECT", NULL, BAD "Unexpected keyword" },
        { "SELECT * FROM t WHERE a", NULL, "WHERE clause must contain an expression that "
                                           "resolves to a boolean" },
        { "SELECT * FROM t WHERE a # 1", NULL, BAD "Unexpected token" },
        { "SELECT *, a FROM t", NULL, "Other attributes should not be present in the projection "
                                      "when '*' is used." },
        { "SELECT a, * FROM t", NULL, "Other attributes should not be present in the projection "
                                      "when '*' is used." },
        { "SELECT a, a FROM t", NULL, NULL },
        { "SELECT [1] FROM t", NULL, "A path cannot start with a list index" },
        { "SELECT * FROM t WHERE a = ?", NULL, "Number of parameters in request and statement "
                                               "don't match." },
        { "SELECT * FROM t WHERE a = ?", "[{\"S\":\"x\"},{\"S\":\"y\"}]",
          "Number of parameters in request and statement don't match." },
        { "SELECT * FROM t WHERE a = MISSING", NULL, "MISSING must be compared using IS "
                                                     "operator" },
        { "SELECT * FROM t WHERE a IS FOO", NULL, "Unsupported data type for IS operator: FOO. "
                                                  "Supported data types are [MISSING, NULL, "
                                                  "BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, "
                                                  "TUPLE, LIST]" },
        { "SELECT * FROM t WHERE 1 IS MISSING", NULL, "The left hand side argument to IS must be "
                                                      "a Variable Reference, Literal, or Path" },
        { "SELECT * FROM t WHERE a IN []", NULL, "IN operator must have a left hand argument of "
                                                 "type Variable Reference and right hand "
                                                 "argument of type Seq with at least one "
                                                 "member" },
        { "SELECT * FROM t WHERE a = <<>>", NULL, "Empty bags are not supported" },
        { "SELECT * FROM t WHERE a = <<1, 'x'>>", NULL, "Unsupported data type in Bag. DynamoDB "
                                                        "only supports either numbers or strings "
                                                        "in bags" },
        { "SELECT * FROM t WHERE a = <<[1]>>", NULL, "Unsupported data type in Bag. DynamoDB "
                                                     "only supports either numbers or strings "
                                                     "in bags" },
        { "SELECT * FROM t WHERE a = {'k': 1, 'k': 2}", NULL, "Duplicate keys in tuple. Key: k" },
        { "SELECT * FROM t WHERE a = {k: 1}", NULL, BAD "Unexpected token" },
        { "INSERT INTO t VALUE 'x'", NULL, "Unsupported format in item expression. Please use "
                                           "struct format {...} to express item values for "
                                           "insert statement." },
        { "INSERT INTO t VALUE ?", "[{\"S\":\"x\"}]", "Unsupported format in item expression. "
                                                      "Please use struct format {...} to express "
                                                      "item values for insert statement." },
        { "INSERT INTO t VALUES {'a': 1}", NULL, "Unsupported operation: Inserting multiple "
                                                 "items in a single statement is not "
                                                 "supported, use \"INSERT INTO tableName VALUE "
                                                 "item\" instead" },
        { "INSERT INTO t VALUE {'a': 1} RETURNING ALL OLD *", NULL, "RETURNING is not supported "
                                                                    "in INSERT" },
        { "INSERT INTO t VALUE {'a': 1, 's': <<'x', 'x'>>}", NULL, NULL },
        { "UPDATE t ADD a 1 WHERE pk = 1", NULL, "Only SET and REMOVE are supported in update "
                                                 "expressions at this time" },
        { "UPDATE t WHERE pk = 1", NULL, BAD "Unexpected keyword" },
        { "UPDATE t SET a = foo(a) WHERE pk = 1", NULL, "Unrecognized function: foo" },
        { "UPDATE t SET a = set_add(b, <<1>>) WHERE pk = 1", NULL, "The first argument to "
                                                                   "SET_ADD must equal the "
                                                                   "assignment value" },
        { "UPDATE t SET a = set_delete(a, 1) WHERE pk = 1", NULL, "The second argument to "
                                                                  "SET_DELETE must be a value "
                                                                  "with type SET" },
        { "UPDATE t SET a = set_add(a) WHERE pk = 1", NULL, "SET_ADD must have exactly two "
                                                            "arguments" },
        { "UPDATE t SET a = set_add(a, <<1>>, <<2>>) WHERE pk = 1", NULL, "SET_ADD must have "
                                                                          "exactly two "
                                                                          "arguments" },
        { "UPDATE t SET a = 1, a = 2 WHERE pk = 1", NULL, NULL },
        { "UPDATE t SET a = 1 WHERE pk = 1 RETURNING ALL OLD", NULL,
          "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING clause" },
        { "DELETE FROM t WHERE pk = 1 RETURNING MODIFIED NEW *", NULL,
          "Invalid returning clause: RETURNING MODIFIED NEW *. Only RETURNING ALL OLD * is "
          "allowed in DELETE statements." },
        { "DELETE t WHERE pk = 1", NULL, BAD "Unexpected token" },
        { "EXISTS(SELECT * FROM t.i WHERE pk = 1)", NULL, "EXISTS() must contain a single item "
                                                        "read with additional condition" },
        { "EXISTS(SELECT * FROM t WHERE pk = 1", NULL, BAD "Unexpected end of statement" },
        { "SELECT * FROM t WHERE a = 1e999", NULL, NULL },
        { "SELECT * FROM t WHERE a = 1 ORDER BY a, b, c", NULL, BAD "Unexpected token" },
    };
    struct arena a;
    struct ddb_pql q;
    struct ddb_err err;
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        arena_init(&a);
        if (parse(&a, cases[i].stmt, cases[i].params, &q, &err) == 0) {
            fail_msg("%s: parsed", cases[i].stmt);
        }
        assert_int_equal(err.kind, DDB_ERR_VALIDATION);
        /* NULL: the message is another module's (paths, values), only its presence checked. */
        if (cases[i].msg && strcmp(err.msg, cases[i].msg) != 0) {
            fail_msg("%s: got \"%s\", want \"%s\"", cases[i].stmt, err.msg, cases[i].msg);
        }
        assert_true(err.msg[0] != 0);
        arena_clear(&a);
    }
}

static void test_limits(void **state)
{
    struct arena a;
    struct ddb_pql q;
    struct ddb_err err;
    char *s = malloc(DDB_PQL_MAX_LEN + 64);
    size_t n;
    (void)state;

    /* The longest statement parses; one more character is refused before lexing. */
    n = (size_t)snprintf(s, DDB_PQL_MAX_LEN + 64, "SELECT * FROM t WHERE a = '");
    memset(s + n, 'x', DDB_PQL_MAX_LEN - n - 1);
    s[DDB_PQL_MAX_LEN - 1] = '\'';
    s[DDB_PQL_MAX_LEN] = 0;
    arena_init(&a);
    assert_int_equal(ddb_pql_parse(&a, s, DDB_PQL_MAX_LEN, NULL, &q, &err), 0);
    arena_clear(&a);
    arena_init(&a);
    assert_int_equal(ddb_pql_parse(&a, s, DDB_PQL_MAX_LEN + 1, NULL, &q, &err), -1);
    assert_non_null(strstr(err.msg, "longer than 8192"));
    arena_clear(&a);

    /* Deep nesting is refused, not recursed into. */
    n = (size_t)snprintf(s, DDB_PQL_MAX_LEN, "SELECT * FROM t WHERE ");
    for (int i = 0; i < 3000; i++) {
        s[n++] = '(';
    }
    s[n] = 0;
    arena_init(&a);
    assert_int_equal(ddb_pql_parse(&a, s, n, NULL, &q, &err), -1);
    assert_non_null(strstr(err.msg, "nested too deeply"));
    arena_clear(&a);
    n = (size_t)snprintf(s, DDB_PQL_MAX_LEN, "INSERT INTO t VALUE {'a': ");
    for (int i = 0; i < 3000; i++) {
        s[n++] = '[';
    }
    s[n] = 0;
    arena_init(&a);
    assert_int_equal(ddb_pql_parse(&a, s, n, NULL, &q, &err), -1);
    arena_clear(&a);

    /* Paths deeper than 32 levels and IN lists over 100 operands. */
    n = (size_t)snprintf(s, DDB_PQL_MAX_LEN, "SELECT a");
    for (int i = 0; i < 40; i++) {
        n += (size_t)snprintf(s + n, DDB_PQL_MAX_LEN - n, ".b");
    }
    snprintf(s + n, DDB_PQL_MAX_LEN - n, " FROM t");
    arena_init(&a);
    assert_int_equal(ddb_pql_parse(&a, s, strlen(s), NULL, &q, &err), -1);
    arena_clear(&a);
    n = (size_t)snprintf(s, DDB_PQL_MAX_LEN, "SELECT * FROM t WHERE a IN [0");
    for (int i = 1; i < 101; i++) {
        n += (size_t)snprintf(s + n, DDB_PQL_MAX_LEN - n, ",%d", i);
    }
    snprintf(s + n, DDB_PQL_MAX_LEN - n, "]");
    arena_init(&a);
    assert_int_equal(ddb_pql_parse(&a, s, strlen(s), NULL, &q, &err), -1);
    arena_clear(&a);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_shapes),  cmocka_unit_test(test_insert_literals),
        cmocka_unit_test(test_where_evaluates), cmocka_unit_test(test_updates_apply),
        cmocka_unit_test(test_split),          cmocka_unit_test(test_key_json),
        cmocka_unit_test(test_errors),         cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
