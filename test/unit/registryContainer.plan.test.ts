/**
 * What the registry's container on the external host registers (`planRegistryContainer`,
 * components/externalHost/registryContainer.ts), tested without a Pulumi runtime: which files it places
 * for which storage and monitoring, their modes and secrecy, the container's run with the credentials on
 * stdin, and the read-back of every file. The constructor only registers this description.
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { planRegistryContainer, type RegistryContainerArgs } from "../../components/externalHost/registryContainer";
import { defaultHostLayout, REGISTRY_CONTAINER } from "../../components/externalHost/scripts";
import { promiseOf } from "../../tools/mockRuntime";
import { S3_HOST_STORAGE } from "../support/planArgs";

const layout = defaultHostLayout("/srv/data/registry");
const filesystem: RegistryContainerArgs = {
    connection: { kind: "local", name: "here", sudo: true },
    spec: { name: REGISTRY_CONTAINER, image: "registry:3.1.2", layout },
    storage: { kind: "filesystem" },
    deletesEnabled: false,
};
const s3: RegistryContainerArgs = {
    ...filesystem,
    spec: { ...filesystem.spec, storage: { kind: "s3", bucket: "images" } },
    storage: S3_HOST_STORAGE,
};
const monitored: RegistryContainerArgs = {
    ...filesystem,
    spec: { ...filesystem.spec, metrics: { port: 5001, relayImage: "caddy:2.11.9" } },
};

const plan = (args: RegistryContainerArgs) => planRegistryContainer("registry-container", args);
const fileIds = (args: RegistryContainerArgs) => plan(args).files.map((f) => f.name.replace(/^registry-container-/, ""));

describe("planRegistryContainer", () => {
    it.each([
        ["filesystem storage", filesystem, ["config", "config-readonly"]],
        ["monitoring", monitored, ["config", "config-readonly", "metrics-relay-config"]],
        ["s3 storage", s3, ["config", "config-readonly", "storage-env"]],
    ] as const)("places config.yml and its read-only variant, and with %s what it needs", (_case, args, ids) => {
        expect(fileIds(args)).toEqual(ids);
    });

    it("keeps the bucket's credentials in a secret 0600 file, and hands them to the run on stdin only to re-run it", async () => {
        const p = plan(s3);
        const env = p.files.find((f) => f.name === "registry-container-storage-env");
        expect(env?.args).toMatchObject({ mode: "0600", secret: true });
        expect(p.run.args.stdin).toBe(env?.args.content);
        expect(await promiseOf(pulumi.output(p.run.args.stdin))).toContain("SK");
        for (const file of p.files.filter((f) => f !== env)) expect(file.args).toMatchObject({ mode: "0644" });
        expect(plan(filesystem).run.args.stdin).toBeUndefined();
        for (const file of p.files) expect(String(file.args.content)).not.toContain("SK");
    });

    it("runs the container from its fingerprint, which changes with config.yml and the storage", () => {
        const p = plan(filesystem);
        expect(p.run.name).toBe("registry-container-run");
        expect(p.run.args.create).toContain(p.specFingerprint);
        expect(p.run.args.create).toMatch(/^sudo -n sh -c /);
        expect(p.run.args.delete).toMatch(/^sudo -n sh -c /);
        expect(plan({ ...filesystem, deletesEnabled: true }).specFingerprint).not.toBe(p.specFingerprint);
        expect(plan(s3).specFingerprint).not.toBe(p.specFingerprint);
        expect(plan({ ...filesystem, connection: { kind: "local", name: "here", sudo: false } }).run.args.create).toMatch(/^sh -c /);
    });

    it("renders the read-only variant with the same settings, read-only", () => {
        const p = plan({ ...filesystem, deletesEnabled: true, distributionConfig: { log: { level: "debug" } } });
        const [writable, readOnly] = p.files.map((f) => String(f.args.content));
        expect(writable).toContain("level: debug");
        expect(readOnly).toContain("level: debug");
        expect(writable).toMatch(/readonly:\s+enabled: false/);
        expect(readOnly).toMatch(/readonly:\s+enabled: true/);
    });

    it("reads back every file it places and the container, recreating the container after a repair", () => {
        for (const args of [filesystem, monitored, s3]) {
            const p = plan(args);
            expect(p.filesCheck.name).toBe("registry-container-files-check");
            expect(p.filesCheck.args.files).toEqual(p.files.map(({ args: { path, mode, content } }) => ({ path, mode, content })));
            expect(p.filesCheck.args.containers).toEqual([REGISTRY_CONTAINER]);
            expect(p.filesCheck.args.afterRepair).toContain(p.specFingerprint);
        }
    });
});
