/**
 * What the external host needs before anything else: a container engine (Docker, or the host's Podman),
 * cron, curl and flock, and restic with backups (installed or only reported), and the registry's data
 * directory. Caddy is no package of the host: the front runs the pinned Caddy image.
 */
import * as pulumi from "@pulumi/pulumi";
import { withFormerType } from "../shared/formerType";
import { dataDirStepName, type HostConnection, hostCommand, privileged } from "../shared/hostAccess";
import { typeToken } from "../shared/typeToken";
import { dataDirDeleteScript, dataDirScript, type HostLayout, packagesScript } from "./scripts";

export interface HostPackagesArgs {
    /** The host to set up. */
    readonly connection: HostConnection;
    /** Where the data directory is. */
    readonly layout: HostLayout;
    /** Make the data directory (filesystem storage); with s3 storage the host keeps no images. */
    readonly dataDir: boolean;
    /** Install missing packages instead of only reporting them. */
    readonly installPackages: boolean;
    /** Backups are enabled: restic is needed too. */
    readonly restic?: boolean;
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const HOST_PACKAGES_TYPE = typeToken("externalHost", "HostPackages");

/** The packages (left installed on destroy) and the data directory (kept on delete; the purge on destroy removes it when asked: purgeOnDestroy.ts). */
export class HostPackages extends pulumi.ComponentResource {
    constructor(name: string, args: HostPackagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super(HOST_PACKAGES_TYPE, name, {}, withFormerType(opts, "dso:externalHost:HostPackages"));
        const { connection, layout } = args;
        const sudo = connection.sudo;
        const install = hostCommand(
            `${name}-install`,
            {
                connection,
                create: privileged(packagesScript(args.installPackages, args.restic ?? false), sudo),
                delete: privileged('echo "packages are left installed"', sudo),
            },
            { parent: this },
        );
        // After the packages: the directory goes to the group the Caddy package creates.
        if (args.dataDir) {
            hostCommand(
                dataDirStepName(name),
                {
                    connection,
                    create: privileged(dataDirScript(layout), sudo),
                    delete: privileged(dataDirDeleteScript(layout), sudo),
                },
                { parent: this, dependsOn: [install] },
            );
        }
        this.registerOutputs({});
    }
}
