/*
 * expr_parse.c: the recursive-descent parser of DynamoDB's expressions and its semantic
 * checks, with DynamoDB's messages and DynamoDB's order among them.
 *
 * What it is: three grammars over one token stream (expr_lex.c), as DynamoDB's published
 * grammar (the DynamoDB Accelerator client's) has them:
 *
 *   condition  := condition OR condition | condition AND condition | NOT condition
 *               | '(' condition ')' | operand comparator operand
 *               | operand BETWEEN operand AND operand | operand IN '(' operand, ... ')'
 *               | function                     (NOT binds tighter than AND, AND than OR)
 *   operand    := path | :value | function | '(' operand ')'
 *   function   := id '(' operand, ... ')'
 *   path       := (id | #name) ('.' (id | #name) | '[' index ']')*
 *   update     := (SET action, ... | REMOVE path, ... | ADD path :value, ...
 *                  | DELETE path :value, ...)+
 *   action     := path '=' operand | path '=' operand ('+' | '-') operand
 *               | path '=' '(' arithmetic ')'
 *   projection := path, ...
 *
 * A '(' opening a condition may open an operand instead ("(a) = :v"): the parser tries the
 * operand first and goes back when no comparison follows. A syntax error names the token at
 * the furthest point any alternative reached.
 *
 * After a successful parse, one walk over the tree in source order resolves #names and
 * :values, refuses reserved words, and checks functions, operand types and paths. DynamoDB
 * reports one error per request, and which one is fixed by category, not by position (the
 * orders below are DynamoDB's as its answers show them): for conditions redundant
 * parentheses, unknown functions, misused functions, reserved words, then the first primary
 * condition with a problem (undefined name or value, operand count, repeated operand, operand
 * type); for updates reserved words, unknown functions, repeated sections, undefined names,
 * undefined values, overlapping paths, conflicting paths, ADD/DELETE operand types, function
 * operands; for projections reserved words, undefined names, overlaps, conflicts.
 *
 * What it is not: evaluation (expr_eval.c, expr_update.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/expr.h"

const char *ddb_expr_kind_name(enum ddb_expr_kind k)
{
    switch (k) {
    case DDB_EXPR_UPDATE:
        return "UpdateExpression";
    case DDB_EXPR_PROJECTION:
        return "ProjectionExpression";
    case DDB_EXPR_KEY_CONDITION:
        return "KeyConditionExpression";
    case DDB_EXPR_FILTER:
        return "FilterExpression";
    default:
        return "ConditionExpression";
    }
}

/* ---- substitutions ---- */

static bool placeholder_ok(const char *k, size_t n, char sign)
{
    if (n < 2 || k[0] != sign) {
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_')) {
            return false;
        }
    }
    return true;
}

static int ctx_fail(struct ddb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int ctx_fail(struct ddb_err *err, const char *fmt, ...)
{
    va_list ap;
    err->kind = DDB_ERR_VALIDATION;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int ddb_expr_values_types(const json_t *values, struct arena *a, struct ddb_err *err)
{
    const char *k;
    json_t *v;
    err->kind = DDB_ERR_NONE;
    if (!values || !json_is_object(values)) {
        return 0;
    }
    json_object_foreach((json_t *)values, k, v)
    {
        if (ddb_value_types(v, a, err) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The longest placeholder DynamoDB takes ("Expression parameters": 255 bytes). */
#define PLACEHOLDER_MAX 255

/* The most all substitution variables of a request may add up to ("Expression parameters":
 * 2 MB, the lengths of every ExpressionAttributeNames and ExpressionAttributeValues entry). */
#define SUBSTITUTIONS_MAX (2u * 1024 * 1024)

static int substitutions_fail(struct ddb_err *err, size_t total)
{
    return ctx_fail(err, "ExpressionAttributeNames and ExpressionAttributeValues exceed the "
                         "maximum allowed size; size: %zu, maximum: %u",
                    total, SUBSTITUTIONS_MAX);
}

static void index_ctx(struct ddb_expr_ctx *c);

int ddb_expr_ctx_init(struct ddb_expr_ctx *c, struct arena *a, const json_t *names,
                      const json_t *values, struct ddb_err *err)
{
    const char *k;
    size_t klen, i, total = 0;
    json_t *v;

    memset(c, 0, sizeof *c);
    c->a = a;
    err->kind = DDB_ERR_NONE;
    if (names && json_is_object(names)) {
        if (json_object_size(names) == 0) {
            return ctx_fail(err, "ExpressionAttributeNames must not be empty");
        }
        c->names = arena_alloc(a, json_object_size(names) * sizeof *c->names);
        i = 0;
        json_object_keylen_foreach((json_t *)names, k, klen, v)
        {
            if (!placeholder_ok(k, klen, '#')) {
                return ctx_fail(err, "ExpressionAttributeNames contains invalid key: Syntax "
                                     "error; key: \"%.300s\"",
                                k);
            }
            if (klen > PLACEHOLDER_MAX) {
                return ctx_fail(err, "ExpressionAttributeNames contains invalid key: The "
                                     "expression attribute map contains a key that is too "
                                     "long; key: %.300s",
                                k);
            }
            total += klen + json_string_length(v);
            if (total > SUBSTITUTIONS_MAX) {
                return substitutions_fail(err, total);
            }
            c->names[i].key = (struct sl_str){ k, klen };
            c->names[i].value = (struct sl_str){ json_string_value(v) ? json_string_value(v)
                                                                      : "",
                                                 json_string_length(v) };
            c->names[i].used = false;
            i++;
        }
        c->n_names = i;
    }
    if (values && json_is_object(values)) {
        if (json_object_size(values) == 0) {
            return ctx_fail(err, "ExpressionAttributeValues must not be empty");
        }
        json_object_keylen_foreach((json_t *)values, k, klen, v)
        {
            if (!placeholder_ok(k, klen, ':')) {
                return ctx_fail(err, "ExpressionAttributeValues contains invalid key: Syntax "
                                     "error; key: \"%.300s\"",
                                k);
            }
            if (klen > PLACEHOLDER_MAX) {
                return ctx_fail(err, "ExpressionAttributeValues contains invalid key: The "
                                     "expression attribute map contains a key that is too "
                                     "long; key: %.300s",
                                k);
            }
        }
        c->values = arena_alloc(a, json_object_size(values) * sizeof *c->values);
        i = 0;
        json_object_keylen_foreach((json_t *)values, k, klen, v)
        {
            struct buf b;
            struct ddb_err verr;
            size_t size = 0;
            char *bytes;
            size_t blen;
            buf_init(&b, DDB_ITEM_ENC_MAX);
            if (ddb_value_encode(v, a, &b, &size, &verr) < 0) {
                buf_release(&b);
                if (verr.kind == DDB_ERR_SERIALIZATION) {
                    *err = verr;
                    return -1;
                }
                return ctx_fail(err, "ExpressionAttributeValues contains invalid value: %s for "
                                     "key %.300s",
                                verr.msg, k);
            }
            total += klen + size;
            if (total > SUBSTITUTIONS_MAX) {
                buf_release(&b);
                return substitutions_fail(err, total);
            }
            bytes = arena_alloc(a, b.len ? b.len : 1);
            memcpy(bytes, b.p, b.len);
            blen = b.len;
            buf_release(&b);
            c->values[i].key = (struct sl_str){ k, klen };
            if (!ddb_rd_value((const unsigned char *)bytes, (const unsigned char *)bytes + blen,
                              &c->values[i].v.type, &c->values[i].v.p, &c->values[i].v.len)) {
                return ctx_fail(err, "ExpressionAttributeValues contains invalid value");
            }
            c->values[i].used = false;
            i++;
        }
        c->n_values = i;
    }
    index_ctx(c);
    return 0;
}

static int key_cmp(struct sl_str a, struct sl_str b)
{
    size_t m = a.len < b.len ? a.len : b.len;
    int c = m ? memcmp(a.p, b.p, m) : 0;
    if (c) {
        return c;
    }
    return a.len < b.len ? -1 : a.len > b.len;
}

static int name_ptr_cmp(const void *a, const void *b)
{
    return key_cmp((*(struct ddb_expr_name *const *)a)->key,
                   (*(struct ddb_expr_name *const *)b)->key);
}

static int value_ptr_cmp(const void *a, const void *b)
{
    return key_cmp((*(struct ddb_expr_value *const *)a)->key,
                   (*(struct ddb_expr_value *const *)b)->key);
}

/* Builds the sorted indexes the lookups search: a request may carry many placeholders, and
 * an expression up to 4 KB of references to them. The arrays keep the request's order for
 * the unused-keys message. */
static void index_ctx(struct ddb_expr_ctx *c)
{
    c->names_by_key = arena_alloc(c->a, (c->n_names + 1) * sizeof *c->names_by_key);
    for (size_t i = 0; i < c->n_names; i++) {
        c->names_by_key[i] = &c->names[i];
    }
    qsort(c->names_by_key, c->n_names, sizeof *c->names_by_key, name_ptr_cmp);
    c->values_by_key = arena_alloc(c->a, (c->n_values + 1) * sizeof *c->values_by_key);
    for (size_t i = 0; i < c->n_values; i++) {
        c->values_by_key[i] = &c->values[i];
    }
    qsort(c->values_by_key, c->n_values, sizeof *c->values_by_key, value_ptr_cmp);
}

static struct ddb_expr_name *find_name(struct ddb_expr_ctx *c, struct sl_str key)
{
    size_t lo = 0, hi = c->n_names;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = key_cmp(c->names_by_key[mid]->key, key);
        if (r == 0) {
            return c->names_by_key[mid];
        }
        if (r < 0) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return NULL;
}

static struct ddb_expr_value *find_value(struct ddb_expr_ctx *c, struct sl_str key)
{
    size_t lo = 0, hi = c->n_values;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = key_cmp(c->values_by_key[mid]->key, key);
        if (r == 0) {
            return c->values_by_key[mid];
        }
        if (r < 0) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    return NULL;
}

int ddb_expr_ctx_check_unused(struct ddb_expr_ctx *c)
{
    for (int pass = 0; pass < 2; pass++) {
        size_t o = 0, count = 0;
        char list[1024];
        size_t n = pass == 0 ? c->n_names : c->n_values;
        list[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            bool used = pass == 0 ? c->names[i].used : c->values[i].used;
            struct sl_str k = pass == 0 ? c->names[i].key : c->values[i].key;
            int w;
            if (used) {
                continue;
            }
            w = snprintf(list + o, sizeof list - o, "%s%.*s", count ? ", " : "", (int)k.len,
                         k.p);
            count++;
            if (w > 0) {
                o += (size_t)w < sizeof list - o ? (size_t)w : sizeof list - o - 1;
            }
        }
        if (count) {
            snprintf(c->err, sizeof c->err,
                     "Value provided in %s unused in expressions: keys: {%s}",
                     pass == 0 ? "ExpressionAttributeNames" : "ExpressionAttributeValues", list);
            return -1;
        }
    }
    return 0;
}

/* ---- paths ---- */

static bool elem_eq(const struct ddb_path_elem *a, const struct ddb_path_elem *b)
{
    if (a->is_index != b->is_index) {
        return false;
    }
    return a->is_index ? a->index == b->index : sl_str_eq(a->name, b->name);
}

const char *ddb_path_text(struct arena *a, const struct ddb_path *p)
{
    struct buf b;
    char *out;
    buf_init(&b, 64 * 1024);
    buf_append(&b, "[", 1);
    for (size_t i = 0; i < p->n; i++) {
        if (i) {
            buf_append(&b, ", ", 2);
        }
        if (p->e[i].is_index) {
            buf_printf(&b, "[%u]", p->e[i].index);
        }
        else {
            buf_append(&b, p->e[i].name.p, p->e[i].name.len);
        }
    }
    buf_append(&b, "]", 1);
    out = arena_strndup(a, b.p ? b.p : "", b.len);
    buf_release(&b);
    return out;
}

int ddb_paths_check(struct arena *a, const struct ddb_path *const *paths, size_t n, char *msg,
                    size_t msg_len)
{
    const struct ddb_path *c1 = NULL, *c2 = NULL;
    for (size_t j = 1; j < n; j++) {
        for (size_t i = 0; i < j; i++) {
            const struct ddb_path *x = paths[i], *y = paths[j];
            size_t m = x->n < y->n ? x->n : y->n, k;
            bool differ = false;
            for (k = 0; k < m; k++) {
                if (x->e[k].is_index != y->e[k].is_index) {
                    /* A name and an index at the same place: the paths conflict. */
                    c1 = x;
                    c2 = y;
                    differ = true;
                    break;
                }
                if (!elem_eq(&x->e[k], &y->e[k])) {
                    differ = true;
                    break;
                }
            }
            if (!differ) {
                snprintf(msg, msg_len,
                         "Two document paths overlap with each other; must remove or rewrite "
                         "one of these paths; path one: %s, path two: %s",
                         ddb_path_text(a, x), ddb_path_text(a, y));
                return -1;
            }
        }
    }
    if (c1) {
        snprintf(msg, msg_len,
                 "Two document paths conflict with each other; must remove or rewrite one of "
                 "these paths; path one: %s, path two: %s",
                 ddb_path_text(a, c1), ddb_path_text(a, c2));
        return -1;
    }
    return 0;
}

/* ---- the parser ---- */

struct parser {
    struct ddb_expr_ctx *c;
    enum ddb_expr_kind kind;
    const char *s;
    size_t n;
    struct ddb_token *t;
    size_t nt;
    size_t i;               /* the current token */
    size_t fail_at;         /* the furthest token a rule failed at */
    int depth;
    const char *limit;      /* a limit error met while parsing (stops it) */
    long redundant;         /* token of the first redundant parentheses, or -1 */
    bool sections[4];       /* update: SET, REMOVE, ADD, DELETE seen */
    const char *section_err;
};

static enum ddb_tok tok(const struct parser *p)
{
    return p->t[p->i].t;
}

static enum ddb_tok tok_at(const struct parser *p, size_t k)
{
    return p->i + k < p->nt ? p->t[p->i + k].t : DDB_T_EOF;
}

static struct sl_str tok_text(const struct parser *p, size_t i)
{
    return (struct sl_str){ p->s + p->t[i].off, p->t[i].len };
}

static void note_fail(struct parser *p)
{
    if (p->i > p->fail_at) {
        p->fail_at = p->i;
    }
}

static bool accept(struct parser *p, enum ddb_tok t)
{
    if (tok(p) == t) {
        p->i++;
        return true;
    }
    note_fail(p);
    return false;
}

static bool enter(struct parser *p)
{
    if (p->limit) {
        return false;
    }
    if (++p->depth > DDB_EXPR_MAX_NEST) {
        p->limit = tok(p) == DDB_T_LPAREN ? "The expression has redundant parentheses;"
                                          : "The expression contains too many operators; "
                                            "operator count: 301";
        return false;
    }
    return true;
}

static void leave(struct parser *p)
{
    p->depth--;
}

static struct ddb_node *node_new(struct parser *p, enum ddb_node_kind kind, size_t tok_i)
{
    struct ddb_node *x = arena_new(p->c->a, struct ddb_node);
    x->kind = kind;
    x->at = p->t[tok_i].off;
    return x;
}

/* A growable array of node pointers in the arena. */
struct nodes {
    struct ddb_node **v;
    size_t n, cap;
};

static void nodes_push(struct parser *p, struct nodes *ns, struct ddb_node *x)
{
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 4;
        struct ddb_node **v = arena_alloc(p->c->a, cap * sizeof *v);
        if (ns->n) {
            memcpy(v, ns->v, ns->n * sizeof *v);
        }
        ns->v = v;
        ns->cap = cap;
    }
    ns->v[ns->n++] = x;
}

static int parse_path(struct parser *p, struct ddb_path *out)
{
    size_t cap = 4;
    struct ddb_path_elem *e;

    if (tok(p) != DDB_T_ID && tok(p) != DDB_T_NAME) {
        note_fail(p);
        return -1;
    }
    e = arena_alloc(p->c->a, cap * sizeof *e);
    out->n = 0;
    for (;;) {
        struct ddb_path_elem x = { 0 };
        if (out->n == 0 || tok(p) == DDB_T_DOT) {
            if (out->n > 0) {
                p->i++;
                if (tok(p) != DDB_T_ID && tok(p) != DDB_T_NAME) {
                    note_fail(p);
                    return -1;
                }
            }
            x.name = tok_text(p, p->i);
            p->i++;
        }
        else if (tok(p) == DDB_T_LBRACK) {
            uint64_t v = 0;
            struct sl_str d;
            p->i++;
            if (tok(p) != DDB_T_INDEX) {
                note_fail(p);
                return -1;
            }
            d = tok_text(p, p->i);
            for (size_t k = 0; k < d.len; k++) {
                v = v * 10 + (uint64_t)(d.p[k] - '0');
                if (v > UINT32_MAX) {
                    v = UINT32_MAX;     /* past any list: it appends or finds nothing */
                }
            }
            p->i++;
            if (!accept(p, DDB_T_RBRACK)) {
                return -1;
            }
            x.is_index = true;
            x.index = (uint32_t)v;
        }
        else {
            break;
        }
        if (out->n == cap) {
            struct ddb_path_elem *ne = arena_alloc(p->c->a, 2 * cap * sizeof *ne);
            memcpy(ne, e, cap * sizeof *e);
            e = ne;
            cap *= 2;
        }
        e[out->n++] = x;
    }
    out->e = e;
    if (out->n > DDB_EXPR_MAX_PATH && !p->limit) {
        p->limit = arena_printf(p->c->a, "The document path has too many nesting levels; "
                                         "nesting levels: %zu",
                                out->n);
        return -1;
    }
    return 0;
}

static struct ddb_node *parse_operand(struct parser *p, bool *parens);

/* id '(' operand, ... ')' at an ID followed by '('. */
static struct ddb_node *parse_func(struct parser *p)
{
    struct ddb_node *f = node_new(p, DDB_N_FUNC, p->i);
    struct nodes args = { 0 };

    f->text = tok_text(p, p->i);
    p->i += 2;
    do {
        struct ddb_node *a = parse_operand(p, NULL);
        if (!a) {
            return NULL;
        }
        nodes_push(p, &args, a);
    } while (tok(p) == DDB_T_COMMA && (p->i++, true));
    if (!accept(p, DDB_T_RPAREN)) {
        return NULL;
    }
    f->args = args.v;
    f->nargs = args.n;
    return f;
}

/* operand := path | :value | function | '(' operand ')'. *parens: it was parenthesised. */
static struct ddb_node *parse_operand(struct parser *p, bool *parens)
{
    struct ddb_node *x = NULL;
    bool inner = false;

    if (parens) {
        *parens = false;
    }
    if (!enter(p)) {
        return NULL;
    }
    switch (tok(p)) {
    case DDB_T_VALUE:
        x = node_new(p, DDB_N_VALUE, p->i);
        x->text = tok_text(p, p->i);
        p->i++;
        break;
    case DDB_T_ID:
        if (tok_at(p, 1) == DDB_T_LPAREN) {
            x = parse_func(p);
            break;
        }
        /* fall through */
    case DDB_T_NAME:
        x = node_new(p, DDB_N_PATH, p->i);
        if (parse_path(p, &x->path) < 0) {
            x = NULL;
        }
        break;
    case DDB_T_LPAREN: {
        size_t at = p->i;
        p->i++;
        x = parse_operand(p, &inner);
        if (x && !accept(p, DDB_T_RPAREN)) {
            x = NULL;
        }
        if (x && inner && p->redundant < 0) {
            p->redundant = (long)at;
        }
        if (x && parens) {
            *parens = true;
        }
        break;
    }
    default:
        note_fail(p);
        break;
    }
    leave(p);
    return x;
}

static bool cmp_start(enum ddb_tok t)
{
    return (t >= DDB_T_EQ && t <= DDB_T_GE) || t == DDB_T_BETWEEN || t == DDB_T_IN;
}

/* After a left operand: comparator operand | BETWEEN operand AND operand | IN (...). */
static struct ddb_node *parse_comparison(struct parser *p, struct ddb_node *left)
{
    struct ddb_node *x;
    enum ddb_tok t = tok(p);
    size_t at = p->i;

    if (t >= DDB_T_EQ && t <= DDB_T_GE) {
        static const int ops[] = { DDB_CMP_EQ, DDB_CMP_NE, DDB_CMP_LT,
                                   DDB_CMP_LE, DDB_CMP_GT, DDB_CMP_GE };
        x = node_new(p, DDB_N_CMP, at);
        x->op = ops[t - DDB_T_EQ];
        x->text = tok_text(p, at);
        p->i++;
        x->args = arena_alloc(p->c->a, 2 * sizeof *x->args);
        x->nargs = 2;
        x->args[0] = left;
        x->args[1] = parse_operand(p, NULL);
        return x->args[1] ? x : NULL;
    }
    if (t == DDB_T_BETWEEN) {
        x = node_new(p, DDB_N_BETWEEN, at);
        p->i++;
        x->args = arena_alloc(p->c->a, 3 * sizeof *x->args);
        x->nargs = 3;
        x->args[0] = left;
        if (!(x->args[1] = parse_operand(p, NULL)) || !accept(p, DDB_T_AND) ||
            !(x->args[2] = parse_operand(p, NULL))) {
            return NULL;
        }
        return x;
    }
    if (t == DDB_T_IN) {
        struct nodes args = { 0 };
        x = node_new(p, DDB_N_IN, at);
        p->i++;
        nodes_push(p, &args, left);
        if (!accept(p, DDB_T_LPAREN)) {
            return NULL;
        }
        do {
            struct ddb_node *a = parse_operand(p, NULL);
            if (!a) {
                return NULL;
            }
            nodes_push(p, &args, a);
        } while (tok(p) == DDB_T_COMMA && (p->i++, true));
        if (!accept(p, DDB_T_RPAREN)) {
            return NULL;
        }
        x->args = args.v;
        x->nargs = args.n;
        return x;
    }
    note_fail(p);
    return NULL;
}

static struct ddb_node *parse_or(struct parser *p, bool *parens);

static struct ddb_node *parse_primary(struct parser *p, bool *parens)
{
    struct ddb_node *x = NULL;

    *parens = false;
    if (tok(p) == DDB_T_LPAREN) {
        size_t save = p->i;
        long red = p->redundant;
        bool inner;
        x = parse_operand(p, NULL);
        if (x && cmp_start(tok(p))) {
            return parse_comparison(p, x);
        }
        if (x) {
            note_fail(p);
        }
        if (p->limit) {
            return NULL;
        }
        p->i = save + 1;
        p->redundant = red;
        x = parse_or(p, &inner);
        if (!x || !accept(p, DDB_T_RPAREN)) {
            return NULL;
        }
        if (inner && p->redundant < 0) {
            p->redundant = (long)save;
        }
        *parens = true;
        return x;
    }
    if (tok(p) == DDB_T_ID && tok_at(p, 1) == DDB_T_LPAREN) {
        x = parse_func(p);
        if (x && cmp_start(tok(p))) {
            return parse_comparison(p, x);
        }
        return x;
    }
    x = parse_operand(p, NULL);
    return x ? parse_comparison(p, x) : NULL;
}

static struct ddb_node *binary(struct parser *p, enum ddb_node_kind kind, size_t at,
                               struct ddb_node *l, struct ddb_node *r)
{
    struct ddb_node *x = node_new(p, kind, at);
    x->args = arena_alloc(p->c->a, 2 * sizeof *x->args);
    x->nargs = 2;
    x->args[0] = l;
    x->args[1] = r;
    return x;
}

static struct ddb_node *parse_not(struct parser *p, bool *parens)
{
    struct ddb_node *x;
    if (!enter(p)) {
        return NULL;
    }
    if (tok(p) == DDB_T_NOT) {
        size_t at = p->i;
        bool inner;
        p->i++;
        x = parse_not(p, &inner);
        if (x) {
            struct ddb_node *n = node_new(p, DDB_N_NOT, at);
            n->args = arena_alloc(p->c->a, sizeof *n->args);
            n->args[0] = x;
            n->nargs = 1;
            x = n;
        }
        *parens = false;
    }
    else {
        x = parse_primary(p, parens);
    }
    leave(p);
    return x;
}

static struct ddb_node *parse_and(struct parser *p, bool *parens)
{
    struct ddb_node *x = parse_not(p, parens);
    while (x && tok(p) == DDB_T_AND) {
        size_t at = p->i;
        bool inner;
        struct ddb_node *r;
        p->i++;
        r = parse_not(p, &inner);
        x = r ? binary(p, DDB_N_AND, at, x, r) : NULL;
        *parens = false;
    }
    return x;
}

static struct ddb_node *parse_or(struct parser *p, bool *parens)
{
    struct ddb_node *x = parse_and(p, parens);
    while (x && tok(p) == DDB_T_OR) {
        size_t at = p->i;
        bool inner;
        struct ddb_node *r;
        p->i++;
        r = parse_and(p, &inner);
        x = r ? binary(p, DDB_N_OR, at, x, r) : NULL;
        *parens = false;
    }
    return x;
}

/* arithmetic := operand ('+' | '-') operand | '(' arithmetic ')'. */
static struct ddb_node *parse_arith(struct parser *p, bool *parens)
{
    struct ddb_node *l, *r;
    size_t at;
    enum ddb_tok op;

    *parens = false;
    if (!enter(p)) {
        return NULL;
    }
    if (tok(p) == DDB_T_LPAREN) {
        size_t save = p->i;
        long red = p->redundant;
        l = parse_operand(p, NULL);
        if (!(l && (tok(p) == DDB_T_PLUS || tok(p) == DDB_T_MINUS))) {
            bool inner;
            if (l) {
                note_fail(p);
            }
            p->i = save + 1;
            p->redundant = red;
            l = p->limit ? NULL : parse_arith(p, &inner);
            if (l && !accept(p, DDB_T_RPAREN)) {
                l = NULL;
            }
            if (l && inner && p->redundant < 0) {
                p->redundant = (long)save;
            }
            *parens = l != NULL;
            leave(p);
            return l;
        }
    }
    else {
        l = parse_operand(p, NULL);
    }
    if (!l) {
        leave(p);
        return NULL;
    }
    op = tok(p);
    at = p->i;
    if (op != DDB_T_PLUS && op != DDB_T_MINUS) {
        note_fail(p);
        leave(p);
        return NULL;
    }
    p->i++;
    r = parse_operand(p, NULL);
    leave(p);
    return r ? binary(p, op == DDB_T_PLUS ? DDB_N_PLUS : DDB_N_MINUS, at, l, r) : NULL;
}

/* The right-hand side of a SET action. */
static struct ddb_node *parse_set_value(struct parser *p)
{
    size_t save = p->i;
    long red = p->redundant;
    bool parens;
    struct ddb_node *l = parse_operand(p, NULL);

    if (l && tok(p) != DDB_T_PLUS && tok(p) != DDB_T_MINUS) {
        return l;
    }
    if (p->limit) {
        return NULL;
    }
    p->i = save;
    p->redundant = red;
    return parse_arith(p, &parens);
}

static void update_push(struct parser *p, struct ddb_update *u, size_t *cap,
                        const struct ddb_action *a)
{
    if (u->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        struct ddb_action *v = arena_alloc(p->c->a, nc * sizeof *v);
        if (u->n) {
            memcpy(v, u->a, u->n * sizeof *v);
        }
        u->a = v;
        *cap = nc;
    }
    u->a[u->n++] = *a;
}

static int parse_update_sections(struct parser *p, struct ddb_update *u)
{
    static const char *const names[] = { "SET", "REMOVE", "ADD", "DELETE" };
    size_t cap = 0;

    if (tok(p) != DDB_T_SET && tok(p) != DDB_T_REMOVE && tok(p) != DDB_T_ADD &&
        tok(p) != DDB_T_DELETE) {
        note_fail(p);
        return -1;
    }
    while (tok(p) == DDB_T_SET || tok(p) == DDB_T_REMOVE || tok(p) == DDB_T_ADD ||
           tok(p) == DDB_T_DELETE) {
        enum ddb_tok sec = tok(p);
        int si = sec == DDB_T_SET ? 0 : sec == DDB_T_REMOVE ? 1 : sec == DDB_T_ADD ? 2 : 3;
        if (p->sections[si] && !p->section_err) {
            p->section_err = arena_printf(p->c->a, "The \"%s\" section can only be used once "
                                                   "in an update expression;",
                                          names[si]);
        }
        p->sections[si] = true;
        p->i++;
        do {
            struct ddb_action a = { 0 };
            a.kind = si == 0 ? DDB_ACT_SET : si == 1 ? DDB_ACT_REMOVE
                             : si == 2 ? DDB_ACT_ADD : DDB_ACT_DELETE;
            if (parse_path(p, &a.path) < 0) {
                return -1;
            }
            if (a.kind == DDB_ACT_SET) {
                if (!accept(p, DDB_T_EQ) || !(a.value = parse_set_value(p))) {
                    return -1;
                }
            }
            else if (a.kind != DDB_ACT_REMOVE) {
                if (tok(p) != DDB_T_VALUE) {
                    note_fail(p);
                    return -1;
                }
                a.value = node_new(p, DDB_N_VALUE, p->i);
                a.value->text = tok_text(p, p->i);
                p->i++;
            }
            update_push(p, u, &cap, &a);
        } while (tok(p) == DDB_T_COMMA && (p->i++, true));
    }
    return 0;
}

/* ---- semantic checks ---- */

enum sem_cat {
    SEM_PARENS,
    SEM_UNKNOWN_FUNC,
    SEM_MISUSED,
    SEM_RESERVED,
    SEM_SECTION,
    SEM_NAME,
    SEM_VALUE,
    SEM_NAMEVAL,        /* the first of SEM_NAME and SEM_VALUE */
    SEM_OVERLAP,        /* overlap or conflict, set by ddb_paths_check() */
    SEM_OPERAND,
    SEM_FUNCTION,
    SEM_COUNT,
    SEM_DISTINCT,
    SEM_COND,           /* conditions: the first primary condition's error */
    SEM__N,
};

struct sem {
    struct parser *p;
    const char *err[SEM__N];
    int ops;
    size_t max_in;
};

static void sem_set(struct sem *m, enum sem_cat c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void sem_set(struct sem *m, enum sem_cat c, const char *fmt, ...)
{
    va_list ap;
    char buf[1024];
    if (m->err[c]) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    m->err[c] = arena_strdup(m->p->c->a, buf);
    if ((c == SEM_NAME || c == SEM_VALUE) && !m->err[SEM_NAMEVAL]) {
        m->err[SEM_NAMEVAL] = m->err[c];
    }
}

static void sem_path(struct sem *m, struct ddb_path *path)
{
    for (size_t i = 0; i < path->n; i++) {
        struct ddb_path_elem *e = &path->e[i];
        if (e->is_index) {
            continue;
        }
        if (e->name.len && e->name.p[0] == '#') {
            struct ddb_expr_name *nm = find_name(m->p->c, e->name);
            if (!nm) {
                sem_set(m, SEM_NAME, "An expression attribute name used in the document path "
                                     "is not defined; attribute name: %.*s",
                        (int)e->name.len, e->name.p);
                continue;
            }
            nm->used = true;
            e->name = nm->value;
        }
        else if (ddb_reserved(e->name.p, e->name.len)) {
            sem_set(m, SEM_RESERVED, "Attribute name is a reserved keyword; reserved keyword: "
                                     "%.*s",
                    (int)e->name.len, e->name.p);
        }
    }
}

static void sem_value(struct sem *m, struct ddb_node *x)
{
    struct ddb_expr_value *v = find_value(m->p->c, x->text);
    if (!v) {
        sem_set(m, SEM_VALUE, "An expression attribute value used in expression is not "
                              "defined; attribute value: %.*s",
                (int)x->text.len, x->text.p);
        return;
    }
    v->used = true;
    x->val = v->v;
}

static enum ddb_func func_of(struct sl_str name)
{
    static const struct {
        const char *n;
        enum ddb_func f;
    } fs[] = {
        { "attribute_exists", DDB_F_ATTRIBUTE_EXISTS },
        { "attribute_not_exists", DDB_F_ATTRIBUTE_NOT_EXISTS },
        { "attribute_type", DDB_F_ATTRIBUTE_TYPE },
        { "begins_with", DDB_F_BEGINS_WITH },
        { "contains", DDB_F_CONTAINS },
        { "size", DDB_F_SIZE },
        { "if_not_exists", DDB_F_IF_NOT_EXISTS },
        { "list_append", DDB_F_LIST_APPEND },
    };
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        if (sl_str_eq_c(name, fs[i].n)) {
            return fs[i].f;
        }
    }
    return DDB_F_UNKNOWN;
}

static bool is_update_func(enum ddb_func f)
{
    return f == DDB_F_IF_NOT_EXISTS || f == DDB_F_LIST_APPEND;
}

/* The type a constant operand has, or 0 when it is not known before evaluation. */
static int static_type(const struct ddb_node *x)
{
    if (x->kind == DDB_N_VALUE) {
        return x->val.type;
    }
    if (x->kind == DDB_N_FUNC && x->op == DDB_F_SIZE) {
        return DDB_N;
    }
    return 0;
}

static bool paths_equal(const struct ddb_node *a, const struct ddb_node *b)
{
    if (a->kind != DDB_N_PATH || b->kind != DDB_N_PATH || a->path.n != b->path.n) {
        return false;
    }
    for (size_t i = 0; i < a->path.n; i++) {
        if (!elem_eq(&a->path.e[i], &b->path.e[i])) {
            return false;
        }
    }
    return true;
}

static void sem_distinct(struct sem *m, const char *op, size_t oplen, struct ddb_node *a,
                         struct ddb_node *b)
{
    if (paths_equal(a, b)) {
        sem_set(m, SEM_DISTINCT, "The first operand must be distinct from the remaining "
                                 "operands for this operator or function; operator: %.*s, "
                                 "first operand: %s",
                (int)oplen, op, ddb_path_text(m->p->c->a, &a->path));
    }
}

static void sem_operand(struct sem *m, struct ddb_node *x);

/* A function in a condition. */
static void sem_cond_func(struct sem *m, struct ddb_node *f)
{
    static const unsigned char arity[] = { 0, 1, 1, 2, 2, 2, 1, 2, 2, 2 };
    enum ddb_func fn = func_of(f->text);
    int fl = (int)f->text.len;

    m->ops++;
    f->op = fn;
    for (size_t i = 0; i < f->nargs; i++) {
        sem_operand(m, f->args[i]);
        if (f->args[i]->kind == DDB_N_FUNC && func_of(f->args[i]->text) != DDB_F_SIZE &&
            func_of(f->args[i]->text) != DDB_F_UNKNOWN) {
            sem_set(m, SEM_MISUSED, "The function is not allowed to be used this way in an "
                                    "expression; function: %.*s",
                    (int)f->args[i]->text.len, f->args[i]->text.p);
        }
    }
    if (fn == DDB_F_UNKNOWN) {
        sem_set(m, SEM_UNKNOWN_FUNC, "Invalid function name; function: %.*s", fl, f->text.p);
        return;
    }
    if (is_update_func(fn)) {
        sem_set(m, SEM_UNKNOWN_FUNC, "The function is not allowed in a condition expression; "
                                     "function: %.*s",
                fl, f->text.p);
        return;
    }
    if (f->nargs != arity[fn]) {
        sem_set(m, SEM_COUNT, "Incorrect number of operands for operator or function; "
                              "operator or function: %.*s, number of operands: %zu",
                fl, f->text.p, f->nargs);
        return;
    }
    if (f->nargs == 2) {
        sem_distinct(m, f->text.p, f->text.len, f->args[0], f->args[1]);
    }
    switch (fn) {
    case DDB_F_ATTRIBUTE_EXISTS:
    case DDB_F_ATTRIBUTE_NOT_EXISTS:
        if (f->args[0]->kind != DDB_N_PATH) {
            sem_set(m, SEM_FUNCTION, "Operator or function requires a document path; operator "
                                     "or function: %.*s",
                    fl, f->text.p);
        }
        break;
    case DDB_F_BEGINS_WITH:
        for (size_t i = 0; i < 2; i++) {
            int t = static_type(f->args[i]);
            if (t && t != DDB_S && t != DDB_B) {
                sem_set(m, SEM_FUNCTION, "Incorrect operand type for operator or function; "
                                         "operator or function: %.*s, operand type: %s",
                        fl, f->text.p, ddb_type_name(t));
                break;
            }
        }
        break;
    case DDB_F_ATTRIBUTE_TYPE: {
        int t = static_type(f->args[1]);
        if (t != DDB_S) {
            sem_set(m, SEM_FUNCTION, "Incorrect operand type for operator or function; "
                                     "operator or function: %.*s, operand type: %s",
                    fl, f->text.p, t ? ddb_type_name(t) : "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}");
            break;
        }
        {
            static const char *const types[] = { "S", "N", "B", "NULL", "SS", "BOOL",
                                                 "L", "BS", "NS", "M" };
            struct sl_str v = { (const char *)f->args[1]->val.p, f->args[1]->val.len };
            bool ok = false;
            for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
                ok = ok || sl_str_eq_c(v, types[i]);
            }
            if (!ok) {
                sem_set(m, SEM_FUNCTION, "Invalid attribute type name found; type: %.*s, valid "
                                         "types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
                        (int)(v.len > 300 ? 300 : v.len), v.p);
            }
        }
        break;
    }
    case DDB_F_SIZE: {
        int t = static_type(f->args[0]);
        if (t == DDB_N || t == DDB_BOOL || t == DDB_NULL) {
            sem_set(m, SEM_FUNCTION, "Incorrect operand type for operator or function; "
                                     "operator or function: %.*s, operand type: %s",
                    fl, f->text.p, ddb_type_name(t));
        }
        break;
    }
    default:
        break;
    }
}

static void sem_operand(struct sem *m, struct ddb_node *x)
{
    switch (x->kind) {
    case DDB_N_PATH:
        sem_path(m, &x->path);
        break;
    case DDB_N_VALUE:
        sem_value(m, x);
        break;
    case DDB_N_FUNC:
        sem_cond_func(m, x);
        break;
    default:
        break;
    }
}

/* Ends a primary condition: the first one with a problem names the condition error. */
static void sem_end_primary(struct sem *m)
{
    static const enum sem_cat order[] = { SEM_NAMEVAL, SEM_COUNT, SEM_DISTINCT, SEM_FUNCTION };
    if (m->err[SEM_COND]) {
        return;
    }
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (m->err[order[i]]) {
            m->err[SEM_COND] = m->err[order[i]];
            return;
        }
    }
}

static void sem_misused(struct sem *m, struct ddb_node *x)
{
    if (x->kind == DDB_N_FUNC && func_of(x->text) != DDB_F_SIZE &&
        func_of(x->text) != DDB_F_UNKNOWN) {
        sem_set(m, SEM_MISUSED, "The function is not allowed to be used this way in an "
                                "expression; function: %.*s",
                (int)x->text.len, x->text.p);
    }
}

/* "{N:5}", as DynamoDB shows a value in BETWEEN's messages. */
static const char *value_text(struct arena *a, const struct ddb_val *v)
{
    if (v->type == DDB_S || v->type == DDB_N) {
        return arena_printf(a, "{%s:%.*s}", ddb_type_name(v->type),
                            (int)(v->len > 300 ? 300 : v->len), (const char *)v->p);
    }
    return arena_printf(a, "{%s}", ddb_type_name(v->type));
}

static void sem_condition(struct sem *m, struct ddb_node *x)
{
    switch (x->kind) {
    case DDB_N_AND:
    case DDB_N_OR:
    case DDB_N_NOT:
        m->ops++;
        for (size_t i = 0; i < x->nargs; i++) {
            if (x->args[i]->kind == DDB_N_FUNC && func_of(x->args[i]->text) == DDB_F_SIZE) {
                sem_set(m, SEM_MISUSED, "The function is not allowed to be used this way in an "
                                        "expression; function: size");
            }
            sem_condition(m, x->args[i]);
        }
        return;
    case DDB_N_FUNC:
        if (func_of(x->text) == DDB_F_SIZE) {
            sem_set(m, SEM_MISUSED, "The function is not allowed to be used this way in an "
                                    "expression; function: size");
        }
        sem_cond_func(m, x);
        sem_end_primary(m);
        return;
    case DDB_N_CMP:
    case DDB_N_BETWEEN:
    case DDB_N_IN:
        m->ops++;
        for (size_t i = 0; i < x->nargs; i++) {
            sem_operand(m, x->args[i]);
            sem_misused(m, x->args[i]);
        }
        if (x->kind == DDB_N_CMP) {
            sem_distinct(m, x->text.p, x->text.len, x->args[0], x->args[1]);
        }
        if (x->kind == DDB_N_IN && x->nargs - 1 > m->max_in) {
            m->max_in = x->nargs - 1;
        }
        if (x->kind == DDB_N_BETWEEN && x->args[1]->kind == DDB_N_VALUE &&
            x->args[2]->kind == DDB_N_VALUE && x->args[1]->val.type && x->args[2]->val.type) {
            const struct ddb_val *lo = &x->args[1]->val, *hi = &x->args[2]->val;
            int c;
            if (lo->type != hi->type) {
                sem_set(m, SEM_FUNCTION, "The BETWEEN operator requires same data type for lower "
                                         "and upper bounds; lower bound operand: AttributeValue: "
                                         "%s, upper bound operand: AttributeValue: %s",
                        value_text(m->p->c->a, lo), value_text(m->p->c->a, hi));
            }
            else if (ddb_val_cmp(lo, hi, &c) == 0 && c > 0) {
                sem_set(m, SEM_FUNCTION, "The BETWEEN operator requires upper bound to be "
                                         "greater than or equal to lower bound; lower bound "
                                         "operand: AttributeValue: %s, upper bound operand: "
                                         "AttributeValue: %s",
                        value_text(m->p->c->a, lo), value_text(m->p->c->a, hi));
            }
        }
        sem_end_primary(m);
        return;
    default:
        return;
    }
}

static const char *type_word(int t)
{
    switch (t) {
    case DDB_S:
        return "STRING";
    case DDB_N:
        return "NUMBER";
    case DDB_B:
        return "BINARY";
    case DDB_NULL:
        return "NULL";
    case DDB_BOOL:
        return "BOOLEAN";
    case DDB_L:
        return "LIST";
    case DDB_M:
        return "MAP";
    default:
        return NULL;
    }
}

/* The type an update operand certainly has: constants, and what functions return. */
static int update_type(const struct ddb_node *x)
{
    if (x->kind == DDB_N_VALUE) {
        return x->val.type;
    }
    if (x->kind == DDB_N_FUNC && x->op == DDB_F_LIST_APPEND) {
        return DDB_L;
    }
    return 0;
}

static void sem_update_value(struct sem *m, struct ddb_node *x, bool nested)
{
    switch (x->kind) {
    case DDB_N_PATH:
        sem_path(m, &x->path);
        return;
    case DDB_N_VALUE:
        sem_value(m, x);
        return;
    case DDB_N_PLUS:
    case DDB_N_MINUS:
        m->ops++;
        sem_update_value(m, x->args[0], true);
        sem_update_value(m, x->args[1], true);
        for (size_t i = 0; i < 2; i++) {
            int t = update_type(x->args[i]);
            if (t && t != DDB_N) {
                sem_set(m, SEM_FUNCTION, "Incorrect operand type for operator or function; "
                                         "operator or function: %s, operand type: %s",
                        x->kind == DDB_N_PLUS ? "+" : "-", ddb_type_name(t));
                break;
            }
        }
        return;
    case DDB_N_FUNC: {
        enum ddb_func fn = func_of(x->text);
        int fl = (int)x->text.len;
        m->ops++;
        x->op = fn;
        for (size_t i = 0; i < x->nargs; i++) {
            sem_update_value(m, x->args[i], true);
        }
        if (fn == DDB_F_UNKNOWN) {
            sem_set(m, SEM_UNKNOWN_FUNC, "Invalid function name; function: %.*s", fl,
                    x->text.p);
            return;
        }
        if (!is_update_func(fn)) {
            sem_set(m, SEM_UNKNOWN_FUNC, "The function is not allowed in an update expression; "
                                         "function: %.*s",
                    fl, x->text.p);
            return;
        }
        if (nested && fn == DDB_F_LIST_APPEND) {
            sem_set(m, SEM_FUNCTION, "The function is not allowed to be used this way in an "
                                     "expression; function: %.*s",
                    fl, x->text.p);
        }
        if (x->nargs != 2) {
            sem_set(m, SEM_FUNCTION, "Incorrect number of operands for operator or function; "
                                     "operator or function: %.*s, number of operands: %zu",
                    fl, x->text.p, x->nargs);
            return;
        }
        if (fn == DDB_F_IF_NOT_EXISTS && x->args[0]->kind != DDB_N_PATH) {
            sem_set(m, SEM_FUNCTION, "Operator or function requires a document path; operator "
                                     "or function: %.*s",
                    fl, x->text.p);
        }
        if (fn == DDB_F_LIST_APPEND) {
            for (size_t i = 0; i < 2; i++) {
                int t = x->args[i]->kind == DDB_N_VALUE ? x->args[i]->val.type : 0;
                if (t && t != DDB_L) {
                    sem_set(m, SEM_FUNCTION, "Incorrect operand type for operator or function; "
                                             "operator or function: %.*s, operand type: %s",
                            fl, x->text.p, ddb_type_name(t));
                    break;
                }
            }
        }
        return;
    }
    default:
        return;
    }
}

/* Formats the first error of the categories in order, as "Invalid <Kind>: <msg>". */
static int sem_report(struct sem *m, const enum sem_cat *order, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m->err[order[i]]) {
            snprintf(m->p->c->err, sizeof m->p->c->err, "Invalid %s: %s",
                     ddb_expr_kind_name(m->p->kind), m->err[order[i]]);
            return -1;
        }
    }
    return 0;
}

static int limit_fail(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int limit_fail(struct parser *p, const char *fmt, ...)
{
    va_list ap;
    int k = snprintf(p->c->err, sizeof p->c->err, "Invalid %s: ", ddb_expr_kind_name(p->kind));
    va_start(ap, fmt);
    vsnprintf(p->c->err + k, sizeof p->c->err - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

/* Sets up the parser; fails on the checks that come before any parsing. */
static int parser_init(struct parser *p, struct ddb_expr_ctx *c, enum ddb_expr_kind kind,
                       const char *s, size_t n)
{
    memset(p, 0, sizeof *p);
    p->c = c;
    p->kind = kind;
    p->s = s;
    p->n = n;
    p->redundant = -1;
    if (n == 0) {
        return limit_fail(p, "The expression can not be empty;");
    }
    if (n > DDB_EXPR_MAX_LEN) {
        return limit_fail(p, "Expression size has exceeded the maximum allowed size; "
                             "expression size: %zu",
                          n);
    }
    p->nt = ddb_lex(c->a, s, n, &p->t);
    return 0;
}

/* After a failed or incomplete parse: the limit met, or the syntax error. */
static int parse_fail(struct parser *p)
{
    char msg[1200];
    if (p->limit) {
        return limit_fail(p, "%s", p->limit);
    }
    ddb_lex_syntax_error(p->s, p->n, p->t, p->fail_at, msg, sizeof msg);
    return limit_fail(p, "%s", msg);
}

static int check_counts(struct parser *p, struct sem *m)
{
    if (m->ops > DDB_EXPR_MAX_OPERATORS) {
        return limit_fail(p, "The expression contains too many operators; operator count: %d",
                          m->ops);
    }
    if (m->max_in > DDB_EXPR_MAX_IN) {
        return limit_fail(p, "The IN operator is provided with too many operands; number of "
                             "operands: %zu",
                          m->max_in);
    }
    return 0;
}

int ddb_expr_parse_cond(struct ddb_expr_ctx *c, enum ddb_expr_kind kind, const char *s,
                        size_t n, struct ddb_node **out)
{
    static const enum sem_cat order[] = { SEM_PARENS, SEM_UNKNOWN_FUNC, SEM_MISUSED,
                                          SEM_RESERVED, SEM_COND };
    struct parser p;
    struct sem m;
    struct ddb_node *x;
    bool parens;

    if (parser_init(&p, c, kind, s, n) < 0) {
        return -1;
    }
    x = parse_or(&p, &parens);
    if (!x || !accept(&p, DDB_T_EOF)) {
        return parse_fail(&p);
    }
    memset(&m, 0, sizeof m);
    m.p = &p;
    if (p.redundant >= 0) {
        m.err[SEM_PARENS] = "The expression has redundant parentheses;";
    }
    sem_condition(&m, x);
    if (check_counts(&p, &m) < 0 || sem_report(&m, order, sizeof order / sizeof order[0]) < 0) {
        return -1;
    }
    *out = x;
    return 0;
}

int ddb_expr_parse_update(struct ddb_expr_ctx *c, const char *s, size_t n,
                          struct ddb_update **out)
{
    static const enum sem_cat order[] = { SEM_PARENS, SEM_RESERVED, SEM_UNKNOWN_FUNC,
                                          SEM_SECTION, SEM_NAME, SEM_VALUE, SEM_OVERLAP,
                                          SEM_OPERAND, SEM_FUNCTION };
    struct parser p;
    struct sem m;
    struct ddb_update *u;

    if (parser_init(&p, c, DDB_EXPR_UPDATE, s, n) < 0) {
        return -1;
    }
    u = arena_new(c->a, struct ddb_update);
    if (parse_update_sections(&p, u) < 0 || !accept(&p, DDB_T_EOF)) {
        return parse_fail(&p);
    }
    memset(&m, 0, sizeof m);
    m.p = &p;
    if (p.redundant >= 0) {
        m.err[SEM_PARENS] = "The expression has redundant parentheses;";
    }
    m.err[SEM_SECTION] = p.section_err;
    for (size_t i = 0; i < u->n; i++) {
        struct ddb_action *a = &u->a[i];
        sem_path(&m, &a->path);
        if (a->kind == DDB_ACT_SET) {
            sem_update_value(&m, a->value, false);
        }
        else if (a->value) {
            const char *w;
            sem_value(&m, a->value);
            w = type_word(a->value->val.type);
            if (w && !(a->kind == DDB_ACT_ADD && a->value->val.type == DDB_N)) {
                sem_set(&m, SEM_OPERAND, "Incorrect operand type for operator or function; "
                                         "operator: %s, operand type: %s",
                        a->kind == DDB_ACT_ADD ? "ADD" : "DELETE", w);
            }
        }
    }
    if (!m.err[SEM_NAME] && u->n > 1) {
        const struct ddb_path **paths = arena_alloc(c->a, u->n * sizeof *paths);
        char msg[1024];
        for (size_t i = 0; i < u->n; i++) {
            paths[i] = &u->a[i].path;
        }
        if (ddb_paths_check(c->a, paths, u->n, msg, sizeof msg) < 0) {
            m.err[SEM_OVERLAP] = arena_strdup(c->a, msg);
        }
    }
    if (check_counts(&p, &m) < 0 || sem_report(&m, order, sizeof order / sizeof order[0]) < 0) {
        return -1;
    }
    *out = u;
    return 0;
}

int ddb_expr_parse_proj(struct ddb_expr_ctx *c, const char *s, size_t n,
                        struct ddb_proj **out)
{
    static const enum sem_cat order[] = { SEM_RESERVED, SEM_NAMEVAL, SEM_OVERLAP };
    struct parser p;
    struct sem m;
    struct ddb_proj *pr;
    size_t cap = 8;

    if (parser_init(&p, c, DDB_EXPR_PROJECTION, s, n) < 0) {
        return -1;
    }
    pr = arena_new(c->a, struct ddb_proj);
    pr->paths = arena_alloc(c->a, cap * sizeof *pr->paths);
    do {
        if (pr->n == cap) {
            struct ddb_path *np = arena_alloc(c->a, 2 * cap * sizeof *np);
            memcpy(np, pr->paths, cap * sizeof *np);
            pr->paths = np;
            cap *= 2;
        }
        if (parse_path(&p, &pr->paths[pr->n]) < 0) {
            return parse_fail(&p);
        }
        pr->n++;
    } while (tok(&p) == DDB_T_COMMA && (p.i++, true));
    if (!accept(&p, DDB_T_EOF)) {
        return parse_fail(&p);
    }
    memset(&m, 0, sizeof m);
    m.p = &p;
    for (size_t i = 0; i < pr->n; i++) {
        sem_path(&m, &pr->paths[i]);
    }
    if (!m.err[SEM_NAME] && pr->n > 1) {
        const struct ddb_path **paths = arena_alloc(c->a, pr->n * sizeof *paths);
        char msg[1024];
        for (size_t i = 0; i < pr->n; i++) {
            paths[i] = &pr->paths[i];
        }
        if (ddb_paths_check(c->a, paths, pr->n, msg, sizeof msg) < 0) {
            m.err[SEM_OVERLAP] = arena_strdup(c->a, msg);
        }
    }
    if (sem_report(&m, order, sizeof order / sizeof order[0]) < 0) {
        return -1;
    }
    *out = pr;
    return 0;
}
