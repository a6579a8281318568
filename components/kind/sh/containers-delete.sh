#!/bin/sh
# Removes the kind placement's containers and its backend network. The images in $DATA_DIR stay: they
# outlive the containers and the cluster (docs/kind.md, What destroy keeps).
: "${DATA_DIR:?}" "${BACKEND_NETWORK:?}" "${DISTRIBUTION_NAME:?}" "${FRONT_NAME:?}" "${WATCHER_NAME:?}"
set -eu
for c in "$WATCHER_NAME" "$FRONT_NAME" "$DISTRIBUTION_NAME"; do
  docker rm -f "$c" >/dev/null 2>&1 || true
  echo "removed container $c"
done
docker network rm "$BACKEND_NETWORK" >/dev/null 2>&1 || true
echo "kept the images in $DATA_DIR/images"
