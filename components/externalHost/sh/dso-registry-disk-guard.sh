#!/bin/sh
# Managed by dso-registry: the disk guard (registry.diskGuard, docs/runbooks.md "Disk full"), every five
# minutes from cron. While the data directory's file system is used past REFUSE_PERCENT, MARKER exists, and
# the front answers every new blob upload 507 with a message that the disk is full (the front's refusal path
# is the maintenance window's); uploads already started, pulls and deletes go on. Below it again, MARKER
# goes and pushes resume. The same for the Maven repository's directory (MAVEN_DIR) and MAVEN_MARKER, on
# which the front answers Maven deploys 507 and downloads go on: on the same file system as the data, both
# markers come and go together. A directory the host does not have is "" (s3 storage, no Maven), and is
# not checked. The check is every placement's (../../upkeep/sh/disk-guard.sh).
# With TEXTFILE_DIR, whether uploads are refused is written for node_exporter's textfile collector
# (REFUSING), and whether Maven deploys are, in a file of its own (MAVEN_REFUSING), removed on a host that no
# longer serves Maven; each file is rewritten only by a check of its directory that could read the disk.
: "${DATA_DIR?}" "${MARKER:?}" "${MAVEN_DIR?}" "${MAVEN_MARKER:?}" "${REFUSE_PERCENT:?}" "${TEXTFILE_DIR?}" "${REFUSING:?}" "${MAVEN_REFUSING:?}"
set -eu
# shellcheck source=../../upkeep/sh/disk-guard.sh
. "$(dirname "$0")/../../upkeep/sh/disk-guard.sh"
# shellcheck source=../../upkeep/sh/textfile.sh
. "$(dirname "$0")/../../upkeep/sh/textfile.sh"
status=0
if [ -n "$DATA_DIR" ]; then
    if disk_guard "${DSO_ROOT:-}$DATA_DIR" "${DSO_ROOT:-}$MARKER" "$REFUSE_PERCENT"; then
        if [ -n "$TEXTFILE_DIR" ]; then
            dir="${DSO_ROOT:-}$TEXTFILE_DIR"
            mkdir -p "$dir"
            printf '# HELP %s 1 while the disk guard refuses new uploads.\n# TYPE %s gauge\n%s %s\n' \
                "$REFUSING" "$REFUSING" "$REFUSING" "$disk_guard_refusing" | write_textfile "$dir" dso_registry_disk_guard.prom
        fi
    else
        status=1
    fi
fi
if [ -n "$MAVEN_DIR" ]; then
    # Its lines named, so that the log says which disk.
    if maven_lines=$(disk_guard "${DSO_ROOT:-}$MAVEN_DIR" "${DSO_ROOT:-}$MAVEN_MARKER" "$REFUSE_PERCENT"); then
        [ -z "$maven_lines" ] || echo "Maven repository: $maven_lines"
        if [ -n "$TEXTFILE_DIR" ]; then
            # The check ran in a subshell: its marker says what it decided.
            maven_refusing=0
            [ ! -e "${DSO_ROOT:-}$MAVEN_MARKER" ] || maven_refusing=1
            dir="${DSO_ROOT:-}$TEXTFILE_DIR"
            mkdir -p "$dir"
            printf '# HELP %s 1 while the disk guard refuses Maven deploys.\n# TYPE %s gauge\n%s %s\n' \
                "$MAVEN_REFUSING" "$MAVEN_REFUSING" "$MAVEN_REFUSING" "$maven_refusing" | write_textfile "$dir" dso_registry_maven_disk_guard.prom
        fi
    else
        status=1
    fi
elif [ -n "$TEXTFILE_DIR" ]; then
    # No Maven here (any more): no series that would keep saying deploys are refused. Not through a link
    # someone put in the directory's place (../../upkeep/sh/textfile.sh says why).
    dir="${DSO_ROOT:-}$TEXTFILE_DIR"
    [ -L "$dir" ] || rm -f "$dir/dso_registry_maven_disk_guard.prom"
fi
exit "$status"
