/*
 * function.c: Lambda functions: CreateFunction, GetFunction, GetFunctionConfiguration,
 * ListFunctions, DeleteFunction, UpdateFunctionCode, and the code download that
 * GetFunction's Code.Location points at.
 *
 * What it is: validation as the Lambda API reference gives it (ValidationException for the
 * model's constraints, InvalidParameterValueException for Lambda's own rules), code stored
 * durably before the record that names it commits (code.c), and function records written
 * through the writer (docs/formats.md "Lambda"). A record keeps the FunctionConfiguration
 * that GetFunctionConfiguration returns; a function is Active as soon as it is created, so
 * CreateFunction answers State "Pending" (as Lambda does) and every later read "Active", and
 * UpdateFunctionCode answers LastUpdateStatus "InProgress", later reads "Successful" (the
 * waiters function_active_v2 and function_updated_v2 pass at once).
 *
 * What it is not: running functions (env.c, invoke.c). Every function is $LATEST: Publish is
 * accepted and no version is made.
 *
 * Invariants: a record names a code id whose zip is durable; after a commit that dropped the
 * last reference to a code id (delete, update), its files are removed once no environment
 * runs it (lam__code_release).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "lambda/lam_int.h"

/* ---- records ---- */

int lam__function_get(struct lam *l, MDB_txn *txn, const char *name, json_t **rec)
{
    MDB_val k = { strlen(name), (void *)name }, v;
    json_error_t jerr;
    int rc = mdb_get(txn, l->functions, &k, &v);
    if (rc == MDB_NOTFOUND) {
        return -ENOENT;
    }
    if (rc) {
        return rc;
    }
    *rec = json_loadb(v.mv_data, v.mv_size, 0, &jerr);
    return *rec ? 0 : -EIO;
}

/* Reads name's record outside any transaction (new reference). */
static int function_read(struct lam *l, const char *name, json_t **rec)
{
    MDB_txn *txn;
    int rc = store_read_begin(l->st, &txn);
    if (rc) {
        return rc;
    }
    rc = lam__function_get(l, txn, name, rec);
    store_read_end(l->st, txn);
    return rc;
}

static void copy_str(char *dst, size_t cap, const json_t *v)
{
    snprintf(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int lam__fnconf_load(struct lam *l, const char *name, struct lam__fnconf *out)
{
    json_t *rec = NULL, *cfg;
    int rc = function_read(l, name, &rec);
    memset(out, 0, sizeof *out);
    if (rc) {
        return rc;
    }
    cfg = json_object_get(rec, "Configuration");
    copy_str(out->name, sizeof out->name, json_object_get(cfg, "FunctionName"));
    copy_str(out->arn, sizeof out->arn, json_object_get(cfg, "FunctionArn"));
    copy_str(out->runtime, sizeof out->runtime, json_object_get(cfg, "Runtime"));
    copy_str(out->handler, sizeof out->handler, json_object_get(cfg, "Handler"));
    copy_str(out->revision, sizeof out->revision, json_object_get(cfg, "RevisionId"));
    copy_str(out->code_id, sizeof out->code_id, json_object_get(rec, "CodeId"));
    out->timeout_s = (unsigned)json_integer_value(json_object_get(cfg, "Timeout"));
    out->memory_mb = (unsigned)json_integer_value(json_object_get(cfg, "MemorySize"));
    out->vars = json_incref(json_object_get(json_object_get(cfg, "Environment"), "Variables"));
    json_decref(rec);
    return 0;
}

void lam__fnconf_release(struct lam__fnconf *c)
{
    json_decref(c->vars);
    c->vars = NULL;
}

struct put_op {
    struct store_op base;
    struct lam *l;
    struct http_req *r;
    const char *name;
    json_t *rec;            /* the new record (create), or the new code (update): owned by r */
    const char *revision;   /* update: the RevisionId the caller expects, or NULL */
    char old_code[33];      /* update: the code id the record named before (set by apply) */
};

static int put_record(struct lam *l, MDB_txn *txn, const char *name, json_t *rec)
{
    char *text = json_dumps(rec, JSON_COMPACT);
    MDB_val k = { strlen(name), (void *)name }, v = { strlen(text), text };
    int rc = mdb_put(txn, l->functions, &k, &v, 0);
    free(text);
    return rc;
}

static int create_apply(struct store_op *op, MDB_txn *txn)
{
    struct put_op *p = (struct put_op *)op;
    MDB_val k = { strlen(p->name), (void *)p->name }, v;
    if (mdb_get(txn, p->l->functions, &k, &v) == 0) {
        return -EEXIST;
    }
    return put_record(p->l, txn, p->name, p->rec);
}

static void resume_done(struct store_op *op, int rc)
{
    (void)rc;
    http_req_resume(((struct put_op *)op)->r);
}

/* A writer op of r on the record of name (from r's arena; r->op_ctx points at it). */
static struct put_op *put_op_new(struct http_req *r, int (*apply)(struct store_op *, MDB_txn *),
                                 const char *name, json_t *rec)
{
    struct put_op *op = arena_new(&r->arena, struct put_op);
    op->base.apply = apply;
    op->base.done = resume_done;
    op->l = lam__of(r);
    op->r = r;
    op->name = arena_strdup(&r->arena, name);
    op->rec = rec;
    r->op_ctx = op;
    return op;
}

/* ---- validation ---- */

static bool role_ok(const char *s)
{
    /* arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+ */
    const char *p;
    if (strncmp(s, "arn:", 4) != 0) {
        return false;
    }
    p = s + 4;
    if (strncmp(p, "aws", 3) == 0) {
        p += 3;
        while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '-') {
            p++;
        }
    }
    if (strncmp(p, ":iam::", 6) != 0) {
        return false;
    }
    p += 6;
    for (int i = 0; i < 12; i++, p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
    }
    if (strncmp(p, ":role", 5) != 0) {
        return false;
    }
    p += 5;
    if (*p == '/') {
        p++;
    }
    if (!*p) {
        return false;
    }
    for (; *p; p++) {
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789+=,.@-/", *p)) {
            return false;
        }
    }
    return true;
}

static int null_member(struct http_req *r, const char *member)
{
    return lam__validation(r,
                           "Value null at '%s' failed to satisfy constraint: Member must not "
                           "be null",
                           member);
}

static int string_member_or_reply(struct http_req *r, const json_t *in, const char *key,
                                  const char **out)
{
    const json_t *v = json_object_get(in, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        return 0;
    }
    if (!json_is_string(v)) {
        return lam__expect_type_or_reply(r, v, JSON_STRING, key);
    }
    *out = json_string_value(v);
    return 0;
}

static int runtime_or_reply(struct http_req *r, const char *rt)
{
    if (lam__runtime_find(rt)) {
        return 0;
    }
    if (!lam__runtime_known(rt)) {
        return lam__validation(r,
                               "Value '%.100s' at 'runtime' failed to satisfy constraint: "
                               "Member must satisfy enum value set: [%s] or be a valid ARN",
                               rt, lam__runtimes_served());
    }
    return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                         "The runtime parameter of %s is not supported for creating or "
                         "updating functions in sluice. Supported runtimes: %s.",
                         rt, lam__runtimes_served());
}

static int architectures_or_reply(struct http_req *r, const json_t *a, const char **out)
{
    const char *s;
    *out = "x86_64";
    if (!a || json_is_null(a)) {
        return 0;
    }
    if (!json_is_array(a)) {
        return lam__expect_type_or_reply(r, a, JSON_ARRAY, "Architectures");
    }
    if (json_array_size(a) != 1) {
        return lam__validation(r,
                               "Value '[]' at 'architectures' failed to satisfy constraint: "
                               "Member must have length less than or equal to 1 and greater "
                               "than or equal to 1");
    }
    s = json_string_value(json_array_get(a, 0));
    if (!s || (strcmp(s, "x86_64") != 0 && strcmp(s, "arm64") != 0)) {
        return lam__validation(r,
                               "Value '[%.50s]' at 'architectures' failed to satisfy "
                               "constraint: Member must satisfy constraint: [Member must "
                               "satisfy enum value set: [x86_64, arm64]]",
                               s ? s : "null");
    }
    *out = s;
    return 0;
}

/* The decoded Code.ZipFile / ZipFile (heap in *zip, freed with r). */
static void free_cb(void *p)
{
    free(p);
}

static int zipfile_or_reply(struct http_req *r, const json_t *zf, const char *op,
                            unsigned char **zip, size_t *len, char sha[45])
{
    struct lam__zip_info info;
    const char *b64;
    size_t n;
    long got;
    int rc;

    if (!zf || json_is_null(zf)) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Please provide a source for function code.");
    }
    if (!json_is_string(zf)) {
        return lam__expect_type_or_reply(r, zf, JSON_STRING, "ZipFile");
    }
    b64 = json_string_value(zf);
    n = json_string_length(zf);
    if (n / 4 * 3 > LAM_ZIP_MAX + 2) {
        return http_req_fail(r, AWSERR_LAMBDA_TOO_LARGE,
                             "Request must be smaller than %u bytes for the %s operation",
                             LAM_CODE_BODY_MAX, op);
    }
    *zip = try_malloc(n / 4 * 3 + 3);
    if (!*zip) {
        return http_req_fail(r, AWSERR_LAMBDA_SERVICE, "An internal error occurred.");
    }
    arena_on_clear(&r->arena, free_cb, *zip);
    got = sl_base64_decode((struct sl_str){ b64, n }, *zip, n / 4 * 3 + 3);
    if (got < 0) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_CONTENT,
                             "Could not parse request body into json: Could not deserialize "
                             "'ZipFile': not base64");
    }
    if ((size_t)got > LAM_ZIP_MAX) {
        return http_req_fail(r, AWSERR_LAMBDA_TOO_LARGE,
                             "Request must be smaller than %u bytes for the %s operation",
                             LAM_CODE_BODY_MAX, op);
    }
    *len = (size_t)got;
    rc = lam__zip_inspect(*zip, *len, &info);
    if (rc == LAM__EUNZIPPED) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Unzipped size must be smaller than %u bytes", LAM_UNZIPPED_MAX);
    }
    if (rc) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Could not unzip uploaded file. Please check your file, then try "
                             "to upload again.");
    }
    lam__sha256_b64(*zip, *len, sha);
    return 0;
}

/* Stores the zip durably and unpacks it (which proves it unpacks). Returns 0 or -1 with the
 * error set; on success id names the stored code. */
static int store_code_or_reply(struct http_req *r, const unsigned char *zip, size_t len,
                               char id[33])
{
    struct lam *l = lam__of(r);
    char dir[2048];
    int rc = lam__code_store(l, zip, len, id);
    if (rc) {
        return lam__internal(r, "storing code", rc);
    }
    rc = lam__code_dir(l, id, dir, sizeof dir);
    if (rc) {
        lam__code_remove(l, id);
        if (rc == LAM__EZIP || rc == LAM__EUNZIPPED) {
            return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                                 "Could not unzip uploaded file. Please check your file, then "
                                 "try to upload again.");
        }
        return lam__internal(r, "unpacking code", rc);
    }
    return 0;
}

/* ---- responses ---- */

/* A copy of cfg as a create or update answers it: Lambda reports the work it starts. */
static json_t *config_pending(const json_t *cfg, bool create)
{
    json_t *out = json_deep_copy(cfg);
    if (create) {
        json_object_set_new(out, "State", json_string("Pending"));
        json_object_set_new(out, "StateReason", json_string("The function is being created."));
        json_object_set_new(out, "StateReasonCode", json_string("Creating"));
        json_object_del(out, "LastUpdateStatus");
    }
    else {
        json_object_set_new(out, "LastUpdateStatus", json_string("InProgress"));
        json_object_set_new(out, "LastUpdateStatusReason",
                            json_string("The function is being created."));
        json_object_set_new(out, "LastUpdateStatusReasonCode", json_string("Creating"));
    }
    return out;
}

static int reply_status_json(struct http_req *r, unsigned status, json_t *out)
{
    int rc = http_reply_json(r, out);
    r->status = status;
    return rc;
}

/* ---- CreateFunction ---- */

static int create_cont(struct http_req *r)
{
    struct put_op *p = r->op_ctx;
    if (p->base.rc == -EEXIST) {
        lam__code_remove(p->l, json_string_value(json_object_get(p->rec, "CodeId")));
        return http_req_fail(r, AWSERR_LAMBDA_CONFLICT, "Function already exist: %s", p->name);
    }
    if (p->base.rc) {
        lam__code_remove(p->l, json_string_value(json_object_get(p->rec, "CodeId")));
        return lam__internal(r, "CreateFunction", p->base.rc);
    }
    log_info("lambda", "created function %s", p->name);
    return reply_status_json(r, 201,
                             config_pending(json_object_get(p->rec, "Configuration"), true));
}

static void json_free_cb(void *p)
{
    json_decref(p);
}

int lam_create_function(struct http_req *r)
{
    struct lam *l = lam__of(r);
    json_t *in, *cfg, *rec, *code;
    const char *name_s, *role, *runtime, *handler, *desc, *ptype, *arch;
    const json_t *env, *vars = NULL, *tags;
    struct lam__fnref ref;
    long timeout = LAM_TIMEOUT_DEFAULT, memory = LAM_MEMORY_DEFAULT;
    unsigned char *zip = NULL;
    size_t zlen = 0;
    char sha[45], id[33], arn[256], now[32], rev[37], rtv[200], hash[45], group[128];
    struct put_op *op;
    json_t *probe = NULL;

    if (lam__json_body_or_reply(r, &in) < 0 ||
        string_member_or_reply(r, in, "FunctionName", &name_s) < 0 ||
        string_member_or_reply(r, in, "Role", &role) < 0 ||
        string_member_or_reply(r, in, "Runtime", &runtime) < 0 ||
        string_member_or_reply(r, in, "Handler", &handler) < 0 ||
        string_member_or_reply(r, in, "Description", &desc) < 0 ||
        string_member_or_reply(r, in, "PackageType", &ptype) < 0 ||
        lam__expect_type_or_reply(r, json_object_get(in, "Code"), JSON_OBJECT, "Code") < 0 ||
        lam__expect_type_or_reply(r, json_object_get(in, "Environment"), JSON_OBJECT,
                                  "Environment") < 0 ||
        lam__expect_type_or_reply(r, json_object_get(in, "Tags"), JSON_OBJECT, "Tags") < 0 ||
        lam__expect_type_or_reply(r, json_object_get(in, "Publish"), JSON_TRUE, "Publish") < 0) {
        return -1;
    }
    if (!name_s) {
        return null_member(r, "functionName");
    }
    if (!role) {
        return null_member(r, "role");
    }
    if (!json_object_get(in, "Code") || json_is_null(json_object_get(in, "Code"))) {
        return null_member(r, "code");
    }
    if (lam__fnref_or_reply(r, name_s, false, &ref) < 0) {
        return -1;
    }
    if (!role_ok(role)) {
        return lam__validation(r,
                               "Value '%.200s' at 'role' failed to satisfy constraint: Member "
                               "must satisfy regular expression pattern: "
                               "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
                               role);
    }
    if (handler && (strlen(handler) > LAM_HANDLER_MAX || strpbrk(handler, " \t\r\n\f\v"))) {
        return lam__validation(r,
                               "Value '%.200s' at 'handler' failed to satisfy constraint: "
                               "Member must satisfy regular expression pattern: [^\\s]+ and "
                               "have length less than or equal to %d",
                               handler, LAM_HANDLER_MAX);
    }
    if (desc && strlen(desc) > LAM_DESCRIPTION_MAX) {
        return lam__validation(r,
                               "Value '%.50s...' at 'description' failed to satisfy "
                               "constraint: Member must have length less than or equal to %d",
                               desc, LAM_DESCRIPTION_MAX);
    }
    if (lam__int_member_or_reply(r, in, "Timeout", "timeout", 1, LAM_TIMEOUT_MAX, &timeout) < 0 ||
        lam__int_member_or_reply(r, in, "MemorySize", "memorySize", 128, 10240, &memory) < 0 ||
        architectures_or_reply(r, json_object_get(in, "Architectures"), &arch) < 0) {
        return -1;
    }
    if (ptype && strcmp(ptype, "Zip") != 0 && strcmp(ptype, "Image") != 0) {
        return lam__validation(r,
                               "Value '%.50s' at 'packageType' failed to satisfy constraint: "
                               "Member must satisfy enum value set: [Zip, Image]",
                               ptype);
    }
    if (ptype && strcmp(ptype, "Image") == 0) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "sluice runs .zip file archives only: PackageType Image is not "
                             "supported.");
    }
    if (!runtime || !handler) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Runtime and Handler are mandatory parameters for functions "
                             "created with deployment packages.");
    }
    if (runtime_or_reply(r, runtime) < 0) {
        return -1;
    }
    env = json_object_get(in, "Environment");
    if (env && json_is_object(env)) {
        vars = json_object_get(env, "Variables");
        if (lam__check_env_vars_or_reply(r, vars) < 0) {
            return -1;
        }
    }
    tags = json_object_get(in, "Tags");
    code = json_object_get(in, "Code");
    if (ref.qualifier[0] || ref.elsewhere) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "Function name %.200s is not a valid name for a new function in "
                             "this region and account.",
                             name_s);
    }
    if (!json_object_get(code, "ZipFile") &&
        (json_object_get(code, "S3Bucket") || json_object_get(code, "ImageUri"))) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "sluice takes function code as Code.ZipFile only.");
    }
    /* Refuse a name in use before the zip is written (the writer op checks again). */
    if (function_read(l, ref.name, &probe) == 0) {
        json_decref(probe);
        return http_req_fail(r, AWSERR_LAMBDA_CONFLICT, "Function already exist: %s", ref.name);
    }
    if (zipfile_or_reply(r, json_object_get(code, "ZipFile"), "CreateFunction", &zip, &zlen,
                         sha) < 0 ||
        store_code_or_reply(r, zip, zlen, id) < 0) {
        return -1;
    }
    lam__function_arn(l, ref.name, arn, sizeof arn);
    lam__fmt_time(lam__now_ms(), now);
    sl_uuid4(rev);
    lam__sha256_b64(runtime, strlen(runtime), hash);
    {
        /* A stable, made-up runtime version ARN per runtime name (AWS's is opaque too). */
        char hex[65];
        unsigned char md[32];
        long dl = sl_base64_decode(sl_str_c(hash), md, sizeof md);
        sl_hex(md, dl > 0 ? (size_t)dl : 0, hex);
        snprintf(rtv, sizeof rtv, "arn:aws:lambda:%s::runtime:%s", l->region, hex);
    }
    snprintf(group, sizeof group, "/aws/lambda/%s", ref.name);
    cfg = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:s, s:s, s:s, "
                    "s:{s:s}, s:s, s:s, s:s, s:s, s:[s], s:{s:i}, s:{s:s, s:s}, s:{s:s}, "
                    "s:{s:s, s:s}}",
                    "FunctionName", ref.name, "FunctionArn", arn, "Runtime", runtime, "Role",
                    role, "Handler", handler, "CodeSize", (json_int_t)zlen, "Description",
                    desc ? desc : "", "Timeout", (json_int_t)timeout, "MemorySize",
                    (json_int_t)memory, "LastModified", now, "CodeSha256", sha, "Version",
                    "$LATEST", "TracingConfig", "Mode", "PassThrough", "RevisionId", rev,
                    "State", "Active", "LastUpdateStatus", "Successful", "PackageType", "Zip",
                    "Architectures", arch, "EphemeralStorage", "Size", 512, "SnapStart",
                    "ApplyOn", "None", "OptimizationStatus", "Off", "RuntimeVersionConfig",
                    "RuntimeVersionArn", rtv, "LoggingConfig", "LogFormat", "Text", "LogGroup",
                    group);
    if (env && json_is_object(env)) {
        json_t *vc = vars && json_is_object(vars) ? json_deep_copy(vars) : json_object();
        json_object_set_new(cfg, "Environment", json_pack("{s:o}", "Variables", vc));
    }
    rec = json_pack("{s:o, s:s}", "Configuration", cfg, "CodeId", id);
    if (tags && json_is_object(tags) && json_object_size(tags)) {
        json_object_set(rec, "Tags", (json_t *)tags);
    }
    arena_on_clear(&r->arena, json_free_cb, rec);
    op = put_op_new(r, create_apply, ref.name, rec);
    if (lam__submit_or_reply(r, &op->base, create_cont) < 0) {
        lam__code_remove(l, id);
        return -1;
    }
    return 0;
}

/* ---- reads ---- */

/* The function a path names, read: *rec a new reference the request owns. Refuses a
 * qualifier other than $LATEST (no versions) as Lambda refuses an unknown version. */
static int target_record_or_reply(struct http_req *r, struct lam__fnref *ref, json_t **rec)
{
    struct lam *l = lam__of(r);
    const struct lam__target *t = r->op_ctx;
    const char *q = http_req_query(r, "Qualifier");
    int rc;

    if (lam__fnref_or_reply(r, t->name, true, ref) < 0) {
        return -1;
    }
    if (q && !ref->qualifier[0]) {
        snprintf(ref->qualifier, sizeof ref->qualifier, "%s", q);
    }
    if (ref->elsewhere || !lam__qualifier_latest(ref->qualifier)) {
        return lam__not_found(r, ref);
    }
    rc = function_read(l, ref->name, rec);
    if (rc == -ENOENT) {
        return lam__not_found(r, ref);
    }
    if (rc) {
        return lam__internal(r, "reading a function", rc);
    }
    arena_on_clear(&r->arena, json_free_cb, *rec);
    return 0;
}

int lam_get_function_configuration(struct http_req *r)
{
    struct lam__fnref ref;
    json_t *rec;
    if (target_record_or_reply(r, &ref, &rec) < 0) {
        return -1;
    }
    return http_reply_json(r, json_deep_copy(json_object_get(rec, "Configuration")));
}

int lam_get_function(struct http_req *r)
{
    struct lam *l = lam__of(r);
    struct lam__fnref ref;
    json_t *rec, *out;
    const char *host = http_req_header(r, "host");
    char loc[1024];

    if (target_record_or_reply(r, &ref, &rec) < 0) {
        return -1;
    }
    /* Lambda's Location is a presigned S3 URL valid for ten minutes; sluice's is a path on
     * its own endpoint, unguessable by the random code id, that serves the zip. */
    if (host) {
        snprintf(loc, sizeof loc, "http://%s/2015-03-31/functions/%s/code/%s.zip", host,
                 ref.name, json_string_value(json_object_get(rec, "CodeId")));
    }
    else {
        snprintf(loc, sizeof loc, "http://127.0.0.1:%u/2015-03-31/functions/%s/code/%s.zip",
                 http_server_port(l->srv), ref.name,
                 json_string_value(json_object_get(rec, "CodeId")));
    }
    out = json_pack("{s:O, s:{s:s, s:s}}", "Configuration", json_object_get(rec, "Configuration"),
                    "Code", "RepositoryType", "S3", "Location", loc);
    if (json_object_get(rec, "Tags")) {
        json_object_set(out, "Tags", json_object_get(rec, "Tags"));
    }
    return http_reply_json(r, out);
}

int lam_download_code(struct http_req *r)
{
    struct lam *l = lam__of(r);
    const struct lam__target *t = r->op_ctx;
    struct lam__fnref ref;
    json_t *rec = NULL;
    char path[64];
    struct stat sb;
    int fd;

    if (lam__parse_fnref(t->name, l->region, l->account, true, &ref) != 0 ||
        function_read(l, ref.name, &rec) != 0) {
        return http_req_fail(r, AWSERR_LAMBDA_NOT_FOUND, "The code location has expired.");
    }
    if (strcmp(json_string_value(json_object_get(rec, "CodeId")), t->code_id) != 0) {
        json_decref(rec);
        return http_req_fail(r, AWSERR_LAMBDA_NOT_FOUND, "The code location has expired.");
    }
    json_decref(rec);
    snprintf(path, sizeof path, "%s.zip", t->code_id);
    fd = openat(l->code_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0) {
            close(fd);
        }
        return http_req_fail(r, AWSERR_LAMBDA_NOT_FOUND, "The code location has expired.");
    }
    r->status = 200;
    r->content_type = "application/zip";
    r->resp_fd = fd;
    r->resp_fd_off = 0;
    r->resp_fd_len = (uint64_t)sb.st_size;
    return 0;
}

/* ---- ListFunctions ---- */

int lam_list_functions(struct http_req *r)
{
    struct lam *l = lam__of(r);
    const char *marker = http_req_query(r, "Marker");
    long max = LAM_LIST_DEFAULT;
    unsigned char after[LAM_NAME_MAX + 1];
    long after_len = 0;
    struct lam__list it;
    json_t *list, *out;
    long n = 0;

    if (lam__max_items_or_reply(r, &max) < 0) {
        return -1;
    }
    /* Lambda returns at most 50 a page, whatever MaxItems asks. */
    if (max > LAM_LIST_DEFAULT) {
        max = LAM_LIST_DEFAULT;
    }
    if (marker && marker[0]) {
        after_len = sl_base64_decode(sl_str_c(marker), after, sizeof after - 1);
        if (after_len <= 0) {
            return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                                 "Invalid Marker: %.100s", marker);
        }
    }
    if (lam__list_begin_or_reply(r, l->functions, after, (size_t)after_len, &it) < 0) {
        return -1;
    }
    list = json_array();
    out = json_object();
    for (; it.g == 0; it.g = mdb_cursor_get(it.c, &it.k, &it.v, MDB_NEXT)) {
        json_error_t jerr;
        json_t *rec;
        if (n == max) {
            /* The marker is the last name returned, opaque to the client. */
            const char *last = json_string_value(
                json_object_get(json_array_get(list, (size_t)n - 1), "FunctionName"));
            char m[LAM_NAME_MAX * 2 + 8];
            sl_base64_encode(last, strlen(last), m);
            json_object_set_new(out, "NextMarker", json_string(m));
            break;
        }
        rec = json_loadb(it.v.mv_data, it.v.mv_size, 0, &jerr);
        if (rec) {
            json_array_append(list, json_object_get(rec, "Configuration"));
            json_decref(rec);
            n++;
        }
    }
    lam__list_end(r, &it);
    json_object_set_new(out, "Functions", list);
    return http_reply_json(r, out);
}

/* ---- DeleteFunction ---- */

static int not_found_name(struct http_req *r, const char *name)
{
    struct lam__fnref ref;
    memset(&ref, 0, sizeof ref);
    snprintf(ref.name, sizeof ref.name, "%s", name);
    return lam__not_found(r, &ref);
}

static int delete_apply(struct store_op *op, MDB_txn *txn)
{
    struct put_op *p = (struct put_op *)op;
    MDB_val k = { strlen(p->name), (void *)p->name }, v;
    json_t *rec = NULL;
    int rc = lam__function_get(p->l, txn, p->name, &rec);
    if (rc) {
        return rc;
    }
    copy_str(p->old_code, sizeof p->old_code, json_object_get(rec, "CodeId"));
    json_decref(rec);
    (void)v;
    return mdb_del(txn, p->l->functions, &k, NULL);
}

static int delete_cont(struct http_req *r)
{
    struct put_op *p = r->op_ctx;
    if (p->base.rc == -ENOENT) {
        return not_found_name(r, p->name);
    }
    if (p->base.rc) {
        return lam__internal(r, "DeleteFunction", p->base.rc);
    }
    lam__retire(p->l, p->name);
    lam__code_release(p->l, p->old_code);
    log_info("lambda", "deleted function %s", p->name);
    return http_reply(r, 204, NULL, "", 0);
}

int lam_delete_function(struct http_req *r)
{
    const struct lam__target *t = r->op_ctx;
    const char *q = http_req_query(r, "Qualifier");
    struct lam__fnref ref;
    struct put_op *op;

    if (lam__fnref_or_reply(r, t->name, false, &ref) < 0) {
        return -1;
    }
    if (q && !ref.qualifier[0]) {
        snprintf(ref.qualifier, sizeof ref.qualifier, "%s", q);
    }
    if (strcmp(ref.qualifier, "$LATEST") == 0) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "$LATEST version cannot be deleted without deleting the function.");
    }
    if (ref.elsewhere || ref.qualifier[0]) {
        return lam__not_found(r, &ref);
    }
    op = put_op_new(r, delete_apply, ref.name, NULL);
    return lam__submit_or_reply(r, &op->base, delete_cont);
}

/* ---- UpdateFunctionCode ---- */

static int update_apply(struct store_op *op, MDB_txn *txn)
{
    struct put_op *p = (struct put_op *)op;
    json_t *rec = NULL, *cfg;
    char rev[37], now[32];
    int rc = lam__function_get(p->l, txn, p->name, &rec);
    if (rc) {
        return rc;
    }
    cfg = json_object_get(rec, "Configuration");
    if (p->revision &&
        strcmp(p->revision, json_string_value(json_object_get(cfg, "RevisionId"))) != 0) {
        json_decref(rec);
        return -EBADMSG;
    }
    copy_str(p->old_code, sizeof p->old_code, json_object_get(rec, "CodeId"));
    sl_uuid4(rev);
    lam__fmt_time(lam__now_ms(), now);
    json_object_set(rec, "CodeId", json_object_get(p->rec, "CodeId"));
    json_object_set(cfg, "CodeSha256", json_object_get(p->rec, "CodeSha256"));
    json_object_set(cfg, "CodeSize", json_object_get(p->rec, "CodeSize"));
    if (json_object_get(p->rec, "Architectures")) {
        json_object_set(cfg, "Architectures", json_object_get(p->rec, "Architectures"));
    }
    json_object_set_new(cfg, "RevisionId", json_string(rev));
    json_object_set_new(cfg, "LastModified", json_string(now));
    rc = put_record(p->l, txn, p->name, rec);
    /* What the continuation answers: the record as committed. */
    json_object_set(p->rec, "Result", cfg);
    json_decref(rec);
    return rc;
}

static int update_cont(struct http_req *r)
{
    struct put_op *p = r->op_ctx;
    const char *new_code = json_string_value(json_object_get(p->rec, "CodeId"));
    if (p->base.rc) {
        lam__code_remove(p->l, new_code);
    }
    if (p->base.rc == -ENOENT) {
        return not_found_name(r, p->name);
    }
    if (p->base.rc == -EBADMSG) {
        return http_req_fail(r, AWSERR_LAMBDA_PRECONDITION,
                             "The Revision Id provided does not match the latest Revision Id. "
                             "Call the GetFunction/GetAlias API to retrieve the latest Revision "
                             "Id");
    }
    if (p->base.rc) {
        return lam__internal(r, "UpdateFunctionCode", p->base.rc);
    }
    /* Warm environments run the old code: new invocations get new ones. */
    lam__retire(p->l, p->name);
    lam__code_release(p->l, p->old_code);
    log_info("lambda", "updated the code of function %s", p->name);
    return http_reply_json(r, config_pending(json_object_get(p->rec, "Result"), false));
}

int lam_update_function_code(struct http_req *r)
{
    struct lam *l = lam__of(r);
    const struct lam__target *t = r->op_ctx;
    struct lam__fnref ref;
    json_t *in, *rec = NULL, *upd;
    const char *revision, *arch;
    unsigned char *zip = NULL;
    size_t zlen = 0;
    char sha[45], id[33];
    struct put_op *op;
    const json_t *dry;
    int rc;

    if (lam__json_body_or_reply(r, &in) < 0 || lam__fnref_or_reply(r, t->name, false, &ref) < 0 ||
        string_member_or_reply(r, in, "RevisionId", &revision) < 0 ||
        lam__expect_type_or_reply(r, json_object_get(in, "DryRun"), JSON_TRUE, "DryRun") < 0 ||
        lam__expect_type_or_reply(r, json_object_get(in, "Publish"), JSON_TRUE, "Publish") < 0 ||
        architectures_or_reply(r, json_object_get(in, "Architectures"), &arch) < 0) {
        return -1;
    }
    if (ref.elsewhere || ref.qualifier[0]) {
        return lam__not_found(r, &ref);
    }
    rc = function_read(l, ref.name, &rec);
    if (rc == -ENOENT) {
        return lam__not_found(r, &ref);
    }
    if (rc) {
        return lam__internal(r, "UpdateFunctionCode", rc);
    }
    arena_on_clear(&r->arena, json_free_cb, rec);
    if (!json_object_get(in, "ZipFile") &&
        (json_object_get(in, "S3Bucket") || json_object_get(in, "ImageUri"))) {
        return http_req_fail(r, AWSERR_LAMBDA_INVALID_PARAMETER,
                             "sluice takes function code as ZipFile only.");
    }
    if (zipfile_or_reply(r, json_object_get(in, "ZipFile"), "UpdateFunctionCode", &zip, &zlen,
                         sha) < 0) {
        return -1;
    }
    dry = json_object_get(in, "DryRun");
    if (dry && json_is_true(dry)) {
        /* Validated, nothing changed: the configuration as it is. */
        return http_reply_json(r, json_deep_copy(json_object_get(rec, "Configuration")));
    }
    if (store_code_or_reply(r, zip, zlen, id) < 0) {
        return -1;
    }
    upd = json_pack("{s:s, s:s, s:I}", "CodeId", id, "CodeSha256", sha, "CodeSize",
                    (json_int_t)zlen);
    if (json_object_get(in, "Architectures")) {
        json_object_set_new(upd, "Architectures", json_pack("[s]", arch));
    }
    arena_on_clear(&r->arena, json_free_cb, upd);
    op = put_op_new(r, update_apply, ref.name, upd);
    op->revision = revision ? arena_strdup(&r->arena, revision) : NULL;
    if (lam__submit_or_reply(r, &op->base, update_cont) < 0) {
        lam__code_remove(l, id);
        return -1;
    }
    return 0;
}
