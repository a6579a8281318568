/**
 * Backups of the in-cluster registry (components/inCluster/backup.ts): the backup container in the
 * registry's pod, its credentials, the CronJob and its window, the restore CronJob, and a volume
 * destination. Rendered without Pulumi. The marker's emptyDir: readOnlySignal.test.ts.
 */
import { describe, expect, test } from "vitest";
import { IN_CLUSTER_BACKUP } from "../../components/inCluster/backup";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { backup, baseSpec, container, get, maven, volumeBackup } from "../support/inClusterSpec";

describe("backups", () => {
    const objects = renderInClusterObjects(baseSpec({ backup, maven }));
    const backupContainer = () => container(objects, "backup");

    test("the registry pod's backup container mounts the registry's and Maven's volumes read-only", () => {
        const mounts = backupContainer().volumeMounts as any[];
        expect(mounts.filter((m) => ["data", "maven-data"].includes(m.name))).toEqual([
            { name: "data", mountPath: IN_CLUSTER.dataDir, readOnly: true },
            { name: "maven-data", mountPath: "/var/lib/maven", readOnly: true },
        ]);
        expect(backupContainer().image).toBe(backup.image);
    });

    test("the credentials reach the pod as a Secret volume, never as environment or in a script", () => {
        const volumes = get(objects, "Deployment", "registry").spec.template.spec.volumes as any[];
        expect(volumes.find((v) => v.name === "backup-secret")).toEqual({
            name: "backup-secret",
            secret: { secretName: "registry-backup", defaultMode: 0o400 },
        });
        expect(get(objects, "Secret", "registry-backup").stringData).toEqual({
            "repository-password": "BACKUP-PASSWORD-VALUE",
            "s3-access-key-id": "BACKUP-AKID-VALUE",
            "s3-secret-access-key": "BACKUP-S3-SECRET-VALUE",
        });
    });

    test("the job opens the window between the two passes with the read-only step, and closes it also on failure (the trap)", () => {
        const script: string = get(objects, "CronJob", "registry-backup").spec.jobTemplate.spec.template.spec.containers[0].command[2];
        const at = (text: string) => {
            const i = script.indexOf(text);
            expect(i, text).toBeGreaterThanOrEqual(0);
            return i;
        };
        expect(at("step writable")).toBeLessThan(at("trap 'step end-read-only"));
        expect(at("trap 'step end-read-only")).toBeLessThan(at('step read-only "$warm"'));
        expect(at('step read-only "$warm"')).toBeLessThan(at("trap - EXIT"));
        expect(at("trap - EXIT")).toBeLessThan(at("step retention"));
    });

    test("the job restarts nothing: no set env, no rollout, and its account may not patch the Deployment", () => {
        const script: string = get(objects, "CronJob", "registry-backup").spec.jobTemplate.spec.template.spec.containers[0].command[2];
        expect(script).not.toMatch(/set env|rollout/);
        const verbs = (get(objects, "Role", "registry-backup").rules as any[]).flatMap((r) => r.verbs as string[]);
        expect(verbs).not.toContain("patch");
    });

    test("the read-only step opens the front's window with its marker around restic's second pass", () => {
        // How the window opens (the marker, then the settle wait) and closes on every exit: test/unit/frontWindow.test.ts.
        const step: string = get(objects, "ConfigMap", "registry-backup").data["backup.sh"];
        const body = step.slice(step.indexOf("\n    read-only)"), step.indexOf("\n    end-read-only)"));
        const at = (text: string) => {
            const i = body.indexOf(text);
            expect(i, text).toBeGreaterThanOrEqual(0);
            return i;
        };
        expect(step).toContain(`\nMARKER='${IN_CLUSTER_BACKUP.marker}'\n`);
        expect(at('open_marker_window "$marker"')).toBeLessThan(at('backup_pass "$SNAPSHOT_TAG" "$warm"'));
        expect(at('backup_pass "$SNAPSHOT_TAG" "$warm"')).toBeLessThan(at("close_marker_window"));
    });

    test("the restore CronJob is suspended and mounts the volumes writable", () => {
        const restore = get(objects, "CronJob", "registry-restore");
        expect(restore.spec.suspend).toBe(true);
        const mounts = restore.spec.jobTemplate.spec.template.spec.containers[0].volumeMounts as any[];
        expect(mounts.filter((m) => ["data", "maven-data"].includes(m.name)).map((m) => m.readOnly)).toEqual([false, false]);
    });

    test("the scripts back up Maven's files only when Maven is served in-cluster", () => {
        const without = get(renderInClusterObjects(baseSpec({ backup })), "ConfigMap", "registry-backup").data["backup.sh"];
        expect(without).toContain("\nBACKED_UP='/var/lib/registry'\n");
        expect(without).not.toContain("/var/lib/maven");
        expect(get(objects, "ConfigMap", "registry-backup").data["backup.sh"]).toContain(
            "\nBACKED_UP='/var/lib/registry\n/var/lib/maven'\n",
        );
    });

    test("a volume destination: PVC registry-backup of the configured size and class, mounted writable in the backup container only", () => {
        const withVolume = renderInClusterObjects(baseSpec({ backup: volumeBackup }));
        expect(get(withVolume, "PersistentVolumeClaim", "registry-backup").spec).toEqual({
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: "100Gi" } },
            storageClassName: "other-disks",
        });
        const containers = get(withVolume, "Deployment", "registry").spec.template.spec.containers as any[];
        const mounting = containers.filter((c) => (c.volumeMounts as any[]).some((m) => m.name === "backup-repository"));
        expect(mounting.map((c) => c.name)).toEqual(["backup"]);
        expect(get(withVolume, "Secret", "registry-backup").stringData).toEqual({ "repository-password": "BACKUP-PASSWORD-VALUE" });
        const step: string = get(withVolume, "ConfigMap", "registry-backup").data["backup.sh"];
        expect(step).toContain("\nDESTINATION='volume'\nREPOSITORY='/var/backups/dso-registry/repository'\n");
    });

    test("no backup objects or container without backups", () => {
        const plain = renderInClusterObjects(baseSpec());
        expect(plain.filter((o) => o.metadata.name.startsWith("registry-backup") || o.metadata.name === "registry-restore")).toEqual([]);
        const names = (get(plain, "Deployment", "registry").spec.template.spec.containers as any[]).map((c) => c.name);
        expect(names).not.toContain("backup");
    });
});
