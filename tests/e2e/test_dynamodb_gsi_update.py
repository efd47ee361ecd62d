"""UpdateTable's GlobalSecondaryIndexUpdates through boto3: an index created on a table with
items is backfilled in the background (CREATING, Backfilling, then ACTIVE) while writes go on;
a restart resumes the backfill; indexes are deleted (DELETING, then gone) and their
throughput updated; every refusal in DynamoDB's words."""
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import raw


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


ONE_ONLINE = ("LimitExceededException",
              "Subscriber limit exceeded: Only 1 online index can be created or deleted "
              "simultaneously per table")
INVALID = "One or more parameter values were invalid: "


def make_table(ddb, name, provisioned=False, **kw):
    args = ({"ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}
            if provisioned else {"BillingMode": "PAY_PER_REQUEST"})
    args["AttributeDefinitions"] = [{"AttributeName": "pk", "AttributeType": "S"}]
    args.update(kw)
    return ddb.create_table(TableName=name,
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], **args)


def create(name="by-g", hash_="g", range_=None, proj="ALL", pt=None, **kw):
    ks = [{"AttributeName": hash_, "KeyType": "HASH"}]
    if range_:
        ks.append({"AttributeName": range_, "KeyType": "RANGE"})
    c = {"IndexName": name, "KeySchema": ks, "Projection": {"ProjectionType": proj}}
    if pt:
        c["ProvisionedThroughput"] = {"ReadCapacityUnits": pt[0], "WriteCapacityUnits": pt[1]}
    c.update(kw)
    return {"Create": c}


def defs(*pairs):
    return [{"AttributeName": n, "AttributeType": t} for n, t in pairs]


def wait_active(ddb, table, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = ddb.describe_table(TableName=table)["Table"]
        if t["TableStatus"] == "ACTIVE" and all(
                g["IndexStatus"] == "ACTIVE" for g in t.get("GlobalSecondaryIndexes", [])):
            return t
        time.sleep(0.05)
    raise AssertionError("table %s stayed %s" % (table, t))


def fill(ddb, table, n, threads=4):
    def work(lo):
        c = ddb
        for i in range(lo, n, threads):
            item = {"pk": {"S": "k%05d" % i}, "n": {"N": str(i)}, "pad": {"S": "x" * 200}}
            if i % 10 != 0:
                item["g"] = {"S": "g%d" % (i % 7)}
            elif i % 20 == 0:
                item["g"] = {"N": str(i)}     # the index's key of another type: left out
            c.put_item(TableName=table, Item=item)
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def index_items(ddb, table, index, **kw):
    out, start = [], None
    while True:
        args = dict(TableName=table, IndexName=index, **kw)
        if start:
            args["ExclusiveStartKey"] = start
        page = ddb.scan(**args)
        out += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return out


def test_create_backfills_while_writes_go_on(server):
    ddb = server.client("dynamodb")
    make_table(ddb, "gsi-fill")
    fill(ddb, "gsi-fill", 2500)
    out = ddb.update_table(TableName="gsi-fill",
                           AttributeDefinitions=defs(("g", "S"), ("n", "N")),
                           GlobalSecondaryIndexUpdates=[create(range_="n")])
    td = out["TableDescription"]
    assert td["TableStatus"] == "UPDATING"
    assert td["AttributeDefinitions"] == defs(("pk", "S"), ("g", "S"), ("n", "N"))
    ix = td["GlobalSecondaryIndexes"][0]
    assert ix["IndexName"] == "by-g"
    assert ix["IndexStatus"] == "CREATING"
    assert ix["Backfilling"] is True
    assert ix["IndexArn"] == td["TableArn"] + "/index/by-g"
    assert ix["ProvisionedThroughput"] == {"NumberOfDecreasesToday": 0,
                                           "ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
    # Reads of the index wait for the backfill, as on DynamoDB.
    # (The backfill may end between any two requests: a query that is answered must then
    # find the index ACTIVE.)
    try:
        ddb.query(TableName="gsi-fill", IndexName="by-g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "g1"}})
        t = ddb.describe_table(TableName="gsi-fill")["Table"]
        assert t["GlobalSecondaryIndexes"][0]["IndexStatus"] == "ACTIVE"
    except ClientError as e:
        assert (e.response["Error"]["Code"], e.response["Error"]["Message"]) == (
            "ValidationException", "Cannot read from backfilling global secondary index: by-g")
    # Writes during the backfill: moved, removed and new entries.
    for i in range(1, 2500, 37):
        ddb.update_item(TableName="gsi-fill", Key={"pk": {"S": "k%05d" % i}},
                        UpdateExpression="SET g = :g", ExpressionAttributeValues={
                            ":g": {"S": "moved"}})
    for i in range(2, 2500, 41):
        ddb.delete_item(TableName="gsi-fill", Key={"pk": {"S": "k%05d" % i}})
    for i in range(3, 2500, 43):
        ddb.update_item(TableName="gsi-fill", Key={"pk": {"S": "k%05d" % i}},
                        UpdateExpression="REMOVE g")
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName="gsi-fill", Item={"pk": {"S": "bad"}, "g": {"N": "1"},
                                                 "n": {"N": "1"}})
    assert err(e) == ("ValidationException",
                      INVALID + "Type mismatch for Index Key g Expected: S Actual: N "
                      "IndexName: by-g")
    t = wait_active(ddb, "gsi-fill")
    ix = t["GlobalSecondaryIndexes"][0]
    assert ix["Backfilling"] is False

    # The index holds exactly the table's items with a String g.
    items = []
    start = None
    while True:
        page = ddb.scan(TableName="gsi-fill", **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            break
    want = sorted(i["pk"]["S"] for i in items if "S" in i.get("g", {}))
    got = index_items(ddb, "gsi-fill", "by-g")
    assert sorted(i["pk"]["S"] for i in got) == want
    assert ix["ItemCount"] == len(want)
    assert ix["IndexSizeBytes"] > 0
    moved = ddb.query(TableName="gsi-fill", IndexName="by-g", KeyConditionExpression="g = :g",
                      ExpressionAttributeValues={":g": {"S": "moved"}})
    assert moved["Count"] == len([i for i in items if i.get("g") == {"S": "moved"}]) > 0
    assert [int(i["n"]["N"]) for i in moved["Items"]] == \
        sorted(int(i["n"]["N"]) for i in moved["Items"])


def test_reads_of_creating_index_refused(server):
    """Query and Scan of an index being backfilled are refused, every time: the table's items
    are costly to project (300 attributes each, an INCLUDE projection of 100 names to look
    for), so the backfill takes seconds (about 2 s for these 1,000 items), and the reads are
    made right after UpdateTable; that the index was still CREATING after them is checked,
    so the test cannot pass by the reads missing the backfill."""
    ddb = server.client("dynamodb")
    make_table(ddb, "gsi-slow")
    attrs = {"a%03d" % a: {"N": str(a)} for a in range(300)}
    for i in range(0, 1000, 25):
        ddb.batch_write_item(RequestItems={"gsi-slow": [
            {"PutRequest": {"Item": dict(attrs, pk={"S": "k%04d" % j},
                                         g={"S": "g%d" % (j % 7)})}}
            for j in range(i, i + 25)]})
    ddb.update_table(TableName="gsi-slow", AttributeDefinitions=defs(("g", "S")),
                     GlobalSecondaryIndexUpdates=[create(
                         proj="INCLUDE", Projection={
                             "ProjectionType": "INCLUDE",
                             "NonKeyAttributes": ["z%03d" % k for k in range(100)]})])
    refused = ("ValidationException", "Cannot read from backfilling global secondary index: by-g")
    with pytest.raises(ClientError) as e:
        ddb.query(TableName="gsi-slow", IndexName="by-g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "g1"}})
    assert err(e) == refused
    with pytest.raises(ClientError) as e:
        ddb.scan(TableName="gsi-slow", IndexName="by-g")
    assert err(e) == refused
    ix = ddb.describe_table(TableName="gsi-slow")["Table"]["GlobalSecondaryIndexes"][0]
    assert ix["IndexStatus"] == "CREATING"
    assert ix["Backfilling"] is True
    # Once ACTIVE, the same reads are answered.
    wait_active(ddb, "gsi-slow")
    q = ddb.query(TableName="gsi-slow", IndexName="by-g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "g1"}}, Select="COUNT")
    assert q["Count"] == len([j for j in range(1000) if j % 7 == 1])
    assert len(index_items(ddb, "gsi-slow", "by-g")) == 1000


@pytest.mark.crash
def test_restart_resumes_backfill(make_server):
    s = make_server(extra_args=["--sync", "full"]).start()
    ddb = s.client("dynamodb")
    make_table(ddb, "gsi-resume")
    fill(ddb, "gsi-resume", 4000)
    ddb.update_table(TableName="gsi-resume", AttributeDefinitions=defs(("g", "S")),
                     GlobalSecondaryIndexUpdates=[create(proj="KEYS_ONLY")])
    s.kill()
    s.start()
    ddb = s.client("dynamodb")
    t = wait_active(ddb, "gsi-resume")
    want = len([i for i in range(4000) if i % 10 != 0])
    assert t["GlobalSecondaryIndexes"][0]["ItemCount"] == want
    assert len(index_items(ddb, "gsi-resume", "by-g")) == want
    got = ddb.query(TableName="gsi-resume", IndexName="by-g", KeyConditionExpression="g = :g",
                    ExpressionAttributeValues={":g": {"S": "g3"}}, Select="COUNT")
    assert got["Count"] == len([i for i in range(4000) if i % 10 != 0 and i % 7 == 3])


def test_delete_index(server):
    ddb = server.client("dynamodb")
    make_table(ddb, "gsi-del", AttributeDefinitions=defs(("pk", "S"), ("g", "S")),
               GlobalSecondaryIndexes=[create()["Create"]])
    for i in range(50):
        ddb.put_item(TableName="gsi-del", Item={"pk": {"S": str(i)}, "g": {"S": "x"}})
    # An index made by CreateTable never shows Backfilling.
    assert "Backfilling" not in \
        ddb.describe_table(TableName="gsi-del")["Table"]["GlobalSecondaryIndexes"][0]
    out = ddb.update_table(TableName="gsi-del",
                           GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}}])
    td = out["TableDescription"]
    assert td["TableStatus"] == "UPDATING"
    assert [(g["IndexName"], g["IndexStatus"]) for g in td["GlobalSecondaryIndexes"]] == \
        [("by-g", "DELETING")]
    # The definition only the index used goes with it.
    assert td["AttributeDefinitions"] == defs(("pk", "S"))
    with pytest.raises(ClientError) as e:
        ddb.query(TableName="gsi-del", IndexName="by-g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "x"}})
    assert err(e) == ("ValidationException", "The table does not have the specified index: by-g")
    t = wait_active(ddb, "gsi-del")
    assert "GlobalSecondaryIndexes" not in t
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="gsi-del",
                         GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}}])
    assert err(e) == ("ResourceNotFoundException",
                      "Requested resource not found: Index by-g for table gsi-del")
    # The name can be used again, for an index of another shape.
    ddb.update_table(TableName="gsi-del", AttributeDefinitions=defs(("g", "S")),
                     GlobalSecondaryIndexUpdates=[create(proj="KEYS_ONLY")])
    t = wait_active(ddb, "gsi-del")
    assert t["GlobalSecondaryIndexes"][0]["ItemCount"] == 50
    assert t["GlobalSecondaryIndexes"][0]["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_update_index_throughput(server):
    ddb = server.client("dynamodb")
    make_table(ddb, "gsi-pt", provisioned=True,
               AttributeDefinitions=defs(("pk", "S"), ("g", "S")),
               GlobalSecondaryIndexes=[create(pt=(5, 5))["Create"]])
    out = ddb.update_table(TableName="gsi-pt", GlobalSecondaryIndexUpdates=[{"Update": {
        "IndexName": "by-g",
        "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 3}}}])
    ix = out["TableDescription"]["GlobalSecondaryIndexes"][0]
    assert ix["IndexStatus"] == "UPDATING"
    pt = ix["ProvisionedThroughput"]
    assert (pt["ReadCapacityUnits"], pt["WriteCapacityUnits"]) == (10, 3)
    assert pt["NumberOfDecreasesToday"] == 1
    assert "LastIncreaseDateTime" in pt and "LastDecreaseDateTime" in pt
    ix = ddb.describe_table(TableName="gsi-pt")["Table"]["GlobalSecondaryIndexes"][0]
    assert ix["IndexStatus"] == "ACTIVE"
    assert ix["ProvisionedThroughput"]["ReadCapacityUnits"] == 10
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="gsi-pt", GlobalSecondaryIndexUpdates=[{"Update": {
            "IndexName": "by-g",
            "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 3}}}])
    assert err(e) == ("ValidationException",
                      "The provisioned throughput for the index by-g will not change. The "
                      "requested value equals the current value. Current ReadCapacityUnits "
                      "provisioned for the index: 10. Requested ReadCapacityUnits: 10. Current "
                      "WriteCapacityUnits provisioned for the index: 3. Requested "
                      "WriteCapacityUnits: 3. Refer to the Amazon DynamoDB Developer Guide for "
                      "current limits and how to request higher limits.")
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="gsi-pt", GlobalSecondaryIndexUpdates=[{"Update": {
            "IndexName": "nope",
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}}])
    assert err(e) == ("ResourceNotFoundException",
                      "Requested resource not found: Index nope for table gsi-pt")
    # A provisioned table's new index needs its throughput.
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="gsi-pt", AttributeDefinitions=defs(("h", "S")),
                         GlobalSecondaryIndexUpdates=[create(name="by-h", hash_="h")])
    assert err(e) == ("ValidationException",
                      INVALID + "ProvisionedThroughput must be specified for index: by-h")
    # To on-demand: the indexes follow; back to provisioned, each needs its throughput.
    ddb.update_table(TableName="gsi-pt", BillingMode="PAY_PER_REQUEST")
    ix = ddb.describe_table(TableName="gsi-pt")["Table"]["GlobalSecondaryIndexes"][0]
    assert ix["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="gsi-pt", GlobalSecondaryIndexUpdates=[{"Update": {
            "IndexName": "by-g",
            "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}}])
    assert err(e) == ("ValidationException",
                      INVALID + "The only Updates for index: by-g when TableThroughputMode is "
                      "PAY_PER_REQUEST can be to OnDemandThroughput, WarmThroughput")
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="gsi-pt", BillingMode="PROVISIONED",
                         ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 2})
    assert err(e) == ("ValidationException",
                      INVALID + "ProvisionedThroughput must be specified for index: by-g")
    ddb.update_table(TableName="gsi-pt", BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 2},
                     GlobalSecondaryIndexUpdates=[{"Update": {
                         "IndexName": "by-g", "ProvisionedThroughput": {
                             "ReadCapacityUnits": 4, "WriteCapacityUnits": 4}}}])
    ix = ddb.describe_table(TableName="gsi-pt")["Table"]["GlobalSecondaryIndexes"][0]
    assert ix["ProvisionedThroughput"]["ReadCapacityUnits"] == 4


def test_refusals(server):
    ddb = server.client("dynamodb", validate=False)
    ddb.create_table(TableName="gsi-err",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=defs(("pk", "S"), ("sk", "S"), ("g", "S"),
                                               ("l", "N")),
                     BillingMode="PAY_PER_REQUEST",
                     GlobalSecondaryIndexes=[create()["Create"]],
                     LocalSecondaryIndexes=[{"IndexName": "loc", "KeySchema": [
                         {"AttributeName": "pk", "KeyType": "HASH"},
                         {"AttributeName": "l", "KeyType": "RANGE"}],
                         "Projection": {"ProjectionType": "ALL"}}])

    def refused(code, msg, **kw):
        with pytest.raises(ClientError) as e:
            ddb.update_table(TableName="gsi-err", **kw)
        assert err(e) == (code, msg)

    refused("ValidationException", "Attempting to create an index which already exists",
            AttributeDefinitions=defs(("g", "S")), GlobalSecondaryIndexUpdates=[create()])
    refused("ValidationException", "Attempting to create an index which already exists",
            AttributeDefinitions=defs(("g", "S")),
            GlobalSecondaryIndexUpdates=[create(name="loc")])
    refused(*ONE_ONLINE, AttributeDefinitions=defs(("g", "S"), ("h", "S")),
            GlobalSecondaryIndexUpdates=[create(name="a1x"), create(name="a2x", hash_="h")])
    refused(*ONE_ONLINE, AttributeDefinitions=defs(("h", "S")),
            GlobalSecondaryIndexUpdates=[create(name="a1x", hash_="h"),
                                         {"Delete": {"IndexName": "by-g"}}])
    refused("ValidationException",
            INVALID + "Only one global secondary index update per index is allowed "
            "simultaneously. Index: by-g",
            GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}},
                                         {"Update": {"IndexName": "by-g"}}])
    refused("ValidationException",
            INVALID + "Only one global secondary index action is allowed per "
            "GlobalSecondaryIndexUpdate object",
            GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"},
                                          "Update": {"IndexName": "by-g"}}])
    refused("ValidationException",
            INVALID + "One of GlobalSecondaryIndexUpdate.Update, "
            "GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be "
            "null", GlobalSecondaryIndexUpdates=[{}])
    refused("ValidationException", INVALID + "List of GlobalSecondaryIndexUpdates is empty",
            GlobalSecondaryIndexUpdates=[])
    refused("ValidationException",
            INVALID + "AttributeDefinitions is not specified for index: by-h",
            GlobalSecondaryIndexUpdates=[create(name="by-h", hash_="h")])
    refused("ValidationException",
            INVALID + "Some index key attributes are not defined in AttributeDefinitions. "
            "Keys: [h], AttributeDefinitions: [g]",
            AttributeDefinitions=defs(("g", "S")),
            GlobalSecondaryIndexUpdates=[create(name="by-h", hash_="h")])
    refused("ValidationException",
            INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified for "
            "index: by-h when BillingMode is PAY_PER_REQUEST",
            AttributeDefinitions=defs(("h", "S")),
            GlobalSecondaryIndexUpdates=[create(name="by-h", hash_="h", pt=(1, 1))])
    refused("ValidationException",
            INVALID + "Cannot change the type of an existing key attribute: g",
            AttributeDefinitions=defs(("g", "N")),
            GlobalSecondaryIndexUpdates=[create(name="by-h", hash_="g")])
    refused("ValidationException", "Cannot delete an index that is not a GlobalSecondaryIndex: "
            "loc", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "loc"}}])
    refused("ResourceNotFoundException",
            "Requested resource not found: Index nope for table gsi-err",
            GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "nope"}}])
    refused("ValidationException",
            INVALID + "You cannot create or delete index while changing stream status",
            AttributeDefinitions=defs(("h", "S")),
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
            GlobalSecondaryIndexUpdates=[create(name="by-h", hash_="h")])
    refused("ValidationException",
            INVALID + "You cannot create or delete index while updating table IOPS",
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}}])
    refused("ValidationException",
            "1 validation error detected: Value 'ab' at "
            "'globalSecondaryIndexUpdates.1.member.create.indexName' failed to satisfy "
            "constraint: Member must have length greater than or equal to 3",
            AttributeDefinitions=defs(("h", "S")),
            GlobalSecondaryIndexUpdates=[create(name="ab", hash_="h")])
    refused("ValidationException",
            "2 validation errors detected: Value 'X' at "
            "'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: "
            "Member must satisfy enum value set: [B, N, S]; Value null at "
            "'globalSecondaryIndexUpdates.1.member.delete.indexName' failed to satisfy "
            "constraint: Member must not be null",
            AttributeDefinitions=defs(("h", "X")),
            GlobalSecondaryIndexUpdates=[{"Delete": {}}])
    status, body = raw(server, "UpdateTable", {"TableName": "gsi-err",
                                                "GlobalSecondaryIndexUpdates": [{"Delete": 3}]})
    assert (status, body["__type"].split("#")[-1]) == (400, "SerializationException")
    # Nothing changed.
    t = ddb.describe_table(TableName="gsi-err")["Table"]
    assert [g["IndexName"] for g in t["GlobalSecondaryIndexes"]] == ["by-g"]
    assert t["TableStatus"] == "ACTIVE"


def test_index_limit(server):
    ddb = server.client("dynamodb")
    names = ["ix%02d" % i for i in range(20)]
    make_table(ddb, "gsi-many", AttributeDefinitions=defs(("pk", "S"), ("g", "S")),
               GlobalSecondaryIndexes=[create(name=n, proj="KEYS_ONLY")["Create"]
                                       for n in names])
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName="gsi-many", AttributeDefinitions=defs(("g", "S")),
                         GlobalSecondaryIndexUpdates=[create(name="one-more")])
    assert err(e) == ("LimitExceededException",
                      "Subscriber limit exceeded: Number of global secondary indexes exceeds "
                      "per-table limit of 20")
