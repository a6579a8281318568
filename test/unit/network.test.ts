/**
 * How clients reach the in-cluster registry (components/inCluster/network.ts): the Ingress, its TLS and
 * each controller's annotations, the allowlist, the token endpoint's login limit, and the KEP-1755
 * ConfigMap. Rendered without Pulumi. The program's own cert-manager chain: issuerChain.test.ts.
 */
import { describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { baseSpec, find, get } from "../support/inClusterSpec";
import { schemaProblems } from "../support/k8sValidate";

describe("ingress", () => {
    test("serves the host on the configured class, through the registry Service", () => {
        const ing = get(renderInClusterObjects(baseSpec()), "Ingress", "registry");
        expect(ing.spec.ingressClassName).toBe("public");
        expect(ing.spec.rules[0].host).toBe("registry-dso.jmann.local");
        expect(ing.spec.rules[0].http.paths[0].backend).toEqual({ service: { name: "registry", port: { name: "http" } } });
        expect(ing.spec.tls).toEqual([{ hosts: ["registry-dso.jmann.local"], secretName: "registry-tls" }]);
    });

    test("without a class names none, so the API server gives it the cluster's default, and keeps the streaming settings", async () => {
        const objects = renderInClusterObjects(
            baseSpec({ ingressClass: undefined, ingressController: undefined, ui: { enabled: true, deleteEnabled: false } }),
        );
        for (const name of ["registry", "registry-ui"]) {
            const ing = get(objects, "Ingress", name);
            expect(ing.spec, name).not.toHaveProperty("ingressClassName");
            expect(await schemaProblems(ing), name).toEqual([]);
        }
        expect(get(objects, "Ingress", "registry").metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"]).toBe("0");
    });

    test.each([
        ["nginx.ingress.kubernetes.io/proxy-body-size", "0"],
        ["nginx.ingress.kubernetes.io/proxy-request-buffering", "off"],
        ["nginx.ingress.kubernetes.io/proxy-buffering", "off"],
        ["nginx.ingress.kubernetes.io/proxy-read-timeout", "900"],
        ["nginx.ingress.kubernetes.io/proxy-send-timeout", "900"],
    ])("lets multi-GB layers through: %s = %s", (key, value) => {
        expect(get(renderInClusterObjects(baseSpec()), "Ingress", "registry").metadata.annotations[key]).toBe(value);
    });

    test.each([
        ["ClusterIssuer", "cert-manager.io/cluster-issuer"],
        ["Issuer", "cert-manager.io/issuer"],
    ] as const)("cert-manager %s: annotation %s, and no TLS Secret of ours", (issuerKind, annotation) => {
        const objects = renderInClusterObjects(baseSpec({ tls: { kind: "cert-manager", issuerKind, issuerName: "lab-ca" } }));
        expect(get(objects, "Ingress", "registry").metadata.annotations[annotation]).toBe("lab-ca");
        // ingress-shim's Certificate makes a new key at each issuance: a key left in registry-tls by a move from
        // the program's own certificate would otherwise block it (cert-manager's CannotRegenerateKey).
        expect(get(objects, "Ingress", "registry").metadata.annotations["cert-manager.io/private-key-rotation-policy"]).toBe("Always");
        expect(find(objects, "Secret", "registry-tls")).toBeUndefined();
    });

    test("ingress-nginx enforces the allowed networks with its annotation (the sidecar only sees the controller)", () => {
        const objects = renderInClusterObjects(baseSpec({ allowedNetworks: ["10.0.0.0/8", "192.168.1.0/24"] }));
        const ing = get(objects, "Ingress", "registry");
        expect(ing.metadata.annotations["nginx.ingress.kubernetes.io/whitelist-source-range"]).toBe("10.0.0.0/8,192.168.1.0/24");
        expect(objects.filter((o) => o.kind === "Middleware")).toEqual([]);
    });

    test("Traefik enforces them with an ipAllowList Middleware that the Ingress's router uses", () => {
        const objects = renderInClusterObjects(
            baseSpec({ ingressClass: "traefik", ingressController: "traefik", allowedNetworks: ["10.0.0.0/8", "fd00::/8"] }),
        );
        const middleware = get(objects, "Middleware", "registry-allowlist");
        expect(middleware).toMatchObject({
            apiVersion: "traefik.io/v1alpha1",
            metadata: { name: "registry-allowlist", namespace: "dso" },
            spec: { ipAllowList: { sourceRange: ["10.0.0.0/8", "fd00::/8"] } },
        });
        const annotations = get(objects, "Ingress", "registry").metadata.annotations;
        expect(annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe("dso-registry-allowlist@kubernetescrd");
        expect(Object.keys(annotations).filter((k) => k.startsWith("nginx."))).toEqual([]);
    });

    test("the Middleware comes before the Ingress that names it", () => {
        const kinds = renderInClusterObjects(baseSpec({ ingressController: "traefik", allowedNetworks: ["10.0.0.0/8"] })).map(
            (o) => o.kind,
        );
        expect(kinds.indexOf("Middleware")).toBeGreaterThanOrEqual(0);
        expect(kinds.indexOf("Middleware")).toBeLessThan(kinds.indexOf("Ingress"));
    });

    test.each(["nginx", "traefik"] as const)("%s: nothing about an allowlist when every network is allowed", (ingressController) => {
        const objects = renderInClusterObjects(baseSpec({ ingressController }));
        const annotations = get(objects, "Ingress", "registry").metadata.annotations ?? {};
        expect(Object.keys(annotations).filter((k) => /whitelist|middlewares/.test(k))).toEqual([]);
        expect(objects.filter((o) => o.kind === "Middleware")).toEqual([]);
    });

    test("Traefik's Ingress is a valid networking.k8s.io/v1 Ingress", async () => {
        const objects = renderInClusterObjects(baseSpec({ ingressController: "traefik", allowedNetworks: ["10.0.0.0/8"] }));
        expect(await schemaProblems(get(objects, "Ingress", "registry"))).toEqual([]);
    });

    test("an allowlist behind a controller the program does not know is a fault, not a silent gap", () => {
        expect(() => renderInClusterObjects(baseSpec({ ingressController: undefined, allowedNetworks: ["10.0.0.0/8"] }))).toThrow(
            /allowlist needs a known ingress controller/,
        );
    });
});

describe("KEP-1755 local-registry-hosting", () => {
    test("published in kube-public with the host for clients and for the cluster network", () => {
        const cm = get(renderInClusterObjects(baseSpec()), "ConfigMap", "local-registry-hosting");
        expect(cm.metadata.namespace).toBe("kube-public");
        expect(YAML.parse(cm.data["localRegistryHosting.v1"])).toEqual({
            host: "registry-dso.jmann.local",
            hostFromContainerRuntime: "registry-dso.jmann.local",
            hostFromClusterNetwork: "registry.dso.svc:5000",
        });
    });

    test("names the port clients write when the ingress is published on another (containerRegistry.port)", () => {
        const cm = get(renderInClusterObjects(baseSpec({ port: 8443 })), "ConfigMap", "local-registry-hosting");
        expect(YAML.parse(cm.data["localRegistryHosting.v1"])).toMatchObject({
            host: "registry-dso.jmann.local:8443",
            hostFromContainerRuntime: "registry-dso.jmann.local:8443",
        });
    });

    test("not published when turned off", () => {
        expect(
            find(renderInClusterObjects(baseSpec({ publishLocalRegistryHosting: false })), "ConfigMap", "local-registry-hosting"),
        ).toBeUndefined();
    });
});

describe("the token endpoint's login limit at the ingress", () => {
    const loginLimit = { tokenRequestsPerMinute: 30, credentialRequestsPerMinute: 90, ignoreNetworks: ["10.1.0.0/16"] };

    test("ingress-nginx: the token's own Ingress carries the limit annotations, and no Middleware is written", () => {
        const objects = renderInClusterObjects(baseSpec({ ingressController: "nginx", loginLimit }));
        const login = get(objects, "Ingress", IN_CLUSTER.loginIngress);
        expect(login.metadata.annotations["nginx.ingress.kubernetes.io/limit-rpm"]).toBe("30");
        expect(login.metadata.annotations["nginx.ingress.kubernetes.io/limit-whitelist"]).toBe("10.1.0.0/16");
        expect(find(objects, "Middleware", IN_CLUSTER.loginLimitMiddleware)).toBeUndefined();
    });

    test("with an issuer of yours, only the main Ingress asks cert-manager for the certificate: the token's Ingress has none of its annotations", () => {
        const tls = { kind: "cert-manager" as const, issuerKind: "ClusterIssuer" as const, issuerName: "lab-ca" };
        const objects = renderInClusterObjects(baseSpec({ ingressController: "nginx", loginLimit, tls }));
        expect(get(objects, "Ingress", "registry").metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("lab-ca");
        const login = get(objects, "Ingress", IN_CLUSTER.loginIngress);
        expect(Object.keys(login.metadata.annotations).filter((k) => k.startsWith("cert-manager.io/"))).toEqual([]);
    });

    test("Traefik: a rateLimit Middleware, named on the token's Exact-path Ingress after the allowlist's", () => {
        const objects = renderInClusterObjects(
            baseSpec({ ingressClass: "traefik", ingressController: "traefik", allowedNetworks: ["10.0.0.0/8"], loginLimit }),
        );
        expect(get(objects, "Middleware", IN_CLUSTER.loginLimitMiddleware).spec).toEqual({
            rateLimit: { average: 30, period: "1m", burst: 30 },
        });
        const login = get(objects, "Ingress", IN_CLUSTER.loginIngress);
        expect(login.metadata.annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(
            `dso-${IN_CLUSTER.allowlistMiddleware}@kubernetescrd,dso-${IN_CLUSTER.loginLimitMiddleware}@kubernetescrd`,
        );
        expect(Object.keys(login.metadata.annotations).filter((k) => k.startsWith("nginx."))).toEqual([]);
        expect(login.spec.rules[0].http.paths.map((p: { path: string; pathType: string }) => [p.path, p.pathType])).toEqual([
            ["/v2/token", "Exact"],
        ]);
        // The registry's own Ingress does not go through the limit.
        expect(get(objects, "Ingress", "registry").metadata.annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(
            `dso-${IN_CLUSTER.allowlistMiddleware}@kubernetescrd`,
        );
        const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`);
        expect(kinds.indexOf(`Middleware/${IN_CLUSTER.loginLimitMiddleware}`)).toBeLessThan(
            kinds.indexOf(`Ingress/${IN_CLUSTER.loginIngress}`),
        );
    });

    test("Traefik without an allowlist: the token's Ingress names the rate limit alone", () => {
        const objects = renderInClusterObjects(baseSpec({ ingressClass: "traefik", ingressController: "traefik", loginLimit }));
        expect(
            get(objects, "Ingress", IN_CLUSTER.loginIngress).metadata.annotations["traefik.ingress.kubernetes.io/router.middlewares"],
        ).toBe(`dso-${IN_CLUSTER.loginLimitMiddleware}@kubernetescrd`);
    });

    test("an unknown controller gets neither the Ingress nor the Middleware", () => {
        const objects = renderInClusterObjects(baseSpec({ ingressClass: "haproxy", ingressController: undefined, loginLimit }));
        expect(find(objects, "Ingress", IN_CLUSTER.loginIngress)).toBeUndefined();
        expect(find(objects, "Middleware", IN_CLUSTER.loginLimitMiddleware)).toBeUndefined();
        expect(find(objects, "IngressRoute", IN_CLUSTER.credentialsRoute)).toBeUndefined();
    });

    test("ingress-nginx: the ping's two paths are on the token's Ingress (one zone), and no IngressRoute is written", () => {
        const objects = renderInClusterObjects(baseSpec({ ingressController: "nginx", loginLimit }));
        const login = get(objects, "Ingress", IN_CLUSTER.loginIngress);
        expect(login.spec.rules[0].http.paths.map((p: { path: string; pathType: string }) => [p.path, p.pathType])).toEqual([
            ["/v2/token", "Exact"],
            ["/v2", "Exact"],
            ["/v2/", "Exact"],
        ]);
        expect(find(objects, "IngressRoute", IN_CLUSTER.credentialsRoute)).toBeUndefined();
        expect(find(objects, "Middleware", IN_CLUSTER.credentialsLimitMiddleware)).toBeUndefined();
    });

    test("Traefik: every other request with credentials goes through an IngressRoute with the allowlist and its own rate limit", () => {
        const objects = renderInClusterObjects(
            baseSpec({ ingressClass: "traefik", ingressController: "traefik", allowedNetworks: ["10.0.0.0/8"], loginLimit }),
        );
        expect(get(objects, "Middleware", IN_CLUSTER.credentialsLimitMiddleware).spec).toEqual({
            rateLimit: { average: 90, period: "1m", burst: 90 },
        });
        const route = get(objects, "IngressRoute", IN_CLUSTER.credentialsRoute);
        expect(route.apiVersion).toBe("traefik.io/v1alpha1");
        expect(route.spec.routes).toEqual([
            {
                kind: "Rule",
                match: [
                    "Host(`registry-dso.jmann.local`)",
                    "HeaderRegexp(`Authorization`, `.`)",
                    "!Header(`Authorization`, `Bearer anonymous-read-only`)",
                    "!Path(`/v2/token`)",
                ].join(" && "),
                middlewares: [{ name: IN_CLUSTER.allowlistMiddleware }, { name: IN_CLUSTER.credentialsLimitMiddleware }],
                services: [{ name: IN_CLUSTER.name, port: "http" }],
            },
        ]);
        // Served as the Ingresses are: Traefik's default entry points, their TLS.
        expect(route.spec.entryPoints).toBeUndefined();
        expect(route.spec.tls).toBeUndefined();
        const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`);
        expect(kinds.indexOf(`Middleware/${IN_CLUSTER.credentialsLimitMiddleware}`)).toBeLessThan(
            kinds.indexOf(`IngressRoute/${IN_CLUSTER.credentialsRoute}`),
        );
    });

    test.each([
        ["off", false, "!Path(`/v2/token`)"],
        ["on", true, "!Path(`/v2/token`) && !Path(`/registry`) && !PathPrefix(`/registry/`)"],
    ])("Traefik with the web UI %s: the credentials' rule leaves out exactly the paths another Ingress serves", (_label, enabled, tail) => {
        const objects = renderInClusterObjects(
            baseSpec({ ingressClass: "traefik", ingressController: "traefik", loginLimit, ui: { enabled, deleteEnabled: false } }),
        );
        const [route] = get(objects, "IngressRoute", IN_CLUSTER.credentialsRoute).spec.routes;
        expect(route.match.endsWith(`\`Bearer anonymous-read-only\`) && ${tail}`), route.match).toBe(true);
        expect(route.middlewares).toEqual([{ name: IN_CLUSTER.credentialsLimitMiddleware }]);
    });
});
