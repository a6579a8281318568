#!/bin/sh
# Builds cosign and oras from the wrapper module beside this script (the versions its go.mod requires) into
# the engine tier's cache: one directory keyed by both versions and the hash of the module's files and the
# Go version, so a warm cache builds nothing. The last line printed is that directory; it holds `cosign`
# and `oras`, which the supply-chain test runs against the registry behind its front.
#
#   sh tools/supplychain/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="supply-chain tools build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"

cosign=github.com/sigstore/cosign/v2
oras=oras.land/oras
cosign_version=$(cd "$here" && go list -m -f '{{.Version}}' "$cosign")
oras_version=$(cd "$here" && go list -m -f '{{.Version}}' "$oras")
out="$cache/build/supplychain-cosign-${cosign_version#v}-oras-${oras_version#v}-$(module_key .)"
build() {
    (
        cd "$here"
        go build -tags "osusergo netgo" -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$cosign_version" \
            -o "$1/cosign" "$cosign/cmd/cosign"
        go build -tags "osusergo netgo" -ldflags "-s -w" -o "$1/oras" "$oras/cmd/oras"
    )
}
if [ -x "$out/cosign" ] && [ -x "$out/oras" ]; then
    say "supply-chain tools build: cosign $cosign_version and oras $oras_version are cached"
else
    say "supply-chain tools build: building cosign $cosign_version and oras $oras_version"
    build_into "$out" build
    say "supply-chain tools build: cosign $cosign_version and oras $oras_version built in $build_seconds s"
fi
echo "$out"
