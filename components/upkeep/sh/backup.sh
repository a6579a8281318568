# shellcheck shell=sh
# The backup scheme both placements share (components/upkeep/backup.ts): two restic passes, the first
# while the registry is writable, the second inside the front's window with the first as its parent,
# and retention on the destination. The caller defines `restic_` (restic with its repository, password,
# cache and credentials) and declares SNAPSHOT_HOST and SNAPSHOT_TAG.

# backup_pass TAG PARENT ARGS...: `restic backup` of ARGS (options such as --exclude, then the paths),
# tagged TAG, compared with the snapshot PARENT when it is not empty; prints restic's summary. The
# snapshot's id lands in $pass_snapshot; no snapshot saved fails the script with restic's output.
backup_pass() {
    pass_tag=$1 pass_parent=$2
    shift 2
    if [ -n "$pass_parent" ]; then set -- --parent "$pass_parent" "$@"; fi
    pass_out=$(restic_ backup --host "$SNAPSHOT_HOST" --tag "$pass_tag" "$@")
    printf "%s\n" "$pass_out" | grep -E "^(Files|Dirs|Added|processed|snapshot)" || true
    pass_snapshot=$(printf "%s\n" "$pass_out" | sed -n 's/^snapshot \([0-9a-f]*\) saved$/\1/p')
    if [ -z "$pass_snapshot" ]; then echo "restic saved no snapshot; its output:" >&2; printf "%s\n" "$pass_out" >&2; exit 1; fi
}

# keep_last KEEP: forgets the complete snapshots beyond the newest KEEP and prunes the repository.
keep_last() {
    restic_ forget --quiet --host "$SNAPSHOT_HOST" --tag "$SNAPSHOT_TAG" --keep-last "$1" --prune
}
