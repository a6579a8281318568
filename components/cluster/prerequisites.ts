/**
 * What a stack needs from its cluster before it may change anything: the namespaces it writes into
 * without creating them, the APIs of the custom resources it creates, a StorageClass for each claim,
 * a default IngressClass for Ingresses that name none, the objects it patches, and the cert-manager
 * issuers its Ingresses name. Derived from the
 * Kubernetes resources the program registers (their type and plain inputs), so that the list can
 * never drift from what the program creates. Why: docs/decisions/cluster-prerequisites.md
 */

/** One Kubernetes resource as the program registers it: its Pulumi type and its plain inputs. */
export interface RegisteredObject {
    readonly type: string;
    readonly props: Readonly<Record<string, unknown>>;
}

/** Something the cluster must hold before the stack changes anything. */
export type Prerequisite =
    | { readonly kind: "namespace"; readonly name: string; readonly neededBy: readonly string[] }
    | { readonly kind: "api"; readonly apiVersion: string; readonly kinds: readonly string[]; readonly neededBy: readonly string[] }
    | { readonly kind: "default-storage-class"; readonly neededBy: readonly string[]; readonly claims: readonly Claim[] }
    | { readonly kind: "storage-class"; readonly name: string; readonly neededBy: readonly string[]; readonly claims: readonly Claim[] }
    | {
          readonly kind: "default-ingress-class";
          readonly neededBy: readonly string[];
          /** The Ingresses that name no class; only those still to be made need a default (one that exists keeps its class). */
          readonly ingresses: readonly ObjectRef[];
          /** The controller-specific annotation prefixes they carry (`nginx.ingress.kubernetes.io/`, …), sorted. */
          readonly annotationPrefixes: readonly string[];
          /** The classes the cluster has, when the check found no single default among them (the check sets it). */
          readonly found?: readonly FoundIngressClass[];
      }
    | {
          /** An IngressClass the stack's Ingresses name (with `namedIngressClasses`): without it no controller serves them. */
          readonly kind: "ingress-class";
          readonly name: string;
          readonly neededBy: readonly string[];
          /** The classes the cluster has (the check sets it). */
          readonly found?: readonly FoundIngressClass[];
      }
    | {
          readonly kind: "object";
          readonly apiVersion: string;
          readonly objectKind: string;
          readonly namespace?: string;
          readonly name: string;
          readonly neededBy: readonly string[];
      };

/** A namespaced or cluster-wide object by name. */
export interface ObjectRef {
    readonly namespace?: string;
    readonly name: string;
}

/** A claim that needs a class; one that exists already keeps the class it was made with. */
export type Claim = ObjectRef;

/** An IngressClass as the cluster lists it. */
export interface FoundIngressClass {
    readonly name: string;
    /** `spec.controller`, e.g. "traefik.io/ingress-controller". */
    readonly controller: string;
    /** Annotated `ingressclass.kubernetes.io/is-default-class: "true"`. */
    readonly isDefault: boolean;
}

/** The annotation that marks the default IngressClass: the API server gives it to an Ingress created without a class. */
export const DEFAULT_INGRESS_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class";

/**
 * Ingress controllers this program writes settings for, by the controller name their IngressClass carries:
 * the prefix of the annotations only that controller reads, and the inCluster.ingressController value that
 * makes the program write them.
 */
const KNOWN_CONTROLLERS: readonly {
    readonly controller: string;
    readonly name: string;
    readonly annotationPrefix: string;
    readonly setting: string;
}[] = [
    { controller: "k8s.io/ingress-nginx", name: "ingress-nginx", annotationPrefix: "nginx.ingress.kubernetes.io/", setting: "nginx" },
    {
        controller: "traefik.io/ingress-controller",
        name: "Traefik",
        annotationPrefix: "traefik.ingress.kubernetes.io/",
        setting: "traefik",
    },
];

/** Namespaces every cluster has. */
const BUILT_IN_NAMESPACES = new Set(["default", "kube-system", "kube-public", "kube-node-lease"]);

/** API groups every cluster serves (a custom resource's group is none of these). */
const BUILT_IN_GROUPS = new Set([
    "",
    "apps",
    "batch",
    "policy",
    "autoscaling",
    "networking.k8s.io",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "discovery.k8s.io",
    "node.k8s.io",
    "apiextensions.k8s.io",
    "admissionregistration.k8s.io",
    "certificates.k8s.io",
]);

/** Ingress annotations by which cert-manager's ingress-shim issues a certificate, and the issuer kind each names. */
const ISSUER_ANNOTATIONS: Readonly<Record<string, { readonly kind: string; readonly namespaced: boolean }>> = {
    "cert-manager.io/issuer": { kind: "Issuer", namespaced: true },
    "cert-manager.io/cluster-issuer": { kind: "ClusterIssuer", namespaced: false },
};

const CERT_MANAGER_API = "cert-manager.io/v1";

export const str = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
export const record = (value: unknown): Record<string, unknown> =>
    value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** `kubernetes:core/v1:ConfigMapPatch` → { apiVersion: "v1", kind: "ConfigMap", patch: true }. */
export function typeParts(type: string): { apiVersion: string; kind: string; patch: boolean } | undefined {
    const m = /^kubernetes:([^/:]+)\/([^:]+):(\w+)$/.exec(type);
    if (!m) return undefined;
    const [, group, version, kind] = m as unknown as [string, string, string, string];
    const patch = kind.endsWith("Patch");
    return { apiVersion: group === "core" ? version : `${group}/${version}`, kind: patch ? kind.slice(0, -"Patch".length) : kind, patch };
}

const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "");

/** What `prerequisitesOf` asks of the cluster beyond what every stack needs. */
export interface PrerequisiteOptions {
    /**
     * Each IngressClass an Ingress names must exist (the kind placement's web UI: its Ingress is served by the
     * class it names or by none). Off for the in-cluster registry, whose class may come with its controller later.
     */
    readonly namedIngressClasses?: boolean;
}

/** What the registered Kubernetes resources need from the cluster, in a stable order. */
export function prerequisitesOf(objects: readonly RegisteredObject[], options: PrerequisiteOptions = {}): Prerequisite[] {
    const created = new Set<string>();
    const namespaces = new Map<string, string[]>();
    const apis = new Map<string, { kinds: Set<string>; neededBy: string[] }>();
    const defaultClass: { label: string; claim: Claim }[] = [];
    const classes = new Map<string, { label: string; claim: Claim }[]>();
    const unclassed: { label: string; ingress: ObjectRef; prefixes: string[] }[] = [];
    const namedClasses = new Map<string, string[]>();
    const objectsNeeded = new Map<string, Extract<Prerequisite, { kind: "object" }> & { neededBy: string[] }>();
    const add = <T>(map: Map<string, T[]>, key: string, value: T) => map.set(key, [...(map.get(key) ?? []), value]);

    for (const object of objects) {
        if (!object.type.startsWith("kubernetes:")) continue;
        const props = object.props;
        const metadata = record(props.metadata);
        const parts = typeParts(object.type);
        const apiVersion = str(props.apiVersion) ?? parts?.apiVersion;
        const kind = str(props.kind) ?? parts?.kind;
        if (!apiVersion || !kind) continue;
        const name = str(metadata.name);
        const namespace = str(metadata.namespace);
        const label = `${kind} ${namespace ? `${namespace}/` : ""}${name ?? "(generated name)"}`;
        if (kind === "Namespace" && name && !parts?.patch) created.add(name);
        if (namespace && !BUILT_IN_NAMESPACES.has(namespace)) add(namespaces, namespace, label);
        if (!BUILT_IN_GROUPS.has(groupOf(apiVersion))) {
            const api = apis.get(apiVersion) ?? { kinds: new Set<string>(), neededBy: [] };
            api.kinds.add(kind);
            api.neededBy.push(label);
            apis.set(apiVersion, api);
        }
        if (parts?.patch && name) {
            const key = `${apiVersion} ${kind} ${namespace ?? ""} ${name}`;
            const entry = objectsNeeded.get(key) ?? { kind: "object", apiVersion, objectKind: kind, namespace, name, neededBy: [] };
            entry.neededBy.push(`the patch of ${label}`);
            objectsNeeded.set(key, entry);
        }
        if (kind === "PersistentVolumeClaim" && name) {
            const storageClass = record(props.spec).storageClassName;
            const need = { label, claim: { namespace, name } };
            if (storageClass === undefined || storageClass === null) defaultClass.push(need);
            else if (str(storageClass)) add(classes, storageClass as string, need);
        }
        if (kind === "Ingress") {
            const annotations = record(metadata.annotations);
            const className = str(record(props.spec).ingressClassName);
            if (className && options.namedIngressClasses) add(namedClasses, className, label);
            if (name && !className) {
                const prefixes = KNOWN_CONTROLLERS.map((c) => c.annotationPrefix).filter((prefix) =>
                    Object.keys(annotations).some((key) => key.startsWith(prefix)),
                );
                unclassed.push({ label, ingress: { namespace, name }, prefixes });
            }
            for (const [annotation, issuer] of Object.entries(ISSUER_ANNOTATIONS)) {
                const issuerName = str(annotations[annotation]);
                if (!issuerName) continue;
                const issuerNamespace = issuer.namespaced ? namespace : undefined;
                const key = `${CERT_MANAGER_API} ${issuer.kind} ${issuerNamespace ?? ""} ${issuerName}`;
                const entry = objectsNeeded.get(key) ?? {
                    kind: "object",
                    apiVersion: CERT_MANAGER_API,
                    objectKind: issuer.kind,
                    namespace: issuerNamespace,
                    name: issuerName,
                    neededBy: [],
                };
                entry.neededBy.push(`${label} (annotation ${annotation})`);
                objectsNeeded.set(key, entry);
            }
        }
    }

    const byKey = <T>(map: Map<string, T>) => [...map].sort(([a], [b]) => a.localeCompare(b));
    return [
        ...byKey(namespaces)
            .filter(([name]) => !created.has(name))
            .map(([name, neededBy]): Prerequisite => ({ kind: "namespace", name, neededBy })),
        ...byKey(apis).map(
            ([apiVersion, api]): Prerequisite => ({ kind: "api", apiVersion, kinds: [...api.kinds].sort(), neededBy: api.neededBy }),
        ),
        ...(defaultClass.length > 0
            ? [
                  {
                      kind: "default-storage-class",
                      neededBy: defaultClass.map((n) => n.label),
                      claims: defaultClass.map((n) => n.claim),
                  } as const,
              ]
            : []),
        ...byKey(classes).map(
            ([name, needs]): Prerequisite => ({
                kind: "storage-class",
                name,
                neededBy: needs.map((n) => n.label),
                claims: needs.map((n) => n.claim),
            }),
        ),
        ...(unclassed.length > 0
            ? [
                  {
                      kind: "default-ingress-class",
                      neededBy: unclassed.map((u) => u.label),
                      ingresses: unclassed.map((u) => u.ingress),
                      annotationPrefixes: [...new Set(unclassed.flatMap((u) => u.prefixes))].sort(),
                  } as const,
              ]
            : []),
        ...byKey(namedClasses).map(([name, neededBy]): Prerequisite => ({ kind: "ingress-class", name, neededBy })),
        ...byKey(objectsNeeded).map(([, entry]): Prerequisite => entry),
    ];
}

/** The classes a cluster lists, as one line: `public (traefik.io/ingress-controller, default), traefik (…)`. */
function listClasses(found: readonly FoundIngressClass[]): string {
    return found.map((c) => `${c.name} (${c.controller || "no controller"}${c.isDefault ? ", default" : ""})`).join(", ");
}

/**
 * What to tell once the cluster's one default IngressClass is known: its controller retired, or annotations
 * on the Ingresses that it ignores, with the setting that makes the program write its own.
 */
export function defaultIngressClassNotes(
    p: Extract<Prerequisite, { kind: "default-ingress-class" }>,
    defaultClass: FoundIngressClass,
    messages: IngressMessages = IN_CLUSTER_INGRESS_MESSAGES,
): string[] {
    const serving = KNOWN_CONTROLLERS.find((c) => c.controller === defaultClass.controller);
    if (!serving) return [];
    const takes = `The registry's Ingresses take the cluster's default IngressClass ${defaultClass.name}, served by ${serving.name} (${serving.controller})`;
    const notes: string[] = [];
    if (serving.setting === "nginx") {
        notes.push(
            `${takes}, which was retired upstream in March 2026 and gets no fixes, security ones included: move to a maintained controller (${messages.maintainedControllers})`,
        );
    }
    for (const other of KNOWN_CONTROLLERS) {
        if (other === serving || !p.annotationPrefixes.includes(other.annotationPrefix)) continue;
        notes.push(
            `${takes}, which ignores the ${other.name} annotations (${other.annotationPrefix}…) the program wrote on them, the login limit's and the allowlist's among them: ` +
                `set inCluster.ingressController "${serving.setting}" so that it writes ${serving.name}'s, or name a class of ${other.name} in inCluster.ingressClass`,
        );
    }
    return notes;
}

/** How to create what is missing, for the prerequisites this program has. */
const NAMESPACE_FIXES: Readonly<Record<string, string>> = {
    "flux-system": "install Flux (`flux install`), or turn pullSecrets.flux off",
};

const API_FIXES: Readonly<Record<string, string>> = {
    "monitoring.coreos.com": "install the Prometheus Operator's CRDs, or set registry.monitoring.prometheusOperator to false",
    "trust.cert-manager.io":
        'install trust-manager (https://cert-manager.io/docs/trust/trust-manager/), or set caConfigMap.delivery to "program"',
    "traefik.io": "install Traefik v3 with its CRDs, or name the ingress controller the cluster runs in inCluster.ingressController",
    "cert-manager.io": "install cert-manager (https://cert-manager.io/docs/installation/)",
    "gateway.networking.k8s.io":
        'install the Gateway API CRDs (standard channel) and a controller that implements them, or set inCluster.exposure to "ingress"',
};

/** What the messages need beyond the prerequisites: the stack the commands they print act on. */
export interface MessageContext {
    /** The stack's name, for `-s <stack>`; `<stack>` when unknown. */
    readonly stack?: string;
    /** How the stack's Ingresses are told about: the in-cluster registry's when unset. */
    readonly ingress?: IngressMessages;
}

/** The setting that names the class of the stack's Ingresses, and what to do in a cluster with no ingress controller. */
export interface IngressMessages {
    /** The key of the class (`inCluster.ingressClass`, `kind.ui.ingressClass`). */
    readonly classSetting: string;
    /** The way on when the cluster has no IngressClass at all, after "the cluster has no IngressClass, so …". */
    readonly noController: (stack: string) => string;
    /** The maintained controllers to move to from a retired one, and where the docs say how. */
    readonly maintainedControllers: string;
}

/** The in-cluster registry's: its Ingresses serve the registry itself. */
const IN_CLUSTER_INGRESS_MESSAGES: IngressMessages = {
    classSetting: "inCluster.ingressClass",
    maintainedControllers: 'Traefik, or Gateway API with inCluster.exposure "gateway"; docs/in-cluster.md, The ingress class',
    noController: (stack) =>
        `no ingress controller would serve the registry. Install one (k3s and microk8s's ingress addon bring Traefik), then name its class: ${classCommand("inCluster.ingressClass", "<name>", stack)}; or expose the registry through Gateway API (inCluster.exposure "gateway")`,
};

/** The command that names an IngressClass in the stack's config. */
function classCommand(setting: string, name: string, stack: string): string {
    return `npx pulumi config set --path 'dso-registry:${setting}' ${name} -s ${stack}`;
}

/** Why the cluster gives an Ingress no class, what it has, and the command that names one. */
function describeDefaultIngressClass(
    p: Extract<Prerequisite, { kind: "default-ingress-class" }>,
    by: string,
    context: MessageContext,
): string {
    const found = p.found ?? [];
    const defaults = found.filter((c) => c.isDefault);
    const name = found.length === 1 ? (found[0] as FoundIngressClass).name : "<name>";
    const messages = context.ingress ?? IN_CLUSTER_INGRESS_MESSAGES;
    const stack = context.stack ?? "<stack>";
    const set = classCommand(messages.classSetting, name, stack);
    const subject = `a default IngressClass (${by})`;
    if (found.length === 0) return `${subject}: the cluster has no IngressClass, so ${messages.noController(stack)}`;
    const why =
        defaults.length === 0
            ? `none of the cluster's IngressClasses is marked default (${DEFAULT_INGRESS_CLASS_ANNOTATION}: "true")`
            : `${defaults.length} of the cluster's IngressClasses are marked default (${defaults.map((c) => c.name).join(", ")}), so the API server cannot pick one`;
    return `${subject}: ${why}; the cluster has ${listClasses(found)}. Name the class: ${set}${
        defaults.length === 0
            ? ` (or mark one default: kubectl annotate ingressclass ${name} ${DEFAULT_INGRESS_CLASS_ANNOTATION}=true)`
            : ""
    }`;
}

/** One line per missing prerequisite: what it is, who needs it, and the command or setting that fixes it. */
export function describeMissing(p: Prerequisite, context: MessageContext = {}): string {
    const by = `needed by ${p.neededBy.slice(0, 3).join(", ")}${p.neededBy.length > 3 ? ` and ${p.neededBy.length - 3} more` : ""}`;
    switch (p.kind) {
        case "namespace":
            return `namespace ${p.name} (${by}): ${NAMESPACE_FIXES[p.name] ?? `kubectl create namespace ${p.name}`}`;
        case "api":
            return `the API ${p.apiVersion} (${p.kinds.join(", ")}; ${by}): ${API_FIXES[groupOf(p.apiVersion)] ?? `install the CRDs that serve ${p.apiVersion}`}`;
        case "default-storage-class":
            return `a default StorageClass (${by}): install a provisioner (microk8s enable hostpath-storage; k3s ships local-path) or mark a class default with kubectl patch storageclass <name> -p '{"metadata":{"annotations":{"storageclass.kubernetes.io/is-default-class":"true"}}}', or name a class in the stack's storageClass settings`;
        case "storage-class":
            return `StorageClass ${p.name} (${by}): create it, or name a class the cluster has (kubectl get storageclass)`;
        case "default-ingress-class":
            return describeDefaultIngressClass(p, by, context);
        case "ingress-class": {
            const messages = context.ingress ?? IN_CLUSTER_INGRESS_MESSAGES;
            const stack = context.stack ?? "<stack>";
            const found = p.found ?? [];
            if (found.length === 0)
                return `IngressClass ${p.name} (${by}): the cluster has no IngressClass, so ${messages.noController(stack)}`;
            const other = found.length === 1 ? (found[0] as FoundIngressClass).name : "<name>";
            return `IngressClass ${p.name} (${by}): the cluster has ${listClasses(found)}. Install the controller of ${p.name}, or name a class the cluster has: ${classCommand(messages.classSetting, other, stack)}`;
        }
        case "object":
            return `${p.objectKind} ${p.namespace ? `${p.namespace}/` : ""}${p.name} (${p.apiVersion}; ${by}): ${
                p.apiVersion === CERT_MANAGER_API
                    ? `install cert-manager (https://cert-manager.io/docs/installation/) if it is not, and create the ${p.objectKind}; or name one that exists in registry.tls.certManagerIssuer`
                    : "it must exist before the program can patch it"
            }`;
    }
}

/** The one message `preview` and `up` stop with. */
export function missingPrerequisitesMessage(missing: readonly Prerequisite[], context: MessageContext = {}): string {
    return [
        `The cluster lacks ${missing.length === 1 ? "something" : `${missing.length} things`} this stack needs; nothing was changed. Create each, then run the command again:`,
        ...missing.map((p) => `  - ${describeMissing(p, context)}`),
    ].join("\n");
}
