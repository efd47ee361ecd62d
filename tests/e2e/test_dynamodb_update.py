"""DynamoDB UpdateItem through boto3: every update action (SET with + - list_append
if_not_exists, REMOVE incl. list elements, ADD numbers and sets, DELETE), nested paths, each
ReturnValues mode, the legacy AttributeUpdates, the key rules, DynamoDB's runtime errors in its
words, consumed capacity, ItemCount/TableSizeBytes, and stream records only for changes.

One server serves the whole module (each test its own table), to keep the run short."""
import decimal

import boto3

import pytest
from botocore.exceptions import ClientError

HASH = dict(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST")
RANGE = dict(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"}],
             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                   {"AttributeName": "sk", "AttributeType": "N"}],
             BillingMode="PAY_PER_REQUEST")
INVALID = "One or more parameter values were invalid: "


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server


@pytest.fixture
def ddb(srv):
    return srv.client("dynamodb", validate=False)


_n = [0]


@pytest.fixture
def table(ddb):
    _n[0] += 1
    name = "upd%d" % _n[0]
    ddb.create_table(TableName=name, **HASH)
    return name


def err(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


K = {"pk": {"S": "k"}}


def get(ddb, table, key=K):
    return ddb.get_item(TableName=table, Key=key).get("Item")


def upd(ddb, table, expr, values=None, names=None, key=K, **kw):
    args = dict(TableName=table, Key=key, UpdateExpression=expr, **kw)
    if values is not None:
        args["ExpressionAttributeValues"] = values
    if names is not None:
        args["ExpressionAttributeNames"] = names
    return ddb.update_item(**args)


def test_set_creates_merges_and_copies(ddb, table):
    # No item yet: UpdateItem creates it from its key.
    upd(ddb, table, "SET a = :v", {":v": {"S": "hi"}})
    assert get(ddb, table) == {"pk": {"S": "k"}, "a": {"S": "hi"}}
    upd(ddb, table, "set b = a, #c = :n", {":n": {"N": "1.50"}}, {"#c": "c"})
    assert get(ddb, table) == {"pk": {"S": "k"}, "a": {"S": "hi"}, "b": {"S": "hi"},
                               "c": {"N": "1.5"}}
    # Right-hand sides read the old item: a copy then a REMOVE of the source.
    upd(ddb, table, "REMOVE a SET d = a")
    assert get(ddb, table) == {"pk": {"S": "k"}, "b": {"S": "hi"}, "c": {"N": "1.5"},
                               "d": {"S": "hi"}}
    # An UpdateItem with no update at all creates the bare item.
    ddb.update_item(TableName=table, Key={"pk": {"S": "bare"}})
    assert get(ddb, table, {"pk": {"S": "bare"}}) == {"pk": {"S": "bare"}}
    assert ddb.describe_table(TableName=table)["Table"]["ItemCount"] == 2


def test_arithmetic_and_functions(ddb, table):
    upd(ddb, table, "SET n = :a + :b", {":a": {"N": "1"},
                                        ":b": {"N": "10000000000000000000000"}})
    assert get(ddb, table)["n"] == {"N": "10000000000000000000001"}
    upd(ddb, table, "SET n = :z - n", {":z": {"N": "0.3"}})
    assert get(ddb, table)["n"] == {"N": "-10000000000000000000000.7"}
    upd(ddb, table, "SET c = if_not_exists(c, :zero) + :one",
        {":zero": {"N": "0"}, ":one": {"N": "1"}})
    upd(ddb, table, "SET c = if_not_exists(c, :zero) + :one",
        {":zero": {"N": "0"}, ":one": {"N": "1"}})
    assert get(ddb, table)["c"] == {"N": "2"}
    upd(ddb, table, "SET l = list_append(if_not_exists(l, :e), :v)",
        {":e": {"L": []}, ":v": {"L": [{"S": "a"}]}})
    upd(ddb, table, "SET l = list_append(:v, l)", {":v": {"L": [{"N": "0"}]}})
    assert get(ddb, table)["l"] == {"L": [{"N": "0"}, {"S": "a"}]}
    upd(ddb, table, "SET p = (c + :one)", {":one": {"N": "1"}})
    assert get(ddb, table)["p"] == {"N": "3"}


def test_nested_paths_and_lists(ddb, table):
    ddb.put_item(TableName=table, Item={
        "pk": {"S": "k"},
        "a": {"M": {"b": {"N": "3"}, "c": {"L": [{"S": "hi"},
                                                 {"M": {"x": {"M": {"y": {"L": [
                                                     {"N": "3"}, {"N": "5"}, {"N": "7"}]}}}}}]}}},
        "l": {"L": [{"N": "2"}, {"N": "3"}, {"N": "4"}, {"N": "5"}]}})
    upd(ddb, table, "SET a.c[1].#n.y[1] = :v, a.z = :v", {":v": {"N": "9"}}, {"#n": "x"})
    item = get(ddb, table)
    assert item["a"]["M"]["c"]["L"][1]["M"]["x"]["M"]["y"]["L"][1] == {"N": "9"}
    assert item["a"]["M"]["z"] == {"N": "9"}
    # Indexes name the old list's elements, whatever else the update does.
    upd(ddb, table, "REMOVE l[1] SET l[3] = :v", {":v": {"N": "17"}})
    assert get(ddb, table)["l"] == {"L": [{"N": "2"}, {"N": "4"}, {"N": "17"}]}
    # SET past the end appends, in index order; REMOVE past the end is ignored.
    upd(ddb, table, "SET l[84] = :a, l[37] = :b REMOVE l[99]", {":a": {"S": "a"},
                                                                ":b": {"S": "b"}})
    assert get(ddb, table)["l"] == {"L": [{"N": "2"}, {"N": "4"}, {"N": "17"}, {"S": "b"},
                                          {"S": "a"}]}
    upd(ddb, table, "REMOVE a.c[1].x, a.b")
    assert get(ddb, table)["a"] == {"M": {"c": {"L": [{"S": "hi"}, {"M": {}}]},
                                          "z": {"N": "9"}}}
    # A dot inside a substituted name is a top-level name.
    upd(ddb, table, "SET #d = :v", {":v": {"N": "1"}}, {"#d": "a.b"})
    assert get(ddb, table)["a.b"] == {"N": "1"}


def test_add_and_delete(ddb, table):
    upd(ddb, table, "ADD n :one, s :s", {":one": {"N": "5"}, ":s": {"SS": ["b", "a"]}})
    upd(ddb, table, "ADD n :one, s :s", {":one": {"N": "-2.5"}, ":s": {"SS": ["c", "a"]}})
    item = get(ddb, table)
    assert item["n"] == {"N": "2.5"} and item["s"] == {"SS": ["a", "b", "c"]}
    upd(ddb, table, "ADD ns :x, bs :b", {":x": {"NS": ["10", "2"]}, ":b": {"BS": [b"\x01"]}})
    upd(ddb, table, "ADD ns :x", {":x": {"NS": ["2", "-1"]}})
    assert get(ddb, table)["ns"] == {"NS": ["-1", "2", "10"]}
    upd(ddb, table, "DELETE s :d, nothere :d", {":d": {"SS": ["a", "zz"]}})
    assert get(ddb, table)["s"] == {"SS": ["b", "c"]}
    # Deleting the last members removes the attribute.
    upd(ddb, table, "DELETE s :d", {":d": {"SS": ["b", "c"]}})
    assert "s" not in get(ddb, table)


def test_return_values(ddb, table):
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "a": {"S": "x"},
                                        "m": {"M": {"b": {"N": "1"}, "c": {"N": "2"}}}})
    r = upd(ddb, table, "SET a = :v", {":v": {"S": "y"}}, ReturnValues="NONE")
    assert "Attributes" not in r
    r = upd(ddb, table, "SET a = :v", {":v": {"S": "z"}}, ReturnValues="ALL_OLD")
    assert r["Attributes"] == {"pk": {"S": "k"}, "a": {"S": "y"},
                               "m": {"M": {"b": {"N": "1"}, "c": {"N": "2"}}}}
    r = upd(ddb, table, "SET m.b = :v, n = :v", {":v": {"N": "7"}}, ReturnValues="UPDATED_OLD")
    assert r["Attributes"] == {"m": {"M": {"b": {"N": "1"}}}}
    r = upd(ddb, table, "SET m.c = :v REMOVE a", {":v": {"N": "8"}}, ReturnValues="UPDATED_NEW")
    assert r["Attributes"] == {"m": {"M": {"c": {"N": "8"}}}}
    r = upd(ddb, table, "ADD q :v", {":v": {"N": "1"}}, ReturnValues="ALL_NEW")
    assert r["Attributes"] == {"pk": {"S": "k"}, "n": {"N": "7"}, "q": {"N": "1"},
                               "m": {"M": {"b": {"N": "7"}, "c": {"N": "8"}}}}
    # Of an item that did not exist, there is nothing old to return.
    r = upd(ddb, table, "SET a = :v", {":v": {"N": "1"}}, key={"pk": {"S": "new"}},
            ReturnValues="ALL_OLD")
    assert "Attributes" not in r
    # PutItem and DeleteItem only have NONE and ALL_OLD.
    for fn, arg in ((ddb.put_item, {"Item": K}), (ddb.delete_item, {"Key": K})):
        assert err(fn, TableName=table, ReturnValues="ALL_NEW", **arg) == (
            "ValidationException", "1 validation error detected: ReturnValues can only be "
            "ALL_OLD or NONE")
    assert err(ddb.update_item, TableName=table, Key=K, ReturnValues="SOME")[1].endswith(
        "Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]")


def test_runtime_errors(ddb, table):
    ddb.put_item(TableName=table, Item={"pk": {"S": "k"}, "s": {"S": "hi"}, "l": {"L": []},
                                        "ns": {"NS": ["1"]}, "m": {"M": {}}})
    bad_path = ("ValidationException",
                "The document path provided in the update expression is invalid for update")
    bad_type = ("ValidationException",
                "An operand in the update expression has an incorrect data type")
    missing = ("ValidationException",
               "The provided expression refers to an attribute that does not exist in the item")
    v = {":v": {"N": "1"}}
    cases = [
        ("SET s.c = :v", v, bad_path),
        ("SET nope.c = :v", v, bad_path),
        ("SET m[0] = :v", v, bad_path),
        ("REMOVE nope.c", None, bad_path),
        ("SET x = s + :v", v, bad_type),
        ("ADD s :v", v, bad_type),
        ("DELETE ns :d", {":d": {"SS": ["1"]}}, bad_type),
        ("SET l = list_append(l, s)", None, bad_type),
        ("SET x = nope", None, missing),
        ("SET x = :v, y = x", v, missing),
        ("SET n = :a + :b", {":a": {"N": "9e125"}, ":b": {"N": "9e125"}},
         ("ValidationException", "Number overflow. Attempting to store a number with magnitude "
          "larger than supported range")),
        ("SET n = :a + :b", {":a": {"N": "1e50"}, ":b": {"N": "1"}},
         ("ValidationException", "Number overflow. Attempting to store a number with magnitude "
          "larger than supported range")),
        ("SET n = :a - :b", {":a": {"N": "2e-130"}, ":b": {"N": "1.5e-130"}},
         ("ValidationException", "Number underflow. Attempting to store a number with "
          "magnitude smaller than supported range")),
    ]
    for expr, values, want in cases:
        kw = {"ExpressionAttributeValues": values} if values else {}
        assert err(ddb.update_item, TableName=table, Key=K, UpdateExpression=expr, **kw) == want
    # Nothing of the refused updates happened; REMOVE x.y of a missing item is ignored.
    assert get(ddb, table) == {"pk": {"S": "k"}, "s": {"S": "hi"}, "l": {"L": []},
                               "ns": {"NS": ["1"]}, "m": {"M": {}}}
    upd(ddb, table, "REMOVE x.y", key={"pk": {"S": "gone"}})
    # An update that makes the item too big.
    big = {":b": {"S": "x" * (400 * 1024 - 10)}}
    assert err(ddb.update_item, TableName=table, Key=K, UpdateExpression="SET big = :b",
               ExpressionAttributeValues=big) == (
        "ValidationException", "Item size to update has exceeded the maximum allowed size")


def test_key_rules(ddb):
    ddb.create_table(TableName="updkeys", **RANGE)
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    for expr in ("SET pk = :v", "REMOVE pk", "ADD pk :n", "SET sk = :n", "SET x = :v, sk = :n"):
        vals = {k: v for k, v in ((":v", {"S": "x"}), (":n", {"N": "1"})) if k in expr}
        name = "sk" if "sk =" in expr or expr == "REMOVE sk" else "pk"
        kw = {"ExpressionAttributeValues": vals} if vals else {}
        assert err(ddb.update_item, TableName="updkeys", Key=key, UpdateExpression=expr,
                   **kw) == (
            "ValidationException", INVALID + "Cannot update attribute %s. This attribute is part "
            "of the key" % name)
    assert err(ddb.update_item, TableName="updkeys", Key=key, UpdateExpression="SET x = pk.y") == (
        "ValidationException", "Key attributes must be scalars; list random access '[]' and map "
        "lookup '.' are not allowed: Key: pk")
    assert err(ddb.update_item, TableName="updkeys", Key={"pk": {"S": "a"}},
               UpdateExpression="SET x = :v", ExpressionAttributeValues={":v": {"S": "x"}}) == (
        "ValidationException", "The provided key element does not match the schema")
    assert err(ddb.update_item, TableName="nothere", Key=key) == (
        "ResourceNotFoundException", "Requested resource not found")


def test_parse_errors(ddb, table):
    cases = [
        ("INVALID SYNTAX HERE", None, None,
         'Invalid UpdateExpression: Syntax error; token: "INVALID", near: "INVALID SYNTAX"'),
        ("SET a = :v, a = :w", {":v": {"N": "1"}, ":w": {"N": "2"}}, None,
         "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
         "rewrite one of these paths; path one: [a], path two: [a]"),
        ("SET a.b = :v, a[1] = :v", {":v": {"N": "1"}}, None,
         "Invalid UpdateExpression: Two document paths conflict with each other; must remove "
         "or rewrite one of these paths; path one: [a, b], path two: [a, [1]]"),
        ("ADD a :v", {":v": {"S": "x"}}, None,
         "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: "
         "ADD, operand type: STRING"),
        ("SET attr1 = :v", None, None,
         "Invalid UpdateExpression: An expression attribute value used in expression is not "
         "defined; attribute value: :v"),
        ("SET #n = :v", {":v": {"N": "1"}}, None,
         "Invalid UpdateExpression: An expression attribute name used in the document path is "
         "not defined; attribute name: #n"),
        ("SET name = :v", {":v": {"N": "1"}}, None,
         "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: "
         "name"),
        ("SET a = :v SET b = :v", {":v": {"N": "1"}}, None,
         'Invalid UpdateExpression: The "SET" section can only be used once in an update '
         "expression;"),
        ("SET a = list_append(:v)", {":v": {"L": []}}, None,
         "Invalid UpdateExpression: Incorrect number of operands for operator or function; "
         "operator or function: list_append, number of operands: 1"),
        ("SET a = :v", {":v": {"N": "1"}, ":unused": {"S": "x"}}, None,
         "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}"),
        ("SET a = :v", {":v": {"N": "1"}}, {"#unused": "x"},
         "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}"),
        ("SET a = :v", {":v": {"SS": ["a", "a"]}}, None,
         "ExpressionAttributeValues contains invalid value: One or more parameter values were "
         "invalid: Input collection [a, a] contains duplicates. for key :v"),
        ("", None, None,
         "1 validation error detected: Invalid UpdateExpression: The expression can not be "
         "empty;"),
    ]
    for expr, values, names, msg in cases:
        kw = {}
        if values:
            kw["ExpressionAttributeValues"] = values
        if names:
            kw["ExpressionAttributeNames"] = names
        assert err(ddb.update_item, TableName=table, Key=K, UpdateExpression=expr, **kw) == (
            "ValidationException", msg), expr
    assert err(ddb.update_item, TableName=table, Key=K, UpdateExpression="SET a = :v",
               ExpressionAttributeValues={":v": {"N": "1"}},
               AttributeUpdates={"a": {"Action": "PUT", "Value": {"N": "1"}}}) == (
        "ValidationException", "Can not use both expression and non-expression parameters in "
        "the same request: Non-expression parameters: {AttributeUpdates} Expression "
        "parameters: {UpdateExpression}")
    assert err(ddb.update_item, TableName=table, Key=K, UpdateExpression="x" * 4097) == (
        "ValidationException", "Invalid UpdateExpression: Expression size has exceeded the "
        "maximum allowed size; expression size: 4097")
    assert get(ddb, table) is None


def test_attribute_updates(ddb, table):
    au = {"a": {"Value": {"S": "x"}}, "n": {"Action": "ADD", "Value": {"N": "5"}},
          "s": {"Action": "ADD", "Value": {"SS": ["a"]}},
          "l": {"Action": "ADD", "Value": {"L": [{"S": "a"}]}}}
    ddb.update_item(TableName=table, Key=K, AttributeUpdates=au)
    au = {"n": {"Action": "ADD", "Value": {"N": "-1"}}, "l": {"Action": "ADD",
                                                               "Value": {"L": [{"N": "1"}]}},
          "s": {"Action": "DELETE", "Value": {"SS": ["a"]}}, "a": {"Action": "DELETE"}}
    r = ddb.update_item(TableName=table, Key=K, AttributeUpdates=au, ReturnValues="UPDATED_NEW")
    assert r["Attributes"] == {"n": {"N": "4"}, "l": {"L": [{"S": "a"}, {"N": "1"}]}}
    assert get(ddb, table) == {"pk": {"S": "k"}, "n": {"N": "4"},
                               "l": {"L": [{"S": "a"}, {"N": "1"}]}}
    cases = [
        ({"a": {"Action": "ADD", "Value": {"S": "x"}}},
         INVALID + "ADD action is not supported for the type S"),
        ({"a": {"Action": "DELETE", "Value": {"N": "1"}}},
         INVALID + "DELETE action with value is not supported for the type N"),
        ({"a": {"Action": "PUT"}},
         INVALID + "Only DELETE action is allowed when no attribute value is specified"),
        ({"n": {"Action": "ADD", "Value": {"SS": ["x"]}}}, "Type mismatch for attribute to update"),
        ({"pk": {"Value": {"S": "x"}}},
         INVALID + "Cannot update attribute pk. This attribute is part of the key"),
    ]
    for au, msg in cases:
        assert err(ddb.update_item, TableName=table, Key=K, AttributeUpdates=au) == (
            "ValidationException", msg)


def test_capacity_counts_and_streams(srv, ddb):
    ddb.create_table(TableName="updstream", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}, **HASH)
    arn = ddb.describe_table(TableName="updstream")["Table"]["LatestStreamArn"]
    r = upd(ddb, "updstream", "SET a = :v", {":v": {"S": "x" * 1500}},
            ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"] == {"TableName": "updstream", "CapacityUnits": 2.0}
    r = upd(ddb, "updstream", "SET a = :v", {":v": {"S": "y"}}, ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"] == {"TableName": "updstream", "CapacityUnits": 2.0,
                                     "Table": {"CapacityUnits": 2.0}}
    # An update that changes nothing writes no record.
    upd(ddb, "updstream", "SET a = :v", {":v": {"S": "y"}})
    upd(ddb, "updstream", "REMOVE nothere")
    t = ddb.describe_table(TableName="updstream")["Table"]
    assert t["ItemCount"] == 1 and t["TableSizeBytes"] == len("pk") + 1 + len("a") + 1
    st = srv.client("dynamodbstreams")
    shard = st.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = st.get_shard_iterator(StreamArn=arn, ShardId=shard,
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    recs = st.get_records(ShardIterator=it)["Records"]
    assert [x["eventName"] for x in recs] == ["INSERT", "MODIFY"]
    assert recs[1]["dynamodb"]["OldImage"]["a"] == {"S": "x" * 1500}
    assert recs[1]["dynamodb"]["NewImage"] == {"pk": {"S": "k"}, "a": {"S": "y"}}


def test_resource_client(srv):
    """The boto3 resource layer, as applications use it."""
    res = boto3.resource("dynamodb", endpoint_url=srv.endpoint, region_name="us-east-1",
                         aws_access_key_id=srv.access_key, aws_secret_access_key=srv.secret)
    t = res.create_table(TableName="updres", **HASH)
    t.update_item(Key={"pk": "a"}, UpdateExpression="SET #c = if_not_exists(#c, :z) + :i",
                  ExpressionAttributeNames={"#c": "count"},
                  ExpressionAttributeValues={":z": 0, ":i": decimal.Decimal("1.5")})
    r = t.update_item(Key={"pk": "a"}, UpdateExpression="ADD #c :i, tags :t",
                      ExpressionAttributeNames={"#c": "count"},
                      ExpressionAttributeValues={":i": 2, ":t": {"x", "y"}},
                      ReturnValues="ALL_NEW")
    assert r["Attributes"] == {"pk": "a", "count": decimal.Decimal("3.5"), "tags": {"x", "y"}}
