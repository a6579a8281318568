/**
 * The disk guard on the Maven repository's disk (`registry.diskGuard`, docs/runbooks.md "Disk full"), rendered:
 * the front's 507 to a Maven deploy (PUT) while the repository's own marker exists, downloads spared; the
 * registry pod's disk-guard container with the Maven volume read-only (also with s3 storage, the Maven volume
 * alone) and the sidecar's policy; the external host's script, site and upkeep; the setting's warnings.
 * The guard against real Caddy, nginx and Distribution in the registry pod with its Maven volume a small file
 * system filled by deploys: test/integration/mavenDiskGuard.test.ts.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { MAVEN_DISK_FULL_MESSAGE, renderCaddyfile } from "../../components/accessPolicy/caddyfile";
import { accessPolicyProblem, type MavenRoute } from "../../components/accessPolicy/policy";
import { parseConfig } from "../../components/config";
import { caddySitePolicy } from "../../components/externalHost/caddySite";
import {
    type ExternalRegistryHostArgs,
    planExternalRegistryHost,
    resolveExternalRegistryHost,
} from "../../components/externalHost/externalRegistryHost";
import { defaultHostLayout, diskGuardScript, hostPaths } from "../../components/externalHost/scripts";
import { planHostUpkeep } from "../../components/externalHost/upkeep";
import { IN_CLUSTER_DISK_GUARD, inClusterDiskGuard } from "../../components/inCluster/diskGuard";
import { renderInClusterObjects } from "../../components/inCluster/manifests";
import { RULES_FILE_KEY, renderMonitoringObjects } from "../../components/inCluster/monitoring";
import { READ_ONLY_SIGNAL } from "../../components/inCluster/readOnlySignal";
import { sidecarPolicy } from "../../components/inCluster/sidecarFront";
import { IN_CLUSTER, type InClusterSpec } from "../../components/inCluster/spec";
import { MAVEN_BACKEND } from "../../components/maven/nginxConfig";
import { type AlertRule, alertRules } from "../../components/monitoring/alertRules";
import { BASE_POLICY as base } from "../support/accessPolicy";
import { baseSpec, container, maven, s3 } from "../support/inClusterSpec";
import { MAVEN_REPOSITORY } from "../support/placementFixtures";
import { EXTERNAL_HOST_MINIMAL, S3_HOST_STORAGE } from "../support/planArgs";
import { CLUSTER_PLACEMENT, HOST_PLACEMENT } from "../support/rulesPlacements";

const MARKER = "/run/dso/maven-disk-full";
const route: MavenRoute = {
    pathPrefix: "maven-releases",
    upstream: "127.0.0.1:5002",
    deployUsersFile: "/etc/m/deploy",
    requiresAuthForPull: false,
};

/** The Maven route's block in a rendered Caddyfile, from its opening to the proxy. */
function mavenRouteBlock(text: string): string {
    return text.slice(text.indexOf("route @maven {"), text.indexOf(`reverse_proxy ${route.upstream}`));
}

/** A named matcher's block in a rendered Caddyfile. */
function matcherBlock(text: string, name: string): string {
    const start = text.indexOf(`\t${name} {\n`);
    return start < 0 ? "" : text.slice(start, text.indexOf("\n\t}\n", start) + 3).trimEnd();
}

describe("the front's Maven route with the disk guard's marker", () => {
    const text = renderCaddyfile({ ...base, maven: { ...route, diskFullSignal: MARKER } });

    it("refuses a deploy (PUT) only while the marker exists: downloads (GET, HEAD) never match", () => {
        expect(matcherBlock(text, "@mavenDiskFull")).toBe(
            `\t@mavenDiskFull {\n\t\tmethod PUT\n\t\tfile {\n\t\t\troot /\n\t\t\ttry_files ${MARKER}\n\t\t}\n\t}`,
        );
    });

    it("answers it 507 with the message, after the deploy account's check, the body read first, before the backend", () => {
        const block = mavenRouteBlock(text);
        const refusal = block.slice(block.indexOf("route @mavenDiskFull {"));
        const answer = refusal.slice(0, refusal.indexOf("\n\t\t\t}\n"));
        expect(answer).toMatch(/request_body \{[\s\S]*vars refused_body[\s\S]*respond "[^"]*" 507$/);
        expect(answer.endsWith(`respond "${MAVEN_DISK_FULL_MESSAGE}" 507`)).toBe(true);
        expect(block.indexOf("route @mavenDiskFull")).toBeGreaterThan(block.indexOf("import /etc/m/deploy"));
        expect(MAVEN_DISK_FULL_MESSAGE).toMatch(/Maven repository's disk is almost full.*downloads work, deploys do not.*Disk full/);
    });

    it("is not there without the marker, nor does the registry's own marker refuse deploys", () => {
        for (const policy of [
            { ...base, maven: route },
            { ...base, maven: route, diskFullSignal: "/run/dso/disk-full" },
        ]) {
            const plain = renderCaddyfile(policy);
            expect(plain).not.toContain("@mavenDiskFull");
            expect(mavenRouteBlock(plain)).not.toContain(" 507");
        }
    });

    it("must be a marker of its own, at an absolute path", () => {
        expect(accessPolicyProblem({ ...base, maven: { ...route, diskFullSignal: "maven-disk-full" } })).toMatch(
            /maven\.diskFullSignal "maven-disk-full" must be an absolute path/,
        );
        expect(accessPolicyProblem({ ...base, diskFullSignal: MARKER, maven: { ...route, diskFullSignal: MARKER } })).toMatch(
            /a marker of its own/,
        );
        expect(
            accessPolicyProblem({
                ...base,
                readOnlySignals: [{ kind: "file", path: MARKER }],
                maven: { ...route, diskFullSignal: MARKER },
            }),
        ).toMatch(/a marker of its own/);
    });
});

describe("the registry pod's disk guard with Maven", () => {
    const guard = { refusePercent: 85, checkSeconds: 300 };

    it("checks the Maven volume, mounted read-only, with a marker of its own beside the data volume's", () => {
        const c = container(renderInClusterObjects(baseSpec({ maven, diskGuard: guard })), IN_CLUSTER_DISK_GUARD.container);
        expect(c.volumeMounts).toEqual([
            { name: "data", mountPath: IN_CLUSTER.dataDir, readOnly: true },
            { name: "maven-data", mountPath: MAVEN_BACKEND.dataDir, readOnly: true },
            { name: READ_ONLY_SIGNAL.volume, mountPath: READ_ONLY_SIGNAL.dir },
        ]);
        expect(c.command[2]).toContain(`DATA_DIR='${IN_CLUSTER.dataDir}'`);
        expect(c.command[2]).toContain(`MAVEN_DIR='${MAVEN_BACKEND.dataDir}'`);
        expect(c.command[2]).toContain(`MAVEN_MARKER='${IN_CLUSTER_DISK_GUARD.mavenMarker}'`);
        expect(IN_CLUSTER_DISK_GUARD.mavenMarker).not.toBe(IN_CLUSTER_DISK_GUARD.marker);
    });

    it("without Maven checks no Maven directory", () => {
        const c = container(renderInClusterObjects(baseSpec({ diskGuard: guard })), IN_CLUSTER_DISK_GUARD.container);
        expect(c.command[2]).toContain("MAVEN_DIR=''");
        expect(c.volumeMounts.map((m: { name: string }) => m.name)).not.toContain("maven-data");
    });

    it("with s3 storage guards the Maven volume alone, and the alert rules watch the Maven claim only (none on a data claim)", () => {
        expect(inClusterDiskGuard({ storage: { kind: "s3" }, maven: {}, diskGuard: { refusePercent: 90 } })).toEqual({
            refusePercent: 90,
            checkSeconds: IN_CLUSTER_DISK_GUARD.checkSeconds,
        });
        const spec = baseSpec({ storage: s3, maven, diskGuard: guard });
        const c = container(renderInClusterObjects(spec), IN_CLUSTER_DISK_GUARD.container);
        expect(c.volumeMounts.map((m: { name: string }) => m.name)).toEqual(["maven-data", READ_ONLY_SIGNAL.volume]);
        expect(c.command[2]).toContain("DATA_DIR=''");
        const added = (s: InClusterSpec) => {
            const without = new Set(clusterAlerts({ ...s, diskGuard: undefined }).map((r) => r.alert));
            return clusterAlerts(s)
                .map((r) => r.alert)
                .filter((a) => !without.has(a));
        };
        expect(added(spec)).toEqual(["DsoRegistryMavenDeploysRefusedDiskFull"]);
    });

    it("gives the sidecar's Maven route the marker; with s3 no refusal of image uploads", () => {
        const policy = (storage: "filesystem" | "s3") =>
            sidecarPolicy({
                host: "r.test",
                requiresAuthForPull: false,
                deletesEnabled: true,
                storage,
                diskGuard: true,
                maven: { pathPrefix: "maven-releases", requiresAuthForPull: false },
            });
        expect(policy("filesystem").maven?.diskFullSignal).toBe(IN_CLUSTER_DISK_GUARD.mavenMarker);
        expect(policy("filesystem").diskFullSignal).toBe(IN_CLUSTER_DISK_GUARD.marker);
        expect(policy("s3").maven?.diskFullSignal).toBe(IN_CLUSTER_DISK_GUARD.mavenMarker);
        expect(policy("s3").diskFullSignal).toBeUndefined();
    });
});

/** The in-cluster registry's monitoring: its rules as a ConfigMap. */
const MONITORING: NonNullable<InClusterSpec["monitoring"]> = {
    runbookBaseUrl: "docs/runbooks.md",
    probeImage: "curl",
    cacheClaims: [],
    prometheusOperator: false,
};

/** The alert rules the registry's monitoring objects hold, with monitoring on. */
function clusterAlerts(spec: InClusterSpec): AlertRule[] {
    const objects = renderMonitoringObjects({ ...spec, monitoring: MONITORING });
    const text = objects.map((o) => (o.data as Record<string, string> | undefined)?.[RULES_FILE_KEY]).find((t) => t !== undefined);
    if (text === undefined) throw new Error(`no ConfigMap with ${RULES_FILE_KEY} among ${objects.map((o) => o.kind).join(", ")}`);
    const groups = parse(text) as { groups: { rules: AlertRule[] }[] };
    return groups.groups.flatMap((g) => g.rules);
}

describe("the alert while the disk guard refuses Maven deploys", () => {
    const guard = { refusePercent: 85, checkSeconds: 300 };
    const mavenAlert = (rules: readonly AlertRule[]) => rules.find((r) => r.alert === "DsoRegistryMavenDeploysRefusedDiskFull");

    it("on the host reads the guard's own series for the Maven directory, apart from the data disk's, and links to Disk full", () => {
        const rules = alertRules({ placement: HOST_PLACEMENT, runbookBaseUrl: "docs/runbooks.md", mavenDiskGuard: { refusePercent: 90 } });
        expect(mavenAlert(rules)).toMatchObject({
            expr: "dso_registry_maven_disk_guard_refusing == 1",
            labels: { severity: "critical" },
            annotations: { runbook_url: "docs/runbooks.md#disk-full" },
        });
        expect(rules.map((r) => r.alert)).not.toContain("DsoRegistryUploadsRefusedDiskFull");
    });

    it("in the cluster reads the pod's own series for the Maven volume, and the Maven claim's kubelet stats past refusePercent only where it is missing", () => {
        const claim = `namespace="dso",persistentvolumeclaim="${IN_CLUSTER.mavenClaim}"`;
        const own = `dso_registry_maven_disk_guard_refusing{namespace="dso"}`;
        const kubelet = `1 - kubelet_volume_stats_available_bytes{${claim}} / kubelet_volume_stats_capacity_bytes{${claim}} >= 0.85`;
        expect(mavenAlert(clusterAlerts(baseSpec({ maven, diskGuard: guard })))).toMatchObject({
            expr: `(${own} == 1) or ((${kubelet}) unless on(namespace) ${own})`,
            labels: { severity: "critical" },
            annotations: { runbook_url: "docs/runbooks.md#disk-full" },
        });
    });

    it("is not rendered where the pod serves no Maven, nor without the guard, nor without monitoring", () => {
        expect(mavenAlert(clusterAlerts(baseSpec({ diskGuard: guard })))).toBeUndefined();
        expect(mavenAlert(clusterAlerts(baseSpec({ maven })))).toBeUndefined();
        expect(renderMonitoringObjects(baseSpec({ maven, diskGuard: guard }))).toEqual([]);
    });

    it("in the cluster needs the Maven claim's name", () => {
        expect(() =>
            alertRules({ placement: CLUSTER_PLACEMENT, runbookBaseUrl: "docs/runbooks.md", mavenDiskGuard: { refusePercent: 90 } }),
        ).toThrow(/placement\.mavenClaim/);
    });
});

describe("the external host's disk guard with Maven", () => {
    const layout = defaultHostLayout("/srv/data/registry", "/srv/data/maven");
    const paths = hostPaths(layout);

    it("checks the Maven data directory with its own marker in the front's directory", () => {
        const script = diskGuardScript(layout, { refusePercent: 85 }, "", { data: true, maven: true });
        expect(script).toContain("MAVEN_DIR='/srv/data/maven'");
        expect(script).toContain(`MAVEN_MARKER='${paths.mavenDiskFullMarker}'`);
        expect(paths.mavenDiskFullMarker).toBe("/etc/caddy/dso-registry/maven-disk-full");
        expect(diskGuardScript(layout, { refusePercent: 85 }, "")).toContain("MAVEN_DIR=''");
        expect(diskGuardScript(layout, { refusePercent: 85 }, "", { data: false, maven: true })).toContain("DATA_DIR=''");
    });

    it("writes the Maven directory's refusal as a series of its own, beside the data disk's", () => {
        const script = diskGuardScript(layout, { refusePercent: 85 }, "/var/lib/prometheus/node-exporter", { data: true, maven: true });
        expect(script).toContain("REFUSING='dso_registry_disk_guard_refusing'");
        expect(script).toContain("MAVEN_REFUSING='dso_registry_maven_disk_guard_refusing'");
    });

    it("places the script that checks it when the host serves Maven, also with s3 storage", () => {
        const args = {
            connection: { host: "h", user: "root", privateKey: "k", sudo: false },
            spec: { name: "dso-registry", image: "registry:2", layout },
            specFingerprint: "fp",
            garbageCollection: { enabled: false, schedule: "", deleteUntagged: false },
            status: { host: "h", port: 443, textfileDir: "" },
            diskGuard: { refusePercent: 90 },
            maven: { spec: { pathPrefix: "maven-releases" }, fingerprint: "m", snapshotBuildsToKeep: 3 },
        } as unknown as Parameters<typeof planHostUpkeep>[1];
        const script = (a: typeof args) => String(planHostUpkeep("m", a).files.find((f) => f.name === "m-disk-guard-script")?.args.content);
        expect(script(args)).toContain("MAVEN_DIR='/srv/data/maven'");
        const s3Spec = { ...args.spec, storage: { kind: "s3", bucket: "b" } } as typeof args.spec;
        expect(script({ ...args, spec: s3Spec })).toContain("DATA_DIR=''");
        expect(script({ ...args, spec: s3Spec })).toContain("MAVEN_DIR='/srv/data/maven'");
        expect(script({ ...args, maven: undefined })).toContain("MAVEN_DIR=''");
    });

    it("is wired by the host: the site's Maven route and the status with Maven, the script also with s3 storage, none with s3 and no Maven", () => {
        const host: ExternalRegistryHostArgs = { ...EXTERNAL_HOST_MINIMAL, diskGuard: { refusePercent: 90 } };
        const plan = (args: ExternalRegistryHostArgs) => planExternalRegistryHost("registry", resolveExternalRegistryHost(args));
        const jobs = (args: ExternalRegistryHostArgs) => plan(args).upkeep.args({ containerFingerprint: "c", mavenFingerprint: "m" });
        const monitored = (args: ExternalRegistryHostArgs) =>
            plan({ ...args, monitoring: { runbookBaseUrl: "docs/runbooks.md", diskWarnPercent: 80 } }).monitoring?.args;
        expect(plan({ ...host, maven: MAVEN_REPOSITORY }).caddy.args({ mirrorRoutes: [] }).maven?.diskGuard).toBe(true);
        expect(jobs({ ...host, maven: MAVEN_REPOSITORY }).status.mavenDiskGuard).toEqual({ refusePercent: 90 });
        expect(jobs({ ...host, maven: MAVEN_REPOSITORY, storage: S3_HOST_STORAGE }).diskGuard).toEqual({ refusePercent: 90 });
        expect(jobs({ ...host, storage: S3_HOST_STORAGE }).diskGuard).toBeUndefined();
        expect(jobs(host).status.mavenDiskGuard).toBeUndefined();
        // The Maven alert with monitoring, where the host serves Maven (also with s3 storage); none without Maven or monitoring.
        expect(monitored({ ...host, maven: MAVEN_REPOSITORY })?.mavenDiskGuard).toEqual({ refusePercent: 90 });
        expect(monitored({ ...host, maven: MAVEN_REPOSITORY, storage: S3_HOST_STORAGE })?.mavenDiskGuard).toEqual({ refusePercent: 90 });
        expect(monitored(host)?.mavenDiskGuard).toBeUndefined();
        expect(plan({ ...host, maven: MAVEN_REPOSITORY }).monitoring).toBeUndefined();
    });

    it("gives the site's Maven route the marker", () => {
        const policy = caddySitePolicy({
            layout,
            registryHost: "registry.example.com",
            port: 443,
            tls: { kind: "acme", email: "ops@example.com" },
            requiresAuthForPull: false,
            allowedNetworks: [],
            deletesEnabled: false,
            blobFiles: true,
            diskGuard: true,
            upstream: "unix//run/dso-registry/registry.sock",
            maven: { pathPrefix: "maven-releases", requiresAuthForPull: false, diskGuard: true },
        });
        expect(policy.maven?.diskFullSignal).toBe("/etc/caddy/dso-registry/maven-disk-full");
        expect(policy.diskFullSignal).toBe(paths.diskFullMarker);
    });
});

describe("registry.diskGuard with s3 storage", () => {
    const secrets = {
        containerRegistryPassword: "secret",
        sshPrivateKey: "secret",
        s3AccessKeyId: "secret",
        s3SecretAccessKey: "secret",
    } as const;
    const stack = (servesMaven: boolean) => ({
        containerRegistry: { host: "registry.example.com", pathPrefix: "team/app", pushCredentials: "operator" },
        ...(servesMaven
            ? {
                  mavenRegistry: {
                      host: "registry.example.com",
                      pathPrefix: "maven-releases",
                      credentialId: "maven",
                      reuseContainerCredentials: true,
                  },
              }
            : {}),
        registry: {
            mode: "external-host",
            tls: { mode: "acme", acmeEmail: "ops@example.com" },
            storage: { kind: "s3", s3: { bucket: "images", region: "us-east-1" } },
            diskGuard: { refusePercent: 95, warnPercent: 70 },
        },
        externalHost: { ssh: { host: "10.0.0.5", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample" } },
    });
    const warned = (servesMaven: boolean) =>
        parseConfig(stack(servesMaven), secrets)
            .warnings.map((w) => w.key)
            .filter((k) => k.includes("diskGuard"));

    it("acts on the Maven repository's disk where the front serves it; warnPercent (the data disk's alert) stays moot", () => {
        expect(warned(true)).toEqual(["dso-registry:registry.diskGuard.warnPercent"]);
    });

    it("is moot without Maven", () => {
        expect(warned(false).sort()).toEqual(
            ["dso-registry:registry.diskGuard.refusePercent", "dso-registry:registry.diskGuard.warnPercent"].sort(),
        );
    });
});
