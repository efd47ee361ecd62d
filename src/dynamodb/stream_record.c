/*
 * stream_record.c: the DynamoDB Streams record of one item change, built inside the writer's
 * nested transaction of the change and appended to the table's enabled stream, so the change
 * and its record commit together or not at all.
 *
 * What it is: the "dynamodb" object of a record as the DynamoDB Streams API reference's
 * StreamRecord gives it: ApproximateCreationDateTime (epoch seconds), Keys, NewImage and
 * OldImage as the stream's view type asks, SizeBytes. The change log (src/streams/) adds
 * eventID, eventName, eventVersion, eventSource, awsRegion, SequenceNumber and
 * StreamViewType.
 *
 * What it is not: the decision whether a change happened. The caller (write.c) appends
 * nothing for a DeleteItem of a missing item, nor for a PutItem that writes an item equal to
 * the one stored: DynamoDB Streams records only changes ("Change data capture for DynamoDB
 * Streams": a write that does not change any data writes no stream record).
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "dynamodb/ddb_int.h"

/* DynamoDB's size of the key attributes of an item (names and values). */
static size_t keys_size(const void *item, size_t n, const struct sl_str *keys, size_t nkeys)
{
    size_t total = 0;
    for (size_t i = 0; i < nkeys; i++) {
        struct ddb_attr a;
        if (ddb_item_find(item, n, keys[i].p, keys[i].len, &a) == 1) {
            total += keys[i].len + ddb_attr_size(&a);
        }
    }
    return total;
}

static uint32_t item_size(const void *item, size_t n)
{
    struct ddb_item_view v;
    return ddb_item_open(item, n, &v) == 0 ? v.size : 0;
}

int ddb__stream_record(struct ddb *d, MDB_txn *txn, const struct ddb_schema *s,
                       const void *old, size_t old_len, const void *new_, size_t new_len,
                       bool by_ttl)
{
    struct sl_str keys[2] = { s->hash, s->range };
    size_t nkeys = s->range.len ? 2 : 1;
    const void *any = new_ ? new_ : old;
    size_t any_len = new_ ? new_len : old_len;
    const char *event = old && new_ ? "MODIFY" : new_ ? "INSERT" : "REMOVE";
    bool want_new = s->view == DDB_VIEW_NEW_IMAGE || s->view == DDB_VIEW_NEW_AND_OLD_IMAGES;
    bool want_old = s->view == DDB_VIEW_OLD_IMAGE || s->view == DDB_VIEW_NEW_AND_OLD_IMAGES;
    char arn[1100];
    size_t size = keys_size(any, any_len, keys, nkeys);
    json_t *rec, *k, *who = NULL;
    int rc;

    store_assert_writer(d->st);
    if (s->stream_arn.len >= sizeof arn) {
        return -EINVAL;
    }
    memcpy(arn, s->stream_arn.p, s->stream_arn.len);
    arn[s->stream_arn.len] = '\0';
    k = ddb_item_to_json(any, any_len, keys, nkeys);
    if (!k) {
        return -EIO;
    }
    rec = json_object();
    json_object_set_new(rec, "ApproximateCreationDateTime", json_integer((json_int_t)time(NULL)));
    json_object_set_new(rec, "Keys", k);
    if (want_new && new_) {
        json_t *img = ddb_item_to_json(new_, new_len, NULL, 0);
        if (img) {
            json_object_set_new(rec, "NewImage", img);
            size += item_size(new_, new_len);
        }
    }
    if (want_old && old) {
        json_t *img = ddb_item_to_json(old, old_len, NULL, 0);
        if (img) {
            json_object_set_new(rec, "OldImage", img);
            size += item_size(old, old_len);
        }
    }
    json_object_set_new(rec, "SizeBytes", json_integer((json_int_t)size));
    if (by_ttl) {
        /* "Time to Live (TTL) and DynamoDB Streams": the service deleted the item. */
        who = json_pack("{s:s, s:s}", "type", "Service", "principalId", "dynamodb.amazonaws.com");
    }
    rc = strm_append(d->streams, txn, arn, event, rec, who);
    json_decref(who);
    json_decref(rec);
    return rc;
}
