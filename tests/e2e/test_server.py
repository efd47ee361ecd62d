"""The server as an operator meets it: flags, banner, credentials, health, metrics, signals,
the data directory's lock and errors."""
import http.client
import json
import os
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import SLUICE_BIN, Server, free_port


def test_version_and_help():
    out = subprocess.run([SLUICE_BIN, "version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("sluice ")
    out = subprocess.run([SLUICE_BIN, "serve", "--help"], capture_output=True, text=True,
                         check=True)
    for flag, env, default in [("--port", "SLUICE_PORT", "4566"),
                               ("--bind", "SLUICE_BIND", "127.0.0.1"),
                               ("--data-dir", "SLUICE_DATA_DIR", "./data"),
                               ("--region", "SLUICE_REGION", "us-east-1"),
                               ("--account-id", "SLUICE_ACCOUNT_ID", "000000000000"),
                               ("--log-level", "SLUICE_LOG_LEVEL", "info"),
                               ("--sync", "SLUICE_SYNC", "full")]:
        line = [l for l in out.stdout.splitlines() if l.strip().startswith(flag + " ")]
        assert line, flag
        assert env in line[0] and default in line[0], line[0]


def test_bad_flags_are_refused():
    for args in (["--port", "99999"], ["--sync", "sometimes"], ["--nope", "1"],
                 ["--account-id", "12"], ["--log-level", "loud"]):
        out = subprocess.run([SLUICE_BIN, "serve"] + args, capture_output=True, text=True)
        assert out.returncode == 2, args
        assert "sluice:" in out.stderr


def test_banner_and_generated_credentials(make_server, data_dir):
    s = make_server(data_dir, env_creds=False).start()
    assert "endpoint:       %s" % s.endpoint in s.banner
    assert "data directory: %s" % data_dir in s.banner
    assert "created in" in s.banner
    assert s.access_key.startswith("AKIA") and len(s.access_key) == 20
    assert len(s.secret) == 40
    assert "aws --endpoint-url %s dynamodb list-tables" % s.endpoint in s.banner
    path = os.path.join(data_dir, "credentials")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        text = f.read()
    assert s.access_key in text and s.secret in text
    assert s.client("dynamodb").list_tables()["TableNames"] == []
    rc, _ = s.stop()
    assert rc == 0
    # A restart on the same directory reuses the same key.
    s2 = make_server(data_dir, env_creds=False).start()
    assert s2.access_key == s.access_key and s2.secret == s.secret
    assert "from %s/credentials" % data_dir in s2.banner


def test_environment_variables_configure_the_server(make_server, tmp_path):
    port = free_port()
    s = make_server(str(tmp_path / "unused"), extra_env={
        "SLUICE_DATA_DIR": str(tmp_path / "envdata"), "SLUICE_REGION": "eu-west-1",
        "SLUICE_ACCOUNT_ID": "123456789012"})
    # --data-dir on the command line wins over the environment: pass none by starting with
    # the environment only.
    s.data_dir = str(tmp_path / "envdata")
    s.start(port=port)
    assert "region:         eu-west-1, account 123456789012" in s.banner
    t = s.client("dynamodb", region="eu-west-1")
    arn = t.create_table(TableName="envt", KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")["TableDescription"]["TableArn"]
    assert arn == "arn:aws:dynamodb:eu-west-1:123456789012:table/envt"


def test_health_and_metrics(server):
    server.client("dynamodb").list_tables()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/_sluice/health")
    resp = conn.getresponse()
    assert resp.status == 200
    health = json.loads(resp.read())
    assert health["status"] == "ok"
    assert health["services"]["dynamodb"] == "running"
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type").startswith("text/plain")
    text = resp.read().decode()
    assert 'sluice_requests_total{service="dynamodb",operation="ListTables",status="2xx"} 1' \
        in text
    assert 'sluice_request_duration_seconds_count{service="dynamodb",operation="ListTables"} 1' \
        in text
    assert "sluice_store_batch_size_bucket" in text
    assert "sluice_store_file_bytes" in text


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_cleanly_within_a_second(make_server, sig):
    s = make_server().start()
    # Leave an idle keep-alive connection open: it must not hold the shutdown up.
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("GET", "/_sluice/health")
    conn.getresponse().read()
    rc, took = s.stop(sig)
    assert rc == 0, s.stderr()
    assert took < 1.0, took
    assert "stopped" in s.stderr()


def test_restart_finds_acknowledged_tables(make_server, data_dir):
    s = make_server(data_dir).start()
    ddb = s.client("dynamodb")
    for i in range(5):
        ddb.create_table(TableName="tbl%d" % i,
                         KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
    assert s.stop()[0] == 0
    s2 = make_server(data_dir).start()
    assert s2.client("dynamodb").list_tables()["TableNames"] == ["tbl%d" % i for i in range(5)]


def test_second_server_on_same_data_dir_is_refused(server):
    other = subprocess.run([SLUICE_BIN, "serve", "--port", str(free_port()), "--data-dir",
                            server.data_dir], capture_output=True, text=True, timeout=20)
    assert other.returncode == 1
    assert "in use by another sluice" in other.stderr
    assert str(server.proc.pid) in other.stderr
    # The first server is unharmed.
    assert server.client("dynamodb").list_tables()["TableNames"] == []


def test_unwritable_data_dir_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = subprocess.run([SLUICE_BIN, "serve", "--port", str(free_port()), "--data-dir",
                          str(blocker / "data")], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1
    assert str(blocker / "data") in out.stderr
    assert "Not a directory" in out.stderr or "cannot" in out.stderr


def test_port_in_use_is_a_clear_error(server, tmp_path):
    out = subprocess.run([SLUICE_BIN, "serve", "--port", str(server.port), "--data-dir",
                          str(tmp_path / "d2")], capture_output=True, text=True, timeout=20)
    assert out.returncode == 1
    assert "cannot listen on 127.0.0.1:%d" % server.port in out.stderr


def raw_request(port, data, read_until=b"\r\n\r\n", timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(data)
    buf = b""
    while read_until not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return s, buf


def test_expect_100_continue_is_honoured(server):
    body = b'{"Limit": 5}'
    s, head = raw_request(server.port, (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        "Content-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\n"
        "Expect: 100-continue\r\n\r\n" % len(body)).encode())
    assert head.startswith(b"HTTP/1.1 100 Continue"), head
    s.sendall(body)
    rest = b""
    while b"MissingAuthenticationTokenException" not in rest:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    s.close()
    assert b"400" in rest.split(b"\r\n", 1)[0]


def test_oversized_body_refused_before_it_is_read(server):
    # A 100 MB Content-Length is answered at once, without the body being sent.
    s, head = raw_request(server.port, (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        "Content-Length: 100000000\r\nExpect: 100-continue\r\n\r\n").encode(),
        read_until=b"}")
    s.close()
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"RequestEntityTooLarge" in head


def test_keep_alive_serves_many_requests_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    for _ in range(20):
        conn.request("GET", "/_sluice/health")
        r = conn.getresponse()
        r.read()
        assert r.status == 200
        assert not r.will_close


def test_disk_full_is_an_error_not_a_crash(make_server, tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        s = make_server(str(mnt / "data")).start()
        ddb = s.client("dynamodb")
        from botocore.exceptions import ClientError
        key = dict(KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                   AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                   BillingMode="PAY_PER_REQUEST")
        created, failure = [], None
        for i in range(3000):
            name = "full-%04d-" % i + "x" * 200
            try:
                ddb.create_table(TableName=name, **key)
                created.append(name)
            except ClientError as e:
                failure = e
                break
        assert failure is not None, "a 1 MiB disk took every table"
        assert failure.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert failure.response["Error"]["Code"] == "InternalServerError"
        # The server is still up and every acknowledged table is still there.
        names = []
        kw = {}
        while True:
            page = ddb.list_tables(**kw)
            names += page["TableNames"]
            if "LastEvaluatedTableName" not in page:
                break
            kw = {"ExclusiveStartTableName": page["LastEvaluatedTableName"]}
        assert set(created) <= set(names)
        rc, _ = s.stop()
        assert rc == 0, s.stderr()
        assert "No space left on device" in s.stderr() or "MDB_MAP_FULL" in s.stderr() or \
            "space" in s.stderr()
        # After a restart on the full disk every acknowledged table is still there.
        s2 = make_server(str(mnt / "data")).start()
        names2 = []
        kw = {}
        while True:
            page = s2.client("dynamodb").list_tables(**kw)
            names2 += page["TableNames"]
            if "LastEvaluatedTableName" not in page:
                break
            kw = {"ExclusiveStartTableName": page["LastEvaluatedTableName"]}
        assert set(created) <= set(names2)
        s2.stop()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
