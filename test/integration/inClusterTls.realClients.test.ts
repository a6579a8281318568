/**
 * The in-cluster registry reached by its public name from inside the cluster: CoreDNS points the name
 * at Service `registry-tls`, which sends 443 to the Caddy sidecar's TLS listener. Run for real inside a
 * network namespace the test creates (the docker engine treats 127.0.0.0/8 as insecure):
 *
 *   docker engine --TLS--> Caddy (the sidecar's rendered Caddyfile: its TLS site, with the certificate
 *                          and key of the rendered Secret `registry-tls`) --HTTP--> Distribution
 *
 * The engine trusts the registry only through the CA taken from the rendered `dso-registry-ca`
 * ConfigMap's `ca.crt`, placed in its certs.d as an agent would place it. The TLS listener listens on
 * 443 itself here: the Service's port mapping (443 to the container's 8443) is kube-proxy's, not ours.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderRegistryConfig, renderUsersFile } from "../../components/accessPolicy/accessPolicy";
import { CA_CONFIG_MAP, renderCaConfigMaps } from "../../components/inCluster/caConfigMaps";
import { renderSidecarCaddyfile, SIDECAR_TLS, sidecarPolicy } from "../../components/inCluster/inClusterRegistry";
import { IN_CLUSTER, renderSecrets } from "../../components/inCluster/manifests";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage } from "../support/dockerImages";
import { schemaProblems } from "../support/k8sValidate";
import { createNetns, type TestNetns } from "../support/netns";
import { caddyEnv, makeAccount, makeTestCa, type TestAccount } from "../support/realRegistry";
import { privateDir, type RunResult, removeDir, type ServerProcess } from "../support/serverProcess";

const HOST = "registry-dso.jmann.local";
const said = (r: RunResult) => `${r.stdout}\n${r.stderr}`;

let dir: string;
let ns: TestNetns;
let engine: DockerEngine;
const servers: ServerProcess[] = [];
let push: TestAccount;
let pull: TestAccount;
let caddyfile: string;
let configMapCa: string;
let otherCa: string;
const ref = (name: string) => `${HOST}/team/${name}`;

beforeAll(async () => {
    dir = privateDir("tc-in-cluster-tls");
    ns = await createNetns({ prefix: "tc", subnet: "198.18.144.0/20" });
    try {
        const ca = makeTestCa(path.join(dir, "ca"), [HOST]);
        otherCa = makeTestCa(path.join(dir, "other-ca"), [HOST]).caCertPem;
        // The objects as the program renders them from the CA and the certificate.
        const [configMap] = renderCaConfigMaps({ namespaces: ["jenkins"], caCertPem: ca.caCertPem });
        configMapCa = (configMap!.data as Record<string, string>)[CA_CONFIG_MAP.key]!;
        const tlsSecret = renderSecrets({
            namespace: "dso",
            tls: { kind: "secret", certPem: readFileSync(ca.serverCertFile, "utf8"), keyPem: readFileSync(ca.serverKeyFile, "utf8") },
            users: { push: "", pull: "", htpasswd: "" },
            httpSecret: "unused",
            storage: { kind: "filesystem", size: "1Gi" },
        } as Parameters<typeof renderSecrets>[0]).find((s) => s.metadata.name === IN_CLUSTER.tlsSecret)!;
        const tlsData = tlsSecret.stringData as Record<string, string>;

        ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${HOST}\n`);
        ns.writeEtcFile(`docker/certs.d/${HOST}/ca.crt`, configMapCa);

        push = makeAccount("ci-push");
        pull = makeAccount("cluster-pull");
        const usersDir = path.join(dir, "users");
        const dataDir = path.join(dir, "data");
        const tlsDir = path.join(dir, "tls");
        for (const d of [usersDir, dataDir, tlsDir]) mkdirSync(d, { recursive: true });
        writeFileSync(path.join(usersDir, "push"), renderUsersFile("push", [push]), { mode: 0o600 });
        writeFileSync(path.join(usersDir, "pull"), renderUsersFile("pull", [pull]), { mode: 0o600 });
        // As the Secret volume mounts them: the two keys, mode 0400.
        for (const key of ["tls.crt", "tls.key"]) {
            writeFileSync(path.join(tlsDir, key), tlsData[key]!, { mode: 0o400 });
            chmodSync(path.join(tlsDir, key), 0o400);
        }
        const registryConfig = path.join(dir, "config.yml");
        writeFileSync(
            registryConfig,
            renderRegistryConfig({
                addr: IN_CLUSTER.registryAddr,
                storage: { kind: "filesystem", rootDirectory: dataDir },
                deletesEnabled: false,
                logLevel: "warn",
            }),
        );
        const policy = sidecarPolicy({
            host: HOST,
            requiresAuthForPull: false,
            uiEnabled: false,
            deletesEnabled: false,
            storage: "filesystem",
        });
        // The pod's paths become the test's; the policy and the listeners' shape are the rendered ones.
        caddyfile = renderSidecarCaddyfile(
            { ...policy, pushUsersFile: path.join(usersDir, "push"), pullUsersFile: path.join(usersDir, "pull"), blobFiles: dataDir },
            { port: 443, certFile: path.join(tlsDir, "tls.crt"), keyFile: path.join(tlsDir, "tls.key") },
        );
        const caddyfilePath = path.join(dir, "Caddyfile");
        writeFileSync(caddyfilePath, caddyfile);

        servers.push(ns.startServer("/usr/bin/docker-registry", ["serve", registryConfig], process.env));
        servers.push(ns.startServer("/usr/bin/caddy", ["run", "--adapter", "caddyfile", "--config", caddyfilePath], caddyEnv(dir)));
        await ns.waitForPort(443, 30_000, "caddy").catch((e: Error) => {
            throw new Error(`${e.message}\n${servers.map((s) => s.output()).join("\n")}`);
        });
        engine = await startDockerEngine(ns);
    } catch (error) {
        for (const s of servers.reverse()) await s.stop();
        await ns.destroy();
        removeDir(dir);
        throw error;
    }
}, 180_000);

afterAll(async () => {
    await engine?.stop();
    for (const s of servers.reverse()) await s.stop();
    await ns?.destroy();
    if (dir) removeDir(dir);
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

    test("with another CA in certs.d the engine refuses the certificate", () => {
        ns.writeEtcFile(`docker/certs.d/${HOST}/ca.crt`, otherCa);
        try {
            const login = engine.client().login(HOST, push);
            expect(login.code).not.toBe(0);
            expect(said(login)).toContain("x509: certificate signed by unknown authority");
        } finally {
            ns.writeEtcFile(`docker/certs.d/${HOST}/ca.crt`, configMapCa);
        }
    });
});
