/**
 * Where and with what a placement's pods run, as the operator sets it (`inCluster.pod`): the scheduling
 * fields every pod of the placement takes (the registry's, the caches', the UI's, the jobs'), and a
 * container's requests and limits over the program's defaults. Pure: renderers spread the results into
 * their pod specs.
 */
import type * as k8s from "@pulumi/kubernetes";

/** A container's requests and limits, as the config checked them against Kubernetes's ResourceRequirements. */
export interface ContainerResources {
    readonly requests?: Readonly<Record<string, string | number>>;
    readonly limits?: Readonly<Record<string, string | number>>;
}

/** The scheduling fields shared by every pod of a placement. */
export interface PodScheduling {
    readonly nodeSelector?: Readonly<Record<string, string>>;
    /** Kubernetes Toleration objects. */
    readonly tolerations?: readonly Readonly<Record<string, unknown>>[];
    readonly priorityClassName?: string;
}

/** The pod spec fields of `scheduling`: only what is set, so that an unset knob changes no object. */
export function schedulingFields(scheduling: PodScheduling | undefined) {
    return {
        ...(scheduling?.nodeSelector && Object.keys(scheduling.nodeSelector).length > 0 ? { nodeSelector: scheduling.nodeSelector } : {}),
        ...(scheduling?.tolerations && scheduling.tolerations.length > 0
            ? { tolerations: [...scheduling.tolerations] as k8s.types.input.core.v1.Toleration[] }
            : {}),
        ...(scheduling?.priorityClassName ? { priorityClassName: scheduling.priorityClassName } : {}),
    };
}

/** A container's resources: the operator's (quantities as strings, as the API returns them), else the program's defaults. */
export function containerResources(
    given: ContainerResources | undefined,
    defaults: k8s.types.input.core.v1.ResourceRequirements,
): k8s.types.input.core.v1.ResourceRequirements {
    if (!given) return defaults;
    const text = (q: Readonly<Record<string, string | number>> | undefined) =>
        q ? Object.fromEntries(Object.entries(q).map(([k, v]) => [k, String(v)])) : undefined;
    return { ...(given.requests ? { requests: text(given.requests) } : {}), ...(given.limits ? { limits: text(given.limits) } : {}) };
}
