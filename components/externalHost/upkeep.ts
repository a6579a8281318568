/**
 * HostUpkeep on the external host: the garbage-collection, verify, backup, restore and status
 * scripts, the backup's secret files, and the cron file that schedules the enabled jobs.
 */
import * as pulumi from "@pulumi/pulumi";
import { withFormerType } from "../shared/formerType";
import { type HostConnection, HostFile, type PlannedHostFile } from "../shared/hostAccess";
import { HostFilesCheck, type HostFilesCheckArgs } from "../shared/hostFilesCheck";
import { typeToken } from "../shared/typeToken";
import type { BackupDestination } from "../upkeep/backup";
import type { JobReporting } from "../upkeep/reporting";
import { pullHistoryDays, type Retention } from "../upkeep/retention";
import {
    type BackedUpMaven,
    backupKnownHosts,
    backupPaths,
    backupS3EnvFile,
    backupScript,
    pullsScript,
    restoreScript,
    retentionScript,
    verifyScript,
} from "./backupScripts";
import {
    type ContainerSpec,
    cronFile,
    type DiskGuard,
    diskGuardCronFile,
    diskGuardScript,
    gcScript,
    hostPaths,
    type StatusTargets,
    statusScript,
    type UpkeepSpec,
} from "./scripts";

/** Backups of the host with restic: where to, how many to keep, and the secrets for the destination. */
export interface HostBackupArgs {
    readonly schedule: string;
    /** Snapshots the destination keeps. */
    readonly keep: number;
    readonly destination: BackupDestination;
    /** restic's repository password (a stack secret). */
    readonly repositoryPassword: pulumi.Input<string>;
    /** The destination's credentials: the SSH key for the backup machine, or the bucket's keys. */
    readonly credentials:
        | { readonly kind: "sftp"; readonly privateKey: pulumi.Input<string> }
        | { readonly kind: "s3"; readonly accessKeyId: pulumi.Input<string>; readonly secretAccessKey: pulumi.Input<string> };
}

export interface HostUpkeepArgs {
    /** The host the jobs run on. */
    readonly connection: HostConnection;
    /** The registry container: garbage collection restarts it read-only and back, restore starts it; the backup leaves it running. */
    readonly spec: ContainerSpec;
    /** The container's normal spec fingerprint, so that the jobs restore exactly that container. */
    readonly specFingerprint: string;
    /** Which jobs run and when. */
    readonly garbageCollection: UpkeepSpec["garbageCollection"];
    /** Backups; none when unset. */
    readonly backup?: HostBackupArgs;
    /** The Maven repository the host serves: backed up and restored with the rest, cleaned by the GC job. */
    readonly maven?: BackedUpMaven & { readonly snapshotBuildsToKeep: number };
    /** What the status script shows of the certificate and the jobs. */
    readonly status: StatusTargets;
    /**
     * The disk guard (`registry.diskGuard`): on the data directory with filesystem storage, and on the Maven
     * data directory with `maven`; its script and cron file go when unset.
     */
    readonly diskGuard?: DiskGuard;
    /** The job reporter (monitoring on); the jobs report nothing when unset. */
    readonly reporting?: JobReporting;
    /** Tag retention, run by garbage collection in its window; none when unset. */
    readonly retention?: Retention;
    /**
     * With online garbage collection and s3 storage: the storage's root as the collection addresses it
     * (`onlineS3Url`) and the bucket's region; the key is read from the registry's environment file when it runs.
     */
    readonly onlineS3?: { readonly url: string; readonly region: string };
}

/** The role of the garbage-collection script among `HostUpkeep`'s files: its HostFile is `<name>-gc-script`. */
export const GC_SCRIPT_ROLE = "gc-script";

/** The role of tag retention's script among `HostUpkeep`'s files: its HostFile is `<name>-retention-script`. */
export const RETENTION_SCRIPT_ROLE = "retention-script";

/** A file `HostUpkeep` places: its HostFile's resource name and args, and the files placed before it that it waits for. */
export interface PlannedUpkeepFile extends PlannedHostFile {
    /** Resource names of files earlier in the plan; no `dependsOn` when unset. */
    readonly dependsOn?: readonly string[];
}

/** What `HostUpkeep` registers, in this order: `planHostUpkeep`. */
export interface HostUpkeepPlan {
    /** The scripts, the backup's secret files, the disk guard's cron file and the schedule, in this order. */
    readonly files: readonly PlannedUpkeepFile[];
    /** The read-back of every file, after all of them. */
    readonly filesCheck: { readonly name: string; readonly args: HostFilesCheckArgs };
}

/**
 * Everything `HostUpkeep` registers, from its args: which scripts and secret files it places (retention,
 * backups and their destination's credentials, the disk guard only when asked for), their modes, the
 * cron file only when a job is scheduled, and what waits for what (a cron file after its scripts).
 */
export function planHostUpkeep(name: string, args: HostUpkeepArgs): HostUpkeepPlan {
    const { connection, spec, specFingerprint, garbageCollection, backup, maven, reporting } = args;
    const mavenCleanup = maven && {
        dataDir: spec.layout.mavenDataDir,
        pathPrefix: maven.spec.pathPrefix,
        snapshotBuildsToKeep: maven.snapshotBuildsToKeep,
    };
    const paths = hostPaths(spec.layout);
    const pullDays = pullHistoryDays(args.retention);
    const files: PlannedUpkeepFile[] = [];
    const file = (role: string, path: string, mode: string, content: pulumi.Input<string>, secret = false) => {
        files.push({ name: `${name}-${role}`, args: { connection, path, mode, content, secret } });
    };
    const script = (role: string, path: string, content: string) => file(role, path, "0755", content);

    script("verify-script", paths.verifyScript, verifyScript(spec, reporting && { ...reporting, self: paths.verifyScript }));
    script(
        GC_SCRIPT_ROLE,
        paths.gcScript,
        gcScript(
            spec,
            specFingerprint,
            garbageCollection.deleteUntagged,
            mavenCleanup,
            reporting,
            args.retention !== undefined,
            pullDays !== undefined,
            garbageCollection.mode === "online"
                ? { ...(args.onlineS3 ? { s3Url: args.onlineS3.url, s3Region: args.onlineS3.region } : {}) }
                : undefined,
        ),
    );
    script("status-script", paths.statusScript, statusScript(spec, args.status));
    if (args.retention)
        script(RETENTION_SCRIPT_ROLE, paths.retentionScript, retentionScript(spec, args.retention, args.status.textfileDir));
    if (pullDays !== undefined) script("pulls-script", paths.pullsScript, pullsScript(spec.layout, pullDays));
    if (backup) {
        const bp = backupPaths();
        const { destination, credentials } = backup;
        file("backup-password", bp.passwordFile, "0600", backup.repositoryPassword, true);
        script("backup-script", paths.backupScript, backupScript(spec, destination, backup.keep, maven, reporting));
        script("restore-script", paths.restoreScript, restoreScript(spec, specFingerprint, destination, maven, reporting));
        if (destination.kind === "sftp" && credentials.kind === "sftp") {
            file("backup-ssh-key", bp.sshKey, "0600", pulumi.output(credentials.privateKey).apply(withFinalNewline), true);
            file("backup-known-hosts", bp.knownHosts, "0644", backupKnownHosts(destination));
        }
        if (destination.kind === "s3" && credentials.kind === "s3") {
            const env = pulumi
                .all([credentials.accessKeyId, credentials.secretAccessKey])
                .apply(([id, key]) => backupS3EnvFile(id, key, destination.region));
            file("backup-s3-env", bp.s3Env, "0600", env, true);
        }
    }
    if (args.diskGuard) {
        const dirs = { data: spec.storage?.kind !== "s3", maven: maven !== undefined };
        script("disk-guard-script", paths.diskGuardScript, diskGuardScript(spec.layout, args.diskGuard, args.status.textfileDir, dirs));
        files.push({
            name: `${name}-disk-guard-cron`,
            args: { connection, path: paths.diskGuardCron, mode: "0644", content: diskGuardCronFile(spec.layout) },
            dependsOn: [`${name}-disk-guard-script`],
        });
    }
    // The schedule goes last: cron must never find an entry whose script is not there yet.
    const schedules: UpkeepSpec = {
        garbageCollection,
        ...(pullDays !== undefined && garbageCollection.enabled ? { pulls: true } : {}),
        ...(backup ? { backup: { schedule: backup.schedule } } : {}),
    };
    if (garbageCollection.enabled || backup) {
        files.push({
            name: `${name}-cron`,
            args: { connection, path: spec.layout.cronFile, mode: "0644", content: cronFile(spec.layout, schedules) },
            dependsOn: files.map((f) => f.name),
        });
    }
    return {
        files,
        // A script (run as root by cron) or a key changed by hand shows at the next refresh; the next `up`
        // puts it back. Each is read when it runs: nothing to reload.
        filesCheck: {
            name: `${name}-files-check`,
            args: { connection, files: files.map(({ args: { path, mode, content } }) => ({ path, mode, content })) },
        },
    };
}

const HOST_UPKEEP_TYPE = typeToken("externalHost", "HostUpkeep");

/** The upkeep scripts and their schedule; every file is removed on destroy. */
export class HostUpkeep extends pulumi.ComponentResource {
    constructor(name: string, args: HostUpkeepArgs, opts?: pulumi.ComponentResourceOptions) {
        super(HOST_UPKEEP_TYPE, name, {}, withFormerType(opts, "dso-registry:externalHost:Maintenance", "dso:externalHost:Maintenance"));
        const plan = planHostUpkeep(name, args);
        const placed = new Map<string, HostFile>();
        for (const f of plan.files) {
            const dependsOn = f.dependsOn?.map((earlier) => {
                const resource = placed.get(earlier);
                if (!resource) throw new Error(`HostUpkeep ${name}: ${f.name} waits for ${earlier}, not placed before it`);
                return resource;
            });
            placed.set(f.name, new HostFile(f.name, f.args, { parent: this, ...(dependsOn ? { dependsOn } : {}) }));
        }
        new HostFilesCheck(plan.filesCheck.name, plan.filesCheck.args, { parent: this, dependsOn: [...placed.values()] });
        this.registerOutputs({});
    }
}

/** OpenSSH refuses a private key file whose last line has no newline. */
function withFinalNewline(text: string): string {
    return text.endsWith("\n") ? text : `${text}\n`;
}
