/**
 * The web UI with registry.mode "kind": the config accepts it (and tells a stack that still sets the
 * earlier releases' kind.ui that it does nothing), the UI container's settings (the API on the front's own
 * origin, over plain HTTP), and the front serving /registry/ from that container while its realm stays the
 * one configured for the Docker host (real Caddy: test/integration/kindUi.front.test.ts). What KindRegistry
 * registers of it in the committed kind stack: kindRegistry.ui.test.ts.
 * Covers: components/kind/ui.ts.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import { parseConfig } from "../../components/config";
import { kindFrontPolicy, renderKindCaddyfile } from "../../components/kind/front";
import type { KindLayout } from "../../components/kind/scripts";
import {
    type KindUiIngress,
    kindUiEnvironment,
    kindUiObjects,
    kindUiOrigin,
    kindUiPageUrl,
    kindUiUpstream,
    kindUiUrl,
} from "../../components/kind/ui";
import { KIND_TRAEFIK_INSTALL } from "../../components/stack/kind";
import { configProblems } from "../support/configProblems";
import { PROJECT_DIR } from "../support/synthCli";

const kindStack = (): Record<string, any> => ({
    containerRegistry: { host: "localhost", port: 5002, pathPrefix: "dev" },
    registry: { mode: "kind", ui: { enabled: true } },
});

const layout: KindLayout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/d" };

const environment = (words: string[]) => Object.fromEntries(words.map((w) => [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)]));

describe("registry.mode kind with registry.ui.enabled", () => {
    it("is accepted, with nothing of the cluster to set: the design's hybrid by default, the UI behind the cluster's ingress", () => {
        expect(configProblems(kindStack(), {})).toEqual([]);
        const parsed = parseConfig(kindStack());
        expect(parsed.warnings).toEqual([]);
        expect((parsed.config.registry as { kind: { ui: unknown } }).kind.ui).toEqual({
            servedBy: "ingress",
            host: "localhost",
            port: 8080,
            namespace: "hostk8s",
            createNamespace: true,
        });
    });

    it("tells a stack that sets the cluster's keys of kind.ui while the front serves the UI, or without the UI, that they do nothing", () => {
        const front = { ...kindStack(), kind: { ui: { servedBy: "front", host: "localhost", port: 8080, ingressClass: "traefik" } } };
        const warnings = parseConfig(front).warnings;
        expect(warnings.map((w) => w.key)).toEqual([
            "dso-registry:kind.ui.host",
            "dso-registry:kind.ui.port",
            "dso-registry:kind.ui.ingressClass",
        ]);
        for (const w of warnings) expect(w.message).toContain('kind.ui.servedBy "front"');
        const off = { ...kindStack(), registry: { mode: "kind" }, kind: { ui: { namespace: "tools" } } };
        expect(parseConfig(off).warnings.map((w) => [w.key, w.message.includes("registry.ui.enabled false")])).toEqual([
            ["dso-registry:kind.ui.namespace", true],
        ]);
        // The design's values, said: no warning.
        const said = { ...kindStack(), kind: { ui: { servedBy: "ingress", host: "localhost", port: 8080, namespace: "hostk8s" } } };
        expect(parseConfig(said).warnings).toEqual([]);
    });

    it("gives the UI the front's own origin on the Docker host, over plain HTTP", () => {
        const env = environment(kindUiEnvironment(layout, { deleteEnabled: true }));
        expect(env).toMatchObject({
            REGISTRY_URL: "http://localhost:5002",
            REGISTRY_TITLE: "localhost:5002",
            SINGLE_REGISTRY: "true",
            DELETE_IMAGES: "true",
            CATALOG_ELEMENTS_LIMIT: "1000",
        });
        // The UI's nginx listens where the front's route sends it.
        expect(kindUiUpstream(layout)).toBe(`kind-registry-ui:${env.NGINX_LISTEN_PORT}`);
        expect(kindUiUrl(layout)).toBe("http://localhost:5002/registry/");
        // Words split on spaces by the container script: no value may hold one.
        for (const word of kindUiEnvironment(layout, { deleteEnabled: false })) expect(word).not.toMatch(/\s/);
    });

    it("keeps the port out of the origin on HTTP's own port 80, and offers deletes only when asked", () => {
        const env = environment(kindUiEnvironment({ ...layout, port: 80 }, { deleteEnabled: false }));
        expect(env.REGISTRY_URL).toBe("http://localhost");
        expect(env.DELETE_IMAGES).toBe("false");
        expect(kindUiUrl({ ...layout, port: 80 })).toBe("http://localhost/registry/");
    });

    const front = {
        registryName: "kind-registry",
        port: 5002,
        distributionName: "d",
        requiresAuthForPull: false,
        deletesEnabled: true,
    };
    const realmMap = [
        "\tmap {http.request.hostport} {dso_realm_authority} {",
        "\t\tkind-registry:5002 kind-registry:5002",
        "\t\tdefault localhost:5002",
        "\t}",
    ].join("\n");

    it("gives pods that use the front's name on the kind network the realm under that name, and everyone else localhost's", () => {
        expect(kindFrontPolicy(front).siteAliases).toEqual(["127.0.0.1", "kind-registry"]);
        const caddyfile = renderKindCaddyfile(front);
        expect(caddyfile).toContain(realmMap);
        expect(caddyfile).toContain('realm="{dso_client_scheme}://{dso_realm_authority}/v2/token"');
    });

    it("serves /registry/ from the UI's container, the prefix cut, on the same site and with the same realm as the API", () => {
        const withUi = { ...front, uiUpstream: kindUiUpstream(layout) };
        expect(kindFrontPolicy(withUi).siteAliases).toEqual(kindFrontPolicy(front).siteAliases);
        const caddyfile = renderKindCaddyfile(withUi);
        expect(caddyfile).toContain("\t\tredir /registry /registry/ 308\n\t\thandle_path /registry/* {");
        expect(caddyfile).toContain("\t\t\treverse_proxy kind-registry-ui:80\n");
        // The browser on localhost:5002 gets the Docker host's realm, as docker and skopeo there do.
        expect(caddyfile).toContain(realmMap);
        expect(renderKindCaddyfile(front)).not.toContain("/registry/");
    });
});

describe("the kind quick start in docs/kind.md and the README", () => {
    const docs = Object.fromEntries(
        ["docs/kind.md", "README.md"].map((file) => [file, readFileSync(path.join(PROJECT_DIR, file), "utf8")]),
    );
    /** The document's shell lines, a continued line (`\`) joined to the next. */
    const shellLines = (doc: string) => doc.replace(/ \\\n\s*/g, " ").split("\n");

    it.each(["docs/kind.md", "README.md"])(
        "%s creates the cluster with the example config, installs the Traefik the program tells of, and opens the UI behind the ingress",
        (file) => {
            const doc = docs[file] ?? "";
            const creates = doc.match(/^kind create cluster .*$/gm) ?? [];
            expect(creates.length).toBeGreaterThan(0);
            for (const line of creates)
                expect(line.replace(/\s+#.*$/, "")).toBe("kind create cluster --name kind --config docs/examples/kind-cluster.yaml");
            // The install preview and up print when the cluster has no controller, as the docs run it.
            const lines = shellLines(doc);
            for (const command of KIND_TRAEFIK_INSTALL.split(" && ")) expect(lines).toContain(command);
            expect(doc).not.toMatch(/deploy-ingress-nginx|kubectl wait -n ingress-nginx/);
            expect(doc).toContain("http://localhost:8080/registry/");
            // The other way, for a cluster without a controller.
            expect(doc).toContain("npx pulumi config set --path 'dso-registry:kind.ui.servedBy' front");
        },
    );

    it("the example cluster config maps the node's port 80 to the Docker host's 127.0.0.1:8080 and labels the node for the controller", () => {
        const config = YAML.parse(readFileSync(path.join(PROJECT_DIR, "docs/examples/kind-cluster.yaml"), "utf8"));
        expect(config).toMatchObject({ kind: "Cluster", apiVersion: "kind.x-k8s.io/v1alpha4" });
        expect(config.nodes).toEqual([
            {
                role: "control-plane",
                labels: { "ingress-ready": "true" },
                extraPortMappings: [{ containerPort: 80, hostPort: 8080, listenAddress: "127.0.0.1", protocol: "TCP" }],
            },
        ]);
        // kind.ui.port's default is the port the example maps.
        expect(parseConfig(kindStack()).config.registry).toMatchObject({ kind: { ui: { port: 8080 } } });
    });
});

describe("the web UI in the cluster behind its ingress (kind.ui.servedBy ingress)", () => {
    const ingress: KindUiIngress = { host: "localhost", port: 8080, namespace: "hostk8s", createNamespace: true };
    const ui = { image: "joxit/docker-registry-ui:2.6.0", deleteEnabled: true };
    const objects = kindUiObjects(layout, ui, ingress);
    const byKindName = (kind: string, name: string) =>
        objects.find((o) => o.kind === kind && o.metadata.name === name) as Record<string, any>;

    it("makes the namespace, the UI's Deployment and Service, the front's ExternalName Service and one Ingress, in that order", () => {
        expect(objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`)).toEqual([
            "Namespace /hostk8s",
            "Deployment hostk8s/registry-ui",
            "Service hostk8s/registry-ui",
            "Service hostk8s/registry-api",
            "Ingress hostk8s/registry-ui",
        ]);
        for (const o of objects) expect(o.metadata.labels).toMatchObject({ "app.kubernetes.io/part-of": "dso-registry" });
        // A namespace of the operator's: none made.
        expect(kindUiObjects(layout, ui, { ...ingress, createNamespace: false, namespace: "tools" }).map((o) => o.kind)).toEqual([
            "Deployment",
            "Service",
            "Service",
            "Ingress",
        ]);
    });

    it("sends /registry/ to the UI and /v2 to the front's container on the kind network, on the UI's host, in the cluster's default class", () => {
        const ing = byKindName("Ingress", "registry-ui");
        expect(ing.spec.ingressClassName).toBeUndefined();
        expect(ing.metadata.annotations).toEqual({ "pulumi.com/skipAwait": "true" });
        expect(ing.spec.rules).toEqual([
            {
                host: "localhost",
                http: {
                    paths: [
                        { path: "/registry/", pathType: "Prefix", backend: { service: { name: "registry-ui", port: { name: "http" } } } },
                        { path: "/v2", pathType: "Prefix", backend: { service: { name: "registry-api", port: { name: "http" } } } },
                    ],
                },
            },
        ]);
        // The front, never Distribution: the container on the kind network, at the port it listens on there.
        expect(byKindName("Service", "registry-api").spec).toEqual({
            type: "ExternalName",
            externalName: "kind-registry",
            ports: [{ name: "http", port: 5002, targetPort: 5002, protocol: "TCP" }],
        });
        expect(kindUiObjects(layout, ui, { ...ingress, ingressClass: "traefik" }).find((o) => o.kind === "Ingress")?.spec).toMatchObject({
            ingressClassName: "traefik",
        });
    });

    it("gives the UI the ingress's origin over plain HTTP, and serves its files under /registry/ with no rewrite of the controller's", () => {
        const container = byKindName("Deployment", "registry-ui").spec.template.spec.containers[0];
        const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
        expect(env).toMatchObject({ REGISTRY_URL: "http://localhost:8080", REGISTRY_TITLE: "localhost:8080", DELETE_IMAGES: "true" });
        expect(container.command).toEqual(["/bin/sh", "-c", 'ln -sfn . registry && exec /docker-entrypoint.sh "$@"', "ui"]);
        expect(container.args).toEqual(["nginx", "-g", "daemon off;"]);
        expect(kindUiPageUrl(layout, ingress)).toBe("http://localhost:8080/registry/");
        expect(kindUiPageUrl(layout)).toBe("http://localhost:5002/registry/");
        expect(kindUiOrigin({ host: "registry.localtest.me", port: 80 })).toBe("registry.localtest.me");
    });

    it("the front: the UI's origin gets the realm there, its host is one of the front's names, and nothing serves /registry/", () => {
        const spec = {
            registryName: "kind-registry",
            port: 5002,
            distributionName: "d",
            requiresAuthForPull: false,
            deletesEnabled: true,
            uiOrigin: "ui.localtest.me:8080",
        };
        expect(kindFrontPolicy(spec).siteAliases).toEqual(["127.0.0.1", "kind-registry", "ui.localtest.me"]);
        const caddyfile = renderKindCaddyfile(spec);
        expect(caddyfile).toContain("\t\tui.localtest.me:8080 ui.localtest.me:8080\n");
        expect(caddyfile).toContain("\t\tdefault localhost:5002\n");
        expect(caddyfile).not.toContain("/registry/");
    });
});
