#!/bin/sh
# Managed by dso-registry: the kind placement's disk guard (registry.diskGuard, docs/runbooks.md "Disk
# full"), run by busybox crond in the maintenance container on its schedule: the check every placement runs
# (../../upkeep/sh/disk-guard.sh) on Distribution's storage (DATA_DIR: kind.dataDir's images, mounted
# read-only), with its MARKER in <kind.dataDir>/window, which the front mounts read-only: while it exists,
# new blob uploads and data for open ones get 507, and pulls and deletes go on.
: "${DATA_DIR:?}" "${MARKER:?}" "${REFUSE_PERCENT:?}"
set -eu
# shellcheck source=../../upkeep/sh/disk-guard.sh
. "$(dirname "$0")/../../upkeep/sh/disk-guard.sh"
disk_guard "$DATA_DIR" "$MARKER" "$REFUSE_PERCENT"
