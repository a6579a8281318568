#!/bin/sh
# Managed by dso-registry: records the pulls the front's access log holds into the pull history that tag
# retention's keepPulledWithinDays reads (docs/deletes-and-gc.md, Retention). Garbage collection runs it
# before retention reads the tags, and cron every hour, so that the rolled logs Caddy deletes (it keeps
# ACCESS_LOG's last ten) are read before they go.
#
# It reads ACCESS_LOG and the files Caddy rolled it into beside it (<name>-<time>-<reason>.log, gzipped
# once rolled) that changed since its last run, merges their pulls into PULL_HISTORY (on the host's disk:
# it survives restarts of the front and of the host, and log rotation), and drops the pulls older than
# KEEP_DAYS days, the longest keepPulledWithinDays. Reading an entry twice changes nothing.
: "${ACCESS_LOG:?}" "${PULL_HISTORY:?}" "${KEEP_DAYS:?}"
set -eu
# shellcheck source=../../upkeep/sh/pull-history.sh
. "$(dirname "$0")/../../upkeep/sh/pull-history.sh"
history="${DSO_ROOT:-}$PULL_HISTORY"
log="${DSO_ROOT:-}$ACCESS_LOG"
dir=$(dirname "$log")
name=$(basename "$log" .log)
mkdir -p "$(dirname "$history")"
exec 8>"$history.lock"
flock 8
# Taken before reading, and dated a little earlier (file times are coarse): a file written to after this
# is newer, and read again next time; reading an entry twice changes nothing.
touch -d "@$(($(date +%s) - 2))" "$history.reading"
{
    if [ -f "$history.read" ]; then
        find "$dir" -maxdepth 1 -type f \( -name "$name.log" -o -name "$name-*" \) -newer "$history.read"
    else
        find "$dir" -maxdepth 1 -type f \( -name "$name.log" -o -name "$name-*" \)
    fi
} 2>/dev/null | sort | while read -r file; do
    case $file in
        *.gz) gzip -dc "$file" 2>/dev/null || echo "pull history: $file is not whole yet; read again next time" >&2 ;;
        *.log) cat "$file" ;;
    esac
done | pulls_from_log | merge_pulls "$history" "$KEEP_DAYS" "$(date +%s)"
mv "$history.reading" "$history.read"
since=$(sed -n 's/^since //p' "$history" | head -n 1)
echo "pull history: $(($(wc -l <"$history") - 1)) repository references pulled in the last $KEEP_DAYS days; pulls recorded since $(date -u -d "@$since" +%Y-%m-%dT%H:%MZ)"
