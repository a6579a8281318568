/** ConfigMap `dso-registry-ca`: the CA the nodes trust, for the pods and agents that talk to the registry themselves. */
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import { RegistryCaBundle } from "../inCluster/caBundle";
import { caNamespaces, RegistryCaConfigMaps } from "../inCluster/caConfigMaps";

/**
 * ConfigMap `dso-registry-ca` with the CA the nodes trust, in Jenkins's namespace and every pull-secret
 * namespace, so agents and pods can trust the registry too: written by the program, or by trust-manager
 * from a Bundle (`caConfigMap.delivery`), under the same name and key. None when no CA is known (a
 * publicly trusted certificate, cert-manager, or a provided certificate: see docs/in-cluster.md).
 */
export function defineCaConfigMaps(cfg: StackConfig, caCertPem: pulumi.Output<string> | undefined): void {
    if (!caCertPem) return;
    const namespaces = caNamespaces({
        jenkinsNamespace: cfg.jenkins.enabled ? cfg.jenkins.pipelineConfigNamespace : undefined,
        pullSecretNamespaces: cfg.pullSecrets.namespaces,
    });
    if (namespaces.length === 0) return;
    if (cfg.caConfigMap.delivery === "trust-manager") {
        new RegistryCaBundle("registry-ca", { namespaces, caCertPem, trustNamespace: cfg.caConfigMap.trustNamespace });
        return;
    }
    new RegistryCaConfigMaps("registry-ca", { namespaces, caCertPem });
}
