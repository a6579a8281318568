/**
 * The provider behind HostFilesCheck (hostFilesCheck.ts): files the program placed on a machine over SSH
 * (or on this machine, for a local connection), read back by `pulumi refresh` (and `preview --refresh`, `up --refresh`) and put back by the next `up`.
 *
 * - `read` runs the read-back script over SSH and records, per file, what differs from what the program
 *   placed (content, mode, owner, or the file gone) as `drifted`.
 * - `diff` looks at the state and the inputs only (it runs on every preview, where the machine may be out
 *   of reach): a change when the last read found drift, when an input changed, or when this code changed.
 * - `update` puts back each file the last read found changed, with the same command that placed it (the
 *   content on stdin), then runs `afterRepair` (e.g. Caddy's validate-and-reload); after an input change
 *   alone it does nothing, since the placing commands it follows have already written the new files.
 * - `create` and `delete` touch nothing: the files are placed and removed by their own commands.
 *
 * This module has no imports on purpose: the SDK serializes the provider with everything it captures,
 * and runs it in the dynamic-provider host; the SSH client (`ssh2`) is required when a call needs it.
 */

/** One file as the program placed it. */
export interface CheckedFile {
    readonly path: string;
    /** SHA-256 (hex) of the content. */
    readonly sha256: string;
    /** Octal mode, e.g. "0600". */
    readonly mode: string;
    /** "user:group" where the program sets one; otherwise the owner is not compared (a setgid directory may give its group). */
    readonly owner?: string;
    /** The command line that places it (its content on stdin), as its own command runs it. */
    readonly place: string;
    /**
     * For a file the program merges its entries into (k3s's registries.yaml): the command line that reads
     * the content on stdin and prints "changed …" when placing it would change the file. Such a file is
     * judged by it instead of by its digest, and is not in `read`.
     */
    readonly check?: string;
    /** The content (secret in state). */
    readonly content: string;
}

/** What differed for one file at the last read. */
export interface Drift {
    readonly path: string;
    /** e.g. "content changed", "mode 644 (placed 0600)", "missing". */
    readonly found: string;
}

/** The dynamic resource's state: how to reach the machine, the files, and the last read's findings. */
export interface HostFilesState {
    /**
     * Set when Pulumi runs on the machine itself (a local connection, e.g. the kind placement's Docker
     * host or a node whose entry says `local`): the commands run here, through `/bin/sh -c`, as
     * `@pulumi/command`'s local.Command runs them; the SSH fields are then unused.
     */
    readonly local?: boolean;
    /** The machine's address (SSH), or its label when local. */
    readonly host: string;
    readonly port: number;
    readonly user: string;
    /** The SSH client key (secret in state). */
    readonly privateKey: string;
    /** The machine's pinned public key ("ssh-ed25519 AAAA…"); unset only when the stack opted out. */
    readonly hostKey?: string;
    /** The command line that reads the files back (read-placed-files.sh, with sudo when needed). */
    readonly read: string;
    readonly files: readonly CheckedFile[];
    /** The command line run after files were put back, if any. */
    readonly afterRepair?: string;
    /** Set by `read`: what the last read found changed. Empty after `create` and `update`. */
    readonly drifted?: readonly Drift[];
}

/** The property in which the engine keeps a dynamic provider's serialized code. */
const PROVIDER_CODE_KEY = "__provider";
/**
 * The value a property has in a preview while the program has not computed it yet. Written out, not
 * taken from the SDK (`pulumi.runtime.unknownValue`): the provider's diff is serialized into the state
 * and must capture no module.
 */
const UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** The inputs that decide what is placed and how it is reached, as one comparable text. */
function placedInputs(state: HostFilesState): string {
    return JSON.stringify([
        state.local ?? false,
        state.host,
        state.port,
        state.user,
        state.privateKey,
        state.hostKey ?? null,
        state.read,
        state.afterRepair ?? null,
        state.files.map((f) => [f.path, f.sha256, f.mode, f.owner ?? null, f.place, f.check ?? null, f.content]),
    ]);
}

/**
 * The provider's diff, pure: a change when the last read found drift (the `update` puts the files back),
 * when an input changed, or when the provider's code changed (so the state gets the new code).
 */
export function diffHostFiles(olds: HostFilesState, news: HostFilesState): { changes: boolean; replaces: string[] } {
    const drifted = (olds.drifted ?? []).length > 0;
    const before = (olds as unknown as Record<string, unknown>)[PROVIDER_CODE_KEY];
    const after = (news as unknown as Record<string, unknown>)[PROVIDER_CODE_KEY];
    const codeChanged = typeof before === "string" && typeof after === "string" && after !== UNKNOWN_VALUE && before !== after;
    return { changes: drifted || placedInputs(olds) !== placedInputs(news) || codeChanged, replaces: [] };
}

/**
 * What the read-back script printed (a line per file, in order: "<sha256> <mode> <user>:<group>" or
 * "missing"), judged against the files as placed.
 */
export function driftOf(files: readonly CheckedFile[], output: string): Drift[] {
    const lines = output.split("\n").filter((line) => line.trim() !== "");
    if (lines.length !== files.length) {
        throw new Error(`the read-back printed ${lines.length} lines for ${files.length} files:\n${output}`);
    }
    const drift: Drift[] = [];
    files.forEach((file, i) => {
        const line = lines[i]!.trim();
        if (line === "missing") {
            drift.push({ path: file.path, found: "missing" });
            return;
        }
        const [sha256 = "", mode = "", owner = ""] = line.split(/\s+/);
        const found: string[] = [];
        if (sha256 !== file.sha256) found.push("content changed");
        if (Number.parseInt(mode, 8) !== Number.parseInt(file.mode, 8)) found.push(`mode ${mode} (placed ${file.mode})`);
        if (file.owner !== undefined && owner !== file.owner) found.push(`owner ${owner} (placed ${file.owner})`);
        if (found.length > 0) drift.push({ path: file.path, found: found.join(", ") });
    });
    return drift;
}

/**
 * What a check printed (a merged file's: "changed <file>…" or "unchanged <file>"; a container's: "changed
 * container <name>: <why>"), as a drift; none when unchanged.
 */
export function mergedFileDrift(path: string, output: string): Drift | undefined {
    const line = output.split("\n").find((l) => /^(un)?changed /.test(l));
    if (line === undefined) throw new Error(`the check of ${path} printed neither "changed" nor "unchanged":\n${output}`);
    if (!line.startsWith("changed ")) return undefined;
    // A check that says why ("changed <path>: <why>", a container's) is taken at its word.
    const said = `changed ${path}: `;
    return { path, found: line.startsWith(said) ? line.slice(said.length) : "the program's entries or the mode changed" };
}

interface Ran {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs `command` on the machine over SSH, as `@pulumi/command`'s remote.Command does: the line to the user's shell, `stdin` as input. */
function overSsh(state: HostFilesState, command: string, stdin = ""): Promise<Ran> {
    const { Client } = require("ssh2") as typeof import("ssh2");
    const where = `${state.user}@${state.host}:${state.port}`;
    return new Promise((resolve, reject) => {
        const client = new Client();
        const fail = (error: Error) => {
            client.end();
            reject(new Error(`${where}: ${error.message}`));
        };
        client
            .on("ready", () => {
                client.exec(command, (error, stream) => {
                    if (error) return fail(error);
                    let stdout = "";
                    let stderr = "";
                    stream.on("data", (chunk: Buffer) => {
                        stdout += chunk.toString("utf8");
                    });
                    stream.stderr.on("data", (chunk: Buffer) => {
                        stderr += chunk.toString("utf8");
                    });
                    stream.on("close", (code: number | null) => {
                        client.end();
                        resolve({ code: code ?? -1, stdout, stderr });
                    });
                    stream.end(stdin);
                });
            })
            .on("error", fail)
            .connect({
                host: state.host,
                port: state.port,
                username: state.user,
                privateKey: state.privateKey,
                readyTimeout: 30_000,
                // The pinned key, as the commands pin it: anything else is refused before a byte is sent.
                hostVerifier: (key: Buffer) =>
                    state.hostKey === undefined || key.toString("base64") === state.hostKey.trim().split(/\s+/)[1],
            });
    });
}

/** Runs `command` through `/bin/sh -c` on this machine, as `@pulumi/command`'s local.Command does, `stdin` as input. */
function locally(command: string, stdin = ""): Promise<Ran> {
    const { spawn } = require("node:child_process") as typeof import("node:child_process");
    return new Promise((resolve, reject) => {
        const child = spawn("/bin/sh", ["-c", command], { stdio: ["pipe", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => {
            stdout += chunk.toString("utf8");
        });
        child.stderr.on("data", (chunk: Buffer) => {
            stderr += chunk.toString("utf8");
        });
        child.on("error", reject);
        child.on("close", (code: number | null) => resolve({ code: code ?? -1, stdout, stderr }));
        // A command that does not read its input may exit before the input is written: its exit status
        // says what happened, so the broken pipe is not an error of its own.
        child.stdin.on("error", (err: NodeJS.ErrnoException) => {
            if (err.code !== "EPIPE") reject(err);
        });
        child.stdin.end(stdin);
    });
}

/** Runs `command` where the files are: on this machine for a local connection, otherwise over SSH. */
function onMachine(state: HostFilesState, command: string, stdin = ""): Promise<Ran> {
    return state.local ? locally(command, stdin) : overSsh(state, command, stdin);
}

export const hostFilesProvider = {
    async diff(_id: string, olds: HostFilesState, news: HostFilesState) {
        return diffHostFiles(olds, news);
    },

    async create(inputs: HostFilesState) {
        return { id: `files@${inputs.host}:${inputs.port}`, outs: { ...inputs, drifted: [] } };
    },

    async read(id: string, props: HostFilesState) {
        const whole = props.files.filter((f) => f.check === undefined);
        const drifted: Drift[] = [];
        if (whole.length > 0) {
            const ran = await onMachine(props, props.read);
            if (ran.code !== 0) throw new Error(`reading back the placed files on ${props.host} exited ${ran.code}: ${ran.stderr}`);
            drifted.push(...driftOf(whole, ran.stdout));
        }
        for (const file of props.files) {
            if (file.check === undefined) continue;
            const ran = await onMachine(props, file.check, file.content);
            if (ran.code !== 0) throw new Error(`checking ${file.path} on ${props.host} exited ${ran.code}: ${ran.stderr}`);
            const changed = mergedFileDrift(file.path, ran.stdout);
            if (changed) drifted.push(changed);
        }
        return { id, props: { ...props, drifted } };
    },

    async update(_id: string, olds: HostFilesState, news: HostFilesState) {
        const changed = new Set((olds.drifted ?? []).map((d) => d.path));
        if (changed.size > 0) {
            for (const file of news.files.filter((f) => changed.has(f.path))) {
                const ran = await onMachine(news, file.place, file.content);
                if (ran.code !== 0) throw new Error(`putting back ${file.path} on ${news.host} exited ${ran.code}: ${ran.stderr}`);
            }
            if (news.afterRepair) {
                const ran = await onMachine(news, news.afterRepair);
                if (ran.code !== 0)
                    throw new Error(`after putting back files on ${news.host}, the follow-up exited ${ran.code}: ${ran.stderr}`);
            }
        }
        return { outs: { ...news, drifted: [] } };
    },

    async delete() {
        // The files are removed (or kept) by the commands that placed them.
    },
};
