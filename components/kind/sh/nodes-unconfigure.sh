#!/bin/sh
# Removes the registry's hosts.toml files from every running node of kind cluster $CLUSTER, and the
# caches' (those whose first line is $MIRROR_HEADER). Leaves config_path as it is: other registries'
# files may rely on it.
#
# The node watcher ($WATCHER_NAME) puts back, at its next recheck, every file of its own that is missing
# from a node. When it writes these very files for this cluster alone (the same registry name and port:
# `destroy`, which removes its container right after), it is stopped first, so that it cannot write them
# again in between. A watcher that serves other clusters too, or writes other files (a renamed cluster, a
# new port), is left running: with several clusters, `destroy` stops it before any cluster's files are
# removed (watcher-stop.sh), and a cluster taken off the list is one the watcher no longer serves. A
# container of the watcher's name that the stack did not make is never stopped, nor looked into.
: "${CLUSTER:?}" "${REGISTRY_NAME:?}" "${HOST_PORT:?}" "${MIRROR_HEADER:?}" "${WATCHER_NAME:?}" "${WATCHER_BIN:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
if foreign "$WATCHER_NAME"; then
  echo "left container $WATCHER_NAME as it is: this stack did not make it (it has no label dso-registry.spec)"
elif { docker exec "$WATCHER_NAME" grep -qx "CLUSTERS='$CLUSTER'" "$WATCHER_BIN/node-watch.sh" 2>/dev/null ||
  docker exec "$WATCHER_NAME" grep -qx "CLUSTER='$CLUSTER'" "$WATCHER_BIN/node-watch.sh" 2>/dev/null; } &&
  docker exec "$WATCHER_NAME" grep -qx "REGISTRY_NAME='$REGISTRY_NAME'" "$WATCHER_BIN/node-watch.sh" 2>/dev/null &&
  docker exec "$WATCHER_NAME" grep -qx "PORT='$HOST_PORT'" "$WATCHER_BIN/node-inside.sh" 2>/dev/null; then
  docker stop "$WATCHER_NAME" >/dev/null 2>&1 || true
  echo "stopped the node watcher $WATCHER_NAME: it would put the files back"
fi
for node in $(docker ps --filter "label=io.x-k8s.kind.cluster=$CLUSTER" --format '{{.Names}}'); do
  docker exec "$node" rm -rf "/etc/containerd/certs.d/localhost:$HOST_PORT" "/etc/containerd/certs.d/$REGISTRY_NAME:$HOST_PORT" || true
  # shellcheck disable=SC2016 # expanded by the node's shell
  docker exec "$node" sh -c 'for f in /etc/containerd/certs.d/*/hosts.toml; do
    if [ -f "$f" ] && [ "$(head -n 1 "$f")" = "$1" ]; then rm -f "$f"; rmdir "${f%/hosts.toml}" 2>/dev/null || true; fi
  done' sh "$MIRROR_HEADER" || true
  echo "node $node: registry files removed"
done
