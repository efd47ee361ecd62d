"""Lambda through boto3 and the aws CLI: functions and their code, invocations of python,
node and provided.al2023 functions, logs, timeouts, warm environments, Event invokes, and a
function calling back into sluice."""
import base64
import io
import json
import os
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def zip_bytes(files, modes=None):
    """A zip of {name: text}; modes gives Unix permissions per name (default 0644)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | (modes or {}).get(name, 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return buf.getvalue()


PY_ECHO = "def handler(event, context):\n    return {'echo': event}\n"


def create(lam, name, files=None, runtime="python3.12", handler="app.handler", **kw):
    return lam.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler,
                               Code={"ZipFile": zip_bytes(files or {"app.py": PY_ECHO},
                                                          kw.pop("modes", None))}, **kw)


def error_of(exc):
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"], \
        exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_function_lifecycle(server):
    lam = server.client("lambda")
    code = zip_bytes({"app.py": PY_ECHO})
    out = lam.create_function(FunctionName="orders", Runtime="python3.12", Role=ROLE,
                              Handler="app.handler", Code={"ZipFile": code}, Timeout=30,
                              MemorySize=256, Description="d",
                              Environment={"Variables": {"STAGE": "test"}})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert out["FunctionName"] == "orders"
    assert out["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:orders"
    assert out["Version"] == "$LATEST"
    assert out["State"] == "Pending" and out["StateReasonCode"] == "Creating"
    assert out["CodeSize"] == len(code)
    import hashlib
    assert out["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert out["Timeout"] == 30 and out["MemorySize"] == 256
    assert out["Environment"] == {"Variables": {"STAGE": "test"}}
    assert out["PackageType"] == "Zip" and out["Architectures"] == ["x86_64"]
    assert out["Role"] == ROLE
    assert out["LastModified"].endswith("+0000")
    rev = out["RevisionId"]

    lam.get_waiter("function_active_v2").wait(FunctionName="orders")
    got = lam.get_function(FunctionName="orders")
    cfg = got["Configuration"]
    assert cfg["State"] == "Active" and cfg["LastUpdateStatus"] == "Successful"
    assert cfg["RevisionId"] == rev
    assert got["Code"]["RepositoryType"] == "S3"
    import urllib.request
    assert urllib.request.urlopen(got["Code"]["Location"]).read() == code
    # Every accepted form of the name names the function.
    for ref in ("orders", "000000000000:function:orders",
                "arn:aws:lambda:us-east-1:000000000000:function:orders",
                "arn:aws:lambda:us-east-1:000000000000:function:orders:$LATEST"):
        assert lam.get_function_configuration(FunctionName=ref)["FunctionName"] == "orders"
    assert lam.get_function_configuration(FunctionName="orders",
                                           Qualifier="$LATEST")["Version"] == "$LATEST"

    create(lam, "billing")
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["billing", "orders"]
    page = lam.list_functions(MaxItems=1)
    assert [f["FunctionName"] for f in page["Functions"]] == ["billing"]
    rest = lam.list_functions(Marker=page["NextMarker"])
    assert [f["FunctionName"] for f in rest["Functions"]] == ["orders"]
    assert "NextMarker" not in rest

    code2 = zip_bytes({"app.py": PY_ECHO + "# v2\n"})
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName="orders", ZipFile=code2, RevisionId="stale")
    assert error_of(e)[0] == "PreconditionFailedException" and error_of(e)[2] == 412
    up = lam.update_function_code(FunctionName="orders", ZipFile=code2, RevisionId=rev)
    assert up["LastUpdateStatus"] == "InProgress"
    assert up["CodeSize"] == len(code2) and up["RevisionId"] != rev
    lam.get_waiter("function_updated_v2").wait(FunctionName="orders")
    assert lam.get_function(FunctionName="orders")["Configuration"]["CodeSize"] == len(code2)
    dry = lam.update_function_code(FunctionName="orders", ZipFile=code, DryRun=True)
    assert dry["CodeSize"] == len(code2)

    lam.delete_function(FunctionName="orders")
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="orders")
    assert error_of(e) == ("ResourceNotFoundException",
                           "Function not found: "
                           "arn:aws:lambda:us-east-1:000000000000:function:orders", 404)
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["billing"]
    # The zip and its unpacked directory went with the function.
    lam.delete_function(FunctionName="billing")
    assert os.listdir(os.path.join(server.data_dir, "lambda", "code")) == []
    assert os.listdir(os.path.join(server.data_dir, "lambda", "run")) == []


def test_function_errors(server):
    lam = server.client("lambda", validate=False)
    create(lam, "dup")
    with pytest.raises(ClientError) as e:
        create(lam, "dup")
    assert error_of(e) == ("ResourceConflictException", "Function already exist: dup", 409)
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="bad", Runtime="python3.12", Role=ROLE,
                            Handler="app.handler", Code={"ZipFile": b"this is not a zip"})
    assert error_of(e) == ("InvalidParameterValueException",
                           "Could not unzip uploaded file. Please check your file, then try "
                           "to upload again.", 400)
    with pytest.raises(ClientError) as e:
        create(lam, "bad", runtime="java21")
    code, msg, status = error_of(e)
    assert code == "InvalidParameterValueException" and "python3.12" in msg
    with pytest.raises(ClientError) as e:
        create(lam, "bad", runtime="cobol85")
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        create(lam, "bad", Timeout=0)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        create(lam, "bad", Timeout=901)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        create(lam, "bad", MemorySize=64)
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        create(lam, "bad", Environment={"Variables": {"AWS_REGION": "x"}})
    code, msg, _ = error_of(e)
    assert code == "InvalidParameterValueException" and "AWS_REGION" in msg
    with pytest.raises(ClientError) as e:
        create(lam, "bad", Environment={"Variables": {"KEY": "v" * 5000}})
    assert error_of(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="bad", Runtime="python3.12", Role="not-a-role",
                            Handler="app.handler", Code={"ZipFile": zip_bytes({"a": "b"})})
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="bad", Role=ROLE, Code={"ZipFile": zip_bytes({"a": "b"})})
    assert error_of(e)[1] == ("Runtime and Handler are mandatory parameters for functions "
                              "created with deployment packages.")
    with pytest.raises(ClientError) as e:
        create(lam, "x" * 65)
    assert error_of(e)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        create(lam, "has space")
    assert error_of(e)[0] == "ValidationException"
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="dup", Qualifier="7")
    assert error_of(e) == ("ResourceNotFoundException", "Function not found: "
                           "arn:aws:lambda:us-east-1:000000000000:function:dup:7", 404)
    with pytest.raises(ClientError) as e:
        lam.get_function(FunctionName="arn:aws:lambda:eu-west-1:000000000000:function:dup")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.delete_function(FunctionName="nope")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.update_function_code(FunctionName="nope", ZipFile=zip_bytes({"a": "b"}))
    assert error_of(e)[0] == "ResourceNotFoundException"
    # Nothing was left behind by the refused creates.
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["dup"]
    assert len(os.listdir(os.path.join(server.data_dir, "lambda", "code"))) == 1


def test_error_wire_shape(server):
    """Lambda's REST-JSON errors: x-amzn-ErrorType, and the body member each exception
    declares (ResourceNotFoundException: Message; ResourceConflictException: message)."""
    import urllib.request
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    def call(method, path, body=b""):
        req = botocore.awsrequest.AWSRequest(method=method, url=server.endpoint + path,
                                             data=body)
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(server.access_key,
                                                                 server.secret),
                                "lambda", "us-east-1").add_auth(req)
        r = urllib.request.Request(req.url, data=body or None, method=method,
                                   headers=dict(req.headers))
        try:
            resp = urllib.request.urlopen(r)
        except urllib.error.HTTPError as e:
            resp = e
        return resp.status, resp.headers, json.loads(resp.read() or b"null")

    status, headers, body = call("GET", "/2015-03-31/functions/nope")
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert body == {"Type": "User", "Message": "Function not found: "
                    "arn:aws:lambda:us-east-1:000000000000:function:nope"}
    assert headers["x-amzn-RequestId"]
    create(server.client("lambda"), "dup")
    payload = json.dumps({"FunctionName": "dup", "Runtime": "python3.12", "Role": ROLE,
                          "Handler": "app.handler",
                          "Code": {"ZipFile": base64.b64encode(
                              zip_bytes({"app.py": PY_ECHO})).decode()}}).encode()
    status, headers, body = call("POST", "/2015-03-31/functions", payload)
    assert status == 409
    assert body == {"Type": "User", "message": "Function already exist: dup"}
    # Unsigned: Lambda's error, not S3's.
    try:
        urllib.request.urlopen(server.endpoint + "/2015-03-31/functions/")
        assert False, "unsigned request served"
    except urllib.error.HTTPError as e:
        assert e.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        assert e.status == 403


def test_cli_create_and_wait(server, tmp_path):
    path = tmp_path / "fn.zip"
    path.write_bytes(zip_bytes({"app.py": PY_ECHO}))
    out = json.loads(server.cli("lambda", "create-function", "--function-name", "cli-fn",
                                "--runtime", "python3.11", "--role", ROLE, "--handler",
                                "app.handler", "--zip-file", "fileb://%s" % path).stdout)
    assert out["FunctionName"] == "cli-fn"
    server.cli("lambda", "wait", "function-active-v2", "--function-name", "cli-fn")
    server.cli("lambda", "wait", "function-exists", "--function-name", "cli-fn")
    got = json.loads(server.cli("lambda", "get-function-configuration", "--function-name",
                                "cli-fn").stdout)
    assert got["Runtime"] == "python3.11" and got["State"] == "Active"
    server.cli("lambda", "delete-function", "--function-name", "cli-fn")
    assert json.loads(server.cli("lambda", "list-functions").stdout)["Functions"] == []


def test_functions_survive_restart(make_server, data_dir):
    s = make_server(data_dir).start()
    create(s.client("lambda"), "keep", Timeout=7)
    rev = s.client("lambda").get_function(FunctionName="keep")["Configuration"]["RevisionId"]
    # A crash mid-create leaves a temporary zip; start-up sweeps it.
    stray = os.path.join(data_dir, "lambda", "code", "0" * 32 + ".zip.tmp")
    open(stray, "wb").close()
    assert s.stop()[0] == 0
    s2 = make_server(data_dir).start()
    cfg = s2.client("lambda").get_function(FunctionName="keep")["Configuration"]
    assert cfg["Timeout"] == 7 and cfg["RevisionId"] == rev
    assert not os.path.exists(stray)
