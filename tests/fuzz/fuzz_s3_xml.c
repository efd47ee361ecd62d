/*
 * fuzz_s3_xml.c: libFuzzer target for S3's request-body parsers (R33): the Delete body of
 * DeleteObjects, CompleteMultipartUpload, the Tagging body of PutObjectTagging, the
 * x-amz-tagging header, and the bucket configurations (CORS, lifecycle, notification XML and
 * the JSON bucket policy). The first byte picks the parser; the rest is the body (or header).
 * Each parse runs on a fresh request arena that is cleared after it: whatever the bytes, no
 * crash, no read out of bounds, no leak, and either a result or an S3 error set.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "s3/s3_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_req r;
    struct sigv4_kv hdr;
    int rc = 0;

    if (size < 1) {
        return 0;
    }
    memset(&r, 0, sizeof r);
    arena_init(&r.arena);
    buf_init(&r.body, S3__MAX_BODY);
    if (buf_append(&r.body, data + 1, size - 1) < 0) {
        buf_release(&r.body);
        return 0;
    }
    switch (data[0] % 8) {
    case 0: {
        struct s3__delete_list l;
        rc = s3__delete_xml_or_reply(&r, &l);
        if (rc == 0 && (l.n == 0 || l.n > S3__DELETE_MAX)) {
            __builtin_trap();
        }
        break;
    }
    case 1: {
        struct s3__listed_part *parts;
        size_t n;
        rc = s3__complete_xml_or_reply(&r, &parts, &n);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (parts[i].number < 1 || parts[i].number > S3__PARTS_MAX) {
                __builtin_trap();
            }
        }
        break;
    }
    case 2: {
        struct sl_str tags;
        rc = s3__tags_xml_or_reply(&r, &tags);
        if (rc == 0 && s3__tags_count(tags) > S3__TAGS_MAX) {
            __builtin_trap();
        }
        break;
    }
    case 3: {
        struct sl_str tags;
        char *v = arena_strndup(&r.arena, (const char *)data + 1, size - 1);
        hdr.name = SL_STR_LIT("x-amz-tagging");
        hdr.value = sl_str_c(v);
        r.headers = &hdr;
        r.n_headers = 1;
        rc = s3__tags_from_header_or_reply(&r, &tags);
        if (rc == 0 && s3__tags_count(tags) > S3__TAGS_MAX) {
            __builtin_trap();
        }
        break;
    }
    case 4:
        rc = s3__cors_check_or_reply(&r);
        break;
    case 5:
        rc = s3__lifecycle_check_or_reply(&r);
        break;
    case 6: {
        bool empty;
        rc = s3__notification_check_or_reply(&r, &empty);
        break;
    }
    default:
        rc = s3__policy_check_or_reply(&r);
        break;
    }
    if (rc < 0 && r.err == AWSERR_NONE) {
        __builtin_trap(); /* a refusal always says why */
    }
    arena_clear(&r.arena);
    buf_release(&r.body);
    return 0;
}
