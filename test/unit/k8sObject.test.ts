/**
 * components/shared/k8sObject.ts: the resource options a kind of Kubernetes object needs whichever
 * component registers it (the shape itself is types only).
 */
import { describe, expect, it } from "vitest";
import { objectOptions } from "../../components/shared/k8sObject";

describe("objectOptions", () => {
    it("replaces an Ingress delete-first, so the admission webhook never sees two for one host and path", () => {
        expect(objectOptions("Ingress")).toEqual({ deleteBeforeReplace: true });
    });

    it.each(["Deployment", "Service", "Secret", "ConfigMap", "PersistentVolumeClaim"])("leaves a %s to the provider's default", (kind) => {
        expect(objectOptions(kind)).toEqual({});
    });
});
