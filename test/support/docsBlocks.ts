/**
 * Blocks of a docs page as the page has them, for tests that use what a reader copies: the fenced block of
 * a language that holds a given text, its indentation removed (a block inside a list item is indented).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";

/** The ```<language> block of docs/<page> that contains `containing`; fails when there is none or more than one. */
export function docsBlock(page: string, language: string, containing: string): string {
    const text = readFileSync(path.join(__dirname, "..", "..", "docs", page), "utf8");
    const blocks = [...text.matchAll(new RegExp(`^([ \\t]*)\`\`\`${language}\\n([\\s\\S]*?)^\\1\`\`\``, "gm"))]
        .map((m) => {
            const indent = m[1] as string;
            return (m[2] as string)
                .split("\n")
                .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
                .join("\n");
        })
        .filter((block) => block.includes(containing));
    if (blocks.length !== 1) throw new Error(`docs/${page}: ${blocks.length} \`\`\`${language} blocks hold "${containing}", not one`);
    return blocks[0] as string;
}
