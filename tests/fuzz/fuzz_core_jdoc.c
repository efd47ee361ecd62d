/*
 * fuzz_core_jdoc.c: libFuzzer target for the arena JSON reader (src/core/jdoc.c), against
 * jansson. Whatever the bytes, jd_parse() must not crash or read past them; a text it accepts
 * jansson must accept too, with the same values (when no object has a name twice, which
 * jansson folds); and the PutItem path's encoding of an accepted object as an item must be
 * the one of jansson's tree. jdoc may refuse a text jansson takes only when it holds a NUL
 * byte (jansson skips one right after a literal or a number).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/jdoc.h"
#include "dynamodb/attr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const struct jd *a, const struct jd *b)
{
    const struct jd *x, *y;
    if (a->type != b->type || a->klen != b->klen ||
        (a->klen && memcmp(a->key, b->key, a->klen) != 0)) {
        return 0;
    }
    if (a->type == JD_STRING) {
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    }
    if (a->type == JD_NUMBER) {
        return strtod(a->s, NULL) == strtod(b->s, NULL);
    }
    if (a->type == JD_ARRAY || a->type == JD_OBJECT) {
        for (x = a->child, y = b->child; x && y; x = x->next, y = y->next) {
            if (!same(x, y)) {
                return 0;
            }
        }
        return !x && !y && a->len == b->len;
    }
    return 1;
}

static int unique(const struct jd *v, struct arena *a)
{
    const struct jd *x;
    if (v->type == JD_OBJECT && !jd_names_unique(v, a)) {
        return 0;
    }
    if (v->type == JD_OBJECT || v->type == JD_ARRAY) {
        for (x = v->child; x; x = x->next) {
            if (!unique(x, a)) {
                return 0;
            }
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena a;
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    struct jd *v;

    arena_init(&a);
    v = jd_parse((const char *)data, size, 64, &a);
    if (v && !j) {
        abort();
    }
    if (!v && j && !memchr(data, '\0', size) &&
        !jd_parse((const char *)data, size, 4096, &a)) {
        abort();    /* refused for something other than its depth */
    }
    if (v && unique(v, &a)) {
        const struct jd *t = jd_of_json(j, &a);
        if (!same(v, t)) {
            abort();
        }
        if (v->type == JD_OBJECT) {
            struct buf b1, b2;
            struct ddb_err e1, e2;
            size_t s1 = 0, s2 = 0;
            int r1, r2;
            buf_init(&b1, DDB_ITEM_ENC_MAX);
            buf_init(&b2, DDB_ITEM_ENC_MAX);
            r1 = ddb_item_encode_jd(v, &a, &b1, &s1, &e1);
            r2 = ddb_item_encode(j, &a, &b2, &s2, &e2);
            if (r1 != r2 || (r1 == 0 && (s1 != s2 || b1.len != b2.len ||
                                         memcmp(b1.p, b2.p, b1.len) != 0)) ||
                (r1 != 0 && (e1.kind != e2.kind || strcmp(e1.msg, e2.msg) != 0))) {
                abort();
            }
            buf_release(&b1);
            buf_release(&b2);
        }
    }
    json_decref(j);
    arena_clear(&a);
    return 0;
}
