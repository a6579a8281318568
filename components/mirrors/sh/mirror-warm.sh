#!/bin/sh
# Managed by dso-registry: warms a pull-through cache ahead of need (registry.mirrors[].warm). See
# docs/mirrors.md, Warming a cache ahead of need.
#
# For each image of IMAGES ("REPOSITORY REFERENCE" a line, the reference a tag or a sha256 digest), asks
# the cache's own Distribution (REGISTRY_URL, no front in between) for its manifest, accepting every
# manifest type (OCI and Docker, index and image). For an index (or a Docker manifest list) it then asks for
# the manifest of each platform PLATFORMS lists ("os/architecture[/variant]" a line; "linux/arm64" also
# takes "linux/arm64/v8"; "all" takes every entry), and for every image manifest it reads every blob
# (config and layers) to its end. The cache fetches each from its upstream, stores the manifests and tags
# as it answers and each blob as it sends it, exactly as for a node's pull; what it holds already it
# answers from its storage. Prints one line per image (`warm: fetched …` or `warm: failed …: why`) and a
# summary; exits 1 when any image failed, after trying every one. It first waits up to 5 minutes for the
# cache to answer.
: "${REGISTRY_URL:?}" "${HTTP_CLIENT:?}" "${UNIX_SOCKET?}" "${REGISTRY_LOGS:?}"
: "${IMAGES:?}" "${PLATFORMS:?}"
set -eu
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
api_tmp=$tmp
# shellcheck source=../../upkeep/sh/registry-api.sh
. "$(dirname "$0")/../../upkeep/sh/registry-api.sh"

# get_blob URL: reads the blob to its end and throws it away; prints the HTTP status, 000 when nothing
# answered, and the status followed by "-cut" when the transfer broke off.
case $HTTP_CLIENT in
    curl)
        get_blob() {
            if code=$(curl -sS --max-time 7200 -o /dev/null -w "%{http_code}" "$1" 2>"$tmp/blob-err"); then echo "$code"; else echo "${code:-000}-cut"; fi
        }
        ;;
    *)
        get_blob() {
            if wget -S -q -O /dev/null "$1" 2>"$tmp/blob-head"; then status_of "$tmp/blob-head"; else echo "$(status_of "$tmp/blob-head")-cut"; fi
        }
        ;;
esac

# json_fields FILE: every scalar of a JSON document, one a line, "PATH<tab>VALUE": object keys and array
# indexes joined by "." (e.g. "manifests.0.platform.architecture<tab>amd64", "layers.2.digest<tab>sha256:…").
json_fields() {
    awk '
        { s = s $0 "\n" }
        function emit(v,   p, d) { p = ""; for (d = 1; d <= depth; d++) p = p (d > 1 ? "." : "") key[d]; print p "\t" v }
        END {
            n = length(s); i = 1; depth = 0
            while (i <= n) {
                c = substr(s, i, 1)
                if (c == "{") { depth++; kind[depth] = "o"; key[depth] = ""; i++; continue }
                if (c == "[") { depth++; kind[depth] = "a"; key[depth] = 0; i++; continue }
                if (c == "}" || c == "]") { depth--; i++; continue }
                if (c == ",") { if (kind[depth] == "a") key[depth]++; i++; continue }
                if (c == ":" || c == " " || c == "\t" || c == "\r" || c == "\n") { i++; continue }
                if (c == "\"") {
                    j = i + 1; str = ""
                    while (j <= n) {
                        d = substr(s, j, 1)
                        if (d == "\\") { str = str substr(s, j, 2); j += 2; continue }
                        if (d == "\"") break
                        str = str d; j++
                    }
                    i = j + 1
                    k = i; while (k <= n && substr(s, k, 1) ~ /[ \t\r\n]/) k++
                    if (kind[depth] == "o" && substr(s, k, 1) == ":") key[depth] = str; else emit(str)
                    continue
                }
                j = i; while (j <= n && substr(s, j, 1) !~ /[],} \t\r\n]/) j++
                emit(substr(s, i, j - i)); i = j
            }
        }' "$1"
}

# field NAME FIELDS: the value of top-level path NAME in a json_fields file, empty when absent.
field() { awk -F '\t' -v k="$1" '$1 == k { print $2; exit }' "$2"; }

# index_entries FIELDS: "DIGEST OS/ARCHITECTURE[/VARIANT]" for each manifest an index lists.
index_entries() {
    awk -F '\t' '
        $1 ~ /^manifests\.[0-9]+\.(digest|platform\.(os|architecture|variant))$/ {
            split($1, p, "."); n = p[2] + 0
            if (p[3] == "digest") dg[n] = $2; else if (p[4] == "os") os[n] = $2; else if (p[4] == "architecture") ar[n] = $2; else va[n] = $2
            if (n + 1 > m) m = n + 1
        }
        END { for (i = 0; i < m; i++) if (dg[i] != "") print dg[i], (os[i] == "" ? "unknown" : os[i]) "/" (ar[i] == "" ? "unknown" : ar[i]) (va[i] == "" ? "" : "/" va[i]) }' "$1"
}

# wanted PLATFORM: whether PLATFORMS takes it.
wanted() {
    for p in $PLATFORMS; do
        case $p in all | "$1") return 0 ;; esac
        case $1 in "$p"/*) return 0 ;; esac
    done
    return 1
}

# is_index CONTENT-TYPE FIELDS: an OCI index or a Docker manifest list.
is_index() {
    case $1 in application/vnd.oci.image.index.v1+json* | application/vnd.docker.distribution.manifest.list.v2+json*) return 0 ;; esac
    [ -z "$1" ] && grep -q '^manifests\.' "$2"
}

# blobs_of REPO FIELDS: fetches the config and every layer of an image manifest (schema 1: its fsLayers);
# appends the count to $tmp/count. Returns 1 with the reason in $tmp/why on the first blob that fails.
blobs_of() {
    awk -F '\t' '$1 == "config.digest" || $1 ~ /^layers\.[0-9]+\.digest$/ || $1 ~ /^fsLayers\.[0-9]+\.blobSum$/ { print $2 }' "$2" >"$tmp/blobs"
    if [ ! -s "$tmp/blobs" ]; then echo "a manifest lists no blob" >"$tmp/why"; return 1; fi
    while read -r blob <&4; do
        grep -qx "$blob" "$tmp/seen" 2>/dev/null && continue
        code=$(get_blob "$REGISTRY_URL/v2/$1/blobs/$blob")
        if [ "$code" != 200 ]; then
            case $code in
                *-cut) echo "blob $blob broke off (HTTP ${code%-cut}); see: $REGISTRY_LOGS" >"$tmp/why" ;;
                000) echo "the cache does not answer on $REGISTRY_URL; see: $REGISTRY_LOGS" >"$tmp/why" ;;
                *) echo "blob $blob answered HTTP $code; see: $REGISTRY_LOGS" >"$tmp/why" ;;
            esac
            return 1
        fi
        echo "$blob" >>"$tmp/seen"
    done 4<"$tmp/blobs"
    return 0
}

# manifest_of REPO REFERENCE FILE: GETs the manifest into FILE and its fields into FILE.fields; the
# reason in $tmp/why when it fails.
manifest_of() {
    code=$(http_get "$REGISTRY_URL/v2/$1/manifests/$2" "$3")
    case $code in
        200) ;;
        000) echo "the cache does not answer on $REGISTRY_URL; see: $REGISTRY_LOGS" >"$tmp/why"; return 1 ;;
        404) echo "manifest $2 is unknown to the upstream (or the upstream does not answer, or refused the cache's account); see: $REGISTRY_LOGS" >"$tmp/why"; return 1 ;;
        *) echo "manifest $2 answered HTTP $code; see: $REGISTRY_LOGS" >"$tmp/why"; return 1 ;;
    esac
    api_header Content-Type >"$3.type"
    json_fields "$3" >"$3.fields"
}

# warm_image REPO REFERENCE: fetches one image; prints what it fetched on stdout, returns 1 with the reason in $tmp/why.
warm_image() {
    : >"$tmp/seen"
    manifest_of "$1" "$2" "$tmp/top" || return 1
    if ! is_index "$(cat "$tmp/top.type")" "$tmp/top.fields"; then
        blobs_of "$1" "$tmp/top.fields" || return 1
        echo "one image, $(wc -l <"$tmp/seen" | tr -d ' ') blobs"
        return 0
    fi
    index_entries "$tmp/top.fields" >"$tmp/entries"
    : >"$tmp/platforms"
    while read -r digest platform <&5; do
        wanted "$platform" || continue
        manifest_of "$1" "$digest" "$tmp/child" || { echo "$platform: $(cat "$tmp/why")" >"$tmp/why"; return 1; }
        if is_index "$(cat "$tmp/child.type")" "$tmp/child.fields"; then
            echo "$platform: $digest is an index itself, which warming does not descend into" >"$tmp/why"; return 1
        fi
        blobs_of "$1" "$tmp/child.fields" || { echo "$platform: $(cat "$tmp/why")" >"$tmp/why"; return 1; }
        echo "$platform" >>"$tmp/platforms"
    done 5<"$tmp/entries"
    if [ ! -s "$tmp/platforms" ]; then
        echo "its index lists none of the platforms $(echo "$PLATFORMS" | tr '\n' ' ' | sed 's/ $//') (it lists: $(cut -d ' ' -f 2 "$tmp/entries" | tr '\n' ' ' | sed 's/ $//'))" >"$tmp/why"
        return 1
    fi
    echo "$(tr '\n' ' ' <"$tmp/platforms" | sed 's/ $//'), $(wc -l <"$tmp/seen" | tr -d ' ') blobs"
}

# The cache may still be starting (a Job created in the same `up`): up to 5 minutes for it to answer.
tries=0
until [ "$(http_get "$REGISTRY_URL/v2/" "$tmp/ping")" = 200 ]; do
    tries=$((tries + 1))
    if [ "$tries" -ge 300 ]; then echo "warm: the cache does not answer on $REGISTRY_URL/v2/ (waited 5 minutes); nothing fetched; see: $REGISTRY_LOGS"; exit 1; fi
    sleep 1
done

total=0 failed=0
echo "$IMAGES" >"$tmp/images"
while read -r repo reference <&3; do
    [ -n "$repo" ] || continue
    total=$((total + 1))
    case $reference in sha256:*) name=$repo@$reference ;; *) name=$repo:$reference ;; esac
    if what=$(warm_image "$repo" "$reference"); then
        echo "warm: fetched $name ($what)"
    else
        failed=$((failed + 1))
        echo "warm: failed $name: $(cat "$tmp/why")"
    fi
done 3<"$tmp/images"
if [ "$failed" -gt 0 ]; then
    echo "warm: $failed of $total images failed; the cache holds the others"
    exit 1
fi
echo "warm: all $total images fetched"
