"""S3 integrity end to end: the current AWS SDK for JavaScript v3 (aws-chunked with a trailing
CRC32, ChecksumMode, multipart checksums, GetObjectAttributes, tags); x-amz-checksum-* headers
checked, stored and returned for every algorithm; aws-chunked trailers, signed and unsigned, a
tampered trailer refused; COMPOSITE and FULL_OBJECT multipart checksums; object tagging."""
import base64
import binascii
import hashlib
import hmac
import http.client
import json
import os
import subprocess

import pytest
from botocore.exceptions import ClientError

from test_s3 import s3c, error_code, status
from test_s3_chunked import signed_put, signing_key, EMPTY
from test_s3_multipart import with_headers

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
MIB = 1024 * 1024


def b64(b):
    return base64.b64encode(b).decode()


def crc32(data):
    return binascii.crc32(data).to_bytes(4, "big")


def _reflected_crc(data, poly, width):
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
    return (crc ^ mask).to_bytes(width // 8, "big")


def crc32c(data):
    return _reflected_crc(data, 0x82F63B78, 32)


def crc64nvme(data):
    return _reflected_crc(data, 0x9A6C9329AC4BC9B5, 64)


@pytest.mark.node
def test_sdk_v3_streaming_checksums_multipart_and_tags(server):
    assert os.path.isfile(os.path.join(NODE_DIR, "node_modules", "@aws-sdk", "client-s3",
                                       "package.json")), "scripts/deps installs the SDK"
    r = subprocess.run(["node", "--no-warnings", os.path.join(NODE_DIR, "s3_sdk.mjs"),
                        server.endpoint, server.access_key, server.secret],
                       capture_output=True, text=True, timeout=120, cwd=NODE_DIR)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    body = bytes((i * 7) & 0xff for i in range(300000))
    # The SDK streamed the body as aws-chunked with the CRC32 in the trailer.
    assert out["put"]["wire"] == {"encoding": "aws-chunked",
                                  "sha": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                  "trailer": "x-amz-checksum-crc32"}
    assert out["put"]["etag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert out["put"]["crc32"] == b64(crc32(body))
    assert out["get"] == {"same": True, "md5": hashlib.md5(body).hexdigest(),
                          "crc32": b64(crc32(body)), "type": "FULL_OBJECT",
                          "contentType": "application/x-test"}
    p1, p2 = b"\x01" * (5 * MIB), b"the last part"
    assert out["mp"]["parts"] == [b64(crc32(p1)), b64(crc32(p2))]
    composite = b64(crc32(crc32(p1) + crc32(p2)))
    assert out["mp"]["crc32"] == composite + "-2" and out["mp"]["type"] == "COMPOSITE"
    md5s = hashlib.md5(hashlib.md5(p1).digest() + hashlib.md5(p2).digest()).hexdigest()
    assert out["mp"]["etag"] == '"%s-2"' % md5s
    assert out["attrs"]["etag"] == md5s + "-2"
    assert out["attrs"]["size"] == len(p1) + len(p2)
    assert out["attrs"]["storage"] == "STANDARD"
    assert out["attrs"]["checksum"] == {"ChecksumCRC32": composite, "ChecksumType": "COMPOSITE"}
    assert out["attrs"]["parts"]["TotalPartsCount"] == 2
    assert [(p["PartNumber"], p["Size"], p["ChecksumCRC32"])
            for p in out["attrs"]["parts"]["Parts"]] == [(1, len(p1), b64(crc32(p1))),
                                                         (2, len(p2), b64(crc32(p2)))]
    assert out["head"] == {"crc32": composite + "-2", "type": "COMPOSITE",
                           "length": len(p1) + len(p2)}
    assert out["tags"] == [{"Key": "team", "Value": "billing"}, {"Key": "year", "Value": "2026"}]


def test_checksum_headers_every_algorithm(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="cks")
    data = os.urandom(70_000)
    # boto3 computes these itself and sends them as headers over plain HTTP.
    for algo, fn in (("CRC32", crc32), ("SHA1", lambda d: hashlib.sha1(d).digest()),
                     ("SHA256", lambda d: hashlib.sha256(d).digest())):
        put = s3.put_object(Bucket="cks", Key=algo, Body=data, ChecksumAlgorithm=algo)
        assert put["Checksum" + algo] == b64(fn(data))
        got = s3.get_object(Bucket="cks", Key=algo, ChecksumMode="ENABLED")
        assert got["Body"].read() == data and got["Checksum" + algo] == b64(fn(data))
        # Without ChecksumMode the checksum is not sent.
        assert "Checksum" + algo not in s3.head_object(Bucket="cks", Key=algo)
    for algo, fn in (("crc32c", crc32c), ("crc64nvme", crc64nvme)):
        hdr = "x-amz-checksum-" + algo
        with_headers(s3c(server), "PutObject", {hdr: b64(fn(data[:3000]))}).put_object(
            Bucket="cks", Key=algo, Body=data[:3000])
        got = s3.get_object(Bucket="cks", Key=algo, ChecksumMode="ENABLED")
        assert got["ResponseMetadata"]["HTTPHeaders"][hdr] == b64(fn(data[:3000]))
        with pytest.raises(ClientError) as e:
            with_headers(s3c(server), "PutObject", {hdr: b64(fn(b"other"))}).put_object(
                Bucket="cks", Key=algo + "-bad", Body=data[:3000])
        assert error_code(e) == "BadDigest" and status(e) == 400
        assert algo.upper() in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        with_headers(s3c(server), "PutObject", {"x-amz-checksum-crc32": b64(crc32(b"x")),
                                                "x-amz-checksum-sha1": b64(b"y" * 20)}
                     ).put_object(Bucket="cks", Key="two", Body=b"x")
    assert error_code(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        with_headers(s3c(server), "PutObject", {"x-amz-checksum-crc32": "not base64!"}
                     ).put_object(Bucket="cks", Key="bad64", Body=b"x")
    assert error_code(e) == "InvalidRequest"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cks")["Contents"]]
    assert sorted(keys) == ["CRC32", "SHA1", "SHA256", "crc32c", "crc64nvme"]
    attrs = s3.get_object_attributes(Bucket="cks", Key="SHA256",
                                     ObjectAttributes=["Checksum", "ObjectSize", "ETag"])
    assert attrs["Checksum"] == {"ChecksumSHA256": b64(hashlib.sha256(data).digest())}
    assert attrs["ObjectSize"] == len(data)
    assert attrs["ETag"] == hashlib.md5(data).hexdigest()
    assert "ObjectParts" not in attrs


def raw_put(server, path, headers, body):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("PUT", path, body=body, headers=headers)
    resp = conn.getresponse()
    out = resp.status, resp.read()
    conn.close()
    return out


def test_trailers_signed_unsigned_and_tampered(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="trail")
    data = b"trailing checksums\n" * 500

    def unsigned(value, decoded_len=len(data), name="x-amz-checksum-crc32c"):
        body = (b"%x\r\n" % len(data) + data + b"\r\n0\r\n%s:%s\r\n\r\n"
                % (name.encode(), value.encode()))
        h, _ = signed_put(server, "/trail/u", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", decoded_len,
                          len(body), {"x-amz-trailer": name})
        return raw_put(server, "/trail/u", h, body)

    code, resp = unsigned(b64(crc32c(b"tampered")))
    assert code == 400 and b"<Code>BadDigest</Code>" in resp
    code, resp = unsigned(b64(crc32c(data)), decoded_len=len(data) + 1)
    assert code == 400 and b"<Code>IncompleteBody</Code>" in resp
    with pytest.raises(ClientError):
        s3.head_object(Bucket="trail", Key="u")
    code, resp = unsigned(b64(crc32c(data)))
    assert code == 200, resp
    got = s3.get_object(Bucket="trail", Key="u", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-crc32c"] == b64(crc32c(data))

    # The signed form: chunk signatures, then a signed trailer.
    chunks = [data[:4000], data[4000:]]
    trailer = b"x-amz-checksum-sha256:%s" % b64(hashlib.sha256(data).digest()).encode()

    def signed(tamper_trailer):
        probe = b"".join(b"%x;chunk-signature=%s\r\n" % (len(c), b"0" * 64) + c + b"\r\n"
                         for c in chunks + [b""])
        total = len(probe) - 2 + len(trailer) + 2 + len(b"x-amz-trailer-signature:") + 64 + 4
        h, seed = signed_put(server, "/trail/s", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                             len(data), total, {"x-amz-trailer": "x-amz-checksum-sha256"})
        date = h["X-Amz-Date"]
        key = signing_key(server.secret, date[:8])
        scope = "%s/us-east-1/s3/aws4_request" % date[:8]
        prev, body = seed, b""
        for c in chunks + [b""]:
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", date, scope, prev, EMPTY,
                             hashlib.sha256(c).hexdigest()])
            prev = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            body += b"%x;chunk-signature=%s\r\n" % (len(c), prev.encode()) + c
            body += b"\r\n" if c else b""
        sent = trailer if not tamper_trailer else trailer[:-3] + b"AA="
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", date, scope, prev,
                         hashlib.sha256(trailer + b"\n").hexdigest()])
        tsig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        body += sent + b"\r\nx-amz-trailer-signature:" + tsig.encode() + b"\r\n\r\n"
        h["Content-Length"] = str(len(body))
        return raw_put(server, "/trail/s", h, body)

    code, resp = signed(tamper_trailer=True)
    assert code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in resp
    code, resp = signed(tamper_trailer=False)
    assert code == 200, resp
    got = s3.get_object(Bucket="trail", Key="s", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    assert got["ChecksumSHA256"] == b64(hashlib.sha256(data).digest())


def test_multipart_full_object_and_composite_checksums(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="mpck")
    parts = [os.urandom(5 * MIB), os.urandom(100)]
    for kind in ("FULL_OBJECT", "COMPOSITE"):
        creator = with_headers(s3c(server), "CreateMultipartUpload",
                               {"x-amz-checksum-type": kind})
        up = creator.create_multipart_upload(Bucket="mpck", Key=kind, ChecksumAlgorithm="CRC32")
        assert up["ChecksumAlgorithm"] == "CRC32"
        listed = []
        for n, p in enumerate(parts, 1):
            r = s3.upload_part(Bucket="mpck", Key=kind, UploadId=up["UploadId"], PartNumber=n,
                               Body=p, ChecksumAlgorithm="CRC32")
            assert r["ChecksumCRC32"] == b64(crc32(p))
            listed.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
        lp = s3.list_parts(Bucket="mpck", Key=kind, UploadId=up["UploadId"])
        assert [p["ChecksumCRC32"] for p in lp["Parts"]] == [b64(crc32(p)) for p in parts]
        bad = [dict(listed[0], ChecksumCRC32=b64(crc32(b"no"))), listed[1]]
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket="mpck", Key=kind, UploadId=up["UploadId"],
                                         MultipartUpload={"Parts": bad})
        assert error_code(e) == "InvalidPart"
        out = s3.complete_multipart_upload(Bucket="mpck", Key=kind, UploadId=up["UploadId"],
                                           MultipartUpload={"Parts": listed})
        whole = b"".join(parts)
        want = (b64(crc32(whole)) if kind == "FULL_OBJECT"
                else b64(crc32(crc32(parts[0]) + crc32(parts[1]))) + "-2")
        assert out["ChecksumCRC32"] == want
        head = s3.head_object(Bucket="mpck", Key=kind, ChecksumMode="ENABLED")
        assert head["ChecksumCRC32"] == want
        assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-checksum-type"] == kind
        # A part's own checksum with partNumber, for a composite object.
        if kind == "COMPOSITE":
            part = s3.head_object(Bucket="mpck", Key=kind, PartNumber=2, ChecksumMode="ENABLED")
            assert part["ChecksumCRC32"] == b64(crc32(parts[1]))
    with pytest.raises(ClientError) as e:
        with_headers(s3c(server), "CreateMultipartUpload", {"x-amz-checksum-type": "FULL_OBJECT"}
                     ).create_multipart_upload(Bucket="mpck", Key="x", ChecksumAlgorithm="SHA256")
    assert error_code(e) == "InvalidRequest"
    # A part whose checksum is of another algorithm than the upload's.
    up = s3.create_multipart_upload(Bucket="mpck", Key="mix", ChecksumAlgorithm="CRC32")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="mpck", Key="mix", UploadId=up["UploadId"], PartNumber=1,
                       Body=b"x", ChecksumAlgorithm="SHA256")
    assert error_code(e) == "InvalidRequest"


def test_object_tagging(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="tags")
    s3.put_object(Bucket="tags", Key="k", Body=b"x", Tagging="a=1&b=two%20words&c=")
    got = s3.get_object(Bucket="tags", Key="k")
    assert got["TagCount"] == 3
    assert s3.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two words"}, {"Key": "c", "Value": ""}]
    s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": [{"Key": "z", "Value": "9"}]})
    assert s3.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == [{"Key": "z", "Value": "9"}]
    assert s3.get_object(Bucket="tags", Key="k")["Body"].read() == b"x"
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": [
            {"Key": "k%d" % i, "Value": "v"} for i in range(11)]})
    assert error_code(e) == "InvalidTag"
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": [
            {"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}]})
    assert error_code(e) == "InvalidTag"
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket="tags", Key="k", Tagging={"TagSet": [
            {"Key": "x" * 129, "Value": "1"}]})
    assert error_code(e) == "InvalidTag"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="tags", Key="many", Body=b"x",
                      Tagging="&".join("t%d=v" % i for i in range(11)))
    assert error_code(e) == "InvalidTag"
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket="tags", Key="absent")
    assert error_code(e) == "NoSuchKey"
    # Copies keep the tags, or take new ones with REPLACE.
    s3.copy_object(Bucket="tags", Key="copy", CopySource="tags/k")
    assert s3.get_object_tagging(Bucket="tags", Key="copy")["TagSet"] == [{"Key": "z",
                                                                            "Value": "9"}]
    s3.copy_object(Bucket="tags", Key="copy2", CopySource="tags/k", TaggingDirective="REPLACE",
                   Tagging="n=1")
    assert s3.get_object_tagging(Bucket="tags", Key="copy2")["TagSet"] == [{"Key": "n",
                                                                             "Value": "1"}]
    r = s3.delete_object_tagging(Bucket="tags", Key="k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket="tags", Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket="tags", Key="k")
    # Tags given to CreateMultipartUpload end on the object.
    up = s3.create_multipart_upload(Bucket="tags", Key="mp", Tagging="m=p")
    e1 = s3.upload_part(Bucket="tags", Key="mp", UploadId=up["UploadId"], PartNumber=1,
                        Body=b"1")["ETag"]
    s3.complete_multipart_upload(Bucket="tags", Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object_tagging(Bucket="tags", Key="mp")["TagSet"] == [{"Key": "m",
                                                                          "Value": "p"}]
