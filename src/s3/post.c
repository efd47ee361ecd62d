/*
 * post.c: browser uploads (PostObject): a multipart/form-data POST to the bucket whose
 * fields carry the key, the object's headers and a policy signed with SigV4, and whose file
 * part is the object (S3 user guide, "Browser-based uploads using POST").
 *
 * What it is not: SigV4 of headers or query strings. The request is unsigned; the policy
 * is what is signed (sigv4_verify_policy() through the front door), and the policy's
 * conditions are what allow the upload.
 *
 * The body is parsed as it streams (the states of struct post_state):
 *
 *   PREAMBLE --"--boundary"--> AFTER_DELIM --CRLF--> HEADERS --empty line--> VALUE | FILE
 *   VALUE --CRLF "--boundary"--> AFTER_DELIM (field kept, 20 KB each, 64 KB in all)
 *   FILE: the policy is checked once its headers are in (every field before it is known),
 *         then its bytes go to a put (object.c) --CRLF "--boundary"--> AFTER_DELIM
 *   AFTER_DELIM --"--"--> EPILOGUE (ignored)
 *
 * Fields after the file are read and ignored, as S3 ignores them. The delimiter is found
 * with memmem in each piece; a piece that ends inside what may be a delimiter holds those
 * bytes back (at most its length) until the next piece tells.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3/s3_int.h"

#define FIELDS_MAX 64
#define FIELD_MAX (20 * 1024)
#define FIELDS_TOTAL_MAX (64 * 1024)
#define LINE_MAX_BYTES 4096
#define BOUNDARY_MAX 70

enum post_phase { P_PREAMBLE, P_AFTER_DELIM, P_HEADERS, P_VALUE, P_FILE, P_EPILOGUE };

struct field {
    char *name;
    char *value;
    size_t len;
};

struct post_state {
    struct s3__put put;             /* first (E1) */
    enum post_phase phase;
    char delim[BOUNDARY_MAX + 5];   /* "\r\n--" boundary */
    size_t dlen;
    char hold[BOUNDARY_MAX + 5];    /* bytes that may begin a delimiter */
    size_t hold_len;
    char line[LINE_MAX_BYTES + 1];
    size_t line_len;
    size_t after;                   /* bytes of AFTER_DELIM seen */
    char after_bytes[2];
    /* the part being read */
    char part_name[257];
    char filename[1025];
    bool part_is_file;
    struct buf value;
    /* what was read */
    struct field fields[FIELDS_MAX];
    size_t n_fields;
    size_t fields_total;
    bool file_seen, file_done;
    uint64_t len_min, len_max;
    bool has_range;
    const char *bucket;
    bool dry;                       /* s3__post_parse_dry(): framing only, no policy, no put */
};

static const char *field(const struct post_state *st, const char *name)
{
    for (size_t i = 0; i < st->n_fields; i++) {
        if (strcasecmp(st->fields[i].name, name) == 0) {
            return st->fields[i].value;
        }
    }
    return NULL;
}

static int malformed(struct http_req *r)
{
    return http_req_fail(r, AWSERR_S3_MALFORMED_POST, NULL);
}

/* ---- the policy ---- */

static int deny(struct http_req *r, const char *fmt, const char *arg)
{
    return http_req_fail(r, AWSERR_S3_POLICY_DENIED, fmt, arg);
}

/* Seconds since the epoch of "2026-12-02T01:00:00.000Z" (the fraction optional). */
static int iso_parse(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, sec;
    char stamp[40];
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6 || mo < 1 ||
        mo > 12) {
        return -1;
    }
    static const char *const names[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    snprintf(stamp, sizeof stamp, "Mon, %02d %s %04d %02d:%02d:%02d GMT", d, names[mo - 1], y, h,
             mi, sec);
    return s3__http_date_parse(stamp, out);
}

/* The value of $name for a condition: a form field, or the bucket. NULL when absent. */
static const char *cond_value(const struct post_state *st, const char *name)
{
    if (strcasecmp(name, "bucket") == 0) {
        return st->bucket;
    }
    return field(st, name);
}

/* Checks one condition; marks the fields it names in covered. Returns 0 or -1. */
static int check_condition(struct http_req *r, struct post_state *st, json_t *c, bool *covered)
{
    const char *op, *name, *want, *have;
    char *text = json_dumps(c, JSON_COMPACT);
    const char *shown = arena_strdup(&r->arena, text ? text : "");
    bool ok;

    free(text);
    if (json_is_object(c) && json_object_size(c) == 1) {
        const char *k = json_object_iter_key(json_object_iter(c));
        json_t *v = json_object_iter_value(json_object_iter(c));
        op = "eq";
        name = k;
        want = json_string_value(v);
    }
    else if (json_is_array(c) && json_array_size(c) == 3 &&
             json_is_string(json_array_get(c, 0))) {
        op = json_string_value(json_array_get(c, 0));
        if (strcasecmp(op, "content-length-range") == 0) {
            json_t *lo = json_array_get(c, 1), *hi = json_array_get(c, 2);
            if (!json_is_integer(lo) || !json_is_integer(hi) || json_integer_value(lo) < 0 ||
                json_integer_value(hi) < json_integer_value(lo)) {
                return http_req_fail(r, AWSERR_S3_INVALID_POLICY,
                                     "Invalid Policy: Invalid content-length-range.");
            }
            st->has_range = true;
            st->len_min = (uint64_t)json_integer_value(lo);
            st->len_max = (uint64_t)json_integer_value(hi);
            return 0;
        }
        name = json_string_value(json_array_get(c, 1));
        want = json_string_value(json_array_get(c, 2));
        if (!name || name[0] != '$') {
            return http_req_fail(r, AWSERR_S3_INVALID_POLICY,
                                 "Invalid Policy: Invalid Condition: %s", shown);
        }
        name++;
    }
    else {
        return http_req_fail(r, AWSERR_S3_INVALID_POLICY,
                             "Invalid Policy: Invalid Simple-Condition: %s", shown);
    }
    if (!want || (strcasecmp(op, "eq") != 0 && strcasecmp(op, "starts-with") != 0)) {
        return http_req_fail(r, AWSERR_S3_INVALID_POLICY, "Invalid Policy: Invalid Condition: %s",
                             shown);
    }
    for (size_t i = 0; i < st->n_fields; i++) {
        if (strcasecmp(st->fields[i].name, name) == 0) {
            covered[i] = true;
        }
    }
    have = cond_value(st, name);
    if (strcasecmp(op, "eq") == 0) {
        ok = have && strcmp(have, want) == 0;
    }
    else {
        ok = (have && strncmp(have, want, strlen(want)) == 0) || (!have && !want[0]);
    }
    if (!ok) {
        return deny(r, "Invalid according to Policy: Policy Condition failed: %s", shown);
    }
    return 0;
}

/* The policy and its signature against the fields read so far. Returns 0 or -1. */
static int policy_check_or_reply(struct http_req *r, struct post_state *st)
{
    const char *policy = field(st, "policy");
    const char *algo = field(st, "x-amz-algorithm");
    const char *cred = field(st, "x-amz-credential");
    const char *date = field(st, "x-amz-date");
    const char *sig = field(st, "x-amz-signature");
    size_t plen;
    unsigned char *json;
    long jl;
    json_t *doc, *conds, *exp;
    json_error_t jerr;
    bool covered[FIELDS_MAX] = { false };
    int64_t expires;
    int rc;

    if (!policy || !sig || !cred || !date) {
        return deny(r, "%s", "Access Denied");
    }
    if (!algo || strcmp(algo, "AWS4-HMAC-SHA256") != 0) {
        return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Unsupported algorithm: %s",
                             algo ? algo : "");
    }
    plen = strlen(policy);
    rc = http_req_verify_policy(r, policy, plen, cred, date, sig);
    if (rc == SIGV4_EUNKNOWNKEY) {
        http_req_fail(r, AWSERR_S3_INVALID_ACCESS_KEY, NULL);
        http_req_fail_field(r, "AWSAccessKeyId", r->auth.access_key);
        return -1;
    }
    if (rc == SIGV4_EMISMATCH) {
        http_req_fail(r, AWSERR_S3_SIGNATURE_MISMATCH, NULL);
        http_req_fail_field(r, "AWSAccessKeyId", r->auth.access_key);
        return -1;
    }
    if (rc != 0) {
        return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                             "Invalid x-amz-credential or x-amz-date");
    }
    json = arena_alloc(&r->arena, plen + 3);
    jl = s3__base64_decode((struct sl_str){ policy, plen }, json, plen + 3);
    doc = jl > 0 ? json_loadb((const char *)json, (size_t)jl, 0, &jerr) : NULL;
    if (!doc) {
        return http_req_fail(r, AWSERR_S3_INVALID_POLICY, "Invalid Policy: Invalid JSON.");
    }
    rc = 0;
    exp = json_object_get(doc, "expiration");
    conds = json_object_get(doc, "conditions");
    if (!json_is_string(exp) || iso_parse(json_string_value(exp), &expires) != 0 ||
        !json_is_array(conds)) {
        rc = http_req_fail(r, AWSERR_S3_INVALID_POLICY,
                           "Invalid Policy: Invalid 'expiration' or 'conditions'.");
    }
    else if (expires < (int64_t)time(NULL)) {
        rc = deny(r, "%s", "Invalid according to Policy: Policy expired.");
    }
    for (size_t i = 0; rc == 0 && i < json_array_size(conds); i++) {
        rc = check_condition(r, st, json_array_get(conds, i), covered);
    }
    json_decref(doc);
    if (rc != 0) {
        return -1;
    }
    for (size_t i = 0; i < st->n_fields; i++) {
        const char *n = st->fields[i].name;
        if (covered[i] || strcasecmp(n, "policy") == 0 || strcasecmp(n, "x-amz-signature") == 0 ||
            strncasecmp(n, "x-ignore-", 9) == 0) {
            continue;
        }
        return deny(r, "Invalid according to Policy: Extra input fields: %s", n);
    }
    return 0;
}

/* ---- the object ---- */

static const char *const kept_fields[] = { "cache-control", "content-disposition",
                                           "content-encoding", "expires",
                                           "content-language" };

/* The put of the file part: key, headers, metadata from the fields. Returns 0 or -1. */
static int file_begin_or_reply(struct http_req *r, struct post_state *st)
{
    struct s3__put *p = &st->put;
    const char *key = field(st, "key");
    const char *ct = field(st, "content-type");
    const char *sub;
    char *k;
    size_t meta = 0;
    int rc;

    if (!key || !key[0]) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                      "Bucket POST must contain a field named 'key'.  If it is specified, "
                      "please check the order of the fields.");
        http_req_fail_field(r, "ArgumentName", "key");
        return -1;
    }
    /* ${filename} stands for the name of the file the browser sent. */
    sub = strstr(key, "${filename}");
    k = sub ? arena_printf(&r->arena, "%.*s%s%s", (int)(sub - key), key, st->filename, sub + 11)
            : arena_strdup(&r->arena, key);
    if (strlen(k) > S3_KEY_MAX) {
        return http_req_fail(r, AWSERR_S3_KEY_TOO_LONG, NULL);
    }
    p->obj.n_fields = 0;
    p->obj.fields[p->obj.n_fields++] = (struct s3__field){
        SL_STR_LIT("content-type"), sl_str_c(ct && ct[0] ? ct : "binary/octet-stream")
    };
    for (size_t i = 0; i < sizeof kept_fields / sizeof kept_fields[0]; i++) {
        const char *v = field(st, kept_fields[i]);
        if (v) {
            p->obj.fields[p->obj.n_fields++] =
                (struct s3__field){ sl_str_c(kept_fields[i]), sl_str_c(v) };
        }
    }
    for (size_t i = 0; i < st->n_fields; i++) {
        struct field *f = &st->fields[i];
        if (strncasecmp(f->name, "x-amz-meta-", 11) != 0 || strlen(f->name) <= 11) {
            continue;
        }
        meta += strlen(f->name) - 11 + f->len;
        if (meta > S3__META_MAX || p->obj.n_fields == S3__FIELDS_MAX) {
            return http_req_fail(r, AWSERR_S3_METADATA_TOO_LARGE, NULL);
        }
        for (char *c = f->name; *c; c++) {
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        }
        p->obj.fields[p->obj.n_fields++] =
            (struct s3__field){ sl_str_c(f->name), (struct sl_str){ f->value, f->len } };
    }
    p->who = r->auth.access_key;
    rc = s3__put_begin(p, s3__of(r), st->bucket, sl_str_c(k));
    if (rc < 0) {
        return s3__internal_or_reply(r, "PostObject open", rc);
    }
    return 0;
}

/* ---- parsing ---- */

/* Bytes of a part's data: a field's value or the file's. */
static int emit(struct http_req *r, struct post_state *st, const char *p, size_t n)
{
    int rc;
    if (!n) {
        return 0;
    }
    if (st->phase == P_VALUE) {
        if (buf_append(&st->value, p, n) < 0) {
            return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Your POST form field %s is "
                                 "too large", st->part_name);
        }
        return 0;
    }
    if (st->put.obj.size + n > S3__PUT_MAX ||
        (st->has_range && st->put.obj.size + n > st->len_max)) {
        return http_req_fail(r, AWSERR_S3_ENTITY_TOO_LARGE_POST, NULL);
    }
    if (st->dry) {
        st->put.obj.size += n;
        return 0;
    }
    rc = s3__put_feed(&st->put, p, n);
    return rc < 0 ? s3__internal_or_reply(r, "PostObject write", rc) : 0;
}

/* A part's data ended (its delimiter was read). */
static int part_end(struct http_req *r, struct post_state *st)
{
    if (st->phase == P_FILE) {
        st->file_done = true;
    }
    else if (st->phase == P_VALUE && !st->file_seen) {
        struct field *f;
        if (st->n_fields == FIELDS_MAX ||
            st->fields_total + st->value.len + strlen(st->part_name) > FIELDS_TOTAL_MAX) {
            return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT, "Your POST form is too large");
        }
        f = &st->fields[st->n_fields++];
        f->name = arena_strdup(&r->arena, st->part_name);
        f->value = arena_strndup(&r->arena, st->value.p ? st->value.p : "", st->value.len);
        f->len = st->value.len;
        st->fields_total += f->len + strlen(f->name);
    }
    buf_reset(&st->value);
    st->phase = P_AFTER_DELIM;
    st->after = 0;
    return 0;
}

/* Feeds part data from p; returns the bytes consumed (all of n unless the delimiter was
 * found), or -1 with an error set. */
static long data_feed(struct http_req *r, struct post_state *st, const char *p, size_t n)
{
    size_t i = 0;
    const char *hit;

    /* Held bytes first: they are a prefix of the delimiter; add bytes until they are all of
     * it or stop being a prefix (then the first held byte is data). */
    while (st->hold_len && i < n) {
        st->hold[st->hold_len++] = p[i++];
        while (st->hold_len && memcmp(st->hold, st->delim, st->hold_len) != 0) {
            if (emit(r, st, st->hold, 1) < 0) {
                return -1;
            }
            memmove(st->hold, st->hold + 1, --st->hold_len);
        }
        if (st->hold_len == st->dlen) {
            st->hold_len = 0;
            return part_end(r, st) < 0 ? -1 : (long)i;
        }
    }
    if (i == n) {
        return (long)n;
    }
    hit = memmem(p + i, n - i, st->delim, st->dlen);
    if (hit) {
        if (emit(r, st, p + i, (size_t)(hit - (p + i))) < 0 || part_end(r, st) < 0) {
            return -1;
        }
        return (long)(hit - p) + (long)st->dlen;
    }
    /* Hold back the longest tail that could begin a delimiter. */
    for (size_t k = st->dlen - 1 < n - i ? st->dlen - 1 : n - i; k > 0; k--) {
        if (memcmp(p + n - k, st->delim, k) == 0) {
            if (emit(r, st, p + i, n - k - i) < 0) {
                return -1;
            }
            memcpy(st->hold, p + n - k, k);
            st->hold_len = k;
            return (long)n;
        }
    }
    return emit(r, st, p + i, n - i) < 0 ? -1 : (long)n;
}

/* One header line of a part (without CRLF); an empty one ends the headers. */
static int header_line(struct http_req *r, struct post_state *st)
{
    if (st->line_len == 0) {
        if (!st->part_name[0]) {
            return malformed(r);
        }
        if (st->part_is_file && !st->file_seen) {
            st->file_seen = true;
            if (st->dry) {
                st->phase = P_FILE;
                return 0;
            }
            if (policy_check_or_reply(r, st) < 0 ||
                s3__authorize_or_reply(r, st->bucket, sl_str_c(field(st, "key")),
                                       "PostObject") < 0 ||
                file_begin_or_reply(r, st) < 0) {
                return -1;
            }
            st->phase = P_FILE;
        }
        else {
            /* A field, or a part after the file (read and ignored). */
            st->phase = P_VALUE;
        }
        return 0;
    }
    if (strncasecmp(st->line, "content-disposition:", 20) == 0) {
        const char *n = strstr(st->line, " name=\"");
        const char *f = strstr(st->line, "filename=\"");
        if (!n) {
            n = strstr(st->line, ";name=\"");
        }
        if (!n) {
            return malformed(r);
        }
        n += 7;
        snprintf(st->part_name, sizeof st->part_name, "%.*s", (int)strcspn(n, "\""), n);
        st->part_is_file = strcasecmp(st->part_name, "file") == 0;
        if (f) {
            f += 10;
            snprintf(st->filename, sizeof st->filename, "%.*s", (int)strcspn(f, "\""), f);
        }
    }
    return 0;
}

static int post_on_body(struct http_req *r, const char *p, size_t n)
{
    struct post_state *st = r->op_ctx;
    size_t i = 0;

    while (i < n) {
        switch (st->phase) {
        case P_PREAMBLE:
        case P_HEADERS: {
            char c = p[i++];
            if (c == '\n') {
                if (st->line_len && st->line[st->line_len - 1] == '\r') {
                    st->line_len--;
                }
                st->line[st->line_len] = '\0';
                if (st->phase == P_PREAMBLE) {
                    /* "--boundary" alone on its line opens the first part. */
                    if (strcmp(st->line, st->delim + 2) == 0) {
                        st->phase = P_HEADERS;
                        st->part_name[0] = st->filename[0] = '\0';
                        st->part_is_file = false;
                    }
                }
                else if (header_line(r, st) < 0) {
                    return -1;
                }
                st->line_len = 0;
                break;
            }
            if (st->line_len == LINE_MAX_BYTES) {
                return malformed(r);
            }
            st->line[st->line_len++] = c;
            break;
        }
        case P_VALUE:
        case P_FILE: {
            long used = data_feed(r, st, p + i, n - i);
            if (used < 0) {
                return -1;
            }
            i += (size_t)used;
            break;
        }
        case P_AFTER_DELIM:
            st->after_bytes[st->after++] = p[i++];
            if (st->after == 2) {
                if (memcmp(st->after_bytes, "--", 2) == 0) {
                    st->phase = P_EPILOGUE;
                }
                else if (memcmp(st->after_bytes, "\r\n", 2) == 0) {
                    st->phase = P_HEADERS;
                    st->line_len = 0;
                    st->part_name[0] = st->filename[0] = '\0';
                    st->part_is_file = false;
                }
                else {
                    return malformed(r);
                }
            }
            break;
        case P_EPILOGUE:
            return 0;
        }
    }
    return 0;
}

static int post_cont(struct http_req *r)
{
    struct post_state *st = r->op_ctx;
    struct s3__put *p = &st->put;
    const char *redirect = field(st, "success_action_redirect");
    const char *status = field(st, "success_action_status");
    const char *host = http_req_header(r, "host");
    char etag[S3__ETAG_MAX];
    char *enc, *loc;

    if (p->base.rc != 0) {
        return s3__put_fail_or_reply(r, p, "PostObject");
    }
    s3__obj_etag(&p->obj, etag);
    enc = arena_alloc(&r->arena, 3 * p->key.len + 1);
    sl_uri_encode(p->key, true, enc);
    loc = arena_printf(&r->arena, "http://%s/%s/%s", host ? host : "localhost", st->bucket, enc);
    http_reply_header(r, "ETag", etag);
    if (!redirect) {
        redirect = field(st, "redirect");
    }
    if (redirect && (strncmp(redirect, "http://", 7) == 0 ||
                     strncmp(redirect, "https://", 8) == 0)) {
        char *ekey = arena_alloc(&r->arena, 3 * p->key.len + 1);
        char *eetag = arena_alloc(&r->arena, 3 * strlen(etag) + 1);
        sl_uri_encode(p->key, false, ekey);
        sl_uri_encode(sl_str_c(etag), false, eetag);
        http_reply_header(r, "Location",
                          arena_printf(&r->arena, "%s%sbucket=%s&key=%s&etag=%s", redirect,
                                       strchr(redirect, '?') ? "&" : "?", st->bucket, ekey,
                                       eetag));
        return http_reply(r, 303, NULL, NULL, 0);
    }
    http_reply_header(r, "Location", loc);
    if (status && strcmp(status, "201") == 0) {
        struct buf b;
        buf_init(&b, 16 * 1024);
        buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse>");
        s3__xml_elem(&b, "Location", sl_str_c(loc));
        s3__xml_elem(&b, "Bucket", sl_str_c(st->bucket));
        s3__xml_elem(&b, "Key", p->key);
        s3__xml_elem(&b, "ETag", sl_str_c(etag));
        buf_puts(&b, "</PostResponse>");
        return s3__reply_xml(r, 201, &b);
    }
    return http_reply(r, status && strcmp(status, "200") == 0 ? 200 : 204, NULL, NULL, 0);
}

static int post_on_body_end(struct http_req *r)
{
    struct post_state *st = r->op_ctx;
    struct s3__put *p = &st->put;
    int rc;

    if (!st->file_seen) {
        http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                      "POST requires exactly one file upload per request.");
        http_req_fail_field(r, "ArgumentName", "file");
        return -1;
    }
    if (!st->file_done || (st->phase != P_EPILOGUE && st->phase != P_HEADERS)) {
        return malformed(r);
    }
    if (st->has_range && p->obj.size < st->len_min) {
        return http_req_fail(r, AWSERR_S3_ENTITY_TOO_SMALL_POST, NULL);
    }
    rc = s3__put_finish(p);
    if (rc < 0) {
        return s3__internal_or_reply(r, "PostObject seal", rc);
    }
    return s3__put_sync_or_reply(r, p, "PostObject", post_cont);
}

static void release_value(void *arg)
{
    buf_release(arg);
}

int s3_post_object(struct http_req *r)
{
    struct s3 *s3 = s3__of(r);
    struct s3__target *t = s3__target_of(r);
    const char *ct = http_req_header(r, "content-type");
    const char *b = ct ? strstr(ct, "boundary=") : NULL;
    struct post_state *st;
    size_t bl;
    MDB_txn *txn;
    int rc;

    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0 || !b) {
        http_req_fail(r, AWSERR_S3_PRECONDITION_FAILED, NULL);
        http_req_fail_field(r, "Condition", "Bucket POST must be of the enclosure-type "
                                            "multipart/form-data");
        return -1;
    }
    b += 9;
    if (*b == '"') {
        b++;
    }
    bl = strcspn(b, "\";");
    if (bl == 0 || bl > BOUNDARY_MAX) {
        return malformed(r);
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, "PostObject", rc);
    }
    rc = s3__bucket_check_or_reply(r, txn, t->bucket);
    st = arena_new(&r->arena, struct post_state);
    if (rc == 0 && s3__sse_bucket_default(s3, txn, t->bucket)) {
        st->put.sse.type = S3__SSE_S3;
    }
    store_read_end(s3->st, txn);
    if (rc < 0) {
        return -1;
    }
    st->put.r = r;
    st->put.s3 = s3;
    st->put.event = S3__EV_POST;
    st->put.fd = -1;
    st->bucket = t->bucket;
    memcpy(st->delim, "\r\n--", 4);
    memcpy(st->delim + 4, b, bl);
    st->dlen = 4 + bl;
    buf_init(&st->value, FIELD_MAX);
    arena_on_clear(&r->arena, release_value, &st->value);
    arena_on_clear(&r->arena, s3__put_cleanup, &st->put);
    r->op_ctx = st;
    r->on_body = post_on_body;
    r->on_body_end = post_on_body_end;
    return 0;
}

int s3__post_parse_dry(struct http_req *r, struct sl_str boundary, const char *body, size_t n,
                       const size_t *cuts, size_t n_cuts, uint64_t *file_size)
{
    struct post_state *st;
    size_t at = 0;

    if (boundary.len == 0 || boundary.len > BOUNDARY_MAX) {
        return malformed(r);
    }
    st = arena_new(&r->arena, struct post_state);
    st->dry = true;
    st->put.fd = -1;
    memcpy(st->delim, "\r\n--", 4);
    memcpy(st->delim + 4, boundary.p, boundary.len);
    st->dlen = 4 + boundary.len;
    buf_init(&st->value, FIELD_MAX);
    r->op_ctx = st;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t end = i < n_cuts && cuts[i] < n ? cuts[i] : n;
        if (end < at) {
            continue;
        }
        if (post_on_body(r, body + at, end - at) < 0) {
            buf_release(&st->value);
            return -1;
        }
        at = end;
    }
    buf_release(&st->value);
    if (!st->file_seen) {
        return http_req_fail(r, AWSERR_S3_INVALID_ARGUMENT,
                             "POST requires exactly one file upload per request.");
    }
    if (!st->file_done || (st->phase != P_EPILOGUE && st->phase != P_HEADERS)) {
        return malformed(r);
    }
    *file_size = st->put.obj.size;
    return 0;
}
