#!/bin/sh
# Reads back whether the container CONTAINER, which the program runs, is there and running: prints
# "unchanged container CONTAINER" when it runs, otherwise "changed container CONTAINER: <missing or its
# state>". Changes nothing. Runs as root (the caller adds sudo), with the host's container engine.
: "${CONTAINER:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
if ! state=$(docker inspect -f '{{.State.Status}}' "$CONTAINER" 2>/dev/null); then
    echo "changed container $CONTAINER: missing"
elif [ "$state" = running ]; then
    echo "unchanged container $CONTAINER"
else
    echo "changed container $CONTAINER: $state"
fi
