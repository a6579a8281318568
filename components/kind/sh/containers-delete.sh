#!/bin/sh
# Removes the kind placement's containers and its backend network. The images in $DATA_DIR stay: they
# outlive the containers and the cluster (docs/kind.md, What destroy keeps).
: "${DATA_DIR:?}" "${BACKEND_NETWORK:?}" "${DISTRIBUTION_NAME:?}" "${FRONT_NAME:?}" "${WATCHER_NAME:?}" "${MAINTENANCE_NAME:?}"
set -eu
for c in "$MAINTENANCE_NAME" "$WATCHER_NAME" "$FRONT_NAME" "$DISTRIBUTION_NAME"; do
  docker rm -f "$c" >/dev/null 2>&1 || true
  echo "removed container $c"
done
docker network rm "$BACKEND_NETWORK" >/dev/null 2>&1 || true
# The read-only window's directory, empty once no collection runs.
rmdir "$DATA_DIR/window" 2>/dev/null || true
echo "kept the images in $DATA_DIR/images"
