"""DynamoDB batches through boto3: BatchGetItem (keys over tables, projections per table,
AttributesToGet, ConsistentRead, consumed capacity, the 16 MB answer limit and
UnprocessedKeys) and BatchWriteItem (puts and deletes over tables in one commit, consumed
capacity, item collection metrics, stream records), with every validation error and its
message."""
import pytest
from botocore.exceptions import ClientError

from conftest import raw

HASH = dict(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST")
RANGE = dict(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"}],
             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                   {"AttributeName": "sk", "AttributeType": "N"}],
             BillingMode="PAY_PER_REQUEST")
DUPS = ("ValidationException", "Provided list of item keys contains duplicates")


def code_msg(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server


@pytest.fixture(scope="module")
def ddb(srv):
    c = srv.client("dynamodb", validate=False)
    c.create_table(TableName="bha", **HASH)
    c.create_table(TableName="bra", **RANGE)
    return c


def k(pk):
    return {"pk": {"S": pk}}


# ---- BatchWriteItem ----

def test_write_puts_and_deletes_over_tables(ddb):
    ddb.put_item(TableName="bha", Item=dict(k("gone"), v={"S": "x"}))
    out = ddb.batch_write_item(RequestItems={
        "bha": [{"PutRequest": {"Item": dict(k("w1"), v={"N": "1"})}},
                {"PutRequest": {"Item": k("w2")}},
                {"DeleteRequest": {"Key": k("gone")}},
                {"DeleteRequest": {"Key": k("never-there")}}],
        "bra": [{"PutRequest": {"Item": {"pk": {"S": "w1"}, "sk": {"N": "1"}}}}]})
    assert out["UnprocessedItems"] == {}
    assert "ConsumedCapacity" not in out
    assert ddb.get_item(TableName="bha", Key=k("w1"))["Item"] == dict(k("w1"), v={"N": "1"})
    assert "Item" not in ddb.get_item(TableName="bha", Key=k("gone"))
    assert ddb.get_item(TableName="bra", Key={"pk": {"S": "w1"}, "sk": {"N": "1"}})["Item"]
    assert ddb.describe_table(TableName="bha")["Table"]["ItemCount"] >= 2


def test_write_consumed_capacity(ddb):
    out = ddb.batch_write_item(ReturnConsumedCapacity="TOTAL", RequestItems={
        "bha": [{"PutRequest": {"Item": dict(k("cap1"), v={"S": "z" * 2500})}},
                {"PutRequest": {"Item": k("cap2")}}],
        "bra": [{"DeleteRequest": {"Key": {"pk": {"S": "x"}, "sk": {"N": "9"}}}}]})
    assert out["ConsumedCapacity"] == [{"TableName": "bha", "CapacityUnits": 4.0},
                                       {"TableName": "bra", "CapacityUnits": 1.0}]
    out = ddb.batch_write_item(ReturnConsumedCapacity="INDEXES", RequestItems={
        "bha": [{"DeleteRequest": {"Key": k("cap1")}}]})
    assert out["ConsumedCapacity"] == [{"TableName": "bha", "CapacityUnits": 3.0,
                                        "Table": {"CapacityUnits": 3.0}}]


def test_write_validation_messages(srv, ddb):
    assert code_msg(ddb.batch_write_item, RequestItems={}) == (
        "ValidationException", "1 validation error detected: Value at 'RequestItems' failed to "
        "satisfy constraint: Member must have length greater than or equal to 1")
    assert code_msg(ddb.batch_write_item, RequestItems={"bha": []}) == (
        "ValidationException", "1 validation error detected: Value '{bha=[]}' at 'requestItems' "
        "failed to satisfy constraint: Map value must satisfy constraint: [Member must have "
        "length less than or equal to 25, Member must have length greater than or equal to 1]")
    puts = [{"PutRequest": {"Item": k("n%d" % i)}} for i in range(26)]
    assert code_msg(ddb.batch_write_item, RequestItems={"bha": puts}) == (
        "ValidationException", "1 validation error detected: Value at 'RequestItems.bha.member' "
        "failed to satisfy constraint: Member must have length less than or equal to 25")
    assert code_msg(ddb.batch_write_item, RequestItems={"bha": puts[:13], "bra": [
        {"PutRequest": {"Item": {"pk": {"S": "n"}, "sk": {"N": str(i)}}}} for i in range(13)]}
    ) == ("ValidationException", "Too many items requested for the BatchWriteItem call")
    assert "Item" not in ddb.get_item(TableName="bha", Key=k("n0"))
    ddb.batch_write_item(RequestItems={"bha": puts[:25]})
    assert ddb.get_item(TableName="bha", Key=k("n24"))["Item"] == k("n24")
    assert code_msg(ddb.batch_write_item, RequestItems={"bha": [
        {"PutRequest": {"Item": k("dup")}}, {"DeleteRequest": {"Key": k("dup")}}]}) == DUPS
    # The same key in two tables is no duplicate.
    ddb.batch_write_item(RequestItems={"bha": [{"PutRequest": {"Item": k("same")}}],
                                       "bra": [{"PutRequest": {"Item": {
                                           "pk": {"S": "same"}, "sk": {"N": "0"}}}}]})
    code, msg = code_msg(ddb.batch_write_item, RequestItems={"nope": [
        {"PutRequest": {"Item": k("x")}}], "bha": [{"PutRequest": {"Item": k("not-written")}}]})
    assert (code, msg) == ("ResourceNotFoundException", "Requested resource not found")
    assert "Item" not in ddb.get_item(TableName="bha", Key=k("not-written"))
    for bad in ({"pk": {"N": "5"}}, {"pk": {"L": [{"S": "x"}]}}, {"other": {"S": "x"}}):
        assert code_msg(ddb.batch_write_item, RequestItems={"bha": [
            {"PutRequest": {"Item": bad}}, {"PutRequest": {"Item": k("ok-but-no")}}]}) == (
            "ValidationException", "The provided key element does not match the schema")
    assert "Item" not in ddb.get_item(TableName="bha", Key=k("ok-but-no"))
    assert code_msg(ddb.batch_write_item, RequestItems={"bha": [
        {"DeleteRequest": {"Key": {"other": {"S": "x"}}}}]}) == (
        "ValidationException", "The provided key element does not match the schema")
    assert code_msg(ddb.batch_write_item, RequestItems={"bha": [
        {"PutRequest": {"Item": {"pk": {"S": ""}}}}]}) == (
        "ValidationException", "One or more parameter values are not valid. The AttributeValue "
        "for a key attribute cannot contain an empty string value. Key: pk")
    status, body = raw(srv, "BatchWriteItem", {"RequestItems": {"bha": [{}]}})
    assert status == 400 and body["message"] == (
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
        "the supported datatypes")
    code, msg = code_msg(ddb.batch_write_item, RequestItems={"bad!name": [
        {"PutRequest": {"Item": k("x")}}]})
    assert code == "ValidationException" and msg.startswith(
        "1 validation error detected: Value '{")
    assert msg.endswith("' at 'requestItems' failed to satisfy constraint: Map keys must "
                        "satisfy constraint: [Member must have length less than or equal to "
                        "255, Member must have length greater than or equal to 3, Member must "
                        "satisfy regular expression pattern: [a-zA-Z0-9_.-]+]")
    code, msg = code_msg(ddb.batch_write_item, RequestItems={"bha": [
        {"PutRequest": {"Item": dict(k("e"), s={"SS": []})}}]})
    assert (code, msg) == ("ValidationException", "One or more parameter values were invalid: "
                           "An string set  may not be empty")
    code, msg = code_msg(ddb.batch_write_item, ReturnConsumedCapacity="hi",
                         ReturnItemCollectionMetrics="ho", RequestItems={"bha": [
                             {"PutRequest": {"Item": k("x")}}]})
    assert code == "ValidationException" and msg.startswith("2 validation errors detected:")


def test_write_item_collection_metrics_and_streams(srv, ddb):
    st = srv.client("dynamodbstreams")
    td = ddb.create_table(
        TableName="blsi", BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"},
                              {"AttributeName": "l", "AttributeType": "S"}],
        LocalSecondaryIndexes=[{"IndexName": "byl", "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "l", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}])["TableDescription"]
    out = ddb.batch_write_item(ReturnItemCollectionMetrics="SIZE", RequestItems={
        "blsi": [{"PutRequest": {"Item": {"pk": {"S": "h"}, "sk": {"S": str(i)},
                                          "l": {"S": "v"}}}} for i in range(3)],
        "bha": [{"PutRequest": {"Item": k("plain")}}]})
    metrics = out["ItemCollectionMetrics"]
    assert list(metrics) == ["blsi"] and len(metrics["blsi"]) == 3
    assert all(m == {"ItemCollectionKey": {"pk": {"S": "h"}}, "SizeEstimateRangeGB": [0.0, 1.0]}
               for m in metrics["blsi"])
    # An index key of the wrong type refuses the whole batch before anything is written.
    assert code_msg(ddb.batch_write_item, RequestItems={"blsi": [
        {"PutRequest": {"Item": {"pk": {"S": "h"}, "sk": {"S": "9"}, "l": {"N": "1"}}}},
        {"PutRequest": {"Item": {"pk": {"S": "h"}, "sk": {"S": "8"}}}}]}) == (
        "ValidationException", "One or more parameter values were invalid: Type mismatch for "
        "Index Key l Expected: S Actual: N IndexName: byl")
    shard = st.describe_stream(StreamArn=td["LatestStreamArn"])["StreamDescription"][
        "Shards"][0]["ShardId"]
    it = st.get_shard_iterator(StreamArn=td["LatestStreamArn"], ShardId=shard,
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    recs = st.get_records(ShardIterator=it)["Records"]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["sk"]["S"]) for r in recs] == [
        ("INSERT", "0"), ("INSERT", "1"), ("INSERT", "2")]
    assert ddb.query(TableName="blsi", IndexName="byl", KeyConditionExpression="pk = :h",
                     ExpressionAttributeValues={":h": {"S": "h"}})["Count"] == 3


# ---- BatchGetItem ----

def test_get_over_tables_with_projections(ddb):
    ddb.batch_write_item(RequestItems={
        "bha": [{"PutRequest": {"Item": dict(k("g%d" % i), a={"S": "A%d" % i},
                                             b={"N": str(i)})}} for i in range(5)],
        "bra": [{"PutRequest": {"Item": {"pk": {"S": "g"}, "sk": {"N": str(i)},
                                         "m": {"M": {"x": {"N": "1"}, "y": {"N": "2"}}}}}}
                for i in range(3)]})
    out = ddb.batch_get_item(RequestItems={
        "bha": {"Keys": [k("g1"), k("g3"), k("missing")], "ProjectionExpression": "a"},
        "bra": {"Keys": [{"pk": {"S": "g"}, "sk": {"N": "2"}}],
                "ProjectionExpression": "#m.y, sk", "ExpressionAttributeNames": {"#m": "m"},
                "ConsistentRead": True}})
    assert out["UnprocessedKeys"] == {}
    assert "ConsumedCapacity" not in out
    assert sorted(out["Responses"]["bha"], key=lambda i: i["a"]["S"]) == [
        {"a": {"S": "A1"}}, {"a": {"S": "A3"}}]
    assert out["Responses"]["bra"] == [{"sk": {"N": "2"}, "m": {"M": {"y": {"N": "2"}}}}]
    # The legacy AttributesToGet, on every table of the request (mixing the two is refused).
    out = ddb.batch_get_item(RequestItems={
        "bha": {"Keys": [k("g1")], "AttributesToGet": ["b"]},
        "bra": {"Keys": [{"pk": {"S": "g"}, "sk": {"N": "1"}}], "AttributesToGet": ["sk"]}})
    assert out["Responses"]["bha"] == [{"b": {"N": "1"}}]
    assert out["Responses"]["bra"] == [{"sk": {"N": "1"}}]
    out = ddb.batch_get_item(ReturnConsumedCapacity="TOTAL", RequestItems={
        "bha": {"Keys": [k("g0"), k("g4")]},
        "bra": {"Keys": [{"pk": {"S": "g"}, "sk": {"N": "0"}}], "ConsistentRead": True}})
    assert sorted(out["Responses"]["bha"], key=lambda i: i["pk"]["S"]) == [
        dict(k("g0"), a={"S": "A0"}, b={"N": "0"}), dict(k("g4"), a={"S": "A4"}, b={"N": "4"})]
    assert out["ConsumedCapacity"] == [{"TableName": "bha", "CapacityUnits": 1.0},
                                       {"TableName": "bra", "CapacityUnits": 1.0}]


def test_get_validation_messages(ddb):
    assert code_msg(ddb.batch_get_item, RequestItems={}) == (
        "ValidationException", "1 validation error detected: Value at 'RequestItems' failed to "
        "satisfy constraint: Member must have length greater than or equal to 1")
    assert code_msg(ddb.batch_get_item, RequestItems={"bha": {"Keys": []}}) == (
        "ValidationException", "1 validation error detected: Value at "
        "'RequestItems.bha.member.Keys' failed to satisfy constraint: Member must have length "
        "greater than or equal to 1")
    keys = [k("m%d" % i) for i in range(101)]
    assert code_msg(ddb.batch_get_item, RequestItems={"bha": {"Keys": keys}}) == (
        "ValidationException", "1 validation error detected: Value at "
        "'RequestItems.bha.member.Keys' failed to satisfy constraint: Member must have length "
        "less than or equal to 100")
    assert code_msg(ddb.batch_get_item, RequestItems={
        "bha": {"Keys": keys[:60]},
        "bra": {"Keys": [{"pk": {"S": "x"}, "sk": {"N": str(i)}} for i in range(41)]}}) == (
        "ValidationException", "Too many items requested for the BatchGetItem call")
    assert len(ddb.batch_get_item(RequestItems={"bha": {"Keys": keys[:100]}})["Responses"][
        "bha"]) == 0
    assert code_msg(ddb.batch_get_item, RequestItems={"bha": {"Keys": [k("d"), k("d")]}}) == DUPS
    assert code_msg(ddb.batch_get_item, RequestItems={"nope": {"Keys": [k("d")]}}) == (
        "ResourceNotFoundException", "Requested resource not found")
    assert code_msg(ddb.batch_get_item, RequestItems={"bha": {
        "Keys": [k("x")], "AttributesToGet": ["pk"], "ProjectionExpression": "pk"}}) == (
        "ValidationException", "Can not use both expression and non-expression parameters in "
        "the same request: Non-expression parameters: {AttributesToGet} Expression parameters: "
        "{ProjectionExpression}")
    # The same across tables: a ProjectionExpression on one, AttributesToGet on another.
    assert code_msg(ddb.batch_get_item, RequestItems={
        "bha": {"Keys": [k("x")], "ProjectionExpression": "pk"},
        "bra": {"Keys": [{"pk": {"S": "x"}, "sk": {"N": "1"}}], "AttributesToGet": ["pk"]}}) == (
        "ValidationException", "Can not use both expression and non-expression parameters in "
        "the same request: Non-expression parameters: {AttributesToGet} Expression parameters: "
        "{ProjectionExpression}")
    # Each member alone on its own table is fine.
    out = ddb.batch_get_item(RequestItems={
        "bha": {"Keys": [k("x")], "ProjectionExpression": "pk"},
        "bra": {"Keys": [{"pk": {"S": "x"}, "sk": {"N": "1"}}]}})
    assert set(out["Responses"]) == {"bha", "bra"}
    assert code_msg(ddb.batch_get_item, RequestItems={"bha": {
        "Keys": [k("x")], "ProjectionExpression": "a, a"}}) == (
        "ValidationException", "Invalid ProjectionExpression: Two document paths overlap with "
        "each other; must remove or rewrite one of these paths; path one: [a], path two: [a]")
    assert code_msg(ddb.batch_get_item, RequestItems={"bha": {"Keys": [{"other": {"S": "x"}}]}}
                    ) == ("ValidationException",
                          "The provided key element does not match the schema")
    assert code_msg(ddb.batch_get_item, RequestItems={"bha": {"Keys": [{"pk": {"S": ""}}]}}) == (
        "ValidationException", "One or more parameter values are not valid. The AttributeValue "
        "for a key attribute cannot contain an empty string value. Key: pk")
    assert code_msg(ddb.batch_get_item, RequestItems={"bad!name": {"Keys": [
        {"pk": {"S": "a"}}]}}) == (
        "ValidationException", "1 validation error detected: Value "
        "'{\"bad!name\":{\"Keys\":[{\"pk\":{\"S\":\"a\"}}]}}' at 'requestItems' failed to "
        "satisfy constraint: Map keys must satisfy constraint: [Member must have length less "
        "than or equal to 255, Member must have length greater than or equal to 3, Member must "
        "satisfy regular expression pattern: [a-zA-Z0-9_.-]+]")


def test_get_answer_is_cut_at_16_mb(ddb):
    ddb.create_table(TableName="bbig", **HASH)
    blob = "b" * (390 * 1024)
    for start in range(0, 45, 5):
        ddb.batch_write_item(RequestItems={"bbig": [
            {"PutRequest": {"Item": dict(k("big%02d" % i), v={"S": blob})}}
            for i in range(start, start + 5)]})
    keys = [k("big%02d" % i) for i in range(45)]
    got = []
    request = {"bbig": {"Keys": keys, "ProjectionExpression": "pk, v"}}
    rounds = 0
    while request:
        out = ddb.batch_get_item(RequestItems=request)
        rounds += 1
        items = out["Responses"]["bbig"]
        assert sum(len(i["v"]["S"]) for i in items) <= 16 * 1024 * 1024
        got += [i["pk"]["S"] for i in items]
        request = out["UnprocessedKeys"]
        if request:
            # The unprocessed keys come back with the table's projection.
            assert request["bbig"]["ProjectionExpression"] == "pk, v"
            assert len(items) > 0
    assert rounds == 2
    assert sorted(got) == sorted(x["pk"]["S"] for x in keys)


BAD_SHAPES = [
    ("BatchGetItem", {"RequestItems": 5}),
    ("BatchGetItem", {"RequestItems": {"bha": 5}}),
    ("BatchGetItem", {"RequestItems": {"bha": None}}),
    ("BatchGetItem", {"RequestItems": {"bha": {"Keys": 5}}}),
    ("BatchGetItem", {"RequestItems": {"bha": {"Keys": [5]}}}),
    ("BatchGetItem", {"RequestItems": {"bha": {"Keys": [None]}}}),
    ("BatchGetItem", {"RequestItems": {"bha": {"Keys": [{"pk": {"S": "a"}}],
                                               "AttributesToGet": [5]}}}),
    ("BatchGetItem", {"RequestItems": {"bha": {"Keys": [{"pk": {"S": "a"}}],
                                               "ExpressionAttributeNames": {"#a": 5}}}}),
    ("BatchGetItem", {"RequestItems": {"bha": {"Keys": [{"pk": {"Q": "a"}}]}}}),
    ("BatchWriteItem", {"RequestItems": {"bha": 5}}),
    ("BatchWriteItem", {"RequestItems": {"bha": [5]}}),
    ("BatchWriteItem", {"RequestItems": {"bha": [None]}}),
    ("BatchWriteItem", {"RequestItems": {"bha": [{"PutRequest": 5}]}}),
    ("BatchWriteItem", {"RequestItems": {"bha": [{"PutRequest": {}}]}}),
    ("BatchWriteItem", {"RequestItems": {"bha": [{"PutRequest": {"Item": 5}}]}}),
    ("BatchWriteItem", {"RequestItems": {"bha": [{"PutRequest": {"Item": {"pk": 5}}}]}}),
    ("BatchWriteItem", {"RequestItems": {"bha": [{"DeleteRequest": {"Key": None}}]}}),
    ("BatchWriteItem", {"RequestItems": {"bha": [{"PutRequest": {"Item": {"pk": {"S": "a"}}},
                                                  "DeleteRequest": {"Key": {"pk": {"S": "a"}}}}]}}),
    ("TransactWriteItems", {"TransactItems": 5}),
    ("TransactWriteItems", {"TransactItems": [5]}),
    ("TransactWriteItems", {"TransactItems": [None]}),
    ("TransactWriteItems", {"TransactItems": [{"Put": 5}]}),
    ("TransactWriteItems", {"TransactItems": [{"Put": {"Item": 5, "TableName": "bha"}}]}),
    ("TransactWriteItems", {"TransactItems": [{"Put": {"Item": {"pk": {"S": "a"}},
                                                       "TableName": 5}}]}),
    ("TransactWriteItems", {"TransactItems": [{"Put": {"Item": {"pk": {"S": "a"}},
                                                       "TableName": "bha",
                                                       "ConditionExpression": "("}}]}),
    ("TransactWriteItems", {"TransactItems": [{"Update": {"Key": {"pk": {"S": "a"}},
                                                          "TableName": "bha",
                                                          "UpdateExpression": "SET"}}]}),
    ("TransactWriteItems", {"TransactItems": [{"Put": {"Item": {"pk": {"S": "a"}},
                                                       "TableName": "bha"}}],
                            "ClientRequestToken": 5}),
    ("TransactWriteItems", {"TransactItems": [{"Put": {"Item": {"pk": {"S": "a"}},
                                                       "TableName": "bha"}}],
                            "ClientRequestToken": ""}),
    ("TransactGetItems", {"TransactItems": [5]}),
    ("TransactGetItems", {"TransactItems": [{}]}),
    ("TransactGetItems", {"TransactItems": [{"Get": 5}]}),
    ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "bha", "Key": 5}}]}),
    ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "bha",
                                                     "Key": {"pk": {"S": "a"}},
                                                     "ExpressionAttributeNames": []}}]}),
]


@pytest.mark.parametrize("target,body", BAD_SHAPES)
def test_bad_shapes_are_client_errors(srv, ddb, target, body):
    """Members of the wrong JSON type or shape, anywhere in the nesting, get a 400 (a
    SerializationException or ValidationException), never a crash or a 500."""
    status, out = raw(srv, target, body)
    assert status == 400, out
    assert out["__type"].split("#")[-1] in ("SerializationException", "ValidationException"), out
