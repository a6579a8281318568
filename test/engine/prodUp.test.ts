/**
 * The `prod` stack's `pulumi up` for real, on machines of its own: the registry host and three k3s nodes
 * are test hosts (test/support/testHost.ts: a network namespace each, with this machine's packages seen
 * through overlays, so every remote script writes the real paths of a machine that is not this one), each
 * logged into over SSH as `deploy`, who reaches root with `sudo -n` as the stack says. On the registry host
 * run a Docker engine, Caddy as Debian's service runs it (user caddy, started with the package's default
 * Caddyfile, then reloaded by the program), fail2ban and node_exporter's package as installed. The stack's
 * ACME certificate comes from Pebble (Let's Encrypt's ACME test server) on the host's loopback, through
 * `registry.tls.acmeDirectory`, the key meant for a staging CA. The cluster side (the Flux pull secret,
 * the pipeline ConfigMaps) goes to a real API server, the Jenkins credentials to the fake Jenkins over HTTPS.
 *
 * The sequence: the README's secrets on stdin, `preview --diff`, `up`; real pushes and pulls through what
 * `up` built, with the stack's push account and anonymously; `up --expect-no-changes`; `destroy`, after
 * which the data directory is left (purgeDataOnDestroy is off) and everything else the stack made is gone.
 *
 * What differs from production, and why: the nodes' `systemctl` and `k3s` are stand-ins that log (no
 * systemd or k3s runs here); Pebble validates no challenge (the test's names resolve only inside the
 * hosts); the backup target is not contacted by `up`, so its host key is pinned but no SFTP server runs
 * (the backup itself is proven by test/integration/externalRegistryHost.backup.test.ts).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { payloadImage, registryImage } from "../support/dockerImages";
import { type FakeJenkins, startFakeJenkins } from "../support/fakeJenkins";
import { type ControlPlane, namespace, startControlPlane } from "../support/kubeControlPlane";
import { engineSet, openWorkspace, type Workspace } from "../support/pulumiEngine";
import { makeTestCa } from "../support/realRegistry";
import type { ServerProcess } from "../support/serverProcess";
import { type SshServer, startSshServer } from "../support/sshServer";
import { startTestHost, type TestHost } from "../support/testHost";

const STACK = "prod";
const REGISTRY = "registry.dso.example.com";
const MAVEN = "maven.dso.example.com";
const DATA_DIR = "/srv/data/registry";
const ACME = "https://127.0.0.1:14000/dir";
const SUBNET = "198.18.48.0/20";
const NODES = [
    { name: "k3s-server-1", unit: "k3s" },
    { name: "k3s-agent-1", unit: "k3s-agent" },
    { name: "k3s-agent-2", unit: "k3s-agent" },
] as const;

const secrets = {
    containerRegistryPassword: `push-${randomBytes(12).toString("hex")}`,
    mavenRegistryPassword: `deploy-${randomBytes(12).toString("hex")}`,
    jenkinsApiToken: `token-${randomBytes(12).toString("hex")}`,
    backupRepositoryPassword: `restic-${randomBytes(12).toString("hex")}`,
};

let ws: Workspace;
let kube: ControlPlane;
let jenkins: FakeJenkins;
let registryHost: TestHost;
let engine: DockerEngine;
let hostSsh: SshServer;
const nodeHosts: TestHost[] = [];
const nodeSsh: SshServer[] = [];
const services: ServerProcess[] = [];
let pebbleRoot: string;

/** An ed25519 key pair made with ssh-keygen: [private key file, public key line]. */
function keyPair(file: string): [string, string] {
    const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(made.stderr);
    return [file, readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ")];
}

/** Stand-ins for a k3s node's systemctl and k3s: they log each call and report the node's unit active and Ready. */
function installNodeStandIns(host: TestHost, unit: string): void {
    const systemctl = [
        "#!/bin/sh",
        'echo "systemctl $*" >> /var/log/dso-test-stand-ins.log',
        `case "$1" in is-active) [ "$(eval echo "\\$$#")" = ${unit} ]; exit $? ;; show) echo 12345 ;; esac`,
        "exit 0",
        "",
    ].join("\n");
    const k3s = ["#!/bin/sh", 'echo "k3s $*" >> /var/log/dso-test-stand-ins.log', "echo True", ""].join("\n");
    host.run("sh", ["-c", "cat > /usr/local/bin/systemctl && chmod 0755 /usr/local/bin/systemctl"], { input: systemctl });
    host.run("sh", ["-c", "cat > /usr/local/bin/k3s && chmod 0755 /usr/local/bin/k3s"], { input: k3s });
}

async function waitUntil(what: string, ok: () => boolean, log: () => string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
        if (Date.now() > deadline) throw new Error(`${what}\n${log()}`);
        await new Promise((r) => setTimeout(r, 250));
    }
}

const config = (key: string, value: string) => ws.pulumiOk(["config", "set", "--path", `dso-registry:${key}`, value, "-s", STACK]);

beforeAll(async () => {
    kube = startControlPlane();
    ws = openWorkspace({ stackFiles: [STACK], env: { KUBECONFIG: kube.kubeconfig } });
    const [clientKey, clientPublic] = keyPair(path.join(ws.dir, "id_ed25519"));
    const [backupKey] = keyPair(path.join(ws.dir, "backup_ed25519"));
    const [, backupHostKey] = keyPair(path.join(ws.dir, "backup_host_ed25519"));

    for (const ns of ["jenkins", "flux-system"]) await kube.create("/api/v1/namespaces", namespace(ns));
    const jenkinsCa = makeTestCa(path.join(ws.dir, "jenkins-ca"));
    jenkins = await startFakeJenkins({
        user: "pulumi",
        apiToken: secrets.jenkinsApiToken,
        tls: { key: readFileSync(jenkinsCa.serverKeyFile, "utf8"), cert: readFileSync(jenkinsCa.serverCertFile, "utf8") },
    });

    // The registry host: its name and the two sites it serves resolve to it; Pebble on its loopback.
    registryHost = await startTestHost({ prefix: "preh", subnet: SUBNET, hosts: ["registry-01.dso.example.com", REGISTRY, MAVEN] });
    registryHost.addUser("deploy");
    hostSsh = await startSshServer({ netns: registryHost, user: "deploy", privateRoot: false });
    hostSsh.authorize([clientPublic]);
    engine = await startDockerEngine(registryHost);
    registryImage(engine);
    const acmeCa = makeTestCa(path.join(ws.dir, "acme-ca"));
    registryHost.trust(acmeCa.caCertPem);
    const pebbleConfig = path.join(ws.dir, "pebble.json");
    writeFileSync(
        pebbleConfig,
        JSON.stringify({
            pebble: {
                listenAddress: "127.0.0.1:14000",
                managementListenAddress: "127.0.0.1:15000",
                certificate: acmeCa.serverCertFile,
                privateKey: acmeCa.serverKeyFile,
                httpPort: 80,
                tlsPort: 443,
                ocspResponderURL: "",
                externalAccountBindingRequired: false,
            },
        }),
    );
    const pebble = registryHost.startServer(path.join(engineSet(), "bin", "pebble"), ["-config", pebbleConfig], {
        ...process.env,
        PEBBLE_VA_ALWAYS_VALID: "1",
        PEBBLE_VA_NOSLEEP: "1",
        PEBBLE_WFE_NONCEREJECT: "0",
    });
    services.push(pebble);
    const curl = (url: string) => registryHost.run("curl", ["-sS", "--fail", "--max-time", "5", url]);
    await waitUntil(
        "Pebble did not answer",
        () => curl("https://127.0.0.1:15000/roots/0").code === 0,
        () => pebble.output(),
    );
    pebbleRoot = curl("https://127.0.0.1:15000/roots/0").stdout;
    // What an ACME CA's root is on a real host: in the system store.
    registryHost.trust(pebbleRoot);
    // Debian's services as their units start them: fail2ban (root), Caddy (user caddy, the package's Caddyfile).
    registryHost.run("sh", ["-c", "mkdir -p /run/fail2ban && touch /var/log/auth.log"]);
    const fail2ban = registryHost.startServer("/usr/bin/fail2ban-server", ["-xf", "start"]);
    services.push(fail2ban);
    await waitUntil(
        "fail2ban did not start",
        () => registryHost.run("fail2ban-client", ["ping"]).code === 0,
        () => fail2ban.output(),
    );
    const caddy = registryHost.startServer(
        "setpriv",
        ["--reuid=caddy", "--regid=caddy", "--init-groups", "/usr/bin/caddy", "run", "--environ", "--config", "/etc/caddy/Caddyfile"],
        { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/var/lib/caddy" },
    );
    services.push(caddy);
    await waitUntil(
        "Caddy did not start",
        () => curl("http://localhost:2019/config/").code === 0,
        () => caddy.output(),
    );

    for (const node of NODES) {
        const host = await startTestHost({ prefix: "prnd", subnet: SUBNET, hosts: [node.name] });
        nodeHosts.push(host);
        host.addUser("deploy");
        installNodeStandIns(host, node.unit);
        const ssh = await startSshServer({ netns: host, user: "deploy", privateRoot: false });
        ssh.authorize([clientPublic]);
        nodeSsh.push(ssh);
    }

    // The operator's steps: stack init, the placeholders replaced by what ssh-keyscan prints, the secrets on stdin.
    await ws.pulumiOk(["stack", "init", STACK]);
    await config("externalHost.ssh.host", registryHost.address);
    await config("externalHost.ssh.hostKey", hostSsh.hostKey);
    for (const [i, ssh] of nodeSsh.entries()) {
        await config(`nodes.list[${i}].host`, ssh.host);
        await config(`nodes.list[${i}].hostKey`, ssh.hostKey);
    }
    await config("registry.maintenance.backup.destination.hostKey", backupHostKey);
    await config("registry.tls.acmeDirectory", ACME);
    await config("jenkins.url", jenkins.url);
    await ws.pulumiOk(["config", "set", "--path", "dso-registry:jenkins.caCertificate", "-s", STACK], { input: jenkinsCa.caCertPem });
    for (const [key, value] of Object.entries(secrets)) {
        await ws.pulumiOk(["config", "set", "--secret", `dso-registry:${key}`, "-s", STACK], { input: value });
    }
    for (const [key, file] of [
        ["sshPrivateKey", clientKey],
        ["backupSshPrivateKey", backupKey],
    ] as const) {
        const r = await ws.shell(`npx pulumi config set --secret dso-registry:${key} -s ${STACK} < ${file}`);
        if (r.code !== 0) throw new Error(r.stderr);
    }
}, 20 * 60_000);

afterAll(async () => {
    ws?.close();
    for (const s of services.reverse()) await s.stop();
    await engine?.stop();
    await hostSsh?.stop();
    await registryHost?.destroy();
    for (const s of nodeSsh) await s.stop();
    for (const h of nodeHosts) await h.destroy();
    await jenkins?.close();
    kube?.stop();
}, 5 * 60_000);

/** Names of the running containers on the registry host, sorted. */
const runningContainers = () => engine.dockerOk(["ps", "--format", "{{.Names}}"]).split("\n").filter(Boolean).sort();
/** curl on the registry host trusting only Pebble's root: what a client with the ACME CA's root sees. */
const curlRegistry = (url: string, ...args: string[]) =>
    registryHost.run("curl", [
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
        "--cacert",
        pebbleRootFile,
        ...args,
        url,
    ]);
let pebbleRootFile: string;
const IMAGE_REF = `${REGISTRY}/docker-internal/p2c/app:1.0.0`;
/** Where Distribution keeps the pushed repository's tag, under the host's data directory. */
const TAG_DIR = `${DATA_DIR}/docker/registry/v2/repositories/docker-internal/p2c/app/_manifests/tags/1.0.0`;

describe("prod stack, real engine, on hosts of its own", () => {
    it(
        "previews, then `up` builds the registry host, the nodes' trust, the cluster's objects and the Jenkins credentials",
        async () => {
            const preview = await ws.pulumi(["preview", "--diff", "-s", STACK]);
            expect(preview.code, preview.stdout + preview.stderr).toBe(0);
            const up = await ws.pulumi(["up", "--yes", "-s", STACK], { timeoutMs: 20 * 60_000 });
            expect(up.code, up.stdout.slice(-20_000) + up.stderr).toBe(0);
        },
        25 * 60_000,
    );

    it("the registry and its caches run on the host, behind Caddy with a certificate obtained over ACME", () => {
        pebbleRootFile = path.join(ws.dir, "pebble-root.pem");
        writeFileSync(pebbleRootFile, pebbleRoot);
        expect(runningContainers()).toEqual([
            "dso-registry",
            "dso-registry-mirror-docker.io",
            "dso-registry-mirror-ghcr.io",
            "dso-registry-mirror-registry.k8s.io",
        ]);
        // Anonymous pull is allowed, so /v2/ answers 200 to nobody; the certificate chains to Pebble's root alone.
        expect(curlRegistry(`https://${REGISTRY}/v2/`).stdout).toBe("200");
        const issuer = registryHost.run("sh", [
            "-c",
            `openssl s_client -connect ${REGISTRY}:443 -servername ${REGISTRY} </dev/null 2>/dev/null | openssl x509 -noout -issuer`,
        ]);
        expect(issuer.stdout).toMatch(/Pebble Intermediate/);
        // The login limit's jail runs in fail2ban, node_exporter's textfile and the cron jobs are in place.
        expect(registryHost.run("fail2ban-client", ["status", "dso-registry-login"]).code).toBe(0);
        for (const file of ["/etc/cron.d/dso-registry", "/etc/cron.d/dso-registry-mirrors", "/usr/local/sbin/dso-registry-backup"])
            expect([file, registryHost.exists(file)]).toEqual([file, true]);
    });

    it("the push account pushes, an anonymous client pulls and cannot push, through what `up` built", () => {
        const pusher = engine.client();
        payloadImage(pusher, IMAGE_REF, { payloadBytes: 64 * 1024 });
        expect(pusher.login(REGISTRY, { username: "jenkins-push", password: secrets.containerRegistryPassword }).code).toBe(0);
        pusher.dockerOk(["push", IMAGE_REF]);
        expect(registryHost.exists(`${TAG_DIR}/current/link`)).toBe(true);
        pusher.dockerOk(["logout", REGISTRY]);
        pusher.dockerOk(["rmi", IMAGE_REF]);
        const anonymous = engine.client();
        anonymous.dockerOk(["pull", IMAGE_REF]);
        anonymous.dockerOk(["tag", IMAGE_REF, `${REGISTRY}/docker-internal/p2c/app:anonymous`]);
        const push = anonymous.docker(["push", `${REGISTRY}/docker-internal/p2c/app:anonymous`]);
        expect(push.code).not.toBe(0);
        expect(push.stderr).toMatch(/unauthorized|authentication required|no basic auth/i);
    });

    it("each node trusts the registry: its registries.yaml names the registry and the caches, and k3s was restarted", () => {
        for (const [i, node] of NODES.entries()) {
            const registries = nodeHosts[i]!.readFile("/etc/rancher/k3s/registries.yaml") ?? "";
            expect(registries).toContain(REGISTRY);
            expect(registries).toContain("ghcr.io");
            expect(nodeHosts[i]!.readFile("/var/log/dso-test-stand-ins.log")).toContain(`systemctl restart ${node.unit}`);
        }
    });

    it("the cluster has the Flux pull secret and Jenkins has both credentials; no secret is in the state's plaintext", async () => {
        const flux = await kube.get<{ data: Record<string, string> }>("/api/v1/namespaces/flux-system/secrets/registry-credentials");
        expect(Object.keys(flux?.data ?? {})).toContain(".dockerconfigjson");
        expect(jenkins.credentials.get("container-registry")?.fields).toMatchObject({
            username: "jenkins-push",
            password: secrets.containerRegistryPassword,
        });
        expect(jenkins.credentials.get("maven-registry")?.fields).toMatchObject({ username: "jenkins-deploy" });
        const state = JSON.stringify(await ws.exportState(STACK));
        for (const value of Object.values(secrets)) expect(state).not.toContain(value);
        expect(state).not.toContain("PRIVATE KEY");
    });

    it(
        "a second `up` plans nothing",
        async () => {
            const again = await ws.pulumi(["up", "--yes", "--expect-no-changes", "-s", STACK], { timeoutMs: 10 * 60_000 });
            expect(again.code, again.stdout.slice(-10_000) + again.stderr).toBe(0);
        },
        15 * 60_000,
    );

    it(
        "`destroy` removes what the stack made and leaves the registry's data (purgeDataOnDestroy off)",
        async () => {
            const destroy = await ws.pulumi(["destroy", "--yes", "-s", STACK], { timeoutMs: 15 * 60_000 });
            expect(destroy.code, destroy.stdout.slice(-10_000) + destroy.stderr).toBe(0);
            expect(runningContainers()).toEqual([]);
            expect(registryHost.exists(`${TAG_DIR}/current/link`)).toBe(true);
            for (const file of ["/etc/cron.d/dso-registry", "/etc/cron.d/dso-registry-mirrors", "/usr/local/sbin/dso-registry-backup"])
                expect([file, registryHost.exists(file)]).toEqual([file, false]);
            for (const host of nodeHosts) expect(host.readFile("/etc/rancher/k3s/registries.yaml") ?? "").not.toContain(REGISTRY);
            expect(jenkins.credentials.size).toBe(0);
            expect((await ws.exportState(STACK)).deployment.resources ?? []).toEqual([]);
        },
        20 * 60_000,
    );
});
