#!/bin/sh
# k3s / RKE2 registries.yaml on a node: the program's entries merged into $FILE (under $DSO_ROOT), a
# file the operator may have entries of their own in, then the restart that makes the service read it.
#
# ACTION=apply reads the entries on stdin and puts them into the file (creating it when absent);
# ACTION=remove takes them out and removes the file when only the program's header is left;
# ACTION=check reads the entries on stdin and only says whether apply would change the file (its
# program's entries or its mode: "changed <file>"), writing and restarting nothing. The
# program's entries sit between the lines $BEGIN_MARKER and $END_MARKER; comments, order and every
# byte of the other lines stay (the awk program $MERGE_AWK does the merge and refuses what it cannot
# merge safely). A file written whole by an earlier version ($LEGACY_HEADER) is taken over as the
# program's. The result is written next to the file and renamed over it (copied where it is a bind
# mount). Prints "changed <file>" / "unchanged <file>" / "removed <file>".
#
# After a change, with ALLOW_RESTART=true, the running units among $UNITS restart; the script waits
# (up to $RESTART_TIMEOUT_SECONDS) until they are active and the Kubernetes node is Ready, checked with
# $KUBECTL_PROBE / $KUBECTL_GET (run with `sh -c` in the node's namespaces, the node name as $1), and
# fails with what to look at otherwise. A change first leaves a pending marker ($PENDING_FILE beside
# the file) that only a completed restart removes, so a run that failed while waiting, or a DaemonSet
# run that was not allowed to restart ($DSO_DEFER_RESTART), restarts on the next run that may. On
# removal, a deferred restart is left to the operator instead. A deferred restart is carried out all
# the same when the running service started less than $RECENT_START_SECONDS ago: the node has just
# booted or joined (its service read the file before the pod wrote it), it is not one of many
# established nodes a new DaemonSet reaches at once, and its workloads are only starting. $TURN names the node's turn in a
# rolling restart. $DSO_HOST_EXEC prefixes the commands that must run in the node's own namespaces
# (empty over SSH, nsenter in the DaemonSet).
# Parameters hold an awk program and commands for another shell: literal text, "$" and all.
# shellcheck disable=SC2016
: "${ACTION:?}" "${FILE:?}" "${AUTHORITY:?}" "${SECRET:?}" "${BEGIN_MARKER:?}" "${END_MARKER:?}"
: "${CREATED_HEADER:?}" "${LEGACY_HEADER:?}" "${ADDED_KEY_COMMENT:?}" "${MERGE_AWK:?}"
: "${FLAVOUR:?}" "${UNITS:?}" "${ALLOW_RESTART:?}" "${RESTART_TIMEOUT_SECONDS:?}" "${NODE_NAME?}" "${TURN?}"
: "${KUBECTL_PROBE:?}" "${KUBECTL_GET:?}" "${PENDING_FILE:?}" "${RECENT_START_SECONDS:?}"
set -eu
file="${DSO_ROOT:-}$FILE"
# Seconds between two checks while waiting.
poll_seconds=2

# Prints the words of $2 joined by $1 ("k3s or k3s-agent").
join_units() {
  joined=""
  for word in $2; do joined="${joined:+$joined$1}$word"; done
  printf '%s' "$joined"
}

# The merged file into $work/new, and the mode the file must have into $mode.
merge_into_work() {
  umask 077
  work=$(mktemp -d "$(dirname "$file")/.dso-registries.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  if [ "$ACTION" = remove ]; then : > "$work/entries"; else cat > "$work/entries"; fi
  current="$file"
  created=0
  mode=644
  if [ ! -e "$file" ]; then current=/dev/null; created=1
  elif [ "$(head -n 1 "$file")" = "$LEGACY_HEADER" ]; then current=/dev/null; created=1; mode=$(stat -c %a "$file")
  else mode=$(stat -c %a "$file"); fi
  # The entries carry the pull password: the file is root's alone.
  if [ "$SECRET" = true ]; then mode=600; fi
  awk -v file="$FILE" -v entries="$work/entries" -v authority="$AUTHORITY" \
    -v begin="$BEGIN_MARKER" -v end="$END_MARKER" \
    -v header="$CREATED_HEADER" -v addedComment="$ADDED_KEY_COMMENT" -v created="$created" \
    "$MERGE_AWK" "$work/entries" "$current" > "$work/new"
}

# Whether apply would change the file: prints "changed <file>" or "unchanged <file>"; writes nothing.
check_entries() {
  if [ ! -e "$file" ]; then echo "changed $file (absent)"; return 0; fi
  merge_into_work
  if cmp -s "$work/new" "$file" && [ "$(stat -c %a "$file")" = "$mode" ]; then echo "unchanged $file"; else echo "changed $file"; fi
  rm -rf "$work"
  trap - EXIT
}

# The merge: sets changed=1 when the file changed.
merge_entries() {
  merge_into_work
  if ! grep -Fxv "$CREATED_HEADER" "$work/new" | grep -q '[^[:space:]]'; then
    if [ -e "$file" ]; then rm -f "$file"; changed=1; echo "removed $file"; else echo "unchanged $file"; fi
  elif [ -e "$file" ] && cmp -s "$work/new" "$file"; then
    chmod "$mode" "$file"
    echo "unchanged $file"
  else
    chmod "$mode" "$work/new"
    if ! mv -f "$work/new" "$file" 2>/dev/null; then cat "$work/new" > "$file"; chmod "$mode" "$file"; fi
    changed=1
    echo "changed $file"
  fi
  rm -rf "$work"
  trap - EXIT
}

# Waits until every unit of $restarted is active and the node is Ready, or fails with what to look at.
wait_until_ready() {
  deadline=$(( $(date +%s) + RESTART_TIMEOUT_SECONDS ))
  for unit in $restarted; do
    until ${DSO_HOST_EXEC:-} systemctl is-active --quiet "$unit"; do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "$unit did not become active within ${RESTART_TIMEOUT_SECONDS}s after its restart. Nodes after this one were not restarted. See: journalctl -u $unit -n 100; fix it, then run pulumi up again." >&2
        exit 1
      fi
      sleep "$poll_seconds"
    done
  done
  node="${DSO_NODE_NAME:-}"
  if [ -n "$NODE_NAME" ]; then node="$NODE_NAME"; fi
  if [ -z "$node" ]; then node=$(${DSO_HOST_EXEC:-} hostname | tr '[:upper:]' '[:lower:]'); fi
  if ${DSO_HOST_EXEC:-} sh -c "$KUBECTL_PROBE" >/dev/null 2>&1; then
    status=""
    until [ "$status" = True ]; do
      status=$(${DSO_HOST_EXEC:-} sh -c "$KUBECTL_GET" sh "$node" 2>/dev/null || true)
      if [ "$status" = True ]; then break; fi
      if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "node $node was not Ready within ${RESTART_TIMEOUT_SECONDS}s after the restart (Ready: ${status:-unknown}). Nodes after this one were not restarted. See: kubectl describe node $node; journalctl -u ${restarted# } -n 100. If the Kubernetes node has another name, set dso-registry:nodes.list[].kubernetesNodeName." >&2
        exit 1
      fi
      sleep "$poll_seconds"
    done
    echo "node $node is Ready"
  else
    echo "no $FLAVOUR kubectl on this node: waited for the service only"
  fi
}

# Prints how many seconds ago the longest-running active unit among $UNITS started; nothing when
# none is active or systemd does not say.
service_age() {
  now=$(cut -d ' ' -f 1 /proc/uptime)
  for unit in $UNITS; do
    ${DSO_HOST_EXEC:-} systemctl is-active --quiet "$unit" || continue
    since=$(${DSO_HOST_EXEC:-} systemctl show -p ActiveEnterTimestampMonotonic --value "$unit" 2>/dev/null || true)
    case "$since" in ''|*[!0-9]*) continue ;; esac
    [ "$since" -gt 0 ] || continue
    awk -v now="$now" -v since="$since" 'BEGIN { printf "%d\n", now - since / 1000000 }'
  done | sort -n | tail -n 1
}

# Whether the running service started less than $RECENT_START_SECONDS ago (a node just booted or joined).
started_recently() {
  age=$(service_age)
  [ -n "$age" ] && [ "$age" -lt "$RECENT_START_SECONDS" ]
}

# Restarts after a change (changed=1), or after an earlier change whose restart has not completed.
restart_after_change() {
  if [ "$ACTION" = apply ]; then what="$FILE changed"; else what="the registry's entries were removed from $FILE"; fi
  if [ "$ALLOW_RESTART" != true ]; then
    if [ "$changed" = 1 ]; then
      echo "$what: restart $(join_units " or " "$UNITS") to apply it (dso-registry:nodes.allowServiceRestart is false)"
    fi
    return 0
  fi
  pending="$(dirname "$file")/$PENDING_FILE"
  if [ "$changed" = 1 ]; then : > "$pending"; fi
  if [ -e "$pending" ] && [ -n "${DSO_DEFER_RESTART:-}" ] && [ "$ACTION" = apply ] && started_recently; then
    echo "$(join_units " or " "$UNITS") started ${age}s ago, before $FILE had the registry's entries (the node has just booted or joined): restarting it now"
    unset DSO_DEFER_RESTART
  fi
  if [ -e "$pending" ] && [ -n "${DSO_DEFER_RESTART:-}" ]; then
    if [ "$ACTION" = apply ]; then
      echo "$what: restart pending; $(join_units " or " "$UNITS") reads it only after a restart, which a DaemonSet makes only in a rolling update (one node at a time): run kubectl rollout restart on the node-trust DaemonSet, or restart the service on each node in turn"
    else
      rm -f "$pending"
      echo "$what: restart $(join_units " or " "$UNITS") on this node when convenient"
    fi
  elif [ -e "$pending" ]; then
    if [ -n "$TURN" ]; then echo "rolling restart ($TURN)"; fi
    restarted=""
    for unit in $UNITS; do
      if ${DSO_HOST_EXEC:-} systemctl is-active --quiet "$unit"; then
        ${DSO_HOST_EXEC:-} systemctl restart "$unit"
        restarted="$restarted $unit"
      fi
    done
    if [ -z "$restarted" ]; then
      echo "none of $(join_units ", " "$UNITS") is running; it reads the change when it starts"
    else
      echo "restarted$restarted ($what); waiting up to ${RESTART_TIMEOUT_SECONDS}s for it to be active and the node Ready"
      wait_until_ready
    fi
    rm -f "$pending"
  fi
}

changed=0
case "$ACTION" in
  apply)
    mkdir -p "$(dirname "$file")"
    merge_entries
    ;;
  remove)
    if [ ! -e "$file" ]; then echo "unchanged $file"; else merge_entries; fi
    ;;
  check)
    check_entries
    exit 0
    ;;
  *) echo "registries-yaml.sh: ACTION must be apply, remove or check, got \"$ACTION\"" >&2; exit 2 ;;
esac
restart_after_change
