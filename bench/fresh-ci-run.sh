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
# With --cpu (root, and Debian's acct package), the kernel's process accounting is on for the run, into a file
# of the run's own, and off after it: then it also prints the CPU time of every process that ended during the
# run (the whole machine's, so run it with nothing else running), by command name, against the cores' time over
# the run. Node's processes are named "node" there, whatever thread name they gave themselves.
#
#   sh bench/fresh-ci-run.sh [--cold] [--cpu]
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
cold=false
cpu=false
for arg in "$@"; do
    case "$arg" in
    --cold) cold=true ;;
    --cpu) cpu=true ;;
    *)
        echo "usage: sh bench/fresh-ci-run.sh [--cold] [--cpu]" >&2
        exit 2
        ;;
    esac
done
if [ "$cpu" = true ] && ! command -v accton >/dev/null; then
    echo "--cpu needs accton and dump-acct (Debian's acct package: apt-get install acct), run as root" >&2
    exit 2
fi
work=$(mktemp -d)
caches="$work/caches"
# Go's module cache is read-only: go removes its own.
trap '[ "$cpu" = false ] || accton off >/dev/null; [ ! -d "$caches/go-mod" ] || GOMODCACHE="$caches/go-mod" PATH="$PATH:/usr/local/go/bin" go clean -modcache || true; rm -rf "$work"' EXIT
log=$(mktemp "${TMPDIR:-/tmp}/dso-registry-ci-run.XXXXXX")

git clone -q "$repo" "$work/dso-registry"
if [ "$cold" = true ]; then
    mkdir -p "$caches"
    export GOMODCACHE="$caches/go-mod" GOCACHE="$caches/go-build" DSO_ENGINE_CACHE="$caches/engine" \
        DSO_NODE_CACHE="$caches/node" npm_config_cache="$caches/npm"
fi
if [ "$cpu" = true ]; then
    : >"$work/pacct"
    accton "$work/pacct" >/dev/null
fi
started=$(date +%s)
status=0
(cd "$work/dso-registry" && CI=true bash .ci/run </dev/null >"$log" 2>&1) || status=$?
seconds=$(($(date +%s) - started))
[ "$cpu" = false ] || accton off >/dev/null
grep -E '^go builds|built in' "$log" || true
sed -n '/^== cost of the run/,$p' "$log"
if [ "$cpu" = true ]; then
    # dump-acct's fields: command, version, user and system time, elapsed time (all three in hundredths of a
    # second), ... ; the busiest 20 commands, then the whole.
    echo "== CPU time of the processes that ended during the run, by command"
    dump-acct "$work/pacct" | awk -F'|' -v wall="$seconds" -v cores="$(nproc)" '
        {
            name = $1; gsub(/ +$/, "", name)
            if (name == "MainThread") name = "node"
            t = ($3 + $4) / 100
            cpu[name] += t; runs[name]++; total += t
        }
        END {
            for (name in cpu) printf "%10.0f s %6.1f %% %7d runs  %s\n", cpu[name], 100 * cpu[name] / total, runs[name], name
            printf "total %.0f s of CPU: %.0f %% of %d cores over the run'"'"'s %d s\n", total, 100 * total / (cores * wall), cores, wall > "/dev/stderr"
        }' 2>"$work/cpu-total" | sort -rn | head -20
    cat "$work/cpu-total"
fi
echo "bench: bash .ci/run$([ "$cold" = true ] && echo ' (cold)'): $seconds s ($((seconds / 60)) min $((seconds % 60)) s), exit $status; its output: $log"
exit "$status"
