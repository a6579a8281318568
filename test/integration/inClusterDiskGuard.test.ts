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
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { renderSidecarCaddyfile, SIDECAR_TLS, sidecarPolicy } from "../../components/inCluster/inClusterRegistry";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { DEFAULT_IMAGES } from "../../components/shared/defaults";
import { DISTRIBUTION } from "../../components/shared/facts";
import type { K8sObject } from "../../components/shared/k8sObject";
import type { AppliedObject, DeployedStack } from "../support/deployedStack";
import { type DiskGuardClient, diskGuardClient, fillAndFree } from "../support/diskGuardClient";
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

/** Distribution's garbage-collect over the data volume, run from this machine. */
function collectGarbage(): void {
    const config = path.join(scratch, "gc.yml");
    const storage = { kind: "filesystem", rootDirectory: dataDir } as const;
    writeFileSync(config, renderRegistryConfig({ addr: "127.0.0.1:0", storage, deletesEnabled: true }));
    const gc = run(deployedRegistry().path, ["garbage-collect", config], { env: { ...process.env, ...DISTRIBUTION.environment } });
    expect(gc.code, gc.stderr).toBe(0);
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
        await fillAndFree({
            client,
            dataDir,
            refusePercent: REFUSE_PERCENT,
            front: "the sidecar",
            // The guard's container checks every second.
            guardWaitMs: 60_000,
            collect: collectGarbage,
            logs: () => pod!.logs(),
        });
    });
});
