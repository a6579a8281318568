# shellcheck shell=sh
# The front's read-only window, for every maintenance script of both placements
# (components/upkeep/frontWindow.ts; why it exists: docs/decisions/maintenance-window.md): while the
# marker file exists, the Caddy front answers every write 503 with Retry-After and lets reads through.
# A script that sources this declares FRONT_SETTLE_SECONDS and FRONT_DRAIN_SECONDS.

# open_front_window MARKER [DIR...]: creates the marker, then waits until the writes already past the
# front have landed: nothing under DIR... (the registry's storage, the backed-up directories) may
# change for FRONT_SETTLE_SECONDS after the marker was last touched. An upload that was streaming
# when the marker appeared keeps writing its file, so the wait lasts as long as it does (at most
# FRONT_DRAIN_SECONDS, then the window gives up and fails); its next request (PATCH, PUT) gets 503.
# Without DIR (s3 storage) only the settle time is waited.
open_front_window() {
    window_file=$1
    shift
    mkdir -p "$(dirname "$window_file")"
    : >"$window_file"
    drained=0
    while :; do
        sleep "$FRONT_SETTLE_SECONDS"
        drained=$((drained + FRONT_SETTLE_SECONDS))
        [ $# -gt 0 ] || return 0
        # Files written since the marker was last touched (pulls write nothing).
        written=$(find "$@" -type f -newer "$window_file" 2>/dev/null | head -n 1)
        [ -n "$written" ] || return 0
        if [ "$drained" -ge "$FRONT_DRAIN_SECONDS" ]; then
            echo "writes still in flight after $drained s (e.g. $written): the window gives up" >&2
            return 1
        fi
        echo "waiting for writes in flight (e.g. $written)"
        touch "$window_file"
    done
}

# open_marker_window MARKER [DIR...]: refuses writes at the front, and nothing more, until
# close_marker_window or the script's end: the marker goes on every exit, also a failed one, and a
# signal becomes an exit so that the trap runs then too. Nothing restarts, so the window is the
# marker's lifetime. DIR...: as for open_front_window.
open_marker_window() {
    window_marker=$1
    trap 'rm -f "$window_marker"' EXIT
    trap 'exit 143' HUP INT TERM
    open_front_window "$@"
}

# close_marker_window: ends open_marker_window's window before the script ends.
close_marker_window() {
    rm -f "$window_marker"
    trap - EXIT HUP INT TERM
}
