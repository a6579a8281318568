/**
 * Global setup of the integration tests: the Debian packages they need (test/support/debianPackages.txt)
 * are installed before any test starts. test/support/install-debian-packages.sh decides and installs, the
 * same script .ci/run runs; when it cannot install (not root, not Debian or Ubuntu) the run stops at once
 * with its message, which names the command to run.
 */

import { spawnSync } from "node:child_process";
import * as path from "node:path";

const INSTALL_SCRIPT = path.join(__dirname, "../support/install-debian-packages.sh");

/** An error that vitest shows as the message alone: the stack trace of a setup file helps nobody here. */
function stop(message: string): Error {
    const error = new Error(message);
    error.stack = message;
    return error;
}

export default function setup(): void {
    // What it installs is shown as it goes; its explanation of a failure (stderr) becomes the error.
    const result = spawnSync("sh", [INSTALL_SCRIPT], { stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });
    if (result.error) throw stop(`could not run ${INSTALL_SCRIPT}: ${result.error.message}`);
    if (result.status !== 0) {
        throw stop(result.stderr.trim() || `${INSTALL_SCRIPT} failed (exit ${result.status ?? result.signal}) without saying why`);
    }
    process.stderr.write(result.stderr);
}
