#!/bin/sh
# CI's run, timed as CI runs it: a fresh clone of this repository's HEAD, `bash .ci/run` in it with CI=true
# and no standard input. By default on this machine's caches (warm after one `npm run engine:build` and one
# `npm run test:all`, or any earlier run: the figure the budget is about); with --cold, as a new machine's
# first run: Go's module cache and build cache, the engine cache, the Node cache and npm's cache are empty
# directories of the run's own (this machine's caches are neither read nor changed; the Debian packages stay
# as they are). It prints the Go builds' chains (each one's seconds, and each binary built), the run's cost
# report (each project's span and summed time, the slowest files, the closing line) and the whole run's
# seconds; the full output stays in the file it names.
#
#   sh bench/fresh-ci-run.sh [--cold]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cold=false
case "${1:-}" in
--cold) cold=true ;;
"") ;;
*)
    echo "usage: sh bench/fresh-ci-run.sh [--cold]" >&2
    exit 2
    ;;
esac
work=$(mktemp -d)
caches="$work/caches"
# Go's module cache is read-only: go removes its own.
trap '[ ! -d "$caches/go-mod" ] || GOMODCACHE="$caches/go-mod" PATH="$PATH:/usr/local/go/bin" go clean -modcache || true; rm -rf "$work"' EXIT
log=$(mktemp "${TMPDIR:-/tmp}/dso-registry-ci-run.XXXXXX")

git clone -q "$repo" "$work/dso-registry"
if [ "$cold" = true ]; then
    mkdir -p "$caches"
    export GOMODCACHE="$caches/go-mod" GOCACHE="$caches/go-build" DSO_ENGINE_CACHE="$caches/engine" \
        DSO_NODE_CACHE="$caches/node" npm_config_cache="$caches/npm"
fi
started=$(date +%s)
status=0
(cd "$work/dso-registry" && CI=true bash .ci/run </dev/null >"$log" 2>&1) || status=$?
seconds=$(($(date +%s) - started))
grep -E '^go builds|built in' "$log" || true
sed -n '/^== cost of the run/,$p' "$log"
echo "bench: bash .ci/run$([ "$cold" = true ] && echo ' (cold)'): $seconds s ($((seconds / 60)) min $((seconds % 60)) s), exit $status; its output: $log"
exit "$status"
