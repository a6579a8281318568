#!/bin/sh
# Managed by dso-registry: the Maven repository's garbage, removed in the Maven container by CronJob
# registry-gc (maven-gc.sh in ConfigMap registry-config) inside the front's window with the GC's
# MARKER: deploys get 503 from the front meanwhile. The container's root filesystem is read-only, so
# mktemp writes to its run directory RUN_DIR (an emptyDir).
: "${MARKER:?}" "${FRONT_SETTLE_SECONDS:?}" "${FRONT_DRAIN_SECONDS:?}" "${RUN_DIR:?}"
: "${MAVEN_DATA_DIR:?}" "${MAVEN_PATH_PREFIX?}" "${MAVEN_SNAPSHOT_BUILDS_TO_KEEP:?}" "${MAVEN_UPLOADS:?}" "${MAVEN_UPLOAD_LEFTOVER_MINUTES:?}"
set -eu
# shellcheck source=../../upkeep/sh/front-window.sh
. "$(dirname "$0")/../../upkeep/sh/front-window.sh"
# shellcheck source=../../upkeep/sh/maven-cleanup.sh
. "$(dirname "$0")/../../upkeep/sh/maven-cleanup.sh"
TMPDIR="${DSO_ROOT:-}$RUN_DIR"
export TMPDIR
marker="${DSO_ROOT:-}$MARKER"
open_marker_window "$marker" "${DSO_ROOT:-}$MAVEN_DATA_DIR"
clean_maven_repository
close_marker_window
