/**
 * The engine tier's own Go code — our stand-ins for Pulumi's providers and their shared module under
 * stand-ins/, and any module under tools/engine that has tests — has Go tests of its own (diff rules,
 * previews, secrets, SSH against a real sshd, the recordings of the real random and tls providers);
 * each module's `go test` runs here so that its result counts with the rest.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { CLI_VERSION, PROJECT_DIR } from "../support/pulumiEngine";

/** The Go modules directly under `dir` (relative to the project) that have tests, as project-relative paths. */
const testedModules = (dir: string) =>
    readdirSync(path.join(PROJECT_DIR, dir))
        .map((entry) => `${dir}/${entry}`)
        .filter(
            (module) =>
                existsSync(path.join(PROJECT_DIR, module, "go.mod")) &&
                readdirSync(path.join(PROJECT_DIR, module)).some((f) => f.endsWith("_test.go")),
        );
const modules = [...testedModules("stand-ins"), ...testedModules("tools/engine")];

describe("Go tests of the engine tier's own modules", () => {
    it("finds the provider stand-ins' modules", () => {
        expect(modules).toEqual(
            expect.arrayContaining(["stand-ins/command", "stand-ins/random", "stand-ins/tls", "stand-ins/providerkit"]),
        );
    });

    it.each(modules)("%s: go test ./... passes", (module) => {
        const r = spawnSync("go", ["test", "-count=1", "./..."], {
            cwd: path.join(PROJECT_DIR, module),
            encoding: "utf8",
            env: {
                ...process.env,
                PATH: `${process.env.PATH}:/usr/local/go/bin`,
                GONOSUMDB: "github.com/pulumi/pulumi",
                DSO_REQUIRE_SSHD: "1",
            },
            timeout: 15 * 60_000,
        });
        expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    });
});

/** The version at which `module`'s go.mod requires `dependency`, or undefined. */
function required(module: string, dependency: string): string | undefined {
    const goMod = readFileSync(path.join(PROJECT_DIR, module, "go.mod"), "utf8");
    const escaped = dependency.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    return new RegExp(`^(?:require\\s+|\\s+)${escaped} v(\\S+)`, "m").exec(goMod)?.[1];
}

describe("the Pulumi CLI's version", () => {
    // tools/engine/build.sh stamps the CLI and its language host with the CLI module's version, and the
    // tests install the set under that version for the npm launcher: all three must be the same release.
    it("is the pkg/v3 the CLI's wrapper requires, with sdk/v3 and the language host's sdk/v3 at the same release", () => {
        expect(CLI_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
        expect(required("tools/engine/cli", "github.com/pulumi/pulumi/pkg/v3")).toBe(CLI_VERSION);
        expect(required("tools/engine/cli", "github.com/pulumi/pulumi/sdk/v3")).toBe(CLI_VERSION);
        expect(required("tools/engine/language-nodejs", "github.com/pulumi/pulumi/sdk/v3")).toBe(CLI_VERSION);
    });
});
