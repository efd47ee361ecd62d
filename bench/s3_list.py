#!/usr/bin/python3
"""ListObjectsV2 over HTTP on buckets of growing size (not a test): for each size, fills a
fresh data directory with build/bench/s3_list_bench (keys dNN/kNNNNNNNN under 100 prefixes),
serves it with build/sluice, and times pages through botocore-signed HTTP requests (the
median of 25): the first 1000 keys, 1000 keys after a start-after key in the middle, the 100
CommonPrefixes of delimiter "/", and 10 keys of one prefix. A listing whose cost follows
the page and not the bucket shows the same times on every row.

    make build/sluice build/bench/s3_list_bench && bench/s3_list.py [sizes...]
"""
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.path.join(ROOT, "build", "sluice")
LOADER = os.path.join(ROOT, "build", "bench", "s3_list_bench")
KEY, SECRET = "AKIASLUICEBENCHKEY01", "sluice/bench/secret/key/0000000000000000"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_get(endpoint, query, creds):
    url = endpoint + "/bench?" + query
    req = botocore.awsrequest.AWSRequest(method="GET", url=url)
    botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=dict(req.headers))) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        raise SystemExit("GET %s: %s %s" % (url, e.code, e.read()[:500]))
    return (time.perf_counter() - t0) * 1e3, body


def median_ms(endpoint, query, creds, expect):
    times = []
    for _ in range(25):
        ms, body = timed_get(endpoint, query, creds)
        assert len(re.findall(expect, body)) > 0, body[:300]
        times.append(ms)
    return statistics.median(times)


def run(n, work):
    d = os.path.join(work, "d%d" % n)
    out = subprocess.run([LOADER, "-n", str(n), "-d", d], check=True, capture_output=True,
                         text=True).stdout
    load_s = float(re.search(r"loaded in ([0-9.]+) s", out).group(1))
    port = free_port()
    env = dict(os.environ, SLUICE_ROOT_ACCESS_KEY_ID=KEY, SLUICE_ROOT_SECRET_ACCESS_KEY=SECRET)
    t0 = time.perf_counter()
    p = subprocess.Popen([SLUICE, "serve", "--port", str(port), "--data-dir", d,
                          "--log-level", "warn"], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    while "list-tables" not in (p.stdout.readline() or "list-tables"):
        pass
    start_ms = (time.perf_counter() - t0) * 1e3
    endpoint = "http://127.0.0.1:%d" % port
    creds = botocore.credentials.Credentials(KEY, SECRET)
    try:
        mid = "d%02d/k%08d" % ((n // 2) % 100, n // 2)
        row = [
            median_ms(endpoint, "list-type=2&max-keys=1000", creds, rb"<Key>"),
            median_ms(endpoint, "list-type=2&max-keys=1000&start-after=" +
                      urllib.parse.quote(mid, safe=""), creds,
                      rb"<Key>"),
            median_ms(endpoint, "list-type=2&delimiter=%2F", creds, rb"<CommonPrefixes>"),
            median_ms(endpoint, "list-type=2&prefix=d50%2F&max-keys=10", creds, rb"<Key>"),
        ]
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(d, ignore_errors=True)
    return load_s, start_ms, row


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000, 100000, 1000000]
    work = tempfile.mkdtemp(prefix="sluice-s3-list-")
    print("| keys | load (s) | start-up (ms) | first 1000 (ms) | 1000 after the middle (ms) "
          "| 100 CommonPrefixes (ms) | 10 of one prefix (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for n in sizes:
            load_s, start_ms, row = run(n, work)
            print("| %s | %.2f | %.0f | %s |" % (format(n, ","), load_s, start_ms,
                                                  " | ".join("%.2f" % x for x in row)))
            sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
