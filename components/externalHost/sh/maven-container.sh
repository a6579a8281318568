#!/bin/sh
# Runs the Maven backend's container (nginx with its WebDAV module) when it is missing, stopped, or was
# created from another spec (MAVEN_FINGERPRINT).
: "${LOCK_FILE:?}"
: "${MAVEN_CONTAINER:?}" "${MAVEN_IMAGE:?}" "${MAVEN_FINGERPRINT:?}" "${MAVEN_UID:?}" "${MAVEN_SOCKET_DIR:?}" "${MAVEN_TMPFILES_ENTRY:?}" "${MAVEN_DATA_DIR:?}" "${MAVEN_CONFIG_DIR:?}"
: "${MAVEN_BACKEND_DATA_DIR:?}" "${MAVEN_BACKEND_CONFIG_DIR:?}" "${MAVEN_BACKEND_RUN_DIR:?}" "${MAVEN_BACKEND_SOCKET_DIR:?}" "${MAVEN_BACKEND_SOCKET:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=./lock.sh
. "$(dirname "$0")/lock.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
# shellcheck source=./maven-run.sh
. "$(dirname "$0")/maven-run.sh"
take_lock "$LOCK_FILE"
converge_container "$MAVEN_CONTAINER" "$MAVEN_FINGERPRINT" "maven container" run_maven
