#!/bin/sh
# Managed by dso-registry: garbage collection inside the front's read-only window, run in the registry
# container by CronJob registry-gc (gc.sh in ConfigMap registry-config). See docs/in-cluster.md; why
# the window: docs/decisions/maintenance-window.md. The GC's own MARKER, so that it never ends the
# backup's window; Distribution keeps running without the blob-descriptor cache, so nothing restarts.
# Run with the argument `retention` (RETENTION_SCRIPT set), tag retention reads the tags under its rules
# and writes its plan before the window (the running workloads' images on stdin), and makes the plan's
# removals first inside it; when it fails, the collection still runs, then the step fails.
: "${MARKER:?}" "${FRONT_SETTLE_SECONDS:?}" "${FRONT_DRAIN_SECONDS:?}" "${DELETE_UNTAGGED:?}" "${RETENTION_SCRIPT?}" "${CONFIG_DIR:?}" "${STORAGE:?}" "${DATA_DIR:?}" "${REGISTRY_METRICS?}"
set -eu
# shellcheck source=../../upkeep/sh/front-window.sh
. "$(dirname "$0")/../../upkeep/sh/front-window.sh"
# shellcheck source=../../upkeep/sh/collect.sh
. "$(dirname "$0")/../../upkeep/sh/collect.sh"
marker="${DSO_ROOT:-}$MARKER"
# A bucket has no folder to look for: the collector always runs, and the window waits for the uploads
# Distribution is serving (REGISTRY_METRICS, its metrics on the pod's loopback) in place of the folder's writes.
if [ "$STORAGE" = filesystem ]; then data="${DSO_ROOT:-}$DATA_DIR"; else data=''; fi
FRONT_REGISTRY_METRICS=$REGISTRY_METRICS
retention_failed='' plan=''
if [ -n "$RETENTION_SCRIPT" ] && [ "${1:-}" = retention ]; then
    plan=$(mktemp)
    echo "tag retention: reading the tags under its rules while the registry takes writes"
    /bin/sh "${DSO_ROOT:-}$RETENTION_SCRIPT" plan "$plan" - || retention_failed=yes
fi
# shellcheck disable=SC2086 # no storage folder to watch with a bucket
open_marker_window "$marker" ${data:+"$data"}
if [ -n "$plan" ] && [ -z "$retention_failed" ]; then
    echo "front read-only (writes get 503, pulls go on, writes in flight have landed); tag retention's removals first"
    /bin/sh "${DSO_ROOT:-}$RETENTION_SCRIPT" apply "$plan" || retention_failed=yes
fi
[ -z "$plan" ] || rm -f "$plan"
echo "front read-only (writes get 503, pulls go on, writes in flight have landed); collecting garbage"
collect_garbage "$data" "$DELETE_UNTAGGED" "${DSO_ROOT:-}$CONFIG_DIR/config.yml"
close_marker_window
echo "collection done; front writable again"
if [ -n "$retention_failed" ]; then echo "tag retention FAILED (see its lines above)" >&2; exit 1; fi
