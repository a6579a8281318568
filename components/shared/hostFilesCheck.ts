/**
 * Files placed over SSH, made visible to `pulumi refresh`: one dynamic resource per group of files that
 * share a follow-up (Caddy's files and its reload), created after the commands that place them. The
 * commands cannot read a machine back (`@pulumi/command` keeps what it ran, not what the machine has);
 * this resource can: a refresh reads every file's SHA-256, mode and owner in one SSH session and records
 * what differs, `preview --refresh` then shows the resource as an update, and `up --refresh` (or `refresh`
 * and `up`) puts each changed file back with its own placing command and runs the group's follow-up.
 * A plain `preview` or `up` reads nothing: no SSH round trip, nothing needed beyond the state
 * ([decision](../../docs/decisions/drift-on-hosts.md)).
 */
import { createHash } from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { type HostConnection, type HostFileSpec, placeFileScript, privileged } from "./hostAccess";
import { type CheckedFile, hostFilesProvider } from "./hostFilesProvider";
import { renderShellScript } from "./shellScript";

const READ_PLACED_FILES = path.join(__dirname, "sh", "read-placed-files.sh");

export interface HostFilesCheckArgs {
    /** The machine: over SSH, or this one when Pulumi runs on it (the commands then run locally). */
    readonly connection: HostConnection;
    /**
     * Wraps the read-back so that it runs where the files live, as the placing commands do (a kind node's
     * files through `docker exec`); by default as root on the machine itself.
     */
    readonly run?: (body: string) => string;
    /**
     * Each file as its HostFile places it, with its content; a file placed by a command of its own
     * gives that command (`place`) and, when the program merges entries into it, its check (`check`).
     */
    readonly files: readonly (HostFileSpec & {
        readonly content: pulumi.Input<string>;
        readonly place?: string;
        readonly check?: string;
    })[];
    /** What to run after files were put back (the group's reload), as the group's own command runs it. */
    readonly afterRepair?: pulumi.Input<string>;
    /**
     * Containers the group's command runs (on the machine's own engine): each is read back too, and one
     * that is gone or stopped is made again by `afterRepair` at the next `up` after a refresh.
     */
    readonly containers?: readonly string[];
}

const CONTAINER_CHECK = path.join(__dirname, "sh", "container-check.sh");

/** A container of the group as the check holds it: an entry read by its own check (container-check.sh), placed by nothing but `afterRepair`. */
function containerEntry(name: string, sudo: boolean, run?: (body: string) => string) {
    const body = renderShellScript(CONTAINER_CHECK, { CONTAINER: name });
    return { path: `container ${name}`, mode: "0000", content: "", place: "true", check: run ? run(body) : privileged(body, sudo) };
}

/** The command line that reads `paths` back (read-placed-files.sh), as root, or wrapped by `run`. */
export function readPlacedFilesScript(paths: readonly string[], sudo: boolean, run?: (body: string) => string): string {
    const body = renderShellScript(READ_PLACED_FILES, { FILES: paths });
    return run ? run(body) : privileged(body, sudo);
}

/** A file's entry in the check: what it must be, and the command that places it (the HostFile's own). */
export function checkedFile(
    spec: HostFileSpec & { readonly place?: string; readonly check?: string },
    content: string,
    sudo: boolean,
): CheckedFile {
    return {
        path: spec.path,
        sha256: createHash("sha256").update(content, "utf8").digest("hex"),
        mode: spec.mode,
        ...(spec.owner ? { owner: spec.owner } : {}),
        place: spec.place ?? placeFileScript(spec, sudo),
        ...(spec.check !== undefined ? { check: spec.check } : {}),
        content,
    };
}

/** The files of one group on one machine, read back at each refresh and put back by the next `up`. */
export class HostFilesCheck extends pulumi.dynamic.Resource {
    declare readonly drifted: pulumi.Output<readonly { path: string; found: string }[]>;

    constructor(name: string, args: HostFilesCheckArgs, opts?: pulumi.CustomResourceOptions) {
        const c = args.connection;
        const sudo = c.sudo;
        const entries = [...args.files, ...(args.containers ?? []).map((n) => containerEntry(n, sudo, args.run))];
        const files = pulumi.all(entries.map((f) => pulumi.output(f.content).apply((content) => checkedFile(f, content, sudo))));
        const machine =
            c.kind === "ssh"
                ? { host: c.host, port: c.port, user: c.user, privateKey: pulumi.secret(c.privateKey), hostKey: c.hostKey }
                : { local: true, host: c.name, port: 0, user: "", privateKey: pulumi.secret("") };
        super(
            hostFilesProvider,
            name,
            {
                ...machine,
                // Merged files are judged by their own check, not by the digest of the whole file.
                read: readPlacedFilesScript(
                    args.files.filter((f) => f.check === undefined).map((f) => f.path),
                    sudo,
                    args.run,
                ),
                // Secret: the contents (users files, keys) and their digests.
                files: pulumi.secret(files),
                afterRepair: args.afterRepair,
                drifted: undefined,
            },
            { ...opts, additionalSecretOutputs: ["privateKey", "files"] },
            "hostFiles",
            "Check",
        );
    }
}

/**
 * A container's converging script that makes its containers anew even when their spec is unchanged
 * (`DSO_RECREATE`, upkeep/sh/container-converge.sh): the follow-up of a repair of files they read at start.
 */
export function recreatingScript(script: string): string {
    return `DSO_RECREATE=1\n${script}`;
}
