/**
 * `npm run consequences -- <preview.json>…` (or the JSON on stdin): what each previewed change will
 * disrupt, per stack, from the output of `pulumi preview --json` (tools/previewConsequences.ts). Prints
 * Markdown, which reads as well in a terminal as in a pull request's comment.
 *
 *   npx pulumi preview --json -s prod > preview-prod.json && npm run --silent consequences -- preview-prod.json
 *
 * `--stack <name>` names the stack when the preview has no step to read it from.
 *
 * With `--stack-file Pulumi.<stack>.yaml` the consequences are also compared with the stack's
 * `dso-registry:disruptionBudget`, and the verdict is printed below them. Over the budget without an
 * approval, the command exits 2 once everything is printed. `--approved-by-label` says the pull request
 * carries the approval label.
 *
 * `--base-stack-file <file>` gives the base branch's stack file, as a pull request's check does: then its
 * budget judges the change, not the one in `--stack-file` (the pull request's), and each key the pull
 * request changes is named, a looser one (or the budget removed) to approve like a change over the budget;
 * its `disruptionBudget.approved` approves nothing any more. A file that does not exist is a stack new in the
 * pull request: the default budget (every key at its strictest) judges it.
 */
import { existsSync, readFileSync } from "node:fs";
import {
    type BudgetInputs,
    budgetOfStackFile,
    budgetVerdict,
    consequencesOfPreviewJson,
    NEW_STACK,
    renderBudgetVerdict,
    renderConsequences,
} from "./previewConsequences";

/** The exit status of a change over its budget that nobody approved. */
const OVER_BUDGET = 2;

function main(argv: readonly string[]): number {
    const files: string[] = [];
    let stack: string | undefined;
    let stackFile: string | undefined;
    let baseStackFile: string | undefined;
    let labelApproved = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i]!;
        if (arg === "--stack") stack = argv[++i];
        else if (arg === "--stack-file") stackFile = argv[++i];
        else if (arg === "--base-stack-file") baseStackFile = argv[++i];
        else if (arg === "--approved-by-label") labelApproved = true;
        else if (arg.startsWith("--")) throw new Error(`consequences: unknown option ${arg}`);
        else files.push(arg);
    }
    const budget = stackFile === undefined ? undefined : budgetOfStackFile(readFileSync(stackFile, "utf8"), stackFile);
    // The base branch's budget judges a pull request; a stack file the base branch does not have is a new stack.
    const base: BudgetInputs["base"] =
        baseStackFile === undefined
            ? undefined
            : existsSync(baseStackFile)
              ? { budget: budgetOfStackFile(readFileSync(baseStackFile, "utf8"), baseStackFile) }
              : NEW_STACK;
    const inputs =
        files.length > 0
            ? files.map((file) => ({ file, text: readFileSync(file, "utf8") }))
            : [{ file: "stdin", text: readFileSync(0, "utf8") }];
    const out: string[] = [];
    let status = 0;
    for (const { file, text } of inputs) {
        try {
            const result = consequencesOfPreviewJson(text);
            const name = stack ?? result.stack;
            let section = renderConsequences(result, name);
            if (stackFile !== undefined) {
                const verdict = budgetVerdict(result, { budget, base, labelApproved });
                section += `\n${renderBudgetVerdict(verdict, name)}`;
                if (!verdict.passes) status = OVER_BUDGET;
            }
            out.push(section);
        } catch (error) {
            throw new Error(`consequences: ${file}: ${(error as Error).message}`);
        }
    }
    process.stdout.write(out.join("\n"));
    return status;
}

try {
    process.exitCode = main(process.argv.slice(2));
} catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
}
