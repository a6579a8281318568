#!/bin/sh
# Records on the host what a later delete of the host's registry removes (externalHost.purgeDataOnDestroy):
# with DIRECTORIES (one per line) the marker MARKER lists them; with none it is removed. The delete
# (purge-on-destroy.sh) reads this file when it runs, so the decision is the one of the last
# `pulumi up`, never one stored in Pulumi's state with an old script. Prints "changed"/"unchanged".
: "${MARKER:?}" "${DIRECTORIES?}"
set -eu
marker="${DSO_ROOT:-}$MARKER"
if [ -z "$DIRECTORIES" ]; then
    if [ -e "$marker" ]; then rm -f "$marker"; echo "changed $MARKER (removed: the data is kept on destroy)"; else echo "unchanged $MARKER (absent: the data is kept on destroy)"; fi
    exit 0
fi
mkdir -p "$(dirname "$marker")"
want=$(printf '%s\n' "$DIRECTORIES")
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$want" ]; then echo "unchanged $MARKER"; exit 0; fi
printf '%s\n' "$want" > "$marker.tmp"
chmod 0600 "$marker.tmp"
mv "$marker.tmp" "$marker"
echo "changed $MARKER (a destroy removes: $(printf '%s' "$want" | tr '\n' ' '))"
