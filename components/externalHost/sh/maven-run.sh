# shellcheck shell=sh
# The Maven backend's container on the host (components/externalHost/mavenScripts.ts
# `mavenRunParams`): nginx as the non-root MAVEN_UID, the data directory read-write, its config
# read-only, a tmpfs for its pid file. A script that sources this declares the MAVEN_ run parameters
# and sources ../../upkeep/sh/container-converge.sh too.

# run_maven: runs the Maven container, labelled MAVEN_FINGERPRINT. No port is published: nginx
# listens on a unix socket in MAVEN_SOCKET_DIR, bind-mounted from the host. nginx makes every unix
# socket it listens on srw-rw-rw- (it chmods it after bind; there is no directive for the mode), so
# the directory is the guard, as for the registry's socket (registry-run.sh): mode 0750, owned by
# nginx's uid (which creates the socket there) and group `caddy` where the host has one. The front, root
# in its container, connects; no other user of the host does
# (docs/decisions/access-policy.md#no-path-around-the-front). The directory is under /run, which is
# empty after a boot, and nginx is not root, so a systemd-tmpfiles entry (MAVEN_TMPFILES_ENTRY) recreates it with its owner before
# Docker restarts the container. nginx does not bind over an existing socket, so one left by a killed
# nginx (`docker rm -f`) is removed before it starts.
run_maven() {
    socket_dir="${DSO_ROOT:-}$MAVEN_SOCKET_DIR"
    socket_gid=$(getent group caddy | cut -d: -f3 || true)
    [ -n "$socket_gid" ] || socket_gid=$MAVEN_UID
    mkdir -p "$socket_dir"
    chown "$MAVEN_UID:$socket_gid" "$socket_dir"
    chmod 0750 "$socket_dir"
    tmpfiles="${DSO_ROOT:-}$MAVEN_TMPFILES_ENTRY"
    mkdir -p "$(dirname "$tmpfiles")"
    printf '# Managed by dso-registry: the Maven backend'"'"'s socket directory. See docs/maven.md.\nd %s 0750 %s %s -\n' \
        "$MAVEN_SOCKET_DIR" "$MAVEN_UID" "$socket_gid" >"$tmpfiles"
    # shellcheck disable=SC2016 # expanded by the container's shell
    run_container "$MAVEN_CONTAINER" "$MAVEN_FINGERPRINT" --user "$MAVEN_UID:$MAVEN_UID" \
        -v "${DSO_ROOT:-}$MAVEN_DATA_DIR:$MAVEN_BACKEND_DATA_DIR" -v "${DSO_ROOT:-}$MAVEN_CONFIG_DIR:$MAVEN_BACKEND_CONFIG_DIR:ro" \
        -v "$socket_dir:$MAVEN_BACKEND_SOCKET_DIR" --tmpfs "$MAVEN_BACKEND_RUN_DIR" "$MAVEN_IMAGE" \
        sh -c 'rm -f "$1" && exec nginx -e stderr -c "$2"' nginx "$MAVEN_BACKEND_SOCKET" "$MAVEN_BACKEND_CONFIG_DIR/nginx.conf"
}
