/**
 * The in-cluster registry's TLS front, run for real inside a test's network namespace: Distribution
 * with the rendered config, and Caddy with the sidecar's rendered Caddyfile (its TLS site, with the
 * certificate and key of the rendered Secret `registry-tls`, as the Secret volume mounts them). The
 * TLS listener listens on 443 itself: the Service's port mapping (443 to the container's 8443) is
 * kube-proxy's, not ours. The pod's paths become paths under `dir`; the policy and the listeners'
 * shape are the rendered ones.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { renderUsersFile } from "../../components/accessPolicy/usersFile";
import { renderRegistryConfig } from "../../components/distribution/registryConfig";
import { renderSidecarCaddyfile, sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { renderSecrets } from "../../components/inCluster/workload";
import { DISTRIBUTION } from "../../components/shared/facts";
import { pinnedCaddy } from "./caddyBinaries";
import { deployedRegistry } from "./distributionBinaries";
import { createNetns, type TestNetns } from "./netns";
import { caddyEnv, makeAccount, makeTestCa, type TestAccount, type TestCa } from "./realRegistry";
import { privateDir, removeDir, type ServerProcess } from "./serverProcess";

export interface InClusterTlsFront {
    /** The Caddyfile Caddy runs. */
    readonly caddyfile: string;
    /** Stops Caddy and Distribution (safe to call twice). */
    stop(): Promise<void>;
}

/** Starts Distribution and Caddy inside `ns`, serving `host` on 443 with `ca`'s server certificate. */
export async function startInClusterTlsFront(options: {
    readonly ns: TestNetns;
    readonly dir: string;
    readonly host: string;
    readonly ca: TestCa;
    readonly push: TestAccount;
    readonly pull: TestAccount;
}): Promise<InClusterTlsFront> {
    const { ns, dir, host, ca } = options;
    const tlsSecret = renderSecrets({
        namespace: "dso",
        tls: { kind: "secret", certPem: readFileSync(ca.serverCertFile, "utf8"), keyPem: readFileSync(ca.serverKeyFile, "utf8") },
        users: { push: "", pull: "", htpasswd: "" },
        httpSecret: "unused",
        storage: { kind: "filesystem", size: "1Gi" },
    } as Parameters<typeof renderSecrets>[0]).find((s) => s.metadata.name === IN_CLUSTER.tlsSecret)!;
    const tlsData = tlsSecret.stringData as Record<string, string>;

    const usersDir = path.join(dir, "users");
    const dataDir = path.join(dir, "data");
    const tlsDir = path.join(dir, "tls");
    for (const d of [usersDir, dataDir, tlsDir]) mkdirSync(d, { recursive: true });
    writeFileSync(path.join(usersDir, "push"), renderUsersFile("push", [options.push]), { mode: 0o600 });
    writeFileSync(path.join(usersDir, "pull"), renderUsersFile("pull", [options.pull]), { mode: 0o600 });
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
    const policy = sidecarPolicy({ host, requiresAuthForPull: false, deletesEnabled: false, storage: "filesystem" });
    const caddyfile = renderSidecarCaddyfile(
        { ...policy, pushUsersFile: path.join(usersDir, "push"), pullUsersFile: path.join(usersDir, "pull"), blobFiles: dataDir },
        { port: 443, certFile: path.join(tlsDir, "tls.crt"), keyFile: path.join(tlsDir, "tls.key") },
    );
    const caddyfilePath = path.join(dir, "Caddyfile");
    writeFileSync(caddyfilePath, caddyfile);

    const servers: ServerProcess[] = [];
    const stop = async () => {
        for (const s of servers.splice(0).reverse()) await s.stop();
    };
    try {
        servers.push(ns.startServer(deployedRegistry().path, ["serve", registryConfig], { ...process.env, ...DISTRIBUTION.environment }));
        servers.push(ns.startServer(pinnedCaddy(), ["run", "--adapter", "caddyfile", "--config", caddyfilePath], caddyEnv(dir)));
        await ns.waitForPort(443, 30_000, "caddy").catch((e: Error) => {
            throw new Error(`${e.message}\n${servers.map((s) => s.output()).join("\n")}`);
        });
    } catch (error) {
        await stop();
        throw error;
    }
    return { caddyfile, stop };
}

/** A test's registry site: its scratch directory and namespace, the name resolving to it, a CA, the two accounts and the front. */
export interface InClusterTlsSite {
    readonly dir: string;
    readonly ns: TestNetns;
    readonly ca: TestCa;
    readonly push: TestAccount;
    readonly pull: TestAccount;
    readonly front: InClusterTlsFront;
    /** Stops the front and removes the namespace and the directory (safe to call twice); stop what runs in the namespace first. */
    stop(): Promise<void>;
}

/**
 * A scratch directory (`privateDir(dirName)`), a namespace in `subnet` whose /etc/hosts names `host`, a
 * CA for `host`, the accounts ci-push and cluster-pull, and the front; if any of it fails, what was made
 * is taken down.
 */
export async function startInClusterTlsSite(options: {
    readonly dirName: string;
    readonly prefix: string;
    readonly subnet: string;
    readonly host: string;
}): Promise<InClusterTlsSite> {
    const dir = privateDir(options.dirName);
    let ns: TestNetns | undefined;
    let front: InClusterTlsFront | undefined;
    const stop = async () => {
        await front?.stop();
        await ns?.destroy();
        removeDir(dir);
    };
    try {
        ns = await createNetns({ prefix: options.prefix, subnet: options.subnet });
        ns.writeEtcFile("hosts", `127.0.0.1 localhost\n${ns.address} ${options.host}\n`);
        const ca = makeTestCa(path.join(dir, "ca"), [options.host]);
        const push = makeAccount("ci-push");
        const pull = makeAccount("cluster-pull");
        front = await startInClusterTlsFront({ ns, dir: path.join(dir, "front"), host: options.host, ca, push, pull });
        return { dir, ns, ca, push, pull, front, stop };
    } catch (error) {
        await stop();
        throw error;
    }
}
