"""S3 multipart uploads, CopyObject and conditional requests end to end: a 100 MiB upload
through `aws s3 cp` and its ranged reads, the part rules of CompleteMultipartUpload, the
listings, UploadPartCopy with ranges, copies with COPY / REPLACE and copy-source
conditions, and If-Match / If-None-Match / If-(Un)Modified-Since on reads and writes."""
import datetime
import hashlib
import os
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from test_s3 import s3c, error_code, status, cli

MIB = 1024 * 1024


def with_headers(s3, op, headers):
    """Adds headers to every signed request of op (botocore 1.29 has no IfNoneMatch on
    PutObject and CompleteMultipartUpload)."""
    def add(request, **_):
        for k, v in headers.items():
            request.headers[k] = v
    s3.meta.events.register("before-sign.s3.%s" % op, add)
    return s3


def objects_files(server, want=None):
    """The body files; with want, waits (briefly) until there are that many: a replaced
    body is removed when its request ends, which may be just after the client got the
    answer."""
    deadline = time.time() + 5
    while True:
        files = os.listdir(os.path.join(server.data_dir, "objects"))
        if want is None or len(files) == want or time.time() > deadline:
            return files
        time.sleep(0.02)


@pytest.mark.slow
def test_aws_cli_100mib_multipart_upload_and_ranged_reads(server, tmp_path):
    src = tmp_path / "big.bin"
    block = os.urandom(MIB + 13)
    with open(src, "wb") as f:
        for i in range(100):
            f.write(block[i:i + MIB])
    data = src.read_bytes()
    r = cli(server, "s3", "mb", "s3://mp-cli")
    assert r.returncode == 0, r.stderr
    r = cli(server, "s3", "cp", "--only-show-errors", str(src), "s3://mp-cli/big.bin")
    assert r.returncode == 0, r.stderr

    s3 = s3c(server)
    head = s3.head_object(Bucket="mp-cli", Key="big.bin")
    assert head["ContentLength"] == len(data)
    # The CLI's default 8 MiB parts: 13 of them, and S3's md5-of-md5s ETag.
    md5s = b"".join(hashlib.md5(data[i:i + 8 * MIB]).digest()
                    for i in range(0, len(data), 8 * MIB))
    assert head["ETag"] == '"%s-13"' % hashlib.md5(md5s).hexdigest()
    part = s3.head_object(Bucket="mp-cli", Key="big.bin", PartNumber=13)
    assert part["PartsCount"] == 13 and part["ContentLength"] == len(data) - 12 * 8 * MIB
    got = s3.get_object(Bucket="mp-cli", Key="big.bin", PartNumber=2)
    assert got["Body"].read() == data[8 * MIB:16 * MIB]
    for rng, (a, b) in {"bytes=0-99": (0, 99), "bytes=%d-%d" % (8 * MIB - 5, 8 * MIB + 5):
                        (8 * MIB - 5, 8 * MIB + 5), "bytes=-1000": (len(data) - 1000,
                                                                    len(data) - 1)}.items():
        got = s3.get_object(Bucket="mp-cli", Key="big.bin", Range=rng)
        assert got["Body"].read() == data[a:b + 1], rng
        assert got["ContentRange"] == "bytes %d-%d/%d" % (a, b, len(data))

    # The CLI downloads in ranged GETs, in parallel.
    dst = tmp_path / "down.bin"
    r = cli(server, "s3", "cp", "--only-show-errors", "s3://mp-cli/big.bin", str(dst))
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(data).digest()
    # One body file: the parts are gone, nothing was left behind.
    assert len(objects_files(server, 1)) == 1
    assert s3.list_multipart_uploads(Bucket="mp-cli").get("Uploads", []) == []


def test_multipart_rules_and_listings(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="mpu")
    up = s3.create_multipart_upload(Bucket="mpu", Key="obj", ContentType="text/csv",
                                    Metadata={"who": "me"})
    uid = up["UploadId"]
    assert up["Bucket"] == "mpu" and up["Key"] == "obj"
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), b"tail"]
    etags = {}
    for n in (3, 1, 2):       # any order
        etags[n] = s3.upload_part(Bucket="mpu", Key="obj", UploadId=uid, PartNumber=n,
                                  Body=parts[n - 1])["ETag"]
        assert etags[n] == '"%s"' % hashlib.md5(parts[n - 1]).hexdigest()
    # Uploading part 2 again replaces it.
    parts[1] = os.urandom(5 * MIB)
    etags[2] = s3.upload_part(Bucket="mpu", Key="obj", UploadId=uid, PartNumber=2,
                              Body=parts[1])["ETag"]

    lp = s3.list_parts(Bucket="mpu", Key="obj", UploadId=uid)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2, 3]
    assert [p["ETag"] for p in lp["Parts"]] == [etags[1], etags[2], etags[3]]
    assert [p["Size"] for p in lp["Parts"]] == [5 * MIB, 5 * MIB, 4]
    lp = s3.list_parts(Bucket="mpu", Key="obj", UploadId=uid, MaxParts=2)
    assert lp["IsTruncated"] and lp["NextPartNumberMarker"] == 2
    lp = s3.list_parts(Bucket="mpu", Key="obj", UploadId=uid, PartNumberMarker=2)
    assert [p["PartNumber"] for p in lp["Parts"]] == [3] and not lp["IsTruncated"]

    other = s3.create_multipart_upload(Bucket="mpu", Key="dir/a")["UploadId"]
    third = s3.create_multipart_upload(Bucket="mpu", Key="dir/b")["UploadId"]
    lu = s3.list_multipart_uploads(Bucket="mpu")
    assert [(u["Key"], u["UploadId"]) for u in lu["Uploads"]] == [
        ("dir/a", other), ("dir/b", third), ("obj", uid)]
    lu = s3.list_multipart_uploads(Bucket="mpu", Delimiter="/")
    assert [p["Prefix"] for p in lu["CommonPrefixes"]] == ["dir/"]
    assert [u["Key"] for u in lu["Uploads"]] == ["obj"]
    lu = s3.list_multipart_uploads(Bucket="mpu", MaxUploads=1)
    assert lu["IsTruncated"] and lu["NextKeyMarker"] == "dir/a"
    lu = s3.list_multipart_uploads(Bucket="mpu", KeyMarker="dir/a")
    assert [u["Key"] for u in lu["Uploads"]] == ["dir/b", "obj"]
    lu = s3.list_multipart_uploads(Bucket="mpu", Prefix="dir/")
    assert [u["Key"] for u in lu["Uploads"]] == ["dir/a", "dir/b"]

    def complete(ps, key="obj", upload=uid):
        return s3.complete_multipart_upload(
            Bucket="mpu", Key=key, UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in ps]})

    with pytest.raises(ClientError) as e:
        complete([(2, etags[2]), (1, etags[1])])
    assert error_code(e) == "InvalidPartOrder"
    with pytest.raises(ClientError) as e:
        complete([(1, etags[1]), (2, etags[3])])
    assert error_code(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        complete([(1, etags[1]), (4, etags[3])])
    assert error_code(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        complete([(3, etags[3]), (4, etags[3])])
    assert error_code(e) == "InvalidPart"
    with pytest.raises(ClientError) as e:
        complete([(1, etags[1]), (3, etags[3]), (4, etags[3])])
    assert error_code(e) == "InvalidPart"
    small = s3.upload_part(Bucket="mpu", Key="dir/a", UploadId=other, PartNumber=1,
                           Body=b"x" * 100)["ETag"]
    s3.upload_part(Bucket="mpu", Key="dir/a", UploadId=other, PartNumber=2, Body=b"y")
    with pytest.raises(ClientError) as e:
        complete([(1, small), (2, '"%s"' % hashlib.md5(b"y").hexdigest())], "dir/a", other)
    assert error_code(e) == "EntityTooSmall"

    # Parts 1 and 3 only: part 2 is dropped with the upload.
    out = complete([(1, etags[1]), (3, etags[3])])
    want = hashlib.md5(hashlib.md5(parts[0]).digest() + hashlib.md5(parts[2]).digest())
    assert out["ETag"] == '"%s-2"' % want.hexdigest()
    assert out["Key"] == "obj" and out["Bucket"] == "mpu"
    got = s3.get_object(Bucket="mpu", Key="obj")
    assert got["Body"].read() == parts[0] + parts[2]
    assert got["ContentType"] == "text/csv" and got["Metadata"] == {"who": "me"}
    assert got["ETag"] == out["ETag"]
    listed = s3.list_objects_v2(Bucket="mpu")["Contents"]
    assert [(o["Key"], o["ETag"], o["Size"]) for o in listed] == [
        ("obj", out["ETag"], 5 * MIB + 4)]
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="mpu", Key="obj", UploadId=uid)
    assert error_code(e) == "NoSuchUpload" and status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="mpu", Key="obj", UploadId=uid, PartNumber=1, Body=b"late")
    assert error_code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="mpu", Key="other-key", UploadId=other, PartNumber=1, Body=b"x")
    assert error_code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="mpu", Key="dir/a", UploadId=other, PartNumber=10001, Body=b"x")
    assert error_code(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="mpu", Key="obj", PartNumber=3)
    assert error_code(e) == "InvalidPartNumber" and status(e) == 416

    s3.abort_multipart_upload(Bucket="mpu", Key="dir/a", UploadId=other)
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket="mpu", Key="dir/a", UploadId=other)
    assert error_code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket="mpu", Key="dir/a", UploadId="not-an-id")
    assert error_code(e) == "NoSuchUpload"
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket="mpu")["Uploads"]] == ["dir/b"]
    # The part of a remaining upload is the only file besides the object.
    s3.upload_part(Bucket="mpu", Key="dir/b", UploadId=third, PartNumber=1, Body=b"z")
    assert len(objects_files(server, 2)) == 2
    # DeleteBucket takes uploads in progress with it.
    s3.delete_object(Bucket="mpu", Key="obj")
    s3.delete_bucket(Bucket="mpu")
    assert objects_files(server, 0) == []


def test_upload_part_copy_with_ranges(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="upc")
    src = os.urandom(6 * MIB + 100)
    s3.put_object(Bucket="upc", Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket="upc", Key="dst")["UploadId"]
    p1 = s3.upload_part_copy(Bucket="upc", Key="dst", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": "upc", "Key": "src"},
                             CopySourceRange="bytes=0-%d" % (5 * MIB - 1))
    assert p1["CopyPartResult"]["ETag"] == '"%s"' % hashlib.md5(src[:5 * MIB]).hexdigest()
    p2 = s3.upload_part_copy(Bucket="upc", Key="dst", UploadId=uid, PartNumber=2,
                             CopySource="upc/src", CopySourceRange="bytes=%d-%d"
                             % (6 * MIB, 6 * MIB + 99))
    with pytest.raises(ClientError) as e:
        s3.upload_part_copy(Bucket="upc", Key="dst", UploadId=uid, PartNumber=3,
                            CopySource="upc/src", CopySourceRange="bytes=0-%d" % len(src))
    assert error_code(e) == "InvalidArgument"
    s3.complete_multipart_upload(Bucket="upc", Key="dst", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
                  {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="upc", Key="dst")["Body"].read() == (src[:5 * MIB]
                                                                    + src[6 * MIB:])


def test_copy_object(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="cp-a")
    s3.create_bucket(Bucket="cp-b")
    body = os.urandom(300_000)
    put = s3.put_object(Bucket="cp-a", Key="src key+1", Body=body, ContentType="text/plain",
                        Metadata={"m": "1"}, CacheControl="no-cache")
    out = s3.copy_object(Bucket="cp-b", Key="copy", CopySource={"Bucket": "cp-a",
                                                                 "Key": "src key+1"})
    assert out["CopyObjectResult"]["ETag"] == put["ETag"]
    got = s3.get_object(Bucket="cp-b", Key="copy")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"m": "1"}
    assert got["CacheControl"] == "no-cache"

    out = s3.copy_object(Bucket="cp-b", Key="replaced", CopySource="cp-a/src key+1",
                         MetadataDirective="REPLACE", ContentType="image/gif",
                         Metadata={"n": "2"})
    got = s3.head_object(Bucket="cp-b", Key="replaced")
    assert got["ContentType"] == "image/gif" and got["Metadata"] == {"n": "2"}
    assert "CacheControl" not in got

    # Onto itself: refused unless the metadata changes.
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cp-a", Key="src key+1", CopySource="cp-a/src key+1")
    assert error_code(e) == "InvalidRequest"
    s3.copy_object(Bucket="cp-a", Key="src key+1", CopySource="cp-a/src key+1",
                   MetadataDirective="REPLACE", Metadata={"m": "changed"})
    got = s3.get_object(Bucket="cp-a", Key="src key+1")
    assert got["Metadata"] == {"m": "changed"} and got["Body"].read() == body
    assert got["ContentType"] == "binary/octet-stream"

    # Copy-source conditions.
    etag = put["ETag"]
    s3.copy_object(Bucket="cp-b", Key="c1", CopySource="cp-a/src key+1", CopySourceIfMatch=etag)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cp-b", Key="c2", CopySource="cp-a/src key+1",
                       CopySourceIfMatch='"0123"')
    assert error_code(e) == "PreconditionFailed" and status(e) == 412
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cp-b", Key="c2", CopySource="cp-a/src key+1",
                       CopySourceIfNoneMatch=etag)
    assert error_code(e) == "PreconditionFailed"
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cp-b", Key="c2", CopySource="cp-a/src key+1",
                       CopySourceIfModifiedSince=future)
    assert error_code(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cp-b", Key="c2", CopySource="cp-a/src key+1",
                       CopySourceIfUnmodifiedSince=past)
    assert error_code(e) == "PreconditionFailed"
    s3.copy_object(Bucket="cp-b", Key="c3", CopySource="cp-a/src key+1",
                   CopySourceIfModifiedSince=past, CopySourceIfUnmodifiedSince=future)

    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="cp-b", Key="x", CopySource="cp-a/missing")
    assert error_code(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="no-such-bkt", Key="x", CopySource="cp-a/src key+1")
    assert error_code(e) == "NoSuchBucket"
    # A copied multipart object is one part: its ETag is its bytes' MD5.
    uid = s3.create_multipart_upload(Bucket="cp-a", Key="mp")["UploadId"]
    e1 = s3.upload_part(Bucket="cp-a", Key="mp", UploadId=uid, PartNumber=1,
                        Body=b"q" * 1000)["ETag"]
    s3.complete_multipart_upload(Bucket="cp-a", Key="mp", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}]})
    out = s3.copy_object(Bucket="cp-b", Key="mp-copy", CopySource="cp-a/mp")
    assert out["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"q" * 1000).hexdigest()


def test_conditional_get_and_head(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="cond")
    etag = s3.put_object(Bucket="cond", Key="k", Body=b"v1")["ETag"]
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)

    assert s3.get_object(Bucket="cond", Key="k", IfMatch=etag)["Body"].read() == b"v1"
    assert s3.get_object(Bucket="cond", Key="k", IfMatch="*")["Body"].read() == b"v1"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="cond", Key="k", IfMatch='"nope"')
    assert error_code(e) == "PreconditionFailed" and status(e) == 412
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="cond", Key="k", IfNoneMatch=etag)
    assert status(e) == 304
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="cond", Key="k", IfNoneMatch='"other", ' + etag)
    assert status(e) == 304
    assert s3.get_object(Bucket="cond", Key="k", IfNoneMatch='"other"')["Body"].read() == b"v1"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="cond", Key="k", IfModifiedSince=future)
    assert status(e) == 304
    s3.get_object(Bucket="cond", Key="k", IfModifiedSince=past)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="cond", Key="k", IfUnmodifiedSince=past)
    assert error_code(e) == "PreconditionFailed"
    # If-Match true wins over If-Unmodified-Since false; If-None-Match false over
    # If-Modified-Since true.
    s3.get_object(Bucket="cond", Key="k", IfMatch=etag, IfUnmodifiedSince=past)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="cond", Key="k", IfNoneMatch=etag, IfModifiedSince=past)
    assert status(e) == 304


def test_conditional_writes(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="cwrite")
    once = with_headers(s3c(server), "PutObject", {"If-None-Match": "*"})
    once.put_object(Bucket="cwrite", Key="k", Body=b"first")
    with pytest.raises(ClientError) as e:
        once.put_object(Bucket="cwrite", Key="k", Body=b"second")
    assert error_code(e) == "PreconditionFailed" and status(e) == 412
    assert s3.get_object(Bucket="cwrite", Key="k")["Body"].read() == b"first"
    etag = s3.head_object(Bucket="cwrite", Key="k")["ETag"]

    match = with_headers(s3c(server), "PutObject", {"If-Match": etag})
    match.put_object(Bucket="cwrite", Key="k", Body=b"third")
    with pytest.raises(ClientError) as e:
        match.put_object(Bucket="cwrite", Key="k", Body=b"fourth")
    assert error_code(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        match.put_object(Bucket="cwrite", Key="absent", Body=b"x")
    assert error_code(e) == "NoSuchKey"
    assert s3.get_object(Bucket="cwrite", Key="k")["Body"].read() == b"third"

    # CompleteMultipartUpload with If-None-Match: * does not replace an existing object.
    once_mp = with_headers(s3c(server), "CompleteMultipartUpload", {"If-None-Match": "*"})
    for key, ok in (("fresh", True), ("k", False)):
        uid = s3.create_multipart_upload(Bucket="cwrite", Key=key)["UploadId"]
        e1 = s3.upload_part(Bucket="cwrite", Key=key, UploadId=uid, PartNumber=1,
                            Body=b"mp")["ETag"]
        args = dict(Bucket="cwrite", Key=key, UploadId=uid,
                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
        if ok:
            once_mp.complete_multipart_upload(**args)
        else:
            with pytest.raises(ClientError) as e:
                once_mp.complete_multipart_upload(**args)
            assert error_code(e) == "PreconditionFailed"
    assert s3.get_object(Bucket="cwrite", Key="fresh")["Body"].read() == b"mp"
    assert s3.get_object(Bucket="cwrite", Key="k")["Body"].read() == b"third"
