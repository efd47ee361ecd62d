/*
 * test_dynamodb_expr.c: the DynamoDB expression language (src/dynamodb/expr_*.c) and exact
 * number arithmetic, table-driven (R28): the lexer's tokens and DynamoDB's syntax error
 * text, every parse error with its message and DynamoDB's precedence among them, condition
 * evaluation for each operator and function against encoded items, updates and projections
 * producing the expected items, and the developer guide's documented examples.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/expr.h"

/* ---- helpers ---- */

struct env {
    struct arena a;
    struct ddb_expr_ctx c;
    json_t *names, *values;
    int init_rc;
    char init_err[1100];
};

static json_t *load(const char *s)
{
    json_error_t e;
    json_t *j;
    if (!s) {
        return NULL;
    }
    j = json_loads(s, 0, &e);
    if (!j) {
        fail_msg("bad test JSON %s: %s", s, e.text);
    }
    return j;
}

static void env_init(struct env *e, const char *names, const char *values)
{
    struct ddb_err err;
    memset(e, 0, sizeof *e);
    arena_init(&e->a);
    e->names = load(names);
    e->values = load(values);
    e->init_rc = ddb_expr_ctx_init(&e->c, &e->a, e->names, e->values, &err);
    if (e->init_rc < 0) {
        snprintf(e->init_err, sizeof e->init_err, "%s", err.msg);
    }
}

static void env_free(struct env *e)
{
    arena_clear(&e->a);
    json_decref(e->names);
    json_decref(e->values);
}

/* An item's encoding in the env's arena. */
static const char *enc(struct env *e, const char *item_json, size_t *len)
{
    json_t *j = load(item_json);
    struct buf b;
    struct ddb_err err;
    size_t size;
    char *out;
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_item_encode(j, &e->a, &b, &size, &err) != 0) {
        fail_msg("bad test item %s: %s", item_json, err.msg);
    }
    out = arena_alloc(&e->a, b.len);
    memcpy(out, b.p, b.len);
    *len = b.len;
    buf_release(&b);
    json_decref(j);
    return out;
}

static void assert_item(const char *what, const void *p, size_t n, const char *want_json)
{
    json_t *got = ddb_item_to_json(p, n, NULL, 0);
    json_t *want = load(want_json);
    assert_non_null(got);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("%s:\n got  %s\n want %s", what, g, w);
    }
    json_decref(got);
    json_decref(want);
}

/* ---- the lexer ---- */

static void test_lexer_tokens(void **state)
{
    struct arena a;
    struct ddb_token *t;
    const char *s = "SET #a.b[10] = :v, x <> y AND NOT size(z) >= 0 'q' _1";
    static const enum ddb_tok want[] = {
        DDB_T_SET, DDB_T_NAME, DDB_T_DOT, DDB_T_ID, DDB_T_LBRACK, DDB_T_INDEX, DDB_T_RBRACK,
        DDB_T_EQ, DDB_T_VALUE, DDB_T_COMMA, DDB_T_ID, DDB_T_NE, DDB_T_ID, DDB_T_AND, DDB_T_NOT,
        DDB_T_ID, DDB_T_LPAREN, DDB_T_ID, DDB_T_RPAREN, DDB_T_GE, DDB_T_INDEX, DDB_T_OTHER,
        DDB_T_OTHER, DDB_T_INDEX, DDB_T_EOF,
    };
    size_t n;
    (void)state;
    arena_init(&a);
    n = ddb_lex(&a, s, strlen(s), &t);
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(t[i].t, want[i]);
    }
    /* Keywords in any case; "size" is an identifier (a reserved word, but a function). */
    n = ddb_lex(&a, "sEt and Between", 15, &t);
    assert_int_equal(t[0].t, DDB_T_SET);
    assert_int_equal(t[1].t, DDB_T_AND);
    assert_int_equal(t[2].t, DDB_T_BETWEEN);
    assert_true(ddb_reserved("size", 4));
    assert_true(ddb_reserved("Name", 4));
    assert_true(ddb_reserved("ZONE", 4));
    assert_false(ddb_reserved("named", 5));
    assert_false(ddb_reserved("pk", 2));
    arena_clear(&a);
}

/* ---- parse errors ---- */

enum pk { COND, UPD, PROJ };

struct perr {
    enum pk kind;
    const char *expr;
    const char *names, *values;
    const char *msg;        /* NULL: parses */
};

static const struct perr perrs[] = {
    /* Syntax errors name the token and the text around it. */
    { UPD, "INVALID SYNTAX HERE", NULL, NULL,
      "Invalid UpdateExpression: Syntax error; token: \"INVALID\", near: \"INVALID SYNTAX\"" },
    { UPD, "ADD hits : incr", NULL, "{\":incr\":{\"N\":\"1\"}}",
      "Invalid UpdateExpression: Syntax error; token: \":\", near: \"hits : incr\"" },
    { UPD, "SET _123 = :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid UpdateExpression: Syntax error; token: \"_\", near: \"SET _123\"" },
    { UPD, "SET a = :v,", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \",\"" },
    { UPD, "SET a = ", NULL, NULL,
      "Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"= \"" },
    { UPD, "set a = b + c + d", NULL, NULL,
      "Invalid UpdateExpression: Syntax error; token: \"+\", near: \"c + d\"" },
    { UPD, "SET a[:x] = :v", NULL, "{\":v\":{\"N\":\"1\"},\":x\":{\"N\":\"1\"}}",
      "Invalid UpdateExpression: Syntax error; token: \":x\", near: \"[:x]\"" },
    { UPD, "SET c = if_not_exists(c, :a+:b)", NULL, NULL,
      "Invalid UpdateExpression: Syntax error; token: \"+\", near: \":a+:b\"" },
    { COND, "a = b = c", NULL, NULL,
      "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"b = c\"" },
    { COND, "a", NULL, NULL,
      "Invalid ConditionExpression: Syntax error; token: \"<EOF>\", near: \"a\"" },
    { COND, "(a) AND b = c", NULL, NULL,
      "Invalid ConditionExpression: Syntax error; token: \"AND\", near: \") AND b\"" },
    { PROJ, "a,,b", NULL, NULL,
      "Invalid ProjectionExpression: Syntax error; token: \",\", near: \",,b\"" },
    { PROJ, "set", NULL, NULL,
      "Invalid ProjectionExpression: Syntax error; token: \"set\", near: \"set\"" },
    /* Reserved words, placeholders. */
    { PROJ, "name", NULL, NULL,
      "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: "
      "name" },
    { UPD, " set #c = :c set abOrt = :c ", "{\"#c\":\"c\"}", "{\":c\":{\"S\":\"a\"}}",
      "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: "
      "abOrt" },
    { UPD, "SET #n = :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid UpdateExpression: An expression attribute name used in the document path is "
      "not defined; attribute name: #n" },
    { UPD, "SET attr1 = :v", NULL, NULL,
      "Invalid UpdateExpression: An expression attribute value used in expression is not "
      "defined; attribute value: :v" },
    /* Sections, functions, operand types. */
    { UPD, "set a = :a set c = :a", NULL, "{\":a\":{\"S\":\"a\"}}",
      "Invalid UpdateExpression: The \"SET\" section can only be used once in an update "
      "expression;" },
    { UPD, "SET a = f(b,c,d)", NULL, NULL,
      "Invalid UpdateExpression: Invalid function name; function: f" },
    { UPD, "SET a = LIST_APPEND(b, c)", NULL, NULL,
      "Invalid UpdateExpression: Invalid function name; function: LIST_APPEND" },
    { UPD, "SET a = size(b)", NULL, NULL,
      "Invalid UpdateExpression: The function is not allowed in an update expression; "
      "function: size" },
    { UPD, "set a = list_append(c)", NULL, NULL,
      "Invalid UpdateExpression: Incorrect number of operands for operator or function; "
      "operator or function: list_append, number of operands: 1" },
    { UPD, "set a = if_not_exists(:a, c)", NULL, "{\":a\":{\"S\":\"a\"}}",
      "Invalid UpdateExpression: Operator or function requires a document path; operator or "
      "function: if_not_exists" },
    { UPD, "set a = list_append(:a, a)", NULL, "{\":a\":{\"S\":\"a\"}}",
      "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or "
      "function: list_append, operand type: S" },
    { UPD, "SET a = list_append(list_append(:l, :l), :l)", NULL, "{\":l\":{\"L\":[]}}",
      "Invalid UpdateExpression: The function is not allowed to be used this way in an "
      "expression; function: list_append" },
    { UPD, "set a = :c + a", NULL, "{\":c\":{\"B\":\"YQ==\"}}",
      "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or "
      "function: +, operand type: B" },
    { UPD, "ADD a :v", NULL, "{\":v\":{\"S\":\"x\"}}",
      "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
      "ADD, operand type: STRING" },
    { UPD, "DELETE a :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
      "DELETE, operand type: NUMBER" },
    { UPD, "ADD a :v", NULL, "{\":v\":{\"L\":[]}}",
      "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
      "ADD, operand type: LIST" },
    { UPD, "ADD a :v, b :w DELETE c :w", NULL, "{\":v\":{\"N\":\"1\"},\":w\":{\"SS\":[\"a\"]}}",
      NULL },
    /* Paths. */
    { UPD, "SET a = :v REMOVE a", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
      "rewrite one of these paths; path one: [a], path two: [a]" },
    { UPD, "set d[1] = a, d.b = a, c[1].a = a, #c = if_not_exists(a)", "{\"#c\":\"c\"}", NULL,
      "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
      "rewrite one of these paths; path one: [c, [1], a], path two: [c]" },
    { UPD, "remove a.#c set a[1] = #d", "{\"#c\":\"c\",\"#d\":\"[3]\"}", NULL,
      "Invalid UpdateExpression: Two document paths conflict with each other; must remove or "
      "rewrite one of these paths; path one: [a, c], path two: [a, [1]]" },
    { UPD, "SET a.b = :v, a.c = :v, a[1].d = :w", NULL,
      "{\":v\":{\"N\":\"1\"},\":w\":{\"N\":\"1\"}}",
      "Invalid UpdateExpression: Two document paths conflict with each other; must remove or "
      "rewrite one of these paths; path one: [a, c], path two: [a, [1], d]" },
    { PROJ, "a.b, a", NULL, NULL,
      "Invalid ProjectionExpression: Two document paths overlap with each other; must remove "
      "or rewrite one of these paths; path one: [a, b], path two: [a]" },
    { PROJ, "a.b.c, a.b[1]", NULL, NULL,
      "Invalid ProjectionExpression: Two document paths conflict with each other; must "
      "remove or rewrite one of these paths; path one: [a, b, c], path two: [a, b, [1]]" },
    { PROJ, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a1.b1.c1.d1.e1.f1", NULL, NULL,
      NULL },
    { PROJ, "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a1.b1.c1.d1.e1.f1.g1", NULL,
      NULL,
      "Invalid ProjectionExpression: The document path has too many nesting levels; nesting "
      "levels: 33" },
    /* Conditions: functions, parentheses, precedence among errors. */
    { COND, "((a = :v))", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: The expression has redundant parentheses;" },
    { COND, "(a = :v) AND (NOT (b = :v))", NULL, "{\":v\":{\"N\":\"1\"}}", NULL },
    { COND, "((a)) = :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: The expression has redundant parentheses;" },
    { COND, "(a) = :v", NULL, "{\":v\":{\"N\":\"1\"}}", NULL },
    { COND, "size(a)", NULL, NULL,
      "Invalid ConditionExpression: The function is not allowed to be used this way in an "
      "expression; function: size" },
    { COND, "attribute_exists(a) = :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: The function is not allowed to be used this way in an "
      "expression; function: attribute_exists" },
    { COND, "attribute_exist(a)", NULL, NULL,
      "Invalid ConditionExpression: Invalid function name; function: attribute_exist" },
    { COND, "if_not_exists(a, :v) = :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: The function is not allowed in a condition expression; "
      "function: if_not_exists" },
    { COND, "begins_with(a)", NULL, NULL,
      "Invalid ConditionExpression: Incorrect number of operands for operator or function; "
      "operator or function: begins_with, number of operands: 1" },
    { COND, "attribute_exists(:v)", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: Operator or function requires a document path; operator "
      "or function: attribute_exists" },
    { COND, "begins_with(a, :v)", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: Incorrect operand type for operator or function; operator "
      "or function: begins_with, operand type: N" },
    { COND, "attribute_type(a, :v)", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: Incorrect operand type for operator or function; operator "
      "or function: attribute_type, operand type: N" },
    { COND, "attribute_type(a, :v)", NULL, "{\":v\":{\"S\":\"X\"}}",
      "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: "
      "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}" },
    { COND, "size(:v) > :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: Incorrect operand type for operator or function; operator "
      "or function: size, operand type: N" },
    { COND, "a = a", NULL, NULL,
      "Invalid ConditionExpression: The first operand must be distinct from the remaining "
      "operands for this operator or function; operator: =, first operand: [a]" },
    { COND, "contains(a.b, a.b)", NULL, NULL,
      "Invalid ConditionExpression: The first operand must be distinct from the remaining "
      "operands for this operator or function; operator: contains, first operand: [a, b]" },
    { COND, "a BETWEEN :b AND :a", NULL, "{\":a\":{\"N\":\"1\"},\":b\":{\"N\":\"5\"}}",
      "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
      "than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound "
      "operand: AttributeValue: {N:1}" },
    { COND, "a BETWEEN :a AND :s", NULL, "{\":a\":{\"N\":\"1\"},\":s\":{\"S\":\"x\"}}",
      "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower "
      "and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: "
      "AttributeValue: {S:x}" },
    /* A reserved word outranks an undefined value; the first primary's error wins. */
    { COND, "a = :nope AND name = :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: "
      "name" },
    { COND, "begins_with(a, :n) AND b = :nope", NULL, "{\":n\":{\"N\":\"1\"}}",
      "Invalid ConditionExpression: Incorrect operand type for operator or function; operator "
      "or function: begins_with, operand type: N" },
    { COND, "a = :v AND x IN (:v, :v)", NULL, "{\":v\":{\"N\":\"1\"}}", NULL },
    { COND, "", NULL, NULL, "Invalid ConditionExpression: The expression can not be empty;" },
};

static int parse_kind(struct env *e, const struct perr *t)
{
    size_t n = strlen(t->expr);
    if (t->kind == COND) {
        struct ddb_node *x;
        return ddb_expr_parse_cond(&e->c, DDB_EXPR_CONDITION, t->expr, n, &x);
    }
    if (t->kind == UPD) {
        struct ddb_update *u;
        return ddb_expr_parse_update(&e->c, t->expr, n, &u);
    }
    {
        struct ddb_proj *p;
        return ddb_expr_parse_proj(&e->c, t->expr, n, &p);
    }
}

static void test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof perrs / sizeof perrs[0]; i++) {
        const struct perr *t = &perrs[i];
        struct env e;
        int rc;
        env_init(&e, t->names, t->values);
        assert_int_equal(e.init_rc, 0);
        rc = parse_kind(&e, t);
        if (t->msg == NULL && rc != 0) {
            fail_msg("%s: unexpected error: %s", t->expr, e.c.err);
        }
        if (t->msg && (rc == 0 || strcmp(e.c.err, t->msg) != 0)) {
            fail_msg("%s:\n got  %s\n want %s", t->expr, rc == 0 ? "(parsed)" : e.c.err, t->msg);
        }
        env_free(&e);
    }
}

static void test_limits(void **state)
{
    struct env e;
    char *s = malloc(8192);
    struct ddb_node *x;
    size_t o = 0;
    (void)state;

    env_init(&e, NULL, "{\":v\":{\"N\":\"1\"}}");
    /* 4 KB: 4096 bytes parse, 4097 do not. */
    memset(s, 'a', 4096);
    memcpy(s, "a = :v OR ", 10);
    for (o = 10; o + 12 <= 4090; o += 11) {
        memcpy(s + o, "a = :v OR  ", 11);
    }
    memcpy(s + o, "a = :v", 6);
    o += 6;
    while (o < 4096) {
        s[o++] = ' ';
    }
    assert_int_equal(ddb_expr_parse_cond(&e.c, DDB_EXPR_CONDITION, s, 4096, &x), -1);
    /* That many ORs is more than 300 operators. */
    assert_non_null(strstr(e.c.err, "The expression contains too many operators; operator "
                                    "count: "));
    s[4096] = ' ';
    assert_int_equal(ddb_expr_parse_cond(&e.c, DDB_EXPR_CONDITION, s, 4097, &x), -1);
    assert_string_equal(e.c.err, "Invalid ConditionExpression: Expression size has exceeded "
                                 "the maximum allowed size; expression size: 4097");
    /* 150 comparisons and 149 ORs: 299 operators. */
    o = 0;
    for (int i = 0; i < 150; i++) {
        o += (size_t)snprintf(s + o, 8192 - o, "%sa = :v", i ? " OR " : "");
    }
    assert_int_equal(ddb_expr_parse_cond(&e.c, DDB_EXPR_CONDITION, s, o, &x), 0);
    o += (size_t)snprintf(s + o, 8192 - o, " OR a = :v");
    assert_int_equal(ddb_expr_parse_cond(&e.c, DDB_EXPR_CONDITION, s, o, &x), -1);
    assert_string_equal(e.c.err, "Invalid ConditionExpression: The expression contains too many "
                                 "operators; operator count: 301");
    /* IN takes 100 operands. */
    o = (size_t)snprintf(s, 8192, "a IN (:v");
    for (int i = 1; i < 101; i++) {
        o += (size_t)snprintf(s + o, 8192 - o, ", :v");
    }
    o += (size_t)snprintf(s + o, 8192 - o, ")");
    assert_int_equal(ddb_expr_parse_cond(&e.c, DDB_EXPR_CONDITION, s, o, &x), -1);
    assert_string_equal(e.c.err, "Invalid ConditionExpression: The IN operator is provided with "
                                 "too many operands; number of operands: 101");
    /* Deep nesting never recurses without bound: NOT NOT ... and ((((...)))). */
    memset(s, '(', 4000);
    assert_int_equal(ddb_expr_parse_cond(&e.c, DDB_EXPR_CONDITION, s, 4000, &x), -1);
    for (o = 0; o + 4 < 4090; o += 4) {
        memcpy(s + o, "NOT ", 4);
    }
    memcpy(s + o, "a=:v", 4);
    assert_int_equal(ddb_expr_parse_cond(&e.c, DDB_EXPR_CONDITION, s, o + 4, &x), -1);
    env_free(&e);
    free(s);
}

static void test_substitutions(void **state)
{
    struct env e;
    struct ddb_update *u;
    (void)state;
    env_init(&e, "{}", NULL);
    assert_int_equal(e.init_rc, -1);
    assert_string_equal(e.init_err, "ExpressionAttributeNames must not be empty");
    env_free(&e);
    env_init(&e, "{\"a\":\"a\"}", NULL);
    assert_string_equal(e.init_err, "ExpressionAttributeNames contains invalid key: Syntax "
                                    "error; key: \"a\"");
    env_free(&e);
    env_init(&e, NULL, "{\":b\":{\"S\":\"a\"},\"b\":{\"S\":\"a\"}}");
    assert_string_equal(e.init_err, "ExpressionAttributeValues contains invalid key: Syntax "
                                    "error; key: \"b\"");
    env_free(&e);
    env_init(&e, NULL, "{\":b\":{\"SS\":[\"a\",\"a\"]}}");
    assert_string_equal(e.init_err, "ExpressionAttributeValues contains invalid value: One or "
                                    "more parameter values were invalid: Input collection [a, "
                                    "a] contains duplicates. for key :b");
    env_free(&e);
    env_init(&e, NULL, "{\":b\":{\"N\":\"1e126\"}}");
    assert_string_equal(e.init_err, "ExpressionAttributeValues contains invalid value: Number "
                                    "overflow. Attempting to store a number with magnitude "
                                    "larger than supported range for key :b");
    env_free(&e);
    env_init(&e, NULL, "{\":b\":{}}");
    assert_string_equal(e.init_err, "ExpressionAttributeValues contains invalid value: Supplied "
                                    "AttributeValue is empty, must contain exactly one of the "
                                    "supported datatypes for key :b");
    env_free(&e);
    /* Unused names come before unused values. */
    env_init(&e, "{\"#a\":\"a\",\"#u\":\"u\"}", "{\":v\":{\"N\":\"1\"},\":w\":{\"N\":\"1\"}}");
    assert_int_equal(ddb_expr_parse_update(&e.c, "SET #a = :v", 11, &u), 0);
    assert_int_equal(ddb_expr_ctx_check_unused(&e.c), -1);
    assert_string_equal(e.c.err, "Value provided in ExpressionAttributeNames unused in "
                                 "expressions: keys: {#u}");
    e.c.names[1].used = true;
    assert_int_equal(ddb_expr_ctx_check_unused(&e.c), -1);
    assert_string_equal(e.c.err, "Value provided in ExpressionAttributeValues unused in "
                                 "expressions: keys: {:w}");
    env_free(&e);
}

/* ---- conditions ---- */

struct ccase {
    const char *item;       /* NULL: no item */
    const char *cond;
    const char *names, *values;
    int want;
};

#define ITEM                                                                                   \
    "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"},\"b\":{\"B\":\"AQID\"}," \
    "\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true},\"l\":{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"},"   \
    "{\"M\":{\"x\":{\"N\":\"7\"}}}]},\"m\":{\"M\":{\"a\":{\"S\":\"x\"},\"n\":{\"M\":"          \
    "{\"deep\":{\"N\":\"-1.5\"}}}}},\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\","      \
    "\"10\"]},\"bs\":{\"BS\":[\"AQ==\"]},\"e\":{\"S\":\"\"}}"

static const struct ccase ccases[] = {
    { ITEM, "n = :v", NULL, "{\":v\":{\"N\":\"5.0\"}}", 1 },
    { ITEM, "n = :v", NULL, "{\":v\":{\"S\":\"5\"}}", 0 },
    { ITEM, "n <> :v", NULL, "{\":v\":{\"S\":\"5\"}}", 1 },
    { ITEM, "gone <> :v", NULL, "{\":v\":{\"N\":\"5\"}}", 1 },
    { ITEM, "gone = q", NULL, NULL, 0 },
    { ITEM, "gone <> q", NULL, NULL, 1 },
    { ITEM, "n < :v", NULL, "{\":v\":{\"N\":\"10\"}}", 1 },
    { ITEM, "n <= :v", NULL, "{\":v\":{\"N\":\"5\"}}", 1 },
    { ITEM, "n > :v", NULL, "{\":v\":{\"N\":\"-10\"}}", 1 },
    { ITEM, "n >= :v", NULL, "{\":v\":{\"N\":\"5.000001\"}}", 0 },
    { ITEM, "n < :v", NULL, "{\":v\":{\"S\":\"9\"}}", 0 },
    { ITEM, "s < :v", NULL, "{\":v\":{\"S\":\"help\"}}", 1 },
    { ITEM, "b > :v", NULL, "{\":v\":{\"B\":\"AQI=\"}}", 1 },
    { ITEM, "ss < :v", NULL, "{\":v\":{\"SS\":[\"c\"]}}", 0 },
    { ITEM, "ss = :v", NULL, "{\":v\":{\"SS\":[\"b\",\"a\"]}}", 1 },
    { ITEM, "ns = :v", NULL, "{\":v\":{\"NS\":[\"10\",\"1.0\"]}}", 1 },
    { ITEM, "m = :v", NULL,
      "{\":v\":{\"M\":{\"n\":{\"M\":{\"deep\":{\"N\":\"-1.50\"}}},\"a\":{\"S\":\"x\"}}}}", 1 },
    { ITEM, "l[2].x = :v", NULL, "{\":v\":{\"N\":\"7\"}}", 1 },
    { ITEM, "m.n.deep < :v", NULL, "{\":v\":{\"N\":\"-1\"}}", 1 },
    { ITEM, "#m.#a = :v", "{\"#m\":\"m\",\"#a\":\"a\"}", "{\":v\":{\"S\":\"x\"}}", 1 },
    { ITEM, "l[5] = :v", NULL, "{\":v\":{\"N\":\"7\"}}", 0 },
    { ITEM, "s.x = :v", NULL, "{\":v\":{\"N\":\"7\"}}", 0 },
    { ITEM, "n BETWEEN :a AND :b", NULL, "{\":a\":{\"N\":\"1\"},\":b\":{\"N\":\"5\"}}", 1 },
    { ITEM, "n BETWEEN :a AND :b", NULL, "{\":a\":{\"N\":\"6\"},\":b\":{\"N\":\"9\"}}", 0 },
    { ITEM, "s BETWEEN :a AND :b", NULL, "{\":a\":{\"S\":\"a\"},\":b\":{\"S\":\"z\"}}", 1 },
    { ITEM, "n IN (:a, :b)", NULL, "{\":a\":{\"N\":\"1\"},\":b\":{\"N\":\"5\"}}", 1 },
    { ITEM, "n IN (:a, :b)", NULL, "{\":a\":{\"N\":\"1\"},\":b\":{\"S\":\"5\"}}", 0 },
    { ITEM, "attribute_exists(n)", NULL, NULL, 1 },
    { ITEM, "attribute_exists(l[1])", NULL, NULL, 1 },
    { ITEM, "attribute_exists(l[3])", NULL, NULL, 0 },
    { ITEM, "attribute_not_exists(q)", NULL, NULL, 1 },
    { NULL, "attribute_not_exists(pk)", NULL, NULL, 1 },
    { NULL, "attribute_exists(pk)", NULL, NULL, 0 },
    { NULL, "pk <> :v", NULL, "{\":v\":{\"S\":\"k\"}}", 1 },
    { ITEM, "attribute_type(ns, :t)", NULL, "{\":t\":{\"S\":\"NS\"}}", 1 },
    { ITEM, "attribute_type(z, :t)", NULL, "{\":t\":{\"S\":\"NULL\"}}", 1 },
    { ITEM, "attribute_type(t, :t)", NULL, "{\":t\":{\"S\":\"S\"}}", 0 },
    { ITEM, "begins_with(s, :p)", NULL, "{\":p\":{\"S\":\"hel\"}}", 1 },
    { ITEM, "begins_with(s, :p)", NULL, "{\":p\":{\"S\":\"\"}}", 1 },
    { ITEM, "begins_with(s, :p)", NULL, "{\":p\":{\"S\":\"hello!\"}}", 0 },
    { ITEM, "begins_with(b, :p)", NULL, "{\":p\":{\"B\":\"AQ==\"}}", 1 },
    { ITEM, "begins_with(n, :p)", NULL, "{\":p\":{\"S\":\"5\"}}", 0 },
    { ITEM, "contains(s, :p)", NULL, "{\":p\":{\"S\":\"ell\"}}", 1 },
    { ITEM, "contains(s, :p)", NULL, "{\":p\":{\"S\":\"eel\"}}", 0 },
    { ITEM, "contains(ss, :p)", NULL, "{\":p\":{\"S\":\"b\"}}", 1 },
    { ITEM, "contains(ns, :p)", NULL, "{\":p\":{\"N\":\"10\"}}", 1 },
    { ITEM, "contains(ns, :p)", NULL, "{\":p\":{\"S\":\"10\"}}", 0 },
    { ITEM, "contains(bs, :p)", NULL, "{\":p\":{\"B\":\"AQ==\"}}", 1 },
    { ITEM, "contains(b, :p)", NULL, "{\":p\":{\"B\":\"AgM=\"}}", 1 },
    { ITEM, "contains(l, :p)", NULL, "{\":p\":{\"N\":\"1\"}}", 1 },
    { ITEM, "contains(l, :p)", NULL, "{\":p\":{\"M\":{\"x\":{\"N\":\"7\"}}}}", 1 },
    { ITEM, "contains(m, :p)", NULL, "{\":p\":{\"S\":\"a\"}}", 0 },
    { ITEM, "size(s) = :v", NULL, "{\":v\":{\"N\":\"5\"}}", 1 },
    { ITEM, "size(e) = :v", NULL, "{\":v\":{\"N\":\"0\"}}", 1 },
    { ITEM, "size(b) = :v", NULL, "{\":v\":{\"N\":\"3\"}}", 1 },
    { ITEM, "size(l) = :v", NULL, "{\":v\":{\"N\":\"3\"}}", 1 },
    { ITEM, "size(m) = :v", NULL, "{\":v\":{\"N\":\"2\"}}", 1 },
    { ITEM, "size(ns) > :v", NULL, "{\":v\":{\"N\":\"1\"}}", 1 },
    { ITEM, "size(n) >= :v", NULL, "{\":v\":{\"N\":\"0\"}}", 0 },
    { ITEM, "size(n) <> :v", NULL, "{\":v\":{\"N\":\"0\"}}", 1 },
    /* NOT binds tighter than AND, AND than OR. */
    { ITEM, "NOT n = :v AND s = :s", NULL,
      "{\":v\":{\"N\":\"5\"},\":s\":{\"S\":\"hello\"}}", 0 },
    { ITEM, "n = :v OR s = :x AND s = :y", NULL,
      "{\":v\":{\"N\":\"5\"},\":x\":{\"S\":\"no\"},\":y\":{\"S\":\"no\"}}", 1 },
    { ITEM, "(n = :v OR s = :x) AND s = :y", NULL,
      "{\":v\":{\"N\":\"5\"},\":x\":{\"S\":\"no\"},\":y\":{\"S\":\"no\"}}", 0 },
    { ITEM, "NOT (n = :v OR s = :x)", NULL, "{\":v\":{\"N\":\"6\"},\":x\":{\"S\":\"no\"}}", 1 },
    { ITEM, "size(s) > size(e)", NULL, NULL, 1 },
};

static void test_conditions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ccases / sizeof ccases[0]; i++) {
        const struct ccase *t = &ccases[i];
        struct env e;
        struct ddb_node *x;
        const char *item = NULL;
        size_t n = 0;
        int rc;
        env_init(&e, t->names, t->values);
        assert_int_equal(e.init_rc, 0);
        if (ddb_expr_parse_cond(&e.c, DDB_EXPR_CONDITION, t->cond, strlen(t->cond), &x) != 0) {
            fail_msg("%s: %s", t->cond, e.c.err);
        }
        if (t->item) {
            item = enc(&e, t->item, &n);
        }
        rc = ddb_cond_eval(x, item, n);
        if (rc != t->want) {
            fail_msg("%s: got %d, want %d", t->cond, rc, t->want);
        }
        env_free(&e);
    }
}

/* ---- updates ---- */

struct ucase {
    const char *item;       /* NULL: no item (the key is {"pk":"k"}) */
    const char *update;
    const char *names, *values;
    const char *want;       /* the new item, or NULL when err is expected */
    const char *err;
};

static const struct ucase ucases[] = {
    { NULL, "SET a = :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"N\":\"1\"}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"S\":\"hello\"}}", "SET b = a REMOVE a", NULL, NULL,
      "{\"pk\":{\"S\":\"k\"},\"b\":{\"S\":\"hello\"}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"S\":\"hello\"}}", "SET x = :v, y = x", NULL,
      "{\":v\":{\"N\":\"4\"}}", NULL,
      "The provided expression refers to an attribute that does not exist in the item" },
    { "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"2\"}}", "SET n = n + :i, m = :i - n", NULL,
      "{\":i\":{\"N\":\"0.5\"}}",
      "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"2.5\"},\"m\":{\"N\":\"-1.5\"}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"0.3\"}}", "SET n = n - :v", NULL,
      "{\":v\":{\"N\":\"0.1\"}}", "{\"pk\":{\"S\":\"k\"},\"n\":{\"N\":\"0.2\"}}", NULL },
    { NULL, "SET c = if_not_exists(c, :z) + :i", NULL,
      "{\":z\":{\"N\":\"0\"},\":i\":{\"N\":\"1\"}}",
      "{\"pk\":{\"S\":\"k\"},\"c\":{\"N\":\"1\"}}", NULL },
    { NULL, "SET b = :v1 + :v2", NULL,
      "{\":v1\":{\"N\":\"9e125\"},\":v2\":{\"N\":\"9e125\"}}", NULL,
      "Number overflow. Attempting to store a number with magnitude larger than supported "
      "range" },
    { NULL, "SET b = :v1 + :v2", NULL, "{\":v1\":{\"N\":\"1e50\"},\":v2\":{\"N\":\"1\"}}",
      NULL,
      "Number overflow. Attempting to store a number with magnitude larger than supported "
      "range" },
    { NULL, "SET b = :v1 - :v2", NULL,
      "{\":v1\":{\"N\":\"2e-130\"},\":v2\":{\"N\":\"1.5e-130\"}}", NULL,
      "Number underflow. Attempting to store a number with magnitude smaller than supported "
      "range" },
    { NULL, "SET b = :v1 + :v2", NULL,
      "{\":v1\":{\"N\":\"1\"},\":v2\":{\"N\":\"10000000000000000000000\"}}",
      "{\"pk\":{\"S\":\"k\"},\"b\":{\"N\":\"10000000000000000000001\"}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"s\":{\"S\":\"x\"}}", "SET n = s + :v", NULL,
      "{\":v\":{\"N\":\"1\"}}", NULL,
      "An operand in the update expression has an incorrect data type" },
    { "{\"pk\":{\"S\":\"k\"},\"l\":{\"L\":[{\"N\":\"1\"}]}}",
      "SET l = list_append(l, :v), k = list_append(:v, l)", NULL,
      "{\":v\":{\"L\":[{\"S\":\"a\"}]}}",
      "{\"pk\":{\"S\":\"k\"},\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"}]},"
      "\"k\":{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"}]}}", NULL },
    { NULL, "SET l = list_append(if_not_exists(l, :e), :v)", NULL,
      "{\":e\":{\"L\":[]},\":v\":{\"L\":[{\"S\":\"a\"}]}}",
      "{\"pk\":{\"S\":\"k\"},\"l\":{\"L\":[{\"S\":\"a\"}]}}", NULL },
    { NULL, "SET l = list_append(b, :v)", NULL, "{\":v\":{\"L\":[]}}", NULL,
      "The provided expression refers to an attribute that does not exist in the item" },
    /* Lists: indexes name the old elements; SET past the end appends in index order. */
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"L\":[{\"N\":\"2\"},{\"N\":\"3\"},{\"N\":\"4\"},"
      "{\"N\":\"5\"},{\"N\":\"6\"},{\"N\":\"7\"}]}}",
      "REMOVE a[1] SET a[3] = :v", NULL, "{\":v\":{\"N\":\"17\"}}",
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"L\":[{\"N\":\"2\"},{\"N\":\"4\"},{\"N\":\"17\"},"
      "{\"N\":\"6\"},{\"N\":\"7\"}]}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"L\":[{\"S\":\"one\"}]}}",
      "SET a[84] = :a, a[37] = :b, a[17] = :c", NULL,
      "{\":a\":{\"S\":\"a1\"},\":b\":{\"S\":\"a2\"},\":c\":{\"S\":\"a3\"}}",
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"L\":[{\"S\":\"one\"},{\"S\":\"a3\"},{\"S\":\"a2\"},"
      "{\"S\":\"a1\"}]}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"L\":[{\"N\":\"4\"}]}}", "REMOVE a[17], a[0]", NULL, NULL,
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"L\":[]}}", NULL },
    /* Maps. */
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{\"x\":{\"N\":\"3\"},\"y\":{\"N\":\"4\"},"
      "\"c\":{\"M\":{\"y\":{\"N\":\"3\"}}}}},\"b\":{\"M\":{\"x\":{\"N\":\"1\"},"
      "\"y\":{\"N\":\"2\"}}}}",
      "SET a.b = :v1, a.c.d = :v2, b.x = :v3 REMOVE a.x, b.y", NULL,
      "{\":v1\":{\"N\":\"10\"},\":v2\":{\"S\":\"dog\"},\":v3\":{\"N\":\"17\"}}",
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{\"y\":{\"N\":\"4\"},\"b\":{\"N\":\"10\"},"
      "\"c\":{\"M\":{\"y\":{\"N\":\"3\"},\"d\":{\"S\":\"dog\"}}}}},"
      "\"b\":{\"M\":{\"x\":{\"N\":\"17\"}}}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{\"b\":{\"N\":\"1\"}}}}", "REMOVE a.b", NULL, NULL,
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{}}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"S\":\"hello\"}}", "SET a.c = :v", NULL,
      "{\":v\":{\"N\":\"7\"}}", NULL,
      "The document path provided in the update expression is invalid for update" },
    { "{\"pk\":{\"S\":\"k\"}}", "REMOVE c.c", NULL, NULL, NULL,
      "The document path provided in the update expression is invalid for update" },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{}}}", "SET a[0] = :v", NULL,
      "{\":v\":{\"N\":\"7\"}}", NULL,
      "The document path provided in the update expression is invalid for update" },
    { NULL, "SET c.c = :v", NULL, "{\":v\":{\"N\":\"7\"}}", NULL,
      "The document path provided in the update expression is invalid for update" },
    { NULL, "REMOVE x.y, q[0]", NULL, NULL, "{\"pk\":{\"S\":\"k\"}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{\"x\":{\"N\":\"3\"}}},\"b\":{\"L\":[]}}",
      "REMOVE a.y, b[7], c", NULL, NULL,
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{\"x\":{\"N\":\"3\"}}},\"b\":{\"L\":[]}}", NULL },
    /* ADD and DELETE. */
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"N\":\"3\"}}", "ADD a :v, b :v", NULL,
      "{\":v\":{\"N\":\"4\"}}",
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"N\":\"7\"},\"b\":{\"N\":\"4\"}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"SS\":[\"beaver\",\"lynx\",\"coati\"]}}", "ADD a :v",
      NULL, "{\":v\":{\"SS\":[\"coati\",\"beaver\",\"badger\"]}}",
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"SS\":[\"badger\",\"beaver\",\"coati\",\"lynx\"]}}",
      NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"NS\":[\"1\",\"2\"]}}", "ADD a :v", NULL,
      "{\":v\":{\"NS\":[\"10\",\"2\",\"-1\"]}}",
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"NS\":[\"-1\",\"1\",\"2\",\"10\"]}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"b\":{\"S\":\"hi\"}}", "ADD b :v", NULL, "{\":v\":{\"N\":\"1\"}}",
      NULL, "An operand in the update expression has an incorrect data type" },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"L\":[]}}", "ADD a :v", NULL,
      "{\":v\":{\"SS\":[\"x\"]}}", NULL,
      "An operand in the update expression has an incorrect data type" },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"SS\":[\"dog\",\"cat\",\"mouse\"]},\"b\":{\"S\":\"hi\"}}",
      "DELETE a :v", NULL, "{\":v\":{\"SS\":[\"cat\",\"mouse\",\"pig\"]}}",
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"SS\":[\"dog\"]},\"b\":{\"S\":\"hi\"}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"SS\":[\"dog\"]}}", "DELETE a :v, q :v", NULL,
      "{\":v\":{\"SS\":[\"dog\"]}}", "{\"pk\":{\"S\":\"k\"}}", NULL },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"NS\":[\"1\"]}}", "DELETE a :v", NULL,
      "{\":v\":{\"SS\":[\"1\"]}}", NULL,
      "An operand in the update expression has an incorrect data type" },
    { "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{\"s\":{\"NS\":[\"1\",\"2\"]}}}}",
      "ADD a.s :v, a.t :v", NULL, "{\":v\":{\"NS\":[\"3\"]}}",
      "{\"pk\":{\"S\":\"k\"},\"a\":{\"M\":{\"s\":{\"NS\":[\"1\",\"2\",\"3\"]},"
      "\"t\":{\"NS\":[\"3\"]}}}}", NULL },
    /* A new attribute just before a removed one (found by the fuzzer: the removal dropped the
     * new attribute's bytes but not its count). */
    { "{\"pk\":{\"S\":\"k\"},\"s\":{\"S\":\"x\"}}", "SET q = :v REMOVE s", NULL,
      "{\":v\":{\"N\":\"1\"}}", "{\"pk\":{\"S\":\"k\"},\"q\":{\"N\":\"1\"}}", NULL },
    /* A dot inside a substituted name is part of the name. */
    { NULL, "SET #a = :v", "{\"#a\":\"a.b\"}", "{\":v\":{\"N\":\"3\"}}",
      "{\"pk\":{\"S\":\"k\"},\"a.b\":{\"N\":\"3\"}}", NULL },
};

static void test_updates(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ucases / sizeof ucases[0]; i++) {
        const struct ucase *t = &ucases[i];
        struct env e;
        struct ddb_update *u;
        struct ddb_err err;
        struct buf out;
        const char *old = NULL, *key;
        size_t old_n = 0, key_n;
        int rc;
        env_init(&e, t->names, t->values);
        assert_int_equal(e.init_rc, 0);
        if (ddb_expr_parse_update(&e.c, t->update, strlen(t->update), &u) != 0) {
            fail_msg("%s: %s", t->update, e.c.err);
        }
        if (t->item) {
            old = enc(&e, t->item, &old_n);
        }
        key = enc(&e, "{\"pk\":{\"S\":\"k\"}}", &key_n);
        buf_init(&out, DDB_ITEM_ENC_MAX);
        rc = ddb_update_apply(u, old, old_n, key, key_n, &e.a, &out, &err);
        if (t->err) {
            if (rc == 0 || strcmp(err.msg, t->err) != 0) {
                fail_msg("%s: got %s, want error %s", t->update, rc == 0 ? "success" : err.msg,
                         t->err);
            }
        }
        else {
            if (rc != 0) {
                fail_msg("%s: %s", t->update, err.msg);
            }
            assert_item(t->update, out.p, out.len, t->want);
            /* The size in the header is DynamoDB's size of the new item. */
            {
                struct ddb_item_view v;
                assert_int_equal(ddb_item_open(out.p, out.len, &v), 0);
                assert_int_equal(v.size, ddb_item_size(out.p, out.len));
            }
        }
        buf_release(&out);
        env_free(&e);
    }
}

/* ---- projections ---- */

static void test_projections(void **state)
{
    static const struct {
        const char *proj, *names, *want;
    } cases[] = {
        { "pk, s", NULL, "{\"pk\":{\"S\":\"k\"},\"s\":{\"S\":\"hello\"}}" },
        { "m.n.deep, l[2].x, l[0], nothing, l[9]", NULL,
          "{\"m\":{\"M\":{\"n\":{\"M\":{\"deep\":{\"N\":\"-1.5\"}}}}},"
          "\"l\":{\"L\":[{\"S\":\"a\"},{\"M\":{\"x\":{\"N\":\"7\"}}}]}}" },
        { "#m.a, m.zz, s.x", "{\"#m\":\"m\"}", "{\"m\":{\"M\":{\"a\":{\"S\":\"x\"}}}}" },
        { "q", NULL, "{}" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct env e;
        struct ddb_proj *p;
        struct buf out;
        const char *item;
        size_t n;
        env_init(&e, cases[i].names, NULL);
        if (ddb_expr_parse_proj(&e.c, cases[i].proj, strlen(cases[i].proj), &p) != 0) {
            fail_msg("%s: %s", cases[i].proj, e.c.err);
        }
        item = enc(&e, ITEM, &n);
        buf_init(&out, DDB_ITEM_ENC_MAX);
        assert_int_equal(ddb_proj_apply(p, item, n, &out), 0);
        assert_item(cases[i].proj, out.p, out.len, cases[i].want);
        buf_release(&out);
        env_free(&e);
    }
}

/* ---- numbers ---- */

static void test_number_add(void **state)
{
    static const struct {
        const char *a, *b;
        bool minus;
        const char *want;   /* or NULL with err */
        int err;
    } cases[] = {
        { "1", "2", false, "3", 0 },
        { "0.1", "0.2", false, "0.3", 0 },
        { "1", "1", true, "0", 0 },
        { "-5", "3", false, "-2", 0 },
        { "5", "-3", true, "8", 0 },
        { "99999999999999999999999999999999999999", "1", false,
          "100000000000000000000000000000000000000", 0 },
        { "99999999999999999999999999999999999999", "0.1", false, NULL, -DDB_NUM_OVERFLOW },
        { "9999999999999999999999999999999999999", "1", false,
          "10000000000000000000000000000000000000", 0 },
        { "1e125", "9e125", false, NULL, -DDB_NUM_OVERFLOW },
        { "9.9999999999999999999999999999999999999e125", "0", false,
          "9.9999999999999999999999999999999999999e125", 0 },
        { "1e-130", "1e-130", false, "2e-130", 0 },
        { "2e-130", "1.5e-130", true, NULL, -DDB_NUM_UNDERFLOW },
        { "1e37", "0.5", false, NULL, -DDB_NUM_OVERFLOW },
        { "123.456", "-123.455", false, "0.001", 0 },
        { "0", "-7.25", false, "-7.25", 0 },
        { "-7.25", "0", true, "-7.25", 0 },
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ddb_num a, b, r;
        char text[DDB_NUM_TEXT_MAX];
        int rc;
        assert_int_equal(ddb_num_parse(cases[i].a, strlen(cases[i].a), &a), 0);
        assert_int_equal(ddb_num_parse(cases[i].b, strlen(cases[i].b), &b), 0);
        rc = ddb_num_add(&a, &b, cases[i].minus, &r);
        if (cases[i].want) {
            struct ddb_num w;
            char wtext[DDB_NUM_TEXT_MAX];
            assert_int_equal(rc, 0);
            assert_int_equal(ddb_num_parse(cases[i].want, strlen(cases[i].want), &w), 0);
            ddb_num_format(&w, wtext);
            ddb_num_format(&r, text);
            if (strcmp(text, wtext) != 0) {
                fail_msg("%s %c %s: got %s, want %s", cases[i].a, cases[i].minus ? '-' : '+',
                         cases[i].b, text, cases[i].want);
            }
        }
        else {
            assert_int_equal(rc, cases[i].err);
        }
    }
}

/* ---- the developer guide's examples ---- */

/* "Condition expressions" and "Update expressions" in the developer guide, on its
 * ProductCatalog item 456 (abridged). */
#define PRODUCT                                                                                \
    "{\"Id\":{\"N\":\"456\"},\"ProductCategory\":{\"S\":\"Sporting Goods\"},"                 \
    "\"Price\":{\"N\":\"650\"},\"Color\":{\"SS\":[\"Red\",\"Black\"]},"                       \
    "\"Description\":{\"S\":\"Mountain bike\"},\"Brand\":{\"S\":\"Brand-Company C\"},"         \
    "\"ProductReviews\":{\"M\":{\"FiveStar\":{\"L\":[{\"S\":\"Excellent!\"}]},"              \
    "\"OneStar\":{\"L\":[{\"S\":\"Terrible product!\"}]}}},"                                  \
    "\"RelatedItems\":{\"L\":[{\"N\":\"341\"},{\"N\":\"472\"},{\"N\":\"649\"}]},"             \
    "\"Pictures\":{\"M\":{\"FrontView\":{\"S\":\"http://example.com/products/456_front.jpg\"}," \
    "\"SideView\":{\"S\":\"http://example.com/products/456_left_side.jpg\"}}}}"

static void test_guide_examples(void **state)
{
    static const struct ccase conds[] = {
        { PRODUCT, "attribute_not_exists(Price)", NULL, NULL, 0 },
        { PRODUCT, "attribute_exists(ProductReviews.OneStar)", NULL, NULL, 1 },
        { PRODUCT, "attribute_type(Color, :v_sub)", NULL, "{\":v_sub\":{\"S\":\"SS\"}}", 1 },
        { PRODUCT, "begins_with(Pictures.FrontView, :v_sub)", NULL,
          "{\":v_sub\":{\"S\":\"http://\"}}", 1 },
        { PRODUCT, "contains(Color, :v_sub)", NULL, "{\":v_sub\":{\"S\":\"Red\"}}", 1 },
        { PRODUCT, "size(Brand) <= :v_sub", NULL, "{\":v_sub\":{\"N\":\"20\"}}", 1 },
        { PRODUCT, "size(Color) < :v_sub", NULL, "{\":v_sub\":{\"N\":\"3\"}}", 1 },
        { PRODUCT, "size (ProductReviews.OneStar) > :v_sub", NULL,
          "{\":v_sub\":{\"N\":\"0\"}}", 1 },
        { PRODUCT, "Price between :lo and :hi", NULL,
          "{\":lo\":{\"N\":\"500\"},\":hi\":{\"N\":\"600\"}}", 0 },
        { PRODUCT, "ProductCategory IN (:cat1, :cat2) and Price between :lo and :hi", NULL,
          "{\":cat1\":{\"S\":\"Sporting Goods\"},\":cat2\":{\"S\":\"Gardening Supplies\"},"
          "\":lo\":{\"N\":\"500\"},\":hi\":{\"N\":\"600\"}}",
          0 },
        { PRODUCT, "Price > :limit", NULL, "{\":limit\":{\"N\":\"500\"}}", 1 },
        { PRODUCT, "(ProductCategory IN (:cat1, :cat2)) and (Price between :lo and :hi)",
          NULL,
          "{\":cat1\":{\"S\":\"Sporting Goods\"},\":cat2\":{\"S\":\"Gardening Supplies\"},"
          "\":lo\":{\"N\":\"600\"},\":hi\":{\"N\":\"700\"}}",
          1 },
        { PRODUCT, "#pr.FiveStar[0] = :v", "{\"#pr\":\"ProductReviews\"}",
          "{\":v\":{\"S\":\"Excellent!\"}}", 1 },
    };
    static const struct ucase upds[] = {
        { PRODUCT, "SET Price = Price - :p", NULL, "{\":p\":{\"N\":\"15\"}}", NULL, NULL },
        { PRODUCT, "SET #pr.FiveStar = list_append(#pr.FiveStar, :r)",
          "{\"#pr\":\"ProductReviews\"}", "{\":r\":{\"L\":[{\"S\":\"Very happy\"}]}}", NULL,
          NULL },
        { PRODUCT, "REMOVE RelatedItems[1], RelatedItems[2]", NULL, NULL, NULL, NULL },
        { PRODUCT, "ADD Color :c", NULL, "{\":c\":{\"SS\":[\"Orange\",\"Purple\"]}}", NULL,
          NULL },
        { PRODUCT, "DELETE Color :p", NULL, "{\":p\":{\"SS\":[\"Yellow\",\"Purple\"]}}", NULL,
          NULL },
        { PRODUCT, "SET Price = if_not_exists(Price, :p)", NULL, "{\":p\":{\"N\":\"100\"}}",
          NULL, NULL },
    };
    static const char *const want_paths[][2] = {
        { "Price", "{\"N\":\"635\"}" },
        { "ProductReviews",
          "{\"M\":{\"FiveStar\":{\"L\":[{\"S\":\"Excellent!\"},{\"S\":\"Very happy\"}]},"
          "\"OneStar\":{\"L\":[{\"S\":\"Terrible product!\"}]}}}" },
        { "RelatedItems", "{\"L\":[{\"N\":\"341\"}]}" },
        { "Color", "{\"SS\":[\"Black\",\"Orange\",\"Purple\",\"Red\"]}" },
        { "Color", "{\"SS\":[\"Black\",\"Red\"]}" },
        { "Price", "{\"N\":\"650\"}" },
    };
    (void)state;
    for (size_t i = 0; i < sizeof conds / sizeof conds[0]; i++) {
        const struct ccase *t = &conds[i];
        struct env e;
        struct ddb_node *x;
        const char *item;
        size_t n;
        env_init(&e, t->names, t->values);
        if (e.init_rc != 0 ||
            ddb_expr_parse_cond(&e.c, DDB_EXPR_CONDITION, t->cond, strlen(t->cond), &x) != 0) {
            fail_msg("%s: %s %s", t->cond, e.init_err, e.c.err);
        }
        item = enc(&e, t->item, &n);
        if (ddb_cond_eval(x, item, n) != t->want) {
            fail_msg("%s: want %d", t->cond, t->want);
        }
        env_free(&e);
    }
    for (size_t i = 0; i < sizeof upds / sizeof upds[0]; i++) {
        const struct ucase *t = &upds[i];
        struct env e;
        struct ddb_update *u;
        struct ddb_err err;
        struct buf out;
        const char *item;
        size_t n;
        json_t *got, *want;
        env_init(&e, t->names, t->values);
        if (ddb_expr_parse_update(&e.c, t->update, strlen(t->update), &u) != 0) {
            fail_msg("%s: %s", t->update, e.c.err);
        }
        item = enc(&e, t->item, &n);
        buf_init(&out, DDB_ITEM_ENC_MAX);
        if (ddb_update_apply(u, item, n, NULL, 0, &e.a, &out, &err) != 0) {
            fail_msg("%s: %s", t->update, err.msg);
        }
        got = ddb_item_to_json(out.p, out.len, NULL, 0);
        want = load(want_paths[i][1]);
        if (!json_equal(json_object_get(got, want_paths[i][0]), want)) {
            fail_msg("%s: %s is not %s", t->update, want_paths[i][0], want_paths[i][1]);
        }
        json_decref(got);
        json_decref(want);
        buf_release(&out);
        env_free(&e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lexer_tokens),   cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_limits),         cmocka_unit_test(test_substitutions),
        cmocka_unit_test(test_conditions),     cmocka_unit_test(test_updates),
        cmocka_unit_test(test_projections),    cmocka_unit_test(test_number_add),
        cmocka_unit_test(test_guide_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
