/**
 * Backups of the external registry host with restic, its restore command, and the check that every
 * tagged image is still served whole (run after garbage collection and after a restore). Pure
 * functions of a typed plan, like scripts.ts; every script honours $DSO_ROOT.
 *
 * Why restic: it is packaged by Debian and the other major distributions, writes to another machine
 * over SFTP (plain OpenSSH) and to S3-compatible storage with the same commands, deduplicates by
 * content (registry blobs never change, so a nightly run only sends what is new), encrypts the
 * repository, and keeps retention on the destination (`forget --prune`): nothing piles up on the
 * registry's own disk. A second run right after a first one only reads files whose size, mtime or
 * inode changed: that makes the read-only pass short.
 */
import { END_MARKER_ONLY_WINDOW, MARKER_ONLY_WINDOW } from "../shared/frontWindow";
import { shQuote } from "../shared/shQuote";
import { renderVerifyScript } from "../shared/verifyScript";
import { MAVEN_CONTAINER, type MavenHostSpec, mavenRunLines } from "./mavenScripts";
import { type ContainerSpec, dockerRunArgs, type HostLayout, hostPaths, LOCK, wantedLabel } from "./scripts";

/** Where backups go: another machine over SFTP, or an S3-compatible bucket. */
export type BackupDestination =
    | {
          readonly kind: "sftp";
          readonly host: string;
          readonly port: number;
          readonly user: string;
          /** Absolute path of the restic repository on that machine. */
          readonly path: string;
          /** The machine's public host key line ("ssh-ed25519 AAAA…"), pinned in known_hosts. */
          readonly hostKey: string;
      }
    | {
          readonly kind: "s3";
          /** https://… of MinIO, Ceph RGW, …; AWS when unset. */
          readonly endpoint?: string;
          readonly bucket: string;
          /** Key prefix of the repository inside the bucket. */
          readonly prefix: string;
          readonly region: string;
      };

/** Snapshot host name and tags: the same on a rebuilt machine, so restore finds the snapshots. */
export const BACKUP_SNAPSHOT_HOST = "dso-registry";
export const BACKUP_TAG = "dso-registry";
/** The first pass's snapshot, made while the registry is writable; forgotten once the consistent one exists. */
export const BACKUP_WARM_TAG = "dso-registry-writable-pass";

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

/** restic's repository string for the destination. */
export function resticRepository(dest: BackupDestination): string {
    if (dest.kind === "sftp") return `sftp:${dest.user}@${dest.host}:${dest.path}`;
    const endpoint = (dest.endpoint ?? "https://s3.amazonaws.com").replace(/\/+$/, "");
    return `s3:${endpoint}/${dest.bucket}/${dest.prefix.replace(/^\/+|\/+$/g, "")}`;
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

/**
 * Lines that define `restic_`: restic with the repository, the password file, the cache, and the
 * destination's credentials (SSH key and pinned host key, or the S3 variables from their file).
 */
function resticLines(dest: BackupDestination): string[] {
    const p = backupPaths();
    const lines = [
        `conf="\${DSO_ROOT:-}"${shQuote(p.conf)}`,
        `repo=${shQuote(resticRepository(dest))}`,
        `cache="\${DSO_ROOT:-}"${shQuote(p.cacheDir)}`,
        'for f in "$conf"/*; do',
        '  if [ -f "$f" ] && [ -n "$(find "$f" -perm /077)" ] && [ "${f##*/}" != known_hosts ]; then',
        '    echo "$f is readable by others: chmod 0600 $f" >&2; exit 1',
        "  fi",
        "done",
    ];
    if (dest.kind === "sftp") {
        lines.push(
            `sftp_command="ssh -F /dev/null -i $conf/ssh-key -p ${dest.port} -o UserKnownHostsFile=$conf/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o ServerAliveInterval=30 ${dest.user}@${dest.host} -s sftp"`,
            'restic_() { restic --repo "$repo" --password-file "$conf/repository-password" --cache-dir "$cache" -o sftp.command="$sftp_command" "$@"; }',
        );
    } else {
        lines.push(
            "set -a",
            "# shellcheck source=/dev/null",
            '. "$conf/s3.env"',
            "set +a",
            'restic_() { restic --repo "$repo" --password-file "$conf/repository-password" --cache-dir "$cache" "$@"; }',
        );
    }
    return lines;
}

/** `restic backup` of the paths in "$@", printing its summary; the snapshot's id lands in `$1`'s variable. */
export function backupPass(variable: string, tag: string, parent?: string): string[] {
    return [
        `out=$(restic_ backup --host ${BACKUP_SNAPSHOT_HOST} --tag ${tag}${parent ? ` --parent "$${parent}"` : ""} --exclude "$marker" "$@")`,
        'printf "%s\\n" "$out" | grep -E "^(Files|Dirs|Added|processed|snapshot)" || true',
        `${variable}=$(printf "%s\\n" "$out" | sed -n 's/^snapshot \\([0-9a-f]*\\) saved$/\\1/p')`,
        `if [ -z "$${variable}" ]; then echo "restic saved no snapshot; its output:" >&2; printf "%s\\n" "$out" >&2; exit 1; fi`,
    ];
}

/**
 * The backup script (a file on the host). Two passes: the first copies everything new while the
 * registry stays writable (the long part), the second runs in the read-only window and only reads
 * what changed since the first, so pushes are refused for seconds, whatever the amount of data.
 * The window is the front's marker alone, as in the cluster (`MARKER_ONLY_WINDOW`): writes get 503
 * with Retry-After, Distribution keeps running and serving pulls, nothing restarts (clients reach it
 * only through Caddy: the container is published on the host's loopback). Then retention runs on the
 * destination.
 * Fails before the window opens when the destination cannot be reached.
 */
export function backupScript(spec: ContainerSpec, dest: BackupDestination, keep: number, maven?: BackedUpMaven): string {
    const paths = backedUpPaths(spec.layout, maven !== undefined);
    return [
        "#!/bin/sh",
        `# Managed by dso-registry: backup to ${resticRepository(dest)} with restic. See docs/external-host.md.`,
        "set -eu",
        ...LOCK(spec.layout),
        ...resticLines(dest),
        'mkdir -p "$cache"',
        "set --",
        `for p in ${paths.map(shQuote).join(" ")}; do`,
        '  if [ -e "${DSO_ROOT:-}$p" ]; then set -- "$@" "${DSO_ROOT:-}$p"; fi',
        "done",
        "if ! restic_ cat config >/dev/null 2>&1; then restic_ init; fi",
        // The read-only window's marker is never part of a snapshot (see restoreScript).
        `marker="\${DSO_ROOT:-}"${shQuote(hostPaths(spec.layout).readOnlyMarker)}`,
        'echo "pass 1, registry writable: copying what is new"',
        ...backupPass("warm", BACKUP_WARM_TAG),
        "window_start=$(date +%s)",
        ...MARKER_ONLY_WINDOW,
        'echo "pass 2, registry read-only (writes get 503 at the front, pulls go on, nothing restarts): copying what changed since pass 1"',
        ...backupPass("snapshot", BACKUP_TAG, "warm"),
        ...END_MARKER_ONLY_WINDOW,
        'echo "registry writable again after $(( $(date +%s) - window_start )) s read-only"',
        'restic_ forget --quiet "$warm"',
        `restic_ forget --quiet --host ${BACKUP_SNAPSHOT_HOST} --tag ${BACKUP_TAG} --keep-last ${keep} --prune`,
        'echo "backup done: snapshot $snapshot in $repo"',
        "",
    ].join("\n");
}

/**
 * The restore command (a file on the host): `dso-registry-restore [snapshot]` (the newest when
 * none is given; `--list` lists them). Stops the registry, moves a non-empty data directory aside,
 * restores the data, the registry's and Caddy's configs and Caddy's certificates in place, starts
 * the writable registry, reloads Caddy when it runs, and checks every tagged image.
 */
export function restoreScript(spec: ContainerSpec, specFingerprint: string, dest: BackupDestination, maven?: BackedUpMaven): string {
    const asideDirs = [spec.layout.dataDir, ...(maven ? [spec.layout.mavenDataDir] : [])];
    return [
        "#!/bin/sh",
        `# Managed by dso-registry: restores a snapshot made by dso-registry-backup from ${resticRepository(dest)}. See docs/external-host.md.`,
        "set -eu",
        'case "${1:-}" in',
        "  -h|--help) echo 'usage: dso-registry-restore [--list | SNAPSHOT-ID]   (default: the newest snapshot)'; exit 0 ;;",
        "esac",
        ...LOCK(spec.layout),
        ...resticLines(dest),
        'mkdir -p "$cache"',
        `if [ "\${1:-}" = --list ]; then restic_ snapshots --host ${BACKUP_SNAPSHOT_HOST} --tag ${BACKUP_TAG}; exit 0; fi`,
        'snapshot="${1:-latest}"',
        `if ! restic_ snapshots --host ${BACKUP_SNAPSHOT_HOST} --tag ${BACKUP_TAG} "$snapshot" >/dev/null 2>&1; then`,
        `  echo "no snapshot \\"$snapshot\\" in $repo; list them with: dso-registry-restore --list" >&2; exit 1`,
        "fi",
        `docker rm -f ${shQuote(spec.name)} >/dev/null 2>&1 || true`,
        ...(maven ? [`docker rm -f ${MAVEN_CONTAINER} >/dev/null 2>&1 || true`] : []),
        "# A data directory that is not empty is kept aside, not overwritten.",
        "set_aside() {",
        '  if [ -d "$1" ] && [ -n "$(ls -A "$1")" ]; then',
        '    aside="$1.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"',
        '    mv "$1" "$aside"',
        '    echo "$1 was not empty: kept as $aside (remove it once the restore is checked)"',
        "  fi",
        "}",
        ...asideDirs.map((d) => `set_aside "\${DSO_ROOT:-}"${shQuote(d)}`),
        `restic_ restore "$snapshot" --host ${BACKUP_SNAPSHOT_HOST} --tag ${BACKUP_TAG} --target /`,
        // Pass 2 ran inside the read-only window: a snapshot made before the marker was excluded holds
        // it, and a restored marker would make the front refuse every push and deploy.
        `rm -f "\${DSO_ROOT:-}"${shQuote(hostPaths(spec.layout).readOnlyMarker)}`,
        ...wantedLabel(spec, specFingerprint),
        `docker run --label dso-registry.spec="$want" ${dockerRunArgs(spec, "config.yml")} >/dev/null`,
        'echo "registry restored from snapshot $snapshot and running writable"',
        ...(maven ? [...mavenRunLines(maven.spec, maven.fingerprint), 'echo "Maven repository restored and served again"'] : []),
        `caddyfile="\${DSO_ROOT:-}"${shQuote(spec.layout.caddyfile)}`,
        'if [ -f "$caddyfile" ] && timeout 50 caddy reload --adapter caddyfile --config "$caddyfile" >/dev/null 2>&1; then',
        '  echo "caddy reloaded with the restored Caddyfile"',
        "else",
        '  echo "caddy was not reloaded (not running here?): start it with systemctl restart caddy"',
        "fi",
        `"\${DSO_ROOT:-}"${shQuote(hostPaths(spec.layout).verifyScript)}`,
        "",
    ].join("\n");
}

/**
 * The check (placed as dso-registry-verify, run by GC after the registry is back and by restore),
 * with curl against Distribution on the host's loopback; the check itself is the one both placements
 * run (components/shared/verifyScript.ts).
 */
export function verifyScript(base: string): string {
    return renderVerifyScript({
        base,
        client: "curl",
        docs: "docs/external-host.md",
        registryLogs: "docker logs dso-registry",
        remedy: "Push them again from their builds, or restore the last good backup (dso-registry-restore --list).",
    });
}

/** The registry's own address on the host, for the check. */
export function registryBaseUrl(spec: ContainerSpec): string {
    return `http://127.0.0.1:${spec.hostPort}`;
}
