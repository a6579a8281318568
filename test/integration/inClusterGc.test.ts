import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { IN_CLUSTER_BACKUP } from "../../components/inCluster/backup";
import { READ_ONLY_SIGNAL } from "../../components/inCluster/readOnlySignal";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { type BackedUpPod, manifestDigest, pushImage, startBackedUpPod } from "../support/backedUpPod";
import { blobHashes, expectLandedPullBackWhole, makePushLoop, type Push, type PushLoop, refusalsOtherThan503 } from "../support/pushLoop";
import { makeAccount, makeOciImage, skopeoCopy, writeAuthFile } from "../support/realRegistry";
import { type JobRun, POD_START_TIMEOUT_MS } from "../support/registryPodStandIn";
import { privateDir, removeDir, runOk, startServer } from "../support/serverProcess";

const IMAGES = ["team/app-1:1", "team/app-2:1", "other/tool:2.0"];
const UNTAGGED = "team/untagged";

describe("the in-cluster GC job checks every tagged image; pushes during GC and backup land or get 503", () => {
    let pod: BackedUpPod;
    let work: string;
    const push = makeAccount("ci-push");
    /** image → manifest digest, as pushed. */
    const pushed = new Map<string, string>();

    beforeAll(async () => {
        work = privateDir("cg-gc-test");
        pod = await startBackedUpPod({ push, keep: 2, destination: { kind: "volume", size: "1Gi" } });
    }, POD_START_TIMEOUT_MS);

    afterAll(async () => {
        await pod?.stop();
        if (work) removeDir(work);
    });

    test("images pushed through the sidecar, and a repository that holds an image and no tag", () => {
        for (const image of IMAGES) {
            pushImage(pod, push, work, image, 64 * 1024);
            pushed.set(image, manifestDigest(pod, image));
        }
        expect([...pushed.values()].every((d) => /^sha256:[0-9a-f]{64}$/.test(d))).toBe(true);
        // An image pushed by digest, never tagged: the repository is listed (Distribution 3 lists only
        // repositories that hold a manifest; 2.x listed one that held a blob), its tags are not.
        const curl = (...args: string[]) =>
            runOk("curl", ["-sS", "--cacert", pod.ca.caCertFile, "-u", `${push.username}:${push.password}`, ...args]);
        const sha256 = (content: Buffer) => `sha256:${createHash("sha256").update(content).digest("hex")}`;
        const put = (url: string, file: string, contentType: string) =>
            curl(
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                "PUT",
                "-H",
                `Content-Type: ${contentType}`,
                "--data-binary",
                `@${file}`,
                url,
            ).stdout;
        const upload = (name: string, content: Buffer): string => {
            const started = curl("-o", "/dev/null", "-D", "-", "-X", "POST", `https://${pod.authority}/v2/${UNTAGGED}/blobs/uploads/`);
            const location = started.stdout.match(/^location: (\S+)/im)?.[1];
            expect(location).toBeDefined();
            const url = new URL(location!, `https://${pod.authority}`);
            url.searchParams.set("digest", sha256(content));
            writeFileSync(path.join(work, name), content);
            expect(put(url.href, path.join(work, name), "application/octet-stream")).toBe("201");
            return sha256(content);
        };
        const layer = randomBytes(1024);
        const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }));
        const manifest = Buffer.from(
            JSON.stringify({
                schemaVersion: 2,
                mediaType: "application/vnd.oci.image.manifest.v1+json",
                config: {
                    mediaType: "application/vnd.oci.image.config.v1+json",
                    digest: upload("untagged-config", config),
                    size: config.length,
                },
                layers: [
                    { mediaType: "application/vnd.oci.image.layer.v1.tar", digest: upload("untagged-layer", layer), size: layer.length },
                ],
            }),
        );
        writeFileSync(path.join(work, "untagged-manifest"), manifest);
        const manifestUrl = `https://${pod.authority}/v2/${UNTAGGED}/manifests/${sha256(manifest)}`;
        expect(put(manifestUrl, path.join(work, "untagged-manifest"), "application/vnd.oci.image.manifest.v1+json")).toBe("201");
        const catalog = runOk("curl", ["-sS", "--cacert", pod.ca.caCertFile, `https://${pod.authority}/v2/_catalog`]);
        expect(JSON.parse(catalog.stdout).repositories).toContain(UNTAGGED);
        const tags = runOk("curl", ["-sS", "--cacert", pod.ca.caCertFile, `https://${pod.authority}/v2/${UNTAGGED}/tags/list`]);
        expect(JSON.parse(tags.stdout).tags ?? []).toEqual([]);
    });

    test("the GC job collects inside the front's window in the registry container, restarting nothing, then checks every tagged image there, and passes", async () => {
        const callsBefore = pod.kubectlCalls().length;
        const startsBefore = pod.starts();
        const gc = await pod.runJob(IN_CLUSTER.gcName);
        expect(gc.code, `${gc.stdout}\n${gc.stderr}\n${pod.logs()}`).toBe(0);
        // The untagged repository is skipped; every tagged image and each of its blobs (config and layer) is counted.
        expect(gc.stdout).toContain(`verified: ${IMAGES.length} tagged images, ${IMAGES.length * 2} blobs, all served`);
        expect(gc.stderr).not.toContain("MISSING");
        const steps = pod
            .kubectlCalls()
            .slice(callsBefore)
            .map((c) => c.replace(/^--namespace dso /, ""));
        expect(steps).toEqual([
            `exec deployment/registry --container=registry -- /bin/sh ${IN_CLUSTER.configDir}/${IN_CLUSTER.gcStepScript}`,
            `exec deployment/registry --container=registry -- /bin/sh ${IN_CLUSTER.configDir}/${IN_CLUSTER.verifyScript}`,
        ]);
        expect(gc.stdout).toContain("front read-only (writes get 503, pulls go on, writes in flight have landed); collecting garbage");
        expect(pod.starts()).toBe(startsBefore);
        expect(existsSync(`${pod.root}${READ_ONLY_SIGNAL.gcMarker}`)).toBe(false);
        expect(pod.templateEnv()).toEqual({});
    }, 300_000);

    let pushLoop: PushLoop | undefined;

    /** skopeo pushes in a loop, each to a tag of its own, while `job` runs; the job's result and every push's. */
    function pushLoopDuring(label: string, job: () => Promise<JobRun>): Promise<{ result: JobRun; pushes: Push[] }> {
        pushLoop ??= makePushLoop({
            work,
            prefix: pod.authority,
            authFile: writeAuthFile(path.join(work, "auth"), pod.authority, push),
            certDir: pod.certDir,
            count: 4,
            start: startServer,
        });
        return pushLoop.during(label, job);
    }

    /** Every push that landed pulls back by digest, anonymously through the front, blob for blob. */
    const expectPulledBack = (pushes: readonly Push[]) =>
        expectLandedPullBackWhole(pushLoop!, pushes, path.join(work, "pulled"), (src, dest) =>
            skopeoCopy(src, dest, { certDir: pod.certDir, scratch: work }),
        );

    test("pushes in a loop while the GC job runs: each lands or gets the front's 503, every push that landed pulls back by digest, whole, and nothing restarted", async () => {
        const startsBefore = pod.starts();
        const pidsBefore = pod.pids();
        const { result: job, pushes } = await pushLoopDuring("gc", () => pod.runJob(IN_CLUSTER.gcName));
        expect(job.code, `${job.stdout}\n${job.stderr}`).toBe(0);
        expect(job.stdout).toMatch(/verified: \d+ tagged images, \d+ blobs, all served/);
        expect(refusalsOtherThan503(pushes)).toEqual([]);
        // The loop met the job's read-only window.
        expect(pushes.filter((p) => p.code !== 0).length).toBeGreaterThan(0);
        expect(pod.starts()).toBe(startsBefore);
        expect(pod.pids()).toEqual(pidsBefore);
        expectPulledBack(pushes);
    }, 600_000);

    test("pushes in a loop while the backup job runs: each lands or gets the front's 503, and every push that landed pulls back by digest, whole", async () => {
        const { result: job, pushes } = await pushLoopDuring("backup", () => pod.runJob(IN_CLUSTER_BACKUP.name));
        expect(job.code, `${job.stdout}\n${job.stderr}`).toBe(0);
        expect(job.stdout).toContain("backup done");
        expect(refusalsOtherThan503(pushes)).toEqual([]);
        // The loop met the read-only window.
        expect(pushes.filter((p) => p.code !== 0).length).toBeGreaterThan(0);
        expectPulledBack(pushes);
    }, 600_000);

    test("a blob the collection removed is answered 404 through the front afterwards, by the Distribution that saw it pushed (no cache answers for it)", async () => {
        const startsBefore = pod.starts();
        const pidsBefore = pod.pids();
        // Two images that share nothing: a layer of random bytes each, and configs of their own.
        const keep = { image: "gc/keep:1", oci: makeOciImage(path.join(work, "src", "gc-keep"), 32 * 1024) };
        const drop = { image: "gc/drop:1", oci: makeOciImage(path.join(work, "src", "gc-drop"), 32 * 1024 + 1) };
        for (const { image, oci } of [keep, drop]) {
            const r = skopeoCopy(oci.ref, `docker://${pod.authority}/${image}`, { certDir: pod.certDir, creds: push, scratch: work });
            expect(r.code, r.stderr).toBe(0);
        }
        const keepDigest = manifestDigest(pod, keep.image);
        const dropDigest = manifestDigest(pod, drop.image);
        const curl = (...args: string[]) => runOk("curl", ["-sS", "--cacert", pod.ca.caCertFile, ...args]).stdout;
        const manifest = JSON.parse(
            curl("-H", "Accept: application/vnd.oci.image.manifest.v1+json", `https://${pod.authority}/v2/gc/drop/manifests/${dropDigest}`),
        ) as { config: { digest: string }; layers: { digest: string }[] };
        const dropBlobs = [manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
        const head = (digest: string) =>
            curl("-o", "/dev/null", "-w", "%{http_code}", "-I", `https://${pod.authority}/v2/gc/drop/blobs/${digest}`);
        expect(dropBlobs.map(head)).toEqual(dropBlobs.map(() => "200"));
        // docs/deletes-and-gc.md: delete the manifest by digest (its tag goes with it); its blobs are garbage now.
        const deleted = curl(
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-u",
            `${push.username}:${push.password}`,
            "-X",
            "DELETE",
            `https://${pod.authority}/v2/gc/drop/manifests/${dropDigest}`,
        );
        expect(deleted).toBe("202");

        const gc = await pod.runJob(IN_CLUSTER.gcName);
        expect(gc.code, `${gc.stdout}\n${gc.stderr}`).toBe(0);
        for (const digest of dropBlobs) {
            const hex = digest.replace("sha256:", "");
            expect(existsSync(`${pod.root}${IN_CLUSTER.dataDir}/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}`), digest).toBe(
                false,
            );
        }
        // The repository still links them and Distribution saw them pushed; without a restart, only the
        // missing cache keeps it from answering 200 for data the collection removed.
        expect(dropBlobs.map(head)).toEqual(dropBlobs.map(() => "404"));
        expect(pod.starts()).toBe(startsBefore);
        expect(pod.pids()).toEqual(pidsBefore);
        // The other image is whole.
        const dest = path.join(work, "pulled-after-gc", "gc-keep");
        mkdirSync(path.dirname(dest), { recursive: true });
        const r = skopeoCopy(`docker://${pod.authority}/gc/keep@${keepDigest}`, `oci:${dest}:pulled`, {
            certDir: pod.certDir,
            scratch: work,
        });
        expect(r.code, r.stderr).toBe(0);
        const source = blobHashes(keep.oci.dir);
        const back = blobHashes(dest);
        expect(back.get(keepDigest.replace("sha256:", ""))).toBe(keepDigest.replace("sha256:", ""));
        for (const [name, hash] of back) expect(source.get(name), `blob ${name}`).toBe(hash);
    }, 300_000);

    test("a blob file gone behind the registry's back: the job fails naming that image and no other, and the registry is writable again", async () => {
        const victim = IMAGES[1]!;
        const [repo] = victim.split(":");
        const manifest = JSON.parse(
            runOk("curl", [
                "-sS",
                "--cacert",
                pod.ca.caCertFile,
                "-H",
                "Accept: application/vnd.oci.image.manifest.v1+json",
                `https://${pod.authority}/v2/${repo}/manifests/${pushed.get(victim)}`,
            ]).stdout,
        ) as { layers: { digest: string }[] };
        const layer = String(manifest.layers[0]?.digest).replace("sha256:", "");
        const blobDir = `${pod.root}${IN_CLUSTER.dataDir}/docker/registry/v2/blobs/sha256/${layer.slice(0, 2)}/${layer}`;
        expect(existsSync(path.join(blobDir, "data"))).toBe(true);
        rmSync(blobDir, { recursive: true });

        const gc = await pod.runJob(IN_CLUSTER.gcName);
        expect(gc.code).not.toBe(0);
        expect(gc.stderr).toContain(`MISSING ${victim}: blob sha256:${layer} (HTTP 404)`);
        expect(gc.stderr).toMatch(new RegExp(`^FAILED: these tagged images are not served whole: ${victim.replace(/[.]/g, "\\.")}$`, "m"));
        expect(gc.stderr).toContain("docs/in-cluster.md");
        for (const other of IMAGES.filter((i) => i !== victim)) expect(gc.stderr).not.toContain(other);
        expect(gc.stderr).not.toMatch(/MISSING (gc|backup)\//);
        // Writable again: the switch is off and a push lands.
        expect(pod.templateEnv()).toEqual({});
        pushImage(pod, push, work, "team/after:1", 1024);
    }, 300_000);
});
