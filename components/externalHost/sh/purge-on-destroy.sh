#!/bin/sh
# On destroy of the host's registry, after its containers and directories were let go: removes the
# directories the marker MARKER lists (written by the last `pulumi up` with
# externalHost.purgeDataOnDestroy), then the marker. Without a marker nothing is removed. Only
# absolute paths are taken from the file.
: "${MARKER:?}"
set -eu
marker="${DSO_ROOT:-}$MARKER"
if [ ! -f "$marker" ]; then
    echo "kept the data (no $MARKER: externalHost.purgeDataOnDestroy was false at the last pulumi up)"
    exit 0
fi
while IFS= read -r dir; do
    case "$dir" in
        /?*) rm -rf "${DSO_ROOT:-}$dir"; echo "removed $dir" ;;
        "") ;;
        *) echo "skipped \"$dir\" in $MARKER: not an absolute path" >&2 ;;
    esac
done < "$marker"
rm -f "$marker"
