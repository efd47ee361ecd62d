/*
 * sigv4.h: AWS Signature Version 4 verification, as AWS services verify it.
 *
 * What it is: given a request as received (method, raw path, raw query, headers, payload hash)
 * it rebuilds the canonical request and string to sign, derives the signing key of the access
 * key's secret and compares signatures in constant time. It handles the Authorization header
 * form and the query-string (presigned) form with X-Amz-Expires, the 15-minute clock-skew
 * window, S3's single-encoded paths and the other services' double-encoded ones,
 * x-amz-content-sha256 values (a hex hash, UNSIGNED-PAYLOAD, and the streaming forms), and the
 * aws-chunked body decoder that checks every chunk signature of a streaming upload and the
 * trailer (checksum headers) that follows the chunks.
 *
 * What it is not: it knows no service. It returns SIGV4_E* codes and a sentence; the front
 * door maps them to each service's AWS error (UnrecognizedClientException, SignatureDoesNotMatch,
 * ...). It does not read bodies: the caller hashes them.
 *
 * Threads: every function may be called from any thread. sigv4_global_init() must run once
 * at start-up (it fetches the OpenSSL EVP_MD / EVP_MAC objects once, as OpenSSL 3 would fetch
 * them per call in its one-shot helpers). Signing keys are cached per (access key, date,
 * region, service), so a verified request costs one canonical-request hash and one HMAC chain
 * of the string to sign (plus the body hash, by the caller).
 */
#ifndef SL_CORE_SIGV4_H
#define SL_CORE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/str.h"

/* Result codes (R12): 0 is success. */
enum sigv4_err {
    SIGV4_OK = 0,
    SIGV4_EMISSING = -32001,     /* no Authorization header and no X-Amz-Signature query */
    SIGV4_EMALFORMED = -32002,   /* Authorization / X-Amz-Credential not parseable, or a
                                    required part missing (SignedHeaders, Credential, date) */
    SIGV4_EALGORITHM = -32003,   /* not AWS4-HMAC-SHA256 */
    SIGV4_EUNKNOWNKEY = -32004,  /* the access key id is not known */
    SIGV4_EMISMATCH = -32005,    /* the signature does not match */
    SIGV4_ESKEW = -32006,        /* X-Amz-Date more than 15 minutes from now */
    SIGV4_EEXPIRED = -32007,     /* presigned URL past X-Amz-Date + X-Amz-Expires */
    SIGV4_ECONTENTSHA = -32008,  /* x-amz-content-sha256 neither a hash nor a known keyword,
                                    or the body's hash differs from it */
    SIGV4_ECHUNK = -32009,       /* aws-chunked framing malformed */
    SIGV4_ECHUNKSIG = -32010,    /* a chunk signature or the trailer signature is wrong */
    SIGV4_EDATE = -32011,        /* credential scope date differs from X-Amz-Date's date */
    SIGV4_EHOST = -32012,        /* host header not signed */
    SIGV4_EEXPIRES = -32013,     /* X-Amz-Expires not a number in 1..604800 */
};

const char *sigv4_strerror(int rc);

/* How the payload was declared (x-amz-content-sha256, or the body hash for JSON services). */
enum sigv4_payload {
    SIGV4_PAYLOAD_HASH = 0,                  /* a hex SHA-256 of the body */
    SIGV4_PAYLOAD_UNSIGNED,                  /* UNSIGNED-PAYLOAD */
    SIGV4_PAYLOAD_STREAMING,                 /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    SIGV4_PAYLOAD_STREAMING_TRAILER,         /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
};

struct sigv4_kv {
    struct sl_str name;   /* header name as received (any case) / query key as sent (raw) */
    struct sl_str value;  /* header value as received / query value as sent (raw, still
                             percent-encoded); a query key without '=' has value.p == NULL */
};

struct sigv4_request {
    struct sl_str method;            /* "GET" */
    struct sl_str raw_path;          /* path as sent on the request line, still encoded */
    const struct sigv4_kv *query;    /* query parameters as sent, in order */
    size_t n_query;
    const struct sigv4_kv *headers;  /* every header line as received, in order; repeated
                                        names appear repeatedly */
    size_t n_headers;
    bool s3;                         /* S3 canonical path rules (single encoding, no
                                        normalisation) instead of the other services' */
    /*
     * Hex SHA-256 of the body when the caller has it (JSON services hash their buffered body
     * before calling), or NULL: then the x-amz-content-sha256 header's value is signed
     * (S3 and streaming uploads: the caller checks the body against it as it streams).
     * Presigned requests without that header sign UNSIGNED-PAYLOAD.
     */
    const char *payload_hash;
    time_t now;                      /* the server's clock (seconds since the epoch) */
};

/* Looks up the secret of an access key. Returns 0 and writes a NUL-terminated secret into
 * secret (cap bytes), or SIGV4_EUNKNOWNKEY. Called from the calling thread. */
typedef int (*sigv4_secret_fn)(void *ctx, struct sl_str access_key, char *secret, size_t cap);

/* What a verified request proved. */
struct sigv4_auth {
    char access_key[129];
    char amz_date[17];        /* 20150830T123600Z */
    char scope_date[9];       /* 20150830 */
    char region[33];
    char service[33];
    char signature[65];       /* the request's (seed) signature, hex */
    unsigned char signing_key[32];
    bool presigned;
    enum sigv4_payload payload;
    char content_sha256[65];  /* the declared hash when payload == SIGV4_PAYLOAD_HASH */
    char msg[256];            /* on failure: the sentence AWS would send, e.g.
                                 "Signature expired: 20130524T000000Z is now earlier than
                                 20130524T000500Z (20130524T001000Z - 15 min.)" */
};

void sigv4_global_init(void);
void sigv4_global_cleanup(void);

/*
 * Verifies rq. On success fills out and returns 0. On failure returns a SIGV4_E* code and,
 * where AWS's message carries detail, writes it to out->msg (out->access_key is filled as
 * soon as it is known, for logs). Borrowed: everything in rq, for the call only.
 */
int sigv4_verify(const struct sigv4_request *rq, sigv4_secret_fn lookup, void *ctx,
                 struct sigv4_auth *out);

/*
 * Verifies the signature of a browser POST upload (S3 "Browser-based uploads using POST"):
 * signature must be the hex HMAC-SHA256 of the base64 policy (len bytes, as sent) under the
 * signing key of credential ("<key id>/<yyyymmdd>/<region>/<service>/aws4_request"), whose
 * date must be amz_date's. Whether the policy itself allows the upload is the caller's to
 * check. On success fills out (access_key, dates, region, service, signing_key) and returns
 * 0; else SIGV4_EMALFORMED, SIGV4_EUNKNOWNKEY or SIGV4_EMISMATCH. Borrowed: everything, for
 * the call.
 */
int sigv4_verify_policy(const char *policy, size_t len, const char *credential,
                        const char *amz_date, const char *signature, time_t now,
                        sigv4_secret_fn lookup, void *ctx, struct sigv4_auth *out);

/* Incremental SHA-256 for bodies, with the EVP_MD fetched once. */
struct sigv4_sha256;
struct sigv4_sha256 *sigv4_sha256_new(void);
void sigv4_sha256_update(struct sigv4_sha256 *h, const void *p, size_t n);
void sigv4_sha256_final_hex(struct sigv4_sha256 *h, char out[65]);  /* then reusable */
void sigv4_sha256_free(struct sigv4_sha256 *h);
void sigv4_sha256_hex(const void *p, size_t n, char out[65]);

/*
 * The aws-chunked body decoder (Content-Encoding: aws-chunked), a push parser:
 * feed it the body bytes as they arrive in any split; it calls sink with the decoded data
 * and, for the signed forms, checks each chunk's signature against the chain that starts at
 * the seed signature of auth. After the last byte, sigv4_chunked_finish() checks that the
 * final 0-size chunk and the trailer (if any) were complete and, for the signed trailer
 * form, the trailer signature. Trailer headers (x-amz-checksum-crc32: ...) are kept and can
 * be read with sigv4_chunked_trailer().
 * Limits: a chunk header line of at most 4096 bytes; a trailer of at most 16 KiB.
 */
struct sigv4_chunked;
typedef int (*sigv4_sink_fn)(void *ctx, const char *p, size_t n);  /* nonzero stops */

struct sigv4_chunked *sigv4_chunked_new(const struct sigv4_auth *auth);
/* Returns 0, a SIGV4_ECHUNK / SIGV4_ECHUNKSIG code, or the sink's nonzero result. After an
 * error the decoder is poisoned (R15): only sigv4_chunked_free() may follow. */
int sigv4_chunked_feed(struct sigv4_chunked *c, const char *p, size_t n, sigv4_sink_fn sink,
                       void *ctx);
int sigv4_chunked_finish(struct sigv4_chunked *c);
/* Decoded body bytes so far. */
uint64_t sigv4_chunked_decoded_len(const struct sigv4_chunked *c);
/* Value of trailer header name (lower case), or a NULL slice. Borrowed until free. */
struct sl_str sigv4_chunked_trailer(const struct sigv4_chunked *c, const char *name);
void sigv4_chunked_free(struct sigv4_chunked *c);

/*
 * Signing, for tests and for sluice's own outbound requests: computes the Authorization
 * header value for rq (which must carry X-Amz-Date and host headers) with the given
 * credentials, region and service. out needs 512 bytes. Returns 0 or -E2BIG.
 */
int sigv4_sign(const struct sigv4_request *rq, const char *access_key, const char *secret,
               const char *region, const char *service, const char *signed_headers,
               char *out, size_t outlen);

#endif
