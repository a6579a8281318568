/** The registry beside a kind cluster (`registry.mode` "kind", docs/kind.md), on the cluster's Docker host. */
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import type { RegistryAccounts } from "../accounts/registryAccounts";
import type { KindRegistrySettings } from "../config";
import type { Decisions } from "../config/decisions";
import { defaultKindDataDir, SYSTEM_KIND_DATA_DIR } from "../kind/dataDir";
import { KindRegistry } from "../kind/kindRegistry";
import { needsSudo } from "../shared/facts";
import type { HostConnection } from "../shared/hostAccess";
import { registryMirrors } from "./mirrors";
import { secret } from "./secret";
import type { StackIn } from "./tls";

/** The kind placement; none in another mode. */
export function defineKindRegistry(cfg: StackIn<KindRegistrySettings>, d: Decisions, accounts: RegistryAccounts): KindRegistry {
    const k = cfg.registry.kind;
    const connection: HostConnection = k.ssh
        ? {
              kind: "ssh",
              name: k.ssh.host,
              host: k.ssh.host,
              port: k.ssh.port,
              user: k.ssh.user,
              privateKey: secret(cfg, "sshPrivateKey"),
              hostKey: k.ssh.hostKey,
              sudo: needsSudo(k.ssh.user, k.ssh.sudo),
          }
        : // Locally, Pulumi's user runs docker and owns kind.dataDir (docs/kind.md).
          { kind: "local", name: "localhost", sudo: false };
    return new KindRegistry("kind-registry", {
        connection,
        layout: {
            cluster: k.clusterName,
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
            ? {
                  garbageCollection: {
                      schedule: cfg.registry.maintenance.garbageCollection.schedule,
                      deleteUntagged: cfg.registry.maintenance.garbageCollection.deleteUntagged,
                      ...(d.retention ? { retention: d.retention } : {}),
                  },
              }
            : {}),
        mirrors: registryMirrors(cfg),
        ...(cfg.registry.distributionConfig ? { distributionConfig: cfg.registry.distributionConfig } : {}),
        publishLocalRegistryHosting: true,
        ...(cfg.registry.ui.enabled ? { ui: { image: cfg.registry.ui.image } } : {}),
    });
}
