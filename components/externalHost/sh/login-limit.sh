#!/bin/sh
# Managed by dso-registry: the login limit on the registry host (docs/access-policy.md, Failed logins
# are limited). Installs fail2ban and nftables when they are missing (with INSTALL false only reports
# them), creates the front's access log ACCESS_LOG when it does not exist yet (fail2ban refuses a jail
# whose log is missing; Caddy appends to the file), writes the filter FILTER and the jail JAIL as
# JAIL_NAME.conf under CONF_DIR's filter.d and jail.d, checks the whole configuration with
# `fail2ban-client -t`, and reloads fail2ban only when a file changed or the jail is not running.
# A configuration fail2ban refuses puts the previous files back and fails the update.
: "${INSTALL:?}" "${CONF_DIR:?}" "${JAIL_NAME:?}" "${FILTER:?}" "${JAIL:?}" "${ACCESS_LOG:?}"
set -eu
conf="${DSO_ROOT:-}$CONF_DIR"
log="${DSO_ROOT:-}$ACCESS_LOG"

missing=''
command -v fail2ban-client >/dev/null 2>&1 || missing="$missing fail2ban"
command -v nft >/dev/null 2>&1 || missing="$missing nftables"
if [ -n "$missing" ]; then
    if [ "$INSTALL" != true ]; then
        echo "missing on the registry host:$missing (the login limit). Install them (Debian: apt-get install fail2ban nftables), set externalHost.installPackages: true, or turn registry.loginLimit.enabled off" >&2
        exit 1
    fi
    # shellcheck disable=SC2086 # one word per package name
    if command -v apt-get >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        # Waits for dpkg's lock: on a fresh host unattended-upgrades often holds it for minutes.
        apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq $missing
    elif command -v dnf >/dev/null 2>&1; then
        dnf install -y $missing
    else
        echo "missing:$missing, and neither apt-get nor dnf is available: install them by hand" >&2
        exit 1
    fi
fi

if [ ! -e "$log" ]; then
    mkdir -p "$(dirname "$log")"
    : >"$log"
    # As Caddy creates its log files: root's (the front's Caddy runs as root in its container), readable
    # by nobody else (fail2ban runs as root).
    chmod 0600 "$log"
fi

changed=''
# place <file> <content>: writes the file when its content differs, keeping the old one as <file>.dso-prev.
place() {
    if [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; then return 0; fi
    mkdir -p "$(dirname "$1")"
    if [ -f "$1" ]; then cp -p "$1" "$1.dso-prev"; fi
    printf '%s\n' "$2" >"$1.dso-new"
    chmod 0644 "$1.dso-new"
    mv -f "$1.dso-new" "$1"
    changed=1
}
filter_file="$conf/filter.d/$JAIL_NAME.conf"
jail_file="$conf/jail.d/$JAIL_NAME.conf"
place "$filter_file" "$FILTER"
place "$jail_file" "$JAIL"

client() { fail2ban-client -c "$conf" "$@"; }
if [ -z "$changed" ] && client status "$JAIL_NAME" >/dev/null 2>&1; then
    echo "unchanged login limit"
    exit 0
fi
if ! out=$(client -t 2>&1); then
    for f in "$filter_file" "$jail_file"; do
        if [ -f "$f.dso-prev" ]; then mv -f "$f.dso-prev" "$f"; elif [ -n "$changed" ]; then rm -f "$f"; fi
    done
    echo "$out" >&2
    echo "fail2ban refused the login limit's configuration; the previous files were put back" >&2
    exit 1
fi
rm -f "$filter_file.dso-prev" "$jail_file.dso-prev"
if client ping >/dev/null 2>&1; then
    client reload >/dev/null
elif command -v systemctl >/dev/null 2>&1 && [ -d "${DSO_ROOT:-}/run/systemd/system" ]; then
    systemctl enable fail2ban >/dev/null 2>&1 || true
    systemctl restart fail2ban
else
    echo "fail2ban is not running and there is no systemd to start it: start fail2ban, then run this again" >&2
    exit 1
fi
i=0
until client status "$JAIL_NAME" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 30 ]; then
        echo "fail2ban did not start the jail $JAIL_NAME: see journalctl -u fail2ban" >&2
        exit 1
    fi
    sleep 1
done
echo "changed login limit: jail $JAIL_NAME running"
