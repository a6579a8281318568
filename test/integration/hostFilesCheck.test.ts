/**
 * HostFilesCheck's provider (components/shared/hostFilesProvider.ts) against a real OpenSSH server, through
 * the SSH client it ships with (`ssh2`): files placed by their own command (place-file.sh), then changed
 * by hand as an operator would (an account added to a users file, a mode loosened, a file deleted), read
 * back by `read` as a refresh does, seen as a change by `diff`, and put back by `update` with the placing
 * command and the group's follow-up. A machine whose key is not the pinned one is refused before anything
 * runs. A k3s registries.yaml, which the program merges its entries into, is judged by its script's check
 * mode: the operator's own lines change nothing, an edit of the program's block is seen and put back.
 * For a local connection (Pulumi on the machine itself) the same provider runs the same scripts here.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registriesYamlScript, renderRegistriesEntries } from "../../components/nodeTrust/registriesYaml";
import { checkedFile, readPlacedFilesScript } from "../../components/shared/hostFilesCheck";
import { diffHostFiles, type HostFilesState, hostFilesProvider } from "../../components/shared/hostFilesProvider";
import { type SshServer, startSshServer } from "../support/sshServer";

let ssh: SshServer;
beforeAll(async () => {
    ssh = await startSshServer();
});
afterAll(async () => {
    await ssh?.stop();
});

const USERS = "/etc/caddy/dso-registry/users-push";
const CADDYFILE = "/etc/caddy/Caddyfile";
const AFTER = "/after-repair";
const users = "ci-push $2a$10$0123456789012345678901uSeRsHaShOfThEpUsHaCcOuNt0123\n";
const caddyfile = "registry.example.com {\n\treverse_proxy 127.0.0.1:5000\n}\n";

/** The state a create leaves, for the two files as placed over `ssh`. */
function placed(): HostFilesState {
    const files = [
        checkedFile({ path: USERS, mode: "0600" }, users, false),
        checkedFile({ path: CADDYFILE, mode: "0644" }, caddyfile, false),
    ];
    return {
        host: ssh.host,
        port: ssh.port,
        user: ssh.user,
        privateKey: ssh.privateKey,
        hostKey: ssh.hostKey,
        read: readPlacedFilesScript(
            files.map((f) => f.path),
            false,
        ),
        files,
        afterRepair: `sh -c 'echo repaired > "$DSO_ROOT${AFTER}"'`,
    };
}

const onHost = (p: string) => path.join(ssh.root, p);

describe("HostFilesCheck against a real sshd", () => {
    let state: HostFilesState;

    it("the files placed by their own command read back as placed: nothing drifted", async () => {
        state = placed();
        for (const file of state.files) {
            const r = ssh.runScript(file.place, file.content);
            expect(r.code, r.stderr).toBe(0);
        }
        const created = await hostFilesProvider.create(state);
        expect(created.outs.drifted).toEqual([]);
        const read = await hostFilesProvider.read(created.id, created.outs);
        expect(read.props.drifted).toEqual([]);
        expect(diffHostFiles(read.props, state).changes).toBe(false);
    });

    it("an account added to the users file by hand, the Caddyfile made world-writable, both seen by the read", async () => {
        writeFileSync(onHost(USERS), `${users}intruder $2a$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234\n`);
        chmodSync(onHost(CADDYFILE), 0o666);
        const read = await hostFilesProvider.read("files", state);
        expect(read.props.drifted).toEqual([
            { path: USERS, found: "content changed" },
            { path: CADDYFILE, found: "mode 666 (placed 0644)" },
        ]);
        expect(diffHostFiles(read.props, state).changes).toBe(true);

        // The next up: each file back as placed, then the follow-up.
        const updated = await hostFilesProvider.update("files", read.props, state);
        expect(updated.outs.drifted).toEqual([]);
        expect(readFileSync(onHost(USERS), "utf8")).toBe(users);
        expect(statSync(onHost(USERS)).mode & 0o777).toBe(0o600);
        expect(statSync(onHost(CADDYFILE)).mode & 0o777).toBe(0o644);
        expect(readFileSync(onHost(AFTER), "utf8").trim()).toBe("repaired");
        expect((await hostFilesProvider.read("files", updated.outs)).props.drifted).toEqual([]);
    });

    it("a file deleted by hand reads as missing and is placed again", async () => {
        rmSync(onHost(AFTER));
        rmSync(onHost(CADDYFILE));
        const read = await hostFilesProvider.read("files", state);
        expect(read.props.drifted).toEqual([{ path: CADDYFILE, found: "missing" }]);
        await hostFilesProvider.update("files", read.props, state);
        expect(readFileSync(onHost(CADDYFILE), "utf8")).toBe(caddyfile);
        expect(readFileSync(onHost(USERS), "utf8")).toBe(users);
        expect(existsSync(onHost(AFTER))).toBe(true);
    });

    it("an update after an input change alone writes nothing (the placing commands did)", async () => {
        rmSync(onHost(AFTER));
        // A file that differs on the machine but that no read has reported: the update leaves it as it is.
        writeFileSync(onHost(CADDYFILE), "unreported\n");
        const changed = { ...state, afterRepair: `${state.afterRepair} # changed` };
        expect(diffHostFiles(state, changed).changes).toBe(true);
        const updated = await hostFilesProvider.update("files", { ...state, drifted: [] }, changed);
        expect(updated.outs.drifted).toEqual([]);
        expect(readFileSync(onHost(CADDYFILE), "utf8")).toBe("unreported\n");
        expect(existsSync(onHost(AFTER))).toBe(false);
    });

    it("a machine whose key is not the pinned one is refused before anything runs", async () => {
        const other = await startSshServer();
        try {
            const wrongKey = { ...state, hostKey: other.hostKey };
            await expect(hostFilesProvider.read("files", wrongKey)).rejects.toThrow(/Handshake failed|host key|verification/i);
        } finally {
            await other.stop();
        }
    });
});

describe("a merged registries.yaml against a real sshd: judged by its own check, not by the whole file", () => {
    const FILE = "/etc/rancher/k3s/registries.yaml";
    const step = { path: FILE, authority: "registry.example.com", secret: true };
    // No restart on these tests: the node's service is not here (the placing script says what to restart).
    const restart = { flavour: "k3s" as const, units: ["k3s"], settings: { allow: false, timeoutSeconds: 60 } };
    const entries = renderRegistriesEntries({ host: "registry.example.com", port: 443, plainHttp: false });
    let merged: HostFilesState;

    it("placed by its script, read back unchanged; the operator's own lines outside the program's block change nothing", async () => {
        const file = checkedFile(
            {
                path: FILE,
                mode: "0600",
                place: registriesYamlScript(step, restart, "apply"),
                check: registriesYamlScript(step, restart, "check"),
            },
            entries,
            false,
        );
        merged = { ...placed(), files: [file], read: readPlacedFilesScript([], false), afterRepair: undefined };
        const r = ssh.runScript(file.place, file.content);
        expect(r.code, r.stderr).toBe(0);
        expect((await hostFilesProvider.read("files", merged)).props.drifted).toEqual([]);
        writeFileSync(onHost(FILE), `${readFileSync(onHost(FILE), "utf8")}# the operator's own note\n`);
        expect((await hostFilesProvider.read("files", merged)).props.drifted).toEqual([]);
    });

    it("an endpoint of the program's block edited by hand is seen, and the next up puts the block back and keeps the operator's lines", async () => {
        const edited = readFileSync(onHost(FILE), "utf8").replace('- "https://registry.example.com"', '- "https://registry.evil.example"');
        writeFileSync(onHost(FILE), edited);
        const read = await hostFilesProvider.read("files", merged);
        expect(read.props.drifted).toEqual([{ path: FILE, found: "the program's entries or the mode changed" }]);
        expect(diffHostFiles(read.props, merged).changes).toBe(true);
        await hostFilesProvider.update("files", read.props, merged);
        const back = readFileSync(onHost(FILE), "utf8");
        expect(back).toContain('- "https://registry.example.com"');
        expect(back).not.toContain("registry.evil.example");
        expect(back).toContain("# the operator's own note");
        expect((await hostFilesProvider.read("files", merged)).props.drifted).toEqual([]);
    });
});

describe("on this machine (a local connection): the same read, diff and repair, without SSH", () => {
    let root: string;
    let local: HostFilesState;
    const here = (p: string) => path.join(root, p);
    beforeAll(() => {
        root = mkdtempSync(path.join(tmpdir(), "dso-local-files-"));
        // The placing and reading scripts write under $DSO_ROOT, as they do in the SSH server's root above.
        process.env.DSO_ROOT = root;
    });
    afterAll(() => {
        delete process.env.DSO_ROOT;
        rmSync(root, { recursive: true, force: true });
    });

    it("placed, read back as placed; a users file edited by hand is seen and put back, then the follow-up runs", async () => {
        const files = [
            checkedFile({ path: USERS, mode: "0600" }, users, false),
            checkedFile({ path: CADDYFILE, mode: "0644" }, caddyfile, false),
        ];
        local = {
            local: true,
            host: "laptop",
            port: 0,
            user: "",
            privateKey: "",
            read: readPlacedFilesScript(
                files.map((f) => f.path),
                false,
            ),
            files,
            afterRepair: `sh -c 'echo repaired > "$DSO_ROOT${AFTER}"'`,
        };
        for (const file of files) {
            const r = spawnSync("/bin/sh", ["-c", file.place], { input: file.content, encoding: "utf8" });
            expect(r.status, r.stderr).toBe(0);
        }
        expect(readFileSync(here(USERS), "utf8")).toBe(users);
        expect((await hostFilesProvider.read("files", local)).props.drifted).toEqual([]);

        writeFileSync(here(USERS), `${users}intruder $2a$10$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234\n`);
        rmSync(here(CADDYFILE));
        const read = await hostFilesProvider.read("files", local);
        expect(read.props.drifted).toEqual([
            { path: USERS, found: "content changed" },
            { path: CADDYFILE, found: "missing" },
        ]);
        expect(diffHostFiles(read.props, local).changes).toBe(true);
        await hostFilesProvider.update("files", read.props, local);
        expect(readFileSync(here(USERS), "utf8")).toBe(users);
        expect(readFileSync(here(CADDYFILE), "utf8")).toBe(caddyfile);
        expect(readFileSync(here(AFTER), "utf8").trim()).toBe("repaired");
        expect((await hostFilesProvider.read("files", local)).props.drifted).toEqual([]);
    });

    it("a check that exits before reading its input is judged by what it printed, the broken pipe is no error", async () => {
        // 4 MiB is far beyond a pipe's buffer: the command has exited long before the input is written.
        const content = "x".repeat(4 * 1024 * 1024);
        const file = { path: "/big", sha256: "", mode: "0644", place: "cat >/dev/null", check: "echo unchanged /big", content };
        const here: HostFilesState = { local: true, host: "laptop", port: 0, user: "", privateKey: "", read: "true", files: [file] };
        expect((await hostFilesProvider.read("files", here)).props.drifted).toEqual([]);
        const failing = { ...file, check: "echo refused >&2; exit 3" };
        await expect(hostFilesProvider.read("files", { ...here, files: [failing] })).rejects.toThrow(
            /checking \/big on laptop exited 3: refused/,
        );
    });

    it("the same files over SSH and here are different machines to the diff", () => {
        expect(diffHostFiles(local, { ...local, local: undefined }).changes).toBe(true);
    });
});
