/*
 * fuzz_s3_post.c: libFuzzer target for the multipart/form-data framing of S3 browser POST
 * uploads (post.c), the streaming parser that reads form fields and finds the file part's
 * end across network reads. The first byte gives the boundary's length, the next ones the
 * boundary, then four bytes choose where the body is cut into reads (so a delimiter split
 * between reads is exercised); the rest is the body. Whatever the bytes: no crash, no read
 * out of bounds, no leak, and either a parsed form or an S3 error set.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "s3/s3_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_req r;
    size_t blen, cuts[4], n;
    const char *body;
    uint64_t file_size = 0;
    int rc;

    if (size < 6) {
        return 0;
    }
    blen = 1 + data[0] % 72;
    if (size < 1 + blen + 4) {
        return 0;
    }
    body = (const char *)data + 1 + blen + 4;
    n = size - 1 - blen - 4;
    for (size_t i = 0; i < 4; i++) {
        cuts[i] = n ? (size_t)data[1 + blen + i] * n / 255 : 0;
    }
    memset(&r, 0, sizeof r);
    arena_init(&r.arena);
    rc = s3__post_parse_dry(&r, (struct sl_str){ (const char *)data + 1, blen }, body, n, cuts,
                            4, &file_size);
    if (rc < 0 && r.err == AWSERR_NONE) {
        __builtin_trap(); /* a refusal always says why */
    }
    if (rc == 0 && file_size > n) {
        __builtin_trap(); /* the file is part of the body */
    }
    arena_clear(&r.arena);
    return 0;
}
