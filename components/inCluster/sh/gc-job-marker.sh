#!/bin/sh
# The GC job's script (CronJob registry-gc, kubectl only) when one registry pod runs:
# the front's window (docs/decisions/maintenance-window.md). GC_STEP_SCRIPT runs in the registry
# container: it creates the GC's marker, runs the collector and removes the marker when it ends,
# also when it fails; then, with Maven, MAVEN_GC_SCRIPT does the same around the snapshot clean-up in
# the Maven container. Nothing restarts. Then VERIFY_SCRIPT checks, in the registry container, every
# tagged image. With RETENTION true, the images of every pod go to GC_STEP_SCRIPT on stdin, for tag
# retention inside its window; when the pods cannot be listed, the step runs without retention and
# the job fails at the end.
: "${NAMESPACE:?}" "${DEPLOYMENT:?}" "${GC_STEP_SCRIPT:?}" "${MAVEN_CONTAINER:?}" "${MAVEN_GC_SCRIPT?}" "${VERIFY_SCRIPT:?}" "${RETENTION:?}"
: "${PULLS_CONFIGMAP?}" "${REGISTRY_PODS:?}" "${FRONT_CONTAINER:?}" "${PULL_MERGE_SCRIPT?}" "${LOCAL_PULL_HISTORY?}" "${HARVEST_MARGIN_SECONDS:?}"
set -eu
# shellcheck source=./workloads.sh
. "$(dirname "$0")/workloads.sh"
# shellcheck source=./pull-harvest.sh
. "$(dirname "$0")/pull-harvest.sh"
# in_pod CONTAINER COMMAND...: runs COMMAND in a container of the registry's pod.
in_pod() {
    in_container=$1
    shift
    kubectl --namespace "$NAMESPACE" exec "deployment/$DEPLOYMENT" --container="$in_container" -- "$@"
}
# With PULLS_CONFIGMAP, the pull history first (pull-harvest.sh), so that retention sees the pulls up to now.
if [ "$RETENTION" = true ] && [ -n "$PULLS_CONFIGMAP" ]; then
    harvest_pulls || echo "the pull history could not be brought up to date: tag retention keeps every tag it cannot show unpulled this time" >&2
fi
retention_failed=''
workloads=$(mktemp)
trap 'rm -f "$workloads"' EXIT
echo "collecting garbage inside the front's read-only window: writes get 503, pulls go on, nothing restarts"
if [ "$RETENTION" = true ] && list_workloads "$workloads"; then
    kubectl --namespace "$NAMESPACE" exec -i "deployment/$DEPLOYMENT" --container=registry -- /bin/sh "$GC_STEP_SCRIPT" retention <"$workloads"
else
    if [ "$RETENTION" = true ]; then echo "cannot list the cluster's pods: no tag retention this time" >&2; retention_failed=yes; fi
    in_pod registry /bin/sh "$GC_STEP_SCRIPT"
fi
if [ -n "$MAVEN_GC_SCRIPT" ]; then in_pod "$MAVEN_CONTAINER" /bin/sh "$MAVEN_GC_SCRIPT"; fi
echo "garbage collection done; registry writable again; checking every tagged image"
in_pod registry /bin/sh "$VERIFY_SCRIPT"
if [ -n "$retention_failed" ]; then exit 1; fi
