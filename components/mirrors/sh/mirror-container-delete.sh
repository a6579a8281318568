#!/bin/sh
# Removes a pull-through cache's container CONTAINER, its socket's directory SOCKET_DIR and its cached
# content DATA_DIR (it can always be fetched again).
: "${CONTAINER:?}" "${SOCKET_DIR:?}" "${DATA_DIR:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
rm -rf "${DSO_ROOT:-}$SOCKET_DIR"
rm -rf "${DSO_ROOT:-}$DATA_DIR"
echo "removed mirror container $CONTAINER and its cache"
