/*
 * policy.c: who may do what to a bucket: bucket owners (the access key that created the
 * bucket) and bucket policies (Put/Get/DeleteBucketPolicy), checked for every signed request
 * before its handler runs (s3__authorize_or_reply()).
 *
 * What it is not: IAM. There are no users or roles: a principal is an access key id of the
 * credentials file ("AKIA..." or "arn:aws:iam::<account>:user/AKIA..."), or "*".
 *
 * The decision, as S3 makes it for one account's keys: an explicit Deny of a statement that
 * matches (principal, action, resource) refuses; otherwise the bucket's owner may do
 * anything, and another key only what an Allow statement grants; else AccessDenied. A bucket
 * with no owner (made through the C API, or before owners were kept) is everyone's. Only the
 * owner may change or read the policy. Statements with a Condition are refused when the
 * policy is put: sluice evaluates none, and ignoring one would grant or deny too much.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/s3_int.h"

#define POLICY_MAX (20 * 1024)      /* S3's limit on a bucket policy */

/* ---- matching ---- */

/* Does s match pattern with '*' (any run) and '?' (one byte)? */
static bool glob(const char *pat, const char *s)
{
    const char *star = NULL, *mark = NULL;
    while (*s) {
        if (*pat == '*') {
            star = pat++;
            mark = s;
        }
        else if (*pat == '?' || *pat == *s) {
            pat++;
            s++;
        }
        else if (star) {
            pat = star + 1;
            s = ++mark;
        }
        else {
            return false;
        }
    }
    while (*pat == '*') {
        pat++;
    }
    return *pat == '\0';
}

/* A string or an array of strings: does any match s (case-insensitive for actions)? */
static bool any_glob(json_t *v, const char *s, bool ci)
{
    size_t i;
    json_t *e;
    char low[256], pl[256];

    if (json_is_string(v)) {
        const char *p = json_string_value(v);
        if (!ci) {
            return glob(p, s);
        }
        snprintf(low, sizeof low, "%s", s);
        snprintf(pl, sizeof pl, "%s", p);
        for (char *c = low; *c; c++) {
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        }
        for (char *c = pl; *c; c++) {
            *c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
        }
        return glob(pl, low);
    }
    json_array_foreach(v, i, e) {
        if (any_glob(e, s, ci)) {
            return true;
        }
    }
    return false;
}

static bool principal_one(const char *p, const char *key, const char *account)
{
    char arn[256];
    if (strcmp(p, "*") == 0 || strcmp(p, key) == 0) {
        return true;
    }
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:user/%s", account, key);
    return strcmp(p, arn) == 0;
}

static bool principal_matches(json_t *pr, const char *key, const char *account)
{
    size_t i;
    json_t *e;

    if (json_is_string(pr)) {
        return principal_one(json_string_value(pr), key, account);
    }
    if (json_is_object(pr)) {
        pr = json_object_get(pr, "AWS");
    }
    if (json_is_string(pr)) {
        return principal_one(json_string_value(pr), key, account);
    }
    json_array_foreach(pr, i, e) {
        if (json_is_string(e) && principal_one(json_string_value(e), key, account)) {
            return true;
        }
    }
    return false;
}

/* 1: an Allow matches, -1: a Deny matches (which wins), 0: nothing. */
static int evaluate(json_t *doc, const char *key, const char *account, const char *action,
                    const char *resource)
{
    json_t *st = json_object_get(doc, "Statement"), *s;
    size_t i, n = json_is_object(st) ? 1 : json_array_size(st);
    int out = 0;

    /* "Statement" is an array of statements, or one statement. */
    for (i = 0; i < n; i++) {
        s = json_is_object(st) ? st : json_array_get(st, i);
        const char *eff = json_string_value(json_object_get(s, "Effect"));
        if (!eff || !principal_matches(json_object_get(s, "Principal"), key, account) ||
            !any_glob(json_object_get(s, "Action"), action, true) ||
            !any_glob(json_object_get(s, "Resource"), resource, false)) {
            continue;
        }
        if (strcmp(eff, "Deny") == 0) {
            return -1;
        }
        out = 1;
    }
    return out;
}

/* The IAM action of an operation: s3:<name> with S3's exceptions. */
static const char *action_of(const char *op)
{
    static const char *const map[][2] = {
        { "HeadObject", "s3:GetObject" },
        { "GetObjectAttributes", "s3:GetObject" },
        { "CopyObject", "s3:PutObject" },
        { "PostObject", "s3:PutObject" },
        { "CreateMultipartUpload", "s3:PutObject" },
        { "UploadPart", "s3:PutObject" },
        { "UploadPartCopy", "s3:PutObject" },
        { "CompleteMultipartUpload", "s3:PutObject" },
        { "AbortMultipartUpload", "s3:AbortMultipartUpload" },
        { "ListParts", "s3:ListMultipartUploadParts" },
        { "ListMultipartUploads", "s3:ListBucketMultipartUploads" },
        { "DeleteObjects", "s3:DeleteObject" },
        { "ListObjects", "s3:ListBucket" },
        { "ListObjectsV2", "s3:ListBucket" },
        { "ListObjectVersions", "s3:ListBucketVersions" },
        { "HeadBucket", "s3:ListBucket" },
        { "PutBucketCors", "s3:PutBucketCORS" },
        { "GetBucketCors", "s3:GetBucketCORS" },
        { "DeleteBucketCors", "s3:PutBucketCORS" },
        { "PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration" },
        { "GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration" },
        { "DeleteBucketLifecycle", "s3:PutLifecycleConfiguration" },
        { "PutBucketEncryption", "s3:PutEncryptionConfiguration" },
        { "GetBucketEncryption", "s3:GetEncryptionConfiguration" },
        { "DeleteBucketEncryption", "s3:PutEncryptionConfiguration" },
        { "PutBucketNotificationConfiguration", "s3:PutBucketNotification" },
        { "GetBucketNotificationConfiguration", "s3:GetBucketNotification" },
        { "DeleteObjectTagging", "s3:DeleteObjectTagging" },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i][0], op) == 0) {
            return map[i][1];
        }
    }
    return NULL;
}

int s3__policy_decide(struct s3 *s3, MDB_txn *txn, const char *bucket, const char *key_id,
                      const char *op, struct sl_str object_key)
{
    struct sl_str owner, pol;
    char action[96], *resource;
    json_t *doc = NULL;
    json_error_t jerr;
    bool is_owner;
    int e = 0, rc = 0;

    /* No bucket: the handler answers NoSuchBucket; CreateBucket tells "taken" from
     * "yours" itself. */
    if (strcmp(op, "CreateBucket") == 0 || !s3__bucket_owner(s3, txn, bucket, &owner)) {
        return 0;
    }
    is_owner = owner.len == 0 || sl_str_eq_c(owner, key_id);
    if (strcmp(op, "PutBucketPolicy") == 0 || strcmp(op, "GetBucketPolicy") == 0 ||
        strcmp(op, "DeleteBucketPolicy") == 0 || strcmp(op, "DeleteBucket") == 0) {
        return is_owner ? 0 : S3__EDENIED;
    }
    if (s3__cfg_get(s3, txn, bucket, S3__CFG_POLICY, &pol) == 0) {
        doc = json_loadb(pol.p, pol.len, 0, &jerr);
    }
    if (!doc) {
        return is_owner ? 0 : S3__EDENIED;
    }
    {
        const char *a = action_of(op);
        snprintf(action, sizeof action, "%s%s", a ? "" : "s3:", a ? a : op);
    }
    {
        size_t n = strlen(bucket) + object_key.len + 16;
        resource = xmalloc(n);
        if (object_key.len) {
            snprintf(resource, n, "arn:aws:s3:::%s/%.*s", bucket, (int)object_key.len,
                     object_key.p);
        }
        else {
            snprintf(resource, n, "arn:aws:s3:::%s", bucket);
        }
    }
    e = evaluate(doc, key_id, s3->account, action, resource);
    free(resource);
    json_decref(doc);
    if (e < 0) {
        rc = S3__EDENIED;
    }
    else if (!is_owner && e == 0) {
        rc = S3__EDENIED;
    }
    return rc;
}

/* ---- Put/Get/DeleteBucketPolicy ---- */

/* Checks a policy document. Returns NULL or the message of MalformedPolicy. */
static const char *policy_check(const char *p, size_t n)
{
    json_error_t jerr;
    json_t *doc = json_loadb(p, n, 0, &jerr), *st, *s;
    const char *bad = NULL;
    size_t i;

    if (!json_is_object(doc)) {
        json_decref(doc);
        return "Policies must be valid JSON and the first byte must be '{'";
    }
    st = json_object_get(doc, "Statement");
    if (json_is_object(st)) {
        json_t *one = json_array();
        json_array_append(one, st);
        json_object_set_new(doc, "Statement", one);
        st = one;
    }
    if (!json_is_array(st) || json_array_size(st) == 0) {
        bad = "Missing required field Statement";
    }
    json_array_foreach(st, i, s) {
        const char *eff = json_string_value(json_object_get(s, "Effect"));
        if (bad) {
            break;
        }
        if (!eff || (strcmp(eff, "Allow") != 0 && strcmp(eff, "Deny") != 0)) {
            bad = "Invalid effect";
        }
        else if (!json_object_get(s, "Principal")) {
            bad = "Missing required field Principal";
        }
        else if (!json_object_get(s, "Action")) {
            bad = "Missing required field Action";
        }
        else if (!json_object_get(s, "Resource")) {
            bad = "Missing required field Resource";
        }
        else if (json_object_get(s, "Condition") || json_object_get(s, "NotAction") ||
                 json_object_get(s, "NotPrincipal") || json_object_get(s, "NotResource")) {
            bad = "Policy has a Condition, NotAction, NotPrincipal or NotResource, which "
                  "sluice does not evaluate";
        }
    }
    json_decref(doc);
    return bad;
}

int s3__policy_check_or_reply(struct http_req *r)
{
    const char *bad;

    if (r->body.len > POLICY_MAX) {
        return http_req_fail(r, AWSERR_S3_INVALID_POLICY_SIZE, NULL);
    }
    bad = policy_check(r->body.p ? r->body.p : "", r->body.len);
    if (bad) {
        return http_req_fail(r, AWSERR_S3_MALFORMED_POLICY, "%s", bad);
    }
    return 0;
}

int s3_put_bucket_policy(struct http_req *r)
{
    if (s3__policy_check_or_reply(r) < 0) {
        return -1;
    }
    return s3__cfg_put_or_reply(r, S3__CFG_POLICY,
                                (struct sl_str){ arena_strndup(&r->arena, r->body.p,
                                                               r->body.len),
                                                 r->body.len },
                                204);
}

int s3_delete_bucket_policy(struct http_req *r)
{
    return s3__cfg_put_or_reply(r, S3__CFG_POLICY, SL_STR_NULL, 204);
}

int s3_get_bucket_policy(struct http_req *r)
{
    return s3__cfg_reply_or_reply(r, S3__CFG_POLICY, AWSERR_S3_NO_POLICY, "application/json", "GetBucketPolicy");
}

/* ---- the check before every operation ---- */

int s3__authorize_or_reply(struct http_req *r, const char *bucket, struct sl_str key,
                           const char *op)
{
    struct s3 *s3 = s3__of(r);
    MDB_txn *txn;
    int rc;

    if (!bucket || !bucket[0] || !s3__bucket_name_valid(bucket, strlen(bucket))) {
        return 0;
    }
    rc = store_read_begin(s3->st, &txn);
    if (rc != 0) {
        return s3__internal_or_reply(r, op, rc);
    }
    rc = s3__policy_decide(s3, txn, bucket, r->auth.access_key, op, key);
    store_read_end(s3->st, txn);
    if (rc == S3__EDENIED) {
        return http_req_fail(r, AWSERR_S3_ACCESS_DENIED, NULL);
    }
    return rc == 0 ? 0 : s3__internal_or_reply(r, op, rc);
}
