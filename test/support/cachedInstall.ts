/**
 * Installs that the tests make once into the project's cache outside the checkout (`$XDG_CACHE_HOME`, or
 * ~/.cache, then dso-registry/…): Renovate (test/support/renovate.ts), an earlier release's npm dependencies
 * (test/support/baselineDependencies.ts). Parallel callers take turns on a lock (flock) beside the install,
 * and an install script writes `<dir>.partial` and moves it to `<dir>` when done, so an install appears whole
 * or not at all, and a caller that waited finds the finished one.
 */
import { existsSync, mkdirSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import { runOk } from "./serverProcess";

/** A directory of the project's cache: `$XDG_CACHE_HOME` (or ~/.cache)/dso-registry/<parts>. */
export function projectCacheDir(...parts: string[]): string {
    return path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "dso-registry", ...parts);
}

/**
 * Runs the shell script `script` with `dir` and `args` as its arguments, under the lock of `dir`'s parent,
 * unless `dir` is there already. The script must itself exit at once when `dir` exists (another caller made
 * it while this one waited). Returns the script's standard output, or undefined when nothing ran.
 */
export function installOnce(dir: string, script: string, args: readonly string[]): string | undefined {
    if (existsSync(dir)) return undefined;
    mkdirSync(path.dirname(dir), { recursive: true });
    return runOk("flock", [path.join(path.dirname(dir), ".install.lock"), "sh", "-c", script, "sh", dir, ...args], {
        timeout: 15 * 60_000,
    }).stdout;
}
