/**
 * The `prod` stack's first steps under the real Pulumi engine, as the README has a newcomer take them:
 * `stack init`, each secret on stdin (an SSH key from a file), then `preview --diff`. With the committed
 * stack's host-key placeholders left in, the preview must stop before anything is planned and name each
 * key; once the keys are pinned, the engine's plan must create exactly the resources the synth (the
 * mock runtime) registers, every remote step's SSH connection pinned to its host key.
 *
 * A preview runs no remote command, so no host needs to exist here: the hosts' `up` runs on test hosts of
 * their own in test/engine/prodUp.test.ts and test/engine/prodPlans.test.ts.
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openWorkspace, PROJECT_DIR, type Workspace } from "../support/pulumiEngine";

const STACK = "prod";
const PLACEHOLDER = "ssh-ed25519 REPLACE-WITH-ssh-keyscan-OUTPUT";

let ws: Workspace;
let hostKey: string;
let clientKey: string;

/** An ed25519 key pair made with ssh-keygen in the workspace: [private key file's text, public key line]. */
function keyPair(file: string): [string, string] {
    const made = spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "", "-f", file], { encoding: "utf8" });
    if (made.status !== 0) throw new Error(made.stderr);
    const publicKey = readFileSync(`${file}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    return [readFileSync(file, "utf8"), publicKey];
}

beforeAll(async () => {
    ws = openWorkspace({ stackFiles: [STACK] });
    clientKey = path.join(ws.dir, "id_ed25519");
    [, hostKey] = keyPair(path.join(ws.dir, "host_ed25519"));
    keyPair(clientKey);
    keyPair(path.join(ws.dir, "backup_ed25519"));
}, 20 * 60_000);

afterAll(() => ws?.close());

/** The URNs the synth registers for the stack: test/identity/prod.txt, which the unit tier keeps equal to it. */
const syntheticUrns = () =>
    readFileSync(path.join(PROJECT_DIR, "test/identity/prod.txt"), "utf8")
        .split("\n")
        .filter((line) => line.startsWith("urn:"));

describe("prod stack, real engine: the first preview", () => {
    it("takes the README's secrets on stdin, the SSH keys from files", async () => {
        expect((await ws.shell(`npx pulumi stack init ${STACK}`)).code).toBe(0);
        for (const key of ["containerRegistryPassword", "mavenRegistryPassword", "jenkinsApiToken", "backupRepositoryPassword"]) {
            const r = await ws.shell(`npx pulumi config set --secret dso-registry:${key} -s ${STACK}`, {
                input: `${key}-value-${Date.now()}`,
            });
            expect(r.code, r.stderr).toBe(0);
        }
        for (const [key, file] of [
            ["sshPrivateKey", clientKey],
            ["backupSshPrivateKey", path.join(ws.dir, "backup_ed25519")],
        ]) {
            const r = await ws.shell(`npx pulumi config set --secret dso-registry:${key} -s ${STACK} < ${file}`);
            expect(r.code, r.stderr).toBe(0);
        }
        expect(readFileSync(path.join(ws.projectDir, `Pulumi.${STACK}.yaml`), "utf8")).not.toContain("PRIVATE KEY");
    });

    it("stops before planning anything while a host key is a placeholder, naming each key and its ssh-keyscan", async () => {
        const r = await ws.shell(`npx pulumi preview --diff -s ${STACK}`);
        expect(r.code).not.toBe(0);
        const said = r.stdout + r.stderr;
        for (const key of ["externalHost.ssh.hostKey", "nodes.list[0].hostKey", "registry.maintenance.backup.destination.hostKey"])
            expect(said).toContain(key);
        expect(said).toContain("ssh-keyscan");
        // Only the stack itself, which the engine counts before the program fails, is planned.
        expect(Number(/\+ (\d+) to create/.exec(said)?.[1] ?? 0)).toBeLessThanOrEqual(1);
        expect(said).not.toContain("command:remote:Command");
    });

    it("with the keys pinned, plans a create of every resource the synth registers, and nothing else", async () => {
        const stackFile = path.join(ws.projectDir, `Pulumi.${STACK}.yaml`);
        writeFileSync(stackFile, readFileSync(stackFile, "utf8").replaceAll(PLACEHOLDER, hostKey));
        const r = await ws.shell(`npx pulumi preview --diff -s ${STACK}`);
        expect(r.code, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toContain(`+ ${syntheticUrns().length} to create`);
        expect(r.stdout).not.toMatch(/to (update|replace|delete)/);
    });

    it("stores nothing: a preview leaves the stack without resources", async () => {
        const state = await ws.exportState(STACK);
        expect(state.deployment.resources ?? []).toEqual([]);
    });
});
