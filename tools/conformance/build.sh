#!/bin/sh
# Builds the OCI distribution-spec conformance suite from the wrapper module beside this script (the
# version its go.mod requires) into the engine tier's cache: one directory keyed by the version and
# the hash of the module's files and the Go version, so a warm cache builds nothing. The last line
# printed is that directory; it holds `conformance`. The suite is a program at this version (its
# `go test` entry only calls the program and warns that it is deprecated), so it is built with
# `go build`. test/support/ociConformance.ts runs it against Distribution and through the fronts.
#
#   sh tools/conformance/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="Conformance build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"

module=github.com/opencontainers/distribution-spec/conformance
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
out="$cache/build/conformance-${version#v}-$(module_key .)"
build() { (cd "$here" && go build -tags "osusergo netgo" -ldflags "-s -w" -o "$1/conformance" "$module"); }
if [ -x "$out/conformance" ]; then
    say "Conformance build: the suite at $version is cached"
else
    say "Conformance build: building the suite at $version"
    build_into "$out" build
    say "Conformance build: the suite at $version built in $build_seconds s"
fi
echo "$out"
