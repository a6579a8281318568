#!/bin/sh
# The node watcher (a container with the Docker host's socket): configures every node of the kind
# clusters $CLUSTERS (their names, separated by spaces) that runs, then each of their node containers
# that starts (a cluster deleted and created again without `pulumi up`, a node restarted), and every
# RECHECK_SECONDS every running node again, which puts back a file of the program's edited or removed
# by hand inside a node (node-inside.sh writes only what differs; only such a repair, or a failure, is
# logged). Runs until its container stops.
: "${CLUSTERS:?}" "${KIND_NETWORK:?}" "${REGISTRY_NAME:?}" "${NODE_SCRIPT_FILE:?}" "${RECHECK_SECONDS:?}"
set -u
# shellcheck source=./node-configure.sh
. "$(dirname "$0")/node-configure.sh"

# all_nodes: the running node containers of every cluster served.
all_nodes() {
  for cluster in $CLUSTERS; do cluster_nodes "$cluster"; done
}

# served CLUSTER: whether CLUSTER is one of $CLUSTERS.
served() {
  case " $CLUSTERS " in *" $1 "*) return 0 ;; esac
  return 1
}

ensure_front_attached
for node in $(all_nodes); do configure_node "$node" || true; done
(
  while sleep "$RECHECK_SECONDS"; do
    for node in $(all_nodes); do
      out=$(configure_node "$node" 2>&1) || true
      case "$out" in *wrote* | *removed* | *"not configured"*) printf '%s\n' "$out" ;; esac
    done
  done
) &
# Docker ANDs label filters: every kind node's start is read, and those of clusters not served are skipped.
docker events --filter type=container --filter event=start --filter "label=io.x-k8s.kind.cluster" \
  --format '{{.Actor.Attributes.name}} {{index .Actor.Attributes "io.x-k8s.kind.cluster"}}' | while read -r node cluster; do
  served "$cluster" || continue
  ensure_front_attached
  configure_node "$node" || true
done
