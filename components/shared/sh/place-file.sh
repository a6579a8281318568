#!/bin/sh
# Places stdin at $TARGET (an absolute path, under $DSO_ROOT: empty on a real machine, a private root
# in tests) with mode $MODE and, when $OWNER is set ("user:group"), that owner. Atomic: the content goes
# to a temporary file beside the target and is renamed over it, and only when it differs, so an
# unchanged file keeps its timestamp. Creates the parent directories. Prints "changed <path>" or
# "unchanged <path>". Runs as root (the caller adds sudo).
: "${TARGET:?}" "${MODE:?}" "${OWNER?}"
set -eu
target="${DSO_ROOT:-}$TARGET"
dir=$(dirname "$target")
mkdir -p "$dir"
tmp=$(mktemp "$dir/.dso-place.XXXXXX")
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
chmod "$MODE" "$tmp"
if [ -n "$OWNER" ]; then chown "$OWNER" "$tmp"; fi
if [ -f "$target" ] && cmp -s "$tmp" "$target"; then
  # The same content: its mode and owner are still put right (a new owner alone changes no byte).
  chmod "$MODE" "$target"
  if [ -n "$OWNER" ]; then chown "$OWNER" "$target"; fi
  echo "unchanged $target"
else
  mv "$tmp" "$target"
  echo "changed $target"
fi
