"""End-to-end harness: starts a real `sluice serve` on a free port with a temporary data
directory, hands tests a handle to it, and stops it after, failing the test if the server
exited badly or a sanitizer reported anything.

The binary is $SLUICE_BIN (make test points it at the ASan+UBSan build) or build/sluice.
"""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLUICE_BIN = os.environ.get("SLUICE_BIN", os.path.join(ROOT, "build", "sluice"))
AWS_CLI = "/usr/bin/aws"
TEST_KEY = "AKIASLUICETESTKEY001"
TEST_SECRET = "sluice/test/secret/key/000000000000000000"

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "ERROR: UndefinedBehaviorSanitizer")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One sluice process. start() waits for the banner; stop() checks a clean exit."""

    def __init__(self, data_dir, env_creds=True, extra_args=(), extra_env=None):
        self.data_dir = data_dir
        self.port = None
        self.proc = None
        self.env_creds = env_creds
        self.extra_args = list(extra_args)
        self.extra_env = dict(extra_env or {})
        self.banner = ""
        self.stderr_path = None
        self.access_key = TEST_KEY if env_creds else None
        self.secret = TEST_SECRET if env_creds else None

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def env(self):
        env = dict(os.environ)
        for k in list(env):
            if k.startswith("SLUICE_") or k.startswith("AWS_"):
                del env[k]
        env["ASAN_OPTIONS"] = "detect_leaks=1:abort_on_error=0:exitcode=99"
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=98"
        if self.env_creds:
            env["SLUICE_ROOT_ACCESS_KEY_ID"] = TEST_KEY
            env["SLUICE_ROOT_SECRET_ACCESS_KEY"] = TEST_SECRET
        env.update(self.extra_env)
        return env

    def start(self, port=None, timeout=15):
        self.port = port or self.port or free_port()
        fd, self.stderr_path = tempfile.mkstemp(prefix="sluice-stderr-", suffix=".log")
        os.close(fd)
        self._stderr = open(self.stderr_path, "w")
        args = [SLUICE_BIN, "serve", "--port", str(self.port), "--data-dir", self.data_dir,
                "--log-level", "info"] + self.extra_args
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=self.env(), text=True)
        lines = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.strip().startswith("aws_cli_hint") or "dynamodb list-tables" in line:
                break
        self.banner = "".join(lines)
        if "dynamodb list-tables" not in self.banner:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("sluice did not start:\n%s\n%s" % (self.banner, self.stderr()))
        m = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", self.banner)
        self.access_key = m.group(1)
        self.secret = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", self.banner).group(1)
        # Keep draining stdout so the server never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self

    def stderr(self):
        try:
            with open(self.stderr_path) as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the server with sig and returns (exit code, seconds it took)."""
        if not self.proc or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else 0), 0.0
        t0 = time.time()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._stderr.close()
        return rc, time.time() - t0

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self._stderr.close()

    def metric(self, name):
        """The value of an unlabelled line of /metrics (an int), or None if absent."""
        with urllib.request.urlopen(self.endpoint + "/metrics", timeout=5) as resp:
            for line in resp.read().decode().splitlines():
                if line.startswith(name + " "):
                    return int(float(line.split()[1]))
        return None

    def inline_bodies(self):
        """The S3 bodies kept in the store rather than as files of objects/."""
        return self.metric("sluice_s3_inline_bodies")

    def check_clean(self):
        err = self.stderr()
        for mark in SANITIZER_MARKS:
            assert mark not in err, "sanitizer report in server stderr:\n" + err

    def client(self, service, key=None, secret=None, region="us-east-1", validate=True, **kw):
        """A boto3 client for this server; validate=False skips botocore's own parameter
        checks so that the server's validation is what answers."""
        cfg = botocore.config.Config(retries={"max_attempts": 0, "mode": "standard"},
                                     connect_timeout=5, read_timeout=30,
                                     parameter_validation=validate)
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=key or self.access_key,
                            aws_secret_access_key=secret or self.secret, config=cfg, **kw)

    def cli_env(self):
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": self.access_key,
                    "AWS_SECRET_ACCESS_KEY": self.secret,
                    "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": "/dev/null",
                    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                    "AWS_PAGER": ""})
        return env

    def cli(self, *args, check=True):
        return subprocess.run([AWS_CLI, "--endpoint-url", self.endpoint, "--output", "json"]
                              + list(args), env=self.cli_env(), capture_output=True, text=True,
                              check=check, timeout=60)


def raw(server, target, body):
    """Sends a DynamoDB request body as it is, signed (botocore would serialize B values,
    check types, and refuse members it does not know): a JSON value, or bytes sent as they
    are. Returns (status, JSON body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=server.endpoint + "/", data=data,
        headers={"Content-Type": "application/x-amz-json-1.0",
                 "X-Amz-Target": "DynamoDB_20120810." + target})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(server.access_key, server.secret),
                            "dynamodb", "us-east-1").add_auth(req)
    r = urllib.request.Request(server.endpoint + "/", data=data, headers=dict(req.headers),
                               method="POST")
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def data_dir(tmp_path):
    d = tmp_path / "data"
    return str(d)


@pytest.fixture
def server(data_dir):
    s = Server(data_dir).start()
    yield s
    rc, _ = s.stop()
    s.check_clean()
    assert rc == 0, "server exited with %s:\n%s" % (rc, s.stderr())


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    """One server for a whole module of short tests (each uses its own tables)."""
    s = Server(str(tmp_path_factory.mktemp("data"))).start()
    yield s
    rc, _ = s.stop()
    s.check_clean()
    assert rc == 0, "server exited with %s:\n%s" % (rc, s.stderr())


@pytest.fixture
def make_server(tmp_path):
    """Factory for tests that need several servers or restarts; stops them all after."""
    made = []

    def make(data_dir=None, **kw):
        s = Server(data_dir or str(tmp_path / ("data%d" % len(made))), **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        if s.proc and s.proc.poll() is None:
            s.stop()
        s.check_clean()
