#!/bin/sh
# Removes the file that place-file.sh placed at $TARGET (under $DSO_ROOT), and nothing else; a file
# already gone is no error.
: "${TARGET:?}"
set -eu
rm -f "${DSO_ROOT:-}$TARGET"
