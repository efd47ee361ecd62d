/*
 * test_dynamodb_backfill.c: global secondary indexes created on a table that holds items
 * (src/dynamodb/backfill.c): while the backfill waits the index is CREATING and refuses
 * reads, writes keep its entries right, a restart resumes the backfill from its cursor, and
 * the finished index holds exactly the entries its table's items call for, with exact
 * counters; a deleted index is DELETING until its entries are gone. And the item collection
 * limit of tables with local secondary indexes on the write paths besides PutItem's (its
 * own test is in test_dynamodb_query.c): UpdateItem growing an item or creating one,
 * BatchWriteItem, TransactWriteItems, and a global secondary index added to such a table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>

#include "ddb_handlers.h"

static const char *gsi_status(const json_t *t, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(t, "GlobalSecondaryIndexes"), i),
                        "IndexStatus"));
}

static void put(struct fixture *f, int i, const char *g)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"bft\",\"Item\":{\"h\":{\"S\":\"h%d\"},\"r\":{\"N\":\"%d\"}%s%s,"
             "\"x\":{\"S\":\"%0100d\"}}}",
             i % 17, i, g ? "," : "", g ? g : "", i);
    ok(f, ddb_put_item, body);
}

static void test_backfill_waits_keeps_writes_and_resumes(void **state)
{
    struct fixture *f = *state;
    struct http_service *svc;
    struct answer a;
    json_t *t, *ix;
    char g[64], body[512];
    uint32_t index_id;

    ok(f, ddb_create_table,
       "{\"TableName\":\"bft\",\"BillingMode\":\"PAY_PER_REQUEST\","
       "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
       "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"},"
       "{\"AttributeName\":\"r\",\"AttributeType\":\"N\"}]}");
    /* More items than one backfill op copies; some without g, some with a Number g. */
    for (int i = 0; i < 2 * DDB_BACKFILL_BATCH + 300; i++) {
        if (i % 13 == 0) {
            put(f, i, NULL);
            continue;
        }
        snprintf(g, sizeof g, i % 11 == 0 ? "\"g\":{\"N\":\"%d\"}" : "\"g\":{\"S\":\"g%d\"}",
                 i % 7);
        put(f, i, g);
    }

    /* The backfill waits, as if the server stopped right after the UpdateTable. */
    pause_background(f, true);
    call(f, ddb_update_table,
         "{\"TableName\":\"bft\",\"AttributeDefinitions\":["
         "{\"AttributeName\":\"g\",\"AttributeType\":\"S\"},"
         "{\"AttributeName\":\"r\",\"AttributeType\":\"N\"}],"
         "\"GlobalSecondaryIndexUpdates\":[{\"Create\":{\"IndexName\":\"byg\","
         "\"KeySchema\":[{\"AttributeName\":\"g\",\"KeyType\":\"HASH\"},"
         "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
         "\"Projection\":{\"ProjectionType\":\"INCLUDE\",\"NonKeyAttributes\":[\"x\"]}}}]}",
         &a);
    assert_int_equal(a.err, AWSERR_NONE);
    ix = json_array_get(
        json_object_get(json_object_get(a.body, "TableDescription"), "GlobalSecondaryIndexes"),
        0);
    assert_string_equal(json_string_value(json_object_get(ix, "IndexStatus")), "CREATING");
    assert_true(json_is_true(json_object_get(ix, "Backfilling")));
    json_decref(a.body);
    t = describe(f, "bft");
    assert_string_equal(json_string_value(json_object_get(t, "TableStatus")), "UPDATING");
    assert_string_equal(gsi_status(t, 0), "CREATING");
    /* The table's definitions gained g, once. */
    assert_int_equal(json_array_size(json_object_get(t, "AttributeDefinitions")), 3);
    json_decref(t);

    fails(f, ddb_query,
          "{\"TableName\":\"bft\",\"IndexName\":\"byg\",\"KeyConditionExpression\":\"g = :g\","
          "\"ExpressionAttributeValues\":{\":g\":{\"S\":\"g1\"}}}",
          AWSERR_VALIDATION, "Cannot read from backfilling global secondary index: byg");
    fails(f, ddb_scan, "{\"TableName\":\"bft\",\"IndexName\":\"byg\"}", AWSERR_VALIDATION,
          "Cannot read from backfilling global secondary index: byg");
    /* Another index may not start meanwhile. */
    fails(f, ddb_update_table,
          "{\"TableName\":\"bft\",\"AttributeDefinitions\":["
          "{\"AttributeName\":\"r\",\"AttributeType\":\"N\"}],"
          "\"GlobalSecondaryIndexUpdates\":[{\"Create\":{\"IndexName\":\"byr\","
          "\"KeySchema\":[{\"AttributeName\":\"r\",\"KeyType\":\"HASH\"}],"
          "\"Projection\":{\"ProjectionType\":\"KEYS_ONLY\"}}}]}",
          AWSERR_LIMIT_EXCEEDED,
          "Subscriber limit exceeded: Only 1 online index can be created or deleted "
          "simultaneously per table");

    /* Writes meanwhile: moves, removals, deletions, new items, and a refused type. */
    for (int i = 0; i < 2 * DDB_BACKFILL_BATCH + 300; i += 5) {
        snprintf(body, sizeof body,
                 i % 3 == 0 ? "{\"TableName\":\"bft\",\"Key\":{\"h\":{\"S\":\"h%d\"},"
                              "\"r\":{\"N\":\"%d\"}}}"
                 : i % 3 == 1
                     ? "{\"TableName\":\"bft\",\"Key\":{\"h\":{\"S\":\"h%d\"},"
                       "\"r\":{\"N\":\"%d\"}},\"UpdateExpression\":\"SET g = :g\","
                       "\"ExpressionAttributeValues\":{\":g\":{\"S\":\"moved\"}}}"
                     : "{\"TableName\":\"bft\",\"Key\":{\"h\":{\"S\":\"h%d\"},"
                       "\"r\":{\"N\":\"%d\"}},\"UpdateExpression\":\"REMOVE g\"}",
                 i % 17, i);
        ok(f, i % 3 == 0 ? ddb_delete_item : ddb_update_item, body);
    }
    for (int i = 5000; i < 5100; i++) {
        put(f, i, "\"g\":{\"S\":\"new\"}");
    }
    fails(f, ddb_put_item,
          "{\"TableName\":\"bft\",\"Item\":{\"h\":{\"S\":\"h1\"},\"r\":{\"N\":\"1\"},"
          "\"g\":{\"N\":\"1\"}}}",
          AWSERR_VALIDATION,
          "One or more parameter values were invalid: Type mismatch for Index Key g Expected: S "
          "Actual: N IndexName: byg");

    /* A restart: the new service instance resumes the backfill from the stored cursor. */
    ddb_free(f->d);
    assert_int_equal(ddb_new(f->st, f->s, "us-east-1", "000000000000", &f->d, &svc), 0);
    f->svc = svc;
    for (int tries = 0; tries < 5000; tries++) {
        t = describe(f, "bft");
        if (strcmp(gsi_status(t, 0), "ACTIVE") == 0) {
            break;
        }
        json_decref(t);
        t = NULL;
        nap();
    }
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(t, "TableStatus")), "ACTIVE");
    assert_true(json_is_false(json_object_get(
        json_array_get(json_object_get(t, "GlobalSecondaryIndexes"), 0), "Backfilling")));
    json_decref(t);
    assert_true(check_index(f, "bft", 0, true) > 1000);
    call(f, ddb_query,
         "{\"TableName\":\"bft\",\"IndexName\":\"byg\",\"KeyConditionExpression\":\"g = :g\","
         "\"ExpressionAttributeValues\":{\":g\":{\"S\":\"new\"}},\"Select\":\"COUNT\"}",
         &a);
    assert_int_equal(a.err, AWSERR_NONE);
    assert_int_equal(json_integer_value(json_object_get(a.body, "Count")), 100);
    json_decref(a.body);

    /* Delete: DELETING until the entries are gone, then no index at all. */
    index_id = read_schema(f, "bft", NULL, 0).index[0].id;
    pause_background(f, true);
    call(f, ddb_update_table,
         "{\"TableName\":\"bft\",\"GlobalSecondaryIndexUpdates\":[{\"Delete\":{"
         "\"IndexName\":\"byg\"}}]}",
         &a);
    assert_int_equal(a.err, AWSERR_NONE);
    t = json_object_get(a.body, "TableDescription");
    assert_string_equal(gsi_status(t, 0), "DELETING");
    assert_int_equal(json_array_size(json_object_get(t, "AttributeDefinitions")), 2);
    json_decref(a.body);
    t = describe(f, "bft");
    assert_string_equal(gsi_status(t, 0), "DELETING");
    assert_string_equal(json_string_value(json_object_get(t, "TableStatus")), "UPDATING");
    json_decref(t);
    fails(f, ddb_query,
          "{\"TableName\":\"bft\",\"IndexName\":\"byg\",\"KeyConditionExpression\":\"g = :g\","
          "\"ExpressionAttributeValues\":{\":g\":{\"S\":\"g1\"}}}",
          AWSERR_VALIDATION, "The table does not have the specified index: byg");
    assert_true(entries_under(f, f->d->index, index_id) > 0);
    pause_background(f, false);
    ddb__reclaim_kick(f->d);
    for (int tries = 0; tries < 5000 && entries_under(f, f->d->index, index_id) > 0; tries++) {
        nap();
    }
    assert_int_equal(entries_under(f, f->d->index, index_id), 0);
    t = describe(f, "bft");
    assert_null(json_object_get(t, "GlobalSecondaryIndexes"));
    assert_string_equal(json_string_value(json_object_get(t, "TableStatus")), "ACTIVE");
    json_decref(t);
}

static void test_collection_limit_on_every_write_path(void **state)
{
    struct fixture *f = *state;
    char body[512];
    struct answer a;
    json_t *t;
    static const char full[] = "The total size of an item collection has exceeded the maximum "
                               "limit of 10 gigabytes.";

    f->d->collection_max = 2000;
    ok(f, ddb_create_table,
       "{\"TableName\":\"lsi\",\"BillingMode\":\"PAY_PER_REQUEST\","
       "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
       "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"},"
       "{\"AttributeName\":\"r\",\"AttributeType\":\"N\"},"
       "{\"AttributeName\":\"l\",\"AttributeType\":\"S\"}],"
       "\"LocalSecondaryIndexes\":[{\"IndexName\":\"byl\",\"KeySchema\":["
       "{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
       "{\"AttributeName\":\"l\",\"KeyType\":\"RANGE\"}],"
       "\"Projection\":{\"ProjectionType\":\"ALL\"}}]}");
    /* UpdateItem that creates items, until the collection is full. */
    for (int i = 0;; i++) {
        assert_true(i < 30);
        snprintf(body, sizeof body,
                 "{\"TableName\":\"lsi\",\"Key\":{\"h\":{\"S\":\"a\"},\"r\":{\"N\":\"%d\"}},"
                 "\"UpdateExpression\":\"SET l = :l\","
                 "\"ExpressionAttributeValues\":{\":l\":{\"S\":\"%0100d\"}}}",
                 i, i);
        call(f, ddb_update_item, body, &a);
        json_decref(a.body);
        if (a.err != AWSERR_NONE) {
            assert_int_equal(a.err, AWSERR_ITEM_COLLECTION_SIZE);
            assert_string_equal(a.msg, full);
            /* Nothing of it was written. */
            snprintf(body, sizeof body,
                     "{\"TableName\":\"lsi\",\"Key\":{\"h\":{\"S\":\"a\"},"
                     "\"r\":{\"N\":\"%d\"}}}",
                     i);
            call(f, ddb_get_item, body, &a);
            assert_null(json_object_get(a.body, "Item"));
            json_decref(a.body);
            break;
        }
    }
    /* BatchWriteItem and TransactWriteItems go through the same write, and refuse alike. */
    snprintf(body, sizeof body,
             "{\"RequestItems\":{\"lsi\":[{\"PutRequest\":{\"Item\":{\"h\":{\"S\":\"a\"},"
             "\"r\":{\"N\":\"900\"},\"l\":{\"S\":\"%0300d\"}}}}]}}",
             1);
    fails(f, ddb_batch_write_item, body, AWSERR_ITEM_COLLECTION_SIZE, full);
    snprintf(body, sizeof body,
             "{\"TransactItems\":[{\"Put\":{\"TableName\":\"lsi\",\"Item\":{"
             "\"h\":{\"S\":\"a\"},\"r\":{\"N\":\"901\"},\"l\":{\"S\":\"%0300d\"}}}}]}",
             1);
    call(f, ddb_transact_write_items, body, &a);
    json_decref(a.body);
    assert_int_equal(a.err, AWSERR_TRANSACTION_CANCELED);
    assert_string_equal(a.msg, "Transaction cancelled, please refer cancellation reasons for "
                               "specific reasons [ItemCollectionSizeLimitExceeded]");
    /* Another hash key has a collection of its own. */
    ok(f, ddb_batch_write_item,
       "{\"RequestItems\":{\"lsi\":[{\"PutRequest\":{\"Item\":{\"h\":{\"S\":\"b\"},"
       "\"r\":{\"N\":\"900\"},\"l\":{\"S\":\"more\"}}}}]}}");
    /* UpdateItem that grows an item already there is refused too; one that shrinks it is not. */
    snprintf(body, sizeof body,
             "{\"TableName\":\"lsi\",\"Key\":{\"h\":{\"S\":\"a\"},\"r\":{\"N\":\"0\"}},"
             "\"UpdateExpression\":\"SET filler = :p\","
             "\"ExpressionAttributeValues\":{\":p\":{\"S\":\"%0200d\"}}}",
             0);
    fails(f, ddb_update_item, body, AWSERR_ITEM_COLLECTION_SIZE, full);
    ok(f, ddb_update_item,
       "{\"TableName\":\"lsi\",\"Key\":{\"h\":{\"S\":\"a\"},\"r\":{\"N\":\"0\"}},"
       "\"UpdateExpression\":\"SET l = :l\",\"ExpressionAttributeValues\":{\":l\":{\"S\":\"s\"}}}");
    /* A global index added later changes nothing of the collections (it is not local). */
    ok(f, ddb_update_table,
       "{\"TableName\":\"lsi\",\"AttributeDefinitions\":["
       "{\"AttributeName\":\"l\",\"AttributeType\":\"S\"}],"
       "\"GlobalSecondaryIndexUpdates\":[{\"Create\":{\"IndexName\":\"glob\","
       "\"KeySchema\":[{\"AttributeName\":\"l\",\"KeyType\":\"HASH\"}],"
       "\"Projection\":{\"ProjectionType\":\"ALL\"}}}]}");
    for (int tries = 0; tries < 5000; tries++) {
        t = describe(f, "lsi");
        if (strcmp(gsi_status(t, 0), "ACTIVE") == 0) {
            json_decref(t);
            break;
        }
        json_decref(t);
        nap();
    }
    check_index(f, "lsi", 0, true);
    check_index(f, "lsi", 1, true);
    f->d->collection_max = DDB_COLLECTION_MAX;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_collection_limit_on_every_write_path, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_backfill_waits_keeps_writes_and_resumes, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
