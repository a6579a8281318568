/**
 * The CA through trust-manager (`caConfigMap.delivery: "trust-manager"`): the Bundle's documented fields
 * (there is no schema for trust-manager's CRD in kubernetes-models, so they are asserted one by one,
 * as cert-manager.io/docs/trust/trust-manager/api-reference lists them), the source ConfigMap against the
 * API schema, what the synth writes instead of the program's own ConfigMaps, and the config rules.
 */

import { describe, expect, it, test } from "vitest";
import * as YAML from "yaml";
import { ConfigError, type ConfigProblem, PROJECT, parseConfig } from "../../components/config";
import { CA_BUNDLE_SOURCE, namespacesByName, renderCaBundle } from "../../components/inCluster/caBundle";
import { CA_CONFIG_MAP } from "../../components/inCluster/caConfigMaps";
import { synthesizeConfig } from "../../tools/synth";
import { schemaProblems } from "../support/k8sValidate";

const pem = (marker: string) => `-----BEGIN CERTIFICATE-----\n${marker}\n-----END CERTIFICATE-----\n`;
const PEM = pem("MIIBcaBundleTest");

describe("namespacesByName", () => {
    test.each([
        [["jenkins"], { matchLabels: { "kubernetes.io/metadata.name": "jenkins" } }],
        [["jenkins", "apps"], { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["jenkins", "apps"] }] }],
    ])("%j -> %j", (namespaces, selector) => {
        expect(namespacesByName(namespaces)).toEqual(selector);
    });
});

describe("renderCaBundle", () => {
    const [source, bundle] = renderCaBundle({ namespaces: ["jenkins", "apps", "jenkins"], caCertPem: PEM, trustNamespace: "cert-manager" });

    test("the source is ConfigMap dso-registry-ca-source in the trust namespace, holding the CA as ca.crt", () => {
        expect(source).toMatchObject({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: "dso-registry-ca-source", namespace: "cert-manager" },
            data: { "ca.crt": PEM },
        });
    });

    test("the source is valid against the Kubernetes API schema", async () => {
        expect(await schemaProblems(source!)).toEqual([]);
    });

    test("the Bundle is trust.cert-manager.io/v1alpha1, cluster-scoped, named as the ConfigMap the agents mount", () => {
        expect(bundle!.apiVersion).toBe("trust.cert-manager.io/v1alpha1");
        expect(bundle!.kind).toBe("Bundle");
        expect(bundle!.metadata.namespace).toBeUndefined();
        expect(bundle!.metadata.name).toBe(CA_CONFIG_MAP.name);
    });

    test("its one source is the trust namespace's ConfigMap, by name and key", () => {
        expect(bundle!.spec).toMatchObject({ sources: [{ configMap: { name: CA_BUNDLE_SOURCE.name, key: "ca.crt" } }] });
        expect(Object.keys((bundle!.spec as { sources: object[] }).sources[0]!)).toEqual(["configMap"]);
    });

    test("its target is key ca.crt of a ConfigMap, in exactly the named namespaces, each once", () => {
        expect((bundle!.spec as Record<string, unknown>).target).toEqual({
            configMap: { key: CA_CONFIG_MAP.key },
            namespaceSelector: {
                matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["jenkins", "apps"] }],
            },
        });
    });

    test("no namespace is refused: an empty selector would choose every namespace", () => {
        expect(() => renderCaBundle({ namespaces: [], caCertPem: PEM, trustNamespace: "cert-manager" })).toThrow(/every namespace/);
    });
});

// ---------------------------------------------------------------------------------------------
// The program: what the synth writes, and the config rules
// ---------------------------------------------------------------------------------------------

/** cert-manager with the issuer's CA given: the synth shows the CA itself (a generated one is unknown). */
const base = (caMarker: string, caConfigMap?: Record<string, unknown>): Record<string, unknown> => ({
    containerRegistry: { host: "registry.example.test", pathPrefix: "team" },
    registry: {
        mode: "in-cluster",
        tls: { mode: "cert-manager", certManagerIssuer: { name: "lab-ca" }, certManagerCaCertificate: pem(caMarker) },
    },
    jenkins: { enabled: true, url: "https://jenkins.example.test" },
    pullSecrets: { namespaces: ["apps"] },
    ...(caConfigMap ? { caConfigMap } : {}),
});

async function synth(raw: Record<string, unknown>): Promise<Map<string, string>> {
    const config = Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${PROJECT}:${k}`, JSON.stringify(v)]));
    return (await synthesizeConfig("ca-bundle", { config, secretKeys: [] })).files;
}

const k8sFiles = (files: Map<string, string>, pattern: RegExp) => [...files.keys()].filter((f) => pattern.test(f)).sort();

describe("the synth with caConfigMap.delivery trust-manager", () => {
    it("writes the Bundle and its source instead of the program's ConfigMaps, and the same agent pod templates", async () => {
        const program = await synth(base("MIIBsameCA"));
        const bundle = await synth(base("MIIBsameCA", { delivery: "trust-manager" }));
        expect(k8sFiles(program, /ConfigMap-dso-registry-ca|Bundle-/)).toEqual([
            "k8s/apps/ConfigMap-dso-registry-ca.yaml",
            "k8s/jenkins/ConfigMap-dso-registry-ca.yaml",
        ]);
        expect(k8sFiles(bundle, /ConfigMap-dso-registry-ca|Bundle-/)).toEqual([
            "k8s/_cluster/Bundle-dso-registry-ca.yaml",
            "k8s/cert-manager/ConfigMap-dso-registry-ca-source.yaml",
        ]);
        const written = YAML.parse(bundle.get("k8s/_cluster/Bundle-dso-registry-ca.yaml")!);
        expect(written).toMatchObject({
            apiVersion: "trust.cert-manager.io/v1alpha1",
            kind: "Bundle",
            metadata: { name: "dso-registry-ca" },
            spec: {
                sources: [{ configMap: { name: "dso-registry-ca-source", key: "ca.crt" } }],
                target: {
                    configMap: { key: "ca.crt" },
                    namespaceSelector: {
                        matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["jenkins", "apps"] }],
                    },
                },
            },
        });
        const agentPods = "k8s/jenkins/ConfigMap-dso-registry-agent-pods.yaml";
        expect(bundle.get(agentPods)).toBeDefined();
        expect(bundle.get(agentPods)).toBe(program.get(agentPods));
    });

    it("writes the source into caConfigMap.trustNamespace", async () => {
        const files = await synth(base("MIIBsameCA", { delivery: "trust-manager", trustNamespace: "trust-system" }));
        expect(k8sFiles(files, /ConfigMap-dso-registry-ca-source/)).toEqual(["k8s/trust-system/ConfigMap-dso-registry-ca-source.yaml"]);
    });

    it("carries a new CA in the source alone: the Bundle stays, trust-manager rewrites the copies", async () => {
        const before = await synth(base("MIIBoldCAofTheBundleTest", { delivery: "trust-manager" }));
        const after = await synth(base("MIIBnewCAofTheBundleTest", { delivery: "trust-manager" }));
        const changed = [...after.keys()].filter((f) => f.startsWith("k8s/") && after.get(f) !== before.get(f));
        expect(changed.filter((f) => !f.startsWith("k8s/dso-node-trust/") && !f.startsWith("k8s/dso/"))).toEqual([
            "k8s/cert-manager/ConfigMap-dso-registry-ca-source.yaml",
        ]);
        expect(after.get("k8s/cert-manager/ConfigMap-dso-registry-ca-source.yaml")).toContain("MIIBnewCAofTheBundleTest");
    });
});

function problemsOf(raw: Record<string, unknown>): readonly ConfigProblem[] {
    try {
        parseConfig(raw, {}, { allowMissingSecrets: true });
        return [];
    } catch (error) {
        if (error instanceof ConfigError) return error.problems;
        throw error;
    }
}

const DELIVERY_KEY = `${PROJECT}:caConfigMap.delivery`;

describe("caConfigMap in the config rules", () => {
    const host = { containerRegistry: { host: "registry.example.test", pathPrefix: "" } };
    const jenkins = { jenkins: { enabled: true, url: "https://jenkins.example.test" } };
    const trustManager = { caConfigMap: { delivery: "trust-manager" } };
    test.each([
        [
            "ACME",
            {
                registry: { mode: "external-host", tls: { mode: "acme", acmeEmail: "ops@example.test" } },
                externalHost: { ssh: { host: "10.0.0.5", allowUnpinnedHostKey: true } },
            },
            /registry\.tls\.mode "acme"/,
        ],
        [
            "a provided certificate",
            { registry: { mode: "in-cluster", tls: { mode: "provided" } } },
            /registry\.tls\.mode "provided".*generated-ca/,
        ],
        [
            "cert-manager without the issuer's CA",
            { registry: { mode: "in-cluster", tls: { mode: "cert-manager", certManagerIssuer: { name: "lab-ca" } } } },
            /registry\.tls\.certManagerCaCertificate/,
        ],
        ["an existing registry without its CA", { registry: { mode: "existing", tls: { mode: "public" } } }, /existing\.caCertificate/],
    ])("trust-manager with %s is refused, naming the key and the fix", (_name, raw, fix) => {
        const problems = problemsOf({ ...host, ...jenkins, ...trustManager, ...raw });
        const problem = problems.find((p) => p.key === DELIVERY_KEY);
        expect(problem?.message).toMatch(/publishes no CA/);
        expect(problem?.message).toMatch(fix);
    });

    test("trust-manager with the generated CA is accepted", () => {
        expect(problemsOf({ ...host, ...jenkins, ...trustManager, registry: { mode: "in-cluster" } })).toEqual([]);
    });

    test.each([
        [
            "trustNamespace without trust-manager",
            { caConfigMap: { trustNamespace: "trust-system" } },
            "caConfigMap.trustNamespace",
            /caConfigMap\.delivery "program"/,
        ],
        [
            "trust-manager where no namespace takes the CA",
            { caConfigMap: { delivery: "trust-manager" }, jenkins: { enabled: false } },
            "caConfigMap.delivery",
            /jenkins\.enabled false and pullSecrets\.namespaces empty/,
        ],
    ])("%s warns that it has no effect", (_name, raw, key, reason) => {
        const { warnings } = parseConfig(
            { ...host, ...jenkins, registry: { mode: "in-cluster" }, ...raw },
            {},
            { allowMissingSecrets: true },
        );
        const warning = warnings.find((w) => w.key === `${PROJECT}:${key}`);
        expect(warning?.message).toMatch(/has no effect with /);
        expect(warning?.message).toMatch(reason);
    });
});
