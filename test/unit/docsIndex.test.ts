/**
 * The documentation index stays complete: docs/README.md links every page and example of docs/ and the
 * decision records' list, and that list (docs/decisions/README.md) names every record with its status. A page
 * or record added without a line there fails here, and so does a line that links a file that does not exist.
 * Covers: docs/README.md, docs/decisions/README.md.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");
const filesIn = (dir: string, ends: readonly string[]) =>
    readdirSync(path.join(ROOT, dir))
        .filter((f) => f !== "README.md" && ends.some((e) => f.endsWith(e)))
        .map((f) => `${dir}/${f}`)
        .sort();

/** The files an index page links (relative links only, anchors dropped), as paths from the repository's root. */
function linkedFiles(index: string): string[] {
    return [...read(index).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
        .map((m) => m[1]!)
        .filter((target) => !/^[a-z]+:/.test(target))
        .map((target) => path.relative(ROOT, path.resolve(ROOT, path.dirname(index), target)));
}

describe("docs/README.md, the documentation index", () => {
    const linked = linkedFiles("docs/README.md");

    it.each([...filesIn("docs", [".md"]), ...filesIn("docs/examples", [".yml", ".yaml"])])("links %s", (page) => {
        expect(linked).toContain(page);
    });

    it("links the decision records' list", () => {
        expect(linked).toContain("docs/decisions/README.md");
    });

    it("links only files that exist", () => {
        expect(linked.length).toBeGreaterThan(0);
        expect(linked.filter((file) => !existsSync(path.join(ROOT, file)))).toEqual([]);
    });
});

describe("docs/decisions/README.md, the decision records with their status", () => {
    /** The table's rows: the record each links and its status cell. */
    const rows = read("docs/decisions/README.md")
        .split("\n")
        .filter((line) => /^\| \[/.test(line))
        .map((line) => {
            const cells = line.split("|").map((c) => c.trim());
            const record = /\]\(([^)#\s]+)\)/.exec(cells[1]!)?.[1];
            return { record: record && `docs/decisions/${record}`, status: cells.at(-2)!.replace(/\*\*/g, "") };
        });

    it.each(filesIn("docs/decisions", [".md"]))("lists %s", (record) => {
        expect(rows.map((r) => r.record)).toContain(record);
    });

    it("lists only records that exist, each once", () => {
        const records = rows.map((r) => r.record);
        expect(records.length).toBeGreaterThan(0);
        expect(records.filter((r) => r === undefined || !existsSync(path.join(ROOT, r)))).toEqual([]);
        expect(new Set(records).size).toBe(records.length);
    });

    it("gives each record a status: in force, or superseded by what replaced it", () => {
        expect(rows.filter((r) => !/^(in force|superseded by \S.*)$/.test(r.status))).toEqual([]);
    });
});
