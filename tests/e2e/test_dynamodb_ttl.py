"""DynamoDB time to live through boto3: UpdateTimeToLive and DescribeTimeToLive with
DynamoDB's errors, and the sweeper that deletes expired items (a REMOVE stream record naming
the service for each), with the sweep interval shortened by --ddb-ttl-interval."""
import time

import pytest
from botocore.exceptions import ClientError

from conftest import Server, raw


def err(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


@pytest.fixture
def fast(tmp_path):
    s = Server(str(tmp_path / "data"), extra_args=["--ddb-ttl-interval", "1"]).start()
    yield s
    rc, _ = s.stop()
    s.check_clean()
    assert rc == 0, s.stderr()


def make_table(ddb, name, stream=None, gsi=False):
    kw = {}
    if stream:
        kw["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream}
    defs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if gsi:
        defs.append({"AttributeName": "g", "AttributeType": "S"})
        kw["GlobalSecondaryIndexes"] = [{"IndexName": "by-g",
                                         "KeySchema": [{"AttributeName": "g",
                                                        "KeyType": "HASH"}],
                                         "Projection": {"ProjectionType": "ALL"}}]
    return ddb.create_table(TableName=name,
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                            AttributeDefinitions=defs, BillingMode="PAY_PER_REQUEST",
                            **kw)["TableDescription"]


def spec(enabled, attr="expires"):
    return {"Enabled": enabled, "AttributeName": attr}


def test_update_and_describe(module_server):
    ddb = module_server.client("dynamodb")
    make_table(ddb, "ttl-states")
    d = ddb.describe_time_to_live(TableName="ttl-states")["TimeToLiveDescription"]
    assert d == {"TimeToLiveStatus": "DISABLED"}

    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName="ttl-states", TimeToLiveSpecification=spec(False))
    assert err(e) == ("ValidationException", "TimeToLive is already disabled")

    out = ddb.update_time_to_live(TableName="ttl-states", TimeToLiveSpecification=spec(True))
    assert out["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires"}
    d = ddb.describe_time_to_live(TableName="ttl-states")["TimeToLiveDescription"]
    assert d == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}

    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName="ttl-states", TimeToLiveSpecification=spec(True))
    assert err(e) == ("ValidationException", "TimeToLive is already enabled")
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName="ttl-states",
                                TimeToLiveSpecification=spec(True, "other"))
    assert err(e) == ("ValidationException",
                      "TimeToLive is active on a different AttributeName: current "
                      "AttributeName is expires")
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName="ttl-states",
                                TimeToLiveSpecification=spec(False, "other"))
    assert err(e)[1].startswith("TimeToLive is active on a different AttributeName")

    out = ddb.update_time_to_live(TableName="ttl-states", TimeToLiveSpecification=spec(False))
    assert out["TimeToLiveSpecification"] == {"Enabled": False, "AttributeName": "expires"}
    # DISABLING until the sweeper has passed (every 10 s on this server); enabling again
    # meanwhile is refused, as DynamoDB refuses changes in quick succession.
    assert ddb.describe_time_to_live(TableName="ttl-states")["TimeToLiveDescription"] == \
        {"TimeToLiveStatus": "DISABLING", "AttributeName": "expires"}
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName="ttl-states", TimeToLiveSpecification=spec(True))
    assert err(e) == ("ValidationException",
                      "Time to live has been modified multiple times within a fixed interval")
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName="ttl-states", TimeToLiveSpecification=spec(False))
    assert err(e) == ("ValidationException", "TimeToLive is already disabled")
    # The setting is not part of DescribeTable's answer.
    assert "SluiceTimeToLive" not in ddb.describe_table(TableName="ttl-states")["Table"]

    # The deserialiser's string booleans.
    make_table(ddb, "ttl-strings")
    status, body = raw(module_server, "UpdateTimeToLive",
                       {"TableName": "ttl-strings",
                        "TimeToLiveSpecification": {"Enabled": "yes", "AttributeName": "e2"}})
    assert (status, body) == (200, {"TimeToLiveSpecification": {"Enabled": True,
                                                                "AttributeName": "e2"}})


def test_errors(module_server):
    ddb = module_server.client("dynamodb")
    with pytest.raises(ClientError) as e:
        ddb.describe_time_to_live(TableName="ttl-missing")
    assert err(e) == ("ResourceNotFoundException",
                      "Requested resource not found: Table: ttl-missing not found")
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName="ttl-missing", TimeToLiveSpecification=spec(True))
    assert err(e) == ("ResourceNotFoundException",
                      "Requested resource not found: Table: ttl-missing not found")
    status, body = raw(module_server, "UpdateTimeToLive", {"TableName": "ttl-missing"})
    assert status == 400
    assert body["message"] == ("1 validation error detected: Value null at "
                               "'timeToLiveSpecification' failed to satisfy constraint: Member "
                               "must not be null")
    status, body = raw(module_server, "UpdateTimeToLive",
                       {"TableName": "ab", "TimeToLiveSpecification": {"AttributeName": ""}})
    assert body["message"] == (
        "3 validation errors detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 3; Value '' at "
        "'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must "
        "have length greater than or equal to 1; Value null at "
        "'timeToLiveSpecification.enabled' failed to satisfy constraint: Member must not be "
        "null")
    status, body = raw(module_server, "UpdateTimeToLive",
                       {"TableName": "abc", "TimeToLiveSpecification": {"Enabled": "maybe",
                                                                        "AttributeName": "x"}})
    assert body["__type"].endswith("SerializationException")
    assert body["message"] == "'maybe' can not be converted to an Boolean"


def read_stream(server, arn):
    st = server.client("dynamodbstreams")
    shard = st.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = st.get_shard_iterator(StreamArn=arn, ShardId=shard,
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return st.get_records(ShardIterator=it, Limit=1000)["Records"]


def test_sweeper_deletes_expired_items_with_service_remove_records(fast):
    ddb = fast.client("dynamodb")
    td = make_table(ddb, "ttl-sweep", stream="NEW_AND_OLD_IMAGES", gsi=True)
    now = int(time.time())
    items = {
        "past": {"N": str(now - 100)},              # expired
        "fraction": {"N": "%d.5" % (now - 10)},     # expired
        "future": {"N": str(now + 3600)},           # not yet
        "ancient": {"N": str(now - 6 * 365 * 86400)},  # more than five years ago: ignored
        "string": {"S": str(now - 100)},            # not a Number: ignored
    }
    for pk, v in items.items():
        ddb.put_item(TableName="ttl-sweep", Item={"pk": {"S": pk}, "expires": v,
                                                  "g": {"S": "x"}})
    ddb.put_item(TableName="ttl-sweep", Item={"pk": {"S": "none"}, "g": {"S": "x"}})
    # Before time to live is enabled nothing goes, and reads still see expired items.
    time.sleep(1.5)
    assert "Item" in ddb.get_item(TableName="ttl-sweep", Key={"pk": {"S": "past"}})
    ddb.update_time_to_live(TableName="ttl-sweep", TimeToLiveSpecification=spec(True))

    deadline = time.time() + 20
    left = None
    while time.time() < deadline:
        left = sorted(i["pk"]["S"] for i in ddb.scan(TableName="ttl-sweep")["Items"])
        if left == ["ancient", "future", "none", "string"]:
            break
        time.sleep(0.3)
    assert left == ["ancient", "future", "none", "string"]

    t = ddb.describe_table(TableName="ttl-sweep")["Table"]
    assert t["ItemCount"] == 4
    assert t["GlobalSecondaryIndexes"][0]["ItemCount"] == 4
    q = ddb.query(TableName="ttl-sweep", IndexName="by-g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "x"}})
    assert sorted(i["pk"]["S"] for i in q["Items"]) == ["ancient", "future", "none", "string"]

    recs = read_stream(fast, td["LatestStreamArn"])
    removes = [r for r in recs if r["eventName"] == "REMOVE"]
    assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in removes) == ["fraction", "past"]
    for r in removes:
        # The Streams API's Identity shape (Lambda's events name them "type", "principalId").
        assert r["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
        assert r["dynamodb"]["OldImage"]["pk"] == r["dynamodb"]["Keys"]["pk"]
        assert "NewImage" not in r["dynamodb"]
    # The writes of the client carry no userIdentity.
    assert all("userIdentity" not in r for r in recs if r["eventName"] == "INSERT")

    # An item rewritten with a future expiry stays; one made to expire goes.
    ddb.put_item(TableName="ttl-sweep", Item={"pk": {"S": "future"},
                                              "expires": {"N": str(now - 1)}})
    deadline = time.time() + 20
    while time.time() < deadline and "Item" in ddb.get_item(TableName="ttl-sweep",
                                                            Key={"pk": {"S": "future"}}):
        time.sleep(0.3)
    assert "Item" not in ddb.get_item(TableName="ttl-sweep", Key={"pk": {"S": "future"}})

    # Disabled: expired items stay; the table is DISABLING until the next sweep, then
    # DISABLED, and time to live can be enabled again.
    ddb.update_time_to_live(TableName="ttl-sweep", TimeToLiveSpecification=spec(False))
    ddb.put_item(TableName="ttl-sweep", Item={"pk": {"S": "kept"},
                                              "expires": {"N": str(now - 1)}})
    deadline = time.time() + 10
    status = None
    while time.time() < deadline:
        status = ddb.describe_time_to_live(
            TableName="ttl-sweep")["TimeToLiveDescription"]["TimeToLiveStatus"]
        if status == "DISABLED":
            break
        assert status == "DISABLING"
        time.sleep(0.1)
    assert status == "DISABLED"
    time.sleep(2.5)
    assert "Item" in ddb.get_item(TableName="ttl-sweep", Key={"pk": {"S": "kept"}})
    ddb.update_time_to_live(TableName="ttl-sweep", TimeToLiveSpecification=spec(True, "other"))
    assert ddb.describe_time_to_live(TableName="ttl-sweep")["TimeToLiveDescription"] == \
        {"TimeToLiveStatus": "ENABLED", "AttributeName": "other"}


def test_sweep_deletes_exactly_the_expired_among_many(fast):
    """A table of many unexpired items and a few expired ones: the sweep, reading the expiry
    index, deletes exactly the expired ones (items stored before and after time to live was
    enabled alike), and their REMOVE records are the only ones."""
    ddb = fast.client("dynamodb")
    td = make_table(ddb, "ttl-many", stream="KEYS_ONLY")
    now = int(time.time())
    expired = {"old-%d" % i for i in range(5)} | {"new-%d" % i for i in range(5)}

    def put_all(prefix, n_future):
        reqs = [{"PutRequest": {"Item": {"pk": {"S": "%s-f%d" % (prefix, i)},
                                         "expires": {"N": str(now + 3600 + i)}}}}
                for i in range(n_future)]
        reqs += [{"PutRequest": {"Item": {"pk": {"S": "%s-%d" % (prefix, i)},
                                          "expires": {"N": str(now - 60 - i)}}}}
                 for i in range(5)]
        for i in range(0, len(reqs), 25):
            ddb.batch_write_item(RequestItems={"ttl-many": reqs[i:i + 25]})

    put_all("old", 1500)
    ddb.update_time_to_live(TableName="ttl-many", TimeToLiveSpecification=spec(True))
    put_all("new", 500)
    total = 1500 + 500 + 10

    def keys():
        out, kw = set(), {}
        while True:
            page = ddb.scan(TableName="ttl-many", ProjectionExpression="pk", **kw)
            out |= {i["pk"]["S"] for i in page["Items"]}
            if "LastEvaluatedKey" not in page:
                return out
            kw["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    deadline = time.time() + 30
    left = keys()
    while time.time() < deadline and len(left) > total - len(expired):
        time.sleep(0.5)
        left = keys()
    assert len(left) == total - len(expired)
    assert not (left & expired)
    st = fast.client("dynamodbstreams")
    arn = td["LatestStreamArn"]
    shard = st.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = st.get_shard_iterator(StreamArn=arn, ShardId=shard,
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    recs = []
    while it:
        page = st.get_records(ShardIterator=it, Limit=1000)
        recs += page["Records"]
        if not page["Records"]:
            break
        it = page.get("NextShardIterator")
    assert len(recs) == total + 10
    removes = sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in recs
                     if r["eventName"] == "REMOVE")
    assert removes == sorted(expired)
    assert ddb.describe_table(TableName="ttl-many")["Table"]["ItemCount"] == total - 10


def test_interval_flag_is_checked(tmp_path):
    s = Server(str(tmp_path / "data"), extra_args=["--ddb-ttl-interval", "0"])
    with pytest.raises(RuntimeError) as e:
        s.start()
    assert "ddb-ttl-interval" in str(e.value)
