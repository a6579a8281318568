/**
 * The first `up` after the external host's pull-through caches moved from loopback ports to unix sockets,
 * replayed on real software: config A is what the program rendered before the move
 * (test/support/portsEraCaches.prod.json, test/support/portsEra.ts), deployed as A's `up` did (each cache
 * command's create, in registration order) over SSH against a real Docker engine in a test network
 * namespace that plays the host (as test/integration/mirrors.hostPrune.test.ts); then config B's plan
 * (test/support/plan.ts: each cache's command updated in place, a removed one deleted last with its old
 * script, as the engine does) runs step by step in its order, then B's destroy.
 *
 * Checked: no step fails; A's containers publish their ports; after B every cache of B runs, answers on the
 * unix socket B's scripts give it (as Caddy's user) and serves an image pulled through a Caddy on that
 * socket; no container publishes a port and the former ports refuse connections; nothing of a removed
 * cache is left (container, storage); the registry's own data is untouched; after B's destroy nothing of
 * any cache is left and the registry's data is.
 *
 * Why here and not under the real engine: A is a set of recorded inputs, not a program version the engine
 * tier can deploy (test/engine/upgrade.test.ts starts from a release after the move). The transitions
 * between socket-era configs (a mirror removed, added, reordered, nothing changed) run under the real
 * engine on the prod test hosts (test/engine/prodPlans.test.ts, test/engine/prodUp.test.ts), and a cache
 * answering on its socket through such changes is test/integration/mirrorCachesOnHost.transitions.test.ts.
 *
 * What differs from production: the caches' upstreams (Docker Hub, ghcr.io, …) cannot be reached from
 * here (a cache would serve only what it holds), so each cache's config.yml and start script (the stdin
 * of their write commands) name a plain-HTTP Distribution on the namespace's address instead, the one
 * change made to what the program renders. An image pushed there is pulled through every cache of B.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultHostLayout } from "../../components/externalHost/scripts";
import { DISTRIBUTION } from "../../components/shared/facts";
import type { RecordedResource } from "../../tools/mockRuntime";
import { type CacheHost, startCacheHost } from "../support/cacheHost";
import type { DockerEngine } from "../support/dockerEngine";
import { registryImage } from "../support/dockerImages";
import type { TestNetns } from "../support/netns";
import { describePlan, plain, planOf, type Step } from "../support/plan";
import { portsEra } from "../support/portsEra";
import { makeOciImage, skopeoPushPlainHttp } from "../support/realRegistry";
import { asRoot, stepScripts } from "../support/replay";
import { startSocketFront } from "../support/socketFront";
import { CADDY_USER, socketRequestAs } from "../support/socketRequest";
import type { SshServer } from "../support/sshServer";
import { committedState, edited, type Raw, run, type StackState, scriptParam } from "../support/transitions";

const layout = defaultHostLayout("/srv/data/registry");
const MARKER = `${layout.dataDir}/docker/registry/v2/repositories/team/app/marker`;
const isCache = (name: string) => name.startsWith("registry-host-mirrors-");

let host: CacheHost;
let ns: TestNetns;
let engine: DockerEngine;
let ssh: SshServer;
let scratch: string;
const UPSTREAM_PORT = 5300;
const REPOSITORY = "library/replayed";
const upstreamUrl = () => `http://${ns.address}:${UPSTREAM_PORT}`;

const onDisk = (p: string) => path.join(ssh.root, p);

function runStep(what: string, script: string, stdin = ""): void {
    // The caches' upstream is the test's (see the header).
    const input = stdin
        .replace(/^(\s*remoteurl:\s*).*$/m, `$1${upstreamUrl()}`)
        .replace(/^REMOTE_URL=.*$/m, `REMOTE_URL='${upstreamUrl()}'`);
    const result = ssh.runScript(asRoot(script), input);
    if (result.code !== 0) throw new Error(`${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
}

/** A cache as a program run deploys it, from its run script's parameters. */
interface Cache {
    readonly container: string;
    /** Its unix socket on the host (without the test's root); none for a cache of the ports era. */
    readonly socket: string;
    readonly socketDir: string;
    /** The loopback port a cache of the ports era was published on; empty otherwise. */
    readonly port: string;
    readonly dataDir: string;
}

/** The caches a program run deploys: container name, socket (or former port) and storage, from its run scripts. */
function cachesOf(resources: readonly RecordedResource[]): Cache[] {
    return resources
        .filter((r) => r.custom && isCache(r.name) && r.name.endsWith("-run"))
        .map((r) => plain(r.rawInputs) as Record<string, unknown>)
        .map((i) => ({
            container: scriptParam(i.create, "CONTAINER")!,
            socketDir: scriptParam(i.create, "SOCKET_DIR") ?? "",
            socket: scriptParam(i.create, "SOCKET_DIR") ? `${scriptParam(i.create, "SOCKET_DIR")}/${DISTRIBUTION.socketName}` : "",
            port: scriptParam(i.create, "HOST_PORT") ?? "",
            dataDir: scriptParam(i.create, "DATA_DIR")!,
        }));
}

/** Host ports the engine's containers publish. */
const publishedPorts = () =>
    engine
        .dockerOk(["ps", "-a", "--format", "{{.Names}} {{.Ports}}"])
        .split("\n")
        .filter((l) => /\d+->/.test(l));

/** The cache steps of a plan, in its order. */
const cacheSteps = (steps: readonly Step[]) => steps.filter((s) => isCache(s.name));

/** Whether a cache's container runs and its API answers on its socket, to Caddy's user. */
function answers(cache: Cache): boolean {
    const r = socketRequestAs(ns, CADDY_USER, onDisk(cache.socket), "http://localhost/v2/");
    return r.stdout.trim() === "200";
}

async function waitForAnswer(cache: Cache): Promise<boolean> {
    for (let i = 0; i < 100; i++) {
        if (answers(cache)) return true;
        await new Promise((r) => setTimeout(r, 200));
    }
    return false;
}

/** What the engine says of a cache, for a failure message. */
const diagnose = (cache: Cache) =>
    `${cache.container} on ${cache.socket}:\n${engine.docker(["ps", "-a"]).stdout}\n${engine.docker(["logs", "--tail", "20", cache.container]).stderr}\n${ns.run("curl", ["-sv", "--unix-socket", onDisk(cache.socket), "http://localhost/v2/"]).stderr}`;

/** Where the front for the engine's pulls listens. */
const FRONT_PORT = 5400;

/** Pulls the upstream's image through a cache, via Caddy on its socket, with nothing of it on the engine. */
async function pullThrough(cache: Cache): Promise<{ code: number; output: string }> {
    const front = await startSocketFront(ns, FRONT_PORT, onDisk(cache.socket));
    try {
        const ref = `127.0.0.1:${FRONT_PORT}/${REPOSITORY}:1`;
        engine.docker(["rmi", ref]);
        const r = engine.docker(["pull", ref]);
        return { code: r.code, output: `${r.stdout}\n${r.stderr}` };
    } finally {
        await front.stop();
    }
}

const running = (container: string) => engine.docker(["inspect", "-f", "{{.State.Running}}", container]).stdout.trim() === "true";

beforeAll(async () => {
    host = await startCacheHost({ name: "lifecycle-replay", prefix: "lcr", subnet: "198.19.112.0/20", upstreamPort: UPSTREAM_PORT });
    ({ ns, engine, ssh, scratch } = host);
    // The recorded state's caches ran the image of their day.
    registryImage(engine, "2.8.3");
    const image = makeOciImage(path.join(scratch, "image"), 64 * 1024);
    skopeoPushPlainHttp(ns, image.ref, `docker://${ns.address}:${UPSTREAM_PORT}/${REPOSITORY}:1`);
    // The registry's own data, which no cache step may touch.
    mkdirSync(path.dirname(onDisk(MARKER)), { recursive: true });
    writeFileSync(onDisk(MARKER), "the registry's own data\n");
}, 300_000);

afterAll(() => host?.stop(), 120_000);

const prod = committedState("prod");
const mirrorsOf = (raw: Raw) => (raw.registry as { mirrors: Raw[] }).mirrors;

/** The first `up` after the move to sockets: A is what the program rendered before it. */
const ROWS: { name: string; to: StackState }[] = [
    { name: "upgrade from ports to sockets", to: prod },
    { name: "upgrade from ports to sockets, a mirror removed", to: edited(prod, (r) => mirrorsOf(r).shift()) },
];

describe.each(ROWS.map((row) => [row.name, row] as const))(
    "prod, %s: the caches' plan replayed over SSH on a real Docker engine",
    (_, row) => {
        it("runs every step, leaves each cache of the new config answering and nothing of a removed one", async () => {
            const before = { resources: portsEra((await run("prod", prod)).resources) };
            const after = await run("prod", row.to);
            // Config A deployed: each cache command's create, in registration order.
            for (const step of cacheSteps(planOf([], before.resources).steps)) {
                for (const s of stepScripts(step)) runStep(s.what, s.script, s.stdin);
            }
            // Each cache of the ports era is published on its loopback port (its proxy may still be starting).
            for (const cache of cachesOf(before.resources)) {
                expect(publishedPorts().join("\n")).toContain(`127.0.0.1:${cache.port}->5000/tcp`);
            }

            const plan = planOf(before.resources, after.resources);
            for (const step of cacheSteps(plan.steps)) {
                for (const s of stepScripts(step)) runStep(`${s.what}\n${describePlan(plan)}`, s.script, s.stdin);
            }

            const kept = cachesOf(after.resources);
            for (const cache of kept) {
                expect(running(cache.container), `${cache.container} runs`).toBe(true);
                expect(await waitForAnswer(cache), diagnose(cache)).toBe(true);
                const pulled = await pullThrough(cache);
                expect(pulled.code, `${cache.container} serves the image: ${pulled.output}`).toBe(0);
            }
            const removed = cachesOf(before.resources).filter((c) => !kept.some((k) => k.container === c.container));
            for (const cache of removed) {
                expect(engine.docker(["inspect", cache.container]).code, `${cache.container} is gone`).not.toBe(0);
                expect(existsSync(onDisk(cache.dataDir)), `${cache.dataDir} is gone`).toBe(false);
                if (cache.socketDir) expect(existsSync(onDisk(cache.socketDir)), `${cache.socketDir} is gone`).toBe(false);
            }
            expect(existsSync(onDisk(MARKER)), "the registry's data").toBe(true);
            // No cache publishes a port any more; the former ones refuse connections.
            expect(publishedPorts()).toEqual([]);
            for (const cache of cachesOf(before.resources).filter((c) => c.port)) {
                expect(
                    ns.run("curl", ["-sS", "-o", "/dev/null", "--max-time", "5", `http://127.0.0.1:${cache.port}/v2/`]).code,
                    cache.port,
                ).toBe(7);
            }

            // B destroyed: nothing of any cache is left, the registry's data is.
            for (const step of cacheSteps(planOf(after.resources, undefined).steps)) {
                for (const s of stepScripts(step)) runStep(s.what, s.script, s.stdin);
            }
            for (const cache of [...kept, ...removed]) {
                expect(engine.docker(["inspect", cache.container]).code, `${cache.container} after destroy`).not.toBe(0);
                expect(existsSync(onDisk(cache.dataDir)), `${cache.dataDir} after destroy`).toBe(false);
                if (cache.socketDir) expect(existsSync(onDisk(cache.socketDir)), `${cache.socketDir} after destroy`).toBe(false);
            }
            expect(existsSync(onDisk(MARKER)), "the registry's data after destroy").toBe(true);
        });
    },
);
