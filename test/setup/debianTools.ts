/**
 * Global setup of every project that runs installed programs: the Debian packages the project needs are
 * installed before any of its tests start. `npm test`'s projects (unit and core) need only those of
 * test/support/debianPackages.core.txt, so a newcomer's first run installs no more; the integration and
 * engine projects need those and test/support/debianPackages.txt's. test/support/install-debian-packages.sh
 * decides and installs, the same script .ci/run runs; when it cannot install (not root, not Debian or
 * Ubuntu) the run stops at once with its message, which names the command to run.
 */

import { spawnSync } from "node:child_process";
import * as path from "node:path";
import type { TestProject } from "vitest/node";

const INSTALL_SCRIPT = path.join(__dirname, "../support/install-debian-packages.sh");

/** The projects `npm test` runs, which need the core list alone. */
const CORE_PROJECTS = new Set(["unit", "core"]);

/** An error that vitest shows as the message alone: the stack trace of a setup file helps nobody here. */
function stop(message: string): Error {
    const error = new Error(message);
    error.stack = message;
    return error;
}

export default function setup(project: TestProject): void {
    const lists = CORE_PROJECTS.has(project.name) ? "core" : "all";
    // What it installs is shown as it goes; its explanation of a failure (stderr) becomes the error.
    const result = spawnSync("sh", [INSTALL_SCRIPT, lists], { stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });
    if (result.error) throw stop(`could not run ${INSTALL_SCRIPT}: ${result.error.message}`);
    if (result.status !== 0) {
        throw stop(result.stderr.trim() || `${INSTALL_SCRIPT} ${lists} failed (exit ${result.status ?? result.signal}) without saying why`);
    }
    process.stderr.write(result.stderr);
}
