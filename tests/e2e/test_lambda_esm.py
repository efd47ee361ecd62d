"""Lambda event source mappings from DynamoDB streams, through boto3: the mapping records and
their errors, and (where DynamoDB serves PutItem) table changes reaching a function in
order, failed batches retried, and the checkpoint surviving a restart."""
import json
import os
import time

import pytest
from botocore.exceptions import ClientError

from test_lambda import create, error_of

REC_APP = """
import json, os

def handler(event, context):
    out = os.environ["OUT"]
    gate = os.environ["GATE"]
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
    if any(k.startswith("fail") for k in keys) and not os.path.exists(gate):
        with open(out + ".failures", "a") as f:
            f.write(json.dumps(keys) + "\\n")
        raise RuntimeError("not yet")
    with open(out, "a") as f:
        f.write(json.dumps({"keys": keys, "arn": [r["eventSourceARN"] for r in event["Records"]],
                            "names": [r["eventName"] for r in event["Records"]],
                            "source": [r["eventSource"] for r in event["Records"]]}) + "\\n")
    return {"batchItemFailures": []}
"""


def make_table(ddb, name):
    return ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]["LatestStreamArn"]


def test_mapping_lifecycle(server):
    lam = server.client("lambda")
    ddb = server.client("dynamodb")
    stream = make_table(ddb, "Invoices")
    create(lam, "consumer")
    out = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="consumer",
                                          StartingPosition="TRIM_HORIZON", BatchSize=10,
                                          MaximumBatchingWindowInSeconds=1)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 202
    uuid = out["UUID"]
    assert out["State"] == "Creating"
    assert out["BatchSize"] == 10 and out["MaximumBatchingWindowInSeconds"] == 1
    assert out["EventSourceArn"] == stream
    assert out["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:consumer"
    assert out["StartingPosition"] == "TRIM_HORIZON"
    assert out["LastProcessingResult"] == "No records processed"
    assert out["StateTransitionReason"] == "User action"
    assert out["MaximumRetryAttempts"] == -1 and out["ParallelizationFactor"] == 1
    got = lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled" and got["UUID"] == uuid

    create(lam, "other")
    second = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="other",
                                             StartingPosition="LATEST")["UUID"]
    assert lam.get_event_source_mapping(UUID=second)["BatchSize"] == 100
    assert {m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]} == \
        {uuid, second}
    by_fn = lam.list_event_source_mappings(FunctionName="consumer")["EventSourceMappings"]
    assert [m["UUID"] for m in by_fn] == [uuid]
    by_arn = lam.list_event_source_mappings(
        FunctionName="arn:aws:lambda:us-east-1:000000000000:function:other")
    assert [m["UUID"] for m in by_arn["EventSourceMappings"]] == [second]
    assert len(lam.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]) == 2
    page = lam.list_event_source_mappings(MaxItems=1)
    assert len(page["EventSourceMappings"]) == 1 and page["NextMarker"]
    rest = lam.list_event_source_mappings(Marker=page["NextMarker"])
    assert len(rest["EventSourceMappings"]) == 1 and "NextMarker" not in rest

    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="consumer",
                                        StartingPosition="LATEST")
    code, msg, status = error_of(e)
    assert code == "ResourceConflictException" and status == 409
    assert uuid in msg and "consumer" in msg

    gone = lam.delete_event_source_mapping(UUID=uuid)
    assert gone["State"] == "Deleting" and gone["ResponseMetadata"]["HTTPStatusCode"] == 202
    with pytest.raises(ClientError) as e:
        lam.get_event_source_mapping(UUID=uuid)
    assert error_of(e)[0] == "ResourceNotFoundException" and error_of(e)[2] == 404
    with pytest.raises(ClientError) as e:
        lam.delete_event_source_mapping(UUID=uuid)
    assert error_of(e)[0] == "ResourceNotFoundException"
    assert [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]] == \
        [second]


def test_mapping_errors(server):
    lam = server.client("lambda", validate=False)
    stream = make_table(server.client("dynamodb"), "Tab1")
    create(lam, "fn")
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="nope",
                                        StartingPosition="LATEST")
    assert error_of(e) == ("ResourceNotFoundException", "Function not found: "
                           "arn:aws:lambda:us-east-1:000000000000:function:nope", 404)
    missing = stream.replace("table/Tab1/", "table/Tab2/")
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=missing, FunctionName="fn",
                                        StartingPosition="LATEST")
    assert error_of(e) == ("InvalidParameterValueException", "Stream not found: " + missing, 400)
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="fn")
    assert error_of(e)[0] == "InvalidParameterValueException"
    for bad in (0, 10001):
        with pytest.raises(ClientError) as e:
            lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="fn",
                                            StartingPosition="LATEST", BatchSize=bad)
        assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="fn",
                                        StartingPosition="LATEST",
                                        MaximumBatchingWindowInSeconds=301)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(
            EventSourceArn="arn:aws:kinesis:us-east-1:000000000000:stream/s",
            FunctionName="fn", StartingPosition="LATEST")
    assert error_of(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="fn",
                                        StartingPosition="SOMETIME")
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="fn",
                                        StartingPosition="LATEST", MaximumRetryAttempts=2)
    assert error_of(e)[0] == "InvalidParameterValueException"
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []


def test_mappings_survive_restart(make_server, data_dir):
    s = make_server(data_dir).start()
    stream = make_table(s.client("dynamodb"), "Keep")
    create(s.client("lambda"), "keeper")
    uuid = s.client("lambda").create_event_source_mapping(
        EventSourceArn=stream, FunctionName="keeper", StartingPosition="LATEST")["UUID"]
    assert s.stop()[0] == 0
    s2 = make_server(data_dir).start()
    got = s2.client("lambda").get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled" and got["EventSourceArn"] == stream


def put_item_served(ddb, table):
    try:
        ddb.put_item(TableName=table, Item={"pk": {"S": "probe"}})
        return True
    except ClientError as e:
        if e.response["Error"]["Code"] == "UnknownOperationException":
            return False
        raise


def wait_lines(path, n, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            lines = open(path).read().splitlines()
            if len(lines) >= n:
                return [json.loads(x) for x in lines]
        time.sleep(0.05)
    return [json.loads(x) for x in open(path).read().splitlines()] if os.path.exists(path) \
        else []


def test_stream_records_reach_the_function(make_server, data_dir, tmp_path):
    s = make_server(data_dir).start()
    ddb = s.client("dynamodb")
    lam = s.client("lambda")
    stream = make_table(ddb, "Orders")
    if not put_item_served(ddb, "Orders"):
        pytest.skip("DynamoDB PutItem is not served yet")
    out = str(tmp_path / "batches")
    gate = str(tmp_path / "gate")
    create(lam, "recorder", {"app.py": REC_APP}, Timeout=10,
           Environment={"Variables": {"OUT": out, "GATE": gate}})
    uuid = lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="recorder",
                                           StartingPosition="TRIM_HORIZON",
                                           BatchSize=3)["UUID"]
    for i in range(5):
        ddb.put_item(TableName="Orders", Item={"pk": {"S": "k%d" % i}})
    # Batches hold what the stream has when the poller reads (the probe may come alone, as
    # Lambda invokes without a batching window), never more than BatchSize, all in order.
    deadline = time.time() + 20
    while True:
        batches = wait_lines(out, 1)
        keys = [k for b in batches for k in b["keys"]]
        if len(keys) >= 6 or time.time() > deadline:
            break
        time.sleep(0.05)
    assert keys == ["probe", "k0", "k1", "k2", "k3", "k4"]
    assert all(1 <= len(b["keys"]) <= 3 for b in batches)
    first = len(batches)
    assert all(a == stream for b in batches for a in b["arn"])
    assert all(n == "INSERT" for b in batches for n in b["names"])
    assert all(x == "aws:dynamodb" for b in batches for x in b["source"])
    deadline = time.time() + 5
    while lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] != "OK":
        assert time.time() < deadline
        time.sleep(0.05)

    # A failing batch is retried, in order, until it succeeds; nothing after it runs first.
    ddb.put_item(TableName="Orders", Item={"pk": {"S": "fail-1"}})
    ddb.put_item(TableName="Orders", Item={"pk": {"S": "later"}})
    deadline = time.time() + 10
    while not os.path.exists(out + ".failures") or \
            len(open(out + ".failures").read().splitlines()) < 2:
        assert time.time() < deadline
        time.sleep(0.05)
    assert lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"].startswith("PROBLEM")
    assert len(wait_lines(out, first, timeout=0)) == first
    open(gate, "w").close()
    deadline = time.time() + 10
    while True:
        batches = wait_lines(out, first + 1)
        tail = [k for b in batches[first:] for k in b["keys"]]
        if tail == ["fail-1", "later"] or time.time() > deadline:
            break
        time.sleep(0.05)
    assert tail == ["fail-1", "later"]

    # A restart resumes after the checkpoint: no acknowledged batch runs again.
    done = len(batches)
    assert s.stop()[0] == 0
    s2 = make_server(data_dir).start()
    s2.client("dynamodb").put_item(TableName="Orders", Item={"pk": {"S": "after"}})
    batches = wait_lines(out, done + 1)
    assert [b["keys"] for b in batches[done:]] == [["after"]]
    time.sleep(0.5)
    assert len(wait_lines(out, done + 1, timeout=0)) == done + 1


ENDPOINT_APP = """
import json, os

def handler(event, context):
    if not os.path.exists(os.environ["GATE"]):
        raise RuntimeError("not yet")
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"endpoint": os.environ["AWS_ENDPOINT_URL"],
                            "keys": [r["dynamodb"]["Keys"]["pk"]["S"]
                                     for r in event["Records"]]}) + "\\n")
"""


def test_batches_pending_at_start_call_back_on_the_real_port(make_server, data_dir, tmp_path):
    """A mapping resumed at start-up invokes at once; its environments must still get the
    front door's port in AWS_ENDPOINT_URL (they once got port 0, before it listened)."""
    s = make_server(data_dir).start()
    ddb, lam = s.client("dynamodb"), s.client("lambda")
    stream = make_table(ddb, "Pending")
    out, gate = str(tmp_path / "out"), str(tmp_path / "gate")
    create(lam, "late", {"app.py": ENDPOINT_APP}, Timeout=10,
           Environment={"Variables": {"OUT": out, "GATE": gate}})
    lam.create_event_source_mapping(EventSourceArn=stream, FunctionName="late",
                                    StartingPosition="TRIM_HORIZON", BatchSize=10)
    ddb.put_item(TableName="Pending", Item={"pk": {"S": "waiting"}})
    # Failing until the gate opens, the batch is still pending when the server stops.
    deadline = time.time() + 10
    while not lam.get_event_source_mapping(
            UUID=lam.list_event_source_mappings()["EventSourceMappings"][0]["UUID"]
    )["LastProcessingResult"].startswith("PROBLEM"):
        assert time.time() < deadline
        time.sleep(0.05)
    assert s.stop()[0] == 0
    open(gate, "w").close()
    s2 = make_server(data_dir).start()
    lines = wait_lines(out, 1)
    assert lines and lines[0]["keys"] == ["waiting"]
    assert all(l["endpoint"] == s2.endpoint for l in lines), lines
