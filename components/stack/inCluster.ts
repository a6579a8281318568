/** The in-cluster registry (`registry.mode` "in-cluster"), its backups, and its name inside pods. */
import type { RegistryAccounts } from "../accounts/registryAccounts";
import type { InClusterRegistrySettings } from "../config";
import type { Decisions } from "../config/decisions";
import { ingressControllerOf } from "../config/settings";
import { ClusterDns } from "../inCluster/clusterDns";
import { InClusterRegistry } from "../inCluster/inClusterRegistry";
import { resolveNetworkPolicy } from "../inCluster/networkPolicy";
import type { InClusterRegistryArgs } from "../inCluster/registryArgs";
import type { InClusterBackup } from "../inCluster/spec";
import type { AgeRotation } from "./accounts";
import { backupCommon } from "./backup";
import { inClusterMaven } from "./maven";
import { registryMirrors } from "./mirrors";
import { secret } from "./secret";
import { inClusterTls, type Placement, type StackIn } from "./tls";

/** The registry in the cluster, behind its ingress; none in another mode. */
export function defineInClusterRegistry(
    cfg: StackIn<InClusterRegistrySettings>,
    d: Decisions,
    accounts: RegistryAccounts,
    ageRotation?: AgeRotation,
): Placement<InClusterRegistry> {
    const tls = inClusterTls(cfg, cfg.registry.tls);
    const component = new InClusterRegistry("registry", inClusterRegistryArgs(cfg, d, { accounts, tls: tls.args, ageRotation }));
    return { component, tlsMaterial: tls.material };
}

/**
 * The in-cluster registry's args, from the stack's config and decisions: the one mapping of the stack file onto
 * the component, which the stack uses and the tests build the component from. It registers nothing: what it
 * takes that is made of resources (the accounts, the certificate's source from `inClusterTls`) comes in `made`.
 */
export function inClusterRegistryArgs(
    cfg: StackIn<InClusterRegistrySettings>,
    d: Decisions,
    made: { readonly accounts: RegistryAccounts; readonly tls: InClusterRegistryArgs["tls"]; readonly ageRotation?: AgeRotation },
): InClusterRegistryArgs {
    const { accounts, ageRotation } = made;
    const { registry: r, containerRegistry: cr } = cfg;
    const { inCluster } = r;
    return {
        host: cr.host,
        port: cr.port,
        requiresAuthForPull: cr.requiresAuthForPull,
        mirrorsRequireAuth: d.pullCredentials?.cachesNeedCredentials ?? false,
        namespace: inCluster.namespace,
        ingressClass: inCluster.ingressClass,
        ingressController: inCluster.ingressController,
        ...(inCluster.exposure === "gateway" ? { gateway: inCluster.gateway } : {}),
        networkPolicy: resolveNetworkPolicy(inCluster.networkPolicy, {
            controller: ingressControllerOf(inCluster),
            proxyNetworks: inCluster.exposure === "gateway" ? inCluster.gateway.proxyNetworks : [],
            objectStore: r.storage.kind === "s3" || (r.maintenance.backup.enabled && r.maintenance.backup.destination.kind === "s3"),
        }),
        images: { registry: r.image, caddy: r.caddyImage, ui: r.ui.enabled ? r.ui.image : undefined, kubectl: inCluster.kubectlImage },
        storage:
            r.storage.kind === "s3"
                ? {
                      kind: "s3",
                      ...r.storage.s3,
                      credentials: { accessKeyId: secret(cfg, "s3AccessKeyId"), secretAccessKey: secret(cfg, "s3SecretAccessKey") },
                  }
                : { kind: "filesystem", size: r.storage.size, storageClass: r.storage.storageClass },
        allowedNetworks: r.allowedNetworks,
        ...(r.loginLimit.enabled ? { loginLimit: r.loginLimit } : {}),
        ui: { enabled: r.ui.enabled },
        garbageCollection: r.maintenance.garbageCollection,
        ...(d.retention ? { retention: d.retention } : {}),
        replicas: r.replicas,
        pod: inCluster.pod,
        publishLocalRegistryHosting: inCluster.publishLocalRegistryHosting,
        accounts,
        deletes: d.deletes,
        tls: made.tls,
        maven: d.mavenServed ? inClusterMaven(cfg, accounts) : undefined,
        mirrors: registryMirrors(cfg),
        backup: inClusterBackup(cfg),
        // With s3 storage the component runs no guard: no volume of the registry's to fill.
        ...(r.diskGuard.enabled ? { diskGuard: { refusePercent: r.diskGuard.refusePercent } } : {}),
        distributionConfig: r.distributionConfig,
        ...(r.monitoring.enabled
            ? { monitoring: { ...r.monitoring, ...(ageRotation ? { passwordsRotationDue: ageRotation.due.getTime() / 1000 } : {}) } }
            : {}),
    };
}

/** The in-cluster registry's backups from `registry.maintenance.backup` (to S3 or a volume of its own), or none. */
function inClusterBackup(cfg: StackIn<InClusterRegistrySettings>): InClusterBackup | undefined {
    const backup = cfg.registry.maintenance.backup;
    if (!backup.enabled) return undefined;
    const { destination: d } = backup;
    const common = { image: backup.image, ...backupCommon(cfg, backup) };
    if (d.kind === "volume") return { ...common, destination: d };
    return {
        ...common,
        destination: d,
        s3: { accessKeyId: secret(cfg, "backupS3AccessKeyId"), secretAccessKey: secret(cfg, "backupS3SecretAccessKey") },
    };
}

/**
 * The registry's host name inside pods (`inCluster.clusterDns`): the cluster's CoreDNS answers it with
 * the TLS Service's ClusterIP, so pods reach the same front, with the same certificate, as nodes.
 */
export function defineClusterDns(cfg: StackIn<InClusterRegistrySettings>, registry: InClusterRegistry): void {
    const dns = cfg.registry.inCluster.clusterDns;
    if (dns.flavour === "none") return;
    new ClusterDns("cluster-dns", {
        flavour: dns.flavour,
        host: cfg.containerRegistry.host,
        clusterIp: registry.tlsServiceClusterIp,
        // The cluster Pulumi deploys to: kubectl's own current context may be another one.
        kubectlContext: dns.kubectlContext ?? cfg.kubernetesContext,
    });
}
