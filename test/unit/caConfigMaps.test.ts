/** The CA ConfigMaps: where they go and what they hold, valid against the API schema. */
import { describe, expect, test } from "vitest";
import { CA_CONFIG_MAP, caNamespaces, renderCaConfigMaps } from "../../components/inCluster/caConfigMaps";
import { schemaProblems } from "../support/k8sValidate";

const PEM = "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n";

describe("caNamespaces", () => {
    test.each([
        [{ jenkinsNamespace: "jenkins", pullSecretNamespaces: [] }, ["jenkins"]],
        [{ jenkinsNamespace: undefined, pullSecretNamespaces: ["apps", "web"] }, ["apps", "web"]],
        [{ jenkinsNamespace: "ci", pullSecretNamespaces: ["apps", "ci"] }, ["ci", "apps"]],
        [{ jenkinsNamespace: undefined, pullSecretNamespaces: [] }, []],
    ])("%j -> %j", (args, expected) => {
        expect(caNamespaces(args)).toEqual(expected);
    });
});

describe("renderCaConfigMaps", () => {
    const objects = renderCaConfigMaps({ namespaces: ["jenkins", "apps"], caCertPem: PEM });

    test("one ConfigMap dso-registry-ca per namespace, holding the CA as ca.crt", () => {
        expect(objects.map((o) => [o.kind, o.metadata.namespace, o.metadata.name])).toEqual([
            ["ConfigMap", "jenkins", CA_CONFIG_MAP.name],
            ["ConfigMap", "apps", CA_CONFIG_MAP.name],
        ]);
        expect(objects.map((o) => o.data)).toEqual([{ "ca.crt": PEM }, { "ca.crt": PEM }]);
    });

    test("every object is valid against the Kubernetes API schema", async () => {
        expect((await Promise.all(objects.map((o) => schemaProblems(o)))).flat()).toEqual([]);
    });
});
