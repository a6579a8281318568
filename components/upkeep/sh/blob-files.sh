# shellcheck shell=sh
# The blob store's files are what their paths say (sourced by verify.sh, with filesystem storage).
#
# The front serves blob downloads straight from these files (docs/decisions/access-policy.md, The blob
# shortcut), as Distribution itself would serve them: neither hashes a file on read, and both follow a
# symbolic link. So this check does it after the fact: no symbolic link anywhere under the blob store,
# and every blob's data hashes to the digest its directory names. Digests that passed are listed in
# CHECKED_LIST so that each blob is hashed once, not on every run (garbage collection drops the ones it
# removed from the list the next time).

# check_blob_files STORE CHECKED_LIST WORK_DIR: prints the damaged files and fails when there is any.
check_blob_files() {
    store=$1/docker/registry/v2/blobs
    list=$2
    work=$3
    if [ ! -d "$store" ]; then
        echo "blob files: no blob store yet at $store"
        return 0
    fi
    damaged=0
    find "$store" -type l > "$work/links"
    while read -r link; do
        echo "DAMAGED $link: a symbolic link in the blob store (Distribution never writes one)" >&2
        damaged=$((damaged + 1))
    done < "$work/links"
    # The digests of every blob's data file, and of those written since the last run (the list's time:
    # a file rewritten in place is hashed again). Listed and unchanged files are not hashed again.
    find "$store" -type f -name data | sed -n 's|.*/\([0-9a-f]\{64\}\)/data$|\1|p' | sort -u > "$work/present"
    : > "$work/changed"
    if [ -f "$list" ]; then
        find "$store" -type f -name data -newer "$list" | sed -n 's|.*/\([0-9a-f]\{64\}\)/data$|\1|p' | sort -u > "$work/changed"
    fi
    touch "$list"
    sort -u "$list" > "$work/checked"
    # Sets by counting (busybox has no comm): a digest in two of the sorted lists appears twice, and a
    # list given twice subtracts itself from the unique ones.
    sort "$work/present" "$work/checked" | uniq -d > "$work/both"
    sort "$work/both" "$work/changed" "$work/changed" | uniq -u > "$work/passed"
    sort "$work/present" "$work/checked" "$work/checked" | uniq -u | sort -u - "$work/changed" > "$work/unchecked"
    hashed=0
    while read -r digest; do
        hashed=$((hashed + 1))
        file="$store/sha256/$(printf %.2s "$digest")/$digest/data"
        actual=$(sha256sum "$file" | cut -d' ' -f1)
        if [ "$actual" = "$digest" ]; then
            echo "$digest" >> "$work/passed"
        else
            echo "DAMAGED $file: its content hashes to sha256:$actual" >&2
            damaged=$((damaged + 1))
        fi
    done < "$work/unchecked"
    # Only blobs still present and passing stay listed: a damaged one is hashed again next time.
    sort -u "$work/passed" > "$list.new" && mv "$list.new" "$list"
    if [ "$damaged" -gt 0 ]; then
        echo "FAILED: $damaged damaged files in the blob store; see docs/runbooks.md, Garbage collection or verify failed" >&2
        return 1
    fi
    echo "blob files: $(wc -l < "$list") blobs match their digests ($hashed hashed this run), no symbolic links"
}
