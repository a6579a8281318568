/**
 * The external host's pull-through caches across `pulumi up`s that change `registry.mirrors`, replayed
 * the way the engine runs them: the program (prod stack config, under mocks) gives each config's cache
 * commands; a command whose script changed runs its create again (a Command without triggers is
 * updated in place, `create` standing in for `update`), new ones are created, and only after all of
 * them the commands of removed mirrors run their delete with their old script. Everything runs over
 * SSH against a real Docker engine in a test network namespace that plays the registry host.
 *
 * Checked after each transition: no step failed, and every listed cache runs on the loopback port the
 * program gave it, while removed caches are gone.
 */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { hostMirrorPorts } from "../../components/mirrors/hostCaches";
import { readStackConfig, runProgram } from "../../tools/synth";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { registryImage } from "../support/dockerImages";
import { createNetns, type TestNetns } from "../support/netns";
import { privateDir, removeDir } from "../support/serverProcess";
import { type SshServer, startSshServer } from "../support/sshServer";
import { PROJECT_DIR } from "../support/synthCli";

/** A cache command of one config: its create and delete scripts, without the `sudo -n ` a root session does not need. */
interface CacheCommand {
    readonly create: string;
    readonly delete: string;
}

let ns: TestNetns;
let engine: DockerEngine;
let ssh: SshServer;
let scratch: string;

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

/** The cache containers and the loopback port each is published on. */
function runningCaches(): Record<string, string> {
    const names = engine
        .dockerOk(["ps", "--format", "{{.Names}}"])
        .split("\n")
        .filter((n) => n.startsWith("dso-registry-mirror-"));
    return Object.fromEntries(
        names.map((n) => [n, engine.dockerOk(["inspect", "-f", '{{(index (index .HostConfig.PortBindings "5000/tcp") 0).HostPort}}', n])]),
    );
}

/** What `runningCaches` must show for `upstreams`: each on the port the program derives from its name. */
function expectedCaches(upstreams: readonly string[]): Record<string, string> {
    const names = upstreams.map((u) => u.replace(":", "-"));
    const ports = hostMirrorPorts(names);
    return Object.fromEntries(names.map((n) => [`dso-registry-mirror-${n}`, String(ports.get(n))]));
}

/** Each cache's config.yml, as the synth's config write places it (the container mounts it). */
function placeConfigs(upstreams: readonly string[]): void {
    for (const upstream of upstreams) {
        const dir = path.join(ssh.root, "etc/dso-registry/mirrors", upstream.replace(":", "-"));
        mkdirSync(dir, { recursive: true });
        step(
            `config of ${upstream}`,
            `cat > '${dir}/config.yml' <<'EOF'\nversion: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\nhttp:\n  addr: :5000\nproxy:\n  remoteurl: http://127.0.0.1:9\nEOF`,
        );
    }
}

/** A registry name whose cache gets the same derived port as `name` (a hash collision, found by trying). */
function collidingWith(name: string): string {
    const want = hostMirrorPorts([name]).get(name);
    for (let i = 0; ; i++) {
        const candidate = `c${i}.example.test`;
        if (hostMirrorPorts([candidate]).get(candidate) === want) return candidate;
    }
}

beforeAll(async () => {
    scratch = privateDir("mirror-transitions");
    ns = await createNetns({ prefix: "mtr", subnet: "198.18.240.0/20" });
    engine = await startDockerEngine(ns);
    registryImage(engine);
    ssh = await startSshServer({ netns: ns, env: { DOCKER_HOST: engine.host, PATH: "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" } });
}, 300_000);

afterAll(async () => {
    await ssh?.stop();
    await engine?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
}, 120_000);

describe("external-host caches across `pulumi up`s that change registry.mirrors, in the engine's order, on a real Docker engine", () => {
    const first = ["docker.io", "ghcr.io", "registry.k8s.io"];
    const collider = collidingWith("docker.io");
    const configs: Record<string, Map<string, CacheCommand>> = {};

    beforeAll(async () => {
        for (const list of [first, first.slice(1), ["registry.k8s.io", "ghcr.io", "docker.io"], ["ghcr.io", collider]]) {
            configs[list.join(",")] = await cacheCommands(list);
        }
        placeConfigs([...first, collider]);
    }, 180_000);

    const commandsOf = (list: readonly string[]) => configs[list.join(",")]!;

    test("first up: every cache runs on its own port", () => {
        up(new Map(), commandsOf(first));
        expect(runningCaches()).toEqual(expectedCaches(first));
    });

    test("the first mirror removed: the others keep running, the removed cache is gone", () => {
        up(commandsOf(first), commandsOf(first.slice(1)));
        expect(runningCaches()).toEqual(expectedCaches(first.slice(1)));
    });

    test("added back and reordered: every cache runs, none collides", () => {
        const reordered = ["registry.k8s.io", "ghcr.io", "docker.io"];
        up(commandsOf(first.slice(1)), commandsOf(reordered));
        expect(runningCaches()).toEqual(expectedCaches(reordered));
    });

    test("a removed cache's port taken by a new mirror in the same up: the new cache gets it", () => {
        expect(hostMirrorPorts([collider]).get(collider)).toBe(hostMirrorPorts(["docker.io"]).get("docker.io"));
        up(commandsOf(["registry.k8s.io", "ghcr.io", "docker.io"]), commandsOf(["ghcr.io", collider]));
        expect(runningCaches()).toEqual(expectedCaches(["ghcr.io", collider]));
    });
});
