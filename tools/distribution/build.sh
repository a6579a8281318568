#!/bin/sh
# Builds Distribution's `registry` command twice, from the wrapper modules beside this script: 3.x
# (v3/, the version of `registry.image`'s default tag) and 2.8.3 (v2/, the image of stacks made before
# registry:3, for the upgrade and the rollback). Both go into one directory of the engine tier's cache, keyed by the two
# versions and the hash of both modules' files and the Go version, so a warm cache builds nothing. The
# last line printed is that directory; it holds `registry-<version>` for each, e.g. registry-2.8.3 and
# registry-3.1.2. The integration tests run these where they stand for the deployed registry image
# (test/support/distributionBinaries.ts).
#
#   sh tools/distribution/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="Distribution build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"

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

out="$cache/build/distribution-${v2_name#registry-}-${v3_name#registry-}-$(module_key v2 v3)"
if [ -x "$out/$v2_name" ] && [ -x "$out/$v3_name" ]; then
    say "Distribution build: $v2_name and $v3_name are cached"
else
    build() {
        for major in v2 v3; do
            if [ "$major" = v2 ]; then
                module=$v2_module stamp=$v2_stamp version=$v2_version name=$v2_name
            else
                module=$v3_module stamp=$v3_stamp version=$v3_version name=$v3_name
            fi
            say "Distribution build: building $name"
            started=$(date +%s)
            (cd "$here/$major" && go build -tags "osusergo netgo" -ldflags "-s -w -X $stamp=${version%+incompatible}" \
                -o "$1/$name" "$module/cmd/registry")
            say "Distribution build: $name built in $(($(date +%s) - started)) s"
        done
    }
    build_into "$out" build
fi
echo "$out"
