/**
 * The engine tier's own Go code — our Node.js language host and providers under tools/engine — has Go
 * tests of its own (diff rules, previews, secrets, SSH against a real sshd); each module's `go test`
 * runs here so that its result counts with the rest.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROJECT_DIR } from "../support/pulumiEngine";

const ENGINE_DIR = path.join(PROJECT_DIR, "tools/engine");
const modules = readdirSync(ENGINE_DIR).filter(
    (entry) =>
        existsSync(path.join(ENGINE_DIR, entry, "go.mod")) && readdirSync(path.join(ENGINE_DIR, entry)).some((f) => f.endsWith("_test.go")),
);

describe("Go tests of the engine tier's wrapper modules", () => {
    it("finds the providers' modules", () => {
        expect(modules).toEqual(expect.arrayContaining(["provider-command", "provider-kubernetes", "provider-random", "provider-tls"]));
    });

    it.each(modules)("%s: go test ./... passes", (module) => {
        const r = spawnSync("go", ["test", "-count=1", "./..."], {
            cwd: path.join(ENGINE_DIR, module),
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
