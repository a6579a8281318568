/**
 * `npm run identity:record [-- --stack <name>] [--allow-removals]`: writes test/identity/<stack>.txt,
 * the resource identities (URNs and the URNs their aliases name) the program gives each stack, as the
 * synth records them in resources.json. Every stack file of the project when no --stack is given.
 *
 * A recorded identity that is gone must be taken over by a resource whose alias names it (the engine
 * then moves its state); otherwise `pulumi up` deletes it, and the record is only rewritten with
 * --allow-removals, for a resource that really goes away. A unit test (test/unit/identity.test.ts)
 * compares the record with the synth of each committed stack.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ConfigError } from "../components/config";
import {
    driftLines,
    identitiesOf,
    parseRecord,
    RECORD_COMMAND,
    type ResourceRow,
    recordPath,
    recordText,
    unmovedRemovals,
} from "./identity";
import { synthesize } from "./synth";

const PROJECT_DIR = path.resolve(__dirname, "..");

const USAGE = `Usage: ${RECORD_COMMAND} [-- --stack <name> ...] [--allow-removals]`;

function parseArgs(argv: readonly string[]): { stacks: string[]; allowRemovals: boolean } {
    const stacks: string[] = [];
    let allowRemovals = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i]!;
        if (arg === "--allow-removals") allowRemovals = true;
        else if (arg === "--stack" && argv[i + 1]) stacks.push(argv[++i]!);
        else throw new Error(`unknown argument "${arg}". ${USAGE}`);
    }
    return { stacks, allowRemovals };
}

/** The stacks with a stack file in the project. */
function stackFiles(projectDir: string): string[] {
    return readdirSync(projectDir)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => Boolean(s))
        .sort();
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const stacks = args.stacks.length > 0 ? args.stacks : stackFiles(PROJECT_DIR);
    const records: { stack: string; file: string; text: string; lines: string[] }[] = [];
    const refused: string[] = [];
    // Every stack is checked before any record is written, so a refusal leaves all records as they were.
    for (const stack of stacks) {
        const synth = await synthesize(PROJECT_DIR, stack);
        const current = identitiesOf(JSON.parse(synth.files.get("resources.json")!) as ResourceRow[]);
        const file = recordPath(PROJECT_DIR, stack);
        const recorded = existsSync(file) ? parseRecord(readFileSync(file, "utf8")) : undefined;
        const removals = recorded ? unmovedRemovals(recorded, current) : [];
        if (removals.length > 0 && !args.allowRemovals) {
            refused.push(...removals.map((urn) => `${stack}: ${urn}`));
        }
        const lines = recorded ? driftLines(recorded, current) : [`${current.length} identities, the first record`];
        records.push({ stack, file, text: recordText(stack, current), lines });
    }
    if (refused.length > 0) {
        throw new Error(
            [
                "These recorded resources are gone and no resource has an alias naming them, so `pulumi up` would delete them:",
                ...refused.map((line) => `  ${line}`),
                'If a resource was renamed, retyped or moved, give the new one `aliases: [{ type: "<former type>" }]` (or `name`, `parent`) and run this again.',
                `If it really goes away, run: ${RECORD_COMMAND} -- --allow-removals`,
            ].join("\n"),
        );
    }
    for (const { stack, file, text, lines } of records) {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, text);
        console.log(`identity: stack ${stack}: ${path.relative(process.cwd(), file)}${lines.length === 0 ? " unchanged" : ""}`);
        for (const line of lines) console.log(`  ${line}`);
    }
}

if (require.main === module) {
    main().then(
        () => process.exit(0),
        (error: unknown) => {
            console.error(
                error instanceof ConfigError
                    ? error.message
                    : `identity:record failed: ${error instanceof Error ? error.message : String(error)}`,
            );
            process.exit(1);
        },
    );
}
