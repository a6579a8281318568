/**
 * The disk guard (`registry.diskGuard`, docs/runbooks.md "Disk full"), rendered: its settings, the
 * front's 507 to new uploads while the marker exists (on the window's path, deletes and pulls spared),
 * the alert rules it changes, the host's script and status, the registry pod's disk-guard container and
 * kind's upkeep crontab. The guard against real Distribution, Caddy and a small file system filled by
 * pushes: test/integration/diskGuard.test.ts (host), inClusterDiskGuard.test.ts, kindDiskGuard.test.ts.
 */
import { describe, expect, it } from "vitest";
import { DISK_FULL_MESSAGE, renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { accessPolicyProblem } from "../../components/accessPolicy/policy";
import { parseConfig } from "../../components/config";
import { defaultHostLayout, diskGuardCronFile, diskGuardScript, hostPaths } from "../../components/externalHost/scripts";
import { IN_CLUSTER_DISK_GUARD, inClusterDiskGuard } from "../../components/inCluster/diskGuard";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { READ_ONLY_SIGNAL } from "../../components/inCluster/readOnlySignal";
import { sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { IN_CLUSTER } from "../../components/inCluster/spec";
import { KIND_DISK_FULL_MARKER } from "../../components/kind/diskGuard";
import { kindFrontPolicy } from "../../components/kind/front";
import { kindUpkeep } from "../../components/kind/upkeep";
import { alertRules } from "../../components/monitoring/alertRules";
import { BASE_POLICY as base } from "../support/accessPolicy";
import { configProblems } from "../support/configProblems";
import { baseSpec, container, get, s3 } from "../support/inClusterSpec";
import { HOST_PLACEMENT } from "../support/rulesPlacements";

const MARKER = "/etc/caddy/dso-registry/disk-full";

/** A valid external-host configuration with `diskGuard` set. */
function external(diskGuard?: Record<string, unknown>) {
    return {
        containerRegistry: { host: "registry.example.com", pathPrefix: "team/app", pushCredentials: "operator" },
        registry: { mode: "external-host", tls: { mode: "acme", acmeEmail: "ops@example.com" }, ...(diskGuard ? { diskGuard } : {}) },
        externalHost: { ssh: { host: "10.0.0.5", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample" } },
    };
}

describe("registry.diskGuard", () => {
    it("is on by default: the alert past 80% used, uploads refused past 90%", () => {
        const { config } = parseConfig(external(), { containerRegistryPassword: "secret", sshPrivateKey: "secret" });
        if (config.registry.mode !== "external-host") throw new Error("not an external host");
        expect(config.registry.diskGuard).toEqual({ enabled: true, warnPercent: 80, refusePercent: 90 });
    });

    it("refuses a warning threshold at or past the refusal's", () => {
        expect(configProblems(external({ warnPercent: 90, refusePercent: 90 })).join("\n")).toMatch(
            /registry\.diskGuard\.warnPercent.*must be below refusePercent/,
        );
    });
});

describe("the front with the disk guard's marker", () => {
    const text = renderCaddyfile({ ...base, diskFullSignal: MARKER });

    it("matches the start of a blob upload only while the marker exists: open uploads, manifests, pulls and deletes go on", () => {
        expect(text).toContain(
            `\t@diskFull {\n\t\tmethod POST\n\t\tpath_regexp ^/v2/.+/blobs/uploads/?$\n\t\tfile {\n\t\t\troot /\n\t\t\ttry_files ${MARKER}\n\t\t}\n\t}`,
        );
    });

    it("answers them 507 with a registry error saying the disk is full, after the push accounts' check, the body read first", () => {
        const route = text.slice(text.indexOf("\t\troute @diskFull {"));
        expect(route.slice(0, route.indexOf("\n\t\t}\n"))).toMatch(
            /request_body \{[\s\S]*vars refused_body[\s\S]*respond `.*DENIED.*` 507$/,
        );
        expect(text.indexOf("route @diskFull")).toBeGreaterThan(text.indexOf(base.pushUsersFile));
        expect(DISK_FULL_MESSAGE).toMatch(/disk is almost full.*pulls work, pushes do not.*Disk full/);
    });

    it("is not there without the marker", () => {
        expect(renderCaddyfile(base)).not.toContain("@diskFull");
    });

    it("must be a marker of its own, at an absolute path", () => {
        expect(accessPolicyProblem({ ...base, diskFullSignal: "disk-full" })).toMatch(
            /diskFullSignal "disk-full" must be an absolute path/,
        );
        expect(accessPolicyProblem({ ...base, readOnlySignals: [{ kind: "file", path: MARKER }], diskFullSignal: MARKER })).toMatch(
            /also a readOnlySignal/,
        );
    });
});

describe("the alert rules with the disk guard", () => {
    const rules = (diskGuard?: { warnPercent: number; refusing: boolean }) =>
        alertRules({ placement: HOST_PLACEMENT, runbookBaseUrl: "docs/runbooks.md", ...(diskGuard ? { diskGuard } : {}) });

    it("warn past warnPercent used, and page while uploads are refused", () => {
        const guarded = rules({ warnPercent: 80, refusing: true });
        expect(guarded.find((r) => r.alert === "DsoRegistryDiskAlmostFull")).toMatchObject({
            expr: "1 - dso_registry_data_free_bytes / dso_registry_data_size_bytes > 0.8",
            labels: { severity: "warning" },
        });
        expect(guarded.find((r) => r.alert === "DsoRegistryUploadsRefusedDiskFull")).toMatchObject({
            expr: "dso_registry_disk_guard_refusing == 1",
            labels: { severity: "critical" },
        });
    });

    it("without the guard: the alert at 10% free, none for refusals", () => {
        const plain = rules();
        expect(plain.find((r) => r.alert === "DsoRegistryDiskAlmostFull")?.expr).toContain("< 0.1");
        expect(plain.map((r) => r.alert)).not.toContain("DsoRegistryUploadsRefusedDiskFull");
    });
});

describe("the host's disk guard script", () => {
    const layout = defaultHostLayout("/srv/data/registry");

    it("watches the data directory and creates the front's marker past refusePercent", () => {
        const script = diskGuardScript(layout, { refusePercent: 85 }, "/var/lib/prometheus/node-exporter");
        expect(script).toContain("DATA_DIR='/srv/data/registry'");
        expect(script).toContain(`MARKER='${hostPaths(layout).diskFullMarker}'`);
        expect(script).toContain("REFUSE_PERCENT='85'");
    });

    it("runs from cron every five minutes", () => {
        expect(diskGuardCronFile(layout)).toContain(
            `*/5 * * * * root ${hostPaths(layout).diskGuardScript} 2>&1 | logger -t dso-registry-disk-guard`,
        );
    });
});

describe("the registry pod's disk guard", () => {
    const guarded = baseSpec({ diskGuard: { refusePercent: 85, checkSeconds: 300 } });

    it("is a container of the registry's image with the data volume read-only and the markers' emptyDir writable", () => {
        const guard = container(renderInClusterObjects(guarded), IN_CLUSTER_DISK_GUARD.container);
        expect(guard.image).toBe(guarded.images.registry);
        expect(guard.volumeMounts).toEqual([
            { name: "data", mountPath: IN_CLUSTER.dataDir, readOnly: true },
            { name: READ_ONLY_SIGNAL.volume, mountPath: READ_ONLY_SIGNAL.dir },
        ]);
        expect(guard.command.slice(0, 2)).toEqual(["/bin/sh", "-c"]);
        expect(guard.command[2]).toContain("REFUSE_PERCENT='85'");
        expect(guard.command[2]).toContain(`MARKER='${IN_CLUSTER_DISK_GUARD.marker}'`);
    });

    it("makes the Caddy sidecar mount the markers read-only", () => {
        const caddy = container(renderInClusterObjects(guarded), "caddy");
        expect(caddy.volumeMounts).toContainEqual({ name: READ_ONLY_SIGNAL.volume, mountPath: READ_ONLY_SIGNAL.dir, readOnly: true });
    });

    it("is not there with s3 storage, nor when off", () => {
        for (const spec of [baseSpec({ storage: s3, diskGuard: { refusePercent: 90, checkSeconds: 300 } }), baseSpec()]) {
            const deployment = get(renderInClusterObjects(spec), "Deployment", IN_CLUSTER.name);
            expect(deployment.spec.template.spec.containers.map((c: { name: string }) => c.name)).not.toContain(
                IN_CLUSTER_DISK_GUARD.container,
            );
        }
        expect(inClusterDiskGuard({ storage: { kind: "s3" }, diskGuard: { refusePercent: 90 } })).toBeUndefined();
    });

    it("gives the sidecar's policy the marker", () => {
        const policy = sidecarPolicy({
            host: "r.test",
            requiresAuthForPull: false,
            deletesEnabled: true,
            storage: "filesystem",
            diskGuard: true,
        });
        expect(policy.diskFullSignal).toBe(IN_CLUSTER_DISK_GUARD.marker);
    });
});

describe("kind's disk guard", () => {
    const layout = { cluster: "kind", network: "kind", registryName: "kind-registry", port: 5001, dataDir: "/srv/kind" };

    it("runs in the upkeep container every five minutes, also without garbage collection", () => {
        const upkeep = kindUpkeep(layout, undefined, { refusePercent: 90 });
        expect(upkeep?.files.map((f) => f.id)).toEqual(["crontab", "disk-guard-script"]);
        expect(upkeep?.files[0]?.content).toBe("*/5 * * * * /bin/sh /dso/disk-guard.sh >/proc/1/fd/1 2>&1\n");
        expect(upkeep?.files[1]?.content).toContain(`MARKER='${KIND_DISK_FULL_MARKER}'`);
        expect(kindUpkeep(layout, undefined, undefined)).toBeUndefined();
    });

    it("gives the front's policy the marker", () => {
        const policy = kindFrontPolicy({
            registryName: "kind-registry",
            port: 5001,
            distributionName: "kind-registry-distribution",
            requiresAuthForPull: false,
            deletesEnabled: false,
            diskFullMarker: KIND_DISK_FULL_MARKER,
        });
        expect(policy.diskFullSignal).toBe(KIND_DISK_FULL_MARKER);
    });
});

describe("registry.diskGuard with kind", () => {
    const kindStack = (diskGuard: Record<string, unknown>) => ({
        containerRegistry: { host: "localhost", port: 5002, pathPrefix: "dev" },
        registry: { mode: "kind", diskGuard },
    });

    it("takes refusePercent, and tells that warnPercent has no effect (no alert rules)", () => {
        expect(parseConfig(kindStack({ refusePercent: 95 })).warnings).toEqual([]);
        expect(parseConfig(kindStack({ warnPercent: 70 })).warnings.map((w) => `${w.key} ${w.message}`)).toEqual([
            expect.stringMatching(
                /^dso-registry:registry\.diskGuard\.warnPercent has no effect with registry\.mode "kind" \(no alert rules\)/,
            ),
        ]);
    });
});
