#!/bin/sh
# apply.sh of the node-trust DaemonSet: runs every step of the trust plan in order, each a script of
# its ConfigMap, then records this pod ($POD_UID) as the owner of the node's trust in $OWNER_FILE
# (under $DSO_ROOT), which remove.sh and run.sh read.
# $STEPS has one step a line: the script's path, and the file it reads on stdin where it places one.
: "${STEPS:?}" "${OWNER_FILE:?}"
set -eu
while read -r script input; do
  if [ -n "$input" ]; then
    sh "$script" < "$input"
  else
    sh "$script" < /dev/null
  fi
done <<EOF_STEPS
$STEPS
EOF_STEPS
printf '%s\n' "$POD_UID" > "${DSO_ROOT:-}$OWNER_FILE"
