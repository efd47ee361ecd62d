/*
 * partiql.c: the PartiQL statement parser (partiql.h): a lexer, a recursive-descent parser of
 * DynamoDB's subset, and the split of a WHERE against a table's key.
 *
 * What it is: statement text in, struct ddb_pql out, made of the expression machinery's own
 * node trees (expr.h): a WHERE is a condition tree ddb_cond_eval() evaluates, SET / REMOVE
 * become struct ddb_update actions (set_add and set_delete the ADD and DELETE actions), a
 * projection a struct ddb_proj. Literals are turned into AttributeValue JSON and encoded by
 * attr.c, so a PartiQL value is checked exactly as the same value sent as JSON would be.
 *
 * What it is not: execution (partiql_exec.c), evaluation (expr_eval.c), updates
 * (expr_update.c).
 *
 * Invariants: the statement's length is checked before it is lexed; the recursion depth,
 * the path depth and IN's operands are bounded; nothing allocated outlives the arena.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dynamodb/partiql.h"

static const char bad_stmt[] = "Statement wasn't well formed, can't be processed: ";

enum tok {
    T_EOF = 0,
    T_ID,       /* an unquoted identifier or keyword */
    T_QID,      /* "a quoted identifier" */
    T_STR,      /* 'a string' */
    T_NUM,
    T_QMARK,
    T_STAR, T_COMMA, T_DOT, T_LP, T_RP, T_LB, T_RB, T_LC, T_RC, T_COLON, T_SEMI,
    T_LBAG, T_RBAG,
    T_EQ, T_NE, T_LT, T_LE, T_GT, T_GE, T_PLUS, T_MINUS,
    T_BAD,
};

struct token {
    enum tok t;
    size_t off, len;
};

struct parser {
    struct arena *a;
    const char *s;
    size_t n;
    struct token *t;
    size_t nt, i;
    const json_t *params;
    size_t next_param;
    int depth;
    struct ddb_err *err;
    bool failed;
};

/* ---- errors ---- */

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    if (p->failed) {
        return -1;
    }
    p->failed = true;
    p->err->kind = DDB_ERR_VALIDATION;
    va_start(ap, fmt);
    vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static bool is_kw(const struct parser *p, size_t i, const char *kw)
{
    const struct token *k = &p->t[i];
    return k->t == T_ID && strlen(kw) == k->len && strncasecmp(p->s + k->off, kw, k->len) == 0;
}

static const char *const keywords[] = {
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "BETWEEN", "IN", "IS", "SET", "REMOVE",
    "ORDER", "BY", "VALUE", "INTO", "MISSING", "TRUE", "FALSE", "NULL", "INSERT", "UPDATE",
    "DELETE", "RETURNING", "ASC", "DESC", "VALUES", "LIMIT", "EXISTS",
};

static bool reserved(const struct parser *p, size_t i)
{
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++) {
        if (is_kw(p, i, keywords[k])) {
            return true;
        }
    }
    return false;
}

/* The syntax error at the current token. */
static int syntax(struct parser *p)
{
    const struct token *k = &p->t[p->i];
    if (k->t == T_EOF) {
        return fail(p, "%sUnexpected end of statement", bad_stmt);
    }
    if (k->t == T_ID && reserved(p, p->i)) {
        return fail(p, "%sUnexpected keyword", bad_stmt);
    }
    return fail(p, "%sUnexpected token", bad_stmt);
}

/* ---- the lexer ---- */

static bool id_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool id_char(char c)
{
    return id_start(c) || (c >= '0' && c <= '9');
}

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Splits the statement into tokens; an unterminated quote or a stray character becomes
 * T_BAD, for the parser's syntax error. */
static void lex(struct parser *p)
{
    size_t cap = 16, i = 0;
    const char *s = p->s;
    p->t = arena_alloc(p->a, cap * sizeof *p->t);
    p->nt = 0;
    for (;;) {
        struct token k = { T_EOF, 0, 0 };
        while (i < p->n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
            i++;
        }
        if (i + 1 < p->n && s[i] == '-' && s[i + 1] == '-') {
            while (i < p->n && s[i] != '\n') {
                i++;
            }
            continue;
        }
        k.off = i;
        if (i >= p->n) {
            k.t = T_EOF;
        }
        else if (id_start(s[i])) {
            while (i < p->n && id_char(s[i])) {
                i++;
            }
            k.t = T_ID;
        }
        else if (s[i] == '"' || s[i] == '\'') {
            char q = s[i++];
            k.t = q == '"' ? T_QID : T_STR;
            for (;;) {
                if (i >= p->n) {
                    k.t = T_BAD;
                    break;
                }
                if (s[i] == q) {
                    if (i + 1 < p->n && s[i + 1] == q) {
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                i++;
            }
        }
        else if (digit(s[i]) || (s[i] == '.' && i + 1 < p->n && digit(s[i + 1]))) {
            while (i < p->n && digit(s[i])) {
                i++;
            }
            if (i < p->n && s[i] == '.') {
                i++;
                while (i < p->n && digit(s[i])) {
                    i++;
                }
            }
            if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
                size_t j = i + 1;
                if (j < p->n && (s[j] == '+' || s[j] == '-')) {
                    j++;
                }
                if (j < p->n && digit(s[j])) {
                    i = j;
                    while (i < p->n && digit(s[i])) {
                        i++;
                    }
                }
            }
            k.t = T_NUM;
        }
        else {
            char c = s[i], d = i + 1 < p->n ? s[i + 1] : 0;
            i++;
            switch (c) {
            case '?': k.t = T_QMARK; break;
            case '*': k.t = T_STAR; break;
            case ',': k.t = T_COMMA; break;
            case '.': k.t = T_DOT; break;
            case '(': k.t = T_LP; break;
            case ')': k.t = T_RP; break;
            case '[': k.t = T_LB; break;
            case ']': k.t = T_RB; break;
            case '{': k.t = T_LC; break;
            case '}': k.t = T_RC; break;
            case ':': k.t = T_COLON; break;
            case ';': k.t = T_SEMI; break;
            case '+': k.t = T_PLUS; break;
            case '-': k.t = T_MINUS; break;
            case '=': k.t = T_EQ; break;
            case '!':
                k.t = d == '=' ? T_NE : T_BAD;
                i += d == '=';
                break;
            case '<':
                if (d == '<') {
                    k.t = T_LBAG;
                    i++;
                }
                else if (d == '=' || d == '>') {
                    k.t = d == '=' ? T_LE : T_NE;
                    i++;
                }
                else {
                    k.t = T_LT;
                }
                break;
            case '>':
                if (d == '>') {
                    k.t = T_RBAG;
                    i++;
                }
                else if (d == '=') {
                    k.t = T_GE;
                    i++;
                }
                else {
                    k.t = T_GT;
                }
                break;
            default:
                k.t = T_BAD;
                break;
            }
        }
        k.len = i - k.off;
        if (p->nt == cap) {
            struct token *v = arena_alloc(p->a, 2 * cap * sizeof *v);
            memcpy(v, p->t, cap * sizeof *v);
            p->t = v;
            cap *= 2;
        }
        p->t[p->nt++] = k;
        if (k.t == T_EOF) {
            return;
        }
    }
}

static enum tok peek(const struct parser *p)
{
    return p->t[p->i].t;
}

static bool take(struct parser *p, enum tok t)
{
    if (peek(p) == t) {
        p->i++;
        return true;
    }
    return false;
}

static bool take_kw(struct parser *p, const char *kw)
{
    if (is_kw(p, p->i, kw)) {
        p->i++;
        return true;
    }
    return false;
}

static int expect(struct parser *p, enum tok t)
{
    return take(p, t) ? 0 : syntax(p);
}

static int expect_kw(struct parser *p, const char *kw)
{
    return take_kw(p, kw) ? 0 : syntax(p);
}

static bool enter(struct parser *p)
{
    if (++p->depth > DDB_PQL_MAX_NEST) {
        fail(p, "%sThe statement is nested too deeply", bad_stmt);
        return false;
    }
    return true;
}

/* The text of a quoted token without its quotes, doubled quotes made single (arena). */
static struct sl_str unquote(struct parser *p, const struct token *k)
{
    char *o = arena_alloc(p->a, k->len + 1);
    size_t n = 0;
    char q = p->s[k->off];
    for (size_t i = k->off + 1; i + 1 < k->off + k->len; i++) {
        o[n++] = p->s[i];
        if (p->s[i] == q) {
            i++;
        }
    }
    o[n] = 0;
    return (struct sl_str){ o, n };
}

/* A name: an identifier (not a keyword) or a quoted identifier. */
static int name(struct parser *p, struct sl_str *out)
{
    const struct token *k = &p->t[p->i];
    if (k->t == T_QID) {
        *out = unquote(p, k);
        p->i++;
        return 0;
    }
    if (k->t == T_ID && !reserved(p, p->i)) {
        *out = (struct sl_str){ arena_strndup(p->a, p->s + k->off, k->len), k->len };
        p->i++;
        return 0;
    }
    return syntax(p);
}

/* ---- values ---- */

static json_t *literal(struct parser *p);

static json_t *next_param(struct parser *p)
{
    const json_t *v;
    if (!p->params || p->next_param >= json_array_size(p->params)) {
        fail(p, "Number of parameters in request and statement don't match.");
        return NULL;
    }
    v = json_array_get(p->params, p->next_param++);
    return json_incref((json_t *)v);
}

static json_t *number(struct parser *p, bool neg)
{
    const struct token *k = &p->t[p->i++];
    char *txt = arena_alloc(p->a, k->len + 2);
    txt[0] = '-';
    memcpy(txt + 1, p->s + k->off, k->len);
    txt[k->len + 1] = 0;
    return json_pack("{s:s}", "N", neg ? txt : txt + 1);
}

/* A bag <<...>>: a string, number or binary set of literals or parameters. */
static json_t *bag(struct parser *p)
{
    json_t *members = json_array(), *out = NULL;
    const char *type = NULL;
    if (peek(p) == T_RBAG) {
        fail(p, "Empty bags are not supported");
        goto out;
    }
    do {
        json_t *m = literal(p);
        const char *k;
        json_t *v;
        if (!m) {
            goto out;
        }
        k = json_object_size(m) == 1 ? json_object_iter_key(json_object_iter(m)) : NULL;
        v = k ? json_object_get(m, k) : NULL;
        if (!k || !json_is_string(v) ||
            (strcmp(k, "S") != 0 && strcmp(k, "N") != 0 && strcmp(k, "B") != 0) ||
            (type && strcmp(type, k) != 0)) {
            json_decref(m);
            fail(p, "Unsupported data type in Bag. DynamoDB only supports either numbers or "
                    "strings in bags");
            goto out;
        }
        type = strcmp(k, "S") == 0 ? "S" : strcmp(k, "N") == 0 ? "N" : "B";
        json_array_append(members, v);
        json_decref(m);
    } while (take(p, T_COMMA));
    if (expect(p, T_RBAG) < 0) {
        goto out;
    }
    out = json_pack("{sO}", type[0] == 'S' ? "SS" : type[0] == 'N' ? "NS" : "BS", members);
out:
    json_decref(members);
    return out;
}

/* A literal value or a parameter, as AttributeValue JSON (new reference), or NULL. */
static json_t *literal(struct parser *p)
{
    const struct token *k = &p->t[p->i];
    json_t *out = NULL;

    if (!enter(p)) {
        return NULL;
    }
    switch (k->t) {
    case T_STR: {
        struct sl_str v = unquote(p, k);
        p->i++;
        out = json_pack("{s:s%}", "S", v.p, v.len);
        break;
    }
    case T_NUM:
        out = number(p, false);
        break;
    case T_MINUS:
        p->i++;
        if (peek(p) != T_NUM) {
            syntax(p);
            break;
        }
        out = number(p, true);
        break;
    case T_QMARK:
        p->i++;
        out = next_param(p);
        break;
    case T_LB:
        p->i++;
        out = json_pack("{s:[]}", "L");
        if (!take(p, T_RB)) {
            do {
                json_t *m = literal(p);
                if (!m) {
                    json_decref(out);
                    out = NULL;
                    break;
                }
                json_array_append_new(json_object_get(out, "L"), m);
            } while (take(p, T_COMMA));
            if (out && expect(p, T_RB) < 0) {
                json_decref(out);
                out = NULL;
            }
        }
        break;
    case T_LC:
        p->i++;
        out = json_pack("{s:{}}", "M");
        if (!take(p, T_RC)) {
            do {
                struct sl_str key;
                json_t *m;
                char *kz;
                if (peek(p) != T_STR) {
                    syntax(p);
                    json_decref(out);
                    out = NULL;
                    break;
                }
                key = unquote(p, &p->t[p->i]);
                p->i++;
                kz = arena_strndup(p->a, key.p, key.len);
                if (strlen(kz) != key.len) {
                    fail(p, "%sUnexpected token", bad_stmt);
                }
                if (p->failed || expect(p, T_COLON) < 0 || !(m = literal(p))) {
                    json_decref(out);
                    out = NULL;
                    break;
                }
                if (json_object_get(json_object_get(out, "M"), kz)) {
                    json_decref(m);
                    fail(p, "Duplicate keys in tuple. Key: %s", kz);
                    json_decref(out);
                    out = NULL;
                    break;
                }
                json_object_set_new(json_object_get(out, "M"), kz, m);
            } while (take(p, T_COMMA));
            if (out && expect(p, T_RC) < 0) {
                json_decref(out);
                out = NULL;
            }
        }
        break;
    case T_LBAG:
        p->i++;
        out = bag(p);
        break;
    case T_ID:
        if (is_kw(p, p->i, "TRUE") || is_kw(p, p->i, "FALSE")) {
            out = json_pack("{s:b}", "BOOL", is_kw(p, p->i, "TRUE"));
            p->i++;
        }
        else if (is_kw(p, p->i, "NULL")) {
            out = json_pack("{s:b}", "NULL", 1);
            p->i++;
        }
        else if (is_kw(p, p->i, "MISSING")) {
            fail(p, "MISSING must be compared using IS operator");
        }
        else {
            syntax(p);
        }
        break;
    default:
        syntax(p);
        break;
    }
    p->depth--;
    if (!out && !p->failed) {
        fail(p, "%sUnexpected token", bad_stmt);
    }
    return out;
}

static bool literal_start(const struct parser *p)
{
    enum tok t = peek(p);
    return t == T_STR || t == T_NUM || t == T_MINUS || t == T_QMARK || t == T_LB || t == T_LC ||
           t == T_LBAG || is_kw(p, p->i, "TRUE") || is_kw(p, p->i, "FALSE") ||
           is_kw(p, p->i, "NULL") || is_kw(p, p->i, "MISSING");
}

/* Encodes an AttributeValue (JSON) into the arena as a value of the expression machinery. */
static int encode_val(struct parser *p, const json_t *av, struct ddb_val *out)
{
    struct buf b;
    size_t size;
    unsigned char *copy;
    const unsigned char *val;
    size_t len;
    int type;
    struct ddb_err e;

    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (ddb_value_encode(av, p->a, &b, &size, &e) < 0) {
        buf_release(&b);
        return fail(p, "%s", e.msg);
    }
    copy = arena_alloc(p->a, b.len ? b.len : 1);
    memcpy(copy, b.p, b.len);
    if (!ddb_rd_value(copy, copy + b.len, &type, &val, &len)) {
        buf_release(&b);
        return fail(p, "%sUnexpected token", bad_stmt);
    }
    buf_release(&b);
    *out = (struct ddb_val){ type, val, len };
    return 0;
}

/* ---- nodes ---- */

static struct ddb_node *node(struct parser *p, enum ddb_node_kind kind, int op, size_t nargs)
{
    struct ddb_node *x = arena_new(p->a, struct ddb_node);
    x->kind = kind;
    x->op = op;
    x->at = (uint32_t)p->t[p->i].off;
    x->nargs = nargs;
    x->args = nargs ? arena_zalloc(p->a, nargs * sizeof *x->args) : NULL;
    return x;
}

static struct ddb_node *value_node(struct parser *p)
{
    json_t *av = literal(p);
    struct ddb_node *x;
    int rc;
    if (!av) {
        return NULL;
    }
    x = node(p, DDB_N_VALUE, 0, 0);
    x->text = (struct sl_str){ "?", 1 };
    rc = encode_val(p, av, &x->val);
    json_decref(av);
    return rc < 0 ? NULL : x;
}

static struct ddb_node *string_node(struct parser *p, const char *s)
{
    json_t *av = json_pack("{s:s}", "S", s);
    struct ddb_node *x = node(p, DDB_N_VALUE, 0, 0);
    int rc = encode_val(p, av, &x->val);
    json_decref(av);
    return rc < 0 ? NULL : x;
}

/* path := name { '.' name | '[' index ']' | '[' 'string' ']' } */
static int path(struct parser *p, struct ddb_path *out)
{
    struct ddb_path_elem e[DDB_EXPR_MAX_PATH];
    size_t n = 0;

    if (peek(p) == T_LB) {
        return fail(p, "A path cannot start with a list index");
    }
    memset(e, 0, sizeof e);
    if (name(p, &e[n].name) < 0) {
        return -1;
    }
    n++;
    for (;;) {
        if (n == DDB_EXPR_MAX_PATH && (peek(p) == T_DOT || peek(p) == T_LB)) {
            return fail(p, "%sThe document path has too many nesting levels", bad_stmt);
        }
        if (take(p, T_DOT)) {
            if (name(p, &e[n].name) < 0) {
                return -1;
            }
            n++;
        }
        else if (take(p, T_LB)) {
            const struct token *k = &p->t[p->i];
            if (k->t == T_NUM) {
                unsigned long long v = 0;
                for (size_t i = 0; i < k->len; i++) {
                    char c = p->s[k->off + i];
                    if (!digit(c) || v > 0xFFFFFFFull) {
                        return fail(p, "List index is not within the allowable range; index: "
                                       "[%.*s]",
                                    (int)k->len, p->s + k->off);
                    }
                    v = v * 10 + (unsigned)(c - '0');
                }
                e[n].is_index = true;
                e[n].index = (uint32_t)v;
                p->i++;
            }
            else if (k->t == T_STR) {
                e[n].name = unquote(p, k);
                p->i++;
            }
            else {
                return syntax(p);
            }
            n++;
            if (expect(p, T_RB) < 0) {
                return -1;
            }
        }
        else {
            break;
        }
    }
    out->n = n;
    out->e = arena_alloc(p->a, n * sizeof *out->e);
    memcpy(out->e, e, n * sizeof *out->e);
    return 0;
}

static struct ddb_node *path_node(struct parser *p)
{
    struct ddb_node *x = node(p, DDB_N_PATH, 0, 0);
    return path(p, &x->path) < 0 ? NULL : x;
}

static bool func_call(const struct parser *p, const char *fname)
{
    return is_kw(p, p->i, fname) && p->t[p->i + 1].t == T_LP;
}

/* operand := size(path) | path | literal */
static struct ddb_node *operand(struct parser *p)
{
    if (func_call(p, "size")) {
        struct ddb_node *x = node(p, DDB_N_FUNC, DDB_F_SIZE, 1);
        x->text = (struct sl_str){ "size", 4 };
        p->i += 2;
        if (!(x->args[0] = path_node(p)) || expect(p, T_RP) < 0) {
            return NULL;
        }
        return x;
    }
    if (literal_start(p)) {
        return value_node(p);
    }
    return path_node(p);
}

static struct ddb_node *cond_or(struct parser *p);

/* A predicate function: begins_with, contains, attribute_type, attribute_exists,
 * attribute_not_exists. Returns NULL with nothing consumed when the name is none of them. */
static struct ddb_node *pred_func(struct parser *p, bool *matched)
{
    static const struct {
        const char *name;
        enum ddb_func f;
        size_t nargs;
    } funcs[] = {
        { "begins_with", DDB_F_BEGINS_WITH, 2 },
        { "contains", DDB_F_CONTAINS, 2 },
        { "attribute_type", DDB_F_ATTRIBUTE_TYPE, 2 },
        { "attribute_exists", DDB_F_ATTRIBUTE_EXISTS, 1 },
        { "attribute_not_exists", DDB_F_ATTRIBUTE_NOT_EXISTS, 1 },
    };
    *matched = false;
    for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++) {
        struct ddb_node *x;
        if (!func_call(p, funcs[i].name)) {
            continue;
        }
        *matched = true;
        x = node(p, DDB_N_FUNC, funcs[i].f, funcs[i].nargs);
        x->text = (struct sl_str){ funcs[i].name, strlen(funcs[i].name) };
        p->i += 2;
        if (!(x->args[0] = path_node(p))) {
            return NULL;
        }
        if (funcs[i].nargs == 2 &&
            (expect(p, T_COMMA) < 0 || !(x->args[1] = operand(p)))) {
            return NULL;
        }
        return expect(p, T_RP) < 0 ? NULL : x;
    }
    return NULL;
}

/* IS [NOT] MISSING | NULL | a type name. */
static struct ddb_node *is_pred(struct parser *p, struct ddb_node *left)
{
    static const struct {
        const char *word, *type;
    } types[] = {
        { "NULL", "NULL" }, { "BOOLEAN", "BOOL" }, { "BLOB", "B" }, { "STRING", "S" },
        { "NUMERIC", "N" }, { "STRUCT", "M" }, { "TUPLE", "M" }, { "LIST", "L" },
    };
    bool neg = take_kw(p, "NOT");
    struct ddb_node *x = NULL;

    if (left->kind != DDB_N_PATH) {
        fail(p, "The left hand side argument to IS must be a Variable Reference, Literal, or "
                "Path");
        return NULL;
    }
    if (take_kw(p, "MISSING")) {
        x = node(p, DDB_N_FUNC, neg ? DDB_F_ATTRIBUTE_EXISTS : DDB_F_ATTRIBUTE_NOT_EXISTS, 1);
        x->text = neg ? (struct sl_str){ "attribute_exists", 16 }
                      : (struct sl_str){ "attribute_not_exists", 20 };
        x->args[0] = left;
        return x;
    }
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        if (take_kw(p, types[i].word)) {
            x = node(p, DDB_N_FUNC, DDB_F_ATTRIBUTE_TYPE, 2);
            x->text = (struct sl_str){ "attribute_type", 14 };
            x->args[0] = left;
            if (!(x->args[1] = string_node(p, types[i].type))) {
                return NULL;
            }
            break;
        }
    }
    if (!x) {
        if (peek(p) == T_ID) {
            fail(p, "Unsupported data type for IS operator: %.*s. Supported data types are "
                    "[MISSING, NULL, BOOLEAN, BLOB, STRING, NUMERIC, STRUCT, TUPLE, LIST]",
                 (int)p->t[p->i].len, p->s + p->t[p->i].off);
            return NULL;
        }
        syntax(p);
        return NULL;
    }
    if (neg) {
        struct ddb_node *n = node(p, DDB_N_NOT, 0, 1);
        n->args[0] = x;
        return n;
    }
    return x;
}

/* IN [v, ...] or IN (v, ...). */
static struct ddb_node *in_pred(struct parser *p, struct ddb_node *left)
{
    struct ddb_node *vals[DDB_EXPR_MAX_IN];
    size_t n = 0;
    enum tok close;
    struct ddb_node *x;

    if (left->kind != DDB_N_PATH) {
        fail(p, "IN operator must have a left hand argument of type Variable Reference and "
                "right hand argument of type Seq with at least one member");
        return NULL;
    }
    if (take(p, T_LB)) {
        close = T_RB;
    }
    else if (take(p, T_LP)) {
        close = T_RP;
    }
    else {
        syntax(p);
        return NULL;
    }
    if (peek(p) == close) {
        fail(p, "IN operator must have a left hand argument of type Variable Reference and "
                "right hand argument of type Seq with at least one member");
        return NULL;
    }
    do {
        if (n == DDB_EXPR_MAX_IN) {
            fail(p, "%sThe IN operator has more than %d operands", bad_stmt, DDB_EXPR_MAX_IN);
            return NULL;
        }
        if (!(vals[n++] = value_node(p))) {
            return NULL;
        }
    } while (take(p, T_COMMA));
    if (expect(p, close) < 0) {
        return NULL;
    }
    x = node(p, DDB_N_IN, 0, n + 1);
    x->args[0] = left;
    memcpy(x->args + 1, vals, n * sizeof *vals);
    return x;
}

static struct ddb_node *predicate(struct parser *p)
{
    static const struct {
        enum tok t;
        enum ddb_cmp op;
    } cmps[] = {
        { T_EQ, DDB_CMP_EQ }, { T_NE, DDB_CMP_NE }, { T_LT, DDB_CMP_LT },
        { T_LE, DDB_CMP_LE }, { T_GT, DDB_CMP_GT }, { T_GE, DDB_CMP_GE },
    };
    struct ddb_node *left, *x;
    bool matched;

    if (take(p, T_LP)) {
        x = cond_or(p);
        return x && expect(p, T_RP) == 0 ? x : NULL;
    }
    x = pred_func(p, &matched);
    if (matched) {
        return x;
    }
    if (!(left = operand(p))) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof cmps / sizeof cmps[0]; i++) {
        if (take(p, cmps[i].t)) {
            x = node(p, DDB_N_CMP, (int)cmps[i].op, 2);
            x->args[0] = left;
            return (x->args[1] = operand(p)) ? x : NULL;
        }
    }
    if (take_kw(p, "BETWEEN")) {
        x = node(p, DDB_N_BETWEEN, 0, 3);
        x->args[0] = left;
        if (!(x->args[1] = operand(p)) || expect_kw(p, "AND") < 0 ||
            !(x->args[2] = operand(p))) {
            return NULL;
        }
        return x;
    }
    if (take_kw(p, "IN")) {
        return in_pred(p, left);
    }
    if (take_kw(p, "IS")) {
        return is_pred(p, left);
    }
    if (p->t[p->i].t == T_EOF || is_kw(p, p->i, "AND") || is_kw(p, p->i, "OR") ||
        p->t[p->i].t == T_RP || is_kw(p, p->i, "ORDER")) {
        fail(p, "WHERE clause must contain an expression that resolves to a boolean");
        return NULL;
    }
    syntax(p);
    return NULL;
}

static struct ddb_node *cond_not(struct parser *p)
{
    struct ddb_node *x;
    if (!enter(p)) {
        return NULL;
    }
    if (take_kw(p, "NOT")) {
        x = node(p, DDB_N_NOT, 0, 1);
        if (!(x->args[0] = cond_not(p))) {
            x = NULL;
        }
    }
    else {
        x = predicate(p);
    }
    p->depth--;
    return x;
}

static struct ddb_node *binary(struct parser *p, enum ddb_node_kind kind, struct ddb_node *a,
                               struct ddb_node *b)
{
    struct ddb_node *x = node(p, kind, 0, 2);
    x->args[0] = a;
    x->args[1] = b;
    return x;
}

static struct ddb_node *cond_and(struct parser *p)
{
    struct ddb_node *x = cond_not(p);
    while (x && take_kw(p, "AND")) {
        struct ddb_node *y = cond_not(p);
        x = y ? binary(p, DDB_N_AND, x, y) : NULL;
    }
    return x;
}

static struct ddb_node *cond_or(struct parser *p)
{
    struct ddb_node *x;
    if (!enter(p)) {
        return NULL;
    }
    x = cond_and(p);
    while (x && take_kw(p, "OR")) {
        struct ddb_node *y = cond_and(p);
        x = y ? binary(p, DDB_N_OR, x, y) : NULL;
    }
    p->depth--;
    return x;
}

/* ---- statements ---- */

static int table_name(struct parser *p, struct ddb_pql *out, bool index)
{
    struct sl_str t, ix;
    if (name(p, &t) < 0) {
        return -1;
    }
    out->table = arena_strndup(p->a, t.p, t.len);
    if (index && take(p, T_DOT)) {
        if (name(p, &ix) < 0) {
            return -1;
        }
        out->index = arena_strndup(p->a, ix.p, ix.len);
    }
    return 0;
}

static int where(struct parser *p, struct ddb_pql *out)
{
    if (!take_kw(p, "WHERE")) {
        return 0;
    }
    out->where = cond_or(p);
    return out->where ? 0 : -1;
}

/* RETURNING ALL|MODIFIED OLD|NEW * */
static int returning(struct parser *p, struct ddb_pql *out)
{
    bool all, old;
    if (!take_kw(p, "RETURNING")) {
        return 0;
    }
    if (take_kw(p, "ALL")) {
        all = true;
    }
    else if (take_kw(p, "MODIFIED")) {
        all = false;
    }
    else {
        return syntax(p);
    }
    if (take_kw(p, "OLD")) {
        old = true;
    }
    else if (take_kw(p, "NEW")) {
        old = false;
    }
    else {
        return syntax(p);
    }
    if (!take(p, T_STAR)) {
        return fail(p, "Expected '*' after ( MODIFIED | ALL ) ( NEW | OLD ) in RETURNING "
                       "clause");
    }
    out->returning = all ? (old ? DDB_PQL_RET_ALL_OLD : DDB_PQL_RET_ALL_NEW)
                         : (old ? DDB_PQL_RET_MODIFIED_OLD : DDB_PQL_RET_MODIFIED_NEW);
    if (out->kind == DDB_PQL_DELETE && out->returning != DDB_PQL_RET_ALL_OLD) {
        return fail(p, "Invalid returning clause: RETURNING %s %s *. Only RETURNING ALL OLD * "
                       "is allowed in DELETE statements.",
                    all ? "ALL" : "MODIFIED", old ? "OLD" : "NEW");
    }
    return 0;
}

static int select_stmt(struct parser *p, struct ddb_pql *out)
{
    struct ddb_path paths[DDB_EXPR_MAX_OPERATORS];
    size_t n = 0;

    out->kind = DDB_PQL_SELECT;
    if (take(p, T_STAR)) {
        if (peek(p) == T_COMMA) {
            return fail(p, "Other attributes should not be present in the projection when '*' "
                           "is used.");
        }
    }
    else {
        do {
            if (take(p, T_STAR)) {
                return fail(p, "Other attributes should not be present in the projection when "
                               "'*' is used.");
            }
            if (n == DDB_EXPR_MAX_OPERATORS) {
                return fail(p, "%sThe projection has too many paths", bad_stmt);
            }
            if (path(p, &paths[n++]) < 0) {
                return -1;
            }
        } while (take(p, T_COMMA));
        out->proj = arena_new(p->a, struct ddb_proj);
        out->proj->n = n;
        out->proj->paths = arena_alloc(p->a, n * sizeof *paths);
        memcpy(out->proj->paths, paths, n * sizeof *paths);
    }
    if (expect_kw(p, "FROM") < 0 || table_name(p, out, true) < 0 || where(p, out) < 0) {
        return -1;
    }
    if (take_kw(p, "ORDER")) {
        if (expect_kw(p, "BY") < 0) {
            return -1;
        }
        do {
            struct ddb_pql_order *o;
            if (out->n_order == 2) {
                return fail(p, "%sUnexpected token", bad_stmt);
            }
            o = &out->order[out->n_order++];
            if (name(p, &o->attr) < 0) {
                return -1;
            }
            if (take_kw(p, "DESC")) {
                o->desc = true;
            }
            else {
                take_kw(p, "ASC");
            }
        } while (take(p, T_COMMA));
    }
    if (out->proj) {
        const struct ddb_path *pp[DDB_EXPR_MAX_OPERATORS];
        char msg[512];
        for (size_t i = 0; i < n; i++) {
            pp[i] = &out->proj->paths[i];
        }
        if (ddb_paths_check(p->a, pp, n, msg, sizeof msg) < 0) {
            return fail(p, "Duplicate identifiers in select clause: %s", msg);
        }
    }
    return 0;
}

static int insert_stmt(struct parser *p, struct ddb_pql *out)
{
    json_t *v;
    const json_t *m;
    struct buf b;
    struct ddb_err e;
    int rc;

    out->kind = DDB_PQL_INSERT;
    if (expect_kw(p, "INTO") < 0 || table_name(p, out, false) < 0) {
        return -1;
    }
    if (is_kw(p, p->i, "VALUES")) {
        return fail(p, "Unsupported operation: Inserting multiple items in a single statement "
                       "is not supported, use \"INSERT INTO tableName VALUE item\" instead");
    }
    if (expect_kw(p, "VALUE") < 0) {
        return -1;
    }
    if (peek(p) != T_LC && peek(p) != T_QMARK) {
        return fail(p, "Unsupported format in item expression. Please use struct format {...} "
                       "to express item values for insert statement.");
    }
    if (!(v = literal(p))) {
        return -1;
    }
    m = json_object_get(v, "M");
    if (!json_is_object(m) || json_object_size(v) != 1) {
        json_decref(v);
        return fail(p, "Unsupported format in item expression. Please use struct format {...} "
                       "to express item values for insert statement.");
    }
    buf_init(&b, DDB_ITEM_ENC_MAX);
    rc = ddb_item_encode(m, p->a, &b, &out->item_size, &e);
    json_decref(v);
    if (rc < 0) {
        buf_release(&b);
        return fail(p, "%s", e.msg);
    }
    out->item = arena_alloc(p->a, b.len ? b.len : 1);
    memcpy((char *)out->item, b.p, b.len);
    out->item_len = b.len;
    buf_release(&b);
    if (is_kw(p, p->i, "RETURNING")) {
        return fail(p, "RETURNING is not supported in INSERT");
    }
    return 0;
}

/* The right-hand side of SET: term [ (+|-) term ], a term a value, a path, list_append() or
 * if_not_exists(). */
static struct ddb_node *set_term(struct parser *p)
{
    struct ddb_node *x;
    if (func_call(p, "list_append") || func_call(p, "if_not_exists")) {
        bool append = is_kw(p, p->i, "list_append");
        if (!enter(p)) {
            return NULL;
        }
        x = node(p, DDB_N_FUNC, append ? DDB_F_LIST_APPEND : DDB_F_IF_NOT_EXISTS, 2);
        x->text = append ? (struct sl_str){ "list_append", 11 }
                         : (struct sl_str){ "if_not_exists", 13 };
        p->i += 2;
        x->args[0] = append ? set_term(p) : path_node(p);
        if (!x->args[0] || expect(p, T_COMMA) < 0 || !(x->args[1] = set_term(p)) ||
            expect(p, T_RP) < 0) {
            x = NULL;
        }
        p->depth--;
        return x;
    }
    if (literal_start(p)) {
        return value_node(p);
    }
    if (peek(p) == T_ID && p->t[p->i + 1].t == T_LP) {
        fail(p, "Unrecognized function: %.*s", (int)p->t[p->i].len, p->s + p->t[p->i].off);
        return NULL;
    }
    return path_node(p);
}

static bool paths_equal(const struct ddb_path *a, const struct ddb_path *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (ddb_path_elem_cmp(&a->e[i], &b->e[i]) != 0) {
            return false;
        }
    }
    return true;
}

/* One SET assignment into act. */
static int assignment(struct parser *p, struct ddb_action *act)
{
    struct ddb_node *x;
    act->kind = DDB_ACT_SET;
    if (path(p, &act->path) < 0 || expect(p, T_EQ) < 0) {
        return -1;
    }
    if (func_call(p, "set_add") || func_call(p, "set_delete")) {
        bool add = is_kw(p, p->i, "set_add");
        const char *fn = add ? "ADD" : "DELETE";
        struct ddb_path first;
        p->i += 2;
        if (path(p, &first) < 0) {
            return -1;
        }
        if (!paths_equal(&first, &act->path)) {
            return fail(p, "The first argument to SET_%s must equal the assignment value", fn);
        }
        if (take(p, T_RP)) {
            return fail(p, "SET_%s must have exactly two arguments", fn);
        }
        if (expect(p, T_COMMA) < 0 || !(x = value_node(p))) {
            return -1;
        }
        if (x->val.type != DDB_SS && x->val.type != DDB_NS && x->val.type != DDB_BS) {
            return fail(p, "The second argument to SET_%s must be a value with type SET", fn);
        }
        if (peek(p) == T_COMMA) {
            return fail(p, "SET_%s must have exactly two arguments", fn);
        }
        if (expect(p, T_RP) < 0) {
            return -1;
        }
        act->kind = add ? DDB_ACT_ADD : DDB_ACT_DELETE;
        act->value = x;
        return 0;
    }
    if (!(x = set_term(p))) {
        return -1;
    }
    if (peek(p) == T_PLUS || peek(p) == T_MINUS) {
        enum ddb_node_kind k = peek(p) == T_PLUS ? DDB_N_PLUS : DDB_N_MINUS;
        struct ddb_node *y;
        p->i++;
        if (!(y = set_term(p))) {
            return -1;
        }
        x = binary(p, k, x, y);
    }
    act->value = x;
    return 0;
}

static int update_stmt(struct parser *p, struct ddb_pql *out)
{
    struct ddb_action acts[DDB_EXPR_MAX_OPERATORS];
    const struct ddb_path *pp[DDB_EXPR_MAX_OPERATORS];
    size_t n = 0;
    char msg[512];

    out->kind = DDB_PQL_UPDATE;
    memset(acts, 0, sizeof acts);
    if (table_name(p, out, false) < 0) {
        return -1;
    }
    for (;;) {
        bool set = take_kw(p, "SET");
        if (!set && !take_kw(p, "REMOVE")) {
            break;
        }
        do {
            if (n == DDB_EXPR_MAX_OPERATORS) {
                return fail(p, "%sThe update has too many actions", bad_stmt);
            }
            if (set) {
                if (assignment(p, &acts[n]) < 0) {
                    return -1;
                }
            }
            else {
                acts[n].kind = DDB_ACT_REMOVE;
                if (path(p, &acts[n].path) < 0) {
                    return -1;
                }
            }
            n++;
        } while (take(p, T_COMMA));
    }
    if (n == 0) {
        if (is_kw(p, p->i, "ADD") || is_kw(p, p->i, "DELETE")) {
            return fail(p, "Only SET and REMOVE are supported in update expressions at this "
                           "time");
        }
        return syntax(p);
    }
    if (where(p, out) < 0 || returning(p, out) < 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        pp[i] = &acts[i].path;
    }
    if (ddb_paths_check(p->a, pp, n, msg, sizeof msg) < 0) {
        return fail(p, "%s", msg);
    }
    out->update = arena_new(p->a, struct ddb_update);
    out->update->n = n;
    out->update->a = arena_alloc(p->a, n * sizeof *acts);
    memcpy(out->update->a, acts, n * sizeof *acts);
    return 0;
}

static int delete_stmt(struct parser *p, struct ddb_pql *out)
{
    out->kind = DDB_PQL_DELETE;
    if (expect_kw(p, "FROM") < 0 || table_name(p, out, false) < 0 || where(p, out) < 0) {
        return -1;
    }
    return returning(p, out);
}

int ddb_pql_parse(struct arena *a, const char *s, size_t n, const json_t *params,
                  struct ddb_pql *out, struct ddb_err *err)
{
    struct parser p;
    int rc;

    memset(out, 0, sizeof *out);
    memset(&p, 0, sizeof p);
    p.a = a;
    p.s = s;
    p.n = n;
    p.params = params;
    p.err = err;
    err->kind = DDB_ERR_NONE;
    err->msg[0] = 0;
    if (n > DDB_PQL_MAX_LEN) {
        return fail(&p, "%sThe statement is longer than %d characters", bad_stmt,
                    DDB_PQL_MAX_LEN);
    }
    lex(&p);
    if (take_kw(&p, "SELECT")) {
        rc = select_stmt(&p, out);
    }
    else if (take_kw(&p, "INSERT")) {
        rc = insert_stmt(&p, out);
    }
    else if (take_kw(&p, "UPDATE")) {
        rc = update_stmt(&p, out);
    }
    else if (take_kw(&p, "DELETE")) {
        rc = delete_stmt(&p, out);
    }
    else if (take_kw(&p, "EXISTS")) {
        /* EXISTS(SELECT * FROM t WHERE ...): the SELECT's table, key and condition. */
        rc = expect(&p, T_LP);
        if (rc == 0 && (rc = expect_kw(&p, "SELECT")) == 0 && (rc = select_stmt(&p, out)) == 0) {
            rc = expect(&p, T_RP);
        }
        if (rc == 0 && (out->index || out->n_order)) {
            rc = fail(&p, "EXISTS() must contain a single item read with additional condition");
        }
        out->kind = DDB_PQL_EXISTS;
    }
    else {
        return fail(&p, "%sExpected data manipulation", bad_stmt);
    }
    if (rc < 0) {
        return -1;
    }
    take(&p, T_SEMI);
    if (peek(&p) != T_EOF) {
        return syntax(&p);
    }
    if (p.params && p.next_param != json_array_size(p.params)) {
        return fail(&p, "Number of parameters in request and statement don't match.");
    }
    return 0;
}

/* ---- the split against a key ---- */

static void conjuncts(struct ddb_node *x, struct ddb_node ***v, size_t *n, size_t *cap,
                      struct arena *a)
{
    if (x->kind == DDB_N_AND) {
        for (size_t i = 0; i < x->nargs; i++) {
            conjuncts(x->args[i], v, n, cap, a);
        }
        return;
    }
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 8;
        struct ddb_node **w = arena_alloc(a, c * sizeof *w);
        if (*n) {
            memcpy(w, *v, *n * sizeof *w);
        }
        *v = w;
        *cap = c;
    }
    (*v)[(*n)++] = x;
}

/* Is x a top-level attribute named name? */
static bool is_attr(const struct ddb_node *x, struct sl_str name)
{
    return x->kind == DDB_N_PATH && x->path.n == 1 && !x->path.e[0].is_index &&
           sl_str_eq(x->path.e[0].name, name);
}

static bool is_value(const struct ddb_node *x)
{
    return x->kind == DDB_N_VALUE;
}

/* The key term of conjunct x on attribute name, when it is one. eq_only: only equality. */
static bool key_term(const struct ddb_node *x, struct sl_str name, bool eq_only,
                     struct ddb_kc_term *t)
{
    static const enum ddb_kc_op ops[] = { 0, DDB_KC_EQ, 0, DDB_KC_LT, DDB_KC_LE, DDB_KC_GT,
                                          DDB_KC_GE };
    memset(t, 0, sizeof *t);
    t->attr = name;
    if (x->kind == DDB_N_CMP && x->nargs == 2) {
        const struct ddb_node *l = x->args[0], *r = x->args[1];
        int op = x->op;
        if (is_value(l) && is_attr(r, name)) {
            /* 'a' = pk, 5 < sk: the attribute on the left. */
            const struct ddb_node *tmp = l;
            l = r;
            r = tmp;
            op = op == DDB_CMP_LT   ? DDB_CMP_GT
                 : op == DDB_CMP_GT ? DDB_CMP_LT
                 : op == DDB_CMP_LE ? DDB_CMP_GE
                 : op == DDB_CMP_GE ? DDB_CMP_LE
                                    : op;
        }
        if (!is_attr(l, name) || !is_value(r) || op == DDB_CMP_NE || op < DDB_CMP_EQ ||
            op > DDB_CMP_GE || (eq_only && op != DDB_CMP_EQ)) {
            return false;
        }
        t->op = ops[op];
        t->v[0] = r->val;
        t->nv = 1;
        return true;
    }
    if (eq_only) {
        return false;
    }
    if (x->kind == DDB_N_BETWEEN && is_attr(x->args[0], name) && is_value(x->args[1]) &&
        is_value(x->args[2])) {
        t->op = DDB_KC_BETWEEN;
        t->v[0] = x->args[1]->val;
        t->v[1] = x->args[2]->val;
        t->nv = 2;
        return true;
    }
    if (x->kind == DDB_N_FUNC && x->op == DDB_F_BEGINS_WITH && is_attr(x->args[0], name) &&
        is_value(x->args[1])) {
        t->op = DDB_KC_BEGINS_WITH;
        t->v[0] = x->args[1]->val;
        t->nv = 1;
        return true;
    }
    return false;
}

void ddb_pql_split(struct arena *a, struct ddb_node *where, struct sl_str hash,
                   struct sl_str range, bool range_terms, struct ddb_pql_split *out)
{
    struct ddb_node **v = NULL, **rest;
    size_t n = 0, cap = 0, nr = 0;
    struct ddb_kc_term ht, rt, t;
    bool have_h = false, have_r = false;

    memset(out, 0, sizeof *out);
    if (!where) {
        return;
    }
    conjuncts(where, &v, &n, &cap, a);
    rest = arena_alloc(a, n * sizeof *rest);
    /* The hash term first, so that "sk = 1 AND pk = 'a'" splits the same. */
    for (size_t i = 0; i < n; i++) {
        if (!have_h && key_term(v[i], hash, true, &t)) {
            ht = t;
            have_h = true;
            v[i] = NULL;
        }
    }
    for (size_t i = 0; i < n && range.len; i++) {
        if (v[i] && !have_r && key_term(v[i], range, !range_terms, &t)) {
            rt = t;
            have_r = true;
            v[i] = NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i]) {
            rest[nr++] = v[i];
        }
    }
    out->has_hash = have_h;
    if (have_h) {
        out->kc.t[out->kc.n++] = ht;
        out->hash_v = ht.v[0];
    }
    if (have_r) {
        out->kc.t[out->kc.n++] = rt;
        out->has_range_eq = rt.op == DDB_KC_EQ;
        out->range_v = rt.v[0];
    }
    if (nr == 1) {
        out->rest = rest[0];
    }
    else if (nr > 1) {
        out->rest = arena_new(a, struct ddb_node);
        out->rest->kind = DDB_N_AND;
        out->rest->args = rest;
        out->rest->nargs = nr;
    }
}

json_t *ddb_pql_key_json(const struct ddb_val *v)
{
    switch (v->type) {
    case DDB_S:
        return json_pack("{s:s%}", "S", (const char *)v->p, v->len);
    case DDB_N:
        return json_pack("{s:s%}", "N", (const char *)v->p, v->len);
    case DDB_B: {
        size_t n = ddb_b64_encoded_len(v->len);
        char *t = xmalloc(n + 1);
        json_t *out;
        ddb_b64_encode(v->p, v->len, t);
        out = json_pack("{s:s%}", "B", t, n);
        free(t);
        return out;
    }
    default:
        return NULL;
    }
}
