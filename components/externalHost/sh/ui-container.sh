#!/bin/sh
# Runs the same-origin web UI (joxit/docker-registry-ui) on the host's loopback when it is missing,
# stopped, or was made from another spec (FINGERPRINT: image, port and environment). It talks to the
# registry through the page's own origin, so no CORS is involved. ENVIRONMENT: one NAME=value a line.
: "${CONTAINER:?}" "${IMAGE:?}" "${PUBLISH:?}" "${ENVIRONMENT:?}" "${FINGERPRINT:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
run_ui() {
    set --
    while IFS= read -r e; do set -- "$@" -e "$e"; done <<EOF_ENV
$ENVIRONMENT
EOF_ENV
    run_container "$CONTAINER" "$FINGERPRINT" -p "$PUBLISH" "$@" "$IMAGE"
}
converge_container "$CONTAINER" "$FINGERPRINT" "ui container" run_ui
