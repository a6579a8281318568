#!/bin/sh
# Managed by dso-registry: checks that the registry serves every tagged image whole (after garbage
# collection and after a restore). See docs/deletes-and-gc.md.
#
# Asks the registry itself (REGISTRY_URL, Distribution with no front in between) for every repository,
# tag and manifest and HEADs every blob and child manifest they name. Run against a freshly started
# registry, or one without a blob-descriptor cache, a 200 means the file is there (distribution#3743).
# Repositories without tags (404 on tags/list: a push under way or refused before its manifest, or
# every tag deleted) are skipped. HTTP_CLIENT is what the place it runs has: curl (the external host)
# or busybox's wget (the registry:2 image, Alpine without curl).
: "${REGISTRY_URL:?}" "${HTTP_CLIENT:?}" "${UNIX_SOCKET?}" "${REGISTRY_LOGS:?}" "${REMEDY:?}"
: "${REPORTER?}" "${REPORT_SELF?}" "${REPORT_MEASURED?}"
# BLOB_STORE: Distribution's storage root, with filesystem storage (empty: s3, nothing to read here);
# CHECKED_BLOBS: the list of digests whose files passed (blob-files.sh).
: "${BLOB_STORE?}" "${CHECKED_BLOBS?}"
set -eu
# shellcheck source=./reported.sh
. "$(dirname "$0")/./reported.sh"
# shellcheck source=./blob-files.sh
. "$(dirname "$0")/./blob-files.sh"
reported verify "$@"
base=$REGISTRY_URL
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
api_tmp=$tmp
# shellcheck source=./registry-api.sh
. "$(dirname "$0")/./registry-api.sh"
wait_for_registry_api
images=0; blobs=0; bad=''
missing() { echo "MISSING $1: $2" >&2; case " $bad " in *" $1 "*) ;; *) bad="$bad $1" ;; esac; }
# check_manifest IMAGE REPO REFERENCE: the manifest, then every blob or child manifest it names.
check_manifest() {
    code=$(http_get "$base/v2/$2/manifests/$3" "$tmp/manifest")
    if [ "$code" != 200 ]; then missing "$1" "manifest $3 (HTTP $code)"; return 0; fi
    type=$(sed -n 's/^[[:space:]]*[Cc]ontent-[Tt]ype:[[:space:]]*\([^;[:space:]]*\).*/\1/p' "$tmp/headers" | tail -n 1)
    digests=$(grep -oE '"(digest|blobSum)"[[:space:]]*:[[:space:]]*"[^"]+"' "$tmp/manifest" | sed 's/.*"\([^"]*\)"$/\1/' | sort -u)
    case "$type" in
        *index*|*manifest.list*) for d in $digests; do check_manifest "$1" "$2" "$d"; done ;;
        *)
            # Each blob of the repository is asked for once ("DIGEST CODE" in $tmp/heads): the tags of a
            # repository share most of their layers, and a HEAD per tag and layer grows with both.
            printf '%s\n' "$digests" | awk '
                FILENAME == ARGV[1] { code[$1] = $2; next }
                NF { known = ($1 in code) ? code[$1] : "-"; print $1, known }' "$tmp/heads" - >"$tmp/wanted"
            while read -r d code <&5; do
                blobs=$((blobs + 1))
                if [ "$code" = - ]; then
                    code=$(http_head "$base/v2/$2/blobs/$d")
                    echo "$d $code" >>"$tmp/heads"
                fi
                if [ "$code" != 200 ]; then missing "$1" "blob $d (HTTP $code)"; fi
            done 5<"$tmp/wanted" ;;
    esac
}
last=''
while :; do
    code=$(http_get "$base/v2/_catalog?n=1000${last:+&last=$last}" "$tmp/catalog")
    if [ "$code" != 200 ]; then echo "listing the repositories answered HTTP $code; see: $REGISTRY_LOGS" >&2; exit 1; fi
    repos=$(array repositories "$tmp/catalog")
    [ -n "$repos" ] || break
    for repo in $repos; do
        last="$repo"
        : >"$tmp/heads"
        # 404: a repository without tags (a push under way or refused before its manifest, or every tag deleted).
        code=$(http_get "$base/v2/$repo/tags/list" "$tmp/tags")
        case "$code" in
            200) ;;
            404) continue ;;
            *) echo "listing the tags of $repo answered HTTP $code; see: $REGISTRY_LOGS" >&2; exit 1 ;;
        esac
        for tag in $(array tags "$tmp/tags"); do
            images=$((images + 1))
            check_manifest "$repo:$tag" "$repo" "$tag"
        done
    done
    [ "$(printf "%s\n" "$repos" | wc -l)" -ge 1000 ] || break
done
if [ -n "$bad" ]; then
    echo "FAILED: these tagged images are not served whole:$bad" >&2
    printf '%s\n' "$REMEDY" >&2
    exit 1
fi
if [ -n "$BLOB_STORE" ]; then
    check_blob_files "${DSO_ROOT:-}$BLOB_STORE" "${DSO_ROOT:-}$CHECKED_BLOBS" "$tmp"
fi
echo "verified: $images tagged images, $blobs blobs, all served"
