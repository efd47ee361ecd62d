"""DynamoDB Query and Scan against a real `sluice serve`, driven with boto3: every key
condition operator, the legacy KeyConditions and filters, projections and Select, pagination
walked to the end in each direction and mode (limits, filters, 1 MB pages of large items),
parallel scans, consumed capacity, and the validation errors in DynamoDB's words. One server
for the module; the read-only tests share one table filled once."""
import botocore.exceptions
import pytest

from conftest import raw

N = 40          # items in partition "p" of the shared table (sk 0..N-1)


@pytest.fixture(scope="module")
def ddb(module_server):
    return module_server.client("dynamodb")


@pytest.fixture(scope="module")
def loose(module_server):
    return module_server.client("dynamodb", validate=False)


def error(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def table(ddb):
    """Table qtab (pk S, sk N): partition "p" with sk 0..N-1, partition "other" with 3 items,
    and partition "s" of a string-keyed table qstr with names for begins_with."""
    ddb.create_table(TableName="qtab", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    for i in range(N):
        ddb.put_item(TableName="qtab", Item={"pk": {"S": "p"}, "sk": {"N": str(i)},
                                          "odd": {"BOOL": i % 2 == 1}, "v": {"N": str(i * 10)},
                                          "tags": {"SS": ["t%d" % (i % 3)]}})
    for i in range(3):
        ddb.put_item(TableName="qtab", Item={"pk": {"S": "other"}, "sk": {"N": str(-i)}})
    ddb.create_table(TableName="qstr", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    for name in ["a", "ab", "abc", "abd", "b", "b\x01x", "ba", "\u00e9t\u00e9", "zz"]:
        ddb.put_item(TableName="qstr", Item={"pk": {"S": "s"}, "sk": {"S": name}})
    return "qtab"


def sks(items):
    return [int(i["sk"]["N"]) for i in items]


def query_all(ddb, **kw):
    """Every page of a Query, checking each page's LastEvaluatedKey resumes right after it."""
    items, start, pages = [], None, 0
    while True:
        if start:
            kw["ExclusiveStartKey"] = start
        r = ddb.query(**kw)
        items += r.get("Items", [])
        pages += 1
        start = r.get("LastEvaluatedKey")
        if not start:
            return items, pages


@pytest.mark.parametrize("cond,values,expect", [
    ("pk = :p", {}, list(range(N))),
    ("pk = :p AND sk = :a", {":a": "7"}, [7]),
    ("pk = :p AND sk < :a", {":a": "5"}, [0, 1, 2, 3, 4]),
    ("pk = :p AND sk <= :a", {":a": "5"}, [0, 1, 2, 3, 4, 5]),
    ("pk = :p AND sk > :a", {":a": "35"}, [36, 37, 38, 39]),
    ("pk = :p AND sk >= :a", {":a": "35"}, [35, 36, 37, 38, 39]),
    ("pk = :p AND sk BETWEEN :a AND :b", {":a": "10", ":b": "13"}, [10, 11, 12, 13]),
    (":a < sk AND :p = pk", {":a": "37"}, [38, 39]),
    ("(pk = :p) AND (sk <= :a)", {":a": "-1"}, []),
    ("pk = :p AND sk > :a", {":a": "1.5"}, list(range(2, N))),
])
def test_key_condition_operators(ddb, table, cond, values, expect):
    eav = {":p": {"S": "p"}}
    eav.update({k: {"N": v} for k, v in values.items()})
    items, _ = query_all(ddb, TableName=table, KeyConditionExpression=cond,
                         ExpressionAttributeValues=eav)
    assert sks(items) == expect


def test_begins_with_and_string_order(ddb, table):
    def run(prefix):
        r = ddb.query(TableName="qstr", KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                      ExpressionAttributeValues={":p": {"S": "s"}, ":s": {"S": prefix}})
        return [i["sk"]["S"] for i in r["Items"]]
    assert run("ab") == ["ab", "abc", "abd"]
    assert run("b") == ["b", "b\x01x", "ba"]
    assert run("b\x01") == ["b\x01x"]
    assert run("\u00e9") == ["\u00e9t\u00e9"]
    assert run("q") == []
    r = ddb.query(TableName="qstr", KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "s"}}, ScanIndexForward=False)
    # Bytewise order of UTF-8: "\u00e9" (0xC3 0xA9) after "z".
    assert [i["sk"]["S"] for i in r["Items"]] == ["\u00e9t\u00e9", "zz", "ba", "b\x01x", "b",
                                                  "abd", "abc", "ab", "a"]


def test_legacy_key_conditions_and_query_filter(ddb, table):
    r = ddb.query(TableName=table, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
        "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "3"}, {"N": "9"}]}},
        QueryFilter={"odd": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": True}]}})
    assert sks(r["Items"]) == [3, 5, 7, 9]
    assert (r["Count"], r["ScannedCount"]) == (4, 7)
    r = ddb.query(TableName=table, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]}},
        QueryFilter={"v": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "20"}]},
                     "odd": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": True}]}},
        ConditionalOperator="OR", AttributesToGet=["sk"])
    assert r["Items"][:3] == [{"sk": {"N": "0"}}, {"sk": {"N": "1"}}, {"sk": {"N": "3"}}]
    assert r["Count"] == 1 + N // 2


@pytest.mark.parametrize("backward", [False, True])
@pytest.mark.parametrize("limit", [1, 7, 40, 100])
def test_pagination_walks_to_the_end(ddb, table, backward, limit):
    items, pages = query_all(ddb, TableName=table, KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "p"}}, Limit=limit,
                             ScanIndexForward=not backward)
    expect = list(range(N))
    assert sks(items) == (expect[::-1] if backward else expect)
    # A page that ends on its Limit carries a LastEvaluatedKey, even when nothing follows.
    assert pages == N // limit + 1


def test_pagination_with_filter_counts_before_the_filter(ddb, table):
    counts, scanned, start, got = [], 0, None, []
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        r = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND sk >= :a",
                      FilterExpression="odd = :t AND contains(tags, :tag)", Limit=6,
                      ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "4"},
                                                 ":t": {"BOOL": True}, ":tag": {"S": "t0"}},
                      **kw)
        got += sks(r["Items"])
        counts.append(r["Count"])
        scanned += r["ScannedCount"]
        assert r["ScannedCount"] <= 6
        start = r.get("LastEvaluatedKey")
        if not start:
            break
    assert got == [i for i in range(4, N) if i % 2 == 1 and i % 3 == 0]
    assert scanned == N - 4
    assert 0 in counts      # a page may hold no item at all and still go on


def test_projection_and_select(ddb, table):
    kw = dict(TableName=table, KeyConditionExpression="pk = :p AND sk = :s",
              ExpressionAttributeValues={":p": {"S": "p"}, ":s": {"N": "2"}})
    assert ddb.query(ProjectionExpression="v, #o", ExpressionAttributeNames={"#o": "odd"},
                     **kw)["Items"] == [{"v": {"N": "20"}, "odd": {"BOOL": False}}]
    assert ddb.query(ProjectionExpression="nothere", **kw)["Items"] == [{}]
    r = ddb.query(Select="COUNT", **kw)
    assert "Items" not in r and r["Count"] == 1
    assert ddb.query(Select="ALL_ATTRIBUTES", **kw)["Items"][0]["tags"] == {"SS": ["t2"]}
    assert error(ddb.query, Select="ALL_PROJECTED_ATTRIBUTES", **kw)[1] == (
        "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    assert error(ddb.query, Select="COUNT", ProjectionExpression="v", **kw)[1] == (
        "Cannot specify the ProjectionExpression when choosing to get only the Count")
    assert error(ddb.query, Select="SPECIFIC_ATTRIBUTES", **kw)[1] == (
        "1 validation error detected: Must specify the AttributesToGet or ProjectionExpression "
        "when choosing to get SPECIFIC_ATTRIBUTES")


def test_consumed_capacity(ddb, table):
    base = dict(TableName=table, KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "other"}})
    r = ddb.query(ReturnConsumedCapacity="TOTAL", **base)
    assert r["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 0.5}
    r = ddb.query(ReturnConsumedCapacity="INDEXES", ConsistentRead=True, **base)
    assert r["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 1.0,
                                     "Table": {"CapacityUnits": 1.0}}


def test_one_megabyte_pages_of_large_items(ddb):
    ddb.create_table(TableName="qbig", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    blob = "x" * (300 * 1024)
    for i in range(8):
        ddb.put_item(TableName="qbig", Item={"pk": {"S": "p"}, "sk": {"N": str(i)},
                                             "blob": {"S": blob}, "small": {"N": str(i)}})
    pages = []
    start = None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        r = ddb.query(TableName="qbig", KeyConditionExpression="pk = :p",
                      FilterExpression="small >= :z", ProjectionExpression="sk",
                      ExpressionAttributeValues={":p": {"S": "p"}, ":z": {"N": "0"}},
                      ReturnConsumedCapacity="TOTAL", **kw)
        pages.append((sks(r["Items"]), r["ScannedCount"], r["ConsumedCapacity"]["CapacityUnits"]))
        start = r.get("LastEvaluatedKey")
        if not start:
            break
    # Four items of 300 KB reach 1 MB: the page ends after the fourth, before the filter
    # and the projection shrink what is answered.
    assert pages[0][0] == [0, 1, 2, 3] and pages[0][1] == 4
    assert pages[1][0] == [4, 5, 6, 7]
    assert pages[0][2] == (4 * (300 * 1024 + 20) + 4095) // 4096 * 0.5
    assert sum(len(p[0]) for p in pages) == 8


def test_scan_and_parallel_segments(ddb):
    ddb.create_table(TableName="qscan", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    keys = ["k%03d" % i for i in range(150)]
    for k in keys:
        ddb.put_item(TableName="qscan", Item={"pk": {"S": k}, "n": {"N": k[1:]}})
    for total in (1, 2, 7, 200):
        seen = []
        for seg in range(total):
            start = None
            while True:
                kw = {"ExclusiveStartKey": start} if start else {}
                r = ddb.scan(TableName="qscan", Segment=seg, TotalSegments=total, Limit=11, **kw)
                seen += [i["pk"]["S"] for i in r["Items"]]
                start = r.get("LastEvaluatedKey")
                if not start:
                    break
        assert sorted(seen) == keys, total
    r = ddb.scan(TableName="qscan", FilterExpression="n < :n",
                 ExpressionAttributeValues={":n": {"N": "10"}})
    assert r["Count"] == 10 and r["ScannedCount"] == 150


QUERY_ERRORS = [
    (dict(KeyConditionExpression="sk = :a", ExpressionAttributeValues={":a": {"N": "1"}}),
     "Query condition missed key schema element: pk"),
    (dict(KeyConditionExpression="pk = :p AND nope = :a",
          ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "1"}}),
     "Query condition missed key schema element: sk"),
    (dict(KeyConditionExpression="pk > :p", ExpressionAttributeValues={":p": {"S": "p"}}),
     "Query key condition not supported"),
    (dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"N": "1"}}),
     "One or more parameter values were invalid: Condition parameter type does not match "
     "schema type"),
    (dict(KeyConditionExpression="pk = :p OR sk = :a",
          ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "1"}}),
     "Invalid operator used in KeyConditionExpression: OR"),
    (dict(KeyConditionExpression="pk = :p AND sk <> :a",
          ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "1"}}),
     "Invalid operator used in KeyConditionExpression: <>"),
    (dict(KeyConditionExpression="pk = :p AND attribute_exists(sk)",
          ExpressionAttributeValues={":p": {"S": "p"}}),
     "Invalid operator used in KeyConditionExpression: attribute_exists"),
    (dict(KeyConditionExpression="pk = :p AND pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}),
     "KeyConditionExpressions must only contain one condition per key"),
    (dict(KeyConditionExpression="pk = :p AND sk.x = :p", ExpressionAttributeValues={":p": {"S": "p"}}),
     "KeyConditionExpressions cannot have conditions on nested attributes"),
    (dict(KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
          ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "1"}}),
     "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
     "operator or function: begins_with, operand type: N"),
    (dict(KeyConditionExpression="", ExpressionAttributeValues={":p": {"S": "p"}}),
     "Invalid KeyConditionExpression: The expression can not be empty;"),
    (dict(),
     "Either the KeyConditions or KeyConditionExpression parameter must be specified in the "
     "request."),
    (dict(KeyConditionExpression="pk = :p", QueryFilter={
        "v": {"ComparisonOperator": "NULL"}}, ExpressionAttributeValues={":p": {"S": "p"}}),
     "Can not use both expression and non-expression parameters in the same request: "
     "Non-expression parameters: {QueryFilter} Expression parameters: {KeyConditionExpression}"),
    (dict(KeyConditionExpression="pk = :p", FilterExpression="sk > :p",
          ExpressionAttributeValues={":p": {"S": "p"}}),
     "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"),
    (dict(KeyConditionExpression="pk = :p", ExclusiveStartKey={"pk": {"S": "p"}},
          ExpressionAttributeValues={":p": {"S": "p"}}),
     "The provided starting key is invalid: The provided key element does not match the schema"),
    (dict(KeyConditionExpression="pk = :p", ExclusiveStartKey={"pk": {"S": "x"}, "sk": {"N": "1"}},
          ExpressionAttributeValues={":p": {"S": "p"}}),
     "The provided starting key is outside query boundaries based on provided conditions"),
    (dict(KeyConditionExpression="pk = :p AND sk > :a",
          ExclusiveStartKey={"pk": {"S": "p"}, "sk": {"N": "1"}},
          ExpressionAttributeValues={":p": {"S": "p"}, ":a": {"N": "5"}}),
     "The provided starting key does not match the range key predicate"),
    (dict(KeyConditionExpression="pk = :p", Limit=0, ExpressionAttributeValues={":p": {"S": "p"}}),
     "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member "
     "must have value greater than or equal to 1"),
    (dict(KeyConditions={"pk": {"ComparisonOperator": "NE", "AttributeValueList": [{"S": "p"}]}}),
     "Attempted conditional constraint is not an indexable operation"),
]


@pytest.mark.parametrize("kw,message", QUERY_ERRORS)
def test_query_errors(loose, table, kw, message):
    assert error(loose.query, TableName=table, **kw) == ("ValidationException", message)


def test_missing_table_and_scan_errors(loose, table, module_server):
    assert error(loose.query, TableName="nope", KeyConditionExpression="a = :a",
                 ExpressionAttributeValues={":a": {"S": "x"}}) == (
        "ResourceNotFoundException", "Requested resource not found")
    assert error(loose.scan, TableName=table, Segment=1)[1] == (
        "The TotalSegments parameter is required but was not present in the request when "
        "Segment parameter is present")
    assert error(loose.scan, TableName=table, TotalSegments=2)[1] == (
        "The Segment parameter is required but was not present in the request when parameter "
        "TotalSegments is present")
    assert error(loose.scan, TableName=table, Segment=3, TotalSegments=2)[1] == (
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 3 is not less than TotalSegments: 2")
    assert error(loose.scan, TableName=table, Segment=0, TotalSegments=1000001)[1] == (
        "1 validation error detected: Value '1000001' at 'totalSegments' failed to satisfy "
        "constraint: Member must have value less than or equal to 1000000")
    status, body = raw(module_server, "Scan", {"TableName": table, "Limit": "x"})
    assert status == 400 and body["__type"].endswith("SerializationException")
