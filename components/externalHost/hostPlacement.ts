/**
 * Where the external host's registry lives: the machine (`externalHost.ssh.host` and port) and its data
 * directories. Every command of the host is a `command:remote:Command` whose connection is an ordinary
 * input, so a new host name updates all of them onto the new machine and nothing runs the old deletes:
 * the old machine keeps its registry, caches and cron jobs (two hosts then back up into one restic
 * repository). A new data directory starts the registry empty and strands the old caches' directories.
 * This record, a dynamic resource the whole host waits for, refuses both changes in its diff, which the
 * engine calls before any command of the host is even registered, and on every preview: nothing changes,
 * and the error names the key and the procedure (docs/external-host.md, "Moving the registry").
 */
import * as pulumi from "@pulumi/pulumi";

/** What the record holds: the machine and the directories a move would strand. */
export interface HostPlacementState {
    readonly host: string;
    readonly port: number;
    /** The registry's data directory; empty with S3 storage. */
    readonly dataDir: string;
    /** The Maven repository's directory; empty when the host serves no Maven. */
    readonly mavenDataDir: string;
}

const RECORDED: readonly (keyof HostPlacementState)[] = ["host", "port", "dataDir", "mavenDataDir"];

/** Why an `up` from `olds` to `news` must not run, or undefined. Pure: tested as a table. */
export function placementChangeProblem(olds: HostPlacementState, news: HostPlacementState): string | undefined {
    const procedure = 'see "Moving the registry" in docs/external-host.md';
    if (olds.host !== news.host || olds.port !== news.port) {
        return (
            `externalHost.ssh.host changed from ${olds.host}:${olds.port} to ${news.host}:${news.port}. An up would move every ` +
            `command to the new machine and leave the registry, its caches and its cron jobs running on the old one. Take ` +
            `the registry off the old machine first (pulumi destroy --target on the host and this record), or, when it is the ` +
            `same machine under another name, forget this record (pulumi state delete); ${procedure}`
        );
    }
    for (const key of ["dataDir", "mavenDataDir"] as const) {
        if (olds[key] !== news[key] && olds[key] !== "" && news[key] !== "") {
            return (
                `externalHost.${key} changed from ${olds[key]} to ${news[key]}. An up would start the registry on the empty new ` +
                `directory and leave the old one's data (and its caches' directories) behind. Move the files on the host ` +
                `while the registry is stopped, then forget this record (pulumi state delete) and run up; ${procedure}`
            );
        }
    }
    return undefined;
}

/**
 * The provider: `diff` refuses a move and otherwise reports no change (a change of the provider's own
 * code in state is not a change of the record); `create` and `update` only record.
 */
export const hostPlacementProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: HostPlacementState, news: HostPlacementState): Promise<pulumi.dynamic.DiffResult> {
        const problem = placementChangeProblem(olds, news);
        if (problem) throw new Error(problem);
        const changes = RECORDED.some((k) => olds[k] !== news[k]);
        return { changes };
    },
    async create(inputs: HostPlacementState): Promise<pulumi.dynamic.CreateResult> {
        return { id: `${inputs.host}:${inputs.port}`, outs: inputs };
    },
    async update(_id: string, _olds: HostPlacementState, news: HostPlacementState): Promise<pulumi.dynamic.UpdateResult> {
        return { outs: news };
    },
};

/** The record of the external host's placement. */
export class HostPlacement extends pulumi.dynamic.Resource {
    constructor(name: string, args: HostPlacementState, opts?: pulumi.CustomResourceOptions) {
        super(hostPlacementProvider, name, { ...args }, opts, "externalHost", "Placement");
    }
}
