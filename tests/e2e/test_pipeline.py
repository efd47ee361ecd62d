"""The invoice archive pipeline end to end (examples/invoice-archive/): table -> stream ->
function -> Firehose -> S3 -> query, with the example's own code, through boto3.

Every invoice must reach the archive with its fields intact: exactly once when nothing fails,
exactly once when the function fails its first attempts before sending anything (the batch is
retried), and at least once across a SIGKILL of the server while invoices are being written
and delivered."""
import collections
import os
import signal
import sys
import threading
import time
from decimal import Decimal

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "examples", "invoice-archive"))
import pipeline  # noqa: E402


def connect(server):
    return pipeline.Pipeline(server.endpoint, server.access_key, server.secret)


def wait_archive(p, ids, timeout=90):
    """Polls the archive until it holds an INSERT of every invoice id in ids; returns the
    archived records."""
    deadline = time.time() + timeout
    want = set(ids)
    while True:
        recs = p.archived_records()
        have = {r["invoice_id"] for r in recs if r["event"] == "INSERT"}
        if want <= have:
            return recs
        assert time.time() < deadline, "archive holds %d of %d invoices; missing e.g. %s" % (
            len(want & have), len(want), sorted(want - have)[:5])
        time.sleep(0.2)


def same_invoice(rec, inv):
    """The archived line keeps every field of the invoice, with numbers exact."""
    assert rec["customer"] == inv["customer"]
    assert rec["currency"] == inv["currency"]
    assert rec["issued"] == inv["issued"]
    assert rec["paid"] is inv["paid"]
    assert Decimal(str(rec["amount"])) == inv["amount"]
    assert len(rec["lines"]) == len(inv["lines"])
    for got, want in zip(rec["lines"], inv["lines"]):
        assert got["sku"] == want["sku"] and got["qty"] == want["qty"]
        assert Decimal(str(got["price"])) == want["price"]


def inserts_by_id(recs):
    out = collections.defaultdict(list)
    for r in recs:
        if r["event"] == "INSERT":
            out[r["invoice_id"]].append(r)
    return out


def test_thousand_invoices_reach_the_archive_exactly_once(server):
    p = connect(server)
    p.setup()
    invoices = pipeline.make_invoices(1000)
    p.write_invoices(invoices)
    recs = wait_archive(p, [i["invoice_id"] for i in invoices])
    by_id = inserts_by_id(recs)
    assert len(recs) == 1000, "the archive holds %d records for 1000 invoices" % len(recs)
    for inv in invoices:
        assert len(by_id[inv["invoice_id"]]) == 1, inv["invoice_id"]
        same_invoice(by_id[inv["invoice_id"]][0], inv)
    # Per item, the stream's order is kept: sequence numbers grow with the writes.
    seqs = [int(r["sequence"]) for r in recs]
    assert len(set(seqs)) == len(seqs)

    # The archive answers SQL: the query, checked against the invoices written.
    year = time.strftime("%Y/", time.gmtime())
    ans = p.query("SELECT customer, count(*), sum(amount) FROM archive('%s', '%s') "
                  "GROUP BY customer ORDER BY customer" % (pipeline.BUCKET, year))
    want = collections.defaultdict(lambda: [0, Decimal(0)])
    for inv in invoices:
        want[inv["customer"]][0] += 1
        want[inv["customer"]][1] += inv["amount"]
    assert [r[0] for r in ans["rows"]] == sorted(want)
    for customer, count, total in ans["rows"]:
        assert count == want[customer][0]
        assert abs(Decimal(str(total)) - want[customer][1]) < Decimal("0.01")


FLAKY = '''"""Fails the first FAIL_TIMES invocations, before sending anything."""
import os

import archiver


def handler(event, context):
    marks = os.environ["FAIL_DIR"]
    if len(os.listdir(marks)) < int(os.environ["FAIL_TIMES"]):
        open(os.path.join(marks, context.aws_request_id), "w").close()
        raise RuntimeError("planned failure before sending")
    return archiver.handler(event, context)
'''


def test_failed_batches_are_retried_and_archived_exactly_once(server, tmp_path):
    marks = tmp_path / "failures"
    marks.mkdir()
    p = connect(server)
    p.setup(function_zip=pipeline.package({"flaky.py": FLAKY}), handler="flaky.handler",
            env={"FAIL_DIR": str(marks), "FAIL_TIMES": "3"})
    invoices = pipeline.make_invoices(200, seed=11)
    p.write_invoices(invoices)
    recs = wait_archive(p, [i["invoice_id"] for i in invoices])
    assert len(os.listdir(marks)) == 3, "the function did not fail its first attempts"
    by_id = inserts_by_id(recs)
    assert len(recs) == 200
    for inv in invoices:
        assert len(by_id[inv["invoice_id"]]) == 1, inv["invoice_id"]
        same_invoice(by_id[inv["invoice_id"]][0], inv)


@pytest.mark.crash
def test_sigkill_while_writing_and_delivering_loses_no_acknowledged_invoice(make_server,
                                                                           tmp_path):
    srv = make_server(str(tmp_path / "data")).start()
    p = connect(srv)
    p.setup()
    invoices = pipeline.make_invoices(3000, seed=13)
    acked, stop = [], threading.Event()

    def writer(chunk):
        w = connect(srv)
        for inv in chunk:
            if stop.is_set():
                return
            try:
                w.put_invoice(inv)
            except Exception:  # the server died under us: this one was not acknowledged
                return
            acked.append(inv)

    threads = [threading.Thread(target=writer, args=(invoices[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    # Kill once writes are flowing and the first of them are being delivered.
    deadline = time.time() + 60
    while len(acked) < 600 and time.time() < deadline:
        time.sleep(0.01)
    assert len(acked) >= 600, "writes did not flow"
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    srv._stderr.close()
    srv.check_clean()

    srv.start()
    p = connect(srv)
    recs = wait_archive(p, [i["invoice_id"] for i in acked], timeout=120)
    by_id = inserts_by_id(recs)
    for inv in acked:
        same_invoice(by_id[inv["invoice_id"]][0], inv)
