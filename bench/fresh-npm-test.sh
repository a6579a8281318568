#!/bin/sh
# The newcomer's run, timed as a new user's machine would see it: a fresh clone of this repository's HEAD,
# `npm ci`, then `npm test` (which installs the Debian packages it needs itself), with an empty engine
# cache and, with --purge, the Debian packages of test/support/debianPackages*.txt removed first. It prints
# each step's seconds, and checks that npm test built nothing (the empty cache stays empty).
#
#   sh bench/fresh-npm-test.sh [--purge]
#
# --purge removes those packages from this machine (apt-get purge, then autoremove) before the run: only
# on a machine of its own, as root. Without it the packages already installed are kept, and the figure
# leaves out their install.
set -eu
repo=$(cd "$(dirname "$0")/.." && pwd)
purge=false
case "${1:-}" in
--purge) purge=true ;;
"") ;;
*)
    echo "usage: sh bench/fresh-npm-test.sh [--purge]" >&2
    exit 2
    ;;
esac

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cache="$work/empty-engine-cache"
mkdir -p "$cache"

if [ "$purge" = true ]; then
    packages=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e 's/^[[:space:]]*\([^[:space:]]*\).*/\1/' "$repo/test/support/debianPackages.core.txt" "$repo/test/support/debianPackages.txt" |
        grep -vx -e openssl -e curl -e iproute2 -e util-linux -e bsdutils -e sudo -e openssh-client | tr '\n' ' ')
    echo "purging: $packages"
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $packages >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get autoremove -y -qq >/dev/null
fi

git clone -q "$repo" "$work/dso-registry"
cd "$work/dso-registry"
step() {
    name=$1
    shift
    started=$(date +%s)
    "$@"
    echo "bench: $name: $(($(date +%s) - started)) s"
}
total_started=$(date +%s)
step "npm ci" npm ci --no-audit --no-fund --silent
step "npm test" env DSO_ENGINE_CACHE="$cache" npm test
echo "bench: total: $(($(date +%s) - total_started)) s"
if [ -n "$(ls -A "$cache")" ]; then
    echo "bench: npm test wrote to the engine cache: it built something" >&2
    exit 1
fi
echo "bench: the engine cache is still empty: npm test built nothing"
