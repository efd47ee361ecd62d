/*
 * fuzz_dynamodb_partiql.c: libFuzzer target for the PartiQL statement parser (R33). The input
 * is the statement, parsed with a fixed list of Parameters into a fresh arena. Whatever the
 * bytes, parsing must end with a statement or a message, never a crash, a hang or a read out
 * of bounds. A parsed WHERE is evaluated against a fixed item and split against a key; an
 * INSERT's item and an UPDATE applied to the fixed item must be canonical item encodings.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/partiql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char item_json[] =
    "{\"pk\":{\"S\":\"k\"},\"sk\":{\"N\":\"5\"},\"s\":{\"S\":\"hello\"},"
    "\"l\":{\"L\":[{\"S\":\"a\"},{\"N\":\"1\"}]},\"m\":{\"M\":{\"a\":{\"S\":\"x\"}}},"
    "\"ss\":{\"SS\":[\"a\",\"b\"]},\"ns\":{\"NS\":[\"1\",\"10\"]}}";
static const char params_json[] = "[{\"S\":\"p\"},{\"N\":\"1\"},{\"SS\":[\"z\"]}]";

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
    struct ddb_pql q;
    struct ddb_err err;
    struct ddb_pql_split sp;
    json_t *item_j = json_loads(item_json, 0, NULL);
    json_t *params = json_loads(params_json, 0, NULL);
    struct buf item, out;
    size_t isz;

    arena_init(&a);
    buf_init(&item, DDB_ITEM_ENC_MAX);
    if (ddb_item_encode(item_j, &a, &item, &isz, &err) != 0) {
        abort();
    }
    if (ddb_pql_parse(&a, (const char *)data, size, params, &q, &err) == 0) {
        if (q.where) {
            if (ddb_cond_eval(q.where, item.p, item.len) < 0) {
                abort();
            }
            ddb_pql_split(&a, q.where, (struct sl_str){ "pk", 2 }, (struct sl_str){ "sk", 2 },
                          q.kind == DDB_PQL_SELECT, &sp);
            if (sp.rest && ddb_cond_eval(sp.rest, item.p, item.len) < 0) {
                abort();
            }
        }
        if (q.kind == DDB_PQL_INSERT) {
            check_canonical(&a, q.item, q.item_len);
        }
        if (q.kind == DDB_PQL_UPDATE) {
            buf_init(&out, DDB_ITEM_ENC_MAX);
            if (ddb_update_apply(q.update, item.p, item.len, NULL, 0, &a, &out, &err) == 0) {
                check_canonical(&a, out.p, out.len);
            }
            buf_release(&out);
        }
    }
    else if (err.kind != DDB_ERR_VALIDATION || err.msg[0] == 0) {
        abort();
    }
    buf_release(&item);
    arena_clear(&a);
    json_decref(item_j);
    json_decref(params);
    return 0;
}
