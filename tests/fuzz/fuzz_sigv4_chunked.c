/*
 * fuzz_sigv4_chunked.c: libFuzzer target for the aws-chunked decoder (R33). The input is fed
 * in pieces whose sizes come from its first byte, in each of the three framing modes; the
 * decoder must never crash, read out of bounds, or leak, whatever the bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum sigv4_payload modes[] = { SIGV4_PAYLOAD_STREAMING,
                                                SIGV4_PAYLOAD_STREAMING_TRAILER,
                                                SIGV4_PAYLOAD_STREAMING_UNSIGNED_TRAILER };
    struct sigv4_auth a;
    size_t step;

    if (size < 1) {
        return 0;
    }
    step = (size_t)(data[0] % 64) + 1;
    data++;
    size--;
    memset(&a, 0, sizeof a);
    memcpy(a.signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9", 65);
    memcpy(a.amz_date, "20130524T000000Z", 17);
    memcpy(a.scope_date, "20130524", 9);
    memcpy(a.region, "us-east-1", 10);
    memcpy(a.service, "s3", 3);
    for (size_t m = 0; m < 3; m++) {
        struct sigv4_chunked *c;
        a.payload = modes[m];
        c = sigv4_chunked_new(&a);
        for (size_t off = 0; off < size; off += step) {
            size_t n = size - off < step ? size - off : step;
            if (sigv4_chunked_feed(c, (const char *)data + off, n, sink, NULL) != 0) {
                break;
            }
        }
        sigv4_chunked_finish(c);
        sigv4_chunked_trailer(c, "x-amz-checksum-crc32");
        sigv4_chunked_free(c);
    }
    return 0;
}
