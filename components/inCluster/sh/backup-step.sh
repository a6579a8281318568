#!/bin/sh
# Managed by dso-registry: one step of the in-cluster backup to REPOSITORY_NAME, run in the registry
# pod's backup container by CronJob registry-backup (backup.sh in ConfigMap registry-backup). See
# docs/in-cluster.md; why the window: docs/decisions/maintenance-window.md.
#
# backup.sh STEP [WARM-SNAPSHOT]: `writable` (pass 1; creates the repository the first time),
# `read-only` (pass 2 inside the front's window, its own MARKER, with pass 1's snapshot as parent, so
# only changed files are read), `end-read-only` (removes the marker: the job's trap, when the read-only
# step could not) and `retention` (forgets every pass-1 snapshot, also those of failed runs, and keeps
# the newest KEEP). restic's report goes to stderr (the job's log); stdout carries only the snapshot's
# id, for the CronJob to pass on. BACKED_UP: one directory a line.
: "${REPOSITORY_NAME:?}" "${MARKER:?}" "${FRONT_SETTLE_SECONDS:?}" "${FRONT_DRAIN_SECONDS:?}" "${BACKED_UP:?}" "${ASIDE_PREFIX:?}" "${KEEP:?}"
: "${DESTINATION:?}" "${REPOSITORY:?}" "${SECRET_DIR:?}" "${CACHE_DIR:?}" "${PASSWORD_KEY:?}"
: "${ACCESS_KEY_ID_KEY:?}" "${SECRET_ACCESS_KEY_KEY:?}" "${REGION?}"
: "${SNAPSHOT_HOST:?}" "${SNAPSHOT_TAG:?}" "${WRITABLE_PASS_TAG:?}"
set -eu
# shellcheck source=./cluster-restic.sh
. "$(dirname "$0")/cluster-restic.sh"
# shellcheck source=../../upkeep/sh/backup.sh
. "$(dirname "$0")/../../upkeep/sh/backup.sh"
# shellcheck source=../../upkeep/sh/front-window.sh
. "$(dirname "$0")/../../upkeep/sh/front-window.sh"
# An upload still streaming when the drain ends is left as it is: the snapshot holds an unfinished
# upload session, which nothing names (docs/decisions/maintenance-window.md).
FRONT_LATE_UPLOADS=leave
step="${1:-}"
warm="${2:-}"
marker="${DSO_ROOT:-}$MARKER"
restic_setup
exec 3>&1 1>&2
set -- --exclude "$ASIDE_PREFIX*"
watched=''
while IFS= read -r p; do
    if [ -d "${DSO_ROOT:-}$p" ]; then set -- "$@" "${DSO_ROOT:-}$p"; watched="$watched ${DSO_ROOT:-}$p"; fi
done <<EOF_DIRS
$BACKED_UP
EOF_DIRS
case "$step" in
    writable)
        if ! restic_ cat config >/dev/null 2>&1; then restic_ init; fi
        backup_pass "$WRITABLE_PASS_TAG" "" --exclude "$marker" "$@"
        snapshot=$pass_snapshot
        ;;
    read-only)
        if [ -z "$warm" ]; then echo "read-only needs the snapshot of the writable pass" >&2; exit 2; fi
        # shellcheck disable=SC2086 # the backed-up directories, paths without spaces
        open_marker_window "$marker" $watched
        backup_pass "$SNAPSHOT_TAG" "$warm" --exclude "$marker" "$@"
        close_marker_window
        snapshot=$pass_snapshot
        ;;
    end-read-only)
        rm -f "$marker"
        snapshot=''
        ;;
    retention)
        # Every pass-1 snapshot goes: this run's and any a failed run left (restic needs a policy that
        # keeps something; none of them carries the complete backup's tag, so none is kept).
        restic_ forget --quiet --host "$SNAPSHOT_HOST" --tag "$WRITABLE_PASS_TAG" --keep-tag "$SNAPSHOT_TAG"
        keep_last "$KEEP"
        snapshot=''
        ;;
    *) echo "usage: backup.sh writable | read-only WARM-SNAPSHOT | end-read-only | retention" >&2; exit 2 ;;
esac
echo "$snapshot" >&3
