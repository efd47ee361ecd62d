/*
 * cors.c: cross-origin resource sharing for browsers: PutBucketCors, GetBucketCors,
 * DeleteBucketCors, the answer to a preflight (OPTIONS with Origin and
 * Access-Control-Request-Method), and the Access-Control-* headers of actual requests.
 *
 * What it is not: authentication. A preflight carries no credentials (browsers send none),
 * so OPTIONS is served unsigned and tells nothing but what the bucket's rules allow.
 *
 * The configuration is kept as the CORSConfiguration XML that PutBucketCors accepted (it is
 * checked then: methods S3 knows, at least one origin and method per rule, at most one '*'
 * per origin or header pattern, at most 100 rules). A request is matched by parsing it again
 * and evaluating each CORSRule as its end tag is read: the first rule whose origin, method
 * and every requested header match wins, as S3 evaluates them in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_int.h"

#define RULES_MAX 100
#define REQ_HEADERS_MAX 64

/* Does s match pattern, which may hold one '*' standing for any run of bytes? Header names
 * compare without case (ci). */
static bool wild_match(struct sl_str pat, struct sl_str s, bool ci)
{
    const char *star = memchr(pat.p, '*', pat.len);
    size_t pre, post;
    int (*cmp)(const char *, const char *, size_t) = ci ? strncasecmp : strncmp;

    if (!star) {
        return pat.len == s.len && (pat.len == 0 || cmp(pat.p, s.p, s.len) == 0);
    }
    pre = (size_t)(star - pat.p);
    post = pat.len - pre - 1;
    return s.len >= pre + post && (pre == 0 || cmp(pat.p, s.p, pre) == 0) &&
           (post == 0 || cmp(star + 1, s.p + s.len - post, post) == 0);
}

/* A rule being read, evaluated against one request as its elements arrive. */
struct cors_eval {
    /* the request */
    struct sl_str origin;
    struct sl_str method;
    struct sl_str req_headers[REQ_HEADERS_MAX];
    size_t n_req_headers;
    /* the rule being read */
    bool origin_ok, method_ok;
    uint64_t headers_ok;        /* bit i: requested header i allowed */
    bool origin_any;            /* the matching AllowedOrigin was "*" */
    struct buf methods, expose;
    long max_age;
    /* the first rule that matched */
    bool matched;
    bool any;
    char *allow_methods, *expose_headers;
    long match_max_age;
    /* validation (PutBucketCors) */
    bool validate;
    size_t rules;
    size_t rule_origins, rule_methods;
    const char *bad;            /* the refusal's message */
    struct arena *a;
};

static bool method_known(struct sl_str m)
{
    static const char *const known[] = { "GET", "PUT", "POST", "DELETE", "HEAD" };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (sl_str_eq_c(m, known[i])) {
            return true;
        }
    }
    return false;
}

static int cors_cb(void *ctx, const char *path, struct sl_str text)
{
    struct cors_eval *e = ctx;

    if (strcmp(path, "CORSConfiguration/CORSRule/AllowedOrigin") == 0) {
        const char *star = memchr(text.p, '*', text.len);
        if (star && memchr(star + 1, '*', text.len - (size_t)(star - text.p) - 1)) {
            e->bad = arena_printf(e->a, "AllowedOrigin \"%.*s\" can not have more than one "
                                        "wildcard.", (int)text.len, text.p);
            return -1;
        }
        e->rule_origins++;
        if (!e->origin_ok && e->origin.len && wild_match(text, e->origin, false)) {
            e->origin_ok = true;
            e->origin_any = sl_str_eq_c(text, "*");
        }
    }
    else if (strcmp(path, "CORSConfiguration/CORSRule/AllowedMethod") == 0) {
        if (!method_known(text)) {
            e->bad = arena_printf(e->a, "Found unsupported HTTP method in CORS config. "
                                        "Unsupported method is %.*s", (int)text.len, text.p);
            return -1;
        }
        e->rule_methods++;
        e->method_ok = e->method_ok || sl_str_eq(text, e->method);
        buf_printf(&e->methods, "%s%.*s", e->methods.len ? ", " : "", (int)text.len, text.p);
    }
    else if (strcmp(path, "CORSConfiguration/CORSRule/AllowedHeader") == 0) {
        const char *star = memchr(text.p, '*', text.len);
        if (star && memchr(star + 1, '*', text.len - (size_t)(star - text.p) - 1)) {
            e->bad = arena_printf(e->a, "AllowedHeader \"%.*s\" can not have more than one "
                                        "wildcard.", (int)text.len, text.p);
            return -1;
        }
        for (size_t i = 0; i < e->n_req_headers; i++) {
            if (wild_match(text, e->req_headers[i], true)) {
                e->headers_ok |= 1ull << i;
            }
        }
    }
    else if (strcmp(path, "CORSConfiguration/CORSRule/ExposeHeader") == 0) {
        buf_printf(&e->expose, "%s%.*s", e->expose.len ? ", " : "", (int)text.len, text.p);
    }
    else if (strcmp(path, "CORSConfiguration/CORSRule/MaxAgeSeconds") == 0) {
        char num[24];
        snprintf(num, sizeof num, "%.*s", (int)(text.len < 20 ? text.len : 20), text.p);
        e->max_age = strtol(num, NULL, 10);
    }
    else if (strcmp(path, "CORSConfiguration/CORSRule") == 0) {
        uint64_t all = e->n_req_headers == 64 ? ~0ull : (1ull << e->n_req_headers) - 1;
        if (++e->rules > RULES_MAX) {
            e->bad = "The number of CORS rules should not exceed allowed limit of 100 rules.";
            return -1;
        }
        if (e->validate && (!e->rule_origins || !e->rule_methods)) {
            e->bad = "A CORSRule needs at least one AllowedOrigin and one AllowedMethod.";
            return -1;
        }
        if (!e->matched && e->origin_ok && e->method_ok && (e->headers_ok & all) == all) {
            e->matched = true;
            e->any = e->origin_any;
            e->allow_methods = arena_strndup(e->a, e->methods.p ? e->methods.p : "",
                                             e->methods.len);
            e->expose_headers = arena_strndup(e->a, e->expose.p ? e->expose.p : "",
                                              e->expose.len);
            e->match_max_age = e->max_age;
        }
        e->origin_ok = e->method_ok = e->origin_any = false;
        e->headers_ok = 0;
        e->rule_origins = e->rule_methods = 0;
        e->max_age = -1;
        buf_reset(&e->methods);
        buf_reset(&e->expose);
    }
    return 0;
}

static void eval_init(struct cors_eval *e, struct arena *a)
{
    memset(e, 0, sizeof *e);
    e->a = a;
    e->max_age = -1;
    buf_init(&e->methods, 16 * 1024);
    buf_init(&e->expose, 16 * 1024);
}

/* Evaluates the stored configuration cfg. Returns 0 or -1 (unreadable). */
static int eval_run(struct cors_eval *e, struct sl_str cfg)
{
    int rc = s3__xml_parse(cfg.p, cfg.len, "CORSConfiguration", cors_cb, e);
    buf_release(&e->methods);
    buf_release(&e->expose);
    return rc;
}

/* Splits Access-Control-Request-Headers ("a, b,c") into e. */
static void split_headers(struct cors_eval *e, const char *h)
{
    while (h && *h && e->n_req_headers < REQ_HEADERS_MAX) {
        const char *end;
        while (*h == ' ' || *h == ',') {
            h++;
        }
        end = h;
        while (*end && *end != ',') {
            end++;
        }
        {
            const char *stop = end;
            while (stop > h && stop[-1] == ' ') {
                stop--;
            }
            if (stop > h) {
                e->req_headers[e->n_req_headers++] = (struct sl_str){ h, (size_t)(stop - h) };
            }
        }
        h = end;
    }
}

static void add_allow_headers(struct http_req *r, const struct cors_eval *e)
{
    http_reply_header(r, "Access-Control-Allow-Origin", e->any ? "*" : e->origin.p);
    http_reply_header(r, "Access-Control-Allow-Methods", e->allow_methods);
    if (!e->any) {
        http_reply_header(r, "Access-Control-Allow-Credentials", "true");
    }
    if (e->expose_headers[0]) {
        http_reply_header(r, "Access-Control-Expose-Headers", e->expose_headers);
    }
    if (e->match_max_age >= 0) {
        http_reply_header(r, "Access-Control-Max-Age",
                          arena_printf(&r->arena, "%ld", e->match_max_age));
    }
    http_reply_header(r, "Vary", "Origin, Access-Control-Request-Headers, "
                                 "Access-Control-Request-Method");
}

/* Reads the bucket's configuration into the arena. Returns 0, MDB_NOTFOUND (none),
 * S3_ENOBUCKET or an LMDB code. */
static int cfg_read(struct http_req *r, const char *bucket, struct sl_str *cfg)
{
    struct s3 *s3 = s3__of(r);
    MDB_txn *txn;
    int rc;

    if (!s3__bucket_name_valid(bucket, strlen(bucket))) {
        return S3_ENOBUCKET;
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return rc;
    }
    if (!s3__bucket_exists(s3, txn, bucket, NULL)) {
        rc = S3_ENOBUCKET;
    }
    else {
        rc = s3__cfg_get(s3, txn, bucket, S3__CFG_CORS, cfg);
        if (rc == 0) {
            cfg->p = arena_strndup(&r->arena, cfg->p, cfg->len);
        }
    }
    store_read_end(s3->st, txn);
    return rc;
}

void s3__cors_headers(struct http_req *r, const char *bucket)
{
    const char *origin = http_req_header(r, "origin");
    struct cors_eval e;
    struct sl_str cfg;

    if (!origin || cfg_read(r, bucket, &cfg) != 0) {
        return;
    }
    eval_init(&e, &r->arena);
    e.origin = sl_str_c(origin);
    e.method = r->method;
    if (eval_run(&e, cfg) == 0 && e.matched) {
        add_allow_headers(r, &e);
    }
}

int s3_options_object(struct http_req *r)
{
    struct s3__target *t = s3__target_of(r);
    const char *origin = http_req_header(r, "origin");
    const char *method = http_req_header(r, "access-control-request-method");
    struct cors_eval e;
    struct sl_str cfg;
    int rc;

    if (!origin) {
        return http_req_fail(r, AWSERR_S3_BAD_REQUEST,
                             "Insufficient information. Origin request header needed.");
    }
    if (!method) {
        return http_req_fail(r, AWSERR_S3_BAD_REQUEST,
                             "Invalid Access-Control-Request-Method: null");
    }
    rc = cfg_read(r, t->bucket, &cfg);
    if (rc == S3_ENOBUCKET) {
        return s3__no_such_bucket_or_reply(r, t->bucket);
    }
    if (rc == MDB_NOTFOUND) {
        http_req_fail(r, AWSERR_S3_CORS_FORBIDDEN, "CORSResponse: CORS is not enabled for "
                                                   "this bucket.");
        http_req_fail_field(r, "Method", method);
        http_req_fail_field(r, "ResourceType", t->key.len ? "OBJECT" : "BUCKET");
        return -1;
    }
    if (rc != 0) {
        return s3__internal_or_reply(r, "OPTIONS", rc);
    }
    eval_init(&e, &r->arena);
    e.origin = sl_str_c(origin);
    e.method = sl_str_c(method);
    split_headers(&e, http_req_header(r, "access-control-request-headers"));
    if (eval_run(&e, cfg) != 0 || !e.matched) {
        http_req_fail(r, AWSERR_S3_CORS_FORBIDDEN,
                      "CORSResponse: This CORS request is not allowed. This is usually because "
                      "the evalution of Origin, request method / Access-Control-Request-Method "
                      "or Access-Control-Request-Headers are not whitelisted by the "
                      "resource's CORS spec.");
        http_req_fail_field(r, "Method", method);
        http_req_fail_field(r, "ResourceType", t->key.len ? "OBJECT" : "BUCKET");
        return -1;
    }
    add_allow_headers(r, &e);
    if (http_req_header(r, "access-control-request-headers")) {
        http_reply_header(r, "Access-Control-Allow-Headers",
                          http_req_header(r, "access-control-request-headers"));
    }
    return http_reply(r, 200, NULL, NULL, 0);
}

int s3__cors_check_or_reply(struct http_req *r)
{
    struct cors_eval e;
    int rc;

    eval_init(&e, &r->arena);
    e.validate = true;
    rc = s3__xml_parse(r->body.p, r->body.len, "CORSConfiguration", cors_cb, &e);
    buf_release(&e.methods);
    buf_release(&e.expose);
    if (rc != 0) {
        return e.bad ? http_req_fail(r, AWSERR_S3_INVALID_REQUEST, "%s", e.bad)
                     : http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    if (e.rules == 0) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_XML, NULL);
    }
    return 0;
}

int s3_put_bucket_cors(struct http_req *r)
{
    if (s3__cors_check_or_reply(r) < 0) {
        return -1;
    }
    return s3__cfg_put_or_reply(r, S3__CFG_CORS,
                                (struct sl_str){ arena_strndup(&r->arena, r->body.p,
                                                               r->body.len),
                                                 r->body.len },
                                200);
}

int s3_delete_bucket_cors(struct http_req *r)
{
    return s3__cfg_put_or_reply(r, S3__CFG_CORS, SL_STR_NULL, 204);
}

int s3_get_bucket_cors(struct http_req *r)
{
    return s3__cfg_reply_or_reply(r, S3__CFG_CORS, AWSERR_S3_NO_SUCH_CORS, "application/xml",
                                  "GetBucketCors");
}
