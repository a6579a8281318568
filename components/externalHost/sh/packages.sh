#!/bin/sh
# Installs Docker, cron, curl, flock and nftables (the front's connection cap) (and restic, for backups:
# RESTIC) from the distribution's packages when they are missing (apt or dnf), or, with INSTALL false,
# only reports what is missing and fails. A host with Podman keeps Podman, whether it runs under its own name or as `docker` (the
# podman-docker package, which RHEL's `dnf install docker` installs). The front is Caddy from the pinned
# image, run by the container engine: no Caddy package is needed.
: "${INSTALL:?}" "${RESTIC:?}"
set -eu
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
missing=''
# Docker, or Podman in its place (upkeep/sh/container-engine.sh).
command -v docker >/dev/null 2>&1 || command -v podman >/dev/null 2>&1 || missing="$missing docker"
command -v crontab >/dev/null 2>&1 || [ -d "${DSO_ROOT:-}/etc/cron.d" ] || missing="$missing cron"
command -v curl >/dev/null 2>&1 || missing="$missing curl"
command -v flock >/dev/null 2>&1 || missing="$missing flock"
command -v nft >/dev/null 2>&1 || missing="$missing nftables"
if [ "$RESTIC" = true ]; then command -v restic >/dev/null 2>&1 || missing="$missing restic"; fi
# With Podman as the engine, its restart service starts the registry's containers at boot (Podman has
# no daemon that would). Said on stderr: the packages themselves are unchanged. Checked again after an
# install: on RHEL the `docker` package installed below is Podman.
enable_podman_restart() {
    if podman_engine && command -v systemctl >/dev/null 2>&1 &&
        ! systemctl is-enabled --quiet podman-restart.service 2>/dev/null &&
        systemctl enable podman-restart.service >/dev/null 2>&1; then
        echo "enabled podman-restart.service: it starts the registry's containers at boot" >&2
    fi
}
enable_podman_restart
if [ -z "$missing" ]; then echo "unchanged packages"; exit 0; fi
if [ "$INSTALL" != true ]; then
    debian='docker.io cron curl util-linux nftables'
    if [ "$RESTIC" = true ]; then debian="$debian restic"; fi
    echo "missing on the registry host:$missing. Install them (Debian: apt-get install $debian), or set externalHost.installPackages: true" >&2
    exit 1
fi
# Package names differ by manager only for Docker; the list is built as "$@" so that each name stays
# one word.
if command -v apt-get >/dev/null 2>&1; then manager=apt-get; docker=docker.io
elif command -v dnf >/dev/null 2>&1; then manager=dnf; docker=docker
else echo "missing:$missing, and neither apt-get nor dnf is available: install them by hand" >&2; exit 1
fi
set --
for m in $missing; do case $m in
    docker) set -- "$@" "$docker" ;; flock) set -- "$@" util-linux ;; *) set -- "$@" "$m" ;;
esac; done
if [ "$manager" = apt-get ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Waits for dpkg's lock: on a fresh host unattended-upgrades often holds it for minutes.
    apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@"
else
    dnf install -y "$@"
fi
enable_podman_restart
echo "changed packages: $*"
