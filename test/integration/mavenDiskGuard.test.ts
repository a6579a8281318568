/**
 * The disk guard on the Maven repository's volume (`registry.diskGuard`, components/inCluster/diskGuard.ts,
 * docs/runbooks.md "Disk full"), on the registry pod as the program renders it when it serves Maven
 * (test/support/renderedRegistryPod.ts), run for real (test/support/podRunner.ts: the Caddy sidecar,
 * Distribution, the Maven nginx and the disk-guard container, each with its mounts, user and read-only root),
 * the Maven volume a small file system of its own (a 32 MiB tmpfs) filled by real deploys through the TLS
 * Service. The guard's container checks every second here (the stack's pods: every five minutes). Past
 * `refusePercent` the sidecar answers Maven deploys 507 with the message (curl, and real `mvn deploy` fails on
 * it), downloads of what is there go on, and image pushes, whose volume has room, go on too; once space is
 * freed on the volume, deploys land again.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MAVEN_DISK_FULL_MESSAGE } from "../../components/accessPolicy/caddyfile";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { diskUsage, waitFor } from "../support/diskGuardClient";
import { makeJar, makeTrustStore, mavenClient } from "../support/maven";
import { makeAccount, type TestAccount } from "../support/realRegistry";
import { type GuardedRegistryPod, startGuardedRegistryPod } from "../support/renderedRegistryPod";
import { privateDir, removeDir } from "../support/serverProcess";

const HOST = "registry.test";
const PREFIX = "maven-releases";
const MAVEN_FS_MIB = 32;
const DATA_FS_MIB = 64;
const REFUSE_PERCENT = 90;
const URL = `https://${HOST}/${PREFIX}`;

let scratch: string;
let guarded: GuardedRegistryPod | undefined;
let deployer: TestAccount;
let caFile: string;
let mavenDir: string;
let hostsFile: string;
let trustStore: { readonly file: string; readonly password: string };

/** curl inside the namespace (the registry's name resolves to the TLS Service there): the status and body. */
function curl(args: readonly string[], account?: TestAccount): { readonly status: string; readonly body: string } {
    const r = guarded!.ns.run(
        "curl",
        ["-sS", "--cacert", caFile, "-w", "\n%{http_code}", ...(account ? ["-K", "-"] : []), ...args],
        account ? { input: `user = "${account.username}:${account.password}"\n` } : {},
    );
    const cut = r.stdout.lastIndexOf("\n");
    return { status: r.stdout.slice(cut + 1), body: r.stdout.slice(0, cut) };
}

/** A deploy of one file (a PUT of `file` to `relative` under the repository) as the Maven account. */
function put(relative: string, file: string) {
    return curl(["-X", "PUT", "--data-binary", `@${file}`, `${URL}/${relative}`], deployer);
}

/** An anonymous download of `relative` under the repository. */
function get(relative: string) {
    return curl([`${URL}/${relative}`]);
}

/** A file of `bytes` random-looking bytes in the scratch directory. */
function payload(name: string, bytes: number): string {
    const file = path.join(scratch, name);
    const block = Buffer.alloc(Math.min(bytes, 2 ** 20));
    for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
    writeFileSync(file, Buffer.concat(Array.from({ length: Math.ceil(bytes / block.length) }, () => block)).subarray(0, bytes));
    return file;
}

beforeAll(async () => {
    scratch = privateDir("maven-disk-guard");
    deployer = makeAccount("ci-deploy");
    guarded = await startGuardedRegistryPod({
        scratch,
        host: HOST,
        netns: { prefix: "mvdg", subnet: "198.18.176.0/20" },
        refusePercent: REFUSE_PERCENT,
        dataMiB: DATA_FS_MIB,
        maven: { pathPrefix: PREFIX, deployer, sizeMiB: MAVEN_FS_MIB },
    });
    caFile = guarded.ca.caCertFile;
    mavenDir = guarded.pod.claimDir(IN_CLUSTER.mavenClaim);
    // Java resolves the name as a CI agent in the cluster does: to Service registry-tls.
    hostsFile = path.join(scratch, "java-hosts");
    writeFileSync(hostsFile, `${guarded.ns.hostAddress} ${HOST}\n`);
    trustStore = makeTrustStore(scratch, caFile);
}, 180_000);

afterAll(async () => {
    await guarded?.stop();
    if (scratch) removeDir(scratch);
});

describe("the disk guard on the registry pod's Maven volume, filled by real deploys", () => {
    test("past refusePercent Maven deploys get 507 saying the disk is full, downloads and image pushes go on; once space is freed deploys land again", async () => {
        const app = { groupId: "com.example.guard", artifactId: "app", version: "1.0.0" };
        const appPath = "com/example/guard/app/1.0.0/app-1.0.0.jar";
        const jar = makeJar(path.join(scratch, "jar"));
        const mvn = mavenClient(path.join(scratch, "mvn-deploy"), trustStore, deployer, [`-Djdk.net.hosts.file=${hostsFile}`]);
        const deployed = mvn.deployFile(URL, app, jar.file);
        expect(deployed.stdout, `${deployed.stderr}\n${guarded!.pod.logs()}`).toContain("BUILD SUCCESS");

        // What fills it: one big artifact deployed, to about 94% used, still short of full.
        const { size, used } = diskUsage(mavenDir);
        const filler = put("com/example/guard/big/1/big-1.bin", payload("big.bin", Math.floor(size * 0.94) - used));
        expect(filler.status, filler.body).toMatch(/^20[14]$/);
        expect(diskUsage(mavenDir).used / size).toBeGreaterThan(REFUSE_PERCENT / 100);

        // The guard's container sees it and the sidecar turns deploys away, with room still there.
        const probe = payload("probe.pom", 512);
        const refused = await waitFor(
            "the sidecar's 507 to a Maven deploy",
            60_000,
            () => {
                const r = put("com/example/guard/probe/1/probe-1.pom", probe);
                return r.status === "507" ? r : undefined;
            },
            () => guarded!.pod.logs(),
        );
        expect(refused.body).toBe(MAVEN_DISK_FULL_MESSAGE);
        expect(guarded!.pod.logs()).toMatch(
            new RegExp(`Maven repository's disk \\d+% used, past ${REFUSE_PERCENT}%: new Maven deploys are refused`),
        );
        const next = mvn.deployFile(URL, { ...app, version: "1.0.1" }, jar.file);
        expect(next.code).not.toBe(0);
        expect(next.stdout).toMatch(/507/);
        expect(existsSync(path.join(mavenDir, PREFIX, "com/example/guard/app/1.0.1"))).toBe(false);

        // Downloads go on, byte for byte; the registry's own volume has room: image uploads are taken.
        const download = mavenClient(path.join(scratch, "mvn-get"), trustStore, undefined, [`-Djdk.net.hosts.file=${hostsFile}`]).get(
            URL,
            app,
        );
        expect(download.stdout, download.stderr).toContain("BUILD SUCCESS");
        expect(readFileSync(path.join(download.localRepository, appPath)).equals(readFileSync(jar.file))).toBe(true);
        expect(get(appPath).status).toBe("200");
        expect(guarded!.client.startUpload("team/app").status).toBe("202");

        // What frees space, as the runbook does it on the volume: the old build removed.
        rmSync(path.join(mavenDir, PREFIX, "com/example/guard/big"), { recursive: true });
        expect(diskUsage(mavenDir).used / size).toBeLessThan(REFUSE_PERCENT / 100);

        // The guard's next check lets deploys in again; the deploy that was refused lands whole.
        await waitFor(
            "the sidecar to take Maven deploys again",
            60_000,
            () => (/^20[14]$/.test(put("com/example/guard/probe/1/probe-1.pom", probe).status) ? true : undefined),
            () => guarded!.pod.logs(),
        );
        const again = mvn.deployFile(URL, { ...app, version: "1.0.1" }, jar.file);
        expect(again.stdout, again.stderr).toContain("BUILD SUCCESS");
        expect(readFileSync(path.join(mavenDir, PREFIX, "com/example/guard/app/1.0.1/app-1.0.1.jar")).equals(readFileSync(jar.file))).toBe(
            true,
        );
    });
});
