/**
 * Component type tokens (components/shared/typeToken.ts) say where the component's code is: every `dso-registry:<folder>:<Class>` in the
 * committed stacks' URNs names a component class declared in components/<folder>/, and the tokens are made by
 * one function (components/shared/typeToken.ts), not written out.
 */
import { readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT } from "../../components/shared/facts";
import { committedSynthDir } from "../support/committedSynth";
import { COMMITTED_STACKS, PROJECT_DIR } from "../support/synthCli";

const COMPONENTS = path.join(PROJECT_DIR, "components");

/** The `.ts` files of components/, relative to it. */
function componentFiles(): string[] {
    return readdirSync(COMPONENTS, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
}

/** The component classes declared in each folder of components/. */
function classesByFolder(): Map<string, Set<string>> {
    const byFolder = new Map<string, Set<string>>();
    for (const file of componentFiles()) {
        const folder = file.split(path.sep)[0] as string;
        const source = readFileSync(path.join(COMPONENTS, file), "utf8");
        for (const m of source.matchAll(/export class (\w+) extends pulumi\.ComponentResource\b/g)) {
            byFolder.set(folder, (byFolder.get(folder) ?? new Set()).add(m[1] as string));
        }
    }
    return byFolder;
}

describe("component type tokens", () => {
    const classes = classesByFolder();

    it.each(COMMITTED_STACKS)("of the committed %s stack each name a component class of their folder", (stack) => {
        const rows = JSON.parse(readFileSync(path.join(committedSynthDir(stack), "resources.json"), "utf8")) as { urn: string }[];
        const tokens = new Set(rows.flatMap((r) => (r.urn.split("::")[2] as string).split("$")).filter((t) => t.startsWith(`${PROJECT}:`)));
        expect(tokens.size).toBeGreaterThan(0);
        const misplaced = [...tokens].filter((token) => {
            const [, folder, name] = token.split(":") as [string, string, string];
            return !classes.get(folder)?.has(name);
        });
        expect(misplaced, "tokens whose folder has no component class of that name").toEqual([]);
    });

    it("are never written out in a component's source", () => {
        const written = componentFiles().filter(
            (file) =>
                file !== path.join("shared", "typeToken.ts") &&
                new RegExp(`"${PROJECT}:\\w+:\\w+"`).test(
                    // Former tokens stay written out: they are what older states hold.
                    readFileSync(path.join(COMPONENTS, file), "utf8").replace(/withFormerType\([^)]*\)/g, ""),
                ),
        );
        expect(written).toEqual([]);
    });
});
