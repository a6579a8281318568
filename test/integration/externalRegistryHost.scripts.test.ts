/**
 * The external host's scripts, as the prod stack's synth renders them (hosts/<host>/commands/*.sh and
 * the placed upkeep scripts), run for real over SSH against a real Docker engine: a test network
 * namespace plays the registry host, with OpenSSH, dockerd (Debian's docker.io, the locally built
 * default `registry.image` and `registry.caddyImage`: the front's container runs on the namespace's
 * network, as on the host's) and curl all inside it, so Distribution's former port 127.0.0.1:5000 and
 * Caddy's default admin endpoint are the namespace's own. Files land under a private root (DSO_ROOT)
 * that dockerd bind-mounts from.
 * Results are checked with `docker inspect`, real pushes and pulls through Caddy, and the data
 * directory.
 *
 * What differs from production, and why: the prod stack gets its certificate from ACME, which cannot
 * run here, so Caddy serves a test CA's certificate from a Caddyfile rendered by the same function
 * for the same policy, and the namespace's CA bundle (/etc/ssl) holds that test CA, so the synth's
 * post-deploy check (which trusts the system store) runs unchanged. The users files are the synth's
 * secrets, so the test places its own. The UI is off in the prod stack: its script runs from the
 * renderer with a stand-in image (busybox httpd; joxit/docker-registry-ui cannot be pulled here).
 * The metrics relay runs from a `caddy:2.11.9` image built here from the pinned Caddy (dockerImages.ts).
 */
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { retentionScript } from "../../components/externalHost/backupScripts";
import { CONNECTION_CAP_TABLE, CONNECTIONS_PER_ADDRESS } from "../../components/externalHost/connectionCap";
import { monitoringPaths } from "../../components/externalHost/hostMonitoring";
import { DEBUG_LISTENER_PORT, METRICS_RELAY_CONTAINER, metricsRelayDir } from "../../components/externalHost/metricsRelay";
import { purgeMarkerScript, purgeOnDestroyScript } from "../../components/externalHost/purgeOnDestroy";
import {
    type ContainerSpec,
    containerScript,
    FRONT_CONTAINER,
    packagesScript,
    postDeployCheckScript,
    UI_CONTAINER,
    UI_HOST_PORT,
    uiContainerScript,
} from "../../components/externalHost/scripts";
import { placeFileScript } from "../../components/shared/hostAccess";
import { DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { type DockerClient, type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, pinnedCaddyImage, registryImage, uiStandInImage } from "../support/dockerImages";
import { createNetns, type TestNetns } from "../support/netns";
import {
    PROD_HOST,
    type ProdHostSynth,
    prodFrontCaddyfile,
    prodHostSynth,
    prodLayout,
    prodPaths,
    REGISTRY_CONFIG_FILES,
} from "../support/prodHostSynth";
import { makeAccount, makeTestCa, type TestAccount } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";
import { CADDY_USER, NOBODY, socketRequestAs } from "../support/socketRequest";
import { type SshServer, startSshServer } from "../support/sshServer";

const HOST = PROD_HOST;
const layout = prodLayout;
const paths = prodPaths;
const CONTAINER = "dso-registry";

let ns: TestNetns;
let engine: DockerEngine;
let ssh: SshServer;
let scratch: string;
let synth: ProdHostSynth;
let push: TestAccount;
let pusher: DockerClient;

/** Where a host path really is (under the SSH server's private root). */
const onDisk = (p: string) => path.join(ssh.root, p);
/**
 * A command script the synth wrote for the registry host, e.g. "registry-host-container-run.create".
 * The prod stack logs in as a sudo user, so privileged steps start with `sudo -n `; the test session
 * is root already (and sudo would drop DSO_ROOT), so that prefix is removed: what remains is exactly
 * what a root login runs.
 */
function synthCommand(name: string): string {
    const text = synth.command(name);
    return text.startsWith("sudo -n sh -c ") ? text.slice("sudo -n ".length) : text;
}
/** A file the synth places on the registry host, by its absolute path there. */
const synthFile = (hostPath: string) => synth.file(hostPath);

function runOk(script: string, stdin = ""): string {
    const result = ssh.runScript(script, stdin);
    if (result.code !== 0) throw new Error(`script failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    return result.stdout.trim();
}

/** Places a file the way the synth's own write command does (stdin carries the body). */
const placeAsSynth = (resource: string, body: string) => runOk(synthCommand(`registry-host-${resource}-write.create`), body);
const place = (hostPath: string, body: string, mode = "0644") => runOk(placeFileScript({ path: hostPath, mode }, false), body);

/** `docker inspect` of the registry container as JSON, or undefined when there is none. */
function inspect(name = CONTAINER): Record<string, any> | undefined {
    const result = engine.docker(["inspect", name]);
    return result.code === 0 ? JSON.parse(result.stdout)[0] : undefined;
}

/** The label the synth's container script gives the container it creates. */
function synthFingerprint(): string {
    const want = /REGISTRY_FINGERPRINT='\\''([0-9a-f]+)'\\''/.exec(synthCommand("registry-host-container-run.create"))?.[1];
    if (!want) throw new Error("the synth's container script has no fingerprint");
    return want;
}

const checkScript = () => synthCommand("registry-host-check-run.create");

/** The metrics relay's container as `docker inspect` shows it, or undefined when there is none. */
const relay = () => inspect(METRICS_RELAY_CONTAINER);

/** An HTTP request from the host (the namespace): its status and body; status "000" when nothing answers. */
function ask(url: string, method = "GET"): { status: string; body: string } {
    // curl's own HEAD (-I) reads no body; -X HEAD would wait for one.
    const how = method === "HEAD" ? ["-I"] : ["-X", method];
    const r = ns.run("curl", ["-s", ...how, "-w", "\n%{http_code}", "--max-time", "5", url]).stdout;
    const at = r.lastIndexOf("\n");
    return { status: r.slice(at + 1), body: r.slice(0, at) };
}

/**
 * What the host's loopback port 5091 gives for each of Distribution's debug paths, and whether the
 * relay runs in the namespaces of the registry container that runs now.
 */
function metricsExposure() {
    const registry = inspect();
    const r = relay();
    return {
        relayInRegistryNamespaces: [r?.State.Running, r?.HostConfig.NetworkMode, r?.HostConfig.PidMode],
        registryId: registry?.Id,
        metrics: ask("http://127.0.0.1:5091/metrics").status,
        pprof: ask("http://127.0.0.1:5091/debug/pprof/").status,
        vars: ask("http://127.0.0.1:5091/debug/vars").status,
    };
}
/** What metricsExposure gives when only /metrics is reachable, through a relay in the running registry's namespaces. */
const onlyMetrics = () => ({
    relayInRegistryNamespaces: [true, `container:${inspect()?.Id}`, `container:${inspect()?.Id}`],
    registryId: inspect()?.Id,
    metrics: "200",
    pprof: "404",
    vars: "404",
});

/** Someone else's container: a web server the stack did not make (no label dso-registry.spec). */
const FOREIGN_IMAGE = "dso-test/registry-ui:stand-in";
/** What tells a container apart, and whether and since when it runs; undefined when there is none. */
function containerState(name: string): string | undefined {
    const result = engine.docker(["inspect", "-f", "{{.Id}} {{.State.Running}} {{.State.StartedAt}}", name]);
    return result.code === 0 ? result.stdout.trim() : undefined;
}
/** What the stack's scripts print when they stop at a container of `name` that the stack did not make (container-converge.sh). */
const refusal = (name: string) => `A container named ${name} exists on this Docker host and this stack did not make it`;

/**
 * Runs `check` while `name` is someone else's container, made by `docker VERB` (run: running; create:
 * stopped), the stack's own of that name set aside under another name meanwhile; then removes the
 * other one and puts the stack's back.
 */
function withForeignContainer(name: string, verb: "run" | "create", check: (foreignState: string) => void): void {
    const aside = `${name}-aside`;
    const hadOurs = inspect(name) !== undefined;
    if (hadOurs) engine.dockerOk(["rename", name, aside]);
    try {
        engine.dockerOk([verb, ...(verb === "run" ? ["-d"] : []), "--name", name, FOREIGN_IMAGE]);
        check(containerState(name) as string);
    } finally {
        engine.docker(["rm", "-f", name]);
        if (hadOurs) engine.dockerOk(["rename", aside, name]);
    }
}

/** Polls until `check` holds, at most `seconds` (30); Docker restarts containers with a back-off. */
async function eventually(check: () => boolean, seconds = 30): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
}

/** The job reporter the synth places, and a series of the outcome it left for node_exporter's textfile collector. */
const REPORTER = "/usr/local/sbin/dso-registry-report";
function outcome(task: string, series: string): number | undefined {
    const file = onDisk(`/var/lib/prometheus/node-exporter/dso_registry_${task}.prom`);
    const value = new RegExp(`^dso_registry_upkeep_${series}\\{task="${task}"\\} (\\d+)$`, "m").exec(readFileSync(file, "utf8"))?.[1];
    return value === undefined ? undefined : Number(value);
}

/** Pushes a new image as the push account; returns its reference. */
function pushImage(repository: string, tag: string): string {
    const ref = payloadImage(pusher, `${HOST}/${repository}:${tag}`, { payloadBytes: 32 * 1024 });
    pusher.dockerOk(["push", ref]);
    return ref;
}

beforeAll(async () => {
    synth = prodHostSynth();

    scratch = privateDir("host-scripts");
    const ca = makeTestCa(path.join(scratch, "tls"), [HOST]);
    ns = await createNetns({ prefix: "dk", subnet: "198.18.16.0/20" });
    ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${HOST}\n`);
    // The host's system trust store holds the test CA, as it would hold the ACME CA's root.
    ns.writeEtcFile("ssl/certs/ca-certificates.crt", ca.caCertPem);
    engine = await startDockerEngine(ns);
    registryImage(engine);
    pinnedCaddyImage(engine);
    uiStandInImage(engine);
    ssh = await startSshServer({
        netns: ns,
        env: { DOCKER_HOST: engine.host, PATH: "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    mkdirSync(onDisk("/etc/cron.d"), { recursive: true });
    place(paths.tlsCert, readFileSync(ca.serverCertFile, "utf8"));
    place(paths.tlsKey, readFileSync(ca.serverKeyFile, "utf8"), "0600");
    push = makeAccount("jenkins-push");
    pusher = engine.client();
});

afterAll(async () => {
    await ssh?.stop();
    await engine?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

describe("the external host's scripts over SSH, against a real Docker engine", () => {
    test("the package check finds everything present and changes nothing", () => {
        expect(runOk(synthCommand("registry-host-packages-install.create"))).toBe("unchanged packages");
    });

    test("the package check names what is missing and how to fix it", () => {
        const result = ssh.runScript(
            `PATH=/nonexistent; export PATH; ${packagesScript(false).replace("set -eu", "set -eu; command() { return 1; }")}`,
        );
        expect(result.code).not.toBe(0);
        // The front is an image Docker runs: no Caddy package is asked for.
        expect(result.stderr).toMatch(/missing on the registry host: docker curl flock nftables\. .*installPackages: true/);
        expect(result.stderr).not.toContain("caddy");
    });

    test("the data directory is created once", () => {
        const script = synthCommand("registry-host-packages-data-dir.create");
        expect(runOk(script)).toBe(`changed ${onDisk(layout.dataDir)}`);
        expect(runOk(script)).toBe(`unchanged ${onDisk(layout.dataDir)}`);
    });

    test("first run: the container runs as specified, the front starts, and the post-deploy check passes", () => {
        for (const [resource, hostPath] of REGISTRY_CONFIG_FILES) {
            expect(placeAsSynth(resource, synthFile(hostPath))).toMatch(/^changed /);
        }
        placeAsSynth("caddy-users-push", renderUsersFile("push", [push]));
        placeAsSynth("caddy-users-pull", renderUsersFile("pull", [makeAccount("cluster-pull")]));
        placeAsSynth("caddy-caddyfile", prodFrontCaddyfile());

        expect(runOk(synthCommand("registry-host-container-run.create"))).toBe("changed container");
        const c = inspect();
        expect({
            running: c?.State.Running,
            image: c?.Config.Image,
            args: c?.Args,
            restart: c?.HostConfig.RestartPolicy.Name,
            ports: c?.HostConfig.PortBindings,
            label: c?.Config.Labels["dso-registry.spec"],
            mounts: c?.Mounts.map((m: any) => [m.Source, m.Destination, m.RW]).sort(),
            // Distribution 3 would export traces without it (DISTRIBUTION.environment).
            tracing: ((c?.Config.Env ?? []) as string[]).filter((e) => e.startsWith("OTEL_")),
        }).toEqual({
            running: true,
            image: DEPLOYED_REGISTRY_IMAGE,
            args: ["sh", "-c", 'umask 0007 && exec registry serve "$1"', "registry", "/etc/dso-registry/config.yml"],
            restart: "unless-stopped",
            // No API port (Distribution is on a unix socket); only its metrics listener (monitoring, on by default), on loopback.
            ports: { "5091/tcp": [{ HostIp: "127.0.0.1", HostPort: "5091" }] },
            label: synthFingerprint(),
            mounts: [
                [onDisk("/etc/dso-registry"), "/etc/dso-registry", false],
                [onDisk("/run/dso-registry"), "/run/dso-registry", true],
                [onDisk(layout.dataDir), "/var/lib/registry", true],
            ],
            tracing: ["OTEL_TRACES_EXPORTER=none"],
        });
        expect(runOk(synthCommand("registry-host-caddy-reload.create"))).toBe("changed connection cap\nchanged caddy");
        // The cap on connections per client address, in the host's nftables, and loaded again at boot.
        // The prod stack's certificate is ACME's: port 80 is the front's too.
        expect(ns.run("nft", ["list", "table", "inet", CONNECTION_CAP_TABLE]).stdout).toContain(
            `tcp dport { 80, 443 } ct state new add @ipv4 { ip saddr ct count over ${CONNECTIONS_PER_ADDRESS} } reject with tcp reset`,
        );
        expect(readFileSync(onDisk(paths.connectionCapCron), "utf8")).toContain(`@reboot root nft -f ${paths.connectionCapRules} `);
        const front = inspect(FRONT_CONTAINER);
        expect({
            image: front?.Config.Image,
            network: front?.HostConfig.NetworkMode,
            capDrop: front?.HostConfig.CapDrop,
            capAdd: front?.HostConfig.CapAdd,
        }).toEqual({ image: "caddy:2.11.9", network: "host", capDrop: ["ALL"], capAdd: ["NET_BIND_SERVICE"] });
        // The second apply of the same files: a reload inside the running front.
        expect(runOk(synthCommand("registry-host-caddy-reload.create"))).toBe("reloaded caddy");
        expect(inspect(FRONT_CONTAINER)?.Id).toBe(front?.Id);
        const check = runOk(checkScript());
        expect(check.split("\n").filter((l) => l.startsWith("ok"))).toHaveLength(3);
    });

    test("only Distribution's /metrics is reachable, on the host's loopback, through the relay in the registry's namespaces", () => {
        const r = relay();
        expect({
            image: r?.Config.Image,
            cmd: r?.Config.Cmd,
            restart: r?.HostConfig.RestartPolicy.Name,
            ports: r?.HostConfig.PortBindings,
            mounts: r?.Mounts.map((m: any) => [m.Source, m.Destination, m.RW]),
        }).toEqual({
            image: "caddy:2.11.9",
            cmd: ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
            restart: "unless-stopped",
            ports: {},
            mounts: [[onDisk(metricsRelayDir(layout.registryConfigDir)), "/etc/caddy", false]],
        });
        expect(metricsExposure()).toEqual(onlyMetrics());
        const metrics = ask("http://127.0.0.1:5091/metrics");
        expect(metrics.body).toMatch(/^registry_\w+/m);
        expect(ask("http://127.0.0.1:5091/metrics", "HEAD").status).toBe("200");
        expect(ask("http://127.0.0.1:5091/metrics", "POST").status).toBe("404");
        expect(ask("http://127.0.0.1:5091/debug/pprof/profile?seconds=1").status).toBe("404");
        // Not on the host's network address, and the debug listener not on the container's own address
        // (where the relay answers as on loopback).
        expect(ask(`http://${ns.address}:5091/metrics`).status).toBe("000");
        const containerAddress: string = inspect()?.NetworkSettings.IPAddress;
        expect(containerAddress).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
        expect(ask(`http://${containerAddress}:${DEBUG_LISTENER_PORT}/debug/vars`).status).toBe("000");
        expect(ask(`http://${containerAddress}:5091/debug/vars`).status).toBe("404");
    });

    test("no path around the front: Distribution's former port and Caddy's TCP admin endpoint refuse connections", () => {
        for (const url of ["http://127.0.0.1:5000/v2/", "http://localhost:2019/config/"]) {
            expect([url, ns.run("curl", ["-sS", "-o", "/dev/null", "--max-time", "5", url]).code]).toEqual([url, 7]);
        }
        // The socket is Caddy's group's only; another user of the host cannot connect.
        const socket = onDisk(paths.registrySocket);
        expect(ns.run("stat", ["-c", "%A %U %G", socket]).stdout.trim()).toBe("srwxrwx--- root caddy");
        const asNobody = socketRequestAs(ns, NOBODY, socket, "http://localhost/v2/");
        expect(asNobody.code).toBe(7);
        const asCaddy = socketRequestAs(ns, CADDY_USER, socket, "http://localhost/v2/");
        expect(asCaddy.stdout).toBe("200");
        // The admin API's socket is inside the front's container, on a tmpfs of its own: nothing on the host reaches it.
        expect(engine.docker(["exec", FRONT_CONTAINER, "sh", "-c", `test -S ${layout.caddyAdminSocket}`]).code).toBe(0);
        expect(existsSync(onDisk(layout.caddyAdminSocket))).toBe(false);
    });

    test("an image pushed through Caddy with the push account lands in the data directory and pulls back", () => {
        expect(pusher.login(HOST, push).code).toBe(0);
        const ref = pushImage("team/app", "1");
        expect(existsSync(onDisk(`${layout.dataDir}/docker/registry/v2/repositories/team/app/_manifests/tags/1`))).toBe(true);
        pusher.dockerOk(["rmi", ref]);
        const pulled = pusher.docker(["pull", ref]);
        expect(pulled.code).toBe(0);
        expect(pulled.stdout).toContain(`Downloaded newer image for ${ref}`);
    });

    test("a second run changes nothing: the same container keeps running", () => {
        const before = [inspect()?.Id, relay()?.Id];
        expect(runOk(synthCommand("registry-host-container-run.create"))).toBe("unchanged container");
        expect([inspect()?.Id, relay()?.Id]).toEqual(before);
        expect(placeAsSynth("caddy-caddyfile", prodFrontCaddyfile())).toMatch(/^unchanged/);
    });

    test("a missing relay alone is run again, the registry left as it is", () => {
        const before = inspect()?.Id;
        engine.dockerOk(["rm", "-f", METRICS_RELAY_CONTAINER]);
        expect(ask("http://127.0.0.1:5091/metrics").status).toBe("000");
        expect(runOk(synthCommand("registry-host-container-run.create"))).toBe("unchanged container\nchanged metrics relay");
        expect(inspect()?.Id).toBe(before);
        expect(metricsExposure()).toEqual(onlyMetrics());
    });

    test("a stopped container is started again by the next run, with a new relay", () => {
        const relayBefore = relay()?.Id;
        engine.dockerOk(["stop", CONTAINER]);
        expect(runOk(synthCommand("registry-host-container-run.create"))).toBe("changed container");
        expect(inspect()?.State.Running).toBe(true);
        expect(relay()?.Id).not.toBe(relayBefore);
        expect(metricsExposure()).toEqual(onlyMetrics());
    });

    test("when Docker restarts a registry that died, the relay is back in its new namespace: by its own restart, or by the five-minute probe when it came first", async () => {
        const before = inspect();
        // Killed from outside (docker kill would count as a stop and keep it down).
        process.kill(before?.State.Pid, "SIGKILL");
        await eventually(() => inspect()?.RestartCount > before?.RestartCount && inspect()?.State.Running === true);
        expect(inspect()?.RestartCount).toBeGreaterThan(before?.RestartCount);
        // Docker restarts both at once. A relay restarted before the registry's new namespace existed
        // cannot join it and is left down, as at boot (the next test); the probe then starts it again.
        await eventually(() => ask("http://127.0.0.1:5091/metrics").status === "200", 20);
        const probe = synthFile(monitoringPaths(layout).probe);
        await eventually(() => {
            if (ask("http://127.0.0.1:5091/metrics").status === "200") return true;
            runOk(probe);
            return ask("http://127.0.0.1:5091/metrics").status === "200";
        });
        expect(metricsExposure()).toEqual(onlyMetrics());
    });

    test("a relay that is not running while the registry runs is started again by the five-minute probe", () => {
        // The state a boot can leave: Docker starts the registry, and the relay, which joins the registry's
        // namespaces, fails to start when it comes first. Made here by stopping the relay alone.
        engine.dockerOk(["stop", METRICS_RELAY_CONTAINER]);
        expect([inspect()?.State.Running, relay()?.State.Running, ask("http://127.0.0.1:5091/metrics").status]).toEqual([
            true,
            false,
            "000",
        ]);
        const probe = synthFile(monitoringPaths(layout).probe);
        expect(runOk(probe)).toBe("started the metrics relay again");
        expect(metricsExposure()).toEqual(onlyMetrics());
        // Nothing to do the next time.
        expect(runOk(probe)).toBe("");
    });

    test("the follow-up of a repaired file (DSO_RECREATE) makes the registry and its relay anew, which the run command alone does not", () => {
        const run = synthCommand("registry-host-container-run.create");
        const ids = () => [inspect()?.Id, relay()?.Id];
        const before = ids();
        expect(runOk(run)).toBe("unchanged container");
        expect(ids()).toEqual(before);
        // As HostFilesCheck runs it after putting config.yml back (recreatingScript): the containers read their files again.
        expect(runOk(`DSO_RECREATE=1 ${run}`)).toBe("changed container\nchanged metrics relay");
        const after = ids();
        expect(after[0]).not.toBe(before[0]);
        expect(after[1]).not.toBe(before[1]);
        expect(inspect()?.State.Running).toBe(true);
        expect(metricsExposure()).toEqual(onlyMetrics());
        expect(runOk(checkScript())).toContain("ok   anonymous read");
    });

    test("a changed spec recreates the container, with the images kept in the data directory", () => {
        const spec: ContainerSpec = { name: CONTAINER, image: DEPLOYED_REGISTRY_IMAGE, layout };
        const before = inspect()?.Id;
        // Without monitoring (the spec has no metrics): the relay is removed, nothing is published.
        expect(runOk(containerScript(spec, "another-spec"))).toBe("changed container\nremoved metrics relay");
        const after = inspect();
        expect(after?.Id).not.toBe(before);
        expect(after?.Config.Labels["dso-registry.spec"]).toBe("another-spec");
        expect([relay(), after?.HostConfig.PortBindings]).toEqual([undefined, {}]);
        expect(ask("http://127.0.0.1:5091/metrics").status).toBe("000");
        expect(runOk(synthCommand("registry-host-container-run.create"))).toBe("changed container");
        expect(metricsExposure()).toEqual(onlyMetrics());
        expect(runOk(checkScript())).toContain("ok   anonymous read");
        expect(pusher.docker(["pull", `${HOST}/team/app:1`]).code).toBe(0);
    });

    test("the check fails the update when the policy is not the expected one", () => {
        const result = ssh.runScript(
            postDeployCheckScript({ host: HOST, port: 443, requiresAuthForPull: true, loopbackRefused: false, waitSeconds: 30 }),
        );
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain("FAIL anonymous read: GET /v2/_catalog -> 200, expected 401");
    });

    test("an invalid Caddyfile is refused and the running config is kept", () => {
        place(layout.caddyfile, "registry.dso.example.com:443 {\n\tno_such_directive\n}\n");
        const result = ssh.runScript(synthCommand("registry-host-caddy-reload.create"));
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain("the running front was not changed");
        placeAsSynth("caddy-caddyfile", prodFrontCaddyfile());
        expect(ssh.runScript(checkScript()).code).toBe(0);
    });

    test("the status script shows the container, its log and the data size", () => {
        placeAsSynth("maintenance-status-script", synthFile(paths.statusScript));
        const out = runOk(`sh "$DSO_ROOT"${paths.statusScript}`);
        expect(out).toContain(`== container\ndso-registry ${DEPLOYED_REGISTRY_IMAGE} Up `);
        expect(out).toContain(`listening on ${paths.registrySocket}`);
    });

    test("the disk guard's marker makes the front refuse a push with 507 and the status say so; the guard's script, below its threshold, takes it away and pushes go on", () => {
        placeAsSynth("maintenance-disk-guard-script", synthFile(paths.diskGuardScript));
        // The front with the guard's marker in its policy, as the prod stack renders it, reloaded in its container.
        expect(synthFile(layout.caddyfile)).toContain(`try_files ${paths.diskFullMarker}`);
        placeAsSynth("caddy-caddyfile", prodFrontCaddyfile({ diskFullSignal: paths.diskFullMarker }));
        runOk(synthCommand("registry-host-caddy-reload.create"));
        // What the guard's script leaves past refusePercent (test/integration/diskGuard.test.ts fills a disk for it).
        const marker = onDisk(paths.diskFullMarker);
        writeFileSync(marker, "");
        const refused = pusher.docker(["push", payloadImage(pusher, `${HOST}/team/full:1`, { payloadBytes: 32 * 1024 })]);
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toContain("507 Insufficient Storage");
        expect(runOk(`sh "$DSO_ROOT"${paths.statusScript}`)).toMatch(/^== disk guard\nREFUSING new uploads/m);
        expect(runOk(`sh "$DSO_ROOT"${paths.diskGuardScript}`)).toMatch(/^data disk \d+% used, below 90% again: pushes resume$/);
        expect(existsSync(marker)).toBe(false);
        expect(runOk(`sh "$DSO_ROOT"${paths.statusScript}`)).toMatch(
            /^== disk guard\ntaking uploads; new ones are refused past 90% used$/m,
        );
        pusher.dockerOk(["push", `${HOST}/team/full:1`]);
        placeAsSynth("caddy-caddyfile", prodFrontCaddyfile());
        runOk(synthCommand("registry-host-caddy-reload.create"));
    });

    test("garbage collection runs read-only, frees the blobs of deleted manifests, and brings the registry back writable", () => {
        placeAsSynth("maintenance-gc-script", synthFile(paths.gcScript));
        placeAsSynth("maintenance-verify-script", synthFile(paths.verifyScript));
        // The jobs run themselves through the reporter (monitoring, on in the prod stack).
        placeAsSynth("monitoring-reporter", synthFile(REPORTER));
        const ref = pushImage("team/gc", "old");
        const digest = pusher.dockerOk(["inspect", "-f", "{{index .RepoDigests 0}}", ref]).split("@")[1]!;
        const manifest = ns.run("curl", [
            "-sS",
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            `https://${HOST}/v2/team/gc/manifests/${digest}`,
        ]);
        const layer: string = JSON.parse(manifest.stdout).layers[0].digest;
        const blob = onDisk(`${layout.dataDir}/docker/registry/v2/blobs/sha256/${layer.slice(7, 9)}/${layer.slice(7)}/data`);
        expect(existsSync(blob)).toBe(true);
        const removed = ns.run(
            "curl",
            ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", "-K", "-", `https://${HOST}/v2/team/gc/manifests/${digest}`],
            { input: `user = "${push.username}:${push.password}"\n` },
        );
        expect(removed.stdout).toBe("202");
        const before = inspect()?.Id;

        const out = runOk(`sh "$DSO_ROOT"${paths.gcScript}`);
        expect(out).toContain("registry is read-only; collecting garbage");
        expect(out).toContain(`blob eligible for deletion: sha256:${layer.slice(7)}`);
        expect(existsSync(blob)).toBe(false);
        const after = inspect();
        expect([after?.Id === before, after?.State.Running, after?.Config.Labels["dso-registry.spec"]]).toEqual([
            false,
            true,
            synthFingerprint(),
        ]);
        expect(after?.Args).toEqual(["sh", "-c", 'umask 0007 && exec registry serve "$1"', "registry", "/etc/dso-registry/config.yml"]);
        // The relay came back with the writable registry, in its namespaces.
        expect(metricsExposure()).toEqual(onlyMetrics());
        // The check that follows the collection found every tagged image whole.
        expect(out).toMatch(/verified: \d+ tagged images, \d+ blobs, all served/);
        // Both outcomes are left for node_exporter: the collection freed the deleted image's blobs.
        expect(outcome("gc", "success")).toBe(1);
        expect(outcome("gc", "bytes_freed")).toBeGreaterThan(0);
        expect(outcome("verify", "success")).toBe(1);
        pushImage("team/app", "after-gc");
    });

    test("dso-registry-retention removes old tags over Distribution's unix socket with curl, leaves its counts, and the collection frees them", () => {
        const repository = "team/retained/app";
        const link = (tag: string) =>
            onDisk(`${layout.dataDir}/docker/registry/v2/repositories/${repository}/_manifests/tags/${tag}/current/link`);
        const layerOf = (tag: string) => {
            const manifest = ns.run("curl", [
                "-sS",
                "-H",
                "Accept: application/vnd.docker.distribution.manifest.v2+json",
                `https://${HOST}/v2/${repository}/manifests/${tag}`,
            ]);
            const layer: string = JSON.parse(manifest.stdout).layers[0].digest;
            return onDisk(`${layout.dataDir}/docker/registry/v2/blobs/sha256/${layer.slice(7, 9)}/${layer.slice(7)}/data`);
        };
        const days = { b1: 30, b2: 20, b3: 10, latest: 40 } as const;
        for (const [tag, age] of Object.entries(days)) {
            pushImage(repository, tag);
            const when = new Date(Date.now() - age * 86_400_000);
            utimesSync(link(tag), when, when);
        }
        const oldLayer = layerOf("b1");
        const textfileDir = "/var/lib/prometheus/node-exporter";
        place(
            paths.retentionScript,
            retentionScript(
                { layout },
                { mode: "apply", rules: [{ prefix: "team/retained/", keepNewest: 1 }], protect: ["latest"] },
                textfileDir,
            ),
            "0755",
        );
        const out = runOk(`sh "$DSO_ROOT"${paths.retentionScript}`);
        expect([...out.matchAll(/^retention: removed (\S+) \(/gm)].map((m) => m[1]).sort(), out).toEqual([
            `${repository}:b1`,
            `${repository}:b2`,
        ]);
        const tags = ns.run("curl", ["-sS", `https://${HOST}/v2/${repository}/tags/list`]);
        expect((JSON.parse(tags.stdout) as { tags: string[] }).tags.sort()).toEqual(["b3", "latest"]);
        expect(readFileSync(onDisk(`${textfileDir}/dso_registry_retention.prom`), "utf8")).toContain(
            'dso_registry_retention_removed_tags{mode="apply"} 2',
        );
        expect(existsSync(oldLayer)).toBe(true);
        runOk(`sh "$DSO_ROOT"${paths.gcScript}`);
        expect(existsSync(oldLayer)).toBe(false);
    });

    test("a failed garbage collection still brings the writable registry back, and reports the failure", () => {
        // A repository whose manifest is not JSON makes Distribution's collector stop with an error.
        const v2 = onDisk(`${layout.dataDir}/docker/registry/v2`);
        const bogus = "1".repeat(64);
        const repository = `${v2}/repositories/team/broken`;
        const blobDir = `${v2}/blobs/sha256/11/${bogus}`;
        mkdirSync(`${repository}/_manifests/revisions/sha256/${bogus}`, { recursive: true });
        mkdirSync(`${repository}/_layers`, { recursive: true });
        writeFileSync(`${repository}/_manifests/revisions/sha256/${bogus}/link`, `sha256:${bogus}`);
        mkdirSync(blobDir, { recursive: true });
        writeFileSync(`${blobDir}/data`, "not a manifest");
        try {
            const before = inspect()?.Id;
            const lastSuccess = outcome("gc", "last_success_timestamp_seconds");
            const result = ssh.runScript(`sh "$DSO_ROOT"${paths.gcScript}`);
            expect(result.code).not.toBe(0);
            expect(result.stderr).toContain("failed to garbage collect");
            expect(outcome("gc", "success")).toBe(0);
            expect(outcome("gc", "last_success_timestamp_seconds")).toBe(lastSuccess);
            const after = inspect();
            expect([after?.Id === before, after?.State.Running, after?.Config.Labels["dso-registry.spec"]]).toEqual([
                false,
                true,
                synthFingerprint(),
            ]);
        } finally {
            removeDir(repository);
            removeDir(blobDir);
        }
        pushImage("team/app", "after-failed-gc");
    });

    test("the UI container runs on loopback with its settings, once", () => {
        const spec: ContainerSpec = { name: UI_CONTAINER, image: "dso-test/registry-ui:stand-in", hostPort: UI_HOST_PORT, layout };
        expect(runOk(uiContainerScript(spec, true, HOST))).toBe("changed ui container");
        expect(runOk(uiContainerScript(spec, true, HOST))).toBe("unchanged ui container");
        const c = inspect(UI_CONTAINER);
        expect(c?.HostConfig.PortBindings).toEqual({ "80/tcp": [{ HostIp: "127.0.0.1", HostPort: String(UI_HOST_PORT) }] });
        expect(c?.HostConfig.RestartPolicy.Name).toBe("unless-stopped");
        expect(c?.Config.Env).toEqual(
            expect.arrayContaining([
                "SINGLE_REGISTRY=true",
                `REGISTRY_TITLE=${HOST}`,
                "DELETE_IMAGES=true",
                "SHOW_CONTENT_DIGEST=true",
                "SHOW_CATALOG_NB_TAGS=true",
            ]),
        );
        expect(ns.run("curl", ["-sS", `http://127.0.0.1:${UI_HOST_PORT}/`]).stdout).toContain("registry UI stand-in");
        expect(runOk(uiContainerScript(spec, false, HOST))).toBe("changed ui container");
        expect(inspect(UI_CONTAINER)?.Config.Env).toContain("DELETE_IMAGES=false");
    });

    test("a metrics relay of someone else's stops `up`'s container step before any change, and is left running", () => {
        const registryBefore = inspect()?.Id;
        withForeignContainer(METRICS_RELAY_CONTAINER, "run", (foreign) => {
            const result = ssh.runScript(synthCommand("registry-host-container-run.create"));
            expect(result.code).not.toBe(0);
            expect(result.stderr).toContain(refusal(METRICS_RELAY_CONTAINER));
            expect(result.stderr).toContain(`docker rename ${METRICS_RELAY_CONTAINER} <another name>`);
            expect(containerState(METRICS_RELAY_CONTAINER)).toBe(foreign);
            expect(inspect()?.Id).toBe(registryBefore);
        });
        // The stack's own relay, back under its name, is the one the step keeps.
        expect(runOk(synthCommand("registry-host-container-run.create"))).toBe("unchanged container");
        expect(metricsExposure()).toEqual(onlyMetrics());
    });

    test("a front of someone else's stops the front's apply before any change, and is left running", () => {
        const ourFront = containerState(FRONT_CONTAINER);
        withForeignContainer(FRONT_CONTAINER, "run", (foreign) => {
            const result = ssh.runScript(synthCommand("registry-host-caddy-reload.create"));
            expect(result.code).not.toBe(0);
            expect(result.stderr).toContain(refusal(FRONT_CONTAINER));
            expect(containerState(FRONT_CONTAINER)).toBe(foreign);
            // No new front was made beside it, and the stack's own (set aside) still serves.
            expect(containerState(`${FRONT_CONTAINER}-next`)).toBeUndefined();
            expect(containerState(`${FRONT_CONTAINER}-aside`)).toBe(ourFront);
        });
        expect(runOk(synthCommand("registry-host-caddy-reload.create"))).toBe("reloaded caddy");
        expect(runOk(checkScript())).toContain("ok   anonymous read");
    });

    test("a registry container of someone else's stops the garbage collection before its window: nothing stopped, removed or made read-only", () => {
        withForeignContainer(CONTAINER, "run", (foreign) => {
            const result = ssh.runScript(`sh "$DSO_ROOT"${paths.gcScript}`);
            expect(result.code).not.toBe(0);
            expect(result.stderr).toContain(refusal(CONTAINER));
            expect(containerState(CONTAINER)).toBe(foreign);
            expect(existsSync(onDisk(paths.readOnlyMarker))).toBe(false);
            expect(outcome("gc", "success")).toBe(0);
        });
        expect(runOk(checkScript())).toContain("ok   anonymous read");
    });

    test("a stopped metrics relay of someone else's is not started by the five-minute probe", () => {
        const probe = synthFile(monitoringPaths(layout).probe);
        withForeignContainer(METRICS_RELAY_CONTAINER, "create", (foreign) => {
            expect(foreign).toMatch(/ false /);
            expect(runOk(probe)).toBe("");
            expect(containerState(METRICS_RELAY_CONTAINER)).toBe(foreign);
        });
        expect(metricsExposure()).toEqual(onlyMetrics());
    });

    test("delete keeps a registry container and a front of someone else's, and says so", () => {
        withForeignContainer(CONTAINER, "run", (foreign) => {
            const result = ssh.runScript(synthCommand("registry-host-container-run.delete"));
            expect(result.code, result.stderr).toBe(0);
            expect(result.stdout).toContain(`kept container ${CONTAINER}: this stack did not make it`);
            expect(containerState(CONTAINER)).toBe(foreign);
        });
        const caddyfile = readFileSync(onDisk(layout.caddyfile), "utf8");
        withForeignContainer(FRONT_CONTAINER, "run", (foreign) => {
            const result = ssh.runScript(synthCommand("registry-host-caddy-reload.delete"));
            expect(result.code, result.stderr).toBe(0);
            expect(result.stdout.trim()).toBe(
                `kept container ${FRONT_CONTAINER}: this stack did not make it (it has no label dso-registry.spec); it is yours to remove`,
            );
            expect(containerState(FRONT_CONTAINER)).toBe(foreign);
            expect(readFileSync(onDisk(layout.caddyfile), "utf8")).toBe(caddyfile);
        });
    });

    test("delete removes the containers and the front, and keeps the data and the front's certificates", () => {
        const remove = synthCommand("registry-host-container-run.delete");
        const removed = `removed container ${METRICS_RELAY_CONTAINER}\nremoved container dso-registry`;
        expect(runOk(remove)).toBe(removed);
        expect([inspect(), relay()]).toEqual([undefined, undefined]);
        expect(runOk(remove)).toBe(removed);
        expect(runOk(synthCommand("registry-host-caddy-reload.delete"))).toBe("removed the front (caddy) and its site");
        expect(inspect(FRONT_CONTAINER)).toBeUndefined();
        // Its connection cap went with it.
        expect(ns.run("nft", ["list", "table", "inet", CONNECTION_CAP_TABLE]).code).not.toBe(0);
        expect([existsSync(onDisk(paths.connectionCapRules)), existsSync(onDisk(paths.connectionCapCron))]).toEqual([false, false]);
        const check = ssh.runScript(checkScript().replace("WAIT_SECONDS='\\''180'\\''", "WAIT_SECONDS='\\''2'\\''"));
        expect(check.code).not.toBe(0);
        expect(runOk(synthCommand("registry-host-packages-data-dir.delete"))).toContain("kept registry data in /srv/data/registry");
        expect(existsSync(onDisk(`${layout.dataDir}/docker/registry/v2/repositories/team/app`))).toBe(true);
    });

    test("delete with purge removes the data: the marker an `up` wrote, read by the last delete", () => {
        runOk(purgeMarkerScript([layout.dataDir]));
        expect(runOk(synthCommand("registry-host-packages-data-dir.delete"))).toContain("kept registry data");
        expect(existsSync(onDisk(layout.dataDir))).toBe(true);
        expect(runOk(purgeOnDestroyScript())).toBe(`removed ${layout.dataDir}`);
        expect(existsSync(onDisk(layout.dataDir))).toBe(false);
    });
});
