/**
 * What a stack's Kubernetes resources need from the cluster, and the message that lists what is missing.
 * Covers: components/cluster/prerequisites.ts.
 */
import { describe, expect, it } from "vitest";
import {
    missingPrerequisitesMessage,
    type Prerequisite,
    prerequisitesOf,
    type RegisteredObject,
} from "../../components/cluster/prerequisites";
import { readStackConfig, runProgram } from "../../tools/synth";

const object = (type: string, props: Record<string, unknown>): RegisteredObject => ({ type, props });

describe("prerequisitesOf", () => {
    it.each<[string, RegisteredObject[], Prerequisite[]]>([
        [
            "a namespace written into and not created",
            [object("kubernetes:core/v1:ConfigMap", { metadata: { name: "c", namespace: "jenkins" } })],
            [{ kind: "namespace", name: "jenkins", neededBy: ["ConfigMap jenkins/c"] }],
        ],
        [
            "nothing for a namespace the program creates, nor for the built-in ones",
            [
                object("kubernetes:core/v1:Namespace", { metadata: { name: "dso" } }),
                object("kubernetes:core/v1:Secret", { metadata: { name: "s", namespace: "dso" } }),
                object("kubernetes:core/v1:ConfigMap", { metadata: { name: "local-registry-hosting", namespace: "kube-public" } }),
            ],
            [],
        ],
        [
            "the API of a custom resource, with every kind the program creates of it",
            [
                object("kubernetes:monitoring.coreos.com/v1:PrometheusRule", {
                    apiVersion: "monitoring.coreos.com/v1",
                    kind: "PrometheusRule",
                    metadata: { name: "r", namespace: "kube-system" },
                }),
                object("kubernetes:monitoring.coreos.com/v1:PodMonitor", { metadata: { name: "m", namespace: "kube-system" } }),
                object("kubernetes:networking.k8s.io/v1:Ingress", { metadata: { name: "i", namespace: "kube-system" } }),
            ],
            [
                {
                    kind: "api",
                    apiVersion: "monitoring.coreos.com/v1",
                    kinds: ["PodMonitor", "PrometheusRule"],
                    neededBy: ["PrometheusRule kube-system/r", "PodMonitor kube-system/m"],
                },
            ],
        ],
        [
            "a default StorageClass for a claim that names none, and a named class for one that does",
            [
                object("kubernetes:core/v1:PersistentVolumeClaim", { metadata: { name: "a", namespace: "default" }, spec: {} }),
                object("kubernetes:core/v1:PersistentVolumeClaim", {
                    metadata: { name: "b", namespace: "default" },
                    spec: { storageClassName: "fast" },
                }),
                // "" asks for no class at all (a pre-bound volume): nothing to check.
                object("kubernetes:core/v1:PersistentVolumeClaim", {
                    metadata: { name: "c", namespace: "default" },
                    spec: { storageClassName: "" },
                }),
            ],
            [
                {
                    kind: "default-storage-class",
                    neededBy: ["PersistentVolumeClaim default/a"],
                    claims: [{ namespace: "default", name: "a" }],
                },
                {
                    kind: "storage-class",
                    name: "fast",
                    neededBy: ["PersistentVolumeClaim default/b"],
                    claims: [{ namespace: "default", name: "b" }],
                },
            ],
        ],
        [
            "the object a patch changes",
            [object("kubernetes:core/v1:ConfigMapPatch", { metadata: { name: "coredns", namespace: "kube-system" } })],
            [
                {
                    kind: "object",
                    apiVersion: "v1",
                    objectKind: "ConfigMap",
                    namespace: "kube-system",
                    name: "coredns",
                    neededBy: ["the patch of ConfigMap kube-system/coredns"],
                },
            ],
        ],
        [
            "the cert-manager issuer an Ingress names, namespaced or cluster-wide",
            [
                object("kubernetes:networking.k8s.io/v1:Ingress", {
                    metadata: { name: "r", namespace: "default", annotations: { "cert-manager.io/issuer": "registry-ca" } },
                }),
                object("kubernetes:networking.k8s.io/v1:Ingress", {
                    metadata: { name: "u", namespace: "default", annotations: { "cert-manager.io/cluster-issuer": "corp" } },
                }),
            ],
            [
                {
                    kind: "object",
                    apiVersion: "cert-manager.io/v1",
                    objectKind: "ClusterIssuer",
                    namespace: undefined,
                    name: "corp",
                    neededBy: ["Ingress default/u (annotation cert-manager.io/cluster-issuer)"],
                },
                {
                    kind: "object",
                    apiVersion: "cert-manager.io/v1",
                    objectKind: "Issuer",
                    namespace: "default",
                    name: "registry-ca",
                    neededBy: ["Ingress default/r (annotation cert-manager.io/issuer)"],
                },
            ],
        ],
        ["nothing for resources of other providers", [object("command:remote:Command", { create: "true" })], []],
    ])("%s", (_, objects, expected) => {
        expect(prerequisitesOf(objects)).toEqual(expected);
    });
});

describe("the committed stacks' prerequisites, from the resources the program registers", () => {
    const kubernetesObjects = async (stack: string) =>
        (await runProgram(stack, readStackConfig(".", stack))).resources
            .filter((r) => r.custom && r.type.startsWith("kubernetes:"))
            .map((r) => ({ type: r.type, props: r.inputs as Record<string, unknown> }));

    it.each([
        ["prod", ["namespace flux-system", "namespace jenkins"]],
        ["existing", ["namespace flux-system", "namespace jenkins"]],
        ["local", ["namespace jenkins", "default-storage-class"]],
        ["kind", []],
    ])("%s needs %j", async (stack, expected) => {
        const found = prerequisitesOf(await kubernetesObjects(stack)).map((p) => (p.kind === "namespace" ? `namespace ${p.name}` : p.kind));
        expect(found).toEqual(expected);
    });
});

describe("the message preview and up stop with", () => {
    it("names each missing prerequisite, who needs it, and the command or setting that fixes it", () => {
        const message = missingPrerequisitesMessage([
            {
                kind: "namespace",
                name: "jenkins",
                neededBy: ["ConfigMap jenkins/a", "ConfigMap jenkins/b", "ConfigMap jenkins/c", "ConfigMap jenkins/d"],
            },
            { kind: "namespace", name: "flux-system", neededBy: ["Secret flux-system/registry-credentials"] },
            { kind: "api", apiVersion: "monitoring.coreos.com/v1", kinds: ["PodMonitor"], neededBy: ["PodMonitor dso/registry"] },
            { kind: "default-storage-class", neededBy: ["PersistentVolumeClaim dso/registry-data"], claims: [] },
            { kind: "storage-class", name: "fast-ssd", neededBy: ["PersistentVolumeClaim dso/registry-data"], claims: [] },
            {
                kind: "object",
                apiVersion: "cert-manager.io/v1",
                objectKind: "Issuer",
                namespace: "dso",
                name: "registry-ca",
                neededBy: ["Ingress dso/registry (annotation cert-manager.io/issuer)"],
            },
        ]);
        const lines = message.split("\n");
        expect(lines[0]).toBe("The cluster lacks 6 things this stack needs; nothing was changed. Create each, then run the command again:");
        expect(lines.slice(1)).toEqual([
            "  - namespace jenkins (needed by ConfigMap jenkins/a, ConfigMap jenkins/b, ConfigMap jenkins/c and 1 more): kubectl create namespace jenkins",
            "  - namespace flux-system (needed by Secret flux-system/registry-credentials): install Flux (`flux install`), or turn pullSecrets.flux off",
            "  - the API monitoring.coreos.com/v1 (PodMonitor; needed by PodMonitor dso/registry): install the Prometheus Operator's CRDs, or set registry.monitoring.prometheusOperator to false",
            expect.stringMatching(
                /^ {2}- a default StorageClass \(needed by PersistentVolumeClaim dso\/registry-data\): install a provisioner .*is-default-class/,
            ),
            "  - StorageClass fast-ssd (needed by PersistentVolumeClaim dso/registry-data): create it, or name a class the cluster has (kubectl get storageclass)",
            "  - Issuer dso/registry-ca (cert-manager.io/v1; needed by Ingress dso/registry (annotation cert-manager.io/issuer)): install cert-manager (https://cert-manager.io/docs/installation/) if it is not, and create the Issuer; or name one that exists in registry.tls.certManagerIssuer",
        ]);
    });
});
