/**
 * The registry's own cert-manager issuer chain (`registry.tls.mode` "cert-manager" without
 * `certManagerIssuer`): a self-signed Issuer that signs a CA Certificate, a CA Issuer on that CA's
 * Secret, and the registry's Certificate from the CA Issuer into Secret `registry-tls`, all in the
 * registry's namespace. The program reads the CA back from the CA's Secret for node trust and the
 * `dso-registry-ca` ConfigMaps: nothing is pasted by hand. Why: docs/decisions/cert-manager-chain.md
 */
import type { K8sObject } from "../shared/k8sObject";
import { labels } from "./k8sHelpers";
import { IN_CLUSTER, type IssuerChainLifetimes } from "./spec";

const API = "cert-manager.io/v1";

/** Names of the chain's objects, in the registry's namespace. */
export const ISSUER_CHAIN = {
    selfSignedIssuer: "dso-registry-selfsigned",
    /** The CA's Certificate, its Secret, and the Issuer that signs with it share this name. */
    ca: "dso-registry-ca",
    /** Key of the CA's certificate in its Secret (cert-manager writes `tls.crt`, `tls.key`, `ca.crt`). */
    caSecretKey: "tls.crt",
    /** The registry's Certificate, named as the Secret it issues into. */
    registry: IN_CLUSTER.tlsSecret,
} as const;

/**
 * Upstream pulumi-kubernetes waits for the annotation's condition after create and update, so the CA's
 * Secret exists when the program reads it.
 */
export const WAIT_FOR_READY = { "pulumi.com/waitFor": "condition=Ready" } as const;

/**
 * The registry's Certificate: Ready, and issued by cert-manager (`status.revision` is set by its first
 * issuance), before the pods that mount its Secret start (the workloads depend on it). Ready alone is not
 * enough where the Secret already holds a valid certificate for the name: moving from the generated CA,
 * cert-manager finds the program's former certificate in Secret `registry-tls`, may call it Ready, and only
 * then issues its own; a pod started in between serves the old certificate, which the nodes no longer trust
 * (seen on the engine tier's real node).
 */
export const WAIT_FOR_ISSUED = { "pulumi.com/waitFor": JSON.stringify(["condition=Ready", "jsonpath={.status.revision}"]) } as const;

const hours = (days: number) => `${days * 24}h`;

/** The chain's four objects, for a registry reached as `host` in `namespace`. */
export function renderIssuerChain(args: {
    readonly namespace: string;
    readonly host: string;
    readonly lifetimes: IssuerChainLifetimes;
}): K8sObject[] {
    const { namespace, host, lifetimes } = args;
    const meta = (name: string, annotations?: Record<string, string>) => ({
        name,
        namespace,
        labels: labels("tls"),
        ...(annotations ? { annotations: { ...annotations } } : {}),
    });
    return [
        { apiVersion: API, kind: "Issuer", metadata: meta(ISSUER_CHAIN.selfSignedIssuer), spec: { selfSigned: {} } },
        {
            apiVersion: API,
            kind: "Certificate",
            metadata: meta(ISSUER_CHAIN.ca, WAIT_FOR_READY),
            spec: {
                isCA: true,
                commonName: `dso-registry CA (${host})`,
                secretName: ISSUER_CHAIN.ca,
                duration: hours(lifetimes.caValidityDays),
                // Renewed in its last third, with the same key: certificates it signed keep verifying
                // against the CA the nodes hold while the next `pulumi up` hands them the renewed one.
                renewBefore: hours(Math.max(1, Math.floor(lifetimes.caValidityDays / 3))),
                privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Never" },
                issuerRef: { group: "cert-manager.io", kind: "Issuer", name: ISSUER_CHAIN.selfSignedIssuer },
            },
        },
        { apiVersion: API, kind: "Issuer", metadata: meta(ISSUER_CHAIN.ca), spec: { ca: { secretName: ISSUER_CHAIN.ca } } },
        {
            apiVersion: API,
            kind: "Certificate",
            metadata: meta(ISSUER_CHAIN.registry, WAIT_FOR_ISSUED),
            spec: {
                secretName: ISSUER_CHAIN.registry,
                dnsNames: [host],
                duration: hours(lifetimes.serverCertValidityDays),
                renewBefore: hours(Math.max(1, Math.floor(lifetimes.serverCertValidityDays / 3))),
                privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
                issuerRef: { group: "cert-manager.io", kind: "Issuer", name: ISSUER_CHAIN.ca },
            },
        },
    ];
}
