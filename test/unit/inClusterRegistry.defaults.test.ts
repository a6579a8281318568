/**
 * The in-cluster registry's defaults (`inClusterRegistryDefaults`, components/inCluster/registryArgs.ts):
 * the args a library user leaves out get the values each one's `@default` documents, which are the
 * stack config's defaults too; what the user gives is kept as given.
 * Covers: components/inCluster/registryArgs.ts, components/shared/defaults.ts (the values), components/shared/front.ts (frontDefaults).
 */
import { describe, expect, it } from "vitest";
import { type InClusterRegistryArgs, inClusterRegistryDefaults } from "../../components/inCluster/registryArgs";

const accounts = { push: { username: "ci-push", bcryptHash: "$2b$10$hash" } };
const tls = { kind: "secret", certPem: "CERT", keyPem: "KEY" } as const;
const minimal: InClusterRegistryArgs = { host: "registry.lab.example", accounts, tls };

describe("inClusterRegistryDefaults", () => {
    it("gives every optional setting its documented default", () => {
        expect(inClusterRegistryDefaults(minimal)).toEqual({
            ...minimal,
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
            ui: { enabled: false },
            garbageCollection: { enabled: false, schedule: "30 3 * * 0", deleteUntagged: false },
            replicas: 1,
            publishLocalRegistryHosting: true,
        });
    });

    it("keeps every setting given, and adds nothing beside the defaulted ones", () => {
        const given = {
            ...minimal,
            requiresAuthForPull: true,
            mirrorsRequireAuth: true,
            deletes: { api: true, ui: true },
            allowedNetworks: ["10.0.0.0/8"],
            namespace: "registry",
            port: 8443,
            ingressClass: "traefik",
            images: { registry: "registry:3", caddy: "caddy:2", ui: "ui:1", kubectl: "kubectl:1" },
            storage: { kind: "filesystem", size: "50Gi", storageClass: "fast" },
            ui: { enabled: true },
            garbageCollection: { enabled: true, schedule: "0 4 * * *", deleteUntagged: true },
            replicas: 2,
            publishLocalRegistryHosting: false,
        } as const satisfies InClusterRegistryArgs;
        expect(inClusterRegistryDefaults(given)).toEqual(given);
    });

    it("defaults each image, and each part of the collection, on its own", () => {
        const args = inClusterRegistryDefaults({ ...minimal, images: { registry: "registry:3" }, garbageCollection: { enabled: true } });
        expect(args.images).toEqual({
            registry: "registry:3",
            caddy: "caddy:2.11.9",
            ui: "joxit/docker-registry-ui:2.6.0",
            kubectl: "alpine/kubectl:1.36.3",
        });
        expect(args.garbageCollection).toEqual({ enabled: true, schedule: "30 3 * * 0", deleteUntagged: false });
    });

    it("gives monitoring its probe's image and keeps one given", () => {
        const runbookBaseUrl = "docs/runbooks.md";
        expect(inClusterRegistryDefaults({ ...minimal, monitoring: { runbookBaseUrl } }).monitoring).toEqual({
            runbookBaseUrl,
            prometheusOperator: false,
            probeImage: "prom/blackbox-exporter:v0.28.0",
        });
        const given = { runbookBaseUrl, prometheusOperator: true, probeImage: `mirror.example/blackbox-exporter@sha256:${"a".repeat(64)}` };
        expect(inClusterRegistryDefaults({ ...minimal, monitoring: given }).monitoring).toEqual(given);
        expect(inClusterRegistryDefaults(minimal).monitoring).toBeUndefined();
    });

    it("gives filesystem storage its size, and leaves S3 storage as given", () => {
        expect(inClusterRegistryDefaults({ ...minimal, storage: { kind: "filesystem", storageClass: "fast" } }).storage).toEqual({
            kind: "filesystem",
            size: "20Gi",
            storageClass: "fast",
        });
        const s3 = {
            kind: "s3",
            bucket: "images",
            region: "us-east-1",
            forcePathStyle: true,
            rootDirectory: "/registry",
            redirect: false,
            credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET" },
        } as const;
        expect(inClusterRegistryDefaults({ ...minimal, storage: s3 }).storage).toBe(s3);
    });
});
