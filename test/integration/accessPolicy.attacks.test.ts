/**
 * The attacks on the front as a table, each row a request against real Caddy and real Distribution
 * from the rendered files (test/support/realRegistry.ts), in both placements' shapes: the external
 * host's site (TLS, HTTP/1.1 only: `HOST_FRONT_CONNECTIONS`) and the in-cluster sidecar's (plain HTTP behind the ingress), on
 * the pinned Caddy every placement runs. The window's rows are in readOnlyWindow.inFlight.test.ts,
 * the former TCP port's in externalRegistryHost.scripts.test.ts.
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";
import * as bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MAX_AUTHORIZATION_LENGTH, READ_HEADER_SECONDS, renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { UNREAD_BODY_SECONDS } from "../../components/accessPolicy/caddyfile/limits";
import type { AccessPolicy } from "../../components/accessPolicy/policy";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { HOST_FRONT_CONNECTIONS } from "../../components/externalHost/caddySite";
import { renderSidecarCaddyfile } from "../../components/inCluster/sidecarFront";
import { BASE_POLICY } from "../support/accessPolicy";
import { pinnedCaddy } from "../support/caddyBinaries";
import {
    caddyValidate,
    makeAccount,
    makeDecoyHash,
    makeOciImage,
    type RealRegistry,
    type RealRegistryOptions,
    startRealRegistry,
} from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

const SHAPES = [
    {
        placement: "external host",
        scheme: "https",
        caddyfileFor: (p: AccessPolicy) => renderCaddyfile({ ...p, ...HOST_FRONT_CONNECTIONS }),
    },
    {
        placement: "in-cluster sidecar",
        scheme: "http",
        caddyfileFor: (p: AccessPolicy) => renderSidecarCaddyfile({ ...p, tls: { kind: "plain-http" } }),
    },
] as const;

interface Answer {
    readonly status: number;
    readonly headers: string;
    readonly body: string;
}

const basic = (user: string, password: string) => Buffer.from(`${user}:${password}`).toString("base64");

/**
 * The rapid-reset attack's streams on one connection: far more than the 250 handlers Go's HTTP/2
 * server with the fix runs at once, and few enough that a front without it, which checks all their
 * passwords at once, does not hold the machine for long.
 */
const RAPID_RESET_STREAMS = 2000;

/** The HTTP/2 frame types (RFC 9113 §6) the attack writes. */
const H2_FRAME = { headers: 0x1, rstStream: 0x3, settings: 0x4 } as const;

/** One HTTP/2 frame: its 9-octet header, then the payload. */
function h2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head.writeUInt8(type, 3);
    head.writeUInt8(flags, 4);
    head.writeUInt32BE(streamId, 5);
    return Buffer.concat([head, payload]);
}

/** An HPACK string literal without Huffman coding: its length as an integer on a 7-bit prefix (RFC 7541 §5.1), then its octets. */
function hpackString(text: string): Buffer {
    const octets = Buffer.from(text, "latin1");
    const length: number[] = [];
    let rest = octets.length;
    if (rest < 0x7f) length.push(rest);
    else {
        length.push(0x7f);
        for (rest -= 0x7f; rest >= 0x80; rest = Math.floor(rest / 0x80)) length.push((rest % 0x80) | 0x80);
        length.push(rest);
    }
    return Buffer.concat([Buffer.from(length), octets]);
}

/** A header block of literal fields never indexed, each with its name spelt out (RFC 7541 §6.2.3): the block needs no table. */
function hpackBlock(fields: readonly (readonly [string, string])[]): Buffer {
    return Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0x10]), hpackString(name), hpackString(value)]));
}

/**
 * The HTTP/2 rapid-reset attack (CVE-2023-44487) on one connection: `streams` requests that each cost
 * the front a bcrypt check (an upload as the push account, with a new wrong password each, so that no
 * answer comes from Caddy's cache), each cancelled with RST_STREAM right after its HEADERS, all in one
 * write, as the attack sends them. A server without the fix starts a handler for every one at once;
 * with it, a cancelled stream's handler waits for one of the 250 to finish, and is dropped. Runs
 * `meanwhile` while the server works through the streams, then closes the connection; returns the
 * protocol ALPN chose.
 */
async function rapidReset(reg: RealRegistry, streams: number, meanwhile: () => Promise<void>): Promise<string | false> {
    const [host, port] = reg.authority.split(":") as [string, string];
    const frames = [Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), h2Frame(H2_FRAME.settings, 0, 0)];
    for (let i = 0; i < streams; i++) {
        const id = 2 * i + 1;
        const request = hpackBlock([
            [":method", "POST"],
            [":scheme", "https"],
            [":authority", reg.authority],
            [":path", "/v2/team/x/blobs/uploads/"],
            ["authorization", `Basic ${basic(reg.push.username, randomBytes(12).toString("hex"))}`],
        ]);
        const endStreamAndHeaders = 0x1 | 0x4;
        const cancel = Buffer.from([0, 0, 0, http2.constants.NGHTTP2_CANCEL]);
        frames.push(h2Frame(H2_FRAME.headers, endStreamAndHeaders, id, request), h2Frame(H2_FRAME.rstStream, 0, id, cancel));
    }
    const socket = tls.connect({ host, port: Number(port), ca: readFileSync(reg.ca.caCertFile), ALPNProtocols: ["h2", "http/1.1"] });
    await once(socket, "secureConnect");
    const alpn = socket.alpnProtocol ?? false;
    try {
        if (alpn !== "h2") return alpn;
        // The server's frames are not read (a GOAWAY may come, or not: it depends on how fast the server
        // reads the streams against how fast its handlers finish); a close while writing is no failure.
        socket.on("error", () => undefined);
        socket.resume();
        socket.write(Buffer.concat(frames));
        await meanwhile();
        return alpn;
    } finally {
        socket.destroy();
    }
}

describe.each(SHAPES)("$placement: the attacks", ({ scheme, caddyfileFor }) => {
    let scratch: string;
    const started: RealRegistry[] = [];
    const start = async (options: RealRegistryOptions = {}) => {
        const reg = await startRealRegistry({ ...options, caddyfileFor, caddyBinary: pinnedCaddy() });
        started.push(reg);
        return reg;
    };
    let open: RealRegistry;
    let closed: RealRegistry;
    let fenced: RealRegistry;
    /** Caches that need an account (the default without an allowlist), and caches opened with `mirrorPull: anonymous`. */
    let cachesForAccounts: RealRegistry;
    let cachesForAnyone: RealRegistry;
    /** A push account scoped to `team/a/` beside the unscoped one (accessPolicy.scopes.test.ts has the full table). */
    let scoped: RealRegistry;
    let blobOfB = "";

    /** One request as sent (path as is, headers as given); the body of a PATCH or PUT is a few bytes. */
    function send(reg: RealRegistry, method: string, urlPath: string, headers: readonly string[] = [], body?: string): Answer {
        const url = urlPath.startsWith("http") ? urlPath : `${scheme}://${reg.authority}${urlPath}`;
        const r = run("curl", [
            "-sS",
            "--path-as-is",
            "--cacert",
            reg.ca.caCertFile,
            "-D",
            "-",
            "-X",
            method,
            ...headers.flatMap((h) => ["-H", h]),
            ...(body === undefined ? [] : ["--data-binary", body]),
            url,
        ]);
        const [head = "", ...rest] = r.stdout.split(/\r?\n\r?\n/);
        return { status: Number(/^HTTP\/\S+ (\d{3})/.exec(head)?.[1]), headers: head, body: rest.join("\n\n") };
    }

    /** The status line's code of a GET /v2/ with this Authorization value, sent over a socket of our own. */
    function rawStatus(reg: RealRegistry, authorization: string): Promise<number> {
        const [host, port] = reg.authority.split(":") as [string, string];
        return new Promise((resolve, reject) => {
            const onConnect = () =>
                socket.end(`GET /v2/ HTTP/1.1\r\nHost: ${reg.authority}\r\nAuthorization: ${authorization}\r\nConnection: close\r\n\r\n`);
            const socket =
                scheme === "https"
                    ? tls.connect({ host, port: Number(port), ca: readFileSync(reg.ca.caCertFile), servername: host }, onConnect)
                    : net.connect({ host, port: Number(port) }, onConnect);
            let answer = "";
            socket.on("data", (chunk) => {
                answer += chunk.toString("latin1");
            });
            // The server may answer and close before it has read the whole request: the answer counts.
            socket.on("error", (e) => (answer ? undefined : reject(e)));
            socket.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1])));
        });
    }

    /**
     * Sends `GET /v2/`'s request line, then `lines` one every `intervalMs` (all at once with 0), then the
     * blank line that ends the head; stops sending when the front closes the connection. Reports whether
     * the front closed it before the head was complete, how many lines went, and what it answered.
     */
    async function slowHead(
        reg: RealRegistry,
        lines: readonly string[],
        intervalMs: number,
    ): Promise<{ closedByFront: boolean; linesSent: number; answer: string }> {
        const [host, port] = reg.authority.split(":") as [string, string];
        const socket =
            scheme === "https"
                ? tls.connect({ host, port: Number(port), ca: readFileSync(reg.ca.caCertFile), servername: host })
                : net.connect({ host, port: Number(port) });
        await once(socket, scheme === "https" ? "secureConnect" : "connect");
        let answer = "";
        let closed = false;
        socket.on("data", (d) => {
            answer += d.toString("latin1");
        });
        socket.on("error", () => undefined);
        const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
        void ended.then(() => {
            closed = true;
        });
        socket.write(`GET /v2/ HTTP/1.1\r\nHost: ${reg.authority}\r\n`);
        let linesSent = 0;
        for (const line of lines) {
            if (closed) break;
            socket.write(`${line}\r\n`);
            linesSent++;
            if (intervalMs > 0) await new Promise((r) => setTimeout(r, intervalMs));
        }
        const closedByFront =
            closed || (await Promise.race([ended.then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]));
        if (!closed) socket.end("\r\n");
        await Promise.race([ended, new Promise((r) => setTimeout(r, 5000))]);
        socket.destroy();
        return { closedByFront: closedByFront === true, linesSent, answer };
    }

    /**
     * Sends a write's head with a chunked body, its first chunk, then nothing more for up to `stallMs`
     * (or, with `rest`, the rest of the body after `pauseMs`). Reports the answer, when it came and how long
     * the front kept the connection open after it (undefined: still open when the stall ended).
     */
    async function chunkedWrite(
        reg: RealRegistry,
        method: string,
        urlPath: string,
        headers: readonly string[],
        o: { readonly stallMs: number; readonly pauseMs?: number },
    ): Promise<{ answer: string; answeredMs?: number; openAfterAnswerMs?: number }> {
        const [host, port] = reg.authority.split(":") as [string, string];
        const socket =
            scheme === "https"
                ? tls.connect({ host, port: Number(port), ca: readFileSync(reg.ca.caCertFile), servername: host })
                : net.connect({ host, port: Number(port) });
        await once(socket, scheme === "https" ? "secureConnect" : "connect");
        const started = performance.now();
        let answer = "";
        let answeredAt: number | undefined;
        socket.on("data", (d) => {
            answeredAt ??= performance.now();
            answer += d.toString("latin1");
        });
        socket.on("error", () => undefined);
        const ended = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now())));
        const head = [`${method} ${urlPath} HTTP/1.1`, `Host: ${reg.authority}`, "Transfer-Encoding: chunked", ...headers];
        socket.write(`${head.join("\r\n")}\r\n\r\n4\r\nabcd\r\n`);
        if (o.pauseMs !== undefined) {
            await new Promise((r) => setTimeout(r, o.pauseMs));
            if (!socket.destroyed) socket.write("4\r\nefgh\r\n0\r\n\r\n");
        }
        const closedAt = await Promise.race([ended, new Promise<undefined>((r) => setTimeout(r, o.stallMs))]);
        socket.destroy();
        return {
            answer,
            ...(answeredAt === undefined ? {} : { answeredMs: answeredAt - started }),
            ...(closedAt === undefined || answeredAt === undefined ? {} : { openAfterAnswerMs: closedAt - answeredAt }),
        };
    }

    /** Starts an upload as the push account; returns its location as the client would use it. */
    function pushersUpload(reg: RealRegistry, repository: string): string {
        const a = send(reg, "POST", `/v2/${repository}/blobs/uploads/`, [
            `Authorization: Basic ${basic(reg.push.username, reg.push.password)}`,
        ]);
        expect(a.status).toBe(202);
        const location = /^location:\s*(\S+)/im.exec(a.headers)?.[1] ?? "";
        return location.startsWith("http") ? location : `${scheme}://${reg.authority}${location}`;
    }

    beforeAll(async () => {
        scratch = privateDir("attacks");
        open = await start({ policy: { deletesEnabled: false } });
        closed = await start({ policy: { requiresAuthForPull: true } });
        fenced = await start({ policy: { allowedNetworks: ["10.0.0.0/8"] } });
        cachesForAccounts = await start({ policy: { mirrorsRequireAuth: true }, mirrorsToSelf: ["docker.io"] });
        cachesForAnyone = await start({ policy: { mirrorsRequireAuth: false }, mirrorsToSelf: ["docker.io"] });
        scoped = await start({ policy: { deletesEnabled: true }, scopedPushAccounts: [{ username: "team-a-ci", prefixes: ["team/a/"] }] });
        const image = makeOciImage(path.join(scratch, "image"), 8192);
        // The images are placed behind the front (the setup is not under test).
        for (const [reg, ref] of [
            [open, "team/b:1"],
            [closed, "team/app:1"],
            [cachesForAccounts, "library/app:1"],
            [cachesForAnyone, "library/app:1"],
        ] as const) {
            const r = run("skopeo", [
                "--insecure-policy",
                "copy",
                "--retry-times",
                "0",
                "--dest-tls-verify=false",
                image.ref,
                `docker://127.0.0.1:${reg.registryPort}/${ref}`,
            ]);
            if (r.code !== 0) throw new Error(r.stderr);
        }
        const manifest = JSON.parse(
            send(open, "GET", "/v2/team/b/manifests/1", ["Accept: application/vnd.oci.image.manifest.v1+json"]).body,
        );
        blobOfB = manifest.layers[0].digest;
    }, 180_000);
    afterAll(async () => {
        for (const reg of started) await reg.stop();
        if (scratch) removeDir(scratch);
    });

    test.each([
        ["POST an upload into team B", "POST", "/v2/team/b/app/blobs/uploads/"],
        ["POST a mount into team B", "POST", `/v2/team/b/app/blobs/uploads/?mount=sha256:${"0".repeat(64)}&from=team/a/app`],
        ["PUT a manifest in team B", "PUT", "/v2/team/b/app/manifests/1"],
        ["DELETE a manifest in team B", "DELETE", `/v2/team/b/app/manifests/sha256:${"0".repeat(64)}`],
        ["POST an upload through team A with an encoded ../", "POST", "/v2/team/a/..%2Fb/app/blobs/uploads/"],
        ["POST an upload to a prefix that only starts alike", "POST", "/v2/team/ab/app/blobs/uploads/"],
        [
            "GET a push token for team B",
            "GET",
            `/v2/token?service=dso-registry&scope=${encodeURIComponent("repository:team/b/app:pull,push")}`,
        ],
    ])("the account scoped to team/a/, %s: 403", (_name, method, urlPath) => {
        const account = scoped.scoped[0]!;
        const a = send(
            scoped,
            method,
            urlPath,
            [`Authorization: Basic ${basic(account.username, account.password)}`],
            method === "PUT" ? "{}" : undefined,
        );
        expect(a.status).toBe(403);
        expect(a.body).toContain("DENIED");
    });

    test("the account scoped to team/a/ starts an upload in team A: 202; the unscoped push account in team B: 202", () => {
        const account = scoped.scoped[0]!;
        expect(
            send(scoped, "POST", "/v2/team/a/app/blobs/uploads/", [`Authorization: Basic ${basic(account.username, account.password)}`])
                .status,
        ).toBe(202);
        expect(
            send(scoped, "POST", "/v2/team/b/app/blobs/uploads/", [
                `Authorization: Basic ${basic(scoped.push.username, scoped.push.password)}`,
            ]).status,
        ).toBe(202);
    });

    test("POST an upload with Bearer base64(pull:password): 401", () => {
        const token = basic(open.pull.username, open.pull.password);
        expect(send(open, "POST", "/v2/team/x/blobs/uploads/", [`Authorization: Bearer ${token}`]).status).toBe(401);
    });

    test.each([
        ["anonymous token first", true],
        ["pull credentials first", false],
    ])(
        "POST an upload with both Bearer anonymous-read-only and Basic <pull> (%s): refused (400, two Authorization values)",
        (_name, anonymousFirst) => {
            const headers = [
                "Authorization: Bearer anonymous-read-only",
                `Authorization: Basic ${basic(open.pull.username, open.pull.password)}`,
            ];
            expect(send(open, "POST", "/v2/team/x/blobs/uploads/", anonymousFirst ? headers : [...headers].reverse()).status).toBe(400);
        },
    );

    test("anonymous PATCH, then PUT ?digest=, on an upload the push account started: 401, 401", () => {
        const location = pushersUpload(open, "team/victim");
        expect(send(open, "PATCH", location, [], "stolen").status).toBe(401);
        const sep = location.includes("?") ? "&" : "?";
        const digest = `sha256:${"0".repeat(64)}`;
        expect(send(open, "PUT", `${location}${sep}digest=${digest}`, [], "stolen").status).toBe(401);
    });

    test.each([
        ["anonymous", [] as string[]],
        ["the pull account", ["pull"]],
    ])("%s POST ?mount=<blob of B>&from=B: 401", (_name, who) => {
        const headers = who.length ? [`Authorization: Basic ${basic(open.pull.username, open.pull.password)}`] : [];
        expect(send(open, "POST", `/v2/team/a/blobs/uploads/?mount=${blobOfB}&from=team/b`, headers).status).toBe(401);
    });

    test.each(["DELETE", "delete"])("the push account %s on a manifest with deletes disabled: 405", (method) => {
        const push = `Authorization: Basic ${basic(open.push.username, open.push.password)}`;
        expect(send(open, method, "/v2/team/b/manifests/1", [push]).status).toBe(405);
    });

    test("GET a blob of repository B through repository A, which does not link it: 404 BLOB_UNKNOWN", () => {
        const a = send(open, "GET", `/v2/team/a/blobs/${blobOfB}`);
        expect(a.status).toBe(404);
        expect(a.body).toContain("BLOB_UNKNOWN");
    });

    test.each([
        ["//v2/", "//v2/team/app/blobs/"],
        ["/v2/x/../", "/v2/x/../team/app/blobs/"],
        ["Bearer anonymous-read-only", "/v2/team/app/blobs/"],
    ])("requiresAuthForPull: anonymous blob GET via %s: 401", (name, prefix) => {
        const manifest = JSON.parse(
            send(closed, "GET", "/v2/team/app/manifests/1", [
                "Accept: application/vnd.oci.image.manifest.v1+json",
                `Authorization: Basic ${basic(closed.pull.username, closed.pull.password)}`,
            ]).body,
        );
        const headers = name.startsWith("Bearer") ? ["Authorization: Bearer anonymous-read-only"] : [];
        expect(send(closed, "GET", `${prefix}${manifest.layers[0].digest}`, headers).status).toBe(401);
    });

    test("allowlist: a blob GET from outside with X-Forwarded-For set to an allowed address: 403", () => {
        const digest = `sha256:${randomBytes(32).toString("hex")}`;
        expect(send(fenced, "GET", `/v2/team/app/blobs/${digest}`, ["X-Forwarded-For: 10.1.2.3", "X-Real-IP: 10.1.2.3"]).status).toBe(403);
    });

    test("caches (mirrorPull accounts, the default without an allowlist): anonymous pull through a cache 401, the pull account's 200, the registry's own reads stay anonymous", () => {
        const accept = "Accept: application/vnd.oci.image.manifest.v1+json";
        const cached = "/v2/mirrors/docker.io/library/app/manifests/1";
        const anonymous = send(cachesForAccounts, "GET", cached, [accept]);
        expect(anonymous.status).toBe(401);
        expect(anonymous.headers).toMatch(/www-authenticate: Bearer realm=/i);
        expect(send(cachesForAccounts, "GET", cached, [accept, "Authorization: Bearer anonymous-read-only"]).status).toBe(401);
        const pull = basic(cachesForAccounts.pull.username, cachesForAccounts.pull.password);
        expect(send(cachesForAccounts, "GET", cached, [accept, `Authorization: Basic ${pull}`]).status).toBe(200);
        expect(send(cachesForAccounts, "GET", cached, [accept, `Authorization: Bearer ${pull}`]).status).toBe(200);
        expect(send(cachesForAccounts, "GET", cached, [accept, `Authorization: Basic ${basic("nobody", "guess")}`]).status).toBe(401);
        expect(send(cachesForAccounts, "GET", "/v2/library/app/manifests/1", [accept]).status).toBe(200);
    });

    test("caches (mirrorPull anonymous, as the operator says): anonymous pull through a cache 200", () => {
        const accept = "Accept: application/vnd.oci.image.manifest.v1+json";
        expect(send(cachesForAnyone, "GET", "/v2/mirrors/docker.io/library/app/manifests/1", [accept]).status).toBe(200);
    });

    test("an unknown user's failed login is answered like a known user's (401 with the challenge)", () => {
        const known = send(open, "GET", "/v2/", [`Authorization: Basic ${basic(open.push.username, "wrong")}`]);
        const unknown = send(open, "GET", "/v2/", [`Authorization: Basic ${basic("nobody", "wrong")}`]);
        expect([unknown.status, /www-authenticate: .*/i.exec(unknown.headers)?.[0]]).toEqual([
            known.status,
            /www-authenticate: .*/i.exec(known.headers)?.[0],
        ]);
        expect(known.status).toBe(401);
        // The realm names the configured host whatever Host the request carried.
        const forged = send(open, "GET", "/v2/", ["Host: evil.example"]);
        expect(forged.headers).not.toContain("evil.example");
    });
    test.each([
        ["an unknown name first, the push account second", (push: string) => [`Authorization: Basic ${basic("nobody", "guess")}`, push]],
        ["the push account first, an unknown name second", (push: string) => [push, `Authorization: Basic ${basic("nobody", "guess")}`]],
        ["two credentials in one value", (push: string) => [`${push}, Basic ${basic("nobody", "guess")}`]],
    ])("two Authorization values (%s): 400 on every route, before any password check", (_name, headers) => {
        const push = `Authorization: Basic ${basic(open.push.username, open.push.password)}`;
        for (const [method, urlPath] of [
            ["GET", "/v2/"],
            ["GET", "/v2/token?scope=repository:team/x:push,pull"],
            ["POST", "/v2/team/x/blobs/uploads/"],
        ] as const) {
            expect([method, urlPath, send(open, method, urlPath, headers(push)).status]).toEqual([method, urlPath, 400]);
        }
    });

    test("the decoy account is never authenticated, even by a client that knows a password its hash matches", async () => {
        // A front whose decoy hash is of a known password: what a stack's state held before the decoy's hash matched none.
        const leaked = "leaked-decoy-password";
        const known = await start({ decoyHash: bcrypt.hashSync(leaked, 10) });
        const asDecoy = [
            `Authorization: Bearer ${Buffer.from(leaked).toString("base64")}`,
            `Authorization: Basic ${Buffer.from(leaked).toString("base64")}`,
            `Authorization: Basic ${basic("~unknown", leaked)}`,
        ];
        for (const header of asDecoy) {
            expect([header, send(known, "POST", "/v2/team/x/blobs/uploads/", [header]).status]).toEqual([header, 401]);
            expect([header, send(known, "GET", "/v2/", [header]).status]).toEqual([header, 401]);
            expect([header, send(known, "GET", "/v2/token?scope=repository:team/x:push,pull", [header]).status]).toEqual([header, 401]);
        }
        const push = `Authorization: Basic ${basic(known.push.username, known.push.password)}`;
        expect(send(known, "POST", "/v2/team/x/blobs/uploads/", [push]).status).toBe(202);
    });

    test("during a rotation's overlap, a read account's previous password sent to a write is checked against the decoy (the accounts' cost), not Caddy's own (cost 14)", async () => {
        // The decoy's hash is of the password it is checked with for these credentials (the client's whole
        // "user:password"): a request the decoy checked is logged with the decoy as its user before its 401,
        // one that went to Caddy's own decoy with none.
        const previous = randomBytes(18).toString("base64url");
        const credentials = basic("cluster-pull", previous);
        const front = await start({
            previousPasswords: { pull: previous, seconds: 600 },
            decoyHash: bcrypt.hashSync(`cluster-pull:${previous}`, 10),
            accessLog: true,
        });
        // Inside its overlap the previous password reads.
        expect(send(front, "GET", "/v2/", [`Authorization: Basic ${credentials}`]).status).toBe(200);
        const refused = [
            ["POST", "/v2/team/x/blobs/uploads/"],
            ["PUT", "/v2/team/x/manifests/1"],
        ] as const;
        for (const [method, urlPath] of refused) {
            expect(send(front, method, urlPath, [`Authorization: Basic ${credentials}`], method === "PUT" ? "{}" : undefined).status).toBe(
                401,
            );
        }
        await new Promise((r) => setTimeout(r, 500));
        const entries = readFileSync(front.accessLogFile!, "utf8")
            .split("\n")
            .filter(Boolean)
            .map((line) => JSON.parse(line) as { user_id?: string; status: number; request: { method: string; uri: string } });
        for (const [method, urlPath] of refused) {
            const entry = entries.find((e) => e.request.method === method && e.request.uri === urlPath);
            expect([method, entry?.status, entry?.user_id]).toEqual([method, 401, "~unknown"]);
        }
    });

    test("an Authorization value over the limit gets 431 before any check, and a megabyte header block never reaches a handler", async () => {
        const long = `Authorization: Basic ${randomBytes(MAX_AUTHORIZATION_LENGTH).toString("base64")}`;
        expect(send(open, "GET", "/v2/", [long]).status).toBe(431);
        expect(send(open, "POST", "/v2/team/x/blobs/uploads/", [long]).status).toBe(431);
        // curl cannot send a header line this long: the request goes over a socket of our own.
        expect(await rawStatus(open, `Basic ${randomBytes(768 * 1024).toString("base64")}`)).toBe(431);
        const fits = `Authorization: Basic ${basic(open.push.username, open.push.password)}`;
        expect(send(open, "GET", "/v2/", [fits]).status).toBe(200);
    });

    test.runIf(scheme === "https")(
        "where a front offers HTTP/2 (AccessPolicy.http2) it holds under rapid reset: streams cancelled as soon as opened never get more than 250 password checks at once",
        async () => {
            // HTTP/2 offered, as a policy may ask (no placement does: every front speaks HTTP/1.1 only, which
            // this does not rely on). Why the pinned Caddy may offer it:
            // docs/decisions/access-policy.md#http2-on-the-host. The front's Go runtime counts its goroutines on
            // the metrics listener: one per handler running.
            const front = await startRealRegistry({
                metrics: true,
                caddyfileFor: (p: AccessPolicy) => renderCaddyfile({ ...p, http2: true }),
                caddyBinary: pinnedCaddy(),
            });
            started.push(front);
            const goroutines = async () => {
                const text = await (await fetch(`http://127.0.0.1:${front.metricsPorts?.caddy}/metrics`)).text();
                return Number(/^go_goroutines (\d+)$/m.exec(text)?.[1]);
            };
            const before = await goroutines();
            let peak = before;
            const alpn = await rapidReset(front, RAPID_RESET_STREAMS, async () => {
                for (let i = 0; i < 20; i++) {
                    peak = Math.max(peak, await goroutines());
                    await new Promise((r) => setTimeout(r, 250));
                }
            });
            expect(alpn).toBe("h2");
            expect(before).toBeGreaterThan(0);
            // Without the fix: a goroutine for each of the 2,000 streams, checking its password.
            expect(peak - before).toBeLessThan(400);
            // The front goes on answering a client that asks nothing more.
            const fits = `Authorization: Basic ${basic(front.push.username, front.push.password)}`;
            expect(send(front, "GET", "/v2/", [fits]).status).toBe(200);
        },
        120_000,
    );

    test("a request head over MAX_HEADER_SIZE gets 431 and the connection closed, before any handler", async () => {
        // 24 header lines of 1 KB: under the 64 KiB the front took before, over the 16 KiB it takes now and
        // the 4 KiB Go reads beyond it.
        const lines = Array.from({ length: 24 }, (_, i) => `X-Filler-${i}: ${"a".repeat(1000)}`);
        const exchange = await slowHead(open, lines, 0);
        expect(exchange.closedByFront).toBe(true);
        expect(exchange.answer).toMatch(/^HTTP\/1\.1 431 /);
    });

    test("a client that sends its head slowly is cut once READ_HEADER_SECONDS have passed, before its head is complete", async () => {
        // One short header line every half second, for twice the deadline: the head is never finished in time.
        const lines = Array.from({ length: 4 * READ_HEADER_SECONDS }, (_, i) => `X-Slow-${i}: ${"a".repeat(64)}`);
        const exchange = await slowHead(open, lines, 500);
        expect(exchange.closedByFront).toBe(true);
        expect(exchange.linesSent).toBeLessThan(lines.length);
        // It was not cut for its size: what it sent is far under the limit.
        expect(exchange.answer).not.toMatch(/^HTTP\/1\.1 431 /);
        // A well-behaved client is answered meanwhile and after.
        expect(send(open, "GET", "/v2/").status).toBe(401);
    }, 60_000);

    test.each([
        ["an anonymous PATCH", "PATCH", "/v2/team/app/blobs/uploads/0a1b2c3d", [], 401],
        ["an anonymous POST", "POST", "/v2/team/app/blobs/uploads/", [], 401],
        ["an anonymous PUT", "PUT", "/v2/team/app/blobs/uploads/0a1b2c3d?digest=sha256:00", [], 401],
        ["another site's page's POST", "POST", "/v2/team/app/blobs/uploads/", ["Sec-Fetch-Site: cross-site"], 403],
        ["an anonymous DELETE where deletes are off", "DELETE", "/v2/team/app/manifests/1", [], 405],
    ] as const)(
        "%s with a chunked body that stalls is answered at once and its connection closed within UNREAD_BODY_SECONDS",
        async (_name, method, urlPath, headers, status) => {
            const exchange = await chunkedWrite(open, method, urlPath, headers, { stallMs: 10_000 });
            expect(exchange.answer).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
            expect(exchange.answeredMs).toBeLessThan(1000);
            // Go's server reads what is left of an unread body after the answer; before, for a minute.
            expect(exchange.openAfterAnswerMs).toBeDefined();
            expect(exchange.openAfterAnswerMs).toBeLessThan(UNREAD_BODY_SECONDS * 1000 + 1000);
        },
        30_000,
    );

    test("an upload whose body pauses longer than UNREAD_BODY_SECONDS still reaches Distribution and lands", async () => {
        const location = new URL(pushersUpload(open, "team/paused"));
        const exchange = await chunkedWrite(
            open,
            "PATCH",
            `${location.pathname}${location.search}`,
            [`Authorization: Basic ${basic(open.push.username, open.push.password)}`],
            { stallMs: 10_000, pauseMs: 3000 },
        );
        expect(exchange.answer).toMatch(/^HTTP\/1\.1 202 /);
        expect(exchange.answer).toMatch(/^range: 0-7\r$/im);
    }, 30_000);

    test("oversized credentials leave the front's memory flat (Caddy caches each password check by its plaintext)", async () => {
        const rss = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${open.caddyPid}/status`, "utf8"))?.[1]) * 1024;
        const before = rss();
        const answers = new Set<number>();
        // Each value new, so no answer comes from a cache: 120 MiB of credentials in all.
        for (let i = 0; i < 120; i++) answers.add(await rawStatus(open, `Basic ${randomBytes(768 * 1024).toString("base64")}`));
        for (let i = 0; i < 120; i++) answers.add(await rawStatus(open, `Basic ${randomBytes(40 * 1024).toString("base64")}`));
        expect([...answers]).toEqual([431]);
        const grown = rss() - before;
        expect(grown).toBeLessThan(48 * 2 ** 20);
    }, 180_000);

    test.each([
        ["/V2/TOKEN?scope=repository:team/x:pull"],
        ["/v2/TOKEN?scope=repository:team/x:pull"],
        ["/V2/token?scope=repository:team/x:pull"],
        ["/V2/"],
        ["/V2/team/b/manifests/1"],
    ])("%s, a route prefix in another case: 404, no token and no content", (urlPath) => {
        const answer = send(open, "GET", urlPath, [`Authorization: Basic ${basic(open.push.username, open.push.password)}`]);
        expect(answer.status).toBe(404);
        expect(answer.body).not.toContain("token");
        expect(send(open, "GET", urlPath.toLowerCase().replace("/team/b/manifests/1", "/")).status).not.toBe(404);
    });
});

describe("the Maven deploy account that is the push account", () => {
    test("a front with Maven reads needing an account starts (the account is listed once in each check)", () => {
        const dir = privateDir("attacks-maven");
        try {
            const push = makeAccount("ci-push");
            const files = { push: path.join(dir, "push"), pull: path.join(dir, "pull"), maven: path.join(dir, "maven") };
            writeFileSync(files.push, renderUsersFile("push", [push]));
            writeFileSync(files.pull, renderUsersFile("pull", [makeAccount("cluster-pull")]));
            writeFileSync(files.maven, renderUsersFile("push", [push]));
            const policy: AccessPolicy = {
                ...BASE_POLICY,
                port: 8080,
                pushUsersFile: files.push,
                pullUsersFile: files.pull,
                maven: {
                    pathPrefix: "maven-releases",
                    upstream: "127.0.0.1:5002",
                    deployUsersFile: files.maven,
                    requiresAuthForPull: true,
                },
                decoy: { accounts: { push: ["ci-push"], pull: ["cluster-pull"], mavenDeploy: ["ci-push"] }, bcryptHash: makeDecoyHash() },
            };
            // Plain HTTP: the check is of the password blocks, not of certificate files.
            for (const text of [
                renderCaddyfile({ ...policy, tls: { kind: "plain-http" } }),
                renderSidecarCaddyfile({ ...policy, tls: { kind: "plain-http" } }),
            ]) {
                const result = caddyValidate(text, pinnedCaddy());
                expect([result.code, result.stderr.split("\n").filter((l) => /error/i.test(l))]).toEqual([0, []]);
            }
        } finally {
            removeDir(dir);
        }
    });
});
