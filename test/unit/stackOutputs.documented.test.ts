/**
 * The stack's outputs, said once: `index.ts` returns what `defineStack` returns, which is what the synth
 * writes to outputs.json. Every output a reader is told to read (`pulumi stack output NAME` in the README,
 * docs/, the workflows, the examples and the config schema's descriptions) is one the program returns for
 * some stack, and every output the program returns is named where an operator reads. Found by a search of
 * those files, so a newly documented output is covered by itself.
 * Covers: index.ts, components/stack/index.ts (StackOutputs).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { PROJECT } from "../../components/shared/facts";
import { readStackConfig, runProgram, type StackFileConfig } from "../../tools/synth";

const ROOT = path.resolve(__dirname, "../..");

/** Files a reader reads, recursively under the directories given. */
function filesUnder(dir: string, ends: readonly string[]): string[] {
    return readdirSync(path.join(ROOT, dir)).flatMap((entry) => {
        const rel = path.join(dir, entry);
        if (statSync(path.join(ROOT, rel)).isDirectory()) return filesUnder(rel, ends);
        return ends.some((e) => entry.endsWith(e)) ? [rel] : [];
    });
}

const READ_FILES = [
    "README.md",
    ...filesUnder("docs", [".md", ".yml", ".yaml"]),
    ...filesUnder(".github", [".yml", ".yaml"]),
    ...filesUnder("examples", [".ts", ".md", ".yaml"]),
    ...filesUnder("components/config", [".ts"]),
];

/** `pulumi stack output [flags] NAME`, with the flags the docs use before the name. */
const OUTPUT_COMMAND = /pulumi stack output((?:\s+(?:--show-secrets|--json|(?:-s|--stack)\s+\S+))*)\s+([a-z][A-Za-z]+)/g;

/** Each output name the read files tell someone to read, with the files that name it. */
function documentedOutputs(): Map<string, string[]> {
    const named = new Map<string, string[]>();
    for (const file of READ_FILES) {
        for (const m of readFileSync(path.join(ROOT, file), "utf8").matchAll(OUTPUT_COMMAND)) {
            const name = m[2]!;
            named.set(name, [...new Set([...(named.get(name) ?? []), file])]);
        }
    }
    return named;
}

/** The local stack with every account kind and rotation by age: the outputs only such a stack has. */
function localWithAccounts(): StackFileConfig {
    const base = readStackConfig(ROOT, "local");
    // A stack file's structured values reach the program as JSON text, as the CLI hands them over.
    const registry = JSON.parse(base.config[`${PROJECT}:containerRegistry`] ?? "{}") as Record<string, unknown>;
    return {
        ...base,
        config: {
            ...base.config,
            [`${PROJECT}:containerRegistry`]: JSON.stringify({
                ...registry,
                pushAccounts: [{ name: "team-a", prefixes: [`${registry.pathPrefix}/team-a/`] }],
                readAccounts: [{ name: "alice" }],
                rotateAfterDays: 90,
            }),
        },
    };
}

describe("the stack's outputs", () => {
    const returned = new Map<string, Set<string>>();

    beforeAll(async () => {
        const configs: [string, StackFileConfig][] = [
            ...["local", "prod", "existing", "kind"].map((s): [string, StackFileConfig] => [s, readStackConfig(ROOT, s)]),
            ["local with named accounts", localWithAccounts()],
        ];
        // One program run at a time: Pulumi's runtime is process-global.
        for (const [name, config] of configs) {
            const run = await runProgram(name === "local with named accounts" ? "local" : name, config);
            returned.set(name, new Set(Object.keys(run.outputs)));
        }
    }, 120_000);

    it("index.ts returns defineStack's outputs unchanged, not a list of its own", () => {
        const program = readFileSync(path.join(ROOT, "index.ts"), "utf8");
        expect(program).toMatch(/const outputs = defineStack\(config\);/);
        expect(program).toMatch(/return outputs;\n\};/);
    });

    it("the search finds the outputs the operator pages name (it is not empty by accident)", () => {
        const named = documentedOutputs();
        expect([...named.keys()]).toEqual(
            expect.arrayContaining(["caCertPem", "pushCredentials", "readAccountCredentials", "imagePrefix"]),
        );
    });

    it("every output a page tells a reader to read is returned by the program for some stack", () => {
        const all = new Set([...returned.values()].flatMap((s) => [...s]));
        const missing = [...documentedOutputs()].filter(([name]) => !all.has(name)).map(([name, files]) => `${name} (${files.join(", ")})`);
        expect(missing).toEqual([]);
    });

    it("every output the program returns is named where an operator reads", () => {
        const text = READ_FILES.map((f) => readFileSync(path.join(ROOT, f), "utf8")).join("\n");
        const all = [...new Set([...returned.values()].flatMap((s) => [...s]))].sort();
        expect(all.length).toBeGreaterThan(5);
        expect(all.filter((name) => !new RegExp(`\\b${name}\\b`).test(text))).toEqual([]);
    });

    it("an output a stack has no value for is absent, never null", async () => {
        const existing = await runProgram("existing", readStackConfig(ROOT, "existing"));
        expect(Object.values(existing.outputs).filter((v) => v === null || v === undefined)).toEqual([]);
        expect(Object.keys(existing.outputs)).not.toContain("pushCredentials");
    });
});
