#!/bin/sh
# Managed by dso-registry: registry garbage collection, in the read-only window (GC_MODE window) or while
# pushes go on (GC_MODE online). See docs/external-host.md; why the window:
# docs/decisions/maintenance-window.md; why online is safe: docs/decisions/online-collection.md.
#
# Online: Distribution stays up and writable (it runs without its blob-descriptor cache, which the job
# checks first), and online-collect.sh collects while pushes go on, with the front's holds in
# ONLINE_HOLD_DIR (its gate a link to Distribution's socket UNIX_SOCKET) and its access log
# ONLINE_ACCESS_LOG as the record. Tag retention's removals and Maven's
# clean-up, when there are any, get a read-only window of their own before it, without a restart (the
# marker only, for seconds). With s3 storage the collection reaches the bucket at ONLINE_S3_URL itself, with
# the registry's key made into a curl config file (mode 0600, removed at the end; never on a command line).
# Window:
# The front's marker goes up, the registry is recreated read-only (pulls go on, writes get 503 at the
# front), the collection runs (and the Maven clean-up, when the host serves Maven), and the registry is
# recreated writable, which starts it with an empty blob-descriptor cache; the writable registry comes
# back even when the collection fails. Then dso-registry-verify checks every tagged image through it.
# With s3 storage the collection runs against the bucket (`docker exec` inherits the credentials).
# RETENTION_SCRIPT (tag retention; empty: none) reads the tags under its rules and writes its plan
# before the window, while pushes go on; inside the window, while Distribution is still writable and the
# front already refuses every write, it makes the plan's removals (checking what changed since), so that
# the collection frees what it removed; a failed retention run does not stop the collection, and fails
# the job at the end. PULLS_SCRIPT (empty: none) reads the front's access log into the pull history
# first, so that retention's plan sees the pulls up to then (keepPulledWithinDays).
# A container of the registry's names that the stack did not make stops the job before the window
# opens, and nothing is stopped or removed (refuse_foreign_registry).
: "${LOCK_FILE:?}" "${MARKER:?}" "${FRONT_SETTLE_SECONDS:?}" "${FRONT_DRAIN_SECONDS:?}" "${STOP_SECONDS:?}" "${DELETE_UNTAGGED:?}" "${VERIFY_SCRIPT:?}" "${RETENTION_SCRIPT?}" "${PULLS_SCRIPT?}"
: "${REGISTRY_NAME:?}" "${REGISTRY_IMAGE:?}" "${REGISTRY_SOCKET_DIR:?}" "${REGISTRY_STORAGE:?}" "${REGISTRY_DATA_DIR:?}"
: "${REGISTRY_CONFIG_DIR:?}" "${REGISTRY_STORAGE_ENV:?}" "${REGISTRY_FINGERPRINT:?}" "${REGISTRY_METRICS_PORT?}"
: "${RELAY_NAME:?}" "${RELAY_IMAGE?}" "${RELAY_CONFIG_DIR?}" "${RELAY_FINGERPRINT?}"
: "${DISTRIBUTION_SOCKET_DIR:?}" "${DISTRIBUTION_SOCKET:?}" "${DISTRIBUTION_DATA_DIR:?}" "${DISTRIBUTION_CONFIG_DIR:?}" "${DISTRIBUTION_ENV:?}"
: "${GC_MODE:?}" "${ONLINE_HOLD_DIR?}" "${ONLINE_ACCESS_LOG?}" "${ONLINE_GRACE_SECONDS?}" "${ONLINE_SETTLE_SECONDS?}" "${ONLINE_QUARANTINE_SECONDS?}"
: "${ONLINE_S3_URL?}" "${ONLINE_S3_REGION?}" "${REGISTRY_URL:?}" "${HTTP_CLIENT:?}" "${UNIX_SOCKET:?}"
: "${MAVEN_DATA_DIR?}" "${MAVEN_PATH_PREFIX?}" "${MAVEN_SNAPSHOT_BUILDS_TO_KEEP?}" "${MAVEN_UPLOADS?}" "${MAVEN_UPLOAD_LEFTOVER_MINUTES?}"
: "${REPORTER?}" "${REPORT_SELF?}" "${REPORT_MEASURED?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/reported.sh
. "$(dirname "$0")/../../upkeep/sh/reported.sh"
reported gc "$@"
# shellcheck source=./lock.sh
. "$(dirname "$0")/lock.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
# shellcheck source=./registry-run.sh
. "$(dirname "$0")/registry-run.sh"
# shellcheck source=../../upkeep/sh/front-window.sh
. "$(dirname "$0")/../../upkeep/sh/front-window.sh"
# shellcheck source=../../upkeep/sh/collect.sh
. "$(dirname "$0")/../../upkeep/sh/collect.sh"
# shellcheck source=../../upkeep/sh/maven-cleanup.sh
. "$(dirname "$0")/../../upkeep/sh/maven-cleanup.sh"
# shellcheck source=../../upkeep/sh/registry-api.sh
. "$(dirname "$0")/../../upkeep/sh/registry-api.sh"
# shellcheck source=../../upkeep/sh/online-collect.sh
. "$(dirname "$0")/../../upkeep/sh/online-collect.sh"
take_lock "$LOCK_FILE"
refuse_foreign_registry
marker="${DSO_ROOT:-}$MARKER"
want=$(registry_spec)
# SIGTERM, and Distribution lets the requests under way finish (http.draintimeout), so that an upload
# already past the front completes instead of being cut.
stop_registry() { docker stop -t "$STOP_SECONDS" "$REGISTRY_NAME" >/dev/null 2>&1 || true; }
# Brings the writable registry back (with its normal spec, hence an empty cache) and closes the window:
# on every exit, also a failed one.
restore() {
    [ -z "$plan" ] || rm -f "$plan"
    stop_registry
    remove_container "$REGISTRY_NAME"
    run_registry "$want" config.yml
    # Close the window only once the registry answers: a PUT that finds no registry is not retried by
    # the front.
    wait_for_registry
    rm -f "$marker"
}
# curl_quoted: stdin as a value of curl's config file, between double quotes (a backslash or a quote escaped).
curl_quoted() { sed 's/[\\"]/\\&/g'; }
# online_s3_key FILE: the registry's S3 key, from its environment file, as curl's `user` in FILE (mode 0600).
online_s3_key() {
    s3_env="${DSO_ROOT:-}$REGISTRY_STORAGE_ENV"
    (
        umask 077
        printf 'user = "%s:%s"\n' \
            "$(sed -n 's/^REGISTRY_STORAGE_S3_ACCESSKEY=//p' "$s3_env" | curl_quoted)" \
            "$(sed -n 's/^REGISTRY_STORAGE_S3_SECRETKEY=//p' "$s3_env" | curl_quoted)" >"$1"
    )
}
# online_done: at the online mode's exit, the key's file goes, and a collection that stopped says so.
online_done() {
    [ -z "$ONLINE_S3_CURL_CONFIG" ] || rm -f "$ONLINE_S3_CURL_CONFIG"
    [ -z "$collecting" ] || echo "the online collection FAILED (see its lines above): what it set aside is back, nothing more was removed" >&2
}
# collect_online_on_host: the online mode, after retention's plan (see the top).
collect_online_on_host() {
    if [ "$(docker inspect -f '{{index .Config.Labels "dso-registry.spec"}} {{.State.Running}}' "$REGISTRY_NAME" 2>/dev/null)" != "$want true" ]; then
        echo "the registry container is not running as this stack last set it up (online collection needs its config without the blob-descriptor cache): run pulumi up first; nothing was collected" >&2
        exit 1
    fi
    if [ "$REGISTRY_STORAGE" = s3 ] && ! command curl --help all 2>/dev/null | grep -q -- '--aws-sigv4'; then
        echo "online collection with s3 storage signs its requests to the bucket with curl's --aws-sigv4 (curl 7.75 or newer); this host has $(command curl --version | head -n 1): nothing was collected" >&2
        exit 1
    fi
    if [ -n "$plan" ] && [ -z "$retention_failed" ] || [ -n "$MAVEN_DATA_DIR" ]; then
        open_marker_window "$marker"
        echo "front read-only for tag retention's removals and Maven's clean-up only; the collection then runs while pushes go on"
        if [ -n "$plan" ] && [ -z "$retention_failed" ]; then "${DSO_ROOT:-}$RETENTION_SCRIPT" apply "$plan" || retention_failed=yes; fi
        if [ -n "$MAVEN_DATA_DIR" ]; then clean_maven_repository; fi
        close_marker_window
        echo "front writable again"
    fi
    [ -z "$plan" ] || rm -f "$plan"
    ONLINE_HOLD_DIR="${DSO_ROOT:-}$ONLINE_HOLD_DIR" ONLINE_ACCESS_LOG="${DSO_ROOT:-}$ONLINE_ACCESS_LOG"
    ONLINE_STORE='' ONLINE_S3_CURL_CONFIG='' collecting='' ONLINE_GATE_TARGET=$UNIX_SOCKET
    mkdir -p "$ONLINE_HOLD_DIR"
    collecting=yes
    trap online_done EXIT
    trap 'exit 143' HUP INT TERM
    if [ "$REGISTRY_STORAGE" = s3 ]; then
        ONLINE_S3_CURL_CONFIG=$(mktemp)
        online_s3_key "$ONLINE_S3_CURL_CONFIG"
    else
        ONLINE_STORE="${DSO_ROOT:-}$REGISTRY_DATA_DIR"
    fi
    echo "collecting garbage while the registry takes pushes (online)"
    # Called as a command of its own, so that it stops at its first failing step (set -e).
    collect_online "$DISTRIBUTION_CONFIG_DIR/config.yml" docker exec "$REGISTRY_NAME"
    collecting=''
    echo "garbage collection done, the registry writable throughout; checking every tagged image"
    "${DSO_ROOT:-}$VERIFY_SCRIPT"
    if [ -n "$retention_failed" ]; then
        echo "tag retention FAILED (see its lines above); the collection and the check ran" >&2
        exit 1
    fi
}
retention_failed='' plan=''
if [ -n "$RETENTION_SCRIPT" ]; then
    plan=$(mktemp)
    [ -z "$PULLS_SCRIPT" ] || "${DSO_ROOT:-}$PULLS_SCRIPT" || echo "the pull history could not be brought up to date; retention keeps what it cannot show unpulled only while the history is short" >&2
    echo "tag retention: reading the tags under its rules while the registry takes writes"
    "${DSO_ROOT:-}$RETENTION_SCRIPT" plan "$plan" || retention_failed=yes
fi
if [ "$GC_MODE" = online ]; then
    collect_online_on_host
    exit
fi
trap restore EXIT
if [ "$REGISTRY_STORAGE" = s3 ]; then open_front_window "$marker"; else open_front_window "$marker" "${DSO_ROOT:-}$REGISTRY_DATA_DIR"; fi
if [ -n "$plan" ] && [ -z "$retention_failed" ]; then
    echo "front read-only; tag retention's removals first"
    "${DSO_ROOT:-}$RETENTION_SCRIPT" apply "$plan" || retention_failed=yes
fi
stop_registry
remove_container "$REGISTRY_NAME"
run_registry read-only config-readonly.yml
echo "registry is read-only; collecting garbage"
if [ "$REGISTRY_STORAGE" = s3 ]; then data=''; else data="${DSO_ROOT:-}$REGISTRY_DATA_DIR"; fi
collect_garbage "$data" "$DELETE_UNTAGGED" "$DISTRIBUTION_CONFIG_DIR/config.yml" docker exec "$REGISTRY_NAME"
if [ -n "$MAVEN_DATA_DIR" ]; then clean_maven_repository; fi
restore
trap - EXIT
echo "garbage collection done; registry back to writable with an empty cache; checking every tagged image"
"${DSO_ROOT:-}$VERIFY_SCRIPT"
if [ -n "$retention_failed" ]; then
    echo "tag retention FAILED (see its lines above); the collection and the check ran" >&2
    exit 1
fi
