/**
 * The in-cluster placement of the access policy, run for real on loopback in the pod's topology:
 *
 *   client --TLS--> nginx (the ingress, with the Ingress annotations as nginx directives)
 *          --HTTP--> Caddy (the sidecar's Caddyfile, as the component renders it)
 *          --HTTP--> Distribution (the component's config.yml, on loopback)
 *
 * Clients: skopeo, containerd (ctr, the kubelet's resolver) and curl. Everything is started by the
 * test on free 127.0.0.1 ports with private directories, and stopped afterwards.
 */
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { ingressAnnotations } from "../../components/inCluster/network";
import { renderSidecarCaddyfile, sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { DISTRIBUTION } from "../../components/shared/facts";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { ingressNginxConf, nginxDirectives } from "../support/ingress";
import { WINDOW_503 } from "../support/pushLoop";
import {
    curlStatus,
    makeAccount,
    makeOciImage,
    makeTestCa,
    type PrivateContainerd,
    skopeoCopy,
    skopeoDelete,
    startContainerd,
    type TestCa,
    writeHostsDir,
} from "../support/realRegistry";
import { freePort, privateDir, removeDir, run, type ServerProcess, startServer, waitForPort } from "../support/serverProcess";

const HOST = "registry-dso.jmann.local";

interface Stack {
    readonly authority: string;
    readonly ca: TestCa;
    readonly certDir: string;
    readonly push: ReturnType<typeof makeAccount>;
    readonly pull: ReturnType<typeof makeAccount>;
    readonly registryConfigFile: string;
    readonly env: NodeJS.ProcessEnv;
    logs(): string;
    stop(): Promise<void>;
}

interface StackOptions {
    readonly requiresAuthForPull?: boolean;
    readonly deletesEnabled?: boolean;
    /** Environment of the pod's containers (Distribution and Caddy), e.g. the read-only switch the GC job sets. */
    readonly registryEnv?: NodeJS.ProcessEnv;
    /** Replace the ingress directives (to show that the defaults would refuse large layers). */
    readonly ingressDirectives?: string[];
}

/** Starts Distribution, the sidecar Caddy and the nginx "ingress"; stops all on any failure. */
async function startInClusterStack(options: StackOptions = {}): Promise<Stack> {
    const dir = privateDir("in-cluster");
    const servers: ServerProcess[] = [];
    const stopAll = async () => {
        for (const s of servers.reverse()) await s.stop();
        removeDir(dir);
    };
    try {
        const ca = makeTestCa(path.join(dir, "tls"), [HOST]);
        const certDir = path.join(dir, "certs");
        run("mkdir", ["-p", certDir]);
        writeFileSync(path.join(certDir, "ca.crt"), ca.caCertPem);
        const push = makeAccount("ci-push");
        const pull = makeAccount("cluster-pull");
        const [registryPort, caddyPort, ingressPort] = [await freePort(), await freePort(), await freePort()];

        const registryConfigFile = path.join(dir, "config.yml");
        writeFileSync(
            registryConfigFile,
            renderRegistryConfig({
                addr: `127.0.0.1:${registryPort}`,
                storage: { kind: "filesystem", rootDirectory: path.join(dir, "data") },
                deletesEnabled: options.deletesEnabled ?? false,
                logLevel: "warn",
            }),
        );
        const env = { ...process.env, ...options.registryEnv };
        const registry = startServer(deployedRegistry().path, ["serve", registryConfigFile], { ...env, ...DISTRIBUTION.environment });
        servers.push(registry);
        await waitForPort(registryPort, 30_000, "docker-registry");

        const usersDir = path.join(dir, "users");
        run("mkdir", ["-p", usersDir]);
        writeFileSync(path.join(usersDir, "push"), renderUsersFile("push", [push]), { mode: 0o600 });
        writeFileSync(path.join(usersDir, "pull"), renderUsersFile("pull", [pull]), { mode: 0o600 });
        const policy = sidecarPolicy({
            host: HOST,
            requiresAuthForPull: options.requiresAuthForPull ?? false,
            deletesEnabled: options.deletesEnabled ?? false,
            storage: "filesystem",
        });
        if (policy.blobFiles !== IN_CLUSTER.dataDir) throw new Error(`the sidecar policy with filesystem storage has no blob shortcut`);
        // The pod's fixed addresses and paths are replaced by free loopback ports and the test's data
        // directory, and the registry's public name by the ingress's loopback address (the realm names
        // it); the policy is unchanged.
        const caddyfile = renderSidecarCaddyfile({
            ...policy,
            publicAuthority: `127.0.0.1:${ingressPort}`,
            port: caddyPort,
            bindAddress: "127.0.0.1",
            upstream: `127.0.0.1:${registryPort}`,
            pushUsersFile: path.join(usersDir, "push"),
            pullUsersFile: path.join(usersDir, "pull"),
            blobFiles: path.join(dir, "data"),
        });
        const caddyfilePath = path.join(dir, "Caddyfile");
        writeFileSync(caddyfilePath, caddyfile);
        const caddyEnv = {
            ...env,
            HOME: dir,
            XDG_DATA_HOME: path.join(dir, "xdg-data"),
            XDG_CONFIG_HOME: path.join(dir, "xdg-config"),
        };
        const caddy = startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfilePath], caddyEnv);
        servers.push(caddy);
        await waitForPort(caddyPort, 30_000, "caddy").catch((e: Error) => {
            throw new Error(`${e.message}\n${caddy.output()}\n${caddyfile}`);
        });

        const directives =
            options.ingressDirectives ??
            nginxDirectives(
                ingressAnnotations({
                    tls: { kind: "secret", certPem: "", keyPem: "" },
                    allowedNetworks: [],
                    ingressController: "nginx",
                    namespace: "dso",
                }),
            );
        const nginxConf = path.join(dir, "nginx.conf");
        writeFileSync(
            nginxConf,
            ingressNginxConf({
                dir,
                listen: `127.0.0.1:${ingressPort}`,
                serverNames: [HOST, "127.0.0.1"],
                certFile: ca.serverCertFile,
                keyFile: ca.serverKeyFile,
                upstream: `127.0.0.1:${caddyPort}`,
                directives,
            }),
        );
        const nginx = startServer("/usr/sbin/nginx", ["-c", nginxConf, "-p", dir]);
        servers.push(nginx);
        await waitForPort(ingressPort, 30_000, "nginx").catch((e: Error) => {
            throw new Error(`${e.message}\n${nginx.output()}`);
        });

        let stopped = false;
        return {
            authority: `127.0.0.1:${ingressPort}`,
            ca,
            certDir,
            push,
            pull,
            registryConfigFile,
            env,
            logs: () => `registry:\n${registry.output()}\ncaddy:\n${caddy.output()}\nnginx:\n${nginx.output()}`,
            async stop() {
                if (stopped) return;
                stopped = true;
                await stopAll();
            },
        };
    } catch (error) {
        await stopAll();
        throw error;
    }
}

let scratch: string;
let containerd: PrivateContainerd;
let imageCount = 0;
/** A new image each time, so a refused push cannot pass because its blobs already exist. */
function freshImage(bytes = 8192) {
    imageCount += 1;
    return makeOciImage(path.join(scratch, `image-${imageCount}`), bytes);
}

beforeAll(async () => {
    scratch = privateDir("in-cluster-clients");
    containerd = await startContainerd();
});

afterAll(async () => {
    await containerd?.stop();
    if (scratch) removeDir(scratch);
});

describe("anonymous pull, authenticated push, through ingress and sidecar", () => {
    let s: Stack;
    beforeAll(async () => {
        s = await startInClusterStack();
        const seeded = skopeoCopy(freshImage().ref, `docker://${s.authority}/docker-internal/p2c/app:seed`, {
            certDir: s.certDir,
            creds: s.push,
        });
        if (seeded.code !== 0) throw new Error(`seeding failed: ${seeded.stderr}\n${s.logs()}`);
    });
    afterAll(async () => {
        await s?.stop();
    });

    test("skopeo pushes with the push account", () => {
        const r = skopeoCopy(freshImage().ref, `docker://${s.authority}/docker-internal/p2c/app:1.0.0`, {
            certDir: s.certDir,
            creds: s.push,
        });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
    });

    test.each([
        ["anonymous push", undefined],
        ["a wrong password", { username: "ci-push", password: "not-the-password" }],
        ["the pull-only account", "pull" as const],
    ])("push with %s is refused", (_label, creds) => {
        const account = creds === "pull" ? s.pull : creds;
        const r = skopeoCopy(freshImage().ref, `docker://${s.authority}/docker-internal/p2c/app:refused`, {
            certDir: s.certDir,
            creds: account,
        });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/unauthorized|authentication required|401/i);
    });

    test("skopeo pulls anonymously", () => {
        const r = skopeoCopy(`docker://${s.authority}/docker-internal/p2c/app:seed`, `oci:${path.join(scratch, "pulled")}:seed`, {
            certDir: s.certDir,
        });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
    });

    test("containerd (the kubelet's resolver) pulls anonymously, trusting the CA through hosts.toml", () => {
        const hosts = writeHostsDir(path.join(scratch, "hosts-anon"), { authority: s.authority, ca: s.ca });
        const r = containerd.pull(`${s.authority}/docker-internal/p2c/app:seed`, hosts);
        expect(r.stderr).not.toMatch(/x509|unauthorized/);
        expect(r.code).toBe(0);
    });

    test("the ping is challenged without credentials and answered with them", () => {
        expect(curlStatus(`https://${s.authority}/v2/`, { caCertFile: s.ca.caCertFile })).toBe(401);
        expect(curlStatus(`https://${s.authority}/v2/`, { caCertFile: s.ca.caCertFile, account: s.pull })).toBe(200);
    });

    test("deletes are refused when they are not enabled, even with the push account", () => {
        const r = skopeoDelete(`docker://${s.authority}/docker-internal/p2c/app:seed`, { certDir: s.certDir, creds: s.push });
        expect(r.code).not.toBe(0);
    });

    test("the readiness probe's request (Distribution's /v2/ on loopback) needs no credentials", () => {
        const port = /addr: "127\.0\.0\.1:(\d+)"/.exec(run("cat", [s.registryConfigFile]).stdout)![1];
        expect(run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${port}/v2/`]).stdout).toBe("200");
    });
});

describe("requiresAuthForPull", () => {
    let s: Stack;
    beforeAll(async () => {
        s = await startInClusterStack({ requiresAuthForPull: true });
        const seeded = skopeoCopy(freshImage().ref, `docker://${s.authority}/team/app:seed`, { certDir: s.certDir, creds: s.push });
        if (seeded.code !== 0) throw new Error(`seeding failed: ${seeded.stderr}\n${s.logs()}`);
    });
    afterAll(async () => {
        await s?.stop();
    });

    test("anonymous pull is refused", () => {
        const r = skopeoCopy(`docker://${s.authority}/team/app:seed`, `oci:${path.join(scratch, "anon-refused")}:x`, {
            certDir: s.certDir,
        });
        expect(r.code).not.toBe(0);
    });

    test("the pull-only account pulls", () => {
        const r = skopeoCopy(`docker://${s.authority}/team/app:seed`, `oci:${path.join(scratch, "pull-account")}:x`, {
            certDir: s.certDir,
            creds: s.pull,
        });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
    });
});

describe("large layers through the ingress settings", () => {
    const layerBytes = 24 * 1024 * 1024;

    test("a 24 MiB layer is pushed and pulled back with the Ingress annotations", async () => {
        const s = await startInClusterStack();
        try {
            const r = skopeoCopy(freshImage(layerBytes).ref, `docker://${s.authority}/team/big:1`, { certDir: s.certDir, creds: s.push });
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            const back = skopeoCopy(`docker://${s.authority}/team/big:1`, `oci:${path.join(scratch, "big-back")}:1`, {
                certDir: s.certDir,
            });
            expect(back.code).toBe(0);
        } finally {
            await s.stop();
        }
    });

    test("control: with nginx's default body limit (1m) the same push fails, so the annotation matters", async () => {
        const s = await startInClusterStack({ ingressDirectives: [] });
        try {
            const r = skopeoCopy(freshImage(layerBytes).ref, `docker://${s.authority}/team/big:1`, { certDir: s.certDir, creds: s.push });
            expect(r.code).not.toBe(0);
            expect(r.stderr).toMatch(/413|too large/i);
        } finally {
            await s.stop();
        }
    });
});

describe("garbage-collection window: Distribution with the GC job's read-only switch", () => {
    test("pushes are refused, pulls work, and garbage-collect runs", async () => {
        const seedStack = await startInClusterStack({ deletesEnabled: true });
        let configFile = "";
        try {
            const seeded = skopeoCopy(freshImage().ref, `docker://${seedStack.authority}/team/app:1`, {
                certDir: seedStack.certDir,
                creds: seedStack.push,
            });
            expect(seeded.code).toBe(0);
            configFile = seedStack.registryConfigFile;
            // The read-only switch, as the job sets it on the Deployment.
            const readOnlyEnv = { [IN_CLUSTER.readOnlyEnv]: '{"enabled":true}' };
            const r = run(deployedRegistry().path, ["garbage-collect", "--dry-run", configFile], {
                env: { ...process.env, ...readOnlyEnv },
            });
            expect(r.stderr + r.stdout).not.toMatch(/failed/);
            expect(r.code).toBe(0);
        } finally {
            await seedStack.stop();
        }
        const ro = await startInClusterStack({ registryEnv: { [IN_CLUSTER.readOnlyEnv]: '{"enabled":true}' } });
        try {
            const r = skopeoCopy(freshImage().ref, `docker://${ro.authority}/team/app:2`, { certDir: ro.certDir, creds: ro.push });
            expect(r.code).not.toBe(0);
            // The sidecar sees the same switch and answers the write itself (503, not Distribution's
            // 405), and skopeo's blob check before it; skopeo 1.9 prints the status, not the body.
            expect(r.stderr).toMatch(WINDOW_503);
            expect(curlStatus(`https://${ro.authority}/v2/`, { caCertFile: ro.ca.caCertFile, account: ro.push })).toBe(200);
        } finally {
            await ro.stop();
        }
    });
});

// The UI itself is its own Deployment behind the Ingress: registryUi.browser.test.ts drives it in a browser.
describe("what the web UI uses of the registry's origin", () => {
    let s: Stack;
    beforeAll(async () => {
        s = await startInClusterStack({ deletesEnabled: true });
        const seeded = skopeoCopy(freshImage().ref, `docker://${s.authority}/team/app:del`, { certDir: s.certDir, creds: s.push });
        if (seeded.code !== 0) throw new Error(`seeding failed: ${seeded.stderr}\n${s.logs()}`);
    });
    afterAll(async () => {
        await s?.stop();
    });

    test("the catalog the UI reads is on the same origin and anonymous", () => {
        expect(curlStatus(`https://${s.authority}/v2/_catalog`, { caCertFile: s.ca.caCertFile })).toBe(200);
    });

    test("with deletes enabled, anonymous delete is refused and the push account deletes", () => {
        const anon = skopeoDelete(`docker://${s.authority}/team/app:del`, { certDir: s.certDir });
        expect(anon.code).not.toBe(0);
        const r = skopeoDelete(`docker://${s.authority}/team/app:del`, { certDir: s.certDir, creds: s.push });
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
    });
});
