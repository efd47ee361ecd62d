"""Firehose through boto3: delivery streams, durable puts, and delivery into the local S3
by size or interval, exactly once, plain and gzipped, across a SIGKILL."""
import gzip
import json
import re
import threading
import time

import pytest
from botocore.exceptions import ClientError


def make_stream(server, name, bucket, interval=0, size=1, compression="UNCOMPRESSED",
                prefix=None):
    # Debian's botocore models IntervalInSeconds with a minimum of 60; Firehose accepts 0
    # since 2023, so the client's own check is switched off.
    fh = server.client("firehose", validate=False)
    cfg = {"RoleARN": "arn:aws:iam::000000000000:role/firehose", "BucketARN":
           "arn:aws:s3:::" + bucket, "BufferingHints": {"SizeInMBs": size,
                                                       "IntervalInSeconds": interval},
           "CompressionFormat": compression}
    if prefix is not None:
        cfg["Prefix"] = prefix
    return fh.create_delivery_stream(DeliveryStreamName=name, DeliveryStreamType="DirectPut",
                                     ExtendedS3DestinationConfiguration=cfg)


def objects(s3, bucket):
    out, kw = [], {}
    while True:
        page = s3.list_objects_v2(Bucket=bucket, **kw)
        out += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return out
        kw = {"ContinuationToken": page["NextContinuationToken"]}


def wait_for(pred, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    return pred()


def read_all(s3, bucket, gz=False):
    data = b""
    for k in sorted(objects(s3, bucket)):
        body = s3.get_object(Bucket=bucket, Key=k)["Body"].read()
        data += gzip.decompress(body) if gz else body
    return data


def test_control_plane(server):
    fh = server.client("firehose")
    arn = make_stream(server, "orders", "b1", interval=60)["DeliveryStreamARN"]
    assert arn == "arn:aws:firehose:us-east-1:000000000000:deliverystream/orders"
    d = fh.describe_delivery_stream(DeliveryStreamName="orders")["DeliveryStreamDescription"]
    assert d["DeliveryStreamStatus"] == "ACTIVE"
    assert d["DeliveryStreamType"] == "DirectPut"
    dest = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["BucketARN"] == "arn:aws:s3:::b1"
    assert dest["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 60}
    make_stream(server, "other", "b1")
    assert fh.list_delivery_streams()["DeliveryStreamNames"] == ["orders", "other"]
    page = fh.list_delivery_streams(Limit=1)
    assert page["DeliveryStreamNames"] == ["orders"] and page["HasMoreDeliveryStreams"]
    with pytest.raises(ClientError) as e:
        make_stream(server, "orders", "b1")
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"
    fh.delete_delivery_stream(DeliveryStreamName="other")
    with pytest.raises(ClientError) as e:
        fh.describe_delivery_stream(DeliveryStreamName="other")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        fh.put_record(DeliveryStreamName="nope", Record={"Data": b"x"})
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    bad = server.client("firehose", validate=False)
    with pytest.raises(ClientError) as e:
        bad.put_record_batch(DeliveryStreamName="orders",
                             Records=[{"Data": b"x"}] * 501)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        make_stream(server, "badhints", "b1", size=200)
    assert e.value.response["Error"]["Code"] in ("ValidationException",
                                                 "InvalidArgumentException")


def test_interval_zero_delivers_within_seconds(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="archive")
    make_stream(server, "inv", "archive", interval=0)
    fh = server.client("firehose")
    t0 = time.time()
    r = fh.put_record_batch(DeliveryStreamName="inv",
                            Records=[{"Data": (json.dumps({"n": i}) + "\n").encode()}
                                     for i in range(100)])
    assert r["FailedPutCount"] == 0 and len(r["RequestResponses"]) == 100
    assert len({x["RecordId"] for x in r["RequestResponses"]}) == 100
    keys = wait_for(lambda: objects(s3, "archive"))
    assert time.time() - t0 < 5
    assert len(keys) == 1
    assert re.match(r"^\d{4}/\d\d/\d\d/\d\d/inv-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36}$",
                    keys[0]), keys[0]
    lines = read_all(s3, "archive").decode().splitlines()
    assert [json.loads(l)["n"] for l in lines] == list(range(100))


def test_gzip_prefix_and_size_trigger(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="gzb")
    make_stream(server, "big", "gzb", interval=900, size=1, compression="GZIP",
                prefix="invoices/")
    fh = server.client("firehose")
    rec = b"x" * 1000 + b"\n"
    sent = 0
    for _ in range(6):  # 6 x 250 KB: past 1 MB, while the interval is 15 minutes
        fh.put_record_batch(DeliveryStreamName="big", Records=[{"Data": rec}] * 250)
        sent += 250
    keys = wait_for(lambda: objects(s3, "gzb"))
    assert keys and all(k.startswith("invoices/") and k.endswith(".gz") for k in keys)
    data = read_all(s3, "gzb", gz=True)
    assert len(data) >= 1024 * 1024 - len(rec) and len(data) % len(rec) == 0


def test_missing_bucket_is_retried_then_delivered(server):
    s3 = server.client("s3")
    make_stream(server, "later", "not-yet", interval=0)
    server.client("firehose").put_record(DeliveryStreamName="later",
                                         Record={"Data": b"kept\n"})
    time.sleep(0.5)
    s3.create_bucket(Bucket="not-yet")
    assert wait_for(lambda: objects(s3, "not-yet"), timeout=20)
    assert read_all(s3, "not-yet") == b"kept\n"


@pytest.mark.crash
def test_sigkill_loses_no_acknowledged_record_and_doubles_none(make_server, tmp_path):
    data = str(tmp_path / "data")
    s = make_server(data).start()
    s.client("s3").create_bucket(Bucket="arch")
    make_stream(s, "k", "arch", interval=0)
    clients = [s.client("firehose") for _ in range(4)]
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def writer(w):
        for i in range(10000):
            if stop.is_set():
                return
            batch = [{"Data": b"%d-%d-%d\n" % (w, i, j)} for j in range(20)]
            try:
                clients[w].put_record_batch(DeliveryStreamName="k", Records=batch)
            except Exception:
                return
            with lock:
                acked.extend(r["Data"] for r in batch)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    while len(acked) < 2000:
        time.sleep(0.01)
    s.kill()
    stop.set()
    for t in threads:
        t.join()
    s2 = make_server(data).start()
    s3 = s2.client("s3")
    want = set(acked)

    def complete():
        got = read_all(s3, "arch").splitlines(keepends=True)
        return got if want <= set(got) else None

    got = wait_for(complete, timeout=30)
    assert got, "acknowledged records missing from the archive"
    assert len(got) == len(set(got)), "a record was delivered twice"
