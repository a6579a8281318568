/**
 * `externalHost.purgeDataOnDestroy` decided when the delete runs: the prod stack's host commands that
 * hold or remove data (the data directories and the purge marker), registered by the program for each
 * config and replayed the way the engine runs a change: changed commands run their create again (no
 * `triggers`: an update in place), then removed commands run their delete with their stored (old)
 * script; a destroy runs every delete, dependents first, so the purge marker's last. The scripts run for
 * real with /bin/sh under a private root ($DSO_ROOT), as root, as over SSH.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { readStackConfig, runProgram } from "../../tools/synth";
import { PROJECT_DIR } from "../support/synthCli";

interface HostCommand {
    readonly create: string;
    readonly delete: string;
}
type Plan = Map<string, HostCommand>;

const DATA_DIR = "/srv/data/registry";
const roots: string[] = [];
afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** The prod stack's data-holding host commands with `storage` and `purge` set. */
async function planOf(storage: "filesystem" | "s3", purge: boolean): Promise<Plan> {
    const stackConfig = readStackConfig(PROJECT_DIR, "prod");
    const registry = JSON.parse(stackConfig.config["dso-registry:registry"]!);
    registry.storage = storage === "s3" ? { kind: "s3", s3: { bucket: "registry" } } : { kind: "filesystem" };
    const externalHost = JSON.parse(stackConfig.config["dso-registry:externalHost"]!);
    externalHost.purgeDataOnDestroy = purge;
    const run = await runProgram("prod", {
        ...stackConfig,
        config: {
            ...stackConfig.config,
            "dso-registry:registry": JSON.stringify(registry),
            "dso-registry:externalHost": JSON.stringify(externalHost),
        },
    });
    const plain = (script: unknown) => String(script).replace(/^sudo -n /, "");
    return new Map(
        run.resources
            .filter((r) => r.type === "command:remote:Command" && /-(data-dir|purge-marker)$/.test(r.name))
            .map((r) => [r.name, { create: plain(r.inputs.create), delete: plain(r.inputs.delete) }]),
    );
}

function sh(script: string, root: string): void {
    execFileSync("/bin/sh", ["-c", script], { env: { ...process.env, DSO_ROOT: root }, stdio: ["ignore", "pipe", "pipe"] });
}

/** One `pulumi up` from `before` to `after`, in the engine's order. */
function up(before: Plan, after: Plan, root: string): void {
    for (const [name, c] of after) if (before.get(name)?.create !== c.create) sh(c.create, root);
    for (const [name, c] of before) if (!after.has(name)) sh(c.delete, root);
}

/** `pulumi destroy`: every delete, with the stored scripts; the purge marker, which all else depends on, last. */
function destroy(state: Plan, root: string): void {
    const names = [...state.keys()].sort((a, b) => Number(a.endsWith("-purge-marker")) - Number(b.endsWith("-purge-marker")));
    for (const name of names) sh(state.get(name)!.delete, root);
}

/** A private root holding registry data, as a host after its first `up`. */
function hostWithData(): { root: string; image: string } {
    const root = mkdtempSync(path.join(tmpdir(), "dso-purge-"));
    roots.push(root);
    const image = path.join(root, DATA_DIR, "docker/registry/v2/repositories/team/app/_manifests/tags/1/current/link");
    mkdirSync(path.dirname(image), { recursive: true });
    writeFileSync(image, "sha256:0123\n");
    return { root, image };
}

describe("purgeDataOnDestroy is decided when the delete runs, from the host", () => {
    const plans: Record<string, Plan> = {};
    beforeAll(async () => {
        plans.filesystemPurge = await planOf("filesystem", true);
        plans.filesystemKeep = await planOf("filesystem", false);
        plans.s3Purge = await planOf("s3", true);
    }, 120_000);

    it("storage moved to s3 with purge on: the data directory leaves the program and its data stays", () => {
        const { root, image } = hostWithData();
        up(new Map(), plans.filesystemPurge!, root);
        up(plans.filesystemPurge!, plans.s3Purge!, root);
        expect(existsSync(image)).toBe(true);
        destroy(plans.s3Purge!, root);
        expect(existsSync(image)).toBe(true);
    });

    it("purge on, then destroy: the data goes", () => {
        const { root } = hostWithData();
        up(new Map(), plans.filesystemPurge!, root);
        destroy(plans.filesystemPurge!, root);
        expect(existsSync(path.join(root, DATA_DIR))).toBe(false);
    });

    it("purge turned off, `up`, then destroy: the data stays", () => {
        const { root, image } = hostWithData();
        up(new Map(), plans.filesystemPurge!, root);
        up(plans.filesystemPurge!, plans.filesystemKeep!, root);
        destroy(plans.filesystemKeep!, root);
        expect(existsSync(image)).toBe(true);
    });

    it("purge turned on, `up`, then destroy: the data goes", () => {
        const { root } = hostWithData();
        up(new Map(), plans.filesystemKeep!, root);
        up(plans.filesystemKeep!, plans.filesystemPurge!, root);
        destroy(plans.filesystemPurge!, root);
        expect(existsSync(path.join(root, DATA_DIR))).toBe(false);
    });
});
