/**
 * The cost report `.ci/run` prints after the tests (tools/testReport.ts): each project's files and time,
 * the slowest files, the closing count line, and the run failed when it is over its budget.
 * Covers: tools/testReport.ts.
 */
import { describe, expect, it } from "vitest";
import { projectOf, summarize, type VitestJsonReport } from "../../tools/testReport";

const ROOT = "/repo";
const file = (name: string, startS: number, endS: number, status = "passed", tests: string[] = ["passed"]) => ({
    name: `${ROOT}/${name}`,
    status,
    startTime: startS * 1000,
    endTime: endS * 1000,
    assertionResults: tests.map((t) => ({ status: t })),
});

const report = (files: ReturnType<typeof file>[], counts: Partial<VitestJsonReport> = {}): VitestJsonReport => ({
    numPassedTests: 10,
    numFailedTests: 0,
    numPendingTests: 0,
    testResults: files,
    ...counts,
});

describe("projectOf", () => {
    it.each([
        ["test/unit/caddyfile.test.ts", "unit"],
        ["test/unit/everySetting.registry.test.ts", "slow"],
        ["test/unit/everySetting.test.ts", "slow"],
        ["test/integration/accessPolicy.test.ts", "integration"],
        ["test/engine/prodPlans.test.ts", "engine"],
    ])("%s is in the %s project", (name, project) => {
        expect(projectOf(name)).toBe(project);
    });
});

describe("summarize", () => {
    const files = [
        file("test/unit/a.test.ts", 0, 2),
        file("test/integration/b.test.ts", 10, 70),
        file("test/integration/c.test.ts", 20, 50),
        file("test/engine/d.test.ts", 100, 400),
    ];

    it("gives each project's files, its span and its summed time", () => {
        const { lines } = summarize(report(files), ROOT, 400, 3600);
        expect(lines).toContain("  integration: 2 files, 1 min 00 s from first start to last end, 1 min 30 s summed");
        expect(lines).toContain("  engine: 1 files, 5 min 00 s from first start to last end, 5 min 00 s summed");
        expect(lines).toContain("  unit: 1 files, 0 min 02 s from first start to last end, 0 min 02 s summed");
    });

    it("lists the slowest files first, at most 15", () => {
        const many = Array.from({ length: 20 }, (_, i) => file(`test/unit/f${i}.test.ts`, 0, i + 1));
        const { lines } = summarize(report(many), ROOT, 30, 3600);
        const listed = lines.slice(lines.indexOf("slowest files:") + 1, -1);
        expect(listed).toHaveLength(15);
        expect(listed[0]).toBe("     20.0 s  test/unit/f19.test.ts (unit)");
        expect(listed[14]).toContain("test/unit/f5.test.ts");
    });

    it("ends with the count line and passes a run within its budget", () => {
        const { lines, ok } = summarize(report(files, { numPendingTests: 2 }), ROOT, 400, 3600);
        expect(lines.at(-1)).toBe("10 passed, 0 failed, 2 skipped");
        expect(ok).toBe(true);
    });

    it("counts a file that failed to load as a failure", () => {
        const { lines, ok } = summarize(report([...files, file("test/unit/broken.test.ts", 0, 1, "failed", [])]), ROOT, 400, 3600);
        expect(lines.at(-1)).toBe("10 passed, 1 failed");
        expect(ok).toBe(false);
    });

    it("fails a run over its budget and says why, the count line still last", () => {
        const { lines, ok } = summarize(report(files), ROOT, 3700, 3600);
        expect(ok).toBe(false);
        expect(lines.join("\n")).toContain("the tests took 61 min 40 s, over the budget of 60 min 00 s");
        expect(lines.at(-1)).toBe("10 passed, 0 failed");
    });
});
