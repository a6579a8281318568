/**
 * The Debian packages the integration tests need, read from debianPackages.txt (the one list, shared
 * with .ci/run).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

export interface DebianPackage {
    /** Debian/Ubuntu package name. */
    readonly name: string;
    /** The service the package starts on install, which the tests do not want running; undefined for none. */
    readonly service?: string;
    /** Absolute paths of the programs the tests run from this package. */
    readonly programs: readonly string[];
}

export const DEBIAN_PACKAGES_FILE = path.join(__dirname, "debianPackages.txt");

export function debianPackages(): DebianPackage[] {
    return readFileSync(DEBIAN_PACKAGES_FILE, "utf8")
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line && !line.startsWith("#"))
        .map((line) => {
            const [name, service, ...programs] = line.split(/\s+/);
            if (!name || !service || programs.length === 0)
                throw new Error(`${DEBIAN_PACKAGES_FILE}: "${line}" is not "package service program…"`);
            return { name, service: service === "-" ? undefined : service, programs };
        });
}
