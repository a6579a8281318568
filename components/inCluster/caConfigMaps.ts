/**
 * The registry's CA as a ConfigMap (`dso-registry-ca`, key `ca.crt`) in the namespaces where pods
 * talk to the registry themselves: Jenkins's agents (the pipeline-config's namespace) and every
 * namespace the stack gives pull secrets. Agents mount it to trust the registry (docker's
 * `certs.d/<host>/ca.crt`, buildah/podman, skopeo `--cert-dir`, a Java trust store). The data comes
 * from the same CA output the nodes are given, so a new CA updates every copy on the next `pulumi up`.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { MANAGED_LABELS } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import type { K8sObject, Value } from "../shared/k8sObject";
import { typeToken } from "../shared/typeToken";

export const CA_CONFIG_MAP = { name: "dso-registry-ca", key: "ca.crt" } as const;

export interface CaConfigMapsSpec {
    /** The namespaces, in order; a namespace named twice gets one ConfigMap. */
    readonly namespaces: readonly string[];
    /** The CA certificate (PEM) clients must trust. */
    readonly caCertPem: Value;
}

/** The namespaces that get the CA: Jenkins's (when the stack manages Jenkins) and every pull-secret namespace, once each. */
export function caNamespaces(args: { readonly jenkinsNamespace?: string; readonly pullSecretNamespaces: readonly string[] }): string[] {
    const all = [...(args.jenkinsNamespace ? [args.jenkinsNamespace] : []), ...args.pullSecretNamespaces];
    return all.filter((n, i) => all.indexOf(n) === i);
}

export function renderCaConfigMaps(spec: CaConfigMapsSpec): K8sObject[] {
    return caNamespaces({ pullSecretNamespaces: spec.namespaces }).map(
        (namespace) =>
            ({
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: {
                    name: CA_CONFIG_MAP.name,
                    namespace,
                    labels: { "app.kubernetes.io/component": "ca", "app.kubernetes.io/name": "registry", ...MANAGED_LABELS },
                },
                data: { [CA_CONFIG_MAP.key]: spec.caCertPem },
            }) satisfies k8s.types.input.core.v1.ConfigMap,
    );
}

const REGISTRY_CA_CONFIG_MAPS_TYPE = typeToken("inCluster", "RegistryCaConfigMaps");

/** Registers `renderCaConfigMaps`'s objects; the namespaces must exist. */
export class RegistryCaConfigMaps extends pulumi.ComponentResource {
    constructor(name: string, spec: CaConfigMapsSpec, opts?: pulumi.ComponentResourceOptions) {
        super(REGISTRY_CA_CONFIG_MAPS_TYPE, name, {}, withFormerType(opts, "dso:registry:RegistryCaConfigMaps"));
        for (const object of renderCaConfigMaps(spec)) {
            const { apiVersion: _apiVersion, kind: _kind, ...body } = object;
            new k8s.core.v1.ConfigMap(`${name}-${object.metadata.namespace}`, body as k8s.core.v1.ConfigMapArgs, { parent: this });
        }
        this.registerOutputs({});
    }
}
