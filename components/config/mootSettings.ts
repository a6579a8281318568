/**
 * Settings that have no effect in the chosen modes: one table (`MOOT_SETTINGS`) and the warnings it
 * gives for the keys a stack file sets. Told, not refused.
 */
import { INGRESS_CONTROLLER_OF_CLASS, type RuntimeFlavour, restartsOnRegistriesChange } from "../shared/facts";
import { mavenServedByRegistry, mirrorPullPolicy, nodeRuntime, pullCredentialsWanted, trustedNodes } from "./derived";
import { type ConfigProblem, keyPath } from "./problems";
import { noPublishedCa } from "./rules";
import type { FlatConfig } from "./schema";
import { pattern, setLeaves } from "./stackFileLeaves";

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
const nodeFlavours = (c: FlatConfig): RuntimeFlavour[] => trustedNodes(c.nodes).map((n) => n.runtime);

/** The object that holds the key at `at` (an SSH connection, a node), with its defaults filled in. */
const holder = (c: FlatConfig, at: readonly PropertyKey[]): Record<string, unknown> =>
    at.slice(0, -1).reduce<unknown>((node, part) => (node as Record<PropertyKey, unknown> | undefined)?.[part], c) as Record<
        string,
        unknown
    >;

/**
 * Settings that do nothing with some values of other settings. Ordered: the first row whose keys
 * cover a key and that names a reason gives its warning. A key a mode does not take at all needs no
 * row: that mode's shape refuses it (./modeShapes.ts).
 */
export const MOOT_SETTINGS: readonly MootRule[] = [
    // The caches', the UI's and the jobs' containers exist only with caches, the UI, and garbage collection or backups.
    {
        keys: ["inCluster.pod.resources.cache"],
        mootWith: (c) => unless(c.registry.mirrors.length > 0, "no registry.mirrors (no cache runs)"),
    },
    {
        keys: ["inCluster.pod.resources.ui"],
        mootWith: (c) => unless(c.registry.ui.enabled, "registry.ui.enabled false"),
    },
    {
        keys: ["inCluster.pod.resources.jobs"],
        mootWith: (c) =>
            unless(
                c.registry.maintenance.garbageCollection.enabled || c.registry.maintenance.backup.enabled,
                "registry.maintenance.garbageCollection.enabled and backup.enabled false (no job runs)",
            ),
    },
    // The Maven container runs in the registry's pod only where that pod serves the Maven repository.
    {
        keys: ["inCluster.pod.resources.maven"],
        mootWith: (c) =>
            unless(mavenServedByRegistry(c), "mavenRegistry.host other than containerRegistry.host (the pod serves no Maven repository)"),
    },
    // The kind placement's caches live in kind.dataDir with no prune job (docs/kind.md, Pull-through caches).
    {
        keys: ["registry.mirrors[].maxSize"],
        mootWith: (c) =>
            c.registry.mode === "kind"
                ? `${mode(c)}, whose caches have no size limit (Distribution drops cached content after maxAge, 168h with Distribution 2)`
                : undefined,
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
    {
        // An existing registry's accounts are the organisation's.
        keys: [
            "containerRegistry.rotation",
            "containerRegistry.rotateAfterDays",
            "containerRegistry.rotationOverlapHours",
            "containerRegistry.pushCredentials",
            "containerRegistry.pullUsername",
        ],
        mootWith: (c) => unless(c.registry.mode !== "existing", mode(c)),
    },
    {
        // They rotate the passwords the program generates (and keep the previous one): with the operator's push password and no
        // pull-only account, there are none.
        keys: ["containerRegistry.rotation", "containerRegistry.rotateAfterDays", "containerRegistry.rotationOverlapHours"],
        mootWith: (c) =>
            unless(
                c.containerRegistry.pushCredentials === "generated" ||
                    pullCredentialsWanted(c) ||
                    [...c.containerRegistry.pushAccounts, ...c.containerRegistry.readAccounts].some((a) => a.password === "generated"),
                'containerRegistry.pushCredentials "operator" and nothing that pulls with credentials (the program generates no password)',
            ),
    },
    {
        keys: ["registry.tls.caValidityDays", "registry.tls.serverCertValidityDays"],
        mootWith: (c) =>
            c.registry.tls.mode === "cert-manager" && c.registry.tls.certManagerIssuer
                ? `registry.tls.certManagerIssuer (cert-manager's issuer decides the lifetimes)`
                : undefined,
    },
    {
        keys: ["registry.maintenance.retention.mode", "registry.maintenance.retention.protect"],
        mootWith: (c) => unless(c.registry.maintenance.retention.rules.length > 0, "registry.maintenance.retention.rules empty"),
    },
    {
        // In the cluster the limit is the ingress controller's: ingress-nginx's or Traefik's; behind a Gateway, Traefik's only.
        keys: ["registry.loginLimit"],
        mootWith: (c) => {
            if (c.registry.mode !== "in-cluster") return undefined;
            const controller = c.inCluster.ingressController ?? INGRESS_CONTROLLER_OF_CLASS[c.inCluster.ingressClass];
            if (c.inCluster.exposure === "gateway") {
                return controller !== "traefik"
                    ? 'inCluster.exposure "gateway" without inCluster.ingressController "traefik" (Gateway API has no rate limit; Caddy\'s standard build neither)'
                    : undefined;
            }
            return controller === undefined
                ? `inCluster.ingressClass "${c.inCluster.ingressClass}" (the login limit needs ingress-nginx or Traefik)`
                : undefined;
        },
    },
    {
        keys: ["inCluster.gateway"],
        mootWith: (c) => unless(c.inCluster.exposure === "gateway", `inCluster.exposure "${c.inCluster.exposure}"`),
    },
    {
        keys: ["inCluster.gateway.port"],
        mootWith: (c) => unless(c.inCluster.gateway.className !== undefined, "inCluster.gateway.className unset (the Gateway is yours)"),
    },
    {
        // Traefik's rateLimit Middleware exempts no network (components/accessPolicy/loginLimit.ts).
        keys: ["registry.loginLimit.ignoreNetworks"],
        mootWith: (c) => {
            const controller = c.inCluster.ingressController ?? INGRESS_CONTROLLER_OF_CLASS[c.inCluster.ingressClass];
            return c.registry.mode === "in-cluster" && controller === "traefik" && c.inCluster.exposure === "ingress"
                ? `inCluster.ingressClass "${c.inCluster.ingressClass}" (Traefik's rate limit exempts no network)`
                : undefined;
        },
    },
    { keys: ["kind.ui"], mootWith: (c) => unless(c.registry.ui.enabled, "registry.ui.enabled false") },
    {
        // Deletes are allowed when the UI's delete button or garbage collection needs them (config/decisions.ts).
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
                pullCredentialsWanted(c),
                "containerRegistry.requiresAuthForPull false, no cache that needs an account and no pull secrets",
            ),
    },
    {
        keys: ["registry.mirrorPull"],
        mootWith: (c) => {
            if (c.registry.mirrors.length === 0) return "registry.mirrors empty";
            // Saying what applies anyway: told, as for a known ingress controller.
            const unset = mirrorPullPolicy({ registry: { ...c.registry, mirrorPull: undefined } });
            return unless(
                c.registry.mirrorPull !== unset,
                `registry.allowedNetworks ${c.registry.allowedNetworks.length > 0 ? "set" : "empty"} (it is "${unset}" when unset)`,
            );
        },
    },
    { keys: ["pullSecrets.secretName"], mootWith: (c) => unless(c.pullSecrets.namespaces.length > 0, "pullSecrets.namespaces empty") },
    {
        // The CA goes where pods talk to the registry themselves, and only when the program publishes one (components/stack/index.ts).
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
        mootWith: (c) => unless(mavenServedByRegistry(c), "mavenRegistry.host and port other than the external registry host's"),
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
    // A push account's Jenkins credential ID names a credential only Jenkins gets.
    { keys: ["containerRegistry.pushAccounts[].credentialId"], mootWith: (c) => unless(c.jenkins.enabled, "jenkins.enabled false") },
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
        // Only Jenkins's credentials, the pipeline-config ConfigMap, the agent templates and the outputs that name them use the IDs.
        keys: ["containerRegistry.credentialId", "mavenRegistry.credentialId"],
        mootWith: (c) => unless(c.jenkins.enabled, "jenkins.enabled false"),
    },
    {
        keys: ["jenkins.allowPlainHttp"],
        mootWith: (c) => unless(!c.jenkins.url?.startsWith("https://"), "an https:// jenkins.url"),
    },
    {
        keys: ["nodes.allowContainerdRestart"],
        mootWith: (c) => unless(nodeFlavours(c).includes("containerd"), 'no node of runtime "containerd"'),
    },
    {
        keys: ["nodes.allowServiceRestart"],
        mootWith: (c) => unless(nodeFlavours(c).some(restartsOnRegistriesChange), 'no node of runtime "k3s" or "rke2"'),
    },
    {
        keys: ["nodes.restartTimeoutSeconds"],
        mootWith: (c) => unless(nodeFlavours(c).some(restartsOnRegistriesChange), 'no node of runtime "k3s" or "rke2"'),
    },
    {
        // Only agents restart in batches (nodes reached over SSH, the only delivery that takes the key).
        keys: ["nodes.restartBatchSize"],
        mootWith: (c) =>
            unless(
                c.nodes.list.some((n) => n.role === "agent" && restartsOnRegistriesChange(nodeRuntime(n, c.nodes))),
                'no node in nodes.list of runtime "k3s" or "rke2" with role "agent"',
            ),
    },
    {
        keys: ["nodes.list[].role", "nodes.list[].kubernetesNodeName"],
        mootWith: (c, at) => {
            const runtime = nodeRuntime(holder(c, at) as { runtime?: RuntimeFlavour }, c.nodes);
            return unless(
                restartsOnRegistriesChange(runtime),
                `runtime "${runtime}" (only k3s and RKE2 nodes restart when registries.yaml changes)`,
            );
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
        keys: ["externalHost.ssh.allowUnpinnedHostKey", "kind.ssh.allowUnpinnedHostKey", "nodes.list[].allowUnpinnedHostKey"],
        mootWith: (c, at) => unless(holder(c, at).hostKey === undefined, "hostKey set (the pinned key is checked)"),
    },
    {
        keys: ["externalHost.ssh.sudo", "kind.ssh.sudo", "nodes.list[].sudo"],
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
