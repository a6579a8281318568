/**
 * The claims the program makes (components/shared/persistentClaim.ts): without a storage class named,
 * the cluster's default. Their size, class and mounts per storage: deployment.test.ts.
 */
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { baseSpec, get } from "../support/inClusterSpec";

describe("storage", () => {
    test("filesystem without a class leaves the cluster default", () => {
        const pvc = get(renderInClusterObjects(baseSpec()), "PersistentVolumeClaim", "registry-data");
        expect(pvc.spec.storageClassName).toBeUndefined();
    });
});
