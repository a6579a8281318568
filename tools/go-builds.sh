#!/bin/sh
# Runs one of the two chains of Go builds the whole suite needs, each script in turn, and ends with
# "go builds (CHAIN): N s".
#
#   sh tools/go-builds.sh engine   # the engine set with the control plane (tools/engine/build.sh --kube)
#   sh tools/go-builds.sh rest     # the integration project's (test/setup/goBuilds.txt), but for its Caddy,
#                                  # which the engine set builds too (and whose lock would hold this chain back)
#
# .ci/run starts both at its beginning, in the background and at once, so that on a cold machine the
# compiling overlaps the package installs, the type-check, the lint and the synth, and each chain's
# downloads and links use the core the other leaves idle. Warm, each script only checks its cache.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
started=$(date +%s)
case "${1:-}" in
engine) sh "$root/tools/engine/build.sh" --kube ;;
rest)
    grep -v -e '^#' -e '^[[:space:]]*$' -e '^tools/engine/build.sh' "$root/test/setup/goBuilds.txt" |
        while read -r script args; do
            # shellcheck disable=SC2086 # the arguments are words
            sh "$root/$script" $args >/dev/null
        done
    ;;
*)
    echo "usage: sh tools/go-builds.sh engine | rest" >&2
    exit 2
    ;;
esac
echo "go builds ($1): $(($(date +%s) - started)) s"
