/**
 * The configuration as the program reads it: the stack file in its mode's shape (./modeShapes.ts), the
 * one parse of a stack file, with its registry's block and placement block together. Every type here is
 * that shape's output, narrowed; none is written again. Each mode's registry holds exactly the settings
 * its shape takes (an ACME certificate its contact address, S3 storage its bucket, an external host its
 * SSH connection; kind no certificate, an existing registry no image, storage or upkeep), so the wiring
 * narrows on the mode once and never asserts that a setting is there.
 *
 * Two facts are derived here rather than read: cert-manager's certificates come from the program's own
 * issuer chain or from the operator's issuer (`issuer`), and the in-cluster ingress controller is
 * known from the class name when the stack does not name it.
 */
import { INGRESS_CONTROLLER_OF_CLASS, type IngressController } from "../shared/facts";
import { isMode, type ModeConfig, type ModeConfigOf, type RegistryMode } from "./modeShapes";

/** `registry` as the shape of mode `M` takes it. */
type RegistryOf<M extends RegistryMode> = ModeConfigOf<M>["registry"];
type OwnTlsVariant = RegistryOf<"in-cluster" | "external-host">["tls"];
type TlsVariant<T extends string> = Extract<OwnTlsVariant | RegistryOf<"existing">["tls"], { readonly mode: T }>;

/** `dso-registry:containerRegistry`: the registry as clients see it. */
export type ContainerRegistrySettings = ModeConfig["containerRegistry"];
/** `dso-registry:mavenRegistry`: the Maven repository CI deploys to. */
export type MavenRegistrySettings = NonNullable<ModeConfig["mavenRegistry"]>;
/** `dso-registry:inCluster`: namespace, ingress class, KEP-1755 publication. */
export type InClusterSettings = ModeConfigOf<"in-cluster">["inCluster"];
/** `dso-registry:externalHost`: the SSH connection and the registry's directories on the host. */
export type ExternalHostSettings = ModeConfigOf<"external-host">["externalHost"];
/** `nodes`, one variant per delivery. */
export type NodesSettings = ModeConfig["nodes"];
/** `nodes.delivery` "ssh": one set of remote commands per listed node. */
export type NodesOverSsh = Extract<NodesSettings, { readonly delivery: "ssh" }>;
/** One entry of `dso-registry:nodes.list`. */
export type NodeSettings = NodesOverSsh["list"][number];
/** `jenkins`, managed or not. */
export type JenkinsSettings = ModeConfig["jenkins"];

/** `registry.tls.mode` "generated-ca" or "provided": the program places the certificate and key itself. */
export type OwnTls = TlsVariant<"generated-ca" | "provided">;

type CertManagerVariant = TlsVariant<"cert-manager">;
/** `registry.tls.mode` "cert-manager": cert-manager issues the ingress certificate, from the program's issuer chain or the operator's. */
export type CertManagerTls =
    | (Pick<CertManagerVariant, "mode" | "caValidityDays" | "serverCertValidityDays"> & {
          /** The program creates the issuer chain (self-signed issuer, CA, CA issuer) and reads the CA from cert-manager. */
          readonly issuer: "chain";
      })
    | {
          readonly mode: "cert-manager";
          /** The operator's issuer (`registry.tls.certManagerIssuer`). */
          readonly issuer: "named";
          readonly certManagerIssuer: NonNullable<CertManagerVariant["certManagerIssuer"]>;
          /** The issuer's CA (PEM) when it is private; unknown to the program otherwise. */
          readonly caCertificate?: string;
      };

/** `registry.mode` "in-cluster": Distribution with a Caddy sidecar, behind the cluster's ingress; with `dso-registry:inCluster`. */
export type InClusterRegistrySettings = Omit<RegistryOf<"in-cluster">, "tls"> & {
    readonly tls: OwnTls | CertManagerTls;
    readonly inCluster: InClusterSettings;
};

/** `registry.mode` "external-host": Distribution and Caddy on a host reached over SSH; with `dso-registry:externalHost`. */
export type ExternalHostRegistrySettings = RegistryOf<"external-host"> & { readonly externalHost: ExternalHostSettings };

type KindRegistry = RegistryOf<"kind">;
/**
 * `registry.mode` "kind": Distribution and Caddy as containers on the Docker host of a kind cluster, in
 * plain HTTP on 127.0.0.1 and on the kind network (docs/kind.md); with `dso-registry:kind`. Its shape
 * takes the only storage and backups it has (a directory; off) to state them; the program reads neither.
 */
export type KindRegistrySettings = Omit<KindRegistry, "storage" | "maintenance"> & {
    readonly maintenance: Omit<KindRegistry["maintenance"], "backup">;
    readonly kind: ModeConfigOf<"kind">["kind"];
};

/** `registry.mode` "existing": a registry the program does not run; with `dso-registry:existing`. */
export type ExistingRegistrySettings = Pick<RegistryOf<"existing">, "mode" | "tls"> & {
    readonly existing: ModeConfigOf<"existing">["existing"];
};

/** A registry the program runs: in the cluster, on its host, or beside a kind cluster. */
export type OwnRegistrySettings = InClusterRegistrySettings | ExternalHostRegistrySettings | KindRegistrySettings;

/** `registry`, one variant per placement, each with the settings of its own mode and nothing else. */
export type RegistrySettings = OwnRegistrySettings | ExistingRegistrySettings;

/** The validated configuration, without secrets: what the rest of the program reads. */
export interface ParsedConfig {
    readonly containerRegistry: ContainerRegistrySettings;
    readonly mavenRegistry?: MavenRegistrySettings;
    readonly registry: RegistrySettings;
    readonly nodes: NodesSettings;
    readonly jenkins: JenkinsSettings;
    readonly pullSecrets: ModeConfig["pullSecrets"];
    readonly caConfigMap: ModeConfig["caConfigMap"];
}

/**
 * The stack file in its mode's shape, as the program reads it: the registry's block joined with its
 * placement's, the two derived facts filled in. Called only after every rule in `rules.ts` has passed.
 */
export function toSettings(c: ModeConfig): ParsedConfig {
    return {
        containerRegistry: c.containerRegistry,
        ...(c.mavenRegistry ? { mavenRegistry: c.mavenRegistry } : {}),
        registry: registrySettings(c),
        nodes: c.nodes,
        jenkins: c.jenkins,
        pullSecrets: c.pullSecrets,
        caConfigMap: c.caConfigMap,
    };
}

/**
 * The ingress controller: as the stack says, or known from the class name; undefined for another class,
 * and for the cluster's default class (inCluster.ingressClass unset), which only the cluster knows.
 */
export function ingressControllerOf(i: Pick<InClusterSettings, "ingressClass" | "ingressController">): IngressController | undefined {
    if (i.ingressController !== undefined) return i.ingressController;
    return i.ingressClass !== undefined && Object.hasOwn(INGRESS_CONTROLLER_OF_CLASS, i.ingressClass)
        ? INGRESS_CONTROLLER_OF_CLASS[i.ingressClass]
        : undefined;
}

/** The class as a warning or refusal names it: `inCluster.ingressClass "traefik"`, or unset (the cluster's default). */
export function ingressClassSetting(i: Pick<InClusterSettings, "ingressClass">): string {
    return i.ingressClass === undefined
        ? "inCluster.ingressClass unset (the cluster's default class, whose controller only the cluster knows)"
        : `inCluster.ingressClass "${i.ingressClass}"`;
}

/** Where the stack says which controller it has: inCluster.ingressController when set, else the class (`ingressClassSetting`). */
export function controllerSetting(i: Pick<InClusterSettings, "ingressClass" | "ingressController">): string {
    return i.ingressController !== undefined ? `inCluster.ingressController "${i.ingressController}"` : ingressClassSetting(i);
}

/** The registry's settings with its placement's block: narrowed once by registry.mode. */
function registrySettings(c: ModeConfig): RegistrySettings {
    if (isMode(c, "in-cluster")) {
        return {
            ...c.registry,
            tls: c.registry.tls.mode === "cert-manager" ? certManagerSettings(c.registry.tls) : c.registry.tls,
            inCluster: { ...c.inCluster, ingressController: ingressControllerOf(c.inCluster) },
        };
    }
    if (isMode(c, "external-host")) return { ...c.registry, externalHost: c.externalHost };
    if (isMode(c, "kind")) {
        const { storage: _storage, maintenance, ...registry } = c.registry;
        const { backup: _backup, ...scheduled } = maintenance;
        return { ...registry, maintenance: scheduled, kind: c.kind };
    }
    return { mode: c.registry.mode, tls: c.registry.tls, existing: c.existing };
}

/** cert-manager's TLS: the program's issuer chain, or the operator's issuer with its CA when given. */
function certManagerSettings(t: CertManagerVariant): CertManagerTls {
    if (!t.certManagerIssuer) {
        return { mode: t.mode, issuer: "chain", caValidityDays: t.caValidityDays, serverCertValidityDays: t.serverCertValidityDays };
    }
    return {
        mode: t.mode,
        issuer: "named",
        certManagerIssuer: t.certManagerIssuer,
        ...(t.certManagerCaCertificate ? { caCertificate: t.certManagerCaCertificate } : {}),
    };
}
