/**
 * The shape of a stack file per registry.mode: what each mode takes, what it refuses and with which
 * words (a key of another variant with the command that takes it out), and the defaults a variant
 * fills in. Covers: components/config/modeShapes.ts, components/config/schemaIssues.ts.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../components/config";
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
        [
            "in-cluster",
            { maintenance: { garbageCollection: { enabled: true, mode: "online" } } },
            /registry\.maintenance\.garbageCollection\.mode: is "online", but collection while pushes go on runs on the external host only/,
        ],
        [
            "kind",
            { maintenance: { garbageCollection: { enabled: true, mode: "online" } } },
            /registry\.maintenance\.garbageCollection\.mode: is "online", but collection while pushes go on runs on the external host only/,
        ],
        [
            "external-host",
            { maintenance: { garbageCollection: { enabled: true, mode: "online", deleteUntagged: true } } },
            /registry\.maintenance\.garbageCollection\.deleteUntagged: is true, but mode is "online": Distribution deletes untagged manifests only in its offline collection.*pulumi config set --path 'dso-registry:registry\.maintenance\.garbageCollection\.deleteUntagged' false/,
        ],
        [
            "external-host",
            { maintenance: { garbageCollection: { enabled: true, mode: "nightly" } } },
            /registry\.maintenance\.garbageCollection\.mode: .*"window".*"online"/,
        ],
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

    it("takes online garbage collection on the external host, on or off (the script stays for a run by hand), window the default", () => {
        for (const enabled of [true, false]) {
            const raw = withRegistry("external-host", { maintenance: { garbageCollection: { enabled, mode: "online" } } });
            const { warnings, config } = parseConfig(raw, {}, { allowMissingSecrets: true });
            expect(warnings.filter((w) => w.key.includes("garbageCollection"))).toEqual([]);
            expect(config.registry.mode === "external-host" && config.registry.maintenance.garbageCollection.mode).toBe("online");
        }
        const plain = parseConfig(stacks["external-host"](), {}, { allowMissingSecrets: true }).config;
        expect(plain.registry.mode === "external-host" && plain.registry.maintenance.garbageCollection.mode).toBe("window");
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

describe("keys of another variant, as the flat shape of earlier releases had them", () => {
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
        [
            "kind",
            { replicas: 2 },
            {},
            "dso-registry:registry.replicas",
            'registry.mode "kind"',
            "pulumi config rm --path 'dso-registry:registry.replicas'",
        ],
        [
            "in-cluster",
            {},
            {
                nodes: {
                    delivery: "ssh",
                    list: [
                        { name: "n1", host: "n1", allowUnpinnedHostKey: true },
                        { name: "here", local: true, host: "10.0.0.9" },
                    ],
                },
            },
            "dso-registry:nodes.list[1].host",
            "nodes.list[1].local true (the node's commands run where Pulumi runs, without SSH)",
            "pulumi config rm --path 'dso-registry:nodes.list[1].host'",
        ],
    ] as const)(
        "mode %s refuses registry %j and %j: %s, with the command that takes it out",
        (mode, registry, extra, key, reason, command) => {
            const raw = { ...withRegistry(mode, registry), ...extra };
            expect(problemsOf(raw)).toEqual([`${key}: has no place with ${reason}: remove it (${command}), or change that setting`]);
        },
    );
});
