#!/bin/sh
# On destroy: replaces the registry's Caddyfile CADDYFILE with one that serves no site (so Caddy keeps
# running for anything else the operator adds later) and reloads.
: "${CADDYFILE:?}" "${ADMIN_SOCKET:?}"
set -eu
f="${DSO_ROOT:-}$CADDYFILE"
echo "# The dso-registry site was removed by pulumi destroy." >"$f"
# The running Caddy listens for reloads on the socket the registry's Caddyfile named; the new one has
# Caddy's default admin endpoint again, which the service's own reloads then use.
timeout 50 caddy reload --address "unix/${DSO_ROOT:-}$ADMIN_SOCKET" --adapter caddyfile --config "$f" >/dev/null 2>&1 ||
    (command -v systemctl >/dev/null 2>&1 && systemctl restart caddy) || true
echo "removed caddy site"
