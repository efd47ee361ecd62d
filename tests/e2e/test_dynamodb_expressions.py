"""DynamoDB condition and projection expressions through boto3 and the aws CLI: each
comparator, BETWEEN, IN, AND/OR/NOT with DynamoDB's precedence, each function, on PutItem,
UpdateItem and DeleteItem; ConditionalCheckFailedException with and without the old Item;
GetItem's ProjectionExpression with nested paths and list elements; the legacy Expected and
ConditionalOperator; and the error messages of malformed expressions, in DynamoDB's words.

One server serves the whole module, to keep the run short."""
import json

import pytest
from botocore.exceptions import ClientError

from conftest import raw

HASH = dict(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST")

ITEM = {
    "pk": {"S": "k"}, "n": {"N": "5"}, "s": {"S": "hello"}, "b": {"B": b"\x01\x02\x03"},
    "t": {"BOOL": True}, "z": {"NULL": True}, "e": {"S": ""},
    "l": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"x": {"N": "7"}}}]},
    "m": {"M": {"a": {"S": "x"}, "n": {"M": {"deep": {"N": "-1.5"}}}}},
    "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "10"]}, "bs": {"BS": [b"\x01"]},
}
K = {"pk": {"S": "k"}}


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server


@pytest.fixture(scope="module")
def ddb(srv):
    c = srv.client("dynamodb", validate=False)
    c.create_table(TableName="expr", **HASH)
    c.put_item(TableName="expr", Item=ITEM)
    return c


def err(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def holds(ddb, cond, values=None, names=None):
    """Whether cond holds on ITEM: a conditional no-op update that fails or succeeds."""
    kw = {}
    if values:
        kw["ExpressionAttributeValues"] = values
    if names:
        kw["ExpressionAttributeNames"] = names
    try:
        ddb.update_item(TableName="expr", Key=K, ConditionExpression=cond, **kw)
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise


N = lambda x: {"N": x}  # noqa: E731
S = lambda x: {"S": x}  # noqa: E731

CONDITIONS = [
    ("n = :v", {":v": N("5.00")}, True),
    ("n = :v", {":v": S("5")}, False),
    ("n <> :v", {":v": S("5")}, True),
    ("gone <> :v", {":v": N("1")}, True),
    ("gone = q", None, False),
    ("n < :v", {":v": N("10")}, True),
    ("n <= :v", {":v": N("5")}, True),
    ("n > :v", {":v": N("-1e10")}, True),
    ("n >= :v", {":v": N("5.000001")}, False),
    ("s < :v", {":v": S("help")}, True),
    ("b > :v", {":v": {"B": b"\x01\x02"}}, True),
    ("ss = :v", {":v": {"SS": ["b", "a"]}}, True),
    ("m.n.deep < :v", {":v": N("-1")}, True),
    ("l[2].x = :v", {":v": N("7")}, True),
    ("l[9] = :v", {":v": N("7")}, False),
    ("n BETWEEN :a AND :b", {":a": N("1"), ":b": N("5")}, True),
    ("s BETWEEN :a AND :b", {":a": S("i"), ":b": S("z")}, False),
    ("n IN (:a, :b)", {":a": N("1"), ":b": N("5")}, True),
    ("n IN (:a, :b)", {":a": N("1"), ":b": S("5")}, False),
    ("attribute_exists(l[1]) AND attribute_not_exists(l[3])", None, True),
    ("attribute_type(ns, :t)", {":t": S("NS")}, True),
    ("attribute_type(z, :t)", {":t": S("NULL")}, True),
    ("begins_with(s, :p)", {":p": S("hel")}, True),
    ("begins_with(b, :p)", {":p": {"B": b"\x01"}}, True),
    ("begins_with(n, :p)", {":p": S("5")}, False),
    ("contains(s, :p)", {":p": S("ell")}, True),
    ("contains(ss, :p)", {":p": S("b")}, True),
    ("contains(ns, :p)", {":p": N("10")}, True),
    ("contains(bs, :p)", {":p": {"B": b"\x01"}}, True),
    ("contains(l, :p)", {":p": {"M": {"x": N("7")}}}, True),
    ("contains(m, :p)", {":p": S("a")}, False),
    ("size(s) = :v AND size(e) = :z", {":v": N("5"), ":z": N("0")}, True),
    ("size(b) = :v AND size(l) = :v", {":v": N("3")}, True),
    ("size(m) = :v AND size(ns) = :v", {":v": N("2")}, True),
    ("size(n) >= :z", {":z": N("0")}, False),
    ("NOT n = :v AND s = :s", {":v": N("5"), ":s": S("hello")}, False),
    ("n = :v OR s = :x AND s = :y", {":v": N("5"), ":x": S("no"), ":y": S("no")}, True),
    ("(n = :v OR s = :x) AND s = :y", {":v": N("5"), ":x": S("no"), ":y": S("no")}, False),
    ("NOT (n = :v OR s = :x)", {":v": N("6"), ":x": S("no")}, True),
    ("#m.#a = :v", {":v": S("x")}, True),
]


@pytest.mark.parametrize("cond,values,want", CONDITIONS)
def test_condition(ddb, cond, values, want):
    names = {"#m": "m", "#a": "a"} if "#" in cond else None
    assert holds(ddb, cond, values, names) == want


def test_conditional_writes(srv, ddb):
    ddb.create_table(TableName="cwrites", **HASH)
    ddb.put_item(TableName="cwrites", Item={"pk": {"S": "a"}, "v": {"N": "1"}},
                 ConditionExpression="attribute_not_exists(pk)")
    # A second create-if-absent fails, and the item is unchanged.
    assert err(ddb.put_item, TableName="cwrites", Item={"pk": {"S": "a"}, "v": {"N": "2"}},
               ConditionExpression="attribute_not_exists(pk)") == (
        "ConditionalCheckFailedException", "The conditional request failed")
    # ReturnValuesOnConditionCheckFailure is newer than this botocore: sent as it is.
    status, body = raw(srv, "PutItem", {
        "TableName": "cwrites", "Item": {"pk": {"S": "a"}, "v": {"N": "2"}},
        "ConditionExpression": "v = :old", "ExpressionAttributeValues": {":old": N("7")},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
    assert status == 400
    assert body == {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                    "message": "The conditional request failed",
                    "Item": {"pk": {"S": "a"}, "v": {"N": "1"}}}
    # Optimistic locking with UpdateItem.
    ddb.update_item(TableName="cwrites", Key={"pk": {"S": "a"}}, UpdateExpression="SET v = v + :one",
                    ConditionExpression="v = :cur",
                    ExpressionAttributeValues={":one": N("1"), ":cur": N("1")})
    status, body = raw(srv, "UpdateItem", {
        "TableName": "cwrites", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET v = v + :one",
        "ConditionExpression": "v = :cur",
        "ExpressionAttributeValues": {":one": N("1"), ":cur": N("1")},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
    assert status == 400 and body["Item"]["v"] == {"N": "2"}
    # Without ALL_OLD, or for a missing item, there is no Item.
    status, body = raw(srv, "DeleteItem", {
        "TableName": "cwrites", "Key": {"pk": {"S": "nope"}},
        "ConditionExpression": "attribute_exists(pk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
    assert status == 400 and "Item" not in body
    with pytest.raises(ClientError) as e:
        ddb.delete_item(TableName="cwrites", Key={"pk": {"S": "a"}},
                        ConditionExpression="attribute_exists(pk) AND v = :one",
                        ExpressionAttributeValues={":one": N("1")})
    assert "Item" not in e.value.response
    ddb.delete_item(TableName="cwrites", Key={"pk": {"S": "a"}}, ConditionExpression="v = :two",
                    ExpressionAttributeValues={":two": N("2")})
    assert "Item" not in ddb.get_item(TableName="cwrites", Key={"pk": {"S": "a"}})
    assert ddb.describe_table(TableName="cwrites")["Table"]["ItemCount"] == 0


def test_legacy_expected(ddb):
    ddb.create_table(TableName="exp", **HASH)
    key = {"pk": {"S": "a"}}
    ddb.put_item(TableName="exp", Item={"pk": {"S": "a"}, "v": N("1"), "s": {"SS": ["x"]}},
                 Expected={"pk": {"Exists": False}})
    fail = ("ConditionalCheckFailedException", "The conditional request failed")
    assert err(ddb.put_item, TableName="exp", Item=key, Expected={"pk": {"Exists": False}}) == fail
    ok = [
        {"v": {"Value": N("1")}},
        {"v": {"Exists": True, "Value": N("1")}},
        {"v": {"ComparisonOperator": "GT", "AttributeValueList": [N("0")]}},
        {"v": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N("0"), N("1")]}},
        {"v": {"ComparisonOperator": "IN", "AttributeValueList": [N("3"), N("1")]}},
        {"s": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [S("x")]}},
        {"s": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [S("y")]}},
        {"v": {"ComparisonOperator": "NOT_NULL"}, "q": {"ComparisonOperator": "NULL"}},
    ]
    for exp in ok:
        ddb.update_item(TableName="exp", Key=key, Expected=exp)
    assert err(ddb.update_item, TableName="exp", Key=key,
               Expected={"v": {"Value": N("2")}, "q": {"Exists": False}}) == fail
    ddb.update_item(TableName="exp", Key=key, ConditionalOperator="OR",
                    Expected={"v": {"Value": N("2")}, "q": {"Exists": False}})
    invalid = "One or more parameter values were invalid: "
    cases = [
        ({"v": {}}, invalid + "Value must be provided when Exists is null for Attribute: v"),
        ({"v": {"Exists": True}}, invalid + "Value must be provided when Exists is true for "
         "Attribute: v"),
        ({"v": {"Exists": False, "Value": N("1")}}, invalid + "Value cannot be used when Exists "
         "is false for Attribute: v"),
        ({"v": {"ComparisonOperator": "EQ"}}, invalid + "Value or AttributeValueList must be "
         "used with ComparisonOperator: EQ for Attribute: v"),
        ({"v": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N("1")]}},
         invalid + "Invalid number of argument(s) for the BETWEEN ComparisonOperator"),
        ({"v": {"ComparisonOperator": "EQ", "Exists": True, "Value": N("1")}},
         invalid + "Exists and ComparisonOperator cannot be used together for Attribute: v"),
    ]
    for exp, msg in cases:
        assert err(ddb.delete_item, TableName="exp", Key=key, Expected=exp) == (
            "ValidationException", msg)


def test_projection(ddb):
    def proj(p, names=None):
        kw = {"ExpressionAttributeNames": names} if names else {}
        return ddb.get_item(TableName="expr", Key=K, ProjectionExpression=p, **kw)["Item"]
    assert proj("pk, s") == {"pk": {"S": "k"}, "s": {"S": "hello"}}
    assert proj("m.n.deep, l[2].x, l[0], gone, l[9]") == {
        "m": {"M": {"n": {"M": {"deep": {"N": "-1.5"}}}}},
        "l": {"L": [{"S": "a"}, {"M": {"x": {"N": "7"}}}]}}
    assert proj("#m.a, #m.zz", {"#m": "m"}) == {"m": {"M": {"a": {"S": "x"}}}}
    assert ddb.get_item(TableName="expr", Key=K, ProjectionExpression="q")["Item"] == {}
    assert "Item" not in ddb.get_item(TableName="expr", Key={"pk": {"S": "none"}},
                                      ProjectionExpression="q")
    # The capacity is the whole item's.
    r = ddb.get_item(TableName="expr", Key=K, ProjectionExpression="pk",
                     ReturnConsumedCapacity="TOTAL", ConsistentRead=True)
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0


def test_projection_with_the_cli(srv, ddb):
    out = srv.cli("dynamodb", "get-item", "--table-name", "expr", "--key", json.dumps(K),
                  "--projection-expression", "#s, ns", "--expression-attribute-names",
                  '{"#s": "s"}')
    assert json.loads(out.stdout)["Item"] == {"s": {"S": "hello"}, "ns": {"NS": ["1", "10"]}}


ERRORS = [
    ("a = b = c", None, None,
     'Invalid ConditionExpression: Syntax error; token: "=", near: "b = c"'),
    ("((n = :v))", {":v": N("1")}, None,
     "Invalid ConditionExpression: The expression has redundant parentheses;"),
    ("size(n)", None, None,
     "Invalid ConditionExpression: The function is not allowed to be used this way in an "
     "expression; function: size"),
    ("attribute_exist(n)", None, None,
     "Invalid ConditionExpression: Invalid function name; function: attribute_exist"),
    ("begins_with(s, :v)", {":v": N("1")}, None,
     "Invalid ConditionExpression: Incorrect operand type for operator or function; operator "
     "or function: begins_with, operand type: N"),
    ("attribute_type(s, :v)", {":v": S("X")}, None,
     "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: "
     "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"),
    ("n = n", None, None,
     "Invalid ConditionExpression: The first operand must be distinct from the remaining "
     "operands for this operator or function; operator: =, first operand: [n]"),
    ("n BETWEEN :b AND :a", {":a": N("1"), ":b": N("5")}, None,
     "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater "
     "than or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound "
     "operand: AttributeValue: {N:1}"),
    ("status = :v", {":v": N("1")}, None,
     "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: "
     "status"),
    ("#x = :v", {":v": N("1")}, None,
     "Invalid ConditionExpression: An expression attribute name used in the document path is "
     "not defined; attribute name: #x"),
    ("n = :v", {":w": N("1")}, None,
     "Invalid ConditionExpression: An expression attribute value used in expression is not "
     "defined; attribute value: :v"),
    ("n = :v", {":v": N("1")}, {"#x": "x"},
     "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}"),
]


@pytest.mark.parametrize("cond,values,names,msg", ERRORS)
def test_condition_errors(ddb, cond, values, names, msg):
    kw = {}
    if values:
        kw["ExpressionAttributeValues"] = values
    if names:
        kw["ExpressionAttributeNames"] = names
    assert err(ddb.put_item, TableName="expr", Item=K, ConditionExpression=cond, **kw) == (
        "ValidationException", msg)
    # The refused put left the item as it was.
    assert ddb.get_item(TableName="expr", Key=K)["Item"] == ITEM


def test_request_errors(ddb):
    assert err(ddb.get_item, TableName="expr", Key=K, ProjectionExpression="a, a") == (
        "ValidationException", "Invalid ProjectionExpression: Two document paths overlap with "
        "each other; must remove or rewrite one of these paths; path one: [a], path two: [a]")
    assert err(ddb.get_item, TableName="expr", Key=K, ProjectionExpression="name") == (
        "ValidationException", "Invalid ProjectionExpression: Attribute name is a reserved "
        "keyword; reserved keyword: name")
    assert err(ddb.get_item, TableName="expr", Key=K, ProjectionExpression="pk",
               AttributesToGet=["pk"]) == (
        "ValidationException", "Can not use both expression and non-expression parameters in "
        "the same request: Non-expression parameters: {AttributesToGet} Expression "
        "parameters: {ProjectionExpression}")
    assert err(ddb.get_item, TableName="expr", Key=K,
               ExpressionAttributeNames={"#a": "a"}) == (
        "ValidationException", "1 validation error detected: ExpressionAttributeNames can only "
        "be specified when using expressions")
    assert err(ddb.put_item, TableName="expr", Item=K, ConditionExpression="n = :v",
               ExpressionAttributeValues={}) == (
        "ValidationException", "ExpressionAttributeValues must not be empty")
    assert err(ddb.put_item, TableName="expr", Item=K, ConditionExpression="n = :v",
               ExpressionAttributeValues={"v": N("1")}) == (
        "ValidationException", 'ExpressionAttributeValues contains invalid key: Syntax error; '
        'key: "v"')
    assert err(ddb.put_item, TableName="expr", Item=K, ConditionExpression="n = :v",
               ExpressionAttributeValues={":v": {"N": 5}})[0] == "SerializationException"
    # The item is untouched by all of these.
    assert ddb.get_item(TableName="expr", Key=K)["Item"]["n"] == N("5")


def test_substitutions_are_limited_to_2_mb_together(ddb):
    """DynamoDB's "Expression parameters" quota: all ExpressionAttributeNames and
    ExpressionAttributeValues of a request add up to at most 2 MB. Five values of 390 KB pass;
    six are refused before the condition is evaluated, and nothing changes."""
    big = "x" * (390 * 1024)
    five = {":v%d" % i: {"S": big + str(i)} for i in range(5)}
    cond = "s IN (:v0, :v1, :v2, :v3, :v4)"
    assert holds(ddb, cond, five) is False
    six = dict(five, **{":v5": {"S": big + "5"}})
    code, msg = err(ddb.update_item, TableName="expr", Key=K,
                    UpdateExpression="SET s = :v5",
                    ConditionExpression=cond, ExpressionAttributeValues=six)
    assert code == "ValidationException"
    assert "ExpressionAttributeNames and ExpressionAttributeValues exceed the maximum " \
           "allowed size" in msg
    assert ddb.get_item(TableName="expr", Key=K)["Item"]["s"] == {"S": "hello"}
