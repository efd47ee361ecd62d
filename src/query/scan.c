/*
 * scan.c: a small SQL tokenizer that finds the archive('bucket', 'prefix') calls of a query
 * before SQLite prepares it, and tells whether a statement's tail holds only blanks.
 *
 * Why it exists: SQLite asks a virtual table for its columns when the table is first named,
 * and the archive's columns come from its records. The engine therefore reads each call's
 * literal arguments here, infers the columns from the records (archive.c) and only then hands
 * the SQL to SQLite. The tokenizer knows just enough of SQLite's lexical rules not to be
 * fooled: '...' strings (with '' for a quote), "...", `...` and [...] quoted identifiers,
 * -- and C-style comments, identifiers and single punctuation characters. A call is the
 * identifier archive (any case, bare or quoted, as SQLite matches names) followed by "(",
 * zero to two arguments and ")"; it is "literal" when every argument is a string literal.
 *
 * What it is not: a parser. archive(...) in a position where SQLite would not accept a table
 * is found too; SQLite then refuses the statement itself.
 *
 * Invariants: the scan reads every byte at most a few times and never past len; it copies
 * out only the literal arguments of at most QRY__CALLS_MAX distinct calls.
 */
#include <string.h>

#include "core/mem.h"
#include "query/qry_int.h"

enum tok_kind {
    TOK_END = 0,
    TOK_IDENT,      /* bare or quoted identifier */
    TOK_STRING,     /* '...' */
    TOK_PUNCT,      /* any other single character (or number run) */
};

struct tok {
    enum tok_kind kind;
    size_t start;   /* offset of the token's first byte */
    size_t end;     /* offset after its last byte */
    bool quoted;    /* an identifier in "", ``, or [] */
};

static bool is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* Offset after the blanks and comments that start at i. */
static size_t skip_blank(const char *p, size_t len, size_t i)
{
    for (;;) {
        while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' ||
                           p[i] == '\f' || p[i] == '\v')) {
            i++;
        }
        if (i + 1 < len && p[i] == '-' && p[i + 1] == '-') {
            while (i < len && p[i] != '\n') {
                i++;
            }
            continue;
        }
        if (i + 1 < len && p[i] == '/' && p[i + 1] == '*') {
            i += 2;
            while (i < len && !(i + 1 < len && p[i] == '*' && p[i + 1] == '/')) {
                i++;
            }
            i = i < len ? i + 2 : len;  /* SQLite accepts an unterminated comment at the end */
            continue;
        }
        return i;
    }
}

/* Offset after a quoted run opened at i by the character open, closed by close, where a
 * doubled close stands for itself (SQL's '' and ""). An unterminated run ends at len. */
static size_t skip_quoted(const char *p, size_t len, size_t i, char close, bool doubled)
{
    i++;
    while (i < len) {
        if (p[i] == close) {
            if (doubled && i + 1 < len && p[i + 1] == close) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
    return len;
}

/* The token at or after offset i. */
static struct tok next_tok(const char *p, size_t len, size_t i)
{
    struct tok t = { TOK_END, len, len, false };
    unsigned char c;

    i = skip_blank(p, len, i);
    if (i >= len) {
        return t;
    }
    t.start = i;
    c = (unsigned char)p[i];
    if (c == '\'') {
        t.kind = TOK_STRING;
        t.end = skip_quoted(p, len, i, '\'', true);
    }
    else if (c == '"' || c == '`') {
        t.kind = TOK_IDENT;
        t.quoted = true;
        t.end = skip_quoted(p, len, i, (char)c, true);
    }
    else if (c == '[') {
        t.kind = TOK_IDENT;
        t.quoted = true;
        t.end = skip_quoted(p, len, i, ']', false);
    }
    else if (is_ident_start(c)) {
        t.kind = TOK_IDENT;
        t.end = i + 1;
        while (t.end < len && is_ident_char((unsigned char)p[t.end])) {
            t.end++;
        }
    }
    else if (c >= '0' && c <= '9') {
        /* A number is one token, so 1archive( is not a call (SQLite refuses it anyway). */
        t.kind = TOK_PUNCT;
        t.end = i + 1;
        while (t.end < len && (is_ident_char((unsigned char)p[t.end]) || p[t.end] == '.')) {
            t.end++;
        }
    }
    else {
        t.kind = TOK_PUNCT;
        t.end = i + 1;
    }
    return t;
}

static bool tok_is(const char *p, struct tok t, char c)
{
    return t.kind == TOK_PUNCT && t.end == t.start + 1 && p[t.start] == c;
}

/* Is t the identifier archive, bare or quoted, in any case? */
static bool tok_is_archive(const char *p, struct tok t)
{
    static const char name[] = "archive";
    size_t n = sizeof name - 1;
    const char *s = p + t.start;
    size_t len = t.end - t.start;

    if (t.kind != TOK_IDENT) {
        return false;
    }
    if (t.quoted) {
        /* A quoted name must be closed and hold exactly the name (no doubled quotes fit). */
        char close = s[0] == '[' ? ']' : s[0];
        if (len != n + 2 || s[len - 1] != close) {
            return false;
        }
        s++;
        len -= 2;
    }
    if (len != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c = (char)(c - 'A' + 'a');
        }
        if (c != name[i]) {
            return false;
        }
    }
    return true;
}

/* The value of a closed string literal token (quotes removed, '' made '), owned by the caller
 * (free()). NULL when the literal is not closed. */
static char *literal_value(const char *p, struct tok t)
{
    size_t len = t.end - t.start;
    char *out, *o;

    if (len < 2 || p[t.end - 1] != '\'') {
        return NULL;
    }
    out = xmalloc(len);
    o = out;
    for (size_t i = t.start + 1; i < t.end - 1; i++) {
        *o++ = p[i];
        if (p[i] == '\'') {
            i++;    /* the second quote of '' */
        }
    }
    *o = '\0';
    return out;
}

static void add_call(struct qry__calls *out, char *bucket, char *prefix)
{
    for (size_t i = 0; i < out->n; i++) {
        if (strcmp(out->v[i].bucket, bucket) == 0 && strcmp(out->v[i].prefix, prefix) == 0) {
            free(bucket);
            free(prefix);
            return;
        }
    }
    if (out->n == QRY__CALLS_MAX) {
        out->dropped++;
        free(bucket);
        free(prefix);
        return;
    }
    out->v[out->n].bucket = bucket;
    out->v[out->n].prefix = prefix;
    out->n++;
}

void qry__scan_calls(const char *sql, size_t len, struct qry__calls *out)
{
    size_t i = 0;

    memset(out, 0, sizeof *out);
    for (;;) {
        struct tok t = next_tok(sql, len, i);
        struct tok a[2];
        size_t nargs = 0;
        size_t j;
        bool literal = true;

        if (t.kind == TOK_END) {
            return;
        }
        i = t.end;
        if (!tok_is_archive(sql, t)) {
            continue;
        }
        t = next_tok(sql, len, i);
        if (!tok_is(sql, t, '(')) {
            continue;
        }
        /* Arguments: each must be one string literal followed by ',' or ')'. Anything else
         * (an expression, a parameter, a third argument) makes the call non-literal, and the
         * scan resumes right after "(" so that nothing inside is skipped. */
        j = t.end;
        out->total++;
        for (;;) {
            t = next_tok(sql, len, j);
            if (tok_is(sql, t, ')') && nargs == 0) {
                break;
            }
            if (t.kind != TOK_STRING || nargs == 2) {
                literal = false;
                break;
            }
            a[nargs++] = t;
            t = next_tok(sql, len, t.end);
            if (tok_is(sql, t, ')')) {
                break;
            }
            if (!tok_is(sql, t, ',')) {
                literal = false;
                break;
            }
            j = t.end;
        }
        if (!literal || nargs == 0) {
            out->nonliteral++;
            continue;
        }
        {
            char *bucket = literal_value(sql, a[0]);
            char *prefix = nargs == 2 ? literal_value(sql, a[1]) : xstrdup("");
            if (!bucket || !prefix) {
                free(bucket);
                free(prefix);
                out->nonliteral++;
                continue;
            }
            add_call(out, bucket, prefix);
            i = t.end;
        }
    }
}

void qry__calls_release(struct qry__calls *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].bucket);
        free(c->v[i].prefix);
    }
    memset(c, 0, sizeof *c);
}

bool qry__sql_blank(const char *p, size_t len)
{
    size_t i = skip_blank(p, len, 0);
    /* Empty statements (lone semicolons) are blank too, as the sqlite3 shell treats them. */
    while (i < len && p[i] == ';') {
        i = skip_blank(p, len, i + 1);
    }
    return i >= len;
}
