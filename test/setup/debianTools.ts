/**
 * Global setup of the integration tests: the Debian programs they run (test/support/debianPackages.txt)
 * are there before any test starts. Missing ones are installed with apt-get when the tests run as root
 * on Debian or Ubuntu, and the services those packages start are stopped again (the tests start private
 * instances on loopback). Anywhere else the run stops at once with the command that installs them.
 */

import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { type DebianPackage, debianPackages } from "../support/debianPackages";

const APT_GET = "/usr/bin/apt-get";

function isExecutable(file: string): boolean {
    try {
        accessSync(file, constants.X_OK);
        return true;
    } catch {
        return false;
    }
}

const missingPrograms = (packages: readonly DebianPackage[]) =>
    packages.flatMap((p) => p.programs.filter((program) => !isExecutable(program)));

/** An error that vitest shows as the message alone: the stack trace of a setup file helps nobody here. */
function stop(message: string): Error {
    const error = new Error(message);
    error.stack = message;
    return error;
}

function aptGet(args: readonly string[]): void {
    const result = spawnSync(APT_GET, ["-qq", ...args], { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, encoding: "utf8" });
    if (result.status !== 0) {
        throw stop(`apt-get ${args.join(" ")} failed (exit ${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
    }
}

export default function setup(): void {
    const packages = debianPackages();
    const missing = packages.filter((p) => missingPrograms([p]).length > 0);
    if (missing.length === 0) return;
    const names = missing.map((p) => p.name).join(" ");
    const what = `The integration tests run programs that are not installed: ${missingPrograms(missing).join(", ")}.`;
    const unitOnly = "(`npm run test:unit` needs none of them.)";
    if (!isExecutable(APT_GET)) {
        throw stop(
            `${what}\nThis machine has no apt-get: install them with its package manager (Debian package names: ${names}), then run the tests again. ${unitOnly}`,
        );
    }
    if (process.getuid?.() !== 0) {
        throw stop(`${what}\nInstall them with:\n\n    sudo apt-get install -y ${names}\n\nthen run the tests again. ${unitOnly}`);
    }
    console.log(`integration tests: installing the Debian packages they need: ${names}`);
    aptGet(["update"]);
    aptGet(["install", "-y", ...missing.map((p) => p.name)]);
    for (const service of missing.flatMap((p) => (p.service ? [p.service] : []))) {
        spawnSync("service", [service, "stop"], { stdio: "ignore" });
    }
    const still = missingPrograms(missing);
    if (still.length > 0) throw stop(`apt-get installed ${names}, but these programs are still missing: ${still.join(", ")}.`);
    console.log("integration tests: installed; the packages' own services are stopped (the tests start their own on loopback).");
}
