#!/bin/sh
# One online collection for the tests (components/upkeep/sh/online-collect.sh), with Distribution's
# `registry` command on PATH and the S3 key, when there is one, in its environment.
: "${REGISTRY_URL:?}" "${HTTP_CLIENT:?}" "${UNIX_SOCKET?}" "${REGISTRY_CONFIG:?}"
: "${ONLINE_HOLD_DIR:?}" "${ONLINE_GATE_TARGET:?}" "${ONLINE_ACCESS_LOG:?}" "${ONLINE_GRACE_SECONDS:?}" "${ONLINE_SETTLE_SECONDS:?}" "${ONLINE_QUARANTINE_SECONDS:?}"
: "${ONLINE_STORE?}" "${ONLINE_S3_URL?}" "${ONLINE_S3_REGION?}" "${ONLINE_S3_CURL_CONFIG?}"
set -eu
# shellcheck source=../../components/upkeep/sh/registry-api.sh
. "$(dirname "$0")/../../components/upkeep/sh/registry-api.sh"
# shellcheck source=../../components/upkeep/sh/online-collect.sh
. "$(dirname "$0")/../../components/upkeep/sh/online-collect.sh"
collect_online "$REGISTRY_CONFIG"
