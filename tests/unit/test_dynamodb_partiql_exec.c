/*
 * test_dynamodb_partiql_exec.c: the PartiQL operations (src/dynamodb/partiql_exec.c) run in
 * process through the handler harness (R29): the answers' shapes, errors set on the request,
 * counters kept by the writes, and a statement whose table is deleted and created again
 * while it waits for the writer, which must land in the new table.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddb_handlers.h"

static const char table_t[] =
    "{\"TableName\":\"pqt\",\"BillingMode\":\"PAY_PER_REQUEST\","
    "\"KeySchema\":[{\"AttributeName\":\"h\",\"KeyType\":\"HASH\"},"
    "{\"AttributeName\":\"r\",\"KeyType\":\"RANGE\"}],"
    "\"AttributeDefinitions\":[{\"AttributeName\":\"h\",\"AttributeType\":\"S\"},"
    "{\"AttributeName\":\"r\",\"AttributeType\":\"N\"}]}";

static void test_answers(void **state)
{
    struct fixture *f = *state;
    json_t *out, *items;
    char body[512];
    const char *tok;

    ok(f, ddb_create_table, table_t);
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof body,
                 "{\"Statement\":\"INSERT INTO pqt VALUE {'h': 'a', 'r': %d}\"}", i);
        out = answer_of(f, ddb_execute_statement, body);
        assert_int_equal(json_array_size(json_object_get(out, "Items")), 0);
        json_decref(out);
    }
    assert_int_equal(items_of(f, "pqt"), 5);

    /* A page of 2, its token, the next page. */
    out = answer_of(f, ddb_execute_statement,
                    "{\"Statement\":\"SELECT r FROM pqt WHERE h = 'a'\",\"Limit\":2}");
    items = json_object_get(out, "Items");
    assert_int_equal(json_array_size(items), 2);
    assert_non_null(json_object_get(json_object_get(out, "LastEvaluatedKey"), "r"));
    tok = json_string_value(json_object_get(out, "NextToken"));
    assert_non_null(tok);
    snprintf(body, sizeof body,
             "{\"Statement\":\"SELECT r FROM pqt WHERE h = 'a'\",\"Limit\":2,\"NextToken\":"
             "\"%s\"}",
             tok);
    json_decref(out);
    out = answer_of(f, ddb_execute_statement, body);
    items = json_object_get(out, "Items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_array_get(items, 0), "r"), "N")),
        "2");
    json_decref(out);

    /* The writes' errors as DynamoDB names them. */
    fails(f, ddb_execute_statement,
          "{\"Statement\":\"INSERT INTO pqt VALUE {'h': 'a', 'r': 1}\"}", AWSERR_DUPLICATE_ITEM,
          "Duplicate primary key exists in table");
    fails(f, ddb_execute_statement,
          "{\"Statement\":\"UPDATE pqt SET x = 1 WHERE h = 'a' AND r = 9\"}",
          AWSERR_CONDITIONAL_CHECK_FAILED, "The conditional request failed");
    fails(f, ddb_execute_statement,
          "{\"Statement\":\"DELETE FROM nope WHERE h = 'a' AND r = 9\"}",
          AWSERR_RESOURCE_NOT_FOUND, "Requested resource not found");
    fails(f, ddb_execute_statement, "{\"Statement\":\"SELECT\"}", AWSERR_VALIDATION,
          "Statement wasn't well formed, can't be processed: Unexpected end of statement");
    fails(f, ddb_execute_statement, "{\"Statement\":\"\"}", AWSERR_VALIDATION,
          "1 validation error detected: Value '' at 'statement' failed to satisfy constraint: "
          "Member must have length greater than or equal to 1");
    fails(f, ddb_execute_statement, "{}", AWSERR_VALIDATION,
          "1 validation error detected: Value null at 'statement' failed to satisfy "
          "constraint: Member must not be null");
    fails(f, ddb_execute_statement,
          "{\"Statement\":\"SELECT * FROM pqt\",\"Parameters\":[]}", AWSERR_VALIDATION,
          "1 validation error detected: Value '[]' at 'parameters' failed to satisfy "
          "constraint: Member must have length greater than or equal to 1");
    fails(f, ddb_execute_statement, "{\"Statement\":\"SELECT * FROM pqt\",\"Limit\":0}",
          AWSERR_VALIDATION,
          "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
          "Member must have value greater than or equal to 1");
    fails(f, ddb_execute_statement,
          "{\"Statement\":\"DELETE FROM pqt WHERE h = 'a' AND r = 1\",\"NextToken\":\"abc\"}",
          AWSERR_VALIDATION, "Invalid NextToken");
    fails(f, ddb_execute_statement, "{\"Statement\":1}", AWSERR_SERIALIZATION,
          "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted "
          "to an String");

    /* A batch: one answer per statement, in order. */
    out = answer_of(f, ddb_batch_execute_statement,
                    "{\"Statements\":["
                    "{\"Statement\":\"DELETE FROM pqt WHERE h = 'a' AND r = 0\"},"
                    "{\"Statement\":\"INSERT INTO pqt VALUE {'h': 'a', 'r': 1}\"}]}");
    items = json_object_get(out, "Responses");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "TableName")),
                        "pqt");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(json_array_get(items, 1), "Error"),
                                          "Code")),
        "DuplicateItem");
    json_decref(out);
    assert_int_equal(items_of(f, "pqt"), 4);
}

/* ---- a statement racing with its table being replaced ---- */

static void test_racing_table_replacement(void **state)
{
    struct fixture *f = *state;
    struct race_req one = {
        .handler = ddb_execute_statement,
        .body = "{\"Statement\":\"INSERT INTO pqt VALUE {'h': 'x', 'r': 1}\"}",
    };
    struct race_req batch = {
        .handler = ddb_batch_execute_statement,
        .body = "{\"Statements\":["
                "{\"Statement\":\"INSERT INTO pqt VALUE {'h': 'y', 'r': 1}\"},"
                "{\"Statement\":\"INSERT INTO pqt VALUE {'h': 'y', 'r': 2}\"}]}",
    };
    json_t *out;

    ok(f, ddb_create_table, table_t);
    race(f, "pqt", &one);
    assert_int_equal(one.a.err, AWSERR_NONE);
    json_decref(one.a.body);
    /* The item is in the new table, counted there. */
    assert_int_equal(items_of(f, "pqt"), 1);
    out = answer_of(f, ddb_execute_statement,
                    "{\"Statement\":\"SELECT * FROM pqt WHERE h = 'x' AND r = 1\"}");
    assert_int_equal(json_array_size(json_object_get(out, "Items")), 1);
    json_decref(out);

    race(f, "pqt", &batch);
    assert_int_equal(batch.a.err, AWSERR_NONE);
    assert_null(json_object_get(json_array_get(json_object_get(batch.a.body, "Responses"), 0),
                                "Error"));
    json_decref(batch.a.body);
    assert_int_equal(items_of(f, "pqt"), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_racing_table_replacement, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
