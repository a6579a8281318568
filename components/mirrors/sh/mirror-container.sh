#!/bin/sh
# Runs a pull-through cache's container on the external host when it is missing, stopped, or made from
# another spec (FINGERPRINT covers image, paths and files; with the upstream account's environment
# file, CREDENTIALS, a digest of that file is added here, so new upstream credentials recreate it
# without ever appearing in the script). Its storage DATA_DIR is the cache's own, and so is its socket's
# directory SOCKET_DIR (named after the cache): no other cache, added or removed in the same
# `pulumi up`, can hold it.
#
# No port is published: Distribution listens on a unix socket in SOCKET_DIR, bind-mounted from the
# host, as the registry does (../../externalHost/sh/registry-run.sh): it runs with Caddy's group and
# umask 0007, so the socket is srwxrwx--- root:caddy in directories of mode 0750 root:caddy. Caddy
# connects, no other user of the host does (docs/decisions/access-policy.md#no-path-around-the-front).
# Without a caddy group only root connects.
#
# Its command is the start script START_SCRIPT, one of the files MIRROR_FILES that CONFIG_DIR holds and
# that are mounted read-only into DISTRIBUTION_CONFIG_DIR (the env file is not): Distribution in proxy mode
# while the upstream answers, read-only on what the cache holds otherwise (mirror-start.sh beside this one).
: "${CONTAINER:?}" "${IMAGE:?}" "${SOCKET_DIR:?}" "${DATA_DIR:?}" "${CONFIG_DIR:?}" "${FINGERPRINT:?}" "${CREDENTIALS:?}"
: "${DISTRIBUTION_SOCKET_DIR:?}" "${DISTRIBUTION_DATA_DIR:?}" "${DISTRIBUTION_CONFIG_DIR:?}" "${DISTRIBUTION_ENV:?}"
: "${MIRROR_FILES:?}" "${START_SCRIPT:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
data="${DSO_ROOT:-}$DATA_DIR"
env="${DSO_ROOT:-}$CONFIG_DIR/env"
mkdir -p "$data"
chmod 0700 "$data"
want=$FINGERPRINT
if [ "$CREDENTIALS" = true ]; then want=$(spec_with_env "$want" "$env"); fi
run_cache() {
    socket_dir="${DSO_ROOT:-}$SOCKET_DIR"
    mkdir -p "$socket_dir"
    chmod 0750 "$socket_dir" "${socket_dir%/*}"
    if [ "$CREDENTIALS" = true ]; then set -- --env-file "$env"; else set --; fi
    caddy_gid=$(getent group caddy | cut -d: -f3 || true)
    if [ -n "$caddy_gid" ]; then
        chgrp caddy "$socket_dir" "${socket_dir%/*}"
        set -- "$@" --user "0:$caddy_gid"
    fi
    for env_word in $DISTRIBUTION_ENV; do set -- "$@" -e "$env_word"; done
    for file in $MIRROR_FILES; do set -- "$@" -v "${DSO_ROOT:-}$CONFIG_DIR/$file:$DISTRIBUTION_CONFIG_DIR/$file:ro"; done
    # The image's entrypoint runs a command it does not know as it is: the shell sets the umask and
    # becomes the start script, whose Distribution removes a socket left by a killed predecessor before it listens.
    # shellcheck disable=SC2016 # expanded by the container's shell
    run_container "$CONTAINER" "$want" "$@" -v "$data:$DISTRIBUTION_DATA_DIR" -v "$socket_dir:$DISTRIBUTION_SOCKET_DIR" "$IMAGE" \
        sh -c 'umask 0007 && exec sh "$1"' start "$START_SCRIPT"
}
converge_container "$CONTAINER" "$want" "mirror container $CONTAINER" run_cache
