"""SQL over the archive: POST /_sluice/query signed with botocore's SigV4Auth, against objects
put with boto3 (JSON lines, gzip with and without the .gz suffix, records back to back, several
prefixes, a line that is no JSON): the issue's GROUP BY, WHERE, ORDER BY, json_extract on
_record, _object; the errors (missing bucket, bad SQL, SQL over the limit, ATTACH, a runaway
query stopped by --query-timeout); queries that do not hold the front door's threads; a full
queue; a stop with queries running and waiting."""
import gzip
import json
import os
import threading
import time
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import Server

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
                sign=True, timeout=60):
    """Sends body to the query endpoint, SigV4-signed for the "sluice" service the way any
    SDK signs; returns (status, parsed JSON answer)."""
    url = server.endpoint + path
    headers = {"Content-Type": "application/json"}
    if sign:
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
        creds = botocore.credentials.Credentials(key or server.access_key,
                                                 secret or server.secret)
        botocore.auth.SigV4Auth(creds, "sluice", "us-east-1").add_auth(req)
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
    assert error("SELECT nope FROM archive('invoice-archive')") == (
        "InvalidQueryException", "no such column: nope")
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

    # Two runaway queries occupy both query workers; the front door's two HTTP threads stay
    # free, so other requests are answered at once meanwhile.
    threads = [threading.Thread(target=run) for _ in range(2)]
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
