"""DynamoDB secondary indexes against a real `sluice serve`, driven with boto3: index
definitions on CreateTable and their validation, entries maintained by every write (sparse,
moved, removed, refused for a wrong type), projections, queries and scans through IndexName,
item collection metrics, DescribeTable's index figures. One server for the module; each test
uses its own tables."""
import botocore.exceptions
import pytest

from conftest import raw


@pytest.fixture(scope="module")
def ddb(module_server):
    return module_server.client("dynamodb")


@pytest.fixture(scope="module")
def loose(module_server):
    """A client that skips botocore's own checks, so the server's validation answers."""
    return module_server.client("dynamodb", validate=False)


def error(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]


def key(name, kind="HASH"):
    return {"AttributeName": name, "KeyType": kind}


def attr(name, t="S"):
    return {"AttributeName": name, "AttributeType": t}


def gsi(name, hash_, range_=None, proj="ALL", nonkey=None):
    ks = [key(hash_)] + ([key(range_, "RANGE")] if range_ else [])
    p = {"ProjectionType": proj}
    if nonkey:
        p["NonKeyAttributes"] = nonkey
    return {"IndexName": name, "KeySchema": ks, "Projection": p}


def make_table(ddb, name, gsis=(), lsis=(), defs=(("pk", "S"), ("sk", "N")), range_=True):
    kw = {}
    if gsis:
        kw["GlobalSecondaryIndexes"] = list(gsis)
    if lsis:
        kw["LocalSecondaryIndexes"] = list(lsis)
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[key("pk")] + ([key("sk", "RANGE")] if range_ else []),
                     AttributeDefinitions=[attr(n, t) for n, t in defs], **kw)


def index_of(ddb, table, name):
    t = ddb.describe_table(TableName=table)["Table"]
    for ix in t.get("GlobalSecondaryIndexes", []) + t.get("LocalSecondaryIndexes", []):
        if ix["IndexName"] == name:
            return ix
    raise AssertionError("no index %s" % name)


def query_all(ddb, **kw):
    items, start = [], None
    while True:
        if start:
            kw["ExclusiveStartKey"] = start
        r = ddb.query(**kw)
        items += r.get("Items", [])
        start = r.get("LastEvaluatedKey")
        if not start:
            return items


def test_describe_shows_indexes(ddb):
    make_table(ddb, "ix_describe",
               gsis=[dict(gsi("by_g", "g", "sk", "INCLUDE", ["x"]))],
               lsis=[gsi("by_l", "pk", "l", "KEYS_ONLY")],
               defs=(("pk", "S"), ("sk", "N"), ("g", "S"), ("l", "S")))
    t = ddb.describe_table(TableName="ix_describe")["Table"]
    g = t["GlobalSecondaryIndexes"][0]
    assert g["IndexName"] == "by_g"
    assert g["IndexStatus"] == "ACTIVE"
    assert g["KeySchema"] == [key("g"), key("sk", "RANGE")]
    assert g["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]}
    assert g["IndexArn"] == t["TableArn"] + "/index/by_g"
    assert g["ItemCount"] == 0 and g["IndexSizeBytes"] == 0
    assert g["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    l = t["LocalSecondaryIndexes"][0]
    assert l["IndexArn"] == t["TableArn"] + "/index/by_l"
    assert "IndexStatus" not in l
    assert "SluiceIndexId" not in str(t)

    ddb.put_item(TableName="ix_describe", Item={"pk": {"S": "a"}, "sk": {"N": "1"},
                                                 "g": {"S": "G"}, "x": {"N": "5"},
                                                 "y": {"S": "not projected"}})
    ddb.put_item(TableName="ix_describe", Item={"pk": {"S": "a"}, "sk": {"N": "2"},
                                                 "l": {"S": "L"}})
    g = index_of(ddb, "ix_describe", "by_g")
    l = index_of(ddb, "ix_describe", "by_l")
    assert g["ItemCount"] == 1 and l["ItemCount"] == 1
    # Sizes: the projected attributes plus 100 bytes an entry, as DynamoDB counts them.
    assert g["IndexSizeBytes"] == len("pk") + 1 + len("sk") + 2 + len("g") + 1 + len("x") + 2 + 100
    assert l["IndexSizeBytes"] == len("pk") + 1 + len("sk") + 2 + len("l") + 1 + 100


def test_sparse_entries_follow_every_write(ddb):
    make_table(ddb, "ix_sparse", gsis=[gsi("by_g", "g")], defs=(("pk", "S"), ("sk", "N"),
                                                                  ("g", "S")))
    t = "ix_sparse"
    ddb.put_item(TableName=t, Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    ddb.put_item(TableName=t, Item={"pk": {"S": "a"}, "sk": {"N": "2"}, "g": {"S": "one"}})
    ddb.put_item(TableName=t, Item={"pk": {"S": "b"}, "sk": {"N": "1"}, "g": {"S": "one"}})

    def in_index(value):
        r = ddb.query(TableName=t, IndexName="by_g", KeyConditionExpression="g = :g",
                      ExpressionAttributeValues={":g": {"S": value}})
        return sorted((i["pk"]["S"], i["sk"]["N"]) for i in r["Items"])

    assert in_index("one") == [("a", "2"), ("b", "1")]
    assert index_of(ddb, t, "by_g")["ItemCount"] == 2
    # An update that gives an item the index key adds it; one that changes it moves it.
    ddb.update_item(TableName=t, Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                    UpdateExpression="SET g = :g", ExpressionAttributeValues={":g": {"S": "two"}})
    ddb.update_item(TableName=t, Key={"pk": {"S": "b"}, "sk": {"N": "1"}},
                    UpdateExpression="SET g = :g", ExpressionAttributeValues={":g": {"S": "two"}})
    assert in_index("one") == [("a", "2")]
    assert in_index("two") == [("a", "1"), ("b", "1")]
    # Removing the attribute, or the item, takes it out.
    ddb.update_item(TableName=t, Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                    UpdateExpression="REMOVE g")
    ddb.delete_item(TableName=t, Key={"pk": {"S": "a"}, "sk": {"N": "2"}})
    assert in_index("one") == []
    assert in_index("two") == [("b", "1")]
    assert index_of(ddb, t, "by_g")["ItemCount"] == 1
    # A put that replaces the item without the attribute removes the entry too.
    ddb.put_item(TableName=t, Item={"pk": {"S": "b"}, "sk": {"N": "1"}, "other": {"S": "x"}})
    assert in_index("two") == []
    assert index_of(ddb, t, "by_g")["ItemCount"] == 0
    assert index_of(ddb, t, "by_g")["IndexSizeBytes"] == 0


def test_index_key_type_and_empty_values_refused(ddb):
    make_table(ddb, "ix_types", gsis=[gsi("by_n", "n")], defs=(("pk", "S"), ("sk", "N"),
                                                                 ("n", "N")))
    t = "ix_types"
    assert error(ddb.put_item, TableName=t,
                 Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "n": {"S": "text"}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for Index Key n Expected: N "
        "Actual: S IndexName: by_n")
    ddb.put_item(TableName=t, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "n": {"N": "7"}})
    assert error(ddb.update_item, TableName=t, Key={"pk": {"S": "a"}, "sk": {"N": "1"}},
                 UpdateExpression="SET n = :v",
                 ExpressionAttributeValues={":v": {"BOOL": True}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for Index Key n Expected: N "
        "Actual: BOOL IndexName: by_n")
    # Nothing changed: the item and its entry are as they were.
    assert ddb.get_item(TableName=t, Key={"pk": {"S": "a"}, "sk": {"N": "1"}})["Item"]["n"] == {
        "N": "7"}
    assert index_of(ddb, t, "by_n")["ItemCount"] == 1

    make_table(ddb, "ix_empty", gsis=[gsi("by_s", "s")], defs=(("pk", "S"), ("sk", "N"),
                                                                 ("s", "S")))
    assert error(ddb.put_item, TableName="ix_empty",
                 Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"S": ""}}) == (
        "ValidationException",
        "One or more parameter values are not valid. A value specified for a secondary index "
        "key is not supported. The AttributeValue for a key attribute cannot contain an empty "
        "string value. IndexName: by_s, IndexKey: s")


def test_projections(ddb):
    make_table(ddb, "ix_proj", gsis=[gsi("keys", "g", proj="KEYS_ONLY"),
                                     gsi("incl", "g", proj="INCLUDE", nonkey=["a"]),
                                     gsi("all", "g")],
               defs=(("pk", "S"), ("sk", "N"), ("g", "S")))
    item = {"pk": {"S": "p"}, "sk": {"N": "1"}, "g": {"S": "G"}, "a": {"S": "A"},
            "b": {"L": [{"N": "1"}]}}
    ddb.put_item(TableName="ix_proj", Item=item)

    def first(index, **kw):
        return ddb.query(TableName="ix_proj", IndexName=index, KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "G"}}, **kw)["Items"][0]

    assert first("keys") == {k: item[k] for k in ("pk", "sk", "g")}
    assert first("incl") == {k: item[k] for k in ("pk", "sk", "g", "a")}
    assert first("all") == item
    assert first("all", Select="ALL_ATTRIBUTES") == item
    assert first("incl", ProjectionExpression="a, sk") == {"a": item["a"], "sk": item["sk"]}
    assert error(ddb.query, TableName="ix_proj", IndexName="keys", Select="ALL_ATTRIBUTES",
                 KeyConditionExpression="g = :g",
                 ExpressionAttributeValues={":g": {"S": "G"}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported "
        "for global secondary index keys because its projection type is not ALL")
    assert error(ddb.query, TableName="ix_proj", IndexName="incl", ProjectionExpression="b",
                 KeyConditionExpression="g = :g",
                 ExpressionAttributeValues={":g": {"S": "G"}})[1] == (
        "One or more parameter values were invalid: Global secondary index incl does not "
        "project [b]")
    assert error(ddb.query, TableName="ix_proj", IndexName="keys", ConsistentRead=True,
                 KeyConditionExpression="g = :g",
                 ExpressionAttributeValues={":g": {"S": "G"}})[1] == (
        "Consistent reads are not supported on global secondary indexes")
    assert error(ddb.query, TableName="ix_proj", IndexName="nope",
                 KeyConditionExpression="g = :g",
                 ExpressionAttributeValues={":g": {"S": "G"}})[1] == (
        "The table does not have the specified index: nope")


def test_local_index_fetches_from_table(ddb):
    make_table(ddb, "ix_lsi", lsis=[gsi("by_l", "pk", "l", "KEYS_ONLY")],
               defs=(("pk", "S"), ("sk", "N"), ("l", "S")))
    for i in range(5):
        ddb.put_item(TableName="ix_lsi", Item={"pk": {"S": "p"}, "sk": {"N": str(i)},
                                               "l": {"S": "l%d" % (4 - i)},
                                               "extra": {"N": str(i * i)}})
    r = ddb.query(TableName="ix_lsi", IndexName="by_l", KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "p"}})
    assert [i["l"]["S"] for i in r["Items"]] == ["l0", "l1", "l2", "l3", "l4"]
    assert all("extra" not in i for i in r["Items"])
    r = ddb.query(TableName="ix_lsi", IndexName="by_l", KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "p"}}, Select="ALL_ATTRIBUTES",
                  ConsistentRead=True, ReturnConsumedCapacity="INDEXES")
    assert [i["extra"]["N"] for i in r["Items"]] == ["16", "9", "4", "1", "0"]
    cc = r["ConsumedCapacity"]
    assert cc["LocalSecondaryIndexes"]["by_l"]["CapacityUnits"] == 1.0
    assert cc["Table"]["CapacityUnits"] == 1.0
    assert cc["CapacityUnits"] == 2.0
    # A filter on an attribute the index does not hold reads it from the table.
    r = ddb.query(TableName="ix_lsi", IndexName="by_l", KeyConditionExpression="pk = :p",
                  FilterExpression="extra > :e",
                  ExpressionAttributeValues={":p": {"S": "p"}, ":e": {"N": "3"}})
    assert r["Count"] == 3 and r["ScannedCount"] == 5


def test_item_collection_metrics(ddb):
    make_table(ddb, "ix_coll", lsis=[gsi("by_l", "pk", "l")],
               defs=(("pk", "S"), ("sk", "N"), ("l", "S")))
    r = ddb.put_item(TableName="ix_coll", Item={"pk": {"S": "p"}, "sk": {"N": "1"},
                                                "l": {"S": "x"}},
                     ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"] == {"ItemCollectionKey": {"pk": {"S": "p"}},
                                          "SizeEstimateRangeGB": [0.0, 1.0]}
    r = ddb.delete_item(TableName="ix_coll", Key={"pk": {"S": "p"}, "sk": {"N": "1"}},
                        ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": {"S": "p"}}
    # Tables without local indexes answer no metrics.
    make_table(ddb, "ix_nocoll")
    r = ddb.put_item(TableName="ix_nocoll", Item={"pk": {"S": "p"}, "sk": {"N": "1"}},
                     ReturnItemCollectionMetrics="SIZE")
    assert "ItemCollectionMetrics" not in r


def test_delete_table_drops_entries(ddb):
    make_table(ddb, "ix_gone", gsis=[gsi("by_g", "g")], defs=(("pk", "S"), ("sk", "N"),
                                                                ("g", "S")))
    for i in range(20):
        ddb.put_item(TableName="ix_gone", Item={"pk": {"S": "p"}, "sk": {"N": str(i)},
                                                "g": {"S": "G"}})
    ddb.delete_table(TableName="ix_gone")
    make_table(ddb, "ix_gone", gsis=[gsi("by_g", "g")], defs=(("pk", "S"), ("sk", "N"),
                                                                ("g", "S")))
    r = ddb.query(TableName="ix_gone", IndexName="by_g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "G"}})
    assert r["Items"] == [] and index_of(ddb, "ix_gone", "by_g")["ItemCount"] == 0


CREATE_ERRORS = [
    (dict(GlobalSecondaryIndexes=[]),
     "One or more parameter values were invalid: List of GlobalSecondaryIndexes is empty"),
    (dict(LocalSecondaryIndexes=[]),
     "One or more parameter values were invalid: List of LocalSecondaryIndexes is empty"),
    (dict(GlobalSecondaryIndexes=[gsi("gix", "nodef")]),
     "One or more parameter values were invalid: Some index key attributes are not defined in "
     "AttributeDefinitions. Keys: [nodef], AttributeDefinitions: [pk, sk, g]"),
    (dict(LocalSecondaryIndexes=[gsi("lix", "g", "sk")]),
     "One or more parameter values were invalid: Index KeySchema does not have the same "
     "leading hash key as table KeySchema for index: lix. index hash key: g, table hash key: pk"),
    (dict(LocalSecondaryIndexes=[gsi("lix", "pk")]),
     "One or more parameter values were invalid: Index KeySchema does not have a range key "
     "for index: lix"),
    (dict(GlobalSecondaryIndexes=[gsi("gix", "g", proj="KEYS_ONLY", nonkey=["a"])]),
     "One or more parameter values were invalid: ProjectionType is KEYS_ONLY, but "
     "NonKeyAttributes is specified"),
    (dict(GlobalSecondaryIndexes=[gsi("gix", "g"), gsi("gix", "sk")]),
     "One or more parameter values were invalid: Duplicate index name: gix"),
    (dict(GlobalSecondaryIndexes=[gsi("g%02d" % i, "g") for i in range(21)]),
     "One or more parameter values were invalid: GlobalSecondaryIndex count exceeds the "
     "per-table limit of 20"),
    (dict(LocalSecondaryIndexes=[gsi("li%d" % i, "pk", "g") for i in range(6)]),
     "One or more parameter values were invalid: LocalSecondaryIndex count exceeds the "
     "per-table limit of 5"),
    (dict(GlobalSecondaryIndexes=[gsi("gi%d" % i, "g", proj="INCLUDE",
                                      nonkey=["a%d" % j for j in range(30)]) for i in range(4)]),
     "One or more parameter values were invalid: Number of projected attributes in all "
     "indexes exceeds limit of 100"),
    (dict(GlobalSecondaryIndexes=[dict(gsi("gix", "g"),
                                       ProvisionedThroughput={"ReadCapacityUnits": 1,
                                                              "WriteCapacityUnits": 1})]),
     "One or more parameter values were invalid: ProvisionedThroughput should not be "
     "specified for index: gix when BillingMode is PAY_PER_REQUEST"),
    (dict(GlobalSecondaryIndexes=[gsi("gix", "sk")]),
     "One or more parameter values were invalid: Some AttributeDefinitions are not used. "
     "AttributeDefinitions: [pk, sk, g], keys used: [pk, sk]"),
    (dict(GlobalSecondaryIndexes=[gsi("a;", "g")]),
     "2 validation errors detected: Value 'a;' at 'globalSecondaryIndexes.1.member.indexName' "
     "failed to satisfy constraint: Member must satisfy regular expression pattern: "
     "[a-zA-Z0-9_.-]+; Value 'a;' at 'globalSecondaryIndexes.1.member.indexName' failed to "
     "satisfy constraint: Member must have length greater than or equal to 3"),
]


@pytest.mark.parametrize("extra,message", CREATE_ERRORS)
def test_create_table_index_errors(loose, extra, message):
    code, msg = error(loose.create_table, TableName="ix_bad", BillingMode="PAY_PER_REQUEST",
                      KeySchema=[key("pk"), key("sk", "RANGE")],
                      AttributeDefinitions=[attr("pk"), attr("sk", "N"), attr("g")], **extra)
    assert (code, msg) == ("ValidationException", message)


def test_create_table_lsi_needs_range_and_provisioned_gsi_throughput(loose):
    assert error(loose.create_table, TableName="ix_bad", BillingMode="PAY_PER_REQUEST",
                 KeySchema=[key("pk")], AttributeDefinitions=[attr("pk"), attr("g")],
                 LocalSecondaryIndexes=[gsi("lix", "pk", "g")])[1] == (
        "One or more parameter values were invalid: Table KeySchema does not have a range key, "
        "which is required when specifying a LocalSecondaryIndex")
    assert error(loose.create_table, TableName="ix_bad",
                 ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                 KeySchema=[key("pk")], AttributeDefinitions=[attr("pk"), attr("g")],
                 GlobalSecondaryIndexes=[gsi("gix", "g")])[1] == (
        "One or more parameter values were invalid: ProvisionedThroughput is not specified for "
        "index: gix")
    loose.create_table(TableName="ix_prov",
                       ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                       KeySchema=[key("pk")], AttributeDefinitions=[attr("pk"), attr("g")],
                       GlobalSecondaryIndexes=[dict(gsi("gix", "g"), ProvisionedThroughput={
                           "ReadCapacityUnits": 3, "WriteCapacityUnits": 4})])
    pt = index_of(loose, "ix_prov", "gix")["ProvisionedThroughput"]
    assert (pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]) == (3, 4)


def test_scan_index_and_pagination_keys(ddb, module_server):
    make_table(ddb, "ix_scan", gsis=[gsi("by_g", "g", "n")],
               defs=(("pk", "S"), ("sk", "N"), ("g", "S"), ("n", "N")))
    for i in range(30):
        ddb.put_item(TableName="ix_scan", Item={"pk": {"S": "p%d" % (i % 3)}, "sk": {"N": str(i)},
                                                "g": {"S": "g%d" % (i % 2)}, "n": {"N": str(i % 5)}})
    seen, start = [], None
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        r = ddb.scan(TableName="ix_scan", IndexName="by_g", Limit=7, **kw)
        seen += [(i["pk"]["S"], i["sk"]["N"]) for i in r["Items"]]
        start = r.get("LastEvaluatedKey")
        if not start:
            break
        # An index's pagination key carries the table's key and the index's.
        assert set(start) == {"pk", "sk", "g", "n"}
    assert sorted(seen) == sorted(("p%d" % (i % 3), str(i)) for i in range(30))
    items = query_all(ddb, TableName="ix_scan", IndexName="by_g",
                      KeyConditionExpression="g = :g AND n >= :n", Limit=4,
                      ExpressionAttributeValues={":g": {"S": "g1"}, ":n": {"N": "3"}})
    got = [(int(i["n"]["N"]), i["pk"]["S"], int(i["sk"]["N"])) for i in items]
    assert [g[0] for g in got] == sorted(g[0] for g in got)
    assert len(got) == len([i for i in range(30) if i % 2 == 1 and i % 5 >= 3])
    status, body = raw(module_server, "Query", {
        "TableName": "ix_scan", "IndexName": "by_g", "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "g1"}},
        "ExclusiveStartKey": {"pk": {"S": "p0"}, "sk": {"N": "1"}}})
    assert status == 400
    assert body["message"] == ("The provided starting key is invalid: The provided key element "
                               "does not match the schema")
