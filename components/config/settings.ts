/**
 * The configuration as the program reads it. The schema checks one key at a time and the rules check
 * keys against each other; once both pass, `toSettings` gives every mode exactly the settings it needs
 * (an ACME certificate its contact address, S3 storage its bucket, SSH node delivery its list of
 * nodes, an external host its SSH connection) and none it has no use for (kind no certificate or
 * storage, an existing registry no image, storage, UI or upkeep), so the wiring narrows on the mode
 * once and never asserts that a setting is there.
 */
import { INGRESS_CONTROLLER_OF_CLASS, type IngressController } from "../shared/facts";
import type { ModeConfig, RegistryMode } from "./modeShapes";
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

type VariantOf<M extends RegistryMode> = Extract<ModeConfig, { readonly registry: { readonly mode: M } }>;
/** `registry` as the shape of mode `M` takes it (./modeShapes.ts): only that mode's keys and variants. */
type RegistryOf<M extends RegistryMode> = VariantOf<M>["registry"];

/** `registry.storage.kind` "s3": S3-compatible object storage. */
export interface S3Storage {
    readonly kind: "s3";
    readonly s3: S3Config;
}

/** `registry.storage.kind` "filesystem" in the cluster: a PersistentVolumeClaim of this size and class. */
export interface ClaimStorage {
    readonly kind: "filesystem";
    readonly size: string;
    readonly storageClass?: string;
    /** Never set with filesystem storage; declared so that code may test `storage.s3` itself. */
    readonly s3?: undefined;
}

/** `registry.storage.kind` "filesystem" on the external host: its data directory (`externalHost.dataDir`). */
export interface DirectoryStorage {
    readonly kind: "filesystem";
    /** Never set with filesystem storage; declared so that code may test `storage.s3` itself. */
    readonly s3?: undefined;
}

/** `registry.storage` in the cluster: a claim, or a bucket. */
export type InClusterStorageSettings = ClaimStorage | S3Storage;
/** `registry.storage` on the external host: its data directory, or a bucket. */
export type ExternalHostStorageSettings = DirectoryStorage | S3Storage;

/** Garbage collection and retention, which every registry the program runs offers (`registry.maintenance`, without backups). */
type Upkeep = Omit<FlatRegistry["maintenance"], "backup">;
/** `registry.maintenance`, with the backups its placement offers (`registry.maintenance.backup`, by enabled, the destination by kind). */
type MaintenanceWith<Backup> = Upkeep & { readonly backup: Backup };
/** The in-cluster registry's backups: off, or on to S3 or a volume of its own. */
export type InClusterBackupSettings = RegistryOf<"in-cluster">["maintenance"]["backup"];
/** The external host's backups: off, or on to another machine over SFTP or to S3. */
export type ExternalHostBackupSettings = RegistryOf<"external-host">["maintenance"]["backup"];

/**
 * What every registry the program runs reads, wherever it runs: Distribution's and Caddy's images, the
 * pull-through caches and who may pull through them, the additions to config.yml, and the web UI.
 */
type RunRegistrySettings = Pick<FlatRegistry, "image" | "caddyImage" | "mirrors" | "mirrorPull" | "distributionConfig" | "ui">;

/** `registry.mode` "in-cluster": Distribution with a Caddy sidecar, behind the cluster's ingress. */
export interface InClusterRegistrySettings extends RunRegistrySettings {
    readonly mode: "in-cluster";
    readonly tls: OwnTls | CertManagerTls;
    readonly storage: InClusterStorageSettings;
    readonly maintenance: MaintenanceWith<InClusterBackupSettings>;
    readonly allowedNetworks: FlatRegistry["allowedNetworks"];
    /** Metrics, with prometheus-operator's objects or scrape annotations. */
    readonly monitoring: RegistryOf<"in-cluster">["monitoring"];
    /** The ingress controller's rate limit on the token endpoint. */
    readonly loginLimit: RegistryOf<"in-cluster">["loginLimit"];
    readonly replicas: FlatRegistry["replicas"];
    /** The data disk's thresholds: the alert's, and where new uploads are refused. */
    readonly diskGuard: RegistryOf<"in-cluster">["diskGuard"];
    /** `dso-registry:inCluster`, with its ingress controller resolved from the class name when the stack does not name it. */
    readonly inCluster: InClusterConfig;
}

/** `registry.mode` "external-host": Distribution and Caddy on a host reached over SSH. */
export interface ExternalHostRegistrySettings extends RunRegistrySettings {
    readonly mode: "external-host";
    readonly tls: OwnTls | AcmeTls;
    readonly storage: ExternalHostStorageSettings;
    readonly maintenance: MaintenanceWith<ExternalHostBackupSettings>;
    readonly allowedNetworks: FlatRegistry["allowedNetworks"];
    /** Metrics, with a rules file and a scrape file for the host's Prometheus. */
    readonly monitoring: RegistryOf<"external-host">["monitoring"];
    /** fail2ban's counts. */
    readonly loginLimit: RegistryOf<"external-host">["loginLimit"];
    /** The data disk's thresholds: the alert's, and where new uploads are refused. */
    readonly diskGuard: RegistryOf<"external-host">["diskGuard"];
    /** `dso-registry:externalHost`. */
    readonly externalHost: ExternalHostConfig;
}

/**
 * `registry.mode` "kind": Distribution and Caddy as containers on the Docker host of a kind cluster,
 * in plain HTTP on 127.0.0.1 and on the kind network (docs/kind.md): no certificate, no storage but
 * `kind.dataDir`, no backups, allowlist, metrics or login limit of its own.
 */
export interface KindRegistrySettings extends RunRegistrySettings {
    readonly mode: "kind";
    readonly maintenance: Upkeep;
    /** The data directory's thresholds: where new uploads are refused. */
    readonly diskGuard: RegistryOf<"kind">["diskGuard"];
    /** `dso-registry:kind`. */
    readonly kind: KindConfig;
}

/** `registry.mode` "existing": a registry the program does not run; its images, storage, UI and upkeep are the organisation's. */
export interface ExistingRegistrySettings {
    readonly mode: "existing";
    readonly tls: PublicTls;
    /** `dso-registry:existing`. */
    readonly existing: ExistingConfig;
}

/** A registry the program runs: in the cluster, on its host, or beside a kind cluster. */
export type OwnRegistrySettings = InClusterRegistrySettings | ExternalHostRegistrySettings | KindRegistrySettings;

/** `registry`, one variant per placement, each with the settings of its own mode and nothing else. */
export type RegistrySettings = OwnRegistrySettings | ExistingRegistrySettings;

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
    readonly nodes: NodesSettings;
    readonly jenkins: JenkinsSettings;
    readonly pullSecrets: PullSecretsConfig;
    readonly caConfigMap: CaConfigMapConfig;
}

/**
 * Maps what the schema yielded into the settings of the chosen modes. Called only after every rule in
 * `rules.ts` has passed. `variant` is the stack file in its mode's shape (./modeShapes.ts): it gives the
 * registry its TLS, storage, backups, metrics, login limit and placement block, each already the
 * variant its mode takes; `c` (the catalogue's view, every key with its default) gives the rest, and
 * only to the modes that read it.
 */
export function toSettings(c: FlatConfig, variant: ModeConfig): ParsedConfig {
    return {
        containerRegistry: c.containerRegistry,
        ...(c.mavenRegistry ? { mavenRegistry: c.mavenRegistry } : {}),
        registry: registrySettings(c, variant),
        nodes: nodesSettings(c.nodes),
        jenkins: jenkinsSettings(variant.jenkins),
        pullSecrets: c.pullSecrets,
        caConfigMap: c.caConfigMap,
    };
}

/**
 * The ingress controller: as the stack says, or known from the class name; undefined for another class,
 * and for the cluster's default class (inCluster.ingressClass unset), which only the cluster knows.
 */
export function ingressControllerOf(i: Pick<FlatConfig["inCluster"], "ingressClass" | "ingressController">): IngressController | undefined {
    if (i.ingressController !== undefined) return i.ingressController;
    return i.ingressClass !== undefined && Object.hasOwn(INGRESS_CONTROLLER_OF_CLASS, i.ingressClass)
        ? INGRESS_CONTROLLER_OF_CLASS[i.ingressClass]
        : undefined;
}

/** The class as a warning or refusal names it: `inCluster.ingressClass "traefik"`, or unset (the cluster's default). */
export function ingressClassSetting(i: Pick<FlatConfig["inCluster"], "ingressClass">): string {
    return i.ingressClass === undefined
        ? "inCluster.ingressClass unset (the cluster's default class, whose controller only the cluster knows)"
        : `inCluster.ingressClass "${i.ingressClass}"`;
}

const isMode = <M extends RegistryMode>(v: ModeConfig, mode: M): v is VariantOf<M> => v.registry.mode === mode;

/** The keys of `o` among `keys` that it holds (an optional key it leaves out stays out). */
function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Pick<T, K> {
    return Object.fromEntries(keys.filter((k) => k in o).map((k) => [k, o[k]])) as Pick<T, K>;
}

/**
 * The registry's settings, narrowed once by registry.mode: each variant holds what its placement reads
 * and nothing else (kind no certificate, storage, backups, allowlist, metrics or login limit; an existing
 * registry none of what runs a registry).
 */
function registrySettings(c: FlatConfig, v: ModeConfig): RegistrySettings {
    const r = c.registry;
    const runs = pick(r, ["image", "caddyImage", "mirrors", "mirrorPull", "distributionConfig", "ui"]);
    const { backup: _backup, ...upkeep } = r.maintenance;
    if (isMode(v, "in-cluster")) {
        return {
            ...runs,
            mode: "in-cluster",
            tls: tlsSettings(v.registry.tls),
            storage: v.registry.storage,
            maintenance: { ...upkeep, backup: v.registry.maintenance.backup },
            allowedNetworks: r.allowedNetworks,
            monitoring: v.registry.monitoring,
            loginLimit: v.registry.loginLimit,
            replicas: r.replicas,
            diskGuard: v.registry.diskGuard,
            inCluster: { ...v.inCluster, ingressController: ingressControllerOf(v.inCluster) },
        };
    }
    if (isMode(v, "external-host")) {
        return {
            ...runs,
            mode: "external-host",
            tls: tlsSettings(v.registry.tls),
            storage: v.registry.storage,
            maintenance: { ...upkeep, backup: v.registry.maintenance.backup },
            allowedNetworks: r.allowedNetworks,
            monitoring: v.registry.monitoring,
            loginLimit: v.registry.loginLimit,
            diskGuard: v.registry.diskGuard,
            externalHost: v.externalHost,
        };
    }
    if (isMode(v, "kind")) return { ...runs, mode: "kind", maintenance: upkeep, diskGuard: v.registry.diskGuard, kind: v.kind };
    const existing = v as VariantOf<"existing">;
    return { mode: "existing", tls: { mode: "public" }, existing: existing.existing };
}

type TlsVariant = Exclude<VariantOf<"in-cluster" | "external-host" | "existing">["registry"]["tls"], undefined>;

function tlsSettings<T extends TlsVariant>(t: T): Extract<TlsSettings, { readonly mode: T["mode"] }>;
function tlsSettings(t: TlsVariant): TlsSettings {
    switch (t.mode) {
        case "generated-ca":
        case "provided":
            return { mode: t.mode, caValidityDays: t.caValidityDays, serverCertValidityDays: t.serverCertValidityDays };
        case "acme":
            return { mode: t.mode, acmeEmail: t.acmeEmail, acmeDirectory: t.acmeDirectory };
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

function nodesSettings(n: FlatNodes): NodesSettings {
    const { delivery, list, ...common } = n;
    return delivery === "ssh" ? { ...common, delivery, list } : { ...common, delivery };
}

function jenkinsSettings(j: ModeConfig["jenkins"]): JenkinsSettings {
    return j.enabled ? j : { enabled: false };
}
