/**
 * The external host's upkeep on a host whose `docker` is Podman: the podman-docker package's script (what
 * RHEL's `dnf install docker` installs: test/support/podmanDockerScript.ts) in place of Docker, on a test host
 * (a machine of its own: test/support/testHost.ts) where the docker binaries are removed and Podman runs the
 * containers (test/support/podmanHost.ts). The prod stack's synthesized host commands and placed scripts run
 * over SSH as its `deploy` login runs them, and the upkeep commands as docs/runbooks.md and
 * docs/external-host.md give them (`sudo dso-registry-status`, `sudo dso-registry-gc`, …): the scripts take
 * Podman for the engine (components/upkeep/sh/container-engine.sh) and the package check enables
 * podman-restart.service; the registry, its metrics relay and the front run; status, garbage collection,
 * backup and restore (one after the other: the upkeep lock is free again after each), a pull-through
 * cache with its prune and the page's way of emptying it by hand, and the web UI's container all work
 * under Podman.
 *
 * What differs from production, and why: as in externalRegistryHost.podman.test.ts (images built here and
 * loaded from OCI archives, the front's certificate from a test CA, the users files the test's own). The
 * backup machine is an SFTP server of the test (test/support/sftpTarget.ts): the synth's backup and restore
 * scripts run with its address, user and path in place of the stack's, and its key and pinned host key in
 * the files the synth's writes place. The cache's upstream is a Distribution of the test on the host's own
 * address (no registry outside can be reached): the synth's ghcr.io cache runs with that URL in place of
 * https://ghcr.io. The web UI is off in the prod stack: its container script runs from the renderer, with a
 * stand-in image (joxit/docker-registry-ui cannot be pulled here), as in externalRegistryHost.scripts.test.ts.
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { backupKnownHosts } from "../../components/externalHost/backupScripts";
import { METRICS_RELAY_CONTAINER } from "../../components/externalHost/metricsRelay";
import {
    containerDeleteScript,
    FRONT_CONTAINER,
    UI_CONTAINER,
    UI_HOST_PORT,
    uiContainerScript,
} from "../../components/externalHost/scripts";
import { privileged } from "../../components/shared/hostAccess";
import { DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { pinnedCaddyImage, registryImage, uiStandInImage } from "../support/dockerImages";
import { PROD_CONTAINER as CONTAINER, type PodmanProdHost, startPodmanProdHost } from "../support/podmanHost";
import {
    PROD_HOST as HOST,
    prodLayout as layout,
    prodPaths as paths,
    prodFrontCaddyfile,
    REGISTRY_CONFIG_FILES,
} from "../support/prodHostSynth";
import { makeAccount, makeOciImage } from "../support/realRegistry";
import type { ServerProcess } from "../support/serverProcess";
import { type SftpTarget, startSftpTarget } from "../support/sftpTarget";
import { CADDY_USER, socketRequestAs } from "../support/socketRequest";
import { startUpstreamRegistry } from "../support/upstreamRegistry";

/** The synth's cache run here, and where it keeps its files, socket and storage on the host. */
const CACHE = "ghcr.io";
const CACHE_CONTAINER = `dso-registry-mirror-${CACHE}`;
const CACHE_CONFIG_DIR = `/etc/dso-registry/mirrors/${CACHE}`;
const CACHE_SOCKET = `/run/dso-registry-mirrors/${CACHE}/registry.sock`;
const CACHE_DATA_DIR = `/srv/data/registry-mirrors/${CACHE}`;
const UPSTREAM_PORT = 5300;
const REPORTER = "/usr/local/sbin/dso-registry-report";
const PRUNE_SCRIPT = "/usr/local/sbin/dso-registry-mirror-prune";

let prod: PodmanProdHost;
let backupMachine: SftpTarget;
let upstream: ServerProcess;
let upstreamUrl: string;

// The prod host's helpers (podmanHost.ts), under the names the tests below call them by.
const run = (script: string, stdin?: string) => prod.run(script, stdin);
const runOk = (script: string, stdin?: string) => prod.runOk(script, stdin);
const placeAsSynth = (resource: string, body: string) => prod.placeAsSynth(resource, body);
const inspect = (name?: string) => prod.inspect(name);
const status = (url: string) => prod.status(url);
const skopeo = (args: readonly string[]) => prod.skopeo(args);
const pushImage = (repository: string, tag: string) => prod.pushImage(repository, tag);

/** Whether `repository:tag` reads anonymously through the front (skopeo inspect), with its digest. */
function anonymousDigest(repository: string, tag: string): string {
    const r = skopeo(["inspect", "--no-creds", "--format", "{{.Digest}}", `docker://${HOST}/${repository}:${tag}`]);
    return r.code === 0 ? r.stdout.trim() : `not served: ${r.stderr.trim()}`;
}

/** The synth's backup or restore script with the test's backup machine in place of the stack's. */
function withBackupMachine(script: string): string {
    const replaced = script
        .replace(
            /^REPOSITORY='sftp:[^']*'$/m,
            `REPOSITORY='sftp:${backupMachine.user}@${backupMachine.host}:${backupMachine.dir}/dso-registry'`,
        )
        .replace(/^SFTP_HOST='[^']*'$/m, `SFTP_HOST='${backupMachine.host}'`)
        .replace(/^SFTP_PORT='[^']*'$/m, `SFTP_PORT='${backupMachine.port}'`)
        .replace(/^SFTP_USER='[^']*'$/m, `SFTP_USER='${backupMachine.user}'`);
    expect(replaced.match(new RegExp(`'${backupMachine.host}'|@${backupMachine.host}:`, "g"))).toHaveLength(2);
    return replaced;
}

/** A series the job reporter left for node_exporter's textfile collector. */
function outcome(task: string, series: string): number | undefined {
    const file = prod.host.readFile(`/var/lib/prometheus/node-exporter/dso_registry_${task}.prom`) ?? "";
    const value = new RegExp(`^dso_registry_upkeep_${series}\\{task="${task}"\\} (\\d+)$`, "m").exec(file)?.[1];
    return value === undefined ? undefined : Number(value);
}

/** A synth file with the cache's upstream (https://ghcr.io) replaced by the test's. */
const withUpstream = (text: string) => text.replaceAll("https://ghcr.io", upstreamUrl);

/** The two ways Podman is the engine: as `docker` through podman-docker's script, and under its own name with no `docker`. */
const INSTALLS = [
    { what: "`docker` is podman-docker's script", docker: "podman-docker", prefix: "pd", subnet: "198.19.240.0/20" },
    { what: "there is podman and no docker", docker: "absent", prefix: "pa", subnet: "198.19.16.0/20" },
] as const;

describe.each(INSTALLS)("the external host's upkeep where $what", (install) => {
    /** The pages' `docker …` commands: `podman …` on a host without docker (docs/external-host.md, Limits). */
    const cli = install.docker === "podman-docker" ? "docker" : "podman";
    beforeAll(async () => {
        prod = await startPodmanProdHost({
            name: `podman-host-${install.prefix}`,
            prefix: install.prefix,
            subnet: install.subnet,
            docker: install.docker,
            images: (archives) => [registryImage(archives), pinnedCaddyImage(archives), uiStandInImage(archives)],
        });
        const { host, scratch } = prod;
        backupMachine = await startSftpTarget(host.hostAddress);

        // The cache's upstream, on the host's own address: the cache's container reaches it from Podman's network.
        upstream = await startUpstreamRegistry(host, scratch, UPSTREAM_PORT);
        upstreamUrl = `http://${host.address}:${UPSTREAM_PORT}`;
        const tool = makeOciImage(path.join(scratch, "upstream-image"), 64 * 1024, "1");
        const seeded = skopeo([
            "copy",
            "--retry-times",
            "0",
            "--dest-tls-verify=false",
            tool.ref,
            `docker://${host.address}:${UPSTREAM_PORT}/team/tool:1`,
        ]);
        if (seeded.code !== 0) throw new Error(`seeding the upstream failed\n${seeded.stderr}`);
    }, 300_000);

    afterAll(async () => {
        await upstream?.stop();
        await backupMachine?.stop();
        await prod?.stop();
    }, 120_000);

    test("the login finds Podman as the engine, and the package check takes it: no package changed, podman-restart.service enabled", () => {
        if (install.docker === "podman-docker") {
            expect(runOk("command -v docker")).toBe("/usr/bin/docker");
            expect(run("docker --version")).toMatchObject({ code: 0, stdout: expect.stringMatching(/^podman version /) });
        } else {
            expect(run("command -v docker").code).not.toBe(0);
        }
        // Debian's podman enables the service on install (this machine's does); RHEL's leaves it disabled.
        expect(prod.host.run("systemctl", ["disable", "--quiet", "podman-restart.service"]).code).toBe(0);
        expect(run("systemctl is-enabled podman-restart.service").stdout.trim()).toBe("disabled");
        const check = run(prod.synth.command("registry-host-packages-install.create"));
        expect([check.code, check.stdout.trim()]).toEqual([0, "unchanged packages"]);
        expect(check.stderr).toContain("enabled podman-restart.service: it starts the registry's containers at boot");
        expect(runOk("systemctl is-enabled podman-restart.service")).toBe("enabled");
        // Once enabled, the next check says nothing of it.
        expect(run(prod.synth.command("registry-host-packages-install.create")).stderr).not.toContain("podman-restart");
    });

    test("the registry with its relay and the front run from Podman, with the restart policy podman-restart.service starts at boot", () => {
        expect(runOk(prod.synth.command("registry-host-packages-data-dir.create"))).toBe(`changed ${layout.dataDir}`);
        for (const [resource, hostPath] of REGISTRY_CONFIG_FILES) placeAsSynth(resource, prod.synth.file(hostPath));
        placeAsSynth("caddy-users-push", renderUsersFile("push", [prod.push]));
        placeAsSynth("caddy-users-pull", renderUsersFile("pull", [makeAccount("cluster-pull")]));
        placeAsSynth("caddy-caddyfile", prodFrontCaddyfile());
        const started = run(prod.synth.command("registry-host-container-run.create"));
        expect([started.code, started.stdout.trim(), started.stderr]).toEqual([0, "changed container", ""]);
        expect(runOk(prod.synth.command("registry-host-caddy-reload.create"))).toBe("changed connection cap\nchanged caddy");
        expect(runOk(prod.synth.command("registry-host-caddy-reload.create"))).toBe("reloaded caddy");
        const policies = [CONTAINER, METRICS_RELAY_CONTAINER, FRONT_CONTAINER].map((n) => [
            n,
            inspect(n)?.State.Running,
            inspect(n)?.HostConfig.RestartPolicy.Name,
        ]);
        expect(policies).toEqual([
            [CONTAINER, true, "always"],
            [METRICS_RELAY_CONTAINER, true, "always"],
            [FRONT_CONTAINER, true, "always"],
        ]);
        expect(status("http://127.0.0.1:5091/metrics")).toBe("200");
        expect(
            runOk(prod.synth.command("registry-host-check-run.create"))
                .split("\n")
                .filter((l) => l.startsWith("ok")),
        ).toHaveLength(3);
    });

    test("status: `sudo dso-registry-status` shows the container, its log and the front", () => {
        placeAsSynth("maintenance-status-script", prod.synth.file(paths.statusScript));
        const out = runOk("sudo dso-registry-status");
        expect(out).toMatch(new RegExp(`== container\\n${CONTAINER} \\S*${DEPLOYED_REGISTRY_IMAGE} Up `));
        expect(out).toContain(`listening on ${paths.registrySocket}`);
        expect(out).toMatch(new RegExp(`== front \\(caddy\\)\\n${FRONT_CONTAINER} \\S*caddy:2.11.9 Up `));
    });

    test("garbage collection: `sudo dso-registry-gc` frees a deleted image's blobs read-only and brings the registry and its relay back", () => {
        placeAsSynth("maintenance-gc-script", prod.synth.file(paths.gcScript));
        placeAsSynth("maintenance-verify-script", prod.synth.file(paths.verifyScript));
        placeAsSynth("monitoring-reporter", prod.synth.file(REPORTER));
        pushImage("team/app", "1");
        const digest = pushImage("team/gc", "old");
        const manifest = prod.host.run("curl", [
            "-sS",
            "-H",
            "Accept: application/vnd.oci.image.manifest.v1+json",
            `https://${HOST}/v2/team/gc/manifests/${digest}`,
        ]);
        const layer: string = JSON.parse(manifest.stdout).layers[0].digest;
        const blob = `${layout.dataDir}/docker/registry/v2/blobs/sha256/${layer.slice(7, 9)}/${layer.slice(7)}/data`;
        expect(prod.host.exists(blob)).toBe(true);
        const removed = prod.host.run(
            "curl",
            ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", "-K", "-", `https://${HOST}/v2/team/gc/manifests/${digest}`],
            { input: `user = "${prod.push.username}:${prod.push.password}"\n` },
        );
        expect(removed.stdout).toBe("202");
        const before = [inspect()?.Id, inspect(METRICS_RELAY_CONTAINER)?.Id];

        const out = runOk("sudo dso-registry-gc");
        expect(out).toContain("registry is read-only; collecting garbage");
        expect(out).toContain(`blob eligible for deletion: sha256:${layer.slice(7)}`);
        expect(out).toMatch(/verified: \d+ tagged images, \d+ blobs, all served/);
        expect(prod.host.exists(blob)).toBe(false);
        const after = [inspect(), inspect(METRICS_RELAY_CONTAINER)];
        expect(after.map((c, i) => [c?.Id === before[i], c?.State.Running, c?.HostConfig.RestartPolicy.Name])).toEqual([
            [false, true, "always"],
            [false, true, "always"],
        ]);
        expect(after[1]?.HostConfig.NetworkMode).toBe(`container:${after[0]?.Id}`);
        expect(status("http://127.0.0.1:5091/metrics")).toBe("200");
        expect([outcome("gc", "success"), outcome("verify", "success")]).toEqual([1, 1]);
        expect(outcome("gc", "bytes_freed")).toBeGreaterThan(0);
        expect(anonymousDigest("team/app", "1")).toMatch(/^sha256:/);
    });

    test("backup and restore: `sudo dso-registry-backup`, then `sudo dso-registry-restore --list` and `sudo dso-registry-restore` bring back what was deleted", () => {
        placeAsSynth("maintenance-backup-password", randomBytes(24).toString("base64"));
        placeAsSynth("maintenance-backup-ssh-key", backupMachine.privateKey);
        placeAsSynth(
            "maintenance-backup-known-hosts",
            backupKnownHosts({
                kind: "sftp",
                host: backupMachine.host,
                port: backupMachine.port,
                user: backupMachine.user,
                path: "",
                hostKey: backupMachine.hostKey,
            }),
        );
        placeAsSynth("maintenance-backup-script", withBackupMachine(prod.synth.file(paths.backupScript)));
        placeAsSynth("maintenance-restore-script", withBackupMachine(prod.synth.file(paths.restoreScript)));
        const kept = anonymousDigest("team/app", "1");

        const backup = runOk("sudo dso-registry-backup");
        expect(backup).toContain("pass 2, registry read-only");
        expect(backup).toMatch(/backup done: snapshot [0-9a-f]{8}/);
        expect(outcome("backup", "success")).toBe(1);
        expect(inspect()?.State.Running).toBe(true);

        // What the restore brings back: the tag deleted after the backup.
        const removed = prod.host.run(
            "curl",
            ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE", "-K", "-", `https://${HOST}/v2/team/app/manifests/${kept}`],
            { input: `user = "${prod.push.username}:${prod.push.password}"\n` },
        );
        expect(removed.stdout).toBe("202");
        expect(anonymousDigest("team/app", "1")).toMatch(/^not served/);

        expect(runOk("sudo dso-registry-restore --list")).toMatch(/1 snapshots/);
        const restore = run("sudo dso-registry-restore");
        expect(restore.code, `${restore.stdout}\n${restore.stderr}`).toBe(0);
        expect(restore.stdout).toContain("registry restored from snapshot latest and running writable");
        expect(restore.stdout).toContain("the front (caddy) reloaded with the restored Caddyfile");
        expect(restore.stdout).toMatch(/verified: \d+ tagged images, \d+ blobs, all served/);
        expect(anonymousDigest("team/app", "1")).toBe(kept);
        expect([
            inspect()?.State.Running,
            inspect()?.HostConfig.RestartPolicy.Name,
            inspect(METRICS_RELAY_CONTAINER)?.State.Running,
        ]).toEqual([true, "always", true]);
        expect(runOk("sudo dso-registry-status")).toMatch(/restore: ok/);
        // A push after the restore lands: the registry is writable.
        expect(pushImage("team/app", "after-restore")).toMatch(/^sha256:/);
    });

    test("a pull-through cache: it runs from Podman, pulls through from its upstream, is emptied by `sudo dso-registry-mirror-prune` over its size and by the page's commands", async () => {
        for (const file of ["config.yml", "read-only.yml", "start.sh"]) {
            const resource = { "config.yml": "config", "read-only.yml": "read-only-config", "start.sh": "start-script" }[file];
            placeAsSynth(`mirrors-ghcr-io-${resource}`, withUpstream(prod.synth.file(`${CACHE_CONFIG_DIR}/${file}`)));
        }
        expect(runOk(prod.synth.command("registry-host-mirrors-ghcr-io-run.create"))).toBe(`changed mirror container ${CACHE_CONTAINER}`);
        expect([inspect(CACHE_CONTAINER)?.State.Running, inspect(CACHE_CONTAINER)?.HostConfig.RestartPolicy.Name]).toEqual([
            true,
            "always",
        ]);
        const manifest = () =>
            socketRequestAs(prod.host, CADDY_USER, CACHE_SOCKET, "http://localhost/v2/team/tool/manifests/1", [
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
            ]).stdout;
        for (let i = 0; i < 100 && manifest() !== "200"; i++) await new Promise((r) => setTimeout(r, 200));
        expect(manifest()).toBe("200");
        const stored = () => prod.host.run("sh", ["-c", `find ${CACHE_DATA_DIR}/docker -type f -name link | wc -l`]).stdout.trim();
        expect(Number(stored())).toBeGreaterThan(0);

        // The prune, with the cache's limit 1 KiB: over it, the cache is stopped, emptied and started again.
        const prune = prod.synth
            .file(PRUNE_SCRIPT)
            .replace(new RegExp(`^${CACHE_CONTAINER.replaceAll(".", "\\.")} \\d+ `, "m"), `${CACHE_CONTAINER} 1 `);
        placeAsSynth("mirrors-prune-script", withUpstream(prune));
        const pruned = runOk("sudo dso-registry-mirror-prune");
        expect(pruned).toMatch(new RegExp(`^${CACHE_CONTAINER.replaceAll(".", "\\.")}: \\d+ KiB exceeded 1 KiB; emptied`, "m"));
        expect([inspect(CACHE_CONTAINER)?.State.Running, stored()]).toEqual([true, "0"]);
        for (let i = 0; i < 100 && manifest() !== "200"; i++) await new Promise((r) => setTimeout(r, 200));
        expect(manifest()).toBe("200");

        // docs/runbooks.md, Cache over its size: by hand.
        runOk(
            `sudo ${cli} stop ${CACHE_CONTAINER} && sudo find ${CACHE_DATA_DIR} -mindepth 1 -delete && sudo ${cli} start ${CACHE_CONTAINER}`,
        );
        expect([
            inspect(CACHE_CONTAINER)?.State.Running,
            prod.host.run("sh", ["-c", `ls -A ${CACHE_DATA_DIR} | wc -l`]).stdout.trim(),
        ]).toEqual([true, "0"]);
        for (let i = 0; i < 100 && manifest() !== "200"; i++) await new Promise((r) => setTimeout(r, 200));
        expect(manifest()).toBe("200");
    });

    test("the web UI's container runs from Podman on loopback, once", () => {
        const spec = { name: UI_CONTAINER, image: "dso-test/registry-ui:stand-in", hostPort: UI_HOST_PORT, layout };
        // As the stack's UI command runs it: through the deploy login's sudo.
        const apply = privileged(uiContainerScript(spec, true, HOST), true);
        expect(runOk(apply)).toBe("changed ui container");
        expect(runOk(apply)).toBe("unchanged ui container");
        const ui = inspect(UI_CONTAINER);
        expect([ui?.State.Running, ui?.HostConfig.RestartPolicy.Name, ui?.HostConfig.PortBindings["80/tcp"]]).toEqual([
            true,
            "always",
            [{ HostIp: "127.0.0.1", HostPort: String(UI_HOST_PORT) }],
        ]);
        expect(prod.host.run("curl", ["-sS", `http://127.0.0.1:${UI_HOST_PORT}/`]).stdout).toContain("registry UI stand-in");
        // `sudo docker restart dso-registry-ui` (docs/external-prod.host.md, Web UI).
        runOk(`sudo ${cli} restart ${UI_CONTAINER}`);
        expect(inspect(UI_CONTAINER)?.State.Running).toBe(true);
    });

    test("delete removes every container from Podman", () => {
        expect(runOk(prod.synth.command("registry-host-mirrors-ghcr-io-run.delete"))).toBe(
            `removed mirror container ${CACHE_CONTAINER} and its cache`,
        );
        expect(runOk(prod.synth.command("registry-host-container-run.delete"))).toBe(
            `removed container ${METRICS_RELAY_CONTAINER}\nremoved container ${CONTAINER}`,
        );
        expect(runOk(prod.synth.command("registry-host-caddy-reload.delete"))).toBe("removed the front (caddy) and its site");
        expect(runOk(privileged(containerDeleteScript({ name: UI_CONTAINER }), true))).toBe(`removed container ${UI_CONTAINER}`);
        expect(prod.engine.podmanOk(["ps", "--all", "--format", "{{.Names}}"])).toBe("");
    });
});
