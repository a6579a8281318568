#!/bin/sh
# Managed by dso-registry: the command of a pull-through cache's container, in every placement, beside
# its two configs in the same directory. See docs/mirrors.md.
#
# While the upstream's API (REMOTE_URL) answers, it runs Distribution in proxy mode (PROXY_CONFIG). While
# it does not, it runs Distribution without the proxy and read-only (READ_ONLY_CONFIG) on the same
# storage: that serves every repository, tag, manifest and blob the cache holds and refuses every write.
# It asks the upstream again every PROBE_SECONDS and turns to proxy mode once it answers. A proxy that
# runs is never stopped: when its upstream goes away it answers from what it holds by itself (a tag it
# cannot resolve there is served from its own tags; what it holds is served without asking).
#
# Why a script: Distribution's proxy asks the upstream's /v2/ once as it starts and exits when that
# request fails (2.8 and 3.x: registry/proxy configureAuth, then a panic in handlers.NewApp). A cache
# restarted during an outage, or started where its upstream cannot be reached at all, would never serve
# what it holds, and a cluster would wait for its pod. Distribution 3's `proxy.exec` (a credential helper)
# skips that request, but Distribution 2.8 has no such key, and with it the upstream account would go to
# whichever challenge the upstream answers later, not only to the token realm it named at start.
#
# Any HTTP answer counts, as for Distribution, and its certificate is not checked here: a proxy that
# still cannot start ends, and the cache serves read-only again until the next probe. A probe is
# busybox's wget under `timeout`, which the registry image has. TERM and INT stop Distribution, which
# lets the requests under way finish, and then the script. When the read-only registry itself ends, the
# script ends with its status, so that the container's restart policy shows and retries it.
: "${PROXY_CONFIG:?}" "${READ_ONLY_CONFIG:?}" "${REMOTE_URL:?}" "${PROBE_SECONDS:?}"
set -u
dir=$(dirname "$0")
registry_pid='' waiting_pid=''

say() { echo "dso-registry cache: $*"; }

# in_background COMMAND...: runs COMMAND in the background and waits for it (its status), so that TERM
# is handled at once, not after it.
in_background() {
    "$@" &
    waiting_pid=$!
    wait "$waiting_pid"
    set -- $?
    waiting_pid=''
    return "$1"
}

probe() { timeout "$PROBE_SECONDS" wget -S -O /dev/null --no-check-certificate "$REMOTE_URL/v2/" 2>&1 | grep -q '^  HTTP/'; }
upstream_answers() { in_background probe; }

stop() {
    if [ -n "$waiting_pid" ]; then kill -TERM "$waiting_pid" 2>/dev/null; fi
    if [ -n "$registry_pid" ]; then
        kill -TERM "$registry_pid" 2>/dev/null
        wait "$registry_pid"
    fi
    exit 0
}
trap stop TERM INT

# serve CONFIG: Distribution on CONFIG, in the background (registry_pid).
serve() {
    registry serve "$dir/$1" &
    registry_pid=$!
}

# Waits for Distribution to end; its status in `status`.
wait_registry() {
    wait "$registry_pid"
    status=$?
    registry_pid=''
}

proxy() {
    serve "$PROXY_CONFIG"
    wait_registry
    say "the pull-through cache ended (exit $status)"
}

# Read-only until the upstream answers; returns then, with Distribution stopped.
read_only() {
    say "$REMOTE_URL does not answer: serving what this cache holds, read-only, and asking again every $PROBE_SECONDS s"
    serve "$READ_ONLY_CONFIG"
    while :; do
        in_background sleep "$PROBE_SECONDS"
        if ! kill -0 "$registry_pid" 2>/dev/null; then
            wait_registry
            say "the read-only registry ended (exit $status)"
            exit "$status"
        fi
        if upstream_answers; then
            say "$REMOTE_URL answers again: turning to the pull-through cache"
            kill -TERM "$registry_pid"
            wait_registry
            return 0
        fi
    done
}

# Without these a cache would never ask its upstream, and serve read-only for ever without a word.
for tool in registry wget timeout grep; do
    command -v "$tool" >/dev/null || { say "$tool is not in this image; the official registry image has it (busybox)"; exit 1; }
done
if upstream_answers; then
    say "$REMOTE_URL answers: serving as its pull-through cache"
    proxy
fi
while :; do
    read_only
    proxy
done
