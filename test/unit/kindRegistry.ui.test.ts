/**
 * The web UI in the committed kind stack, synthesized (components/kind/kindRegistry.ts): with the defaults,
 * the design's hybrid: the UI a Deployment in the cluster's `hostk8s` namespace behind the cluster's ingress,
 * which serves /registry/ from it and /v2 from the registry's front through an ExternalName Service, so no UI
 * container runs on the Docker host and the front serves no /registry/; with `kind.ui.servedBy: front`, the
 * UI's container beside the registry's, served by the front, and no object of the UI in the cluster. The UI's
 * objects and settings themselves: ui.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { PROJECT } from "../../components/shared/facts";
import { readStackConfig, synthesizeConfig } from "../../tools/synth";
import { committedSynthRun } from "../support/committedSynth";
import { PROJECT_DIR, readTree } from "../support/synthCli";

/** The containers script as it runs: `sh -c '…'` quotes each of its quotes. */
const containersScript = (files: Map<string, string>) =>
    ([...files.entries()].find(([name]) => /kind-registry-containers\.create\.sh$/.test(name))?.[1] ?? "").replaceAll("'\\''", "'");
const caddyfileOf = (files: Map<string, string>) => [...files.entries()].find(([name]) => name.endsWith("/front/Caddyfile"))?.[1] ?? "";

describe("the committed kind stack, synthesized (the UI is on)", () => {
    const run = committedSynthRun("kind");
    const files = run.status === 0 ? readTree(run.dir) : new Map<string, string>();

    it("runs the UI in the cluster behind its ingress, and no UI container on the Docker host", () => {
        expect(run.status).toBe(0);
        expect([...files.keys()].filter((name) => name.startsWith("k8s/")).sort()).toEqual([
            "k8s/_cluster/Namespace-hostk8s.yaml",
            "k8s/hostk8s/Deployment-registry-ui.yaml",
            "k8s/hostk8s/Ingress-registry-ui.yaml",
            "k8s/hostk8s/Service-registry-api.yaml",
            "k8s/hostk8s/Service-registry-ui.yaml",
            "k8s/kube-public/ConfigMap-local-registry-hosting.yaml",
        ]);
        expect(containersScript(files)).toContain("UI_IMAGE=''");
        const caddyfile = caddyfileOf(files);
        expect(caddyfile).not.toContain("/registry/");
        // The browser on the ingress's origin gets the realm there; the Docker host's clients keep theirs.
        expect(caddyfile).toContain("\t\tlocalhost:8080 localhost:8080\n");
        expect(caddyfile).toContain("\t\tdefault localhost:5002\n");
    });
});

describe("the committed kind stack with kind.ui.servedBy front, synthesized", () => {
    let files = new Map<string, string>();
    beforeAll(async () => {
        const { config, secretKeys } = readStackConfig(PROJECT_DIR, "kind");
        const kind = { ...JSON.parse(config[`${PROJECT}:kind`] ?? "{}"), ui: { servedBy: "front" } };
        files = (await synthesizeConfig("kind", { config: { ...config, [`${PROJECT}:kind`]: JSON.stringify(kind) }, secretKeys })).files;
    }, 120_000);

    it("runs the UI's container behind the front, and writes no Kubernetes object of it", () => {
        const caddyfile = caddyfileOf(files);
        expect(caddyfile).toContain("\t\thandle_path /registry/* {");
        expect(caddyfile).toContain("\t\t\treverse_proxy kind-registry-ui:80\n");
        // One realm for the Docker host's clients and the browser on the same origin.
        expect(caddyfile).toContain("\t\tdefault localhost:5002\n");
        expect(caddyfile).not.toContain("localhost:8080");
        const containers = containersScript(files);
        expect(containers).toContain("UI_NAME='kind-registry-ui'");
        expect(containers).toMatch(/UI_IMAGE='joxit\/docker-registry-ui:[^']+'/);
        expect([...files.keys()].filter((name) => name.startsWith("k8s/"))).toEqual([
            "k8s/kube-public/ConfigMap-local-registry-hosting.yaml",
        ]);
    });
});
