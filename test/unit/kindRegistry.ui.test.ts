/**
 * The web UI in the committed kind stack, synthesized (components/kind/kindRegistry.ts): KindRegistry runs
 * the UI's container beside the registry's on the Docker host and the front serves it under /registry/, on
 * the API's own origin, with no object of the UI in the cluster. The UI's settings themselves: ui.test.ts.
 */
import { describe, expect, it } from "vitest";
import { committedSynthRun } from "../support/committedSynth";
import { readTree } from "../support/synthCli";

describe("the committed kind stack, synthesized (the UI is on)", () => {
    const run = committedSynthRun("kind");
    const files = run.status === 0 ? readTree(run.dir) : new Map<string, string>();

    it("runs the UI's container behind the front, and writes no Kubernetes object of it", () => {
        expect(run.status).toBe(0);
        const caddyfile = [...files.entries()].find(([name]) => name.endsWith("/front/Caddyfile"))?.[1] ?? "";
        expect(caddyfile).toContain("\t\thandle_path /registry/* {");
        expect(caddyfile).toContain("\t\t\treverse_proxy kind-registry-ui:80\n");
        // One realm for the Docker host's clients and the browser on the same origin.
        expect(caddyfile).toContain("\t\tdefault localhost:5002\n");
        // The script as it runs: `sh -c '…'` quotes each of its quotes.
        const containers = (
            [...files.entries()].find(([name]) => /kind-registry-containers\.create\.sh$/.test(name))?.[1] ?? ""
        ).replaceAll("'\\''", "'");
        expect(containers).toContain("UI_NAME='kind-registry-ui'");
        expect(containers).toMatch(/UI_IMAGE='joxit\/docker-registry-ui:[^']+'/);
        expect([...files.keys()].filter((name) => name.startsWith("k8s/"))).toEqual([
            "k8s/kube-public/ConfigMap-local-registry-hosting.yaml",
        ]);
    });
});
