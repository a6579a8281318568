/**
 * The in-cluster login limit on real software: Distribution and the sidecar Caddy from the rendered
 * files, behind Debian's nginx configured from the rendered Ingresses (the main one and the token
 * endpoint's own, merged for one host as ingress-nginx does; test/support/ingress.ts turns their
 * annotations into the directives ingress-nginx's template writes). Clients on different loopback
 * addresses are different clients to nginx: a brute-force loop on the token endpoint, or on the ping,
 * is refused with 503 after the burst, while anonymous pulls and token requests from other addresses,
 * and from a network never limited, keep working.
 */
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { type IngressSpec, renderIngress, renderLoginIngress } from "../../components/inCluster/network";
import { renderSidecarCaddyfile, sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { DISTRIBUTION } from "../../components/shared/facts";
import type { K8sObject } from "../../components/shared/k8sObject";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { ingressLocations, ingressNginxConf } from "../support/ingress";
import { caddyEnv, makeAccount, makeTestCa, type TestAccount, type TestCa } from "../support/realRegistry";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

const HOST = "registry.test";
const RATE = 6;
const ADDRESSES = {
    attacker: "127.0.0.2",
    puller: "127.0.0.3",
    ci: "127.0.0.4",
    neverLimited: "127.0.0.5",
    otherCase: "127.0.0.6",
    pinger: "127.0.0.7",
} as const;

const spec: IngressSpec = {
    namespace: "dso",
    host: HOST,
    ingressClass: "nginx",
    ingressController: "nginx",
    tls: { kind: "secret", certPem: "", keyPem: "" },
    allowedNetworks: [],
    loginLimit: { tokenRequestsPerMinute: RATE, credentialRequestsPerMinute: RATE * 10, ignoreNetworks: [`${ADDRESSES.neverLimited}/32`] },
};

let dir: string;
let ca: TestCa;
let push: TestAccount;
let ingressPort: number;
const servers: ServerProcess[] = [];

/** Starts Distribution, the sidecar Caddy and nginx with the locations of `ingresses`. */
async function start(ingresses: readonly K8sObject[]): Promise<void> {
    dir = privateDir("login-ingress");
    ca = makeTestCa(path.join(dir, "tls"), [HOST]);
    push = makeAccount("ci-push");
    const pull = makeAccount("cluster-pull");
    const [registryPort, caddyPort] = [await freePort(), await freePort()];
    ingressPort = await freePort();
    const config = path.join(dir, "config.yml");
    writeFileSync(
        config,
        renderRegistryConfig({
            addr: `127.0.0.1:${registryPort}`,
            storage: { kind: "filesystem", rootDirectory: path.join(dir, "data") },
            deletesEnabled: false,
            logLevel: "warn",
        }),
    );
    servers.push(startServer(deployedRegistry().path, ["serve", config], { ...process.env, ...DISTRIBUTION.environment }));
    await waitForPort(registryPort, 30_000, "docker-registry");

    writeFileSync(path.join(dir, "push"), renderUsersFile("push", [push]), { mode: 0o600 });
    writeFileSync(path.join(dir, "pull"), renderUsersFile("pull", [pull]), { mode: 0o600 });
    const policy = sidecarPolicy({
        host: HOST,
        requiresAuthForPull: false,
        deletesEnabled: false,
        storage: "filesystem",
    });
    const caddyfile = path.join(dir, "Caddyfile");
    writeFileSync(
        caddyfile,
        renderSidecarCaddyfile({
            ...policy,
            publicAuthority: `${HOST}:${ingressPort}`,
            port: caddyPort,
            bindAddress: "127.0.0.1",
            upstream: `127.0.0.1:${registryPort}`,
            pushUsersFile: path.join(dir, "push"),
            pullUsersFile: path.join(dir, "pull"),
            blobFiles: path.join(dir, "data"),
        }),
    );
    const caddy = startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(dir));
    servers.push(caddy);
    await waitForPort(caddyPort, 30_000, "caddy").catch((e: Error) => {
        throw new Error(`${e.message}\n${caddy.output()}`);
    });

    const { http, locations } = ingressLocations(ingresses);
    const nginxConf = path.join(dir, "nginx.conf");
    writeFileSync(
        nginxConf,
        ingressNginxConf({
            dir,
            listen: `127.0.0.1:${ingressPort}`,
            serverNames: [HOST],
            certFile: ca.serverCertFile,
            keyFile: ca.serverKeyFile,
            upstream: `127.0.0.1:${caddyPort}`,
            locations,
            http,
        }),
    );
    const nginx = startServer("/usr/sbin/nginx", ["-c", nginxConf, "-p", dir]);
    servers.push(nginx);
    await waitForPort(ingressPort, 30_000, "nginx").catch((e: Error) => {
        throw new Error(`${e.message}\n${nginx.output()}`);
    });
}

/** One request through the "ingress" from `localAddress`. */
function request(
    localAddress: string,
    urlPath: string,
    options: { authorization?: string; method?: string; body?: Buffer } = {},
): Promise<{ status: number; location?: string }> {
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: "127.0.0.1",
                port: ingressPort,
                servername: HOST,
                localAddress,
                path: urlPath,
                method: options.method ?? "GET",
                agent: false,
                ca: ca.caCertPem,
                headers: { Host: `${HOST}:${ingressPort}`, ...(options.authorization ? { Authorization: options.authorization } : {}) },
            },
            (res) => {
                res.resume();
                res.on("end", () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
            },
        );
        req.on("error", reject);
        req.end(options.body);
    });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
const TOKEN = "/v2/token?scope=repository:team/app:push,pull&service=dso-registry";

/** `n` token requests with a wrong password from `from`, one after another; their statuses. */
async function guesses(from: string, n: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) {
        statuses.push((await request(from, TOKEN, { authorization: basic(push.username, `guess-${i}`) })).status);
    }
    return statuses;
}

beforeAll(async () => {
    const main = renderIngress(spec);
    const login = renderLoginIngress(spec);
    if (!main || !login) throw new Error("no Ingresses rendered for ingress-nginx");
    await start([main, login]);
}, 120_000);

afterAll(async () => {
    for (const s of servers.reverse()) await s.stop();
    if (dir) removeDir(dir);
});

describe("ingress-nginx's limit on the token endpoint, with the rendered Ingresses", () => {
    let blob: string;

    test("CI pushes a blob through the ingress with the push account (Basic on the write paths, never limited)", async () => {
        const body = randomBytes(32 * 1024);
        const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
        const auth = basic(push.username, push.password);
        for (let i = 0; i < RATE * 2; i++) {
            expect((await request(ADDRESSES.ci, "/v2/team/app/blobs/uploads/", { method: "POST", authorization: auth })).status).toBe(202);
        }
        const started = await request(ADDRESSES.ci, "/v2/team/app/blobs/uploads/", { method: "POST", authorization: auth });
        const location = new URL(started.location!, `https://${HOST}`);
        location.searchParams.set("digest", digest);
        const put = await request(ADDRESSES.ci, `${location.pathname}${location.search}`, { method: "PUT", authorization: auth, body });
        expect(put.status).toBe(201);
        blob = `/v2/team/app/blobs/${digest}`;
    });

    test("a brute-force loop on /v2/token gets its burst of password checks, then 503 without reaching the front", async () => {
        const statuses = await guesses(ADDRESSES.attacker, RATE * 4);
        const checked = statuses.filter((s) => s === 401).length;
        expect(
            statuses.every((s) => s === 401 || s === 503),
            statuses.join(" "),
        ).toBe(true);
        // The burst (RATE) plus at most the one or two a slow loop earns back at RATE a minute.
        expect(checked, statuses.join(" ")).toBeGreaterThanOrEqual(RATE);
        expect(checked, statuses.join(" ")).toBeLessThanOrEqual(RATE + 2);
        expect(statuses.slice(-RATE), statuses.join(" ")).toEqual(Array(RATE).fill(503));
        // Refused even with the right password: the limit counts requests, not failures.
        expect((await request(ADDRESSES.attacker, TOKEN, { authorization: basic(push.username, push.password) })).status).toBe(503);
    }, 60_000);

    test("meanwhile another address pulls anonymously, gets its anonymous token and logs in", async () => {
        expect((await request(ADDRESSES.puller, "/v2/")).status).toBe(401);
        // A puller asks for a pull scope and gets the anonymous token; asking for push without an
        // account gets the Basic challenge (docs/decisions/access-policy.md#a-browser-logs-in-at-the-token-endpoint).
        expect((await request(ADDRESSES.puller, "/v2/token?scope=repository:team/app:pull&service=dso-registry")).status).toBe(200);
        expect((await request(ADDRESSES.puller, TOKEN)).status).toBe(401);
        expect((await request(ADDRESSES.puller, blob)).status).toBe(200);
        expect((await request(ADDRESSES.puller, TOKEN, { authorization: basic(push.username, push.password) })).status).toBe(200);
        // Pulls are not on the token Ingress: the attacker's address still pulls.
        expect((await request(ADDRESSES.attacker, blob)).status).toBe(200);
    });

    test("the token endpoint in another case (/V2/TOKEN), past the Exact location, gets no password check at all", async () => {
        // nginx matches the token Ingress's path with case; Caddy's own matchers do not, so the front refuses the variants.
        const statuses: number[] = [];
        for (const variant of ["/V2/TOKEN", "/v2/TOKEN", "/V2/token", "/v2/Token"]) {
            for (let i = 0; i < RATE; i++) {
                const urlPath = `${variant}?scope=repository:team/app:push,pull&service=dso-registry`;
                statuses.push((await request(ADDRESSES.otherCase, urlPath, { authorization: basic(push.username, `guess-${i}`) })).status);
            }
        }
        expect(statuses).toEqual(Array(RATE * 4).fill(404));
        expect((await request(ADDRESSES.otherCase, "/V2/TOKEN", { authorization: basic(push.username, push.password) })).status).toBe(404);
    }, 60_000);

    test("a brute-force loop on the ping (GET /v2/ with Basic) meets the same limit, in the token's zone; anonymous pulls from that address go on", async () => {
        const statuses: number[] = [];
        for (let i = 0; i < RATE * 3; i++) {
            statuses.push((await request(ADDRESSES.pinger, "/v2/", { authorization: basic(push.username, `guess-${i}`) })).status);
        }
        expect(
            statuses.every((s) => s === 401 || s === 503),
            statuses.join(" "),
        ).toBe(true);
        expect(statuses.filter((s) => s === 401).length, statuses.join(" ")).toBeLessThanOrEqual(RATE + 2);
        expect(statuses.slice(-RATE), statuses.join(" ")).toEqual(Array(RATE).fill(503));
        // One zone: the token endpoint is spent for this address too.
        expect((await request(ADDRESSES.pinger, TOKEN, { authorization: basic(push.username, push.password) })).status).toBe(503);
        expect((await request(ADDRESSES.pinger, "/v2")).status).toBe(503);
        expect((await request(ADDRESSES.pinger, blob)).status).toBe(200);
    }, 60_000);

    test("a network of ignoreNetworks is never limited", async () => {
        const statuses = await guesses(ADDRESSES.neverLimited, RATE * 3);
        expect(statuses).toEqual(Array(RATE * 3).fill(401));
    }, 60_000);
});
