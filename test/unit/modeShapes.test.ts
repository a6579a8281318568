/**
 * The shape of a stack file per registry.mode: what each mode takes, what it refuses and with which
 * words, the defaults a variant fills in, and the stack files of earlier releases that this release
 * still takes (their keys of another variant taken out, each with the command that rewrites the file).
 * Covers: components/config/modeShapes.ts, components/config/legacyShape.ts.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../components/config";
import { rewriteLegacyShape } from "../../components/config/legacyShape";
import { MODE_SHAPES, REGISTRY_MODES, TLS_MODES_OF } from "../../components/config/modeShapes";

type Raw = Record<string, unknown>;
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheModeShapesTest";

const stacks: Record<(typeof REGISTRY_MODES)[number], () => Raw> = {
    "in-cluster": () => ({ containerRegistry: { host: "registry.example.test", pathPrefix: "" }, registry: { mode: "in-cluster" } }),
    "external-host": () => ({
        containerRegistry: { host: "registry.example.test", pathPrefix: "" },
        registry: { mode: "external-host" },
        externalHost: { ssh: { host: "10.0.0.5", hostKey: HOST_KEY } },
    }),
    kind: () => ({
        containerRegistry: { host: "localhost", port: 5002, pathPrefix: "" },
        registry: { mode: "kind" },
        nodes: { delivery: "none" },
    }),
    existing: () => ({
        containerRegistry: { host: "registry.corp.example.test", pathPrefix: "" },
        registry: { mode: "existing" },
        nodes: { delivery: "none" },
    }),
};

/** Every problem of a stack, as `key: message` lines; [] when it is taken. */
function problemsOf(raw: Raw): string[] {
    try {
        parseConfig(raw, {}, { allowMissingSecrets: true });
        return [];
    } catch (error) {
        if (error instanceof ConfigError) return error.problems.map((p) => `${p.key}: ${p.message}`);
        throw error;
    }
}

const withRegistry = (mode: keyof typeof stacks, registry: Raw): Raw => {
    const raw = stacks[mode]();
    return { ...raw, registry: { ...(raw.registry as Raw), ...registry } };
};

describe("each mode's shape", () => {
    it.each(REGISTRY_MODES)("takes the smallest stack file of mode %s", (mode) => {
        expect(problemsOf(stacks[mode]())).toEqual([]);
        expect(MODE_SHAPES[mode].safeParse(stacks[mode]()).success).toBe(true);
    });

    it.each([
        ["in-cluster", "generated-ca"],
        ["external-host", "generated-ca"],
        ["existing", "public"],
    ] as const)("fills registry.tls.mode of mode %s with its default, %s", (mode, tlsMode) => {
        const config = parseConfig(stacks[mode](), {}, { allowMissingSecrets: true }).config;
        expect(config.registry.mode !== "kind" && config.registry.tls.mode).toBe(tlsMode);
        expect(TLS_MODES_OF[mode][0]).toBe(tlsMode);
    });

    it("gives kind no registry.tls, which it does not take (plain HTTP)", () => {
        const config = parseConfig(stacks.kind(), {}, { allowMissingSecrets: true }).config;
        expect("tls" in config.registry).toBe(false);
    });

    it.each([
        [
            "in-cluster",
            { tls: { mode: "acme", acmeEmail: "ops@example.test" } },
            /registry\.tls\.mode: "acme" needs registry\.mode "external-host"/,
        ],
        ["external-host", { tls: { mode: "cert-manager" } }, /registry\.tls\.mode: "cert-manager" needs registry\.mode "in-cluster"/],
        ["in-cluster", { tls: { mode: "public" } }, /registry\.tls\.mode: "public" describes an existing registry/],
        [
            "existing",
            { tls: { mode: "generated-ca" } },
            /registry\.tls\.mode: is "generated-ca", but an existing registry .* is described with "public"/,
        ],
        [
            "in-cluster",
            { tls: { mode: "self-signed" } },
            /registry\.tls\.mode: is "self-signed"; allowed with registry\.mode "in-cluster": "generated-ca", "provided", "cert-manager"/,
        ],
        ["external-host", { tls: { mode: "acme" } }, /registry\.tls\.acmeEmail: is required with registry\.tls\.mode "acme"/],
        ["external-host", { tls: { mode: "acme", acmeEmail: "nobody" } }, /registry\.tls\.acmeEmail: must be an e-mail address/],
        ["in-cluster", { storage: { kind: "s3" } }, /registry\.storage\.s3: is required/],
        ["in-cluster", { storage: { kind: "nfs" } }, /registry\.storage\.kind: is "nfs"; allowed: "filesystem", "s3"/],
        [
            "kind",
            { storage: { kind: "s3", s3: { bucket: "images" } } },
            /registry\.storage\.kind: is "s3", but registry\.mode "kind" keeps the images in kind\.dataDir/,
        ],
        ["kind", { tls: { mode: "acme" } }, /registry\.tls: has no place with registry\.mode "kind" \(.*plain HTTP/],
        [
            "in-cluster",
            { tls: { mode: "generated-ca", certManagerIssuer: { name: "x" } } },
            /registry\.tls\.certManagerIssuer: has no place with registry\.tls\.mode "generated-ca"/,
        ],
        [
            "in-cluster",
            { storage: { kind: "filesystem", s3: { bucket: "images" } } },
            /registry\.storage\.s3: has no place with registry\.storage\.kind "filesystem" \(it is used with registry\.storage\.kind "s3"\)/,
        ],
        ["in-cluster", { storag: {} }, /registry\.storag: unknown key "storag"; did you mean "storage"\?/],
        [
            "external-host",
            { maintenance: { backup: { enabled: true } } },
            /registry\.maintenance\.backup\.destination: is required with registry\.maintenance\.backup\.enabled true: where the backups go \(kind "sftp" with host, path and hostKey/,
        ],
        [
            "external-host",
            { maintenance: { backup: { enabled: true, destination: { kind: "sftp", host: "b.example.test", path: "/srv/restic" } } } },
            /registry\.maintenance\.backup\.destination\.hostKey: is required with registry\.maintenance\.backup\.destination\.kind "sftp" \(pin it: ssh-keyscan/,
        ],
        [
            "external-host",
            { maintenance: { backup: { enabled: true, destination: { kind: "volume" } } } },
            /registry\.maintenance\.backup\.destination\.kind: is "volume", but the external host backs up to another machine/,
        ],
        [
            "in-cluster",
            { maintenance: { backup: { enabled: true, destination: { kind: "sftp", host: "b.example.test" } } } },
            /registry\.maintenance\.backup\.destination\.kind: is "sftp", but the in-cluster registry backs up to S3-compatible storage or a volume/,
        ],
        [
            "kind",
            { maintenance: { backup: { enabled: true } } },
            /registry\.maintenance\.backup\.enabled: is true, but backups are not offered with registry\.mode "kind"/,
        ],
        [
            "existing",
            { maintenance: { backup: { enabled: true } } },
            /registry\.maintenance\.backup\.enabled: is true, but registry\.mode "existing" is not ours to run/,
        ],
        ["existing", { ui: { enabled: true } }, /registry\.ui\.enabled: is true, but registry\.mode "existing" is not ours to run/],
        [
            "existing",
            { maintenance: { garbageCollection: { enabled: true } } },
            /registry\.maintenance\.garbageCollection\.enabled: is true, but registry\.mode "existing" is not ours to run/,
        ],
        ["in-cluster", { ui: { enabled: "yes" } }, /registry\.ui\.enabled: must be true or false, got "yes"/],
    ] as const)("mode %s refuses registry %j", (mode, registry, says) => {
        const problems = problemsOf(withRegistry(mode, registry));
        expect(
            problems.some((p) => says.test(p)),
            problems.join("\n"),
        ).toBe(true);
    });

    it("keeps the external host's deleteUntagged with garbage collection off (the script stays for a run by hand)", () => {
        const raw = withRegistry("external-host", { maintenance: { garbageCollection: { deleteUntagged: true } } });
        const { warnings, config } = parseConfig(raw, {}, { allowMissingSecrets: true });
        expect(warnings.filter((w) => w.key.includes("garbageCollection"))).toEqual([]);
        expect(config.registry.mode === "external-host" && config.registry.maintenance.garbageCollection).toMatchObject({
            enabled: false,
            deleteUntagged: true,
        });
    });

    it("refuses listed nodes without delivery ssh, and delivery ssh without nodes", () => {
        const listed = problemsOf({
            ...stacks["in-cluster"](),
            nodes: { delivery: "daemonset", list: [{ name: "n1", host: "10.0.0.7", allowUnpinnedHostKey: true }] },
        });
        expect(listed).toEqual([
            expect.stringMatching(
                /^dso-registry:nodes\.list: has no place with nodes\.delivery "daemonset" \(nodes are listed for delivery "ssh" only\)/,
            ),
        ]);
        expect(problemsOf({ ...stacks["in-cluster"](), nodes: { delivery: "ssh" } })).toEqual([
            expect.stringMatching(/^dso-registry:nodes\.list: is empty, but nodes\.delivery is "ssh"/),
        ]);
        expect(problemsOf({ ...stacks.kind(), nodes: { delivery: "daemonset" } })).toEqual([
            expect.stringMatching(
                /^dso-registry:nodes\.delivery: is "daemonset", but registry\.mode "kind" configures the kind nodes itself/,
            ),
        ]);
    });

    it("refuses externalHost outside its mode, as earlier releases did", () => {
        const problems = problemsOf({ ...stacks["in-cluster"](), externalHost: { ssh: { host: "10.0.0.5", hostKey: HOST_KEY } } });
        expect(problems).toEqual([
            expect.stringMatching(/^dso-registry:externalHost: has no place with registry\.mode "in-cluster" \(it is the SSH connection/),
        ]);
    });

    it("requires externalHost in its mode", () => {
        const raw = stacks["external-host"]();
        delete raw.externalHost;
        expect(problemsOf(raw)).toEqual([expect.stringMatching(/^dso-registry:externalHost: is required/)]);
    });

    it("without a mode, tells what the catalogue finds wrong, registry.mode first", () => {
        const problems = problemsOf({ containerRegistry: { host: "registry.example.test", pathPrefix: "" }, registry: { mode: "cloud" } });
        expect(problems[0]).toMatch(/^dso-registry:registry\.mode: is "cloud"; allowed: "in-cluster", "external-host", "kind", "existing"/);
    });
});

describe("stack files of earlier releases (this release only)", () => {
    it.each([
        [
            "in-cluster",
            {},
            { kind: { clusterName: "dev" } },
            "dso-registry:kind",
            'registry.mode "in-cluster"',
            "pulumi config rm dso-registry:kind",
        ],
        [
            "external-host",
            {},
            { inCluster: { namespace: "dso" } },
            "dso-registry:inCluster",
            'registry.mode "external-host"',
            "pulumi config rm dso-registry:inCluster",
        ],
        [
            "kind",
            { tls: { mode: "generated-ca" } },
            {},
            "dso-registry:registry.tls",
            'registry.mode "kind"',
            "pulumi config rm --path 'dso-registry:registry.tls'",
        ],
        [
            "kind",
            { monitoring: { enabled: false } },
            {},
            "dso-registry:registry.monitoring",
            'registry.mode "kind"',
            "pulumi config rm --path 'dso-registry:registry.monitoring'",
        ],
        [
            "existing",
            { image: "registry:2.8.3" },
            {},
            "dso-registry:registry.image",
            'registry.mode "existing"',
            "pulumi config rm --path 'dso-registry:registry.image'",
        ],
        [
            "in-cluster",
            {},
            { jenkins: { url: "https://jenkins.example.test", user: "ci" } },
            "dso-registry:jenkins.url",
            "jenkins.enabled false",
            "pulumi config rm --path 'dso-registry:jenkins.url'",
        ],
        [
            "in-cluster",
            { ui: { image: "joxit/docker-registry-ui:2.5.8" } },
            {},
            "dso-registry:registry.ui.image",
            "registry.ui.enabled false",
            "pulumi config rm --path 'dso-registry:registry.ui.image'",
        ],
        [
            "in-cluster",
            { maintenance: { garbageCollection: { schedule: "0 4 * * *", deleteUntagged: true } } },
            {},
            "dso-registry:registry.maintenance.garbageCollection.deleteUntagged",
            "registry.maintenance.garbageCollection.enabled false",
            "pulumi config rm --path 'dso-registry:registry.maintenance.garbageCollection.deleteUntagged'",
        ],
        [
            "external-host",
            { monitoring: { enabled: false, runbookBaseUrl: "https://git.example.test/runbooks" } },
            {},
            "dso-registry:registry.monitoring.runbookBaseUrl",
            "registry.monitoring.enabled false",
            "pulumi config rm --path 'dso-registry:registry.monitoring.runbookBaseUrl'",
        ],
        [
            "in-cluster",
            { loginLimit: { enabled: false, ignoreNetworks: ["10.0.0.0/8"] } },
            {},
            "dso-registry:registry.loginLimit.ignoreNetworks",
            "registry.loginLimit.enabled false",
            "pulumi config rm --path 'dso-registry:registry.loginLimit.ignoreNetworks'",
        ],
        [
            "in-cluster",
            {},
            { nodes: { delivery: "none", runtime: "k3s", namespace: "trust" } },
            "dso-registry:nodes.runtime",
            'nodes.delivery "none"',
            "pulumi config rm --path 'dso-registry:nodes.runtime'",
        ],
        [
            "in-cluster",
            {},
            { nodes: { delivery: "daemonset", list: [] } },
            "dso-registry:nodes.list",
            'nodes.delivery "daemonset"',
            "pulumi config rm --path 'dso-registry:nodes.list'",
        ],
        // In the cluster no TLS mode takes it; on a host, ACME does.
        [
            "in-cluster",
            { tls: { mode: "generated-ca", acmeEmail: "ops@example.test" } },
            {},
            "dso-registry:registry.tls.acmeEmail",
            'registry.mode "in-cluster"',
            "pulumi config rm --path 'dso-registry:registry.tls.acmeEmail'",
        ],
        [
            "external-host",
            { tls: { mode: "provided", acmeEmail: "ops@example.test" } },
            {},
            "dso-registry:registry.tls.acmeEmail",
            'registry.tls.mode "provided"',
            "pulumi config rm --path 'dso-registry:registry.tls.acmeEmail'",
        ],
        [
            "external-host",
            { maintenance: { backup: { schedule: "0 3 * * *" } } },
            {},
            "dso-registry:registry.maintenance.backup.schedule",
            "registry.maintenance.backup.enabled false",
            "pulumi config rm --path 'dso-registry:registry.maintenance.backup.schedule'",
        ],
        [
            "in-cluster",
            { maintenance: { backup: { enabled: true, destination: { kind: "s3", bucket: "backups", size: "10Gi" } } } },
            {},
            "dso-registry:registry.maintenance.backup.destination.size",
            'registry.maintenance.backup.destination.kind "s3"',
            "pulumi config rm --path 'dso-registry:registry.maintenance.backup.destination.size'",
        ],
        [
            "external-host",
            { tls: { mode: "acme", acmeEmail: "ops@example.test", caValidityDays: 90 } },
            {},
            "dso-registry:registry.tls.caValidityDays",
            'registry.tls.mode "acme"',
            "pulumi config rm --path 'dso-registry:registry.tls.caValidityDays'",
        ],
        [
            "in-cluster",
            { storage: { kind: "s3", s3: { bucket: "images" }, size: "50Gi" } },
            {},
            "dso-registry:registry.storage.size",
            'registry.storage.kind "s3"',
            "pulumi config rm --path 'dso-registry:registry.storage.size'",
        ],
        [
            "external-host",
            { storage: { kind: "filesystem", size: "50Gi" } },
            {},
            "dso-registry:registry.storage.size",
            'registry.mode "external-host"',
            "pulumi config rm --path 'dso-registry:registry.storage.size'",
        ],
        [
            "in-cluster",
            { loginLimit: { maxRetry: 5 } },
            {},
            "dso-registry:registry.loginLimit.maxRetry",
            'registry.mode "in-cluster"',
            "pulumi config rm --path 'dso-registry:registry.loginLimit.maxRetry'",
        ],
        [
            "external-host",
            { monitoring: { prometheusOperator: true } },
            {},
            "dso-registry:registry.monitoring.prometheusOperator",
            'registry.mode "external-host"',
            "pulumi config rm --path 'dso-registry:registry.monitoring.prometheusOperator'",
        ],
    ] as const)("mode %s takes registry %j and %j, warning about %s", (mode, registry, extra, key, reason, command) => {
        const raw = { ...withRegistry(mode, registry), ...extra };
        const { warnings } = parseConfig(raw, {}, { allowMissingSecrets: true });
        const warning = warnings.find((w) => w.key === key);
        expect(warning?.message).toBe(
            `has no effect with ${reason}; this release still takes the stack file, the next one refuses it: remove it (${command})`,
        );
        // What is left is this release's shape, and it is taken as it is.
        const rewritten = rewriteLegacyShape(raw, mode).raw;
        expect(MODE_SHAPES[mode].safeParse(rewritten).success).toBe(true);
        expect(rewriteLegacyShape(rewritten, mode).warnings).toEqual([]);
    });

    it("reads the settings left as if the old keys had never been there", () => {
        const old = {
            ...withRegistry("external-host", { tls: { mode: "generated-ca", acmeEmail: "ops@example.test" } }),
            inCluster: { namespace: "x" },
        };
        const rewritten = rewriteLegacyShape(old, "external-host");
        expect(rewritten.warnings.map((w) => w.key).sort()).toEqual(
            ["dso-registry:registry.tls.acmeEmail", "dso-registry:inCluster"].sort(),
        );
        expect(parseConfig(old, {}, { allowMissingSecrets: true }).config).toEqual(
            parseConfig(rewritten.raw, {}, { allowMissingSecrets: true }).config,
        );
    });

    it("leaves the stack file it is given untouched", () => {
        const old = { ...stacks["in-cluster"](), kind: { clusterName: "dev" } };
        const copy = structuredClone(old);
        rewriteLegacyShape(old, "in-cluster");
        expect(old).toEqual(copy);
    });
});
