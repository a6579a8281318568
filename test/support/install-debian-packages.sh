#!/bin/sh
# Makes sure the Debian packages the tests need are installed, by package: dpkg's status, not the presence
# of a program (mvn alone is not Maven's plugins). `core` checks those `npm test` runs
# (debianPackages.core.txt, beside this script: the unit tier and the core integration files); `all`, the
# default, those and the rest of the suite's (debianPackages.txt). Missing ones are installed with apt-get
# when run as root on Debian or Ubuntu, and the services those packages start are stopped again (the tests
# start private instances on loopback). Anywhere else it exits non-zero with the command that installs them.
# Run by .ci/run and by the test projects' global setup (test/setup/debianTools.ts).
#
#   sh test/support/install-debian-packages.sh [core | all]
set -eu
here=$(dirname "$0")
# The lists to read become the positional parameters.
case "${1:-all}" in
core) set -- "$here/debianPackages.core.txt" ;;
all) set -- "$here/debianPackages.core.txt" "$here/debianPackages.txt" ;;
*)
    echo "usage: sh $0 [core | all]" >&2
    exit 2
    ;;
esac

# The projects of one run check at once (each has this script in its global setup): one at a time, so that
# the second waits for the first's apt-get instead of meeting dpkg's lock.
exec 9>"${TMPDIR:-/tmp}/.dso-registry-debian-packages.lock"
flock 9

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    packages=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e 's/^[[:space:]]*\([^[:space:]]*\).*/\1/' "$@" | tr '\n' ' ')
    echo "This machine has no dpkg and apt-get, so the tests cannot check or install what they run." >&2
    echo "Install the equivalents of these Debian packages with its package manager: ${packages% }" >&2
    exit 1
fi

missing=
services=
while read -r package service _programs; do
    case $package in '' | '#'*) continue ;; esac
    if ! installed "$package"; then
        missing="$missing $package"
        [ "$service" = - ] || services="$services $service"
    fi
done <<EOF
$(cat "$@")
EOF
[ -n "$missing" ] || exit 0
missing=${missing# }

if [ "$(id -u)" -ne 0 ]; then
    echo "The tests need Debian packages that are not installed: $missing." >&2
    echo "Install them with:" >&2
    echo >&2
    echo "    sudo apt-get install -y $missing" >&2
    echo >&2
    echo "then run the tests again." >&2
    exit 1
fi

echo "installing the Debian packages the tests need: $missing"
export DEBIAN_FRONTEND=noninteractive
# Ubuntu's needrestart would review the machine's services after the install: nothing here needs it.
export NEEDRESTART_SUSPEND=1
apt-get update -qq -o Acquire::Retries=5
# shellcheck disable=SC2086 # one word per package
apt-get install -y -qq -o Acquire::Retries=5 $missing
for service in $services; do
    service "$service" stop >/dev/null 2>&1 || true
done
still=
for package in $missing; do
    installed "$package" || still="$still $package"
done
if [ -n "$still" ]; then
    echo "apt-get install finished, but these packages are still not installed:$still" >&2
    exit 1
fi
echo "installed; their own services are stopped (the tests start private instances on loopback)"
