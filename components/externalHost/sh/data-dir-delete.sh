#!/bin/sh
# On destroy: removes the data directory DATA_DIR (CONTENT says what it holds) when PURGE is true;
# otherwise keeps it, and says so.
: "${DATA_DIR:?}" "${CONTENT:?}" "${PURGE:?}"
set -eu
if [ "$PURGE" = true ]; then
    rm -rf "${DSO_ROOT:-}$DATA_DIR"
    echo "removed $DATA_DIR"
else
    echo "kept $CONTENT in $DATA_DIR (externalHost.purgeDataOnDestroy is false)"
fi
