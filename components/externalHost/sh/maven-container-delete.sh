#!/bin/sh
# Removes the Maven backend's container CONTAINER, its socket's directory SOCKET_DIR and the
# systemd-tmpfiles entry TMPFILES_ENTRY that recreates that directory at boot (the repository's files
# stay in their data directory). A container named CONTAINER that the stack did not make stays, and so
# do the directory and the entry.
: "${CONTAINER:?}" "${SOCKET_DIR:?}" "${TMPFILES_ENTRY:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
if delete_container "$CONTAINER"; then
    rm -rf "${DSO_ROOT:-}$SOCKET_DIR"
    rm -f "${DSO_ROOT:-}$TMPFILES_ENTRY"
    echo "removed container $CONTAINER and its socket"
fi
