#!/bin/sh
# Builds containerd and ctr from the wrapper module beside this script (containerd 2, the version its
# go.mod requires) into the engine tier's cache, one directory keyed by the version and the hash of the
# module's files, so a warm cache builds nothing. The last line printed is that directory. The
# integration tests' kind-like nodes run these binaries beside Debian's containerd 1.6.
#
#   sh tools/containerd2/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="containerd 2 build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"
# Without cgo (go-build.sh builds static) the btrfs snapshotter is left out (its build constraint needs
# cgo); the nodes use the native snapshotter.

version=$(cd "$here" && go list -m -f '{{.Version}}' github.com/containerd/containerd/v2)
out="$cache/build/containerd-$version-$(module_key .)"
build() {
    pkg=github.com/containerd/containerd/v2
    ldflags="-s -w -X $pkg/version.Version=$version -X $pkg/version.Package=$pkg"
    for command in containerd ctr; do
        (cd "$here" && go build -tags "urfave_cli_no_docs osusergo netgo static_build" -ldflags "$ldflags" \
            -o "$1/$command" "$pkg/cmd/$command")
    done
}
if [ -x "$out/containerd" ] && [ -x "$out/ctr" ]; then
    say "containerd 2 build: containerd $version is cached"
else
    say "containerd 2 build: building containerd and ctr $version"
    build_into "$out" build
    say "containerd 2 build: containerd and ctr $version built in $build_seconds s"
fi
echo "$out"
