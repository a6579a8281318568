/**
 * The external host's front under a flood of connections that never finish a request, all from one
 * address: HTTP/2 connections whose first HEADERS frame never ends, HTTP/1.1 connections whose head never
 * ends, and HTTP/1.1 connections left silent after one request. Real Caddy (the pinned one) with the host's
 * rendered Caddyfile (`HOST_FRONT_CONNECTIONS`) and real Distribution, in a network namespace of their own
 * whose nftables carry the host's connection cap, installed by the host's own shell (sh/connection-cap.sh)
 * with the rules `connectionCapParams` renders. Clients on this machine reach it from two addresses: the
 * flood's, and a well-behaved client's.
 *
 * Caddy's open files are fewer here than the host gives its front (`FRONT_MEMORY.openFiles`): above the cap
 * and Caddy's own files, below the flood, so that a flood of modest size fills them where nothing caps it,
 * as a few thousand connections fill the host's.
 *
 * What holds: a client that asks for HTTP/2 is given HTTP/1.1; the flood's HTTP/2 octets are closed at
 * once; its address gets no more than the cap, and the rest of its connections are refused; the
 * well-behaved client is served within a second while the flood stalls; each stalled connection is closed
 * within its bound (`READ_HEADER_SECONDS` for a head, `CLIENT_IDLE_SECONDS` after a request); then the
 * flood's address is served again.
 */
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CLIENT_IDLE_SECONDS, READ_HEADER_SECONDS, renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { HOST_FRONT_CONNECTIONS } from "../../components/externalHost/caddySite";
import { CONNECTIONS_PER_ADDRESS, connectionCapParams } from "../../components/externalHost/connectionCap";
import { DISTRIBUTION } from "../../components/shared/facts";
import { shQuote } from "../../components/shared/shQuote";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { createNetns, type TestNetns } from "../support/netns";
import { caddyEnv, makeAccount, makeDecoyHash, makeTestCa, type TestCa } from "../support/realRegistry";
import { privateDir, removeDir, type ServerProcess } from "../support/serverProcess";
import { type Flood, type StalledConnection, startFlood, type TlsTarget, wellBehavedRequest } from "../support/stalledConnections";

const FRONT_NAME = "registry.test";
const PORT = 443;
/** Caddy's open files here: the cap and room for Caddy's own files and the well-behaved client, under the flood. */
const OPEN_FILES = CONNECTIONS_PER_ADDRESS + 64;
/** The flood, from one address: more HTTP/1.1 connections than the cap lets in, and with the HTTP/2 ones more than Caddy's open files. */
const FLOOD = { h2Headers: 150, h1Idle: 100, h1Head: CONNECTIONS_PER_ADDRESS - 100 + 60 } as const;
/** How much later than its bound the front may close a stalled connection (the test's own timers on a loaded machine). */
const SLACK_MS = 1500;

/** The host's connection cap on the front's port, installed inside `ns` by the host's shell, its files under `root`. */
function installConnectionCap(ns: TestNetns, root: string): void {
    const params = connectionCapParams({ rulesFile: "/etc/connection-cap.nft", bootCronFile: "/etc/cron.d/connection-cap" }, [PORT]);
    const script = [
        "set -eu",
        ...Object.entries(params).map(([name, value]) => `${name}=${shQuote(String(value))}`),
        readFileSync(path.join(__dirname, "../../components/externalHost/sh/connection-cap.sh"), "utf8"),
        "connection_cap_apply",
    ].join("\n");
    const result = ns.run("/bin/sh", ["-c", script], { env: { ...process.env, DSO_ROOT: root } });
    if (result.code !== 0) throw new Error(`the connection cap: ${result.stdout}${result.stderr}`);
}

let dir: string;
let front: TestNetns;
let elsewhere: TestNetns;
let ca: TestCa;
const servers: ServerProcess[] = [];

beforeAll(async () => {
    dir = privateDir("http2-flood");
    front = await createNetns({ prefix: "hf", subnet: "198.18.64.0/20" });
    // Only for its address on this machine: the well-behaved client's, another than the flood's.
    elsewhere = await createNetns({ prefix: "hf", subnet: "198.18.64.0/20" });
    // Answers to the well-behaved client's address go back through this machine.
    front.run("ip", ["route", "add", "default", "via", front.hostAddress]);
    ca = makeTestCa(path.join(dir, "tls"), [FRONT_NAME]);
    const registryConfig = path.join(dir, "config.yml");
    writeFileSync(
        registryConfig,
        renderRegistryConfig({
            addr: "127.0.0.1:5000",
            storage: { kind: "filesystem", rootDirectory: path.join(dir, "data") },
            deletesEnabled: false,
            logLevel: "warn",
        }),
    );
    servers.push(front.startServer(deployedRegistry().path, ["serve", registryConfig], { ...process.env, ...DISTRIBUTION.environment }));
    const push = makeAccount("ci-push");
    const pull = makeAccount("cluster-pull");
    const pushUsersFile = path.join(dir, "users-push");
    const pullUsersFile = path.join(dir, "users-pull");
    writeFileSync(pushUsersFile, renderUsersFile("push", [push]), { mode: 0o600 });
    writeFileSync(pullUsersFile, renderUsersFile("pull", [pull]), { mode: 0o600 });
    const caddyfile = path.join(dir, "Caddyfile");
    writeFileSync(
        caddyfile,
        renderCaddyfile({
            siteAddress: FRONT_NAME,
            port: PORT,
            admin: "off",
            tls: { kind: "files", certFile: ca.serverCertFile, keyFile: ca.serverKeyFile },
            upstream: "127.0.0.1:5000",
            requiresAuthForPull: false,
            pushUsersFile,
            pullUsersFile,
            allowedNetworks: [],
            deletesEnabled: false,
            blobFiles: path.join(dir, "data"),
            decoy: { accounts: { push: [push.username], pull: [pull.username] }, bcryptHash: makeDecoyHash() },
            ...HOST_FRONT_CONNECTIONS,
        }),
    );
    installConnectionCap(front, dir);
    const caddy = front.startServer(
        "prlimit",
        [`--nofile=${OPEN_FILES}:${OPEN_FILES}`, pinnedCaddy(), "run", "--adapter", "caddyfile", "--config", caddyfile],
        caddyEnv(dir),
    );
    servers.push(caddy);
    await front.waitForPort(PORT).catch((e: Error) => {
        throw new Error(`${e.message}\n${caddy.output()}`);
    });
}, 120_000);

afterAll(async () => {
    for (const s of servers.reverse()) await s.stop();
    await elsewhere?.destroy();
    await front?.destroy();
    if (dir) removeDir(dir);
});

const target = (localAddress: string): TlsTarget => ({
    host: front.address,
    port: PORT,
    ca: ca.caCertPem,
    servername: FRONT_NAME,
    localAddress,
});

describe("the external host's front under a flood of stalled connections from one address", () => {
    test("a client that asks for HTTP/2 is given HTTP/1.1", async () => {
        const socket = tls.connect({
            host: front.address,
            port: PORT,
            servername: FRONT_NAME,
            ca: ca.caCertPem,
            ALPNProtocols: ["h2", "http/1.1"],
        });
        await once(socket, "secureConnect");
        const protocol = socket.alpnProtocol;
        socket.destroy();
        expect(protocol).toBe("http/1.1");
    });

    test("the flood's address gets no more than the cap, a well-behaved client is served within a second, and every stalled connection is cut within its bound", async () => {
        const flooder = target(front.hostAddress);
        const floods: Flood[] = [];
        try {
            const h2 = startFlood(flooder, "h2-headers", FLOOD.h2Headers);
            floods.push(h2);
            await h2.settled(10_000);
            // The HTTP/2 octets reach an HTTP/1.1 server, which closes the connection at once.
            await new Promise((r) => setTimeout(r, 500));
            const idle = startFlood(flooder, "h1-idle", FLOOD.h1Idle);
            floods.push(idle);
            await idle.settled(5000);
            const head = startFlood(flooder, "h1-head", FLOOD.h1Head);
            floods.push(head);
            await head.settled(5000);
            const stalledH1 = [...idle.connections, ...head.connections];
            const openH1 = stalledH1.filter((c) => !c.closedByFront()).length;
            const waiting = idle.pending() + head.pending();

            // While they stall: the well-behaved client, from its own address, on a new connection each time.
            const probes: { ms: number; status?: number; error?: string }[] = [];
            for (let i = 0; i < 5; i++) {
                probes.push(await wellBehavedRequest(target(elsewhere.hostAddress), "/v2/", 3000));
                await new Promise((r) => setTimeout(r, 500));
            }

            const bound = (seconds: number) => seconds * 1000 + SLACK_MS;
            const lifetimes = (connections: readonly StalledConnection[], ms: number) =>
                Promise.all(
                    connections.map((c) => Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), ms))])),
                );
            const [h2Lifetimes, idleLifetimes, headLifetimes] = await Promise.all([
                lifetimes(h2.connections, 2000),
                lifetimes(idle.connections, bound(CLIENT_IDLE_SECONDS) + 1000),
                lifetimes(head.connections, bound(READ_HEADER_SECONDS) + 1000),
            ]);
            const refused = idle.failed.length + head.failed.length;

            expect.soft(h2.failed, "the HTTP/2 connections' handshakes").toEqual([]);
            expect.soft([...new Set(h2.connections.map((c) => c.protocol))], "what ALPN gave the flood's HTTP/2").toEqual(["http/1.1"]);
            expect.soft(Math.max(...h2Lifetimes), "the longest-lived of the flood's HTTP/2 connections (ms)").toBeLessThan(2000);
            // The cap: no more than CONNECTIONS_PER_ADDRESS at once from the flood's address; the others refused at once.
            expect.soft(openH1, "the flood's HTTP/1.1 connections open at once").toBeLessThanOrEqual(CONNECTIONS_PER_ADDRESS);
            expect.soft(waiting, "the flood's attempts left waiting by the front").toBe(0);
            expect
                .soft(refused, "the flood's connections refused")
                .toBeGreaterThanOrEqual(FLOOD.h1Idle + FLOOD.h1Head - CONNECTIONS_PER_ADDRESS);
            expect
                .soft(
                    probes.map((p) =>
                        p.status === 401 && p.ms < 1000 ? "served within 1 s" : `${p.error ?? p.status} in ${p.ms.toFixed(0)} ms`,
                    ),
                    "the well-behaved client's requests while the flood stalls",
                )
                .toEqual(probes.map(() => "served within 1 s"));
            expect
                .soft(Math.max(...idleLifetimes), "the longest-lived silent connection after a request (ms)")
                .toBeLessThan(bound(CLIENT_IDLE_SECONDS));
            expect
                .soft(Math.min(...idleLifetimes), "the shortest-lived silent connection after a request (ms)")
                .toBeGreaterThan((CLIENT_IDLE_SECONDS - 1) * 1000);
            expect.soft(Math.max(...headLifetimes), "the longest-lived unfinished head (ms)").toBeLessThan(bound(READ_HEADER_SECONDS));
            expect
                .soft(
                    stalledH1.every((c) => c.closedByFront()),
                    "every stalled connection was closed by the front",
                )
                .toBe(true);

            // Its connections cut, the flood's address is served again.
            const after = await wellBehavedRequest(flooder, "/v2/", 5000);
            expect({ status: after.status, within1s: after.ms < 1000 }).toEqual({ status: 401, within1s: true });
        } finally {
            for (const f of floods) f.stop();
        }
    }, 90_000);
});
