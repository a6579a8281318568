#!/bin/sh
# Builds versitygw, an S3 server that keeps objects in a directory (its posix backend) and verifies
# every request's AWS signature V4, from the wrapper module beside this script (the version its go.mod
# requires) into the engine tier's cache: one directory keyed by the version and the hash of the
# module's files and the Go version, so a warm cache builds nothing. The last line printed is that
# directory; it holds `versitygw`. The integration tests run it wherever a placement talks to S3
# (test/support/s3Server.ts).
#
#   sh tools/s3/build.sh [--quiet]
#
# DSO_ENGINE_CACHE overrides the cache (tools/go-build.sh).
set -eu

BUILD_WHAT="S3 server build"
# shellcheck source=../go-build.sh
. "$(dirname "$0")/../go-build.sh"

module=github.com/versity/versitygw
version=$(cd "$here" && go list -m -f '{{.Version}}' "$module")
out="$cache/build/versitygw-${version#v}-$(module_key .)"
build() {
    (cd "$here" && go build -tags "osusergo netgo" -ldflags "-s -w -X main.Version=$version" -o "$1/versitygw" "$module/cmd/versitygw")
}
if [ -x "$out/versitygw" ]; then
    say "S3 server build: versitygw $version is cached"
else
    say "S3 server build: building versitygw $version"
    build_into "$out" build
    say "S3 server build: versitygw $version built in $build_seconds s"
fi
echo "$out"
