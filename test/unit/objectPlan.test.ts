/**
 * How each of the in-cluster registry's objects is registered (`inClusterObjectPlan`,
 * components/inCluster/objectPlan.ts), for any list of objects: what it waits for. Which of the registry's
 * own objects are kept on delete: inClusterRegistry.plan.test.ts.
 */
import { describe, expect, it } from "vitest";
import { inClusterObjectPlan } from "../../components/inCluster/objectPlan";

describe("inClusterObjectPlan", () => {
    const object = (kind: string, name: string) => ({ apiVersion: "v1", kind, metadata: { name } });

    it("makes workloads wait for the namespace and every input before them, and an Ingress for the Services too", () => {
        const objects = inClusterObjectPlan("r", [
            object("Namespace", "dso"),
            object("Service", "registry"),
            object("Secret", "s"),
            object("ConfigMap", "c"),
            object("Deployment", "registry"),
            object("Ingress", "registry"),
            object("Secret", "later"),
            object("CronJob", "gc"),
        ]);
        const dependsOn = Object.fromEntries(objects.map((o) => [o.name, o.dependsOn]));
        expect(dependsOn).toEqual({
            "r-namespace-dso": [],
            "r-service-registry": ["r-namespace-dso"],
            "r-secret-s": ["r-namespace-dso"],
            "r-configmap-c": ["r-namespace-dso"],
            "r-deployment-registry": ["r-namespace-dso", "r-secret-s", "r-configmap-c"],
            "r-ingress-registry": ["r-namespace-dso", "r-secret-s", "r-configmap-c", "r-service-registry"],
            "r-secret-later": ["r-namespace-dso"],
            "r-cronjob-gc": ["r-namespace-dso", "r-secret-s", "r-configmap-c", "r-secret-later"],
        });
    });

    it("waits for nothing without a namespace in the list", () => {
        expect(inClusterObjectPlan("r", [object("ConfigMap", "c")])).toEqual([
            { name: "r-configmap-c", object: object("ConfigMap", "c"), dependsOn: [] },
        ]);
    });
});
