/**
 * The in-cluster garbage-collection job (components/inCluster/upkeep.ts): its CronJob, account and
 * role, the scripts the ConfigMap carries, and the scripts run by a real shell against stand-ins. How
 * the window follows from the storage: gcWindow.test.ts.
 * Covers: components/inCluster/readOnlySignal.ts (the marker window).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { READ_ONLY_SIGNAL } from "../../components/inCluster/readOnlySignal";
import { IN_CLUSTER, REGISTRY_METRICS_ADDR } from "../../components/inCluster/spec";
import { gcScript, inClusterGcStepScript } from "../../components/inCluster/upkeep";
import { FRONT_DRAIN_SECONDS, FRONT_SETTLE_SECONDS } from "../../components/upkeep/frontWindow";
import { baseSpec, get, s3 } from "../support/inClusterSpec";

describe("garbage collection", () => {
    const gcOn = (deleteUntagged = false) =>
        renderInClusterObjects(baseSpec({ garbageCollection: { enabled: true, schedule: "15 2 * * 1", deleteUntagged } }));

    test("off by default: no CronJob, no account, no role", () => {
        const objects = renderInClusterObjects(baseSpec());
        expect(objects.filter((o) => o.metadata.name === "registry-gc")).toEqual([]);
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
        // Distribution's metrics, as its debug listener serves them: UPLOADS upload requests in flight.
        writeFileSync(
            path.join(stepDir, "wget"),
            recorder(
                "wget",
                `printf 'registry_http_in_flight_requests{handler="blob"} 3\\nregistry_http_in_flight_requests{handler="blob_upload_chunk"} %s\\n' "\${UPLOADS:-0}"`,
            ),
        );
        for (const stub of ["registry", "sleep", "wget"]) chmodSync(path.join(stepDir, stub), 0o755);
        const repositories = `${root}${IN_CLUSTER.dataDir}/docker/registry/v2/repositories`;
        const collect = (failGc: number, pushedTo = true, script = inClusterGcStepScript(false, "filesystem"), uploads = 0) => {
            rmSync(seen, { force: true });
            if (pushedTo) mkdirSync(repositories, { recursive: true });
            else rmSync(repositories, { recursive: true, force: true });
            const result = spawnSync("/bin/sh", ["-c", script], {
                env: { PATH: `${stepDir}:/usr/bin:/bin`, FAIL_GC: String(failGc), DSO_ROOT: root, UPLOADS: String(uploads) },
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

        /** The window's read of Distribution's metrics on the pod's loopback (s3 storage). */
        const metricsRead = `marker wget -q -O - http://${REGISTRY_METRICS_ADDR}/metrics`;

        test("with s3 storage the collector always runs (the bucket has no folder to look for), once Distribution serves no upload", () => {
            expect(collect(0, false, inClusterGcStepScript(false, "s3"))).toMatchObject({
                status: 0,
                seen: `${settled}\n${metricsRead}\nmarker registry garbage-collect ${root}/etc/dso-registry/config.yml`,
                markerLeft: false,
            });
        });

        test("with s3 storage, an upload Distribution still serves after the drain makes the window give up: no collection, no marker, a failure", () => {
            const result = collect(0, false, inClusterGcStepScript(false, "s3"), 1);
            const rounds = FRONT_DRAIN_SECONDS / FRONT_SETTLE_SECONDS;
            expect(result).toMatchObject({
                status: 1,
                seen: Array.from({ length: rounds }, () => `${settled}\n${metricsRead}`).join("\n"),
                markerLeft: false,
            });
            expect(result.stdout).toContain("waiting for 1 upload requests in flight");
        });
    });
});
