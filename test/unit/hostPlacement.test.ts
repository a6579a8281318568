/**
 * components/externalHost/hostPlacement.ts: which changes of the external host's placement are refused,
 * and that the prod stack's host waits for the record (every command of the host is a descendant of the
 * component, and a child registers only after its parent, which waits for its `dependsOn`). The refusal
 * under the real engine: test/engine/hostPlacement.test.ts.
 */
import { describe, expect, it } from "vitest";
import { type HostPlacementState, placementChangeProblem } from "../../components/externalHost/hostPlacement";
import { readStackConfig, runProgram } from "../../tools/synth";
import { PROJECT_DIR } from "../support/synthCli";

const placed: HostPlacementState = {
    host: "registry-01.example.com",
    port: 22,
    dataDir: "/srv/data/registry",
    mavenDataDir: "/srv/data/maven",
};

describe("placementChangeProblem", () => {
    it.each<[string, Partial<HostPlacementState>, RegExp | undefined]>([
        ["nothing changed", {}, undefined],
        [
            "another host",
            { host: "registry-02.example.com" },
            /^externalHost\.ssh\.host changed from registry-01\.example\.com:22 to registry-02\.example\.com:22\./,
        ],
        [
            "another SSH port",
            { port: 2222 },
            /^externalHost\.ssh\.host changed from registry-01\.example\.com:22 to registry-01\.example\.com:2222\./,
        ],
        [
            "another data directory",
            { dataDir: "/data/registry" },
            /^externalHost\.dataDir changed from \/srv\/data\/registry to \/data\/registry\./,
        ],
        ["another Maven directory", { mavenDataDir: "/data/maven" }, /^externalHost\.mavenDataDir changed/],
        ["storage moved to S3 (no data directory)", { dataDir: "" }, undefined],
        ["storage back on the filesystem", { dataDir: "/srv/data/registry" }, undefined],
        ["Maven turned off", { mavenDataDir: "" }, undefined],
    ])("%s", (_, change, refused) => {
        const problem = placementChangeProblem(placed, { ...placed, ...change });
        if (refused) {
            expect(problem).toMatch(refused);
            expect(problem).toContain('"Moving the registry" in docs/external-host.md');
        } else expect(problem).toBeUndefined();
    });

    it("storage back on the filesystem after S3 is not a move either", () => {
        expect(placementChangeProblem({ ...placed, dataDir: "" }, placed)).toBeUndefined();
    });
});

describe("the prod stack's host waits for its placement record", () => {
    it("the host's component depends on the record, and the record on nothing", async () => {
        const run = await runProgram("prod", readStackConfig(PROJECT_DIR, "prod"));
        const record = run.resources.find((r) => r.type === "pulumi-nodejs:dynamic/externalHost:Placement");
        const host = run.resources.find((r) => r.type === "dso-registry:externalHost:ExternalRegistryHost");
        expect(record?.dependencies).toEqual([]);
        expect(host?.dependencies).toContain(record?.urn);
        expect(record?.rawInputs).toMatchObject({ host: "registry-01.dso.example.com", port: 22, dataDir: "/srv/data/registry" });
    });
});
