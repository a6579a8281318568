#!/bin/sh
# The node watcher (a container with the Docker host's socket): configures every node of kind cluster
# $CLUSTER that runs, then each node container that starts (a cluster deleted and created again
# without `pulumi up`, a node restarted), and every RECHECK_SECONDS every running node again, which puts
# back a file of the program's edited or removed by hand inside a node (node-inside.sh writes only what
# differs; only such a repair, or a failure, is logged). Runs until its container stops.
: "${CLUSTER:?}" "${KIND_NETWORK:?}" "${REGISTRY_NAME:?}" "${NODE_SCRIPT_FILE:?}" "${RECHECK_SECONDS:?}"
set -u
# shellcheck source=./node-configure.sh
. "$(dirname "$0")/node-configure.sh"
ensure_front_attached
for node in $(cluster_nodes); do configure_node "$node" || true; done
(
  while sleep "$RECHECK_SECONDS"; do
    for node in $(cluster_nodes); do
      out=$(configure_node "$node" 2>&1) || true
      case "$out" in *wrote* | *removed* | *"not configured"*) printf '%s\n' "$out" ;; esac
    done
  done
) &
docker events --filter type=container --filter event=start --filter "label=io.x-k8s.kind.cluster=$CLUSTER" \
  --format '{{.Actor.Attributes.name}}' | while read -r node; do
  ensure_front_attached
  configure_node "$node" || true
done
