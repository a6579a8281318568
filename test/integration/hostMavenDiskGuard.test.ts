/**
 * The external host's disk guard on the Maven repository's directory (`registry.diskGuard` with
 * `externalHost.mavenDataDir`, docs/runbooks.md "Disk full"): the guard's script as the host's cron runs it
 * (dso-registry-disk-guard.sh, rendered for a host that serves Maven), the pinned Caddy with the access
 * policy's Maven route and its marker, real nginx running the rendered Maven backend config on a Maven
 * directory that is a small file system of its own (a 16 MiB tmpfs), beside real Distribution on a data
 * directory of its own. Past `refusePercent` of the Maven directory the script sets the Maven marker only, the
 * front answers deploys 507 with the message, downloads and image uploads go on; once space is freed, the
 * script's next run lets deploys in again. `dso-registry-status` says which it is, and the script's textfile for
 * node_exporter says it as a series of its own (`dso_registry_maven_disk_guard_refusing`, which the alert
 * `DsoRegistryMavenDeploysRefusedDiskFull` reads) beside the data disk's, which keeps saying 0.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MAVEN_DISK_FULL_MESSAGE, renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { defaultHostLayout, diskGuardScript, type HostLayout, hostPaths, statusScript } from "../../components/externalHost/scripts";
import { JOB_METRICS } from "../../components/monitoring/jobMetrics";
import { pinnedCaddy } from "../support/caddyBinaries";
import { diskUsage } from "../support/diskGuardClient";
import { type MavenBackend, startMavenBackend } from "../support/maven";
import { makeAccount, type RealRegistry, startRealRegistry, type TestAccount } from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

const PREFIX = "maven-releases";
const MAVEN_FS_MIB = 16;
const DATA_FS_MIB = 64;
const REFUSE_PERCENT = 90;

let work: string;
let mavenData: string | undefined;
let backend: MavenBackend | undefined;
let reg: RealRegistry | undefined;
let deployer: TestAccount;
let layout: HostLayout;
let guardFile: string;
let textfileDir: string;

beforeAll(async () => {
    work = privateDir("host-maven-disk-guard");
    // The Maven directory a file system of its own, as externalHost.mavenDataDir may be.
    mavenData = path.join(work, "maven-data");
    mkdirSync(mavenData);
    const mount = run("mount", ["-t", "tmpfs", "-o", `size=${MAVEN_FS_MIB}m`, "dso-test-maven", mavenData]);
    if (mount.code !== 0) throw new Error(`tmpfs for the Maven directory: ${mount.stderr}`);
    backend = await startMavenBackend(work, PREFIX);
    deployer = makeAccount("ci-deploy");
    const deployUsersFile = path.join(work, "users-maven");
    writeFileSync(deployUsersFile, renderUsersFile("push", [deployer]), { mode: 0o600 });
    const caddyDir = path.join(work, "caddy");
    layout = { ...defaultHostLayout("/unused", backend.dataDir), caddyDir };
    const paths = hostPaths(layout);
    reg = await startRealRegistry({
        caddyBinary: pinnedCaddy(),
        dataFsMiB: DATA_FS_MIB,
        policy: { readOnlySignals: [{ kind: "file", path: paths.readOnlyMarker }], diskFullSignal: paths.diskFullMarker },
        caddyfileFor: (policy) =>
            renderCaddyfile({
                ...policy,
                decoy: policy.decoy && { ...policy.decoy, accounts: { ...policy.decoy.accounts, mavenDeploy: [deployer.username] } },
                maven: {
                    pathPrefix: PREFIX,
                    upstream: backend!.address,
                    deployUsersFile,
                    requiresAuthForPull: false,
                    diskFullSignal: paths.mavenDiskFullMarker,
                },
            }),
    });
    layout = { ...layout, dataDir: reg.dataDir };
    guardFile = path.join(work, "dso-registry-disk-guard");
    textfileDir = path.join(work, "textfile");
    writeFileSync(guardFile, diskGuardScript(layout, { refusePercent: REFUSE_PERCENT }, textfileDir, { data: true, maven: true }), {
        mode: 0o755,
    });
}, 120_000);

afterAll(async () => {
    await reg?.stop();
    await backend?.stop();
    if (mavenData) run("umount", [mavenData]);
    if (work) removeDir(work);
});

/** The guard's run, as cron runs it; its output. */
function guard(): string {
    const r = run("sh", [guardFile]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
}

/** The value of `series` in the guard's textfile `file` for node_exporter; undefined without the file or the series. */
function textfileValue(file: string, series: string): string | undefined {
    const at = path.join(textfileDir, file);
    if (!existsSync(at)) return undefined;
    return new RegExp(`^${series} (\\d)$`, "m").exec(readFileSync(at, "utf8"))?.[1];
}

/** The series the alerts read: Maven deploys refused, and new image uploads refused (the data disk). */
const mavenRefusing = () => textfileValue("dso_registry_maven_disk_guard.prom", JOB_METRICS.mavenDiskGuardRefusing);
const uploadsRefusing = () => textfileValue("dso_registry_disk_guard.prom", JOB_METRICS.diskGuardRefusing);

/** What `dso-registry-status` says of the Maven directory's guard (the container engine and systemd played by stubs that say nothing). */
function mavenStatus(): string {
    const bin = path.join(work, "stub-bin");
    mkdirSync(bin, { recursive: true });
    for (const name of ["docker", "systemctl"]) writeFileSync(path.join(bin, name), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    const status = statusScript(
        { name: "dso-registry", image: "registry:3", layout },
        {
            host: "127.0.0.1",
            port: 1,
            textfileDir: "",
            diskGuard: { refusePercent: REFUSE_PERCENT },
            mavenDiskGuard: { refusePercent: REFUSE_PERCENT },
        },
    );
    const out = run("sh", ["-c", status], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } }).stdout;
    return /^== Maven disk guard\n.*\n(.*)$/m.exec(out)?.[1] ?? out;
}

/** curl against the front: status and body; as `account` when given. */
function curl(args: readonly string[], account?: TestAccount): { readonly status: string; readonly body: string } {
    const r = run(
        "curl",
        ["-sS", "--cacert", reg!.ca.caCertFile, "-w", "\n%{http_code}", ...(account ? ["-K", "-"] : []), ...args],
        account ? { input: `user = "${account.username}:${account.password}"\n` } : {},
    );
    const cut = r.stdout.lastIndexOf("\n");
    return { status: r.stdout.slice(cut + 1), body: r.stdout.slice(0, cut) };
}

/** A deploy (PUT) of `bytes` bytes to `relative` under the repository, as the Maven account. */
function deploy(relative: string, bytes: number) {
    const file = path.join(work, "upload");
    writeFileSync(file, Buffer.alloc(bytes, 7));
    return curl(["-X", "PUT", "--data-binary", `@${file}`, `${reg!.url}/${PREFIX}/${relative}`], deployer);
}

describe("the host's disk guard on the Maven directory, filled by real deploys", () => {
    test("past refusePercent deploys get 507 saying the disk is full while downloads and image uploads go on; the next run after a clean-up lets them in", () => {
        const paths = hostPaths(layout);
        expect(deploy("com/example/app/1.0.0/app-1.0.0.jar", 4096).status).toBe("201");
        expect(guard()).toBe("");
        expect(mavenRefusing()).toBe("0");
        expect(uploadsRefusing()).toBe("0");

        // What fills it: one big artifact, to about 94% used, still short of full.
        const { size, used } = diskUsage(backend!.dataDir);
        expect(deploy("com/example/big/1/big-1.bin", Math.floor(size * 0.94) - used).status).toMatch(/^20[14]$/);
        expect(guard()).toMatch(/^Maven repository's disk \d+% used, past 90%: new Maven deploys are refused until space is freed/);
        expect(run("test", ["-e", paths.mavenDiskFullMarker]).code).toBe(0);
        // The registry's own directory is another file system, with room: its marker stays away.
        expect(run("test", ["-e", paths.diskFullMarker]).code).not.toBe(0);
        // node_exporter's textfile says so, in the Maven series only: the data disk's keeps saying 0.
        expect(mavenRefusing()).toBe("1");
        expect(uploadsRefusing()).toBe("0");

        expect(mavenStatus()).toMatch(/^REFUSING Maven deploys: the Maven directory's disk is used past 90%/);
        const refused = deploy("com/example/app/1.0.1/app-1.0.1.jar", 4096);
        expect(refused).toEqual({ status: "507", body: MAVEN_DISK_FULL_MESSAGE });
        expect(run("test", ["-e", path.join(backend!.dataDir, PREFIX, "com/example/app/1.0.1")]).code).not.toBe(0);
        const download = curl([`${reg!.url}/${PREFIX}/com/example/app/1.0.0/app-1.0.0.jar`]);
        expect(download.status).toBe("200");
        expect(download.body.length).toBe(4096);
        expect(curl(["-X", "POST", `${reg!.url}/v2/team/app/blobs/uploads/`], reg!.push).status).toBe("202");

        // What frees space: the old build removed; the guard's next run lets deploys in.
        rmSync(path.join(backend!.dataDir, PREFIX, "com/example/big"), { recursive: true });
        expect(guard()).toMatch(/^Maven repository's disk \d+% used, below 90% again: Maven deploys resume/);
        expect(mavenStatus()).toBe("taking Maven deploys; they are refused past 90% used");
        expect(mavenRefusing()).toBe("0");
        expect(deploy("com/example/app/1.0.1/app-1.0.1.jar", 4096).status).toBe("201");
        expect(readFileSync(path.join(backend!.dataDir, PREFIX, "com/example/app/1.0.1/app-1.0.1.jar")).length).toBe(4096);
    });

    test("the Maven series says 1 at 91% of the Maven directory used and 0 at 89%; a host that no longer serves Maven drops it", () => {
        /** Deploys what brings the Maven directory to `percent` used (or a little past it); the percentage df reports after. */
        const fillTo = (name: string, percent: number): number => {
            const { size, used } = diskUsage(backend!.dataDir);
            expect(deploy(`com/example/fill/${name}/fill-${name}.bin`, Math.floor((size * percent) / 100) - used).status).toMatch(
                /^20[14]$/,
            );
            const after = diskUsage(backend!.dataDir);
            return (after.used * 100) / after.size;
        };
        const at89 = fillTo("a", 89);
        expect(at89).toBeGreaterThanOrEqual(89);
        expect(at89).toBeLessThan(REFUSE_PERCENT);
        expect(guard()).toBe("");
        expect(mavenRefusing()).toBe("0");

        const at91 = fillTo("b", 91);
        expect(at91).toBeGreaterThanOrEqual(91);
        expect(at91).toBeLessThan(92);
        expect(guard()).toMatch(/^Maven repository's disk 91% used, past 90%/);
        expect(mavenRefusing()).toBe("1");
        expect(uploadsRefusing()).toBe("0");

        // The same host rendered without Maven: its run removes the Maven series' file, the data disk's stays.
        const dataOnly = path.join(work, "dso-registry-disk-guard-data-only");
        writeFileSync(dataOnly, diskGuardScript(layout, { refusePercent: REFUSE_PERCENT }, textfileDir, { data: true, maven: false }), {
            mode: 0o755,
        });
        const r = run("sh", [dataOnly]);
        expect(r.code, r.stderr).toBe(0);
        expect(existsSync(path.join(textfileDir, "dso_registry_maven_disk_guard.prom"))).toBe(false);
        expect(uploadsRefusing()).toBe("0");
        rmSync(path.join(backend!.dataDir, PREFIX, "com/example/fill"), { recursive: true });
    });
});
