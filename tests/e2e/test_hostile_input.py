"""Hostile input over HTTP: for every operation of the JSON services (DynamoDB, DynamoDB
Streams, Lambda, Firehose), one small valid request is mutated member by member (null, each
wrong JSON type, empty values, a 70,000-character string, deep nesting, removal) and the whole
body is broken (not JSON, a JSON array, truncated, 1 MB of spaces, duplicate keys, invalid
UTF-8, a 17 MB body announced to DynamoDB). Every answer must come quickly, never be a 5xx or
a dropped connection, and every 4xx must carry the service's error shape. At the end the server
still answers and its stderr holds no sanitizer report.

Mutation paths are sampled with a fixed seed so that a run is repeatable and stays short under
ASan."""
import base64
import http.client
import io
import json
import random
import socket
import time
import zipfile

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import SANITIZER_MARKS

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
TIMELY = 5.0                    # seconds an answer may take
PATHS_PER_OP = 60               # member paths mutated per operation
BIG = "x" * 70000
SEED = 20120810


def deep_list(n):
    v = "leaf"
    for _ in range(n):
        v = [v]
    return v


def deep_av(n):
    v = {"S": "leaf"}
    for i in range(n):
        v = {"M": {"m": v}} if i % 2 else {"L": [v]}
    return v


# (name, value, changes the JSON type of a member that was not null)
MUTATIONS = [
    ("null", None),
    ("string", "hostile"),
    ("number", 12345),
    ("negative", -1),
    ("float", 1.5e300),
    ("bool", True),
    ("list", ["hostile"]),
    ("object", {"hostile": "x"}),
    ("empty-string", ""),
    ("empty-list", []),
    ("empty-object", {}),
    ("big-string", BIG),
    ("deep-list", deep_list(100)),
    ("deep-av", deep_av(100)),
]


def jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    return "object"


def paths_of(v, prefix=()):
    """Every member path of a JSON value (dict keys and list indexes), outermost first."""
    out = []
    if isinstance(v, dict):
        for k, x in v.items():
            out.append(prefix + (k,))
            out += paths_of(x, prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out.append(prefix + (i,))
            out += paths_of(x, prefix + (i,))
    return out


def get_at(v, path):
    for p in path:
        v = v[p]
    return v


def mutate(body, path, value, remove=False):
    b = json.loads(json.dumps(body))
    parent = get_at(b, path[:-1])
    if remove:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return b


def sample_paths(op, body):
    """All top-level members plus a deterministic sample of the deeper ones."""
    ps = paths_of(body)
    top = [p for p in ps if len(p) == 1]
    deeper = [p for p in ps if len(p) > 1]
    rnd = random.Random("%d/%s" % (SEED, op))
    rnd.shuffle(deeper)
    return top + deeper[:max(0, PATHS_PER_OP - len(top))]


class Sender:
    """Signed raw requests over a fresh connection each, so a dropped connection is seen."""

    def __init__(self, server):
        self.server = server
        self.creds = botocore.credentials.Credentials(server.access_key, server.secret)

    def send(self, method, path, data, headers, service, sign=True, timeout=TIMELY * 2):
        url = self.server.endpoint + path
        headers = dict(headers)
        if sign:
            req = botocore.awsrequest.AWSRequest(method=method, url=url, data=data,
                                                 headers=headers)
            botocore.auth.SigV4Auth(self.creds, service, "us-east-1").add_auth(req)
            headers = dict(req.headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        t0 = time.time()
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), body, \
                time.time() - t0
        finally:
            conn.close()

    def json_target(self, prefix, ctype, service, op, data):
        if not isinstance(data, bytes):
            data = json.dumps(data).encode()
        return self.send("POST", "/", data, {"Content-Type": ctype,
                                             "X-Amz-Target": prefix + op}, service)


def check_json_answer(what, status, headers, body, took, must_fail):
    assert took < TIMELY, "%s: answered after %.1f s" % (what, took)
    assert status < 500, "%s: HTTP %d %r" % (what, status, body[:300])
    if must_fail:
        assert 400 <= status < 500, "%s: accepted (HTTP %d %r)" % (what, status, body[:300])
    if status >= 400:
        doc = json.loads(body)
        assert isinstance(doc.get("__type"), str) and doc["__type"], \
            "%s: no __type in %r" % (what, body[:300])
        return doc
    return None


def check_rest_json_answer(what, status, headers, body, took, must_fail):
    assert took < TIMELY, "%s: answered after %.1f s" % (what, took)
    assert status < 500, "%s: HTTP %d %r" % (what, status, body[:300])
    if must_fail:
        assert 400 <= status < 500, "%s: accepted (HTTP %d %r)" % (what, status, body[:300])
    if status >= 400:
        assert headers.get("x-amzn-errortype"), "%s: no x-amzn-ErrorType (%r)" % (what, body)
        doc = json.loads(body)
        assert doc.get("Type") == "User", "%s: %r" % (what, body[:300])
        return doc
    return None


def whole_body_cases(valid):
    text = json.dumps(valid)
    return [
        ("not-json", b"this is not json"),
        ("json-array", json.dumps([valid]).encode()),
        ("json-string", b'"hello"'),
        ("json-number", b"42"),
        ("json-null", b"null"),
        ("truncated", text[:len(text) // 2].encode()),
        ("spaces-1mb", b" " * (1 << 20)),
        ("invalid-utf8", text.replace("}", ',"k": "\xff\xfe"}', 1).encode("latin-1")),
        ("nul-byte", text.encode().replace(b"{", b'{"k": "a\\u0000b", ', 1)),
        ("lone-surrogate", text.encode().replace(b"{", b'{"k": "\\ud800", ', 1)),
        ("deep-10000", b"[" * 10000 + b"]" * 10000),
        ("deep-object-5000", b'{"a":' * 5000 + b"1" + b"}" * 5000),
    ]


# ---- DynamoDB ----

DDB_CT = "application/x-amz-json-1.0"
T = "HostileT"
KEY = {"pk": {"S": "k1"}, "sk": {"N": "1"}}
ITEM = {"pk": {"S": "k1"}, "sk": {"N": "1"}, "g": {"S": "gv"}, "n": {"N": "5"},
        "l": {"L": [{"S": "a"}, {"N": "2"}]}, "m": {"M": {"x": {"BOOL": True}}},
        "ss": {"SS": ["a", "b"]}, "b": {"B": "AAE="}}

DDB_OPS = {
    "BatchExecuteStatement": {"Statements": [
        {"Statement": 'SELECT * FROM "%s" WHERE pk = ?' % T, "Parameters": [{"S": "k1"}]},
        {"Statement": 'INSERT INTO "%s" VALUE {\'pk\': ?, \'sk\': 9}' % T,
         "Parameters": [{"S": "k9"}]}]},
    "BatchGetItem": {"RequestItems": {T: {"Keys": [KEY], "ProjectionExpression": "#p, g",
                                          "ExpressionAttributeNames": {"#p": "pk"},
                                          "ConsistentRead": True}},
                     "ReturnConsumedCapacity": "TOTAL"},
    "BatchWriteItem": {"RequestItems": {T: [{"PutRequest": {"Item": ITEM}},
                                            {"DeleteRequest": {"Key": {"pk": {"S": "k2"},
                                                                       "sk": {"N": "2"}}}}]},
                       "ReturnConsumedCapacity": "INDEXES",
                       "ReturnItemCollectionMetrics": "SIZE"},
    "CreateTable": {"TableName": "HostileNew",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                             {"AttributeName": "g", "AttributeType": "N"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                    "GlobalSecondaryIndexes": [{
                        "IndexName": "gi", "KeySchema": [{"AttributeName": "g",
                                                          "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "INCLUDE",
                                       "NonKeyAttributes": ["a"]}}],
                    "BillingMode": "PAY_PER_REQUEST",
                    "StreamSpecification": {"StreamEnabled": True,
                                            "StreamViewType": "KEYS_ONLY"},
                    "Tags": [{"Key": "k", "Value": "v"}]},
    "DeleteItem": {"TableName": T, "Key": {"pk": {"S": "k3"}, "sk": {"N": "3"}},
                   "ConditionExpression": "attribute_not_exists(#n) OR n > :v",
                   "ExpressionAttributeNames": {"#n": "n"},
                   "ExpressionAttributeValues": {":v": {"N": "1"}},
                   "ReturnValues": "ALL_OLD"},
    "DeleteTable": {"TableName": "HostileMissing"},
    "DescribeEndpoints": {},
    "DescribeLimits": {},
    "DescribeTable": {"TableName": T},
    "DescribeTimeToLive": {"TableName": T},
    "ExecuteStatement": {"Statement": 'SELECT pk, g FROM "%s" WHERE pk = ? AND sk > ?' % T,
                         "Parameters": [{"S": "k1"}, {"N": "0"}], "ConsistentRead": True,
                         "Limit": 10},
    "ExecuteTransaction": {"TransactStatements": [
        {"Statement": 'UPDATE "%s" SET g = ? WHERE pk = ? AND sk = 1' % T,
         "Parameters": [{"S": "g2"}, {"S": "k1"}]}],
        "ClientRequestToken": "tok-1"},
    "GetItem": {"TableName": T, "Key": KEY, "ProjectionExpression": "l[0], m.x, #g",
                "ExpressionAttributeNames": {"#g": "g"}, "ConsistentRead": False},
    "ListTables": {"ExclusiveStartTableName": "A", "Limit": 10},
    "ListTagsOfResource": {"ResourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/" + T},
    "PutItem": {"TableName": T, "Item": ITEM, "ConditionExpression": "size(l) < :z",
                "ExpressionAttributeValues": {":z": {"N": "10"}}, "ReturnValues": "ALL_OLD"},
    "Query": {"TableName": T, "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
              "FilterExpression": "begins_with(g, :g)",
              "ExpressionAttributeValues": {":p": {"S": "k1"}, ":a": {"N": "0"},
                                            ":b": {"N": "9"}, ":g": {"S": "g"}},
              "Limit": 5, "ScanIndexForward": False, "Select": "ALL_ATTRIBUTES",
              "ExclusiveStartKey": KEY},
    "Scan": {"TableName": T, "IndexName": "gidx", "Segment": 0, "TotalSegments": 2,
             "FilterExpression": "contains(ss, :a)",
             "ExpressionAttributeValues": {":a": {"S": "a"}}, "Limit": 3},
    "TagResource": {"ResourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/" + T,
                    "Tags": [{"Key": "env", "Value": "test"}]},
    "TransactGetItems": {"TransactItems": [{"Get": {"TableName": T, "Key": KEY,
                                                    "ProjectionExpression": "g"}}]},
    "TransactWriteItems": {"TransactItems": [
        {"Put": {"TableName": T, "Item": {"pk": {"S": "k5"}, "sk": {"N": "5"}}}},
        {"Update": {"TableName": T, "Key": {"pk": {"S": "k6"}, "sk": {"N": "6"}},
                    "UpdateExpression": "ADD n :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"ConditionCheck": {"TableName": T, "Key": {"pk": {"S": "k7"}, "sk": {"N": "7"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Delete": {"TableName": T, "Key": {"pk": {"S": "k8"}, "sk": {"N": "8"}}}}],
        "ClientRequestToken": "tok-2", "ReturnConsumedCapacity": "TOTAL"},
    "UntagResource": {"ResourceArn": "arn:aws:dynamodb:us-east-1:000000000000:table/" + T,
                      "TagKeys": ["env"]},
    "UpdateItem": {"TableName": T, "Key": KEY,
                   "UpdateExpression": "SET g = :g, l[1] = :n REMOVE m.x ADD ss :s",
                   "ExpressionAttributeValues": {":g": {"S": "g3"}, ":n": {"N": "3"},
                                                 ":s": {"SS": ["c"]}},
                   "ReturnValues": "UPDATED_NEW"},
    "UpdateTable": {"TableName": "HostileU",
                    "AttributeDefinitions": [{"AttributeName": "h", "AttributeType": "S"}],
                    "GlobalSecondaryIndexUpdates": [{"Create": {
                        "IndexName": "hi", "KeySchema": [{"AttributeName": "h",
                                                          "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "KEYS_ONLY"}}}]},
    "UpdateTimeToLive": {"TableName": T, "TimeToLiveSpecification": {"Enabled": True,
                                                                     "AttributeName": "ttl"}},
}


def ddb(sender, op, data):
    return sender.json_target("DynamoDB_20120810.", DDB_CT, "dynamodb", op, data)


@pytest.fixture(scope="module")
def hostile(module_server):
    s = module_server
    sender = Sender(s)
    for name, extra in ((T, {"GlobalSecondaryIndexes": [{
            "IndexName": "gidx", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}],
            "StreamSpecification": {"StreamEnabled": True,
                                    "StreamViewType": "NEW_AND_OLD_IMAGES"}}),
                        ("HostileU", {})):
        attrs = [{"AttributeName": "pk", "AttributeType": "S"},
                 {"AttributeName": "sk", "AttributeType": "N"}]
        if extra:
            attrs.append({"AttributeName": "g", "AttributeType": "S"})
        body = dict({"TableName": name, "AttributeDefinitions": attrs,
                     "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                     "BillingMode": "PAY_PER_REQUEST"}, **extra)
        st, _, b, _ = ddb(sender, "CreateTable", body)
        assert st == 200, b
    st, _, b, _ = ddb(sender, "PutItem", {"TableName": T, "Item": ITEM})
    assert st == 200, b
    yield s, sender
    # The server must still answer, and must not have reported anything so far.
    st, _, b, _ = ddb(sender, "ListTables", {})
    assert st == 200, b
    s.check_clean()


def run_mutations(op, valid, call, check, strict_types):
    """Sends every mutation of valid; returns the list of failures (not raised one by one, so
    a run shows them all)."""
    failures = []

    def attempt(what, data, must_fail):
        try:
            st, hd, b, took = call(data)
            check(what, st, hd, b, took, must_fail)
        except AssertionError as e:
            failures.append(str(e))
        except (OSError, http.client.HTTPException, ValueError) as e:
            failures.append("%s: %s: %s" % (what, type(e).__name__, e))

    for name, data in whole_body_cases(valid):
        attempt("%s whole-body %s" % (op, name), data, True)
    for path in sample_paths(op, valid):
        orig = get_at(valid, path)
        for name, value in MUTATIONS:
            must = strict_types and orig is not None and value is not None and \
                jtype(value) != jtype(orig) and not isinstance(path[-1], int)
            attempt("%s %s=%s" % (op, "/".join(map(str, path)), name),
                    mutate(valid, path, value), must)
        attempt("%s %s removed" % (op, "/".join(map(str, path))),
                mutate(valid, path, None, remove=True), False)
    return failures


@pytest.mark.parametrize("op", sorted(DDB_OPS))
def test_dynamodb_hostile(hostile, op):
    _, sender = hostile
    failures = run_mutations(op, DDB_OPS[op], lambda d: ddb(sender, op, d),
                             check_json_answer, True)
    assert not failures, "\n".join(failures[:40])


def test_dynamodb_wrong_type_is_serialization_exception(hostile):
    _, sender = hostile
    for op, body in (("GetItem", {"TableName": 5, "Key": KEY}),
                     ("PutItem", {"TableName": T, "Item": []}),
                     ("Query", {"TableName": T, "Limit": "5"}),
                     ("BatchGetItem", {"RequestItems": []})):
        st, _, b, _ = ddb(sender, op, body)
        doc = json.loads(b)
        assert st == 400 and doc["__type"].endswith("#SerializationException"), (op, b)


def test_dynamodb_not_json_is_serialization_exception(hostile):
    _, sender = hostile
    for data in (b"nope", b"[1]", b'{"TableName": "x"', b" " * (1 << 20)):
        st, _, b, _ = ddb(sender, "DescribeTable", data)
        assert st == 400 and json.loads(b)["__type"].endswith("#SerializationException"), b


def test_dynamodb_17mb_refused_before_read(hostile):
    """A 17 MB body is refused on its Content-Length: the answer comes though only a few bytes
    of the body were ever sent."""
    s, _ = hostile
    body = b"{" + b" " * 64
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=s.endpoint + "/", data=b"",
        headers={"Content-Type": DDB_CT, "X-Amz-Target": "DynamoDB_20120810.PutItem"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(s.access_key, s.secret),
                            "dynamodb", "us-east-1").add_auth(req)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=TIMELY)
    try:
        head = "POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: %d\r\n" % (
            s.port, 17 * 1024 * 1024)
        for k, v in req.headers.items():
            if k.lower() not in ("content-length", "host"):
                head += "%s: %s\r\n" % (k, v)
        sock.sendall(head.encode() + b"\r\n" + body)
        t0 = time.time()
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = sock.recv(65536)
            assert chunk, "connection dropped without an answer"
            got += chunk
        assert time.time() - t0 < TIMELY
        status = int(got.split(b" ", 2)[1])
        assert status == 413, got[:400]
        hdr, _, rest = got.partition(b"\r\n\r\n")
        length = int([l for l in hdr.split(b"\r\n") if l.lower().startswith(b"content-length")]
                     [0].split(b":")[1])
        while len(rest) < length:
            chunk = sock.recv(65536)
            assert chunk
            rest += chunk
        assert "__type" in json.loads(rest)
    finally:
        sock.close()


# ---- DynamoDB Streams ----

def streams(sender, op, data):
    return sender.json_target("DynamoDBStreams_20120810.", DDB_CT, "dynamodb", op, data)


def test_streams_hostile(hostile):
    _, sender = hostile
    st, _, b, _ = ddb(sender, "DescribeTable", {"TableName": T})
    arn = json.loads(b)["Table"]["LatestStreamArn"]
    st, _, b, _ = streams(sender, "DescribeStream", {"StreamArn": arn})
    assert st == 200, b
    shard = json.loads(b)["StreamDescription"]["Shards"][0]["ShardId"]
    st, _, b, _ = streams(sender, "GetShardIterator", {"StreamArn": arn, "ShardId": shard,
                                                       "ShardIteratorType": "TRIM_HORIZON"})
    assert st == 200, b
    it = json.loads(b)["ShardIterator"]
    ops = {
        "DescribeStream": {"StreamArn": arn, "Limit": 10, "ExclusiveStartShardId": shard},
        "GetRecords": {"ShardIterator": it, "Limit": 5},
        "GetShardIterator": {"StreamArn": arn, "ShardId": shard,
                             "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                             "SequenceNumber": "100000000000000000001"},
        "ListStreams": {"TableName": T, "Limit": 5, "ExclusiveStartStreamArn": arn},
    }
    failures = []
    for op, valid in sorted(ops.items()):
        failures += run_mutations(op, valid, lambda d, op=op: streams(sender, op, d),
                                  check_json_answer, True)
    assert not failures, "\n".join(failures[:40])


# ---- Firehose ----

FH_CT = "application/x-amz-json-1.1"


def firehose(sender, op, data):
    return sender.json_target("Firehose_20150804.", FH_CT, "firehose", op, data)


def test_firehose_hostile(hostile):
    s, sender = hostile
    s.client("s3").create_bucket(Bucket="hostile-fh")
    dest = {"RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BucketARN": "arn:aws:s3:::hostile-fh", "Prefix": "p/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
            "CompressionFormat": "GZIP"}
    st, _, b, _ = firehose(sender, "CreateDeliveryStream", {
        "DeliveryStreamName": "hostile", "DeliveryStreamType": "DirectPut",
        "ExtendedS3DestinationConfiguration": dest})
    assert st == 200, b
    rec = {"Data": base64.b64encode(b"hello\n").decode()}
    ops = {
        "CreateDeliveryStream": {"DeliveryStreamName": "hostile2",
                                 "DeliveryStreamType": "DirectPut",
                                 "ExtendedS3DestinationConfiguration": dest,
                                 "Tags": [{"Key": "a", "Value": "b"}]},
        "DeleteDeliveryStream": {"DeliveryStreamName": "hostile-missing",
                                 "AllowForceDelete": True},
        "DescribeDeliveryStream": {"DeliveryStreamName": "hostile", "Limit": 1},
        "ListDeliveryStreams": {"Limit": 5, "DeliveryStreamType": "DirectPut",
                                "ExclusiveStartDeliveryStreamName": "a"},
        "PutRecord": {"DeliveryStreamName": "hostile", "Record": rec},
        "PutRecordBatch": {"DeliveryStreamName": "hostile", "Records": [rec, rec]},
    }
    failures = []
    for op, valid in sorted(ops.items()):
        failures += run_mutations(op, valid, lambda d, op=op: firehose(sender, op, d),
                                  check_json_answer, True)
    assert not failures, "\n".join(failures[:40])


# ---- Lambda (REST-JSON) ----

def zip_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def lam(sender, method, path, data=None):
    if data is not None and not isinstance(data, bytes):
        data = json.dumps(data).encode()
    return sender.send(method, path, data or b"", {"Content-Type": "application/json"},
                       "lambda")


def test_lambda_hostile(hostile):
    s, sender = hostile
    code = base64.b64encode(zip_bytes()).decode()
    st, _, b, _ = lam(sender, "POST", "/2015-03-31/functions", {
        "FunctionName": "hostile", "Runtime": "python3.12", "Role": ROLE,
        "Handler": "app.handler", "Code": {"ZipFile": code}})
    assert st == 201, b
    st, _, b, _ = ddb(sender, "DescribeTable", {"TableName": T})
    arn = json.loads(b)["Table"]["LatestStreamArn"]
    ops = {
        ("POST", "/2015-03-31/functions"): {
            "FunctionName": "hostile2", "Runtime": "python3.12", "Role": ROLE,
            "Handler": "app.handler", "Code": {"ZipFile": code}, "Timeout": 3,
            "MemorySize": 128, "Environment": {"Variables": {"A": "b"}},
            "Architectures": ["x86_64"], "Description": "d", "Publish": False},
        ("PUT", "/2015-03-31/functions/hostile/code"): {"ZipFile": code, "Publish": False},
        ("POST", "/2015-03-31/event-source-mappings"): {
            "EventSourceArn": arn, "FunctionName": "hostile-missing",
            "StartingPosition": "LATEST", "BatchSize": 10, "Enabled": False,
            "MaximumBatchingWindowInSeconds": 1},
    }
    failures = []
    for (method, path), valid in sorted(ops.items()):
        failures += run_mutations(
            method + " " + path, valid,
            lambda d, m=method, p=path: lam(sender, m, p, d), check_rest_json_answer, True)
    # Invoke's payload is opaque JSON: only the whole-body cases apply, and none may reach
    # the function.
    for name, data in whole_body_cases({"a": 1}):
        if name in ("json-array", "json-string", "json-number", "json-null"):
            continue
        try:
            st, hd, b, took = lam(sender, "POST", "/2015-03-31/functions/hostile/invocations",
                                  data)
            check_rest_json_answer("Invoke " + name, st, hd, b, took, True)
        except AssertionError as e:
            failures.append(str(e))
    # Invoke's headers, each refused before the function runs (or a DryRun).
    for hdrs in ({"X-Amz-Invocation-Type": "Bogus"}, {"X-Amz-Log-Type": "Bogus"},
                 {"X-Amz-Client-Context": "!!!"},
                 {"X-Amz-Client-Context": base64.b64encode(b"x" * 4000).decode()},
                 {"X-Amz-Client-Context": base64.b64encode(b"{not json").decode()},
                 {"X-Amz-Invocation-Type": "DryRun", "X-Amz-Log-Type": "x" * 7000}):
        try:
            st, hd, b, took = sender.send("POST", "/2015-03-31/functions/hostile/invocations",
                                          b"{}", dict({"Content-Type": "application/json"},
                                                      **hdrs), "lambda")
            check_rest_json_answer("Invoke %r" % {k: v[:20] for k, v in hdrs.items()}, st, hd,
                                   b, took, True)
        except AssertionError as e:
            failures.append(str(e))
    # Operations without a body, with hostile path members.
    for method, path in (("GET", "/2015-03-31/functions/" + "x" * 70000),
                         ("GET", "/2015-03-31/functions/%00"),
                         ("GET", "/2015-03-31/functions/%ff%fe/configuration"),
                         ("DELETE", "/2015-03-31/functions/a%2Fb"),
                         ("GET", "/2015-03-31/functions?MaxItems=-1&Marker=%ff"),
                         ("GET", "/2015-03-31/functions?MaxItems=abc"),
                         ("GET", "/2015-03-31/event-source-mappings/not-a-uuid"),
                         ("GET", "/2015-03-31/event-source-mappings?FunctionName=%00"),
                         ("DELETE", "/2015-03-31/event-source-mappings/" + "u" * 5000),
                         ("GET", "/2015-03-31/functions/hostile/code/" + "0" * 32 + ".zip"),
                         ("POST", "/2015-03-31/functions/hostile/invocations?Qualifier=%ff")):
        try:
            st, hd, b, took = lam(sender, method, path)
            if len(path) > 60000:
                # The front door refuses an oversized request line before any service.
                assert took < TIMELY and st < 500 and st >= 400, (path[:80], st)
                continue
            check_rest_json_answer(method + " " + path[:80], st, hd, b, took, True)
        except AssertionError as e:
            failures.append(str(e))
    # The Runtime API, unsigned, for a request id that is no invocation.
    for path, data in (("/2018-06-01/runtime/invocation/nope/response", b"{not json"),
                       ("/2018-06-01/runtime/invocation/nope/error", b"\xff" * 100),
                       ("/2018-06-01/runtime/init/error", b"[" * 5000)):
        try:
            st, hd, b, took = sender.send("POST", path, data, {}, "lambda", sign=False)
            assert took < TIMELY and 400 <= st < 500, (path, st, b[:200])
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures[:40])


def test_server_still_answers_clean(hostile):
    s, sender = hostile
    st, _, b, _ = ddb(sender, "GetItem", {"TableName": T, "Key": KEY})
    assert st == 200, b
    err = s.stderr()
    for mark in SANITIZER_MARKS:
        assert mark not in err, err


# ---- regressions found by the sweep ----

def test_regression_streams_empty_arn_is_validation(hostile):
    """DescribeStream / GetShardIterator with StreamArn "" once reached LMDB with an empty
    key and answered 500."""
    _, sender = hostile
    for op, body in (("DescribeStream", {"StreamArn": ""}),
                     ("GetShardIterator", {"StreamArn": "", "ShardId": "shardId-0",
                                           "ShardIteratorType": "LATEST"})):
        st, _, b, _ = streams(sender, op, body)
        doc = json.loads(b)
        assert st == 400 and doc["__type"].endswith("#ValidationException"), (op, b)
        assert "at 'streamArn' failed to satisfy constraint: Member must have length greater " \
               "than or equal to 37" in doc["message"], b


def test_regression_streams_member_types(hostile):
    _, sender = hostile
    arn = "arn:aws:dynamodb:us-east-1:000000000000:table/%s/stream/x" % T
    for op, body in (("DescribeStream", {"StreamArn": arn, "Limit": "5"}),
                     ("DescribeStream", {"StreamArn": arn, "ExclusiveStartShardId": 5}),
                     ("ListStreams", {"Limit": "5"}),
                     ("GetRecords", {"ShardIterator": "x", "Limit": True})):
        st, _, b, _ = streams(sender, op, body)
        assert st == 400 and json.loads(b)["__type"].endswith("#SerializationException"), \
            (op, b)


def test_regression_query_select_type(hostile):
    """Query skipped the type check of Select (taken for the Scan-only Segment)."""
    _, sender = hostile
    st, _, b, _ = ddb(sender, "Query", {"TableName": T, "Select": 5,
                                        "KeyConditionExpression": "pk = :p",
                                        "ExpressionAttributeValues": {":p": {"S": "k1"}}})
    assert st == 400 and json.loads(b)["__type"].endswith("#SerializationException"), b


def test_regression_firehose_list_member_types(hostile):
    _, sender = hostile
    for body in ({"Limit": "5"}, {"DeliveryStreamType": 1},
                 {"ExclusiveStartDeliveryStreamName": []}):
        st, _, b, _ = firehose(sender, "ListDeliveryStreams", body)
        assert st == 400 and json.loads(b)["__type"].endswith("SerializationException"), b


def test_regression_lambda_nul_in_function_name(hostile):
    """/functions/%00 was split at the NUL and answered as ListFunctions; f%00x named f."""
    _, sender = hostile
    for path in ("/2015-03-31/functions/%00", "/2015-03-31/functions/hostile%00x/configuration"):
        st, hd, b, _ = lam(sender, "GET", path)
        assert st == 400, (path, st, b[:200])
        assert hd.get("x-amzn-errortype") in ("ValidationException",
                                              "InvalidParameterValueException"), (path, hd, b)


def test_regression_nul_in_a_query_value(hostile):
    """?Qualifier=%24LATEST%00x was read as $LATEST (the C string ended at the NUL)."""
    _, sender = hostile
    st, hd, b, _ = lam(sender, "GET", "/2015-03-31/functions/hostile/configuration"
                       "?Qualifier=%24LATEST%00x")
    assert st in (400, 404), (st, b[:200])
    assert hd.get("x-amzn-errortype") in ("ValidationException", "InvalidParameterValueException",
                                          "ResourceNotFoundException"), (hd, b)


# ---- hostile values the member mutations do not reach ----

# DynamoDB's Java front end converts "true"/"yes" strings to booleans, so those are not here;
# an empty S is valid outside keys since 2020.
HOSTILE_AVS = [{"N": v} for v in ("1e999999", "NaN", "-", "", "0x10", "1" * 39, "1e126",
                                  "1e-131", " 1", "1 ", "--1", "1..2", "Infinity")] + \
    [{"B": "!!!"}, {"B": "AAE"}, {"SS": []}, {"SS": ["a", "a"]}, {"NS": ["1", "1.0"]},
     {"BS": ["AA==", "AA=="]}, {"NULL": False}, {"NULL": "maybe"}, {"BOOL": 1},
     {"S": "a", "N": "1"}, {}, {"X": "1"}, {"L": None}, {"M": []}, deep_av(40),
     {"S": "\ud800"}]


def test_dynamodb_hostile_attribute_values(hostile):
    _, sender = hostile
    failures = []
    for av in HOSTILE_AVS:
        for op, body in (("PutItem", {"TableName": T, "Item": dict(KEY, a=av)}),
                         ("PutItem", {"TableName": T, "Item": {"pk": av, "sk": {"N": "1"}}}),
                         ("GetItem", {"TableName": T, "Key": {"pk": {"S": "k"}, "sk": av}}),
                         ("Query", {"TableName": T, "KeyConditionExpression": "pk = :p",
                                    "ExpressionAttributeValues": {":p": av}}),
                         ("ExecuteStatement", {"Statement": 'SELECT * FROM "%s" WHERE pk = ?'
                                               % T, "Parameters": [av]})):
            what = "%s %s" % (op, json.dumps(av)[:80])
            try:
                st, hd, b, took = ddb(sender, op, body)
                check_json_answer(what, st, hd, b, took, True)
            except AssertionError as e:
                failures.append(str(e))
    assert not failures, "\n".join(failures[:40])


def hostile_expressions():
    return ["(" * 100000, "(" * 5000 + "a = b" + ")" * 5000, "NOT " * 20000 + "a = b",
            "a = b AND " * 10000 + "a = b", "a." * 20000 + "b", "a" + "[0]" * 20000,
            "size(" * 5000 + "a" + ")" * 5000, "a = :v" + "\x00", "\xff\xfe", "#" * 70000,
            "a IN (" + ", ".join([":v"] * 1000) + ")", "begins_with(", "a BETWEEN",
            ":v" * 30000]


def test_dynamodb_hostile_expressions(hostile):
    _, sender = hostile
    failures = []
    eav = {":v": {"N": "1"}}
    for e in hostile_expressions():
        for op, body in (
                ("PutItem", {"TableName": T, "Item": ITEM, "ConditionExpression": e,
                             "ExpressionAttributeValues": eav}),
                ("GetItem", {"TableName": T, "Key": KEY, "ProjectionExpression": e}),
                ("Scan", {"TableName": T, "FilterExpression": e,
                          "ExpressionAttributeValues": eav}),
                ("Query", {"TableName": T, "KeyConditionExpression": e,
                           "ExpressionAttributeValues": eav}),
                ("UpdateItem", {"TableName": T, "Key": KEY, "UpdateExpression": "SET " + e,
                                "ExpressionAttributeValues": eav}),
                ("UpdateItem", {"TableName": T, "Key": KEY, "UpdateExpression": e,
                                "ExpressionAttributeValues": eav}),
                ("ExecuteStatement", {"Statement": 'SELECT * FROM "%s" WHERE ' % T + e}),
                ("ExecuteStatement", {"Statement": e})):
            what = "%s %r" % (op, e[:40])
            try:
                st, hd, b, took = ddb(sender, op, body)
                check_json_answer(what, st, hd, b, took, True)
            except AssertionError as e2:
                failures.append(str(e2))
            except (OSError, http.client.HTTPException) as e2:
                failures.append("%s: %s" % (what, e2))
    assert not failures, "\n".join(failures[:40])


def test_dynamodb_hostile_framing(hostile):
    """Bad framing: no or wrong Content-Type, unknown or huge targets, a chunked body past the
    limit with no Content-Length."""
    s, sender = hostile
    failures = []
    for what, headers in (
            ("no-target", {"Content-Type": DDB_CT}),
            ("unknown-op", {"Content-Type": DDB_CT, "X-Amz-Target": "DynamoDB_20120810.Nope"}),
            ("huge-op", {"Content-Type": DDB_CT,
                         "X-Amz-Target": "DynamoDB_20120810." + "A" * 6000}),
            ("bad-prefix", {"Content-Type": DDB_CT, "X-Amz-Target": "DynamoDB_2099.GetItem"}),
            ("ctype-text", {"Content-Type": "text/plain",
                            "X-Amz-Target": "DynamoDB_20120810.ListTables"})):
        try:
            st, hd, b, took = sender.send("POST", "/", b"{}", headers, "dynamodb")
            assert took < TIMELY and st < 500, (what, st, b[:200])
            if st >= 400:
                assert b, (what, st)
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)
    # 17 MB sent chunked: refused once past the limit, not buffered to the end.
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=TIMELY * 4)
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=s.endpoint + "/", data=b"",
        headers={"Content-Type": DDB_CT, "X-Amz-Target": "DynamoDB_20120810.PutItem"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(s.access_key, s.secret),
                            "dynamodb", "us-east-1").add_auth(req)
    hdrs = {k: v for k, v in req.headers.items() if k.lower() != "content-length"}
    hdrs["Transfer-Encoding"] = "chunked"

    def chunks():
        piece = b" " * (1 << 20)
        for _ in range(17):
            yield piece
    t0 = time.time()
    try:
        conn.request("POST", "/", body=chunks(), headers=hdrs, encode_chunked=True)
        resp = conn.getresponse()
        st, b = resp.status, resp.read()
    except (BrokenPipeError, ConnectionResetError):
        st, b = 413, b'{"__type": "closed"}'    # the server stopped reading: a refusal
    finally:
        conn.close()
    assert time.time() - t0 < TIMELY * 4
    assert 400 <= st < 500, (st, b[:200])


def zip_of(entries, compress=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = compress
            z.writestr(info, data)
    return buf.getvalue()


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_lambda_hostile_zips(hostile):
    """Code packages built to escape or exhaust: path traversal, absolute paths, symlinks out,
    a 300 MB bomb, a corrupt archive. Each is refused or confined, and nothing lands outside
    the function's code directory."""
    s, sender = hostile
    ok = ("app.py", b"def handler(e, c):\n    return e\n", 0o100644)
    cases = [
        ("traversal", zip_of([ok, ("../../hostile-escape.py", b"x", 0o100644)])),
        ("absolute", zip_of([ok, ("/tmp/hostile-escape-abs.py", b"x", 0o100644)])),
        ("symlink", zip_of([ok, ("link", b"/etc", 0o120777)])),
        ("bomb", zip_of([ok, ("zeros", b"\0" * (300 << 20), 0o100644)])),
        ("corrupt", zip_of([ok])[:-30]),
        ("not-zip", b"PK\x03\x04" + b"\xff" * 200),
        ("empty", b""),
        ("dup-names", zip_of([ok, ok])),
    ]
    failures = []
    for i, (name, data) in enumerate(cases):
        body = {"FunctionName": "hostile-zip%d" % i, "Runtime": "python3.12", "Role": ROLE,
                "Handler": "app.handler", "Code": {"ZipFile": base64.b64encode(data).decode()}}
        try:
            st, hd, b, took = lam(sender, "POST", "/2015-03-31/functions", body)
            check_rest_json_answer("CreateFunction zip " + name, st, hd, b, took,
                                   name in ("bomb", "corrupt", "not-zip", "empty"))
        except AssertionError as e:
            failures.append(str(e))
    assert not failures, "\n".join(failures)
    import os
    import glob
    for p in ("/tmp/hostile-escape-abs.py",):
        assert not os.path.exists(p), p
    assert not glob.glob(os.path.join(os.path.dirname(s.data_dir), "**", "hostile-escape.py"),
                         recursive=True)
    assert not os.path.exists(os.path.join(os.path.dirname(os.path.dirname(s.data_dir)),
                                           "hostile-escape.py"))
