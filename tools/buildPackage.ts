/**
 * `npm run build:package` (and `npm pack`, through `prepack`): compiles the package's public surface,
 * components/index.ts, and every module it imports to JavaScript with declarations in dist/
 * (tsconfig.build.json), then copies the files the components read at run time beside the compiled
 * modules: every file of components/ that is not TypeScript (the `sh/` folders' scripts and awk
 * programs), at the same path under dist/, so `path.join(__dirname, "sh", …)` finds them there as it
 * does in the sources. dist/ is rebuilt from nothing each time, so it never holds a module the sources
 * no longer have.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import * as path from "node:path";

const PROJECT_DIR = path.resolve(__dirname, "..");
const SOURCES = path.join(PROJECT_DIR, "components");
const DIST = path.join(PROJECT_DIR, "dist");

/** Every file under `dir` that is not TypeScript, relative to `dir`. */
export function dataFiles(dir: string, under = ""): string[] {
    return readdirSync(path.join(dir, under), { withFileTypes: true }).flatMap((entry) => {
        const relative = path.join(under, entry.name);
        if (entry.isDirectory()) return dataFiles(dir, relative);
        return entry.name.endsWith(".ts") ? [] : [relative];
    });
}

function build(): void {
    rmSync(DIST, { recursive: true, force: true });
    const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
        cwd: PROJECT_DIR,
        stdio: "inherit",
    });
    if (tsc.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${tsc.status})`);
    const files = dataFiles(SOURCES);
    for (const file of files) {
        const target = path.join(DIST, file);
        mkdirSync(path.dirname(target), { recursive: true });
        cpSync(path.join(SOURCES, file), target);
    }
    if (!existsSync(path.join(DIST, "index.js"))) throw new Error("dist/index.js is missing after the build");
    // On stderr: `npm pack --json` runs this first (prepack), and its stdout must stay JSON.
    console.error(`dist/: the compiled public surface and ${files.length} scripts beside it`);
}

if (require.main === module) build();
