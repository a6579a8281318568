/**
 * The pull-through caches on the external host, pure part: where each cache lives (its container,
 * loopback port, storage and config directory), the scripts that run and remove its container, the
 * hourly prune job that holds every cache to its size and age limits, and that job's cron file. The
 * scripts are in `sh/` beside this file; MirrorCachesOnHost places and runs them.
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import { JOB_METRICS } from "../monitoring/jobMetrics";
import { DISTRIBUTION, durationSeconds } from "../shared/facts";
import { renderShellScript } from "../shared/shellScript";
import { type JobReporting, reportingParams } from "../upkeep/reporting";
import { type MirrorSpec, quantityBytes } from "./mirrors";

/**
 * The loopback ports the caches on the external host may use: 5101–5999, clear of the registry's
 * (5000), the Maven backend's (5002) and the UI's (5080).
 */
export const MIRROR_HOST_PORTS = { first: 5101, count: 899 } as const;

/**
 * Each cache's loopback port, from its name alone (docs/decisions/stable-mirror-ports.md): a hash of
 * the path name picks the port, so adding, removing or reordering other mirrors leaves it where it
 * is. The engine updates the remaining caches before it deletes a removed one, so a port that moved
 * would still be held by the container about to go. Two names that hash to one port are settled in
 * the names' sorted order (the later takes the next free port); that moves a port only when a new
 * name collides, and the container script then takes the port from the cache that held it.
 */
export function hostMirrorPorts(pathNames: readonly string[]): ReadonlyMap<string, number> {
    if (pathNames.length > MIRROR_HOST_PORTS.count) throw new Error(`hostMirrorPorts: at most ${MIRROR_HOST_PORTS.count} mirrors`);
    const taken = new Set<number>();
    const ports = new Map<string, number>();
    for (const name of [...new Set(pathNames)].sort()) {
        let slot = createHash("sha256").update(name).digest().readUInt32BE(0) % MIRROR_HOST_PORTS.count;
        while (taken.has(slot)) slot = (slot + 1) % MIRROR_HOST_PORTS.count;
        taken.add(slot);
        ports.set(name, MIRROR_HOST_PORTS.first + slot);
    }
    return ports;
}

/** Where one cache lives on the external host. */
export interface HostMirrorPaths {
    /** Container name. */
    readonly container: string;
    /** Loopback port it is published on. */
    readonly hostPort: number;
    /** Its storage (bind-mounted as Distribution's data directory): outside the registry's data directory. */
    readonly dataDir: string;
    /** Its config directory (config.yml, and env with the upstream account). */
    readonly configDir: string;
}

/** The host layout of a mirror whose port is `hostPort` (`hostMirrorPorts`); `mirrorsDir` holds one directory per mirror. */
export function hostMirrorPaths(
    spec: Pick<MirrorSpec, "pathName">,
    hostPort: number,
    mirrorsDir: string,
    configRoot: string,
): HostMirrorPaths {
    return {
        container: `${MIRROR_CONTAINER_PREFIX}${spec.pathName}`,
        hostPort,
        dataDir: `${mirrorsDir}/${spec.pathName}`,
        configDir: `${configRoot}/mirrors/${spec.pathName}`,
    };
}

/** Every cache container's name starts with this: the container script frees its port only from these. */
export const MIRROR_CONTAINER_PREFIX = "dso-registry-mirror-";

/**
 * Runs a cache's container when it is missing, stopped, or made from another spec (`fingerprint`,
 * which covers image, port, paths and config; a digest of the env file is added on the host, so new
 * upstream credentials recreate it without ever appearing in the script).
 */
export function mirrorContainerScript(paths: HostMirrorPaths, image: string, fingerprint: string, hasCredentials: boolean): string {
    return renderShellScript(path.join(__dirname, "sh", "mirror-container.sh"), {
        CONTAINER: paths.container,
        CONTAINER_PREFIX: MIRROR_CONTAINER_PREFIX,
        IMAGE: image,
        HOST_PORT: paths.hostPort,
        DATA_DIR: paths.dataDir,
        CONFIG_DIR: paths.configDir,
        FINGERPRINT: fingerprint,
        CREDENTIALS: hasCredentials,
        DISTRIBUTION_PORT: DISTRIBUTION.containerPort,
        DISTRIBUTION_DATA_DIR: DISTRIBUTION.dataDir,
        DISTRIBUTION_CONFIG_DIR: DISTRIBUTION.configDir,
    });
}

/** Removes a cache's container and its cached content (it can always be fetched again). */
export function mirrorContainerDeleteScript(paths: HostMirrorPaths): string {
    return renderShellScript(path.join(__dirname, "sh", "mirror-container-delete.sh"), {
        CONTAINER: paths.container,
        DATA_DIR: paths.dataDir,
    });
}

/** A cache as the prune script checks it. */
export interface PrunedMirror {
    readonly paths: HostMirrorPaths;
    readonly maxSize: string;
    /** `maxAge`: blobs fetched longer ago than this are removed ("168h"). */
    readonly maxAge: string;
    /** The upstream's registry API: a cache is only restarted while it answers. */
    readonly remoteUrl: string;
}

/**
 * One line of the prune script's CACHES: the container, the size limit in KiB, the age limit in
 * minutes, the upstream's API and, last, the storage directory.
 */
function prunedCacheLine(m: PrunedMirror): string {
    const bytes = quantityBytes(m.maxSize);
    if (bytes === undefined) throw new Error(`mirrorPruneScript: maxSize "${m.maxSize}" is not a quantity such as "20Gi"`);
    const seconds = durationSeconds(m.maxAge);
    if (seconds === undefined) throw new Error(`mirrorPruneScript: maxAge "${m.maxAge}" is not a duration such as "168h"`);
    return `${m.paths.container} ${Math.ceil(bytes / 1024)} ${Math.ceil(seconds / 60)} ${m.remoteUrl} ${m.paths.dataDir}`;
}

/** How the prune job reports (monitoring on): its outcome through the reporter, the caches' sizes to a textfile. */
export interface PruneReporting extends JobReporting {
    /** The prune script's own path. */
    readonly self: string;
    /** The directory of every cache's storage: what the prune frees is measured there. */
    readonly mirrorsDir: string;
    /** node_exporter's textfile the caches' sizes and limits go to. */
    readonly metricsFile: string;
}

/** The size and age limits on the external host (mirror-prune.sh), run hourly by cron. */
export function mirrorPruneScript(mirrors: readonly PrunedMirror[], reporting?: PruneReporting): string {
    return renderShellScript(path.join(__dirname, "sh", "mirror-prune.sh"), {
        CACHES: mirrors.map(prunedCacheLine),
        METRICS_FILE: reporting?.metricsFile ?? "",
        SIZE_METRIC: reporting ? JOB_METRICS.cacheSize : "",
        LIMIT_METRIC: reporting ? JOB_METRICS.cacheLimit : "",
        ...reportingParams(reporting, reporting?.self ?? "", reporting?.mirrorsDir ?? ""),
    });
}

/** /etc/cron.d file that runs the prune script every hour (root, output to syslog). */
export function mirrorCronFile(pruneScript: string): string {
    return [
        "# Managed by dso-registry: size limit of the pull-through caches. See docs/mirrors.md.",
        "SHELL=/bin/sh",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        `17 * * * * root ${pruneScript} 2>&1 | logger -t dso-registry-mirrors`,
        "",
    ].join("\n");
}
