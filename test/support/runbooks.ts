/**
 * The commands of docs/runbooks.md, as the page has them, for tests that run a section as an operator would:
 * a test asks for a command by how it starts and runs what the page says, so a command changed on the page
 * is what the test runs (or the test fails to find it), never a copy kept in the test.
 *
 * A section is a `## ` heading and everything up to the next one (its `### ` subsections included). Its
 * commands are the lines of its ```sh blocks (a line that is only a comment skipped, a trailing `  # …`
 * comment cut) and its inline code spans that look like a command.
 *
 * Usage:
 *   const gc = runbookCommand("Disk full", "sudo dso-registry-gc");
 *   const probe = fillPlaceholders(runbookCommand("TLS renewal failed", "echo | openssl s_client"), { "registry host": REGISTRY });
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

const PAGE = path.join(__dirname, "..", "..", "docs", "runbooks.md");

export interface RunbookSection {
    readonly title: string;
    /** The section's text, from its heading to the next `## ` heading. */
    readonly text: string;
    /** The lines of its ```sh blocks that are commands, in order. */
    readonly blockCommands: readonly string[];
    /** Its inline code spans, in order. */
    readonly inline: readonly string[];
}

/** Every `## ` section of the page, in order. */
export function runbookSections(page = readFileSync(PAGE, "utf8")): RunbookSection[] {
    const sections: RunbookSection[] = [];
    const parts = page.split(/^## /m).slice(1);
    for (const part of parts) {
        const title = (part.split("\n", 1)[0] as string).trim();
        const text = `## ${part}`;
        const blockCommands: string[] = [];
        for (const block of text.matchAll(/^```(?:sh|bash)\n([\s\S]*?)^```/gm)) {
            for (const raw of (block[1] as string).split("\n")) {
                const line = raw.replace(/\s{2,}#\s.*$/, "").trim();
                if (line === "" || line.startsWith("#")) continue;
                blockCommands.push(line);
            }
        }
        const prose = text.replace(/^```[\s\S]*?^```/gm, "");
        const inline = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] as string);
        sections.push({ title, text, blockCommands, inline });
    }
    return sections;
}

/** The section titled `title` (its `## ` heading); throws when the page has none. */
export function runbookSection(title: string): RunbookSection {
    const all = runbookSections();
    const found = all.find((s) => s.title === title);
    if (!found) throw new Error(`docs/runbooks.md has no section "## ${title}" (it has: ${all.map((s) => s.title).join(", ")})`);
    return found;
}

/**
 * The one command of section `title` that starts with `start` (its ```sh blocks first, then its inline code
 * spans), or the command that is exactly `start`. Throws when none does, or when several different ones do
 * and `nth` is not given.
 */
export function runbookCommand(title: string, start: string, nth?: number): string {
    const section = runbookSection(title);
    const fromBlocks = section.blockCommands.filter((c) => c.startsWith(start));
    const candidates = fromBlocks.length > 0 ? fromBlocks : section.inline.filter((c) => c.startsWith(start));
    const distinct = [...new Set(candidates)];
    // A command given whole is that command, even when longer ones start with it.
    if (distinct.includes(start) && nth === undefined) return start;
    if (distinct.length === 0) throw new Error(`docs/runbooks.md, "${title}": no command starts with "${start}"`);
    if (nth !== undefined) {
        const picked = distinct[nth];
        if (picked === undefined) throw new Error(`docs/runbooks.md, "${title}": fewer than ${nth + 1} commands start with "${start}"`);
        return picked;
    }
    if (distinct.length > 1)
        throw new Error(`docs/runbooks.md, "${title}": ${distinct.length} commands start with "${start}":\n${distinct.join("\n")}`);
    return distinct[0] as string;
}

/**
 * `command` with each `<name>` placeholder replaced by `values[name]`; throws when a placeholder is left
 * without a value (a test must not run `<registry host>` literally).
 */
export function fillPlaceholders(command: string, values: Readonly<Record<string, string>>): string {
    const filled = command.replace(/<([a-z][a-z -]*)>/g, (whole, name: string) => values[name] ?? whole);
    const left = filled.match(/<[a-z][a-z -]*>/);
    if (left) throw new Error(`no value for ${left[0]} in: ${command}`);
    return filled;
}
