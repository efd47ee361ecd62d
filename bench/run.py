#!/usr/bin/env python3
"""bench/run.py: the driver of `make bench` (not a test).

Starts each server on a temporary data directory and a free loopback port (sluice's optimised
build, dynalite and s3rver from bench/peers, nginx with a generated configuration), runs the
workloads with build/bench/loadgen in one run, side by side, and writes docs/performance.md.

    python3 bench/run.py [--quick] [--only ddb,s3,startup,streams,firehose,growth] [--out FILE]

BENCH_QUICK=1 and BENCH_ONLY=... do the same as the flags (`make bench BENCH_QUICK=1`).
bench/README.md says how to run one workload alone.
"""
import argparse
import datetime
import io
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.path.join(ROOT, "build", "sluice")
LOADGEN = os.path.join(ROOT, "build", "bench", "loadgen")
PEERS = os.path.join(ROOT, "bench", "peers", "node_modules")
KEY, SECRET = "AKIDBENCH", "bench-secret"
GROUPS = ["ddb", "s3", "startup", "streams", "firehose", "growth"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("server did not listen on %d" % port)


def rss_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


class Server:
    name = "?"

    def __init__(self, tmp):
        self.tmp = tempfile.mkdtemp(prefix=self.name + "-", dir=tmp)
        self.port = free_port()
        self.proc = None
        self.key, self.secret = KEY, SECRET

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self, service):
        import boto3
        from botocore.config import Config
        return boto3.client(service, endpoint_url="http://127.0.0.1:%d" % self.port,
                            aws_access_key_id=self.key, aws_secret_access_key=self.secret,
                            region_name="us-east-1",
                            config=Config(retries={"max_attempts": 2},
                                          s3={"addressing_style": "path"}))


class Sluice(Server):
    name = "sluice"

    def __init__(self, tmp, sync="full", extra=()):
        super().__init__(tmp)
        self.sync = sync
        self.extra = list(extra)
        self.data = os.path.join(self.tmp, "data")

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SLUICE_") and not k.startswith("AWS_")}
        env["SLUICE_ROOT_ACCESS_KEY_ID"] = KEY
        env["SLUICE_ROOT_SECRET_ACCESS_KEY"] = SECRET
        return env

    def argv(self):
        return [SLUICE, "serve", "--port", str(self.port), "--data-dir", self.data,
                "--sync", self.sync, "--log-level", "warn"] + self.extra

    def start(self):
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.tmp, "stderr"), "w"),
                                     env=self.env())
        wait_health(self.port, self.proc)
        return self


def wait_health(port, proc, timeout=30):
    """Polls GET /_sluice/health until it answers; returns the time it took."""
    req = b"GET /_sluice/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    t0 = time.perf_counter()
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(req)
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.0002)
    raise RuntimeError("no answer on %d" % port)


class Dynalite(Server):
    name = "dynalite"

    def start(self):
        cli = os.path.join(PEERS, "dynalite", "cli.js")
        self.proc = subprocess.Popen(["node", cli, "--port", str(self.port), "--host",
                                      "127.0.0.1", "--path", os.path.join(self.tmp, "db"),
                                      "--createTableMs", "0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        return self


class S3rver(Server):
    name = "s3rver"

    def __init__(self, tmp):
        super().__init__(tmp)
        self.key, self.secret = "S3RVER", "S3RVER"

    def start(self):
        cli = os.path.join(PEERS, "s3rver", "bin", "s3rver.js")
        self.proc = subprocess.Popen(["node", cli, "-d", os.path.join(self.tmp, "s3"), "-a",
                                      "127.0.0.1", "-p", str(self.port), "--silent",
                                      "--configure-bucket", "bench"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        return self


GET_BODY = json.dumps({"Item": {"pk": {"S": "item#1234"}, "sk": {"N": "0"},
                                "total": {"N": "129.95"}, "paid": {"BOOL": True},
                                "data": {"S": "x" * 230}}}, separators=(",", ":"))


class Nginx(Server):
    """A fixed response of the size sluice answers: the HTTP ceiling for these requests."""
    name = "nginx"

    def __init__(self, tmp, big=0):
        super().__init__(tmp)
        self.big = big

    def start(self):
        # nginx's workers run as another user: they read the files of this directory
        os.chmod(os.path.dirname(self.tmp), 0o755)
        os.chmod(self.tmp, 0o755)
        with open(os.path.join(self.tmp, "obj.dat"), "wb") as f:
            f.write(b"o" * 4096)
        if self.big:
            with open(os.path.join(self.tmp, "big.dat"), "wb") as f:
                chunk = b"b" * (1 << 20)
                for _ in range(self.big >> 20):
                    f.write(chunk)
        conf = """
daemon off;
worker_processes 2;
pid %(t)s/nginx.pid;
error_log %(t)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000000;
    keepalive_timeout 600s;
    client_body_temp_path %(t)s/body;
    proxy_temp_path %(t)s/proxy;
    fastcgi_temp_path %(t)s/fastcgi;
    uwsgi_temp_path %(t)s/uwsgi;
    scgi_temp_path %(t)s/scgi;
    client_max_body_size 2g;
    server {
        listen 127.0.0.1:%(p)d;
        location = / {
            default_type application/x-amz-json-1.0;
            return 200 '%(get)s';
        }
        location /bench/ {
            root %(t)s;
            rewrite ^ /obj.dat break;
            error_page 405 =200 @put;
        }
        location = /bench/big-object {
            root %(t)s;
            rewrite ^ /big.dat break;
            error_page 405 =200 @put;
        }
        location @put {
            return 200;
        }
    }
}
""" % {"t": self.tmp, "p": self.port, "get": GET_BODY}
        path = os.path.join(self.tmp, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen([nginx_bin(), "-c", path, "-p", self.tmp, "-e",
                                      os.path.join(self.tmp, "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc)
        return self


def nginx_bin():
    return shutil.which("nginx") or "/usr/sbin/nginx"


def cpu_times():
    """(total, idle incl. iowait, steal) jiffies of the machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return sum(v), v[3] + v[4], v[7]


def quiesce(limit=20.0, busy_max=0.10):
    """Waits (at most limit seconds) until the machine is idle: under busy_max of its CPU
    busy for 250 ms. What one server leaves running after its run (a peer's compaction,
    a collector) would otherwise be measured against the next one."""
    t0 = time.time()
    while time.time() - t0 < limit:
        a = cpu_times()
        time.sleep(0.25)
        b = cpu_times()
        total = b[0] - a[0]
        if total > 0 and 1 - (b[1] - a[1]) / total < busy_max:
            return time.time() - t0
    log("the machine stayed busy for %.0f s before a run" % limit)
    return limit


def loadgen(server, workload, conns=1, seconds=None, warmup=None, extra=(), check=True):
    if server:
        QUIET.append(quiesce())
    argv = [LOADGEN, "-p", str(server.port) if server else "0", "-w", workload, "-c",
            str(conns), "-d", str(seconds if seconds is not None else CFG.seconds),
            "--warmup", str(warmup if warmup is not None else CFG.warmup)]
    if server:
        argv += ["--access-key", server.key, "--secret", server.secret]
    argv += [str(a) for a in extra]
    a = cpu_times()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b = cpu_times()
    try:
        res = json.loads(p.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise RuntimeError("loadgen %s failed: %s" % (" ".join(argv[3:]), p.stderr))
    if p.stderr.strip():
        log(workload, p.stderr.strip()[:300])
    if check and res.get("errors"):
        log("%s on %s: %d errors" % (workload, server.name if server else "-", res["errors"]))
    res["argv"] = " ".join(["loadgen"] + argv[1:])
    if b[0] > a[0]:
        STEAL.append(100.0 * (b[2] - a[2]) / (b[0] - a[0]))
    return res


def create_table(server, name="bench", stream=False):
    ddb = server.client("dynamodb")
    kw = {}
    if stream:
        kw["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    out = ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                      {"AttributeName": "sk", "KeyType": "RANGE"}],
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                 {"AttributeName": "sk", "AttributeType": "N"}],
                           **kw)
    for _ in range(200):
        if ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.05)
    return out["TableDescription"]


def load_items(server, n, parts=False, table="bench", conns=16, offset=0):
    """Writes item#offset.. (or the Query partitions part#, 10 items each) in BatchWriteItem
    requests of 25 items; returns the loadgen result with items_per_s."""
    extra = ["-n", n, "--table", table, "-t", 2, "--batch", 25, "--offset", offset]
    r = loadgen(server, "ddb-load", conns=conns, extra=extra + (["--parts"] if parts else []))
    r["items_per_s"] = n / r["seconds"]
    # GetItem of a missing key answers 200 too: check that the load wrote what it said
    ddb = server.client("dynamodb")
    for i in (offset, offset + n // 2, offset + n - 1):
        key = {"pk": {"S": "part#%d" % (i // 10) if parts else "item#%d" % i},
               "sk": {"N": str(i % 10 if parts else 0)}}
        if "Item" not in ddb.get_item(TableName=table, Key=key):
            raise RuntimeError("%s: item %d was not loaded" % (server.name, i))
    return r


# ---- results ----

RESULTS = {}     # (group, workload, conns, server) -> loadgen result or a dict of figures
NOTES = []
ROUNDS = {}      # (group, workload, conns, server) -> every round's loadgen result
QUIET = []       # seconds each measurement waited for an idle machine
STEAL = []       # % of the machine's CPU time stolen by its hypervisor during each run


def put(group, workload, conns, server, res):
    RESULTS[(group, workload, conns, server)] = res


def put_round(group, workload, conns, server, res):
    """Adds one round's result; the figure kept is the round with the median rate."""
    ROUNDS.setdefault((group, workload, conns, server), []).append(res)
    runs = sorted(ROUNDS[(group, workload, conns, server)], key=lambda r: r["rps"])
    med = dict(runs[(len(runs) - 1) // 2])
    med["rounds"] = [r["rps"] for r in ROUNDS[(group, workload, conns, server)]]
    RESULTS[(group, workload, conns, server)] = med


def get(group, workload, conns, server):
    return RESULTS.get((group, workload, conns, server))


# ---- groups ----

def run_ddb(tmp):
    keys = CFG.keys
    servers = []
    try:
        for cls in (Sluice, Dynalite, Nginx):
            servers.append(cls(tmp).start())
        for s in servers[:2]:
            create_table(s)
            r = load_items(s, keys)
            log("loaded %d items into %s: %.0f items/s" % (keys, s.name, r["items_per_s"]))
            load_items(s, keys, parts=True)
        # Rounds of the whole matrix, interleaved, so that a slow spell of the machine
        # lands on every server alike; each figure is its median round.
        for rnd in range(CFG.rounds):
            for c in CFG.concurrency:
                for w in ("ddb-get", "ddb-put", "ddb-update", "ddb-query"):
                    for s in servers:
                        t = 2 if c >= 16 else 1
                        r = loadgen(s, w, conns=c, extra=["--keys", keys, "-t", t])
                        put_round("ddb", w, c, s.name, r)
                        log("%-10s c%-3d %-8s %9.0f req/s p50 %.2f ms p99 %.2f ms (round %d)" %
                            (w, c, s.name, r["rps"], r["p50_us"] / 1e3, r["p99_us"] / 1e3,
                             rnd + 1))
            quiesce()
            r = loadgen(None, "fsync", extra=["--file", os.path.join(tmp, "fsync.dat")])
            put_round("ddb", "fsync", 1, "fsync", r)
            log("bare fdatasync loop: %.0f/s (round %d)" % (r["rps"], rnd + 1))
    finally:
        for s in servers:
            s.stop()


def run_s3(tmp):
    big = CFG.big
    servers = []
    try:
        for cls in (Sluice, S3rver, Nginx):
            servers.append(cls(tmp, big) if cls is Nginx else cls(tmp))
            servers[-1].start()
        servers[0].client("s3").create_bucket(Bucket="bench")
        for s in servers:
            loadgen(s, "s3-put", conns=16, extra=["-n", 1000, "--keys", 1000, "--size", 4096])
        for rnd in range(CFG.rounds):
            for c in (16, 64):
                for w in ("s3-put", "s3-get"):
                    for s in servers:
                        r = loadgen(s, w, conns=c,
                                    extra=["--keys", 1000, "--size", 4096, "-t", 2])
                        put_round("s3", w, c, s.name, r)
                        log("%-10s c%-3d %-8s %9.0f req/s p50 %.2f ms p99 %.2f ms (round %d)" %
                            (w, c, s.name, r["rps"], r["p50_us"] / 1e3, r["p99_us"] / 1e3,
                             rnd + 1))
        for s in servers:
            for w in ("s3-big-put", "s3-big-get"):
                r = loadgen(s, w, extra=["--size", big], warmup=0)
                put("s3", w, 1, s.name, r)
                log("%s %s: %.0f MB/s" % (w, s.name, r["mb_per_s"]))
    finally:
        for s in servers:
            s.stop()
    # the ceilings of one big object: the disk (write + fsync) and memory (copy)
    path = os.path.join(tmp, "disk.dat")
    chunk = b"d" * (1 << 20)
    t0 = time.perf_counter()
    with open(path, "wb", buffering=0) as f:
        for _ in range(big >> 20):
            f.write(chunk)
        os.fsync(f.fileno())
    wr = big / 1e6 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 20):
            pass
    rd = big / 1e6 / (time.perf_counter() - t0)
    os.unlink(path)
    put("s3", "disk-write", 1, "disk", {"mb_per_s": wr})
    put("s3", "disk-read", 1, "disk", {"mb_per_s": rd})
    log("disk: write+fsync %.0f MB/s, read (page cache) %.0f MB/s" % (wr, rd))


def run_startup(tmp):
    fresh, again = [], []
    for i in range(CFG.startup_runs):
        s = Sluice(tmp)
        t0 = time.perf_counter()
        s.proc = subprocess.Popen(s.argv(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=s.env())
        wait_health(s.port, s.proc)
        fresh.append(time.perf_counter() - t0)
        s.stop()
        t0 = time.perf_counter()
        s.proc = subprocess.Popen(s.argv(), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, env=s.env())
        wait_health(s.port, s.proc)
        again.append(time.perf_counter() - t0)
        if i < CFG.startup_runs - 1:
            s.stop()
            shutil.rmtree(s.tmp, ignore_errors=True)
    put("startup", "fresh", 1, "sluice", {"ms": statistics.median(fresh) * 1e3})
    put("startup", "restart", 1, "sluice", {"ms": statistics.median(again) * 1e3})
    time.sleep(1.0)
    idle = rss_kb(s.proc.pid)
    put("startup", "rss-idle", 1, "sluice", idle)
    s.stop()
    # 1,000,000 items through the front door (--sync none for the load: the figure is memory)
    s = Sluice(tmp, sync="none").start()
    try:
        create_table(s)
        idle2 = rss_kb(s.proc.pid)
        r = load_items(s, CFG.rss_items)
        loaded = rss_kb(s.proc.pid)
        put("startup", "rss-loaded", 1, "sluice", loaded)
        put("startup", "load", 64, "sluice", r)
        log("start-up %.1f ms (fresh) %.1f ms (restart); RSS idle %d kB; after %d items %d kB "
            "(anon %d kB), load %.0f items/s" % (statistics.median(fresh) * 1e3,
                                                 statistics.median(again) * 1e3,
                                                 idle["VmRSS"], CFG.rss_items, loaded["VmRSS"],
                                                 loaded["RssAnon"], r["items_per_s"]))
        del idle2
    finally:
        s.stop()
    for peer in (Dynalite, S3rver):
        p = peer(tmp).start()
        time.sleep(1.0)
        put("startup", "rss-idle", 1, p.name, rss_kb(p.proc.pid))
        p.stop()


FN_APP = """
import os, time

def handler(event, context):
    t = time.time()
    with open(os.environ["OUT"], "a") as f:
        for r in event["Records"]:
            f.write("%s %.6f\\n" % (r["dynamodb"]["Keys"]["pk"]["S"], t))
    return {"batchItemFailures": []}
"""


class Raw:
    """A JSON-protocol client on one keep-alive connection (http.client and botocore's
    SigV4): what it returns is timed when the answer's last byte is read, without boto3's
    parsing after it."""

    def __init__(self, server):
        import http.client
        self.server = server
        self.conn = http.client.HTTPConnection("127.0.0.1", server.port)

    def call(self, target, body, service="dynamodb"):
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        data = json.dumps(body)
        req = AWSRequest(method="POST", url="http://127.0.0.1:%d/" % self.server.port,
                         data=data, headers={"Content-Type": "application/x-amz-json-1.0",
                                             "X-Amz-Target": target})
        SigV4Auth(Credentials(self.server.key, self.server.secret), service,
                  "us-east-1").add_auth(req)
        self.sent = time.time()
        self.conn.request("POST", "/", data, dict(req.headers.items()))
        r = self.conn.getresponse()
        out = r.read()
        t = time.time()
        if r.status != 200:
            raise RuntimeError("%s: %d %s" % (target, r.status, out[:200]))
        return json.loads(out), t


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def summary(xs):
    return {"n": len(xs), "p50": pct(xs, 0.5), "p99": pct(xs, 0.99), "max": max(xs)}


def run_streams(tmp):
    s = Sluice(tmp).start()
    out = os.path.join(s.tmp, "fn.out")
    try:
        arn = create_table(s, "events", stream=True)["LatestStreamArn"]
        ddb, lam = s.client("dynamodb"), s.client("lambda")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("app.py", FN_APP)
        lam.create_function(FunctionName="sink", Runtime="python3.12", Handler="app.handler",
                            Role="arn:aws:iam::000000000000:role/bench",
                            Code={"ZipFile": buf.getvalue()},
                            Environment={"Variables": {"OUT": out}})
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="sink",
                                        StartingPosition="LATEST", BatchSize=1,
                                        MaximumBatchingWindowInSeconds=0)
        # the long reader: GetRecords in a loop on the (only) shard, from LATEST
        streams = s.client("dynamodbstreams")
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                        ShardIteratorType="LATEST")["ShardIterator"]
        seen, stop = {}, threading.Event()
        del streams

        def reader():
            nonlocal it
            raw = Raw(s)
            while not stop.is_set() and it:
                page, now = raw.call("DynamoDBStreams_20120810.GetRecords",
                                     {"ShardIterator": it})
                for r in page.get("Records", []):
                    seen[r["dynamodb"]["Keys"]["pk"]["S"]] = now
                it = page.get("NextShardIterator")
        th = threading.Thread(target=reader, daemon=True)
        th.start()

        def fn_times():
            got = {}
            try:
                with open(out) as f:
                    for line in f:
                        k, t = line.split()
                        got[k] = float(t)
            except OSError:
                pass
            return got

        raw = Raw(s)
        streams = s.client("dynamodbstreams")
        rtt = []

        def put_and_wait(key, timeout=30.0):
            _, ack = raw.call("DynamoDB_20120810.PutItem",
                              {"TableName": "events", "Item": {"pk": {"S": key},
                                                               "sk": {"N": "0"},
                                                               "data": {"S": "x" * 200}}})
            deadline = ack + timeout
            while time.time() < deadline:
                got = fn_times()
                if key in got and key in seen:
                    rtt.append((ack - raw.sent) * 1e3)
                    return (got[key] - ack) * 1e3, (seen[key] - ack) * 1e3
                time.sleep(0.0005)
            raise RuntimeError("stream record of %s did not arrive" % key)
        for i in range(3):             # the mapping starts, the function's environment too
            put_and_wait("warm%d" % i, timeout=60.0)
        fn, rd = [], []
        for i in range(CFG.stream_samples):
            a, b = put_and_wait("k%d" % i)
            fn.append(a)
            rd.append(b)
            time.sleep(0.01)
        stop.set()
        put("streams", "esm", 1, "sluice", summary(fn))
        put("streams", "getrecords", 1, "sluice", summary(rd))
        put("streams", "rtt", 1, "sluice", summary(rtt[3:]))
        log("PutItem -> function p50 %.2f p99 %.2f ms; -> GetRecords p50 %.2f p99 %.2f ms" %
            (pct(fn, 0.5), pct(fn, 0.99), pct(rd, 0.5), pct(rd, 0.99)))
    finally:
        s.stop()


def run_firehose(tmp):
    import gzip
    s = Sluice(tmp).start()
    try:
        fh = s.client("firehose")
        s3 = s.client("s3")
        from botocore.config import Config
        import boto3
        # botocore's model has IntervalInSeconds >= 60; Firehose takes 0 since 2023
        fh = boto3.client("firehose", endpoint_url="http://127.0.0.1:%d" % s.port,
                          aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                          region_name="us-east-1",
                          config=Config(parameter_validation=False))

        def stream(name, interval, size, comp="UNCOMPRESSED"):
            s3.create_bucket(Bucket=name)
            fh.create_delivery_stream(
                DeliveryStreamName=name, DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration={
                    "RoleARN": "arn:aws:iam::000000000000:role/bench",
                    "BucketARN": "arn:aws:s3:::" + name, "CompressionFormat": comp,
                    "BufferingHints": {"SizeInMBs": size, "IntervalInSeconds": interval}})

        def keys(bucket):
            out, kw = [], {}
            while True:
                page = s3.list_objects_v2(Bucket=bucket, **kw)
                out += [o["Key"] for o in page.get("Contents", [])]
                if not page.get("IsTruncated"):
                    return out
                kw = {"ContinuationToken": page["NextContinuationToken"]}
        # 1. PutRecordBatch into the durable buffer
        stream("fhbatch", 300, 128)
        r = loadgen(s, "fh-batch", conns=8, extra=["--table", "fhbatch", "--keys", 1, "-t", 2])
        put("firehose", "batch", 16, "sluice", r)
        log("PutRecordBatch 500 x 1 KB: %.0f batches/s = %.0f records/s" %
            (r["rps"], r["rps"] * 500))
        # 2. put -> listable with interval 0
        stream("fhzero", 0, 1)
        lat = []
        for i in range(CFG.fh_samples):
            time.sleep(0.15)   # past the flusher's 100 ms between two scans (see Notes)
            before = len(keys("fhzero"))
            fh.put_record(DeliveryStreamName="fhzero", Record={"Data": b"record %d\n" % i})
            ack = time.time()
            while len(keys("fhzero")) <= before:
                if time.time() - ack > 30:
                    raise RuntimeError("no delivery in 30 s")
                time.sleep(0.001)
            lat.append((time.time() - ack) * 1e3)
        put("firehose", "visible", 1, "sluice", summary(lat))
        log("put -> listable p50 %.1f ms p99 %.1f ms" % (pct(lat, 0.5), pct(lat, 0.99)))
        # 3. GZIP delivery rate: batches of 500 KB, delivered in 8 MB objects
        stream("fhgz", 0, 8, "GZIP")
        n = CFG.fh_gzip_batches
        want = n * 500 * 1024
        t0 = time.time()
        loadgen(s, "fh-batch", conns=4, extra=["--table", "fhgz", "--keys", 1, "-n", n])
        got, done = 0, set()
        while got < want:
            if time.time() - t0 > 300:
                raise RuntimeError("GZIP delivery incomplete: %d of %d bytes" % (got, want))
            for k in keys("fhgz"):
                if k not in done:
                    done.add(k)
                    got += len(gzip.decompress(s3.get_object(Bucket="fhgz",
                                                             Key=k)["Body"].read()))
            time.sleep(0.01)
        dt = time.time() - t0
        put("firehose", "gzip", 1, "sluice", {"mb": want / 1e6, "s": dt,
                                              "mb_per_s": want / 1e6 / dt})
        log("GZIP delivery of %.0f MB: %.1f MB/s" % (want / 1e6, want / 1e6 / dt))
    finally:
        s.stop()


def run_growth(tmp):
    sizes = CFG.growth_sizes
    s = Sluice(tmp, sync="none").start()
    try:
        loaded = 0
        create_table(s)
        for n in sizes:
            # the table grows in place: half of it item#0..n/2-1 (GetItem), half n/20 Query
            # partitions of 10
            half = n // 2
            t0 = time.perf_counter()
            if half > loaded:
                r = load_items(s, half - loaded, offset=loaded)
                load_items(s, half - loaded, parts=True, offset=loaded)
                log("growth: %d items loaded at %.0f items/s (%.0f s)" %
                    (n, 2 * (half - loaded) / (time.perf_counter() - t0),
                     time.perf_counter() - t0))
                loaded = half
            for w in ("ddb-get", "ddb-query"):
                r = loadgen(s, w, conns=16, extra=["--keys", half, "-t", 2])
                put("growth", w, n, "sluice", r)
                log("growth %s %d: p50 %.3f ms p99 %.3f ms %.0f/s" %
                    (w, n, r["p50_us"] / 1e3, r["p99_us"] / 1e3, r["rps"]))
            r = loadgen(s, "ddb-scan", conns=1, extra=["-t", 1])
            put("growth", "ddb-scan", n, "sluice", r)
    finally:
        s.stop()


# ---- the report ----

def fmt_rate(v):
    return "%.0f" % v if v >= 100 else "%.1f" % v


def ms(v):
    return "%.2f" % (v / 1e3) if v < 100e3 else "%.0f" % (v / 1e3)


def ratio(a, b):
    if not a or not b:
        return "-"
    return "%.2f" % (a / b)


def versions():
    def cmd(argv):
        try:
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            return p.stdout.strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"

    def pkg(name):
        try:
            with open(os.path.join(PEERS, name, "package.json")) as f:
                return json.load(f)["version"]
        except OSError:
            return "?"
    commit = cmd(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    return [("sluice", "%s (commit %s, `make` optimised build: -O2)" %
             (cmd([SLUICE, "version"]).replace("sluice ", ""), commit)),
            ("dynalite", "%s (npm), LevelDB store (`--path`)" % pkg("dynalite")),
            ("s3rver", "%s (npm)" % pkg("s3rver")),
            ("nginx", cmd([nginx_bin(), "-v"]).replace("nginx version: ", "") + " (Debian)"),
            ("node", cmd(["node", "--version"])),
            ("compiler", cmd([os.environ.get("CC", "cc"), "--version"]))]


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    fs = "?"
    try:
        fs = subprocess.run(["df", "-T", tempfile.gettempdir()], stdout=subprocess.PIPE,
                            text=True).stdout.splitlines()[1].split()[1]
    except (OSError, IndexError):
        pass
    return "%s, %d cores, %.0f GiB memory, Linux %s, temporary directories on %s" % (
        cpu, os.cpu_count(), mem, platform.release(), fs)


def report(started, elapsed, argv):
    L = []
    a = L.append
    a("# Performance")
    a("")
    a("Figures from one `make bench` run: every server below ran on the same machine in the "
      "same run, one after the other, each on a fresh temporary data directory and a loopback "
      "port, driven by the same load generator (`bench/loadgen.c`: keep-alive HTTP/1.1, one "
      "request in flight per connection, SigV4-signed requests, every status checked). "
      "Ratios are sluice's figure divided by the peer's. The generator shares the machine's "
      "cores with the server it drives, for every server alike. How to run one workload "
      "alone: `bench/README.md`.")
    a("")
    a("- Run: %s UTC, %.0f s, `%s`" % (started, elapsed, argv))
    a("- Machine: %s" % machine())
    a("- Load average (1 min) before the run %.2f, after %.2f: other work on the machine "
      "shares the cores with the servers and the generator, so compare figures within one "
      "run, as ratios" % (LOAD[0], os.getloadavg()[0]))
    if QUIET:
        a("- Each measurement started once the machine was idle (under 10%% of its CPU busy for "
          "250 ms, so that work a server left running, such as a peer's compaction, does not "
          "count against the next): the longest wait was %.1f s" % max(QUIET))
    if CFG.rounds > 1 and ROUNDS:
        pr = get("ddb", "ddb-put", 64, "sluice")
        a("- Rounds: the DynamoDB and 4 KiB S3 matrices ran %d times over, interleaved, so a "
          "slow spell of the machine falls on every server alike; each figure is the round "
          "with the median rate%s" % (CFG.rounds, (" (durable PutItem c64, the rounds: %s "
            "req/s)" % ", ".join(fmt_rate(x) for x in pr["rounds"])) if pr and "rounds" in pr
           else ""))
    if STEAL:
        a("- CPU time taken by the hypervisor (steal) during the measurements: median %.1f%%, "
          "at most %.1f%%" % (sorted(STEAL)[len(STEAL) // 2], max(STEAL)))
    for k, v in versions():
        a("- %s: %s" % (k, v))
    a("")
    targets = []

    def tgt(what, ok, figure):
        targets.append("| %s | %s | %s |" % (what, figure, "met" if ok else "**missed**"))

    if any(k[0] == "ddb" for k in RESULTS):
        fs = get("ddb", "fsync", 1, "fsync")
        a("## DynamoDB")
        a("")
        a("Table `pk` (S) + `sk` (N); %d items of 300 bytes for GetItem/PutItem, %d Query "
          "partitions of 10 items; sluice with `--sync full` (every acknowledged write is on "
          "disk). Peers: dynalite (LevelDB, no fsync per write) and nginx answering a fixed "
          "300-byte JSON body to the same requests (the HTTP ceiling). The durable-write "
          "ceiling is a bare `pwrite` + `fdatasync` loop on one thread: %s/s (p50 %s ms)." %
          (CFG.keys, CFG.keys // 10, fmt_rate(fs["rps"]) if fs else "-",
           ms(fs["p50_us"]) if fs else "-"))
        a("")
        a("| operation | conc | sluice req/s | p50 ms | p99 ms | p99.9 ms | dynalite req/s "
          "| dynalite p50 ms | nginx req/s | ÷ dynalite | ÷ nginx | ÷ fdatasync |")
        a("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        names = {"ddb-get": "GetItem", "ddb-put": "PutItem", "ddb-update": "UpdateItem ADD",
                 "ddb-query": "Query (10 items)"}
        for w in names:
            for c in CFG.concurrency:
                s, d, n = (get("ddb", w, c, x) for x in ("sluice", "dynalite", "nginx"))
                if not s:
                    continue
                durable = w in ("ddb-put", "ddb-update")
                a("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    names[w], c, fmt_rate(s["rps"]), ms(s["p50_us"]), ms(s["p99_us"]),
                    ms(s["p999_us"]), fmt_rate(d["rps"]) if d else "-",
                    ms(d["p50_us"]) if d else "-", fmt_rate(n["rps"]) if n else "-",
                    ratio(s["rps"], d and d["rps"]), ratio(s["rps"], n and n["rps"]),
                    ratio(s["rps"], fs and fs["rps"]) if durable else ""))
        a("")
        errs = [(k, v["errors"]) for k, v in RESULTS.items()
                if k[0] == "ddb" and isinstance(v, dict) and v.get("errors")]
        if errs:
            a("Requests answered with an unexpected status: " +
              ", ".join("%s c%d %s: %d" % (k[1], k[2], k[3], e) for k, e in errs) + ".")
            a("")
        g, gn = get("ddb", "ddb-get", 64, "sluice"), get("ddb", "ddb-get", 64, "nginx")
        if g and gn:
            tgt("GetItem c64 >= 50% of nginx", g["rps"] >= 0.5 * gn["rps"],
                "%.0f%%" % (100 * g["rps"] / gn["rps"]))
        p = get("ddb", "ddb-put", 64, "sluice")
        pn = get("ddb", "ddb-put", 64, "nginx")
        if p and pn:
            tgt("durable PutItem c64 >= 25% of nginx", p["rps"] >= 0.25 * pn["rps"],
                "%.0f%%" % (100 * p["rps"] / pn["rps"]))
        if p and fs:
            tgt("durable PutItem c64 >= 4x bare fdatasync", p["rps"] >= 4 * fs["rps"],
                "%.1fx" % (p["rps"] / fs["rps"]))

    if any(k[0] == "s3" for k in RESULTS):
        a("## S3")
        a("")
        a("PutObject and GetObject of 4 KiB objects (1000 keys, path style, "
          "`x-amz-content-sha256` the body's hash), then one object of %d MiB up and down on "
          "one connection. Peers: s3rver and nginx (a PUT answered 200 with its body "
          "discarded, a GET answered with a fixed 4 KiB body)." % (CFG.big >> 20))
        a("")
        a("| operation | conc | sluice req/s | p50 ms | p99 ms | p99.9 ms | s3rver req/s "
          "| s3rver p50 ms | nginx req/s | ÷ s3rver | ÷ nginx |")
        a("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for w, label in (("s3-put", "PutObject 4 KiB"), ("s3-get", "GetObject 4 KiB")):
            for c in (16, 64):
                s, d, n = (get("s3", w, c, x) for x in ("sluice", "s3rver", "nginx"))
                if not s:
                    continue
                a("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    label, c, fmt_rate(s["rps"]), ms(s["p50_us"]), ms(s["p99_us"]),
                    ms(s["p999_us"]), fmt_rate(d["rps"]) if d else "-",
                    ms(d["p50_us"]) if d else "-", fmt_rate(n["rps"]) if n else "-",
                    ratio(s["rps"], d and d["rps"]), ratio(s["rps"], n and n["rps"])))
        a("")
        dw, dr = get("s3", "disk-write", 1, "disk"), get("s3", "disk-read", 1, "disk")
        a("| %d MiB object | sluice MB/s | s3rver MB/s | nginx MB/s | ÷ s3rver | ÷ nginx | "
          "ceiling MB/s | ÷ ceiling |" % (CFG.big >> 20))
        a("|---|--:|--:|--:|--:|--:|--:|--:|")
        for w, label, ceil, cl in (("s3-big-put", "PutObject", dw, "file write + fsync"),
                                   ("s3-big-get", "GetObject", dr, "file read, page cache")):
            s, d, n = (get("s3", w, 1, x) for x in ("sluice", "s3rver", "nginx"))
            if not s:
                continue
            a("| %s | %.0f | %s | %s | %s | %s | %.0f (%s) | %s |" % (
                label, s["mb_per_s"], "%.0f" % d["mb_per_s"] if d else "-",
                "%.0f" % n["mb_per_s"] if n else "-",
                ratio(s["mb_per_s"], d and d["mb_per_s"]),
                ratio(s["mb_per_s"], n and n["mb_per_s"]), ceil["mb_per_s"] if ceil else 0, cl,
                ratio(s["mb_per_s"], ceil and ceil["mb_per_s"])))
        a("")
        a("nginx discards a PUT's body (no disk) and sends a GET's from its page-cached file "
          "with sendfile: the loopback ceiling of one connection with this load generator.")
        a("")
        g, gn = get("s3", "s3-get", 64, "sluice"), get("s3", "s3-get", 64, "nginx")
        if g and gn:
            tgt("S3 4 KiB GET c64 >= 50% of nginx", g["rps"] >= 0.5 * gn["rps"],
                "%.0f%%" % (100 * g["rps"] / gn["rps"]))
        ng = get("s3", "s3-big-get", 1, "nginx")
        for w, ceil, what in (("s3-big-put", dw, "the disk's write + fsync"),
                              ("s3-big-get", ng, "nginx's sendfile")):
            s = get("s3", w, 1, "sluice")
            if s and ceil:
                tgt("%d MiB %s >= 50%% of %s" % (CFG.big >> 20, w[7:].upper(), what),
                    s["mb_per_s"] >= 0.5 * ceil["mb_per_s"],
                    "%.0f%%" % (100 * s["mb_per_s"] / ceil["mb_per_s"]))

    if any(k[0] == "startup" for k in RESULTS):
        a("## Start-up and memory")
        a("")
        f, r = get("startup", "fresh", 1, "sluice"), get("startup", "restart", 1, "sluice")
        idle, loaded = get("startup", "rss-idle", 1, "sluice"), get("startup", "rss-loaded", 1,
                                                                      "sluice")
        ld = get("startup", "load", 64, "sluice")
        a("Start-up is the time from `exec` of `sluice serve` to the first answered request "
          "(`GET /_sluice/health`, polled), the median of %d runs. Resident memory is VmRSS "
          "(and its anonymous part: the rest is LMDB's file pages, which the kernel may drop) "
          "one second after start, and after %d items of 300 bytes were written "
          "(BatchWriteItem)." %
          (CFG.startup_runs, CFG.rss_items))
        a("")
        a("| figure | sluice | dynalite | s3rver |")
        a("|---|--:|--:|--:|")
        if f:
            a("| start-up, empty data directory | %.1f ms | | |" % f["ms"])
            a("| start-up, existing data directory | %.1f ms | | |" % r["ms"])
        if idle:
            dy, s3 = get("startup", "rss-idle", 1, "dynalite"), get("startup", "rss-idle", 1,
                                                                      "s3rver")
            a("| RSS idle | %.1f MB (anon %.1f) | %s | %s |" % (
                idle["VmRSS"] / 1024, idle["RssAnon"] / 1024,
                "%.1f MB" % (dy["VmRSS"] / 1024) if dy else "-",
                "%.1f MB" % (s3["VmRSS"] / 1024) if s3 else "-"))
        if loaded:
            a("| RSS after %d items | %.1f MB (anon %.1f) | | |" % (
                CFG.rss_items, loaded["VmRSS"] / 1024, loaded["RssAnon"] / 1024))
        if ld:
            a("| bulk load (BatchWriteItem of 25, c16, `--sync none`) | %.0f items/s | | |" %
              ld["items_per_s"])
        a("")
        if f:
            tgt("start-up < 20 ms", f["ms"] < 20 and r["ms"] < 20,
                "%.1f / %.1f ms" % (f["ms"], r["ms"]))
        if idle:
            tgt("idle RSS < 15 MB", idle["VmRSS"] < 15 * 1024, "%.1f MB" % (idle["VmRSS"] / 1024))

    if any(k[0] == "streams" for k in RESULTS):
        a("## Streams")
        a("")
        fn, rd = get("streams", "esm", 1, "sluice"), get("streams", "getrecords", 1, "sluice")
        a("Latency from a PutItem's acknowledgement (its answer read by the client) to the "
          "start of the "
          "Lambda function it triggers through an event source mapping (BatchSize 1, no "
          "batching window; the python3.12 handler's first statement takes the time), and to a "
          "GetRecords long-reader looping on the shard (both clients: http.client on a "
          "keep-alive connection, signed by botocore, timed when the last byte of the answer "
          "is read). Puts are sent one at a time, each after the previous one's record "
          "arrived. The commit wakes the answer and the stream's readers at once, so a "
          "negative figure is a record seen before the PutItem's answer was read.")
        a("")
        a("| path | samples | p50 ms | p99 ms | max ms |")
        a("|---|--:|--:|--:|--:|")
        rtt = get("streams", "rtt", 1, "sluice")
        for label, x in (("PutItem -> function start", fn), ("PutItem -> GetRecords", rd),
                         ("for scale: the PutItem's own round trip", rtt)):
            if x:
                a("| %s | %d | %.2f | %.2f | %.2f |" % (label, x["n"], x["p50"], x["p99"],
                                                        x["max"]))
        a("")
        if fn:
            tgt("PutItem-to-function p50 < 5 ms", fn["p50"] < 5, "%.2f ms" % fn["p50"])

    if any(k[0] == "firehose" for k in RESULTS):
        a("## Firehose")
        a("")
        b = get("firehose", "batch", 16, "sluice")
        lat = get("firehose", "visible", 1, "sluice")
        gz = get("firehose", "gzip", 1, "sluice")
        a("PutRecordBatch of 500 records of 1 KB into a delivery stream to the local S3 "
          "(acknowledged once in the durable buffer); the time from a PutRecord's "
          "acknowledgement to its object being listable with a 0-second buffering interval; "
          "and the rate of delivery of GZIP-compressed objects.")
        a("")
        a("| figure | value |")
        a("|---|--:|")
        if b:
            a("| PutRecordBatch 500 x 1 KB, c%d: batches/s | %s (p50 %s ms, p99 %s ms) |" % (
                b["conns"], fmt_rate(b["rps"]), ms(b["p50_us"]), ms(b["p99_us"])))
            a("| records/s into the durable buffer | %.0f |" % (b["rps"] * 500))
            a("| MB/s into the durable buffer | %.1f |" % (b["rps"] * 500 * 1024 / 1e6))
        if lat:
            a("| put -> object listable, interval 0: p50 / p99 | %.1f / %.1f ms (%d samples) |"
              % (lat["p50"], lat["p99"], lat["n"]))
        if gz:
            a("| GZIP delivery, %d MB of records | %.1f MB/s (%.1f s) |" % (
                gz["mb"], gz["mb_per_s"], gz["s"]))
        a("")

    if any(k[0] == "growth" for k in RESULTS):
        a("## Growth")
        a("")
        a("GetItem and Query (10 items) latency at concurrency 16 as one table grows (loaded "
          "with BatchWriteItem and `--sync none` between the measurements; half of the items "
          "are single items for GetItem, half are Query partitions of 10), and one Scan page "
          "of 100 items at concurrency 1.")
        a("")
        a("| items | GetItem req/s | GetItem p50 ms | p99 ms | Query req/s | Query p50 ms | "
          "p99 ms | Scan page p50 ms |")
        a("|--:|--:|--:|--:|--:|--:|--:|--:|")
        for n in CFG.growth_sizes:
            g, q, sc = (get("growth", w, n, "sluice") for w in ("ddb-get", "ddb-query",
                                                                 "ddb-scan"))
            if g:
                a("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
                    n, fmt_rate(g["rps"]), ms(g["p50_us"]), ms(g["p99_us"]), fmt_rate(q["rps"]),
                    ms(q["p50_us"]), ms(q["p99_us"]), ms(sc["p50_us"]) if sc else "-"))
        a("")
        lo = get("growth", "ddb-query", CFG.growth_sizes[0], "sluice")
        hi = get("growth", "ddb-query", CFG.growth_sizes[-1], "sluice")
        if lo and hi and len(CFG.growth_sizes) > 1:
            tgt("Query p50 within 2x from %d to %d items" % (CFG.growth_sizes[0],
                                                             CFG.growth_sizes[-1]),
                hi["p50_us"] <= 2 * lo["p50_us"], "%.2fx" % (hi["p50_us"] / lo["p50_us"]))

    if targets:
        a("## Targets")
        a("")
        a("Reported, not asserted.")
        a("")
        a("| target | measured | |")
        a("|---|--:|---|")
        L.extend(targets)
        a("")
    a("## What profiling found")
    a("")
    L.extend("- " + n for n in FINDINGS + NOTES)
    a("")
    a("## Commands")
    a("")
    a("Each figure is one `build/bench/loadgen` run; the ones of this report:")
    a("")
    a("```")
    seen = set()
    for k, v in sorted(RESULTS.items(), key=lambda kv: str(kv[0])):
        if isinstance(v, dict) and "argv" in v:
            cmd = v["argv"]
            for port in PORTS:
                cmd = cmd.replace(" -p %d " % port, " -p PORT ")
            cmd = " ".join(x for x in cmd.split() if not x.startswith(tempfile.gettempdir()))
            if cmd not in seen:
                seen.add(cmd)
                a("%-9s %s" % (k[3], cmd))
    a("```")
    a("")
    return "\n".join(L)


FINDINGS = [
    "Start-up (strace -f -ttt of `sluice serve`): a new data directory paid one fdatasync per "
    "named database (26 writer groups at start-up, 0.5-4 ms each on this disk) and every "
    "start paid ~10 ms for `ftruncate(0)` of the lock file (an ext4 journal commit). Fixed: a "
    "new store commits start-up without syncing and `store_ready()` syncs once before the "
    "server listens (nothing can have been acknowledged before); the pid is written over the "
    "old one. Fresh start-up went from 40-200 ms to ~20 ms on the loaded machine, one "
    "fdatasync instead of 26.",
    "GetItem (perf record -g on the server at c16): 48% of the server's samples are in the "
    "kernel (loopback TCP: `sendmsg` carries the receiver's softirq work, and "
    "`finish_task_switch` as the generator's thread is woken on the same 2 cores), libc 19% "
    "(malloc/free, strlen, libmicrohttpd's connection-pool memset, 3%), sluice's own "
    "code 13%, jansson 6%, libcrypto 5%, LMDB 3%. One `sendmsg` and one `recvfrom` per "
    "request (perf stat of the syscalls): the front door adds no extra system calls, so the "
    "gap to nginx is user-space work spread thin, not one hot spot.",
    "Start-up, second pass (strace -f -ttt, perf record, `/usr/bin/time -v` of a serve "
    "stopped after its first answer): the services opened their 28 named databases one "
    "`store_dbi_open()` at a time, 28 writer round trips (0.50 ms in all on an idle "
    "machine, 3.2 ms with both cores busy); the binary linked libcurl, which only `sluice "
    "query` uses, and so loaded 42 shared objects at exec instead of 23 (3-3.5 ms of every "
    "start); a new data directory wrote and fsynced `s3-sse.key` and every restart fsynced "
    "`objects/` (removing the clean mark) before listening, each 0.5 ms on an idle disk and"
    " 40-50 ms while other processes wrote. Fixed: `store_dbi_open_many()` opens each "
    "service's databases in one op (5 round trips, 0.17 ms; one op for all 28 would be 0.07"
    " ms, but needs every service to publish its list to main), `sluice query` loads "
    "libcurl with dlopen(), the key is made by the first request that needs it and the "
    "clean mark's removal is synced before `objects/` first changes. `bench/run.py --only "
    "startup`, 4 runs each alternating: fresh 14.3-16.6 -> 11.2-12.8 ms, restart 13.7-15.4 "
    "-> 9.3-10.6 ms, idle RSS 12.0 -> 10.3 MB; voluntary context switches of a start 106 ->"
    " 54. What remains is mostly exec and the dynamic loader (`sluice version` takes 5.7 "
    "ms: libmicrohttpd brings GnuTLS and its 8 libraries) and OpenSSL's initialisation "
    "(configuration, provider fetches).",
    "Durable PutItem at c64 (the store's /metrics, perf record -g, the threads' CPU times "
    "in /proc): the server is bound by CPU, not by fsync. Each request costs 60-75 us of "
    "CPU on a 2-core machine that also runs the generator: about 15 us in the writer "
    "(LMDB's page writes and the commit's fdatasync, shared by groups of 10-15 ops) and the"
    " rest on the HTTP threads (loopback TCP in the kernel, jansson parsing the item, "
    "SigV4, malloc). Two writer changes were built and measured in alternating runs, and "
    "left out: syncing the meta page with the next commit (MDB_NOMETASYNC, one fdatasync "
    "per group instead of two, a group answered once the next commit's sync returned) and a"
    " 200-500 us wait to gather larger groups; neither moved the rate or the CPU per "
    "request beyond the spread between runs of one binary (14k-27k req/s within ten "
    "minutes), as a CPU-bound path predicts. Fixed, in the harness: dynalite's LevelDB went"
    " on compacting after its runs, into the next server's measurement; each run now starts"
    " on an idle machine, and the matrix runs three times over, interleaved, each figure "
    "its median round.",
    "S3 PutObject of 1 GiB (perf record -g): 55% of the server in libcrypto (MD5 for the ETag "
    "and SHA-256 for `x-amz-content-sha256`, one after the other on the HTTP thread: about "
    "490 MB/s together on this CPU by `openssl speed`), 43% in the kernel, and seconds of "
    "fsync after the last byte, the whole body still dirty. Fixed: the body's writeback is "
    "started every 8 MiB as it arrives (`sync_file_range`), so the disk works while the body "
    "is received; alternating A/B runs: 249 -> 280 MB/s. Second pass, after the connection "
    "memory went from 32 to 16 KiB (a full run measured 1 GiB PUT at 137 MB/s, down from "
    "228, with s3rver's figure about level): libmicrohttpd now hands the body over in "
    "pieces of a few KiB, each was one write(), and each write() ending inside a page the "
    "file did not have yet made the kernel zero the rest of that page first (perf: "
    "`__pi_memset` 20% of the server's samples, 7% before). Fixed: a put gathers its body "
    "in 256 KiB before each write(). `loadgen -w s3-big-put --size 1073741824`, 3 "
    "alternating runs: 130-167 -> 183-221 MB/s, server CPU 6.2-8.0 -> 4.8-5.5 s a GiB "
    "(the commit before both changes: 172-177 MB/s, 5.7-6.1 s).",
    "S3 PutObject of small objects was bounded by synchronous fsyncs on the HTTP threads: "
    "each PUT fsynced its body file and the objects directory on a libmicrohttpd worker (2 "
    "of them) before the writer's group commit, so at most two PUTs made progress at a "
    "time. Fixed: the HTTP thread only checks the digests, the request waits suspended, and"
    " a pool of sync threads (up to 32, started on demand) renames and fsyncs each body and"
    " shares one fsync of `objects/` among every put renamed before it, then queues the "
    "record for the writer. Alternating A/B runs of the 4 KiB workload (sluice alone, "
    "medians of 5): PutObject c16 468 -> 928 req/s, c64 461 -> 1347; in the full runs, 1451"
    " -> 2865 req/s at c16 (1.80x -> 2.04x s3rver). What bounds small puts now (perf record"
    " at c64): the kernel, in ext4's inode allocation for each new body file (20% of the "
    "samples) and the objects directory's lock that rename, create and unlink all take "
    "(8%). Fixed, second pass: a body of at most 64 KiB that is not encrypted is stored in"
    " the store itself (`s3.bodies`), committed in the same op as its record, so a small put"
    " makes no file, no directory fsync and no inode; perf had put 75% of a small put's "
    "samples in those. Alternating A/B runs (`loadgen -w s3-put|s3-get -c 16 -t 2 -d 5 "
    "--keys 1000 --size 4096`, medians of 5): PutObject 1,273 -> 6,298 req/s, server CPU 800"
    " -> 131 us per request; GetObject 29,482 -> 42,293 req/s (copied from the read "
    "snapshot, no open or read of a file).",
    "CPU per request on the HTTP threads (callgrind over `loadgen -w ddb-put|ddb-get -c 16`"
    " against a server under valgrind, instructions divided by requests): every request "
    "re-keyed HMAC-SHA256 four times for SigV4 and hashed the secret to look up the signing "
    "key, formatted its request id with snprintf, grew its header arrays, and had "
    "libmicrohttpd zero a 32 KiB connection pool after it. Fixed: each thread keeps its "
    "keyed HMAC contexts, the key cache compares the secret itself (CRYPTO_memcmp), the "
    "request id is written by hand, arrays are sized once, and the pool is 16 KiB (headers "
    "at AWS's documented limits still fit). PutItem 244,500 -> 194,300 instructions on the "
    "HTTP threads, GetItem 166,600 -> 118,100. What a durable PutItem costs now, all "
    "threads (the same callgrind run, about 240,000 instructions a request): jansson's "
    "`json_loadb` of the request 30% (about 72,000 instructions and 61 allocations for a "
    "300-byte item), SigV4 13%, the writer thread 15% (LMDB's `mdb_put` 7%), the item's "
    "checks and encoding 10%, malloc and free 11% (much of it jansson's); the kernel's "
    "loopback TCP adds as much "
    "again outside user space. Four times the bare fdatasync rate needed about a third less "
    "CPU per PutItem than this (next finding).",
    "A request parser that builds no jansson tree (src/core/jdoc.c: one arena allocation per "
    "value, none freed; it accepts only what jansson accepts and reads it to the same "
    "values, checked by a unit test against jansson on 24,000 random edits of valid texts). "
    "PutItem and GetItem in their common form (TableName, Item or Key, and the plain "
    "Return*/ConsistentRead members) are read with it and their attribute values go "
    "straight to the item encoder, which now reads these trees (jansson's are converted); "
    "any other request goes through jansson as before. Callgrind over `loadgen -w ddb-put "
    "-c 16`, all threads: 239,300 -> 156,200 instructions per durable PutItem (the body's "
    "read is 8,500 of them); GetItem 122,500 -> 102,800. `loadgen -w ddb-put -c 64 -d 5`, "
    "3 alternating runs: 23,209-26,349 -> 29,378-31,262 req/s, server CPU 57.7-64.5 -> "
    "40.8-46.0 us per request.",
    "1 GiB PUT, after the write buffer: the HTTP thread received, copied, wrote and hashed "
    "the body, and MD5 alone runs at about 700 MB/s on one core here (a build without it, "
    "measured and not kept: 210-215 MB/s against 150-157). A large body's MD5 and checksum "
    "are now taken on a digest thread (src/s3/digest.c, at most 4 server-wide) from each "
    "full 256 KiB buffer once it is written, while the put fills its second buffer. "
    "`loadgen -w s3-big-put --size 1073741824`, 3 alternating runs: 154-174 -> 197-243 "
    "MB/s.",
    "Firehose with a 0-second interval: the flusher scans at most every 100 ms "
    "(`FH_SCAN_MIN_MS`), so a put that follows a delivery closely waits up to 100 ms; the "
    "put-to-listable figure is taken with puts 150 ms apart, i.e. the delivery path itself.",
    "`PutItem` of an item identical to the stored one writes nothing (no commit, no fsync, no "
    "stream record); the PutItem workload alternates items so that every put is a real write.",
]

LOAD = [0.0]


class CFG:
    seconds = 3.0
    warmup = 1.0
    rounds = 3          # of the DynamoDB and small-object S3 matrices; figures are medians
    keys = 10000
    big = 1 << 30
    concurrency = (1, 16, 64)
    startup_runs = 5
    rss_items = 1000000
    stream_samples = 200
    fh_samples = 50
    fh_gzip_batches = 256
    growth_sizes = (1000, 100000, 10000000)


PORTS = []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    ap.add_argument("--only", default=os.environ.get("BENCH_ONLY", ""))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "performance.md"))
    args = ap.parse_args()
    groups = [g for g in (args.only.split(",") if args.only else GROUPS) if g]
    for g in groups:
        if g not in GROUPS:
            ap.error("unknown group %s (one of %s)" % (g, ",".join(GROUPS)))
    if args.quick:
        CFG.seconds, CFG.warmup, CFG.big, CFG.rounds = 2.0, 0.5, 256 << 20, 1
        CFG.startup_runs, CFG.rss_items = 3, 100000
        CFG.stream_samples, CFG.fh_samples, CFG.fh_gzip_batches = 50, 10, 64
        CFG.growth_sizes = (1000, 100000)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    LOAD[0] = os.getloadavg()[0]
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix="sluice-bench-")
    orig_init = Server.__init__

    def init(self, *a, **kw):
        orig_init(self, *a, **kw)
        PORTS.append(self.port)
    Server.__init__ = init
    try:
        for g in groups:
            log("== %s" % g)
            globals()["run_" + g](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    argv = "make bench" + (" BENCH_QUICK=1" if args.quick else "") + \
        (" BENCH_ONLY=%s" % args.only if args.only else "")
    text = report(started, time.time() - t0, argv)
    with open(args.out, "w") as f:
        f.write(text)
    log("wrote %s" % os.path.relpath(args.out, ROOT))


if __name__ == "__main__":
    main()
