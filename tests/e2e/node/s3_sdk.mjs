// s3_sdk.mjs: drives sluice's S3 with the current AWS SDK for JavaScript v3, the way
// applications use it: PutObject of a stream (aws-chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER,
// a trailing x-amz-checksum-crc32), GetObject with ChecksumMode (the SDK checks the value),
// a multipart upload with CRC32 part checksums, GetObjectAttributes, tags.
// Usage: node s3_sdk.mjs <endpoint> <access key> <secret>; prints one JSON line of results.
import {
    S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
    CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand,
    GetObjectAttributesCommand, PutObjectTaggingCommand, GetObjectTaggingCommand,
} from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { createHash } from "node:crypto";

const [endpoint, accessKeyId, secretAccessKey] = process.argv.slice(2);
const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true,
                          credentials: { accessKeyId, secretAccessKey } });
const seen = [];
s3.middlewareStack.add((next) => async (args) => {
    const h = args.request.headers;
    seen.push({ encoding: h["content-encoding"], sha: h["x-amz-content-sha256"],
                trailer: h["x-amz-trailer"] });
    return next(args);
}, { step: "finalizeRequest", priority: "low", name: "sluiceSeen" });

const out = {};
const md5 = (b) => createHash("md5").update(b).digest("hex");
await s3.send(new CreateBucketCommand({ Bucket: "sdk-v3" }));

// A stream of known length: the SDK frames it as aws-chunked with a CRC32 trailer.
const body = Buffer.alloc(300000, 0);
for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
seen.length = 0;
const put = await s3.send(new PutObjectCommand({
    Bucket: "sdk-v3", Key: "streamed", Body: Readable.from([body.subarray(0, 100000),
                                                          body.subarray(100000)]),
    ContentLength: body.length, ContentType: "application/x-test" }));
out.put = { etag: put.ETag, crc32: put.ChecksumCRC32, wire: seen[0] };
const got = await s3.send(new GetObjectCommand({ Bucket: "sdk-v3", Key: "streamed",
                                                 ChecksumMode: "ENABLED" }));
const bytes = Buffer.from(await got.Body.transformToByteArray());
out.get = { same: bytes.equals(body), md5: md5(bytes), crc32: got.ChecksumCRC32,
            type: got.ChecksumType, contentType: got.ContentType };

// A multipart upload with CRC32 checksums on every part (composite), then its attributes.
const p1 = Buffer.alloc(5 * 1024 * 1024, 1), p2 = Buffer.from("the last part");
const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: "sdk-v3", Key: "mp",
                                                            ChecksumAlgorithm: "CRC32" }));
const parts = [];
for (const [n, b] of [[1, p1], [2, p2]]) {
    const r = await s3.send(new UploadPartCommand({ Bucket: "sdk-v3", Key: "mp",
        UploadId: up.UploadId, PartNumber: n, Body: b, ChecksumAlgorithm: "CRC32" }));
    parts.push({ PartNumber: n, ETag: r.ETag, ChecksumCRC32: r.ChecksumCRC32 });
}
const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: "sdk-v3", Key: "mp",
    UploadId: up.UploadId, MultipartUpload: { Parts: parts } }));
out.mp = { etag: done.ETag, crc32: done.ChecksumCRC32, type: done.ChecksumType,
           parts: parts.map((p) => p.ChecksumCRC32) };
const attrs = await s3.send(new GetObjectAttributesCommand({ Bucket: "sdk-v3", Key: "mp",
    ObjectAttributes: ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"] }));
out.attrs = { etag: attrs.ETag, size: attrs.ObjectSize, storage: attrs.StorageClass,
              checksum: attrs.Checksum, parts: attrs.ObjectParts };
const head = await s3.send(new HeadObjectCommand({ Bucket: "sdk-v3", Key: "mp",
                                                   ChecksumMode: "ENABLED" }));
out.head = { crc32: head.ChecksumCRC32, type: head.ChecksumType, length: head.ContentLength };

await s3.send(new PutObjectTaggingCommand({ Bucket: "sdk-v3", Key: "streamed",
    Tagging: { TagSet: [{ Key: "team", Value: "billing" }, { Key: "year", Value: "2026" }] } }));
out.tags = (await s3.send(new GetObjectTaggingCommand({ Bucket: "sdk-v3",
                                                         Key: "streamed" }))).TagSet;
console.log(JSON.stringify(out));
