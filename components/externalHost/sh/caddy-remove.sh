#!/bin/sh
# On destroy: removes the front's container FRONT_NAME and replaces the registry's Caddyfile CADDYFILE
# with a note that the site was removed. Caddy's certificates and ACME account (FRONT_DIR) stay, as the
# registry's data does: a stack deployed again on this host takes them up without a new ACME order.
# The front's connection cap goes with it (connection-cap.sh: the nftables table CAP_TABLE, its rules file
# CAP_RULES and its boot entry CAP_BOOT). A container named FRONT_NAME that the stack did not make stays,
# and so do the Caddyfile and the cap. The online collection's hold directory SWEEP_HOLD (its gate, and any
# hold a collection cut short left) goes with the front that read it.
: "${CADDYFILE:?}" "${FRONT_NAME:?}" "${FRONT_DIR:?}" "${SWEEP_HOLD:?}" "${CAP_TABLE:?}" "${CAP_RULES:?}" "${CAP_BOOT:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
# shellcheck source=./connection-cap.sh
. "$(dirname "$0")/connection-cap.sh"
if delete_container "$FRONT_NAME"; then
    echo "# The dso-registry site was removed by pulumi destroy; its certificates stay in $FRONT_DIR." >"${DSO_ROOT:-}$CADDYFILE"
    connection_cap_remove
    rm -rf "${DSO_ROOT:-}$SWEEP_HOLD"
    echo "removed the front (caddy) and its site"
fi
