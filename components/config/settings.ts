/**
 * The configuration as the program reads it. The schema checks one key at a time and the rules check
 * keys against each other; once both pass, `toSettings` gives every mode exactly the settings it needs
 * (an ACME certificate its contact address, S3 storage its bucket, SSH node delivery its list of
 * nodes, an external host its SSH connection), so the wiring narrows on the mode and never asserts
 * that a setting is there.
 */
import { INGRESS_CONTROLLER_OF_CLASS, type IngressController, PROJECT } from "../shared/facts";
import type { FlatConfig } from "./schema";

type FlatRegistry = FlatConfig["registry"];
type FlatTls = FlatRegistry["tls"];
type FlatStorage = FlatRegistry["storage"];
type FlatNodes = FlatConfig["nodes"];
type FlatJenkins = FlatConfig["jenkins"];

/** `dso-registry:containerRegistry`: the registry as clients see it. */
export type ContainerRegistryConfig = FlatConfig["containerRegistry"];
/** `dso-registry:mavenRegistry`: the Maven repository CI deploys to. */
export type MavenRegistryConfig = NonNullable<FlatConfig["mavenRegistry"]>;
/** `dso-registry:inCluster`: namespace, ingress class, KEP-1755 publication. */
export type InClusterConfig = FlatConfig["inCluster"];
/** `dso-registry:externalHost`: the SSH connection and the registry's directories on the host. */
export type ExternalHostConfig = NonNullable<FlatConfig["externalHost"]>;
/** `dso-registry:kind`: the Docker host of the kind cluster, the cluster, and the registry's names, port and directory there. */
export type KindConfig = FlatConfig["kind"];
/** `dso-registry:existing`: what the program needs to know about a registry it does not run. */
export type ExistingConfig = FlatConfig["existing"];
/** One entry of `dso-registry:nodes.list`. */
export type NodeConfig = FlatNodes["list"][number];
/** `dso-registry:pullSecrets`. */
export type PullSecretsConfig = FlatConfig["pullSecrets"];
/** `dso-registry:caConfigMap`: who writes ConfigMap `dso-registry-ca`, and trust-manager's trust namespace. */
export type CaConfigMapConfig = FlatConfig["caConfigMap"];
/** `registry.storage.s3`: bucket, region, endpoint. */
export type S3Config = NonNullable<FlatStorage["s3"]>;
/** `registry.tls.certManagerIssuer`. */
export type CertManagerIssuer = NonNullable<FlatTls["certManagerIssuer"]>;

/** Lifetimes, in days, of the certificates the program makes (`registry.tls.caValidityDays`, `serverCertValidityDays`). */
export interface CertificateLifetimes {
    readonly caValidityDays: number;
    readonly serverCertValidityDays: number;
}

/** `registry.tls.mode` "generated-ca": a CA and server certificate made by @pulumi/tls; nodes are given the CA. */
export interface GeneratedCaTls extends CertificateLifetimes {
    readonly mode: "generated-ca";
}

/** `registry.tls.mode` "provided": the operator's certificate and key (secrets `tlsCertificate`, `tlsPrivateKey`). */
export interface ProvidedTls extends CertificateLifetimes {
    readonly mode: "provided";
}

/** `registry.tls.mode` "acme": Caddy on the external host obtains a public certificate. */
export interface AcmeTls {
    readonly mode: "acme";
    /** Contact address Let's Encrypt sends expiry notices to. */
    readonly acmeEmail: string;
    /** ACME directory; Let's Encrypt production when unset. */
    readonly acmeDirectory?: string;
}

/** `registry.tls.mode` "cert-manager": cert-manager issues the ingress certificate. */
export type CertManagerTls =
    | (CertificateLifetimes & {
          readonly mode: "cert-manager";
          /** The program creates the issuer chain (self-signed issuer, CA, CA issuer) and reads the CA from cert-manager. */
          readonly issuer: "chain";
      })
    | {
          readonly mode: "cert-manager";
          /** The operator's issuer (`registry.tls.certManagerIssuer`). */
          readonly issuer: "named";
          readonly certManagerIssuer: CertManagerIssuer;
          /** The issuer's CA (PEM) when it is private; unknown to the program otherwise. */
          readonly caCertificate?: string;
      };

/** `registry.tls.mode` "public": an existing registry with a publicly trusted certificate. */
export interface PublicTls {
    readonly mode: "public";
}

/** The modes in which the program places the registry's certificate and key itself. */
export type OwnTls = GeneratedCaTls | ProvidedTls;
/** `registry.tls`, one variant per mode. */
export type TlsSettings = OwnTls | AcmeTls | CertManagerTls | PublicTls;

type StorageCommon = Omit<FlatStorage, "kind" | "s3">;

/** `registry.storage.kind` "filesystem": a PersistentVolumeClaim, or the external host's data directory. */
export interface FilesystemStorage extends StorageCommon {
    readonly kind: "filesystem";
    /** Never set with filesystem storage; declared so that code may test `storage.s3` itself. */
    readonly s3?: undefined;
}

/** `registry.storage.kind` "s3": S3-compatible object storage. */
export interface S3Storage extends StorageCommon {
    readonly kind: "s3";
    readonly s3: S3Config;
}

/** `registry.storage`, one variant per kind. */
export type StorageSettings = FilesystemStorage | S3Storage;

type RegistryCommon = Omit<FlatRegistry, "mode" | "tls" | "storage"> & { readonly storage: StorageSettings };

/** `registry.mode` "in-cluster": Distribution with a Caddy sidecar, behind the cluster's ingress. */
export interface InClusterRegistrySettings extends RegistryCommon {
    readonly mode: "in-cluster";
    readonly tls: OwnTls | CertManagerTls;
}

/** `registry.mode` "external-host": Distribution and Caddy on a host reached over SSH. */
export interface ExternalHostRegistrySettings extends RegistryCommon {
    readonly mode: "external-host";
    readonly tls: OwnTls | AcmeTls;
    /** `dso-registry:externalHost`. */
    readonly externalHost: ExternalHostConfig;
}

/**
 * `registry.mode` "kind": Distribution and Caddy as containers on the Docker host of a kind cluster,
 * in plain HTTP on 127.0.0.1 and on the kind network (docs/kind.md). `registry.tls` is moot there:
 * the rules accept only its default.
 */
export interface KindRegistrySettings extends RegistryCommon {
    readonly mode: "kind";
    readonly tls: GeneratedCaTls;
    /** `dso-registry:kind`. */
    readonly kind: KindConfig;
}

/** `registry.mode` "existing": a registry the program does not run. */
export interface ExistingRegistrySettings extends RegistryCommon {
    readonly mode: "existing";
    readonly tls: PublicTls;
    /** `dso-registry:existing`. */
    readonly existing: ExistingConfig;
}

/** `registry`, one variant per placement, each with the settings of its own mode. */
export type RegistrySettings = InClusterRegistrySettings | ExternalHostRegistrySettings | KindRegistrySettings | ExistingRegistrySettings;

/**
 * The registry settings a placement reads whatever its mode: images, storage, UI, maintenance,
 * replicas. Its TLS reaches it as an argument of its own.
 */
export type RegistryConfig = Omit<FlatRegistry, "tls">;

type NodesCommon = Omit<FlatNodes, "delivery" | "list">;

/** `nodes.delivery` "ssh": one set of remote commands per listed node. */
export interface NodesOverSsh extends NodesCommon {
    readonly delivery: "ssh";
    readonly list: readonly NodeConfig[];
}

/** `nodes.delivery` "daemonset": a privileged DaemonSet configures every node. */
export interface NodesByDaemonSet extends NodesCommon {
    readonly delivery: "daemonset";
}

/** `nodes.delivery` "none": the nodes' runtimes are configured elsewhere. */
export interface NodesUntouched extends NodesCommon {
    readonly delivery: "none";
}

/** `nodes`, one variant per delivery. */
export type NodesSettings = NodesOverSsh | NodesByDaemonSet | NodesUntouched;

/** `jenkins` with `enabled: true`: the credentials and the pipeline-config ConfigMap are managed. */
export interface JenkinsEnabled extends Omit<FlatJenkins, "enabled" | "url"> {
    readonly enabled: true;
    readonly url: string;
}

/** `jenkins` with `enabled: false`: nothing of Jenkins is managed. */
export interface JenkinsDisabled {
    readonly enabled: false;
}

/** `jenkins`, managed or not. */
export type JenkinsSettings = JenkinsEnabled | JenkinsDisabled;

/** The validated configuration, without secrets: what the rest of the program reads. */
export interface ParsedConfig {
    readonly containerRegistry: ContainerRegistryConfig;
    readonly mavenRegistry?: MavenRegistryConfig;
    readonly registry: RegistrySettings;
    readonly inCluster: InClusterConfig;
    readonly nodes: NodesSettings;
    readonly jenkins: JenkinsSettings;
    readonly pullSecrets: PullSecretsConfig;
    readonly caConfigMap: CaConfigMapConfig;
}

/**
 * Maps what the schema yielded into the settings of the chosen modes. Called only after every rule in
 * `rules.ts` has passed; settings of modes that are not chosen are left out.
 */
export function toSettings(c: FlatConfig): ParsedConfig {
    return {
        containerRegistry: c.containerRegistry,
        ...(c.mavenRegistry ? { mavenRegistry: c.mavenRegistry } : {}),
        registry: registrySettings(c),
        inCluster: { ...c.inCluster, ingressController: ingressControllerOf(c.inCluster) },
        nodes: nodesSettings(c.nodes),
        jenkins: jenkinsSettings(c.jenkins),
        pullSecrets: c.pullSecrets,
        caConfigMap: c.caConfigMap,
    };
}

/** The ingress controller: as the stack says, or known from the class name; undefined for another class. */
export function ingressControllerOf(i: FlatConfig["inCluster"]): IngressController | undefined {
    return i.ingressController ?? INGRESS_CONTROLLER_OF_CLASS[i.ingressClass];
}

/**
 * A combination `rules.ts` refuses with a message for the operator. Reaching this means a rule and
 * the mapping disagree: a fault in the program, not in the stack's config.
 */
function unmapped(key: string, message: string): never {
    throw new Error(`${PROJECT}:${key} ${message}; the configuration rules refuse this before it is mapped, so the program is at fault`);
}

function registrySettings(c: FlatConfig): RegistrySettings {
    const { mode, tls: flatTls, storage, ...rest } = c.registry;
    const common = { ...rest, storage: storageSettings(storage) };
    const tls = tlsSettings(flatTls);
    switch (mode) {
        case "in-cluster":
            if (tls.mode === "acme" || tls.mode === "public")
                return unmapped("registry.tls.mode", `"${tls.mode}" does not serve registry.mode "in-cluster"`);
            return { ...common, mode, tls };
        case "external-host":
            if (tls.mode === "cert-manager" || tls.mode === "public") {
                return unmapped("registry.tls.mode", `"${tls.mode}" does not serve registry.mode "external-host"`);
            }
            return {
                ...common,
                mode,
                tls,
                externalHost: c.externalHost ?? unmapped("externalHost", `is not set with registry.mode "external-host"`),
            };
        case "kind":
            if (tls.mode !== "generated-ca") return unmapped("registry.tls.mode", `"${tls.mode}" does not serve registry.mode "kind"`);
            return { ...common, mode, tls, kind: c.kind };
        case "existing":
            if (tls.mode !== "public") return unmapped("registry.tls.mode", `"${tls.mode}" does not describe registry.mode "existing"`);
            return { ...common, mode, tls, existing: c.existing };
    }
}

function tlsSettings(t: FlatTls): TlsSettings {
    switch (t.mode) {
        case "generated-ca":
        case "provided":
            return { mode: t.mode, caValidityDays: t.caValidityDays, serverCertValidityDays: t.serverCertValidityDays };
        case "acme":
            return {
                mode: t.mode,
                acmeEmail: t.acmeEmail ?? unmapped("registry.tls.acmeEmail", `is not set with registry.tls.mode "acme"`),
                acmeDirectory: t.acmeDirectory,
            };
        case "cert-manager":
            if (!t.certManagerIssuer) {
                return {
                    mode: t.mode,
                    issuer: "chain",
                    caValidityDays: t.caValidityDays,
                    serverCertValidityDays: t.serverCertValidityDays,
                };
            }
            return {
                mode: t.mode,
                issuer: "named",
                certManagerIssuer: t.certManagerIssuer,
                ...(t.certManagerCaCertificate ? { caCertificate: t.certManagerCaCertificate } : {}),
            };
        case "public":
            return { mode: t.mode };
    }
}

function storageSettings(s: FlatStorage): StorageSettings {
    const { kind, s3, ...common } = s;
    if (kind === "filesystem") return { ...common, kind };
    return { ...common, kind, s3: s3 ?? unmapped("registry.storage.s3", `is not set with registry.storage.kind "s3"`) };
}

function nodesSettings(n: FlatNodes): NodesSettings {
    const { delivery, list, ...common } = n;
    return delivery === "ssh" ? { ...common, delivery, list } : { ...common, delivery };
}

function jenkinsSettings(j: FlatJenkins): JenkinsSettings {
    const { enabled, url, ...rest } = j;
    if (!enabled) return { enabled };
    return { ...rest, enabled, url: url ?? unmapped("jenkins.url", `is not set with jenkins.enabled true`) };
}
