#!/bin/sh
# Managed by dso-registry: prometheus-node-exporter on the registry host, listening on loopback only,
# with its textfile collector reading TEXTFILE_DIR, where the registry's jobs leave their outcomes. See
# docs/monitoring.md. The listen address is written to Debian's /etc/default file before the package
# is installed (kept with --force-confold), so the exporter never listens on another address. With
# INSTALL false a missing package is only reported.
: "${INSTALL:?}" "${LISTEN:?}" "${TEXTFILE_DIR:?}"
set -eu
defaults="${DSO_ROOT:-}/etc/default/prometheus-node-exporter"
want="ARGS=\"--web.listen-address=$LISTEN --collector.textfile.directory=$TEXTFILE_DIR\""
changed=''
if [ "$(grep '^ARGS=' "$defaults" 2>/dev/null || true)" != "$want" ]; then
    mkdir -p "$(dirname "$defaults")"
    printf '# Managed by dso-registry: node_exporter on loopback only. See docs/monitoring.md.\n%s\n' "$want" >"$defaults"
    changed=1
fi
mkdir -p "${DSO_ROOT:-}$TEXTFILE_DIR"
if ! command -v prometheus-node-exporter >/dev/null 2>&1; then
    if [ "$INSTALL" != true ]; then
        echo "prometheus-node-exporter is missing on the registry host: apt-get install prometheus-node-exporter, or set externalHost.installPackages: true" >&2
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "prometheus-node-exporter is missing and apt-get is not available: install node_exporter by hand, listening on $LISTEN with --collector.textfile.directory=$TEXTFILE_DIR" >&2
        exit 1
    fi
    # Waits for dpkg's lock: on a fresh host unattended-upgrades often holds it for minutes. The package
    # lists come first: a fresh image often has none, or old ones that name files the mirror no longer has.
    export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq -o Dpkg::Options::=--force-confold prometheus-node-exporter
    changed=1
fi
if [ -z "$changed" ]; then echo "unchanged node exporter"; exit 0; fi
if command -v systemctl >/dev/null 2>&1 && [ -d "${DSO_ROOT:-}/run/systemd/system" ]; then
    systemctl restart prometheus-node-exporter
fi
echo "changed node exporter: listening on $LISTEN, textfile collector in $TEXTFILE_DIR"
