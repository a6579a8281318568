#!/bin/sh
# CRI-O and podman nodes: pulls of the images under $SCOPE need a sigstore signature by one of the
# stack's signing keys. Two files, under $DSO_ROOT:
#
# - $FILE (/etc/containers/policy.json, containers-policy.json(5)): the requirement read on stdin is
#   the value of transports.docker["$SCOPE"]. The file stays the node's: the awk program $MERGE_AWK
#   edits that one entry as text and every other byte stays. Before the first change a copy of the
#   node's file is kept ($BACKUP_FILE, never overwritten), and $STATE_FILE records what removal needs
#   to give the file back: the scope, the objects the entry made ("transports", "docker" or nothing),
#   and the node's own value for the scope, if it had one. A state of an earlier scope of the same
#   registry (containerRegistry.pathPrefix changed) is undone first.
# - $REGISTRIES_D_FILE (containers-registries.d(5)), the program's own: $REGISTRIES_D_CONTENT, which
#   has containers/image read the signatures cosign attaches to the image (use-sigstore-attachments).
#   containers/image refuses a namespace that two files name, so another file naming $SCOPE stops
#   the script before anything is written.
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
: "${REGISTRIES_D_FILE:?}" "${REGISTRIES_D_CONTENT:?}" "${MERGE_AWK:?}"
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

# merge OP IN [awk assignments…]: the awk program on IN for $SCOPE (unless an assignment names
# another scope), with IN's last newline (or none) kept.
merge() {
  merge_op=$1
  merge_in=$2
  shift 2
  merge_nl=1
  if [ -s "$merge_in" ] && [ "$(tail -c 1 "$merge_in" | wc -l)" -eq 0 ]; then merge_nl=0; fi
  awk -v op="$merge_op" -v scope="$SCOPE" -v final_newline="$merge_nl" "$@" -f "$work/merge.awk" "$merge_in"
}

# The state file's fields: its scope, what the entry created, and the node's own value (to $work/prior).
read_state() {
  state_scope=$(sed -n '1s/^scope //p' "$state")
  state_created=$(sed -n '2s/^created //p' "$state")
  state_prior=$(sed -n '3s/^prior //p' "$state")
  sed '1,3d' "$state" > "$work/prior"
}

# $1 with the entry the state describes taken out again, into $2.
undo_entry() {
  read_state
  if [ "$state_prior" = value ]; then
    merge set "$1" -v scope="$state_scope" -v value="$work/prior" -v raw=1 > "$2"
    return
  fi
  merge delete "$1" -v scope="$state_scope" > "$work/undo1"
  case "$state_created" in
    docker | transports) merge delete "$work/undo1" -v container=docker > "$work/undo2" ;;
    *) cp "$work/undo1" "$work/undo2" ;;
  esac
  case "$state_created" in
    transports) merge delete "$work/undo2" -v container=root > "$2" ;;
    *) cp "$work/undo2" "$2" ;;
  esac
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

# Whether a registries.d file other than ours names the scope as a namespace.
dropin_conflict() {
  [ -d "$dropin_dir" ] || return 1
  for other in "$dropin_dir"/*.yaml "$dropin_dir"/*.yml; do
    if [ ! -f "$other" ] || [ "$other" = "$dropin" ]; then continue; fi
    if awk -v scope="$SCOPE" '
      { line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line)
        if (line ~ /:$/) key = substr(line, 1, length(line) - 1)
        else if (index(line, ": ") > 0) key = substr(line, 1, index(line, ": ") - 1)
        else next
        if (key ~ /^".*"$/ || key ~ /^\047.*\047$/) key = substr(key, 2, length(key) - 2)
        if (key == scope) found = 1 }
      END { exit found ? 0 : 1 }' "$other"; then
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
  if [ -f "$state" ]; then
    read_state
    if [ "$state_scope" != "$SCOPE" ]; then
      undo_entry "$conf" "$work/base"
      : > "$work/moved"
    fi
  fi
  if [ -f "$state" ] && [ ! -e "$work/moved" ]; then
    cp "$state" "$work/state"
  else
    created=$(merge missing "$work/base" -v final_newline=0)
    if merge get "$work/base" -v final_newline=0 > "$work/prior"; then
      printf 'scope %s\ncreated %s\nprior value\n' "$SCOPE" "$created" > "$work/state"
      cat "$work/prior" >> "$work/state"
    else
      printf 'scope %s\ncreated %s\nprior none\n' "$SCOPE" "$created" > "$work/state"
    fi
  fi
  merge set "$work/base" -v value="$work/value" > "$work/new"
  merge check "$work/new" || fail "the merged policy is not valid JSON; $FILE is left as it is"
}

case "$ACTION" in
  apply | check)
    cat > "$work/value"
    if [ "$ACTION" = check ] && [ ! -f "$conf" ]; then echo "changed $FILE"; exit 0; fi
    planned_policy
    printf '%s\n' "$REGISTRIES_D_CONTENT" > "$work/dropin"
    if [ "$ACTION" = check ]; then
      if cmp -s "$work/new" "$conf" && [ -f "$dropin" ] && cmp -s "$work/dropin" "$dropin"; then echo "unchanged $FILE"; else echo "changed $FILE"; fi
      exit 0
    fi
    if dropin_conflict; then
      fail "$conflict already names $SCOPE, and containers/image refuses a namespace that two files in $(dirname "$REGISTRIES_D_FILE") name: take $SCOPE out of it (this program sets use-sigstore-attachments for it), then run again; nothing was written"
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
      echo "changed $FILE"
    fi
    ;;
  remove)
    if [ -f "$state" ] && [ -f "$conf" ]; then
      merge check "$conf" || fail "$FILE is not valid JSON any more (above); it is left as it is, and so is the program's entry for $SCOPE in it"
      undo_entry "$conf" "$work/new"
      merge check "$work/new" || fail "taking the entry out would not leave valid JSON; $FILE is left as it is"
      chmod "$(stat -c %a "$conf")" "$work/new"
      mv -f "$work/new" "$conf"
      rm -f "$state"
      echo "removed the entry for $SCOPE from $FILE"
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
