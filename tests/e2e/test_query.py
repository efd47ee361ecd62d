"""SQL over the archive: POST /_sluice/query signed with botocore's SigV4Auth, and the
`sluice query` command, against objects put with boto3 (JSON lines, gzip with and without the
.gz suffix, records back to back, several prefixes, a line that is no JSON): the issue's
GROUP BY, WHERE, ORDER BY, json_extract on _record, _object; the errors (missing bucket, bad
SQL, SQL over the limit, ATTACH, a runaway query stopped by --query-timeout); queries that do
not hold the front door's threads; a full queue; a stop with queries running and waiting;
the command's table, --json and --raw output, its credentials and its exit status."""
import gzip
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import SANITIZER_MARKS, SLUICE_BIN, Server

BUCKET = "invoice-archive"
RUNAWAY = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
           "SELECT count(*) FROM c")
ISSUE_SQL = ("SELECT customer, count(*), sum(amount) FROM archive('invoice-archive', '2026/') "
             "GROUP BY customer")

OBJECTS = {
    # JSON lines, with a line that is no JSON.
    "2026/01/15/10/invoices-1-2026-01-15-10-00-00-0001": (
        b'{"invoice":"A-1","customer":"acme","amount":120.5,"items":[{"sku":"x","qty":2}],'
        b'"paid":true}\n'
        b'{"invoice":"A-2","customer":"bolt","amount":80,"items":[{"sku":"y","qty":1}],'
        b'"paid":false}\n'
        b"this line is not json\n"),
    # Gzip (Firehose's GZIP), records back to back.
    "2026/01/15/11/invoices-1-2026-01-15-11-00-00-0002.gz": gzip.compress(
        b'{"invoice":"A-3","customer":"acme","amount":30,"paid":true}'
        b'{"invoice":"A-4","customer":"cog","amount":12.25,"paid":true}'),
    # Back to back with whitespace between.
    "2026/02/01/09/invoices-1-2026-02-01-09-00-00-0003": (
        b'{"invoice":"B-1","customer":"bolt","amount":20,"paid":true} \n\t'
        b'{"invoice":"B-2","customer":"acme","amount":50,"paid":false}'),
    # Gzip without the suffix: recognised by its magic bytes.
    "2026/02/01/10/invoices-1-2026-02-01-10-00-00-0004": gzip.compress(
        b'{"invoice":"B-3","customer":"cog","amount":7.75,"paid":true}\n'),
    # Another prefix.
    "2025/12/31/23/invoices-1-2025-12-31-23-00-00-0005": (
        b'{"invoice":"Z-9","customer":"acme","amount":1000,"paid":true}\n'),
}


def signed_post(server, body, key=None, secret=None, path="/_sluice/query", method="POST",
                sign=True, timeout=60, service="sluice"):
    """Sends body to the query endpoint, SigV4-signed for the "sluice" service the way any
    SDK signs; returns (status, parsed JSON answer)."""
    url = server.endpoint + path
    headers = {"Content-Type": "application/json"}
    if sign:
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
        creds = botocore.credentials.Credentials(key or server.access_key,
                                                 secret or server.secret)
        botocore.auth.SigV4Auth(creds, service, "us-east-1").add_auth(req)
        headers = dict(req.headers)
    r = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def query(server, sql, **kw):
    return signed_post(server, json.dumps({"sql": sql}).encode(), **kw)


def rows(server, sql):
    status, answer = query(server, sql)
    assert status == 200, answer
    return answer["rows"]


def wait_waiting(server, n, timeout=10):
    """Polls /metrics until n requests are suspended (waiting for a query worker)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith("sluice_http_waiting ") and int(line.split()[1]) >= n:
                    return
        time.sleep(0.02)
    raise AssertionError("fewer than %d requests waiting" % n)


def cli(server, *args, creds=True, endpoint=True, env=None, input=None):
    """Runs `sluice query` (SLUICE_BIN) against server; returns the CompletedProcess."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SLUICE_"))}
    e["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=99"
    if creds:
        e["AWS_ACCESS_KEY_ID"] = server.access_key
        e["AWS_SECRET_ACCESS_KEY"] = server.secret
    e.update(env or {})
    argv = [SLUICE_BIN, "query"] + (["--endpoint", server.endpoint] if endpoint else [])
    out = subprocess.run(argv + list(args), env=e, capture_output=True, text=True,
                         input=input, timeout=60)
    for mark in SANITIZER_MARKS:
        assert mark not in out.stderr, out.stderr
    return out


def load_archive(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    s = Server(str(tmp_path_factory.mktemp("query") / "data")).start()
    load_archive(s)
    yield s
    rc, _ = s.stop()
    s.check_clean()
    assert rc == 0, "server exited with %s:\n%s" % (rc, s.stderr())


def test_the_issue_example(archive):
    status, answer = query(archive, ISSUE_SQL)
    assert status == 200, answer
    assert answer["columns"] == ["customer", "count(*)", "sum(amount)"]
    assert answer["rows"] == [["acme", 3, 200.5], ["bolt", 2, 100], ["cog", 2, 20.0]]
    assert answer["truncated"] is False
    stats = answer["stats"]
    assert (stats["objects"], stats["records"], stats["skipped"]) == (4, 7, 1)
    assert isinstance(stats["elapsedMs"], int)


def test_where_order_by_and_columns(archive):
    assert rows(archive, "SELECT invoice FROM archive('invoice-archive', '2026/') "
                         "WHERE paid = 1 AND amount > 25 ORDER BY invoice") == [["A-1"], ["A-3"]]
    assert rows(archive, "SELECT customer, amount FROM archive('invoice-archive', '2026/') "
                         "ORDER BY amount DESC LIMIT 2") == [["acme", 120.5], ["bolt", 80]]
    status, answer = query(archive, "SELECT * FROM archive('invoice-archive') LIMIT 0")
    assert answer["columns"] == ["invoice", "customer", "amount", "paid", "items", "_record",
                                 "_object"]
    # Other prefixes stay out; the whole bucket without one.
    assert rows(archive, "SELECT count(*) FROM archive('invoice-archive', '2025/')") == [[1]]
    assert rows(archive, "SELECT count(*) FROM archive('invoice-archive')") == [[8]]
    # An array is its JSON text; true is 1.
    assert rows(archive, "SELECT items, paid, typeof(amount) FROM archive('invoice-archive', "
                         "'2026/01/') WHERE invoice = 'A-1'") == [
        ['[{"sku":"x","qty":2}]', 1, "real"]]


def test_json_extract_and_object(archive):
    assert rows(archive, "SELECT invoice, json_extract(_record, '$.items[0].sku') "
                         "FROM archive('invoice-archive', '2026/01/') "
                         "WHERE json_extract(_record, '$.items') IS NOT NULL ORDER BY 1") == [
        ["A-1", "x"], ["A-2", "y"]]
    assert rows(archive, "SELECT _object, count(*) FROM archive('invoice-archive') "
                         "GROUP BY _object ORDER BY _object") == [
        [k, n] for k, n in sorted(zip(OBJECTS, [2, 2, 2, 1, 1]))]
    assert rows(archive, "SELECT _record FROM archive('invoice-archive', '2025/')") == [
        [OBJECTS["2025/12/31/23/invoices-1-2025-12-31-23-00-00-0005"].decode().strip()]]


def test_errors(archive, tmp_path):
    def error(sql):
        status, answer = query(archive, sql)
        assert status == 400, answer
        return answer["__type"], answer["message"]

    assert error("SELECT * FROM archive('no-such-bucket')") == (
        "ResourceNotFoundException", "The specified bucket does not exist: no-such-bucket")
    assert error("SELEC customer FROM archive('invoice-archive')") == (
        "InvalidQueryException", 'near "SELEC": syntax error')
    assert error("SELECT t.nope FROM archive('invoice-archive') AS a") == (
        "InvalidQueryException", "no such column: t.nope")
    code, msg = error("SELECT 1" + " " * 65536)
    assert code == "ValidationException" and "less than or equal to 65536" in msg
    evil = tmp_path / "evil.db"
    code, msg = error("ATTACH DATABASE '%s' AS evil" % evil)
    assert code == "InvalidQueryException" and "ATTACH is not allowed" in msg
    assert not evil.exists()
    code, msg = error("CREATE TABLE t AS SELECT * FROM archive('invoice-archive')")
    assert code == "InvalidQueryException" and "not authorized" in msg
    code, msg = error("SELECT 1; SELECT 2")
    assert code == "InvalidQueryException" and "more than one statement" in msg

    # The request itself: a body that is no JSON, no sql, another method, no signature,
    # a wrong secret.
    status, answer = signed_post(archive, b"{nope")
    assert (status, answer["__type"]) == (400, "SerializationException")
    status, answer = signed_post(archive, b'{"query": "SELECT 1"}')
    assert (status, answer["__type"]) == (400, "ValidationException")
    status, answer = signed_post(archive, b"", method="GET")
    assert (status, answer["__type"]) == (400, "UnknownOperationException")
    status, answer = signed_post(archive, b'{"sql": "SELECT 1"}', sign=False)
    assert (status, answer["__type"]) == (403, "MissingAuthenticationTokenException")
    status, answer = signed_post(archive, b'{"sql": "SELECT 1"}', secret="wrong")
    assert (status, answer["__type"]) == (403, "InvalidSignatureException")
    # Any service name in the credential scope, even one another service claims paths by.
    for service in ("lambda", "s3", "execute-api"):
        status, answer = signed_post(archive, b'{"sql": "SELECT 7"}', service=service)
        assert (status, answer["rows"]) == (200, [[7]]), service


def test_truncated_answer(archive):
    status, answer = query(archive, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL "
                                    "SELECT x + 1 FROM c) SELECT x FROM c")
    assert status == 200
    assert answer["truncated"] is True
    assert len(answer["rows"]) == 10000 and answer["rows"][-1] == [10000]


def test_runaway_query_is_stopped_and_does_not_hold_the_front_door(make_server):
    s = make_server(extra_args=["--query-timeout", "2"]).start()
    s3 = s.client("s3")
    results = []

    def run():
        t0 = time.time()
        status, answer = query(s, RUNAWAY)
        results.append((status, answer, time.time() - t0))

    def run_cli():
        t0 = time.time()
        out = cli(s, RUNAWAY)
        results.append((out.returncode, out.stderr, time.time() - t0))

    # Two runaway queries (one through `sluice query`) occupy both query workers; the front
    # door's two HTTP threads stay free, so other requests are answered at once meanwhile.
    threads = [threading.Thread(target=run), threading.Thread(target=run_cli)]
    for t in threads:
        t.start()
    wait_waiting(s, 2)
    t0 = time.time()
    assert s3.list_buckets()["Buckets"] == []
    assert time.time() - t0 < 1.0
    for t in threads:
        t.join(30)
    assert len(results) == 2
    for status, answer, took in results:
        if status == 1:     # the command
            assert answer == ("sluice query: QueryTimeoutException: The query ran longer than "
                              "its time limit of 2000 ms.\n")
        else:
            assert status == 400, answer
            assert answer["__type"] == "QueryTimeoutException"
            assert answer["message"] == "The query ran longer than its time limit of 2000 ms."
        assert 1.9 < took < 8


def test_full_queue_and_stop_with_queries_in_flight(make_server):
    s = make_server(extra_args=["--query-timeout", "60"]).start()
    results = []
    lock = threading.Lock()

    def run():
        try:
            status, answer = query(s, RUNAWAY, timeout=30)
            out = (status, answer.get("__type"))
        except OSError as e:    # the connection closed by the stopping server
            out = ("closed", str(e))
        with lock:
            results.append(out)

    # 2 workers + 16 waiting: of 22 queries, 4 are refused at once.
    threads = [threading.Thread(target=run) for _ in range(22)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while time.time() < deadline:
        with lock:
            refused = [r for r in results if r[0] == 429]
        if len(refused) == 4:
            break
        time.sleep(0.05)
    assert refused == [(429, "TooManyRequestsException")] * 4
    # Stopping cancels the running queries and answers the waiting ones: the server stops
    # quickly and cleanly, and no request is left hanging.
    rc, took = s.stop()
    assert rc == 0, s.stderr()
    assert took < 5
    for t in threads:
        t.join(10)
        assert not t.is_alive()
    others = [r for r in results if r[0] != 429]
    assert len(others) == 18
    for r in others:
        assert r in [(503, "ServiceUnavailable")] or r[0] == "closed", r


ISSUE_TABLE = """\
customer | count(*) | sum(amount)
---------+----------+------------
acme     |        3 |       200.5
bolt     |        2 |         100
cog      |        2 |        20.0
(3 rows)
"""


def test_cli_table_json_and_raw(archive):
    out = cli(archive, ISSUE_SQL)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == ISSUE_TABLE
    out = cli(archive, "--json", ISSUE_SQL)
    assert out.returncode == 0
    assert [json.loads(l) for l in out.stdout.splitlines()] == [
        ["acme", 3, 200.5], ["bolt", 2, 100], ["cog", 2, 20.0]]
    out = cli(archive, "--raw", ISSUE_SQL)
    assert out.returncode == 0
    raw = json.loads(out.stdout)
    status, answer = query(archive, ISSUE_SQL)
    for k in ("columns", "rows", "truncated"):
        assert raw[k] == answer[k]
    # Text is left-aligned, NULL shown, control characters escaped, one row per line; the
    # SQL may come from standard input.
    out = cli(archive, "-", input="SELECT invoice, json_extract(_record, '$.items[0].sku') "
                                  "AS sku, 'a\tb' AS t FROM archive('invoice-archive', '2026/01/') "
                                  "ORDER BY invoice LIMIT 3")
    assert out.stdout == ("invoice | sku  | t\n"
                          "--------+------+-----\n"
                          "A-1     | x    | a\\tb\n"
                          "A-2     | y    | a\\tb\n"
                          "A-3     | NULL | a\\tb\n"
                          "(3 rows)\n")
    out = cli(archive, "SELECT _object FROM archive('invoice-archive', '2025/')")
    assert out.stdout.splitlines()[2:] == [
        "2025/12/31/23/invoices-1-2025-12-31-23-00-00-0005", "(1 row)"]
    out = cli(archive, "SELECT 1 WHERE 0")
    assert out.stdout == "1\n-\n(0 rows)\n"


def test_cli_errors_and_exit_status(archive, tmp_path):
    out = cli(archive, "SELEC 1")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == 'sluice query: InvalidQueryException: near "SELEC": syntax error\n'
    out = cli(archive, "SELECT * FROM archive('nope')")
    assert out.returncode == 1
    assert out.stderr == ("sluice query: ResourceNotFoundException: The specified bucket does "
                          "not exist: nope\n")
    out = cli(archive, "ATTACH DATABASE '%s' AS x" % (tmp_path / "x.db"))
    assert out.returncode == 1 and "ATTACH is not allowed" in out.stderr
    out = cli(archive, "SELECT 1", env={"AWS_SECRET_ACCESS_KEY": "wrong"})
    assert out.returncode == 1 and "InvalidSignatureException" in out.stderr
    # No server there.
    out = subprocess.run([SLUICE_BIN, "query", "--endpoint", "http://127.0.0.1:1", "SELECT 1"],
                         env=dict(os.environ, AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b"),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "cannot reach http://127.0.0.1:1" in out.stderr
    # No credentials: an empty data directory is not given a key.
    empty = tmp_path / "empty"
    out = cli(archive, "--data-dir", str(empty), "SELECT 1", creds=False)
    assert out.returncode == 1 and "no credentials" in out.stderr
    assert not empty.exists()
    # Usage.
    assert cli(archive).returncode == 2
    assert cli(archive, "--frob", "SELECT 1").returncode == 2
    assert cli(archive, "SELECT 1", "SELECT 2").returncode == 2
    out = subprocess.run([SLUICE_BIN, "--help"], capture_output=True, text=True, check=True)
    assert "sluice query [flags] 'SQL'" in out.stdout and "--endpoint URL" in out.stdout


def test_cli_credentials_from_the_data_directory(make_server):
    s = make_server(env_creds=False).start()
    load_archive(s)
    # SLUICE_ENDPOINT instead of --endpoint, the key from <data-dir>/credentials.
    out = cli(s, "--data-dir", s.data_dir, ISSUE_SQL, creds=False, endpoint=False,
              env={"SLUICE_ENDPOINT": s.endpoint})
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout == ISSUE_TABLE
    out = cli(s, ISSUE_SQL, creds=False, endpoint=False,
              env={"SLUICE_ENDPOINT": s.endpoint, "SLUICE_DATA_DIR": s.data_dir})
    assert out.stdout == ISSUE_TABLE


def test_records_delivered_by_firehose(server):
    """The pipeline's last step: what a GZIP delivery stream wrote, records without
    newlines concatenated as Firehose writes them, is what the query reads."""
    s3 = server.client("s3")
    s3.create_bucket(Bucket="fh-archive")
    fh = server.client("firehose", validate=False)
    fh.create_delivery_stream(
        DeliveryStreamName="invoices", DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::000000000000:role/firehose",
            "BucketARN": "arn:aws:s3:::fh-archive", "Prefix": "invoices/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            "CompressionFormat": "GZIP"})
    records = [{"customer": c, "amount": a} for c, a in
               [("acme", 10), ("bolt", 2.5), ("acme", 5), ("cog", 1)]]
    fh.put_record_batch(DeliveryStreamName="invoices",
                        Records=[{"Data": json.dumps(r).encode()} for r in records])
    deadline = time.time() + 15
    while time.time() < deadline:
        if s3.list_objects_v2(Bucket="fh-archive").get("KeyCount"):
            break
        time.sleep(0.05)
    key = s3.list_objects_v2(Bucket="fh-archive")["Contents"][0]["Key"]
    assert key.startswith("invoices/") and key.endswith(".gz")
    status, answer = query(server, "SELECT customer, count(*), sum(amount) FROM "
                                   "archive('fh-archive', 'invoices/') GROUP BY customer")
    assert status == 200, answer
    assert answer["rows"] == [["acme", 2, 15], ["bolt", 1, 2.5], ["cog", 1, 1]]
    assert answer["stats"]["skipped"] == 0
