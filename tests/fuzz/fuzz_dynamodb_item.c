/*
 * fuzz_dynamodb_item.c: libFuzzer target for the DynamoDB item encoder and decoders (R33).
 * The input is parsed as JSON, as the front door parses a request body, and encoded as an
 * Item; whatever the bytes, the encoder must not crash, leak or read out of bounds. An item it
 * accepts must decode (to JSON text and to jansson) into an item that encodes to the same
 * bytes again: the encoding is canonical. The raw input is also fed to the decoders as if it
 * were a stored item, which they must refuse or read without faults.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dynamodb/attr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena a;
    struct buf b, text, again;
    struct ddb_err err;
    json_error_t jerr;
    json_t *j, *back;
    size_t sz = 0;

    buf_init(&text, DDB_ITEM_ENC_MAX * 4);
    if (ddb_item_write_json(data, size, NULL, 0, &text) == 0) {
        json_decref(ddb_item_to_json(data, size, NULL, 0));
    }
    buf_release(&text);

    j = json_loadb((const char *)data, size, JSON_DECODE_ANY, &jerr);
    if (!j) {
        return 0;
    }
    arena_init(&a);
    buf_init(&b, DDB_ITEM_ENC_MAX);
    if (json_is_object(j) && ddb_item_encode(j, &a, &b, &sz, &err) == 0) {
        buf_init(&text, DDB_ITEM_ENC_MAX * 4);
        if (ddb_item_write_json(b.p, b.len, NULL, 0, &text) != 0) {
            abort();
        }
        back = json_loadb(text.p, text.len, 0, &jerr);
        if (!back) {
            abort();
        }
        buf_init(&again, DDB_ITEM_ENC_MAX);
        if (ddb_item_encode(back, &a, &again, &sz, &err) != 0 || again.len != b.len ||
            memcmp(again.p, b.p, b.len) != 0) {
            abort();
        }
        json_decref(back);
        back = ddb_item_to_json(b.p, b.len, NULL, 0);
        if (!back) {
            abort();
        }
        json_decref(back);
        buf_release(&again);
        buf_release(&text);
    }
    buf_release(&b);
    arena_clear(&a);
    json_decref(j);
    return 0;
}
