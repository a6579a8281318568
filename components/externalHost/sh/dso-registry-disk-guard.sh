#!/bin/sh
# Managed by dso-registry: the disk guard (registry.diskGuard, docs/runbooks.md "Disk full"), every five
# minutes from cron. While the data directory's file system is used past REFUSE_PERCENT (its total minus
# what is available, as the alert reads it), MARKER exists, and the front answers every new blob upload
# 507 with a message that the disk is full (the front's refusal path is the maintenance window's); uploads
# already started, pulls and deletes go on. Below it again, MARKER goes and pushes resume.
# With TEXTFILE_DIR, whether uploads are refused is written for node_exporter's textfile collector.
: "${DATA_DIR:?}" "${MARKER:?}" "${REFUSE_PERCENT:?}" "${TEXTFILE_DIR?}" "${REFUSING:?}"
set -eu
# shellcheck source=../../upkeep/sh/textfile.sh
. "$(dirname "$0")/../../upkeep/sh/textfile.sh"
marker="${DSO_ROOT:-}$MARKER"
# POSIX df in 1024-byte blocks: total, used, available; "used" here is what is not available.
df -Pk "${DSO_ROOT:-}$DATA_DIR" | awk 'NR == 2 { print $2, $2 - $4 }' | {
    read -r size used
    percent=$((used * 100 / size))
    if [ $((used * 100)) -ge $((REFUSE_PERCENT * size)) ]; then
        if [ ! -e "$marker" ]; then
            mkdir -p "$(dirname "$marker")"
            : >"$marker"
            echo "data disk ${percent}% used, past ${REFUSE_PERCENT}%: new uploads are refused until space is freed (docs/runbooks.md, Disk full)"
        fi
        refusing=1
    else
        if [ -e "$marker" ]; then
            rm -f "$marker"
            echo "data disk ${percent}% used, below ${REFUSE_PERCENT}% again: pushes resume"
        fi
        refusing=0
    fi
    if [ -n "$TEXTFILE_DIR" ]; then
        dir="${DSO_ROOT:-}$TEXTFILE_DIR"
        mkdir -p "$dir"
        printf '# HELP %s 1 while the disk guard refuses new uploads.\n# TYPE %s gauge\n%s %s\n' \
            "$REFUSING" "$REFUSING" "$REFUSING" "$refusing" | write_textfile "$dir" dso_registry_disk_guard.prom
    fi
}
