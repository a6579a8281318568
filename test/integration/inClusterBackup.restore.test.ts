import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { IN_CLUSTER_BACKUP } from "../../components/inCluster/backup";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { BACKUP_TAG, BACKUP_WARM_TAG } from "../../components/upkeep/backup";
import { type BackedUpPod, manifestDigest, pushImage, startBackedUpPod } from "../support/backedUpPod";
import { makeAccount, skopeoCopy } from "../support/realRegistry";
import { POD_START_TIMEOUT_MS } from "../support/registryPodStandIn";
import { type S3Server, startS3Server } from "../support/s3Server";
import { privateDir, removeDir, run, runOk } from "../support/serverProcess";

const BUCKET = "registry-backups";
const KEEP = 2;
const IMAGES = ["team/app-1:1", "team/app-2:1", "other/tool:2.0"];

let s3: S3Server | undefined;
let pod: BackedUpPod;
let work: string;
const push = makeAccount("ci-push");
/** image → manifest digest, as pushed. */
const pushed = new Map<string, string>();

/** restic against the repository, with the password from the rendered Secret (for the test's own checks). */
function restic(...args: string[]) {
    const secretDir = `${pod.root}${IN_CLUSTER_BACKUP.secretDir}`;
    const repo = s3 ? `s3:${s3.endpoint}/${BUCKET}/dso-registry` : `${pod.root}${IN_CLUSTER_BACKUP.volumeDir}/repository`;
    const env = s3
        ? { ...process.env, AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey }
        : process.env;
    return runOk("restic", ["--repo", repo, "--password-file", `${secretDir}/${IN_CLUSTER_BACKUP.keys.password}`, "--no-cache", ...args], {
        env,
    });
}

function snapshotsTagged(tag: string): unknown[] {
    return JSON.parse(restic("snapshots", "--json", "--tag", tag).stdout) as unknown[];
}

/** Runs the backup CronJob's script as rendered, with the stand-in kubectl. */
const runJob = () => pod.runJob(IN_CLUSTER_BACKUP.name);

async function waitFor(file: string, what: string): Promise<void> {
    for (let i = 0; i < 1200; i++) {
        if (existsSync(file)) return;
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}`);
}

describe.each(["s3", "volume"] as const)("in-cluster backup to %s and restore", (kind) => {
    beforeAll(async () => {
        work = privateDir("cb-backup-test");
        pushed.clear();
        s3 = kind === "s3" ? await startS3Server([BUCKET]) : undefined;
        pod = await startBackedUpPod({
            push,
            keep: KEEP,
            destination: s3
                ? { kind: "s3", endpoint: s3.endpoint, bucket: BUCKET, prefix: "dso-registry", region: "us-east-1" }
                : { kind: "volume", size: "1Gi" },
            secrets: s3 ? { backupS3AccessKeyId: s3.credentials.accessKeyId, backupS3SecretAccessKey: s3.credentials.secretAccessKey } : {},
            loopbackServices: s3 ? [Number(new URL(s3.endpoint).port)] : [],
        });
    }, POD_START_TIMEOUT_MS);

    afterAll(async () => {
        await pod?.stop();
        await s3?.stop();
        if (work) removeDir(work);
    });

    test("images pushed through the sidecar", () => {
        for (const image of IMAGES) {
            pushImage(pod, push, work, image, 64 * 1024);
            pushed.set(image, manifestDigest(pod, image));
        }
        expect([...pushed.values()].every((d) => /^sha256:[0-9a-f]{64}$/.test(d))).toBe(true);
    });

    /** A blob upload's start as the push account sends it: the write every push begins with. */
    function startUpload() {
        return run("curl", [
            "-sS",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "--cacert",
            pod.ca.caCertFile,
            "-u",
            `${push.username}:${push.password}`,
            "-X",
            "POST",
            `https://${pod.authority}/v2/team/app-1/blobs/uploads/`,
        ]);
    }

    const marker = () => `${pod.root}${IN_CLUSTER_BACKUP.marker}`;

    test("inside the backup's pass 2 a write gets 503 with Retry-After, a pull gets 200, nothing restarts, and the job succeeds", async () => {
        const startsBefore = pod.starts();
        const pidsBefore = pod.pids();
        const callsBefore = pod.kubectlCalls().length;
        const hold = path.join(pod.podDir, "hold-pass-2");
        writeFileSync(hold, "");
        const job = runJob();
        try {
            await waitFor(path.join(pod.podDir, "holding-pass-2"), "the job's pass 2");
            expect(existsSync(marker())).toBe(true);
            const write = startUpload();
            expect(write.stdout).toMatch(/^HTTP\/\S+ 503/m);
            expect(write.stdout).toMatch(/^retry-after: \d+/im);
            const read = run("curl", [
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--cacert",
                pod.ca.caCertFile,
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                `https://${pod.authority}/v2/team/app-1/manifests/1`,
            ]);
            expect(read.stdout).toBe("200");
        } finally {
            unlinkSync(hold);
            rmSync(path.join(pod.podDir, "holding-pass-2"), { force: true });
        }
        const { code, output } = await job;
        expect(output + pod.logs()).toMatch(/registry writable again after \d+ s read-only/);
        expect(code).toBe(0);
        expect(existsSync(marker())).toBe(false);
        expect({ starts: pod.starts(), pids: pod.pids() }).toEqual({ starts: startsBefore, pids: pidsBefore });
        const calls = pod
            .kubectlCalls()
            .slice(callsBefore)
            .map((c) => c.replace(/^--namespace dso /, ""));
        expect(calls).toEqual([
            expect.stringMatching(/^exec deployment\/registry --container=backup -- \/bin\/sh \S+\/backup\.sh writable$/),
            expect.stringMatching(/^exec deployment\/registry --container=backup -- \/bin\/sh \S+\/backup\.sh read-only [0-9a-f]{8,64}$/),
            expect.stringMatching(/^exec .*\/backup\.sh retention$/),
        ]);
    }, 300_000);

    test("when pass 2 fails the job fails, the marker is gone and writes pass again, without a restart", async () => {
        const startsBefore = pod.starts();
        const fail = path.join(pod.podDir, "fail-pass-2");
        writeFileSync(fail, "");
        let result: { code: number | null; output: string };
        try {
            result = await runJob();
        } finally {
            unlinkSync(fail);
        }
        expect(result.output).toContain("pass 2 fails (test hook)");
        expect(result.code).not.toBe(0);
        expect(existsSync(marker())).toBe(false);
        expect(startUpload().stdout).toMatch(/^HTTP\/\S+ 202/m);
        expect(pod.starts()).toBe(startsBefore);
    }, 300_000);

    test("after the job the registry takes writes again", () => {
        pushImage(pod, push, work, "team/after:1", 1024);
    });

    test(`retention keeps ${KEEP} snapshots and no snapshot of a writable pass`, async () => {
        for (let i = 0; i < 2; i++) {
            const { code, output } = await runJob();
            expect(output).toContain("backup done");
            expect(code).toBe(0);
        }
        expect(snapshotsTagged(BACKUP_TAG)).toHaveLength(KEEP);
        expect(snapshotsTagged(BACKUP_WARM_TAG)).toHaveLength(0);
    }, 300_000);

    test("restored into a wiped volume by the restore job's pod, every image pulls back by digest, whole", async () => {
        pod.scaleToZero();
        const data = `${pod.root}${IN_CLUSTER.dataDir}`;
        rmSync(data, { recursive: true, force: true });
        // The volume's root as the cluster mounts it: root's, group-writable for the pod's fsGroup.
        mkdirSync(data, { recursive: true, mode: 0o2775 });
        chownSync(data, 0, IN_CLUSTER.uid);
        runOk("chmod", ["2775", data]);
        // The restore Job's own pod, as the stack specifies it, on the same volumes.
        const restore = await pod.runJobPod(IN_CLUSTER_BACKUP.restoreName);
        expect(restore.stdout + restore.stderr).toContain(`restored ${IN_CLUSTER.dataDir}`);
        expect(restore.code).toBe(0);
        expect(readdirSync(data)).toEqual(["docker"]);
        pod.rollout();
        for (const [image, digest] of [...pushed, ["team/after:1", ""] as const]) {
            const name = image.split(":")[0]!;
            const ref = digest ? `${name}@${digest}` : image;
            const dest = path.join(work, "pulled", image.replace(/[/:]/g, "_"));
            rmSync(dest, { recursive: true, force: true });
            mkdirSync(path.dirname(dest), { recursive: true });
            const r = skopeoCopy(`docker://${pod.authority}/${ref}`, `oci:${dest}:x`, { certDir: pod.certDir, scratch: work });
            expect(r.stderr).toBe("");
            expect(r.code).toBe(0);
            // Every blob of the pulled image, checked against its digest.
            const blobs = readdirSync(path.join(dest, "blobs", "sha256"));
            expect(blobs.length).toBeGreaterThanOrEqual(3);
            for (const blob of blobs) {
                const sum = runOk("sha256sum", [path.join(dest, "blobs", "sha256", blob)]).stdout.split(" ")[0];
                expect(sum).toBe(blob);
            }
            if (digest) {
                const manifest = readFileSync(path.join(dest, "blobs", "sha256", digest.slice("sha256:".length)));
                expect(manifest.length).toBeGreaterThan(0);
            }
        }
    }, 300_000);
});
