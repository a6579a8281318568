#!/bin/sh
# Which node entry of a stack owns the stack's trust files on this node. The entry claims the node
# ($ACTION "claim") before its other steps and gives it up ("release") after they are removed; every
# delete of its other steps first checks ("check") that the marker still names it, and leaves the files
# alone when another entry has claimed the node since. That is what a renamed node entry needs (or one
# whose address changed but which is the same machine): the engine runs the new entry's creates first
# and the old entry's deletes last, on the same machine. A node without a marker (deployed before
# markers existed) is treated as this entry's.
: "${ACTION:?}" "${MARKER:?}" "${OWNER:?}"
set -eu
marker="${DSO_ROOT:-}$MARKER"
owner_now=$(cat "$marker" 2>/dev/null || true)
case "$ACTION" in
claim)
    mkdir -p "$(dirname "$marker")"
    printf '%s\n' "$OWNER" >"$marker.tmp"
    mv -f "$marker.tmp" "$marker"
    ;;
release)
    if [ "$owner_now" = "$OWNER" ]; then
        rm -f "$marker"
        rmdir "$(dirname "$marker")" "$(dirname "$(dirname "$marker")")" 2>/dev/null || true
    elif [ -n "$owner_now" ]; then
        echo "node trust: this node belongs to $owner_now now; its marker stays"
    fi
    ;;
check)
    if [ -n "$owner_now" ] && [ "$owner_now" != "$OWNER" ]; then
        echo "node trust: this node belongs to $owner_now now; left in place"
        exit 0
    fi
    ;;
*)
    echo "owner.sh: unknown ACTION $ACTION" >&2
    exit 2
    ;;
esac
