/**
 * Benchmark: wall time and peak memory of the offline synth, per committed stack.
 *
 *   npx tsx bench/synth.ts [--runs 5]
 *
 * Each run is a fresh Node process (`node --import tsx tools/synth.ts`), so start-up and module
 * loading are counted, as a user running `npm run synth` pays them. Peak memory is the process's own
 * maximum resident set size. Figures are printed, not asserted: targets are 5 s and 400 MB per stack.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const projectDir = path.resolve(__dirname, "..");
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const stacks = ["local", "prod"];

/** Preload that prints the process's peak RSS (KiB) on exit, on a line of its own. */
const rssProbe = `process.on("exit", () => process.stderr.write("\\nmaxrss-kib " + process.resourceUsage().maxRSS + "\\n"));`;

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const work = mkdtempSync(path.join(tmpdir(), "dso-bench-synth-"));
const probe = path.join(work, "probe.cjs");
writeFileSync(probe, rssProbe);
try {
    console.log(`synth benchmark: ${runs} runs per stack, fresh process each`);
    console.log("stack   median s   max s   peak RSS MiB (max)");
    for (const stack of stacks) {
        const times: number[] = [];
        const rss: number[] = [];
        for (let i = 0; i < runs; i++) {
            const out = path.join(work, `${stack}-${i}`);
            const started = process.hrtime.bigint();
            const result = spawnSync(
                process.execPath,
                ["--import", "tsx", "--require", probe, path.join(projectDir, "tools/synth.ts"), "--stack", stack, "--out", out],
                { cwd: projectDir, encoding: "utf8", env: process.env, input: "" },
            );
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            if (result.status !== 0) throw new Error(`synth --stack ${stack} failed:\n${result.stderr}`);
            const kib = Number(/maxrss-kib (\d+)/.exec(result.stderr)?.[1]);
            times.push(seconds);
            rss.push(kib / 1024);
        }
        console.log(
            `${stack.padEnd(7)} ${median(times).toFixed(2).padStart(8)}   ${Math.max(...times)
                .toFixed(2)
                .padStart(5)}   ${Math.max(...rss)
                .toFixed(0)
                .padStart(12)}`,
        );
    }
} finally {
    rmSync(work, { recursive: true, force: true });
}
