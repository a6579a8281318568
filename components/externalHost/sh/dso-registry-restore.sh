#!/bin/sh
# Managed by dso-registry: restores a snapshot made by dso-registry-backup from REPOSITORY. See
# docs/external-host.md.
#
# dso-registry-restore [--list | SNAPSHOT-ID] (the newest snapshot when none is given). Stops the
# registry (and the Maven backend), keeps a data directory that is not empty aside, restores the data,
# the registry's and Caddy's configs and Caddy's certificates in place, starts the writable registry
# (and the Maven backend), reloads Caddy when it runs, and checks every tagged image. SET_ASIDE: one
# path a line; MAVEN_CONTAINER is empty when the host serves no Maven. A container of the registry's or
# the Maven backend's name that the stack did not make stops the restore before any change
# (refuse_foreign), and a front of someone else's is not reloaded.
: "${LOCK_FILE:?}" "${MARKER:?}" "${SET_ASIDE:?}" "${CADDYFILE:?}" "${FRONT_NAME:?}" "${VERIFY_SCRIPT:?}"
: "${REPOSITORY:?}" "${DESTINATION:?}" "${BACKUP_CONF:?}" "${CACHE_DIR:?}" "${SFTP_HOST?}" "${SFTP_PORT?}" "${SFTP_USER?}"
: "${SNAPSHOT_HOST:?}" "${SNAPSHOT_TAG:?}"
: "${REGISTRY_NAME:?}" "${REGISTRY_IMAGE:?}" "${REGISTRY_SOCKET_DIR:?}" "${REGISTRY_STORAGE:?}" "${REGISTRY_DATA_DIR:?}"
: "${REGISTRY_CONFIG_DIR:?}" "${REGISTRY_STORAGE_ENV:?}" "${REGISTRY_FINGERPRINT:?}" "${REGISTRY_METRICS_PORT?}"
: "${RELAY_NAME:?}" "${RELAY_IMAGE?}" "${RELAY_CONFIG_DIR?}" "${RELAY_FINGERPRINT?}"
: "${DISTRIBUTION_SOCKET_DIR:?}" "${DISTRIBUTION_SOCKET:?}" "${DISTRIBUTION_DATA_DIR:?}" "${DISTRIBUTION_CONFIG_DIR:?}" "${DISTRIBUTION_ENV:?}"
: "${MAVEN_CONTAINER?}" "${MAVEN_IMAGE?}" "${MAVEN_FINGERPRINT?}" "${MAVEN_UID?}" "${MAVEN_SOCKET_DIR?}" "${MAVEN_TMPFILES_ENTRY?}" "${MAVEN_DATA_DIR?}" "${MAVEN_CONFIG_DIR?}"
: "${MAVEN_BACKEND_DATA_DIR?}" "${MAVEN_BACKEND_CONFIG_DIR?}" "${MAVEN_BACKEND_RUN_DIR?}" "${MAVEN_BACKEND_SOCKET_DIR?}" "${MAVEN_BACKEND_SOCKET?}"
: "${REPORTER?}" "${REPORT_SELF?}" "${REPORT_MEASURED?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/reported.sh
. "$(dirname "$0")/../../upkeep/sh/reported.sh"
# Listing snapshots is no restore.
case "${1:-}" in --list) ;; *) reported restore "$@" ;; esac
case "${1:-}" in
    -h|--help) echo 'usage: dso-registry-restore [--list | SNAPSHOT-ID]   (default: the newest snapshot)'; exit 0 ;;
esac
# shellcheck source=./lock.sh
. "$(dirname "$0")/lock.sh"
# shellcheck source=./host-restic.sh
. "$(dirname "$0")/host-restic.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
# shellcheck source=./registry-run.sh
. "$(dirname "$0")/registry-run.sh"
# shellcheck source=./maven-run.sh
. "$(dirname "$0")/maven-run.sh"
take_lock "$LOCK_FILE"
restic_setup
if [ "${1:-}" = --list ]; then restic_ snapshots --host "$SNAPSHOT_HOST" --tag "$SNAPSHOT_TAG"; exit 0; fi
snapshot="${1:-latest}"
if ! restic_ snapshots --host "$SNAPSHOT_HOST" --tag "$SNAPSHOT_TAG" "$snapshot" >/dev/null 2>&1; then
    echo "no snapshot \"$snapshot\" in $REPOSITORY; list them with: dso-registry-restore --list" >&2; exit 1
fi
refuse_foreign_registry
if [ -n "$MAVEN_CONTAINER" ]; then refuse_foreign "$MAVEN_CONTAINER"; fi
remove_container "$REGISTRY_NAME"
if [ -n "$MAVEN_CONTAINER" ]; then remove_container "$MAVEN_CONTAINER"; fi
# A data directory that is not empty is kept aside, not overwritten.
set_aside() {
    if [ -d "$1" ] && [ -n "$(ls -A "$1")" ]; then
        aside="$1.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
        mv "$1" "$aside"
        echo "$1 was not empty: kept as $aside (remove it once the restore is checked)"
    fi
}
while IFS= read -r d; do
    set_aside "${DSO_ROOT:-}$d"
done <<EOF_DIRS
$SET_ASIDE
EOF_DIRS
restic_ restore "$snapshot" --host "$SNAPSHOT_HOST" --tag "$SNAPSHOT_TAG" --target /
# The backup's second pass ran inside the read-only window: a snapshot made before the marker was
# excluded holds it, and a restored marker would make the front refuse every push and deploy.
rm -f "${DSO_ROOT:-}$MARKER"
want=$(registry_spec)
run_registry "$want" config.yml
echo "registry restored from snapshot $snapshot and running writable"
if [ -n "$MAVEN_CONTAINER" ]; then
    remove_container "$MAVEN_CONTAINER"
    run_maven
    echo "Maven repository restored and served again"
fi
caddyfile="${DSO_ROOT:-}$CADDYFILE"
# The time limit is the container's own `timeout` (the Caddy image's busybox): `docker` may be a shell
# function running Podman (container-engine.sh), which the host's `timeout` cannot run.
if [ -f "$caddyfile" ] && ours "$FRONT_NAME" && docker exec "$FRONT_NAME" timeout 50 caddy reload --adapter caddyfile --config "$CADDYFILE" >/dev/null 2>&1; then
    echo "the front (caddy) reloaded with the restored Caddyfile"
else
    echo "the front (caddy) was not reloaded (not running?): run pulumi up, or docker start $FRONT_NAME" >&2
fi
"${DSO_ROOT:-}$VERIFY_SCRIPT"
