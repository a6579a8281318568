/**
 * The settings of each registry.mode: in the cluster, on an external host over SSH, or an existing
 * registry this program does not run.
 */
import { Affinity } from "kubernetes-models/v1/Affinity";
import { ResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import { Toleration } from "kubernetes-models/v1/Toleration";
import { z } from "zod";
import { DEFAULT_HOST_DIRS, DEFAULT_IN_CLUSTER_NAMESPACE, DEFAULT_KIND_WATCHER_IMAGE, DEFAULT_KUBECTL_IMAGE } from "../../shared/defaults";
import { INGRESS_CONTROLLERS, PROGRAM_POD_ANNOTATIONS } from "../../shared/facts";
import { cidr, hostName, imageRef, k8sName, port, sshConnection } from "./values";

/**
 * An object checked against Kubernetes's own schema for `kind` (the kubernetes-models package, generated
 * from the API's OpenAPI document): what the API server would refuse is refused here, before `up`.
 */
function k8sModel<T>(kind: string, Model: new (data: never) => { validate(): void }) {
    return z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
        try {
            new Model(value as never).validate();
        } catch (error) {
            ctx.addIssue({ code: "custom", message: `is not a valid ${kind}: ${(error as Error).message.replaceAll("data/", "")}` });
        }
    }) as unknown as z.ZodType<T>;
}

/** A container's requests and limits, as Kubernetes writes them (`{requests: {cpu: "100m"}, limits: {memory: "1Gi"}}`). */
export interface PodResources {
    readonly requests?: Readonly<Record<string, string | number>>;
    readonly limits?: Readonly<Record<string, string | number>>;
}

const resources = k8sModel<PodResources>("ResourceRequirements", ResourceRequirements);

/** A label key or annotation key, as Kubernetes checks it: an optional DNS prefix and "/", then a name of at most 63 characters. */
const QUALIFIED_KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

/** A map of Kubernetes keys (labels, annotations) to strings, each key checked with a message that says what a key may be. */
const keyedStrings = z.record(z.string(), z.string()).superRefine((value, ctx) => {
    for (const key of Object.keys(value)) {
        if (!QUALIFIED_KEY.test(key)) {
            ctx.addIssue({
                code: "custom",
                path: [key],
                message: 'is not a Kubernetes key: an optional DNS prefix and "/", then letters, digits, ".", "_" and "-"',
            });
        }
    }
});

/** Key `inCluster.pod`: where and how the registry's pods run. */
const pod = z.strictObject({
    resources: z
        .strictObject({
            registry: resources.optional().describe("Distribution's container; unset: requests 100m CPU and 128Mi, limits 2 CPUs and 1Gi."),
            front: resources.optional().describe("The Caddy front's container; unset: requests 50m CPU and 64Mi, limits 2 CPUs and 512Mi."),
            maven: resources
                .optional()
                .describe(
                    "The Maven repository's nginx container, where the pod serves Maven; unset: requests 10m CPU and 16Mi, limits 1 CPU and 128Mi.",
                ),
            cache: resources
                .optional()
                .describe(
                    "Each pull-through cache's container (registry.mirrors); unset: requests 50m CPU and 64Mi, limits 1 CPU and 512Mi.",
                ),
            ui: resources
                .optional()
                .describe("The web UI's container (registry.ui); unset: requests 10m CPU and 32Mi, limits 500m CPU and 128Mi."),
            jobs: resources
                .optional()
                .describe(
                    "The containers of the garbage-collection and backup jobs (kubectl; unset: requests 20m CPU and 64Mi, limits 500m CPU and 256Mi) and of the restore job (restic; unset: requests 100m CPU and 64Mi, limits 2 CPUs and 1Gi).",
                ),
        })
        .prefault({})
        .describe("Requests and limits of each container the placement runs, checked against Kubernetes's ResourceRequirements."),
    nodeSelector: keyedStrings
        .default({})
        .describe("Node labels every pod of the placement must land on: the registry's, the caches', the UI's and the jobs'."),
    tolerations: z
        .array(k8sModel<Readonly<Record<string, unknown>>>("Toleration", Toleration))
        .default([])
        .describe(
            "Taints every pod of the placement tolerates (Kubernetes Toleration objects: the registry's, the caches', the UI's, the jobs'), e.g. nodes kept for infrastructure.",
        ),
    affinity: k8sModel<Readonly<Record<string, unknown>>>("Affinity", Affinity)
        .optional()
        .describe("Node and pod (anti-)affinity of the registry's pods (a Kubernetes Affinity object)."),
    priorityClassName: k8sName
        .optional()
        .describe(
            "PriorityClass of every pod of the placement (it must exist in the cluster), e.g. to keep them when a node is short of memory.",
        ),
    annotations: keyedStrings
        .default({})
        .superRefine((value, ctx) => {
            for (const key of Object.keys(value)) {
                if (PROGRAM_POD_ANNOTATIONS.some((prefix) => key.startsWith(prefix))) {
                    ctx.addIssue({
                        code: "custom",
                        path: [key],
                        message: "is set by the program (config checksum, metrics scraping): choose another key",
                    });
                }
            }
        })
        .describe("Annotations of the registry's pods (a service mesh's, a backup tool's); the program's own keys are refused."),
});

/** Key `inCluster`: settings of registry.mode "in-cluster". */
export const inCluster = z.strictObject({
    namespace: k8sName
        .default(DEFAULT_IN_CLUSTER_NAMESPACE)
        .describe("Namespace of the in-cluster registry; it enforces the restricted Pod Security level."),
    ingressClass: z
        .string()
        .min(1)
        .optional()
        .describe(
            'IngressClass of the registry\'s Ingresses. Unset: the cluster\'s default IngressClass (the one annotated ingressclass.kubernetes.io/is-default-class "true"), which Kubernetes gives an Ingress when it is created; `preview` and `up` stop when the cluster has none or several, listing its classes. k3s\'s Traefik registers "traefik" (its default); microk8s\'s ingress addon "public" (its default) and "nginx", served by Traefik since microk8s 1.35 (which adds "traefik") and by ingress-nginx before. "nginx" is taken for ingress-nginx, retired upstream in March 2026: a warning says so.',
        ),
    ingressController: z
        .enum(INGRESS_CONTROLLERS)
        .optional()
        .describe(
            'The controller behind ingressClass (or behind the cluster\'s default class when ingressClass is unset), when the class name does not say: "nginx" (ingress-nginx; known classes "nginx", "public") or "traefik" (Traefik v3; known class "traefik"). It decides the Ingress annotations and how registry.allowedNetworks is enforced; with inCluster.exposure "gateway", "traefik" puts the rate limit of Traefik on the token route.',
        ),
    exposure: z
        .enum(["ingress", "gateway"])
        .default("ingress")
        .describe(
            'How clients outside the cluster reach the registry: "ingress" (an Ingress of inCluster.ingressClass) or "gateway" (a Gateway API HTTPRoute on the Gateway of inCluster.gateway; docs/in-cluster.md, Gateway API).',
        ),
    gateway: z
        .strictObject({
            name: k8sName.default("registry").describe('The Gateway the registry\'s HTTPRoute attaches to (inCluster.exposure "gateway").'),
            namespace: k8sName
                .optional()
                .describe(
                    "Namespace of that Gateway; the registry's namespace when unset. For a Gateway in another namespace the program writes a ReferenceGrant, so the Gateway's listener may name the certificate Secret registry-tls.",
                ),
            sectionName: z
                .string()
                .min(1)
                .optional()
                .describe("The Gateway's listener the HTTPRoute attaches to; every listener that allows it when unset."),
            className: k8sName
                .optional()
                .describe(
                    "GatewayClass of a Gateway the stack creates (in the registry's namespace, named inCluster.gateway.name), with one HTTPS listener for containerRegistry.host and the registry's certificate; unset: the Gateway is the operator's. Traefik's class is \"traefik\".",
                ),
            port: port
                .default(443)
                .describe(
                    "Port of the created Gateway's HTTPS listener: the controller's entry point for it (443 for most; Traefik's Helm chart and k3s use 8443, its websecure entry point).",
                ),
            proxyNetworks: z
                .array(cidr)
                .default([])
                .describe(
                    "Addresses the Gateway's controller connects to the registry's pods from (its pods' or nodes' network). With registry.allowedNetworks the pod's Caddy enforces the allowlist itself and believes the X-Forwarded-For header only from these; required then.",
                ),
        })
        .prefault({})
        .describe('The Gateway API exposure (inCluster.exposure "gateway").'),
    publishLocalRegistryHosting: z
        .boolean()
        .default(true)
        .describe("Publish the KEP-1755 `local-registry-hosting` ConfigMap in kube-public."),
    clusterDns: z
        .strictObject({
            flavour: z
                .enum(["none", "microk8s", "k3s"])
                .default("none")
                .describe(
                    'How pods resolve the registry\'s host name to its TLS Service: "microk8s" (a marked server block in the Corefile of ConfigMap kube-system/coredns, put in and taken out with kubectl), "k3s" (key dso-registry.server of ConfigMap kube-system/coredns-custom), or "none" (pods do not resolve it).',
                ),
            kubectlContext: z
                .string()
                .min(1)
                .optional()
                .describe(
                    "kubectl context the \"microk8s\" commands use; when unset, the stack's kubernetes:context (the cluster Pulumi deploys to), and kubectl's current context only when that is unset too (as the Kubernetes provider does).",
                ),
        })
        .prefault({})
        .describe("The registry's host name inside pods, through the cluster's CoreDNS (docs/in-cluster.md, Cluster DNS)."),
    networkPolicy: z
        .strictObject({
            enabled: z
                .boolean()
                .default(false)
                .describe(
                    "Create NetworkPolicy registry in the registry's namespace: only the pods and networks below reach the registry's pods (docs/in-cluster.md, The registry's NetworkPolicy). Off by default: pods of other namespaces that reach the registry directly (CI agents, Flux, pods resolving its name through inCluster.clusterDns) are refused until their namespace is listed in clientNamespaces. It takes effect only where the cluster's network plugin enforces NetworkPolicy.",
                ),
            ingressNamespaces: z
                .array(k8sName)
                .min(1)
                .optional()
                .describe(
                    "Namespaces of the ingress controller's (or the Gateway's) pods, admitted to the registry's HTTP and TLS ports. Unset: the known controller's usual ones (inCluster.ingressController or the class): \"traefik\" kube-system, traefik and ingress (k3s, Traefik's chart, microk8s); \"nginx\" ingress-nginx and ingress (ingress-nginx's manifests, microk8s). Required with another controller.",
                ),
            clientNamespaces: z
                .array(k8sName)
                .default([])
                .describe(
                    "Namespaces whose pods reach the registry directly, not through the ingress (CI agents pushing in the cluster, Flux's source-controller): admitted to its HTTP and TLS ports. The registry's own namespace is always admitted.",
                ),
            nodeNetworks: z
                .array(cidr)
                .default([])
                .describe(
                    "The nodes' networks, admitted to the registry's HTTP and TLS ports: for a controller on the host network, or a node's pulls through the registry's Service where the network plugin applies NetworkPolicy to the node's own traffic.",
                ),
            monitoringNamespaces: z
                .array(k8sName)
                .default(["monitoring"])
                .describe(
                    "Namespaces of the Prometheus that scrapes the registry's pods (registry.monitoring): admitted to their metrics ports.",
                ),
            egressNetworks: z
                .array(cidr)
                .optional()
                .describe(
                    "Networks the registry's pods may connect to besides DNS and their own namespace: the object store's (registry.storage s3, backups to s3). Unset: with an object store the pods' connections out are not restricted (its host name's addresses are not known here); without one, they are restricted to DNS and the namespace.",
                ),
        })
        .prefault({})
        .describe("The NetworkPolicy of the registry's pods (docs/in-cluster.md, The registry's NetworkPolicy)."),
    kubectlImage: imageRef
        .default(DEFAULT_KUBECTL_IMAGE)
        .describe(
            "Image of the garbage-collection and backup jobs (registry.maintenance), which drive the registry with kubectl: it needs kubectl within one minor version of the cluster's and a POSIX shell with mktemp, grep, sort, sleep and date (docs/in-cluster.md, The upkeep jobs' image). Pin it by digest in production.",
        ),
    pod: pod
        .prefault({})
        .describe(
            "Where and how the placement's pods run: each container's requests and limits; nodeSelector, tolerations and priorityClassName for every pod (registry, caches, UI, jobs); affinity and annotations for the registry's (docs/in-cluster.md, The registry's pods).",
        ),
});

/** Key `externalHost`: settings of registry.mode "external-host". */
export const externalHost = z.strictObject({
    ssh: z.strictObject(sshConnection).describe("SSH connection to the registry host; the key is the secret `sshPrivateKey`."),
    dataDir: z
        .string()
        .startsWith("/", { error: "must be an absolute path" })
        .default(DEFAULT_HOST_DIRS.data)
        .describe("Registry data directory on the host."),
    mavenDataDir: z
        .string()
        .startsWith("/", { error: "must be an absolute path" })
        .default(DEFAULT_HOST_DIRS.maven)
        .describe("The Maven repository's files on the host, when the host serves it (mavenRegistry.host is containerRegistry.host)."),
    purgeDataOnDestroy: z
        .boolean()
        .default(false)
        .describe(
            "Delete the registry data (and the Maven files) on `pulumi destroy`. Off: they survive a destroy. The last `pulumi up` decides (it writes the decision on the host): change it, `pulumi up`, then destroy.",
        ),
    installPackages: z
        .boolean()
        .default(true)
        .describe(
            "Install Docker, cron and curl from the distribution's packages when missing (Podman stands for Docker where the host has it); otherwise only check.",
        ),
});

/** Key `existing`: settings of registry.mode "existing". */
export const existing = z.strictObject({
    caCertificate: z
        .string()
        .includes("BEGIN CERTIFICATE", { error: "must be a PEM certificate" })
        .optional()
        .describe("CA certificate (PEM) that signs the existing registry's certificate, when it is not public."),
});

/** Key `kind`: settings of registry.mode "kind" (docs/kind.md). */
export const kind = z.strictObject({
    ssh: z
        .strictObject(sshConnection)
        .optional()
        .describe(
            "SSH connection to the machine whose Docker runs the kind cluster; the key is the secret `sshPrivateKey`. Unset: the Docker of the machine Pulumi runs on.",
        ),
    clusterName: k8sName
        .optional()
        .describe(
            'Name of the kind cluster (`kind create cluster --name`): its node containers carry the label io.x-k8s.kind.cluster=<name>. Unset: "kind", unless kind.clusterNames lists the clusters (the two together are refused).',
        ),
    clusterNames: z
        .array(k8sName)
        .min(1)
        .optional()
        .describe(
            "Several kind clusters of the same Docker host that share the registry (docs/kind.md#several-clusters): every node of each trusts and resolves it, and each gets the KEP-1755 ConfigMap through the kubeconfig context kind-<name>. A cluster taken off the list is cleaned on the next `pulumi up`. Replaces kind.clusterName.",
        ),
    network: k8sName.default("kind").describe("Docker network of the kind nodes; the registry joins it under containerName."),
    containerName: hostName
        .default("kind-registry")
        .describe(
            "Name of the registry's front container on the kind network: the nodes (and pods, through the nodes) reach the registry as <containerName>:<hostPort>.",
        ),
    hostPort: port
        .default(5002)
        .describe(
            "Port of the registry on 127.0.0.1 of the Docker host and on the kind network; image references are localhost:<hostPort>/… on the host and in the nodes. containerRegistry.port must equal it.",
        ),
    dataDir: z
        .string()
        .startsWith("/", { error: "must be an absolute path" })
        .optional()
        .describe(
            "Directory on the Docker host: the images (images/) and the front's files (front/). A directory of the registry's own: marked (.dso-registry) on the first `up`, which refuses, before writing anything, one that holds files of someone else's. It outlives the cluster and the containers; `pulumi destroy` keeps the images (docs/kind.md). Unset: ~/.local/share/dso-registry-kind of Pulumi's user when Docker is local (no sudo; a /var/lib/dso-registry-kind that already holds images/ is kept), /var/lib/dso-registry-kind over kind.ssh (the steps run as root there).",
        ),
    ui: z
        .strictObject({
            servedBy: z
                .enum(["ingress", "front"])
                .default("ingress")
                .describe(
                    'Who serves the web UI (registry.ui.enabled): "ingress", the UI a Deployment in the cluster (kind.ui.namespace) behind the cluster\'s ingress controller, which serves /registry/ from it and /v2/ from the registry\'s front through a Service of type ExternalName, one origin at http://<kind.ui.host>:<kind.ui.port>/registry/ (the controller must be installed and allow ExternalName Services; docs/kind.md#the-web-ui); "front", a container beside the registry\'s that the front serves at http://localhost:<kind.hostPort>/registry/, for clusters without an ingress controller.',
                ),
            host: hostName
                .default("localhost")
                .describe("With servedBy \"ingress\": the host name the browser opens the UI at (the Ingress's host, the UI's origin)."),
            port: port
                .default(8080)
                .describe(
                    "With servedBy \"ingress\": the port on the Docker host where the cluster's ingress answers (kind's extraPortMappings of the node the controller runs on; docs/examples/kind-cluster.yaml maps 8080).",
                ),
            namespace: k8sName
                .default("hostk8s")
                .describe('With servedBy "ingress": the namespace of the UI\'s Deployment, Services and Ingress.'),
            createNamespace: z
                .boolean()
                .default(true)
                .describe(
                    'With servedBy "ingress": create kind.ui.namespace (and delete it on destroy). false: the namespace is yours and must exist; the stack writes its objects into it and leaves it on destroy.',
                ),
            ingressClass: k8sName
                .optional()
                .describe(
                    "With servedBy \"ingress\": the IngressClass of the UI's Ingress; unset, the cluster's default class. preview and up stop before any change when the cluster lacks it.",
                ),
        })
        .prefault({})
        .describe("Where the web UI runs and how the browser reaches it (registry.ui.enabled; docs/kind.md#the-web-ui)."),
    watcherImage: imageRef
        .default(DEFAULT_KIND_WATCHER_IMAGE)
        .describe(
            "Image with a shell and the docker CLI for the node watcher, the container that configures each node of the cluster when it starts (a cluster deleted and created again without `pulumi up`). Pin by digest for production.",
        ),
});
