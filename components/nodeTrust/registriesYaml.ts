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
import { type NodeMirror, renderMirrorRegistriesEntries } from "../mirrors/mirrors";
import { registryAuthority } from "../shared/facts";
import { shQuote } from "../shared/shQuote";

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

/**
 * The awk program of the merge. Input files: the entries (stdin's copy; empty to remove), then the
 * current file (or /dev/null). Prints the merged file; on anything it cannot merge safely it prints
 * why to stderr and exits 1 (the caller then changes nothing).
 */
const MERGE_AWK = String.raw`
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function indentOf(s) { match(s, /^ */); return RLENGTH }
function blankOrComment(s) { return s ~ /^[ \t]*(#.*)?$/ }
# Key of a block-mapping line ("" if the line is not "key:" or "key: value"); sets KEYPART (up to and
# including the colon) and KEYREST (after it).
function keyOf(s,   body, pad, k, i, rest) {
  match(s, /^[ \t]*/); pad = substr(s, 1, RLENGTH); body = substr(s, RLENGTH + 1)
  if (body ~ /^"/ || body ~ /^\047/) {
    i = index(substr(body, 2), substr(body, 1, 1)); if (!i) return ""
    k = substr(body, 2, i - 1); rest = substr(body, i + 2)
    if (!match(rest, /^[ \t]*:/)) return ""
    if (substr(rest, RLENGTH + 1) !~ /^([ \t]|$)/) return ""
    KEYPART = pad substr(body, 1, i + 1) substr(rest, 1, RLENGTH); KEYREST = substr(rest, RLENGTH + 1)
    return k
  }
  if (body ~ /^[-?{\[#&*!|>%@]/ || !match(body, /:([ \t]|$)/)) return ""
  k = substr(body, 1, RSTART - 1); sub(/[ \t]+$/, "", k)
  KEYPART = pad substr(body, 1, RSTART); KEYREST = substr(body, RSTART + 1)
  return k
}
function fail(msg) { print file ": " msg > "/dev/stderr"; print "Nothing was changed." > "/dev/stderr"; failed = 1; exit 1 }
FILENAME == entries {
  if ($0 ~ /^[a-z]+:[ \t]*$/) { ek = substr($0, 1, index($0, ":") - 1); next }
  if (ek != "") {
    nent[ek]++; ent[ek, nent[ek]] = substr($0, 3)
    # Keys of the entries this program writes (the registry, and each upstream it mirrors).
    if (ent[ek, nent[ek]] ~ /^[^ \t]/) { kk = keyOf(ent[ek, nent[ek]]); if (kk != "") own[ek, kk] = 1 }
  }
  next
}
{
  t = trim($0)
  if (t == begin) { if (inside) fail("line " FNR ": a second \"" begin "\" before its END line; remove the dso-registry lines by hand and run again"); inside = 1; next }
  if (t == end) { if (!inside) fail("line " FNR ": \"" end "\" without its BEGIN line; remove the dso-registry lines by hand and run again"); inside = 0; next }
  if (inside) next
  n++; L[n] = $0; src[n] = FNR
}
END {
  if (failed) exit 1
  if (inside) fail("\"" begin "\" without its END line; remove the dso-registry lines by hand and run again")
  content = 0
  for (i = 1; i <= n; i++) {
    s = L[i]
    if (s ~ /^---/) { if (content) fail("line " src[i] ": more than one YAML document; k3s and RKE2 read only the first: keep one"); continue }
    if (s ~ /^\.\.\.[ \t]*$/) fail("line " src[i] ": a YAML document end marker (...); remove it")
    if (blankOrComment(s) || s ~ /^[ \t]/) continue
    content = 1
    k = keyOf(s)
    if (k == "") fail("line " src[i] ": not a \"key:\" line of a block mapping; write the file in block style (one key per line)")
    if (k != "mirrors" && k != "configs") continue
    if (k in keyline) fail("line " src[i] ": a second top-level \"" k ":\"; merge the two into one")
    keyline[k] = i; v = trim(KEYREST)
    if (v ~ /^\{[ \t]*\}[ \t]*(#.*)?$/) L[i] = KEYPART
    else if (v != "" && v !~ /^#/) fail("line " src[i] ": \"" k ":\" holds a flow-style value; write it in block style (one entry per line) so entries can be added and removed")
    added[k] = (v == addedComment)
  }
  for (k in keyline) {
    kids = 0; ind = 2
    for (i = keyline[k] + 1; i <= n; i++) {
      s = L[i]
      if (s ~ /^[^ \t#]/) break
      if (blankOrComment(s)) continue
      if (!kids) ind = indentOf(s)
      kids++
      if (indentOf(s) == ind && keyOf(s) == authority)
        fail("line " src[i] ": " k "." authority " exists and was not written by dso-registry; remove that entry (the program writes its own) and run again")
      if (indentOf(s) == ind && ((k, keyOf(s)) in own))
        fail("line " src[i] ": " k "." keyOf(s) " exists and was not written by dso-registry, which writes its own for its pull-through cache (registry.mirrors); remove that entry, or the upstream from registry.mirrors, and run again")
    }
    children[k] = kids; indent[k] = ind
  }
  if (created) print header
  for (i = 1; i <= n; i++) {
    k = ""
    if (("mirrors" in keyline) && i == keyline["mirrors"]) k = "mirrors"
    if (("configs" in keyline) && i == keyline["configs"]) k = "configs"
    if (k != "" && added[k] && !children[k] && !nent[k]) continue
    print L[i]
    if (k != "" && nent[k]) block(k, indent[k])
  }
  if (nent["mirrors"] && !("mirrors" in keyline)) { print "mirrors: " addedComment; block("mirrors", 2) }
  if (nent["configs"] && !("configs" in keyline)) { print "configs: " addedComment; block("configs", 2) }
}
function block(k, ind,   pad, j) {
  pad = sprintf("%" ind "s", "")
  print pad begin
  for (j = 1; j <= nent[k]; j++) print pad ent[k, j]
  print pad end
}
`;

export interface RegistriesYamlScriptInput {
    /** Absolute path of registries.yaml on the node. */
    readonly path: string;
    /** The registry's `host[:port]`, the key of its entries. */
    readonly authority: string;
    /** The entries carry the pull password: the file becomes 0600. */
    readonly secret: boolean;
}

/**
 * The merge as a script body. "apply" reads the entries on stdin and puts them into the file
 * (creating it when absent); "remove" takes them out and removes the file when only the program's
 * header is left. Sets `changed=1` when the file changed (the caller restarts the service) and
 * prints "changed <file>" / "unchanged <file>" / "removed <file>". Comments, order and every byte of
 * the other lines stay; a file written whole by an earlier version is taken over as the program's.
 * The result is written next to the file and renamed over it (copied where it is a bind mount).
 */
export function registriesYamlMergeBody(input: RegistriesYamlScriptInput, action: "apply" | "remove"): string {
    const { begin, end } = registriesYamlMarkers(input.authority);
    return [
        `file="\${DSO_ROOT:-}"${shQuote(input.path)}`,
        `changed=0`,
        ...(action === "remove" ? [`if [ ! -e "$file" ]; then echo "unchanged $file"; else`] : [`mkdir -p "$(dirname "$file")"`, `{`]),
        `umask 077`,
        `work=$(mktemp -d "$(dirname "$file")/.dso-registries.XXXXXX")`,
        `trap 'rm -rf "$work"' EXIT`,
        action === "apply" ? `cat > "$work/entries"` : `: > "$work/entries"`,
        `current="$file"`,
        `created=0`,
        `mode=644`,
        `if [ ! -e "$file" ]; then current=/dev/null; created=1`,
        `elif [ "$(head -n 1 "$file")" = ${shQuote(LEGACY_MANAGED_HEADER)} ]; then current=/dev/null; created=1; mode=$(stat -c %a "$file")`,
        `else mode=$(stat -c %a "$file"); fi`,
        ...(input.secret ? [`mode=600`] : []),
        `awk -v file=${shQuote(input.path)} -v entries="$work/entries" -v authority=${shQuote(input.authority)} \\`,
        `  -v begin=${shQuote(begin)} -v end=${shQuote(end)} \\`,
        `  -v header=${shQuote(REGISTRIES_CREATED_HEADER)} -v addedComment=${shQuote(ADDED_KEY_COMMENT)} -v created="$created" \\`,
        `  ${shQuote(MERGE_AWK)} "$work/entries" "$current" > "$work/new"`,
        `if ! grep -Fxv ${shQuote(REGISTRIES_CREATED_HEADER)} "$work/new" | grep -q '[^[:space:]]'; then`,
        `  if [ -e "$file" ]; then rm -f "$file"; changed=1; echo "removed $file"; else echo "unchanged $file"; fi`,
        `elif [ -e "$file" ] && cmp -s "$work/new" "$file"; then`,
        `  chmod "$mode" "$file"`,
        `  echo "unchanged $file"`,
        `else`,
        `  chmod "$mode" "$work/new"`,
        `  if ! mv -f "$work/new" "$file" 2>/dev/null; then cat "$work/new" > "$file"; chmod "$mode" "$file"; fi`,
        `  changed=1`,
        `  echo "changed $file"`,
        `fi`,
        `rm -rf "$work"`,
        `trap - EXIT`,
        action === "remove" ? `fi` : `}`,
    ].join("\n");
}
