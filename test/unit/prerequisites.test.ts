/**
 * What a stack's Kubernetes resources need from the cluster, and the message that lists what is missing.
 * Covers: components/cluster/prerequisites.ts.
 */
import { describe, expect, it } from "vitest";
import { ingressClassesOf } from "../../components/cluster/kubectlCheck";
import {
    defaultIngressClassNotes,
    describeMissing,
    missingPrerequisitesMessage,
    type Prerequisite,
    prerequisitesOf,
    type RegisteredObject,
} from "../../components/cluster/prerequisites";
import { parseConfig, type StackConfig } from "../../components/config";
import { KIND_TRAEFIK_INSTALL, kindGateOptions } from "../../components/stack/kind";
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
                object("kubernetes:networking.k8s.io/v1:Ingress", {
                    metadata: { name: "i", namespace: "kube-system" },
                    spec: { ingressClassName: "traefik" },
                }),
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
                    spec: { ingressClassName: "traefik" },
                }),
                object("kubernetes:networking.k8s.io/v1:Ingress", {
                    metadata: { name: "u", namespace: "default", annotations: { "cert-manager.io/cluster-issuer": "corp" } },
                    spec: { ingressClassName: "traefik" },
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
        [
            "a default IngressClass for the Ingresses that name none, with the controllers' annotations they carry",
            [
                object("kubernetes:networking.k8s.io/v1:Ingress", {
                    metadata: {
                        name: "registry",
                        namespace: "default",
                        annotations: { "nginx.ingress.kubernetes.io/proxy-body-size": "0" },
                    },
                    spec: {},
                }),
                object("kubernetes:networking.k8s.io/v1:Ingress", {
                    metadata: { name: "registry-ui", namespace: "default", annotations: { "pulumi.com/skipAwait": "true" } },
                    spec: {},
                }),
                object("kubernetes:networking.k8s.io/v1:Ingress", {
                    metadata: {
                        name: "named",
                        namespace: "default",
                        annotations: { "traefik.ingress.kubernetes.io/router.middlewares": "m" },
                    },
                    spec: { ingressClassName: "traefik" },
                }),
            ],
            [
                {
                    kind: "default-ingress-class",
                    neededBy: ["Ingress default/registry", "Ingress default/registry-ui"],
                    ingresses: [
                        { namespace: "default", name: "registry" },
                        { namespace: "default", name: "registry-ui" },
                    ],
                    annotationPrefixes: ["nginx.ingress.kubernetes.io/"],
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
        // The web UI's Ingress, served by the cluster's default class (its namespace the stack makes).
        ["kind", ["default-ingress-class"]],
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

describe("the default IngressClass", () => {
    const need: Extract<Prerequisite, { kind: "default-ingress-class" }> = {
        kind: "default-ingress-class",
        neededBy: ["Ingress dso/registry"],
        ingresses: [{ namespace: "dso", name: "registry" }],
        annotationPrefixes: ["nginx.ingress.kubernetes.io/"],
    };
    const traefik = { name: "traefik", controller: "traefik.io/ingress-controller", isDefault: false };
    const nginx = { name: "nginx", controller: "k8s.io/ingress-nginx", isDefault: false };
    const setCommand = (name: string) => `npx pulumi config set --path 'dso-registry:inCluster.ingressClass' ${name} -s local`;

    it("is read from kubectl's list: name, controller, and the default annotation only when it says true", () => {
        const json = JSON.stringify({
            items: [
                { metadata: { name: "traefik" }, spec: { controller: "traefik.io/ingress-controller" } },
                {
                    metadata: { name: "public", annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } },
                    spec: { controller: "traefik.io/ingress-controller" },
                },
                { metadata: { name: "nginx", annotations: { "ingressclass.kubernetes.io/is-default-class": "false" } }, spec: {} },
            ],
        });
        expect(ingressClassesOf(json)).toEqual([
            { name: "nginx", controller: "", isDefault: false },
            { name: "public", controller: "traefik.io/ingress-controller", isDefault: true },
            traefik,
        ]);
    });

    it("missing among several classes: lists them, and prints the command that names one", () => {
        const line = describeMissing({ ...need, found: [nginx, traefik] }, { stack: "local" });
        expect(line).toContain("none of the cluster's IngressClasses is marked default");
        expect(line).toContain("nginx (k8s.io/ingress-nginx), traefik (traefik.io/ingress-controller)");
        expect(line).toContain(setCommand("<name>"));
        expect(line).toContain("kubectl annotate ingressclass <name> ingressclass.kubernetes.io/is-default-class=true");
    });

    it("missing beside one class: the command names it", () => {
        expect(describeMissing({ ...need, found: [traefik] }, { stack: "local" })).toContain(setCommand("traefik"));
    });

    it("marked on several classes: the API server cannot pick one, and each is listed", () => {
        const both = [
            { ...nginx, isDefault: true },
            { ...traefik, isDefault: true },
        ];
        const line = describeMissing({ ...need, found: both }, { stack: "prod" });
        expect(line).toContain("2 of the cluster's IngressClasses are marked default (nginx, traefik)");
        expect(line).toContain("nginx (k8s.io/ingress-nginx, default), traefik (traefik.io/ingress-controller, default)");
        expect(line).toContain("npx pulumi config set --path 'dso-registry:inCluster.ingressClass' <name> -s prod");
        expect(line).not.toContain("kubectl annotate");
    });

    it("with no class at all: an ingress controller to install, or Gateway API", () => {
        const line = describeMissing({ ...need, found: [] }, { stack: "local" });
        expect(line).toMatch(/^a default IngressClass \(needed by Ingress dso\/registry\): the cluster has no IngressClass/);
        expect(line).toContain(setCommand("<name>"));
        expect(line).toContain('inCluster.exposure "gateway"');
    });

    it.each([
        ["ingress-nginx's: retired", { ...nginx, isDefault: true }, [], [/served by ingress-nginx .*retired upstream in March 2026/]],
        [
            "Traefik's, with ingress-nginx's annotations on the Ingresses: name Traefik",
            { ...traefik, isDefault: true },
            ["nginx.ingress.kubernetes.io/"],
            [/served by Traefik .*ignores the ingress-nginx annotations .*set inCluster.ingressController "traefik"/],
        ],
        [
            "ingress-nginx's, with Traefik's annotations: both told",
            { ...nginx, isDefault: true },
            ["traefik.ingress.kubernetes.io/"],
            [/retired/, /ignores the Traefik annotations .*set inCluster.ingressController "nginx"/],
        ],
        ["Traefik's, with none of another controller's annotations: nothing", { ...traefik, isDefault: true }, [], []],
        [
            "a controller the program does not know: nothing",
            { name: "haproxy", controller: "haproxy.org/ingress", isDefault: true },
            ["nginx.ingress.kubernetes.io/"],
            [],
        ],
    ])("once found, tells about its controller when it is %s", (_, found, annotationPrefixes, expected) => {
        const notes = defaultIngressClassNotes({ ...need, annotationPrefixes }, found);
        expect(notes).toHaveLength(expected.length);
        expected.forEach((pattern, i) => {
            expect(notes[i]).toMatch(pattern);
        });
    });
});

describe("the kind placement's web UI in the cluster (kind.ui.servedBy ingress)", () => {
    const ingress = (className?: string) => ({
        type: "kubernetes:networking.k8s.io/v1:Ingress",
        props: {
            metadata: { name: "registry-ui", namespace: "hostk8s" },
            spec: className ? { ingressClassName: className } : {},
        },
    });
    const kind = kindGateOptions(
        parseConfig({
            containerRegistry: { host: "localhost", port: 5002, pathPrefix: "dev" },
            registry: { mode: "kind", ui: { enabled: true } },
        }).config,
    );
    const classes = { name: "traefik", controller: "traefik.io/ingress-controller", isDefault: false };

    it("asks for the class the UI's Ingress names; the in-cluster registry's named class is not asked for", () => {
        const namespace = { type: "kubernetes:core/v1:Namespace", props: { metadata: { name: "hostk8s" } } };
        expect(prerequisitesOf([namespace, ingress("traefik")], kind.prerequisites)).toEqual([
            { kind: "ingress-class", name: "traefik", neededBy: ["Ingress hostk8s/registry-ui"] },
        ]);
        expect(prerequisitesOf([namespace, ingress("traefik")])).toEqual([]);
        expect(prerequisitesOf([namespace, ingress()], kind.prerequisites).map((p) => p.kind)).toEqual(["default-ingress-class"]);
    });

    it("in a cluster with no ingress controller: the install that serves the UI, or the front that serves it", () => {
        const context = { stack: "kind", ...(kind.ingress ? { ingress: kind.ingress } : {}) };
        const line = describeMissing(
            { kind: "default-ingress-class", neededBy: ["Ingress hostk8s/registry-ui"], ingresses: [], annotationPrefixes: [], found: [] },
            context,
        );
        expect(line).toContain("no ingress controller would serve the web UI");
        expect(line).toContain(KIND_TRAEFIK_INSTALL);
        expect(line).toContain("npx pulumi config set --path 'dso-registry:kind.ui.servedBy' front -s kind");
        expect(line).toContain("http://localhost:5002/registry/");
        expect(line).not.toContain("inCluster.");
        // Classes there, none default: the command names the kind key.
        const several = describeMissing(
            {
                kind: "default-ingress-class",
                neededBy: ["Ingress hostk8s/registry-ui"],
                ingresses: [],
                annotationPrefixes: [],
                found: [classes, { ...classes, name: "other" }],
            },
            context,
        );
        expect(several).toContain("npx pulumi config set --path 'dso-registry:kind.ui.ingressClass' <name> -s kind");
        // A named class the cluster lacks: the classes it has, and the command that names one.
        const named = describeMissing(
            { kind: "ingress-class", name: "nginx", neededBy: ["Ingress hostk8s/registry-ui"], found: [classes] },
            context,
        );
        expect(named).toBe(
            "IngressClass nginx (needed by Ingress hostk8s/registry-ui): the cluster has traefik (traefik.io/ingress-controller). Install the controller of nginx, or name a class the cluster has: npx pulumi config set --path 'dso-registry:kind.ui.ingressClass' traefik -s kind",
        );
    });

    it("a retired controller as the cluster's default: the kind docs' install to move to, not the in-cluster registry's settings", () => {
        const notes = defaultIngressClassNotes(
            { kind: "default-ingress-class", neededBy: ["Ingress hostk8s/registry-ui"], ingresses: [], annotationPrefixes: [] },
            { name: "nginx", controller: "k8s.io/ingress-nginx", isDefault: true },
            kind.ingress,
        );
        expect(notes).toHaveLength(1);
        expect(notes[0]).toContain("retired upstream in March 2026");
        expect(notes[0]).toContain("move to a maintained controller (Traefik, installed as docs/kind.md, The web UI, says)");
        expect(notes[0]).not.toContain("inCluster.");
    });

    it("asks nothing of the cluster in other modes", () => {
        expect(kindGateOptions({ registry: { mode: "existing" } } as unknown as Pick<StackConfig, "registry">)).toEqual({});
    });
});
