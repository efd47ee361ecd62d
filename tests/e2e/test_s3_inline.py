"""Inline bodies: a PutObject or CopyObject of at most 64 KiB (not encrypted) keeps its bytes in
the store, committed with the object's record, instead of as a file of objects/. Every reader
sees the same bytes (GET, ranges, partNumber, copies, multipart copies), every removal
(overwrite, DeleteObject(s), versions) drops the inline body in the same commit, and an
acknowledged small put survives kill -9. The count of inline bodies is read from /metrics
(sluice_s3_inline_bodies) and the files from the data directory."""
import base64
import binascii
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from test_s3 import _put_load
from test_s3_chunked import chunked_body, put, signed_put

INLINE_MAX = 64 * 1024


def inline_count(server):
    return server.inline_bodies()


def body_files(server):
    d = os.path.join(server.data_dir, "objects")
    return sorted(f for f in os.listdir(d) if not f.startswith("."))


def payload(n, seed=0):
    return bytes((i * 31 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


@pytest.fixture
def s3(server):
    c = server.client("s3")
    c.create_bucket(Bucket="inl")
    return c


def test_small_put_get_round_trip_is_inline_and_byte_exact(server, s3):
    sizes = [0, 1, 100, 4096, INLINE_MAX]
    for n in sizes:
        s3.put_object(Bucket="inl", Key="k%d" % n, Body=payload(n, n), ContentType="text/x-t",
                      Metadata={"m": "v%d" % n})
    assert inline_count(server) == len(sizes)
    assert body_files(server) == []
    for n in sizes:
        got = s3.get_object(Bucket="inl", Key="k%d" % n)
        assert got["Body"].read() == payload(n, n)
        assert got["ContentLength"] == n
        assert got["ContentType"] == "text/x-t"
        assert got["Metadata"] == {"m": "v%d" % n}
        head = s3.head_object(Bucket="inl", Key="k%d" % n)
        assert head["ContentLength"] == n
        assert head["ETag"] == got["ETag"]


def test_put_just_over_the_threshold_is_a_file(server, s3):
    s3.put_object(Bucket="inl", Key="big", Body=payload(INLINE_MAX + 1))
    assert inline_count(server) == 0
    assert len(body_files(server)) == 1
    assert s3.get_object(Bucket="inl", Key="big")["Body"].read() == payload(INLINE_MAX + 1)


def test_encrypted_small_put_stays_a_file(server, s3):
    s3.put_object(Bucket="inl", Key="enc", Body=b"secret bytes", ServerSideEncryption="AES256")
    assert inline_count(server) == 0
    assert len(body_files(server)) == 1
    s3.put_bucket_encryption(Bucket="inl", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_object(Bucket="inl", Key="enc2", Body=b"by default")
    assert inline_count(server) == 0
    assert len(body_files(server)) == 2
    assert s3.get_object(Bucket="inl", Key="enc2")["Body"].read() == b"by default"


def test_bad_digest_of_a_small_put_stores_nothing(server, s3):
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="inl", Key="bad", Body=b"hello",
                      ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert e.value.response["Error"]["Code"] == "BadDigest"
    assert inline_count(server) == 0
    with pytest.raises(ClientError):
        s3.head_object(Bucket="inl", Key="bad")


def test_ranged_and_part_number_get_of_an_inline_body(server, s3):
    data = payload(5000)
    s3.put_object(Bucket="inl", Key="r", Body=data)
    assert inline_count(server) == 1
    got = s3.get_object(Bucket="inl", Key="r", Range="bytes=10-99")
    assert got["Body"].read() == data[10:100]
    assert got["ContentRange"] == "bytes 10-99/5000"
    assert s3.get_object(Bucket="inl", Key="r", Range="bytes=-7")["Body"].read() == data[-7:]
    assert s3.get_object(Bucket="inl", Key="r", Range="bytes=4990-")["Body"].read() == data[4990:]
    assert s3.get_object(Bucket="inl", Key="r", PartNumber=1)["Body"].read() == data
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="inl", Key="r", Range="bytes=5000-")
    assert e.value.response["Error"]["Code"] == "InvalidRange"


def chunked_put(server, path, decoded_len, chunks):
    length = len(chunked_body(server, {"X-Amz-Date": "20260101T000000Z"}, "0" * 64, chunks))
    h, seed = signed_put(server, path, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", decoded_len,
                         length)
    return put(server, path, h, chunked_body(server, h, seed, chunks))


def test_aws_chunked_small_put_is_inline(server, s3):
    data = payload(3000)
    status, body = chunked_put(server, "/inl/chunky", len(data), [data[:1000], data[1000:]])
    assert status == 200, body
    assert inline_count(server) == 1
    assert body_files(server) == []
    got = s3.get_object(Bucket="inl", Key="chunky")
    assert got["Body"].read() == data
    assert got["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()


def test_aws_chunked_trailer_checksum_of_an_inline_put(server, s3):
    data = b"trailing inline\n" * 100
    for name, crc in (("good", binascii.crc32(data)), ("bad", binascii.crc32(data) ^ 1)):
        b64 = base64.b64encode(crc.to_bytes(4, "big"))
        body = b"%x\r\n" % len(data) + data + b"\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % b64
        h, _ = signed_put(server, "/inl/" + name, "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                          len(data), len(body), {"x-amz-trailer": "x-amz-checksum-crc32"})
        status, resp = put(server, "/inl/" + name, h, body)
        if name == "good":
            assert status == 200, resp
        else:
            assert status == 400 and b"BadDigest" in resp, resp
    assert inline_count(server) == 1
    got = s3.get_object(Bucket="inl", Key="good", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumCRC32"] == base64.b64encode(
        binascii.crc32(data).to_bytes(4, "big")).decode()


def test_aws_chunked_body_longer_than_announced_is_refused(server, s3):
    data = payload(3000)
    # The decoded length says 1000 bytes, the chunks carry 3000: the buffer of 1000 spills
    # to a file, and the length check refuses the put. Nothing is kept, no file is left.
    status, body = chunked_put(server, "/inl/liar", 1000, [data])
    assert status == 400, body
    assert inline_count(server) == 0
    assert body_files(server) == []
    with pytest.raises(ClientError):
        s3.head_object(Bucket="inl", Key="liar")


def test_copy_from_and_to_small_objects(server, s3):
    small = payload(2000, 1)
    s3.put_object(Bucket="inl", Key="src", Body=small, ContentType="a/b")
    s3.copy_object(Bucket="inl", Key="dst", CopySource={"Bucket": "inl", "Key": "src"})
    assert inline_count(server) == 2
    got = s3.get_object(Bucket="inl", Key="dst")
    assert got["Body"].read() == small
    assert got["ContentType"] == "a/b"
    # Onto itself with new metadata: one inline body before and after.
    s3.copy_object(Bucket="inl", Key="dst", CopySource={"Bucket": "inl", "Key": "dst"},
                   MetadataDirective="REPLACE", ContentType="c/d")
    assert inline_count(server) == 2
    assert s3.get_object(Bucket="inl", Key="dst")["ContentType"] == "c/d"
    # From a large file to a small destination is not possible (a copy is the whole
    # object), but a large copy stays a file and its source is untouched.
    big = payload(INLINE_MAX + 10, 2)
    s3.put_object(Bucket="inl", Key="big", Body=big)
    s3.copy_object(Bucket="inl", Key="big2", CopySource={"Bucket": "inl", "Key": "big"})
    assert inline_count(server) == 2
    assert len(body_files(server)) == 2
    assert s3.get_object(Bucket="inl", Key="big2")["Body"].read() == big
    # A small source copied into an encrypted destination becomes an encrypted file.
    s3.copy_object(Bucket="inl", Key="enc", CopySource={"Bucket": "inl", "Key": "src"},
                   ServerSideEncryption="AES256")
    assert inline_count(server) == 2
    assert len(body_files(server)) == 3
    assert s3.get_object(Bucket="inl", Key="enc")["Body"].read() == small
    # Overwriting a file object by a small copy removes the file in the same step.
    s3.copy_object(Bucket="inl", Key="big2", CopySource={"Bucket": "inl", "Key": "src"})
    assert inline_count(server) == 3
    assert len(body_files(server)) == 2
    assert s3.get_object(Bucket="inl", Key="big2")["Body"].read() == small


def test_upload_part_copy_from_an_inline_source(server, s3):
    small = payload(1234, 3)
    s3.put_object(Bucket="inl", Key="src", Body=small)
    part1 = payload(5 * 1024 * 1024, 4)
    up = s3.create_multipart_upload(Bucket="inl", Key="mp")["UploadId"]
    e1 = s3.upload_part(Bucket="inl", Key="mp", UploadId=up, PartNumber=1, Body=part1)["ETag"]
    e2 = s3.upload_part_copy(Bucket="inl", Key="mp", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": "inl", "Key": "src"},
                             CopySourceRange="bytes=100-1099")["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(Bucket="inl", Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert s3.get_object(Bucket="inl", Key="mp")["Body"].read() == part1 + small[100:1100]
    # The parts stay files; the completed object is one file; the source stays inline.
    assert inline_count(server) == 1
    assert len(body_files(server)) == 1


def test_overwrite_and_delete_leave_no_inline_body(server, s3):
    for i in range(5):
        s3.put_object(Bucket="inl", Key="o", Body=payload(100 + i, i))
    assert inline_count(server) == 1
    assert s3.get_object(Bucket="inl", Key="o")["Body"].read() == payload(104, 4)
    # An inline object overwritten by a file, and back.
    s3.put_object(Bucket="inl", Key="o", Body=payload(INLINE_MAX + 1))
    assert inline_count(server) == 0
    assert len(body_files(server)) == 1
    s3.put_object(Bucket="inl", Key="o", Body=b"small again")
    assert inline_count(server) == 1
    assert body_files(server) == []
    s3.delete_object(Bucket="inl", Key="o")
    assert inline_count(server) == 0
    for i in range(10):
        s3.put_object(Bucket="inl", Key="d%d" % i, Body=payload(10, i))
    assert inline_count(server) == 10
    s3.delete_objects(Bucket="inl", Delete={"Objects": [{"Key": "d%d" % i} for i in range(10)]})
    assert inline_count(server) == 0
    assert body_files(server) == []
    # The bucket can go, and nothing is left behind.
    s3.delete_bucket(Bucket="inl")
    assert inline_count(server) == 0


def test_versioned_bucket_with_small_versions(server, s3):
    s3.put_bucket_versioning(Bucket="inl", VersioningConfiguration={"Status": "Enabled"})
    vids = []
    for i in range(3):
        vids.append(s3.put_object(Bucket="inl", Key="v", Body=payload(50, i))["VersionId"])
    assert inline_count(server) == 3
    for i, vid in enumerate(vids):
        assert s3.get_object(Bucket="inl", Key="v", VersionId=vid)["Body"].read() == \
            payload(50, i)
    # A delete marker keeps every body.
    marker = s3.delete_object(Bucket="inl", Key="v")["VersionId"]
    assert inline_count(server) == 3
    # A copy from a noncurrent version.
    s3.copy_object(Bucket="inl", Key="w", CopySource={"Bucket": "inl", "Key": "v",
                                                      "VersionId": vids[0]})
    assert s3.get_object(Bucket="inl", Key="w")["Body"].read() == payload(50, 0)
    assert inline_count(server) == 4
    # Deleting versions for good drops their bodies.
    s3.delete_object(Bucket="inl", Key="v", VersionId=vids[1])
    assert inline_count(server) == 3
    s3.delete_object(Bucket="inl", Key="v", VersionId=marker)
    assert s3.get_object(Bucket="inl", Key="v")["Body"].read() == payload(50, 2)
    s3.delete_object(Bucket="inl", Key="v", VersionId=vids[2])
    s3.delete_object(Bucket="inl", Key="v", VersionId=vids[0])
    assert inline_count(server) == 1
    # Suspended: the null version is replaced, its body dropped.
    s3.put_bucket_versioning(Bucket="inl", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket="inl", Key="n", Body=b"one")
    s3.put_object(Bucket="inl", Key="n", Body=b"two")
    assert inline_count(server) == 2
    assert s3.get_object(Bucket="inl", Key="n")["Body"].read() == b"two"
    s3.delete_object(Bucket="inl", Key="n", VersionId="null")
    s3.delete_object(Bucket="inl", Key="w", VersionId="null")
    w = s3.list_object_versions(Bucket="inl", Prefix="w")
    for v in w.get("Versions", []):
        s3.delete_object(Bucket="inl", Key="w", VersionId=v["VersionId"])
    assert inline_count(server) == 0
    assert body_files(server) == []


@pytest.mark.crash
def test_acknowledged_small_puts_survive_sigkill(make_server, tmp_path):
    data = str(tmp_path / "data")
    s = make_server(data).start()
    s.client("s3").create_bucket(Bucket="crash")
    # Bodies of 32 bytes to 4 KiB: every one kept in the store.
    acked, stop, threads = _put_load(s, "crash", 8, 300, blocks=125)
    s.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 300

    s2 = make_server(data).start()
    c = s2.client("s3")
    for key, md5 in acked.items():
        got = c.get_object(Bucket="crash", Key=key)["Body"].read()
        assert hashlib.md5(got).hexdigest() == md5, key
    # Every inline body is named by an object (the count equals the objects listed).
    keys = 0
    for page in c.get_paginator("list_objects_v2").paginate(Bucket="crash"):
        keys += len(page.get("Contents", []))
    assert inline_count(s2) == keys
    assert body_files(s2) == []
