/**
 * The Maven repository a registry's front serves too (the converged case, docs/maven.md), in the same
 * words for every placement that serves it: where it is, who may deploy, whether downloads need an
 * account, which nginx serves it and how many SNAPSHOT builds its cleanup keeps. A placement adds only
 * where it keeps the files (`InClusterMavenArgs`: the claim's size and class; the external host: its
 * `mavenDataDir`).
 */
import type { FrontAccount } from "../shared/front";

export interface RegistryMaven {
    /** `mavenRegistry.pathPrefix`, e.g. "maven-releases": the repository's path on the registry's host. */
    readonly pathPrefix: string;
    /** Downloads need an account (`mavenRegistry.requiresAuthForPull`). */
    readonly requiresAuthForPull: boolean;
    /** The only account that may deploy (the one Jenkins holds under `mavenRegistry.credentialId`). */
    readonly deployAccount: FrontAccount;
    /** nginx image with its WebDAV module (`mavenRegistry.nginxImage`; the official image has it). */
    readonly image: string;
    /** Timestamped builds the cleanup keeps per SNAPSHOT version (`mavenRegistry.snapshotBuildsToKeep`). */
    readonly snapshotBuildsToKeep: number;
}
