/**
 * Scripts as scripts: every whole shell script the program places on a machine or runs there is a
 * `.sh` file beside its renderer, where editors, `npm run lint` (shellcheck) and reviewers see it as
 * shell. The renderer only supplies its parameters; this module turns the file into the complete text
 * that is placed or run, so the synth shows exactly what runs:
 *
 * - Parameters are declared at the top of the file, after its header comment, as
 *   `: "${NAME:?}"` (a value is required) or `: "${NAME?}"` (may be empty), upper case. The rendered
 *   text assigns each one (`NAME='value'`) right under the header, so a reader sees the values beside
 *   the code, and the file itself still runs from a checkout with the values in its environment.
 *   Rendering fails when a declared parameter has no value or a value names no declared parameter.
 * - Shared shell lives in sourced files of functions, one per shared piece: `components/upkeep/sh/`
 *   for what both placements share (the read-only window, collect, verify, the backup scheme, the
 *   Maven clean-up, container converge), a placement's own `sh/` folder for what only its scripts share
 *   (the host's lock, restic on the host). A script uses one with the line
 *   `. "$(dirname "$0")/<relative path>.sh"` (with a `# shellcheck source=…` line above it, so
 *   shellcheck follows it); the rendered text holds the sourced file's functions in place of that
 *   line, so the placed script needs nothing beside it and carries only the shell it uses.
 *
 * Parameters are never secrets: secrets reach scripts on stdin or in files of mode 0600.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { shQuote } from "./shQuote";

/** A parameter's value; a list becomes one value with an item per line (for `for x in $LIST`). */
export type ShellParam = string | number | boolean | readonly string[];
export type ShellParams = Readonly<Record<string, ShellParam>>;

const sources = new Map<string, string>();

function read(file: string): string {
    let text = sources.get(file);
    if (text === undefined) {
        text = readFileSync(file, "utf8");
        sources.set(file, text);
    }
    return text;
}

const DECLARATION = /^:\s.*\$\{/;
const DECLARED_NAME = /\$\{([A-Z_][A-Z0-9_]*):?\?\}/g;
const INCLUDE = /^\.\s+"\$\(dirname "\$0"\)\/([^"]+\.sh)"\s*$/;
const SHELLCHECK_SOURCE = /^#\s*shellcheck\s+source=/;

/** The parameters a script file declares, in the order it declares them. */
export function declaredParameters(text: string): string[] {
    const names: string[] = [];
    for (const line of text.split("\n")) {
        if (!DECLARATION.test(line)) continue;
        for (const match of line.matchAll(DECLARED_NAME)) {
            const name = match[1] as string;
            if (!names.includes(name)) names.push(name);
        }
    }
    return names;
}

function paramValue(value: ShellParam): string {
    if (typeof value === "string") return value;
    if (typeof value === "number" || typeof value === "boolean") return String(value);
    return value.join("\n");
}

/** A sourced file's body as it is inlined: without its own `# shellcheck shell=` directive. */
function sourcedBody(file: string): string[] {
    const lines = read(file).replace(/\n+$/, "").split("\n");
    return lines.filter((line) => !/^#\s*shellcheck\s+shell=/.test(line) && !line.startsWith("#!"));
}

/** Where the header ends: the shebang and the comment lines right after it. */
function headerLength(lines: readonly string[]): number {
    let i = 0;
    if (lines[0]?.startsWith("#!")) i = 1;
    while (i < lines.length && lines[i]?.startsWith("#") && !SHELLCHECK_SOURCE.test(lines[i] as string)) i++;
    return i;
}

/**
 * The complete text of the script in `file` (an absolute path, `path.join(__dirname, "x.sh")` in its
 * renderer) with `params` assigned under its header and the files it sources inlined.
 */
export function renderShellScript(file: string, params: ShellParams = {}): string {
    const text = read(file);
    const declared = declaredParameters(text);
    const given = Object.keys(params);
    const missing = declared.filter((name) => !(name in params));
    const unknown = given.filter((name) => !declared.includes(name));
    const where = path.relative(path.join(__dirname, "..", ".."), file);
    if (missing.length > 0) throw new Error(`${where}: no value for its parameter(s) ${missing.join(", ")}`);
    if (unknown.length > 0) throw new Error(`${where}: declares no parameter ${unknown.join(", ")}`);

    const lines = text.replace(/\n+$/, "").split("\n");
    const out: string[] = [];
    const header = headerLength(lines);
    out.push(...lines.slice(0, header));
    if (declared.length > 0) {
        out.push(...declared.map((name) => `${name}=${shQuote(paramValue(params[name] as ShellParam))}`));
    }
    for (const line of lines.slice(header)) {
        if (SHELLCHECK_SOURCE.test(line)) continue;
        const include = INCLUDE.exec(line);
        if (include) {
            out.push(...sourcedBody(path.resolve(path.dirname(file), include[1] as string)));
            continue;
        }
        out.push(line);
    }
    return `${out.join("\n")}\n`;
}
