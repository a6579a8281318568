#!/bin/sh
# run.sh, the node-trust DaemonSet's container: applies node trust ($APPLY_SCRIPT), then again every
# $INTERVAL_SECONDS to repair drift. The pod is Ready (/tmp/applied) after its first apply.
: "${APPLY_SCRIPT:?}" "${OWNER_FILE:?}" "${INTERVAL_SECONDS:?}"
set -u
trap 'exit 0' TERM INT
owner="${DSO_ROOT:-}$OWNER_FILE"
first=1
while :; do
  # A DaemonSet cannot order restarts across nodes, except in a rolling update: the controller
  # starts the new pod on one node at a time (maxSurge 1, maxUnavailable 0) and moves on only once
  # it is Ready, which it is after its first apply, restart and wait. So a pod restarts the node's
  # service only while it takes over from the previous pod of the DaemonSet on its node (the owner
  # file holds another pod's UID). Pods of a new DaemonSet, on a new node, and every later run
  # write the files and leave the restart pending (said in the log).
  if [ "$first" = 1 ] && [ -s "$owner" ] && [ "$(cat "$owner")" != "$POD_UID" ]; then
    unset DSO_DEFER_RESTART
  else
    DSO_DEFER_RESTART=1
    export DSO_DEFER_RESTART
  fi
  if sh "$APPLY_SCRIPT"; then touch /tmp/applied; first=0; else echo "node trust: applying failed; trying again in ${INTERVAL_SECONDS}s" >&2; fi
  sleep "$INTERVAL_SECONDS" &
  wait $!
done
