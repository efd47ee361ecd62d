// sluice's runtime for Lambda's nodejs runtimes: loads the handler and serves invocations
// through the Lambda Runtime API, as AWS's Node.js runtime interface client does.
//
// What it is: the process sluice starts for a nodejs20.x function. It loads _HANDLER
// ("file.export", the file path relative to LAMBDA_TASK_ROOT, trying .js, .mjs and .cjs; the
// export may be a dotted path), then loops: GET invocation/next, call the handler (async, or
// callback style when it takes three arguments), POST the JSON result to
// invocation/{id}/response, or the error ({errorType, errorMessage, trace}, as Lambda's
// Node.js runtime formats it) to invocation/{id}/error. A handler that cannot be loaded is
// reported to init/error and the process exits, as on Lambda. console.* lines get Lambda's
// "timestamp\trequest id\tLEVEL\tmessage" form.
//
// What it is not: a copy of AWS's runtime: it uses Node's standard library only.
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import util from "node:util";

const [HOST, PORT] = (() => {
  const api = process.env.AWS_LAMBDA_RUNTIME_API;
  const i = api.lastIndexOf(":");
  return [api.slice(0, i), Number(api.slice(i + 1))];
})();
const BASE = "/2018-06-01/runtime";
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function call(method, p, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port: PORT, method, path: BASE + p, agent, headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) })
        );
      }
    );
    req.on("error", reject);
    if (body !== undefined) {
      req.setHeader("Content-Length", Buffer.byteLength(body));
      req.write(body);
    }
    req.end();
  });
}

let currentRequestId = "";
for (const [name, level] of [
  ["log", "INFO"],
  ["info", "INFO"],
  ["warn", "WARN"],
  ["error", "ERROR"],
  ["debug", "DEBUG"],
  ["trace", "TRACE"],
]) {
  console[name] = (...args) => {
    const line = util.format(...args).replace(/\n/g, "\r");
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${line}\n`);
  };
}

function errorJson(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || "Error",
      errorMessage: err.message,
      trace: typeof err.stack === "string" ? err.stack.split("\n") : [],
    };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

class Fault extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

async function loadHandler(spec, root) {
  const dot = spec.indexOf(".", spec.lastIndexOf("/") + 1);
  if (dot < 0) {
    throw new Fault("Runtime.MalformedHandlerName", "Bad handler");
  }
  const file = spec.slice(0, dot);
  const members = spec.slice(dot + 1).split(".");
  let mod = null;
  for (const ext of [".js", ".mjs", ".cjs"]) {
    const full = path.resolve(root, file + ext);
    if (!fs.existsSync(full)) {
      continue;
    }
    try {
      if (ext === ".cjs") {
        mod = createRequire(full)(full);
      } else {
        mod = await import(pathToFileURL(full).href);
      }
    } catch (e) {
      if (e instanceof SyntaxError) {
        throw new Fault("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`);
      }
      throw e;
    }
    break;
  }
  if (mod === null) {
    throw new Fault(
      "Runtime.ImportModuleError",
      `Error: Cannot find module '${file}'\nRequire stack:\n- ${process.argv[1]}`
    );
  }
  let fn = mod;
  for (const m of members) {
    fn = fn == null ? undefined : fn[m] !== undefined ? fn[m] : fn.default?.[m];
  }
  if (typeof fn !== "function") {
    throw new Fault("Runtime.HandlerNotFound", `${spec} is undefined or not exported`);
  }
  return fn;
}

function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err);
      else resolve(result);
    };
    context.done = callback;
    context.succeed = (r) => callback(null, r);
    context.fail = (e) => callback(e ?? new Error("handled"));
    try {
      const out = handler(event, context, callback);
      if (out && typeof out.then === "function") {
        out.then((r) => callback(null, r), (e) => callback(e));
      } else if (handler.length < 3) {
        callback(null, out);
      }
    } catch (e) {
      callback(e);
    }
  });
}

async function main() {
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER || "", root);
  } catch (e) {
    const err = errorJson(e);
    process.stdout.write(
      `${new Date().toISOString()}\tundefined\tERROR\t${JSON.stringify(err)}\n`
    );
    await call("POST", "/init/error", JSON.stringify(err), {
      "Content-Type": "application/json",
      "Lambda-Runtime-Function-Error-Type": err.errorType,
    });
    process.exit(1);
  }
  for (;;) {
    const next = await call("GET", "/invocation/next");
    if (next.status !== 200) {
      process.exit(0);
    }
    const h = next.headers;
    const requestId = h["lambda-runtime-aws-request-id"];
    const deadline = Number(h["lambda-runtime-deadline-ms"]);
    currentRequestId = requestId;
    if (h["lambda-runtime-trace-id"]) {
      process.env._X_AMZN_TRACE_ID = h["lambda-runtime-trace-id"];
    }
    const context = {
      awsRequestId: requestId,
      invokedFunctionArn: h["lambda-runtime-invoked-function-arn"],
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
      memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      clientContext: h["lambda-runtime-client-context"]
        ? JSON.parse(h["lambda-runtime-client-context"])
        : undefined,
      identity: h["lambda-runtime-cognito-identity"]
        ? JSON.parse(h["lambda-runtime-cognito-identity"])
        : undefined,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let event;
    try {
      event = next.body.length ? JSON.parse(next.body.toString("utf8")) : {};
      const result = await runHandler(handler, event, context);
      const body = JSON.stringify(result === undefined ? null : result);
      await call("POST", `/invocation/${requestId}/response`, body, {
        "Content-Type": "application/json",
      });
    } catch (e) {
      const err = errorJson(e);
      process.stdout.write(
        `${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error \t${JSON.stringify(err)}\n`
      );
      await call("POST", `/invocation/${requestId}/error`, JSON.stringify(err), {
        "Content-Type": "application/json",
        "Lambda-Runtime-Function-Error-Type": err.errorType,
      });
    }
  }
}

main();
