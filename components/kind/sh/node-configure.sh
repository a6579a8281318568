# shellcheck shell=sh
# Configuring kind node containers from the Docker host (or from the node watcher, which has its
# socket): node-inside.sh ($NODE_SCRIPT_FILE) runs in each node through `docker exec`.

# configure_node NODE: the node container NODE.
configure_node() {
  if ! docker exec -i "$1" sh -s <"$NODE_SCRIPT_FILE"; then
    echo "node $1: not configured" >&2
    return 1
  fi
  echo "node $1: configured"
}

# ensure_front_attached: the front joins the kind network again when that network was made anew.
ensure_front_attached() {
  if ! docker inspect -f '{{json .NetworkSettings.Networks}}' "$REGISTRY_NAME" 2>/dev/null | grep -q "\"$KIND_NETWORK\""; then
    if docker network inspect "$KIND_NETWORK" >/dev/null 2>&1; then
      docker network connect "$KIND_NETWORK" "$REGISTRY_NAME" && echo "attached $REGISTRY_NAME to $KIND_NETWORK"
    fi
  fi
}

# cluster_nodes CLUSTER: the running node containers of kind cluster CLUSTER.
cluster_nodes() {
  docker ps --filter "label=io.x-k8s.kind.cluster=$1" --format '{{.Names}}'
}
