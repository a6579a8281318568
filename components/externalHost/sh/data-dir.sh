#!/bin/sh
# Creates the registry's data directory DATA_DIR (mode 0750) and gives it to Caddy's group. The
# registry container runs as root and writes with umask 022 (directories 0755, files 0644), so Caddy
# (user `caddy` in the Debian and Fedora packages) can then read the blobs and serve downloads itself
# (see docs/access-policy.md, Performance). Others get nothing. Without a `caddy` group the directory
# stays root's and every download goes through Distribution.
: "${DATA_DIR:?}"
set -eu
d="${DSO_ROOT:-}$DATA_DIR"
state=unchanged
if [ ! -d "$d" ]; then mkdir -p "$d"; chmod 0750 "$d"; state=changed; fi
if getent group caddy >/dev/null 2>&1 && [ "$(stat -c %G:%A "$d")" != "caddy:drwxr-x---" ]; then
    chgrp caddy "$d"; chmod u+rwx,g+rx,g-w,o-rwx "$d"; state=changed
fi
echo "$state $d"
