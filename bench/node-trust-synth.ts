/**
 * Benchmark: offline synth of a stack with 1, 50 and 200 nodes (node trust over SSH, k3s, a generated
 * CA, pull credentials in registries.yaml and a managed /etc/hosts block: every step a k3s node gets).
 *
 *   npx tsx bench/node-trust-synth.ts [--runs 3]
 *
 * The stack is the committed local stack with pulls that need credentials and its nodes replaced by
 * `count` k3s nodes reached over SSH; it is written to a temp project
 * directory. Each run is a fresh Node process running `tools/synth.ts --project <temp dir>`, so
 * start-up and module loading count, as for a user running `npm run synth`. Peak memory is the
 * process's own maximum resident set size. Figures are printed, not asserted. Target: 200 nodes in
 * under 3× the 1-node time and under 10 s.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as YAML from "yaml";

const projectDir = path.resolve(__dirname, "..");
const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const sizes = [1, 50, 200];

const rssProbe = `process.on("exit", () => process.stderr.write("\\nmaxrss-kib " + process.resourceUsage().maxRSS + "\\n"));`;

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The local stack (in-cluster registry, generated CA) with `count` k3s nodes reached over SSH. */
function stackWithNodes(count: number): string {
    const doc = YAML.parse(readFileSync(path.join(projectDir, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, any> };
    const c = doc.config;
    c["dso-registry:containerRegistry"].requiresAuthForPull = true;
    c["dso-registry:nodes"] = {
        delivery: "ssh",
        runtime: "k3s",
        registryAddress: "10.20.0.5",
        list: Array.from({ length: count }, (_, i) => ({
            name: `k3s-node-${i + 1}`,
            host: `10.21.${Math.floor(i / 250)}.${(i % 250) + 1}`,
            user: "deploy",
            sudo: true,
            hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchmarkHostKeyOnlyForSynth",
        })),
    };
    return YAML.stringify(doc);
}

function countFiles(dir: string): number {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
}

const work = mkdtempSync(path.join(tmpdir(), "dso-bench-node-trust-"));
const probe = path.join(work, "probe.cjs");
writeFileSync(probe, rssProbe);
try {
    console.log(`node-trust synth benchmark: ${runs} runs per size, fresh process each`);
    console.log("nodes   files   median s   max s   peak RSS MiB (max)   × 1-node time");
    let baseline = 0;
    for (const size of sizes) {
        const project = path.join(work, `project-${size}`);
        mkdirSync(project);
        copyFileSync(path.join(projectDir, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
        writeFileSync(path.join(project, "Pulumi.bench.yaml"), stackWithNodes(size));
        const times: number[] = [];
        const rss: number[] = [];
        let files = 0;
        for (let i = 0; i < runs; i++) {
            const out = path.join(work, `out-${size}-${i}`);
            const started = process.hrtime.bigint();
            const result = spawnSync(
                process.execPath,
                [
                    "--import",
                    "tsx",
                    "--require",
                    probe,
                    path.join(projectDir, "tools/synth.ts"),
                    "--stack",
                    "bench",
                    "--project",
                    project,
                    "--out",
                    out,
                ],
                { cwd: projectDir, encoding: "utf8", env: process.env, input: "" },
            );
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            if (result.status !== 0) throw new Error(`synth with ${size} nodes failed:\n${result.stderr}`);
            times.push(seconds);
            rss.push(Number(/maxrss-kib (\d+)/.exec(result.stderr)?.[1]) / 1024);
            files = countFiles(out);
            rmSync(out, { recursive: true, force: true });
        }
        const m = median(times);
        if (size === sizes[0]) baseline = m;
        console.log(
            `${String(size).padStart(5)}   ${String(files).padStart(5)}   ${m.toFixed(2).padStart(8)}   ${Math.max(...times)
                .toFixed(2)
                .padStart(5)}   ${Math.max(...rss)
                .toFixed(0)
                .padStart(18)}   ${(m / baseline).toFixed(2).padStart(13)}`,
        );
    }
} finally {
    rmSync(work, { recursive: true, force: true });
}
