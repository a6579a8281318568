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
import { parseConfig } from "../../components/config";
import { kindFrontPolicy, renderKindCaddyfile } from "../../components/kind/front";
import type { KindLayout } from "../../components/kind/scripts";
import { kindUiEnvironment, kindUiUpstream, kindUiUrl } from "../../components/kind/ui";
import { configProblems } from "../support/configProblems";
import { PROJECT_DIR } from "../support/synthCli";

const kindStack = (): Record<string, any> => ({
    containerRegistry: { host: "localhost", port: 5002, pathPrefix: "dev" },
    registry: { mode: "kind", ui: { enabled: true } },
});

const layout: KindLayout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5002, dataDir: "/d" };

const environment = (words: string[]) => Object.fromEntries(words.map((w) => [w.slice(0, w.indexOf("=")), w.slice(w.indexOf("=") + 1)]));

describe("registry.mode kind with registry.ui.enabled", () => {
    it("is accepted, with nothing of the cluster to set", () => {
        expect(configProblems(kindStack(), {})).toEqual([]);
        expect(parseConfig(kindStack()).warnings).toEqual([]);
    });

    it("tells a stack that still sets the earlier releases' kind.ui (the cluster's ingress) that it has no effect, and where the UI is", () => {
        const earlier = { ...kindStack(), kind: { ui: { host: "localhost", port: 8080, ingressClass: "nginx" } } };
        const warnings = parseConfig(earlier).warnings;
        expect(warnings.map((w) => w.key)).toEqual([
            "dso-registry:kind.ui.host",
            "dso-registry:kind.ui.port",
            "dso-registry:kind.ui.ingressClass",
        ]);
        for (const w of warnings)
            expect(w.message).toContain("the web UI served by the registry's front at http://localhost:5002/registry/");
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

    it.each(["docs/kind.md", "README.md"])(
        "%s creates the cluster with kind alone, installs no ingress controller, and opens the UI on the front",
        (file) => {
            const doc = docs[file] ?? "";
            const creates = doc.match(/^kind create cluster .*$/gm) ?? [];
            expect(creates.length).toBeGreaterThan(0);
            for (const line of creates) expect(line.replace(/\s+#.*$/, "")).toBe("kind create cluster --name kind");
            expect(doc).not.toMatch(/deploy-ingress-nginx|kubectl wait -n ingress-nginx/);
            expect(doc).toContain(kindUiUrl(layout));
        },
    );
});
