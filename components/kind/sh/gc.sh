#!/bin/sh
# Garbage collection of the kind registry, in the maintenance container (it has the Docker host's
# socket): run by its crond on registry.maintenance.garbageCollection.schedule, or by hand with
# `docker exec $MAINTENANCE_NAME /bin/sh /dso/gc.sh` (docs/kind.md, Deletes and garbage collection).
#
# The front's read-only window, as in the other placements (docs/decisions/maintenance-window.md):
# the marker $MARKER appears in the directory the front mounts, writes get 503 and pulls go on; once
# the writes already past the front have landed in $DATA_DIR, Distribution's collector runs in the
# Distribution container, and the marker goes. Distribution runs without its blob-descriptor cache
# here, so nothing restarts. One collection at a time: a run that finds another under way leaves.
# RETENTION_SCRIPT (tag retention; empty: none) runs in the Distribution container (busybox, Distribution
# on its loopback): it reads the tags under its rules and writes its plan there before the window, and
# makes the plan's removals first in the window; a failed retention does not stop the collection, and
# fails the run at the end. With PULL_HARVEST (retention by last pull; empty: none), the pull history is
# harvested first and copied to DISTRIBUTION_PULL_HISTORY in the Distribution container, where retention
# reads it; a harvest that fails leaves no copy (retention keeps what it cannot show unpulled) and fails
# the run at the end.
: "${PULL_HARVEST?}" "${PULL_HISTORY?}" "${DISTRIBUTION_PULL_HISTORY?}"
: "${RETENTION_SCRIPT?}" "${MARKER:?}" "${DATA_DIR:?}" "${LOCK_DIR:?}" "${DISTRIBUTION_NAME:?}" "${DISTRIBUTION_CONFIG:?}" "${DELETE_UNTAGGED:?}"
: "${DISTRIBUTION_DATA_DIR:?}"
: "${FRONT_SETTLE_SECONDS:?}" "${FRONT_DRAIN_SECONDS:?}"
set -eu
# shellcheck source=../../upkeep/sh/front-window.sh
. "$(dirname "$0")/../../upkeep/sh/front-window.sh"
# shellcheck source=../../upkeep/sh/collect.sh
. "$(dirname "$0")/../../upkeep/sh/collect.sh"

# The storage is read-only here ($DATA_DIR): an upload still streaming when the drain ends is cut in
# the Distribution container, where the same directory is $DISTRIBUTION_DATA_DIR.
cut_upload() {
  docker exec "$DISTRIBUTION_NAME" rm -rf "$DISTRIBUTION_DATA_DIR${1#"$DATA_DIR"}"
}

# The lock is a directory holding the owner's PID; one left by a run that did not end (the container
# stopped during a collection) is taken over.
if ! mkdir "$LOCK_DIR" 2>/dev/null; then
  owner=$(cat "$LOCK_DIR/pid" 2>/dev/null || true)
  if [ -n "$owner" ] && kill -0 "$owner" 2>/dev/null; then
    echo "a garbage collection (process $owner) is under way: this one leaves it to finish"
    exit 0
  fi
  echo "taking over the lock of a collection that did not end"
fi
echo "$$" >"$LOCK_DIR/pid"
# The marker and the lock go on every exit, also a failed one; a signal becomes an exit.
plan=''
# What the run leaves in the Distribution container goes too: retention's plan, the pull history's copy.
remove_from_distribution() {
  [ -z "$plan" ] || docker exec "$DISTRIBUTION_NAME" rm -f "$plan" || true
  [ -z "$PULL_HARVEST" ] || docker exec "$DISTRIBUTION_NAME" rm -f "$DISTRIBUTION_PULL_HISTORY" || true
}
trap 'rm -f "$MARKER"; rm -rf "$LOCK_DIR"; remove_from_distribution' EXIT
trap 'exit 143' HUP INT TERM
retention_failed=''
harvest_failed=''
if [ -n "$RETENTION_SCRIPT" ] && [ -n "$PULL_HARVEST" ]; then
  docker exec "$DISTRIBUTION_NAME" rm -f "$DISTRIBUTION_PULL_HISTORY" || true
  if ! /bin/sh "$PULL_HARVEST"; then
    harvest_failed=yes
  elif ! docker exec -i "$DISTRIBUTION_NAME" /bin/sh -c 'cat >"$1.new" && mv "$1.new" "$1"' sh "$DISTRIBUTION_PULL_HISTORY" <"$PULL_HISTORY"; then
    echo "pull history: not copied into $DISTRIBUTION_NAME" >&2
    harvest_failed=yes
  fi
  [ -z "$harvest_failed" ] || echo "pull history: not harvested; tag retention keeps every tag it would have to show unpulled" >&2
fi
if [ -n "$RETENTION_SCRIPT" ]; then
  echo "tag retention: reading the tags under its rules while writes go on"
  if plan=$(docker exec "$DISTRIBUTION_NAME" mktemp) && [ -n "$plan" ]; then
    docker exec -i "$DISTRIBUTION_NAME" /bin/sh -s plan "$plan" <"$RETENTION_SCRIPT" || retention_failed=yes
  else
    plan='' retention_failed=yes
  fi
fi
started=$(date +%s)
echo "garbage collection: front read-only from now on (writes get 503, pulls go on)"
open_front_window "$MARKER" "$DATA_DIR"
if [ -n "$plan" ] && [ -z "$retention_failed" ]; then
  echo "writes in flight have landed; tag retention's removals first"
  docker exec -i "$DISTRIBUTION_NAME" /bin/sh -s apply "$plan" <"$RETENTION_SCRIPT" || retention_failed=yes
fi
echo "writes in flight have landed; collecting garbage"
collect_garbage "$DATA_DIR" "$DELETE_UNTAGGED" "$DISTRIBUTION_CONFIG" docker exec "$DISTRIBUTION_NAME"
rm -f "$MARKER"
echo "garbage collection done in $(($(date +%s) - started)) s; front writable again"
if [ -n "$retention_failed" ]; then echo "tag retention FAILED (see its lines above)" >&2; exit 1; fi
if [ -n "$harvest_failed" ]; then echo "the pull history's harvest FAILED (see its lines above)" >&2; exit 1; fi
