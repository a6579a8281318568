/**
 * A PersistentVolumeClaim that outlives the pods (the registry's data, the Maven repository, a pull-through
 * cache, the in-cluster backups): one shape for every volume the program claims.
 */
import type * as k8s from "@pulumi/kubernetes";
import type { K8sObject } from "./k8sObject";

/**
 * The annotations every claim's metadata carries. With a WaitForFirstConsumer storage class (microk8s's
 * hostpath) a claim stays Pending until a pod uses it: waiting for "Bound" before creating that pod
 * would never end, so Pulumi does not wait.
 */
export const CLAIM_ANNOTATIONS: Readonly<Record<string, string>> = { "pulumi.com/skipAwait": "true" };

/** The claim: ReadWriteOnce, `size`, and the storage class when one is named (the cluster's default otherwise). */
export function persistentClaim(metadata: K8sObject["metadata"], size: string, storageClass: string | undefined): K8sObject {
    return {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata,
        spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: size } },
            ...(storageClass ? { storageClassName: storageClass } : {}),
        },
    } satisfies k8s.types.input.core.v1.PersistentVolumeClaim;
}
