#!/bin/sh
# Managed by dso-registry: the disk guard in the registry pod (registry.diskGuard, docs/runbooks.md "Disk
# full"), the command of its disk-guard container: every CHECK_SECONDS (first at the pod's start), the check
# every placement runs (../../upkeep/sh/disk-guard.sh) on each of the pod's volumes it is given, mounted
# read-only: the data volume (DATA_DIR) with its MARKER, and the Maven repository's (MAVEN_DIR) with its
# MAVEN_MARKER; "" for a volume the pod does not have. The markers are in the pod's emptyDir of markers,
# which the Caddy sidecar watches: while MARKER exists new blob uploads get 507, while MAVEN_MARKER exists
# Maven deploys do; pulls, downloads, deletes and uploads already started go on. A new pod starts without a
# marker and sets it again at once when its volume is still past REFUSE_PERCENT.
: "${DATA_DIR?}" "${MARKER:?}" "${MAVEN_DIR?}" "${MAVEN_MARKER:?}" "${REFUSE_PERCENT:?}" "${CHECK_SECONDS:?}"
set -u
# shellcheck source=../../upkeep/sh/disk-guard.sh
. "$(dirname "$0")/../../upkeep/sh/disk-guard.sh"
# The container's first process: without a trap, SIGTERM would leave it running until the pod's grace period ends.
sleeper=""
trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM INT
while :; do
    if [ -n "$DATA_DIR" ]; then
        disk_guard "$DATA_DIR" "$MARKER" "$REFUSE_PERCENT" || echo "disk guard: no check this time; the next in ${CHECK_SECONDS}s" >&2
    fi
    if [ -n "$MAVEN_DIR" ]; then
        # The same check on the Maven volume, its lines naming it: the Maven route refuses deploys on its marker.
        maven_disk_guard "$MAVEN_DIR" "$MAVEN_MARKER" "$REFUSE_PERCENT" ||
            echo "disk guard: no check of the Maven volume this time; the next in ${CHECK_SECONDS}s" >&2
    fi
    sleep "$CHECK_SECONDS" &
    sleeper=$!
    wait "$sleeper"
done
