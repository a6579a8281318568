/**
 * RegistryTls's resolve step (`resolveRegistryTls`, components/tls/registryTls.ts): a generated CA and
 * server certificate with the stack config's lifetimes unless the user says otherwise.
 */
import { describe, expect, it } from "vitest";
import { resolveRegistryTls } from "../../components/tls/registryTls";

describe("resolveRegistryTls", () => {
    it("generates, with a CA of 3650 days and a server certificate of 825", () => {
        expect(resolveRegistryTls({ dnsNames: ["registry.lab.example"] })).toEqual({
            dnsNames: ["registry.lab.example"],
            source: "generated",
            caValidityDays: 3650,
            serverCertValidityDays: 825,
        });
    });

    it("keeps every setting given", () => {
        const given = {
            source: "provided",
            dnsNames: ["registry.lab.example"],
            caValidityDays: 30,
            serverCertValidityDays: 7,
            provided: { certificatePem: "CERT", privateKeyPem: "KEY" },
        } as const;
        expect(resolveRegistryTls(given)).toEqual(given);
    });
});
