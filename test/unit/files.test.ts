/**
 * The files node trust places on a node, per runtime flavour: the plan, hosts.toml, the /etc/hosts block,
 * registries.yaml and the scripts that apply and remove them.
 * Covers: components/nodeTrust/files.ts, components/nodeTrust/registriesYaml.ts.
 */
import { describe, expect, it } from "vitest";
import * as YAML from "yaml";
import {
    type FileStep,
    filesPlacedIn,
    hostsAddressProblem,
    MANAGED_HEADER,
    markMirrorHostsToml,
    mirrorBlockMarkers,
    type RuntimeFlavour,
    renderHostsToml,
    type TrustTarget,
    trustPlan,
    trustTargetProblem,
} from "../../components/nodeTrust/files";
import { renderRegistriesEntries } from "../../components/nodeTrust/registriesYaml";
import { registryAuthority } from "../../components/shared/facts";

const target: TrustTarget = {
    host: "registry.example.com",
    port: 5000,
    hasCa: true,
    hasPullAuth: false,
    hasAddress: true,
    plainHttp: false,
};

describe("registryAuthority", () => {
    it.each([
        [443, "registry.example.com"],
        [5000, "registry.example.com:5000"],
    ])("port %i gives %s", (port, expected) => {
        expect(registryAuthority("registry.example.com", port)).toBe(expected);
    });
});

describe("trustPlan: the files each flavour gets", () => {
    const cases: [RuntimeFlavour, string[]][] = [
        [
            "microk8s",
            [
                "dir /var/snap/microk8s/current/args/certs.d/registry.example.com:5000",
                "file /var/snap/microk8s/current/args/certs.d/registry.example.com:5000/ca.crt",
                "file /var/snap/microk8s/current/args/certs.d/registry.example.com:5000/hosts.toml",
                "etc-hosts /etc/hosts",
            ],
        ],
        [
            "containerd",
            [
                "dir /etc/containerd/certs.d/registry.example.com:5000",
                "file /etc/containerd/certs.d/registry.example.com:5000/ca.crt",
                "file /etc/containerd/certs.d/registry.example.com:5000/hosts.toml",
                "config-path /etc/containerd/config.toml",
                "etc-hosts /etc/hosts",
            ],
        ],
        [
            "kind",
            [
                "dir /etc/containerd/certs.d/registry.example.com:5000",
                "file /etc/containerd/certs.d/registry.example.com:5000/ca.crt",
                "file /etc/containerd/certs.d/registry.example.com:5000/hosts.toml",
                "etc-hosts /etc/hosts",
            ],
        ],
        [
            "docker",
            [
                "dir /etc/docker/certs.d/registry.example.com:5000",
                "file /etc/docker/certs.d/registry.example.com:5000/ca.crt",
                "etc-hosts /etc/hosts",
            ],
        ],
        [
            "k3s",
            [
                "file /etc/rancher/k3s/dso-registry-ca-registry.example.com:5000.crt",
                "file /etc/rancher/k3s/registries.yaml",
                "etc-hosts /etc/hosts",
            ],
        ],
        [
            "rke2",
            [
                "file /etc/rancher/rke2/dso-registry-ca-registry.example.com:5000.crt",
                "file /etc/rancher/rke2/registries.yaml",
                "etc-hosts /etc/hosts",
            ],
        ],
        [
            "crio",
            [
                "dir /etc/containers/certs.d/registry.example.com:5000",
                "file /etc/containers/certs.d/registry.example.com:5000/ca.crt",
                "file /etc/containers/registries.conf.d/dso-registry-registry.example.com:5000.conf",
                "etc-hosts /etc/hosts",
            ],
        ],
    ];
    it.each(cases)("%s", (flavour, expected) => {
        const steps = trustPlan(flavour, target).steps.map((s) => `${s.kind} ${s.kind === "config-path" ? s.configFile : s.path}`);
        expect(steps).toEqual(expected);
    });

    it.each([
        ["k3s", ["k3s", "k3s-agent"]],
        ["rke2", ["rke2-server", "rke2-agent"]],
    ] as const)("%s restarts %j after registries.yaml changes", (flavour, units) => {
        const registries = trustPlan(flavour, target).steps.find((s) => s.kind === "file" && s.role === "registries-yaml");
        expect(registries).toMatchObject({ restartUnits: units });
    });

    it("a public CA (no CA file) leaves out ca.crt but keeps hosts.toml", () => {
        const roles = trustPlan("containerd", { ...target, hasCa: false }).steps.flatMap((s) => (s.kind === "file" ? [s.role] : []));
        expect(roles).toEqual(["hosts-toml"]);
    });

    it("no address means no /etc/hosts step", () => {
        const kinds = trustPlan("microk8s", { ...target, hasAddress: false }).steps.map((s) => s.kind);
        expect(kinds).not.toContain("etc-hosts");
    });

    it("registries.yaml with pull credentials is a secret file with mode 0600", () => {
        const registries = trustPlan("k3s", { ...target, hasPullAuth: true }).steps.find(
            (s) => s.kind === "file" && s.role === "registries-yaml",
        );
        expect(registries).toMatchObject({ secret: true, mode: "0600" });
    });

    it.each(["k3s", "rke2"] as const)("%s registries.yaml is merged (keyed by the authority), not owned whole", (flavour) => {
        const registries = trustPlan(flavour, target).steps.find((s) => s.kind === "file" && s.role === "registries-yaml");
        expect(registries).toMatchObject({ mergeKey: "registry.example.com:5000" });
    });

    it.each(["containerd", "microk8s", "kind"] as const)(
        "%s hosts.toml with pull credentials is a secret file with mode 0600",
        (flavour) => {
            const hostsToml = trustPlan(flavour, { ...target, hasPullAuth: true }).steps.find(
                (s) => s.kind === "file" && s.role === "hosts-toml",
            );
            expect(hostsToml).toMatchObject({ secret: true, mode: "0600" });
        },
    );

    it.each(["containerd", "microk8s", "kind"] as const)(
        "%s merges a mirrored upstream's hosts.toml (keyed by the registry) instead of owning it, and its directory's removal leaves it",
        (flavour) => {
            const plan = trustPlan(flavour, { ...target, mirrors: [{ upstream: "docker.io", pathName: "docker.io" }] });
            const mirror = plan.steps.find((s): s is FileStep => s.kind === "file" && s.role === "mirror-hosts-toml");
            expect(mirror).toMatchObject({ mergeKey: "registry.example.com:5000" });
            expect(filesPlacedIn(plan, mirror!.path.replace(/\/hosts\.toml$/, ""))).toEqual([]);
            expect(plan.mirrorCertsDir).toBe(mirror!.path.replace(/\/docker\.io\/hosts\.toml$/, ""));
        },
    );

    it("CRI-O reloads after its drop-in changed; nothing else it gets needs one", () => {
        const files = trustPlan("crio", target).steps.flatMap((s) => (s.kind === "file" ? [[s.role, s.reloadUnits ?? []]] : []));
        expect(files).toEqual([
            ["ca", []],
            ["registries-conf", ["crio"]],
        ]);
    });

    it("hosts.toml without pull credentials is world-readable", () => {
        const hostsToml = trustPlan("containerd", target).steps.find((s) => s.kind === "file" && s.role === "hosts-toml");
        expect(hostsToml).toMatchObject({ secret: false, mode: "0644" });
    });
});

describe("trustTargetProblem", () => {
    it.each([
        ["containerd", { plainHttp: true, hasCa: true }, /plain-HTTP registry has no certificate/],
        ["docker", { plainHttp: true, hasCa: false }, /insecure-registries/],
        ["docker", { hasPullAuth: true }, /imagePullSecret/],
        ["crio", { hasPullAuth: true }, /imagePullSecret \(dso-registry:pullSecrets\.namespaces\)/],
    ] as const)("%s with %j is refused", (flavour, change, message) => {
        expect(trustTargetProblem(flavour, { ...target, ...change })).toMatch(message);
    });

    it.each([
        ["k3s", { hasPullAuth: true }],
        ["rke2", { hasPullAuth: true }],
        ["containerd", { hasPullAuth: true }],
        ["microk8s", { hasPullAuth: true }],
        ["kind", { hasPullAuth: true }],
        ["containerd", { plainHttp: true, hasCa: false }],
        ["crio", { plainHttp: true, hasCa: false }],
        ["microk8s", {}],
    ] as const)("%s with %j is accepted", (flavour, change) => {
        expect(trustTargetProblem(flavour, { ...target, ...change })).toBeUndefined();
    });

    it("trustPlan throws the problem with the flavour named", () => {
        expect(() => trustPlan("docker", { ...target, hasCa: false, plainHttp: true })).toThrow(/node trust \(docker\)/);
    });
});

describe("renderHostsToml", () => {
    it("points server and host at the registry and the CA next to the file", () => {
        expect(renderHostsToml(target)).toBe(
            [
                MANAGED_HEADER,
                'server = "https://registry.example.com:5000"',
                "",
                '[host."https://registry.example.com:5000"]',
                '  capabilities = ["pull", "resolve"]',
                '  ca = "ca.crt"',
                "",
            ].join("\n"),
        );
    });

    it("has no ca line without a CA", () => {
        expect(renderHostsToml({ ...target, hasCa: false })).not.toContain("ca =");
    });

    it("uses http:// only for a plain-HTTP registry", () => {
        expect(renderHostsToml({ ...target, hasCa: false, plainHttp: true })).toContain('server = "http://registry.example.com:5000"');
    });

    it("leaves the port out for 443", () => {
        expect(renderHostsToml({ ...target, port: 443 })).toContain('[host."https://registry.example.com"]');
    });

    it("carries the pull account as a Basic Authorization header of the host", () => {
        const text = renderHostsToml({ ...target, auth: { username: "cluster-pull", password: 'p"a:ss\\wörd' } });
        const basic = Buffer.from('cluster-pull:p"a:ss\\wörd', "utf8").toString("base64");
        expect(text.split("\n").slice(-4)).toEqual([
            "",
            '[host."https://registry.example.com:5000".header]',
            `  Authorization = "Basic ${basic}"`,
            "",
        ]);
    });
});

describe("markMirrorHostsToml", () => {
    it("puts the markers of the registry around the [host] tables, after the header and server", () => {
        const rendered = `${MANAGED_HEADER}\nserver = "https://registry-1.docker.io"\n\n[host."https://r.example.com/v2/mirrors/docker.io"]\n  capabilities = ["pull", "resolve"]\n`;
        const { begin, end } = mirrorBlockMarkers("r.example.com");
        expect(markMirrorHostsToml(rendered, "r.example.com")).toBe(
            [
                MANAGED_HEADER,
                'server = "https://registry-1.docker.io"',
                "",
                begin,
                '[host."https://r.example.com/v2/mirrors/docker.io"]',
                '  capabilities = ["pull", "resolve"]',
                end,
                "",
            ].join("\n"),
        );
    });
});

describe("renderRegistriesEntries", () => {
    it("has the mirror, the CA file and the pull account, as k3s reads them", () => {
        const text = renderRegistriesEntries({
            host: "registry.example.com",
            port: 443,
            plainHttp: false,
            caFile: "/etc/rancher/k3s/dso-registry-ca-registry.example.com.crt",
            auth: { username: "cluster-pull", password: 'p"a:ss\\word' },
        });
        expect(YAML.parse(text)).toEqual({
            mirrors: { "registry.example.com": { endpoint: ["https://registry.example.com"] } },
            configs: {
                "registry.example.com": {
                    tls: { ca_file: "/etc/rancher/k3s/dso-registry-ca-registry.example.com.crt" },
                    auth: { username: "cluster-pull", password: 'p"a:ss\\word' },
                },
            },
        });
    });

    it("has only the mirror without CA and credentials", () => {
        expect(YAML.parse(renderRegistriesEntries({ host: "r.example.com", port: 5000, plainHttp: false }))).toEqual({
            mirrors: { "r.example.com:5000": { endpoint: ["https://r.example.com:5000"] } },
        });
    });
});

describe("hostsAddressProblem", () => {
    it.each(["10.0.0.5", "127.0.0.1", "fd00::1", "::1"])("accepts %s", (address) => {
        expect(hostsAddressProblem(address)).toBeUndefined();
    });
    it.each(["registry.local", "10.0.0.256", "", "10.0.0.5 evil.example.com", "1:2:3", "::::::", "fe80::1%eth0"])(
        "refuses %j",
        (address) => {
            expect(hostsAddressProblem(address)).toMatch(/not an IP address/);
        },
    );
});
