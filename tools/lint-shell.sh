#!/bin/sh
# Runs shellcheck over every shell script kept in the repository (components/**/*.sh, tools, .ci). Part of
# `npm run lint` wherever shellcheck is installed; the integration tests run it always
# (test/integration/shellcheck.test.ts), together with the scripts as the program renders them.
set -eu
cd "$(dirname "$0")/.."
if ! command -v shellcheck >/dev/null 2>&1; then
    echo "shellcheck is not installed: shell sources not checked here (apt-get install shellcheck; the integration tests check them)"
    exit 0
fi
# -x follows each `. "$(dirname "$0")/….sh"` line to the piece it sources, relative to the script.
git ls-files -z -- '*.sh' .ci/run | xargs -0 shellcheck -x -P SCRIPTDIR
echo "shellcheck: $(git ls-files -- '*.sh' .ci/run | wc -l) shell sources clean"
