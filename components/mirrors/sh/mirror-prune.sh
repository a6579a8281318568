#!/bin/sh
# Managed by dso-registry: holds the pull-through caches to their maxSize and maxAge. See docs/mirrors.md.
#
# Distribution cannot evict by size, and 2.8 keeps every cached blob 168 hours whatever `maxAge` says.
# For each cache:
# - past its size limit (KiB, `du`), the cache is stopped, its storage emptied, and started again;
# - otherwise, blobs whose file is older than its age limit (minutes, by the time the cache stored
#   them) are removed with the cache stopped: a restarted cache forgets what it knew about them and
#   fetches them from the upstream again at the next pull (a running one would keep answering from
#   memory and fail on the missing file), and the tags and manifests that point at them stay valid.
# Everything in a cache can be fetched again; the registry's own data directory, which the caches
# never share, is never touched. Nodes use the upstream during the seconds a cache is down. A cache is
# only emptied or pruned while its upstream answers: what it removes can be fetched again from there
# only, so during an upstream outage a cache keeps, and serves, everything it holds. Prints one line per
# cache, and one more for each cache it changed or left for that reason. A container of a cache's name
# that the stack did not make is never stopped: its cache is left as it is, with a line that says so.
# CACHES: one cache a line, "CONTAINER LIMIT-KIB MAX-AGE-MINUTES UPSTREAM-URL STORAGE-DIR". With
# METRICS_FILE (empty: none), each cache's size and limit before the prune go there for node_exporter's
# textfile collector, as SIZE_METRIC and LIMIT_METRIC with label `cache`.
: "${CACHES:?}" "${METRICS_FILE?}" "${SIZE_METRIC?}" "${LIMIT_METRIC?}"
: "${REPORTER?}" "${REPORT_SELF?}" "${REPORT_MEASURED?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
# shellcheck source=../../upkeep/sh/reported.sh
. "$(dirname "$0")/../../upkeep/sh/reported.sh"
# shellcheck source=../../upkeep/sh/textfile.sh
. "$(dirname "$0")/../../upkeep/sh/textfile.sh"
reported cache-prune "$@"
# Any HTTP answer from the upstream's API counts; nothing is sent, so its certificate is not checked here.
upstream_answers() { curl -s -k -o /dev/null --max-time 20 "$1/v2/"; }
check() {
    name=$1 dir=$2 limit=$3 minutes=$4 remote=$5
    [ -d "$dir" ] || { echo "$name: no cache yet"; return 0; }
    used=$(du -sk "$dir" | cut -f1)
    if [ -n "$METRICS_FILE" ]; then
        printf '%s{cache="%s"} %s\n%s{cache="%s"} %s\n' "$SIZE_METRIC" "$name" "$((used * 1024))" "$LIMIT_METRIC" "$name" "$((limit * 1024))" >>"$metrics_tmp"
    fi
    if foreign "$name"; then
        echo "$name: ${used} KiB of ${limit} KiB; left as it is: a container of this name exists that this stack did not make (it has no label dso-registry.spec)"
        return 0
    fi
    over=""
    if [ "$used" -gt "$limit" ]; then over=1; fi
    old=0
    blobs="$dir/docker/registry/v2/blobs"
    [ -n "$over" ] || [ ! -d "$blobs" ] || old=$(find "$blobs" -type f -name data -mmin "+$minutes" | wc -l)
    if { [ -n "$over" ] || [ "$old" -gt 0 ]; } && ! upstream_answers "$remote"; then
        echo "$name: ${used} KiB of ${limit} KiB; $remote does not answer, so the cache is left running as it is (what it holds could not be fetched again)"
        return 0
    fi
    if [ -n "$over" ]; then
        docker stop "$name" >/dev/null
        find "$dir" -mindepth 1 -delete
        docker start "$name" >/dev/null
        echo "$name: ${used} KiB exceeded ${limit} KiB; emptied, it fills again from the upstream"
        return 0
    fi
    echo "$name: ${used} KiB of ${limit} KiB"
    [ "$old" -gt 0 ] || return 0
    docker stop "$name" >/dev/null
    find "$blobs" -type f -name data -mmin "+$minutes" | while read -r file; do rm -rf "${file%/data}"; done
    docker start "$name" >/dev/null
    echo "$name: removed $old blobs stored more than $minutes minutes ago; they are fetched again from the upstream"
}
metrics_tmp=''
if [ -n "$METRICS_FILE" ]; then
    mkdir -p "$(dirname "${DSO_ROOT:-}$METRICS_FILE")"
    metrics_tmp=$(mktemp)
    trap 'rm -f "$metrics_tmp"' EXIT
    printf '# TYPE %s gauge\n# TYPE %s gauge\n' "$SIZE_METRIC" "$LIMIT_METRIC" >"$metrics_tmp"
fi
# The storage directory comes last: `read` gives the last name the rest of the line, blanks included.
while read -r name limit minutes remote dir <&3; do
    check "$name" "${DSO_ROOT:-}$dir" "$limit" "$minutes" "$remote"
done 3<<EOF_CACHES
$CACHES
EOF_CACHES
if [ -n "$METRICS_FILE" ]; then write_textfile "$(dirname "${DSO_ROOT:-}$METRICS_FILE")" "$(basename "$METRICS_FILE")" <"$metrics_tmp"; fi
