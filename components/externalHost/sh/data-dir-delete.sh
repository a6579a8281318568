#!/bin/sh
# On delete: keeps the data directory DATA_DIR (CONTENT says what it holds), and says so. Data is
# removed only by the purge on destroy (purge-on-destroy.sh), which reads the host's marker when it
# runs: a config change that drops this directory (storage moved to s3, say) never deletes it.
: "${DATA_DIR:?}" "${CONTENT:?}"
set -eu
echo "kept $CONTENT in $DATA_DIR (removed on destroy only when externalHost.purgeDataOnDestroy was true at the last pulumi up)"
