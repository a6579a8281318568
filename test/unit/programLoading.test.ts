/**
 * How the Pulumi CLI loads the program: Pulumi.yaml names tsconfig.pulumi.json, tsconfig.json with noCheck, so
 * that the SDK's runner (@pulumi/pulumi cmd/run/run.js) registers ts-node to transpile without a type-check
 * (`npm run build` type-checks). The runner reads that file's own compilerOptions (not what it extends) and puts
 * its defaults (target ES2020, module and moduleResolution nodenext) under them: the file repeats the ones of
 * tsconfig.json that those defaults would otherwise replace.
 * Covers: Pulumi.yaml, tsconfig.pulumi.json.
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";

const PROJECT_DIR = path.resolve(__dirname, "../..");
const json = (file: string) => JSON.parse(readFileSync(path.join(PROJECT_DIR, file), "utf8"));

describe("the program as the Pulumi CLI loads it", () => {
    it("Pulumi.yaml names tsconfig.pulumi.json, which extends tsconfig.json", () => {
        const project = YAML.parse(readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8"));
        expect(project.runtime.options).toMatchObject({ typescript: true, tsconfig: "tsconfig.pulumi.json" });
        expect(json("tsconfig.pulumi.json").extends).toBe("./tsconfig.json");
    });

    it("the SDK's runner reads noCheck from it, with tsconfig.json's target, module and moduleResolution", () => {
        // The runner's own reading of the file (what it gives ts-node on top of its defaults).
        const { loadTypeScriptCompilerOptions } = require("@pulumi/pulumi/tsutils") as {
            loadTypeScriptCompilerOptions(file: string): Record<string, unknown>;
        };
        const read = loadTypeScriptCompilerOptions(path.join(PROJECT_DIR, "tsconfig.pulumi.json"));
        const base = json("tsconfig.json").compilerOptions;
        expect(read).toEqual({ target: base.target, module: base.module, moduleResolution: base.moduleResolution, noCheck: true });
    });
});
