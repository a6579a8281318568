/**
 * `externalHost.purgeDataOnDestroy`, decided when the delete runs (docs/decisions/purge-at-delete-time.md).
 * A Command's delete runs the script stored in state by the last run that changed it, so a purge baked
 * into a data directory's delete would fire whenever that directory leaves the program (storage moved
 * to s3 with purge on), and turning the purge off would need its own `pulumi up` first. Instead every
 * `up` writes the decision to a marker file on the host, and one delete, the last of the host's, reads
 * it: the data goes only when the host's registry is deleted and the last `up` asked for it.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { DISTRIBUTION } from "../shared/facts";
import { type HostConnection, hostCommand, privileged } from "../shared/hostAccess";
import { renderShellScript } from "../shared/shellScript";
import { typeToken } from "../shared/typeToken";

/**
 * The marker file, beside the registry's config (DISTRIBUTION.configDir): the directories a destroy
 * removes, one per line; absent when the data is kept.
 */
export const PURGE_MARKER = `${DISTRIBUTION.configDir}/purge-on-destroy`;

/** The script an `up` runs: the marker lists `directories`, or is removed when there are none. */
export function purgeMarkerScript(directories: readonly string[]): string {
    return renderShellScript(path.join(__dirname, "sh", "purge-marker.sh"), { MARKER: PURGE_MARKER, DIRECTORIES: directories.join("\n") });
}

/** The delete: removes what the marker lists, when it exists. Holds no decision of its own. */
export function purgeOnDestroyScript(): string {
    return renderShellScript(path.join(__dirname, "sh", "purge-on-destroy.sh"), { MARKER: PURGE_MARKER });
}

export interface PurgeOnDestroyArgs {
    readonly connection: HostConnection;
    /** `externalHost.purgeDataOnDestroy`. */
    readonly purge: boolean;
    /** The data directories the host's registry holds (images with filesystem storage, Maven files). */
    readonly directories: readonly string[];
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const PURGE_ON_DESTROY_TYPE = typeToken("externalHost", "PurgeOnDestroy");

/** The name of the command that records which directories a destroy deletes, and deletes them on destroy. */
export const purgeMarkerStepName = (name: string) => `${name}-marker`;

/**
 * The marker and its delete. Everything else on the host depends on it, so on destroy the engine runs
 * its delete last, once the containers are gone.
 */
export class PurgeOnDestroy extends pulumi.ComponentResource {
    constructor(name: string, args: PurgeOnDestroyArgs, opts?: pulumi.ComponentResourceOptions) {
        super(PURGE_ON_DESTROY_TYPE, name, {}, opts);
        const sudo = args.connection.sudo;
        hostCommand(
            purgeMarkerStepName(name),
            {
                connection: args.connection,
                create: privileged(purgeMarkerScript(args.purge ? args.directories : []), sudo),
                delete: privileged(purgeOnDestroyScript(), sudo),
            },
            { parent: this },
        );
        this.registerOutputs({});
    }
}
