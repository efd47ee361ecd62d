"""S3 event notifications to Lambda end to end: PutBucketNotificationConfiguration with
LambdaFunctionConfigurations, event and prefix/suffix filters, and a function invoked
asynchronously with AWS's S3 event JSON for puts, copies, multipart completions and deletes;
events recorded with their change survive a restart."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from test_s3 import s3c, error_code
from test_lambda import create

RECORDER = ("import json\n"
            "def handler(event, context):\n"
            "    with open(%r, 'a') as f:\n"
            "        f.write(json.dumps(event) + '\\n')\n")


def read_events(path, n, timeout=20):
    deadline = time.time() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= n:
            return [json.loads(l)["Records"][0] for l in lines]
        assert time.time() < deadline, "%d of %d events arrived" % (len(lines), n)
        time.sleep(0.05)


def test_notifications_invoke_a_function(server, tmp_path):
    out = tmp_path / "events"
    lam = server.client("lambda")
    fn = create(lam, "s3rec", {"app.py": RECORDER % str(out)})["FunctionArn"]
    s3 = s3c(server)
    s3.create_bucket(Bucket="notes")
    s3.put_bucket_notification_configuration(Bucket="notes", NotificationConfiguration={
        "LambdaFunctionConfigurations": [
            {"Id": "csv-in", "LambdaFunctionArn": fn, "Events": ["s3:ObjectCreated:*"],
             "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                                {"Name": "suffix", "Value": ".csv"}]}}},
            {"Id": "gone", "LambdaFunctionArn": fn, "Events": ["s3:ObjectRemoved:*"]}]})
    cfg = s3.get_bucket_notification_configuration(Bucket="notes")
    assert [c["Id"] for c in cfg["LambdaFunctionConfigurations"]] == ["csv-in", "gone"]

    s3.put_object(Bucket="notes", Key="in/a b.csv", Body=b"1,2\n")
    s3.put_object(Bucket="notes", Key="in/skip.txt", Body=b"x")       # suffix filter
    s3.put_object(Bucket="notes", Key="other/c.csv", Body=b"x")       # prefix filter
    s3.copy_object(Bucket="notes", Key="in/copy.csv", CopySource="notes/in/a b.csv")
    up = s3.create_multipart_upload(Bucket="notes", Key="in/big.csv")["UploadId"]
    e1 = s3.upload_part(Bucket="notes", Key="in/big.csv", UploadId=up, PartNumber=1,
                        Body=b"3,4\n")["ETag"]
    s3.complete_multipart_upload(Bucket="notes", Key="in/big.csv", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    s3.delete_object(Bucket="notes", Key="other/c.csv")
    # Asynchronous invocations may run side by side (as on AWS, where S3 does not promise the
    # order of delivery): the sequencer is what orders the events, in commit order.
    recs = sorted(read_events(out, 4), key=lambda r: int(r["s3"]["object"]["sequencer"], 16))
    names = [(r["eventName"], r["s3"]["object"]["key"]) for r in recs]
    assert names == [("ObjectCreated:Put", "in/a+b.csv"), ("ObjectCreated:Copy", "in/copy.csv"),
                     ("ObjectCreated:CompleteMultipartUpload", "in/big.csv"),
                     ("ObjectRemoved:Delete", "other/c.csv")]
    first = recs[0]
    assert first["eventSource"] == "aws:s3" and first["eventVersion"] == "2.1"
    assert first["awsRegion"] == "us-east-1"
    assert first["s3"]["bucket"]["name"] == "notes"
    assert first["s3"]["bucket"]["arn"] == "arn:aws:s3:::notes"
    assert first["s3"]["configurationId"] == "csv-in"
    assert first["s3"]["object"]["size"] == 4
    assert first["s3"]["object"]["eTag"] == s3.head_object(
        Bucket="notes", Key="in/a b.csv")["ETag"].strip('"')
    assert first["userIdentity"]["principalId"] == "AWS:" + server.access_key
    seqs = [r["s3"]["object"]["sequencer"] for r in recs]
    assert len(set(seqs)) == 4
    time.sleep(0.5)
    assert len(out.read_text().splitlines()) == 4    # nothing for the filtered keys

    # A delete marker in a versioned bucket is its own event; a bad configuration is refused.
    s3.put_bucket_versioning(Bucket="notes", VersioningConfiguration={"Status": "Enabled"})
    s3.delete_object(Bucket="notes", Key="in/copy.csv")
    rec = read_events(out, 5)[4]
    assert rec["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert rec["s3"]["object"]["versionId"]
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket="notes", NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn,
                                              "Events": ["s3:ObjectCreated:Nope"]}]})
    assert error_code(e) == "InvalidArgument"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket="notes", NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:000000000000:q",
                                     "Events": ["s3:ObjectCreated:*"]}]})
    assert error_code(e) == "InvalidArgument"
    # An empty configuration turns them off.
    s3.put_bucket_notification_configuration(Bucket="notes", NotificationConfiguration={})
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(
        Bucket="notes")


def test_events_wait_for_lambda_across_a_restart(make_server, tmp_path):
    out = tmp_path / "events"
    server = make_server().start()
    lam = server.client("lambda")
    fn = create(lam, "later", {"app.py": RECORDER % str(out)})["FunctionArn"]
    s3 = s3c(server)
    s3.create_bucket(Bucket="durable-notes")
    s3.put_bucket_notification_configuration(Bucket="durable-notes", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": fn,
                                          "Events": ["s3:ObjectCreated:Put"]}]})
    for i in range(5):
        s3.put_object(Bucket="durable-notes", Key="k%d" % i, Body=b"x")
    server.kill()
    server.start()
    # At least once: the kill may come between a delivery and its record's removal.
    deadline = time.time() + 20
    while {r["s3"]["object"]["key"] for r in read_events(out, 1)} != {"k%d" % i
                                                                       for i in range(5)}:
        assert time.time() < deadline
        time.sleep(0.1)
