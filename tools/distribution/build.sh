#!/bin/sh
# Builds Distribution's `registry` command twice, from the wrapper modules beside this script: 2.8.3
# (v2/, the `registry:2.8.3` image the stacks pin) and 3.x (v3/, the version its go.mod requires, the
# `registry:3` images). Both go into one directory of the engine tier's cache, keyed by the two
# versions and the hash of both modules' files and the Go version, so a warm cache builds nothing. The
# last line printed is that directory; it holds `registry-<version>` for each, e.g. registry-2.8.3 and
# registry-3.0.0. The integration tests run these where they stand for the deployed registry image
# (test/support/distributionBinaries.ts).
#
#   sh tools/distribution/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (default: $XDG_CACHE_HOME or ~/.cache, then dso-registry/engine).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${DSO_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dso-registry/engine}
case "$#:${1:-}" in
0:) quiet=false ;;
1:--quiet) quiet=true ;;
*)
    echo "usage: sh tools/distribution/build.sh [--quiet]" >&2
    exit 2
    ;;
esac

PATH=$PATH:/usr/local/go/bin
export PATH
export GOFLAGS=-buildvcs=false
# Static, as the registry images' binaries: the tests run them on the host and in bare root filesystems.
export CGO_ENABLED=0
command -v go >/dev/null || {
    echo "Distribution build: Go is not installed (Go 1.26 or newer is needed)" >&2
    exit 1
}

say() { [ "$quiet" = true ] || echo "$@" >&2; }

# The module each wrapper builds, its `registry` command's package and the variable that holds the
# version the binary reports (`registry --version`).
v2_module=github.com/docker/distribution
v2_stamp=$v2_module/version.Version
v3_module=github.com/distribution/distribution/v3
v3_stamp=$v3_module/version.version

module_version() { (cd "$here/$1" && go list -m -f '{{.Version}}' "$2"); }
v2_version=$(module_version v2 "$v2_module")
v3_version=$(module_version v3 "$v3_module")
# v2.8.3+incompatible → 2.8.3
v2_name=registry-$(echo "$v2_version" | sed 's/^v//; s/+incompatible$//')
v3_name=registry-${v3_version#v}

key=$(
    cd "$here" && {
        find v2 v3 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs sha256sum
        go env GOVERSION
    } | sha256sum | cut -c1-16
)
out="$cache/build/distribution-${v2_name#registry-}-${v3_name#registry-}-$key"
if [ -x "$out/$v2_name" ] && [ -x "$out/$v3_name" ]; then
    say "Distribution build: $v2_name and $v3_name are cached"
else
    rm -rf "$out.partial"
    mkdir -p "$out.partial"
    for major in v2 v3; do
        if [ "$major" = v2 ]; then
            module=$v2_module stamp=$v2_stamp version=$v2_version name=$v2_name
        else
            module=$v3_module stamp=$v3_stamp version=$v3_version name=$v3_name
        fi
        say "Distribution build: building $name"
        started=$(date +%s)
        (cd "$here/$major" && go build -tags "osusergo netgo" -ldflags "-s -w -X $stamp=${version%+incompatible}" \
            -o "$out.partial/$name" "$module/cmd/registry")
        say "Distribution build: $name built in $(($(date +%s) - started)) s"
    done
    rm -rf "$out" && mv "$out.partial" "$out"
fi
echo "$out"
