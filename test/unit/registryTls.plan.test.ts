/**
 * What the registry's TLS material registers (`planRegistryTls`, components/tls/registryTls.ts), tested
 * without a Pulumi runtime: the refusals, nothing but the pass-through for a provided certificate, and for
 * a generated one the keys, the CA and the server certificate with their names, subjects, uses, lifetimes,
 * renewal windows and notices. The constructor only registers this description.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { type GeneratedTlsPlan, planRegistryTls, type RegistryTlsArgs, resolveRegistryTls } from "../../components/tls/registryTls";

const generated: RegistryTlsArgs = { dnsNames: ["registry.example.com", "registry"], caValidityDays: 30, serverCertValidityDays: 7 };
const plan = (args: RegistryTlsArgs) => planRegistryTls("tls", resolveRegistryTls(args));

/** The plan of generated material, or a failure. */
function generatedPlan(args: RegistryTlsArgs): GeneratedTlsPlan {
    const p = plan(args);
    if (!("source" in p) || p.source !== "generated") return expect.fail(`not a generated plan: ${JSON.stringify(p)}`);
    return p;
}

describe("planRegistryTls", () => {
    it.each([
        ["no DNS name", { ...generated, dnsNames: [] }, "at least one DNS name is needed"],
        [
            "a provided source without the certificate",
            { ...generated, source: "provided" },
            'source "provided" needs the certificate and key',
        ],
    ] as const)("refuses %s", (_case, args, problem) => {
        expect(plan(args)).toEqual({ problem });
    });

    it("passes a provided certificate and key through, and generates nothing", () => {
        const provided = { certificatePem: "CERT", privateKeyPem: "KEY" };
        expect(plan({ dnsNames: ["registry.example.com"], source: "provided", provided })).toEqual({ source: "provided", ...provided });
    });

    it("names the keys, the CA, the request and the server certificate after the component", () => {
        const p = generatedPlan(generated);
        expect([p.caKey, p.ca, p.serverKey, p.csr, p.server].map((r) => r.name)).toEqual([
            "tls-ca-key",
            "tls-ca",
            "tls-server-key",
            "tls-server-csr",
            "tls-server",
        ]);
        expect(p.caKey.args).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P256" });
        expect(p.serverKey.args).toEqual({ algorithm: "ECDSA", ecdsaCurve: "P256" });
    });

    it("signs a CA for the first name and a server certificate for every name, each with its own uses", () => {
        const p = generatedPlan(generated);
        const caKeyPem = pulumi.output("CA-KEY");
        const ca = p.ca.args(caKeyPem);
        expect(ca).toMatchObject({
            privateKeyPem: caKeyPem,
            isCaCertificate: true,
            subject: { commonName: "registry.example.com registry CA" },
        });
        expect(ca.allowedUses).toEqual(["cert_signing", "crl_signing", "digital_signature"]);
        const csr = p.csr.args(pulumi.output("SERVER-KEY"));
        expect(csr).toMatchObject({ subject: { commonName: "registry.example.com" }, dnsNames: ["registry.example.com", "registry"] });
        const links = { certRequestPem: pulumi.output("CSR"), caPrivateKeyPem: caKeyPem, caCertPem: pulumi.output("CA") };
        const server = p.server.args(links);
        expect(server).toMatchObject(links);
        expect(server.allowedUses).toEqual(["digital_signature", "key_encipherment", "server_auth"]);
    });

    it("gives each certificate its lifetime and renews it a third before its end, the same window its notice names", () => {
        const p = generatedPlan(generated);
        const links = { certRequestPem: pulumi.output(""), caPrivateKeyPem: pulumi.output(""), caCertPem: pulumi.output("") };
        expect(p.ca.args(pulumi.output(""))).toMatchObject({ validityPeriodHours: 30 * 24, earlyRenewalHours: 10 * 24 });
        expect(p.server.args(links)).toMatchObject({ validityPeriodHours: 7 * 24, earlyRenewalHours: 56 });
        expect(p.notices.ca).toMatchObject({ what: "the registry's generated CA", windowHours: 10 * 24 });
        expect(p.notices.server).toMatchObject({ what: "the registry's server certificate", windowHours: 56 });
    });

    it("takes the documented lifetimes by default", () => {
        const p = generatedPlan({ dnsNames: ["registry.example.com"] });
        expect(p.ca.args(pulumi.output(""))).toMatchObject({ validityPeriodHours: 3650 * 24 });
        const links = { certRequestPem: pulumi.output(""), caPrivateKeyPem: pulumi.output(""), caCertPem: pulumi.output("") };
        expect(p.server.args(links)).toMatchObject({ validityPeriodHours: 825 * 24 });
    });
});
