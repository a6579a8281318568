/**
 * The scripts and files the external registry host gets, as pure functions of a typed plan: the
 * package check, the data directory, the registry and UI containers, Caddy's reload, garbage
 * collection, the cron file of the upkeep jobs, the post-deploy check and the status script.
 * Each script is a `.sh` file in `sh/` beside this one; its function here gives its parameters
 * (components/shared/shellScript.ts). The components only place and run them; the tests run the very
 * same text over a real SSH session.
 *
 * Every script honours $DSO_ROOT (a prefix for every path it touches; empty on a real host), is
 * idempotent (prints "unchanged" when there is nothing to do) and reads secrets only from files or
 * stdin.
 */
import * as path from "node:path";
import { SWEEP_HOLD_GATE } from "../accessPolicy/policy";
import { REGISTRY_DRAIN_SECONDS } from "../distribution/registryConfig";
import { MAVEN_BACKEND } from "../maven/nginxConfig";
import { JOB_METRICS } from "../monitoring/jobMetrics";
import { uiEnvironment } from "../registryUi/environment";
import { DEFAULT_HOST_DIRS } from "../shared/defaults";
import { DISTRIBUTION, DISTRIBUTION_ENV_WORDS } from "../shared/facts";
import { fingerprint } from "../shared/fingerprint";
import { FRONT_ENVIRONMENT, FRONT_MEMORY } from "../shared/front";
import { renderShellScript, type ShellParams } from "../shared/shellScript";
import { FRONT_WINDOW_PARAMS } from "../upkeep/frontWindow";
import { type MavenCleanup, mavenCleanupParams } from "../upkeep/mavenCleanup";
import { ONLINE_COLLECTION } from "../upkeep/onlineCollection";
import { type JobReporting, reportingParams } from "../upkeep/reporting";
import { RETENTION_TEXTFILE } from "../upkeep/retention";
import { type ConnectionCapPaths, connectionCapParams, connectionCapRemoveParams } from "./connectionCap";
import { DEBUG_LISTENER_PORT, METRICS_RELAY_CONTAINER, metricsRelayDir, renderMetricsRelayCaddyfile } from "./metricsRelay";

/** Where things live on the host. Absolute paths; production defaults from `defaultHostLayout`. */
export interface HostLayout {
    /** Registry data (filesystem storage root), bind-mounted into the container. */
    readonly dataDir: string;
    /** Distribution's config directory on the host, mounted read-only into the container. */
    readonly registryConfigDir: string;
    /** Caddy's main config file (Debian's service reads /etc/caddy/Caddyfile). */
    readonly caddyfile: string;
    /** Directory for the users files and TLS files Caddy reads. */
    readonly caddyDir: string;
    /** Directory for the upkeep scripts. */
    readonly binDir: string;
    /** cron file for the upkeep schedules. */
    readonly cronFile: string;
    /** Lock file that serialises upkeep runs and container changes. */
    readonly lockFile: string;
    /**
     * The front's own directory, mounted at the same path into its container (sh/caddy-apply.sh): Caddy's
     * data (`data/`: certificates, ACME account), its autosaved config (`config/`) and its access log (`logs/`).
     */
    readonly frontDir: string;
    /** Caddy's data directory (certificates, ACME account), under `frontDir`; backed up, never written by the program. */
    readonly caddyDataDir: string;
    /** The Maven repository's files (when the host serves Maven), bind-mounted into the nginx container. */
    readonly mavenDataDir: string;
    /**
     * Directory of the registry's unix socket, bind-mounted into its container: Distribution listens
     * there and nowhere else, and only root and Caddy's group may connect.
     */
    readonly socketDir: string;
    /**
     * Directory of the Maven backend's unix socket, bind-mounted into the nginx container: nginx
     * listens there and nowhere else, and only root and Caddy's group may connect.
     */
    readonly mavenSocketDir: string;
    /**
     * Directory holding one directory per pull-through cache (named after it), each bind-mounted into
     * that cache's container for its unix socket: only root and Caddy's group may connect.
     */
    readonly mirrorSocketsDir: string;
    /**
     * Caddy's admin API: a unix socket inside the front's container, on a tmpfs of its own (new at each
     * start), which nothing outside the container reaches; `caddy reload` run in the container (ours,
     * through the engine's exec) finds it in the Caddyfile. Why not TCP: docs/decisions/access-policy.md#no-path-around-the-front
     */
    readonly caddyAdminSocket: string;
}

/** The production layout around a registry data directory (and the Maven repository's, `externalHost.mavenDataDir`). */
export function defaultHostLayout(dataDir: string, mavenDataDir: string = DEFAULT_HOST_DIRS.maven): HostLayout {
    return {
        dataDir,
        mavenDataDir,
        registryConfigDir: DISTRIBUTION.configDir,
        caddyfile: "/etc/caddy/Caddyfile",
        caddyDir: "/etc/caddy/dso-registry",
        binDir: "/usr/local/sbin",
        cronFile: "/etc/cron.d/dso-registry",
        lockFile: "/run/lock/dso-registry.lock",
        frontDir: FRONT_DIR,
        caddyDataDir: `${FRONT_DIR}/data/caddy`,
        socketDir: DISTRIBUTION.socketDir,
        mavenSocketDir: "/run/dso-registry-maven",
        mirrorSocketsDir: "/run/dso-registry-mirrors",
        caddyAdminSocket: "/run/caddy/admin.sock",
    };
}

/** The front's directory on the host (HostLayout.frontDir). */
export const FRONT_DIR = "/var/lib/dso-registry-front";

/**
 * The front's access log, in its own directory (the same path on the host and in its container): fail2ban
 * reads it, the pull history is made from it, and online garbage collection reads it as its record.
 */
export const CADDY_ACCESS_LOG = `${FRONT_DIR}/logs/access.log`;

/** The front's container: Caddy from `registry.caddyImage`, on the host's network. */
export const FRONT_CONTAINER = "dso-registry-front";

/**
 * The distribution's caddy service, which earlier versions ran as the front (Debian's and Fedora's run
 * as user caddy with HOME=/var/lib/caddy): where its certificates and admin socket are, for the move.
 */
export const PACKAGE_CADDY = {
    dataDir: "/var/lib/caddy/.local/share/caddy",
    adminSocket: "/var/lib/caddy/admin.sock",
} as const;

/** Paths derived from the layout, used by both the component and the scripts. */
export function hostPaths(layout: HostLayout) {
    return {
        registryConfig: `${layout.registryConfigDir}/config.yml`,
        registryConfigReadOnly: `${layout.registryConfigDir}/config-readonly.yml`,
        caCert: `${layout.registryConfigDir}/ca.crt`,
        /** The registry container's environment file with the S3 credentials (s3 storage only), mode 0600. */
        storageEnv: `${layout.registryConfigDir}/storage.env`,
        pushUsers: `${layout.caddyDir}/users-push`,
        pullUsers: `${layout.caddyDir}/users-pull`,
        /** The Maven deploy account's users file (the only account that may PUT to the Maven repository). */
        mavenDeployUsers: `${layout.caddyDir}/users-maven-deploy`,
        /** With a rotation's overlap: the overlap file, beside each users file's "-previous" file (usersFile.ts). */
        overlapMatchers: `${layout.caddyDir}/overlap`,
        /** The Maven backend's nginx.conf, in a directory mounted read-only into the nginx container. */
        mavenConfigDir: `${layout.registryConfigDir}/maven`,
        /** Exists only during the read-only window; Caddy answers writes with 503 while it does. */
        readOnlyMarker: `${layout.caddyDir}/read-only`,
        /**
         * The online collection's holds (`AccessPolicy.sweepHold`): a file per blob being swept, and the gate
         * that manifest PUTs and held blobs' commits and mounts pass through (a link to Distribution's socket,
         * away while the collection holds them),
         * which the front reads per request (through its mount of `caddyDir`) and the collection writes.
         */
        sweepHold: `${layout.caddyDir}/sweep-hold`,
        /** Exists while the disk guard refuses new uploads (registry.diskGuard); Caddy answers them 507 while it does. */
        diskFullMarker: `${layout.caddyDir}/disk-full`,
        /** Exists while the disk guard refuses Maven deploys (the Maven data directory's file system); Caddy answers them 507 while it does. */
        mavenDiskFullMarker: `${layout.caddyDir}/maven-disk-full`,
        diskGuardScript: `${layout.binDir}/dso-registry-disk-guard`,
        diskGuardCron: `${layout.cronFile}-disk-guard`,
        /** The front's connection cap: its nftables rules, and the cron file that loads them at boot (connectionCap.ts). */
        connectionCapRules: `${layout.caddyDir}/connection-cap.nft`,
        connectionCapCron: `${layout.cronFile}-connection-cap`,
        tlsCert: `${layout.caddyDir}/registry.crt`,
        tlsKey: `${layout.caddyDir}/registry.key`,
        gcScript: `${layout.binDir}/dso-registry-gc`,
        backupScript: `${layout.binDir}/dso-registry-backup`,
        statusScript: `${layout.binDir}/dso-registry-status`,
        verifyScript: `${layout.binDir}/dso-registry-verify`,
        retentionScript: `${layout.binDir}/dso-registry-retention`,
        /** Reads the front's access log into the pull history (retention's keepPulledWithinDays). */
        pullsScript: `${layout.binDir}/dso-registry-pulls`,
        /** The front's access log (`CADDY_ACCESS_LOG` in the production layout). */
        accessLog: `${layout.frontDir}/logs/access.log`,
        /** The pull history, in the front's directory beside its logs: it survives restarts and log rotation. */
        pullHistory: `${layout.frontDir}/pull-history`,
        restoreScript: `${layout.binDir}/dso-registry-restore`,
        /** Distribution's unix socket on the host: the front's upstream, and the upkeep scripts' way in. */
        registrySocket: `${layout.socketDir}/${DISTRIBUTION.socketName}`,
        /** The Maven backend's unix socket on the host: the front's upstream for the Maven repository. */
        mavenSocket: `${layout.mavenSocketDir}/${MAVEN_BACKEND.socketName}`,
    };
}

/** Name of the registry container. */
export const REGISTRY_CONTAINER = "dso-registry";
/** Name of the web UI container. */
export const UI_CONTAINER = "dso-registry-ui";
/** Loopback port the web UI container is published on (Caddy's upstream for the UI). */
export const UI_HOST_PORT = 5080;

/** A container as `docker run` creates it. */
export interface ContainerSpec {
    /** Container name. */
    readonly name: string;
    /** Image reference, tag or digest. */
    readonly image: string;
    /** Loopback port the container is published on (Caddy's upstream); none for the registry, which listens on its unix socket. */
    readonly hostPort?: number;
    /** Host paths the container mounts and its scripts use. */
    readonly layout: HostLayout;
    /** Where the registry keeps images; the layout's data directory when unset. */
    readonly storage?: ContainerStorage;
    /**
     * Distribution's metrics on the host's loopback at `port`, through the metrics relay (Caddy from
     * `relayImage`, metricsRelay.ts) in the registry container's network namespace; none when unset.
     */
    readonly metrics?: { readonly port: number; readonly relayImage: string };
}

/**
 * Where the registry container keeps images: the layout's data directory, bind-mounted; or an S3
 * bucket, with nothing mounted and the credentials read by docker from `hostPaths(layout).storageEnv`.
 */
export type ContainerStorage =
    | { readonly kind: "filesystem" }
    | {
          readonly kind: "s3";
          readonly bucket: string;
          /** The object store's endpoint; AWS when unset. */
          readonly endpoint?: string;
      };

/** The S3 credentials as Distribution reads them from its environment. */
export interface S3Credentials {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
}

/**
 * The registry container's environment file (`docker run --env-file`) with the S3 credentials:
 * one `NAME=value` per line, the value taken literally to the end of the line, so a value may hold
 * any character but a line break.
 */
export function renderStorageEnvFile(credentials: S3Credentials): string {
    const entries = [
        ["REGISTRY_STORAGE_S3_ACCESSKEY", credentials.accessKeyId, "s3AccessKeyId"],
        ["REGISTRY_STORAGE_S3_SECRETKEY", credentials.secretAccessKey, "s3SecretAccessKey"],
    ] as const;
    for (const [, value, secret] of entries) {
        if (value === "" || /[\r\n]/.test(value)) {
            throw new Error(
                `the secret dso-registry:${secret} is empty or holds a line break; an S3 key is one line. Set it again with: pulumi config set --secret dso-registry:${secret} < file-with-the-key`,
            );
        }
    }
    return entries.map(([name, value]) => `${name}=${value}\n`).join("");
}

/** A script of this folder (components/externalHost/sh/<file>), rendered with its parameters. */
export function hostScript(file: string, params: ShellParams): string {
    return renderShellScript(path.join(__dirname, "sh", file), params);
}

/** The parameters of a script that takes the upkeep lock (sh/lock.sh). */
export function lockParams(layout: HostLayout) {
    return { LOCK_FILE: layout.lockFile };
}

/**
 * The parameters of a script that runs the registry container (registry-run.sh): its spec, and
 * `specFingerprint`, the label of the writable registry (with s3 storage, a digest of the environment
 * file is added on the host, so that new credentials recreate the container). With metrics, the relay
 * (metricsRelay.ts) is run with each registry container, labelled with the fingerprint of its image and
 * Caddyfile.
 */
export function registryParams(spec: ContainerSpec, specFingerprint: string) {
    const relay = spec.metrics && metricsRelayParams(spec.layout, spec.metrics);
    return {
        REGISTRY_NAME: spec.name,
        REGISTRY_IMAGE: spec.image,
        REGISTRY_SOCKET_DIR: spec.layout.socketDir,
        REGISTRY_STORAGE: spec.storage?.kind ?? "filesystem",
        REGISTRY_DATA_DIR: spec.layout.dataDir,
        REGISTRY_CONFIG_DIR: spec.layout.registryConfigDir,
        REGISTRY_STORAGE_ENV: hostPaths(spec.layout).storageEnv,
        REGISTRY_FINGERPRINT: specFingerprint,
        REGISTRY_METRICS_PORT: spec.metrics?.port ?? "",
        RELAY_NAME: METRICS_RELAY_CONTAINER,
        RELAY_IMAGE: relay?.image ?? "",
        RELAY_CONFIG_DIR: relay?.configDir ?? "",
        RELAY_FINGERPRINT: relay?.fingerprint ?? "",
        DISTRIBUTION_SOCKET_DIR: DISTRIBUTION.socketDir,
        DISTRIBUTION_SOCKET: `${DISTRIBUTION.socketDir}/${DISTRIBUTION.socketName}`,
        DISTRIBUTION_DATA_DIR: DISTRIBUTION.dataDir,
        DISTRIBUTION_CONFIG_DIR: DISTRIBUTION.configDir,
        DISTRIBUTION_ENV: DISTRIBUTION_ENV_WORDS,
    };
}

/** The metrics relay as the registry's scripts run it: image, Caddyfile directory on the host, label. */
function metricsRelayParams(layout: HostLayout, metrics: NonNullable<ContainerSpec["metrics"]>) {
    const caddyfile = renderMetricsRelayCaddyfile({ port: metrics.port, upstream: `127.0.0.1:${DEBUG_LISTENER_PORT}` });
    return {
        image: metrics.relayImage,
        configDir: metricsRelayDir(layout.registryConfigDir),
        caddyfile,
        fingerprint: fingerprint(metrics.relayImage, caddyfile),
    };
}

/** The metrics relay's Caddyfile: where the host keeps it (mounted read-only into the relay) and its text. */
export function metricsRelayFile(spec: ContainerSpec): { readonly path: string; readonly content: string } | undefined {
    if (!spec.metrics) return undefined;
    const relay = metricsRelayParams(spec.layout, spec.metrics);
    return { path: `${relay.configDir}/Caddyfile`, content: relay.caddyfile };
}

/**
 * Installs Docker, Caddy and cron (and restic, for backups) from the distribution's packages when
 * they are missing (apt or dnf), or, with `install` false, only reports what is missing and fails.
 */
export function packagesScript(install: boolean, restic = false): string {
    return hostScript("packages.sh", { INSTALL: install, RESTIC: restic });
}

/** Creates the data directory (root's, mode 0750; group `caddy` where the host has one). The front reads it as root, mounted read-only. */
export function dataDirScript(layout: HostLayout): string {
    return hostScript("data-dir.sh", { DATA_DIR: layout.dataDir });
}

/** On delete: keeps the data and says so; only the purge on destroy removes it (purgeOnDestroy.ts). */
export function dataDirDeleteScript(layout: HostLayout): string {
    return hostScript("data-dir-delete.sh", { DATA_DIR: layout.dataDir, CONTENT: "registry data" });
}

/**
 * Runs the registry container when it is missing, stopped, or was created from another spec
 * (image, ports, mounts or config: `specFingerprint`). Otherwise changes nothing.
 */
export function containerScript(spec: ContainerSpec, specFingerprint: string): string {
    return hostScript("registry-container.sh", { ...lockParams(spec.layout), ...registryParams(spec, specFingerprint) });
}

/**
 * The same-origin UI (joxit/docker-registry-ui) on loopback, with the environment both placements
 * give it (components/registryUi/environment.ts): it talks to the registry through the page's own
 * origin, so no CORS is involved; deletes only when the registry allows them. Recreated when its
 * image, port or environment changes.
 */
export function uiContainerScript(spec: ContainerSpec, deletesEnabled: boolean, registryHost: string): string {
    const environment = uiEnvironment({ registryHost, deleteEnabled: deletesEnabled }).map(({ name, value }) => `${name}=${value}`);
    return hostScript("ui-container.sh", {
        CONTAINER: spec.name,
        IMAGE: spec.image,
        PUBLISH: `127.0.0.1:${spec.hostPort}:80`,
        ENVIRONMENT: environment,
        FINGERPRINT: fingerprint(spec.image, String(spec.hostPort), ...environment),
    });
}

/** Removes a container (the registry's data stays in the data directory). */
export function containerDeleteScript(spec: Pick<ContainerSpec, "name">): string {
    return hostScript("container-delete.sh", { CONTAINERS: [spec.name] });
}

/** Removes the registry container and its metrics relay, which lives in the registry's namespaces (the data stays). */
export function registryDeleteScript(spec: Pick<ContainerSpec, "name">): string {
    return hostScript("container-delete.sh", { CONTAINERS: [METRICS_RELAY_CONTAINER, spec.name] });
}

/**
 * What the front's container mounts, each at the same path: the Caddyfile's directory (with the users
 * and TLS files) and the registry's data directory read-only, and the directories of the unix sockets it
 * proxies to (Distribution, Maven's backend, the caches).
 */
export function frontMounts(layout: HostLayout): string[] {
    const configDir = path.posix.dirname(layout.caddyfile);
    const readOnly = [configDir, ...(layout.caddyDir.startsWith(`${configDir}/`) ? [] : [layout.caddyDir]), layout.dataDir];
    const sockets = [layout.socketDir, layout.mavenSocketDir, layout.mirrorSocketsDir];
    return [...readOnly.map((d) => `${d}:${d}:ro`), ...sockets.map((d) => `${d}:${d}`)];
}

/** The front's connection cap's files under the layout (connectionCap.ts). */
function connectionCapPaths(layout: HostLayout): ConnectionCapPaths {
    const paths = hostPaths(layout);
    return { rulesFile: paths.connectionCapRules, bootCronFile: paths.connectionCapCron };
}

/**
 * Validates the Caddyfile with the front's Caddy (`image`), caps the connections per client address on the
 * front's TCP `ports` (connectionCap.ts), then applies the Caddyfile: `caddy reload` inside the front when it
 * runs from the same spec, otherwise the front made anew (moving from the distribution's caddy service on
 * the first run). `reloadFingerprint` makes the script's text change (and so re-run) whenever a file Caddy
 * reads changes.
 */
export function caddyApplyScript(
    layout: HostLayout,
    reloadFingerprint: string,
    image: string,
    ports: readonly number[],
    sweepHold = false,
): string {
    const paths = hostPaths(layout);
    return hostScript("caddy-apply.sh", {
        CADDYFILE: layout.caddyfile,
        // With the online collection's holds: the gate held writes pass through, a link to Distribution's socket.
        SWEEP_GATE: sweepHold ? `${paths.sweepHold}/${SWEEP_HOLD_GATE}` : "",
        REGISTRY_SOCKET: paths.registrySocket,
        FILES_FINGERPRINT: reloadFingerprint,
        FRONT_NAME: FRONT_CONTAINER,
        FRONT_IMAGE: image,
        FRONT_DIR: layout.frontDir,
        FRONT_MOUNTS: frontMounts(layout),
        ADMIN_DIR: path.posix.dirname(layout.caddyAdminSocket),
        FRONT_MEMORY_MIB: FRONT_MEMORY.limitMiB,
        FRONT_GO_MEMORY_LIMIT: FRONT_ENVIRONMENT.GOMEMLIMIT,
        FRONT_OPEN_FILES: FRONT_MEMORY.openFiles,
        PACKAGE_DATA_DIR: PACKAGE_CADDY.dataDir,
        PACKAGE_ADMIN_SOCKET: PACKAGE_CADDY.adminSocket,
        ...lockParams(layout),
        ...connectionCapParams(connectionCapPaths(layout), ports),
    });
}

/**
 * On destroy: removes the front's container and its connection cap, and leaves a Caddyfile that says the
 * site was removed (certificates stay).
 */
export function caddyRemoveScript(layout: HostLayout): string {
    return hostScript("caddy-remove.sh", {
        CADDYFILE: layout.caddyfile,
        FRONT_NAME: FRONT_CONTAINER,
        FRONT_DIR: layout.frontDir,
        SWEEP_HOLD: hostPaths(layout).sweepHold,
        ...connectionCapRemoveParams(connectionCapPaths(layout)),
    });
}

/** How garbage collection runs (`registry.maintenance.garbageCollection.mode`). */
export type GcMode = "window" | "online";

export interface UpkeepSpec {
    readonly garbageCollection: {
        readonly enabled: boolean;
        readonly schedule: string;
        readonly deleteUntagged: boolean;
        readonly mode: GcMode;
    };
    /** The pull history is read from the access log every hour (retention's keepPulledWithinDays). */
    readonly pulls?: boolean;
    /** Scheduled backups; none when unset. */
    readonly backup?: { readonly schedule: string };
}

/**
 * The garbage-collection script (a file on the host, dso-registry-gc.sh). In `window` mode: the registry
 * recreated read-only inside the front's window, the collection (and the Maven repository's, with `maven`),
 * the writable registry back with an empty cache, then dso-registry-verify. In `online` mode: Distribution
 * stays up and writable and the collection runs while pushes go on (online-collect.sh, with the front's holds
 * in `sweepHold` and its access log as the record; with s3 storage it reaches the bucket at `online.s3Url`);
 * only retention's removals and Maven's clean-up get a read-only window of their own, without a restart.
 * With `retention`, dso-registry-retention reads the tags and writes its plan before any window, and makes
 * the plan's removals first inside it, while Distribution is writable. Why the window:
 * docs/decisions/maintenance-window.md; why online is safe: docs/decisions/online-collection.md.
 */
export function gcScript(
    spec: ContainerSpec,
    specFingerprint: string,
    deleteUntagged: boolean,
    maven?: MavenCleanup,
    reporting?: JobReporting,
    retention = false,
    pulls = false,
    online?: { readonly s3Url?: string; readonly s3Region?: string },
): string {
    const paths = hostPaths(spec.layout);
    return hostScript("dso-registry-gc.sh", {
        GC_MODE: online ? "online" : "window",
        ONLINE_HOLD_DIR: online ? paths.sweepHold : "",
        ONLINE_ACCESS_LOG: online ? paths.accessLog : "",
        ONLINE_GRACE_SECONDS: ONLINE_COLLECTION.graceSeconds,
        ONLINE_SETTLE_SECONDS: ONLINE_COLLECTION.settleSeconds,
        ONLINE_QUARANTINE_SECONDS: ONLINE_COLLECTION.quarantineSeconds,
        ONLINE_S3_URL: online?.s3Url ?? "",
        ONLINE_S3_REGION: online?.s3Region ?? "",
        // Distribution's own API for the collection's manifest reads (registry-api.sh), over its unix socket.
        REGISTRY_URL: "http://localhost",
        HTTP_CLIENT: "curl",
        UNIX_SOCKET: paths.registrySocket,
        ...lockParams(spec.layout),
        MARKER: paths.readOnlyMarker,
        ...FRONT_WINDOW_PARAMS,
        // docker stop waits this long for Distribution to drain the requests under way (http.draintimeout).
        STOP_SECONDS: REGISTRY_DRAIN_SECONDS + 5,
        DELETE_UNTAGGED: deleteUntagged,
        VERIFY_SCRIPT: paths.verifyScript,
        RETENTION_SCRIPT: retention ? paths.retentionScript : "",
        PULLS_SCRIPT: retention && pulls ? paths.pullsScript : "",
        ...registryParams(spec, specFingerprint),
        ...mavenCleanupParams(maven),
        ...reportingParams(reporting, paths.gcScript, spec.storage?.kind === "s3" ? "" : spec.layout.dataDir),
    });
}

/**
 * The online collection's holds let go of, as the collection does on every exit of its own: the gate back (a
 * link to Distribution's socket) and every blob's hold gone, under the maintenance lock (a collection under way
 * has them in place on purpose). Run at boot: a collection cut by the host going down cannot have done it, and
 * would leave manifest PUTs waiting, then refused, until the next one.
 */
export function onlineHoldsReleased(layout: HostLayout): string {
    const paths = hostPaths(layout);
    return `flock ${layout.lockFile} sh -c 'ln -sfn ${paths.registrySocket} ${paths.sweepHold}/${SWEEP_HOLD_GATE} && rm -f ${paths.sweepHold}/sha256:*'`;
}

/**
 * /etc/cron.d file for the enabled upkeep jobs (root, logs to syslog through logger); with online collection,
 * its holds let go of at boot (`onlineHoldsReleased`).
 */
export function cronFile(layout: HostLayout, upkeep: UpkeepSpec): string {
    const paths = hostPaths(layout);
    const lines = [
        "# Managed by dso-registry. See docs/external-host.md.",
        "SHELL=/bin/sh",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ];
    if (upkeep.garbageCollection.enabled) {
        lines.push(`${upkeep.garbageCollection.schedule} root ${paths.gcScript} 2>&1 | logger -t dso-registry-gc`);
    }
    if (upkeep.garbageCollection.enabled && upkeep.garbageCollection.mode === "online") {
        lines.push(`@reboot root ${onlineHoldsReleased(layout)} 2>&1 | logger -t dso-registry-gc`);
    }
    if (upkeep.pulls) {
        lines.push(`17 * * * * root ${paths.pullsScript} 2>&1 | logger -t dso-registry-pulls`);
    }
    if (upkeep.backup) {
        lines.push(`${upkeep.backup.schedule} root ${paths.backupScript} 2>&1 | logger -t dso-registry-backup`);
    }
    return `${lines.join("\n")}\n`;
}

/** What the post-deploy check expects through Caddy. */
export interface CheckExpectations {
    /** Host name clients use, and the HTTPS port Caddy listens on. */
    readonly host: string;
    readonly port: number;
    /** CA file to verify with; the system trust store when unset; "insecure" skips verification. */
    readonly caFile?: string | "insecure";
    readonly requiresAuthForPull: boolean;
    /** Loopback is outside the allowlist: every answer is 403. */
    readonly loopbackRefused: boolean;
    /** How long to wait for Caddy (and an ACME certificate) before failing. */
    readonly waitSeconds: number;
}

/**
 * Asks the registry through Caddy, from the host itself (name resolved to 127.0.0.1), whether the
 * policy holds: the ping is challenged, an anonymous read is allowed or challenged as configured,
 * and an anonymous upload is refused. Fails the update (non-zero) when any answer is wrong.
 */
export function postDeployCheckScript(e: CheckExpectations): string {
    return hostScript("post-deploy-check.sh", {
        HOST: e.host,
        PORT: e.port,
        CA_FILE: e.caFile ?? "",
        EXPECT_PING: e.loopbackRefused ? 403 : 401,
        EXPECT_READ: e.loopbackRefused ? 403 : e.requiresAuthForPull ? 401 : 200,
        EXPECT_WRITE: e.loopbackRefused ? 403 : 401,
        WAIT_SECONDS: e.waitSeconds,
    });
}

/** What the status script shows beside the container: the certificate the front serves, and the jobs' outcomes. */
export interface StatusTargets {
    /** The registry's name and HTTPS port (the certificate is asked on loopback). */
    readonly host: string;
    readonly port: number;
    /** node_exporter's textfile directory the jobs report to; "" when monitoring is off. */
    readonly textfileDir: string;
    /** Rotation by age of the generated passwords; the status says when the next is due, or that it is overdue. */
    readonly passwordRotation?: PasswordRotation;
    /** Tag retention's mode, when it has rules: the status shows its last run's counts. */
    readonly retentionMode?: "dry-run" | "apply";
    /** The disk guard, when on: the status says whether it refuses uploads. */
    readonly diskGuard?: DiskGuard;
    /** The disk guard on the Maven directory, when on and the host serves Maven: the status says whether it refuses deploys. */
    readonly mavenDiskGuard?: DiskGuard;
}

/** Rotation by age of the generated passwords (`containerRegistry.rotateAfterDays`). */
export interface PasswordRotation {
    readonly everyDays: number;
    /** When the next period begins, in Unix seconds: the first `pulumi up` after it rotates them. */
    readonly due: number;
}

/** The jobs whose outcome the status script shows, in its order. */
export const REPORTED_TASKS = ["gc", "verify", "backup", "restore", "cache-prune"] as const;

/**
 * A script operators run on the host to see the registry's state (placed as dso-registry-status): the
 * container, Caddy, the certificate's expiry, the last run of each job with its result, the data and
 * the free disk, the caches' sizes, and when the generated passwords are due for rotation.
 */
export function statusScript(spec: ContainerSpec, targets: StatusTargets): string {
    return hostScript("dso-registry-status.sh", {
        CONTAINER: spec.name,
        DATA_DIR: spec.layout.dataDir,
        BUCKET: spec.storage?.kind === "s3" ? `s3 bucket ${spec.storage.bucket} at ${spec.storage.endpoint ?? "AWS"}` : "",
        HOST: targets.host,
        PORT: targets.port,
        TEXTFILE_DIR: targets.textfileDir,
        CACHES_DIR: mirrorsDirOf(spec.layout.dataDir),
        TASKS: [...REPORTED_TASKS],
        LAST_RUN: JOB_METRICS.lastRun,
        LAST_SUCCESS: JOB_METRICS.lastSuccess,
        SUCCESS: JOB_METRICS.success,
        DURATION: JOB_METRICS.duration,
        BYTES_FREED: JOB_METRICS.bytesFreed,
        ROTATE_AFTER_DAYS: targets.passwordRotation?.everyDays ?? "",
        ROTATION_DUE: targets.passwordRotation?.due ?? "",
        OVERLAP_FILE: hostPaths(spec.layout).overlapMatchers,
        FRONT_NAME: FRONT_CONTAINER,
        RETENTION_MODE: targets.retentionMode ?? "",
        RETENTION_FILE: RETENTION_TEXTFILE,
        RETENTION_REMOVED: JOB_METRICS.retentionRemoved,
        RETENTION_CANDIDATES: JOB_METRICS.retentionCandidates,
        RETENTION_LAST_RUN: JOB_METRICS.retentionLastRun,
        DISK_MARKER: targets.diskGuard ? hostPaths(spec.layout).diskFullMarker : "",
        MAVEN_DIR: targets.mavenDiskGuard ? spec.layout.mavenDataDir : "",
        MAVEN_DISK_MARKER: targets.mavenDiskGuard ? hostPaths(spec.layout).mavenDiskFullMarker : "",
        REFUSE_PERCENT: (targets.diskGuard ?? targets.mavenDiskGuard)?.refusePercent ?? "",
    });
}

/** The disk guard (`registry.diskGuard`): where it refuses, and where it writes its series ("" without monitoring). */
export interface DiskGuard {
    readonly refusePercent: number;
}

/** The directories the host's disk guard checks: the registry's data (filesystem storage), the Maven repository's (when the host serves it). */
export interface DiskGuardDirs {
    readonly data: boolean;
    readonly maven: boolean;
}

/**
 * The disk guard's script (dso-registry-disk-guard.sh): for each directory it checks, that directory's
 * marker past `refusePercent` used, none below. The registry's data directory only when `dirs` is unset.
 */
export function diskGuardScript(
    layout: HostLayout,
    guard: DiskGuard,
    textfileDir: string,
    dirs: DiskGuardDirs = { data: true, maven: false },
): string {
    const paths = hostPaths(layout);
    return hostScript("dso-registry-disk-guard.sh", {
        DATA_DIR: dirs.data ? layout.dataDir : "",
        MARKER: paths.diskFullMarker,
        MAVEN_DIR: dirs.maven ? layout.mavenDataDir : "",
        MAVEN_MARKER: paths.mavenDiskFullMarker,
        REFUSE_PERCENT: guard.refusePercent,
        TEXTFILE_DIR: textfileDir,
        REFUSING: JOB_METRICS.diskGuardRefusing,
        MAVEN_REFUSING: JOB_METRICS.mavenDiskGuardRefusing,
    });
}

/** /etc/cron.d file that runs the disk guard every five minutes (root, output to syslog). */
export function diskGuardCronFile(layout: HostLayout): string {
    return [
        "# Managed by dso-registry: new uploads refused while the data disk is almost full. See docs/runbooks.md, Disk full.",
        "SHELL=/bin/sh",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        `*/5 * * * * root ${hostPaths(layout).diskGuardScript} 2>&1 | logger -t dso-registry-disk-guard`,
        "",
    ].join("\n");
}

/** The directory of the pull-through caches' storage: beside the registry's data directory, never inside it. */
export function mirrorsDirOf(dataDir: string): string {
    return `${dataDir.replace(/\/+$/, "")}-mirrors`;
}
