# shellcheck shell=sh
# The Maven backend's container on the host (components/externalHost/mavenScripts.ts
# `mavenRunParams`): nginx as the non-root MAVEN_UID, published on loopback only, the data directory
# read-write, its config read-only, a tmpfs for its pid file. A script that sources this declares the
# MAVEN_ run parameters and sources ../../upkeep/sh/container-converge.sh too.

# run_maven: runs the Maven container, labelled MAVEN_FINGERPRINT.
run_maven() {
    run_container "$MAVEN_CONTAINER" "$MAVEN_FINGERPRINT" --user "$MAVEN_UID:$MAVEN_UID" -p "127.0.0.1:$MAVEN_PORT:$MAVEN_PORT" \
        -v "${DSO_ROOT:-}$MAVEN_DATA_DIR:$MAVEN_BACKEND_DATA_DIR" -v "${DSO_ROOT:-}$MAVEN_CONFIG_DIR:$MAVEN_BACKEND_CONFIG_DIR:ro" \
        --tmpfs "$MAVEN_BACKEND_RUN_DIR" "$MAVEN_IMAGE" nginx -e stderr -c "$MAVEN_BACKEND_CONFIG_DIR/nginx.conf"
}
