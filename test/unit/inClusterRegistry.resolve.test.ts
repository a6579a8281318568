/**
 * The in-cluster registry's resolve step (`resolveInClusterRegistry`, components/inCluster/resolve.ts): the
 * args a library user leaves out get the values each one's `@default` documents, which are the stack
 * config's defaults too; what the user gives is kept as given; and what the component derives from the args
 * (the users files' accounts, the caches, the certificate's source, the disk guard) is derived there.
 * Covers: components/inCluster/resolve.ts, components/inCluster/registryArgs.ts (the args it resolves), components/shared/defaults.ts (the values), components/shared/front.ts (resolveFront).
 */
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import type { InClusterRegistryArgs } from "../../components/inCluster/registryArgs";
import { type ResolvedInClusterRegistry, resolveInClusterRegistry } from "../../components/inCluster/resolve";
import { isSecret, promiseOf } from "../../tools/mockRuntime";

const accounts = { push: { username: "ci-push", bcryptHash: "$2b$10$hash" } };
const tls = { kind: "cert-manager", issuer: { kind: "ClusterIssuer", name: "letsencrypt" } } as const;
const minimal: InClusterRegistryArgs = { host: "registry.lab.example", accounts, tls };
const resolvedTls = { kind: "cert-manager", issuerKind: "ClusterIssuer", issuerName: "letsencrypt" };

/** The settings, without what the step derives from the accounts and caches. */
const settings = ({ users: _users, mirrors: _mirrors, ...rest }: ResolvedInClusterRegistry) => rest;

/** A value the step made secret: its plain text, and whether it is marked secret. */
async function secretValue(value: pulumi.Input<string>): Promise<{ plain: string; secret: boolean }> {
    const output = pulumi.output(value);
    return { plain: await promiseOf(output), secret: await isSecret(output) };
}

describe("resolveInClusterRegistry", () => {
    it("gives every optional setting its documented default", () => {
        expect(settings(resolveInClusterRegistry(minimal))).toEqual({
            host: "registry.lab.example",
            ingressClass: undefined,
            ingressController: undefined,
            tls: resolvedTls,
            requiresAuthForPull: false,
            mirrorsRequireAuth: false,
            deletes: { api: false, ui: false },
            allowedNetworks: [],
            namespace: "dso",
            port: 443,
            images: {
                registry: "registry:3.1.2",
                caddy: "caddy:2.11.9",
                ui: "joxit/docker-registry-ui:2.6.0",
                kubectl: "alpine/kubectl:1.36.3",
            },
            storage: { kind: "filesystem", size: "20Gi" },
            ui: { enabled: false, deleteEnabled: false },
            garbageCollection: { enabled: false, schedule: "30 3 * * 0", deleteUntagged: false },
            replicas: 1,
            publishLocalRegistryHosting: true,
        });
    });

    it("keeps every setting given, and adds nothing beside the defaulted and derived ones", () => {
        const given = {
            ...minimal,
            requiresAuthForPull: true,
            mirrorsRequireAuth: true,
            deletes: { api: true, ui: true },
            allowedNetworks: ["10.0.0.0/8"],
            namespace: "registry",
            port: 8443,
            ingressClass: "traefik",
            ingressController: "traefik",
            images: { registry: "registry:3", caddy: "caddy:2", ui: "ui:1", kubectl: "kubectl:1" },
            storage: { kind: "filesystem", size: "50Gi", storageClass: "fast" },
            ui: { enabled: true },
            garbageCollection: { enabled: true, schedule: "0 4 * * *", deleteUntagged: true },
            replicas: 2,
            publishLocalRegistryHosting: false,
        } as const satisfies InClusterRegistryArgs;
        const { accounts: _accounts, ...rest } = given;
        expect(settings(resolveInClusterRegistry(given))).toEqual({
            ...rest,
            tls: resolvedTls,
            ui: { enabled: true, deleteEnabled: true },
        });
    });

    it("defaults each image, and each part of the collection, on its own", () => {
        const args = resolveInClusterRegistry({ ...minimal, images: { registry: "registry:3" }, garbageCollection: { enabled: true } });
        expect(args.images).toEqual({
            registry: "registry:3",
            caddy: "caddy:2.11.9",
            ui: "joxit/docker-registry-ui:2.6.0",
            kubectl: "alpine/kubectl:1.36.3",
        });
        expect(args.garbageCollection).toEqual({ enabled: true, schedule: "30 3 * * 0", deleteUntagged: false });
    });

    it("gives monitoring its probe's image and the caches' claims, and keeps one given", () => {
        const runbookBaseUrl = "docs/runbooks.md";
        expect(resolveInClusterRegistry({ ...minimal, monitoring: { runbookBaseUrl } }).monitoring).toEqual({
            runbookBaseUrl,
            prometheusOperator: false,
            probeImage: "prom/blackbox-exporter:v0.28.0",
            cacheClaims: [],
        });
        const given = { runbookBaseUrl, prometheusOperator: true, probeImage: `mirror.example/blackbox-exporter@sha256:${"a".repeat(64)}` };
        expect(resolveInClusterRegistry({ ...minimal, monitoring: given }).monitoring).toEqual({ ...given, cacheClaims: [] });
        expect(resolveInClusterRegistry(minimal)).not.toHaveProperty("monitoring");
    });

    it("gives filesystem storage its size, and keeps S3 storage as given with its credentials secret", async () => {
        expect(resolveInClusterRegistry({ ...minimal, storage: { kind: "filesystem", storageClass: "fast" } }).storage).toEqual({
            kind: "filesystem",
            size: "20Gi",
            storageClass: "fast",
        });
        const settings3 = {
            kind: "s3",
            bucket: "images",
            region: "us-east-1",
            forcePathStyle: true,
            rootDirectory: "/registry",
            redirect: false,
        } as const;
        const storage = resolveInClusterRegistry({
            ...minimal,
            storage: { ...settings3, credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET" } },
        }).storage;
        if (storage.kind !== "s3") throw new Error("s3 storage resolved to another kind");
        const { credentials, ...rest } = storage;
        expect(rest).toEqual(settings3);
        expect(await secretValue(credentials.accessKeyId)).toEqual({ plain: "AKID", secret: true });
        expect(await secretValue(credentials.secretAccessKey)).toEqual({ plain: "SECRET", secret: true });
    });

    it("derives the users files' accounts, the certificate's source and the disk guard", async () => {
        const read = { username: "flux", bcryptHash: "$2b$10$read" };
        const resolved = resolveInClusterRegistry({
            ...minimal,
            accounts: { ...accounts, read: [read] },
            tls: { kind: "secret", certPem: "CERT", keyPem: "KEY" },
            diskGuard: { refusePercent: 90 },
        });
        expect(resolved.users).toEqual({ push: [accounts.push], pull: [read], scoped: [] });
        if (resolved.tls.kind !== "secret") throw new Error("secret TLS resolved to another kind");
        expect(resolved.tls.certPem).toBe("CERT");
        expect(await secretValue(resolved.tls.keyPem)).toEqual({ plain: "KEY", secret: true });
        expect(resolved.diskGuard).toEqual({ refusePercent: 90, checkSeconds: expect.any(Number) });
        expect(resolved.mirrors).toEqual([]);
        const s3 = {
            kind: "s3",
            bucket: "b",
            region: "r",
            forcePathStyle: false,
            rootDirectory: "/",
            redirect: true,
            credentials: { accessKeyId: "A", secretAccessKey: "S" },
        } as const;
        expect(resolveInClusterRegistry({ ...minimal, storage: s3, diskGuard: { refusePercent: 90 } })).not.toHaveProperty("diskGuard");
    });

    it("names the program's own chain's CA Issuer as the issuer", () => {
        const chain = { kind: "cert-manager", issuer: { kind: "chain", caValidityDays: 3650, serverCertValidityDays: 90 } } as const;
        expect(resolveInClusterRegistry({ ...minimal, tls: chain }).tls).toEqual({
            kind: "cert-manager",
            issuerKind: "Issuer",
            issuerName: expect.any(String),
            chain: { caValidityDays: 3650, serverCertValidityDays: 90 },
        });
    });
});
