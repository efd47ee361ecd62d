/*
 * sigv4.c: AWS Signature Version 4 verification and signing (see sigv4.h).
 *
 * What it is: the canonical request and string to sign rebuilt from the request exactly as
 * received, as the SigV4 documentation ("Create a canonical request for IAM") and botocore's
 * signer build them; the signing-key derivation with a small cache; constant-time comparison;
 * SHA-256 helpers. The aws-chunked decoder is in sigv4_chunked.c and shares the primitives
 * declared at the end of sigv4.h's private part (sigv4__hmac, sigv4__sha256).
 *
 * What it is not: it never decides what a failure means to a client; it returns SIGV4_E*.
 *
 * Invariants: OpenSSL's SHA-256 and HMAC implementations are fetched once at
 * sigv4_global_init(); each thread keeps its own digest and MAC contexts, so a verification
 * allocates nothing but its canonical-request buffer. One of the MAC contexts stays keyed with
 * the last signing key its thread used: HMAC derives its inner and outer pads (two SHA-256
 * blocks and an EVP context set-up) from the key, and requests of one caller share a signing
 * key all day, so re-initialising that context with no key (OpenSSL's HMAC keeps the pads)
 * saves the derivation on every request. Secrets and signing keys never leave this file
 * except into the caller's struct sigv4_auth.
 */
#define _DEFAULT_SOURCE /* timegm */
#include "core/sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/sigv4_int.h"

#define CANON_MAX (64 * 1024)      /* canonical requests larger than this are refused */
#define SKEW_SECONDS (15 * 60)
#define KEY_CACHE 32

static EVP_MD *g_sha256;
static EVP_MAC *g_hmac;
static pthread_key_t g_tls_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Per-thread OpenSSL contexts (created on first use, freed at thread exit). */
struct tls_ctx {
    EVP_MD_CTX *md;
    EVP_MAC_CTX *mac;       /* re-keyed on every use (signing-key derivation) */
    EVP_MAC_CTX *sig;       /* keyed with sig_key while sig_keyed */
    unsigned char sig_key[32];
    bool sig_keyed;
};

static void tls_free(void *p)
{
    struct tls_ctx *t = p;
    if (t) {
        EVP_MD_CTX_free(t->md);
        EVP_MAC_CTX_free(t->mac);
        EVP_MAC_CTX_free(t->sig);
        OPENSSL_cleanse(t->sig_key, sizeof t->sig_key);
        free(t);
    }
}

static void once_init(void)
{
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!g_sha256 || !g_hmac || pthread_key_create(&g_tls_key, tls_free) != 0) {
        /* Without SHA-256 and HMAC no request can be verified: nothing sane to do. */
        abort();
    }
}

void sigv4_global_init(void)
{
    pthread_once(&g_once, once_init);
}

void sigv4_global_cleanup(void)
{
    struct tls_ctx *t;
    if (!g_sha256) {
        return;
    }
    t = pthread_getspecific(g_tls_key);
    pthread_setspecific(g_tls_key, NULL);
    tls_free(t);
}

static struct tls_ctx *tls(void)
{
    struct tls_ctx *t;
    sigv4_global_init();
    t = pthread_getspecific(g_tls_key);
    if (!t) {
        OSSL_PARAM params[2];
        t = xcalloc(1, sizeof *t);
        t->md = EVP_MD_CTX_new();
        t->mac = EVP_MAC_CTX_new(g_hmac);
        t->sig = EVP_MAC_CTX_new(g_hmac);
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
        params[1] = OSSL_PARAM_construct_end();
        if (!t->md || !t->mac || !t->sig || !EVP_MAC_CTX_set_params(t->mac, params) ||
            !EVP_MAC_CTX_set_params(t->sig, params)) {
            abort();
        }
        pthread_setspecific(g_tls_key, t);
    }
    return t;
}

void sigv4__sha256(const void *p, size_t n, unsigned char out[32])
{
    struct tls_ctx *t = tls();
    unsigned int len = 32;
    EVP_DigestInit_ex2(t->md, g_sha256, NULL);
    EVP_DigestUpdate(t->md, p, n);
    EVP_DigestFinal_ex(t->md, out, &len);
}

void sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    sigv4__sha256(p, n, d);
    sl_hex(d, 32, out);
}

void sigv4__hmac(const void *key, size_t keylen, const void *msg, size_t n,
                 unsigned char out[32])
{
    struct tls_ctx *t = tls();
    size_t len = 32;
    EVP_MAC_init(t->mac, key, keylen, NULL);
    EVP_MAC_update(t->mac, msg, n);
    EVP_MAC_final(t->mac, out, &len, 32);
}

void sigv4__hmac_signing(const unsigned char key[32], const void *msg, size_t n,
                         unsigned char out[32])
{
    struct tls_ctx *t = tls();
    size_t len = 32;
    if (t->sig_keyed && CRYPTO_memcmp(t->sig_key, key, 32) == 0) {
        /* Same key: OpenSSL's HMAC restarts from the pads it derived when keyed. */
        EVP_MAC_init(t->sig, NULL, 0, NULL);
    }
    else {
        t->sig_keyed = EVP_MAC_init(t->sig, key, 32, NULL) == 1;
        memcpy(t->sig_key, key, 32);
    }
    EVP_MAC_update(t->sig, msg, n);
    EVP_MAC_final(t->sig, out, &len, 32);
}

struct sigv4_sha256 {
    EVP_MD_CTX *md;
};

struct sigv4_sha256 *sigv4_sha256_new(void)
{
    struct sigv4_sha256 *h = xmalloc(sizeof *h);
    sigv4_global_init();
    h->md = EVP_MD_CTX_new();
    if (!h->md) {
        abort();
    }
    EVP_DigestInit_ex2(h->md, g_sha256, NULL);
    return h;
}

void sigv4_sha256_update(struct sigv4_sha256 *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->md, p, n);
}

void sigv4_sha256_final_hex(struct sigv4_sha256 *h, char out[65])
{
    unsigned char d[32];
    unsigned int len = 32;
    EVP_DigestFinal_ex(h->md, d, &len);
    sl_hex(d, 32, out);
    EVP_DigestInit_ex2(h->md, g_sha256, NULL);
}

void sigv4_sha256_free(struct sigv4_sha256 *h)
{
    if (h) {
        EVP_MD_CTX_free(h->md);
        free(h);
    }
}

const char *sigv4_strerror(int rc)
{
    switch (rc) {
    case SIGV4_OK:
        return "ok";
    case SIGV4_EMISSING:
        return "no authentication";
    case SIGV4_EMALFORMED:
        return "malformed authorization";
    case SIGV4_EALGORITHM:
        return "unsupported algorithm";
    case SIGV4_EUNKNOWNKEY:
        return "unknown access key";
    case SIGV4_EMISMATCH:
        return "signature mismatch";
    case SIGV4_ESKEW:
        return "request time too skewed";
    case SIGV4_EEXPIRED:
        return "presigned request expired";
    case SIGV4_ECONTENTSHA:
        return "content sha256 mismatch";
    case SIGV4_ECHUNK:
        return "malformed aws-chunked body";
    case SIGV4_ECHUNKSIG:
        return "chunk signature mismatch";
    case SIGV4_EDATE:
        return "credential date mismatch";
    case SIGV4_EHOST:
        return "host header not signed";
    case SIGV4_EEXPIRES:
        return "bad X-Amz-Expires";
    default:
        return "unknown sigv4 error";
    }
}

/* ---- signing keys ---- */

#define KEY_SECRET_MAX 256

struct key_entry {
    char id[129];
    char date[9];
    char region[33];
    char service[33];
    /* The secret the key was derived from: a changed secret must not hit the old key. It is
     * compared, not hashed: a SHA-256 of the secret on every request cost more than the rest
     * of the look-up. */
    char secret[KEY_SECRET_MAX];
    size_t secret_len;
    unsigned char key[32];
    unsigned long long used;
};

static struct key_entry g_keys[KEY_CACHE];
static unsigned long long g_key_clock;
static pthread_mutex_t g_key_mu = PTHREAD_MUTEX_INITIALIZER;

static void derive_key(const char *secret, const char *date, const char *region,
                       const char *service, unsigned char out[32])
{
    char k0[4 + KEY_SECRET_MAX];
    unsigned char a[32], b[32];
    size_t n = strnlen(secret, KEY_SECRET_MAX);
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, n);
    sigv4__hmac(k0, 4 + n, date, strlen(date), a);
    sigv4__hmac(a, 32, region, strlen(region), b);
    sigv4__hmac(b, 32, service, strlen(service), a);
    sigv4__hmac(a, 32, "aws4_request", 12, out);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(a, sizeof a);
    OPENSSL_cleanse(b, sizeof b);
}

/* Copies the NUL-terminated s (shorter than cap, as the callers' buffers guarantee). */
static void copy_field(char *dst, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void signing_key(const char *id, const char *secret, const char *date,
                        const char *region, const char *service, unsigned char out[32])
{
    size_t victim = 0;
    size_t secret_len = strlen(secret);
    bool cacheable = secret_len < KEY_SECRET_MAX;

    pthread_mutex_lock(&g_key_mu);
    for (size_t i = 0; cacheable && i < KEY_CACHE; i++) {
        struct key_entry *e = &g_keys[i];
        if (e->used && e->secret_len == secret_len && strcmp(e->id, id) == 0 &&
            strcmp(e->date, date) == 0 && strcmp(e->region, region) == 0 &&
            strcmp(e->service, service) == 0 &&
            CRYPTO_memcmp(e->secret, secret, secret_len) == 0) {
            e->used = ++g_key_clock;
            memcpy(out, e->key, 32);
            pthread_mutex_unlock(&g_key_mu);
            return;
        }
        if (e->used < g_keys[victim].used) {
            victim = i;
        }
    }
    pthread_mutex_unlock(&g_key_mu);
    derive_key(secret, date, region, service, out);
    if (!cacheable) {
        return;
    }
    pthread_mutex_lock(&g_key_mu);
    {
        struct key_entry *e = &g_keys[victim];
        OPENSSL_cleanse(e->secret, sizeof e->secret);
        copy_field(e->id, sizeof e->id, id);
        copy_field(e->date, sizeof e->date, date);
        copy_field(e->region, sizeof e->region, region);
        copy_field(e->service, sizeof e->service, service);
        memcpy(e->secret, secret, secret_len);
        e->secret_len = secret_len;
        memcpy(e->key, out, 32);
        e->used = ++g_key_clock;
    }
    pthread_mutex_unlock(&g_key_mu);
}

void sigv4__scope(char out[160], const char *date, const char *region, const char *service)
{
    size_t dl = strnlen(date, 8), rl = strnlen(region, 32), sl = strnlen(service, 32), n = 0;
    memcpy(out, date, dl);
    n += dl;
    out[n++] = '/';
    memcpy(out + n, region, rl);
    n += rl;
    out[n++] = '/';
    memcpy(out + n, service, sl);
    n += sl;
    memcpy(out + n, "/aws4_request", sizeof "/aws4_request");
}

/* ---- canonical request ---- */

static struct sl_str find_header(const struct sigv4_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->n_headers; i++) {
        if (sl_str_case_eq(rq->headers[i].name, name)) {
            return rq->headers[i].value;
        }
    }
    return SL_STR_NULL;
}

static bool find_query(const struct sigv4_request *rq, const char *name, struct sl_str *out)
{
    for (size_t i = 0; i < rq->n_query; i++) {
        if (sl_str_eq_c(rq->query[i].name, name)) {
            *out = rq->query[i].value;
            return true;
        }
    }
    return false;
}

/* Appends the AWS URI encoding of s. */
static int put_encoded(struct buf *b, struct sl_str s, bool keep_slash)
{
    char tmp[256];
    while (s.len) {
        size_t n = s.len > 80 ? 80 : s.len;
        size_t m = sl_uri_encode((struct sl_str){ s.p, n }, keep_slash, tmp);
        if (buf_append(b, tmp, m) < 0) {
            return -1;
        }
        s.p += n;
        s.len -= n;
    }
    return 0;
}

/* Decodes a raw (percent-encoded) component into dst (from the heap, caller frees); keeps
 * the raw bytes when the encoding is malformed, as lenient servers do. */
static struct sl_str decode_dup(struct sl_str raw, char **owned)
{
    char *d = xmalloc(raw.len + 1);
    long n = sl_uri_decode(raw, d);
    if (n < 0) {
        memcpy(d, raw.p, raw.len);
        n = (long)raw.len;
    }
    *owned = d;
    return (struct sl_str){ d, (size_t)n };
}

/* Removes "." and ".." segments and empty segments, as botocore's normalize_url_path. */
static size_t normalize_path(const char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    bool trailing = len > 1 && in[len - 1] == '/';
    while (i < len) {
        size_t j = i;
        while (j < len && in[j] != '/') {
            j++;
        }
        if (j > i) {
            size_t seg = j - i;
            if (seg == 1 && in[i] == '.') {
                /* skip */
            }
            else if (seg == 2 && in[i] == '.' && in[i + 1] == '.') {
                while (o > 0 && out[o - 1] != '/') {
                    o--;
                }
                if (o > 0) {
                    o--;
                }
            }
            else {
                out[o++] = '/';
                memcpy(out + o, in + i, seg);
                o += seg;
            }
        }
        i = j + 1;
    }
    if (o == 0 || trailing) {
        out[o++] = '/';
    }
    return o;
}

static int put_canonical_uri(struct buf *b, const struct sigv4_request *rq)
{
    struct sl_str raw = rq->raw_path;
    char *dec = NULL;
    int rc;

    if (raw.len == 0) {
        return buf_puts(b, "/");
    }
    if (rq->s3) {
        struct sl_str d = decode_dup(raw, &dec);
        rc = put_encoded(b, d, true);
    }
    else {
        /* Other services sign the path as sent, normalised, then encoded again. */
        char small[256];
        char *norm = raw.len + 2 <= sizeof small ? small : xmalloc(raw.len + 2);
        size_t n = normalize_path(raw.p, raw.len, norm);
        rc = put_encoded(b, (struct sl_str){ norm, n }, true);
        if (norm != small) {
            free(norm);
        }
    }
    free(dec);
    return rc;
}

struct qpair {
    char *k;    /* encoded, NUL-terminated, heap */
    char *v;
};

static int qpair_cmp(const void *a, const void *b)
{
    const struct qpair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

static char *encode_dup(struct sl_str raw)
{
    char *owned;
    struct sl_str d = decode_dup(raw, &owned);
    char *e = xmalloc(3 * d.len + 1);
    sl_uri_encode(d, false, e);
    free(owned);
    return e;
}

static int put_canonical_query(struct buf *b, const struct sigv4_request *rq, bool presigned)
{
    struct qpair *q;
    size_t n = 0;
    int rc = 0;

    if (rq->n_query == 0) {
        return 0;
    }
    q = xcalloc(rq->n_query, sizeof *q);
    for (size_t i = 0; i < rq->n_query; i++) {
        if (presigned && sl_str_eq_c(rq->query[i].name, "X-Amz-Signature")) {
            continue;
        }
        q[n].k = encode_dup(rq->query[i].name);
        q[n].v = rq->query[i].value.p ? encode_dup(rq->query[i].value) : xstrdup("");
        n++;
    }
    qsort(q, n, sizeof *q, qpair_cmp);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && i) {
            rc = buf_puts(b, "&");
        }
        if (rc == 0) {
            rc = buf_printf(b, "%s=%s", q[i].k, q[i].v);
        }
        free(q[i].k);
        free(q[i].v);
    }
    free(q);
    return rc;
}

/* Appends a header value trimmed, with runs of spaces collapsed to one; the runs between
 * spaces are appended whole. */
static int put_trimmed(struct buf *b, struct sl_str v)
{
    size_t i = 0, end = v.len;
    while (i < end && (v.p[i] == ' ' || v.p[i] == '\t')) {
        i++;
    }
    while (end > i && (v.p[end - 1] == ' ' || v.p[end - 1] == '\t')) {
        end--;
    }
    while (i < end) {
        size_t j = i;
        while (j < end && v.p[j] != ' ' && v.p[j] != '\t') {
            j++;
        }
        if (buf_append(b, v.p + i, j - i) < 0) {
            return -1;
        }
        if (j == end) {
            break;
        }
        while (v.p[j] == ' ' || v.p[j] == '\t') {
            j++;   /* stops before end: v.p[end - 1] is not a space */
        }
        if (buf_append(b, " ", 1) < 0) {
            return -1;
        }
        i = j;
    }
    return 0;
}

/* Appends "name:value\n" for each signed header, in SignedHeaders order. */
static int put_canonical_headers(struct buf *b, const struct sigv4_request *rq,
                                 struct sl_str signed_headers)
{
    size_t i = 0;
    while (i < signed_headers.len) {
        size_t j = i;
        char name[128];
        bool first = true;
        while (j < signed_headers.len && signed_headers.p[j] != ';') {
            j++;
        }
        if (j - i == 0 || j - i >= sizeof name) {
            return -1;
        }
        memcpy(name, signed_headers.p + i, j - i);
        name[j - i] = '\0';
        if (buf_append(b, name, j - i) < 0 || buf_append(b, ":", 1) < 0) {
            return -1;
        }
        for (size_t h = 0; h < rq->n_headers; h++) {
            if (sl_str_case_eq(rq->headers[h].name, name)) {
                if (!first && buf_append(b, ",", 1) < 0) {
                    return -1;
                }
                if (put_trimmed(b, rq->headers[h].value) < 0) {
                    return -1;
                }
                first = false;
            }
        }
        if (buf_append(b, "\n", 1) < 0) {
            return -1;
        }
        i = j + 1;
    }
    return 0;
}

/* Builds the canonical request into b. Returns 0 or SIGV4_EMALFORMED (too large). */
static int canonical_request(struct buf *b, const struct sigv4_request *rq, bool presigned,
                             struct sl_str signed_headers, const char *payload)
{
    int rc = buf_append(b, rq->method.p, rq->method.len);
    if (!rc) {
        rc = buf_append(b, "\n", 1);
    }
    if (!rc) {
        rc = put_canonical_uri(b, rq);
    }
    if (!rc) {
        rc = buf_append(b, "\n", 1);
    }
    if (!rc) {
        rc = put_canonical_query(b, rq, presigned);
    }
    if (!rc) {
        rc = buf_append(b, "\n", 1);
    }
    if (!rc) {
        rc = put_canonical_headers(b, rq, signed_headers);
    }
    if (!rc) {
        rc = buf_append(b, "\n", 1);
    }
    if (!rc) {
        rc = buf_append(b, signed_headers.p, signed_headers.len);
    }
    if (!rc) {
        rc = buf_append(b, "\n", 1);
    }
    if (!rc) {
        rc = buf_puts(b, payload);
    }
    return rc ? SIGV4_EMALFORMED : 0;
}

/* ---- parsing ---- */

struct parsed {
    struct sl_str credential;      /* AKID/date/region/service/aws4_request */
    struct sl_str signed_headers;
    struct sl_str signature;
    struct sl_str amz_date;
    struct sl_str expires;
    bool presigned;
};

static struct sl_str trim(struct sl_str s)
{
    while (s.len && (*s.p == ' ' || *s.p == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t')) {
        s.len--;
    }
    return s;
}

/* Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...". */
static int parse_header(struct sl_str h, struct parsed *p, struct sigv4_auth *out)
{
    static const char alg[] = "AWS4-HMAC-SHA256";
    size_t i;
    h = trim(h);
    if (h.len < sizeof alg - 1 || memcmp(h.p, alg, sizeof alg - 1) != 0 ||
        (h.len > sizeof alg - 1 && h.p[sizeof alg - 1] != ' ')) {
        snprintf(out->msg, sizeof out->msg,
                 "Unsupported Authorization Type; the authorization mechanism you have provided "
                 "is not supported. Please use AWS4-HMAC-SHA256.");
        return SIGV4_EALGORITHM;
    }
    i = sizeof alg - 1;
    while (i < h.len) {
        size_t j = i;
        struct sl_str part;
        while (j < h.len && h.p[j] != ',') {
            j++;
        }
        part = trim((struct sl_str){ h.p + i, j - i });
        if (sl_str_starts(part, "Credential=")) {
            p->credential = (struct sl_str){ part.p + 11, part.len - 11 };
        }
        else if (sl_str_starts(part, "SignedHeaders=")) {
            p->signed_headers = (struct sl_str){ part.p + 14, part.len - 14 };
        }
        else if (sl_str_starts(part, "Signature=")) {
            p->signature = (struct sl_str){ part.p + 10, part.len - 10 };
        }
        i = j + 1;
    }
    if (!p->credential.p || !p->signed_headers.p || !p->signature.p) {
        char msg[256];
        size_t n = 0;
        msg[0] = '\0';
        if (!p->credential.p) {
            n += (size_t)snprintf(msg + n, sizeof msg - n,
                                  "Authorization header requires 'Credential' parameter. ");
        }
        if (!p->signature.p && n < sizeof msg) {
            n += (size_t)snprintf(msg + n, sizeof msg - n,
                                  "Authorization header requires 'Signature' parameter. ");
        }
        if (!p->signed_headers.p && n < sizeof msg) {
            snprintf(msg + n, sizeof msg - n,
                     "Authorization header requires 'SignedHeaders' parameter. ");
        }
        snprintf(out->msg, sizeof out->msg, "%s", msg);
        return SIGV4_EMALFORMED;
    }
    return 0;
}

static int parse_query(const struct sigv4_request *rq, struct parsed *p, struct sigv4_auth *out)
{
    struct sl_str alg, v;
    p->presigned = true;
    out->presigned = true;
    if (!find_query(rq, "X-Amz-Algorithm", &alg) || !sl_str_eq_c(alg, "AWS4-HMAC-SHA256")) {
        snprintf(out->msg, sizeof out->msg,
                 "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
        return SIGV4_EALGORITHM;
    }
    if (!find_query(rq, "X-Amz-Credential", &v) || !v.p) {
        snprintf(out->msg, sizeof out->msg,
                 "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                 "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                 "X-Amz-Expires parameters.");
        return SIGV4_EMALFORMED;
    }
    p->credential = v;
    if (!find_query(rq, "X-Amz-SignedHeaders", &p->signed_headers) || !p->signed_headers.p ||
        !find_query(rq, "X-Amz-Signature", &p->signature) || !p->signature.p ||
        !find_query(rq, "X-Amz-Date", &p->amz_date) || !p->amz_date.p ||
        !find_query(rq, "X-Amz-Expires", &p->expires) || !p->expires.p) {
        snprintf(out->msg, sizeof out->msg,
                 "Query-string authentication version 4 requires the X-Amz-Algorithm, "
                 "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
                 "X-Amz-Expires parameters.");
        return SIGV4_EMALFORMED;
    }
    return 0;
}

/* Splits the (decoded) credential into its five parts. */
static int split_credential(const char *cred, struct sigv4_auth *out)
{
    const char *parts[5];
    size_t lens[5];
    size_t n = 0;
    const char *s = cred;
    while (n < 5) {
        const char *slash = strchr(s, '/');
        parts[n] = s;
        lens[n] = slash ? (size_t)(slash - s) : strlen(s);
        n++;
        if (!slash) {
            break;
        }
        s = slash + 1;
    }
    if (n != 5 || strchr(parts[4], '/') || lens[0] == 0 || lens[0] >= sizeof out->access_key ||
        lens[1] != 8 || lens[2] == 0 || lens[2] >= sizeof out->region || lens[3] == 0 ||
        lens[3] >= sizeof out->service) {
        if (n >= 1 && lens[0] < sizeof out->access_key) {
            memcpy(out->access_key, parts[0], lens[0]);
            out->access_key[lens[0]] = '\0';
        }
        snprintf(out->msg, sizeof out->msg,
                 "Credential should be scoped to a valid region, not '%s'. ", n > 2 ? parts[2]
                                                                                  : "");
        return SIGV4_EMALFORMED;
    }
    if (lens[4] != 12 || memcmp(parts[4], "aws4_request", 12) != 0) {
        snprintf(out->msg, sizeof out->msg,
                 "Credential should be scoped with a valid terminator: 'aws4_request', not "
                 "'%.*s'. ",
                 (int)(lens[4] > 64 ? 64 : lens[4]), parts[4]);
        return SIGV4_EMALFORMED;
    }
    memcpy(out->access_key, parts[0], lens[0]);
    out->access_key[lens[0]] = '\0';
    memcpy(out->scope_date, parts[1], 8);
    out->scope_date[8] = '\0';
    memcpy(out->region, parts[2], lens[2]);
    out->region[lens[2]] = '\0';
    memcpy(out->service, parts[3], lens[3]);
    out->service[lens[3]] = '\0';
    return 0;
}

/* Parses 20150830T123600Z. Returns 0 or -1. */
int sigv4__parse_amz_date(const char *s, time_t *out)
{
    struct tm tm;
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') {
        return -1;
    }
    for (int i = 0; i < 15; i++) {
        if (i != 8 && !isdigit((unsigned char)s[i])) {
            return -1;
        }
    }
    memset(&tm, 0, sizeof tm);
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') -
                 1900;
    tm.tm_mon = (s[4] - '0') * 10 + (s[5] - '0') - 1;
    tm.tm_mday = (s[6] - '0') * 10 + (s[7] - '0');
    tm.tm_hour = (s[9] - '0') * 10 + (s[10] - '0');
    tm.tm_min = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_sec = (s[13] - '0') * 10 + (s[14] - '0');
    if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
        return -1;
    }
    *out = timegm(&tm);
    return 0;
}

static void fmt_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* The Date header (RFC 1123) as an X-Amz-Date value. */
static int date_header(struct sl_str v, char out[17])
{
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    char s[64], mon[4];
    struct tm tm;
    int day, year, h, m, sec;
    if (v.len >= sizeof s) {
        return -1;
    }
    memcpy(s, v.p, v.len);
    s[v.len] = '\0';
    memset(&tm, 0, sizeof tm);
    if (sscanf(s, "%*3s, %d %3s %d %d:%d:%d GMT", &day, mon, &year, &h, &m, &sec) != 6) {
        return -1;
    }
    tm.tm_mon = -1;
    for (int i = 0; i < 12; i++) {
        if (strcmp(mon, months[i]) == 0) {
            tm.tm_mon = i;
        }
    }
    if (tm.tm_mon < 0) {
        return -1;
    }
    tm.tm_mday = day;
    tm.tm_year = year - 1900;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    fmt_amz_date(timegm(&tm), out);
    return 0;
}

static bool is_hex64(struct sl_str s)
{
    if (s.len != 64) {
        return false;
    }
    for (size_t i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)s.p[i])) {
            return false;
        }
    }
    return true;
}

/* Classifies the declared payload; fills out->payload and out->content_sha256. */
static int classify_payload(struct sl_str v, struct sigv4_auth *out)
{
    static const struct {
        const char *word;
        enum sigv4_payload kind;
    } words[] = {
        { "UNSIGNED-PAYLOAD", SIGV4_PAYLOAD_UNSIGNED },
        { "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", SIGV4_PAYLOAD_STREAMING },
        { "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", SIGV4_PAYLOAD_STREAMING_TRAILER },
        { "STREAMING-UNSIGNED-PAYLOAD-TRAILER", SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER },
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (sl_str_eq_c(v, words[i].word)) {
            out->payload = words[i].kind;
            return 0;
        }
    }
    if (is_hex64(v)) {
        out->payload = SIGV4_PAYLOAD_HASH;
        for (size_t i = 0; i < 64; i++) {
            out->content_sha256[i] = (char)tolower((unsigned char)v.p[i]);
        }
        out->content_sha256[64] = '\0';
        return 0;
    }
    snprintf(out->msg, sizeof out->msg,
             "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
             "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or "
             "a valid sha256 value.");
    return SIGV4_ECONTENTSHA;
}

static bool signed_has(struct sl_str list, const char *name)
{
    size_t i = 0, n = strlen(name);
    while (i <= list.len) {
        size_t j = i;
        while (j < list.len && list.p[j] != ';') {
            j++;
        }
        if (j - i == n && strncasecmp(list.p + i, name, n) == 0) {
            return true;
        }
        i = j + 1;
    }
    return false;
}

/* Computes the hex signature of the canonical request for the given scope and key. */
static int compute_signature(const struct sigv4_request *rq, bool presigned,
                             struct sl_str signed_headers, const char *payload,
                             const char *amz_date, const char *scope,
                             const unsigned char key[32], char sig[65])
{
    static const char alg[] = "AWS4-HMAC-SHA256\n";
    struct buf b;
    char sts[sizeof alg + 17 + 160 + 65];
    unsigned char mac[32];
    size_t n, dl = strlen(amz_date), sl = strlen(scope);
    int rc;

    if (dl > 16 || sl >= 160) {
        return SIGV4_EMALFORMED;
    }
    buf_init(&b, CANON_MAX);
    buf_presize(&b, 1024);   /* an SDK's canonical request fits: one allocation, no regrowth */
    rc = canonical_request(&b, rq, presigned, signed_headers, payload);
    if (rc == 0) {
        /* "AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex hash of the canonical request>" */
        memcpy(sts, alg, sizeof alg - 1);
        n = sizeof alg - 1;
        memcpy(sts + n, amz_date, dl);
        n += dl;
        sts[n++] = '\n';
        memcpy(sts + n, scope, sl);
        n += sl;
        sts[n++] = '\n';
        sigv4_sha256_hex(b.p, b.len, sts + n);
        n += 64;
        sigv4__hmac_signing(key, sts, n, mac);
        sl_hex(mac, 32, sig);
    }
    buf_release(&b);
    return rc;
}

int sigv4_verify(const struct sigv4_request *rq, sigv4_secret_fn lookup, void *ctx,
                 struct sigv4_auth *out)
{
    struct parsed p;
    struct sl_str auth = find_header(rq, "authorization");
    struct sl_str declared;
    char *cred = NULL;
    char cred_buf[256];
    char secret[256];
    char scope[160], sig[65];
    const char *payload;
    char *payload_owned = NULL;
    time_t t;
    int rc;

    memset(out, 0, sizeof *out);
    memset(&p, 0, sizeof p);
    if (auth.p) {
        rc = parse_header(auth, &p, out);
    }
    else {
        struct sl_str v;
        if (!find_query(rq, "X-Amz-Signature", &v) && !find_query(rq, "X-Amz-Algorithm", &v) &&
            !find_query(rq, "X-Amz-Credential", &v)) {
            return SIGV4_EMISSING;
        }
        rc = parse_query(rq, &p, out);
    }
    if (rc) {
        return rc;
    }
    /* The credential of a presigned URL is percent-encoded ('/' as %2F); it is decoded on
     * the stack unless it is longer than any valid one. */
    {
        char *z = p.credential.len < sizeof cred_buf ? cred_buf : xmalloc(p.credential.len + 1);
        long n = sl_uri_decode(p.credential, z);
        if (n < 0) {
            memcpy(z, p.credential.p, p.credential.len);
            n = (long)p.credential.len;
        }
        z[n] = '\0';
        cred = z;
    }
    rc = split_credential(cred, out);
    if (cred != cred_buf) {
        free(cred);
    }
    if (rc) {
        return rc;
    }

    /* The request time. */
    if (p.presigned) {
        if (p.amz_date.len >= sizeof out->amz_date) {
            snprintf(out->msg, sizeof out->msg, "X-Amz-Date must be in the ISO8601 Long Format "
                                                "\"yyyyMMdd'T'HHmmss'Z'\"");
            return SIGV4_EMALFORMED;
        }
        memcpy(out->amz_date, p.amz_date.p, p.amz_date.len);
        out->amz_date[p.amz_date.len] = '\0';
    }
    else {
        struct sl_str d = find_header(rq, "x-amz-date");
        if (d.p && d.len < sizeof out->amz_date) {
            memcpy(out->amz_date, d.p, d.len);
            out->amz_date[d.len] = '\0';
        }
        else if (!d.p && (d = find_header(rq, "date")).p) {
            if (date_header(d, out->amz_date) < 0) {
                snprintf(out->msg, sizeof out->msg, "Date must be in RFC 1123 format");
                return SIGV4_EMALFORMED;
            }
        }
        else {
            snprintf(out->msg, sizeof out->msg,
                     "Authorization header requires existence of either a 'X-Amz-Date' or a "
                     "'Date' header.");
            return SIGV4_EMALFORMED;
        }
    }
    if (sigv4__parse_amz_date(out->amz_date, &t) < 0) {
        snprintf(out->msg, sizeof out->msg,
                 "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
        return SIGV4_EMALFORMED;
    }
    if (memcmp(out->scope_date, out->amz_date, 8) != 0) {
        snprintf(out->msg, sizeof out->msg,
                 "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                 "date from HTTP: '%s' != '%.8s', from '%s'.",
                 out->scope_date, out->amz_date, out->amz_date);
        return SIGV4_EDATE;
    }
    if (p.presigned) {
        char tmp[16];
        char *end;
        long e;
        if (p.expires.len == 0 || p.expires.len >= sizeof tmp) {
            snprintf(out->msg, sizeof out->msg,
                     "X-Amz-Expires must be non-negative and less than a week (604800 seconds)");
            return SIGV4_EEXPIRES;
        }
        memcpy(tmp, p.expires.p, p.expires.len);
        tmp[p.expires.len] = '\0';
        e = strtol(tmp, &end, 10);
        if (*end || e < 1 || e > 604800) {
            snprintf(out->msg, sizeof out->msg,
                     "X-Amz-Expires must be less than a week (in seconds) that is 604800");
            return SIGV4_EEXPIRES;
        }
        if (rq->now > t + e) {
            snprintf(out->msg, sizeof out->msg, "Request has expired");
            return SIGV4_EEXPIRED;
        }
        if (t > rq->now + SKEW_SECONDS) {
            snprintf(out->msg, sizeof out->msg, "Request is not valid yet");
            return SIGV4_ESKEW;
        }
    }
    else if (t < rq->now - SKEW_SECONDS || t > rq->now + SKEW_SECONDS) {
        char lim[17], now[17];
        bool early = t < rq->now;
        fmt_amz_date(early ? rq->now - SKEW_SECONDS : rq->now + SKEW_SECONDS, lim);
        fmt_amz_date(rq->now, now);
        snprintf(out->msg, sizeof out->msg, "Signature %s: %s is now %s than %s (%s %s 15 min.)",
                 early ? "expired" : "not yet current", out->amz_date,
                 early ? "earlier" : "later", lim, now, early ? "-" : "+");
        return SIGV4_ESKEW;
    }
    if (!signed_has(p.signed_headers, "host")) {
        snprintf(out->msg, sizeof out->msg,
                 "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
        return SIGV4_EHOST;
    }

    /* The payload the client signed. */
    declared = find_header(rq, "x-amz-content-sha256");
    if (declared.p) {
        rc = classify_payload(declared, out);
        if (rc) {
            return rc;
        }
    }
    if (declared.p) {
        payload_owned = xstrndup(declared.p, declared.len);
        payload = payload_owned;
    }
    else if (p.presigned && rq->s3) {
        payload = "UNSIGNED-PAYLOAD";
        out->payload = SIGV4_PAYLOAD_UNSIGNED;
    }
    else if (rq->payload_hash) {
        payload = rq->payload_hash;
        out->payload = SIGV4_PAYLOAD_HASH;
        memcpy(out->content_sha256, rq->payload_hash, strnlen(rq->payload_hash, 64));
    }
    else {
        snprintf(out->msg, sizeof out->msg,
                 "Missing required header for this request: x-amz-content-sha256");
        return SIGV4_ECONTENTSHA;
    }

    if (lookup(ctx, sl_str_c(out->access_key), secret, sizeof secret) != 0) {
        free(payload_owned);
        return SIGV4_EUNKNOWNKEY;
    }
    signing_key(out->access_key, secret, out->scope_date, out->region, out->service,
                out->signing_key);
    OPENSSL_cleanse(secret, sizeof secret);
    sigv4__scope(scope, out->scope_date, out->region, out->service);
    rc = compute_signature(rq, p.presigned, p.signed_headers, payload, out->amz_date, scope,
                           out->signing_key, sig);
    free(payload_owned);
    if (rc) {
        snprintf(out->msg, sizeof out->msg, "the request is too large to sign");
        return rc;
    }
    if (p.signature.len != 64 || CRYPTO_memcmp(sig, p.signature.p, 64) != 0) {
        return SIGV4_EMISMATCH;
    }
    memcpy(out->signature, sig, 65);
    return 0;
}

int sigv4_sign(const struct sigv4_request *rq, const char *access_key, const char *secret,
               const char *region, const char *service, const char *signed_headers,
               char *out, size_t outlen)
{
    struct sl_str d = find_header(rq, "x-amz-date");
    struct sl_str declared = find_header(rq, "x-amz-content-sha256");
    char amz_date[17], scope[160], sig[65], date[9], payload[128];
    unsigned char key[32];
    int n, rc;

    if (!d.p || d.len != 16) {
        return -EINVAL;
    }
    memcpy(amz_date, d.p, 16);
    amz_date[16] = '\0';
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    if (rq->payload_hash) {
        snprintf(payload, sizeof payload, "%s", rq->payload_hash);
    }
    else if (declared.p && declared.len < sizeof payload) {
        memcpy(payload, declared.p, declared.len);
        payload[declared.len] = '\0';
    }
    else {
        snprintf(payload, sizeof payload, "UNSIGNED-PAYLOAD");
    }
    derive_key(secret, date, region, service, key);
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, region, service);
    rc = compute_signature(rq, false, sl_str_c(signed_headers), payload, amz_date, scope, key,
                           sig);
    OPENSSL_cleanse(key, sizeof key);
    if (rc) {
        return -E2BIG;
    }
    n = snprintf(out, outlen, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                 access_key, scope, signed_headers, sig);
    return (n < 0 || (size_t)n >= outlen) ? -E2BIG : 0;
}

int sigv4_verify_policy(const char *policy, size_t len, const char *credential,
                        const char *amz_date, const char *signature, time_t now,
                        sigv4_secret_fn lookup, void *ctx, struct sigv4_auth *out)
{
    char secret[129], sig[65];
    unsigned char mac[32];
    const char *p[5];
    size_t pl[5], n = 0;
    const char *s = credential;
    time_t t;

    memset(out, 0, sizeof out->access_key);
    /* <key id>/<date>/<region>/<service>/aws4_request */
    while (n < 5) {
        const char *slash = strchr(s, '/');
        p[n] = s;
        pl[n] = slash ? (size_t)(slash - s) : strlen(s);
        n++;
        if (!slash) {
            break;
        }
        s = slash + 1;
    }
    if (n != 5 || pl[0] == 0 || pl[0] >= sizeof out->access_key || pl[1] != 8 ||
        pl[2] == 0 || pl[2] >= sizeof out->region || pl[3] == 0 ||
        pl[3] >= sizeof out->service || pl[4] != 12 || memcmp(p[4], "aws4_request", 12) != 0 ||
        !amz_date || strlen(amz_date) != 16 || memcmp(amz_date, p[1], 8) != 0 ||
        !signature || strlen(signature) != 64 || sigv4__parse_amz_date(amz_date, &t) != 0) {
        return SIGV4_EMALFORMED;
    }
    (void)now;
    memcpy(out->access_key, p[0], pl[0]);
    out->access_key[pl[0]] = '\0';
    memcpy(out->scope_date, p[1], 8);
    out->scope_date[8] = '\0';
    memcpy(out->region, p[2], pl[2]);
    out->region[pl[2]] = '\0';
    memcpy(out->service, p[3], pl[3]);
    out->service[pl[3]] = '\0';
    memcpy(out->amz_date, amz_date, 17);
    if (lookup(ctx, sl_str_c(out->access_key), secret, sizeof secret) != 0) {
        return SIGV4_EUNKNOWNKEY;
    }
    signing_key(out->access_key, secret, out->scope_date, out->region, out->service,
                out->signing_key);
    OPENSSL_cleanse(secret, sizeof secret);
    /* The string to sign of a browser POST is the base64 policy itself. */
    sigv4__hmac_signing(out->signing_key, policy, len, mac);
    sl_hex(mac, 32, sig);
    if (CRYPTO_memcmp(sig, signature, 64) != 0) {
        return SIGV4_EMISMATCH;
    }
    memcpy(out->signature, sig, 65);
    return 0;
}
