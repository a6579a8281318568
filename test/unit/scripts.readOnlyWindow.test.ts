/**
 * The external host's garbage collection holds its read-only window: it creates the marker the
 * Caddyfile's `@maintenance` matcher looks for before the writable registry stops, and removes it only
 * once the writable registry runs again, also when the job fails. Run under sh with `docker`, `curl`
 * (Distribution answering at once) and dso-registry-verify stand-ins that record, at each call, whether
 * the marker exists (test/support/hostWindow.ts). The backup's window: backupScripts.readOnlyWindow.test.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { expect, test } from "vitest";
import { gcScript } from "../../components/externalHost/scripts";
import { hostWithStandIns, layout, marker, spec } from "../support/hostWindow";

const { root, runScript } = hostWithStandIns();

test("garbage collection: the marker exists from before the writable registry stops until it runs again", () => {
    const { code, calls } = runScript(gcScript(spec, "spec-1", false));
    expect(code).toBe(0);
    expect(calls).toEqual([
        "stop marker",
        "rm marker",
        "run marker",
        "exec marker",
        "stop marker",
        "rm marker",
        "run marker",
        "curl marker",
        "verify no-marker",
    ]);
    expect(existsSync(path.join(root(), marker))).toBe(false);
});

test("a failed garbage collection removes the marker too, after the writable registry is back", () => {
    writeFileSync(path.join(root(), "exec-fails"), "");
    const { code, calls } = runScript(gcScript(spec, "spec-1", false));
    expect(code).not.toBe(0);
    expect(calls.slice(-2)).toEqual(["run marker", "curl marker"]);
    expect(existsSync(path.join(root(), marker))).toBe(false);
});

test("garbage collection on a registry nobody has pushed to yet collects nothing and succeeds", () => {
    rmSync(path.join(root(), layout.dataDir, "docker"), { recursive: true });
    writeFileSync(path.join(root(), "exec-fails"), "");
    const env = { ...process.env, DSO_ROOT: root(), PATH: `${path.join(root(), "bin")}:${process.env.PATH}` };
    const result = spawnSync("/bin/sh", ["-c", gcScript(spec, "spec-1", false)], { env, encoding: "utf8" });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("the registry holds no repository yet: nothing to collect");
    expect(readFileSync(path.join(root(), "calls"), "utf8")).not.toContain("exec");
});
