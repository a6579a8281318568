/**
 * The registry's certificate in each placement: the program's own material (a generated CA, or the
 * operator's certificate), a cert-manager issuer's in the cluster, or Caddy's ACME on the external host.
 */

import type { ExternalHostRegistrySettings, InClusterRegistrySettings, OwnTls, RegistrySettings, StackConfig } from "../config";
import type { ExternalRegistryHostArgs } from "../externalHost/externalRegistryHost";
import type { InClusterRegistryArgs } from "../inCluster/registryArgs";
import { RegistryTls } from "../tls/registryTls";
import { secret } from "./secret";

/** The stack's config once `defineStack`'s switch on registry.mode has chosen a placement: its registry settings are that mode's. */
export type StackIn<R extends RegistrySettings> = StackConfig & { readonly registry: R };

/** A placement of the registry, with the certificate material it serves when the program made it. */
export interface Placement<T> {
    readonly component: T;
    /** The CA and server certificate the program placed (generated, or the operator's); absent with ACME or cert-manager. */
    readonly tlsMaterial?: RegistryTls;
}

/** The CA and server certificate the program places itself (generated, or the operator's). */
function defineTlsMaterial(cfg: StackConfig, tls: OwnTls): RegistryTls {
    return new RegistryTls("registry-tls", {
        source: tls.mode === "generated-ca" ? "generated" : "provided",
        dnsNames: [cfg.containerRegistry.host],
        caValidityDays: tls.caValidityDays,
        serverCertValidityDays: tls.serverCertValidityDays,
        provided:
            tls.mode === "provided"
                ? { certificatePem: secret(cfg, "tlsCertificate"), privateKeyPem: secret(cfg, "tlsPrivateKey") }
                : undefined,
    });
}

/**
 * The in-cluster ingress certificate: from cert-manager (the operator's issuer, or the program's own
 * chain, whose CA the component reads back), or the program's own material in a Secret.
 */
export function inClusterTls(
    cfg: StackConfig,
    tls: InClusterRegistrySettings["tls"],
): { readonly args: InClusterRegistryArgs["tls"]; readonly material?: RegistryTls } {
    if (tls.mode === "cert-manager") {
        if (tls.issuer === "named") {
            return { args: { kind: "cert-manager", issuer: { kind: tls.certManagerIssuer.kind, name: tls.certManagerIssuer.name } } };
        }
        const { caValidityDays, serverCertValidityDays } = tls;
        return { args: { kind: "cert-manager", issuer: { kind: "chain", caValidityDays, serverCertValidityDays } } };
    }
    const material = defineTlsMaterial(cfg, tls);
    return { args: { kind: "secret", certPem: material.serverCertPem, keyPem: material.serverKeyPem }, material };
}

/** The external host's certificate: obtained by Caddy over ACME, or the program's own material placed as files. */
export function externalHostTls(
    cfg: StackConfig,
    tls: ExternalHostRegistrySettings["tls"],
): { readonly args: ExternalRegistryHostArgs["tls"]; readonly material?: RegistryTls } {
    if (tls.mode === "acme") return { args: { kind: "acme", email: tls.acmeEmail, directory: tls.acmeDirectory } };
    const material = defineTlsMaterial(cfg, tls);
    return {
        args: {
            kind: "files",
            certificatePem: material.serverCertPem,
            privateKeyPem: material.serverKeyPem,
            caCertPem: material.caCertPem,
        },
        material,
    };
}
