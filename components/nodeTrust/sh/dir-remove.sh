#!/bin/sh
# Removes $DIR (under $DSO_ROOT) if nothing else was put into it; a directory that is gone or holds
# someone else's files is left as it is.
: "${DIR:?}"
set -eu
rmdir "${DSO_ROOT:-}$DIR" 2>/dev/null || true
