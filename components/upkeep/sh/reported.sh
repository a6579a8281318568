# shellcheck shell=sh
# Runs the calling script through the job reporter (components/externalHost/sh/dso-registry-report.sh)
# when it has one, so that every run, scheduled or by hand, leaves its outcome for node_exporter. The
# caller declares REPORTER (the reporter's path; empty: no reporting), REPORT_SELF (its own path) and
# REPORT_MEASURED (the directory whose size it changes or covers; may be empty).

# reported TASK ARGS...: unless this run is already reported as TASK, runs the script again through the
# reporter with the same ARGS, and does not return.
reported() {
    reported_task=$1
    shift
    [ -n "$REPORTER" ] || return 0
    [ "${DSO_REPORTING:-}" != "$reported_task" ] || return 0
    exec "${DSO_ROOT:-}$REPORTER" "$reported_task" "$REPORT_MEASURED" "${DSO_ROOT:-}$REPORT_SELF" "$@"
}
