/**
 * The disk guard in the registry pod (`registry.diskGuard`, components/inCluster/diskGuard.ts,
 * docs/runbooks.md "Disk full"), on the pod as the program renders it, run for real (test/support/podRunner.ts:
 * the Caddy sidecar, Distribution and the disk-guard container, each with its mounts, user and read-only
 * root), its data volume a small file system of its own (a 64 MiB tmpfs) filled by real pushes through the
 * TLS Service (a forwarder to the pod's TLS port, at the address the clients resolve the registry's name to).
 * The guard's container checks every second here (the stack's pods: every five minutes); past
 * `refusePercent` the sidecar answers new uploads 507 with the message, pulls go on, no half-written blob
 * lands; once a tag's deletion and the garbage collection free space, pushes land again.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DISK_FULL_MESSAGE } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { renderSidecarCaddyfile, SIDECAR_TLS, sidecarPolicy } from "../../components/inCluster/inClusterRegistry";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { DEFAULT_IMAGES } from "../../components/shared/defaults";
import { DISTRIBUTION } from "../../components/shared/facts";
import type { K8sObject } from "../../components/shared/k8sObject";
import type { AppliedObject, DeployedStack } from "../support/deployedStack";
import { type DiskGuardClient, damagedBlobs, diskGuardClient, diskUsage, waitFor } from "../support/diskGuardClient";
import { DEPLOYED_REGISTRY_IMAGE, deployedRegistry } from "../support/distributionBinaries";
import { baseSpec } from "../support/inClusterSpec";
import { createNetns, type TestNetns } from "../support/netns";
import { type RunningPod, startPod } from "../support/podRunner";
import { makeAccount, makeTestCa } from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";
import { type ServiceProxy, startServiceProxy } from "../support/serviceProxy";

const HOST = "registry.test";
const DATA_FS_MIB = 64;
const REFUSE_PERCENT = 90;

let scratch: string;
let ns: TestNetns;
let pod: RunningPod | undefined;
let service: ServiceProxy | undefined;
let client: DiskGuardClient;
let dataDir: string;

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

beforeAll(async () => {
    scratch = privateDir("in-cluster-disk-guard");
    const ca = makeTestCa(path.join(scratch, "ca"), [HOST]);
    const push = makeAccount("ci-push");
    const policy = sidecarPolicy({ host: HOST, requiresAuthForPull: false, deletesEnabled: true, storage: "filesystem", diskGuard: true });
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
        diskGuard: { refusePercent: REFUSE_PERCENT, checkSeconds: 1 },
    });
    const stack = asDeployed(renderInClusterObjects(spec));
    ns = await createNetns({ prefix: "icdg", subnet: "198.19.160.0/20" });
    pod = await startPod({
        ns,
        deployment: stack.object("Deployment", IN_CLUSTER.name, "dso"),
        stack,
        claimSizesMiB: { [IN_CLUSTER.dataClaim]: DATA_FS_MIB },
    });
    dataDir = pod.claimDir(IN_CLUSTER.dataClaim);
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
    client = diskGuardClient({ ns, authority: HOST, scheme: "https", certDir, push, scratch });
}, 180_000);

afterAll(async () => {
    await service?.stop();
    await pod?.stop();
    await ns?.destroy();
    if (scratch) removeDir(scratch);
});

describe("the disk guard in the registry pod, on a data volume filled by real pushes", () => {
    test("past refusePercent new uploads get 507 saying the disk is full, pulls go on; after a clean-up pushes land again", async () => {
        const keep = client.push("team/keep:1", 2 ** 20);
        expect(keep.code, `${keep.stderr}\n${pod!.logs()}`).toBe(0);
        const keepDigest = client.manifestDigest("team/keep:1");
        expect(keepDigest).toMatch(/^sha256:/);

        // What fills it: one big image, to about 94% used, still short of full.
        const { size, used } = diskUsage(dataDir);
        const filler = client.push("team/scratch:big", Math.floor(size * 0.94) - used);
        expect(filler.code, filler.stderr).toBe(0);
        expect(diskUsage(dataDir).used / size).toBeGreaterThan(REFUSE_PERCENT / 100);

        // The guard's container sees it and the sidecar turns new uploads away, with room still there.
        const refused = await waitFor(
            "the sidecar's 507 to a new upload",
            60_000,
            () => {
                const r = client.startUpload("team/next");
                return r.status === "507" ? r : undefined;
            },
            () => pod!.logs(),
        );
        expect(JSON.parse(refused.body)).toEqual({ errors: [{ code: "DENIED", message: DISK_FULL_MESSAGE, detail: null }] });
        const next = client.push("team/next:1", 2 ** 20);
        expect(next.code).not.toBe(0);
        expect(next.stderr).toContain("507 Insufficient Storage");
        expect(client.manifestDigest("team/next:1")).toBe("");
        // Pulls go on; nothing kept was lost; no half-written blob landed.
        const pulled = client.pull("team/keep:1");
        expect(pulled.code, pulled.stderr).toBe(0);
        expect(client.manifestDigest("team/keep:1")).toBe(keepDigest);
        expect(damagedBlobs(dataDir)).toEqual([]);

        // What frees space, as the runbook does it: the tag deleted (deletes go on), then the collection.
        const deleted = client.deleteTag("team/scratch:big");
        expect(deleted.code, deleted.stderr).toBe(0);
        const gcConfig = path.join(scratch, "gc.yml");
        writeFileSync(
            gcConfig,
            renderRegistryConfig({ addr: "127.0.0.1:0", storage: { kind: "filesystem", rootDirectory: dataDir }, deletesEnabled: true }),
        );
        const gc = run(deployedRegistry().path, ["garbage-collect", gcConfig], { env: { ...process.env, ...DISTRIBUTION.environment } });
        expect(gc.code, gc.stderr).toBe(0);
        expect(diskUsage(dataDir).used / size).toBeLessThan(REFUSE_PERCENT / 100);

        // The guard's next check lets pushes in again; the push that was refused lands whole.
        await waitFor(
            "the sidecar to take new uploads again",
            60_000,
            () => (client.startUpload("team/next").status === "202" ? true : undefined),
            () => pod!.logs(),
        );
        const again = client.push("team/next:1", 2 ** 20);
        expect(again.code, again.stderr).toBe(0);
        const pulledAgain = client.pull("team/next:1");
        expect(pulledAgain.code, pulledAgain.stderr).toBe(0);
        expect(client.manifestDigest("team/keep:1")).toBe(keepDigest);
        expect(damagedBlobs(dataDir)).toEqual([]);
    });
});
