# shellcheck shell=sh
# shellcheck disable=SC2034 # cache and build_seconds are for the script that sources this file
# What the builds of our Go wrapper modules share (tools/<name>/build.sh, which sources this file with
# its own arguments): the engine tier's cache, the `--quiet` flag, Go's settings, the key of a build
# directory and the move of a finished build into it. A build directory is named after the versions
# it holds and `module_key`, so a warm cache builds nothing, and it appears only whole.
#
# The sourcing script sets BUILD_WHAT (how its messages start, e.g. "S3 server build") first, and
# then has: `here` (its directory), `cache`, `quiet`, `say`, `module_key` and `build_into`.
#
# DSO_ENGINE_CACHE overrides the cache (default: $XDG_CACHE_HOME or ~/.cache, then dso-registry/engine).
: "${BUILD_WHAT:?}"

here=$(cd "$(dirname "$0")" && pwd)
cache=${DSO_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dso-registry/engine}
case "$#:${1:-}" in
0:) quiet=false ;;
1:--quiet) quiet=true ;;
*)
    echo "usage: sh $0 [--quiet]" >&2
    exit 2
    ;;
esac

PATH=$PATH:/usr/local/go/bin
export PATH
export GOFLAGS=-buildvcs=false
# Static: the tests run these binaries on the host, inside network namespaces and in bare root
# filesystems, with nothing else installed.
export CGO_ENABLED=0
command -v go >/dev/null || {
    echo "$BUILD_WHAT: Go is not installed (Go 1.26 or newer is needed; from 1.21 on, Go fetches the toolchain a module names through the module proxy)" >&2
    exit 1
}

say() { [ "$quiet" = true ] || echo "$@" >&2; }

# go_module_dir WRAPPER MODULE (tools/go-module-dir.sh)
# shellcheck source=go-module-dir.sh
. "$(dirname "$0")/../go-module-dir.sh"

# Builds of one wrapper module take turns: parallel test files that each ask for it wait for one build.
mkdir -p "$cache"
exec 9>"$cache/.$(basename "$here")-build.lock"
if ! flock -n 9; then
    say "$BUILD_WHAT: another build is running; waiting for it"
    flock 9
fi

# module_key DIR...: 16 hex digits of a hash of the wrapper modules' files under DIR... (relative to
# the script's directory) and the Go version.
module_key() {
    (
        cd "$here" && {
            find "$@" -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) | LC_ALL=C sort | xargs sha256sum
            go env GOVERSION
        } | sha256sum | cut -c1-16
    )
}

# build_into OUT COMMAND...: runs COMMAND... with an empty OUT.partial as its last argument, then
# moves that to OUT, so that a build cut short leaves no OUT; sets build_seconds.
build_into() {
    build_out=$1
    shift
    build_started=$(date +%s)
    rm -rf "$build_out.partial"
    mkdir -p "$build_out.partial"
    "$@" "$build_out.partial"
    rm -rf "$build_out" && mv "$build_out.partial" "$build_out"
    build_seconds=$(($(date +%s) - build_started))
}
