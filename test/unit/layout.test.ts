/**
 * The layout table (docs/contributing.md, Layout) names every folder a newcomer finds: each top-level
 * folder, each folder of components/ and each of tools/. A folder added without a line there fails here.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const readme = readFileSync(path.join(ROOT, "docs/contributing.md"), "utf8");
const layout = readme.slice(readme.indexOf("## Layout"), readme.indexOf("\n#", readme.indexOf("## Layout") + 1));

/** The folders directly under `dir` that hold files of the repository (what git tracks: no build output, no node_modules). */
const tracked = execFileSync("git", ["-C", ROOT, "ls-files"], { encoding: "utf8" }).split("\n").filter(Boolean);
const folders = (dir: string) => {
    const prefix = dir === "." ? "" : `${dir}/`;
    const names = tracked
        .filter((file) => file.startsWith(prefix))
        .map((file) => file.slice(prefix.length).split("/"))
        .filter((parts) => parts.length > 1 && !parts[0]!.startsWith("."))
        .map((parts) => parts[0]!);
    return [...new Set(names)].sort();
};

describe("the layout table", () => {
    it("is there, as a table", () => {
        expect(layout).toMatch(/\| path \| what \|/);
    });

    it.each(folders("."))("names the top-level folder %s/", (folder) => {
        expect(layout).toMatch(new RegExp(`\`${folder}/`));
    });

    it.each(folders("components"))("names components/%s/", (folder) => {
        // As a path, or in the placement or feature list of the table.
        expect(layout).toMatch(new RegExp(`\`components/${folder}/\`|\`${folder}\``));
    });

    it.each(folders("tools"))("names tools/%s/", (folder) => {
        expect(layout).toContain(`\`tools/${folder}/\``);
    });
});
