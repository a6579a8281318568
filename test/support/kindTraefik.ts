/**
 * Traefik v3 as a kind cluster's ingress controller, run as kind's ingress guide runs one: a pod on the node
 * labelled `ingress-ready=true`, its entry point `web` on the pod's :80 published on the node's :80 by a
 * `hostPort` (the node's bridge CNI has the portmap plugin), so that a cluster created with the control-plane
 * node's port 80 mapped to the Docker host (`extraPortMappings`) serves Ingresses there.
 *
 * The image is built here (no registry can be pulled from): `dso-test/traefik:<version>`, the static Traefik
 * binary built from its module (tools/traefik/build.sh, test/support/traefik.ts) alone in an otherwise empty
 * root filesystem, imported into the cluster's Docker engine and loaded into the nodes with `kind load
 * image-archive` (skipped when the node's containerd holds it already). What Traefik's own module ships is
 * used as it is: its CRDs, and the ClusterRole of its reference RBAC (services, secrets, endpointslices,
 * ingresses and ingressclasses, its own CRDs' kinds) bound to the ServiceAccount `traefik` in namespace
 * `traefik`. The IngressClass `traefik` (controller traefik.io/ingress-controller) is the cluster's default
 * unless told otherwise, so an Ingress without `ingressClassName` gets it when it is created.
 *
 * Traefik talks to the API server as a pod does (its ServiceAccount's token, the cluster's Service), answers
 * its ping on :9000 (the pod's readiness probe), and, unless told otherwise, routes to Services of type
 * ExternalName (`allowExternalNameServices`, off by default in Traefik), which kind's registry front needs:
 * an ExternalName naming a container on the `kind` Docker network. Such a route resolves the name through the
 * cluster's DNS at each new connection, so startTraefikInKind also waits for CoreDNS, which is Ready a while
 * after `kind create cluster` returns: before that Traefik answers 502 (the lookup refused) or not at all.
 *
 * `uninstall()` deletes all it made in the cluster (the namespace with the Deployment and ServiceAccount, the
 * IngressClass, the ClusterRole and its binding, the CRDs); the image stays in the engine and the node.
 * A failure throws with the pods' state and Traefik's log.
 *
 * Usage:
 *   const cluster = await startKindCluster({ controlPlane: KIND_INGRESS_CONTROL_PLANE });   // see below
 *   const traefik = await startTraefikInKind(cluster);            // resolves once Traefik and the cluster's DNS are ready
 *   cluster.netns.run("curl", ["http://localhost:8080/…"]);       // the node's :80, published on 127.0.0.1:8080
 *   traefik.logs(); traefik.uninstall();
 */
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { imageExists, importRootfs } from "./dockerImages";
import type { KindCluster } from "./kindCluster";
import { privateDir, type RunResult, removeDir, run } from "./serverProcess";
import { installTraefikCrds, traefikBinary, traefikReferenceFile } from "./traefik";

/** Where Traefik runs, the IngressClass it serves and its controller's name (Traefik's default). */
const NAMESPACE = "traefik";
const CLASS = "traefik";
const CONTROLLER = "traefik.io/ingress-controller";
const APP = "traefik";
/** Traefik's own entry point in the pod: its ping, for the readiness probe. */
const PING_PORT = 9000;

/**
 * The control-plane node entry kind's ingress guide gives (`startKindCluster({ controlPlane })`): the label
 * the controller's pod is placed by, and the node's :80 published on the Docker host's 127.0.0.1:8080.
 */
export const KIND_INGRESS_CONTROL_PLANE: readonly string[] = [
    "labels:",
    '  ingress-ready: "true"',
    "extraPortMappings:",
    "  - containerPort: 80",
    "    hostPort: 8080",
    '    listenAddress: "127.0.0.1"',
    "    protocol: TCP",
];

export interface KindTraefikOptions {
    /** `--providers.kubernetes{ingress,crd}.allowExternalNameServices=true` (default true). */
    readonly allowExternalNameServices?: boolean;
    /** The IngressClass annotated `ingressclass.kubernetes.io/is-default-class: "true"` (default true). */
    readonly defaultClass?: boolean;
}

export interface KindTraefik {
    /** The namespace Traefik runs in. */
    readonly namespace: string;
    /** The IngressClass it serves. */
    readonly className: string;
    /** Traefik's log (every pod of its Deployment, the previous run's too), with the pods' state. */
    logs(): string;
    /** Deletes everything startTraefikInKind made in the cluster. Safe to call twice. */
    uninstall(): void;
}

/** The version of the Traefik build (`traefik version`), e.g. "3.7.13". */
function traefikVersion(binary: string): string {
    const shown = run(binary, ["version"]);
    const version = /^Version:\s*v?(\S+)/m.exec(shown.stdout)?.[1];
    if (shown.code !== 0 || !version) throw new Error(`traefik version: exit ${shown.code}\n${shown.stdout}${shown.stderr}`);
    return version;
}

/** `dso-test/traefik:<version>` in the cluster's engine: the binary alone, as its entrypoint. Returns the reference. */
function traefikImage(cluster: KindCluster, binary: string): string {
    const ref = `dso-test/traefik:${traefikVersion(binary)}`;
    if (imageExists(cluster.engine, ref)) return ref;
    const scratch = privateDir("kind-traefik-image");
    try {
        const root = path.join(scratch, "rootfs");
        // Static: no libraries. /etc and /tmp for what the kubelet mounts and what Go may write.
        for (const dir of ["usr/local/bin", "etc", "tmp"]) mkdirSync(path.join(root, dir), { recursive: true });
        chmodSync(path.join(root, "tmp"), 0o1777);
        copyFileSync(binary, path.join(root, "usr/local/bin/traefik"));
        chmodSync(path.join(root, "usr/local/bin/traefik"), 0o755);
        importRootfs(cluster.engine, root, ref, ["EXPOSE 80", `ENTRYPOINT ["/usr/local/bin/traefik"]`]);
        return ref;
    } finally {
        removeDir(scratch);
    }
}

/** The cluster's nodes (kind's names of their containers). */
function kindNodes(cluster: KindCluster): string[] {
    const listed = cluster.kind(["get", "nodes", "--name", cluster.name]);
    if (listed.code !== 0) throw new Error(`kind get nodes: ${listed.stderr}`);
    return listed.stdout
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean);
}

/** Loads `ref` into every node's containerd with `kind load image-archive`, unless each holds it already. */
function loadImage(cluster: KindCluster, ref: string): void {
    const name = `docker.io/${ref}`;
    const held = (node: string) =>
        cluster.engine.docker(["exec", node, "ctr", "--namespace=k8s.io", "images", "ls", "-q", `name==${name}`]).stdout.trim() === name;
    if (kindNodes(cluster).every(held)) return;
    const scratch = privateDir("kind-traefik-load");
    try {
        const archive = path.join(scratch, "traefik.tar");
        cluster.engine.dockerOk(["save", "-o", archive, ref]);
        const loaded = cluster.kind(["load", "image-archive", archive, "--name", cluster.name]);
        if (loaded.code !== 0) throw new Error(`kind load image-archive ${ref}: exit ${loaded.code}\n${loaded.stdout}${loaded.stderr}`);
    } finally {
        removeDir(scratch);
    }
}

/** Traefik's arguments: the brief's entry points, no calls out of the test, the Kubernetes providers. */
function traefikArgs(allowExternalNameServices: boolean): string[] {
    return [
        "--entryPoints.web.address=:80",
        `--entryPoints.traefik.address=:${PING_PORT}`,
        "--ping=true",
        "--ping.entryPoint=traefik",
        // Nothing outside the test: no release check, no usage data.
        "--global.checkNewVersion=false",
        "--global.sendAnonymousUsage=false",
        "--providers.kubernetesingress=true",
        "--providers.kubernetescrd=true",
        ...(allowExternalNameServices
            ? ["--providers.kubernetesingress.allowExternalNameServices=true", "--providers.kubernetescrd.allowExternalNameServices=true"]
            : []),
        "--log.level=INFO",
        "--log.noColor=true",
    ];
}

/** The namespaced objects: ServiceAccount and Deployment (the namespace is made before them). */
function traefikObjects(image: string, allowExternalNameServices: boolean): object[] {
    const labels = { "app.kubernetes.io/name": APP };
    return [
        { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: APP, namespace: NAMESPACE, labels } },
        {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: APP, namespace: NAMESPACE, labels },
            spec: {
                replicas: 1,
                // The hostPort: a new pod cannot start on the node while the old one holds :80.
                strategy: { type: "Recreate" },
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels },
                    spec: {
                        serviceAccountName: APP,
                        nodeSelector: { "ingress-ready": "true" },
                        tolerations: [
                            { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
                            { key: "node-role.kubernetes.io/master", operator: "Exists", effect: "NoSchedule" },
                        ],
                        terminationGracePeriodSeconds: 5,
                        containers: [
                            {
                                name: APP,
                                image,
                                imagePullPolicy: "Never",
                                args: traefikArgs(allowExternalNameServices),
                                ports: [
                                    { name: "web", containerPort: 80, hostPort: 80, protocol: "TCP" },
                                    { name: "traefik", containerPort: PING_PORT, protocol: "TCP" },
                                ],
                                readinessProbe: {
                                    httpGet: { path: "/ping", port: "traefik" },
                                    periodSeconds: 2,
                                    failureThreshold: 3,
                                },
                            },
                        ],
                    },
                },
            },
        },
    ];
}

/**
 * Runs Traefik in `cluster` as its ingress controller (see the file's header); resolves once its Deployment
 * is rolled out (the pod answers its ping) and the cluster's CoreDNS is, which its ExternalName routes need.
 */
export async function startTraefikInKind(cluster: KindCluster, options: KindTraefikOptions = {}): Promise<KindTraefik> {
    const allowExternalNameServices = options.allowExternalNameServices ?? true;
    const defaultClass = options.defaultClass ?? true;
    const kubectl = (args: readonly string[], input?: string) => cluster.kubectl(args, input);

    const logs = (): string => {
        const selector = `app.kubernetes.io/name=${APP}`;
        const state = kubectl(["get", "pods", "-n", NAMESPACE, "-l", selector, "-o", "wide"]);
        const events = kubectl(["get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp"]);
        const previous = kubectl(["logs", "-n", NAMESPACE, "-l", selector, "--tail=-1", "--prefix", "--previous"]);
        const current = kubectl(["logs", "-n", NAMESPACE, "-l", selector, "--tail=-1", "--prefix"]);
        return [
            `pods:\n${state.stdout}${state.stderr}`,
            `events:\n${events.stdout}${events.stderr}`,
            ...(previous.code === 0 && previous.stdout ? [`previous run's log:\n${previous.stdout}`] : []),
            `log:\n${current.stdout}${current.code === 0 ? "" : current.stderr}`,
        ].join("\n");
    };

    let uninstalled = false;
    /** What `uninstall` deletes, filled as it is made. */
    const made: { crds: string[]; clusterObjects: string[]; namespace: boolean } = { crds: [], clusterObjects: [], namespace: false };
    const uninstall = () => {
        if (uninstalled) return;
        uninstalled = true;
        const problems: string[] = [];
        const remove = (args: readonly string[]) => {
            const r = kubectl(["delete", "--ignore-not-found", "--wait=true", "--timeout=120s", ...args]);
            if (r.code !== 0) problems.push(`kubectl delete ${args.join(" ")}: ${r.stderr}`);
        };
        // The Deployment with its namespace; then what lives outside it.
        if (made.namespace) remove(["namespace", NAMESPACE]);
        if (made.clusterObjects.length > 0) remove(made.clusterObjects);
        if (made.crds.length > 0) remove(made.crds);
        if (problems.length > 0) throw new Error(`Traefik's uninstall left objects behind:\n${problems.join("\n")}`);
    };

    /** Throws with the pods' state and Traefik's log, after deleting what was made. */
    const fail = (what: string, r?: RunResult): never => {
        const diagnostics = logs();
        try {
            uninstall();
        } catch (error) {
            throw new Error(`${what}${r ? `:\n${r.stdout}${r.stderr}` : ""}\n${diagnostics}\n(and: ${(error as Error).message})`);
        }
        throw new Error(`${what}${r ? `:\n${r.stdout}${r.stderr}` : ""}\n${diagnostics}`);
    };
    const ok = (what: string, r: RunResult): string => (r.code === 0 ? r.stdout : fail(what, r));

    const image = traefikImage(cluster, traefikBinary());
    loadImage(cluster, image);

    try {
        made.crds = installTraefikCrds(cluster.kubeconfig);
    } catch (error) {
        fail(`Traefik's CRDs: ${(error as Error).message}`);
    }

    // The IngressClass, and Traefik's reference RBAC bound to its ServiceAccount here.
    const rbac = parseAllDocuments(traefikReferenceFile("kubernetes-crd-rbac.yml")).map((d) => d.toJS());
    for (const binding of rbac.filter((o) => o?.kind === "ClusterRoleBinding"))
        binding.subjects = [{ kind: "ServiceAccount", name: APP, namespace: NAMESPACE }];
    const ingressClass = {
        apiVersion: "networking.k8s.io/v1",
        kind: "IngressClass",
        metadata: {
            name: CLASS,
            ...(defaultClass ? { annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } } : {}),
        },
        spec: { controller: CONTROLLER },
    };
    const clusterWide = [ingressClass, ...rbac.filter(Boolean)];
    const created = ok(
        "the IngressClass and Traefik's RBAC",
        kubectl(["create", "-f", "-", "-o", "name"], JSON.stringify({ apiVersion: "v1", kind: "List", items: clusterWide })),
    );
    made.clusterObjects = created.split("\n").filter(Boolean);

    ok("Traefik's namespace", kubectl(["create", "namespace", NAMESPACE]));
    made.namespace = true;
    ok(
        "Traefik's ServiceAccount and Deployment",
        kubectl(
            ["create", "-f", "-"],
            JSON.stringify({ apiVersion: "v1", kind: "List", items: traefikObjects(image, allowExternalNameServices) }),
        ),
    );
    const rolled = kubectl(["rollout", "status", "-n", NAMESPACE, `deployment/${APP}`, "--timeout=180s"]);
    if (rolled.code !== 0) fail("Traefik's Deployment did not roll out", rolled);
    // An ExternalName route resolves its name through the cluster's DNS at each new connection: until CoreDNS
    // is Ready (a minute or so after `kind create cluster` returns) the lookup is refused or times out, and
    // Traefik answers 502 or not at all.
    const dns = kubectl(["rollout", "status", "-n", "kube-system", "deployment/coredns", "--timeout=180s"]);
    if (dns.code !== 0) fail("the cluster's CoreDNS did not become ready", dns);
    return { namespace: NAMESPACE, className: CLASS, logs, uninstall };
}
