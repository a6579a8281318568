/**
 * What the config layer tells without refusing: settings that have no effect in the chosen modes
 * (one table, `MOOT_SETTINGS`), advice about a combination that works with a known limit, and
 * placeholders a stack file still holds (`REPLACE-WITH-…`), which `pulumi up` and `preview` refuse
 * before anything changes and the synth only warns about.
 */
import { DISTRIBUTION_2_PROXY_TTL_HOURS, durationSeconds, INGRESS_CONTROLLER_OF_CLASS, isDistribution3Image } from "../shared/facts";
import { type ConfigProblem, keyPath } from "./problems";
import { mavenServedByRegistry, noPublishedCa } from "./rules";
import type { FlatConfig } from "./schema";

/** What a value the operator still has to fill in starts with, e.g. "ssh-ed25519 REPLACE-WITH-ssh-keyscan-OUTPUT". */
export const PLACEHOLDER_MARK = "REPLACE-WITH-";

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
 * cert-manager without the issuer's CA: the program cannot read the CA from the issuer, so nodes and
 * agents get none. Right for a publicly trusted issuer, wrong for a private one; only the operator knows.
 */
const certManagerCaAdvice = (namespace: string) =>
    'is not set with registry.tls.mode "cert-manager", so the nodes (node trust) and CI agents (ConfigMap dso-registry-ca) ' +
    "get no CA. That is right only when the issuer's certificates are publicly trusted (for example Let's Encrypt); with a " +
    'private issuer (CA, self-signed, Vault) pulls and pushes fail with "x509: certificate signed by unknown authority". ' +
    "Give the program the issuer's CA once the certificate is issued: " +
    `kubectl -n ${namespace} get secret registry-tls -o jsonpath='{.data.ca\\.crt}' | base64 -d > issuer-ca.crt && ` +
    `pulumi config set --path 'dso-registry:registry.tls.certManagerCaCertificate' "$(cat issuer-ca.crt)"`;

/**
 * One row of the table: the keys it covers (dotted, `[]` for any list item; a key covers every key
 * below it) and, for a configuration, the setting that makes them moot, or undefined where they act.
 */
interface MootRule {
    readonly keys: readonly string[];
    /** `at` is the key's path, for rules about one item of a list (one SSH connection, one node). */
    readonly mootWith: (c: FlatConfig, at: readonly PropertyKey[]) => string | undefined;
}

const mode = (c: FlatConfig) => `registry.mode "${c.registry.mode}"`;
const unless = (applies: boolean, reason: string): string | undefined => (applies ? undefined : reason);
/** The runtime flavours of the nodes node trust configures (none with delivery "none"). */
const nodeFlavours = (c: FlatConfig): string[] =>
    c.nodes.delivery === "none"
        ? []
        : c.nodes.delivery === "daemonset"
          ? [c.nodes.runtime]
          : c.nodes.list.map((n) => n.runtime ?? c.nodes.runtime);

/** k3s and RKE2 read registries.yaml only when they start. */
const restartsOnChange = (runtime: string) => runtime === "k3s" || runtime === "rke2";

/** The object that holds the key at `at` (an SSH connection, a node), with its defaults filled in. */
const holder = (c: FlatConfig, at: readonly PropertyKey[]): Record<string, unknown> =>
    at.slice(0, -1).reduce<unknown>((node, part) => (node as Record<PropertyKey, unknown> | undefined)?.[part], c) as Record<
        string,
        unknown
    >;

/**
 * Settings that do nothing in some modes. Ordered: the first row whose keys cover a key and that
 * names a reason gives its warning. Keys that are refused outside their mode (see rules.ts) need no
 * row here.
 */
export const MOOT_SETTINGS: readonly MootRule[] = [
    {
        keys: [
            "inCluster.namespace",
            "inCluster.ingressClass",
            "inCluster.ingressController",
            "inCluster.publishLocalRegistryHosting",
            "inCluster.clusterDns",
            "registry.caddyImage",
        ],
        mootWith: (c) => unless(c.registry.mode === "in-cluster", mode(c)),
    },
    {
        keys: ["inCluster.clusterDns.kubectlContext"],
        mootWith: (c) =>
            unless(c.inCluster.clusterDns.flavour === "microk8s", `inCluster.clusterDns.flavour "${c.inCluster.clusterDns.flavour}"`),
    },
    {
        keys: ["inCluster.ingressController"],
        mootWith: (c) => {
            const known = INGRESS_CONTROLLER_OF_CLASS[c.inCluster.ingressClass];
            return unless(
                known !== c.inCluster.ingressController,
                `inCluster.ingressClass "${c.inCluster.ingressClass}" (its controller is known)`,
            );
        },
    },
    { keys: ["existing"], mootWith: (c) => unless(c.registry.mode === "existing", mode(c)) },
    {
        // An existing registry's image, storage, UI and accounts are the organisation's.
        keys: [
            "registry.image",
            "registry.storage",
            "registry.ui.deleteEnabled",
            "registry.ui.image",
            "containerRegistry.rotation",
            "containerRegistry.pushCredentials",
            "containerRegistry.pullUsername",
        ],
        mootWith: (c) => unless(c.registry.mode !== "existing", mode(c)),
    },
    {
        keys: ["registry.storage.size", "registry.storage.storageClass"],
        mootWith: (c) =>
            c.registry.mode !== "in-cluster"
                ? mode(c)
                : unless(c.registry.storage.kind === "filesystem", `registry.storage.kind "${c.registry.storage.kind}"`),
    },
    {
        keys: ["registry.tls.caValidityDays", "registry.tls.serverCertValidityDays"],
        mootWith: (c) => unless(c.registry.tls.mode === "generated-ca", `registry.tls.mode "${c.registry.tls.mode}"`),
    },
    {
        keys: ["registry.tls.acmeEmail", "registry.tls.acmeDirectory"],
        mootWith: (c) => unless(c.registry.tls.mode === "acme", `registry.tls.mode "${c.registry.tls.mode}"`),
    },
    {
        keys: ["registry.maintenance.garbageCollection.schedule"],
        mootWith: (c) => unless(c.registry.maintenance.garbageCollection.enabled, "registry.maintenance.garbageCollection.enabled false"),
    },
    {
        // The external host always has the collection script, for a run by hand (see registryHostOps).
        keys: ["registry.maintenance.garbageCollection.deleteUntagged"],
        mootWith: (c) =>
            unless(
                c.registry.maintenance.garbageCollection.enabled || c.registry.mode === "external-host",
                `registry.maintenance.garbageCollection.enabled false and ${mode(c)}`,
            ),
    },
    {
        keys: ["registry.maintenance.backup.schedule", "registry.maintenance.backup.destination", "registry.maintenance.backup.keep"],
        mootWith: (c) => unless(c.registry.maintenance.backup.enabled, "registry.maintenance.backup.enabled false"),
    },
    {
        keys: ["registry.maintenance.backup.image"],
        mootWith: (c) =>
            unless(
                c.registry.maintenance.backup.enabled && c.registry.mode === "in-cluster",
                `registry.maintenance.backup.enabled false or ${mode(c)}`,
            ),
    },
    {
        keys: [
            "registry.maintenance.backup.destination.host",
            "registry.maintenance.backup.destination.port",
            "registry.maintenance.backup.destination.user",
            "registry.maintenance.backup.destination.path",
            "registry.maintenance.backup.destination.hostKey",
        ],
        mootWith: (c) =>
            unless(c.registry.maintenance.backup.destination?.kind === "sftp", 'registry.maintenance.backup.destination.kind not "sftp"'),
    },
    {
        keys: [
            "registry.maintenance.backup.destination.endpoint",
            "registry.maintenance.backup.destination.bucket",
            "registry.maintenance.backup.destination.prefix",
            "registry.maintenance.backup.destination.region",
        ],
        mootWith: (c) =>
            unless(c.registry.maintenance.backup.destination?.kind === "s3", 'registry.maintenance.backup.destination.kind not "s3"'),
    },
    {
        keys: ["registry.maintenance.backup.destination.size", "registry.maintenance.backup.destination.storageClass"],
        mootWith: (c) =>
            unless(
                c.registry.maintenance.backup.destination?.kind === "volume",
                'registry.maintenance.backup.destination.kind not "volume"',
            ),
    },
    { keys: ["registry.ui.image"], mootWith: (c) => unless(c.registry.ui.enabled, "registry.ui.enabled false") },
    {
        // Deletes are allowed when the UI's delete button or garbage collection needs them (decisions.ts).
        keys: ["registry.ui.deleteEnabled"],
        mootWith: (c) =>
            unless(
                c.registry.ui.enabled || !c.registry.maintenance.garbageCollection.enabled,
                "registry.ui.enabled false and registry.maintenance.garbageCollection.enabled true (garbage collection already allows deletes)",
            ),
    },
    {
        keys: ["containerRegistry.pullUsername"],
        mootWith: (c) =>
            unless(
                c.containerRegistry.requiresAuthForPull || c.pullSecrets.namespaces.length > 0 || c.pullSecrets.flux,
                "containerRegistry.requiresAuthForPull false and no pull secrets",
            ),
    },
    { keys: ["pullSecrets.secretName"], mootWith: (c) => unless(c.pullSecrets.namespaces.length > 0, "pullSecrets.namespaces empty") },
    {
        // The CA goes where pods talk to the registry themselves, and only when the program publishes one (components/stack.ts).
        keys: ["caConfigMap"],
        mootWith: (c) =>
            noPublishedCa(c)?.reason ??
            unless(c.jenkins.enabled || c.pullSecrets.namespaces.length > 0, "jenkins.enabled false and pullSecrets.namespaces empty"),
    },
    {
        keys: ["caConfigMap.trustNamespace"],
        mootWith: (c) => unless(c.caConfigMap.delivery === "trust-manager", `caConfigMap.delivery "${c.caConfigMap.delivery}"`),
    },
    {
        // The repository this program serves: its volume in the cluster.
        keys: ["mavenRegistry.storageSize"],
        mootWith: (c) =>
            unless(
                mavenServedByRegistry(c) && c.registry.mode === "in-cluster",
                "mavenRegistry.host and port other than the in-cluster registry's",
            ),
    },
    {
        // The repository this program serves, in either placement.
        keys: ["mavenRegistry.nginxImage"],
        mootWith: (c) => unless(mavenServedByRegistry(c), "mavenRegistry.host and port other than the registry's"),
    },
    {
        // The repository this program serves on the external host.
        keys: ["externalHost.mavenDataDir"],
        mootWith: (c) =>
            unless(
                mavenServedByRegistry(c) && c.registry.mode === "external-host",
                "mavenRegistry.host and port other than the external registry host's",
            ),
    },
    {
        // Old snapshot builds are removed by the garbage-collection job, on the external host or in the cluster.
        keys: ["mavenRegistry.snapshotBuildsToKeep"],
        mootWith: (c) =>
            unless(
                mavenServedByRegistry(c) && c.registry.maintenance.garbageCollection.enabled,
                "a Maven repository this program does not serve, or registry.maintenance.garbageCollection.enabled false",
            ),
    },
    {
        // What the served repository's front uses even without Jenkins.
        keys: ["mavenRegistry.pathPrefix", "mavenRegistry.requiresAuthForPull", "mavenRegistry.reuseContainerCredentials"],
        mootWith: (c) => unless(c.jenkins.enabled || mavenServedByRegistry(c), "jenkins.enabled false"),
    },
    {
        // Otherwise only Jenkins's Maven credential and the pipeline-config ConfigMap carry the Maven repository.
        keys: ["mavenRegistry.requiresAuthForPush"],
        mootWith: (c) => unless(c.jenkins.enabled, "jenkins.enabled false"),
    },
    {
        // Host and port also decide whether the registry's front serves the repository (a registry of ours).
        keys: ["mavenRegistry.host", "mavenRegistry.port"],
        mootWith: (c) =>
            unless(
                c.jenkins.enabled || mavenServedByRegistry(c),
                "jenkins.enabled false and a Maven repository this program does not serve",
            ),
    },
    {
        // The deploy account of the repository this program serves, and of Jenkins's Maven credential.
        keys: ["mavenRegistry.username"],
        mootWith: (c) => unless(c.jenkins.enabled || mavenServedByRegistry(c), "jenkins.enabled false"),
    },
    {
        keys: ["mavenRegistry.username"],
        mootWith: (c) => unless(!c.mavenRegistry?.reuseContainerCredentials, "mavenRegistry.reuseContainerCredentials true"),
    },
    {
        keys: [
            "jenkins.url",
            "jenkins.user",
            "jenkins.auth",
            "jenkins.caCertificate",
            "jenkins.registryHostCredentialId",
            "jenkins.pipelineConfigNamespace",
            "jenkins.pipelineConfigName",
            "jenkins.timeoutSeconds",
            "jenkins.usernameSecret",
            "jenkins.agentImages.dockerCli",
            "jenkins.agentImages.dockerDaemon",
            "jenkins.agentImages.kaniko",
            "jenkins.agentImages.buildah",
        ],
        mootWith: (c) => unless(c.jenkins.enabled, "jenkins.enabled false"),
    },
    {
        keys: ["nodes.runtime", "nodes.registryAddress", "nodes.allowContainerdRestart", "nodes.allowServiceRestart"],
        mootWith: (c) => unless(c.nodes.delivery !== "none", 'nodes.delivery "none"'),
    },
    {
        keys: ["nodes.allowContainerdRestart"],
        mootWith: (c) => unless(nodeFlavours(c).includes("containerd"), 'no node of runtime "containerd"'),
    },
    {
        keys: ["nodes.allowServiceRestart"],
        mootWith: (c) => unless(nodeFlavours(c).some(restartsOnChange), 'no node of runtime "k3s" or "rke2"'),
    },
    { keys: ["nodes.namespace"], mootWith: (c) => unless(c.nodes.delivery === "daemonset", `nodes.delivery "${c.nodes.delivery}"`) },
    {
        keys: ["nodes.restartTimeoutSeconds"],
        mootWith: (c) => unless(nodeFlavours(c).some(restartsOnChange), 'no node of runtime "k3s" or "rke2"'),
    },
    {
        // Only agents restart in batches, and only nodes reached over SSH are ordered.
        keys: ["nodes.restartBatchSize"],
        mootWith: (c) =>
            c.nodes.delivery !== "ssh"
                ? `nodes.delivery "${c.nodes.delivery}"`
                : unless(
                      c.nodes.list.some((n) => n.role === "agent" && restartsOnChange(n.runtime ?? c.nodes.runtime)),
                      'no node in nodes.list of runtime "k3s" or "rke2" with role "agent"',
                  ),
    },
    {
        keys: ["nodes.list[].role", "nodes.list[].kubernetesNodeName"],
        mootWith: (c, at) => {
            const runtime = (holder(c, at).runtime as string | undefined) ?? c.nodes.runtime;
            return unless(restartsOnChange(runtime), `runtime "${runtime}" (only k3s and RKE2 nodes restart when registries.yaml changes)`);
        },
    },
    {
        keys: ["nodes.list[].runtime"],
        mootWith: (c, at) => unless(holder(c, at).runtime !== c.nodes.runtime, `nodes.runtime "${c.nodes.runtime}" (the same runtime)`),
    },
    {
        keys: ["nodes.list[].host", "nodes.list[].port", "nodes.list[].hostKey", "nodes.list[].allowUnpinnedHostKey"],
        mootWith: (c, at) => unless(!holder(c, at).local, "local true (the node's commands run where Pulumi runs, without SSH)"),
    },
    {
        keys: ["externalHost.ssh.allowUnpinnedHostKey", "nodes.list[].allowUnpinnedHostKey"],
        mootWith: (c, at) => unless(holder(c, at).hostKey === undefined, "hostKey set (the pinned key is checked)"),
    },
    {
        keys: ["externalHost.ssh.sudo", "nodes.list[].sudo"],
        mootWith: (c, at) => {
            const { user, sudo } = holder(c, at);
            return unless(
                sudo !== (user !== "root"),
                `user "${String(user)}" (privileged steps use \`sudo -n\` exactly when the user is not root)`,
            );
        },
    },
];

/** Whether a rule's key covers a key path written the same way ("nodes.list[].runtime"). */
function covers(ruleKey: string, key: string): boolean {
    return key === ruleKey || key.startsWith(`${ruleKey}.`) || key.startsWith(`${ruleKey}[]`);
}

/** Every value the operator set, with its path: objects are walked, a list of objects item by item. */
function setLeaves(value: unknown, path: PropertyKey[] = []): { path: PropertyKey[]; value: unknown }[] {
    if (Array.isArray(value) && value.some((v) => v !== null && typeof v === "object")) {
        return value.flatMap((item, i) => setLeaves(item, [...path, i]));
    }
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
        return Object.entries(value).flatMap(([k, v]) => setLeaves(v, [...path, k]));
    }
    return path.length > 0 ? [{ path, value }] : [];
}

/** "nodes.list[].runtime" for ["nodes", "list", 0, "runtime"]. */
function pattern(path: readonly PropertyKey[]): string {
    return path.map((p, i) => (typeof p === "number" ? "[]" : `${i > 0 ? "." : ""}${String(p)}`)).join("");
}

/** A warning for every key the stack file sets that has no effect with the rest of the configuration. */
export function mootSettingWarnings(raw: Readonly<Record<string, unknown>>, c: FlatConfig): ConfigProblem[] {
    const warnings: ConfigProblem[] = [];
    for (const leaf of setLeaves(raw)) {
        const key = pattern(leaf.path);
        for (const rule of MOOT_SETTINGS) {
            if (!rule.keys.some((k) => covers(k, key))) continue;
            const reason = rule.mootWith(c, leaf.path);
            if (reason === undefined) continue;
            warnings.push({ key: keyPath(leaf.path), message: `has no effect with ${reason}; remove it from the stack file` });
            break;
        }
    }
    return warnings;
}

/**
 * `maxAge` values that Distribution 2.x (the default image) cannot honour. It drops a cache's content
 * 168h after it was fetched and reads no `proxy.ttl`: on the external host the prune job removes
 * older content for shorter ages, so only longer ones are cut short; in the cluster nothing does,
 * so any other age is.
 */
function mirrorAgeWarnings(c: FlatConfig): ConfigProblem[] {
    if (c.registry.mode === "existing" || isDistribution3Image(c.registry.image)) return [];
    const image = `registry.image "${c.registry.image}"`;
    return c.registry.mirrors.flatMap((m, i) => {
        const seconds = durationSeconds(m.maxAge);
        if (seconds === undefined) return [];
        const hours = seconds / 3600;
        const key = keyPath(["registry", "mirrors", i, "maxAge"]);
        const fix = `or set registry.image to a Distribution 3 image (for example "registry:3.0.0"), which reads it`;
        if (c.registry.mode === "external-host" && hours > DISTRIBUTION_2_PROXY_TTL_HOURS) {
            return [
                {
                    key,
                    message: `"${m.maxAge}" has no effect with Distribution 2 (${image}) beyond ${DISTRIBUTION_2_PROXY_TTL_HOURS}h: it drops cached content ${DISTRIBUTION_2_PROXY_TTL_HOURS}h after it was fetched whatever maxAge says; set ${DISTRIBUTION_2_PROXY_TTL_HOURS}h or less, ${fix}`,
                },
            ];
        }
        if (c.registry.mode === "in-cluster" && hours !== DISTRIBUTION_2_PROXY_TTL_HOURS) {
            return [
                {
                    key,
                    message: `has no effect with registry.mode "in-cluster" and Distribution 2 (${image}), which drops cached content ${DISTRIBUTION_2_PROXY_TTL_HOURS}h after it was fetched whatever maxAge says (only the external host's prune job removes older content); remove it, ${fix}`,
                },
            ];
        }
        return [];
    });
}

/**
 * Caches no node is pointed at. Node trust writes a cache's entry (hosts.toml, or registries.yaml for
 * k3s and RKE2) for every runtime but the Docker engine, which has no per-upstream mirror setting, and
 * for no node at all with delivery "none" (components/nodeTrust/files.ts). The caches still run and take
 * disk; an image named through one (`<registry>/mirrors/<upstream>/…`) still pulls, so this warns.
 */
function unusedMirrorWarnings(c: FlatConfig): ConfigProblem[] {
    if (c.registry.mirrors.length === 0 || c.registry.mode === "existing") return [];
    const key = keyPath(["registry", "mirrors"]);
    const direct = `only an image named through a cache (${c.containerRegistry.host}/mirrors/<upstream>/<repository>) uses one`;
    const pointAt = 'a runtime node trust points at the caches (containerd, microk8s, kind, k3s or rke2: docs/mirrors.md, "Nodes")';
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
    const nodes: { runtime: string; name?: string }[] =
        c.nodes.delivery === "ssh"
            ? c.nodes.list.map((n) => ({ runtime: n.runtime ?? c.nodes.runtime, name: n.name }))
            : [{ runtime: c.nodes.runtime }];
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
 * The external host's backup with images in a bucket. Unlike the in-cluster backup (refused in
 * rules.ts: it copies volumes only, and the images are not on one), it still holds what a rebuilt host
 * needs (backedUpPaths in components/externalHost/backupScripts.ts), so it warns instead.
 */
function bucketBackupWarnings(c: FlatConfig): ConfigProblem[] {
    const backup = c.registry.maintenance.backup;
    if (!backup.enabled || c.registry.mode !== "external-host" || c.registry.storage.kind !== "s3") return [];
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

/** Advice about combinations that work with a known limit. */
export function adviceWarnings(c: FlatConfig): ConfigProblem[] {
    const warnings: ConfigProblem[] = [...mirrorAgeWarnings(c), ...unusedMirrorWarnings(c), ...bucketBackupWarnings(c)];
    const dockerNodes = c.nodes.delivery !== "none" && nodeFlavours(c).includes("docker");
    if (dockerNodes && c.registry.mode === "existing" && !c.containerRegistry.requiresAuthForPull) {
        warnings.push({ key: keyPath(["nodes", "runtime"]), message: DOCKER_CLASSIC_STORE_ADVICE });
    }
    const caTakers = c.nodes.delivery !== "none" || c.jenkins.enabled || c.pullSecrets.namespaces.length > 0;
    if (c.registry.tls.mode === "cert-manager" && !c.registry.tls.certManagerCaCertificate && caTakers) {
        warnings.push({
            key: keyPath(["registry", "tls", "certManagerCaCertificate"]),
            message: certManagerCaAdvice(c.inCluster.namespace),
        });
    }
    return warnings;
}

/**
 * Values the stack file still holds as a placeholder (`REPLACE-WITH-…`), each with what to put in its
 * place. `pulumi up` and `preview` refuse them before anything changes; the synth warns.
 */
export function placeholderProblems(raw: Readonly<Record<string, unknown>>): ConfigProblem[] {
    return setLeaves(raw)
        .filter((leaf) => typeof leaf.value === "string" && leaf.value.includes(PLACEHOLDER_MARK))
        .map((leaf) => {
            const last = leaf.path[leaf.path.length - 1];
            const parent = leaf.path.slice(0, -1).reduce<unknown>((node, p) => (node as Record<PropertyKey, unknown>)?.[p], raw) as
                | Record<string, unknown>
                | undefined;
            const host = typeof parent?.host === "string" ? parent.host : "<host>";
            const fix =
                last === "hostKey"
                    ? `run \`ssh-keyscan -t ed25519 ${host}\`, check the key it prints out of band (for example against the host's console), and put that line here`
                    : "replace it with the real value";
            return { key: keyPath(leaf.path), message: `still holds the placeholder ${JSON.stringify(leaf.value)}: ${fix}` };
        });
}
