#!/bin/sh
# Removes the kind placement's containers and its backend network. The images in $DATA_DIR stay: they
# outlive the containers and the cluster (docs/kind.md, What destroy keeps).
: "${DATA_DIR:?}" "${BACKEND_NETWORK:?}" "${DISTRIBUTION_NAME:?}" "${FRONT_NAME:?}" "${WATCHER_NAME:?}" "${MAINTENANCE_NAME:?}" "${UI_NAME:?}"
: "${EGRESS_NETWORK:?}" "${MIRRORS_DIR:?}" "${MIRROR_PREFIX:?}" "${DISK_FULL_MARKER:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
# Only containers the stack made (labelled dso-registry.spec): a same-named one of someone else's stays.
for c in "$MAINTENANCE_NAME" "$WATCHER_NAME" "$UI_NAME" "$FRONT_NAME" "$DISTRIBUTION_NAME"; do
  if ours "$c"; then
    docker rm -f "$c" >/dev/null 2>&1 || true
    echo "removed container $c"
  elif foreign "$c"; then
    echo "kept container $c: this stack did not make it"
  fi
done
# The pull-through caches, and what they cached: it can always be fetched again.
for c in $(docker ps -a --filter "name=^$MIRROR_PREFIX" --filter label=dso-registry.spec --format '{{.Names}}'); do
  docker rm -f "$c" >/dev/null 2>&1 || true
  echo "removed cache container $c"
done
rm -rf "$MIRRORS_DIR"
docker network rm "$BACKEND_NETWORK" "$EGRESS_NETWORK" >/dev/null 2>&1 || true
# The read-only window's directory, empty once no collection runs; the disk guard's marker (DISK_FULL_MARKER)
# goes with the guard: a registry made again looks at its disk anew.
rm -f "$DATA_DIR/window/$DISK_FULL_MARKER"
rmdir "$DATA_DIR/window" 2>/dev/null || true
echo "kept the images in $DATA_DIR/images"
