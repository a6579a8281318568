#!/bin/sh
# CRI-O and podman nodes: pulls of the images under the registry's scopes need a sigstore signature by
# one of the stack's signing keys. stdin holds the scopes, one line "scope <scope>" each (every spelling
# of the registry's authority an image reference can carry, $SCOPE first), then the requirement: the
# value each scope gets. Two files, under $DSO_ROOT:
#
# - $FILE (/etc/containers/policy.json, containers-policy.json(5)): the requirement is the value of
#   transports.docker["<scope>"] for each scope. The file stays the node's: the awk program $MERGE_AWK
#   edits those entries as text and every other byte stays. Before the first change a copy of the
#   node's file is kept ($BACKUP_FILE, never overwritten), and $STATE_FILE records what removal needs
#   to give the file back: the objects the entries made ("transports", "docker" or nothing), and for
#   each scope, in the order they went in, the node's own value for it, if it had one. A state of
#   other scopes (containerRegistry.pathPrefix, the port or the registry's address changed; an earlier
#   version's state of one scope) is undone first.
# - $REGISTRIES_D_FILE (containers-registries.d(5)), the program's own: $REGISTRIES_D_HEADER and, for
#   each scope, use-sigstore-attachments, which has containers/image read the signatures cosign
#   attaches to the image. containers/image refuses a namespace that two files name, so another file
#   naming one of the scopes stops the script before anything is written.
#
# ACTION=apply writes both when they differ; ACTION=remove gives the node's policy.json back (the
# node's entries for other scopes are never touched) and removes the drop-in; ACTION=check reads
# stdin as apply does and prints "changed $FILE" when apply would change either file, "unchanged
# $FILE" otherwise, writing nothing. Nothing is written unless the result is strict JSON that the
# node's own containers/image reads: skopeo's or podman's, where either is installed (through
# $DSO_HOST_EXEC: empty over SSH, nsenter in the DaemonSet). Without either, a requirement of one key
# is written after the JSON check alone; $KEY_COUNT keys (two or more, "keyDatas") need
# containers/image 5.33 or later, which cannot be checked, so nothing is written. Files are written
# next to their place and renamed over it, with the mode the node's file had. CRI-O and podman read
# both files at each pull: nothing is reloaded. Prints "changed <file>", "unchanged <file>" or
# "removed <file>".
# The parameter holds an awk program: literal text, "$" and all.
# shellcheck disable=SC2016
: "${ACTION:?}" "${FILE:?}" "${SCOPE:?}" "${KEY_COUNT:?}" "${STATE_FILE:?}" "${BACKUP_FILE:?}"
: "${REGISTRIES_D_FILE:?}" "${REGISTRIES_D_HEADER:?}" "${MERGE_AWK:?}"
set -eu
conf="${DSO_ROOT:-}$FILE"
dir=$(dirname "$conf")
state="${DSO_ROOT:-}$STATE_FILE"
backup="${DSO_ROOT:-}$BACKUP_FILE"
dropin="${DSO_ROOT:-}$REGISTRIES_D_FILE"
dropin_dir=$(dirname "$dropin")

fail() {
  echo "node trust (signature policy): $1" >&2
  exit 1
}

work=$(mktemp -d "$dir/.dso-policy.XXXXXX")
trap 'rm -rf "$work"' EXIT
printf '%s\n' "$MERGE_AWK" > "$work/merge.awk"

# merge OP IN [awk assignments…]: the awk program on IN for the scope an assignment names ($SCOPE
# unless one does), with IN's last newline (or none) kept.
merge() {
  merge_op=$1
  merge_in=$2
  shift 2
  merge_nl=1
  if [ -s "$merge_in" ] && [ "$(tail -c 1 "$merge_in" | wc -l)" -eq 0 ]; then merge_nl=0; fi
  awk -v op="$merge_op" -v scope="$SCOPE" -v final_newline="$merge_nl" "$@" -f "$work/merge.awk" "$merge_in"
}

# The scopes, one a line (to $work/scopes), and the requirement (to $work/value), from stdin.
read_input() {
  cat > "$work/input"
  : > "$work/scopes"
  : > "$work/value"
  awk -v scopes="$work/scopes" -v value="$work/value" '
    body || !/^scope / { body = 1; print > value; next }
    { print substr($0, 7) > scopes }' "$work/input"
  [ -s "$work/scopes" ] || fail "no scope on stdin (lines \"scope <scope>\" before the requirement); nothing was written"
  [ -s "$work/value" ] || fail "no requirement on stdin after the scopes; nothing was written"
  [ "$(head -n 1 "$work/scopes")" = "$SCOPE" ] || fail "the first scope on stdin is not $SCOPE; nothing was written"
  awk '$0 == "" || /["\\ \t]/ { bad = 1 } END { exit bad }' "$work/scopes" || fail "a scope on stdin is empty or holds a quote, a backslash or a blank; nothing was written"
  [ -z "$(sort "$work/scopes" | uniq -d)" ] || fail "a scope is given twice on stdin; nothing was written"
}

# The state file $1 in this version's form, to $work/old: "created <what>", then for each scope in the
# order it went in "entry <scope>" and "prior none" or "prior value" followed by that value's lines,
# each after "| ". An earlier version's state (one scope: "scope", "created", "prior" and the value's
# lines as they are) is read into the same form.
read_state() {
  if [ "$(head -n 1 "$1")" = "state 2" ]; then
    cp "$1" "$work/old"
  else
    {
      echo "state 2"
      sed -n '2p' "$1"
      sed -n '1s/^scope /entry /p' "$1"
      sed -n '3p' "$1"
      sed '1,3d' "$1" | awk '{ print "| " $0 }'
    } > "$work/old"
  fi
  sed -n 's/^entry //p' "$work/old" > "$work/old-scopes"
}

# Entry $1 of $work/old: its scope (printed), its prior ($work/entry-prior: "none" or "value") and the
# node's own value ($work/entry-value).
state_entry() {
  echo none > "$work/entry-prior"
  : > "$work/entry-value"
  awk -v want="$1" -v kind="$work/entry-prior" -v value="$work/entry-value" '
    /^entry / { n++; if (n == want) print substr($0, 7); next }
    n != want { next }
    /^prior / { print substr($0, 7) > kind; next }
    /^\| / { print substr($0, 3) > value }' "$work/old"
}

# $1 with the entries $work/old describes taken out again, the last in first out, into $2.
undo_entries() {
  cp "$1" "$work/undo"
  i=$(grep -c '^entry ' "$work/old" || true)
  while [ "$i" -gt 0 ]; do
    entry_scope=$(state_entry "$i")
    if [ "$(cat "$work/entry-prior")" = value ]; then
      merge set "$work/undo" -v scope="$entry_scope" -v value="$work/entry-value" -v raw=1 > "$work/undo.next"
    else
      merge delete "$work/undo" -v scope="$entry_scope" > "$work/undo.next"
    fi
    mv -f "$work/undo.next" "$work/undo"
    i=$((i - 1))
  done
  created=$(sed -n 's/^created //p' "$work/old")
  case "$created" in
    docker | transports) merge delete "$work/undo" -v container=docker > "$work/undo.next" ;;
    *) cp "$work/undo" "$work/undo.next" ;;
  esac
  case "$created" in
    transports) merge delete "$work/undo.next" -v container=root > "$2" ;;
    *) cp "$work/undo.next" "$2" ;;
  esac
}

# The scopes of $1, one a line, as one line joined by ", ".
scope_list() {
  awk '{ printf "%s%s", (NR > 1 ? ", " : ""), $0 } END { print "" }' "$1"
}

# Checks $1 with the node's containers/image (skopeo, else podman): it must get past loading the policy.
node_check() {
  check_file="$1"
  check_dir="$work"
  # From the DaemonSet, the node's tools see the node's paths: without the /host prefix.
  if [ -n "${DSO_HOST_EXEC:-}" ]; then
    check_file="${check_file#"${DSO_ROOT:-}"}"
    check_dir="${check_dir#"${DSO_ROOT:-}"}"
  fi
  if ${DSO_HOST_EXEC:-} sh -c 'command -v skopeo' >/dev/null 2>&1; then
    checker=skopeo
    answer=$(${DSO_HOST_EXEC:-} skopeo --policy "$check_file" copy "oci:$check_dir/none" "dir:$check_dir/out" 2>&1 || true)
  elif ${DSO_HOST_EXEC:-} sh -c 'command -v podman' >/dev/null 2>&1; then
    checker=podman
    # podman refuses a run root longer than 50 characters: a short directory of its own, on the node.
    podman_tmp=$(${DSO_HOST_EXEC:-} mktemp -d /tmp/dso-policy.XXXXXX)
    answer=$(${DSO_HOST_EXEC:-} podman --root "$podman_tmp/root" --runroot "$podman_tmp/run" --storage-driver vfs \
      pull --signature-policy "$check_file" "oci:$check_dir/none" 2>&1 || true)
    ${DSO_HOST_EXEC:-} rm -rf "$podman_tmp"
  else
    return 1
  fi
  case "$answer" in
    *"initializing source"*) echo "checked with the node's $checker: it reads the policy" ;;
    *) fail "the node's $checker refuses the policy this program would write, so $FILE is left as it is: $answer. Two or more signing keys need containers/image 5.33 or later (keyDatas); give one key in containerRegistry.signingKeys, or update the node's containers packages" ;;
  esac
}

# Whether a registries.d file other than ours names one of the scopes as a namespace ($conflict: the
# file, $conflict_scope: the scope).
dropin_conflict() {
  [ -d "$dropin_dir" ] || return 1
  for other in "$dropin_dir"/*.yaml "$dropin_dir"/*.yml; do
    if [ ! -f "$other" ] || [ "$other" = "$dropin" ]; then continue; fi
    if conflict_scope=$(awk -v scopes="$work/scopes" '
      BEGIN { while ((getline s < scopes) > 0) wanted[s] = 1 }
      { line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line)
        if (line ~ /:$/) key = substr(line, 1, length(line) - 1)
        else if (index(line, ": ") > 0) key = substr(line, 1, index(line, ": ") - 1)
        else next
        if (key ~ /^".*"$/ || key ~ /^\047.*\047$/) key = substr(key, 2, length(key) - 2)
        if (key in wanted) { print key; found = 1; exit } }
      END { exit found ? 0 : 1 }' "$other"); then
      conflict="$other"
      return 0
    fi
  done
  return 1
}

# policy.json as apply leaves it, into $work/new; the state apply records, into $work/state.
planned_policy() {
  [ -f "$conf" ] || fail "there is no $FILE: CRI-O and podman pull nothing without it (it comes with the containers-common package); nothing was written"
  merge check "$conf" || fail "$FILE is not a policy this program can edit (above); it is left as it is: correct it, then run again"
  cp "$conf" "$work/base"
  fresh=1
  if [ -f "$state" ]; then
    read_state "$state"
    if cmp -s "$work/old-scopes" "$work/scopes"; then
      fresh=0
      cp "$work/old" "$work/state"
    else
      undo_entries "$conf" "$work/base"
    fi
  fi
  if [ "$fresh" = 1 ]; then
    {
      echo "state 2"
      echo "created $(merge missing "$work/base" -v final_newline=0)"
      while read -r entry_scope; do
        echo "entry $entry_scope"
        if merge get "$work/base" -v scope="$entry_scope" -v final_newline=0 > "$work/prior"; then
          echo "prior value"
          awk '{ print "| " $0 }' "$work/prior"
        else
          echo "prior none"
        fi
      done < "$work/scopes"
    } > "$work/state"
  fi
  cp "$work/base" "$work/new"
  while read -r entry_scope; do
    merge set "$work/new" -v scope="$entry_scope" -v value="$work/value" > "$work/new.next"
    mv -f "$work/new.next" "$work/new"
  done < "$work/scopes"
  merge check "$work/new" || fail "the merged policy is not valid JSON; $FILE is left as it is"
}

case "$ACTION" in
  apply | check)
    read_input
    if [ "$ACTION" = check ] && [ ! -f "$conf" ]; then echo "changed $FILE"; exit 0; fi
    planned_policy
    {
      printf '%s\n' "$REGISTRIES_D_HEADER"
      while read -r entry_scope; do
        printf '  "%s":\n    use-sigstore-attachments: true\n' "$entry_scope"
      done < "$work/scopes"
    } > "$work/dropin"
    if [ "$ACTION" = check ]; then
      if cmp -s "$work/new" "$conf" && [ -f "$dropin" ] && cmp -s "$work/dropin" "$dropin"; then echo "unchanged $FILE"; else echo "changed $FILE"; fi
      exit 0
    fi
    if dropin_conflict; then
      fail "$conflict already names $conflict_scope, and containers/image refuses a namespace that two files in $(dirname "$REGISTRIES_D_FILE") name: take $conflict_scope out of it (this program sets use-sigstore-attachments for it), then run again; nothing was written"
    fi
    if ! cmp -s "$work/new" "$conf"; then
      if ! node_check "$work/new"; then
        [ "$KEY_COUNT" -le 1 ] || fail "$KEY_COUNT signing keys need containers/image 5.33 or later (keyDatas), and this node has neither skopeo nor podman to check that its containers/image reads them; $FILE is left as it is: install skopeo on the node, or give one key"
        echo "no skopeo or podman on the node: the policy was checked as JSON only"
      fi
    fi
    mkdir -p "$dropin_dir"
    if [ -f "$dropin" ] && cmp -s "$work/dropin" "$dropin"; then
      echo "unchanged $REGISTRIES_D_FILE"
    else
      chmod 0644 "$work/dropin"
      mv -f "$work/dropin" "$dropin"
      echo "changed $REGISTRIES_D_FILE"
    fi
    [ -e "$backup" ] || cp -p "$conf" "$backup"
    cp "$work/state" "$state.tmp"
    mv -f "$state.tmp" "$state"
    if cmp -s "$work/new" "$conf"; then
      echo "unchanged $FILE"
    else
      chmod "$(stat -c %a "$conf")" "$work/new"
      mv -f "$work/new" "$conf"
      echo "changed $FILE (for $(scope_list "$work/scopes"))"
    fi
    ;;
  remove)
    if [ -f "$state" ] && [ -f "$conf" ]; then
      merge check "$conf" || fail "$FILE is not valid JSON any more (above); it is left as it is, and so are the program's entries in it"
      read_state "$state"
      undo_entries "$conf" "$work/new"
      merge check "$work/new" || fail "taking the entries out would not leave valid JSON; $FILE is left as it is"
      chmod "$(stat -c %a "$conf")" "$work/new"
      mv -f "$work/new" "$conf"
      rm -f "$state"
      echo "removed the entries for $(scope_list "$work/old-scopes") from $FILE"
      # The copy of the node's file goes once the file is that again and no other registry has an entry.
      others=$(find "$dir" -maxdepth 1 -name "$(basename "$FILE").dso-registry-*" | head -n 1)
      if [ -z "$others" ] && cmp -s "$conf" "$backup"; then rm -f "$backup"; fi
    else
      rm -f "$state"
      echo "unchanged $FILE"
    fi
    if [ -e "$dropin" ]; then
      rm -f "$dropin"
      echo "removed $REGISTRIES_D_FILE"
    fi
    rmdir "$dropin_dir" 2>/dev/null || true
    ;;
  *) echo "policy-json.sh: ACTION must be apply, remove or check, got \"$ACTION\"" >&2; exit 2 ;;
esac
