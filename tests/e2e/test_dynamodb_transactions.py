"""DynamoDB transactions through boto3: TransactWriteItems (Put, Update, Delete,
ConditionCheck, all or nothing, CancellationReasons in request order, ClientRequestToken
idempotency, consumed capacity, stream records of one transaction together), TransactGetItems
(a consistent snapshot, projections), every validation error with its message, and a
concurrent money-transfer test that proves the writer makes transactions serializable."""
import random
import threading
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import raw

HASH = dict(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST")
CANCELLED = "Transaction cancelled, please refer cancellation reasons for specific reasons [%s]"


def raises(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value.response


def code_msg(resp):
    return resp["Error"]["Code"], resp["Error"]["Message"]


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server


@pytest.fixture(scope="module")
def ddb(srv):
    c = srv.client("dynamodb", validate=False)
    c.create_table(TableName="txa", **HASH)
    c.create_table(TableName="txb", **HASH)
    return c


def get(ddb, table, pk):
    return ddb.get_item(TableName=table, Key={"pk": {"S": pk}}).get("Item")


# ---- TransactWriteItems ----

def test_write_all_actions_apply_together(ddb):
    ddb.put_item(TableName="txa", Item={"pk": {"S": "upd"}, "n": {"N": "1"}})
    ddb.put_item(TableName="txa", Item={"pk": {"S": "del"}})
    ddb.put_item(TableName="txb", Item={"pk": {"S": "chk"}, "ok": {"BOOL": True}})
    out = ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "new"}, "v": {"S": "x"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": "txa", "Key": {"pk": {"S": "upd"}},
                    "UpdateExpression": "SET n = n + :one", "ExpressionAttributeValues":
                        {":one": {"N": "1"}}}},
        {"Delete": {"TableName": "txa", "Key": {"pk": {"S": "del"}}}},
        {"ConditionCheck": {"TableName": "txb", "Key": {"pk": {"S": "chk"}},
                            "ConditionExpression": "#o = :t",
                            "ExpressionAttributeNames": {"#o": "ok"},
                            "ExpressionAttributeValues": {":t": {"BOOL": True}}}},
    ])
    assert "ConsumedCapacity" not in out and "ItemCollectionMetrics" not in out
    assert get(ddb, "txa", "new") == {"pk": {"S": "new"}, "v": {"S": "x"}}
    assert get(ddb, "txa", "upd")["n"] == {"N": "2"}
    assert get(ddb, "txa", "del") is None


def test_write_cancelled_writes_nothing_and_reasons_in_order(ddb):
    ddb.put_item(TableName="txa", Item={"pk": {"S": "c1"}, "v": {"S": "old"}})
    resp = raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "c0"}, "v": {"S": "fresh"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "c1"}, "v": {"S": "over"}},
                 "ConditionExpression": "attribute_not_exists(pk)",
                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Delete": {"TableName": "txb", "Key": {"pk": {"S": "nothing"}},
                    "ConditionExpression": "attribute_exists(pk)"}},
    ])
    assert code_msg(resp) == ("TransactionCanceledException", CANCELLED %
                              "None, ConditionalCheckFailed, ConditionalCheckFailed")
    reasons = resp["CancellationReasons"]
    assert reasons[0] == {"Code": "None"}
    assert reasons[1] == {"Code": "ConditionalCheckFailed",
                          "Message": "The conditional request failed",
                          "Item": {"pk": {"S": "c1"}, "v": {"S": "old"}}}
    # No ALL_OLD, and no item there: no Item member either way.
    assert reasons[2] == {"Code": "ConditionalCheckFailed",
                          "Message": "The conditional request failed"}
    assert get(ddb, "txa", "c0") is None
    assert get(ddb, "txa", "c1")["v"] == {"S": "old"}


def test_write_update_error_is_a_validation_reason(ddb):
    ddb.put_item(TableName="txa", Item={"pk": {"S": "ve"}, "s": {"S": "text"}})
    resp = raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "ve-other"}}}},
        {"Update": {"TableName": "txa", "Key": {"pk": {"S": "ve"}},
                    "UpdateExpression": "SET s = s + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ])
    assert code_msg(resp) == ("TransactionCanceledException", CANCELLED % "None, ValidationError")
    assert resp["CancellationReasons"][1] == {
        "Code": "ValidationError",
        "Message": "An operand in the update expression has an incorrect data type"}
    assert get(ddb, "txa", "ve-other") is None


def test_write_key_schema_errors(ddb):
    # A key of the wrong type or shape cancels with a ValidationError reason...
    resp = raises(ddb.transact_write_items,
                  TransactItems=[{"Put": {"TableName": "txa", "Item": {"pk": {"N": "5"}}}}])
    assert code_msg(resp) == ("TransactionCanceledException", CANCELLED % "ValidationError")
    assert resp["CancellationReasons"] == [{
        "Code": "ValidationError", "Message": "One or more parameter values were invalid: "
        "Type mismatch for key pk expected: S actual: N"}]
    for action in ("Delete", "ConditionCheck", "Update"):
        body = {"TableName": "txa", "Key": {"pk": {"N": "5"}}}
        if action == "ConditionCheck":
            body["ConditionExpression"] = "attribute_exists(pk)"
        if action == "Update":
            body["UpdateExpression"] = "SET a = :v"
            body["ExpressionAttributeValues"] = {":v": {"S": "x"}}
        resp = raises(ddb.transact_write_items, TransactItems=[{action: body}])
        assert resp["CancellationReasons"] == [{
            "Code": "ValidationError",
            "Message": "The provided key element does not match the schema"}], action
    # ... while an empty key value is the request's own ValidationException.
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[
        {"Delete": {"TableName": "txa", "Key": {"pk": {"S": ""}}}}])) == (
        "ValidationException", "One or more parameter values are not valid. The AttributeValue "
        "for a key attribute cannot contain an empty string value. Key: pk")


def test_write_validation_messages(srv, ddb):
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[])) == (
        "ValidationException", "1 validation error detected: Value '[]' at 'transactItems' "
        "failed to satisfy constraint: Member must have length greater than or equal to 1")
    many = [{"Put": {"TableName": "txa", "Item": {"pk": {"S": "m%d" % i}}}} for i in range(101)]
    assert code_msg(raises(ddb.transact_write_items, TransactItems=many)) == (
        "ValidationException", "1 validation error detected: Value at 'TransactItems' failed to "
        "satisfy constraint: Member must have length less than or equal to 100")
    # 100 is allowed, and all of them apply.
    ddb.transact_write_items(TransactItems=many[:100])
    assert get(ddb, "txa", "m99") == {"pk": {"S": "m99"}}
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "dup"}}}},
        {"ConditionCheck": {"TableName": "txa", "Key": {"pk": {"S": "dup"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}}])) == (
        "ValidationException", "Transaction request cannot include multiple operations on one "
        "item")
    # The same key in two tables is two items.
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "both"}}}},
        {"Put": {"TableName": "txb", "Item": {"pk": {"S": "both"}}}}])
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "missing", "Item": {"pk": {"S": "x"}}}}])) == (
        "ResourceNotFoundException", "Requested resource not found")
    # A missing table is found before duplicates.
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[
        {"Delete": {"TableName": "missing", "Key": {"pk": {"S": "1"}}}},
        {"Put": {"TableName": "missing", "Item": {"pk": {"S": "1"}}}}]))[0] == (
        "ResourceNotFoundException")
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "a"}}},
         "Delete": {"TableName": "txa", "Key": {"pk": {"S": "a"}}}}])) == (
        "ValidationException",
        "TransactItems can only contain one of Check, Put, Update or Delete")
    status, body = raw(srv, "TransactWriteItems", {"TransactItems": [{"Nope": {}}]})
    assert status == 400 and body["message"] == (
        "The action or operation requested is invalid. Verify that the action is typed "
        "correctly.")
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[{"Update": {}}])) == (
        "ValidationException", "3 validation errors detected: Value null at "
        "'transactItems.1.member.update.key' failed to satisfy constraint: Member must not be "
        "null; Value null at 'transactItems.1.member.update.tableName' failed to satisfy "
        "constraint: Member must not be null; Value null at "
        "'transactItems.1.member.update.updateExpression' failed to satisfy constraint: Member "
        "must not be null")
    code, msg = code_msg(raises(ddb.transact_write_items, ReturnConsumedCapacity="hi",
                                TransactItems=[{"ConditionCheck": {
                                    "TableName": "txa", "Key": {"pk": {"S": "a"}}}}]))
    assert code == "ValidationException"
    assert "Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint" in msg
    assert ("Value null at 'transactItems.1.member.conditionCheck.conditionExpression' failed "
            "to satisfy constraint: Member must not be null") in msg
    code, msg = code_msg(raises(ddb.transact_write_items, ClientRequestToken="x" * 37,
                                TransactItems=many[:1]))
    assert code == "ValidationException" and "'clientRequestToken'" in msg and (
        "less than or equal to 36") in msg
    # Expressions are checked per action, with the item operations' words.
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "e"}},
                 "ConditionExpression": "attribute_not_exists(pk)",
                 "ExpressionAttributeValues": {":unused": {"S": "x"}}}}])) == (
        "ValidationException", "Value provided in ExpressionAttributeValues unused in "
        "expressions: keys: {:unused}")
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[
        {"Update": {"TableName": "txa", "Key": {"pk": {"S": "e"}},
                    "UpdateExpression": "SET pk = :v",
                    "ExpressionAttributeValues": {":v": {"S": "x"}}}}])) == (
        "ValidationException", "One or more parameter values were invalid: Cannot update "
        "attribute pk. This attribute is part of the key")


def test_write_aggregate_size_limit(ddb):
    big = "x" * (390 * 1024)
    items = [{"Put": {"TableName": "txa", "Item": {"pk": {"S": "big%d" % i}, "v": {"S": big}}}}
             for i in range(11)]
    assert code_msg(raises(ddb.transact_write_items, TransactItems=items)) == (
        "ValidationException", "Transaction request cannot be larger than 4 MB")
    assert get(ddb, "txa", "big0") is None
    ddb.transact_write_items(TransactItems=items[:10])
    assert get(ddb, "txa", "big9")["v"] == {"S": big}
    # Reads have the same limit on the items they return.
    ddb.put_item(TableName="txa", Item={"pk": {"S": "big10"}, "v": {"S": big}})
    gets = [{"Get": {"TableName": "txa", "Key": {"pk": {"S": "big%d" % i}}}} for i in range(11)]
    assert code_msg(raises(ddb.transact_get_items, TransactItems=gets)) == (
        "ValidationException", "Transaction request cannot be larger than 4 MB")
    assert len(ddb.transact_get_items(TransactItems=gets[:10])["Responses"]) == 10


def test_write_consumed_capacity_counts_twice(ddb):
    out = ddb.transact_write_items(ReturnConsumedCapacity="TOTAL", TransactItems=[
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "cc1"}, "v": {"S": "y" * 1500}}}},
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "cc2"}}}},
        {"ConditionCheck": {"TableName": "txb", "Key": {"pk": {"S": "cc"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}}])
    cc = {c["TableName"]: c for c in out["ConsumedCapacity"]}
    assert cc["txa"] == {"TableName": "txa", "CapacityUnits": 6.0, "WriteCapacityUnits": 6.0}
    assert cc["txb"] == {"TableName": "txb", "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}
    out = ddb.transact_write_items(ReturnConsumedCapacity="INDEXES", TransactItems=[
        {"Delete": {"TableName": "txa", "Key": {"pk": {"S": "cc2"}}}}])
    assert out["ConsumedCapacity"] == [{"TableName": "txa", "CapacityUnits": 2.0,
                                        "WriteCapacityUnits": 2.0,
                                        "Table": {"CapacityUnits": 2.0}}]


def test_write_client_request_token_is_idempotent(ddb):
    token = str(uuid.uuid4())
    req = [{"Update": {"TableName": "txa", "Key": {"pk": {"S": "idem"}},
                       "UpdateExpression": "ADD n :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    ddb.transact_write_items(TransactItems=req, ClientRequestToken=token)
    out = ddb.transact_write_items(TransactItems=req, ClientRequestToken=token,
                                   ReturnConsumedCapacity="TOTAL")
    # The replay writes nothing, and reports reads.
    assert get(ddb, "txa", "idem")["n"] == {"N": "1"}
    assert out["ConsumedCapacity"] == [{"TableName": "txa", "CapacityUnits": 2.0,
                                        "ReadCapacityUnits": 2.0}]
    other = [{"Update": dict(req[0]["Update"], ExpressionAttributeValues={":one": {"N": "2"}})}]
    resp = raises(ddb.transact_write_items, TransactItems=other, ClientRequestToken=token)
    assert resp["Error"]["Code"] == "IdempotentParameterMismatchException"
    assert get(ddb, "txa", "idem")["n"] == {"N": "1"}
    # Without the token, or with another, the same request applies again.
    ddb.transact_write_items(TransactItems=req)
    ddb.transact_write_items(TransactItems=req, ClientRequestToken=str(uuid.uuid4()))
    assert get(ddb, "txa", "idem")["n"] == {"N": "3"}


def test_write_cancelled_request_does_not_use_its_token(ddb):
    token = str(uuid.uuid4())
    req = [{"Put": {"TableName": "txa", "Item": {"pk": {"S": "tok-c"}},
                    "ConditionExpression": "attribute_exists(pk)"}}]
    assert raises(ddb.transact_write_items, TransactItems=req,
                  ClientRequestToken=token)["Error"]["Code"] == "TransactionCanceledException"
    ddb.put_item(TableName="txa", Item={"pk": {"S": "tok-c"}, "was": {"S": "here"}})
    ddb.transact_write_items(TransactItems=req, ClientRequestToken=token)
    assert get(ddb, "txa", "tok-c") == {"pk": {"S": "tok-c"}}


def test_transaction_and_token_survive_kill_9(make_server):
    s = make_server().start()
    c = s.client("dynamodb")
    c.create_table(TableName="tok", **HASH)
    req = [{"Update": {"TableName": "tok", "Key": {"pk": {"S": "k"}},
                       "UpdateExpression": "ADD n :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    c.transact_write_items(TransactItems=req, ClientRequestToken="tok")
    s.kill()        # SIGKILL: the acknowledged transaction and its token are on disk
    s.start()
    c = s.client("dynamodb")
    assert c.get_item(TableName="tok", Key={"pk": {"S": "k"}})["Item"]["n"] == {"N": "1"}
    c.transact_write_items(TransactItems=req, ClientRequestToken="tok")
    assert c.get_item(TableName="tok", Key={"pk": {"S": "k"}})["Item"]["n"] == {"N": "1"}


def test_write_stream_records_of_one_transaction(srv, ddb):
    st = srv.client("dynamodbstreams")
    td = ddb.create_table(TableName="txs", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}, **HASH)
    arn = td["TableDescription"]["LatestStreamArn"]
    ddb.put_item(TableName="txs", Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.put_item(TableName="txs", Item={"pk": {"S": "b"}})
    # A cancelled transaction leaves no record.
    raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "txs", "Item": {"pk": {"S": "z"}}}},
        {"Delete": {"TableName": "txs", "Key": {"pk": {"S": "a"}},
                    "ConditionExpression": "attribute_not_exists(pk)"}}])
    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": "txs", "Key": {"pk": {"S": "a"}},
                    "UpdateExpression": "SET v = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Delete": {"TableName": "txs", "Key": {"pk": {"S": "b"}}}},
        {"Put": {"TableName": "txs", "Item": {"pk": {"S": "c"}}}},
        {"ConditionCheck": {"TableName": "txa", "Key": {"pk": {"S": "none"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}}])
    shard = st.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = st.get_shard_iterator(StreamArn=arn, ShardId=shard,
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    recs = st.get_records(ShardIterator=it)["Records"]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in recs] == [
        ("INSERT", "a"), ("INSERT", "b"), ("MODIFY", "a"), ("REMOVE", "b"), ("INSERT", "c")]
    assert recs[2]["dynamodb"]["OldImage"]["v"] == {"N": "1"}
    assert recs[2]["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in recs]
    assert seqs == sorted(seqs)


def test_write_item_collection_metrics(ddb):
    ddb.create_table(
        TableName="txl", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "l", "AttributeType": "S"}],
        LocalSecondaryIndexes=[{"IndexName": "byl", "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "l", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}])
    out = ddb.transact_write_items(ReturnItemCollectionMetrics="SIZE", TransactItems=[
        {"Put": {"TableName": "txl", "Item": {"pk": {"S": "h"}, "sk": {"S": "1"},
                                               "l": {"S": "x"}}}},
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "no-lsi"}}}}])
    assert out["ItemCollectionMetrics"] == {"txl": [{
        "ItemCollectionKey": {"pk": {"S": "h"}}, "SizeEstimateRangeGB": [0.0, 1.0]}]}
    # An LSI key of the wrong type, written by an update, cancels with its reason.
    resp = raises(ddb.transact_write_items, TransactItems=[
        {"Update": {"TableName": "txl", "Key": {"pk": {"S": "h"}, "sk": {"S": "2"}},
                    "UpdateExpression": "SET l = :n",
                    "ExpressionAttributeValues": {":n": {"N": "1"}}}}])
    assert resp["CancellationReasons"] == [{
        "Code": "ValidationError", "Message": "One or more parameter values were invalid: "
        "Type mismatch for Index Key l Expected: S Actual: N IndexName: byl"}]
    resp = raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "txl", "Item": {"pk": {"S": "h"}, "sk": {"S": "3"},
                                               "l": {"L": [{"S": "x"}]}}}}])
    assert resp["CancellationReasons"][0]["Code"] == "ValidationError"
    # An empty index key value is the request's own error, from a put or an update alike.
    empty = ("ValidationException", "One or more parameter values are not valid. A value "
             "specified for a secondary index key is not supported. The AttributeValue for a key "
             "attribute cannot contain an empty string value. IndexName: byl, IndexKey: l")
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "txl", "Item": {"pk": {"S": "h"}, "sk": {"S": "4"},
                                               "l": {"S": ""}}}}])) == empty
    assert code_msg(raises(ddb.transact_write_items, TransactItems=[
        {"Put": {"TableName": "txa", "Item": {"pk": {"S": "not-written"}}}},
        {"Update": {"TableName": "txl", "Key": {"pk": {"S": "h"}, "sk": {"S": "5"}},
                    "UpdateExpression": "SET l = :e",
                    "ExpressionAttributeValues": {":e": {"S": ""}}}}])) == empty
    assert get(ddb, "txa", "not-written") is None


# ---- TransactGetItems ----

def test_get_items_and_projection(ddb):
    ddb.put_item(TableName="txa", Item={"pk": {"S": "g1"}, "a": {"S": "A"},
                                       "m": {"M": {"x": {"N": "1"}, "y": {"N": "2"}}}})
    ddb.put_item(TableName="txb", Item={"pk": {"S": "g2"}, "b": {"BOOL": False}})
    out = ddb.transact_get_items(ReturnConsumedCapacity="TOTAL", TransactItems=[
        {"Get": {"TableName": "txa", "Key": {"pk": {"S": "g1"}},
                 "ProjectionExpression": "#m.y, a", "ExpressionAttributeNames": {"#m": "m"}}},
        {"Get": {"TableName": "txa", "Key": {"pk": {"S": "missing"}}}},
        {"Get": {"TableName": "txb", "Key": {"pk": {"S": "g2"}}}}])
    assert out["Responses"] == [
        {"Item": {"a": {"S": "A"}, "m": {"M": {"y": {"N": "2"}}}}},
        {},
        {"Item": {"pk": {"S": "g2"}, "b": {"BOOL": False}}}]
    cc = {c["TableName"]: c["CapacityUnits"] for c in out["ConsumedCapacity"]}
    assert cc == {"txa": 4.0, "txb": 2.0}


def test_get_validation_messages(ddb):
    assert code_msg(raises(ddb.transact_get_items, TransactItems=[])) == (
        "ValidationException", "1 validation error detected: Value '[]' at 'transactItems' "
        "failed to satisfy constraint: Member must have length greater than or equal to 1")
    many = [{"Get": {"TableName": "txa", "Key": {"pk": {"S": "m%d" % i}}}} for i in range(101)]
    assert code_msg(raises(ddb.transact_get_items, TransactItems=many)) == (
        "ValidationException", "1 validation error detected: Value at 'TransactItems' failed to "
        "satisfy constraint: Member must have length less than or equal to 100")
    assert len(ddb.transact_get_items(TransactItems=many[:100])["Responses"]) == 100
    assert code_msg(raises(ddb.transact_get_items, TransactItems=[
        {"Get": {"TableName": "missing", "Key": {"pk": {"S": "x"}}}}])) == (
        "ResourceNotFoundException", "Requested resource not found")
    assert code_msg(raises(ddb.transact_get_items, TransactItems=[
        {"Get": {"TableName": "txa", "Key": {"pk": {"S": "x"}}, "ProjectionExpression": "!!!"}}])
    ) == ("ValidationException", 'Invalid ProjectionExpression: Syntax error; token: "!", '
          'near: "!!"')
    resp = raises(ddb.transact_get_items,
                  TransactItems=[{"Get": {"TableName": "txa", "Key": {}}}])
    assert code_msg(resp) == ("TransactionCanceledException", CANCELLED % "ValidationError")
    assert resp["CancellationReasons"][0]["Code"] == "ValidationError"
    assert code_msg(raises(ddb.transact_get_items, TransactItems=[
        {"Get": {"TableName": "txa", "Key": {"pk": {"S": "same"}}}},
        {"Get": {"TableName": "txa", "Key": {"pk": {"S": "same"}}}}])) == (
        "ValidationException", "Transaction request cannot include multiple operations on one "
        "item")


def test_get_is_a_consistent_snapshot(srv, ddb):
    """A writer keeps two items' sum constant with transactions; every TransactGetItems of
    both sees the sum unchanged, which separate reads could not guarantee."""
    ddb.put_item(TableName="txa", Item={"pk": {"S": "snapA"}, "n": {"N": "100"}})
    ddb.put_item(TableName="txa", Item={"pk": {"S": "snapB"}, "n": {"N": "0"}})
    stop = threading.Event()
    errors = []

    def writer():
        c = srv.client("dynamodb")
        while not stop.is_set():
            d = random.choice([-1, 1])
            try:
                c.transact_write_items(TransactItems=[
                    {"Update": {"TableName": "txa", "Key": {"pk": {"S": "snapA"}},
                                "UpdateExpression": "SET n = n - :d",
                                "ExpressionAttributeValues": {":d": {"N": str(d)}}}},
                    {"Update": {"TableName": "txa", "Key": {"pk": {"S": "snapB"}},
                                "UpdateExpression": "SET n = n + :d",
                                "ExpressionAttributeValues": {":d": {"N": str(d)}}}}])
            except ClientError as e:     # pragma: no cover - reported below
                errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    try:
        c = srv.client("dynamodb")
        for _ in range(60):
            out = c.transact_get_items(TransactItems=[
                {"Get": {"TableName": "txa", "Key": {"pk": {"S": "snapA"}}}},
                {"Get": {"TableName": "txa", "Key": {"pk": {"S": "snapB"}}}}])
            a, b = (int(r["Item"]["n"]["N"]) for r in out["Responses"])
            assert a + b == 100
    finally:
        stop.set()
        t.join()
    assert not errors


# ---- serializability ----

def test_concurrent_transfers_are_serializable(srv, ddb):
    """12 client threads move money between 10 accounts, each transfer a TransactWriteItems
    conditional on the balance and carrying a marker item of its own. At the end the total is
    unchanged, no balance is negative, and the acknowledged transfers are exactly the markers
    there, each applied once: the sum of the amounts they moved equals every account's
    change."""
    ddb.create_table(TableName="bank", **HASH)
    accounts = ["acct%d" % i for i in range(10)]
    start = 1000
    ddb.batch_write_item(RequestItems={"bank": [
        {"PutRequest": {"Item": {"pk": {"S": a}, "bal": {"N": str(start)}}}} for a in accounts]})
    acked = []
    cancelled = [0]
    lock = threading.Lock()
    errors = []

    def worker(seed):
        rnd = random.Random(seed)
        c = srv.client("dynamodb")
        for i in range(30):
            src, dst = rnd.sample(accounts, 2)
            amt = rnd.randint(1, 400)
            tid = "t-%d-%d" % (seed, i)
            try:
                c.transact_write_items(TransactItems=[
                    {"Update": {"TableName": "bank", "Key": {"pk": {"S": src}},
                                "UpdateExpression": "SET bal = bal - :a",
                                "ConditionExpression": "bal >= :a",
                                "ExpressionAttributeValues": {":a": {"N": str(amt)}}}},
                    {"Update": {"TableName": "bank", "Key": {"pk": {"S": dst}},
                                "UpdateExpression": "SET bal = bal + :a",
                                "ExpressionAttributeValues": {":a": {"N": str(amt)}}}},
                    {"Put": {"TableName": "bank", "Item": {
                        "pk": {"S": tid}, "src": {"S": src}, "dst": {"S": dst},
                        "amt": {"N": str(amt)}}, "ConditionExpression": "attribute_not_exists(pk)"}},
                ], ClientRequestToken=tid)
                with lock:
                    acked.append((tid, src, dst, amt))
            except ClientError as e:
                if e.response["Error"]["Code"] == "TransactionCanceledException":
                    with lock:
                        cancelled[0] += 1
                else:
                    errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    items = []
    kw = {}
    while True:
        out = ddb.scan(TableName="bank", ConsistentRead=True, **kw)
        items += out["Items"]
        if "LastEvaluatedKey" not in out:
            break
        kw = {"ExclusiveStartKey": out["LastEvaluatedKey"]}
    balances = {i["pk"]["S"]: int(i["bal"]["N"]) for i in items if "bal" in i}
    markers = {i["pk"]["S"]: i for i in items if "amt" in i}
    assert sum(balances.values()) == start * len(accounts)
    assert all(b >= 0 for b in balances.values())
    assert sorted(markers) == sorted(t[0] for t in acked)
    assert len(acked) + cancelled[0] == 12 * 30
    assert len(acked) > 0
    print("transfers acknowledged %d, cancelled %d" % (len(acked), cancelled[0]))
    delta = {a: 0 for a in accounts}
    for tid, src, dst, amt in acked:
        delta[src] -= amt
        delta[dst] += amt
        m = markers[tid]
        assert (m["src"]["S"], m["dst"]["S"], int(m["amt"]["N"])) == (src, dst, amt)
    assert all(balances[a] == start + delta[a] for a in accounts)


@pytest.mark.crash
@pytest.mark.slow
def test_transfers_survive_kill_9_under_load(make_server):
    """8 threads transfer money with marker items while the server is killed with SIGKILL.
    After the restart every acknowledged transfer is there, the total is unchanged, and the
    balances are exactly what the markers present say (a transfer committed but not yet
    acknowledged is there whole, with its marker, or not at all)."""
    s = make_server().start()
    c = s.client("dynamodb")
    c.create_table(TableName="bank", **HASH)
    accounts = ["acct%d" % i for i in range(10)]
    start = 1000
    c.batch_write_item(RequestItems={"bank": [
        {"PutRequest": {"Item": {"pk": {"S": a}, "bal": {"N": str(start)}}}} for a in accounts]})
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker(seed):
        rnd = random.Random(seed)
        cl = s.client("dynamodb")
        i = 0
        while not stop.is_set():
            src, dst = rnd.sample(accounts, 2)
            amt = rnd.randint(1, 50)
            tid = "k-%d-%d" % (seed, i)
            i += 1
            try:
                cl.transact_write_items(TransactItems=[
                    {"Update": {"TableName": "bank", "Key": {"pk": {"S": src}},
                                "UpdateExpression": "SET bal = bal - :a",
                                "ConditionExpression": "bal >= :a",
                                "ExpressionAttributeValues": {":a": {"N": str(amt)}}}},
                    {"Update": {"TableName": "bank", "Key": {"pk": {"S": dst}},
                                "UpdateExpression": "SET bal = bal + :a",
                                "ExpressionAttributeValues": {":a": {"N": str(amt)}}}},
                    {"Put": {"TableName": "bank", "Item": {
                        "pk": {"S": tid}, "src": {"S": src}, "dst": {"S": dst},
                        "amt": {"N": str(amt)}}}}])
                with lock:
                    acked.append(tid)
            except Exception:       # the server died under us, or cancelled: not acknowledged
                if stop.is_set():
                    return

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    while len(acked) < 150:
        threading.Event().wait(0.05)
    s.kill()
    stop.set()
    for t in threads:
        t.join()
    s.start()
    c = s.client("dynamodb")
    items, kw = [], {}
    while True:
        out = c.scan(TableName="bank", **kw)
        items += out["Items"]
        if "LastEvaluatedKey" not in out:
            break
        kw = {"ExclusiveStartKey": out["LastEvaluatedKey"]}
    balances = {i["pk"]["S"]: int(i["bal"]["N"]) for i in items if "bal" in i}
    markers = {i["pk"]["S"]: i for i in items if "amt" in i}
    assert set(acked) <= set(markers)
    assert sum(balances.values()) == start * len(accounts)
    delta = {a: 0 for a in accounts}
    for m in markers.values():
        delta[m["src"]["S"]] -= int(m["amt"]["N"])
        delta[m["dst"]["S"]] += int(m["amt"]["N"])
    assert all(balances[a] == start + delta[a] for a in accounts)
