#!/bin/sh
# Runs the registry container when it is missing, stopped, or was created from another spec (image,
# ports, mounts or config: REGISTRY_FINGERPRINT; with s3 storage also the bucket's credentials), and
# with it the metrics relay; the relay alone when only it is missing or from another spec
# (RELAY_FINGERPRINT). Otherwise changes nothing. A container of either name that the stack did not
# make stops it before any change (refuse_foreign_registry).
: "${LOCK_FILE:?}"
: "${REGISTRY_NAME:?}" "${REGISTRY_IMAGE:?}" "${REGISTRY_SOCKET_DIR:?}" "${REGISTRY_STORAGE:?}" "${REGISTRY_DATA_DIR:?}"
: "${REGISTRY_CONFIG_DIR:?}" "${REGISTRY_STORAGE_ENV:?}" "${REGISTRY_FINGERPRINT:?}" "${REGISTRY_METRICS_PORT?}"
: "${RELAY_NAME:?}" "${RELAY_IMAGE?}" "${RELAY_CONFIG_DIR?}" "${RELAY_FINGERPRINT?}"
: "${DISTRIBUTION_SOCKET_DIR:?}" "${DISTRIBUTION_SOCKET:?}" "${DISTRIBUTION_DATA_DIR:?}" "${DISTRIBUTION_CONFIG_DIR:?}" "${DISTRIBUTION_ENV:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=./lock.sh
. "$(dirname "$0")/lock.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
# shellcheck source=./registry-run.sh
. "$(dirname "$0")/registry-run.sh"
take_lock "$LOCK_FILE"
refuse_foreign_registry
want=$(registry_spec)
converge_container "$REGISTRY_NAME" "$want" container run_registry "$want" config.yml
converge_metrics_relay
