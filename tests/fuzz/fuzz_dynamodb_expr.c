/*
 * fuzz_dynamodb_expr.c: libFuzzer target for the DynamoDB expression parser and what runs
 * the trees it makes (R33). The first input byte picks the kind (condition, update,
 * projection), the rest is the expression, parsed with a fixed set of ExpressionAttributeNames
 * and Values into a fresh arena. Whatever the bytes, parsing must end with a tree or a
 * message, never a crash, a hang or a read out of bounds. A parsed condition is evaluated
 * against a fixed item and against no item; a projection and an update are applied to it,
 * and what they write must be a canonical item encoding: decoded and encoded again, it gives
 * the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char item_json[] =
    "{\"pk\":{\"S\":\"k\"},\"a\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"},\"b\":{\"B\":\"AQID\"},"
    "\"l\":{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"},{\"M\":{\"x\":{\"N\":\"7\"}}}]},"
    "\"m\":{\"M\":{\"a\":{\"S\":\"x\"},\"n\":{\"M\":{\"deep\":{\"N\":\"-1.5\"}}}}},"
    "\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\",\"10\"]},\"t\":{\"BOOL\":true}}";
static const char names_json[] = "{\"#a\":\"a\",\"#b\":\"b.c\",\"#m\":\"m\",\"#l\":\"l\"}";
static const char values_json[] =
    "{\":a\":{\"N\":\"1\"},\":b\":{\"S\":\"x\"},\":l\":{\"L\":[{\"N\":\"2\"}]},"
    "\":s\":{\"SS\":[\"c\"]},\":n\":{\"NS\":[\"2\"]},\":m\":{\"M\":{\"q\":{\"N\":\"3\"}}},"
    "\":t\":{\"S\":\"NS\"},\":big\":{\"N\":\"9e125\"}}";

/* Aborts unless p[0..n) is a canonical item encoding. */
static void check_canonical(struct arena *a, const char *p, size_t n)
{
    json_t *j = ddb_item_to_json(p, n, NULL, 0);
    struct buf again;
    struct ddb_err err;
    size_t sz;
    if (!j) {
        abort();
    }
    buf_init(&again, DDB_ITEM_ENC_MAX);
    if (ddb_item_encode(j, a, &again, &sz, &err) != 0 || again.len != n ||
        memcmp(again.p, p, n) != 0) {
        abort();
    }
    buf_release(&again);
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena a;
    struct ddb_expr_ctx c;
    struct ddb_err err;
    json_t *item_j, *names, *values;
    struct buf item, out;
    const char *s = (const char *)data + 1;
    size_t n = size ? size - 1 : 0, isz;

    if (size == 0) {
        return 0;
    }
    arena_init(&a);
    item_j = json_loads(item_json, 0, NULL);
    names = json_loads(names_json, 0, NULL);
    values = json_loads(values_json, 0, NULL);
    buf_init(&item, DDB_ITEM_ENC_MAX);
    buf_init(&out, DDB_ITEM_ENC_MAX);
    if (ddb_item_encode(item_j, &a, &item, &isz, &err) != 0 ||
        ddb_expr_ctx_init(&c, &a, names, values, &err) != 0) {
        abort();
    }
    switch (data[0] % 3) {
    case 0: {
        struct ddb_node *x;
        if (ddb_expr_parse_cond(&c, DDB_EXPR_CONDITION, s, n, &x) == 0) {
            if (ddb_cond_eval(x, item.p, item.len) < 0 || ddb_cond_eval(x, NULL, 0) < 0) {
                abort();
            }
        }
        break;
    }
    case 1: {
        struct ddb_update *u;
        if (ddb_expr_parse_update(&c, s, n, &u) == 0) {
            if (ddb_update_apply(u, item.p, item.len, NULL, 0, &a, &out, &err) == 0) {
                check_canonical(&a, out.p, out.len);
                buf_reset(&out);
                if (ddb_update_project(u, &a, item.p, item.len, &out) == 0) {
                    check_canonical(&a, out.p, out.len);
                }
            }
        }
        break;
    }
    default: {
        struct ddb_proj *p;
        if (ddb_expr_parse_proj(&c, s, n, &p) == 0) {
            if (ddb_proj_apply(p, item.p, item.len, &out) != 0) {
                abort();
            }
            check_canonical(&a, out.p, out.len);
        }
        break;
    }
    }
    buf_release(&out);
    buf_release(&item);
    json_decref(item_j);
    json_decref(names);
    json_decref(values);
    arena_clear(&a);
    return 0;
}
