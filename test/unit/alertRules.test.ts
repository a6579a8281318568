/**
 * The alert rules' links and placements (components/monitoring/alertRules.ts): every runbook anchor is a
 * heading of docs/runbooks.md, every alert of each placement links to one, and each placement gets the
 * alerts for what it runs.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { type AlertRulesSpec, alertRules, RUNBOOK_ANCHORS } from "../../components/monitoring/alertRules";
import { CLUSTER_PLACEMENT, HOST_PLACEMENT } from "../support/rulesPlacements";

const RUNBOOKS = path.resolve(__dirname, "../../docs/runbooks.md");

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
    heading
        .toLowerCase()
        .replace(/[^\w\- ]/g, "")
        .replace(/ /g, "-");

const headings = readFileSync(RUNBOOKS, "utf8")
    .split("\n")
    .filter((line) => /^#{1,6} /.test(line))
    .map((line) => anchorOf(line.replace(/^#+ /, "")));

const PLACEMENTS: Record<string, AlertRulesSpec> = {
    "external host": { placement: HOST_PLACEMENT, runbookBaseUrl: "docs/runbooks.md" },
    "in-cluster": { placement: CLUSTER_PLACEMENT, runbookBaseUrl: "docs/runbooks.md" },
};

describe("alert rules", () => {
    it.each(Object.values(RUNBOOK_ANCHORS))("runbook anchor #%s is a heading of docs/runbooks.md", (anchor) => {
        expect(headings).toContain(anchor);
    });

    it.each(Object.entries(PLACEMENTS))("every alert of the %s links to a runbook section that exists", (_name, options) => {
        for (const rule of alertRules(options)) {
            const [base, anchor] = rule.annotations.runbook_url.split("#");
            expect(base).toBe("docs/runbooks.md");
            expect(headings, rule.alert).toContain(anchor);
        }
    });

    it("renders the same alerts for both placements, but for the ones a cluster reads from its GC Job", () => {
        const host = alertRules(PLACEMENTS["external host"]!).map((r) => r.alert);
        const cluster = alertRules(PLACEMENTS["in-cluster"]!).map((r) => r.alert);
        expect(host.filter((a) => !cluster.includes(a))).toEqual(["DsoRegistryVerifyFailed"]);
        expect(cluster.filter((a) => !host.includes(a))).toEqual([]);
    });

    it("counts a failed harvest of the pull history as a failed collection job, only where the stack runs one", () => {
        // Prometheus anchors a label regex at both ends.
        const jobsMatched = (placement: typeof CLUSTER_PLACEMENT) => {
            const rule = alertRules({ placement, runbookBaseUrl: "x" }).find((r) => r.alert === "DsoRegistryGarbageCollectionFailed");
            const pattern = /job_name=~"([^"]+)"/.exec(rule?.expr ?? "")?.[1];
            if (pattern === undefined) throw new Error("no job_name regex in the collection's alert");
            const re = new RegExp(`^(?:${pattern})$`);
            return ["registry-gc-29012345", "registry-pulls-29012345", "registry-backup-29012345"].filter((j) => re.test(j));
        };
        expect(jobsMatched({ ...CLUSTER_PLACEMENT, pullsCronJob: "registry-pulls" })).toEqual([
            "registry-gc-29012345",
            "registry-pulls-29012345",
        ]);
        expect(jobsMatched(CLUSTER_PLACEMENT)).toEqual(["registry-gc-29012345"]);
    });

    it("leaves out the backup and cache alerts where nothing is backed up or cached", () => {
        const alerts = alertRules({ placement: { kind: "external-host", backup: false, caches: false }, runbookBaseUrl: "x" }).map(
            (r) => r.alert,
        );
        expect(alerts).not.toContain("DsoRegistryBackupStale");
        expect(alerts).not.toContain("DsoRegistryCacheOverSize");
    });
});
