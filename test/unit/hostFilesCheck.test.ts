/**
 * HostFilesCheck's pure parts (components/shared/hostFilesCheck.ts, hostFilesProvider.ts): what a file
 * must be, how the read-back's lines are judged, and when the diff asks for an update. The SSH side is
 * test/integration/hostFilesCheck.test.ts; the program's wiring under the real engine is
 * test/engine/prodUp.test.ts.
 *
 * Covers: components/shared/hostFilesProvider.ts, components/shared/hostFilesCheck.ts.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkedFile, readPlacedFilesScript, recreatingScript } from "../../components/shared/hostFilesCheck";
import { diffHostFiles, driftOf, type HostFilesState, mergedFileDrift } from "../../components/shared/hostFilesProvider";

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const caddyOwned = checkedFile({ path: "/etc/caddy/dso-registry/users-push", mode: "0600", owner: "caddy:caddy" }, "a $2a$x\n", true);
const rootOwned = checkedFile({ path: "/etc/caddy/Caddyfile", mode: "0644" }, "site {}\n", true);

describe("checkedFile", () => {
    it("holds the content's digest, the mode, the owner where the program sets one, and the HostFile's own placing command", () => {
        expect(caddyOwned).toMatchObject({ sha256: sha("a $2a$x\n"), mode: "0600", owner: "caddy:caddy" });
        expect(caddyOwned.place).toMatch(/^sudo -n sh -c /);
        expect(caddyOwned.place).toContain("/etc/caddy/dso-registry/users-push");
        expect(caddyOwned.place).toContain("TARGET=");
        expect(rootOwned.owner).toBeUndefined();
    });
    it("the read-back script names every path, with sudo when the connection needs it", () => {
        const script = readPlacedFilesScript([caddyOwned.path, rootOwned.path], true);
        expect(script).toMatch(/^sudo -n sh -c /);
        expect(script).toContain("/etc/caddy/dso-registry/users-push");
        expect(script).toContain("/etc/caddy/Caddyfile");
    });
    it("the read-back runs where the placing commands run when they are wrapped (a kind node's files, through docker exec)", () => {
        const script = readPlacedFilesScript(
            ["/etc/containerd/certs.d/registry:5000/hosts.toml"],
            false,
            (body) => `docker exec -i kind-worker sh -c '${body.length}'`,
        );
        expect(script).toMatch(/^docker exec -i kind-worker sh -c /);
        expect(script).not.toMatch(/^sudo/);
    });
});

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

    it("refuses an answer that is neither", () => {
        expect(() => mergedFileDrift(FILE, "permission denied\n")).toThrow(/neither "changed" nor "unchanged"/);
    });
});

describe("checkedFile with a command of its own", () => {
    it("keeps the file's own placing command and check instead of the generic placement", () => {
        const file = checkedFile({ path: "/etc/x", mode: "0600", place: "place-it", check: "check-it" }, "entries", true);
        expect(file.place).toBe("place-it");
        expect(file.check).toBe("check-it");
        expect(checkedFile({ path: "/etc/x", mode: "0600" }, "entries", true).check).toBeUndefined();
    });
});

describe("recreatingScript", () => {
    it("sets DSO_RECREATE for the converging script it runs, whose containers are then made anew (upkeep/sh/container-converge.sh)", () => {
        const script = recreatingScript("#!/bin/sh\necho run\n");
        expect(script.split("\n")[0]).toBe("DSO_RECREATE=1");
        expect(script.endsWith("#!/bin/sh\necho run\n")).toBe(true);
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
