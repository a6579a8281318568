#!/bin/sh
# Managed by dso-registry: the disk guard (registry.diskGuard, docs/runbooks.md "Disk full"), every five
# minutes from cron. While the data directory's file system is used past REFUSE_PERCENT, MARKER exists, and
# the front answers every new blob upload 507 with a message that the disk is full (the front's refusal path
# is the maintenance window's); uploads already started, pulls and deletes go on. Below it again, MARKER
# goes and pushes resume. The check is every placement's (../../upkeep/sh/disk-guard.sh).
# With TEXTFILE_DIR, whether uploads are refused is written for node_exporter's textfile collector.
: "${DATA_DIR:?}" "${MARKER:?}" "${REFUSE_PERCENT:?}" "${TEXTFILE_DIR?}" "${REFUSING:?}"
set -eu
# shellcheck source=../../upkeep/sh/disk-guard.sh
. "$(dirname "$0")/../../upkeep/sh/disk-guard.sh"
# shellcheck source=../../upkeep/sh/textfile.sh
. "$(dirname "$0")/../../upkeep/sh/textfile.sh"
disk_guard "${DSO_ROOT:-}$DATA_DIR" "${DSO_ROOT:-}$MARKER" "$REFUSE_PERCENT"
if [ -n "$TEXTFILE_DIR" ]; then
    dir="${DSO_ROOT:-}$TEXTFILE_DIR"
    mkdir -p "$dir"
    printf '# HELP %s 1 while the disk guard refuses new uploads.\n# TYPE %s gauge\n%s %s\n' \
        "$REFUSING" "$REFUSING" "$REFUSING" "$disk_guard_refusing" | write_textfile "$dir" dso_registry_disk_guard.prom
fi
