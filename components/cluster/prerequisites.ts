/**
 * What a stack needs from its cluster before it may change anything: the namespaces it writes into
 * without creating them, the APIs of the custom resources it creates, a StorageClass for each claim,
 * the objects it patches, and the cert-manager issuers its Ingresses name. Derived from the
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
          readonly kind: "object";
          readonly apiVersion: string;
          readonly objectKind: string;
          readonly namespace?: string;
          readonly name: string;
          readonly neededBy: readonly string[];
      };

/** A claim that needs a class; one that exists already keeps the class it was made with. */
export interface Claim {
    readonly namespace?: string;
    readonly name: string;
}

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

const str = (value: unknown): string | undefined => (typeof value === "string" && value !== "" ? value : undefined);
const record = (value: unknown): Record<string, unknown> =>
    value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};

/** `kubernetes:core/v1:ConfigMapPatch` → { apiVersion: "v1", kind: "ConfigMap", patch: true }. */
function typeParts(type: string): { apiVersion: string; kind: string; patch: boolean } | undefined {
    const m = /^kubernetes:([^/:]+)\/([^:]+):(\w+)$/.exec(type);
    if (!m) return undefined;
    const [, group, version, kind] = m as unknown as [string, string, string, string];
    const patch = kind.endsWith("Patch");
    return { apiVersion: group === "core" ? version : `${group}/${version}`, kind: patch ? kind.slice(0, -"Patch".length) : kind, patch };
}

const groupOf = (apiVersion: string) => (apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.lastIndexOf("/")) : "");

/** What the registered Kubernetes resources need from the cluster, in a stable order. */
export function prerequisitesOf(objects: readonly RegisteredObject[]): Prerequisite[] {
    const created = new Set<string>();
    const namespaces = new Map<string, string[]>();
    const apis = new Map<string, { kinds: Set<string>; neededBy: string[] }>();
    const defaultClass: { label: string; claim: Claim }[] = [];
    const classes = new Map<string, { label: string; claim: Claim }[]>();
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
        ...byKey(objectsNeeded).map(([, entry]): Prerequisite => entry),
    ];
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

/** One line per missing prerequisite: what it is, who needs it, and the command or setting that fixes it. */
export function describeMissing(p: Prerequisite): string {
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
        case "object":
            return `${p.objectKind} ${p.namespace ? `${p.namespace}/` : ""}${p.name} (${p.apiVersion}; ${by}): ${
                p.apiVersion === CERT_MANAGER_API
                    ? `install cert-manager (https://cert-manager.io/docs/installation/) if it is not, and create the ${p.objectKind}; or name one that exists in registry.tls.certManagerIssuer`
                    : "it must exist before the program can patch it"
            }`;
    }
}

/** The one message `preview` and `up` stop with. */
export function missingPrerequisitesMessage(missing: readonly Prerequisite[]): string {
    return [
        `The cluster lacks ${missing.length === 1 ? "something" : `${missing.length} things`} this stack needs; nothing was changed. Create each, then run the command again:`,
        ...missing.map((p) => `  - ${describeMissing(p)}`),
    ].join("\n");
}
