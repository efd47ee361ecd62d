"""DynamoDB items through boto3 and the aws CLI: PutItem, GetItem, DeleteItem of every type,
ReturnValues, consumed capacity, every validation error with its exact message, exact
ItemCount/TableSizeBytes, stream records per view type (read with the DynamoDB Streams API),
UpdateTable's stream and billing changes, DeleteTable's reclaiming, restarts and kill -9."""
import decimal
import json
import subprocess
import threading
import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from urllib3.exceptions import HTTPError

from conftest import raw

HASH = dict(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST")
RANGE_N = dict(KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
               AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "N"}],
               BillingMode="PAY_PER_REQUEST")
INVALID = "One or more parameter values were invalid: "


def err(excinfo):
    e = excinfo.value.response["Error"]
    return e["Code"], e["Message"]


def raises(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    return err(e)


@pytest.fixture
def ddb(server):
    return server.client("dynamodb", validate=False)


# ---- DynamoDB's item size ("Item sizes and formats"), to check TableSizeBytes ----

def num_size(text):
    d = decimal.Decimal(text)
    if d == 0:
        return 1
    sign, digits, exp = d.normalize().as_tuple()
    n = len(digits)
    e = n + exp              # value = 0.d1..dn x 10^e
    return 1 + (n + (e % 2 != 0) + 1) // 2 + (sign == 1)


def value_size(v):
    (t, x), = v.items()
    if t == "S":
        return len(x.encode())
    if t == "B":
        return len(x)
    if t == "N":
        return num_size(x)
    if t in ("BOOL", "NULL"):
        return 1
    if t == "SS":
        return sum(len(s.encode()) for s in x)
    if t == "NS":
        return sum(num_size(s) for s in x)
    if t == "BS":
        return sum(len(b) for b in x)
    if t == "L":
        return 3 + sum(1 + value_size(e) for e in x)
    return 3 + sum(1 + len(k.encode()) + value_size(e) for k, e in x.items())


def item_size(item):
    return sum(len(k.encode()) + value_size(v) for k, v in item.items())


EVERY_TYPE = {
    "pk": {"S": "every-type"},
    "s": {"S": "h\u00e9llo \"quoted\" \\ \n\t\u20ac"},
    "empty_s": {"S": ""},
    "n": {"N": "-12.50"},
    "big": {"N": "9.9999999999999999999999999999999999999E+125"},
    "tiny": {"N": "1E-130"},
    "b": {"B": b"\x00\x01\xfe\xff"},
    "empty_b": {"B": b""},
    "t": {"BOOL": True},
    "f": {"BOOL": False},
    "nul": {"NULL": True},
    "l": {"L": [{"S": "a"}, {"N": "1"}, {"L": []}, {"M": {}}, {"NULL": True}]},
    "m": {"M": {"z": {"S": "last"}, "a": {"M": {"deep": {"BS": [b"\x02", b"\x01"]}}}}},
    "ss": {"SS": ["b", "a", ""]},
    "ns": {"NS": ["10", "-1", "2.50"]},
    "bs": {"BS": [b"\xff", b"\x00"]},
}

CANONICAL = dict(EVERY_TYPE, **{
    "n": {"N": "-12.5"},
    "big": {"N": "99999999999999999999999999999999999999" + "0" * 88},
    "tiny": {"N": "0." + "0" * 129 + "1"},
    "m": {"M": {"z": {"S": "last"}, "a": {"M": {"deep": {"BS": [b"\x01", b"\x02"]}}}}},
    "ss": {"SS": ["", "a", "b"]},
    "ns": {"NS": ["-1", "2.5", "10"]},
    "bs": {"BS": [b"\x00", b"\xff"]},
})


def test_every_type_round_trips(ddb):
    ddb.create_table(TableName="items", **HASH)
    assert ddb.put_item(TableName="items", Item=EVERY_TYPE)["ResponseMetadata"][
        "HTTPStatusCode"] == 200
    got = ddb.get_item(TableName="items", Key={"pk": {"S": "every-type"}})["Item"]
    assert got == CANONICAL
    # ConsistentRead is accepted; a missing item is an empty answer.
    assert ddb.get_item(TableName="items", Key={"pk": {"S": "every-type"}},
                        ConsistentRead=True)["Item"] == CANONICAL
    assert "Item" not in ddb.get_item(TableName="items", Key={"pk": {"S": "nope"}})
    # AttributesToGet keeps only the names asked for.
    got = ddb.get_item(TableName="items", Key={"pk": {"S": "every-type"}},
                       AttributesToGet=["n", "m", "absent"])["Item"]
    assert got == {"n": CANONICAL["n"], "m": CANONICAL["m"]}


def test_numbers_come_back_as_dynamodb_returns_them(ddb):
    ddb.create_table(TableName="nums", **RANGE_N)
    cases = [("1.50", "1.5"), ("-0", "0"), ("1e3", "1000"), ("0.0010", "0.001"),
             ("+7", "7"), (".5", "0.5"), ("100e-2", "1"), ("-1.0E-2", "-0.01")]
    for i, (given, want) in enumerate(cases):
        ddb.put_item(TableName="nums", Item={"pk": {"S": "n%d" % i}, "sk": {"N": given},
                                              "v": {"N": given}})
        got = ddb.get_item(TableName="nums", Key={"pk": {"S": "n%d" % i},
                                                  "sk": {"N": want}})["Item"]
        assert got["v"] == {"N": want} and got["sk"] == {"N": want}
    # A number key is found by any spelling of its value.
    assert "Item" in ddb.get_item(TableName="nums", Key={"pk": {"S": "n0"}, "sk": {"N": "15e-1"}})


def test_cli_put_get_delete(server):
    server.cli("dynamodb", "create-table", "--table-name", "clitable",
               "--attribute-definitions", "AttributeName=pk,AttributeType=S",
               "--key-schema", "AttributeName=pk,KeyType=HASH",
               "--billing-mode", "PAY_PER_REQUEST")
    item = {"pk": {"S": "cli"}, "n": {"N": "042.10"}, "b": {"B": "AAEC"},
            "l": {"L": [{"BOOL": True}, {"SS": ["y", "x"]}]}}
    server.cli("dynamodb", "put-item", "--table-name", "clitable", "--item", json.dumps(item))
    out = json.loads(server.cli("dynamodb", "get-item", "--table-name", "clitable", "--key",
                                '{"pk": {"S": "cli"}}').stdout)
    assert out["Item"] == {"pk": {"S": "cli"}, "n": {"N": "42.1"}, "b": {"B": "AAEC"},
                           "l": {"L": [{"BOOL": True}, {"SS": ["x", "y"]}]}}
    out = json.loads(server.cli("dynamodb", "delete-item", "--table-name", "clitable",
                                "--key", '{"pk": {"S": "cli"}}', "--return-values",
                                "ALL_OLD").stdout)
    assert out["Attributes"]["n"] == {"N": "42.1"}
    r = server.cli("dynamodb", "get-item", "--table-name", "clitable", "--key",
                   '{"pk": {"S": "cli"}}')
    assert r.stdout.strip() == ""


def test_return_values_all_old(ddb):
    ddb.create_table(TableName="rvals", **HASH)
    first = {"pk": {"S": "k"}, "v": {"N": "1"}}
    out = ddb.put_item(TableName="rvals", Item=first, ReturnValues="ALL_OLD")
    assert "Attributes" not in out
    out = ddb.put_item(TableName="rvals", Item={"pk": {"S": "k"}, "v": {"N": "2"}},
                       ReturnValues="ALL_OLD")
    assert out["Attributes"] == first
    out = ddb.put_item(TableName="rvals", Item={"pk": {"S": "k"}, "v": {"N": "3"}},
                       ReturnValues="NONE")
    assert "Attributes" not in out
    out = ddb.delete_item(TableName="rvals", Key={"pk": {"S": "k"}}, ReturnValues="ALL_OLD")
    assert out["Attributes"] == {"pk": {"S": "k"}, "v": {"N": "3"}}
    out = ddb.delete_item(TableName="rvals", Key={"pk": {"S": "k"}}, ReturnValues="ALL_OLD")
    assert "Attributes" not in out
    for rv in ("ALL_NEW", "UPDATED_OLD", "UPDATED_NEW"):
        assert raises(ddb.put_item, TableName="rvals", Item=first, ReturnValues=rv) == (
            "ValidationException",
            "1 validation error detected: ReturnValues can only be ALL_OLD or NONE")
        assert raises(ddb.delete_item, TableName="rvals", Key={"pk": {"S": "k"}},
                      ReturnValues=rv) == (
            "ValidationException",
            "1 validation error detected: ReturnValues can only be ALL_OLD or NONE")


def test_consumed_capacity(ddb):
    ddb.create_table(TableName="cap", **HASH)
    small = {"pk": {"S": "s"}}
    big = {"pk": {"S": "b"}, "x": {"S": "x" * 5000}}
    out = ddb.put_item(TableName="cap", Item=small, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"] == {"TableName": "cap", "CapacityUnits": 1.0}
    out = ddb.put_item(TableName="cap", Item=big, ReturnConsumedCapacity="INDEXES")
    assert out["ConsumedCapacity"] == {"TableName": "cap", "CapacityUnits": 5.0,
                                       "Table": {"CapacityUnits": 5.0}}
    # Overwriting a big item with a small one costs the larger of the two.
    out = ddb.put_item(TableName="cap", Item={"pk": {"S": "b"}}, ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["CapacityUnits"] == 5.0
    assert "ConsumedCapacity" not in ddb.put_item(TableName="cap", Item=small,
                                                  ReturnConsumedCapacity="NONE")
    ddb.put_item(TableName="cap", Item=big)
    g = ddb.get_item(TableName="cap", Key={"pk": {"S": "b"}}, ReturnConsumedCapacity="TOTAL")
    assert g["ConsumedCapacity"] == {"TableName": "cap", "CapacityUnits": 1.0}
    g = ddb.get_item(TableName="cap", Key={"pk": {"S": "b"}}, ConsistentRead=True,
                     ReturnConsumedCapacity="TOTAL")
    assert g["ConsumedCapacity"]["CapacityUnits"] == 2.0
    g = ddb.get_item(TableName="cap", Key={"pk": {"S": "none"}}, ReturnConsumedCapacity="TOTAL")
    assert g["ConsumedCapacity"]["CapacityUnits"] == 0.5 and "Item" not in g
    d = ddb.delete_item(TableName="cap", Key={"pk": {"S": "b"}},
                        ReturnConsumedCapacity="TOTAL")
    assert d["ConsumedCapacity"]["CapacityUnits"] == 5.0


EMPTY = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
NUM_CLASS = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"

PUT_ERRORS = [
    # Attribute values (ValidationException).
    ({"pk": {"S": "a"}, "a": {}}, "ValidationException", EMPTY),
    ({"pk": {"S": "a"}, "a": {"a": ""}}, "ValidationException", EMPTY),
    ({"pk": {"S": "a"}, "a": {"M": {"b": {}}}}, "ValidationException", EMPTY),
    ({"pk": {"S": "a"}, "a": {"L": [{}]}}, "ValidationException", EMPTY),
    ({"pk": {"S": "a"}, "a": {"S": "a", "N": "1"}}, "ValidationException",
     "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
     "the supported datatypes"),
    ({"pk": {"S": "a"}, "a": {"NULL": False}}, "ValidationException",
     INVALID + "Null attribute value types must have the value of true"),
    ({"pk": {"S": "a"}, "a": {"SS": []}}, "ValidationException",
     INVALID + "An string set  may not be empty"),
    ({"pk": {"S": "a"}, "a": {"NS": []}}, "ValidationException",
     INVALID + "An number set  may not be empty"),
    ({"pk": {"S": "a"}, "a": {"BS": []}}, "ValidationException",
     INVALID + "Binary sets should not be empty"),
    ({"pk": {"S": "a"}, "a": {"SS": ["a", "a"]}}, "ValidationException",
     INVALID + "Input collection [a, a] contains duplicates."),
    ({"pk": {"S": "a"}, "a": {"NS": ["1", "1.0"]}}, "ValidationException",
     "Input collection contains duplicates"),
    ({"pk": {"S": "a"}, "a": {"BS": ["Yg==", "Yg=="]}}, "ValidationException",
     INVALID + "Input collection [Yg==, Yg==]of type BS contains duplicates."),
    ({"pk": {"S": "a"}, "a": {"N": ""}}, "ValidationException",
     "The parameter cannot be converted to a numeric value"),
    ({"pk": {"S": "a"}, "a": {"N": "b"}}, "ValidationException",
     "The parameter cannot be converted to a numeric value: b"),
    ({"pk": {"S": "a"}, "a": {"NS": ["1", "b", "a"]}}, "ValidationException",
     "The parameter cannot be converted to a numeric value: b"),
    ({"pk": {"S": "a"}, "a": {"N": "123456789012345678901234567890123456789"}},
     "ValidationException", "Attempting to store more than 38 significant digits in a Number"),
    ({"pk": {"S": "a"}, "a": {"N": "1e126"}}, "ValidationException",
     "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ({"pk": {"S": "a"}, "a": {"N": "-1e126"}}, "ValidationException",
     "Number overflow. Attempting to store a number with magnitude larger than supported range"),
    ({"pk": {"S": "a"}, "a": {"N": "1e-131"}}, "ValidationException",
     "Number underflow. Attempting to store a number with magnitude smaller than supported "
     "range"),
    # Keys.
    ({"x": {"S": "a"}}, "ValidationException", INVALID + "Missing the key pk in the item"),
    ({"pk": {"N": "1"}}, "ValidationException",
     INVALID + "Type mismatch for key pk expected: S actual: N"),
    ({"pk": {"S": ""}}, "ValidationException",
     "One or more parameter values are not valid. The AttributeValue for a key attribute "
     "cannot contain an empty string value. Key: pk"),
    ({"pk": {"S": "x" * 2049}}, "ValidationException",
     INVALID + "Size of hashkey has exceeded the maximum size limit of2048 bytes"),
    # Serialization.
    ({"pk": {"S": 5}}, "SerializationException",
     NUM_CLASS + " can not be converted to an String"),
    ({"pk": {"S": "a"}, "a": {"S": True}}, "SerializationException",
     "class java.lang.Boolean can not be converted to an String"),
    ({"pk": {"S": "a"}, "a": {"S": []}}, "SerializationException",
     "Start of list found where not expected"),
    ({"pk": {"S": "a"}, "a": {"B": "23456"}}, "SerializationException",
     "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple of "
     "4 bytes but found: 5"),
    ({"pk": {"S": "a"}, "a": {"B": "=+/="}}, "SerializationException",
     "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='"),
    ({"pk": {"S": "a"}, "a": {"B": "+/+="}}, "SerializationException",
     "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"),
    ({"pk": {"S": "a"}, "a": {"BOOL": "maybe"}}, "SerializationException",
     "'MAYBE' can not be converted to an Boolean"),
    ({"pk": {"S": "a"}, "a": {"L": "x"}}, "SerializationException", "Expected list or null"),
    ({"pk": {"S": "a"}, "a": {"M": []}}, "SerializationException",
     "Start of list found where not expected"),
]


@pytest.mark.parametrize("item,code,message", PUT_ERRORS)
def test_put_item_errors(server, ddb, item, code, message):
    ddb.create_table(TableName="errs", **HASH)
    status, body = raw(server, "PutItem", {"TableName": "errs", "Item": item})
    assert status == 400
    assert body["__type"].endswith("#" + code)
    assert body["message"] == message
    assert ddb.describe_table(TableName="errs")["Table"]["ItemCount"] == 0


# PutItem bodies as bytes, each read by the server's own JSON reader and, where that reader
# defers, by jansson: the answers must be jansson's (a name sent twice keeps its last value).
RAW_PUTS = [
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"S":"1"},"v":{"S":"2"}}}', "S", "2"),
    (rb'{"TableName":"nope","Item":{"pk":{"S":"a"},"v":{"N":"1"}},"TableName":"raw"}', "N", "1"),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"S":null,"S":"x"}}}', "S", "x"),
    (b'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"S":"\\u00e9\\ud83d\\ude00\\n\\"\xc3\xa9"}}}',
     "S", "\u00e9\U0001F600\n\"\u00e9"),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"M":{"k":{"N":"1"},"k":{"N":"2"}}}}}',
     "M", {"k": {"N": "2"}}),
    (rb' {"Item":{"v":{"BOOL":true,"x":[1,{"y":null}]},"pk":{"S":"a"}},"TableName":"raw"} ',
     "BOOL", True),
]
RAW_PUT_ERRORS = [
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"S":"x","S":null}}}', "ValidationException",
     "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"S":"x","junk":1e400}}}',
     "SerializationException", None),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"S":"x","junk":123456789012345678901}}}',
     "SerializationException", None),
    (b'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"S":"\xc0\x80"}}}',
     "SerializationException", None),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"S":"\ud800"}}}',
     "SerializationException", None),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"},"v":{"S":"\u0000"}}}',
     "SerializationException", None),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"}}} {}', "SerializationException", None),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"}},}', "SerializationException", None),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"}},"ReturnValues":"ALL_NEW"}',
     "ValidationException",
     "1 validation error detected: ReturnValues can only be ALL_OLD or NONE"),
    (rb'{"TableName":"raw","Item":{"pk":{"S":"a"}},"ReturnConsumedCapacity":"ALL"}',
     "ValidationException",
     "1 validation error detected: Value 'ALL' at 'returnConsumedCapacity' failed to satisfy "
     "constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"),
    (rb'{"TableName":"r","Item":{"pk":{"S":"a"}}}', "ValidationException",
     "1 validation error detected: Value 'r' at 'tableName' failed to satisfy constraint: "
     "Member must have length greater than or equal to 3"),
    (rb'{"TableName":"raw","Item":{"pk":{"N":"1"}}}', "ValidationException",
     "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"),
    (rb'{"TableName":"gone","Item":{"pk":{"S":"a"}}}', "ResourceNotFoundException",
     "Requested resource not found"),
]


@pytest.mark.parametrize("body,vtype,value", RAW_PUTS)
def test_put_item_bodies_read_as_jansson_reads_them(server, ddb, body, vtype, value):
    ddb.create_table(TableName="raw", **HASH)
    status, answer = raw(server, "PutItem", body)
    assert (status, answer) == (200, {})
    item = ddb.get_item(TableName="raw", Key={"pk": {"S": "a"}})["Item"]
    assert item == {"pk": {"S": "a"}, "v": {vtype: value}}
    # The same item put through boto3 has the same size: nothing was stored twice.
    ddb.create_table(TableName="ref", **HASH)
    ddb.put_item(TableName="ref", Item=item)
    assert (ddb.describe_table(TableName="raw")["Table"]["TableSizeBytes"] ==
            ddb.describe_table(TableName="ref")["Table"]["TableSizeBytes"])


@pytest.mark.parametrize("body,code,message", RAW_PUT_ERRORS)
def test_put_item_bad_bodies(server, ddb, body, code, message):
    ddb.create_table(TableName="raw", **HASH)
    status, answer = raw(server, "PutItem", body)
    assert status == 400
    assert answer["__type"].endswith("#" + code)
    if message is not None:
        assert answer["message"] == message
    assert ddb.describe_table(TableName="raw")["Table"]["ItemCount"] == 0


RAW_GETS = [
    (rb'{"TableName":"raw","Key":{"pk":{"S":"x"},"pk":{"S":"a"}}}', None),
    (rb'{"TableName":"nope","Key":{"pk":{"S":"a"}},"TableName":"raw"}', None),
    (rb'{"TableName":"raw","Key":{"pk":{"S":"a"}},"ConsistentRead":true,'
     rb'"ReturnConsumedCapacity":"TOTAL"}', 1.0),
    (rb'{"TableName":"raw","Key":{"pk":{"S":"a"}},"ConsistentRead":false,'
     rb'"ReturnConsumedCapacity":"TOTAL"}', 0.5),
    (rb'{"TableName":"raw","Key":{"pk":{"S":"a"}},"ConsistentRead":"yes",'
     rb'"ReturnConsumedCapacity":"TOTAL"}', 1.0),
    (rb'{"TableName":"raw","Key":{"pk":{"S":"a"}},"ReturnConsumedCapacity":"TOTAL",'
     rb'"ReturnConsumedCapacity":"NONE"}', None),
]


@pytest.mark.parametrize("body,units", RAW_GETS)
def test_get_item_bodies_read_as_jansson_reads_them(server, ddb, body, units):
    ddb.create_table(TableName="raw", **HASH)
    ddb.put_item(TableName="raw", Item={"pk": {"S": "a"}, "v": {"N": "7"}})
    status, answer = raw(server, "GetItem", body)
    assert status == 200
    assert answer.pop("Item") == {"pk": {"S": "a"}, "v": {"N": "7"}}
    if units is None:
        assert answer == {}
    else:
        assert answer == {"ConsumedCapacity": {"TableName": "raw", "CapacityUnits": units}}


@pytest.mark.parametrize("body,code", [
    (rb'{"TableName":"raw","Key":{"pk":{"S":"a"}},"ConsistentRead":1}', "SerializationException"),
    (rb'{"TableName":"raw","Key":{"pk":{"S":"a"},"pk":{"S":"a","N":"1"}}}', "ValidationException"),
    (rb'{"TableName":"raw","Key":{"pk":{"N":"1"}}}', "ValidationException"),
    (rb'{"TableName":"raw","Key":{}}', "ValidationException"),
    (rb'{"TableName":"raw"}', "ValidationException"),
    (rb'{"TableName":"gone","Key":{"pk":{"S":"a"}}}', "ResourceNotFoundException"),
])
def test_get_item_bad_bodies(server, ddb, body, code):
    ddb.create_table(TableName="raw", **HASH)
    status, answer = raw(server, "GetItem", body)
    assert status == 400
    assert answer["__type"].endswith("#" + code)


def test_put_item_plain_members(ddb):
    """TableName, Item, ReturnValues, ReturnConsumedCapacity, ReturnItemCollectionMetrics: the
    members the common PutItem carries, each with its effect."""
    ddb.create_table(TableName="plain", **HASH)
    first = ddb.put_item(TableName="plain", Item={"pk": {"S": "a"}, "n": {"N": "1"}},
                         ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL",
                         ReturnItemCollectionMetrics="SIZE")
    assert "Attributes" not in first
    assert first["ConsumedCapacity"] == {"TableName": "plain", "CapacityUnits": 1.0}
    again = ddb.put_item(TableName="plain", Item={"pk": {"S": "a"}, "n": {"N": "2"}},
                         ReturnValues="ALL_OLD", ReturnConsumedCapacity="NONE")
    assert again["Attributes"] == {"pk": {"S": "a"}, "n": {"N": "1"}}
    assert "ConsumedCapacity" not in again
    assert ddb.get_item(TableName="plain", Key={"pk": {"S": "a"}})["Item"]["n"] == {"N": "2"}


def test_nesting_and_size_limits(ddb):
    ddb.create_table(TableName="limits", **HASH)

    def deep(n):
        v = {"S": "leaf"}
        for _ in range(n):
            v = {"M": {"n": v}}
        return v
    ddb.put_item(TableName="limits", Item={"pk": {"S": "d31"}, "d": deep(31)})
    assert ddb.get_item(TableName="limits", Key={"pk": {"S": "d31"}})["Item"]["d"] == deep(31)
    assert raises(ddb.put_item, TableName="limits", Item={"pk": {"S": "d32"}, "d": deep(32)}) \
        == ("ValidationException", "Nesting Levels have exceeded supported limits: Attributes "
            "in the item have nested levels beyond supported limit")
    # 400 KB counted as DynamoDB counts: names plus values.
    ok = {"pk": {"S": "big"}, "x": {"S": "x" * (400 * 1024 - 6)}}
    assert item_size(ok) == 400 * 1024
    ddb.put_item(TableName="limits", Item=ok)
    over = {"pk": {"S": "big"}, "xx": {"S": "x" * (400 * 1024 - 6)}}
    assert raises(ddb.put_item, TableName="limits", Item=over) == (
        "ValidationException", "Item size has exceeded the maximum allowed size")


def test_request_errors(ddb):
    ddb.create_table(TableName="reqs", **RANGE_N)
    item = {"pk": {"S": "a"}, "sk": {"N": "1"}}
    assert raises(ddb.put_item, TableName="nothere", Item=item) == (
        "ResourceNotFoundException", "Requested resource not found")
    assert raises(ddb.get_item, TableName="nothere", Key={"pk": {"S": "a"}}) == (
        "ResourceNotFoundException", "Requested resource not found")
    assert raises(ddb.delete_item, TableName="nothere", Key={"pk": {"S": "a"}}) == (
        "ResourceNotFoundException", "Requested resource not found")
    assert raises(ddb.put_item, TableName="reqs") == (
        "ValidationException", "1 validation error detected: Value null at 'item' failed to "
        "satisfy constraint: Member must not be null")
    assert raises(ddb.get_item, TableName="ab", Key=item) == (
        "ValidationException", "1 validation error detected: Value 'ab' at 'tableName' failed "
        "to satisfy constraint: Member must have length greater than or equal to 3")
    assert raises(ddb.put_item, TableName="reqs", Item=item, ReturnValues="hi") == (
        "ValidationException", "1 validation error detected: Value 'hi' at 'returnValues' "
        "failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, "
        "UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]")
    assert raises(ddb.put_item, TableName="reqs", Item=item, ReturnConsumedCapacity="x")[1] == (
        "1 validation error detected: Value 'x' at 'returnConsumedCapacity' failed to satisfy "
        "constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]")
    # Keys of GetItem and DeleteItem must be exactly the table's key.
    schema = ("ValidationException", "The provided key element does not match the schema")
    for key in ({"pk": {"S": "a"}}, {"sk": {"N": "1"}}, {"pk": {"S": "a"}, "sk": {"S": "1"}},
                {"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}}, {}):
        assert raises(ddb.get_item, TableName="reqs", Key=key) == schema
        assert raises(ddb.delete_item, TableName="reqs", Key=key) == schema
    assert raises(ddb.get_item, TableName="reqs", Key={"pk": {"S": ""}, "sk": {"N": "1"}}) == (
        "ValidationException", "One or more parameter values are not valid. The AttributeValue "
        "for a key attribute cannot contain an empty string value. Key: pk")
    assert raises(ddb.get_item, TableName="reqs", Key={"pk": {"S": "a"}, "sk": {"N": "x"}}) == (
        "ValidationException", "The parameter cannot be converted to a numeric value: x")
    assert raises(ddb.get_item, TableName="reqs", Key=item, AttributesToGet=["a", "a"]) == (
        "ValidationException", INVALID + "Duplicate value in attribute name: a")
    assert raises(ddb.get_item, TableName="reqs", Key=item, AttributesToGet=[]) == (
        "ValidationException", "1 validation error detected: Value '[]' at 'attributesToGet' "
        "failed to satisfy constraint: Member must have length greater than or equal to 1")
    # Conditions are evaluated, never ignored.
    assert raises(ddb.put_item, TableName="reqs", Item=item,
                  ConditionExpression="attribute_exists(pk)") == (
        "ConditionalCheckFailedException", "The conditional request failed")
    assert raises(ddb.delete_item, TableName="reqs", Key=item,
                  Expected={"pk": {"Exists": True, "Value": {"S": "a"}}}) == (
        "ConditionalCheckFailedException", "The conditional request failed")
    assert raises(ddb.put_item, TableName="reqs", Item=item, Expected={"pk": {"Exists": False}},
                  ConditionExpression="attribute_not_exists(pk)") == (
        "ValidationException", "Can not use both expression and non-expression parameters in "
        "the same request: Non-expression parameters: {Expected} Expression parameters: "
        "{ConditionExpression}")
    assert raises(ddb.put_item, TableName="reqs", Item=item,
                  ExpressionAttributeValues={":v": {"S": "x"}}) == (
        "ValidationException", "1 validation error detected: ExpressionAttributeValues can only "
        "be specified when using expressions")
    assert raises(ddb.put_item, TableName="reqs", Item=item, ConditionExpression="") == (
        "ValidationException", "1 validation error detected: Invalid ConditionExpression: The "
        "expression can not be empty;")
    assert raises(ddb.put_item, TableName="reqs", Item=item, ConditionalOperator="AND") == (
        "ValidationException", "ConditionalOperator cannot be used without Filter or Expected")
    # Nothing of the refused requests was written.
    assert ddb.describe_table(TableName="reqs")["Table"]["ItemCount"] == 0
    assert "Item" not in ddb.get_item(TableName="reqs", Key=item)


def test_key_size_limits_and_long_keys(ddb):
    ddb.create_table(TableName="keys", KeySchema=[{"AttributeName": "h", "KeyType": "HASH"},
                                                  {"AttributeName": "r", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "S"},
                                           {"AttributeName": "r", "AttributeType": "B"}],
                     BillingMode="PAY_PER_REQUEST")
    assert raises(ddb.put_item, TableName="keys", Item={"h": {"S": "a"},
                                                        "r": {"B": b"x" * 1025}}) == (
        "ValidationException", INVALID + "Aggregated size of all range keys has exceeded the "
        "size limit of 1024 bytes")
    assert raises(ddb.put_item, TableName="keys", Item={"h": {"S": "a"}, "r": {"B": b""}}) == (
        "ValidationException", "One or more parameter values are not valid. The AttributeValue "
        "for a key attribute cannot contain an empty binary value. Key: r")
    # Keys at the limits, which are longer than LMDB's keys, and differ only at their ends.
    h = "\u00e9" * 1024                      # 2048 bytes of UTF-8
    items = [{"h": {"S": h}, "r": {"B": b"\x00" * 1023 + bytes([i])}, "i": {"N": str(i)}}
             for i in range(3)]
    items.append({"h": {"S": h[:-1] + "e"}, "r": {"B": b"\x00" * 1024}, "i": {"N": "9"}})
    for it in items:
        ddb.put_item(TableName="keys", Item=it)
    for it in items:
        got = ddb.get_item(TableName="keys", Key={"h": it["h"], "r": it["r"]})["Item"]
        assert got == it
    assert ddb.describe_table(TableName="keys")["Table"]["ItemCount"] == 4
    ddb.delete_item(TableName="keys", Key={"h": items[1]["h"], "r": items[1]["r"]})
    assert "Item" not in ddb.get_item(TableName="keys", Key={"h": items[1]["h"],
                                                             "r": items[1]["r"]})
    assert "Item" in ddb.get_item(TableName="keys", Key={"h": items[2]["h"],
                                                         "r": items[2]["r"]})


def test_item_count_and_table_size_are_exact(ddb):
    ddb.create_table(TableName="counts", **HASH)
    items = {}

    def put(item):
        ddb.put_item(TableName="counts", Item=item)
        items[item["pk"]["S"]] = item

    def check():
        t = ddb.describe_table(TableName="counts")["Table"]
        assert t["ItemCount"] == len(items)
        assert t["TableSizeBytes"] == sum(item_size(i) for i in items.values())

    check()
    put({"pk": {"S": "a"}, "n": {"N": "12345"}, "l": {"L": [{"S": "xy"}]}})
    put({"pk": {"S": "b"}, "m": {"M": {"k": {"BOOL": True}}}, "ns": {"NS": ["1", "22"]}})
    put({"pk": {"S": "c"}, "b": {"B": b"12345"}})
    check()
    put({"pk": {"S": "a"}, "s": {"S": "replaced"}})          # overwrite: count stays
    check()
    put({"pk": {"S": "a"}, "s": {"S": "replaced"}})          # the same again
    check()
    ddb.delete_item(TableName="counts", Key={"pk": {"S": "b"}})
    del items["b"]
    check()
    ddb.delete_item(TableName="counts", Key={"pk": {"S": "b"}})   # missing: nothing changes
    check()
    assert ddb.describe_table(TableName="counts")["Table"]["TableSizeBytes"] > 0


# ---- streams ----

def read_stream(st, arn, after=None):
    shard = st.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = st.get_shard_iterator(StreamArn=arn, ShardId=shard,
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = []
    while it:
        out = st.get_records(ShardIterator=it)
        records += out["Records"]
        if not out["Records"]:
            break
        it = out.get("NextShardIterator")
    return records


@pytest.mark.parametrize("view", ["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"])
def test_stream_records_per_view_type(server, ddb, view):
    st = server.client("dynamodbstreams")
    td = ddb.create_table(TableName="streamed", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": view}, **RANGE_N)["TableDescription"]
    arn = td["LatestStreamArn"]
    key = {"pk": {"S": "k"}, "sk": {"N": "1"}}
    v1 = dict(key, v={"S": "one"}, n={"N": "1.50"})
    v2 = dict(key, v={"S": "two"})
    t0 = int(time.time())
    ddb.put_item(TableName="streamed", Item=v1)                        # INSERT
    ddb.put_item(TableName="streamed", Item=v2)                        # MODIFY
    ddb.put_item(TableName="streamed", Item=v2)                        # no change: no record
    ddb.delete_item(TableName="streamed", Key=key)                     # REMOVE
    ddb.delete_item(TableName="streamed", Key=key)                     # missing: no record
    ddb.put_item(TableName="streamed", Item=dict(key, v={"S": "three"}))  # INSERT again
    recs = read_stream(st, arn)
    assert [r["eventName"] for r in recs] == ["INSERT", "MODIFY", "REMOVE", "INSERT"]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    v1c = dict(v1, n={"N": "1.5"})
    new = {"KEYS_ONLY": False, "NEW_IMAGE": True, "OLD_IMAGE": False,
           "NEW_AND_OLD_IMAGES": True}[view]
    old = view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")
    want_new = [v1c, v2, None, dict(key, v={"S": "three"})]
    want_old = [None, v1c, v2, None]
    for r, wn, wo in zip(recs, want_new, want_old):
        assert r["eventVersion"] == "1.1"
        assert r["eventSource"] == "aws:dynamodb"
        assert r["awsRegion"] == "us-east-1"
        assert r["eventID"]
        d = r["dynamodb"]
        assert d["Keys"] == key
        assert d["StreamViewType"] == view
        assert abs(d["ApproximateCreationDateTime"].timestamp() - t0) < 60
        assert d["SizeBytes"] >= item_size(key)
        assert d.get("NewImage") == (wn if new else None)
        assert d.get("OldImage") == (wo if old else None)


def test_update_table_streams(server, ddb):
    st = server.client("dynamodbstreams")
    ddb.create_table(TableName="upd", **HASH)
    t = ddb.describe_table(TableName="upd")["Table"]
    assert "StreamSpecification" not in t and "LatestStreamArn" not in t
    ddb.put_item(TableName="upd", Item={"pk": {"S": "before"}})
    assert raises(ddb.update_table, TableName="upd",
                  StreamSpecification={"StreamEnabled": False}) == (
        "ValidationException", "Table has no stream to disable: TableName: upd")

    out = ddb.update_table(TableName="upd", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})["TableDescription"]
    assert out["TableStatus"] == "UPDATING"
    first = out["LatestStreamArn"]
    assert first.endswith("/stream/" + out["LatestStreamLabel"])
    t = ddb.describe_table(TableName="upd")["Table"]
    assert t["TableStatus"] == "ACTIVE"
    assert t["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert t["LatestStreamArn"] == first
    for spec in ({"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
                 {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}):
        assert raises(ddb.update_table, TableName="upd", StreamSpecification=spec) == (
            "ValidationException", "Table already has an enabled stream: TableName: upd")
    ddb.put_item(TableName="upd", Item={"pk": {"S": "in-first"}})

    ddb.update_table(TableName="upd", StreamSpecification={"StreamEnabled": False})
    t = ddb.describe_table(TableName="upd")["Table"]
    assert "StreamSpecification" not in t
    assert t["LatestStreamArn"] == first
    ddb.put_item(TableName="upd", Item={"pk": {"S": "while-off"}})
    assert raises(ddb.update_table, TableName="upd",
                  StreamSpecification={"StreamEnabled": False}) == (
        "ValidationException", "Table has no stream to disable: TableName: upd")

    out = ddb.update_table(TableName="upd", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})["TableDescription"]
    second = out["LatestStreamArn"]
    assert second != first
    ddb.put_item(TableName="upd", Item={"pk": {"S": "in-second"}, "x": {"S": "y"}})

    # The old stream keeps its record and is closed; the new one has only its own.
    old = read_stream(st, first)
    assert [r["dynamodb"]["NewImage"] for r in old] == [{"pk": {"S": "in-first"}}]
    assert st.describe_stream(StreamArn=first)["StreamDescription"]["StreamStatus"] == \
        "DISABLED"
    new = read_stream(st, second)
    assert [r["dynamodb"]["Keys"] for r in new] == [{"pk": {"S": "in-second"}}]
    assert "NewImage" not in new[0]["dynamodb"]
    assert {s["StreamArn"] for s in st.list_streams(TableName="upd")["Streams"]} == \
        {first, second}


def test_update_table_errors_and_billing(server, ddb):
    ddb.create_table(TableName="bill", **HASH)
    assert raises(ddb.update_table, TableName="bill") == (
        "ValidationException", "At least one of ProvisionedThroughput, BillingMode, "
        "UpdateStreamEnabled, GlobalSecondaryIndexUpdates, SSESpecification, ReplicaUpdates, "
        "MultiAccountReplicaReady, ReplicaTransitRoleArn, MultiRegionConsistency, "
        "DeletionProtectionEnabled, OnDemandThroughput, WarmThroughput or TableClass is "
        "required")
    assert raises(ddb.update_table, TableName="nosuch", BillingMode="PAY_PER_REQUEST") == (
        "ResourceNotFoundException", "Requested resource not found: Table: nosuch not found")
    assert raises(ddb.update_table, TableName="bill",
                  StreamSpecification={"StreamEnabled": True}) == (
        "ValidationException", INVALID + "If stream is being enabled then UpdateViewType is "
        "required")
    assert raises(ddb.update_table, TableName="bill", StreamSpecification={
        "StreamEnabled": False, "StreamViewType": "KEYS_ONLY"}) == (
        "ValidationException", INVALID + "If stream is being disabled, then UpdateViewType must "
        "not be specified")
    assert raises(ddb.update_table, TableName="bill", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "BAD"})[1] == (
        "1 validation error detected: Value 'BAD' at 'streamSpecification.streamViewType' "
        "failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, "
        "OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]")
    pt = {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}
    assert raises(ddb.update_table, TableName="bill", ProvisionedThroughput=pt) == (
        "ValidationException", INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can "
        "be specified when BillingMode is PAY_PER_REQUEST")
    assert raises(ddb.update_table, TableName="bill", BillingMode="PROVISIONED") == (
        "ValidationException", INVALID + "ProvisionedThroughput must be specified when "
        "BillingMode is PROVISIONED")
    assert raises(ddb.update_table, TableName="bill", ProvisionedThroughput=pt,
                  StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}) == (
        "ValidationException", INVALID + "You cannot modify stream status while updating "
        "table IOPS")
    out = ddb.update_table(TableName="bill", BillingMode="PROVISIONED",
                           ProvisionedThroughput=pt)["TableDescription"]
    assert out["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    t = ddb.describe_table(TableName="bill")["Table"]
    assert t["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
    assert raises(ddb.update_table, TableName="bill", ProvisionedThroughput=pt) == (
        "ValidationException", "The provisioned throughput for the table will not change. The "
        "requested value equals the current value. Current ReadCapacityUnits provisioned for "
        "the table: 3. Requested ReadCapacityUnits: 3. Current WriteCapacityUnits provisioned "
        "for the table: 4. Requested WriteCapacityUnits: 4. Refer to the Amazon DynamoDB "
        "Developer Guide for current limits and how to request higher limits.")
    ddb.update_table(TableName="bill", ProvisionedThroughput={"ReadCapacityUnits": 1,
                                                              "WriteCapacityUnits": 4})
    t = ddb.describe_table(TableName="bill")["Table"]
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 1
    assert t["ProvisionedThroughput"]["NumberOfDecreasesToday"] == 1
    assert "LastDecreaseDateTime" in t["ProvisionedThroughput"]
    ddb.update_table(TableName="bill", BillingMode="PAY_PER_REQUEST")
    t = ddb.describe_table(TableName="bill")["Table"]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    # Deletion protection is its own update, and then guards DeleteTable. (botocore 1.29 does
    # not know the member yet, so these go as they are.)
    status, body = raw(server, "UpdateTable", {"TableName": "bill",
                                                "DeletionProtectionEnabled": True,
                                                "BillingMode": "PAY_PER_REQUEST"})
    assert (status, body["message"]) == (400, INVALID + "DeletionProtection modification must "
                                         "be the only operation in the request")
    status, body = raw(server, "UpdateTable", {"TableName": "bill",
                                                "DeletionProtectionEnabled": True})
    assert status == 200 and body["TableDescription"]["DeletionProtectionEnabled"] is True
    assert raises(ddb.delete_table, TableName="bill")[0] == "ValidationException"
    assert raw(server, "UpdateTable", {"TableName": "bill",
                                       "DeletionProtectionEnabled": False})[0] == 200
    ddb.delete_table(TableName="bill")
    code, msg = raises(ddb.update_table, TableName="nosuch", SSESpecification={"Enabled": True})
    assert code == "ValidationException" and "SSESpecification is not supported" in msg


# ---- tables' lives ----

def put_many(server, table, n, threads=8, prefix="i"):
    clients = [server.client("dynamodb") for _ in range(threads)]

    def work(w):
        for i in range(w, n, threads):
            clients[w].put_item(TableName=table, Item={"pk": {"S": "%s%05d" % (prefix, i)},
                                                       "v": {"N": str(i)}})
    ts = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def items_in_store(data_dir):
    out = subprocess.run(["mdb_stat", "-n", "-s", "ddb.items", data_dir + "/sluice.mdb"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split("Entries:")[1].split()[0])


@pytest.mark.slow
def test_delete_table_reclaims_items_and_frees_the_name(server, ddb, data_dir):
    ddb.create_table(TableName="doomed", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}, **HASH)
    put_many(server, "doomed", 2300)
    assert ddb.describe_table(TableName="doomed")["Table"]["ItemCount"] == 2300
    assert items_in_store(data_dir) == 2300
    out = ddb.delete_table(TableName="doomed")["TableDescription"]
    assert out["ItemCount"] == 2300
    # The name is free at once, and the new table is empty.
    ddb.create_table(TableName="doomed", **HASH)
    assert "Item" not in ddb.get_item(TableName="doomed", Key={"pk": {"S": "i00001"}})
    assert ddb.describe_table(TableName="doomed")["Table"]["ItemCount"] == 0
    ddb.put_item(TableName="doomed", Item={"pk": {"S": "i00001"}})
    # The old items go in the background, in several small writer ops.
    deadline = time.time() + 30
    while items_in_store(data_dir) != 1 and time.time() < deadline:
        time.sleep(0.05)
    assert items_in_store(data_dir) == 1
    assert ddb.describe_table(TableName="doomed")["Table"]["ItemCount"] == 1


def test_restart_keeps_items(make_server, data_dir):
    s = make_server(data_dir).start()
    ddb = s.client("dynamodb")
    ddb.create_table(TableName="kept", **RANGE_N)
    items = [{"pk": {"S": "p"}, "sk": {"N": str(i)}, "v": {"SS": ["x%d" % i]}} for i in range(20)]
    for it in items:
        ddb.put_item(TableName="kept", Item=it)
    ddb.delete_item(TableName="kept", Key={"pk": {"S": "p"}, "sk": {"N": "3"}})
    assert s.stop()[0] == 0
    s2 = make_server(data_dir).start()
    ddb = s2.client("dynamodb")
    for i, it in enumerate(items):
        got = ddb.get_item(TableName="kept", Key={"pk": {"S": "p"}, "sk": {"N": str(i)}})
        assert got.get("Item") == (None if i == 3 else it)
    assert ddb.describe_table(TableName="kept")["Table"]["ItemCount"] == 19


@pytest.mark.crash
def test_sigkill_under_put_load_loses_no_acknowledged_item(make_server, data_dir):
    s = make_server(data_dir).start()
    s.client("dynamodb").create_table(TableName="load", **HASH)
    acked, attempted = set(), set()
    lock = threading.Lock()
    stop = threading.Event()
    clients = [s.client("dynamodb") for _ in range(8)]

    def writer(w):
        for i in range(2000):
            if stop.is_set():
                return
            key = "w%d-%05d" % (w, i)
            with lock:
                attempted.add(key)
            try:
                clients[w].put_item(TableName="load", Item={"pk": {"S": key},
                                                            "w": {"N": str(w)}})
            except (ClientError, ConnectionClosedError, EndpointConnectionError, HTTPError,
                    OSError):
                return
            with lock:
                acked.add(key)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    deadline = time.time() + 30
    while len(acked) < 400 and time.time() < deadline:
        time.sleep(0.01)
    s.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 400

    s2 = make_server(data_dir).start()
    ddb = s2.client("dynamodb")
    for key in sorted(acked):
        got = ddb.get_item(TableName="load", Key={"pk": {"S": key}})
        assert got.get("Item") == {"pk": {"S": key}, "w": {"N": key[1]}}, key
    count = ddb.describe_table(TableName="load")["Table"]["ItemCount"]
    assert len(acked) <= count <= len(attempted)
    assert items_in_store(data_dir) == count
