#!/bin/sh
# Validates the Caddyfile CADDYFILE with Caddy itself, then applies it: `caddy reload` when Caddy is
# running (its admin endpoint answers), otherwise starts the caddy service. `caddy reload` finds the
# admin endpoint in the Caddyfile (a unix socket only Caddy's user and root can open); a Caddy still
# running a Caddyfile from before the endpoint moved there listens on Caddy's default,
# localhost:2019, and is reloaded there once. An invalid Caddyfile fails
# the update and leaves the running config alone. FILES_FINGERPRINT covers every file Caddy reads: the
# script's text changes with it, so it runs again whenever one of them changes.
#
# A reload of Caddy 2.6 (Debian 12's package) ends every request it is proxying with 502, whatever the
# grace period: an upload streaming a layer fails, of accounts the change does not touch too (Caddy 2.8
# lets such requests finish). So, before a reload, the apply waits while uploads stream: until nothing
# under the registry's upload sessions (REGISTRY_DATA_DIR) was written for UPLOAD_QUIET_SECONDS, for at
# most UPLOAD_WAIT_SECONDS; then it reloads anyway (what still streams gets 502, and its client tries
# that blob again). With s3 storage there is no such directory: no wait.
: "${CADDYFILE:?}" "${FILES_FINGERPRINT:?}" "${REGISTRY_DATA_DIR:?}" "${UPLOAD_QUIET_SECONDS:?}" "${UPLOAD_WAIT_SECONDS:?}"
set -eu
f="${DSO_ROOT:-}$CADDYFILE"
if ! out=$(caddy validate --adapter caddyfile --config "$f" 2>&1); then
    echo "$out" | grep -v '"level":"info"' >&2
    echo "caddy validate rejected $f; the running Caddy config was not changed" >&2
    exit 1
fi

# uploads_streaming: the first upload file written in the last UPLOAD_QUIET_SECONDS, if any.
uploads_streaming() {
    touch -d "$UPLOAD_QUIET_SECONDS seconds ago" "$quiet_since"
    find "$repositories" -path '*/_uploads/*' -type f -newer "$quiet_since" 2>/dev/null | head -n 1
}
repositories="${DSO_ROOT:-}$REGISTRY_DATA_DIR/docker/registry/v2/repositories"
if [ -d "$repositories" ]; then
    quiet_since=$(mktemp)
    waited=0
    while streaming=$(uploads_streaming) && [ -n "$streaming" ]; do
        if [ "$waited" -ge "$UPLOAD_WAIT_SECONDS" ]; then
            echo "uploads still streaming after $waited s (e.g. $streaming): reloading caddy now; they fail with 502 and their clients retry"
            break
        fi
        echo "waiting for uploads in flight before reloading caddy (e.g. $streaming)"
        sleep "$UPLOAD_QUIET_SECONDS"
        waited=$((waited + UPLOAD_QUIET_SECONDS))
    done
    rm -f "$quiet_since"
fi
if timeout 50 caddy reload --adapter caddyfile --config "$f" >/dev/null 2>&1; then
    echo "reloaded caddy"
elif timeout 50 caddy reload --address localhost:2019 --adapter caddyfile --config "$f" >/dev/null 2>&1; then
    echo "reloaded caddy"
elif command -v systemctl >/dev/null 2>&1; then
    systemctl enable caddy >/dev/null 2>&1 || true
    systemctl restart caddy
    echo "restarted caddy"
else
    echo "Caddy is not running and there is no systemd to start it: start it with caddy start --config $f" >&2
    exit 1
fi
