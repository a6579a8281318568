/**
 * The in-cluster registry reached by its public name from inside the cluster: CoreDNS points the name
 * at Service `registry-tls`, which sends 443 to the Caddy sidecar's TLS listener. Run for real inside a
 * network namespace the test creates (the docker engine treats 127.0.0.0/8 as insecure):
 *
 *   docker engine --TLS--> Caddy (the sidecar's rendered Caddyfile: its TLS site, with the certificate
 *                          and key of the rendered Secret `registry-tls`) --HTTP--> Distribution
 *
 * The engine trusts the registry only through the CA taken from the rendered `dso-registry-ca`
 * ConfigMap's `ca.crt`, laid out as the kubelet lays out the ConfigMap volume, where the docker-in-docker
 * agent template mounts it in the engine's container (its certs.d). The TLS listener listens on
 * 443 itself here: the Service's port mapping (443 to the container's 8443) is kube-proxy's, not ours.
 */
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CA_CONFIG_MAP, renderCaConfigMaps } from "../../components/inCluster/caConfigMaps";
import { SIDECAR_TLS } from "../../components/inCluster/sidecarFront";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { AGENT_CA_VOLUME, renderAgentPod } from "../../components/jenkins/agentPods";
import { writeConfigMapVolume } from "../support/configMapVolume";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage } from "../support/dockerImages";
import { type InClusterTlsSite, startInClusterTlsSite } from "../support/inClusterTlsFront";
import { schemaProblems } from "../support/k8sValidate";
import type { TestNetns } from "../support/netns";
import { makeTestCa, type TestAccount } from "../support/realRegistry";
import type { RunResult } from "../support/serverProcess";

const HOST = "registry-dso.jmann.local";
const said = (r: RunResult) => `${r.stdout}\n${r.stderr}`;

let site: InClusterTlsSite;
let ns: TestNetns;
let engine: DockerEngine;
let push: TestAccount;
let pull: TestAccount;
let caddyfile: string;
let configMapCa: string;
let configMapData: Record<string, string>;
let otherCaData: Record<string, string>;
const ref = (name: string) => `${HOST}/team/${name}`;

/**
 * The CA directory where the docker-in-docker agent template mounts the ConfigMap in the engine's
 * container, and the volume's items (the engine here sees the namespace's /etc).
 */
const DIND_CA = (() => {
    const pod = renderAgentPod("docker-in-docker", {
        authority: HOST,
        imagePrefix: `${HOST}/team`,
        credentialId: "container-registry",
        ca: { configMap: CA_CONFIG_MAP.name, key: CA_CONFIG_MAP.key },
        images: { dockerCli: "docker:cli", dockerDaemon: "docker:dind", kaniko: "kaniko:debug", buildah: "buildah:stable" },
    });
    const mount = pod.spec.containers
        .flatMap((c) => (c.volumeMounts ?? []) as { name: string; mountPath: string }[])
        .find((m) => m.name === AGENT_CA_VOLUME)!;
    const volume = pod.spec.volumes!.find((v) => v.name === AGENT_CA_VOLUME) as { configMap: { items: { key: string; path: string }[] } };
    return { dir: mount.mountPath, items: volume.configMap.items };
})();
const caVolumeDir = () => path.join(ns.etcDir, path.posix.relative("/etc", DIND_CA.dir));

beforeAll(async () => {
    site = await startInClusterTlsSite({ dirName: "tc-in-cluster-tls", prefix: "tc", subnet: "198.18.144.0/20", host: HOST });
    ({ ns, push, pull } = site);
    try {
        // The objects as the program renders them from the CA and the certificate.
        const dataOf = (pem: string) => renderCaConfigMaps({ namespaces: ["jenkins"], caCertPem: pem })[0]!.data as Record<string, string>;
        configMapData = dataOf(site.ca.caCertPem);
        otherCaData = dataOf(makeTestCa(path.join(site.dir, "other-ca"), [HOST]).caCertPem);
        configMapCa = configMapData[CA_CONFIG_MAP.key]!;
        writeConfigMapVolume(caVolumeDir(), configMapData, DIND_CA.items);
        caddyfile = site.front.caddyfile;
        engine = await startDockerEngine(ns);
    } catch (error) {
        await site.stop();
        throw error;
    }
}, 180_000);

afterAll(async () => {
    await engine?.stop();
    await site?.stop();
});

describe("the sidecar's TLS listener with the ingress's certificate, trusted through the CA ConfigMap", () => {
    test("the rendered objects are valid and the Caddyfile has the TLS site", async () => {
        const objects = renderCaConfigMaps({ namespaces: ["jenkins", "apps", "jenkins"], caCertPem: configMapCa });
        expect(objects.map((o) => o.metadata.namespace)).toEqual(["jenkins", "apps"]);
        expect((await Promise.all(objects.map((o) => schemaProblems(o)))).flat()).toEqual([]);
        expect(caddyfile).toContain(`${HOST}:443 {`);
        expect(SIDECAR_TLS.port).toBe(IN_CLUSTER.tlsPort);
    });

    test("docker logs in with the push account, pushes, and pulls back what it pushed", () => {
        const client = engine.client();
        const login = client.login(HOST, push);
        expect(said(login)).toContain("Login Succeeded");
        payloadImage(client, ref("app:1"));
        const pushed = client.docker(["push", ref("app:1")]);
        expect(pushed.code, said(pushed)).toBe(0);
        expect(client.docker(["rmi", ref("app:1")]).code).toBe(0);
        const pulled = client.docker(["pull", ref("app:1")]);
        expect(pulled.code, said(pulled)).toBe(0);
        expect(pulled.stdout).toContain(`Downloaded newer image for ${ref("app:1")}`);
    });

    test("the pull account logs in and pulls, and cannot push", () => {
        const client = engine.client();
        expect(said(client.login(HOST, pull))).toContain("Login Succeeded");
        client.docker(["rmi", ref("app:1")]);
        const pulled = client.docker(["pull", ref("app:1")]);
        expect(pulled.code, said(pulled)).toBe(0);
        payloadImage(client, ref("app:by-pull"));
        const pushed = client.docker(["push", ref("app:by-pull")]);
        expect(pushed.code).not.toBe(0);
        expect(said(pushed)).toContain("unauthorized: authentication required");
    });

    test("anonymous push is refused with the policy's message", () => {
        const client = engine.client();
        payloadImage(client, ref("app:anonymous"));
        const pushed = client.docker(["push", ref("app:anonymous")]);
        expect(pushed.code).not.toBe(0);
        expect(said(pushed)).toContain(`log in with an account of this registry (docker login ${HOST})`);
    });

    test("with another CA swapped into the mounted volume the engine refuses the certificate", () => {
        writeConfigMapVolume(caVolumeDir(), otherCaData, DIND_CA.items);
        try {
            const login = engine.client().login(HOST, push);
            expect(login.code).not.toBe(0);
            expect(said(login)).toContain("x509: certificate signed by unknown authority");
        } finally {
            writeConfigMapVolume(caVolumeDir(), configMapData, DIND_CA.items);
        }
    });
});
