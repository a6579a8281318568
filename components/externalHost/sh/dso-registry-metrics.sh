#!/bin/sh
# Managed by dso-registry: the registry's certificate and data disk as metrics for node_exporter's
# textfile collector, every few minutes from cron; and the metrics relay started again when it stopped.
# See docs/monitoring.md.
#
# The certificate is the one the front serves (asked on the host's loopback under the registry's name,
# whatever made it: ACME or the program); when the front does not answer, CERT_FILE's (empty: none)
# and a probe of 0. DATA_DIR's file system gives the free and total bytes (empty with s3 storage).
# Written beside its final name and moved into place, so node_exporter never reads half of it.
: "${TEXTFILE_DIR:?}" "${HOST:?}" "${PORT:?}" "${CERT_FILE?}" "${DATA_DIR?}"
: "${NOT_AFTER:?}" "${PROBE:?}" "${FREE:?}" "${SIZE:?}" "${RELAY_NAME:?}" "${REGISTRY_NAME:?}"
set -u
# shellcheck source=../../upkeep/sh/container-engine.sh
. "$(dirname "$0")/../../upkeep/sh/container-engine.sh"
# shellcheck source=../../upkeep/sh/textfile.sh
. "$(dirname "$0")/../../upkeep/sh/textfile.sh"
# shellcheck source=../../upkeep/sh/container-converge.sh
. "$(dirname "$0")/../../upkeep/sh/container-converge.sh"
# The metrics relay (metricsRelay.ts) shares the registry container's namespaces, so Docker cannot start
# it when it starts the registry after a reboot or a restart of dockerd (the namespace is not there yet),
# nor after someone's `docker stop` and `docker start` of the registry. Started again here: a scrape
# misses at most these five minutes, less than DsoRegistryDown waits. Only the stack's own relay (ours):
# a stopped container of that name that the stack did not make stays stopped.
if command -v docker >/dev/null 2>&1 && ours "$RELAY_NAME" &&
    [ "$(docker inspect -f '{{.State.Running}}' "$RELAY_NAME" 2>/dev/null)" = false ] &&
    [ "$(docker inspect -f '{{.State.Running}}' "$REGISTRY_NAME" 2>/dev/null)" = true ]; then
    if docker start "$RELAY_NAME" >/dev/null; then echo "started the metrics relay again"; fi
fi
dir="${DSO_ROOT:-}$TEXTFILE_DIR"
mkdir -p "$dir"
# The notAfter of the PEM certificate on stdin, as seconds since the epoch; nothing when there is none.
not_after() { openssl x509 -noout -enddate 2>/dev/null | sed -n 's/^notAfter=//p' | { read -r d && date -u -d "$d" +%s; } 2>/dev/null; }
probe=1
end=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -servername "$HOST" 2>/dev/null | not_after)
if [ -z "$end" ]; then
    probe=0
    if [ -n "$CERT_FILE" ] && [ -f "${DSO_ROOT:-}$CERT_FILE" ]; then end=$(not_after <"${DSO_ROOT:-}$CERT_FILE"); fi
fi
{
    echo "# HELP $PROBE 1 when the certificate the registry's front serves could be read."
    echo "# TYPE $PROBE gauge"
    echo "$PROBE $probe"
    if [ -n "$end" ]; then
        echo "# HELP $NOT_AFTER When the registry's certificate expires."
        echo "# TYPE $NOT_AFTER gauge"
        echo "$NOT_AFTER $end"
    fi
    if [ -n "$DATA_DIR" ] && [ -d "${DSO_ROOT:-}$DATA_DIR" ]; then
        # POSIX df in 1024-byte blocks: total, used, available.
        df -Pk "${DSO_ROOT:-}$DATA_DIR" | awk -v free="$FREE" -v size="$SIZE" 'NR == 2 {
            printf "# HELP %s Bytes free on the registry data directory'"'"'s file system.\n# TYPE %s gauge\n%s %.0f\n", free, free, free, $4 * 1024
            printf "# HELP %s Bytes of the registry data directory'"'"'s file system.\n# TYPE %s gauge\n%s %.0f\n", size, size, size, $2 * 1024
        }'
    fi
} | write_textfile "$dir" dso_registry_host.prom
