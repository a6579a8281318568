/**
 * The registry pod's namespace and what the pod reads: its ServiceAccount, Secrets, ConfigMap and
 * the claims of its volumes.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { K8sObject, Value } from "../shared/k8sObject";
import { CLAIM_ANNOTATIONS, persistentClaim } from "../shared/persistentClaim";
import { pullHistoryDays } from "../upkeep/retention";
import { gcWindow } from "./gcWindow";
import { labels, meta, secret } from "./k8sHelpers";
import { PULL_HISTORY, pullHistoryKept, pullMergeScript } from "./pullHistory";
import { retentionCountsServed } from "./retentionCounts";
import { IN_CLUSTER, type InClusterSpec, OVERLAP_FILES } from "./spec";
import { inClusterGcStepScript, inClusterRetentionScript, inClusterVerifyScript, mavenGcScript } from "./upkeep";

/** The registry's namespace, which enforces the "restricted" Pod Security Standard. */
export function renderNamespace(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
            name: spec.namespace,
            labels: {
                ...labels("namespace"),
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/enforce": "restricted",
            },
        },
    } satisfies k8s.types.input.core.v1.Namespace;
}
/** Every Secret the registry needs; values stay Outputs (secret) in the component. */
/**
 * cert-manager's issuer annotations on the program's own TLS Secret (the generated CA's certificate, or one
 * provided): a Certificate that later names the Secret (`registry.tls.mode` moved to cert-manager) finds an
 * issuer other than its own and issues at once. Without them cert-manager takes a Secret whose certificate is
 * valid for the name as its own and calls it Ready, and the registry's pods, started on it, keep serving the
 * program's certificate while the nodes get cert-manager's CA (seen on the engine tier's real node).
 */
export const NOT_ISSUED_BY_CERT_MANAGER = {
    "cert-manager.io/issuer-name": "dso-registry",
    "cert-manager.io/issuer-kind": "PulumiProgram",
} as const;

/** The overlap's files in the users Secret, by key (OVERLAP_FILES); none without an overlap. */
export function overlapSecretData(spec: InClusterSpec): Record<string, Value> {
    const o = spec.users.overlap;
    if (!o) return {};
    return {
        [OVERLAP_FILES.matchers]: o.matchers,
        [OVERLAP_FILES.push]: o.push,
        [OVERLAP_FILES.pull]: o.pull,
        ...(o.mavenDeploy !== undefined ? { [OVERLAP_FILES.mavenDeploy]: o.mavenDeploy } : {}),
    };
}

export function renderSecrets(spec: InClusterSpec): K8sObject[] {
    const secrets = [
        secret(IN_CLUSTER.htpasswdSecret, spec, "registry", {
            htpasswd: spec.users.htpasswd,
            push: spec.users.push,
            pull: spec.users.pull,
            ...(spec.maven ? { "maven-deploy": spec.maven.deployUsers } : {}),
            ...overlapSecretData(spec),
        }),
        secret(IN_CLUSTER.httpSecret, spec, "registry", { secret: spec.httpSecret }),
    ];
    if (spec.storage.kind === "s3") {
        secrets.push(
            secret(IN_CLUSTER.s3Secret, spec, "registry", {
                accessKeyId: spec.storage.accessKeyId,
                secretAccessKey: spec.storage.secretAccessKey,
            }),
        );
    }
    if (spec.tls.kind === "secret") {
        const tlsSecret = secret(
            IN_CLUSTER.tlsSecret,
            spec,
            "ingress",
            { "tls.crt": spec.tls.certPem, "tls.key": spec.tls.keyPem },
            "kubernetes.io/tls",
        );
        secrets.push({ ...tlsSecret, metadata: { ...tlsSecret.metadata, annotations: { ...NOT_ISSUED_BY_CERT_MANAGER } } });
    }
    return secrets;
}

/** The files the pod reads (Caddyfile, Distribution's config, Maven's nginx.conf) and the scripts the GC job runs in it. */
export function renderConfigMap(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: meta(IN_CLUSTER.configMap, spec.namespace, "registry"),
        data: {
            Caddyfile: spec.caddyfile,
            "config.yml": spec.registryConfig,
            ...(spec.maven ? { "maven-nginx.conf": spec.maven.nginxConfig } : {}),
            ...(spec.maven && spec.garbageCollection.enabled ? { [IN_CLUSTER.mavenGcScript]: mavenGcScript(spec.maven) } : {}),
            ...(gcWindow(spec) === "marker"
                ? {
                      [IN_CLUSTER.gcStepScript]: inClusterGcStepScript(
                          spec.garbageCollection.deleteUntagged,
                          spec.storage.kind,
                          spec.retention !== undefined,
                      ),
                  }
                : {}),
            ...(spec.garbageCollection.enabled && spec.retention
                ? {
                      [IN_CLUSTER.retentionScript]: inClusterRetentionScript(
                          spec.namespace,
                          spec.storage.kind,
                          spec.retention,
                          retentionCountsServed(spec),
                      ),
                  }
                : {}),
            ...(pullHistoryKept(spec) ? { [PULL_HISTORY.mergeScript]: pullMergeScript(pullHistoryDays(spec.retention) ?? 0) } : {}),
            ...(spec.garbageCollection.enabled
                ? { [IN_CLUSTER.verifyScript]: inClusterVerifyScript(spec.namespace, spec.storage.kind) }
                : {}),
        },
    } satisfies k8s.types.input.core.v1.ConfigMap;
}

/** The registry's volume (filesystem storage only): a PVC that outlives the pods. */
export function renderDataClaim(spec: InClusterSpec): K8sObject | undefined {
    if (spec.storage.kind !== "filesystem") return undefined;
    return persistentClaim(
        meta(IN_CLUSTER.dataClaim, spec.namespace, "registry", CLAIM_ANNOTATIONS),
        spec.storage.size,
        spec.storage.storageClass,
    );
}

/** The Maven repository's files: kept like the registry's (a PVC that outlives the pods). */
export function renderMavenClaim(spec: InClusterSpec): K8sObject | undefined {
    if (!spec.maven) return undefined;
    return persistentClaim(
        meta(IN_CLUSTER.mavenClaim, spec.namespace, "maven", CLAIM_ANNOTATIONS),
        spec.maven.size,
        spec.maven.storageClass,
    );
}

/** The pod's ServiceAccount, without an API token. */
export function renderServiceAccount(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "registry"),
        // The registry never talks to the Kubernetes API.
        automountServiceAccountToken: false,
    } satisfies k8s.types.input.core.v1.ServiceAccount;
}
