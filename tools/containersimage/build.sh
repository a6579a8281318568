#!/bin/sh
# Builds cimage-pull (main.go beside this script: one pull through containers/image's copy.Image, the
# library CRI-O and podman pull with) at the containers/image version go.mod requires, into the engine
# tier's cache: one directory keyed by that version and the hash of the module's files and the Go
# version, so a warm cache builds nothing. The last line printed is that directory; it holds
# `cimage-pull`, which the node-trust signature test pulls with where Debian's podman and skopeo cannot
# verify a sigstore signature (their containers/image is built with it disabled).
#
#   sh tools/containersimage/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="containers/image pull build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"

module=github.com/containers/image/v5
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
out="$cache/build/cimage-pull-${version#v}-$(module_key .)"
build() {
    # containers_image_openpgp: signature checks in Go, without gpgme (cgo).
    (cd "$here" && go build -tags "containers_image_openpgp osusergo netgo" -ldflags "-s -w" -o "$1/cimage-pull" .)
}
if [ -x "$out/cimage-pull" ]; then
    say "containers/image pull build: cimage-pull with containers/image $version is cached"
else
    say "containers/image pull build: building cimage-pull with containers/image $version"
    build_into "$out" build
    say "containers/image pull build: cimage-pull with containers/image $version built in $build_seconds s"
fi
echo "$out"
