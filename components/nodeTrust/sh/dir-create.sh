#!/bin/sh
# Creates $DIR (under $DSO_ROOT), a directory that belongs to the registry alone (its certs.d entry).
: "${DIR:?}"
set -eu
mkdir -p "${DSO_ROOT:-}$DIR"
