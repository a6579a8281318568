/**
 * What a test run cost, from vitest's JSON report: each project's files, their summed time and the span
 * from its first file's start to its last file's end, the 15 slowest files, and the closing line
 * `N passed, N failed` (`, N skipped` when some were). `.ci/run` prints it after every run, so the cost of a
 * change shows on the run that makes it, and fails the run when the tests took longer than the budget:
 * past it, CI's 90 minutes are too close for the next change to land.
 *
 *   tsx tools/testReport.ts REPORT.json ELAPSED_SECONDS [BUDGET_SECONDS]
 *
 * Exits 0 when every test passed, every file loaded and the run kept to its budget (default 3600 s).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

/** The parts of vitest's JSON report read here. */
export interface VitestJsonReport {
    readonly numPassedTests: number;
    readonly numFailedTests: number;
    readonly numPendingTests: number;
    readonly numTodoTests?: number;
    readonly testResults?: readonly {
        readonly name: string;
        readonly status: string;
        readonly startTime: number;
        readonly endTime: number;
        readonly assertionResults?: readonly { readonly status: string }[];
    }[];
}

/** One test file's cost. */
export interface FileCost {
    readonly file: string;
    readonly project: string;
    readonly seconds: number;
}

/** The project a file ran in, from its folder (the `include`s of vitest.config.mts). */
export function projectOf(file: string): string {
    if (file.startsWith("test/engine/")) return "engine";
    if (file.startsWith("test/integration/")) return "integration";
    if (/^test\/unit\/everySetting[^/]*\.test\.ts$/.test(file)) return "slow";
    return "unit";
}

const minutes = (seconds: number): string => `${Math.floor(seconds / 60)} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;

/** The report's lines, its closing line last, and whether the run passes. */
export function summarize(
    report: VitestJsonReport,
    root: string,
    elapsedSeconds: number,
    budgetSeconds: number,
): { lines: string[]; ok: boolean } {
    const files = report.testResults ?? [];
    const costs: FileCost[] = files.map((f) => {
        const file = path.relative(root, f.name);
        return { file, project: projectOf(file), seconds: Math.max(0, f.endTime - f.startTime) / 1000 };
    });
    const lines = ["== cost of the run", `tests: ${minutes(elapsedSeconds)} of the ${minutes(budgetSeconds)} budget`];
    for (const project of [...new Set(costs.map((c) => c.project))].sort()) {
        const own = files.filter((_, i) => costs[i]!.project === project);
        const span = (Math.max(...own.map((f) => f.endTime)) - Math.min(...own.map((f) => f.startTime))) / 1000;
        const summed = costs.filter((c) => c.project === project).reduce((sum, c) => sum + c.seconds, 0);
        lines.push(`  ${project}: ${own.length} files, ${minutes(span)} from first start to last end, ${minutes(summed)} summed`);
    }
    lines.push("slowest files:");
    for (const c of [...costs].sort((a, b) => b.seconds - a.seconds).slice(0, 15)) {
        lines.push(`  ${c.seconds.toFixed(1).padStart(7)} s  ${c.file} (${c.project})`);
    }
    // A test file that fails to load counts as a failure even though it reports no test.
    const brokenFiles = files.filter((f) => f.status === "failed" && !(f.assertionResults ?? []).some((a) => a.status === "failed")).length;
    const failed = report.numFailedTests + brokenFiles;
    const overBudget = elapsedSeconds > budgetSeconds;
    if (overBudget) {
        lines.push(
            `the tests took ${minutes(elapsedSeconds)}, over the budget of ${minutes(budgetSeconds)}: CI's 90 minutes would not hold the next change. ` +
                "Make the slowest files above cheaper (docs/testing.md) before adding tests.",
        );
    }
    const skipped = report.numPendingTests + (report.numTodoTests ?? 0);
    lines.push(`${report.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
    return { lines, ok: failed === 0 && !overBudget };
}

if (require.main === module) {
    const [reportFile, elapsed, budget = "3600"] = process.argv.slice(2);
    if (!reportFile || !elapsed) {
        console.error("usage: tsx tools/testReport.ts REPORT.json ELAPSED_SECONDS [BUDGET_SECONDS]");
        process.exit(2);
    }
    const report = JSON.parse(readFileSync(reportFile, "utf8")) as VitestJsonReport;
    const { lines, ok } = summarize(report, path.resolve(__dirname, ".."), Number(elapsed), Number(budget));
    console.log(lines.join("\n"));
    process.exit(ok ? 0 : 1);
}
