/**
 * Every Kubernetes object of the in-cluster registry, rendered without Pulumi (components/inCluster/manifests.ts):
 * each option alone and all together against the API schema and Pod Security, the checks themselves shown
 * to fail, the Maven repository in the registry's pod, and the order of the objects behind a Gateway.
 * The objects of each renderer: the file named after its module (deployment.test.ts, network.test.ts,
 * workload.test.ts, upkeep.inCluster.test.ts, backup.inCluster.test.ts, …), the fixtures in
 * test/support/inClusterSpec.ts.
 * Covers: components/inCluster/workload.ts, components/inCluster/k8sHelpers.ts, components/shared/persistentClaim.ts.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { READ_ONLY_SIGNAL } from "../../components/inCluster/readOnlySignal";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { gcScript, mavenGcScript } from "../../components/inCluster/upkeep";
import { UI_WORKLOAD } from "../../components/registryUi/kubernetes";
import type { K8sObject } from "../../components/shared/k8sObject";
import { baseSpec, certManager, container, find, get, maven, s3, variants } from "../support/inClusterSpec";
import { podTemplates, restrictedPodProblems, schemaProblems } from "../support/k8sValidate";

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

    test("every long-running container has a liveness probe, and every one that serves a port a readiness probe", () => {
        // A container that serves nothing (the disk guard) has no readiness probe: unready, it would take the
        // whole pod, pulls included, out of its Services.
        const containers = get(objects, "Deployment", "registry").spec.template.spec.containers as any[];
        expect(containers.filter((c) => !c.livenessProbe).map((c) => c.name)).toEqual([]);
        expect(containers.filter((c) => c.ports?.length && !c.readinessProbe).map((c) => c.name)).toEqual([]);
    });

    test("every container with a readiness probe has a startup probe of its check every second, for as long as its liveness probe allows", () => {
        // Without it a new pod is counted ready, and `up` returns, up to the readiness probe's period after it answers.
        const handler = (p: any) => JSON.stringify({ exec: p.exec, tcpSocket: p.tcpSocket, httpGet: p.httpGet });
        const problems = podTemplates(objects).flatMap((t) =>
            (t.spec.containers as any[])
                .filter((c) => c.readinessProbe)
                .flatMap((c) => {
                    const s = c.startupProbe;
                    const l = c.livenessProbe;
                    const budget = (l?.initialDelaySeconds ?? 0) + (l?.periodSeconds ?? 10) * (l?.failureThreshold ?? 3);
                    if (!s) return [`${t.owner}/${c.name}: no startup probe`];
                    return [
                        ...(handler(s) === handler(c.readinessProbe) ? [] : [`${t.owner}/${c.name}: checks ${handler(s)}`]),
                        ...(s.periodSeconds === 1 ? [] : [`${t.owner}/${c.name}: every ${s.periodSeconds} s`]),
                        ...(s.periodSeconds * s.failureThreshold >= budget
                            ? []
                            : [`${t.owner}/${c.name}: gives up before the liveness probe`]),
                    ];
                }),
        );
        expect(problems).toEqual([]);
    });

    test("`up` waits for no Service of a selector, and each selects the pods of a Deployment whose own wait holds `up`", () => {
        // pulumi-kubernetes holds a Service with a selector 10 s after its endpoints last change; the Deployment's
        // wait already holds `up` until its pods are ready.
        const deployments = objects.filter((o) => o.kind === "Deployment") as any[];
        const problems = (objects.filter((o) => o.kind === "Service" && (o as any).spec.selector) as any[]).flatMap((svc) => {
            const name = `${svc.metadata.namespace}/${svc.metadata.name}`;
            const selected = deployments.filter(
                (d) =>
                    d.metadata.namespace === svc.metadata.namespace &&
                    d.metadata.annotations?.["pulumi.com/skipAwait"] !== "true" &&
                    Object.entries(svc.spec.selector).every(([k, v]) => d.spec.template.metadata.labels?.[k] === v),
            );
            return [
                ...(svc.metadata.annotations?.["pulumi.com/skipAwait"] === "true" ? [] : [`${name}: awaited`]),
                ...(selected.length > 0 ? [] : [`${name}: selects no awaited Deployment's pods`]),
            ];
        });
        expect(problems).toEqual([]);
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

describe("the Maven repository in the registry pod", () => {
    test("keeps its files on a PVC of its own, mounted into the nginx sidecar", () => {
        const objects = renderInClusterObjects(baseSpec({ maven }));
        expect(get(objects, "PersistentVolumeClaim", "maven-data").spec.resources.requests.storage).toBe("10Gi");
        expect(container(objects, "maven").volumeMounts).toContainEqual({ name: "maven-data", mountPath: "/var/lib/maven" });
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
        // Run under sh with the Maven cleanup: upkeep.inCluster.test.ts, "garbage collection scripts under sh".
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
            baseSpec({
                gateway,
                ingressController: "traefik",
                loginLimit: { tokenRequestsPerMinute: 20, credentialRequestsPerMinute: 40, ignoreNetworks: [] },
            }),
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
