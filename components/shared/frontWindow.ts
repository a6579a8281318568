/**
 * The read-only window as the front sees it, in both placements: while a marker file exists, the
 * Caddy front answers every write 503 with Retry-After (the policy's file signal, see
 * `AccessPolicy.readOnlySignals`) and lets reads through. These shell lines are the one place that
 * opens such a window; the scripts that use them set `$marker` to the file's path first.
 *
 * Two kinds of window use them. The external host's garbage collection opens the front's window and
 * then restarts Distribution read-only (it must be read-only or stopped while it collects, and
 * restart afterwards to forget what it removed: distribution#3045, #3743). The backups of both
 * placements and the in-cluster garbage collection with one pod (`MARKER_ONLY_WINDOW`) only hold
 * writes at the front while restic's second pass reads or the collector runs: Distribution keeps
 * running, writable and serving reads, because the front is the only way in (in the cluster it runs
 * without the cache that would remember removed blobs, components/inCluster/gcWindow.ts `gcWindow`).
 */

/** Seconds between the marker's appearance and whatever the window is for (a stop, a read of the data). */
export const FRONT_SETTLE_SECONDS = 2;

/**
 * Creates the marker, then waits FRONT_SETTLE_SECONDS: a write that passed the front just before the
 * marker appeared is still on its way to Distribution, and lands before the window's work begins.
 */
export const OPEN_FRONT_WINDOW: readonly string[] = ['mkdir -p "$(dirname "$marker")"', ': > "$marker"', `sleep ${FRONT_SETTLE_SECONDS}`];

/**
 * Lines that refuse writes at the front, and nothing more, until `END_MARKER_ONLY_WINDOW` or the
 * script's end: the marker goes on every exit, also a failed one, and a signal becomes an exit so
 * that the trap runs then too. Nothing restarts, so the window is the marker's lifetime.
 */
export const MARKER_ONLY_WINDOW: readonly string[] = [
    "trap 'rm -f \"$marker\"' EXIT",
    "trap 'exit 143' HUP INT TERM",
    ...OPEN_FRONT_WINDOW,
];

/** Lines that close a `MARKER_ONLY_WINDOW` before the script ends. */
export const END_MARKER_ONLY_WINDOW: readonly string[] = ['rm -f "$marker"', "trap - EXIT HUP INT TERM"];
