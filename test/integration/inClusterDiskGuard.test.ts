/**
 * The disk guard in the registry pod (`registry.diskGuard`, components/inCluster/diskGuard.ts,
 * docs/runbooks.md "Disk full"), on the pod as the program renders it (test/support/renderedRegistryPod.ts),
 * run for real (test/support/podRunner.ts:
 * the Caddy sidecar, Distribution and the disk-guard container, each with its mounts, user and read-only
 * root), its data volume a small file system of its own (a 64 MiB tmpfs) filled by real pushes through the
 * TLS Service (a forwarder to the pod's TLS port, at the address the clients resolve the registry's name to).
 * The guard's container checks every second here (the stack's pods: every five minutes); past
 * `refusePercent` the sidecar answers new uploads 507 with the message, pulls go on, no half-written blob
 * lands; once a tag's deletion and the garbage collection free space, pushes land again.
 */
import { afterAll, beforeAll, describe, test } from "vitest";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { collectFilesystemGarbage, fillAndFree } from "../support/diskGuardClient";
import { type GuardedRegistryPod, startGuardedRegistryPod } from "../support/renderedRegistryPod";
import { privateDir, removeDir } from "../support/serverProcess";

const HOST = "registry.test";
const DATA_FS_MIB = 64;
const REFUSE_PERCENT = 90;

let scratch: string;
let guarded: GuardedRegistryPod | undefined;
let dataDir: string;

beforeAll(async () => {
    scratch = privateDir("in-cluster-disk-guard");
    guarded = await startGuardedRegistryPod({
        scratch,
        host: HOST,
        netns: { prefix: "icdg", subnet: "198.19.160.0/20" },
        refusePercent: REFUSE_PERCENT,
        dataMiB: DATA_FS_MIB,
    });
    dataDir = guarded.pod.claimDir(IN_CLUSTER.dataClaim);
}, 180_000);

afterAll(async () => {
    await guarded?.stop();
    if (scratch) removeDir(scratch);
});

describe("the disk guard in the registry pod, on a data volume filled by real pushes", () => {
    test("past refusePercent new uploads get 507 saying the disk is full, pulls go on; after a clean-up pushes land again", async () => {
        await fillAndFree({
            client: guarded!.client,
            dataDir,
            refusePercent: REFUSE_PERCENT,
            front: "the sidecar",
            // The guard's container checks every second.
            guardWaitMs: 60_000,
            collect: () => collectFilesystemGarbage(scratch, dataDir),
            logs: () => guarded!.pod.logs(),
        });
    });
});
