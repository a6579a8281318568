#!/bin/sh
# On destroy: removes the front's container FRONT_NAME and replaces the registry's Caddyfile CADDYFILE
# with a note that the site was removed. Caddy's certificates and ACME account (FRONT_DIR) stay, as the
# registry's data does: a stack deployed again on this host takes them up without a new ACME order.
# A container named FRONT_NAME that the stack did not make stays, and so does the Caddyfile.
: "${CADDYFILE:?}" "${FRONT_NAME:?}" "${FRONT_DIR:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
if delete_container "$FRONT_NAME"; then
    echo "# The dso-registry site was removed by pulumi destroy; its certificates stay in $FRONT_DIR." >"${DSO_ROOT:-}$CADDYFILE"
    echo "removed the front (caddy) and its site"
fi
