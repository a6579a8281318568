/**
 * The generated certificates renew on a regular `up` before they expire, never in a loop: pulumi-tls
 * replaces a certificate once `now ≥ end − earlyRenewalHours`, so the window must be shorter than the
 * lifetime (else every run replaces it) and present on the CA too (else it renews only after expiry).
 * The windows RegistryTls gives its certificates: registryTls.test.ts.
 */
import { describe, expect, it } from "vitest";
import { registry } from "../../components/config/schema/registry";
import { CA_RENEWAL_CAP_DAYS, renewalNotice, renewalWindowHours, SERVER_RENEWAL_CAP_DAYS } from "../../components/tls/certificateRenewal";

/** The lifetimes the schema accepts, from its own bounds. */
function bounds(key: "caValidityDays" | "serverCertValidityDays"): [number, number] {
    const tls = (registry.shape.tls as unknown as { unwrap(): typeof registry }).unwrap().shape as unknown as Record<
        string,
        { safeParse(v: unknown): { success: boolean } }
    >;
    const field = tls[key]!;
    const parsed = (n: number) => field.safeParse(n).success;
    let min = 1;
    while (!parsed(min)) min++;
    let max = min;
    while (parsed(max + 1)) max++;
    return [min, max];
}

describe("renewal windows", () => {
    it.each([
        ["server certificate", "serverCertValidityDays", SERVER_RENEWAL_CAP_DAYS],
        ["CA", "caValidityDays", CA_RENEWAL_CAP_DAYS],
    ] as const)("of the %s are shorter than its lifetime, and not empty, for every lifetime the schema accepts", (_, key, cap) => {
        const [min, max] = bounds(key);
        for (const days of [min, min + 1, 30, 90, 365, max]) {
            const window = renewalWindowHours(days, cap);
            expect(window, `${days} days`).toBeGreaterThan(0);
            expect(window, `${days} days`).toBeLessThan(days * 24);
        }
    });
});

describe("renewalNotice", () => {
    const runStart = new Date("2026-06-01T12:00:00Z");
    const now = new Date("2026-06-01T12:00:30Z");
    const cert = (start: string, end: string) => ({ what: "the CA", start, end, windowHours: 30 * 24, consequence: "nodes change" });

    it("says so when the certificate was issued in this run (a renewal inside its window)", () => {
        expect(renewalNotice(cert("2026-06-01T12:00:10Z", "2027-06-01T12:00:10Z"), now, runStart)).toMatch(
            /^the CA was issued in this run .*valid until 2027-06-01T12:00:10Z: nodes change$/,
        );
    });

    it("announces a window that opens soon, with the date from which `up` renews", () => {
        expect(renewalNotice(cert("2025-06-01T00:00:00Z", "2026-07-20T00:00:00Z"), now, runStart)).toBe(
            "the CA expires at 2026-07-20T00:00:00Z; the first `pulumi up` after 2026-06-20T00:00:00.000Z renews it: nodes change. Run one before it expires",
        );
    });

    it("says nothing far from the window, or without dates (a preview of a new certificate)", () => {
        expect(renewalNotice(cert("2025-06-01T00:00:00Z", "2030-01-01T00:00:00Z"), now, runStart)).toBeUndefined();
        expect(renewalNotice(cert("", ""), now, runStart)).toBeUndefined();
    });
});
