/**
 * Every Kubernetes object of the in-cluster registry, rendered without Pulumi: against the API schema and Pod
 * Security, every option, and the rendered scripts run under sh against stand-ins.
 * Covers: components/inCluster/manifests.ts, components/inCluster/spec.ts, components/inCluster/workload.ts, components/inCluster/deployment.ts, components/inCluster/network.ts, components/inCluster/maintenance.ts, components/inCluster/gcWindow.ts, components/inCluster/backup.ts, components/inCluster/certificateProbe.ts, components/inCluster/readOnlySignal.ts, components/inCluster/k8sHelpers.ts, components/registryUi/kubernetes.ts.
 * Covers: components/shared/persistentClaim.ts, components/shared/podScheduling.ts, components/mirrors/mirrorManifests.ts, components/inCluster/retentionCounts.ts.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import * as YAML from "yaml";
import { IN_CLUSTER_BACKUP } from "../../components/inCluster/backup";
import { CERTIFICATE_PROBE, DEFAULT_PROBE_IMAGE } from "../../components/inCluster/certificateProbe";
import { distributionCachesBlobs, gcWindow } from "../../components/inCluster/gcWindow";
import { gcScript, inClusterGcStepScript, mavenGcScript } from "../../components/inCluster/maintenance";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { READ_ONLY_SIGNAL } from "../../components/inCluster/readOnlySignal";
import { RETENTION_COUNTS, retentionCountsServed } from "../../components/inCluster/retentionCounts";
import { IN_CLUSTER, type InClusterSpec, inClusterSpecProblem } from "../../components/inCluster/spec";
import { renderClusterMirrors } from "../../components/mirrors/mirrorManifests";
import { defaultRemoteUrl, mirrorPathName } from "../../components/mirrors/mirrors";
import { UI_WORKLOAD } from "../../components/registryUi/kubernetes";
import type { K8sObject } from "../../components/shared/k8sObject";
import { FRONT_SETTLE_SECONDS } from "../../components/upkeep/frontWindow";
import { RETENTION_TEXTFILE } from "../../components/upkeep/retention";
import { configProblems } from "../support/configProblems";
import { podTemplates, restrictedPodProblems, schemaProblems } from "../support/k8sValidate";

function baseSpec(overrides: Partial<InClusterSpec> = {}): InClusterSpec {
    return {
        namespace: "dso",
        host: "registry-dso.jmann.local",
        ingressClass: "public",
        ingressController: "nginx",
        tls: { kind: "secret", certPem: "CERT-PEM", keyPem: "KEY-PEM-VALUE" },
        images: { registry: "registry:2.8.3", caddy: "caddy:2.8.4", ui: "joxit/docker-registry-ui:2.5.7", kubectl: "alpine/k8s:1.31.4" },
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

const s3: InClusterSpec["storage"] = { kind: "s3", accessKeyId: "AKID-VALUE", secretAccessKey: "S3-SECRET-VALUE" };
const certManager: InClusterSpec["tls"] = { kind: "cert-manager", issuerKind: "ClusterIssuer", issuerName: "letsencrypt" };
/** The program's own chain, as the component hands it over: its CA Issuer named. */
const issuerChain: InClusterSpec["tls"] = {
    kind: "cert-manager",
    issuerKind: "Issuer",
    issuerName: "dso-registry-ca",
    chain: { caValidityDays: 3650, serverCertValidityDays: 90 },
};

const maven: NonNullable<InClusterSpec["maven"]> = {
    image: "nginx:1.27-alpine",
    nginxConfig: "# nginx\n",
    deployUsers: "ci-deploy $2b$HASH-DEPLOY\n",
    size: "10Gi",
    pathPrefix: "maven-releases",
    snapshotBuildsToKeep: 4,
};

const backup: NonNullable<InClusterSpec["backup"]> = {
    image: "restic/restic:0.17.3",
    schedule: "0 2 * * *",
    keep: 7,
    destination: { kind: "s3", endpoint: "https://minio.example.test", bucket: "registry-backup", prefix: "dso", region: "us-east-1" },
    repositoryPassword: "BACKUP-PASSWORD-VALUE",
    s3: { accessKeyId: "BACKUP-AKID-VALUE", secretAccessKey: "BACKUP-S3-SECRET-VALUE" },
};

const volumeBackup: NonNullable<InClusterSpec["backup"]> = {
    image: "restic/restic:0.17.3",
    schedule: "0 2 * * *",
    keep: 7,
    destination: { kind: "volume", size: "100Gi", storageClass: "other-disks" },
    repositoryPassword: "BACKUP-PASSWORD-VALUE",
};

/** Every option, alone and all together. */
const variants: [string, InClusterSpec][] = [
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
        baseSpec({ monitoring: { prometheusOperator: false, runbookBaseUrl: "docs/runbooks.md", cacheClaims: [] } }),
    ],
    [
        "tag retention with monitoring: the counts' emptyDir in the pod",
        baseSpec({
            garbageCollection: { enabled: true, schedule: "0 4 * * 6", deleteUntagged: false },
            retention: { mode: "dry-run", rules: [{ prefix: "team/", keepNewest: 5 }], protect: [] },
            monitoring: { prometheusOperator: false, runbookBaseUrl: "docs/runbooks.md", cacheClaims: [] },
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

function find(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
    return objects.find((o) => o.kind === kind && o.metadata.name === name);
}

function get(objects: K8sObject[], kind: string, name: string): any {
    const o = find(objects, kind, name);
    if (!o) throw new Error(`no ${kind}/${name} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")}`);
    return o;
}

function container(objects: K8sObject[], name: string): any {
    const c = get(objects, "Deployment", "registry").spec.template.spec.containers.find((x: any) => x.name === name);
    if (!c) throw new Error(`no container ${name}`);
    return c;
}

describe.each(variants)("%s", (_label, spec) => {
    const objects = renderInClusterObjects(spec);

    test("every object is valid against the Kubernetes API schema", async () => {
        const problems = (await Promise.all(objects.map((o) => schemaProblems(o)))).flat();
        expect(problems).toEqual([]);
    });

    test("every pod template meets the restricted Pod Security Standard", () => {
        const templates = podTemplates(objects);
        expect(templates.length).toBeGreaterThan(0);
        expect(templates.flatMap((t) => restrictedPodProblems(t.spec).map((p) => `${t.owner}: ${p}`))).toEqual([]);
    });

    test("every container has resource requests and limits", () => {
        const missing = podTemplates(objects).flatMap((t) =>
            (t.spec.containers as any[])
                .filter((c) => !c.resources?.requests?.cpu || !c.resources?.requests?.memory || !c.resources?.limits?.memory)
                .map((c) => `${t.owner}/${c.name}`),
        );
        expect(missing).toEqual([]);
    });

    test("every long-running container has readiness and liveness probes", () => {
        const containers = get(objects, "Deployment", "registry").spec.template.spec.containers as any[];
        expect(containers.filter((c) => !c.readinessProbe || !c.livenessProbe).map((c) => c.name)).toEqual([]);
    });

    test("no two objects share kind, namespace and name", () => {
        const keys = objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`);
        expect(new Set(keys).size).toBe(keys.length);
    });

    test("secret values appear only in Secrets", () => {
        const secretValues = [
            "KEY-PEM-VALUE",
            "HTTP-SECRET-VALUE",
            "S3-SECRET-VALUE",
            "AKID-VALUE",
            "HASH-PUSH",
            "BACKUP-PASSWORD-VALUE",
            "BACKUP-AKID-VALUE",
            "BACKUP-S3-SECRET-VALUE",
        ];
        const leaks = objects
            .filter((o) => o.kind !== "Secret")
            .flatMap((o) => secretValues.filter((v) => JSON.stringify(o).includes(v)).map((v) => `${o.kind}/${o.metadata.name}: ${v}`));
        expect(leaks).toEqual([]);
    });
});

describe("schema and Pod Security checks can fail", () => {
    test("the schema validator reports a wrongly typed field", async () => {
        const deployment = get(renderInClusterObjects(baseSpec()), "Deployment", "registry");
        const broken = structuredClone(deployment);
        broken.spec.template.spec.containers[0].ports[0].containerPort = "five thousand";
        expect((await schemaProblems(broken)).join("\n")).toMatch(/containerPort must be integer/);
    });

    test("the schema validator reports a missing required field", async () => {
        const service = structuredClone(get(renderInClusterObjects(baseSpec()), "Service", "registry"));
        delete service.spec.ports[0].port;
        expect((await schemaProblems(service)).join("\n")).toMatch(/port/);
    });

    test("an unknown kind is a problem, not a pass", async () => {
        expect(await schemaProblems({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } })).toHaveLength(1);
    });

    const compliant = () => structuredClone(get(renderInClusterObjects(baseSpec()), "Deployment", "registry").spec.template.spec);
    const cases: [string, (pod: any) => void, RegExp][] = [
        ["hostNetwork", (p) => (p.hostNetwork = true), /hostNetwork is true/],
        ["hostPID", (p) => (p.hostPID = true), /hostPID is true/],
        ["hostIPC", (p) => (p.hostIPC = true), /hostIPC is true/],
        ["hostPath volume", (p) => p.volumes.push({ name: "h", hostPath: { path: "/" } }), /hostPath is forbidden/],
        ["nfs volume", (p) => p.volumes.push({ name: "n", nfs: { server: "x", path: "/" } }), /type nfs is not allowed/],
        ["privileged", (p) => (p.containers[0].securityContext.privileged = true), /privileged is true/],
        ["privilege escalation", (p) => delete p.containers[0].securityContext.allowPrivilegeEscalation, /allowPrivilegeEscalation/],
        [
            "root allowed",
            (p) => {
                delete p.securityContext.runAsNonRoot;
                delete p.containers[0].securityContext.runAsNonRoot;
            },
            /runAsNonRoot must be true/,
        ],
        ["runAsUser 0", (p) => (p.containers[1].securityContext.runAsUser = 0), /runAsUser is 0/],
        [
            "no seccomp profile",
            (p) => {
                delete p.securityContext.seccompProfile;
                delete p.containers[0].securityContext.seccompProfile;
            },
            /seccompProfile must be RuntimeDefault/,
        ],
        ["seccomp unconfined", (p) => (p.securityContext.seccompProfile = { type: "Unconfined" }), /Unconfined/],
        ["capabilities kept", (p) => (p.containers[1].securityContext.capabilities = {}), /must drop ALL/],
        ["capability added", (p) => (p.containers[0].securityContext.capabilities.add = ["SYS_ADMIN"]), /SYS_ADMIN may not be added/],
        ["hostPort", (p) => (p.containers[0].ports[0].hostPort = 5000), /hostPort 5000/],
        ["unsafe sysctl", (p) => (p.securityContext.sysctls = [{ name: "kernel.msgmax", value: "1" }]), /sysctl kernel.msgmax/],
        ["procMount", (p) => (p.containers[0].securityContext.procMount = "Unmasked"), /procMount/],
    ];

    test("the rendered registry pod is the compliant starting point", () => {
        expect(restrictedPodProblems(compliant())).toEqual([]);
    });

    test.each(cases)("%s is reported", (_name, mutate, message) => {
        const pod = compliant();
        mutate(pod);
        expect(restrictedPodProblems(pod).join("\n")).toMatch(message);
    });
});

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

describe("objects", () => {
    test("the namespace enforces and audits the restricted Pod Security Standard", () => {
        const ns = get(renderInClusterObjects(baseSpec()), "Namespace", "dso");
        expect(ns.metadata.labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
        expect(ns.metadata.labels["pod-security.kubernetes.io/audit"]).toBe("restricted");
    });

    test("namespaced objects go into the configured namespace", () => {
        const objects = renderInClusterObjects(
            baseSpec({ namespace: "registry-lab", garbageCollection: { enabled: true, schedule: "0 1 * * *", deleteUntagged: false } }),
        );
        const namespaces = new Set(objects.filter((o) => o.kind !== "Namespace").map((o) => o.metadata.namespace));
        expect([...namespaces].sort()).toEqual(["kube-public", "registry-lab"]);
    });

    test("Distribution listens on loopback only and Caddy's two listeners are the only ports of the pod", () => {
        const objects = renderInClusterObjects(baseSpec());
        const ports = (get(objects, "Deployment", "registry").spec.template.spec.containers as any[]).flatMap((c) => c.ports ?? []);
        expect(ports).toEqual([
            { name: "http", containerPort: 5000, protocol: "TCP" },
            { name: "https", containerPort: 8443, protocol: "TCP" },
        ]);
        expect(container(objects, "caddy").ports).toEqual(ports);
        expect(IN_CLUSTER.registryAddr.startsWith("127.0.0.1:")).toBe(true);
    });

    test.each(variants)("Service registry-tls serves 443 from Caddy's TLS listener (%s)", (_name, spec) => {
        const svc = get(renderInClusterObjects(spec), "Service", "registry-tls");
        expect(svc.metadata.namespace).toBe(spec.namespace);
        expect(svc.spec.type).toBe("ClusterIP");
        expect(svc.spec.selector).toEqual(get(renderInClusterObjects(spec), "Service", "registry").spec.selector);
        expect(svc.spec.ports).toEqual([{ name: "https", port: 443, targetPort: "https", protocol: "TCP" }]);
    });

    test.each(variants)("the Caddy container mounts the ingress's TLS Secret read-only, readable by its user only (%s)", (_name, spec) => {
        const objects = renderInClusterObjects(spec);
        const volume = get(objects, "Deployment", "registry").spec.template.spec.volumes.find((v: any) => v.name === "tls");
        expect(volume.secret).toEqual({
            secretName: "registry-tls",
            items: [
                { key: "tls.crt", path: "tls.crt" },
                { key: "tls.key", path: "tls.key" },
            ],
            defaultMode: 0o400,
        });
        expect(container(objects, "caddy").volumeMounts).toContainEqual({ name: "tls", mountPath: IN_CLUSTER.tlsDir, readOnly: true });
        expect(container(objects, "registry").volumeMounts.map((m: any) => m.name)).not.toContain("tls");
    });

    test("the Service is ClusterIP on port 5000 and targets Caddy", () => {
        const svc = get(renderInClusterObjects(baseSpec()), "Service", "registry");
        expect(svc.spec.type).toBe("ClusterIP");
        expect(svc.spec.ports).toEqual([{ name: "http", port: 5000, targetPort: "http", protocol: "TCP" }]);
    });

    test("the Caddy container reads the users files from the htpasswd Secret", () => {
        const objects = renderInClusterObjects(baseSpec());
        const volume = get(objects, "Deployment", "registry").spec.template.spec.volumes.find((v: any) => v.name === "users");
        expect(volume.secret.secretName).toBe("registry-htpasswd");
        expect(container(objects, "caddy").volumeMounts).toContainEqual({ name: "users", mountPath: IN_CLUSTER.usersDir, readOnly: true });
    });

    test("the htpasswd Secret holds the htpasswd and both users files", () => {
        const secret = get(renderInClusterObjects(baseSpec()), "Secret", "registry-htpasswd");
        expect(Object.keys(secret.stringData).sort()).toEqual(["htpasswd", "pull", "push"]);
    });

    test("every replica gets the same http.secret from a Secret", () => {
        const env = container(renderInClusterObjects(baseSpec({ storage: s3, replicas: 3 })), "registry").env;
        expect(env).toContainEqual({
            name: "REGISTRY_HTTP_SECRET",
            valueFrom: { secretKeyRef: { name: "registry-http-secret", key: "secret" } },
        });
    });

    test("the pod template carries the config checksum, so a config change rolls the pods", () => {
        const d = get(renderInClusterObjects(baseSpec({ configChecksum: "c0ffee" })), "Deployment", "registry");
        expect(d.spec.template.metadata.annotations["dso-registry/config-checksum"]).toBe("c0ffee");
    });

    test("probes need no credentials (they never go through the policy's /v2/ challenge)", () => {
        const objects = renderInClusterObjects(baseSpec());
        const probes = (get(objects, "Deployment", "registry").spec.template.spec.containers as any[]).flatMap((c) => [
            c.readinessProbe,
            c.livenessProbe,
        ]);
        expect(probes.filter((p) => p.httpGet)).toEqual([]);
        expect(container(objects, "registry").readinessProbe.exec.command.join(" ")).toContain(`http://${IN_CLUSTER.registryAddr}/v2/`);
    });

    // nginx listens on 127.0.0.1 (components/inCluster/inClusterRegistry.ts); the real kubelet restarted it for
    // ever under a TCP probe (test/engine/localPods.test.ts).
    test("the Maven backend, on the pod's loopback only, is probed from inside its container: a kubelet's TCP or HTTP check goes to the pod's address", () => {
        const objects = renderInClusterObjects(baseSpec({ maven }));
        const backend = container(objects, "maven");
        for (const probe of [backend.readinessProbe, backend.livenessProbe]) {
            expect(probe.tcpSocket).toBeUndefined();
            expect(probe.httpGet).toBeUndefined();
            expect(probe.exec.command.join(" ")).toContain("http://127.0.0.1:5002/");
        }
    });

    test("Caddy keeps NET_BIND_SERVICE in its bounding set (the image's binary has it as a file capability)", () => {
        expect(container(renderInClusterObjects(baseSpec()), "caddy").securityContext.capabilities).toEqual({
            drop: ["ALL"],
            add: ["NET_BIND_SERVICE"],
        });
    });
});

describe("storage", () => {
    test("filesystem: a PVC of the configured size and class, mounted at the data dir, pods replaced one at a time", () => {
        const objects = renderInClusterObjects(
            baseSpec({ storage: { kind: "filesystem", size: "50Gi", storageClass: "microk8s-hostpath" } }),
        );
        const pvc = get(objects, "PersistentVolumeClaim", "registry-data");
        expect(pvc.spec).toEqual({
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: "50Gi" } },
            storageClassName: "microk8s-hostpath",
        });
        expect(container(objects, "registry").volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/registry" });
        expect(get(objects, "Deployment", "registry").spec.strategy).toEqual({ type: "Recreate" });
        expect(get(objects, "Deployment", "registry").spec.template.spec.securityContext.fsGroup).toBe(IN_CLUSTER.uid);
    });

    test.each([
        [
            "filesystem: the PVC is mounted read-only into Caddy at the registry's path",
            "filesystem",
            [{ name: "data", mountPath: "/var/lib/registry", readOnly: true }],
        ],
        ["s3: Caddy gets no data volume", "s3", []],
    ] as const)("%s", (_name, kind, mounts) => {
        const objects = renderInClusterObjects(baseSpec(kind === "s3" ? { storage: s3 } : {}));
        expect(container(objects, "caddy").volumeMounts.filter((m: any) => m.name === "data")).toEqual(mounts);
    });

    test("filesystem: Caddy runs as the registry's user, so it can read what the registry writes", () => {
        const objects = renderInClusterObjects(baseSpec());
        const pod = get(objects, "Deployment", "registry").spec.template.spec;
        expect(container(objects, "caddy").securityContext.runAsUser).toBeUndefined();
        expect(container(objects, "registry").securityContext.runAsUser).toBeUndefined();
        expect(pod.securityContext.runAsUser).toBe(IN_CLUSTER.uid);
        expect(pod.securityContext.fsGroup).toBe(IN_CLUSTER.uid);
    });

    test("filesystem without a class leaves the cluster default", () => {
        const pvc = get(renderInClusterObjects(baseSpec()), "PersistentVolumeClaim", "registry-data");
        expect(pvc.spec.storageClassName).toBeUndefined();
    });

    test("s3: no PVC, credentials from the registry-s3 Secret, rolling updates", () => {
        const objects = renderInClusterObjects(baseSpec({ storage: s3 }));
        expect(find(objects, "PersistentVolumeClaim", "registry-data")).toBeUndefined();
        expect(get(objects, "Secret", "registry-s3").stringData).toEqual({ accessKeyId: "AKID-VALUE", secretAccessKey: "S3-SECRET-VALUE" });
        const env = container(objects, "registry").env;
        expect(env).toContainEqual({
            name: "REGISTRY_STORAGE_S3_ACCESSKEY",
            valueFrom: { secretKeyRef: { name: "registry-s3", key: "accessKeyId" } },
        });
        expect(env).toContainEqual({
            name: "REGISTRY_STORAGE_S3_SECRETKEY",
            valueFrom: { secretKeyRef: { name: "registry-s3", key: "secretAccessKey" } },
        });
        expect(get(objects, "Deployment", "registry").spec.strategy.type).toBe("RollingUpdate");
    });

    test.each([
        [1, undefined],
        [2, { maxUnavailable: 1 }],
        [5, { maxUnavailable: 1 }],
    ])("%i replicas: disruption budget %j", (replicas, budget) => {
        const objects = renderInClusterObjects(baseSpec({ storage: s3, replicas }));
        expect(get(objects, "Deployment", "registry").spec.replicas).toBe(replicas);
        const pdb = find(objects, "PodDisruptionBudget", "registry") as any;
        expect(pdb ? { maxUnavailable: pdb.spec.maxUnavailable } : undefined).toEqual(budget);
    });
});

describe("ingress", () => {
    test("serves the host on the configured class, through the registry Service", () => {
        const ing = get(renderInClusterObjects(baseSpec()), "Ingress", "registry");
        expect(ing.spec.ingressClassName).toBe("public");
        expect(ing.spec.rules[0].host).toBe("registry-dso.jmann.local");
        expect(ing.spec.rules[0].http.paths[0].backend).toEqual({ service: { name: "registry", port: { name: "http" } } });
        expect(ing.spec.tls).toEqual([{ hosts: ["registry-dso.jmann.local"], secretName: "registry-tls" }]);
    });

    test.each([
        ["nginx.ingress.kubernetes.io/proxy-body-size", "0"],
        ["nginx.ingress.kubernetes.io/proxy-request-buffering", "off"],
        ["nginx.ingress.kubernetes.io/proxy-buffering", "off"],
        ["nginx.ingress.kubernetes.io/proxy-read-timeout", "900"],
        ["nginx.ingress.kubernetes.io/proxy-send-timeout", "900"],
    ])("lets multi-GB layers through: %s = %s", (key, value) => {
        expect(get(renderInClusterObjects(baseSpec()), "Ingress", "registry").metadata.annotations[key]).toBe(value);
    });

    test("generated CA: the certificate and key go into a kubernetes.io/tls Secret", () => {
        const secret = get(renderInClusterObjects(baseSpec()), "Secret", "registry-tls");
        expect(secret.type).toBe("kubernetes.io/tls");
        expect(secret.stringData).toEqual({ "tls.crt": "CERT-PEM", "tls.key": "KEY-PEM-VALUE" });
        // Marked as issued by another issuer than any of cert-manager's: a Certificate that later names the
        // Secret (a move to cert-manager) issues at once instead of taking the program's certificate as its own.
        expect(secret.metadata.annotations).toEqual({
            "cert-manager.io/issuer-name": "dso-registry",
            "cert-manager.io/issuer-kind": "PulumiProgram",
        });
    });

    test.each([
        ["ClusterIssuer", "cert-manager.io/cluster-issuer"],
        ["Issuer", "cert-manager.io/issuer"],
    ] as const)("cert-manager %s: annotation %s, and no TLS Secret of ours", (issuerKind, annotation) => {
        const objects = renderInClusterObjects(baseSpec({ tls: { kind: "cert-manager", issuerKind, issuerName: "lab-ca" } }));
        expect(get(objects, "Ingress", "registry").metadata.annotations[annotation]).toBe("lab-ca");
        // ingress-shim's Certificate makes a new key at each issuance: a key left in registry-tls by a move from
        // the program's own certificate would otherwise block it (cert-manager's CannotRegenerateKey).
        expect(get(objects, "Ingress", "registry").metadata.annotations["cert-manager.io/private-key-rotation-policy"]).toBe("Always");
        expect(find(objects, "Secret", "registry-tls")).toBeUndefined();
    });

    test("the program's own chain: self-signed Issuer → CA Certificate → CA Issuer → the registry's Certificate, no ingress-shim", () => {
        const objects = renderInClusterObjects(baseSpec({ tls: issuerChain, ui: { enabled: true, deleteEnabled: false } }));
        const chain = objects.filter((o) => o.apiVersion === "cert-manager.io/v1");
        expect(chain.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
            "Issuer/dso-registry-selfsigned",
            "Certificate/dso-registry-ca",
            "Issuer/dso-registry-ca",
            "Certificate/registry-tls",
        ]);
        expect(chain.every((o) => o.metadata.namespace === "dso")).toBe(true);
        const ca = get(objects, "Certificate", "dso-registry-ca");
        expect(ca.spec).toMatchObject({
            isCA: true,
            secretName: "dso-registry-ca",
            duration: `${3650 * 24}h`,
            privateKey: { rotationPolicy: "Never" },
            issuerRef: { kind: "Issuer", name: "dso-registry-selfsigned" },
        });
        expect(get(objects, "Issuer", "dso-registry-ca").spec).toEqual({ ca: { secretName: "dso-registry-ca" } });
        const served = get(objects, "Certificate", "registry-tls");
        expect(served.spec).toMatchObject({
            secretName: "registry-tls",
            dnsNames: [baseSpec().host],
            duration: `${90 * 24}h`,
            renewBefore: `${30 * 24}h`,
            issuerRef: { kind: "Issuer", name: "dso-registry-ca" },
        });
        // The program reads the CA's Secret, and the pod mounts the registry's: both wait until cert-manager is done.
        expect(ca.metadata.annotations["pulumi.com/waitFor"]).toBe("condition=Ready");
        // The registry's: Ready and issued by cert-manager, not a Secret it found valid and took over.
        expect(JSON.parse(served.metadata.annotations["pulumi.com/waitFor"])).toEqual(["condition=Ready", "jsonpath={.status.revision}"]);
        // The secret the ingress and the sidecar use is the Certificate's; no Ingress asks ingress-shim for another.
        expect(get(objects, "Ingress", "registry").spec.tls).toEqual([{ hosts: [baseSpec().host], secretName: "registry-tls" }]);
        for (const ingress of objects.filter((o) => o.kind === "Ingress")) {
            expect(Object.keys(ingress.metadata.annotations ?? {}).filter((k) => k.startsWith("cert-manager.io/"))).toEqual([]);
        }
        expect(find(objects, "Secret", "registry-tls")).toBeUndefined();
    });

    test("ingress-nginx enforces the allowed networks with its annotation (the sidecar only sees the controller)", () => {
        const objects = renderInClusterObjects(baseSpec({ allowedNetworks: ["10.0.0.0/8", "192.168.1.0/24"] }));
        const ing = get(objects, "Ingress", "registry");
        expect(ing.metadata.annotations["nginx.ingress.kubernetes.io/whitelist-source-range"]).toBe("10.0.0.0/8,192.168.1.0/24");
        expect(objects.filter((o) => o.kind === "Middleware")).toEqual([]);
    });

    test("Traefik enforces them with an ipAllowList Middleware that the Ingress's router uses", () => {
        const objects = renderInClusterObjects(
            baseSpec({ ingressClass: "traefik", ingressController: "traefik", allowedNetworks: ["10.0.0.0/8", "fd00::/8"] }),
        );
        const middleware = get(objects, "Middleware", "registry-allowlist");
        expect(middleware).toMatchObject({
            apiVersion: "traefik.io/v1alpha1",
            metadata: { name: "registry-allowlist", namespace: "dso" },
            spec: { ipAllowList: { sourceRange: ["10.0.0.0/8", "fd00::/8"] } },
        });
        const annotations = get(objects, "Ingress", "registry").metadata.annotations;
        expect(annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe("dso-registry-allowlist@kubernetescrd");
        expect(Object.keys(annotations).filter((k) => k.startsWith("nginx."))).toEqual([]);
    });

    test("the Middleware comes before the Ingress that names it", () => {
        const kinds = renderInClusterObjects(baseSpec({ ingressController: "traefik", allowedNetworks: ["10.0.0.0/8"] })).map(
            (o) => o.kind,
        );
        expect(kinds.indexOf("Middleware")).toBeGreaterThanOrEqual(0);
        expect(kinds.indexOf("Middleware")).toBeLessThan(kinds.indexOf("Ingress"));
    });

    test.each(["nginx", "traefik"] as const)("%s: nothing about an allowlist when every network is allowed", (ingressController) => {
        const objects = renderInClusterObjects(baseSpec({ ingressController }));
        const annotations = get(objects, "Ingress", "registry").metadata.annotations ?? {};
        expect(Object.keys(annotations).filter((k) => /whitelist|middlewares/.test(k))).toEqual([]);
        expect(objects.filter((o) => o.kind === "Middleware")).toEqual([]);
    });

    test("Traefik's Ingress is a valid networking.k8s.io/v1 Ingress", async () => {
        const objects = renderInClusterObjects(baseSpec({ ingressController: "traefik", allowedNetworks: ["10.0.0.0/8"] }));
        expect(await schemaProblems(get(objects, "Ingress", "registry"))).toEqual([]);
    });

    test("an allowlist behind a controller the program does not know is a fault, not a silent gap", () => {
        expect(() => renderInClusterObjects(baseSpec({ ingressController: undefined, allowedNetworks: ["10.0.0.0/8"] }))).toThrow(
            /allowlist needs a known ingress controller/,
        );
    });
});

describe("web UI", () => {
    test("off: the pod runs Caddy and Distribution only, and no UI object exists", () => {
        const objects = renderInClusterObjects(baseSpec());
        const containers = get(objects, "Deployment", "registry").spec.template.spec.containers;
        expect(containers.map((c: any) => c.name)).toEqual(["caddy", "registry"]);
        expect(objects.filter((o) => o.metadata.name.startsWith(UI_WORKLOAD.name))).toEqual([]);
    });

    test.each([true, false])(
        "on with deleteEnabled %s: a Deployment of its own, never a container of the registry's pod",
        (deleteEnabled) => {
            const objects = renderInClusterObjects(baseSpec({ ui: { enabled: true, deleteEnabled } }));
            const registryPod = get(objects, "Deployment", "registry").spec.template;
            expect(registryPod.spec.containers.map((c: any) => c.name)).toEqual(["caddy", "registry"]);
            const ui = get(objects, "Deployment", UI_WORKLOAD.name).spec.template.spec.containers[0];
            expect(ui.image).toBe("joxit/docker-registry-ui:2.5.7");
            expect(ui.env).toContainEqual({ name: "DELETE_IMAGES", value: String(deleteEnabled) });
            expect(ui.env).toContainEqual({ name: "NGINX_LISTEN_PORT", value: String(UI_WORKLOAD.port) });
            // Served under /registry/: the API is at the origin, not under the page's path.
            expect(ui.env).toContainEqual({ name: "REGISTRY_URL", value: "https://registry-dso.jmann.local" });
            expect(get(objects, "Service", UI_WORKLOAD.name).spec.selector).toEqual(
                get(objects, "Deployment", UI_WORKLOAD.name).spec.selector.matchLabels,
            );
        },
    );

    test("the registry's pod and its config checksum do not change with the UI's settings", () => {
        const off = get(renderInClusterObjects(baseSpec()), "Deployment", "registry");
        for (const ui of [
            { enabled: true, deleteEnabled: true },
            { enabled: true, deleteEnabled: false },
        ]) {
            expect(get(renderInClusterObjects(baseSpec({ ui })), "Deployment", "registry")).toEqual(off);
        }
    });

    test.each(["nginx", "traefik", undefined] as const)(
        "ingress controller %s: the registry's host, /registry/ to the UI with the prefix cut off",
        (ingressController) => {
            const objects = renderInClusterObjects(baseSpec({ ingressController, ui: { enabled: true, deleteEnabled: true } }));
            const ingress = get(objects, "Ingress", UI_WORKLOAD.name);
            const registryIngress = get(objects, "Ingress", "registry");
            expect(ingress.spec.rules[0].host).toBe(registryIngress.spec.rules[0].host);
            expect(ingress.spec.tls).toEqual(registryIngress.spec.tls);
            expect(ingress.spec.ingressClassName).toBe(registryIngress.spec.ingressClassName);
            expect(ingress.spec.rules[0].http.paths[0].backend.service.name).toBe(UI_WORKLOAD.name);
            // The registry keeps every other path (/v2/, the Maven route).
            expect(registryIngress.spec.rules[0].http.paths.map((p: any) => p.path)).toEqual(["/"]);
            if (ingressController === "traefik") {
                expect(ingress.spec.rules[0].http.paths[0].path).toBe("/registry");
                expect(ingress.metadata.annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(
                    `dso-${UI_WORKLOAD.stripPrefixMiddleware}@kubernetescrd`,
                );
                expect(get(objects, "Middleware", UI_WORKLOAD.stripPrefixMiddleware).spec).toEqual({
                    stripPrefix: { prefixes: ["/registry"] },
                });
            } else {
                expect(ingress.spec.rules[0].http.paths[0]).toMatchObject({
                    path: "/registry(/|$)(.*)",
                    pathType: "ImplementationSpecific",
                });
                expect(ingress.metadata.annotations).toMatchObject({
                    "nginx.ingress.kubernetes.io/use-regex": "true",
                    "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
                });
                expect(find(objects, "Middleware", UI_WORKLOAD.stripPrefixMiddleware)).toBeUndefined();
            }
        },
    );

    test.each(["nginx", "traefik"] as const)("the allowlist holds on the UI's Ingress too (%s)", (ingressController) => {
        const objects = renderInClusterObjects(
            baseSpec({ ingressController, allowedNetworks: ["10.0.0.0/8"], ui: { enabled: true, deleteEnabled: true } }),
        );
        const annotations = get(objects, "Ingress", UI_WORKLOAD.name).metadata.annotations;
        if (ingressController === "nginx") expect(annotations["nginx.ingress.kubernetes.io/whitelist-source-range"]).toBe("10.0.0.0/8");
        else
            expect(annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(
                `dso-registry-allowlist@kubernetescrd,dso-${UI_WORKLOAD.stripPrefixMiddleware}@kubernetescrd`,
            );
    });
});

describe("KEP-1755 local-registry-hosting", () => {
    test("published in kube-public with the host for clients and for the cluster network", () => {
        const cm = get(renderInClusterObjects(baseSpec()), "ConfigMap", "local-registry-hosting");
        expect(cm.metadata.namespace).toBe("kube-public");
        expect(YAML.parse(cm.data["localRegistryHosting.v1"])).toEqual({
            host: "registry-dso.jmann.local",
            hostFromContainerRuntime: "registry-dso.jmann.local",
            hostFromClusterNetwork: "registry.dso.svc:5000",
        });
    });

    test("not published when turned off", () => {
        expect(
            find(renderInClusterObjects(baseSpec({ publishLocalRegistryHosting: false })), "ConfigMap", "local-registry-hosting"),
        ).toBeUndefined();
    });
});

describe("garbage collection", () => {
    const gcOn = (deleteUntagged = false) =>
        renderInClusterObjects(baseSpec({ garbageCollection: { enabled: true, schedule: "15 2 * * 1", deleteUntagged } }));

    test("off by default: no CronJob, no account, no role", () => {
        const objects = renderInClusterObjects(baseSpec());
        expect(objects.filter((o) => o.metadata.name === "registry-gc")).toEqual([]);
    });

    test("on: a CronJob on the configured schedule that never overlaps itself", () => {
        const cj = get(gcOn(), "CronJob", "registry-gc");
        expect(cj.spec.schedule).toBe("15 2 * * 1");
        expect(cj.spec.concurrencyPolicy).toBe("Forbid");
        expect(cj.spec.jobTemplate.spec.template.spec.serviceAccountName).toBe("registry-gc");
    });

    test.each([
        ["one pod (the marker window): no patch", gcOn(), ["get", "list", "watch"]],
        [
            "pods that may overlap (the rollout window): patch too",
            renderInClusterObjects(
                baseSpec({ storage: s3, replicas: 2, garbageCollection: { enabled: true, schedule: "15 2 * * 1", deleteUntagged: false } }),
            ),
            ["get", "list", "watch", "patch"],
        ],
    ])("the role touches only the registry Deployment and exec into pods, in its namespace; %s", (_name, objects, deploymentVerbs) => {
        const role = get(objects, "Role", "registry-gc");
        expect(role.rules).toContainEqual({
            apiGroups: ["apps"],
            resources: ["deployments"],
            resourceNames: ["registry"],
            verbs: deploymentVerbs,
        });
        const verbsOnOthers = role.rules.filter((r: any) => r.resources[0] !== "deployments").flatMap((r: any) => r.verbs);
        expect(verbsOnOthers.filter((v: string) => !["get", "list", "watch", "create"].includes(v))).toEqual([]);
        const binding = get(objects, "RoleBinding", "registry-gc");
        expect(binding.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "registry-gc" });
    });

    test.each([false, true])(
        "deleteUntagged %s: the ConfigMap's gc.sh collects with it (marker window); the job itself does not",
        (deleteUntagged) => {
            // What gc.sh and the rollout window's job pass to the collector: "garbage collection scripts under sh".
            expect(get(gcOn(deleteUntagged), "ConfigMap", IN_CLUSTER.configMap).data[IN_CLUSTER.gcStepScript]).toBe(
                inClusterGcStepScript(deleteUntagged, "filesystem"),
            );
            expect(gcScript("dso", deleteUntagged, false, "marker")).not.toContain("garbage-collect");
        },
    );

    test.each([
        ["filesystem storage", baseSpec(), "marker", "Recreate", false],
        ["s3 storage with Maven's volume", baseSpec({ storage: s3, maven }), "marker", "Recreate", false],
        ["s3 storage, one replica", baseSpec({ storage: s3 }), "rollout", "RollingUpdate", true],
        ["s3 storage, 3 replicas", baseSpec({ storage: s3, replicas: 3 }), "rollout", "RollingUpdate", true],
    ] as const)("%s: the GC window is %s, the strategy %s, Distribution's blob cache kept: %s", (_name, spec, window, strategy, cached) => {
        const withGc = { ...spec, garbageCollection: { enabled: true, schedule: "15 2 * * 1", deleteUntagged: false } };
        expect(gcWindow(withGc)).toBe(window);
        expect(gcWindow(spec)).toBeUndefined();
        expect(get(renderInClusterObjects(withGc), "Deployment", "registry").spec.strategy.type).toBe(strategy);
        expect(distributionCachesBlobs(withGc)).toBe(cached);
        // Without garbage collection nothing is collected behind the cache's back.
        expect(distributionCachesBlobs(spec)).toBe(true);
        const command = get(renderInClusterObjects(withGc), "CronJob", "registry-gc").spec.jobTemplate.spec.template.spec.containers[0]
            .command[2] as string;
        expect(command.includes("set env") && command.includes("rollout status")).toBe(window === "rollout");
        expect(command.includes(`/${IN_CLUSTER.gcStepScript}`)).toBe(window === "marker");
    });

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

    test("the ConfigMap carries the check the job runs in the registry container (busybox wget against Distribution on the pod's loopback), only with GC on", () => {
        const script: string = get(gcOn(), "ConfigMap", IN_CLUSTER.configMap).data[IN_CLUSTER.verifyScript];
        expect(script).toContain(`\nREGISTRY_URL='http://${IN_CLUSTER.registryAddr}'\n`);
        expect(script).toContain("\nHTTP_CLIENT='busybox-wget'\n");
        expect(script).toContain("\nREGISTRY_LOGS='kubectl --namespace dso logs deployment/registry --container=registry'\n");
        const off = get(renderInClusterObjects(baseSpec()), "ConfigMap", IN_CLUSTER.configMap).data;
        expect(off[IN_CLUSTER.verifyScript]).toBeUndefined();
    });
});

/**
 * The GC scripts run by a real shell: the job's script against a stand-in kubectl that records its
 * arguments (the order of the steps; the rollout window switches back even when a step fails), and
 * the marker window's gc.sh against a stand-in `registry` that records whether the marker exists.
 */
describe("garbage collection scripts under sh", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "dso-gc-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const log = path.join(dir, "calls.log");
    writeFileSync(
        path.join(dir, "kubectl"),
        [
            "#!/bin/sh",
            `printf '%s\\n' "$*" >> "${log}"`,
            'case "$*" in *" exec "*) exit "${FAIL_GC:-0}";; esac',
            // The first TERMINATING pod queries find an old pod with a deletion timestamp.
            `case "$*" in *" get pods "*) n=$(cat "${log}.pods" 2>/dev/null || echo 0); echo $((n + 1)) > "${log}.pods"; if [ "$n" -lt "\${TERMINATING:-0}" ]; then echo 2026-01-01T00:00:00Z; fi;; esac`,
            "exit 0",
            "",
        ].join("\n"),
    );
    chmodSync(path.join(dir, "kubectl"), 0o755);
    const run = (script: string, failGc: number, terminating = 0) => {
        rmSync(log, { force: true });
        rmSync(`${log}.pods`, { force: true });
        const result = spawnSync("/bin/sh", ["-c", script], {
            env: { PATH: `${dir}:/usr/bin:/bin`, FAIL_GC: String(failGc), TERMINATING: String(terminating) },
            encoding: "utf8",
        });
        return { status: result.status, calls: readFileSync(log, "utf8").trim().split("\n") };
    };
    const steps = (calls: string[]) =>
        calls.map((c) =>
            c.includes("READONLY={")
                ? "read-only"
                : c.includes("READONLY-")
                  ? "read-write"
                  : c.includes("rollout status")
                    ? "wait"
                    : c.includes(" get pods ")
                      ? "old pods?"
                      : c.includes("verify.sh")
                        ? "verify"
                        : c.includes("maven-gc.sh")
                          ? "maven"
                          : c.includes(" exec ")
                            ? "collect"
                            : c,
        );

    test("one pod (the marker window): the collection in the window, then the check of every tagged image; nothing switched, nothing rolled", () => {
        const { status, calls } = run(gcScript("dso", false, false, "marker"), 0);
        expect(status).toBe(0);
        expect(steps(calls)).toEqual(["collect", "verify"]);
        expect(calls[0]).toBe("--namespace dso exec deployment/registry --container=registry -- /bin/sh /etc/dso-registry/gc.sh");
        expect(calls[1]).toContain("exec deployment/registry --container=registry -- /bin/sh /etc/dso-registry/verify.sh");
    });

    test("with Maven: collection, Maven cleanup (its own window in the Maven container), check", () => {
        const { status, calls } = run(gcScript("dso", false, true, "marker"), 0);
        expect(status).toBe(0);
        expect(steps(calls)).toEqual(["collect", "maven", "verify"]);
        expect(calls[1]).toContain("--container=maven -- /bin/sh /etc/dso-registry/maven-gc.sh");
    });

    test("one pod: a failed collection fails the job, and nothing is checked", () => {
        const { status, calls } = run(gcScript("dso", false, true, "marker"), 3);
        expect(status).not.toBe(0);
        expect(steps(calls)).toEqual(["collect"]);
    });

    test("pods that may overlap (the rollout window): read-only, wait, no old pod left, collect, read-write, wait, then the check", () => {
        const { status, calls } = run(gcScript("dso", false, false, "rollout"), 0);
        expect(status).toBe(0);
        expect(steps(calls)).toEqual(["read-only", "wait", "old pods?", "collect", "read-write", "wait", "verify"]);
        expect(calls[0]).toContain(`${IN_CLUSTER.readOnlyEnv}={"enabled":true}`);
        expect(calls[2]).toContain("get pods --selector app.kubernetes.io/component=registry,app.kubernetes.io/name=registry");
    });

    test("the rollout window: the collection waits while an old pod is still terminating", () => {
        const { status, calls } = run(gcScript("dso", false, false, "rollout"), 0, 2);
        expect(status).toBe(0);
        expect(steps(calls)).toEqual([
            "read-only",
            "wait",
            "old pods?",
            "old pods?",
            "old pods?",
            "collect",
            "read-write",
            "wait",
            "verify",
        ]);
    });

    test.each([false, true])(
        "the rollout window with deleteUntagged %s: the collector runs in the registry container with it",
        (deleteUntagged) => {
            const { calls } = run(gcScript("dso", deleteUntagged, false, "rollout"), 0);
            expect(calls[3]).toBe(
                `--namespace dso exec deployment/registry --container=registry -- registry garbage-collect${deleteUntagged ? " --delete-untagged" : ""} /etc/dso-registry/config.yml`,
            );
        },
    );

    test("the rollout window: a failed collection still switches back to read-write, and the job fails", () => {
        const { status, calls } = run(gcScript("dso", false, false, "rollout"), 3);
        expect(status).not.toBe(0);
        expect(steps(calls)).toEqual(["read-only", "wait", "old pods?", "collect", "read-write", "wait"]);
    });

    test.each(["marker", "rollout"] as const)("the %s window's job script parses", (window) => {
        expect(execFileSync("/bin/sh", ["-n", "-c", gcScript("dso", true, true, window)]).toString()).toBe("");
    });

    describe("gc.sh in the registry container", () => {
        const root = path.join(dir, "root");
        const marker = `${root}${READ_ONLY_SIGNAL.gcMarker}`;
        const seen = path.join(dir, "registry.log");
        // The collector and the settle wait record whether the marker exists when they run.
        const recorder = (name: string, then: string) =>
            [
                "#!/bin/sh",
                `if [ -e "${marker}" ]; then echo "marker ${name} $*" >> "${seen}"; else echo "no marker ${name} $*" >> "${seen}"; fi`,
                then,
                "",
            ].join("\n");
        const stepDir = path.join(dir, "step-bin");
        mkdirSync(stepDir);
        writeFileSync(path.join(stepDir, "registry"), recorder("registry", 'exit "${FAIL_GC:-0}"'));
        writeFileSync(path.join(stepDir, "sleep"), recorder("sleep", "exit 0"));
        chmodSync(path.join(stepDir, "registry"), 0o755);
        chmodSync(path.join(stepDir, "sleep"), 0o755);
        const repositories = `${root}${IN_CLUSTER.dataDir}/docker/registry/v2/repositories`;
        const collect = (failGc: number, pushedTo = true, script = inClusterGcStepScript(false, "filesystem")) => {
            rmSync(seen, { force: true });
            if (pushedTo) mkdirSync(repositories, { recursive: true });
            else rmSync(repositories, { recursive: true, force: true });
            const result = spawnSync("/bin/sh", ["-c", script], {
                env: { PATH: `${stepDir}:/usr/bin:/bin`, FAIL_GC: String(failGc), DSO_ROOT: root },
                encoding: "utf8",
            });
            return {
                status: result.status,
                seen: existsSync(seen) ? readFileSync(seen, "utf8").trim() : "",
                markerLeft: existsSync(marker),
                stdout: result.stdout,
            };
        };

        // The settle wait lets writes that passed the front just before the marker land before the collection starts.
        const settled = `marker sleep ${FRONT_SETTLE_SECONDS}`;

        test("Distribution collects while the GC's marker exists, after the settle wait, and the marker is gone afterwards", () => {
            expect(collect(0)).toMatchObject({
                status: 0,
                seen: `${settled}\nmarker registry garbage-collect ${root}/etc/dso-registry/config.yml`,
                markerLeft: false,
            });
        });

        test("deleteUntagged reaches the collector", () => {
            expect(collect(0, true, inClusterGcStepScript(true, "filesystem")).seen).toBe(
                `${settled}\nmarker registry garbage-collect --delete-untagged ${root}/etc/dso-registry/config.yml`,
            );
        });

        test("a failed collection removes the marker too, and fails", () => {
            expect(collect(3)).toMatchObject({
                status: 3,
                seen: `${settled}\nmarker registry garbage-collect ${root}/etc/dso-registry/config.yml`,
                markerLeft: false,
            });
        });

        test("on a registry nobody has pushed to, there is nothing to collect and the job goes on", () => {
            const result = collect(3, false);
            expect(result).toMatchObject({ status: 0, seen: settled, markerLeft: false });
            expect(result.stdout).toContain("the registry holds no repository yet: nothing to collect");
        });

        test("with s3 storage the collector always runs (the bucket has no folder to look for)", () => {
            expect(collect(0, false, inClusterGcStepScript(false, "s3"))).toMatchObject({
                status: 0,
                seen: `${settled}\nmarker registry garbage-collect ${root}/etc/dso-registry/config.yml`,
                markerLeft: false,
            });
        });
    });
});

describe("the Maven repository in the registry pod", () => {
    test("keeps its files on a PVC of its own, mounted into the nginx sidecar", () => {
        const objects = renderInClusterObjects(baseSpec({ maven }));
        expect(get(objects, "PersistentVolumeClaim", "maven-data").spec.resources.requests.storage).toBe("10Gi");
        expect(container(objects, "maven").volumeMounts).toContainEqual({ name: "maven-data", mountPath: "/var/lib/maven" });
    });

    test("its deploy account reaches Caddy in the users Secret", () => {
        const objects = renderInClusterObjects(baseSpec({ maven }));
        expect(get(objects, "Secret", "registry-htpasswd").stringData["maven-deploy"]).toBe(maven.deployUsers);
    });

    test("with s3 image storage the pod still replaces itself (Recreate) and owns its volume group", () => {
        const deployment = get(renderInClusterObjects(baseSpec({ maven, storage: s3 })), "Deployment", "registry");
        expect(deployment.spec.strategy.type).toBe("Recreate");
        expect(deployment.spec.template.spec.securityContext.fsGroup).toBe(65532);
    });

    test("is refused with several replicas, naming what to change", () => {
        expect(() => renderInClusterObjects(baseSpec({ maven, storage: s3, replicas: 2 }))).toThrow(/mavenRegistry.host/);
    });

    const gcOn = { enabled: true, schedule: "0 4 * * 6", deleteUntagged: false };
    const gcCommand = (objects: K8sObject[]) =>
        get(objects, "CronJob", "registry-gc").spec.jobTemplate.spec.template.spec.containers[0].command[2] as string;

    test("the GC job cleans old snapshot builds in the Maven container with the script the ConfigMap carries", () => {
        const objects = renderInClusterObjects(baseSpec({ maven, garbageCollection: gcOn }));
        const script = get(objects, "ConfigMap", IN_CLUSTER.configMap).data["maven-gc.sh"];
        expect(script).toBe(mavenGcScript(maven));
        expect(script).toContain("\nMAVEN_DATA_DIR='/var/lib/maven'\n");
        expect(script).toContain("\nMAVEN_SNAPSHOT_BUILDS_TO_KEEP='4'\n");
        // Run under sh with the Maven cleanup: "garbage collection scripts under sh".
        expect(gcCommand(objects)).toBe(gcScript("dso", false, true, "marker"));
        expect(container(objects, "maven").volumeMounts).toContainEqual({ name: "config", mountPath: "/etc/dso-registry", readOnly: true });
    });

    test("the Maven cleanup holds deploys back with the GC's marker, which the Maven container may write", () => {
        const objects = renderInClusterObjects(baseSpec({ maven, garbageCollection: gcOn }));
        const script: string = get(objects, "ConfigMap", IN_CLUSTER.configMap).data["maven-gc.sh"];
        // Run under sh: the settle wait and the clean-up's temporary file record whether the marker exists.
        const root = mkdtempSync(path.join(tmpdir(), "dso-maven-gc-"));
        try {
            const marker = `${root}${READ_ONLY_SIGNAL.gcMarker}`;
            const seen = path.join(root, "seen");
            const bin = path.join(root, "bin");
            mkdirSync(bin);
            mkdirSync(`${root}/run/dso-maven`, { recursive: true });
            const recorder = (name: string, then: string) =>
                `#!/bin/sh\nif [ -e "${marker}" ]; then echo "marker ${name}" >> "${seen}"; else echo "no marker ${name}" >> "${seen}"; fi\n${then}\n`;
            writeFileSync(path.join(bin, "sleep"), recorder("sleep", "exit 0"), { mode: 0o755 });
            writeFileSync(path.join(bin, "mktemp"), recorder("mktemp", 'exec /usr/bin/mktemp "$@"'), { mode: 0o755 });
            const result = spawnSync("/bin/sh", ["-c", script], {
                env: { PATH: `${bin}:/usr/bin:/bin`, DSO_ROOT: root },
                encoding: "utf8",
            });
            expect(result.status, result.stderr).toBe(0);
            expect(readFileSync(seen, "utf8")).toBe("marker sleep\nmarker mktemp\n");
            expect(existsSync(marker)).toBe(false);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
        expect(container(objects, "maven").volumeMounts).toContainEqual({ name: READ_ONLY_SIGNAL.volume, mountPath: READ_ONLY_SIGNAL.dir });
        expect(container(renderInClusterObjects(baseSpec({ maven })), "maven").volumeMounts).not.toContainEqual(
            expect.objectContaining({ name: READ_ONLY_SIGNAL.volume }),
        );
    });

    test.each([
        ["Maven without garbage collection", baseSpec({ maven })],
        ["garbage collection without Maven", baseSpec({ garbageCollection: gcOn })],
    ])("%s: no Maven cleanup", (_name, spec) => {
        const objects = renderInClusterObjects(spec);
        expect(get(objects, "ConfigMap", IN_CLUSTER.configMap).data["maven-gc.sh"]).toBeUndefined();
        if (find(objects, "CronJob", "registry-gc")) expect(gcCommand(objects)).toBe(gcScript("dso", false, false, "marker"));
    });

    test("no Maven objects without it", () => {
        const objects = renderInClusterObjects(baseSpec());
        expect(find(objects, "PersistentVolumeClaim", "maven-data")).toBeUndefined();
    });
});

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

    test("the CronJob runs on the schedule, one at a time, with the maintenance account", () => {
        const job = get(objects, "CronJob", "registry-backup");
        expect(job.spec.schedule).toBe("0 2 * * *");
        expect(job.spec.concurrencyPolicy).toBe("Forbid");
        expect(job.spec.jobTemplate.spec.template.spec.serviceAccountName).toBe("registry-backup");
        expect(get(objects, "RoleBinding", "registry-backup").roleRef.name).toBe("registry-backup");
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

describe("monitoring in the cluster", () => {
    const monitoring = { runbookBaseUrl: "https://docs.example.test/runbooks.md", cacheClaims: ["registry-mirror-docker-io"] };

    test("without prometheus-operator: Caddy's metrics port is annotated, the rules are a ConfigMap, no CRD objects", () => {
        const objects = renderInClusterObjects(baseSpec({ monitoring: { ...monitoring, prometheusOperator: false } }));
        const pod = get(objects, "Deployment", "registry").spec.template;
        expect(pod.metadata.annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": "5092" });
        expect(container(objects, "caddy").ports.map((p: { name: string }) => p.name)).toEqual([
            "http",
            "https",
            "metrics",
            "dist-metrics",
        ]);
        expect(get(objects, "ConfigMap", "dso-registry-alert-rules").data["dso-registry.rules.yml"]).toContain("alert: DsoRegistryDown");
        expect(objects.filter((o) => o.apiVersion.startsWith("monitoring.coreos.com"))).toEqual([]);
        // The metrics ports are in no Service.
        for (const service of objects.filter((o) => o.kind === "Service")) {
            expect(JSON.stringify(service)).not.toMatch(/metrics|5092|5093/);
        }
    });

    test("with prometheus-operator: a PodMonitor for both ports and a PrometheusRule, no annotations", () => {
        const objects = renderInClusterObjects(baseSpec({ tls: certManager, monitoring: { ...monitoring, prometheusOperator: true } }));
        const podMonitor = get(objects, "PodMonitor", "registry");
        expect(podMonitor.spec.podMetricsEndpoints.map((e: { port: string }) => e.port)).toEqual(["metrics", "dist-metrics"]);
        const rules = get(objects, "PrometheusRule", "dso-registry").spec.groups[0].rules.map((r: { alert: string }) => r.alert);
        expect(rules).toEqual(expect.arrayContaining(["DsoRegistryDown", "DsoRegistryCertificateExpiring", "DsoRegistryCacheOverSize"]));
        expect(get(objects, "Deployment", "registry").spec.template.metadata.annotations).not.toHaveProperty("prometheus.io/scrape");
    });

    describe("tag retention's counts", () => {
        const retention = { mode: "apply", rules: [{ prefix: "team/", keepNewest: 5 }], protect: [] } as const;
        const gc = { enabled: true, schedule: "30 3 * * 0", deleteUntagged: false };
        const withCounts = (prometheusOperator: boolean) =>
            renderInClusterObjects(baseSpec({ garbageCollection: gc, retention, monitoring: { ...monitoring, prometheusOperator } }));
        const mounts = (objects: K8sObject[], name: string) =>
            (container(objects, name).volumeMounts as { name: string; mountPath: string; readOnly?: boolean }[]).filter(
                (m) => m.name === RETENTION_COUNTS.volume,
            );
        const retentionScript = (objects: K8sObject[]): string =>
            get(objects, "ConfigMap", IN_CLUSTER.configMap).data[IN_CLUSTER.retentionScript];

        test("retention rules, monitoring, one pod: an emptyDir written by the registry container, read by Caddy, retention.sh writing to it", () => {
            const objects = withCounts(false);
            const volumes = get(objects, "Deployment", "registry").spec.template.spec.volumes as { name: string }[];
            expect(volumes.filter((v) => v.name === RETENTION_COUNTS.volume)).toEqual([
                { name: RETENTION_COUNTS.volume, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
            ]);
            expect(mounts(objects, "registry")).toEqual([{ name: RETENTION_COUNTS.volume, mountPath: RETENTION_COUNTS.dir }]);
            expect(mounts(objects, "caddy")).toEqual([{ name: RETENTION_COUNTS.volume, mountPath: RETENTION_COUNTS.dir, readOnly: true }]);
            expect(retentionScript(objects)).toContain(`\nTEXTFILE_DIR='${RETENTION_COUNTS.dir}'\nTEXTFILE_NAME='${RETENTION_TEXTFILE}'\n`);
        });

        test("with prometheus-operator: the PodMonitor scrapes the counts' path on Caddy's metrics port as a third endpoint, labelled apart", () => {
            expect(get(withCounts(true), "PodMonitor", "registry").spec.podMetricsEndpoints).toEqual([
                { port: "metrics", path: "/metrics" },
                { port: "dist-metrics", path: "/metrics" },
                {
                    port: "metrics",
                    path: RETENTION_COUNTS.path,
                    // A label of its own: the first endpoint's targets have the same port.
                    relabelings: [{ action: "replace", targetLabel: "endpoint", replacement: "retention-counts" }],
                },
            ]);
        });

        test("without prometheus-operator: the annotations still name Caddy's /metrics (one path per pod)", () => {
            expect(get(withCounts(false), "Deployment", "registry").spec.template.metadata.annotations).toMatchObject({
                "prometheus.io/port": "5092",
                "prometheus.io/path": "/metrics",
            });
        });

        test.each([
            ["no retention rules", baseSpec({ garbageCollection: gc, monitoring: { ...monitoring, prometheusOperator: true } })],
            ["monitoring off", baseSpec({ garbageCollection: gc, retention })],
            [
                "the rollout window (s3, pods replaced right after retention)",
                baseSpec({
                    garbageCollection: gc,
                    retention,
                    storage: s3,
                    replicas: 2,
                    monitoring: { ...monitoring, prometheusOperator: true },
                }),
            ],
        ])("%s: no volume, no mount, no endpoint, and retention.sh writes no file", (_name, spec) => {
            const objects = renderInClusterObjects(spec);
            expect(JSON.stringify(get(objects, "Deployment", "registry"))).not.toContain(RETENTION_COUNTS.volume);
            const podMonitor = find(objects, "PodMonitor", "registry") as any;
            if (podMonitor) expect(podMonitor.spec.podMetricsEndpoints).toHaveLength(2);
            const script = retentionScript(objects);
            if (script !== undefined) expect(script).toContain("\nTEXTFILE_DIR=''\n");
        });

        test("retentionCountsServed: only monitoring, retention rules and the marker window together", () => {
            const spec = { monitoring, retention, storage: { kind: "filesystem" }, garbageCollection: gc } as const;
            expect(retentionCountsServed(spec)).toBe(true);
            expect(retentionCountsServed({ ...spec, monitoring: undefined })).toBe(false);
            expect(retentionCountsServed({ ...spec, retention: undefined })).toBe(false);
            expect(retentionCountsServed({ ...spec, garbageCollection: { enabled: false } })).toBe(false);
            expect(retentionCountsServed({ ...spec, storage: { kind: "s3" } })).toBe(false);
            expect(retentionCountsServed({ ...spec, storage: { kind: "s3" }, maven: {} })).toBe(true);
        });
    });

    test("monitoring off: no metrics ports, annotations or rules", () => {
        const objects = renderInClusterObjects(baseSpec());
        expect(container(objects, "caddy").ports.map((p: { name: string }) => p.name)).toEqual(["http", "https"]);
        expect(find(objects, "ConfigMap", "dso-registry-alert-rules")).toBeUndefined();
        expect(objects.filter((o) => o.metadata.name === CERTIFICATE_PROBE.name)).toEqual([]);
    });
});

describe("the certificate probe", () => {
    const monitoring = { runbookBaseUrl: "docs/runbooks.md", cacheClaims: [] };
    const withProbe = (overrides: Partial<InClusterSpec> = {}, prometheusOperator = false) =>
        renderInClusterObjects(baseSpec({ monitoring: { ...monitoring, prometheusOperator }, ...overrides }));
    const probePod = (objects: K8sObject[]) => get(objects, "Deployment", CERTIFICATE_PROBE.name).spec.template;
    const probeFiles = (objects: K8sObject[]) => get(objects, "ConfigMap", CERTIFICATE_PROBE.name).data;

    test("shakes hands with the registry's TLS Service on 443, asking for the registry's name", () => {
        const files = probeFiles(withProbe());
        const modules = YAML.parse(files[CERTIFICATE_PROBE.configKey]).modules;
        expect(modules[CERTIFICATE_PROBE.module]).toEqual({
            prober: "tcp",
            timeout: "10s",
            tcp: { tls: true, tls_config: { insecure_skip_verify: true, server_name: "registry-dso.jmann.local" } },
        });
        expect(files[CERTIFICATE_PROBE.caddyfileKey]).toContain(
            "rewrite * /probe?module=registry_tls&target=registry-tls.dso.svc:443\n\t\treverse_proxy 127.0.0.1:9115",
        );
    });

    test("without prometheus-operator: its pod is annotated for the same scrape as the registry's, on the port its Caddy serves", () => {
        const objects = withProbe();
        const pod = probePod(objects);
        expect(pod.metadata.annotations).toMatchObject({
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "5092",
            "prometheus.io/path": "/metrics",
        });
        const caddy = pod.spec.containers.find((c: { name: string }) => c.name === "caddy");
        expect(caddy.image).toBe("caddy:2.8.4");
        expect(caddy.ports).toEqual([{ name: "metrics", containerPort: 5092, protocol: "TCP" }]);
        expect(probeFiles(objects)[CERTIFICATE_PROBE.caddyfileKey]).toContain("http://:5092 {");
        expect(find(objects, "PodMonitor", CERTIFICATE_PROBE.name)).toBeUndefined();
    });

    test("blackbox_exporter listens on the pod's loopback only: only the Caddy beside it reaches it", () => {
        const exporter = probePod(withProbe()).spec.containers.find((c: { name: string }) => c.name === "blackbox-exporter");
        expect(exporter.image).toBe(DEFAULT_PROBE_IMAGE);
        expect(exporter.args).toContain("--web.listen-address=127.0.0.1:9115");
        expect(exporter.ports).toBeUndefined();
    });

    test("with prometheus-operator: a PodMonitor of its own for the probe's pods, and no annotations", () => {
        const objects = withProbe({}, true);
        const podMonitor = get(objects, "PodMonitor", CERTIFICATE_PROBE.name);
        expect(podMonitor.spec.podMetricsEndpoints).toEqual([{ port: "metrics", path: "/metrics" }]);
        expect(probePod(objects).metadata.labels).toMatchObject(podMonitor.spec.selector.matchLabels);
        expect(probePod(objects).metadata.annotations).not.toHaveProperty("prometheus.io/scrape");
        // The registry's PodMonitor does not take the probe's pods in, nor the probe's the registry's.
        const registryPod = get(objects, "Deployment", "registry").spec.template;
        expect(registryPod.metadata.labels).not.toMatchObject(podMonitor.spec.selector.matchLabels);
        expect(probePod(objects).metadata.labels).not.toMatchObject(get(objects, "PodMonitor", "registry").spec.selector.matchLabels);
    });

    test("no Service sends clients to the probe's pods", () => {
        const objects = withProbe({ ui: { enabled: true, deleteEnabled: false } });
        const labels = probePod(objects).metadata.labels;
        const services = objects.filter((o) => o.kind === "Service") as any[];
        expect(services.length).toBeGreaterThan(0);
        for (const service of services) expect(labels, service.metadata.name).not.toMatchObject(service.spec.selector);
    });

    test.each([
        ["the program's own certificate", baseSpec().tls, false],
        ["cert-manager", certManager, true],
    ] as const)("with %s: the probe runs and both certificate alerts read it", (_mode, tls, certManagerClause) => {
        const objects = withProbe({ tls });
        expect(find(objects, "Deployment", CERTIFICATE_PROBE.name)).toBeDefined();
        const rules = YAML.parse(get(objects, "ConfigMap", "dso-registry-alert-rules").data["dso-registry.rules.yml"]).groups[0].rules;
        const expr = (alert: string) => rules.find((r: { alert: string }) => r.alert === alert).expr as string;
        const probe = 'namespace="dso",pod=~"registry-certificate-probe-.*"';
        expect(expr("DsoRegistryCertificateExpiring")).toBe(`(probe_ssl_earliest_cert_expiry{${probe}} - time()) < 1814400`);
        expect(expr("DsoRegistryCertificateRenewalFailing")).toContain(`probe_success{${probe}} == 0`);
        expect(expr("DsoRegistryCertificateRenewalFailing").includes("certmanager_certificate_ready_status")).toBe(certManagerClause);
    });

    test.each(["docs/runbooks.md", "docs/monitoring.md"])("%s asks blackbox_exporter for the probe the pod's Caddy asks for", (page) => {
        const text = readFileSync(path.resolve(__dirname, "../..", page), "utf8");
        const asked = [...text.matchAll(/wget -qO- 'http:\/\/([\d.:]+)(\/probe\?[^']*)'/g)].map((m) => `${m[1]} ${m[2]}`);
        const caddyfile = probeFiles(withProbe())[CERTIFICATE_PROBE.caddyfileKey] as string;
        const rewrite = /rewrite \* (\S+)\n\t\treverse_proxy (\S+)/.exec(caddyfile)!;
        expect(asked).toEqual([`${rewrite[2]} ${rewrite[1]}`]);
    });

    test("a new host name or namespace rolls the probe's pod (its containers read their files at start)", () => {
        const checksum = (objects: K8sObject[]) => probePod(objects).metadata.annotations["dso-registry/config-checksum"];
        const before = checksum(withProbe());
        expect(checksum(withProbe())).toBe(before);
        expect(checksum(withProbe({ host: "registry.example.test" }))).not.toBe(before);
        expect(checksum(withProbe({ namespace: "registry" }))).not.toBe(before);
    });
});

describe("inCluster.pod: where and how the placement's pods run", () => {
    const pod: NonNullable<InClusterSpec["pod"]> = {
        resources: { registry: { requests: { cpu: "500m" }, limits: { cpu: 4, memory: "4Gi" } }, maven: { limits: { memory: "256Mi" } } },
        nodeSelector: { "node-role.kubernetes.io/infra": "true" },
        tolerations: [{ key: "dedicated", operator: "Equal", value: "infra", effect: "NoSchedule" }],
        affinity: {
            nodeAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: {
                    nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/arch", operator: "In", values: ["amd64"] }] }],
                },
            },
        },
        priorityClassName: "registry-critical",
        annotations: { "example.com/team": "platform" },
    };
    const deploymentOf = (spec: InClusterSpec) => renderInClusterObjects(spec).find((o) => o.kind === "Deployment")!;
    const podSpec = (d: K8sObject) => (d.spec as { template: { spec: Record<string, any>; metadata: Record<string, any> } }).template;
    const container = (d: K8sObject, name: string) => podSpec(d).spec.containers.find((c: { name: string }) => c.name === name);

    test("each knob lands on the Deployment's pod template, valid against the API's schema and Pod Security's restricted level", async () => {
        const d = deploymentOf(baseSpec({ pod, maven }));
        const template = podSpec(d);
        expect(template.spec).toMatchObject({
            nodeSelector: pod.nodeSelector,
            tolerations: pod.tolerations,
            affinity: pod.affinity,
            priorityClassName: "registry-critical",
        });
        // Quantities as the API returns them; a container left out keeps the program's defaults.
        expect(container(d, "registry").resources).toEqual({ requests: { cpu: "500m" }, limits: { cpu: "4", memory: "4Gi" } });
        expect(container(d, "maven").resources).toEqual({ limits: { memory: "256Mi" } });
        expect(container(d, "caddy").resources).toEqual({
            requests: { cpu: "50m", memory: "64Mi" },
            limits: { cpu: "2", memory: "512Mi" },
        });
        expect(template.metadata.annotations).toMatchObject({ "example.com/team": "platform", "dso-registry/config-checksum": "abc123" });
        expect(await schemaProblems(d)).toEqual([]);
        expect(restrictedPodProblems(template.spec)).toEqual([]);
    });

    test("nodeSelector, tolerations and priorityClassName reach every pod of the placement (UI, GC, backup, restore, caches); affinity and annotations only the registry's", async () => {
        const jobs = { requests: { cpu: "50m" }, limits: { memory: "512Mi" } };
        const spec = baseSpec({
            pod: { ...pod, resources: { ...pod.resources, ui: { limits: { memory: "256Mi" } }, jobs } },
            backup,
            ui: { enabled: true, deleteEnabled: false },
            garbageCollection: { enabled: true, schedule: "0 4 * * 6", deleteUntagged: false },
        });
        const objects = renderInClusterObjects(spec);
        const podOf = (o: K8sObject): Record<string, any> =>
            o.kind === "CronJob" ? (o.spec as any).jobTemplate.spec.template.spec : (o.spec as any).template.spec;
        const others = objects.filter((o) => (o.kind === "CronJob" || o.kind === "Deployment") && o.metadata.name !== "registry");
        expect(others.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
            "CronJob/registry-backup",
            "CronJob/registry-gc",
            "CronJob/registry-restore",
            "Deployment/registry-ui",
        ]);
        for (const o of others) {
            expect(podOf(o), o.metadata.name).toMatchObject({
                nodeSelector: pod.nodeSelector,
                tolerations: pod.tolerations,
                priorityClassName: "registry-critical",
            });
            expect(podOf(o), o.metadata.name).not.toHaveProperty("affinity");
            expect(await schemaProblems(o), o.metadata.name).toEqual([]);
        }
        const containerOf = (name: string) => podOf(others.find((o) => o.metadata.name === name)!).containers[0];
        expect(containerOf("registry-ui").resources).toEqual({ limits: { memory: "256Mi" } });
        for (const job of ["registry-gc", "registry-backup", "registry-restore"]) expect(containerOf(job).resources, job).toEqual(jobs);
        const caches = renderClusterMirrors({
            namespace: "dso",
            image: "registry:3.1.2",
            mirrors: [
                {
                    spec: {
                        upstream: "docker.io",
                        pathName: mirrorPathName("docker.io"),
                        remoteUrl: defaultRemoteUrl("docker.io"),
                        ttl: "168h",
                        proxyTtl: true,
                        maxSize: "20Gi",
                        hasCredentials: false,
                    },
                },
            ],
            scheduling: pod,
            resources: { limits: { memory: "1Gi" } },
        });
        const cache = caches.find((o) => o.kind === "Deployment")!;
        expect(podOf(cache)).toMatchObject({
            nodeSelector: pod.nodeSelector,
            tolerations: pod.tolerations,
            priorityClassName: "registry-critical",
        });
        expect(podOf(cache).containers[0].resources).toEqual({ limits: { memory: "1Gi" } });
    });

    test("without it, the pod template is what it was: no placement keys, the program's resources", () => {
        const template = podSpec(deploymentOf(baseSpec()));
        for (const key of ["nodeSelector", "tolerations", "affinity", "priorityClassName"]) expect(template.spec).not.toHaveProperty(key);
        expect(container(deploymentOf(baseSpec()), "registry").resources).toEqual({
            requests: { cpu: "100m", memory: "128Mi" },
            limits: { cpu: "2", memory: "1Gi" },
        });
    });

    test.each([
        [
            "inCluster.pod.resources.registry",
            { resources: { registry: { limits: { cpu: "two" } } } },
            /not a valid ResourceRequirements: limits\/cpu/,
        ],
        [
            "inCluster.pod.tolerations[0]",
            { tolerations: [{ key: "a", effect: "Sometimes" }] },
            /not a valid Toleration: effect must be equal to one of the allowed values/,
        ],
        ["inCluster.pod.annotations.prometheus.io/port", { annotations: { "prometheus.io/port": "1" } }, /set by the program/],
        ["inCluster.pod.nodeSelector.bad key!", { nodeSelector: { "bad key!": "x" } }, /is not a Kubernetes key/],
    ])("refuses %s before anything runs", (key, change, says) => {
        const problems = configProblems({
            containerRegistry: { host: "registry.example.test", pathPrefix: "team" },
            registry: { mode: "in-cluster" },
            inCluster: { pod: change },
        });
        expect(
            problems.find((p) => p.startsWith(`dso-registry:${key}`)),
            problems.join("\n"),
        ).toMatch(says);
    });
});

describe("the token endpoint's login limit at the ingress", () => {
    const loginLimit = { tokenRequestsPerMinute: 30, ignoreNetworks: ["10.1.0.0/16"] };

    test("ingress-nginx: the token's own Ingress carries the limit annotations, and no Middleware is written", () => {
        const objects = renderInClusterObjects(baseSpec({ ingressController: "nginx", loginLimit }));
        const login = get(objects, "Ingress", IN_CLUSTER.loginIngress);
        expect(login.metadata.annotations["nginx.ingress.kubernetes.io/limit-rpm"]).toBe("30");
        expect(login.metadata.annotations["nginx.ingress.kubernetes.io/limit-whitelist"]).toBe("10.1.0.0/16");
        expect(find(objects, "Middleware", IN_CLUSTER.loginLimitMiddleware)).toBeUndefined();
    });

    test("with an issuer of yours, only the main Ingress asks cert-manager for the certificate: the token's Ingress has none of its annotations", () => {
        const tls = { kind: "cert-manager" as const, issuerKind: "ClusterIssuer" as const, issuerName: "lab-ca" };
        const objects = renderInClusterObjects(baseSpec({ ingressController: "nginx", loginLimit, tls }));
        expect(get(objects, "Ingress", "registry").metadata.annotations["cert-manager.io/cluster-issuer"]).toBe("lab-ca");
        const login = get(objects, "Ingress", IN_CLUSTER.loginIngress);
        expect(Object.keys(login.metadata.annotations).filter((k) => k.startsWith("cert-manager.io/"))).toEqual([]);
    });

    test("Traefik: a rateLimit Middleware, named on the token's Exact-path Ingress after the allowlist's", () => {
        const objects = renderInClusterObjects(
            baseSpec({ ingressClass: "traefik", ingressController: "traefik", allowedNetworks: ["10.0.0.0/8"], loginLimit }),
        );
        expect(get(objects, "Middleware", IN_CLUSTER.loginLimitMiddleware).spec).toEqual({
            rateLimit: { average: 30, period: "1m", burst: 30 },
        });
        const login = get(objects, "Ingress", IN_CLUSTER.loginIngress);
        expect(login.metadata.annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(
            `dso-${IN_CLUSTER.allowlistMiddleware}@kubernetescrd,dso-${IN_CLUSTER.loginLimitMiddleware}@kubernetescrd`,
        );
        expect(Object.keys(login.metadata.annotations).filter((k) => k.startsWith("nginx."))).toEqual([]);
        expect(login.spec.rules[0].http.paths.map((p: { path: string; pathType: string }) => [p.path, p.pathType])).toEqual([
            ["/v2/token", "Exact"],
        ]);
        // The registry's own Ingress does not go through the limit.
        expect(get(objects, "Ingress", "registry").metadata.annotations["traefik.ingress.kubernetes.io/router.middlewares"]).toBe(
            `dso-${IN_CLUSTER.allowlistMiddleware}@kubernetescrd`,
        );
        const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`);
        expect(kinds.indexOf(`Middleware/${IN_CLUSTER.loginLimitMiddleware}`)).toBeLessThan(
            kinds.indexOf(`Ingress/${IN_CLUSTER.loginIngress}`),
        );
    });

    test("Traefik without an allowlist: the token's Ingress names the rate limit alone", () => {
        const objects = renderInClusterObjects(baseSpec({ ingressClass: "traefik", ingressController: "traefik", loginLimit }));
        expect(
            get(objects, "Ingress", IN_CLUSTER.loginIngress).metadata.annotations["traefik.ingress.kubernetes.io/router.middlewares"],
        ).toBe(`dso-${IN_CLUSTER.loginLimitMiddleware}@kubernetescrd`);
    });

    test("an unknown controller gets neither the Ingress nor the Middleware", () => {
        const objects = renderInClusterObjects(baseSpec({ ingressClass: "haproxy", ingressController: undefined, loginLimit }));
        expect(find(objects, "Ingress", IN_CLUSTER.loginIngress)).toBeUndefined();
        expect(find(objects, "Middleware", IN_CLUSTER.loginLimitMiddleware)).toBeUndefined();
    });
});

describe("exposed through a Gateway instead of Ingresses", () => {
    const gateway = { name: "registry", className: "traefik", port: 443, proxyNetworks: ["10.42.0.0/16"] };

    test("an HTTPRoute (and the Gateway the stack creates) after the Services; no Ingress and no allowlist Middleware", () => {
        const objects = renderInClusterObjects(
            baseSpec({
                gateway,
                ingressController: "traefik",
                allowedNetworks: ["192.0.2.0/24"],
                ui: { enabled: true, deleteEnabled: false },
            }),
        );
        expect(objects.filter((o) => o.kind === "Ingress")).toEqual([]);
        expect(find(objects, "Middleware", IN_CLUSTER.allowlistMiddleware)).toBeUndefined();
        const order = objects.map((o) => `${o.kind}/${o.metadata.name}`);
        expect(order.indexOf("HTTPRoute/registry")).toBeGreaterThan(order.indexOf("Service/registry"));
        expect(order.indexOf("Gateway/registry")).toBeGreaterThan(order.indexOf("Service/registry"));
        expect(order.indexOf("Gateway/registry")).toBeLessThan(order.indexOf("HTTPRoute/registry"));
        // The UI's workload and Service stay; the front serves its path (the route sends every path to the front).
        expect(find(objects, "Deployment", UI_WORKLOAD.name)).toBeDefined();
        expect(find(objects, "Service", UI_WORKLOAD.name)).toBeDefined();
        expect(find(objects, "Middleware", UI_WORKLOAD.stripPrefixMiddleware)).toBeUndefined();
    });

    test("with Traefik and a login limit, its Middleware is written for the route's filter", () => {
        const objects = renderInClusterObjects(
            baseSpec({ gateway, ingressController: "traefik", loginLimit: { tokenRequestsPerMinute: 20, ignoreNetworks: [] } }),
        );
        expect(get(objects, "Middleware", IN_CLUSTER.loginLimitMiddleware).spec.rateLimit.average).toBe(20);
        expect(JSON.stringify(get(objects, "HTTPRoute", "registry").spec)).toContain(IN_CLUSTER.loginLimitMiddleware);
    });

    test("with the operator's issuer, the Certificate comes before the workloads that mount its Secret", () => {
        const objects = renderInClusterObjects(baseSpec({ gateway, tls: certManager }));
        const order = objects.map((o) => `${o.kind}/${o.metadata.name}`);
        expect(order.indexOf("Certificate/registry-tls")).toBeGreaterThanOrEqual(0);
        expect(order.indexOf("Certificate/registry-tls")).toBeLessThan(order.indexOf("Deployment/registry"));
    });
});
