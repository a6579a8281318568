#!/bin/sh
# Debian's Caddy 2.6.2 where a test asks for the pinned Caddy under `npm test` (test/support/caddyBinaries.ts):
# it runs with the same arguments, on a copy of the Caddyfile named by --config without the lines only the
# pinned Caddy reads, the body idle timeouts (the server option `read_body_idle` and the handler
# `timeouts { read_timeout … }`) and the write deadline's chunk (`write_max_chunk`). What those lines bound is
# proven by the integration tier, on the pinned Caddy.
set -eu
i=0
config=''
for arg in "$@"; do
    i=$((i + 1))
    if [ "$arg" = --config ]; then
        eval "config=\${$((i + 1))}"
        break
    fi
done
if [ -z "$config" ] || [ ! -f "$config" ]; then exec /usr/bin/caddy "$@"; fi
copy="$config.caddy-2.6"
awk '
    /^[ \t]*timeouts \{$/ {
        held = $0
        if ((getline next_line) <= 0) { print held; exit }
        if (next_line ~ /^[ \t]*read_timeout /) { getline; next }
        print held
        $0 = next_line
    }
    /^[ \t]*read_body_idle / { next }
    /^[ \t]*write_max_chunk / { next }
    { print }
' "$config" >"$copy"
n=0
for arg in "$@"; do
    n=$((n + 1))
    if [ "$n" -eq 1 ]; then set --; fi
    if [ "$n" -eq $((i + 1)) ]; then set -- "$@" "$copy"; else set -- "$@" "$arg"; fi
done
exec /usr/bin/caddy "$@"
