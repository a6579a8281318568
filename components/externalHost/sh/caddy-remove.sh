#!/bin/sh
# On destroy: removes the front's container FRONT_NAME and replaces the registry's Caddyfile CADDYFILE
# with a note that the site was removed. Caddy's certificates and ACME account (FRONT_DIR) stay, as the
# registry's data does: a stack deployed again on this host takes them up without a new ACME order.
: "${CADDYFILE:?}" "${FRONT_NAME:?}" "${FRONT_DIR:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
f="${DSO_ROOT:-}$CADDYFILE"
docker rm -f "$FRONT_NAME" >/dev/null 2>&1 || true
echo "# The dso-registry site was removed by pulumi destroy; its certificates stay in $FRONT_DIR." >"$f"
echo "removed the front (caddy) and its site"
