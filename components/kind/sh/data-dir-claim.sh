#!/bin/sh
# Claims kind.dataDir ($DATA_DIR) for this stack's registry before anything is written into it: every
# file of the placement and its containers wait for this step. The directory is the registry's when
#   - it does not exist: it is made;
#   - it holds the marker $MARKER whose $OWNER line names this stack: the registry's own;
#   - it holds no marker, and every path in it is one the placement writes there: made by a version of the
#     program from before the marker; an empty directory too. Such a directory is marked. $LAYOUT_PATHS are
#     the placement's paths relative to it, one shell pattern per line, a directory's ending in `/` (a file
#     must not stand where the placement keeps a directory, nor a symbolic link anywhere); the directories of
#     $LAYOUT_OPAQUE hold Distribution's storage or the pull history and are not looked into. A `lost+found` directory is its
#     file system's, not anyone's files;
# otherwise (someone's files, a directory marked for another stack, a file in place of the directory) the
# run stops here, changing nothing, with what is in the way and how to go on. Nothing is removed, ever:
# the placement's files and containers go with their own deletes, the marker stays with the images.
# $MARKER_TEXT is the marker's content, one line per item; it holds the $OWNER line. $CONFIG_KEY is
# kind.dataDir's key in the stack's config.
: "${DATA_DIR:?}" "${MARKER:?}" "${OWNER:?}" "${MARKER_TEXT:?}" "${LAYOUT_PATHS:?}" "${LAYOUT_OPAQUE:?}" "${CONFIG_KEY:?}"
set -eu
marker="$DATA_DIR/$MARKER"
# How many of the entries that are not the placement's a refusal names.
SHOWN=5

# refuse WHAT FIX: stops the run with what is in the way and the way on.
refuse() {
  cat >&2 <<MESSAGE
kind.dataDir is $DATA_DIR, and $1.
The kind registry keeps its files and images in kind.dataDir and removes some of them on destroy: it uses only a directory of its own. Nothing was changed.
To go on, $2, or give the registry another directory (absent or empty):
  pulumi config set --path '$CONFIG_KEY' /path/of/its/own
then run pulumi up again (docs/kind.md, "Where the images live").
MESSAGE
  exit 1
}

write_marker() {
  printf '%s\n' "$MARKER_TEXT" >"$marker"
}

if [ ! -e "$DATA_DIR" ] && [ ! -L "$DATA_DIR" ]; then
  mkdir -p "$DATA_DIR"
  write_marker
  echo "kind.dataDir $DATA_DIR created for this stack's registry"
  exit 0
fi
[ -d "$DATA_DIR" ] || refuse "it is not a directory" "move that file away"

if [ -e "$marker" ] || [ -L "$marker" ]; then
  if [ -f "$marker" ] && grep -qxF "$OWNER" "$marker"; then
    if [ "$(cat "$marker")" != "$MARKER_TEXT" ]; then write_marker; fi
    echo "kind.dataDir $DATA_DIR is this stack's registry's ($MARKER)"
    exit 0
  fi
  claimed=$(grep -m1 '^stack=' "$marker" 2>/dev/null || :)
  refuse "it belongs to another registry: its $MARKER says ${claimed:-nothing of a stack}" \
    "when that stack is gone (or renamed to this one) and this registry is to take its images over, remove $marker"
fi

# slashes PATH: sets $slashes to how many `/` PATH holds (a pattern's `*` matches `/` too, so a path
# matches a pattern only at the pattern's own depth).
slashes() {
  slashes=0
  rest=$1
  while :; do
    case $rest in
      */*)
        rest=${rest#*/}
        slashes=$((slashes + 1))
        ;;
      *) return 0 ;;
    esac
  done
}

# matches PATH PATTERNS: whether PATH matches one of PATTERNS (one per line) at its depth.
matches() {
  slashes "$1"
  depth=$slashes
  old_ifs=$IFS
  IFS='
'
  set -f
  # shellcheck disable=SC2086 # one pattern per line, split on newlines alone, globbing off
  for pattern in $2; do
    slashes "$pattern"
    # shellcheck disable=SC2254 # the pattern is a pattern
    case $1 in $pattern) if [ "$slashes" -eq "$depth" ]; then
      IFS=$old_ifs
      set +f
      return 0
    fi ;;
    esac
  done
  IFS=$old_ifs
  set +f
  return 1
}

# The paths that are not the placement's: the first $SHOWN, and how many in all.
foreign=""
count=0
layout=0
# look DIR PREFIX: sorts what DIR holds (PREFIX its path from $DATA_DIR) into the placement's and not.
look() {
  for entry in "$1"/* "$1"/.[!.]* "$1"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    rel="$2${entry##*/}"
    if [ -d "$entry" ] && [ ! -L "$entry" ]; then
      if [ "${entry##*/}" = lost+found ] || matches "$rel/" "$LAYOUT_OPAQUE"; then continue; fi
      if matches "$rel/" "$LAYOUT_PATHS"; then
        layout=$((layout + 1))
        look "$entry" "$rel/"
        continue
      fi
    elif [ -f "$entry" ] && [ ! -L "$entry" ] && matches "$rel" "$LAYOUT_PATHS"; then
      layout=$((layout + 1))
      continue
    fi
    count=$((count + 1))
    if [ "$count" -le "$SHOWN" ]; then foreign="$foreign${foreign:+, }$rel"; fi
  done
}
look "$DATA_DIR" ""
if [ "$count" -gt 0 ]; then
  more=""
  if [ "$count" -gt "$SHOWN" ]; then more=" and $((count - SHOWN)) more"; fi
  refuse "it holds what this stack did not put there: $foreign$more" "move those out of $DATA_DIR"
fi
write_marker
if [ "$layout" -gt 0 ]; then
  echo "kind.dataDir $DATA_DIR marked as this stack's registry's: it holds the registry's files alone (made before the marker)"
else
  echo "kind.dataDir $DATA_DIR (empty) marked as this stack's registry's"
fi
