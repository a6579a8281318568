/**
 * The pull-through caches of `registry.mirrors`: their config and the nodes' entries for them. The external
 * host's cache sockets and prune job: hostCaches.test.ts.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../../components/config";
import {
    defaultRemoteUrl,
    mirrorAge,
    mirrorCaFile,
    mirrorPathName,
    parseMirrorCredentials,
    quantityBytes,
    renderMirrorConfig,
    renderMirrorEnvFile,
    renderMirrorHostsToml,
} from "../../components/mirrors/mirrors";
import { trustPlan } from "../../components/nodeTrust/files";
import { registriesYamlScript, renderRegistriesEntries } from "../../components/nodeTrust/registriesYaml";
import { isDistribution3Image } from "../../components/shared/facts";
import { configProblems } from "../support/configProblems";

const base = (mirrors: unknown[], mode = "in-cluster"): Record<string, unknown> => ({
    containerRegistry: { host: "registry.example.com", pathPrefix: "team" },
    registry: { mode, mirrors, ...(mode === "existing" ? { tls: { mode: "public" } } : {}) },
});

const problemsOf = (raw: Record<string, unknown>): string[] => configProblems(raw, {}, { allowMissingSecrets: true });

describe("mirror names and URLs", () => {
    it.each([
        ["docker.io", "https://registry-1.docker.io", "docker.io"],
        ["ghcr.io", "https://ghcr.io", "ghcr.io"],
        ["registry.example.com:5000", "https://registry.example.com:5000", "registry.example.com-5000"],
    ])("%s: API %s, path name %s", (upstream, url, pathName) => {
        expect(defaultRemoteUrl(upstream)).toBe(url);
        expect(mirrorPathName(upstream)).toBe(pathName);
    });

    it.each([
        ["20Gi", 20 * 2 ** 30],
        ["500M", 500e6],
        ["1024", 1024],
        ["1.5Ki", 1536],
        ["20GB", undefined],
        ["", undefined],
    ])("quantity %s is %s bytes", (quantity, bytes) => {
        expect(quantityBytes(quantity)).toBe(bytes);
    });
});

describe("the cache's config and upstream account", () => {
    it("is Distribution in proxy mode with the upstream and the ttl, and no account in it", () => {
        const text = renderMirrorConfig({ addr: ":5000", rootDirectory: "/var/lib/registry", remoteUrl: "https://ghcr.io", ttl: "24h" });
        expect(text).toContain('proxy:\n  remoteurl: "https://ghcr.io"\n  ttl: 24h\n');
        expect(text).not.toMatch(/username|password/);
    });

    it("puts the account in Distribution's environment names", () => {
        expect(renderMirrorEnvFile({ username: "bot", password: "p=w d" })).toBe(
            "REGISTRY_PROXY_USERNAME=bot\nREGISTRY_PROXY_PASSWORD=p=w d\n",
        );
    });

    it.each([[{ username: "bot", password: "a\nb" }], [{ username: "", password: "x" }]])(
        "refuses an account an env file cannot hold: %j",
        (account) => {
            expect(() => renderMirrorEnvFile(account)).toThrow(/mirrorCredentials/);
        },
    );

    it("reads the accounts from the secret, keyed by upstream", () => {
        const json = JSON.stringify({ "docker.io": { username: "me", password: "tok" }, "quay.io": { username: "q", password: "r" } });
        expect(parseMirrorCredentials(json, ["docker.io"])).toEqual({ "docker.io": { username: "me", password: "tok" } });
    });

    it.each([
        ["not json", /is not JSON/],
        ["[]", /not a JSON object/],
        ['{"ghcr.io": {"username": "a", "password": "b"}}', /no "username" and "password" for "docker.io"/],
        ['{"docker.io": {"username": "a"}}', /for "docker.io"/],
    ])("refuses the secret %s, naming what to set", (json, message) => {
        expect(() => parseMirrorCredentials(json, ["docker.io"])).toThrow(message);
    });
});

describe("nodes", () => {
    const mirror = { upstream: "docker.io", pathName: "docker.io" };
    const target = {
        host: "registry.example.com",
        port: 443,
        hasCa: true,
        hasPullAuth: false,
        hasAddress: false,
        plainHttp: false,
        mirrors: [mirror],
    };

    it("containerd's hosts.toml lists the cache first at its path, and the upstream as the server", () => {
        const text = renderMirrorHostsToml({
            mirror,
            registryHost: "registry.example.com",
            registryPort: 443,
            caFile: mirrorCaFile("registry.example.com"),
            header: "# h",
        });
        expect(text).toBe(
            [
                "# h",
                'server = "https://registry-1.docker.io"',
                "",
                '[host."https://registry.example.com/v2/mirrors/docker.io"]',
                '  capabilities = ["pull", "resolve"]',
                "  override_path = true",
                '  ca = "../registry.example.com/ca.crt"',
                "",
            ].join("\n"),
        );
    });

    it.each(["containerd", "microk8s", "kind"] as const)(
        "a %s node gets a hosts.toml per upstream next to the registry's directory",
        (flavour) => {
            const plan = trustPlan(flavour, target);
            const file = plan.steps.find((s) => s.kind === "file" && s.role === "mirror-hosts-toml");
            expect(file?.kind === "file" && file.path).toMatch(/\/certs\.d\/docker\.io\/hosts\.toml$/);
            expect(plan.steps.some((s) => s.kind === "dir" && s.path.endsWith("/docker.io"))).toBe(true);
        },
    );

    it("a Docker engine node gets no mirror file (dockerd has no per-upstream mirror setting)", () => {
        expect(trustPlan("docker", target).steps.some((s) => s.kind === "file" && s.role === "mirror-hosts-toml")).toBe(false);
    });

    it("k3s / RKE2 registries.yaml points the upstream at the registry and rewrites onto the cache's path", () => {
        const text = renderRegistriesEntries({ host: "registry.example.com", port: 443, plainHttp: false, mirrors: [mirror] });
        expect(text).toContain(
            '  "docker.io":\n    endpoint:\n      - "https://registry.example.com"\n    rewrite:\n      "^(.*)$": "mirrors/docker.io/$1"\n',
        );
    });
});

describe("the registries.yaml merge with mirror entries (sh and awk)", () => {
    const file = "/etc/rancher/k3s/registries.yaml";
    const merge = (existing: string) => {
        const root = mkdtempSync(path.join(tmpdir(), "dso-mirrors-merge-"));
        try {
            mkdirSync(path.join(root, "etc/rancher/k3s"), { recursive: true });
            writeFileSync(path.join(root, file), existing);
            const entries = renderRegistriesEntries({
                host: "registry.example.com",
                port: 443,
                plainHttp: false,
                mirrors: [{ upstream: "docker.io", pathName: "docker.io" }],
            });
            const body = registriesYamlScript(
                { path: file, authority: "registry.example.com", secret: false },
                { flavour: "k3s", units: ["k3s"], settings: { allow: false, timeoutSeconds: 1 } },
                "apply",
            );
            const r = spawnSync("sh", ["-c", body], { input: entries, env: { ...process.env, DSO_ROOT: root }, encoding: "utf8" });
            return { code: r.status, stderr: r.stderr, text: readFileSync(path.join(root, file), "utf8") };
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    };

    it("adds the upstream's entry inside the program's block and keeps the operator's other entries", () => {
        const r = merge("mirrors:\n  quay.io:\n    endpoint:\n      - https://q.example\n");
        expect(r.code, r.stderr).toBe(0);
        expect(r.text).toMatch(
            /# BEGIN dso-registry registry\.example\.com[^\n]*\n(?:.*\n)* {2}"docker\.io":\n(?:.*\n)* {2}# END dso-registry/,
        );
        expect(r.text).toContain("  quay.io:\n    endpoint:\n      - https://q.example\n");
    });

    it("refuses, changing nothing, when the operator has an entry of its own for that upstream", () => {
        const existing = "mirrors:\n  docker.io:\n    endpoint:\n      - https://other.example\n";
        const r = merge(existing);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/mirrors\.docker\.io exists and was not written by dso-registry/);
        expect(r.text).toBe(existing);
    });
});

describe("how long a cache keeps content", () => {
    it.each([
        ["72h", "registry:2.8.3", "72h"],
        ["168h", "registry:2.8.3", "168h"],
        ["720h", "registry:2.8.3", "168h"],
        ["720h", "registry:3.0.0", "720h"],
        ["30m", "registry:3", "30m"],
    ])("maxAge %s with %s keeps it %s", (maxAge, image, kept) => {
        expect(mirrorAge(maxAge, image)).toBe(kept);
    });

    it("gives Distribution 2 no proxy.ttl, which it has not", () => {
        const text = renderMirrorConfig({ addr: ":5000", rootDirectory: "/var/lib/registry", remoteUrl: "https://ghcr.io" });
        expect(text).toContain('proxy:\n  remoteurl: "https://ghcr.io"\nhttp:\n');
    });
});

describe("maxAge that Distribution 2 cannot honour", () => {
    const raw = (mode: string, maxAge: string, image?: string): Record<string, unknown> => ({
        containerRegistry: { host: "registry.example.com", pathPrefix: "team" },
        registry: { mode, mirrors: [{ upstream: "quay.io", maxAge }], ...(image ? { image } : {}) },
        ...(mode === "external-host" ? { externalHost: { ssh: { host: "10.0.0.5", allowUnpinnedHostKey: true } } } : {}),
    });
    const ageWarnings = (r: Record<string, unknown>) =>
        parseConfig(r, {}, { allowMissingSecrets: true })
            .warnings.filter((w) => w.key.endsWith(".maxAge"))
            .map((w) => `${w.key}: ${w.message}`);

    it.each([
        [
            "in-cluster",
            "72h",
            "registry:2.8.3",
            /^dso-registry:registry\.mirrors\[0\]\.maxAge: has no effect with registry\.mode "in-cluster" and Distribution 2 \(registry\.image "registry:2\.8\.3"\).*the default, "registry:3\.1\.2"/,
        ],
        ["in-cluster", "720h", "registry:2.8.3", /maxAge: has no effect/],
        [
            "external-host",
            "720h",
            "registry:2.8.3",
            /^dso-registry:registry\.mirrors\[0\]\.maxAge: "720h" has no effect with Distribution 2 \(registry\.image "registry:2\.8\.3"\) beyond 168h.*set 168h or less/,
        ],
    ])("warns with registry.mode %s and maxAge %s, naming the key and the fix", (mode, maxAge, image, message) => {
        const warnings = ageWarnings(raw(mode, maxAge, image));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(message);
    });

    it.each([
        ["in-cluster", "168h", "registry:2.8.3"],
        ["in-cluster", "72h", undefined],
        ["in-cluster", "72h", "registry:3.0.0"],
        ["external-host", "72h", undefined],
        ["external-host", "168h", undefined],
        ["external-host", "720h", "registry:3"],
    ])("is quiet with registry.mode %s, maxAge %s and image %s: the age is honoured", (mode, maxAge, image) => {
        expect(ageWarnings(raw(mode, maxAge, image))).toEqual([]);
    });

    it.each([
        ["registry:3", true],
        ["registry:3.0.0", true],
        ["ghcr.io/distribution/distribution:3.0.0-rc.1", true],
        [`registry:3.0.0@sha256:${"a".repeat(64)}`, true],
        ["registry:2.8.3", false],
        ["registry:30", false],
        ["mirror.example.com:3000/registry:2.8.3", false],
        [`registry@sha256:${"a".repeat(64)}`, false],
    ])("%s is Distribution 3 by its tag: %s", (image, expected) => {
        expect(isDistribution3Image(image)).toBe(expected);
    });
});

describe("registry.mirrors config", () => {
    it("is accepted with defaults: 168h, 20Gi, no credentials", () => {
        const { config, requiredSecrets } = parseConfig(base([{ upstream: "docker.io" }]));
        expect(config.registry.mode !== "existing" && config.registry.mirrors).toEqual([
            { upstream: "docker.io", credentials: false, maxAge: "168h", maxSize: "20Gi" },
        ]);
        expect(requiredSecrets).not.toContain("mirrorCredentials");
    });

    it("needs the secret mirrorCredentials when an upstream has credentials", () => {
        expect(
            parseConfig(base([{ upstream: "docker.io", credentials: true }]), {}, { allowMissingSecrets: true }).requiredSecrets,
        ).toContain("mirrorCredentials");
        let problems: string[] = [];
        try {
            parseConfig(base([{ upstream: "docker.io", credentials: true }]));
        } catch (error) {
            if (error instanceof ConfigError) problems = error.problems.map((p) => `${p.key}: ${p.message}`);
        }
        expect(problems.join("\n")).toMatch(
            /dso-registry:mirrorCredentials: is not set.*pulumi config set --secret dso-registry:mirrorCredentials/,
        );
    });

    it.each([
        [[{ upstream: "https://docker.io" }], /registry\.mirrors\[0\]\.upstream.*has a scheme/],
        [[{ upstream: "Docker.io" }], /registry\.mirrors\[0\]\.upstream.*upper-case/],
        [[{ upstream: "docker.io" }, { upstream: "docker.io" }], /registry\.mirrors\[1\]\.upstream.*listed twice/],
        [[{ upstream: "registry.example.com" }], /registry\.mirrors\[0\]\.upstream.*this registry itself/],
        [[{ upstream: "quay.io", remoteUrl: "http://quay.io" }], /registry\.mirrors\[0\]\.remoteUrl.*https URL/],
        [[{ upstream: "quay.io", maxAge: "7d" }], /registry\.mirrors\[0\]\.maxAge.*duration/],
        [[{ upstream: "quay.io", maxSize: "lots" }], /registry\.mirrors\[0\]\.maxSize.*quantity/],
    ])("refuses %j, naming the key", (mirrors, message) => {
        expect(problemsOf(base(mirrors)).join("\n")).toMatch(message);
    });

    it("refuses mirrors beside an existing registry", () => {
        expect(problemsOf(base([{ upstream: "docker.io" }], "existing")).join("\n")).toMatch(/registry\.mirrors.*existing registry/);
    });
});
