#!/bin/sh
# Removes the containers CONTAINERS, one a line, in that order (their data stays where it is mounted from).
# A container of one of those names that the stack did not make stays as it is, and the output says so.
: "${CONTAINERS:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
for container in $CONTAINERS; do
    if delete_container "$container"; then echo "removed container $container"; fi
done
