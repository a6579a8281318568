#!/bin/sh
# The GC job's script (CronJob registry-gc, kubectl only) when the registry's pods may
# overlap (docs/decisions/maintenance-window.md): Distribution's read-only switch READ_ONLY_ENV on the
# Deployment's template, the collection in one running pod (the bucket is shared), the switch removed
# again; each change rolls the pods, which empties their caches. The trap switches back on every exit,
# also on failure. Then VERIFY_SCRIPT checks, in the registry container, every tagged image.
# `rollout status` returns once the new pods are ready, while old ones may still be terminating and
# finishing the writes they had taken (Distribution drains for up to http.draintimeout): the collection
# waits until no pod of POD_SELECTOR is terminating, so no write lands after it has started marking.
# With RETENTION true, RETENTION_SCRIPT runs in one registry container just before the switch, with the
# images of every pod on stdin, its read phase and its removals one after the other: Distribution must
# still accept its deletes, so this one step is not inside a window, and a tag pushed anew between its
# check and its removal could go (the script checks each planned tag's digest again right before the
# removals, which leaves only that instant). A failed or
# skipped retention does not stop the collection; the job fails at the end.
: "${NAMESPACE:?}" "${DEPLOYMENT:?}" "${POD_SELECTOR:?}" "${READ_ONLY_ENV:?}" "${DELETE_UNTAGGED:?}" "${CONFIG_DIR:?}"
: "${MAVEN_CONTAINER:?}" "${MAVEN_GC_SCRIPT?}" "${VERIFY_SCRIPT:?}" "${RETENTION:?}" "${RETENTION_SCRIPT?}"
: "${PULLS_CONFIGMAP?}" "${REGISTRY_PODS:?}" "${FRONT_CONTAINER:?}" "${PULL_MERGE_SCRIPT?}" "${LOCAL_PULL_HISTORY?}" "${HARVEST_MARGIN_SECONDS:?}"
set -eu
# shellcheck source=../../upkeep/sh/collect.sh
. "$(dirname "$0")/../../upkeep/sh/collect.sh"
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
# Switches the Deployment back to writable and waits for its pods: on every exit, also a failed one.
restore() {
    kubectl --namespace "$NAMESPACE" set env "deployment/$DEPLOYMENT" "$READ_ONLY_ENV-"
    kubectl --namespace "$NAMESPACE" rollout status "deployment/$DEPLOYMENT" --timeout=15m
}
# wait_for_terminated: until no registry pod has a deletion timestamp (at most 5 minutes; then the job
# fails, and the trap makes the registry writable again).
wait_for_terminated() {
    waited=0
    while kubectl --namespace "$NAMESPACE" get pods --selector "$POD_SELECTOR" \
        -o 'jsonpath={range .items[*]}{.metadata.deletionTimestamp}{"\n"}{end}' | grep -q .; do
        if [ "$waited" -ge 300 ]; then
            echo "registry pods still terminating after 5 minutes; not collecting" >&2
            exit 1
        fi
        [ "$waited" -eq 0 ] && echo "waiting for the old registry pods to finish their writes"
        waited=$((waited + 1))
        sleep 1
    done
}
# With PULLS_CONFIGMAP, the pull history first (pull-harvest.sh), so that retention sees the pulls up to now.
if [ "$RETENTION" = true ] && [ -n "$PULLS_CONFIGMAP" ]; then
    harvest_pulls || echo "the pull history could not be brought up to date: tag retention keeps every tag it cannot show unpulled this time" >&2
fi
retention_failed=''
if [ "$RETENTION" = true ]; then
    workloads=$(mktemp)
    if list_workloads "$workloads"; then
        echo "tag retention before the read-only switch"
        kubectl --namespace "$NAMESPACE" exec -i "deployment/$DEPLOYMENT" --container=registry -- /bin/sh "$RETENTION_SCRIPT" - <"$workloads" || retention_failed=yes
    else
        echo "cannot list the cluster's pods: no tag retention this time" >&2
        retention_failed=yes
    fi
    rm -f "$workloads"
fi
trap restore EXIT
kubectl --namespace "$NAMESPACE" set env "deployment/$DEPLOYMENT" "$READ_ONLY_ENV={\"enabled\":true}"
kubectl --namespace "$NAMESPACE" rollout status "deployment/$DEPLOYMENT" --timeout=15m
wait_for_terminated
echo "registry is read-only; collecting garbage"
# The job sees no data directory: the collector always runs.
collect_garbage "" "$DELETE_UNTAGGED" "$CONFIG_DIR/config.yml" in_pod registry
if [ -n "$MAVEN_GC_SCRIPT" ]; then in_pod "$MAVEN_CONTAINER" /bin/sh "$MAVEN_GC_SCRIPT"; fi
restore
trap - EXIT
echo "garbage collection done; registry writable again with an empty cache; checking every tagged image"
in_pod registry /bin/sh "$VERIFY_SCRIPT"
if [ -n "$retention_failed" ]; then echo "tag retention FAILED or was skipped (see above)" >&2; exit 1; fi
