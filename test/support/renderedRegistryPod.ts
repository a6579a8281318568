/**
 * The in-cluster registry pod with its disk guard (`registry.diskGuard`), rendered by the program's own
 * renderers (renderInClusterObjects, the sidecar's Caddyfile, Distribution's config.yml, the users files) and
 * taken as the stack would apply the objects, run for real (podRunner.ts) in a network namespace of its own:
 * filesystem storage with deletes on, a TLS certificate from a test CA, anonymous pulls, the guard checking
 * every second (the stack's pods: every five minutes), optionally the Maven repository (anonymous downloads,
 * its nginx). Each data volume is a small file system of its own, as a volume is: the guard reads each one's
 * use, not this machine's disk. Service registry-tls forwards to the pod at the address the namespace resolves
 * the registry's name to (the cluster DNS's answer); the images' client (diskGuardClient.ts) runs in the
 * namespace. Used by the tests of the guard on the image data and on the Maven volume.
 */
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { renderSidecarCaddyfile, SIDECAR_TLS, sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { MAVEN_BACKEND, renderMavenNginxConfig } from "../../components/maven/nginxConfig";
import { DEFAULT_IMAGES, DEFAULT_MAVEN_NGINX_IMAGE, DEFAULT_PROBE_IMAGE } from "../../components/shared/defaults";
import type { K8sObject } from "../../components/shared/k8sObject";
import type { AppliedObject, DeployedStack } from "./deployedStack";
import { type DiskGuardClient, diskGuardClient } from "./diskGuardClient";
import { DEPLOYED_REGISTRY_IMAGE } from "./distributionBinaries";
import { baseSpec } from "./inClusterSpec";
import { createNetns, type NetnsOptions, type TestNetns } from "./netns";
import { type RunningPod, startPod } from "./podRunner";
import { makeAccount, makeTestCa, type TestAccount, type TestCa } from "./realRegistry";
import { type ServiceProxy, startServiceProxy } from "./serviceProxy";

export interface GuardedRegistryPodOptions {
    /** The test's private directory: the CA is made in `ca/`, the clients' certificate directory is `certs/`. */
    readonly scratch: string;
    /** The registry's name, on the certificate and in the namespace's /etc/hosts. */
    readonly host: string;
    /** The namespace the pod runs in: a prefix and a subnet of the test's own. */
    readonly netns: NetnsOptions;
    readonly refusePercent: number;
    /** The size of the image data volume's file system. */
    readonly dataMiB: number;
    /** The Maven repository under `pathPrefix`, deploys by `deployer`, on a volume of `sizeMiB`. */
    readonly maven?: { readonly pathPrefix: string; readonly deployer: TestAccount; readonly sizeMiB: number };
    /** `registry.monitoring` on (scrape annotations, the rules ConfigMap): the sidecar's metrics ports, the disk figures. */
    readonly monitoring?: boolean;
}

export interface GuardedRegistryPod {
    readonly ns: TestNetns;
    readonly pod: RunningPod;
    readonly ca: TestCa;
    /**
     * Images through the TLS Service, from inside the namespace: pushes as the users file's one push account
     * (the pull file is empty), anonymous pulls.
     */
    readonly client: DiskGuardClient;
    /** Every object rendered, as the stack would apply them (the rules ConfigMap with monitoring). */
    readonly objects: readonly K8sObject[];
    /** Stops the Service's forwarder and the pod, and removes the namespace. */
    stop(): Promise<void>;
}

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

/** Renders the guarded pod, starts it and its TLS Service; resolves once every container is ready. */
export async function startGuardedRegistryPod(o: GuardedRegistryPodOptions): Promise<GuardedRegistryPod> {
    const { host, maven } = o;
    const ca = makeTestCa(path.join(o.scratch, "ca"), [host]);
    const push = makeAccount("ci-push");
    const policy = sidecarPolicy({
        host,
        requiresAuthForPull: false,
        deletesEnabled: true,
        storage: "filesystem",
        ...(maven ? { maven: { pathPrefix: maven.pathPrefix, requiresAuthForPull: false } } : {}),
        diskGuard: true,
        ...(o.monitoring ? { metrics: true, diskFigures: true } : {}),
    });
    const spec = baseSpec({
        host,
        tls: { kind: "secret", certPem: readFileSync(ca.serverCertFile, "utf8"), keyPem: readFileSync(ca.serverKeyFile, "utf8") },
        images: { ...baseSpec().images, registry: DEPLOYED_REGISTRY_IMAGE, caddy: DEFAULT_IMAGES.caddy },
        caddyfile: renderSidecarCaddyfile(policy, SIDECAR_TLS),
        registryConfig: renderRegistryConfig({
            addr: IN_CLUSTER.registryAddr,
            storage: { kind: "filesystem", rootDirectory: IN_CLUSTER.dataDir },
            deletesEnabled: true,
        }),
        users: { push: renderUsersFile("push", [push]), pull: renderUsersFile("pull", []), htpasswd: "" },
        ...(maven
            ? {
                  maven: {
                      image: DEFAULT_MAVEN_NGINX_IMAGE,
                      nginxConfig: renderMavenNginxConfig({
                          listen: `127.0.0.1:${MAVEN_BACKEND.port}`,
                          pathPrefix: maven.pathPrefix,
                          dataDir: MAVEN_BACKEND.dataDir,
                          runDir: MAVEN_BACKEND.runDir,
                      }),
                      deployUsers: renderUsersFile("push", [maven.deployer]),
                      size: `${maven.sizeMiB}Mi`,
                      pathPrefix: maven.pathPrefix,
                      snapshotBuildsToKeep: 3,
                  },
              }
            : {}),
        diskGuard: { refusePercent: o.refusePercent, checkSeconds: 1 },
        ...(o.monitoring
            ? {
                  monitoring: {
                      prometheusOperator: false,
                      runbookBaseUrl: "docs/runbooks.md",
                      probeImage: DEFAULT_PROBE_IMAGE,
                      cacheClaims: [],
                  },
              }
            : {}),
    });
    const objects = renderInClusterObjects(spec);
    const stack = asDeployed(objects);
    const ns = await createNetns(o.netns);
    let pod: RunningPod | undefined;
    let service: ServiceProxy | undefined;
    const stop = async () => {
        await service?.stop();
        await pod?.stop();
        await ns.destroy();
    };
    try {
        pod = await startPod({
            ns,
            deployment: stack.object("Deployment", IN_CLUSTER.name, "dso"),
            stack,
            claimSizesMiB: { [IN_CLUSTER.dataClaim]: o.dataMiB, ...(maven ? { [IN_CLUSTER.mavenClaim]: maven.sizeMiB } : {}) },
        });
        const running = pod;
        service = await startServiceProxy({
            service: stack.object("Service", IN_CLUSTER.tlsService, "dso"),
            listenAddress: ns.hostAddress,
            podAddress: running.address,
            podPort: (name) => running.port(name),
        });
        ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.hostAddress} ${host}\n`);
        const certDir = path.join(o.scratch, "certs");
        mkdirSync(certDir);
        copyFileSync(ca.caCertFile, path.join(certDir, "ca.crt"));
        const client = diskGuardClient({ ns, authority: host, scheme: "https", certDir, push, scratch: o.scratch });
        return { ns, pod: running, ca, client, objects, stop };
    } catch (error) {
        await stop();
        throw error;
    }
}
