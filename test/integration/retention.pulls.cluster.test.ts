/**
 * Retention by last pull (`keepPulledWithinDays`) in the cluster, end to end with real software: the
 * synthesized registry pod (test/support/registryPodStandIn.ts: Distribution behind the pinned Caddy sidecar,
 * which logs to stdout as in a pod) and its synthesized CronJobs, run with the stand-in kubectl (it keeps the
 * ConfigMap `registry-pull-history` as the API server would, made empty as the program's `up` makes it, and
 * answers `kubectl logs` from the sidecar's output). Real pulls through the front by skopeo, anonymous: one by
 * tag before a new pod replaces the old, one by digest after. The harvest CronJob stores the first in the
 * ConfigMap; the new pod starts with an empty log (the old one's is gone, as with a real pod), and the GC
 * job's own harvest adds the second to what the ConfigMap kept, before retention reads the tags. The stored
 * history's "since" is set back 40 days by the test (pulls recorded for longer than the rule's window; the
 * guard for a younger history is retention.pulls.test.ts's). Retention keeps the two old tags that were
 * pulled, removes the two nobody pulled, and says why.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { PULL_HISTORY } from "../../components/inCluster/pullHistory";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";
import { makeAccount, makeOciImage, skopeoCopy } from "../support/realRegistry";
import {
    POD_START_TIMEOUT_MS,
    type RegistryPodStandIn,
    runCronJob,
    startRegistryPodStandIn,
    synthRegistryPod,
} from "../support/registryPodStandIn";
import { privateDir, removeDir, runOk } from "../support/serverProcess";

const DAY = 86_400;
const now = () => Math.floor(Date.now() / 1000);
const REPO = "team/app";

describe("in the cluster, retention by last pull reads the fronts' logs harvested into a ConfigMap that outlives the pods", () => {
    let pod: RegistryPodStandIn;
    let objects: K8sObject[];
    let work: string;
    const push = makeAccount("ci-push");
    const digests = new Map<string, string>();
    const configMapFile = () => path.join(pod.podDir, "configmaps", `${PULL_HISTORY.configMap}.json`);
    const stored = () =>
        JSON.parse(readFileSync(configMapFile(), "utf8")) as {
            metadata: { resourceVersion: string };
            data?: Record<string, string>;
            binaryData?: Record<string, string>;
        };
    const storedHistory = () => gunzipSync(Buffer.from(stored().binaryData?.["history.gz"] ?? "", "base64")).toString();

    function pull(reference: string) {
        const r = skopeoCopy(`docker://${pod.authority}/${REPO}${reference}`, `oci:${path.join(work, "pulled")}:x`, {
            certDir: pod.certDir,
            scratch: work,
        });
        expect(r.code, r.stderr).toBe(0);
    }

    beforeAll(async () => {
        work = privateDir("retention-pulls-pod-test-");
        const stack = await synthRegistryPod({
            push,
            pull: makeAccount("cluster-pull"),
            maintenance: { retention: { mode: "apply", rules: [{ prefix: "team/", keepPulledWithinDays: 30 }], protect: [] } },
        });
        objects = stack.objects;
        pod = await startRegistryPodStandIn(stack);
        // The ConfigMap as the program's `up` leaves it: no data; the harvest writes it.
        const configMap = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === PULL_HISTORY.configMap) as
            | (K8sObject & { data?: unknown; binaryData?: unknown })
            | undefined;
        expect(configMap).toBeDefined();
        expect(configMap?.data ?? configMap?.binaryData).toBeUndefined();
        runOk("mkdir", ["-p", path.dirname(configMapFile())]);
        writeFileSync(configMapFile(), JSON.stringify({ metadata: { name: PULL_HISTORY.configMap, resourceVersion: "1" } }));
        writeFileSync(path.join(pod.podDir, "workloads"), "");
        for (const tag of ["p1", "p2", "u1", "u2"]) {
            const image = makeOciImage(path.join(work, `src-${tag}`), 1024);
            const r = skopeoCopy(image.ref, `docker://${pod.authority}/${REPO}:${tag}`, {
                certDir: pod.certDir,
                creds: push,
                scratch: work,
            });
            expect(r.code, r.stderr).toBe(0);
            const link = `${pod.root}${IN_CLUSTER.dataDir}/docker/registry/v2/repositories/${REPO}/_manifests/tags/${tag}/current/link`;
            digests.set(tag, readFileSync(link, "utf8").trim());
            runOk("touch", ["-d", `@${now() - 100 * DAY}`, link]);
        }
    }, POD_START_TIMEOUT_MS);

    afterAll(async () => {
        await pod?.stop();
        if (work) removeDir(work);
    });

    test("the harvest CronJob reads the front's log into the ConfigMap: the pull by tag and the digest it was answered with", async () => {
        pull(":p1");
        const job = await runCronJob(pod, objects, PULL_HISTORY.jobName);
        expect(job.code, `${job.output}\n${pod.logs()}`).toBe(0);
        expect(job.output).toContain("pull history: the fronts' logs of 1 registry pods read");
        const harvested = Number(stored().data?.harvested);
        expect(Math.abs(harvested - now())).toBeLessThan(600);
        const lines = storedHistory().split("\n");
        expect(lines.some((l) => l.startsWith(`${REPO} p1 `))).toBe(true);
        expect(lines.some((l) => l.startsWith(`${REPO} ${digests.get("p1")} `))).toBe(true);
        expect(lines.some((l) => / (u1|u2|p2) /.test(l))).toBe(false);
        const calls = pod.kubectlCalls().map((c) => c.replace(/^--namespace dso /, ""));
        expect(calls).toContain(
            `exec -i deployment/registry --container=registry -- /bin/sh ${IN_CLUSTER.configDir}/${PULL_HISTORY.mergeScript}`,
        );
        // The first harvest reads all the kubelet keeps; none read before.
        expect(calls.some((c) => c.startsWith("logs registry-stand-in --container=caddy") && !c.includes("--since"))).toBe(true);
    }, 120_000);

    test("after a new pod (its log starts empty), the GC job harvests again, and retention keeps the old tags pulled, removes the others", async () => {
        // Pulls recorded for 40 days: the history reaches past the rule's 30 days.
        const history = storedHistory().replace(/^since \d+$/m, `since ${now() - 40 * DAY}`);
        const object = stored();
        object.binaryData = { "history.gz": gzipSync(history).toString("base64") };
        writeFileSync(configMapFile(), JSON.stringify(object));
        pod.rollout();
        writeFileSync(path.join(pod.podDir, "caddy.log"), "");
        pull(`@${digests.get("p2")}`);
        const job = await runCronJob(pod, objects, IN_CLUSTER.gcName);
        expect(job.code, `${job.output}\n${pod.logs()}`).toBe(0);
        const removed = [...job.stdout.matchAll(/^retention: removed (\S+) \(/gm)].map((m) => m[1]).sort();
        expect(removed, job.output).toEqual([`${REPO}:u1`, `${REPO}:u2`]);
        expect(job.stdout).toMatch(new RegExp(`^retention: kept ${REPO}:p1 \\(pulled [^)]*ago\\)$`, "m"));
        expect(job.stdout).toMatch(new RegExp(`^retention: kept ${REPO}:p2 \\(pulled [^)]*ago, by digest\\)$`, "m"));
        // The harvest came before retention read the tags, with --since: the span since the last harvest.
        expect(job.output.indexOf("pull history: the fronts' logs of 1 registry pods read (the last")).toBeGreaterThan(-1);
        expect(job.output.indexOf("pull history:")).toBeLessThan(job.output.indexOf("tag retention: reading the tags"));
        const lines = storedHistory().split("\n");
        expect(lines.some((l) => l.startsWith(`${REPO} p1 `))).toBe(true);
        expect(lines.some((l) => l.startsWith(`${REPO} ${digests.get("p2")} `))).toBe(true);
        const tags = runOk("curl", ["-sS", "--cacert", pod.ca.caCertFile, `https://${pod.authority}/v2/${REPO}/tags/list`]).stdout;
        expect((JSON.parse(tags) as { tags: string[] }).tags.sort()).toEqual(["p1", "p2"]);
        expect(existsSync(configMapFile())).toBe(true);
    }, 300_000);
});
