/**
 * k3s / RKE2 `registries.yaml`, merged on the node: the program owns only its own entries
 * (`mirrors.<authority>` and `configs.<authority>`) in a file that may hold the operator's entries
 * too (a docker.io mirror, another registry's credentials), and keeps every other line as it is.
 *
 * Why a line-oriented merge in POSIX sh + awk: the merge must run on the node (the file is the
 * node's, and the DaemonSet applies it from a busybox image), where no YAML library can be assumed
 * (k3s and RKE2 nodes have sh and awk, no python or yq). A YAML parser would also re-serialize the
 * file and lose the operator's comments and layout. The program's entries are therefore inserted
 * as marked blocks (`# BEGIN dso-registry <authority>` … `# END …`, YAML comments) right under the
 * top-level `mirrors:` / `configs:` keys, indented like their siblings, and removed by their markers.
 * Whatever the merge cannot read safely (flow style, several documents, an unmarked entry for the
 * same registry, which would be a duplicate key) stops the run with nothing changed.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { type NodeMirror, renderMirrorRegistriesEntries } from "../mirrors/mirrors";
import { registryAuthority } from "../shared/facts";
import { renderShellScript } from "../shared/shellScript";
import { type NodeRestart, restartParameters } from "./restarts";

const SCRIPT = path.join(__dirname, "sh", "registries-yaml.sh");
/** The merge itself, an awk program: the script passes it to awk as a parameter. */
const MERGE_AWK = readFileSync(path.join(__dirname, "sh", "registries-yaml-merge.awk"), "utf8");

/** First line of a registries.yaml that this program created (the file goes when nothing else is left). */
export const REGISTRIES_CREATED_HEADER =
    "# Created by dso-registry (node trust). Its entries sit between BEGIN/END dso-registry markers; add yours outside them.";

/** First line of the whole-file registries.yaml earlier versions wrote; such a file is entirely the program's. */
export const LEGACY_MANAGED_HEADER = "# Managed by dso-registry (node trust). Changes here are overwritten.";

/** Trailing comment of a top-level key the program added; the key goes when its last entry does. */
export const ADDED_KEY_COMMENT = "# added by dso-registry (removed with its last entry)";

/** Marker lines around the program's entry for `authority` (indented like the entry). */
export function registriesYamlMarkers(authority: string): { begin: string; end: string } {
    return {
        begin: `# BEGIN dso-registry ${authority} (managed entry, do not edit)`,
        end: `# END dso-registry ${authority}`,
    };
}

export interface RegistriesYamlInput {
    readonly host: string;
    readonly port: number;
    readonly plainHttp: boolean;
    /** Upstreams pulled through the registry's caches (a rewrite each onto `mirrors/<upstream>/`). */
    readonly mirrors?: readonly NodeMirror[];
    /** Absolute path of the CA file on the node, when there is one. */
    readonly caFile?: string;
    readonly auth?: { readonly username: string; readonly password: string };
}

/** A string as a YAML double-quoted scalar. */
function quoted(value: string): string {
    return JSON.stringify(value);
}

/**
 * The program's entries, as a registries.yaml of their own: the mirror for the registry, and its
 * CA and pull-only account under `configs` when there are any. Top-level keys at column 0, each
 * entry indented by two spaces: the merge script re-indents the entries to their siblings' indent.
 */
export function renderRegistriesEntries(input: RegistriesYamlInput): string {
    const authority = registryAuthority(input.host, input.port);
    const url = `${input.plainHttp ? "http" : "https"}://${authority}`;
    const lines = [
        "mirrors:",
        `  ${quoted(authority)}:`,
        "    endpoint:",
        `      - ${quoted(url)}`,
        ...renderMirrorRegistriesEntries({ mirrors: input.mirrors ?? [], registryHost: input.host, registryPort: input.port }),
    ];
    if (input.caFile || input.auth) {
        lines.push("configs:", `  ${quoted(authority)}:`);
        if (input.caFile) lines.push("    tls:", `      ca_file: ${quoted(input.caFile)}`);
        if (input.auth) {
            lines.push("    auth:", `      username: ${quoted(input.auth.username)}`, `      password: ${quoted(input.auth.password)}`);
        }
    }
    return `${lines.join("\n")}\n`;
}

export interface RegistriesYamlScriptInput {
    /** Absolute path of registries.yaml on the node. */
    readonly path: string;
    /** The registry's `host[:port]`, the key of its entries. */
    readonly authority: string;
    /** The entries carry the pull password: the file becomes 0600. */
    readonly secret: boolean;
}

/**
 * The script (`sh/registries-yaml.sh`) that merges the program's entries into registries.yaml on the
 * node and restarts the service after a change. "apply" reads the entries on stdin and puts them into
 * the file (creating it when absent); "remove" takes them out and removes the file when only the
 * program's header is left. Prints "changed <file>" / "unchanged <file>" / "removed <file>", then what
 * the restart did. Comments, order and every byte of the other lines stay; a file written whole by an
 * earlier version is taken over as the program's.
 */
export function registriesYamlScript(input: RegistriesYamlScriptInput, restart: NodeRestart, action: "apply" | "remove" | "check"): string {
    const { begin, end } = registriesYamlMarkers(input.authority);
    return renderShellScript(SCRIPT, {
        ACTION: action,
        FILE: input.path,
        AUTHORITY: input.authority,
        SECRET: input.secret,
        BEGIN_MARKER: begin,
        END_MARKER: end,
        CREATED_HEADER: REGISTRIES_CREATED_HEADER,
        LEGACY_HEADER: LEGACY_MANAGED_HEADER,
        ADDED_KEY_COMMENT,
        MERGE_AWK,
        ...restartParameters(restart),
    });
}
