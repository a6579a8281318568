/**
 * The versions the stacks deploy and the versions the tests build are one fact: the wrapper module that
 * builds the tests' Caddy (tools/engine/caddy) requires exactly the version of `registry.caddyImage`'s
 * default tag.
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
});
