/** The registry beside a kind cluster (`registry.mode` "kind", docs/kind.md), on the cluster's Docker host. */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { RegistryAccounts } from "../accounts/registryAccounts";
import type { KindRegistrySettings } from "../config";
import type { Decisions } from "../config/decisions";
import { defaultKindDataDir, SYSTEM_KIND_DATA_DIR } from "../kind/dataDir";
import { KindRegistry } from "../kind/kindRegistry";
import type { HostConnection } from "../shared/hostAccess";
import { registryMirrors } from "./mirrors";
import { sshConnection } from "./secret";
import type { StackIn } from "./tls";

/** kind's kubeconfig context for cluster `name` (`kind create cluster` writes it). */
export const kindContext = (name: string) => `kind-${name}`;

/**
 * The clusters the registry serves (`kind.clusterNames`, else `kind.clusterName`, else "kind"), and a
 * Kubernetes provider for each listed cluster but the one the stack deploys to (`kubernetes:context` is
 * kind-<name>), which keeps the stack's provider and the single cluster's resource names: a stack that
 * adds clusters to the one it had sees nothing of its own replaced.
 */
export function kindClusterAccess(cfg: Pick<StackIn<KindRegistrySettings>, "registry" | "kubernetesContext" | "kubernetesKubeconfig">): {
    readonly cluster: string;
    readonly clusters?: readonly string[];
    readonly providers: Readonly<Record<string, pulumi.ProviderResource>>;
} {
    const k = cfg.registry.kind;
    const names = k.clusterNames;
    if (!names) return { cluster: k.clusterName ?? "kind", providers: {} };
    const own = names.find((name) => kindContext(name) === cfg.kubernetesContext);
    const providers: Record<string, pulumi.ProviderResource> = {};
    for (const name of names) {
        if (name === own) continue;
        providers[name] = new k8s.Provider(`kind-registry-k8s-${name}`, {
            context: kindContext(name),
            ...(cfg.kubernetesKubeconfig ? { kubeconfig: cfg.kubernetesKubeconfig } : {}),
        });
    }
    return { cluster: own ?? (names[0] as string), clusters: names, providers };
}

/** The kind placement; none in another mode. */
export function defineKindRegistry(cfg: StackIn<KindRegistrySettings>, d: Decisions, accounts: RegistryAccounts): KindRegistry {
    const k = cfg.registry.kind;
    const connection: HostConnection = k.ssh
        ? sshConnection(cfg, k.ssh)
        : // Locally, Pulumi's user runs docker and owns kind.dataDir (docs/kind.md).
          { kind: "local", name: "localhost", sudo: false };
    const clusters = kindClusterAccess(cfg);
    return new KindRegistry("kind-registry", {
        connection,
        clusterProviders: clusters.providers,
        layout: {
            cluster: clusters.cluster,
            ...(clusters.clusters ? { clusters: clusters.clusters } : {}),
            network: k.network,
            registryName: k.containerName,
            port: k.hostPort,
            dataDir:
                k.dataDir ??
                defaultKindDataDir({
                    remote: k.ssh !== undefined,
                    home: homedir(),
                    systemDirHoldsImages: k.ssh === undefined && existsSync(`${SYSTEM_KIND_DATA_DIR}/images`),
                }),
        },
        images: { distribution: cfg.registry.image, front: cfg.registry.caddyImage, watcher: k.watcherImage },
        accounts,
        requiresAuthForPull: cfg.containerRegistry.requiresAuthForPull,
        deletes: d.deletes,
        ...(cfg.registry.maintenance.garbageCollection.enabled
            ? { garbageCollection: { ...cfg.registry.maintenance.garbageCollection, ...(d.retention ? { retention: d.retention } : {}) } }
            : {}),
        ...(cfg.registry.diskGuard.enabled ? { diskGuard: { refusePercent: cfg.registry.diskGuard.refusePercent } } : {}),
        mirrors: registryMirrors(cfg),
        distributionConfig: cfg.registry.distributionConfig,
        publishLocalRegistryHosting: true,
        ...(cfg.registry.ui.enabled ? { ui: { image: cfg.registry.ui.image } } : {}),
    });
}
