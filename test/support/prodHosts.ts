/**
 * The machines the `prod` stack runs on, for the engine tier: the registry host and the k3s nodes as
 * test hosts (test/support/testHost.ts), each an OpenSSH server with a `deploy` login that reaches root
 * with `sudo -n`, as Pulumi.prod.yaml says. On the registry host run a Docker engine (the images the stack
 * pins, built here: Distribution, and Caddy for the front and the metrics relay), Pebble (Let's Encrypt's
 * ACME test server) on its loopback, and fail2ban as Debian's unit starts it. The front is the program's:
 * `up` runs it as a container on the host's network. With `previousCaddy`, the Docker engine also has the
 * image of the front that the last landed release pinned (`caddy:<its version>`, built from
 * tools/caddy-previous), as a host that release deployed has it. Its system trust store holds Pebble's root,
 * as a real host's holds the ACME CA's.
 *
 * Pebble validates every challenge as a public CA does: it finds the registry's names through a DNS server of
 * the test's (Pebble's challenge test server, pebble-challtestsrv, with its DNS alone on the host's loopback),
 * where each name the host serves has an A record of the host's address, and asks the front there: on port 80
 * for HTTP-01, on 443 for TLS-ALPN-01 (Caddy tries one of the two at random, then the other if it fails). It
 * reuses no earlier authorization, so a renewal validates anew, as one at a real CA does once the last
 * validation is older than the CA's reuse period. `pointName` changes a name's A record (the name moved
 * elsewhere, then back); `pebbleLog` is the CA's log of each validation.
 *
 * What differs from production, and why: the nodes' `systemctl` and `k3s` are stand-ins that log each
 * call to /var/log/dso-test-stand-ins.log (no systemd or k3s runs here); the CA and its DNS run on the
 * registry host itself, so its validations reach the front at the host's own address rather than from
 * outside; the backup target's host key is pinned, but no SFTP server runs, since `up` does not contact it
 * (the backup is proven by test/integration/externalRegistryHost.backup.test.ts).
 *
 * A caller may prepare the registry host before any service starts on it (`prepareRegistryHost`), e.g. to
 * make it a fresh host without some packages; fail2ban runs only when its package is on the host.
 *
 * `settings` points a stack at these machines the way an operator would: the placeholders replaced with
 * the hosts' addresses and keys and the ACME directory (the Jenkins URL and CA are the caller's).
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { vi } from "vitest";
import { previousCaddy, previousCaddyVersion } from "./caddyBinaries";
import { type DockerEngine, startDockerEngine } from "./dockerEngine";
import { pinnedCaddyImage, registryImage } from "./dockerImages";
import { engineSet } from "./pulumiEngine";
import { makeTestCa } from "./realRegistry";
import type { ServerProcess } from "./serverProcess";
import { type SshServer, startSshServer } from "./sshServer";
import { startTestHost, type TestHost } from "./testHost";

export const REGISTRY = "registry.dso.example.com";
export const MAVEN = "maven.dso.example.com";
/** Pebble's ACME directory on the registry host's loopback. */
export const ACME_DIRECTORY = "https://127.0.0.1:14000/dir";
/** The challenge test server on the registry host's loopback: its DNS (what Pebble asks) and its management API. */
const NAME_SERVER = "127.0.0.1:8053";
const NAME_SERVER_MANAGEMENT = "http://127.0.0.1:8055";
const SUBNET = "198.18.48.0/20";

export interface ProdNode {
    readonly name: string;
    /** The k3s unit the node runs: k3s on a server, k3s-agent on an agent. */
    readonly unit: "k3s" | "k3s-agent";
    readonly host: TestHost;
    readonly ssh: SshServer;
}

export interface ProdHosts {
    readonly registryHost: TestHost;
    readonly hostSsh: SshServer;
    /** The registry host's Docker engine (also on the host's /run/docker.sock). */
    readonly engine: DockerEngine;
    readonly nodes: readonly ProdNode[];
    /** Pebble's root certificate (PEM) and a file holding it, for clients that trust the ACME CA alone. */
    readonly pebbleRoot: string;
    readonly pebbleRootFile: string;
    /** The client key the stack's `sshPrivateKey` holds (a file), authorized on every host. */
    readonly clientKeyFile: string;
    /** The backup target's pinned host key and the key the backup would log in with (a file). */
    readonly backupHostKey: string;
    readonly backupKeyFile: string;
    /**
     * The stack's config keys that name these machines and their values, as `pulumi config set --path`
     * takes them (the nodes in the order given, as `nodes.list[i]`).
     */
    readonly settings: ReadonlyArray<readonly [string, string]>;
    /** Names of the containers running on the registry host, sorted. */
    runningContainers(): string[];
    /** Gives `name` the one A record `address` in the DNS Pebble validates through (each served name starts at the host's address). */
    pointName(name: string, address: string): void;
    /** The names Pebble asked the DNS about `name`, as the challenge test server recorded them (record types: 1 is A, 28 AAAA). */
    dnsQuestions(name: string): Array<{ readonly Name: string; readonly Qtype: number }>;
    /** Pebble's log so far: each order, each validation (an HTTP-01 one names the URL it fetched) and its outcome. */
    pebbleLog(): string;
    stop(): Promise<void>;
}

export interface ProdHostsOptions {
    /**
     * Runs on the registry host once its `deploy` login exists and before any service starts there (the
     * Docker engine, Pebble, fail2ban, Caddy): what it removes or installs is what those services find.
     */
    readonly prepareRegistryHost?: (host: TestHost) => void | Promise<void>;
    /** The image of the front the last landed release pinned is on the host too, as that release left it (the upgrade test). */
    readonly previousCaddy?: boolean;
    /**
     * How long Pebble's certificates are valid, in seconds (default Pebble's 90 days). The front checks its
     * certificate when it starts, then every 10 minutes, and finds one of a few minutes due at every check:
     * Pebble's renewal information (ARI) puts its whole life in the renewal window, and Caddy renews anyway what
     * has under 50 minutes left. Each restart of the front is then a renewal; the validity must still outlast what
     * a test does between the first `up` and the renewal it makes.
     */
    readonly certificateValidity?: number;
}

/** An ed25519 key pair made with ssh-keygen: the public key line; the private key stays in `file`. */
function keyPair(file: string): string {
    const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(made.stderr);
    return readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
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
    for (const [name, text] of [
        ["systemctl", systemctl],
        ["k3s", k3s],
    ] as const) {
        const r = host.run("sh", ["-c", `cat > /usr/local/bin/${name} && chmod 0755 /usr/local/bin/${name}`], { input: text });
        if (r.code !== 0) throw new Error(r.stderr);
    }
}

async function waitUntil(what: string, ok: () => boolean, log: () => string, timeoutMs = 30_000): Promise<void> {
    await vi.waitUntil(ok, { timeout: timeoutMs, interval: 250 }).catch((error: unknown) => {
        throw new Error(`${what}\n${log()}`, { cause: error });
    });
}

/**
 * Starts the registry host and one node per entry of `nodes` (name and unit), keys and certificates in
 * `dir` (the caller's, removed by it). `siteNames` are extra names the registry host answers for.
 */
export async function startProdHosts(
    dir: string,
    nodes: ReadonlyArray<{ readonly name: string; readonly unit: ProdNode["unit"] }>,
    siteNames: readonly string[] = [],
    options: ProdHostsOptions = {},
): Promise<ProdHosts> {
    const services: ServerProcess[] = [];
    const started: Array<{ stop(): Promise<void> } | { destroy(): Promise<void> }> = [];
    const stop = async () => {
        for (const s of services.splice(0).reverse()) await s.stop();
        for (const s of started.splice(0).reverse()) await ("stop" in s ? s.stop() : s.destroy());
    };
    try {
        const clientKeyFile = path.join(dir, "id_ed25519");
        const clientPublic = keyPair(clientKeyFile);
        const backupKeyFile = path.join(dir, "backup_ed25519");
        keyPair(backupKeyFile);
        const backupHostKey = keyPair(path.join(dir, "backup_host_ed25519"));

        // The registry host: its name and the sites it serves resolve to it.
        const registryHost = await startTestHost({
            prefix: "preh",
            subnet: SUBNET,
            hosts: ["registry-01.dso.example.com", REGISTRY, MAVEN, ...siteNames],
        });
        started.push(registryHost);
        registryHost.addUser("deploy");
        await options.prepareRegistryHost?.(registryHost);
        const hostSsh = await startSshServer({ netns: registryHost, user: "deploy", privateRoot: false });
        started.push(hostSsh);
        hostSsh.authorize([clientPublic]);
        const engine = await startDockerEngine(registryHost);
        started.push(engine);
        registryImage(engine);
        // The registry's metrics relay (monitoring is on in the prod stack).
        pinnedCaddyImage(engine);
        if (options.previousCaddy) pinnedCaddyImage(engine, `caddy:${previousCaddyVersion()}`, previousCaddy);

        // The DNS Pebble validates through: the challenge test server with its DNS alone (no HTTP-01,
        // TLS-ALPN-01 or DNS-over-HTTPS server, no default answer), each name the host serves given its address.
        const nameServer = registryHost.startServer(path.join(engineSet(), "bin", "pebble-challtestsrv"), [
            "-dnsserver",
            NAME_SERVER,
            "-management",
            NAME_SERVER_MANAGEMENT.replace("http://", ""),
            "-http01",
            "",
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-doh",
            "",
            "-defaultIPv4",
            "",
            "-defaultIPv6",
            "",
        ]);
        services.push(nameServer);
        const manage = (endpoint: string, body: object) =>
            registryHost.run("curl", [
                "-sS",
                "--fail",
                "--max-time",
                "5",
                "-d",
                JSON.stringify(body),
                `${NAME_SERVER_MANAGEMENT}/${endpoint}`,
            ]);
        const pointName = (name: string, address: string) => {
            for (const [endpoint, body] of [
                ["clear-a", { host: name }],
                ["add-a", { host: name, addresses: [address] }],
            ] as const) {
                const r = manage(endpoint, body);
                if (r.code !== 0) throw new Error(`pebble-challtestsrv ${endpoint} ${name}: ${r.stderr}\n${nameServer.output()}`);
            }
        };
        await waitUntil("pebble-challtestsrv did not answer", () => manage("clear-a", { host: REGISTRY }).code === 0, nameServer.output);
        for (const name of [REGISTRY, MAVEN, ...siteNames]) pointName(name, registryHost.address);

        // Pebble, with an HTTPS certificate of a test CA that the host trusts.
        const acmeCa = makeTestCa(path.join(dir, "acme-ca"));
        registryHost.trust(acmeCa.caCertPem);
        const pebbleConfig = path.join(dir, "pebble.json");
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
                    ...(options.certificateValidity === undefined
                        ? {}
                        : { profiles: { default: { description: "short-lived", validityPeriod: options.certificateValidity } } }),
                },
            }),
        );
        // No random waits before a validation, no nonce refused at random, no authorization reused.
        const pebble = registryHost.startServer(
            path.join(engineSet(), "bin", "pebble"),
            ["-config", pebbleConfig, "-dnsserver", NAME_SERVER],
            {
                ...process.env,
                PEBBLE_VA_NOSLEEP: "1",
                PEBBLE_WFE_NONCEREJECT: "0",
                PEBBLE_AUTHZREUSE: "0",
            },
        );
        services.push(pebble);
        const curl = (url: string) => registryHost.run("curl", ["-sS", "--fail", "--max-time", "5", url]);
        const rootUrl = "https://127.0.0.1:15000/roots/0";
        await waitUntil("Pebble did not answer", () => curl(rootUrl).code === 0, pebble.output);
        const pebbleRoot = curl(rootUrl).stdout;
        const pebbleRootFile = path.join(dir, "pebble-root.pem");
        writeFileSync(pebbleRootFile, pebbleRoot);
        registryHost.trust(pebbleRoot);

        // Debian's fail2ban as its unit starts it (root; when its package is on the host).
        if (registryHost.run("sh", ["-c", "command -v fail2ban-server"]).code === 0) {
            registryHost.run("sh", ["-c", "mkdir -p /run/fail2ban && touch /var/log/auth.log"]);
            const fail2ban = registryHost.startServer("/usr/bin/fail2ban-server", ["-xf", "start"]);
            services.push(fail2ban);
            await waitUntil("fail2ban did not start", () => registryHost.run("fail2ban-client", ["ping"]).code === 0, fail2ban.output);
        }

        const prodNodes: ProdNode[] = [];
        for (const node of nodes) {
            const host = await startTestHost({ prefix: "prnd", subnet: SUBNET, hosts: [node.name] });
            started.push(host);
            host.addUser("deploy");
            installNodeStandIns(host, node.unit);
            const ssh = await startSshServer({ netns: host, user: "deploy", privateRoot: false });
            started.push(ssh);
            ssh.authorize([clientPublic]);
            prodNodes.push({ ...node, host, ssh });
        }
        return {
            registryHost,
            hostSsh,
            engine,
            nodes: prodNodes,
            pebbleRoot,
            pebbleRootFile,
            clientKeyFile,
            backupHostKey,
            backupKeyFile,
            settings: [
                ["externalHost.ssh.host", registryHost.address],
                ["externalHost.ssh.hostKey", hostSsh.hostKey],
                ...prodNodes.flatMap((n, i) => [
                    [`nodes.list[${i}].host`, n.ssh.host] as const,
                    [`nodes.list[${i}].hostKey`, n.ssh.hostKey] as const,
                ]),
                ["registry.maintenance.backup.destination.hostKey", backupHostKey],
                ["registry.tls.acmeDirectory", ACME_DIRECTORY],
            ],
            runningContainers: () => engine.dockerOk(["ps", "--format", "{{.Names}}"]).split("\n").filter(Boolean).sort(),
            pointName,
            dnsQuestions(name) {
                const r = manage("dns-request-history", { host: name });
                if (r.code !== 0) throw new Error(`pebble-challtestsrv dns-request-history ${name}: ${r.stderr}`);
                return (JSON.parse(r.stdout) as Array<{ Question: { Name: string; Qtype: number } }>).map((e) => e.Question);
            },
            pebbleLog: () => pebble.output(),
            stop,
        };
    } catch (error) {
        await stop();
        throw error;
    }
}
