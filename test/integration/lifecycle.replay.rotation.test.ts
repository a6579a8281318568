/**
 * The `rotation` bump of test/unit/lifecycle.plan.test.ts replayed on the external host: the prod
 * stack's users files (the only host steps a rotation changes) written by config A's `up`, then by the
 * rotation's plan, through a real OpenSSH server into a private root ($DSO_ROOT) that plays the host.
 *
 * The mock runtime gives a generated password a value derived from its name and inputs, as the random
 * provider makes a new one whenever an input (a keeper) changes; so the plan's new users files hold
 * the hashes of the new passwords. Checked afterwards, against the files as written on the host: each
 * account's hash matches its new password and not its old one (bcrypt compare, the algorithm Caddy's
 * basic_auth checks with; no Caddy front is started here).
 */
import { readFileSync } from "node:fs";
import * as path from "node:path";
import bcrypt from "bcryptjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultHostLayout, hostPaths } from "../../components/externalHost/scripts";
import { mockPassword, type RecordedResource } from "../../tools/mockRuntime";
import { describePlan, plain, planOf, type Step } from "../support/plan";
import { replaySteps } from "../support/replay";
import { type SshServer, startSshServer } from "../support/sshServer";
import { committedState, edited, type Raw, run } from "../support/transitions";

const paths = hostPaths(defaultHostLayout("/srv/data/registry"));
/** The host commands that write the users files. */
const writesUsers = (name: string) => /^registry-host-.*users-(push|pull)-write$/.test(name);

let ssh: SshServer;

/** Runs the users-file steps of a plan over SSH; returns how many scripts ran. */
const replay = (steps: readonly Step[], context: string) => replaySteps(ssh, steps, writesUsers, context);

/** The generated accounts' passwords of a run, by account resource name, as the mock gave them. */
function passwordsOf(resources: readonly RecordedResource[]): Map<string, string> {
    return new Map(
        resources
            .filter((r) => r.type === "random:index/randomPassword:RandomPassword" && r.name.startsWith("registry-accounts-"))
            .map((r) => [r.name, mockPassword(r.name, plain(r.rawInputs) as Record<string, unknown>)]),
    );
}

/** username → bcrypt hash, from a users file as written on the host (`user hash` per line). */
function hashesOnHost(file: string): Map<string, string> {
    const text = readFileSync(path.join(ssh.root, file), "utf8");
    return new Map(
        text
            .split("\n")
            .map((line) => line.trim().split(/\s+/))
            .filter((f) => f.length === 2 && f[1]!.startsWith("$2"))
            .map((f) => [f[0]!, f[1]!]),
    );
}

beforeAll(async () => {
    ssh = await startSshServer();
}, 120_000);

afterAll(async () => {
    await ssh?.stop();
});

const prod = committedState("prod");

describe("prod, rotation bumped: the users files' steps replayed over SSH", () => {
    it("leaves users files whose hashes match the new passwords and not the old ones", async () => {
        const before = await run("prod", prod);
        const after = await run(
            "prod",
            edited(prod, (r) => Object.assign(r.containerRegistry as Raw, { rotation: "2" })),
        );
        expect(replay(planOf([], before.resources).steps, "deploying A"), "A's users-file steps").toBeGreaterThan(0);

        const plan = planOf(before.resources, after.resources);
        console.log(`rotation bumped: ${describePlan(plan)}`);
        expect(replay(plan.steps, describePlan(plan)), "the rotation's users-file steps").toBeGreaterThan(0);

        const old = passwordsOf(before.resources);
        const now = passwordsOf(after.resources);
        expect(now.size, "generated accounts").toBeGreaterThan(0);
        const hashes = new Map([...hashesOnHost(paths.pushUsers), ...hashesOnHost(paths.pullUsers)]);
        let checked = 0;
        for (const r of after.resources.filter((x) => now.has(x.name))) {
            const username = String((plain(r.rawInputs) as { keepers?: { username?: string } }).keepers?.username);
            const hash = hashes.get(username);
            expect(hash, `${username} in the users files on the host`).toBeDefined();
            expect(old.get(r.name), `${r.name} changed`).not.toBe(now.get(r.name));
            expect(bcrypt.compareSync(now.get(r.name)!, hash!), `${username}: the new password matches`).toBe(true);
            expect(bcrypt.compareSync(old.get(r.name)!, hash!), `${username}: the old password does not`).toBe(false);
            checked++;
        }
        expect(checked).toBe(now.size);
    });
});
