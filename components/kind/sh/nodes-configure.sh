#!/bin/sh
# Configures every running node of kind cluster $CLUSTER for the registry (node-configure.sh). A
# cluster that does not run yet is no error: the node watcher configures its nodes when they start.
: "${CLUSTER:?}" "${KIND_NETWORK:?}" "${REGISTRY_NAME:?}" "${NODE_SCRIPT_FILE:?}"
set -eu
# shellcheck source=./node-configure.sh
. "$(dirname "$0")/node-configure.sh"
ensure_front_attached
failed=0
nodes=$(cluster_nodes "$CLUSTER")
[ -n "$nodes" ] || echo "no running node of kind cluster $CLUSTER: the node watcher configures them when they start"
for node in $nodes; do configure_node "$node" || failed=1; done
exit "$failed"
