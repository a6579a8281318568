/**
 * The stack config: what the schema and the rules accept and refuse, with the key and the fix in each
 * message, and the discriminated settings the wiring reads.
 * Covers: components/config/parse.ts (`parseConfig`): the schema (components/config/schema.ts,
 * components/config/schema/placements.ts, components/config/schema/integrations.ts,
 * components/config/schema/values.ts), components/config/rules.ts, components/config/derived.ts (the facts
 * the rules read), components/config/problems.ts, components/config/schemaIssues.ts,
 * components/config/secrets.ts, components/config/settings.ts.
 */
import { describe, expect, it } from "vitest";
import {
    ConfigError,
    hostNameProblem,
    mavenPathProblem,
    type ParsedConfig,
    parseConfig,
    repositoryPrefixProblem,
    type SecretName,
    type SecretState,
    secretNames,
} from "../../components/config";
import { configProblems } from "../support/configProblems";

/** The smallest valid in-cluster configuration. */
function base(): Record<string, any> {
    return {
        containerRegistry: { host: "registry-dso.jmann.local", pathPrefix: "docker-internal/p2c" },
        registry: { mode: "in-cluster" },
    };
}

/** A valid external-host configuration. */
function external(): Record<string, any> {
    return {
        containerRegistry: { host: "registry.example.com", pathPrefix: "team/app", pushCredentials: "operator" },
        registry: { mode: "external-host", tls: { mode: "acme", acmeEmail: "ops@example.com" } },
        externalHost: { ssh: { host: "10.0.0.5", hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample" } },
    };
}

const present = (...names: SecretName[]): Partial<Record<SecretName, SecretState>> =>
    Object.fromEntries(names.map((n) => [n, "secret" as const]));

const problemsOf = (raw: Record<string, unknown>, secrets: Partial<Record<SecretName, SecretState>> = {}): string[] =>
    configProblems(raw, secrets);

/** The registry settings of an in-cluster configuration. */
function inClusterOf(config: ParsedConfig) {
    if (config.registry.mode !== "in-cluster") throw new Error(`registry.mode is "${config.registry.mode}", not "in-cluster"`);
    return config.registry;
}

/** The registry's TLS settings, in a mode that has a certificate. */
const tlsOf = (s: ParsedConfig) => (s.registry.mode === "kind" ? undefined : s.registry.tls);

function set(target: Record<string, any>, path: string, value: unknown): Record<string, any> {
    const parts = path.split(".");
    let node = target;
    for (const part of parts.slice(0, -1)) {
        node[part] ??= {};
        node = node[part];
    }
    node[parts[parts.length - 1]!] = value;
    return target;
}

describe("parseConfig: valid stacks", () => {
    it("fills in documented defaults", () => {
        const { config } = parseConfig(base());
        expect(config.containerRegistry).toMatchObject({
            port: 443,
            credentialId: "container-registry",
            requiresAuthForPush: true,
            requiresAuthForPull: false,
            pushCredentials: "generated",
        });
        const registry = inClusterOf(config);
        expect(registry.image).toBe("registry:3.1.2");
        expect(registry.tls.mode).toBe("generated-ca");
        expect(registry.inCluster.namespace).toBe("dso");
        expect(registry.storage).toMatchObject({ kind: "filesystem", size: "20Gi" });
        expect(registry.maintenance.garbageCollection.enabled).toBe(false);
        expect(config.nodes.delivery).toBe("none");
        expect(config.jenkins.enabled).toBe(false);
    });

    it("accepts an external host with its secrets", () => {
        const result = parseConfig(external(), present("containerRegistryPassword", "sshPrivateKey"));
        expect(result.requiredSecrets).toEqual(["containerRegistryPassword", "sshPrivateKey"]);
        expect(result.missingSecrets).toEqual([]);
    });

    it("lets the Maven registry reuse the container credentials on the same host", () => {
        const raw = set(base(), "mavenRegistry", {
            host: "registry-dso.jmann.local",
            pathPrefix: "maven-releases",
            reuseContainerCredentials: true,
        });
        const result = parseConfig(raw);
        expect(result.requiredSecrets).not.toContain("mavenRegistryPassword");
    });

    it("accepts an image whose tag has upper-case letters, as the reference grammar allows", () => {
        expect(inClusterOf(parseConfig(set(base(), "registry.image", "registry:Release-1")).config).image).toBe("registry:Release-1");
    });

    it("takes an IPv4-mapped IPv6 network as the IPv4 network it stands for, which every front matches IPv4 clients against", () => {
        const raw = set(external(), "registry.allowedNetworks", ["::ffff:10.0.0.0/104", "::FFFF:192.168.1.7/128", "fd00::/8"]);
        const { config } = parseConfig(raw, present("containerRegistryPassword", "sshPrivateKey"));
        expect(config.registry.mode === "external-host" && config.registry.allowedNetworks).toEqual([
            "10.0.0.0/8",
            "192.168.1.7/32",
            "fd00::/8",
        ]);
    });

    it("accepts a digest-pinned registry image", () => {
        const digest = `registry@sha256:${"a".repeat(64)}`;
        expect(inClusterOf(parseConfig(set(base(), "registry.image", digest)).config).image).toBe(digest);
    });

    it("tolerates missing secrets only when asked to (synth)", () => {
        const raw = set(base(), "containerRegistry.pushCredentials", "operator");
        expect(() => parseConfig(raw)).toThrow(ConfigError);
        const result = parseConfig(raw, {}, { allowMissingSecrets: true });
        expect(result.missingSecrets).toEqual(["containerRegistryPassword"]);
    });
});

describe("parseConfig: bad config names the key, says what is wrong and what is allowed", () => {
    const cases: Array<{
        name: string;
        raw: () => Record<string, any>;
        secrets?: Partial<Record<SecretName, SecretState>>;
        key: string;
        says: RegExp;
    }> = [
        {
            name: "flux-system listed while pullSecrets.flux writes Flux's own Secret there",
            raw: () => set(set(base(), "pullSecrets.namespaces", ["apps", "flux-system"]), "pullSecrets.flux", true),
            key: "dso-registry:pullSecrets.namespaces[1]",
            says: /which pullSecrets\.flux already serves .*remove "flux-system" from pullSecrets\.namespaces/,
        },
        {
            name: "an RSA host key, which the command provider pins as SHA-1 ssh-rsa",
            raw: () => set(external(), "externalHost.ssh.hostKey", "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQExample"),
            key: "dso-registry:externalHost.ssh.hostKey",
            says: /is an RSA key \("ssh-rsa"\).*OpenSSH 8\.8 and later refuse: pin the host's ed25519 or ECDSA key instead.*ssh-keyscan -t ed25519/,
        },
        {
            name: "an RSA host key of a node",
            raw: () =>
                set(base(), "nodes", {
                    delivery: "ssh",
                    list: [{ name: "n1", host: "10.0.0.9", hostKey: "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQExample" }],
                }),
            key: "dso-registry:nodes.list[0].hostKey",
            says: /is an RSA key/,
        },
        {
            name: "missing host",
            raw: () => ({ ...base(), containerRegistry: { pathPrefix: "a" } }),
            key: "dso-registry:containerRegistry.host",
            says: /is required/,
        },
        {
            name: "wrong type",
            raw: () => set(base(), "containerRegistry.requiresAuthForPull", "yes"),
            key: "dso-registry:containerRegistry.requiresAuthForPull",
            says: /must be a boolean, got a string/,
        },
        {
            name: "typo in a key",
            raw: () => set(base(), "containerRegistry.pathPrefx", "x"),
            key: "dso-registry:containerRegistry.pathPrefx",
            says: /unknown key "pathPrefx"; did you mean "pathPrefix"\?/,
        },
        {
            name: "typo lists allowed keys",
            raw: () => set(base(), "registry.moed", "x"),
            key: "dso-registry:registry.moed",
            says: /Allowed here: mode, image/,
        },
        {
            name: "host with scheme",
            raw: () => set(base(), "containerRegistry.host", "https://registry.example.com"),
            key: "dso-registry:containerRegistry.host",
            says: /has a scheme/,
        },
        {
            name: "host with path",
            raw: () => set(base(), "containerRegistry.host", "registry.example.com/v2"),
            key: "dso-registry:containerRegistry.host",
            says: /has a path/,
        },
        {
            name: "host with port",
            raw: () => set(base(), "containerRegistry.host", "registry.example.com:5000"),
            key: "dso-registry:containerRegistry.host",
            says: /set the port in the separate "port" key/,
        },
        {
            name: "host with upper case",
            raw: () => set(base(), "containerRegistry.host", "Registry.example.com"),
            key: "dso-registry:containerRegistry.host",
            says: /upper-case/,
        },
        {
            name: "host with bad label",
            raw: () => set(base(), "containerRegistry.host", "-bad.example.com"),
            key: "dso-registry:containerRegistry.host",
            says: /not a valid DNS name/,
        },
        {
            name: "prefix with upper case",
            raw: () => set(base(), "containerRegistry.pathPrefix", "Docker-Internal/p2c"),
            key: "dso-registry:containerRegistry.pathPrefix",
            says: /segment "Docker-Internal"/,
        },
        {
            name: "prefix with empty segment",
            raw: () => set(base(), "containerRegistry.pathPrefix", "docker-internal//p2c"),
            key: "dso-registry:containerRegistry.pathPrefix",
            says: /empty segment/,
        },
        {
            name: "prefix with leading slash",
            raw: () => set(base(), "containerRegistry.pathPrefix", "/docker-internal"),
            key: "dso-registry:containerRegistry.pathPrefix",
            says: /starts or ends with "\/"/,
        },
        {
            name: "prefix with trailing slash",
            raw: () => set(base(), "containerRegistry.pathPrefix", "docker-internal/"),
            key: "dso-registry:containerRegistry.pathPrefix",
            says: /starts or ends with "\/"/,
        },
        {
            name: "prefix with doubled separator",
            raw: () => set(base(), "containerRegistry.pathPrefix", "a..b"),
            key: "dso-registry:containerRegistry.pathPrefix",
            says: /not a valid repository name component/,
        },
        {
            name: "port zero",
            raw: () => set(base(), "containerRegistry.port", 0),
            key: "dso-registry:containerRegistry.port",
            says: /1 to 65535/,
        },
        {
            name: "port too large",
            raw: () => set(base(), "containerRegistry.port", 70000),
            key: "dso-registry:containerRegistry.port",
            says: /1 to 65535/,
        },
        {
            name: "ssh port out of range",
            raw: () => set(external(), "externalHost.ssh.port", 65536),
            secrets: present("containerRegistryPassword", "sshPrivateKey"),
            key: "dso-registry:externalHost.ssh.port",
            says: /1 to 65535/,
        },
        {
            name: "unknown mode",
            raw: () => set(base(), "registry.mode", "cloud"),
            key: "dso-registry:registry.mode",
            says: /is "cloud"; allowed: "in-cluster", "external-host", "kind", "existing"/,
        },
        {
            name: "acme in the cluster",
            raw: () => set(base(), "registry.tls", { mode: "acme", acmeEmail: "a@example.com" }),
            key: "dso-registry:registry.tls.mode",
            says: /needs registry.mode "external-host"/,
        },
        {
            name: "acme without email",
            raw: () => set(external(), "registry.tls", { mode: "acme" }),
            secrets: present("containerRegistryPassword", "sshPrivateKey"),
            key: "dso-registry:registry.tls.acmeEmail",
            says: /is required/,
        },
        {
            name: "the CA of an issuer of one's own, with the program's chain",
            raw: () =>
                set(base(), "registry.tls", {
                    mode: "cert-manager",
                    certManagerCaCertificate: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
                }),
            key: "dso-registry:registry.tls.certManagerCaCertificate",
            says: /registry\.tls\.certManagerIssuer is not set: the program creates its own issuer chain and reads its CA from cert-manager/,
        },
        {
            name: "an issuer CA without cert-manager",
            raw: () => set(base(), "registry.tls.certManagerCaCertificate", "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"),
            key: "dso-registry:registry.tls.certManagerCaCertificate",
            says: /has no place with registry.tls.mode "generated-ca" \(it is used with registry.tls.mode "cert-manager"/,
        },
        {
            name: "replicas on a filesystem",
            raw: () => set(base(), "registry.replicas", 2),
            key: "dso-registry:registry.replicas",
            says: /need shared storage/,
        },
        {
            name: "s3 without settings",
            raw: () => set(base(), "registry.storage", { kind: "s3" }),
            secrets: present("s3AccessKeyId", "s3SecretAccessKey"),
            key: "dso-registry:registry.storage.s3",
            says: /is required/,
        },
        {
            name: "external host without host settings",
            raw: () => {
                const r = external();
                delete r.externalHost;
                return r;
            },
            secrets: present("containerRegistryPassword", "sshPrivateKey"),
            key: "dso-registry:externalHost",
            says: /is required/,
        },
        {
            name: "unpinned host key",
            raw: () => set(external(), "externalHost.ssh", { host: "10.0.0.5" }),
            secrets: present("containerRegistryPassword", "sshPrivateKey"),
            key: "dso-registry:externalHost.ssh.hostKey",
            says: /ssh-keyscan/,
        },
        {
            name: "maven reuse across hosts",
            raw: () => set(base(), "mavenRegistry", { host: "maven.example.com", pathPrefix: "releases", reuseContainerCredentials: true }),
            key: "dso-registry:mavenRegistry.reuseContainerCredentials",
            says: /differs from containerRegistry.host/,
        },
        {
            name: "anonymous Maven deploys on the repository this program serves",
            raw: () =>
                set(base(), "mavenRegistry", {
                    host: "registry-dso.jmann.local",
                    pathPrefix: "releases",
                    reuseContainerCredentials: true,
                    requiresAuthForPush: false,
                }),
            key: "dso-registry:mavenRegistry.requiresAuthForPush",
            says: /always requires the Maven account/,
        },
        {
            name: "push without auth",
            raw: () => set(base(), "containerRegistry.requiresAuthForPush", false),
            key: "dso-registry:containerRegistry.requiresAuthForPush",
            says: /always requires credentials for push/,
        },
        {
            name: "ssh delivery without nodes",
            raw: () => set(base(), "nodes", { delivery: "ssh" }),
            key: "dso-registry:nodes.list",
            says: /is empty/,
        },
        {
            name: "duplicate node names",
            raw: () =>
                set(base(), "nodes", {
                    delivery: "ssh",
                    list: [
                        { name: "a", host: "10.0.0.1", allowUnpinnedHostKey: true },
                        { name: "a", host: "10.0.0.2", allowUnpinnedHostKey: true },
                    ],
                }),
            secrets: present("sshPrivateKey"),
            key: "dso-registry:nodes.list",
            says: /two nodes named "a"/,
        },
        {
            name: "plain HTTP for our own registry",
            raw: () => set(base(), "nodes.insecurePlainHttp", true),
            key: "dso-registry:nodes.insecurePlainHttp",
            says: /only allowed for an existing registry/,
        },
        {
            name: "jenkins without url",
            raw: () => set(base(), "jenkins", { enabled: true }),
            secrets: present("jenkinsApiToken"),
            key: "dso-registry:jenkins.url",
            says: /is required/,
        },
        {
            name: "jenkins over plain HTTP without jenkins.allowPlainHttp",
            raw: () => set(base(), "jenkins", { enabled: true, url: "http://jenkins.lab.example.com" }),
            secrets: present("jenkinsApiToken"),
            key: "dso-registry:jenkins.url",
            says: /plain HTTP .*travel in clear.*jenkins\.allowPlainHttp: true/,
        },
        {
            name: "bad CIDR",
            raw: () => set(base(), "registry.allowedNetworks", ["10.0.0.0/33"]),
            key: "dso-registry:registry.allowedNetworks[0]",
            says: /CIDR/,
        },
        {
            name: "an IPv6 network of three groups",
            raw: () => set(external(), "registry.allowedNetworks", ["10.0.0.0/8", "1:2:3/64"]),
            secrets: present("containerRegistryPassword", "sshPrivateKey"),
            key: "dso-registry:registry.allowedNetworks[1]",
            says: /"1:2:3\/64" is not a network in CIDR form/,
        },
        {
            name: "an IPv6 network of colons alone",
            raw: () => set(external(), "registry.loginLimit.ignoreNetworks", ["::::::/128"]),
            secrets: present("containerRegistryPassword", "sshPrivateKey"),
            key: "dso-registry:registry.loginLimit.ignoreNetworks[0]",
            says: /"::::::\/128" is not a network in CIDR form/,
        },
        {
            name: "a Gateway proxy network of colons alone",
            raw: () => set(set(base(), "inCluster.exposure", "gateway"), "inCluster.gateway.proxyNetworks", ["::::::"]),
            key: "dso-registry:inCluster.gateway.proxyNetworks[0]",
            says: /"::::::" is not a network in CIDR form/,
        },
        {
            name: "an image name with upper case",
            raw: () => set(base(), "registry.caddyImage", "Caddy:2.11.9"),
            key: "dso-registry:registry.caddyImage",
            says: /"Caddy:2\.11\.9" is not an image reference: .*lower case/,
        },
        {
            name: "an image name with an empty path segment",
            raw: () => set(base(), "registry.image", "mirror.corp.example/library//registry:3.1.2"),
            key: "dso-registry:registry.image",
            says: /"mirror\.corp\.example\/library\/\/registry:3\.1\.2" is not an image reference/,
        },
        {
            name: "an image with two tags",
            raw: () => set(base(), "registry.ui", { enabled: true, image: "joxit/docker-registry-ui:2.5.7:latest" }),
            key: "dso-registry:registry.ui.image",
            says: /"joxit\/docker-registry-ui:2\.5\.7:latest" is not an image reference/,
        },
        {
            name: "an image with an empty tag",
            raw: () => set(base(), "nodes", { delivery: "daemonset", daemonsetImage: "busybox:" }),
            key: "dso-registry:nodes.daemonsetImage",
            says: /"busybox:" is not an image reference: .*tag/,
        },
        {
            name: "an image with a short digest",
            raw: () => set(base(), "inCluster.kubectlImage", "kubectl@sha256:abc"),
            key: "dso-registry:inCluster.kubectlImage",
            says: /"kubectl@sha256:abc" is not an image reference: .*sha256/,
        },
        {
            name: "a password in plain config",
            raw: () => set(base(), "containerRegistry.password", "hunter2"),
            key: "dso-registry:containerRegistry.password",
            says: /never part of plain stack config.*pulumi config set --secret dso-registry:containerRegistryPassword/,
        },
        {
            name: "a secret key stored in plaintext",
            raw: () => base(),
            secrets: { sshPrivateKey: "plaintext" },
            key: "dso-registry:sshPrivateKey",
            says: /stored in plaintext.*pulumi config set --secret dso-registry:sshPrivateKey/,
        },
        {
            name: "a missing secret",
            raw: () => set(base(), "containerRegistry.pushCredentials", "operator"),
            key: "dso-registry:containerRegistryPassword",
            says: /is not set.*pulumi config set --secret dso-registry:containerRegistryPassword/,
        },
    ];

    it.each(cases)("$name", ({ raw, secrets, key, says }) => {
        const problems = problemsOf(raw(), secrets);
        const match = problems.find((p) => p.startsWith(`${key}: `));
        expect(match, `problems were:\n${problems.join("\n")}`).toBeDefined();
        expect(match).toMatch(says);
    });

    it("accepts Jenkins over plain HTTP once jenkins.allowPlainHttp says so", () => {
        const raw = set(base(), "jenkins", { enabled: true, url: "http://jenkins.lab.example.com", allowPlainHttp: true });
        expect(problemsOf(raw, present("jenkinsApiToken"))).toEqual([]);
    });

    it("reports every problem at once, not only the first", () => {
        const raw = set(set(base(), "containerRegistry.port", 0), "registry.mode", "cloud");
        expect(problemsOf(raw)).toHaveLength(2);
    });

    it("never repeats a plaintext secret's value in the message", () => {
        const problems = problemsOf(set(base(), "containerRegistry.password", "hunter2-planted"));
        expect(problems.join("\n")).not.toContain("hunter2-planted");
    });
});

describe("value rules", () => {
    it.each([
        ["registry.example.com", undefined],
        ["10.0.0.5", undefined],
        ["localhost", undefined],
        ["http://x", /scheme/],
        ["x/y", /path/],
        ["x:1", /port/],
        ["a..b", /not a valid DNS name/],
    ])("host %s", (value, problem) => {
        const found = hostNameProblem(value);
        if (problem === undefined) expect(found).toBeUndefined();
        else expect(found).toMatch(problem);
    });

    it.each([
        ["", undefined],
        ["p2c", undefined],
        ["docker-internal/p2c", undefined],
        ["a.b_c__d---e/f", undefined],
        ["UPPER", /not a valid repository name component/],
        ["a_", /not a valid repository name component/],
        ["a/-b", /not a valid repository name component/],
        ["a//b", /empty segment/],
    ])("repository prefix %j", (value, problem) => {
        const found = repositoryPrefixProblem(value);
        if (problem === undefined) expect(found).toBeUndefined();
        else expect(found).toMatch(problem);
    });

    it.each([
        ["maven-releases", undefined],
        ["repository/maven-releases", undefined],
        ["/maven-releases", /starts or ends with "\/"/],
        ["maven-releases/", /starts or ends with "\/"/],
        ["a//b", /empty segment/],
        ["maven releases", /need escaping in a URL/],
    ])("Maven path %j", (value, problem) => {
        const found = mavenPathProblem(value);
        if (problem === undefined) expect(found).toBeUndefined();
        else expect(found).toMatch(problem);
    });
});

describe("toSettings: each mode carries exactly the settings it needs", () => {
    const existing = () => ({
        containerRegistry: { host: "registry.corp.example", pathPrefix: "team" },
        registry: { mode: "existing", tls: { mode: "public" } },
        existing: { caCertificate: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" },
    });
    const node = { name: "n1", host: "10.0.0.9", hostKey: "ssh-ed25519 AAAA" };
    const cases: Array<{ name: string; raw: () => Record<string, any>; pick: (s: ParsedConfig) => unknown; equals: unknown }> = [
        {
            name: "generated CA",
            raw: base,
            pick: tlsOf,
            equals: { mode: "generated-ca", caValidityDays: 3650, serverCertValidityDays: 825 },
        },
        {
            name: "provided certificate",
            raw: () => set(base(), "registry.tls", { mode: "provided", caValidityDays: 100 }),
            pick: tlsOf,
            equals: { mode: "provided", caValidityDays: 100, serverCertValidityDays: 825 },
        },
        {
            name: "ACME carries its contact address",
            raw: external,
            pick: tlsOf,
            equals: { mode: "acme", acmeEmail: "ops@example.com" },
        },
        {
            name: "ACME with a directory",
            raw: () => set(external(), "registry.tls.acmeDirectory", "https://acme-staging-v02.api.letsencrypt.org/directory"),
            pick: (s) => s.registry.mode === "external-host" && s.registry.tls.mode === "acme" && s.registry.tls.acmeDirectory,
            equals: "https://acme-staging-v02.api.letsencrypt.org/directory",
        },
        {
            name: "cert-manager carries its issuer",
            raw: () => set(base(), "registry.tls", { mode: "cert-manager", certManagerIssuer: { name: "lab-ca" } }),
            pick: tlsOf,
            equals: { mode: "cert-manager", issuer: "named", certManagerIssuer: { kind: "ClusterIssuer", name: "lab-ca" } },
        },
        {
            name: "cert-manager without an issuer of one's own: the program's chain, with the lifetimes",
            raw: () => set(base(), "registry.tls", { mode: "cert-manager", caValidityDays: 730 }),
            pick: tlsOf,
            equals: { mode: "cert-manager", issuer: "chain", caValidityDays: 730, serverCertValidityDays: 825 },
        },
        {
            name: "cert-manager carries its issuer's CA",
            raw: () =>
                set(base(), "registry.tls", {
                    mode: "cert-manager",
                    certManagerIssuer: { name: "lab-ca" },
                    certManagerCaCertificate: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
                }),
            pick: (s) =>
                s.registry.mode === "in-cluster" &&
                s.registry.tls.mode === "cert-manager" &&
                s.registry.tls.issuer === "named" &&
                s.registry.tls.caCertificate,
            equals: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n",
        },
        { name: "public certificate of an existing registry", raw: existing, pick: tlsOf, equals: { mode: "public" } },
        {
            name: "external host carries its host settings",
            raw: external,
            pick: (s) => s.registry.mode === "external-host" && s.registry.externalHost,
            equals: {
                ssh: {
                    host: "10.0.0.5",
                    port: 22,
                    user: "root",
                    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample",
                    allowUnpinnedHostKey: false,
                },
                dataDir: "/srv/data/registry",
                mavenDataDir: "/srv/data/maven",
                purgeDataOnDestroy: false,
                installPackages: true,
            },
        },
        {
            name: "existing registry carries its CA",
            raw: existing,
            pick: (s) => s.registry.mode === "existing" && s.registry.existing.caCertificate,
            equals: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        },
        {
            name: "in-cluster has neither host nor existing settings",
            raw: base,
            pick: (s) => Object.keys(s.registry).filter((k) => k === "externalHost" || k === "existing"),
            equals: [],
        },
        {
            name: "filesystem storage has no S3 settings",
            raw: base,
            pick: (s) => inClusterOf(s).storage,
            equals: { kind: "filesystem", size: "20Gi" },
        },
        {
            name: "S3 storage carries its bucket, and no claim's size",
            raw: () => set(base(), "registry.storage", { kind: "s3", s3: { bucket: "images" } }),
            pick: (s) => inClusterOf(s).storage,
            equals: {
                kind: "s3",
                s3: { bucket: "images", region: "us-east-1", forcePathStyle: true, rootDirectory: "/registry", redirect: false },
            },
        },
        {
            name: "SSH delivery carries its nodes",
            raw: () => set(base(), "nodes", { delivery: "ssh", list: [node] }),
            pick: (s) => s.nodes.delivery === "ssh" && s.nodes.list.map((n) => n.name),
            equals: ["n1"],
        },
        {
            name: "DaemonSet delivery has no node list",
            raw: () => set(base(), "nodes", { delivery: "daemonset" }),
            pick: (s) => [s.nodes.delivery, "list" in s.nodes],
            equals: ["daemonset", false],
        },
        {
            name: "Jenkins enabled carries its URL",
            raw: () => set(base(), "jenkins", { enabled: true, url: "https://jenkins.example.com" }),
            pick: (s) => s.jenkins.enabled && s.jenkins.url,
            equals: "https://jenkins.example.com",
        },
        {
            name: "Jenkins disabled carries nothing",
            raw: () => set(base(), "jenkins", { enabled: false }),
            pick: (s) => s.jenkins,
            equals: { enabled: false },
        },
        { name: "no Maven registry, no key", raw: base, pick: (s) => "mavenRegistry" in s, equals: false },
    ];

    it.each(cases)("$name", ({ raw, pick, equals }) => {
        const settings = parseConfig(raw(), present(...secretNames), { allowMissingSecrets: true }).config;
        expect(pick(settings)).toStrictEqual(equals);
    });

    // Each mode's shape (modeShapes.ts) refuses these, naming the key; the mapping never sees them.
    const contradictions: Array<{ name: string; raw: () => Record<string, any>; says: RegExp }> = [
        {
            name: "ACME in the cluster",
            raw: () => set(base(), "registry.tls", { mode: "acme", acmeEmail: "a@example.com" }),
            says: /dso-registry:registry\.tls\.mode: "acme" needs registry\.mode "external-host"/,
        },
        {
            name: "cert-manager on a host",
            raw: () => set(external(), "registry.tls", { mode: "cert-manager", certManagerIssuer: { name: "x" } }),
            says: /dso-registry:registry\.tls\.mode: "cert-manager" needs registry\.mode "in-cluster"/,
        },
        {
            name: "an existing registry with a generated CA",
            raw: () => set(existing(), "registry.tls", { mode: "generated-ca" }),
            says: /dso-registry:registry\.tls\.mode: is "generated-ca", but an existing registry \(registry\.mode "existing"\) is described with "public"/,
        },
        {
            name: "ACME without its address",
            raw: () => set(external(), "registry.tls", { mode: "acme" }),
            says: /dso-registry:registry\.tls\.acmeEmail: is required with registry\.tls\.mode "acme"/,
        },
        {
            name: "an external host without host settings",
            raw: () => {
                const r = external();
                delete r.externalHost;
                return r;
            },
            says: /dso-registry:externalHost: is required/,
        },
        {
            name: "S3 without its settings",
            raw: () => set(base(), "registry.storage", { kind: "s3" }),
            says: /dso-registry:registry\.storage\.s3: is required/,
        },
        {
            name: "Jenkins without its URL",
            raw: () => set(base(), "jenkins", { enabled: true }),
            says: /dso-registry:jenkins\.url: is required with jenkins\.enabled true/,
        },
    ];

    it.each(contradictions)("refuses $name", ({ raw, says }) => {
        expect(() => parseConfig(raw(), present(...secretNames), { allowMissingSecrets: true })).toThrow(says);
    });
});

describe("requiresAuthForPull: whatever pulls gets credentials, or the config is refused with the fix", () => {
    const readsClosed = () => set(base(), "containerRegistry.requiresAuthForPull", true);
    const sshNodes = (...runtimes: (string | undefined)[]) =>
        runtimes.map((runtime, i) => ({
            name: `n${i}`,
            host: `10.0.0.${i + 1}`,
            allowUnpinnedHostKey: true,
            ...(runtime ? { runtime } : {}),
        }));
    const cases: { name: string; raw: () => Record<string, any>; refused: RegExp | undefined }[] = [
        { name: "nodes untouched, no namespace", raw: readsClosed, refused: /nodes\.delivery is "none"/ },
        {
            name: "docker by DaemonSet, no namespace",
            raw: () => set(readsClosed(), "nodes", { delivery: "daemonset", runtime: "docker" }),
            refused: /nodes of runtime "docker" keep no registry credentials/,
        },
        {
            name: "microk8s by DaemonSet (hosts.toml credentials), no namespace",
            raw: () => set(readsClosed(), "nodes", { delivery: "daemonset", runtime: "microk8s" }),
            refused: undefined,
        },
        {
            name: "containerd and kind nodes over SSH (hosts.toml credentials), no namespace",
            raw: () => set(readsClosed(), "nodes", { delivery: "ssh", runtime: "containerd", list: sshNodes(undefined, "kind") }),
            refused: undefined,
        },
        {
            name: "k3s nodes but one docker node, no namespace",
            raw: () => set(readsClosed(), "nodes", { delivery: "ssh", runtime: "k3s", list: sshNodes(undefined, "docker") }),
            refused: /nodes of runtime "docker" \(n1\)/,
        },
        {
            name: "k3s nodes over SSH",
            raw: () => set(readsClosed(), "nodes", { delivery: "ssh", runtime: "k3s", list: sshNodes(undefined, "rke2") }),
            refused: undefined,
        },
        {
            name: "RKE2 by DaemonSet",
            raw: () => set(readsClosed(), "nodes", { delivery: "daemonset", runtime: "rke2" }),
            refused: undefined,
        },
        {
            name: "microk8s with namespaces that get pull secrets",
            raw: () => set(set(readsClosed(), "nodes", { delivery: "daemonset", runtime: "microk8s" }), "pullSecrets.namespaces", ["apps"]),
            refused: undefined,
        },
    ];

    it.each(cases)("$name", ({ raw, refused }) => {
        const problems = problemsOf(raw(), present("sshPrivateKey"));
        const guard = problems.find((p) => p.startsWith("dso-registry:containerRegistry.requiresAuthForPull: "));
        if (refused === undefined) {
            expect(guard).toBeUndefined();
        } else {
            expect(guard).toMatch(refused);
            expect(guard).toMatch(/under pullSecrets\.namespaces/);
        }
    });

    it("asks an existing registry for the organisation's pull account, as secrets", () => {
        const existing = {
            containerRegistry: { host: "registry.example.com", pathPrefix: "team", requiresAuthForPull: true },
            registry: { mode: "existing", tls: { mode: "public" } },
            pullSecrets: { namespaces: ["apps"] },
        };
        expect(problemsOf(existing)).toEqual([
            expect.stringMatching(
                /^dso-registry:existingPullUsername: is not set.*pulumi config set --secret dso-registry:existingPullUsername/,
            ),
            expect.stringMatching(
                /^dso-registry:existingPullPassword: is not set.*pulumi config set --secret dso-registry:existingPullPassword/,
            ),
        ]);
        expect(problemsOf(existing, present("existingPullUsername", "existingPullPassword"))).toEqual([]);
    });
});

describe("registry.allowedNetworks in the cluster: enforced by the ingress controller in use, or refused", () => {
    it.each([
        ["ingress-nginx's class", { ingressClass: "nginx" }, undefined],
        ["microk8s's class", { ingressClass: "public" }, undefined],
        ["Traefik's class", { ingressClass: "traefik" }, undefined],
        ["a class of ingress-nginx under another name", { ingressClass: "nginx-internal", ingressController: "nginx" }, undefined],
        [
            "a class this program does not know",
            { ingressClass: "haproxy" },
            /cannot be enforced behind inCluster\.ingressClass "haproxy".*inCluster\.ingressController/,
        ],
    ])("%s", (_name, inCluster, refused) => {
        const raw = set(set(base(), "registry.allowedNetworks", ["10.0.0.0/8"]), "inCluster", inCluster);
        const problem = problemsOf(raw).find((p) => p.startsWith("dso-registry:registry.allowedNetworks: "));
        if (refused) expect(problem).toMatch(refused);
        else expect(problem).toBeUndefined();
    });

    it("resolves the controller from the class name unless the stack names it", () => {
        const controller = (inCluster: object) => {
            // The login limit off: on, ingress-nginx's would be refused until its open routes are accepted (test/unit/loginLimit.config.test.ts).
            const { registry } = parseConfig(set(set(base(), "inCluster", inCluster), "registry.loginLimit", { enabled: false })).config;
            return registry.mode === "in-cluster" ? registry.inCluster.ingressController : "not in-cluster";
        };
        expect([
            controller({ ingressClass: "public" }),
            controller({ ingressClass: "traefik" }),
            controller({ ingressClass: "haproxy" }),
        ]).toEqual(["nginx", "traefik", undefined]);
        expect(controller({ ingressClass: "edge", ingressController: "traefik" })).toBe("traefik");
    });
});

describe("inCluster.exposure gateway: the allowlist in the pod's Caddy needs the controller's networks", () => {
    const gateway = (g: object, allowed: string[] = ["10.0.0.0/8"]) =>
        set(set(set(base(), "registry.allowedNetworks", allowed), "inCluster.exposure", "gateway"), "inCluster.gateway", g);
    it.each([
        [
            "an allowlist without proxyNetworks",
            gateway({}),
            /inCluster\.gateway\.proxyNetworks: is empty, but registry\.allowedNetworks is set/,
        ],
        ["an allowlist with the controller's network", gateway({ proxyNetworks: ["10.42.0.0/16"] }), undefined],
        ["no allowlist, no proxyNetworks", gateway({}, []), undefined],
        [
            "a created Gateway in another namespace",
            gateway({ className: "traefik", namespace: "gateways", proxyNetworks: ["10.42.0.0/16"] }),
            /inCluster\.gateway\.namespace: is "gateways", but inCluster\.gateway\.className makes the stack create the Gateway/,
        ],
        ["an operator's Gateway in another namespace", gateway({ namespace: "gateways", proxyNetworks: ["10.42.0.0/16"] }), undefined],
        [
            "a created Gateway's route on a listener it does not have",
            gateway({ className: "traefik", sectionName: "websecure", proxyNetworks: ["10.42.0.0/16"] }),
            /inCluster\.gateway\.sectionName: is "websecure", but the Gateway the stack creates .* has one listener, "https"/,
        ],
        [
            "a created Gateway's route on its listener",
            gateway({ className: "traefik", sectionName: "https", proxyNetworks: ["10.42.0.0/16"] }),
            undefined,
        ],
        [
            "an operator's Gateway, on a listener of theirs",
            gateway({ sectionName: "websecure", proxyNetworks: ["10.42.0.0/16"] }),
            undefined,
        ],
        // Behind a Gateway the controller need not be known: the sidecar enforces the list.
        [
            "a class this program does not know",
            set(gateway({ proxyNetworks: ["10.42.0.0/16"] }), "inCluster.ingressClass", "haproxy"),
            undefined,
        ],
    ])("%s", (_name, raw, refused) => {
        const problems = problemsOf(raw).filter(
            (p) => p.startsWith("dso-registry:inCluster.gateway") || p.startsWith("dso-registry:registry.allowedNetworks"),
        );
        if (refused) expect(problems).toEqual([expect.stringMatching(refused)]);
        else expect(problems).toEqual([]);
    });

    it("warns that Traefik's ignoreNetworks and the Gateway's settings have no effect where they have none", () => {
        const warned = (raw: Record<string, any>) => parseConfig(raw).warnings.map((w) => w.key);
        const limit = (raw: object) => set(raw, "registry.loginLimit.tokenRequestsPerMinute", 30);
        // Behind a Gateway on another controller the limit on is refused (test/unit/loginLimit.config.test.ts); on Traefik it acts.
        expect(warned(limit(set(set(base(), "inCluster.exposure", "gateway"), "inCluster.ingressController", "traefik")))).not.toContain(
            "dso-registry:registry.loginLimit.tokenRequestsPerMinute",
        );
        expect(
            warned(set(set(base(), "inCluster.ingressClass", "traefik"), "registry.loginLimit.ignoreNetworks", ["10.0.0.0/8"])),
        ).toContain("dso-registry:registry.loginLimit.ignoreNetworks");
        expect(warned(set(base(), "inCluster.gateway", { name: "shared" }))).toContain("dso-registry:inCluster.gateway.name");
        const gatewayOnTraefik = set(set(base(), "inCluster.exposure", "gateway"), "inCluster.ingressController", "traefik");
        expect(warned(set(gatewayOnTraefik, "inCluster.gateway", { port: 8443 }))).toContain("dso-registry:inCluster.gateway.port");
    });
});

describe("registry.maintenance.backup in the cluster: to S3, of the registry's volume", () => {
    const backupSecrets = present("backupRepositoryPassword", "backupS3AccessKeyId", "backupS3SecretAccessKey");
    const s3Destination = { kind: "s3", bucket: "registry-backup", endpoint: "https://minio.example.test" };
    const cases: { name: string; raw: () => Record<string, any>; refused: RegExp | undefined }[] = [
        {
            name: "S3 destination on the registry's volume",
            raw: () => set(base(), "registry.maintenance.backup", { enabled: true, destination: s3Destination }),
            refused: undefined,
        },
        {
            name: "SFTP destination",
            raw: () =>
                set(base(), "registry.maintenance.backup", {
                    enabled: true,
                    destination: { kind: "sftp", host: "backup-01", path: "/srv/restic", hostKey: "ssh-ed25519 AAAAC3Nza" },
                }),
            refused:
                /^dso-registry:registry\.maintenance\.backup\.destination\.kind: is "sftp", but the in-cluster registry backs up to S3-compatible storage or a volume of its own/,
        },
        {
            name: "images in an S3 bucket (no volume to back up)",
            raw: () =>
                set(set(base(), "registry.storage", { kind: "s3", s3: { bucket: "images" } }), "registry.maintenance.backup", {
                    enabled: true,
                    destination: s3Destination,
                }),
            refused:
                /^dso-registry:registry\.maintenance\.backup\.enabled: backs up the registry's volume, and with registry\.storage\.kind "s3"/,
        },
        {
            name: "a volume of its own",
            raw: () => set(base(), "registry.maintenance.backup", { enabled: true, destination: { kind: "volume", size: "200Gi" } }),
            refused: undefined,
        },
        {
            name: "a volume for the external host",
            raw: () => set(external(), "registry.maintenance.backup", { enabled: true, destination: { kind: "volume" } }),
            refused:
                /^dso-registry:registry\.maintenance\.backup\.destination\.kind: is "volume", but the external host backs up to another machine .*"volume" backs up the in-cluster registry only/,
        },
        {
            name: "S3 destination without its bucket",
            raw: () => set(base(), "registry.maintenance.backup", { enabled: true, destination: { kind: "s3" } }),
            refused: /destination\.bucket/,
        },
    ];
    it.each(cases)("$name", ({ raw, refused }) => {
        const secrets =
            raw().registry.storage?.kind === "s3" ? { ...backupSecrets, ...present("s3AccessKeyId", "s3SecretAccessKey") } : backupSecrets;
        const problems = problemsOf(raw(), secrets);
        if (refused) expect(problems.join("\n")).toMatch(refused);
        else expect(problems).toEqual([]);
    });
});

describe("advice that contradicts no other rule", () => {
    it.each([
        ["kind", { containerRegistry: { host: "localhost", pathPrefix: "dev" }, registry: { mode: "kind", replicas: 3 } }],
        ["external-host", set(external(), "registry.replicas", 2)],
    ])(
        "several replicas on %s are refused by the mode's shape, without advice to set S3 storage, which that mode refuses too",
        (mode, raw) => {
            const problems = problemsOf(raw as Record<string, unknown>, present("containerRegistryPassword"));
            expect(problems).toContain(
                `dso-registry:registry.replicas: has no place with registry.mode "${mode}": remove it (pulumi config rm --path 'dso-registry:registry.replicas'), or change that setting`,
            );
            expect(problems.filter((p) => /storage\.kind "s3"/.test(p))).toEqual([]);
        },
    );
});
