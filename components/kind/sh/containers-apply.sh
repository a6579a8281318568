#!/bin/sh
# Runs the kind placement's containers on the Docker host, each only when it is missing, stopped, or
# was made from another spec (container-converge.sh):
# - Distribution ($DISTRIBUTION_NAME) on a private network of its own ($BACKEND_NETWORK: internal, so
#   it has no way out, and without an address of the Docker host on its bridge, so the host has no route
#   to it and forwards nothing there: neither the host, nor a container or kind node on another network
#   reaches it; no port of it is published), its images in $DATA_DIR/images;
# - the front, Caddy ($FRONT_NAME), published on 127.0.0.1:$HOST_PORT, attached to the kind network
#   under its own name and to the backend network: the only way to Distribution; its memory and open
#   files limited as the external host's front (FRONT_MEMORY), so slow clients cannot grow it without end;
# - the node watcher ($WATCHER_NAME), which configures each node of the cluster when it starts;
# - with the web UI (UI_IMAGE not empty), its container ($UI_NAME) on the backend network, with its
#   environment (UI_ENV, `NAME=value` words): the front serves it under /registry/ on its own origin, and
#   nothing else reaches it; without the UI, that container is removed;
# - with scheduled garbage collection or the disk guard (MAINTENANCE_FILES not empty), the maintenance
#   container ($MAINTENANCE_NAME, the watcher's image): busybox crond runs gc.sh and disk-guard.sh on their
#   schedules; without either, that container is removed. Each keeps its marker in $DATA_DIR/window, which
#   the front mounts read-only at $WINDOW_DIR: the collection's opens the read-only window, the disk
#   guard's refuses new uploads while the images' file system is almost full. With retention by last
#   pull (PULL_HARVEST not empty), it keeps the pull history in $DATA_DIR/pulls (at $PULLS_DIR), and the
#   front about to be replaced is stopped and its log harvested first (pull-harvest.sh), so that the pulls
#   it logged are not lost with it;
# - a pull-through cache per line of MIRRORS (`<pathName> <fingerprint> <credentials>`): Distribution
#   ($MIRROR_PREFIX<pathName>, in proxy mode while the upstream answers, read-only on what it holds
#   otherwise) on the backend network, where the front reaches it, and on $EGRESS_NETWORK, its way out
#   to the upstream. It listens on its backend address only (the name
#   $MIRROR_PREFIX<pathName>$BACKEND_ALIAS_SUFFIX exists on the backend network alone): its address on
#   the egress network, which the host reaches, has nothing listening. Its files (MIRROR_FILES, mounted
#   read-only in MIRROR_CONFIG_DIR; its command is the start script MIRROR_START among them), upstream
#   account (env, mode 0600) and storage in $MIRRORS_DIR/<pathName>. Caches no longer listed are removed
#   with their storage.
# The kind network is created when the cluster does not exist yet (kind uses an existing one), so the
# registry runs before, between and after clusters. DISTRIBUTION_FILES, FRONT_FILES and WATCHER_FILES
# name what each container's placed files held (MAINTENANCE_FILES too): a container is replaced only
# when its own files change.
: "${DATA_DIR:?}" "${KIND_NETWORK:?}" "${BACKEND_NETWORK:?}" "${HOST_PORT:?}" "${BIN_DIR:?}"
: "${DISTRIBUTION_FILES:?}" "${FRONT_FILES:?}" "${WATCHER_FILES:?}" "${MAINTENANCE_FILES?}"
: "${DISTRIBUTION_NAME:?}" "${DISTRIBUTION_IMAGE:?}" "${DISTRIBUTION_CONFIG:?}" "${FRONT_NAME:?}" "${FRONT_IMAGE:?}"
: "${WATCHER_NAME:?}" "${WATCHER_IMAGE:?}" "${MAINTENANCE_NAME:?}" "${WINDOW_DIR:?}" "${MAINTENANCE_IMAGES:?}"
: "${EGRESS_NETWORK:?}" "${MIRRORS_DIR:?}" "${MIRROR_PREFIX:?}" "${MIRRORS?}" "${DISTRIBUTION_DATA_DIR:?}" "${DISTRIBUTION_ENV:?}" "${DISTRIBUTION_PORT:?}"
: "${MIRROR_FILES:?}" "${MIRROR_CONFIG_DIR:?}" "${MIRROR_START:?}"
: "${UI_NAME:?}" "${UI_IMAGE?}" "${UI_ENV?}"
: "${FRONT_MEMORY_MIB:?}" "${FRONT_GO_MEMORY_LIMIT:?}" "${FRONT_OPEN_FILES:?}"
: "${PULLS_DIR?}" "${PULL_HARVEST?}"
set -eu
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"

# The backend network's option that keeps the Docker host's address off its bridge.
BACKEND_OPTION=com.docker.network.bridge.inhibit_ipv4
# The suffix of a cache's name on the backend network, where it listens.
BACKEND_ALIAS_SUFFIX=-backend

# ensure_backend_network: the backend network, internal and without the host's address. One made before
# that option carries the host's address: it is removed with the containers on it, which are run again
# below (the images and the caches' storage are directories of the host and stay).
ensure_backend_network() {
  backend_option=$(docker network inspect -f "{{index .Options \"$BACKEND_OPTION\"}}" "$BACKEND_NETWORK" 2>/dev/null) || backend_option=none
  [ "$backend_option" != true ] || return 0
  if [ "$backend_option" != none ]; then
    attached=$(docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' "$BACKEND_NETWORK")
    for name in $attached; do refuse_foreign "$name"; done
    for name in $attached; do docker rm -f "$name" >/dev/null; done
    docker network rm "$BACKEND_NETWORK" >/dev/null
    echo "removed network $BACKEND_NETWORK, which carried the Docker host's address (its containers run again)"
  fi
  docker network create --internal -o "$BACKEND_OPTION=true" "$BACKEND_NETWORK" >/dev/null
  echo "created network $BACKEND_NETWORK (internal, no address of the host)"
}

ensure_network() {
  if ! docker network inspect "$1" >/dev/null 2>&1; then
    shift
    docker network create "$@" >/dev/null
    echo "created network $*"
  fi
}

# run_distribution SPEC: Distribution with its environment (DISTRIBUTION_ENV, `NAME=value` words).
run_distribution() {
  distribution_label=$1
  set --
  for env_word in $DISTRIBUTION_ENV; do set -- "$@" -e "$env_word"; done
  run_container "$DISTRIBUTION_NAME" "$distribution_label" --network "$BACKEND_NETWORK" "$@" \
    -v "$DATA_DIR/images:/var/lib/registry" \
    -v "$DATA_DIR/front/config.yml:$DISTRIBUTION_CONFIG:ro" \
    "$DISTRIBUTION_IMAGE" "$DISTRIBUTION_CONFIG"
}

# The published port needs a network that is not internal first; the backend network is joined after.
run_front() {
  run_container "$FRONT_NAME" "$1" --network "$KIND_NETWORK" -p "127.0.0.1:$HOST_PORT:$HOST_PORT" \
    --memory "${FRONT_MEMORY_MIB}m" --memory-swap "${FRONT_MEMORY_MIB}m" -e "GOMEMLIMIT=$FRONT_GO_MEMORY_LIMIT" \
    --ulimit "nofile=$FRONT_OPEN_FILES:$FRONT_OPEN_FILES" \
    -v "$DATA_DIR/front:/etc/dso-registry:ro" -v "$DATA_DIR/window:$WINDOW_DIR:ro" \
    "$FRONT_IMAGE" caddy run --adapter caddyfile --config /etc/dso-registry/Caddyfile
  docker network connect "$BACKEND_NETWORK" "$FRONT_NAME"
}

# The Docker daemon's socket on this machine, which the watcher and the maintenance container mount as
# /var/run/docker.sock: DOCKER_HOST's, else the current docker context's (rootless Docker and Docker
# Desktop set one up instead of DOCKER_HOST), else the default. A daemon reached over TCP or SSH has no
# socket here to mount: refused, with what to set.
docker_socket() {
  endpoint=${DOCKER_HOST:-}
  if [ -z "$endpoint" ]; then
    endpoint=$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null || :)
  fi
  endpoint=${endpoint:-unix:///var/run/docker.sock}
  case "$endpoint" in
    unix://*) echo "${endpoint#unix://}" ;;
    *)
      echo "the Docker daemon is at $endpoint: the kind placement's watcher needs the daemon's unix socket on this machine; run pulumi up where the daemon runs, with DOCKER_HOST=unix://<its socket> or a docker context whose endpoint is one" >&2
      return 1
      ;;
  esac
}

run_watcher() {
  run_container "$WATCHER_NAME" "$1" --network none \
    -v "$DOCKER_SOCKET:/var/run/docker.sock" \
    -v "$DATA_DIR/bin:$BIN_DIR:ro" \
    --entrypoint /bin/sh "$WATCHER_IMAGE" "$BIN_DIR/node-watch.sh"
}

# run_mirror PATH_NAME SPEC CREDENTIALS: the cache, on the backend network (no port is published) and
# on the egress network before it starts: its start script asks the upstream first, to choose between
# proxy mode and read-only. It listens on its name on the backend network, which resolves there only.
run_mirror() {
  mirror_dir="$MIRRORS_DIR/$1"
  if [ "$3" = true ]; then set -- "$1" "$2" --env-file "$mirror_dir/env"; else set -- "$1" "$2"; fi
  mirror_name="$MIRROR_PREFIX$1" mirror_spec=$2
  shift 2
  for env_word in $DISTRIBUTION_ENV; do set -- "$@" -e "$env_word"; done
  for file in $MIRROR_FILES; do set -- "$@" -v "$mirror_dir/$file:$MIRROR_CONFIG_DIR/$file:ro"; done
  docker create --name "$mirror_name" --restart unless-stopped --label "dso-registry.spec=$mirror_spec" \
    --network "$BACKEND_NETWORK" --network-alias "$mirror_name$BACKEND_ALIAS_SUFFIX" "$@" \
    -e "REGISTRY_HTTP_ADDR=$mirror_name$BACKEND_ALIAS_SUFFIX:$DISTRIBUTION_PORT" \
    -v "$mirror_dir/data:$DISTRIBUTION_DATA_DIR" \
    "$DISTRIBUTION_IMAGE" sh "$MIRROR_START" >/dev/null
  docker network connect "$EGRESS_NETWORK" "$mirror_name"
  docker start "$mirror_name" >/dev/null
}

# The backend network only: the front reaches it there; it reaches nothing, and serves only its own files.
run_ui() {
  ui_label=$1
  set --
  for env_word in $UI_ENV; do set -- "$@" -e "$env_word"; done
  run_container "$UI_NAME" "$ui_label" --network "$BACKEND_NETWORK" "$@" "$UI_IMAGE"
}

# No network: it talks to the Docker host's socket only.
run_maintenance() {
  maintenance_spec=$1
  set --
  if [ -n "$PULLS_DIR" ]; then set -- -v "$DATA_DIR/pulls:$PULLS_DIR"; fi
  run_container "$MAINTENANCE_NAME" "$maintenance_spec" --network none "$@" \
    -v "$DOCKER_SOCKET:/var/run/docker.sock" \
    -v "$DATA_DIR/bin:$BIN_DIR:ro" \
    -v "$DATA_DIR/window:$WINDOW_DIR" \
    -v "$DATA_DIR/images:$MAINTENANCE_IMAGES:ro" \
    -v "$DATA_DIR/bin/crontab:/etc/crontabs/root:ro" \
    --entrypoint crond "$WATCHER_IMAGE" -f -L /dev/stderr -c /etc/crontabs
}

# Before any change: a container of one of the stack's names that the stack did not make stops the run
# (kind's own local-registry recipe names its registry kind-registry, the default kind.containerName).
for name in "$DISTRIBUTION_NAME" "$FRONT_NAME" "$WATCHER_NAME" ${UI_IMAGE:+"$UI_NAME"} ${MAINTENANCE_FILES:+"$MAINTENANCE_NAME"}; do
  refuse_foreign "$name"
done
while read -r path_name _; do
  [ -z "$path_name" ] || refuse_foreign "$MIRROR_PREFIX$path_name"
done <<EOF
$MIRRORS
EOF
DOCKER_SOCKET=$(docker_socket)
mkdir -p "$DATA_DIR/images" "$DATA_DIR/window"
ensure_network "$KIND_NETWORK" "$KIND_NETWORK"
ensure_backend_network
distribution_spec="$DISTRIBUTION_IMAGE env:$DISTRIBUTION_ENV files:$DISTRIBUTION_FILES"
converge_container "$DISTRIBUTION_NAME" "$distribution_spec" distribution run_distribution "$distribution_spec"
front_spec="$FRONT_IMAGE port:$HOST_PORT files:$FRONT_FILES memory:$FRONT_MEMORY_MIB go:$FRONT_GO_MEMORY_LIMIT nofile:$FRONT_OPEN_FILES"
maintenance_spec="$WATCHER_IMAGE files:$MAINTENANCE_FILES${PULLS_DIR:+ pulls:$PULLS_DIR}"
# A front about to be replaced takes its log with it: with a pull history, it stops first and the upkeep
# container (already the one this spec makes: it mounts the history) reads that log whole. A harvest that
# fails only says so: the next one starts the history again from the new front's start.
if [ -n "$PULL_HARVEST" ] && ours "$FRONT_NAME" && ! converged "$FRONT_NAME" "$front_spec" &&
  converged "$MAINTENANCE_NAME" "$maintenance_spec"; then
  docker stop "$FRONT_NAME" >/dev/null 2>&1 || true
  docker exec "$MAINTENANCE_NAME" /bin/sh "$PULL_HARVEST" ||
    echo "the front's log could not be harvested before it is replaced: the pulls it logged since the last harvest are not in the pull history" >&2
fi
converge_container "$FRONT_NAME" "$front_spec" front run_front "$front_spec"
watcher_spec="$WATCHER_IMAGE files:$WATCHER_FILES"
converge_container "$WATCHER_NAME" "$watcher_spec" "node watcher" run_watcher "$watcher_spec"
if [ -n "$UI_IMAGE" ]; then
  ui_spec="$UI_IMAGE env:$UI_ENV"
  converge_container "$UI_NAME" "$ui_spec" "web UI" run_ui "$ui_spec"
elif ours "$UI_NAME"; then
  docker rm -f "$UI_NAME" >/dev/null
  echo "removed web UI (registry.ui.enabled false)"
fi
if [ -n "$MAINTENANCE_FILES" ]; then
  [ -z "$PULLS_DIR" ] || mkdir -p "$DATA_DIR/pulls"
  converge_container "$MAINTENANCE_NAME" "$maintenance_spec" "maintenance (garbage collection, disk guard)" run_maintenance "$maintenance_spec"
elif ours "$MAINTENANCE_NAME"; then
  docker rm -f "$MAINTENANCE_NAME" >/dev/null
  echo "removed maintenance (garbage collection and disk guard off)"
fi
wanted=" "
if [ -n "$MIRRORS" ]; then
  ensure_network "$EGRESS_NETWORK" "$EGRESS_NETWORK"
  while read -r path_name fingerprint credentials; do
    mkdir -p "$MIRRORS_DIR/$path_name/data"
    mirror_spec="$DISTRIBUTION_IMAGE env:$DISTRIBUTION_ENV files:$fingerprint listen:backend"
    if [ "$credentials" = true ]; then mirror_spec=$(spec_with_env "$mirror_spec" "$MIRRORS_DIR/$path_name/env"); fi
    converge_container "$MIRROR_PREFIX$path_name" "$mirror_spec" "cache $path_name" run_mirror "$path_name" "$mirror_spec" "$credentials"
    wanted="$wanted$MIRROR_PREFIX$path_name "
  done <<EOF
$MIRRORS
EOF
fi
for name in $(docker ps -a --filter "name=^$MIRROR_PREFIX" --filter label=dso-registry.spec --format '{{.Names}}'); do
  case "$wanted" in *" $name "*) continue ;; esac
  docker rm -f "$name" >/dev/null
  rm -rf "${MIRRORS_DIR:?}/${name#"$MIRROR_PREFIX"}"
  echo "removed cache ${name#"$MIRROR_PREFIX"} and its storage"
done
if [ -z "$MIRRORS" ]; then docker network rm "$EGRESS_NETWORK" >/dev/null 2>&1 || true; fi
