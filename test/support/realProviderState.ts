/**
 * Provider outputs with real values, for tests that deploy a stack onto real software: the TLS
 * material @pulumi/tls would make (keys with node's crypto, certificate requests and certificates with
 * openssl, from the same inputs the provider gets). Everything else keeps the mock runtime's values
 * (generated passwords: a fixed password and a real bcrypt hash of it).
 *
 * Only what the program asks @pulumi/tls for is handled, and anything else it might ask is refused, so
 * a new use of the provider cannot slip through with a placeholder where a test needs a certificate.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { runOk } from "./serverProcess";

interface Subject {
    readonly commonName?: string;
    readonly organization?: string;
}

/** @pulumi/tls's allowedUses, as openssl extension values. */
const KEY_USAGE: Record<string, string> = {
    cert_signing: "keyCertSign",
    crl_signing: "cRLSign",
    digital_signature: "digitalSignature",
    key_encipherment: "keyEncipherment",
};
const EXTENDED_KEY_USAGE: Record<string, string> = { server_auth: "serverAuth", client_auth: "clientAuth" };

function subjectArg(subject: Subject | undefined): string {
    const parts = [subject?.organization && `O=${subject.organization}`, subject?.commonName && `CN=${subject.commonName}`];
    return `/${parts.filter(Boolean).join("/")}`;
}

/** openssl extension lines for the provider's allowedUses (and basicConstraints for a CA). */
function usageExtensions(allowedUses: readonly string[], isCa: boolean): string[] {
    const unknown = allowedUses.filter((u) => !(u in KEY_USAGE) && !(u in EXTENDED_KEY_USAGE));
    if (unknown.length > 0) throw new Error(`realProviderState: allowedUses ${unknown.join(", ")} not modelled`);
    const keyUsage = allowedUses.filter((u) => u in KEY_USAGE).map((u) => KEY_USAGE[u]);
    const extended = allowedUses.filter((u) => u in EXTENDED_KEY_USAGE).map((u) => EXTENDED_KEY_USAGE[u]);
    return [
        `basicConstraints = critical, CA:${isCa ? "TRUE" : "FALSE"}`,
        ...(keyUsage.length ? [`keyUsage = critical, ${keyUsage.join(", ")}`] : []),
        ...(extended.length ? [`extendedKeyUsage = ${extended.join(", ")}`] : []),
    ];
}

/** Runs openssl on files in a scratch directory that is removed afterwards. */
function withFiles<T>(files: Record<string, string>, use: (file: (name: string) => string) => T): T {
    const dir = mkdtempSync(path.join(tmpdir(), "dso-tls-"));
    try {
        const file = (name: string) => path.join(dir, name);
        for (const [name, text] of Object.entries(files)) writeFileSync(file(name), text, { mode: 0o600 });
        return use(file);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

const serial = () => `0x${randomBytes(16).toString("hex")}`;
const days = (inputs: Record<string, unknown>) => String(Math.max(1, Math.ceil(Number(inputs.validityPeriodHours) / 24)));

/** The state of a @pulumi/tls resource with real material; undefined for resources of other providers. */
export function realProviderState(type: string, _name: string, inputs: Record<string, unknown>): Record<string, unknown> | undefined {
    if (!type.startsWith("tls:")) return undefined;
    switch (type) {
        case "tls:index/privateKey:PrivateKey": {
            if (inputs.algorithm !== "ECDSA" || inputs.ecdsaCurve !== "P256")
                throw new Error(`realProviderState: private key ${String(inputs.algorithm)} ${String(inputs.ecdsaCurve)} not modelled`);
            const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
            return {
                ...inputs,
                privateKeyPem: privateKey.export({ format: "pem", type: "sec1" }),
                privateKeyPemPkcs8: privateKey.export({ format: "pem", type: "pkcs8" }),
                publicKeyPem: publicKey.export({ format: "pem", type: "spki" }),
            };
        }
        case "tls:index/selfSignedCert:SelfSignedCert":
            return withFiles(
                {
                    "key.pem": String(inputs.privateKeyPem),
                    "ext.cnf": [
                        "[ext]",
                        ...usageExtensions((inputs.allowedUses as string[]) ?? [], inputs.isCaCertificate === true),
                        "subjectKeyIdentifier = hash",
                    ].join("\n"),
                },
                (file) => {
                    runOk("openssl", [
                        "req",
                        "-x509",
                        "-new",
                        "-key",
                        file("key.pem"),
                        "-subj",
                        subjectArg(inputs.subject as Subject),
                        "-days",
                        days(inputs),
                        "-set_serial",
                        serial(),
                        "-config",
                        file("ext.cnf"),
                        "-extensions",
                        "ext",
                        "-out",
                        file("cert.pem"),
                    ]);
                    return { ...inputs, certPem: readFileSync(file("cert.pem"), "utf8") };
                },
            );
        case "tls:index/certRequest:CertRequest":
            return withFiles({ "key.pem": String(inputs.privateKeyPem) }, (file) => {
                const names = ((inputs.dnsNames as string[]) ?? []).map((n) => `DNS:${n}`);
                runOk("openssl", [
                    "req",
                    "-new",
                    "-key",
                    file("key.pem"),
                    "-subj",
                    subjectArg(inputs.subject as Subject),
                    ...(names.length ? ["-addext", `subjectAltName = ${names.join(", ")}`] : []),
                    "-out",
                    file("csr.pem"),
                ]);
                return { ...inputs, certRequestPem: readFileSync(file("csr.pem"), "utf8") };
            });
        case "tls:index/locallySignedCert:LocallySignedCert":
            return withFiles(
                {
                    "csr.pem": String(inputs.certRequestPem),
                    "ca.pem": String(inputs.caCertPem),
                    "ca-key.pem": String(inputs.caPrivateKeyPem),
                    "ext.cnf": ["[ext]", ...usageExtensions((inputs.allowedUses as string[]) ?? [], false)].join("\n"),
                },
                (file) => {
                    runOk("openssl", [
                        "x509",
                        "-req",
                        "-in",
                        file("csr.pem"),
                        "-CA",
                        file("ca.pem"),
                        "-CAkey",
                        file("ca-key.pem"),
                        "-set_serial",
                        serial(),
                        "-days",
                        days(inputs),
                        // The request's subjectAltName travels into the certificate, as the provider does.
                        "-copy_extensions",
                        "copy",
                        "-extfile",
                        file("ext.cnf"),
                        "-extensions",
                        "ext",
                        "-out",
                        file("cert.pem"),
                    ]);
                    return { ...inputs, certPem: readFileSync(file("cert.pem"), "utf8") };
                },
            );
        default:
            throw new Error(`realProviderState: ${type} is not modelled; add it here before a test deploys it`);
    }
}
