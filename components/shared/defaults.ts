/**
 * The values a setting takes when nobody gives one, said once: the stack config's schema
 * (components/config/schema/) and the components' own defaults (each component's resolve step,
 * `resolve…`, documented with `@default` on its args) both read them, so a library user who leaves a
 * setting out gets what a stack that leaves its key out gets.
 */

/** The pinned images: Distribution (`registry.image`), the Caddy front (`registry.caddyImage`), the web UI (`registry.ui.image`). */
export const DEFAULT_IMAGES = {
    registry: "registry:3.1.2",
    caddy: "caddy:2.11.9",
    ui: "joxit/docker-registry-ui:2.6.0",
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

/** The Docker release of the kind watcher and the docker-in-docker agent template, one for both. */
const DOCKER_RELEASE = "29.9.3";

/** The kind placement's node watcher: a shell and the docker CLI (`kind.watcherImage`). */
export const DEFAULT_KIND_WATCHER_IMAGE = `docker:${DOCKER_RELEASE}-cli`;

/**
 * The Jenkins agent templates' images (`jenkins.agentImages`). kaniko has none: it was archived upstream
 * in June 2025, and its template is rendered only for a stack that names its image (docs/ci-agents.md).
 */
export const DEFAULT_AGENT_IMAGES = {
    dockerCli: `docker:${DOCKER_RELEASE}-cli`,
    dockerDaemon: `docker:${DOCKER_RELEASE}-dind`,
    buildah: "quay.io/buildah/stable:v1.44.0",
} as const;

/**
 * The in-cluster GC and backup Jobs (`inCluster.kubectlImage`): their scripts need kubectl and a POSIX
 * shell with mktemp, grep, sort, sleep and date. The Kubernetes project's own image
 * (registry.k8s.io/kubectl) has no shell (its base is distroless), so the default is Alpine's with the
 * upstream kubectl binary, at a minor within kubectl's one-minor skew of every supported Kubernetes
 * release (docs/in-cluster.md, The upkeep jobs' image).
 */
export const DEFAULT_KUBECTL_IMAGE = "alpine/kubectl:1.36.3";

/** The node-trust DaemonSet (`nodes.daemonsetImage`): busybox has sh, awk, cmp, mktemp, sha256sum and nsenter. */
export const DEFAULT_NODE_TRUST_IMAGE = "busybox:1.37.0";

/** The in-cluster certificate probe's blackbox_exporter (`registry.monitoring.probeImage`). */
export const DEFAULT_PROBE_IMAGE = "prom/blackbox-exporter:v0.28.0";

/** Maven's nginx, with its WebDAV module (`mavenRegistry.nginxImage`). */
export const DEFAULT_MAVEN_NGINX_IMAGE = "nginx:1.30-alpine";

/** `T` with the keys `K` always set: the args with their defaults, as a component's resolve step returns them. */
export type Defaulted<T, K extends keyof T> = Omit<T, K> & { readonly [P in K]-?: Exclude<T[P], undefined> };
