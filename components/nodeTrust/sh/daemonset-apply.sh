#!/bin/sh
# apply.sh of the node-trust DaemonSet: runs every step of the trust plan in order, each a script of
# the ConfigMap in $CONFIG_DIR, then records this pod ($POD_UID) as the owner of the node's trust in
# $OWNER_FILE (under $DSO_ROOT), which remove.sh and run.sh read.
# $STEPS has one step a line: the script's name, and the file it reads on stdin where it places one.
: "${CONFIG_DIR:?}" "${STEPS:?}" "${OWNER_FILE:?}"
set -eu
while read -r step input; do
  if [ -n "$input" ]; then
    sh "$CONFIG_DIR/$step" < "$input"
  else
    sh "$CONFIG_DIR/$step" < /dev/null
  fi
done <<EOF_STEPS
$STEPS
EOF_STEPS
printf '%s\n' "$POD_UID" > "${DSO_ROOT:-}$OWNER_FILE"
