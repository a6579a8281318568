/**
 * The external host's scrape file (components/monitoring/jobMetrics.ts): Prometheus is pointed at
 * loopback targets only.
 */
import { describe, expect, it } from "vitest";
import { renderHostScrapeConfig } from "../../components/monitoring/jobMetrics";

describe("the host's scrape file", () => {
    it("names only loopback targets", () => {
        const targets = [...renderHostScrapeConfig().matchAll(/- (\S+:\d+)/g)].map((m) => m[1]);
        expect(targets).toEqual(["127.0.0.1:5091", "127.0.0.1:5092", "127.0.0.1:9100"]);
    });
});
