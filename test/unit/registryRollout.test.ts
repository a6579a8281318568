/**
 * What `pulumi up` waits for on the registry's Deployment (components/inCluster/deployment.ts, `rolloutWait`):
 * the `pulumi.com/waitFor` the Deployment carries, evaluated as the kubernetes provider evaluates it, against
 * the statuses the Deployment controller writes while it rolls the pods. With `Recreate`, the controller's
 * first pass after a template change records the new generation with the old pod's counts and no pod of the
 * new template; `up` must not return there, nor before the new pods are available (ready for long enough that
 * the cluster's routing sends requests to them).
 * Rendered without Pulumi.
 */
import { describe, expect, test } from "vitest";
import { renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { FRONT_STOP_DELAY_SECONDS, REGISTRY_STOP_DELAY_SECONDS, ROUTED_AFTER_SECONDS } from "../../components/inCluster/deployment";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { sidecarPolicy } from "../../components/inCluster/sidecarFront";
import type { InClusterSpec } from "../../components/inCluster/spec";
import { baseSpec, get, s3, variants } from "../support/inClusterSpec";

interface DeploymentSnapshot {
    readonly metadata: { readonly generation: number };
    readonly status: Readonly<Record<string, unknown>>;
}

/**
 * Whether every expression of a `pulumi.com/waitFor` value holds on `deployment`, as pulumi-kubernetes's
 * await/condition/jsonpath.go decides it: not while `.status.observedGeneration` is behind
 * `.metadata.generation`; a path that selects nothing does not hold; a value is compared as text. The program
 * uses dotted paths with a value only, and any other form fails here.
 */
function waitForHolds(waitFor: string, deployment: DeploymentSnapshot): boolean {
    const expressions = JSON.parse(waitFor) as string[];
    return expressions.every((expression) => {
        const form = /^jsonpath=\{\.([A-Za-z.]+)\}=(\S+)$/.exec(expression);
        if (!form) throw new Error(`not a dotted jsonpath with a value: ${expression}`);
        const observed = deployment.status.observedGeneration;
        if (typeof observed === "number" && observed < deployment.metadata.generation) return false;
        const found = form[1]!.split(".").reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], deployment);
        return found !== undefined && String(found) === form[2];
    });
}

const waitFor = (spec: InClusterSpec): string | undefined =>
    get(renderInClusterObjects(spec), "Deployment", "registry").metadata.annotations?.["pulumi.com/waitFor"];

const available = { type: "Available", status: "True", reason: "MinimumReplicasAvailable" };
const progressed = { type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" };

/**
 * One pod, `Recreate` (a data claim): the statuses of a rollout after a template change, in the order the
 * controller writes them (pkg/controller/deployment: recreate.go, sync.go's calculateStatus). Fields at 0 are
 * left out, as the API server's JSON leaves them.
 */
const recreateRollout: [string, DeploymentSnapshot, boolean][] = [
    [
        "the new spec not yet observed: the status is the last rollout's",
        {
            metadata: { generation: 2 },
            status: {
                observedGeneration: 1,
                replicas: 1,
                updatedReplicas: 1,
                readyReplicas: 1,
                availableReplicas: 1,
                conditions: [available, progressed],
            },
        },
        false,
    ],
    [
        "the first pass: the old ReplicaSet scaled to 0 (its status not yet), the generation observed, no new ReplicaSet",
        {
            metadata: { generation: 2 },
            status: { observedGeneration: 2, replicas: 1, readyReplicas: 1, availableReplicas: 1, conditions: [available, progressed] },
        },
        false,
    ],
    [
        "the old pod stopping, no pod counted",
        {
            metadata: { generation: 2 },
            status: { observedGeneration: 2, unavailableReplicas: 1, conditions: [{ ...available, status: "False" }, progressed] },
        },
        false,
    ],
    [
        "the new ReplicaSet's pod started, not ready",
        { metadata: { generation: 2 }, status: { observedGeneration: 2, replicas: 1, updatedReplicas: 1, unavailableReplicas: 1 } },
        false,
    ],
    [
        "the new pod ready and available",
        {
            metadata: { generation: 2 },
            status: {
                observedGeneration: 2,
                replicas: 1,
                updatedReplicas: 1,
                readyReplicas: 1,
                availableReplicas: 1,
                conditions: [available, progressed],
            },
        },
        true,
    ],
];

/** Three pods on s3, `RollingUpdate` (one more at a time, none fewer): the end of a rollout. */
const rollingRollout: [string, DeploymentSnapshot, boolean][] = [
    [
        "the new pods all made, one not yet available, the old pods serving",
        {
            metadata: { generation: 5 },
            status: {
                observedGeneration: 5,
                replicas: 4,
                updatedReplicas: 3,
                readyReplicas: 3,
                availableReplicas: 3,
                unavailableReplicas: 1,
            },
        },
        false,
    ],
    [
        "the new pods all available, an old one not yet scaled away",
        {
            metadata: { generation: 5 },
            status: { observedGeneration: 5, replicas: 4, updatedReplicas: 3, readyReplicas: 4, availableReplicas: 4 },
        },
        false,
    ],
    [
        "only the new pods, all available",
        {
            metadata: { generation: 5 },
            status: { observedGeneration: 5, replicas: 3, updatedReplicas: 3, readyReplicas: 3, availableReplicas: 3 },
        },
        true,
    ],
];

describe("`up` waits for the registry's rollout by the Deployment's own status", () => {
    test.each(variants)("the Deployment names what `up` waits for (%s)", (_name, spec) => {
        expect(JSON.parse(waitFor(spec) ?? "[]")).toEqual([
            `jsonpath={.status.updatedReplicas}=${spec.replicas}`,
            `jsonpath={.status.replicas}=${spec.replicas}`,
            `jsonpath={.status.availableReplicas}=${spec.replicas}`,
        ]);
    });

    test("only the Deployment waits so: no other object of the registry's carries a wait (a budget has no such status)", () => {
        const waiting = renderInClusterObjects(baseSpec({ storage: s3, replicas: 3 }))
            .filter((o) => o.metadata.annotations?.["pulumi.com/waitFor"]?.includes("updatedReplicas"))
            .map((o) => `${o.kind} ${o.metadata.name}`);
        expect(waiting).toEqual(["Deployment registry"]);
    });

    test.each(variants)("a pod counts as available once it has been ready for the routing to reach it (%s)", (_name, spec) => {
        expect(get(renderInClusterObjects(spec), "Deployment", "registry").spec.minReadySeconds).toBe(ROUTED_AFTER_SECONDS);
    });

    test.each(recreateRollout)("one pod, Recreate: %s (done: %s)", (_name, snapshot, done) => {
        const spec = baseSpec();
        expect(get(renderInClusterObjects(spec), "Deployment", "registry").spec.strategy.type).toBe("Recreate");
        expect(waitForHolds(waitFor(spec) ?? "[]", snapshot)).toBe(done);
    });

    test.each(rollingRollout)("three pods on s3, RollingUpdate: %s (done: %s)", (_name, snapshot, done) => {
        const spec = baseSpec({ storage: s3, replicas: 3 });
        expect(get(renderInClusterObjects(spec), "Deployment", "registry").spec.strategy.type).toBe("RollingUpdate");
        expect(waitForHolds(waitFor(spec) ?? "[]", snapshot)).toBe(done);
    });

    test.each([
        ["one pod on a claim (Recreate)", baseSpec(), false],
        ["three pods on s3 (RollingUpdate)", baseSpec({ storage: s3, replicas: 3 }), true],
        ["one pod on s3 (RollingUpdate)", baseSpec({ storage: s3 }), true],
    ] as const)("a stopping pod hands its clients over only where pods overlap: %s", (_name, spec, overlap) => {
        const containers = get(renderInClusterObjects(spec), "Deployment", "registry").spec.template.spec.containers as {
            name: string;
            lifecycle?: unknown;
        }[];
        const registry = containers.find((c) => c.name === "registry");
        // Distribution stops after its front has stopped taking requests; with Recreate nothing waits (no other pod serves).
        expect(registry?.lifecycle).toEqual(overlap ? { preStop: { sleep: { seconds: REGISTRY_STOP_DELAY_SECONDS } } } : undefined);
        expect(REGISTRY_STOP_DELAY_SECONDS).toBeGreaterThan(FRONT_STOP_DELAY_SECONDS);
        expect(FRONT_STOP_DELAY_SECONDS).toBeGreaterThanOrEqual(ROUTED_AFTER_SECONDS);
        const policy = sidecarPolicy({
            host: "registry.example",
            requiresAuthForPull: false,
            deletesEnabled: false,
            storage: spec.storage.kind,
        });
        expect(policy.shutdownDelaySeconds).toBe(overlap ? FRONT_STOP_DELAY_SECONDS : undefined);
        const caddyfile = renderCaddyfile(policy);
        expect(caddyfile.includes(`shutdown_delay ${FRONT_STOP_DELAY_SECONDS}s`)).toBe(overlap);
        expect(caddyfile.includes("header @stopping >Connection close")).toBe(overlap);
    });

    test("a pod serving the Maven repository (its claim, Recreate) gets no delay", () => {
        const policy = sidecarPolicy({
            host: "registry.example",
            requiresAuthForPull: false,
            deletesEnabled: false,
            storage: "s3",
            maven: { pathPrefix: "maven-releases", requiresAuthForPull: false },
        });
        expect(policy.shutdownDelaySeconds).toBeUndefined();
    });
});
