/**
 * Checks for rendered Kubernetes objects:
 *  - `schemaProblems`: validation against the Kubernetes API's OpenAPI schemas, with the validators
 *    that the kubernetes-models package generates from them (offline, from npm);
 *  - `restrictedPodProblems`: the "restricted" Pod Security Standard, as the API server's
 *    PodSecurity admission applies it, for one pod spec;
 *  - `podTemplates`: every pod template among the objects, to run the pod checks on.
 */
import type { K8sObject } from "../../components/shared/k8sObject";

/**
 * Packages of the same family for custom resources, generated from their projects' CRD schemas, by API
 * group: cert-manager's (its CRDs' OpenAPI schemas, as the API server validates with them).
 */
const CUSTOM_RESOURCE_MODELS: Readonly<Record<string, string>> = { "cert-manager.io": "@kubernetes-models/cert-manager" };

/** The module of kubernetes-models that holds a kind, e.g. "kubernetes-models/apps/v1/Deployment". */
export function modelModule(apiVersion: string, kind: string): string {
    if (!/^([a-z0-9.-]+\/)?v\d+((alpha|beta)\d+)?$/.test(apiVersion) || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) {
        throw new Error(`not a Kubernetes apiVersion/kind: "${apiVersion}" "${kind}"`);
    }
    const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
    return `${CUSTOM_RESOURCE_MODELS[group] ?? "kubernetes-models"}/${apiVersion}/${kind}`;
}

interface Model {
    validate(): void;
}

/**
 * Problems the API schema finds in an object (an empty list when it is valid). An object whose kind
 * the schema package does not know is a problem too: nothing may pass unchecked.
 */
export async function schemaProblems(object: Record<string, unknown>): Promise<string[]> {
    const apiVersion = String(object.apiVersion);
    const kind = String(object.kind);
    let model: new (data: unknown) => Model;
    try {
        const module = (await import(modelModule(apiVersion, kind))) as Record<string, new (data: unknown) => Model>;
        model = module[kind]!;
    } catch (error) {
        return [`${apiVersion} ${kind}: no schema available (${(error as Error).message})`];
    }
    try {
        new model(object).validate();
        return [];
    } catch (error) {
        return [`${apiVersion} ${kind}: ${(error as Error).message}`];
    }
}

type Obj = Record<string, any>;

/** Volume types the restricted standard allows. */
const RESTRICTED_VOLUMES = ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

/** sysctls the baseline standard allows. */
const SAFE_SYSCTLS = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/**
 * Every violation of the "restricted" Pod Security Standard (which includes "baseline") in a pod
 * spec, one message per violation, naming the container. An empty list means the pod is admitted.
 */
export function restrictedPodProblems(pod: Obj): string[] {
    const problems: string[] = [];
    const podSc: Obj = pod.securityContext ?? {};
    const containers: Obj[] = [...(pod.initContainers ?? []), ...(pod.containers ?? []), ...(pod.ephemeralContainers ?? [])];

    for (const field of ["hostNetwork", "hostPID", "hostIPC"]) {
        if (pod[field] === true) problems.push(`pod: ${field} is true`);
    }
    if (podSc.windowsOptions?.hostProcess === true) problems.push("pod: windowsOptions.hostProcess is true");
    for (const v of (pod.volumes ?? []) as Obj[]) {
        const type = Object.keys(v).find((k) => k !== "name");
        if (type === "hostPath") problems.push(`volume ${v.name}: hostPath is forbidden`);
        else if (type && !RESTRICTED_VOLUMES.includes(type)) problems.push(`volume ${v.name}: type ${type} is not allowed`);
    }
    for (const s of (podSc.sysctls ?? []) as Obj[]) {
        if (!SAFE_SYSCTLS.includes(s.name)) problems.push(`pod: sysctl ${s.name} is not allowed`);
    }
    if (podSc.runAsUser === 0) problems.push("pod: runAsUser is 0 (root)");
    if (podSc.seccompProfile?.type === "Unconfined") problems.push("pod: seccompProfile is Unconfined");
    if (podSc.appArmorProfile?.type === "Unconfined") problems.push("pod: appArmorProfile is Unconfined");
    if (podSc.seLinuxOptions?.user || podSc.seLinuxOptions?.role) problems.push("pod: seLinuxOptions sets user or role");

    const seccompOk = (t: unknown) => t === "RuntimeDefault" || t === "Localhost";
    for (const c of containers) {
        const sc: Obj = c.securityContext ?? {};
        const where = `container ${c.name}`;
        if (sc.privileged === true) problems.push(`${where}: privileged is true`);
        if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
        const nonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
        if (nonRoot !== true) problems.push(`${where}: runAsNonRoot must be true (pod or container)`);
        if (sc.runAsUser === 0) problems.push(`${where}: runAsUser is 0 (root)`);
        const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
        if (!seccompOk(seccomp)) problems.push(`${where}: seccompProfile must be RuntimeDefault or Localhost (pod or container)`);
        const drop: string[] = sc.capabilities?.drop ?? [];
        if (!drop.includes("ALL")) problems.push(`${where}: capabilities must drop ALL`);
        for (const cap of (sc.capabilities?.add ?? []) as string[]) {
            if (cap !== "NET_BIND_SERVICE") problems.push(`${where}: capability ${cap} may not be added`);
        }
        for (const p of (c.ports ?? []) as Obj[]) {
            if (p.hostPort) problems.push(`${where}: hostPort ${p.hostPort} is forbidden`);
        }
        if (sc.procMount && sc.procMount !== "Default") problems.push(`${where}: procMount must be Default`);
        if (sc.appArmorProfile?.type === "Unconfined") problems.push(`${where}: appArmorProfile is Unconfined`);
        if (sc.seLinuxOptions?.user || sc.seLinuxOptions?.role) problems.push(`${where}: seLinuxOptions sets user or role`);
        if (sc.windowsOptions?.hostProcess === true) problems.push(`${where}: windowsOptions.hostProcess is true`);
    }
    return problems;
}

/** Every pod template among the objects (Deployments, DaemonSets, StatefulSets, Jobs, CronJobs). */
export function podTemplates(objects: readonly K8sObject[]): { owner: string; spec: Record<string, unknown> }[] {
    const found: { owner: string; spec: Record<string, unknown> }[] = [];
    for (const o of objects) {
        const s = o.spec as
            | { template?: { spec?: Record<string, unknown> }; jobTemplate?: { spec?: { template?: { spec?: Record<string, unknown> } } } }
            | undefined;
        const template = o.kind === "CronJob" ? s?.jobTemplate?.spec?.template : s?.template;
        if (template?.spec) found.push({ owner: `${o.kind}/${o.metadata.name}`, spec: template.spec });
    }
    return found;
}
