# shellcheck shell=sh
# The registry's container on the host (components/externalHost/scripts.ts `registryParams`): the spec
# label the writable registry carries, and how it is run. A script that sources this declares the
# REGISTRY_ and DISTRIBUTION_ parameters, and sources ../../upkeep/sh/container-converge.sh too.

# registry_spec: the writable registry's label: its spec's fingerprint and, with s3 storage, a digest
# of the environment file with the bucket's credentials, so that new credentials recreate it.
registry_spec() {
    if [ "$REGISTRY_STORAGE" = s3 ]; then
        spec_with_env "$REGISTRY_FINGERPRINT" "${DSO_ROOT:-}$REGISTRY_STORAGE_ENV"
    else
        printf '%s\n' "$REGISTRY_FINGERPRINT"
    fi
}

# run_registry SPEC CONFIG: runs the registry, labelled SPEC, with Distribution's config file CONFIG
# (config.yml, or config-readonly.yml for the read-only window), published on the host's loopback: its
# data directory bind-mounted, or the bucket's credentials from the environment file.
run_registry() {
    registry_label=$1 registry_config=$2
    if [ "$REGISTRY_STORAGE" = s3 ]; then
        set -- --env-file "${DSO_ROOT:-}$REGISTRY_STORAGE_ENV"
    else
        set -- -v "${DSO_ROOT:-}$REGISTRY_DATA_DIR:$DISTRIBUTION_DATA_DIR"
    fi
    run_container "$REGISTRY_NAME" "$registry_label" -p "127.0.0.1:$REGISTRY_HOST_PORT:$DISTRIBUTION_PORT" "$@" \
        -v "${DSO_ROOT:-}$REGISTRY_CONFIG_DIR:$DISTRIBUTION_CONFIG_DIR:ro" "$REGISTRY_IMAGE" "$DISTRIBUTION_CONFIG_DIR/$registry_config"
}
