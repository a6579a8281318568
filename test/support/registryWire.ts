/**
 * A registry client on the wire, as the online collection's tests drive one through a front: images made of
 * given layers, blobs checked before they are uploaded (as docker does), mounts, manifests put by tag, deletes,
 * every 503 retried (the hold's and the window's answer) and a manifest naming a missing blob told apart, so
 * that a test counts what a client had to cope with. Used by test/support/onlineCollectionCases.ts and
 * test/integration/externalRegistryHost.onlineGc.test.ts.
 */
import { createHash } from "node:crypto";
import * as https from "node:https";
import { expect } from "vitest";

/** Where the client sends its requests: a front's address and port, the name its certificate carries, its CA, the push account. */
export interface WireTarget {
    readonly address: string;
    readonly port: number;
    /** The name the front's certificate is for (SNI and the check); the address when unset. */
    readonly servername?: string;
    readonly caCertPem: string;
    readonly username: string;
    readonly password: string;
}

export const sha = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Answer {
    readonly status: number;
    readonly headers: Record<string, string | string[] | undefined>;
    readonly body: Buffer;
}

/** An image as a client pushes it: its blobs' contents and its manifest. */
export interface Image {
    readonly layers: readonly Buffer[];
    readonly config: Buffer;
    readonly manifest: Buffer;
    readonly digest: string;
}

export const MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json";

export function makeImage(layers: readonly Buffer[]): Image {
    const config = Buffer.from(
        JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: layers.map((l) => `sha256:${sha(l)}`) } }),
    );
    const manifest = Buffer.from(
        JSON.stringify({
            schemaVersion: 2,
            mediaType: MANIFEST_TYPE,
            config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha(config)}`, size: config.length },
            layers: layers.map((l) => ({
                mediaType: "application/vnd.oci.image.layer.v1.tar",
                digest: `sha256:${sha(l)}`,
                size: l.length,
            })),
        }),
    );
    return { layers, config, manifest, digest: `sha256:${sha(manifest)}` };
}

/** What a client does with the registry, through the front, as the push account. */
export class Client {
    readonly agent: https.Agent;
    /** Answers the front gave that a client has to cope with: 503s, manifests refused for a missing blob. */
    readonly counts = { requests: 0, unavailable: 0, blobUnknown: 0, linkRace: 0 };
    private readonly auth: string;
    /** What a Location header is resolved against. */
    readonly base: string;
    constructor(private readonly target: WireTarget) {
        this.auth = `Basic ${Buffer.from(`${target.username}:${target.password}`).toString("base64")}`;
        this.base = `https://${target.servername ?? target.address}:${target.port}`;
        this.agent = new https.Agent({ keepAlive: true, ca: target.caCertPem, maxSockets: 8, servername: target.servername });
    }

    request(method: string, pathAndQuery: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
        this.counts.requests++;
        return new Promise((resolve, reject) => {
            const req = https.request(
                {
                    host: this.target.address,
                    port: this.target.port,
                    ...(this.target.servername ? { servername: this.target.servername } : {}),
                    method,
                    path: pathAndQuery,
                    agent: this.agent,
                    headers: {
                        // The site the front serves is the certificate's name, not the address connected to.
                        ...(this.target.servername ? { Host: this.target.servername } : {}),
                        Authorization: this.auth,
                        ...(body ? { "Content-Length": String(body.length) } : {}),
                        ...headers,
                    },
                },
                (res) => {
                    const chunks: Buffer[] = [];
                    res.on("data", (c: Buffer) => chunks.push(c));
                    res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
                    res.on("error", reject);
                },
            );
            req.on("error", reject);
            req.end(body);
        });
    }

    /** A request retried while the front answers 503 (the hold), as the Retry-After says, at most a minute. */
    async retrying(method: string, pathAndQuery: string, body?: Buffer, headers: Record<string, string> = {}): Promise<Answer> {
        for (let i = 0; ; i++) {
            const answer = await this.request(method, pathAndQuery, body, headers);
            if (answer.status !== 503) return answer;
            this.counts.unavailable++;
            if (i > 120) throw new Error(`${method} ${pathAndQuery}: 503 for a minute`);
            await sleep(500);
        }
    }

    /** A blob into `repo`: checked first (HEAD), uploaded when the registry says it does not have it. */
    async pushBlob(repo: string, data: Buffer): Promise<void> {
        const digest = `sha256:${sha(data)}`;
        const check = await this.request("HEAD", `/v2/${repo}/blobs/${digest}`);
        if (check.status === 200) return;
        if (check.status !== 404) throw new Error(`HEAD blob ${digest} in ${repo}: ${check.status}`);
        await this.upload(repo, data);
    }

    async upload(repo: string, data: Buffer): Promise<void> {
        const digest = `sha256:${sha(data)}`;
        const start = await this.retrying("POST", `/v2/${repo}/blobs/uploads/`);
        if (start.status !== 202) throw new Error(`POST upload in ${repo}: ${start.status} ${start.body}`);
        const location = new URL(String(start.headers.location), this.base);
        location.searchParams.set("digest", digest);
        const commit = await this.retrying("PUT", `${location.pathname}${location.search}`, data, {
            "Content-Type": "application/octet-stream",
        });
        if (commit.status !== 201) throw new Error(`PUT upload ${digest} in ${repo}: ${commit.status} ${commit.body}`);
    }

    /** A blob mounted from `from` into `repo` (uploaded when the registry does not mount it). */
    async mountBlob(repo: string, from: string, data: Buffer): Promise<void> {
        const digest = `sha256:${sha(data)}`;
        const mount = await this.retrying(
            "POST",
            `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
        );
        if (mount.status === 201) return;
        if (mount.status !== 202) throw new Error(`mount ${digest} from ${from} into ${repo}: ${mount.status} ${mount.body}`);
        const location = new URL(String(mount.headers.location), this.base);
        location.searchParams.set("digest", digest);
        const commit = await this.retrying("PUT", `${location.pathname}${location.search}`, data, {
            "Content-Type": "application/octet-stream",
        });
        if (commit.status !== 201) throw new Error(`PUT upload ${digest} in ${repo}: ${commit.status} ${commit.body}`);
    }

    /** The manifest under `tag`: true when it landed, false when it names a blob the registry does not have. */
    async putManifest(repo: string, tag: string, image: Image): Promise<boolean> {
        const put = await this.retrying("PUT", `/v2/${repo}/manifests/${tag}`, image.manifest, { "Content-Type": MANIFEST_TYPE });
        if (put.status === 201) {
            expect(put.headers["docker-content-digest"]).toBe(image.digest);
            return true;
        }
        if (put.status === 400 && /BLOB_UNKNOWN/.test(put.body.toString())) {
            this.counts.blobUnknown++;
            return false;
        }
        throw new Error(`PUT manifest ${repo}:${tag}: ${put.status} ${put.body}`);
    }

    /** A whole image pushed to `repo:tag`, started again (blobs checked again) while a manifest names a missing blob. */
    async pushImage(repo: string, tag: string, image: Image, mountFrom?: string): Promise<void> {
        for (let attempt = 0; attempt < 5; attempt++) {
            for (const blob of [...image.layers, image.config]) {
                if (mountFrom && attempt === 0) await this.mountBlob(repo, mountFrom, blob);
                else await this.pushBlob(repo, blob);
            }
            if (await this.putManifest(repo, tag, image)) return;
        }
        throw new Error(`${repo}:${tag}: a manifest naming a missing blob five times`);
    }

    async deleteImage(repo: string, image: Image): Promise<void> {
        const answer = await this.request("DELETE", `/v2/${repo}/manifests/${image.digest}`);
        if (answer.status !== 202) throw new Error(`DELETE ${repo}@${image.digest}: ${answer.status} ${answer.body}`);
    }
}
