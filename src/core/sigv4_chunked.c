/*
 * sigv4_chunked.c: the aws-chunked body decoder (Content-Encoding: aws-chunked), a push
 * parser that checks every chunk signature of a streaming SigV4 upload.
 *
 * Framing, as the S3 documentation "Signature calculations for the Authorization header:
 * transferring payload in multiple chunks" and "... including trailing headers" describe it:
 *
 *   signed:          <hex-size>;chunk-signature=<sig>\r\n<data>\r\n ... 0;chunk-signature=<sig>\r\n
 *                    then \r\n                                    (STREAMING-...-PAYLOAD)
 *                    or trailer lines, x-amz-trailer-signature:<sig>\r\n, \r\n  (...-TRAILER)
 *   unsigned:        <hex-size>\r\n<data>\r\n ... 0\r\n, trailer lines, \r\n
 *                                                   (STREAMING-UNSIGNED-PAYLOAD-TRAILER)
 *
 * A chunk's string to sign is "AWS4-HMAC-SHA256-PAYLOAD\n<date>\n<scope>\n<previous
 * signature>\n<sha256 of empty>\n<sha256 of chunk data>"; the first previous signature is the
 * request's (seed) signature. The trailer's is "AWS4-HMAC-SHA256-TRAILER\n<date>\n<scope>\n
 * <previous signature>\n<sha256 of the trailer lines, each 'name:value\n'>".
 *
 * States (the decoder's `state`, moved by feed()):
 *
 *   LINE --size line parsed, size > 0--> DATA --size bytes--> DATA_CR --"\r\n"--> LINE
 *   LINE --size 0, signed, no trailer--> END_CRLF --"\r\n"--> DONE
 *   LINE --size 0, trailer expected--> TRAILER --empty line--> DONE
 *   any --malformed or bad signature--> FAILED (poisoned: only free() may follow)
 *
 * Invariants: never reads past the input; a header or trailer line longer than its limit is an
 * error, never a reallocation; data bytes are passed to the sink as they arrive, never held.
 */
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/sigv4.h"
#include "core/sigv4_int.h"

#define LINE_MAX_BYTES 4096
#define TRAILER_MAX_BYTES (16 * 1024)
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

enum chunk_state { C_LINE, C_DATA, C_DATA_CR, C_END_CRLF, C_TRAILER, C_DONE, C_FAILED };

struct sigv4_chunked {
    enum chunk_state state;
    bool sign;                  /* chunk signatures present and checked */
    bool trailer;               /* trailer lines follow the last chunk */
    bool trailer_signed;
    char line[LINE_MAX_BYTES + 1];
    size_t line_len;
    uint64_t remaining;         /* data bytes left in the current chunk */
    uint64_t decoded;
    char expect_sig[65];        /* the current chunk's declared signature */
    char prev_sig[65];
    char amz_date[17];
    char scope[160];
    unsigned char key[32];
    struct sigv4_sha256 *data_sha;
    char trailer_buf[TRAILER_MAX_BYTES + 1];
    size_t trailer_len;
    char trailer_sig[65];
};

struct sigv4_chunked *sigv4_chunked_new(const struct sigv4_auth *auth)
{
    struct sigv4_chunked *c = xcalloc(1, sizeof *c);
    c->state = C_LINE;
    c->sign = auth->payload == SIGV4_PAYLOAD_STREAMING ||
              auth->payload == SIGV4_PAYLOAD_STREAMING_TRAILER;
    c->trailer = auth->payload == SIGV4_PAYLOAD_STREAMING_TRAILER ||
                 auth->payload == SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    c->trailer_signed = auth->payload == SIGV4_PAYLOAD_STREAMING_TRAILER;
    memcpy(c->prev_sig, auth->signature, sizeof c->prev_sig);
    memcpy(c->amz_date, auth->amz_date, sizeof c->amz_date);
    sigv4__scope(c->scope, auth->scope_date, auth->region, auth->service);
    memcpy(c->key, auth->signing_key, sizeof c->key);
    c->data_sha = sigv4_sha256_new();
    return c;
}

void sigv4_chunked_free(struct sigv4_chunked *c)
{
    if (c) {
        sigv4_sha256_free(c->data_sha);
        OPENSSL_cleanse(c->key, sizeof c->key);
        free(c);
    }
}

uint64_t sigv4_chunked_decoded_len(const struct sigv4_chunked *c)
{
    return c->decoded;
}

static int fail(struct sigv4_chunked *c, int rc)
{
    c->state = C_FAILED;
    return rc;
}

/* Checks the declared signature of the chunk whose data hash is data_hex. */
static int check_chunk_sig(struct sigv4_chunked *c, const char *data_hex)
{
    char sts[512], sig[65];
    unsigned char mac[32];
    int n = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s", c->amz_date,
                     c->scope, c->prev_sig, EMPTY_SHA, data_hex);
    sigv4__hmac_signing(c->key, sts, (size_t)n, mac);
    sl_hex(mac, 32, sig);
    if (CRYPTO_memcmp(sig, c->expect_sig, 64) != 0) {
        return SIGV4_ECHUNKSIG;
    }
    memcpy(c->prev_sig, sig, sizeof sig);
    return 0;
}

/* Parses "<hex>[;chunk-signature=<64 hex>]" in c->line. */
static int parse_size_line(struct sigv4_chunked *c)
{
    char *p = c->line, *end;
    unsigned long long size;
    size_t digits = 0;

    while (isxdigit((unsigned char)p[digits])) {
        digits++;
    }
    if (digits == 0 || digits > 16) {
        return SIGV4_ECHUNK;
    }
    size = strtoull(p, &end, 16);
    if (c->sign) {
        static const char key[] = ";chunk-signature=";
        if (strncmp(end, key, sizeof key - 1) != 0) {
            return SIGV4_ECHUNK;
        }
        end += sizeof key - 1;
        if (strlen(end) != 64) {
            return SIGV4_ECHUNK;
        }
        for (int i = 0; i < 64; i++) {
            if (!isxdigit((unsigned char)end[i])) {
                return SIGV4_ECHUNK;
            }
        }
        memcpy(c->expect_sig, end, 65);
    }
    else if (*end != '\0' && *end != ';') {
        return SIGV4_ECHUNK;
    }
    c->remaining = size;
    return 0;
}

/* A complete trailer (all lines, signature line excluded from the canonical form). */
static int finish_trailer(struct sigv4_chunked *c)
{
    if (c->trailer_signed) {
        char sts[512], sig[65], hex[65];
        unsigned char mac[32];
        int n;
        if (!c->trailer_sig[0]) {
            return SIGV4_ECHUNKSIG;
        }
        sigv4_sha256_hex(c->trailer_buf, c->trailer_len, hex);
        n = snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", c->amz_date,
                     c->scope, c->prev_sig, hex);
        sigv4__hmac_signing(c->key, sts, (size_t)n, mac);
        sl_hex(mac, 32, sig);
        if (CRYPTO_memcmp(sig, c->trailer_sig, 64) != 0) {
            return SIGV4_ECHUNKSIG;
        }
    }
    return 0;
}

/* One trailer line (without its line end). An empty line ends the trailer. */
static int trailer_line(struct sigv4_chunked *c)
{
    char *colon;
    char *name = c->line, *value;
    size_t nl;

    if (c->line_len == 0) {
        int rc = finish_trailer(c);
        if (rc) {
            return rc;
        }
        c->state = C_DONE;
        return 0;
    }
    colon = strchr(c->line, ':');
    if (!colon || colon == c->line) {
        return SIGV4_ECHUNK;
    }
    *colon = '\0';
    value = colon + 1;
    while (*value == ' ') {
        value++;
    }
    for (char *q = name; *q; q++) {
        *q = (char)tolower((unsigned char)*q);
    }
    if (strcmp(name, "x-amz-trailer-signature") == 0) {
        if (strlen(value) != 64) {
            return SIGV4_ECHUNK;
        }
        memcpy(c->trailer_sig, value, 65);
        return 0;
    }
    nl = strlen(name) + 1 + strlen(value) + 1;
    if (c->trailer_len + nl > TRAILER_MAX_BYTES) {
        return SIGV4_ECHUNK;
    }
    c->trailer_len += (size_t)snprintf(c->trailer_buf + c->trailer_len,
                                       sizeof c->trailer_buf - c->trailer_len, "%s:%s\n", name,
                                       value);
    return 0;
}

/* A complete line (size line or trailer line) in c->line. */
static int line_done(struct sigv4_chunked *c)
{
    int rc;
    if (c->state == C_TRAILER) {
        return trailer_line(c);
    }
    if (c->state == C_END_CRLF) {
        if (c->line_len != 0) {
            return SIGV4_ECHUNK;
        }
        c->state = C_DONE;
        return 0;
    }
    rc = parse_size_line(c);
    if (rc) {
        return rc;
    }
    if (c->remaining > 0) {
        c->state = C_DATA;
        return 0;
    }
    /* The final, empty chunk. */
    if (c->sign) {
        rc = check_chunk_sig(c, EMPTY_SHA);
        if (rc) {
            return rc;
        }
    }
    c->state = c->trailer ? C_TRAILER : C_END_CRLF;
    return 0;
}

int sigv4_chunked_feed(struct sigv4_chunked *c, const char *p, size_t n, sigv4_sink_fn sink,
                       void *ctx)
{
    size_t i = 0;
    while (i < n) {
        switch (c->state) {
        case C_LINE:
        case C_TRAILER:
        case C_END_CRLF: {
            char ch = p[i++];
            if (ch == '\n') {
                int rc;
                if (c->line_len && c->line[c->line_len - 1] == '\r') {
                    c->line_len--;
                }
                c->line[c->line_len] = '\0';
                rc = line_done(c);
                c->line_len = 0;
                if (rc) {
                    return fail(c, rc);
                }
                break;
            }
            if (c->line_len == LINE_MAX_BYTES) {
                return fail(c, SIGV4_ECHUNK);
            }
            c->line[c->line_len++] = ch;
            break;
        }
        case C_DATA: {
            size_t take = n - i;
            int rc;
            if ((uint64_t)take > c->remaining) {
                take = (size_t)c->remaining;
            }
            if (c->sign) {
                sigv4_sha256_update(c->data_sha, p + i, take);
            }
            rc = sink(ctx, p + i, take);
            if (rc) {
                c->state = C_FAILED;
                return rc;
            }
            c->decoded += take;
            c->remaining -= take;
            i += take;
            if (c->remaining == 0) {
                if (c->sign) {
                    char hex[65];
                    sigv4_sha256_final_hex(c->data_sha, hex);
                    rc = check_chunk_sig(c, hex);
                    if (rc) {
                        return fail(c, rc);
                    }
                }
                c->state = C_DATA_CR;
                c->line_len = 0;
            }
            break;
        }
        case C_DATA_CR: {
            /* Exactly "\r\n" after the data. */
            char ch = p[i++];
            if (c->line_len == 0 && ch == '\r') {
                c->line_len = 1;
            }
            else if (ch == '\n') {
                c->line_len = 0;
                c->state = C_LINE;
            }
            else {
                return fail(c, SIGV4_ECHUNK);
            }
            break;
        }
        case C_DONE:
            /* Nothing may follow the end of the body. */
            return fail(c, SIGV4_ECHUNK);
        case C_FAILED:
            return SIGV4_ECHUNK;
        }
    }
    return 0;
}

int sigv4_chunked_finish(struct sigv4_chunked *c)
{
    if (c->state == C_DONE) {
        return 0;
    }
    /* Some clients end an unsigned trailer without the final empty line. */
    if (c->state == C_TRAILER && c->line_len == 0 && !c->trailer_signed) {
        c->state = C_DONE;
        return 0;
    }
    c->state = C_FAILED;
    return SIGV4_ECHUNK;
}

struct sl_str sigv4_chunked_trailer(const struct sigv4_chunked *c, const char *name)
{
    size_t n = strlen(name);
    const char *p = c->trailer_buf;
    const char *end = c->trailer_buf + c->trailer_len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            break;
        }
        if ((size_t)(nl - p) > n && p[n] == ':' && strncasecmp(p, name, n) == 0) {
            return (struct sl_str){ p + n + 1, (size_t)(nl - p - n - 1) };
        }
        p = nl + 1;
    }
    return SL_STR_NULL;
}
