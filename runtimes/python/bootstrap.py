"""sluice's runtime for Lambda's python3.x runtimes: loads the handler and serves invocations
through the Lambda Runtime API, as AWS's Python runtime interface client does.

What it is: the process sluice starts for a python3.11 / python3.12 function. It imports
_HANDLER ("module.function", the module path relative to LAMBDA_TASK_ROOT, "/" or "."
separated), then loops: GET invocation/next, call handler(event, context), POST the JSON
result to invocation/{id}/response, or the error ({errorMessage, errorType, requestId,
stackTrace}, as Lambda's Python runtime formats it) to invocation/{id}/error. A handler that
cannot be loaded is reported to init/error and the process exits, as on Lambda.

What it is not: a copy of AWS's runtime: it uses the standard library only, and the machine's
python3.
"""
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback

RUNTIME_API = os.environ["AWS_LAMBDA_RUNTIME_API"]
HOST, _, PORT = RUNTIME_API.rpartition(":")
BASE = "/2018-06-01/runtime"


class Api:
    """One keep-alive connection to the Runtime API (reopened when it drops)."""

    def __init__(self):
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(HOST, int(PORT), timeout=None)
            try:
                self.conn.request(method, BASE + path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, resp.headers, data
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise


API = Api()


class LambdaContext:
    """The context object handlers get, with the attributes of Lambda's Python runtime."""

    def __init__(self, request_id, deadline_ms, arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


class Fault(Exception):
    def __init__(self, error_type, message, trace=None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def error_json(error_type, message, request_id="", stack=None):
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id,
            "stackTrace": stack or []}


def log_error(err):
    """The [ERROR] line Lambda's Python runtime writes for a failure."""
    lines = ["[ERROR] %s: %s" % (err["errorType"], err["errorMessage"])]
    if err["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(s.rstrip("\n") for s in err["stackTrace"])
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def load_handler(spec):
    try:
        modname, fname = spec.rsplit(".", 1)
    except ValueError as e:
        raise Fault("Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (spec, e))
    modname = modname.replace("/", ".")
    try:
        module = importlib.import_module(modname)
    except ImportError as e:
        raise Fault("Runtime.ImportModuleError",
                    "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s\n' % (e.filename, e.lineno, e.text)]
        raise Fault("Runtime.UserCodeSyntaxError",
                    "Syntax error in module '%s': %s" % (modname, e), trace)
    except Exception as e:
        raise Fault(type(e).__name__, str(e),
                    traceback.format_list(traceback.extract_tb(e.__traceback__)))
    handler = getattr(module, fname, None)
    if handler is None:
        raise Fault("Runtime.HandlerNotFound",
                    "Handler '%s' missing on module '%s'" % (fname, modname))
    return handler


class LambdaLogHandler(logging.Handler):
    """logging as on Lambda: [LEVEL]\\ttimestamp\\trequest id\\tmessage."""

    request_id = ""

    def emit(self, record):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        msg = "[%s]\t%s.%03dZ\t%s\t%s\n" % (record.levelname, ts, int(record.msecs),
                                           LambdaLogHandler.request_id, self.format(record))
        sys.stdout.write(msg)
        sys.stdout.flush()


def main():
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    sys.path.insert(0, task_root)
    root = logging.getLogger()
    root.handlers = [LambdaLogHandler()]
    root.setLevel(logging.WARNING)
    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except Fault as f:
        err = error_json(f.error_type, f.message, "", f.trace)
        log_error(err)
        API.call("POST", "/init/error", json.dumps(err).encode(),
                 {"Lambda-Runtime-Function-Error-Type": f.error_type,
                  "Content-Type": "application/json"})
        sys.exit(1)

    while True:
        status, headers, body = API.call("GET", "/invocation/next")
        if status != 200:
            sys.exit(0)
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        deadline = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))
        cc = headers.get("Lambda-Runtime-Client-Context")
        identity = headers.get("Lambda-Runtime-Cognito-Identity")
        if headers.get("Lambda-Runtime-Trace-Id"):
            os.environ["_X_AMZN_TRACE_ID"] = headers["Lambda-Runtime-Trace-Id"]
        LambdaLogHandler.request_id = request_id
        context = LambdaContext(request_id, deadline, headers.get(
            "Lambda-Runtime-Invoked-Function-Arn"), json.loads(cc) if cc else None,
            json.loads(identity) if identity else None)
        try:
            event = json.loads(body) if body else {}
            result = handler(event, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as e:
                raise Fault("Runtime.MarshalError", "Unable to marshal response: %s" % e)
        except Fault as f:
            err = error_json(f.error_type, f.message, request_id, f.trace)
        except Exception as e:
            err = error_json(type(e).__name__, str(e), request_id,
                             traceback.format_list(traceback.extract_tb(e.__traceback__)[1:]))
        else:
            sys.stdout.flush()
            sys.stderr.flush()
            API.call("POST", "/invocation/%s/response" % request_id, payload,
                     {"Content-Type": "application/json"})
            continue
        log_error(err)
        sys.stderr.flush()
        API.call("POST", "/invocation/%s/error" % request_id, json.dumps(err).encode(),
                 {"Lambda-Runtime-Function-Error-Type": err["errorType"],
                  "Content-Type": "application/json"})


if __name__ == "__main__":
    main()
