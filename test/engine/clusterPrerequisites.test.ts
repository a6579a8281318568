/**
 * The cluster check (components/cluster/kubectlCheck.ts) asks a real API server, with the kubectl and
 * kubeconfig a user has: every kind of prerequisite is reported missing on a bare control plane, and
 * found once it exists; the default IngressClass is found when exactly one class is marked, the API server
 * gives it to an Ingress created without a class, and none or several stop the run with the classes
 * listed; the class kept, or dropped, by server-side applies that name none (why an Ingress of no class
 * ignores changes of it); a kubeconfig given as text and a context are honoured; an unreachable cluster
 * decides nothing.
 * The whole run through `pulumi preview` and `up`: test/engine/existing.test.ts.
 * Covers: components/cluster/kubectlCheck.ts, components/cluster/prerequisites.ts, components/inCluster/inClusterRegistry.ts.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { checkPrerequisites } from "../../components/cluster/kubectlCheck";
import { missingPrerequisitesMessage, type Prerequisite } from "../../components/cluster/prerequisites";
import { type ControlPlane, namespace, startControlPlane } from "../support/kubeControlPlane";
import { engineSet } from "../support/pulumiEngine";

const ALL: Prerequisite[] = [
    { kind: "namespace", name: "jenkins", neededBy: ["ConfigMap jenkins/pipeline-config"] },
    { kind: "api", apiVersion: "monitoring.coreos.com/v1", kinds: ["PodMonitor"], neededBy: ["PodMonitor dso/registry"] },
    {
        kind: "default-storage-class",
        neededBy: ["PersistentVolumeClaim dso/registry-data"],
        claims: [{ namespace: "dso", name: "registry-data" }],
    },
    {
        kind: "storage-class",
        name: "fast-ssd",
        neededBy: ["PersistentVolumeClaim jenkins/maven-data"],
        claims: [{ namespace: "jenkins", name: "maven-data" }],
    },
    { kind: "object", apiVersion: "v1", objectKind: "ConfigMap", namespace: "kube-system", name: "coredns", neededBy: ["the patch"] },
    {
        kind: "default-ingress-class",
        neededBy: ["Ingress jenkins/registry"],
        ingresses: [{ namespace: "jenkins", name: "registry" }],
        annotationPrefixes: [],
    },
    {
        kind: "object",
        apiVersion: "cert-manager.io/v1",
        objectKind: "Issuer",
        namespace: "jenkins",
        name: "registry-ca",
        neededBy: ["Ingress jenkins/registry (annotation cert-manager.io/issuer)"],
    },
];

/** An IngressClass of `controller`, marked default or not. */
function ingressClass(name: string, controller: string, isDefault: boolean) {
    return {
        apiVersion: "networking.k8s.io/v1",
        kind: "IngressClass",
        metadata: { name, ...(isDefault ? { annotations: { "ingressclass.kubernetes.io/is-default-class": "true" } } : {}) },
        spec: { controller },
    };
}
const INGRESS_CLASSES = "/apis/networking.k8s.io/v1/ingressclasses";

/** A CRD with the least a real API server accepts: one served, stored version, any fields. */
function crd(group: string, kind: string, plural: string, scope: "Namespaced" | "Cluster") {
    return {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: `${plural}.${group}` },
        spec: {
            group,
            scope,
            names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
            versions: [
                {
                    name: "v1",
                    served: true,
                    storage: true,
                    schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
                },
            ],
        },
    };
}

let kube: ControlPlane;
const originalPath = process.env.PATH;
const originalKubeconfig = process.env.KUBECONFIG;

beforeAll(() => {
    kube = startControlPlane();
    // kubectl as a user has it: on PATH, reading KUBECONFIG.
    process.env.PATH = `${engineSet()}/bin:${originalPath}`;
    process.env.KUBECONFIG = kube.kubeconfig;
}, 10 * 60_000);

afterAll(() => {
    process.env.PATH = originalPath;
    if (originalKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = originalKubeconfig;
    kube?.stop();
});

const kinds = (missing: readonly Prerequisite[]) => missing.map((p) => (p.kind === "object" ? `${p.objectKind} ${p.name}` : p.kind));

describe("the cluster check against a real API server", () => {
    it("finds every kind of prerequisite missing on a bare control plane", async () => {
        const result = await checkPrerequisites(ALL, {});
        expect(result.unchecked).toEqual([]);
        expect(kinds(result.missing)).toEqual([
            "namespace",
            "api",
            "default-storage-class",
            "storage-class",
            "default-ingress-class",
            "ConfigMap coredns",
            "Issuer registry-ca",
        ]);
    }, 120_000);

    it("finds each once it exists, the API only when it serves the kinds asked for", async () => {
        await kube.create("/api/v1/namespaces", namespace("jenkins"));
        // The group served, but not the kind the stack creates: still missing.
        await kube.create(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd("monitoring.coreos.com", "ServiceMonitor", "servicemonitors", "Namespaced"),
        );
        await kube.create("/apis/storage.k8s.io/v1/storageclasses", {
            apiVersion: "storage.k8s.io/v1",
            kind: "StorageClass",
            metadata: { name: "fast-ssd" },
            provisioner: "kubernetes.io/no-provisioner",
        });
        await kube.create("/api/v1/namespaces/kube-system/configmaps", {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "coredns", namespace: "kube-system" },
            data: { Corefile: ".:53 {}" },
        });
        await waitFor(async () => (await checkPrerequisites(ALL, {})).missing.length === 4);
        expect(kinds((await checkPrerequisites(ALL, {})).missing)).toEqual([
            "api",
            "default-storage-class",
            "default-ingress-class",
            "Issuer registry-ca",
        ]);

        await kube.create(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd("monitoring.coreos.com", "PodMonitor", "podmonitors", "Namespaced"),
        );
        await kube.create("/apis/storage.k8s.io/v1/storageclasses", {
            apiVersion: "storage.k8s.io/v1",
            kind: "StorageClass",
            metadata: { name: "standard", annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
            provisioner: "kubernetes.io/no-provisioner",
        });
        await kube.create(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            crd("cert-manager.io", "Issuer", "issuers", "Namespaced"),
        );
        await kube.create(INGRESS_CLASSES, ingressClass("traefik", "traefik.io/ingress-controller", true));
        await waitFor(async () => (await checkPrerequisites(ALL, {})).missing.length === 1);
        // cert-manager's API now exists; its Issuer does not yet.
        expect(kinds((await checkPrerequisites(ALL, {})).missing)).toEqual(["Issuer registry-ca"]);
        await kube.create("/apis/cert-manager.io/v1/namespaces/jenkins/issuers", {
            apiVersion: "cert-manager.io/v1",
            kind: "Issuer",
            metadata: { name: "registry-ca", namespace: "jenkins" },
            spec: { selfSigned: {} },
        });
        expect(await checkPrerequisites(ALL, {})).toEqual({ missing: [], unchecked: [], notes: [] });
    }, 180_000);

    it("finds the one default IngressClass, which the API server gives an Ingress made without a class; none or several stop, listed", async () => {
        const need = (ingress: string, annotationPrefixes: string[] = []): Prerequisite[] => [
            {
                kind: "default-ingress-class",
                neededBy: [`Ingress jenkins/${ingress}`],
                ingresses: [{ namespace: "jenkins", name: ingress }],
                annotationPrefixes,
            },
        ];
        // One default (the previous test's "traefik"): found; ingress-nginx's annotations on the Ingress are told, not refused.
        const one = await checkPrerequisites(need("still-to-make", ["nginx.ingress.kubernetes.io/"]), {});
        expect(one.missing).toEqual([]);
        expect(one.notes).toEqual([
            expect.stringMatching(/default IngressClass traefik, served by Traefik .*inCluster.ingressController "traefik"/),
        ]);

        // What the program relies on: an Ingress created without a class gets the default from the API server.
        await kube.create("/apis/networking.k8s.io/v1/namespaces/jenkins/ingresses", {
            apiVersion: "networking.k8s.io/v1",
            kind: "Ingress",
            metadata: { name: "made-before", namespace: "jenkins" },
            spec: { defaultBackend: { service: { name: "registry", port: { number: 80 } } } },
        });
        const made = await kube.get<{ spec: { ingressClassName?: string } }>(
            "/apis/networking.k8s.io/v1/namespaces/jenkins/ingresses/made-before",
        );
        expect(made?.spec.ingressClassName).toBe("traefik");

        // Two defaults: the API server cannot pick one; the message lists both and the command that names one.
        await kube.create(INGRESS_CLASSES, ingressClass("nginx", "k8s.io/ingress-nginx", true));
        const several = await checkPrerequisites(need("still-to-make"), {});
        expect(kinds(several.missing)).toEqual(["default-ingress-class"]);
        const message = missingPrerequisitesMessage(several.missing, { stack: "local" });
        expect(message).toContain("2 of the cluster's IngressClasses are marked default (nginx, traefik)");
        expect(message).toContain("npx pulumi config set --path 'dso-registry:inCluster.ingressClass' <name> -s local");

        // None marked: the one class left is named in the command. An Ingress that exists keeps its class and needs none.
        await kube.remove(`${INGRESS_CLASSES}/traefik`);
        await kube.remove(`${INGRESS_CLASSES}/nginx`);
        await kube.waitGone(`${INGRESS_CLASSES}/nginx`);
        await kube.create(INGRESS_CLASSES, ingressClass("nginx", "k8s.io/ingress-nginx", false));
        await waitFor(async () => (await checkPrerequisites(need("still-to-make"), {})).missing.length === 1);
        const none = await checkPrerequisites(need("still-to-make"), {});
        expect(missingPrerequisitesMessage(none.missing, { stack: "local" })).toContain(
            "nginx (k8s.io/ingress-nginx). Name the class: npx pulumi config set --path 'dso-registry:inCluster.ingressClass' nginx -s local",
        );
        expect(await checkPrerequisites(need("made-before"), {})).toEqual({ missing: [], unchecked: [], notes: [] });
    }, 180_000);

    it("asks no class for a claim that exists already (it keeps the class it was made with)", async () => {
        await kube.create("/api/v1/namespaces/jenkins/persistentvolumeclaims", {
            apiVersion: "v1",
            kind: "PersistentVolumeClaim",
            metadata: { name: "made-before", namespace: "jenkins" },
            spec: { accessModes: ["ReadWriteOnce"], storageClassName: "gone", resources: { requests: { storage: "1Gi" } } },
        });
        const need = (claim: string): Prerequisite[] => [
            {
                kind: "storage-class",
                name: "gone",
                neededBy: [`PersistentVolumeClaim jenkins/${claim}`],
                claims: [{ namespace: "jenkins", name: claim }],
            },
        ];
        expect((await checkPrerequisites(need("made-before"), {})).missing).toEqual([]);
        expect(kinds((await checkPrerequisites(need("still-to-make"), {})).missing)).toEqual(["storage-class"]);
    }, 120_000);

    it("keeps the class the API server gave an Ingress through applies that name none, and drops one an apply named before", async () => {
        // Why an Ingress that names no class ignores changes of it (components/inCluster/objectPlan.ts): the
        // Kubernetes provider applies server-side, and a field its manager sent once and no longer sends is removed.
        await kube.create(INGRESS_CLASSES, ingressClass("edge", "traefik.io/ingress-controller", true));
        const apply = (name: string, note: string, ingressClassName?: string) => {
            const object = {
                apiVersion: "networking.k8s.io/v1",
                kind: "Ingress",
                metadata: { name, namespace: "jenkins", annotations: { note } },
                spec: {
                    ...(ingressClassName ? { ingressClassName } : {}),
                    defaultBackend: { service: { name: "registry", port: { number: 80 } } },
                },
            };
            const r = spawnSync("kubectl", ["apply", "--server-side", "--field-manager=dso-registry-test", "-f", "-"], {
                input: JSON.stringify(object),
                encoding: "utf8",
            });
            expect(r.status, r.stderr).toBe(0);
        };
        const classOf = async (name: string) =>
            (await kube.get<{ spec: { ingressClassName?: string } }>(`/apis/networking.k8s.io/v1/namespaces/jenkins/ingresses/${name}`))
                ?.spec.ingressClassName;
        apply("defaulted", "one");
        expect(await classOf("defaulted")).toBe("edge");
        apply("defaulted", "two");
        expect(await classOf("defaulted")).toBe("edge");
        // A class the stack named (an earlier release's default), then an apply without it: no class at all, and
        // the API server gives the default only to an Ingress it creates.
        apply("named", "one", "nginx");
        apply("named", "two");
        expect(await classOf("named")).toBeUndefined();
    }, 120_000);

    it("reads a kubeconfig given as text (kubernetes:kubeconfig) and its context (kubernetes:context)", async () => {
        const config = parse(readFileSync(kube.kubeconfig, "utf8"));
        // The same cluster under a context of another name, the current one pointing nowhere.
        config.contexts.push({ name: "the-cluster", context: config.contexts[0].context });
        config.clusters.push({ name: "nowhere", cluster: { server: "https://127.0.0.1:1" } });
        config.contexts.push({ name: "nowhere", context: { cluster: "nowhere", user: config.users[0].name } });
        config["current-context"] = "nowhere";
        const text = stringify(config);
        delete process.env.KUBECONFIG;
        try {
            const ns: Prerequisite[] = [{ kind: "namespace", name: "not-there", neededBy: ["x"] }];
            expect(kinds((await checkPrerequisites(ns, { kubeconfig: text, context: "the-cluster" })).missing)).toEqual(["namespace"]);
            // Unreachable: nothing is decided, and the reason is given.
            const unreachable = await checkPrerequisites(ns, { kubeconfig: text });
            expect(unreachable.missing).toEqual([]);
            expect(unreachable.unchecked).toEqual([expect.stringMatching(/127\.0\.0\.1:1|connection refused|Unable to connect/i)]);
        } finally {
            process.env.KUBECONFIG = kube.kubeconfig;
        }
    }, 120_000);
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await condition())) {
        if (Date.now() > deadline) throw new Error(`not reached in ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 500));
    }
}
