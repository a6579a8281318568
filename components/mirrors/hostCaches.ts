/**
 * The pull-through caches on the external host, pure part: where each cache lives (its container,
 * unix socket, storage and config directory), the files it runs from, the scripts that run and remove its container, the
 * hourly prune job that holds every cache to its size and age limits, and that job's cron file. The
 * scripts are in `sh/` beside this file; MirrorCachesOnHost places and runs them.
 */
import * as path from "node:path";
import { JOB_METRICS } from "../monitoring/jobMetrics";
import { DISTRIBUTION, DISTRIBUTION_ENV_WORDS, durationSeconds } from "../shared/facts";
import { renderShellScript } from "../shared/shellScript";
import { type JobReporting, reportingParams } from "../upkeep/reporting";
import {
    MIRROR_COMMAND,
    MIRROR_FILES,
    type MirrorFileName,
    type MirrorSpec,
    type MirrorWarm,
    quantityBytes,
    renderMirrorFiles,
} from "./mirrors";
import { renderWarmScript, warmListHash } from "./warm";

/** Where one cache lives on the external host. */
export interface HostMirrorPaths {
    /** Container name. */
    readonly container: string;
    /**
     * Directory of its unix socket on the host, named after the cache and bind-mounted into its
     * container as Distribution's socket directory: nothing else's name can take it, whatever else
     * is added, removed or reordered (docs/decisions/stable-mirror-ports.md).
     */
    readonly socketDir: string;
    /** Its unix socket on the host: the front's upstream. */
    readonly socket: string;
    /** Its storage (bind-mounted as Distribution's data directory): outside the registry's data directory. */
    readonly dataDir: string;
    /** Its config directory (the files of `MIRROR_FILES`, and env with the upstream account). */
    readonly configDir: string;
}

/**
 * The host layout of a mirror: `mirrorsDir` holds one storage directory per mirror, `socketsDir` one
 * socket directory per mirror.
 */
export function hostMirrorPaths(
    spec: Pick<MirrorSpec, "pathName">,
    mirrorsDir: string,
    configRoot: string,
    socketsDir: string,
): HostMirrorPaths {
    const socketDir = `${socketsDir}/${spec.pathName}`;
    return {
        container: `${MIRROR_CONTAINER_PREFIX}${spec.pathName}`,
        socketDir,
        socket: `${socketDir}/${DISTRIBUTION.socketName}`,
        dataDir: `${mirrorsDir}/${spec.pathName}`,
        configDir: `${configRoot}/mirrors/${spec.pathName}`,
    };
}

/**
 * A cache's files on the host (`MIRROR_FILES`, in its config directory): Distribution on its unix socket
 * inside its container, in proxy mode or read-only, and the start script that picks one.
 */
export function hostMirrorFiles(spec: Pick<MirrorSpec, "remoteUrl" | "proxyTtl" | "ttl">): Readonly<Record<MirrorFileName, string>> {
    return renderMirrorFiles({
        addr: `${DISTRIBUTION.socketDir}/${DISTRIBUTION.socketName}`,
        rootDirectory: DISTRIBUTION.dataDir,
        remoteUrl: spec.remoteUrl,
        ttl: spec.proxyTtl ? spec.ttl : undefined,
    });
}

/** Every cache container's name starts with this. */
export const MIRROR_CONTAINER_PREFIX = "dso-registry-mirror-";

/**
 * Runs a cache's container when it is missing, stopped, or made from another spec (`fingerprint`,
 * which covers image, paths and files; a digest of the env file is added on the host, so new
 * upstream credentials recreate it without ever appearing in the script).
 */
export function mirrorContainerScript(paths: HostMirrorPaths, image: string, fingerprint: string, hasCredentials: boolean): string {
    return renderShellScript(path.join(__dirname, "sh", "mirror-container.sh"), {
        CONTAINER: paths.container,
        IMAGE: image,
        SOCKET_DIR: paths.socketDir,
        DATA_DIR: paths.dataDir,
        CONFIG_DIR: paths.configDir,
        FINGERPRINT: fingerprint,
        CREDENTIALS: hasCredentials,
        DISTRIBUTION_SOCKET_DIR: DISTRIBUTION.socketDir,
        DISTRIBUTION_ENV: DISTRIBUTION_ENV_WORDS,
        DISTRIBUTION_DATA_DIR: DISTRIBUTION.dataDir,
        DISTRIBUTION_CONFIG_DIR: DISTRIBUTION.configDir,
        MIRROR_FILES: Object.values(MIRROR_FILES),
        START_SCRIPT: MIRROR_COMMAND[1],
    });
}

/** Removes a cache's container, its socket's directory and its cached content (it can always be fetched again). */
export function mirrorContainerDeleteScript(paths: HostMirrorPaths): string {
    return renderShellScript(path.join(__dirname, "sh", "mirror-container-delete.sh"), {
        CONTAINER: paths.container,
        SOCKET_DIR: paths.socketDir,
        DATA_DIR: paths.dataDir,
    });
}

/** A cache as the prune script checks it. */
export interface PrunedMirror {
    readonly paths: HostMirrorPaths;
    readonly maxSize: string;
    /** `maxAge`: blobs fetched longer ago than this are removed ("168h"). */
    readonly maxAge: string;
    /** The upstream's registry API: a cache is only emptied or pruned while it answers (nothing else could fetch it again). */
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

/** A cache's warm run on the host: its script's path and its schedule. */
export interface HostWarm {
    readonly script: string;
    readonly schedule: string;
}

/**
 * /etc/cron.d file that runs the prune script every hour and each cache's warm script on its schedule
 * (root, output to syslog: tags dso-registry-mirrors and dso-registry-mirror-warm).
 */
export function mirrorCronFile(pruneScript: string, warms: readonly HostWarm[] = []): string {
    return [
        "# Managed by dso-registry: size limit of the pull-through caches. See docs/mirrors.md.",
        "SHELL=/bin/sh",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        `17 * * * * root ${pruneScript} 2>&1 | logger -t dso-registry-mirrors`,
        ...warms.map((w) => `${w.schedule} root ${w.script} 2>&1 | logger -t ${HOST_WARM_LOG_TAG}`),
        "",
    ].join("\n");
}

/** The syslog tag of every warm run on the host: `journalctl -t dso-registry-mirror-warm`. */
export const HOST_WARM_LOG_TAG = "dso-registry-mirror-warm";

/** Where a cache's warm script goes on the host: in its config directory, beside its other files. */
export function hostWarmScriptPath(paths: Pick<HostMirrorPaths, "configDir">): string {
    return `${paths.configDir}/warm.sh`;
}

/** A cache's warm script on the host: curl over the cache's own unix socket (root's, as cron and `up` run it). */
export function hostWarmScript(paths: HostMirrorPaths, warm: MirrorWarm): string {
    return renderWarmScript(warm, {
        base: "http://localhost",
        client: "curl",
        unixSocket: paths.socket,
        cacheLogs: `docker logs ${paths.container}`,
    });
}

/**
 * What `up` runs when a cache's warm list changes (its hash is in the text, so a changed list runs it
 * again): the warm script in the background, its lines to syslog. `up` does not wait for it: a warm run
 * fetches from the upstream, which may be slow or not reachable yet.
 */
export function hostWarmRunScript(script: string, upstream: string, warm: Pick<MirrorWarm, "images" | "platforms">): string {
    return [
        `# warm list ${warmListHash(warm)}`,
        `nohup sh -c '${script} 2>&1 | logger -t ${HOST_WARM_LOG_TAG}' </dev/null >/dev/null 2>&1 &`,
        `echo "warming the cache of ${upstream} in the background; its lines: journalctl -t ${HOST_WARM_LOG_TAG}"`,
        "",
    ].join("\n");
}
