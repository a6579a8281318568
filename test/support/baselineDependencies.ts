/**
 * The npm dependencies of an earlier version of the program, as its own package-lock.json resolves them: what
 * a stack that version deployed was run with. The upgrade test (test/engine/upgrade.test.ts) runs the earlier
 * program on them, not on this checkout's node_modules, whose newer packages (TypeScript's major, say) the
 * earlier program's files were not written for. Installed once per lock file into a cache outside the
 * checkout (dso-registry/baseline-deps/<hash of the lock>, test/support/cachedInstall.ts), with the tests'
 * Node (tools/node/run.sh). `--ignore-scripts`: the providers' install scripts would download their plugins, which the
 * engine tier builds instead (tools/engine/build.sh).
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as path from "node:path";
import { installOnce, projectCacheDir } from "./cachedInstall";
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
    const dir = projectCacheDir("baseline-deps", createHash("sha256").update(lock).digest("hex").slice(0, 16));
    installOnce(dir, INSTALL, [commit, PROJECT_DIR]);
    return path.join(dir, "node_modules");
}
