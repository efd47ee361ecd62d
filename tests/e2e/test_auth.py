"""SigV4 at the front door, through real clients: the right keys work, every way of being
wrong gets the error DynamoDB sends."""
import datetime
import http.client
import json

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.exceptions import ClientError


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_list_tables_with_printed_credentials(server):
    assert server.client("dynamodb").list_tables()["TableNames"] == []


def test_aws_cli_list_tables(server):
    out = server.cli("dynamodb", "list-tables")
    assert json.loads(out.stdout) == {"TableNames": []}


def test_aws_cli_wrong_secret_fails(server):
    env_secret = server.secret
    server.secret = "wrong" + env_secret[5:]
    try:
        out = server.cli("dynamodb", "list-tables", check=False)
    finally:
        server.secret = env_secret
    assert out.returncode != 0
    assert "InvalidSignatureException" in out.stderr


def test_unknown_access_key(server):
    ddb = server.client("dynamodb", key="AKIAUNKNOWNUNKNOWN00")
    with pytest.raises(ClientError) as e:
        ddb.list_tables()
    assert error_code(e) == "UnrecognizedClientException"
    assert e.value.response["Error"]["Message"] == \
        "The security token included in the request is invalid."
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_wrong_secret(server):
    ddb = server.client("dynamodb", secret="x" * 40)
    with pytest.raises(ClientError) as e:
        ddb.list_tables()
    assert error_code(e) == "InvalidSignatureException"
    assert "does not match the signature you provided" in e.value.response["Error"]["Message"]


def post(server, headers, body=b"{}"):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", "/", body=body, headers=headers)
    resp = conn.getresponse()
    return resp.status, json.loads(resp.read() or b"{}"), resp


def signed_headers(server, target, body=b"{}", when=None, secret=None):
    creds = botocore.credentials.Credentials(server.access_key, secret or server.secret)
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=server.endpoint + "/", data=body,
        headers={"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.0"})
    signer = botocore.auth.SigV4Auth(creds, "dynamodb", "us-east-1")
    if when is not None:
        # botocore reads the time from datetime.datetime.utcnow(); sign as of `when`.
        class Frozen(datetime.datetime):
            @classmethod
            def utcnow(cls):
                return when
        orig = botocore.auth.datetime.datetime
        botocore.auth.datetime.datetime = Frozen
        try:
            signer.add_auth(req)
        finally:
            botocore.auth.datetime.datetime = orig
    else:
        signer.add_auth(req)
    return dict(req.headers.items())


def test_missing_authentication(server):
    status, body, _ = post(server, {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                    "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400
    assert body["__type"].endswith("#MissingAuthenticationTokenException")
    assert body["message"] == "Request is missing Authentication Token"


def test_raw_signed_request_works_and_tampered_body_fails(server):
    h = signed_headers(server, "DynamoDB_20120810.ListTables", b'{"Limit": 3}')
    status, body, resp = post(server, h, b'{"Limit": 3}')
    assert status == 200, body
    assert body == {"TableNames": []}
    assert resp.getheader("x-amzn-RequestId")
    status, body, _ = post(server, h, b'{"Limit": 4}')
    assert status == 400
    assert body["__type"].endswith("#InvalidSignatureException")


def test_clock_skew_over_15_minutes_is_refused(server):
    old = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    h = signed_headers(server, "DynamoDB_20120810.ListTables", when=old)
    status, body, _ = post(server, h)
    assert status == 400
    assert body["__type"].endswith("#InvalidSignatureException")
    assert body["message"].startswith("Signature expired: ")
    # Within the window it is fine.
    recent = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    status, body, _ = post(server, signed_headers(server, "DynamoDB_20120810.ListTables",
                                                  when=recent))
    assert status == 200, body


def test_malformed_authorization_header(server):
    status, body, _ = post(server, {"X-Amz-Target": "DynamoDB_20120810.ListTables",
                                    "Authorization": "AWS4-HMAC-SHA256 Garbage",
                                    "X-Amz-Date": "20260101T000000Z"})
    assert status == 400
    assert body["__type"].endswith("#IncompleteSignatureException")


def test_unknown_operation(server):
    h = signed_headers(server, "DynamoDB_20120810.NoSuchOperation")
    status, body, _ = post(server, h)
    assert status == 400
    assert body["__type"].endswith("#UnknownOperationException")


def test_malformed_json_body(server):
    h = signed_headers(server, "DynamoDB_20120810.ListTables", b"{not json")
    status, body, _ = post(server, h, b"{not json")
    assert status == 400
    assert body["__type"].endswith("#SerializationException")
