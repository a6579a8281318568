#!/bin/sh
# Builds the Caddy of the last release that landed (the version its go.mod requires), static as the official
# image's, into the engine tier's cache: one directory keyed by the version and the hash of the module's files
# and the Go version, so a warm cache builds nothing. The last line printed is that directory; it holds
# `caddy`. Only the upgrade test runs it (test/support/caddyBinaries.ts previousCaddy): the front a stack of
# that release runs, which the current release replaces.
#
#   sh tools/caddy-previous/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="Previous Caddy build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"

module=github.com/caddyserver/caddy/v2
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
out="$cache/build/caddy-previous-$version-$(module_key .)"
build() {
    (cd "$here" && CGO_ENABLED=0 go build -ldflags "-s -w" -o "$1/caddy" "$module/cmd/caddy")
}
if [ -x "$out/caddy" ]; then
    say "Previous Caddy build: Caddy $version is cached"
else
    say "Previous Caddy build: building Caddy $version"
    build_into "$out" build
    say "Previous Caddy build: Caddy $version built in $build_seconds s"
fi
echo "$out"
