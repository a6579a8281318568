#!/bin/sh
# With several kind clusters (kind.clusterNames): stops the node watcher ($WATCHER_NAME) before the
# clusters' files are removed (`destroy`), so that it cannot put them back in between; its container is
# removed with the others right after. Only a watcher that serves exactly $CLUSTERS (the list this stack
# last deployed) with the same registry name and port is stopped: one that serves another list (a cluster
# added or taken off, back to kind.clusterName) belongs to the stack as it now is and keeps running. A
# container of the watcher's name that the stack did not make is never stopped, nor looked into.
: "${CLUSTERS:?}" "${REGISTRY_NAME:?}" "${HOST_PORT:?}" "${WATCHER_NAME:?}" "${WATCHER_BIN:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
if foreign "$WATCHER_NAME"; then
  echo "left container $WATCHER_NAME as it is: this stack did not make it (it has no label dso-registry.spec)"
elif docker exec "$WATCHER_NAME" grep -qx "CLUSTERS='$CLUSTERS'" "$WATCHER_BIN/node-watch.sh" 2>/dev/null &&
  docker exec "$WATCHER_NAME" grep -qx "REGISTRY_NAME='$REGISTRY_NAME'" "$WATCHER_BIN/node-watch.sh" 2>/dev/null &&
  docker exec "$WATCHER_NAME" grep -qx "PORT='$HOST_PORT'" "$WATCHER_BIN/node-inside.sh" 2>/dev/null; then
  docker stop "$WATCHER_NAME" >/dev/null 2>&1 || true
  echo "stopped the node watcher $WATCHER_NAME: it would put the clusters' files back"
fi
