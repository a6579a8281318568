#!/bin/sh
# Runs the Pulumi CLI that tools/engine/build.sh builds (building what is missing first), with its
# language host beside it, our providers installed in $PULUMI_HOME/plugins at the versions package-lock.json
# resolves, and every download turned off: a plugin that is not there is an error, never a fetch.
# Arguments go to the CLI as they are: `npm run pulumi -- preview -s local`.
set -eu
set_dir=$(sh "$(dirname "$0")/build.sh" --quiet)
plugins="${PULUMI_HOME:-$HOME/.pulumi}/plugins"
mkdir -p "$plugins"
for plugin in "$set_dir"/plugins/*; do
    # A plugin directory already there (an earlier link, or the real provider) is left as it is.
    [ -e "$plugins/$(basename "$plugin")" ] || ln -s "$plugin" "$plugins/$(basename "$plugin")"
done
PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION PULUMI_SKIP_UPDATE_CHECK
exec "$set_dir/bin/pulumi" "$@"
