#!/bin/sh
# Managed by dso-registry: the disk guard in the registry pod (registry.diskGuard, docs/runbooks.md "Disk
# full"), the command of its disk-guard container: every CHECK_SECONDS (first at the pod's start), the check
# every placement runs (../../upkeep/sh/disk-guard.sh) on each of the pod's volumes it is given, mounted
# read-only: the data volume (DATA_DIR) with its MARKER, and the Maven repository's (MAVEN_DIR) with its
# MAVEN_MARKER; "" for a volume the pod does not have. The markers are in the pod's emptyDir of markers,
# which the Caddy sidecar watches: while MARKER exists new blob uploads and data for open ones get 507, while
# MAVEN_MARKER exists Maven deploys do; pulls, downloads and deletes go on. A new pod starts without a
# marker and sets it again at once when its volume is still past REFUSE_PERCENT. With REFUSE_PERCENT "" the
# container refuses nothing and only reports.
# With FIGURES (monitoring on), each check also writes the volumes' size, free and used bytes, and whether the
# guard refuses, in Prometheus's text format to FIGURES (in the same emptyDir), which the sidecar serves on
# its metrics port: the disk alerts read them where the kubelet reports nothing for the volume (hostPath
# volumes). A volume whose file system could not be read has no figures in that file: the metrics-absent
# alert tells it. The series' names are the external host's: DATA_PREFIX, MAVEN_PREFIX, REFUSING, MAVEN_REFUSING.
# Each round begins by writing the time to HEARTBEAT, which the container's liveness probe reads: a check
# stuck (a file system that no longer answers `df`) restarts the container instead of silencing the guard.
: "${DATA_DIR?}" "${MARKER:?}" "${MAVEN_DIR?}" "${MAVEN_MARKER:?}" "${REFUSE_PERCENT?}" "${CHECK_SECONDS:?}"
: "${FIGURES?}" "${DATA_PREFIX:?}" "${MAVEN_PREFIX:?}" "${REFUSING:?}" "${MAVEN_REFUSING:?}" "${HEARTBEAT:?}"
set -u
# shellcheck source=../../upkeep/sh/disk-guard.sh
. "$(dirname "$0")/../../upkeep/sh/disk-guard.sh"

# gauge NAME HELP VALUE: one series in Prometheus's text format.
gauge() {
    printf '# HELP %s %s\n# TYPE %s gauge\n%s %s\n' "$1" "$2" "$1" "$1" "$3"
}

# check WHICH DIR MARKER PREFIX REFUSING: the guard's check of DIR (WHICH: "data" or "maven"), or only the read of
# its file system without REFUSE_PERCENT; prints its figures under PREFIX (and REFUSING with the guard).
check() {
    if [ -z "$REFUSE_PERCENT" ]; then
        disk_usage "$2" || return 1
    elif [ "$1" = maven ]; then
        maven_disk_guard "$2" "$3" "$REFUSE_PERCENT" || return 1
    else
        disk_guard "$2" "$3" "$REFUSE_PERCENT" || return 1
    fi
    what="the registry's data volume"
    [ "$1" = data ] || what="the Maven repository's volume"
    gauge "${4}_size_bytes" "Bytes of the file system of $what." $((disk_guard_size * 1024)) >&3
    gauge "${4}_free_bytes" "Bytes available on the file system of $what." $((disk_guard_available * 1024)) >&3
    gauge "${4}_used_bytes" "Bytes of the file system of $what that are not available (its size minus its free bytes)." \
        $((disk_guard_used * 1024)) >&3
    [ -z "$REFUSE_PERCENT" ] || gauge "$5" "1 while the disk guard refuses writes to $what, 0 otherwise." "$disk_guard_refusing" >&3
}

# The container's first process: without a trap, SIGTERM would leave it running until the pod's grace period ends.
sleeper=""
trap '[ -z "$sleeper" ] || kill "$sleeper" 2>/dev/null; exit 0' TERM INT
while :; do
    date +%s >"$HEARTBEAT"
    # The figures go to a new file that replaces the last at once: a scrape never reads half of it.
    {
        if [ -n "$DATA_DIR" ]; then
            check data "$DATA_DIR" "$MARKER" "$DATA_PREFIX" "$REFUSING" ||
                echo "disk guard: no check this time; the next in ${CHECK_SECONDS}s" >&2
        fi
        if [ -n "$MAVEN_DIR" ]; then
            # The same check on the Maven volume, its lines naming it: the Maven route refuses deploys on its marker.
            check maven "$MAVEN_DIR" "$MAVEN_MARKER" "$MAVEN_PREFIX" "$MAVEN_REFUSING" ||
                echo "disk guard: no check of the Maven volume this time; the next in ${CHECK_SECONDS}s" >&2
        fi
    } 3>"${FIGURES:-/dev/null}${FIGURES:+.new}"
    [ -z "$FIGURES" ] || mv -f "$FIGURES.new" "$FIGURES"
    sleep "$CHECK_SECONDS" &
    sleeper=$!
    wait "$sleeper"
done
