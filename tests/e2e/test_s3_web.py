"""S3 for browsers and links end to end: presigned GET and PUT (expiry enforced), browser POST
uploads with a signed policy (conditions, content-length-range, success actions), CORS
configuration, preflights and the headers of actual requests; ListBuckets pagination and
ListObjectVersions of an unversioned bucket."""
import hashlib
import http.client
import os
import time
import urllib.parse
import uuid

import pytest
from botocore.exceptions import ClientError

import botocore.config
import boto3

from test_s3 import s3c as s3c_default, error_code, send_signed_to
from botocore.awsrequest import AWSRequest


def s3c(server):
    """A client that signs links and forms with SigV4, as current SDKs do (botocore 1.29
    presigns with SigV2 in us-east-1 unless told)."""
    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                        aws_access_key_id=server.access_key,
                        aws_secret_access_key=server.secret,
                        config=botocore.config.Config(
                            signature_version="s3v4", s3={"addressing_style": "path"},
                            retries={"max_attempts": 0, "mode": "standard"}))


def request(server, method, url, body=None, headers=None):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(method, u.path + ("?" + u.query if u.query else ""), body=body,
                 headers=headers or {})
    resp = conn.getresponse()
    out = resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    conn.close()
    return out


def test_presigned_get_and_put(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="presign")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "presign",
                                                              "Key": "up/a b.txt"},
                                        ExpiresIn=300)
    code, _, body = request(server, "PUT", put_url, body=b"via a link")
    assert code == 200, body
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "presign",
                                                              "Key": "up/a b.txt"},
                                        ExpiresIn=300)
    code, headers, body = request(server, "GET", get_url)
    assert code == 200 and body == b"via a link"
    assert headers["etag"] == '"%s"' % hashlib.md5(b"via a link").hexdigest()
    # A tampered link and an expired one are refused.
    code, _, body = request(server, "GET", get_url.replace("a%20b", "a%20c"))
    assert code == 403 and b"SignatureDoesNotMatch" in body
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": "presign",
                                                              "Key": "up/a b.txt"},
                                        ExpiresIn=1)
    time.sleep(2.1)
    code, _, body = request(server, "GET", expired)
    assert code == 403 and b"<Code>AccessDenied</Code>" in body and b"expired" in body
    code, _, body = request(server, "PUT", expired.replace("get", "get"), body=b"x")
    assert code == 403


def form_body(fields, filename, content, boundary):
    out = b""
    for k, v in fields:
        out += (b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                % (boundary, k.encode(), v.encode()))
    out += (b"--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" % (boundary, filename.encode()))
    out += content + b"\r\n--%s--\r\n" % boundary
    return out


def post_form(server, bucket, post, content, extra=(), filename="pic.png", tamper=None):
    boundary = ("----sluice" + uuid.uuid4().hex).encode()
    fields = list(post["fields"].items()) + list(extra)
    if tamper:
        fields = [(k, tamper.get(k, v)) for k, v in fields]
    body = form_body(fields, filename, content, boundary)
    return request(server, "POST", "%s/%s" % (server.endpoint, bucket), body=body,
                   headers={"Content-Type": "multipart/form-data; boundary=%s"
                            % boundary.decode(), "Content-Length": str(len(body))})


def test_browser_post_with_policy(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="forms")
    content = os.urandom(200_000) + b"\r\n--not-the-boundary\r\n" + os.urandom(1000)
    post = s3.generate_presigned_post(
        "forms", "uploads/${filename}",
        Fields={"success_action_status": "201", "Content-Type": "image/png"},
        Conditions=[["starts-with", "$key", "uploads/"], {"success_action_status": "201"},
                    {"Content-Type": "image/png"}, ["content-length-range", 1, 300_000],
                    ["starts-with", "$x-amz-meta-who", ""]],
        ExpiresIn=300)
    code, headers, body = post_form(server, "forms", post, content,
                                    extra=[("x-amz-meta-who", "browser")])
    assert code == 201, body
    assert b"<Key>uploads/pic.png</Key>" in body and b"<Bucket>forms</Bucket>" in body
    got = s3.get_object(Bucket="forms", Key="uploads/pic.png")
    assert got["Body"].read() == content
    assert got["ContentType"] == "image/png" and got["Metadata"] == {"who": "browser"}
    assert headers["etag"] == '"%s"' % hashlib.md5(content).hexdigest()

    # Conditions that fail, a field the policy does not name, a bad signature, a file too
    # large: refused, nothing stored.
    code, _, body = post_form(server, "forms", post, content,
                              tamper={"key": "elsewhere/${filename}"}, filename="x1")
    assert code == 403 and b"Policy Condition failed" in body
    code, _, body = post_form(server, "forms", post, content,
                              extra=[("x-amz-meta-who", "b"), ("acl", "public-read")],
                              filename="x2")
    assert code == 403 and b"Extra input fields: acl" in body
    sig = post["fields"]["x-amz-signature"]
    code, _, body = post_form(server, "forms", post, content, extra=[("x-amz-meta-who", "b")],
                              tamper={"x-amz-signature": sig[:-2] + "00"}, filename="x3")
    assert code == 403 and b"SignatureDoesNotMatch" in body
    code, _, body = post_form(server, "forms", post, os.urandom(300_001),
                              extra=[("x-amz-meta-who", "b")], filename="x4")
    assert code == 400 and b"EntityTooLarge" in body
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="forms")["Contents"]]
    assert listed == ["uploads/pic.png"]

    # The default answer is 204; an expired policy is refused.
    post = s3.generate_presigned_post("forms", "plain", ExpiresIn=300)
    code, headers, _ = post_form(server, "forms", post, b"tiny")
    assert code == 204 and headers["etag"] == '"%s"' % hashlib.md5(b"tiny").hexdigest()
    post = s3.generate_presigned_post("forms", "late", ExpiresIn=-10)
    code, _, body = post_form(server, "forms", post, b"tiny")
    assert code == 403 and b"Policy expired" in body
    code, _, body = request(server, "POST", server.endpoint + "/forms", body=b"x=1",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert code == 412


CORS = {"CORSRules": [
    {"AllowedOrigins": ["https://app.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]}


def test_cors_configuration_and_preflight(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="web")
    s3.put_object(Bucket="web", Key="page.html", Body=b"<p>hi</p>")
    url = server.endpoint + "/web/page.html"
    code, _, body = request(server, "OPTIONS", url, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET"})
    assert code == 403 and b"CORS is not enabled" in body
    with pytest.raises(ClientError) as e:
        s3.get_bucket_cors(Bucket="web")
    assert error_code(e) == "NoSuchCORSConfiguration"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_cors(Bucket="web", CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]})
    assert error_code(e) == "InvalidRequest"
    s3.put_bucket_cors(Bucket="web", CORSConfiguration=CORS)
    got = s3.get_bucket_cors(Bucket="web")["CORSRules"]
    assert got[0]["AllowedMethods"] == ["GET", "PUT"] and got[0]["MaxAgeSeconds"] == 600

    code, h, _ = request(server, "OPTIONS", url, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type, X-Amz-Date"})
    assert code == 200
    assert h["access-control-allow-origin"] == "https://app.example.com"
    assert h["access-control-allow-methods"] == "GET, PUT"
    assert h["access-control-allow-headers"] == "Content-Type, X-Amz-Date"
    assert h["access-control-max-age"] == "600"
    assert h["access-control-expose-headers"] == "ETag"
    # A header no rule allows, a method no rule allows for that origin.
    code, _, body = request(server, "OPTIONS", url, headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization-extra"})
    assert code == 403 and b"AccessForbidden" in body
    code, _, _ = request(server, "OPTIONS", url, headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "PUT"})
    assert code == 403
    code, h, _ = request(server, "OPTIONS", url, headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "GET"})
    assert code == 200 and h["access-control-allow-origin"] == "*"
    code, _, body = request(server, "OPTIONS", url)
    assert code == 400

    # Actual requests carry the headers of the first matching rule.
    req = AWSRequest(method="GET", url=url, headers={"Origin": "https://app.example.com"})
    code, h, body = send_signed_to(server, req)
    h = {k.lower(): v for k, v in h.items()}
    assert code == 200 and body == b"<p>hi</p>"
    assert h["access-control-allow-origin"] == "https://app.example.com"
    assert h["access-control-expose-headers"] == "ETag"
    req = AWSRequest(method="GET", url=url)
    code, h, _ = send_signed_to(server, req)
    assert "access-control-allow-origin" not in {k.lower() for k in h}

    s3.delete_bucket_cors(Bucket="web")
    with pytest.raises(ClientError):
        s3.get_bucket_cors(Bucket="web")


def test_list_buckets_pagination(server):
    s3 = s3c(server)
    names = ["pg-%02d" % i for i in range(7)] + ["other-1"]
    for n in names:
        s3.create_bucket(Bucket=n)
    seen, token = [], None
    while True:
        q = "max-buckets=3&prefix=pg-" + ("&continuation-token=" + token if token else "")
        code, _, body = send_signed_to(server, AWSRequest(method="GET",
                                                          url=server.endpoint + "/?" + q))
        assert code == 200, body
        text = body.decode()
        seen += [s.split("</Name>")[0] for s in text.split("<Name>")[1:]]
        assert "<Prefix>pg-</Prefix>" in text
        if "<ContinuationToken>" not in text:
            break
        token = text.split("<ContinuationToken>")[1].split("<")[0]
    assert seen == sorted(n for n in names if n.startswith("pg-"))
    code, _, body = send_signed_to(server, AWSRequest(method="GET",
                                                      url=server.endpoint + "/?max-buckets=0"))
    assert code == 400 and b"InvalidArgument" in body
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == sorted(names)


def test_list_object_versions_of_unversioned_bucket(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="vers")
    for k in ("a", "b/1", "b/2", "c"):
        s3.put_object(Bucket="vers", Key=k, Body=k.encode())
    out = s3.list_object_versions(Bucket="vers")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in out["Versions"]] == [
        ("a", "null", True), ("b/1", "null", True), ("b/2", "null", True), ("c", "null", True)]
    assert out["Versions"][0]["ETag"] == '"%s"' % hashlib.md5(b"a").hexdigest()
    out = s3.list_object_versions(Bucket="vers", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["b/"]
    assert [v["Key"] for v in out["Versions"]] == ["a", "c"]
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(
            Bucket="vers", PaginationConfig={"PageSize": 1}):
        seen += [v["Key"] for v in page.get("Versions", [])]
    assert seen == ["a", "b/1", "b/2", "c"]
