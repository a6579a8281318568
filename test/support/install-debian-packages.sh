#!/bin/sh
# Makes sure the Debian packages the integration tests need (debianPackages.txt, beside this script)
# are installed, by package: dpkg's status, not the presence of a program (mvn alone is not Maven's
# plugins). Missing ones are installed with apt-get when run as root on Debian or Ubuntu, and the
# services those packages start are stopped again (the tests start private instances on loopback).
# Anywhere else it exits non-zero with the command that installs them.
# Run by .ci/run and by the integration tests' global setup (test/setup/debianTools.ts).
set -eu
list="$(dirname "$0")/debianPackages.txt"
unit_only="(npm run test:unit needs none of them.)"

installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
    packages=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e 's/^[[:space:]]*\([^[:space:]]*\).*/\1/' "$list" | tr '\n' ' ')
    echo "This machine has no dpkg and apt-get, so the integration tests cannot check or install what they run." >&2
    echo "Install the equivalents of these Debian packages with its package manager: ${packages% }" >&2
    echo "$unit_only" >&2
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
done <"$list"
[ -n "$missing" ] || exit 0
missing=${missing# }

if [ "$(id -u)" -ne 0 ]; then
    echo "The integration tests need Debian packages that are not installed: $missing." >&2
    echo "Install them with:" >&2
    echo >&2
    echo "    sudo apt-get install -y $missing" >&2
    echo >&2
    echo "then run the tests again. $unit_only" >&2
    exit 1
fi

echo "installing the Debian packages the integration tests need: $missing"
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
