#!/bin/sh
# The pull history of the kind registry (retention's keepPulledWithinDays; docs/kind.md, Retention by last
# pull), in the maintenance container (busybox and the docker CLI, the Docker host's socket). Run by its crond
# every hour, by gc.sh before retention's plan, by containers-apply.sh before it replaces the front, and by
# hand with `docker exec $MAINTENANCE_NAME /bin/sh /dso/pull-harvest.sh`.
#
# The front ($FRONT_NAME) logs to stdout: Docker keeps that log across the container's restarts and drops it
# with the container. Each run reads the log since the last run (and MARGIN_SECONDS more: reading an entry
# twice changes nothing) and merges its pulls into $PULLS_DIR/history (on the Docker host, in kind.dataDir),
# keeping KEEP_DAYS days, the longest keepPulledWithinDays. $PULLS_DIR/harvested says which front container
# was read and up to when ("ID SECONDS", and "stopped" when it was read after it had stopped: its log was whole).
#
# A front that was replaced after the last run took the pulls it logged since then with it, unless it had
# stopped when that run read it: then the history moves its "since" to the new front's start, and retention
# keeps what it cannot show unpulled until the history reaches back keepPulledWithinDays days again.
: "${FRONT_NAME:?}" "${PULLS_DIR:?}" "${KEEP_DAYS:?}" "${MARGIN_SECONDS:?}"
set -eu
# shellcheck source=../../upkeep/sh/pull-history.sh
. "$(dirname "$0")/../../upkeep/sh/pull-history.sh"
dir="${DSO_ROOT:-}$PULLS_DIR"
history="$dir/history"
mkdir -p "$dir"
# One harvest at a time: a lock directory holding its owner's PID (busybox may lack flock); a lock whose
# owner is gone is taken over, and after two minutes of waiting this one gives up.
waited=0
while ! mkdir "$dir/lock" 2>/dev/null; do
    owner=$(cat "$dir/lock/pid" 2>/dev/null || true)
    if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
        rm -rf "$dir/lock"
        continue
    fi
    waited=$((waited + 1))
    if [ "$waited" -gt 120 ]; then
        echo "pull history: another harvest (process ${owner:-unknown}) holds $PULLS_DIR/lock; nothing harvested" >&2
        exit 1
    fi
    sleep 1
done
echo "$$" >"$dir/lock/pid"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$dir/lock"' EXIT
started=$(date +%s)
# The front: its ID, when it was made (RFC 3339, UTC) and whether it runs.
if ! front=$(docker inspect --type container -f '{{.Id}} {{.Created}} {{.State.Running}}' "$FRONT_NAME"); then
    echo "pull history: no front container $FRONT_NAME to read; nothing harvested" >&2
    exit 1
fi
id=${front%% *}
rest=${front#* }
created=${rest%% *}
running=${rest#* }
# busybox date reads "YYYY-MM-DD hh:mm:ss".
created=$(date -u -d "$(echo "$created" | sed 's/T/ /; s/[.Z].*$//')" +%s)
read -r read_id read_until read_state <"$dir/harvested" 2>/dev/null || read_id='' read_until='' read_state=''
since=''
gap=''
if [ "$read_id" = "$id" ]; then
    since="--since=$((read_until - MARGIN_SECONDS))"
elif [ -n "$read_id" ] && [ "$read_state" != stopped ] && [ "$created" -gt "$read_until" ]; then
    gap=yes
fi
# shellcheck disable=SC2086 # no --since for a front not read before: all Docker keeps of its log
if ! docker logs $since "$FRONT_NAME" >"$tmp/log" 2>/dev/null; then
    echo "pull history: the log of $FRONT_NAME cannot be read (docker logs $FRONT_NAME); the history stays as it was" >&2
    exit 1
fi
pulls_from_log <"$tmp/log" | merge_pulls "$history" "$KEEP_DAYS" "$(date +%s)"
if [ -n "$gap" ]; then
    # Recorded from the new front's start on, no earlier: the pulls in between are gone with the old one.
    awk -v start="$created" '$1 == "since" && NF == 2 { if ($2 + 0 < start + 0) $2 = start } { print }' "$history" >"$history.new"
    mv "$history.new" "$history"
    echo "pull history: the front was replaced since $(date -u -d "@$read_until" +%Y-%m-%dT%H:%MZ) and the pulls it logged in between are gone; pulls are recorded again from its start, $(date -u -d "@$created" +%Y-%m-%dT%H:%MZ)" >&2
fi
if [ "$running" = true ]; then state=running; else state=stopped; fi
echo "$id $started $state" >"$dir/harvested.new"
mv "$dir/harvested.new" "$dir/harvested"
since_line=$(sed -n 's/^since //p' "$history" | head -n 1)
echo "pull history: $(($(wc -l <"$history") - 1)) repository references pulled in the last $KEEP_DAYS days; pulls recorded since $(date -u -d "@$since_line" +%Y-%m-%dT%H:%MZ)"
