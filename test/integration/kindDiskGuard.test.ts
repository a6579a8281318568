/**
 * The kind placement's disk guard (`registry.diskGuard`, components/kind/diskGuard.ts, docs/runbooks.md
 * "Disk full") on the real Docker engine: the placement's files as the program renders them, its containers
 * from its own script, busybox crond in the upkeep container (the watcher's image) running the guard on
 * its schedule (every minute here; the stack's: every five minutes), `kind.dataDir`'s images on a small file
 * system of their own (a 64 MiB tmpfs) filled by real pushes through the front. Past `refusePercent` the
 * front answers new uploads 507 with the message, pulls go on, no half-written blob lands; once a tag's
 * deletion and the garbage collection free space, pushes land again.
 */
import { mkdirSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { containersApplyScript, containersDeleteScript, type KindLayout, kindPaths } from "../../components/kind/scripts";
import { type DiskGuardClient, diskGuardClient, fillAndFree, waitFor } from "../support/diskGuardClient";
import { type DockerEngine, startDockerEngine } from "../support/dockerEngine";
import { pinnedCaddyImage, registryImage } from "../support/dockerImages";
import { onHost, onHostOk, placeKindFiles } from "../support/kindFiles";
import { dockerCliImage } from "../support/kindNode";
import { createNetns, type TestNetns } from "../support/netns";
import { makeAccount } from "../support/realRegistry";
import { privateDir, removeDir, run } from "../support/serverProcess";

const DATA_FS_MIB = 64;
const REFUSE_PERCENT = 90;
const PORT = 5004;
const FILES = { distribution: "files-1", front: "files-1", watcher: "files-1", upkeep: "files-1" };

let scratch = "";
let ns: TestNetns;
let engine: DockerEngine;
let layout: KindLayout;
let images: string;
let mounted = false;
let client: DiskGuardClient;

const logs = () =>
    [layout.registryName, kindPaths(layout).upkeepName]
        .map((name) => {
            const r = engine.docker(["logs", name]);
            return `--- ${name}\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`;
        })
        .join("\n");

beforeAll(async () => {
    scratch = privateDir("kind-disk-guard");
    layout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: PORT, dataDir: path.join(scratch, "data") };
    images = kindPaths(layout).images;
    mkdirSync(images, { recursive: true });
    const mount = run("mount", ["-t", "tmpfs", "-o", `size=${DATA_FS_MIB}m`, "dso-test-kind-images", images]);
    if (mount.code !== 0) throw new Error(`tmpfs for kind.dataDir's images: ${mount.stderr}`);
    mounted = true;
    ns = await createNetns({ prefix: "kdg", subnet: "198.19.192.0/20" });
    ns.writeEtcFile("hosts", "127.0.0.1 localhost\n");
    engine = await startDockerEngine(ns);
    const push = makeAccount("ci-push");
    placeKindFiles(layout, {
        push,
        deletesEnabled: true,
        diskGuard: { refusePercent: REFUSE_PERCENT, schedule: "* * * * *" },
    });
    const applied = onHostOk(
        engine,
        containersApplyScript(
            layout,
            { distribution: registryImage(engine), front: pinnedCaddyImage(engine), watcher: dockerCliImage(engine) },
            FILES,
        ),
    );
    expect(applied).toContain("changed maintenance (garbage collection, disk guard)");
    await waitFor("the front", 30_000, () =>
        ns.run("curl", ["-s", "-o", "/dev/null", `http://127.0.0.1:${PORT}/v2/dev/none/tags/list`]).code === 0 ? true : undefined,
    );
    client = diskGuardClient({ ns, authority: `localhost:${PORT}`, scheme: "http", push, scratch });
}, 300_000);

afterAll(async () => {
    if (engine && layout) onHost(engine, containersDeleteScript(layout));
    await engine?.stop();
    await ns?.destroy();
    if (mounted) run("umount", [images]);
    if (scratch) removeDir(scratch);
});

describe("the kind registry's disk guard, on kind.dataDir's images filled by real pushes", () => {
    test("past refusePercent new uploads get 507 saying the disk is full, pulls go on; after a clean-up pushes land again", async () => {
        await fillAndFree({
            client,
            dataDir: images,
            refusePercent: REFUSE_PERCENT,
            front: "the front",
            // crond runs the guard every minute.
            guardWaitMs: 150_000,
            // Distribution's garbage-collect in the registry's Distribution container.
            collect: () =>
                engine.dockerOk([
                    "exec",
                    kindPaths(layout).distributionName,
                    "registry",
                    "garbage-collect",
                    "/etc/docker/registry/config.yml",
                ]),
            logs,
        });
    }, 600_000);
});
