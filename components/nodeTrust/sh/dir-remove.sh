#!/bin/sh
# Removes $DIR (under $DSO_ROOT) if nothing else was put into it; a directory that is gone or holds
# someone else's files is left as it is. The program's own files in it ($FILES, names separated by
# spaces) go first: when the directory is replaced (the registry host renamed), the engine deletes
# the old directory before it deletes the old files, which would leave it in place, empty.
: "${DIR:?}"
: "${FILES?}"
set -eu
for file in $FILES; do
    rm -f "${DSO_ROOT:-}$DIR/$file"
done
rmdir "${DSO_ROOT:-}$DIR" 2>/dev/null || true
