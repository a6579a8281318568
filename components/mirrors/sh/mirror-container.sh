#!/bin/sh
# Runs a pull-through cache's container on the external host when it is missing, stopped, or made from
# another spec (FINGERPRINT covers image, port, paths and config; with the upstream account's
# environment file, CREDENTIALS, a digest of that file is added here, so new upstream credentials
# recreate it without ever appearing in the script). Its storage DATA_DIR is the cache's own.
# HOST_PORT is the cache's own too (derived from its name), but a cache removed in the same
# `pulumi up` may still hold it: the engine deletes removed resources only after every create and
# update. So another cache container (name starting CONTAINER_PREFIX) bound to HOST_PORT is removed
# first: a removed cache's delete, later in the run, finds it gone and removes its storage; a cache
# whose port moved runs again in its own update.
: "${CONTAINER:?}" "${CONTAINER_PREFIX:?}" "${IMAGE:?}" "${HOST_PORT:?}" "${DATA_DIR:?}" "${CONFIG_DIR:?}" "${FINGERPRINT:?}" "${CREDENTIALS:?}"
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
# Removes every other cache container whose published ports include HOST_PORT.
free_port() {
    docker ps -a --format '{{.Names}}' | while read -r other; do
        case "$other" in "$CONTAINER_PREFIX"*) ;; *) continue ;; esac
        [ "$other" = "$CONTAINER" ] && continue
        ports=$(docker inspect -f '{{range $p, $b := .HostConfig.PortBindings}}{{range $b}} {{.HostPort}}{{end}}{{end}}' "$other" 2>/dev/null || true)
        case " $ports " in *" $HOST_PORT "*)
            docker rm -f "$other" >/dev/null
            echo "removed $other, which held port $HOST_PORT" >&2 ;;
        esac
    done
}
run_cache() {
    free_port
    if [ "$CREDENTIALS" = true ]; then set -- --env-file "$env"; else set --; fi
    run_container "$CONTAINER" "$want" -p "127.0.0.1:$HOST_PORT:$DISTRIBUTION_PORT" "$@" -v "$data:$DISTRIBUTION_DATA_DIR" \
        -v "${DSO_ROOT:-}$CONFIG_DIR/config.yml:$DISTRIBUTION_CONFIG_DIR/config.yml:ro" "$IMAGE" "$DISTRIBUTION_CONFIG_DIR/config.yml"
}
converge_container "$CONTAINER" "$want" "mirror container $CONTAINER" run_cache
