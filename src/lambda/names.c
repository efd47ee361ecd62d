/*
 * names.c: function names and ARNs, Lambda's timestamps, and the request validation the
 * handlers share (JSON bodies, member types, environment variables), with Lambda's words.
 *
 * What it is not: any operation's logic.
 *
 * A FunctionName member may be a name ("my-function"), a partial ARN
 * ("123456789012:function:my-function") or an ARN
 * ("arn:aws:lambda:us-east-1:123456789012:function:my-function"), each optionally followed by
 * ":qualifier"; the pattern of the API reference is
 *   (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?
 *   ([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?
 * An ARN naming another region or account parses but names no function here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "lambda/lam_int.h"

static const char fnref_pattern[] =
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?"
    "([a-zA-Z0-9-_%s]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?";

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [a-z]{2}(-gov)?-[a-z]+-\d{1} */
static bool is_region(const char *s, size_t n)
{
    size_t i = 0;
    if (n < 6 || !is_lower(s[0]) || !is_lower(s[1])) {
        return false;
    }
    i = 2;
    if (n - i > 4 && memcmp(s + i, "-gov", 4) == 0 && s[i + 4] == '-') {
        i += 4;
    }
    if (s[i] != '-') {
        return false;
    }
    i++;
    if (i >= n || !is_lower(s[i])) {
        return false;
    }
    while (i < n && is_lower(s[i])) {
        i++;
    }
    return i + 2 == n && s[i] == '-' && is_digit(s[i + 1]);
}

static bool all_digits(const char *s, size_t n, size_t want)
{
    if (n != want) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
    }
    return true;
}

static bool name_chars(const char *s, size_t n, bool dots)
{
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_' ||
              (dots && c == '.'))) {
            return false;
        }
    }
    return true;
}

int lam__parse_fnref(const char *s, const char *region, const char *account, bool dots,
                     struct lam__fnref *out)
{
    struct sl_str tok[9];
    size_t nt = 0, i = 0;
    const char *p = s;
    bool region_other = false, account_other = false;

    memset(out, 0, sizeof *out);
    if (strlen(s) > LAM_FNREF_MAX) {
        return LAM__ELONG;
    }
    for (;;) {
        const char *c = strchr(p, ':');
        if (nt == sizeof tok / sizeof tok[0]) {
            return LAM__EPATTERN;
        }
        tok[nt].p = p;
        tok[nt].len = c ? (size_t)(c - p) : strlen(p);
        nt++;
        if (!c) {
            break;
        }
        p = c + 1;
    }
    if (nt >= 3 && sl_str_eq_c(tok[0], "arn")) {
        if (!sl_str_starts(tok[1], "aws") && tok[1].len != 0) {
            return LAM__EPATTERN;
        }
        if (!sl_str_eq_c(tok[2], "lambda")) {
            return LAM__EPATTERN;
        }
        i = 3;
    }
    if (nt - i >= 2 && is_region(tok[i].p, tok[i].len)) {
        region_other = !sl_str_eq_c(tok[i], region);
        i++;
    }
    if (nt - i >= 2 && all_digits(tok[i].p, tok[i].len, 12)) {
        account_other = !sl_str_eq_c(tok[i], account);
        i++;
    }
    if (nt - i >= 2 && sl_str_eq_c(tok[i], "function")) {
        i++;
    }
    if (i >= nt || nt - i > 2 || !name_chars(tok[i].p, tok[i].len, dots)) {
        return LAM__EPATTERN;
    }
    if (tok[i].len > LAM_NAME_MAX) {
        return LAM__ELONG;
    }
    memcpy(out->name, tok[i].p, tok[i].len);
    if (nt - i == 2) {
        struct sl_str q = tok[i + 1];
        if (!sl_str_eq_c(q, "$LATEST") && !name_chars(q.p, q.len, false)) {
            return LAM__EPATTERN;
        }
        if (q.len > LAM_QUALIFIER_MAX) {
            return LAM__EPATTERN;
        }
        memcpy(out->qualifier, q.p, q.len);
    }
    out->elsewhere = region_other || account_other;
    return 0;
}

void lam__function_arn(const struct lam *l, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "arn:aws:lambda:%s:%s:function:%s", l->region, l->account, name);
}

bool lam__qualifier_latest(const char *q)
{
    return !q || !q[0] || strcmp(q, "$LATEST") == 0;
}

int lam__fnref_or_reply(struct http_req *r, const char *s, bool dots, struct lam__fnref *out)
{
    struct lam *l = lam__of(r);
    int rc = lam__parse_fnref(s, l->region, l->account, dots, out);
    if (rc == LAM__ELONG) {
        /* Lambda answers an over-long name with this validation text, under the code
         * InvalidParameterValueException. */
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "1 validation error detected: Value '%.200s' at 'functionName' "
                             "failed to satisfy constraint: Member must have length less than "
                             "or equal to %d",
                             s, LAM_NAME_MAX);
    }
    if (rc < 0) {
        char pat[sizeof fnref_pattern + 16];
        snprintf(pat, sizeof pat, fnref_pattern, dots ? "\\." : "");
        return lam__validation(r,
                               "Value '%.200s' at 'functionName' failed to satisfy constraint: "
                               "Member must satisfy regular expression pattern: %s",
                               s, pat);
    }
    return 0;
}

int lam__not_found(struct http_req *r, const struct lam__fnref *f)
{
    char arn[256];
    lam__function_arn(lam__of(r), f->name, arn, sizeof arn);
    if (f->qualifier[0]) {
        return http_req_fail(r, AWSERR_LAMBDA_NOT_FOUND, "Function not found: %s:%s", arn,
                             f->qualifier);
    }
    return http_req_fail(r, AWSERR_LAMBDA_NOT_FOUND, "Function not found: %s", arn);
}

uint64_t lam__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void lam__fmt_time(uint64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;
    gmtime_r(&t, &tm);
    n = strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03u+0000", (unsigned)(ms % 1000));
}

void lam__put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t lam__get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

/* ---- request bodies and validation ---- */

static void json_free_cb(void *p)
{
    json_decref(p);
}

int lam__json_body_or_reply(struct http_req *r, json_t **out)
{
    json_error_t jerr;
    json_t *j;
    if (r->body.len == 0) {
        j = json_object();
    }
    else {
        j = json_loadb(r->body.p, r->body.len, 0, &jerr);
        if (!j) {
            return http_req_fail(r, AWSERR_LAMBDA_INVALID_CONTENT,
                                 "Could not parse request body into json: %s", jerr.text);
        }
    }
    arena_on_clear(&r->arena, json_free_cb, j);
    if (!json_is_object(j)) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_CONTENT,
                             "Could not parse request body into json: Start of structure or "
                             "map found where not expected.");
    }
    *out = j;
    return 0;
}

int lam__expect_type_or_reply(struct http_req *r, const json_t *v, json_type t,
                              const char *member)
{
    if (!v || json_is_null(v) || json_typeof(v) == t) {
        return 0;
    }
    if (t == JSON_TRUE && json_is_boolean(v)) {
        return 0;
    }
    return http_req_fail(r, AWSERR_LAMBDA_INVALID_CONTENT,
                         "Could not parse request body into json: Could not deserialize '%s': "
                         "unexpected value type",
                         member);
}

int lam__int_member_or_reply(struct http_req *r, const json_t *in, const char *key,
                             const char *member, long lo, long hi, long *out)
{
    const json_t *v = json_object_get(in, key);
    long x;
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (!json_is_integer(v)) {
        return lam__expect_type_or_reply(r, v, JSON_INTEGER, key);
    }
    x = (long)json_integer_value(v);
    if (x < lo) {
        return lam__validation(r,
                               "Value '%ld' at '%s' failed to satisfy constraint: Member must "
                               "have value greater than or equal to %ld",
                               x, member, lo);
    }
    if (x > hi) {
        return lam__validation(r,
                               "Value '%ld' at '%s' failed to satisfy constraint: Member must "
                               "have value less than or equal to %ld",
                               x, member, hi);
    }
    *out = x;
    return 0;
}

int lam__validation(struct http_req *r, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return http_req_fail(r, AWSERR_VALIDATION, "1 validation error detected: %s", msg);
}

int lam__internal(struct http_req *r, const char *what, int rc)
{
    log_error("lambda", "%s: %s: %s", r->request_id, what, lam_strerror(rc));
    return http_req_fail(r, AWSERR_LAMBDA_SERVICE, "An internal error occurred.");
}

/* Keys the Lambda runtime sets itself (the developer guide's "Reserved environment
 * variables"); a function may not set them. */
static const char *const reserved_keys[] = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
};

static bool env_key_ok(const char *k)
{
    /* [a-zA-Z]([a-zA-Z0-9_])+ */
    size_t n = strlen(k);
    if (n < 2 || !((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z'))) {
        return false;
    }
    for (size_t i = 1; i < n; i++) {
        char c = k[i];
        if (!(is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_')) {
            return false;
        }
    }
    return true;
}

int lam__check_env_vars_or_reply(struct http_req *r, const json_t *vars)
{
    const char *k;
    const json_t *v;
    char reserved[512] = "";
    size_t rlen = 0;
    char *text;
    size_t len;

    if (!vars || json_is_null(vars)) {
        return 0;
    }
    if (!json_is_object(vars)) {
        return lam__expect_type_or_reply(r, vars, JSON_OBJECT, "Variables");
    }
    json_object_foreach((json_t *)vars, k, v) {
        if (!json_is_string(v)) {
            return lam__expect_type_or_reply(r, v, JSON_STRING, "Variables");
        }
        if (!env_key_ok(k)) {
            return lam__validation(r,
                                   "Value at 'environment.variables' failed to satisfy "
                                   "constraint: Map keys must satisfy constraint: [Member must "
                                   "satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]");
        }
        for (size_t i = 0; i < sizeof reserved_keys / sizeof reserved_keys[0]; i++) {
            if (strcmp(k, reserved_keys[i]) == 0 && rlen + strlen(k) + 2 < sizeof reserved) {
                rlen += (size_t)snprintf(reserved + rlen, sizeof reserved - rlen, "%s%s",
                                         rlen ? "," : "", k);
            }
        }
    }
    if (rlen) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Lambda was unable to configure your environment variables "
                             "because the environment variables you have provided contains "
                             "reserved keys that are currently not supported for modification. "
                             "Reserved keys used in this request: %s",
                             reserved);
    }
    text = json_dumps(vars, JSON_COMPACT);
    len = text ? strlen(text) : 0;
    free(text);
    if (len > LAM_ENV_VARS_MAX) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Lambda was unable to configure your environment variables "
                             "because the environment variables you have provided exceeded the "
                             "4KB limit. String measured: %zu bytes",
                             len);
    }
    return 0;
}

int lam__submit_or_reply(struct http_req *r, struct store_op *op, int (*cont)(struct http_req *))
{
    http_req_pending(r, cont);
    if (store_submit(lam__of(r)->st, op) < 0) {
        r->state = HTTP_REQ_READY;
        return http_req_fail(r, AWSERR_LAMBDA_SERVICE, "The service is shutting down; retry.");
    }
    return 0;
}

int lam__max_items_or_reply(struct http_req *r, long *max)
{
    const char *s = http_req_query(r, "MaxItems");
    char *end;
    long v;
    if (!s) {
        return 0;
    }
    v = strtol(s, &end, 10);
    if (!*s || *end || v < 1 || v > LAM_LIST_MAX) {
        return lam__validation(r,
                               "Value '%.20s' at 'maxItems' failed to satisfy constraint: "
                               "Member must have value between 1 and %d",
                               s, LAM_LIST_MAX);
    }
    *max = v;
    return 0;
}

int lam__list_begin_or_reply(struct http_req *r, MDB_dbi dbi, const void *after, size_t len,
                             struct lam__list *it)
{
    struct lam *l = lam__of(r);
    int rc = store_read_begin(l->st, &it->txn);
    it->c = NULL;
    if (rc == 0) {
        rc = mdb_cursor_open(it->txn, dbi, &it->c);
    }
    if (rc) {
        if (it->txn) {
            store_read_end(l->st, it->txn);
        }
        return lam__internal(r, "listing", rc);
    }
    if (len) {
        it->k.mv_size = len;
        it->k.mv_data = (void *)after;
        it->g = mdb_cursor_get(it->c, &it->k, &it->v, MDB_SET_RANGE);
        if (it->g == 0 && it->k.mv_size == len && memcmp(it->k.mv_data, after, len) == 0) {
            it->g = mdb_cursor_get(it->c, &it->k, &it->v, MDB_NEXT);
        }
    }
    else {
        it->g = mdb_cursor_get(it->c, &it->k, &it->v, MDB_FIRST);
    }
    return 0;
}

void lam__list_end(struct http_req *r, struct lam__list *it)
{
    mdb_cursor_close(it->c);
    store_read_end(lam__of(r)->st, it->txn);
}
