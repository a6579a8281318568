/**
 * The in-cluster registry's Deployment and what it reads (components/inCluster/deployment.ts): its ports,
 * containers, mounts, probes and security settings, and for each storage its volume, strategy and
 * disruption budget. Rendered without Pulumi.
 * Covers: components/inCluster/workload.ts (the Secrets and the data claim), components/shared/persistentClaim.ts.
 */
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { baseSpec, container, find, get, maven, s3, variants } from "../support/inClusterSpec";

describe("objects", () => {
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

    // nginx listens on 127.0.0.1 (components/inCluster/podFiles.ts); the real kubelet restarted it for
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

    test.each(["filesystem", "s3"] as const)(
        "%s: the pod's group owns the TLS Secret's files (0400, the kubelet's root's without it), so the front reads its key",
        (kind) => {
            const pod = get(renderInClusterObjects(baseSpec(kind === "s3" ? { storage: s3 } : {})), "Deployment", "registry").spec.template
                .spec;
            expect(pod.volumes.find((v: any) => v.name === "tls").secret.defaultMode).toBe(0o400);
            expect(pod.securityContext.fsGroup).toBe(IN_CLUSTER.uid);
        },
    );

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
