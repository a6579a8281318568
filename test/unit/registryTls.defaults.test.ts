/**
 * RegistryTls's defaults (`registryTlsDefaults`, components/tls/registryTls.ts): a generated CA and
 * server certificate with the stack config's lifetimes unless the user says otherwise.
 */
import { describe, expect, it } from "vitest";
import { registryTlsDefaults } from "../../components/tls/registryTls";

describe("registryTlsDefaults", () => {
    it("generates, with a CA of 3650 days and a server certificate of 825", () => {
        expect(registryTlsDefaults({ dnsNames: ["registry.lab.example"] })).toEqual({
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
        expect(registryTlsDefaults(given)).toEqual(given);
    });
});
