/**
 * The in-cluster registry's settings as the renderers read them, for the tests of its objects
 * (test/unit/manifests.test.ts and the files named after each renderer): a base spec with overrides,
 * each option's settings, every option alone and all together (`variants`), and lookups of a rendered
 * object or container that name what is there when the one asked for is not.
 */
import type { InClusterSpec } from "../../components/inCluster/spec";
import type { K8sObject } from "../../components/shared/k8sObject";

/** The defaults (one replica on a PVC, a certificate of the program's, KEP-1755 published, no UI, no garbage collection), `overrides` over them. */
export function baseSpec(overrides: Partial<InClusterSpec> = {}): InClusterSpec {
    return {
        namespace: "dso",
        host: "registry-dso.jmann.local",
        port: 443,
        ingressClass: "public",
        ingressController: "nginx",
        tls: { kind: "secret", certPem: "CERT-PEM", keyPem: "KEY-PEM-VALUE" },
        images: {
            registry: "registry:2.8.3",
            caddy: "caddy:2.11.9",
            ui: "joxit/docker-registry-ui:2.6.0",
            kubectl: "alpine/kubectl:1.36.3",
        },
        replicas: 1,
        storage: { kind: "filesystem", size: "20Gi" },
        allowedNetworks: [],
        ui: { enabled: false, deleteEnabled: false },
        garbageCollection: { enabled: false, schedule: "30 3 * * 0", deleteUntagged: false },
        publishLocalRegistryHosting: true,
        caddyfile: "# caddyfile\n",
        registryConfig: "version: 0.1\n",
        users: { push: "ci-push $2b$HASH-PUSH\n", pull: "# pull\n", htpasswd: "ci-push:$2b$HASH-PUSH\n" },
        httpSecret: "HTTP-SECRET-VALUE",
        configChecksum: "abc123",
        ...overrides,
    };
}

/** Image storage in a bucket. */
export const s3: InClusterSpec["storage"] = { kind: "s3", accessKeyId: "AKID-VALUE", secretAccessKey: "S3-SECRET-VALUE" };
/** The operator's cert-manager issuer. */
export const certManager: InClusterSpec["tls"] = { kind: "cert-manager", issuerKind: "ClusterIssuer", issuerName: "letsencrypt" };
/** The program's own chain, as the component hands it over: its CA Issuer named. */
export const issuerChain: InClusterSpec["tls"] = {
    kind: "cert-manager",
    issuerKind: "Issuer",
    issuerName: "dso-registry-ca",
    chain: { caValidityDays: 3650, serverCertValidityDays: 90 },
};

export const maven: NonNullable<InClusterSpec["maven"]> = {
    image: "nginx:1.30-alpine",
    nginxConfig: "# nginx\n",
    deployUsers: "ci-deploy $2b$HASH-DEPLOY\n",
    size: "10Gi",
    pathPrefix: "maven-releases",
    snapshotBuildsToKeep: 4,
};

export const backup: NonNullable<InClusterSpec["backup"]> = {
    image: "restic/restic:0.20.0",
    schedule: "0 2 * * *",
    keep: 7,
    destination: { kind: "s3", endpoint: "https://minio.example.test", bucket: "registry-backup", prefix: "dso", region: "us-east-1" },
    repositoryPassword: "BACKUP-PASSWORD-VALUE",
    s3: { accessKeyId: "BACKUP-AKID-VALUE", secretAccessKey: "BACKUP-S3-SECRET-VALUE" },
};

export const volumeBackup: NonNullable<InClusterSpec["backup"]> = {
    image: "restic/restic:0.20.0",
    schedule: "0 2 * * *",
    keep: 7,
    destination: { kind: "volume", size: "100Gi", storageClass: "other-disks" },
    repositoryPassword: "BACKUP-PASSWORD-VALUE",
};

/** Every option, alone and all together. */
export const variants: [string, InClusterSpec][] = [
    ["defaults (PVC, generated CA)", baseSpec()],
    ["UI with deletes", baseSpec({ ui: { enabled: true, deleteEnabled: true } })],
    ["garbage collection", baseSpec({ garbageCollection: { enabled: true, schedule: "0 4 * * 6", deleteUntagged: true } })],
    ["s3 with 3 replicas", baseSpec({ storage: s3, replicas: 3 })],
    ["cert-manager issuer", baseSpec({ tls: certManager })],
    ["cert-manager with the program's own issuer chain", baseSpec({ tls: issuerChain })],
    ["no local-registry-hosting", baseSpec({ publishLocalRegistryHosting: false })],
    ["Maven repository on the same front", baseSpec({ maven })],
    ["Maven repository with s3 image storage", baseSpec({ maven, storage: s3 })],
    ["backups to S3", baseSpec({ backup })],
    ["backups to a volume of their own", baseSpec({ backup: { ...volumeBackup } })],
    [
        "backups of the registry and Maven, with garbage collection",
        baseSpec({ backup, maven, garbageCollection: { enabled: true, schedule: "0 4 * * 6", deleteUntagged: false } }),
    ],
    [
        "monitoring with scrape annotations and the rules ConfigMap",
        baseSpec({
            monitoring: {
                prometheusOperator: false,
                runbookBaseUrl: "docs/runbooks.md",
                cacheClaims: [],
                probeImage: "prom/blackbox-exporter:v0.28.0",
            },
        }),
    ],
    [
        "tag retention with monitoring: the counts' emptyDir in the pod",
        baseSpec({
            garbageCollection: { enabled: true, schedule: "0 4 * * 6", deleteUntagged: false },
            retention: { mode: "dry-run", rules: [{ prefix: "team/", keepNewest: 5 }], protect: [] },
            monitoring: {
                prometheusOperator: false,
                runbookBaseUrl: "docs/runbooks.md",
                cacheClaims: [],
                probeImage: "prom/blackbox-exporter:v0.28.0",
            },
        }),
    ],
    [
        "everything on",
        baseSpec({
            storage: s3,
            replicas: 2,
            tls: certManager,
            ui: { enabled: true, deleteEnabled: true },
            garbageCollection: { enabled: true, schedule: "0 4 * * 6", deleteUntagged: false },
            allowedNetworks: ["10.0.0.0/8"],
        }),
    ],
];

/** The rendered object of that kind and name, if there is one. */
export function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
    return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

/** The rendered object of that kind and name; when there is none, an error that names every object rendered. */
export function get(objects: K8sObject[], kind: string, name: string): any {
    const o = find(objects, kind, name);
    if (!o) throw new Error(`no ${kind}/${name} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")}`);
    return o;
}

/** The container of that name in the registry's Deployment. */
export function container(objects: K8sObject[], name: string): any {
    const c = get(objects, "Deployment", "registry").spec.template.spec.containers.find((x: any) => x.name === name);
    if (!c) throw new Error(`no container ${name}`);
    return c;
}
