#!/bin/sh
# remove.sh of the node-trust DaemonSet, run by the pod's preStop hook: runs every removal step (the
# scripts in $STEPS, one path a line; the plan's steps in reverse), but only while this pod ($POD_UID)
# still owns the node's trust ($OWNER_FILE, under $DSO_ROOT), so a rolling update's new pod is not
# undone by the old one.
: "${STEPS:?}" "${OWNER_FILE:?}"
set -eu
# A pod that goes away never restarts the node's service: pods of a deleted DaemonSet all stop at once.
DSO_DEFER_RESTART=1
export DSO_DEFER_RESTART
owner="${DSO_ROOT:-}$OWNER_FILE"
if [ "$(cat "$owner" 2>/dev/null || true)" != "$POD_UID" ]; then
  echo "node trust now belongs to another pod of the DaemonSet; nothing removed"
  exit 0
fi
rm -f "$owner"
for script in $STEPS; do
  sh "$script"
done
