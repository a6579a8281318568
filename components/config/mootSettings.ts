/**
 * Settings that have no effect in the chosen modes: one table (`MOOT_SETTINGS`) and the warnings it
 * gives for the keys a stack file sets. Told, not refused.
 */
import { needsSudo, type RuntimeFlavour, restartsOnRegistriesChange } from "../shared/facts";
import { mavenServedByRegistry, mirrorPullPolicy, nodeRuntime, pullCredentialsWanted, trustedNodes } from "./derived";
import { isMode, MODE_SHAPES, type ModeConfig, type ModeConfigOf } from "./modeShapes";
import { type ConfigProblem, fixable, keyPath, removal } from "./problems";
import { noPublishedCa } from "./rules";
import { controllerSetting, ingressClassSetting, ingressControllerOf } from "./settings";
import { pattern, setLeaves } from "./stackFileLeaves";

/**
 * One row of the table: the keys it covers (dotted, `[]` for any list item; a key covers every key
 * below it) and, for a configuration, the setting that makes them moot, or undefined where they act.
 */
interface MootRule {
    readonly keys: readonly string[];
    /** `at` is the key's path, for rules about one item of a list (one SSH connection, one node). */
    readonly mootWith: (c: ModeConfig, at: readonly PropertyKey[]) => string | undefined;
}

const mode = (c: ModeConfig) => `registry.mode "${c.registry.mode}"`;
const unless = (applies: boolean, reason: string): string | undefined => (applies ? undefined : reason);
/** The runtime flavours of the nodes node trust configures (none with delivery "none"). */
const nodeFlavours = (c: ModeConfig): RuntimeFlavour[] => trustedNodes(c.nodes).map((n) => n.runtime);
/** The controller of the in-cluster ingress class: as the stack says, or known from the class name. */
const controllerOf = (c: ModeConfigOf<"in-cluster">) => ingressControllerOf(c.inCluster);

/** The object that holds the key at `at` (an SSH connection, a node), with its defaults filled in. */
const holder = (c: ModeConfig, at: readonly PropertyKey[]): Record<string, unknown> =>
    at.slice(0, -1).reduce<unknown>((node, part) => (node as Record<PropertyKey, unknown> | undefined)?.[part], c) as Record<
        string,
        unknown
    >;

/** Why the registry's front serves no Maven repository, or undefined when it serves one. */
function noServedMaven(c: ModeConfig): string | undefined {
    if (mavenServedByRegistry(c)) return undefined;
    if (c.registry.mode === "existing") return `${mode(c)} (the program serves no Maven repository)`;
    return c.mavenRegistry
        ? "mavenRegistry.host and port other than the registry's (the program serves no Maven repository)"
        : "no mavenRegistry (the program serves no Maven repository)";
}

/**
 * A row made of a table whose entries share the row's reason: its keys are the entries' keys, and a
 * key's warning names what its own entry says.
 */
function tableRow(entries: readonly MootRule[]): MootRule {
    return {
        keys: entries.flatMap((e) => e.keys),
        mootWith: (c, at) => entries.find((e) => e.keys.some((k) => covers(k, pattern(at))))?.mootWith(c, at),
    };
}

/**
 * Settings that do nothing with some values of other settings. Ordered: the first row whose keys
 * cover a key and that names a reason gives its warning. A key a mode does not take at all needs no
 * row: that mode's shape refuses it (./modeShapes.ts). Rows that share a reason are one row: several
 * keys, or a table of entries (`tableRow`) when each key names its own setting.
 */
export const MOOT_SETTINGS: readonly MootRule[] = [
    {
        // kind's web UI: every key of kind.ui is moot without the UI; the cluster's keys are moot when the front serves it.
        keys: ["kind.ui"],
        mootWith: (c, at) => {
            if (!isMode(c, "kind")) return undefined;
            if (!c.registry.ui.enabled) return "registry.ui.enabled false (no web UI)";
            if (c.kind.ui.servedBy === "front" && !covers("kind.ui.servedBy", pattern(at))) {
                return `kind.ui.servedBy "front" (the registry's front serves the UI at http://localhost:${c.kind.hostPort}/registry/; nothing of the UI runs in the cluster)`;
            }
            return undefined;
        },
    },
    {
        // The NetworkPolicy's admissions: moot without the policy; the scraper's without the metrics it admits it to.
        keys: [
            "inCluster.networkPolicy.ingressNamespaces",
            "inCluster.networkPolicy.clientNamespaces",
            "inCluster.networkPolicy.nodeNetworks",
            "inCluster.networkPolicy.monitoringNamespaces",
            "inCluster.networkPolicy.egressNetworks",
        ],
        mootWith: (c, at) => {
            if (!isMode(c, "in-cluster")) return undefined;
            if (!c.inCluster.networkPolicy.enabled) return "inCluster.networkPolicy.enabled false (the stack creates no NetworkPolicy)";
            if (covers("inCluster.networkPolicy.monitoringNamespaces", pattern(at)) && !c.registry.monitoring.enabled) {
                return "registry.monitoring.enabled false (no metrics ports to admit the scraper to)";
            }
            return undefined;
        },
    },
    // A part the placement runs only with some settings: its own settings (its containers' resources, its
    // images, directories and volume) have no effect while it does not run. Each entry: a part, and why it does not run.
    tableRow([
        {
            keys: ["inCluster.pod.resources.cache", "registry.mirrorPull"],
            mootWith: (c) => unless(c.registry.mirrors.length > 0, "no registry.mirrors (no cache runs)"),
        },
        {
            keys: ["inCluster.pod.resources.ui"],
            mootWith: (c) => unless(c.registry.ui.enabled, "registry.ui.enabled false"),
        },
        {
            keys: ["inCluster.pod.resources.jobs", "inCluster.kubectlImage"],
            mootWith: (c) =>
                unless(
                    c.registry.maintenance.garbageCollection.enabled || c.registry.maintenance.backup.enabled,
                    "registry.maintenance.garbageCollection.enabled and backup.enabled false (no job runs)",
                ),
        },
        // The Maven repository the registry's front serves: its container in either placement, its files on the host.
        { keys: ["inCluster.pod.resources.maven", "mavenRegistry.nginxImage", "externalHost.mavenDataDir"], mootWith: noServedMaven },
        // Its volume, in the cluster only (the host keeps the files in externalHost.mavenDataDir).
        {
            keys: ["mavenRegistry.storageSize"],
            mootWith: (c) =>
                noServedMaven(c) ??
                unless(c.registry.mode === "in-cluster", `${mode(c)} (the Maven repository's files are in externalHost.mavenDataDir)`),
        },
        // Old snapshot builds are removed by the garbage-collection job, on the external host or in the cluster.
        {
            keys: ["mavenRegistry.snapshotBuildsToKeep"],
            mootWith: (c) =>
                noServedMaven(c) ??
                unless(c.registry.maintenance.garbageCollection.enabled, "registry.maintenance.garbageCollection.enabled false"),
        },
        // The disk guard runs on the registry's own data disk in every placement (the external host's data
        // directory, the pod's volume, kind.dataDir), not on a bucket, and on the Maven repository's disk where
        // the front serves one: its check and the front's refusal with enabled; the alert's threshold is the
        // external host's data directory's, with monitoring.
        {
            keys: ["registry.diskGuard"],
            mootWith: (c, at) => {
                const r = c.registry;
                // An existing registry's shape takes no disk guard: its disk is not the program's.
                if (r.mode === "existing") return undefined;
                if (r.storage.kind === "s3") {
                    const noDisk = 'registry.storage.kind "s3" (no data disk of the registry\'s to fill)';
                    // With s3 the guard still keeps the Maven repository's disk (its own alert, with monitoring); warnPercent is
                    // the data disk's almost-full alert only.
                    if (noServedMaven(c) !== undefined || covers("registry.diskGuard.warnPercent", pattern(at))) return noDisk;
                }
                if (covers("registry.diskGuard.warnPercent", pattern(at))) {
                    if (r.mode !== "external-host") {
                        return `${mode(c)} (${r.mode === "kind" ? "no alert rules" : "the cluster's almost-full alert fires at 10% free"})`;
                    }
                    return unless(r.monitoring.enabled, "registry.monitoring.enabled false (no alert rules)");
                }
                if (covers("registry.diskGuard.refusePercent", pattern(at))) {
                    return unless(r.diskGuard.enabled, "registry.diskGuard.enabled false");
                }
                return undefined;
            },
        },
    ]),
    // The kind placement's caches live in kind.dataDir with no prune job (docs/kind.md, Pull-through caches).
    {
        keys: ["registry.mirrors[].maxSize"],
        mootWith: (c) =>
            c.registry.mode === "kind"
                ? `${mode(c)}, whose caches have no size limit (Distribution drops cached content after maxAge, 168h with Distribution 2)`
                : undefined,
    },
    // Only the microk8s flavour runs kubectl (a block in the Corefile); k3s's is a ConfigMap of the stack.
    {
        keys: ["inCluster.clusterDns.kubectlContext"],
        mootWith: (c) =>
            isMode(c, "in-cluster")
                ? unless(c.inCluster.clusterDns.flavour === "microk8s", `inCluster.clusterDns.flavour "${c.inCluster.clusterDns.flavour}"`)
                : undefined,
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
        // The operator's issuer makes the certificates; the lifetimes are those of the program's own chain.
        keys: ["registry.tls.caValidityDays", "registry.tls.serverCertValidityDays"],
        mootWith: (c) =>
            isMode(c, "in-cluster") && c.registry.tls.mode === "cert-manager" && c.registry.tls.certManagerIssuer
                ? `registry.tls.certManagerIssuer (cert-manager's issuer decides the lifetimes)`
                : undefined,
    },
    {
        // How retention removes tags, and which it keeps, act only through its rules.
        keys: ["registry.maintenance.retention.mode", "registry.maintenance.retention.protect"],
        mootWith: (c) => unless(c.registry.maintenance.retention.rules.length > 0, "registry.maintenance.retention.rules empty"),
    },
    {
        // In the cluster the limit is the ingress controller's: ingress-nginx's or Traefik's; behind a Gateway, Traefik's only
        // (elsewhere the limit on is refused: rules.ts, loginLimitProblems). Traefik's rateLimit Middleware exempts no network,
        // only Traefik counts the requests with credentials, and only ingress-nginx leaves them open
        // (components/accessPolicy/loginLimit.ts).
        keys: ["registry.loginLimit"],
        mootWith: (c, at) => {
            if (!isMode(c, "in-cluster")) return undefined;
            const controller = controllerOf(c);
            const key = pattern(at);
            const nginx = c.inCluster.exposure === "ingress" && controller === "nginx";
            if (covers("registry.loginLimit.allowUnlimitedCredentialRequests", key) && !nginx) {
                return c.inCluster.exposure === "gateway"
                    ? 'inCluster.exposure "gateway" (only ingress-nginx leaves requests with credentials unlimited)'
                    : `${controllerSetting(c.inCluster)} (only ingress-nginx leaves requests with credentials unlimited)`;
            }
            // Behind a Gateway the limit is Traefik's, or refused on (and off is what the refusal asks for).
            if (c.inCluster.exposure === "gateway") return undefined;
            if (controller === undefined) {
                return `${ingressClassSetting(c.inCluster)} (the login limit needs ingress-nginx or Traefik)`;
            }
            if (controller === "traefik" && covers("registry.loginLimit.ignoreNetworks", key)) {
                return `${ingressClassSetting(c.inCluster)} (Traefik's rate limit exempts no network)`;
            }
            // ingress-nginx cannot tell a request with credentials from a pull on the same path: only Traefik counts them.
            return nginx && covers("registry.loginLimit.credentialRequestsPerMinute", key)
                ? `${ingressClassSetting(c.inCluster)} (ingress-nginx limits the token endpoint and the ping only)`
                : undefined;
        },
    },
    {
        // Only the Gateway API exposure attaches to a Gateway.
        keys: ["inCluster.gateway"],
        mootWith: (c) =>
            isMode(c, "in-cluster")
                ? unless(c.inCluster.exposure === "gateway", `inCluster.exposure "${c.inCluster.exposure}"`)
                : undefined,
    },
    {
        // The listener's port is the stack's to choose only on a Gateway it creates.
        keys: ["inCluster.gateway.port"],
        mootWith: (c) =>
            isMode(c, "in-cluster")
                ? unless(c.inCluster.gateway.className !== undefined, "inCluster.gateway.className unset (the Gateway is yours)")
                : undefined,
    },
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
        // The pull-only account exists only when something pulls with credentials.
        keys: ["containerRegistry.pullUsername"],
        mootWith: (c) =>
            unless(
                pullCredentialsWanted(c),
                "containerRegistry.requiresAuthForPull false, no cache that needs an account and no pull secrets",
            ),
    },
    // The name of pull secrets that no namespace gets.
    { keys: ["pullSecrets.secretName"], mootWith: (c) => unless(c.pullSecrets.namespaces.length > 0, "pullSecrets.namespaces empty") },
    {
        // The CA goes where pods talk to the registry themselves, and only when the program publishes one (components/stack/index.ts).
        keys: ["caConfigMap"],
        mootWith: (c) =>
            noPublishedCa(c)?.reason ??
            unless(c.jenkins.enabled || c.pullSecrets.namespaces.length > 0, "jenkins.enabled false and pullSecrets.namespaces empty"),
    },
    {
        // Only trust-manager reads a trust namespace.
        keys: ["caConfigMap.trustNamespace"],
        mootWith: (c) => unless(c.caConfigMap.delivery === "trust-manager", `caConfigMap.delivery "${c.caConfigMap.delivery}"`),
    },
    {
        // Only Jenkins gets them: its credentials (by ID, one per push account), and the Maven credential's push setting, which
        // the pipeline-config ConfigMap carries; the agent templates and the outputs name the IDs.
        keys: [
            "containerRegistry.credentialId",
            "containerRegistry.pushAccounts[].credentialId",
            "mavenRegistry.credentialId",
            "mavenRegistry.requiresAuthForPush",
        ],
        mootWith: (c) => unless(c.jenkins.enabled, "jenkins.enabled false"),
    },
    {
        // What Jenkins's Maven credential and the pipeline-config ConfigMap carry, and what the front of a Maven repository this
        // program serves uses even without Jenkins (host and port also decide whether it serves one).
        keys: [
            "mavenRegistry.host",
            "mavenRegistry.port",
            "mavenRegistry.pathPrefix",
            "mavenRegistry.requiresAuthForPull",
            "mavenRegistry.reuseContainerCredentials",
            "mavenRegistry.username",
        ],
        mootWith: (c) =>
            unless(
                c.jenkins.enabled || mavenServedByRegistry(c),
                "jenkins.enabled false and a Maven repository this program does not serve",
            ),
    },
    {
        // The container registry's push account deploys instead.
        keys: ["mavenRegistry.username"],
        mootWith: (c) => unless(!c.mavenRegistry?.reuseContainerCredentials, "mavenRegistry.reuseContainerCredentials true"),
    },
    {
        // It allows an http:// URL only.
        keys: ["jenkins.allowPlainHttp"],
        mootWith: (c) => unless(!(c.jenkins.enabled && c.jenkins.url.startsWith("https://")), "an https:// jenkins.url"),
    },
    // A restart no node makes: the settings of each restart act only on the nodes whose runtime restarts that way (containerd
    // to take the CRI plugin's config_path; k3s and RKE2 when registries.yaml changes, servers one at a time, agents in batches).
    // Likewise the signature policy, which only CRI-O and podman (containers/image) read on the node; containerd, k3s, RKE2 and
    // the Docker engine pull whatever the registry serves (docs/node-trust.md, Signatures required at pull).
    tableRow([
        {
            keys: ["containerRegistry.signingKeys"],
            mootWith: (c) =>
                unless(
                    nodeFlavours(c).includes("crio"),
                    'no node of runtime "crio" (only CRI-O and podman check signatures when they pull; other runtimes need an admission policy, docs/node-trust.md)',
                ),
        },
        {
            keys: ["nodes.allowContainerdRestart"],
            mootWith: (c) => unless(nodeFlavours(c).includes("containerd"), 'no node of runtime "containerd"'),
        },
        {
            keys: ["nodes.allowServiceRestart", "nodes.restartTimeoutSeconds"],
            mootWith: (c) => unless(nodeFlavours(c).some(restartsOnRegistriesChange), 'no node of runtime "k3s" or "rke2"'),
        },
        {
            // Nodes reached over SSH, the only delivery that takes the key.
            keys: ["nodes.restartBatchSize"],
            mootWith: ({ nodes }) =>
                unless(
                    nodes.delivery === "ssh" &&
                        nodes.list.some((n) => n.role === "agent" && restartsOnRegistriesChange(nodeRuntime(n, nodes))),
                    'no node in nodes.list of runtime "k3s" or "rke2" with role "agent"',
                ),
        },
        {
            keys: ["nodes.list[].role", "nodes.list[].kubernetesNodeName"],
            mootWith: (c, at) => {
                if (c.nodes.delivery === "none") return undefined;
                const runtime = nodeRuntime(holder(c, at) as { runtime?: RuntimeFlavour }, c.nodes);
                return unless(
                    restartsOnRegistriesChange(runtime),
                    `runtime "${runtime}" (only k3s and RKE2 nodes restart when registries.yaml changes)`,
                );
            },
        },
    ]),
    // A value that is what applies when the key is unset: each entry says what that is (the ingress class's known controller,
    // who may pull through the caches without an allowlist or with one, the group's runtime, `sudo -n` unless the user is root).
    tableRow([
        {
            keys: ["inCluster.ingressController"],
            mootWith: (c) =>
                isMode(c, "in-cluster")
                    ? unless(
                          ingressControllerOf({ ingressClass: c.inCluster.ingressClass }) !== c.inCluster.ingressController,
                          `inCluster.ingressClass "${c.inCluster.ingressClass}" (its controller is known)`,
                      )
                    : undefined,
        },
        {
            keys: ["registry.mirrorPull"],
            mootWith: (c) => {
                const unset = mirrorPullPolicy({ registry: { ...c.registry, mirrorPull: undefined } });
                return unless(
                    c.registry.mirrorPull !== unset,
                    `registry.allowedNetworks ${"allowedNetworks" in c.registry && c.registry.allowedNetworks.length > 0 ? "set" : "empty"} (it is "${unset}" when unset)`,
                );
            },
        },
        {
            keys: ["nodes.list[].runtime"],
            mootWith: (c, at) =>
                c.nodes.delivery === "none"
                    ? undefined
                    : unless(holder(c, at).runtime !== c.nodes.runtime, `nodes.runtime "${c.nodes.runtime}" (the same runtime)`),
        },
        {
            keys: ["externalHost.ssh.sudo", "kind.ssh.sudo", "nodes.list[].sudo"],
            mootWith: (c, at) => {
                const { user, sudo } = holder(c, at);
                return unless(
                    sudo !== needsSudo(String(user), undefined),
                    `user "${String(user)}" (privileged steps use \`sudo -n\` exactly when the user is not root)`,
                );
            },
        },
    ]),
    {
        // It allows connecting without a pinned key only.
        keys: ["externalHost.ssh.allowUnpinnedHostKey", "kind.ssh.allowUnpinnedHostKey", "nodes.list[].allowUnpinnedHostKey"],
        mootWith: (c, at) => unless(holder(c, at).hostKey === undefined, "hostKey set (the pinned key is checked)"),
    },
];

/** Whether a rule's key covers a key path written the same way ("nodes.list[].runtime"). */
function covers(ruleKey: string, key: string): boolean {
    return key === ruleKey || key.startsWith(`${ruleKey}.`) || key.startsWith(`${ruleKey}[]`);
}

/** The stack file without the key at `path`. */
function without(raw: Readonly<Record<string, unknown>>, path: readonly PropertyKey[]): Record<string, unknown> {
    const copy = structuredClone(raw) as Record<PropertyKey, unknown>;
    const parent = path.slice(0, -1).reduce<unknown>((node, part) => (node as Record<PropertyKey, unknown>)[part], copy);
    delete (parent as Record<PropertyKey, unknown>)[path[path.length - 1]!];
    return copy;
}

/**
 * A warning for every key the stack file sets that has no effect with the rest of the configuration,
 * with the change that takes it out. A key its block needs cannot go alone: when nothing the stack sets
 * in that block has an effect, the warning names the block, whose removal is taken.
 */
export function mootSettingWarnings(raw: Readonly<Record<string, unknown>>, c: ModeConfig): ConfigProblem[] {
    const moot = new Map<string, { path: PropertyKey[]; reason: string }>();
    const leaves = setLeaves(raw);
    for (const leaf of leaves) {
        const key = pattern(leaf.path);
        const rule = MOOT_SETTINGS.find((r) => r.keys.some((k) => covers(k, key)) && r.mootWith(c, leaf.path) !== undefined);
        if (rule) moot.set(keyPath(leaf.path), { path: leaf.path, reason: rule.mootWith(c, leaf.path)! });
    }
    const shape = MODE_SHAPES[c.registry.mode];
    const warnings = new Map<string, ConfigProblem>();
    for (const { path, reason } of moot.values()) {
        let at = path;
        // The nearest block whose removal the shape takes, if every key set in it is moot too.
        while (!shape.safeParse(without(raw, at)).success && at.length > 1) at = at.slice(0, -1);
        const under = leaves.filter((l) => keyPath(l.path) === keyPath(at) || keyPath(l.path).startsWith(`${keyPath(at)}.`));
        const whole = shape.safeParse(without(raw, at)).success && under.every((l) => moot.has(keyPath(l.path)));
        const target = whole ? at : path;
        if (warnings.has(keyPath(target))) continue;
        warnings.set(
            keyPath(target),
            whole
                ? fixable(target, removal(target), (command) => `has no effect with ${reason}; remove it from the stack file (${command})`)
                : { key: keyPath(target), message: `has no effect with ${reason}` },
        );
    }
    // A block's warning stands for the keys under it.
    return [...warnings.values()].filter(
        (w) => ![...warnings.keys()].some((block) => block !== w.key && (w.key.startsWith(`${block}.`) || w.key.startsWith(`${block}[`))),
    );
}
