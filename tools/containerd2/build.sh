#!/bin/sh
# Builds containerd and ctr from the wrapper module beside this script (containerd 2, the version its
# go.mod requires) into the engine tier's cache, one directory keyed by the version and the hash of the
# module's files, so a warm cache builds nothing. The last line printed is that directory. The
# integration tests' kind-like nodes run these binaries beside Debian's containerd 1.6.
#
#   sh tools/containerd2/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (default: $XDG_CACHE_HOME or ~/.cache, then dso-registry/engine).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${DSO_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dso-registry/engine}
case "$#:${1:-}" in
0:) quiet=false ;;
1:--quiet) quiet=true ;;
*)
    echo "usage: sh tools/containerd2/build.sh [--quiet]" >&2
    exit 2
    ;;
esac

PATH=$PATH:/usr/local/go/bin
export PATH
export GOFLAGS=-buildvcs=false
# Static, as containerd's own static release: the node image is a bare root filesystem. Without cgo the
# btrfs snapshotter is left out (its build constraint needs cgo); the nodes use the native snapshotter.
export CGO_ENABLED=0
command -v go >/dev/null || {
    echo "containerd 2 build: Go is not installed (Go 1.25 or newer is needed)" >&2
    exit 1
}

say() { [ "$quiet" = true ] || echo "$@" >&2; }

version=$(cd "$here" && go list -m -f '{{.Version}}' github.com/containerd/containerd/v2)
key=$(
    cd "$here" && {
        find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs sha256sum
        go env GOVERSION
    } | sha256sum | cut -c1-16
)
out="$cache/build/containerd-$version-$key"
if [ -x "$out/containerd" ] && [ -x "$out/ctr" ]; then
    say "containerd 2 build: containerd $version is cached"
else
    say "containerd 2 build: building containerd and ctr $version"
    started=$(date +%s)
    rm -rf "$out.partial"
    mkdir -p "$out.partial"
    pkg=github.com/containerd/containerd/v2
    ldflags="-s -w -X $pkg/version.Version=$version -X $pkg/version.Package=$pkg"
    for command in containerd ctr; do
        (cd "$here" && go build -tags "urfave_cli_no_docs osusergo netgo static_build" -ldflags "$ldflags" \
            -o "$out.partial/$command" "$pkg/cmd/$command")
    done
    rm -rf "$out" && mv "$out.partial" "$out"
    say "containerd 2 build: containerd and ctr $version built in $(($(date +%s) - started)) s"
fi
echo "$out"
