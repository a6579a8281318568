import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { configShape, secretNames } from "../../components/config";
import { renderConfigReference } from "../../tools/configReference";

const readme = readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");

describe("README", () => {
    it("holds the configuration reference generated from the schema (run `npm run docs` after changing it)", () => {
        expect(readme).toContain(renderConfigReference());
    });

    it("documents every top-level key and every secret", () => {
        for (const key of [...Object.keys(configShape), ...secretNames]) expect(readme).toContain(`\`dso-registry:${key}\``);
    });

    it("gives the two newcomer commands that package.json provides", () => {
        const scripts = JSON.parse(readFileSync(path.resolve(__dirname, "../../package.json"), "utf8")).scripts;
        expect(scripts.synth).toBeDefined();
        expect(scripts.test).toBeDefined();
        expect(readme).toContain("npm ci && npm run synth -- --stack local");
        expect(readme).toContain("npm test");
    });

    it("links only docs pages that exist", () => {
        for (const [, target] of readme.matchAll(/\]\((docs\/[^)#]+)\)/g)) {
            expect(() => readFileSync(path.resolve(__dirname, "../..", target!)), target).not.toThrow();
        }
    });
});
