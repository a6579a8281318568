/**
 * The front's read-only window, in both placements: while a marker file exists, the Caddy front
 * answers every write 503 with Retry-After (the policy's file signal, see
 * `AccessPolicy.readOnlySignals`) and lets reads through. `sh/front-window.sh` beside this file is the
 * one place that opens and closes such a window; the upkeep scripts of both placements source
 * it. Why the window exists, and the kinds of window built on it: docs/decisions/maintenance-window.md.
 */

/**
 * Seconds between the marker's appearance and whatever the window is for (a stop, a read of the
 * data), and the quiet time the storage must keep (no file written) before the window's work begins.
 */
export const FRONT_SETTLE_SECONDS = 2;

/**
 * Longest wait for writes that were in flight when the window opened (an upload streaming a large
 * layer over a slow link). Then each upload still streaming is cut (collections) or left as it is
 * (backups), and the window's work begins: no client holds a window back, and the front refuses
 * pushes for at most this, two settle times and the work. A write still going on then that is no
 * upload makes the window give up, and the job runs again next time.
 */
export const FRONT_DRAIN_SECONDS = 60;

/** The parameters a script that sources front-window.sh declares. */
export const FRONT_WINDOW_PARAMS = { FRONT_SETTLE_SECONDS, FRONT_DRAIN_SECONDS } as const;
