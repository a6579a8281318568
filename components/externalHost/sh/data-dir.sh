#!/bin/sh
# Creates the registry's data directory DATA_DIR (mode 0750), and gives it to the group `caddy` where
# the host has one (a host whose front was the distribution's caddy service). The registry container
# runs as root and writes with umask 0007 (directories 0770, files 0660); the front's Caddy runs as root
# in its container, with the directory mounted read-only, and serves blob downloads from it (see
# docs/access-policy.md, Performance). Other users of the host get nothing.
: "${DATA_DIR:?}"
set -eu
d="${DSO_ROOT:-}$DATA_DIR"
state=unchanged
if [ ! -d "$d" ]; then mkdir -p "$d"; chmod 0750 "$d"; state=changed; fi
if getent group caddy >/dev/null 2>&1 && [ "$(stat -c %G:%A "$d")" != "caddy:drwxr-x---" ]; then
    chgrp caddy "$d"; chmod u+rwx,g+rx,g-w,o-rwx "$d"; state=changed
fi
echo "$state $d"
