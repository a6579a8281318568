/**
 * Global setup of the integration project: builds, before any file starts, what its tests run from Go
 * modules (the pinned Caddy, Distribution 2.8.3 and 3.x, containerd 2, the S3 server, the OCI conformance
 * suite, the kind CLI, Traefik, cosign and oras), each with the script the tests call on first use. Warm, each script only checks its cache (about a
 * second); cold, the builds take minutes, and here they are one step with their own output instead of a
 * hook that runs past its time-out. `npm test` (the `core` project) builds none of them.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

/** The scripts and their arguments, in the order the slowest test files need them. */
export const GO_BUILDS: readonly (readonly string[])[] = [
    ["tools/distribution/build.sh"],
    ["tools/engine/build.sh", "--caddy"],
    ["tools/containerd2/build.sh"],
    ["tools/s3/build.sh"],
    ["tools/conformance/build.sh"],
    ["tools/kind/build.sh"],
    ["tools/traefik/build.sh"],
    ["tools/supplychain/build.sh"],
];

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
