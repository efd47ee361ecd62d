"""S3 versioning and Object Lock end to end: Enabled and Suspended buckets, version ids,
delete markers, GET/HEAD/DELETE/copy of a version, ListObjectVersions; Object Lock default
retention, GOVERNANCE and COMPLIANCE retention, legal hold, and the refusals that keep a
locked invoice from being deleted before its date."""
import datetime
import time

import pytest
from botocore.exceptions import ClientError

from test_s3 import s3c, error_code, status, cli
from test_s3_multipart import objects_files

UTC = datetime.timezone.utc


def versions(s3, bucket, **kw):
    out = s3.list_object_versions(Bucket=bucket, **kw)
    rows = [(v["Key"], v["VersionId"], v["IsLatest"], "V") for v in out.get("Versions", [])]
    rows += [(d["Key"], d["VersionId"], d["IsLatest"], "D") for d in out.get("DeleteMarkers", [])]
    return out, sorted(rows, key=lambda r: r[0])


def test_versioning_enabled_and_suspended(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="ver")
    assert "Status" not in s3.get_bucket_versioning(Bucket="ver")
    s3.put_object(Bucket="ver", Key="k", Body=b"before")       # the null version
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="ver")["Status"] == "Enabled"
    v1 = s3.put_object(Bucket="ver", Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="ver", Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and v1 != "null"
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"two"
    got = s3.get_object(Bucket="ver", Key="k", VersionId=v1)
    assert got["Body"].read() == b"one" and got["VersionId"] == v1
    assert s3.get_object(Bucket="ver", Key="k", VersionId="null")["Body"].read() == b"before"
    assert s3.head_object(Bucket="ver", Key="k")["VersionId"] == v2
    out, rows = versions(s3, "ver")
    assert [(r[1], r[2]) for r in rows] == [(v2, True), (v1, False), ("null", False)]

    # A delete adds a marker: the key is gone from listings and GETs, its versions stay.
    d = s3.delete_object(Bucket="ver", Key="k")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ver", Key="k")
    assert error_code(e) == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="ver", Key="k", VersionId=marker)
    assert status(e) == 405
    assert "Contents" not in s3.list_objects_v2(Bucket="ver")
    out, rows = versions(s3, "ver")
    assert ("k", marker, True, "D") in rows and len(rows) == 4
    assert [r for r in rows if r[2]] == [("k", marker, True, "D")]
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="ver")
    assert error_code(e) == "BucketNotEmpty"
    # Deleting the marker brings the newest version back.
    d = s3.delete_object(Bucket="ver", Key="k", VersionId=marker)
    assert d["DeleteMarker"] is True and d["VersionId"] == marker
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"two"
    # Deleting a version for good; copying an old one to the top.
    s3.delete_object(Bucket="ver", Key="k", VersionId=v2)
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"one"
    cp = s3.copy_object(Bucket="ver", Key="k", CopySource={"Bucket": "ver", "Key": "k",
                                                          "VersionId": "null"})
    assert cp["CopySourceVersionId"] == "null" and cp["VersionId"] not in (v1, "null")
    assert s3.get_object(Bucket="ver", Key="k")["Body"].read() == b"before"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ver", Key="k", VersionId=v2)
    assert error_code(e) == "NoSuchVersion"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ver", Key="k", VersionId="bogus")
    assert error_code(e) == "InvalidArgument"

    # Suspended: writes are the null version, replacing the one before.
    s3.put_bucket_versioning(Bucket="ver", VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket="ver", Key="k", Body=b"s1").get("VersionId") == "null"
    s3.put_object(Bucket="ver", Key="k", Body=b"s2")
    out, rows = versions(s3, "ver")
    ids = [r[1] for r in rows]
    assert ids.count("null") == 1 and v1 in ids
    assert s3.get_object(Bucket="ver", Key="k", VersionId="null")["Body"].read() == b"s2"
    d = s3.delete_object(Bucket="ver", Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"] == "null"

    # DeleteObjects with versions; then every body is gone.
    out, rows = versions(s3, "ver")
    res = s3.delete_objects(Bucket="ver", Delete={"Objects": [
        {"Key": r[0], "VersionId": r[1]} for r in rows]})
    assert len(res["Deleted"]) == len(rows) and "Errors" not in res
    assert s3.list_object_versions(Bucket="ver").get("Versions") is None
    assert objects_files(server, 0) == []
    assert server.inline_bodies() == 0
    s3.delete_bucket(Bucket="ver")


def test_list_object_versions_pages_and_prefixes(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="vlist")
    s3.put_bucket_versioning(Bucket="vlist", VersioningConfiguration={"Status": "Enabled"})
    want = []
    for k in ("a", "d/x", "d/y", "z"):
        for i in range(3):
            vid = s3.put_object(Bucket="vlist", Key=k, Body=b"%d" % i)["VersionId"]
            want.append((k, vid))
    # Newest first within a key.
    expect = []
    for k in ("a", "d/x", "d/y", "z"):
        expect += list(reversed([w for w in want if w[0] == k]))
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(
            Bucket="vlist", PaginationConfig={"PageSize": 2}):
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
    assert seen == expect
    out = s3.list_object_versions(Bucket="vlist", Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["d/"]
    assert {v["Key"] for v in out["Versions"]} == {"a", "z"}
    out = s3.list_object_versions(Bucket="vlist", Prefix="d/", KeyMarker="d/x",
                                  VersionIdMarker=expect[3][1])
    assert [(v["Key"], v["VersionId"]) for v in out["Versions"]] == expect[4:9]


def future(days=0, seconds=0):
    return datetime.datetime.now(UTC) + datetime.timedelta(days=days, seconds=seconds)


def test_object_lock_keeps_an_invoice(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="invoices", ObjectLockEnabledForBucket=True)
    assert s3.get_bucket_versioning(Bucket="invoices")["Status"] == "Enabled"
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket="invoices",
                                 VersioningConfiguration={"Status": "Suspended"})
    assert error_code(e) == "InvalidBucketState"
    # The seed's audit rule: seven years of COMPLIANCE retention by default.
    s3.put_object_lock_configuration(Bucket="invoices", ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 7}}})
    cfg = s3.get_object_lock_configuration(Bucket="invoices")["ObjectLockConfiguration"]
    assert cfg["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    vid = s3.put_object(Bucket="invoices", Key="2026/INV-1.json",
                        Body=b'{"total": 10}')["VersionId"]
    ret = s3.get_object_retention(Bucket="invoices", Key="2026/INV-1.json")["Retention"]
    assert ret["Mode"] == "COMPLIANCE"
    assert ret["RetainUntilDate"] > future(days=365 * 7 - 2)
    head = s3.head_object(Bucket="invoices", Key="2026/INV-1.json")
    assert head["ObjectLockMode"] == "COMPLIANCE"

    # The locked version cannot be deleted, not even bypassing governance; its retention
    # cannot be shortened. An overwrite or a plain delete only stacks versions on top.
    for bypass in (False, True):
        with pytest.raises(ClientError) as e:
            s3.delete_object(Bucket="invoices", Key="2026/INV-1.json", VersionId=vid,
                             BypassGovernanceRetention=bypass)
        assert error_code(e) == "AccessDenied" and status(e) == 403
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket="invoices", Key="2026/INV-1.json", VersionId=vid,
                                Retention={"Mode": "COMPLIANCE",
                                           "RetainUntilDate": future(days=1)})
    assert error_code(e) == "AccessDenied"
    with pytest.raises(ClientError) as e:
        s3.put_object_retention(Bucket="invoices", Key="2026/INV-1.json", VersionId=vid,
                                Retention={"Mode": "GOVERNANCE",
                                           "RetainUntilDate": future(days=3650)})
    assert error_code(e) == "AccessDenied"
    s3.put_object(Bucket="invoices", Key="2026/INV-1.json", Body=b'{"total": 99}')
    s3.delete_object(Bucket="invoices", Key="2026/INV-1.json")
    res = s3.delete_objects(Bucket="invoices", Delete={"Objects": [
        {"Key": "2026/INV-1.json", "VersionId": vid}]})
    assert res["Errors"][0]["Code"] == "AccessDenied" and "Deleted" not in res
    got = s3.get_object(Bucket="invoices", Key="2026/INV-1.json", VersionId=vid)
    assert got["Body"].read() == b'{"total": 10}'
    r = cli(server, "s3api", "delete-object", "--bucket", "invoices", "--key",
            "2026/INV-1.json", "--version-id", vid)
    assert r.returncode != 0 and "AccessDenied" in r.stderr


def test_governance_retention_and_legal_hold(server):
    s3 = s3c(server)
    s3.create_bucket(Bucket="gov", ObjectLockEnabledForBucket=True)
    vid = s3.put_object(Bucket="gov", Key="doc", Body=b"x", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=future(days=30))["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="gov", Key="doc", VersionId=vid)
    assert error_code(e) == "AccessDenied"
    # Governance can be lifted by who may bypass it.
    with pytest.raises(ClientError):
        s3.put_object_retention(Bucket="gov", Key="doc", VersionId=vid,
                                Retention={"Mode": "GOVERNANCE",
                                           "RetainUntilDate": future(days=1)})
    s3.put_object_retention(Bucket="gov", Key="doc", VersionId=vid,
                            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": future(days=60)})
    s3.put_object_legal_hold(Bucket="gov", Key="doc", VersionId=vid, LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket="gov", Key="doc",
                                    VersionId=vid)["LegalHold"]["Status"] == "ON"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket="gov", Key="doc", VersionId=vid, BypassGovernanceRetention=True)
    assert error_code(e) == "AccessDenied"
    s3.put_object_legal_hold(Bucket="gov", Key="doc", VersionId=vid,
                             LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket="gov", Key="doc", VersionId=vid, BypassGovernanceRetention=True)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="gov", Key="doc", VersionId=vid)
    assert status(e) == 404

    # A retention that has passed no longer protects.
    vid = s3.put_object(Bucket="gov", Key="short", Body=b"y", ObjectLockMode="COMPLIANCE",
                        ObjectLockRetainUntilDate=future(seconds=2))["VersionId"]
    with pytest.raises(ClientError):
        s3.delete_object(Bucket="gov", Key="short", VersionId=vid)
    deadline = time.time() + 10
    while True:
        try:
            s3.delete_object(Bucket="gov", Key="short", VersionId=vid)
            break
        except ClientError:
            assert time.time() < deadline
            time.sleep(0.2)

    # Lock settings need a bucket with Object Lock; a date in the past is refused.
    s3.create_bucket(Bucket="nolock")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="nolock", Key="a", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=future(days=1))
    assert error_code(e) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.put_object_lock_configuration(Bucket="nolock", ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled"})
    assert error_code(e) == "InvalidBucketState"
    with pytest.raises(ClientError) as e:
        s3.get_object_lock_configuration(Bucket="nolock")
    assert error_code(e) == "ObjectLockConfigurationNotFoundError"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="gov", Key="past", Body=b"x", ObjectLockMode="GOVERNANCE",
                      ObjectLockRetainUntilDate=datetime.datetime(2020, 1, 1, tzinfo=UTC))
    assert error_code(e) == "InvalidArgument"
