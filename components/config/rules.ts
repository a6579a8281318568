/**
 * Rules that span several keys: contradictions of values that neither one key's schema nor its mode's
 * shape (./modeShapes.ts: which keys and variants each registry.mode takes) can see, such as several
 * replicas on a volume, or an account name used twice. Once they all pass, `settings.ts` maps the stack.
 */

import {
    CREATED_GATEWAY_LISTENER,
    FLUX_NAMESPACE,
    ingressNamespacesOf,
    NODE_HELD_CREDENTIAL_FLAVOURS,
    registryAuthority,
} from "../shared/facts";
import { mavenServedByRegistry, pushAccountCredentialId, readAccountSecretName, trustedNodes } from "./derived";
import { kindProblems } from "./kindRules";
import { isMode, type ModeConfig, type ModeConfigOf } from "./modeShapes";
import { type ConfigProblem, fixable, keyPath, removal, setting } from "./problems";
import { controllerSetting, ingressClassSetting, ingressControllerOf } from "./settings";

/**
 * Why some nodes would keep no registry credentials of their own, or undefined when every node holds
 * them (see NODE_HELD_CREDENTIAL_FLAVOURS): pods on the others can only pull with a pull secret.
 */
function nodesWithoutPullCredentials(c: ModeConfig): string | undefined {
    const held = [...NODE_HELD_CREDENTIAL_FLAVOURS].join(", ");
    if (c.nodes.delivery === "none") return `nodes.delivery is "none", so no node is given credentials`;
    const bare = trustedNodes(c.nodes).filter((n) => !NODE_HELD_CREDENTIAL_FLAVOURS.has(n.runtime));
    if (bare.length === 0) return undefined;
    const which = [...new Set(bare.map((n) => n.runtime))].map((f) => `"${f}"`).join(", ");
    const names = bare.flatMap((n) => (n.name ? [n.name] : []));
    return `nodes of runtime ${which}${names.length ? ` (${names.join(", ")})` : ""} keep no registry credentials (only ${held} nodes hold them, in registries.yaml or hosts.toml)`;
}

/**
 * Why the program publishes no CA to clients (nodes, the `dso-registry-ca` ConfigMaps), with what would
 * give it one; undefined when it publishes one. The same choice as `caCertPem` in components/stack/index.ts
 * (with `configuredCa` in components/config/decisions.ts): the generated CA, the issuer's CA given with
 * cert-manager, or an existing registry's CA.
 */
export function noPublishedCa(c: ModeConfig): { readonly reason: string; readonly fix: string } | undefined {
    if (isMode(c, "kind")) {
        return { reason: `registry.mode "kind" (plain HTTP on loopback and the kind network)`, fix: "clients need no CA" };
    }
    if (isMode(c, "existing")) {
        return c.existing.caCertificate
            ? undefined
            : {
                  reason: `registry.mode "existing" without existing.caCertificate (a publicly trusted certificate)`,
                  fix: "give existing.caCertificate when a private CA signs the registry's certificate",
              };
    }
    const tls = c.registry.tls;
    switch (tls.mode) {
        case "generated-ca":
            return undefined;
        case "cert-manager":
            // The program's own chain: its CA is read from cert-manager's Secret.
            return tls.certManagerCaCertificate || !tls.certManagerIssuer
                ? undefined
                : {
                      reason: `registry.tls.mode "cert-manager" without registry.tls.certManagerCaCertificate`,
                      fix: "give the issuer's CA in registry.tls.certManagerCaCertificate when the issuer is private",
                  };
        case "acme":
            return {
                reason: `registry.tls.mode "${tls.mode}" (a publicly trusted certificate)`,
                fix: "clients need no CA from the program",
            };
        case "provided":
            return {
                reason: `registry.tls.mode "provided" (the program is given the certificate and key, not the CA)`,
                fix: 'use registry.tls.mode "generated-ca" for a CA the program publishes, or give clients your CA yourself',
            };
    }
}

/** A problem at `path` whose fix is not one edit. */
const problemAt = (path: readonly PropertyKey[], message: string): ConfigProblem => ({ key: keyPath(path), message });
/** Whether an in-cluster stack exposes the registry through a Gateway. */
const throughGateway = (c: ModeConfigOf<"in-cluster">) => c.inCluster.exposure === "gateway";
/** The allowlist of a mode that has one (every mode but existing and kind). */
const allowedNetworksOf = (c: ModeConfig): readonly string[] => ("allowedNetworks" in c.registry ? c.registry.allowedNetworks : []);
/** The nodes node trust reaches over SSH. */
const listedNodes = (c: ModeConfig) => (c.nodes.delivery === "ssh" ? c.nodes.list : []);

/**
 * One rule that spans several keys: its name says what it refuses, `check` returns each contradiction it finds
 * (none when the stack is consistent).
 */
interface CrossRule<C extends ModeConfig = ModeConfig> {
    readonly name: string;
    readonly check: (c: C) => readonly ConfigProblem[];
}
/** A rule that finds at most one problem: `find` returns it, or undefined. */
const single = <C extends ModeConfig>(name: string, find: (c: C) => ConfigProblem | undefined): CrossRule<C> => ({
    name,
    check: (c) => {
        const found = find(c);
        return found ? [found] : [];
    },
});

/**
 * The in-cluster placement's rules: its exposure (Ingress or Gateway), its allowlist, its network policy, the
 * login limit and the cluster DNS. In this order, which is the order the problems are told.
 */
const IN_CLUSTER_RULES: readonly CrossRule<ModeConfigOf<"in-cluster">>[] = [
    single("a Gateway's allowlist needs the networks its controller connects from", (c) =>
        c.registry.allowedNetworks.length > 0 && throughGateway(c) && c.inCluster.gateway.proxyNetworks.length === 0
            ? problemAt(
                  ["inCluster", "gateway", "proxyNetworks"],
                  `is empty, but registry.allowedNetworks is set with inCluster.exposure "gateway": Gateway API has no allowlist, so the ` +
                      `registry's Caddy enforces it on the client address the Gateway's controller forwards, and believes that header only ` +
                      `from the controller. List the networks the controller connects from (its pods' or nodes' network, e.g. "10.42.0.0/16" on k3s)`,
              )
            : undefined,
    ),
    single("a Gateway the stack creates lives in the registry's namespace", (c) => {
        const { className, namespace } = c.inCluster.gateway;
        if (!throughGateway(c) || !className || namespace === undefined || namespace === c.inCluster.namespace) return undefined;
        const path = ["inCluster", "gateway", "namespace"];
        return fixable(
            path,
            removal(path),
            (command) =>
                `is "${namespace}", but inCluster.gateway.className makes the stack create the Gateway, and it ` +
                `creates it in the registry's namespace "${c.inCluster.namespace}" beside its certificate: remove inCluster.gateway.namespace (${command}), ` +
                `or remove className to attach to a Gateway of your own`,
        );
    }),
    single("a Gateway the stack creates has one listener", (c) => {
        const section = c.inCluster.gateway.sectionName;
        if (!throughGateway(c) || !c.inCluster.gateway.className || section === undefined || section === CREATED_GATEWAY_LISTENER) {
            return undefined;
        }
        const path = ["inCluster", "gateway", "sectionName"];
        return fixable(
            path,
            removal(path),
            (command) =>
                `is "${section}", but the Gateway the stack creates (inCluster.gateway.className) has one listener, "${CREATED_GATEWAY_LISTENER}": ` +
                `the route would attach to none and nothing would reach the registry. Remove sectionName (${command}), or remove className to attach to a Gateway of your own`,
        );
    }),
    single("an Ingress's allowlist needs a controller the program can tell", (c) =>
        c.registry.allowedNetworks.length > 0 && !throughGateway(c) && !ingressControllerOf(c.inCluster)
            ? problemAt(
                  ["registry", "allowedNetworks"],
                  `cannot be enforced behind ${ingressClassSetting(c.inCluster)}: the registry's Caddy sidecar sees only the ` +
                      `ingress controller's address, so the controller must enforce it, and this program knows how to tell ingress-nginx ` +
                      `(an annotation) and Traefik (an ipAllowList Middleware) only. If the class belongs to one of them, set ` +
                      `inCluster.ingressController to "nginx" or "traefik"; otherwise enforce the allowlist in your controller or firewall and remove it here`,
              )
            : undefined,
    ),
    single("the network policy needs the controller's namespaces", (c) => {
        const netpol = c.inCluster.networkPolicy;
        return netpol.enabled && ingressNamespacesOf(netpol, ingressControllerOf(c.inCluster)).length === 0
            ? problemAt(
                  ["inCluster", "networkPolicy", "ingressNamespaces"],
                  `is needed with inCluster.networkPolicy.enabled behind ${controllerSetting(c.inCluster)}: the policy admits the ` +
                      `controller's pods by their namespace, and this program knows where ingress-nginx's and Traefik's run only. ` +
                      `List the namespaces of your controller's (or Gateway's) pods, or set inCluster.ingressController if it is one of those`,
              )
            : undefined;
    }),
    { name: "the login limit needs a controller that limits every guess", check: loginLimitProblems },
    single("the cluster DNS answers with the TLS Service, which listens on 443", (c) => {
        const dns = c.inCluster.clusterDns.flavour;
        if (dns === "none" || c.containerRegistry.port === 443) return undefined;
        return fixable(
            ["inCluster", "clusterDns", "flavour"],
            removal(["containerRegistry", "port"]),
            (command) =>
                `is "${dns}", but containerRegistry.port is ${c.containerRegistry.port}: inside pods the name resolves to the registry's TLS ` +
                `Service, which listens on 443 only, so https://${c.containerRegistry.host}:${c.containerRegistry.port} would reach nothing there. ` +
                `Publish the registry on 443 (${command}), or set inCluster.clusterDns.flavour to "none"`,
        );
    }),
];

/**
 * Every rule that spans several keys, in the order their problems are told. A rule about one mode's keys
 * checks the mode first (the others' shapes have no such keys).
 */
const CROSS_RULES: readonly CrossRule[] = [
    single("a CA of the stack's own issuer needs that issuer", (c) => {
        const tls = isMode(c, "in-cluster") ? c.registry.tls : undefined;
        if (tls?.mode !== "cert-manager" || tls.certManagerIssuer || !tls.certManagerCaCertificate) return undefined;
        const path = ["registry", "tls", "certManagerCaCertificate"];
        return fixable(
            path,
            removal(path),
            (command) =>
                `names the CA of an issuer of your own, but registry.tls.certManagerIssuer is not set: the program creates its own issuer chain and reads its CA from cert-manager; remove certManagerCaCertificate (${command}), or name your issuer in registry.tls.certManagerIssuer`,
        );
    }),
    single("the external host's key is pinned", (c) =>
        isMode(c, "external-host") && !c.externalHost.ssh.hostKey && !c.externalHost.ssh.allowUnpinnedHostKey
            ? problemAt(
                  ["externalHost", "ssh", "hostKey"],
                  `is required: pin the host key (ssh-keyscan -t ed25519 ${c.externalHost.ssh.host}), or set externalHost.ssh.allowUnpinnedHostKey: true for a throwaway lab`,
              )
            : undefined,
    ),
    single("online collection leaves untagged manifests to the window", (c) => {
        const gc = isMode(c, "external-host") ? c.registry.maintenance.garbageCollection : undefined;
        if (gc?.mode !== "online" || !gc.deleteUntagged) return undefined;
        const path = ["registry", "maintenance", "garbageCollection", "deleteUntagged"];
        return fixable(
            path,
            setting(path, false),
            (command) =>
                `is true, but mode is "online": Distribution deletes untagged manifests only in its offline collection, which needs the read-only window. Set deleteUntagged false (${command}), or mode "window"`,
        );
    }),
    single("several replicas need shared storage", (c) => {
        // Only the in-cluster shape takes replicas.
        if (!isMode(c, "in-cluster") || c.registry.replicas <= 1 || c.registry.storage.kind === "s3") return undefined;
        const replicas = c.registry.replicas;
        return fixable(
            ["registry", "replicas"],
            setting(["registry", "storage", "kind"], "s3"),
            (command) =>
                `is ${replicas}, but several replicas need shared storage: set registry.storage.kind "s3" (${command}) with its bucket in registry.storage.s3`,
        );
    }),
    { name: "backups of a volume the images are not on", check: backupProblems },
    { name: "kind's own rules", check: kindProblems },
    { name: "named accounts can be made as given", check: namedAccountProblems },
    { name: "retention runs with the collection, under the path prefix", check: retentionProblems },
    single("pushes always need credentials", (c) => {
        if (c.containerRegistry.requiresAuthForPush || c.registry.mode === "existing") return undefined;
        const path = ["containerRegistry", "requiresAuthForPush"];
        return fixable(
            path,
            setting(path, true),
            (command) =>
                `is false: anyone who reaches the registry could overwrite images. This program always requires credentials for push; set it to true (${command})`,
        );
    }),
    single("Maven reuses the registry's credentials on the same host only", (c) =>
        c.mavenRegistry?.reuseContainerCredentials && c.mavenRegistry.host !== c.containerRegistry.host
            ? problemAt(
                  ["mavenRegistry", "reuseContainerCredentials"],
                  `is true but mavenRegistry.host (${c.mavenRegistry.host}) differs from containerRegistry.host (${c.containerRegistry.host}); credentials are only reused on the same host`,
              )
            : undefined,
    ),
    single("one Jenkins credential holds both accounts only when Maven reuses them", (c) =>
        c.mavenRegistry && !c.mavenRegistry.reuseContainerCredentials && c.mavenRegistry.credentialId === c.containerRegistry.credentialId
            ? problemAt(
                  ["mavenRegistry", "credentialId"],
                  `equals containerRegistry.credentialId; one Jenkins credential can only hold both when mavenRegistry.reuseContainerCredentials is true`,
              )
            : undefined,
    ),
    single("Maven deploys to the registry always need the Maven account", (c) => {
        if (!mavenServedByRegistry(c) || c.mavenRegistry?.requiresAuthForPush) return undefined;
        const path = ["mavenRegistry", "requiresAuthForPush"];
        return fixable(
            path,
            setting(path, true),
            (command) =>
                `is false, but this program serves the Maven repository (mavenRegistry.host is containerRegistry.host) and always requires the Maven account for deploys; set it to true (${command})`,
        );
    }),
    {
        name: "every node reached over SSH has its key pinned",
        check: (c) =>
            listedNodes(c).flatMap((n, i) =>
                !n.local && !n.hostKey && !n.allowUnpinnedHostKey
                    ? [
                          problemAt(
                              ["nodes", "list", i, "hostKey"],
                              `is required for node "${n.name}": pin it (ssh-keyscan -t ed25519 ${n.host}), or set allowUnpinnedHostKey: true for a throwaway lab`,
                          ),
                      ]
                    : [],
            ),
    },
    single("node names are unique", (c) => {
        const names = listedNodes(c).map((n) => n.name);
        const duplicate = names.find((n, i) => names.indexOf(n) !== i);
        return duplicate ? problemAt(["nodes", "list"], `has two nodes named "${duplicate}"; names must be unique`) : undefined;
    }),
    single("plain HTTP for an existing registry only", (c) => {
        if (!c.nodes.insecurePlainHttp || c.registry.mode === "existing") return undefined;
        const path = ["nodes", "insecurePlainHttp"];
        return fixable(
            path,
            removal(path),
            (command) =>
                `plain HTTP is only allowed for an existing registry; registries of our own always use TLS: remove it (${command})`,
        );
    }),
    single("authenticated pulls need credentials where pods pull", (c) => {
        const uncovered = nodesWithoutPullCredentials(c);
        if (!c.containerRegistry.requiresAuthForPull || !uncovered || c.pullSecrets.namespaces.length > 0) return undefined;
        const path = ["containerRegistry", "requiresAuthForPull"];
        return fixable(
            path,
            setting(path, false),
            (command) =>
                `is true, but nothing that pulls would get credentials: ${uncovered}. List the namespaces your workloads run in under ` +
                `pullSecrets.namespaces (each gets a pull secret, and its default ServiceAccount uses it), or set requiresAuthForPull to false (${command})`,
        );
    }),
    single("Flux's namespace is served by pullSecrets.flux", (c) => {
        const fluxAt = c.pullSecrets.namespaces.indexOf(FLUX_NAMESPACE);
        return c.pullSecrets.flux && fluxAt >= 0
            ? problemAt(
                  ["pullSecrets", "namespaces", fluxAt],
                  `is "${FLUX_NAMESPACE}", which pullSecrets.flux already serves (Secret registry-credentials). Flux's controllers run ` +
                      `under service accounts of their own, so a pull secret for the namespace's default one gives them nothing: ` +
                      `remove "${FLUX_NAMESPACE}" from pullSecrets.namespaces`,
              )
            : undefined;
    }),
    single("Jenkins over plain HTTP only when allowed", (c) =>
        c.jenkins.enabled && c.jenkins.url?.startsWith("http://") && !c.jenkins.allowPlainHttp
            ? problemAt(
                  ["jenkins", "url"],
                  `is plain HTTP (${c.jenkins.url}): the Jenkins API token and every credential this program writes to Jenkins would travel in clear. ` +
                      `Use the https:// URL (with jenkins.caCertificate for a private CA), or, for a Jenkins reached on a trusted network only, set jenkins.allowPlainHttp: true`,
              )
            : undefined,
    ),
    {
        name: "the in-cluster placement's rules",
        check: (c) => (isMode(c, "in-cluster") ? IN_CLUSTER_RULES.flatMap((r) => r.check(c)) : []),
    },
    single("trust-manager needs a CA to hand out", (c) => {
        const unpublished = noPublishedCa(c);
        if (c.caConfigMap.delivery !== "trust-manager" || !unpublished) return undefined;
        const path = ["caConfigMap", "delivery"];
        return fixable(
            path,
            removal(path),
            (command) =>
                `is "trust-manager", but the stack publishes no CA (${unpublished.reason}), so a trust-manager Bundle would have ` +
                `nothing to hand out: ${unpublished.fix}, or remove caConfigMap.delivery (${command}; the default "program" writes no ConfigMap without a CA)`,
        );
    }),
    single("caches run beside a registry of our own only", (c) => {
        if (c.registry.mirrors.length === 0 || c.registry.mode !== "existing") return undefined;
        const path = ["registry", "mirrors"];
        return fixable(
            path,
            removal(path),
            (command) =>
                `runs pull-through caches beside a registry of our own; an existing registry is not ours to add them to: remove it (${command})`,
        );
    }),
    single("caches for an allowlist need the allowlist", (c) => {
        if (
            c.registry.mirrors.length === 0 ||
            c.registry.mode === "kind" ||
            c.registry.mirrorPull !== "allowlist" ||
            allowedNetworksOf(c).length > 0
        ) {
            return undefined;
        }
        const path = ["registry", "mirrorPull"];
        return fixable(
            path,
            removal(path),
            (command) =>
                `is "allowlist", but registry.allowedNetworks is empty, so anyone could pull through the caches: list the networks ` +
                `that may use the registry under registry.allowedNetworks, leave mirrorPull unset (${command}: accounts), or set it to "anonymous"`,
        );
    }),
    {
        name: "each cache's upstream is listed once and is not this registry",
        check: (c) => {
            const mirrors = c.registry.mirrors;
            const upstreams = mirrors.map((m) => m.upstream.replace(":", "-"));
            const self = registryAuthority(c.containerRegistry.host, c.containerRegistry.port);
            return mirrors.flatMap((m, i) => [
                ...(upstreams.indexOf(upstreams[i]!) !== i
                    ? [
                          problemAt(
                              ["registry", "mirrors", i, "upstream"],
                              `"${m.upstream}" is listed twice (or clashes with another entry's name); list each upstream once`,
                          ),
                      ]
                    : []),
                ...(m.upstream === self
                    ? [
                          problemAt(
                              ["registry", "mirrors", i, "upstream"],
                              `"${m.upstream}" is this registry itself (containerRegistry.host); a cache of it would only loop`,
                          ),
                      ]
                    : []),
            ]);
        },
    },
    single("an allowlist is not ours to enforce on an existing registry", (c) => {
        if (allowedNetworksOf(c).length === 0 || c.registry.mode !== "existing") return undefined;
        const path = ["registry", "allowedNetworks"];
        return fixable(path, removal(path), (command) => `cannot be enforced on an existing registry: remove it (${command})`);
    }),
];

/** Rules that span several keys (`CROSS_RULES`). Returns every contradiction found. */
export function crossChecks(c: ModeConfig): ConfigProblem[] {
    return CROSS_RULES.flatMap((rule) => rule.check(c));
}

/**
 * The login limit on where no controller can limit every password guess (docs/access-policy.md, Failed
 * logins are limited). Refused, not warned, with the key that accepts it: behind a Gateway on a controller
 * other than Traefik nothing counts guesses (Gateway API has no rate limit, the pod's Caddy none either), so
 * only `enabled: false` says what runs; ingress-nginx limits the token endpoint and the ping but no other
 * request with credentials, so `allowUnlimitedCredentialRequests` keeps those two limits and says the rest
 * are open. A controller the program does not know gets a warning (mootSettings.ts): the class may well be
 * Traefik's or ingress-nginx's under a name of the operator's, which only the cluster knows.
 */
function loginLimitProblems(c: ModeConfigOf<"in-cluster">): ConfigProblem[] {
    const limit = c.registry.loginLimit;
    if (!limit.enabled) return [];
    const controller = ingressControllerOf(c.inCluster);
    if (c.inCluster.exposure === "gateway" && controller !== "traefik") {
        const path = ["registry", "loginLimit", "enabled"];
        const named =
            controller === undefined
                ? "inCluster.ingressController and inCluster.ingressClass do not name Traefik"
                : `${controllerSetting(c.inCluster)} names ingress-nginx`;
        return [
            fixable(
                path,
                setting(path, false),
                (command) =>
                    `is true, but with inCluster.exposure "gateway" only Traefik's rate limits can limit password guesses, and ${named}: ` +
                    `Gateway API has no rate limit and the registry's Caddy has none, so every request with credentials would reach a password check ` +
                    `unlimited. If the Gateway's controller is Traefik, set inCluster.ingressController "traefik"; otherwise use Traefik's Ingress ` +
                    `exposure or an external host (fail2ban), or accept running with no limit on guesses: set it to false (${command})`,
            ),
        ];
    }
    if (c.inCluster.exposure === "ingress" && controller === "nginx" && !limit.allowUnlimitedCredentialRequests) {
        const path = ["registry", "loginLimit", "allowUnlimitedCredentialRequests"];
        return [
            fixable(
                path,
                setting(path, true),
                (command) =>
                    `is false, but ingress-nginx (${controllerSetting(c.inCluster)}) limits only the token endpoint and the ping: every other request ` +
                    `with credentials (a push's blob uploads and manifest PUT, a delete, a Maven deploy, a read with an account) costs the front a ` +
                    `password check, and ingress-nginx cannot limit those without limiting anonymous pulls (it chooses by path, and a manifest's ` +
                    `path is the same for a push and a pull), so guesses sent that way are unlimited. Use Traefik (inCluster.ingressController ` +
                    `"traefik" where the class is Traefik's, as on microk8s 1.35 and later) or an external host (fail2ban), or accept the token ` +
                    `endpoint's and the ping's limit alone: set it to true (${command})`,
            ),
        ];
    }
    return [];
}

/**
 * Why the named accounts (`containerRegistry.pushAccounts`, `containerRegistry.readAccounts`) cannot be
 * created as given: an existing registry's accounts are not ours; names must be unique and apart from
 * the other accounts (the users files hold them all); prefixes must lie under
 * `containerRegistry.pathPrefix`; each Jenkins credential and each pull Secret needs a slot of its own.
 */
function namedAccountProblems(c: ModeConfig): ConfigProblem[] {
    const cr = c.containerRegistry;
    const named = [
        ...cr.pushAccounts.map((account, i) => ({ list: "pushAccounts", i, account })),
        ...cr.readAccounts.map((account, i) => ({ list: "readAccounts", i, account })),
    ];
    if (named.length === 0) return [];
    const problems: ConfigProblem[] = [];
    const add = (path: PropertyKey[], message: string) => problems.push({ key: keyPath(["containerRegistry", ...path]), message });
    if (c.registry.mode === "existing") {
        for (const list of ["pushAccounts", "readAccounts"] as const) {
            if (cr[list].length > 0) {
                const path = ["containerRegistry", list];
                problems.push(
                    fixable(
                        path,
                        removal(path),
                        (command) =>
                            `is set, but registry.mode "existing" is not ours: its accounts are the organisation's. Remove it (${command})`,
                    ),
                );
            }
        }
        return problems;
    }
    const taken = new Map<string, string>([
        [cr.pushUsername, "containerRegistry.pushUsername"],
        [cr.pullUsername, "containerRegistry.pullUsername"],
        ...(c.mavenRegistry && !c.mavenRegistry.reuseContainerCredentials
            ? [[c.mavenRegistry.username, "mavenRegistry.username"] as const]
            : []),
    ]);
    for (const { list, i, account } of named) {
        const other = taken.get(account.name);
        if (other !== undefined) add([list, i, "name"], `"${account.name}" is already ${other}; give each account its own name`);
        else taken.set(account.name, `containerRegistry.${list}[${i}].name`);
    }
    for (const { list, i, account } of named) {
        if (account.password === "operator" && account.rotation !== undefined) {
            const path = ["containerRegistry", list, i, "rotation"];
            problems.push(
                fixable(
                    path,
                    removal(path),
                    (command) =>
                        `rotates a generated password, and "${account.name}" has the operator's (password: operator): change its entry in the secret dso-registry:accountPasswords instead, and remove rotation (${command})`,
                ),
            );
        }
    }
    const under = cr.pathPrefix === "" ? "" : `${cr.pathPrefix}/`;
    cr.pushAccounts.forEach((account, i) => {
        account.prefixes.forEach((prefix, j) => {
            if (!prefix.startsWith(under)) {
                const path = ["containerRegistry", "pushAccounts", i, "prefixes", j];
                problems.push(
                    fixable(
                        path,
                        setting(path, `${under}${prefix}`),
                        (command) =>
                            `"${prefix}" is not under containerRegistry.pathPrefix "${cr.pathPrefix}": write it as "${under}${prefix}" (${command})`,
                    ),
                );
            }
        });
    });
    if (c.jenkins.enabled) {
        const ids = new Map<string, string>([[cr.credentialId, "containerRegistry.credentialId"]]);
        if (c.mavenRegistry) ids.set(c.mavenRegistry.credentialId, "mavenRegistry.credentialId");
        if (c.jenkins.registryHostCredentialId) ids.set(c.jenkins.registryHostCredentialId, "jenkins.registryHostCredentialId");
        cr.pushAccounts.forEach((account, i) => {
            const id = pushAccountCredentialId(cr.credentialId, account);
            const other = ids.get(id);
            const key: PropertyKey[] = ["pushAccounts", i, account.credentialId ? "credentialId" : "name"];
            if (other !== undefined)
                add(key, `its Jenkins credential ID "${id}" is already ${other}; set pushAccounts[${i}].credentialId to another`);
            else ids.set(id, `the credential of containerRegistry.pushAccounts[${i}]`);
        });
    }
    const slots = new Map<string, string>(c.pullSecrets.namespaces.map((ns) => [`${ns}/${c.pullSecrets.secretName}`, "pullSecrets"]));
    cr.readAccounts.forEach((account, i) => {
        if (!account.pullSecret) return;
        const name = readAccountSecretName(account);
        if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name)) {
            add(["readAccounts", i, "pullSecret"], `the default Secret name "${name}" is not a Kubernetes name; set pullSecret.secretName`);
            return;
        }
        account.pullSecret.namespaces.forEach((ns, j) => {
            const other = slots.get(`${ns}/${name}`);
            if (other !== undefined)
                add(
                    ["readAccounts", i, "pullSecret", "namespaces", j],
                    `Secret ${ns}/${name} is already written by ${other}; give pullSecret.secretName another name`,
                );
            else slots.set(`${ns}/${name}`, `containerRegistry.readAccounts[${i}]`);
        });
    });
    return problems;
}

/** Retention runs with garbage collection (its removals in the window), on repositories under the registry's own path prefix. */
function retentionProblems(c: ModeConfig): ConfigProblem[] {
    const rules = c.registry.maintenance.retention.rules;
    if (rules.length === 0) return [];
    const key = (...rest: PropertyKey[]) => keyPath(["registry", "maintenance", "retention", "rules", ...rest]);
    if (c.registry.mode === "existing") {
        const path = ["registry", "maintenance", "retention", "rules"];
        return [
            fixable(
                path,
                removal(path),
                (command) => `is set, but registry.mode "existing" is not ours to clean up. Remove it (${command})`,
            ),
        ];
    }
    if (!c.registry.maintenance.garbageCollection.enabled) {
        return [
            fixable(
                ["registry", "maintenance", "retention", "rules"],
                setting(["registry", "maintenance", "garbageCollection", "enabled"], true),
                (command) =>
                    `is set, but retention runs with garbage collection (its removals inside the collection's read-only window), and registry.maintenance.garbageCollection.enabled is false: set it to true (${command}; retention starts in dry-run), or remove the rules`,
            ),
        ];
    }
    const problems: ConfigProblem[] = [];
    const pathPrefix = c.containerRegistry.pathPrefix;
    const under = pathPrefix === "" ? "" : `${pathPrefix}/`;
    rules.forEach((rule, i) => {
        if (!rule.prefix.startsWith(under)) {
            const path = ["registry", "maintenance", "retention", "rules", i, "prefix"];
            problems.push(
                fixable(
                    path,
                    setting(path, `${under}${rule.prefix}`),
                    (command) =>
                        `"${rule.prefix}" is not under containerRegistry.pathPrefix "${pathPrefix}": write it as "${under}${rule.prefix}" (${command})`,
                ),
            );
        }
        const first = rules.findIndex((r) => r.prefix === rule.prefix);
        if (first !== i) {
            problems.push({
                key: key(i, "prefix"),
                message: `"${rule.prefix}" is already the prefix of rules[${first}]: merge the two rules into one`,
            });
        }
    });
    return problems;
}

/** Backups of the registry's volume when its images live in a bucket (the shape of each mode says which destinations it takes). */
function backupProblems(c: ModeConfig): ConfigProblem[] {
    if (!isMode(c, "in-cluster") || !c.registry.maintenance.backup.enabled) return [];
    if (c.registry.storage.kind === "s3") {
        return [
            fixable(
                ["registry", "maintenance", "backup", "enabled"],
                removal(["registry", "maintenance", "backup"]),
                (command) =>
                    `backs up the registry's volume, and with registry.storage.kind "s3" the images live in the bucket instead: keep the bucket's own versions or replication, and turn the backups off (${command}; docs/in-cluster.md, Backups)`,
            ),
        ];
    }
    return [];
}
