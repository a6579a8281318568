#!/bin/sh
# Removes the registry's hosts.toml files from every running node of kind cluster $CLUSTER. Leaves
# config_path as it is: other registries' files may rely on it.
: "${CLUSTER:?}" "${REGISTRY_NAME:?}" "${HOST_PORT:?}"
set -eu
for node in $(docker ps --filter "label=io.x-k8s.kind.cluster=$CLUSTER" --format '{{.Names}}'); do
  docker exec "$node" rm -rf "/etc/containerd/certs.d/localhost:$HOST_PORT" "/etc/containerd/certs.d/$REGISTRY_NAME:$HOST_PORT" || true
  echo "node $node: registry files removed"
done
