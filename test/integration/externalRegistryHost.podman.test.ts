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
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { METRICS_RELAY_CONTAINER } from "../../components/externalHost/metricsRelay";
import { FRONT_CONTAINER } from "../../components/externalHost/scripts";
import { DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { PROD_CONTAINER as CONTAINER, type PodmanProdHost, startPodmanProdHost } from "../support/podmanHost";
import { PROD_HOST as HOST, prodLayout as layout, prodFrontCaddyfile, REGISTRY_CONFIG_FILES } from "../support/prodHostSynth";
import { makeAccount, makeOciImage } from "../support/realRegistry";

let prod: PodmanProdHost;

/** A command script the synth wrote for the registry host, as the `deploy` login runs it (`sudo -n` kept). */
const synthCommand = (name: string) => prod.synth.command(name);
// The prod host's helpers (podmanHost.ts), under the names the tests below call them by.
const runOk = (script: string, stdin?: string) => prod.runOk(script, stdin);
const placeAsSynth = (resource: string, body: string) => prod.placeAsSynth(resource, body);
const inspect = (name?: string) => prod.inspect(name);
const status = (url: string) => prod.status(url);
const skopeo = (args: readonly string[]) => prod.skopeo(args);

/** Names of the containers Podman runs on the host, sorted. */
const running = () => prod.engine.podmanOk(["ps", "--format", "{{.Names}}"]).split("\n").filter(Boolean).sort();

beforeAll(async () => {
    prod = await startPodmanProdHost({
        name: "podman-host",
        prefix: "pm",
        subnet: "198.19.224.0/20",
        images: (archives) => [registryImage(archives), pinnedCaddyImage(archives)],
    });
    // The images the synth's scripts run: the registry's, and Caddy's for the front and the metrics relay.
    const run = synthCommand("registry-host-container-run.create");
    expect(run).toContain(`REGISTRY_IMAGE='\\''${prod.images[0]}'\\''`);
    expect(run).toContain(`RELAY_IMAGE='\\''${prod.images[1]}'\\''`);
    expect(synthCommand("registry-host-caddy-reload.create")).toContain(`FRONT_IMAGE='\\''${prod.images[1]}'\\''`);
});

afterAll(async () => {
    await prod?.stop();
});

describe("the external host's scripts on a host with Podman and no Docker", () => {
    test("the login's shell finds podman and no docker", () => {
        expect(prod.run("command -v docker").code).not.toBe(0);
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
            expect(placeAsSynth(resource, prod.synth.file(hostPath))).toMatch(/^changed /);
        }
        placeAsSynth("caddy-users-push", renderUsersFile("push", [prod.push]));
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

        expect(runOk(synthCommand("registry-host-caddy-reload.create"))).toBe("changed connection cap\nchanged caddy");
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
        const image = makeOciImage(path.join(prod.scratch, "app"), 32 * 1024, "1");
        const digest = prod.pushImage("team/app", "1", image);
        // Podman itself pulls it back anonymously (root's auth file on the host holds no login).
        prod.engine.podmanOk(["pull", "--quiet", `${HOST}/team/app:1`]);
        expect(prod.engine.podmanOk(["image", "inspect", "--format", "{{.Digest}}", `${HOST}/team/app:1`])).toBe(digest);

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
        expect(prod.engine.podmanOk(["ps", "--all", "--format", "{{.Names}}"])).toBe("");
        expect([inspect(), inspect(METRICS_RELAY_CONTAINER), inspect(FRONT_CONTAINER)]).toEqual([undefined, undefined, undefined]);
    });
});
