/**
 * Every module under components/ has a test one can find from the module (docs/contributing.md, Layout): a test file
 * named after it (`<module>.test.ts`, `<module>.<aspect>.test.ts`) anywhere under test/, or a test file
 * whose header comment names it in a `Covers:` line. A module with no runtime behaviour (only types, or a
 * barrel of re-exports) is listed in ALLOWED_WITHOUT_TEST with its reason instead. Most modules have a test
 * named after them, and the share that do may not fall below NAMED_SHARE_FLOOR. The paths a `Covers:`
 * line names exist, so a rename that leaves one stale fails here, and so does an allowance no longer needed.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");

/** Modules with no runtime behaviour to test, each with why. */
const ALLOWED_WITHOUT_TEST: Readonly<Record<string, string>> = {
    "components/config/index.ts": "a barrel: re-exports of the config modules, each tested under its own name",
};

/**
 * The least share of the modules (those of ALLOWED_WITHOUT_TEST aside) that have a test named after them;
 * the rest are found by a `Covers:` line. Raise it when more are named; a change that lowers the share
 * names a test after a module instead.
 */
const NAMED_SHARE_FLOOR = 0.75;

/** Every file under `dir` (relative to the repository) whose name ends with `suffix`, as repository paths. */
function filesUnder(dir: string, suffix: string): string[] {
    return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
        const relative = `${dir}/${entry.name}`;
        if (entry.isDirectory()) return filesUnder(relative, suffix);
        return entry.name.endsWith(suffix) ? [relative] : [];
    });
}

/** The comment block a file opens with, its lines without the leading ` * `; "" when it opens with none. */
function headerComment(text: string): string {
    const match = /^(?:\s*\/\/\/[^\n]*\n)*\s*\/\*\*([\s\S]*?)\*\//.exec(text);
    if (!match) return "";
    return match[1]!
        .split("\n")
        .map((line) => line.replace(/^\s*\*\s?/, "").trim())
        .join(" ");
}

/**
 * The paths each `Covers:` sentence of a header names: from "Covers:" to the first full stop that ends
 * a sentence (one followed by a space or the end), every word that has a slash or a file extension.
 */
function coveredPaths(header: string): string[] {
    const paths: string[] = [];
    for (const sentence of header.matchAll(/Covers:(.*?)(?:\.(?=\s|$)|$)/g)) {
        for (const word of sentence[1]!.matchAll(/[\w.-]*\/[\w./-]*|[\w-]+(?:\.[\w-]+)*\.(?:ts|mts|cjs|md|json|yaml|txt|sh)\b/g)) {
            paths.push(word[0]);
        }
    }
    return paths;
}

const testFiles = filesUnder("test", ".test.ts");
const modules = filesUnder("components", ".ts");
const namedAfter = new Set(testFiles.map((file) => path.basename(file).split(".")[0]!));
/** [test file, path its `Covers:` line names], for every test file under test/. */
const covers = testFiles.flatMap((file) =>
    coveredPaths(headerComment(readFileSync(path.join(ROOT, file), "utf8"))).map((p) => [file, p] as const),
);
const coveredModules = new Set(covers.map(([, p]) => p));

/** How a module's test is found, or undefined when it has none. */
function findableBy(module: string): string | undefined {
    if (namedAfter.has(path.basename(module, ".ts"))) return "a test named after it";
    const by = covers.filter(([, p]) => p === module).map(([file]) => file);
    return by.length > 0 ? `Covers: in ${by.join(", ")}` : undefined;
}

describe("every module under components/ has a findable test", () => {
    it("finds the modules and the tests", () => {
        expect(modules.length).toBeGreaterThan(50);
        expect(testFiles).toContain("test/unit/findableTests.test.ts");
    });

    it.each(modules.filter((m) => !(m in ALLOWED_WITHOUT_TEST)))("%s", (module) => {
        expect(
            findableBy(module),
            `no test is named after ${module} and no test header names it in a Covers: line (docs/contributing.md, Layout)`,
        ).toBeDefined();
    });
});

describe("most modules under components/ have a test named after them", () => {
    it(`at least ${NAMED_SHARE_FLOOR * 100}% of them; the rest are found by Covers:`, () => {
        const counted = modules.filter((m) => !(m in ALLOWED_WITHOUT_TEST));
        const unnamed = counted.filter((m) => !namedAfter.has(path.basename(m, ".ts")));
        const named = counted.length - unnamed.length;
        expect(
            named / counted.length,
            `${named} of ${counted.length} modules have a test named after them (<module>.test.ts or <module>.<aspect>.test.ts); ` +
                `without one, found by Covers: only: ${unnamed.join(", ")}`,
        ).toBeGreaterThanOrEqual(NAMED_SHARE_FLOOR);
    });
});

describe("every path a Covers: line names exists", () => {
    it.each(covers)("%s names %s", (file, named) => {
        expect(existsSync(path.join(ROOT, named)), `${file}: Covers: names ${named}, which does not exist`).toBe(true);
    });

    it("reads the Covers: lines (clusterDns.test.ts names components/inCluster/clusterDns.ts)", () => {
        expect(coveredModules.has("components/inCluster/clusterDns.ts")).toBe(true);
    });
});

describe("every module allowed without a test still needs the allowance", () => {
    it.each(Object.entries(ALLOWED_WITHOUT_TEST))("%s (%s)", (module) => {
        expect(existsSync(path.join(ROOT, module)), `${module} no longer exists: drop it from ALLOWED_WITHOUT_TEST`).toBe(true);
        expect(findableBy(module), `${module} has a test now: drop it from ALLOWED_WITHOUT_TEST`).toBeUndefined();
    });
});
