/**
 * The registry's Deployment (the Caddy front, Distribution, and the UI, Maven and backup containers
 * when enabled) and its disruption budget.
 */

import type * as k8s from "@pulumi/kubernetes";
import { MAVEN_BACKEND } from "../maven/nginxConfig";
import { DISTRIBUTION_ENV_VARS } from "../shared/facts";
import { FRONT_MEMORY, goMemoryLimit } from "../shared/front";
import type { K8sObject } from "../shared/k8sObject";
import { containerResources, schedulingFields } from "../shared/podScheduling";
import { startupProbe } from "../shared/probes";
import { backupSidecar } from "./backup";
import { diskGuardContainer } from "./diskGuard";
import { gcWindow, podsMayOverlap } from "./gcWindow";
import { labels, meta, restrictedContainer, restrictedPod, selector } from "./k8sHelpers";
import { metricsContainerPorts, scrapeAnnotations } from "./monitoring";
import { signalMount, signalVolume } from "./readOnlySignal";
import { retentionCountsMount, retentionCountsServed, retentionCountsVolume } from "./retentionCounts";
import { IN_CLUSTER, type InClusterPod, type InClusterSpec } from "./spec";
import { overlapSecretData } from "./workload";

function secretEnv(name: string, secretName: string, key: string) {
    return { name, valueFrom: { secretKeyRef: { name: secretName, key } } };
}

/** Probes that need no credentials: the policy challenges `/v2/`, so they look behind Caddy. */
function registryProbes(): Pick<k8s.types.input.core.v1.Container, "readinessProbe" | "livenessProbe" | "startupProbe"> {
    const check = {
        exec: { command: ["wget", "-q", "-O", "/dev/null", `http://${IN_CLUSTER.registryAddr}/v2/`] },
        timeoutSeconds: 5,
    };
    const liveness = { initialDelaySeconds: 10, periodSeconds: 20, failureThreshold: 6 };
    return {
        readinessProbe: { ...check, periodSeconds: 10, failureThreshold: 3 },
        livenessProbe: { ...check, ...liveness },
        startupProbe: startupProbe(check, liveness),
    };
}

/**
 * The Maven backend's probe. nginx listens on the pod's loopback only (nothing but the front may reach it), so
 * a kubelet's TCP or HTTP check, which connects to the pod's address, is refused: the check runs inside the
 * container and passes when nginx answers at all (its `location /` answers 404 on purpose).
 */
const mavenAnswers = {
    exec: {
        command: ["sh", "-c", `wget -q -S -O /dev/null http://127.0.0.1:${MAVEN_BACKEND.port}/ 2>&1 | grep -q "HTTP/1"`],
    },
    timeoutSeconds: 5,
};
const MAVEN_LIVENESS = { initialDelaySeconds: 5, periodSeconds: 20 };

function caddyProbes(): Pick<k8s.types.input.core.v1.Container, "readinessProbe" | "livenessProbe" | "startupProbe"> {
    const check = { tcpSocket: { port: "http" }, timeoutSeconds: 5 };
    const liveness = { initialDelaySeconds: 5, periodSeconds: 20, failureThreshold: 6 };
    return {
        readinessProbe: { ...check, periodSeconds: 10, failureThreshold: 3 },
        livenessProbe: { ...check, ...liveness },
        startupProbe: startupProbe(check, liveness),
    };
}

/**
 * How long a new registry pod is ready before its Deployment counts it available (`minReadySeconds`), and so
 * before `up` returns (rolloutWait) or a rolling update stops an old pod: the time the cluster's routing may
 * take to send requests to a pod once it is ready. kube-proxy syncs its rules at most once a second by default,
 * ingress-nginx its endpoints at most 0.3 times a second (`--sync-rate-limit`), Traefik its providers' changes
 * at most every 2 s (`providersThrottleDuration`). On the real node, with no such wait, a request sent 48 ms
 * after `up` returned went unanswered and the next, 220 ms later, was served.
 */
export const ROUTED_AFTER_SECONDS = 5;

/**
 * When the registry's pods may overlap (a rolling update), a stopping pod hands its clients over to the others
 * instead of cutting them off. Its front keeps serving for FRONT_STOP_DELAY_SECONDS after the kubelet's SIGTERM
 * (the time the cluster's routing takes to drop the pod, as ROUTED_AFTER_SECONDS is the time it takes to add one), answering with `Connection: close` so that clients and
 * the ingress open their next connection elsewhere; then it stops taking requests and finishes those under way.
 * Distribution's container sleeps REGISTRY_STOP_DELAY_SECONDS before its SIGTERM (a preStop sleep), so that it
 * stops only after its front has stopped sending it requests, and then finishes its own (`http.draintimeout`).
 * On the real node, without them, pushes through a rolling update failed with EOF (a kept-alive connection
 * closed under a request) and a push streaming through a deleted pod was cut.
 */
export const FRONT_STOP_DELAY_SECONDS = 5;
export const REGISTRY_STOP_DELAY_SECONDS = FRONT_STOP_DELAY_SECONDS + 5;

/**
 * What `pulumi up` waits for on the registry's Deployment before it goes on and returns: the controller has
 * seen the current spec, and all `replicas` pods are of the current template and available (ready for
 * ROUTED_AFTER_SECONDS), none of an earlier one left. `pulumi.com/waitFor` replaces the provider's own Deployment await, which is not enough
 * with `Recreate`: on its first pass after a template change the controller scales the old ReplicaSet to 0
 * and records the new generation before it makes the new ReplicaSet, and that await (pulumi-kubernetes's
 * `await/deployment.go`) took the old ReplicaSet at 0 of 0 for the rolled-out one, so `up` returned while no
 * registry pod served. Each jsonpath waits while `.status.observedGeneration` is behind the generation
 * (`await/condition/jsonpath.go`), and from then on the counts are the new template's: `updatedReplicas`
 * stays 0 until the new ReplicaSet has pods.
 */
export function rolloutWait(replicas: number): Record<string, string> {
    return {
        "pulumi.com/waitFor": JSON.stringify([
            `jsonpath={.status.updatedReplicas}=${replicas}`,
            `jsonpath={.status.replicas}=${replicas}`,
            `jsonpath={.status.availableReplicas}=${replicas}`,
        ]),
    };
}

/**
 * The registry's pods: the Caddy front and Distribution, and the UI, the Maven backend and the backup
 * container when enabled, with the volumes they share.
 */
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
                    ...Object.keys(overlapSecretData(spec)).map((key) => ({ key, path: key })),
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
    // The disk guard's marker (./diskGuard.ts), written by its own container.
    const diskGuard = diskGuardContainer(spec);
    const signals = gcMarker || backup !== undefined || diskGuard !== undefined;
    const retentionCounts = retentionCountsServed(spec);
    const registryEnv: k8s.types.input.core.v1.EnvVar[] = [
        ...DISTRIBUTION_ENV_VARS,
        secretEnv("REGISTRY_HTTP_SECRET", IN_CLUSTER.httpSecret, "secret"),
    ];
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
            ...(retentionCounts ? [retentionCountsMount(true)] : []),
        ],
        resources: containerResources(spec.pod?.resources?.registry, {
            requests: { cpu: "100m", memory: "128Mi" },
            limits: { cpu: "2", memory: "1Gi" },
        }),
        securityContext: restrictedContainer(true),
        ...registryProbes(),
        ...(podsMayOverlap(spec) ? { lifecycle: { preStop: { sleep: { seconds: REGISTRY_STOP_DELAY_SECONDS } } } } : {}),
    };
    const frontResources = containerResources(spec.pod?.resources?.front, {
        requests: { cpu: "50m", memory: "64Mi" },
        limits: { cpu: "2", memory: `${FRONT_MEMORY.limitMiB}Mi` },
    });
    const frontGoLimit = goMemoryLimit((frontResources.limits as Record<string, string> | undefined)?.memory);
    const caddy: k8s.types.input.core.v1.Container = {
        name: "caddy",
        image: spec.images.caddy,
        args: ["caddy", "run", "--config", `${IN_CLUSTER.configDir}/Caddyfile`, "--adapter", "caddyfile"],
        ports: [
            { name: "http", containerPort: IN_CLUSTER.servicePort, protocol: "TCP" },
            { name: "https", containerPort: IN_CLUSTER.tlsPort, protocol: "TCP" },
            ...metricsContainerPorts(spec),
        ],
        env: [
            { name: "XDG_DATA_HOME", value: "/data" },
            { name: "XDG_CONFIG_HOME", value: "/config" },
            // Go's runtime collects harder as it nears the container's limit (docs/decisions/access-policy.md#slow-clients).
            ...(frontGoLimit ? [{ name: "GOMEMLIMIT", value: frontGoLimit }] : []),
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
            // The upkeep jobs' read-only markers and the disk guard's (the policy's file signals); the sidecar only reads them.
            ...(signals ? [signalMount(false)] : []),
            // Tag retention's counts, which the registry container writes and the metrics port serves.
            ...(retentionCounts ? [retentionCountsMount(false)] : []),
        ],
        resources: frontResources,
        // The caddy image's binary carries the file capability cap_net_bind_service=+ep: the kernel
        // refuses to exec it (EPERM) when that capability is outside the bounding set, even though
        // port 5000 does not need it. The restricted standard allows adding exactly this one.
        securityContext: restrictedContainer(true, { netBindService: true }),
        ...caddyProbes(),
    };
    const containers: k8s.types.input.core.v1.Container[] = [caddy, registry];
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
            resources: containerResources(spec.pod?.resources?.maven, {
                requests: { cpu: "10m", memory: "16Mi" },
                limits: { cpu: "1", memory: "128Mi" },
            }),
            securityContext: restrictedContainer(true),
            readinessProbe: { ...mavenAnswers, periodSeconds: 10 },
            livenessProbe: { ...mavenAnswers, ...MAVEN_LIVENESS },
            startupProbe: startupProbe(mavenAnswers, MAVEN_LIVENESS),
        });
    }
    if (backup) {
        containers.push(backup.container);
        volumes.push(...backup.volumes);
    }
    if (diskGuard) containers.push(diskGuard);
    if (signals) volumes.push(signalVolume());
    if (retentionCounts) volumes.push(retentionCountsVolume());
    // Without a ReadWriteOnce volume in the pod (s3 storage and no Maven files), pods may overlap in a rollout.
    const shared = podsMayOverlap(spec);
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: meta(IN_CLUSTER.name, spec.namespace, "registry", rolloutWait(spec.replicas)),
        spec: {
            replicas: spec.replicas,
            minReadySeconds: ROUTED_AFTER_SECONDS,
            selector: { matchLabels: selector("registry") },
            // A ReadWriteOnce volume can be mounted by one pod at a time: the old pod goes first.
            strategy: shared ? { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } } : { type: "Recreate" },
            template: {
                metadata: {
                    labels: labels("registry"),
                    annotations: {
                        ...spec.pod?.annotations,
                        "dso-registry/config-checksum": spec.configChecksum,
                        ...scrapeAnnotations(spec),
                    },
                },
                spec: {
                    serviceAccountName: IN_CLUSTER.name,
                    automountServiceAccountToken: false,
                    enableServiceLinks: false,
                    // fsGroup with every storage: the kubelet then gives the pod's group the TLS Secret's files
                    // (0400, root's otherwise), which the front reads as the pod's user.
                    securityContext: restrictedPod(IN_CLUSTER.uid),
                    containers,
                    volumes,
                    // Uploads in flight get time to finish before the pod stops.
                    terminationGracePeriodSeconds: 60,
                    ...podPlacement(spec.pod),
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
/** The operator's placement of the registry's pods (`inCluster.pod`): the scheduling every pod takes, and the affinity; only what is set. */
function podPlacement(pod: InClusterPod | undefined) {
    return {
        ...schedulingFields(pod),
        ...(pod?.affinity ? { affinity: pod.affinity as k8s.types.input.core.v1.Affinity } : {}),
    };
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
