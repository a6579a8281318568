/**
 * Plans of test/unit/lifecycle.plan.test.ts replayed on the external host, for what holds or removes the
 * registry's data: the prod stack's data-directory commands and the purge marker (externalHost
 * purgeDataOnDestroy, decided on the host at delete time). Config A is deployed as its `up` would (each
 * command's create, in registration order), an image's files are put in the data directory, then each
 * later config's plan (test/support/plan.ts: updates run create with the new inputs, deletes run last
 * with the *old* delete script) and finally the destroy's plan run step by step through a real OpenSSH
 * server into a private root ($DSO_ROOT) that plays the host.
 *
 * Each row asserts: no step fails; the data directory and the image's files are there after every `up`;
 * after the destroy they are gone only when purge was on at destroy time.
 *
 * What is not replayed here: the host's containers (Distribution, Caddy) on a Docker engine; the
 * caches' replay (test/integration/lifecycle.replay.test.ts) does that for the mirrors.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultHostLayout } from "../../components/externalHost/scripts";
import { describePlan, planOf, type Step } from "../support/plan";
import { replaySteps } from "../support/replay";
import { type SshServer, startSshServer } from "../support/sshServer";
import { committedState, edited, type Raw, run, type StackState } from "../support/transitions";

const layout = defaultHostLayout("/srv/data/registry");
const IMAGE_FILE = `${layout.dataDir}/docker/registry/v2/repositories/team/app/_layers/sha256/0000/link`;
/** The commands that hold or remove the registry's data on the host. */
const holdsData = (name: string) => /^registry-host-(.*-)?(data-dir|purge-marker)$/.test(name);

let ssh: SshServer;

/** Runs the data steps of a plan over SSH; returns how many scripts ran. */
const replay = (steps: readonly Step[], context: string) => replaySteps(ssh, steps, holdsData, context);

const onHost = (p: string) => path.join(ssh.root, p);

beforeAll(async () => {
    ssh = await startSshServer();
}, 120_000);

afterAll(async () => {
    await ssh?.stop();
});

const prod = committedState("prod");
const withPurge = (purge: boolean, edit: (r: Raw) => void = () => undefined): StackState =>
    edited(prod, (r) => {
        (r.externalHost as Raw).purgeDataOnDestroy = purge;
        edit(r);
    });
const s3 = (r: Raw) => {
    (r.registry as Raw).storage = { kind: "s3", s3: { bucket: "dso-images", endpoint: "https://minio.example.com" } };
};

const ROWS: { name: string; configs: StackState[]; purgedOnDestroy: boolean }[] = [
    { name: "storage filesystem → s3 (purge on), then destroy", configs: [withPurge(true), withPurge(true, s3)], purgedOnDestroy: false },
    { name: "purge on → off, then destroy", configs: [withPurge(true), withPurge(false)], purgedOnDestroy: false },
    { name: "purge off → on, then destroy", configs: [withPurge(false), withPurge(true)], purgedOnDestroy: true },
];

describe.each(ROWS.map((row) => [row.name, row] as const))("prod, %s: the host's data steps replayed over SSH", (_, row) => {
    it("keeps the data through every up and removes it on destroy only when purge is on then", async () => {
        rmSync(ssh.root, { recursive: true, force: true });
        mkdirSync(ssh.root, { recursive: true });
        const runs = [];
        for (const config of row.configs) runs.push(await run("prod", config));

        const first = planOf([], runs[0]!.resources);
        expect(replay(first.steps, "deploying A"), "A's data steps").toBeGreaterThan(0);
        mkdirSync(path.dirname(onHost(IMAGE_FILE)), { recursive: true });
        writeFileSync(onHost(IMAGE_FILE), "sha256:0000\n");

        for (let i = 1; i < runs.length; i++) {
            const plan = planOf(runs[i - 1]!.resources, runs[i]!.resources);
            console.log(`${row.name}, up ${i}: ${describePlan(plan)}`);
            replay(plan.steps, describePlan(plan));
            expect(existsSync(onHost(IMAGE_FILE)), `the image's files after up ${i}\n${describePlan(plan)}`).toBe(true);
        }

        const destroy = planOf(runs.at(-1)!.resources, undefined);
        replay(destroy.steps, describePlan(destroy));
        expect(existsSync(onHost(IMAGE_FILE)), "the image's files after destroy").toBe(!row.purgedOnDestroy);
        expect(existsSync(onHost(layout.dataDir)), `${layout.dataDir} after destroy`).toBe(!row.purgedOnDestroy);
    });
});
