/**
 * The kind placement's scripts (`sh/`), rendered with their parameters, and where its files lie on
 * the Docker host and in the node watcher.
 */
import * as path from "node:path";
import { previousUsersFile } from "../accessPolicy/usersFile";
import {
    MIRROR_COMMAND,
    MIRROR_FILES,
    type MirrorFileName,
    type MirrorSpec,
    renderMirrorFiles,
    renderMirrorHostsToml,
} from "../mirrors/mirrors";
import { DISTRIBUTION, DISTRIBUTION_ENV_WORDS, PROJECT } from "../shared/facts";
import { FRONT_ENVIRONMENT, FRONT_MEMORY } from "../shared/front";
import { renderShellScript } from "../shared/shellScript";
import { FRONT_WINDOW_PARAMS } from "../upkeep/frontWindow";
import { pullHistoryDays, type Retention, renderRetentionScript } from "../upkeep/retention";

const sh = (name: string) => path.join(__dirname, "sh", name);

/** The placement's names and places, from `dso-registry:kind` and the images. */
export interface KindLayout {
    /**
     * `kind.clusterName`; with `kind.clusterNames`, the cluster whose resources keep the single cluster's
     * names (`clusters` lists every one).
     */
    readonly cluster: string;
    /** `kind.clusterNames`: every cluster the registry serves; unset: `cluster` alone. */
    readonly clusters?: readonly string[];
    /** `kind.network`. */
    readonly network: string;
    /** `kind.containerName`: the front container, the registry's name on the kind network. */
    readonly registryName: string;
    /** `kind.hostPort`. */
    readonly port: number;
    /** `kind.dataDir`. */
    readonly dataDir: string;
}

/** Where the watcher and upkeep containers mount `<dataDir>/bin`. */
export const WATCHER_BIN = "/dso";

/**
 * Where the front container mounts `<dataDir>/window` (read-only) and the upkeep container
 * mounts it writable: the read-only window's marker (`KIND_GC_MARKER`) appears there.
 */
export const KIND_WINDOW_DIR = "/etc/dso-registry-window";

/** The garbage collection's marker, as the front and the upkeep container see it. */
export const KIND_GC_MARKER = `${KIND_WINDOW_DIR}/gc`;

/** The disk guard's marker (diskGuard.ts), as the front and the upkeep container see it: new uploads get 507 while it exists. */
export const KIND_DISK_FULL_MARKER = `${KIND_WINDOW_DIR}/disk-full`;

/** Distribution's config file in its container: the image's default path, mounted from `<dataDir>/front/config.yml`. */
const DISTRIBUTION_CONFIG = "/etc/docker/registry/config.yml";

/** Where the upkeep container mounts Distribution's storage (`<dataDir>/images`), read-only. */
export const MAINTENANCE_IMAGES = "/images";

/** Where the upkeep container mounts `<dataDir>/pulls` (the pull history, retention by last pull), writable. */
export const MAINTENANCE_PULLS = "/var/lib/dso-registry-pulls";

/** The pull history's copy in the Distribution container, where gc.sh puts it for retention's plan. */
const DISTRIBUTION_PULL_HISTORY = "/tmp/dso-registry-pull-history";

/**
 * How far before the last harvest the next one starts reading the front's log: an entry Docker wrote a
 * little late is read all the same (reading an entry twice changes nothing).
 */
const PULL_HARVEST_MARGIN_SECONDS = 300;

/** The files and containers of the placement, derived from its layout. */
export function kindPaths(layout: KindLayout) {
    const { dataDir, registryName } = layout;
    return {
        front: `${dataDir}/front`,
        caddyfile: `${dataDir}/front/Caddyfile`,
        pushUsers: `${dataDir}/front/users-push`,
        pullUsers: `${dataDir}/front/users-pull`,
        /** With a rotation's overlap: the overlap file (the users files' "-previous" files beside them). */
        overlapMatchers: `${dataDir}/front/overlap`,
        registryConfig: `${dataDir}/front/config.yml`,
        nodeScript: `${dataDir}/bin/node-inside.sh`,
        watcherScript: `${dataDir}/bin/node-watch.sh`,
        gcScript: `${dataDir}/bin/gc.sh`,
        /** Tag retention, which gc.sh runs in the Distribution container. */
        retentionScript: `${dataDir}/bin/retention.sh`,
        /** The pull history's harvest (retention by last pull), which the upkeep container runs. */
        pullHarvestScript: `${dataDir}/bin/pull-harvest.sh`,
        /** The pull history and the harvest's state (`sh/pull-harvest.sh`), mounted in the upkeep container at `MAINTENANCE_PULLS`. */
        pulls: `${dataDir}/pulls`,
        /** The disk guard (diskGuard.ts), which the upkeep container's crond runs. */
        diskGuardScript: `${dataDir}/bin/disk-guard.sh`,
        /** The upkeep container's crontab, mounted as busybox crond's `/etc/crontabs/root`. */
        crontab: `${dataDir}/bin/crontab`,
        window: `${dataDir}/window`,
        images: `${dataDir}/images`,
        distributionName: `${registryName}-distribution`,
        watcherName: `${registryName}-node-watcher`,
        upkeepName: `${registryName}-maintenance`,
        /** The web UI's container (ui.ts), which the front serves under /registry/. */
        uiName: `${registryName}-ui`,
        /** Distribution's and the caches' network with the front: internal, and no address of the Docker host on its bridge. */
        backendNetwork: `${registryName}-backend`,
        /** The pull-through caches' way out to their upstreams (a bridge network, not internal). */
        egressNetwork: `${registryName}-egress`,
        /** One directory per cache: its files (`MIRROR_FILES`), env (its upstream account), data/. */
        mirrors: `${dataDir}/mirrors`,
    };
}

/** The file in `kind.dataDir` that says whose registry the directory holds (`dataDirClaimScript`). */
export const KIND_DATA_DIR_MARKER = ".dso-registry";

/**
 * What the placement writes in `kind.dataDir`, as shell patterns of paths relative to it, for the claim of a
 * directory without the marker (`sh/data-dir-claim.sh`): a directory's pattern ends in `/`. `paths` are the
 * directories and files of `kindPaths` with their parents, the overlap's `-previous` users files, the window's
 * markers and each cache's directory and files; `opaque` are the directories whose content is Distribution's
 * storage (of the registry and of each cache) or the pull history, not looked into. A directory that holds nothing else was made
 * by the placement, of this version or of one from before the marker.
 */
export function kindDataDirLayout(layout: KindLayout): { readonly paths: readonly string[]; readonly opaque: readonly string[] } {
    const p = kindPaths(layout);
    const relative = (full: string) => full.slice(layout.dataDir.length + 1);
    const dirs = new Set([p.front, p.window, p.images, p.mirrors, p.pulls].map(relative));
    const files = [p.caddyfile, p.pushUsers, p.pullUsers, previousUsersFile(p.pushUsers), previousUsersFile(p.pullUsers)]
        .concat([p.overlapMatchers, p.registryConfig, p.nodeScript, p.watcherScript, p.gcScript, p.retentionScript])
        .concat([p.diskGuardScript, p.crontab, p.pullHarvestScript])
        .map(relative);
    for (const file of files) dirs.add(path.posix.dirname(file));
    const markers = [KIND_GC_MARKER, KIND_DISK_FULL_MARKER].map((m) => `${relative(p.window)}/${path.posix.basename(m)}`);
    const cache = `${relative(p.mirrors)}/*`;
    const cacheFiles = [...Object.values(MIRROR_FILES), "env"].map((f) => `${cache}/${f}`);
    // Distribution's filesystem driver keeps everything below docker/ in its root directory; the pull
    // history's directory holds the harvest's files (sh/pull-harvest.sh).
    const opaque = [`${relative(p.images)}/docker/`, `${cache}/data/`, `${relative(p.pulls)}/`];
    return {
        paths: [...[...dirs].map((d) => `${d}/`), `${cache}/`, ...files, ...markers, ...cacheFiles].sort(),
        opaque: opaque.sort(),
    };
}

/**
 * The marker's lines: what the directory is, and the stack (`<project>/<stack>`) and registry it belongs
 * to. The `stack=` line is what the claim compares.
 */
export function kindDataDirMarker(layout: KindLayout, stack: string): { readonly owner: string; readonly lines: readonly string[] } {
    const owner = `stack=${stack}`;
    return {
        owner,
        lines: [
            '# kind.dataDir of a dso-registry kind registry: its files and images (docs/kind.md, "Where the images live").',
            "# Another stack refuses this directory while this file names a stack other than its own.",
            owner,
            `registry=${layout.registryName}`,
        ],
    };
}

/**
 * Claims `kind.dataDir` for the registry of `stack` before anything is written into it
 * (`sh/data-dir-claim.sh`): makes it when absent, accepts it when marked for this stack, marks it when it is
 * empty or holds the placement's entries alone, and refuses it otherwise, changing nothing.
 */
export function dataDirClaimScript(layout: KindLayout, stack: string): string {
    const marker = kindDataDirMarker(layout, stack);
    const own = kindDataDirLayout(layout);
    return renderShellScript(sh("data-dir-claim.sh"), {
        DATA_DIR: layout.dataDir,
        MARKER: KIND_DATA_DIR_MARKER,
        OWNER: marker.owner,
        MARKER_TEXT: marker.lines,
        LAYOUT_PATHS: own.paths,
        LAYOUT_OPAQUE: own.opaque,
        CONFIG_KEY: `${PROJECT}:kind.dataDir`,
    });
}

/** Every cache container's name starts with this; the scripts find the caches to remove by it. */
const mirrorPrefix = (layout: KindLayout) => `${layout.registryName}-mirror-`;

/** Where one pull-through cache lives: its container and its directory in `<dataDir>/mirrors`. */
export function kindMirrorPaths(layout: KindLayout, spec: Pick<MirrorSpec, "pathName">) {
    const dir = `${kindPaths(layout).mirrors}/${spec.pathName}`;
    return {
        container: `${mirrorPrefix(layout)}${spec.pathName}`,
        dir,
        env: `${dir}/env`,
    };
}

/**
 * A cache's files (`MIRROR_FILES`, in its directory), by path: Distribution on the backend network (the
 * container's environment names the address), in proxy mode or read-only on its storage, and the start
 * script that picks one.
 */
export function kindMirrorFiles(
    layout: KindLayout,
    spec: Pick<MirrorSpec, "pathName" | "remoteUrl" | "proxyTtl" | "ttl">,
): readonly { readonly name: MirrorFileName; readonly path: string; readonly content: string }[] {
    const files = renderMirrorFiles({
        addr: `:${DISTRIBUTION.containerPort}`,
        rootDirectory: DISTRIBUTION.dataDir,
        remoteUrl: spec.remoteUrl,
        ttl: spec.proxyTtl ? spec.ttl : undefined,
    });
    const dir = kindMirrorPaths(layout, spec).dir;
    return Object.values(MIRROR_FILES).map((name) => ({ name, path: `${dir}/${name}`, content: files[name] }));
}

/** The first line of every hosts.toml the node script writes for a cache: how it knows its own files. */
export const KIND_MIRROR_HEADER = "# Managed by dso-registry (kind): pull-through cache. See docs/kind.md.";

/**
 * A cache's hosts.toml in each node (`certs.d/<upstream>/hosts.toml`): the cache through the front's
 * name on the kind network, plain HTTP, pull and resolve only; the upstream itself as `server`, which
 * containerd tries when the cache fails.
 */
export function kindMirrorHostsToml(layout: KindLayout, spec: Pick<MirrorSpec, "upstream" | "pathName">): string {
    return renderMirrorHostsToml({
        mirror: spec,
        registryHost: layout.registryName,
        registryPort: layout.port,
        header: KIND_MIRROR_HEADER,
        scheme: "http",
    });
}

/** The node script's MIRRORS (`<upstream> <hosts.toml in base64>` per cache) and MIRROR_HEADER. */
export function nodeMirrorParams(layout: KindLayout, mirrors: readonly Pick<MirrorSpec, "upstream" | "pathName">[]) {
    return {
        MIRRORS: mirrors.map((m) => `${m.upstream} ${Buffer.from(kindMirrorHostsToml(layout, m)).toString("base64")}`),
        MIRROR_HEADER: KIND_MIRROR_HEADER,
    };
}

/**
 * The script run inside each node (`sh/node-inside.sh`), with a hosts.toml for each cache's upstream:
 * MIRRORS holds one line per cache, `<upstream> <hosts.toml in base64>` (the file is rendered here).
 */
export function nodeInsideScript(layout: KindLayout, mirrors: readonly Pick<MirrorSpec, "upstream" | "pathName">[] = []): string {
    return renderShellScript(sh("node-inside.sh"), {
        PORT: layout.port,
        REGISTRY_NAME: layout.registryName,
        CERTS_DIR: "/etc/containerd/certs.d",
        CONFIG_FILE: "/etc/containerd/config.toml",
        ...nodeMirrorParams(layout, mirrors),
    });
}

/** Every cluster the registry serves: `clusters`, else `cluster` alone. */
export function kindClusters(layout: KindLayout): readonly string[] {
    return layout.clusters ?? [layout.cluster];
}

function nodeParams(layout: KindLayout, nodeScriptFile: string) {
    return {
        KIND_NETWORK: layout.network,
        REGISTRY_NAME: layout.registryName,
        NODE_SCRIPT_FILE: nodeScriptFile,
    };
}

/** Configures every running node of `cluster` now (`sh/nodes-configure.sh`), on the Docker host. */
export function nodesConfigureScript(layout: KindLayout, cluster: string = layout.cluster): string {
    return renderShellScript(sh("nodes-configure.sh"), { CLUSTER: cluster, ...nodeParams(layout, kindPaths(layout).nodeScript) });
}

/**
 * How often the node watcher configures every running node again, putting back a file of the program's
 * edited or removed by hand inside a node (node-inside.sh writes only what differs).
 */
export const NODE_RECHECK_SECONDS = 30;

/** The node watcher's script (`sh/node-watch.sh`) for every cluster served, as its container sees its files. */
export function nodeWatchScript(layout: KindLayout): string {
    return renderShellScript(sh("node-watch.sh"), {
        // One line: nodes-unconfigure.sh and watcher-stop.sh read the list back from the watcher's script.
        CLUSTERS: kindClusters(layout).join(" "),
        ...nodeParams(layout, `${WATCHER_BIN}/node-inside.sh`),
        RECHECK_SECONDS: NODE_RECHECK_SECONDS,
    });
}

/** Removes the registry's files from the nodes of `cluster` (`sh/nodes-unconfigure.sh`). */
export function nodesUnconfigureScript(layout: KindLayout, cluster: string = layout.cluster): string {
    return renderShellScript(sh("nodes-unconfigure.sh"), {
        CLUSTER: cluster,
        REGISTRY_NAME: layout.registryName,
        HOST_PORT: layout.port,
        MIRROR_HEADER: KIND_MIRROR_HEADER,
        WATCHER_NAME: kindPaths(layout).watcherName,
        WATCHER_BIN,
    });
}

/**
 * With several clusters: stops the node watcher when it serves exactly the clusters of `layout`
 * (`sh/watcher-stop.sh`), before `destroy` removes their files.
 */
export function watcherStopScript(layout: KindLayout): string {
    return renderShellScript(sh("watcher-stop.sh"), {
        CLUSTERS: kindClusters(layout).join(" "),
        REGISTRY_NAME: layout.registryName,
        HOST_PORT: layout.port,
        WATCHER_NAME: kindPaths(layout).watcherName,
        WATCHER_BIN,
    });
}

/** Scheduled garbage collection (`registry.maintenance.garbageCollection`), when it is on. */
export interface KindGarbageCollection {
    /** Five-field cron schedule, in the upkeep container's clock (UTC). */
    readonly schedule: string;
    readonly deleteUntagged: boolean;
    /** Tag retention: its read phase before the window, its removals first in it; none when unset. */
    readonly retention?: Retention;
}

/** Whether the collection keeps a pull history: a retention rule has `keepPulledWithinDays`. */
export function kindKeepsPulls(gc: KindGarbageCollection | undefined): boolean {
    return pullHistoryDays(gc?.retention) !== undefined;
}

/** The harvest (`pullHarvestScript` of kindPaths) as the upkeep container sees it. */
const PULL_HARVEST = `${WATCHER_BIN}/pull-harvest.sh`;

/** The harvest as the upkeep container runs it; empty without a pull history. */
const pullHarvestPath = (gc: KindGarbageCollection | undefined) => (kindKeepsPulls(gc) ? PULL_HARVEST : "");

/** The collection in the front's read-only window (`sh/gc.sh`), as the upkeep container sees its files. */
export function gcScript(layout: KindLayout, gc: KindGarbageCollection): string {
    const pulls = kindKeepsPulls(gc);
    return renderShellScript(sh("gc.sh"), {
        PULL_HARVEST: pullHarvestPath(gc),
        PULL_HISTORY: pulls ? `${MAINTENANCE_PULLS}/history` : "",
        DISTRIBUTION_PULL_HISTORY: pulls ? DISTRIBUTION_PULL_HISTORY : "",
        RETENTION_SCRIPT: gc.retention ? `${WATCHER_BIN}/retention.sh` : "",
        MARKER: KIND_GC_MARKER,
        DATA_DIR: MAINTENANCE_IMAGES,
        LOCK_DIR: "/tmp/dso-registry-gc.lock",
        DISTRIBUTION_NAME: kindPaths(layout).distributionName,
        DISTRIBUTION_CONFIG,
        DISTRIBUTION_DATA_DIR: DISTRIBUTION.dataDir,
        DELETE_UNTAGGED: gc.deleteUntagged,
        ...FRONT_WINDOW_PARAMS,
    });
}

/**
 * Tag retention as gc.sh runs it: in the Distribution container (the registry image: busybox), against
 * Distribution on its own loopback, ages from the link files in its storage. kind's registry cannot see
 * the cluster's pods: no workload is known, `protect` covers what runs.
 */
export function kindRetentionScript(retention: Retention): string {
    return renderRetentionScript({
        retention,
        base: `http://127.0.0.1:${DISTRIBUTION.containerPort}`,
        client: "busybox-wget",
        registryLogs: "docker logs of the registry's Distribution container",
        storageRoot: DISTRIBUTION.dataDir,
        ...(pullHistoryDays(retention) !== undefined ? { pullHistory: DISTRIBUTION_PULL_HISTORY } : {}),
    });
}

/**
 * The pull history's harvest (`sh/pull-harvest.sh`) in the upkeep container: the front's log since the last
 * harvest into `<dataDir>/pulls/history`, kept for the longest `keepPulledWithinDays`; undefined without one.
 */
export function kindPullHarvestScript(layout: KindLayout, gc: KindGarbageCollection | undefined): string | undefined {
    const days = pullHistoryDays(gc?.retention);
    if (days === undefined) return undefined;
    return renderShellScript(sh("pull-harvest.sh"), {
        FRONT_NAME: layout.registryName,
        PULLS_DIR: MAINTENANCE_PULLS,
        KEEP_DAYS: days,
        MARGIN_SECONDS: PULL_HARVEST_MARGIN_SECONDS,
    });
}

/**
 * The upkeep container's crontab (busybox crond): the collection on its schedule, and with a pull history
 * its harvest every hour (so that the log Docker keeps is read a little at a time, and a front replaced by
 * hand loses an hour of pulls at most); their output in the container's log
 * (`docker logs <registryName>-maintenance`).
 */
export function upkeepCrontab(gc: KindGarbageCollection): string {
    const harvest = kindKeepsPulls(gc) ? `17 * * * * /bin/sh ${pullHarvestPath(gc)} >/proc/1/fd/1 2>&1\n` : "";
    return `${gc.schedule} /bin/sh ${WATCHER_BIN}/gc.sh >/proc/1/fd/1 2>&1\n${harvest}`;
}

/** The images the containers run. */
export interface KindImages {
    readonly distribution: string;
    readonly front: string;
    readonly watcher: string;
}

/**
 * Fingerprints of the placed files each container is made from: a container is replaced when its own
 * files change, never for another's (the web UI turned on rewrites the Caddyfile: the front restarts,
 * Distribution keeps serving).
 */
export interface KindFileDigests {
    /** Distribution's config.yml. */
    readonly distribution: string;
    /** The Caddyfile and the users files. */
    readonly front: string;
    /** The watcher's script and the node script (a watcher that starts configures every running node again). */
    readonly watcher: string;
    /** The upkeep container's files (upkeep.ts); undefined without garbage collection or the disk guard (no upkeep container). */
    readonly upkeep?: string;
    /**
     * The upkeep container keeps the pull history (retention by last pull): it mounts `<dataDir>/pulls`, and
     * harvests the front's log before the front is replaced.
     */
    readonly upkeepPulls?: boolean;
}

/** A pull-through cache's container as `containers-apply.sh` runs it. */
export interface KindMirrorRun {
    readonly pathName: string;
    /** Fingerprint of its image and files (a digest of its env file is added on the host). */
    readonly files: string;
    readonly hasCredentials: boolean;
}

/** The web UI's container as `containers-apply.sh` runs it (ui.ts): its image and environment, its spec. */
export interface KindUiRun {
    readonly image: string;
    /** `NAME=value` words. */
    readonly environment: readonly string[];
}

/**
 * Runs the containers (`sh/containers-apply.sh`); `digests` name what each one's placed files hold. `ui`
 * unset, the UI's container is removed (or never made).
 */
export function containersApplyScript(
    layout: KindLayout,
    images: KindImages,
    digests: KindFileDigests,
    mirrors: readonly KindMirrorRun[] = [],
    ui?: KindUiRun,
): string {
    const p = kindPaths(layout);
    return renderShellScript(sh("containers-apply.sh"), {
        DATA_DIR: layout.dataDir,
        KIND_NETWORK: layout.network,
        BACKEND_NETWORK: p.backendNetwork,
        HOST_PORT: layout.port,
        BIN_DIR: WATCHER_BIN,
        DISTRIBUTION_FILES: digests.distribution,
        FRONT_FILES: digests.front,
        WATCHER_FILES: digests.watcher,
        MAINTENANCE_FILES: digests.upkeep ?? "",
        DISTRIBUTION_NAME: p.distributionName,
        DISTRIBUTION_IMAGE: images.distribution,
        FRONT_NAME: layout.registryName,
        FRONT_IMAGE: images.front,
        FRONT_MEMORY_MIB: FRONT_MEMORY.limitMiB,
        FRONT_GO_MEMORY_LIMIT: FRONT_ENVIRONMENT.GOMEMLIMIT,
        FRONT_OPEN_FILES: FRONT_MEMORY.openFiles,
        WATCHER_NAME: p.watcherName,
        WATCHER_IMAGE: images.watcher,
        DISTRIBUTION_CONFIG,
        MAINTENANCE_NAME: p.upkeepName,
        WINDOW_DIR: KIND_WINDOW_DIR,
        MAINTENANCE_IMAGES,
        PULLS_DIR: digests.upkeepPulls ? MAINTENANCE_PULLS : "",
        PULL_HARVEST: digests.upkeepPulls ? PULL_HARVEST : "",
        EGRESS_NETWORK: p.egressNetwork,
        MIRRORS_DIR: p.mirrors,
        MIRROR_PREFIX: mirrorPrefix(layout),
        MIRRORS: mirrors.map((m) => `${m.pathName} ${m.files} ${m.hasCredentials}`),
        MIRROR_FILES: Object.values(MIRROR_FILES),
        MIRROR_CONFIG_DIR: DISTRIBUTION.configDir,
        MIRROR_START: MIRROR_COMMAND[1],
        DISTRIBUTION_DATA_DIR: DISTRIBUTION.dataDir,
        DISTRIBUTION_ENV: DISTRIBUTION_ENV_WORDS,
        DISTRIBUTION_PORT: DISTRIBUTION.containerPort,
        UI_NAME: p.uiName,
        UI_IMAGE: ui?.image ?? "",
        // One line, as DISTRIBUTION_ENV: the words become the container's spec label too.
        UI_ENV: (ui?.environment ?? []).join(" "),
    });
}

/** Removes the containers and the backend network; the images stay (`sh/containers-delete.sh`). */
export function containersDeleteScript(layout: KindLayout): string {
    const p = kindPaths(layout);
    return renderShellScript(sh("containers-delete.sh"), {
        DATA_DIR: layout.dataDir,
        BACKEND_NETWORK: p.backendNetwork,
        DISTRIBUTION_NAME: p.distributionName,
        FRONT_NAME: layout.registryName,
        WATCHER_NAME: p.watcherName,
        MAINTENANCE_NAME: p.upkeepName,
        UI_NAME: p.uiName,
        EGRESS_NETWORK: p.egressNetwork,
        MIRRORS_DIR: p.mirrors,
        MIRROR_PREFIX: mirrorPrefix(layout),
        DISK_FULL_MARKER: path.posix.basename(KIND_DISK_FULL_MARKER),
    });
}

/**
 * The KEP-1755 `localRegistryHosting.v1` document: localhost on the host and in the nodes (their
 * hosts.toml sends it to the registry's container), the container name on the cluster's network.
 */
export function localRegistryHostingBody(layout: KindLayout): string {
    const name = `${layout.registryName}:${layout.port}`;
    return [
        `host: "localhost:${layout.port}"`,
        `hostFromContainerRuntime: "${name}"`,
        `hostFromClusterNetwork: "${name}"`,
        `help: "https://kind.sigs.k8s.io/docs/user/local-registry/"`,
        "",
    ].join("\n");
}
