#!/bin/sh
# Removes a pull-through cache's container CONTAINER, its socket's directory SOCKET_DIR and its cached
# content DATA_DIR (it can always be fetched again). A container named CONTAINER that the stack did not
# make stays, and so do the directory and the content.
: "${CONTAINER:?}" "${SOCKET_DIR:?}" "${DATA_DIR:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
if delete_container "$CONTAINER"; then
    rm -rf "${DSO_ROOT:-}$SOCKET_DIR"
    rm -rf "${DSO_ROOT:-}$DATA_DIR"
    echo "removed mirror container $CONTAINER and its cache"
fi
