#!/bin/sh
# Validates the Caddyfile CADDYFILE with Caddy itself, then applies it: `caddy reload` when Caddy is
# running (its admin endpoint answers), otherwise starts the caddy service. `caddy reload` finds the
# admin endpoint in the Caddyfile (a unix socket only Caddy's user and root can open); a Caddy still
# running a Caddyfile from before the endpoint moved there listens on Caddy's default,
# localhost:2019, and is reloaded there once. An invalid Caddyfile fails
# the update and leaves the running config alone. FILES_FINGERPRINT covers every file Caddy reads: the
# script's text changes with it, so it runs again whenever one of them changes.
: "${CADDYFILE:?}" "${FILES_FINGERPRINT:?}"
set -eu
f="${DSO_ROOT:-}$CADDYFILE"
if ! out=$(caddy validate --adapter caddyfile --config "$f" 2>&1); then
    echo "$out" | grep -v '"level":"info"' >&2
    echo "caddy validate rejected $f; the running Caddy config was not changed" >&2
    exit 1
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
