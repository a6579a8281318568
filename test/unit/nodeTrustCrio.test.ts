/**
 * The "crio" runtime (CRI-O nodes, podman hosts), pure part: the config accepts it where runtimes are
 * chosen and says what it cannot do, and the registries.conf drop-in it gets. Its files with the real
 * skopeo and podman: test/integration/nodeTrustCrio.test.ts.
 * Covers: components/nodeTrust/files.ts (the crio flavour).
 */
import { describe, expect, it } from "vitest";
import { type ConfigProblem, parseConfig } from "../../components/config";
import { MANAGED_HEADER, renderRegistriesConf } from "../../components/nodeTrust/files";
import { configProblems } from "../support/configProblems";

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOfTheCrioConfigTest";
const containerRegistry = { host: "registry.example.test", pathPrefix: "team" };

const problemsOf = (raw: Record<string, unknown>): string[] => configProblems(raw, {}, { allowMissingSecrets: true });

function mirrorWarnings(raw: Record<string, unknown>): ConfigProblem[] {
    return parseConfig(raw, {}, { allowMissingSecrets: true }).warnings.filter((w) => w.key === "dso-registry:registry.mirrors");
}

describe("config: the crio runtime", () => {
    it.each([
        ["nodes.runtime, through the DaemonSet", { delivery: "daemonset", runtime: "crio" }],
        [
            "nodes.list[].runtime, over SSH",
            { delivery: "ssh", list: [{ name: "podman-host", host: "10.0.0.7", hostKey: HOST_KEY, runtime: "crio" }] },
        ],
    ])("is accepted as %s", (_where, nodes) => {
        expect(problemsOf({ containerRegistry, registry: { mode: "in-cluster" }, nodes })).toEqual([]);
    });

    it("nodes of runtime crio hold no pull account: reads that need one are refused without pull secrets", () => {
        const raw = {
            containerRegistry: { ...containerRegistry, requiresAuthForPull: true },
            registry: { mode: "in-cluster" },
            nodes: { delivery: "daemonset", runtime: "crio" },
        };
        expect(problemsOf(raw)).toEqual([
            expect.stringMatching(/requiresAuthForPull: .*nodes of runtime "crio" keep no registry credentials/),
        ]);
        expect(problemsOf({ ...raw, pullSecrets: { namespaces: ["apps"] } })).toEqual([]);
    });

    it("warns that caches only accounts may pull through refuse CRI-O's pulls, naming the nodes", () => {
        const raw = {
            containerRegistry,
            registry: { mode: "in-cluster", mirrors: [{ upstream: "docker.io" }] },
            nodes: {
                delivery: "ssh",
                runtime: "containerd",
                list: [
                    { name: "crio-1", host: "10.0.0.7", hostKey: HOST_KEY, runtime: "crio" },
                    { name: "ctr-1", host: "10.0.0.8", hostKey: HOST_KEY },
                ],
            },
        };
        const warnings = mirrorWarnings(raw);
        expect(warnings.map((w) => w.message)).toEqual([
            expect.stringMatching(
                /nodes of runtime "crio" \(crio-1\) hold no account: the caches refuse their pulls.*registry\.mirrorPull to "allowlist"/,
            ),
        ]);
    });

    it.each([
        ["caches open to anyone", { mirrorPull: "anonymous" }],
        ["caches open to the allowlist", { allowedNetworks: ["10.0.0.0/8"] }],
    ])("does not warn with %s", (_name, extra) => {
        const raw = {
            containerRegistry,
            registry: { mode: "in-cluster", mirrors: [{ upstream: "docker.io" }], ...extra },
            nodes: { delivery: "daemonset", runtime: "crio" },
            // An allowlist needs a class whose controller enforces it: the default class's controller is unknown.
            inCluster: { ingressClass: "traefik" },
        };
        expect(mirrorWarnings(raw)).toEqual([]);
    });
});

describe("renderRegistriesConf", () => {
    const registry = { host: "registry.example.test", port: 443, plainHttp: false };

    it("points each mirrored upstream at the registry's cache, with the upstream itself as the fallback", () => {
        const text = renderRegistriesConf({
            ...registry,
            mirrors: [
                { upstream: "docker.io", pathName: "docker.io" },
                { upstream: "registry.example.com:5000", pathName: "registry.example.com-5000" },
            ],
        });
        expect(text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))).toEqual([
            "[[registry]]",
            'prefix = "docker.io"',
            'location = "docker.io"',
            "[[registry.mirror]]",
            'location = "registry.example.test/mirrors/docker.io"',
            "[[registry]]",
            'prefix = "registry.example.com:5000"',
            'location = "registry.example.com:5000"',
            "[[registry.mirror]]",
            'location = "registry.example.test/mirrors/registry.example.com-5000"',
        ]);
        expect(text.startsWith(`${MANAGED_HEADER}\n`)).toBe(true);
    });

    it("without mirrors is comments only (the CA needs no entry: it is in certs.d)", () => {
        expect(
            renderRegistriesConf({ ...registry, port: 5000 })
                .split("\n")
                .every((l) => l === "" || l.startsWith("#")),
        ).toBe(true);
    });

    it("marks a plain-HTTP registry insecure, under its host:port", () => {
        const text = renderRegistriesConf({ ...registry, port: 5000, plainHttp: true });
        expect(text).toContain(
            '[[registry]]\nprefix = "registry.example.test:5000"\nlocation = "registry.example.test:5000"\ninsecure = true\n',
        );
    });
});
