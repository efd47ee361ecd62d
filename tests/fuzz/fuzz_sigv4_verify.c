/*
 * fuzz_sigv4_verify.c: libFuzzer target for the SigV4 verifier's parsing of client bytes
 * (R33): the input is split into an Authorization header, a raw path and a raw query string,
 * and verified in both S3 and JSON-service modes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int lookup(void *ctx, struct sl_str key, char *secret, size_t cap)
{
    (void)ctx;
    (void)key;
    snprintf(secret, cap, "secret");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sigv4_kv headers[3], query[8];
    struct sigv4_request rq;
    struct sigv4_auth a;
    const char *p = (const char *)data;
    const char *end = p + size;
    const char *nl1 = memchr(p, '\n', size);
    const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1)) : NULL;
    size_t nq = 0;

    if (!nl1 || !nl2) {
        return 0;
    }
    headers[0].name = sl_str_c("Authorization");
    headers[0].value = (struct sl_str){ p, (size_t)(nl1 - p) };
    headers[1].name = sl_str_c("Host");
    headers[1].value = sl_str_c("h");
    headers[2].name = sl_str_c("X-Amz-Date");
    headers[2].value = sl_str_c("20150830T123600Z");
    {
        const char *q = nl2 + 1;
        while (q < end && nq < 8) {
            const char *amp = memchr(q, '&', (size_t)(end - q));
            const char *e = amp ? amp : end;
            const char *eq = memchr(q, '=', (size_t)(e - q));
            query[nq].name = (struct sl_str){ q, (size_t)((eq ? eq : e) - q) };
            query[nq].value = eq ? (struct sl_str){ eq + 1, (size_t)(e - eq - 1) }
                                 : (struct sl_str){ NULL, 0 };
            nq++;
            q = e + 1;
        }
    }
    for (int s3 = 0; s3 < 2; s3++) {
        memset(&rq, 0, sizeof rq);
        rq.method = sl_str_c("GET");
        rq.raw_path = (struct sl_str){ nl1 + 1, (size_t)(nl2 - nl1 - 1) };
        rq.query = query;
        rq.n_query = nq;
        rq.headers = headers;
        rq.n_headers = (size_t)(nl1 == p ? 2 : 3);
        rq.s3 = s3;
        rq.payload_hash = s3 ? NULL : "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        rq.now = 1440938160;
        sigv4_verify(&rq, lookup, NULL, &a);
    }
    return 0;
}
