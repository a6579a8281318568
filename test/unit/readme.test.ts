/**
 * The README's claims (its commands, what `npm test` installs first) and the configuration reference, checked
 * against the code.
 * Covers: README.md, tools/configReference.ts (docs/configuration.md generated from the schema).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configShape, secretNames } from "../../components/config";
import { REFERENCE_PAGE, renderConfigReference } from "../../tools/configReference";

const root = path.resolve(__dirname, "../..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const readme = read("README.md");

describe("README", () => {
    it("gives the two newcomer commands that package.json provides", () => {
        const scripts = JSON.parse(read("package.json")).scripts;
        expect(scripts.synth).toBe("sh tools/node/run.sh tsx tools/synth.ts");
        expect(readme).toContain("npm ci && npm run synth -- --stack local");
        expect(readme).toMatch(/^npm test\s/m);
        // The whole suite is the contributor's command, on the contributor's page.
        expect(read("docs/contributing.md")).toMatch(/^npm run test:all\s/m);
        // `npm test` is the unit tier and the core integration files; `test:all` is every other project.
        expect(scripts.test).toBe("sh tools/node/run.sh vitest run --project unit --project core");
        const projects = [...read("vitest.config.mts").matchAll(/name: "([a-z]+)"/g)].map((m) => m[1]);
        expect(projects).toEqual(["unit", "slow", "core", "integration", "engine"]);
        expect(scripts["test:all"]).toBe(
            `sh tools/node/run.sh vitest run ${projects
                .filter((p) => p !== "core")
                .map((p) => `--project ${p}`)
                .join(" ")}`,
        );
        // CI runs that whole-suite command.
        expect(read(".ci/run")).toContain("npm run --silent test:all");
    });

    it("`npm test` and `npm run test:all` install what the integration tests need before they start, as the README and docs/contributing.md say", () => {
        // The projects' own global setups run the installer before any of their tests.
        const config = read("vitest.config.mts");
        expect(config).toMatch(/name: "unit",[^}]*globalSetup: \["test\/setup\/debianTools\.ts"\]/);
        expect(config).toMatch(/name: "integration",[^}]*globalSetup: \["test\/setup\/debianTools\.ts", "test\/setup\/goBuilds\.ts"\]/);
        expect(config).toMatch(/name: "core",[^}]*globalSetup: \["test\/setup\/debianTools\.ts", "test\/setup\/debianStandIns\.ts"\]/);
        const setup = read("test/setup/debianTools.ts");
        expect(setup).toContain("install-debian-packages.sh");
        // `npm test`'s projects ask for the core list alone, every other project for all of them.
        expect(setup).toMatch(/CORE_PROJECTS = new Set\(\["unit", "core"\]\)/);
    });

    describe("the installer `npm test` runs first installs what is missing as root, and elsewhere names the command", () => {
        let dir: string;
        const listed = (file: string) =>
            readFileSync(path.join(root, "test/support", file), "utf8")
                .split("\n")
                .map((l) => l.replace(/#.*/, "").trim().split(/\s+/)[0]!)
                .filter((p) => p !== "");
        const core = listed("debianPackages.core.txt");
        const packages = [...core, ...listed("debianPackages.txt")];
        // One of `npm test`'s packages and two of the rest of the suite's.
        const missing = ["skopeo", "restic", "fail2ban"];
        beforeEach(() => {
            dir = mkdtempSync(path.join(tmpdir(), "installer-"));
            mkdirSync(path.join(dir, "bin"));
            mkdirSync(path.join(dir, "state"));
            for (const p of packages.filter((p) => !missing.includes(p))) writeFileSync(path.join(dir, "state", p), "");
            // Stand-ins for dpkg's status, apt-get, id and service: they record what the installer asks.
            const tool = (name: string, body: string) =>
                writeFileSync(path.join(dir, "bin", name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
            tool("dpkg-query", 'for last; do :; done; [ -e "$FAKE/state/$last" ] && printf "install ok installed"; exit 0');
            tool(
                "apt-get",
                'echo "apt-get $*" >> "$FAKE/log"; [ "$1" = install ] && for a; do case $a in -*|install|*=*) ;; *) : > "$FAKE/state/$a" ;; esac; done; exit 0',
            );
            tool("id", 'echo "$FAKE_UID"');
            tool("service", 'echo "service $*" >> "$FAKE/log"');
        });
        afterEach(() => rmSync(dir, { recursive: true, force: true }));
        const install = (uid: number, ...lists: string[]) =>
            spawnSync("sh", [path.join(root, "test/support/install-debian-packages.sh"), ...lists], {
                encoding: "utf8",
                env: { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, FAKE: dir, FAKE_UID: String(uid) },
            });
        const log = () => (existsSync(path.join(dir, "log")) ? readFileSync(path.join(dir, "log"), "utf8") : "");

        it("as root: installs exactly the missing packages, stops the services they start, and succeeds", () => {
            const r = install(0);
            expect(r.status, r.stderr).toBe(0);
            expect(log()).toContain(`apt-get install -y -qq -o Acquire::Retries=5 ${missing.join(" ")}`);
            expect(log()).toContain("service fail2ban stop");
            expect(log()).not.toContain("service restic");
            // A second run finds everything and asks for nothing.
            writeFileSync(path.join(dir, "log"), "");
            expect(install(0).status).toBe(0);
            expect(log()).toBe("");
        });

        it("core: installs only the missing packages `npm test` runs, not the rest of the suite's", () => {
            expect(core).toContain("skopeo");
            expect(core).not.toContain("restic");
            expect(core).not.toContain("fail2ban");
            const r = install(0, "core");
            expect(r.status, r.stderr).toBe(0);
            expect(log()).toContain("apt-get install -y -qq -o Acquire::Retries=5 skopeo\n");
            expect(log()).not.toContain("service fail2ban stop");
            // `all` afterwards installs the rest.
            writeFileSync(path.join(dir, "log"), "");
            expect(install(0, "all").status).toBe(0);
            expect(log()).toContain("apt-get install -y -qq -o Acquire::Retries=5 restic fail2ban\n");
        });

        it("refuses a list it does not know", () => {
            const r = install(0, "everything");
            expect(r.status).toBe(2);
            expect(r.stderr).toContain("[core | all]");
            expect(log()).toBe("");
        });

        it("not root: installs nothing and names the command that does", () => {
            const r = install(1000);
            expect(r.status).toBe(1);
            expect(r.stderr).toContain(`sudo apt-get install -y ${missing.join(" ")}`);
            expect(log()).toBe("");
        });
    });

    it.each([
        "README.md",
        "docs/contributing.md",
        "docs/glossary.md",
        "docs/operations.md",
        "docs/configuration.md",
        "docs/performance.md",
        "docs/local-journey.md",
    ])("%s links only files that exist", (page) => {
        const text = read(page);
        const links = [...text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)].map((m) => m[1]!).filter((t) => !/^[a-z]+:/.test(t));
        expect(links.length).toBeGreaterThan(0);
        for (const target of links) {
            expect(() => readFileSync(path.resolve(root, path.dirname(page), target)), `${page} → ${target}`).not.toThrow();
        }
    });
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
