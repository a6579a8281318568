#!/bin/sh
# Removes the container CONTAINER (its data stays where it is mounted from).
: "${CONTAINER:?}"
set -eu
docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
echo "removed container $CONTAINER"
