import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { configShape, secretNames } from "../../components/config";
import { REFERENCE_PAGE, renderConfigReference } from "../../tools/configReference";

const root = path.resolve(__dirname, "../..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const readme = read("README.md");

describe("README", () => {
    it("gives the two newcomer commands that package.json provides", () => {
        const scripts = JSON.parse(read("package.json")).scripts;
        expect(scripts.synth).toBe("tsx tools/synth.ts");
        expect(readme).toContain("npm ci && npm run synth -- --stack local");
        expect(readme).toMatch(/^npm test\s/m);
        // `npm test` is every project, not a subset.
        expect(scripts.test).toBe("vitest run");
    });

    it("`npm test` installs what the integration tests need before they start, as the README says", () => {
        // The integration project's own global setup runs the installer before any of its tests.
        expect(read("vitest.config.mts")).toMatch(/name: "integration",[^}]*globalSetup: \["test\/setup\/debianTools\.ts"\]/);
        expect(read("test/setup/debianTools.ts")).toContain("install-debian-packages.sh");
        expect(readme).toContain("`npm test` installs what the tests need by itself");
    });

    it.each(["README.md", "docs/operations.md", "docs/configuration.md", "docs/performance.md", "docs/local-journey.md"])(
        "%s links only files that exist",
        (page) => {
            const text = read(page);
            const links = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t));
            expect(links.length).toBeGreaterThan(0);
            for (const target of links) {
                expect(() => readFileSync(path.resolve(root, path.dirname(page), target)), `${page} → ${target}`).not.toThrow();
            }
        },
    );
});

describe("the configuration reference", () => {
    const page = read(REFERENCE_PAGE);

    it(`${REFERENCE_PAGE} holds the reference generated from the schema (run \`npm run docs\` after changing it)`, () => {
        expect(page).toContain(renderConfigReference());
    });

    it("documents every top-level key and every secret", () => {
        for (const key of [...Object.keys(configShape), ...secretNames]) expect(page).toContain(`\`dso-registry:${key}\``);
    });

    it("is linked from the README", () => {
        expect(readme).toContain(`](${REFERENCE_PAGE})`);
    });
});
