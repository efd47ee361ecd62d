/*
 * fuzz_query_json.c: differential libFuzzer target for the JSON scanner of the record stream
 * (src/query/records.c, qry__json_scan), with jansson as the reference. For any value that
 * starts with '{', '[' or '"', both must accept it with the same length or both refuse it,
 * except where records.c says they differ on purpose: jansson refuses a number it cannot hold
 * and a key with \u0000, the scanner accepts both. Inputs holding a NUL byte are not compared:
 * jansson's reader drops raw NUL bytes as if they were not there (RFC 8259 allows them
 * nowhere, and the scanner refuses them). Every accepted string is also decoded and compared.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/qry_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    json_error_t err;
    json_t *v;
    enum qry__scan r;
    size_t len = 0, more_len = 0;

    if (size == 0 || (p[0] != '{' && p[0] != '[' && p[0] != '"') || memchr(p, '\0', size)) {
        return 0;
    }
    r = qry__json_scan(p, size, true, &len);
    /* Without eof, a value the scanner accepts whole must be accepted the same way, or be
     * waiting for more bytes; never refused. */
    if (r == QRY__SCAN_OK) {
        enum qry__scan r2 = qry__json_scan(p, size, false, &more_len);
        if (r2 == QRY__SCAN_BAD || (r2 == QRY__SCAN_OK && more_len != len)) {
            abort();
        }
    }
    v = json_loadb(p, size, JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &err);
    if (v) {
        if (r != QRY__SCAN_OK || len != (size_t)err.position) {
            abort();
        }
        if (json_is_string(v)) {
            size_t n;
            char *d = qry__json_unescape(p + 1, len - 2, &n);
            if (n != json_string_length(v) || memcmp(d, json_string_value(v), n) != 0) {
                abort();
            }
            free(d);
        }
        json_decref(v);
    }
    else if (r == QRY__SCAN_OK && json_error_code(&err) != json_error_numeric_overflow &&
             json_error_code(&err) != json_error_null_byte_in_key) {
        abort();
    }
    return 0;
}
