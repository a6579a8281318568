/**
 * kube-network-policies, a NetworkPolicy implementation, as the agent of a real node (test/support/kubeNode.ts):
 * the binary built from its Go module (tools/kube-network-policies/build.sh), run inside the node's namespaces as
 * its DaemonSet runs it on each node (host network, the node's nftables), where the node's pods' traffic passes
 * (their bridge is the node's). Its reference RBAC (the module's install.yaml: ServiceAccount, ClusterRole,
 * binding) is read from the module cache at test time; the in-cluster credentials it reads (a token of that
 * ServiceAccount and the API server's CA at the service-account path, the API server's address in
 * KUBERNETES_SERVICE_HOST/PORT) are written on the node, whose /run is its own.
 *
 * Usage:
 *   const agent = await startNetworkPolicyAgent(cluster);
 *   await agent.stop();
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { vi } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import type { RealCluster } from "./kubeNode";
import { engineSet, PROJECT_DIR } from "./pulumiEngine";
import { run, type ServerProcess } from "./serverProcess";

const toolDir = path.join(PROJECT_DIR, "tools/kube-network-policies");
const goEnv = { ...process.env, PATH: `${process.env.PATH}:/usr/local/go/bin`, GOFLAGS: "-buildvcs=false" };
/** Where a pod's in-cluster client reads its credentials (client-go's rest.InClusterSettings). */
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** The agent's metrics listener, on the node's loopback only: its answer says the agent is up. */
const METRICS = "127.0.0.1:9080";

let built: string | undefined;

/** The agent's binary (tools/kube-network-policies/build.sh: built on first use, nothing when warm). */
function agentBinary(): string {
    if (!built) {
        const build = spawnSync("sh", [path.join(toolDir, "build.sh"), "--quiet"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        if (build.status !== 0)
            throw new Error(`tools/kube-network-policies/build.sh failed (exit ${build.status ?? build.signal}):\n${build.stderr}`);
        built = path.join(build.stdout.trim().split("\n").at(-1) as string, "kube-network-policies");
    }
    return built;
}

/** The module's install.yaml (its reference DaemonSet and RBAC), from the module cache (downloaded when missing). */
function installManifest(): string {
    const downloaded = spawnSync("go", ["mod", "download", "-json", "sigs.k8s.io/kube-network-policies"], {
        cwd: toolDir,
        encoding: "utf8",
        env: goEnv,
    });
    if (downloaded.status !== 0)
        throw new Error(`go mod download of kube-network-policies failed:\n${downloaded.stdout}${downloaded.stderr}`);
    return readFileSync(path.join((JSON.parse(downloaded.stdout) as { Dir: string }).Dir, "install.yaml"), "utf8");
}

export interface NetworkPolicyAgent {
    readonly process: ServerProcess;
    /** The agent's log, for a failure's message. */
    output(): string;
    stop(): Promise<void>;
}

/** Starts the agent on the node with its reference RBAC; resolves once its metrics listener answers. */
export async function startNetworkPolicyAgent(cluster: RealCluster): Promise<NetworkPolicyAgent> {
    const binary = agentBinary();
    const kubectl = (args: readonly string[], input = "") =>
        run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", cluster.kube.kubeconfig, ...args], { input });
    const ok = (what: string, r: ReturnType<typeof kubectl>) => {
        if (r.code !== 0) throw new Error(`${what}:\n${r.stdout}${r.stderr}`);
        return r.stdout;
    };
    const rbac = parseAllDocuments(installManifest())
        .map((d) => d.toJS())
        .filter((o) => o && ["ServiceAccount", "ClusterRole", "ClusterRoleBinding"].includes(o.kind));
    const account = rbac.find((o) => o.kind === "ServiceAccount").metadata as { name: string; namespace: string };
    ok("the agent's RBAC", kubectl(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: rbac })));
    const token = ok("the agent's token", kubectl(["create", "token", "-n", account.namespace, account.name, "--duration=2h"])).trim();
    const config = parse(readFileSync(cluster.kube.kubeconfig, "utf8"));
    const server = new URL(config.clusters[0].cluster.server as string);
    const ca = Buffer.from(config.clusters[0].cluster["certificate-authority-data"], "base64").toString("utf8");
    // Through stdin: nothing secret on a command line.
    for (const [file, content] of [
        ["token", token],
        ["ca.crt", ca],
    ] as const) {
        const r = cluster.node.run(
            "sh",
            ["-c", 'umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1"', "write", `${SERVICE_ACCOUNT_DIR}/${file}`],
            {
                input: content,
            },
        );
        if (r.code !== 0) throw new Error(`${file} on the node: ${r.stderr}`);
    }
    const { KUBECONFIG: _kubeconfig, ...env } = process.env;
    const agent = cluster.node.startServer(
        binary,
        [
            `--hostname-override=${cluster.nodeName}`,
            // The Pod IPs from the API server: the node's containerd runs without NRI.
            "--disable-nri",
            `--metrics-bind-address=${METRICS}`,
            "--v=2",
        ],
        { ...env, KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port || "443" },
    );
    const stop = async () => {
        await agent.stop();
        cluster.node.run("rm", ["-rf", SERVICE_ACCOUNT_DIR]);
        // Its table, should it have left it behind.
        cluster.node.run("nft", ["delete", "table", "inet", "kube-network-policies"]);
    };
    const serving = () => {
        if (agent.child.exitCode !== null) throw new Error(`exited with ${agent.child.exitCode}`);
        return cluster.node.run("curl", ["-sf", "--max-time", "2", "-o", "/dev/null", `http://${METRICS}/metrics`]).code === 0;
    };
    await vi.waitUntil(serving, { timeout: 60_000, interval: 500 }).catch(async (error: unknown) => {
        await stop();
        throw new Error(`kube-network-policies did not start:\n${agent.output()}`, { cause: error });
    });
    return { process: agent, output: () => agent.output(), stop };
}
