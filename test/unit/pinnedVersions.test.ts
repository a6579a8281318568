/**
 * The versions the stacks deploy and the versions the tests build are one fact: the wrapper modules that
 * build the tests' Caddy (tools/engine/caddy) and Distribution 3 (tools/distribution/v3) require exactly
 * the versions of `registry.caddyImage`'s and `registry.image`'s default tags; Distribution 2
 * (tools/distribution/v2) is 2.8.3, the image of the stacks made before registry:3, which the upgrade
 * and rollback tests run.
 * Covers: components/config/schema/registry.ts (the default image tags).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { registry } from "../../components/config/schema/registry";

const root = path.resolve(__dirname, "../..");

describe("pinned versions", () => {
    it("tools/engine/caddy builds the Caddy of registry.caddyImage's default tag", () => {
        const image: string = registry.shape.caddyImage.parse(undefined);
        const goMod = readFileSync(path.join(root, "tools/engine/caddy/go.mod"), "utf8");
        const required = /^require github\.com\/caddyserver\/caddy\/v2 v(\S+)$/m.exec(goMod)?.[1];
        expect(image).toMatch(/^caddy:\d+\.\d+\.\d+$/);
        expect(required).toBe(image.replace(/^caddy:/, ""));
    });

    it("tools/distribution/v3 builds the Distribution of registry.image's default tag", () => {
        const image: string = registry.shape.image.parse(undefined);
        const goMod = readFileSync(path.join(root, "tools/distribution/v3/go.mod"), "utf8");
        const required = /^require github\.com\/distribution\/distribution\/v3 v(\S+)$/m.exec(goMod)?.[1];
        expect(image).toMatch(/^registry:3\.\d+\.\d+$/);
        expect(required).toBe(image.replace(/^registry:/, ""));
    });

    it("tools/distribution/v2 builds 2.8.3, the last Distribution 2, that the upgrade and rollback tests start from", () => {
        const goMod = readFileSync(path.join(root, "tools/distribution/v2/go.mod"), "utf8");
        expect(/^\s*github\.com\/docker\/distribution v(\S+)\+incompatible$/m.exec(goMod)?.[1]).toBe("2.8.3");
    });
});
