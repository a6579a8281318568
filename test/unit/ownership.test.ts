/**
 * Which declared objects the ownership check asks about, what counts as this project's, and the refusal's
 * text (components/cluster/ownership.ts). The check against a real API server and the real engine:
 * test/engine/existing.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
    declaredObjectsOf,
    foreignAmong,
    foreignObjectsMessage,
    itemsOf,
    kubectlResource,
    madeByProject,
} from "../../components/cluster/ownership";

describe("ownership check", () => {
    it("asks about named objects the stack makes outright, not patches of someone else's, each once", () => {
        const declared = declaredObjectsOf([
            { type: "kubernetes:core/v1:ConfigMap", props: { metadata: { name: "a", namespace: "dso" } } },
            { type: "kubernetes:core/v1:ConfigMap", props: { metadata: { name: "a", namespace: "dso" } } },
            { type: "kubernetes:core/v1:ConfigMapPatch", props: { metadata: { name: "coredns", namespace: "kube-system" } } },
            { type: "kubernetes:core/v1:Namespace", props: { metadata: { name: "dso" } } },
            { type: "kubernetes:apps/v1:Deployment", props: { metadata: { namespace: "dso" } } },
            {
                type: "kubernetes:traefik.io/v1alpha1:Middleware",
                props: { apiVersion: "traefik.io/v1alpha1", kind: "Middleware", metadata: { name: "login", namespace: "dso" } },
            },
            { type: "command:local:Command", props: { create: "true" } },
        ]);
        expect(declared).toEqual([
            { apiVersion: "v1", kind: "ConfigMap", namespace: "dso", name: "a" },
            { apiVersion: "v1", kind: "Namespace", name: "dso" },
            { apiVersion: "traefik.io/v1alpha1", kind: "Middleware", namespace: "dso", name: "login" },
        ]);
    });

    it("counts an object as the project's by its label, and nothing else", () => {
        expect(madeByProject({ "app.kubernetes.io/part-of": "dso-registry" })).toBe(true);
        expect(madeByProject({ "app.kubernetes.io/managed-by": "dso-registry" })).toBe(true);
        expect(madeByProject({ "app.kubernetes.io/managed-by": "pulumi" })).toBe(false);
        expect(madeByProject({ "app.kubernetes.io/part-of": "something-else" })).toBe(false);
        expect(madeByProject({})).toBe(false);
    });

    it("names kinds as kubectl does", () => {
        expect(kubectlResource("v1", "ConfigMap")).toBe("configmap");
        expect(kubectlResource("apps/v1", "Deployment")).toBe("deployment.v1.apps");
        expect(kubectlResource("gateway.networking.k8s.io/v1", "HTTPRoute")).toBe("httproute.v1.gateway.networking.k8s.io");
    });

    it("finds the foreign ones in a List or a single answer, with who wrote them", () => {
        const declared = [
            { apiVersion: "v1", kind: "ConfigMap", namespace: "kube-public", name: "local-registry-hosting" },
            { apiVersion: "v1", kind: "ConfigMap", namespace: "kube-public", name: "ours" },
        ];
        const list = JSON.stringify({
            kind: "List",
            items: [
                {
                    kind: "ConfigMap",
                    metadata: {
                        name: "local-registry-hosting",
                        creationTimestamp: "2026-11-01T10:00:00Z",
                        managedFields: [{ manager: "kubectl-client-side-apply" }, { manager: "kubectl-client-side-apply" }],
                    },
                },
                { kind: "ConfigMap", metadata: { name: "ours", labels: { "app.kubernetes.io/part-of": "dso-registry" } } },
            ],
        });
        expect(foreignAmong(declared, itemsOf(list))).toEqual([
            { ...declared[0], managers: ["kubectl-client-side-apply"], created: "2026-11-01T10:00:00Z" },
        ]);
        expect(foreignAmong(declared, itemsOf(JSON.stringify({ kind: "ConfigMap", metadata: { name: "ours" } })))).toEqual([
            { ...declared[1], managers: [] },
        ]);
        expect(itemsOf("")).toEqual([]);
    });

    it("says what each is, that nothing changed, and the command that hands it over", () => {
        const message = foreignObjectsMessage(
            [
                { apiVersion: "v1", kind: "ConfigMap", namespace: "kube-public", name: "local-registry-hosting", managers: ["kubectl"] },
                { apiVersion: "v1", kind: "Namespace", name: "dso", managers: [] },
            ],
            { stack: "kind" },
        );
        expect(message).toContain(
            "The cluster already holds 2 objects this stack would make, and this project did not make them; nothing was changed.",
        );
        expect(message).toContain(
            "- ConfigMap kube-public/local-registry-hosting (written by kubectl) has no label app.kubernetes.io/part-of=dso-registry.",
        );
        expect(message).toContain(
            "kubectl label configmap local-registry-hosting --namespace kube-public app.kubernetes.io/part-of=dso-registry",
        );
        expect(message).toContain("kubectl label namespace dso app.kubernetes.io/part-of=dso-registry");
        expect(message).toContain("pulumi up -s kind");
    });
});
