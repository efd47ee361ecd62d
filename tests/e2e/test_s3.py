"""S3 end to end: buckets, objects, ranges, listings, errors, virtual-hosted style, the aws
CLI, a SIGKILL under put load, and the memory of a large streamed PUT."""
import hashlib
import http.client
import os
import subprocess
import threading
import time

import boto3
import botocore.config
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from urllib3.exceptions import HTTPError

from conftest import AWS_CLI


def s3c(server, style="path"):
    """A boto3 S3 client with path-style addressing (the server's endpoint is an IP)."""
    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=server.access_key,
                        aws_secret_access_key=server.secret,
                        config=botocore.config.Config(
                            s3={"addressing_style": style},
                            retries={"max_attempts": 0, "mode": "standard"},
                            connect_timeout=5, read_timeout=60))


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ---- buckets ----

def test_bucket_lifecycle(server):
    s3 = s3c(server)
    assert s3.list_buckets()["Buckets"] == []
    t0 = time.time()
    s3.create_bucket(Bucket="alpha")
    s3.create_bucket(Bucket="beta.example",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    out = s3.list_buckets()
    assert [b["Name"] for b in out["Buckets"]] == ["alpha", "beta.example"]
    assert abs(out["Buckets"][0]["CreationDate"].timestamp() - t0) < 5
    assert len(out["Owner"]["ID"]) == 64
    s3.head_bucket(Bucket="alpha")
    assert s3.get_bucket_location(Bucket="alpha")["LocationConstraint"] is None

    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="alpha")
    assert error_code(e) == "BucketAlreadyOwnedByYou" and status(e) == 409

    s3.put_object(Bucket="alpha", Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert error_code(e) == "BucketNotEmpty" and status(e) == 409
    s3.delete_object(Bucket="alpha", Key="k")
    s3.delete_bucket(Bucket="alpha")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["beta.example"]

    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="alpha")
    assert status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="alpha")
    assert error_code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="alpha")
    assert error_code(e) == "NoSuchBucket" and status(e) == 404
    assert e.value.response["Error"]["BucketName"] == "alpha"


@pytest.mark.parametrize("name", ["ab", "Upper", "under_score", "a..b", "192.168.1.1",
                                  "-dash", "x" * 64, "xn--punycode"])
def test_invalid_bucket_names(server, name):
    s3 = s3c(server)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error_code(e) == "InvalidBucketName" and status(e) == 400


def test_malformed_create_bucket_configuration(server):
    s3 = s3c(server)
    req = AWSRequest(method="PUT", url=server.endpoint + "/cfg-bucket", data=b"<Create><oops>")
    r = send_signed_to(server, req)
    assert r[0] == 400 and b"<Code>MalformedXML</Code>" in r[2]
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket="cfg-bucket")


# ---- objects ----

def test_put_get_head_delete_with_metadata(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="objs")
    body = os.urandom(100_000)
    put = s3.put_object(Bucket="objs", Key="dir/file.bin", Body=body, ContentType="image/png",
                        Metadata={"owner": "alice", "Mixed-Case": "Value 1"},
                        ContentDisposition='attachment; filename="f.bin"',
                        CacheControl="max-age=60", ContentEncoding="identity",
                        ContentLanguage="en", Expires="Thu, 01 Dec 2094 16:00:00 GMT")
    md5 = hashlib.md5(body).hexdigest()
    assert put["ETag"] == '"%s"' % md5

    got = s3.get_object(Bucket="objs", Key="dir/file.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == '"%s"' % md5
    assert got["ContentType"] == "image/png"
    assert got["ContentLength"] == len(body)
    assert got["Metadata"] == {"owner": "alice", "mixed-case": "Value 1"}
    assert got["ContentDisposition"] == 'attachment; filename="f.bin"'
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentEncoding"] == "identity"
    assert got["ContentLanguage"] == "en"
    assert got["ResponseMetadata"]["HTTPHeaders"]["accept-ranges"] == "bytes"
    assert got["ResponseMetadata"]["HTTPHeaders"]["last-modified"].endswith(" GMT")
    assert abs(got["LastModified"].timestamp() - time.time()) < 10

    head = s3.head_object(Bucket="objs", Key="dir/file.bin")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == '"%s"' % md5
    assert head["Metadata"]["owner"] == "alice"

    # Default content type, empty body, overwrite.
    s3.put_object(Bucket="objs", Key="empty", Body=b"")
    got = s3.get_object(Bucket="objs", Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentType"] == "binary/octet-stream"
    assert got["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    s3.put_object(Bucket="objs", Key="empty", Body=b"now full")
    assert s3.get_object(Bucket="objs", Key="empty")["Body"].read() == b"now full"

    d = s3.delete_object(Bucket="objs", Key="dir/file.bin")
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    d = s3.delete_object(Bucket="objs", Key="dir/file.bin")
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="objs", Key="dir/file.bin")
    assert error_code(e) == "NoSuchKey" and status(e) == 404
    assert e.value.response["Error"]["Key"] == "dir/file.bin"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="objs", Key="dir/file.bin")
    assert status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="no-such-bucket", Key="x")
    assert error_code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="no-such-bucket", Key="x", Body=b"x")
    assert error_code(e) == "NoSuchBucket"
    # Only the live body is left: small, so kept in the store, and no file.
    files = os.listdir(os.path.join(server.data_dir, "objects"))
    assert files == [], files
    assert server.inline_bodies() == 1


def test_delete_objects(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="multi")
    for i in range(30):
        s3.put_object(Bucket="multi", Key="k%02d" % i, Body=b"x")
    out = s3.delete_objects(Bucket="multi", Delete={"Objects": [
        {"Key": "k%02d" % i} for i in range(20)] + [{"Key": "missing"}, {"Key": "k00"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == sorted(
        ["k%02d" % i for i in range(20)] + ["missing", "k00"])
    assert "Errors" not in out
    left = [o["Key"] for o in s3.list_objects_v2(Bucket="multi")["Contents"]]
    assert left == ["k%02d" % i for i in range(20, 30)]
    out = s3.delete_objects(Bucket="multi", Delete={"Quiet": True, "Objects": [
        {"Key": "k%02d" % i} for i in range(20, 30)]})
    assert "Deleted" not in out
    assert "Contents" not in s3.list_objects_v2(Bucket="multi")
    assert os.listdir(os.path.join(server.data_dir, "objects")) == []
    with pytest.raises(ClientError) as e:
        s3.delete_objects(Bucket="multi", Delete={"Objects": [
            {"Key": "k%d" % i} for i in range(1001)]})
    assert error_code(e) == "MalformedXML"
    with pytest.raises(ClientError) as e:
        s3.delete_objects(Bucket="no-such-bucket", Delete={"Objects": [{"Key": "a"}]})
    assert error_code(e) == "NoSuchBucket"
    s3.delete_bucket(Bucket="multi")


def test_odd_keys_are_flat_bytes(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="keys")
    keys = ["a b", "plus+sign", "percent%20", "dots/../x", "a//b", "/lead", "trail/",
            "caf\u00e9/\u65e5\u672c", "amp&lt;<>", "q?x=1#frag", "k" * 1024,
            "tab\tkey", "long/" + "y" * 700, "long/" + "y" * 699 + "z"]
    for i, k in enumerate(keys):
        s3.put_object(Bucket="keys", Key=k, Body=str(i).encode())
    for i, k in enumerate(keys):
        assert s3.get_object(Bucket="keys", Key=k)["Body"].read() == str(i).encode(), k
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="keys", MaxKeys=3):
        listed += [o["Key"] for o in page.get("Contents", [])]
    assert listed == sorted(keys, key=lambda s: s.encode())
    # No key maps onto a directory: the store holds one flat file per body.
    objdir = os.path.join(server.data_dir, "objects")
    assert all(os.path.isfile(os.path.join(objdir, f)) for f in os.listdir(objdir))
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="keys", Key="k" * 1025, Body=b"x")
    assert error_code(e) == "KeyTooLongError"


def test_request_headers_at_aws_limits(server):
    """AWS's limits of one PutObject: a 1,024-byte key, 2 KB of user metadata and 8 KB of
    request headers in all. Such a request, with a body of a few MiB, must be served, and so
    must the GetObject that answers all those headers back."""
    s3 = s3c(server)
    s3.create_bucket(Bucket="wide")
    key = "k" * 1024
    meta = {"m%d" % i: "v" * 190 for i in range(10)}            # 10 x (2 + 190) bytes
    disposition = "attachment; filename=" + "d" * 3000
    ctype = "text/plain; x=" + "t" * 1500
    body = os.urandom(3 * 1024 * 1024 + 17)
    sent = {}

    def measure(request, **kwargs):
        sent["headers"] = sum(len(k) + len(v) + 4 for k, v in request.headers.items())
    s3.meta.events.register("before-send.s3.PutObject", measure)
    s3.put_object(Bucket="wide", Key=key, Body=body, Metadata=meta,
                  ContentDisposition=disposition, ContentType=ctype)
    assert 7000 < sent["headers"] <= 8192, sent
    got = s3.get_object(Bucket="wide", Key=key)
    assert got["Body"].read() == body
    assert got["Metadata"] == meta
    assert got["ContentDisposition"] == disposition
    assert got["ContentType"] == ctype


def test_metadata_limit_and_bad_digest(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="limits")
    s3.put_object(Bucket="limits", Key="ok", Body=b"x", Metadata={"a": "v" * 2000})
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="limits", Key="big", Body=b"x", Metadata={"a": "v" * 2100})
    assert error_code(e) == "MetadataTooLarge"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="limits", Key="bad", Body=b"hello",
                      ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert error_code(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="limits", Key="bad", Body=b"hello", ContentMD5="not-base64")
    assert error_code(e) == "InvalidDigest"
    good = __import__("base64").b64encode(hashlib.md5(b"hello").digest()).decode()
    s3.put_object(Bucket="limits", Key="good", Body=b"hello", ContentMD5=good)
    with pytest.raises(ClientError):
        s3.head_object(Bucket="limits", Key="bad")
    assert os.listdir(os.path.join(server.data_dir, "objects")) == []
    assert server.inline_bodies() == 2


def test_ranges(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="ranges")
    body = bytes(range(256)) * 4
    s3.put_object(Bucket="ranges", Key="r", Body=body)
    cases = {"bytes=0-9": (0, 9), "bytes=1000-": (1000, 1023), "bytes=-24": (1000, 1023),
             "bytes=10-10": (10, 10), "bytes=1020-5000": (1020, 1023), "bytes=-5000": (0, 1023)}
    for rng, (a, b) in cases.items():
        got = s3.get_object(Bucket="ranges", Key="r", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206, rng
        assert got["Body"].read() == body[a:b + 1], rng
        assert got["ContentRange"] == "bytes %d-%d/1024" % (a, b)
        assert got["ContentLength"] == b - a + 1
    for rng in ("bytes=1024-", "bytes=2000-3000", "bytes=-0"):
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket="ranges", Key="r", Range=rng)
        assert error_code(e) == "InvalidRange" and status(e) == 416, rng
    # A Range S3 cannot parse is ignored: the whole object comes back.
    got = s3.get_object(Bucket="ranges", Key="r", Range="bytes=5-2")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["Body"].read() == body


# ---- listings ----

def put_many(s3, bucket, keys, threads=8):
    errors = []

    def work(part):
        for k in part:
            try:
                s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
    ts = [threading.Thread(target=work, args=(keys[i::threads],)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:3]


@pytest.mark.slow
def test_list_objects_v2_walks_2500_keys(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="many")
    keys = ["logs/2024/%02d/%04d.json" % (i % 12, i) for i in range(2000)]
    keys += ["top-%03d" % i for i in range(300)]
    keys += ["data/%d/part" % i for i in range(200)]
    put_many(s3, "many", keys)

    # Everything, paginated at the default page size, walked to the end.
    seen, pages = [], 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="many"):
        pages += 1
        assert page["KeyCount"] == len(page.get("Contents", []))
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert pages == 3
    assert seen == sorted(keys)

    # Small pages with a prefix.
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="many", Prefix="logs/2024/03/",
                                                             PaginationConfig={"PageSize": 7}):
        assert page["KeyCount"] <= 7
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(k for k in keys if k.startswith("logs/2024/03/"))

    # Delimiter: prefixes roll up, and count against max-keys.
    out = s3.list_objects_v2(Bucket="many", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["data/", "logs/"]
    assert [o["Key"] for o in out["Contents"]] == sorted(k for k in keys if "/" not in k)
    assert out["KeyCount"] == 302
    cps, objs = [], []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket="many", Prefix="logs/2024/", Delimiter="/", PaginationConfig={"PageSize": 5}):
        cps += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        objs += page.get("Contents", [])
    assert cps == ["logs/2024/%02d/" % m for m in range(12)]
    assert objs == []

    # A delimiter that is not "/".
    out = s3.list_objects_v2(Bucket="many", Prefix="logs/2024/01/", Delimiter="5")
    assert all(p["Prefix"].endswith("5") for p in out["CommonPrefixes"])

    # StartAfter, MaxKeys, and an empty page.
    out = s3.list_objects_v2(Bucket="many", StartAfter="top-297")
    assert [o["Key"] for o in out["Contents"]] == ["top-298", "top-299"]
    assert out["IsTruncated"] is False
    out = s3.list_objects_v2(Bucket="many", MaxKeys=0)
    assert out["KeyCount"] == 0
    out = s3.list_objects_v2(Bucket="many", MaxKeys=5000)
    assert out["KeyCount"] == 1000 and out["IsTruncated"] is True

    # Owner only with FetchOwner.
    out = s3.list_objects_v2(Bucket="many", MaxKeys=1)
    assert "Owner" not in out["Contents"][0]
    out = s3.list_objects_v2(Bucket="many", MaxKeys=1, FetchOwner=True)
    assert len(out["Contents"][0]["Owner"]["ID"]) == 64

    # ListObjects v1 with markers.
    seen = []
    for page in s3.get_paginator("list_objects").paginate(Bucket="many",
                                                          PaginationConfig={"PageSize": 400}):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(keys)

    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="many", ContinuationToken="garbage!")
    assert error_code(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="many", MaxKeys=-1)
    assert error_code(e) == "InvalidArgument"


def test_list_without_url_encoding(server):
    """encoding-type is optional: without it keys are XML-escaped (boto3 always asks for
    url, so this request is built by hand)."""
    s3 = s3c(server)
    s3.create_bucket(Bucket="enc")
    s3.put_object(Bucket="enc", Key="a&b <c>", Body=b"x")
    req = AWSRequest(method="GET", url=server.endpoint + "/enc?list-type=2")
    code, _, body = send_signed_to(server, req)
    assert code == 200
    assert b"<Key>a&amp;b &lt;c&gt;</Key>" in body
    assert b"<KeyCount>1</KeyCount>" in body


# ---- virtual-hosted style ----

def test_virtual_hosted_style(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="vhost-bucket")
    host = "vhost-bucket.localhost:%d" % server.port
    url = "http://%s" % host

    req = AWSRequest(method="PUT", url=url + "/dir/obj.txt", data=b"via vhost",
                     headers={"Content-Type": "text/plain"})
    code, headers, _ = send_signed_to(server, req)
    assert code == 200
    assert headers["ETag"] == '"%s"' % hashlib.md5(b"via vhost").hexdigest()

    # Path-style sees what the virtual-hosted PUT stored.
    got = s3.get_object(Bucket="vhost-bucket", Key="dir/obj.txt")
    assert got["Body"].read() == b"via vhost" and got["ContentType"] == "text/plain"

    req = AWSRequest(method="GET", url=url + "/dir/obj.txt")
    code, _, body = send_signed_to(server, req)
    assert code == 200 and body == b"via vhost"
    req = AWSRequest(method="GET", url=url + "/?list-type=2")
    code, _, body = send_signed_to(server, req)
    assert code == 200 and b"<Key>dir/obj.txt</Key>" in body
    # <bucket>.s3.localhost is the same bucket.
    req = AWSRequest(method="GET", url="http://vhost-bucket.s3.localhost:%d/dir/obj.txt"
                     % server.port)
    code, _, body = send_signed_to(server, req)
    assert code == 200 and body == b"via vhost"
    req = AWSRequest(method="GET", url="http://missing-bkt.localhost:%d/x" % server.port)
    code, _, body = send_signed_to(server, req)
    assert code == 404 and b"<Code>NoSuchBucket</Code>" in body


def send_signed_to(server, req):
    host = req.url.split("//", 1)[1].split("/", 1)[0]
    path = "/" + req.url.split("//", 1)[1].split("/", 1)[1]
    req.headers["Host"] = host
    req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(req.body or b"").hexdigest()
    S3SigV4Auth(Credentials(server.access_key, server.secret), "s3", "us-east-1").add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(req.method, path, body=req.body, headers=dict(req.headers.items()))
    resp = conn.getresponse()
    out = (resp.status, dict(resp.getheaders()), resp.read())
    conn.close()
    return out


def test_unserved_subresources_say_not_implemented(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="subres")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_acl(Bucket="subres")
    assert error_code(e) == "NotImplemented" and status(e) == 501


# ---- the aws CLI ----

def cli(server, *args, config=None):
    env = server.cli_env()
    if config:
        env["AWS_CONFIG_FILE"] = config
    return subprocess.run([AWS_CLI, "--endpoint-url", server.endpoint] + list(args), env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_aws_cli_mb_cp_ls_rm(server, tmp_path):
    # Single PUTs: the threshold is raised above the file's size (test_s3_multipart.py has
    # the CLI's multipart uploads).
    cfg = tmp_path / "config"
    cfg.write_text("[default]\ns3 =\n  multipart_threshold = 1GB\n"
                   "  multipart_chunksize = 1GB\n")
    src = tmp_path / "big.bin"
    data = os.urandom(20 * 1024 * 1024)
    src.write_bytes(data)

    r = cli(server, "s3", "mb", "s3://cli-bucket", config=str(cfg))
    assert r.returncode == 0, r.stderr
    r = cli(server, "s3", "cp", str(src), "s3://cli-bucket/dir/big.bin", config=str(cfg))
    assert r.returncode == 0, r.stderr
    r = cli(server, "s3", "cp", str(src), "s3://cli-bucket/other.bin", config=str(cfg))
    assert r.returncode == 0, r.stderr
    dst = tmp_path / "down.bin"
    r = cli(server, "s3", "cp", "s3://cli-bucket/dir/big.bin", str(dst), config=str(cfg))
    assert r.returncode == 0, r.stderr
    assert dst.read_bytes() == data

    r = cli(server, "s3", "ls", "s3://cli-bucket/", config=str(cfg))
    assert r.returncode == 0, r.stderr
    assert "PRE dir/" in r.stdout and "other.bin" in r.stdout
    r = cli(server, "s3", "ls", "--recursive", "s3://cli-bucket/", config=str(cfg))
    assert "dir/big.bin" in r.stdout and str(len(data)) in r.stdout
    r = cli(server, "s3", "ls", config=str(cfg))
    assert "cli-bucket" in r.stdout

    r = cli(server, "s3", "rm", "s3://cli-bucket/other.bin", config=str(cfg))
    assert r.returncode == 0, r.stderr
    r = cli(server, "s3", "rm", "--recursive", "s3://cli-bucket/", config=str(cfg))
    assert r.returncode == 0, r.stderr
    r = cli(server, "s3", "rb", "s3://cli-bucket", config=str(cfg))
    assert r.returncode == 0, r.stderr
    assert os.listdir(os.path.join(server.data_dir, "objects")) == []


# ---- durability and memory ----

@pytest.mark.crash
def test_clean_restart_skips_the_sweep_and_a_killed_one_does_not(make_server, tmp_path):
    """A clean stop leaves objects/.clean, so the next start reads no object records (the
    mark is gone once it serves); a SIGKILL leaves none, so the start after it removes a body
    file no record names."""
    data = str(tmp_path / "data")
    objdir = os.path.join(data, "objects")
    s = make_server(data).start()
    c = s3c(s)
    c.create_bucket(Bucket="restart")
    c.put_object(Bucket="restart", Key="k", Body=b"kept")
    rc, _ = s.stop()
    assert rc == 0
    assert os.path.exists(os.path.join(objdir, ".clean"))
    orphan = os.path.join(objdir, "0" * 32)
    open(orphan, "wb").close()
    s = make_server(data).start()
    assert not os.path.exists(os.path.join(objdir, ".clean"))
    assert os.path.exists(orphan)   # no sweep after a clean stop
    c = s3c(s)
    assert c.get_object(Bucket="restart", Key="k")["Body"].read() == b"kept"
    s.kill()
    s = make_server(data).start()
    assert not os.path.exists(orphan)   # swept after the kill
    assert s3c(s).get_object(Bucket="restart", Key="k")["Body"].read() == b"kept"


def _put_load(s, bucket, writers, want, blocks=4000):
    """Starts writers threads putting to bucket until told to stop or cut off; returns once
    want puts were acknowledged (or 60 s passed) with (acked: key -> md5, stop, threads).
    Bodies are 1 to blocks runs of 32 bytes."""
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()
    clients = [s3c(s) for _ in range(writers)]

    def writer(w):
        s3 = clients[w]
        for i in range(400):
            if stop.is_set():
                return
            key = "w%d/%04d" % (w, i)
            # By default 32 bytes to 125 KiB: bodies kept in the store (up to 64 KiB) and files.
            body = hashlib.sha256(key.encode()).digest() * (1 + (i * 37) % blocks)
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
            except (ClientError, ConnectionClosedError, EndpointConnectionError, HTTPError,
                    OSError):
                return
            with lock:
                acked[key] = hashlib.md5(body).hexdigest()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while len(acked) < want and time.time() < deadline:
        time.sleep(0.01)
    return acked, stop, threads


def _check_after_load(s, data, bucket, acked):
    """Every acknowledged object reads back whole; so does every listed one (committed, its
    answer maybe cut off), whose body must be the one its ETag names; objects/ holds exactly
    the listed bodies that are files, and the store the inline ones. Returns the listing."""
    s3 = s3c(s)
    for key, md5 in acked.items():
        got = s3.get_object(Bucket=bucket, Key=key)
        assert hashlib.md5(got["Body"].read()).hexdigest() == md5, key
        assert got["ETag"] == '"%s"' % md5
    listed = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            listed[o["Key"]] = o["ETag"].strip('"')
    assert set(acked) <= set(listed)
    for key in set(listed) - set(acked):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == listed[key], key
    files = [f for f in os.listdir(os.path.join(data, "objects")) if f != ".clean"]
    assert not [f for f in files if f.endswith(".tmp")]
    small = [k for k in listed if s3.head_object(Bucket=bucket, Key=k)["ContentLength"]
             <= 64 * 1024]
    assert s.inline_bodies() == len(small)
    assert len(files) == len(listed) - len(small)
    return listed


def test_sigkill_under_put_load_loses_no_acknowledged_object(make_server, tmp_path):
    data = str(tmp_path / "data")
    s = make_server(data).start()
    s3c(s).create_bucket(Bucket="crash")
    # More writers than HTTP threads: puts wait at every stage (receiving, queued for a sync
    # thread, renamed and being fsynced, queued for the writer) when the kill comes.
    acked, stop, threads = _put_load(s, "crash", 16, 200)
    s.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 200

    s2 = make_server(data).start()
    # The sweep left exactly the bodies the listing references: no temporary files, no
    # orphans of puts that were cut off (renamed or not).
    _check_after_load(s2, data, "crash", acked)
    s3 = s3c(s2)
    s3.put_object(Bucket="crash", Key="after", Body=b"ok")
    assert s3.get_object(Bucket="crash", Key="after")["Body"].read() == b"ok"


def test_sigterm_under_put_load_finishes_or_removes_every_put(make_server, tmp_path):
    """A clean stop while puts are in flight: each finishes or cleans up before the
    clean-shutdown mark is written, since the start after it does not sweep."""
    data = str(tmp_path / "data")
    s = make_server(data).start()
    s3c(s).create_bucket(Bucket="term")
    acked, stop, threads = _put_load(s, "term", 16, 100)
    rc, _ = s.stop()
    stop.set()
    for t in threads:
        t.join()
    assert rc == 0, s.stderr()
    assert len(acked) >= 100
    assert os.path.exists(os.path.join(data, "objects", ".clean"))
    files = sorted(os.listdir(os.path.join(data, "objects")))
    s2 = make_server(data).start()
    _check_after_load(s2, data, "term", acked)
    # The body files (checked against the listing just now) and the mark, nothing else.
    after = sorted(f for f in os.listdir(os.path.join(data, "objects")) if f != ".clean")
    assert files == sorted(after + [".clean"])


class PatternBody:
    """A seekable file-like body of n bytes generated on the fly, so the client holds only
    one block of it. botocore reads it once to hash it and again to send it."""

    def __init__(self, n, block):
        self.n = n
        self.block = block
        self.pos = 0

    def read(self, size=-1):
        if size is None or size < 0:
            size = self.n - self.pos
        size = min(size, self.n - self.pos, 1 << 20)
        out = bytearray()
        while len(out) < size:
            off = (self.pos + len(out)) % len(self.block)
            out += self.block[off:off + size - len(out)]
        self.pos += len(out)
        return bytes(out)

    def seek(self, off, whence=0):
        self.pos = off if whence == 0 else (self.pos + off if whence == 1 else self.n + off)
        return self.pos

    def tell(self):
        return self.pos

    def __len__(self):
        return self.n


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_large_put_streams_without_growing_memory(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="large")
    s3.put_object(Bucket="large", Key="warmup", Body=b"x" * 1024 * 1024)
    size = 200 * 1024 * 1024
    block = os.urandom(1024 * 1024 + 7)
    md5 = hashlib.md5()
    body = PatternBody(size, block)
    while True:
        chunk = body.read(1 << 20)
        if not chunk:
            break
        md5.update(chunk)
    before = vm_hwm_kib(server.proc.pid)
    put = s3.put_object(Bucket="large", Key="big", Body=PatternBody(size, block))
    after = vm_hwm_kib(server.proc.pid)
    assert put["ETag"] == '"%s"' % md5.hexdigest()
    growth_mib = (after - before) / 1024
    print("VmHWM before %d KiB, after %d KiB, growth %.1f MiB for a %d MiB PUT"
          % (before, after, growth_mib, size >> 20))
    assert growth_mib < 32, growth_mib
    head = s3.head_object(Bucket="large", Key="big")
    assert head["ContentLength"] == size
    got = s3.get_object(Bucket="large", Key="big", Range="bytes=%d-" % (size - 100))
    tail = PatternBody(size, block)
    tail.seek(size - 100)
    assert got["Body"].read() == tail.read(100)
    before = vm_hwm_kib(server.proc.pid)
    got = s3.get_object(Bucket="large", Key="big")
    check = hashlib.md5()
    for chunk in got["Body"].iter_chunks(1 << 20):
        check.update(chunk)
    assert check.hexdigest() == md5.hexdigest()
    growth_mib = (vm_hwm_kib(server.proc.pid) - before) / 1024
    assert growth_mib < 32, growth_mib
