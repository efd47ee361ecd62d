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
    # The unpacked code is not durable: a missing directory is made again from the zip.
    import shutil
    run = os.path.join(data_dir, "lambda", "run")
    for d in os.listdir(run):
        shutil.rmtree(os.path.join(run, d))
    s2 = make_server(data_dir).start()
    cfg = s2.client("lambda").get_function(FunctionName="keep")["Configuration"]
    assert cfg["Timeout"] == 7 and cfg["RevisionId"] == rev
    assert not os.path.exists(stray)
    out = s2.client("lambda").invoke(FunctionName="keep", Payload=b'{"after": "restart"}')
    assert json.loads(out["Payload"].read()) == {"echo": {"after": "restart"}}


def test_relative_data_dir_runs_functions(make_server, tmp_path):
    """make run passes --data-dir ./data: a function's code, unpacked under it, must still be
    found from the environment, whose working directory is the code's."""
    rel = os.path.relpath(str(tmp_path / "data"))
    s = make_server(rel).start()
    lam = s.client("lambda")
    create(lam, "rel", files={"app.py": "import helper\n\ndef handler(e, c):\n"
                                        "    return helper.twice(e['n'])\n",
                              "helper.py": "def twice(n):\n    return 2 * n\n"})
    out = lam.invoke(FunctionName="rel", Payload=b'{"n": 21}')
    assert "FunctionError" not in out, out["Payload"].read()
    assert json.loads(out["Payload"].read()) == 42


def test_code_over_50mb_refused_before_upload(server):
    """The announced length decides, before a byte of the body is read."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/2015-03-31/functions")
    conn.putheader("Content-Length", "70000000")
    conn.putheader("Expect", "100-continue")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413
    assert resp.getheader("x-amzn-ErrorType") == "RequestEntityTooLargeException"
    assert json.loads(resp.read())["Message"] == (
        "Request must be smaller than 69905067 bytes for the CreateFunction operation")


# ---- invocations ----

PY_APP = """
import json, os, time
COUNT = 0

def handler(event, context):
    global COUNT
    COUNT += 1
    print("event", json.dumps(event, sort_keys=True))
    if event.get("fail"):
        raise ValueError("boom: " + event["fail"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("exit"):
        os._exit(3)
    return {"echo": event, "count": COUNT, "pid": os.getpid(),
            "request_id": context.aws_request_id, "name": context.function_name,
            "memory": context.memory_limit_in_mb, "arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
            "group": context.log_group_name, "stream": context.log_stream_name,
            "env": {k: os.environ.get(k) for k in (
                "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "AWS_LAMBDA_LOG_GROUP_NAME", "_HANDLER", "TZ", "STAGE", "AWS_ENDPOINT_URL",
                "AWS_ACCESS_KEY_ID", "LAMBDA_TASK_ROOT")},
            "runtime_api": os.environ.get("AWS_LAMBDA_RUNTIME_API")}
"""


def invoke(lam, name, event=None, **kw):
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kw)
    return out, json.loads(out["Payload"].read() or b"null")


def test_python_invoke(server):
    lam = server.client("lambda")
    create(lam, "py", {"app.py": PY_APP}, runtime="python3.11", MemorySize=256, Timeout=10,
           Environment={"Variables": {"STAGE": "dev"}})
    out, body = invoke(lam, "py", {"a": [1, 2]}, LogType="Tail")
    assert out["StatusCode"] == 200 and "FunctionError" not in out
    assert out["ExecutedVersion"] == "$LATEST"
    assert body["echo"] == {"a": [1, 2]}
    assert body["request_id"] == out["ResponseMetadata"]["RequestId"]
    assert body["name"] == "py" and body["memory"] == "256"
    assert body["arn"] == "arn:aws:lambda:us-east-1:000000000000:function:py"
    assert 0 < body["remaining"] <= 10000
    assert body["group"] == "/aws/lambda/py" and "[$LATEST]" in body["stream"]
    env = body["env"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "py"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["_HANDLER"] == "app.handler" and env["TZ"] == ":UTC" and env["STAGE"] == "dev"
    assert env["AWS_ENDPOINT_URL"] == server.endpoint
    assert env["AWS_ACCESS_KEY_ID"] == server.access_key
    assert body["runtime_api"].startswith("127.0.0.1:")
    assert body["runtime_api"] != "127.0.0.1:%d" % server.port
    log = base64.b64decode(out["LogResult"]).decode()
    rid = body["request_id"]
    assert log.startswith("START RequestId: %s Version: $LATEST\n" % rid)
    assert 'event {"a": [1, 2]}\n' in log
    assert "END RequestId: %s\n" % rid in log
    report = log[log.index("REPORT RequestId: %s" % rid):]
    assert "\tDuration: " in report and "\tBilled Duration: " in report
    assert "\tMemory Size: 256 MB\t" in report and "Init Duration: " in report

    # Warm: the same process serves the next invocation, without an init.
    out2, body2 = invoke(lam, "py", {"b": 1}, LogType="Tail")
    assert body2["pid"] == body["pid"] and body2["count"] == 2
    assert "Init Duration" not in base64.b64decode(out2["LogResult"]).decode()

    out, body = invoke(lam, "py", {"fail": "bad input"})
    assert out["StatusCode"] == 200 and out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "ValueError" and body["errorMessage"] == "boom: bad input"
    assert body["requestId"] == out["ResponseMetadata"]["RequestId"]
    assert any("raise ValueError" in line for line in body["stackTrace"])
    # An error leaves the environment warm.
    _, body3 = invoke(lam, "py", {})
    assert body3["pid"] == body2["pid"]

    # A crash fails the invocation as Lambda reports it, and the next one gets a new process.
    out, body = invoke(lam, "py", {"exit": 1})
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == ("RequestId: %s Error: Runtime exited with error: exit "
                                    "status 3" % out["ResponseMetadata"]["RequestId"])
    _, body4 = invoke(lam, "py", {})
    assert body4["pid"] != body2["pid"] and body4["count"] == 1

    # The payload must be JSON.
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="py", Payload=b"{not json")
    assert error_of(e)[0] == "InvalidRequestContentException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="missing", Payload=b"{}")
    assert error_of(e)[0] == "ResourceNotFoundException" and error_of(e)[2] == 404
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="py", Payload=b"{}", Qualifier="3")
    assert error_of(e)[0] == "ResourceNotFoundException"
    out = lam.invoke(FunctionName="py", Payload=b"{}", Qualifier="$LATEST")
    assert out["StatusCode"] == 200
    out = lam.invoke(FunctionName="py", InvocationType="DryRun")
    assert out["StatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="py", Payload=json.dumps({"x": "y" * (6 * 1024 * 1024)}))
    code, msg, status = error_of(e)
    assert code == "RequestEntityTooLargeException" and status == 413
    assert "RequestResponse invocation type (limit 6291456 bytes)" in msg


def test_python_init_errors(server):
    lam = server.client("lambda")
    create(lam, "noimport", {"app.py": PY_ECHO}, handler="missing.handler")
    out, body = invoke(lam, "noimport")
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'missing': No module named 'missing'"
    create(lam, "nohandler", {"app.py": PY_ECHO}, handler="app.nope")
    out, body = invoke(lam, "nohandler")
    assert body == {"errorMessage": "Handler 'nope' missing on module 'app'",
                    "errorType": "Runtime.HandlerNotFound", "requestId": "", "stackTrace": []}
    create(lam, "syntax", {"app.py": "def handler(:\n"})
    out, body = invoke(lam, "syntax")
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"


NODE_APP = {
    "index.mjs": """
let count = 0;
export const handler = async (event, context) => {
  count++;
  console.log("event", JSON.stringify(event));
  if (event.fail) throw new TypeError("bad " + event.fail);
  return { echo: event, count, pid: process.pid, id: context.awsRequestId,
           name: context.functionName, memory: context.memoryLimitInMB,
           remaining: context.getRemainingTimeInMillis() };
};
""",
    "cb.js": """
exports.handler = function (event, context, callback) {
  if (event.fail) { callback(new Error("callback failure")); return; }
  setTimeout(() => callback(null, { callback: event }), 10);
};
""",
    "lib/nested.cjs": """
module.exports = { handlers: { main: async (e) => ({ nested: e }) } };
""",
}


def test_node_invoke(server):
    lam = server.client("lambda")
    create(lam, "node", NODE_APP, runtime="nodejs20.x", handler="index.handler")
    out, body = invoke(lam, "node", {"a": 1}, LogType="Tail")
    assert "FunctionError" not in out
    assert body["echo"] == {"a": 1} and body["name"] == "node" and body["memory"] == "128"
    assert body["id"] == out["ResponseMetadata"]["RequestId"]
    assert 0 < body["remaining"] <= 3000
    log = base64.b64decode(out["LogResult"]).decode()
    assert "\t%s\tINFO\tevent {\"a\":1}\n" % body["id"] in log
    _, body2 = invoke(lam, "node", {})
    assert body2["pid"] == body["pid"] and body2["count"] == 2
    out, body = invoke(lam, "node", {"fail": "x"})
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "TypeError" and body["errorMessage"] == "bad x"
    assert body["trace"][0] == "TypeError: bad x"

    create(lam, "node-cb", NODE_APP, runtime="nodejs20.x", handler="cb.handler")
    _, body = invoke(lam, "node-cb", {"k": "v"})
    assert body == {"callback": {"k": "v"}}
    out, body = invoke(lam, "node-cb", {"fail": 1})
    assert out["FunctionError"] == "Unhandled" and body["errorMessage"] == "callback failure"
    create(lam, "node-nested", NODE_APP, runtime="nodejs20.x", handler="lib/nested.handlers.main")
    _, body = invoke(lam, "node-nested", {"n": 1})
    assert body == {"nested": {"n": 1}}
    create(lam, "node-missing", NODE_APP, runtime="nodejs20.x", handler="index.nope")
    out, body = invoke(lam, "node-missing")
    assert body["errorType"] == "Runtime.HandlerNotFound"
    assert body["errorMessage"] == "index.nope is undefined or not exported"


SH_BOOTSTRAP = """#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
echo "init in $LAMBDA_TASK_ROOT"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -D "$HEADERS" "$API/invocation/next")"
  ID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  DEADLINE="$(grep -i '^Lambda-Runtime-Deadline-Ms:' "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  rm -f "$HEADERS"
  echo "handling $ID"
  case "$EVENT" in
    *fail*) curl -sS -X POST "$API/invocation/$ID/error" \\
              -H "Lambda-Runtime-Function-Error-Type: Custom.Failure" \\
              -d '{"errorMessage":"shell failed","errorType":"Custom.Failure"}' >/dev/null ;;
    *) curl -sS -X POST "$API/invocation/$ID/response" \\
         -d "{\\"echo\\": $EVENT, \\"deadline\\": $DEADLINE, \\"handler\\": \\"$_HANDLER\\"}" >/dev/null ;;
  esac
done
"""


def test_provided_bootstrap(server):
    lam = server.client("lambda")
    create(lam, "shell", {"bootstrap": SH_BOOTSTRAP}, runtime="provided.al2023",
           handler="function.handler", modes={"bootstrap": 0o755})
    t0 = time.time() * 1000
    out, body = invoke(lam, "shell", {"x": 1}, LogType="Tail")
    assert "FunctionError" not in out
    assert body["echo"] == {"x": 1} and body["handler"] == "function.handler"
    assert t0 < body["deadline"] <= time.time() * 1000 + 3000
    log = base64.b64decode(out["LogResult"]).decode()
    assert "handling %s\n" % out["ResponseMetadata"]["RequestId"] in log
    out, body = invoke(lam, "shell", {"fail": True})
    assert out["FunctionError"] == "Unhandled"
    assert body == {"errorMessage": "shell failed", "errorType": "Custom.Failure"}
    # No bootstrap in the zip, or one that is not executable: Runtime.InvalidEntrypoint.
    create(lam, "nobootstrap", {"other": "x"}, runtime="provided.al2023", handler="h")
    out, body = invoke(lam, "nobootstrap")
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    create(lam, "noexec", {"bootstrap": SH_BOOTSTRAP}, runtime="provided.al2023", handler="h")
    out, body = invoke(lam, "noexec")
    assert body["errorType"] == "Runtime.InvalidEntrypoint"


# A bootstrap that never gives up on the Runtime API: a retry loop, as many hand-written ones
# have. It notes its pid in PID_FILE.
STUBBORN_BOOTSTRAP = """#!/bin/sh
echo $$ > "$PID_FILE"
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  H="$(mktemp)"
  if EVENT="$(curl -sf -D "$H" "$API/invocation/next")"; then
    ID="$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$H" | tr -d '[:space:]' | cut -d: -f2)"
    curl -sf -X POST "$API/invocation/$ID/response" -d '{"ok": true}' >/dev/null
  else
    sleep 0.05
  fi
  rm -f "$H"
done
"""


def alive(pid):
    """True while pid is a process that has not exited (a zombie has)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.crash
def test_environments_die_with_a_killed_server(make_server, tmp_path):
    """SIGKILL gives sluice no chance to clean up: the kernel must end its environments."""
    s = make_server().start()
    lam = s.client("lambda")
    pid_file = tmp_path / "bootstrap.pid"
    create(lam, "stubborn", {"bootstrap": STUBBORN_BOOTSTRAP}, runtime="provided.al2023",
           handler="h", modes={"bootstrap": 0o755},
           Environment={"Variables": {"PID_FILE": str(pid_file)}})
    out, body = invoke(lam, "stubborn")
    assert body == {"ok": True}
    pid = int(pid_file.read_text())
    assert alive(pid)
    s.kill()
    deadline = time.time() + 5
    while alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "environment %d outlived the killed server" % pid


def test_runtime_api_refused_on_service_endpoint(server):
    import urllib.request
    try:
        urllib.request.urlopen(server.endpoint + "/2018-06-01/runtime/invocation/next")
        assert False, "served"
    except urllib.error.HTTPError as e:
        assert e.status == 403
        assert json.loads(e.read())["errorType"] == "InvalidRuntimeApiAddress"


def test_timeout_kills_the_environment(server):
    lam = server.client("lambda")
    create(lam, "sleepy", {"app.py": PY_APP, "child.sh": "#!/bin/sh\nsleep 60\n"}, Timeout=1)
    _, first = invoke(lam, "sleepy", {})
    t0 = time.time()
    out, body = invoke(lam, "sleepy", {"sleep": 30}, LogType="Tail")
    elapsed = time.time() - t0
    assert 0.9 < elapsed < 5
    assert out["FunctionError"] == "Unhandled"
    rid = out["ResponseMetadata"]["RequestId"]
    assert body == {"errorMessage": "RequestId: %s Error: Task timed out after 1.00 seconds" % rid,
                    "errorType": "Sandbox.Timedout"}
    log = base64.b64decode(out["LogResult"]).decode()
    assert "%s Task timed out after 1.00 seconds" % rid in log
    assert "Status: timeout" in log
    # The process is gone; the next invocation gets a fresh environment.
    with pytest.raises(OSError):
        os.kill(first["pid"], 0)
    _, again = invoke(lam, "sleepy", {})
    assert again["pid"] != first["pid"] and again["count"] == 1


def test_concurrent_invocations_use_several_environments(server):
    import concurrent.futures
    lam = server.client("lambda")
    create(lam, "par", {"app.py": PY_APP}, Timeout=20)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda i: invoke(server.client("lambda"), "par",
                                               {"sleep": 1, "i": i})[1], range(4)))
    pids = {r["pid"] for r in results}
    assert len(pids) == 4
    assert sorted(r["echo"]["i"] for r in results) == [0, 1, 2, 3]
    # Warm afterwards: sequential invocations reuse those environments.
    again = {invoke(lam, "par", {})[1]["pid"] for _ in range(4)}
    assert again <= pids


def test_concurrency_limit_queues(make_server):
    import concurrent.futures
    s = make_server(extra_args=["--lambda-concurrency", "2"]).start()
    lam = s.client("lambda")
    create(lam, "two", {"app.py": PY_APP}, Timeout=20)
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(lambda i: invoke(s.client("lambda"), "two", {"sleep": 1})[1],
                              range(4)))
    assert len({r["pid"] for r in results}) == 2
    assert time.time() - t0 >= 2


def test_update_code_replaces_warm_environments(server):
    lam = server.client("lambda")
    create(lam, "upd", {"app.py": "def handler(e, c):\n    return 'v1'\n"})
    assert invoke(lam, "upd")[1] == "v1"
    lam.update_function_code(FunctionName="upd",
                             ZipFile=zip_bytes({"app.py": "def handler(e, c):\n    return 'v2'\n"}))
    assert invoke(lam, "upd")[1] == "v2"


def test_event_invocations_run(server, tmp_path):
    lam = server.client("lambda")
    marker = tmp_path / "events"
    code = ("def handler(event, context):\n"
            "    with open(event['path'], 'a') as f:\n"
            "        f.write(context.aws_request_id + '\\n')\n")
    create(lam, "ev", {"app.py": code})
    ids = []
    for _ in range(3):
        out = lam.invoke(FunctionName="ev", InvocationType="Event",
                         Payload=json.dumps({"path": str(marker)}))
        assert out["StatusCode"] == 202
        assert out["Payload"].read() == b""
        ids.append(out["ResponseMetadata"]["RequestId"])
    deadline = time.time() + 10
    while time.time() < deadline:
        if marker.exists() and len(marker.read_text().split()) == 3:
            break
        time.sleep(0.05)
    assert sorted(marker.read_text().split()) == sorted(ids)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="ev", InvocationType="Event",
                   Payload=json.dumps({"x": "y" * 300000}))
    code_, msg, status = error_of(e)
    assert code_ == "RequestEntityTooLargeException" and "(limit 262144 bytes)" in msg
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nope", InvocationType="Event", Payload=b"{}")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_function_calls_back_into_sluice(server):
    lam = server.client("lambda")
    s3 = server.client("s3")
    s3.create_bucket(Bucket="invoices")
    code = ("import os, boto3\n"
            "def handler(event, context):\n"
            "    s3 = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'])\n"
            "    s3.put_object(Bucket='invoices', Key=event['key'], Body=b'from lambda')\n"
            "    return [o['Key'] for o in s3.list_objects_v2(Bucket='invoices')['Contents']]\n")
    create(lam, "writer", {"app.py": code}, Timeout=30)
    out, body = invoke(lam, "writer", {"key": "inv-1.txt"})
    assert "FunctionError" not in out, body
    assert body == ["inv-1.txt"]
    assert s3.get_object(Bucket="invoices", Key="inv-1.txt")["Body"].read() == b"from lambda"


def test_cli_invoke(server, tmp_path):
    lam = server.client("lambda")
    create(lam, "cli-inv", {"app.py": PY_ECHO})
    outfile = tmp_path / "out.json"
    res = server.cli("lambda", "invoke", "--function-name", "cli-inv", "--cli-binary-format",
                     "raw-in-base64-out", "--payload", '{"k": 2}', "--log-type", "Tail",
                     str(outfile))
    meta = json.loads(res.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert "START RequestId" in base64.b64decode(meta["LogResult"]).decode()
    assert json.loads(outfile.read_text()) == {"echo": {"k": 2}}


def test_sigterm_with_running_environments(make_server):
    import threading
    s = make_server().start()
    lam = s.client("lambda")
    create(lam, "busy", {"app.py": PY_APP}, Timeout=60)
    _, warm = invoke(lam, "busy", {})
    th = threading.Thread(target=lambda: pytest.raises(Exception, invoke, s.client("lambda"),
                                                       "busy", {"sleep": 50}), daemon=True)
    th.start()
    time.sleep(0.5)
    rc, took = s.stop()
    assert rc == 0 and took < 1.5
    with pytest.raises(OSError):
        os.kill(warm["pid"], 0)
