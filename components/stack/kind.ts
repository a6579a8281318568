/** The registry beside a kind cluster (`registry.mode` "kind", docs/kind.md), on the cluster's Docker host. */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { RegistryAccounts } from "../accounts/registryAccounts";
import type { IngressMessages, PrerequisiteOptions } from "../cluster/prerequisites";
import type { KindRegistrySettings, StackConfig } from "../config";
import type { Decisions } from "../config/decisions";
import { defaultKindDataDir, SYSTEM_KIND_DATA_DIR } from "../kind/dataDir";
import { KindRegistry, type KindRegistryArgs } from "../kind/kindRegistry";
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

/** The web UI's args: in the cluster behind its ingress (`kind.ui.servedBy` "ingress", the default), or served by the front. */
function kindUi(cfg: StackIn<KindRegistrySettings>, image: string): NonNullable<KindRegistryArgs["ui"]> {
    const ui = cfg.registry.kind.ui;
    if (ui.servedBy === "front") return { image };
    return {
        image,
        ingress: {
            host: ui.host,
            port: ui.port,
            namespace: ui.namespace,
            createNamespace: ui.createNamespace,
            ...(ui.ingressClass ? { ingressClass: ui.ingressClass } : {}),
        },
    };
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
        ...(cfg.registry.ui.enabled ? { ui: kindUi(cfg, cfg.registry.ui.image) } : {}),
    });
}

/** The Traefik install that serves the web UI in a kind cluster made with docs/examples/kind-cluster.yaml (docs/kind.md#the-web-ui). */
export const KIND_TRAEFIK_INSTALL = [
    "helm repo add traefik https://traefik.github.io/charts",
    "helm install traefik traefik/traefik --namespace traefik --create-namespace --set providers.kubernetesIngress.allowExternalNameServices=true --set ports.web.hostPort=80 --set nodeSelector.ingress-ready=true --set 'tolerations[0].key=node-role.kubernetes.io/control-plane' --set 'tolerations[0].operator=Exists' --set 'tolerations[0].effect=NoSchedule'",
].join(" && ");

/**
 * What the cluster check asks and says for the kind placement: the class the web UI's Ingress names must exist,
 * and a cluster without an ingress controller is told how to install one, or to let the front serve the UI.
 */
export function kindGateOptions(cfg: Pick<StackConfig, "registry">): {
    readonly prerequisites?: PrerequisiteOptions;
    readonly ingress?: IngressMessages;
} {
    if (cfg.registry.mode !== "kind") return {};
    const hostPort = cfg.registry.kind.hostPort;
    return {
        prerequisites: { namedIngressClasses: true },
        ingress: {
            classSetting: "kind.ui.ingressClass",
            maintainedControllers: "Traefik, installed as docs/kind.md, The web UI, says",
            noController: (stack) =>
                `no ingress controller would serve the web UI (kind.ui.servedBy "ingress"). Install one that allows ExternalName Services, on a cluster made with docs/examples/kind-cluster.yaml (docs/kind.md, "The web UI"): ${KIND_TRAEFIK_INSTALL}; ` +
                `or let the registry's front serve the UI at http://localhost:${hostPort}/registry/: npx pulumi config set --path 'dso-registry:kind.ui.servedBy' front -s ${stack}`,
        },
    };
}
