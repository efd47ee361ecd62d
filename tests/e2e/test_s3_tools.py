"""S3 through the tools people move files with: s3cmd and rclone (Debian's), each doing real
work against a started server: make a bucket, upload small and multipart files, list, download
and compare bytes, sync a directory tree (keys with spaces, unicode and nested prefixes), check
checksums, delete, and remove the bucket. What each tool sees is checked, and what the server
stored is checked again through boto3."""
import hashlib
import os
import subprocess

import pytest

S3CMD = "/usr/bin/s3cmd"
RCLONE = "/usr/bin/rclone"


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server


@pytest.fixture(scope="module")
def s3(srv):
    return srv.client("s3")


def tree(root, files):
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


def md5(data):
    return hashlib.md5(data).hexdigest()


FILES = {
    "a.txt": b"alpha\n",
    "dir/b.bin": os.urandom(70000),
    "dir/sub/c d.txt": b"with a space\n",
    "dir/\u00e9t\u00e9.txt": "unicode \u00e9\n".encode(),
    "empty": b"",
}
BIG = os.urandom(12 * 1024 * 1024 + 12345)   # more than two 5 MiB parts


# ---- s3cmd ----

@pytest.fixture(scope="module")
def s3cmd(srv, tmp_path_factory):
    cfg = tmp_path_factory.mktemp("s3cmd") / "s3cfg"
    host = "127.0.0.1:%d" % srv.port
    cfg.write_text("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\n"
                   "host_bucket = %s\nuse_https = False\nsignature_v2 = False\n"
                   "bucket_location = us-east-1\ncheck_ssl_certificate = False\n"
                   % (srv.access_key, srv.secret, host, host))

    def run(*args, check=True):
        p = subprocess.run([S3CMD, "-c", str(cfg), "--no-progress"] + list(args),
                           capture_output=True, text=True, timeout=120)
        if check:
            assert p.returncode == 0, "s3cmd %s: %s%s" % (args, p.stdout, p.stderr)
        return p
    return run


def test_s3cmd_bucket_put_get_list_delete(s3cmd, s3, tmp_path):
    s3cmd("mb", "s3://tool-s3cmd")
    assert "s3://tool-s3cmd" in s3cmd("ls").stdout
    src = tmp_path / "small.txt"
    src.write_bytes(b"hello from s3cmd\n")
    s3cmd("put", str(src), "s3://tool-s3cmd/x/small.txt")
    out = s3cmd("ls", "s3://tool-s3cmd/x/").stdout
    assert "s3://tool-s3cmd/x/small.txt" in out
    got = tmp_path / "got.txt"
    s3cmd("get", "s3://tool-s3cmd/x/small.txt", str(got))
    assert got.read_bytes() == b"hello from s3cmd\n"
    info = s3cmd("info", "s3://tool-s3cmd/x/small.txt").stdout
    assert md5(b"hello from s3cmd\n") in info
    assert s3.get_object(Bucket="tool-s3cmd", Key="x/small.txt")["Body"].read() == \
        b"hello from s3cmd\n"
    s3cmd("del", "s3://tool-s3cmd/x/small.txt")
    assert s3.list_objects_v2(Bucket="tool-s3cmd")["KeyCount"] == 0
    s3cmd("rb", "s3://tool-s3cmd")
    assert "tool-s3cmd" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_s3cmd_multipart_upload_and_download(s3cmd, s3, tmp_path):
    s3cmd("mb", "s3://tool-s3cmd-mp")
    src = tmp_path / "big.bin"
    src.write_bytes(BIG)
    s3cmd("put", "--multipart-chunk-size-mb=5", str(src), "s3://tool-s3cmd-mp/big.bin")
    head = s3.head_object(Bucket="tool-s3cmd-mp", Key="big.bin")
    assert head["ContentLength"] == len(BIG)
    assert head["ETag"].endswith('-3"')
    got = tmp_path / "got.bin"
    s3cmd("get", "s3://tool-s3cmd-mp/big.bin", str(got))
    assert md5(got.read_bytes()) == md5(BIG)


def test_s3cmd_sync_a_tree_both_ways(s3cmd, s3, tmp_path):
    s3cmd("mb", "s3://tool-s3cmd-sync")
    up = tmp_path / "up"
    tree(str(up), FILES)
    s3cmd("sync", str(up) + "/", "s3://tool-s3cmd-sync/tree/")
    keys = sorted(o["Key"] for o in
                  s3.list_objects_v2(Bucket="tool-s3cmd-sync")["Contents"])
    assert keys == sorted("tree/" + k for k in FILES)
    # A second sync uploads nothing: sizes and MD5s match what sluice reports.
    again = s3cmd("sync", str(up) + "/", "s3://tool-s3cmd-sync/tree/").stdout
    assert "upload:" not in again
    down = tmp_path / "down"
    s3cmd("sync", "s3://tool-s3cmd-sync/tree/", str(down) + "/")
    for rel, data in FILES.items():
        assert (down / rel).read_bytes() == data, rel
    s3cmd("del", "--recursive", "--force", "s3://tool-s3cmd-sync/tree/")
    assert s3.list_objects_v2(Bucket="tool-s3cmd-sync")["KeyCount"] == 0


# ---- rclone ----

@pytest.fixture(scope="module")
def rclone(srv, tmp_path_factory):
    home = tmp_path_factory.mktemp("rclone")
    env = dict(os.environ)
    # rclone cannot apply a CA bundle to its own HTTP transport (and needs none for http).
    env.pop("AWS_CA_BUNDLE", None)
    env.update({
        "RCLONE_CONFIG": str(home / "rclone.conf"),
        "RCLONE_CONFIG_SL_TYPE": "s3",
        "RCLONE_CONFIG_SL_PROVIDER": "Other",
        "RCLONE_CONFIG_SL_ENDPOINT": srv.endpoint,
        "RCLONE_CONFIG_SL_ACCESS_KEY_ID": srv.access_key,
        "RCLONE_CONFIG_SL_SECRET_ACCESS_KEY": srv.secret,
        "RCLONE_CONFIG_SL_REGION": "us-east-1",
        "RCLONE_CONFIG_SL_FORCE_PATH_STYLE": "true",
        "HOME": str(home),
    })

    def run(*args, check=True, binary=False):
        p = subprocess.run([RCLONE, "--retries", "1", "--low-level-retries", "1"] + list(args),
                           env=env, capture_output=True, text=not binary, timeout=120)
        if check:
            assert p.returncode == 0, "rclone %s: %s%s" % (args, p.stdout, p.stderr)
        return p
    return run


def test_rclone_copy_check_and_back(rclone, s3, tmp_path):
    rclone("mkdir", "sl:tool-rclone")
    assert "tool-rclone" in rclone("lsd", "sl:").stdout
    up = tmp_path / "up"
    tree(str(up), FILES)
    rclone("copy", str(up), "sl:tool-rclone/tree")
    listed = rclone("lsf", "-R", "--files-only", "sl:tool-rclone/tree").stdout.split("\n")
    assert sorted(x for x in listed if x) == sorted(FILES)
    # rclone check compares sizes and MD5 hashes (the ETags of single-part objects).
    rclone("check", str(up), "sl:tool-rclone/tree")
    sums = rclone("md5sum", "sl:tool-rclone/tree").stdout
    for rel, data in FILES.items():
        assert "%s  %s" % (md5(data), rel) in sums, rel
    down = tmp_path / "down"
    rclone("copy", "sl:tool-rclone/tree", str(down))
    for rel, data in FILES.items():
        assert (down / rel).read_bytes() == data, rel
    s3obj = s3.get_object(Bucket="tool-rclone", Key="tree/dir/sub/c d.txt")
    assert s3obj["Body"].read() == FILES["dir/sub/c d.txt"]


def test_rclone_multipart_upload_ranged_cat_and_purge(rclone, s3, tmp_path):
    rclone("mkdir", "sl:tool-rclone-mp")
    src = tmp_path / "big.bin"
    src.write_bytes(BIG)
    rclone("copyto", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(src),
           "sl:tool-rclone-mp/big.bin")
    head = s3.head_object(Bucket="tool-rclone-mp", Key="big.bin")
    assert head["ContentLength"] == len(BIG)
    assert head["ETag"].endswith('-3"')
    # rclone keeps the whole file's MD5 in metadata for multipart objects and checks it.
    rclone("check", "--one-way", str(tmp_path), "sl:tool-rclone-mp", "--include", "big.bin")
    # A ranged read across the first part's end.
    cat = rclone("cat", "--offset", "5242870", "--count", "20", "sl:tool-rclone-mp/big.bin",
                 binary=True)
    assert cat.stdout == BIG[5242870:5242890]
    got = tmp_path / "got.bin"
    rclone("copyto", "sl:tool-rclone-mp/big.bin", str(got))
    assert md5(got.read_bytes()) == md5(BIG)
    rclone("purge", "sl:tool-rclone-mp")
    assert "tool-rclone-mp" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
