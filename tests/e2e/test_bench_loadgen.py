"""The load generator of `make bench` (bench/loadgen.c) against a real server, briefly: every
workload's requests are answered with success and do what they say (items, counters, objects,
records), and an answer that is not a success is counted as an error, so a figure in
docs/performance.md is never the rate of failures."""
import json
import os
import subprocess
import time

import pytest

from conftest import ROOT

LOADGEN = os.path.join(ROOT, "build", "bench", "loadgen")


def loadgen(server, workload, *args, secret=None):
    cmd = [LOADGEN, "-p", str(server.port), "-w", workload, "--access-key", server.access_key,
           "--secret", secret or server.secret] + [str(a) for a in args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert out.returncode == (1 if r["errors"] else 0), out.stderr   # exit 1: some failed
    return r


def timed(server, workload, *args, **kw):
    r = loadgen(server, workload, "-c", 4, "-t", 1, "-d", 0.5, "--warmup", 0, *args, **kw)
    assert r["workload"] == workload and r["requests"] > 0 and r["rps"] > 0
    return r


@pytest.fixture(scope="module")
def bench_server(module_server):
    s = module_server
    ddb = s.client("dynamodb")
    ddb.create_table(TableName="bench", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "N"}])
    s.client("s3").create_bucket(Bucket="bench")
    return s


def test_dynamodb_workloads(bench_server):
    s = bench_server
    ddb = s.client("dynamodb")
    assert loadgen(s, "ddb-load", "-n", 100, "-c", 4)["errors"] == 0
    assert loadgen(s, "ddb-load", "-n", 200, "--batch", 25, "--parts", "-c", 4)["errors"] == 0
    # Fewer requests than connections: most of them stay idle from the start.
    r = loadgen(s, "ddb-load", "-n", 50, "--batch", 25, "--offset", 1000, "-c", 16, "-t", 2)
    assert (r["requests"], r["errors"]) == (2, 0)
    count = ddb.scan(TableName="bench", Select="COUNT")["Count"]
    assert count == 100 + 200 + 50
    part = ddb.query(TableName="bench", KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "part#3"}})["Items"]
    assert sorted(int(i["sk"]["N"]) for i in part) == list(range(10))
    for w in ("ddb-get", "ddb-put", "ddb-query", "ddb-scan"):
        assert timed(s, w, "--keys", 100)["errors"] == 0, w
    r = timed(s, "ddb-update", "--keys", 10)
    assert r["errors"] == 0
    total = 0
    for i in range(10):
        item = ddb.get_item(TableName="bench", Key={"pk": {"S": "ctr#%d" % i},
                                                    "sk": {"N": "0"}}).get("Item")
        total += int(item["n"]["N"]) if item else 0
    assert total >= r["requests"]   # each ADD acknowledged is counted (warm-up ones too)


def test_s3_workloads(bench_server):
    s = bench_server
    s3 = s.client("s3")
    assert loadgen(s, "s3-put", "-n", 20, "-t", 1, "-c", 4, "--keys", 20, "--size", 4096)[
        "errors"] == 0
    keys = {o["Key"]: o["Size"] for o in s3.list_objects_v2(Bucket="bench")["Contents"]}
    assert {k: keys[k] for k in keys if k.startswith("obj-")} == {
        "obj-%d" % i: 4096 for i in range(20)}
    assert timed(s, "s3-get", "--keys", 20)["errors"] == 0
    size = 8 << 20
    up = loadgen(s, "s3-big-put", "-c", 1, "-d", 1, "--warmup", 0, "--size", size)
    down = loadgen(s, "s3-big-get", "-c", 1, "-d", 1, "--warmup", 0, "--size", size)
    assert up["errors"] == 0 and down["errors"] == 0
    assert up["mb_per_s"] > 0 and down["mb_per_s"] > 0
    big = [o for o in s3.list_objects_v2(Bucket="bench")["Contents"] if o["Size"] == size]
    assert len(big) == 1


def test_firehose_workload(bench_server):
    s = bench_server
    # Debian's botocore models IntervalInSeconds with a minimum of 60 (Firehose takes 0).
    s.client("firehose", validate=False).create_delivery_stream(
        DeliveryStreamName="bench-fh",
        ExtendedS3DestinationConfiguration={
            "BucketARN": "arn:aws:s3:::bench", "Prefix": "fh/",
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BufferingHints": {"IntervalInSeconds": 0, "SizeInMBs": 1}})
    r = loadgen(s, "fh-batch", "-n", 4, "-t", 1, "-c", 2, "--keys", 4,
                "--table", "bench-fh")
    assert r["requests"] == 4 and r["errors"] == 0
    deadline = time.time() + 20
    while time.time() < deadline:
        objs = s.client("s3").list_objects_v2(Bucket="bench", Prefix="fh/").get("Contents", [])
        if sum(o["Size"] for o in objs) >= 4 * 500 * 1000:
            break
        time.sleep(0.2)
    assert sum(o["Size"] for o in objs) >= 4 * 500 * 1000     # 4 batches of 500 x 1 KB


def test_failures_are_counted(bench_server):
    r = timed(bench_server, "ddb-get", "--keys", 100, secret="not-the-secret")
    assert r["errors"] == r["requests"] > 0
    r = timed(bench_server, "ddb-get", "--keys", 100, "--table", "no-such-table")
    assert r["errors"] == r["requests"] > 0


def test_fsync_ceiling(tmp_path):
    out = subprocess.run([LOADGEN, "-w", "fsync", "--file", str(tmp_path / "f"), "-d", "0.3"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["requests"] > 0 and r["errors"] == 0
    assert not os.path.exists(tmp_path / "f")      # its file is removed after the run
