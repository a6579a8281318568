/**
 * The converged case: the Maven repository behind the registry's front, in either placement. The
 * deploy account is the registry's push account when `mavenRegistry.reuseContainerCredentials`, else
 * the Maven account (`mavenRegistry.username`, secret `mavenRegistryPassword`): the one Jenkins holds.
 */
import * as pulumi from "@pulumi/pulumi";
import { deterministicBcrypt, type RegistryAccounts } from "../accounts/registryAccounts";
import type { InClusterRegistrySettings, StackConfig } from "../config";
import type { HostMavenArgs } from "../externalHost/externalRegistryHost";
import type { InClusterMavenArgs } from "../inCluster/registryArgs";
import type { RegistryMaven } from "../maven/registryMaven";
import { secret } from "./secret";
import type { StackIn } from "./tls";

/** The Maven repository in the cluster: an nginx sidecar with a volume of its own, of the registry's storage class. */
export function inClusterMaven(cfg: StackIn<InClusterRegistrySettings>, accounts: RegistryAccounts): InClusterMavenArgs {
    const storage = cfg.registry.storage;
    return {
        ...registryMaven(cfg, accounts),
        size: servedMaven(cfg).storageSize,
        storageClass: storage.kind === "filesystem" ? storage.storageClass : undefined,
    };
}

/** The Maven repository on the external host: nginx in a container behind the host's Caddy site (its files in the host's Maven directory). */
export function externalHostMaven(cfg: StackConfig, accounts: RegistryAccounts): HostMavenArgs {
    return registryMaven(cfg, accounts);
}

/** What every placement takes of the Maven repository (`RegistryMaven`). */
function registryMaven(cfg: StackConfig, accounts: RegistryAccounts): RegistryMaven {
    const m = servedMaven(cfg);
    return {
        pathPrefix: m.pathPrefix,
        requiresAuthForPull: m.requiresAuthForPull,
        deployAccount: mavenDeployAccount(cfg, accounts),
        image: m.nginxImage,
        snapshotBuildsToKeep: m.snapshotBuildsToKeep,
    };
}

function servedMaven(cfg: StackConfig): NonNullable<StackConfig["mavenRegistry"]> {
    const m = cfg.mavenRegistry;
    if (!m) throw new Error(`the Maven repository was decided on without mavenRegistry; the program is at fault`);
    return m;
}

/** The only account that may deploy: the one Jenkins holds under `mavenRegistry.credentialId`. */
function mavenDeployAccount(cfg: StackConfig, accounts: RegistryAccounts) {
    const m = servedMaven(cfg);
    return m.reuseContainerCredentials
        ? accounts.push
        : {
              username: m.username,
              bcryptHash: pulumi.secret(secret(cfg, "mavenRegistryPassword").apply((p) => deterministicBcrypt(m.username, p))),
          };
}
