/**
 * The external host's scripts on a host whose container engine is Podman and that has no Docker: the
 * prod stack's synthesized host commands (hosts/<host>/commands/*.sh), run over SSH as its `deploy`
 * login runs them (with `sudo -n`), on a test host (a machine of its own: test/support/testHost.ts)
 * where the docker binaries are removed and Podman runs the containers (test/support/podmanHost.ts). The
 * scripts call `docker`, which is Podman there (components/upkeep/sh/container-engine.sh): the package
 * check takes Podman for Docker, the registry runs with its metrics relay in its namespaces, the front
 * runs on the host's network and takes a reload, the post-deploy check passes, real clients push with
 * the push account and pull anonymously through the front, and the delete commands leave no container.
 *
 * What differs from production, and why: the images the stack pins are built here (no registry can be
 * pulled from) and loaded into Podman from OCI archives; the prod stack gets its certificate from
 * ACME, which cannot run here, so the front serves a test CA's certificate from a Caddyfile rendered by
 * the same function for the same policy, and the host's trust store holds that CA (the post-deploy
 * check trusts the system store); the users files are the synth's secrets, so the test places its own.
 * Podman is configured as this machine needs (podmanHost.ts says what and why). The Docker engine runs
 * the same commands in externalRegistryHost.scripts.test.ts.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { METRICS_RELAY_CONTAINER } from "../../components/externalHost/metricsRelay";
import { FRONT_CONTAINER } from "../../components/externalHost/scripts";
import { placeFileScript } from "../../components/shared/hostAccess";
import { DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { type OciArchives, pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { type PodmanEngine, usePodman } from "../support/podmanHost";
import {
    PROD_HOST,
    type ProdHostSynth,
    prodFrontCaddyfile,
    prodHostSynth,
    prodLayout,
    prodPaths,
    REGISTRY_CONFIG_FILES,
} from "../support/prodHostSynth";
import { makeAccount, makeOciImage, makeTestCa, type TestAccount, writeAuthFile } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";
import { type SshServer, startSshServer } from "../support/sshServer";
import { startTestHost, type TestHost } from "../support/testHost";

const HOST = PROD_HOST;
const layout = prodLayout;
const paths = prodPaths;
const CONTAINER = "dso-registry";

let host: TestHost;
let engine: PodmanEngine;
let ssh: SshServer;
let scratch: string;
let synth: ProdHostSynth;
let push: TestAccount;

/** A command script the synth wrote for the registry host, as the `deploy` login runs it (`sudo -n` kept). */
const synthCommand = (name: string) => synth.command(name);

function runOk(script: string, stdin = ""): string {
    const result = ssh.runScript(script, stdin);
    if (result.code !== 0) throw new Error(`script failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    return result.stdout.trim();
}

/** Places a file the way the synth's own write command does (stdin carries the body). */
const placeAsSynth = (resource: string, body: string) => runOk(synthCommand(`registry-host-${resource}-write.create`), body);

/** `podman inspect` of a container as JSON, or undefined when there is none. */
function inspect(name = CONTAINER): Record<string, any> | undefined {
    const result = engine.podman(["container", "inspect", name]);
    return result.code === 0 ? JSON.parse(result.stdout)[0] : undefined;
}

/** Names of the containers Podman runs on the host, sorted. */
const running = () => engine.podmanOk(["ps", "--format", "{{.Names}}"]).split("\n").filter(Boolean).sort();

/** The HTTP status of a GET from the host itself; "000" when nothing answers. */
const status = (url: string) => host.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url]).stdout;

/** skopeo on the host (its /etc/hosts names the front, its trust store holds the test CA); no auth file unless given. */
function skopeo(args: readonly string[]) {
    return host.run("skopeo", ["--insecure-policy", ...args], {
        env: { ...process.env, REGISTRY_AUTH_FILE: path.join(scratch, "no-auth.json") },
    });
}

beforeAll(async () => {
    synth = prodHostSynth();

    scratch = privateDir("podman-host");
    const ca = makeTestCa(path.join(scratch, "tls"), [HOST]);
    const archives: OciArchives = { archiveDir: path.join(scratch, "images") };
    const images = [registryImage(archives), pinnedCaddyImage(archives)];
    // The images the synth's scripts run: the registry's, and Caddy's for the front and the metrics relay.
    const run = synthCommand("registry-host-container-run.create");
    expect(run).toContain(`REGISTRY_IMAGE='\\''${images[0]}'\\''`);
    expect(run).toContain(`RELAY_IMAGE='\\''${images[1]}'\\''`);
    expect(synthCommand("registry-host-caddy-reload.create")).toContain(`FRONT_IMAGE='\\''${images[1]}'\\''`);

    host = await startTestHost({ prefix: "pm", subnet: "198.19.224.0/20", hosts: ["registry-01.dso.example.com", HOST] });
    host.addUser("deploy");
    // The host's system trust store holds the test CA, as it would hold the ACME CA's root.
    host.trust(ca.caCertPem);
    engine = usePodman(host, archives, images);
    ssh = await startSshServer({ netns: host, user: "deploy", privateRoot: false });
    runOk(placeFileScript({ path: paths.tlsCert, mode: "0644" }, true), readFileSync(ca.serverCertFile, "utf8"));
    runOk(placeFileScript({ path: paths.tlsKey, mode: "0600" }, true), readFileSync(ca.serverKeyFile, "utf8"));
    push = makeAccount("jenkins-push");
});

afterAll(async () => {
    await ssh?.stop();
    await engine?.stop();
    await host?.destroy();
    if (scratch) removeDir(scratch);
});

describe("the external host's scripts on a host with Podman and no Docker", () => {
    test("the login's shell finds podman and no docker", () => {
        expect(ssh.runScript("command -v docker").code).not.toBe(0);
        expect(runOk("command -v podman")).toBe("/usr/bin/podman");
    });

    test("the package check takes Podman for Docker and changes nothing", () => {
        expect(runOk(synthCommand("registry-host-packages-install.create"))).toBe("unchanged packages");
    });

    test("the data directory is created once", () => {
        const script = synthCommand("registry-host-packages-data-dir.create");
        expect(runOk(script)).toBe(`changed ${layout.dataDir}`);
        expect(runOk(script)).toBe(`unchanged ${layout.dataDir}`);
    });

    test("the registry and its metrics relay run from Podman, the front starts and takes a reload, and the post-deploy check passes", () => {
        for (const [resource, hostPath] of REGISTRY_CONFIG_FILES) {
            expect(placeAsSynth(resource, synth.file(hostPath))).toMatch(/^changed /);
        }
        placeAsSynth("caddy-users-push", renderUsersFile("push", [push]));
        placeAsSynth("caddy-users-pull", renderUsersFile("pull", [makeAccount("cluster-pull")]));
        placeAsSynth("caddy-caddyfile", prodFrontCaddyfile());

        expect(runOk(synthCommand("registry-host-container-run.create"))).toBe("changed container");
        const c = inspect();
        const relay = inspect(METRICS_RELAY_CONTAINER);
        expect({
            running: c?.State.Running,
            image: c?.ImageName,
            restart: c?.HostConfig.RestartPolicy.Name,
            // Podman lists the image's exposed port (5000) too, bound to nothing.
            ports: Object.fromEntries(Object.entries(c?.HostConfig.PortBindings ?? {}).filter(([, b]) => b !== null)),
            relay: [relay?.State.Running, relay?.HostConfig.NetworkMode, relay?.HostConfig.PidMode],
        }).toEqual({
            running: true,
            image: `docker.io/library/${DEPLOYED_REGISTRY_IMAGE}`,
            // Podman restarts at boot only what is `always` (upkeep/sh/container-engine.sh).
            restart: "always",
            ports: { "5091/tcp": [{ HostIp: "127.0.0.1", HostPort: "5091" }] },
            relay: [true, `container:${c?.Id}`, `container:${c?.Id}`],
        });
        // Only Distribution's /metrics, through the relay in the registry's namespaces, on the host's loopback.
        expect([status("http://127.0.0.1:5091/metrics"), status("http://127.0.0.1:5091/debug/vars")]).toEqual(["200", "404"]);
        expect(runOk(synthCommand("registry-host-container-run.create"))).toBe("unchanged container");

        expect(runOk(synthCommand("registry-host-caddy-reload.create"))).toBe("changed caddy");
        const front = inspect(FRONT_CONTAINER);
        expect({
            image: front?.ImageName,
            network: front?.HostConfig.NetworkMode,
            restart: front?.HostConfig.RestartPolicy.Name,
        }).toEqual({ image: "docker.io/library/caddy:2.11.9", network: "host", restart: "always" });
        // The second apply of the same files: a reload inside the running front.
        expect(runOk(synthCommand("registry-host-caddy-reload.create"))).toBe("reloaded caddy");
        expect(inspect(FRONT_CONTAINER)?.Id).toBe(front?.Id);

        const check = runOk(synthCommand("registry-host-check-run.create"));
        expect(check.split("\n").filter((l) => l.startsWith("ok"))).toHaveLength(3);
        expect(running()).toEqual([CONTAINER, FRONT_CONTAINER, METRICS_RELAY_CONTAINER].sort());
    });

    test("through the front: the push account pushes, an anonymous client pulls the same image, an anonymous push is refused", () => {
        const image = makeOciImage(path.join(scratch, "app"), 32 * 1024, "1");
        const digestFile = path.join(scratch, "pushed.digest");
        const pushed = skopeo([
            "copy",
            "--retry-times",
            "0",
            "--dest-authfile",
            writeAuthFile(scratch, HOST, push),
            "--digestfile",
            digestFile,
            image.ref,
            `docker://${HOST}/team/app:1`,
        ]);
        expect(pushed.code, pushed.stderr).toBe(0);
        const digest = readFileSync(digestFile, "utf8").trim();
        // Podman itself pulls it back anonymously (root's auth file on the host holds no login).
        engine.podmanOk(["pull", "--quiet", `${HOST}/team/app:1`]);
        expect(engine.podmanOk(["image", "inspect", "--format", "{{.Digest}}", `${HOST}/team/app:1`])).toBe(digest);

        const anonymous = skopeo(["copy", "--retry-times", "0", "--dest-no-creds", image.ref, `docker://${HOST}/team/app:anonymous`]);
        expect(anonymous.code).not.toBe(0);
        expect(anonymous.stderr).toMatch(/unauthorized|authentication required|401/i);
    });

    test("the follow-up of a repaired file (DSO_RECREATE) makes the registry anew with its relay, which joined its namespaces", () => {
        const before = [inspect()?.Id, inspect(METRICS_RELAY_CONTAINER)?.Id];
        // As HostFilesCheck runs it after putting a file back (recreatingScript, inside the sudo).
        const recreate = synthCommand("registry-host-container-run.create").replace(/^sudo -n sh -c '/, "sudo -n sh -c 'DSO_RECREATE=1\n");
        expect(runOk(recreate)).toBe("changed container\nchanged metrics relay");
        const c = inspect();
        const relay = inspect(METRICS_RELAY_CONTAINER);
        expect([c?.Id === before[0], relay?.Id === before[1], c?.State.Running, relay?.HostConfig.NetworkMode]).toEqual([
            false,
            false,
            true,
            `container:${c?.Id}`,
        ]);
        expect(status("http://127.0.0.1:5091/metrics")).toBe("200");
        expect(runOk(synthCommand("registry-host-check-run.create"))).toContain("ok   anonymous read");
        const pulled = skopeo(["inspect", "--no-creds", "--format", "{{.Digest}}", `docker://${HOST}/team/app:1`]);
        expect(pulled.code, pulled.stderr).toBe(0);
    });

    test("delete removes the registry, its relay and the front from Podman", () => {
        expect(runOk(synthCommand("registry-host-container-run.delete"))).toBe(
            `removed container ${METRICS_RELAY_CONTAINER}\nremoved container ${CONTAINER}`,
        );
        expect(runOk(synthCommand("registry-host-caddy-reload.delete"))).toBe("removed the front (caddy) and its site");
        expect(engine.podmanOk(["ps", "--all", "--format", "{{.Names}}"])).toBe("");
        expect([inspect(), inspect(METRICS_RELAY_CONTAINER), inspect(FRONT_CONTAINER)]).toEqual([undefined, undefined, undefined]);
    });
});
