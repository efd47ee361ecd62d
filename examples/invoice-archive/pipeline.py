#!/usr/bin/env python3
"""The invoice archive, end to end, as an AWS user builds it.

A business keeps its invoices in a DynamoDB table and must archive every change for audit:

    Invoices table --stream--> invoice-archiver function --PutRecordBatch--> Firehose
        delivery stream (batches, gzips) --> invoice-archive bucket --> SQL over the archive

This script creates the pieces with plain boto3 (table with a stream, bucket, delivery
stream, function, event source mapping), writes invoices, waits until the archive holds every
one of them, and prints a query's answer. It runs against any endpoint that speaks the AWS
APIs; the query step uses sluice's POST /_sluice/query.

    python3 examples/invoice-archive/pipeline.py [--endpoint URL] [--invoices N]

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or else from the server's
data directory (--data-dir, default ./data, file `credentials`).
"""
import argparse
import configparser
import gzip
import io
import json
import os
import random
import sys
import threading
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import boto3
import botocore.config
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = "Invoices"
BUCKET = "invoice-archive"
DELIVERY_STREAM = "invoice-archive"
FUNCTION = "invoice-archiver"
ROLE = "arn:aws:iam::000000000000:role/invoice-archiver"
CUSTOMERS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne"]


class Pipeline:
    """Clients for one endpoint, and the steps of the example."""

    def __init__(self, endpoint, key, secret, region="us-east-1"):
        self.endpoint = endpoint.rstrip("/")
        self.key, self.secret, self.region = key, secret, region
        # Debian's botocore still models Firehose's IntervalInSeconds with a minimum of 60;
        # the service accepts 0 since 2023, so the client's own check is off for Firehose.
        self.ddb = self.client("dynamodb")
        self.s3 = self.client("s3")
        self.firehose = self.client("firehose", validate=False)
        self.lam = self.client("lambda")

    def client(self, service, validate=True):
        cfg = botocore.config.Config(retries={"max_attempts": 3, "mode": "standard"},
                                     read_timeout=60, parameter_validation=validate,
                                     max_pool_connections=16)
        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.key, aws_secret_access_key=self.secret,
                            config=cfg)

    # ---- resources ----

    def teardown(self):
        """Removes what an earlier run of the example left, so that a run starts clean."""
        if self._exists_function():
            for m in self.lam.list_event_source_mappings(
                    FunctionName=FUNCTION)["EventSourceMappings"]:
                self.lam.delete_event_source_mapping(UUID=m["UUID"])
            self.lam.delete_function(FunctionName=FUNCTION)
        try:
            self.ddb.delete_table(TableName=TABLE)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        try:
            self.firehose.delete_delivery_stream(DeliveryStreamName=DELIVERY_STREAM)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        try:
            keys = [o["Key"] for o in self.archive_objects()]
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchBucket":
                raise
            return
        for i in range(0, len(keys), 1000):
            self.s3.delete_objects(Bucket=BUCKET, Delete={
                "Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})
        self.s3.delete_bucket(Bucket=BUCKET)

    def _exists_function(self):
        try:
            self.lam.get_function(FunctionName=FUNCTION)
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] == "ResourceNotFoundException":
                return False
            raise

    def setup(self, interval=0, size_mb=1, function_zip=None, handler="archiver.handler",
              env=None, batch_size=100):
        """Creates the bucket, the delivery stream, the table with its stream, the function
        and the mapping. Returns the stream ARN."""
        self.s3.create_bucket(Bucket=BUCKET)
        self.firehose.create_delivery_stream(
            DeliveryStreamName=DELIVERY_STREAM, DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::000000000000:role/firehose",
                "BucketARN": "arn:aws:s3:::" + BUCKET,
                "BufferingHints": {"SizeInMBs": size_mb, "IntervalInSeconds": interval},
                "CompressionFormat": "GZIP"})
        table = self.ddb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "invoice_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "invoice_id", "KeyType": "HASH"}],
            StreamSpecification={"StreamEnabled": True,
                                 "StreamViewType": "NEW_AND_OLD_IMAGES"})
        stream_arn = table["TableDescription"]["LatestStreamArn"]
        self.ddb.get_waiter("table_exists").wait(TableName=TABLE,
                                                 WaiterConfig={"Delay": 1})
        variables = {"DELIVERY_STREAM": DELIVERY_STREAM}
        variables.update(env or {})
        self.lam.create_function(
            FunctionName=FUNCTION, Runtime="python3.11", Role=ROLE, Handler=handler,
            Code={"ZipFile": function_zip or package()}, Timeout=30, MemorySize=256,
            Environment={"Variables": variables})
        self.lam.create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName=FUNCTION, StartingPosition="TRIM_HORIZON",
            BatchSize=batch_size, MaximumBatchingWindowInSeconds=0)
        return stream_arn

    # ---- data ----

    def put_invoice(self, inv):
        self.ddb.put_item(TableName=TABLE, Item=to_item(inv))

    def write_invoices(self, invoices, threads=8, progress=None):
        """Puts every invoice (threads at a time); calls progress(done, total)."""
        done = [0]
        lock = threading.Lock()

        def put(inv):
            self.put_invoice(inv)
            with lock:
                done[0] += 1
                if progress:
                    progress(done[0], len(invoices))

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(put, invoices))

    def archive_objects(self):
        out, kw = [], {}
        while True:
            page = self.s3.list_objects_v2(Bucket=BUCKET, **kw)
            out += page.get("Contents", [])
            if not page.get("IsTruncated"):
                return out
            kw = {"ContinuationToken": page["NextContinuationToken"]}

    def archived_records(self):
        """Every line of every archive object, parsed."""
        records = []
        for o in self.archive_objects():
            body = self.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            records += [json.loads(line) for line in body.splitlines() if line.strip()]
        return records

    def query(self, sql):
        """Runs SQL over the archive with POST /_sluice/query (SigV4-signed)."""
        body = json.dumps({"sql": sql}).encode()
        req = AWSRequest(method="POST", url=self.endpoint + "/_sluice/query", data=body,
                         headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(self.key, self.secret), "sluice", self.region).add_auth(req)
        http = urllib.request.Request(req.url, data=body, method="POST",
                                      headers=dict(req.headers.items()))
        try:
            with urllib.request.urlopen(http, timeout=120) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError("query failed: %s" % e.read().decode(errors="replace"))


def package(extra=None):
    """The function's deployment package: a zip of function/ (plus extra {name: text})."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(os.listdir(os.path.join(HERE, "function"))):
            if name.endswith(".py"):
                z.write(os.path.join(HERE, "function", name), name)
        for name, text in (extra or {}).items():
            z.writestr(name, text)
    return buf.getvalue()


def make_invoices(n, seed=7):
    """n invoices with every field type the archive must keep intact."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        lines = [{"sku": "SKU-%03d" % rnd.randrange(1000), "qty": rnd.randrange(1, 5),
                  "price": Decimal(rnd.randrange(100, 50000)) / 100}
                 for _ in range(rnd.randrange(1, 4))]
        out.append({"invoice_id": "INV-%06d" % (i + 1),
                    "customer": CUSTOMERS[i % len(CUSTOMERS)],
                    "amount": sum(l["price"] * l["qty"] for l in lines),
                    "currency": "EUR",
                    "issued": "2026-%02d-%02d" % (1 + i % 12, 1 + i % 28),
                    "paid": i % 3 == 0,
                    "lines": lines})
    return out


def to_item(inv):
    """An invoice as a DynamoDB item (boto3's serializer would do the same)."""
    from boto3.dynamodb.types import TypeSerializer
    ser = TypeSerializer()
    return {k: ser.serialize(v) for k, v in inv.items()}


def credentials(data_dir):
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return key, secret
    cp = configparser.ConfigParser()
    path = os.path.join(data_dir, "credentials")
    if not cp.read(path) or not cp.sections():
        sys.exit("no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or point "
                 "--data-dir at the server's data directory (%s not found)" % path)
    first = cp[cp.sections()[0]]
    return first["aws_access_key_id"], first["aws_secret_access_key"]


def bar(done, total, width=40, _last=[None]):
    """A progress bar on stderr, redrawn when it changes by a percent."""
    filled = width * done // max(total, 1)
    step = (100 * done // max(total, 1), done == total)
    if step == _last[0]:
        return
    _last[0] = step
    sys.stderr.write("\r  [%s%s] %d/%d" % ("#" * filled, "." * (width - filled), done, total))
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def print_table(answer):
    """Text left, numbers right, as a terminal table."""
    cols = answer["columns"]
    cells = [["" if v is None else "%.2f" % v if isinstance(v, float) else str(v) for v in r]
             for r in answer["rows"]]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    numeric = [all(isinstance(r[i], (int, float)) for r in answer["rows"])
               for i in range(len(cols))]

    def line(values):
        return "  " + "  ".join(v.rjust(w) if num else v.ljust(w)
                                for v, w, num in zip(values, widths, numeric)).rstrip()

    print(line(cols))
    print(line(["-" * w for w in widths]))
    for r in cells:
        print(line(r))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", default=os.environ.get("SLUICE_ENDPOINT",
                                                         "http://127.0.0.1:4566"))
    ap.add_argument("--data-dir", default="./data")
    ap.add_argument("--invoices", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()

    key, secret = credentials(args.data_dir)
    p = Pipeline(args.endpoint, key, secret)
    print("invoice archive on %s" % args.endpoint)
    print("- removing what an earlier run left")
    p.teardown()
    print("- creating table %s (stream), bucket %s, delivery stream %s, function %s, mapping"
          % (TABLE, BUCKET, DELIVERY_STREAM, FUNCTION))
    p.setup()
    invoices = make_invoices(args.invoices, seed=int(time.time()))
    print("- writing %d invoices" % len(invoices))
    t0 = time.time()
    p.write_invoices(invoices, progress=bar)
    print("  written in %.1f s" % (time.time() - t0))
    print("- waiting for the archive")
    year = time.strftime("%Y/", time.gmtime())
    deadline = time.time() + args.timeout
    while True:
        n = p.query("SELECT count(DISTINCT invoice_id) FROM archive('%s', '%s')"
                    % (BUCKET, year))["rows"][0][0]
        bar(min(n, len(invoices)), len(invoices))
        if n >= len(invoices):
            break
        if time.time() > deadline:
            sys.exit("\nthe archive holds %d of %d invoices after %.0f s"
                     % (n, len(invoices), args.timeout))
        time.sleep(0.5)
    print("  archived %.1f s after the first write" % (time.time() - t0))
    sql = ("SELECT customer, count(*) AS invoices, sum(amount) AS total FROM archive('%s', '%s')"
           " GROUP BY customer ORDER BY customer" % (BUCKET, year))
    print("- %s" % sql)
    print_table(p.query(sql))


if __name__ == "__main__":
    main()
