/**
 * The disk guard on the Maven repository's volume (`registry.diskGuard`, components/inCluster/diskGuard.ts,
 * docs/runbooks.md "Disk full"), on the registry pod as the program renders it when it serves Maven, run for
 * real (test/support/podRunner.ts: the Caddy sidecar, Distribution, the Maven nginx and the disk-guard
 * container, each with its mounts, user and read-only root), the Maven volume a small file system of its own
 * (a 32 MiB tmpfs) filled by real deploys through the TLS Service. The guard's container checks every second
 * here (the stack's pods: every five minutes). Past `refusePercent` the sidecar answers Maven deploys 507 with
 * the message (curl, and real `mvn deploy` fails on it), downloads of what is there go on, and image pushes,
 * whose volume has room, go on too; once space is freed on the volume, deploys land again.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { MAVEN_DISK_FULL_MESSAGE } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { renderSidecarCaddyfile, SIDECAR_TLS, sidecarPolicy } from "../../components/inCluster/inClusterRegistry";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { MAVEN_BACKEND, renderMavenNginxConfig } from "../../components/maven/nginxConfig";
import { DEFAULT_IMAGES, DEFAULT_MAVEN_NGINX_IMAGE } from "../../components/shared/defaults";
import type { K8sObject } from "../../components/shared/k8sObject";
import type { AppliedObject, DeployedStack } from "../support/deployedStack";
import { type DiskGuardClient, diskGuardClient, diskUsage, waitFor } from "../support/diskGuardClient";
import { DEPLOYED_REGISTRY_IMAGE } from "../support/distributionBinaries";
import { baseSpec } from "../support/inClusterSpec";
import { makeJar, makeTrustStore, mavenClient } from "../support/maven";
import { createNetns, type TestNetns } from "../support/netns";
import { type RunningPod, startPod } from "../support/podRunner";
import { makeAccount, makeTestCa, type TestAccount } from "../support/realRegistry";
import { privateDir, removeDir } from "../support/serverProcess";
import { type ServiceProxy, startServiceProxy } from "../support/serviceProxy";

const HOST = "registry.test";
const PREFIX = "maven-releases";
const MAVEN_FS_MIB = 32;
const DATA_FS_MIB = 64;
const REFUSE_PERCENT = 90;
const URL = `https://${HOST}/${PREFIX}`;

let scratch: string;
let ns: TestNetns;
let pod: RunningPod | undefined;
let service: ServiceProxy | undefined;
let deployer: TestAccount;
let images: DiskGuardClient;
let caFile: string;
let mavenDir: string;
let hostsFile: string;
let trustStore: { readonly file: string; readonly password: string };

/** The rendered objects, as the stack would apply them: what the pod runner reads. */
function asDeployed(objects: readonly K8sObject[]): DeployedStack {
    const applied = objects as unknown as AppliedObject[];
    const object = (kind: string, name: string, namespace?: string) => {
        const found = applied.find(
            (o) => o.kind === kind && o.metadata.name === name && (!namespace || o.metadata.namespace === namespace),
        );
        if (!found) throw new Error(`no ${kind} ${name} among the rendered objects`);
        return found;
    };
    return {
        objects: applied,
        warnings: [],
        object,
        dataOf: (kind, name, namespace) => {
            const o = object(kind, name, namespace);
            return ((o.stringData ?? o.data) as Record<string, string>) ?? {};
        },
        inputsOf: () => {
            throw new Error("no resource inputs here");
        },
    };
}

/** curl inside the namespace (the registry's name resolves to the TLS Service there): the status and body. */
function curl(args: readonly string[], account?: TestAccount): { readonly status: string; readonly body: string } {
    const r = ns.run(
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
    const ca = makeTestCa(path.join(scratch, "ca"), [HOST]);
    caFile = ca.caCertFile;
    const push = makeAccount("ci-push");
    deployer = makeAccount("ci-deploy");
    const policy = sidecarPolicy({
        host: HOST,
        requiresAuthForPull: false,
        deletesEnabled: true,
        storage: "filesystem",
        maven: { pathPrefix: PREFIX, requiresAuthForPull: false },
        diskGuard: true,
    });
    const spec = baseSpec({
        host: HOST,
        tls: { kind: "secret", certPem: readFileSync(ca.serverCertFile, "utf8"), keyPem: readFileSync(ca.serverKeyFile, "utf8") },
        images: { ...baseSpec().images, registry: DEPLOYED_REGISTRY_IMAGE, caddy: DEFAULT_IMAGES.caddy },
        caddyfile: renderSidecarCaddyfile(policy, SIDECAR_TLS),
        registryConfig: renderRegistryConfig({
            addr: IN_CLUSTER.registryAddr,
            storage: { kind: "filesystem", rootDirectory: IN_CLUSTER.dataDir },
            deletesEnabled: true,
        }),
        users: { push: renderUsersFile("push", [push]), pull: renderUsersFile("pull", []), htpasswd: "" },
        maven: {
            image: DEFAULT_MAVEN_NGINX_IMAGE,
            nginxConfig: renderMavenNginxConfig({
                listen: `127.0.0.1:${MAVEN_BACKEND.port}`,
                pathPrefix: PREFIX,
                dataDir: MAVEN_BACKEND.dataDir,
                runDir: MAVEN_BACKEND.runDir,
            }),
            deployUsers: renderUsersFile("push", [deployer]),
            size: `${MAVEN_FS_MIB}Mi`,
            pathPrefix: PREFIX,
            snapshotBuildsToKeep: 3,
        },
        diskGuard: { refusePercent: REFUSE_PERCENT, checkSeconds: 1 },
    });
    const stack = asDeployed(renderInClusterObjects(spec));
    ns = await createNetns({ prefix: "mvdg", subnet: "198.18.176.0/20" });
    pod = await startPod({
        ns,
        deployment: stack.object("Deployment", IN_CLUSTER.name, "dso"),
        stack,
        // Each claim a file system of its own, as a volume is: the guard reads each one's use, not this machine's disk.
        claimSizesMiB: { [IN_CLUSTER.mavenClaim]: MAVEN_FS_MIB, [IN_CLUSTER.dataClaim]: DATA_FS_MIB },
    });
    mavenDir = pod.claimDir(IN_CLUSTER.mavenClaim);
    // Service registry-tls where the clients resolve the registry's name (the cluster DNS's answer).
    service = await startServiceProxy({
        service: stack.object("Service", IN_CLUSTER.tlsService, "dso"),
        listenAddress: ns.hostAddress,
        podAddress: pod.address,
        podPort: (name) => pod!.port(name),
    });
    ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.hostAddress} ${HOST}\n`);
    const certDir = path.join(scratch, "certs");
    mkdirSync(certDir);
    copyFileSync(ca.caCertFile, path.join(certDir, "ca.crt"));
    images = diskGuardClient({ ns, authority: HOST, scheme: "https", certDir, push, scratch });
    // Java resolves the name as a CI agent in the cluster does: to Service registry-tls.
    hostsFile = path.join(scratch, "java-hosts");
    writeFileSync(hostsFile, `${ns.hostAddress} ${HOST}\n`);
    trustStore = makeTrustStore(scratch, ca.caCertFile);
}, 180_000);

afterAll(async () => {
    await service?.stop();
    await pod?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

describe("the disk guard on the registry pod's Maven volume, filled by real deploys", () => {
    test("past refusePercent Maven deploys get 507 saying the disk is full, downloads and image pushes go on; once space is freed deploys land again", async () => {
        const app = { groupId: "com.example.guard", artifactId: "app", version: "1.0.0" };
        const appPath = "com/example/guard/app/1.0.0/app-1.0.0.jar";
        const jar = makeJar(path.join(scratch, "jar"));
        const mvn = mavenClient(path.join(scratch, "mvn-deploy"), trustStore, deployer, [`-Djdk.net.hosts.file=${hostsFile}`]);
        const deployed = mvn.deployFile(URL, app, jar.file);
        expect(deployed.stdout, `${deployed.stderr}\n${pod!.logs()}`).toContain("BUILD SUCCESS");

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
            () => pod!.logs(),
        );
        expect(refused.body).toBe(MAVEN_DISK_FULL_MESSAGE);
        expect(pod!.logs()).toContain("Maven repository: data disk");
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
        expect(images.startUpload("team/app").status).toBe("202");

        // What frees space, as the runbook does it on the volume: the old build removed.
        rmSync(path.join(mavenDir, PREFIX, "com/example/guard/big"), { recursive: true });
        expect(diskUsage(mavenDir).used / size).toBeLessThan(REFUSE_PERCENT / 100);

        // The guard's next check lets deploys in again; the deploy that was refused lands whole.
        await waitFor(
            "the sidecar to take Maven deploys again",
            60_000,
            () => (/^20[14]$/.test(put("com/example/guard/probe/1/probe-1.pom", probe).status) ? true : undefined),
            () => pod!.logs(),
        );
        const again = mvn.deployFile(URL, { ...app, version: "1.0.1" }, jar.file);
        expect(again.stdout, again.stderr).toContain("BUILD SUCCESS");
        expect(readFileSync(path.join(mavenDir, PREFIX, "com/example/guard/app/1.0.1/app-1.0.1.jar")).equals(readFileSync(jar.file))).toBe(
            true,
        );
    });
});
