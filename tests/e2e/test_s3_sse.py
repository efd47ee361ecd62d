"""S3 server-side encryption end to end: SSE-S3 (per request and as the bucket's default) and
SSE-C, bodies encrypted at rest in chunks (ranged reads decrypt only what they send), a
tampered body refused, multipart uploads and copies, and the key surviving a restart."""
import base64
import hashlib
import os

import pytest
from botocore.exceptions import ClientError

from test_s3 import s3c, error_code, status

MIB = 1024 * 1024
CHUNK = 64 * 1024


def body_files(server):
    d = os.path.join(server.data_dir, "objects")
    return {f: os.path.join(d, f) for f in os.listdir(d)}


def test_sse_s3_at_rest_ranges_and_tamper(make_server):
    server = make_server().start()
    s3 = s3c(server)
    s3.create_bucket(Bucket="enc")
    marker = b"PLAINTEXT-MARKER-"
    data = (marker + os.urandom(1000)) * 300           # ~305 KB: several chunks
    put = s3.put_object(Bucket="enc", Key="k", Body=data, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()
    (name, path), = body_files(server).items()
    raw = open(path, "rb").read()
    assert marker not in raw
    assert len(raw) == len(data) + 16 * ((len(data) + CHUNK - 1) // CHUNK)
    got = s3.get_object(Bucket="enc", Key="k")
    assert got["Body"].read() == data and got["ServerSideEncryption"] == "AES256"
    for a, b in ((0, 9), (CHUNK - 5, CHUNK + 5), (len(data) - 7, len(data) - 1),
                 (3 * CHUNK, 4 * CHUNK - 1)):
        got = s3.get_object(Bucket="enc", Key="k", Range="bytes=%d-%d" % (a, b))
        assert got["Body"].read() == data[a:b + 1]
    assert s3.head_object(Bucket="enc", Key="k")["ContentLength"] == len(data)
    empty = s3.put_object(Bucket="enc", Key="empty", Body=b"", ServerSideEncryption="AES256")
    assert empty["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket="enc", Key="empty")["Body"].read() == b""

    # The key lives in the data directory: a restart reads the same bodies.
    server.stop()
    server.start()
    s3 = s3c(server)
    assert s3.get_object(Bucket="enc", Key="k")["Body"].read() == data

    # One flipped byte on disk: the chunk fails authentication and the body is cut there.
    with open(path, "r+b") as f:
        f.seek(2 * CHUNK + 100)
        b = f.read(1)
        f.seek(2 * CHUNK + 100)
        f.write(bytes([b[0] ^ 1]))
    got = s3.get_object(Bucket="enc", Key="k", Range="bytes=0-%d" % (CHUNK - 1))
    assert got["Body"].read() == data[:CHUNK]
    with pytest.raises(Exception):
        s3.get_object(Bucket="enc", Key="k")["Body"].read()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="enc", Key="kms", Body=b"x", ServerSideEncryption="aws:kms")
    assert error_code(e) == "InvalidArgument"


def test_bucket_default_encryption(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="dflt")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket="dflt")
    assert error_code(e) == "ServerSideEncryptionConfigurationNotFoundError"
    assert "ServerSideEncryption" not in s3.put_object(Bucket="dflt", Key="plain", Body=b"p")
    s3.put_bucket_encryption(Bucket="dflt", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    rule = s3.get_bucket_encryption(Bucket="dflt")["ServerSideEncryptionConfiguration"]
    assert rule["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert s3.put_object(Bucket="dflt", Key="enc", Body=b"e")["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket="dflt", Key="enc")["ServerSideEncryption"] == "AES256"
    assert "ServerSideEncryption" not in s3.head_object(Bucket="dflt", Key="plain")
    s3.delete_bucket_encryption(Bucket="dflt")
    with pytest.raises(ClientError):
        s3.get_bucket_encryption(Bucket="dflt")


def test_sse_c(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="ssec")
    key, other = os.urandom(32), os.urandom(32)
    data = os.urandom(150_000)
    put = s3.put_object(Bucket="ssec", Key="k", Body=data, SSECustomerAlgorithm="AES256",
                        SSECustomerKey=key)
    assert put["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(key).digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ssec", Key="k")
    assert error_code(e) == "InvalidRequest" and status(e) == 400
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ssec", Key="k", SSECustomerAlgorithm="AES256",
                      SSECustomerKey=other)
    assert status(e) == 403
    got = s3.get_object(Bucket="ssec", Key="k", SSECustomerAlgorithm="AES256",
                        SSECustomerKey=key, Range="bytes=70000-70099")
    assert got["Body"].read() == data[70000:70100]
    assert s3.head_object(Bucket="ssec", Key="k", SSECustomerAlgorithm="AES256",
                          SSECustomerKey=key)["ContentLength"] == len(data)
    # Copied to an SSE-S3 object with the source's key.
    s3.copy_object(Bucket="ssec", Key="copy", CopySource="ssec/k",
                   CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=key,
                   ServerSideEncryption="AES256")
    assert s3.get_object(Bucket="ssec", Key="copy")["Body"].read() == data
    with pytest.raises(ClientError):
        s3.copy_object(Bucket="ssec", Key="copy2", CopySource="ssec/k")


def test_encrypted_multipart_uploads(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="encmp")
    parts = [os.urandom(5 * MIB + 123), os.urandom(70_000)]
    key = os.urandom(32)
    for kind, extra in (("s3", {"ServerSideEncryption": "AES256"}),
                        ("c", {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key})):
        up = s3.create_multipart_upload(Bucket="encmp", Key=kind, **extra)
        part_extra = {} if kind == "s3" else extra
        etags = [s3.upload_part(Bucket="encmp", Key=kind, UploadId=up["UploadId"],
                                PartNumber=n, Body=p, **part_extra)["ETag"]
                 for n, p in enumerate(parts, 1)]
        if kind == "c":
            with pytest.raises(ClientError) as e:
                s3.upload_part(Bucket="encmp", Key=kind, UploadId=up["UploadId"],
                               PartNumber=3, Body=b"x")
            assert error_code(e) == "InvalidRequest"
        s3.complete_multipart_upload(Bucket="encmp", Key=kind, UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": n, "ETag": e}
                                         for n, e in enumerate(etags, 1)]})
        whole = b"".join(parts)
        got = s3.get_object(Bucket="encmp", Key=kind, **part_extra)
        assert got["Body"].read() == whole
        a = len(parts[0]) - 10
        got = s3.get_object(Bucket="encmp", Key=kind, Range="bytes=%d-%d" % (a, a + 99),
                            **part_extra)
        assert got["Body"].read() == whole[a:a + 100]
