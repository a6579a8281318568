/**
 * Backups of the external registry host with restic, its restore command, and the check that every
 * tagged image is still served whole (run after garbage collection and after a restore). The scheme
 * (repository, passes, retention) is the one both placements share (components/upkeep/backup.ts);
 * this file gives the host's files and the parameters of its scripts, dso-registry-backup.sh and
 * dso-registry-restore.sh beside it. Every script honours $DSO_ROOT.
 */

import { shQuote } from "../shared/shQuote";
import { BACKUP_WARM_TAG, type BackupDestination, resticRepository, SNAPSHOT_PARAMS } from "../upkeep/backup";
import { FRONT_WINDOW_PARAMS } from "../upkeep/frontWindow";
import { type JobReporting, reportingParams } from "../upkeep/reporting";
import { pullHistoryDays, type Retention, renderRetentionScript } from "../upkeep/retention";
import { renderVerifyScript } from "../upkeep/verify";
import { CADDY_ACCESS_LOG } from "./caddySite";
import { type MavenHostSpec, mavenRunParams } from "./mavenScripts";
import { type ContainerSpec, FRONT_CONTAINER, type HostLayout, hostPaths, hostScript, lockParams, registryParams } from "./scripts";

/** Files of the backup on the host (outside everything the backup copies). */
export function backupPaths() {
    const conf = "/etc/dso-registry-backup";
    return {
        conf,
        /** restic's repository password (0600). */
        passwordFile: `${conf}/repository-password`,
        /** SFTP: the private key for the backup machine (0600) and its pinned host key. */
        sshKey: `${conf}/ssh-key`,
        knownHosts: `${conf}/known_hosts`,
        /** S3: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (0600). */
        s3Env: `${conf}/s3.env`,
        /** restic's metadata cache (index and tree blobs only, no file data). */
        cacheDir: "/var/cache/dso-registry-backup",
    };
}

/**
 * What a rebuilt host needs, in the order restic lists them: data, configs, Caddy's files and its
 * certificates, and the Maven repository's files when the host serves Maven.
 */
export function backedUpPaths(layout: HostLayout, maven = false): string[] {
    return [
        layout.dataDir,
        layout.registryConfigDir,
        layout.caddyfile,
        layout.caddyDir,
        layout.caddyDataDir,
        ...(maven ? [layout.mavenDataDir] : []),
    ];
}

/** The Maven backend the backup covers and the restore brings back: its spec and the label its container carries. */
export interface BackedUpMaven {
    readonly spec: MavenHostSpec;
    readonly fingerprint: string;
}

/** The known_hosts line that pins the backup machine's key. */
export function backupKnownHosts(dest: Extract<BackupDestination, { kind: "sftp" }>): string {
    const name = dest.port === 22 ? dest.host : `[${dest.host}]:${dest.port}`;
    return `${name} ${dest.hostKey.trim().split(/\s+/).slice(0, 2).join(" ")}\n`;
}

/** The S3 credentials file the scripts read (exported into restic's environment, never on a command line). */
export function backupS3EnvFile(accessKeyId: string, secretAccessKey: string, region: string): string {
    return `AWS_ACCESS_KEY_ID=${shQuote(accessKeyId)}\nAWS_SECRET_ACCESS_KEY=${shQuote(secretAccessKey)}\nAWS_DEFAULT_REGION=${shQuote(region)}\n`;
}

/** The parameters of a script that runs restic on the host (host-restic.sh), for the destination. */
function resticParams(dest: BackupDestination) {
    const p = backupPaths();
    return {
        REPOSITORY: resticRepository(dest),
        DESTINATION: dest.kind,
        BACKUP_CONF: p.conf,
        CACHE_DIR: p.cacheDir,
        SFTP_HOST: dest.kind === "sftp" ? dest.host : "",
        SFTP_PORT: dest.kind === "sftp" ? String(dest.port) : "",
        SFTP_USER: dest.kind === "sftp" ? dest.user : "",
        ...SNAPSHOT_PARAMS,
    };
}

/**
 * The backup script (a file on the host): pass 1 while the registry is writable, pass 2 inside the
 * front's window (the marker alone: nothing restarts), then retention on the destination; `keep`
 * snapshots stay.
 */
export function backupScript(
    spec: ContainerSpec,
    dest: BackupDestination,
    keep: number,
    maven?: BackedUpMaven,
    reporting?: JobReporting,
): string {
    return hostScript("dso-registry-backup.sh", {
        ...lockParams(spec.layout),
        MARKER: hostPaths(spec.layout).readOnlyMarker,
        ...FRONT_WINDOW_PARAMS,
        BACKED_UP: backedUpPaths(spec.layout, maven !== undefined),
        KEEP: keep,
        ...resticParams(dest),
        WRITABLE_PASS_TAG: BACKUP_WARM_TAG,
        ...reportingParams(reporting, hostPaths(spec.layout).backupScript, measuredDir(spec)),
    });
}

/**
 * The restore command (a file on the host): `dso-registry-restore [snapshot]` (the newest when
 * none is given; `--list` lists them), the writable registry (and the Maven backend) started again
 * with the labels `specFingerprint` and `maven.fingerprint`.
 */
export function restoreScript(
    spec: ContainerSpec,
    specFingerprint: string,
    dest: BackupDestination,
    maven?: BackedUpMaven,
    reporting?: JobReporting,
): string {
    const paths = hostPaths(spec.layout);
    return hostScript("dso-registry-restore.sh", {
        ...lockParams(spec.layout),
        MARKER: paths.readOnlyMarker,
        SET_ASIDE: [spec.layout.dataDir, ...(maven ? [spec.layout.mavenDataDir] : [])],
        CADDYFILE: spec.layout.caddyfile,
        FRONT_NAME: FRONT_CONTAINER,
        VERIFY_SCRIPT: paths.verifyScript,
        ...resticParams(dest),
        ...registryParams(spec, specFingerprint),
        ...mavenRunParams(maven?.spec, maven?.fingerprint),
        ...reportingParams(reporting, paths.restoreScript, measuredDir(spec)),
    });
}

/**
 * The check (placed as dso-registry-verify, run by GC after the registry is back and by restore),
 * with curl against Distribution's unix socket on the host; the check itself is the one both
 * placements run (components/upkeep/verify.ts).
 */
export function verifyScript(
    spec: Pick<ContainerSpec, "layout" | "storage">,
    reporting?: JobReporting & { readonly self: string },
): string {
    const dataDir = measuredDir(spec);
    return renderVerifyScript({
        ...(reporting ? { reporting } : {}),
        // The blob files Caddy serves from (filesystem storage).
        ...(dataDir ? { blobStore: dataDir } : {}),
        base: "http://localhost",
        unixSocket: hostPaths(spec.layout).registrySocket,
        client: "curl",
        registryLogs: "docker logs dso-registry",
        remedy: "Push them again from their builds, or restore the last good backup (dso-registry-restore --list).",
    });
}

/**
 * Tag retention (placed as dso-registry-retention, run by the GC script: its read phase before the
 * window, its removals inside it before the registry goes read-only), with curl against Distribution's unix socket; ages from the link files in
 * the data directory (filesystem storage) or from the image configs (s3). The host cannot see the
 * cluster's pods: no workload is known here, `protect` covers what runs.
 */
export function retentionScript(spec: Pick<ContainerSpec, "layout" | "storage">, retention: Retention, textfileDir: string): string {
    const dataDir = measuredDir(spec);
    return renderRetentionScript({
        retention,
        base: "http://localhost",
        unixSocket: hostPaths(spec.layout).registrySocket,
        client: "curl",
        registryLogs: "docker logs dso-registry",
        ...(dataDir ? { storageRoot: dataDir } : {}),
        ...(textfileDir ? { textfileDir } : {}),
        ...(pullHistoryDays(retention) !== undefined ? { pullHistory: hostPaths(spec.layout).pullHistory } : {}),
    });
}

/**
 * The pull history's feed (placed as dso-registry-pulls, with a rule's keepPulledWithinDays): reads the
 * front's access log and the files Caddy rolled it into that changed since its last run, and merges their
 * pulls into the history in the front's directory, keeping `keepDays` days (the longest
 * keepPulledWithinDays). Run by the GC script before retention's plan, and every hour by cron.
 */
export function pullsScript(layout: HostLayout, keepDays: number): string {
    return hostScript("dso-registry-pulls.sh", {
        ACCESS_LOG: CADDY_ACCESS_LOG,
        PULL_HISTORY: hostPaths(layout).pullHistory,
        KEEP_DAYS: keepDays,
    });
}

/** The directory a job's reported size is measured on: the data directory, none with s3 storage. */
export function measuredDir(spec: Pick<ContainerSpec, "layout" | "storage">): string {
    return spec.storage?.kind === "s3" ? "" : spec.layout.dataDir;
}
