/**
 * An S3 API for tests that checks signatures: versitygw (an S3 server over a directory, its posix
 * backend), built from its Go module by tools/s3/build.sh into the engine tier's cache on first use
 * (a warm cache builds nothing). Each server gets a scratch directory, a free port, a root access key
 * generated per run and the buckets asked for; a client here lists a bucket's keys with requests
 * signed by that key.
 *
 * What it checks, as S3 does: every request is signed with AWS signature V4 (the header, a presigned
 * URL's query, or a streaming upload's chunks) by a key it knows, and the signature must be right. So
 * a registry configured with an unknown access key is refused (`InvalidAccessKeyId`), and so is one
 * with the right access key and a wrong secret key (`SignatureDoesNotMatch`).
 *
 * The root key reaches the server in its environment (ROOT_ACCESS_KEY_ID, ROOT_SECRET_ACCESS_KEY),
 * which only its own user can read (/proc/<pid>/environ), never on its command line.
 */
import { spawnSync } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import type { TestNetns } from "./netns";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "./serverProcess";

export interface S3Server {
    /** "http://<address>:<port>": what a registry's `regionendpoint` or restic's s3 repository names. */
    readonly endpoint: string;
    readonly port: number;
    /** The root access key the server knows, generated for this run. */
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
    /** The server's process, for its log in error messages. */
    readonly server: ServerProcess;
    /** The posix backend's directory: a bucket is a folder in it, an object a file (a bench lays out a store there). */
    readonly root: string;
    /** Every key in the bucket that starts with `prefix`, listed through the S3 API (ListObjectsV2, signature V4). */
    listKeys(bucket: string, prefix?: string): Promise<string[]>;
    /** Stops the server and removes its objects. Safe to call twice. */
    stop(): Promise<void>;
}

/** The region the server answers for and the test clients sign with: the schema's default. */
export const S3_REGION = "us-east-1";

let binary: string | undefined;

/** The versitygw binary, built by tools/s3/build.sh on the first call. */
export function s3ServerBinary(): string {
    if (!binary) {
        const build = spawnSync("sh", [path.join(__dirname, "../../tools/s3/build.sh")], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "inherit"],
        });
        if (build.status !== 0) throw new Error(`tools/s3/build.sh failed (exit ${build.status ?? build.signal})`);
        binary = path.join(build.stdout.trim().split("\n").at(-1) as string, "versitygw");
    }
    return binary;
}

/** RFC 3986 encoding, as signature V4 wants it: everything but unreserved characters. */
const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256Hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

/**
 * The headers of a request signed with AWS signature V4 (the `Authorization` header form) for the
 * S3 service: `host`, `x-amz-date` and `x-amz-content-sha256` signed, the body hashed.
 */
export function signV4(
    request: { readonly method: string; readonly url: URL; readonly body?: Buffer },
    credentials: S3Server["credentials"],
    region = S3_REGION,
    now = new Date(),
): Record<string, string> {
    const amzDate = now
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d{3}/, "");
    const day = amzDate.slice(0, 8);
    const payloadHash = sha256Hex(request.body ?? Buffer.alloc(0));
    const headers: Record<string, string> = { host: request.url.host, "x-amz-content-sha256": payloadHash, "x-amz-date": amzDate };
    const names = Object.keys(headers).sort();
    const query = [...request.url.searchParams]
        .map(([k, v]) => [encode(k), encode(v)] as const)
        .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`)
        .join("&");
    const canonicalPath = request.url.pathname
        .split("/")
        .map((segment) => encode(decodeURIComponent(segment)))
        .join("/");
    const canonicalRequest = [
        request.method,
        canonicalPath,
        query,
        ...names.map((n) => `${n}:${headers[n]}`),
        "",
        names.join(";"),
        payloadHash,
    ].join("\n");
    const scope = `${day}/${region}/s3/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
    const signingKey = ["s3", "aws4_request"].reduce(hmac, hmac(hmac(`AWS4${credentials.secretAccessKey}`, day), region));
    const signature = createHmac("sha256", signingKey).update(stringToSign).digest("hex");
    return {
        "x-amz-content-sha256": payloadHash,
        "x-amz-date": amzDate,
        Authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
    };
}

/** A signed request; throws with the server's answer unless it is `expected`. */
async function signedRequest(method: string, url: URL, credentials: S3Server["credentials"], expected = 200): Promise<string> {
    const response = await fetch(url, { method, headers: signV4({ method, url }, credentials) });
    const body = await response.text();
    if (response.status !== expected) throw new Error(`${method} ${url.pathname}${url.search} answered ${response.status}: ${body}`);
    return body;
}

const xmlText = (text: string) =>
    text.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e] as string);

/**
 * Starts versitygw on a free port of `address` (loopback unless given; a test namespace's host end
 * makes it reachable from inside the namespace) with a generated root key, and creates `buckets`
 * through the S3 API. With `inside`, it runs inside that namespace on its address (unless given): the
 * containers of a Docker engine there reach it too, which the engine's unmasqueraded bridge keeps from
 * the namespace's host end.
 */
export async function startS3Server(buckets: readonly string[], address?: string, inside?: TestNetns): Promise<S3Server> {
    const listen = address ?? inside?.address ?? "127.0.0.1";
    const command = s3ServerBinary();
    const dir = privateDir("s3");
    const root = path.join(dir, "root");
    mkdirSync(root);
    const port = await freePort();
    const credentials = {
        accessKeyId: `AKIA${randomBytes(8).toString("hex").toUpperCase()}`,
        secretAccessKey: randomBytes(30).toString("base64"),
    };
    const env = {
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        ROOT_ACCESS_KEY_ID: credentials.accessKeyId,
        ROOT_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    };
    const args = ["--port", `${listen}:${port}`, "--region", S3_REGION, "--quiet", "posix", root];
    const server = inside ? inside.startServer(command, args, env) : startServer(command, args, env);
    const endpoint = `http://${listen}:${port}`;
    try {
        await waitForPort(port, 30_000, "versitygw", listen);
        for (const bucket of buckets) await signedRequest("PUT", new URL(`${endpoint}/${bucket}`), credentials);
    } catch (error) {
        const output = server.output();
        await server.stop();
        removeDir(dir);
        throw new Error(`${(error as Error).message}\n${output}`);
    }
    let stopped = false;
    return {
        endpoint,
        port,
        credentials,
        server,
        root,
        async listKeys(bucket, prefix = "") {
            const keys: string[] = [];
            let token: string | undefined;
            do {
                const url = new URL(`${endpoint}/${bucket}`);
                url.searchParams.set("list-type", "2");
                url.searchParams.set("prefix", prefix);
                if (token) url.searchParams.set("continuation-token", token);
                const body = await signedRequest("GET", url, credentials);
                keys.push(...[...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => xmlText(m[1]!)));
                const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(body)?.[1];
                token = /<IsTruncated>true<\/IsTruncated>/.test(body) && next ? xmlText(next) : undefined;
            } while (token);
            return keys;
        },
        async stop() {
            if (stopped) return;
            stopped = true;
            await server.stop();
            removeDir(dir);
        },
    };
}
