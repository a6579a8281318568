/**
 * The registry inside the cluster (microk8s, lab clusters): Distribution with Caddy as a sidecar that
 * enforces the same access policy as the external host, behind the cluster's ingress. The objects are
 * rendered by `manifests.ts`; the policy text by `../accessPolicy/`. This component only feeds
 * them and registers what they return.
 */
import { createHash } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { renderCaddyfile } from "../accessPolicy/caddyfile";
import { type FrontSettings, frontPolicy } from "../accessPolicy/frontPolicy";
import type { AccessPolicy, MirrorRoute } from "../accessPolicy/policy";
import { type OverlapFiles, overlapFilesOutput, usersFileOutput } from "../accessPolicy/usersFileOutput";
import { decoyHash } from "../accounts/decoy";
import { htpasswdOutput } from "../accounts/registryAccounts";
import { type RegistryStorage, renderRegistryConfig } from "../distribution/registryConfig";
import { MAVEN_BACKEND, renderMavenNginxConfig } from "../maven/nginxConfig";
import type { RegistryMaven } from "../maven/registryMaven";
import {
    clusterMirror,
    clusterMirrorClaimName,
    clusterMirrorName,
    clusterMirrorRoutes,
    renderClusterMirrors,
} from "../mirrors/mirrorManifests";
import type { RegistryMirror } from "../mirrors/mirrors";
import type { RegistryMonitoring } from "../monitoring/alertRules";
import { UI_WORKLOAD } from "../registryUi/kubernetes";
import {
    DEFAULT_GC_SCHEDULE,
    DEFAULT_IMAGES,
    DEFAULT_IN_CLUSTER_NAMESPACE,
    DEFAULT_KUBECTL_IMAGE,
    DEFAULT_PROBE_IMAGE,
    DEFAULT_STORAGE_SIZE,
} from "../shared/defaults";
import type { DistributionSettings } from "../shared/distributionSettings";
import { type IngressController, METRICS_PORTS, registryAuthority } from "../shared/facts";
import { withFormerType } from "../shared/formerType";
import { frontDefaults, frontUsers, type RegistryFront, type WithFrontDefaults } from "../shared/front";
import type { K8sObject } from "../shared/k8sObject";
import { type PlannedObject, registerPlannedObjects } from "../shared/k8sResources";
import { typeToken } from "../shared/typeToken";
import { RETENTION_TEXTFILE, type Retention } from "../upkeep/retention";
import { IN_CLUSTER_BACKUP } from "./backup";
import { FRONT_STOP_DELAY_SECONDS } from "./deployment";
import { DISK_FIGURES, diskFiguresServed, IN_CLUSTER_DISK_GUARD, inClusterDiskGuard } from "./diskGuard";
import { distributionCachesBlobs, type GcWindow, gcWindow, podsMayOverlap, registryMetricsInPod } from "./gcWindow";
import { ISSUER_CHAIN } from "./issuerChain";
import { renderInClusterObjects } from "./manifests";
import { REGISTRY_METRICS_RELAY_PORT } from "./monitoring";
import { READ_ONLY_SIGNAL } from "./readOnlySignal";
import { RETENTION_COUNTS, retentionCountsServed } from "./retentionCounts";
import {
    IN_CLUSTER,
    type InClusterBackup,
    type InClusterGateway,
    type InClusterLoginLimit,
    type InClusterNetworkPolicy,
    type InClusterPod,
    type InClusterSpec,
    type InClusterStorage,
    type InClusterTls,
    type IssuerChainLifetimes,
    OVERLAP_FILES,
    REGISTRY_METRICS_ADDR,
} from "./spec";

/** Where Distribution keeps images: a PVC, or an S3 bucket with the credentials to reach it. */
export type InClusterRegistryStorage =
    | {
          readonly kind: "filesystem";
          /**
           * PVC size, e.g. "50Gi".
           * @default "20Gi"
           */
          readonly size?: string;
          /** Storage class; the cluster default when unset. */
          readonly storageClass?: string;
      }
    | (Omit<Extract<RegistryStorage, { kind: "s3" }>, "kind"> & {
          readonly kind: "s3";
          /** Secret; passed to Distribution as environment from Secret `registry-s3`, never in config.yml. */
          readonly credentials: { readonly accessKeyId: pulumi.Input<string>; readonly secretAccessKey: pulumi.Input<string> };
      });

/** The registry in the cluster: the front contract every placement takes (accounts, pull auth, deletes, allowlist), and what runs in the cluster. */
export interface InClusterRegistryArgs extends RegistryFront {
    /** Host name clients use (no port: the Ingress or Gateway matches the name alone). */
    readonly host: string;
    /**
     * The port clients reach the ingress on, as they write it in image names: 443 unless the ingress is
     * published elsewhere (a load balancer's or a node port's mapping). The token realm and the KEP-1755
     * ConfigMap name it.
     * @default 443
     */
    readonly port?: number;
    /**
     * Namespace of the registry's objects; created by the component.
     * @default "dso"
     */
    readonly namespace?: string;
    /**
     * IngressClass of the Ingresses. Unset, they name none: the API server gives each the cluster's default
     * class when it creates it, and an Ingress that exists keeps the class it has
     * (docs/decisions/default-ingress-class.md).
     */
    readonly ingressClass?: string;
    /** The controller behind it (annotations, allowlist); undefined for one this program does not know. */
    readonly ingressController?: IngressController;
    /**
     * Images of Distribution, the Caddy sidecar, the web UI and the GC and backup jobs (kubectl with a
     * shell); each one left out is the pinned default.
     * @default { registry: "registry:3.1.2", caddy: "caddy:2.11.9", ui: "joxit/docker-registry-ui:2.6.0", kubectl: "alpine/kubectl:1.36.3" }
     */
    readonly images?: { readonly registry?: string; readonly caddy?: string; readonly ui?: string; readonly kubectl?: string };
    /**
     * Where Distribution keeps images.
     * @default { kind: "filesystem", size: "20Gi" } (a PVC of the cluster's default storage class)
     */
    readonly storage?: InClusterRegistryStorage;
    /** The token endpoint's limit at the ingress (`registry.loginLimit`; ingress-nginx or Traefik); none when unset. */
    readonly loginLimit?: InClusterLoginLimit;
    /** Exposed through a Gateway API HTTPRoute instead of Ingresses (`inCluster.exposure` "gateway"). */
    readonly gateway?: InClusterGateway;
    /** The NetworkPolicy of the registry's pods (`inCluster.networkPolicy`, resolved by `resolveNetworkPolicy`); none when unset. */
    readonly networkPolicy?: InClusterNetworkPolicy;
    /**
     * Whether the web UI runs in the registry pod, behind the same Caddy.
     * @default { enabled: false }
     */
    readonly ui?: { readonly enabled: boolean };
    /**
     * The garbage-collection CronJob: whether it runs, when (cron; default "30 3 * * 0"), and whether it
     * also removes untagged manifests (default false).
     * @default { enabled: false, schedule: "30 3 * * 0", deleteUntagged: false }
     */
    readonly garbageCollection?: { readonly enabled: boolean; readonly schedule?: string; readonly deleteUntagged?: boolean };
    /** Tag retention, run by the GC job in its window before the collection; none when unset. */
    readonly retention?: Retention;
    /**
     * Registry pods; more than one needs s3 storage.
     * @default 1
     */
    readonly replicas?: number;
    /** Where and how the registry's pods run (resources, nodeSelector, tolerations, affinity, priority, annotations). */
    readonly pod?: InClusterPod;
    /**
     * Publish the KEP-1755 `local-registry-hosting` ConfigMap in kube-public.
     * @default true
     */
    readonly publishLocalRegistryHosting?: boolean;
    /** The ingress certificate: our own (generated CA or provided), or a cert-manager issuer. */
    readonly tls:
        | { readonly kind: "secret"; readonly certPem: pulumi.Input<string>; readonly keyPem: pulumi.Input<string> }
        | {
              readonly kind: "cert-manager";
              /** The operator's issuer, or the chain the component creates (then it reads the chain's CA: `caCertPem`). */
              readonly issuer:
                  | { readonly kind: "Issuer" | "ClusterIssuer"; readonly name: string }
                  | ({ readonly kind: "chain" } & IssuerChainLifetimes);
          };
    /** The Maven repository this front serves too (the converged case); none when unset. */
    readonly maven?: InClusterMavenArgs;
    /** Pull-through caches (`registry.mirrors`), each a Deployment of its own behind the sidecar; none when unset. */
    readonly mirrors?: readonly RegistryMirror[];
    /** Scheduled backups of the registry's volume (and Maven's) to S3 with restic; none when unset. */
    readonly backup?: InClusterBackup;
    /** Additions to Distribution's config.yml (`registry.distributionConfig`, docs/distribution-config.md); none when unset. */
    readonly distributionConfig?: DistributionSettings;
    /** Metrics and alert rules (docs/monitoring.md); none when unset. */
    readonly monitoring?: InClusterRegistryMonitoring;
    /**
     * The disk guard (`registry.diskGuard`): new uploads refused past this percentage of the data volume used,
     * and Maven deploys past it of the Maven volume used (./diskGuard.ts); none when unset, or with s3 and no Maven.
     */
    readonly diskGuard?: { readonly refusePercent: number };
}

/** The cluster's monitoring: what every placement takes (`RegistryMonitoring`), and how the cluster's Prometheus finds it. */
export interface InClusterRegistryMonitoring extends RegistryMonitoring {
    /**
     * prometheus-operator's CRDs exist: a PodMonitor and a PrometheusRule instead of scrape annotations.
     * @default false
     */
    readonly prometheusOperator?: boolean;
    /** With a rotation by age, when the generated passwords' next period begins (Unix seconds): an alert past it. */
    readonly passwordsRotationDue?: number;
    /**
     * blackbox_exporter's image in the certificate probe's pod.
     * @default "prom/blackbox-exporter:v0.28.0"
     */
    readonly probeImage?: string;
}

/** The Maven repository on the registry's front (`RegistryMaven`): an nginx sidecar with its own PVC, cleaned by the GC job. */
export interface InClusterMavenArgs extends RegistryMaven {
    /** PVC size and storage class of the repository's files. */
    readonly size: string;
    readonly storageClass?: string;
}

/** `InClusterRegistryArgs` with every default applied: what the component builds from (`inClusterRegistryDefaults`). */
export type InClusterRegistryArgsWithDefaults = Omit<
    WithFrontDefaults<InClusterRegistryArgs>,
    "namespace" | "port" | "images" | "storage" | "ui" | "garbageCollection" | "replicas" | "publishLocalRegistryHosting" | "monitoring"
> & {
    readonly namespace: string;
    readonly port: number;
    readonly images: { readonly registry: string; readonly caddy: string; readonly ui: string; readonly kubectl: string };
    readonly storage: Exclude<InClusterRegistryStorage, { readonly kind: "filesystem" }> | FilesystemStorageSettings;
    readonly ui: { readonly enabled: boolean };
    readonly garbageCollection: { readonly enabled: boolean; readonly schedule: string; readonly deleteUntagged: boolean };
    readonly replicas: number;
    readonly publishLocalRegistryHosting: boolean;
    readonly monitoring?: InClusterRegistryMonitoring & { readonly prometheusOperator: boolean; readonly probeImage: string };
};

/** Filesystem storage with its size decided. */
type FilesystemStorageSettings = Extract<InClusterRegistryStorage, { readonly kind: "filesystem" }> & { readonly size: string };

/**
 * The args with the defaults each one's `@default` documents (the stack config's defaults too,
 * components/shared/defaults.ts): the front's (`frontDefaults`), then the placement's own. A setting
 * given is kept as given; nothing else is added.
 */
export function inClusterRegistryDefaults(args: InClusterRegistryArgs): InClusterRegistryArgsWithDefaults {
    const storage = args.storage ?? { kind: "filesystem" };
    const { monitoring, ...given } = frontDefaults(args);
    return {
        ...given,
        namespace: args.namespace ?? DEFAULT_IN_CLUSTER_NAMESPACE,
        port: args.port ?? 443,
        images: {
            registry: args.images?.registry ?? DEFAULT_IMAGES.registry,
            caddy: args.images?.caddy ?? DEFAULT_IMAGES.caddy,
            ui: args.images?.ui ?? DEFAULT_IMAGES.ui,
            kubectl: args.images?.kubectl ?? DEFAULT_KUBECTL_IMAGE,
        },
        storage: storage.kind === "filesystem" ? { ...storage, size: storage.size ?? DEFAULT_STORAGE_SIZE } : storage,
        ui: args.ui ?? { enabled: false },
        garbageCollection: {
            enabled: args.garbageCollection?.enabled ?? false,
            schedule: args.garbageCollection?.schedule ?? DEFAULT_GC_SCHEDULE,
            deleteUntagged: args.garbageCollection?.deleteUntagged ?? false,
        },
        replicas: args.replicas ?? 1,
        publishLocalRegistryHosting: args.publishLocalRegistryHosting ?? true,
        ...(monitoring
            ? {
                  monitoring: {
                      ...monitoring,
                      prometheusOperator: monitoring.prometheusOperator ?? false,
                      probeImage: monitoring.probeImage ?? DEFAULT_PROBE_IMAGE,
                  },
              }
            : {}),
    };
}

/**
 * The sidecar's policy: the front's settings (`FrontSettings`), placed behind the ingress on plain HTTP
 * inside the pod. `allowedNetworks` (`registry.allowedNetworks`) is the sidecar's only behind a Gateway.
 */
export function sidecarPolicy(
    args: FrontSettings & {
        readonly host: string;
        /** The port clients write after the host: 443 (the default) unless the ingress is published elsewhere. */
        readonly port?: number;
        /** With filesystem storage the PVC is mounted read-only into Caddy, which serves blob downloads from it. */
        readonly storage: "filesystem" | "s3";
        /** Where the sidecar sends each mirror's requests. */
        readonly mirrors?: readonly MirrorRoute[];
        /** Scheduled backups: their read-only pass opens the window with a marker file instead of a restart. */
        readonly backup?: boolean;
        /** How the GC job holds writes back (`gcWindow`); none without garbage collection. */
        readonly gcWindow?: GcWindow;
        /** Caddy's metrics, and Distribution's relayed from its loopback, on ports of their own. */
        readonly metrics?: boolean;
        /** With `metrics`: tag retention's counts on Caddy's metrics port too (`retentionCountsServed`). */
        readonly retentionCounts?: boolean;
        /** With `metrics`: the disk guard container's figures of the pod's volumes on Caddy's metrics port too (`diskFiguresServed`). */
        readonly diskFigures?: boolean;
        /**
         * Behind a Gateway: the allowlist, enforced on the plain-HTTP listener the controller uses, and, with
         * the web UI, its path served through the front (the route sends every path here) from `uiService`.
         */
        readonly gateway?: { readonly proxyNetworks: readonly string[]; readonly uiService?: string };
        /**
         * The disk guard's container runs (./diskGuard.ts): new uploads get 507 while the data volume's marker
         * exists (filesystem storage), Maven deploys while the Maven volume's does (with `maven`).
         */
        readonly diskGuard?: boolean;
    },
): AccessPolicy {
    return frontPolicy(args, {
        siteAddress: args.host,
        port: IN_CLUSTER.servicePort,
        // Clients reach the sidecar as https://<host>[:<port>] (the ingress, or the TLS Service on 443 inside pods).
        publicAuthority: registryAuthority(args.host, args.port ?? 443),
        tls: { kind: "plain-http" },
        upstream: IN_CLUSTER.registryAddr,
        usersFiles: {
            push: `${IN_CLUSTER.usersDir}/push`,
            pull: `${IN_CLUSTER.usersDir}/pull`,
            overlapMatchers: `${IN_CLUSTER.usersDir}/${OVERLAP_FILES.matchers}`,
        },
        // Behind an Ingress the sidecar only sees the controller's address: the allowlist is the ingress's
        // job. Behind a Gateway (no standard allowlist) the sidecar enforces it on the client the
        // controller names, believed from the controller's networks only.
        enforcesAllowlist: args.gateway !== undefined,
        ...(args.gateway ? { trustedProxies: args.gateway.proxyNetworks } : {}),
        ...(args.gateway?.uiService ? { uiUpstream: args.gateway.uiService } : {}),
        // Pods are replaced on every change; nothing needs Caddy's admin API.
        admin: "off",
        ...(args.storage === "filesystem" ? { blobFiles: IN_CLUSTER.dataDir } : {}),
        // Distribution's read-only switch, which the GC job sets on every container (and rolls the
        // pods) when they may overlap; the markers the GC job (one pod) and the backup create on the
        // pod's emptyDir, each its own, without a restart (./readOnlySignal.ts).
        readOnlySignals: [
            { kind: "env", name: IN_CLUSTER.readOnlyEnv },
            ...(args.gcWindow === "marker" ? [{ kind: "file", path: READ_ONLY_SIGNAL.gcMarker } as const] : []),
            ...(args.backup ? [{ kind: "file", path: IN_CLUSTER_BACKUP.marker } as const] : []),
        ],
        ...(args.diskGuard && args.storage === "filesystem" ? { diskFullSignal: IN_CLUSTER_DISK_GUARD.marker } : {}),
        maven: {
            upstream: `127.0.0.1:${MAVEN_BACKEND.port}`,
            deployUsersFile: `${IN_CLUSTER.usersDir}/maven-deploy`,
            ...(args.diskGuard ? { diskFullSignal: IN_CLUSTER_DISK_GUARD.mavenMarker } : {}),
        },
        ...(args.mirrors ? { mirrors: args.mirrors } : {}),
        // The kubelet keeps and rotates what containers write to stdout.
        accessLog: { kind: "stdout" },
        // Pods that may overlap hand their clients over when they stop (./deployment.ts).
        ...(podsMayOverlap({ storage: { kind: args.storage }, maven: args.maven })
            ? { shutdownDelaySeconds: FRONT_STOP_DELAY_SECONDS }
            : {}),
        ...(args.metrics
            ? {
                  metrics: {
                      port: METRICS_PORTS.caddy,
                      registry: { port: REGISTRY_METRICS_RELAY_PORT, upstream: REGISTRY_METRICS_ADDR },
                      ...(args.retentionCounts || args.diskFigures
                          ? {
                                textfiles: [
                                    ...(args.retentionCounts
                                        ? [{ path: RETENTION_COUNTS.path, file: `${RETENTION_COUNTS.dir}/${RETENTION_TEXTFILE}` }]
                                        : []),
                                    ...(args.diskFigures ? [{ path: DISK_FIGURES.path, file: DISK_FIGURES.file }] : []),
                                ],
                            }
                          : {}),
                  },
              }
            : {}),
    });
}

/** The sidecar's TLS listener: where it listens in the pod and where the certificate and key are mounted. */
export interface SidecarTlsListener {
    readonly port: number;
    readonly certFile: string;
    readonly keyFile: string;
}

/** The pod's TLS listener: the registry TLS Secret (the ingress's certificate) mounted into the Caddy container. */
export const SIDECAR_TLS: SidecarTlsListener = {
    port: IN_CLUSTER.tlsPort,
    certFile: `${IN_CLUSTER.tlsDir}/tls.crt`,
    keyFile: `${IN_CLUSTER.tlsDir}/tls.key`,
};

/**
 * The sidecar's Caddyfile. The plain-HTTP site answers whatever host name the request carries: the
 * ingress forwards the public name, and pods in the cluster use the Service name (KEP-1755
 * `hostFromClusterNetwork`), so the site label must not become a host matcher.
 *
 * With `tls`, a second site serves the same policy over TLS with the ingress's certificate, for pods
 * that reach the registry by its public name through Service `registry-tls` (CoreDNS points the name
 * at that Service). Its label keeps the host name: the certificate is for that name, and Caddy picks
 * the certificate by the name the client asks for.
 */
export function renderSidecarCaddyfile(policy: AccessPolicy, tls?: SidecarTlsListener): string {
    // With the TLS site, the metrics listeners (and their global option) come once, from its render.
    const text = renderCaddyfile(tls ? { ...policy, metrics: undefined } : policy);
    const label = `http://${policy.siteAddress}:${policy.port} {`;
    const lines = text.split("\n");
    const index = lines.indexOf(label);
    if (index < 0) throw new Error(`renderSidecarCaddyfile: the rendered Caddyfile has no site line "${label}"`);
    lines[index] = `http://:${policy.port} {`;
    if (!tls) return lines.join("\n");
    // The TLS site is the same policy rendered for a certificate on disk; its global options (no ACME,
    // no redirect listener) apply to the whole file, and the plain-HTTP site keeps its explicit scheme.
    // The allowlist (behind a Gateway) guards the controller's way in, the plain-HTTP site; pods that reach the
    // TLS Service by the registry's name are not behind it, as with an Ingress.
    const secure = renderCaddyfile({
        ...policy,
        allowedNetworks: [],
        port: tls.port,
        tls: { kind: "files", certFile: tls.certFile, keyFile: tls.keyFile },
    });
    const secureLines = secure.split("\n");
    const secureLabel = `${policy.siteAddress}:${tls.port} {`;
    const secureIndex = secureLines.indexOf(secureLabel);
    if (secureIndex < 0) throw new Error(`renderSidecarCaddyfile: the rendered TLS site has no site line "${secureLabel}"`);
    const globalEnd = (all: string[]) => all.indexOf("}");
    const plainGlobals = lines.slice(0, globalEnd(lines) + 1);
    const secureGlobals = secureLines.slice(0, globalEnd(secureLines) + 1);
    return [...secureGlobals, ...lines.slice(plainGlobals.length), ...secureLines.slice(secureIndex)].join("\n");
}

/** Distribution's storage as the shared config renderer takes it (credentials stay out of config.yml). */
function registryStorage(storage: InClusterRegistryArgsWithDefaults["storage"]): RegistryStorage {
    if (storage.kind === "filesystem") return { kind: "filesystem", rootDirectory: IN_CLUSTER.dataDir };
    const { credentials: _credentials, ...settings } = storage;
    return settings;
}

/** The spec's TLS from the component's: keys secret, the chain's CA Issuer named as the operator's would be. */
function inClusterTls(tls: InClusterRegistryArgs["tls"]): InClusterTls {
    if (tls.kind === "secret") return { ...tls, keyPem: pulumi.secret(tls.keyPem) };
    const { issuer } = tls;
    if (issuer.kind !== "chain") return { kind: "cert-manager", issuerKind: issuer.kind, issuerName: issuer.name };
    const { caValidityDays, serverCertValidityDays } = issuer;
    return { kind: "cert-manager", issuerKind: "Issuer", issuerName: ISSUER_CHAIN.ca, chain: { caValidityDays, serverCertValidityDays } };
}

/**
 * The chain's CA, read from the Secret cert-manager issued it into, once its Certificate is Ready (the
 * Certificate waits for that: issuerChain.ts). The read's ID derives from the Certificate's, which is
 * unknown while a preview plans to create it: the engine then skips the read and the CA shows as
 * unknown, where a read of a Secret that does not exist yet would fail the preview. A CA certificate is
 * public: the Secret's data is secret in state, this value need not be.
 */
function readChainCa(
    name: string,
    namespace: string,
    certificate: pulumi.CustomResource,
    opts: pulumi.CustomResourceOptions,
): pulumi.Output<string> {
    const secret = k8s.core.v1.Secret.get(
        `${name}-secret-${ISSUER_CHAIN.ca}`,
        certificate.id.apply(() => `${namespace}/${ISSUER_CHAIN.ca}`),
        {
            ...opts,
            dependsOn: [certificate],
        },
    );
    return pulumi.unsecret(
        secret.data.apply((data) => {
            const encoded = data?.[ISSUER_CHAIN.caSecretKey];
            if (!encoded)
                throw new Error(
                    `Secret ${namespace}/${ISSUER_CHAIN.ca} has no ${ISSUER_CHAIN.caSecretKey}: cert-manager has not issued the CA`,
                );
            return Buffer.from(encoded, "base64").toString("utf8");
        }),
    );
}

/** What `InClusterRegistry` registers (after the decoy's seed and the HTTP secret): `planInClusterRegistry`. */
export interface InClusterRegistryPlan {
    /** The objects in the order they are registered, each with its resource name, its options and what it waits for. */
    readonly objects: readonly PlannedObject[];
    /** Resource names of the objects the component exposes; `ingress` none behind a Gateway, `chainCa` only with the program's own cert-manager chain. */
    readonly exposed: {
        readonly namespace: string;
        readonly deployment: string;
        readonly service: string;
        readonly tlsService: string;
        readonly ingress?: string;
        readonly chainCa?: string;
    };
}

/** The front's accounts (`frontUsers`) and the caches (`clusterMirror`): what every part of the plan reads. */
interface InClusterPlanInputs {
    readonly users: ReturnType<typeof frontUsers>;
    readonly mirrors: readonly ReturnType<typeof clusterMirror>[];
}

/** The pod's files, rendered once: what the pod mounts, and what its checksum covers. */
interface InClusterPodFiles {
    /** A rotation's overlap: each users file's previous passwords, and the overlap file that routes to them. */
    readonly overlap?: OverlapFiles;
    readonly caddyfile: pulumi.Output<string>;
    readonly registryConfig: string;
    readonly push: pulumi.Output<string>;
    readonly pull: pulumi.Output<string>;
    /** The Maven deploy account's users file; "" without `maven`. */
    readonly mavenDeploy: pulumi.Output<string>;
    /** nginx's config of the Maven repository; "" without `maven`. */
    readonly mavenNginxConfig: string;
}

/** The sidecar's Caddyfile (its policy, with the decoy), Distribution's config, the users files and Maven's nginx config. */
function renderPodFiles(
    args: InClusterRegistryArgsWithDefaults,
    { users, mirrors }: InClusterPlanInputs,
    decoyBcryptHash: pulumi.Output<string>,
): InClusterPodFiles {
    const overlap = overlapFilesOutput({
        push: users.push,
        pull: users.pull,
        ...(args.maven ? { mavenDeploy: [args.maven.deployAccount] } : {}),
    });
    const policy = sidecarPolicy({
        overlap: overlap !== undefined,
        host: args.host,
        port: args.port,
        requiresAuthForPull: args.requiresAuthForPull,
        deletesEnabled: args.deletes.api,
        storage: args.storage.kind,
        maven: args.maven,
        mirrors: clusterMirrorRoutes({ namespace: args.namespace, mirrors }),
        mirrorsRequireAuth: args.mirrorsRequireAuth,
        backup: args.backup !== undefined,
        gcWindow: gcWindow(args),
        metrics: args.monitoring !== undefined,
        retentionCounts: retentionCountsServed(args),
        diskFigures: diskFiguresServed({ ...args, diskGuard: inClusterDiskGuard(args) }),
        scopedPushAccounts: users.scoped,
        diskGuard: inClusterDiskGuard(args) !== undefined,
        ...(args.gateway
            ? {
                  gateway: {
                      proxyNetworks: args.gateway.proxyNetworks,
                      ...(args.ui.enabled ? { uiService: `${UI_WORKLOAD.name}.${args.namespace}.svc:80` } : {}),
                  },
                  allowedNetworks: args.allowedNetworks,
              }
            : {}),
    });
    // Every users file's accounts by name: at each check, credentials of any other user are checked against the decoy account.
    const accounts = {
        push: users.push.map((a) => a.username),
        pull: users.pull.map((a) => a.username),
        ...(args.maven ? { mavenDeploy: [args.maven.deployAccount.username] } : {}),
    };
    return {
        ...(overlap ? { overlap } : {}),
        caddyfile: decoyBcryptHash.apply((bcryptHash) =>
            renderSidecarCaddyfile({ ...policy, decoy: { accounts, bcryptHash } }, SIDECAR_TLS),
        ),
        registryConfig: renderRegistryConfig({
            addr: IN_CLUSTER.registryAddr,
            storage: registryStorage(args.storage),
            deletesEnabled: args.deletes.api,
            blobDescriptorCache: distributionCachesBlobs(args),
            ...(args.monitoring || registryMetricsInPod(args) ? { metricsAddr: REGISTRY_METRICS_ADDR } : {}),
            ...(args.distributionConfig ? { settings: args.distributionConfig } : {}),
        }),
        push: usersFileOutput("push", users.push),
        pull: usersFileOutput("pull", users.pull),
        mavenDeploy: args.maven ? usersFileOutput("push", [args.maven.deployAccount]) : pulumi.output(""),
        mavenNginxConfig: args.maven
            ? renderMavenNginxConfig({
                  listen: `127.0.0.1:${MAVEN_BACKEND.port}`,
                  pathPrefix: args.maven.pathPrefix,
                  dataDir: MAVEN_BACKEND.dataDir,
                  runDir: MAVEN_BACKEND.runDir,
              })
            : "",
    };
}

/**
 * The checksum in the pod template: a change of any file the pods read rolls them. A digest of bcrypt
 * hashes of long random passwords reveals nothing; keeping it plain keeps the pod template readable in
 * previews. Our certificate is in it too (public): Caddy reads it at start, so a renewed certificate
 * rolls the pods.
 */
function podConfigChecksum(args: InClusterRegistryArgsWithDefaults, files: InClusterPodFiles): pulumi.Output<string> {
    const { overlap, registryConfig, mavenNginxConfig } = files;
    const servedCert = args.tls.kind === "secret" ? args.tls.certPem : "";
    return pulumi.unsecret(
        pulumi
            .all([
                files.caddyfile,
                files.push,
                files.pull,
                files.mavenDeploy,
                servedCert,
                overlap ? pulumi.all(overlapValues(overlap)) : [],
            ])
            .apply(([caddy, p, q, m, c, previous]) =>
                createHash("sha256")
                    .update(caddy)
                    .update("\0")
                    .update(registryConfig)
                    .update("\0")
                    .update(p)
                    .update("\0")
                    .update(q)
                    .update("\0")
                    .update(m)
                    .update("\0")
                    .update(mavenNginxConfig)
                    .update("\0")
                    .update(c)
                    .update(previous.map((v) => `\0${v}`).join(""))
                    .digest("hex"),
            ),
    );
}

/** What `manifests.ts` renders the registry's objects from: the args, the pod's files, the secrets kept secret. */
function inClusterSpec(
    args: InClusterRegistryArgsWithDefaults,
    { users, mirrors }: InClusterPlanInputs,
    files: InClusterPodFiles,
    httpSecret: pulumi.Output<string>,
): InClusterSpec {
    const { overlap } = files;
    const storage: InClusterStorage =
        args.storage.kind === "s3"
            ? {
                  kind: "s3",
                  accessKeyId: pulumi.secret(args.storage.credentials.accessKeyId),
                  secretAccessKey: pulumi.secret(args.storage.credentials.secretAccessKey),
              }
            : { kind: "filesystem", size: args.storage.size, storageClass: args.storage.storageClass };
    return {
        namespace: args.namespace,
        host: args.host,
        port: args.port,
        ingressClass: args.ingressClass,
        ingressController: args.ingressController,
        ...(args.gateway ? { gateway: args.gateway } : {}),
        tls: inClusterTls(args.tls),
        images: args.images,
        replicas: args.replicas,
        ...(args.pod ? { pod: args.pod } : {}),
        storage,
        allowedNetworks: args.allowedNetworks,
        ...(args.networkPolicy ? { networkPolicy: args.networkPolicy } : {}),
        ...(args.loginLimit ? { loginLimit: args.loginLimit } : {}),
        ui: { enabled: args.ui.enabled, deleteEnabled: args.deletes.ui },
        garbageCollection: args.garbageCollection,
        ...(args.retention ? { retention: args.retention } : {}),
        publishLocalRegistryHosting: args.publishLocalRegistryHosting,
        caddyfile: files.caddyfile,
        registryConfig: files.registryConfig,
        // The htpasswd view of the front's accounts (Secret `registry-htpasswd`): the same text as `RegistryAccounts.htpasswd`.
        users: {
            push: files.push,
            pull: files.pull,
            htpasswd: pulumi.secret(htpasswdOutput([...users.push, ...users.pull])),
            ...(overlap ? { overlap } : {}),
        },
        httpSecret: pulumi.secret(httpSecret),
        configChecksum: podConfigChecksum(args, files),
        ...(args.maven
            ? {
                  maven: {
                      image: args.maven.image,
                      nginxConfig: files.mavenNginxConfig,
                      deployUsers: files.mavenDeploy,
                      size: args.maven.size,
                      storageClass: args.maven.storageClass,
                      pathPrefix: args.maven.pathPrefix,
                      snapshotBuildsToKeep: args.maven.snapshotBuildsToKeep,
                  },
              }
            : {}),
        ...(args.backup
            ? {
                  backup: {
                      ...args.backup,
                      repositoryPassword: pulumi.secret(args.backup.repositoryPassword),
                      s3: args.backup.s3 && {
                          accessKeyId: pulumi.secret(args.backup.s3.accessKeyId),
                          secretAccessKey: pulumi.secret(args.backup.s3.secretAccessKey),
                      },
                  },
              }
            : {}),
        ...(inClusterDiskGuard(args) ? { diskGuard: inClusterDiskGuard(args) } : {}),
        ...(args.monitoring
            ? {
                  monitoring: {
                      ...args.monitoring,
                      cacheClaims: mirrors.map((m) => clusterMirrorClaimName(clusterMirrorName(m.spec), m.spec.maxSize)),
                  },
              }
            : {}),
    };
}

/** The resource names of the objects the component exposes, among those planned; refuses one not rendered. */
function exposedObjects(
    name: string,
    args: InClusterRegistryArgsWithDefaults,
    objects: readonly PlannedObject[],
): InClusterRegistryPlan["exposed"] {
    const resourceName = (kind: string, objectName: string): string => {
        const found = objects.find((o) => o.object.kind === kind && o.object.metadata.name === objectName);
        if (!found) throw new Error(`InClusterRegistry ${name}: ${kind} ${objectName} was not rendered`);
        return found.name;
    };
    const chainCa = objects.find((o) => o.object.kind === "Certificate" && o.object.metadata.name === ISSUER_CHAIN.ca);
    return {
        namespace: resourceName("Namespace", args.namespace),
        deployment: resourceName("Deployment", IN_CLUSTER.name),
        service: resourceName("Service", IN_CLUSTER.name),
        tlsService: resourceName("Service", IN_CLUSTER.tlsService),
        ...(args.gateway ? {} : { ingress: resourceName("Ingress", IN_CLUSTER.name) }),
        ...(chainCa ? { chainCa: chainCa.name } : {}),
    };
}

/**
 * Everything `InClusterRegistry` registers, from its args with the defaults applied and the two values
 * the component generates (the decoy's hash, `decoyHash`; Distribution's HTTP secret): the sidecar's
 * policy and Caddyfile, Distribution's config, the users files, the pods' checksum, every object
 * `manifests.ts` and the caches' renderer return, and how each is registered (`inClusterObjectPlan`).
 */
export function planInClusterRegistry(
    name: string,
    args: InClusterRegistryArgsWithDefaults,
    generated: { readonly decoyBcryptHash: pulumi.Output<string>; readonly httpSecret: pulumi.Output<string> },
): InClusterRegistryPlan {
    const inputs: InClusterPlanInputs = { users: frontUsers(args.accounts), mirrors: (args.mirrors ?? []).map(clusterMirror) };
    const files = renderPodFiles(args, inputs, generated.decoyBcryptHash);
    const spec = inClusterSpec(args, inputs, files, generated.httpSecret);
    const caches = renderClusterMirrors({
        namespace: args.namespace,
        image: args.images.registry,
        storageClass: args.storage.kind === "filesystem" ? args.storage.storageClass : undefined,
        mirrors: inputs.mirrors,
        scheduling: args.pod,
        resources: args.pod?.resources?.cache,
    });
    const objects = inClusterObjectPlan(name, [...renderInClusterObjects(spec), ...caches]);
    return { objects, exposed: exposedObjects(name, args, objects) };
}

/** Its type token, by which URNs and previews name it (the preview's consequences summary reads it). */
export const IN_CLUSTER_REGISTRY_TYPE = typeToken("inCluster", "InClusterRegistry");

/**
 * The registry in a cluster: Distribution and its Caddy sidecar in one Deployment, behind the cluster's
 * ingress. Kubernetes objects go to the provider of `opts.providers` (or `opts.provider`), else the
 * ambient one.
 */
export class InClusterRegistry extends pulumi.ComponentResource {
    /** The registry's namespace (`args.namespace`), kept in the cluster when Pulumi deletes it. */
    readonly namespace: k8s.core.v1.Namespace;
    /** Deployment `registry`: Distribution with its Caddy sidecar (and the Maven and UI containers when asked for). */
    readonly deployment: k8s.apps.v1.Deployment;
    /** Service `registry` (port 5000, plain HTTP to the sidecar): what the ingress sends to. */
    readonly service: k8s.core.v1.Service;
    /** Service `registry-tls` (port 443, the sidecar's TLS listener): how pods reach the registry by its public name. */
    readonly tlsService: k8s.core.v1.Service;
    /** Ingress `registry`: the registry's public name on the ingress controller; none behind a Gateway. */
    readonly ingress?: k8s.networking.v1.Ingress;
    /**
     * ClusterIP of Service `registry-tls` (port 443, the sidecar's TLS listener): the address the
     * registry's public name resolves to inside the cluster.
     */
    readonly tlsServiceClusterIp: pulumi.Output<string>;
    /** The CA of the program's own cert-manager chain, read from cert-manager's Secret; undefined with any other TLS. */
    readonly caCertPem?: pulumi.Output<string>;

    constructor(name: string, given: InClusterRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super(IN_CLUSTER_REGISTRY_TYPE, name, {}, withFormerType(opts, "dso:registry:InClusterRegistry"));
        const args = inClusterRegistryDefaults(given);
        const decoyBcryptHash = decoyHash(`${name}-decoy`, this);
        const httpSecret = new random.RandomPassword(`${name}-http-secret`, { length: 48, special: false }, { parent: this });
        const plan = planInClusterRegistry(name, args, { decoyBcryptHash, httpSecret: httpSecret.result });
        const resources = registerPlannedObjects(plan.objects, `InClusterRegistry ${name}`, { parent: this });
        const registered = <T extends pulumi.CustomResource>(resourceName: string, type: new (...a: never[]) => T): T => {
            const resource = resources.get(resourceName);
            if (!(resource instanceof type))
                throw new pulumi.ResourceError(`InClusterRegistry ${name}: ${resourceName} was not registered`, this);
            return resource;
        };
        this.namespace = registered(plan.exposed.namespace, k8s.core.v1.Namespace);
        this.deployment = registered(plan.exposed.deployment, k8s.apps.v1.Deployment);
        this.service = registered(plan.exposed.service, k8s.core.v1.Service);
        this.tlsService = registered(plan.exposed.tlsService, k8s.core.v1.Service);
        if (plan.exposed.ingress) this.ingress = registered(plan.exposed.ingress, k8s.networking.v1.Ingress);
        this.tlsServiceClusterIp = this.tlsService.spec.clusterIP;
        const caCertificate = plan.exposed.chainCa && resources.get(plan.exposed.chainCa);
        this.caCertPem = caCertificate ? readChainCa(name, args.namespace, caCertificate, { parent: this }) : undefined;
        this.registerOutputs({ tlsServiceClusterIp: this.tlsServiceClusterIp, caCertPem: this.caCertPem });
    }
}

/**
 * Claims that hold what cannot be fetched again: the registry's images, the Maven repository, the
 * backups on a volume. (A pull-through cache's claim is not among them: its content comes back from
 * its upstream.)
 */
const DATA_CLAIMS: ReadonlySet<string> = new Set([IN_CLUSTER.dataClaim, IN_CLUSTER.mavenClaim, IN_CLUSTER_BACKUP.name]);

/**
 * Data is never deleted as a side effect (docs/decisions/retain-cluster-data.md): the namespace and the
 * data claims are kept in the cluster when Pulumi deletes them, on `pulumi destroy` and on a change
 * that replaces them (an `inCluster.namespace` rename), and are removed only by hand. Deleting the
 * namespace would delete every claim in it, whatever the claims' own options say.
 */
export function retainedOnDelete(object: Pick<K8sObject, "kind" | "metadata">): boolean {
    return object.kind === "Namespace" || (object.kind === "PersistentVolumeClaim" && DATA_CLAIMS.has(object.metadata.name));
}

/**
 * How each object is registered, in their order: its resource name (`<name>-<kind>-<metadata.name>`, no
 * suffixes), what it waits for and the options beyond its kind's. The namespace comes first; the
 * workloads wait for the Secrets and ConfigMaps they mount, and for the chain's Certificates (Ready).
 */
export function inClusterObjectPlan(name: string, objects: readonly K8sObject[]): PlannedObject[] {
    const planned: PlannedObject[] = [];
    let namespace: string | undefined;
    const inputs: string[] = [];
    const services: string[] = [];
    for (const object of objects) {
        const resourceName = `${name}-${object.kind.toLowerCase()}-${object.metadata.name}`;
        const workload = object.kind === "Deployment" || object.kind === "CronJob";
        // An Ingress (or an IngressRoute, or a Gateway and its route) after the Secret and the Services it names: a controller that reads it at once (Traefik)
        // otherwise logs that they do not exist until they do.
        const dependsOn = workload
            ? [...(namespace ? [namespace] : []), ...inputs]
            : ["Ingress", "IngressRoute", "HTTPRoute", "Gateway"].includes(object.kind)
              ? [...(namespace ? [namespace] : []), ...inputs, ...services]
              : namespace && object.kind !== "Namespace"
                ? [namespace]
                : [];
        planned.push({
            name: resourceName,
            object,
            dependsOn,
            ...(retainedOnDelete(object) ? { retainOnDelete: true } : {}),
            // A claim's storage class cannot change. Replacing the claim for a new one is no way out:
            // a retained claim's delete only forgets it and the create of the same name then fails
            // (AlreadyExists) on every later `up`; another's delete waits on the pod that mounts it. So
            // the class applies to claims created after it is set, and an existing claim keeps its own.
            ...(object.kind === "PersistentVolumeClaim" ? { ignoreChanges: ["spec.storageClassName"] } : {}),
            // An Ingress that names no class keeps the class it has: the cluster's default, which the API server gave it
            // when it was created, or the class the stack named before (an earlier release's default). Without the
            // option, an apply that no longer sends a class the stack sent once removes it (server-side apply drops a
            // field its manager stops sending), and the API server gives the default only to an Ingress it creates:
            // no controller would serve the registry (docs/decisions/default-ingress-class.md).
            ...(object.kind === "Ingress" && !(object.spec as { ingressClassName?: string } | undefined)?.ingressClassName
                ? { ignoreChanges: ["spec.ingressClassName"] }
                : {}),
        });
        if (object.kind === "Namespace") namespace = resourceName;
        // A Certificate of the program's chain too: Caddy reads its Secret when the pod starts, so a pod made
        // before cert-manager wrote it (a move to cert-manager, whose Secret still held the generated
        // certificate) would serve a certificate the nodes no longer trust.
        if (["Secret", "ConfigMap", "ServiceAccount", "Certificate"].includes(object.kind)) inputs.push(resourceName);
        if (object.kind === "Service") services.push(resourceName);
    }
    return planned;
}

/** The overlap files' bodies, in a fixed order (for the pods' checksum). */
function overlapValues(o: OverlapFiles): pulumi.Output<string>[] {
    return [o.matchers, o.push, o.pull, ...(o.mavenDeploy ? [o.mavenDeploy] : [])];
}
