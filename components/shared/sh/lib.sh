# shellcheck shell=sh
# The shell every placed or run script shares (inlined by components/shared/shellScript.ts in place of
# the line that sources it). POSIX sh only: the scripts run under dash, busybox and bash.

# A path on the machine, under $DSO_ROOT: a prefix that tests (and the node-trust DaemonSet, "/host")
# use to keep a private root; empty on a real machine.
root_path() { printf '%s%s' "${DSO_ROOT:-}" "$1"; }
