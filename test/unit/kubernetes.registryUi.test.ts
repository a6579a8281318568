/**
 * The web UI in the cluster (components/registryUi/kubernetes.ts): a Deployment of its own, never a
 * container of the registry's pod, served under /registry/ on the registry's host with each controller's
 * prefix handling and the allowlist. Rendered without Pulumi.
 * Covers: components/inCluster/network.ts (the UI's objects of the placement).
 */
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { UI_WORKLOAD } from "../../components/registryUi/kubernetes";
import { baseSpec, find, get } from "../support/inClusterSpec";

describe("web UI", () => {
    test("off: the pod runs Caddy and Distribution only, and no UI object exists", () => {
        const objects = renderInClusterObjects(baseSpec());
        const containers = get(objects, "Deployment", "registry").spec.template.spec.containers;
        expect(containers.map((c: any) => c.name)).toEqual(["caddy", "registry"]);
        expect(objects.filter((o) => o.metadata.name.startsWith(UI_WORKLOAD.name))).toEqual([]);
    });

    test.each([true, false])(
        "on with deleteEnabled %s: a Deployment of its own, never a container of the registry's pod",
        (deleteEnabled) => {
            const objects = renderInClusterObjects(baseSpec({ ui: { enabled: true, deleteEnabled } }));
            const registryPod = get(objects, "Deployment", "registry").spec.template;
            expect(registryPod.spec.containers.map((c: any) => c.name)).toEqual(["caddy", "registry"]);
            const ui = get(objects, "Deployment", UI_WORKLOAD.name).spec.template.spec.containers[0];
            expect(ui.image).toBe(baseSpec().images.ui);
            expect(ui.env).toContainEqual({ name: "DELETE_IMAGES", value: String(deleteEnabled) });
            expect(ui.env).toContainEqual({ name: "NGINX_LISTEN_PORT", value: String(UI_WORKLOAD.port) });
            // Served under /registry/: the API is at the origin, not under the page's path.
            expect(ui.env).toContainEqual({ name: "REGISTRY_URL", value: "https://registry-dso.jmann.local" });
            expect(get(objects, "Service", UI_WORKLOAD.name).spec.selector).toEqual(
                get(objects, "Deployment", UI_WORKLOAD.name).spec.selector.matchLabels,
            );
        },
    );

    test("the registry's pod and its config checksum do not change with the UI's settings", () => {
        const off = get(renderInClusterObjects(baseSpec()), "Deployment", "registry");
        for (const ui of [
            { enabled: true, deleteEnabled: true },
            { enabled: true, deleteEnabled: false },
        ]) {
            expect(get(renderInClusterObjects(baseSpec({ ui })), "Deployment", "registry")).toEqual(off);
        }
    });

    test.each(["nginx", "traefik", undefined] as const)(
        "ingress controller %s: the registry's host, /registry/ to the UI with the prefix cut off",
        (ingressController) => {
            const objects = renderInClusterObjects(baseSpec({ ingressController, ui: { enabled: true, deleteEnabled: true } }));
            const ingress = get(objects, "Ingress", UI_WORKLOAD.name);
            const registryIngress = get(objects, "Ingress", "registry");
            expect(ingress.spec.rules[0].host).toBe(registryIngress.spec.rules[0].host);
            expect(ingress.spec.tls).toEqual(registryIngress.spec.tls);
            expect(ingress.spec.ingressClassName).toBe(registryIngress.spec.ingressClassName);
            expect(ingress.spec.rules[0].http.paths[0].backend.service.name).toBe(UI_WORKLOAD.name);
            // The registry keeps every other path (/v2/, the Maven route).
            expect(registryIngress.spec.rules[0].http.paths.map((p: any) => p.path)).toEqual(["/"]);
            if (ingressController === "traefik") {
                expect(ingress.spec.rules[0].http.paths[0].path).toBe("/registry");
                expect(ingress.metadata.annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(
                    `dso-${UI_WORKLOAD.stripPrefixMiddleware}@kubernetescrd`,
                );
                expect(get(objects, "Middleware", UI_WORKLOAD.stripPrefixMiddleware).spec).toEqual({
                    stripPrefix: { prefixes: ["/registry"] },
                });
            } else {
                expect(ingress.spec.rules[0].http.paths[0]).toMatchObject({
                    path: "/registry(/|$)(.*)",
                    pathType: "ImplementationSpecific",
                });
                expect(ingress.metadata.annotations).toMatchObject({
                    "nginx.ingress.kubernetes.io/use-regex": "true",
                    "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
                });
                expect(find(objects, "Middleware", UI_WORKLOAD.stripPrefixMiddleware)).toBeUndefined();
            }
        },
    );

    test.each(["nginx", "traefik"] as const)("the allowlist holds on the UI's Ingress too (%s)", (ingressController) => {
        const objects = renderInClusterObjects(
            baseSpec({ ingressController, allowedNetworks: ["10.0.0.0/8"], ui: { enabled: true, deleteEnabled: true } }),
        );
        const annotations = get(objects, "Ingress", UI_WORKLOAD.name).metadata.annotations;
        if (ingressController === "nginx") expect(annotations["nginx.ingress.kubernetes.io/whitelist-source-range"]).toBe("10.0.0.0/8");
        else
            expect(annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(
                `dso-registry-allowlist@kubernetescrd,dso-${UI_WORKLOAD.stripPrefixMiddleware}@kubernetescrd`,
            );
    });
});
