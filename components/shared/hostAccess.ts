/**
 * Running scripts and placing files on machines, over SSH (@pulumi/command remote) or locally when
 * Pulumi runs on the machine itself. Every component that touches a host goes through here, so file
 * placement is written once, is idempotent and keeps bodies and secrets on stdin. Components that act
 * on one host register its name as data (`HostTarget`), and file placers also the file's path and mode
 * (`PlacedFile`), so the offline synth can show every script and every placed file per host.
 */
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { withFormerType } from "./formerType";
import { renderShellScript } from "./shellScript";
import { shQuote } from "./shQuote";
import { typeToken } from "./typeToken";

const PLACE_FILE = path.join(__dirname, "sh", "place-file.sh");
const REMOVE_FILE = path.join(__dirname, "sh", "remove-file.sh");

/** How to reach a machine. */
export type HostConnection =
    | {
          readonly kind: "ssh";
          /** Label used in resource names and in the synth's `hosts/<name>/` tree. */
          readonly name: string;
          readonly host: string;
          readonly port: number;
          readonly user: string;
          readonly privateKey: pulumi.Input<string>;
          /** Pinned public key ("ssh-ed25519 AAAA…"); undefined only when the stack opted out. */
          readonly hostKey?: string;
          /** Prefix privileged steps with `sudo -n`. */
          readonly sudo: boolean;
      }
    | {
          readonly kind: "local";
          readonly name: string;
          readonly sudo: boolean;
      };

/** Wraps a script so that it runs as root when the connection needs sudo. */
export function privileged(script: string, sudo: boolean): string {
    return sudo ? `sudo -n sh -c ${shQuote(script)}` : `sh -c ${shQuote(script)}`;
}

/** A file to place on a host. */
export interface HostFileSpec {
    /** Absolute path on the host. */
    readonly path: string;
    /** Octal mode, e.g. "0644"; secrets "0600". */
    readonly mode: string;
    /** "user:group" to chown to; left to the writer (root) when unset. */
    readonly owner?: string;
}

/** The inputs a component acting on one host registers: the host's label (`HostConnection.name`). */
export interface HostTarget {
    readonly target: string;
}

/** The inputs a component placing one file registers; its command's stdin is the file's content. */
export interface PlacedFile extends HostTarget {
    /** Absolute path on the host. */
    readonly path: string;
    /** Octal mode, e.g. "0644". */
    readonly mode: string;
}

/**
 * The script body (run as root) that places stdin at `spec.path` atomically (`sh/place-file.sh`). It
 * writes only when the content differs (prints "changed" or "unchanged"), creates parent directories,
 * and honours $DSO_ROOT (a prefix that tests use to keep a private root; empty in real runs).
 */
export function placeFileBody(spec: HostFileSpec): string {
    if (!spec.path.startsWith("/")) throw new Error(`file to place: path must be absolute, got "${spec.path}"`);
    if (!/^0[0-7]{3}$/.test(spec.mode)) throw new Error(`file to place: mode must be octal like 0644, got "${spec.mode}"`);
    return renderShellScript(PLACE_FILE, { TARGET: spec.path, MODE: spec.mode, OWNER: spec.owner ?? "" });
}

/** placeFileBody, with sudo when the connection needs it. */
export function placeFileScript(spec: HostFileSpec, sudo: boolean): string {
    return privileged(placeFileBody(spec), sudo);
}

/** The script body that removes a placed file, and nothing else (`sh/remove-file.sh`). */
export function removeFileBody(spec: HostFileSpec): string {
    return renderShellScript(REMOVE_FILE, { TARGET: spec.path });
}

/** removeFileBody, with sudo when the connection needs it. */
export function removeFileScript(spec: HostFileSpec, sudo: boolean): string {
    return privileged(removeFileBody(spec), sudo);
}

/**
 * Inputs every command of the program sets, local or remote. Nothing reads the previous run's output,
 * and passing it (PULUMI_COMMAND_STDOUT/STDERR in the environment of update and delete, the provider's
 * default) asks sshd for variables its default `AcceptEnv` refuses: a warning per command on every
 * update and destroy.
 */
export const COMMAND_DEFAULTS = { addPreviousOutputInEnv: false } as const;

export interface HostCommandArgs {
    readonly connection: HostConnection;
    /** Script run on create (and on update when `update` is unset). */
    readonly create: pulumi.Input<string>;
    /** Script run when inputs change; defaults to `create`. */
    readonly update?: pulumi.Input<string>;
    /** Script run on destroy, with the state of the last run. */
    readonly delete?: pulumi.Input<string>;
    /** Data on stdin: file bodies and secrets, never on the command line. */
    readonly stdin?: pulumi.Input<string>;
    /**
     * Where the command acts, when config decides it (a path with the registry's host name, a marked
     * block keyed by it): a change replaces the command, so the old delete runs with the old values
     * and nothing is left behind. Without triggers a changed script only runs again in place and the
     * old delete never runs. A replacement runs the old delete first (see `hostCommand`).
     */
    readonly triggers?: pulumi.Input<unknown[]>;
    /** Output may carry secrets: do not log it, and keep stdout/stderr secret in state. */
    readonly sensitiveOutput?: boolean;
}

/** The name of the command that runs a component's container on a host (the preview's consequences summary finds it by it). */
export const containerRunStepName = (name: string) => `${name}-run`;

/** The name of the command that sets up a component's data directory on a host (kept on delete). */
export const dataDirStepName = (name: string) => `${name}-data-dir`;

/**
 * One command on a host: `command.remote.Command` over SSH, or `command.local.Command` when Pulumi
 * runs on the machine itself. Both get the same scripts.
 */
export function hostCommand(
    name: string,
    args: HostCommandArgs,
    opts: pulumi.CustomResourceOptions,
): command.remote.Command | command.local.Command {
    const scripts = {
        create: args.create,
        update: args.update,
        delete: args.delete,
        stdin: args.stdin,
        triggers: args.triggers,
        ...COMMAND_DEFAULTS,
        logging: args.sensitiveOutput ? ("none" as const) : ("stdoutAndStderr" as const),
    };
    // Delete before create when a trigger changes: the new command may act on the same file or block as
    // the old one (a fixed path whose content is keyed by the host name, or the first `up` that adds
    // triggers to a command deployed without them), and the old delete run after the new create would
    // remove what the create just wrote.
    const replaceOrder = args.triggers === undefined ? {} : { deleteBeforeReplace: true };
    const options = {
        ...opts,
        ...replaceOrder,
        ...(args.sensitiveOutput ? { additionalSecretOutputs: ["stdout", "stderr"] } : {}),
    };
    const c = args.connection;
    if (c.kind === "local") {
        return new command.local.Command(name, { ...scripts, interpreter: ["/bin/sh", "-c"] }, options);
    }
    const connection = { host: c.host, port: c.port, user: c.user, privateKey: c.privateKey, hostKey: c.hostKey };
    return new command.remote.Command(name, { ...scripts, connection }, options);
}

/** A file a component's plan places: its HostFile's resource name and args. */
export interface PlannedHostFile {
    readonly name: string;
    readonly args: HostFileArgs;
}

/** A command a component's plan runs on a machine: its resource name and args. */
export interface PlannedHostCommand {
    readonly name: string;
    readonly args: HostCommandArgs;
}

export interface HostFileArgs extends HostFileSpec {
    readonly connection: HostConnection;
    /** The file's content; travels on stdin. */
    readonly content: pulumi.Input<string>;
    /** The content is a secret (the file gets mode 0600 or tighter and output is not logged). */
    readonly secret?: boolean;
    /** Keep the file on destroy (for files other tools go on to own). */
    readonly retainOnDelete?: boolean;
    /**
     * The file's path depends on config (a directory named after the registry's host): a new path
     * replaces the file, removing the old one (`HostCommandArgs.triggers`).
     */
    readonly replaceOnPathChange?: boolean;
    /**
     * Shell run before the removal, in the same script: it may end the script (`exit 0`) to leave the
     * file in place (node trust: the node belongs to another entry now).
     */
    readonly deletePrelude?: string;
}

/** The type token of `HostFile`. */
export const HOST_FILE_TYPE = typeToken("shared", "HostFile");

/** One file on one host: written when its content changes, removed on destroy. */
export class HostFile extends pulumi.ComponentResource {
    constructor(name: string, args: HostFileArgs, opts?: pulumi.ComponentResourceOptions) {
        const placed: PlacedFile = { target: args.connection.name, path: args.path, mode: args.mode };
        super(HOST_FILE_TYPE, name, placed, withFormerType(opts, "dso:host:HostFile"));
        if (args.secret && !/^0[0-7]00$/.test(args.mode)) {
            throw new pulumi.ResourceError(
                `HostFile ${name}: a secret file must not be readable by group or others (mode ${args.mode}); use 0600 or 0400`,
                this,
            );
        }
        const sudo = args.connection.sudo;
        hostCommand(
            `${name}-write`,
            {
                connection: args.connection,
                create: placeFileScript(args, sudo),
                delete: args.retainOnDelete
                    ? undefined
                    : privileged(args.deletePrelude ? `${args.deletePrelude}\n${removeFileBody(args)}` : removeFileBody(args), sudo),
                stdin: args.secret ? pulumi.secret(args.content) : args.content,
                sensitiveOutput: args.secret,
                triggers: args.replaceOnPathChange ? [args.path] : undefined,
            },
            { parent: this },
        );
        this.registerOutputs({});
    }
}
