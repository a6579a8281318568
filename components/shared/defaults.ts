/**
 * The values a setting takes when nobody gives one, said once: the stack config's schema
 * (components/config/schema/) and the components' own defaults (each component's `…Defaults`
 * function, documented with `@default` on its args) both read them, so a library user who leaves a
 * setting out gets what a stack that leaves its key out gets.
 */

/** The pinned images: Distribution (`registry.image`), the Caddy front (`registry.caddyImage`), the web UI (`registry.ui.image`). */
export const DEFAULT_IMAGES = {
    registry: "registry:3.1.2",
    caddy: "caddy:2.8.4",
    ui: "joxit/docker-registry-ui:2.5.7",
} as const;

/** The in-cluster registry's namespace (`inCluster.namespace`). */
export const DEFAULT_IN_CLUSTER_NAMESPACE = "dso";

/** The registry volume's size (`registry.storage.size`). */
export const DEFAULT_STORAGE_SIZE = "20Gi";

/** When scheduled garbage collection runs (`registry.maintenance.garbageCollection.schedule`): Sundays 03:30. */
export const DEFAULT_GC_SCHEDULE = "30 3 * * 0";

/** The registry's HTTPS port (`containerRegistry.port`). */
export const DEFAULT_REGISTRY_PORT = 443;

/** The push account's user name (`containerRegistry.pushUsername`). */
export const DEFAULT_PUSH_USERNAME = "ci-push";

/** The rotation counter of generated passwords (`containerRegistry.rotation`). */
export const DEFAULT_ROTATION = "1";

/** How long a generated CA and server certificate are valid, in days (`registry.tls.caValidityDays`, `serverCertValidityDays`). */
export const DEFAULT_VALIDITY_DAYS = { ca: 3650, serverCert: 825 } as const;

/** The external host's directories: the registry's data (`externalHost.dataDir`) and the Maven repository's (`externalHost.mavenDataDir`). */
export const DEFAULT_HOST_DIRS = { data: "/srv/data/registry", maven: "/srv/data/maven" } as const;

/** The kind placement's node watcher: a shell and the docker CLI (`kind.watcherImage`). */
export const DEFAULT_KIND_WATCHER_IMAGE = "docker:27.3-cli";

/** `T` with the keys `K` always set: what a component's `…Defaults` function returns. */
export type WithDefaults<T, K extends keyof T> = Omit<T, K> & { readonly [P in K]-?: Exclude<T[P], undefined> };
