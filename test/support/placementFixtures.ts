/**
 * Args several placement tests give their components alike: a bcrypt-shaped hash, a Docker Hub cache
 * and a Maven repository whose deploy account has that hash (components/maven/registryMaven.ts's shape).
 */
import type { RegistryMaven } from "../../components/maven/registryMaven";
import type { MirrorSpec } from "../../components/mirrors/mirrors";

/** A string of a bcrypt hash's shape (the users files check it). */
export const PLAN_HASH = `$2b$10$${"N".repeat(53)}`;

/** A pull-through cache of Docker Hub, without upstream credentials. */
export const DOCKER_HUB_MIRROR: MirrorSpec = {
    upstream: "docker.io",
    pathName: "docker.io",
    remoteUrl: "https://registry-1.docker.io",
    ttl: "168h",
    maxSize: "10Gi",
    hasCredentials: false,
};

/** A pull-through cache of GitHub's registry, whose upstream needs an account. */
export const GHCR_MIRROR: MirrorSpec = {
    ...DOCKER_HUB_MIRROR,
    upstream: "ghcr.io",
    pathName: "ghcr.io",
    remoteUrl: "https://ghcr.io",
    hasCredentials: true,
};

/** A Maven repository under /maven-releases, downloads anonymous, deploys by `maven-deploy`. */
export const MAVEN_REPOSITORY: RegistryMaven = {
    pathPrefix: "maven-releases",
    requiresAuthForPull: false,
    deployAccount: { username: "maven-deploy", bcryptHash: PLAN_HASH },
    image: "nginx:1.27",
    snapshotBuildsToKeep: 3,
};
