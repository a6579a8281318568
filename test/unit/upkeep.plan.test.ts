/**
 * What the external host's upkeep registers (`planHostUpkeep`, components/externalHost/upkeep.ts),
 * tested without a Pulumi runtime: which scripts and secret files it places for which jobs (retention,
 * backups to either destination, the disk guard), their modes, the schedule only when a job is scheduled
 * and after every script, and the read-back of every file. The constructor only registers this description.
 * Covers: components/externalHost/upkeep.ts.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { defaultHostLayout, REGISTRY_CONTAINER } from "../../components/externalHost/scripts";
import { type HostBackupArgs, type HostUpkeepArgs, planHostUpkeep } from "../../components/externalHost/upkeep";
import { promiseOf } from "../../tools/mockRuntime";

const minimal: HostUpkeepArgs = {
    connection: { kind: "local", name: "here", sudo: true },
    spec: { name: REGISTRY_CONTAINER, image: "registry:3.1.2", layout: defaultHostLayout("/srv/data/registry") },
    specFingerprint: "fp",
    garbageCollection: { enabled: false, schedule: "30 3 * * 0", deleteUntagged: false, mode: "window" },
    status: { host: "registry.example.com", port: 443, textfileDir: "" },
};
const sftp: HostBackupArgs = {
    schedule: "0 2 * * *",
    keep: 7,
    destination: { kind: "sftp", host: "backup-01", port: 22, user: "restic", path: "/srv/restic", hostKey: "ssh-ed25519 AAAA" },
    repositoryPassword: "repository-password",
    credentials: { kind: "sftp", privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----" },
};
const s3: HostBackupArgs = {
    ...sftp,
    destination: { kind: "s3", bucket: "backups", prefix: "registry", region: "eu-west-1" },
    credentials: { kind: "s3", accessKeyId: "AK", secretAccessKey: "SK" },
};

const plan = (args: HostUpkeepArgs) => planHostUpkeep("upkeep", args);
const roles = (args: HostUpkeepArgs) => plan(args).files.map((f) => f.name.replace(/^upkeep-/, ""));
const scripts = ["verify-script", "gc-script", "status-script"];

describe("planHostUpkeep", () => {
    it("reads the pull history every hour, before the collection's own run, only with keepPulledWithinDays", () => {
        const gc = { ...minimal.garbageCollection, enabled: true };
        const cron = (retention: HostUpkeepArgs["retention"]) =>
            String(
                plan({ ...minimal, garbageCollection: gc, ...(retention ? { retention } : {}) }).files.find((f) => f.name === "upkeep-cron")
                    ?.args.content,
            );
        const pulled = cron({ mode: "apply", rules: [{ prefix: "team/", keepNewest: 3, keepPulledWithinDays: 30 }], protect: [] });
        expect(pulled).toContain("\n17 * * * * root /usr/local/sbin/dso-registry-pulls 2>&1 | logger -t dso-registry-pulls\n");
        expect(cron({ mode: "apply", rules: [{ prefix: "team/", keepNewest: 3 }], protect: [] })).not.toContain("dso-registry-pulls");
        const pullsScript = plan({
            ...minimal,
            garbageCollection: gc,
            retention: {
                mode: "apply",
                rules: [
                    { prefix: "team/", keepPulledWithinDays: 14 },
                    { prefix: "team/a/", keepPulledWithinDays: 60 },
                ],
                protect: [],
            },
        }).files.find((f) => f.name === "upkeep-pulls-script");
        // The history keeps the longest window's pulls.
        expect(String(pullsScript?.args.content)).toContain("KEEP_DAYS='60'");
        expect(pullsScript?.args.path).toBe("/usr/local/sbin/dso-registry-pulls");
    });

    it.each([
        ["nothing scheduled", minimal, scripts],
        ["garbage collection", { ...minimal, garbageCollection: { ...minimal.garbageCollection, enabled: true } }, [...scripts, "cron"]],
        [
            "retention",
            { ...minimal, retention: { mode: "dry-run", rules: [{ prefix: "team/", keepNewest: 5 }], protect: [] } },
            [...scripts, "retention-script"],
        ],
        [
            "retention by last pull, with the collection: the pull history's feed, and its hourly run",
            {
                ...minimal,
                garbageCollection: { ...minimal.garbageCollection, enabled: true },
                retention: { mode: "dry-run", rules: [{ prefix: "team/", keepPulledWithinDays: 30 }], protect: [] },
            },
            [...scripts, "retention-script", "pulls-script", "cron"],
        ],
        [
            "backups over SFTP",
            { ...minimal, backup: sftp },
            [...scripts, "backup-password", "backup-script", "restore-script", "backup-ssh-key", "backup-known-hosts", "cron"],
        ],
        [
            "backups to S3",
            { ...minimal, backup: s3 },
            [...scripts, "backup-password", "backup-script", "restore-script", "backup-s3-env", "cron"],
        ],
        ["the disk guard", { ...minimal, diskGuard: { refusePercent: 95 } }, [...scripts, "disk-guard-script", "disk-guard-cron"]],
    ] as const)("with %s, places the scripts and what that needs", (_case, args, expected) => {
        expect(roles(args as HostUpkeepArgs)).toEqual(expected);
    });

    it("keeps the backup's secrets in secret 0600 files, the scripts executable, the cron files readable", () => {
        for (const backup of [sftp, s3]) {
            for (const file of plan({ ...minimal, backup }).files) {
                const secret = /password|ssh-key|s3-env/.test(file.name);
                expect(file.args.secret ?? false, file.name).toBe(secret);
                expect(file.args.mode, file.name).toBe(secret ? "0600" : file.name.endsWith("-script") ? "0755" : "0644");
            }
        }
    });

    it("ends the backup machine's SSH key with a newline (OpenSSH refuses it otherwise), and writes the bucket's keys to an env file", async () => {
        const key = plan({ ...minimal, backup: sftp }).files.find((f) => f.name === "upkeep-backup-ssh-key");
        expect(await promiseOf(pulumi.output(key?.args.content))).toBe("-----BEGIN OPENSSH PRIVATE KEY-----\n");
        const env = plan({ ...minimal, backup: s3 }).files.find((f) => f.name === "upkeep-backup-s3-env");
        expect(await promiseOf(pulumi.output(env?.args.content))).toContain("SK");
    });

    it("places a cron file after every file before it, the disk guard's after its script, and nothing else waits", () => {
        const p = plan({ ...minimal, backup: sftp, diskGuard: { refusePercent: 95 } });
        const cron = p.files.at(-1);
        expect(cron?.name).toBe("upkeep-cron");
        expect(cron?.dependsOn).toEqual(p.files.slice(0, -1).map((f) => f.name));
        expect(p.files.find((f) => f.name === "upkeep-disk-guard-cron")?.dependsOn).toEqual(["upkeep-disk-guard-script"]);
        expect(p.files.filter((f) => f.dependsOn).map((f) => f.name)).toEqual(["upkeep-disk-guard-cron", "upkeep-cron"]);
    });

    it("recreates the container it stops with the fingerprint it is given", () => {
        const gc = plan({ ...minimal, specFingerprint: "fingerprint-of-the-registry" }).files.find((f) => f.name === "upkeep-gc-script");
        expect(String(gc?.args.content)).toContain("fingerprint-of-the-registry");
    });

    it("reads back every file it places", () => {
        const p = plan({ ...minimal, backup: s3, diskGuard: { refusePercent: 95 } });
        expect(p.filesCheck.name).toBe("upkeep-files-check");
        expect(p.filesCheck.args.files).toEqual(p.files.map(({ args: { path, mode, content } }) => ({ path, mode, content })));
    });
});
