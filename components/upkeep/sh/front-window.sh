# shellcheck shell=sh
# The front's read-only window, for every maintenance script of both placements
# (components/upkeep/frontWindow.ts; why it exists: docs/decisions/maintenance-window.md): while the
# marker file exists, the Caddy front answers every write 503 with Retry-After and lets reads through.
# A script that sources this declares FRONT_SETTLE_SECONDS.

# open_front_window MARKER: creates the marker, then waits FRONT_SETTLE_SECONDS, so that a write that
# passed the front just before the marker appeared lands before the window's work begins.
open_front_window() {
    mkdir -p "$(dirname "$1")"
    : >"$1"
    sleep "$FRONT_SETTLE_SECONDS"
}

# open_marker_window MARKER: refuses writes at the front, and nothing more, until close_marker_window
# or the script's end: the marker goes on every exit, also a failed one, and a signal becomes an exit
# so that the trap runs then too. Nothing restarts, so the window is the marker's lifetime.
open_marker_window() {
    window_marker=$1
    trap 'rm -f "$window_marker"' EXIT
    trap 'exit 143' HUP INT TERM
    open_front_window "$1"
}

# close_marker_window: ends open_marker_window's window before the script ends.
close_marker_window() {
    rm -f "$window_marker"
    trap - EXIT HUP INT TERM
}
