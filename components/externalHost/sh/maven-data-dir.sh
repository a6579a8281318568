#!/bin/sh
# Creates the Maven data directory DATA_DIR (mode 0750) owned by the uid nginx runs as (OWNER,
# uid:gid), or fixes its owner. Prints "changed DIR" or "unchanged DIR".
: "${DATA_DIR:?}" "${OWNER:?}"
set -eu
d="${DSO_ROOT:-}$DATA_DIR"
state=unchanged
if [ ! -d "$d" ]; then mkdir -p "$d"; chmod 0750 "$d"; state=changed; fi
if [ "$(stat -c %u:%g "$d")" != "$OWNER" ]; then chown "$OWNER" "$d"; state=changed; fi
echo "$state $d"
