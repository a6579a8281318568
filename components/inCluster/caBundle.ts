/**
 * The registry's CA published through cert-manager's trust-manager (`caConfigMap.delivery`
 * "trust-manager"): a Bundle `dso-registry-ca` whose target is ConfigMap `dso-registry-ca`, key `ca.crt`,
 * the name and key the program writes itself otherwise, in the same namespaces, so the agent pod
 * templates stay as they are. The Bundle's one source is ConfigMap `dso-registry-ca-source` in
 * trust-manager's trust namespace (trust-manager reads sources only there). A new CA changes that
 * source on the next `pulumi up`, and trust-manager rewrites every copy.
 *
 * trust-manager chooses target namespaces by label only. The API server labels every namespace
 * `kubernetes.io/metadata.name: <its name>` (Kubernetes 1.21 and later), so the namespaces the stack
 * names are selected by that label, without labelling namespaces the program does not own. One
 * namespace is selected with `matchLabels`, which every trust-manager with a namespace selector reads;
 * several need `matchExpressions` (operator In), which trust-manager reads since
 * cert-manager/trust-manager#476 (November 2024). An older Bundle CRD drops the field it does not know,
 * and an empty selector chooses every namespace: docs/in-cluster.md says how to check.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MANAGED_LABELS } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import type { K8sObject, Value } from "../shared/k8sObject";
import { typeToken } from "../shared/typeToken";
import { CA_CONFIG_MAP, caNamespaces } from "./caConfigMaps";

/** trust-manager's API group and version of Bundle (cluster-scoped). */
export const BUNDLE_API_VERSION = "trust.cert-manager.io/v1alpha1";

/** The Bundle's source: a ConfigMap in the trust namespace holding the CA. */
export const CA_BUNDLE_SOURCE = { name: `${CA_CONFIG_MAP.name}-source`, key: CA_CONFIG_MAP.key } as const;

/** The label the API server gives every namespace, holding its name. */
export const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";

const LABELS = { "app.kubernetes.io/component": "ca", "app.kubernetes.io/name": "registry", ...MANAGED_LABELS } as const;

export interface CaBundleSpec {
    /** The namespaces that get ConfigMap `dso-registry-ca`, in order; at least one. */
    readonly namespaces: readonly string[];
    /** The CA certificate (PEM) clients must trust. */
    readonly caCertPem: Value;
    /** trust-manager's trust namespace (Helm value `app.trust.namespace`, "cert-manager" by default). */
    readonly trustNamespace: string;
}

/** A label selector that chooses exactly the named namespaces (see the file's comment for the two forms). */
export function namespacesByName(namespaces: readonly string[]): Record<string, unknown> {
    if (namespaces.length === 1) return { matchLabels: { [NAMESPACE_NAME_LABEL]: namespaces[0]! } };
    return { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "In", values: [...namespaces] }] };
}

/** The source ConfigMap in the trust namespace, then the Bundle that reads it. */
export function renderCaBundle(spec: CaBundleSpec): K8sObject[] {
    const namespaces = caNamespaces({ pullSecretNamespaces: spec.namespaces });
    if (namespaces.length === 0)
        throw new Error("renderCaBundle: at least one namespace is needed; an empty selector chooses every namespace");
    const source = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: CA_BUNDLE_SOURCE.name, namespace: spec.trustNamespace, labels: { ...LABELS } },
        data: { [CA_BUNDLE_SOURCE.key]: spec.caCertPem },
    } satisfies k8s.types.input.core.v1.ConfigMap;
    const bundle: K8sObject = {
        apiVersion: BUNDLE_API_VERSION,
        kind: "Bundle",
        // The Bundle's name is the target ConfigMap's name.
        metadata: { name: CA_CONFIG_MAP.name, labels: { ...LABELS } },
        spec: {
            sources: [{ configMap: { name: CA_BUNDLE_SOURCE.name, key: CA_BUNDLE_SOURCE.key } }],
            target: {
                configMap: { key: CA_CONFIG_MAP.key },
                namespaceSelector: namespacesByName(namespaces),
            },
        },
    };
    return [source, bundle];
}

/** trust-manager's Bundle, a custom resource: its apiVersion and kind travel with the object. */
class TrustManagerBundle extends k8s.apiextensions.CustomResource {
    constructor(
        name: string,
        args: Omit<k8s.apiextensions.CustomResourceArgs, "apiVersion" | "kind">,
        opts?: pulumi.CustomResourceOptions,
    ) {
        super(name, { apiVersion: BUNDLE_API_VERSION, kind: "Bundle", ...args }, opts);
    }
}

const REGISTRY_CA_BUNDLE_TYPE = typeToken("inCluster", "RegistryCaBundle");

/** Registers `renderCaBundle`'s objects; trust-manager (its Bundle CRD) and the trust namespace must exist. */
export class RegistryCaBundle extends pulumi.ComponentResource {
    constructor(name: string, spec: CaBundleSpec, opts?: pulumi.ComponentResourceOptions) {
        super(REGISTRY_CA_BUNDLE_TYPE, name, {}, withFormerType(opts, "dso:registry:RegistryCaBundle"));
        const [source, bundle] = renderCaBundle(spec);
        const { apiVersion: _sv, kind: _sk, ...sourceBody } = source!;
        const sourceMap = new k8s.core.v1.ConfigMap(`${name}-source`, sourceBody as k8s.core.v1.ConfigMapArgs, { parent: this });
        const { apiVersion: _bv, kind: _bk, ...bundleBody } = bundle!;
        // The source first: a Bundle whose source is missing reports a failed sync until it appears.
        new TrustManagerBundle(`${name}-bundle`, bundleBody, { parent: this, dependsOn: [sourceMap] });
        this.registerOutputs({});
    }
}
