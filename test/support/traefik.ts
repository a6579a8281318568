/**
 * Traefik v3, k3s's ingress controller, on a real node (test/support/kubeNode.ts): the binary built from its
 * Go module (tools/traefik/build.sh), run inside the node's namespaces as k3s runs it on each node, listening
 * on the node's :80 and :443 (entry points `web` and `websecure`, TLS on the latter), with the
 * kubernetescrd and kubernetesingress providers (and, asked for, its Gateway API provider) watching the tier's API server.
 *
 * What Traefik's own module ships is used as it is, read from the module cache at test time (nothing of it is
 * kept in the repository): its CRDs (Middleware, IngressRoute…) and the ClusterRole of its reference RBAC,
 * bound to a ServiceAccount whose token (TokenRequest) Traefik reads from a file on the node, with the API
 * server's CA. The IngressClass `traefik` (controller traefik.io/ingress-controller) is made as k3s's chart
 * makes it.
 *
 * Usage:
 *   await installTraefikCrds(cluster.kube.kubeconfig);   // before the program writes its Middleware
 *   const traefik = await startTraefik(cluster);
 *   await traefik.stop();
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parse, parseAllDocuments } from "yaml";
import type { RealCluster } from "./kubeNode";
import { engineSet, PROJECT_DIR } from "./pulumiEngine";
import { run, type ServerProcess, waitUntil } from "./serverProcess";

/** The IngressClass Traefik serves here, and its controller's name (Traefik's default). */
export const TRAEFIK_CLASS = "traefik";
const TRAEFIK_CONTROLLER = "traefik.io/ingress-controller";
/** The ServiceAccount Traefik's reference RBAC binds (kubernetes-crd-rbac.yml). */
const SERVICE_ACCOUNT = { name: "traefik-ingress-controller", namespace: "default" };
/** Where Traefik's credentials live on the node (its /etc is the test host's overlay). */
const NODE_DIR = "/etc/dso-test-traefik";
/** Traefik's own entry point (ping and API), on the node's loopback only. */
const PING = "127.0.0.1:9000";
/** Traefik's reference files in its module. */
const REFERENCE_DIR = "docs/content/reference/dynamic-configuration";

const toolDir = path.join(PROJECT_DIR, "tools/traefik");
const goEnv = { ...process.env, PATH: `${process.env.PATH}:/usr/local/go/bin`, GOFLAGS: "-buildvcs=false" };

let built: string | undefined;

/** Traefik's binary (tools/traefik/build.sh: built on first use, nothing when warm). */
export function traefikBinary(): string {
    if (!built) {
        const build = spawnSync("sh", [path.join(toolDir, "build.sh"), "--quiet"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        if (build.status !== 0) throw new Error(`tools/traefik/build.sh failed (exit ${build.status ?? build.signal}):\n${build.stderr}`);
        built = path.join(build.stdout.trim().split("\n").at(-1) as string, "traefik");
    }
    return built;
}

/** The module cache's copy of the Traefik module the wrapper requires (downloaded when missing). */
export function traefikModuleDir(): string {
    const downloaded = spawnSync("go", ["mod", "download", "-json", "github.com/traefik/traefik/v3"], {
        cwd: toolDir,
        encoding: "utf8",
        env: goEnv,
    });
    if (downloaded.status !== 0) throw new Error(`go mod download of Traefik's module failed:\n${downloaded.stdout}${downloaded.stderr}`);
    return (JSON.parse(downloaded.stdout) as { Dir: string }).Dir;
}

/** A file of Traefik's reference configuration (its CRDs, its RBAC), from its module. */
export function traefikReferenceFile(name: string): string {
    return readFileSync(path.join(traefikModuleDir(), REFERENCE_DIR, name), "utf8");
}

const kubectlOf =
    (kubeconfig: string) =>
    (args: readonly string[], input = "") =>
        run(path.join(engineSet(), "bin/kubectl"), ["--kubeconfig", kubeconfig, ...args], { input });

/** The GatewayClass Traefik's Gateway API provider serves here, and its controller's name (Traefik's default). */
export const TRAEFIK_GATEWAY_CLASS = "traefik";
const TRAEFIK_GATEWAY_CONTROLLER = "traefik.io/gateway-controller";

/**
 * The Gateway API module Traefik's own module requires (its go.sum, so the wrapper's, vouches for it), in the
 * module cache: its standard channel's CRDs are what the API server validates Gateways and routes with.
 */
export function gatewayApiModuleDir(): string {
    const list = spawnSync("go", ["list", "-m", "-json", "sigs.k8s.io/gateway-api"], { cwd: toolDir, encoding: "utf8", env: goEnv });
    if (list.status !== 0) throw new Error(`go list of the Gateway API module failed:\n${list.stderr}`);
    const { Path, Version } = JSON.parse(list.stdout) as { Path: string; Version: string };
    const downloaded = spawnSync("go", ["mod", "download", "-json", `${Path}@${Version}`], { cwd: toolDir, encoding: "utf8", env: goEnv });
    if (downloaded.status !== 0) throw new Error(`go mod download of ${Path}@${Version} failed:\n${downloaded.stdout}${downloaded.stderr}`);
    return (JSON.parse(downloaded.stdout) as { Dir: string }).Dir;
}

/** Installs the Gateway API's standard-channel CRDs from its module and waits until the API server serves them. */
export function installGatewayApiCrds(kubeconfig: string): string[] {
    const kubectl = kubectlOf(kubeconfig);
    const dir = path.join(gatewayApiModuleDir(), "config/crd/standard");
    const created = kubectl(["create", "-f", dir, "-o", "name"]);
    if (created.code !== 0) throw new Error(`the Gateway API CRDs were refused:\n${created.stderr}`);
    const names = created.stdout.split("\n").filter((n) => n.startsWith("customresourcedefinition"));
    const established = kubectl(["wait", "--for=condition=Established", "--timeout=60s", ...names]);
    if (established.code !== 0) throw new Error(`the Gateway API CRDs not established:\n${established.stderr}`);
    return names;
}

/**
 * Installs Traefik's CRDs (traefik.io/v1alpha1) from its module and waits until the API server serves them.
 * `kubectl create`: the Middleware CRD is too large for the annotation `kubectl apply` keeps.
 */
export function installTraefikCrds(kubeconfig: string): string[] {
    const kubectl = kubectlOf(kubeconfig);
    const created = kubectl(["create", "-f", "-", "-o", "name"], traefikReferenceFile("kubernetes-crd-definition-v1.yml"));
    if (created.code !== 0) throw new Error(`Traefik's CRDs were refused:\n${created.stderr}`);
    const names = created.stdout.split("\n").filter(Boolean);
    const established = kubectl(["wait", "--for=condition=Established", "--timeout=60s", ...names]);
    if (established.code !== 0) throw new Error(`Traefik's CRDs not established:\n${established.stderr}`);
    return names;
}

export interface Traefik {
    readonly process: ServerProcess;
    /** Its own entry point on the node (ping, /api/http/routers…). */
    readonly api: string;
    /** Traefik's log (stdout and stderr), for a failure's message. */
    output(): string;
    stop(): Promise<void>;
}

/**
 * Starts Traefik on the node: the IngressClass, a ServiceAccount with Traefik's reference ClusterRole, a
 * token of it and the API server's CA in files on the node, then Traefik; resolves once it answers its ping.
 */
export async function startTraefik(cluster: RealCluster, options: { readonly gatewayApi?: boolean } = {}): Promise<Traefik> {
    const binary = traefikBinary();
    const kubectl = kubectlOf(cluster.kube.kubeconfig);
    const ok = (what: string, r: ReturnType<typeof kubectl>) => {
        if (r.code !== 0) throw new Error(`${what}:\n${r.stdout}${r.stderr}`);
        return r.stdout;
    };
    ok(
        "the IngressClass",
        kubectl(
            ["create", "-f", "-"],
            JSON.stringify({
                apiVersion: "networking.k8s.io/v1",
                kind: "IngressClass",
                metadata: { name: TRAEFIK_CLASS },
                spec: { controller: TRAEFIK_CONTROLLER },
            }),
        ),
    );
    ok("Traefik's ServiceAccount", kubectl(["create", "serviceaccount", "-n", SERVICE_ACCOUNT.namespace, SERVICE_ACCOUNT.name]));
    ok("Traefik's RBAC", kubectl(["create", "-f", "-"], traefikReferenceFile("kubernetes-crd-rbac.yml")));
    if (options.gatewayApi) {
        // Traefik's reference RBAC for its Gateway API provider, bound to the same ServiceAccount; and the
        // GatewayClass, as Traefik's chart makes it.
        const rbac = parseAllDocuments(traefikReferenceFile("kubernetes-gateway-rbac.yml")).map((d) => d.toJS());
        for (const binding of rbac.filter((o) => o.kind === "ClusterRoleBinding"))
            binding.subjects = [{ kind: "ServiceAccount", ...SERVICE_ACCOUNT }];
        ok("Traefik's Gateway API RBAC", kubectl(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: rbac })));
        ok(
            "the GatewayClass",
            kubectl(
                ["create", "-f", "-"],
                JSON.stringify({
                    apiVersion: "gateway.networking.k8s.io/v1",
                    kind: "GatewayClass",
                    metadata: { name: TRAEFIK_GATEWAY_CLASS },
                    spec: { controllerName: TRAEFIK_GATEWAY_CONTROLLER },
                }),
            ),
        );
    }
    const token = ok(
        "Traefik's token",
        kubectl(["create", "token", "-n", SERVICE_ACCOUNT.namespace, SERVICE_ACCOUNT.name, "--duration=2h"]),
    ).trim();
    const config = parse(readFileSync(cluster.kube.kubeconfig, "utf8"));
    const server = config.clusters[0].cluster.server as string;
    const ca = Buffer.from(config.clusters[0].cluster["certificate-authority-data"], "base64").toString("utf8");
    // Through stdin: nothing secret on a command line.
    const write = (file: string, content: string) => {
        const r = cluster.node.run("sh", ["-c", 'umask 077 && mkdir -p "$(dirname "$1")" && cat > "$1"', "write", file], {
            input: content,
        });
        if (r.code !== 0) throw new Error(`${file} on the node: ${r.stderr}`);
    };
    write(`${NODE_DIR}/token`, token);
    write(`${NODE_DIR}/ca.crt`, ca);
    const providerArgs = (provider: string) => [
        `--providers.${provider}.endpoint=${server}`,
        `--providers.${provider}.token=${NODE_DIR}/token`,
        `--providers.${provider}.certAuthFilePath=${NODE_DIR}/ca.crt`,
    ];
    // Neither in-cluster variables nor a KUBECONFIG: Traefik would prefer them to the endpoint given.
    const { KUBECONFIG: _kubeconfig, KUBERNETES_SERVICE_HOST: _host, KUBERNETES_SERVICE_PORT: _port, ...env } = process.env;
    const traefik = cluster.node.startServer(
        binary,
        [
            "--log.level=INFO",
            "--log.noColor=true",
            // Nothing outside the test: no release check, no usage data.
            "--global.checkNewVersion=false",
            "--global.sendAnonymousUsage=false",
            "--entryPoints.web.address=:80",
            "--entryPoints.websecure.address=:443",
            "--entryPoints.websecure.http.tls=true",
            `--entryPoints.traefik.address=${PING}`,
            "--ping=true",
            "--ping.entryPoint=traefik",
            // Its API on the same loopback entry point: the tests read the routers Traefik serves.
            "--api=true",
            "--api.insecure=true",
            // The dashboard's web assets are built apart from the Go module: without them Traefik logs an error.
            "--api.dashboard=false",
            "--providers.kubernetescrd=true",
            ...providerArgs("kubernetescrd"),
            "--providers.kubernetesingress=true",
            ...providerArgs("kubernetesingress"),
            ...(options.gatewayApi
                ? [
                      "--providers.kubernetesgateway=true",
                      ...providerArgs("kubernetesgateway"),
                      // The address Traefik writes in its Gateways' status: the node's, where it listens.
                      `--providers.kubernetesgateway.statusAddress.ip=${cluster.node.address}`,
                  ]
                : []),
        ],
        env,
    );
    const stop = async () => {
        await traefik.stop();
        cluster.node.run("rm", ["-rf", NODE_DIR]);
    };
    const answering = () => {
        if (traefik.child.exitCode !== null) throw new Error(`exited with ${traefik.child.exitCode}`);
        return cluster.node.run("curl", ["-s", "--max-time", "2", `http://${PING}/ping`]).stdout === "OK";
    };
    await waitUntil(answering, { timeout: 60_000, interval: 500 }).catch(async (error: unknown) => {
        await stop();
        throw new Error(`Traefik did not answer its ping:\n${traefik.output()}`, { cause: error });
    });
    return { process: traefik, api: `http://${PING}`, output: () => traefik.output(), stop };
}
