#!/bin/sh
# The node watcher (a container with the Docker host's socket): configures every node of kind cluster
# $CLUSTER that runs, then each node container that starts (a cluster deleted and created again
# without `pulumi up`, a node restarted). Runs until its container stops.
: "${CLUSTER:?}" "${KIND_NETWORK:?}" "${REGISTRY_NAME:?}" "${NODE_SCRIPT_FILE:?}"
set -u
# shellcheck source=./node-configure.sh
. "$(dirname "$0")/node-configure.sh"
ensure_front_attached
for node in $(cluster_nodes); do configure_node "$node" || true; done
docker events --filter type=container --filter event=start --filter "label=io.x-k8s.kind.cluster=$CLUSTER" \
  --format '{{.Actor.Attributes.name}}' | while read -r node; do
  ensure_front_attached
  configure_node "$node" || true
done
