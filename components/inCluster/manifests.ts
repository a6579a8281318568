/**
 * The Kubernetes objects of the in-cluster registry, rendered as plain objects from typed settings.
 * Every object literal is checked with `satisfies` against @pulumi/kubernetes's input types, so a
 * misspelt field fails to compile; the tests validate the rendered values against the API schemas.
 * Nothing here creates resources: `InClusterRegistry` feeds these functions and registers what they
 * return, and the tests validate the same objects against the Kubernetes API schemas.
 *
 * Values that come from other resources (certificates, passwords, checksums) are typed `Value`, so the
 * component can pass Pulumi Outputs and the tests plain strings.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { mavenCleanupLines } from "../maven/cleanup";
import { MAVEN_BACKEND } from "../maven/nginxConfig";
import { collectUnlessEmpty, DISTRIBUTION, type IngressController, MANAGED_LABELS } from "../shared/facts";
import { END_MARKER_ONLY_WINDOW, MARKER_ONLY_WINDOW } from "../shared/frontWindow";
import { shQuote } from "../shared/shQuote";
import { renderVerifyScript } from "../shared/verifyScript";
import { backupSidecar, type InClusterBackup, renderBackupObjects } from "./backup";
import { READ_ONLY_SIGNAL, signalMount, signalVolume } from "./readOnlySignal";

/** A string that may still be an Output when the component renders. */
export type Value = pulumi.Input<string>;

/** A Kubernetes object as sent to the API server. */
export interface K8sObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata: {
        readonly name: string;
        readonly namespace?: string;
        readonly labels?: Record<string, string>;
        readonly annotations?: Record<string, string>;
    };
    readonly [field: string]: unknown;
}

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

/** Where the ingress gets its certificate. */
export type InClusterTls =
    | {
          /** A certificate and key we have (generated CA or the operator's), stored in Secret `registry-tls`. */
          readonly kind: "secret";
          readonly certPem: Value;
          readonly keyPem: Value;
      }
    | {
          /** cert-manager's ingress-shim issues the certificate into Secret `registry-tls`. */
          readonly kind: "cert-manager";
          readonly issuerKind: "Issuer" | "ClusterIssuer";
          readonly issuerName: string;
      };

export interface InClusterSpec {
    /** Namespace of every namespaced object (except the KEP-1755 ConfigMap, which lives in kube-public). */
    readonly namespace: string;
    /** Host name clients use; the Ingress serves it. */
    readonly host: string;
    /** IngressClass of the ingress controller. */
    readonly ingressClass: string;
    /**
     * The controller behind it, which decides the Ingress annotations and how `allowedNetworks` is
     * enforced; undefined for a controller this program does not know (then no allowlist is allowed).
     */
    readonly ingressController?: IngressController;
    readonly tls: InClusterTls;
    readonly images: {
        readonly registry: string;
        readonly caddy: string;
        readonly ui: string;
        /** Image with `sh` and `kubectl`, for the garbage-collection job. */
        readonly kubectl: string;
    };
    readonly replicas: number;
    readonly storage: InClusterStorage;
    /** Client networks allowed through the ingress; everyone when empty. */
    readonly allowedNetworks: readonly string[];
    readonly ui: { readonly enabled: boolean; readonly deleteEnabled: boolean };
    readonly garbageCollection: { readonly enabled: boolean; readonly schedule: string; readonly deleteUntagged: boolean };
    readonly publishLocalRegistryHosting: boolean;
    /** The sidecar's Caddyfile (from the shared access-policy renderer; holds no secret). */
    readonly caddyfile: string;
    /** Distribution's config.yml (from the shared renderer; holds no secret). */
    readonly registryConfig: string;
    /** Caddy users files and the htpasswd view of the same accounts. */
    readonly users: { readonly push: Value; readonly pull: Value; readonly htpasswd: Value };
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

/** Names and paths shared by the renderers, the access policy and the tests. */
export const IN_CLUSTER = {
    name: "registry",
    uiName: "registry-ui",
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
    /** The Service port (Caddy, plain HTTP behind the ingress). */
    servicePort: 5000,
    /** Distribution inside the pod, on loopback only: nothing reaches it except through Caddy. */
    registryAddr: "127.0.0.1:5001",
    /** The web UI inside the pod; Caddy sends everything outside /v2/ there. */
    uiPort: 8081,
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
    /** The UI image's own `nginx` user, which owns the files its entrypoint rewrites. */
    uiUid: 101,
} as const;

/** The default image for the garbage-collection job: Alpine with kubectl. Pin it by digest in production. */
export const DEFAULT_KUBECTL_IMAGE = "alpine/k8s:1.31.4";

/**
 * Whether two registry pods may run at once: with s3 storage and no Maven volume the pod mounts
 * nothing ReadWriteOnce, so the Deployment rolls (RollingUpdate) instead of replacing its one pod
 * (Recreate), and may run several replicas. Decides the strategy and the GC job's window.
 */
export function podsMayOverlap(spec: { readonly storage: { readonly kind: InClusterStorage["kind"] }; readonly maven?: unknown }): boolean {
    return spec.storage.kind === "s3" && !spec.maven;
}

/**
 * How the GC job holds writes back while it collects (distribution#3045: a push during a collection
 * loses its new layers); undefined without garbage collection.
 *
 * - "marker": the front's window, as the backup's (./readOnlySignal.ts): a marker in the pod's
 *   emptyDir, no restart. Only when exactly one pod runs and the collection runs in it: a pod that
 *   replaces it during the window (a drain, an eviction) starts without a marker, but the collector
 *   ends with the old pod's containers (at the latest after Distribution's drain time). Distribution
 *   then runs without its in-memory blob-descriptor cache (`distributionCachesBlobs`), which would
 *   otherwise answer for blobs the collection removed until a restart (distribution#3743).
 * - "rollout": Distribution's read-only switch on the Deployment's template and two rollouts, when the
 *   pods may overlap (`podsMayOverlap`). A marker lives in one pod; a pod that starts during the window
 *   would take writes while the collector sweeps the shared bucket. The template is the one switch
 *   every pod obeys, also those started later, and RollingUpdate keeps the replicas running through
 *   both rollouts, so pushes meet a front that answers. The restarts also empty the cache.
 */
export type GcWindow = "marker" | "rollout";

export function gcWindow(spec: {
    readonly storage: { readonly kind: InClusterStorage["kind"] };
    readonly maven?: unknown;
    readonly garbageCollection: { readonly enabled: boolean };
}): GcWindow | undefined {
    if (!spec.garbageCollection.enabled) return undefined;
    return podsMayOverlap(spec) ? "rollout" : "marker";
}

/**
 * Whether Distribution keeps its in-memory blob-descriptor cache: not when the GC job collects
 * without restarting it (`gcWindow` "marker"). The cost: each blob lookup that reaches Distribution
 * reads the repository's link file and stats the blob on the volume instead of a map lookup; the
 * Caddy sidecar serves linked blobs' downloads from the files itself, so mostly manifests and
 * uploads' existence checks reach it.
 */
export function distributionCachesBlobs(spec: Parameters<typeof gcWindow>[0]): boolean {
    return gcWindow(spec) !== "marker";
}

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

export function labels(component: string): Record<string, string> {
    return {
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/name": IN_CLUSTER.name,
        ...MANAGED_LABELS,
    };
}

function selector(component: string): Record<string, string> {
    return { "app.kubernetes.io/component": component, "app.kubernetes.io/name": IN_CLUSTER.name };
}

export function meta(name: string, namespace: string | undefined, component: string, annotations?: Record<string, string>) {
    return {
        name,
        ...(namespace ? { namespace } : {}),
        labels: labels(component),
        ...(annotations && Object.keys(annotations).length > 0 ? { annotations } : {}),
    };
}

/** The container settings the "restricted" Pod Security Standard asks for. */
export function restrictedContainer(
    readOnlyRootFilesystem: boolean,
    options: { runAsUser?: number; netBindService?: boolean } = {},
): k8s.types.input.core.v1.SecurityContext {
    const { runAsUser, netBindService } = options;
    return {
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"], ...(netBindService ? { add: ["NET_BIND_SERVICE"] } : {}) },
        privileged: false,
        readOnlyRootFilesystem,
        runAsNonRoot: true,
        ...(runAsUser !== undefined ? { runAsUser, runAsGroup: runAsUser } : {}),
        seccompProfile: { type: "RuntimeDefault" },
    };
}

export function restrictedPod(fsGroup?: number): k8s.types.input.core.v1.PodSecurityContext {
    return {
        runAsNonRoot: true,
        runAsUser: IN_CLUSTER.uid,
        runAsGroup: IN_CLUSTER.uid,
        ...(fsGroup !== undefined ? { fsGroup, fsGroupChangePolicy: "OnRootMismatch" } : {}),
        seccompProfile: { type: "RuntimeDefault" },
    };
}

export function renderNamespace(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
            name: spec.namespace,
            labels: {
                ...labels("namespace"),
                "pod-security.kubernetes.io/audit": "restricted",
                "pod-security.kubernetes.io/enforce": "restricted",
            },
        },
    } satisfies k8s.types.input.core.v1.Namespace;
}

export function secret(
    name: string,
    spec: InClusterSpec,
    component: string,
    stringData: Record<string, Value>,
    type = "Opaque",
): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Secret",
        metadata: meta(name, spec.namespace, component),
        type,
        stringData,
    } satisfies k8s.types.input.core.v1.Secret;
}

/** Every Secret the registry needs; values stay Outputs (secret) in the component. */
export function renderSecrets(spec: InClusterSpec): K8sObject[] {
    const secrets = [
        secret(IN_CLUSTER.htpasswdSecret, spec, "registry", {
            htpasswd: spec.users.htpasswd,
            push: spec.users.push,
            pull: spec.users.pull,
            ...(spec.maven ? { "maven-deploy": spec.maven.deployUsers } : {}),
        }),
        secret(IN_CLUSTER.httpSecret, spec, "registry", { secret: spec.httpSecret }),
    ];
    if (spec.storage.kind === "s3") {
        secrets.push(
            secret(IN_CLUSTER.s3Secret, spec, "registry", {
                accessKeyId: spec.storage.accessKeyId,
                secretAccessKey: spec.storage.secretAccessKey,
            }),
        );
    }
    if (spec.tls.kind === "secret") {
        secrets.push(
            secret(IN_CLUSTER.tlsSecret, spec, "ingress", { "tls.crt": spec.tls.certPem, "tls.key": spec.tls.keyPem }, "kubernetes.io/tls"),
        );
    }
    return secrets;
}

export function renderConfigMap(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: meta(IN_CLUSTER.configMap, spec.namespace, "registry"),
        data: {
            Caddyfile: spec.caddyfile,
            "config.yml": spec.registryConfig,
            ...(spec.maven ? { "maven-nginx.conf": spec.maven.nginxConfig } : {}),
            ...(spec.maven && spec.garbageCollection.enabled ? { [IN_CLUSTER.mavenGcScript]: mavenGcScript(spec.maven) } : {}),
            ...(gcWindow(spec) === "marker"
                ? { [IN_CLUSTER.gcStepScript]: inClusterGcStepScript(spec.garbageCollection.deleteUntagged, spec.storage.kind) }
                : {}),
            ...(spec.garbageCollection.enabled ? { [IN_CLUSTER.verifyScript]: inClusterVerifyScript(spec.namespace) } : {}),
        },
    } satisfies k8s.types.input.core.v1.ConfigMap;
}

export function renderDataClaim(spec: InClusterSpec): K8sObject | undefined {
    if (spec.storage.kind !== "filesystem") return undefined;
    return {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        // With a WaitForFirstConsumer storage class (microk8s's hostpath) the claim stays Pending until
        // the registry pod uses it: waiting for "Bound" before creating that pod would never end.
        metadata: meta(IN_CLUSTER.dataClaim, spec.namespace, "registry", { "pulumi.com/skipAwait": "true" }),
        spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: spec.storage.size } },
            ...(spec.storage.storageClass ? { storageClassName: spec.storage.storageClass } : {}),
        },
    } satisfies k8s.types.input.core.v1.PersistentVolumeClaim;
}

/** The Maven repository's files: kept like the registry's (a PVC that outlives the pods). */
export function renderMavenClaim(spec: InClusterSpec): K8sObject | undefined {
    if (!spec.maven) return undefined;
    return {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: meta(IN_CLUSTER.mavenClaim, spec.namespace, "maven", { "pulumi.com/skipAwait": "true" }),
        spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: spec.maven.size } },
            ...(spec.maven.storageClass ? { storageClassName: spec.maven.storageClass } : {}),
        },
    } satisfies k8s.types.input.core.v1.PersistentVolumeClaim;
}

export function renderServiceAccount(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "registry"),
        // The registry never talks to the Kubernetes API.
        automountServiceAccountToken: false,
    } satisfies k8s.types.input.core.v1.ServiceAccount;
}

function secretEnv(name: string, secretName: string, key: string) {
    return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/** Probes that need no credentials: the policy challenges `/v2/`, so they look behind Caddy. */
function registryProbes(): Pick<k8s.types.input.core.v1.Container, "readinessProbe" | "livenessProbe"> {
    const check = {
        exec: { command: ["wget", "-q", "-O", "/dev/null", `http://${IN_CLUSTER.registryAddr}/v2/`] },
        timeoutSeconds: 5,
    };
    return {
        readinessProbe: { ...check, periodSeconds: 10, failureThreshold: 3 },
        livenessProbe: { ...check, initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 6 },
    };
}

function caddyProbes(): Pick<k8s.types.input.core.v1.Container, "readinessProbe" | "livenessProbe"> {
    const check = { tcpSocket: { port: "http" }, timeoutSeconds: 5 };
    return {
        readinessProbe: { ...check, periodSeconds: 10, failureThreshold: 3 },
        livenessProbe: { ...check, initialDelaySeconds: 5, periodSeconds: 20, failureThreshold: 6 },
    };
}

export function renderDeployment(spec: InClusterSpec): K8sObject {
    const volumes: k8s.types.input.core.v1.Volume[] = [
        { name: "config", configMap: { name: IN_CLUSTER.configMap } },
        {
            name: "users",
            secret: {
                secretName: IN_CLUSTER.htpasswdSecret,
                items: [
                    { key: "push", path: "push" },
                    { key: "pull", path: "pull" },
                    ...(spec.maven ? [{ key: "maven-deploy", path: "maven-deploy" }] : []),
                ],
            },
        },
        { name: "caddy-data", emptyDir: {} },
        { name: "caddy-config", emptyDir: {} },
        { name: "tmp", emptyDir: {} },
        // The ingress's certificate and key (ours, or the one cert-manager issues into the same Secret),
        // for the TLS listener that pods reach through Service `registry-tls`. Readable by the pod's user only.
        {
            name: "tls",
            secret: {
                secretName: IN_CLUSTER.tlsSecret,
                items: [
                    { key: "tls.crt", path: "tls.crt" },
                    { key: "tls.key", path: "tls.key" },
                ],
                defaultMode: 0o400,
            },
        },
    ];
    if (spec.storage.kind === "filesystem") {
        volumes.push({ name: "data", persistentVolumeClaim: { claimName: IN_CLUSTER.dataClaim } });
    }
    // The front's read-only markers (./readOnlySignal.ts): the GC job's, written from the registry and
    // Maven containers when it collects without a restart, and the backup's, written by its container.
    const gcMarker = gcWindow(spec) === "marker";
    const backup = backupSidecar(spec);
    const registryEnv: k8s.types.input.core.v1.EnvVar[] = [secretEnv("REGISTRY_HTTP_SECRET", IN_CLUSTER.httpSecret, "secret")];
    if (spec.storage.kind === "s3") {
        registryEnv.push(
            secretEnv("REGISTRY_STORAGE_S3_ACCESSKEY", IN_CLUSTER.s3Secret, "accessKeyId"),
            secretEnv("REGISTRY_STORAGE_S3_SECRETKEY", IN_CLUSTER.s3Secret, "secretAccessKey"),
        );
    }
    const registry: k8s.types.input.core.v1.Container = {
        name: "registry",
        image: spec.images.registry,
        args: [`${IN_CLUSTER.configDir}/config.yml`],
        env: registryEnv,
        volumeMounts: [
            { name: "config", mountPath: IN_CLUSTER.configDir, readOnly: true },
            { name: "tmp", mountPath: "/tmp" },
            ...(spec.storage.kind === "filesystem" ? [{ name: "data", mountPath: IN_CLUSTER.dataDir }] : []),
            ...(gcMarker ? [signalMount(true)] : []),
        ],
        resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "2", memory: "1Gi" } },
        securityContext: restrictedContainer(true),
        ...registryProbes(),
    };
    const caddy: k8s.types.input.core.v1.Container = {
        name: "caddy",
        image: spec.images.caddy,
        args: ["caddy", "run", "--config", `${IN_CLUSTER.configDir}/Caddyfile`, "--adapter", "caddyfile"],
        ports: [
            { name: "http", containerPort: IN_CLUSTER.servicePort, protocol: "TCP" },
            { name: "https", containerPort: IN_CLUSTER.tlsPort, protocol: "TCP" },
        ],
        env: [
            { name: "XDG_DATA_HOME", value: "/data" },
            { name: "XDG_CONFIG_HOME", value: "/config" },
        ],
        volumeMounts: [
            { name: "config", mountPath: IN_CLUSTER.configDir, readOnly: true },
            { name: "users", mountPath: IN_CLUSTER.usersDir, readOnly: true },
            { name: "tls", mountPath: IN_CLUSTER.tlsDir, readOnly: true },
            { name: "caddy-data", mountPath: "/data" },
            { name: "caddy-config", mountPath: "/config" },
            // Caddy serves blob downloads from the registry's files (same path as in the registry
            // container, where the sidecar's Caddyfile looks); it never writes there. Same user as the
            // registry, so it can read everything the registry writes.
            ...(spec.storage.kind === "filesystem" ? [{ name: "data", mountPath: IN_CLUSTER.dataDir, readOnly: true }] : []),
            // The maintenance jobs' read-only markers (the policy's file signals); the sidecar only reads them.
            ...(gcMarker || backup ? [signalMount(false)] : []),
        ],
        resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "2", memory: "512Mi" } },
        // The caddy image's binary carries the file capability cap_net_bind_service=+ep: the kernel
        // refuses to exec it (EPERM) when that capability is outside the bounding set, even though
        // port 5000 does not need it. The restricted standard allows adding exactly this one.
        securityContext: restrictedContainer(true, { netBindService: true }),
        ...caddyProbes(),
    };
    const containers: k8s.types.input.core.v1.Container[] = [caddy, registry];
    if (spec.ui.enabled) {
        containers.push({
            name: "ui",
            image: spec.images.ui,
            env: [
                { name: "NGINX_LISTEN_PORT", value: String(IN_CLUSTER.uiPort) },
                { name: "SINGLE_REGISTRY", value: "true" },
                { name: "REGISTRY_TITLE", value: spec.host },
                { name: "DELETE_IMAGES", value: String(spec.ui.deleteEnabled) },
                { name: "SHOW_CONTENT_DIGEST", value: "true" },
                { name: "SHOW_CATALOG_NB_TAGS", value: "true" },
            ],
            resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
            // The image's entrypoint writes its settings into its own files at start: the root
            // filesystem stays writable for this container only.
            securityContext: restrictedContainer(false, { runAsUser: IN_CLUSTER.uiUid }),
            readinessProbe: { tcpSocket: { port: IN_CLUSTER.uiPort }, periodSeconds: 10 },
            livenessProbe: { tcpSocket: { port: IN_CLUSTER.uiPort }, initialDelaySeconds: 5, periodSeconds: 20 },
        });
    }
    if (spec.maven) {
        volumes.push(
            { name: "maven-data", persistentVolumeClaim: { claimName: IN_CLUSTER.mavenClaim } },
            { name: "maven-run", emptyDir: {} },
        );
        containers.push({
            name: IN_CLUSTER.mavenContainer,
            image: spec.maven.image,
            // -e: the error log nginx opens before it reads its config goes to stderr too.
            args: ["nginx", "-e", "stderr", "-c", `${IN_CLUSTER.configDir}/maven-nginx.conf`],
            ports: [{ name: "maven", containerPort: MAVEN_BACKEND.port, protocol: "TCP" }],
            volumeMounts: [
                { name: "config", mountPath: IN_CLUSTER.configDir, readOnly: true },
                { name: "maven-data", mountPath: MAVEN_BACKEND.dataDir },
                { name: "maven-run", mountPath: MAVEN_BACKEND.runDir },
                ...(gcMarker ? [signalMount(true)] : []),
            ],
            resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "1", memory: "128Mi" } },
            securityContext: restrictedContainer(true),
            readinessProbe: { tcpSocket: { port: "maven" }, periodSeconds: 10 },
            livenessProbe: { tcpSocket: { port: "maven" }, initialDelaySeconds: 5, periodSeconds: 20 },
        });
    }
    if (backup) {
        containers.push(backup.container);
        volumes.push(...backup.volumes);
    }
    if (gcMarker || backup) volumes.push(signalVolume());
    // Without a ReadWriteOnce volume in the pod (s3 storage and no Maven files), pods may overlap in a rollout.
    const shared = podsMayOverlap(spec);
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "registry"),
        spec: {
            replicas: spec.replicas,
            selector: { matchLabels: selector("registry") },
            // A ReadWriteOnce volume can be mounted by one pod at a time: the old pod goes first.
            strategy: shared ? { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } : { type: "Recreate" },
            template: {
                metadata: {
                    labels: labels("registry"),
                    annotations: { "dso-registry/config-checksum": spec.configChecksum },
                },
                spec: {
                    serviceAccountName: IN_CLUSTER.name,
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    securityContext: restrictedPod(shared ? undefined : IN_CLUSTER.uid),
                    containers,
                    volumes,
                    // Uploads in flight get time to finish before the pod stops.
                    terminationGracePeriodSeconds: 60,
                    ...(spec.replicas > 1
                        ? {
                              topologySpreadConstraints: [
                                  {
                                      maxSkew: 1,
                                      topologyKey: "kubernetes.io/hostname",
                                      whenUnsatisfiable: "ScheduleAnyway",
                                      labelSelector: { matchLabels: selector("registry") },
                                  },
                              ],
                          }
                        : {}),
                },
            },
        },
    } satisfies k8s.types.input.apps.v1.Deployment;
}

export function renderService(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "registry"),
        spec: {
            type: "ClusterIP",
            selector: selector("registry"),
            ports: [{ name: "http", port: IN_CLUSTER.servicePort, targetPort: "http", protocol: "TCP" }],
        },
    } satisfies k8s.types.input.core.v1.Service;
}

/**
 * The sidecar's TLS listener as a Service: pods that resolve the registry's public name to this
 * Service's ClusterIP (CoreDNS) reach the same policy and certificate as through the ingress, on 443.
 */
export function renderTlsService(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "v1",
        kind: "Service",
        metadata: meta(IN_CLUSTER.tlsService, spec.namespace, "registry"),
        spec: {
            type: "ClusterIP",
            selector: selector("registry"),
            ports: [{ name: "https", port: IN_CLUSTER.tlsServicePort, targetPort: "https", protocol: "TCP" }],
        },
    } satisfies k8s.types.input.core.v1.Service;
}

/**
 * ingress-nginx settings for multi-GB layers: no body limit (the default is 1m), long proxy timeouts,
 * and no request or response buffering, so a layer streams instead of spooling to the controller's disk.
 * Traefik streams bodies without a limit by default and takes no per-Ingress timeouts.
 */
const NGINX_ANNOTATIONS: Readonly<Record<string, string>> = {
    "nginx.ingress.kubernetes.io/proxy-body-size": "0",
    "nginx.ingress.kubernetes.io/proxy-buffering": "off",
    "nginx.ingress.kubernetes.io/proxy-connect-timeout": "30",
    "nginx.ingress.kubernetes.io/proxy-http-version": "1.1",
    "nginx.ingress.kubernetes.io/proxy-read-timeout": "900",
    "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
    "nginx.ingress.kubernetes.io/proxy-send-timeout": "900",
    "nginx.ingress.kubernetes.io/ssl-redirect": "true",
};

/**
 * The Ingress's annotations for its controller. The Caddy sidecar sees only the controller's address,
 * so the client-network allowlist is enforced by the controller: ingress-nginx with an annotation,
 * Traefik with the Middleware of `renderAllowlistMiddleware`, referenced here. With a controller this
 * program does not know, the ingress-nginx settings are written as before and no allowlist is allowed.
 */
export function ingressAnnotations(
    spec: Pick<InClusterSpec, "tls" | "allowedNetworks" | "ingressController" | "namespace">,
): Record<string, string> {
    const allowlist = spec.allowedNetworks.length > 0;
    if (allowlist && spec.ingressController === undefined) {
        throw new Error("in-cluster registry: an allowlist needs a known ingress controller (the config rules refuse this first)");
    }
    const annotations: Record<string, string> = spec.ingressController === "traefik" ? {} : { ...NGINX_ANNOTATIONS };
    if (allowlist && spec.ingressController === "nginx") {
        annotations["nginx.ingress.kubernetes.io/whitelist-source-range"] = spec.allowedNetworks.join(",");
    }
    if (allowlist && spec.ingressController === "traefik") {
        // Traefik names a Middleware from Kubernetes as <namespace>-<name>@kubernetescrd.
        annotations["traefik.ingress.kubernetes.io/router.middlewares"] =
            `${spec.namespace}-${IN_CLUSTER.allowlistMiddleware}@kubernetescrd`;
    }
    if (spec.tls.kind === "cert-manager") {
        const key = spec.tls.issuerKind === "ClusterIssuer" ? "cert-manager.io/cluster-issuer" : "cert-manager.io/issuer";
        annotations[key] = spec.tls.issuerName;
    }
    return Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => a.localeCompare(b)));
}

/** Traefik's ipAllowList Middleware (traefik.io/v1alpha1, Traefik v3) for the allowlist; none otherwise. */
export function renderAllowlistMiddleware(spec: InClusterSpec): K8sObject | undefined {
    if (spec.ingressController !== "traefik" || spec.allowedNetworks.length === 0) return undefined;
    return {
        apiVersion: "traefik.io/v1alpha1",
        kind: "Middleware",
        metadata: meta(IN_CLUSTER.allowlistMiddleware, spec.namespace, "ingress"),
        spec: { ipAllowList: { sourceRange: [...spec.allowedNetworks] } },
    };
}

export function renderIngress(spec: InClusterSpec): K8sObject {
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "Ingress",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "ingress", ingressAnnotations(spec)),
        spec: {
            ingressClassName: spec.ingressClass,
            tls: [{ hosts: [spec.host], secretName: IN_CLUSTER.tlsSecret }],
            rules: [
                {
                    host: spec.host,
                    http: {
                        paths: [
                            {
                                path: "/",
                                pathType: "Prefix",
                                backend: { service: { name: IN_CLUSTER.name, port: { name: "http" } } },
                            },
                        ],
                    },
                },
            ],
        },
    } satisfies k8s.types.input.networking.v1.Ingress;
}

/** Only with several replicas: with one, a budget would block every node drain. */
export function renderDisruptionBudget(spec: InClusterSpec): K8sObject | undefined {
    if (spec.replicas < 2) return undefined;
    return {
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "registry"),
        spec: { maxUnavailable: 1, selector: { matchLabels: selector("registry") } },
    } satisfies k8s.types.input.policy.v1.PodDisruptionBudget;
}

/** KEP-1755: tells tools (Tilt, ctlptl, Skaffold…) where the local registry is. */
export function renderLocalRegistryHosting(spec: InClusterSpec): K8sObject | undefined {
    if (!spec.publishLocalRegistryHosting) return undefined;
    const body = [
        `host: ${JSON.stringify(spec.host)}`,
        `hostFromContainerRuntime: ${JSON.stringify(spec.host)}`,
        `hostFromClusterNetwork: ${JSON.stringify(`${IN_CLUSTER.name}.${spec.namespace}.svc:${IN_CLUSTER.servicePort}`)}`,
        "",
    ].join("\n");
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: meta("local-registry-hosting", "kube-public", "discovery"),
        data: { "localRegistryHosting.v1": body },
    } satisfies k8s.types.input.core.v1.ConfigMap;
}

/**
 * The garbage-collection job's script (kubectl only). Collecting while a push is in flight deletes the
 * new layers (distribution#3045), and a registry that has seen a blob answers for it after a
 * collection removed it while its in-memory cache remembers it (distribution#3743). How writes are
 * held back is `gcWindow`'s decision:
 *
 * - "marker" (one pod): `gc.sh` from the ConfigMap runs in the registry container: it creates the
 *   GC's marker (the front answers writes 503 with Retry-After, pulls go on), waits for writes already
 *   past the front to land, runs `registry garbage-collect` and removes the marker when it ends, also
 *   when it fails; then, with Maven, `maven-gc.sh` does the same around the snapshot clean-up in the
 *   Maven container. Nothing restarts; Distribution runs without the blob-descriptor cache
 *   (`distributionCachesBlobs`), so it has nothing to forget. The window's steps run in the pod: a
 *   cut `kubectl exec` does not end a window while its work goes on.
 * - "rollout" (pods that may overlap): Distribution's read-only switch on the Deployment's template,
 *   the collection in one running pod (the bucket is shared), the switch removed again; each change
 *   rolls the pods, which empties their caches. The trap switches back on every exit, also on failure.
 *
 * Then the job checks its own work: `verify.sh` from the ConfigMap runs in the registry container,
 * the only place that reaches Distribution on the pod's loopback, and fails the job naming every
 * tagged image that is not served whole.
 */
export function gcScript(namespace: string, deleteUntagged: boolean, maven: boolean, window: GcWindow): string {
    const exec = `kubectl --namespace ${namespace} exec deployment/${IN_CLUSTER.name}`;
    const script = (name: string) => `${IN_CLUSTER.configDir}/${name}`;
    // Old snapshot builds, from inside the Maven container (the only one with maven-data mounted).
    const mavenCleanup = maven ? [`${exec} --container=${IN_CLUSTER.mavenContainer} -- /bin/sh ${script(IN_CLUSTER.mavenGcScript)}`] : [];
    const verify = `${exec} --container=registry -- /bin/sh ${script(IN_CLUSTER.verifyScript)}`;
    if (window === "marker") {
        return [
            "set -eu",
            'echo "collecting garbage inside the front\'s read-only window: writes get 503, pulls go on, nothing restarts"',
            `${exec} --container=registry -- /bin/sh ${script(IN_CLUSTER.gcStepScript)}`,
            ...mavenCleanup,
            'echo "garbage collection done; registry writable again; checking every tagged image"',
            verify,
            "",
        ].join("\n");
    }
    return [
        "set -eu",
        ...readOnlyRollout(namespace),
        'echo "registry is read-only; collecting garbage"',
        `${exec} --container=registry -- ${collectCommand(deleteUntagged, IN_CLUSTER.configDir)}`,
        ...mavenCleanup,
        ...END_READ_ONLY_ROLLOUT,
        'echo "garbage collection done; registry writable again with an empty cache; checking every tagged image"',
        verify,
        "",
    ].join("\n");
}

/** Distribution's collector on the registry's config (in `dir`). */
function collectCommand(deleteUntagged: boolean, dir: string): string {
    return `registry garbage-collect${deleteUntagged ? " --delete-untagged" : ""} ${dir}/config.yml`;
}

/**
 * `gc.sh`, run in the registry container by the GC job (`gcWindow` "marker"): the collection inside
 * the front's window, with the GC's own marker and the lines the backups open and close theirs with.
 */
export function inClusterGcStepScript(deleteUntagged: boolean, storage: InClusterStorage["kind"]): string {
    const collect = collectCommand(deleteUntagged, `"\${DSO_ROOT:-}"${IN_CLUSTER.configDir}`);
    return [
        "#!/bin/sh",
        `# Managed by dso-registry: garbage collection inside the front's read-only window, run in the registry container by CronJob ${IN_CLUSTER.gcName}. See docs/in-cluster.md.`,
        "set -eu",
        `marker="\${DSO_ROOT:-}"${shQuote(READ_ONLY_SIGNAL.gcMarker)}`,
        ...MARKER_ONLY_WINDOW,
        'echo "front read-only (writes get 503, pulls go on); collecting garbage"',
        ...(storage === "filesystem" ? collectUnlessEmpty(collect, `"\${DSO_ROOT:-}"${IN_CLUSTER.dataDir}`) : [collect]),
        ...END_MARKER_ONLY_WINDOW,
        'echo "collection done; front writable again"',
        "",
    ].join("\n");
}

/**
 * The check the GC job runs in the registry container (`verify.sh` in the ConfigMap): the external
 * host's check (components/shared/verifyScript.ts), with busybox's wget (the registry:2 image is
 * Alpine, without curl) against Distribution on the pod's loopback.
 */
export function inClusterVerifyScript(namespace: string): string {
    return renderVerifyScript({
        base: `http://${IN_CLUSTER.registryAddr}`,
        client: "busybox-wget",
        docs: "docs/in-cluster.md",
        registryLogs: `kubectl --namespace ${namespace} logs deployment/${IN_CLUSTER.name} --container=registry`,
        remedy: "Push them again from their builds, or restore the last good backup (docs/in-cluster.md, Restore).",
    });
}

/**
 * The Maven cleanup the GC job runs in the Maven container, inside the front's window with the GC's
 * marker (deploys get 503 from the front; Maven is served in-cluster only with one pod, so always
 * `gcWindow` "marker"): the external host's renderer over the container's mount of `maven-data`. The
 * container's root filesystem is read-only, so mktemp writes to its run directory (an emptyDir).
 */
export function mavenGcScript(maven: Pick<InClusterMaven, "pathPrefix" | "snapshotBuildsToKeep">): string {
    return [
        "set -eu",
        `TMPDIR="\${DSO_ROOT:-}"${MAVEN_BACKEND.runDir}`,
        "export TMPDIR",
        `marker="\${DSO_ROOT:-}"${shQuote(READ_ONLY_SIGNAL.gcMarker)}`,
        ...MARKER_ONLY_WINDOW,
        ...mavenCleanupLines({
            dataDir: MAVEN_BACKEND.dataDir,
            pathPrefix: maven.pathPrefix,
            snapshotBuildsToKeep: maven.snapshotBuildsToKeep,
        }),
        ...END_MARKER_ONLY_WINDOW,
        "",
    ].join("\n");
}

/**
 * Lines that switch the registry Deployment to read-only maintenance mode for the rest of the script
 * and wait until its pods run that way; `restore`, called by the trap on every exit (also on failure),
 * switches it back and waits for the writable pods (`END_READ_ONLY_ROLLOUT` does it before the
 * script ends). The garbage-collection job's switch when the pods may overlap (`gcWindow` "rollout").
 */
export function readOnlyRollout(namespace: string): string[] {
    const deployment = `deployment/${IN_CLUSTER.name}`;
    const kubectl = `kubectl --namespace ${namespace}`;
    return [
        "restore() {",
        `  ${kubectl} set env ${deployment} ${IN_CLUSTER.readOnlyEnv}-`,
        `  ${kubectl} rollout status ${deployment} --timeout=15m`,
        "}",
        "trap restore EXIT",
        `${kubectl} set env ${deployment} '${IN_CLUSTER.readOnlyEnv}={"enabled":true}'`,
        `${kubectl} rollout status ${deployment} --timeout=15m`,
    ];
}

/** Lines that end `readOnlyRollout`'s window before the script ends: the writable pods run again. */
export const END_READ_ONLY_ROLLOUT: readonly string[] = ["restore", "trap - EXIT"];

/** The job's account may only read the registry Deployment (and patch it, for a rollout window) and exec into its pods. */
export function renderGcRbac(spec: InClusterSpec): K8sObject[] {
    const window = gcWindow(spec);
    if (!window) return [];
    return renderMaintenanceRbac(spec, IN_CLUSTER.gcName, "garbage-collection", window === "rollout");
}

/**
 * A maintenance job's account: read the registry Deployment and exec into its pods; patch it too only
 * for a job that switches it (GC's `kubectl set env` when the pods may overlap; the marker windows need no patch).
 */
export function renderMaintenanceRbac(spec: InClusterSpec, name: string, component: string, patchesDeployment: boolean): K8sObject[] {
    const m = meta(name, spec.namespace, component);
    return [
        {
            apiVersion: "v1",
            kind: "ServiceAccount",
            metadata: m,
            automountServiceAccountToken: false,
        } satisfies k8s.types.input.core.v1.ServiceAccount,
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "Role",
            metadata: m,
            rules: [
                {
                    apiGroups: ["apps"],
                    resources: ["deployments"],
                    resourceNames: [IN_CLUSTER.name],
                    verbs: ["get", "list", "watch", ...(patchesDeployment ? ["patch"] : [])],
                },
                // `kubectl exec deployment/…` and `rollout status` find the pods through their ReplicaSets.
                { apiGroups: ["apps"], resources: ["replicasets"], verbs: ["get", "list", "watch"] },
                { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] },
                { apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] },
            ],
        } satisfies k8s.types.input.rbac.v1.Role,
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "RoleBinding",
            metadata: m,
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
            subjects: [{ kind: "ServiceAccount", name, namespace: spec.namespace }],
        } satisfies k8s.types.input.rbac.v1.RoleBinding,
    ];
}

export function renderGcCronJob(spec: InClusterSpec): K8sObject | undefined {
    const window = gcWindow(spec);
    if (!window) return undefined;
    return {
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: meta(IN_CLUSTER.gcName, spec.namespace, "garbage-collection"),
        spec: {
            schedule: spec.garbageCollection.schedule,
            concurrencyPolicy: "Forbid",
            startingDeadlineSeconds: 3600,
            successfulJobsHistoryLimit: 3,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
                spec: {
                    backoffLimit: 0,
                    activeDeadlineSeconds: 3 * 3600,
                    template: {
                        metadata: { labels: labels("garbage-collection") },
                        spec: {
                            serviceAccountName: IN_CLUSTER.gcName,
                            automountServiceAccountToken: true,
                            restartPolicy: "Never",
                            securityContext: restrictedPod(),
                            containers: [
                                {
                                    name: "gc",
                                    image: spec.images.kubectl,
                                    command: [
                                        "/bin/sh",
                                        "-c",
                                        gcScript(spec.namespace, spec.garbageCollection.deleteUntagged, spec.maven !== undefined, window),
                                    ],
                                    env: [{ name: "HOME", value: "/tmp" }],
                                    volumeMounts: [{ name: "tmp", mountPath: "/tmp" }],
                                    resources: { requests: { cpu: "20m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } },
                                    securityContext: restrictedContainer(true),
                                },
                            ],
                            volumes: [{ name: "tmp", emptyDir: {} }],
                        },
                    },
                },
            },
        },
    } satisfies k8s.types.input.batch.v1.CronJob;
}

/** Every object, in the order they are best created (namespace first, workloads after their inputs). */
export function renderInClusterObjects(spec: InClusterSpec): K8sObject[] {
    const problem = inClusterSpecProblem(spec);
    if (problem) throw new Error(`in-cluster registry: ${problem}`);
    return [
        renderNamespace(spec),
        renderServiceAccount(spec),
        ...renderSecrets(spec),
        renderConfigMap(spec),
        renderDataClaim(spec),
        renderMavenClaim(spec),
        // Before the Deployment: its backup container mounts the scripts and the credentials.
        ...renderBackupObjects(spec),
        renderDeployment(spec),
        renderService(spec),
        renderTlsService(spec),
        renderAllowlistMiddleware(spec),
        renderIngress(spec),
        renderDisruptionBudget(spec),
        renderLocalRegistryHosting(spec),
        ...renderGcRbac(spec),
        renderGcCronJob(spec),
    ].filter((o): o is K8sObject => o !== undefined);
}
