/**
 * The pull-through caches in the cluster, rendered as plain objects: per upstream a ConfigMap (its
 * files: the proxy's config.yml, the read-only config and the start script), a Secret with the
 * upstream account when it has one, a PersistentVolumeClaim of `maxSize` (the cache's own storage, and
 * its hard size limit), a one-pod Deployment of Distribution (in proxy mode while the upstream answers,
 * read-only on what it holds otherwise) held to the restricted Pod Security Standard, and a ClusterIP
 * Service the registry's Caddy sidecar proxies `/v2/mirrors/<upstream>/` to. Nothing here creates resources.
 */

import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { MirrorRoute } from "../accessPolicy/policy";
import { DISTRIBUTION, DISTRIBUTION_ENV_VARS, MANAGED_LABELS } from "../shared/facts";
import type { K8sObject, Value } from "../shared/k8sObject";
import { CLAIM_ANNOTATIONS, persistentClaim } from "../shared/persistentClaim";
import { type ContainerResources, containerResources, type PodScheduling, schedulingFields } from "../shared/podScheduling";
import { SERVICE_AWAIT_ANNOTATIONS, startupProbe } from "../shared/probes";
import { MIRROR_COMMAND, type MirrorSpec, type MirrorWarm, type RegistryMirror, renderMirrorFiles } from "./mirrors";
import { renderWarmScript, warmListHash } from "./warm";

/** The "restricted" Pod Security Standard's container settings, on a read-only root: the caches' and their warm runs'. */
const RESTRICTED_READ_ONLY = {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    seccompProfile: { type: "RuntimeDefault" },
};

/** A cache in the cluster, with its upstream account's env values when it has one (secret). */
export interface ClusterMirror {
    readonly spec: MirrorSpec;
    readonly account?: { readonly username: Value; readonly password: Value };
}

/** The cluster's form of a cache (`RegistryMirror`): its upstream account as the values of its Secret. */
export function clusterMirror(mirror: RegistryMirror): ClusterMirror {
    if (!mirror.spec.hasCredentials || mirror.account === undefined) return { spec: mirror.spec };
    const account = pulumi.output(mirror.account);
    return { spec: mirror.spec, account: { username: account.apply((a) => a.username), password: account.apply((a) => a.password) } };
}

export interface ClusterMirrorsSpec {
    readonly namespace: string;
    /** Distribution image (the registry's own). */
    readonly image: string;
    /** Storage class of the caches' claims; the cluster default when unset. */
    readonly storageClass?: string;
    readonly mirrors: readonly ClusterMirror[];
    /** Where the caches' pods run: the placement's scheduling (`inCluster.pod`). */
    readonly scheduling?: PodScheduling;
    /** Each cache container's requests and limits; the program's defaults when unset. */
    readonly resources?: ContainerResources;
    /**
     * The stack's upkeep image (`inCluster.images.kubectl`, Alpine with busybox's sh and wget): the warm Job
     * and CronJob of a cache with `warm` run in it. Required when a cache has `warm`.
     */
    readonly upkeepImage?: string;
}

/** User the caches run as; their claims are group-owned by it (fsGroup). */
const UID = 65532;
/** A cache is ready once Distribution answers from its storage; alive while it takes connections. */
const MIRROR_READY = { httpGet: { path: "/v2/", port: "registry" } };
const MIRROR_LIVENESS = { initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 6 };

/** How the names of a cache's objects start (its Deployment's, Service's, claim's). */
export const CLUSTER_MIRROR_PREFIX = "registry-mirror-";

/** Kubernetes name of a cache's objects, e.g. "registry-mirror-docker-io". */
export function clusterMirrorName(spec: Pick<MirrorSpec, "pathName">): string {
    const name = `${CLUSTER_MIRROR_PREFIX}${spec.pathName.replace(/\./g, "-")}`;
    if (name.length > 63) throw new Error(`mirror "${spec.pathName}": "${name}" is longer than Kubernetes's 63 characters`);
    return name;
}

/** Where the sidecar reaches each cache: its Service, by the namespace's DNS name. */
export function clusterMirrorRoutes(spec: Pick<ClusterMirrorsSpec, "namespace" | "mirrors">): MirrorRoute[] {
    return spec.mirrors.map((m) => ({
        pathName: m.spec.pathName,
        upstream: `${clusterMirrorName(m.spec)}.${spec.namespace}.svc:${DISTRIBUTION.containerPort}`,
    }));
}

function meta(name: string, namespace: string, upstream: string, annotations?: Record<string, string>) {
    return {
        name,
        namespace,
        labels: { "app.kubernetes.io/name": "registry-mirror", "app.kubernetes.io/instance": name, ...MANAGED_LABELS },
        annotations: { "dso-registry/upstream": upstream, ...annotations },
    };
}

/** Every object of every cache. */
export function renderClusterMirrors(spec: ClusterMirrorsSpec): K8sObject[] {
    return spec.mirrors.flatMap((m) => renderClusterMirror(spec, m));
}

/**
 * The cache's claim, named after its size. A bound claim cannot shrink (the API server refuses it) and
 * grows only where the storage class allows expansion, so a changed `maxSize` gives the cache a new,
 * empty claim of that size: the Deployment (Recreate) moves to it and the old claim is deleted after.
 * A cache's content can always be fetched again.
 */
export function clusterMirrorClaimName(name: string, maxSize: string): string {
    return `${name}-${maxSize.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
}

function renderClusterMirror(spec: ClusterMirrorsSpec, mirror: ClusterMirror): K8sObject[] {
    const s = mirror.spec;
    const name = clusterMirrorName(s);
    const claimName = clusterMirrorClaimName(name, s.maxSize);
    const secretName = `${name}-upstream`;
    const objects: K8sObject[] = [
        {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: meta(name, spec.namespace, s.upstream),
            data: renderMirrorFiles({
                addr: `:${DISTRIBUTION.containerPort}`,
                rootDirectory: DISTRIBUTION.dataDir,
                remoteUrl: s.remoteUrl,
                ttl: s.proxyTtl ? s.ttl : undefined,
            }),
        } satisfies k8s.types.input.core.v1.ConfigMap,
    ];
    if (s.hasCredentials) {
        if (!mirror.account) throw new Error(`mirror ${s.upstream}: its upstream account is missing`);
        objects.push({
            apiVersion: "v1",
            kind: "Secret",
            metadata: meta(secretName, spec.namespace, s.upstream),
            type: "Opaque",
            stringData: { REGISTRY_PROXY_USERNAME: mirror.account.username, REGISTRY_PROXY_PASSWORD: mirror.account.password },
        } satisfies k8s.types.input.core.v1.Secret);
    }
    objects.push(
        persistentClaim(meta(claimName, spec.namespace, s.upstream, CLAIM_ANNOTATIONS), s.maxSize, spec.storageClass),
        {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: meta(name, spec.namespace, s.upstream),
            spec: {
                replicas: 1,
                selector: { matchLabels: { "app.kubernetes.io/name": "registry-mirror", "app.kubernetes.io/instance": name } },
                // One ReadWriteOnce claim: the old pod goes first.
                strategy: { type: "Recreate" },
                template: {
                    metadata: { labels: meta(name, spec.namespace, s.upstream).labels },
                    spec: {
                        automountServiceAccountToken: false,
                        enableServiceLinks: false,
                        ...schedulingFields(spec.scheduling),
                        securityContext: {
                            runAsNonRoot: true,
                            runAsUser: UID,
                            runAsGroup: UID,
                            fsGroup: UID,
                            fsGroupChangePolicy: "OnRootMismatch",
                            seccompProfile: { type: "RuntimeDefault" },
                        },
                        containers: [
                            {
                                name: "registry",
                                image: spec.image,
                                command: [...MIRROR_COMMAND],
                                ports: [{ name: "registry", containerPort: DISTRIBUTION.containerPort, protocol: "TCP" }],
                                env: DISTRIBUTION_ENV_VARS,
                                ...(s.hasCredentials ? { envFrom: [{ secretRef: { name: secretName } }] } : {}),
                                volumeMounts: [
                                    { name: "config", mountPath: DISTRIBUTION.configDir, readOnly: true },
                                    { name: "data", mountPath: DISTRIBUTION.dataDir },
                                    { name: "tmp", mountPath: "/tmp" },
                                ],
                                resources: containerResources(spec.resources, {
                                    requests: { cpu: "50m", memory: "64Mi" },
                                    limits: { cpu: "1", memory: "512Mi" },
                                }),
                                securityContext: RESTRICTED_READ_ONLY,
                                // Ready once Distribution answers from its storage, in proxy mode or read-only:
                                // never waiting for the upstream, so `pulumi up` does not either.
                                readinessProbe: { ...MIRROR_READY, periodSeconds: 10 },
                                livenessProbe: { tcpSocket: { port: "registry" }, ...MIRROR_LIVENESS },
                                startupProbe: startupProbe(MIRROR_READY, MIRROR_LIVENESS),
                            },
                        ],
                        volumes: [
                            { name: "config", configMap: { name } },
                            { name: "data", persistentVolumeClaim: { claimName } },
                            { name: "tmp", emptyDir: {} },
                        ],
                    },
                },
            },
        } satisfies k8s.types.input.apps.v1.Deployment,
        {
            apiVersion: "v1",
            kind: "Service",
            metadata: meta(name, spec.namespace, s.upstream, { ...SERVICE_AWAIT_ANNOTATIONS }),
            spec: {
                type: "ClusterIP",
                selector: { "app.kubernetes.io/name": "registry-mirror", "app.kubernetes.io/instance": name },
                ports: [{ name: "registry", port: DISTRIBUTION.containerPort, targetPort: "registry", protocol: "TCP" }],
            },
        } satisfies k8s.types.input.core.v1.Service,
    );
    if (s.warm) objects.push(...renderClusterWarm(spec, s, s.warm));
    return objects;
}

/** The warm script's file name in its ConfigMap, and where the warm pods mount it. */
const WARM_SCRIPT = "warm.sh";
const WARM_DIR = "/etc/dso-registry-warm";

/** Name of a cache's warm objects (ConfigMap, CronJob), e.g. "registry-mirror-docker-io-warm". */
export function clusterWarmName(spec: Pick<MirrorSpec, "pathName">): string {
    return `${clusterMirrorName(spec)}-warm`;
}

/**
 * The Job `up` creates for a warm list: named after the list's hash, so a changed list (images or
 * platforms) is a new Job, which runs; an unchanged one is left as it is, finished. `up` does not wait
 * for it (`pulumi.com/skipAwait`): a warm run fetches from the upstream, which may be slow or not
 * reachable yet, and neither is a reason for `up` to wait or fail.
 */
export function clusterWarmJobName(spec: Pick<MirrorSpec, "pathName">, warm: Pick<MirrorWarm, "images" | "platforms">): string {
    const name = `${clusterWarmName(spec)}-${warmListHash(warm).slice(0, 8)}`;
    if (name.length > 63)
        throw new Error(`mirror "${spec.pathName}": its warm Job's name "${name}" is longer than Kubernetes's 63 characters`);
    return name;
}

/**
 * A cache's warm run in the cluster: the script (in a ConfigMap of its own: a changed list never touches
 * the cache's pod), a Job for the current list and a CronJob on `schedule`, in the upkeep image, held to
 * the restricted Pod Security Standard as the other upkeep jobs, reaching the cache's own Service (no front
 * in between) with busybox's wget. Their pods keep their log: `kubectl logs job/<name>`.
 */
function renderClusterWarm(spec: ClusterMirrorsSpec, s: MirrorSpec, warm: MirrorWarm): K8sObject[] {
    if (!spec.upkeepImage) throw new Error(`mirror ${s.upstream}: warm needs the upkeep image`);
    const name = clusterWarmName(s);
    const mirror = clusterMirrorName(s);
    const jobName = clusterWarmJobName(s, warm);
    const script = renderWarmScript(warm, {
        base: `http://${mirror}.${spec.namespace}.svc:${DISTRIBUTION.containerPort}`,
        client: "busybox-wget",
        cacheLogs: `kubectl -n ${spec.namespace} logs deploy/${mirror}`,
    });
    const labels = { "app.kubernetes.io/name": "registry-mirror-warm", "app.kubernetes.io/instance": name, ...MANAGED_LABELS };
    const podSpec = {
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        restartPolicy: "Never",
        ...schedulingFields(spec.scheduling),
        securityContext: { runAsNonRoot: true, runAsUser: UID, runAsGroup: UID, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
            {
                name: "warm",
                image: spec.upkeepImage,
                command: ["sh", `${WARM_DIR}/${WARM_SCRIPT}`],
                volumeMounts: [
                    { name: "script", mountPath: WARM_DIR, readOnly: true },
                    { name: "tmp", mountPath: "/tmp" },
                ],
                resources: { requests: { cpu: "10m", memory: "16Mi" }, limits: { cpu: "500m", memory: "128Mi" } },
                securityContext: RESTRICTED_READ_ONLY,
            },
        ],
        volumes: [
            { name: "script", configMap: { name } },
            { name: "tmp", emptyDir: {} },
        ],
    } satisfies k8s.types.input.core.v1.PodSpec;
    const jobSpec = {
        backoffLimit: 0,
        activeDeadlineSeconds: 6 * 3600,
        template: { metadata: { labels }, spec: podSpec },
    } satisfies k8s.types.input.batch.v1.JobSpec;
    const warmMeta = (n: string, annotations?: Record<string, string>) => ({
        name: n,
        namespace: spec.namespace,
        labels,
        annotations: { "dso-registry/upstream": s.upstream, ...annotations },
    });
    return [
        {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: warmMeta(name),
            data: { [WARM_SCRIPT]: script },
        } satisfies k8s.types.input.core.v1.ConfigMap,
        {
            apiVersion: "batch/v1",
            kind: "Job",
            metadata: warmMeta(jobName, { "pulumi.com/skipAwait": "true", "dso-registry/warm-list": warmListHash(warm) }),
            spec: jobSpec,
        } satisfies k8s.types.input.batch.v1.Job,
        {
            apiVersion: "batch/v1",
            kind: "CronJob",
            metadata: warmMeta(name),
            spec: {
                schedule: warm.schedule,
                concurrencyPolicy: "Forbid",
                startingDeadlineSeconds: 3600,
                successfulJobsHistoryLimit: 1,
                failedJobsHistoryLimit: 3,
                jobTemplate: { spec: jobSpec },
            },
        } satisfies k8s.types.input.batch.v1.CronJob,
    ];
}
