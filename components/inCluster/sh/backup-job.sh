#!/bin/sh
# The in-cluster backup's CronJob (registry-backup, kubectl only): pass 1 while writable, pass 2 inside
# the front's window, then retention, each a step of STEP_SCRIPT run in the registry pod's CONTAINER.
# When the read-only step fails or its exec is cut, the trap removes the marker itself (the marker
# also disappears with the pod: an emptyDir). Prints how long writes were refused (an upper bound: the
# read-only step's exec, from its call to its return).
: "${NAMESPACE:?}" "${DEPLOYMENT:?}" "${CONTAINER:?}" "${STEP_SCRIPT:?}" "${REPOSITORY_NAME:?}"
set -eu
step() { kubectl --namespace "$NAMESPACE" exec "deployment/$DEPLOYMENT" --container="$CONTAINER" -- /bin/sh "$STEP_SCRIPT" "$@"; }
echo "pass 1, registry writable: copying what is new"
warm=$(step writable)
echo "pass 2, registry read-only (writes get 503, pulls go on, nothing restarts): copying what changed since pass 1"
trap 'step end-read-only >/dev/null || echo "could not remove the read-only marker; the next backup or a restart of the registry pod removes it" >&2' EXIT
trap 'exit 143' HUP INT TERM
window_start=$(date +%s)
snapshot=$(step read-only "$warm")
trap - EXIT
echo "registry writable again after $(( $(date +%s) - window_start )) s read-only"
step retention >/dev/null
echo "backup done: snapshot $snapshot in $REPOSITORY_NAME"
