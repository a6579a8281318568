/**
 * .dependency-cruiser.cjs: every folder of components/ is in exactly one of its layers, so a new folder
 * cannot escape the import rules (a folder in no layer is checked by no rule but the circles), and
 * docs/architecture.md names each placement and feature folder.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const rules = readFileSync(path.join(ROOT, ".dependency-cruiser.cjs"), "utf8");

/** The folders a layer constant of the rules file names: `const PLACEMENTS = "(a|b)";`. */
function layer(name: string): string[] {
    const m = new RegExp(`const ${name} = "\\(([^)]*)\\)";`).exec(rules);
    if (!m) throw new Error(`.dependency-cruiser.cjs has no layer ${name}`);
    return m[1]!.split("|");
}

const layers = { placements: layer("PLACEMENTS"), features: layer("FEATURES"), wiring: layer("WIRING"), bottom: layer("BOTTOM") };
const folders = readdirSync(path.join(ROOT, "components"), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

describe("import rules", () => {
    it("every folder of components/ is in exactly one layer, and every layer's folder exists", () => {
        const classified = Object.values(layers).flat();
        for (const folder of folders)
            expect(
                classified.filter((f) => f === folder),
                folder,
            ).toHaveLength(1);
        expect(classified.filter((f) => !folders.includes(f))).toEqual([]);
    });

    it("docs/architecture.md lists each placement and feature folder", () => {
        const doc = readFileSync(path.join(ROOT, "docs/architecture.md"), "utf8");
        const listed = (heading: string) => {
            // The bullet's first sentence, over its continuation lines: the list, before what it says of them.
            const bullet = new RegExp(`^- \\*\\*${heading}\\*\\*.*(?:\\n {2}.*)*`, "m").exec(doc)?.[0] ?? "";
            const list = bullet.split(/\.(?:\s|$)/)[0] ?? "";
            return [...list.matchAll(/`(\w+)\/`/g)].map((m) => m[1]!).sort();
        };
        expect(listed("placements")).toEqual([...layers.placements].sort());
        expect(listed("features")).toEqual([...layers.features].sort());
    });
});
