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

/** An image a client put under a tag in a repository. */
export interface Landed {
    readonly repo: string;
    readonly tag: string;
    readonly image: Image;
}

/**
 * Client loops that run side by side until `stop`: each named body runs again and again with its round's
 * number, a pause between rounds (300 ms: hundreds of rounds, not thousands, so that reading every image
 * back stays within minutes and the test files beside leave the cores their share). `rounds` counts each.
 */
export function clientLoops<K extends string>(bodies: Record<K, (i: number) => Promise<void>>, pauseMs = 300) {
    let stopped = false;
    const rounds = Object.fromEntries(Object.keys(bodies).map((k) => [k, 0])) as Record<K, number>;
    const running = Promise.all(
        (Object.entries(bodies) as [K, (i: number) => Promise<void>][]).map(async ([what, body]) => {
            for (let i = 0; !stopped; i++) {
                await body(i);
                rounds[what]++;
                await sleep(pauseMs);
            }
        }),
    );
    return {
        rounds,
        /** Ends every loop after its round under way; rejects with a loop's failure. */
        stop: async () => {
            stopped = true;
            await running;
        },
    };
}

/** A random one of `list`. */
export const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)] as T;

/** The pusher's round: a new image (`fresh`) into one of `repos` repositories, recorded in `landed`. */
export const pushRound = (client: Client, landed: Landed[], fresh: () => Image, repos: number) => async (i: number) => {
    const image = fresh();
    const repo = `loop/push-${i % repos}`;
    await client.pushImage(repo, `p${i}`, image);
    landed.push({ repo, tag: `p${i}`, image });
};

/** The mounter's round: an image already put, its blobs mounted into one of `repos` repositories and its manifest put there. */
export const mountRound = (client: Client, landed: Landed[], repos: number) => async (i: number) => {
    const from = pick(landed);
    const repo = `loop/mount-${i % repos}`;
    await client.pushImage(repo, `m${i}`, from.image, from.repo);
    landed.push({ repo, tag: `m${i}`, image: from.image });
};

/**
 * Every image in `landed` read back through the front, eight requests at a time: its manifest by its tag, and
 * every blob of it (once per repository) whole. Returns how many blobs it read.
 */
export async function readBackWhole(client: Client, landed: readonly Landed[]): Promise<number> {
    const blobsToRead = new Map<string, Buffer>();
    for (const l of landed) {
        for (const blob of [...l.image.layers, l.image.config]) blobsToRead.set(`${l.repo}@sha256:${sha(blob)}`, blob);
    }
    const reads: (() => Promise<void>)[] = [
        ...landed.map((l) => async () => {
            const got = await client.request("GET", `/v2/${l.repo}/manifests/${l.tag}`, undefined, { Accept: MANIFEST_TYPE });
            expect(got.status, `${l.repo}:${l.tag}`).toBe(200);
            expect(sha(got.body)).toBe(l.image.digest.slice(7));
        }),
        ...[...blobsToRead].map(([key, blob]) => async () => {
            const [repo, digest] = key.split("@") as [string, string];
            const b = await client.request("GET", `/v2/${repo}/blobs/${digest}`);
            expect(b.status, `${repo} blob ${digest}`).toBe(200);
            expect(sha(b.body)).toBe(sha(blob));
        }),
    ];
    await Promise.all(
        Array.from({ length: 8 }, async () => {
            for (let read = reads.pop(); read; read = reads.pop()) await read();
        }),
    );
    return blobsToRead.size;
}

/**
 * Requests the front must hold: none is answered within `holdMs`; then `release` runs (it may check that other
 * requests go on meanwhile), and each is answered, no sooner than `holdMs` after the start. The answers, by name.
 */
export async function heldUntilReleased<K extends string>(
    waiting: Readonly<Record<K, Promise<Answer>>>,
    holdMs: number,
    release: () => Promise<void> | void,
): Promise<Record<K, Answer>> {
    const started = Date.now();
    const landed: Partial<Record<K, number>> = {};
    const names = Object.keys(waiting) as K[];
    for (const name of names)
        void waiting[name].then(() => {
            landed[name] = Date.now();
        });
    await sleep(holdMs);
    expect(landed, "answered while held").toEqual({});
    await release();
    const answers = {} as Record<K, Answer>;
    for (const name of names) {
        answers[name] = await waiting[name];
        expect(
            (landed[name] ?? 0) - started,
            `${name}: answered ${(landed[name] ?? 0) - started} ms after the start`,
        ).toBeGreaterThanOrEqual(holdMs);
    }
    return answers;
}
