#!/bin/sh
# Removes the registry's hosts.toml files from every running node of kind cluster $CLUSTER, and the
# caches' (those whose first line is $MIRROR_HEADER). Leaves config_path as it is: other registries'
# files may rely on it.
: "${CLUSTER:?}" "${REGISTRY_NAME:?}" "${HOST_PORT:?}" "${MIRROR_HEADER:?}"
set -eu
for node in $(docker ps --filter "label=io.x-k8s.kind.cluster=$CLUSTER" --format '{{.Names}}'); do
  docker exec "$node" rm -rf "/etc/containerd/certs.d/localhost:$HOST_PORT" "/etc/containerd/certs.d/$REGISTRY_NAME:$HOST_PORT" || true
  # shellcheck disable=SC2016 # expanded by the node's shell
  docker exec "$node" sh -c 'for f in /etc/containerd/certs.d/*/hosts.toml; do
    if [ -f "$f" ] && [ "$(head -n 1 "$f")" = "$1" ]; then rm -f "$f"; rmdir "${f%/hosts.toml}" 2>/dev/null || true; fi
  done' sh "$MIRROR_HEADER" || true
  echo "node $node: registry files removed"
done
