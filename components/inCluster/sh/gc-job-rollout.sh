#!/bin/sh
# The GC job's script (CronJob registry-gc, kubectl only) when the registry's pods may
# overlap (docs/decisions/maintenance-window.md): Distribution's read-only switch READ_ONLY_ENV on the
# Deployment's template, the collection in one running pod (the bucket is shared), the switch removed
# again; each change rolls the pods, which empties their caches. The trap switches back on every exit,
# also on failure. Then VERIFY_SCRIPT checks, in the registry container, every tagged image.
: "${NAMESPACE:?}" "${DEPLOYMENT:?}" "${READ_ONLY_ENV:?}" "${DELETE_UNTAGGED:?}" "${CONFIG_DIR:?}"
: "${MAVEN_CONTAINER:?}" "${MAVEN_GC_SCRIPT?}" "${VERIFY_SCRIPT:?}"
set -eu
# shellcheck source=../../upkeep/sh/collect.sh
. "$(dirname "$0")/../../upkeep/sh/collect.sh"
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
trap restore EXIT
kubectl --namespace "$NAMESPACE" set env "deployment/$DEPLOYMENT" "$READ_ONLY_ENV={\"enabled\":true}"
kubectl --namespace "$NAMESPACE" rollout status "deployment/$DEPLOYMENT" --timeout=15m
echo "registry is read-only; collecting garbage"
# The job sees no data directory: the collector always runs.
collect_garbage "" "$DELETE_UNTAGGED" "$CONFIG_DIR/config.yml" in_pod registry
if [ -n "$MAVEN_GC_SCRIPT" ]; then in_pod "$MAVEN_CONTAINER" /bin/sh "$MAVEN_GC_SCRIPT"; fi
restore
trap - EXIT
echo "garbage collection done; registry writable again with an empty cache; checking every tagged image"
in_pod registry /bin/sh "$VERIFY_SCRIPT"
