#!/bin/sh
# CI's run, timed as CI runs it: a fresh clone of this repository's HEAD, `bash .ci/run` in it with CI=true
# and no standard input, on this machine's engine cache (warm after one `npm run engine:build` and one
# `npm run test:all`, or any earlier run: the figure the budget is about). It prints the run's cost report
# (each project's span and summed time, the slowest files, the closing line) and the whole run's seconds;
# the full output stays in the file it names.
#
#   sh bench/fresh-ci-run.sh
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$(mktemp "${TMPDIR:-/tmp}/dso-registry-ci-run.XXXXXX")

git clone -q "$repo" "$work/dso-registry"
started=$(date +%s)
status=0
(cd "$work/dso-registry" && CI=true bash .ci/run </dev/null >"$log" 2>&1) || status=$?
seconds=$(($(date +%s) - started))
sed -n '/^== cost of the run/,$p' "$log"
echo "bench: bash .ci/run: $seconds s ($((seconds / 60)) min $((seconds % 60)) s), exit $status; its output: $log"
exit "$status"
