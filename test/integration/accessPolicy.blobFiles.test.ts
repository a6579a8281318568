/**
 * Blob downloads answered by Caddy from Distribution's data directory (`blobFiles`), against the real
 * software: the answer matches Distribution's own (headers, bytes, ranges), every case the shortcut
 * cannot serve falls through to Distribution, and with Distribution stopped the linked blobs are
 * still served (so they really come from the file) while the policy still answers first. On the
 * pinned Caddy, which every placement that serves the shortcut runs (the external host, the in-cluster
 * sidecar with filesystem storage).
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { pinnedCaddy } from "../support/caddyBinaries";
import { makeOciImage, type RealRegistry, skopeoCopy, startRealRegistry } from "../support/realRegistry";
import { privateDir, type RunResult, removeDir, run, runAsync } from "../support/serverProcess";

let scratch: string;
beforeAll(() => {
    scratch = privateDir("blob-files-test");
});
afterAll(() => {
    if (scratch) removeDir(scratch);
});

interface Answer {
    readonly status: number;
    readonly headers: Record<string, string>;
    readonly body: Buffer;
    /** curl's exit code: 0, or 18 when the server closed before the promised length. */
    readonly curlCode: number;
}

interface FetchOptions {
    readonly caCertFile?: string;
    readonly method?: "GET" | "HEAD" | "DELETE";
    readonly range?: string;
    readonly account?: { username: string; password: string };
}

let fetchCount = 0;
/** curl's arguments for one request, its account (when given) in a curl config on stdin, and where its body goes. */
function curlRequest(url: string, options: FetchOptions): { args: string[]; input: string; bodyFile: string } {
    fetchCount += 1;
    const bodyFile = path.join(scratch, `body-${fetchCount}`);
    const input = options.account ? `user = "${options.account.username}:${options.account.password}"\n` : "";
    const args = [
        "-sS",
        "-D",
        "-",
        "-o",
        bodyFile,
        "--max-time",
        "60",
        "--http1.1",
        // The path exactly as written: `//`, `.` and `..` segments reach the server.
        "--path-as-is",
        ...(options.caCertFile ? ["--cacert", options.caCertFile] : []),
        ...(options.range ? ["-H", `Range: ${options.range}`] : []),
        ...(options.method === "HEAD" ? ["--head"] : ["-X", options.method ?? "GET"]),
        "-K",
        "-",
        url,
    ];
    return { args, input, bodyFile };
}

/** The answer curl printed (headers on stdout) and saved (the body). */
function answerOf(url: string, result: RunResult, bodyFile: string): Answer {
    // 18: the answer broke off in its body; 52: the connection closed before any answer.
    if (![0, 18, 52].includes(result.code)) throw new Error(`curl ${url} exited ${result.code}: ${result.stderr}`);
    const lines = result.stdout.split(/\r?\n/);
    const status = Number(/^HTTP\/\S+ (\d{3})/.exec(lines[0] ?? "")?.[1]);
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    let body = Buffer.alloc(0);
    try {
        body = readFileSync(bodyFile);
    } catch {
        // HEAD and empty answers leave no file.
    }
    return { status, headers, body, curlCode: result.code };
}

/** One request with curl. */
function fetch(url: string, options: FetchOptions = {}): Answer {
    const { args, input, bodyFile } = curlRequest(url, options);
    return answerOf(url, run("curl", args, { input }), bodyFile);
}

/** One request with curl, without blocking: several run at once. */
async function fetchAsync(url: string, options: FetchOptions = {}): Promise<Answer> {
    const { args, input, bodyFile } = curlRequest(url, options);
    return answerOf(url, await runAsync("curl", args, { input }), bodyFile);
}

const sha256 = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;
const unknownDigest = () => sha256(randomBytes(32));

/** Pushes a fresh image and returns the digests of its layer and config blobs. */
function pushImage(reg: RealRegistry, repository: string): { layer: string; config: string } {
    const image = makeOciImage(path.join(scratch, `image-${randomBytes(4).toString("hex")}`), 64 * 1024);
    const pushed = skopeoCopy(image.ref, `docker://${reg.authority}/${repository}:1`, { certDir: reg.certDir, creds: reg.push });
    if (pushed.code !== 0) throw new Error(`push failed: ${pushed.stderr}`);
    const index = JSON.parse(readFileSync(path.join(image.dir, "index.json"), "utf8"));
    const manifestDigest: string = index.manifests[0].digest;
    const manifest = JSON.parse(readFileSync(path.join(image.dir, "blobs", ...manifestDigest.split(":")), "utf8"));
    return { layer: manifest.layers[0].digest, config: manifest.config.digest };
}

/** Writes a blob and its layer link straight into the data directory, as Distribution lays them out. */
function plantBlob(reg: RealRegistry, repository: string): string {
    const data = randomBytes(4096);
    const digest = sha256(data);
    const hex = digest.slice("sha256:".length);
    const v2 = path.join(reg.dataDir, "docker/registry/v2");
    const blobDir = path.join(v2, "blobs/sha256", hex.slice(0, 2), hex);
    const linkDir = path.join(v2, "repositories", repository, "_layers/sha256", hex);
    mkdirSync(blobDir, { recursive: true });
    mkdirSync(linkDir, { recursive: true });
    writeFileSync(path.join(blobDir, "data"), data);
    writeFileSync(path.join(linkDir, "link"), digest);
    return digest;
}

describe("with Distribution running, the shortcut answers as Distribution does", () => {
    let reg: RealRegistry;
    let blobs: { layer: string; config: string };
    let other: { layer: string; config: string };
    const viaCaddy = (urlPath: string, options: FetchOptions = {}): Answer =>
        fetch(`${reg.url}${urlPath}`, { ...options, caCertFile: reg.ca.caCertFile });
    const direct = (urlPath: string, options: FetchOptions = {}): Answer =>
        fetch(`http://127.0.0.1:${reg.registryPort}${urlPath}`, options);

    beforeAll(async () => {
        reg = await startRealRegistry({ caddyBinary: pinnedCaddy() });
        blobs = pushImage(reg, "team/app");
        other = pushImage(reg, "team/other");
    });
    afterAll(async () => {
        await reg?.stop();
    });

    test("the Caddyfile carries the shortcut", () => {
        expect(reg.caddyfile).toContain("route @blob");
        expect(reg.caddyfile).toContain(`root ${reg.dataDir}/docker/registry/v2/blobs`);
    });

    test.each(["GET", "HEAD"] as const)("%s of a linked blob: same status, headers and bytes", (method) => {
        const urlPath = `/v2/team/app/blobs/${blobs.layer}`;
        const mine = viaCaddy(urlPath, { method });
        const theirs = direct(urlPath, { method });
        expect(mine.status).toBe(200);
        for (const header of ["docker-content-digest", "content-type", "content-length", "cache-control", "accept-ranges"]) {
            expect([header, mine.headers[header]]).toEqual([header, theirs.headers[header]]);
        }
        expect(mine.headers["docker-content-digest"]).toBe(blobs.layer);
        if (method === "GET") expect(sha256(mine.body)).toBe(blobs.layer);
    });

    test("a range request answers 206 with the same bytes", () => {
        const urlPath = `/v2/team/app/blobs/${blobs.config}`;
        const mine = viaCaddy(urlPath, { range: "bytes=10-99" });
        const theirs = direct(urlPath, { range: "bytes=10-99" });
        expect(mine.status).toBe(206);
        expect(mine.body.length).toBe(90);
        expect(mine.body.equals(theirs.body)).toBe(true);
        expect(mine.headers["content-range"]).toBe(theirs.headers["content-range"]);
    });

    test.each([
        ["an unknown digest", (): string => `/v2/team/app/blobs/${unknownDigest()}`],
        ["a blob of another repository (not linked here)", (): string => `/v2/team/app/blobs/${other.layer}`],
        ["a repository that does not exist", (): string => `/v2/team/nothing/blobs/${blobs.layer}`],
        ["a digest with upper-case hex", (): string => `/v2/team/app/blobs/${blobs.layer.toUpperCase().replace("SHA256", "sha256")}`],
    ])("%s falls through to Distribution's own answer", (_name, urlPathOf) => {
        const urlPath = urlPathOf();
        const mine = viaCaddy(urlPath);
        const theirs = direct(urlPath);
        expect(mine.status).toBe(theirs.status);
        expect(mine.status).toBeGreaterThanOrEqual(400);
        expect(mine.body.toString()).toBe(theirs.body.toString());
    });

    /** The same blob of team/app, named by every path form a client (or an attacker) can send. */
    const PATH_FORMS: readonly (readonly [string, (digest: string) => string])[] = [
        ["canonical", (d) => `/v2/team/app/blobs/${d}`],
        ["//v2//", (d) => `//v2//team/app/blobs/${d}`],
        ["/v2/./", (d) => `/v2/./team/app/blobs/${d}`],
        ["/v2/x/../", (d) => `/v2/x/../team/app/blobs/${d}`],
        ["a doubled slash inside the name", (d) => `/v2/team//app/blobs/${d}`],
        ["a . before the digest", (d) => `/v2/team/app/blobs/./${d}`],
        ["an encoded slash in the name", (d) => `/v2/team%2Fapp/blobs/${d}`],
        ["a double-encoded slash in the name", (d) => `/v2/team%252Fapp/blobs/${d}`],
        ["an encoded letter in the name", (d) => `/v2/te%61m/app/blobs/${d}`],
        ["a trailing slash", (d) => `/v2/team/app/blobs/${d}/`],
        ["the uploads directory", (d) => `/v2/team/app/_uploads/${d}`],
    ];

    test.each(PATH_FORMS.flatMap(([name, form]) => (["GET", "HEAD"] as const).map((method) => [name, method, form] as const)))(
        "path form %s (%s): the front answers with Distribution's status and Location",
        (_name, method, form) => {
            const urlPath = form(blobs.layer);
            const mine = viaCaddy(urlPath, { method });
            const theirs = direct(urlPath, { method });
            expect([mine.status, mine.headers.location]).toEqual([theirs.status, theirs.headers.location]);
        },
    );

    test("a blob whose data was removed while its link stayed (as after garbage collection) gets Distribution's answer", () => {
        const gone = pushImage(reg, "team/collected");
        const hex = gone.layer.slice("sha256:".length);
        rmSync(path.join(reg.dataDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data"));
        const urlPath = `/v2/team/collected/blobs/${gone.layer}`;
        const mine = viaCaddy(urlPath);
        const theirs = direct(urlPath);
        // Distribution's blob-descriptor cache still lists the blob (distribution#3743): it answers 200
        // and breaks off. What matters here is that the answer is Distribution's (its ETag is the digest),
        // never the shortcut's.
        expect(theirs.curlCode).toBe(18);
        if (mine.curlCode === 52) {
            // Caddy 2.8 drops an upstream answer that breaks off before it has passed the headers on,
            // and closes the connection: the client fails as it does against Distribution, with nothing.
            expect([mine.status, mine.body.length]).toEqual([Number.NaN, 0]);
        } else {
            expect(mine.status).toBe(theirs.status);
            expect(mine.headers.etag).toBe(`"${gone.layer}"`);
            expect(mine.curlCode).toBe(theirs.curlCode);
            expect(mine.body.length).toBe(theirs.body.length);
        }
    });

    test("the file answer is not Distribution's (its ETag is not the digest)", () => {
        const mine = viaCaddy(`/v2/team/app/blobs/${blobs.layer}`, { method: "HEAD" });
        expect(mine.headers.etag).toBeDefined();
        expect(mine.headers.etag).not.toBe(`"${blobs.layer}"`);
    });
});

describe("with Distribution stopped, only linked blobs are answered, and only after the policy", () => {
    let reg: RealRegistry;
    let blobs: { layer: string; config: string };
    let other: { layer: string; config: string };
    let authReg: RealRegistry;
    let authBlobs: { layer: string; config: string };
    /** The answers to the requests that go to the proxy, asked at once in `beforeAll`, by case. */
    let proxied: Map<string, Answer>;
    const PROXIED = [
        ["an unknown digest", (): string => `/v2/team/app/blobs/${unknownDigest()}`, "GET"],
        ["a blob of another repository", (): string => `/v2/team/app/blobs/${other.layer}`, "GET"],
        ["a manifest", (): string => "/v2/team/app/manifests/1", "GET"],
        ["a DELETE of a linked blob", (): string => `/v2/team/app/blobs/${blobs.layer}`, "DELETE"],
    ] as const;
    const NAMED_THROUGH = ["//v2//", "/v2/./", "/v2/x/../", "/v2/team//"] as const;
    const linkedBlobThrough = (prefix: string) => `${prefix}${prefix.endsWith("team//") ? "" : "team/"}app/blobs/${blobs.layer}`;
    const viaCaddy = (r: RealRegistry, urlPath: string, options: FetchOptions = {}): Answer =>
        fetch(`${r.url}${urlPath}`, { ...options, caCertFile: r.ca.caCertFile });

    beforeAll(async () => {
        reg = await startRealRegistry({ caddyBinary: pinnedCaddy(), policy: { deletesEnabled: true } });
        blobs = pushImage(reg, "team/app");
        other = pushImage(reg, "team/other");
        await reg.stopDistribution();
        authReg = await startRealRegistry({ caddyBinary: pinnedCaddy(), policy: { requiresAuthForPull: true } });
        authBlobs = pushImage(authReg, "team/app");
        await authReg.stopDistribution();
        // Each request the proxy takes waits out its retry window (20 s) before the 502: all of them at
        // once, each test below then judges its own answer.
        const asked = await Promise.all(
            PROXIED.map(async ([name, urlPathOf, method]) => {
                const answer = await fetchAsync(`${reg.url}${urlPathOf()}`, {
                    method,
                    account: reg.push,
                    caCertFile: reg.ca.caCertFile,
                });
                return [name, answer] as const;
            }),
        );
        const named = await Promise.all(
            NAMED_THROUGH.map(
                async (prefix) =>
                    [prefix, await fetchAsync(`${reg.url}${linkedBlobThrough(prefix)}`, { caCertFile: reg.ca.caCertFile })] as const,
            ),
        );
        proxied = new Map([...asked, ...named]);
    });
    afterAll(async () => {
        await reg?.stop();
        await authReg?.stop();
    });

    test("a linked blob is served from the file", () => {
        const answer = viaCaddy(reg, `/v2/team/app/blobs/${blobs.layer}`);
        expect(answer.status).toBe(200);
        expect(sha256(answer.body)).toBe(blobs.layer);
        expect(answer.headers["docker-content-digest"]).toBe(blobs.layer);
    });

    test.each(PROXIED.map(([name]) => name))("%s goes to the proxy (502 while Distribution is down)", (name) => {
        expect(proxied.get(name)?.status).toBe(502);
    });

    test.each(NAMED_THROUGH)("a linked blob named through %s is never served from the file (502 while Distribution is down)", (prefix) => {
        expect(proxied.get(prefix)?.status).toBe(502);
    });

    test.each([
        ["anonymous", undefined, 401],
        ["the pull account", "pull", 200],
    ] as const)("requiresAuthForPull: a blob GET by %s answers %d", (_name, who, expected) => {
        const answer = viaCaddy(authReg, `/v2/team/app/blobs/${authBlobs.layer}`, {
            account: who === "pull" ? authReg.pull : undefined,
        });
        expect(answer.status).toBe(expected);
        if (expected === 200) expect(sha256(answer.body)).toBe(authBlobs.layer);
    });

    test("a blob placed in the data directory the way Distribution lays it out is served", () => {
        const digest = plantBlob(reg, "team/planted");
        const answer = viaCaddy(reg, `/v2/team/planted/blobs/${digest}`);
        expect(answer.status).toBe(200);
        expect(sha256(answer.body)).toBe(digest);
    });

    test("the allowlist refuses a blob GET from another network before the shortcut", async () => {
        const fenced = await startRealRegistry({ caddyBinary: pinnedCaddy(), policy: { allowedNetworks: ["10.0.0.0/8"] } });
        try {
            const digest = plantBlob(fenced, "team/app");
            expect(fenced.caddyfile).toContain("route @blob");
            expect(viaCaddy(fenced, `/v2/team/app/blobs/${digest}`).status).toBe(403);
        } finally {
            await fenced.stop();
        }
    });
});
