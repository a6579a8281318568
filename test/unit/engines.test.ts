/**
 * The Node versions package.json names (`engines.node`, and the README with it) are ones every locked
 * package accepts: otherwise `npm ci` prints EBADENGINE on the very Node the README tells a newcomer
 * to use.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import semver from "semver";
import { describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const lock = JSON.parse(readFileSync(path.join(root, "package-lock.json"), "utf8"));
const ours: string = pkg.engines.node;

/** The lowest version of each branch of a range such as "^20.19.0 || >=22.12.0": the versions a reader may take at its word. */
function floorsOf(range: string): string[] {
    return new semver.Range(range).set.map((comparators) => semver.minVersion(comparators.map((c) => c.value).join(" "))!.version);
}

describe("engines", () => {
    const floors = floorsOf(ours);

    it.each(floors)("every package npm ci installs accepts Node %s, the lowest a branch of engines.node allows", (version) => {
        const refusing = Object.entries(lock.packages as Record<string, { engines?: { node?: string }; optional?: boolean }>)
            .filter(([name, p]) => name !== "" && !p.optional && p.engines?.node)
            .filter(([, p]) => !semver.satisfies(version, p.engines!.node!))
            .map(([name, p]) => `${name.replace(/^.*node_modules\//, "")} wants node ${p.engines!.node}`);
        expect(refusing).toEqual([]);
    });

    it("the lock file records the same engines as package.json", () => {
        expect(lock.packages[""].engines.node).toBe(ours);
    });

    it("the README names the lowest version of engines.node", () => {
        const readme = readFileSync(path.join(root, "README.md"), "utf8");
        expect(readme).toContain(`Node ${semver.minVersion(ours)!.version.replace(/\.0$/, "")}`);
    });

    it("the workflows run a Node that engines.node accepts", () => {
        for (const file of ["ci.yml", "preview.yml"]) {
            const text = readFileSync(path.join(root, ".github/workflows", file), "utf8");
            for (const [, version] of text.matchAll(/node-version:\s*"?([\d.]+)"?/g)) {
                // `node-version: 20` installs the newest 20.x.
                expect(
                    semver.satisfies(semver.coerce(`${version}.999.999`.split(".").slice(0, 3).join("."))!, ours),
                    `${file}: node ${version}`,
                ).toBe(true);
            }
        }
    });
});
