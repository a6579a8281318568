/**
 * The in-cluster registry's settings no rendering can serve (components/inCluster/spec.ts,
 * `inClusterSpecProblem`): refused before any object is rendered, naming what to change.
 */
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { inClusterSpecProblem } from "../../components/inCluster/spec";
import { backup, baseSpec, s3 } from "../support/inClusterSpec";

describe("settings", () => {
    test.each([
        ["2 replicas on a PVC", { replicas: 2, storage: { kind: "filesystem" as const, size: "1Gi" } }, /shared storage/],
        ["host with port", { host: "registry.local:5000" }, /bare host name/],
        ["0 replicas", { replicas: 0, storage: s3 }, /at least 1/],
        ["backups with s3 image storage", { backup, storage: s3 }, /with s3 storage there is none/],
    ])("%s is refused", (_label, overrides, message) => {
        expect(inClusterSpecProblem(baseSpec(overrides))).toMatch(message);
        expect(() => renderInClusterObjects(baseSpec(overrides))).toThrow(message);
    });

    test("3 replicas on s3 are accepted", () => {
        expect(inClusterSpecProblem(baseSpec({ replicas: 3, storage: s3 }))).toBeUndefined();
    });
});
