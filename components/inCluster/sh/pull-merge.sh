#!/bin/sh
# Managed by dso-registry: the pull history's merge in the cluster (retention's keepPulledWithinDays; see
# docs/in-cluster.md, Retention by last pull), run in the registry container (busybox) by the harvest
# (pull-harvest.sh) with `kubectl exec -i`, since the kubectl image has no awk. Its stdin: the stored
# history (gzip, base64, on one line; an empty line when none yet), then the front's access-log lines the
# harvest read. It merges their pulls into the history (components/upkeep/sh/pull-history.sh), keeping
# KEEP_DAYS days, and prints the new history (gzip, base64, one line) for the harvest to store. It also
# leaves the history in LOCAL_HISTORY, where tag retention reads it in this container; that file is
# removed first, so that it is this run's or none. A history whose gzip passes MAX_BYTES is not printed
# (a ConfigMap holds 1 MiB at most): the run fails, and the stored history stays as it was.
: "${KEEP_DAYS:?}" "${LOCAL_HISTORY:?}" "${MAX_BYTES:?}"
set -eu
# shellcheck source=../../upkeep/sh/pull-history.sh
. "$(dirname "$0")/../../upkeep/sh/pull-history.sh"
local_history="${DSO_ROOT:-}$LOCAL_HISTORY"
rm -f "$local_history"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
awk -v old="$tmp/stored" 'NR == 1 { print > old; next } { print }' | pulls_from_log >"$tmp/pulls"
if grep -q . "$tmp/stored" 2>/dev/null; then
    base64 -d <"$tmp/stored" | gzip -dc >"$tmp/history"
fi
merge_pulls "$tmp/history" "$KEEP_DAYS" "$(date +%s)" <"$tmp/pulls"
gzip -9 -c "$tmp/history" >"$tmp/history.gz"
size=$(wc -c <"$tmp/history.gz")
entries=$(($(wc -l <"$tmp/history") - 1))
if [ "$size" -gt "$MAX_BYTES" ]; then
    echo "pull history: $entries references take $size bytes compressed, more than the $MAX_BYTES a ConfigMap leaves room for; not stored (a shorter keepPulledWithinDays keeps fewer)" >&2
    exit 3
fi
cp "$tmp/history" "$local_history.new"
mv "$local_history.new" "$local_history"
base64 <"$tmp/history.gz" | tr -d '\n'
echo
since=$(sed -n 's/^since //p' "$tmp/history" | head -n 1)
echo "pull history: $entries repository references pulled in the last $KEEP_DAYS days ($size bytes compressed); pulls recorded since $(date -u -d "@$since" +%Y-%m-%dT%H:%MZ 2>/dev/null || echo "$since")" >&2
