/**
 * The npm dependencies of an earlier version of the program, as its own package-lock.json resolves them: what
 * a stack that version deployed was run with. The upgrade test (test/engine/upgrade.test.ts) runs the earlier
 * program on them, not on this checkout's node_modules, whose newer packages (TypeScript's major, say) the
 * earlier program's files were not written for. Installed once per lock file into a cache outside the
 * checkout (`$XDG_CACHE_HOME`, or ~/.cache, then dso-registry/baseline-deps/<hash of the lock>), with the
 * tests' Node (tools/node/run.sh); parallel callers take turns on a lock (flock), and an install appears whole
 * or not at all. `--ignore-scripts`: the providers' install scripts would download their plugins, which the
 * engine tier builds instead (tools/engine/build.sh).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import { runOk } from "./serverProcess";
import { PROJECT_DIR } from "./synthCli";

const INSTALL = `
set -eu
dir=$1 commit=$2 project=$3
[ ! -d "$dir" ] || exit 0
partial=$dir.partial
rm -rf "$partial"
mkdir -p "$partial"
git -C "$project" show "$commit:package.json" > "$partial/package.json"
git -C "$project" show "$commit:package-lock.json" > "$partial/package-lock.json"
sh "$project/tools/node/run.sh" npm ci --prefix "$partial" --ignore-scripts --no-audit --no-fund --fetch-retries=5 --loglevel=error >&2
mv "$partial" "$dir"
`;

/** The node_modules directory of `commit`'s dependencies, installed on the first call for its lock file. */
export function baselineNodeModules(commit: string): string {
    const lock = execFileSync("git", ["-C", PROJECT_DIR, "show", `${commit}:package-lock.json`], { maxBuffer: 64 * 1024 * 1024 });
    const key = createHash("sha256").update(lock).digest("hex").slice(0, 16);
    const dir = path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "dso-registry/baseline-deps", key);
    if (!existsSync(dir)) {
        mkdirSync(path.dirname(dir), { recursive: true });
        runOk("flock", [path.join(path.dirname(dir), ".install.lock"), "sh", "-c", INSTALL, "sh", dir, commit, PROJECT_DIR], {
            timeout: 15 * 60_000,
        });
    }
    return path.join(dir, "node_modules");
}
