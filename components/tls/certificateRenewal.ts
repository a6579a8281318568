/**
 * When the certificates the program generates are renewed. pulumi-tls replaces a certificate on the
 * first `pulumi up` (or preview) at which `now ≥ end − earlyRenewalHours`: a window as long as the
 * lifetime would replace it on every run, and no window at all would renew it only after it expired,
 * when every client has already broken. Here the window is a third of the lifetime, at most a cap,
 * so it is always shorter than the lifetime and long enough that a stack deployed now and then still
 * gets a run inside it.
 *
 * Pure: no Pulumi, no I/O.
 */

/** Longest renewal window of the server certificate: 30 days, as an ACME client renews. */
export const SERVER_RENEWAL_CAP_DAYS = 30;
/**
 * Longest renewal window of the CA: 90 days. Renewing the CA changes the trust file on every node and
 * every `dso-registry-ca` ConfigMap in one run; a longer window gives that run time to happen.
 */
export const CA_RENEWAL_CAP_DAYS = 90;

/** The renewal window (`earlyRenewalHours`) of a certificate valid `validityDays`: a third of it, at most `capDays`. */
export function renewalWindowHours(validityDays: number, capDays: number): number {
    return Math.min(Math.floor((validityDays * 24) / 3), capDays * 24);
}

/** A certificate as the notice needs it. */
export interface CertificateDates {
    /** What it is, for the message: "the registry's CA", "the registry's server certificate". */
    readonly what: string;
    /** RFC 3339 times, as pulumi-tls reports them (`validityStartTime`, `validityEndTime`). */
    readonly start: string;
    readonly end: string;
    readonly windowHours: number;
    /** What changes when it is renewed, for the message. */
    readonly consequence: string;
}

/**
 * What a run should say about a certificate, or undefined. A certificate that was issued during this
 * run (its start is after `runStart`, less a minute of clock skew) is new: a first deploy or a renewal.
 * One whose renewal window opens within another window's length is announced ahead, with the date from
 * which `pulumi up` renews it.
 */
export function renewalNotice(cert: CertificateDates, now: Date, runStart: Date): string | undefined {
    const start = Date.parse(cert.start);
    const end = Date.parse(cert.end);
    if (Number.isNaN(start) || Number.isNaN(end)) return undefined;
    const window = cert.windowHours * 3600 * 1000;
    if (start >= runStart.getTime() - 60_000) {
        return `${cert.what} was issued in this run (a first deploy or a renewal inside its renewal window), valid until ${cert.end}: ${cert.consequence}`;
    }
    const opens = end - window;
    if (now.getTime() >= opens - window) {
        return `${cert.what} expires at ${cert.end}; the first \`pulumi up\` after ${new Date(opens).toISOString()} renews it: ${cert.consequence}. Run one before it expires`;
    }
    return undefined;
}
