"""S3 lifecycle rules end to end, applied by the background sweeper: expiration of current
versions by days and by date, of noncurrent versions and expired delete markers, the abort of
incomplete multipart uploads; filters by prefix, tag and size; Object Lock wins over a rule.
The server runs with one-second lifecycle days and sweeps every second."""
import datetime
import time

import pytest
from botocore.exceptions import ClientError

from test_s3 import s3c, error_code
from test_s3_multipart import objects_files


@pytest.fixture
def lc_server(make_server):
    return make_server(extra_args=["--s3-lifecycle-interval", "1",
                                   "--s3-lifecycle-day", "1"]).start()


def wait_until(pred, timeout=15):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, "the sweeper did not get there"
        time.sleep(0.2)


def keys(s3, bucket):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_lifecycle_configuration_api(lc_server):
    s3 = s3c(lc_server)
    s3.create_bucket(Bucket="lcapi")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lcapi")
    assert error_code(e) == "NoSuchLifecycleConfiguration"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket="lcapi", LifecycleConfiguration={"Rules": [
            {"ID": "bad", "Filter": {"Prefix": ""}, "Status": "Enabled",
             "Expiration": {"Days": 0}}]})
    assert error_code(e) == "InvalidArgument"
    rules = [{"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
              "Expiration": {"Days": 30}},
             {"ID": "mpu", "Filter": {"Prefix": ""}, "Status": "Disabled",
              "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}]
    s3.put_bucket_lifecycle_configuration(Bucket="lcapi",
                                          LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket="lcapi")["Rules"]
    assert [r["ID"] for r in got] == ["tmp", "mpu"]
    assert got[0]["Expiration"]["Days"] == 30
    s3.delete_bucket_lifecycle(Bucket="lcapi")
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket="lcapi")


def test_sweeper_expires_by_prefix_tag_size_and_date(lc_server):
    s3 = s3c(lc_server)
    s3.create_bucket(Bucket="lcexp")
    for k in ("tmp/a", "tmp/b", "keep/a"):
        s3.put_object(Bucket="lcexp", Key=k, Body=b"x")
    s3.put_object(Bucket="lcexp", Key="tagged", Body=b"x", Tagging="ttl=short")
    s3.put_object(Bucket="lcexp", Key="big", Body=b"x" * 2000)
    s3.put_object(Bucket="lcexp", Key="small", Body=b"x")
    s3.put_object(Bucket="lcexp", Key="dated/1", Body=b"x")
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    s3.put_bucket_lifecycle_configuration(Bucket="lcexp", LifecycleConfiguration={"Rules": [
        {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
         "Expiration": {"Days": 2}},
        {"ID": "tag", "Filter": {"Tag": {"Key": "ttl", "Value": "short"}}, "Status": "Enabled",
         "Expiration": {"Days": 2}},
        {"ID": "size", "Filter": {"ObjectSizeGreaterThan": 1000}, "Status": "Enabled",
         "Expiration": {"Days": 2}},
        {"ID": "date", "Filter": {"Prefix": "dated/"}, "Status": "Enabled",
         "Expiration": {"Date": past}},
        {"ID": "off", "Filter": {"Prefix": "keep/"}, "Status": "Disabled",
         "Expiration": {"Days": 1}}]})
    wait_until(lambda: keys(s3, "lcexp") == ["keep/a", "small"])
    # Small bodies are kept in the store: the expired ones went with their records.
    assert lc_server.inline_bodies() == 2
    assert objects_files(lc_server, 0) == []


def test_sweeper_versions_markers_uploads_and_locks(lc_server):
    s3 = s3c(lc_server)
    s3.create_bucket(Bucket="lcver")
    s3.put_bucket_versioning(Bucket="lcver", VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2", b"3"):
        s3.put_object(Bucket="lcver", Key="doc", Body=body)
    s3.put_object(Bucket="lcver", Key="gone", Body=b"x")
    s3.delete_object(Bucket="lcver", Key="gone")
    up = s3.create_multipart_upload(Bucket="lcver", Key="stale")["UploadId"]
    s3.upload_part(Bucket="lcver", Key="stale", UploadId=up, PartNumber=1, Body=b"p")
    s3.put_bucket_lifecycle_configuration(Bucket="lcver", LifecycleConfiguration={"Rules": [
        {"ID": "all", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
         "Expiration": {"ExpiredObjectDeleteMarker": True},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}]})

    def settled():
        out = s3.list_object_versions(Bucket="lcver")
        vs = [(v["Key"], v["IsLatest"]) for v in out.get("Versions", [])]
        ms = out.get("DeleteMarkers", [])
        ups = s3.list_multipart_uploads(Bucket="lcver").get("Uploads", [])
        return vs == [("doc", True)] and not ms and not ups
    wait_until(settled)
    assert s3.get_object(Bucket="lcver", Key="doc")["Body"].read() == b"3"
    assert lc_server.inline_bodies() == 1  # "doc"
    assert objects_files(lc_server, 0) == []  # the aborted upload's part file too

    # A version under Object Lock outlives a rule that would expire it.
    s3.create_bucket(Bucket="lclock", ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket="lclock", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}})
    old = s3.put_object(Bucket="lclock", Key="inv", Body=b"old")["VersionId"]
    s3.put_object(Bucket="lclock", Key="inv", Body=b"new")
    s3.put_bucket_lifecycle_configuration(Bucket="lclock", LifecycleConfiguration={"Rules": [
        {"ID": "nc", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    time.sleep(3)
    assert s3.get_object(Bucket="lclock", Key="inv", VersionId=old)["Body"].read() == b"old"
