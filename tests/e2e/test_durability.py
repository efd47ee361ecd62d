"""Durability: every acknowledged write survives SIGKILL of a loaded server (R34)."""
import threading
import time

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from urllib3.exceptions import HTTPError

KEY = dict(KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
           AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
           BillingMode="PAY_PER_REQUEST")


def all_tables(ddb):
    names, kw = [], {}
    while True:
        page = ddb.list_tables(**kw)
        names += page["TableNames"]
        if "LastEvaluatedTableName" not in page:
            return names
        kw = {"ExclusiveStartTableName": page["LastEvaluatedTableName"]}


@pytest.mark.crash
@pytest.mark.parametrize("round_", [0, 1])
def test_sigkill_under_write_load_loses_no_acknowledged_write(make_server, tmp_path, round_):
    data = str(tmp_path / "data")
    s = make_server(data).start()
    acked, attempted = set(), set()
    lock = threading.Lock()
    stop = threading.Event()

    # boto3 sessions are not thread-safe to create clients from: make them here.
    clients = [s.client("dynamodb") for _ in range(8)]

    def writer(w):
        ddb = clients[w]
        for i in range(250):
            if stop.is_set():
                return
            name = "crash-%d-%d-%04d" % (round_, w, i)
            with lock:
                attempted.add(name)
            try:
                ddb.create_table(TableName=name, **KEY)
            except (ClientError, ConnectionClosedError, EndpointConnectionError, HTTPError,
                    OSError):
                return
            with lock:
                acked.add(name)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    # Kill once a good number of writes has been acknowledged, while writers are busy.
    deadline = time.time() + 30
    while len(acked) < 150 + 100 * round_ and time.time() < deadline:
        time.sleep(0.01)
    s.kill()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 150

    s2 = make_server(data).start()
    found = set(all_tables(s2.client("dynamodb")))
    missing = acked - found
    assert not missing, "acknowledged but lost: %s" % sorted(missing)[:10]
    invented = found - attempted
    assert not invented, "present but never written: %s" % sorted(invented)[:10]
    # The store still takes writes after the crash.
    s2.client("dynamodb").create_table(TableName="after-crash", **KEY)
    assert "after-crash" in all_tables(s2.client("dynamodb"))
