#!/bin/sh
# containerd's hosts.toml for a mirrored upstream ($FILE under $DSO_ROOT, <certs.d>/<upstream>/hosts.toml),
# a file the runtime may ship itself (microk8s has one for docker.io) or the operator may have written.
# The program's [host] tables for the registry's cache sit in it as a block between the lines
# $BEGIN_MARKER and $END_MARKER, in front of the file's first table, so containerd tries the cache first
# and then, as before, the file's own hosts and its server. Every byte outside the block stays.
#
# ACTION=apply reads the program's whole file on stdin (header, server, marked block). A node without
# the file gets it whole, and so does a file an earlier version wrote whole ($MANAGED_HEADER first, no
# block); any other file gets the block, replaced where it stands on later runs. With SECRET=true (the
# block carries the pull password) the file becomes root's alone, and the block notes the mode it had.
# ACTION=remove takes the block out and gives the file back as it was, mode included; the program's
# own file goes with its last block. ACTION=prune (the DaemonSet, after registry.mirrors changed) does
# that for every <upstream>/hosts.toml under $CERTS_DIR but the upstreams in $KEEP, also for a file an
# earlier version wrote whole for the registry (it has $LEGACY_MATCH), and removes the directory when
# it is left empty. A damaged block stops the run with nothing changed. Prints "changed <file>",
# "unchanged <file>" or "removed <file>". ACTION=check reads what apply reads and only says whether
# apply would change the file (content or mode; a damaged block counts as a change), writing nothing.
: "${ACTION:?}" "${FILE?}" "${MODE:?}" "${SECRET:?}" "${CERTS_DIR?}" "${KEEP?}"
: "${BEGIN_MARKER:?}" "${END_MARKER:?}" "${MANAGED_HEADER:?}" "${LEGACY_MATCH:?}"
set -eu
# Lines inside the block that record what the block changed, for its removal to undo.
mode_note="# dso-registry: mode of this file before the block: "
newline_note="# dso-registry: the line above the block had no newline at its end"

# Whether the file's last byte is something other than a newline.
no_final_newline() {
  [ -s "$1" ] && [ -n "$(tail -c 1 "$1")" ]
}

# Whether the file holds a block of any registry's.
has_any_block() {
  grep -q '^# BEGIN dso-registry ' "$1"
}

# Stops the run when the file's markers do not pair up.
check_markers() {
  if ! awk -v b="$BEGIN_MARKER" -v e="$END_MARKER" '$0==b{if(open)bad=1;open=1;next} $0==e{if(!open)bad=1;open=0;next} END{exit (open||bad)?1:0}' "$1"; then
    if [ "$ACTION" = check ]; then echo "changed $1 (damaged block)"; exit 0; fi
    echo "$1 has a damaged dso-registry block (a BEGIN line without its END line, or the reverse): $BEGIN_MARKER" >&2
    echo "Nothing was changed. Remove the lines between and including the markers by hand, then run again." >&2
    exit 1
  fi
}

# Prints the mode the block noted, if it did.
noted_mode() {
  awk -v b="$BEGIN_MARKER" -v e="$END_MARKER" -v n="$mode_note" '$0==b{s=1;next} $0==e{s=0} s && index($0,n)==1 {print substr($0,length(n)+1)}' "$1"
}

# A fresh work directory beside $1, removed on exit.
work_dir() {
  work=$(mktemp -d "$(dirname "$1")/.dso-hosts-toml.XXXXXX")
  trap 'rm -rf "$work"' EXIT
}

done_with_work() {
  rm -rf "$work"
  trap - EXIT
}

# Puts $2 in place of $1 with mode $3 when the content differs: renamed over it, or copied where it
# cannot be renamed (a bind mount).
write_if_changed() {
  if [ "$ACTION" = check ]; then
    if [ -e "$1" ] && cmp -s "$2" "$1" && [ "$(stat -c %a "$1")" = "$(printf '%s' "$3" | sed 's/^0*//')" ]; then echo "unchanged $1"; else echo "changed $1"; fi
    return 0
  fi
  if [ -e "$1" ] && cmp -s "$2" "$1"; then
    chmod "$3" "$1"
    echo "unchanged $1"
    return 0
  fi
  chmod "$3" "$2"
  if ! mv -f "$2" "$1" 2>/dev/null; then cat "$2" > "$1"; chmod "$3" "$1"; fi
  echo "changed $1"
}

apply_block() {
  file="${DSO_ROOT:-}$FILE"
  if [ "$ACTION" = check ] && [ ! -e "$file" ]; then
    echo "changed $file (absent)"
    return 0
  fi
  mkdir -p "$(dirname "$file")"
  work_dir "$file"
  cat > "$work/ours"
  if [ ! -e "$file" ] || { [ "$(head -n 1 "$file")" = "$MANAGED_HEADER" ] && ! has_any_block "$file"; }; then
    write_if_changed "$file" "$work/ours" "$MODE"
    done_with_work
    return 0
  fi
  check_markers "$file"
  current=$(stat -c %a "$file")
  noted=$(noted_mode "$file")
  mode=$current
  note=""
  if [ "$SECRET" = true ]; then
    mode=600
    if [ -n "$noted" ]; then note=$noted; elif [ "$current" != 600 ]; then note=$current; fi
  elif [ -n "$noted" ]; then
    mode=$noted
  fi
  nonl=0
  if no_final_newline "$file"; then nonl=1; fi
  has=0
  if grep -Fxq "$BEGIN_MARKER" "$file"; then has=1; fi
  # The block goes where it stands, else in front of the first table (and the comment lines right above
  # it, which belong to that table), else at the end. Lines are written with the newline in front, so
  # that a last line without one stays so; a block added at the end notes that it gave that line one.
  awk -v b="$BEGIN_MARKER" -v e="$END_MARKER" -v modeNote="$mode_note" -v note="$note" \
    -v nlNote="$newline_note" -v nonl="$nonl" -v has="$has" '
    function emit(line) { if (started) printf "\n"; printf "%s", line; started = 1 }
    function flush(   i) { for (i = 1; i <= held; i++) emit(pending[i]); held = 0 }
    function block(   i) {
      emit(ours[1])
      if (note != "") emit(modeNote note)
      if (keepNl) emit(nlNote)
      for (i = 2; i <= n; i++) emit(ours[i])
      placed = 1
    }
    FNR == NR { if ($0 == b) inside = 1; if (inside) ours[++n] = $0; if ($0 == e) inside = 0; next }
    $0 == b { replacing = 1; next }
    replacing { if (index($0, nlNote) == 1) keepNl = 1; if ($0 == e) { replacing = 0; block() } next }
    !has && !placed && /^[ \t]*#/ { pending[++held] = $0; next }
    !has && !placed && /^[ \t]*\[/ { block(); flush(); emit($0); next }
    { flush(); emit($0) }
    END {
      ending = !nonl
      if (!placed) { flush(); keepNl = nonl; block(); ending = 1 }
      if (started && ending) printf "\n"
    }' "$work/ours" "$file" > "$work/new"
  write_if_changed "$file" "$work/new" "$mode"
  done_with_work
}

# Takes the block out of $1, or removes the file when it is the program's own and nothing else of the
# program's is left in it.
remove_block() {
  file=$1
  if [ ! -e "$file" ]; then
    echo "unchanged $file"
    return 0
  fi
  own=0
  if [ "$(head -n 1 "$file")" = "$MANAGED_HEADER" ]; then own=1; fi
  if ! grep -Fxq "$BEGIN_MARKER" "$file"; then
    if [ "$own" = 1 ] && ! has_any_block "$file" && grep -Fq "$LEGACY_MATCH" "$file"; then
      rm -f "$file"
      echo "removed $file"
    else
      echo "unchanged $file"
    fi
    return 0
  fi
  check_markers "$file"
  work_dir "$file"
  noted=$(noted_mode "$file")
  nonl=0
  if no_final_newline "$file"; then nonl=1; fi
  awk -v b="$BEGIN_MARKER" -v e="$END_MARKER" -v nlNote="$newline_note" -v nonl="$nonl" '
    function emit(line) { if (started) printf "\n"; printf "%s", line; started = 1 }
    $0 == b { skipping = 1; next }
    skipping { if (index($0, nlNote) == 1) dropNl = 1; if ($0 == e) skipping = 0; next }
    { emit($0) }
    END { if (started && !nonl && !dropNl) printf "\n" }' "$file" > "$work/new"
  if [ "$own" = 1 ] && ! has_any_block "$work/new"; then
    rm -f "$file"
    echo "removed $file"
  else
    mode=$(stat -c %a "$file")
    if [ -n "$noted" ] && ! has_any_block "$work/new"; then mode=$noted; fi
    write_if_changed "$file" "$work/new" "$mode"
  fi
  done_with_work
}

prune_blocks() {
  certs="${DSO_ROOT:-}$CERTS_DIR"
  for hosts in "$certs"/*/hosts.toml; do
    [ -f "$hosts" ] || continue
    dir=$(dirname "$hosts")
    upstream=$(basename "$dir")
    kept=0
    for keep in $KEEP; do
      if [ "$keep" = "$upstream" ]; then kept=1; fi
    done
    if [ "$kept" = 1 ]; then continue; fi
    if grep -Fxq "$BEGIN_MARKER" "$hosts" || { [ "$(head -n 1 "$hosts")" = "$MANAGED_HEADER" ] && grep -Fq "$LEGACY_MATCH" "$hosts"; }; then
      remove_block "$hosts"
      rmdir "$dir" 2>/dev/null || true
    fi
  done
}

case "$ACTION" in
  apply | check) apply_block ;;
  remove) remove_block "${DSO_ROOT:-}$FILE" ;;
  prune) prune_blocks ;;
  *) echo "mirror-hosts-toml.sh: ACTION must be apply, check, remove or prune, got \"$ACTION\"" >&2; exit 2 ;;
esac
