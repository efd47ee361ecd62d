/*
 * fuzz_query_records.c: libFuzzer target for the record stream of an archived object
 * (src/query/input.c and records.c, R33): any bytes, plain or gzip, handed out in reads of a
 * size taken from the first byte, into a record buffer whose start and limit come from the
 * second. The stream must end (no loop), never crash, read out of bounds or leak, and every
 * record it calls an object must be one whose text, and every member noted, lies inside the
 * decoded bytes. (fuzz_query_json.c holds the scanner's verdicts to jansson's.)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/qry_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
    const uint8_t *p;
    size_t len;
    size_t pos;
    size_t step;
};

static int src_read(void *ctx, void *dst, size_t cap, size_t *got)
{
    struct src *s = ctx;
    size_t n = s->len - s->pos;
    if (n > cap) {
        n = cap;
    }
    if (n > s->step) {
        n = s->step;
    }
    memcpy(dst, s->p + s->pos, n);
    s->pos += n;
    *got = n;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct src s;
    struct qry__input in;
    struct qry__records rs;
    enum qry__rec what;
    size_t initial, max;
    uint64_t n = 0;

    if (size < 2) {
        return 0;
    }
    s.step = (size_t)(data[0] % 16) + 1;
    initial = (size_t)(data[1] & 15) + 1;
    max = (data[1] & 0x80) ? 64 : 0;    /* a tiny limit, or the real one */
    s.p = data + 2;
    s.len = size - 2;
    s.pos = 0;
    qry__input_init(&in, src_read, &s, (size_t)(data[0] >> 4) + 2);
    qry__records_init(&rs, &in, initial, max);
    while (qry__records_next(&rs, &what) == 0 && what != QRY__REC_END) {
        if (what == QRY__REC_OBJECT) {
            if (rs.text < rs.buf || rs.text + rs.text_len > rs.buf + rs.len ||
                rs.text[0] != '{' || rs.text[rs.text_len - 1] != '}') {
                abort();
            }
            for (size_t f = 0; f < rs.n_fields; f++) {
                const struct qry__field *fd = &rs.fields[f];
                if ((size_t)fd->key + fd->key_len > rs.text_len ||
                    (size_t)fd->val + fd->val_len > rs.text_len || fd->val_len == 0) {
                    abort();
                }
                if (!fd->key_escaped &&
                    !qry__record_get(&rs, rs.text + fd->key, fd->key_len)) {
                    abort();
                }
            }
        }
        if (++n > rs.consumed + 1) {
            abort();    /* a record that consumed no byte: the stream does not advance */
        }
    }
    qry__records_release(&rs);
    qry__input_release(&in);
    return 0;
}
