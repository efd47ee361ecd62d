"""aws-chunked uploads (Content-Encoding: aws-chunked) as SDKs stream them: every chunk
signature verified, the chain checked, the stored object the decoded body, never the
framing; a tampered chunk refused; the unsigned form with a trailing checksum."""
import base64
import binascii
import datetime
import hashlib
import hmac
import http.client

import botocore.auth
import botocore.awsrequest
import botocore.credentials

EMPTY = hashlib.sha256(b"").hexdigest()


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256)


def signing_key(secret, date, region="us-east-1", service="s3"):
    k = _sign(("AWS4" + secret).encode(), date).digest()
    k = _sign(k, region).digest()
    k = _sign(k, service).digest()
    return _sign(k, "aws4_request").digest()


def signed_put(server, path, payload_kind, decoded_len, body_len, extra=None):
    """Headers of a PUT whose seed signature botocore computes."""
    creds = botocore.credentials.Credentials(server.access_key, server.secret)
    headers = {"x-amz-content-sha256": payload_kind, "Content-Encoding": "aws-chunked",
               "x-amz-decoded-content-length": str(decoded_len),
               "Content-Length": str(body_len)}
    headers.update(extra or {})
    req = botocore.awsrequest.AWSRequest(method="PUT", url=server.endpoint + path,
                                         headers=headers)
    # SigV4Auth signs the x-amz-content-sha256 value given (S3SigV4Auth would replace it
    # with the hash of the empty body); for these plain paths the canonical URIs agree.
    botocore.auth.SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    h = dict(req.headers.items())
    seed = h["Authorization"].split("Signature=")[1]
    return h, seed


def chunked_body(server, h, seed, chunks, tamper=None):
    amz_date = h["X-Amz-Date"]
    key = signing_key(server.secret, amz_date[:8])
    scope = "%s/us-east-1/s3/aws4_request" % amz_date[:8]
    prev, out = seed, b""
    for i, data in enumerate(chunks + [b""]):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev, EMPTY,
                         hashlib.sha256(data).hexdigest()])
        sig = _sign(key, sts).hexdigest()
        sent = data
        if tamper == i:
            sent = bytes([data[0] ^ 1]) + data[1:]
        out += b"%x;chunk-signature=%s\r\n" % (len(data), sig.encode()) + sent + b"\r\n"
        prev = sig
    return out


def put(server, path, headers, body):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("PUT", path, body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def test_signed_chunked_upload_and_tampered_chunk(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="chunks")
    chunks = [b"a" * 65536, b"b" * 65536, b"c" * 1000]
    data = b"".join(chunks)
    length = len(chunked_body(server, {"X-Amz-Date": "20260101T000000Z"}, "0" * 64, chunks))
    h, seed = signed_put(server, "/chunks/obj", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                         len(data), length)
    status, body = put(server, "/chunks/obj", h, chunked_body(server, h, seed, chunks))
    assert status == 200, body
    got = s3.get_object(Bucket="chunks", Key="obj")
    assert got["Body"].read() == data
    assert got["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()

    h, seed = signed_put(server, "/chunks/bad", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                         len(data), length)
    status, body = put(server, "/chunks/bad", h, chunked_body(server, h, seed, chunks, tamper=1))
    assert status == 403, body
    assert b"<Code>SignatureDoesNotMatch</Code>" in body
    assert "bad" not in [o["Key"] for o in s3.list_objects_v2(Bucket="chunks").get("Contents",
                                                                                       [])]


def test_unsigned_payload_trailer_with_crc32(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="trailers")
    data = b"hello, trailer world\n" * 1000
    crc = base64.b64encode(binascii.crc32(data).to_bytes(4, "big")).decode()
    body = b"%x\r\n" % len(data) + data + b"\r\n0\r\nx-amz-checksum-crc32:%s\r\n\r\n" % crc.encode()
    h, _ = signed_put(server, "/trailers/t", "STREAMING-UNSIGNED-PAYLOAD-TRAILER", len(data),
                      len(body), {"x-amz-trailer": "x-amz-checksum-crc32"})
    status, resp = put(server, "/trailers/t", h, body)
    assert status == 200, resp
    assert s3.get_object(Bucket="trailers", Key="t")["Body"].read() == data
