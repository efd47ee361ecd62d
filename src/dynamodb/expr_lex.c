/*
 * expr_lex.c: the lexer every DynamoDB expression kind shares, DynamoDB's syntax error
 * message, and its reserved words.
 *
 * What it is: the token rules of DynamoDB's expression grammar (the same as the DynamoDB
 * Accelerator client's published grammar): whitespace separates; = <> < <= > >= + - ( ) [ ]
 * , . are operators; IN BETWEEN NOT AND OR SET ADD DELETE REMOVE are keywords in any case;
 * an identifier starts with a letter and goes on with letters, digits and '_'; #name and
 * :value placeholders take one or more of those after their sign; an index is 0 or digits
 * not starting with 0. Anything else (a quoted string, '_x', a lone ':') is one "other"
 * token, which no rule accepts, so the parser reports it with DynamoDB's words.
 *
 * What it is not: the grammar (expr_parse.c).
 *
 * DynamoDB's syntax error names the offending token and the text around it: from the start
 * of the token before it to the end of the token after it ('token: ":", near: "hits :
 * incr"'), or to the end of the input when the expression ended too early ('token:
 * "<EOF>", near: "= "').
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/expr.h"

/* "Reserved words in DynamoDB" (developer guide), the whole list, sorted. */
static const char *const reserved[] = {
    "ABORT", "ABSOLUTE", "ACTION", "ADD", "AFTER", "AGENT", "AGGREGATE", "ALL", "ALLOCATE",
    "ALTER", "ANALYZE", "AND", "ANY", "ARCHIVE", "ARE", "ARRAY", "AS", "ASC", "ASCII",
    "ASENSITIVE", "ASSERTION", "ASYMMETRIC", "AT", "ATOMIC", "ATTACH", "ATTRIBUTE", "AUTH",
    "AUTHORIZATION", "AUTHORIZE", "AUTO", "AVG", "BACK", "BACKUP", "BASE", "BATCH", "BEFORE",
    "BEGIN", "BETWEEN", "BIGINT", "BINARY", "BIT", "BLOB", "BLOCK", "BOOLEAN", "BOTH",
    "BREADTH", "BUCKET", "BULK", "BY", "BYTE", "CALL", "CALLED", "CALLING", "CAPACITY",
    "CASCADE", "CASCADED", "CASE", "CAST", "CATALOG", "CHAR", "CHARACTER", "CHECK", "CLASS",
    "CLOB", "CLOSE", "CLUSTER", "CLUSTERED", "CLUSTERING", "CLUSTERS", "COALESCE", "COLLATE",
    "COLLATION", "COLLECTION", "COLUMN", "COLUMNS", "COMBINE", "COMMENT", "COMMIT", "COMPACT",
    "COMPILE", "COMPRESS", "CONDITION", "CONFLICT", "CONNECT", "CONNECTION", "CONSISTENCY",
    "CONSISTENT", "CONSTRAINT", "CONSTRAINTS", "CONSTRUCTOR", "CONSUMED", "CONTINUE", "CONVERT",
    "COPY", "CORRESPONDING", "COUNT", "COUNTER", "CREATE", "CROSS", "CUBE", "CURRENT", "CURSOR",
    "CYCLE", "DATA", "DATABASE", "DATE", "DATETIME", "DAY", "DEALLOCATE", "DEC", "DECIMAL",
    "DECLARE", "DEFAULT", "DEFERRABLE", "DEFERRED", "DEFINE", "DEFINED", "DEFINITION", "DELETE",
    "DELIMITED", "DEPTH", "DEREF", "DESC", "DESCRIBE", "DESCRIPTOR", "DETACH", "DETERMINISTIC",
    "DIAGNOSTICS", "DIRECTORIES", "DISABLE", "DISCONNECT", "DISTINCT", "DISTRIBUTE", "DO",
    "DOMAIN", "DOUBLE", "DROP", "DUMP", "DURATION", "DYNAMIC", "EACH", "ELEMENT", "ELSE",
    "ELSEIF", "EMPTY", "ENABLE", "END", "EQUAL", "EQUALS", "ERROR", "ESCAPE", "ESCAPED", "EVAL",
    "EVALUATE", "EXCEEDED", "EXCEPT", "EXCEPTION", "EXCEPTIONS", "EXCLUSIVE", "EXEC", "EXECUTE",
    "EXISTS", "EXIT", "EXPLAIN", "EXPLODE", "EXPORT", "EXPRESSION", "EXTENDED", "EXTERNAL",
    "EXTRACT", "FAIL", "FALSE", "FAMILY", "FETCH", "FIELDS", "FILE", "FILTER", "FILTERING",
    "FINAL", "FINISH", "FIRST", "FIXED", "FLATTERN", "FLOAT", "FOR", "FORCE", "FOREIGN",
    "FORMAT", "FORWARD", "FOUND", "FREE", "FROM", "FULL", "FUNCTION", "FUNCTIONS", "GENERAL",
    "GENERATE", "GET", "GLOB", "GLOBAL", "GO", "GOTO", "GRANT", "GREATER", "GROUP", "GROUPING",
    "HANDLER", "HASH", "HAVE", "HAVING", "HEAP", "HIDDEN", "HOLD", "HOUR", "IDENTIFIED",
    "IDENTITY", "IF", "IGNORE", "IMMEDIATE", "IMPORT", "IN", "INCLUDING", "INCLUSIVE",
    "INCREMENT", "INCREMENTAL", "INDEX", "INDEXED", "INDEXES", "INDICATOR", "INFINITE",
    "INITIALLY", "INLINE", "INNER", "INNTER", "INOUT", "INPUT", "INSENSITIVE", "INSERT",
    "INSTEAD", "INT", "INTEGER", "INTERSECT", "INTERVAL", "INTO", "INVALIDATE", "IS",
    "ISOLATION", "ITEM", "ITEMS", "ITERATE", "JOIN", "KEY", "KEYS", "LAG", "LANGUAGE", "LARGE",
    "LAST", "LATERAL", "LEAD", "LEADING", "LEAVE", "LEFT", "LENGTH", "LESS", "LEVEL", "LIKE",
    "LIMIT", "LIMITED", "LINES", "LIST", "LOAD", "LOCAL", "LOCALTIME", "LOCALTIMESTAMP",
    "LOCATION", "LOCATOR", "LOCK", "LOCKS", "LOG", "LOGED", "LONG", "LOOP", "LOWER", "MAP",
    "MATCH", "MATERIALIZED", "MAX", "MAXLEN", "MEMBER", "MERGE", "METHOD", "METRICS", "MIN",
    "MINUS", "MINUTE", "MISSING", "MOD", "MODE", "MODIFIES", "MODIFY", "MODULE", "MONTH",
    "MULTI", "MULTISET", "NAME", "NAMES", "NATIONAL", "NATURAL", "NCHAR", "NCLOB", "NEW",
    "NEXT", "NO", "NONE", "NOT", "NULL", "NULLIF", "NUMBER", "NUMERIC", "OBJECT", "OF",
    "OFFLINE", "OFFSET", "OLD", "ON", "ONLINE", "ONLY", "OPAQUE", "OPEN", "OPERATOR", "OPTION",
    "OR", "ORDER", "ORDINALITY", "OTHER", "OTHERS", "OUT", "OUTER", "OUTPUT", "OVER",
    "OVERLAPS", "OVERRIDE", "OWNER", "PAD", "PARALLEL", "PARAMETER", "PARAMETERS", "PARTIAL",
    "PARTITION", "PARTITIONED", "PARTITIONS", "PATH", "PERCENT", "PERCENTILE", "PERMISSION",
    "PERMISSIONS", "PIPE", "PIPELINED", "PLAN", "POOL", "POSITION", "PRECISION", "PREPARE",
    "PRESERVE", "PRIMARY", "PRIOR", "PRIVATE", "PRIVILEGES", "PROCEDURE", "PROCESSED",
    "PROJECT", "PROJECTION", "PROPERTY", "PROVISIONING", "PUBLIC", "PUT", "QUERY", "QUIT",
    "QUORUM", "RAISE", "RANDOM", "RANGE", "RANK", "RAW", "READ", "READS", "REAL", "REBUILD",
    "RECORD", "RECURSIVE", "REDUCE", "REF", "REFERENCE", "REFERENCES", "REFERENCING", "REGEXP",
    "REGION", "REINDEX", "RELATIVE", "RELEASE", "REMAINDER", "RENAME", "REPEAT", "REPLACE",
    "REQUEST", "RESET", "RESIGNAL", "RESOURCE", "RESPONSE", "RESTORE", "RESTRICT", "RESULT",
    "RETURN", "RETURNING", "RETURNS", "REVERSE", "REVOKE", "RIGHT", "ROLE", "ROLES", "ROLLBACK",
    "ROLLUP", "ROUTINE", "ROW", "ROWS", "RULE", "RULES", "SAMPLE", "SATISFIES", "SAVE",
    "SAVEPOINT", "SCAN", "SCHEMA", "SCOPE", "SCROLL", "SEARCH", "SECOND", "SECTION", "SEGMENT",
    "SEGMENTS", "SELECT", "SELF", "SEMI", "SENSITIVE", "SEPARATE", "SEQUENCE", "SERIALIZABLE",
    "SESSION", "SET", "SETS", "SHARD", "SHARE", "SHARED", "SHORT", "SHOW", "SIGNAL", "SIMILAR",
    "SIZE", "SKEWED", "SMALLINT", "SNAPSHOT", "SOME", "SOURCE", "SPACE", "SPACES", "SPARSE",
    "SPECIFIC", "SPECIFICTYPE", "SPLIT", "SQL", "SQLCODE", "SQLERROR", "SQLEXCEPTION",
    "SQLSTATE", "SQLWARNING", "START", "STATE", "STATIC", "STATUS", "STORAGE", "STORE",
    "STORED", "STREAM", "STRING", "STRUCT", "STYLE", "SUB", "SUBMULTISET", "SUBPARTITION",
    "SUBSTRING", "SUBTYPE", "SUM", "SUPER", "SYMMETRIC", "SYNONYM", "SYSTEM", "TABLE",
    "TABLESAMPLE", "TEMP", "TEMPORARY", "TERMINATED", "TEXT", "THAN", "THEN", "THROUGHPUT",
    "TIME", "TIMESTAMP", "TIMEZONE", "TINYINT", "TO", "TOKEN", "TOTAL", "TOUCH", "TRAILING",
    "TRANSACTION", "TRANSFORM", "TRANSLATE", "TRANSLATION", "TREAT", "TRIGGER", "TRIM", "TRUE",
    "TRUNCATE", "TTL", "TUPLE", "TYPE", "UNDER", "UNDO", "UNION", "UNIQUE", "UNIT", "UNKNOWN",
    "UNLOGGED", "UNNEST", "UNPROCESSED", "UNSIGNED", "UNTIL", "UPDATE", "UPPER", "URL", "USAGE",
    "USE", "USER", "USERS", "USING", "UUID", "VACUUM", "VALUE", "VALUED", "VALUES", "VARCHAR",
    "VARIABLE", "VARIANCE", "VARINT", "VARYING", "VIEW", "VIEWS", "VIRTUAL", "VOID", "WAIT",
    "WHEN", "WHENEVER", "WHERE", "WHILE", "WINDOW", "WITH", "WITHIN", "WITHOUT", "WORK",
    "WRAPPED", "WRITE", "YEAR", "ZONE",
};

static int cmp_word(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

bool ddb_reserved(const char *name, size_t len)
{
    char up[32];
    if (len == 0 || len >= sizeof up) {
        return false;   /* the longest reserved word is 16 letters */
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        up[i] = (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    up[len] = '\0';
    return bsearch(up, reserved, sizeof reserved / sizeof reserved[0], sizeof reserved[0],
                   cmp_word) != NULL;
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_idchar(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

static bool kw(const char *s, size_t n, const char *word)
{
    size_t wl = strlen(word);
    if (n != wl) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((char)(c >= 'a' && c <= 'z' ? c - 32 : c) != word[i]) {
            return false;
        }
    }
    return true;
}

static enum ddb_tok keyword(const char *s, size_t n)
{
    static const struct {
        const char *w;
        enum ddb_tok t;
    } kws[] = {
        { "IN", DDB_T_IN },   { "BETWEEN", DDB_T_BETWEEN }, { "NOT", DDB_T_NOT },
        { "AND", DDB_T_AND }, { "OR", DDB_T_OR },           { "SET", DDB_T_SET },
        { "ADD", DDB_T_ADD }, { "DELETE", DDB_T_DELETE },   { "REMOVE", DDB_T_REMOVE },
    };
    for (size_t i = 0; i < sizeof kws / sizeof kws[0]; i++) {
        if (kw(s, n, kws[i].w)) {
            return kws[i].t;
        }
    }
    return DDB_T_ID;
}

/* The length of one stray character: a whole UTF-8 sequence, so messages stay valid text. */
static size_t char_len(const unsigned char *p, size_t left)
{
    size_t n = 1;
    if (p[0] >= 0xC0) {
        while (n < left && n < 4 && (p[n] & 0xC0) == 0x80) {
            n++;
        }
    }
    return n;
}

/* One token at s[i..n). */
static struct ddb_token lex_one(const unsigned char *s, size_t n, size_t i)
{
    struct ddb_token t = { DDB_T_OTHER, (uint32_t)i, 1 };
    unsigned char c = s[i];
    size_t j = i + 1;

    if (is_alpha(c)) {
        while (j < n && is_idchar(s[j])) {
            j++;
        }
        t.t = keyword((const char *)s + i, j - i);
    }
    else if ((c == '#' || c == ':') && j < n && is_idchar(s[j])) {
        while (j < n && is_idchar(s[j])) {
            j++;
        }
        t.t = c == '#' ? DDB_T_NAME : DDB_T_VALUE;
    }
    else if (is_digit(c)) {
        if (c != '0') {
            while (j < n && is_digit(s[j])) {
                j++;
            }
        }
        t.t = DDB_T_INDEX;
    }
    else if (c == '"' || c == '\'') {
        /* A quoted string is one token (no rule takes it); unterminated, it runs to the end. */
        while (j < n && s[j] != c) {
            j += s[j] == '\\' && j + 1 < n ? 2 : 1;
        }
        j = j < n ? j + 1 : n;
    }
    else {
        switch (c) {
        case '=': t.t = DDB_T_EQ; break;
        case '+': t.t = DDB_T_PLUS; break;
        case '-': t.t = DDB_T_MINUS; break;
        case '(': t.t = DDB_T_LPAREN; break;
        case ')': t.t = DDB_T_RPAREN; break;
        case '[': t.t = DDB_T_LBRACK; break;
        case ']': t.t = DDB_T_RBRACK; break;
        case ',': t.t = DDB_T_COMMA; break;
        case '.': t.t = DDB_T_DOT; break;
        case '<':
            t.t = DDB_T_LT;
            if (j < n && s[j] == '=') {
                t.t = DDB_T_LE;
                j++;
            }
            else if (j < n && s[j] == '>') {
                t.t = DDB_T_NE;
                j++;
            }
            break;
        case '>':
            t.t = DDB_T_GT;
            if (j < n && s[j] == '=') {
                t.t = DDB_T_GE;
                j++;
            }
            break;
        default:
            j = i + char_len(s + i, n - i);
            break;
        }
    }
    t.len = (uint32_t)(j - i);
    return t;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t ddb_lex(struct arena *a, const char *s, size_t n, struct ddb_token **out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t cap = 0, count = 0, i = 0;
    struct ddb_token *toks;

    /* Every token takes at least one byte, so n + 1 slots always suffice. */
    cap = n + 1;
    toks = arena_alloc(a, cap * sizeof *toks);
    for (;;) {
        while (i < n && is_space(u[i])) {
            i++;
        }
        if (i >= n) {
            break;
        }
        toks[count] = lex_one(u, n, i);
        i += toks[count].len;
        count++;
    }
    toks[count].t = DDB_T_EOF;
    toks[count].off = (uint32_t)n;
    toks[count].len = 0;
    *out = toks;
    return count + 1;
}

void ddb_lex_syntax_error(const char *s, size_t n, const struct ddb_token *toks, size_t i,
                          char *out, size_t out_len)
{
    const struct ddb_token *t = &toks[i];
    size_t from = i > 0 ? toks[i - 1].off : t->off;
    size_t to;

    if (t->t == DDB_T_EOF) {
        to = n;
        snprintf(out, out_len, "Syntax error; token: \"<EOF>\", near: \"%.*s\"",
                 (int)(to - from), s + from);
        return;
    }
    to = toks[i + 1].t != DDB_T_EOF ? toks[i + 1].off + toks[i + 1].len : t->off + t->len;
    snprintf(out, out_len, "Syntax error; token: \"%.*s\", near: \"%.*s\"", (int)t->len,
             s + t->off, (int)(to - from), s + from);
}
