/**
 * Where and how the in-cluster placement's pods run (`inCluster.pod`, components/shared/podScheduling.ts):
 * each knob on the registry's pod template, the scheduling fields on every pod of the placement, the
 * program's resources without it, and the settings refused before anything runs.
 * Covers: components/mirrors/mirrorManifests.ts (the caches' pods).
 */
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import type { InClusterSpec } from "../../components/inCluster/spec";
import { renderClusterMirrors } from "../../components/mirrors/mirrorManifests";
import { defaultRemoteUrl, mirrorPathName } from "../../components/mirrors/mirrors";
import type { K8sObject } from "../../components/shared/k8sObject";
import { configProblems } from "../support/configProblems";
import { backup, baseSpec, maven } from "../support/inClusterSpec";
import { restrictedPodProblems, schemaProblems } from "../support/k8sValidate";

describe("inCluster.pod: where and how the placement's pods run", () => {
    const pod: NonNullable<InClusterSpec["pod"]> = {
        resources: { registry: { requests: { cpu: "500m" }, limits: { cpu: 4, memory: "4Gi" } }, maven: { limits: { memory: "256Mi" } } },
        nodeSelector: { "node-role.kubernetes.io/infra": "true" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "infra", effect: "NoSchedule" }],
        affinity: {
            nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }] }],
                },
            },
        },
        priorityClassName: "registry-critical",
        annotations: { "example.com/team": "platform" },
    };
    const deploymentOf = (spec: InClusterSpec) => renderInClusterObjects(spec).find((o) => o.kind === "Deployment")!;
    const podSpec = (d: K8sObject) => (d.spec as { template: { spec: Record<string, any>; metadata: Record<string, any> } }).template;
    const container = (d: K8sObject, name: string) => podSpec(d).spec.containers.find((c: { name: string }) => c.name === name);

    test("each knob lands on the Deployment's pod template, valid against the API's schema and Pod Security's restricted level", async () => {
        const d = deploymentOf(baseSpec({ pod, maven }));
        const template = podSpec(d);
        expect(template.spec).toMatchObject({
            nodeSelector: pod.nodeSelector,
            tolerations: pod.tolerations,
            affinity: pod.affinity,
            priorityClassName: "registry-critical",
        });
        // Quantities as the API returns them; a container left out keeps the program's defaults.
        expect(container(d, "registry").resources).toEqual({ requests: { cpu: "500m" }, limits: { cpu: "4", memory: "4Gi" } });
        expect(container(d, "maven").resources).toEqual({ limits: { memory: "256Mi" } });
        expect(container(d, "caddy").resources).toEqual({
            requests: { cpu: "50m", memory: "64Mi" },
            limits: { cpu: "2", memory: "512Mi" },
        });
        expect(template.metadata.annotations).toMatchObject({ "example.com/team": "platform", "dso-registry/config-checksum": "abc123" });
        expect(await schemaProblems(d)).toEqual([]);
        expect(restrictedPodProblems(template.spec)).toEqual([]);
    });

    test.each([
        ["the program's limit", undefined, "399MiB"],
        ["a limit of 1Gi", { limits: { memory: "1Gi" } }, "798MiB"],
        ["a limit of 600M", { limits: { memory: "600M" } }, "446MiB"],
        ["no memory limit", { limits: { cpu: "1" } }, undefined],
    ])("the front's Go runtime is told about its memory limit (%s): GOMEMLIMIT some 80%% of it", (_name, front, expected) => {
        const d = deploymentOf(baseSpec({ pod: front ? { resources: { front } } : {} }));
        const env: { name: string; value?: string }[] = container(d, "caddy").env;
        expect(env.find((e) => e.name === "GOMEMLIMIT")?.value).toBe(expected);
    });

    test("nodeSelector, tolerations and priorityClassName reach every pod of the placement (UI, GC, backup, restore, caches); affinity and annotations only the registry's", async () => {
        const jobs = { requests: { cpu: "50m" }, limits: { memory: "512Mi" } };
        const spec = baseSpec({
            pod: { ...pod, resources: { ...pod.resources, ui: { limits: { memory: "256Mi" } }, jobs } },
            backup,
            ui: { enabled: true, deleteEnabled: false },
            garbageCollection: { enabled: true, schedule: "0 4 * * 6", deleteUntagged: false },
        });
        const objects = renderInClusterObjects(spec);
        const podOf = (o: K8sObject): Record<string, any> =>
            o.kind === "CronJob" ? (o.spec as any).jobTemplate.spec.template.spec : (o.spec as any).template.spec;
        const others = objects.filter((o) => (o.kind === "CronJob" || o.kind === "Deployment") && o.metadata.name !== "registry");
        expect(others.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
            "CronJob/registry-backup",
            "CronJob/registry-gc",
            "CronJob/registry-restore",
            "Deployment/registry-ui",
        ]);
        for (const o of others) {
            expect(podOf(o), o.metadata.name).toMatchObject({
                nodeSelector: pod.nodeSelector,
                tolerations: pod.tolerations,
                priorityClassName: "registry-critical",
            });
            expect(podOf(o), o.metadata.name).not.toHaveProperty("affinity");
            expect(await schemaProblems(o), o.metadata.name).toEqual([]);
        }
        const containerOf = (name: string) => podOf(others.find((o) => o.metadata.name === name)!).containers[0];
        expect(containerOf("registry-ui").resources).toEqual({ limits: { memory: "256Mi" } });
        for (const job of ["registry-gc", "registry-backup", "registry-restore"]) expect(containerOf(job).resources, job).toEqual(jobs);
        const caches = renderClusterMirrors({
            namespace: "dso",
            image: "registry:3.1.2",
            mirrors: [
                {
                    spec: {
                        upstream: "docker.io",
                        pathName: mirrorPathName("docker.io"),
                        remoteUrl: defaultRemoteUrl("docker.io"),
                        ttl: "168h",
                        proxyTtl: true,
                        maxSize: "20Gi",
                        hasCredentials: false,
                    },
                },
            ],
            scheduling: pod,
            resources: { limits: { memory: "1Gi" } },
        });
        const cache = caches.find((o) => o.kind === "Deployment")!;
        expect(podOf(cache)).toMatchObject({
            nodeSelector: pod.nodeSelector,
            tolerations: pod.tolerations,
            priorityClassName: "registry-critical",
        });
        expect(podOf(cache).containers[0].resources).toEqual({ limits: { memory: "1Gi" } });
    });

    test("without it, the pod template is what it was: no placement keys, the program's resources", () => {
        const template = podSpec(deploymentOf(baseSpec()));
        for (const key of ["nodeSelector", "tolerations", "affinity", "priorityClassName"]) expect(template.spec).not.toHaveProperty(key);
        expect(container(deploymentOf(baseSpec()), "registry").resources).toEqual({
            requests: { cpu: "100m", memory: "128Mi" },
            limits: { cpu: "2", memory: "1Gi" },
        });
    });

    test.each([
        [
            "inCluster.pod.resources.registry",
            { resources: { registry: { limits: { cpu: "two" } } } },
            /not a valid ResourceRequirements: limits\/cpu/,
        ],
        [
            "inCluster.pod.tolerations[0]",
            { tolerations: [{ key: "a", effect: "Sometimes" }] },
            /not a valid Toleration: effect must be equal to one of the allowed values/,
        ],
        ["inCluster.pod.annotations.prometheus.io/port", { annotations: { "prometheus.io/port": "1" } }, /set by the program/],
        ["inCluster.pod.nodeSelector.bad key!", { nodeSelector: { "bad key!": "x" } }, /is not a Kubernetes key/],
    ])("refuses %s before anything runs", (key, change, says) => {
        const problems = configProblems({
            containerRegistry: { host: "registry.example.test", pathPrefix: "team" },
            registry: { mode: "in-cluster" },
            inCluster: { pod: change },
        });
        expect(
            problems.find((p) => p.startsWith(`dso-registry:${key}`)),
            problems.join("\n"),
        ).toMatch(says);
    });
});
