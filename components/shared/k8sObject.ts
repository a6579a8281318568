/**
 * The shape of a Kubernetes object as the renderers return it: a plain object a component registers
 * and a test validates against the API schemas. Values that come from other resources (certificates,
 * passwords, checksums) are typed `Value`, so a component can pass Pulumi Outputs and the tests plain
 * strings.
 */
import type * as pulumi from "@pulumi/pulumi";

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

/**
 * Resource options a kind of object needs whatever component registers it. An Ingress is replaced
 * delete-first: when its namespace changes, pulumi-kubernetes creates the new one before deleting the
 * old (only an object whose name and namespace both stay is replaced delete-first), and ingress-nginx's
 * admission webhook refuses a second Ingress for the same host and path.
 */
export function objectOptions(kind: string): { deleteBeforeReplace?: boolean } {
    return kind === "Ingress" ? { deleteBeforeReplace: true } : {};
}
