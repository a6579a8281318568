/**
 * The external host's backup holds its read-only window with the marker alone, around its second pass,
 * and never touches the registry container; a failed second pass removes the marker too. Run under sh
 * with `restic` and `docker` stand-ins that record, at each call, whether the marker exists
 * (test/support/hostWindow.ts). Garbage collection's window: scripts.readOnlyWindow.test.ts.
 */
import { existsSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { expect, test } from "vitest";
import { backupScript } from "../../components/externalHost/backupScripts";
import { hostWithStandIns, marker, spec } from "../support/hostWindow";

const { root, runScript } = hostWithStandIns();

const backup = () =>
    backupScript(spec, { kind: "sftp", host: "backup-01", port: 22, user: "b", path: "/r", hostKey: "ssh-ed25519 AAAA" }, 2);

test("backup: the marker exists only around the second pass, and the registry container is never stopped or replaced", () => {
    const { code, calls } = runScript(backup());
    expect(code).toBe(0);
    expect(calls).toEqual([
        "restic-cat no-marker",
        "restic-backup no-marker",
        "restic-backup marker",
        "restic-forget no-marker",
        "restic-forget no-marker",
    ]);
    expect(existsSync(path.join(root(), marker))).toBe(false);
});

test("a failed second pass of the backup removes the marker too", () => {
    writeFileSync(path.join(root(), "backup-fails"), "");
    const { code, calls } = runScript(backup());
    expect(code).not.toBe(0);
    expect(calls).toEqual(["restic-cat no-marker", "restic-backup no-marker", "restic-backup marker"]);
    expect(existsSync(path.join(root(), marker))).toBe(false);
});
