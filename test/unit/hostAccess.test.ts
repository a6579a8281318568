/**
 * Running scripts and placing files on a machine, over SSH or locally: bodies and secrets on stdin, quoting,
 * and the commands run under sh.
 * Covers: components/shared/hostAccess.ts. shQuote alone: shQuote.test.ts.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { placeFileScript, removeFileScript } from "../../components/shared/hostAccess";
import { settle, startMockRuntime } from "../../tools/mockRuntime";

const roots: string[] = [];
afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function privateRoot(): string {
    const root = mkdtempSync(path.join(tmpdir(), "dso-host-"));
    roots.push(root);
    return root;
}

/** Runs a host script with /bin/sh the way the command provider does, stdin included. */
function run(script: string, root: string, stdin = ""): string {
    return execFileSync("/bin/sh", ["-c", script], { input: stdin, env: { ...process.env, DSO_ROOT: root } }).toString();
}

describe("placeFileScript (run for real with /bin/sh)", () => {
    const spec = { path: "/etc/caddy/Caddyfile", mode: "0644" };

    it("creates the file with its parents, content and mode", () => {
        const root = privateRoot();
        const out = run(placeFileScript(spec, false), root, "registry.example.com {\n}\n");
        expect(out).toBe(`changed ${root}/etc/caddy/Caddyfile\n`);
        const file = path.join(root, "etc/caddy/Caddyfile");
        expect(readFileSync(file, "utf8")).toBe("registry.example.com {\n}\n");
        expect(statSync(file).mode & 0o777).toBe(0o644);
    });

    it("reports unchanged and leaves no temp file when the content is the same", () => {
        const root = privateRoot();
        run(placeFileScript(spec, false), root, "same\n");
        expect(run(placeFileScript(spec, false), root, "same\n")).toBe(`unchanged ${root}/etc/caddy/Caddyfile\n`);
        expect(execFileSync("ls", ["-A", path.join(root, "etc/caddy")]).toString()).toBe("Caddyfile\n");
    });

    it("gives an unchanged file its new owner: a change of owner alone changes no byte", () => {
        const root = privateRoot();
        const users = { path: "/etc/caddy/dso-registry/users-push", mode: "0600" };
        run(placeFileScript({ ...users, owner: "nobody:nogroup" }, false), root, "u:hash\n");
        const file = path.join(root, "etc/caddy/dso-registry/users-push");
        expect(statSync(file).uid).not.toBe(0);
        expect(run(placeFileScript({ ...users, owner: "root:root" }, false), root, "u:hash\n")).toMatch(/^unchanged /);
        expect([statSync(file).uid, statSync(file).gid, statSync(file).mode & 0o777]).toEqual([0, 0, 0o600]);
    });

    it("replaces the content when it changes", () => {
        const root = privateRoot();
        run(placeFileScript(spec, false), root, "old\n");
        expect(run(placeFileScript(spec, false), root, "new\n")).toMatch(/^changed /);
        expect(readFileSync(path.join(root, "etc/caddy/Caddyfile"), "utf8")).toBe("new\n");
    });

    it("keeps secret files private", () => {
        const root = privateRoot();
        run(placeFileScript({ path: "/etc/caddy/users", mode: "0600" }, false), root, "u:hash\n");
        expect(statSync(path.join(root, "etc/caddy/users")).mode & 0o777).toBe(0o600);
    });

    it("handles paths with spaces and quotes", () => {
        const root = privateRoot();
        const odd = { path: "/srv/it's here/a file", mode: "0640" };
        run(placeFileScript(odd, false), root, "x");
        expect(readFileSync(path.join(root, "srv/it's here/a file"), "utf8")).toBe("x");
    });

    it("removes exactly the placed file on delete", () => {
        const root = privateRoot();
        run(placeFileScript(spec, false), root, "x");
        writeFileSync(path.join(root, "etc/caddy/other"), "keep");
        run(removeFileScript(spec, false), root);
        expect(execFileSync("ls", ["-A", path.join(root, "etc/caddy")]).toString()).toBe("other\n");
        // Deleting again is not an error.
        run(removeFileScript(spec, false), root);
    });

    it("never carries the content on the command line", () => {
        expect(placeFileScript(spec, true)).not.toContain("registry.example.com");
    });

    it("runs the body through sudo when asked", () => {
        expect(placeFileScript(spec, true)).toMatch(/^sudo -n sh -c '/);
    });

    it.each([
        [{ path: "etc/relative", mode: "0644" }, /must be absolute/],
        [{ path: "/etc/x", mode: "644" }, /must be octal/],
    ])("refuses %j", (bad, message) => {
        expect(() => placeFileScript(bad, false)).toThrow(message);
    });
});

describe("HostFile under mocks", () => {
    it("registers target, path and mode as its inputs, and carries the content on its command's stdin", async () => {
        const rt = await startMockRuntime({ stack: "test" });
        const { HostFile } = await import("../../components/shared/hostAccess");
        new HostFile("users", {
            connection: { kind: "local", name: "node-1", sudo: true },
            path: "/etc/rancher/k3s/registries.yaml",
            mode: "0600",
            content: "mirrors: {}\n",
        });
        await settle();
        expect(rt.byName("users").inputs).toEqual({ target: "node-1", path: "/etc/rancher/k3s/registries.yaml", mode: "0600" });
        const write = rt.byName("users-write");
        expect(write.parentUrn).toBe(rt.byName("users").urn);
        expect(write.inputs.stdin).toBe("mirrors: {}\n");
    });
});
