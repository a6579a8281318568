#!/bin/sh
# Runs the Pulumi CLI that tools/engine/build.sh builds (building what is missing first), with its
# language host and providers beside it and every download turned off: a plugin that is not in the set
# is an error, never a fetch. Arguments go to the CLI as they are: `npm run pulumi -- preview -s local`.
set -eu
set_dir=$(sh "$(dirname "$0")/build.sh" --quiet)
PATH="$set_dir/bin:$PATH"
PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
PULUMI_SKIP_UPDATE_CHECK=true
export PATH PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION PULUMI_SKIP_UPDATE_CHECK
exec "$set_dir/bin/pulumi" "$@"
