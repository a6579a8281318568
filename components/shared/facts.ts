/**
 * Facts that more than one feature relies on: names, labels, paths and ports of the registry, the
 * address clients write in image references, and value patterns. Each is written here once; a
 * feature that needs one imports it instead of writing it again.
 */

/** The Pulumi project, the config namespace and the name every managed object carries. */
export const PROJECT = "dso-registry";

/**
 * Annotation prefixes the program writes on the registry's pods (its config checksum, Prometheus's
 * scrape annotations): an operator's `inCluster.pod.annotations` may not use them.
 */
export const PROGRAM_POD_ANNOTATIONS = ["dso-registry/", "prometheus.io/"] as const;

/** Labels every Kubernetes object of the program carries. */
export const PART_OF_LABELS = { "app.kubernetes.io/part-of": PROJECT } as const;

/** Labels of objects Pulumi manages outright (no controller of ours runs them). */
export const MANAGED_LABELS = { "app.kubernetes.io/managed-by": "pulumi", ...PART_OF_LABELS } as const;

/** Distribution, the same in every placement. */
export const DISTRIBUTION = {
    /** The port Distribution listens on inside its container (the registry:2 image's default). */
    containerPort: 5000,
    /** Filesystem storage root inside the container (the registry:2 image's volume). */
    dataDir: "/var/lib/registry",
    /** Directory of the program's config files inside the container (and on the external host). */
    configDir: "/etc/dso-registry",
    /**
     * Directory of the unix socket the external host's registry listens on, inside its container and
     * on the host (bind-mounted): the front reaches it there, nothing else can.
     */
    socketDir: "/run/dso-registry",
    /** The socket's file name in `socketDir`. */
    socketName: "registry.sock",
    /**
     * Environment every Distribution container gets. Distribution 3 exports OpenTelemetry traces to
     * localhost:4318 unless told otherwise, and logs an error for each batch it cannot send; 2.x
     * ignores the variable, so the same environment serves both (docs/registry-3.md).
     */
    environment: { OTEL_TRACES_EXPORTER: "none" },
} as const;

/**
 * `DISTRIBUTION.environment` as the scripts that run Distribution's containers take it: `NAME=value`
 * words separated by spaces (`docker run -e` each; the values hold no space).
 */
export const DISTRIBUTION_ENV_WORDS = Object.entries(DISTRIBUTION.environment)
    .map(([name, value]) => `${name}=${value}`)
    .join(" ");

/** `DISTRIBUTION.environment` as a Kubernetes container's `env`. */
export const DISTRIBUTION_ENV_VARS = Object.entries(DISTRIBUTION.environment).map(([name, value]) => ({ name, value }));

/**
 * The metrics listeners (docs/monitoring.md): each on the host's loopback, or in the pod, never behind
 * a Service or the front. Distribution's is its `http.debug` listener (inside its container, published
 * on the host's loopback under the same number); Caddy's is a listener of its own that serves only
 * /metrics; node_exporter's (external host only) is Debian's default port, moved to loopback.
 */
export const METRICS_PORTS = { distribution: 5091, caddy: 5092, nodeExporter: 9100 } as const;

/**
 * Hours after which Distribution 2.x drops a pull-through cache's content: fixed in 2.x (its `proxy`
 * section has no `ttl`, and the key is ignored there), configurable with `proxy.ttl` from 3.0.
 */
export const DISTRIBUTION_2_PROXY_TTL_HOURS = 168;

/** Whether an image reference names Distribution 3 by its tag ("registry:3", "…/distribution:3.0.0"), which reads `proxy.ttl`. */
export function isDistribution3Image(image: string): boolean {
    return /:3(?:[.-][^/:@]*)?(?:@sha256:[0-9a-f]{64})?$/.test(image);
}

/** Seconds of a duration such as "168h", "90m", "30s", or undefined when it is not one. */
export function durationSeconds(duration: string): number | undefined {
    const match = /^(\d+)([smh])$/.exec(duration);
    if (!match) return undefined;
    return Number(match[1]) * { s: 1, m: 60, h: 3600 }[match[2] as "s" | "m" | "h"];
}

/** Tag a first deploy names before CI has pushed anything (the pod waits in ImagePullBackOff until then). */
export const PLACEHOLDER_TAG = "does-not-exist";

/**
 * Container runtime flavours node trust knows how to configure. "crio" is CRI-O, and any host whose
 * images go through containers/image (podman, skopeo, buildah): /etc/containers/certs.d and
 * registries.conf.d.
 */
export const RUNTIME_FLAVOURS = ["microk8s", "containerd", "k3s", "rke2", "kind", "docker", "crio"] as const;
export type RuntimeFlavour = (typeof RUNTIME_FLAVOURS)[number];

/**
 * Runtime flavours whose nodes can hold registry credentials themselves, so that every pod on them
 * pulls without an imagePullSecret: k3s and RKE2 read `configs.<host>.auth` from registries.yaml;
 * containerd (also microk8s's and kind's) sends hosts.toml's `header` table (an `Authorization: Basic`
 * header) with every request to the registry. The Docker engine has nothing kubelet's pulls use, so
 * pods on docker nodes pull with the pull secrets of `pullSecrets.namespaces`. The config rules refuse
 * reads that need credentials when some node gets none this way and no namespace gets a pull secret.
 */
export const NODE_HELD_CREDENTIAL_FLAVOURS: ReadonlySet<RuntimeFlavour> = new Set<RuntimeFlavour>([
    "k3s",
    "rke2",
    "containerd",
    "microk8s",
    "kind",
]);

/** Whether a runtime flavour reads registries.yaml only when it starts (k3s and RKE2), so a change takes a restart. */
export function restartsOnRegistriesChange(flavour: RuntimeFlavour): flavour is "k3s" | "rke2" {
    return flavour === "k3s" || flavour === "rke2";
}

/** Ingress controllers whose client-network allowlist the in-cluster registry knows how to set. */
export const INGRESS_CONTROLLERS = ["nginx", "traefik"] as const;
export type IngressController = (typeof INGRESS_CONTROLLERS)[number];

/**
 * The controller behind the IngressClass names their installers register: ingress-nginx ("nginx";
 * microk8s's addon also registers "public") and Traefik (k3s's default, "traefik").
 */
export const INGRESS_CONTROLLER_OF_CLASS: Readonly<Record<string, IngressController>> = {
    nginx: "nginx",
    public: "nginx",
    traefik: "traefik",
};

/**
 * Where each controller's pods run in the common installs, admitted when `inCluster.networkPolicy.ingressNamespaces`
 * is unset: k3s runs Traefik in kube-system and Traefik's Helm chart is installed in its own namespace; ingress-nginx's
 * manifests use ingress-nginx; microk8s's ingress addon (ingress-nginx before 1.35, Traefik since) runs in ingress.
 */
export const INGRESS_CONTROLLER_NAMESPACES: Readonly<Record<IngressController, readonly string[]>> = {
    nginx: ["ingress", "ingress-nginx"],
    traefik: ["ingress", "kube-system", "traefik"],
};

/** The ingress namespaces: the operator's list, else the known controller's, else none (the config rules refuse that). */
export function ingressNamespacesOf(
    settings: { readonly ingressNamespaces?: readonly string[] },
    controller: IngressController | undefined,
): readonly string[] {
    return settings.ingressNamespaces ?? (controller ? INGRESS_CONTROLLER_NAMESPACES[controller] : []);
}

/** `host`, or `host:port` when the port is not 443: the registry as image references and logins name it. */
export function registryAuthority(host: string, port: number): string {
    return port === 443 ? host : `${host}:${port}`;
}

/** `authority/pathPrefix`, the prefix every image name starts with (the authority alone when the prefix is ""). */
export function imagePrefix(authority: string, pathPrefix: string): string {
    return pathPrefix ? `${authority}/${pathPrefix}` : authority;
}

/** Whether privileged steps on a machine run with `sudo -n`: as asked, else whenever the user is not root. */
export function needsSudo(user: string, sudo: boolean | undefined): boolean {
    return sudo ?? user !== "root";
}

/** A dotted-quad IPv4 address. */
export const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** An account name htpasswd, Caddy and Jenkins all accept (no ":" and no spaces). */
export const ACCOUNT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * The image of the in-cluster backup container and restore job: restic's own (Alpine-based, so it
 * has a POSIX sh), pinned by release tag; `registry.maintenance.backup.image` overrides it (pin it by
 * digest in production). The scripts use only what restic has offered since 0.14 (Debian bookworm's
 * restic, which the tests run): backup --host --tag --parent --exclude, forget --keep-last --prune,
 * restore --include --target, snapshots, init, cat config.
 */
export const DEFAULT_RESTIC_IMAGE = "restic/restic:0.20.0";

/** Flux's namespace, where `pullSecrets.flux` writes Secret `registry-credentials`. */
export const FLUX_NAMESPACE = "flux-system";

/**
 * Who may delete, decided once by the stack (`decide`) and given to every placement the same way:
 * `api`, push accounts may DELETE through the front and Distribution's delete is on (garbage
 * collection needs deletable manifests, so does the UI's button); `ui`, the web UI offers its delete
 * button (only where the UI runs and `api` holds). Every component takes it as `deletes`; the renderers
 * below them (the access policy, Distribution's config.yml, a front's policy) take `deletes.api` as their
 * own `deletesEnabled` flag, the one setting each of them renders.
 */
export interface RegistryDeletes {
    readonly api: boolean;
    readonly ui: boolean;
}

/** The one listener of the Gateway the stack creates (`inCluster.gateway.className`): an HTTPRoute's sectionName must name it. */
export const CREATED_GATEWAY_LISTENER = "https";
