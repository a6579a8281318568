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
