/**
 * The S3 API server of test/support/s3Server.ts, run as a process of its own (a test blocks its own
 * event loop while it waits for skopeo or curl, and the registry must get answers meanwhile):
 * `tsx s3rverMain.ts <options file>`, the file (0600) holding the port, the storage directory, the
 * buckets and the access key. s3rver stores objects under the directory; SIGTERM stops it.
 *
 * STAND-IN for two calls s3rver answers with 501 NotImplemented: ListMultipartUploads
 * (`GET /<bucket>?uploads`) and ListParts (`GET /<bucket>/<key>?uploadId=`). Distribution's s3 driver
 * makes both whenever it resumes an upload, i.e. on every PATCH and on the closing PUT of a push.
 * They are answered here from s3rver's own records of the uploads in progress (the files its store
 * writes for CreateMultipartUpload and UploadPart), before s3rver's authentication; every other
 * request is s3rver's own.
 *
 * FIX of one s3rver bug: a listing with a delimiter (ListObjects `delimiter=/`, what Distribution's
 * Walk and so garbage collection and the catalog use) stops descending one directory level too early
 * and leaves out the common prefixes of keys nested deeper. The listing is made here from s3rver's
 * own complete listing of the prefix, split at the delimiter as S3 does.
 * FIX of another: ListObjectsV2's KeyCount leaves out the common prefixes (S3 counts them), and
 * Distribution takes a count of 0 for "path not found"; the count is corrected on the way out.
 * FIX of a third: s3rver stores a body sent with the streaming V4 signature
 * (`x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD`, `Content-Encoding: aws-chunked`) as
 * it arrives, chunk headers and signatures included. restic's S3 client (minio-go) sends every
 * upload that way over plain HTTP, and then cannot read its own repository back ("Unmarshal: invalid
 * character 'b' after top-level value" on the key file). Such bodies are decoded to their payload
 * (chunk signatures are not checked, as s3rver checks no V4 signature) before s3rver stores them.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import * as path from "node:path";
import { Transform } from "node:stream";

/** The parts of s3rver (a Koa application) used here; the package ships no types. */
interface S3rverApp {
    store: ObjectStore;
    middleware: ((ctx: KoaContext, next: () => Promise<void>) => Promise<void> | void)[];
    run(): Promise<unknown>;
    close(): Promise<void>;
}
interface KoaContext {
    req: IncomingMessage;
    method: string;
    path: string;
    query: Record<string, string | string[] | undefined>;
    status: number;
    type: string;
    body: unknown;
}
interface ListOptions {
    delimiter?: string;
    prefix?: string;
    startAfter?: string;
    maxKeys?: number;
}
interface Listing {
    objects: { key: string }[];
    commonPrefixes: string[];
    isTruncated: boolean;
}
interface ObjectStore {
    listObjects(bucket: string, options: ListOptions): Promise<Listing>;
}
interface AwsAccount {
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
}

const load = createRequire(__filename);

const xmlEscape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const xml = (root: string, inner: string) =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</${root}>`;
const el = (name: string, value: string | number) => `<${name}>${xmlEscape(String(value))}</${name}>`;

/** Answers ListMultipartUploads and ListParts from s3rver's upload records under `directory`. */
function multipartListings(directory: string) {
    const uploadsDir = (bucket: string) => path.join(directory, bucket, "._S3rver_uploads");
    const one = (q: string | string[] | undefined) => (Array.isArray(q) ? q[0] : q);
    return async (ctx: KoaContext, next: () => Promise<void>) => {
        const [, bucket, ...keyParts] = ctx.path.split("/");
        if (ctx.method !== "GET" || !bucket) return next();
        if (keyParts.length === 0 && "uploads" in ctx.query) {
            const prefix = one(ctx.query.prefix) ?? "";
            const dir = uploadsDir(bucket);
            const uploads = existsSync(dir)
                ? readdirSync(dir)
                      .map((uploadId) => ({ uploadId, key: readFileSync(path.join(dir, uploadId, "key"), "utf8") }))
                      .filter((u) => u.key.startsWith(prefix))
                : [];
            ctx.type = "application/xml";
            ctx.body = xml(
                "ListMultipartUploadsResult",
                el("Bucket", bucket) +
                    el("Prefix", prefix) +
                    el("MaxUploads", 1000) +
                    el("IsTruncated", "false") +
                    uploads
                        .map(
                            (u) =>
                                `<Upload>${el("Key", u.key)}${el("UploadId", u.uploadId)}${el("Initiated", new Date().toISOString())}${el("StorageClass", "STANDARD")}</Upload>`,
                        )
                        .join(""),
            );
            return;
        }
        const uploadId = one(ctx.query.uploadId);
        if (keyParts.length > 0 && uploadId !== undefined) {
            const dir = path.join(uploadsDir(bucket), uploadId);
            if (!/^[0-9a-f]+$/.test(uploadId) || !existsSync(dir)) return next();
            const parts = readdirSync(dir)
                .filter((name) => /^\d+$/.test(name))
                .map(Number)
                .sort((a, b) => a - b)
                .map((n) => ({
                    n,
                    size: statSync(path.join(dir, String(n))).size,
                    md5: readFileSync(path.join(dir, `${n}.md5`), "utf8").trim(),
                }));
            ctx.type = "application/xml";
            ctx.body = xml(
                "ListPartsResult",
                el("Bucket", bucket) +
                    el("Key", decodeURIComponent(keyParts.join("/"))) +
                    el("UploadId", uploadId) +
                    el("PartNumberMarker", 0) +
                    el("NextPartNumberMarker", parts.at(-1)?.n ?? 0) +
                    el("MaxParts", 1000) +
                    el("IsTruncated", "false") +
                    parts
                        .map(
                            (p) =>
                                `<Part>${el("PartNumber", p.n)}${el("LastModified", new Date().toISOString())}${el("ETag", `"${p.md5}"`)}${el("Size", p.size)}</Part>`,
                        )
                        .join(""),
            );
            return;
        }
        return next();
    };
}

/** ListObjectsV2: KeyCount counts the common prefixes as well as the objects. */
async function keyCountWithPrefixes(ctx: KoaContext, next: () => Promise<void>): Promise<void> {
    await next();
    if (ctx.query["list-type"] !== "2" || typeof ctx.body !== "string") return;
    const prefixes = ctx.body.split("<CommonPrefixes>").length - 1;
    ctx.body = ctx.body.replace(/<KeyCount>(\d+)<\/KeyCount>/, (_, n: string) => `<KeyCount>${Number(n) + prefixes}</KeyCount>`);
}

/** The payload of an aws-chunked body: "<hex size>;chunk-signature=<sig>\r\n<data>\r\n", ending with a size of 0. */
function awsChunkedDecoder(): Transform {
    let pending = Buffer.alloc(0);
    let dataLeft = 0;
    let crlfLeft = 0;
    let finished = false;
    return new Transform({
        transform(chunk: Buffer, _encoding, callback) {
            pending = Buffer.concat([pending, chunk]);
            while (!finished) {
                if (dataLeft > 0) {
                    const take = Math.min(dataLeft, pending.length);
                    if (take === 0) break;
                    this.push(pending.subarray(0, take));
                    pending = pending.subarray(take);
                    dataLeft -= take;
                    if (dataLeft === 0) crlfLeft = 2;
                } else if (crlfLeft > 0) {
                    if (pending.length < crlfLeft) break;
                    pending = pending.subarray(crlfLeft);
                    crlfLeft = 0;
                } else {
                    const eol = pending.indexOf("\r\n");
                    if (eol === -1) break;
                    const size = Number.parseInt(pending.subarray(0, eol).toString("latin1").split(";")[0] ?? "", 16);
                    if (Number.isNaN(size)) return callback(new Error("malformed aws-chunked body"));
                    pending = pending.subarray(eol + 2);
                    if (size === 0) finished = true;
                    else dataLeft = size;
                }
            }
            if (finished) pending = Buffer.alloc(0);
            callback();
        },
    });
}

/** Hands s3rver the decoded payload of a streaming-signed upload, with its real length. */
async function decodeAwsChunked(ctx: KoaContext, next: () => Promise<void>): Promise<void> {
    const headers = ctx.req.headers;
    if (!String(headers["x-amz-content-sha256"] ?? "").startsWith("STREAMING-")) return next();
    const decodedLength = headers["x-amz-decoded-content-length"];
    if (decodedLength !== undefined) headers["content-length"] = String(decodedLength);
    const encoding = String(headers["content-encoding"] ?? "")
        .split(",")
        .map((e) => e.trim())
        .filter((e) => e && e !== "aws-chunked")
        .join(",");
    if (encoding) headers["content-encoding"] = encoding;
    else delete headers["content-encoding"];
    const raw = ctx.req;
    const decoded = raw.pipe(awsChunkedDecoder());
    raw.on("error", (error) => decoded.destroy(error));
    // s3rver reads bodies from ctx.req (object.js putObject/uploadPart) and headers from it as well.
    ctx.req = Object.assign(decoded, { headers: raw.headers }) as unknown as IncomingMessage;
    return next();
}

/** What the parent hands over in the options file. */
export interface S3rverOptions {
    readonly port: number;
    /** The address to listen on (127.0.0.1, or a test namespace's host end for clients inside it). */
    readonly address: string;
    readonly directory: string;
    readonly buckets: readonly string[];
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
}

async function main(optionsFile: string): Promise<void> {
    const options = JSON.parse(readFileSync(optionsFile, "utf8")) as S3rverOptions;
    const S3rver = load("s3rver") as new (options: Record<string, unknown>) => S3rverApp;
    const AWSAccount = load("s3rver/lib/models/account") as new (id: string, name: string) => AwsAccount;
    new AWSAccount("123456789012", "dso-registry tests").createKeyPair(options.accessKeyId, options.secretAccessKey);
    const server = new S3rver({
        address: options.address,
        port: options.port,
        directory: options.directory,
        silent: true,
        // Path-style only: the registry config sets forcepathstyle.
        vhostBuckets: false,
        configureBuckets: options.buckets.map((name) => ({ name })),
    });
    server.middleware.unshift(decodeAwsChunked, multipartListings(options.directory), keyCountWithPrefixes);
    const listAll = server.store.listObjects.bind(server.store);
    server.store.listObjects = async (bucket, list) => {
        const { delimiter, prefix = "", maxKeys = Number.POSITIVE_INFINITY } = list;
        if (!delimiter) return listAll(bucket, list);
        const all = await listAll(bucket, { ...list, delimiter: "", maxKeys: Number.POSITIVE_INFINITY });
        const prefixes = new Set<string>();
        const objects = all.objects.filter((o) => {
            const at = o.key.indexOf(delimiter, prefix.length);
            if (at === -1) return true;
            prefixes.add(o.key.slice(0, at + delimiter.length));
            return false;
        });
        const commonPrefixes = [...prefixes].sort();
        const isTruncated = objects.length + commonPrefixes.length > maxKeys;
        return isTruncated
            ? {
                  objects: objects.slice(0, maxKeys),
                  commonPrefixes: commonPrefixes.slice(0, Math.max(0, maxKeys - objects.length)),
                  isTruncated,
              }
            : { objects, commonPrefixes, isTruncated };
    };
    await server.run();
    process.once("SIGTERM", () => {
        server.close().finally(() => process.exit(0));
    });
}

main(process.argv[2] ?? "").catch((error: unknown) => {
    console.error(error);
    process.exit(1);
});
