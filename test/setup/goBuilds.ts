/**
 * Global setup of the integration project: builds, before any file starts, what its tests run from Go
 * modules (the pinned Caddy, Distribution 2.8.3 and 3.x, containerd 2, the S3 server, the OCI conformance
 * suite, the kind CLI, Traefik, cosign and oras), each with the script the tests call on first use. Warm, each script only checks its cache (about a
 * second); cold, the builds take minutes, and here they are one step with their own output instead of a
 * hook that runs past its time-out. `npm test` (the `core` project) builds none of them.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

/** The scripts and their arguments (test/setup/goBuilds.txt, which .ci/run reads too). */
export const GO_BUILDS: readonly (readonly string[])[] = readFileSync(path.join(__dirname, "goBuilds.txt"), "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*/, "").trim())
    .filter((line) => line !== "")
    .map((line) => line.split(/\s+/));

/** An error that vitest shows as the message alone. */
function stop(message: string): Error {
    const error = new Error(message);
    error.stack = message;
    return error;
}

export default function setup(): void {
    for (const [script, ...args] of GO_BUILDS) {
        const started = Date.now();
        const result = spawnSync("sh", [path.join(ROOT, script!), ...args, "--quiet"], {
            stdio: ["ignore", "ignore", "pipe"],
            encoding: "utf8",
        });
        if (result.status !== 0) {
            throw stop(`${script} ${args.join(" ")} failed (exit ${result.status ?? result.signal}):\n${result.stderr.trim()}`);
        }
        const seconds = Math.round((Date.now() - started) / 1000);
        if (seconds > 5) console.log(`${script} ${args.join(" ")}: built in ${seconds} s`);
    }
}
