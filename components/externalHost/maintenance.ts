/**
 * Maintenance on the external host: the garbage-collection, backup and status scripts, and the cron
 * file that schedules the enabled jobs.
 */
import * as pulumi from "@pulumi/pulumi";
import { type HostConnection, HostFile } from "../shared/hostAccess";
import { backupScript, type ContainerSpec, cronFile, gcScript, hostPaths, type MaintenanceOptions, statusScript } from "./scripts";

export interface MaintenanceArgs {
    /** The host the jobs run on. */
    readonly connection: HostConnection;
    /** The registry container the jobs switch to read-only and back. */
    readonly spec: ContainerSpec;
    /** The container's normal spec fingerprint, so that the jobs restore exactly that container. */
    readonly specFingerprint: string;
    /** Which jobs run, when, and how. */
    readonly maintenance: MaintenanceOptions;
}

/** The maintenance scripts and their schedule; every file is removed on destroy. */
export class Maintenance extends pulumi.ComponentResource {
    constructor(name: string, args: MaintenanceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dso:externalHost:Maintenance", name, {}, opts);
        const { connection, spec, specFingerprint, maintenance } = args;
        const paths = hostPaths(spec.layout);
        const script = (role: string, path: string, content: string) =>
            new HostFile(`${name}-${role}`, { connection, path, mode: "0755", content }, { parent: this });

        const scripts = [
            script("gc-script", paths.gcScript, gcScript(spec, specFingerprint, maintenance.garbageCollection.deleteUntagged)),
            script("status-script", paths.statusScript, statusScript(spec)),
        ];
        if (maintenance.backup.enabled) {
            const { destination, keep } = maintenance.backup;
            scripts.push(script("backup-script", paths.backupScript, backupScript(spec, specFingerprint, destination, keep)));
        }
        // The schedule goes last: cron must never find an entry whose script is not there yet.
        if (maintenance.garbageCollection.enabled || maintenance.backup.enabled) {
            new HostFile(
                `${name}-cron`,
                { connection, path: spec.layout.cronFile, mode: "0644", content: cronFile(spec.layout, maintenance) },
                { parent: this, dependsOn: scripts },
            );
        }
        this.registerOutputs({});
    }
}
