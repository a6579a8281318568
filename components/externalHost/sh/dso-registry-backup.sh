#!/bin/sh
# Managed by dso-registry: backup of the registry host to REPOSITORY with restic. See
# docs/external-host.md; why the window: docs/decisions/maintenance-window.md.
#
# Two passes: the first copies everything new while the registry stays writable (the long part), the
# second runs in the front's window and only reads what changed since the first, so pushes are refused
# for seconds, whatever the amount of data. The window is the front's marker alone: Distribution keeps
# running and serving pulls, nothing restarts (clients reach it only through Caddy: the container is
# published on the host's loopback). Then retention runs on the destination. Fails before the window
# opens when the destination cannot be reached. BACKED_UP: one path a line.
: "${LOCK_FILE:?}" "${MARKER:?}" "${FRONT_SETTLE_SECONDS:?}" "${FRONT_DRAIN_SECONDS:?}" "${BACKED_UP:?}" "${KEEP:?}"
: "${REPOSITORY:?}" "${DESTINATION:?}" "${BACKUP_CONF:?}" "${CACHE_DIR:?}" "${SFTP_HOST?}" "${SFTP_PORT?}" "${SFTP_USER?}"
: "${SNAPSHOT_HOST:?}" "${SNAPSHOT_TAG:?}" "${WRITABLE_PASS_TAG:?}"
: "${REPORTER?}" "${REPORT_SELF?}" "${REPORT_MEASURED?}"
set -eu
# shellcheck source=../../upkeep/sh/reported.sh
. "$(dirname "$0")/../../upkeep/sh/reported.sh"
reported backup "$@"
# shellcheck source=./lock.sh
. "$(dirname "$0")/lock.sh"
# shellcheck source=./host-restic.sh
. "$(dirname "$0")/host-restic.sh"
# shellcheck source=../../upkeep/sh/backup.sh
. "$(dirname "$0")/../../upkeep/sh/backup.sh"
# shellcheck source=../../upkeep/sh/front-window.sh
. "$(dirname "$0")/../../upkeep/sh/front-window.sh"
# An upload still streaming when the drain ends is left as it is: the snapshot holds an unfinished
# upload session, which nothing names (docs/decisions/maintenance-window.md).
FRONT_LATE_UPLOADS=leave
take_lock "$LOCK_FILE"
restic_setup
set --
while IFS= read -r p; do
    if [ -e "${DSO_ROOT:-}$p" ]; then set -- "$@" "${DSO_ROOT:-}$p"; fi
done <<EOF_PATHS
$BACKED_UP
EOF_PATHS
if ! restic_ cat config >/dev/null 2>&1; then restic_ init; fi
# The read-only window's marker is never part of a snapshot (see dso-registry-restore).
marker="${DSO_ROOT:-}$MARKER"
echo "pass 1, registry writable: copying what is new"
backup_pass "$WRITABLE_PASS_TAG" "" --exclude "$marker" "$@"
warm=$pass_snapshot
window_start=$(date +%s)
open_marker_window "$marker" "$@"
echo "pass 2, registry read-only (writes get 503 at the front, pulls go on, nothing restarts): copying what changed since pass 1"
backup_pass "$SNAPSHOT_TAG" "$warm" --exclude "$marker" "$@"
close_marker_window
echo "registry writable again after $(( $(date +%s) - window_start )) s read-only"
restic_ forget --quiet "$warm"
keep_last "$KEEP"
echo "backup done: snapshot $pass_snapshot in $REPOSITORY"
