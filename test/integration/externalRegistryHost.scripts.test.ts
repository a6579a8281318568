/**
 * The external host's remote scripts, run for real over SSH (OpenSSH on 127.0.0.1, started here,
 * files under a private root through DSO_ROOT): first run, a second run that changes nothing, a run
 * after a config change, and delete. Caddy (validate, reload, serving the policy), Distribution, curl,
 * flock, tar and the scripts' own logic are real.
 *
 * STAND-IN: no Docker engine runs on these machines, so a `docker` executable first on the session's
 * PATH stands in for it. It records every call and keeps container state (name, label, running) in
 * files; it runs nothing. Distribution itself runs for real next to it, started by the test, on the
 * port the container would publish.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile, renderRegistryConfig, renderUsersFile } from "../../components/accessPolicy/accessPolicy";
import {
    backupScript,
    type ContainerSpec,
    caddyApplyScript,
    caddyRemoveScript,
    containerDeleteScript,
    containerScript,
    dataDirDeleteScript,
    dataDirScript,
    defaultHostLayout,
    gcScript,
    hostPaths,
    packagesScript,
    postDeployCheckScript,
} from "../../components/externalHost/scripts";
import { placeFileScript } from "../../components/shared/hostAccess";
import { makeAccount, makeTestCa, type RealRegistry, startRealRegistry, type TestAccount } from "../support/realRegistry";
import { freePort, privateDir, removeDir, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";
import { type SshServer, startSshServer } from "../support/sshServer";

const STAND_IN_DOCKER = `#!/bin/sh
# Stand-in for the Docker engine (tests only): records calls, keeps container state in files.
state="$DSO_ROOT/var/lib/stand-in-docker"; mkdir -p "$state"
echo "$*" >> "$DSO_ROOT/var/log/docker-calls"
cmd=$1; shift
case $cmd in
  inspect)
    name=$(eval echo \\$$#)
    [ -f "$state/$name" ] || { echo "Error: No such object: $name" >&2; exit 1; }
    echo "$(cat "$state/$name") true" ;;
  rm)
    name=$(eval echo \\$$#)
    [ -f "$state/$name" ] || { echo "Error: No such container: $name" >&2; exit 1; }
    rm -f "$state/$name" ;;
  run)
    name=''; label=''
    while [ $# -gt 0 ]; do
      case $1 in --name) name=$2; shift ;; --label) label=\${2#dso-registry.spec=}; shift ;; --label=*) label=\${1#--label=dso-registry.spec=} ;; esac
      shift
    done
    [ ! -f "$state/$name" ] || { echo "Conflict: $name exists" >&2; exit 1; }
    echo "$label" > "$state/$name"; echo "id-$name" ;;
  exec)
    [ ! -f "$DSO_ROOT/var/lib/stand-in-docker-exec-fails" ] || { echo "exec failed" >&2; exit 1; } ;;
  *) ;;
esac
`;

let ssh: SshServer;
let scratch: string;
let registry: RealRegistry;
let caddy: ServerProcess;
let caddyPort: number;
let adminAddress: string;
let push: TestAccount;
let pull: TestAccount;

const layout = defaultHostLayout("/srv/data/registry");
const paths = hostPaths(layout);
/** Where a host path really is on this machine (under the SSH server's private root). */
const onDisk = (p: string) => path.join(ssh.root, p);
const dockerCalls = () =>
    existsSync(onDisk("/var/log/docker-calls")) ? readFileSync(onDisk("/var/log/docker-calls"), "utf8").trim().split("\n") : [];
const containerLabel = (name: string) =>
    existsSync(onDisk(`/var/lib/stand-in-docker/${name}`))
        ? readFileSync(onDisk(`/var/lib/stand-in-docker/${name}`), "utf8").trim()
        : undefined;

function runOk(script: string, stdin = ""): string {
    const result = ssh.runScript(script, stdin);
    if (result.code !== 0) throw new Error(`script failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
    return result.stdout.trim();
}

function place(hostPath: string, body: string, mode = "0644"): string {
    return runOk(placeFileScript({ path: hostPath, mode }, false), body);
}

function caddyfileFor(requiresAuthForPull: boolean): string {
    return renderCaddyfile({
        siteAddress: "127.0.0.1",
        port: caddyPort,
        bindAddress: "127.0.0.1",
        admin: adminAddress,
        tls: { kind: "files", certFile: onDisk(paths.tlsCert), keyFile: onDisk(paths.tlsKey) },
        upstream: `127.0.0.1:${registry.registryPort}`,
        requiresAuthForPull,
        pushUsersFile: onDisk(paths.pushUsers),
        pullUsersFile: onDisk(paths.pullUsers),
        allowedNetworks: [],
        deletesEnabled: false,
    });
}

const spec = (): ContainerSpec => ({ name: "dso-registry", image: "registry:2.8.3", hostPort: registry.registryPort, layout });

beforeAll(async () => {
    scratch = privateDir("host-scripts");
    const bin = path.join(scratch, "bin");
    mkdirSync(bin);
    writeFileSync(path.join(bin, "docker"), STAND_IN_DOCKER);
    chmodSync(path.join(bin, "docker"), 0o755);
    chmodSync(scratch, 0o755);
    ssh = await startSshServer({ pathPrefix: bin });
    mkdirSync(onDisk("/var/log"), { recursive: true });
    mkdirSync(onDisk("/etc/cron.d"), { recursive: true });
    registry = await startRealRegistry({ caddy: false });
    push = makeAccount("ci-push");
    pull = makeAccount("cluster-pull");
    // Caddy as the host's service would run it: started once with an empty config, then reloaded.
    caddyPort = await freePort();
    adminAddress = `127.0.0.1:${await freePort()}`;
    const bootstrap = path.join(scratch, "Caddyfile.boot");
    writeFileSync(bootstrap, `{\n\tadmin ${adminAddress}\n}\n`);
    const env = { ...process.env, HOME: scratch, XDG_DATA_HOME: path.join(scratch, "data"), XDG_CONFIG_HOME: path.join(scratch, "config") };
    caddy = startServer("/usr/bin/caddy", ["run", "--adapter", "caddyfile", "--config", bootstrap], env);
    await waitForPort(Number(adminAddress.split(":")[1]), 30_000, "caddy admin");
});

afterAll(async () => {
    await caddy?.stop();
    await registry?.stop();
    await ssh?.stop();
    if (scratch) removeDir(scratch);
});

describe("external host scripts over SSH", () => {
    test("the package check finds everything present and changes nothing", () => {
        expect(runOk(packagesScript(false))).toBe("unchanged packages");
    });

    test("the package check names what is missing and how to fix it", () => {
        const result = ssh.runScript(
            `PATH=/nonexistent; export PATH; ${packagesScript(false).replace("set -eu", "set -eu; command() { return 1; }")}`,
        );
        expect(result.code).not.toBe(0);
        expect(result.stderr).toMatch(/missing on the registry host: docker caddy.*installPackages: true/);
    });

    test("the data directory is created once", () => {
        expect(runOk(dataDirScript(layout))).toBe(`changed ${onDisk(layout.dataDir)}`);
        expect(runOk(dataDirScript(layout))).toBe(`unchanged ${onDisk(layout.dataDir)}`);
    });

    test("first run: files, container and Caddy; the post-deploy check passes through Caddy", () => {
        const ca = makeTestCa(path.join(scratch, "tls"));
        place(
            paths.registryConfig,
            renderRegistryConfig({
                addr: ":5000",
                storage: { kind: "filesystem", rootDirectory: "/var/lib/registry" },
                deletesEnabled: false,
            }),
        );
        place(paths.tlsCert, readFileSync(ca.serverCertFile, "utf8"));
        place(paths.tlsKey, readFileSync(ca.serverKeyFile, "utf8"), "0600");
        place(paths.caCert, ca.caCertPem);
        place(paths.pushUsers, renderUsersFile("push", [push]), "0600");
        place(paths.pullUsers, renderUsersFile("pull", [pull]), "0600");
        place(layout.caddyfile, caddyfileFor(false));

        expect(runOk(containerScript(spec(), "spec-1"))).toBe("changed container");
        expect(containerLabel("dso-registry")).toBe("spec-1");
        expect(runOk(caddyApplyScript(layout, "files-1"))).toBe("reloaded caddy");
        const check = runOk(
            postDeployCheckScript({
                host: "127.0.0.1",
                port: caddyPort,
                caFile: paths.caCert,
                requiresAuthForPull: false,
                loopbackRefused: false,
                waitSeconds: 30,
            }),
        );
        expect(check.split("\n").filter((l) => l.startsWith("ok"))).toHaveLength(3);
    });

    test("second run changes nothing", () => {
        const callsBefore = dockerCalls().length;
        expect(runOk(containerScript(spec(), "spec-1"))).toBe("unchanged container");
        expect(
            dockerCalls()
                .slice(callsBefore)
                .every((c) => c.startsWith("inspect")),
        ).toBe(true);
        expect(place(layout.caddyfile, caddyfileFor(false))).toMatch(/^unchanged/);
    });

    test("the check fails the update when the policy is not the expected one", () => {
        const result = ssh.runScript(
            postDeployCheckScript({
                host: "127.0.0.1",
                port: caddyPort,
                caFile: paths.caCert,
                requiresAuthForPull: true,
                loopbackRefused: false,
                waitSeconds: 30,
            }),
        );
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain("FAIL anonymous read: GET /v2/_catalog -> 200, expected 401");
    });

    test("a config change recreates the container and reloads Caddy with the new policy", () => {
        expect(runOk(containerScript(spec(), "spec-2"))).toBe("changed container");
        expect(
            dockerCalls()
                .slice(-2)
                .map((c) => c.split(" ")[0]),
        ).toEqual(["rm", "run"]);
        expect(place(layout.caddyfile, caddyfileFor(true))).toMatch(/^changed/);
        expect(runOk(caddyApplyScript(layout, "files-2"))).toBe("reloaded caddy");
        const check = ssh.runScript(
            postDeployCheckScript({
                host: "127.0.0.1",
                port: caddyPort,
                caFile: paths.caCert,
                requiresAuthForPull: true,
                loopbackRefused: false,
                waitSeconds: 30,
            }),
        );
        expect(check.stderr).toBe("");
        expect(check.code).toBe(0);
    });

    test("an invalid Caddyfile is refused and the running config is kept", () => {
        place(layout.caddyfile, "127.0.0.1:1 {\n\tno_such_directive\n}\n");
        const result = ssh.runScript(caddyApplyScript(layout, "files-bad"));
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain("the running Caddy config was not changed");
        place(layout.caddyfile, caddyfileFor(true));
        const check = ssh.runScript(
            postDeployCheckScript({
                host: "127.0.0.1",
                port: caddyPort,
                caFile: paths.caCert,
                requiresAuthForPull: true,
                loopbackRefused: false,
                waitSeconds: 30,
            }),
        );
        expect(check.code).toBe(0);
    });

    test("garbage collection runs with the registry read-only, then brings it back writable", () => {
        place(paths.gcScript, gcScript(spec(), "spec-2", true), "0755");
        const before = dockerCalls().length;
        runOk(`sh "$DSO_ROOT"${paths.gcScript}`);
        const calls = dockerCalls().slice(before);
        expect(calls.map((c) => c.split(" ")[0])).toEqual(["rm", "run", "exec", "rm", "run"]);
        expect(calls[1]).toMatch(/dso-registry\.spec=read-only .*config-readonly\.yml$/);
        expect(calls[2]).toBe("exec dso-registry registry garbage-collect --delete-untagged /etc/dso-registry/config.yml");
        expect(calls[4]).toMatch(/config\.yml$/);
        expect(containerLabel("dso-registry")).toBe("spec-2");
    });

    test("a failed garbage collection still brings the writable registry back, and reports the failure", () => {
        writeFileSync(onDisk("/var/lib/stand-in-docker-exec-fails"), "");
        try {
            const result = ssh.runScript(`sh "$DSO_ROOT"${paths.gcScript}`);
            expect(result.code).not.toBe(0);
            expect(containerLabel("dso-registry")).toBe("spec-2");
        } finally {
            removeDir(onDisk("/var/lib/stand-in-docker-exec-fails"));
        }
    });

    test("backups are dated archives of the data dir, the oldest pruned beyond keep", () => {
        writeFileSync(onDisk(`${layout.dataDir}/marker`), "registry data");
        place(paths.backupScript, backupScript(spec(), "spec-2", "/srv/backup/registry", 2), "0755");
        for (const stamp of ["20200101T000000Z", "20200102T000000Z"]) {
            mkdirSync(onDisk("/srv/backup/registry"), { recursive: true });
            writeFileSync(onDisk(`/srv/backup/registry/registry-${stamp}.tar.gz`), "old");
        }
        const out = runOk(`sh "$DSO_ROOT"${paths.backupScript}`);
        const archive = /backup written: (\S+)/.exec(out)?.[1];
        expect(archive).toBeDefined();
        const listing = ssh.runScript(`tar -tzf ${archive}`).stdout;
        expect(listing).toContain("./marker");
        const kept = ssh.runScript(`ls "$DSO_ROOT"/srv/backup/registry`).stdout.trim().split("\n");
        expect(kept).toHaveLength(2);
        expect(kept).not.toContain("registry-20200101T000000Z.tar.gz");
        expect(containerLabel("dso-registry")).toBe("spec-2");
    });

    test("delete removes the container and the Caddy site, and keeps the data", () => {
        runOk(containerDeleteScript(spec()));
        expect(containerLabel("dso-registry")).toBeUndefined();
        expect(runOk(containerDeleteScript(spec()))).toBe("removed container dso-registry");
        runOk(caddyRemoveScript(layout, adminAddress));
        const check = ssh.runScript(
            postDeployCheckScript({
                host: "127.0.0.1",
                port: caddyPort,
                caFile: paths.caCert,
                requiresAuthForPull: true,
                loopbackRefused: false,
                waitSeconds: 2,
            }),
        );
        expect(check.code).not.toBe(0);
        runOk(dataDirDeleteScript(layout, false));
        expect(existsSync(onDisk(`${layout.dataDir}/marker`))).toBe(true);
    });

    test("delete with purge removes the data", () => {
        runOk(dataDirDeleteScript(layout, true));
        expect(existsSync(onDisk(layout.dataDir))).toBe(false);
    });
});
