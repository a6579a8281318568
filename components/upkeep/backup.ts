/**
 * The backup scheme both placements share, with restic: where a repository is (`resticRepository`),
 * the snapshot host name and tags, and in `sh/backup.sh` beside this file the two passes (the first while
 * the registry is writable, the second inside the front's window with the first as its parent, so
 * that writes are held back for seconds whatever the amount of data) and retention. The same host
 * name and tags in both placements, so each reads the other's repositories the same way.
 *
 * Why restic: it is packaged by Debian and the other major distributions, writes to another machine
 * over SFTP (plain OpenSSH) and to S3-compatible storage with the same commands, deduplicates by
 * content (registry blobs never change, so a nightly run only sends what is new), encrypts the
 * repository, and keeps retention on the destination (`forget --prune`): nothing piles up on the
 * registry's own disk. A second run right after a first one only reads files whose size, mtime or
 * inode changed: that makes the read-only pass short.
 */

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

/** The parameters of every script that makes or finds the snapshots (a backup also names WRITABLE_PASS_TAG). */
export const SNAPSHOT_PARAMS = { SNAPSHOT_HOST: BACKUP_SNAPSHOT_HOST, SNAPSHOT_TAG: BACKUP_TAG } as const;

/** restic's repository string for the destination. */
export function resticRepository(dest: BackupDestination): string {
    if (dest.kind === "sftp") return `sftp:${dest.user}@${dest.host}:${dest.path}`;
    const endpoint = (dest.endpoint ?? "https://s3.amazonaws.com").replace(/\/+$/, "");
    return `s3:${endpoint}/${dest.bucket}/${dest.prefix.replace(/^\/+|\/+$/g, "")}`;
}
