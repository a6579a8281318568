/**
 * The client matrix: docker, podman, skopeo and containerd against both placements' rendered fronts,
 * with real Caddy and real Distribution at the address of a network namespace the test creates (the
 * docker engine treats 127.0.0.0/8 as insecure, so loopback would prove neither trust nor messages):
 *
 *   external host:  client --TLS--> Caddy (the host's Caddyfile, caddySitePolicy) --unix socket--> Distribution
 *   in-cluster:     client --TLS--> nginx (the Ingress) --HTTP--> Caddy (the sidecar's Caddyfile) --> Distribution
 *
 * Both fronts on the pinned Caddy, which every placement runs.
 *
 * Every client runs inside the namespace, where registry.test resolves to the namespace's address and
 * /etc/docker/certs.d/registry.test/ca.crt holds the test CA. The read-only window is
 * opened as each placement opens it: the marker file and Distribution's read-only config on the host,
 * the read-only environment switch on every container of the pod.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import { defaultHostLayout, hostPaths } from "../../components/externalHost/scripts";
import { ingressAnnotations } from "../../components/inCluster/network";
import { renderSidecarCaddyfile, sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { DISTRIBUTION } from "../../components/shared/facts";
import { pinnedCaddy } from "../support/caddyBinaries";
import { deployedRegistry } from "../support/distributionBinaries";
import { type DockerClient, type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage } from "../support/dockerImages";
import { ingressNginxConf, nginxDirectives } from "../support/ingress";
import { createNetns, type TestNetns } from "../support/netns";
import {
    caddyEnv,
    makeAccount,
    makeOciImage,
    makeTestCa,
    type PrivateContainerd,
    startContainerd,
    type TestAccount,
    writeAuthFile,
} from "../support/realRegistry";
import { privateDir, type RunResult, removeDir, type ServerProcess } from "../support/serverProcess";

const HOST = "registry.test";
const REGISTRY_ADDR = "127.0.0.1:5000";
const readText = (file: string) => readFileSync(file, "utf8");
const READ_ONLY_ENV = { [IN_CLUSTER.readOnlyEnv]: '{"enabled":true}' };

/** A running front with Distribution behind it, inside `ns`. */
interface Front {
    readonly push: TestAccount;
    readonly pull: TestAccount;
    readonly caddyfile: string;
    /** Distribution's unix socket, when the placement puts it on one (the external host). */
    readonly registrySocket?: string;
    /** Opens (true) or closes (false) the read-only window the way the placement does. */
    setReadOnly(on: boolean): Promise<void>;
    logs(): string;
    stop(): Promise<void>;
}

/** Waits until `url` answers from inside the namespace (servers bound to its loopback). */
async function waitInside(ns: TestNetns, url: string, what: string, output: () => string, socket?: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    const via = socket ? ["--unix-socket", socket] : [];
    while (ns.run("curl", ["-sk", ...via, "-o", "/dev/null", "--max-time", "2", url]).code !== 0) {
        if (Date.now() > deadline) throw new Error(`${what} did not answer at ${url}\n${output()}`);
        await new Promise((r) => setTimeout(r, 200));
    }
}

/** The servers of one front; each can be restarted with other arguments or environment. */
class Servers {
    private readonly all = new Map<string, { server: ServerProcess; command: string }>();
    constructor(private readonly ns: TestNetns) {}
    start(name: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv): void {
        this.all.set(name, { server: this.ns.startServer(command, args, env), command });
    }
    async restart(name: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
        const entry = this.all.get(name)!;
        await entry.server.stop();
        entry.server = this.ns.startServer(entry.command, args, env);
    }
    /** Waits until `what` listens on `port` in the namespace; on a timeout the error carries every server's output. */
    async waitForPort(port: number, what: string): Promise<void> {
        await this.ns.waitForPort(port, 30_000, what).catch((e: Error) => {
            throw new Error(`${e.message}\n${this.logs()}`);
        });
    }
    /** Runs `startAll`; when it fails, stops the servers it started before throwing its error. */
    async startOrStop(startAll: () => Promise<void>): Promise<void> {
        try {
            await startAll();
        } catch (error) {
            await this.stop();
            throw error;
        }
    }
    logs(): string {
        return [...this.all].map(([name, { server }]) => `${name}:\n${server.output().slice(-3000)}`).join("\n");
    }
    async stop(): Promise<void> {
        for (const { server } of [...this.all.values()].reverse()) await server.stop();
    }
}

/** Distribution with the config.yml the program renders (read-only variant: the host's config-readonly.yml). */
function writeRegistryConfig(file: string, dataDir: string, readOnly: boolean, addr = REGISTRY_ADDR): void {
    writeFileSync(
        file,
        renderRegistryConfig({
            addr,
            storage: { kind: "filesystem", rootDirectory: dataDir },
            deletesEnabled: false,
            readOnly,
            logLevel: "warn",
        }),
    );
}

/** The front's push and pull accounts, each written to its users file as the placement writes it. */
function writeAccounts(pushUsersFile: string, pullUsersFile: string): { push: TestAccount; pull: TestAccount } {
    const push = makeAccount("ci-push");
    const pull = makeAccount("cluster-pull");
    writeFileSync(pushUsersFile, renderUsersFile("push", [push]), { mode: 0o600 });
    writeFileSync(pullUsersFile, renderUsersFile("pull", [pull]), { mode: 0o600 });
    return { push, pull };
}

interface FrontOptions {
    readonly requiresAuthForPull: boolean;
}

/** The external host: the host's Caddyfile (TLS on 443, files under the host layout) in front of Distribution. */
async function startExternalHost(ns: TestNetns, dir: string, caPair: { cert: string; key: string }, options: FrontOptions): Promise<Front> {
    const base = defaultHostLayout(path.join(dir, "data"));
    // The host's paths under the test's directory, the admin socket too (on the host it is inside the front's container).
    const layout = {
        ...base,
        registryConfigDir: path.join(dir, "registry"),
        caddyDir: path.join(dir, "caddy"),
        caddyAdminSocket: path.join(dir, "caddy", "admin.sock"),
        // The front's own directory (its access log) too: nothing of the test's lands in the machine's.
        frontDir: path.join(dir, "front"),
        caddyDataDir: path.join(dir, "front", "data", "caddy"),
    };
    const paths = hostPaths(layout);
    for (const d of [layout.dataDir, layout.registryConfigDir, layout.caddyDir]) mkdirSync(d, { recursive: true });
    const { push, pull } = writeAccounts(paths.pushUsers, paths.pullUsers);
    writeFileSync(paths.tlsCert, caPair.cert);
    writeFileSync(paths.tlsKey, caPair.key, { mode: 0o600 });
    // Distribution on a unix socket, as on the host (its directory stands in for /run/dso-registry).
    const socket = path.join(dir, "registry.sock");
    writeRegistryConfig(paths.registryConfig, layout.dataDir, false, socket);
    writeRegistryConfig(paths.registryConfigReadOnly, layout.dataDir, true, socket);
    const caddyfile = renderCaddyfile(
        caddySitePolicy({
            layout,
            registryHost: HOST,
            port: 443,
            tls: { kind: "files", certificatePem: "", privateKeyPem: "" },
            requiresAuthForPull: options.requiresAuthForPull,
            allowedNetworks: [],
            deletesEnabled: false,
            blobFiles: true,
            upstream: `unix/${socket}`,
        }),
    );
    const caddyfilePath = path.join(dir, "Caddyfile");
    writeFileSync(caddyfilePath, caddyfile);

    const servers = new Servers(ns);
    await servers.startOrStop(async () => {
        servers.start("registry", deployedRegistry().path, ["serve", paths.registryConfig], {
            ...process.env,
            ...DISTRIBUTION.environment,
        });
        await waitInside(ns, "http://localhost/v2/", "docker-registry", () => servers.logs(), socket);
        servers.start("caddy", pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfilePath], caddyEnv(dir));
        await servers.waitForPort(443, "caddy");
    });
    return {
        push,
        pull,
        caddyfile,
        registrySocket: socket,
        async setReadOnly(on) {
            // As the upkeep scripts do: the marker first, then the registry with the other config.
            if (on) writeFileSync(paths.readOnlyMarker, "");
            await servers.restart("registry", ["serve", on ? paths.registryConfigReadOnly : paths.registryConfig], process.env);
            await waitInside(ns, "http://localhost/v2/", "docker-registry", () => servers.logs(), socket);
            if (!on) rmSync(paths.readOnlyMarker, { force: true });
        },
        logs: () => servers.logs(),
        stop: () => servers.stop(),
    };
}

/** The in-cluster placement: nginx as the Ingress, the sidecar's Caddyfile, Distribution, as in the pod. */
async function startInCluster(ns: TestNetns, dir: string, caPair: { cert: string; key: string }, options: FrontOptions): Promise<Front> {
    const usersDir = path.join(dir, "users");
    const dataDir = path.join(dir, "data");
    mkdirSync(usersDir, { recursive: true });
    mkdirSync(dataDir, { recursive: true });
    const { push, pull } = writeAccounts(path.join(usersDir, "push"), path.join(usersDir, "pull"));
    const registryConfig = path.join(dir, "config.yml");
    writeRegistryConfig(registryConfig, dataDir, false);
    const policy = sidecarPolicy({
        host: HOST,
        requiresAuthForPull: options.requiresAuthForPull,
        deletesEnabled: false,
        storage: "filesystem",
    });
    // The pod's paths become the test's; the policy is unchanged. The sidecar port moves off 5000,
    // which Distribution uses here.
    const sidecarPort = 8080;
    const caddyfile = renderSidecarCaddyfile({
        ...policy,
        port: sidecarPort,
        bindAddress: "127.0.0.1",
        upstream: REGISTRY_ADDR,
        pushUsersFile: path.join(usersDir, "push"),
        pullUsersFile: path.join(usersDir, "pull"),
        blobFiles: dataDir,
    });
    const caddyfilePath = path.join(dir, "Caddyfile");
    writeFileSync(caddyfilePath, caddyfile);
    const tlsDir = path.join(dir, "tls");
    mkdirSync(tlsDir, { recursive: true });
    writeFileSync(path.join(tlsDir, "tls.crt"), caPair.cert);
    writeFileSync(path.join(tlsDir, "tls.key"), caPair.key, { mode: 0o600 });
    const nginxConf = path.join(dir, "nginx.conf");
    writeFileSync(
        nginxConf,
        ingressNginxConf({
            dir,
            listen: `${ns.address}:443`,
            serverNames: [HOST],
            certFile: path.join(tlsDir, "tls.crt"),
            keyFile: path.join(tlsDir, "tls.key"),
            upstream: `127.0.0.1:${sidecarPort}`,
            directives: nginxDirectives(
                ingressAnnotations({
                    tls: { kind: "secret", certPem: "", keyPem: "" },
                    allowedNetworks: [],
                    ingressController: "nginx",
                    namespace: "dso",
                }),
            ),
        }),
    );

    const servers = new Servers(ns);
    const caddyArgs = ["run", "--adapter", "caddyfile", "--config", caddyfilePath];
    /** The pod's containers, started with the environment the Deployment gives them. */
    const startPod = async (env: NodeJS.ProcessEnv, restart: boolean) => {
        if (restart) {
            await servers.restart("registry", ["serve", registryConfig], { ...process.env, ...env });
            await servers.restart("caddy", caddyArgs, { ...caddyEnv(dir), ...env });
        } else {
            servers.start("registry", deployedRegistry().path, ["serve", registryConfig], {
                ...process.env,
                ...DISTRIBUTION.environment,
                ...env,
            });
            servers.start("caddy", pinnedCaddy(), caddyArgs, { ...caddyEnv(dir), ...env });
        }
        await waitInside(ns, `http://${REGISTRY_ADDR}/v2/`, "docker-registry", () => servers.logs());
        await waitInside(ns, `http://127.0.0.1:${sidecarPort}/v2/`, "caddy", () => servers.logs());
    };
    await servers.startOrStop(async () => {
        await startPod({}, false);
        servers.start("nginx", "/usr/sbin/nginx", ["-c", nginxConf, "-p", dir], process.env);
        await servers.waitForPort(443, "nginx");
    });
    return {
        push,
        pull,
        caddyfile,
        // As the GC job does: the switch on every container, which replaces the pod.
        setReadOnly: (on) => startPod(on ? READ_ONLY_ENV : {}, true),
        logs: () => servers.logs(),
        stop: () => servers.stop(),
    };
}

const PLACEMENTS = [
    { placement: "external host", start: startExternalHost },
    { placement: "in-cluster (Ingress + sidecar)", start: startInCluster },
] as const;

/** A namespace with registry.test and its CA, and a front of the given placement in it. */
async function setUp(start: (typeof PLACEMENTS)[number]["start"], options: FrontOptions) {
    const dir = privateDir("client-matrix");
    const ns = await createNetns({ prefix: "fr", subnet: "198.18.32.0/20" });
    try {
        ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${HOST}\n`);
        const ca = makeTestCa(path.join(dir, "ca"), [HOST]);
        ns.writeEtcFile(`docker/certs.d/${HOST}/ca.crt`, ca.caCertPem);
        const certDir = path.join(dir, "certs");
        mkdirSync(certDir);
        writeFileSync(path.join(certDir, "ca.crt"), ca.caCertPem);
        const front = await start(
            ns,
            path.join(dir, "front"),
            { cert: readText(ca.serverCertFile), key: readText(ca.serverKeyFile) },
            options,
        );
        return { dir, ns, ca, certDir, front };
    } catch (error) {
        await ns.destroy();
        removeDir(dir);
        throw error;
    }
}

type Env = Awaited<ReturnType<typeof setUp>>;

/** Stops `setUp`'s front and removes its namespace and directory (nothing when it failed before returning). */
async function tearDown(env: Env | undefined): Promise<void> {
    await env?.front.stop();
    await env?.ns.destroy();
    if (env) removeDir(env.dir);
}

/** A client's output in one string, for messages. */
const said = (r: RunResult) => `${r.stdout}\n${r.stderr}`;

/** Runs `use` with a private scratch directory for skopeo's files, removed after. */
function inScratch<T>(use: (scratch: string) => T): T {
    const scratch = privateDir("skopeo-matrix");
    try {
        return use(scratch);
    } finally {
        removeDir(scratch);
    }
}

/** skopeo inside the namespace, trusting the CA through --*-cert-dir; credentials in an auth file. */
function skopeo(ns: TestNetns, certDir: string, scratch: string, src: string, dest: string, creds?: TestAccount): RunResult {
    const side = dest.startsWith("docker://") ? "dest" : "src";
    const args = ["--insecure-policy", "copy", "--retry-times", "0", `--${side}-cert-dir`, certDir];
    if (creds) args.push(`--${side}-authfile`, writeAuthFile(scratch, HOST, creds));
    else args.push(`--${side}-no-creds`);
    return ns.run("skopeo", [...args, src, dest], { env: { ...process.env, REGISTRY_AUTH_FILE: path.join(scratch, "none.json") } });
}

/** skopeo pushes an image it has not seen to `ref` with the front's push account. */
function skopeoPushNew(env: Env, scratch: string, ref: string): RunResult {
    return skopeo(env.ns, env.certDir, scratch, makeOciImage(path.join(scratch, "image")).ref, `docker://${ref}`, env.front.push);
}

/** podman inside the namespace with private storage; it trusts the CA through /etc/docker/certs.d. */
function podmanIn(ns: TestNetns, dir: string) {
    mkdirSync(dir, { recursive: true });
    const authFile = path.join(dir, "auth.json");
    writeFileSync(authFile, JSON.stringify({ auths: {} }), { mode: 0o600 });
    const global = [
        "--root",
        path.join(dir, "root"),
        "--runroot",
        path.join(dir, "runroot"),
        "--tmpdir",
        path.join(dir, "tmp"),
        "--storage-driver",
        "vfs",
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "none",
    ];
    return (args: readonly string[], input?: string) =>
        ns.run("podman", [...global, ...args], { input, env: { ...process.env, REGISTRY_AUTH_FILE: authFile } });
}

/** `ctr images pull` inside the namespace (containerd 1.6 resolves and fetches in the ctr process). */
function ctrPull(ns: TestNetns, containerd: PrivateContainerd, hostsDir: string, ref: string, account?: TestAccount): RunResult {
    const args = ["--address", containerd.address, "images", "pull", "--hosts-dir", hostsDir];
    if (!account) return ns.run("ctr", [...args, ref]);
    // registries.yaml-style credentials: ctr asks for the password on a terminal, so it gets one
    // (script) and the password arrives on stdin, never on a command line.
    const command = ["ctr", ...args, "--user", account.username, ref].join(" ");
    return ns.run("script", ["-qec", command, "/dev/null"], { input: `${account.password}\n` });
}

/** hosts.toml for registry.test, trusting the test CA (what node trust writes). */
function writeHostsToml(dir: string, caFile: string): string {
    mkdirSync(path.join(dir, HOST), { recursive: true });
    writeFileSync(
        path.join(dir, HOST, "hosts.toml"),
        [
            `server = "https://${HOST}"`,
            "",
            `[host."https://${HOST}"]`,
            '  capabilities = ["pull", "resolve"]',
            `  ca = "${caFile}"`,
            "",
        ].join("\n"),
    );
    return dir;
}

/** The digest `docker push` reports ("<tag>: digest: sha256:… size: …"). */
function pushedDigest(r: RunResult): string {
    const digest = /digest: (sha256:[0-9a-f]{64})/.exec(r.stdout)?.[1];
    if (!digest) throw new Error(`no digest in the push output:\n${said(r)}`);
    return digest;
}

const LARGE_LAYER = 200 * 2 ** 20;

describe.each(PLACEMENTS)("$placement, anonymous pull", ({ placement, start }) => {
    let env: Env;
    let engine: DockerEngine;
    let containerd: PrivateContainerd;
    const ref = (name: string) => `${HOST}/team/${name}`;
    let smallDigest = "";
    beforeAll(async () => {
        env = await setUp(start, { requiresAuthForPull: false });
        engine = await startDockerEngine(env.ns);
        containerd = await startContainerd();
    }, 180_000);
    afterAll(async () => {
        await containerd?.stop();
        await engine?.stop();
        await later?.stop();
        await tearDown(env);
    });

    test("the front runs the rendered Caddyfile with the Bearer challenge", () => {
        expect(env.front.caddyfile).toContain("route @token");
    });

    // Only the external host puts Distribution on a socket; the sidecar's listens on the pod's loopback.
    test.runIf(placement === "external host")(
        "on the external host nothing answers on Distribution's former TCP port: it listens on its socket only",
        () => {
            const registrySocket = env.front.registrySocket;
            if (!registrySocket) throw new Error("the external host's front has no registry socket");
            const tcp = env.ns.run("curl", ["-sS", "-o", "/dev/null", "--max-time", "5", `http://${REGISTRY_ADDR}/v2/`]);
            expect(tcp.code).toBe(7); // curl: failed to connect (refused)
            const socket = env.ns.run("curl", [
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--unix-socket",
                registrySocket,
                "http://localhost/v2/",
            ]);
            expect(socket.stdout).toBe("200");
        },
    );

    test("docker logs in with the push account, pushes, and logs out", () => {
        const client = engine.client();
        const login = client.login(HOST, env.front.push);
        expect(said(login)).toContain("Login Succeeded");
        payloadImage(client, ref("app:small"));
        const pushed = client.docker(["push", ref("app:small")]);
        expect(pushed.code, said(pushed)).toBe(0);
        smallDigest = pushedDigest(pushed);
        const logout = client.docker(["logout", HOST]);
        expect(said(logout)).toContain(`Removing login credentials for ${HOST}`);
    });

    test("docker pushes a 200 MiB layer", () => {
        const client = engine.client();
        expect(client.login(HOST, env.front.push).code).toBe(0);
        payloadImage(client, ref("big:1"), { payloadBytes: LARGE_LAYER });
        const pushed = client.docker(["push", ref("big:1")]);
        expect(pushed.code, said(pushed)).toBe(0);
        expect(pushed.stdout).toMatch(/: Pushed/);
    });

    test("anonymous docker push is refused", () => {
        const client = engine.client();
        payloadImage(client, ref("app:anonymous"));
        const pushed = client.docker(["push", ref("app:anonymous")]);
        expect(pushed.code).not.toBe(0);
        expect(pushed.stderr).toContain(
            `unauthorized: authentication required: no valid credentials came with this request; log in with an account of this registry (docker login ${HOST})`,
        );
    });

    test("docker login with a wrong password is refused", () => {
        const login = engine.client().login(HOST, { username: env.front.push.username, password: "not-the-password" });
        expect(login.code).not.toBe(0);
        expect(login.stderr).toContain(`Error response from daemon: Get "https://${HOST}/v2/": unauthorized: authentication required`);
    });

    test("the pull account logs in, pulls, and cannot push", () => {
        const client = engine.client();
        expect(said(client.login(HOST, env.front.pull))).toContain("Login Succeeded");
        payloadImage(client, ref("app:by-pull-account"));
        const pushed = client.docker(["push", ref("app:by-pull-account")]);
        expect(pushed.code).not.toBe(0);
        expect(pushed.stderr).toContain("unauthorized: authentication required");
    });

    describe("a fresh docker daemon that never logged in", () => {
        let fresh: DockerEngine;
        let client: DockerClient;
        beforeAll(async () => {
            await engine.stop();
            fresh = await startDockerEngine(env.ns);
            client = fresh.client();
        }, 120_000);
        afterAll(async () => {
            await fresh?.stop();
        });

        test("pulls anonymously by digest", () => {
            const pulled = client.docker(["pull", `${ref("app")}@${smallDigest}`]);
            expect(pulled.code, said(pulled)).toBe(0);
            expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${ref("app")}@${smallDigest}`);
        });

        test("pulls anonymously by tag (the 200 MiB layer)", () => {
            const pulled = client.docker(["pull", ref("big:1")]);
            expect(pulled.code, said(pulled)).toBe(0);
            expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${ref("big:1")}`);
            expect(Number(client.dockerOk(["image", "inspect", "--format", "{{.Size}}", ref("big:1")]))).toBeGreaterThan(LARGE_LAYER);
        });

        test("the pull account pulls", () => {
            const puller = fresh.client();
            expect(puller.login(HOST, env.front.pull).code).toBe(0);
            const pulled = puller.docker(["pull", ref("app:small")]);
            expect(pulled.code, said(pulled)).toBe(0);
            expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${ref("app:small")}`);
        });
    });

    test("podman pulls anonymously and pushes with the push account", () => {
        const podman = podmanIn(env.ns, path.join(env.dir, "podman"));
        const pulled = podman(["pull", ref("app:small")]);
        expect(pulled.code, said(pulled)).toBe(0);
        const login = podman(["login", "--username", env.front.push.username, "--password-stdin", HOST], env.front.push.password);
        expect(said(login)).toContain("Login Succeeded!");
        expect(podman(["tag", ref("app:small"), ref("app:by-podman")]).code).toBe(0);
        const pushed = podman(["push", ref("app:by-podman")]);
        expect(pushed.code, said(pushed)).toBe(0);
        expect(pushed.stderr).toContain("Writing manifest to image destination");
    });

    test.each([
        ["pulls anonymously", "pull"],
        ["pushes with the push account", "push"],
    ])("skopeo %s", (_name, direction) => {
        inScratch((scratch) => {
            const local = `oci:${path.join(scratch, "layout")}:x`;
            const r =
                direction === "pull"
                    ? skopeo(env.ns, env.certDir, scratch, `docker://${ref("app:small")}`, local)
                    : skopeoPushNew(env, scratch, ref("app:by-skopeo"));
            expect(r.code, said(r)).toBe(0);
            expect(r.stdout).toContain("Writing manifest to image destination");
        });
    });

    test("no password and no token reaches the servers' output", () => {
        const logs = env.front.logs();
        for (const account of [env.front.push, env.front.pull]) {
            expect(logs).not.toContain(account.password);
            expect(logs).not.toContain(Buffer.from(`${account.username}:${account.password}`).toString("base64"));
        }
    });

    test("containerd pulls anonymously through hosts.toml", () => {
        const hosts = writeHostsToml(path.join(env.dir, "hosts-anon"), env.ca.caCertFile);
        const pulled = ctrPull(env.ns, containerd, hosts, ref("app:small"));
        expect(pulled.code, said(pulled)).toBe(0);
        expect(pulled.stdout).toContain("unpacking linux/amd64");
    });

    describe("during the read-only maintenance window", () => {
        beforeAll(async () => {
            await env.front.setReadOnly(true);
        }, 60_000);
        afterAll(async () => {
            await env.front.setReadOnly(false);
        }, 60_000);

        test("docker push is refused with 503 Service Unavailable", async () => {
            const client = (await startedEngine()).client();
            expect(client.login(HOST, env.front.push).code).toBe(0);
            payloadImage(client, ref("app:during-maintenance"));
            // docker retries the upload five times (about 50 s), then gives up with the status in words.
            const pushed = client.docker(["push", ref("app:during-maintenance")]);
            expect(pushed.code).not.toBe(0);
            expect(pushed.stderr).toContain("received unexpected HTTP status: 503 Service Unavailable");
        });

        test("skopeo push is refused with 503", () => {
            inScratch((scratch) => {
                const r = skopeoPushNew(env, scratch, ref("app:ro"));
                expect(r.code).not.toBe(0);
                // skopeo first asks whether each blob is there already; in the window that check gets the 503.
                expect(r.stderr).toMatch(
                    /trying to reuse blob sha256:[0-9a-f]{64} at destination: failed to read from destination repository team\/app: 503 \(Service Unavailable\)/,
                );
            });
        });

        test("pulls go on", () => {
            inScratch((scratch) => {
                const r = skopeo(env.ns, env.certDir, scratch, `docker://${ref("app:small")}`, `oci:${path.join(scratch, "layout")}:x`);
                expect(r.code, said(r)).toBe(0);
            });
        });
    });

    let later: DockerEngine | undefined;
    /** A daemon for the window's tests (the fresh one of the block above has stopped). */
    async function startedEngine(): Promise<DockerEngine> {
        later ??= await startDockerEngine(env.ns);
        return later;
    }
});

describe.each(PLACEMENTS)("$placement, requiresAuthForPull", ({ start }) => {
    let env: Env;
    let engine: DockerEngine;
    let containerd: PrivateContainerd;
    let hosts: string;
    const image = `${HOST}/team/closed:1`;
    beforeAll(async () => {
        env = await setUp(start, { requiresAuthForPull: true });
        engine = await startDockerEngine(env.ns);
        containerd = await startContainerd();
        hosts = writeHostsToml(path.join(env.dir, "hosts"), env.ca.caCertFile);
        inScratch((scratch) => {
            const seeded = skopeoPushNew(env, scratch, image);
            if (seeded.code !== 0) throw new Error(`seeding failed: ${said(seeded)}\n${env.front.logs()}`);
        });
    }, 180_000);
    afterAll(async () => {
        await containerd?.stop();
        await engine?.stop();
        await tearDown(env);
    });

    test("anonymous docker pull is refused with the way to log in", () => {
        const pulled = engine.client().docker(["pull", image]);
        expect(pulled.code).not.toBe(0);
        expect(pulled.stderr).toContain(
            `unauthorized: authentication required: no valid credentials came with this request; log in with an account of this registry (docker login ${HOST})`,
        );
    });

    test("docker pulls with the pull account", () => {
        const client = engine.client();
        expect(client.login(HOST, env.front.pull).code).toBe(0);
        const pulled = client.docker(["pull", image]);
        expect(pulled.code, said(pulled)).toBe(0);
        expect(pulled.stdout).toContain(`Status: Downloaded newer image for ${image}`);
    });

    test("containerd without credentials is refused", () => {
        const pulled = ctrPull(env.ns, containerd, hosts, image);
        expect(pulled.code).not.toBe(0);
        expect(pulled.stderr).toContain("401 Unauthorized");
    });

    test("containerd pulls with the pull account's credentials (registries.yaml auth)", () => {
        const pulled = ctrPull(env.ns, containerd, hosts, image, env.front.pull);
        expect(pulled.code, said(pulled)).toBe(0);
        expect(pulled.stdout).toContain("unpacking linux/amd64");
    });

    test("containerd with a wrong password is refused", () => {
        const pulled = ctrPull(env.ns, containerd, hosts, image, { ...env.front.pull, password: "not-the-password" });
        expect(pulled.code).not.toBe(0);
        expect(said(pulled)).toContain("401 Unauthorized");
    });
});
