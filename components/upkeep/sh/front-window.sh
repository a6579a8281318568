# shellcheck shell=sh
# The front's read-only window, for every maintenance script of both placements
# (components/upkeep/frontWindow.ts; why it exists: docs/decisions/maintenance-window.md): while the
# marker file exists, the Caddy front answers every write 503 with Retry-After and lets reads through.
# A script that sources this declares FRONT_SETTLE_SECONDS and FRONT_DRAIN_SECONDS.

# What becomes of uploads still streaming after FRONT_DRAIN_SECONDS: `cut` (the default: a collection
# must not sweep while a blob may commit) or `leave` (a backup: an unfinished upload session is copied as
# it is, and nothing names it). A script sets FRONT_LATE_UPLOADS after sourcing this file.
FRONT_LATE_UPLOADS='cut'

# Distribution's metrics (its debug listener's /metrics URL), for a window with no folder to watch (s3
# storage): a request paused in its body leaves nothing to see in a bucket, and nothing there to cut. With
# it, the window waits until Distribution serves no upload request (uploads_in_flight), and gives up when
# one is still under way after FRONT_DRAIN_SECONDS; without it, only the settle time is waited. A script
# sets FRONT_REGISTRY_METRICS after sourcing this file; reading it takes wget (busybox's or GNU's).
FRONT_REGISTRY_METRICS=''

# uploads_in_flight: how many blob upload requests Distribution is serving now (its in-flight gauges of
# the upload routes: POST, which may carry a whole blob, and the PATCH and PUT of a session); fails when
# the metrics cannot be read.
uploads_in_flight() {
    wget -q -O - "$FRONT_REGISTRY_METRICS" 2>/dev/null |
        awk '/^registry_http_in_flight_requests\{.*handler="blob_upload(_chunk)?"/ { n += $NF; seen = 1 } END { if (!seen) exit 1; print n + 0 }'
}

# cut_upload DIR: ends one upload session by removing its directory (Distribution's `_uploads/<id>`).
# The request still streaming into it writes on into a file nobody can see, its commit finds no data
# (nothing lands in the blobs), and the client's next request for it gets BLOB_UPLOAD_UNKNOWN: the
# client uploads that blob again, after the window. Distribution's collector never reads `_uploads`.
# A script that cannot write the storage itself redefines it (kind's, through the Distribution container).
cut_upload() {
    rm -rf "$1"
}

# cut_quiet_uploads DIR...: once the storage is quiet, with FRONT_LATE_UPLOADS=cut, every upload session
# still under DIR... is cut as well. A request paused in the middle of its body writes nothing, so the
# settle wait cannot tell it from a session between requests; when it goes on, it would commit its blob
# inside the window. Cut, its commit finds no data and fails, and nothing lands in the blobs. A session
# between requests loses nothing it still had: its client's next request gets the window's 503.
cut_quiet_uploads() {
    [ "$FRONT_LATE_UPLOADS" = cut ] || return 0
    for upload in $(find "$@" -type d -path '*/_uploads/*' -prune 2>/dev/null || :); do
        if cut_upload "$upload"; then
            echo "upload ${upload##*/} open when the window's work begins: cut (a request paused in its body cannot commit inside the window)"
        else
            echo "upload ${upload##*/} could not be cut: the window gives up" >&2
            return 1
        fi
    done
}

# open_front_window MARKER [DIR...]: creates the marker, then waits until the writes already past the
# front have landed: nothing under DIR... (the registry's storage, the backed-up directories) may
# change for FRONT_SETTLE_SECONDS after the marker was last touched. An upload that was streaming
# when the marker appeared keeps writing its file, so the wait lasts as long as it does, for at most
# FRONT_DRAIN_SECONDS: then each upload still streaming is cut (FRONT_LATE_UPLOADS=cut) or left
# (=leave), and the window's work begins. With cut, every upload session still there once the storage
# is quiet is cut too (cut_quiet_uploads), so that no upload commits inside the window. A write still
# going on then that is no upload (nothing the front lets through streams for that long), or an upload
# that a cut did not end, makes the window give up and fail. The next request of any client (PATCH,
# PUT) gets 503. Without DIR (s3 storage) the window waits for Distribution's upload requests
# (FRONT_REGISTRY_METRICS) in their place: the work begins once none is in flight, and the window gives up
# when one still is after FRONT_DRAIN_SECONDS, since a bucket leaves it nothing to cut; without the
# metrics too, only the settle time is waited.
open_front_window() {
    window_file=$1
    shift
    mkdir -p "$(dirname "$window_file")"
    : >"$window_file"
    drained=0
    while :; do
        sleep "$FRONT_SETTLE_SECONDS"
        drained=$((drained + FRONT_SETTLE_SECONDS))
        if [ $# -eq 0 ]; then
            [ -n "$FRONT_REGISTRY_METRICS" ] || return 0
            if ! busy=$(uploads_in_flight); then
                echo "Distribution's metrics at $FRONT_REGISTRY_METRICS cannot be read, so uploads in flight cannot be told: the window gives up" >&2
                return 1
            fi
            [ "$busy" -gt 0 ] || return 0
            if [ "$drained" -lt "$FRONT_DRAIN_SECONDS" ]; then
                echo "waiting for $busy upload requests in flight"
                continue
            fi
            echo "$busy upload requests still in flight after $drained s, which a bucket leaves nothing to cut: the window gives up" >&2
            return 1
        fi
        # Files written since the marker was last touched (pulls write nothing).
        written=$(find "$@" -type f -newer "$window_file" 2>/dev/null || :)
        if [ -z "$written" ]; then
            cut_quiet_uploads "$@"
            return
        fi
        if [ "$drained" -lt "$FRONT_DRAIN_SECONDS" ]; then
            echo "waiting for writes in flight (e.g. $(printf '%s\n' "$written" | head -n 1))"
            touch "$window_file"
            continue
        fi
        # Past twice the drain, what goes on writing is no upload that was cut (a cut one writes nowhere
        # the storage shows).
        others=$(printf '%s\n' "$written" | grep -v '/_uploads/' | head -n 1)
        if [ -n "$others" ] || [ "$drained" -ge $((2 * FRONT_DRAIN_SECONDS)) ]; then
            echo "writes still in flight after $drained s (e.g. ${others:-$(printf '%s\n' "$written" | head -n 1)}): the window gives up" >&2
            return 1
        fi
        for upload in $(printf '%s\n' "$written" | sed -n 's#^\(.*/_uploads/[^/]*\)/.*#\1#p' | sort -u); do
            if [ "$FRONT_LATE_UPLOADS" = leave ]; then
                echo "upload ${upload##*/} still streaming after $drained s: left as it is (its client's next request gets 503)"
            elif cut_upload "$upload"; then
                echo "upload ${upload##*/} still streaming after $drained s: cut (its client uploads that blob again after the window)"
            else
                echo "upload ${upload##*/} still streaming after $drained s could not be cut: the window gives up" >&2
                return 1
            fi
        done
        [ "$FRONT_LATE_UPLOADS" = cut ] || return 0
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
