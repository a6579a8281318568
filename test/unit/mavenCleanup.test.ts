/**
 * The Maven clean-up's parameters (components/upkeep/mavenCleanup.ts): it refuses a number of snapshot
 * builds to keep that is not a whole number of at least 1. The clean-up run by the GC job:
 * upkeep.inCluster.test.ts, test/integration/maven.realClients.test.ts.
 */
import { describe, expect, it } from "vitest";
import { mavenCleanupParams } from "../../components/upkeep/mavenCleanup";

describe("host Maven pieces", () => {
    it.each([0, -1, 1.5])("refuses to keep %s snapshot builds", (keep) => {
        expect(() => mavenCleanupParams({ dataDir: "/srv/data/maven", pathPrefix: "m", snapshotBuildsToKeep: keep })).toThrow(/at least 1/);
    });
});
