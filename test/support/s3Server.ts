/**
 * An S3 API on 127.0.0.1 for tests: the npm package s3rver in a process of its own
 * (test/support/s3rverMain.ts, which also answers the two listing calls s3rver lacks), its objects in
 * a scratch directory, its buckets made at start, an access key generated per run, and a client that
 * lists a bucket's keys with requests signed by that key.
 *
 * What s3rver 3.7 checks: a request signed with AWS signature V2 must carry a known access key and a
 * correct signature; a V4-signed request (what Distribution's s3 driver sends, and what its presigned
 * redirect URLs carry) must name a known access key, but s3rver does not verify V4 signatures. So a
 * registry configured with an unknown access key is refused, one with a wrong secret key is not.
 */
import { createHmac, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import type { S3rverOptions } from "./s3rverMain";
import { freePort, privateDir, removeDir, startServer, waitForPort } from "./serverProcess";
import { PROJECT_DIR } from "./synthCli";

export interface S3Server {
    /** "http://<address>:<port>": what a registry's `regionendpoint` or restic's s3 repository names. */
    readonly endpoint: string;
    readonly port: number;
    /** The access key s3rver knows, generated for this run. */
    readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
    /** Every key in the bucket that starts with `prefix`, listed through the S3 API (signature V2). */
    listKeys(bucket: string, prefix?: string): Promise<string[]>;
    /** Stops the server and removes its objects. Safe to call twice. */
    stop(): Promise<void>;
}

/**
 * Starts s3rver on a free port of `address` (loopback unless given; a test namespace's host end
 * makes it reachable from inside the namespace) with the given buckets and a generated access key.
 */
export async function startS3Server(buckets: readonly string[], address = "127.0.0.1"): Promise<S3Server> {
    const dir = privateDir("s3rver");
    const port = await freePort();
    const credentials = {
        accessKeyId: `AKIA${randomBytes(8).toString("hex").toUpperCase()}`,
        secretAccessKey: randomBytes(30).toString("base64"),
    };
    const optionsFile = path.join(dir, "options.json");
    const options: S3rverOptions = { port, address, directory: path.join(dir, "objects"), buckets, ...credentials };
    writeFileSync(optionsFile, JSON.stringify(options), { mode: 0o600 });
    const server = startServer(process.execPath, [
        path.join(PROJECT_DIR, "node_modules/tsx/dist/cli.mjs"),
        path.join(__dirname, "s3rverMain.ts"),
        optionsFile,
    ]);
    try {
        await waitForPort(port, 60_000, "s3rver", address);
    } catch (error) {
        const output = server.output();
        await server.stop();
        removeDir(dir);
        throw new Error(`${(error as Error).message}\n${output}`);
    }
    const endpoint = `http://${address}:${port}`;
    let stopped = false;
    return {
        endpoint,
        port,
        credentials,
        async listKeys(bucket, prefix = "") {
            const date = new Date().toUTCString();
            // Signature V2 with the time in x-amz-date: the Date line stays empty, the header is signed.
            const signature = createHmac("sha1", credentials.secretAccessKey)
                .update(`GET\n\n\n\nx-amz-date:${date}\n/${bucket}`)
                .digest("base64");
            const response = await fetch(`${endpoint}/${bucket}?prefix=${encodeURIComponent(prefix)}&max-keys=1000`, {
                headers: { "x-amz-date": date, Authorization: `AWS ${credentials.accessKeyId}:${signature}` },
            });
            const body = await response.text();
            if (response.status !== 200) throw new Error(`listing bucket ${bucket} answered ${response.status}: ${body}`);
            return [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1]!);
        },
        async stop() {
            if (stopped) return;
            stopped = true;
            await server.stop();
            removeDir(dir);
        },
    };
}
