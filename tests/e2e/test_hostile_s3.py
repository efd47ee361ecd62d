"""Hostile input to S3 over HTTP: each XML body S3 reads (bucket configurations, DeleteObjects,
CompleteMultipartUpload, tagging, object lock) is mutated element by element (emptied, a
70,000-character text, a bad number, removed, repeated 2,000 times, nested 2,000 deep) and
broken whole (not XML, truncated, another root, a DTD with entities, invalid UTF-8); headers get
huge values, bad dates, bad ranges and bad conditions. Every answer must be timely, never a 5xx
or a dropped connection, and every 4xx an XML <Error> with a <Code>. The server still answers
after, and its stderr holds no sanitizer report.

Mutations are sampled with a fixed seed so a run is repeatable and short under ASan."""
import base64
import hashlib
import http.client
import random
import time
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

from conftest import SANITIZER_MARKS

TIMELY = 5.0
ELEMENTS_PER_DOC = 12
SEED = 20060301
BUCKET = "hostile-s3"
NS = "http://s3.amazonaws.com/doc/2006-03-01/"


class S3Sender:
    def __init__(self, server):
        self.server = server
        self.creds = botocore.credentials.Credentials(server.access_key, server.secret)

    def send(self, method, path, data=b"", headers=None, md5=True):
        headers = dict(headers or {})
        if md5 and data:
            headers["Content-MD5"] = base64.b64encode(hashlib.md5(data).digest()).decode()
        url = self.server.endpoint + path
        req = botocore.awsrequest.AWSRequest(method=method, url=url, data=data, headers=headers)
        botocore.auth.S3SigV4Auth(self.creds, "s3", "us-east-1").add_auth(req)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=TIMELY * 2)
        t0 = time.time()
        try:
            conn.request(method, path, body=data, headers=dict(req.headers))
            resp = conn.getresponse()
            body = resp.read()
            return resp.status, body, time.time() - t0
        finally:
            conn.close()


def check(what, st, body, took, must_fail, method="PUT"):
    assert took < TIMELY, "%s: answered after %.1f s" % (what, took)
    assert st < 500, "%s: HTTP %d %r" % (what, st, body[:300])
    if must_fail:
        assert 400 <= st < 500, "%s: accepted (HTTP %d %r)" % (what, st, body[:300])
    if st >= 400 and method != "HEAD":
        root = ET.fromstring(body)
        assert root.tag == "Error" and root.findtext("Code"), "%s: %r" % (what, body[:300])


@pytest.fixture(scope="module")
def s3h(module_server):
    s = module_server
    c = s.client("s3")
    c.create_bucket(Bucket=BUCKET)
    c.create_bucket(Bucket=BUCKET + "-lock", ObjectLockEnabledForBucket=True)
    c.put_object(Bucket=BUCKET, Key="obj", Body=b"0123456789" * 100)
    c.put_object(Bucket=BUCKET + "-lock", Key="obj", Body=b"x")
    up = c.create_multipart_upload(Bucket=BUCKET, Key="mp")["UploadId"]
    etag = c.upload_part(Bucket=BUCKET, Key="mp", UploadId=up, PartNumber=1,
                         Body=b"p" * 100)["ETag"]
    yield s, S3Sender(s), up, etag
    st, body, _ = S3Sender(s).send("GET", "/" + BUCKET + "?list-type=2")
    assert st == 200, body
    s.check_clean()


def docs(up, etag):
    x = '<?xml version="1.0" encoding="UTF-8"?>'
    return {
        ("PUT", "/%s?cors" % BUCKET): x + (
            '<CORSConfiguration xmlns="%s"><CORSRule><ID>r</ID><AllowedOrigin>*</AllowedOrigin>'
            '<AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader>'
            '<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>300</MaxAgeSeconds></CORSRule>'
            '</CORSConfiguration>' % NS),
        ("PUT", "/%s?encryption" % BUCKET): x + (
            '<ServerSideEncryptionConfiguration xmlns="%s"><Rule>'
            '<ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>'
            '</ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled>'
            '</Rule></ServerSideEncryptionConfiguration>' % NS),
        ("PUT", "/%s?lifecycle" % BUCKET): x + (
            '<LifecycleConfiguration xmlns="%s"><Rule><ID>r1</ID><Filter><And>'
            '<Prefix>logs/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag>'
            '<ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></And></Filter>'
            '<Status>Enabled</Status><Expiration><Days>30</Days></Expiration>'
            '<NoncurrentVersionExpiration><NoncurrentDays>5</NoncurrentDays>'
            '</NoncurrentVersionExpiration><AbortIncompleteMultipartUpload>'
            '<DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload>'
            '</Rule></LifecycleConfiguration>' % NS),
        ("PUT", "/%s?notification" % BUCKET): x + (
            '<NotificationConfiguration xmlns="%s"><CloudFunctionConfiguration>'
            '<Id>n</Id><CloudFunction>arn:aws:lambda:us-east-1:000000000000:function:nope'
            '</CloudFunction><Event>s3:ObjectCreated:*</Event><Filter><S3Key><FilterRule>'
            '<Name>prefix</Name><Value>in/</Value></FilterRule></S3Key></Filter>'
            '</CloudFunctionConfiguration></NotificationConfiguration>' % NS),
        ("PUT", "/%s?versioning" % BUCKET): x + (
            '<VersioningConfiguration xmlns="%s"><Status>Suspended</Status>'
            '<MfaDelete>Disabled</MfaDelete></VersioningConfiguration>' % NS),
        ("PUT", "/%s/obj?tagging" % BUCKET): x + (
            '<Tagging xmlns="%s"><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet>'
            '</Tagging>' % NS),
        ("POST", "/%s?delete" % BUCKET): x + (
            '<Delete xmlns="%s"><Quiet>false</Quiet><Object><Key>gone1</Key></Object>'
            '<Object><Key>gone2</Key><VersionId>null</VersionId></Object></Delete>' % NS),
        ("POST", "/%s/mp?uploadId=%s" % (BUCKET, up)): x + (
            '<CompleteMultipartUpload xmlns="%s"><Part><PartNumber>1</PartNumber>'
            '<ETag>%s</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"%s"</ETag></Part>'
            '</CompleteMultipartUpload>' % (NS, etag, "0" * 32)),
        ("PUT", "/%s-lock?object-lock" % BUCKET): x + (
            '<ObjectLockConfiguration xmlns="%s"><ObjectLockEnabled>Enabled</ObjectLockEnabled>'
            '<Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days></DefaultRetention>'
            '</Rule></ObjectLockConfiguration>' % NS),
        ("PUT", "/%s-lock/obj?retention" % BUCKET): x + (
            '<Retention xmlns="%s"><Mode>GOVERNANCE</Mode>'
            '<RetainUntilDate>2099-01-01T00:00:00Z</RetainUntilDate></Retention>' % NS),
        ("PUT", "/%s-lock/obj?legal-hold" % BUCKET): x + (
            '<LegalHold xmlns="%s"><Status>OFF</Status></LegalHold>' % NS),
        ("PUT", "/hostile-s3-new"): x + (
            '<CreateBucketConfiguration xmlns="%s"><LocationConstraint>us-east-1'
            '</LocationConstraint></CreateBucketConfiguration>' % NS),
    }


def whole_cases(doc):
    return [
        ("not-xml", b"this is not xml"),
        ("truncated", doc[:len(doc) // 2].encode()),
        ("other-root", b'<?xml version="1.0"?><Nope><A>1</A></Nope>'),
        ("laughs", (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Delete>&c;</Delete>')),
        ("external-entity", (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
                             b'"file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object>'
                             b'</Delete>')),
        ("invalid-utf8", doc.replace("<", "<\xff", 1).encode("latin-1", "replace")
         .replace(b"?<", b"\xff<", 1)),
        ("bad-utf8-text", doc.encode().replace(b"</", b"\xc3\x28</", 1)),
        ("deep-5000", b"<a>" * 5000 + b"</a>" * 5000),
        ("spaces-1mb", b" " * (1 << 20)),
        ("nul", doc.encode().replace(b"</", b"\x00</", 1)),
    ]


def element_mutations(doc, key):
    ET.register_namespace("", NS)
    root = ET.fromstring(doc)
    elems = list(root.iter())[1:]
    rnd = random.Random("%d/%s" % (SEED, key))
    idx = list(range(len(elems)))
    rnd.shuffle(idx)
    out = []
    for i in idx[:ELEMENTS_PER_DOC]:
        for name in ("empty", "big", "negative", "huge-number", "word", "removed",
                     "repeated", "deep"):
            r = ET.fromstring(doc)
            e = list(r.iter())[1:][i]
            parent = {c: p for p in r.iter() for c in p}[e]
            if name == "empty":
                e.text = ""
                for c in list(e):
                    e.remove(c)
            elif name == "big":
                e.text = "x" * 70000
            elif name == "negative":
                e.text = "-1"
            elif name == "huge-number":
                e.text = "9" * 40
            elif name == "word":
                e.text = "bogus\u00e9\u2028"
            elif name == "removed":
                parent.remove(e)
            elif name == "repeated":
                pos = list(parent).index(e)
                for _ in range(2000):
                    parent.insert(pos, ET.fromstring(ET.tostring(e)))
            elif name == "deep":
                e.text = "@DEEP@"       # ElementTree cannot serialize 2,000 levels itself
            text = ET.tostring(r).replace(b"@DEEP@", b"<Deep>" * 2000 + b"</Deep>" * 2000)
            out.append(("%s %s" % (e.tag.split("}")[-1], name),
                        b'<?xml version="1.0" encoding="UTF-8"?>' + text))
    return out


def test_s3_hostile_xml(s3h):
    s, sender, up, etag = s3h
    failures = []
    for (method, path), doc in sorted(docs(up, etag).items()):
        cases = [(n, b, True) for n, b in whole_cases(doc)] + \
            [(n, b, False) for n, b in element_mutations(doc, path)]
        for name, body, must in cases:
            what = "%s %s %s" % (method, path.split("?")[-1][:40], name)
            try:
                st, b, took = sender.send(method, path, body)
                check(what, st, b, took, must and "new" not in path)
            except AssertionError as e:
                failures.append(str(e))
            except (OSError, http.client.HTTPException, ET.ParseError) as e:
                failures.append("%s: %s: %s" % (what, type(e).__name__, e))
    assert not failures, "\n".join(failures[:40])


def test_s3_hostile_headers(s3h):
    s, sender, up, etag = s3h
    obj = "/%s/obj" % BUCKET
    cases = [
        ("GET", obj, {"Range": "bytes=5-1"}), ("GET", obj, {"Range": "bytes=-0"}),
        ("GET", obj, {"Range": "bytes=99999999999999999999999-"}),
        ("GET", obj, {"Range": "bytes=1-2,3-4,5-6"}), ("GET", obj, {"Range": "bits=0-1"}),
        ("GET", obj, {"Range": "bytes=" + "1" * 5000 + "-"}),
        ("GET", obj, {"Range": "bytes=--1"}), ("GET", obj, {"Range": "bytes=0-" + "9" * 30}),
        ("GET", obj, {"Range": "bytes=2000-3000"}),
        ("GET", obj, {"If-Modified-Since": "not a date"}),
        ("GET", obj, {"If-Unmodified-Since": "Mon, 99 Foo 99999 99:99:99 GMT"}),
        ("GET", obj, {"If-Match": "x" * 7000}), ("GET", obj, {"If-None-Match": ""}),
        ("GET", obj + "?partNumber=0", {}), ("GET", obj + "?partNumber=99999999999", {}),
        ("GET", obj + "?response-content-type=%00%ff", {}),
        ("HEAD", obj, {"Range": "bytes=zz"}),
        ("GET", "/%s?list-type=2&max-keys=-5" % BUCKET, {}),
        ("GET", "/%s?list-type=2&max-keys=99999999999999999999" % BUCKET, {}),
        ("GET", "/%s?list-type=2&continuation-token=%%ff%%00" % BUCKET, {}),
        ("GET", "/%s?list-type=2&start-after=" % BUCKET + "k" * 5000, {}),
        ("GET", "/%s?versions&key-marker=a&version-id-marker=bogus" % BUCKET, {}),
        ("GET", "/%s?uploads&max-uploads=abc" % BUCKET, {}),
        ("GET", "/%s/mp?uploadId=%s&max-parts=-1&part-number-marker=x" % (BUCKET, up), {}),
        ("PUT", "/%s/h1" % BUCKET, {"x-amz-meta-big": "v" * 7000}),
        ("PUT", "/%s/h2" % BUCKET, {"Content-MD5": "not base64"}),
        ("PUT", "/%s/h3" % BUCKET, {"Content-MD5": base64.b64encode(b"0" * 16).decode()}),
        ("PUT", "/%s/h4" % BUCKET, {"x-amz-storage-class": "BOGUS"}),
        ("PUT", "/%s/h5" % BUCKET, {"x-amz-server-side-encryption": "ROT13"}),
        ("PUT", "/%s/h6" % BUCKET, {"x-amz-tagging": "a=%ff&&=&" + "k" * 5000}),
        ("PUT", "/%s/h7" % BUCKET, {"Expires": "garbage", "x-amz-object-lock-mode": "X"}),
        ("PUT", "/%s/h8" % BUCKET, {"x-amz-object-lock-retain-until-date": "yesterday",
                                    "x-amz-object-lock-mode": "GOVERNANCE"}),
        ("PUT", "/%s/h9" % BUCKET, {"x-amz-copy-source": "/%s/obj" % BUCKET,
                                    "x-amz-copy-source-range": "bytes=9-1"}),
        ("PUT", "/%s/h10" % BUCKET, {"x-amz-copy-source": "%ff%00/../.."}),
        ("PUT", "/%s/h11" % BUCKET, {"x-amz-copy-source": "/%s/obj" % BUCKET,
                                     "x-amz-copy-source-if-modified-since": "bad"}),
        ("PUT", "/%s/h12" % BUCKET, {"x-amz-checksum-sha256": "!!!",
                                     "x-amz-sdk-checksum-algorithm": "SHA256"}),
        ("PUT", "/%s/h13" % BUCKET, {"x-amz-checksum-crc32": "AAAAAA=="}),
        ("PUT", "/%s/h14" % BUCKET, {"x-amz-metadata-directive": "SIDEWAYS",
                                     "x-amz-copy-source": "/%s/obj" % BUCKET}),
        ("PUT", "/%s/mp?uploadId=%s&partNumber=0" % (BUCKET, up), {}),
        ("PUT", "/%s/mp?uploadId=%s&partNumber=abc" % (BUCKET, up), {}),
        ("PUT", "/%s/mp?uploadId=%s&partNumber=10001" % (BUCKET, up), {}),
        ("PUT", "/%s/mp?uploadId=bogus&partNumber=1" % BUCKET, {}),
        ("DELETE", "/%s/mp?uploadId=%s" % (BUCKET, "u" * 3000), {}),
        ("GET", "/%s/%s" % (BUCKET, "k" * 1100), {}),
        ("PUT", "/%s/%s" % (BUCKET, "k" * 1100), {}),
        ("GET", "/" + "b" * 300, {}), ("PUT", "/" + "B_ad", {}),
    ]
    failures = []
    for method, path, hdrs in cases:
        what = "%s %s %r" % (method, path[:60], {k: v[:40] for k, v in hdrs.items()})
        try:
            data = b"body" if method == "PUT" and path.count("/") > 1 else b""
            st, b, took = sender.send(method, path, data, hdrs, md5=False)
            check(what, st, b, took, False, method)
        except AssertionError as e:
            failures.append(str(e))
        except (OSError, http.client.HTTPException, ET.ParseError) as e:
            failures.append("%s: %s: %s" % (what, type(e).__name__, e))
    assert not failures, "\n".join(failures[:40])


def test_s3_still_answers_clean(s3h):
    s, sender, _, _ = s3h
    st, b, _ = sender.send("GET", "/%s/obj" % BUCKET)
    assert st == 200 and b == b"0123456789" * 100
    err = s.stderr()
    for mark in SANITIZER_MARKS:
        assert mark not in err, err


def test_regression_complete_part_without_etag(s3h):
    """A listed Part with no ETag element crashed the server (a null slice copied into the
    InvalidPart error); it is InvalidPart, with the ETag field empty."""
    s, sender, _, _ = s3h
    c = s.client("s3")
    up = c.create_multipart_upload(Bucket=BUCKET, Key="mp-noetag")["UploadId"]
    c.upload_part(Bucket=BUCKET, Key="mp-noetag", UploadId=up, PartNumber=1, Body=b"p")
    body = ('<CompleteMultipartUpload xmlns="%s"><Part><PartNumber>1</PartNumber></Part>'
            '</CompleteMultipartUpload>' % NS).encode()
    st, b, _ = sender.send("POST", "/%s/mp-noetag?uploadId=%s" % (BUCKET, up), body)
    root = ET.fromstring(b)
    assert st == 400 and root.findtext("Code") == "InvalidPart", b
    assert root.findtext("ETag") == "" and root.findtext("PartNumber") == "1", b
