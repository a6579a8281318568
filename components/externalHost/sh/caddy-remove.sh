#!/bin/sh
# On destroy: replaces the registry's Caddyfile CADDYFILE with one that serves no site (so Caddy keeps
# running for anything else the operator adds later) and reloads.
: "${CADDYFILE:?}"
set -eu
f="${DSO_ROOT:-}$CADDYFILE"
echo "# The dso-registry site was removed by pulumi destroy." >"$f"
timeout 50 caddy reload --adapter caddyfile --config "$f" >/dev/null 2>&1 || (command -v systemctl >/dev/null 2>&1 && systemctl reload caddy) || true
echo "removed caddy site"
