/*
 * test_core_sigv4.c: SigV4 verification against AWS's published examples and botocore's
 * signer, presigned URLs, clock skew, malformed headers, and the aws-chunked decoder with the
 * S3 documentation's multi-chunk example (src/core/sigv4.c, sigv4_chunked.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/sigv4.h"
#include "sigv4_botocore_vectors.h"

#define SUITE_KEY "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* 2015-08-30T12:36:00Z, the AWS SigV4 test suite's request time. */
#define SUITE_NOW ((time_t)1440938160)

static int lookup(void *ctx, struct sl_str key, char *secret, size_t cap)
{
    const char *const *pairs = ctx;
    for (; pairs[0]; pairs += 2) {
        if (sl_str_eq_c(key, pairs[0])) {
            snprintf(secret, cap, "%s", pairs[1]);
            return 0;
        }
    }
    return SIGV4_EUNKNOWNKEY;
}

static const char *const keys[] = { SUITE_KEY, SUITE_SECRET, "AKIAIOSFODNN7EXAMPLE",
                                     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL };

/* A request built from text: headers as "Name: value\n" lines, query "a=b&c". */
struct req {
    struct sigv4_request rq;
    struct sigv4_kv h[32];
    struct sigv4_kv q[32];
    char hbuf[4096];
    char qbuf[1024];
};

static void build(struct req *r, const char *method, const char *path, const char *query,
                  const char *headers, bool s3, const char *payload_hash)
{
    size_t nh = 0, nq = 0;
    char *p;
    memset(r, 0, sizeof *r);
    snprintf(r->hbuf, sizeof r->hbuf, "%s", headers);
    snprintf(r->qbuf, sizeof r->qbuf, "%s", query);
    for (p = r->hbuf; *p;) {
        char *nl = strchr(p, '\n');
        char *colon = strchr(p, ':');
        r->h[nh].name = (struct sl_str){ p, (size_t)(colon - p) };
        colon++;
        while (*colon == ' ') {
            colon++;
        }
        r->h[nh].value = (struct sl_str){ colon, (size_t)(nl - colon) };
        *nl = '\0';
        nh++;
        p = nl + 1;
    }
    for (p = r->qbuf; *p;) {
        char *amp = strchr(p, '&');
        char *end = amp ? amp : p + strlen(p);
        char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq) {
            r->q[nq].name = (struct sl_str){ p, (size_t)(eq - p) };
            r->q[nq].value = (struct sl_str){ eq + 1, (size_t)(end - eq - 1) };
        }
        else {
            r->q[nq].name = (struct sl_str){ p, (size_t)(end - p) };
            r->q[nq].value = (struct sl_str){ NULL, 0 };
        }
        nq++;
        p = amp ? amp + 1 : end;
    }
    r->rq.method = sl_str_c(method);
    r->rq.raw_path = sl_str_c(path);
    r->rq.query = r->q;
    r->rq.n_query = nq;
    r->rq.headers = r->h;
    r->rq.n_headers = nh;
    r->rq.s3 = s3;
    r->rq.payload_hash = payload_hash;
    r->rq.now = SUITE_NOW;
}

/* Cases of the AWS SigV4 test suite (aws-sig-v4-test-suite), service "service". */
static const struct {
    const char *name;
    const char *method;
    const char *path;
    const char *query;
    const char *headers;  /* without Authorization */
    const char *signed_headers;
    const char *signature;
} suite[] = {
    { "get-vanilla", "GET", "/", "", "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n",
      "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31" },
    { "get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1",
      "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n", "host;x-amz-date",
      "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },
    { "get-vanilla-empty-query-key", "GET", "/", "Param1=value1",
      "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n", "host;x-amz-date",
      "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb" },
    { "post-vanilla", "POST", "/", "", "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n",
      "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b" },
};

static void test_aws_suite(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof suite / sizeof suite[0]; i++) {
        struct req r;
        struct sigv4_auth a;
        char headers[1024];
        char auth[512];
        snprintf(headers, sizeof headers, "%sAuthorization: AWS4-HMAC-SHA256 "
                 "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                 "SignedHeaders=%s, Signature=%s\n",
                 suite[i].headers, suite[i].signed_headers, suite[i].signature);
        build(&r, suite[i].method, suite[i].path, suite[i].query, headers, false, EMPTY_SHA);
        assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), 0);
        assert_string_equal(a.access_key, SUITE_KEY);
        assert_string_equal(a.region, "us-east-1");
        assert_string_equal(a.service, "service");
        assert_string_equal(a.signature, suite[i].signature);

        /* The signer produces the same header. */
        build(&r, suite[i].method, suite[i].path, suite[i].query, suite[i].headers, false,
              EMPTY_SHA);
        assert_int_equal(sigv4_sign(&r.rq, SUITE_KEY, SUITE_SECRET, "us-east-1", "service",
                                    suite[i].signed_headers, auth, sizeof auth),
                         0);
        assert_non_null(strstr(auth, suite[i].signature));

        /* One changed character of the body hash breaks it. */
        build(&r, suite[i].method, suite[i].path, suite[i].query, headers, false,
              "f3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EMISMATCH);
    }
}

static void test_botocore_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof botocore_vectors / sizeof botocore_vectors[0]; i++) {
        const struct botocore_vector *v = &botocore_vectors[i];
        struct req r;
        struct sigv4_auth a;
        char hash[65];
        int rc;
        sigv4_sha256_hex(v->body, strlen(v->body), hash);
        build(&r, v->method, v->raw_path, v->raw_query, v->headers, v->s3, v->s3 ? NULL : hash);
        rc = sigv4_verify(&r.rq, lookup, (void *)keys, &a);
        if (rc != 0) {
            print_error("vector %zu (%s %s?%s): %s %s\n", i, v->method, v->raw_path,
                        v->raw_query, sigv4_strerror(rc), a.msg);
        }
        assert_int_equal(rc, 0);
        /* A different path must not verify. */
        {
            char path[512];
            snprintf(path, sizeof path, "%sx", v->raw_path);
            build(&r, v->method, path, v->raw_query, v->headers, v->s3, v->s3 ? NULL : hash);
            assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EMISMATCH);
        }
    }
}

/* Signs a get-vanilla request with (key, secret) and returns sigv4_verify's answer under the
 * credentials table creds. */
static int sign_and_verify(const char *key, const char *secret, const char *region,
                           const char *const *creds)
{
    static const char base[] = "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n";
    struct req r;
    struct sigv4_auth a;
    char auth[512], headers[1024];
    build(&r, "GET", "/", "", base, false, EMPTY_SHA);
    assert_int_equal(sigv4_sign(&r.rq, key, secret, region, "service", "host;x-amz-date", auth,
                                sizeof auth),
                     0);
    snprintf(headers, sizeof headers, "%sAuthorization: %s\n", base, auth);
    build(&r, "GET", "/", "", headers, false, EMPTY_SHA);
    return sigv4_verify(&r.rq, lookup, (void *)creds, &a);
}

/* The signing-key cache keys on the secret itself: a changed secret (same length, one
 * character apart) must miss and refuse the old signature; and a thread's keyed HMAC context
 * must follow a change of signing key in either direction. */
static void test_key_cache(void **state)
{
    static const char *const changed[] = { SUITE_KEY, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ",
                                           NULL };
    (void)state;
    assert_int_equal(sign_and_verify(SUITE_KEY, SUITE_SECRET, "us-east-1", keys), 0);
    assert_int_equal(sign_and_verify(SUITE_KEY, SUITE_SECRET, "us-east-1", changed),
                     SIGV4_EMISMATCH);
    assert_int_equal(sign_and_verify(SUITE_KEY, changed[1], "us-east-1", changed), 0);
    assert_int_equal(sign_and_verify(SUITE_KEY, changed[1], "us-east-1", keys),
                     SIGV4_EMISMATCH);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(sign_and_verify(SUITE_KEY, SUITE_SECRET, "us-east-1", keys), 0);
        assert_int_equal(sign_and_verify(SUITE_KEY, SUITE_SECRET, "eu-west-1", keys), 0);
        assert_int_equal(sign_and_verify("AKIAIOSFODNN7EXAMPLE",
                                         "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1",
                                         keys),
                         0);
        assert_int_equal(sign_and_verify(SUITE_KEY, SUITE_SECRET, "eu-west-1", changed),
                         SIGV4_EMISMATCH);
    }
}

static void test_errors(void **state)
{
    struct req r;
    struct sigv4_auth a;
    (void)state;

    build(&r, "GET", "/", "", "Host:example.amazonaws.com\n", false, EMPTY_SHA);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EMISSING);

    build(&r, "GET", "/", "",
          "Host:h\nX-Amz-Date:20150830T123600Z\nAuthorization: AWS AKID:abc\n", false,
          EMPTY_SHA);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EALGORITHM);

    build(&r, "GET", "/", "",
          "Host:h\nX-Amz-Date:20150830T123600Z\nAuthorization: AWS4-HMAC-SHA256 "
          "SignedHeaders=host, Signature=00\n",
          false, EMPTY_SHA);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EMALFORMED);
    assert_non_null(strstr(a.msg, "'Credential'"));

    build(&r, "GET", "/", "",
          "Host:h\nX-Amz-Date:20150830T123600Z\nAuthorization: AWS4-HMAC-SHA256 "
          "Credential=NOPE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
          "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n",
          false, EMPTY_SHA);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EUNKNOWNKEY);
    assert_string_equal(a.access_key, "NOPE");

    /* The scope's date must be X-Amz-Date's. */
    build(&r, "GET", "/", "",
          "Host:h\nX-Amz-Date:20150830T123600Z\nAuthorization: AWS4-HMAC-SHA256 "
          "Credential=AKIDEXAMPLE/20150831/us-east-1/service/aws4_request, "
          "SignedHeaders=host;x-amz-date, Signature=00\n",
          false, EMPTY_SHA);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EDATE);

    /* Host must be signed. */
    build(&r, "GET", "/", "",
          "Host:h\nX-Amz-Date:20150830T123600Z\nAuthorization: AWS4-HMAC-SHA256 "
          "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
          "SignedHeaders=x-amz-date, Signature=00\n",
          false, EMPTY_SHA);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EHOST);

    /* A bad x-amz-content-sha256 value. */
    build(&r, "GET", "/", "",
          "Host:h\nX-Amz-Date:20150830T123600Z\nx-amz-content-sha256: nope\n"
          "Authorization: AWS4-HMAC-SHA256 "
          "Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, "
          "SignedHeaders=host;x-amz-date, Signature=00\n",
          true, NULL);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_ECONTENTSHA);
}

static void test_skew(void **state)
{
    struct req r;
    struct sigv4_auth a;
    const char *h = "Host:example.amazonaws.com\nX-Amz-Date:20150830T123600Z\n"
                    "Authorization: AWS4-HMAC-SHA256 "
                    "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
                    "SignedHeaders=host;x-amz-date, "
                    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31\n";
    (void)state;
    build(&r, "GET", "/", "", h, false, EMPTY_SHA);
    r.rq.now = SUITE_NOW + 15 * 60; /* exactly at the edge: still fine */
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), 0);
    r.rq.now = SUITE_NOW + 15 * 60 + 1;
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_ESKEW);
    assert_string_equal(a.msg, "Signature expired: 20150830T123600Z is now earlier than "
                               "20150830T123601Z (20150830T125101Z - 15 min.)");
    r.rq.now = SUITE_NOW - 16 * 60;
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_ESKEW);
    assert_non_null(strstr(a.msg, "not yet current"));
}

/* Presigned: sign with sigv4's own primitives through the query form. */
static void test_presigned(void **state)
{
    struct req r;
    struct sigv4_auth a;
    char query[1024], sig_query[1200];
    char auth[512];
    const char *sig;
    (void)state;
    /* Compute the expected signature by signing the same canonical request: presigned
     * requests sign the query without X-Amz-Signature and UNSIGNED-PAYLOAD (S3). */
    snprintf(query, sizeof query,
             "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%%2F20150830%%2F"
             "us-east-1%%2Fs3%%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&"
             "X-Amz-SignedHeaders=host");
    build(&r, "GET", "/bucket/key", query, "Host:h\nX-Amz-Date:20150830T123600Z\n", true,
          "UNSIGNED-PAYLOAD");
    assert_int_equal(sigv4_sign(&r.rq, SUITE_KEY, SUITE_SECRET, "us-east-1", "s3", "host", auth,
                                sizeof auth),
                     0);
    sig = strstr(auth, "Signature=") + 10;
    snprintf(sig_query, sizeof sig_query, "%s&X-Amz-Signature=%s", query, sig);
    build(&r, "GET", "/bucket/key", sig_query, "Host:h\n", true, NULL);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), 0);
    assert_true(a.presigned);
    assert_int_equal(a.payload, SIGV4_PAYLOAD_UNSIGNED);
    r.rq.now = SUITE_NOW + 61;
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EEXPIRED);
    r.rq.now = SUITE_NOW;
    build(&r, "GET", "/bucket/other", sig_query, "Host:h\n", true, NULL);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EMISMATCH);
    build(&r, "GET", "/bucket/key",
          "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2F"
          "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=700000&"
          "X-Amz-SignedHeaders=host&X-Amz-Signature=00",
          "Host:h\n", true, NULL);
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, &a), SIGV4_EEXPIRES);
}

/* ---- aws-chunked: the S3 documentation's example (65 KiB of 'a', 64 KiB chunks) ---- */

#define S3_SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define S3_C1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define S3_C2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define S3_C3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

static const char s3_headers[] =
    "Host:s3.amazonaws.com\nx-amz-date:20130524T000000Z\n"
    "x-amz-storage-class:REDUCED_REDUNDANCY\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
    "aws4_request, SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;"
    "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class, Signature=" S3_SEED "\n"
    "x-amz-content-sha256:STREAMING-AWS4-HMAC-SHA256-PAYLOAD\n"
    "Content-Encoding:aws-chunked\nx-amz-decoded-content-length:66560\n"
    "Content-Length:66824\n";

static char *chunked_body(size_t *len, const char *c2_sig)
{
    struct buf b;
    char *data = xmalloc(65536);
    memset(data, 'a', 65536);
    buf_init(&b, 1 << 20);
    buf_printf(&b, "10000;chunk-signature=%s\r\n", S3_C1);
    buf_append(&b, data, 65536);
    buf_printf(&b, "\r\n400;chunk-signature=%s\r\n", c2_sig);
    buf_append(&b, data, 1024);
    buf_printf(&b, "\r\n0;chunk-signature=%s\r\n\r\n", S3_C3);
    free(data);
    return buf_detach(&b, len);
}

struct sink {
    size_t n;
    bool all_a;
};

static int count_sink(void *ctx, const char *p, size_t n)
{
    struct sink *s = ctx;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 'a') {
            s->all_a = false;
        }
    }
    s->n += n;
    return 0;
}

static void s3_auth(struct sigv4_auth *a)
{
    struct req r;
    (void)0;
    build(&r, "PUT", "/examplebucket/chunkObject.txt", "", s3_headers, true, NULL);
    r.rq.now = 1369353600; /* 2013-05-24T00:00:00Z */
    assert_int_equal(sigv4_verify(&r.rq, lookup, (void *)keys, a), 0);
    assert_int_equal(a->payload, SIGV4_PAYLOAD_STREAMING);
}

static void test_chunked_example(void **state)
{
    static const size_t splits[] = { 1, 7, 4096, 1 << 20 };
    struct sigv4_auth a;
    size_t len;
    char *body = chunked_body(&len, S3_C2);
    (void)state;
    s3_auth(&a);
    assert_int_equal(len, 66824); /* the example's Content-Length */
    for (size_t s = 0; s < sizeof splits / sizeof splits[0]; s++) {
        struct sigv4_chunked *c = sigv4_chunked_new(&a);
        struct sink sk = { 0, true };
        for (size_t off = 0; off < len; off += splits[s]) {
            size_t n = len - off < splits[s] ? len - off : splits[s];
            assert_int_equal(sigv4_chunked_feed(c, body + off, n, count_sink, &sk), 0);
        }
        assert_int_equal(sigv4_chunked_finish(c), 0);
        assert_int_equal(sk.n, 66560);
        assert_true(sk.all_a);
        assert_int_equal(sigv4_chunked_decoded_len(c), 66560);
        sigv4_chunked_free(c);
    }
    free(body);
}

static void test_chunked_tampered(void **state)
{
    struct sigv4_auth a;
    struct sink sk = { 0, true };
    size_t len;
    char *body;
    struct sigv4_chunked *c;
    (void)state;
    s3_auth(&a);

    /* A wrong second signature. */
    body = chunked_body(&len, S3_C1);
    c = sigv4_chunked_new(&a);
    assert_int_equal(sigv4_chunked_feed(c, body, len, count_sink, &sk), SIGV4_ECHUNKSIG);
    sigv4_chunked_free(c);
    free(body);

    /* A changed data byte. */
    body = chunked_body(&len, S3_C2);
    body[100] = 'b';
    c = sigv4_chunked_new(&a);
    assert_int_equal(sigv4_chunked_feed(c, body, len, count_sink, &sk), SIGV4_ECHUNKSIG);
    sigv4_chunked_free(c);

    /* Truncated: the final chunk never comes. */
    body[100] = 'a';
    c = sigv4_chunked_new(&a);
    assert_int_equal(sigv4_chunked_feed(c, body, 65536 + 90, count_sink, &sk), 0);
    assert_int_equal(sigv4_chunked_finish(c), SIGV4_ECHUNK);
    sigv4_chunked_free(c);
    free(body);

    /* Bad framing. */
    c = sigv4_chunked_new(&a);
    assert_int_equal(sigv4_chunked_feed(c, "zz;chunk-signature=00\r\n", 23, count_sink, &sk),
                     SIGV4_ECHUNK);
    sigv4_chunked_free(c);
    c = sigv4_chunked_new(&a);
    {
        char *longline = xmalloc(5000);
        memset(longline, '1', 5000);
        assert_int_equal(sigv4_chunked_feed(c, longline, 5000, count_sink, &sk), SIGV4_ECHUNK);
        free(longline);
    }
    sigv4_chunked_free(c);
}

static void test_chunked_unsigned_trailer(void **state)
{
    struct sigv4_auth a;
    struct sink sk = { 0, true };
    struct sigv4_chunked *c;
    static const char body[] = "5\r\naaaaa\r\n3\r\naaa\r\n0\r\n"
                               "x-amz-checksum-crc32:sOO8/Q==\r\n\r\n";
    struct sl_str v;
    (void)state;
    memset(&a, 0, sizeof a);
    a.payload = SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    c = sigv4_chunked_new(&a);
    for (size_t i = 0; i < sizeof body - 1; i++) {
        assert_int_equal(sigv4_chunked_feed(c, body + i, 1, count_sink, &sk), 0);
    }
    assert_int_equal(sigv4_chunked_finish(c), 0);
    assert_int_equal(sk.n, 8);
    v = sigv4_chunked_trailer(c, "x-amz-checksum-crc32");
    assert_int_equal(v.len, 8);
    assert_memory_equal(v.p, "sOO8/Q==", 8);
    assert_null(sigv4_chunked_trailer(c, "x-amz-checksum-sha1").p);
    sigv4_chunked_free(c);
}

static int teardown(void **state)
{
    (void)state;
    sigv4_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_suite),
        cmocka_unit_test(test_botocore_vectors),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_key_cache),
        cmocka_unit_test(test_skew),
        cmocka_unit_test(test_presigned),
        cmocka_unit_test(test_chunked_example),
        cmocka_unit_test(test_chunked_tampered),
        cmocka_unit_test(test_chunked_unsigned_trailer),
    };
    sigv4_global_init();
    return cmocka_run_group_tests_name("core_sigv4", tests, NULL, teardown);
}
