#!/bin/sh
# Managed by dso-registry: removes the login limit's filter and jail (JAIL_NAME.conf under CONF_DIR's
# filter.d and jail.d) and reloads fail2ban, which stops the jail and lifts its bans. fail2ban and
# nftables stay installed; the access log stays (it is Caddy's).
: "${CONF_DIR:?}" "${JAIL_NAME:?}"
set -eu
conf="${DSO_ROOT:-}$CONF_DIR"
removed=''
for f in "$conf/filter.d/$JAIL_NAME.conf" "$conf/jail.d/$JAIL_NAME.conf"; do
    if [ -e "$f" ]; then
        rm -f "$f" "$f.dso-prev"
        removed=1
    fi
done
if [ -z "$removed" ]; then
    echo "no login limit to remove"
    exit 0
fi
if command -v fail2ban-client >/dev/null 2>&1 && fail2ban-client -c "$conf" ping >/dev/null 2>&1; then
    fail2ban-client -c "$conf" reload >/dev/null
fi
echo "removed login limit"
