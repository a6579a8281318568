#!/bin/sh
# The host's front: Caddy from the pinned image FRONT_IMAGE (`registry.caddyImage`, the same Caddy as the
# in-cluster sidecar and kind's front), run by the host's container engine as container FRONT_NAME with
# the host's network, so it listens on the host's ports as a service would.
#
# It validates the Caddyfile CADDYFILE with that Caddy (inside the running front, or in a throwaway
# container with the same mounts and no network when the front is to be made anew), then applies it:
# `caddy reload` inside the front when the front runs from the same spec (image and mounts), otherwise
# the front is made anew. An invalid Caddyfile fails the update and leaves
# the running front alone. FILES_FINGERPRINT covers every file Caddy reads: the script's text changes
# with it, so it runs again whenever one of them changes.
#
# Every path the front reads is mounted at the same path (the Caddyfile names host paths): the config
# directory read-only, the registry's data directory read-only (blob downloads), the unix sockets'
# directories of Distribution, Maven's backend and the caches, the host's trust store read-only (an
# ACME directory of the organisation's own CA), and FRONT_DIR, Caddy's own: certificates and ACME
# account under data/, its autosave under config/, the access log under logs/. The admin endpoint is a
# unix socket on a tmpfs of the container's own (ADMIN_DIR): new at each start, and
# reached only from inside (`caddy reload` through the engine's exec).
# Caddy runs as root in the container with no capability but NET_BIND_SERVICE: it reads what root owns,
# and nothing else of the host is mounted.
# Its memory is limited to FRONT_MEMORY_MIB (no swap beyond it), Go's runtime told to collect harder near
# FRONT_GO_MEMORY_LIMIT, and its open files (so its connections) to FRONT_OPEN_FILES: clients that open
# connections and never finish a request can slow the front down, but not grow it into the host's memory
# (docs/decisions/access-policy.md#slow-clients), and one client address cannot take them all (the cap).
#
# The first apply on a host whose front was the distribution's caddy service moves it: the service's
# certificates and ACME account (PACKAGE_DATA_DIR) are copied into FRONT_DIR/data when that holds none
# yet (no new ACME order), the service is stopped and disabled (systemd), or told to stop through its
# admin endpoint (PACKAGE_ADMIN_SOCKET) where no systemd runs, and the
# front starts in its place: made before the service stops and started right after, so the port is
# closed only while Caddy starts (measured in docs/performance.md). The same holds when the front is made
# anew (a new image).
#
# A container named FRONT_NAME (or FRONT_NAME-next, the name a new front is made under) that the stack
# did not make stops the apply before anything changes (refuse_foreign, container-converge.sh).
#
# With the online collection's holds (SWEEP_GATE set), the gate that manifest PUTs (and held blobs' commits
# and mounts) pass through is made before the front takes a file that routes through it: a link to
# Distribution's socket REGISTRY_SOCKET (the path the front's container sees). It is made only where it is
# missing, under the maintenance lock: a collection in progress has it away on purpose, and puts it back
# itself when it ends.
#
# Once the Caddyfile is valid, the front's ports get their cap on connections per client address
# (connection-cap.sh: the nftables table CAP_TABLE from CAP_NFT, kept in CAP_RULES, loaded at boot by
# CAP_BOOT), before the front takes the new file.
: "${CADDYFILE:?}" "${SWEEP_GATE?}" "${REGISTRY_SOCKET:?}" "${FILES_FINGERPRINT:?}" "${FRONT_NAME:?}" "${FRONT_IMAGE:?}" "${FRONT_DIR:?}" "${FRONT_MOUNTS:?}"
: "${ADMIN_DIR:?}" "${PACKAGE_DATA_DIR:?}" "${PACKAGE_ADMIN_SOCKET:?}" "${LOCK_FILE:?}"
: "${FRONT_MEMORY_MIB:?}" "${FRONT_GO_MEMORY_LIMIT:?}" "${FRONT_OPEN_FILES:?}"
: "${CAP_TABLE:?}" "${CAP_NFT:?}" "${CAP_RULES:?}" "${CAP_BOOT:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=./lock.sh
. "$(dirname "$0")/lock.sh"
# shellcheck source=./connection-cap.sh
. "$(dirname "$0")/connection-cap.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
refuse_foreign "$FRONT_NAME"
refuse_foreign "$FRONT_NAME-next"
front_dir="${DSO_ROOT:-}$FRONT_DIR"
mkdir -p "$front_dir/data" "$front_dir/config" "$front_dir/logs"
if [ -n "$SWEEP_GATE" ] && [ ! -L "${DSO_ROOT:-}$SWEEP_GATE" ]; then
    take_lock "$LOCK_FILE"
    mkdir -p "$(dirname "${DSO_ROOT:-}$SWEEP_GATE")"
    ln -sfn "$REGISTRY_SOCKET" "${DSO_ROOT:-}$SWEEP_GATE"
fi
chmod 0700 "$front_dir/data" "$front_dir/config" "$front_dir/logs"

# front_container VERB OPTION... IMAGE ARG...: `docker VERB` (run, create) with the front's mounts and
# environment, then OPTION... (options may come in any order before the image).
front_container() {
    verb=$1
    shift
    # The host's trust store, where it has one (Debian's and Fedora's layouts).
    for store in /etc/pki /etc/ssl/certs; do
        if [ -d "$store" ]; then set -- -v "$store:$store:ro" "$@"; fi
    done
    for mount in $FRONT_MOUNTS; do
        mkdir -p "${DSO_ROOT:-}${mount%%:*}"
        set -- -v "${DSO_ROOT:-}$mount" "$@"
    done
    docker "$verb" -e "XDG_DATA_HOME=$FRONT_DIR/data" -e "XDG_CONFIG_HOME=$FRONT_DIR/config" -v "$front_dir:$FRONT_DIR" "$@"
}

limits="memory:$FRONT_MEMORY_MIB go:$FRONT_GO_MEMORY_LIMIT files:$FRONT_OPEN_FILES"
spec="$FRONT_IMAGE mounts:$(printf '%s %s %s' "$FRONT_DIR" "$FRONT_MOUNTS" "$limits" | sha256sum | cut -c1-16)"
have=$(docker inspect -f '{{index .Config.Labels "dso-registry.spec"}} {{.State.Running}}' "$FRONT_NAME" 2>/dev/null || true)

# validate: `caddy validate` by the Caddy that will run the file: the front itself when it runs from
# this spec (it sees the same files), otherwise a throwaway container of the image with its mounts.
validate() {
    if [ "$have" = "$spec true" ]; then
        docker exec "$FRONT_NAME" caddy validate --adapter caddyfile --config "$CADDYFILE"
    else
        front_container run --rm --network none --cap-drop ALL --cap-add NET_BIND_SERVICE "$FRONT_IMAGE" \
            caddy validate --adapter caddyfile --config "$CADDYFILE"
    fi
}
if ! out=$(validate 2>&1); then
    echo "$out" | grep -v '"level":"info"' >&2
    echo "caddy validate rejected $CADDYFILE; the running front was not changed" >&2
    exit 1
fi
connection_cap_apply
if [ "$have" = "$spec true" ] && [ -z "${DSO_RECREATE:-}" ]; then
    if docker exec "$FRONT_NAME" caddy reload --adapter caddyfile --config "$CADDYFILE" >/dev/null 2>&1; then
        echo "reloaded caddy"
        exit 0
    fi
    echo "the front did not take the reload: making it anew" >&2
fi

# Making the front anew waits for a maintenance run in progress (its read-only window is the front's).
take_lock "$LOCK_FILE"
# The new front is made before the old one goes, and started right after: the port is closed only for
# the time Caddy takes to start.
remove_container "$FRONT_NAME-next"
front_container create --name "$FRONT_NAME-next" --restart unless-stopped --label "dso-registry.spec=$spec" \
    --network host --cap-drop ALL --cap-add NET_BIND_SERVICE --security-opt no-new-privileges --tmpfs "$ADMIN_DIR" \
    --memory "${FRONT_MEMORY_MIB}m" --memory-swap "${FRONT_MEMORY_MIB}m" -e "GOMEMLIMIT=$FRONT_GO_MEMORY_LIMIT" \
    --ulimit "nofile=$FRONT_OPEN_FILES:$FRONT_OPEN_FILES" \
    "$FRONT_IMAGE" caddy run --adapter caddyfile --config "$CADDYFILE" >/dev/null

# The distribution's caddy service, on a host moving to the front (no front yet): its certificates
# first, then it stops. With a front already there, nothing else on the host is touched.
package_data="${DSO_ROOT:-}$PACKAGE_DATA_DIR"
if [ -n "$have" ]; then
    :
elif [ -d "$package_data" ] && [ -z "$(ls -A "$front_dir/data" 2>/dev/null)" ]; then
    mkdir -p "$front_dir/data/caddy"
    cp -a "$package_data/." "$front_dir/data/caddy/"
    chown -R root:root "$front_dir/data"
    echo "copied the caddy service's certificates and ACME account into $FRONT_DIR/data"
fi
# package_admin PATH: the caddy service's admin endpoint answers PATH on the socket the earlier versions'
# Caddyfile gave it (Caddy takes an empty Host there). Caddy's default address, localhost:2019, is not
# asked: a Caddy listening there may be anybody's, and is not stopped.
package_admin() {
    curl -fsS --max-time 10 --unix-socket "${DSO_ROOT:-}$PACKAGE_ADMIN_SOCKET" -H 'Host: ' "$@" "http://localhost$1" >/dev/null 2>&1
}
if [ -n "$have" ]; then
    :
elif command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet caddy 2>/dev/null; then
    systemctl disable --now caddy >/dev/null 2>&1 || systemctl stop caddy
    echo "stopped and disabled the caddy service: the front runs in its place"
elif package_admin /config/; then
    package_admin /stop -X POST || true
    # The admin endpoint is the last thing a stopping Caddy closes: once it is gone, so are its listeners.
    tries=0
    while package_admin /config/; do
        if [ "$tries" -ge 40 ]; then
            remove_container "$FRONT_NAME-next"
            echo "the caddy service did not stop: stop it (systemctl disable --now caddy), then run pulumi up again" >&2
            exit 1
        fi
        sleep 0.25
        tries=$((tries + 1))
    done
    echo "stopped the caddy service through its admin endpoint: the front runs in its place"
fi
remove_container "$FRONT_NAME"
docker rename "$FRONT_NAME-next" "$FRONT_NAME"
docker start "$FRONT_NAME" >/dev/null
echo "changed caddy"
# The front is up once Caddy has loaded the config (its log says so at start).
waited=0
until docker logs "$FRONT_NAME" 2>&1 | grep -q 'serving initial configuration'; do
    if [ "$waited" -ge 60 ] || [ "$(docker inspect -f '{{.State.Running}}' "$FRONT_NAME" 2>/dev/null)" != true ]; then
        docker logs --tail 20 "$FRONT_NAME" >&2 || true
        echo "the front did not start: its log is above (another server on its ports, such as a caddy service, must be stopped first)" >&2
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
