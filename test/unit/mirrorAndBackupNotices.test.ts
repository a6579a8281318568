/**
 * Two combinations that work but do less than the settings suggest, warned about by name with the fix:
 * pull-through caches no node is pointed at, and the external host's backup when the images are in a
 * bucket. The in-cluster backup with the images in a bucket is refused instead (rules.ts): it holds
 * nothing else.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, type ConfigProblem, parseConfig } from "../../components/config";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheMirrorAndBackupNoticeTest";
const containerRegistry = { host: "registry.example.test", pathPrefix: "" };
const externalHost = { ssh: { host: "10.0.0.5", user: "root", hostKey: HOST_KEY } };

function warningsFor(raw: Record<string, unknown>, key: string): ConfigProblem[] {
    return parseConfig(raw, {}, { allowMissingSecrets: true }).warnings.filter((w) => w.key === `dso-registry:${key}`);
}

describe("registry.mirrors with no node pointed at the caches", () => {
    const node = (name: string, runtime?: string) => ({
        name,
        host: `10.0.0.${name.length}`,
        hostKey: HOST_KEY,
        ...(runtime ? { runtime } : {}),
    });
    it.each([
        ["containerd nodes (daemonset)", [{ upstream: "docker.io" }], { delivery: "daemonset", runtime: "containerd" }, undefined],
        ["k3s nodes over SSH", [{ upstream: "docker.io" }], { delivery: "ssh", runtime: "k3s", list: [node("a"), node("bb")] }, undefined],
        ["docker nodes, no mirrors", [], { delivery: "daemonset", runtime: "docker" }, undefined],
        [
            "nodes.delivery none",
            [{ upstream: "docker.io" }],
            { delivery: "none" },
            /nodes\.delivery is "none", so no node is pointed at them: the caches run .*Set nodes\.delivery to "daemonset" or "ssh".*or remove registry\.mirrors$/,
        ],
        [
            "docker nodes (daemonset)",
            [{ upstream: "docker.io" }, { upstream: "ghcr.io" }],
            { delivery: "daemonset", runtime: "docker" },
            /every node's runtime is "docker".*no per-upstream mirror setting.*the caches run .*Move the nodes to .*k3s or rke2.*or remove registry\.mirrors$/,
        ],
        [
            "docker nodes over SSH, every one",
            [{ upstream: "docker.io" }],
            { delivery: "ssh", runtime: "k3s", list: [node("a", "docker"), node("bb", "docker")] },
            /every node's runtime is "docker"/,
        ],
        [
            "some docker nodes over SSH",
            [{ upstream: "docker.io" }],
            { delivery: "ssh", runtime: "k3s", list: [node("a"), node("bb", "docker"), node("ccc", "docker")] },
            /^is not used by the nodes of runtime "docker" \(bb, ccc\): .*Move them to .*containerd, microk8s, kind, k3s or rke2/,
        ],
    ])("%s", (_name, mirrors, nodes, expected) => {
        const raw = { containerRegistry, registry: { mode: "in-cluster", mirrors }, nodes };
        const warnings = warningsFor(raw, "registry.mirrors");
        if (expected === undefined) {
            expect(warnings).toEqual([]);
        } else {
            expect(warnings).toHaveLength(1);
            expect(warnings[0]!.message).toMatch(expected);
        }
    });

    it("says that an image named through a cache still uses it", () => {
        const raw = {
            containerRegistry,
            registry: { mode: "in-cluster", mirrors: [{ upstream: "quay.io" }] },
            nodes: { delivery: "none" },
        };
        expect(warningsFor(raw, "registry.mirrors")[0]!.message).toContain("registry.example.test/mirrors/<upstream>/<repository>");
    });
});

describe("registry.maintenance.backup.enabled with the images in a bucket", () => {
    const sftp = { kind: "sftp", host: "backup.example.test", path: "/srv/restic/registry", hostKey: HOST_KEY };
    const s3Storage = { kind: "s3", s3: { bucket: "dso-images" } };
    const external = (storage: object, enabled: boolean, extra: Record<string, unknown> = {}) => ({
        containerRegistry,
        registry: {
            mode: "external-host",
            storage,
            maintenance: { backup: enabled ? { enabled, destination: sftp } : { enabled } },
        },
        externalHost,
        ...extra,
    });

    it.each([
        ["external host, filesystem storage", external({ kind: "filesystem" }, true), undefined],
        ["external host, s3 storage, backups off", external(s3Storage, false), undefined],
        [
            "external host, s3 storage, backups on",
            external(s3Storage, true),
            /^is true with registry\.storage\.kind "s3": the nightly backup holds the host's own files \(.*Caddy's.*certificates.*\) and no images, which are in bucket "dso-images", yet every run still opens its read-only window.*bucket's own versioning or replication.*set it to false \(docs\/external-host\.md, Backups\)$/,
        ],
        [
            "external host serving Maven, s3 storage, backups on",
            external(s3Storage, true, { mavenRegistry: { host: "registry.example.test", pathPrefix: "maven-releases" } }),
            /and the Maven repository's files\) and no images/,
        ],
    ])("%s", (_name, raw, expected) => {
        const warnings = warningsFor(raw, "registry.maintenance.backup.enabled");
        if (expected === undefined) {
            expect(warnings).toEqual([]);
        } else {
            expect(warnings).toHaveLength(1);
            expect(warnings[0]!.message).toMatch(expected);
        }
    });

    it("is refused in the cluster, where the backup would hold nothing (the rule the warning mirrors)", () => {
        const raw = {
            containerRegistry,
            registry: {
                mode: "in-cluster",
                storage: s3Storage,
                maintenance: { backup: { enabled: true, destination: { kind: "s3", bucket: "registry-backup" } } },
            },
        };
        let error: unknown;
        try {
            parseConfig(raw, {}, { allowMissingSecrets: true });
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as ConfigError).problems).toContainEqual({
            key: "dso-registry:registry.maintenance.backup.enabled",
            message: expect.stringMatching(/images live in the bucket.*turn the backups off/),
            fix: { remove: ["registry", "maintenance", "backup"] },
        });
    });
});
