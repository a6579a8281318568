/**
 * The attacks on the front as a table, each row a request against real Caddy and real Distribution
 * from the rendered files (test/support/realRegistry.ts), in both placements' shapes: the external
 * host's site (TLS) and the in-cluster sidecar's (plain HTTP behind the ingress). The window's rows
 * are in maintenanceWindow.inFlight.test.ts, the former TCP port's in externalRegistryHost.scripts.test.ts.
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import type { AccessPolicy } from "../../components/accessPolicy/policy";
import { renderSidecarCaddyfile } from "../../components/inCluster/inClusterRegistry";
import { makeOciImage, type RealRegistry, type RealRegistryOptions, startRealRegistry } from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

const PLACEMENTS = [
    { placement: "external host", scheme: "https", caddyfileFor: (p: AccessPolicy) => renderCaddyfile(p) },
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

describe.each(PLACEMENTS)("$placement: the attacks", ({ scheme, caddyfileFor }) => {
    let scratch: string;
    const started: RealRegistry[] = [];
    const start = async (options: RealRegistryOptions = {}) => {
        const reg = await startRealRegistry({ ...options, caddyfileFor });
        started.push(reg);
        return reg;
    };
    let open: RealRegistry;
    let closed: RealRegistry;
    let fenced: RealRegistry;
    /** Caches that need an account (the default without an allowlist), and caches opened with `mirrorPull: anonymous`. */
    let cachesForAccounts: RealRegistry;
    let cachesForAnyone: RealRegistry;
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

    test("POST an upload with Bearer base64(pull:password): 401", () => {
        const token = basic(open.pull.username, open.pull.password);
        expect(send(open, "POST", "/v2/team/x/blobs/uploads/", [`Authorization: Bearer ${token}`]).status).toBe(401);
    });

    test.each([
        ["anonymous token first", true],
        ["pull credentials first", false],
    ])("POST an upload with both Bearer anonymous-read-only and Basic <pull> (%s): 401", (_name, anonymousFirst) => {
        const headers = [
            "Authorization: Bearer anonymous-read-only",
            `Authorization: Basic ${basic(open.pull.username, open.pull.password)}`,
        ];
        expect(send(open, "POST", "/v2/team/x/blobs/uploads/", anonymousFirst ? headers : [...headers].reverse()).status).toBe(401);
    });

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
});
