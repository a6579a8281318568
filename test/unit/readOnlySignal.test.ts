/**
 * The front's read-only window inside the registry's pod (components/inCluster/readOnlySignal.ts): the
 * emptyDir each upkeep job writes its marker to, read-only in the Caddy sidecar; the garbage
 * collection's only with the marker window. Rendered without Pulumi.
 */
import { describe, expect, test } from "vitest";
import { IN_CLUSTER_BACKUP } from "../../components/inCluster/backup";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { READ_ONLY_SIGNAL } from "../../components/inCluster/readOnlySignal";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";
import { backup, baseSpec, container, get, maven, s3 } from "../support/inClusterSpec";

describe("garbage collection", () => {
    const gcOn = (deleteUntagged = false) =>
        renderInClusterObjects(baseSpec({ garbageCollection: { enabled: true, schedule: "15 2 * * 1", deleteUntagged } }));

    test("the marker window: the registry container writes the pod's marker directory, the Caddy sidecar only reads it; gc.sh only then", () => {
        const mountOf = (objects: K8sObject[], name: string) =>
            (container(objects, name).volumeMounts as any[]).find((m) => m.name === READ_ONLY_SIGNAL.volume);
        const objects = gcOn();
        const volumes = get(objects, "Deployment", "registry").spec.template.spec.volumes as any[];
        expect(volumes).toContainEqual({ name: READ_ONLY_SIGNAL.volume, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } });
        expect(mountOf(objects, "registry")).toEqual({ name: READ_ONLY_SIGNAL.volume, mountPath: READ_ONLY_SIGNAL.dir });
        expect(mountOf(objects, "caddy")).toEqual({ name: READ_ONLY_SIGNAL.volume, mountPath: READ_ONLY_SIGNAL.dir, readOnly: true });
        expect(READ_ONLY_SIGNAL.gcMarker.startsWith(`${READ_ONLY_SIGNAL.dir}/`)).toBe(true);
        expect(READ_ONLY_SIGNAL.gcMarker).not.toBe(READ_ONLY_SIGNAL.backupMarker);
        const rollout = renderInClusterObjects(
            baseSpec({ storage: s3, garbageCollection: { enabled: true, schedule: "15 2 * * 1", deleteUntagged: false } }),
        );
        expect(mountOf(rollout, "registry")).toBeUndefined();
        expect(mountOf(rollout, "caddy")).toBeUndefined();
        expect(get(rollout, "ConfigMap", IN_CLUSTER.configMap).data[IN_CLUSTER.gcStepScript]).toBeUndefined();
        expect(mountOf(renderInClusterObjects(baseSpec()), "caddy")).toBeUndefined();
    });
});

describe("backups", () => {
    const objects = renderInClusterObjects(baseSpec({ backup, maven }));

    test("the marker's emptyDir: written by the backup container, read-only in the Caddy sidecar, whose Caddyfile watches it", () => {
        const deployment = get(objects, "Deployment", "registry");
        const signal = (deployment.spec.template.spec.volumes as any[]).find((v) => v.emptyDir && v.name === "read-only-signal");
        expect(signal).toBeDefined();
        const mountOf = (name: string) => (container(objects, name).volumeMounts as any[]).find((m) => m.name === "read-only-signal");
        expect(mountOf("backup")).toEqual({ name: "read-only-signal", mountPath: IN_CLUSTER_BACKUP.signalDir });
        expect(mountOf("caddy")).toEqual({ name: "read-only-signal", mountPath: IN_CLUSTER_BACKUP.signalDir, readOnly: true });
        expect(IN_CLUSTER_BACKUP.marker.startsWith(`${IN_CLUSTER_BACKUP.signalDir}/`)).toBe(true);
        expect(mountOf("registry")).toBeUndefined();
    });
});
