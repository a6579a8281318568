/**
 * The registry pod's stand-in (test/support/registryPodStandIn.ts) runs the Deployment as the program
 * synthesizes it: a change to the Deployment reaches the running processes without editing the
 * stand-in, and what the stand-in cannot run fails its start, naming it. Shown with the synthesized
 * registry Deployment changed as a component change would change it: an env var in every container,
 * a container and a volume more; then a field and a volume kind the stand-in does not model.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";
import { makeAccount } from "../support/realRegistry";
import {
    POD_START_TIMEOUT_MS,
    type RegistryPodStack,
    type RegistryPodStandIn,
    startRegistryPodStandIn,
    synthRegistryPod,
} from "../support/registryPodStandIn";

interface PodSpec {
    containers: Record<string, unknown>[];
    volumes: Record<string, unknown>[];
}

/** The stack with the registry Deployment's pod spec changed by `change` (on a copy). */
function changed(stack: RegistryPodStack, change: (pod: PodSpec) => void): RegistryPodStack {
    const objects = structuredClone(stack.objects) as K8sObject[];
    const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === IN_CLUSTER.name) as unknown as {
        spec: { template: { spec: PodSpec } };
    };
    change(deployment.spec.template.spec);
    return { ...stack, objects };
}

/** The environment a running process started with. */
function environOf(pid: string): Record<string, string> {
    return Object.fromEntries(
        readFileSync(`/proc/${pid}/environ`, "utf8")
            .split("\0")
            .filter(Boolean)
            .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
    );
}

describe("the registry pod's stand-in runs what the Deployment specifies", () => {
    const probe = randomBytes(8).toString("hex");
    let stack: RegistryPodStack;
    let pod: RegistryPodStandIn;

    beforeAll(async () => {
        stack = await synthRegistryPod({ push: makeAccount("ci-push"), pull: makeAccount("cluster-pull") });
        pod = await startRegistryPodStandIn(
            changed(stack, (spec) => {
                for (const c of spec.containers) c.env = [...((c.env as unknown[]) ?? []), { name: "DSO_SPEC_PROBE", value: probe }];
                spec.volumes.push({ name: "probe", emptyDir: {} });
                spec.containers.push({
                    name: "probe",
                    image: (spec.containers.find((c) => c.name === "registry") as { image: string }).image,
                    command: ["/bin/sh", "-c", 'echo "$DSO_SPEC_PROBE as $(id -u)" > /run/dso-probe/seen && exec sleep 3600'],
                    env: [{ name: "DSO_SPEC_PROBE", value: probe }],
                    securityContext: { runAsUser: 4242 },
                    volumeMounts: [{ name: "probe", mountPath: "/run/dso-probe" }],
                    readinessProbe: { exec: { command: ["test", "-s", "/run/dso-probe/seen"] } },
                });
            }),
        );
    }, POD_START_TIMEOUT_MS);

    afterAll(async () => {
        await pod?.stop();
    });

    test("an env var the Deployment gives every container is in each running program's environment", () => {
        const seen = Object.fromEntries(Object.entries(pod.pids()).map(([name, pid]) => [name, environOf(pid).DSO_SPEC_PROBE]));
        expect(seen).toMatchObject({ caddy: probe, registry: probe });
        expect(Object.entries(seen).filter(([, value]) => value !== probe)).toEqual([]);
    });

    test("a container added to the Deployment runs, as its user, with its command, env and volume", () => {
        expect(readFileSync(`${pod.root}/run/dso-probe/seen`, "utf8")).toBe(`${probe} as 4242\n`);
    });

    test.each([
        ["a container field it does not run", (spec: PodSpec) => (spec.containers[0]!.workingDir = "/srv"), /workingDir/],
        [
            "a volume kind it does not model",
            (spec: PodSpec) => {
                spec.volumes.push({ name: "host", hostPath: { path: "/srv" } });
                (spec.containers[0]!.volumeMounts as unknown[]).push({ name: "host", mountPath: "/srv" });
            },
            /volume host .*hostPath|hostPath/,
        ],
    ])("%s fails the start, naming it", async (_what, change, message) => {
        await expect(startRegistryPodStandIn(changed(stack, change))).rejects.toThrow(message);
    });
});
