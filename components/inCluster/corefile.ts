/**
 * The registry's name inside pods, as CoreDNS configuration: a server block of its own for the
 * registry's host name whose `hosts` entry answers with the ClusterIP of the registry's TLS Service.
 * Pods then resolve `https://<host>` to the same front, with the same certificate, that nodes reach.
 *
 * Two ways to hand the block to the cluster's CoreDNS, both additive and reversible:
 * - k3s: the `coredns-custom` ConfigMap, whose `*.server` keys k3s's Corefile imports; the program owns
 *   one key of it (see clusterDns.ts).
 * - microk8s: its Corefile (ConfigMap `coredns`, key `Corefile`) imports nothing, so the block is
 *   appended between marker comments and taken out by them; the transform below runs on the
 *   operator's machine in POSIX sh + awk, between `kubectl get` and a `kubectl patch` that only applies
 *   when the Corefile is still the one that was read (a JSON Patch `test` operation).
 */

/** Marker comments around the program's block in a Corefile. */
export function corefileMarkers(host: string): { readonly begin: string; readonly end: string } {
    return {
        begin: `# BEGIN dso-registry ${host} (managed server block, do not edit)`,
        end: `# END dso-registry ${host}`,
    };
}

/** The BEGIN line when the Corefile did not end with a line break: removal takes that break out again. */
export function joinedBeginMarker(host: string): string {
    return `${corefileMarkers(host).begin} (line break added)`;
}

/**
 * A CoreDNS server block for the zone `host`: the name answers with `ip`, any other name under it is
 * NXDOMAIN. CoreDNS sends a query to the server block of the most specific zone, so the cluster's own
 * `.:53` block keeps answering every other name. No `reload` here: microk8s's `.:53` block carries it,
 * and the plugin reloads the whole Corefile.
 */
export function renderRegistryServerBlock(host: string, ip: string): string {
    return [`${host}:53 {`, `    errors`, `    hosts {`, `        ${ip} ${host}`, `        ttl 30`, `    }`, `}`, ``].join("\n");
}

/**
 * The awk program of the Corefile transform. Input files: the block to insert (empty to remove), then
 * the current Corefile. Prints the new Corefile; on anything it cannot change safely it prints why to
 * stderr and exits 1 (the caller changes nothing). Every line outside the program's markers is printed
 * as it was, and the final line break is kept as it was, so removing gives the original back byte for
 * byte.
 */
export const COREFILE_AWK = String.raw`
function fail(msg) { print "Corefile: " msg > "/dev/stderr"; print "Nothing was changed." > "/dev/stderr"; failed = 1; exit 1 }
FILENAME == blockFile { nb++; B[nb] = $0; next }
{
  line = $0
  if (line == begin || line == joined) {
    if (inside) fail("line " FNR ": a second \"" begin "\" before its END line; remove the dso-registry lines by hand and run again")
    inside = 1; wasJoined = (line == joined); next
  }
  if (line == end) {
    if (!inside) fail("line " FNR ": \"" end "\" without its BEGIN line; remove the dso-registry lines by hand and run again")
    inside = 0; removed = 1; if (wasJoined) dropFinalBreak = 1; next
  }
  if (inside) next
  code = line; sub(/#.*/, "", code)
  if (depth == 0) {
    keys = code; sub(/\{.*/, "", keys); gsub(/,/, " ", keys)
    nk = split(keys, K, /[ \t]+/)
    for (i = 1; i <= nk; i++) {
      k = K[i]; sub(/^dns:\/\//, "", k); sub(/:53$/, "", k); sub(/\.$/, "", k)
      if (k == host) fail("line " FNR ": a server block for " host " exists and was not written by dso-registry; remove it (the program writes its own) and run again")
    }
  }
  opens = gsub(/\{/, "{", code); closes = gsub(/\}/, "}", code); depth += opens - closes
  n++; L[n] = line
}
END {
  if (failed) exit 1
  if (inside) fail("\"" begin "\" without its END line; remove the dso-registry lines by hand and run again")
  if (n == 0) fail("it is empty; this is not the cluster's Corefile")
  finalBreak = !noFinalBreak
  if (removed && dropFinalBreak) finalBreak = 0
  for (i = 1; i <= n; i++) {
    if (i < n || finalBreak || nb) printf "%s\n", L[i]
    else printf "%s", L[i]
  }
  if (nb) {
    print (finalBreak ? begin : joined)
    for (j = 1; j <= nb; j++) print B[j]
    print end
  }
}
`;

/**
 * A JSON string literal of a whole file, in awk (every byte kept; control characters escaped), for the
 * JSON Patch. Input: the file; `-v noFinalBreak=1` when it does not end with a line break.
 */
export const JSON_STRING_AWK = String.raw`
BEGIN {
  for (c = 1; c < 32; c++) esc[sprintf("%c", c)] = sprintf("\\u%04x", c)
  esc["\t"] = "\\t"; esc["\r"] = "\\r"; esc["\""] = "\\\""; esc["\\"] = "\\\\"
  printf "\""
}
{
  if (NR > 1) printf "\\n"
  s = $0; out = ""
  while (match(s, /[\001-\037"\\]/)) { out = out substr(s, 1, RSTART - 1) esc[substr(s, RSTART, 1)]; s = substr(s, RSTART + 1) }
  printf "%s%s", out, s
}
END { if (NR > 0 && !noFinalBreak) printf "\\n"; printf "\"" }
`;

export interface CorefileScriptInput {
    /** The registry's host name: the zone of the block and the key of its markers. */
    readonly host: string;
    /** `kubectl` and its global flags (a context), already quoted for sh. */
    readonly kubectl: string;
}

/** sh: prints 1 when the file "$1" is not empty and does not end with a line break, else 0. */
const LACKS_FINAL_BREAK = `lacksFinalBreak() { if [ -s "$1" ] && [ "$(tail -c 1 "$1" | wc -l)" -eq 0 ]; then echo 1; else echo 0; fi; }`;

/**
 * The script body that changes the Corefile of microk8s's CoreDNS. "apply" reads the server block on
 * stdin and puts it in (replacing an earlier one); "remove" takes it out. It reads the Corefile with
 * `kubectl get`, transforms it, and writes it back with a JSON Patch whose `test` operation makes the
 * API server refuse the write when someone changed the Corefile in between (run again then). Prints
 * "changed"/"unchanged Corefile".
 */
export function corefileScriptBody(input: CorefileScriptInput, action: "apply" | "remove"): string {
    const { begin, end } = corefileMarkers(input.host);
    const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    return [
        `set -eu`,
        `umask 077`,
        `work=$(mktemp -d)`,
        `trap 'rm -rf "$work"' EXIT`,
        LACKS_FINAL_BREAK,
        action === "apply" ? `cat > "$work/block"` : `: > "$work/block"`,
        `if ! ${input.kubectl} -n kube-system get configmap coredns -o jsonpath='{.data.Corefile}' > "$work/current"; then`,
        `  echo "Cannot read the Corefile (ConfigMap kube-system/coredns, key Corefile). Enable CoreDNS (microk8s enable dns), check that kubectl reaches the cluster (inCluster.clusterDns.kubectlContext), and run again." >&2`,
        `  exit 1`,
        `fi`,
        `awk -v blockFile="$work/block" -v host=${sq(input.host)} -v begin=${sq(begin)} -v end=${sq(end)} \\`,
        `  -v joined=${sq(joinedBeginMarker(input.host))} -v noFinalBreak="$(lacksFinalBreak "$work/current")" \\`,
        `  ${sq(COREFILE_AWK)} "$work/block" "$work/current" > "$work/new"`,
        `if cmp -s "$work/current" "$work/new"; then echo "unchanged Corefile"; exit 0; fi`,
        `jsonString() { awk -v noFinalBreak="$(lacksFinalBreak "$1")" ${sq(JSON_STRING_AWK)} "$1"; }`,
        `{`,
        `  printf '[{"op":"test","path":"/data/Corefile","value":%s},' "$(jsonString "$work/current")"`,
        `  printf '{"op":"replace","path":"/data/Corefile","value":%s}]\\n' "$(jsonString "$work/new")"`,
        `} > "$work/patch.json"`,
        `${input.kubectl} -n kube-system patch configmap coredns --type json --patch-file "$work/patch.json"`,
        `echo "changed Corefile"`,
    ].join("\n");
}
