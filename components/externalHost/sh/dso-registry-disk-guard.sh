#!/bin/sh
# Managed by dso-registry: the disk guard (registry.diskGuard, docs/runbooks.md "Disk full"), every five
# minutes from cron. While the data directory's file system is used past REFUSE_PERCENT, MARKER exists, and
# the front answers every new blob upload and every body sent to an open one 507 with a message that the disk
# is full (the front's refusal path is the maintenance window's); pulls and deletes go on. Below it again, MARKER
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
# guard WHICH DIR MARKER SERIES HELP FILE: checks DIR with MARKER (WHICH: "data" for the registry's data disk,
# "maven" for the Maven repository's) and, with TEXTFILE_DIR, writes SERIES (1 while refusing, HELP its help
# text) to FILE there; status 1 when the disk could not be read, and FILE is left as it was.
guard() {
    if [ "$1" = maven ]; then
        maven_disk_guard "${DSO_ROOT:-}$2" "${DSO_ROOT:-}$3" "$REFUSE_PERCENT" || return 1
    else
        disk_guard "${DSO_ROOT:-}$2" "${DSO_ROOT:-}$3" "$REFUSE_PERCENT" || return 1
    fi
    [ -n "$TEXTFILE_DIR" ] || return 0
    dir="${DSO_ROOT:-}$TEXTFILE_DIR"
    mkdir -p "$dir"
    printf '# HELP %s 1 while the disk guard refuses %s.\n# TYPE %s gauge\n%s %s\n' \
        "$4" "$5" "$4" "$4" "$disk_guard_refusing" | write_textfile "$dir" "$6"
}

status=0
if [ -n "$DATA_DIR" ]; then
    guard data "$DATA_DIR" "$MARKER" "$REFUSING" "new uploads" dso_registry_disk_guard.prom || status=1
fi
if [ -n "$MAVEN_DIR" ]; then
    guard maven "$MAVEN_DIR" "$MAVEN_MARKER" "$MAVEN_REFUSING" "Maven deploys" dso_registry_maven_disk_guard.prom || status=1
elif [ -n "$TEXTFILE_DIR" ]; then
    # No Maven here (any more): no series that would keep saying deploys are refused. Removed from within
    # the directory once checked, never by its path, which someone can turn into a link to another
    # directory between a check and the removal (../../upkeep/sh/textfile.sh says why).
    remove_textfile "${DSO_ROOT:-}$TEXTFILE_DIR" dso_registry_maven_disk_guard.prom || status=1
fi
exit "$status"
