# shellcheck shell=sh
# The front's cap on connections per client address (connectionCap.ts): the nftables table CAP_TABLE
# from the rules CAP_NFT, kept in the file CAP_RULES and loaded again at boot by the cron file CAP_BOOT
# (`@reboot`, so it needs no systemd). The scripts that source this declare those parameters.

# connection_cap_apply: writes CAP_RULES when its text differs, loads it when it changed or the table is
# not loaded (after a reboot before cron ran, or an `nft flush ruleset`), and writes CAP_BOOT. nft checks
# the rules before anything is replaced; refused rules fail the script and leave the loaded ones alone.
connection_cap_apply() {
    if ! command -v nft >/dev/null 2>&1; then
        echo "nft (nftables) is missing on the registry host: the front's connection cap needs it. Install it (Debian: apt-get install nftables), or set externalHost.installPackages: true" >&2
        exit 1
    fi
    rules_file="${DSO_ROOT:-}$CAP_RULES"
    boot_file="${DSO_ROOT:-}$CAP_BOOT"
    mkdir -p "$(dirname "$rules_file")" "$(dirname "$boot_file")"
    if [ -f "$rules_file" ] && [ "$(cat "$rules_file")" = "$CAP_NFT" ] && nft list table inet "$CAP_TABLE" >/dev/null 2>&1; then
        cap_changed=''
    else
        printf '%s\n' "$CAP_NFT" >"$rules_file.dso-new"
        if ! cap_out=$(nft -c -f "$rules_file.dso-new" 2>&1); then
            rm -f "$rules_file.dso-new"
            echo "$cap_out" >&2
            echo "nft refused the front's connection cap; the rules loaded before stay" >&2
            exit 1
        fi
        chmod 0644 "$rules_file.dso-new"
        mv -f "$rules_file.dso-new" "$rules_file"
        nft -f "$rules_file"
        cap_changed=1
    fi
    cap_cron=$(printf '%s\n' \
        "# Managed by dso-registry: the front's connection cap, loaded at boot. See docs/access-policy.md, Connection limits." \
        "SHELL=/bin/sh" \
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        "@reboot root nft -f $CAP_RULES 2>&1 | logger -t dso-registry-connection-cap")
    if [ ! -f "$boot_file" ] || [ "$(cat "$boot_file")" != "$cap_cron" ]; then
        printf '%s\n' "$cap_cron" >"$boot_file.dso-new"
        chmod 0644 "$boot_file.dso-new"
        mv -f "$boot_file.dso-new" "$boot_file"
        cap_changed=1
    fi
    if [ -n "$cap_changed" ]; then echo "changed connection cap"; fi
}

# connection_cap_remove: unloads the table (where nft runs) and removes CAP_RULES and CAP_BOOT.
connection_cap_remove() {
    if command -v nft >/dev/null 2>&1 && nft list table inet "$CAP_TABLE" >/dev/null 2>&1; then
        nft delete table inet "$CAP_TABLE"
    fi
    rm -f "${DSO_ROOT:-}$CAP_RULES" "${DSO_ROOT:-}$CAP_BOOT"
}
