/**
 * How the in-cluster garbage collection holds writes back (components/inCluster/gcWindow.ts): the marker
 * window for one pod, the rollout window for pods that may overlap, and what follows from it: the
 * Deployment's strategy, Distribution's blob-descriptor cache, the job's command.
 */
import { describe, expect, test } from "vitest";
import { distributionCachesBlobs, gcWindow, registryMetricsInPod } from "../../components/inCluster/gcWindow";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { baseSpec, get, maven, s3 } from "../support/inClusterSpec";

describe("garbage collection", () => {
    test.each([
        ["filesystem storage", baseSpec(), "marker", "Recreate", false, false],
        ["s3 storage with Maven's volume", baseSpec({ storage: s3, maven }), "marker", "Recreate", false, true],
        ["s3 storage, one replica", baseSpec({ storage: s3 }), "rollout", "RollingUpdate", true, false],
        ["s3 storage, 3 replicas", baseSpec({ storage: s3, replicas: 3 }), "rollout", "RollingUpdate", true, false],
    ] as const)(
        "%s: the GC window is %s, the strategy %s, Distribution's blob cache kept: %s, its metrics read by the window: %s",
        (_name, spec, window, strategy, cached, metrics) => {
            const withGc = { ...spec, garbageCollection: { enabled: true, schedule: "15 2 * * 1", deleteUntagged: false } };
            expect(gcWindow(withGc)).toBe(window);
            expect(gcWindow(spec)).toBeUndefined();
            expect(get(renderInClusterObjects(withGc), "Deployment", "registry").spec.strategy.type).toBe(strategy);
            expect(distributionCachesBlobs(withGc)).toBe(cached);
            // A marker window over a bucket has no folder to watch: it counts Distribution's uploads in flight.
            expect(registryMetricsInPod(withGc)).toBe(metrics);
            expect(registryMetricsInPod(spec)).toBe(false);
            // Without garbage collection nothing is collected behind the cache's back.
            expect(distributionCachesBlobs(spec)).toBe(true);
            const command = get(renderInClusterObjects(withGc), "CronJob", "registry-gc").spec.jobTemplate.spec.template.spec.containers[0]
                .command[2] as string;
            expect(command.includes("set env") && command.includes("rollout status")).toBe(window === "rollout");
            expect(command.includes(`/${IN_CLUSTER.gcStepScript}`)).toBe(window === "marker");
        },
    );
});
