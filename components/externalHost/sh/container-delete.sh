#!/bin/sh
# Removes the containers CONTAINERS, one a line, in that order (their data stays where it is mounted from).
: "${CONTAINERS:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
for container in $CONTAINERS; do
    docker rm -f "$container" >/dev/null 2>&1 || true
    echo "removed container $container"
done
