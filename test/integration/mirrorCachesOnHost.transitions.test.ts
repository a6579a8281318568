/**
 * The external host's pull-through caches across `pulumi up`s that change `registry.mirrors`, replayed
 * the way the engine runs them: the program (prod stack config, under mocks) gives each config's cache
 * commands; a command whose script changed runs its create again (a Command without triggers is
 * updated in place, `create` standing in for `update`), new ones are created, and only after all of
 * them the commands of removed mirrors run their delete with their old script. Everything runs over
 * SSH against a real Docker engine in a test network namespace that plays the registry host.
 *
 * Checked after each transition: no step failed, every listed cache runs and answers on the unix socket
 * the program named after it (as Caddy's user), and nothing of a removed cache is left: no container,
 * no socket directory, no storage.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { defaultHostLayout, mirrorsDirOf } from "../../components/externalHost/scripts";
import { hostMirrorFiles, hostMirrorPaths } from "../../components/mirrors/hostCaches";
import { readStackConfig, runProgram } from "../../tools/synth";
import { type CacheHost, startCacheHost } from "../support/cacheHost";
import type { DockerEngine } from "../support/dockerEngine";
import type { TestNetns } from "../support/netns";
import { CADDY_USER, socketRequestAs } from "../support/socketRequest";
import type { SshServer } from "../support/sshServer";
import { PROJECT_DIR } from "../support/synthCli";

/** A cache command of one config: its create and delete scripts, without the `sudo -n ` a root session does not need. */
interface CacheCommand {
    readonly create: string;
    readonly delete: string;
}

let host: CacheHost;
let ns: TestNetns;
let engine: DockerEngine;
let ssh: SshServer;

/** The prod stack's layout (Pulumi.prod.yaml: dataDir /srv/data/registry). */
const layout = defaultHostLayout("/srv/data/registry");
const pathsOf = (name: string) =>
    hostMirrorPaths({ pathName: name }, mirrorsDirOf(layout.dataDir), layout.registryConfigDir, layout.mirrorSocketsDir);
const UPSTREAM_PORT = 5300;

/** The cache commands (`…-mirrors-<name>-run`) the program registers for the prod stack with `upstreams` as its mirrors. */
async function cacheCommands(upstreams: readonly string[]): Promise<Map<string, CacheCommand>> {
    const stackConfig = readStackConfig(PROJECT_DIR, "prod");
    const registry = JSON.parse(stackConfig.config["dso-registry:registry"]!);
    registry.mirrors = upstreams.map((upstream) => ({ upstream }));
    const run = await runProgram("prod", {
        ...stackConfig,
        config: { ...stackConfig.config, "dso-registry:registry": JSON.stringify(registry) },
    });
    const plain = (script: unknown) => String(script).replace(/^sudo -n /, "");
    return new Map(
        run.resources
            .filter((r) => r.type === "command:remote:Command" && /-mirrors-.*-run$/.test(r.name))
            .map((r) => [r.name, { create: plain(r.inputs.create), delete: plain(r.inputs.delete) }]),
    );
}

/** Runs a script over SSH; throws with its output when it fails, as the engine fails the step. */
function step(what: string, script: string): void {
    const result = ssh.runScript(script);
    if (result.code !== 0) throw new Error(`${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
}

/**
 * One `pulumi up` from the commands of `before` to those of `after`, in the engine's order: creates and
 * updates (changed scripts), then the deletes of removed commands with their stored scripts.
 */
function up(before: Map<string, CacheCommand>, after: Map<string, CacheCommand>): void {
    for (const [name, command] of after) {
        if (before.get(name)?.create !== command.create) step(`create/update of ${name}`, command.create);
    }
    for (const [name, command] of before) {
        if (!after.has(name)) step(`delete of ${name}`, command.delete);
    }
}

/** The cache containers and the socket directory each has mounted as Distribution's. */
function runningCaches(): Record<string, string> {
    const names = engine
        .dockerOk(["ps", "--format", "{{.Names}}"])
        .split("\n")
        .filter((n) => n.startsWith("dso-registry-mirror-"));
    return Object.fromEntries(
        names.map((n) => [
            n,
            engine.dockerOk(["inspect", "-f", '{{range .Mounts}}{{if eq .Destination "/run/dso-registry"}}{{.Source}}{{end}}{{end}}', n]),
        ]),
    );
}

/** What `runningCaches` must show for `upstreams`: each on the socket directory the program names after it. */
function expectedCaches(upstreams: readonly string[]): Record<string, string> {
    return Object.fromEntries(
        upstreams.map((u) => u.replace(":", "-")).map((n) => [`dso-registry-mirror-${n}`, path.join(ssh.root, pathsOf(n).socketDir)]),
    );
}

/** Waits until each cache of `upstreams` answers on its socket as Caddy's user; returns each one's status. */
async function answers(upstreams: readonly string[]): Promise<Record<string, string>> {
    const status = (n: string) => socketRequestAs(ns, CADDY_USER, path.join(ssh.root, pathsOf(n).socket), "http://localhost/v2/").stdout;
    const names = upstreams.map((u) => u.replace(":", "-"));
    for (let i = 0; i < 100 && names.some((n) => status(n) !== "200"); i++) await new Promise((r) => setTimeout(r, 100));
    return Object.fromEntries(names.map((n) => [n, status(n)]));
}

/** What is left on the host of the cache of `upstream`: its container, socket directory, storage. */
function leftOf(upstream: string): string[] {
    const p = pathsOf(upstream.replace(":", "-"));
    return [
        ...(engine.docker(["inspect", p.container]).code === 0 ? [p.container] : []),
        ...[p.socketDir, p.dataDir].filter((d) => existsSync(path.join(ssh.root, d))),
    ];
}

/** Each cache's files, as the program renders them and the synth's file writes place them (the container mounts them). */
function placeConfigs(upstreams: readonly string[]): void {
    for (const upstream of upstreams) {
        const dir = path.join(ssh.root, pathsOf(upstream.replace(":", "-")).configDir);
        mkdirSync(dir, { recursive: true });
        const files = hostMirrorFiles({ remoteUrl: `http://${ns.address}:${UPSTREAM_PORT}`, ttl: "168h" });
        for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
    }
}

beforeAll(async () => {
    host = await startCacheHost({ name: "mirror-transitions", prefix: "mtr", subnet: "198.18.240.0/20", upstreamPort: UPSTREAM_PORT });
    ({ ns, engine, ssh } = host);
}, 300_000);

afterAll(() => host?.stop(), 120_000);

describe("external-host caches across `pulumi up`s that change registry.mirrors, in the engine's order, on a real Docker engine", () => {
    const first = ["docker.io", "ghcr.io", "registry.k8s.io"];
    const reordered = ["registry.k8s.io", "ghcr.io", "docker.io"];
    const swapped = ["ghcr.io", "quay.io"];
    const configs: Record<string, Map<string, CacheCommand>> = {};

    beforeAll(async () => {
        for (const list of [first, first.slice(1), reordered, swapped]) {
            configs[list.join(",")] = await cacheCommands(list);
        }
        placeConfigs([...first, "quay.io"]);
    }, 180_000);

    const commandsOf = (list: readonly string[]) => configs[list.join(",")]!;
    const serving = (list: readonly string[]) => Object.fromEntries(list.map((u) => [u.replace(":", "-"), "200"]));

    test("first up: every cache runs and answers on its own socket", async () => {
        up(new Map(), commandsOf(first));
        expect(runningCaches()).toEqual(expectedCaches(first));
        expect(await answers(first)).toEqual(serving(first));
    });

    test("the first mirror removed: the others keep running and answering, nothing of the removed cache is left", async () => {
        up(commandsOf(first), commandsOf(first.slice(1)));
        expect(runningCaches()).toEqual(expectedCaches(first.slice(1)));
        expect(await answers(first.slice(1))).toEqual(serving(first.slice(1)));
        expect(leftOf("docker.io")).toEqual([]);
    });

    test("added back and reordered: every cache runs and answers on its own socket", async () => {
        up(commandsOf(first.slice(1)), commandsOf(reordered));
        expect(runningCaches()).toEqual(expectedCaches(reordered));
        expect(await answers(reordered)).toEqual(serving(reordered));
    });

    test("caches removed and one added in the same up: the new one answers, the kept one too, nothing of the removed ones is left", async () => {
        up(commandsOf(reordered), commandsOf(swapped));
        expect(runningCaches()).toEqual(expectedCaches(swapped));
        expect(await answers(swapped)).toEqual(serving(swapped));
        expect([...leftOf("docker.io"), ...leftOf("registry.k8s.io")]).toEqual([]);
    });
});
