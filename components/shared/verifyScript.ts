/**
 * The check that every tagged image is still served whole, for both placements: after garbage
 * collection (distribution#3743: a registry answers 200 from its cache for data GC removed;
 * distribution#3045: GC during a push deletes the new layers) and after a restore. One renderer; the
 * places it runs differ only in the HTTP client they have and in what the messages point to:
 *
 * - the external host: `dso-registry-verify` with curl, against Distribution on the host's loopback
 *   (components/externalHost/backupScripts.ts `verifyScript`);
 * - the in-cluster registry: `verify.sh` in ConfigMap `registry-config`, run by the GC job inside the
 *   registry container (`kubectl exec`), the only place that reaches Distribution on the pod's
 *   loopback; the registry:2 image is Alpine with busybox and no curl, so it uses busybox's wget
 *   (components/inCluster/gcJob.ts `inClusterVerifyScript`).
 */
import { shQuote } from "./shQuote";

/** The manifest types the check asks for (every type Distribution 2.8 stores). */
const MANIFEST_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/** The HTTP client the check runs with: curl (the external host), busybox's wget (the registry:2 image). */
export type VerifyHttpClient = "curl" | "busybox-wget";

/** What differs between the places the check runs. */
export interface VerifyScriptOptions {
    /** Distribution's own address (`http://…`), no Caddy in between. */
    readonly base: string;
    readonly client: VerifyHttpClient;
    /** The page that explains the check, named in the script's header. */
    readonly docs: string;
    /** The command that shows the registry's log, named when the registry does not answer as it should. */
    readonly registryLogs: string;
    /** What to do about images that are not served whole: the failure's last line. */
    readonly remedy: string;
}

/**
 * Shell functions `http_get URL FILE` (a GET that accepts every manifest type; the body goes to FILE,
 * the headers to $tmp/headers) and `http_head URL`; both print the HTTP status, 000 when nothing answers.
 */
function httpLines(client: VerifyHttpClient): string[] {
    if (client === "curl") {
        return [
            'http_get() { curl -sS --max-time 60 -H "Accept: $accept" -D "$tmp/headers" -o "$2" -w "%{http_code}" "$1" 2>/dev/null || true; }',
            'http_head() { curl -sS --max-time 60 -o /dev/null -w "%{http_code}" -I "$1" 2>/dev/null || true; }',
        ];
    }
    // busybox wget prints the answer's headers (-S) to stderr, indented; it has no HEAD. --spider sends
    // a GET and stops after the headers: Distribution looks the blob up (the repository's link, the
    // blob's file) exactly as for a HEAD and answers 404 before any byte when it is missing.
    return [
        "# The last status line busybox wget -S wrote to file $1; 000 when there is none (nothing answered).",
        "status_of() { sed -n 's/^[[:space:]]*HTTP\\/[0-9.]*[[:space:]]*\\([0-9][0-9][0-9]\\).*/\\1/p' \"$1\" | tail -n 1 | grep . || echo 000; }",
        'http_get() { wget -S -q -O "$2" --header "Accept: $accept" "$1" 2>"$tmp/headers" || true; status_of "$tmp/headers"; }',
        "# busybox wget sends no HEAD: --spider sends a GET and reads only the status and headers.",
        'http_head() { wget -S -q --spider "$1" 2>"$tmp/head" || true; status_of "$tmp/head"; }',
    ];
}

/**
 * The check: asks the registry itself (`base`) for every repository, tag and manifest and HEADs every
 * blob and child manifest they name. Run against a freshly started registry, whose blob-descriptor
 * cache is empty, a 200 means the file is there (distribution#3743). Repositories without tags (404
 * on tags/list: a push under way or refused before its manifest, or every tag deleted) are skipped.
 * Prints each missing piece with its image name (`MISSING repo:tag: blob sha256:… (HTTP 404)`) and
 * fails with the list (`FAILED: these tagged images are not served whole: …`); on success prints
 * `verified: N tagged images, M blobs, all served`.
 */
export function renderVerifyScript(options: VerifyScriptOptions): string {
    const logs = options.registryLogs;
    return [
        "#!/bin/sh",
        `# Managed by dso-registry: checks that the registry serves every tagged image whole. See ${options.docs}.`,
        "set -eu",
        `base=${shQuote(options.base)}`,
        `accept=${shQuote(MANIFEST_TYPES.join(","))}`,
        "tmp=$(mktemp -d); trap 'rm -rf \"$tmp\"' EXIT",
        ...httpLines(options.client),
        "tries=0",
        'until [ "$(http_get "$base/v2/" "$tmp/ping")" = 200 ]; do',
        "  tries=$((tries + 1))",
        `  if [ "$tries" -ge 60 ]; then echo "the registry does not answer on $base/v2/; see: ${logs}" >&2; exit 1; fi`,
        "  sleep 1",
        "done",
        "images=0; blobs=0; bad=''",
        "# The values of a JSON array field of $1, one a line (names and tags hold no quotes or commas).",
        "array() { tr -d '\\n' < \"$2\" | sed -n \"s/.*\\\"$1\\\"[[:space:]]*:[[:space:]]*\\[\\([^]]*\\)\\].*/\\1/p\" | tr ',' '\\n' | sed 's/^[[:space:]]*\"//; s/\"[[:space:]]*$//' | grep -v '^$' || true; }",
        'missing() { echo "MISSING $1: $2" >&2; case " $bad " in *" $1 "*) ;; *) bad="$bad $1" ;; esac; }',
        "# check_manifest IMAGE REPO REFERENCE: the manifest, then every blob or child manifest it names.",
        "check_manifest() {",
        '  code=$(http_get "$base/v2/$2/manifests/$3" "$tmp/manifest")',
        '  if [ "$code" != 200 ]; then missing "$1" "manifest $3 (HTTP $code)"; return 0; fi',
        "  type=$(sed -n 's/^[[:space:]]*[Cc]ontent-[Tt]ype:[[:space:]]*\\([^;[:space:]]*\\).*/\\1/p' \"$tmp/headers\" | tail -n 1)",
        '  digests=$(grep -oE \'"(digest|blobSum)"[[:space:]]*:[[:space:]]*"[^"]+"\' "$tmp/manifest" | sed \'s/.*"\\([^"]*\\)"$/\\1/\' | sort -u)',
        '  case "$type" in',
        '    *index*|*manifest.list*) for d in $digests; do check_manifest "$1" "$2" "$d"; done ;;',
        "    *)",
        "      for d in $digests; do",
        "        blobs=$((blobs + 1))",
        '        code=$(http_head "$base/v2/$2/blobs/$d")',
        '        if [ "$code" != 200 ]; then missing "$1" "blob $d (HTTP $code)"; fi',
        "      done ;;",
        "  esac",
        "}",
        "last=''",
        "while :; do",
        '  code=$(http_get "$base/v2/_catalog?n=1000${last:+&last=$last}" "$tmp/catalog")',
        `  if [ "$code" != 200 ]; then echo "listing the repositories answered HTTP $code; see: ${logs}" >&2; exit 1; fi`,
        '  repos=$(array repositories "$tmp/catalog")',
        '  [ -n "$repos" ] || break',
        "  for repo in $repos; do",
        '    last="$repo"',
        "    # 404: a repository without tags (a push under way or refused before its manifest, or every tag deleted).",
        '    code=$(http_get "$base/v2/$repo/tags/list" "$tmp/tags")',
        '    case "$code" in',
        "      200) ;;",
        "      404) continue ;;",
        `      *) echo "listing the tags of $repo answered HTTP $code; see: ${logs}" >&2; exit 1 ;;`,
        "    esac",
        '    for tag in $(array tags "$tmp/tags"); do',
        "      images=$((images + 1))",
        '      check_manifest "$repo:$tag" "$repo" "$tag"',
        "    done",
        "  done",
        '  [ "$(printf "%s\\n" "$repos" | wc -l)" -ge 1000 ] || break',
        "done",
        'if [ -n "$bad" ]; then',
        '  echo "FAILED: these tagged images are not served whole:$bad" >&2',
        `  echo ${shQuote(options.remedy)} >&2`,
        "  exit 1",
        "fi",
        'echo "verified: $images tagged images, $blobs blobs, all served"',
        "",
    ].join("\n");
}
