/**
 * The in-cluster registry's one resolve step (`resolveInClusterRegistry`): from the args a stack or a library
 * user gives (`InClusterRegistryArgs`, ./registryArgs.ts), every default applied and every value the rest of
 * the component derives from them, once. The pod's files (./podFiles.ts), the plan (./registryPlan.ts) and the
 * renderers' spec read this and nothing else of the args.
 */
import * as pulumi from "@pulumi/pulumi";
import { clusterMirror, clusterMirrorClaimName, clusterMirrorName } from "../mirrors/mirrorManifests";
import {
    DEFAULT_GC_SCHEDULE,
    DEFAULT_IMAGES,
    DEFAULT_IN_CLUSTER_NAMESPACE,
    DEFAULT_KUBECTL_IMAGE,
    DEFAULT_PROBE_IMAGE,
    DEFAULT_STORAGE_SIZE,
} from "../shared/defaults";
import { frontUsers, resolveFront } from "../shared/front";
import { inClusterDiskGuard } from "./diskGuard";
import { ISSUER_CHAIN } from "./issuerChain";
import type { InClusterRegistryArgs, InClusterRegistryStorage } from "./registryArgs";
import type { InClusterBackup, InClusterTls } from "./spec";

/** The renderers' TLS from the component's: keys secret, the chain's CA Issuer named as the operator's would be. */
function resolveTls(tls: InClusterRegistryArgs["tls"]): InClusterTls {
    if (tls.kind === "secret") return { ...tls, keyPem: pulumi.secret(tls.keyPem) };
    const { issuer } = tls;
    if (issuer.kind !== "chain") return { kind: "cert-manager", issuerKind: issuer.kind, issuerName: issuer.name };
    const { caValidityDays, serverCertValidityDays } = issuer;
    return { kind: "cert-manager", issuerKind: "Issuer", issuerName: ISSUER_CHAIN.ca, chain: { caValidityDays, serverCertValidityDays } };
}

/** Where Distribution keeps images, its size decided (filesystem) or its credentials kept secret (s3). */
function resolveStorage(
    storage: InClusterRegistryStorage = { kind: "filesystem" },
):
    | { readonly kind: "filesystem"; readonly size: string; readonly storageClass?: string }
    | Exclude<InClusterRegistryStorage, { readonly kind: "filesystem" }> {
    if (storage.kind === "filesystem") return { ...storage, size: storage.size ?? DEFAULT_STORAGE_SIZE };
    const { accessKeyId, secretAccessKey } = storage.credentials;
    return { ...storage, credentials: { accessKeyId: pulumi.secret(accessKeyId), secretAccessKey: pulumi.secret(secretAccessKey) } };
}

/** The backups with their password and bucket credentials kept secret. */
function resolveBackup(backup: InClusterBackup): InClusterBackup {
    return {
        ...backup,
        repositoryPassword: pulumi.secret(backup.repositoryPassword),
        s3: backup.s3 && {
            accessKeyId: pulumi.secret(backup.s3.accessKeyId),
            secretAccessKey: pulumi.secret(backup.s3.secretAccessKey),
        },
    };
}

/**
 * The args resolved: the defaults each one's `@default` documents (the stack config's defaults too,
 * components/shared/defaults.ts), the front's (`resolveFront`) first, and what the component derives from
 * them: the users files' accounts (`frontUsers`), the caches in the cluster's form (`clusterMirror`), the
 * certificate's source and the secrets as the renderers take them, the disk guard where the pod has a
 * volume to fill (`inClusterDiskGuard`), and the caches' claims that monitoring watches. A setting given is
 * kept as given. Pure: it registers nothing.
 */
export function resolveInClusterRegistry(args: InClusterRegistryArgs) {
    const front = resolveFront(args);
    const storage = resolveStorage(args.storage);
    const mirrors = (args.mirrors ?? []).map(clusterMirror);
    const diskGuard = inClusterDiskGuard({ storage, maven: args.maven, diskGuard: args.diskGuard });
    const { monitoring } = args;
    return {
        host: args.host,
        port: args.port ?? 443,
        namespace: args.namespace ?? DEFAULT_IN_CLUSTER_NAMESPACE,
        ingressClass: args.ingressClass,
        ingressController: args.ingressController,
        ...(args.gateway ? { gateway: args.gateway } : {}),
        ...(args.networkPolicy ? { networkPolicy: args.networkPolicy } : {}),
        ...(args.loginLimit ? { loginLimit: args.loginLimit } : {}),
        images: {
            registry: args.images?.registry ?? DEFAULT_IMAGES.registry,
            caddy: args.images?.caddy ?? DEFAULT_IMAGES.caddy,
            ui: args.images?.ui ?? DEFAULT_IMAGES.ui,
            kubectl: args.images?.kubectl ?? DEFAULT_KUBECTL_IMAGE,
        },
        storage,
        requiresAuthForPull: front.requiresAuthForPull,
        mirrorsRequireAuth: front.mirrorsRequireAuth,
        deletes: front.deletes,
        allowedNetworks: front.allowedNetworks,
        /** The front's two users files' accounts and the scopes (`frontUsers`). */
        users: frontUsers(args.accounts),
        ui: { enabled: args.ui?.enabled ?? false, deleteEnabled: front.deletes.ui },
        garbageCollection: {
            enabled: args.garbageCollection?.enabled ?? false,
            schedule: args.garbageCollection?.schedule ?? DEFAULT_GC_SCHEDULE,
            deleteUntagged: args.garbageCollection?.deleteUntagged ?? false,
        },
        ...(args.retention ? { retention: args.retention } : {}),
        replicas: args.replicas ?? 1,
        ...(args.pod ? { pod: args.pod } : {}),
        publishLocalRegistryHosting: args.publishLocalRegistryHosting ?? true,
        tls: resolveTls(args.tls),
        ...(args.maven ? { maven: args.maven } : {}),
        /** The caches in the cluster's form (`clusterMirror`). */
        mirrors,
        ...(args.backup ? { backup: resolveBackup(args.backup) } : {}),
        ...(args.distributionConfig ? { distributionConfig: args.distributionConfig } : {}),
        ...(diskGuard ? { diskGuard } : {}),
        ...(monitoring
            ? {
                  monitoring: {
                      ...monitoring,
                      prometheusOperator: monitoring.prometheusOperator ?? false,
                      probeImage: monitoring.probeImage ?? DEFAULT_PROBE_IMAGE,
                      cacheClaims: mirrors.map((m) => clusterMirrorClaimName(clusterMirrorName(m.spec), m.spec.maxSize)),
                  },
              }
            : {}),
    };
}

/** What `resolveInClusterRegistry` returns: what the rest of the component reads. */
export type ResolvedInClusterRegistry = ReturnType<typeof resolveInClusterRegistry>;
