/**
 * The program turns on Node's compile cache before it loads anything else (components/stack/compileCache.ts,
 * imported first by index.ts): in the temporary directory, or where NODE_COMPILE_CACHE says, and not at all with
 * NODE_DISABLE_COMPILE_CACHE=1. Each case loads the module in a Node process of its own, as the program's
 * process does, then a module it compiles (zod), and reads back where Node keeps the cache.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const dir = mkdtempSync(path.join(tmpdir(), "dso-compile-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the module in a Node process with `env` (the test's own environment without Node's cache settings), then loads zod; prints the cache's directory. */
function loadWith(env: Record<string, string>, withModule = true): { dir: string; stderr: string; code: number | null } {
    const script = path.join(dir, "load.ts");
    writeFileSync(
        script,
        [
            ...(withModule ? [`import ${JSON.stringify(path.join(ROOT, "components/stack/compileCache.ts"))};`] : []),
            `import { getCompileCacheDir } from "node:module";`,
            `import { createRequire } from "node:module";`,
            `createRequire(${JSON.stringify(path.join(ROOT, "package.json"))})("zod");`,
            `console.log(getCompileCacheDir() ?? "none");`,
        ].join("\n"),
    );
    const { NODE_COMPILE_CACHE: _a, NODE_DISABLE_COMPILE_CACHE: _b, ...rest } = process.env;
    const r = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: ROOT, env: { ...rest, ...env }, encoding: "utf8" });
    return { dir: r.stdout.trim(), stderr: r.stderr, code: r.status };
}

describe("the program's compile cache", () => {
    it("is the temporary directory's node-compile-cache by default, and holds what the process compiled", () => {
        const tmp = mkdtempSync(path.join(dir, "tmp-"));
        const r = loadWith({ TMPDIR: tmp });
        expect(r.code, r.stderr).toBe(0);
        expect(r.dir.startsWith(path.join(tmp, "node-compile-cache")), r.dir).toBe(true);
        expect(readdirSync(path.join(tmp, "node-compile-cache")).length).toBeGreaterThan(0);
        // The control: the same process without the module keeps no cache; the module is what turns it on.
        const without = mkdtempSync(path.join(dir, "tmp-"));
        const control = loadWith({ TMPDIR: without }, false);
        expect(control.code, control.stderr).toBe(0);
        expect(control.dir).toBe("none");
        expect(readdirSync(without)).not.toContain("node-compile-cache");
    });

    // The next two hold the module to leaving the operator's settings in charge: its call names no directory
    // of its own and does not get past Node's switch.

    it("is NODE_COMPILE_CACHE's directory when that is set", () => {
        const own = path.join(dir, "own-cache");
        const r = loadWith({ NODE_COMPILE_CACHE: own, TMPDIR: dir });
        expect(r.code, r.stderr).toBe(0);
        expect(r.dir.startsWith(own), r.dir).toBe(true);
    });

    it("is off with NODE_DISABLE_COMPILE_CACHE=1", () => {
        const tmp = mkdtempSync(path.join(dir, "tmp-"));
        const r = loadWith({ NODE_DISABLE_COMPILE_CACHE: "1", TMPDIR: tmp });
        expect(r.code, r.stderr).toBe(0);
        expect(r.dir).toBe("none");
        expect(readdirSync(tmp)).not.toContain("node-compile-cache");
    });

    it("comes before the program's other imports", () => {
        const imports = readFileSync(path.join(ROOT, "index.ts"), "utf8")
            .split("\n")
            .filter((line) => line.startsWith("import "));
        expect(imports[0]).toBe('import "./components/stack/compileCache";');
    });
});
