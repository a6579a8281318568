/**
 * Advice about combinations that work with a known limit: told, not refused.
 */
import { DISTRIBUTION_2_PROXY_TTL_HOURS, durationSeconds, isDistribution3Image } from "../shared/facts";
import { mavenServedByRegistry, mirrorsNeedAccount, trustedNodes } from "./derived";
import { isMode, type ModeConfig } from "./modeShapes";
import { type ConfigProblem, keyPath } from "./problems";
import { registry } from "./schema/registry";
import { ingressControllerOf } from "./settings";

/**
 * Docker nodes, anonymous reads and a registry that is not ours. The front of our own registries answers
 * the ping with a Bearer challenge, which docker's classic image store follows anonymously
 * (docs/access-policy.md, verified with a real engine); an existing registry's answer is unknown here.
 */
const DOCKER_CLASSIC_STORE_ADVICE =
    'is "docker" with registry.mode "existing": the Docker engine\'s classic image store gives up on an anonymous pull ' +
    'when a registry answers its ping (GET /v2/) with a Basic challenge ("no basic auth credentials"); it follows a Bearer ' +
    "challenge, as the registries this program runs answer. Check on a node that never ran `docker login`: " +
    "`docker pull <an image of the registry>`; if it fails, set containerRegistry.requiresAuthForPull: true with pull secrets " +
    "(pullSecrets.namespaces), or switch the engine to its containerd image store";

/**
 * cert-manager with an issuer of the operator's, without its CA: the program cannot read the CA from
 * that issuer, so nodes and agents get none. Right for a publicly trusted issuer, wrong for a private one; only the operator knows.
 */
const certManagerCaAdvice = (namespace: string) =>
    'is not set with registry.tls.mode "cert-manager", so the nodes (node trust) and CI agents (ConfigMap dso-registry-ca) ' +
    "get no CA. That is right only when the issuer's certificates are publicly trusted (for example Let's Encrypt); with a " +
    'private issuer (CA, self-signed, Vault) pulls and pushes fail with "x509: certificate signed by unknown authority". ' +
    "Give the program the issuer's CA once the certificate is issued: " +
    `kubectl -n ${namespace} get secret registry-tls -o jsonpath='{.data.ca\\.crt}' | base64 -d > issuer-ca.crt && ` +
    `pulumi config set --path 'dso-registry:registry.tls.certManagerCaCertificate' "$(cat issuer-ca.crt)"`;

/**
 * The in-cluster allowlist is the ingress controller's (the sidecar sees only the controller's address
 * on that path), so it holds for requests through the Ingress only. Pods reach the registry without
 * the Ingress: through Service `registry-tls` (where the cluster DNS sends the registry's name) and
 * Service `registry`. The stack's NetworkPolicy (`inCluster.networkPolicy`) limits those paths to the
 * namespaces it admits; without it, the advice is to turn it on.
 */
const inClusterAllowlistAdvice = (namespace: string, gateway: boolean, networkPolicy: boolean) =>
    (gateway
        ? "holds for requests through the Gateway's route and to Service registry (the registry's Caddy enforces it on the client the Gateway's controller names). Pods inside the cluster reach the registry " +
          `through Service registry-tls in namespace ${namespace} without passing it (the cluster DNS sends the registry's `
        : "holds for requests through the Ingress only (the ingress controller enforces it). Pods inside the cluster reach the registry " +
          `through Services registry-tls and registry in namespace ${namespace} without passing it (the cluster DNS sends the registry's `) +
    "name to registry-tls); the access policy (push credentials, requiresAuthForPull) still applies there. " +
    (networkPolicy
        ? `The stack's NetworkPolicy in ${namespace} (inCluster.networkPolicy) admits on those paths only the controller's namespaces, ` +
          "the registry's own and inCluster.networkPolicy.clientNamespaces, where the cluster's network plugin enforces NetworkPolicy"
        : `To limit those paths too, set inCluster.networkPolicy.enabled true: a NetworkPolicy in ${namespace} that admits the controller's ` +
          "pods, the registry's own namespace and the namespaces you list in inCluster.networkPolicy.clientNamespaces " +
          "(docs/in-cluster.md, The registry's NetworkPolicy)");

/**
 * `maxAge` values that Distribution 2.x (a stack that pins a registry:2 image) cannot honour. It drops a cache's content
 * 168h after it was fetched and reads no `proxy.ttl`: on the external host the prune job removes
 * older content for shorter ages, so only longer ones are cut short; in the cluster nothing does,
 * so any other age is.
 */
function mirrorAgeWarnings(c: ModeConfig): ConfigProblem[] {
    if (c.registry.mode === "existing" || isDistribution3Image(c.registry.image)) return [];
    const image = `registry.image "${c.registry.image}"`;
    return c.registry.mirrors.flatMap((m, i) => {
        const seconds = durationSeconds(m.maxAge);
        if (seconds === undefined) return [];
        const hours = seconds / 3600;
        const key = keyPath(["registry", "mirrors", i, "maxAge"]);
        const fix = `or set registry.image to a Distribution 3 image (the default, "${registry.shape.image.parse(undefined)}"), which reads it`;
        if (c.registry.mode === "external-host" && hours > DISTRIBUTION_2_PROXY_TTL_HOURS) {
            return [
                {
                    key,
                    message: `"${m.maxAge}" has no effect with Distribution 2 (${image}) beyond ${DISTRIBUTION_2_PROXY_TTL_HOURS}h: it drops cached content ${DISTRIBUTION_2_PROXY_TTL_HOURS}h after it was fetched whatever maxAge says; set ${DISTRIBUTION_2_PROXY_TTL_HOURS}h or less, ${fix}`,
                },
            ];
        }
        if ((c.registry.mode === "in-cluster" || c.registry.mode === "kind") && hours !== DISTRIBUTION_2_PROXY_TTL_HOURS) {
            return [
                {
                    key,
                    message: `has no effect with registry.mode "${c.registry.mode}" and Distribution 2 (${image}), which drops cached content ${DISTRIBUTION_2_PROXY_TTL_HOURS}h after it was fetched whatever maxAge says (only the external host's prune job removes older content); remove it, ${fix}`,
                },
            ];
        }
        return [];
    });
}

/** Warm lists the kind placement does not run: its caches are containers of its own, warmed by nobody. */
function kindWarmWarnings(c: ModeConfig): ConfigProblem[] {
    if (c.registry.mode !== "kind") return [];
    return c.registry.mirrors.flatMap((m, i) =>
        m.warm
            ? [
                  {
                      key: keyPath(["registry", "mirrors", i, "warm"]),
                      message:
                          'has no effect with registry.mode "kind": its caches are not warmed ahead of need (only in-cluster and external-host run warm lists); remove it, or pull the images through the cache once by hand',
                  },
              ]
            : [],
    );
}

/**
 * Caches no node is pointed at. Node trust writes a cache's entry (hosts.toml; registries.yaml for k3s
 * and RKE2; a registries.conf drop-in for CRI-O) for every runtime but the Docker engine, which has no
 * per-upstream mirror setting, and for no node at all with delivery "none" (components/nodeTrust/files.ts).
 * The caches still run and take disk; an image named through one (`<registry>/mirrors/<upstream>/…`)
 * still pulls, so this warns.
 */
function unusedMirrorWarnings(c: ModeConfig): ConfigProblem[] {
    // The kind placement points its own nodes at the caches (docs/kind.md), whatever nodes.delivery says.
    if (c.registry.mirrors.length === 0 || c.registry.mode === "existing" || c.registry.mode === "kind") return [];
    const key = keyPath(["registry", "mirrors"]);
    const direct = `only an image named through a cache (${c.containerRegistry.host}/mirrors/<upstream>/<repository>) uses one`;
    const pointAt =
        'a runtime node trust points at the caches (containerd, microk8s, kind, k3s or rke2; crio where the caches need no account: docs/mirrors.md, "Nodes")';
    if (c.nodes.delivery === "none") {
        return [
            {
                key,
                message:
                    `runs a pull-through cache per upstream, but nodes.delivery is "none", so no node is pointed at them: the caches run ` +
                    `and take disk while the nodes pull from the upstreams directly (${direct}). Set nodes.delivery to "daemonset" or ` +
                    `"ssh" with ${pointAt}, write those entries on the nodes yourself, or remove registry.mirrors`,
            },
        ];
    }
    const nodes = trustedNodes(c.nodes);
    const docker = nodes.filter((n) => n.runtime === "docker");
    if (docker.length === 0) return [];
    const engine = "the Docker engine has no per-upstream mirror setting (only registry-mirrors in daemon.json, for Docker Hub alone)";
    if (docker.length === nodes.length) {
        return [
            {
                key,
                message:
                    `runs a pull-through cache per upstream, but every node's runtime is "docker" and ${engine}, so no node is pointed ` +
                    `at them: the caches run and take disk while the nodes pull from the upstreams directly (${direct}). Move the nodes ` +
                    `to ${pointAt}, or remove registry.mirrors`,
            },
        ];
    }
    const names = docker.map((n) => n.name).join(", ");
    return [
        {
            key,
            message:
                `is not used by the nodes of runtime "docker" (${names}): ${engine}, so they pull from the upstreams directly. ` +
                `Move them to ${pointAt}, or accept that only the other nodes use the caches`,
        },
    ];
}

/**
 * CRI-O nodes and caches that only accounts may pull through: node trust points CRI-O at the caches
 * but gives it no account (components/nodeTrust/files.ts), so the caches refuse its pulls and
 * containers/image falls back to each upstream.
 */
function crioMirrorWarnings(c: ModeConfig): ConfigProblem[] {
    if (c.nodes.delivery === "none" || !mirrorsNeedAccount(c)) return [];
    const crio = trustedNodes(c.nodes).filter((n) => n.runtime === "crio");
    if (crio.length === 0) return [];
    const names = crio.flatMap((n) => (n.name ? [n.name] : []));
    return [
        {
            key: keyPath(["registry", "mirrors"]),
            message:
                `runs caches that only accounts may pull through (registry.mirrorPull "accounts", the default without ` +
                `registry.allowedNetworks), and nodes of runtime "crio"${names.length ? ` (${names.join(", ")})` : ""} hold no account: ` +
                "the caches refuse their pulls, and they pull from the upstreams directly. Set registry.mirrorPull to " +
                '"allowlist" with the nodes\' networks in registry.allowedNetworks, or accept that only the other nodes use the caches',
        },
    ];
}

/**
 * The external host's backup with images in a bucket. Unlike the in-cluster backup (refused in
 * rules.ts: it copies volumes only, and the images are not on one), it still holds what a rebuilt host
 * needs (backedUpPaths in components/externalHost/backupScripts.ts), so it warns instead.
 */
function bucketBackupWarnings(c: ModeConfig): ConfigProblem[] {
    if (!isMode(c, "external-host") || !c.registry.maintenance.backup.enabled || c.registry.storage.kind !== "s3") return [];
    const maven = mavenServedByRegistry(c) ? ", and the Maven repository's files" : "";
    return [
        {
            key: keyPath(["registry", "maintenance", "backup", "enabled"]),
            message:
                `is true with registry.storage.kind "s3": the nightly backup holds the host's own files (the registry's configs with ` +
                `storage.env, Caddy's Caddyfile, users and TLS files, its certificates and ACME account${maven}) and no images, ` +
                `which are in bucket "${c.registry.storage.s3?.bucket ?? "<bucket>"}", yet every run still opens its read-only window ` +
                `(pushes refused for seconds). Protect the images with the bucket's own versioning or replication (or copy it elsewhere with ` +
                "`mc mirror` or `aws s3 sync`), and keep this backup for the host's files or set it to false (docs/external-host.md, Backups)",
        },
    ];
}

/**
 * The kaniko agent template, rendered only for a stack that names kaniko's image: kaniko was archived
 * upstream in June 2025, so the template still works but its image gets no more fixes.
 */
function kanikoWarnings(c: ModeConfig): ConfigProblem[] {
    if (!c.jenkins.enabled || c.jenkins.agentImages.kaniko === undefined) return [];
    return [
        {
            key: keyPath(["jenkins", "agentImages", "kaniko"]),
            message:
                "adds the kaniko agent template, but kaniko was archived upstream in June 2025: its executor gets no more fixes, security ones included. " +
                "Build with the buildah or docker-in-docker template instead (docs/ci-agents.md), and remove this key when no pipeline uses kaniko.yaml",
        },
    ];
}

/**
 * ingress-nginx, whose annotations the program writes for the classes "nginx" and "public" (or for
 * inCluster.ingressController "nginx"), was retired upstream in March 2026: told, not refused, since
 * clusters still run it and the Ingress still works (docs/decisions/default-ingress-class.md).
 */
function retiredControllerWarnings(c: ModeConfig): ConfigProblem[] {
    if (!isMode(c, "in-cluster")) return [];
    const i = c.inCluster;
    if (i.exposure !== "ingress" || ingressControllerOf(i) !== "nginx") return [];
    const named = i.ingressController === "nginx" ? "ingressController" : "ingressClass";
    return [
        {
            key: keyPath(["inCluster", named]),
            message:
                `is "${i[named]}", so the program writes ingress-nginx's annotations, and ingress-nginx was retired upstream in March 2026: ` +
                "it gets no fixes, security ones included. Move the registry to a maintained controller: Traefik (k3s's, and microk8s's " +
                'since 1.35) with inCluster.ingressClass "traefik", or Gateway API with inCluster.exposure "gateway" (docs/in-cluster.md, ' +
                'The ingress class). Where Traefik already serves this class (microk8s 1.35 and later serve "public" and "nginx" with it), ' +
                "set inCluster.ingressController \"traefik\": Traefik ignores ingress-nginx's annotations, the login limit's among them",
        },
    ];
}

/** Advice about combinations that work with a known limit. */
export function adviceWarnings(c: ModeConfig): ConfigProblem[] {
    const warnings: ConfigProblem[] = [
        ...mirrorAgeWarnings(c),
        ...unusedMirrorWarnings(c),
        ...kindWarmWarnings(c),
        ...crioMirrorWarnings(c),
        ...bucketBackupWarnings(c),
        ...kanikoWarnings(c),
        ...retiredControllerWarnings(c),
    ];
    if (c.containerRegistry.readAccounts.length > 0 && !c.containerRegistry.requiresAuthForPull && c.registry.mode !== "existing") {
        warnings.push({
            key: keyPath(["containerRegistry", "readAccounts"]),
            message:
                "are set while pulls are anonymous (containerRegistry.requiresAuthForPull: false): they can log in and pull, as anyone can, and revoking one takes nothing away. Set requiresAuthForPull: true when reads should need an account",
        });
    }
    const dockerNodes = trustedNodes(c.nodes).some((n) => n.runtime === "docker");
    if (dockerNodes && c.registry.mode === "existing" && !c.containerRegistry.requiresAuthForPull) {
        warnings.push({ key: keyPath(["nodes", "runtime"]), message: DOCKER_CLASSIC_STORE_ADVICE });
    }
    if (isMode(c, "in-cluster") && c.registry.allowedNetworks.length > 0) {
        warnings.push({
            key: keyPath(["registry", "allowedNetworks"]),
            message: inClusterAllowlistAdvice(c.inCluster.namespace, c.inCluster.exposure === "gateway", c.inCluster.networkPolicy.enabled),
        });
    }
    const caTakers = c.nodes.delivery !== "none" || c.jenkins.enabled || c.pullSecrets.namespaces.length > 0;
    const t = isMode(c, "in-cluster") ? c.registry.tls : undefined;
    if (isMode(c, "in-cluster") && t?.mode === "cert-manager" && t.certManagerIssuer && !t.certManagerCaCertificate && caTakers) {
        warnings.push({
            key: keyPath(["registry", "tls", "certManagerCaCertificate"]),
            message: certManagerCaAdvice(c.inCluster.namespace),
        });
    }
    return warnings;
}
