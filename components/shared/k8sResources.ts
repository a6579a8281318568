/**
 * The resource class of each kind of Kubernetes object the components render: one table, so that every
 * placement registers a rendered object (components/shared/k8sObject.ts) the same way.
 */
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { type K8sObject, objectOptions } from "./k8sObject";

// biome-ignore lint/suspicious/noExplicitAny: each kind's constructor takes its own args type; the objects were checked against it when rendered (manifests.ts).
type Constructor = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/** Traefik's Middleware, a custom resource: its apiVersion and kind travel with the object. */
class TraefikMiddleware extends k8s.apiextensions.CustomResource {
    constructor(
        name: string,
        args: Omit<k8s.apiextensions.CustomResourceArgs, "apiVersion" | "kind">,
        opts?: pulumi.CustomResourceOptions,
    ) {
        super(name, { apiVersion: "traefik.io/v1alpha1", kind: "Middleware", ...args }, opts);
    }
}

/** A resource class for a custom resource kind whose CRD the cluster's operator installs (prometheus-operator). */
function customResource(apiVersion: string, kind: string): Constructor {
    return class extends k8s.apiextensions.CustomResource {
        constructor(
            name: string,
            args: Omit<k8s.apiextensions.CustomResourceArgs, "apiVersion" | "kind">,
            opts?: pulumi.CustomResourceOptions,
        ) {
            super(name, { apiVersion, kind, ...args }, opts);
        }
    };
}

const CLASSES: Record<string, Constructor> = {
    "v1/Namespace": k8s.core.v1.Namespace,
    "v1/ServiceAccount": k8s.core.v1.ServiceAccount,
    "v1/Secret": k8s.core.v1.Secret,
    "v1/ConfigMap": k8s.core.v1.ConfigMap,
    "v1/PersistentVolumeClaim": k8s.core.v1.PersistentVolumeClaim,
    "v1/Service": k8s.core.v1.Service,
    "apps/v1/Deployment": k8s.apps.v1.Deployment,
    "networking.k8s.io/v1/Ingress": k8s.networking.v1.Ingress,
    "networking.k8s.io/v1/NetworkPolicy": k8s.networking.v1.NetworkPolicy,
    "policy/v1/PodDisruptionBudget": k8s.policy.v1.PodDisruptionBudget,
    "rbac.authorization.k8s.io/v1/Role": k8s.rbac.v1.Role,
    "rbac.authorization.k8s.io/v1/RoleBinding": k8s.rbac.v1.RoleBinding,
    "rbac.authorization.k8s.io/v1/ClusterRole": k8s.rbac.v1.ClusterRole,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": k8s.rbac.v1.ClusterRoleBinding,
    "batch/v1/CronJob": k8s.batch.v1.CronJob,
    "batch/v1/Job": k8s.batch.v1.Job,
    "traefik.io/v1alpha1/Middleware": TraefikMiddleware,
    "traefik.io/v1alpha1/IngressRoute": customResource("traefik.io/v1alpha1", "IngressRoute"),
    "cert-manager.io/v1/Issuer": customResource("cert-manager.io/v1", "Issuer"),
    "cert-manager.io/v1/Certificate": customResource("cert-manager.io/v1", "Certificate"),
    "gateway.networking.k8s.io/v1/Gateway": customResource("gateway.networking.k8s.io/v1", "Gateway"),
    "gateway.networking.k8s.io/v1/HTTPRoute": customResource("gateway.networking.k8s.io/v1", "HTTPRoute"),
    "gateway.networking.k8s.io/v1beta1/ReferenceGrant": customResource("gateway.networking.k8s.io/v1beta1", "ReferenceGrant"),
    "monitoring.coreos.com/v1/PodMonitor": customResource("monitoring.coreos.com/v1", "PodMonitor"),
    "monitoring.coreos.com/v1/PrometheusRule": customResource("monitoring.coreos.com/v1", "PrometheusRule"),
};

/** The resource class for `object` (by apiVersion and kind); `who` names the component in the error for a kind not in the table. */
export function resourceClassOf(object: Pick<K8sObject, "apiVersion" | "kind">, who: string): Constructor {
    const key = `${object.apiVersion}/${object.kind}`;
    const ctor = CLASSES[key];
    if (!ctor) throw new Error(`${who}: no resource type for ${key}`);
    return ctor;
}

/**
 * A rendered object as a component registers it: its resource name, the options it needs beyond its kind's
 * (`objectOptions`, which registration adds), and the objects above it in the same list it waits for (by
 * resource name). A placement's plan function lists them; its constructor only registers the list.
 */
export interface PlannedObject {
    readonly name: string;
    readonly object: K8sObject;
    /** Resource names of objects earlier in the list. */
    readonly dependsOn: readonly string[];
    readonly retainOnDelete?: boolean;
    readonly ignoreChanges?: readonly string[];
}

/**
 * Registers `objects` in their order under `opts` (the parent, the provider), each waiting for the ones its
 * `dependsOn` names, and returns each resource by its name. `who` names the component in errors.
 */
export function registerPlannedObjects(
    objects: readonly PlannedObject[],
    who: string,
    opts: pulumi.CustomResourceOptions,
): ReadonlyMap<string, pulumi.CustomResource> {
    const registered = new Map<string, pulumi.CustomResource>();
    for (const planned of objects) {
        const ctor = resourceClassOf(planned.object, who);
        const { apiVersion: _apiVersion, kind, ...body } = planned.object;
        const dependsOn = planned.dependsOn.map((dependency) => {
            const resource = registered.get(dependency);
            if (!resource) throw new Error(`${who}: ${planned.name} waits for ${dependency}, which is not registered before it`);
            return resource;
        });
        const resource = new ctor(planned.name, body, {
            ...opts,
            dependsOn,
            ...objectOptions(kind),
            ...(planned.retainOnDelete ? { retainOnDelete: true } : {}),
            ...(planned.ignoreChanges ? { ignoreChanges: [...planned.ignoreChanges] } : {}),
        });
        registered.set(planned.name, resource);
    }
    return registered;
}
