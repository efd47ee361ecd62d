"""S3 bucket owners and bucket policies end to end: three credential pairs of the data
directory's credentials file, each owning the buckets it creates (another key's bucket answers
AccessDenied, its name BucketAlreadyExists), and bucket policies with Allow and Deny on
principals, actions and resources."""
import json
import os

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from test_s3 import error_code, status

KEYS = {"alice": ("AKIAALICE00000000001", "alice/secret/0000000000000000000000000"),
        "bob": ("AKIABOB0000000000002", "bob/secret/00000000000000000000000000000"),
        "carol": ("AKIACAROL00000000003", "carol/secret/000000000000000000000000000")}


@pytest.fixture
def owners(make_server, tmp_path):
    data = tmp_path / "data"
    os.makedirs(data, mode=0o700)
    with open(data / "credentials", "w") as f:
        for name, (k, s) in KEYS.items():
            f.write("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n" % (name, k, s))
    os.chmod(data / "credentials", 0o600)
    server = make_server(str(data)).start()

    def client(name):
        k, s = KEYS[name]
        return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                            aws_access_key_id=k, aws_secret_access_key=s,
                            config=botocore.config.Config(
                                s3={"addressing_style": "path"},
                                retries={"max_attempts": 0, "mode": "standard"}))
    return {n: client(n) for n in KEYS}


def denied(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    assert status(e) == 403, e.value.response
    return e


def test_each_key_owns_its_buckets(owners):
    alice, bob = owners["alice"], owners["bob"]
    alice.create_bucket(Bucket="alice-b")
    alice.put_object(Bucket="alice-b", Key="doc", Body=b"mine")
    bob.create_bucket(Bucket="bob-b")
    assert [b["Name"] for b in alice.list_buckets()["Buckets"]] == ["alice-b"]
    assert [b["Name"] for b in bob.list_buckets()["Buckets"]] == ["bob-b"]
    e = denied(bob.get_object, Bucket="alice-b", Key="doc")
    assert error_code(e) == "AccessDenied"
    denied(bob.put_object, Bucket="alice-b", Key="x", Body=b"x")
    denied(bob.list_objects_v2, Bucket="alice-b")
    denied(bob.delete_object, Bucket="alice-b", Key="doc")
    denied(bob.delete_bucket, Bucket="alice-b")
    denied(bob.copy_object, Bucket="bob-b", Key="stolen", CopySource="alice-b/doc")
    with pytest.raises(ClientError) as e:
        bob.create_bucket(Bucket="alice-b")
    assert error_code(e) == "BucketAlreadyExists" and status(e) == 409
    with pytest.raises(ClientError) as e:
        alice.create_bucket(Bucket="alice-b")
    assert error_code(e) == "BucketAlreadyOwnedByYou"
    assert alice.get_object(Bucket="alice-b", Key="doc")["Body"].read() == b"mine"


def test_bucket_policy_allow_and_deny(owners):
    alice, bob, carol = owners["alice"], owners["bob"], owners["carol"]
    alice.create_bucket(Bucket="shared")
    for k in ("public/a", "private/b"):
        alice.put_object(Bucket="shared", Key=k, Body=k.encode())
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": KEYS["bob"][0]}, "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::shared/public/*"},
        {"Effect": "Allow", "Principal": "*", "Action": ["s3:ListBucket"],
         "Resource": "arn:aws:s3:::shared"},
        {"Effect": "Deny", "Principal": {"AWS": ["arn:aws:iam::000000000000:user/"
                                                + KEYS["carol"][0]]},
         "Action": "s3:*", "Resource": ["arn:aws:s3:::shared", "arn:aws:s3:::shared/*"]},
        {"Effect": "Deny", "Principal": {"AWS": KEYS["alice"][0]}, "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::shared/public/*"}]}
    denied(bob.put_bucket_policy, Bucket="shared", Policy=json.dumps(policy))
    alice.put_bucket_policy(Bucket="shared", Policy=json.dumps(policy))
    assert json.loads(alice.get_bucket_policy(Bucket="shared")["Policy"]) == policy
    denied(bob.get_bucket_policy, Bucket="shared")

    assert bob.get_object(Bucket="shared", Key="public/a")["Body"].read() == b"public/a"
    denied(bob.get_object, Bucket="shared", Key="private/b")
    denied(bob.put_object, Bucket="shared", Key="public/new", Body=b"x")
    assert [o["Key"] for o in bob.list_objects_v2(Bucket="shared")["Contents"]] == [
        "private/b", "public/a"]
    denied(carol.list_objects_v2, Bucket="shared")          # Deny wins over Allow "*"
    denied(carol.get_object, Bucket="shared", Key="public/a")
    # Even the owner is bound by a Deny that names her.
    denied(alice.delete_object, Bucket="shared", Key="public/a")
    alice.delete_object(Bucket="shared", Key="private/b")

    for bad in ("not json", json.dumps({"Statement": []}),
                json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*",
                                           "Action": "s3:GetObject",
                                           "Resource": "arn:aws:s3:::shared/*",
                                           "Condition": {"Bool": {"aws:SecureTransport":
                                                                  "true"}}}]})):
        with pytest.raises(ClientError) as e:
            alice.put_bucket_policy(Bucket="shared", Policy=bad)
        assert error_code(e) == "MalformedPolicy"
    alice.delete_bucket_policy(Bucket="shared")
    with pytest.raises(ClientError) as e:
        alice.get_bucket_policy(Bucket="shared")
    assert error_code(e) == "NoSuchBucketPolicy"
    denied(bob.get_object, Bucket="shared", Key="public/a")
