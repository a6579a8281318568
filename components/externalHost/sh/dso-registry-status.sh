#!/bin/sh
# Managed by dso-registry: the registry's state at a glance. See docs/monitoring.md. BUCKET names the s3
# bucket the registry keeps its images in; empty with filesystem storage at DATA_DIR. The certificate is
# the one the front serves on HOST:PORT (asked on loopback); the jobs' outcomes are the files they
# leave in TEXTFILE_DIR (empty: monitoring is off, they leave none); the caches live under CACHES_DIR.
# ROTATION_DUE (Unix seconds) is when the generated passwords' next rotation period begins, with
# ROTATE_AFTER_DAYS its length; both empty when they are rotated by hand only. OVERLAP_FILE is the
# front's overlap file: its comments name each account whose previous password still has an overlap's
# end (absent without containerRegistry.rotationOverlapHours). RETENTION_MODE is tag
# retention's mode (empty: no rules); its last run's counts are in RETENTION_FILE in TEXTFILE_DIR, its lines in the GC's log.
# DISK_MARKER exists while the disk guard refuses new uploads past REFUSE_PERCENT used (both empty: no guard);
# MAVEN_DISK_MARKER while it refuses Maven deploys, MAVEN_DIR's file system used past it (both empty: no Maven, or no guard).
: "${CONTAINER:?}" "${DATA_DIR:?}" "${BUCKET?}" "${HOST:?}" "${PORT:?}" "${TEXTFILE_DIR?}" "${CACHES_DIR:?}" "${TASKS:?}"
: "${LAST_RUN:?}" "${LAST_SUCCESS:?}" "${SUCCESS:?}" "${DURATION:?}" "${BYTES_FREED:?}" "${ROTATE_AFTER_DAYS?}" "${ROTATION_DUE?}" "${OVERLAP_FILE:?}" "${FRONT_NAME:?}"
: "${RETENTION_MODE?}" "${RETENTION_FILE:?}" "${RETENTION_REMOVED:?}" "${RETENTION_CANDIDATES:?}" "${RETENTION_LAST_RUN:?}"
: "${DISK_MARKER?}" "${MAVEN_DIR?}" "${MAVEN_DISK_MARKER?}" "${REFUSE_PERCENT?}"
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
echo "== container"; docker ps -a --filter "name=^/?$CONTAINER\$" --format '{{.Names}} {{.Image}} {{.Status}} {{.Labels}}'
echo "== last log lines"; docker logs --tail 20 "$CONTAINER" 2>&1
echo "== front (caddy)"; docker ps -a --filter "name=^/?$FRONT_NAME\$" --format '{{.Names}} {{.Image}} {{.Status}}'
docker logs --tail 5 "$FRONT_NAME" 2>&1 | grep -v '"level":"info"' || true
echo "== certificate"
end=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername "$HOST" 2>/dev/null | openssl x509 -noout -enddate 2>/dev/null | sed -n 's/^notAfter=//p')
if [ -n "$end" ]; then
    days=$(( ($(date -u -d "$end" +%s) - $(date +%s)) / 86400 ))
    echo "served on port $PORT for $HOST: expires $end ($days days left)"
else
    echo "could not read the certificate served on 127.0.0.1:$PORT for $HOST (is Caddy running?)"
fi
echo "== jobs (last run, result, duration)"
if [ -z "$TEXTFILE_DIR" ]; then
    echo "monitoring is off: the jobs leave no outcome (see syslog: journalctl -t dso-registry-gc -t dso-registry-backup)"
else
    for task in $TASKS; do
        file="${DSO_ROOT:-}$TEXTFILE_DIR/dso_registry_$task.prom"
        if [ ! -f "$file" ]; then echo "$task: never ran"; continue; fi
        value() { sed -n "s/^$1{task=\"$task\"} //p" "$file" | head -n 1; }
        last=$(value "$LAST_RUN")
        success=$(value "$LAST_SUCCESS")
        result=FAILED; [ "$(value "$SUCCESS")" = 1 ] && result=ok
        line="$task: $result at $(date -u -d "@$last" '+%Y-%m-%d %H:%M UTC') in $(value "$DURATION") s"
        if [ "$result" = FAILED ]; then
            if [ -n "$success" ]; then line="$line; last success $(date -u -d "@$success" '+%Y-%m-%d %H:%M UTC')"; else line="$line; never succeeded"; fi
        fi
        freed=$(value "$BYTES_FREED")
        if [ "${freed:-0}" -gt 0 ]; then line="$line; freed $((freed / 1048576)) MiB"; fi
        echo "$line"
    done
fi
echo "== retention"
if [ -z "$RETENTION_MODE" ]; then
    echo "off (registry.maintenance.retention.rules is empty)"
else
    file="${DSO_ROOT:-}$TEXTFILE_DIR/$RETENTION_FILE"
    if [ -z "$TEXTFILE_DIR" ] || [ ! -f "$file" ]; then
        echo "$RETENTION_MODE; no run reported yet"
    else
        value() { sed -n "s/^$1{mode=\"[a-z-]*\"} //p" "$file" | head -n 1; }
        run_mode=$(sed -n "s/^$RETENTION_LAST_RUN{mode=\"\([a-z-]*\)\"} .*/\1/p" "$file" | head -n 1)
        last=$(value "$RETENTION_LAST_RUN")
        if [ "$run_mode" = dry-run ]; then done_text="would remove $(value "$RETENTION_CANDIDATES") tags, removed none"; else done_text="removed $(value "$RETENTION_REMOVED") of $(value "$RETENTION_CANDIDATES") candidate tags"; fi
        echo "$RETENTION_MODE; last run ($run_mode) $(date -u -d "@$last" '+%Y-%m-%d %H:%M UTC'): $done_text"
    fi
    echo "each tag: journalctl -t dso-registry-gc | grep 'retention:'"
fi
if [ -n "$BUCKET" ]; then
    echo "== data"; echo "$BUCKET"
else
    echo "== data"; du -sh "$DATA_DIR" 2>/dev/null || true
    echo "== free disk"; df -h "$DATA_DIR" 2>/dev/null | tail -n 1
    echo "== disk guard"
    if [ -z "$DISK_MARKER" ]; then
        echo "off (registry.diskGuard.enabled): uploads are taken until the disk is full"
    elif [ -e "${DSO_ROOT:-}$DISK_MARKER" ]; then
        echo "REFUSING new uploads: the data disk is used past ${REFUSE_PERCENT}%; free space (docs/runbooks.md, Disk full) and pushes resume within five minutes"
    else
        echo "taking uploads; new ones are refused past ${REFUSE_PERCENT}% used"
    fi
    # Each repository's size: the layers it references, each counted in every repository that uses it
    # (Distribution keeps a layer once, under blobs/, however many repositories link it).
    echo "== repositories (MiB of the layers each references, biggest last)"
    v2="${DSO_ROOT:-}$DATA_DIR/docker/registry/v2"
    if [ -d "$v2/repositories" ]; then
        find "$v2/repositories" -type d -name _layers | while read -r layers; do
            bytes=0
            for link in "$layers"/sha256/*/link; do
                [ -f "$link" ] || continue
                digest=$(cut -d: -f2 "$link")
                size=$(stat -c %s "$v2/blobs/sha256/$(printf %.2s "$digest")/$digest/data" 2>/dev/null || echo 0)
                bytes=$((bytes + size))
            done
            repository=${layers#"$v2/repositories/"}
            echo "$((bytes / 1048576)) ${repository%/_layers}"
        done | sort -n
    else
        echo "none"
    fi
fi
if [ -n "$MAVEN_DIR" ]; then
    echo "== Maven disk guard"; df -h "${DSO_ROOT:-}$MAVEN_DIR" 2>/dev/null | tail -n 1
    if [ -e "${DSO_ROOT:-}$MAVEN_DISK_MARKER" ]; then
        echo "REFUSING Maven deploys: the Maven directory's disk is used past ${REFUSE_PERCENT}%; free space (docs/runbooks.md, Disk full) and deploys resume within five minutes"
    else
        echo "taking Maven deploys; they are refused past ${REFUSE_PERCENT}% used"
    fi
fi
echo "== caches"
if [ -d "${DSO_ROOT:-}$CACHES_DIR" ] && [ -n "$(ls -A "${DSO_ROOT:-}$CACHES_DIR" 2>/dev/null)" ]; then
    du -sh "${DSO_ROOT:-}$CACHES_DIR"/* 2>/dev/null
else
    echo "none"
fi
echo "== passwords"
if [ -z "$ROTATION_DUE" ]; then
    echo "rotated by hand only (containerRegistry.rotation); containerRegistry.rotateAfterDays rotates them by age"
else
    due=$(date -u -d "@$ROTATION_DUE" '+%Y-%m-%d %H:%M UTC')
    left=$(( (ROTATION_DUE - $(date +%s)) / 86400 ))
    if [ "$(date +%s)" -lt "$ROTATION_DUE" ]; then
        echo "rotated every $ROTATE_AFTER_DAYS days: the next rotation is due $due ($left days left), at the first pulumi up after it"
    else
        echo "OVERDUE: the generated passwords are older than $ROTATE_AFTER_DAYS days since $due; run pulumi up to rotate them"
    fi
fi
if [ -r "${DSO_ROOT:-}$OVERLAP_FILE" ]; then
    sed -n 's/^# previous password of \([^ ]*\) until \([0-9]*\)$/\1 \2/p' "${DSO_ROOT:-}$OVERLAP_FILE" | while read -r user until; do
        end=$(date -u -d "@$until" '+%Y-%m-%d %H:%M UTC')
        if [ "$(date +%s)" -lt "$until" ]; then
            echo "overlap: the previous password of $user keeps working until $end ($(( (until - $(date +%s)) / 3600 )) hours left); pipelines still using it should read the credential again"
        else
            echo "overlap: the previous password of $user stopped working at $end"
        fi
    done
fi
