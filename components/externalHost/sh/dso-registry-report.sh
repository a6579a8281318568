#!/bin/sh
# Managed by dso-registry: runs one upkeep job and leaves its outcome for node_exporter's textfile
# collector. See docs/monitoring.md.
#
# dso-registry-report TASK MEASURED-DIR COMMAND [ARGS...]: runs COMMAND, then writes
# TEXTFILE_DIR/dso_registry_TASK.prom: when the run ended, whether it succeeded, when it last
# succeeded (kept from the previous file after a failure), how long it took, and MEASURED-DIR's size
# after the run and how much smaller it got (empty: 0). The file is written beside its final name and
# moved into place, so node_exporter never reads half of it. Exits with COMMAND's status.
: "${TEXTFILE_DIR:?}" "${LAST_RUN:?}" "${LAST_SUCCESS:?}" "${SUCCESS:?}" "${DURATION:?}" "${BYTES_FREED:?}" "${BYTES:?}"
set -u
# shellcheck source=../../upkeep/sh/textfile.sh
. "$(dirname "$0")/../../upkeep/sh/textfile.sh"
if [ "$#" -lt 3 ]; then echo "usage: dso-registry-report TASK MEASURED-DIR COMMAND [ARGS...]" >&2; exit 2; fi
task=$1 measured=$2
shift 2
size() {
    if [ -n "$measured" ] && [ -d "${DSO_ROOT:-}$measured" ]; then du -sb "${DSO_ROOT:-}$measured" 2>/dev/null | cut -f1; else echo 0; fi
}
before=$(size)
start=$(date +%s)
DSO_REPORTING=$task
export DSO_REPORTING
status=0
"$@" || status=$?
end=$(date +%s)
after=$(size)
dir="${DSO_ROOT:-}$TEXTFILE_DIR"
file="$dir/dso_registry_$task.prom"
label="{task=\"$task\"}"
if [ "$status" -eq 0 ]; then
    ok=1 last_success=$end
else
    ok=0
    # Read as it is written: not through a link someone put in the directory's place (textfile.sh).
    last_success=$(read_textfile "$dir" "dso_registry_$task.prom" 2>/dev/null | sed -n "s/^$LAST_SUCCESS{task=\"$task\"} \([0-9][0-9]*\)$/\1/p" | head -n 1)
fi
freed=$((before - after))
[ "$freed" -gt 0 ] || freed=0
if mkdir -p "$dir" 2>/dev/null; then
    {
        echo "# HELP $LAST_RUN When the dso-registry job last ended."
        echo "# TYPE $LAST_RUN gauge"
        echo "$LAST_RUN$label $end"
        if [ -n "${last_success:-}" ]; then
            echo "# HELP $LAST_SUCCESS When the dso-registry job last ended successfully."
            echo "# TYPE $LAST_SUCCESS gauge"
            echo "$LAST_SUCCESS$label $last_success"
        fi
        echo "# HELP $SUCCESS 1 when the dso-registry job's last run succeeded, 0 when it failed."
        echo "# TYPE $SUCCESS gauge"
        echo "$SUCCESS$label $ok"
        echo "# HELP $DURATION How long the dso-registry job's last run took."
        echo "# TYPE $DURATION gauge"
        echo "$DURATION$label $((end - start))"
        echo "# HELP $BYTES_FREED How much smaller the job's directory got in its last run."
        echo "# TYPE $BYTES_FREED gauge"
        echo "$BYTES_FREED$label $freed"
        echo "# HELP $BYTES The size of the job's directory after its last run."
        echo "# TYPE $BYTES gauge"
        echo "$BYTES$label $after"
    } | write_textfile "$dir" "dso_registry_$task.prom" || echo "could not write $file" >&2
else
    echo "could not create $dir: the outcome of $task is not reported" >&2
fi
if [ "$status" -eq 0 ]; then echo "$task succeeded in $((end - start)) s"; else echo "$task FAILED (exit $status) after $((end - start)) s" >&2; fi
exit "$status"
