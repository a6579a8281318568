#!/bin/sh
# Managed by dso-registry: restores a snapshot of REPOSITORY_NAME into the registry's volumes, run by a
# Job made from CronJob registry-restore (restore.sh in ConfigMap registry-backup) while the registry
# is scaled to 0. See docs/in-cluster.md.
#
# Restores $SNAPSHOT (the Job's environment; the newest when empty) into each directory of BACKED_UP
# (one a line). Whatever a volume held is kept in ASIDE_PREFIX<time> on the same volume. restic
# restores into a directory on the volume first and the files are then moved in place: the volume's
# root belongs to the cluster, and a non-root restic may not change its owner, mode or times.
: "${REPOSITORY_NAME:?}" "${BACKED_UP:?}" "${ASIDE_PREFIX:?}" "${NAMESPACE:?}" "${DEPLOYMENT:?}"
: "${DESTINATION:?}" "${REPOSITORY:?}" "${SECRET_DIR:?}" "${CACHE_DIR:?}" "${PASSWORD_KEY:?}"
: "${ACCESS_KEY_ID_KEY:?}" "${SECRET_ACCESS_KEY_KEY:?}" "${REGION?}"
: "${SNAPSHOT_HOST:?}" "${SNAPSHOT_TAG:?}"
set -eu
# shellcheck source=./cluster-restic.sh
. "$(dirname "$0")/cluster-restic.sh"
restic_setup
snapshot="${SNAPSHOT:-latest}"
if ! restic_ snapshots --host "$SNAPSHOT_HOST" --tag "$SNAPSHOT_TAG" "$snapshot" >/dev/null 2>&1; then
    echo "no snapshot \"$snapshot\" in $repo; the snapshots are:" >&2
    restic_ snapshots --host "$SNAPSHOT_HOST" --tag "$SNAPSHOT_TAG" >&2 || true
    exit 1
fi
stamp=$(date -u +%Y%m%dT%H%M%SZ)
while IFS= read -r p; do
    dir="${DSO_ROOT:-}$p"
    aside="$dir/$ASIDE_PREFIX$stamp"
    staging="$dir/.restore-$stamp"
    if [ -n "$(find "$dir" -mindepth 1 -maxdepth 1 ! -name "$ASIDE_PREFIX*")" ]; then
        mkdir "$aside"
        find "$dir" -mindepth 1 -maxdepth 1 ! -name "$ASIDE_PREFIX*" -exec mv {} "$aside"/ \;
        echo "$dir was not empty: its files are kept in $aside (remove it once the restore is checked)"
    fi
    restic_ restore "$snapshot" --host "$SNAPSHOT_HOST" --tag "$SNAPSHOT_TAG" --include "$dir" --target "$staging"
    if [ -d "$staging$dir" ]; then
        find "$staging$dir" -mindepth 1 -maxdepth 1 -exec mv {} "$dir"/ \;
        echo "restored $p from snapshot $snapshot"
    else
        echo "snapshot $snapshot holds nothing of $p: left empty"
    fi
    rm -rf "$staging"
done <<EOF_DIRS
$BACKED_UP
EOF_DIRS
echo "done; start the registry again: kubectl --namespace $NAMESPACE scale deployment/$DEPLOYMENT --replicas=1"
