/**
 * The registry pod stand-in (registryPodStandIn.ts) of an in-cluster stack with scheduled backups, for the
 * tests of the jobs that hold writes back while they work (the backup, the garbage collection): the stack as
 * the program synthesizes it with restic's backup on (a repository password made here), the pod started, its
 * CronJobs run as rendered, and images pushed through its front with the manifest digests a pull reads back.
 */
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { expect } from "vitest";
import type { SecretName } from "../../components/config";
import { makeAccount, makeOciImage, skopeoCopy, type TestAccount } from "./realRegistry";
import { type JobRun, type RegistryPodStandIn, runCronJob, startRegistryPodStandIn, synthRegistryPod } from "./registryPodStandIn";
import { runOk } from "./serverProcess";

export interface BackedUpPod extends RegistryPodStandIn {
    /** Runs CronJob `name`'s script as rendered, with the stand-in kubectl; resolves with its exit and output. */
    runJob(name: string): Promise<JobRun>;
}

/** Synthesizes the stack with backups (restic 0.17.3, keeping `keep` snapshots, to `destination`) and starts its pod. */
export async function startBackedUpPod(o: {
    /** The push account; the pull account is one of the helper's own. */
    readonly push: TestAccount;
    readonly keep: number;
    /** `registry.maintenance.backup.destination`: a bucket or a volume. */
    readonly destination: Readonly<Record<string, unknown>>;
    /** Secrets besides the repository's password (the bucket's keys). */
    readonly secrets?: Partial<Record<SecretName, string>>;
    /** Ports on this machine's loopback the pod reaches (an S3 server's). */
    readonly loopbackServices?: readonly number[];
}): Promise<BackedUpPod> {
    const stack = await synthRegistryPod({
        push: o.push,
        pull: makeAccount("cluster-pull"),
        maintenance: { backup: { enabled: true, image: "restic/restic:0.17.3", keep: o.keep, destination: o.destination } },
        secrets: { backupRepositoryPassword: randomBytes(24).toString("base64"), ...o.secrets },
    });
    const pod = await startRegistryPodStandIn(stack, { loopbackServices: o.loopbackServices });
    return { ...pod, runJob: (name) => runCronJob(pod, stack.objects, name) };
}

/** Pushes a random image of `bytes` to `image` (repository:tag) through the front as `push`: skopeo succeeds, silent on stderr. */
export function pushImage(pod: RegistryPodStandIn, push: TestAccount, work: string, image: string, bytes: number): void {
    const oci = makeOciImage(path.join(work, "src", image.replace(/[/:]/g, "_")), bytes);
    const r = skopeoCopy(oci.ref, `docker://${pod.authority}/${image}`, { certDir: pod.certDir, creds: push, scratch: work });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
}

/** The digest of `image`'s manifest, as an anonymous pull through the front reads it. */
export function manifestDigest(pod: RegistryPodStandIn, image: string): string {
    return runOk("skopeo", [
        "inspect",
        "--cert-dir",
        pod.certDir,
        "--no-creds",
        "--format",
        "{{.Digest}}",
        `docker://${pod.authority}/${image}`,
    ]).stdout.trim();
}
