/**
 * The in-cluster registry's settings as the renderers read them (`InClusterSpec`), the names and
 * paths every renderer shares (`IN_CLUSTER`), and the check that refuses settings no rendering can
 * serve (`inClusterSpecProblem`).
 */

import { DISTRIBUTION, type IngressController, METRICS_PORTS } from "../shared/facts";
import type { Value } from "../shared/k8sObject";
import type { ContainerResources, PodScheduling } from "../shared/podScheduling";
import type { BackupDestination } from "../upkeep/backup";
import type { Retention } from "../upkeep/retention";

/** Where Distribution keeps blobs and manifests. */
export type InClusterStorage =
    | {
          readonly kind: "filesystem";
          /** PVC size, e.g. "20Gi". */
          readonly size: string;
          /** Storage class; the cluster default when unset. */
          readonly storageClass?: string;
      }
    | {
          readonly kind: "s3";
          readonly accessKeyId: Value;
          readonly secretAccessKey: Value;
      };

/** Lifetimes, in days, of the program's cert-manager chain: its CA's and the registry's certificate's. */
export interface IssuerChainLifetimes {
    readonly caValidityDays: number;
    readonly serverCertValidityDays: number;
}

/** Where the ingress gets its certificate. */
export type InClusterTls =
    | {
          /** A certificate and key we have (generated CA or the operator's), stored in Secret `registry-tls`. */
          readonly kind: "secret";
          readonly certPem: Value;
          readonly keyPem: Value;
      }
    | {
          /**
           * cert-manager issues the certificate into Secret `registry-tls`: from the operator's issuer
           * through ingress-shim, or, with `chain`, from the program's own chain (issuerChain.ts) whose
           * CA Issuer the issuer fields then name.
           */
          readonly kind: "cert-manager";
          readonly issuerKind: "Issuer" | "ClusterIssuer";
          readonly issuerName: string;
          readonly chain?: IssuerChainLifetimes;
      };

/** The Gateway API exposure (`inCluster.gateway`): the Gateway the registry's HTTPRoute attaches to. */
export interface InClusterGateway {
    /** The Gateway's name. */
    readonly name: string;
    /** Its namespace; the registry's when unset. */
    readonly namespace?: string;
    /** The listener the route attaches to; every listener that allows it when unset. */
    readonly sectionName?: string;
    /** With a class, the stack creates the Gateway (in the registry's namespace); without, it is the operator's. */
    readonly className?: string;
    /** The created Gateway's HTTPS listener port (the controller's entry point). */
    readonly port: number;
    /** Where the controller connects from: the pod's Caddy believes X-Forwarded-For only from these. */
    readonly proxyNetworks: readonly string[];
}

/** What the registry's NetworkPolicy admits (./networkPolicy.ts), resolved from `inCluster.networkPolicy` and the placement's other settings. */
export interface InClusterNetworkPolicy {
    /** Namespaces of the ingress controller's (or the Gateway's) pods: the front's HTTP and TLS ports. */
    readonly ingressNamespaces: readonly string[];
    /** Networks the controller connects from when it is not a pod of those namespaces (a Gateway's `proxyNetworks`). */
    readonly proxyNetworks: readonly string[];
    /** Namespaces of other clients that reach the front from inside the cluster (CI agents, Flux): HTTP and TLS ports. */
    readonly clientNamespaces: readonly string[];
    /** The nodes' networks, for a node's traffic the cluster's implementation does not admit of itself. */
    readonly nodeNetworks: readonly string[];
    /** Namespaces of the metrics scraper: the metrics ports, with `registry.monitoring` on. */
    readonly monitoringNamespaces: readonly string[];
    /**
     * Networks the pods may connect to besides DNS and the registry's own namespace (the caches' Services, the UI);
     * undefined: connections out are not restricted (an object store whose addresses are not listed).
     */
    readonly egressNetworks?: readonly string[];
}

/** The login limit at the ingress (ingress-nginx's annotations or Traefik's Middlewares). */
export interface InClusterLoginLimit {
    /** Token requests per minute per client address, with a burst of as many (ingress-nginx: the pings' too). */
    readonly tokenRequestsPerMinute: number;
    /** Traefik: other requests with credentials per minute per client address, with a burst of as many. */
    readonly credentialRequestsPerMinute: number;
    /** Client networks never limited. */
    readonly ignoreNetworks: readonly string[];
}

export type { ContainerResources } from "../shared/podScheduling";

/**
 * The operator's knobs for the placement's pods (`inCluster.pod`), each checked against Kubernetes's
 * schema by the config. nodeSelector, tolerations and priorityClassName apply to every pod (the
 * registry's, the caches', the UI's, the jobs'); affinity and annotations to the registry's.
 */
export interface InClusterPod extends PodScheduling {
    /** Each container's requests and limits; the program's defaults for a container left out. */
    readonly resources?: {
        readonly registry?: ContainerResources;
        readonly front?: ContainerResources;
        readonly maven?: ContainerResources;
        /** Each pull-through cache's container. */
        readonly cache?: ContainerResources;
        /** The web UI's container. */
        readonly ui?: ContainerResources;
        /** The containers of the garbage-collection, backup and restore jobs. */
        readonly jobs?: ContainerResources;
    };
    /** A Kubernetes Affinity object. */
    readonly affinity?: Readonly<Record<string, unknown>>;
    readonly priorityClassName?: string;
    /** Added to the pod template's; the program's own keys (checksum, scraping) win. */
    readonly annotations?: Readonly<Record<string, string>>;
}

/** Everything the in-cluster renderers read: the settings, and the values other resources give them. */
export interface InClusterSpec {
    /** Namespace of every namespaced object (except the KEP-1755 ConfigMap, which lives in kube-public). */
    readonly namespace: string;
    /** Host name clients use; the Ingress serves it. */
    readonly host: string;
    /** The port clients write after it: 443 unless the ingress is published elsewhere. */
    readonly port: number;
    /**
     * IngressClass of the Ingresses; unset, they name none and the API server gives each the cluster's
     * default class when it creates it (an Ingress that exists keeps its class: inClusterObjectPlan).
     */
    readonly ingressClass?: string;
    /**
     * The controller behind it, which decides the Ingress annotations and how `allowedNetworks` is
     * enforced; undefined for a controller this program does not know (then no allowlist is allowed).
     */
    readonly ingressController?: IngressController;
    /**
     * With a Gateway, the registry is exposed by an HTTPRoute instead of Ingresses (gateway.ts), and the
     * sidecar enforces `allowedNetworks` itself.
     */
    readonly gateway?: InClusterGateway;
    readonly tls: InClusterTls;
    readonly images: {
        readonly registry: string;
        readonly caddy: string;
        readonly ui: string;
        /** Image with `sh` and `kubectl`, for the garbage-collection and backup jobs. */
        readonly kubectl: string;
    };
    readonly replicas: number;
    /** Where and how the registry's pods run (`inCluster.pod`); the program's defaults where unset. */
    readonly pod?: InClusterPod;
    readonly storage: InClusterStorage;
    /** Client networks allowed through the ingress (or by the sidecar behind a Gateway); everyone when empty. */
    readonly allowedNetworks: readonly string[];
    /** Who reaches the registry's pods, and where they connect to (`inCluster.networkPolicy`, ./networkPolicy.ts); no policy when unset. */
    readonly networkPolicy?: InClusterNetworkPolicy;
    /** Requests that can cost a password check, limited per client address at the ingress (`registry.loginLimit`); none when unset. */
    readonly loginLimit?: InClusterLoginLimit;
    readonly ui: { readonly enabled: boolean; readonly deleteEnabled: boolean };
    readonly garbageCollection: { readonly enabled: boolean; readonly schedule: string; readonly deleteUntagged: boolean };
    /** Tag retention, run by the GC job in its window; none when unset. */
    readonly retention?: Retention;
    readonly publishLocalRegistryHosting: boolean;
    /** The sidecar's Caddyfile (from the shared access-policy renderer; holds no secret). */
    readonly caddyfile: Value;
    /** Distribution's config.yml (from the shared renderer; holds no secret). */
    readonly registryConfig: string;
    /** Caddy users files and the htpasswd view of the same accounts. */
    readonly users: {
        readonly push: Value;
        readonly pull: Value;
        readonly htpasswd: Value;
        /** A rotation's overlap: the overlap file and each users file's previous passwords (usersFileOutput.ts). */
        readonly overlap?: { readonly matchers: Value; readonly push: Value; readonly pull: Value; readonly mavenDeploy?: Value };
    };
    /** Distribution's `http.secret`, shared by every replica. */
    readonly httpSecret: Value;
    /** Digest of everything the pods read at start; a change rolls the pods. */
    readonly configChecksum: Value;
    /**
     * The Maven repository served by the same front (the converged case): an nginx sidecar with its
     * own PVC. Its deploy account's users file rides in the htpasswd Secret.
     */
    readonly maven?: InClusterMaven;
    /** Scheduled backups of the registry's volume (and Maven's) with restic; none when unset. See ./backup.ts. */
    readonly backup?: InClusterBackup;
    /** Metrics and alert rules (docs/monitoring.md); none when unset. */
    readonly monitoring?: InClusterMonitoring;
    /**
     * The disk guard (`registry.diskGuard`): new uploads refused while the data volume (filesystem storage) is
     * used past `refusePercent`, and Maven deploys while the Maven volume is (with `maven`), checked every
     * `checkSeconds` (./diskGuard.ts); none when unset.
     */
    readonly diskGuard?: { readonly refusePercent: number; readonly checkSeconds: number };
}

/** See `InClusterSpec.maven`. */
export interface InClusterMaven {
    /** nginx image with the WebDAV module (the official image has it). */
    readonly image: string;
    /** The backend's nginx.conf (from `renderMavenNginxConfig`). */
    readonly nginxConfig: string;
    /** The Maven deploy account's users file for Caddy (secret). */
    readonly deployUsers: Value;
    /** PVC size of the repository's files, e.g. "10Gi", and its storage class (the cluster default when unset). */
    readonly size: string;
    readonly storageClass?: string;
    /** `mavenRegistry.pathPrefix`: the folder of the data volume the GC job cleans. */
    readonly pathPrefix: string;
    /** Timestamped builds the GC job keeps per SNAPSHOT version (`mavenRegistry.snapshotBuildsToKeep`). */
    readonly snapshotBuildsToKeep: number;
}

/** `InClusterSpec.backup`: scheduled backups to an S3-compatible bucket. */
export interface InClusterBackup {
    /** Image with restic and a POSIX shell (restic/restic is Alpine-based). */
    readonly image: string;
    /** Cron schedule of CronJob `registry-backup`. */
    readonly schedule: string;
    /** Snapshots kept on the destination (restic forget --keep-last). */
    readonly keep: number;
    readonly destination: InClusterBackupDestination;
    /** restic's repository password (secret). */
    readonly repositoryPassword: Value;
    /** The bucket's credentials (secret); with an S3 destination only. */
    readonly s3?: { readonly accessKeyId: Value; readonly secretAccessKey: Value };
}

/**
 * An S3-compatible bucket, or a PersistentVolumeClaim of its own (`registry-backup`, mounted in the
 * registry pod beside the registry's): the second protects against deletes and a broken registry
 * volume, not against losing the cluster's storage.
 */
export type InClusterBackupDestination =
    | Extract<BackupDestination, { kind: "s3" }>
    | { readonly kind: "volume"; readonly size: string; readonly storageClass?: string };

/**
 * Distribution's metrics listener in the pod: loopback, so its /debug pages stay inside the pod. The
 * sidecar relays its /metrics with monitoring; the GC job's window reads it with s3 storage.
 */
export const REGISTRY_METRICS_ADDR = `127.0.0.1:${METRICS_PORTS.distribution}`;

/** Names and paths shared by the renderers, the access policy and the tests. */
export const IN_CLUSTER = {
    name: "registry",
    gcName: "registry-gc",
    htpasswdSecret: "registry-htpasswd",
    httpSecret: "registry-http-secret",
    s3Secret: "registry-s3",
    tlsSecret: "registry-tls",
    /** Service in front of the sidecar's TLS listener: pods reach the registry by its public name through it. */
    tlsService: "registry-tls",
    /** The Service port of `tlsService`: clients use the host name without a port, as through the ingress. */
    tlsServicePort: 443,
    /** The Caddy sidecar's TLS listener in the pod (non-root: above 1024). */
    tlsPort: 8443,
    /** Where the Caddy container mounts Secret `registry-tls` (the ingress's certificate and key). */
    tlsDir: "/etc/caddy-tls",
    configMap: "registry-config",
    /** The token endpoint's own Ingress, with the controller's login limit. */
    loginIngress: "registry-login",
    /** Traefik's rateLimit Middleware of the token endpoint's Ingress. */
    loginLimitMiddleware: "registry-login-limit",
    /** Traefik's IngressRoute of every other request that carries credentials, with the limit below. */
    credentialsRoute: "registry-credentials",
    /** Traefik's rateLimit Middleware of the requests with credentials. */
    credentialsLimitMiddleware: "registry-credentials-limit",
    /** Traefik's Middleware that enforces the client-network allowlist. */
    allowlistMiddleware: "registry-allowlist",
    dataClaim: "registry-data",
    mavenClaim: "maven-data",
    /** The nginx sidecar that serves the Maven repository. */
    mavenContainer: "maven",
    /** ConfigMap key (and file in configDir) of the Maven cleanup the GC job runs in the Maven container. */
    mavenGcScript: "maven-gc.sh",
    /** ConfigMap key (and file in configDir) of the collection the GC job runs in the registry container, inside the front's window. */
    gcStepScript: "gc.sh",
    /** ConfigMap key (and file in configDir) of the check the GC job runs in the registry container afterwards. */
    verifyScript: "verify.sh",
    /** ConfigMap key (and file in configDir) of tag retention, which the GC job runs in the registry container first. */
    retentionScript: "retention.sh",
    /** The Service port (Caddy, plain HTTP behind the ingress). */
    servicePort: 5000,
    /** Distribution inside the pod, on loopback only: nothing reaches it except through Caddy. */
    registryAddr: "127.0.0.1:5001",
    configDir: DISTRIBUTION.configDir,
    usersDir: `${DISTRIBUTION.configDir}/users`,
    dataDir: DISTRIBUTION.dataDir,
    /**
     * Distribution's environment switch for read-only maintenance mode (verified with Distribution 2.8);
     * the GC job sets it on every container when the pods may overlap (`gcWindow` "rollout"), and the
     * Caddy sidecar reads it too.
     */
    readOnlyEnv: "REGISTRY_STORAGE_MAINTENANCE_READONLY",
    /** Non-root user the registry and Caddy run as; the PVC is group-owned by it (fsGroup). */
    uid: 65532,
} as const;

/** Why the settings cannot be rendered, or undefined. Exported for table-driven tests. */
export function inClusterSpecProblem(
    spec: Pick<InClusterSpec, "replicas" | "storage" | "host" | "maven"> & Partial<Pick<InClusterSpec, "backup">>,
): string | undefined {
    if (spec.backup && spec.storage.kind !== "filesystem") {
        return "backups copy the registry's volume, and with s3 storage there is none: keep the bucket's own versions or replication instead";
    }
    if (spec.replicas > 1 && spec.storage.kind !== "s3") {
        return `${spec.replicas} replicas need shared storage: set registry.storage.kind "s3" (a PVC is mounted by one node only)`;
    }
    if (!Number.isInteger(spec.replicas) || spec.replicas < 1) {
        return `replicas must be a whole number of at least 1, got ${spec.replicas}`;
    }
    if (spec.maven && spec.replicas > 1) {
        return `the Maven repository keeps its files on one volume, which ${spec.replicas} registry replicas cannot share: serve Maven from its own host (mavenRegistry.host) or run one replica`;
    }
    if (spec.host.includes(":") || spec.host.includes("/")) {
        return `host "${spec.host}" must be a bare host name: the ingress serves it on port 443`;
    }
    return undefined;
}

/** `registry.monitoring` in the cluster. */
export interface InClusterMonitoring {
    /** prometheus-operator's CRDs exist: PodMonitor and PrometheusRule instead of annotations and a ConfigMap. */
    readonly prometheusOperator: boolean;
    /** docs/runbooks.md as the operators read it. */
    readonly runbookBaseUrl: string;
    /** blackbox_exporter's image in the certificate probe's pod. */
    readonly probeImage: string;
    /** The mirrors' PVCs (their size is their limit). */
    readonly cacheClaims: readonly string[];
    /** With a rotation by age, when the generated passwords' next period begins (Unix seconds). */
    readonly passwordsRotationDue?: number;
}

/** The overlap's files in the users Secret: its key (and file name) for each. */
export const OVERLAP_FILES = {
    matchers: "overlap",
    push: "push-previous",
    pull: "pull-previous",
    mavenDeploy: "maven-deploy-previous",
} as const;
