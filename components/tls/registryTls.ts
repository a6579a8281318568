/**
 * TLS material for a registry of our own: a CA and server certificate generated with @pulumi/tls, or
 * the operator's certificate and key. ACME and cert-manager need nothing here.
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { DEFAULT_VALIDITY_DAYS, type Defaulted } from "../shared/defaults";
import { PROJECT } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { typeToken } from "../shared/typeToken";
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

/** What `resolveRegistryTls` returns: the args with every default applied, what the component builds from. */
export type ResolvedRegistryTls = Defaulted<RegistryTlsArgs, "source" | "caValidityDays" | "serverCertValidityDays">;

/** The component's resolve step: the defaults each arg's `@default` documents (the stack config's too, components/shared/defaults.ts). */
export function resolveRegistryTls(args: RegistryTlsArgs): ResolvedRegistryTls {
    return {
        ...args,
        source: args.source ?? "generated",
        caValidityDays: args.caValidityDays ?? DEFAULT_VALIDITY_DAYS.ca,
        serverCertValidityDays: args.serverCertValidityDays ?? DEFAULT_VALIDITY_DAYS.serverCert,
    };
}

/** One resource `RegistryTls` registers: its name and its args, a function of the values of those registered before it where it takes any. */
export interface PlannedTlsResource<A> {
    readonly name: string;
    readonly args: A;
}

/** What `RegistryTls` registers for a generated CA and server certificate, in this order, and the renewals it tells of. */
export interface GeneratedTlsPlan {
    readonly source: "generated";
    readonly caKey: PlannedTlsResource<tls.PrivateKeyArgs>;
    /** With the CA key's PEM. */
    readonly ca: PlannedTlsResource<(caPrivateKeyPem: pulumi.Output<string>) => tls.SelfSignedCertArgs>;
    readonly serverKey: PlannedTlsResource<tls.PrivateKeyArgs>;
    /** With the server key's PEM. */
    readonly csr: PlannedTlsResource<(serverPrivateKeyPem: pulumi.Output<string>) => tls.CertRequestArgs>;
    /** With the request, the CA key and the CA certificate. */
    readonly server: PlannedTlsResource<
        (links: {
            readonly certRequestPem: pulumi.Output<string>;
            readonly caPrivateKeyPem: pulumi.Output<string>;
            readonly caCertPem: pulumi.Output<string>;
        }) => tls.LocallySignedCertArgs
    >;
    /** What the renewal notice of each certificate says (`noticeRenewal`). */
    readonly notices: {
        readonly ca: Omit<CertificateDates, "start" | "end">;
        readonly server: Omit<CertificateDates, "start" | "end">;
    };
}

/** The operator's certificate chain and key, passed through. */
export interface ProvidedTlsPlan {
    readonly source: "provided";
    readonly certificatePem: pulumi.Input<string>;
    readonly privateKeyPem: pulumi.Input<string>;
}

/** What `RegistryTls` registers and exposes (`planRegistryTls`), or why its args cannot work. */
export type RegistryTlsPlan = GeneratedTlsPlan | ProvidedTlsPlan | { readonly problem: string };

/**
 * Everything `RegistryTls` registers, from its args with the defaults applied: nothing for a provided
 * certificate; for a generated one the keys, the CA, the request and the server certificate with their
 * subjects, uses, lifetimes and renewal windows, and what each renewal notice says.
 */
export function planRegistryTls(name: string, args: ResolvedRegistryTls): RegistryTlsPlan {
    if (args.dnsNames.length === 0) return { problem: "at least one DNS name is needed" };
    if (args.source === "provided") {
        if (!args.provided) return { problem: `source "provided" needs the certificate and key` };
        return { source: "provided", certificatePem: args.provided.certificatePem, privateKeyPem: args.provided.privateKeyPem };
    }
    const caWindow = renewalWindowHours(args.caValidityDays, CA_RENEWAL_CAP_DAYS);
    const serverWindow = renewalWindowHours(args.serverCertValidityDays, SERVER_RENEWAL_CAP_DAYS);
    return {
        source: "generated",
        // The CA keeps its key when it is renewed: a server certificate signed before the renewal
        // still verifies against the new CA certificate (same subject and key) while nodes switch.
        caKey: { name: `${name}-ca-key`, args: { algorithm: "ECDSA", ecdsaCurve: "P256" } },
        ca: {
            name: `${name}-ca`,
            args: (caPrivateKeyPem) => ({
                privateKeyPem: caPrivateKeyPem,
                isCaCertificate: true,
                subject: { commonName: `${args.dnsNames[0]} registry CA`, organization: PROJECT },
                validityPeriodHours: args.caValidityDays * 24,
                earlyRenewalHours: caWindow,
                allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
            }),
        },
        serverKey: { name: `${name}-server-key`, args: { algorithm: "ECDSA", ecdsaCurve: "P256" } },
        csr: {
            name: `${name}-server-csr`,
            args: (serverPrivateKeyPem) => ({
                privateKeyPem: serverPrivateKeyPem,
                subject: { commonName: args.dnsNames[0], organization: PROJECT },
                dnsNames: [...args.dnsNames],
            }),
        },
        server: {
            name: `${name}-server`,
            args: ({ certRequestPem, caPrivateKeyPem, caCertPem }) => ({
                certRequestPem,
                caPrivateKeyPem,
                caCertPem,
                validityPeriodHours: args.serverCertValidityDays * 24,
                earlyRenewalHours: serverWindow,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            }),
        },
        notices: {
            ca: {
                what: "the registry's generated CA",
                windowHours: caWindow,
                consequence:
                    "the new CA replaces the old one in every node's trust files and every dso-registry-ca ConfigMap in the same run, and the server certificate is issued again",
            },
            server: {
                what: "the registry's server certificate",
                windowHours: serverWindow,
                consequence: "the registry serves the new one after this run (the in-cluster pods roll, Caddy on the host reloads)",
            },
        },
    };
}

const REGISTRY_TLS_TYPE = typeToken("tls", "RegistryTls");

export class RegistryTls extends pulumi.ComponentResource {
    /** CA certificate that nodes and clients must trust; undefined for a provided certificate. */
    readonly caCertPem?: pulumi.Output<string>;
    /** Server certificate chain (PEM). */
    readonly serverCertPem: pulumi.Output<string>;
    /** Server private key (PEM), secret. */
    readonly serverKeyPem: pulumi.Output<string>;

    constructor(name: string, given: RegistryTlsArgs, opts?: pulumi.ComponentResourceOptions) {
        // Its token named `accounts`, the folder it lived in, before it moved here.
        super(REGISTRY_TLS_TYPE, name, {}, withFormerType(opts, "dso-registry:accounts:RegistryTls", "dso:registry:RegistryTls"));
        const plan = planRegistryTls(name, resolveRegistryTls(given));
        if ("problem" in plan) throw new pulumi.ResourceError(`RegistryTls ${name}: ${plan.problem}`, this);
        if (plan.source === "provided") {
            this.serverCertPem = pulumi.output(plan.certificatePem);
            this.serverKeyPem = pulumi.secret(plan.privateKeyPem);
        } else {
            const caKey = new tls.PrivateKey(plan.caKey.name, plan.caKey.args, { parent: this });
            const ca = new tls.SelfSignedCert(plan.ca.name, plan.ca.args(caKey.privateKeyPem), { parent: this });
            const serverKey = new tls.PrivateKey(plan.serverKey.name, plan.serverKey.args, { parent: this });
            const csr = new tls.CertRequest(plan.csr.name, plan.csr.args(serverKey.privateKeyPem), { parent: this });
            const serverArgs = plan.server.args({
                certRequestPem: csr.certRequestPem,
                caPrivateKeyPem: caKey.privateKeyPem,
                caCertPem: ca.certPem,
            });
            const server = new tls.LocallySignedCert(plan.server.name, serverArgs, { parent: this });
            noticeRenewal(ca, plan.notices.ca);
            noticeRenewal(server, plan.notices.server);
            this.caCertPem = ca.certPem;
            this.serverCertPem = server.certPem;
            this.serverKeyPem = pulumi.secret(serverKey.privateKeyPem);
        }
        this.registerOutputs({ caCertPem: this.caCertPem, serverCertPem: this.serverCertPem });
    }
}
