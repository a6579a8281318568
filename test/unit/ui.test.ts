/**
 * The web UI with registry.mode "kind": the config accepts it, the objects it renders in the cluster
 * (the UI's own Deployment and Service, one host serving /registry/ from the UI and /v2/ from the
 * front on the Docker host through an ExternalName Service), and the front accepting that host while
 * its realm on that host being that host, from configuration (real Caddy: test/integration/kindUi.front.test.ts).
 * What KindRegistry registers of it in the committed kind stack: kindRegistry.ui.test.ts.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { ConfigError, parseConfig } from "../../components/config";
import { kindFrontPolicy, renderKindCaddyfile } from "../../components/kind/front";
import { type KindUiSpec, renderKindUiObjects } from "../../components/kind/ui";
import type { K8sObject } from "../../components/shared/k8sObject";
import { configProblems } from "../support/configProblems";
import { podTemplates, restrictedPodProblems, schemaProblems } from "../support/k8sValidate";
import { PROJECT_DIR } from "../support/synthCli";

const kindStack = (): Record<string, any> => ({
    containerRegistry: { host: "localhost", port: 5002, pathPrefix: "dev" },
    registry: { mode: "kind", ui: { enabled: true } },
});

const problemsOf = (raw: Record<string, unknown>): string[] => configProblems(raw, {});

const spec: KindUiSpec = {
    namespace: "dso-registry-ui",
    host: "localhost",
    uiPort: 8080,
    ingressClass: "nginx",
    image: "joxit/docker-registry-ui:2.5.7",
    deleteEnabled: true,
    registryName: "kind-registry",
    port: 5002,
};

const find = (objects: K8sObject[], kind: string, name: string): Record<string, any> => {
    const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!object) throw new Error(`no ${kind} ${name}`);
    return object as Record<string, any>;
};

describe("registry.mode kind with registry.ui.enabled", () => {
    it("is accepted, with the defaults of kind.ui", () => {
        let problems: string[] = [];
        try {
            const { config } = parseConfig(kindStack());
            if (config.registry.mode !== "kind") throw new Error("not kind");
            expect(config.registry.kind.ui).toEqual({ host: "localhost", port: 8080, namespace: "dso-registry-ui", ingressClass: "nginx" });
        } catch (error) {
            if (!(error instanceof ConfigError)) throw error;
            problems = error.problems.map((p) => `${p.key}: ${p.message}`);
        }
        expect(problems).toEqual([]);
    });

    it("renders objects the API schemas accept, the UI's pod at the restricted level", async () => {
        const objects = renderKindUiObjects(spec);
        expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
            "Namespace/dso-registry-ui",
            "Deployment/registry-ui",
            "Service/registry-ui",
            "Ingress/registry-ui",
            "Service/registry-api",
            "Ingress/registry-api",
        ]);
        for (const object of objects) expect(await schemaProblems(object as Record<string, unknown>)).toEqual([]);
        for (const pod of podTemplates(objects)) expect(restrictedPodProblems(pod)).toEqual([]);
        for (const object of objects.slice(1)) expect(object.metadata.namespace).toBe("dso-registry-ui");
    });

    it("refuses the UI on the registry's own port", () => {
        expect(
            problemsOf({ ...kindStack(), kind: { ui: { port: 5002 } } }).find((p) => p.startsWith("dso-registry:kind.ui.port:")),
        ).toMatch(/choose another/);
        expect(problemsOf({ ...kindStack(), kind: { ui: { port: 8080 } } })).toEqual([]);
    });

    it("gives the UI the browser's origin over plain HTTP, independent of the registry's containers", () => {
        const deployment = find(renderKindUiObjects(spec), "Deployment", "registry-ui");
        const container = deployment.spec.template.spec.containers[0];
        expect(deployment.spec.template.spec.containers).toHaveLength(1);
        expect(container.image).toBe("joxit/docker-registry-ui:2.5.7");
        const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
        expect(env).toMatchObject({
            REGISTRY_URL: "http://localhost:8080",
            REGISTRY_TITLE: "localhost:8080",
            SINGLE_REGISTRY: "true",
            DELETE_IMAGES: "true",
            CATALOG_ELEMENTS_LIMIT: "1000",
        });
    });

    it("serves /registry/ from the UI with the prefix cut, and /v2/ from the front, on one host without TLS", () => {
        const objects = renderKindUiObjects(spec);
        const ui = find(objects, "Ingress", "registry-ui");
        const api = find(objects, "Ingress", "registry-api");
        for (const ingress of [ui, api]) {
            expect(ingress.spec.ingressClassName).toBe("nginx");
            expect(ingress.spec.tls).toBeUndefined();
            // The Ingress matches the host name alone; the port is the Docker host's mapping.
            expect(ingress.spec.rules.map((r: { host: string }) => r.host)).toEqual(["localhost"]);
        }
        expect(ui.spec.rules[0].http.paths).toEqual([
            {
                path: "/registry(/|$)(.*)",
                pathType: "ImplementationSpecific",
                backend: { service: { name: "registry-ui", port: { name: "http" } } },
            },
        ]);
        expect(ui.metadata.annotations["nginx.ingress.kubernetes.io/rewrite-target"]).toBe("/$2");
        expect(api.spec.rules[0].http.paths).toEqual([
            { path: "/v2/", pathType: "Prefix", backend: { service: { name: "registry-api", port: { number: 5002 } } } },
        ]);
        // The API's Ingress rewrites nothing: the rewrite of the UI's would apply to every path of its Ingress.
        expect(api.metadata.annotations["nginx.ingress.kubernetes.io/rewrite-target"]).toBeUndefined();
        expect(api.metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"]).toBe("0");
    });

    it("reaches the front through an ExternalName Service naming its container on the kind network", () => {
        const service = find(renderKindUiObjects({ ...spec, registryName: "my-registry", port: 5010 }), "Service", "registry-api");
        expect(service.spec).toEqual({
            type: "ExternalName",
            externalName: "my-registry",
            ports: [{ name: "http", port: 5010, targetPort: 5010, protocol: "TCP" }],
        });
    });

    it("keeps the port out of the origin on HTTP's own port 80", () => {
        const deployment = find(renderKindUiObjects({ ...spec, host: "registry.localhost", uiPort: 80 }), "Deployment", "registry-ui");
        const env = Object.fromEntries(
            deployment.spec.template.spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
        );
        expect(env.REGISTRY_URL).toBe("http://registry.localhost");
    });

    const front = {
        registryName: "kind-registry",
        port: 5002,
        distributionName: "d",
        requiresAuthForPull: false,
        deletesEnabled: true,
    };
    const realmMap = (...entries: string[]) =>
        [
            "\tmap {http.request.hostport} {dso_realm_authority} {",
            ...entries.map((e) => `\t\t${e}`),
            "\t\tdefault localhost:5002",
            "\t}",
        ].join("\n");

    it("gives pods that use the front's name on the kind network the realm under that name", () => {
        expect(kindFrontPolicy(front).siteAliases).toEqual(["127.0.0.1", "kind-registry"]);
        const caddyfile = renderKindCaddyfile(front);
        expect(caddyfile).toContain(realmMap("kind-registry:5002 kind-registry:5002"));
        expect(caddyfile).toContain('realm="{dso_client_scheme}://{dso_realm_authority}/v2/token"');
    });

    it.each([
        [
            "localhost, on a port of its own",
            { host: "localhost", port: 8080 },
            ["127.0.0.1", "kind-registry"],
            "localhost:8080 localhost:8080",
        ],
        [
            "another name",
            { host: "registry.localhost", port: 8080 },
            ["127.0.0.1", "kind-registry", "registry.localhost"],
            "registry.localhost:8080 registry.localhost:8080",
        ],
        [
            "another name on port 80",
            { host: "registry.localhost", port: 80 },
            ["127.0.0.1", "kind-registry", "registry.localhost"],
            "registry.localhost registry.localhost",
        ],
    ])("chooses the UI's realm by the authority the browser used: %s", (_name, ui, aliases, entry) => {
        const withUi = { ...front, ui };
        expect(kindFrontPolicy(withUi).siteAliases).toEqual(aliases);
        const caddyfile = renderKindCaddyfile(withUi);
        expect(caddyfile).toContain(realmMap("kind-registry:5002 kind-registry:5002", entry));
        // The Host header chooses among configured authorities; it is never the realm itself.
        expect(caddyfile).not.toMatch(/realm="[^"]*\{(http\.request\.)?host/);
    });
});

describe("docs/examples/kind-cluster.yaml, the cluster docs/kind.md and the README create", () => {
    const docs = ["docs/kind.md", "README.md"].map((file) => readFileSync(path.join(PROJECT_DIR, file), "utf8"));
    const clusterConfig = YAML.parse(readFileSync(path.join(PROJECT_DIR, "docs/examples/kind-cluster.yaml"), "utf8"));

    it("maps kind.ui.port's default on the machine to port 80 of the ingress-ready control-plane node", () => {
        const { config } = parseConfig(kindStack());
        if (config.registry.mode !== "kind") throw new Error("not kind");
        const [node] = clusterConfig.nodes;
        expect(node.role).toBe("control-plane");
        expect(node.kubeadmConfigPatches.join("\n")).toContain('node-labels: "ingress-ready=true"');
        expect(node.extraPortMappings).toContainEqual({
            containerPort: 80,
            hostPort: config.registry.kind.ui.port,
            listenAddress: "127.0.0.1",
            protocol: "TCP",
        });
    });

    it.each(["docs/kind.md", "README.md"])(
        "%s creates every cluster with that config and installs ingress-nginx's kind manifest",
        (file) => {
            const doc = docs[file === "README.md" ? 1 : 0]!;
            const creates = doc.match(/^kind create cluster .*$/gm) ?? [];
            expect(creates.length).toBeGreaterThan(0);
            for (const line of creates) expect(line).toContain("--config docs/examples/kind-cluster.yaml");
            expect(doc).toContain("kubectl apply -f https://kind.sigs.k8s.io/examples/ingress/deploy-ingress-nginx.yaml");
        },
    );
});
