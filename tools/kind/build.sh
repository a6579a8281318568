#!/bin/sh
# Builds the kind CLI from the wrapper module beside this script (the version its go.mod requires) into
# the engine tier's cache: one directory keyed by the version and the hash of the module's files and the
# Go version, so a warm cache builds nothing. The last line printed is that directory; it holds `kind`.
# The node image kind starts is built here from Debian's packages and the engine set
# (test/support/kindNodeImage.ts): no registry can be reached.
#
#   sh tools/kind/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="kind build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"

module=sigs.k8s.io/kind
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
out="$cache/build/kind-${version#v}-$(module_key .)"
build() { (cd "$here" && go build -tags "osusergo netgo" -ldflags "-s -w" -o "$1/kind" "$module"); }
if [ -x "$out/kind" ]; then
    say "kind build: kind $version is cached"
else
    say "kind build: building kind $version"
    build_into "$out" build
    say "kind build: kind $version built in $build_seconds s"
fi
echo "$out"
