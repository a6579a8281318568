/**
 * What the project's pages say, for tests that hold the pages to the program: the pages a reader reads
 * (README.md and docs/), their lines with the fenced block each is in, and the stack outputs they tell a
 * reader to read (`pulumi stack output <name>`), with the files and lines that name them.
 * Used by test/unit/docsNamesReal.test.ts (the names are real) and the engine tests that read each named
 * output on a deployed stack.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";

export const ROOT = path.resolve(__dirname, "../..");

/** Files under `dir` (relative to the project) whose names end with one of `ends`, recursively. */
export function filesUnder(dir: string, ends: readonly string[]): string[] {
    return readdirSync(path.join(ROOT, dir)).flatMap((entry) => {
        const rel = path.join(dir, entry);
        if (statSync(path.join(ROOT, rel)).isDirectory()) return filesUnder(rel, ends);
        return ends.some((e) => entry.endsWith(e)) ? [rel] : [];
    });
}

export const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

/** The pages a reader reads: the README and every page under docs/. */
export const PAGES = ["README.md", ...filesUnder("docs", [".md"])];

/** A name found on a page: where, and what. */
export interface Mention {
    readonly file: string;
    readonly line: number;
    readonly name: string;
}
export const where = (m: Mention) => `${m.file}:${m.line}`;

/** A line of a page: its number (from 1), its text, and the language of the fenced block it is in ("" outside one). */
export interface PageLine {
    readonly line: number;
    text: string;
    readonly fence: string;
}

/** A page's lines; commands a backslash continues are joined onto their first line. */
export function pageLines(file: string): PageLine[] {
    const out: PageLine[] = [];
    let fence: string | undefined;
    read(file)
        .split("\n")
        .forEach((text, i) => {
            const marker = /^\s*```\s*([\w-]*)/.exec(text);
            if (marker) {
                fence = fence === undefined ? marker[1]! : undefined;
                return;
            }
            const last = out.at(-1);
            if (last?.text.endsWith("\\")) last.text = `${last.text.slice(0, -1)} ${text.trim()}`;
            else out.push({ line: i + 1, text, fence: fence ?? "" });
        });
    return out;
}

/** Where an output may be named: the pages, the workflows, the examples and the config module's messages. */
export const OUTPUT_READ_FILES = [
    ...PAGES,
    ...filesUnder("docs", [".yml", ".yaml"]),
    ...filesUnder(".github", [".yml", ".yaml"]),
    ...filesUnder("examples", [".ts", ".md", ".yaml"]),
    ...filesUnder("components/config", [".ts"]),
];

/** `pulumi stack output [flags] NAME`, with the flags the docs use before the name. */
const OUTPUT_COMMAND = /pulumi stack output((?:\s+(?:--show-secrets|--json|(?:-s|--stack)\s+\S+))*)\s+([a-z][A-Za-z]+)/g;

export function outputMentions(): Mention[] {
    return OUTPUT_READ_FILES.flatMap((file) =>
        pageLines(file).flatMap(({ line, text }) => [...text.matchAll(OUTPUT_COMMAND)].map((m) => ({ file, line, name: m[2]! }))),
    );
}
