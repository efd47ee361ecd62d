/*
 * fuzz_query_scan.c: libFuzzer target for the SQL scanner that finds archive() calls
 * (src/query/scan.c, R33). Whatever the bytes, the scan must never read past the length it
 * is given, crash or leak, and every call it reports must have a bucket and a prefix.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/qry_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so that a read past the end is caught. */
    char *sql = malloc(size ? size : 1);
    struct qry__calls c;

    memcpy(sql, data, size);
    qry__scan_calls(sql, size, &c);
    for (size_t i = 0; i < c.n; i++) {
        if (!c.v[i].bucket || !c.v[i].prefix) {
            abort();
        }
    }
    if (c.n > QRY__CALLS_MAX || c.n + c.dropped + c.nonliteral > c.total) {
        abort();
    }
    qry__calls_release(&c);
    (void)qry__sql_blank(sql, size);
    free(sql);
    return 0;
}
