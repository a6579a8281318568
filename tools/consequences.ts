/**
 * `npm run consequences -- <preview.json>…` (or the JSON on stdin): what each previewed change will
 * disrupt, per stack, from the output of `pulumi preview --json` (tools/previewConsequences.ts). Prints
 * Markdown, which reads as well in a terminal as in a pull request's comment.
 *
 *   npx pulumi preview --json -s prod > preview-prod.json && npm run --silent consequences -- preview-prod.json
 *
 * `--stack <name>` names the stack when the preview has no step to read it from.
 */
import { readFileSync } from "node:fs";
import { consequencesOfPreviewJson, renderConsequences } from "./previewConsequences";

function main(argv: readonly string[]): void {
    const files: string[] = [];
    let stack: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === "--stack") stack = argv[++i];
        else files.push(argv[i]!);
    }
    const inputs =
        files.length > 0
            ? files.map((file) => ({ file, text: readFileSync(file, "utf8") }))
            : [{ file: "stdin", text: readFileSync(0, "utf8") }];
    const out: string[] = [];
    for (const { file, text } of inputs) {
        try {
            const result = consequencesOfPreviewJson(text);
            out.push(renderConsequences(result, stack ?? result.stack));
        } catch (error) {
            throw new Error(`consequences: ${file}: ${(error as Error).message}`);
        }
    }
    process.stdout.write(out.join("\n"));
}

try {
    main(process.argv.slice(2));
} catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
}
