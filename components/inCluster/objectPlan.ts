/**
 * How each of the registry's objects is registered (`inClusterObjectPlan`): its resource name, what it waits
 * for, the changes it ignores, and the retention rules: the namespace and the data claims are kept when Pulumi
 * deletes them (`retainedOnDelete`).
 */
import type { K8sObject } from "../shared/k8sObject";
import type { PlannedObject } from "../shared/k8sResources";
import { IN_CLUSTER_BACKUP } from "./backup";
import { PULL_HISTORY } from "./pullHistory";
import { IN_CLUSTER } from "./spec";

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
        const workload = object.kind === "Deployment" || object.kind === "CronJob" || object.kind === "Job";
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
            // The pull history is the harvest's to write (./pullHistory.ts): the program creates it empty and
            // never puts its own (empty) data back, which would forget every pull recorded.
            ...(object.kind === "ConfigMap" && object.metadata.name === PULL_HISTORY.configMap
                ? { ignoreChanges: ["data", "binaryData"] }
                : {}),
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
