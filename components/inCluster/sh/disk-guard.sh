#!/bin/sh
# Managed by dso-registry: the disk guard in the registry pod (registry.diskGuard, docs/runbooks.md "Disk
# full"), the command of its disk-guard container: every CHECK_SECONDS (first at the pod's start), the check
# every placement runs (../../upkeep/sh/disk-guard.sh) on the data volume (DATA_DIR, mounted read-only),
# with its MARKER in the pod's emptyDir of markers, which the Caddy sidecar watches: while it exists, new
# blob uploads get 507 and pulls, deletes and uploads already started go on. A new pod starts without a
# marker and sets it again at once when the volume is still past REFUSE_PERCENT.
: "${DATA_DIR:?}" "${MARKER:?}" "${REFUSE_PERCENT:?}" "${CHECK_SECONDS:?}"
set -u
# shellcheck source=../../upkeep/sh/disk-guard.sh
. "$(dirname "$0")/../../upkeep/sh/disk-guard.sh"
# The container's first process: without a trap, SIGTERM would leave it running until the pod's grace period ends.
sleeper=""
trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM INT
while :; do
    disk_guard "$DATA_DIR" "$MARKER" "$REFUSE_PERCENT" || echo "disk guard: no check this time; the next in ${CHECK_SECONDS}s" >&2
    sleep "$CHECK_SECONDS" &
    sleeper=$!
    wait "$sleeper"
done
