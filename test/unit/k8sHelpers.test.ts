/**
 * The CronJob both in-cluster upkeep jobs are built with (components/inCluster/k8sHelpers.ts,
 * `kubectlCronJob`): on its schedule, never two runs at once, with the job's own account. Rendered
 * without Pulumi.
 */
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { backup, baseSpec, get, maven } from "../support/inClusterSpec";

describe("garbage collection", () => {
    const gcOn = (deleteUntagged = false) =>
        renderInClusterObjects(baseSpec({ garbageCollection: { enabled: true, schedule: "15 2 * * 1", deleteUntagged } }));

    test("on: a CronJob on the configured schedule that never overlaps itself", () => {
        const cj = get(gcOn(), "CronJob", "registry-gc");
        expect(cj.spec.schedule).toBe("15 2 * * 1");
        expect(cj.spec.concurrencyPolicy).toBe("Forbid");
        expect(cj.spec.jobTemplate.spec.template.spec.serviceAccountName).toBe("registry-gc");
    });
});

describe("backups", () => {
    const objects = renderInClusterObjects(baseSpec({ backup, maven }));

    test("the CronJob runs on the schedule, one at a time, with the upkeep account", () => {
        const job = get(objects, "CronJob", "registry-backup");
        expect(job.spec.schedule).toBe("0 2 * * *");
        expect(job.spec.concurrencyPolicy).toBe("Forbid");
        expect(job.spec.jobTemplate.spec.template.spec.serviceAccountName).toBe("registry-backup");
        expect(get(objects, "RoleBinding", "registry-backup").roleRef.name).toBe("registry-backup");
    });
});
