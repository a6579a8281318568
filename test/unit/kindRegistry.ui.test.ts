/**
 * The web UI in the committed kind stack, synthesized (components/kind/kindRegistry.ts): KindRegistry
 * registers the UI's objects beside the registry's containers, and the front gives the UI's origin its
 * realm. The UI's objects themselves: ui.test.ts.
 */
import { describe, expect, it } from "vitest";
import { committedSynthRun } from "../support/committedSynth";
import { readTree } from "../support/synthCli";

describe("the committed kind stack, synthesized (the UI is on)", () => {
    const run = committedSynthRun("kind");
    const files = run.status === 0 ? readTree(run.dir) : new Map<string, string>();

    it("registers the UI's objects beside the registry's containers, and the front gives the UI's origin its realm", () => {
        expect(run.status).toBe(0);
        const resources = files.get("resources.json") ?? "";
        for (const name of [
            "kind-registry-ui-namespace-dso-registry-ui",
            "kind-registry-ui-deployment-registry-ui",
            "kind-registry-ui-service-registry-ui",
            "kind-registry-ui-ingress-registry-ui",
            "kind-registry-ui-service-registry-api",
            "kind-registry-ui-ingress-registry-api",
        ]) {
            expect(resources).toContain(name);
        }
        const caddyfile = [...files.entries()].find(([name]) => name.endsWith("/front/Caddyfile"))?.[1] ?? "";
        expect(caddyfile).toContain("\t\tlocalhost:8080 localhost:8080\n");
        expect(caddyfile).toContain("\t\tdefault localhost:5002\n");
    });
});
