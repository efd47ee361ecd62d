"""The invoice archiver: a Lambda function on the Invoices table's stream.

For every change in the batch it sends one JSON line to the Firehose delivery stream named by
DELIVERY_STREAM: the change (INSERT, MODIFY, REMOVE), when it happened, its stream sequence
number, and the invoice as plain JSON (the new image, or the old one for a REMOVE). Firehose
batches the lines into objects in the archive bucket.

If Firehose refuses some records, they are sent again a few times; if some still fail, the
function raises, so that the event source mapping retries the whole batch: the archive may then
hold a change twice (at-least-once), never lose one. Readers deduplicate on `sequence`.

Plain boto3; the endpoint comes from the environment (AWS_ENDPOINT_URL), so the same code runs
on AWS (where it is unset) and on sluice.
"""
import json
import os
import time
from decimal import Decimal

import boto3
from boto3.dynamodb.types import TypeDeserializer

firehose = boto3.client("firehose", endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)
DELIVERY_STREAM = os.environ["DELIVERY_STREAM"]
BATCH = 500  # PutRecordBatch's limit
_deserializer = TypeDeserializer()


def _number(d):
    if isinstance(d, Decimal):
        return int(d) if d == d.to_integral_value() else float(d)
    if isinstance(d, (set, frozenset)):
        return sorted(d)
    if isinstance(d, (bytes, bytearray)):
        return d.hex()
    raise TypeError("not JSON serializable: %r" % (d,))


def plain(image):
    """A DynamoDB image ({"amount": {"N": "12.5"}, ...}) as plain values."""
    return {k: _deserializer.deserialize(v) for k, v in image.items()}


def to_line(record):
    ddb = record["dynamodb"]
    image = ddb.get("OldImage") if record["eventName"] == "REMOVE" else ddb.get("NewImage")
    line = {"event": record["eventName"],
            "sequence": ddb["SequenceNumber"],
            "at": ddb.get("ApproximateCreationDateTime")}
    line.update(plain(image or ddb["Keys"]))
    return (json.dumps(line, default=_number, separators=(",", ":")) + "\n").encode()


def send(lines):
    pending = [{"Data": line} for line in lines]
    for attempt in range(5):
        if not pending:
            return
        resp = firehose.put_record_batch(DeliveryStreamName=DELIVERY_STREAM, Records=pending)
        pending = [rec for rec, res in zip(pending, resp["RequestResponses"])
                   if "ErrorCode" in res]
        if pending:
            time.sleep(0.1 * (attempt + 1))
    if pending:
        raise RuntimeError("Firehose refused %d records" % len(pending))


def handler(event, context):
    lines = [to_line(r) for r in event["Records"]]
    for i in range(0, len(lines), BATCH):
        send(lines[i:i + BATCH])
    return {"archived": len(lines)}
