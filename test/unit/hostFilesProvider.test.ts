/**
 * The host files check's provider (components/shared/hostFilesProvider.ts): how the read-back's lines are
 * judged (a line per file, a merged file's verdict) and when the diff asks for an update. What a file
 * must be: hostFilesCheck.test.ts; the SSH side: test/integration/hostFilesCheck.test.ts.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkedFile } from "../../components/shared/hostFilesCheck";
import { diffHostFiles, driftOf, type HostFilesState, mergedFileDrift } from "../../components/shared/hostFilesProvider";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const caddyOwned = checkedFile({ path: "/etc/caddy/dso-registry/users-push", mode: "0600", owner: "caddy:caddy" }, "a $2a$x\n", true);
const rootOwned = checkedFile({ path: "/etc/caddy/Caddyfile", mode: "0644" }, "site {}\n", true);

describe("driftOf", () => {
    const asPlaced = (f: typeof caddyOwned, mode = f.mode.slice(1), owner = f.owner ?? "root:root") => `${f.sha256} ${mode} ${owner}`;
    it("finds nothing when every line matches", () => {
        expect(driftOf([caddyOwned, rootOwned], `${asPlaced(caddyOwned)}\n${asPlaced(rootOwned)}\n`)).toEqual([]);
    });
    it("an owner the program does not set is not compared (a setgid directory may give the file its group)", () => {
        expect(driftOf([rootOwned], `${rootOwned.sha256} 644 root:caddy`)).toEqual([]);
    });
    it("names the content, the mode, the owner and a missing file, per file", () => {
        const output = [`${sha("other")} 644 root:root`, "missing"].join("\n");
        expect(driftOf([caddyOwned, rootOwned], output)).toEqual([
            { path: caddyOwned.path, found: "content changed, mode 644 (placed 0600), owner root:root (placed caddy:caddy)" },
            { path: rootOwned.path, found: "missing" },
        ]);
    });
    it("refuses an answer that does not have a line per file", () => {
        expect(() => driftOf([caddyOwned, rootOwned], asPlaced(caddyOwned))).toThrow(/1 lines for 2 files/);
    });
});

describe("mergedFileDrift", () => {
    const FILE = "/etc/rancher/k3s/registries.yaml";

    it("reads the check's verdict, after whatever else the script printed", () => {
        expect(mergedFileDrift(FILE, `unchanged ${FILE}\n`)).toBeUndefined();
        expect(mergedFileDrift(FILE, `note\nchanged ${FILE}\n`)).toEqual({
            path: FILE,
            found: "the program's entries or the mode changed",
        });
        expect(mergedFileDrift(FILE, `changed ${FILE} (absent)\n`)).toEqual({
            path: FILE,
            found: "the program's entries or the mode changed",
        });
    });

    it("takes a container's check at its word: what it found is the drift", () => {
        const container = "container dso-registry";
        expect(mergedFileDrift(container, "unchanged container dso-registry\n")).toBeUndefined();
        expect(mergedFileDrift(container, "changed container dso-registry: missing\n")).toEqual({ path: container, found: "missing" });
        expect(mergedFileDrift(container, "changed container dso-registry: exited\n")).toEqual({ path: container, found: "exited" });
    });

    it("refuses an answer that is neither", () => {
        expect(() => mergedFileDrift(FILE, "permission denied\n")).toThrow(/neither "changed" nor "unchanged"/);
    });
});

describe("diffHostFiles", () => {
    const state: HostFilesState = {
        host: "10.0.0.5",
        port: 22,
        user: "deploy",
        privateKey: "key",
        hostKey: "ssh-ed25519 AAAA",
        read: "read",
        files: [caddyOwned, rootOwned],
        afterRepair: "reload",
        drifted: [],
    };
    it("no change when the state matches the inputs and the last read found nothing", () => {
        expect(diffHostFiles(state, { ...state, drifted: undefined }).changes).toBe(false);
    });
    it("a change when the last read found drift, even with the same inputs", () => {
        expect(diffHostFiles({ ...state, drifted: [{ path: rootOwned.path, found: "missing" }] }, state).changes).toBe(true);
    });
    it("a change when a file's content, the machine or the follow-up changes, never a replacement", () => {
        const edited = checkedFile({ path: rootOwned.path, mode: "0644" }, "site { other }\n", true);
        for (const news of [
            { ...state, files: [caddyOwned, edited] },
            { ...state, host: "10.0.0.6" },
            { ...state, afterRepair: "reload2" },
        ]) {
            expect(diffHostFiles(state, news)).toEqual({ changes: true, replaces: [] });
        }
    });
    it("a change when the provider's code changed, so that the state gets the new code; not on an unknown one", () => {
        const withCode = (code: string) => ({ ...state, __provider: code }) as HostFilesState;
        expect(diffHostFiles(withCode("a"), withCode("b")).changes).toBe(true);
        expect(diffHostFiles(withCode("a"), withCode("04da6b54-80e4-46f7-96ec-b56ff0331ba9")).changes).toBe(false);
    });
});
