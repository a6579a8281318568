#!/bin/sh
# The external host's backup script as it last shipped before restic (commit 6f0157a), for
# bench/backup-window.ts to compare with: a gzip tar of the data directory made while the registry runs
# read-only, KEEP kept in DEST on the same host, and that commit's read-only window (the marker, the
# container swapped with docker rm -f, swapped back and the marker removed on exit).
: "${LOCK_FILE:?}" "${DEST:?}" "${MARKER:?}" "${KEEP:?}"
: "${REGISTRY_NAME:?}" "${REGISTRY_IMAGE:?}" "${REGISTRY_HOST_PORT:?}" "${REGISTRY_STORAGE:?}" "${REGISTRY_DATA_DIR:?}"
: "${REGISTRY_CONFIG_DIR:?}" "${REGISTRY_STORAGE_ENV:?}" "${REGISTRY_FINGERPRINT:?}"
: "${DISTRIBUTION_PORT:?}" "${DISTRIBUTION_DATA_DIR:?}" "${DISTRIBUTION_CONFIG_DIR:?}"
set -eu
# shellcheck source=../components/externalHost/sh/lock.sh
. "$(dirname "$0")/../components/externalHost/sh/lock.sh"
# shellcheck source=../components/upkeep/sh/container-converge.sh
. "$(dirname "$0")/../components/upkeep/sh/container-converge.sh"
# shellcheck source=../components/externalHost/sh/registry-run.sh
. "$(dirname "$0")/../components/externalHost/sh/registry-run.sh"
take_lock "$LOCK_FILE"
dest="${DSO_ROOT:-}$DEST"
data="${DSO_ROOT:-}$REGISTRY_DATA_DIR"
mkdir -p "$dest"
chmod 0700 "$dest"
marker="${DSO_ROOT:-}$MARKER"
restore() {
    docker rm -f "$REGISTRY_NAME" >/dev/null 2>&1 || true
    run_registry "$REGISTRY_FINGERPRINT" config.yml
    rm -f "$marker"
}
trap restore EXIT
mkdir -p "$(dirname "$marker")"
: >"$marker"
docker rm -f "$REGISTRY_NAME" >/dev/null
run_registry read-only config-readonly.yml
stamp=$(date -u +%Y%m%dT%H%M%SZ)
tmp="$dest/.registry-$stamp.tar.gz.part"
tar -C "$data" -czf "$tmp" .
mv "$tmp" "$dest/registry-$stamp.tar.gz"
set -- "$dest"/registry-*.tar.gz
while [ "$#" -gt "$KEEP" ]; do rm -f "$1"; shift; done
echo "backup written: $dest/registry-$stamp.tar.gz"
