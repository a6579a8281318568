/**
 * A stopping front hands its clients over (`AccessPolicy.shutdownDelaySeconds`, which the in-cluster registry's
 * pods get when they may overlap: components/inCluster/deployment.ts). Real Caddy (the pinned one) with the
 * rendered Caddyfile, plain HTTP on loopback as the sidecar serves the ingress, in front of real Distribution.
 * Caddy is sent SIGTERM, as the kubelet sends it when a pod stops, while a client holds a kept-alive connection:
 *
 * - with the delay: for its length the front still answers, on the kept-alive connection and on new ones, a
 *   read Distribution answers (proxied) and the front's own challenge alike, each with `Connection: close`, and
 *   the kept-alive connection is closed after its answer; once the delay is over, new connections are refused;
 * - without it (what every front did before), new connections are refused at once.
 */
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { DISTRIBUTION } from "../../components/shared/facts";
import { BASE_POLICY } from "../support/accessPolicy";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { caddyEnv, makeAccount, makeDecoyHash } from "../support/realRegistry";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

const DELAY_SECONDS = 5;
const started: ServerProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
    for (const s of started.splice(0).reverse()) await s.stop();
    for (const d of dirs.splice(0)) removeDir(d);
});

/** Distribution and the front before it, on free loopback ports; the front's port and process. */
async function startFront(shutdownDelaySeconds?: number): Promise<{ port: number; caddy: ServerProcess }> {
    const dir = privateDir("front-handover");
    dirs.push(dir);
    const registryPort = await freePort();
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
    started.push(startServer(deployedRegistry().path, ["serve", config], { ...process.env, ...DISTRIBUTION.environment }));
    await waitForPort(registryPort, 30_000, "Distribution");
    const push = makeAccount("ci-push");
    const pull = makeAccount("cluster-pull");
    const pushUsersFile = path.join(dir, "users-push");
    const pullUsersFile = path.join(dir, "users-pull");
    writeFileSync(pushUsersFile, renderUsersFile("push", [push]), { mode: 0o600 });
    writeFileSync(pullUsersFile, renderUsersFile("pull", [pull]), { mode: 0o600 });
    const port = await freePort();
    const caddyfile = path.join(dir, "Caddyfile");
    writeFileSync(
        caddyfile,
        renderCaddyfile({
            ...BASE_POLICY,
            port,
            bindAddress: "127.0.0.1",
            admin: "off",
            tls: { kind: "plain-http" },
            upstream: `127.0.0.1:${registryPort}`,
            pushUsersFile,
            pullUsersFile,
            decoy: { accounts: { push: [push.username], pull: [pull.username] }, bcryptHash: makeDecoyHash() },
            ...(shutdownDelaySeconds === undefined ? {} : { shutdownDelaySeconds }),
        }),
    );
    const caddy = startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfile], caddyEnv(dir));
    started.push(caddy);
    await waitForPort(port, 30_000, "Caddy").catch((e: Error) => {
        throw new Error(`${e.message}\n${caddy.output()}`);
    });
    return { port, caddy };
}

interface Answer {
    readonly status: number;
    readonly connection: string | undefined;
    /** The local port of the connection it came on. */
    readonly localPort: number | undefined;
}

/** A GET of `uriPath` from the front on `agent`'s connections. */
function get(port: number, uriPath: string, agent: http.Agent | false): Promise<Answer> {
    return new Promise((resolve, reject) => {
        const req = http.get({ host: "127.0.0.1", port, path: uriPath, agent, headers: { Host: BASE_POLICY.siteAddress } }, (res) => {
            res.resume();
            res.on("end", () =>
                resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, localPort: req.socket?.localPort }),
            );
        });
        req.on("error", reject);
    });
}

/** Whether a new TCP connection to the port is accepted. */
async function accepts(port: number): Promise<boolean> {
    const socket = net.connect(port, "127.0.0.1");
    try {
        await once(socket, "connect");
        return true;
    } catch {
        return false;
    } finally {
        socket.destroy();
    }
}

/** An anonymous read that Distribution answers (the front proxies it), and the front's own challenge. */
const READ = "/v2/team/app/manifests/1";
const PING = "/v2/";

describe("a stopping front hands its clients over", () => {
    test(`with a delay of ${DELAY_SECONDS} s: answers go on, each closing its connection, then new connections are refused`, async () => {
        const { port, caddy } = await startFront(DELAY_SECONDS);
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        try {
            const before = await get(port, READ, agent);
            expect(before).toMatchObject({ status: 404 });
            expect(before.connection).not.toBe("close");
            const stopAsked = Date.now();
            caddy.child.kill("SIGTERM");
            await new Promise((r) => setTimeout(r, 500));
            // The kept-alive connection still answers, and says it closes.
            const kept = await get(port, READ, agent);
            expect(kept).toEqual({ status: 404, connection: "close", localPort: before.localPort });
            // New connections are still taken, for a proxied read and the front's own answer.
            expect(await get(port, READ, false)).toMatchObject({ status: 404, connection: "close" });
            expect(await get(port, PING, false)).toMatchObject({ status: 401, connection: "close" });
            // The next request on the agent opens a new connection: the old one was closed after its answer.
            const next = await get(port, READ, agent);
            expect(next.localPort).not.toBe(before.localPort);
            expect(Date.now() - stopAsked).toBeLessThan(DELAY_SECONDS * 1000);
            // Once the delay is over, no new connection is taken.
            await new Promise((r) => setTimeout(r, DELAY_SECONDS * 1000 + 1000 - (Date.now() - stopAsked)));
            expect(await accepts(port), caddy.output()).toBe(false);
        } finally {
            agent.destroy();
        }
    }, 60_000);

    test("without a delay: new connections are refused at once", async () => {
        const { port, caddy } = await startFront();
        expect((await get(port, READ, false)).status).toBe(404);
        caddy.child.kill("SIGTERM");
        await new Promise((r) => setTimeout(r, 500));
        expect(await accepts(port)).toBe(false);
    }, 60_000);
});
