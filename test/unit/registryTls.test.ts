/**
 * RegistryTls under Pulumi's mocks (components/tls/registryTls.ts): the certificates it generates renew on
 * a regular `up` inside their lifetime, the CA's too, even for the shortest lifetimes (no replacement on
 * every run). The renewal windows themselves: certificateRenewal.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type MockRuntime, settle, startMockRuntime } from "../../tools/mockRuntime";

describe("RegistryTls under mocks", () => {
    let rt: MockRuntime;
    beforeAll(async () => {
        rt = await startMockRuntime({ stack: "test" });
        const { RegistryTls } = await import("../../components/tls/registryTls");
        new RegistryTls("short", { source: "generated", dnsNames: ["r.example.test"], caValidityDays: 30, serverCertValidityDays: 7 });
        await settle();
    });

    it("renews the server certificate inside its lifetime, even a 7-day one (no replacement on every run)", () => {
        const server = rt.byName("short-server").inputs;
        expect(server.validityPeriodHours).toBe(7 * 24);
        expect(server.earlyRenewalHours).toBeGreaterThan(0);
        expect(server.earlyRenewalHours).toBeLessThan(server.validityPeriodHours as number);
    });

    it("renews the CA early too, inside its lifetime", () => {
        const ca = rt.byName("short-ca").inputs;
        expect(ca.earlyRenewalHours).toBeGreaterThan(0);
        expect(ca.earlyRenewalHours).toBeLessThan(ca.validityPeriodHours as number);
    });
});
