/**
 * TLS material for a registry of our own: a CA and server certificate generated with @pulumi/tls, or
 * the operator's certificate and key. ACME and cert-manager need nothing here.
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { DEFAULT_VALIDITY_DAYS, type WithDefaults } from "../shared/defaults";
import { PROJECT } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import {
    CA_RENEWAL_CAP_DAYS,
    type CertificateDates,
    renewalNotice,
    renewalWindowHours,
    SERVER_RENEWAL_CAP_DAYS,
} from "./certificateRenewal";

/** When the program started: a certificate issued after it was issued by this run. */
const RUN_START = new Date();

/**
 * Tells the operator about a certificate's renewal (`renewalNotice`): the only place the program logs
 * from an `apply`, because only the provider's state knows the certificate's dates, and a renewal
 * changes what every client trusts.
 */
function noticeRenewal(cert: tls.SelfSignedCert | tls.LocallySignedCert, dates: Omit<CertificateDates, "start" | "end">): void {
    pulumi.all([cert.validityStartTime, cert.validityEndTime]).apply(([start, end]) => {
        const notice = renewalNotice({ ...dates, start, end }, new Date(), RUN_START);
        if (notice) pulumi.log.warn(notice, cert);
    });
}

export interface RegistryTlsArgs {
    /**
     * "generated" makes a CA and a server certificate; "provided" passes the operator's through.
     * @default "generated"
     */
    readonly source?: "generated" | "provided";
    /** Names the server certificate is valid for; the first is its common name. */
    readonly dnsNames: readonly string[];
    /**
     * Days the generated CA is valid (renewed before its end, keeping its key).
     * @default 3650
     */
    readonly caValidityDays?: number;
    /**
     * Days the generated server certificate is valid (renewed before its end).
     * @default 825
     */
    readonly serverCertValidityDays?: number;
    /** The operator's certificate chain and key (source "provided"). */
    readonly provided?: { readonly certificatePem: pulumi.Input<string>; readonly privateKeyPem: pulumi.Input<string> };
}

/** `RegistryTlsArgs` with every default applied: what the component builds from (`registryTlsDefaults`). */
export type RegistryTlsArgsWithDefaults = WithDefaults<RegistryTlsArgs, "source" | "caValidityDays" | "serverCertValidityDays">;

/** The args with the defaults each one's `@default` documents (the stack config's too, components/shared/defaults.ts). */
export function registryTlsDefaults(args: RegistryTlsArgs): RegistryTlsArgsWithDefaults {
    return {
        ...args,
        source: args.source ?? "generated",
        caValidityDays: args.caValidityDays ?? DEFAULT_VALIDITY_DAYS.ca,
        serverCertValidityDays: args.serverCertValidityDays ?? DEFAULT_VALIDITY_DAYS.serverCert,
    };
}

export class RegistryTls extends pulumi.ComponentResource {
    /** CA certificate that nodes and clients must trust; undefined for a provided certificate. */
    readonly caCertPem?: pulumi.Output<string>;
    /** Server certificate chain (PEM). */
    readonly serverCertPem: pulumi.Output<string>;
    /** Server private key (PEM), secret. */
    readonly serverKeyPem: pulumi.Output<string>;

    constructor(name: string, given: RegistryTlsArgs, opts?: pulumi.ComponentResourceOptions) {
        // The type keeps `accounts`, the folder this component lived in: another type would change every URN under it.
        super("dso-registry:accounts:RegistryTls", name, {}, withFormerType(opts, "dso:registry:RegistryTls"));
        const args = registryTlsDefaults(given);
        if (args.dnsNames.length === 0) throw new pulumi.ResourceError(`RegistryTls ${name}: at least one DNS name is needed`, this);

        if (args.source === "provided") {
            if (!args.provided)
                throw new pulumi.ResourceError(`RegistryTls ${name}: source "provided" needs the certificate and key`, this);
            this.serverCertPem = pulumi.output(args.provided.certificatePem);
            this.serverKeyPem = pulumi.secret(args.provided.privateKeyPem);
        } else {
            const caWindow = renewalWindowHours(args.caValidityDays, CA_RENEWAL_CAP_DAYS);
            const serverWindow = renewalWindowHours(args.serverCertValidityDays, SERVER_RENEWAL_CAP_DAYS);
            // The CA keeps its key when it is renewed: a server certificate signed before the renewal
            // still verifies against the new CA certificate (same subject and key) while nodes switch.
            const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
            const ca = new tls.SelfSignedCert(
                `${name}-ca`,
                {
                    privateKeyPem: caKey.privateKeyPem,
                    isCaCertificate: true,
                    subject: { commonName: `${args.dnsNames[0]} registry CA`, organization: PROJECT },
                    validityPeriodHours: args.caValidityDays * 24,
                    earlyRenewalHours: caWindow,
                    allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
                },
                { parent: this },
            );
            const serverKey = new tls.PrivateKey(`${name}-server-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
            const csr = new tls.CertRequest(
                `${name}-server-csr`,
                {
                    privateKeyPem: serverKey.privateKeyPem,
                    subject: { commonName: args.dnsNames[0], organization: PROJECT },
                    dnsNames: [...args.dnsNames],
                },
                { parent: this },
            );
            const server = new tls.LocallySignedCert(
                `${name}-server`,
                {
                    certRequestPem: csr.certRequestPem,
                    caPrivateKeyPem: caKey.privateKeyPem,
                    caCertPem: ca.certPem,
                    validityPeriodHours: args.serverCertValidityDays * 24,
                    earlyRenewalHours: serverWindow,
                    allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
                },
                { parent: this },
            );
            noticeRenewal(ca, {
                what: "the registry's generated CA",
                windowHours: caWindow,
                consequence:
                    "the new CA replaces the old one in every node's trust files and every dso-registry-ca ConfigMap in the same run, and the server certificate is issued again",
            });
            noticeRenewal(server, {
                what: "the registry's server certificate",
                windowHours: serverWindow,
                consequence: "the registry serves the new one after this run (the in-cluster pods roll, Caddy on the host reloads)",
            });
            this.caCertPem = ca.certPem;
            this.serverCertPem = server.certPem;
            this.serverKeyPem = pulumi.secret(serverKey.privateKeyPem);
        }
        this.registerOutputs({ caCertPem: this.caCertPem, serverCertPem: this.serverCertPem });
    }
}
