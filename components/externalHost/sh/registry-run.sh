# shellcheck shell=sh
# The registry's container on the host (components/externalHost/scripts.ts `registryParams`): the spec
# label the writable registry carries, and how it is run. A script that sources this declares the
# REGISTRY_, RELAY_ and DISTRIBUTION_ parameters, and sources ../../upkeep/sh/container-converge.sh too.

# registry_spec: the writable registry's label: its spec's fingerprint and, with s3 storage, a digest
# of the environment file with the bucket's credentials, so that new credentials recreate it.
registry_spec() {
    if [ "$REGISTRY_STORAGE" = s3 ]; then
        spec_with_env "$REGISTRY_FINGERPRINT" "${DSO_ROOT:-}$REGISTRY_STORAGE_ENV"
    else
        printf '%s\n' "$REGISTRY_FINGERPRINT"
    fi
}

# refuse_foreign_registry: stops the run before any change when the registry's container, or with
# metrics its relay's, is one of that name the stack did not make (refuse_foreign). Without metrics a
# relay of someone else's is no concern: only the stack's own is removed (converge_metrics_relay).
refuse_foreign_registry() {
    refuse_foreign "$REGISTRY_NAME"
    if [ -n "$REGISTRY_METRICS_PORT" ]; then refuse_foreign "$RELAY_NAME"; fi
}

# registry_socket: Distribution's unix socket as the host sees it.
registry_socket() {
    printf '%s/%s\n' "${DSO_ROOT:-}$REGISTRY_SOCKET_DIR" "${DISTRIBUTION_SOCKET##*/}"
}

# run_registry SPEC CONFIG: runs the registry, labelled SPEC, with Distribution's config file CONFIG
# (config.yml, or config-readonly.yml for the read-only window): its data directory bind-mounted, or
# the bucket's credentials from the environment file, and Distribution's environment (DISTRIBUTION_ENV,
# `NAME=value` words). No API port is published: Distribution listens on a
# unix socket in a directory bind-mounted from the host. It runs with umask 0007 (and group `caddy`
# where the host has one), so the socket is srwxrwx--- and root's: the front, root in its container,
# connects, no other user of the host does (why: docs/decisions/access-policy.md#no-path-around-the-front).
# With metrics (REGISTRY_METRICS_PORT, empty: none), that port is published on the host's loopback and
# the metrics relay is run right after (run_metrics_relay).
run_registry() {
    registry_label=$1 registry_config=$2
    if [ "$REGISTRY_STORAGE" = s3 ]; then
        set -- --env-file "${DSO_ROOT:-}$REGISTRY_STORAGE_ENV"
    else
        set -- -v "${DSO_ROOT:-}$REGISTRY_DATA_DIR:$DISTRIBUTION_DATA_DIR"
    fi
    socket_dir="${DSO_ROOT:-}$REGISTRY_SOCKET_DIR"
    mkdir -p "$socket_dir"
    chmod 0750 "$socket_dir"
    caddy_gid=$(getent group caddy | cut -d: -f3 || true)
    if [ -n "$caddy_gid" ]; then
        chgrp caddy "$socket_dir"
        set -- "$@" --user "0:$caddy_gid"
    fi
    if [ -n "$REGISTRY_METRICS_PORT" ]; then set -- -p "127.0.0.1:$REGISTRY_METRICS_PORT:$REGISTRY_METRICS_PORT" "$@"; fi
    for env_word in $DISTRIBUTION_ENV; do set -- "$@" -e "$env_word"; done
    # The image's entrypoint runs a command it does not know as it is: the shell sets the umask and
    # becomes Distribution, which gets docker stop's SIGTERM and drains (http.draintimeout).
    # shellcheck disable=SC2016 # expanded by the container's shell
    run_container "$REGISTRY_NAME" "$registry_label" "$@" -v "$socket_dir:$DISTRIBUTION_SOCKET_DIR" \
        -v "${DSO_ROOT:-}$REGISTRY_CONFIG_DIR:$DISTRIBUTION_CONFIG_DIR:ro" "$REGISTRY_IMAGE" \
        sh -c 'umask 0007 && exec registry serve "$1"' registry "$DISTRIBUTION_CONFIG_DIR/$registry_config"
    run_metrics_relay
}

# run_metrics_relay: (re)runs the metrics relay (RELAY_NAME, labelled RELAY_FINGERPRINT) in the running
# registry container's network namespace, where Distribution's debug listener is on the loopback: Caddy
# with the Caddyfile of RELAY_CONFIG_DIR (read-only) listens on the published port and passes only
# /metrics on (components/externalHost/metricsRelay.ts). A container joins the namespace of the
# registry container it starts with, and stays in it: so every registry container gets a new relay.
# It shares the registry's PID namespace too, so it dies with the registry and its restart policy
# starts it again in the namespace of the registry Docker restarted; when Docker restarts the relay
# first (at boot, or under load after a crash), it cannot join and stays down until the five-minute
# probe runs it again. Without metrics it does nothing (converge_metrics_relay removes a relay left
# from before).
run_metrics_relay() {
    if [ -z "$REGISTRY_METRICS_PORT" ]; then return 0; fi
    remove_container "$RELAY_NAME"
    run_container "$RELAY_NAME" "$RELAY_FINGERPRINT" --network "container:$REGISTRY_NAME" --pid "container:$REGISTRY_NAME" \
        -v "${DSO_ROOT:-}$RELAY_CONFIG_DIR:/etc/caddy:ro" "$RELAY_IMAGE" \
        caddy run --config /etc/caddy/Caddyfile --adapter caddyfile
}

# converge_metrics_relay: once the registry container is as wanted, runs the relay again when it is
# missing, stopped or from another spec (or with DSO_RECREATE set), and prints "changed metrics relay"; without metrics, removes a
# relay left from before and prints "removed metrics relay". Prints nothing when there is nothing to do.
converge_metrics_relay() {
    if [ -z "$REGISTRY_METRICS_PORT" ]; then
        if ours "$RELAY_NAME"; then
            docker rm -f "$RELAY_NAME" >/dev/null
            echo "removed metrics relay"
        fi
        return 0
    fi
    relay_have=$(docker inspect -f '{{index .Config.Labels "dso-registry.spec"}} {{.State.Running}}' "$RELAY_NAME" 2>/dev/null || true)
    if [ "$relay_have" != "$RELAY_FINGERPRINT true" ] || [ -n "${DSO_RECREATE:-}" ]; then
        run_metrics_relay
        echo "changed metrics relay"
    fi
}

# wait_for_registry: until Distribution answers on its socket (at most 30 s).
wait_for_registry() {
    wait_tries=0
    until curl -s -o /dev/null --max-time 2 --unix-socket "$(registry_socket)" http://localhost/v2/; do
        wait_tries=$((wait_tries + 1)); [ "$wait_tries" -ge 30 ] && break; sleep 1
    done
}
