#!/bin/sh
# Runs a pull-through cache's container on the external host when it is missing, stopped, or made from
# another spec (FINGERPRINT covers image, port, paths and config; with the upstream account's
# environment file, CREDENTIALS, a digest of that file is added here, so new upstream credentials
# recreate it without ever appearing in the script). Its storage DATA_DIR is the cache's own.
: "${CONTAINER:?}" "${IMAGE:?}" "${HOST_PORT:?}" "${DATA_DIR:?}" "${CONFIG_DIR:?}" "${FINGERPRINT:?}" "${CREDENTIALS:?}"
: "${DISTRIBUTION_PORT:?}" "${DISTRIBUTION_DATA_DIR:?}" "${DISTRIBUTION_CONFIG_DIR:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
data="${DSO_ROOT:-}$DATA_DIR"
env="${DSO_ROOT:-}$CONFIG_DIR/env"
mkdir -p "$data"
chmod 0700 "$data"
want=$FINGERPRINT
if [ "$CREDENTIALS" = true ]; then want=$(spec_with_env "$want" "$env"); fi
run_cache() {
    if [ "$CREDENTIALS" = true ]; then set -- --env-file "$env"; else set --; fi
    run_container "$CONTAINER" "$want" -p "127.0.0.1:$HOST_PORT:$DISTRIBUTION_PORT" "$@" -v "$data:$DISTRIBUTION_DATA_DIR" \
        -v "${DSO_ROOT:-}$CONFIG_DIR/config.yml:$DISTRIBUTION_CONFIG_DIR/config.yml:ro" "$IMAGE" "$DISTRIBUTION_CONFIG_DIR/config.yml"
}
converge_container "$CONTAINER" "$want" "mirror container $CONTAINER" run_cache
