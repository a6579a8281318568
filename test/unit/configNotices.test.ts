/**
 * What the config layer tells without refusing, and the placeholders a deployment refuses: the
 * example host keys of the committed prod stack stop `pulumi up` and `preview` at config load (before
 * any resource is registered), naming each key and the ssh-keyscan command; the synth warns instead.
 * Covers: components/config/advice.ts, components/config/mootSettings.ts, components/config/placeholders.ts,
 * components/config/stackFileLeaves.ts, components/config/load.ts (`loadDeployableConfig`).
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadDeployableConfig, MOOT_SETTINGS, PLACEHOLDER_MARK, parseConfig } from "../../components/config";
import { startMockRuntime } from "../../tools/mockRuntime";
import { readStackConfig, synthesizeConfig } from "../../tools/synth";

const PROJECT_DIR = `${__dirname}/../..`;

/** The committed prod stack's config with every secret it needs set, as an operator would have it. */
function prodWithSecrets(): { config: Record<string, string>; secretKeys: string[] } {
    const { config, secretKeys } = readStackConfig(PROJECT_DIR, "prod");
    for (const name of [
        "containerRegistryPassword",
        "mavenRegistryPassword",
        "jenkinsApiToken",
        "sshPrivateKey",
        "backupRepositoryPassword",
        "backupSshPrivateKey",
    ]) {
        config[`dso-registry:${name}`] = "[secret]";
        secretKeys.push(`dso-registry:${name}`);
    }
    return { config, secretKeys };
}

const PLACEHOLDER_KEYS = [
    ["dso-registry:registry.maintenance.backup.destination.hostKey", "backup-01.dso.example.com"],
    ["dso-registry:externalHost.ssh.hostKey", "registry-01.dso.example.com"],
    ["dso-registry:nodes.list[0].hostKey", "10.20.0.11"],
    ["dso-registry:nodes.list[1].hostKey", "10.20.0.21"],
    ["dso-registry:nodes.list[2].hostKey", "10.20.0.22"],
] as const;

describe("placeholders", () => {
    it("the committed prod stack still holds them (what the tests below rely on)", () => {
        expect(readStackConfig(PROJECT_DIR, "prod").config["dso-registry:externalHost"]).toContain(PLACEHOLDER_MARK);
    });

    it("stop a deployment at config load, naming every key and the ssh-keyscan command for its host", async () => {
        const rt = await startMockRuntime({ stack: "prod", ...prodWithSecrets() });
        let error: unknown;
        try {
            loadDeployableConfig();
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(ConfigError);
        const problems = (error as ConfigError).problems;
        expect(problems.map((p) => p.key)).toEqual(PLACEHOLDER_KEYS.map(([key]) => key));
        for (const [key, host] of PLACEHOLDER_KEYS) {
            expect(problems.find((p) => p.key === key)?.message).toContain(`ssh-keyscan -t ed25519 ${host}`);
        }
        expect(rt.resources).toEqual([]);
    });

    it("are only warned about by the synth, which still writes the stack", async () => {
        const synth = await synthesizeConfig("prod", prodWithSecrets());
        for (const [key, host] of PLACEHOLDER_KEYS) {
            expect(synth.warnings).toContainEqual(
                expect.stringMatching(
                    new RegExp(`^${key.replace(/[.[\]]/g, "\\$&")} still holds the placeholder .*ssh-keyscan -t ed25519 ${host}.*refuse`),
                ),
            );
        }
        expect(synth.files.has("hosts/registry-01.dso.example.com/etc/caddy/Caddyfile")).toBe(true);
    });

    it.each([
        [
            "a host key",
            { ssh: { host: "10.0.0.5", hostKey: "ssh-ed25519 REPLACE-WITH-ssh-keyscan-OUTPUT" } },
            /ssh-keyscan -t ed25519 10\.0\.0\.5/,
        ],
        [
            "any other value",
            { ssh: { host: "10.0.0.5", allowUnpinnedHostKey: true }, dataDir: "/srv/REPLACE-WITH-data-dir" },
            /replace it with the real value/,
        ],
    ])("are found in %s", (_name, externalHost, fix) => {
        const raw = {
            containerRegistry: { host: "registry.example.test", pathPrefix: "" },
            registry: { mode: "external-host" },
            externalHost,
        };
        const { placeholders } = parseConfig(raw, {}, { allowMissingSecrets: true });
        expect(placeholders).toHaveLength(1);
        expect(placeholders[0]!.message).toMatch(fix);
    });

    it("leave a configuration without them alone", () => {
        const raw = { containerRegistry: { host: "registry.example.test", pathPrefix: "" }, registry: { mode: "in-cluster" } };
        expect(parseConfig(raw).placeholders).toEqual([]);
    });
});

describe("warnings", () => {
    const base = { containerRegistry: { host: "registry.example.test", pathPrefix: "" }, registry: { mode: "in-cluster" } };

    it("name a setting that has no effect, and the setting that makes it moot", () => {
        const { warnings } = parseConfig({ ...base, pullSecrets: { secretName: "team-pull" } });
        expect(warnings).toEqual([
            {
                key: "dso-registry:pullSecrets.secretName",
                message:
                    "has no effect with pullSecrets.namespaces empty; remove it from the stack file (pulumi config rm --path 'dso-registry:pullSecrets.secretName')",
                fix: { remove: ["pullSecrets", "secretName"] },
            },
        ]);
    });

    it("refuse a block of another mode, with the command that takes it out", () => {
        expect(() =>
            parseConfig({
                ...base,
                existing: { caCertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
            }),
        ).toThrow(
            'dso-registry:existing: has no place with registry.mode "in-cluster": remove it (pulumi config rm dso-registry:existing), or change that setting',
        );
    });

    it.each([
        ["in-cluster, Maven served, garbage collection on", "in-cluster", "registry.example.test", true, 0],
        ["external host, Maven served, garbage collection on", "external-host", "registry.example.test", true, 0],
        ["in-cluster, garbage collection off", "in-cluster", "registry.example.test", false, 1],
        ["in-cluster, a Maven repository of another host", "in-cluster", "maven.example.test", true, 1],
    ])("about mavenRegistry.snapshotBuildsToKeep: %s", (_name, mode, mavenHost, gc, count) => {
        const raw = {
            containerRegistry: base.containerRegistry,
            registry: {
                mode,
                ...(mode === "external-host" ? { tls: { mode: "acme", acmeEmail: "ops@example.test" } } : {}),
                maintenance: { garbageCollection: { enabled: gc } },
            },
            ...(mode === "external-host"
                ? {
                      externalHost: {
                          ssh: { host: "10.0.0.5", user: "root", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheNoticeTest" },
                      },
                  }
                : {}),
            mavenRegistry: { host: mavenHost, pathPrefix: "maven-releases", snapshotBuildsToKeep: 2 },
        };
        const warnings = parseConfig(raw, {}, { allowMissingSecrets: true }).warnings;
        // With a repository of another host and no Jenkins, nothing of mavenRegistry acts: the warning names the block.
        const about = ["dso-registry:mavenRegistry.snapshotBuildsToKeep", "dso-registry:mavenRegistry"];
        expect(warnings.filter((w) => about.includes(w.key))).toHaveLength(count);
    });

    it("come from a table of fewer than 25 rows, one reason each (a key a mode or switch rules out is its shape's)", () => {
        expect(MOOT_SETTINGS.length).toBeLessThan(25);
        for (const row of MOOT_SETTINGS) expect(row.keys.length).toBeGreaterThan(0);
    });

    /** The moot warnings of a stack, as `key: reason`. */
    const mootOf = (raw: Record<string, unknown>) =>
        parseConfig(raw, {}, { allowMissingSecrets: true })
            .warnings.filter((w) => /^has no effect with .*; remove it from the stack file \(pulumi config rm [^)]+\)$/.test(w.message))
            .map((w) => `${w.key.replace("dso-registry:", "")}: ${/^has no effect with (.*); remove it/.exec(w.message)?.[1]}`);

    it("name, for each key of a row made of a table, its own entry's reason", () => {
        const raw = {
            ...base,
            registry: { mode: "in-cluster", mirrorPull: "anonymous" },
            inCluster: { pod: { resources: { cache: { limits: { memory: "1Gi" } }, ui: { limits: { memory: "1Gi" } } } } },
            nodes: { delivery: "daemonset", runtime: "containerd", allowServiceRestart: false, allowContainerdRestart: true },
        };
        expect(mootOf(raw)).toEqual([
            "registry.mirrorPull: no registry.mirrors (no cache runs)",
            "inCluster.pod.resources.cache.limits.memory: no registry.mirrors (no cache runs)",
            "inCluster.pod.resources.ui.limits.memory: registry.ui.enabled false",
            'nodes.allowServiceRestart: no node of runtime "k3s" or "rke2"',
        ]);
    });

    it("say why the Maven repository's own settings do nothing: no repository served, its files on the host, no garbage collection", () => {
        const maven = { host: "registry.example.test", pathPrefix: "maven-releases", storageSize: "5Gi", snapshotBuildsToKeep: 2 };
        const external = {
            containerRegistry: base.containerRegistry,
            registry: { mode: "external-host" },
            externalHost: { ssh: { host: "10.0.0.5", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheNoticeTest" } },
            mavenRegistry: maven,
        };
        expect(mootOf(external)).toEqual([
            'mavenRegistry.storageSize: registry.mode "external-host" (the Maven repository\'s files are in externalHost.mavenDataDir)',
            "mavenRegistry.snapshotBuildsToKeep: registry.maintenance.garbageCollection.enabled false",
        ]);
        // Jenkins reads the repository's address: only what the program would serve it with does nothing.
        const jenkins = { enabled: true, url: "https://jenkins.example.test" };
        expect(mootOf({ ...base, jenkins, mavenRegistry: { ...maven, host: "maven.example.test" } })).toEqual([
            "mavenRegistry.storageSize: mavenRegistry.host and port other than the registry's (the program serves no Maven repository)",
            "mavenRegistry.snapshotBuildsToKeep: mavenRegistry.host and port other than the registry's (the program serves no Maven repository)",
        ]);
        // Without Jenkins nothing of it acts, and the host it needs cannot go alone: the warning takes the block out.
        expect(mootOf({ ...base, mavenRegistry: { ...maven, host: "maven.example.test" } })).toEqual([
            "mavenRegistry: jenkins.enabled false and a Maven repository this program does not serve",
        ]);
    });

    it("say the upkeep jobs' image does nothing while no job runs, and nothing once one does", () => {
        const image = { ...base, inCluster: { kubectlImage: "mirror.example.test/alpine/kubectl:1.36.3" } };
        expect(mootOf(image)).toEqual([
            "inCluster.kubectlImage: registry.maintenance.garbageCollection.enabled and backup.enabled false (no job runs)",
        ]);
        const withGc = { ...image, registry: { mode: "in-cluster", maintenance: { garbageCollection: { enabled: true } } } };
        expect(mootOf(withGc)).toEqual([]);
    });

    it("tell a stack that names kaniko's image that kaniko is archived, and say nothing to one that does not", () => {
        const jenkins = { enabled: true, url: "https://jenkins.example.test" };
        const kaniko = (agentImages: Record<string, string>) =>
            parseConfig({ ...base, jenkins: { ...jenkins, agentImages } }, {}, { allowMissingSecrets: true }).warnings.filter((w) =>
                w.key.startsWith("dso-registry:jenkins.agentImages"),
            );
        const [warning, ...more] = kaniko({ kaniko: "mirror.example.test/kaniko-project/executor:v1.23.2-debug" });
        expect(more).toEqual([]);
        expect(warning?.key).toBe("dso-registry:jenkins.agentImages.kaniko");
        expect(warning?.message).toMatch(/archived upstream in June 2025.*buildah or docker-in-docker template/);
        expect(kaniko({ buildah: "mirror.example.test/buildah/stable:v1.44.0" })).toEqual([]);
    });

    it("about the in-cluster login limit, say what the controller cannot do", () => {
        const limit = (inCluster: Record<string, unknown>) =>
            mootOf({ ...base, registry: { mode: "in-cluster", loginLimit: { ignoreNetworks: ["10.0.0.0/8"] } }, inCluster });
        expect(limit({ ingressClass: "traefik" })).toEqual([
            'registry.loginLimit.ignoreNetworks: inCluster.ingressClass "traefik" (Traefik\'s rate limit exempts no network)',
        ]);
        expect(limit({ ingressClass: "haproxy" })).toEqual([
            'registry.loginLimit.ignoreNetworks: inCluster.ingressClass "haproxy" (the login limit needs ingress-nginx or Traefik)',
        ]);
        // ingress-nginx takes the limit on only with its open routes accepted (test/unit/loginLimit.config.test.ts).
        const onNginx = { allowUnlimitedCredentialRequests: true };
        expect(
            mootOf({
                ...base,
                registry: { mode: "in-cluster", loginLimit: { ...onNginx, ignoreNetworks: ["10.0.0.0/8"] } },
                inCluster: { ingressClass: "nginx" },
            }),
        ).toEqual([]);
        const credentials = (inCluster: Record<string, unknown>) =>
            mootOf({
                ...base,
                registry: { mode: "in-cluster", loginLimit: { ...onNginx, credentialRequestsPerMinute: 600 } },
                inCluster,
            });
        expect(credentials({ ingressClass: "nginx" })).toEqual([
            'registry.loginLimit.credentialRequestsPerMinute: inCluster.ingressClass "nginx" (ingress-nginx limits the token endpoint and the ping only)',
        ]);
        expect(credentials({ ingressClass: "traefik" })).toEqual([
            'registry.loginLimit.allowUnlimitedCredentialRequests: inCluster.ingressClass "traefik" (only ingress-nginx leaves requests with credentials unlimited)',
        ]);
    });

    it.each([
        ['the class "nginx"', { ingressClass: "nginx" }, "dso-registry:inCluster.ingressClass"],
        ['the class "public" (microk8s before 1.35)', { ingressClass: "public" }, "dso-registry:inCluster.ingressClass"],
        [
            "ingress-nginx named for another class",
            { ingressClass: "edge", ingressController: "nginx" },
            "dso-registry:inCluster.ingressController",
        ],
    ])("tell a stack whose Ingress gets ingress-nginx's annotations that ingress-nginx is retired: %s", (_name, inCluster, key) => {
        const registry = { mode: "in-cluster", loginLimit: { allowUnlimitedCredentialRequests: true } };
        const retired = parseConfig({ ...base, registry, inCluster }).warnings.filter((w) => /retired/.test(w.message));
        expect(retired.map((w) => w.key)).toEqual([key]);
        expect(retired[0]?.message).toMatch(
            /retired upstream in March 2026.*inCluster\.ingressClass "traefik".*inCluster\.exposure "gateway"/,
        );
    });

    it.each([
        ["Traefik's class", { ingressClass: "traefik" }],
        ["the cluster's default class", {}],
        ["a class of another controller", { ingressClass: "haproxy" }],
        [
            "ingress-nginx behind a Gateway (no Ingress)",
            { ingressClass: "nginx", exposure: "gateway", gateway: { proxyNetworks: ["10.42.0.0/16"] } },
        ],
    ])("say nothing of ingress-nginx for %s", (_name, inCluster) => {
        // The limit off: behind a Gateway on another controller than Traefik it is refused on.
        const registry = { mode: "in-cluster", loginLimit: { enabled: false } };
        expect(parseConfig({ ...base, registry, inCluster }).warnings.filter((w) => /retired/.test(w.message))).toEqual([]);
    });

    it("only for keys the stack file sets, not for defaults", () => {
        expect(parseConfig(base).warnings).toEqual([]);
    });

    const existing = { containerRegistry: base.containerRegistry, registry: { mode: "existing", tls: { mode: "public" } } };
    it.each([
        ["docker nodes, an existing registry, anonymous reads", existing, { delivery: "daemonset", runtime: "docker" }, false, 1],
        [
            "docker nodes when reads need credentials (pods pull with pull secrets)",
            existing,
            { delivery: "daemonset", runtime: "docker" },
            true,
            0,
        ],
        ["docker nodes and a registry of our own, whose ping docker follows", base, { delivery: "daemonset", runtime: "docker" }, false, 0],
        ["containerd nodes and an existing registry", existing, { delivery: "daemonset", runtime: "containerd" }, false, 0],
    ])("about the docker pull limit: %s", (_name, registry, nodes, requiresAuthForPull, count) => {
        const raw = {
            ...registry,
            containerRegistry: { ...registry.containerRegistry, requiresAuthForPull },
            nodes,
            pullSecrets: { namespaces: ["apps"] },
        };
        const docker = parseConfig(raw, {}, { allowMissingSecrets: true }).warnings.filter((w) => w.key === "dso-registry:nodes.runtime");
        expect(docker).toHaveLength(count);
        for (const w of docker) expect(w.message).toMatch(/classic image store.*Basic challenge.*docker pull/);
    });

    const certManager = (certManagerCaCertificate?: string) => ({
        mode: "in-cluster",
        tls: {
            mode: "cert-manager",
            certManagerIssuer: { name: "lab-ca" },
            ...(certManagerCaCertificate ? { certManagerCaCertificate } : {}),
        },
    });
    const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    it.each([
        ["nodes get trust files", certManager(), { nodes: { delivery: "daemonset", runtime: "containerd" } }, 1],
        [
            "Jenkins's namespace gets the CA ConfigMap",
            certManager(),
            { jenkins: { enabled: true, url: "https://jenkins.example.test" } },
            1,
        ],
        ["pull-secret namespaces get the CA ConfigMap", certManager(), { pullSecrets: { namespaces: ["apps"] } }, 1],
        ["the issuer's CA is given", certManager(PEM), { nodes: { delivery: "daemonset", runtime: "containerd" } }, 0],
        ["nothing takes a CA", certManager(), {}, 0],
    ])("about cert-manager without the issuer's CA: %s", (_name, registry, rest, count) => {
        const raw = { containerRegistry: base.containerRegistry, registry, ...rest };
        const advice = parseConfig(raw, {}, { allowMissingSecrets: true }).warnings.filter(
            (w) => w.key === "dso-registry:registry.tls.certManagerCaCertificate",
        );
        expect(advice).toHaveLength(count);
        for (const w of advice) {
            expect(w.message).toMatch(/no CA.*publicly trusted.*x509: certificate signed by unknown authority/);
            expect(w.message).toContain("kubectl -n dso get secret registry-tls");
            expect(w.message).toContain("pulumi config set --path 'dso-registry:registry.tls.certManagerCaCertificate'");
        }
    });
});

describe("the in-cluster allowlist says which paths it does not cover", () => {
    it("warns that pods reach the registry through Services registry-tls and registry without it", () => {
        const raw = {
            containerRegistry: { host: "registry.example.test", pathPrefix: "team" },
            registry: { mode: "in-cluster", allowedNetworks: ["10.0.0.0/8"], loginLimit: { allowUnlimitedCredentialRequests: true } },
            inCluster: { ingressClass: "nginx" },
        };
        const warnings = parseConfig(raw, {}, { allowMissingSecrets: true }).warnings.filter((w) =>
            w.key.endsWith("registry.allowedNetworks"),
        );
        expect(warnings).toHaveLength(1);
        expect(warnings[0]!.message).toMatch(
            /through the Ingress only.*Services registry-tls and registry in namespace dso.*NetworkPolicy/,
        );
    });
});
