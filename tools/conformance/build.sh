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
# DSO_ENGINE_CACHE overrides the cache (default: $XDG_CACHE_HOME or ~/.cache, then dso-registry/engine).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${DSO_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dso-registry/engine}
case "$#:${1:-}" in
0:) quiet=false ;;
1:--quiet) quiet=true ;;
*)
    echo "usage: sh tools/conformance/build.sh [--quiet]" >&2
    exit 2
    ;;
esac

PATH=$PATH:/usr/local/go/bin
export PATH
export GOFLAGS=-buildvcs=false
# Static: the tests run it on the host and inside network namespaces, with nothing else installed.
export CGO_ENABLED=0
command -v go >/dev/null || {
    echo "Conformance build: Go is not installed (Go 1.26 or newer is needed)" >&2
    exit 1
}

say() { [ "$quiet" = true ] || echo "$@" >&2; }

module=github.com/opencontainers/distribution-spec/conformance
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
key=$(
    cd "$here" && {
        find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs sha256sum
        go env GOVERSION
    } | sha256sum | cut -c1-16
)
out="$cache/build/conformance-${version#v}-$key"
if [ -x "$out/conformance" ]; then
    say "Conformance build: the suite at $version is cached"
else
    say "Conformance build: building the suite at $version"
    started=$(date +%s)
    rm -rf "$out.partial"
    mkdir -p "$out.partial"
    (cd "$here" && go build -tags "osusergo netgo" -ldflags "-s -w" -o "$out.partial/conformance" "$module")
    rm -rf "$out" && mv "$out.partial" "$out"
    say "Conformance build: the suite at $version built in $(($(date +%s) - started)) s"
fi
echo "$out"
